//! The blocking registry client: an internal single-threaded tokio runtime driving reqwest, with
//! per-registry TLS settings (Docker's `certs.d` convention), HTTP fallback for insecure and
//! loopback hosts, Basic and Bearer-token auth, retries with backoff, streaming uploads (monolithic
//! or chunked) and digest-verified downloads.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use plinth_oci::Digest;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, LOCATION};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use sha2::{Digest as _, Sha256};

use crate::auth::{self, Access, Challenge, Scope, TokenCache};
use crate::credentials::{Auth, Credentials};
use crate::error::RegistryError;
use crate::reference::{RepoRef, api_host};

/// Media types accepted when fetching manifests.
pub const MANIFEST_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// The largest manifest accepted (distribution's own limit is 4 MiB).
const MAX_MANIFEST_SIZE: usize = 4 << 20;

/// Docker's default directory of per-registry certificates.
pub const DEFAULT_CERTS_DIR: &str = "/etc/docker/certs.d";

/// How failed requests are retried (5xx, 429, timeouts, connection errors).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in total, at least 1.
    pub max_attempts: u32,
    /// The delay before the second attempt; doubled for each further one.
    pub base_delay: Duration,
    /// The longest delay between attempts (also caps `Retry-After`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        retry_after.unwrap_or(exp).min(self.max_delay)
    }
}

/// How blobs are uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UploadMode {
    /// One `PUT` with the whole blob streamed.
    #[default]
    Monolithic,
    /// `PATCH` requests of at most this many bytes, then a closing `PUT`.
    Chunked { chunk_size: u64 },
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Per-registry certificates: `DIR/HOST[:PORT]/*.crt` are extra CAs, `*.cert` + `*.key` a
    /// client certificate. `None` disables the lookup.
    pub certs_dir: Option<PathBuf>,
    /// Hosts (`host[:port]`) whose certificates are not verified and that may be reached over
    /// plain HTTP. Loopback hosts (`localhost`, `127.0.0.1`, `::1`) may always use plain HTTP, but
    /// their certificates are verified when they speak TLS.
    pub insecure_hosts: Vec<String>,
    pub credentials: Credentials,
    pub retry: RetryPolicy,
    /// Connect timeout and the longest wait for any read.
    pub timeout: Duration,
    pub upload: UploadMode,
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            certs_dir: Some(PathBuf::from(DEFAULT_CERTS_DIR)),
            insecure_hosts: Vec::new(),
            credentials: Credentials::Anonymous,
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            upload: UploadMode::Monolithic,
            user_agent: concat!("plinth/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// Where a blob's bytes come from; opened again for every attempt, so it must yield the same
/// bytes each time.
pub trait BlobSource {
    fn open(&self) -> io::Result<Box<dyn Read + Send>>;
}

impl<F, R> BlobSource for F
where
    F: Fn() -> io::Result<R>,
    R: Read + Send + 'static,
{
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(self()?))
    }
}

/// A file as a blob source.
#[derive(Debug, Clone)]
pub struct FileSource(pub PathBuf);

impl BlobSource for FileSource {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(fs_err::File::open(&self.0)?))
    }
}

/// Bytes in memory as a blob source (for small blobs such as image configs).
#[derive(Debug, Clone)]
pub struct BytesSource(pub Arc<[u8]>);

impl BlobSource for BytesSource {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(io::Cursor::new(Arc::clone(&self.0))))
    }
}

/// A manifest as the registry stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    /// The exact bytes (their digest is the manifest digest).
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: Digest,
}

/// What `HEAD` says about a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestInfo {
    pub digest: Option<Digest>,
    pub media_type: Option<String>,
    pub size: Option<u64>,
}

/// What [`Client::login`] found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginCheck {
    /// The registry (or its token server) accepted the credentials.
    Verified,
    /// The registry answered without asking for credentials, so they were not checked.
    NotRequired,
}

/// What [`Client::push_blob`] had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPush {
    /// The repository had it already.
    Existed,
    /// Mounted from another repository of the same registry.
    Mounted,
    Uploaded,
}

/// A blocking OCI distribution client. It is `Sync` and can be shared between threads (each call
/// drives the internal runtime until done); it must not be called from inside an async runtime.
pub struct Client {
    rt: tokio::runtime::Runtime,
    config: ClientConfig,
    state: Mutex<State>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    conns: HashMap<String, Arc<Conn>>,
    tokens: TokenCache,
    auths: HashMap<String, Auth>,
    /// The auth scheme each host asked for, learned from its first challenge.
    schemes: HashMap<String, HostScheme>,
}

#[derive(Debug, Clone)]
enum HostScheme {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

struct Conn {
    http: reqwest::Client,
    base: Url,
}

/// What a request is about, for error messages.
struct Ctx<'a> {
    registry: &'a str,
    repository: &'a str,
    op: &'static str,
}

impl<'a> Ctx<'a> {
    /// The context of operation `op` on `repo`.
    fn of(repo: &'a RepoRef, op: &'static str) -> Ctx<'a> {
        Ctx {
            registry: &repo.registry,
            repository: &repo.repository,
            op,
        }
    }

    fn protocol(&self, message: impl Into<String>) -> RegistryError {
        RegistryError::Protocol {
            registry: self.registry.to_string(),
            repository: self.repository.to_string(),
            message: format!("{}: {}", self.op, message.into()),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host_without_port(host);
    h == "localhost" || h == "::1" || h == "[::1]" || h.starts_with("127.")
}

fn host_without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

fn valid_repository(s: &str) -> bool {
    !s.is_empty()
        && s.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        })
}

