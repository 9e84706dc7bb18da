//! Registry authentication, without any IO: parsing `WWW-Authenticate` challenges, building token
//! scopes (`repository:NAME:pull,push`), parsing token-server responses and caching tokens by
//! (host, scope) until they expire. The client in `client.rs` drives these pieces over HTTP.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One authentication challenge from a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lowercased (`basic`, `bearer`, ...).
    pub scheme: String,
    /// The auth-params, names lowercased, values unquoted.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of a parameter (name compared case-insensitively).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a `WWW-Authenticate` header value into its challenges (RFC 7235: a comma-separated list
/// of `scheme [token68 | param=value, ...]`, values possibly quoted with `\` escapes). Malformed
/// pieces are skipped rather than failing the whole header.
pub fn parse_www_authenticate(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    loop {
        p.skip_ws_commas();
        if p.eof() {
            break;
        }
        let Some(word) = p.token() else {
            // Unparseable byte: skip it.
            p.i += 1;
            continue;
        };
        p.skip_ws();
        if p.peek() == Some(b'=') {
            // `name=value`: a parameter of the current challenge.
            p.i += 1;
            p.skip_ws();
            let value = p.value();
            if let Some(c) = out.last_mut() {
                c.params.push((word.to_ascii_lowercase(), value));
            }
        } else {
            out.push(Challenge {
                scheme: word.to_ascii_lowercase(),
                params: Vec::new(),
            });
        }
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn skip_ws_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }
    /// An RFC 7230 token (letters, digits and `!#$%&'*+-.^_`|~`), plus `/` and a trailing `=`
    /// run is not included (token68 padding is only seen in values).
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/".contains(&b) {
                self.i += 1;
            } else {
                break;
            }
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    fn value(&mut self) -> String {
        if self.peek() == Some(b'"') {
            self.i += 1;
            let mut v = Vec::new();
            while let Some(b) = self.peek() {
                self.i += 1;
                match b {
                    b'\\' => {
                        if let Some(n) = self.peek() {
                            v.push(n);
                            self.i += 1;
                        }
                    }
                    b'"' => break,
                    _ => v.push(b),
                }
            }
            String::from_utf8_lossy(&v).into_owned()
        } else {
            let start = self.i;
            while let Some(b) = self.peek() {
                if b == b',' || b == b' ' || b == b'\t' {
                    break;
                }
                self.i += 1;
            }
            String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
        }
    }
}

/// What a token must allow on a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    Pull,
    Push,
    PullPush,
}

impl Access {
    fn actions(self) -> &'static str {
        match self {
            Access::Pull => "pull",
            Access::Push => "push",
            Access::PullPush => "pull,push",
        }
    }
}

/// A resource scope of a token request, e.g. `repository:team/app:pull,push`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope(String);

impl Scope {
    /// The scope of a repository with the given access.
    pub fn repository(name: &str, access: Access) -> Scope {
        Scope(format!("repository:{name}:{}", access.actions()))
    }
    /// A scope string as the registry gave it (e.g. in a challenge's `scope` parameter).
    pub fn raw(s: &str) -> Scope {
        Scope(s.to_string())
    }
    /// The `registry:catalog:*` scope.
    pub fn catalog() -> Scope {
        Scope("registry:catalog:*".to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The default lifetime of a token whose response has no `expires_in` (the distribution spec says 60s).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// A bearer token from a token server.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub token: String,
    /// How long the token is valid from when it was received.
    pub expires_in: Duration,
    /// The `issued_at` field as given (RFC 3339), informative only: expiry is measured on the
    /// local monotonic clock from receipt, so clock skew with the token server does not matter.
    pub issued_at: Option<String>,
    /// An OAuth2 refresh token, if the server sent one.
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("issued_at", &self.issued_at)
            .finish_non_exhaustive()
    }
}

/// Why a token response cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token response is not valid JSON: {0}")]
    Json(String),
    #[error("token response has neither \"token\" nor \"access_token\"")]
    Missing,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<i64>,
    issued_at: Option<String>,
    refresh_token: Option<String>,
}

/// Parses a token-server response (the Docker token spec: `token`, or the OAuth2 `access_token`,
/// optional `expires_in` seconds, `issued_at`, `refresh_token`). Non-positive or missing lifetimes
/// get [`DEFAULT_TOKEN_LIFETIME`]. The error never contains the response body (it holds secrets).
pub fn parse_token_response(body: &[u8]) -> Result<Token, TokenError> {
    let r: TokenResponse = serde_json::from_slice(body)
        .map_err(|e| TokenError::Json(format!("line {} column {}", e.line(), e.column())))?;
    let token = r
        .token
        .filter(|t| !t.is_empty())
        .or(r.access_token.filter(|t| !t.is_empty()))
        .ok_or(TokenError::Missing)?;
    let expires_in = match r.expires_in {
        Some(s) if s > 0 => Duration::from_secs(s.unsigned_abs()),
        _ => DEFAULT_TOKEN_LIFETIME,
    };
    Ok(Token {
        token,
        expires_in,
        issued_at: r.issued_at,
        refresh_token: r.refresh_token,
    })
}

/// Tokens cached by (host, scopes), valid until shortly before they expire.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: HashMap<(String, String), (String, Instant)>,
}

/// A token is dropped this long before its expiry, so it does not expire in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

