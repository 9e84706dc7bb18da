//! The client against a real registry (distribution 2.8's `docker-registry`), cross-checked with
//! skopeo: plain HTTP push/pull, existence checks, mounts, chunked uploads, Basic auth over TLS
//! with a certs.d CA, and the errors for wrong passwords and unknown CAs.

mod common;

use common::{Image, OCI_MANIFEST, RegistryExt, config};
use plinth_registry::{
    BlobPush, BytesSource, Client, Credentials, Digest, FileSource, RegistryError, UploadMode,
};
use plinth_testkit::{Options, Registry};

fn skopeo_digest(reference: &str, extra: &[&str]) -> String {
    plinth_testkit::skopeo_digest(reference, extra).expect("skopeo inspect")
}

fn plain() -> Registry {
    Registry::plain().expect("registry")
}

#[test]
fn push_then_skopeo_and_pull_back_over_plain_http() {
    let reg = plain();
    let client = Client::new(config(Credentials::Anonymous, None)).unwrap();
    client.ping(&reg.host).unwrap();
    let repo = reg.repo("team/app");
    let img = Image::new("one");
    let digest = img.push(&client, &repo, "v1");
    assert_eq!(digest, Digest::of(&img.manifest));

    // An independent client reads the same manifest digest.
    assert_eq!(
        skopeo_digest(
            &format!("{}/team/app:v1", reg.host),
            &["--tls-verify=false"]
        ),
        digest.to_string()
    );

    // Pull back: exact manifest bytes, media type, digest.
    let m = client.get_manifest(&repo, "v1").unwrap();
    assert_eq!(m.bytes, img.manifest);
    assert_eq!(m.media_type, OCI_MANIFEST);
    assert_eq!(m.digest, digest);
    let by_digest = client.get_manifest(&repo, &digest.to_string()).unwrap();
    assert_eq!(by_digest.bytes, img.manifest);
    let info = client.head_manifest(&repo, "v1").unwrap().unwrap();
    assert_eq!(info.digest.as_ref(), Some(&digest));
    assert_eq!(info.size, Some(img.manifest.len() as u64));
    assert_eq!(client.head_manifest(&repo, "nope").unwrap(), None);

    for (bytes, d) in img.blobs() {
        let mut out = Vec::new();
        let n = client.get_blob(&repo, &d, &mut out).unwrap();
        assert_eq!(n, bytes.len() as u64);
        assert_eq!(out, bytes);
        assert_eq!(
            client.head_blob(&repo, &d).unwrap(),
            Some(bytes.len() as u64)
        );
    }

    // Existing blobs are skipped.
    let (layer, layer_digest) = (&img.layer, Digest::of(&img.layer));
    let r = client
        .push_blob(
            &repo,
            &layer_digest,
            layer.len() as u64,
            &BytesSource(layer.as_slice().into()),
            None,
        )
        .unwrap();
    assert_eq!(r, BlobPush::Existed);

    // Unknown blob: HEAD says none, GET is a 404 error naming the repository.
    let missing = Digest::of(b"not there");
    assert_eq!(client.head_blob(&repo, &missing).unwrap(), None);
    let e = client
        .get_blob(&repo, &missing, &mut Vec::new())
        .unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    assert!(e.to_string().contains("team/app"), "{e}");

    let mut tags = client.list_tags(&repo).unwrap();
    tags.sort();
    assert_eq!(tags, ["v1"]);
    let digest2 = Image::new("two").push(&client, &repo, "v2");
    assert_ne!(digest2, digest);
    let mut tags = client.list_tags(&repo).unwrap();
    tags.sort();
    assert_eq!(tags, ["v1", "v2"]);
}

#[test]
fn manifest_bytes_are_pushed_exactly() {
    let reg = plain();
    let client = Client::new(config(Credentials::Anonymous, None)).unwrap();
    let repo = reg.repo("exact");
    let img = Image::new("exact");
    for (bytes, d) in img.blobs() {
        client
            .upload_blob(&repo, &d, bytes.len() as u64, &BytesSource(bytes.into()))
            .unwrap();
    }
    // Unusual but valid formatting must survive byte for byte.
    let mut odd = b"  \n".to_vec();
    odd.extend_from_slice(&img.manifest);
    odd.extend_from_slice(b"\n\t ");
    let d = client
        .put_manifest(&repo, "odd", &odd, OCI_MANIFEST)
        .unwrap();
    assert_eq!(d, Digest::of(&odd));
    assert_eq!(client.get_manifest(&repo, "odd").unwrap().bytes, odd);
    // A digest reference must match the bytes.
    let wrong = Digest::of(b"other");
    let e = client
        .put_manifest(&repo, &wrong.to_string(), &odd, OCI_MANIFEST)
        .unwrap_err();
    assert!(e.to_string().contains(&wrong.to_string()), "{e}");
    // By digest works.
    let d2 = client
        .put_manifest(&repo, &d.to_string(), &odd, OCI_MANIFEST)
        .unwrap();
    assert_eq!(d2, d);
}

