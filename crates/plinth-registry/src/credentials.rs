//! Where registry credentials come from: none, a fixed user/password, or the Docker CLI's
//! `config.json` (`auths` entries with base64 `user:password`, `credsStore`, and per-registry
//! `credHelpers`, the latter two run as `docker-credential-<helper> get`). Also saving and erasing
//! a login in that file the way `docker login`/`docker logout` do ([`save_login`],
//! [`erase_login`]). Secrets are never part of an error message or a `Debug` output.

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
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid registry {value:?}: expected HOST or HOST:PORT")]
    InvalidRegistry { value: String },
    #[error("invalid user name {username:?}: it must not be empty or contain ':'")]
    InvalidUsername { username: String },
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

/// Whether an `auths` or `credHelpers` key names this (lowercased) registry host.
fn key_matches(key: &str, host: &str) -> bool {
    let k = key_host(key);
    k == host || (is_docker_hub(host) && is_docker_hub(&k))
}

impl DockerConfigFile {
    /// The credential helper for a (lowercased) registry host: its `credHelpers` entry, else
    /// `credsStore`.
    fn helper_for(&self, host: &str) -> Option<String> {
        self.cred_helpers
            .iter()
            .find(|(k, _)| key_matches(k, host))
            .map(|(_, h)| h.clone())
            .or(self.creds_store.clone())
            .filter(|h| !h.is_empty())
    }
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

    if let Some(helper) = cfg.helper_for(&host) {
        return run_helper(&helper, &server);
    }
    let entry = cfg
        .auths
        .iter()
        .find(|(k, _)| key_matches(k, &host))
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

/// A command of the Docker credential helper protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HelperAction {
    Get,
    Store,
    Erase,
}

impl HelperAction {
    fn as_str(self) -> &'static str {
        match self {
            HelperAction::Get => "get",
            HelperAction::Store => "store",
            HelperAction::Erase => "erase",
        }
    }
}

fn helper_error(helper: &str, server: &str) -> impl Fn(String) -> CredentialsError {
    let (helper, server) = (helper.to_string(), server.to_string());
    move |reason| CredentialsError::Helper {
        helper: helper.clone(),
        registry: server.clone(),
        reason,
    }
}

/// The helper's stdout and stderr as text.
fn helper_message(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// Runs `docker-credential-<helper> <action>` with `input` on stdin and returns its output.
/// Errors name the helper and the server, never the input.
fn call_helper(
    helper: &str,
    server: &str,
    action: HelperAction,
    input: &[u8],
) -> Result<std::process::Output, CredentialsError> {
    let err = helper_error(helper, server);
    if !helper
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(err("invalid helper name".into()));
    }
    let program = format!("docker-credential-{helper}");
    let mut child = Command::new(&program)
        .arg(action.as_str())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .map_err(|e| err(format!("writing to {program}: {e}")))?;
    }
    child
        .wait_with_output()
        .map_err(|e| err(format!("waiting for {program}: {e}")))
}

/// Runs `docker-credential-<helper> get` with the server name on stdin (the Docker credential
/// helper protocol). "credentials not found" means anonymous access.
fn run_helper(helper: &str, server: &str) -> Result<Auth, CredentialsError> {
    let err = helper_error(helper, server);
    let out = call_helper(helper, server, HelperAction::Get, server.as_bytes())?;
    if !out.status.success() {
        let msg = helper_message(&out);
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

// ---- Saving and erasing a login (`docker login` / `docker logout`) ----

/// Where [`save_login`] put the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SavedIn {
    /// In the `auths` of this `config.json`, as base64 `user:password`.
    ConfigFile(PathBuf),
    /// In a credential helper (`docker-credential-<helper> store`); like Docker, `config.json`
    /// keeps only an empty `auths` entry for the registry.
    Helper { helper: String },
}

impl std::fmt::Display for SavedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SavedIn::ConfigFile(p) => write!(f, "{}", p.display()),
            SavedIn::Helper { helper } => {
                write!(f, "the credential helper docker-credential-{helper}")
            }
        }
    }
}

/// What [`erase_login`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erased {
    /// The registry's `auths` entries of this `config.json`.
    ConfigFile(PathBuf),
    /// The credentials a credential helper held (`docker-credential-<helper> erase`).
    Helper { helper: String },
    /// There was no login for the registry.
    NothingStored,
}

