//! Registry passwords never leak: `plinth push`, `pull` and `copy` (to the other registry)
//! against htpasswd registries (plain HTTP, and TLS with the test CA via `--cert-dir`), with the
//! password given by
//! `--creds`, by `PLINTH_REGISTRY_CREDS` and by a Docker config.json, each wrong then right. The
//! password and its base64 forms must appear in no output, in no file of the stores or the
//! temporary directory, and not in the image's config; a wrong password's error names the
//! registry and says authentication failed.

use std::path::{Path, PathBuf};

use plinth_testkit::{Options, docker_auth, files_containing, secret_forms};

use crate::registry::{Registry, listed_digest};
use crate::support::{Env, Run};

const USER: &str = "carol";
const PASS: &str = "Right-Pa55-XYZZY";
const WRONG: &str = "Wr0ng-Pa55-QUUX";

/// How the password reaches plinth.
#[derive(Clone, Copy, Debug)]
enum Via {
    Flag,
    EnvVar,
    DockerConfig,
}

/// The secrets that must not leak: both passwords, alone and in Basic-auth base64.
fn needles() -> Vec<String> {
    let mut n = secret_forms(USER, PASS);
    n.extend(secret_forms(USER, WRONG));
    n
}

fn leaks(text: &str) -> Vec<String> {
    needles()
        .into_iter()
        .filter(|n| text.contains(n.as_str()))
        .collect()
}

/// The two registries under test (same user and password) and the certs.d directory with the
/// TLS one's CA, given to every command as `--cert-dir`.
struct Setup {
    plain: Registry,
    tls: Registry,
    certs: tempfile::TempDir,
}

/// Runs plinth with `args` and `--cert-dir`, the password `pass` given `via` (a config.json has
/// it for both registries).
fn run(env: &Env, setup: &Setup, via: Via, pass: &str, args: &[&str], tmp: &Path) -> Run {
    let cfg_dir = env.dir.path().join(format!("docker-config-{via:?}-{pass}"));
    std::fs::create_dir_all(&cfg_dir).unwrap();
    let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    full.extend([
        "--cert-dir".to_string(),
        setup.certs.path().display().to_string(),
    ]);
    let creds = format!("{USER}:{pass}");
    let mut vars: Vec<(&str, String)> = vec![
        ("DOCKER_CONFIG", cfg_dir.display().to_string()),
        ("TMPDIR", tmp.display().to_string()),
    ];
    match via {
        Via::Flag => full.extend(["--creds".to_string(), creds]),
        Via::EnvVar => vars.push(("PLINTH_REGISTRY_CREDS", creds)),
        Via::DockerConfig => std::fs::write(
            cfg_dir.join("config.json"),
            format!(
                r#"{{"auths":{{"{}":{{"auth":"{a}"}},"{}":{{"auth":"{a}"}}}}}}"#,
                setup.plain.host,
                setup.tls.host,
                a = docker_auth(USER, pass)
            ),
        )
        .unwrap(),
    }
    let full: Vec<&str> = full.iter().map(String::as_str).collect();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.plinth_env(&full, &vars)
}

