//! Tests of the store on real directories.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Barrier};
use std::thread;

use super::*;
use crate::types::{History, RootFs};

fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(dir.path().join("store")).unwrap();
    (dir, store)
}

/// Writes a small image (config + `layers` fake layer blobs + manifest) and returns the manifest
/// descriptor. `seed` makes images differ.
fn put_image(store: &Store, seed: &str, layers: usize) -> Descriptor {
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for i in 0..layers {
        let bytes = format!("layer {seed} {i}").into_bytes();
        let d = store.write_blob(media::OCI_LAYER_TAR, &bytes).unwrap();
        diff_ids.push(d.digest.clone());
        layer_descs.push(d);
    }
    let config = ImageConfig {
        created: Some(format!("2024-01-0{}T00:00:00Z", layers + 1)),
        architecture: "amd64".into(),
        os: "linux".into(),
        rootfs: RootFs {
            typ: "layers".into(),
            diff_ids,
        },
        history: vec![History {
            created_by: Some(seed.to_string()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let config = store.write_json(media::OCI_CONFIG, &config).unwrap();
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config,
        layers: layer_descs,
        subject: None,
        annotations: BTreeMap::new(),
    };
    store.write_json(media::OCI_MANIFEST, &manifest).unwrap()
}

/// Writes an OCI image index of `manifests` as a blob.
fn put_index(store: &Store, manifests: Vec<Descriptor>) -> Descriptor {
    store
        .write_json(
            media::OCI_INDEX,
            &Index {
                manifests,
                ..Default::default()
            },
        )
        .unwrap()
}

fn temp_files(store: &Store) -> Vec<PathBuf> {
    let dir = store.path().join(".plinth/tmp");
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn init_creates_a_layout_and_open_checks_it() {
    let (dir, store) = new_store();
    assert_eq!(
        std::fs::read_to_string(store.path().join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    assert!(store.path().join("blobs/sha256").is_dir());
    assert_eq!(store.index().unwrap(), Index::default());
    // init is idempotent and open accepts it
    Store::init(store.path()).unwrap();
    Store::open(store.path()).unwrap();

    let not_layout = dir.path().join("home");
    std::fs::create_dir(&not_layout).unwrap();
    std::fs::write(not_layout.join("notes.txt"), "x").unwrap();
    let e = Store::init(&not_layout).unwrap_err();
    assert!(matches!(e, StoreError::NotALayout { .. }), "{e}");
    assert!(!not_layout.join("oci-layout").exists());
    let e = Store::open(&not_layout).unwrap_err();
    assert!(e.to_string().contains("no oci-layout"), "{e}");

    std::fs::write(
        store.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"2.0.0"}"#,
    )
    .unwrap();
    assert!(matches!(
        Store::open(store.path()),
        Err(StoreError::UnsupportedLayoutVersion { .. })
    ));
}

#[test]
fn write_blob_is_idempotent_and_readable_by_others() {
    let (_d, store) = new_store();
    let a = store.write_blob("x/y", b"hello").unwrap();
    assert_eq!(a.digest, Digest::of(b"hello"));
    assert_eq!(a.size, 5);
    assert_eq!(a.media_type, "x/y");
    let path = store.blob_path(&a.digest);
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let b = store.write_blob("x/y", b"hello").unwrap();
    assert_eq!(a, b);
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        mtime,
        "not rewritten"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(store.read_blob(&a.digest).unwrap(), b"hello");
    assert!(temp_files(&store).is_empty());
}

#[test]
fn concurrent_writers_of_the_same_blob() {
    let (_d, store) = new_store();
    let content: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let content = Arc::new(content);
    let barrier = Arc::new(Barrier::new(6));
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let store = Store::open(store.path()).unwrap();
            let content = Arc::clone(&content);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let mut w = store.blob_writer().unwrap();
                barrier.wait();
                for chunk in content.chunks(7919) {
                    w.write_all(chunk).unwrap();
                }
                w.commit().unwrap()
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let expected = Digest::of(&content);
    for (d, n) in &results {
        assert_eq!(d, &expected);
        assert_eq!(*n, content.len() as u64);
    }
    assert_eq!(store.read_blob(&expected).unwrap(), *content);
    assert_eq!(store.blobs().unwrap().len(), 1);
    assert!(temp_files(&store).is_empty(), "{:?}", temp_files(&store));
}

#[test]
fn dropped_writer_leaves_nothing() {
    let (_d, store) = new_store();
    let mut w = store.blob_writer().unwrap();
    w.write_all(b"half a layer").unwrap();
    w.flush().unwrap();
    assert_eq!(
        temp_files(&store).len(),
        1,
        "the content is in a temp file while writing"
    );
    drop(w);
    assert!(temp_files(&store).is_empty());
    assert!(store.blobs().unwrap().is_empty());
    assert!(!store.has_blob(&Digest::of(b"half a layer")));
}

#[test]
fn commit_expect_refuses_a_mismatch() {
    let (_d, store) = new_store();
    let mut w = store.blob_writer().unwrap();
    w.write_all(b"actual").unwrap();
    let wanted = Digest::of(b"wanted");
    let e = w.commit_expect(&wanted).unwrap_err();
    match &e {
        StoreError::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, &wanted);
            assert_eq!(actual, &Digest::of(b"actual"));
        }
        other => panic!("unexpected {other}"),
    }
    assert!(store.blobs().unwrap().is_empty());
    assert!(temp_files(&store).is_empty());

    let mut w = store.blob_writer().unwrap();
    w.write_all(b"actual").unwrap();
    assert_eq!(w.commit_expect(&Digest::of(b"actual")).unwrap().1, 6);
    assert!(store.has_blob(&Digest::of(b"actual")));
}

#[test]
fn corrupt_and_missing_blobs_are_errors() {
    let (_d, store) = new_store();
    let d = store.write_blob("x", b"good content").unwrap();
    std::fs::write(store.blob_path(&d.digest), b"evil content").unwrap();
    let e = store.read_blob(&d.digest).unwrap_err();
    assert!(matches!(e, StoreError::CorruptBlob { .. }), "{e}");
    assert!(e.to_string().contains(&d.digest.to_string()));
    assert!(e.to_string().contains(&store.path().display().to_string()));

    let mut r = store.open_blob(&d.digest).unwrap();
    let mut buf = Vec::new();
    let e = r.read_to_end(&mut buf).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);

    let good = store.write_blob("x", b"fine").unwrap();
    let mut buf = Vec::new();
    store
        .open_blob(&good.digest)
        .unwrap()
        .read_to_end(&mut buf)
        .unwrap();
    assert_eq!(buf, b"fine");

    let absent = Digest::of(b"absent");
    let e = store.read_blob(&absent).unwrap_err();
    assert!(matches!(e, StoreError::MissingBlob { .. }));
    assert!(e.to_string().contains(&absent.to_string()), "{e}");
    assert!(matches!(
        store.open_blob(&absent),
        Err(StoreError::MissingBlob { .. })
    ));
}

#[test]
fn refs_are_normalized_replaced_and_shared() {
    let (_d, store) = new_store();
    let m1 = put_image(&store, "one", 1);
    let m2 = put_image(&store, "two", 2);
    assert_eq!(store.set_ref("app", &m1).unwrap(), "app:latest");
    store.set_ref("app:1.0", &m1).unwrap();
    store
        .set_ref("registry.example.com/team/app:1.0", &m1)
        .unwrap();
    store.set_ref("app", &m2).unwrap(); // replaces app:latest
    let refs = store.refs().unwrap();
    assert_eq!(
        refs,
        vec![
            ("app:latest".to_string(), m2.digest.clone()),
            ("app:1.0".to_string(), m1.digest.clone()),
            (
                "registry.example.com/team/app:1.0".to_string(),
                m1.digest.clone()
            ),
        ]
    );
    let entry = &store.index().unwrap().manifests[1];
    assert_eq!(entry.annotations[ANNOTATION_REF_NAME], "app:1.0");
    assert_eq!(entry.media_type, media::OCI_MANIFEST);
    assert!(matches!(
        store.set_ref("Bad Name", &m1),
        Err(StoreError::Reference(_))
    ));

    assert_eq!(store.remove_ref("app:1.0").unwrap().digest, m1.digest);
    assert!(matches!(
        store.remove_ref("app:1.0"),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.refs().unwrap().len(), 2);
}

#[test]
fn set_ref_refuses_an_incomplete_image() {
    let (_d, store) = new_store();
    let m = put_image(&store, "x", 2);
    let image = store.image(&m).unwrap();
    let layer = image.manifest.layers[1].digest.clone();
    std::fs::remove_file(store.blob_path(&layer)).unwrap();
    let before = std::fs::read(store.path().join("index.json")).unwrap();
    let e = store.set_ref("app", &m).unwrap_err();
    assert!(
        matches!(&e, StoreError::MissingBlob { digest, .. } if digest == &layer),
        "{e}"
    );
    assert_eq!(
        std::fs::read(store.path().join("index.json")).unwrap(),
        before
    );

    // a layer of the wrong size is refused too
    std::fs::write(store.blob_path(&layer), b"short").unwrap();
    let e = store.set_ref("app", &m).unwrap_err();
    assert!(matches!(e, StoreError::SizeMismatch { .. }), "{e}");
    assert!(store.refs().unwrap().is_empty());

    // a layer is not an image
    let l0 = image.manifest.layers[0].clone();
    assert!(matches!(
        store.set_ref("app", &l0),
        Err(StoreError::UnsupportedMediaType { .. })
    ));
}

#[test]
fn concurrent_ref_updates_from_separate_handles_all_land() {
    let (_d, store) = new_store();
    let images: Vec<Descriptor> = (0..4)
        .map(|i| put_image(&store, &format!("img{i}"), 1))
        .collect();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let store = Store::open(store.path()).unwrap();
            let target = images[t % images.len()].clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                for i in 0..10 {
                    store.set_ref(&format!("t{t}/app:{i}"), &target).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let refs = store.refs().unwrap();
    assert_eq!(refs.len(), 80);
    for t in 0..8 {
        for i in 0..10 {
            let name = format!("t{t}/app:{i}");
            let (_, d) = refs
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("{name} lost"));
            assert_eq!(d, &images[t % images.len()].digest);
        }
    }
    assert!(temp_files(&store).is_empty());
}

/// Runs this test binary again as a child process executing `test` with `PLINTH_TEST_CHILD` set,
/// so that the test acts as the child (see [`child_role`]).
fn spawn_child(test: &str, store: &Store, args: &str) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("PLINTH_TEST_CHILD", args)
        .env("PLINTH_TEST_STORE", store.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// In a child started by [`spawn_child`]: its store and arguments.
fn child_role() -> Option<(Store, String)> {
    let args = std::env::var("PLINTH_TEST_CHILD").ok()?;
    let store = Store::open(std::env::var("PLINTH_TEST_STORE").ok()?).unwrap();
    Some((store, args))
}

#[test]
fn concurrent_ref_updates_from_separate_processes_all_land() {
    if let Some((store, args)) = child_role() {
        let (prefix, target) = args.split_once(' ').unwrap();
        let target = store.resolve(target).unwrap().descriptor;
        for i in 0..10 {
            store
                .set_ref(&format!("{prefix}/app:{i}"), &target)
                .unwrap();
        }
        return;
    }
    let (_d, store) = new_store();
    let m = put_image(&store, "proc", 1);
    let test = "store::tests::concurrent_ref_updates_from_separate_processes_all_land";
    let children: Vec<_> = (0..3)
        .map(|p| spawn_child(test, &store, &format!("p{p} {}", m.digest)))
        .collect();
    for c in children {
        assert!(c.wait_with_output().unwrap().status.success());
    }
    let refs = store.refs().unwrap();
    for p in 0..3 {
        for i in 0..10 {
            let name = format!("p{p}/app:{i}");
            assert!(
                refs.iter().any(|(n, d)| *n == name && d == &m.digest),
                "{name} lost"
            );
        }
    }
    assert_eq!(refs.len(), 30);
}

#[test]
fn a_killed_build_leaves_no_blob_and_no_ref() {
    if let Some((store, _)) = child_role() {
        // A build: session open, one blob committed, another half written, then it hangs.
        let _session = store.session().unwrap();
        let m = put_image(&store, "killed", 1);
        let mut w = store.blob_writer().unwrap();
        w.write_all(b"half of a big layer").unwrap();
        w.flush().unwrap();
        println!("ready {}", m.digest);
        std::io::stdout().flush().unwrap();
        thread::sleep(Duration::from_secs(120));
        return;
    }
    /// Kills the child even when an assertion fails first.
    struct Killer(std::process::Child);
    impl Killer {
        fn kill(&mut self) {
            let pid = rustix::process::Pid::from_child(&self.0);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            let _ = self.0.wait();
        }
    }
    impl Drop for Killer {
        fn drop(&mut self) {
            self.kill();
        }
    }
    let (_d, store) = new_store();
    let mut child = Killer(spawn_child(
        "store::tests::a_killed_build_leaves_no_blob_and_no_ref",
        &store,
        "",
    ));
    let mut line = String::new();
    let mut reader = io::BufReader::new(child.0.stdout.take().unwrap());
    while !line.contains("ready ") {
        line.clear();
        assert!(
            io::BufRead::read_line(&mut reader, &mut line).unwrap() > 0,
            "child exited early"
        );
    }
    let manifest: Digest = line.split("ready ").nth(1).unwrap().trim().parse().unwrap();
    // another process's session holds gc off
    let e = store.gc(GcWait::NoWait).unwrap_err();
    assert!(matches!(e, StoreError::Busy { sessions: 1, .. }), "{e}");
    assert!(store.has_blob(&manifest));
    assert_eq!(temp_files(&store).len(), 1, "the half-written blob");

    child.kill();

    assert!(store.refs().unwrap().is_empty(), "no ref");
    assert!(!store.has_blob(&Digest::of(b"half of a big layer")));
    let report = store.gc(GcWait::NoWait).unwrap();
    assert!(report.removed_blobs.contains(&manifest), "{report:?}");
    assert!(
        report.removed_temp_files >= 2,
        "temp file and session file: {report:?}"
    );
    assert!(store.blobs().unwrap().is_empty());
    assert!(temp_files(&store).is_empty());
}

#[test]
fn resolve_by_name_digest_and_prefix() {
    let (_d, store) = new_store();
    let m1 = put_image(&store, "one", 1);
    let m2 = put_image(&store, "two", 1);
    store
        .set_ref("registry.example.com/team/app:1.0", &m1)
        .unwrap();
    store.set_ref("other", &m2).unwrap();

    let r = store.resolve("registry.example.com/team/app:1.0").unwrap();
    assert_eq!(r.descriptor.digest, m1.digest);
    assert_eq!(r.name.as_deref(), Some("registry.example.com/team/app:1.0"));
    assert_eq!(store.resolve("other").unwrap().descriptor.digest, m2.digest);
    assert_eq!(
        store.resolve("other:latest").unwrap().descriptor.digest,
        m2.digest
    );

    assert_eq!(
        store
            .resolve(&m1.digest.to_string())
            .unwrap()
            .descriptor
            .digest,
        m1.digest
    );
    let by_name_digest = store
        .resolve(&format!("registry.example.com/team/app:1.0@{}", m1.digest))
        .unwrap();
    assert_eq!(by_name_digest.descriptor.digest, m1.digest);
    assert_eq!(
        by_name_digest.name.as_deref(),
        Some("registry.example.com/team/app:1.0")
    );

    // prefixes of the manifest digest and of the image ID (config digest)
    assert_eq!(
        store
            .resolve(&m2.digest.hex()[..12])
            .unwrap()
            .descriptor
            .digest,
        m2.digest
    );
    assert_eq!(
        store
            .resolve(&format!("sha256:{}", &m2.digest.hex()[..20]))
            .unwrap()
            .descriptor
            .digest,
        m2.digest
    );
    let id = store.image(&m1).unwrap().id().clone();
    assert_eq!(
        store.resolve(&id.hex()[..12]).unwrap().descriptor.digest,
        m1.digest
    );
    assert_eq!(
        store.resolve(&id.to_string()).unwrap().descriptor.digest,
        m1.digest
    );
    assert_eq!(
        store.resolve(id.hex()).unwrap().descriptor.digest,
        m1.digest
    );

    // an unreferenced manifest is found by its full digest only
    let m3 = put_image(&store, "three", 1);
    let r = store.resolve(&m3.digest.to_string()).unwrap();
    assert_eq!(r.name, None);
    assert_eq!(r.descriptor.media_type, media::OCI_MANIFEST);
    assert_eq!(r.descriptor.size, m3.size);
    assert!(matches!(
        store.resolve(&m3.digest.hex()[..12]),
        Err(StoreError::NotFound { .. })
    ));

    // too short a prefix is just an unknown name
    assert!(matches!(
        store.resolve(&m1.digest.hex()[..11]),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.resolve("nope"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.resolve("Not A Ref"),
        Err(StoreError::Reference(_))
    ));
    // a layer digest is not an image
    let layer = store.image(&m1).unwrap().manifest.layers[0].digest.clone();
    assert!(matches!(
        store.resolve(&layer.to_string()),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn ambiguous_prefix_is_an_error() {
    let (_d, store) = new_store();
    // Two entries whose digests share 14 hex digits (written by hand: real collisions are out of reach).
    let a: Digest = format!("sha256:{}{}", "abcdef01234567", "0".repeat(50))
        .parse()
        .unwrap();
    let b: Digest = format!("sha256:{}{}", "abcdef01234567", "1".repeat(50))
        .parse()
        .unwrap();
    let mut index = Index::default();
    for (n, d) in [("a", &a), ("b", &b)] {
        let mut desc = Descriptor::new(media::OCI_MANIFEST, d.clone(), 10);
        desc.annotations
            .insert(ANNOTATION_REF_NAME.into(), format!("{n}:latest"));
        index.manifests.push(desc);
    }
    std::fs::write(
        store.path().join("index.json"),
        json::to_canonical_vec(&index).unwrap(),
    )
    .unwrap();
    match store.resolve("abcdef0123456") {
        Err(StoreError::AmbiguousPrefix { candidates, .. }) => {
            assert_eq!(candidates, vec![a.clone(), b.clone()])
        }
        other => panic!("expected ambiguity, got {other:?}"),
    }
    let e = store.resolve("abcdef01234567").unwrap_err();
    assert!(e.to_string().contains("ambiguous"), "{e}");
    assert_eq!(
        store.resolve("abcdef012345670").unwrap().descriptor.digest,
        a
    );
    assert_eq!(
        store.resolve("abcdef012345671").unwrap().name.as_deref(),
        Some("b:latest")
    );
}

#[test]
fn list_refs_reports_size_and_created() {
    let (_d, store) = new_store();
    let m = put_image(&store, "sz", 3);
    store.set_ref("app:1", &m).unwrap();
    let img = store.image(&m).unwrap();
    let expected_size =
        img.manifest.config.size + img.manifest.layers.iter().map(|l| l.size).sum::<u64>();
    // a broken image is listed with its error, the others still work
    let broken = put_image(&store, "broken", 1);
    store.set_ref("broken", &broken).unwrap();
    let broken_cfg = store.image(&broken).unwrap().manifest.config.digest;
    std::fs::remove_file(store.blob_path(&broken_cfg)).unwrap();

    let list = store.list_refs().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].name, "app:1");
    assert_eq!(list[0].descriptor.digest, m.digest);
    let s = list[0].summary.as_ref().unwrap();
    assert_eq!(s.size, expected_size);
    assert_eq!(s.created.as_deref(), Some("2024-01-04T00:00:00Z"));
    assert_eq!(&s.image_id, img.id());
    assert!(matches!(
        list[1].summary,
        Err(StoreError::MissingBlob { .. })
    ));
}

#[test]
fn image_reads_docker_manifests_and_picks_from_an_index() {
    let (_d, store) = new_store();
    let layer = store
        .write_blob(media::DOCKER_LAYER_GZIP, b"not really gzip")
        .unwrap();
    let cfg_bytes = br#"{"architecture":"amd64","os":"linux","config":{"Healthcheck":{"Test":["CMD","true"]}},"rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"#;
    let cfg = store.write_blob(media::DOCKER_CONFIG, cfg_bytes).unwrap();
    let docker_manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{},"layers":[{}]}}"#,
        media::DOCKER_MANIFEST,
        serde_json::to_string(&cfg).unwrap(),
        serde_json::to_string(&layer).unwrap()
    );
    let dm = store
        .write_blob(media::DOCKER_MANIFEST, docker_manifest.as_bytes())
        .unwrap();
    let img = store.image(&dm).unwrap();
    assert_eq!(img.config_bytes, cfg_bytes, "config bytes kept as stored");
    assert_eq!(
        img.config.config.healthcheck.as_ref().unwrap().test,
        vec!["CMD", "true"]
    );
    assert_eq!(img.manifest.layers[0].media_type, media::DOCKER_LAYER_GZIP);

    let arm = put_image(&store, "arm", 1);
    let mut arm_entry = arm.clone();
    arm_entry.platform = Some(Platform {
        architecture: "arm64".into(),
        os: "linux".into(),
        variant: Some("v8".into()),
        os_version: None,
    });
    let mut amd_entry = dm.clone();
    amd_entry.platform = Some(default_platform());
    let idx = put_index(&store, vec![arm_entry.clone(), amd_entry]);
    assert_eq!(store.image(&idx).unwrap().descriptor.digest, dm.digest);
    let arm64 = Platform {
        architecture: "arm64".into(),
        os: "linux".into(),
        variant: None,
        os_version: None,
    };
    assert_eq!(
        store.image_for(&idx, &arm64).unwrap().descriptor.digest,
        arm.digest
    );

    let only_arm = put_index(&store, vec![arm_entry]);
    let e = store.image(&only_arm).unwrap_err();
    assert!(matches!(e, StoreError::NoMatchingPlatform { .. }), "{e}");
    assert!(e.to_string().contains("linux/arm64/v8"), "{e}");

    // a bad manifest is a clear error
    let junk = store
        .write_blob(media::OCI_MANIFEST, b"{\"schemaVersion\":2}")
        .unwrap();
    let e = store.image(&junk).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::BadJson {
                what: "manifest",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn corrupt_index_is_a_clear_error() {
    let (_d, store) = new_store();
    let m = put_image(&store, "x", 1);
    std::fs::write(store.path().join("index.json"), b"{\"manifests\": [").unwrap();
    for e in [
        store.index().unwrap_err(),
        store.resolve("app").unwrap_err(),
        store.set_ref("app", &m).unwrap_err(),
        store.list_refs().unwrap_err(),
        store.gc(GcWait::NoWait).unwrap_err(),
    ] {
        assert!(matches!(e, StoreError::CorruptIndex { .. }), "{e}");
        assert!(e.to_string().contains("index.json"), "{e}");
    }
    assert!(
        store.blobs().unwrap().contains(&m.digest),
        "gc deleted nothing"
    );
}

#[test]
fn gc_keeps_reachable_and_removes_the_rest() {
    let (_d, store) = new_store();
    let kept = put_image(&store, "kept", 2);
    let via_index = put_image(&store, "via-index", 1);
    let mut entry = via_index.clone();
    entry.platform = Some(default_platform());
    let index = put_index(&store, vec![entry]);
    // a referrer whose subject is `kept`: reachable only when it itself is referenced; and the
    // subject of a referenced referrer is kept.
    let subject_only = put_image(&store, "subject", 1);
    let art_cfg = store
        .write_blob("application/vnd.example+json", b"{}")
        .unwrap();
    let referrer = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: Some("application/vnd.example".into()),
        config: art_cfg.clone(),
        layers: vec![],
        subject: Some(subject_only.clone()),
        annotations: BTreeMap::new(),
    };
    let referrer = store.write_json(media::OCI_MANIFEST, &referrer).unwrap();
    let garbage = put_image(&store, "garbage", 2);
    let garbage_img = store.image(&garbage).unwrap();
    let stray = store.write_blob("x", b"stray").unwrap();

    store.set_ref("kept", &kept).unwrap();
    store.set_ref("multi", &index).unwrap();
    // a ref on the referrer (not an image, but a manifest): set it by hand, set_ref wants images
    store
        .update_index(|i| {
            let mut d = referrer.clone();
            d.annotations
                .insert(ANNOTATION_REF_NAME.into(), "sig".into());
            i.manifests.push(d);
            Ok(())
        })
        .unwrap();
    // a stale temp file from a killed process
    std::fs::write(store.tmp_dir().unwrap().join("blob-stale"), b"partial").unwrap();

    let before = store.blobs().unwrap();
    let report = store.gc(GcWait::NoWait).unwrap();
    let after = store.blobs().unwrap();

    let mut expect_removed: Vec<Digest> = vec![
        garbage.digest.clone(),
        garbage_img.id().clone(),
        stray.digest.clone(),
    ];
    expect_removed.extend(garbage_img.manifest.layers.iter().map(|l| l.digest.clone()));
    expect_removed.sort();
    let mut removed = report.removed_blobs.clone();
    removed.sort();
    assert_eq!(removed, expect_removed);
    assert_eq!(report.removed_temp_files, 1);
    assert!(temp_files(&store).is_empty());
    assert_eq!(before.len() - after.len(), expect_removed.len());
    for d in [
        &kept,
        &via_index,
        &index,
        &subject_only,
        &referrer,
        &art_cfg,
    ] {
        assert!(after.contains(&d.digest), "{} was removed", d.digest);
    }
    for i in [&kept, &via_index, &subject_only] {
        let img = store.image(i).unwrap();
        assert!(after.contains(img.id()));
        for l in &img.manifest.layers {
            assert!(after.contains(&l.digest));
        }
    }
    // running it again removes nothing
    assert_eq!(store.gc(GcWait::NoWait).unwrap(), GcReport::default());
}

#[test]
fn gc_freed_bytes_add_up() {
    let (_d, store) = new_store();
    let a = store.write_blob("x", &[1u8; 1000]).unwrap();
    let b = store.write_blob("x", &[2u8; 234]).unwrap();
    let report = store.gc(GcWait::NoWait).unwrap();
    assert_eq!(report.freed_bytes, a.size + b.size);
    assert_eq!(report.removed_blobs.len(), 2);
    assert!(store.blobs().unwrap().is_empty());
}

#[test]
fn gc_refuses_while_a_session_is_open_and_can_wait() {
    let (_d, store) = new_store();
    let session = store.session().unwrap();
    // a build in progress: blob written, ref not yet set
    let pending = put_image(&store, "pending", 1);
    let other = Store::open(store.path()).unwrap();
    let e = other.gc(GcWait::NoWait).unwrap_err();
    assert!(matches!(e, StoreError::Busy { sessions: 1, .. }), "{e}");
    assert!(
        e.to_string().starts_with("store busy: 1 build running"),
        "{e}"
    );
    let second = store.session().unwrap();
    let e = other.gc(GcWait::NoWait).unwrap_err();
    assert!(
        e.to_string().starts_with("store busy: 2 builds running"),
        "{e}"
    );
    drop(second);

    // an open blob writer also holds gc off
    let w = store.blob_writer().unwrap();
    drop(session);
    let e = other
        .gc(GcWait::Timeout(Duration::from_millis(120)))
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("store busy: blobs are being written"),
        "{e}"
    );
    drop(w);

    // the build finishes while gc waits
    let session = store.session().unwrap();
    let builder = {
        let store = store.clone();
        let pending = pending.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(300));
            store.set_ref("pending", &pending).unwrap();
            drop(session);
        })
    };
    let started = Instant::now();
    let report = other.gc(GcWait::Timeout(Duration::from_secs(20))).unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "gc waited for the session"
    );
    builder.join().unwrap();
    assert!(report.removed_blobs.is_empty(), "{report:?}");
    assert!(store.image(&pending).is_ok());
    assert!(
        std::fs::read_dir(store.path().join(".plinth/sessions"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn dead_sessions_do_not_block_gc() {
    let (_d, store) = new_store();
    // a session file left by a killed process: present but unlocked
    let dir = store.private_dir("sessions").unwrap();
    std::fs::write(dir.join("999999-1-1"), b"").unwrap();
    let report = store.gc(GcWait::NoWait).unwrap();
    assert_eq!(report.removed_temp_files, 1);
    assert!(std::fs::read_dir(dir).unwrap().next().is_none());
}

// ---------------------------------------------------------------------------------------------
// Extra gc roots

#[test]
fn a_root_keeps_its_blobs_until_it_is_removed() {
    let (_d, store) = new_store();
    let image = put_image(&store, "rooted", 2);
    let img = store.image(&image).unwrap();
    let loose = store
        .write_blob(media::OCI_LAYER_TAR, b"loose layer")
        .unwrap();
    store
        .set_root("test", "img", std::slice::from_ref(&image))
        .unwrap();
    store
        .set_root("other", "layer", std::slice::from_ref(&loose))
        .unwrap();
    let names: Vec<_> = store
        .roots("test")
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["img"]);
    assert_eq!(
        store.root("test", "img").unwrap().unwrap().descriptors,
        std::slice::from_ref(&image)
    );
    assert_eq!(store.root("test", "absent").unwrap(), None);

    let report = store.gc(GcWait::NoWait).unwrap();
    assert!(report.removed_blobs.is_empty(), "{report:?}");
    let blobs = store.blobs().unwrap();
    assert!(blobs.contains(&image.digest) && blobs.contains(img.id()));
    assert!(
        img.manifest
            .layers
            .iter()
            .all(|l| blobs.contains(&l.digest))
    );
    assert!(blobs.contains(&loose.digest));

    assert!(store.remove_root("test", "img").unwrap());
    assert!(!store.remove_root("test", "img").unwrap());
    let report = store.gc(GcWait::NoWait).unwrap();
    let mut expected = vec![image.digest.clone(), img.id().clone()];
    expected.extend(img.manifest.layers.iter().map(|l| l.digest.clone()));
    expected.sort();
    let mut removed = report.removed_blobs.clone();
    removed.sort();
    assert_eq!(removed, expected);
    assert!(
        store.has_blob(&loose.digest),
        "the other root still holds it"
    );
    store.remove_root("other", "layer").unwrap();
    assert_eq!(
        store.gc(GcWait::NoWait).unwrap().removed_blobs,
        std::slice::from_ref(&loose.digest)
    );
}

#[test]
fn roots_are_checked_written_atomically_and_tolerate_missing_blobs_in_gc() {
    let (_d, store) = new_store();
    let blob = store.write_blob(media::OCI_LAYER_TAR, b"data").unwrap();
    // Like a ref, a root is written only when its blobs are there.
    let absent = Descriptor::new(media::OCI_LAYER_TAR, Digest::of(b"never stored"), 12);
    let e = store
        .set_root("g", "r", std::slice::from_ref(&absent))
        .unwrap_err();
    assert!(matches!(e, StoreError::MissingBlob { .. }), "{e}");
    let mut wrong_size = blob.clone();
    wrong_size.size += 1;
    assert!(matches!(
        store.set_root("g", "r", &[wrong_size]),
        Err(StoreError::SizeMismatch { .. })
    ));
    assert!(store.roots("g").unwrap().is_empty());

    // Names are checked.
    for bad in ["", ".hidden", "a/b", "..", "sp ace", &"x".repeat(201)] {
        assert!(
            matches!(
                store.set_root("g", bad, &[]),
                Err(StoreError::InvalidRootName { .. })
            ),
            "{bad:?}"
        );
        assert!(store.set_root(bad, "r", &[]).is_err(), "{bad:?}");
    }

    // Full roots round-trip, with the owner's data.
    let root = Root {
        descriptors: vec![blob.clone()],
        diff_ids: vec![Digest::of(b"some tar")],
        data: serde_json::json!({"createdBy": "RUN x", "n": [1, 2]}),
    };
    store.set_root_with("g", "r", &root).unwrap();
    assert_eq!(store.root("g", "r").unwrap(), Some(root.clone()));
    assert!(temp_files(&store).is_empty(), "no temp file left");

    // A root listing a blob that went missing does not stop gc.
    std::fs::remove_file(store.blob_path(&blob.digest)).unwrap();
    let keep = store.write_blob(media::OCI_LAYER_TAR, b"kept").unwrap();
    store
        .set_root("g", "keep", std::slice::from_ref(&keep))
        .unwrap();
    let report = store.gc(GcWait::NoWait).unwrap();
    assert!(report.removed_blobs.is_empty());
    assert!(store.has_blob(&keep.digest));

    // touch_root moves the mtime forward.
    let path = store.root_path("g", "r").unwrap();
    let old = Timestamps {
        last_access: Timespec {
            tv_sec: 1000,
            tv_nsec: 0,
        },
        last_modification: Timespec {
            tv_sec: 1000,
            tv_nsec: 0,
        },
    };
    rustix::fs::utimensat(rustix::fs::CWD, &path, &old, rustix::fs::AtFlags::empty()).unwrap();
    let before = store.roots("g").unwrap();
    let r = before.iter().find(|r| r.name == "r").unwrap();
    assert_eq!(r.modified, UNIX_EPOCH + Duration::from_secs(1000));
    assert!(store.touch_root("g", "r").unwrap());
    assert!(!store.touch_root("g", "gone").unwrap());
    let after = store.roots("g").unwrap();
    let r = after.iter().find(|r| r.name == "r").unwrap();
    assert!(r.modified > SystemTime::now() - Duration::from_secs(60));
}

#[test]
fn a_corrupt_root_stops_gc_before_it_deletes_anything() {
    let (_d, store) = new_store();
    let stray = store.write_blob("x", b"stray").unwrap();
    store.set_root("g", "ok", &[]).unwrap();
    std::fs::write(store.root_path("g", "bad").unwrap(), b"{not json").unwrap();
    let e = store.gc(GcWait::NoWait).unwrap_err();
    assert!(matches!(e, StoreError::CorruptRoot { .. }), "{e}");
    assert!(e.to_string().contains("bad.json"), "{e}");
    assert!(store.has_blob(&stray.digest));
    store.remove_root("g", "bad").unwrap();
    assert_eq!(
        store.gc(GcWait::NoWait).unwrap().removed_blobs,
        std::slice::from_ref(&stray.digest)
    );
}

// ---------------------------------------------------------------------------------------------
// Extracted layers

use crate::layer::{
    Compression, EntryKind, FileSource, LayerEntry, LayerOptions, OVERLAY_OPAQUE_XATTR, write_layer,
};
use rustix::fs::{Timespec, Timestamps};
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// Writes a real layer with a few files (contents vary with `seed`) into the store.
fn put_layer(store: &Store, seed: &str, compression: Compression) -> (Descriptor, Digest) {
    let entries = vec![
        LayerEntry::new("etc", EntryKind::Dir, 0o755, 0, 0),
        LayerEntry::new(
            "etc/seed",
            EntryKind::File(FileSource::Bytes(seed.as_bytes().into())),
            0o644,
            0,
            0,
        ),
        LayerEntry::new("etc/gone", EntryKind::Whiteout, 0, 0, 0),
        LayerEntry::new("ro", EntryKind::OpaqueWhiteout, 0o555, 0, 0),
        LayerEntry::new(
            "ro/file",
            EntryKind::File(FileSource::Bytes(b"read-only dir".as_slice().into())),
            0o444,
            0,
            0,
        ),
    ];
    let opts = LayerOptions {
        compression,
        source_date_epoch: 0,
    };
    let (w, bytes) = write_layer(entries, &opts, Vec::new()).unwrap();
    let d = store.write_blob(w.media_type, &bytes).unwrap();
    assert_eq!(d.digest, w.digest);
    (d, w.diff_id)
}

/// An image (in no ref) whose config lists `layers`.
fn put_image_of(store: &Store, layers: &[(Descriptor, Digest)]) -> Descriptor {
    let config = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        rootfs: RootFs {
            typ: "layers".into(),
            diff_ids: layers.iter().map(|(_, d)| d.clone()).collect(),
        },
        ..Default::default()
    };
    let config = store.write_json(media::OCI_CONFIG, &config).unwrap();
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config,
        layers: layers.iter().map(|(l, _)| l.clone()).collect(),
        subject: None,
        annotations: BTreeMap::new(),
    };
    store.write_json(media::OCI_MANIFEST, &manifest).unwrap()
}

