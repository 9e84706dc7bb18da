//! Pinning external base images: `FROM debian:bookworm` becomes
//! `FROM debian:bookworm@sha256:...`, so a build uses exactly the image that was tested, whatever
//! the tag points to later (`plinth pin`).
//!
//! Pure: the caller reads the Dockerfile, passes its text, and answers digest questions through
//! a resolver (the CLI asks the store; a registry can answer once plinth pulls). Nothing here
//! touches the filesystem, the store or the network.
//!
//! # Which FROMs
//!
//! Every stage's `FROM` (not only those the last stage needs: `--target` may build any stage)
//! whose base is an *external image*. Left alone, silently:
//!
//! - a stage of the same file defined before it (`FROM build`, case-insensitive, as the engine
//!   and BuildKit read it);
//! - `scratch`;
//! - whatever the caller's skip predicate accepts: family images ([`FamilyNames`]) and named
//!   contexts, which the build takes from the family and plinth.toml, not from a tag.
//!
//! A base that uses `ARG` variables (`FROM debian:${SUITE}`) is expanded with the meta `ARG`s'
//! defaults only to decide whether it is a stage, `scratch` or skipped; otherwise it is *not
//! pinnable* ([`NotPinnable::Variables`]): its value depends on build args, so no digest is
//! right for every build. That is a [`Finding`] (a warning), not an error. So is a base written
//! with quotes or escapes, or split over lines by a continuation.
//!
//! # Rewriting
//!
//! The source is parsed losslessly ([`plinth_dockerfile::parse`]) and only the bytes of the
//! image word are replaced: comments, continuation lines, `--platform=...`, `AS name`, keyword
//! case and line endings (CRLF stays CRLF) are kept byte for byte. The new word is the reference
//! with its tag made explicit and the digest appended: `debian:bookworm` →
//! `debian:bookworm@sha256:...`, `debian` → `debian:latest@sha256:...` (the tag the digest came
//! from stays readable, and [`Mode::Update`] can resolve it again).
//!
//! # Modes
//!
//! [`Mode::Missing`] pins unpinned FROMs and keeps pinned ones as they are. [`Mode::Update`]
//! also resolves the `name:tag` of pinned ones again and replaces the digest when it differs; a
//! base pinned by digest alone (`debian@sha256:...`) has no tag to resolve and is a finding.
//! [`scan`] resolves nothing: it lists what is pinned, what is not, and the findings (what
//! `plinth pin --check` needs, without a store).
//!
//! # Errors
//!
//! A Dockerfile that does not parse, or whose image word is not a valid reference, is a
//! [`PinError::Dockerfile`] with `path:line:col`. Images the resolver does not know, or could not
//! look up, are all collected into one [`PinError::Unresolved`], one `path:line:` line each, that
//! says how to get the image into the store.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use plinth_dockerfile::{EmptyEnv, Instruction, Keyword, Lexer, ParseError};
use plinth_oci::Digest;
use plinth_oci::reference::ImageRef;

/// Which FROMs [`pin`] resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Pin the unpinned ones; keep pinned ones as they are.
    Missing,
    /// Also resolve pinned ones again (by their `name:tag`) and replace stale digests.
    Update,
}

/// Options of [`pin`].
#[derive(Clone, Copy)]
pub struct PinOptions<'a> {
    /// The Dockerfile's path as messages show it, e.g. `images/base-build/Dockerfile`.
    pub path: &'a str,
    /// Which FROMs are resolved.
    pub mode: Mode,
    /// Returns true for a base (as written, expanded) that is not an external image: a family
    /// image or a named context. Stage names and `scratch` are recognised without it.
    pub skip: &'a dyn Fn(&str) -> bool,
}

impl fmt::Debug for PinOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinOptions")
            .field("path", &self.path)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// What a resolver says about `name:tag`: its digest (a manifest or an index), `Ok(None)` when it
