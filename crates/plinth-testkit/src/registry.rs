//! The registry fixture: Debian's `docker-registry` (distribution 2.8) on a free loopback port,
//! configured for plain HTTP, htpasswd Basic auth, TLS from a throwaway CA, or bearer tokens; and
//! a small raw HTTP client to ask it directly what it holds.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::{Error, Result, free_port, run};

/// How long a registry may take to start serving.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The media types asked for when reading manifests directly.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Who may use the registry.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// Everyone, no credentials.
    #[default]
    Anonymous,
    /// HTTP Basic auth against an htpasswd file holding this one user.
    Htpasswd {
        /// The user.
        username: String,
        /// Its password.
        password: String,
    },
    /// Bearer tokens from a token server (see [`crate::TokenServer::auth`]).
    Token {
        /// The token endpoint URL.
        realm: String,
        /// The service name the tokens are for (their audience).
        service: String,
        /// The issuer the tokens must name.
        issuer: String,
        /// The certificate the tokens are signed with.
        rootcertbundle: PathBuf,
    },
}

/// Whether the registry speaks TLS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tls {
    /// Plain HTTP.
    #[default]
    Off,
    /// HTTPS with a server certificate for 127.0.0.1/localhost from a throwaway CA
    /// ([`Registry::ca`], [`Registry::certs_dir`]).
    SelfSignedCa,
}

/// How to start a [`Registry`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Who may use the registry.
    pub auth: Auth,
    /// Whether it speaks TLS.
    pub tls: Tls,
}

impl Options {
    /// Plain HTTP, anonymous.
    pub fn plain() -> Options {
        Options::default()
    }

    /// htpasswd Basic auth for `username`/`password`, plain HTTP.
    pub fn htpasswd(username: &str, password: &str) -> Options {
        Options {
            auth: Auth::Htpasswd {
                username: username.to_string(),
                password: password.to_string(),
            },
            tls: Tls::Off,
        }
    }

    /// The same, over TLS from a throwaway CA.
    pub fn with_tls(mut self) -> Options {
        self.tls = Tls::SelfSignedCa;
        self
    }
}

/// A running registry; killed on drop.
pub struct Registry {
    child: Child,
    /// Holds the config, the storage (`data/`), the log and any certificates.
    pub dir: tempfile::TempDir,
    /// The registry's port on 127.0.0.1.
    pub port: u16,
    /// `127.0.0.1:PORT`.
    pub host: String,
    tls: Tls,
    /// The `Authorization` header value for direct queries (htpasswd registries).
    basic: Option<String>,
}

/// Writes a CA (`ca.crt`, `ca.key`) and a server certificate for 127.0.0.1/localhost signed by
/// it (`server.crt`, `server.key`) into `dir`, with `openssl`.
pub fn make_certs(dir: &Path) -> Result<()> {
    let o = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(dir)).map(drop);
    o(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=plinth test CA",
    ])?;
    o(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ])?;
    fs_err::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )?;
    o(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ])
}

