//! Custom rules declared in the configuration (`[[lint.rule]]`): match an instruction and its
//! arguments with regular expressions, and require or forbid it, in every stage or only in the
//! final one, with the project's own id, severity and message. This is the feature hadolint
//! declined; [`crate::lint`] runs these rules after the built-in ones, and inline ignores
//! (`# plinth ignore=ACME001`), `ignored` and `severity` overrides apply to them by their id.
//!
//! # Example
//!
//! In plinth.toml (or `.plinth-lint.toml` without the `lint.` prefix):
//!
//! ```toml
//! # No `curl ... | sh` in any stage.
//! [[lint.rule]]
//! id = "ACME001"
//! instruction = "RUN"
//! pattern = 'curl[^|]*\|\s*(ba)?sh'
//! mode = "forbid"
//! severity = "error"
//! message = "Do not pipe downloads into a shell; fetch, verify, then run."
//!
//! # The final image must come from the company registry.
//! [[lint.rule]]
//! id = "ACME002"
//! instruction = "FROM"
//! pattern = '(^|\s)registry\.acme\.example/'
//! mode = "require"
//! scope = "final-stage"
//!
//! # Every stage must declare who it runs as.
//! [[lint.rule]]
//! id = "ACME003"
//! instruction = "USER"
//! mode = "require"
//! ```
//!
//! # What is matched
//!
//! `instruction` is a keyword (`RUN`, `FROM`, ..., any case) or `any` (the default). `pattern`
//! is a regular expression ([`regex`] syntax, unanchored: use `^` and `$` to anchor) searched in
//! the instruction's arguments: its logical line without the keyword (flags included, e.g.
//! `--mount=...`, `--platform=...`, `AS name`; continuation lines joined as BuildKit joins
//! them), followed by the bodies of its heredocs, each after a newline. Without `pattern`,
//! every instruction of the keyword matches.
//!
//! `mode = "forbid"` flags each matching instruction; `mode = "require"` flags each stage (its
//! `FROM`) that has no matching instruction. `scope = "every-stage"` (the default) looks at
//! every stage (and, for `forbid`, at the `ARG`s before the first `FROM`); `scope =
//! "final-stage"` only at the last stage. `severity` defaults to `warning`.

use plinth_dockerfile::{Command, Keyword, Span, Stage};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::Ctx;
use crate::finding::{Finding, Severity};

/// Whether matching instructions are forbidden or required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Every matching instruction is a finding.
    Forbid,
    /// A stage without a matching instruction is a finding.
    Require,
}

/// Which stages a custom rule looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    /// Every stage (and, for `forbid`, the global `ARG`s).
    #[default]
    EveryStage,
    /// Only the last stage (the image that is built by default).
    FinalStage,
}

/// One custom rule.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CustomRule {
    /// The rule's code as findings show it, e.g. `ACME001` (letters, digits, `-` and `_`; not a
    /// built-in code).
    pub id: String,
    /// The instruction keyword to match (`RUN`, `FROM`, ..., any case), or `any`.
    #[serde(default = "any")]
    pub instruction: String,
    /// A regular expression searched in the instruction's arguments; none matches every
    /// instruction of the keyword.
    #[serde(default)]
    pub pattern: Option<String>,
    /// `forbid` or `require`.
    pub mode: Mode,
    /// `every-stage` (default) or `final-stage`.
    #[serde(default)]
    pub scope: Scope,
    /// The findings' severity (default `warning`).
    #[serde(default)]
    pub severity: Option<Severity>,
    /// The findings' message (a default one names the instruction and pattern).
    #[serde(default)]
    pub message: Option<String>,
}

fn any() -> String {
    "any".to_string()
}

/// A custom rule the configuration cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomRuleError {
    /// The id is empty or has characters inline ignore comments cannot name.
    #[error("custom rule id {0:?}: use letters, digits, `-` and `_` only")]
    BadId(String),
    /// The id is a built-in rule's code.
    #[error("custom rule id {0:?} is a built-in rule's code")]
    BuiltinId(String),
    /// Two custom rules have the same id.
    #[error("custom rule id {0:?} is declared twice")]
    DuplicateId(String),
    /// `instruction` is not a Dockerfile keyword nor `any`.
    #[error(
        "custom rule {id}: unknown instruction {instruction:?} (use a keyword such as RUN, or any)"
    )]
    BadInstruction { id: String, instruction: String },
    /// `pattern` is not a valid regular expression.
    #[error("custom rule {id}: invalid pattern {pattern:?}: {message}")]
    BadPattern {
        id: String,
        pattern: String,
        message: String,
    },
}

