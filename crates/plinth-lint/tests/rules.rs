//! One fixture and one snapshot per rule (as ruff does): `tests/fixtures/<CODE>.Dockerfile`
//! holds instructions marked `# bad` (the comment line right above them: the rule must flag the
//! instruction) and `# good` (it must not). The snapshot `snapshots/rules__<CODE>.snap` shows the
//! rule's findings with the lines they point at. Optional next to a fixture: `<CODE>.toml` (a
//! `[lint]`-style configuration) and `<CODE>.context/` (the build context rules may read).
//! `clean.Dockerfile` is a realistic Dockerfile that no rule may flag.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use plinth_lint::{ContextFiles, Finding, LintConfig, lint};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A directory as the build context.
struct Dir(PathBuf);

impl ContextFiles for Dir {
    fn read(&self, path: &str) -> Option<String> {
        let rel = path.trim_start_matches("./").trim_start_matches('/');
        std::fs::read_to_string(self.0.join(rel)).ok()
    }
}

fn config_of(code: &str) -> LintConfig {
    let path = fixtures().join(format!("{code}.toml"));
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        Err(_) => LintConfig::default(),
    }
}

/// The lines of instructions marked `# bad` and `# good` (the marker comment directly above).
fn marked(text: &str) -> (BTreeSet<u32>, BTreeSet<u32>) {
    let df = plinth_dockerfile::parse(text).expect("fixture parses");
    let (mut bad, mut good) = (BTreeSet::new(), BTreeSet::new());
    let mut pending: Option<bool> = None;
    for item in &df.items {
        match item {
            plinth_dockerfile::Item::Comment(c) => match c.text.split_whitespace().next() {
                Some("bad") => pending = Some(true),
                Some("good") => pending = Some(false),
                _ => {}
            },
            plinth_dockerfile::Item::Instruction(i) => {
                match pending.take() {
                    Some(true) => bad.insert(i.span.line),
                    Some(false) => good.insert(i.span.line),
                    None => false,
                };
            }
            _ => pending = None,
        }
    }
    (bad, good)
}

fn render(text: &str, findings: &[Finding]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for f in findings {
        let src = lines.get(f.line as usize - 1).copied().unwrap_or_default();
        out.push_str(&format!(
            "{}:{} {} {}: {}\n    | {src}\n",
            f.line, f.column, f.code, f.severity, f.message
        ));
    }
    out
}

#[test]
fn every_rule_has_a_fixture_and_flags_exactly_the_bad_instructions() {
    let mut failures = Vec::new();
    for rule in plinth_lint::rules::all() {
        let code = rule.meta().code;
        let path = fixtures().join(format!("{code}.Dockerfile"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            failures.push(format!("{code}: no fixture {}", path.display()));
            continue;
        };
        let context = fixtures().join(format!("{code}.context"));
        let findings: Vec<Finding> = lint(
            &format!("{code}.Dockerfile"),
            &text,
            &config_of(code),
            &Dir(context),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter(|f| f.code == code)
        .collect();
        let (bad, good) = marked(&text);
        if bad.is_empty() || good.is_empty() {
            failures.push(format!(
                "{code}: the fixture needs `# bad` and `# good` cases"
            ));
        }
        let flagged: BTreeSet<u32> = findings
            .iter()
            .map(|f| {
                // A finding inside a multi-line instruction counts for the instruction.
                bad.iter()
                    .chain(&good)
                    .copied()
                    .filter(|l| *l <= f.line)
                    .max()
                    .unwrap_or(f.line)
            })
            .collect();
        for line in &bad {
            if !flagged.contains(line) {
                failures.push(format!("{code}: line {line} is marked bad but not flagged"));
            }
        }
        for line in &good {
            if flagged.contains(line) {
                failures.push(format!("{code}: line {line} is marked good but flagged"));
            }
        }
        insta::assert_snapshot!(code, render(&text, &findings));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_clean_realistic_dockerfile_has_no_findings() {
    let path = fixtures().join("clean.Dockerfile");
    let text = std::fs::read_to_string(&path).expect("clean.Dockerfile");
    let findings = lint(
        "clean.Dockerfile",
        &text,
        &LintConfig::default(),
        &Dir(fixtures().join("clean.context")),
    )
    .unwrap();
    assert!(findings.is_empty(), "{}", render(&text, &findings));
}

#[test]
fn inline_ignores_and_config_silence_findings() {
    // A rule-independent check with the first built-in rule's fixture.
    let rule = plinth_lint::rules::all()
        .into_iter()
        .next()
        .expect("built-in rules");
    let code = rule.meta().code;
    let text = std::fs::read_to_string(fixtures().join(format!("{code}.Dockerfile"))).unwrap();
    let context = Dir(fixtures().join(format!("{code}.context")));
    let base = config_of(code);
    let count = |cfg: &LintConfig, t: &str| {
        lint("f", t, cfg, &context)
            .unwrap()
            .iter()
            .filter(|f| f.code == code)
            .count()
    };
    assert!(count(&base, &text) > 0);
    let mut off = base.clone();
    off.ignored.push(code.to_string());
    assert_eq!(count(&off, &text), 0);
    // A global pragma anywhere works (appended: the fixture may start with directives), in
    // either spelling.
    for pragma in ["plinth", "hadolint"] {
        let global = format!("{text}\n# {pragma} global ignore={code}\n");
        assert_eq!(count(&base, &global), 0, "{global}");
    }
}

#[test]
fn heredocs_and_the_escape_directive_parse_where_hadolint_fails() {
    // hadolint 2.x cannot parse heredocs, and mis-reads continuation lines under `# escape=`.
    let text = "# escape=`\nFROM debian:12@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\nRUN echo a `\n    && echo b\nRUN <<EOF\napt-get update\napt-get install -y --no-install-recommends curl\nEOF\nCOPY <<EOF /etc/app.conf\nkey=value\nEOF\n";
    let findings = lint("Dockerfile", text, &LintConfig::default(), &Dir(fixtures()))
        .unwrap_or_else(|e| panic!("{e}"));
    let at = |code: &str| -> Vec<u32> {
        findings
            .iter()
            .filter(|f| f.code == code)
            .map(|f| f.line)
            .collect()
    };
    // The heredoc script is checked: unpinned apt-get and no list cleanup, at the RUN (line 5).
    assert_eq!(at("DL3008"), [5], "{findings:?}");
    assert_eq!(at("DL3009"), [5], "{findings:?}");
    // The backtick continuation is one RUN (line 3): no "multiple consecutive RUN" split into
    // three, and the heredoc's lines are not instructions.
    assert!(
        findings.iter().all(|f| [1, 2, 3, 5, 9].contains(&f.line)),
        "{findings:?}"
    );
}
