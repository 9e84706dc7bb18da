//! Test support for plinth's registry tests, shared by `plinth-registry` and the `plinth` CLI as
//! a dev-dependency (never a dependency of shipped code).
//!
//! - [`Registry`]: a real registry (Debian's `docker-registry`, distribution 2.8) on a free
//!   loopback port: plain HTTP, htpasswd Basic auth, TLS from a throwaway CA (with a certs
//!   directory in Docker's `certs.d` layout), or bearer tokens from a [`TokenServer`]; killed on
//!   drop. It can also be queried directly over plain HTTP ([`Registry::manifest`],
//!   [`Registry::blob_status`], [`Registry::missing_blobs`]) to check what a push left behind.
//! - [`FaultProxy`]: a TCP proxy in front of a registry that spoils chosen requests ([`Fault`]:
//!   error statuses, dropped or cut connections, slow answers) and forwards the rest.
//! - [`skopeo_digest`] and [`run`]: real tools as independent witnesses.
//! - [`files_containing`], [`secret_forms`], [`docker_auth`]: looking for leaked passwords.
//!
//! The helpers return [`Error`]s; tests decide to fail on them.

#![warn(missing_docs)]

mod helper;
mod proxy;
mod registry;
mod scan;
mod token;

use std::net::TcpListener;
use std::process::{Command, ExitStatus};
use std::time::Duration;

pub use helper::file_credential_helper;
pub use proxy::{Fault, FaultProxy, Rule};
pub use registry::{Auth, Options, Registry, Tls, make_certs};
pub use scan::files_containing;
pub use token::{TokenServer, TokenSettings};

/// What went wrong in a fixture.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tool could not be started at all (usually: not installed).
    #[error("cannot run {program} ({source}); install the test tools with scripts/install-deps.sh")]
    Spawn {
        /// The program.
        program: String,
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },
    /// A tool ran and failed.
    #[error("{command} failed ({status}): {stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// How it ended.
        status: ExitStatus,
        /// What it said.
        stderr: String,
    },
    /// A file or socket operation failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The registry did not start serving in time.
    #[error("the registry on {host} did not answer within {waited:?}; its log:\n{log}")]
    NotReady {
        /// `127.0.0.1:PORT`.
        host: String,
        /// How long the fixture waited.
        waited: Duration,
        /// The registry's log.
        log: String,
    },
    /// An answer that the fixture cannot make sense of.
    #[error("{what}: {message}")]
    Unexpected {
        /// What was asked.
        what: String,
        /// What was wrong with the answer.
        message: String,
    },
}

/// The fixtures' result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A free TCP port on 127.0.0.1 (bound, then released; good enough for tests).
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Runs `cmd`; returns its stdout when it succeeds, an error with its stderr otherwise.
pub fn run(cmd: &mut Command) -> Result<String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .output()
        .map_err(|source| Error::Spawn { program, source })?;
    if !out.status.success() {
        return Err(Error::Failed {
            command: format!("{cmd:?}"),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `auth` value of a Docker config.json `auths` entry: base64 of `USER:PASSWORD`.
pub fn docker_auth(username: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
}

/// The forms in which a password could leak: as is, in base64, and as Basic-auth base64 of
/// `USER:PASSWORD`.
pub fn secret_forms(username: &str, password: &str) -> Vec<String> {
    use base64::Engine;
    vec![
        password.to_string(),
        base64::engine::general_purpose::STANDARD.encode(password),
        docker_auth(username, password),
    ]
}

/// `skopeo inspect` of `docker://REFERENCE` with `extra` options (e.g. `--tls-verify=false`,
/// `--cert-dir DIR`, `--creds U:P`); returns the manifest digest skopeo reports.
pub fn skopeo_digest(reference: &str, extra: &[&str]) -> Result<String> {
    let out = run(Command::new("skopeo")
        .arg("inspect")
        .args(extra)
        .arg(format!("docker://{reference}")))?;
    let v: serde_json::Value = serde_json::from_str(&out).map_err(|e| Error::Unexpected {
        what: format!("skopeo inspect docker://{reference}"),
        message: e.to_string(),
    })?;
    v["Digest"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::Unexpected {
            what: format!("skopeo inspect docker://{reference}"),
            message: format!("no Digest in {out}"),
        })
}
