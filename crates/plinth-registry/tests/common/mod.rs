//! Test fixture: a real registry (Debian's `docker-registry`, distribution 2.8) started on a free
//! loopback port, optionally with htpasswd auth and TLS from a throwaway CA; killed on drop.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use plinth_registry::{
    BytesSource, Client, ClientConfig, Credentials, Digest, RepoRef, RetryPolicy,
};

pub struct Options {
    pub htpasswd: Option<(&'static str, &'static str)>,
    pub tls: bool,
}

pub struct Registry {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub host: String,
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A CA and a server certificate for 127.0.0.1/localhost signed by it, in `dir`.
pub fn make_certs(dir: &Path) {
    let o = |args: &[&str]| {
        run(Command::new("openssl").args(args).current_dir(dir));
    };
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
    ]);
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
    ]);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
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
    ]);
}

impl Registry {
    pub fn start(opts: Options) -> Registry {
        Self::start_with(opts, "")
    }

    /// Starts the registry; `extra_auth` is YAML put under `auth:` (e.g. a token section).
    pub fn start_with(opts: Options, extra_auth: &str) -> Registry {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let d = dir.path();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: plinth-test-secret\n",
            d.join("data").display()
        );
        if opts.tls {
            make_certs(d);
            cfg += &format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                d.join("server.crt").display(),
                d.join("server.key").display()
            );
        }
        if let Some((user, pass)) = opts.htpasswd {
            let line = run(Command::new("htpasswd").args(["-Bbn", user, pass]));
            std::fs::write(d.join("htpasswd"), line.trim()).expect("htpasswd");
            cfg += &format!(
                "auth:\n  htpasswd:\n    realm: plinth-test\n    path: {}\n",
                d.join("htpasswd").display()
            );
        } else if !extra_auth.is_empty() {
            cfg += &format!("auth:\n{extra_auth}");
        }
        std::fs::write(d.join("config.yml"), cfg).expect("config");
        let log = std::fs::File::create(d.join("registry.log")).expect("log");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("docker-registry must be installed (scripts/install-deps.sh)");
        let reg = Registry {
            child,
            dir,
            port,
            host: format!("127.0.0.1:{port}"),
        };
        reg.wait_ready();
        reg
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                // Any answer (even a TLS alert) means the server is serving.
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut b = [0u8; 16];
                if matches!(s.read(&mut b), Ok(n) if n > 0) {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("registry did not start: {}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A certs.d directory holding this registry's CA under `HOST:PORT/ca.crt`.
    pub fn certs_dir(&self) -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tempdir");
        let sub = d.path().join(&self.host);
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::copy(self.ca(), sub.join("ca.crt")).expect("copy ca");
        d
    }

    pub fn repo(&self, name: &str) -> RepoRef {
        RepoRef::new(self.host.clone(), name)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Client settings for tests: no system certs dir, fast retries.
pub fn config(credentials: Credentials, certs_dir: Option<PathBuf>) -> ClientConfig {
    ClientConfig {
        certs_dir,
        credentials,
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
        },
        timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    }
}

/// A small image: config blob, one layer blob, and an OCI manifest referencing them.
pub struct Image {
    pub config: Vec<u8>,
    pub layer: Vec<u8>,
    pub manifest: Vec<u8>,
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

impl Image {
    pub fn new(seed: &str) -> Image {
        // A real (uncompressed) tar layer with one file.
        let mut tar = tar::Builder::new(Vec::new());
        let data = format!("hello from {seed}\n").repeat(50);
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        tar.append_data(&mut h, "hello.txt", data.as_bytes())
            .expect("tar");
        let layer = tar.into_inner().expect("tar");
        let diff_id = Digest::of(&layer);
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["SEED={seed}"]}},"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#
        )
        .into_bytes();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
            Digest::of(&config),
            config.len(),
            diff_id,
            layer.len()
        )
        .into_bytes();
        Image {
            config,
            layer,
            manifest,
        }
    }

    pub fn blobs(&self) -> [(&[u8], Digest); 2] {
        [
            (&self.config, Digest::of(&self.config)),
            (&self.layer, Digest::of(&self.layer)),
        ]
    }

    /// Pushes blobs and manifest; returns the manifest digest.
    pub fn push(&self, client: &Client, repo: &RepoRef, tag: &str) -> Digest {
        for (bytes, digest) in self.blobs() {
            client
                .push_blob(
                    repo,
                    &digest,
                    bytes.len() as u64,
                    &BytesSource(bytes.into()),
                    None,
                )
                .expect("push blob");
        }
        client
            .put_manifest(repo, tag, &self.manifest, OCI_MANIFEST)
            .expect("put manifest")
    }
}

