//! The error type of the registry client. Every variant names the registry (and the repository
//! when there is one); none ever carries a password, token or `Authorization` header.

use std::path::PathBuf;

use plinth_oci::Digest;

use crate::credentials::CredentialsError;

/// What went wrong talking to a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{registry}/{repository}: {op}: HTTP {status}{}", detail(message))]
    Status {
        registry: String,
        repository: String,
        op: &'static str,
        status: u16,
        message: String,
    },
    #[error(
        "{registry}/{repository}: {op}: not found (HTTP 404){}",
        detail(message)
    )]
    NotFound {
        registry: String,
        repository: String,
        op: &'static str,
        message: String,
    },
    #[error(
        "{registry}/{repository}: authentication failed (HTTP {status}){}; check the credentials for {registry}",
        detail(message)
    )]
    Unauthorized {
        registry: String,
        repository: String,
        status: u16,
        message: String,
    },
    #[error(
        "{registry}: login as {username:?}: authentication failed (HTTP {status}){}",
        detail(message)
    )]
    LoginFailed {
        registry: String,
        username: String,
        status: u16,
        message: String,
    },
    #[error(
        "{registry}: TLS certificate verification failed: {message}; put the registry's CA certificate in {ca_hint} or list the host as insecure"
    )]
    TlsVerification {
        registry: String,
        message: String,
        ca_hint: String,
    },
    #[error("{registry}: {op}: {message}")]
    Transport {
        registry: String,
        op: &'static str,
        message: String,
    },
    #[error(
        "{registry}/{repository}: {what} {expected}: the registry sent content with digest {actual} ({size} bytes)"
    )]
    DigestMismatch {
        registry: String,
        repository: String,
        what: &'static str,
        expected: Digest,
        actual: Digest,
        size: u64,
    },
    #[error("{registry}/{repository}: {message}")]
    Protocol {
        registry: String,
        repository: String,
        message: String,
    },
    #[error("{registry}: token server: {message}")]
    Token { registry: String, message: String },
    #[error("credentials for {registry}: {source}")]
    Credentials {
        registry: String,
        #[source]
        source: CredentialsError,
    },
    #[error("blob {digest}: reading the source: {source}")]
    Source {
        digest: Digest,
        #[source]
        source: std::io::Error,
    },
    #[error("blob {digest}: writing: {source}")]
    Sink {
        digest: Digest,
        #[source]
        source: std::io::Error,
    },
    #[error("{registry}: invalid {what} {value:?}")]
    InvalidName {
        registry: String,
        what: &'static str,
        value: String,
    },
    #[error("{registry}: certificate {path}: {message}")]
    Certificate {
        registry: String,
        path: PathBuf,
        message: String,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn detail(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

impl RegistryError {
    /// The HTTP status, for errors that come from a registry response.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Status { status, .. }
            | RegistryError::Unauthorized { status, .. }
            | RegistryError::LoginFailed { status, .. } => Some(*status),
            RegistryError::NotFound { .. } => Some(404),
            _ => None,
        }
    }
}