/// does not know the image, `Err(message)` when it could not look (e.g. an unreadable store).
pub type ResolveResult = Result<Option<Digest>, String>;

/// One external-image `FROM`, as [`scan`] found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromImage {
    /// 1-based line of the image word.
    pub line: u32,
    /// 1-based column (in characters) of the image word.
    pub col: u32,
    /// The image word as written, e.g. `debian:bookworm` or `debian:bookworm@sha256:...`.
    pub image: String,
    /// The digest after `@`, as written, when the word is pinned.
    pub digest: Option<String>,
    /// Byte range of the word in the source.
    range: (usize, usize),
}

impl FromImage {
    /// Whether the word already has a digest.
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some()
    }

    /// The word without its digest, e.g. `debian:bookworm`.
    pub fn name_tag(&self) -> &str {
        self.image
            .split_once('@')
            .map_or(self.image.as_str(), |(n, _)| n)
    }
}

/// Why a `FROM` cannot be pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotPinnable {
    /// The image word uses `ARG` variables: which image it is depends on build args.
    Variables {
        /// The variables, sorted.
        names: Vec<String>,
    },
    /// The image word has quotes or escape characters: rewriting it would change its meaning.
    Quoted,
    /// A line continuation splits the image word.
    SplitAcrossLines,
    /// Pinned by digest alone (`name@sha256:...`): there is no tag to resolve again
    /// ([`Mode::Update`] only).
    DigestWithoutTag,
}

impl fmt::Display for NotPinnable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotPinnable::Variables { names } => write!(
                f,
                "the image uses ARG variables ({}), so which image it is depends on build args; \
                 write the reference literally to pin it",
                names
                    .iter()
                    .map(|n| format!("${n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            NotPinnable::Quoted => f.write_str(
                "the image is written with quotes or escapes; write it plainly to pin it",
            ),
            NotPinnable::SplitAcrossLines => f.write_str(
                "a line continuation splits the image name; put it on one line to pin it",
            ),
            NotPinnable::DigestWithoutTag => f.write_str(
                "pinned by digest alone, so there is no tag to resolve again; \
                 write name:tag@sha256:... to let --update refresh it",
            ),
        }
    }
}

/// A `FROM` left as it is, with the reason (a warning for the user, not an error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line of the image word.
    pub line: u32,
    /// 1-based column of the image word.
    pub col: u32,
    /// The image word as written.
    pub image: String,
    /// Why it is not pinned.
    pub reason: NotPinnable,
}

/// The external-image FROMs of a Dockerfile ([`scan`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scan {
    /// The pinnable FROMs, in file order.
    pub images: Vec<FromImage>,
    /// The FROMs that cannot be pinned, in file order.
    pub findings: Vec<Finding>,
}

impl Scan {
    /// The FROMs without a digest.
    pub fn unpinned(&self) -> impl Iterator<Item = &FromImage> {
        self.images.iter().filter(|i| !i.is_pinned())
    }
}

/// What [`pin`] did to one `FROM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// It had no digest and now has one.
    Pinned,
    /// Its digest was stale and is replaced ([`Mode::Update`]).
    Updated,
}

/// One rewritten `FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// 1-based line of the image word.
    pub line: u32,
    /// 1-based column of the image word.
    pub col: u32,
    /// The image word before, e.g. `debian:bookworm`.
    pub from: String,
    /// The image word after, e.g. `debian:bookworm@sha256:...`.
    pub to: String,
    /// Pinned or updated.
    pub kind: ChangeKind,
}

/// The result of [`pin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// The rewritten Dockerfile (equal to the input when nothing changed).
    pub text: String,
    /// The rewritten FROMs, in file order.
    pub changes: Vec<Change>,
    /// Pinned FROMs left as they were (already pinned, or up to date with [`Mode::Update`]).
    pub kept: usize,
    /// FROMs that cannot be pinned, in file order.
    pub findings: Vec<Finding>,
}