#[test]
fn registry_credentials_never_leak() {
    let tls = Registry::with(Options::htpasswd(USER, PASS).with_tls());
    let setup = Setup {
        plain: Registry::start(Some((USER, PASS))),
        certs: tls.kit.certs_dir().unwrap(),
        tls,
    };
    let env = Env::new();
    env.write("a.txt", "secrets stay out\n");
    env.build(
        "FROM scratch\nLABEL purpose=creds\nCOPY a.txt /a.txt\n",
        &["-t", "sec:1"],
    );
    let store = env.store();
    let local = listed_digest(&env, store.to_str().unwrap(), "sec:1");
    let tmp = env.dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut stores: Vec<PathBuf> = vec![store.clone(), tmp.clone()];
    let mut outputs = Vec::new();

    for (tname, target, other) in [
        ("plain", &setup.plain, &setup.tls),
        ("tls", &setup.tls, &setup.plain),
    ] {
        let host = &target.host;
        for via in [Via::Flag, Via::EnvVar, Via::DockerConfig] {
            let what = format!("{tname} {via:?}");
            let dest = format!("{host}/creds/{via:?}:1").to_lowercase();
            // Copied to the other registry: the blobs stream through a temporary file.
            let copy = format!("{}/creds/copy-{tname}-{via:?}:1", other.host).to_lowercase();
            let pulled = env.dir.path().join(format!("pulled-{tname}-{via:?}"));
            let pulled_arg = pulled.display().to_string();
            stores.push(pulled.clone());
            let commands: [Vec<&str>; 3] = [
                vec!["push", "sec:1", &dest],
                vec!["--store", &pulled_arg, "pull", &dest],
                vec!["copy", &dest, &copy],
            ];
            // A wrong password: each command fails with an error naming the registry.
            for args in &commands {
                let r = run(&env, &setup, via, WRONG, args, &tmp);
                assert_eq!(r.status, 1, "{what} {args:?}: {}", r.stderr);
                assert!(
                    r.stderr.contains("authentication failed"),
                    "{what} {args:?}: {}",
                    r.stderr
                );
                assert!(r.stderr.contains(host.as_str()), "{what}: {}", r.stderr);
                assert!(r.stdout.is_empty(), "{what}: {}", r.stdout);
                outputs.push((format!("{what} wrong {args:?}"), r));
            }
            // The right one: each command succeeds and keeps the digest.
            for args in &commands {
                let r = run(&env, &setup, via, PASS, args, &tmp);
                assert_eq!(r.status, 0, "{what} {args:?}: {}", r.stderr);
                assert_eq!(r.stdout.trim(), local, "{what} {args:?}");
                outputs.push((format!("{what} right {args:?}"), r));
            }
            assert_eq!(
                listed_digest(&env, &pulled_arg, &dest),
                local,
                "{what}: the pulled image"
            );
        }
        // The image on the registry, as skopeo reads it: config, labels, history.
        let mut skopeo = vec![
            "inspect".to_string(),
            "--config".to_string(),
            "--creds".to_string(),
            format!("{USER}:{PASS}"),
        ];
        if tname == "tls" {
            skopeo.extend([
                "--cert-dir".to_string(),
                setup.certs.path().join(host).display().to_string(),
            ]);
        } else {
            skopeo.push("--tls-verify=false".to_string());
        }
        skopeo.push(format!("docker://{host}/creds/flag:1"));
        let config = plinth_testkit::run(std::process::Command::new("skopeo").args(&skopeo))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            config.contains("\"purpose\": \"creds\"") || config.contains("\"purpose\":\"creds\""),
            "{config}"
        );
        assert_eq!(
            leaks(&config),
            Vec::<String>::new(),
            "{tname} config: {config}"
        );
    }

    for (what, r) in &outputs {
        assert_eq!(
            leaks(&r.stdout),
            Vec::<String>::new(),
            "{what} stdout: {}",
            r.stdout
        );
        assert_eq!(
            leaks(&r.stderr),
            Vec::<String>::new(),
            "{what} stderr: {}",
            r.stderr
        );
    }
    let needles = needles();
    let needles: Vec<&[u8]> = needles.iter().map(|n| n.as_bytes()).collect();
    // The scan finds what is there: the Docker config.json files hold the Basic-auth base64.
    let configs = files_containing(env.dir.path(), &needles).unwrap();
    assert!(
        configs.iter().any(|(p, _)| p.ends_with("config.json")),
        "{configs:?}"
    );
    for dir in &stores {
        assert!(dir.exists(), "{}", dir.display());
        let found = files_containing(dir, &needles).unwrap();
        assert!(found.is_empty(), "secrets in files: {found:?}");
    }
}
