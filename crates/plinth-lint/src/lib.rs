//! `plinth lint`'s core: Dockerfile rules, inline ignores and the lint configuration, with no IO.
//!
//! [`lint`] parses a Dockerfile with plinth-dockerfile, runs every enabled [`Rule`] over the
//! syntax tree and the typed stages, drops what inline comments ignore
//! (`# hadolint ignore=DL3008`, `# plinth ignore=PL001` before an instruction, `global ignore=`
//! anywhere) and what the [`LintConfig`] ignores, applies severity overrides, and returns the
//! [`Finding`]s in source order.
//!
//! Rule codes: hadolint's `DLxxxx` codes with hadolint's meaning (so existing `.hadolint.yaml`
//! files and ignore comments keep working) and plinth's `PLxxx` rules for the checklist of
//! practices for base images. Each rule is one [`Rule`] value in [`rules::all`]; rules read the
//! build context only through [`ContextFiles`] (the CLI passes the real directory).

#![forbid(unsafe_code)]

pub mod config;
pub mod custom;
pub mod finding;
pub mod hadolint;
pub mod ignore;
pub mod report;
pub mod rules;
pub mod shell;
pub mod shellcheck;

use plinth_dockerfile::{Dockerfile, ParsedStages};

pub use config::{BuiltHere, LabelType, LintConfig};
pub use finding::{Finding, Severity};
pub use rules::{Rule, RuleMeta};

/// Files of the build context a rule may read (PL011 reads the scripts ENTRYPOINT/CMD run).
pub trait ContextFiles {
    /// The text of `path` (relative to the context root, as a COPY source names it), when it
    /// exists and is text.
    fn read(&self, path: &str) -> Option<String>;
}

/// No build context: rules that need one find nothing.
pub struct NoContext;

impl ContextFiles for NoContext {
    fn read(&self, _path: &str) -> Option<String> {
        None
    }
}

/// What a rule sees of one Dockerfile.
pub struct Ctx<'a> {
    /// The file's name as findings show it.
    pub path: &'a str,
    /// The source text.
    pub text: &'a str,
    /// The lossless syntax tree (comments, directives, spans).
    pub dockerfile: &'a Dockerfile,
    /// Global ARGs and typed stages.
    pub stages: &'a ParsedStages,
    /// The configuration (rules read their settings from it: required labels, trusted
    /// registries, ...).
    pub config: &'a LintConfig,
    /// The build context.
    pub files: &'a dyn ContextFiles,
}

impl Ctx<'_> {
    /// The last source line of the text `span` covers.
    pub fn end_line(&self, span: plinth_dockerfile::Span) -> u32 {
        let body = self.text.get(span.start..span.end).unwrap_or_default();
        let breaks = body.trim_end_matches(['\n', '\r']).matches('\n').count();
        span.line + u32::try_from(breaks).unwrap_or(0)
    }

    /// A finding of rule `meta` about the instruction at `span`, with the rule's severity.
    pub fn finding(
        &self,
        meta: &RuleMeta,
        span: plinth_dockerfile::Span,
        message: impl Into<String>,
    ) -> Finding {
        Finding::at(meta, span, self.end_line(span), message)
    }
}

/// A Dockerfile that cannot be linted because it does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{col}: {message}")]
pub struct LintError {
    pub path: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl From<(&str, plinth_dockerfile::ParseError)> for LintError {
    fn from((path, e): (&str, plinth_dockerfile::ParseError)) -> Self {
        LintError {
            path: path.to_string(),
            line: e.line,
            col: e.col,
            message: e.message,
        }
    }
}

/// Lints `text` (named `path` in findings) with `config`; `files` is its build context.
pub fn lint(
    path: &str,
    text: &str,
    config: &LintConfig,
    files: &dyn ContextFiles,
) -> Result<Vec<Finding>, LintError> {
    let dockerfile = plinth_dockerfile::parse(text).map_err(|e| LintError::from((path, e)))?;
    let stages = plinth_dockerfile::stages(&dockerfile).map_err(|e| LintError::from((path, e)))?;
    let cx = Ctx {
        path,
        text,
        dockerfile: &dockerfile,
        stages: &stages,
        config,
        files,
    };
    let mut found = Vec::new();
    for rule in rules::all() {
        let meta = rule.meta();
        if config.is_ignored(meta.code) {
            continue;
        }
        rule.check(&cx, &mut found);
    }
    // The configuration's own rules, after the built-in ones (ignores and overrides below
    // apply to them by id). A rule the configuration cannot use is an error, not a skip.
    for rule in &config.custom_rules {
        let compiled = rule.compile().map_err(|e| LintError {
            path: path.to_string(),
            line: 0,
            col: 0,
            message: e.to_string(),
        })?;
        compiled.check(&cx, &mut found);
    }
    let ignores = ignore::Ignores::of(&dockerfile, config.pragmas());
    Ok(settle(&ignores, config, found))
}

/// Findings as reported: without what the file's inline `ignores` and the configuration switch
/// off, with the configuration's severity overrides, in source order, without repeats. [`lint`]
/// ends with it; findings from outside the rules (ShellCheck's) go through it too.
pub fn settle(ignores: &ignore::Ignores, config: &LintConfig, found: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = found
        .into_iter()
        .filter(|f| !ignores.covers(&f.code, f.line) && !config.is_ignored(&f.code))
        .filter_map(|mut f| {
            match config.severity_override(&f.code) {
                Some(None) => return None,
                Some(Some(s)) => f.severity = s,
                None => {}
            }
            Some(f)
        })
        .collect();
    out.sort_by(|a, b| (a.line, a.column, &a.code).cmp(&(b.line, b.column, &b.code)));
    out.dedup();
    out
}