/// An image the resolver could not give a digest for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The Dockerfile's path.
    pub path: String,
    /// 1-based line of the image word.
    pub line: u32,
    /// What was asked, `name:tag`.
    pub reference: String,
    /// `None` when the image is unknown; otherwise why the lookup failed.
    pub error: Option<String>,
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Unresolved {
            path,
            line,
            reference,
            error,
        } = self;
        match error {
            None => write!(
                f,
                "{path}:{line}: {reference} is not in the store, so there is no digest to pin: \
                 `plinth pull {reference}` first, or pin from the registry (`--from registry`)"
            ),
            Some(e) => write!(f, "{path}:{line}: cannot resolve {reference}: {e}"),
        }
    }
}

/// Why a Dockerfile could not be pinned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// The Dockerfile does not parse, or an image word is not a valid reference.
    #[error("{path}:{line}:{col}: {message}")]
    Dockerfile {
        /// The Dockerfile's path as given.
        path: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        col: u32,
        /// What is wrong.
        message: String,
    },
    /// Images without a digest (every one of the file, one per line).
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Unresolved(Vec<Unresolved>),
}

/// Lists the external-image FROMs of a Dockerfile (pinned or not) and those that cannot be
/// pinned. Resolves nothing.
pub fn scan(path: &str, text: &str, skip: &dyn Fn(&str) -> bool) -> Result<Scan, PinError> {
    let at = |line: u32, col: u32, message: String| PinError::Dockerfile {
        path: path.to_string(),
        line,
        col,
        message,
    };
    let from_parse = |e: ParseError| at(e.line, e.col, e.message);
    let df = plinth_dockerfile::parse(text).map_err(from_parse)?;
    let parsed = plinth_dockerfile::stages(&df).map_err(from_parse)?;
    let lex = Lexer::new(df.escape);
    let defaults = meta_arg_defaults(&parsed.meta_args, &lex);
    let froms: BTreeMap<usize, &Instruction> = df
        .instructions()
        .filter(|i| i.keyword == Keyword::From)
        .map(|i| (i.span.start, i))
        .collect();

    let mut out = Scan::default();
    for (index, stage) in parsed.stages.iter().enumerate() {
        let Some(inst) = froms.get(&stage.from.meta.span.start) else {
            continue;
        };
        let word = stage.from.base.as_str();
        let span = inst.args_span;
        let (line, col) = (span.line, span.col);
        let earlier = &parsed.stages[..index];
        let not_external = |name: &str| {
            name.eq_ignore_ascii_case("scratch")
                || earlier.iter().any(|s| {
                    s.name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
                || skip(name)
        };
        let finding = |reason| Finding {
            line,
            col,
            image: word.to_string(),
            reason,
        };
        let vars = lex
            .referenced_vars(word)
            .map_err(|e| at(line, col, e.message))?;
        if !vars.is_empty() {
            let expanded = lex.process_word(word, &defaults);
            if !expanded.as_deref().is_ok_and(not_external) {
                out.findings.push(finding(NotPinnable::Variables {
                    names: vars.into_iter().collect(),
                }));
            }
            continue;
        }
        let plain = lex
            .process_word(word, &EmptyEnv)
            .map_err(|e| at(line, col, e.message))?;
        if not_external(&plain) {
            continue;
        }
        if plain != word {
            out.findings.push(finding(NotPinnable::Quoted));
            continue;
        }
        if text.get(span.start..span.start + word.len()) != Some(word) {
            out.findings.push(finding(NotPinnable::SplitAcrossLines));
            continue;
        }
        let digest = match word.split_once('@') {
            Some((_, d)) => Some(d.to_string()),
            None => {
                ImageRef::parse(word).map_err(|e| at(line, col, e.to_string()))?;
                None
            }
        };
        out.images.push(FromImage {
            line,
            col,
            image: word.to_string(),
            digest,
            range: (span.start, span.start + word.len()),
        });
    }
    Ok(out)
}

/// Pins the external-image FROMs of a Dockerfile (see the module docs): asks `resolve` for the
/// digest of each `name:tag` (once per reference) and returns the rewritten text with what
/// changed. Every image the resolver cannot give is reported, in one error.
pub fn pin(
    text: &str,
    options: &PinOptions<'_>,
    resolve: &mut dyn FnMut(&str) -> ResolveResult,
) -> Result<Pinned, PinError> {
    let path = options.path;
    let scanned = scan(path, text, options.skip)?;
    let mut findings = scanned.findings;
    let mut answers: BTreeMap<String, ResolveResult> = BTreeMap::new();
    let mut unresolved = Vec::new();
    let mut changes = Vec::new();
    let mut edits: Vec<((usize, usize), String)> = Vec::new();
    let mut kept = 0;
    for image in scanned.images {
        if image.is_pinned() && options.mode == Mode::Missing {
            kept += 1;
            continue;
        }
        let at = |message: String| PinError::Dockerfile {
            path: path.to_string(),
            line: image.line,
            col: image.col,
            message,
        };
        let parsed = ImageRef::parse(&image.image).map_err(|e| at(e.to_string()))?;
        if image.is_pinned() && parsed.tag.is_none() {
            findings.push(Finding {
                line: image.line,
                col: image.col,
                image: image.image.clone(),
                reason: NotPinnable::DigestWithoutTag,
            });
            continue;
        }
        let reference = parsed.name_tag();
        let answer = answers
            .entry(reference.clone())
            .or_insert_with(|| resolve(&reference))
            .clone();
        let digest = match answer {
            Ok(Some(d)) => d,
            Ok(None) => {
                unresolved.push(Unresolved {
                    path: path.to_string(),
                    line: image.line,
                    reference,
                    error: None,
                });
                continue;
            }
            Err(e) => {
                unresolved.push(Unresolved {
                    path: path.to_string(),
                    line: image.line,
                    reference,
                    error: Some(e),
                });
                continue;
            }
        };
        let (to, kind) = match &image.digest {
            None => (format!("{reference}@{digest}"), ChangeKind::Pinned),
            Some(old) if *old == digest.to_string() => {
                kept += 1;
                continue;
            }
            Some(_) => (
                format!("{}@{digest}", image.name_tag()),
                ChangeKind::Updated,
            ),
        };
        edits.push((image.range, to.clone()));
        changes.push(Change {
            line: image.line,
            col: image.col,
            from: image.image,
            to,
            kind,
        });
    }
    if !unresolved.is_empty() {
        return Err(PinError::Unresolved(unresolved));
    }
    findings.sort_by_key(|f| (f.line, f.col));
    let mut rewritten = String::with_capacity(text.len() + 80 * edits.len());
    let mut last = 0;
    for ((start, end), word) in &edits {
        rewritten.push_str(text.get(last..*start).unwrap_or(""));
        rewritten.push_str(word);
        last = *end;
    }
    rewritten.push_str(text.get(last..).unwrap_or(""));
    Ok(Pinned {
        text: rewritten,
        changes,
        kept,
        findings,
    })
}

/// The meta `ARG`s with their defaults, each expanded with those before it (build args are not
/// known here): enough to see that `ARG BASE=build` + `FROM ${BASE}` names a stage.
fn meta_arg_defaults(meta: &[plinth_dockerfile::ArgCommand], lex: &Lexer) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for arg in meta {
        for pair in &arg.args {
            let Some(value) = &pair.value else {
                continue;
            };
            let value = lex
                .process_word(value, &env)
                .unwrap_or_else(|_| value.clone());
            env.retain(|(k, _)| *k != pair.key);
            env.push((pair.key.clone(), value));
        }
    }
    env
}

/// Recognises references to the images of a family, the way the family graph does: the image's
/// name, optionally with a tag (`base-root`, `base-root:1.2.3`), optionally behind the family's
/// `registry/namespace` prefix (`registry.example.com/base/base-root:latest`). A digest
/// reference (`base-root@sha256:...`) is not a family reference: it pins one image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamilyNames {
    names: BTreeSet<String>,
    prefix: Option<String>,
}

