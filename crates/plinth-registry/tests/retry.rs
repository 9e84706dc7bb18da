//! Retries with backoff, through a fault proxy in front of a real registry: 503s, 429s and
//! dropped connections are retried up to the policy's attempts, and then reported.

mod common;

use common::{Image, RegistryExt, config};
use plinth_testkit::{Fault, FaultProxy, Registry, Rule};
use std::sync::atomic::{AtomicUsize, Ordering};

use plinth_registry::{Client, Credentials, RepoRef, UploadMode};

fn registry() -> Registry {
    Registry::plain().expect("registry")
}

#[test]
fn transient_failures_are_retried() {
    let reg = registry();
    for fault in [
        Fault::status("503 Service Unavailable"),
        Fault::status("429 Too Many Requests"),
        Fault::Drop,
    ] {
        // The policy allows 3 attempts: 2 spoiled connections are survivable.
        let proxy = FaultProxy::start(reg.port, Rule::new(fault, 2)).unwrap();
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
    let proxy = FaultProxy::start(
        reg.port,
        Rule::new(Fault::status("503 Service Unavailable"), 100),
    )
    .unwrap();
    let client = Client::new(config(Credentials::Anonymous, None)).unwrap();
    let e = client.ping(&proxy.host).unwrap_err();
    assert_eq!(e.status(), Some(503), "{e}");
    assert!(e.to_string().contains(&proxy.host), "{e}");
    assert_eq!(
        proxy.spoiled(),
        3,
        "exactly max_attempts requests were made"
    );

    let proxy = FaultProxy::start(reg.port, Rule::new(Fault::Drop, 100)).unwrap();
    let e = client.ping(&proxy.host).unwrap_err();
    assert_eq!(e.status(), None, "{e}");
    assert_eq!(
        proxy.spoiled(),
        3,
        "exactly max_attempts requests were made: {e}"
    );
}

#[test]
fn failed_uploads_resume_or_start_over_with_the_source_reopened() {
    let reg = registry();
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 241) as u8).collect();
    let d = plinth_registry::Digest::of(&data);
    // A monolithic upload starts over (the source is opened once per attempt); a chunked one
    // asks the registry where the upload is and sends the failed chunk again, from the same
    // open source.
    for (mode, method, opens) in [
        (UploadMode::Monolithic, "PUT ", 3),
        (UploadMode::Chunked { chunk_size: 1000 }, "PATCH ", 1),
    ] {
        let proxy = FaultProxy::start(
            reg.port,
            Rule::new(Fault::status("502 Bad Gateway"), 2).method(method),
        )
        .unwrap();
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
        assert_eq!(opened.load(Ordering::SeqCst), opens, "{method}");
        let mut out = Vec::new();
        client.get_blob(&repo, &d, &mut out).unwrap();
        assert_eq!(out, data);
    }
}

#[test]
fn a_chunked_upload_cut_mid_chunk_still_completes() {
    let reg = registry();
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let d = plinth_registry::Digest::of(&data);
    // The second PATCH is cut after 300 of its 1000 bytes: the registry may keep them (then the
    // session cannot go on and the blob starts over) or not (then the chunk is sent again).
    let proxy = FaultProxy::start(
        reg.port,
        Rule::new(Fault::CutAfter(300), 1).method("PATCH "),
    )
    .unwrap();
    let mut cfg = config(Credentials::Anonymous, None);
    cfg.upload = UploadMode::Chunked { chunk_size: 1000 };
    let client = Client::new(cfg).unwrap();
    let repo = RepoRef::new(proxy.host.clone(), "resume/cut");
    let source = || Ok::<_, std::io::Error>(std::io::Cursor::new(data.clone()));
    client
        .upload_blob(&repo, &d, data.len() as u64, &source)
        .unwrap();
    assert_eq!(proxy.spoiled(), 1);
    let mut out = Vec::new();
    client
        .get_blob(&reg.repo("resume/cut"), &d, &mut out)
        .unwrap();
    assert_eq!(out, data);
}
