//! `plinth push`, `pull` and `copy` against a real registry (distribution's `docker-registry`),
//! cross-checked with skopeo; `--immutable` refusing to move a tag; a wrong password's error.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Env, tool};

/// A registry on a free loopback port (plain HTTP), optionally with htpasswd auth; killed on drop.
struct Registry {
    child: Child,
    _dir: tempfile::TempDir,
    host: String,
}

impl Registry {
    fn start(htpasswd: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path();
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: plinth-test\n",
            d.join("data").display()
        );
        if let Some((user, pass)) = htpasswd {
            let line = tool("htpasswd", &["-Bbn", user, pass]);
            std::fs::write(d.join("htpasswd"), line.trim()).unwrap();
            cfg += &format!(
                "auth:\n  htpasswd:\n    realm: plinth-test\n    path: {}\n",
                d.join("htpasswd").display()
            );
        }
        std::fs::write(d.join("config.yml"), cfg).unwrap();
        let log = std::fs::File::create(d.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(d.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry must be installed (scripts/install-deps.sh)");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                if matches!(s.read(&mut [0u8; 16]), Ok(n) if n > 0) {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            child,
            _dir: dir,
            host: format!("127.0.0.1:{port}"),
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn skopeo_digest(reference: &str) -> String {
    let out = tool(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

/// The digest `plinth images --format json` shows for `name`.
fn listed_digest(env: &Env, store: &str, name: &str) -> String {
    let out = env
        .plinth(&["--store", store, "images", "--format", "json"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {}", out.stdout))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `plinth` with no Docker config of the host's (an empty DOCKER_CONFIG directory).
fn plinth(env: &Env, args: &[&str]) -> crate::support::Run {
    let cfg = env.dir.path().join("docker-config");
    std::fs::create_dir_all(&cfg).unwrap();
    env.plinth_env(args, &[("DOCKER_CONFIG", cfg.to_str().unwrap())])
}

#[test]
fn push_pull_copy_keep_the_digest() {
    let reg = Registry::start(None);
    let env = Env::new();
    env.write("hello.txt", "hello registry\n");
    env.build(
        "FROM scratch\nCOPY hello.txt /hello.txt\n",
        &["-t", "img:1"],
    );
    let store = env.store();
    let digest = listed_digest(&env, store.to_str().unwrap(), "img:1");

    let dest = format!("{}/t/img:1", reg.host);
    let pushed = plinth(&env, &["push", "img:1", &dest]).ok();
    assert_eq!(pushed.stdout.trim(), digest);
    assert!(
        pushed.stderr.contains("blobs uploaded"),
        "{}",
        pushed.stderr
    );
    assert_eq!(skopeo_digest(&dest), digest);

    let other = env.dir.path().join("other-store");
    let other = other.to_str().unwrap();
    let pulled = plinth(&env, &["--store", other, "pull", &dest]).ok();
    assert_eq!(pulled.stdout.trim(), digest);
    assert_eq!(listed_digest(&env, other, &dest), digest);

    let copy = format!("{}/t/copy:2", reg.host);
    let copied = plinth(&env, &["copy", &dest, &copy]).ok();
    assert_eq!(copied.stdout.trim(), digest);
    assert_eq!(skopeo_digest(&copy), digest);
}

#[test]
fn immutable_push_refuses_to_move_a_tag() {
    let reg = Registry::start(None);
    let env = Env::new();
    env.write("a.txt", "first\n");
    env.build("FROM scratch\nCOPY a.txt /a.txt\n", &["-t", "one:1"]);
    env.write("a.txt", "second\n");
    env.build("FROM scratch\nCOPY a.txt /a.txt\n", &["-t", "two:1"]);
    let dest = format!("{}/t/rel:1.0.0", reg.host);
    let first = plinth(&env, &["push", "--immutable", "one:1", &dest]).ok();
    // The same image again is allowed.
    plinth(&env, &["push", "--immutable", "one:1", &dest]).ok();

    let run = plinth(&env, &["push", "--immutable", "two:1", &dest]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("tag \"1.0.0\" must not move"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(first.stdout.trim()), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert_eq!(skopeo_digest(&dest), first.stdout.trim());
}

#[test]
fn a_wrong_password_is_reported_without_it() {
    let reg = Registry::start(Some(("alice", "right-password")));
    let env = Env::new();
    env.write("a.txt", "auth\n");
    env.build("FROM scratch\nCOPY a.txt /a.txt\n", &["-t", "auth:1"]);
    let dest = format!("{}/t/auth:1", reg.host);
    let run = plinth(
        &env,
        &["push", "--creds", "alice:Wr0ng-S3cret", "auth:1", &dest],
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("authentication failed"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Wr0ng-S3cret"), "{}", run.stderr);
    assert!(!run.stdout.contains("Wr0ng-S3cret"));

    // The right password works.
    let ok = plinth(
        &env,
        &["push", "--creds", "alice:right-password", "auth:1", &dest],
    )
    .ok();
    assert!(ok.stdout.trim().starts_with("sha256:"));

    // A malformed --creds is a usage error that does not echo the value.
    let bad = plinth(&env, &["push", "--creds", "S3cretOnly", "auth:1", &dest]);
    assert_eq!(bad.status, 2);
    assert!(!bad.stderr.contains("S3cretOnly"), "{}", bad.stderr);
}