impl FamilyNames {
    /// The family's image names and its prefix (a trailing `/` is ignored).
    pub fn new(names: impl IntoIterator<Item = String>, prefix: Option<&str>) -> Self {
        FamilyNames {
            names: names.into_iter().collect(),
            prefix: prefix
                .map(|p| p.trim_end_matches('/').to_string())
                .filter(|p| !p.is_empty()),
        }
    }

    /// Whether `reference` names an image of the family.
    pub fn matches(&self, reference: &str) -> bool {
        crate::family::graph::candidate_names(reference, self.prefix.as_deref())
            .any(|name| self.names.contains(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A digest whose hex is `c` 64 times; shown as `sha256:<c>` by [`render`].
    fn digest(c: char) -> Digest {
        match format!("sha256:{}", c.to_string().repeat(64)).parse() {
            Ok(d) => d,
            Err(e) => panic!("test digest: {e}"),
        }
    }

    /// The images the test resolver knows.
    fn known() -> BTreeMap<&'static str, Digest> {
        BTreeMap::from([
            ("debian:bookworm", digest('1')),
            ("debian:latest", digest('2')),
            ("golang:1.22", digest('3')),
            ("registry.example.com:5000/team/app:1.0", digest('4')),
        ])
    }

    /// Shortens the test digests so expectations stay readable.
    fn short(s: &str) -> String {
        let mut s = s.to_string();
        for c in ['1', '2', '3', '4', 'a', 'b'] {
            s = s.replace(&c.to_string().repeat(64), &format!("<{c}>"));
        }
        s
    }

    /// The rewritten text, then `---` and one line per change, kept count and finding; or the
    /// error.
    fn render(input: &str, mode: Mode, skip: &dyn Fn(&str) -> bool) -> String {
        let known = known();
        let mut asked = Vec::new();
        let mut resolve = |r: &str| -> ResolveResult {
            asked.push(r.to_string());
            Ok(known.get(r).cloned())
        };
        let options = PinOptions {
            path: "Dockerfile",
            mode,
            skip,
        };
        let result = pin(input, &options, &mut resolve);
        let mut dedup = asked.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), asked.len(), "a reference was resolved twice");
        let out = match result {
            Err(e) => format!("error: {e}"),
            Ok(p) => {
                let mut out = p.text;
                out.push_str("---\n");
                for c in &p.changes {
                    out.push_str(&format!(
                        "{}:{} {:?} {} -> {}\n",
                        c.line, c.col, c.kind, c.from, c.to
                    ));
                }
                out.push_str(&format!("kept {}\n", p.kept));
                for f in &p.findings {
                    out.push_str(&format!("{}:{} {}: {}\n", f.line, f.col, f.image, f.reason));
                }
                out
            }
        };
        short(&out)
    }

