//! Docker credential helpers (`credHelpers`, `credsStore`): a small `docker-credential-test`
//! script speaking the helper protocol is put first on PATH, and its credentials are used against
//! a real registry with Basic auth over TLS. PATH is changed only for a child run of this test
//! binary, so no environment is mutated in a threaded process.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{Image, RegistryExt, config};
use plinth_registry::{Auth, Client, Credentials, RegistryError};
use plinth_testkit::{Options, Registry};

const CHILD_ENV: &str = "PLINTH_REGISTRY_HELPER_CHILD";

#[test]
fn credential_helper_protocol() {
    let bin = tempfile::tempdir().unwrap();
    let log = bin.path().join("asked");
    let script = format!(
        r#"#!/bin/sh
[ "$1" = get ] || exit 2
read -r server
echo "$server" >> {log}
case "$server" in
  127.0.0.1:*) printf '{{"ServerURL":"%s","Username":"bob","Secret":"helper-pw"}}\n' "$server" ;;
  tok.example) printf '{{"ServerURL":"tok.example","Username":"<token>","Secret":"refresh-me"}}\n' ;;
  https://index.docker.io/v1/) printf '{{"Username":"hubuser","Secret":"hubpw"}}\n' ;;
  broken.example) echo "helper exploded" >&2; exit 3 ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
"#,
        log = log.display()
    );
    let helper = bin.path().join("docker-credential-test");
    std::fs::write(&helper, script).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "helper_child", "--nocapture", "--test-threads=1"])
        .env("PATH", path)
        .env(CHILD_ENV, &log)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child run failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "the child test did not run:\n{text}"
    );
    let asked = std::fs::read_to_string(&log).unwrap();
    assert!(asked.contains("127.0.0.1:"), "{asked}");
    assert!(asked.contains("https://index.docker.io/v1/"), "{asked}");
}

/// Runs only as the child of `credential_helper_protocol`, with the helper on PATH.
#[test]
fn helper_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let reg = Registry::start(Options::htpasswd("bob", "helper-pw").with_tls()).unwrap();
    let certs = reg.certs_dir().unwrap();
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("config.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"auths":{{"{h}":{{"auth":"Ym9iOndyb25n"}}}},"credHelpers":{{"{h}":"test","broken.example":"test"}},"credsStore":"test"}}"#,
            h = reg.host
        ),
    )
    .unwrap();
    let creds = Credentials::DockerConfig {
        path: Some(cfg.clone()),
    };
    // The helper wins over the (wrong) auths entry.
    assert_eq!(
        creds.resolve(&reg.host).unwrap(),
        Auth::Basic {
            username: "bob".into(),
            password: "helper-pw".into()
        }
    );
    // credsStore for other hosts; "not found" means anonymous; `<token>` is an identity token.
    assert_eq!(creds.resolve("other.example").unwrap(), Auth::Anonymous);
    assert_eq!(
        creds.resolve("tok.example").unwrap(),
        Auth::IdentityToken("refresh-me".into())
    );
    assert_eq!(
        creds.resolve("docker.io").unwrap(),
        Auth::Basic {
            username: "hubuser".into(),
            password: "hubpw".into()
        }
    );
    let e = creds.resolve("broken.example").unwrap_err().to_string();
    assert!(
        e.contains("helper exploded") && e.contains("docker-credential-test"),
        "{e}"
    );

    let client = Client::new(config(creds, Some(certs.path().to_path_buf()))).unwrap();
    let repo = reg.repo("helper/app");
    let digest = Image::new("helper").push(&client, &repo, "v1");
    assert_eq!(client.get_manifest(&repo, "v1").unwrap().digest, digest);

    // A helper that is not installed is a clear error.
    std::fs::write(&cfg, r#"{"credsStore":"not-installed-anywhere"}"#).unwrap();
    let client = Client::new(config(
        Credentials::DockerConfig { path: Some(cfg) },
        Some(certs.path().to_path_buf()),
    ))
    .unwrap();
    let e = client.ping(&reg.host).unwrap_err();
    assert!(matches!(e, RegistryError::Credentials { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("docker-credential-not-installed-anywhere"),
        "{e}"
    );
}