fn layer_dirs(store: &Store) -> Vec<String> {
    let mut out: Vec<String> = match std::fs::read_dir(store.path().join(".plinth/layers")) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[test]
fn extracted_layer_is_extracted_once_in_overlay_format() {
    if !is_root() {
        eprintln!("skipped: overlay whiteouts and trusted xattrs need root");
        return;
    }
    let (_d, store) = new_store();
    let (layer, diff_id) = put_layer(&store, "one", Compression::Gzip);
    let dir = store.extracted_layer(&layer, &diff_id).unwrap();
    assert_eq!(dir, store.path().join(".plinth/layers").join(diff_id.hex()));
    assert_eq!(dir, store.extracted_layer_path(&diff_id));
    assert_eq!(std::fs::read(dir.join("etc/seed")).unwrap(), b"one");
    let wh = std::fs::symlink_metadata(dir.join("etc/gone")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    let mut v = [0u8; 4];
    let n =
        rustix::fs::getxattr(dir.join("ro").as_path(), OVERLAY_OPAQUE_XATTR, &mut v[..]).unwrap();
    assert_eq!(&v[..n], b"y");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&dir), 0o755, "the layer root is usable as /");
    assert_eq!(mode(&dir.join("ro")), 0o555);
    assert_eq!(mode(&store.path().join(".plinth/layers")), 0o700);
    assert!(temp_files(&store).is_empty(), "the temp dir is gone");

    // The second call finds it: same inode, and a marker planted in it survives.
    let ino = std::fs::metadata(dir.join("etc/seed")).unwrap().ino();
    std::fs::write(dir.join("marker"), b"m").unwrap();
    let again = store.extracted_layer(&layer, &diff_id).unwrap();
    assert_eq!(again, dir);
    assert_eq!(std::fs::metadata(dir.join("etc/seed")).unwrap().ino(), ino);
    assert!(dir.join("marker").exists(), "not re-extracted");
    assert_eq!(layer_dirs(&store), [diff_id.hex()]);
}