impl TokenCache {
    /// The cache key of a scope list (order-insensitive).
    fn key(host: &str, scopes: &[Scope]) -> (String, String) {
        let mut s: Vec<&str> = scopes.iter().map(Scope::as_str).collect();
        s.sort_unstable();
        s.dedup();
        (host.to_string(), s.join(" "))
    }

    /// Stores a token received at `now`.
    pub fn insert(&mut self, host: &str, scopes: &[Scope], token: &Token, now: Instant) {
        let life = token
            .expires_in
            .saturating_sub(EXPIRY_MARGIN.min(token.expires_in / 2));
        self.entries
            .insert(Self::key(host, scopes), (token.token.clone(), now + life));
    }

    /// The cached token for these scopes if it is still valid at `now`; expired ones are removed.
    pub fn get(&mut self, host: &str, scopes: &[Scope], now: Instant) -> Option<String> {
        let key = Self::key(host, scopes);
        match self.entries.get(&key) {
            Some((t, until)) if *until > now => Some(t.clone()),
            Some(_) => {
                self.entries.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Forgets a token the registry refused.
    pub fn remove(&mut self, host: &str, scopes: &[Scope]) {
        self.entries.remove(&Self::key(host, scopes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge_with_quoted_params() {
        let c = parse_www_authenticate(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(c[0].param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("Service"), Some("registry.docker.io"));
        assert_eq!(
            c[0].param("scope"),
            Some("repository:library/alpine:pull,push")
        );
    }

    #[test]
    fn multiple_challenges_and_escapes() {
        let c = parse_www_authenticate(
            r#"Basic realm="Registry \"R\"", charset=UTF-8 , Bearer realm="https://t/x",error="invalid_token""#,
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some(r#"Registry "R""#));
        assert_eq!(c[0].param("charset"), Some("UTF-8"));
        assert_eq!(c[1].scheme, "bearer");
        assert_eq!(c[1].param("error"), Some("invalid_token"));
        assert_eq!(c[1].param("scope"), None);
    }

    #[test]
    fn garbage_does_not_panic() {
        for h in [
            "",
            ",,,",
            "=",
            "Bearer realm=\"unterminated",
            "\u{1}\u{2}",
            "Basic",
        ] {
            let c = parse_www_authenticate(h);
            assert!(c.len() <= 1, "{h:?} -> {c:?}");
        }
        assert_eq!(parse_www_authenticate("Basic")[0].scheme, "basic");
        assert_eq!(
            parse_www_authenticate("Bearer realm=\"unterminated")[0].param("realm"),
            Some("unterminated")
        );
    }

    #[test]
    fn scopes() {
        assert_eq!(
            Scope::repository("team/app", Access::PullPush).as_str(),
            "repository:team/app:pull,push"
        );
        assert_eq!(
            Scope::repository("a", Access::Pull).to_string(),
            "repository:a:pull"
        );
        assert_eq!(Scope::catalog().as_str(), "registry:catalog:*");
    }

    #[test]
    fn token_responses() {
        let t = parse_token_response(
            br#"{"token":"abc","expires_in":300,"issued_at":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(t.token, "abc");
        assert_eq!(t.expires_in, Duration::from_secs(300));
        assert_eq!(t.issued_at.as_deref(), Some("2026-01-01T00:00:00Z"));
        let t = parse_token_response(br#"{"access_token":"xyz","refresh_token":"r"}"#).unwrap();
        assert_eq!(t.token, "xyz");
        assert_eq!(t.expires_in, DEFAULT_TOKEN_LIFETIME);
        assert_eq!(t.refresh_token.as_deref(), Some("r"));
        let t =
            parse_token_response(br#"{"token":"","access_token":"y","expires_in":-5}"#).unwrap();
        assert_eq!(t.token, "y");
        assert_eq!(t.expires_in, DEFAULT_TOKEN_LIFETIME);
        assert_eq!(parse_token_response(b"{}"), Err(TokenError::Missing));
        let e = parse_token_response(br#"{"token": "secret-token-value"#).unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    #[test]
    fn token_debug_is_redacted() {
        let t = parse_token_response(br#"{"token":"s3cr3t"}"#).unwrap();
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }

    #[test]
    fn cache_by_host_and_scope_with_expiry() {
        let mut c = TokenCache::default();
        let now = Instant::now();
        let pull = [Scope::repository("a", Access::Pull)];
        let tok = Token {
            token: "t1".into(),
            expires_in: Duration::from_secs(60),
            issued_at: None,
            refresh_token: None,
        };
        c.insert("h", &pull, &tok, now);
        assert_eq!(c.get("h", &pull, now).as_deref(), Some("t1"));
        assert_eq!(c.get("other", &pull, now), None);
        assert_eq!(
            c.get("h", &[Scope::repository("a", Access::PullPush)], now),
            None
        );
        // Valid until the margin before expiry, then gone.
        assert!(c.get("h", &pull, now + Duration::from_secs(49)).is_some());
        assert_eq!(c.get("h", &pull, now + Duration::from_secs(51)), None);
        assert_eq!(c.get("h", &pull, now), None, "expired entries are removed");
        // Scope order does not matter.
        let two = [Scope::raw("x"), Scope::raw("y")];
        c.insert("h", &two, &tok, now);
        assert!(
            c.get("h", &[Scope::raw("y"), Scope::raw("x")], now)
                .is_some()
        );
        c.remove("h", &two);
        assert_eq!(c.get("h", &two, now), None);
    }
}
