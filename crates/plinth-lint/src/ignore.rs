//! Inline ignores: `# hadolint ignore=DL3008,SC2086` or `# plinth ignore=PL001` on the comment
//! lines right above an instruction silence those codes for that instruction; `# hadolint global
//! ignore=...` (or `# plinth global ignore=...`) anywhere silences them for the whole file.

use std::collections::BTreeSet;

use plinth_dockerfile::{Dockerfile, Item};

/// Whether inline ignore comments count (hadolint's `disable-ignore-pragma` turns them off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IgnorePragmas {
    #[default]
    Honour,
    Disregard,
}

/// The inline ignores of one Dockerfile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignores {
    /// Codes ignored in the whole file.
    global: BTreeSet<String>,
    /// (first line, last line, codes) of each instruction with an ignore comment above it.
    local: Vec<(u32, u32, BTreeSet<String>)>,
}

/// The codes of an ignore comment's text (after `#`), and whether it is global.
fn parse_pragma(text: &str) -> Option<(bool, BTreeSet<String>)> {
    let t = text.trim();
    let rest = t
        .strip_prefix("hadolint")
        .or_else(|| t.strip_prefix("plinth"))?
        .trim_start();
    let (global, rest) = match rest.strip_prefix("global") {
        Some(r) => (true, r.trim_start()),
        None => (false, rest),
    };
    let list = rest
        .strip_prefix("ignore")?
        .trim_start()
        .strip_prefix('=')?;
    let codes: BTreeSet<String> = list
        .split(',')
        .map(|c| c.trim())
        .map(|c| c.split_whitespace().next().unwrap_or_default().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    Some((global, codes))
}

impl Ignores {
    /// Reads the ignore comments of `df` (none when `pragmas` is [`IgnorePragmas::Disregard`]).
    pub fn of(df: &Dockerfile, pragmas: IgnorePragmas) -> Ignores {
        let mut out = Ignores::default();
        if pragmas == IgnorePragmas::Disregard {
            return out;
        }
        let mut pending: BTreeSet<String> = BTreeSet::new();
        for item in &df.items {
            match item {
                Item::Comment(c) => {
                    if let Some((global, codes)) = parse_pragma(&c.text) {
                        if global {
                            out.global.extend(codes);
                        } else {
                            pending.extend(codes);
                        }
                    }
                }
                Item::Instruction(i) => {
                    if !pending.is_empty() {
                        out.local
                            .push((i.span.line, i.end_line, std::mem::take(&mut pending)));
                    }
                }
                // A blank line between the comment and the instruction ends the comment's reach.
                Item::Blank(_) | Item::Directive(_) => pending.clear(),
            }
        }
        out
    }

    /// Whether `code` is ignored at `line`.
    pub fn covers(&self, code: &str, line: u32) -> bool {
        self.global.contains(code)
            || self.local.iter().any(|(first, last, codes)| {
                (*first..=*last).contains(&line) && codes.contains(code)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignores(src: &str) -> Ignores {
        Ignores::of(
            &plinth_dockerfile::parse(src).unwrap(),
            IgnorePragmas::Honour,
        )
    }

    #[test]
    fn pragmas_cover_the_next_instruction_or_the_file() {
        let i = ignores(
            "FROM a\n# hadolint ignore=DL3008, DL3009\n# plinth ignore=PL004\nRUN x \\\n  y\nRUN z\n# hadolint global ignore=DL3059\n",
        );
        assert!(i.covers("DL3008", 4) && i.covers("DL3009", 5) && i.covers("PL004", 4));
        assert!(!i.covers("DL3008", 6) && !i.covers("DL3007", 4));
        assert!(i.covers("DL3059", 1) && i.covers("DL3059", 6));
        // A blank line in between: the comment does not reach the instruction.
        let i = ignores("FROM a\n# hadolint ignore=DL3008\n\nRUN x\n");
        assert!(!i.covers("DL3008", 4));
        // Not a pragma.
        let i = ignores("FROM a\n# hadolint is great\n# ignore=DL3008\nRUN x\n");
        assert!(!i.covers("DL3008", 4));
        let df = plinth_dockerfile::parse("FROM a\n# hadolint ignore=DL3008\nRUN x\n").unwrap();
        assert!(!Ignores::of(&df, IgnorePragmas::Disregard).covers("DL3008", 3));
    }
}
