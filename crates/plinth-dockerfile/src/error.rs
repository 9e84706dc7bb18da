//! Error values: [`ParseError`] for malformed Dockerfiles (with a 1-based line and column) and
//! [`ExpandError`] for failed variable expansion.

use crate::span::Span;

/// A malformed Dockerfile. `Display` is `LINE:COL: message` (the caller prefixes the file name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct ParseError {
    /// 1-based line of the offending construct.
    pub line: u32,
    /// 1-based column (in characters) of the offending construct.
    pub col: u32,
    /// What is wrong, worded as BuildKit words it where BuildKit has a message.
    pub message: String,
}

impl ParseError {
    /// An error located at the start of `span`.
    pub fn at(span: &Span, message: impl Into<String>) -> Self {
        ParseError {
            line: span.line,
            col: span.col,
            message: message.into(),
        }
    }
}

/// Variable expansion failed (BuildKit's `failed to process "word": ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExpandError {
    /// The message, e.g. `failed to process "${A?}": A: is not allowed to be unset`.
    pub message: String,
}

impl ExpandError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ExpandError {
            message: message.into(),
        }
    }
}