#[test]
fn extracted_layer_refuses_a_wrong_diff_id_or_a_corrupt_blob() {
    if !is_root() {
        eprintln!("skipped: overlay whiteouts and trusted xattrs need root");
        return;
    }
    let (_d, store) = new_store();
    let (layer, diff_id) = put_layer(&store, "two", Compression::Zstd);
    let wrong = Digest::of(b"not the tar");
    let e = store.extracted_layer(&layer, &wrong).unwrap_err();
    match &e {
        StoreError::DiffIdMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, &wrong);
            assert_eq!(actual, &diff_id);
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(layer_dirs(&store).is_empty(), "nothing kept");
    assert!(temp_files(&store).is_empty(), "temp dir removed");

    // A blob whose bytes changed on disk (same size, a file's content: the tar still reads):
    // the blob digest check at the end fails, nothing is kept.
    let (plain, plain_diff) = put_layer(&store, "corrupt-me", Compression::None);
    let path = store.blob_path(&plain.digest);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.windows(10).position(|w| w == b"corrupt-me").unwrap();
    bytes[at] = b'C';
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let e = store.extracted_layer(&plain, &plain_diff).unwrap_err();
    assert!(matches!(e, StoreError::CorruptBlob { .. }), "{e}");
    // Corrupt compressed data is an extraction error.
    let path = store.blob_path(&layer.digest);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let e = store.extracted_layer(&layer, &diff_id).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::ExtractLayer { .. } | StoreError::CorruptBlob { .. }
        ),
        "{e}"
    );
    assert!(layer_dirs(&store).is_empty());
    assert!(temp_files(&store).is_empty());

    // A descriptor with the wrong size or a missing blob.
    let (layer2, diff2) = put_layer(&store, "three", Compression::None);
    let mut bad = layer2.clone();
    bad.size -= 1;
    assert!(matches!(
        store.extracted_layer(&bad, &diff2),
        Err(StoreError::SizeMismatch { .. })
    ));
    let missing = Descriptor::new(media::OCI_LAYER_TAR, Digest::of(b"absent"), 3);
    assert!(matches!(
        store.extracted_layer(&missing, &diff2),
        Err(StoreError::MissingBlob { .. })
    ));
    assert!(layer_dirs(&store).is_empty());
}