    #[track_caller]
    fn check(input: &str, expect: &str) {
        assert_eq!(render(input, Mode::Missing, &|_| false), expect);
    }

    #[track_caller]
    fn check_update(input: &str, expect: &str) {
        assert_eq!(render(input, Mode::Update, &|_| false), expect);
    }

    #[test]
    fn simple() {
        check(
            "FROM debian:bookworm\nRUN true\n",
            "FROM debian:bookworm@sha256:<1>\nRUN true\n---\n\
             1:6 Pinned debian:bookworm -> debian:bookworm@sha256:<1>\nkept 0\n",
        );
    }

    #[test]
    fn no_tag_gets_latest_written_out() {
        check(
            "FROM debian\n",
            "FROM debian:latest@sha256:<2>\n---\n1:6 Pinned debian -> debian:latest@sha256:<2>\nkept 0\n",
        );
    }

    #[test]
    fn registry_with_port() {
        check(
            "FROM registry.example.com:5000/team/app:1.0\n",
            "FROM registry.example.com:5000/team/app:1.0@sha256:<4>\n---\n\
             1:6 Pinned registry.example.com:5000/team/app:1.0 -> registry.example.com:5000/team/app:1.0@sha256:<4>\nkept 0\n",
        );
    }

    #[test]
    fn multiple_stages_each_pinned_and_one_resolution_per_reference() {
        check(
            "FROM golang:1.22 AS build\nRUN go build\n\nFROM debian:bookworm AS tools\nFROM debian:bookworm\nCOPY --from=build /app /app\n",
            "FROM golang:1.22@sha256:<3> AS build\nRUN go build\n\nFROM debian:bookworm@sha256:<1> AS tools\nFROM debian:bookworm@sha256:<1>\nCOPY --from=build /app /app\n---\n\
             1:6 Pinned golang:1.22 -> golang:1.22@sha256:<3>\n\
             4:6 Pinned debian:bookworm -> debian:bookworm@sha256:<1>\n\
             5:6 Pinned debian:bookworm -> debian:bookworm@sha256:<1>\nkept 0\n",
        );
    }

