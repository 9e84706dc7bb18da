//! Retries with backoff, through a fault proxy in front of a real registry: 503s, 429s and
//! dropped connections are retried up to the policy's attempts, and then reported.

mod common;

use common::{Fault, FaultProxy, Image, Options, Registry, config};
use std::sync::atomic::{AtomicUsize, Ordering};

use plinth_registry::{Client, Credentials, RepoRef, UploadMode};

fn registry() -> Registry {
    Registry::start(Options {
        htpasswd: None,
        tls: false,
    })
}

#[test]
fn transient_failures_are_retried() {
    let reg = registry();
    for fault in [
        Fault::Status("503 Service Unavailable"),
        Fault::Status("429 Too Many Requests"),
        Fault::Drop,
    ] {
        // The policy allows 3 attempts: 2 spoiled connections are survivable.
        let proxy = FaultProxy::start(reg.port, 2, fault);
        let client = Client::new(config(Credentials::Anonymous, None)).unwrap();
        let repo = RepoRef::new(proxy.host.clone(), "retry/app");
        let img = Image::new("retry");
        let d = img.push(&client, &repo, "v1");
        assert_eq!(proxy.spoiled(), 2, "the faults were served");
        assert_eq!(
            client.get_manifest(&repo, "v1").unwrap().bytes,
            img.manifest
        );
        // The pushed image is really in the registry behind the proxy.
        let direct = Client::new(config(Credentials::Anonymous, None)).unwrap();
        assert_eq!(
            direct
                .get_manifest(&reg.repo("retry/app"), "v1")
                .unwrap()
                .digest,
            d
        );
    }
}

#[test]
fn persistent_failures_are_reported_after_the_last_attempt() {
    let reg = registry();
    let proxy = FaultProxy::start(reg.port, 100, Fault::Status("503 Service Unavailable"));
    let client = Client::new(config(Credentials::Anonymous, None)).unwrap();
    let e = client.ping(&proxy.host).unwrap_err();
    assert_eq!(e.status(), Some(503), "{e}");
    assert!(e.to_string().contains(&proxy.host), "{e}");
    assert_eq!(
        proxy.spoiled(),
        3,
        "exactly max_attempts requests were made"
    );

    let proxy = FaultProxy::start(reg.port, 100, Fault::Drop);
    let e = client.ping(&proxy.host).unwrap_err();
    assert_eq!(e.status(), None, "{e}");
    assert_eq!(
        proxy.spoiled(),
        3,
        "exactly max_attempts requests were made: {e}"
    );
}

#[test]
fn failed_uploads_start_over_with_the_source_reopened() {
    let reg = registry();
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 241) as u8).collect();
    let d = plinth_registry::Digest::of(&data);
    for (mode, method) in [
        (UploadMode::Monolithic, "PUT "),
        (UploadMode::Chunked { chunk_size: 1000 }, "PATCH "),
    ] {
        let proxy = FaultProxy::start_for(reg.port, 2, Fault::Status("502 Bad Gateway"), method);
        let mut cfg = config(Credentials::Anonymous, None);
        cfg.upload = mode;
        let client = Client::new(cfg).unwrap();
        let repo = RepoRef::new(
            proxy.host.clone(),
            format!("restart/{}", method.trim().to_lowercase()),
        );
        let opened = AtomicUsize::new(0);
        let source = || {
            opened.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(std::io::Cursor::new(data.clone()))
        };
        client
            .upload_blob(&repo, &d, data.len() as u64, &source)
            .unwrap();
        assert_eq!(proxy.spoiled(), 2, "{method}");
        assert_eq!(
            opened.load(Ordering::SeqCst),
            3,
            "one open per attempt ({method})"
        );
        let mut out = Vec::new();
        client.get_blob(&repo, &d, &mut out).unwrap();
        assert_eq!(out, data);
    }
}