#[test]
fn concurrent_extractions_agree_on_one_directory() {
    if !is_root() {
        eprintln!("skipped: overlay whiteouts and trusted xattrs need root");
        return;
    }
    let (_d, store) = new_store();
    let (layer, diff_id) = put_layer(&store, "race", Compression::Gzip);
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let store = Store::open(store.path()).unwrap();
            let (layer, diff_id) = (layer.clone(), diff_id.clone());
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                store.extracted_layer(&layer, &diff_id).unwrap()
            })
        })
        .collect();
    let dirs: Vec<PathBuf> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(dirs.iter().all(|d| d == &dirs[0]));
    assert_eq!(layer_dirs(&store), [diff_id.hex()]);
    assert_eq!(std::fs::read(dirs[0].join("etc/seed")).unwrap(), b"race");
    assert!(temp_files(&store).is_empty(), "losers cleaned up");
}

#[test]
fn gc_removes_unused_extracted_layers_and_interrupted_extractions() {
    if !is_root() {
        eprintln!("skipped: overlay whiteouts and trusted xattrs need root");
        return;
    }
    let (_d, store) = new_store();
    let in_index = put_layer(&store, "index", Compression::Gzip);
    let in_root_image = put_layer(&store, "root image", Compression::Gzip);
    let in_root_diff = put_layer(&store, "root diff", Compression::Gzip);
    let unused = put_layer(&store, "unused", Compression::Gzip);
    let image = put_image_of(&store, std::slice::from_ref(&in_index));
    store.set_ref("app", &image).unwrap();
    let rooted_image = put_image_of(&store, std::slice::from_ref(&in_root_image));
    store.set_root("keep", "image", &[rooted_image]).unwrap();
    store
        .set_root_with(
            "keep",
            "diff",
            &Root {
                descriptors: vec![in_root_diff.0.clone()],
                diff_ids: vec![in_root_diff.1.clone()],
                data: serde_json::Value::Null,
            },
        )
        .unwrap();
    for (l, d) in [&in_index, &in_root_image, &in_root_diff, &unused] {
        store.extracted_layer(l, d).unwrap();
    }
    // A killed extraction: a temp dir with a read-only directory and a whiteout device in it.
    let stale = store.tmp_dir().unwrap().join("layer-killed");
    std::fs::create_dir_all(stale.join("root/ro/sub")).unwrap();
    std::fs::write(stale.join("root/ro/sub/f"), b"partial").unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        stale.join("root/ro/wh"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        0,
    )
    .unwrap();
    std::fs::set_permissions(
        stale.join("root/ro/sub"),
        std::fs::Permissions::from_mode(0o555),
    )
    .unwrap();
    std::fs::set_permissions(
        stale.join("root/ro"),
        std::fs::Permissions::from_mode(0o555),
    )
    .unwrap();

    let report = store.gc(GcWait::NoWait).unwrap();
    assert_eq!(report.removed_layer_dirs, std::slice::from_ref(&unused.1));
    assert_eq!(report.removed_blobs, std::slice::from_ref(&unused.0.digest));
    assert_eq!(report.removed_temp_files, 1);
    assert!(!stale.exists());
    let mut expected = vec![
        in_index.1.hex().to_string(),
        in_root_image.1.hex().to_string(),
        in_root_diff.1.hex().to_string(),
    ];
    expected.sort();
    assert_eq!(layer_dirs(&store), expected);

    // Dropping the ref and the roots lets gc remove the rest.
    store.remove_ref("app").unwrap();
    store.remove_root("keep", "image").unwrap();
    store.remove_root("keep", "diff").unwrap();
    let report = store.gc(GcWait::NoWait).unwrap();
    assert_eq!(report.removed_layer_dirs.len(), 3);
    assert!(layer_dirs(&store).is_empty());
    assert!(store.blobs().unwrap().is_empty());
}

