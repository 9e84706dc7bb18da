//! Bearer-token auth against a real registry configured with `auth.token`: the token server
//! (`plinth_testkit::TokenServer`) is a small HTTP server in this process that checks Basic
//! credentials or a refresh token and issues RS256 JWTs for the requested scopes.

mod common;

use common::{Image, RegistryExt, config};
use plinth_registry::{BlobPush, BytesSource, Client, Credentials, Digest, RegistryError, RepoRef};
use plinth_testkit::{Options, Registry, TokenServer, TokenSettings};

const USER: &str = "tokuser";
const PASS: &str = "t0ken-pw";
const REFRESH_TOKEN: &str = "refresh-s3cret";

fn start() -> (Registry, TokenServer, tempfile::TempDir) {
    let ts = TokenServer::start(TokenSettings {
        service: "plinth-test-registry".into(),
        issuer: "plinth-test-issuer".into(),
        username: USER.into(),
        password: PASS.into(),
        refresh_token: REFRESH_TOKEN.into(),
    })
    .unwrap();
    let reg = Registry::start(Options {
        auth: ts.auth(),
        ..Options::default()
    })
    .unwrap();
    (reg, ts, tempfile::tempdir().unwrap())
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
    let granted = ts.granted();
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
    let granted = ts.granted();
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