#[test]
fn upload_with_wrong_digest_is_refused() {
    let reg = plain();
    let client = Client::new(config(Credentials::Anonymous, None)).unwrap();
    let repo = reg.repo("wrong");
    let claimed = Digest::of(b"something else");
    let e = client
        .upload_blob(&repo, &claimed, 5, &BytesSource(b"hello".as_slice().into()))
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");
    assert!(e.to_string().contains("DIGEST_INVALID"), "{e}");
    assert_eq!(client.head_blob(&repo, &claimed).unwrap(), None);
}

#[test]
fn mount_between_repositories() {
    let reg = plain();
    let client = Client::new(config(Credentials::Anonymous, None)).unwrap();
    let (a, b) = (reg.repo("src/a"), reg.repo("dst/b"));
    let blob = b"a blob to mount".repeat(100);
    let d = Digest::of(&blob);
    let src = BytesSource(blob.as_slice().into());
    assert_eq!(
        client
            .push_blob(&a, &d, blob.len() as u64, &src, None)
            .unwrap(),
        BlobPush::Uploaded
    );
    assert_eq!(client.head_blob(&b, &d).unwrap(), None);
    assert_eq!(
        client
            .push_blob(&b, &d, blob.len() as u64, &src, Some(&a))
            .unwrap(),
        BlobPush::Mounted
    );
    assert_eq!(client.head_blob(&b, &d).unwrap(), Some(blob.len() as u64));
    // A blob the source does not have: 202, so not mounted (the caller uploads).
    let other = Digest::of(b"absent");
    assert!(!client.mount_blob(&b, &a, &other).unwrap());
    assert_eq!(client.head_blob(&b, &other).unwrap(), None);
    // Different registries never mount.
    let elsewhere = plinth_registry::RepoRef::new("127.0.0.1:1", "src/a");
    assert!(!client.mount_blob(&b, &elsewhere, &d).unwrap());
}

#[test]
fn chunked_upload_from_a_file() {
    let reg = plain();
    let mut cfg = config(Credentials::Anonymous, None);
    cfg.upload = UploadMode::Chunked { chunk_size: 1000 };
    let client = Client::new(cfg).unwrap();
    let repo = reg.repo("chunked");
    let data: Vec<u8> = (0..4500u32).map(|i| (i * 7 % 251) as u8).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blob");
    std::fs::write(&path, &data).unwrap();
    let d = Digest::of(&data);
    client
        .upload_blob(&repo, &d, data.len() as u64, &FileSource(path.clone()))
        .unwrap();
    let mut out = Vec::new();
    assert_eq!(client.get_blob(&repo, &d, &mut out).unwrap(), 4500);
    assert_eq!(out, data);
    // A source shorter than announced is an error, not a hang or a corrupt blob.
    let d2 = Digest::of(b"short");
    let e = client
        .upload_blob(&repo, &d2, 3000, &BytesSource(b"short".as_slice().into()))
        .unwrap_err();
    assert!(matches!(e, RegistryError::Source { .. }), "{e}");
    // Empty blobs work too.
    let empty = Digest::of(b"");
    client
        .upload_blob(&repo, &empty, 0, &BytesSource(Vec::new().into()))
        .unwrap();
    assert_eq!(client.head_blob(&repo, &empty).unwrap(), Some(0));
}

fn tls_basic() -> Registry {
    Registry::start(Options::htpasswd("alice", "s3cret-pw").with_tls()).expect("registry")
}

