//! Bearer-token auth against a real registry configured with `auth.token`: the token server is a
//! small HTTP server in this test that checks Basic credentials and issues RS256 JWTs (signed with
//! `openssl dgst -sha256 -sign`, certificate in the `x5c` header) for the requested scopes.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{Image, Options, Registry, config, run};
use plinth_registry::{BlobPush, BytesSource, Client, Credentials, Digest, RegistryError, RepoRef};

const SERVICE: &str = "plinth-test-registry";
const ISSUER: &str = "plinth-test-issuer";
const USER: &str = "tokuser";
const PASS: &str = "t0ken-pw";
const REFRESH_TOKEN: &str = "refresh-s3cret";

struct TokenServer {
    url: String,
    /// The scope lists of the token requests that were granted.
    granted: Arc<Mutex<Vec<Vec<String>>>>,
}

fn signing_cert(dir: &Path) -> (PathBuf, String) {
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
    ]));
    let der = Command::new("openssl")
        .current_dir(dir)
        .args(["x509", "-in", "token.crt", "-outform", "DER"])
        .output()
        .unwrap();
    assert!(der.status.success());
    (dir.join("token.key"), STANDARD.encode(der.stdout))
}

fn sign(key: &Path, input: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("in");
    std::fs::write(&f, input).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    URL_SAFE_NO_PAD.encode(out.stdout)
}

impl TokenServer {
    fn start(dir: &Path) -> TokenServer {
        let (key, x5c) = signing_cert(dir);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let granted = Arc::new(Mutex::new(Vec::new()));
        let g = Arc::clone(&granted);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut s) = conn else { continue };
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
                let head = String::from_utf8_lossy(&req[..head_end]).to_lowercase();
                let body_len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                while req.len() < head_end + body_len {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let body = String::from_utf8_lossy(&req[head_end..]).to_string();
                let req = String::from_utf8_lossy(&req[..head_end]).to_string();
                let target = req.split_whitespace().nth(1).unwrap_or("/").to_string();
                let post = req.starts_with("POST ");
                // GET: parameters in the query; POST (OAuth2 refresh token): in the form body.
                let url = if post {
                    reqwest::Url::parse(&format!("http://x/?{body}")).unwrap()
                } else {
                    reqwest::Url::parse(&format!("http://x{target}")).unwrap()
                };
                let param = |name: &str| {
                    url.query_pairs()
                        .filter(|(k, _)| k == name)
                        .map(|(_, v)| v.to_string())
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
                    STANDARD.encode(format!("{USER}:{PASS}"))
                )
                .to_lowercase();
                let authorized = if post {
                    param("grant_type") == ["refresh_token"]
                        && param("refresh_token") == [REFRESH_TOKEN]
                } else {
                    req.to_lowercase().lines().any(|l| l.trim() == expected)
                };
                let response = if !authorized || service.as_deref() != Some(SERVICE) {
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string()
                } else {
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
                        .unwrap()
                        .as_secs();
                    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
                    let claims = serde_json::json!({
                        "iss": ISSUER, "sub": USER, "aud": SERVICE, "exp": now + 300,
                        "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", scopes.len()),
                        "access": access,
                    });
                    let input = format!(
                        "{}.{}",
                        URL_SAFE_NO_PAD.encode(header.to_string()),
                        URL_SAFE_NO_PAD.encode(claims.to_string())
                    );
                    let jwt = format!("{input}.{}", sign(&key, &input));
                    g.lock().unwrap().push(scopes);
                    let key_name = if post { "access_token" } else { "token" };
                    let body = serde_json::json!({key_name: jwt, "expires_in": 300}).to_string();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = s.write_all(response.as_bytes());
            }
        });
        TokenServer {
            url: format!("http://127.0.0.1:{port}/token"),
            granted,
        }
    }

    fn count(&self) -> usize {
        self.granted.lock().unwrap().len()
    }
}

fn start() -> (Registry, TokenServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let ts = TokenServer::start(dir.path());
    let auth = format!(
        "  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
        ts.url,
        dir.path().join("token.crt").display()
    );
    let reg = Registry::start_with(
        Options {
            htpasswd: None,
            tls: false,
        },
        &auth,
    );
    (reg, ts, dir)
}

