//! Pulling into and pushing from plinth's local store against a real registry, cross-checked with
//! skopeo: exact manifest bytes both ways, an index pulled for one platform, an image skopeo
//! pushed, an immutable tag that refuses to move, and a corrupted local blob that leaves no tag.

mod common;

use std::io::Write;
use std::process::Command;

use common::config;
use plinth_oci::store::{Store, default_platform};
use plinth_oci::types::media;
use plinth_oci::{Descriptor, ImageConfig, Index, Manifest, Platform, RootFs};
use plinth_registry::{
    Client, Credentials, Digest, PushOptions, RemoteRef, TransferError, pull_to_store,
    push_from_store,
};
use plinth_testkit::{Registry, run, skopeo_digest};

fn plain() -> Registry {
    Registry::plain().expect("registry")
}

fn client() -> Client {
    Client::new(config(Credentials::Anonymous, None)).unwrap()
}

/// A one-layer image (gzip layer, OCI config and manifest) written straight into `store`.
fn build_image(store: &Store, seed: &str, arch: &str) -> Descriptor {
    let mut tar = tar::Builder::new(Vec::new());
    let data = format!("hello from {seed}\n").repeat(100);
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    tar.append_data(&mut h, "hello.txt", data.as_bytes())
        .unwrap();
    let tar = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let layer = store
        .write_blob(media::OCI_LAYER_GZIP, &gz.finish().unwrap())
        .unwrap();
    let cfg = ImageConfig {
        architecture: arch.to_string(),
        os: "linux".to_string(),
        rootfs: RootFs {
            typ: "layers".to_string(),
            diff_ids: vec![Digest::of(&tar)],
        },
        ..ImageConfig::default()
    };
    let config = store.write_json(media::OCI_CONFIG, &cfg).unwrap();
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.to_string()),
        artifact_type: None,
        config,
        layers: vec![layer],
        subject: None,
        annotations: Default::default(),
    };
    store.write_json(media::OCI_MANIFEST, &manifest).unwrap()
}

fn remote(reg: &Registry, path: &str) -> RemoteRef {
    RemoteRef::parse(&format!("{}/{path}", reg.host)).unwrap()
}

fn skopeo_raw(reference: &str) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn push_then_skopeo_then_pull_into_a_fresh_store() {
    let reg = plain();
    let client = client();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(dir.path().join("a")).unwrap();
    let m = build_image(&store, "one", "amd64");
    store.set_ref("app:1", &m).unwrap();
    let local = store.resolve("app:1").unwrap().descriptor;

    let dest = remote(&reg, "t/app:1");
    let report = push_from_store(&client, &store, &local, &dest, &PushOptions::default()).unwrap();
    assert_eq!(report.digest, m.digest);
    assert_eq!(report.blobs_uploaded, 2);
    assert_eq!(report.manifests, 1);

    // skopeo reads the stored bytes exactly.
    let reference = format!("{}/t/app:1", reg.host);
    assert_eq!(skopeo_raw(&reference), store.read_blob(&m.digest).unwrap());
    assert_eq!(
        skopeo_digest(&reference, &["--tls-verify=false"]).unwrap(),
        m.digest.to_string()
    );

    // A second push finds every blob there.
    let again = push_from_store(&client, &store, &local, &dest, &PushOptions::default()).unwrap();
    assert_eq!((again.blobs_existed, again.blobs_uploaded), (2, 0));

    let fresh = Store::init(dir.path().join("b")).unwrap();
    let pulled = pull_to_store(&client, &fresh, &dest, &default_platform()).unwrap();
    assert_eq!(pulled.digest, m.digest);
    assert_eq!(pulled.manifest.digest, m.digest);
    assert_eq!((pulled.blobs_fetched, pulled.blobs_present), (2, 0));
    let name = format!("{}/t/app:1", reg.host);
    assert_eq!(pulled.name.as_deref(), Some(name.as_str()));
    assert_eq!(fresh.resolve(&name).unwrap().descriptor.digest, m.digest);
    let img = fresh
        .image(&fresh.resolve(&name).unwrap().descriptor)
        .unwrap();
    assert_eq!(img.manifest_bytes, store.read_blob(&m.digest).unwrap());

    // Pulling again fetches nothing; pulling by digest records the image untagged.
    let again = pull_to_store(&client, &fresh, &dest, &default_platform()).unwrap();
    assert_eq!((again.blobs_fetched, again.blobs_present), (0, 2));
    let by_digest = remote(&reg, &format!("t/app@{}", m.digest));
    let third = Store::init(dir.path().join("c")).unwrap();
    let r = pull_to_store(&client, &third, &by_digest, &default_platform()).unwrap();
    assert_eq!(r.name, None);
    assert_eq!(
        third
            .resolve(&m.digest.to_string())
            .unwrap()
            .descriptor
            .digest,
        m.digest
    );
}

