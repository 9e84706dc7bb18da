//! `docker login`'s job, in the library: [`Client::login`] checking credentials against real
//! registries (htpasswd Basic auth, a bearer-token server, no auth, nothing listening), and
//! [`save_login`]/[`erase_login`] going through a credential helper: a small
//! `docker-credential-test` script speaking the helper protocol (`store`, `get`, `erase`) is put
//! first on PATH for a child run of this test binary, so no environment is mutated in a threaded
//! process.

mod common;

use std::process::Command;

use common::config;
use plinth_registry::{
    Auth, Client, Credentials, CredentialsError, Erased, LoginCheck, RegistryError, SavedIn,
    erase_login, save_login,
};
use plinth_testkit::{Options, Registry, TokenServer, TokenSettings, secret_forms};

const CHILD_ENV: &str = "PLINTH_REGISTRY_LOGIN_HELPER_DIR";

fn client(username: &str, password: &str) -> Client {
    Client::new(config(
        Credentials::Static {
            username: username.into(),
            password: password.into(),
        },
        None,
    ))
    .unwrap()
}

#[track_caller]
fn assert_no_secret(text: &str, username: &str, password: &str) {
    for s in secret_forms(username, password) {
        assert!(!text.contains(&s), "a form of the password leaked: {text}");
    }
}

#[test]
fn basic_auth_login_is_checked() {
    let reg = Registry::start(Options::htpasswd("alice", "R1ght-pw")).unwrap();
    assert_eq!(
        client("alice", "R1ght-pw").login(&reg.host).unwrap(),
        LoginCheck::Verified
    );
    let e = client("alice", "Wr0ng-pw").login(&reg.host).unwrap_err();
    assert!(
        matches!(&e, RegistryError::LoginFailed { username, status: 401, .. } if username == "alice"),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains(&reg.host)
            && text.contains("alice")
            && text.contains("authentication failed"),
        "{text}"
    );
    assert_no_secret(&text, "alice", "Wr0ng-pw");
    assert_no_secret(&format!("{e:?}"), "alice", "Wr0ng-pw");
    let e = client("mallory", "R1ght-pw").login(&reg.host).unwrap_err();
    assert!(matches!(e, RegistryError::LoginFailed { .. }), "{e:?}");
}

#[test]
fn bearer_login_asks_for_a_token_without_scope() {
    let ts = TokenServer::start(TokenSettings {
        service: "plinth-login-test".into(),
        issuer: "plinth-login-issuer".into(),
        username: "tok".into(),
        password: "T0ken-pw".into(),
        refresh_token: "unused".into(),
    })
    .unwrap();
    let reg = Registry::start(Options {
        auth: ts.auth(),
        ..Options::default()
    })
    .unwrap();
    assert_eq!(
        client("tok", "T0ken-pw").login(&reg.host).unwrap(),
        LoginCheck::Verified
    );
    assert_eq!(
        ts.granted(),
        vec![Vec::<String>::new()],
        "one token, no scope"
    );
    let e = client("tok", "Wr0ng-pw").login(&reg.host).unwrap_err();
    assert!(
        matches!(&e, RegistryError::LoginFailed { username, .. } if username == "tok"),
        "{e:?}"
    );
    assert!(e.to_string().contains("authentication failed"), "{e}");
    assert_no_secret(&format!("{e} {e:?}"), "tok", "Wr0ng-pw");
    assert_eq!(ts.count(), 1, "the refused request got no token");
}

#[test]
fn a_registry_without_auth_cannot_check_credentials() {
    let reg = Registry::start(Options::plain()).unwrap();
    assert_eq!(
        client("anyone", "anything").login(&reg.host).unwrap(),
        LoginCheck::NotRequired
    );
}

#[test]
fn an_unreachable_registry_is_a_transport_error() {
    let port = plinth_testkit::free_port().unwrap();
    let e = client("u", "S3cret")
        .login(&format!("127.0.0.1:{port}"))
        .unwrap_err();
    assert!(matches!(e, RegistryError::Transport { .. }), "{e:?}");
    assert_no_secret(&e.to_string(), "u", "S3cret");
}