/// A custom rule ready to run: its keyword and compiled pattern.
#[derive(Debug, Clone)]
pub struct CompiledRule<'a> {
    rule: &'a CustomRule,
    /// `None` for `any`.
    keyword: Option<Keyword>,
    pattern: Option<regex::Regex>,
}

impl CustomRule {
    /// Checks the id, the instruction and the pattern, and compiles the pattern.
    pub fn compile(&self) -> Result<CompiledRule<'_>, CustomRuleError> {
        let id_ok = !self.id.is_empty()
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok {
            return Err(CustomRuleError::BadId(self.id.clone()));
        }
        if crate::rules::by_code(&self.id).is_some() {
            return Err(CustomRuleError::BuiltinId(self.id.clone()));
        }
        let keyword = if self.instruction.eq_ignore_ascii_case("any") {
            None
        } else {
            Some(Keyword::from_word(&self.instruction).ok_or_else(|| {
                CustomRuleError::BadInstruction {
                    id: self.id.clone(),
                    instruction: self.instruction.clone(),
                }
            })?)
        };
        let pattern = match &self.pattern {
            None => None,
            Some(p) => Some(
                regex::RegexBuilder::new(p)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| CustomRuleError::BadPattern {
                        id: self.id.clone(),
                        pattern: p.clone(),
                        message: e.to_string(),
                    })?,
            ),
        };
        Ok(CompiledRule {
            rule: self,
            keyword,
            pattern,
        })
    }

    /// Whether the rule can be used (see [`CustomRule::compile`]).
    pub fn check(&self) -> Result<(), CustomRuleError> {
        self.compile().map(drop)
    }

    /// The findings' severity.
    pub fn severity(&self) -> Severity {
        self.severity.unwrap_or(Severity::Warning)
    }
}

/// Checks every rule of `rules` (and that no id is declared twice); the first problem found.
pub fn check_all(rules: &[CustomRule]) -> Result<(), CustomRuleError> {
    let mut seen = std::collections::BTreeSet::new();
    for r in rules {
        r.check()?;
        if !seen.insert(r.id.as_str()) {
            return Err(CustomRuleError::DuplicateId(r.id.clone()));
        }
    }
    Ok(())
}

/// One instruction as custom rules see it.
struct Seen<'a> {
    keyword: Keyword,
    span: Span,
    original: &'a str,
    heredocs: Vec<&'a str>,
}

impl Seen<'_> {
    /// The arguments text the pattern is searched in.
    fn arguments(&self) -> String {
        let line = self.original.trim_start();
        let mut text = match line.split_once(char::is_whitespace) {
            Some((_, rest)) => rest.trim_start().to_string(),
            None => String::new(),
        };
        for body in &self.heredocs {
            text.push('\n');
            text.push_str(body);
        }
        text
    }
}

fn seen_command(cmd: &Command) -> Seen<'_> {
    let heredocs = match cmd {
        Command::Run(r) => r.heredocs.iter().map(|h| h.data.as_str()).collect(),
        Command::Copy(c) => c.heredocs.iter().map(|h| h.data.as_str()).collect(),
        Command::Add(a) => a.heredocs.iter().map(|h| h.data.as_str()).collect(),
        _ => Vec::new(),
    };
    Seen {
        keyword: cmd.keyword(),
        span: cmd.meta().span,
        original: &cmd.meta().original,
        heredocs,
    }
}

fn seen_stage(stage: &Stage) -> impl Iterator<Item = Seen<'_>> {
    let from = Seen {
        keyword: Keyword::From,
        span: stage.from.meta.span,
        original: &stage.from.meta.original,
        heredocs: Vec::new(),
    };
    std::iter::once(from).chain(stage.commands.iter().map(seen_command))
}