    #[test]
    fn stage_references_are_skipped_case_insensitively() {
        check(
            "FROM debian:bookworm AS Base\nFROM base\nFROM BASE AS second\nFROM second\n",
            "FROM debian:bookworm@sha256:<1> AS Base\nFROM base\nFROM BASE AS second\nFROM second\n---\n\
             1:6 Pinned debian:bookworm -> debian:bookworm@sha256:<1>\nkept 0\n",
        );
    }

    #[test]
    fn a_later_stage_name_is_an_image() {
        // As the engine reads it: only earlier stages are stages.
        check(
            "FROM golang:1.22\nFROM debian:bookworm AS golang\n",
            "FROM golang:1.22@sha256:<3>\nFROM debian:bookworm@sha256:<1> AS golang\n---\n\
             1:6 Pinned golang:1.22 -> golang:1.22@sha256:<3>\n\
             2:6 Pinned debian:bookworm -> debian:bookworm@sha256:<1>\nkept 0\n",
        );
    }

    #[test]
    fn scratch_is_never_pinned() {
        check(
            "FROM scratch\nCOPY a /a\nFROM SCRATCH AS x\n",
            "FROM scratch\nCOPY a /a\nFROM SCRATCH AS x\n---\nkept 0\n",
        );
    }

    #[test]
    fn platform_flag_as_name_and_keyword_case_preserved() {
        check(
            "from   --platform=$BUILDPLATFORM   debian:bookworm   as   Build\n",
            "from   --platform=$BUILDPLATFORM   debian:bookworm@sha256:<1>   as   Build\n---\n\
             1:36 Pinned debian:bookworm -> debian:bookworm@sha256:<1>\nkept 0\n",
        );
    }

    #[test]
    fn line_continuations_and_comments_inside_from_preserved() {
        check(
            "# base\nFROM \\\n  --platform=linux/amd64 \\\n# a comment inside\n\n    debian:bookworm \\\n  AS build\nRUN x\n",
            "# base\nFROM \\\n  --platform=linux/amd64 \\\n# a comment inside\n\n    debian:bookworm@sha256:<1> \\\n  AS build\nRUN x\n---\n\
             6:5 Pinned debian:bookworm -> debian:bookworm@sha256:<1>\nkept 0\n",
        );
    }

    #[test]
    fn backtick_escape_directive() {
        check(
            "# escape=`\nFROM `\n  debian:bookworm\n",
            "# escape=`\nFROM `\n  debian:bookworm@sha256:<1>\n---\n\
             3:3 Pinned debian:bookworm -> debian:bookworm@sha256:<1>\nkept 0\n",
        );
    }

    #[test]
    fn a_name_split_by_a_continuation_is_a_finding() {
        check(
            "FROM debian:book\\\nworm\n",
            "FROM debian:book\\\nworm\n---\nkept 0\n\
             1:6 debian:bookworm: a line continuation splits the image name; put it on one line to pin it\n",
        );
    }

