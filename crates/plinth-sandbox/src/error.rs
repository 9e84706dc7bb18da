//! Errors of the sandbox, on the host side; failures inside the helper arrive as
//! [`SandboxError::Setup`] or [`SandboxError::Exec`] with the helper's message.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Why `execve` of the command failed inside the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecFailure {
    /// Not found in `$PATH`, or the path does not exist (a shell would exit 127).
    NotFound,
    /// Not executable (a shell would exit 126).
    PermissionDenied,
    /// Anything else (bad format, ...); also 126.
    Other,
}

impl ExecFailure {
    /// The exit code a shell uses for this failure: 127 for not found, else 126.
    pub fn exit_code(self) -> i32 {
        match self {
            ExecFailure::NotFound => 127,
            ExecFailure::PermissionDenied | ExecFailure::Other => 126,
        }
    }
}

/// Errors of [`crate::Sandbox::run`] and [`crate::scrub_upper`].
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The spec cannot be run (checked before anything starts).
    #[error("invalid sandbox spec: {0}")]
    InvalidSpec(String),
    /// The helper process could not be started.
    #[error("cannot start the sandbox helper {}: {source}", path.display())]
    Spawn {
        /// The helper executable.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A host-side system call around the helper failed.
    #[error("sandbox: {context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// Preparing the container failed inside the helper (namespaces, mounts, user, cwd).
    #[error("sandbox setup failed: {message}")]
    Setup {
        /// The helper's message, naming the step and path.
        message: String,
    },
    /// The command could not be executed.
    #[error("{message}")]
    Exec {
        /// The class of failure.
        kind: ExecFailure,
        /// For example `exec: "foo": executable file not found in $PATH`.
        message: String,
    },
    /// The helper ended without reporting the command's status (it was killed, for example).
    #[error("the sandbox helper ended unexpectedly ({status})")]
    HelperDied {
        /// The helper's own exit status as text.
        status: String,
    },
    /// The run was cancelled through [`crate::RunOptions::cancel`]; everything was killed.
    #[error("the sandboxed command was cancelled")]
    Cancelled,
    /// A file operation failed (fs-err messages carry the path).
    #[error(transparent)]
    Fs(#[from] std::io::Error),
}