fn creds(password: &str) -> Credentials {
    Credentials::Static {
        username: USER.into(),
        password: password.into(),
    }
}

#[test]
fn bearer_tokens_are_fetched_per_scope_and_cached() {
    let (reg, ts, _dir) = start();
    let client = Client::new(config(creds(PASS), None)).unwrap();
    let repo = reg.repo("tok/app");
    let img = Image::new("bearer");
    let d = img.push(&client, &repo, "v1");
    let after_push = ts.count();
    assert!(after_push >= 1, "a token was fetched");
    let granted = ts.granted.lock().unwrap().clone();
    assert!(
        granted
            .iter()
            .any(|s| s == &["repository:tok/app:pull,push".to_string()]),
        "{granted:?}"
    );

    // Pulls reuse the cached pull token after the first one.
    assert_eq!(client.get_manifest(&repo, "v1").unwrap().digest, d);
    let after_first_pull = ts.count();
    let mut out = Vec::new();
    client
        .get_blob(&repo, &Digest::of(&img.layer), &mut out)
        .unwrap();
    assert_eq!(out, img.layer);
    assert_eq!(client.list_tags(&repo).unwrap(), ["v1"]);
    assert_eq!(ts.count(), after_first_pull, "tokens are cached per scope");

    // A cross-repository mount asks for both scopes in one token.
    let other = reg.repo("tok/other");
    let layer = Digest::of(&img.layer);
    let r = client
        .push_blob(
            &other,
            &layer,
            img.layer.len() as u64,
            &BytesSource(img.layer.as_slice().into()),
            Some(&repo),
        )
        .unwrap();
    assert_eq!(r, BlobPush::Mounted);
    let granted = ts.granted.lock().unwrap().clone();
    assert!(
        granted.iter().any(|s| s.len() == 2
            && s.contains(&"repository:tok/other:pull,push".to_string())
            && s.contains(&"repository:tok/app:pull".to_string())),
        "{granted:?}"
    );

    // Without a valid token the registry refuses, so the tokens above were really used.
    let anon = Client::new(config(Credentials::Anonymous, None)).unwrap();
    let e = anon.get_manifest(&repo, "v1").unwrap_err();
    assert!(matches!(e, RegistryError::Unauthorized { .. }), "{e:?}");
}

#[test]
fn token_server_refusal_is_reported_without_secrets() {
    let (reg, _ts, _dir) = start();
    let client = Client::new(config(creds("bad-T0ken-pw"), None)).unwrap();
    let e = client
        .get_manifest(&RepoRef::new(reg.host.clone(), "tok/app"), "v1")
        .unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(matches!(e, RegistryError::Unauthorized { .. }), "{text}");
    assert!(text.contains("token server"), "{text}");
    assert!(!text.contains("bad-T0ken-pw"), "{text}");
}

#[test]
fn identity_tokens_use_the_oauth2_refresh_grant() {
    let (reg, ts, dir) = start();
    let cfg = dir.path().join("config.json");
    let write = |token: &str| {
        std::fs::write(
            &cfg,
            format!(
                r#"{{"auths":{{"{}":{{"identitytoken":"{token}"}}}}}}"#,
                reg.host
            ),
        )
        .unwrap()
    };
    write(REFRESH_TOKEN);
    let client = Client::new(config(
        Credentials::DockerConfig {
            path: Some(cfg.clone()),
        },
        None,
    ))
    .unwrap();
    let repo = reg.repo("oauth/app");
    let d = Image::new("oauth").push(&client, &repo, "v1");
    assert_eq!(client.get_manifest(&repo, "v1").unwrap().digest, d);
    assert!(ts.count() >= 1);

    write("not-the-refresh-token");
    let client = Client::new(config(Credentials::DockerConfig { path: Some(cfg) }, None)).unwrap();
    let e = client.get_manifest(&repo, "v1").unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(matches!(e, RegistryError::Unauthorized { .. }), "{text}");
    assert!(!text.contains("not-the-refresh-token"), "{text}");
}