impl CompiledRule<'_> {
    fn matches(&self, s: &Seen<'_>) -> bool {
        self.keyword.is_none_or(|k| k == s.keyword)
            && self
                .pattern
                .as_ref()
                .is_none_or(|p| p.is_match(&s.arguments()))
    }

    fn finding(&self, cx: &Ctx<'_>, span: Span, default_message: String) -> Finding {
        Finding {
            code: self.rule.id.clone(),
            severity: self.rule.severity(),
            message: self.rule.message.clone().unwrap_or(default_message),
            line: span.line,
            column: span.col,
            end_line: cx.end_line(span).max(span.line),
        }
    }

    /// What the rule matches, for default messages: `RUN matching /curl/`.
    fn describe(&self) -> String {
        let what = self.keyword.map_or("an instruction", |k| k.as_str());
        match &self.rule.pattern {
            Some(p) => format!("{what} matching /{p}/"),
            None => what.to_string(),
        }
    }

    /// Appends the rule's findings on `cx` to `out`.
    pub fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        let stages = &cx.stages.stages;
        let in_scope: &[Stage] = match self.rule.scope {
            Scope::EveryStage => stages,
            Scope::FinalStage => stages.len().checked_sub(1).map_or(&[], |i| &stages[i..]),
        };
        match self.rule.mode {
            Mode::Forbid => {
                let global_args = match self.rule.scope {
                    Scope::EveryStage => cx.stages.meta_args.as_slice(),
                    Scope::FinalStage => &[],
                };
                let globals = global_args.iter().map(|a| Seen {
                    keyword: Keyword::Arg,
                    span: a.meta.span,
                    original: &a.meta.original,
                    heredocs: Vec::new(),
                });
                for s in globals.chain(in_scope.iter().flat_map(seen_stage)) {
                    if self.matches(&s) {
                        let msg = format!("{} is forbidden here", self.describe());
                        out.push(self.finding(cx, s.span, msg));
                    }
                }
            }
            Mode::Require => {
                for stage in in_scope {
                    if !seen_stage(stage).any(|s| self.matches(&s)) {
                        let msg = format!("This stage needs {}", self.describe());
                        out.push(self.finding(cx, stage.from.meta.span, msg));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LintConfig, NoContext, lint};

    /// A configuration from the `[lint]` TOML table `toml`.
    fn config(toml: &str) -> LintConfig {
        toml::from_str(toml).expect("config parses")
    }

    /// The (line, code, severity, message) of the custom findings (codes starting with `ACME`).
    fn custom_findings(cfg: &LintConfig, dockerfile: &str) -> Vec<(u32, String, Severity, String)> {
        lint("Dockerfile", dockerfile, cfg, &NoContext)
            .expect("lints")
            .into_iter()
            .filter(|f| f.code.starts_with("ACME"))
            .map(|f| (f.line, f.code, f.severity, f.message))
            .collect()
    }

    const TWO_STAGES: &str = "\
FROM registry.acme.example/golang:1.23 AS build
RUN curl -fsSL https://get.example.com | sh
RUN <<EOF
wget -qO- https://x.example.com/i.sh | bash
EOF
FROM debian:12
RUN apt-get update
USER app
";

    #[test]
    fn forbid_flags_each_matching_instruction_heredocs_included() {
        let cfg = config(
            r#"
[[rule]]
id = "ACME001"
instruction = "run"
pattern = '(curl|wget)[^|]*\|\s*(ba)?sh'
mode = "forbid"
severity = "error"
message = "Do not pipe downloads into a shell"
"#,
        );
        let found = custom_findings(&cfg, TWO_STAGES);
        let lines: Vec<u32> = found.iter().map(|f| f.0).collect();
        assert_eq!(lines, [2, 3]);
        assert!(found.iter().all(|f| f.2 == Severity::Error));
        assert_eq!(found[0].3, "Do not pipe downloads into a shell");
    }

    #[test]
    fn forbid_with_any_instruction_and_default_message() {
        let cfg = config("[[rule]]\nid = \"ACME009\"\npattern = 'debian'\nmode = \"forbid\"\n");
        let found = custom_findings(
            &cfg,
            "ARG BASE=debian:12\nFROM debian:12\nRUN echo debian\nRUN echo ok\n",
        );
        let lines: Vec<u32> = found.iter().map(|f| f.0).collect();
        assert_eq!(lines, [1, 2, 3]);
        assert_eq!(found[0].2, Severity::Warning);
        assert_eq!(
            found[0].3,
            "an instruction matching /debian/ is forbidden here"
        );
    }

    #[test]
    fn require_flags_each_stage_without_a_match() {
        let cfg =
            config("[[rule]]\nid = \"ACME003\"\ninstruction = \"USER\"\nmode = \"require\"\n");
        let found = custom_findings(&cfg, TWO_STAGES);
        // The first stage (its FROM on line 1) has no USER; the final one has.
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, 1);
        assert_eq!(found[0].3, "This stage needs USER");
    }

    #[test]
    fn final_stage_scope_looks_only_at_the_last_stage() {
        let require = config(
            r#"
[[rule]]
id = "ACME002"
instruction = "FROM"
pattern = '(^|\s)registry\.acme\.example/'
mode = "require"
scope = "final-stage"
"#,
        );
        let found = custom_findings(&require, TWO_STAGES);
        assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), [6]);
        // The same Dockerfile with the final stage from the registry passes.
        let fixed = TWO_STAGES.replace("FROM debian:12", "FROM registry.acme.example/debian:12");
        assert!(custom_findings(&require, &fixed).is_empty());

        let forbid = config(
            "[[rule]]\nid = \"ACME004\"\ninstruction = \"RUN\"\npattern = 'curl'\nmode = \"forbid\"\nscope = \"final-stage\"\n",
        );
        // curl is only in the first stage.
        assert!(custom_findings(&forbid, TWO_STAGES).is_empty());
        let every = config(
            "[[rule]]\nid = \"ACME004\"\ninstruction = \"RUN\"\npattern = 'curl'\nmode = \"forbid\"\n",
        );
        assert_eq!(custom_findings(&every, TWO_STAGES).len(), 1);
    }

    #[test]
    fn invalid_rules_are_errors_not_panics() {
        let bad_regex =
            config("[[rule]]\nid = \"ACME005\"\npattern = 'curl(('\nmode = \"forbid\"\n");
        let err = bad_regex.custom_rules[0].check().unwrap_err();
        assert!(
            matches!(&err, CustomRuleError::BadPattern { id, pattern, .. } if id == "ACME005" && pattern == "curl(("),
            "{err:?}"
        );
        assert!(err.to_string().contains("invalid pattern"));
        // lint() refuses the configuration with an error value too.
        assert!(lint("Dockerfile", "FROM debian:12\n", &bad_regex, &NoContext).is_err());

        let bad_keyword =
            config("[[rule]]\nid = \"ACME006\"\ninstruction = \"RUNN\"\nmode = \"forbid\"\n");
        assert!(matches!(
            check_all(&bad_keyword.custom_rules),
            Err(CustomRuleError::BadInstruction { .. })
        ));
        let bad_id = config("[[rule]]\nid = \"ACME 7\"\nmode = \"forbid\"\n");
        assert!(matches!(
            check_all(&bad_id.custom_rules),
            Err(CustomRuleError::BadId(_))
        ));
        let builtin = config("[[rule]]\nid = \"DL3000\"\nmode = \"forbid\"\n");
        assert!(matches!(
            check_all(&builtin.custom_rules),
            Err(CustomRuleError::BuiltinId(_))
        ));
        let twice = config(
            "[[rule]]\nid = \"ACME008\"\nmode = \"forbid\"\n[[rule]]\nid = \"ACME008\"\nmode = \"require\"\n",
        );
        assert!(matches!(
            check_all(&twice.custom_rules),
            Err(CustomRuleError::DuplicateId(_))
        ));
        // Unknown keys and modes are TOML errors.
        assert!(toml::from_str::<LintConfig>("[[rule]]\nid = \"A\"\nmode = \"ban\"\n").is_err());
        assert!(
            toml::from_str::<LintConfig>("[[rule]]\nid = \"A\"\nmode = \"forbid\"\nregex = 'x'\n")
                .is_err()
        );
    }

    #[test]
    fn ignore_comments_ignored_list_and_severity_overrides_apply() {
        let toml = "[[rule]]\nid = \"ACME001\"\ninstruction = \"RUN\"\npattern = 'curl'\nmode = \"forbid\"\n";
        let cfg = config(toml);
        let src = "FROM debian:12\n# plinth ignore=ACME001\nRUN curl -o a https://x\nRUN curl -o b https://y\n";
        let found = custom_findings(&cfg, src);
        assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), [4]);
        let global = format!("{src}# hadolint global ignore=ACME001\n");
        assert!(custom_findings(&cfg, &global).is_empty());

        let ignored = config(&format!("ignored = [\"ACME001\"]\n{toml}"));
        assert!(custom_findings(&ignored, src).is_empty());
        let raised = config(&format!("[severity]\nACME001 = \"error\"\n{toml}"));
        assert!(
            custom_findings(&raised, src)
                .iter()
                .all(|f| f.2 == Severity::Error)
        );
        let off = config(&format!("[severity]\nACME001 = \"off\"\n{toml}"));
        assert!(custom_findings(&off, src).is_empty());
    }

    #[test]
    fn the_module_doc_example_parses_and_checks() {
        let doc = include_str!("custom.rs");
        let example: String = doc
            .lines()
            .skip_while(|l| *l != "//! ```toml")
            .skip(1)
            .take_while(|l| *l != "//! ```")
            .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("[[lint.rule]]", "[[rule]]");
        let cfg = config(&example);
        assert_eq!(cfg.custom_rules.len(), 3);
        check_all(&cfg.custom_rules).expect("the example is valid");
        let found = custom_findings(&cfg, TWO_STAGES);
        let codes: Vec<&str> = found.iter().map(|f| f.1.as_str()).collect();
        // ACME003 on the first FROM, ACME001 on line 2 (curl | sh; the heredoc has wget),
        // ACME002 on the final FROM.
        assert_eq!(codes, ["ACME003", "ACME001", "ACME002"], "{found:?}");
    }
}
