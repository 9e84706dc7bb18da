//! A bearer-token server for a registry configured with `auth: token:`: a small HTTP server in
//! the test process that checks Basic credentials (GET, as Docker asks) or an OAuth2 refresh
//! token (POST), and issues RS256 JWTs for the requested scopes, signed with `openssl dgst
//! -sha256 -sign` and carrying the signing certificate in the `x5c` header.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::{Auth, Error, Result, run};

/// Who the token server accepts and what it puts in tokens.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The `service` the registry names and the tokens' audience.
    pub service: String,
    /// The tokens' issuer.
    pub issuer: String,
    /// The one user accepted with Basic auth.
    pub username: String,
    /// That user's password.
    pub password: String,
    /// The refresh token accepted by the OAuth2 `refresh_token` grant (POST).
    pub refresh_token: String,
}

/// A running token server; its thread lives as long as the test process.
pub struct TokenServer {
    url: String,
    settings: TokenSettings,
    cert: PathBuf,
    _dir: tempfile::TempDir,
    granted: Arc<Mutex<Vec<Vec<String>>>>,
}

impl TokenServer {
    /// Makes a signing key and certificate and starts serving on a free loopback port.
    pub fn start(settings: TokenSettings) -> Result<TokenServer> {
        let dir = tempfile::tempdir()?;
        let (key, x5c) = signing_cert(dir.path())?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let granted = Arc::new(Mutex::new(Vec::new()));
        let g = Arc::clone(&granted);
        let s = settings.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                answer(conn, &s, &key, &x5c, &g);
            }
        });
        Ok(TokenServer {
            url: format!("http://127.0.0.1:{port}/token"),
            settings,
            cert: dir.path().join("token.crt"),
            _dir: dir,
            granted,
        })
    }

    /// The token endpoint (the registry's `realm`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The registry settings that trust this server.
    pub fn auth(&self) -> Auth {
        Auth::Token {
            realm: self.url.clone(),
            service: self.settings.service.clone(),
            issuer: self.settings.issuer.clone(),
            rootcertbundle: self.cert.clone(),
        }
    }

    /// The scope lists of the token requests granted so far, in order.
    pub fn granted(&self) -> Vec<Vec<String>> {
        self.granted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many tokens were granted so far.
    pub fn count(&self) -> usize {
        self.granted().len()
    }
}

/// A signing key and self-signed certificate in `dir`; returns the key's path and the
/// certificate's DER in base64 (for `x5c`).
fn signing_cert(dir: &Path) -> Result<(PathBuf, String)> {
    run(Command::new("openssl").current_dir(dir).args([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "token.key",
        "-out",
        "token.crt",
        "-days",
        "2",
        "-subj",
        "/CN=plinth token signer",
    ]))?;
    let der = Command::new("openssl")
        .current_dir(dir)
        .args(["x509", "-in", "token.crt", "-outform", "DER"])
        .output()
        .map_err(|source| Error::Spawn {
            program: "openssl".to_string(),
            source,
        })?;
    if !der.status.success() {
        return Err(Error::Failed {
            command: "openssl x509 -outform DER".to_string(),
            status: der.status,
            stderr: String::from_utf8_lossy(&der.stderr).into_owned(),
        });
    }
    Ok((dir.join("token.key"), STANDARD.encode(der.stdout)))
}

/// An RS256 signature of `input` with `key`, base64url.
fn sign(key: &Path, input: &str) -> Result<String> {
    let dir = tempfile::tempdir()?;
    let f = dir.path().join("in");
    fs_err::write(&f, input)?;
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .arg(&f)
        .output()
        .map_err(|source| Error::Spawn {
            program: "openssl".to_string(),
            source,
        })?;
    if !out.status.success() {
        return Err(Error::Failed {
            command: "openssl dgst -sha256 -sign".to_string(),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(URL_SAFE_NO_PAD.encode(out.stdout))
}

/// Decodes `application/x-www-form-urlencoded` pairs (a query string or a form body).
fn form_pairs(s: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    match std::str::from_utf8(&b[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        Some(v) => {
                            out.push(v);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Reads one request from `s` and answers it.
fn answer(
    mut s: TcpStream,
    settings: &TokenSettings,
    key: &Path,
    x5c: &str,
    granted: &Mutex<Vec<Vec<String>>>,
) {
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let head_end = req
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(req.len(), |p| p + 4);
    let head = String::from_utf8_lossy(&req[..head_end]).into_owned();
    let body_len: usize = head
        .to_lowercase()
        .lines()
        .find_map(|l| {
            l.strip_prefix("content-length:")
                .map(|v| v.trim().to_string())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while req.len() < head_end + body_len {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let body = String::from_utf8_lossy(&req[head_end..]).into_owned();
    let target = head.split_whitespace().nth(1).unwrap_or("/");
    let post = head.starts_with("POST ");
    // GET: parameters in the query; POST (OAuth2 refresh token): in the form body.
    let pairs = if post {
        form_pairs(&body)
    } else {
        form_pairs(target.split_once('?').map_or("", |(_, q)| q))
    };
    let param = |name: &str| {
        pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    let scopes: Vec<String> = if post {
        param("scope")
            .iter()
            .flat_map(|s| s.split(' ').map(str::to_string).collect::<Vec<_>>())
            .collect()
    } else {
        param("scope")
    };
    let service = param("service").into_iter().next();
    let expected = format!(
        "authorization: basic {}",
        STANDARD.encode(format!("{}:{}", settings.username, settings.password))
    )
    .to_lowercase();
    let authorized = if post {
        param("grant_type") == ["refresh_token"]
            && param("refresh_token") == [settings.refresh_token.clone()]
    } else {
        head.to_lowercase().lines().any(|l| l.trim() == expected)
    };
    let response = if !authorized || service.as_deref() != Some(settings.service.as_str()) {
        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
    } else {
        match token(settings, key, x5c, &scopes, post) {
            Ok(body) => {
                granted
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(scopes);
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            }
            Err(e) => {
                let msg = e.to_string();
                format!(
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
                    msg.len()
                )
            }
        }
    };
    let _ = s.write_all(response.as_bytes());
}

/// The JSON body of a granted token request.
fn token(
    settings: &TokenSettings,
    key: &Path,
    x5c: &str,
    scopes: &[String],
    post: bool,
) -> Result<String> {
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|s| {
            let mut p = s.splitn(3, ':');
            let (t, n, a) = (p.next()?, p.next()?, p.next()?);
            Some(serde_json::json!({
                "type": t, "name": n, "actions": a.split(',').collect::<Vec<_>>()
            }))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": settings.issuer, "sub": settings.username, "aud": settings.service,
        "exp": now + 300, "nbf": now.saturating_sub(10), "iat": now,
        "jti": format!("{now}-{}", scopes.len()),
        "access": access,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let jwt = format!("{input}.{}", sign(key, &input)?);
    let key_name = if post { "access_token" } else { "token" };
    Ok(serde_json::json!({key_name: jwt, "expires_in": 300}).to_string())
}

#[cfg(test)]
mod tests {
    use super::form_pairs;

    #[test]
    fn form_decoding() {
        assert_eq!(
            form_pairs("scope=repository%3Aa%2Fb%3Apull%2Cpush&service=svc+1&x&bad=%zz%4"),
            [
                ("scope".to_string(), "repository:a/b:pull,push".to_string()),
                ("service".to_string(), "svc 1".to_string()),
                ("x".to_string(), String::new()),
                ("bad".to_string(), "%zz%4".to_string()),
            ]
        );
    }
}