#[test]
fn basic_auth_over_tls_with_certs_dir() {
    let reg = tls_basic();
    let certs = reg.certs_dir().unwrap();
    let client = Client::new(config(
        Credentials::Static {
            username: "alice".into(),
            password: "s3cret-pw".into(),
        },
        Some(certs.path().to_path_buf()),
    ))
    .unwrap();
    client.ping(&reg.host).unwrap();
    let repo = reg.repo("secure/app");
    let img = Image::new("tls");
    let d = img.push(&client, &repo, "latest");
    assert_eq!(client.get_manifest(&repo, "latest").unwrap().digest, d);
    let mut out = Vec::new();
    client
        .get_blob(&repo, &Digest::of(&img.layer), &mut out)
        .unwrap();
    assert_eq!(out, img.layer);
    // skopeo with the same CA and credentials agrees.
    assert_eq!(
        skopeo_digest(
            &format!("{}/secure/app:latest", reg.host),
            &[
                "--cert-dir",
                &certs.path().join(&reg.host).display().to_string(),
                "--creds",
                "alice:s3cret-pw",
            ]
        ),
        d.to_string()
    );

    // Credentials from a Docker config.json `auths` entry.
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg = cfgdir.path().join("config.json");
    // base64("alice:s3cret-pw")
    std::fs::write(
        &cfg,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"YWxpY2U6czNjcmV0LXB3"}}}}}}"#,
            reg.host
        ),
    )
    .unwrap();
    let client = Client::new(config(
        Credentials::DockerConfig { path: Some(cfg) },
        Some(certs.path().to_path_buf()),
    ))
    .unwrap();
    assert_eq!(client.get_manifest(&repo, "latest").unwrap().digest, d);
}

#[test]
fn wrong_password_is_a_clear_error_without_the_password() {
    let reg = tls_basic();
    let certs = reg.certs_dir().unwrap();
    let client = Client::new(config(
        Credentials::Static {
            username: "alice".into(),
            password: "Wr0ngPassw0rd".into(),
        },
        Some(certs.path().to_path_buf()),
    ))
    .unwrap();
    let e = client
        .get_manifest(&reg.repo("secure/app"), "latest")
        .unwrap_err();
    assert!(
        matches!(e, RegistryError::Unauthorized { status: 401, .. }),
        "{e:?}"
    );
    let text = format!("{e} {e:?}");
    assert!(
        text.contains(&reg.host) && text.contains("secure/app"),
        "{text}"
    );
    assert!(text.contains("authentication failed"), "{text}");
    assert!(!text.contains("Wr0ngPassw0rd"), "{text}");
    // Base64 of the credentials must not leak either.
    assert!(!text.contains("YWxpY2U6V3IwbmdQYXNzdzByZA"), "{text}");

    // Anonymous access to a protected registry is refused the same way.
    let anon = Client::new(config(
        Credentials::Anonymous,
        Some(certs.path().to_path_buf()),
    ))
    .unwrap();
    let e = anon.ping(&reg.host).unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
}