/// `skopeo inspect` of an image on the registry; returns the manifest digest it reports.
pub fn skopeo_digest(reference: &str, extra: &[&str]) -> String {
    let out = run(Command::new("skopeo")
        .arg("inspect")
        .args(extra)
        .arg(format!("docker://{reference}")));
    let v: serde_json::Value = serde_json::from_str(&out).expect("skopeo json");
    v["Digest"].as_str().expect("Digest").to_string()
}

/// What the fault proxy does to the connections it spoils.
#[derive(Clone, Copy)]
pub enum Fault {
    /// Answer with this status line (e.g. `503 Service Unavailable`) and close.
    Status(&'static str),
    /// Close the connection without answering.
    Drop,
}

/// A TCP proxy in front of a real registry that spoils the first `failures` connections carrying
/// an HTTP request, then forwards everything.
pub struct FaultProxy {
    pub host: String,
    pub spoiled: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FaultProxy {
    pub fn start(target_port: u16, failures: usize, fault: Fault) -> FaultProxy {
        Self::start_for(target_port, failures, fault, "")
    }

    /// Like `start`, but spoils only requests whose line starts with `method` (e.g. `"PUT "`),
    /// and makes every forwarded request use its own connection (`Connection: close`) so that
    /// each request is seen.
    pub fn start_for(
        target_port: u16,
        failures: usize,
        fault: Fault,
        method: &'static str,
    ) -> FaultProxy {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let spoiled = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&spoiled);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut s) = conn else { continue };
                let count = Arc::clone(&count);
                std::thread::spawn(move || {
                    let mut first = vec![0u8; 64 * 1024];
                    let Ok(n) = s.read(&mut first) else { return };
                    let is_http = first[..n].first().is_some_and(u8::is_ascii_uppercase);
                    if is_http
                        && first[..n].starts_with(method.as_bytes())
                        && count
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                                (c < failures).then_some(c + 1)
                            })
                            .is_ok()
                    {
                        if let Fault::Status(line) = fault {
                            let _ = write!(
                                s,
                                "HTTP/1.1 {line}\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            );
                        }
                        let _ = s.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                    let Ok(mut up) = TcpStream::connect(("127.0.0.1", target_port)) else {
                        return;
                    };
                    let mut head = first[..n].to_vec();
                    if is_http
                        && !method.is_empty()
                        && let Some(eol) = head.windows(2).position(|w| w == b"\r\n")
                    {
                        head.splice(eol + 2..eol + 2, b"Connection: close\r\n".iter().copied());
                    }
                    if up.write_all(&head).is_err() {
                        return;
                    }
                    let (Ok(mut s2), Ok(mut up2)) = (s.try_clone(), up.try_clone()) else {
                        return;
                    };
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut s2, &mut up2);
                        let _ = up2.shutdown(std::net::Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut up, &mut s);
                    let _ = s.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        FaultProxy {
            host: format!("127.0.0.1:{port}"),
            spoiled,
        }
    }

    pub fn spoiled(&self) -> usize {
        self.spoiled.load(std::sync::atomic::Ordering::SeqCst)
    }
}
