//! Where registry credentials come from: none, a fixed user/password, or the Docker CLI's
//! `config.json` (`auths` entries with base64 `user:password`, `credsStore`, and per-registry
//! `credHelpers`, the latter two run as `docker-credential-<helper> get`). Secrets are never part of
//! an error message or a `Debug` output.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;

/// How the client finds credentials for a registry.
#[derive(Clone, Default)]
pub enum Credentials {
    /// Anonymous access only.
    #[default]
    Anonymous,
    /// The same user and password for every registry.
    Static { username: String, password: String },
    /// Docker's `config.json`; `None` means `$DOCKER_CONFIG/config.json`, else
    /// `$HOME/.docker/config.json`. A missing file means anonymous access.
    DockerConfig { path: Option<PathBuf> },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Static { username, .. } => f
                .debug_struct("Static")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::DockerConfig { path } => {
                f.debug_struct("DockerConfig").field("path", path).finish()
            }
        }
    }
}

/// The credentials found for one registry.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    Anonymous,
    Basic {
        username: String,
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken` in config.json, or a helper's `<token>` user).
    IdentityToken(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Anonymous => f.write_str("Anonymous"),
            Auth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Auth::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// Why credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{path}: invalid Docker config: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("{path}: the auth entry for {registry} is not base64 of user:password")]
    BadAuthEntry { path: PathBuf, registry: String },
    #[error("credential helper docker-credential-{helper} for {registry}: {reason}")]
    Helper {
        helper: String,
        registry: String,
        reason: String,
    },
    #[error("no home directory: set HOME or DOCKER_CONFIG")]
    NoHome,
}

#[derive(serde::Deserialize, Default)]
struct DockerConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
}

#[derive(serde::Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The key Docker uses for Docker Hub in `config.json` and with helpers.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The host part of an `auths` key (`https://host/v1/` becomes `host`), lowercased.
fn key_host(key: &str) -> String {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.split('/').next().unwrap_or(k);
    k.to_ascii_lowercase()
}

/// Hosts that mean Docker Hub.
fn is_docker_hub(host: &str) -> bool {
    matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    )
}

impl Credentials {
    /// The credentials for a registry host (`host[:port]`).
    pub fn resolve(&self, registry: &str) -> Result<Auth, CredentialsError> {
        match self {
            Credentials::Anonymous => Ok(Auth::Anonymous),
            Credentials::Static { username, password } => Ok(Auth::Basic {
                username: username.clone(),
                password: password.clone(),
            }),
            Credentials::DockerConfig { path } => {
                let path = match path {
                    Some(p) => p.clone(),
                    None => default_config_path()?,
                };
                resolve_docker_config(&path, registry)
            }
        }
    }
}

fn default_config_path() -> Result<PathBuf, CredentialsError> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("config.json"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or(CredentialsError::NoHome)?;
    Ok(PathBuf::from(home).join(".docker").join("config.json"))
}

fn resolve_docker_config(path: &Path, registry: &str) -> Result<Auth, CredentialsError> {
    let bytes = match fs_err::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Auth::Anonymous),
        Err(e) => return Err(e.into()),
    };
    let cfg: DockerConfigFile =
        serde_json::from_slice(&bytes).map_err(|e| CredentialsError::Config {
            path: path.to_path_buf(),
            reason: format!("line {} column {}", e.line(), e.column()),
        })?;
    let host = registry.to_ascii_lowercase();
    let hub = is_docker_hub(&host);
    // The name a helper is asked about: Docker asks about the Hub by its v1 URL.
    let server = if hub {
        DOCKER_HUB_KEY.to_string()
    } else {
        host.clone()
    };

    let helper = cfg
        .cred_helpers
        .iter()
        .find(|(k, _)| key_host(k) == host || (hub && is_docker_hub(&key_host(k))))
        .map(|(_, h)| h.clone())
        .or(cfg.creds_store.clone())
        .filter(|h| !h.is_empty());
    if let Some(helper) = helper {
        return run_helper(&helper, &server);
    }
    let entry = cfg
        .auths
        .iter()
        .find(|(k, _)| key_host(k) == host || (hub && is_docker_hub(&key_host(k))))
        .map(|(_, v)| v);
    let Some(entry) = entry else {
        return Ok(Auth::Anonymous);
    };
    if let Some(t) = entry.identitytoken.as_ref().filter(|t| !t.is_empty()) {
        return Ok(Auth::IdentityToken(t.clone()));
    }
    if let Some(auth) = entry.auth.as_ref().filter(|a| !a.is_empty()) {
        let bad = || CredentialsError::BadAuthEntry {
            path: path.to_path_buf(),
            registry: registry.to_string(),
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
        let (u, p) = decoded.split_once(':').ok_or_else(bad)?;
        return Ok(Auth::Basic {
            username: u.to_string(),
            password: p.to_string(),
        });
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Auth::Basic {
            username: u.clone(),
            password: p.clone(),
        }),
        _ => Ok(Auth::Anonymous),
    }
}