#[test]
fn index_is_pushed_whole_and_pulled_for_one_platform() {
    let reg = plain();
    let client = client();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(dir.path().join("a")).unwrap();
    let amd = build_image(&store, "amd", "amd64");
    let arm = build_image(&store, "arm", "arm64");
    let with = |mut d: Descriptor, arch: &str| {
        d.platform = Some(Platform {
            architecture: arch.to_string(),
            os: "linux".to_string(),
            variant: None,
            os_version: None,
        });
        d
    };
    let index = Index {
        manifests: vec![with(arm.clone(), "arm64"), with(amd.clone(), "amd64")],
        ..Index::default()
    };
    let top = store.write_json(media::OCI_INDEX, &index).unwrap();
    store.set_ref("multi:1", &top).unwrap();

    let dest = remote(&reg, "t/multi:1");
    let report = push_from_store(
        &client,
        &store,
        &top,
        &dest,
        &PushOptions {
            jobs: 3,
            ..PushOptions::default()
        },
    )
    .unwrap();
    assert_eq!(report.digest, top.digest);
    assert_eq!(report.manifests, 3);
    assert_eq!(report.blobs_uploaded, 4);
    assert_eq!(
        skopeo_raw(&format!("{}/t/multi:1", reg.host)),
        store.read_blob(&top.digest).unwrap()
    );
    // Children are on the registry by digest.
    for child in [&amd, &arm] {
        let got = client
            .get_manifest(&dest.repo, &child.digest.to_string())
            .unwrap();
        assert_eq!(got.bytes, store.read_blob(&child.digest).unwrap());
    }

    // A pull for linux/amd64 takes the index and the amd64 manifest and its blobs only.
    let fresh = Store::init(dir.path().join("b")).unwrap();
    let pulled = pull_to_store(&client, &fresh, &dest, &default_platform()).unwrap();
    assert_eq!(pulled.digest, top.digest);
    assert_eq!(pulled.manifest.digest, amd.digest);
    assert_eq!(pulled.blobs_fetched, 2);
    let name = pulled.name.unwrap();
    assert_eq!(fresh.resolve(&name).unwrap().descriptor.digest, amd.digest);
    assert!(fresh.has_blob(&top.digest));
    let arm_manifest: Manifest =
        serde_json::from_slice(&store.read_blob(&arm.digest).unwrap()).unwrap();
    assert!(!fresh.has_blob(&arm_manifest.layers[0].digest));

    // A platform the index lacks is an error and names nothing.
    let other = Store::init(dir.path().join("c")).unwrap();
    let s390 = Platform {
        architecture: "s390x".to_string(),
        ..default_platform()
    };
    let e = pull_to_store(&client, &other, &dest, &s390).unwrap_err();
    assert!(matches!(e, TransferError::NoPlatform { .. }), "{e}");
    assert!(other.refs().unwrap().is_empty());
}