#[test]
fn tls_without_the_ca_fails_verification() {
    let reg = tls_basic();
    let empty = tempfile::tempdir().unwrap();
    let creds = Credentials::Static {
        username: "alice".into(),
        password: "s3cret-pw".into(),
    };
    let client = Client::new(config(creds.clone(), Some(empty.path().to_path_buf()))).unwrap();
    let e = client.ping(&reg.host).unwrap_err();
    assert!(matches!(e, RegistryError::TlsVerification { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("certificate"), "{text}");
    assert!(
        text.contains(&format!("{}/ca.crt", reg.host)),
        "the error says where the CA goes: {text}"
    );

    // Listing the host as insecure skips verification (as Docker does).
    let mut cfg = config(creds, Some(empty.path().to_path_buf()));
    cfg.insecure_hosts = vec![reg.host.clone()];
    let client = Client::new(cfg).unwrap();
    client.ping(&reg.host).unwrap();
}

/// Rewrites one blob in the registry's filesystem storage, keeping its length.
fn corrupt_stored_blob(reg: &Registry, digest: &Digest, edit: impl Fn(&mut Vec<u8>)) {
    let hex = digest.hex();
    let path = reg
        .dir
        .path()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data");
    let mut bytes = std::fs::read(&path).unwrap();
    let before = bytes.clone();
    edit(&mut bytes);
    assert_ne!(bytes, before, "the edit changed the stored bytes");
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn corrupted_content_is_detected_on_pull() {
    let reg = plain();
    let client = Client::new(config(Credentials::Anonymous, None)).unwrap();
    let repo = reg.repo("corrupt");
    let img = Image::new("corrupt");
    let manifest_digest = img.push(&client, &repo, "v1");

    let layer = Digest::of(&img.layer);
    corrupt_stored_blob(&reg, &layer, |b| b[600] ^= 0x20);
    let e = client.get_blob(&repo, &layer, &mut Vec::new()).unwrap_err();
    match &e {
        RegistryError::DigestMismatch {
            expected,
            actual,
            size,
            ..
        } => {
            assert_eq!(expected, &layer);
            assert_ne!(actual, &layer);
            assert_eq!(*size, img.layer.len() as u64);
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }

    corrupt_stored_blob(&reg, &manifest_digest, |b| {
        let pos = b.windows(3).position(|w| w == b"tar").unwrap();
        b[pos + 2] = b'R';
    });
    for reference in ["v1".to_string(), manifest_digest.to_string()] {
        let e = client.get_manifest(&repo, &reference).unwrap_err();
        assert!(
            matches!(&e, RegistryError::DigestMismatch { expected, .. } if expected == &manifest_digest),
            "{reference}: {e:?}"
        );
    }
}

#[test]
fn copy_image_within_and_between_registries() {
    let (one, two) = (plain(), plain());
    let client = Client::new(config(Credentials::Anonymous, None)).unwrap();
    let src = one.repo("copy/src");
    let img = Image::new("copy");
    let d = img.push(&client, &src, "v1");

    // Same registry: blobs are mounted.
    let r = client
        .copy_image(&src, "v1", &one.repo("copy/dst"), "v1", 4)
        .unwrap();
    assert_eq!(r.digest, d);
    assert_eq!((r.manifests, r.blobs_mounted, r.blobs_uploaded), (1, 2, 0));
    // Again: everything exists.
    let r = client
        .copy_image(&src, "v1", &one.repo("copy/dst"), "v2", 4)
        .unwrap();
    assert_eq!(
        (r.blobs_existed, r.blobs_mounted, r.blobs_uploaded),
        (2, 0, 0)
    );

    // Another registry: blobs are streamed; skopeo sees the same digest there.
    let r = client
        .copy_image(&src, &d.to_string(), &two.repo("copied"), "latest", 4)
        .unwrap();
    assert_eq!((r.blobs_mounted, r.blobs_uploaded), (0, 2));
    assert_eq!(
        skopeo_digest(
            &format!("{}/copied:latest", two.host),
            &["--tls-verify=false"]
        ),
        d.to_string()
    );
    let mut out = Vec::new();
    client
        .get_blob(&two.repo("copied"), &Digest::of(&img.layer), &mut out)
        .unwrap();
    assert_eq!(out, img.layer);

    // An index with a child manifest is copied child first, bytes intact.
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{d}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
        img.manifest.len()
    );
    let index_digest = client
        .put_manifest(
            &src,
            "multi",
            index.as_bytes(),
            "application/vnd.oci.image.index.v1+json",
        )
        .unwrap();
    let r = client
        .copy_image(&src, "multi", &two.repo("multi"), "multi", 2)
        .unwrap();
    assert_eq!((r.digest.clone(), r.manifests), (index_digest.clone(), 2));
    let got = client.get_manifest(&two.repo("multi"), "multi").unwrap();
    assert_eq!(got.bytes, index.as_bytes());
    assert_eq!(got.media_type, "application/vnd.oci.image.index.v1+json");
    assert_eq!(
        client
            .get_manifest(&two.repo("multi"), &d.to_string())
            .unwrap()
            .bytes,
        img.manifest
    );
}

#[test]
fn plain_http_only_for_loopback_or_insecure_hosts() {
    let reg = plain();
    // 0.0.0.0 reaches the same local server but is not a loopback name: HTTPS only by default.
    let other_name = format!("0.0.0.0:{}", reg.port);
    let client = Client::new(config(Credentials::Anonymous, None)).unwrap();
    let e = client.ping(&other_name).unwrap_err();
    assert!(matches!(e, RegistryError::Transport { .. }), "{e:?}");
    assert!(e.to_string().contains(&other_name), "{e}");
    // Listed as insecure, it falls back to plain HTTP like Docker does.
    let mut cfg = config(Credentials::Anonymous, None);
    cfg.insecure_hosts = vec![other_name.clone()];
    let client = Client::new(cfg).unwrap();
    client.ping(&other_name).unwrap();
    let repo = plinth_registry::RepoRef::new(other_name, "insecure/app");
    let d = Image::new("insecure").push(&client, &repo, "v1");
    // The same registry through its loopback name has it.
    let loopback = Client::new(config(Credentials::Anonymous, None)).unwrap();
    assert_eq!(
        loopback
            .get_manifest(&reg.repo("insecure/app"), "v1")
            .unwrap()
            .digest,
        d
    );
}