    #[test]
    fn already_pinned_is_kept() {
        let pinned = format!("FROM debian:bookworm@sha256:{}\n", "a".repeat(64));
        check(&pinned, &format!("{}---\nkept 1\n", short(&pinned)));
    }

    #[test]
    fn update_replaces_stale_digests_and_keeps_current_ones() {
        check_update(
            &format!(
                "FROM debian:bookworm@sha256:{}\nFROM golang:1.22@sha256:{} AS g\nFROM debian\n",
                "a".repeat(64),
                "3".repeat(64)
            ),
            "FROM debian:bookworm@sha256:<1>\nFROM golang:1.22@sha256:<3> AS g\nFROM debian:latest@sha256:<2>\n---\n\
             1:6 Updated debian:bookworm@sha256:<a> -> debian:bookworm@sha256:<1>\n\
             3:6 Pinned debian -> debian:latest@sha256:<2>\nkept 1\n",
        );
    }

    #[test]
    fn update_of_a_digest_only_reference_is_a_finding() {
        check_update(
            &format!("FROM debian@sha256:{}\n", "b".repeat(64)),
            "FROM debian@sha256:<b>\n---\nkept 0\n\
             1:6 debian@sha256:<b>: pinned by digest alone, so there is no tag to resolve again; write name:tag@sha256:... to let --update refresh it\n",
        );
        // Without --update it is simply pinned already.
        check(
            &format!("FROM debian@sha256:{}\n", "b".repeat(64)),
            "FROM debian@sha256:<b>\n---\nkept 1\n",
        );
    }

    #[test]
    fn variables_are_findings_unless_they_name_a_stage() {
        check(
            "ARG SUITE=bookworm\nARG STAGE=build\nFROM debian:${SUITE} AS build\nFROM $STAGE\nFROM golang:1.22\n",
            "ARG SUITE=bookworm\nARG STAGE=build\nFROM debian:${SUITE} AS build\nFROM $STAGE\nFROM golang:1.22@sha256:<3>\n---\n\
             5:6 Pinned golang:1.22 -> golang:1.22@sha256:<3>\nkept 0\n\
             3:6 debian:${SUITE}: the image uses ARG variables ($SUITE), so which image it is depends on build args; write the reference literally to pin it\n",
        );
    }

    #[test]
    fn quoted_names_are_findings() {
        check(
            "FROM \"debian:bookworm\"\n",
            "FROM \"debian:bookworm\"\n---\nkept 0\n\
             1:6 \"debian:bookworm\": the image is written with quotes or escapes; write it plainly to pin it\n",
        );
    }

    #[test]
    fn skip_set_leaves_family_images_and_contexts() {
        let family = FamilyNames::new(
            ["base-root".to_string()],
            Some("registry.example.com/base/"),
        );
        let contexts = ["debian-bookworm"];
        let skip = |r: &str| family.matches(r) || contexts.contains(&r);
        let out = render(
            "ARG B=base-root\nFROM debian-bookworm AS rootfs\nFROM base-root:1.2\nFROM registry.example.com/base/base-root\nFROM ${B}\nFROM debian:bookworm\n",
            Mode::Missing,
            &skip,
        );
        assert_eq!(
            out,
            "ARG B=base-root\nFROM debian-bookworm AS rootfs\nFROM base-root:1.2\nFROM registry.example.com/base/base-root\nFROM ${B}\nFROM debian:bookworm@sha256:<1>\n---\n\
             6:6 Pinned debian:bookworm -> debian:bookworm@sha256:<1>\nkept 0\n"
        );
    }

    #[test]
    fn crlf_line_endings_preserved() {
        check(
            "FROM debian:bookworm AS a\r\nRUN x \\\r\n  y\r\nFROM golang:1.22\r\n",
            "FROM debian:bookworm@sha256:<1> AS a\r\nRUN x \\\r\n  y\r\nFROM golang:1.22@sha256:<3>\r\n---\n\
             1:6 Pinned debian:bookworm -> debian:bookworm@sha256:<1>\n\
             4:6 Pinned golang:1.22 -> golang:1.22@sha256:<3>\nkept 0\n",
        );
    }