/// The registry host a `docker login` argument names, lowercased: `host[:port]`, also accepted as
/// a URL (`https://host/v1/`); every Docker Hub name (`index.docker.io`, the v1 URL, ...) is
/// `docker.io`.
pub fn login_registry(server: &str) -> Result<String, CredentialsError> {
    let host = key_host(server.trim());
    let valid = !host.is_empty()
        && !host.starts_with(['.', '-', ':'])
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b));
    if !valid {
        return Err(CredentialsError::InvalidRegistry {
            value: server.to_string(),
        });
    }
    Ok(if is_docker_hub(&host) {
        "docker.io".to_string()
    } else {
        host
    })
}

/// The `config.json` a login is read from and saved to: `config`, else
/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json` (as the reader resolves it).
pub fn docker_config_path(config: Option<&Path>) -> Result<PathBuf, CredentialsError> {
    match config {
        Some(p) => Ok(p.to_path_buf()),
        None => default_config_path(),
    }
}

/// Saves a login the way `docker login` does: through the registry's credential helper
/// (`credHelpers`, else `credsStore`) when `config.json` names one, otherwise as
/// `auths[KEY] = {"auth": base64(user:password)}`, KEY being [`DOCKER_HUB_KEY`] for Docker Hub and
/// `host[:port]` otherwise (other `auths` keys naming the same registry are dropped, so the new
/// login is the one used). Every other member of the file keeps its place and its bytes. The file
/// (and its directory) is created when missing and replaced atomically, with mode 0600.
///
/// The credentials are not checked here; see `Client::login`.
pub fn save_login(
    config: Option<&Path>,
    registry: &str,
    username: &str,
    password: &str,
) -> Result<SavedIn, CredentialsError> {
    let host = login_registry(registry)?;
    if username.is_empty() || username.contains(':') {
        return Err(CredentialsError::InvalidUsername {
            username: username.to_string(),
        });
    }
    let path = docker_config_path(config)?;
    let mut doc = ConfigDoc::load(&path)?;
    let server = server_key(&host);
    if let Some(helper) = doc.helper_for(&host) {
        let input = serde_json::json!({
            "ServerURL": server,
            "Username": username,
            "Secret": password,
        });
        let out = call_helper(
            &helper,
            &server,
            HelperAction::Store,
            input.to_string().as_bytes(),
        )?;
        if !out.status.success() {
            // A helper has no reason to repeat the secret, but make sure it is not passed on.
            let mut msg = helper_message(&out);
            if !password.is_empty() {
                msg = msg.replace(password, "<redacted>");
            }
            let msg: String = msg.trim().chars().take(200).collect();
            return Err(helper_error(&helper, &server)(format!(
                "{}: {msg}",
                out.status
            )));
        }
        doc.set_auth(&host, Json::Value(serde_json::json!({})))?;
        doc.save()?;
        return Ok(SavedIn::Helper { helper });
    }
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    doc.set_auth(&host, Json::Value(serde_json::json!({ "auth": auth })))?;
    doc.save()?;
    Ok(SavedIn::ConfigFile(doc.path))
}

/// Erases a login the way `docker logout` does: `docker-credential-<helper> erase` when
/// `config.json` names a helper for the registry, and every `auths` entry naming the registry.
/// A missing file or login is [`Erased::NothingStored`], not an error.
pub fn erase_login(config: Option<&Path>, registry: &str) -> Result<Erased, CredentialsError> {
    let host = login_registry(registry)?;
    let path = docker_config_path(config)?;
    let mut doc = ConfigDoc::load(&path)?;
    if !doc.exists {
        return Ok(Erased::NothingStored);
    }
    let server = server_key(&host);
    let mut erased = Erased::NothingStored;
    if let Some(helper) = doc.helper_for(&host) {
        let out = call_helper(&helper, &server, HelperAction::Erase, server.as_bytes())?;
        if out.status.success() {
            erased = Erased::Helper { helper };
        } else {
            let msg = helper_message(&out);
            if !msg.to_ascii_lowercase().contains("not found") {
                let msg: String = msg.trim().chars().take(200).collect();
                return Err(helper_error(&helper, &server)(format!(
                    "{}: {msg}",
                    out.status
                )));
            }
        }
    }
    if doc.remove_auths(&host)? {
        doc.save()?;
        if erased == Erased::NothingStored {
            erased = Erased::ConfigFile(doc.path);
        }
    }
    Ok(erased)
}

/// The name Docker stores a registry's login under, in `auths` and with helpers.
fn server_key(host: &str) -> String {
    if is_docker_hub(host) {
        DOCKER_HUB_KEY.to_string()
    } else {
        host.to_string()
    }
}

/// A JSON value of `config.json` being rewritten.
enum Json {
    /// As read, byte for byte.
    Raw(Box<serde_json::value::RawValue>),
    /// An object whose members are rewritten (in their order).
    Object(Members),
    /// A new value.
    Value(serde_json::Value),
}

impl serde::Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Raw(r) => r.serialize(s),
            Json::Object(m) => m.serialize(s),
            Json::Value(v) => v.serialize(s),
        }
    }
}

/// A JSON object's members in file order (serde_json's own map sorts its keys).
#[derive(Default)]
struct Members(Vec<(String, Json)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) =
                    map.next_entry::<String, Box<serde_json::value::RawValue>>()?
                {
                    out.push((k, Json::Raw(v)));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl serde::Serialize for Members {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// `config.json` loaded for a rewrite: the typed view (for helpers) and the members in order.
struct ConfigDoc {
    path: PathBuf,
    exists: bool,
    typed: DockerConfigFile,
    members: Members,
}

impl ConfigDoc {
    fn load(path: &Path) -> Result<ConfigDoc, CredentialsError> {
        let bytes = match fs_err::read(path) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let invalid = |e: serde_json::Error| CredentialsError::Config {
            path: path.to_path_buf(),
            reason: format!("line {} column {}", e.line(), e.column()),
        };
        let (typed, members) = match &bytes {
            // Docker reads an empty file as an empty configuration.
            Some(b) if !b.trim_ascii().is_empty() => (
                serde_json::from_slice::<DockerConfigFile>(b).map_err(invalid)?,
                serde_json::from_slice::<Members>(b).map_err(invalid)?,
            ),
            _ => (DockerConfigFile::default(), Members::default()),
        };
        Ok(ConfigDoc {
            path: path.to_path_buf(),
            exists: bytes.is_some(),
            typed,
            members,
        })
    }

    fn helper_for(&self, host: &str) -> Option<String> {
        self.typed.helper_for(host)
    }

    /// The `auths` object's members (created, empty, at the end when missing).
    fn auths(&mut self) -> Result<&mut Members, CredentialsError> {
        let pos = match self.members.0.iter().position(|(k, _)| k == "auths") {
            Some(p) => p,
            None => {
                self.members
                    .0
                    .push(("auths".to_string(), Json::Object(Members::default())));
                self.members.0.len() - 1
            }
        };
        let slot = &mut self.members.0[pos].1;
        if let Json::Raw(raw) = slot {
            let parsed = if raw.get().trim() == "null" {
                Members::default()
            } else {
                serde_json::from_str::<Members>(raw.get()).map_err(|_| {
                    CredentialsError::Config {
                        path: self.path.clone(),
                        reason: "\"auths\" is not an object".into(),
                    }
                })?
            };
            *slot = Json::Object(parsed);
        }
        match slot {
            Json::Object(m) => Ok(m),
            _ => Err(CredentialsError::Config {
                path: self.path.clone(),
                reason: "\"auths\" is not an object".into(),
            }),
        }
    }

    /// Sets the registry's `auths` entry, in place of the first one naming it; drops the others.
    fn set_auth(&mut self, host: &str, value: Json) -> Result<(), CredentialsError> {
        let key = server_key(host);
        let auths = self.auths()?;
        let first = auths.0.iter().position(|(k, _)| key_matches(k, host));
        let mut value = Some(value);
        let mut i = 0;
        auths.0.retain_mut(|(k, v)| {
            let this = i;
            i += 1;
            if Some(this) == first {
                *k = key.clone();
                if let Some(new) = value.take() {
                    *v = new;
                }
                true
            } else {
                !key_matches(k, host)
            }
        });
        if let Some(new) = value {
            auths.0.push((key, new));
        }
        Ok(())
    }

    /// Removes every `auths` entry naming the registry; whether there was one.
    fn remove_auths(&mut self, host: &str) -> Result<bool, CredentialsError> {
        if !self.members.0.iter().any(|(k, _)| k == "auths") {
            return Ok(false);
        }
        let auths = self.auths()?;
        let before = auths.0.len();
        auths.0.retain(|(k, _)| !key_matches(k, host));
        Ok(auths.0.len() != before)
    }

    /// Writes the file atomically (a temporary file in the same directory, renamed over it),
    /// mode 0600, tab-indented like Docker's. A symlinked file is replaced at its target.
    fn save(&self) -> Result<(), CredentialsError> {
        let werr = |path: &Path| {
            let path = path.to_path_buf();
            move |source: std::io::Error| CredentialsError::Write {
                path: path.clone(),
                source,
            }
        };
        let mut bytes = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(
            &mut bytes,
            serde_json::ser::PrettyFormatter::with_indent(b"\t"),
        );
        serde::Serialize::serialize(&self.members, &mut ser)
            .map_err(|e| werr(&self.path)(std::io::Error::other(e.to_string())))?;
        let target = match fs_err::symlink_metadata(&self.path) {
            Ok(m) if m.file_type().is_symlink() => fs_err::canonicalize(&self.path)?,
            _ => self.path.clone(),
        };
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(werr(&dir))?;
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(".config.json.")
            .tempfile_in(&dir)
            .map_err(werr(&dir))?;
        {
            use std::os::unix::fs::PermissionsExt;
            tmp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(werr(tmp.path()))?;
        }
        tmp.write_all(&bytes).map_err(werr(tmp.path()))?;
        tmp.as_file().sync_all().map_err(werr(tmp.path()))?;
        tmp.persist(&target).map_err(|e| werr(&target)(e.error))?;
        Ok(())
    }
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

    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs_err::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn save_login_creates_the_file_and_the_reader_finds_it() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("new-dir").join("config.json");
        let saved = save_login(Some(&path), "Reg.Example:5000", "alice", "pa:ss w0rd").unwrap();
        assert_eq!(saved, SavedIn::ConfigFile(path.clone()));
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let v: serde_json::Value = serde_json::from_slice(&fs_err::read(&path).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"auths": {"reg.example:5000": {"auth": "YWxpY2U6cGE6c3MgdzByZA=="}}})
        );
        let c = Credentials::DockerConfig { path: Some(path) };
        assert_eq!(
            c.resolve("reg.example:5000").unwrap(),
            Auth::Basic {
                username: "alice".into(),
                password: "pa:ss w0rd".into()
            }
        );
    }

    #[test]
    fn save_login_keeps_every_other_member_in_place() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("config.json");
        let original = r#"{
  "psFormat": "table {{.ID}}",
  "auths": {
    "https://reg.example/v1/": {"auth": "b2xkOm9sZA=="},
    "other.example": {"auth": "a2VlcDprZWVw", "email": "e@x"},
    "http://reg.example": {"auth": "b2xkMjpvbGQy"}
  },
  "proxies": {"default": {"zProxy": "z", "aProxy": 1.50}},
  "credHelpers": {"gcr.io": "gcloud"}
}"#;
        fs_err::write(&path, original).unwrap();
        save_login(Some(&path), "reg.example", "new", "pw").unwrap();
        let text = fs_err::read_to_string(&path).unwrap();
        // Top-level order, and the bytes of untouched values (key order, number formatting).
        let keys: Vec<usize> = ["psFormat", "auths", "proxies", "credHelpers"]
            .iter()
            .map(|k| text.find(&format!("\"{k}\"")).unwrap())
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(
            text.contains(r#"{"default": {"zProxy": "z", "aProxy": 1.50}}"#),
            "{text}"
        );
        assert!(
            text.contains(r#""other.example": {"auth": "a2VlcDprZWVw", "email": "e@x"}"#),
            "{text}"
        );
        // The entries naming reg.example became one, under Docker's key, where the first was.
        assert!(!text.contains("b2xk"), "{text}");
        let reg = text.find("\"reg.example\"").unwrap();
        assert!(reg < text.find("other.example").unwrap(), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["auths"]["reg.example"]["auth"], "bmV3OnB3");
        assert_eq!(v["auths"].as_object().unwrap().len(), 2);
        assert_eq!(v["psFormat"], "table {{.ID}}");
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn docker_hub_uses_the_v1_key() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("config.json");
        fs_err::write(
            &path,
            r#"{"auths":{"index.docker.io":{"auth":"b2xkOm9sZA=="}}}"#,
        )
        .unwrap();
        for name in [
            "docker.io",
            "https://index.docker.io/v1/",
            "registry-1.docker.io",
        ] {
            assert_eq!(login_registry(name).unwrap(), "docker.io");
        }
        save_login(Some(&path), "docker.io", "hubuser", "hubpw").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&fs_err::read(&path).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"auths": {DOCKER_HUB_KEY: {"auth": "aHVidXNlcjpodWJwdw=="}}})
        );
        let c = Credentials::DockerConfig {
            path: Some(path.clone()),
        };
        assert_eq!(
            c.resolve("registry-1.docker.io").unwrap(),
            Auth::Basic {
                username: "hubuser".into(),
                password: "hubpw".into()
            }
        );
        assert_eq!(
            erase_login(Some(&path), "index.docker.io").unwrap(),
            Erased::ConfigFile(path.clone())
        );
        assert_eq!(c.resolve("docker.io").unwrap(), Auth::Anonymous);
    }

    #[test]
    fn erase_login_removes_only_that_registry() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("config.json");
        fs_err::write(
            &path,
            r#"{"auths":{"a.example":{"auth":"YTph"},"https://b.example/v2/":{"auth":"Yjpi"}},"x":[3,2,1]}"#,
        )
        .unwrap();
        assert_eq!(
            erase_login(Some(&path), "B.example").unwrap(),
            Erased::ConfigFile(path.clone())
        );
        let text = fs_err::read_to_string(&path).unwrap();
        assert!(
            !text.contains("b.example") && !text.contains("Yjpi"),
            "{text}"
        );
        assert!(text.contains(r#""a.example": {"auth":"YTph"}"#), "{text}");
        assert!(text.contains("[3,2,1]"), "{text}");
        assert_eq!(mode(&path), 0o600);
        // Nothing more to erase: the file is left alone.
        let before = fs_err::read(&path).unwrap();
        assert_eq!(
            erase_login(Some(&path), "b.example").unwrap(),
            Erased::NothingStored
        );
        assert_eq!(fs_err::read(&path).unwrap(), before);
        // No file: nothing stored, and none is created.
        let missing = d.path().join("none").join("config.json");
        assert_eq!(
            erase_login(Some(&missing), "a.example").unwrap(),
            Erased::NothingStored
        );
        assert!(!missing.exists());
    }

    #[test]
    fn a_symlinked_config_is_written_through() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("real.json");
        fs_err::write(&real, r#"{"keep":true}"#).unwrap();
        let link = d.path().join("config.json");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        save_login(Some(&link), "h.example", "u", "p").unwrap();
        assert!(
            fs_err::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let v: serde_json::Value = serde_json::from_slice(&fs_err::read(&real).unwrap()).unwrap();
        assert_eq!(v["keep"], true);
        assert_eq!(v["auths"]["h.example"]["auth"], "dTpw");
    }

    #[test]
    fn save_login_refuses_bad_input_without_the_password() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("config.json");
        let e = save_login(Some(&path), "h.example", "a:b", "S3cret-pw").unwrap_err();
        assert!(matches!(e, CredentialsError::InvalidUsername { .. }), "{e}");
        let e = save_login(Some(&path), "bad host/x y", "u", "S3cret-pw").unwrap_err();
        assert!(matches!(e, CredentialsError::InvalidRegistry { .. }), "{e}");
        assert!(save_login(Some(&path), "", "u", "S3cret-pw").is_err());
        fs_err::write(&path, r#"{"auths": ["S3cret-pw"]}"#).unwrap();
        let e = save_login(Some(&path), "h.example", "u", "S3cret-pw").unwrap_err();
        assert!(matches!(e, CredentialsError::Config { .. }), "{e}");
        fs_err::write(&path, r#"{"auths": "#).unwrap();
        let e = save_login(Some(&path), "h.example", "u", "S3cret-pw").unwrap_err();
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(!text.contains("S3cret-pw"), "{text}");
        }
        // The file that could not be read is left as it was.
        assert_eq!(fs_err::read_to_string(&path).unwrap(), r#"{"auths": "#);
    }

    #[test]
    fn an_empty_file_is_an_empty_config() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("config.json");
        fs_err::write(&path, "").unwrap();
        save_login(Some(&path), "h.example", "u", "p").unwrap();
        let v: serde_json::Value = serde_json::from_slice(&fs_err::read(&path).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"auths": {"h.example": {"auth": "dTpw"}}})
        );
    }
}
