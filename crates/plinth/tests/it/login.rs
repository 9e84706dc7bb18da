//! `plinth login` and `plinth logout` against a real htpasswd registry: a wrong password is
//! refused and nothing is written; the right one is saved in Docker's config.json (mode 0600,
//! other keys kept) where `plinth push` without --creds and skopeo's `--authfile` find it;
//! logout removes it; and a `credsStore` helper script stores and erases through the helper
//! protocol. No output ever holds the password or its base64 forms.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use plinth_testkit::{docker_auth, secret_forms};

use crate::registry::{Registry, listed_digest, plinth};
use crate::support::{Env, Run, tool};

const USER: &str = "dora";
const PASS: &str = "L0gin-Pa55-PLUGH";
const WRONG: &str = "Wr0ng-L0gin-XYZZY";

/// The Docker config directory `crate::registry::plinth` points DOCKER_CONFIG at.
fn docker_config(env: &Env) -> PathBuf {
    let d = env.dir.path().join("docker-config");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[track_caller]
fn assert_clean(run: &Run) {
    let mut needles = secret_forms(USER, PASS);
    needles.extend(secret_forms(USER, WRONG));
    for n in &needles {
        assert!(
            !run.stdout.contains(n) && !run.stderr.contains(n),
            "a form of a password leaked:\nstdout:\n{}\nstderr:\n{}",
            run.stdout,
            run.stderr
        );
    }
}

/// `plinth ARGS` with DOCKER_CONFIG (and PATH entries first) set, `stdin` piped in.
fn plinth_in(env: &Env, args: &[&str], stdin: &str, path_first: Option<&Path>) -> Run {
    let cfg = docker_config(env);
    let path = match path_first {
        Some(p) => format!(
            "{}:{}",
            p.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
        None => std::env::var("PATH").unwrap_or_default(),
    };
    let run = env.plinth_stdin(
        args,
        &[("DOCKER_CONFIG", cfg.to_str().unwrap()), ("PATH", &path)],
        stdin,
    );
    assert_clean(&run);
    run
}

fn build_image(env: &Env, tag: &str) -> String {
    env.write("a.txt", "login\n");
    env.build("FROM scratch\nCOPY a.txt /a.txt\n", &["-t", tag]);
    let store = env.store();
    listed_digest(env, store.to_str().unwrap(), tag)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn login_is_saved_for_push_and_skopeo_and_logout_removes_it() {
    let reg = Registry::start(Some((USER, PASS)));
    let env = Env::new();
    let digest = build_image(&env, "app:1");
    let cfg = docker_config(&env).join("config.json");
    let original = r#"{
	"auths": {
		"other.example:5000": {
			"auth": "b3RoZXI6cHc="
		}
	},
	"psFormat": "table {{.ID}}",
	"currentContext": "default"
}"#;
    std::fs::write(&cfg, original).unwrap();

    // A wrong password: refused, nothing written.
    let run = plinth_in(
        &env,
        &["login", &reg.host, "-u", USER, "--password-stdin"],
        &format!("{WRONG}\n"),
        None,
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("authentication failed")
            && run.stderr.contains(&reg.host)
            && run.stderr.contains(USER),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), original);

    // The right one, from stdin: saved in Docker's format, 0600, the rest kept.
    let run = plinth_in(
        &env,
        &["login", &reg.host, "-u", USER, "--password-stdin"],
        &format!("{PASS}\n"),
        None,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("Login succeeded") && run.stderr.contains(cfg.to_str().unwrap()),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let v = json(&cfg);
    assert_eq!(v["auths"][&reg.host]["auth"], docker_auth(USER, PASS));
    assert_eq!(v["auths"]["other.example:5000"]["auth"], "b3RoZXI6cHc=");
    assert_eq!(v["psFormat"], "table {{.ID}}");
    assert_eq!(v["currentContext"], "default");
    let mode = std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // `plinth push` without --creds uses it; skopeo reads the same file.
    let dest = format!("{}/t/app:1", reg.host);
    let pushed = plinth(&env, &["push", "app:1", &dest]);
    assert_clean(&pushed);
    let pushed = pushed.ok();
    assert_eq!(pushed.stdout.trim(), digest);
    let out = tool(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--authfile",
            cfg.to_str().unwrap(),
            &format!("docker://{dest}"),
        ],
    );
    let inspected: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(inspected["Digest"], digest.as_str());

    // Logout removes it (and only it); a push is then refused.
    let run = plinth_in(&env, &["logout", &reg.host], "", None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Removed"), "{}", run.stderr);
    let v = json(&cfg);
    assert!(v["auths"].get(&reg.host).is_none(), "{v}");
    assert_eq!(v["auths"]["other.example:5000"]["auth"], "b3RoZXI6cHc=");
    assert_eq!(v["psFormat"], "table {{.ID}}");
    let text = std::fs::read_to_string(&cfg).unwrap();
    for n in secret_forms(USER, PASS) {
        assert!(!text.contains(&n), "{text}");
    }
    let run = plinth(&env, &["push", "app:1", &format!("{}/t/app:2", reg.host)]);
    assert_clean(&run);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("authentication failed"),
        "{}",
        run.stderr
    );

    // Logging out again is not an error.
    let run = plinth_in(&env, &["logout", &reg.host], "", None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Not logged in"), "{}", run.stderr);
}

#[test]
fn login_usage_and_failures() {
    let reg = Registry::start(Some((USER, PASS)));
    let env = Env::new();
    let cfg = docker_config(&env).join("config.json");

    // stdin is not a terminal: the password must come from --password-stdin.
    let run = plinth_in(&env, &["login", &reg.host, "-u", USER], "", None);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--password-stdin"), "{}", run.stderr);
    // So must the user name, with --password-stdin.
    let run = plinth_in(&env, &["login", &reg.host, "--password-stdin"], PASS, None);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--username"), "{}", run.stderr);
    // Both password flags, an empty password, several lines: usage errors.
    let both = [
        "login",
        &reg.host,
        "-u",
        USER,
        "-p",
        PASS,
        "--password-stdin",
    ];
    let run = plinth_in(&env, &both, PASS, None);
    assert_eq!(run.status, 2, "{}", run.stderr);
    let stdin_login = ["login", &reg.host, "-u", USER, "--password-stdin"];
    for input in ["", "\n", &format!("{PASS}\nmore\n")] {
        let run = plinth_in(&env, &stdin_login, input, None);
        assert_eq!(run.status, 2, "{input:?}: {}", run.stderr);
    }
    assert!(!cfg.exists(), "nothing is written on errors");

    // A registry that is not there: exit 1, nothing written.
    let port = plinth_testkit::free_port().unwrap();
    let gone = format!("127.0.0.1:{port}");
    let run = plinth_in(
        &env,
        &["login", &gone, "-u", USER, "--password-stdin"],
        PASS,
        None,
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&gone), "{}", run.stderr);
    assert!(!cfg.exists());

    // -p works, with Docker's warning; a CRLF line from stdin works too.
    let run = plinth_in(
        &env,
        &["login", &reg.host, "-u", USER, "-p", PASS],
        "",
        None,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("insecure") && run.stderr.contains("--password-stdin"),
        "{}",
        run.stderr
    );
    assert_eq!(
        json(&cfg)["auths"][&reg.host]["auth"],
        docker_auth(USER, PASS)
    );
    std::fs::remove_file(&cfg).unwrap();
    let run = plinth_in(&env, &stdin_login, &format!("{PASS}\r\n"), None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        json(&cfg)["auths"][&reg.host]["auth"],
        docker_auth(USER, PASS)
    );
}

#[test]
fn login_and_logout_through_a_credential_helper() {
    let reg = Registry::start(Some((USER, PASS)));
    let env = Env::new();
    build_image(&env, "app:1");
    let bin = env.dir.path().join("bin");
    let store = env.dir.path().join("helper-store");
    let log = env.dir.path().join("helper.log");
    // A helper keeping each login's JSON in STORE/<server, other bytes as _>.
    plinth_testkit::file_credential_helper(&bin, "plinthtest", &store, Some(&log)).unwrap();
    let cfg = docker_config(&env).join("config.json");
    std::fs::write(&cfg, r#"{"credsStore":"plinthtest"}"#).unwrap();
    let stored = store.join(reg.host.replace(':', "_"));

    // A wrong password never reaches the helper.
    let login = ["login", &reg.host, "-u", USER, "--password-stdin"];
    let run = plinth_in(&env, &login, &format!("{WRONG}\n"), Some(&bin));
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(!stored.exists());

    let run = plinth_in(&env, &login, &format!("{PASS}\n"), Some(&bin));
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("docker-credential-plinthtest"),
        "{}",
        run.stderr
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&stored).unwrap()).unwrap();
    assert_eq!(
        saved,
        serde_json::json!({"ServerURL": reg.host, "Username": USER, "Secret": PASS})
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    for n in secret_forms(USER, PASS) {
        assert!(!text.contains(&n), "the secret is in config.json: {text}");
    }
    assert_eq!(json(&cfg)["credsStore"], "plinthtest");

    // push gets the login from the helper.
    let dest = format!("{}/t/app:1", reg.host);
    let run = plinth_in(&env, &["push", "app:1", &dest], "", Some(&bin));
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(std::fs::read_to_string(&log).unwrap().contains("get"));

    // logout erases through the helper.
    let run = plinth_in(&env, &["logout", &reg.host], "", Some(&bin));
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("docker-credential-plinthtest"),
        "{}",
        run.stderr
    );
    assert!(!stored.exists());
    assert!(std::fs::read_to_string(&log).unwrap().contains("erase"));
    let run = plinth_in(&env, &["push", "app:1", &dest], "", Some(&bin));
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("authentication failed"),
        "{}",
        run.stderr
    );
    let run = plinth_in(&env, &["logout", &reg.host], "", Some(&bin));
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stderr.contains("Not logged in"), "{}", run.stderr);
}