    #[test]
    fn utf8_bom_and_no_final_newline() {
        // Columns count the byte order mark, as the parser's do.
        check(
            "\u{feff}FROM debian:bookworm",
            "\u{feff}FROM debian:bookworm@sha256:<1>---\n\
             1:7 Pinned debian:bookworm -> debian:bookworm@sha256:<1>\nkept 0\n",
        );
    }

    #[test]
    fn unknown_images_are_all_reported_with_what_to_do() {
        check(
            "FROM ext/base:1\nFROM debian:bookworm\nFROM other:2\n",
            "error: Dockerfile:1: ext/base:1 is not in the store, so there is no digest to pin: \
             `plinth pull ext/base:1` first, or pin from the registry (`--from registry`)\n\
             Dockerfile:3: other:2 is not in the store, so there is no digest to pin: \
             `plinth pull other:2` first, or pin from the registry (`--from registry`)",
        );
    }

    #[test]
    fn resolver_failures_are_reported() {
        let options = PinOptions {
            path: "images/a/Dockerfile",
            mode: Mode::Missing,
            skip: &|_| false,
        };
        let mut resolve =
            |_: &str| -> ResolveResult { Err("index.json: permission denied".into()) };
        let err = pin("FROM x:1\n", &options, &mut resolve).map(|p| p.text);
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("images/a/Dockerfile:1: cannot resolve x:1: index.json: permission denied".into())
        );
    }

    #[test]
    fn bad_dockerfiles_are_errors_with_line_and_column() {
        check(
            "FROM debian:bookworm\nFROBNICATE x\n",
            "error: Dockerfile:2:1: unknown instruction: FROBNICATE",
        );
        check(
            "RUN true\n",
            "error: Dockerfile:1:1: no build stage in current context",
        );
        check(
            "FROM Debian:bookworm\n",
            "error: Dockerfile:1:6: invalid reference \"Debian:bookworm\": invalid repository name component \"Debian\": repository names must be lowercase",
        );
        let out = render("FROM debian:${X\n", Mode::Missing, &|_| false);
        assert!(
            out.starts_with("error: Dockerfile:1:6: failed to process \"debian:${X\": "),
            "{out}"
        );
    }

    #[test]
    fn scan_lists_without_resolving() {
        let text = format!(
            "FROM debian:bookworm AS a\nFROM golang:1.22@sha256:{}\nFROM a\nFROM x:${{V}}\n",
            "3".repeat(64)
        );
        let s = match scan("Dockerfile", &text, &|_| false) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let unpinned: Vec<&str> = s.unpinned().map(|i| i.image.as_str()).collect();
        assert_eq!(unpinned, ["debian:bookworm"]);
        assert_eq!(s.images.len(), 2);
        assert_eq!(s.images[1].name_tag(), "golang:1.22");
        assert_eq!(s.images[1].line, 2);
        assert_eq!(s.findings.len(), 1);
        assert_eq!(s.findings[0].line, 4);
    }

    #[test]
    fn family_names_match_like_the_graph() {
        let f = FamilyNames::new(
            ["base-root".to_string(), "base-build".to_string()],
            Some("registry.example.com/base"),
        );
        for yes in [
            "base-root",
            "base-root:1.2.3",
            "registry.example.com/base/base-build",
            "registry.example.com/base/base-build:latest",
        ] {
            assert!(f.matches(yes), "{yes}");
        }
        for no in [
            "base",
            "debian:bookworm",
            "base-root@sha256:aaaa",
            "other.example.com/base/base-root",
            "registry.example.com/base-root",
            "base-root:bad/tag",
        ] {
            assert!(!f.matches(no), "{no}");
        }
    }
}