/// One direct answer of the registry.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Registry {
    /// Starts a registry as `opts` say and waits until it serves.
    pub fn start(opts: Options) -> Result<Registry> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let d = dir.path();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: plinth-test-secret\n",
            d.join("data").display()
        );
        if opts.tls == Tls::SelfSignedCa {
            make_certs(d)?;
            cfg += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                d.join("server.crt").display(),
                d.join("server.key").display()
            );
        }
        let mut basic = None;
        match &opts.auth {
            Auth::Anonymous => {}
            Auth::Htpasswd { username, password } => {
                let line = run(Command::new("htpasswd").args(["-Bbn", username, password]))?;
                fs_err::write(d.join("htpasswd"), line.trim())?;
                cfg += &format!(
                    "auth:\n  htpasswd:\n    realm: plinth-test\n    path: {}\n",
                    d.join("htpasswd").display()
                );
                basic = Some(format!(
                    "Basic {}",
                    STANDARD.encode(format!("{username}:{password}"))
                ));
            }
            Auth::Token {
                realm,
                service,
                issuer,
                rootcertbundle,
            } => {
                cfg += &format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                    rootcertbundle.display()
                );
            }
        }
        fs_err::write(d.join("config.yml"), cfg)?;
        let log = fs_err::File::create(d.join("registry.log"))?.into_parts().0;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|source| Error::Spawn {
                program: "docker-registry".to_string(),
                source,
            })?;
        let reg = Registry {
            child,
            dir,
            port,
            host: format!("127.0.0.1:{port}"),
            tls: opts.tls,
            basic,
        };
        reg.wait_ready()?;
        Ok(reg)
    }

    /// A plain-HTTP anonymous registry.
    pub fn plain() -> Result<Registry> {
        Registry::start(Options::plain())
    }

    fn wait_ready(&self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                // Any answer (even a TLS alert) means the server is serving.
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut b = [0u8; 16];
                if matches!(s.read(&mut b), Ok(n) if n > 0) {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(Error::NotReady {
            host: self.host.clone(),
            waited: START_TIMEOUT,
            log: self.log(),
        })
    }

    /// What the registry logged so far (empty when the log cannot be read).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The CA certificate of a TLS registry.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A new directory in Docker's `certs.d` layout holding this registry's CA as
    /// `HOST:PORT/ca.crt` (for `--cert-dir`, or `certs_dir` of the client).
    pub fn certs_dir(&self) -> Result<tempfile::TempDir> {
        let d = tempfile::tempdir()?;
        let sub = d.path().join(&self.host);
        fs_err::create_dir_all(&sub)?;
        fs_err::copy(self.ca(), sub.join("ca.crt"))?;
        Ok(d)
    }

    /// One request straight to the registry (plain HTTP only, HTTP/1.0 so the body ends with the
    /// connection), with the htpasswd credentials when there are any.
    fn request(&self, method: &str, path: &str) -> Result<Answer> {
        let what = format!("{method} {path} on {}", self.host);
        if self.tls != Tls::Off {
            return Err(Error::Unexpected {
                what,
                message: "direct queries speak plain HTTP only".to_string(),
            });
        }
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut req = format!(
            "{method} {path} HTTP/1.0\r\nHost: {}\r\nAccept: {MANIFEST_ACCEPT}\r\n",
            self.host
        );
        if let Some(b) = &self.basic {
            req += &format!("Authorization: {b}\r\n");
        }
        req += "\r\n";
        s.write_all(req.as_bytes())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let head_end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| Error::Unexpected {
                what: what.clone(),
                message: format!("no HTTP head in {:?}", String::from_utf8_lossy(&raw)),
            })?;
        let head = String::from_utf8_lossy(&raw[..head_end]);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Unexpected {
                what,
                message: format!("no status in {head:?}"),
            })?;
        Ok(Answer {
            status,
            body: raw[head_end + 4..].to_vec(),
        })
    }

    /// The HTTP status of `HEAD /v2/REPO/blobs/DIGEST`, asked directly (200: the blob is there).
    pub fn blob_status(&self, repo: &str, digest: &str) -> Result<u16> {
        Ok(self
            .request("HEAD", &format!("/v2/{repo}/blobs/{digest}"))?
            .status)
    }

    /// The manifest bytes of `REPO:REFERENCE`, asked directly; `None` when it does not exist.
    pub fn manifest(&self, repo: &str, reference: &str) -> Result<Option<Vec<u8>>> {
        let a = self.request("GET", &format!("/v2/{repo}/manifests/{reference}"))?;
        match a.status {
            200 => Ok(Some(a.body)),
            404 => Ok(None),
            s => Err(Error::Unexpected {
                what: format!("GET manifest {repo}:{reference} on {}", self.host),
                message: format!("status {s}: {}", String::from_utf8_lossy(&a.body)),
            }),
        }
    }

    /// Whether `REPO:REFERENCE` exists, and if so the digests its manifest (and, for an index,
    /// its child manifests) names that the registry does not have: `None` when there is no such
    /// manifest, `Some(empty)` when it is complete.
    pub fn missing_blobs(&self, repo: &str, reference: &str) -> Result<Option<Vec<String>>> {
        let Some(bytes) = self.manifest(repo, reference)? else {
            return Ok(None);
        };
        let mut missing = Vec::new();
        self.collect_missing(repo, &bytes, &mut missing, 0)?;
        Ok(Some(missing))
    }

    fn collect_missing(
        &self,
        repo: &str,
        bytes: &[u8],
        missing: &mut Vec<String>,
        depth: usize,
    ) -> Result<()> {
        let v: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| Error::Unexpected {
                what: format!("a manifest of {repo} on {}", self.host),
                message: e.to_string(),
            })?;
        let digests = |key: &str| -> Vec<String> {
            let list = match &v[key] {
                serde_json::Value::Array(a) => a.clone(),
                serde_json::Value::Object(_) => vec![v[key].clone()],
                _ => Vec::new(),
            };
            list.iter()
                .filter_map(|d| d["digest"].as_str().map(str::to_string))
                .collect()
        };
        for d in digests("config").into_iter().chain(digests("layers")) {
            if self.blob_status(repo, &d)? != 200 {
                missing.push(d);
            }
        }
        if depth < 4 {
            for d in digests("manifests") {
                match self.manifest(repo, &d)? {
                    Some(child) => self.collect_missing(repo, &child, missing, depth + 1)?,
                    None => missing.push(d),
                }
            }
        }
        Ok(())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