#[test]
fn remove_tree_handles_directories_without_permissions() {
    if !is_root() {
        eprintln!("skipped: needs root to drop CAP_DAC_OVERRIDE in a thread");
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let make = |top: &Path| {
        std::fs::create_dir_all(top.join("ro/deep")).unwrap();
        std::fs::write(top.join("ro/deep/f"), b"f").unwrap();
        std::fs::create_dir_all(top.join("none/x")).unwrap();
        std::fs::write(top.join("none/x/g"), b"g").unwrap();
        std::os::unix::fs::symlink("/etc", top.join("ro/link")).unwrap();
        for (p, m) in [
            ("ro/deep", 0o555),
            ("ro", 0o555),
            ("none/x", 0o000),
            ("none", 0o000),
        ] {
            std::fs::set_permissions(top.join(p), std::fs::Permissions::from_mode(m)).unwrap();
        }
    };
    let plain = base.path().join("plain");
    let tree = base.path().join("tree");
    make(&plain);
    make(&tree);
    let (plain_err, ours) = thread::scope(|s| {
        s.spawn(|| {
            // Capabilities are per thread: this one loses the permission bypass, like a
            // non-root user (it stays the files' owner, so it may chmod them).
            let mut caps = rustix::thread::capabilities(None).unwrap();
            caps.effective -= rustix::thread::CapabilitySet::DAC_OVERRIDE
                | rustix::thread::CapabilitySet::DAC_READ_SEARCH;
            rustix::thread::set_capabilities(None, caps).unwrap();
            let plain_err = std::fs::remove_dir_all(&plain).unwrap_err().kind();
            (plain_err, super::extracted::remove_tree(&tree))
        })
        .join()
        .unwrap()
    });
    assert_eq!(
        plain_err,
        io::ErrorKind::PermissionDenied,
        "the case is real"
    );
    ours.unwrap();
    assert!(!tree.exists());
    assert!(Path::new("/etc").exists(), "the symlink was not followed");
    super::extracted::remove_tree(&plain).unwrap();
    assert!(!plain.exists());
    super::extracted::remove_tree(&plain).unwrap();
}

/// The files of the store's file pool (`.plinth/pool/<2 hex>/*`).
fn pool_files(store: &Store) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(store.path().join(".plinth/pool"))
        .min_depth(2)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .collect();
    out.sort();
    out
}