fn valid_reference(s: &str) -> bool {
    if s.contains(':') {
        return s.parse::<Digest>().is_ok();
    }
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The text of an error and its sources, with URLs (which could hold user info) left out.
fn error_chain(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut cur = std::error::Error::source(e);
    while let Some(s) = cur {
        let text = s.to_string();
        if !msg.ends_with(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cur = s.source();
    }
    msg
}

/// Whether an error (or one of its sources) is a certificate verification failure.
fn is_cert_error(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(x) = cur {
        if let Some(r) = x.downcast_ref::<rustls::Error>() {
            return matches!(
                r,
                rustls::Error::InvalidCertificate(_) | rustls::Error::InvalidCertRevocationList(_)
            );
        }
        if let Some(io) = x.downcast_ref::<io::Error>()
            && let Some(inner) = io.get_ref()
            && is_cert_error(inner)
        {
            return true;
        }
        cur = x.source();
    }
    false
}

/// The `errors` of a registry error body, as `CODE: message` lines (bodies are short; secrets are
/// never in them).
fn registry_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<ErrorItem>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Errors>(body) {
        Ok(e) if !e.errors.is_empty() => e
            .errors
            .iter()
            .map(|i| format!("{}: {}", i.code, i.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::from_utf8_lossy(&body[..body.len().min(200)])
            .trim()
            .to_string(),
    }
}

fn header_str<'h>(h: &'h HeaderMap, name: &str) -> Option<&'h str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn retry_after(h: &HeaderMap) -> Option<Duration> {
    header_str(h, "retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || matches!(status.as_u16(), 500 | 502 | 503 | 504)
}

/// One request's pieces, rebuilt for every attempt.
type Build<'a> = dyn Fn(&reqwest::Client, &Url) -> Result<RequestBuilder, RegistryError> + 'a;

impl Client {
    /// Creates a client. Nothing is contacted until the first call.
    pub fn new(config: ClientConfig) -> Result<Client, RegistryError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Client {
            rt,
            config,
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another call panicked; the caches stay usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insecure(&self, host: &str) -> bool {
        self.config
            .insecure_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
    }

    fn ca_hint(&self, registry: &str) -> String {
        match &self.config.certs_dir {
            Some(d) => d.join(registry).join("ca.crt").display().to_string(),
            None => format!("a certs directory ({registry}/ca.crt)"),
        }
    }

    fn transport_error(
        &self,
        registry: &str,
        op: &'static str,
        e: &reqwest::Error,
    ) -> RegistryError {
        let message = error_chain(e);
        if is_cert_error(e) {
            RegistryError::TlsVerification {
                registry: registry.to_string(),
                message,
                ca_hint: self.ca_hint(registry),
            }
        } else {
            RegistryError::Transport {
                registry: registry.to_string(),
                op,
                message,
            }
        }
    }

    /// Builds the HTTP client of a host: its CAs and client certificate from the certs dir.
    fn http_client(&self, host: &str) -> Result<reqwest::Client, RegistryError> {
        let mut b = reqwest::Client::builder()
            .user_agent(self.config.user_agent.clone())
            .connect_timeout(self.config.timeout)
            .read_timeout(self.config.timeout)
            .danger_accept_invalid_certs(self.insecure(host));
        if let Some(dir) = &self.config.certs_dir {
            let dir = dir.join(host);
            if dir.is_dir() {
                b = add_certs_dir(b, host, &dir)?;
            }
        }
        b.build().map_err(|e| RegistryError::Transport {
            registry: host.to_string(),
            op: "setting up HTTP",
            message: error_chain(&e),
        })
    }

    /// The connection of a host, choosing HTTPS or (for insecure and loopback hosts) HTTP.
    async fn conn(&self, registry: &str) -> Result<Arc<Conn>, RegistryError> {
        let host = api_host(registry).to_string();
        if let Some(c) = self.state().conns.get(&host) {
            return Ok(Arc::clone(c));
        }
        let http = self.http_client(&host)?;
        let url = |scheme: &str| {
            Url::parse(&format!("{scheme}://{host}/")).map_err(|_| RegistryError::InvalidName {
                registry: registry.to_string(),
                what: "registry host",
                value: host.clone(),
            })
        };
        let https = url("https")?;
        let insecure = self.insecure(&host);
        let base = if insecure || is_loopback(&host) {
            // Like Docker: try HTTPS, fall back to plain HTTP when the host does not speak TLS.
            let probe = https.join("v2/").unwrap_or_else(|_| https.clone());
            match http.get(probe).send().await {
                Ok(_) => https,
                Err(e) if is_cert_error(&e) && !insecure => {
                    return Err(self.transport_error(registry, "connecting", &e));
                }
                Err(_) => url("http")?,
            }
        } else {
            https
        };
        let conn = Arc::new(Conn { http, base });
        self.state().conns.insert(host, Arc::clone(&conn));
        Ok(conn)
    }

    fn auth_for(&self, registry: &str) -> Result<Auth, RegistryError> {
        if let Some(a) = self.state().auths.get(registry) {
            return Ok(a.clone());
        }
        let a = self
            .config
            .credentials
            .resolve(registry)
            .map_err(|source| RegistryError::Credentials {
                registry: registry.to_string(),
                source,
            })?;
        self.state().auths.insert(registry.to_string(), a.clone());
        Ok(a)
    }

    /// The `Authorization` value to send, fetching a token first if the host wants Bearer auth.
    async fn authorization(
        &self,
        conn: &Conn,
        ctx: &Ctx<'_>,
        scopes: &[Scope],
    ) -> Result<Option<String>, RegistryError> {
        let host = api_host(ctx.registry);
        let scheme = self.state().schemes.get(host).cloned();
        match scheme {
            None => Ok(None),
            Some(HostScheme::Basic) => Ok(match self.auth_for(ctx.registry)? {
                Auth::Basic { username, password } => Some(basic(&username, &password)),
                _ => None,
            }),
            Some(HostScheme::Bearer { realm, service }) => {
                let cached = self.state().tokens.get(host, scopes, Instant::now());
                if let Some(t) = cached {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let token = self
                    .fetch_token(conn, ctx, &realm, service.as_deref(), scopes)
                    .await?;
                self.state()
                    .tokens
                    .insert(host, scopes, &token, Instant::now());
                Ok(Some(format!("Bearer {}", token.token)))
            }
        }
    }

    /// Asks a token server for a token (GET with Basic credentials, or the OAuth2 refresh-token
    /// POST for identity tokens).
    async fn fetch_token(
        &self,
        conn: &Conn,
        ctx: &Ctx<'_>,
        realm: &str,
        service: Option<&str>,
        scopes: &[Scope],
    ) -> Result<auth::Token, RegistryError> {
        let token_err = |message: String| RegistryError::Token {
            registry: ctx.registry.to_string(),
            message,
        };
        let mut url = Url::parse(realm)
            .map_err(|_| token_err("the challenge's realm is not a URL".into()))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(token_err("the challenge's realm is not an HTTP URL".into()));
        }
        let auth = self.auth_for(ctx.registry)?;
        let req = match &auth {
            Auth::IdentityToken(refresh) => {
                let mut form = Url::parse("x:/").map_err(|_| token_err("internal".into()))?;
                {
                    let mut q = form.query_pairs_mut();
                    q.append_pair("grant_type", "refresh_token");
                    q.append_pair("refresh_token", refresh);
                    q.append_pair("client_id", "plinth");
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    let all: Vec<&str> = scopes.iter().map(Scope::as_str).collect();
                    if !all.is_empty() {
                        q.append_pair("scope", &all.join(" "));
                    }
                }
                conn.http
                    .post(url)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.query().unwrap_or_default().to_string())
            }
            _ => {
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    for s in scopes {
                        q.append_pair("scope", s.as_str());
                    }
                    // As Docker does: the token server may key its answer on the account.
                    if let Auth::Basic { username, .. } = &auth {
                        q.append_pair("account", username);
                    }
                }
                let req = conn.http.get(url);
                match &auth {
                    Auth::Basic { username, password } => {
                        req.header(AUTHORIZATION, basic(username, password))
                    }
                    _ => req,
                }
            }
        };
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(ctx.registry, "fetching a token", &e))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(ctx.registry, "fetching a token", &e))?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::Unauthorized {
                registry: ctx.registry.to_string(),
                repository: ctx.repository.to_string(),
                status: status.as_u16(),
                message: "the token server refused the credentials".into(),
            });
        }
        if !status.is_success() {
            return Err(token_err(format!("HTTP {}", status.as_u16())));
        }
        auth::parse_token_response(&body).map_err(|e| token_err(e.to_string()))
    }

    /// Learns the auth scheme from a 401 response. Returns false when no retry can help.
    fn learn_challenge(&self, ctx: &Ctx<'_>, headers: &HeaderMap) -> Result<bool, RegistryError> {
        let host = api_host(ctx.registry).to_string();
        let challenges: Vec<Challenge> = headers
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(auth::parse_www_authenticate)
            .collect();
        let bearer = challenges.iter().find(|c| c.scheme == "bearer");
        let scheme = if let Some(b) = bearer {
            let Some(realm) = b.param("realm") else {
                return Err(ctx.protocol("Bearer challenge without a realm"));
            };
            HostScheme::Bearer {
                realm: realm.to_string(),
                service: b.param("service").map(str::to_string),
            }
        } else if challenges.iter().any(|c| c.scheme == "basic") {
            if !matches!(self.auth_for(ctx.registry)?, Auth::Basic { .. }) {
                return Ok(false);
            }
            HostScheme::Basic
        } else {
            return Ok(false);
        };
        self.state().schemes.insert(host, scheme);
        Ok(true)
    }

    /// Sends a request with auth and retries; returns any response that is not retryable.
    async fn send(
        &self,
        ctx: &Ctx<'_>,
        scopes: &[Scope],
        build: &Build<'_>,
    ) -> Result<Response, RegistryError> {
        let conn = self.conn(ctx.registry).await?;
        let policy = &self.config.retry;
        let max = policy.max_attempts.max(1);
        let mut attempt = 0u32;
        let mut auth_retried = false;
        loop {
            attempt += 1;
            let authz = self.authorization(&conn, ctx, scopes).await?;
            let mut req = build(&conn.http, &conn.base)?;
            if let Some(a) = &authz {
                req = req.header(AUTHORIZATION, a);
            }
            match req.send().await {
                Err(e) => {
                    let transient =
                        (e.is_timeout() || e.is_connect() || e.is_request()) && !is_cert_error(&e);
                    if transient && attempt < max {
                        tokio::time::sleep(policy.delay(attempt, None)).await;
                        continue;
                    }
                    return Err(self.transport_error(ctx.registry, ctx.op, &e));
                }
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => {
                    let host = api_host(ctx.registry);
                    if authz.is_some() {
                        self.state().tokens.remove(host, scopes);
                    }
                    if !auth_retried && self.learn_challenge(ctx, resp.headers())? {
                        auth_retried = true;
                        attempt -= 1;
                        continue;
                    }
                    let status = resp.status().as_u16();
                    let body = resp.bytes().await.unwrap_or_default();
                    return Err(RegistryError::Unauthorized {
                        registry: ctx.registry.to_string(),
                        repository: ctx.repository.to_string(),
                        status,
                        message: registry_message(&body),
                    });
                }
                Ok(resp) if retryable(resp.status()) && attempt < max => {
                    let wait = policy.delay(attempt, retry_after(resp.headers()));
                    drop(resp);
                    tokio::time::sleep(wait).await;
                }
                Ok(resp) => return Ok(resp),
            }
        }
    }

    /// Turns an unexpected response into an error.
    async fn status_error(ctx: &Ctx<'_>, resp: Response) -> RegistryError {
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        let message = registry_message(&body);
        if status == 404 {
            RegistryError::NotFound {
                registry: ctx.registry.to_string(),
                repository: ctx.repository.to_string(),
                op: ctx.op,
                message,
            }
        } else {
            RegistryError::Status {
                registry: ctx.registry.to_string(),
                repository: ctx.repository.to_string(),
                op: ctx.op,
                status,
                message,
            }
        }
    }

    fn check_repo(repo: &RepoRef) -> Result<(), RegistryError> {
        if valid_repository(&repo.repository) {
            Ok(())
        } else {
            Err(RegistryError::InvalidName {
                registry: repo.registry.clone(),
                what: "repository name",
                value: repo.repository.clone(),
            })
        }
    }

    fn check_reference(repo: &RepoRef, reference: &str) -> Result<(), RegistryError> {
        Self::check_repo(repo)?;
        if valid_reference(reference) {
            Ok(())
        } else {
            Err(RegistryError::InvalidName {
                registry: repo.registry.clone(),
                what: "tag or digest",
                value: reference.to_string(),
            })
        }
    }

    fn join(base: &Url, ctx: &Ctx<'_>, path: &str) -> Result<Url, RegistryError> {
        base.join(path)
            .map_err(|_| ctx.protocol(format!("cannot build a URL from {path:?}")))
    }

    /// Checks that a registry answers the API (`GET /v2/`), authenticating if it asks.
    pub fn ping(&self, registry: &str) -> Result<(), RegistryError> {
        let ctx = Ctx {
            registry,
            repository: "",
            op: "ping",
        };
        self.rt.block_on(async {
            let resp = self
                .send(&ctx, &[], &|h, b| Ok(h.get(Self::join(b, &ctx, "v2/")?)))
                .await?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(Self::status_error(&ctx, resp).await)
            }
        })
    }

    /// Checks the client's credentials for a registry the way `docker login` does: `GET /v2/`,
    /// answering a Basic challenge with the credentials, or a Bearer challenge with a token
    /// fetched for the challenge's service with no scope (and `account=<user>`). A refusal (401 or
    /// 403, from the registry or its token server) is [`RegistryError::LoginFailed`], naming the
    /// registry and user. A registry that asks for no authentication cannot check anything:
    /// [`LoginCheck::NotRequired`].
    pub fn login(&self, registry: &str) -> Result<LoginCheck, RegistryError> {
        let ctx = Ctx {
            registry,
            repository: "",
            op: "logging in",
        };
        let username = match self.auth_for(registry)? {
            Auth::Basic { username, .. } => username,
            Auth::IdentityToken(_) => "<token>".to_string(),
            Auth::Anonymous => String::new(),
        };
        let failed = |status: u16, message: String| RegistryError::LoginFailed {
            registry: registry.to_string(),
            username: username.clone(),
            status,
            message,
        };
        self.rt.block_on(async {
            let resp = self
                .send(&ctx, &[], &|h, b| Ok(h.get(Self::join(b, &ctx, "v2/")?)))
                .await
                .map_err(|e| match e {
                    RegistryError::Unauthorized {
                        status, message, ..
                    } => failed(status, message),
                    e => e,
                })?;
            let status = resp.status();
            if status == StatusCode::FORBIDDEN {
                let body = resp.bytes().await.unwrap_or_default();
                return Err(failed(status.as_u16(), registry_message(&body)));
            }
            if !status.is_success() {
                return Err(Self::status_error(&ctx, resp).await);
            }
            let challenged = self.state().schemes.contains_key(api_host(registry));
            Ok(if challenged {
                LoginCheck::Verified
            } else {
                LoginCheck::NotRequired
            })
        })
    }

    /// The size of a blob if the repository has it.
    pub fn head_blob(&self, repo: &RepoRef, digest: &Digest) -> Result<Option<u64>, RegistryError> {
        Self::check_repo(repo)?;
        self.rt.block_on(self.head_blob_async(repo, digest))
    }

    async fn head_blob_async(
        &self,
        repo: &RepoRef,
        digest: &Digest,
    ) -> Result<Option<u64>, RegistryError> {
        let ctx = Ctx::of(repo, "checking a blob");
        let path = format!("v2/{}/blobs/{digest}", repo.repository);
        let scopes = [Scope::repository(&repo.repository, Access::Pull)];
        let resp = self
            .send(&ctx, &scopes, &|h, b| {
                Ok(h.head(Self::join(b, &ctx, &path)?))
            })
            .await?;
        match resp.status() {
            s if s.is_success() => {
                let size = header_str(resp.headers(), "content-length")
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| ctx.protocol("HEAD response without Content-Length"))?;
                Ok(Some(size))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(Self::status_error(&ctx, resp).await),
        }
    }

    /// Downloads a blob into `out`, verifying its digest; returns its size. On a digest mismatch
    /// the bytes have already been written: the caller must discard them. Errors in the middle of
    /// the body are not retried (the writer cannot be rewound).
    pub fn get_blob(
        &self,
        repo: &RepoRef,
        digest: &Digest,
        out: &mut dyn Write,
    ) -> Result<u64, RegistryError> {
        Self::check_repo(repo)?;
        let ctx = Ctx::of(repo, "downloading a blob");
        let path = format!("v2/{}/blobs/{digest}", repo.repository);
        let scopes = [Scope::repository(&repo.repository, Access::Pull)];
        self.rt.block_on(async {
            let mut resp = self
                .send(
                    &ctx,
                    &scopes,
                    &|h, b| Ok(h.get(Self::join(b, &ctx, &path)?)),
                )
                .await?;
            if !resp.status().is_success() {
                return Err(Self::status_error(&ctx, resp).await);
            }
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| self.transport_error(ctx.registry, ctx.op, &e))?
            {
                hasher.update(&chunk);
                size += chunk.len() as u64;
                out.write_all(&chunk)
                    .map_err(|source| RegistryError::Sink {
                        digest: digest.clone(),
                        source,
                    })?;
            }
            let actual = Digest::from_hasher(hasher);
            if &actual != digest {
                return Err(RegistryError::DigestMismatch {
                    registry: repo.registry.clone(),
                    repository: repo.repository.clone(),
                    what: "blob",
                    expected: digest.clone(),
                    actual,
                    size,
                });
            }
            Ok(size)
        })
    }

    /// Asks the registry to mount a blob of another repository of the same registry. Returns
    /// false when the registry does not (HTTP 202: the caller uploads instead) or the
    /// repositories are on different registries.
    pub fn mount_blob(
        &self,
        to: &RepoRef,
        from: &RepoRef,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        Self::check_repo(to)?;
        Self::check_repo(from)?;
        if to.registry != from.registry {
            return Ok(false);
        }
        self.rt.block_on(self.mount_blob_async(to, from, digest))
    }

    async fn mount_blob_async(
        &self,
        to: &RepoRef,
        from: &RepoRef,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        let ctx = Ctx {
            registry: &to.registry,
            repository: &to.repository,
            op: "mounting a blob",
        };
        let path = format!("v2/{}/blobs/uploads/", to.repository);
        let scopes = [
            Scope::repository(&to.repository, Access::PullPush),
            Scope::repository(&from.repository, Access::Pull),
        ];
        let resp = self
            .send(&ctx, &scopes, &|h, b| {
                let mut url = Self::join(b, &ctx, &path)?;
                url.query_pairs_mut()
                    .append_pair("mount", &digest.to_string())
                    .append_pair("from", &from.repository);
                Ok(h.post(url).header(CONTENT_LENGTH, "0"))
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                // An upload session was opened instead; cancel it (best effort).
                if let Some(loc) = header_str(resp.headers(), "location").map(str::to_string) {
                    let conn = self.conn(ctx.registry).await?;
                    if let Ok(url) = conn.base.join(&loc) {
                        let authz = self.authorization(&conn, &ctx, &scopes).await?;
                        let mut req = conn.http.delete(url);
                        if let Some(a) = authz {
                            req = req.header(AUTHORIZATION, a);
                        }
                        let _ = req.send().await;
                    }
                }
                Ok(false)
            }
            _ => Err(Self::status_error(&ctx, resp).await),
        }
    }

    /// Uploads a blob (no existence check), streaming it from `source`, monolithically or in
    /// chunks as configured. A chunk that fails in a retryable way is sent again from where the
    /// registry's upload status says it got to; when the registry cannot say (or for a
    /// monolithic upload), the whole upload is started over.
    pub fn upload_blob(
        &self,
        repo: &RepoRef,
        digest: &Digest,
        size: u64,
        source: &dyn BlobSource,
    ) -> Result<(), RegistryError> {
        Self::check_repo(repo)?;
        self.rt
            .block_on(self.upload_blob_async(repo, digest, size, source))
    }

    /// Makes sure the repository has a blob: skipped if present (HEAD), mounted from `mount_from`
    /// when given and possible, else uploaded.
    pub fn push_blob(
        &self,
        repo: &RepoRef,
        digest: &Digest,
        size: u64,
        source: &dyn BlobSource,
        mount_from: Option<&RepoRef>,
    ) -> Result<BlobPush, RegistryError> {
        Self::check_repo(repo)?;
        self.rt.block_on(async {
            if self.head_blob_async(repo, digest).await?.is_some() {
                return Ok(BlobPush::Existed);
            }
            if let Some(from) = mount_from
                && from.registry == repo.registry
                && from.repository != repo.repository
            {
                Self::check_repo(from)?;
                if self.mount_blob_async(repo, from, digest).await? {
                    return Ok(BlobPush::Mounted);
                }
            }
            self.upload_blob_async(repo, digest, size, source).await?;
            Ok(BlobPush::Uploaded)
        })
    }

    async fn upload_blob_async(
        &self,
        repo: &RepoRef,
        digest: &Digest,
        size: u64,
        source: &dyn BlobSource,
    ) -> Result<(), RegistryError> {
        let ctx = Ctx::of(repo, "uploading a blob");
        let scopes = [Scope::repository(&repo.repository, Access::PullPush)];
        let max = self.config.retry.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.upload_once(&ctx, &scopes, digest, size, source).await {
                Err(e) if attempt < max && upload_retryable(&e) => {
                    tokio::time::sleep(self.config.retry.delay(attempt, None)).await;
                }
                other => return other,
            }
        }
    }

    async fn upload_once(
        &self,
        ctx: &Ctx<'_>,
        scopes: &[Scope],
        digest: &Digest,
        size: u64,
        source: &dyn BlobSource,
    ) -> Result<(), RegistryError> {
        let start = format!("v2/{}/blobs/uploads/", ctx.repository);
        let resp = self
            .send(ctx, scopes, &|h, b| {
                Ok(h.post(Self::join(b, ctx, &start)?)
                    .header(CONTENT_LENGTH, "0"))
            })
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(Self::status_error(ctx, resp).await);
        }
        let conn = self.conn(ctx.registry).await?;
        let mut location = upload_location(&conn.base, ctx, resp.headers())?;
        let src_err = |source: io::Error| RegistryError::Source {
            digest: digest.clone(),
            source,
        };
        let mut reader = source.open().map_err(src_err)?;
        let chunk_size = match self.config.upload {
            UploadMode::Monolithic => None,
            UploadMode::Chunked { chunk_size } => Some(chunk_size.max(1)),
        };
        let max_resumes = self.config.retry.max_attempts.max(1);
        if let Some(chunk_size) = chunk_size {
            let mut offset = 0u64;
            while offset < size {
                let len = chunk_size.min(size - offset);
                let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
                (&mut reader)
                    .take(len)
                    .read_to_end(&mut buf)
                    .map_err(src_err)?;
                if (buf.len() as u64) < len {
                    return Err(src_err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the source has fewer than the {size} bytes announced"),
                    )));
                }
                // The part of the chunk the registry still needs: all of it, unless a failed
                // PATCH got some of it there (the registry's upload status says so).
                let mut sent = 0u64;
                let mut resumes = 0;
                while sent < len {
                    let range = format!("{}-{}", offset + sent, offset + len - 1);
                    let body = buf
                        .get(usize::try_from(sent).unwrap_or(usize::MAX)..)
                        .unwrap_or_default()
                        .to_vec();
                    let url = location.clone();
                    // Not retried by `send`: a partly received PATCH would make the offsets
                    // disagree. After a failure the upload's status tells where to go on from.
                    let outcome = self
                        .send_once(ctx, scopes, &|h, _| {
                            Ok(h.patch(url.clone())
                                .header(CONTENT_TYPE, "application/octet-stream")
                                .header("content-range", range.clone())
                                .header(CONTENT_LENGTH, body.len().to_string())
                                .body(body.clone()))
                        })
                        .await;
                    let err = match outcome {
                        Ok(resp) if resp.status() == StatusCode::ACCEPTED => {
                            location = upload_location(&conn.base, ctx, resp.headers())?;
                            sent = len;
                            continue;
                        }
                        Ok(resp) => Self::status_error(ctx, resp).await,
                        Err(e) => e,
                    };
                    resumes += 1;
                    if resumes >= max_resumes || !upload_retryable(&err) {
                        return Err(err);
                    }
                    tokio::time::sleep(self.config.retry.delay(resumes, None)).await;
                    // Resumed where the registry is, when that is inside this chunk; anything
                    // else (an upload the registry no longer knows) starts the blob over.
                    match self.upload_status(ctx, scopes, &conn.base, &location).await {
                        Some((at, next)) if at >= offset && at <= offset + len => {
                            sent = at - offset;
                            location = next;
                        }
                        _ => return Err(err),
                    }
                }
                offset += len;
            }
            location
                .query_pairs_mut()
                .append_pair("digest", &digest.to_string());
            let url = location;
            let resp = self
                .send_once(ctx, scopes, &|h, _| {
                    Ok(h.put(url.clone()).header(CONTENT_LENGTH, "0"))
                })
                .await?;
            return self.finish_upload(ctx, digest, resp).await;
        }
        location
            .query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let reader = Mutex::new(Some(reader));
        let url = location;
        let resp = self
            .send_once(ctx, scopes, &|h, _| {
                let r = reader
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .ok_or_else(|| ctx.protocol("the upload body cannot be sent twice"))?;
                Ok(h.put(url.clone())
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_LENGTH, size.to_string())
                    .body(reqwest::Body::wrap_stream(read_stream(r.take(size)))))
            })
            .await?;
        self.finish_upload(ctx, digest, resp).await
    }

    /// Where an upload session is (`GET` on its location, `Range: 0-<last byte>`): the offset
    /// the next chunk starts at and the location to send it to; `None` when the registry does
    /// not say (the session is gone, or the answer is unusable).
    async fn upload_status(
        &self,
        ctx: &Ctx<'_>,
        scopes: &[Scope],
        base: &Url,
        location: &Url,
    ) -> Option<(u64, Url)> {
        let url = location.clone();
        let resp = self
            .send(ctx, scopes, &|h, _| Ok(h.get(url.clone())))
            .await
            .ok()?;
        if resp.status() != StatusCode::NO_CONTENT {
            return None;
        }
        let next = upload_location(base, ctx, resp.headers()).ok()?;
        // Distribution answers `0-0` for both an empty session and one byte: taken as empty,
        // and a wrong guess fails the next PATCH, which starts the blob over.
        let at = match header_str(resp.headers(), "range") {
            None => 0,
            Some(r) => {
                let (_, end) = r.trim().split_once('-')?;
                match end.trim().parse::<u64>().ok()? {
                    0 => 0,
                    end => end + 1,
                }
            }
        };
        Some((at, next))
    }

    async fn finish_upload(
        &self,
        ctx: &Ctx<'_>,
        digest: &Digest,
        resp: Response,
    ) -> Result<(), RegistryError> {
        if resp.status() != StatusCode::CREATED {
            return Err(Self::status_error(ctx, resp).await);
        }
        if let Some(d) = header_str(resp.headers(), "docker-content-digest")
            && let Ok(d) = d.parse::<Digest>()
            && &d != digest
        {
            return Err(RegistryError::DigestMismatch {
                registry: ctx.registry.to_string(),
                repository: ctx.repository.to_string(),
                what: "uploaded blob",
                expected: digest.clone(),
                actual: d,
                size: 0,
            });
        }
        Ok(())
    }

    /// A request sent with auth but without retries (its body cannot be replayed).
    async fn send_once(
        &self,
        ctx: &Ctx<'_>,
        scopes: &[Scope],
        build: &Build<'_>,
    ) -> Result<Response, RegistryError> {
        let conn = self.conn(ctx.registry).await?;
        let authz = self.authorization(&conn, ctx, scopes).await?;
        let mut req = build(&conn.http, &conn.base)?;
        if let Some(a) = &authz {
            req = req.header(AUTHORIZATION, a);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(ctx.registry, ctx.op, &e))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            self.state().tokens.remove(api_host(ctx.registry), scopes);
        }
        Ok(resp)
    }

    /// Fetches a manifest (or index) by tag or digest, verifying its digest.
    pub fn get_manifest(
        &self,
        repo: &RepoRef,
        reference: &str,
    ) -> Result<RawManifest, RegistryError> {
        Self::check_reference(repo, reference)?;
        let ctx = Ctx::of(repo, "fetching a manifest");
        let path = format!("v2/{}/manifests/{reference}", repo.repository);
        let scopes = [Scope::repository(&repo.repository, Access::Pull)];
        self.rt.block_on(async {
            let mut resp = self
                .send(&ctx, &scopes, &|h, b| {
                    Ok(h.get(Self::join(b, &ctx, &path)?)
                        .header(ACCEPT, MANIFEST_MEDIA_TYPES.join(", ")))
                })
                .await?;
            if !resp.status().is_success() {
                return Err(Self::status_error(&ctx, resp).await);
            }
            let headers = resp.headers().clone();
            let mut bytes = Vec::new();
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| self.transport_error(ctx.registry, ctx.op, &e))?
            {
                if bytes.len() + chunk.len() > MAX_MANIFEST_SIZE {
                    return Err(
                        ctx.protocol(format!("manifest larger than {MAX_MANIFEST_SIZE} bytes"))
                    );
                }
                bytes.extend_from_slice(&chunk);
            }
            let digest = Digest::of(&bytes);
            let expected = reference.parse::<Digest>().ok().or_else(|| {
                header_str(&headers, "docker-content-digest").and_then(|d| d.parse().ok())
            });
            if let Some(expected) = expected
                && expected != digest
            {
                return Err(RegistryError::DigestMismatch {
                    registry: repo.registry.clone(),
                    repository: repo.repository.clone(),
                    what: "manifest",
                    expected,
                    actual: digest,
                    size: bytes.len() as u64,
                });
            }
            let media_type = header_str(&headers, "content-type")
                .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
                .filter(|m| !m.is_empty() && m != "application/json")
                .or_else(|| media_type_field(&bytes))
                .unwrap_or_else(|| "application/json".to_string());
            Ok(RawManifest {
                bytes,
                media_type,
                digest,
            })
        })
    }

    /// What the registry says about a manifest without fetching it; `None` when it has none.
    pub fn head_manifest(
        &self,
        repo: &RepoRef,
        reference: &str,
    ) -> Result<Option<ManifestInfo>, RegistryError> {
        Self::check_reference(repo, reference)?;
        let ctx = Ctx::of(repo, "checking a manifest");
        let path = format!("v2/{}/manifests/{reference}", repo.repository);
        let scopes = [Scope::repository(&repo.repository, Access::Pull)];
        self.rt.block_on(async {
            let resp = self
                .send(&ctx, &scopes, &|h, b| {
                    Ok(h.head(Self::join(b, &ctx, &path)?)
                        .header(ACCEPT, MANIFEST_MEDIA_TYPES.join(", ")))
                })
                .await?;
            match resp.status() {
                s if s.is_success() => {
                    let h = resp.headers();
                    Ok(Some(ManifestInfo {
                        digest: header_str(h, "docker-content-digest").and_then(|d| d.parse().ok()),
                        media_type: header_str(h, "content-type")
                            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string()),
                        size: header_str(h, "content-length").and_then(|v| v.parse().ok()),
                    }))
                }
                StatusCode::NOT_FOUND => Ok(None),
                _ => Err(Self::status_error(&ctx, resp).await),
            }
        })
    }

    /// Pushes manifest bytes exactly as given under a tag or digest; returns their digest.
    pub fn put_manifest(
        &self,
        repo: &RepoRef,
        reference: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest, RegistryError> {
        Self::check_reference(repo, reference)?;
        let digest = Digest::of(bytes);
        let ctx = Ctx::of(repo, "pushing a manifest");
        if let Ok(d) = reference.parse::<Digest>()
            && d != digest
        {
            return Err(ctx.protocol(format!(
                "the manifest bytes have digest {digest}, not the reference {d}"
            )));
        }
        let path = format!("v2/{}/manifests/{reference}", repo.repository);
        let scopes = [Scope::repository(&repo.repository, Access::PullPush)];
        let body = bytes.to_vec();
        self.rt.block_on(async {
            let resp = self
                .send(&ctx, &scopes, &|h, b| {
                    Ok(h.request(Method::PUT, Self::join(b, &ctx, &path)?)
                        .header(CONTENT_TYPE, media_type)
                        .body(body.clone()))
                })
                .await?;
            if resp.status() != StatusCode::CREATED && !resp.status().is_success() {
                return Err(Self::status_error(&ctx, resp).await);
            }
            if let Some(d) = header_str(resp.headers(), "docker-content-digest")
                && let Ok(d) = d.parse::<Digest>()
                && d != digest
            {
                return Err(RegistryError::DigestMismatch {
                    registry: repo.registry.clone(),
                    repository: repo.repository.clone(),
                    what: "pushed manifest",
                    expected: digest.clone(),
                    actual: d,
                    size: bytes.len() as u64,
                });
            }
            Ok(digest)
        })
    }

    /// All tags of a repository, following `Link` pagination.
    pub fn list_tags(&self, repo: &RepoRef) -> Result<Vec<String>, RegistryError> {
        Self::check_repo(repo)?;
        let ctx = Ctx::of(repo, "listing tags");
        let scopes = [Scope::repository(&repo.repository, Access::Pull)];
        #[derive(serde::Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        self.rt.block_on(async {
            let mut tags = Vec::new();
            let mut next = Some(format!("v2/{}/tags/list", repo.repository));
            let mut pages = 0;
            while let Some(path) = next.take() {
                pages += 1;
                if pages > 10_000 {
                    return Err(ctx.protocol("too many pages of tags"));
                }
                let resp = self
                    .send(
                        &ctx,
                        &scopes,
                        &|h, b| Ok(h.get(Self::join(b, &ctx, &path)?)),
                    )
                    .await?;
                if !resp.status().is_success() {
                    return Err(Self::status_error(&ctx, resp).await);
                }
                next = header_str(resp.headers(), "link").and_then(next_link);
                let body = resp
                    .bytes()
                    .await
                    .map_err(|e| self.transport_error(ctx.registry, ctx.op, &e))?;
                let page: Tags = serde_json::from_slice(&body)
                    .map_err(|e| ctx.protocol(format!("invalid tag list: {e}")))?;
                tags.extend(page.tags.unwrap_or_default());
            }
            Ok(tags)
        })
    }
}

