//! `plinth push`, `pull` and `copy` against a real registry (distribution's `docker-registry`),
//! cross-checked with skopeo; `--immutable` refusing to move a tag; a wrong password's error.

use crate::support::Env;

/// A registry on a free loopback port (plain HTTP), optionally with htpasswd auth; killed on drop.
/// A thin wrapper of `plinth_testkit::Registry` (in `kit`) keeping the API the CLI tests use.
pub(crate) struct Registry {
    pub(crate) kit: plinth_testkit::Registry,
    pub(crate) host: String,
}

impl Registry {
    pub(crate) fn start(htpasswd: Option<(&str, &str)>) -> Registry {
        let opts = match htpasswd {
            Some((user, pass)) => plinth_testkit::Options::htpasswd(user, pass),
            None => plinth_testkit::Options::plain(),
        };
        Registry::with(opts)
    }

    /// A registry with any of the fixture's settings (TLS, token auth...).
    pub(crate) fn with(opts: plinth_testkit::Options) -> Registry {
        let kit = plinth_testkit::Registry::start(opts).unwrap_or_else(|e| panic!("{e}"));
        Registry {
            host: kit.host.clone(),
            kit,
        }
    }
}

/// The digest skopeo reads for `reference` on a plain-HTTP registry.
pub(crate) fn skopeo_digest(reference: &str) -> String {
    plinth_testkit::skopeo_digest(reference, &["--tls-verify=false"])
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The digest `plinth images --format json` shows for `name`.
pub(crate) fn listed_digest(env: &Env, store: &str, name: &str) -> String {
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
pub(crate) fn plinth(env: &Env, args: &[&str]) -> crate::support::Run {
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