#[test]
fn pull_an_image_skopeo_pushed() {
    let reg = plain();
    let client = client();
    let dir = tempfile::tempdir().unwrap();
    let src = Store::init(dir.path().join("src")).unwrap();
    let m = build_image(&src, "skopeo", "amd64");
    src.set_ref("sk:1", &m).unwrap();
    run(Command::new("skopeo").args([
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:sk:1", dir.path().join("src").display()),
        &format!("docker://{}/s/sk:2", reg.host),
    ]))
    .unwrap();
    let remote_digest =
        skopeo_digest(&format!("{}/s/sk:2", reg.host), &["--tls-verify=false"]).unwrap();

    let fresh = Store::init(dir.path().join("b")).unwrap();
    let pulled = pull_to_store(
        &client,
        &fresh,
        &remote(&reg, "s/sk:2"),
        &default_platform(),
    )
    .unwrap();
    assert_eq!(pulled.digest.to_string(), remote_digest);
    let img = fresh
        .image(
            &fresh
                .resolve(&format!("{}/s/sk:2", reg.host))
                .unwrap()
                .descriptor,
        )
        .unwrap();
    assert_eq!(img.config.architecture, "amd64");
    assert_eq!(img.manifest.layers.len(), 1);
}

#[test]
fn an_immutable_tag_does_not_move_and_nothing_is_written() {
    let reg = plain();
    let client = client();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(dir.path().join("a")).unwrap();
    let first = build_image(&store, "first", "amd64");
    let second = build_image(&store, "second", "amd64");
    let dest = remote(&reg, "t/app:1.0.0");
    let immutable = PushOptions {
        immutable_tags: vec!["1.0.0".to_string()],
        jobs: 2,
        ..PushOptions::default()
    };
    push_from_store(&client, &store, &first, &dest, &immutable).unwrap();
    // The same digest again is fine.
    push_from_store(&client, &store, &first, &dest, &immutable).unwrap();

    let e = push_from_store(&client, &store, &second, &dest, &immutable).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, TransferError::TagMoved { .. }), "{msg}");
    assert!(msg.contains("1.0.0"), "{msg}");
    assert!(msg.contains(&first.digest.to_string()), "{msg}");
    assert!(msg.contains(&second.digest.to_string()), "{msg}");
    let info = client.head_manifest(&dest.repo, "1.0.0").unwrap().unwrap();
    assert_eq!(info.digest, Some(first.digest.clone()));
    let second_manifest: Manifest =
        serde_json::from_slice(&store.read_blob(&second.digest).unwrap()).unwrap();
    for blob in std::iter::once(&second_manifest.config).chain(&second_manifest.layers) {
        assert_eq!(client.head_blob(&dest.repo, &blob.digest).unwrap(), None);
    }

    // Without the option the tag moves.
    push_from_store(&client, &store, &second, &dest, &PushOptions::default()).unwrap();
    let info = client.head_manifest(&dest.repo, "1.0.0").unwrap().unwrap();
    assert_eq!(info.digest, Some(second.digest));
}

#[test]
fn a_corrupted_local_blob_fails_the_push_and_leaves_no_tag() {
    use std::os::unix::fs::PermissionsExt;
    let reg = plain();
    let client = client();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(dir.path().join("a")).unwrap();
    let m = build_image(&store, "bad", "amd64");
    let manifest: Manifest = serde_json::from_slice(&store.read_blob(&m.digest).unwrap()).unwrap();
    let layer = &manifest.layers[0].digest;
    let path = store.blob_path(layer);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&path, &bytes).unwrap();

    let dest = remote(&reg, "t/bad:1");
    let e = push_from_store(&client, &store, &m, &dest, &PushOptions::default()).unwrap_err();
    assert!(e.to_string().contains(&layer.to_string()), "{e}");
    assert_eq!(client.head_manifest(&dest.repo, "1").unwrap(), None);
    assert_eq!(client.head_blob(&dest.repo, layer).unwrap(), None);
}