fn upload_retryable(e: &RegistryError) -> bool {
    match e {
        RegistryError::Transport { .. } => true,
        RegistryError::Status { status, .. } => StatusCode::from_u16(*status).is_ok_and(retryable),
        _ => false,
    }
}

/// The `Location` of an upload session, resolved against the registry's base URL.
fn upload_location(base: &Url, ctx: &Ctx<'_>, headers: &HeaderMap) -> Result<Url, RegistryError> {
    let loc = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ctx.protocol("upload response without a Location"))?;
    base.join(loc)
        .map_err(|_| ctx.protocol(format!("invalid upload Location {loc:?}")))
}

/// The target of a `Link: <url>; rel="next"` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let url = url.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next")
            .then(|| url.trim_start_matches('/').to_string())
    })
}

fn media_type_field(bytes: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct M {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
    }
    serde_json::from_slice::<M>(bytes).ok()?.media_type
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// A reader as a stream of chunks for a streaming request body. Reads block the runtime thread
/// briefly; the runtime serves only this client's one request at a time.
fn read_stream(
    r: impl Read + Send + 'static,
) -> impl futures_util::Stream<Item = io::Result<Vec<u8>>> + Send + 'static {
    futures_util::stream::unfold(Some(r), |state| async move {
        let mut r = state?;
        let mut buf = vec![0u8; 256 * 1024];
        match r.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), Some(r)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// Adds the CAs (`*.crt`) and client certificate (`*.cert` + `*.key`) of a certs.d directory.
fn add_certs_dir(
    mut b: reqwest::ClientBuilder,
    host: &str,
    dir: &Path,
) -> Result<reqwest::ClientBuilder, RegistryError> {
    let cert_err = |path: &Path, message: String| RegistryError::Certificate {
        registry: host.to_string(),
        path: path.to_path_buf(),
        message,
    };
    let mut entries: Vec<PathBuf> = fs_err::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in &entries {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext {
            "crt" => {
                let pem = fs_err::read(path)?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| cert_err(path, error_chain(&e)))?;
                if certs.is_empty() {
                    return Err(cert_err(path, "no PEM certificate in the file".into()));
                }
                for c in certs {
                    b = b.add_root_certificate(c);
                }
            }
            "cert" => {
                let key = path.with_extension("key");
                if !key.is_file() {
                    return Err(cert_err(path, format!("missing key {}", key.display())));
                }
                let mut pem = fs_err::read(path)?;
                pem.push(b'\n');
                pem.extend(fs_err::read(&key)?);
                let id = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| cert_err(path, error_chain(&e)))?;
                b = b.identity(id);
            }
            _ => {}
        }
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("127.0.0.1:443"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example.com"));
        assert!(!is_loopback("localhost.example.com:5000"));
        assert!(!is_loopback("128.0.0.1"));
    }

    #[test]
    fn names_and_references() {
        assert!(valid_repository("a/b-c/d_e.f"));
        assert!(!valid_repository("A/b"));
        assert!(!valid_repository("a//b"));
        assert!(!valid_repository("a/../b?x"));
        assert!(valid_reference("v1.0_rc-1"));
        assert!(valid_reference(&format!("sha256:{}", "0".repeat(64))));
        assert!(!valid_reference("sha256:xyz"));
        assert!(!valid_reference("../x"));
        assert!(!valid_reference(""));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        assert_eq!(p.delay(1, None), Duration::from_millis(100));
        assert_eq!(p.delay(2, None), Duration::from_millis(200));
        assert_eq!(p.delay(3, None), Duration::from_millis(350));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(100))),
            Duration::from_millis(350)
        );
    }

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/a/tags/list?last=x&n=2>; rel="next""#).as_deref(),
            Some("v2/a/tags/list?last=x&n=2")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn registry_error_bodies() {
        assert_eq!(
            registry_message(br#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}"#),
            "BLOB_UNKNOWN: blob unknown"
        );
        assert_eq!(registry_message(b"  plain text\n"), "plain text");
    }

    #[test]
    fn client_is_shareable_between_threads() {
        fn check<T: Send + Sync>() {}
        check::<Client>();
        let c = Client::new(ClientConfig {
            credentials: Credentials::Static {
                username: "u".into(),
                password: "hidden-pw".into(),
            },
            ..ClientConfig::default()
        })
        .unwrap();
        assert!(!format!("{c:?}").contains("hidden-pw"));
    }

    #[test]
    fn basic_header() {
        assert_eq!(basic("user", "pass"), "Basic dXNlcjpwYXNz");
    }
}