#[derive(serde::Deserialize)]
struct HelperOutput {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Runs `docker-credential-<helper> get` with the server name on stdin (the Docker credential
/// helper protocol). "credentials not found" means anonymous access.
fn run_helper(helper: &str, server: &str) -> Result<Auth, CredentialsError> {
    let err = |reason: String| CredentialsError::Helper {
        helper: helper.to_string(),
        registry: server.to_string(),
        reason,
    };
    if !helper
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(err("invalid helper name".into()));
    }
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| err(format!("writing to {program}: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| err(format!("waiting for {program}: {e}")))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if msg.contains("credentials not found") {
            return Ok(Auth::Anonymous);
        }
        // The helper's own message (it does not hold secrets on failure), shortened.
        let msg: String = msg.trim().chars().take(200).collect();
        return Err(err(format!("{}: {msg}", out.status)));
    }
    let parsed: HelperOutput = serde_json::from_slice(&out.stdout)
        .map_err(|_| err("output is not the expected JSON".into()))?;
    if parsed.username == "<token>" {
        return Ok(Auth::IdentityToken(parsed.secret));
    }
    if parsed.username.is_empty() && parsed.secret.is_empty() {
        return Ok(Auth::Anonymous);
    }
    Ok(Auth::Basic {
        username: parsed.username,
        password: parsed.secret,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &Path, json: &str) -> Credentials {
        let p = dir.join("config.json");
        fs_err::write(&p, json).unwrap();
        Credentials::DockerConfig { path: Some(p) }
    }

    #[test]
    fn auths_base64_and_url_keys() {
        let d = tempfile::tempdir().unwrap();
        let c = config(
            d.path(),
            r#"{"auths":{"reg.example:5000":{"auth":"dXNlcjpwYTpzcw=="},
                "https://index.docker.io/v1/":{"auth":"aHViOmh1YnB3"},
                "https://other.example/v2/":{"username":"u2","password":"p2"},
                "tok.example":{"identitytoken":"idt"}}}"#,
        );
        assert_eq!(
            c.resolve("reg.example:5000").unwrap(),
            Auth::Basic {
                username: "user".into(),
                password: "pa:ss".into()
            }
        );
        assert_eq!(
            c.resolve("registry-1.docker.io").unwrap(),
            Auth::Basic {
                username: "hub".into(),
                password: "hubpw".into()
            }
        );
        assert_eq!(
            c.resolve("Other.Example").unwrap(),
            Auth::Basic {
                username: "u2".into(),
                password: "p2".into()
            }
        );
        assert_eq!(
            c.resolve("tok.example").unwrap(),
            Auth::IdentityToken("idt".into())
        );
        assert_eq!(c.resolve("unknown.example").unwrap(), Auth::Anonymous);
    }

    #[test]
    fn bad_entries_are_errors_without_secrets() {
        let d = tempfile::tempdir().unwrap();
        // base64 of "nocolonsecret"
        let c = config(
            d.path(),
            r#"{"auths":{"h":{"auth":"bm9jb2xvbnNlY3JldA=="}}}"#,
        );
        let e = c.resolve("h").unwrap_err().to_string();
        assert!(e.contains("not base64 of user:password"), "{e}");
        assert!(
            !e.contains("nocolonsecret") && !e.contains("bm9jb2xvbnNlY3JldA"),
            "{e}"
        );
        let c = config(d.path(), r#"{"auths":{"h":{"auth":"secretpw"#);
        let e = c.resolve("h").unwrap_err().to_string();
        assert!(e.contains("invalid Docker config"), "{e}");
        assert!(!e.contains("secretpw"), "{e}");
    }

    #[test]
    fn missing_file_is_anonymous() {
        let d = tempfile::tempdir().unwrap();
        let c = Credentials::DockerConfig {
            path: Some(d.path().join("nope.json")),
        };
        assert_eq!(c.resolve("h").unwrap(), Auth::Anonymous);
    }

    #[test]
    fn debug_redacts() {
        let c = Credentials::Static {
            username: "me".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        let a = c.resolve("x").unwrap();
        assert!(!format!("{a:?}").contains("hunter2"));
        assert!(!format!("{:?}", Auth::IdentityToken("tkn".into())).contains("tkn"));
    }

    #[test]
    fn invalid_helper_name_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let c = config(d.path(), r#"{"credsStore":"../../bin/sh"}"#);
        let e = c.resolve("h").unwrap_err().to_string();
        assert!(e.contains("invalid helper name"), "{e}");
    }
}