#[test]
fn extracted_layers_share_pooled_files_and_gc_removes_unused_ones() {
    if !is_root() {
        eprintln!("skipped: overlay whiteouts and trusted xattrs need root");
        return;
    }
    let (_d, store) = new_store();
    // Both layers hold an identical `ro/file`; `etc/seed` differs.
    let kept = put_layer(&store, "kept", Compression::Gzip);
    let dropped = put_layer(&store, "dropped", Compression::Zstd);
    let image = put_image_of(&store, std::slice::from_ref(&kept));
    store.set_ref("app", &image).unwrap();
    let kept_dir = store.extracted_layer(&kept.0, &kept.1).unwrap();
    let dropped_dir = store.extracted_layer(&dropped.0, &dropped.1).unwrap();
    let md = |p: PathBuf| std::fs::symlink_metadata(p).unwrap();
    let (a, b) = (
        md(kept_dir.join("ro/file")),
        md(dropped_dir.join("ro/file")),
    );
    assert_eq!(a.ino(), b.ino(), "identical files share one inode");
    assert_eq!(a.nlink(), 3, "two layers and the pool");
    assert_ne!(
        md(kept_dir.join("etc/seed")).ino(),
        md(dropped_dir.join("etc/seed")).ino()
    );
    assert_eq!(md(kept_dir.join("etc/seed")).nlink(), 2);
    let pool = store.path().join(".plinth/pool");
    assert_eq!(
        std::fs::metadata(&pool).unwrap().permissions().mode() & 0o7777,
        0o700
    );
    let files = pool_files(&store);
    assert_eq!(files.len(), 3, "{files:?}");
    for f in &files {
        // `<2 hex>/<key hex>`.
        let name = f.file_name().unwrap().to_str().unwrap();
        let sub = f.parent().unwrap().file_name().unwrap().to_str().unwrap();
        assert_eq!(name.len(), 64, "{f:?}");
        assert!(name.bytes().all(|b| b.is_ascii_hexdigit()), "{f:?}");
        assert!(name.starts_with(sub) && sub.len() == 2, "{f:?}");
    }
    // An interrupted pool write leaves a temp file only the pool links to.
    let sub = files[0].parent().unwrap().to_path_buf();
    std::fs::write(sub.join(".tmp-1-1"), b"partial").unwrap();

    let report = store.gc(GcWait::NoWait).unwrap();
    assert_eq!(report.removed_layer_dirs, std::slice::from_ref(&dropped.1));
    assert_eq!(
        report.removed_pool_files, 2,
        "the dropped seed and the temp file"
    );
    let files = pool_files(&store);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| md(f.clone()).nlink() == 2));
    assert_eq!(md(kept_dir.join("ro/file")).nlink(), 2);
    assert_eq!(std::fs::read(kept_dir.join("etc/seed")).unwrap(), b"kept");
    assert_eq!(
        std::fs::read(kept_dir.join("ro/file")).unwrap(),
        b"read-only dir"
    );

    // Nothing in use: the pool empties.
    store.remove_ref("app").unwrap();
    let report = store.gc(GcWait::NoWait).unwrap();
    assert_eq!(report.removed_pool_files, 2);
    assert!(pool_files(&store).is_empty());
    assert!(layer_dirs(&store).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Layer header cache

fn header_files(store: &Store) -> Vec<String> {
    let mut out: Vec<String> = match std::fs::read_dir(store.path().join(".plinth/headers")) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

#[test]
fn gc_removes_header_cache_files_whose_blob_is_gone() {
    let (_d, store) = new_store();
    let kept = put_layer(&store, "kept", Compression::Gzip);
    let dropped = put_layer(&store, "dropped", Compression::Zstd);
    let image = put_image_of(&store, std::slice::from_ref(&kept));
    store.set_ref("app", &image).unwrap();
    let kept_entries = store.layer_entries(&kept.0).unwrap();
    store.layer_entries(&dropped.0).unwrap();
    // A file not named by a digest is not gc's to judge.
    std::fs::write(store.path().join(".plinth/headers/notes"), b"x").unwrap();
    let mut expected = vec![
        kept.0.digest.hex().to_string(),
        dropped.0.digest.hex().to_string(),
        "notes".to_string(),
    ];
    expected.sort();
    assert_eq!(header_files(&store), expected);

    let report = store.gc(GcWait::NoWait).unwrap();
    assert_eq!(
        report.removed_blobs,
        std::slice::from_ref(&dropped.0.digest)
    );
    assert_eq!(report.removed_header_files, 1);
    let mut expected = vec![kept.0.digest.hex().to_string(), "notes".to_string()];
    expected.sort();
    assert_eq!(header_files(&store), expected);
    // The kept layer's file is still a valid hit: it works without the blob.
    std::fs::rename(store.blob_path(&kept.0.digest), store.path().join("aside")).unwrap();
    assert_eq!(store.layer_entries(&kept.0).unwrap(), kept_entries);
    std::fs::rename(store.path().join("aside"), store.blob_path(&kept.0.digest)).unwrap();
    assert_eq!(store.gc(GcWait::NoWait).unwrap(), GcReport::default());

    store.remove_ref("app").unwrap();
    let report = store.gc(GcWait::NoWait).unwrap();
    assert_eq!(report.removed_header_files, 1);
    assert_eq!(header_files(&store), ["notes"]);
    assert!(store.blobs().unwrap().is_empty());
}