#[test]
fn login_through_a_credential_helper() {
    let bin = tempfile::tempdir().unwrap();
    let store = bin.path().join("store");
    std::fs::create_dir(&store).unwrap();
    // Stores each login's JSON in STORE/<server with other bytes as _>; user "explode" makes the
    // store fail with the input echoed (a badly behaved helper).
    plinth_testkit::file_credential_helper(bin.path(), "test", &store, None).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_login_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PATH", path)
        .env(CHILD_ENV, &store)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child run failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the child test did not run:\n{text}"
    );
}

/// Runs only as the child of `login_through_a_credential_helper`, with the helper on PATH.
#[test]
fn helper_login_child() {
    let Some(store) = std::env::var_os(CHILD_ENV).map(std::path::PathBuf::from) else {
        return;
    };
    let reg = Registry::start(Options::htpasswd("bob", "Helper-pw")).unwrap();
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("config.json");
    std::fs::write(&cfg, r#"{"currentContext":"ctx","credsStore":"test"}"#).unwrap();

    // Stored through the helper; config.json only gets Docker's empty marker entry.
    assert_eq!(
        save_login(Some(&cfg), &reg.host, "bob", "Helper-pw").unwrap(),
        SavedIn::Helper {
            helper: "test".into()
        }
    );
    let stored = std::fs::read_to_string(store.join(reg.host.replace(':', "_"))).unwrap();
    let stored: serde_json::Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(
        stored,
        serde_json::json!({"ServerURL": reg.host, "Username": "bob", "Secret": "Helper-pw"})
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert_no_secret(&text, "bob", "Helper-pw");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["auths"][&reg.host], serde_json::json!({}));
    assert_eq!(v["currentContext"], "ctx");

    // The reader gets them back from the helper, and the registry accepts them.
    let creds = Credentials::DockerConfig {
        path: Some(cfg.clone()),
    };
    assert_eq!(
        creds.resolve(&reg.host).unwrap(),
        Auth::Basic {
            username: "bob".into(),
            password: "Helper-pw".into()
        }
    );
    let client = Client::new(config(creds.clone(), None)).unwrap();
    assert_eq!(client.login(&reg.host).unwrap(), LoginCheck::Verified);

    // Erased through the helper, marker included; a second logout finds nothing.
    assert_eq!(
        erase_login(Some(&cfg), &reg.host).unwrap(),
        Erased::Helper {
            helper: "test".into()
        }
    );
    assert!(std::fs::read_dir(&store).unwrap().next().is_none());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
    assert_eq!(v["auths"], serde_json::json!({}));
    assert_eq!(creds.resolve(&reg.host).unwrap(), Auth::Anonymous);
    assert_eq!(
        erase_login(Some(&cfg), &reg.host).unwrap(),
        Erased::NothingStored
    );

    // A per-registry helper wins over an inline entry, which loses its secret; Docker Hub is
    // stored under its v1 URL.
    std::fs::write(
        &cfg,
        r#"{"auths":{"h.example":{"auth":"b2xkOlN0YWxlLXB3"}},"credHelpers":{"h.example":"test","index.docker.io":"test"}}"#,
    )
    .unwrap();
    save_login(Some(&cfg), "h.example", "new", "New-pw").unwrap();
    save_login(Some(&cfg), "docker.io", "hubuser", "Hub-pw").unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(!text.contains("b2xkOlN0YWxlLXB3"), "{text}");
    assert!(store.join("h.example").is_file());
    assert!(store.join("https___index.docker.io_v1_").is_file());
    assert_eq!(
        Credentials::DockerConfig {
            path: Some(cfg.clone())
        }
        .resolve("registry-1.docker.io")
        .unwrap(),
        Auth::Basic {
            username: "hubuser".into(),
            password: "Hub-pw".into()
        }
    );

    // A helper failing (and echoing its input) is an error without the password.
    let e = save_login(Some(&cfg), "h.example", "explode", "Expl0de-pw").unwrap_err();
    assert!(matches!(e, CredentialsError::Helper { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("docker-credential-test"), "{text}");
    assert_no_secret(&format!("{text} {e:?}"), "explode", "Expl0de-pw");
}
