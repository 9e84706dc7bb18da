//! What a rule reports: a code, a severity, a message and where.

use serde::{Deserialize, Serialize};

/// How bad a finding is; hadolint's levels, most severe first.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
    Style,
}

impl Severity {
    /// hadolint's name of the level.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Style => "style",
        }
    }

    /// Parses `error`, `warning`, `info` or `style` (any case).
    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "error" => Some(Severity::Error),
            "warning" => Some(Severity::Warning),
            "info" => Some(Severity::Info),
            "style" => Some(Severity::Style),
            _ => None,
        }
    }

    /// Whether a finding of this severity reaches `threshold` (an error reaches `warning`).
    pub fn reaches(self, threshold: Severity) -> bool {
        self <= threshold
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding. `line` and `column` are 1-based; `column` points at the instruction (or the
/// word) the finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's code, e.g. `DL3008` or `PL001`.
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub line: u32,
    pub column: u32,
    /// The last line of the instruction the finding is about.
    pub end_line: u32,
}

impl Finding {
    /// A finding about a whole instruction (its first line and column to its last line).
    pub fn at(
        meta: &crate::RuleMeta,
        span: plinth_dockerfile::Span,
        end_line: u32,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            code: meta.code.to_string(),
            severity: meta.severity,
            message: message.into(),
            line: span.line,
            column: span.col,
            end_line: end_line.max(span.line),
        }
    }
}
