//! Tests of archive writing and loading on real stores.

use std::io::Write;

use sha2::{Digest as _, Sha256};

use super::*;
use crate::types::{ContainerConfig, Healthcheck, RootFs};

fn new_store(dir: &tempfile::TempDir, name: &str) -> Store {
    Store::init(dir.path().join(name)).unwrap()
}

/// An uncompressed layer tar with one file.
fn layer_tar(file: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, file, content).unwrap();
    b.into_inner().unwrap()
}

fn compress(tar: &[u8], c: Compression) -> (Vec<u8>, &'static str) {
    match c {
        Compression::None => (tar.to_vec(), media::OCI_LAYER_TAR),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(tar).unwrap();
            (e.finish().unwrap(), media::OCI_LAYER_GZIP)
        }
        Compression::Zstd => (zstd::encode_all(tar, 3).unwrap(), media::OCI_LAYER_ZSTD),
    }
}

/// Stores an image with one real layer per entry of `layers` and returns its manifest descriptor.
fn put_image(store: &Store, seed: &str, layers: &[Compression]) -> Descriptor {
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for (i, c) in layers.iter().enumerate() {
        let tar = layer_tar(
            &format!("etc/{seed}-{i}"),
            format!("{seed} {i}\n").as_bytes(),
        );
        diff_ids.push(Digest::of(&tar));
        let (blob, mt) = compress(&tar, *c);
        descs.push(store.write_blob(mt, &blob).unwrap());
    }
    put_image_with(store, seed, descs, diff_ids)
}

fn put_image_with(
    store: &Store,
    seed: &str,
    layers: Vec<Descriptor>,
    diff_ids: Vec<Digest>,
) -> Descriptor {
    let config = ImageConfig {
        created: Some("2024-05-01T00:00:00Z".into()),
        architecture: "amd64".into(),
        os: "linux".into(),
        config: ContainerConfig {
            env: vec![format!("SEED={seed}")],
            healthcheck: Some(Healthcheck {
                test: vec!["CMD-SHELL".into(), "true".into()],
                retries: 3,
                ..Default::default()
            }),
            ..Default::default()
        },
        rootfs: RootFs {
            typ: "layers".into(),
            diff_ids,
        },
        ..Default::default()
    };
    let config = store.write_json(media::OCI_CONFIG, &config).unwrap();
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config,
        layers,
        subject: None,
        annotations: BTreeMap::new(),
    };
    store.write_json(media::OCI_MANIFEST, &manifest).unwrap()
}

/// (path, entry type, size, uid, gid, mtime, content) of every member.
type Member = (String, tar::EntryType, u64, u64, u64, u64, Vec<u8>);

fn members(bytes: &[u8]) -> Vec<Member> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let mut content = Vec::new();
            e.read_to_end(&mut content).unwrap();
            (
                String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                h.entry_type(),
                h.size().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mtime().unwrap(),
                content,
            )
        })
        .collect()
}

fn member<'a>(m: &'a [Member], path: &str) -> &'a [u8] {
    &m.iter()
        .find(|x| x.0 == path)
        .unwrap_or_else(|| panic!("no {path}"))
        .6
}

#[test]
fn oci_archive_holds_only_the_asked_images_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir, "a");
    let app = put_image(&store, "app", &[Compression::Gzip, Compression::Zstd]);
    let other = put_image(&store, "other", &[Compression::Gzip]);
    store
        .set_ref("registry.example.com/team/app:1.0", &app)
        .unwrap();
    store.set_ref("other", &other).unwrap();

    let a = save_oci_archive(&store, &["registry.example.com/team/app:1.0"], Vec::new()).unwrap();
    let b = save_oci_archive(&store, &["registry.example.com/team/app:1.0"], Vec::new()).unwrap();
    assert_eq!(a, b, "same bytes twice");

    let m = members(&a);
    let paths: Vec<&str> = m.iter().map(|x| x.0.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "entries are sorted");
    assert!(
        m.iter().all(|x| x.3 == 0 && x.4 == 0 && x.5 == 0),
        "uid/gid/mtime fixed"
    );
    assert_eq!(
        member(&m, "oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index: Index = serde_json::from_slice(member(&m, "index.json")).unwrap();
    assert_eq!(index.manifests.len(), 1);
    assert_eq!(index.manifests[0].digest, app.digest);
    assert_eq!(
        index.manifests[0].annotations[ANNOTATION_REF_NAME],
        "registry.example.com/team/app:1.0"
    );

    let img = store.image(&app).unwrap();
    let mut expected: Vec<String> = std::iter::once(&app.digest)
        .chain(std::iter::once(img.id()))
        .chain(img.manifest.layers.iter().map(|l| &l.digest))
        .map(|d| format!("blobs/sha256/{}", d.hex()))
        .collect();
    expected.sort();
    let blobs: Vec<String> = paths
        .iter()
        .filter(|p| p.len() > 13 && p.starts_with("blobs/sha256/"))
        .map(|p| p.to_string())
        .collect();
    assert_eq!(blobs, expected, "only the asked image's blobs");
    for p in &blobs {
        let content = member(&m, p);
        assert_eq!(Digest::of(content).hex(), &p["blobs/sha256/".len()..]);
    }

    // load into another store: same digests, same ref
    let store2 = new_store(&dir, "b");
    let loaded = load_archive(&store2, a.as_slice()).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(
        loaded[0].name.as_deref(),
        Some("registry.example.com/team/app:1.0")
    );
    assert_eq!(loaded[0].descriptor.digest, app.digest);
    assert_eq!(
        store2
            .resolve("registry.example.com/team/app:1.0")
            .unwrap()
            .descriptor
            .digest,
        app.digest
    );
    assert_eq!(store2.image(&app).unwrap().config_bytes, img.config_bytes);
    assert!(store2.resolve("other").is_err());
}

#[test]
fn oci_archive_by_digest_has_no_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir, "a");
    let app = put_image(&store, "app", &[Compression::Gzip]);
    store.set_ref("app", &app).unwrap();
    let bytes = save_oci_archive(&store, &[&app.digest.to_string()], Vec::new()).unwrap();
    let index: Index = serde_json::from_slice(member(&members(&bytes), "index.json")).unwrap();
    assert!(index.manifests[0].annotations.is_empty());
    let store2 = new_store(&dir, "b");
    let loaded = load_archive(&store2, bytes.as_slice()).unwrap();
    assert_eq!(
        loaded,
        vec![LoadedImage {
            name: None,
            descriptor: Descriptor::new(media::OCI_MANIFEST, app.digest.clone(), app.size)
        }]
    );
    assert!(store2.refs().unwrap().is_empty());
    assert_eq!(
        store2
            .resolve(&app.digest.to_string())
            .unwrap()
            .descriptor
            .digest,
        app.digest
    );
}

#[test]
fn docker_archive_has_uncompressed_layers_and_the_config_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir, "a");
    let app = put_image(
        &store,
        "app",
        &[Compression::Gzip, Compression::Zstd, Compression::None],
    );
    store.set_ref("app:1.0", &app).unwrap();
    store
        .set_ref("registry.example.com/team/app", &app)
        .unwrap();
    let img = store.image(&app).unwrap();

    let bytes = save_docker_archive(
        &store,
        &["app:1.0", "registry.example.com/team/app"],
        Vec::new(),
    )
    .unwrap();
    assert_eq!(
        bytes,
        save_docker_archive(
            &store,
            &["app:1.0", "registry.example.com/team/app"],
            Vec::new()
        )
        .unwrap()
    );
    let m = members(&bytes);
    let paths: Vec<&str> = m.iter().map(|x| x.0.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert!(m.iter().all(|x| x.3 == 0 && x.4 == 0 && x.5 == 0));

    let manifest: serde_json::Value = serde_json::from_slice(member(&m, "manifest.json")).unwrap();
    let diff_hex: Vec<String> = img
        .config
        .rootfs
        .diff_ids
        .iter()
        .map(|d| d.hex().to_string())
        .collect();
    assert_eq!(
        manifest,
        serde_json::json!([{
            "Config": format!("{}.json", img.id().hex()),
            "RepoTags": ["app:1.0", "registry.example.com/team/app:latest"],
            "Layers": diff_hex.iter().map(|h| format!("{h}/layer.tar")).collect::<Vec<_>>(),
        }])
    );
    assert_eq!(
        member(&m, &format!("{}.json", img.id().hex())),
        img.config_bytes.as_slice()
    );
    assert!(String::from_utf8_lossy(&img.config_bytes).contains("Healthcheck"));
    for (i, h) in diff_hex.iter().enumerate() {
        let layer = member(&m, &format!("{h}/layer.tar"));
        assert_eq!(hex::encode(Sha256::digest(layer)), *h);
        let files = members(layer);
        assert_eq!(files[0].0, format!("etc/app-{i}"));
        assert_eq!(files[0].6, format!("app {i}\n").as_bytes());
    }
    let repos: serde_json::Value = serde_json::from_slice(member(&m, "repositories")).unwrap();
    assert_eq!(
        repos,
        serde_json::json!({
            "app": {"1.0": diff_hex[2]},
            "registry.example.com/team/app": {"latest": diff_hex[2]},
        })
    );

    // load it back into a fresh store
    let store2 = new_store(&dir, "b");
    let loaded = load_archive(&store2, bytes.as_slice()).unwrap();
    let names: Vec<_> = loaded.iter().map(|l| l.name.clone().unwrap()).collect();
    assert_eq!(
        names,
        vec!["app:1.0", "registry.example.com/team/app:latest"]
    );
    let img2 = store2
        .image(&store2.resolve("app:1.0").unwrap().descriptor)
        .unwrap();
    assert_eq!(img2.id(), img.id(), "image ID survives");
    assert_eq!(img2.config_bytes, img.config_bytes);
    assert_eq!(
        img2.manifest_bytes,
        json::to_canonical_vec(&img2.manifest).unwrap(),
        "canonical manifest"
    );
    for (l, d) in img2.manifest.layers.iter().zip(&img.config.rootfs.diff_ids) {
        assert_eq!(l.media_type, media::OCI_LAYER_TAR);
        assert_eq!(
            &l.digest, d,
            "stored uncompressed: blob digest is the diff_id"
        );
    }
    // and a docker archive of the loaded image is the same archive
    let again = save_docker_archive(
        &store2,
        &["app:1.0", "registry.example.com/team/app"],
        Vec::new(),
    )
    .unwrap();
    assert_eq!(again, bytes);
}

#[test]
fn shared_layers_are_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir, "a");
    let base_tar = layer_tar("etc/base", b"base");
    let (gz, mt) = compress(&base_tar, Compression::Gzip);
    let base = store.write_blob(mt, &gz).unwrap();
    let top_tar = layer_tar("etc/top", b"top");
    let top = store.write_blob(media::OCI_LAYER_TAR, &top_tar).unwrap();
    let a = put_image_with(&store, "a", vec![base.clone()], vec![Digest::of(&base_tar)]);
    let b = put_image_with(
        &store,
        "b",
        vec![base, top],
        vec![Digest::of(&base_tar), Digest::of(&top_tar)],
    );
    store.set_ref("a", &a).unwrap();
    store.set_ref("b", &b).unwrap();
    let bytes = save_docker_archive(&store, &["a", "b"], Vec::new()).unwrap();
    let m = members(&bytes);
    let layer_files = m.iter().filter(|x| x.0.ends_with("/layer.tar")).count();
    assert_eq!(layer_files, 2);
    let store2 = new_store(&dir, "b");
    assert_eq!(load_archive(&store2, bytes.as_slice()).unwrap().len(), 2);
    assert_eq!(
        store2
            .image(&store2.resolve("b").unwrap().descriptor)
            .unwrap()
            .manifest
            .layers
            .len(),
        2
    );
}

#[test]
fn docker_archive_refuses_a_wrong_diff_id() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir, "a");
    let tar = layer_tar("x", b"x");
    let (gz, mt) = compress(&tar, Compression::Gzip);
    let layer = store.write_blob(mt, &gz).unwrap();
    let bad = put_image_with(&store, "bad", vec![layer], vec![Digest::of(b"not the tar")]);
    store.set_ref("bad", &bad).unwrap();
    let e = save_docker_archive(&store, &["bad"], Vec::new()).unwrap_err();
    assert!(matches!(e, ArchiveError::DiffIdMismatch { .. }), "{e}");
}

/// Builds a tar by hand, so that unsafe names and links can be written too.
fn raw_tar(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, kind, content, link) in entries {
        let mut h = tar::Header::new_old();
        let name = &mut h.as_old_mut().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(l) = link {
            let ln = &mut h.as_old_mut().linkname;
            ln[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(*kind);
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(content);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// A docker-save style archive built by hand: `layers` are (dir, uncompressed tar).
fn legacy_docker_archive(
    config: &[u8],
    tags: &[&str],
    layer_paths: &[&str],
    files: &[(&str, tar::EntryType, &[u8], Option<&str>)],
) -> Vec<u8> {
    let config_name = format!("{}.json", Digest::of(config).hex());
    let manifest =
        serde_json::json!([{"Config": config_name, "RepoTags": tags, "Layers": layer_paths}])
            .to_string();
    let mut entries: Vec<(&str, tar::EntryType, &[u8], Option<&str>)> = files.to_vec();
    entries.push((&config_name, tar::EntryType::Regular, config, None));
    entries.push((
        "manifest.json",
        tar::EntryType::Regular,
        manifest.as_bytes(),
        None,
    ));
    raw_tar(&entries)
}

fn config_for(diff_ids: &[&[u8]]) -> Vec<u8> {
    let ids: Vec<String> = diff_ids.iter().map(|t| Digest::of(t).to_string()).collect();
    serde_json::json!({"architecture":"amd64","os":"linux","config":{"Healthcheck":{"Test":["NONE"]}},"rootfs":{"type":"layers","diff_ids":ids}})
        .to_string()
        .into_bytes()
}

#[test]
fn legacy_archive_with_a_symlinked_layer_loads() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir, "a");
    let l = layer_tar("same", b"same");
    let config = config_for(&[&l, &l]);
    let archive = legacy_docker_archive(
        &config,
        &["app:2"],
        &["aaa/layer.tar", "./bbb/layer.tar"],
        &[
            ("aaa/", tar::EntryType::Directory, b"", None),
            ("aaa/VERSION", tar::EntryType::Regular, b"1.0", None),
            ("aaa/json", tar::EntryType::Regular, b"{}", None),
            ("aaa/layer.tar", tar::EntryType::Regular, &l, None),
            (
                "bbb/layer.tar",
                tar::EntryType::Symlink,
                b"",
                Some("../aaa/layer.tar"),
            ),
        ],
    );
    let loaded = load_archive(&store, archive.as_slice()).unwrap();
    assert_eq!(loaded[0].name.as_deref(), Some("app:2"));
    let img = store.image(&loaded[0].descriptor).unwrap();
    assert_eq!(img.config_bytes, config);
    assert_eq!(img.manifest.layers.len(), 2);
    assert_eq!(img.manifest.layers[1].digest, Digest::of(&l));
    assert!(
        !store.has_blob(&Digest::of(b"1.0")),
        "VERSION files are not stored"
    );
}

#[test]
fn gzip_layers_in_a_docker_archive_and_gzip_archives_load() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir, "a");
    let l = layer_tar("f", b"content");
    let (gz, _) = compress(&l, Compression::Gzip);
    let config = config_for(&[&l]);
    let archive = legacy_docker_archive(
        &config,
        &["app"],
        &["x.tar"],
        &[("x.tar", tar::EntryType::Regular, &gz, None)],
    );
    let (archive_gz, _) = compress(&archive, Compression::Gzip);
    let loaded = load_archive(&store, archive_gz.as_slice()).unwrap();
    assert_eq!(loaded[0].name.as_deref(), Some("app:latest"));
    let img = store.image(&loaded[0].descriptor).unwrap();
    assert_eq!(img.manifest.layers[0].media_type, media::OCI_LAYER_GZIP);
    assert_eq!(img.manifest.layers[0].digest, Digest::of(&gz));

    let (archive_zst, _) = compress(&archive, Compression::Zstd);
    let store2 = new_store(&dir, "b");
    assert_eq!(
        load_archive(&store2, archive_zst.as_slice()).unwrap()[0].descriptor,
        loaded[0].descriptor
    );
}

#[test]
fn docker25_archive_keeps_its_oci_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let src = new_store(&dir, "src");
    let app = put_image(&src, "app", &[Compression::None]);
    src.set_ref("app:1", &app).unwrap();
    let img = src.image(&app).unwrap();
    // Docker 25+: an OCI layout plus manifest.json pointing into blobs/sha256.
    let oci = save_oci_archive(&src, &["app:1"], Vec::new()).unwrap();
    let m = members(&oci);
    let manifest = serde_json::json!([{
        "Config": format!("blobs/sha256/{}", img.id().hex()),
        "RepoTags": ["app:1"],
        "Layers": img.manifest.layers.iter().map(|l| format!("blobs/sha256/{}", l.digest.hex())).collect::<Vec<_>>(),
    }])
    .to_string();
    let mut entries: Vec<(&str, tar::EntryType, &[u8], Option<&str>)> = m
        .iter()
        .filter(|x| x.1 == tar::EntryType::Regular)
        .map(|x| (x.0.as_str(), x.1, x.6.as_slice(), None))
        .collect();
    entries.push((
        "manifest.json",
        tar::EntryType::Regular,
        manifest.as_bytes(),
        None,
    ));
    let archive = raw_tar(&entries);
    let store = new_store(&dir, "dst");
    let loaded = load_archive(&store, archive.as_slice()).unwrap();
    assert_eq!(
        loaded[0].descriptor.digest, app.digest,
        "the archive's manifest is reused"
    );
    assert_eq!(
        store.resolve("app:1").unwrap().descriptor.digest,
        app.digest
    );
}

#[test]
fn truncated_archives_leave_no_ref() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir, "a");
    let app = put_image(&store, "app", &[Compression::Gzip]);
    store.set_ref("app", &app).unwrap();
    let docker = save_docker_archive(&store, &["app"], Vec::new()).unwrap();
    let oci = save_oci_archive(&store, &["app"], Vec::new()).unwrap();
    for full in [&docker, &oci] {
        // cut inside the data of various members, and at a member boundary
        for cut in [full.len() / 3, full.len() / 2, full.len() - 1300, 700, 1] {
            let target = new_store(&dir, &format!("t{}-{cut}", full.len()));
            let r = load_archive(&target, &full[..cut]);
            assert!(r.is_err(), "cut at {cut} of {} should fail", full.len());
            assert!(
                target.refs().unwrap().is_empty(),
                "no ref after a failed load"
            );
        }
    }
}

#[test]
fn unsafe_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir, "a");
    let cases: Vec<Vec<u8>> = vec![
        raw_tar(&[("../evil", tar::EntryType::Regular, b"x", None)]),
        raw_tar(&[("/etc/evil", tar::EntryType::Regular, b"x", None)]),
        raw_tar(&[("a/../../evil", tar::EntryType::Regular, b"x", None)]),
        raw_tar(&[(
            "a/layer.tar",
            tar::EntryType::Symlink,
            b"",
            Some("../../etc/passwd"),
        )]),
        raw_tar(&[(
            "a/layer.tar",
            tar::EntryType::Symlink,
            b"",
            Some("/etc/passwd"),
        )]),
        raw_tar(&[("a", tar::EntryType::Link, b"", Some("../b"))]),
    ];
    for archive in cases {
        let e = load_archive(&store, archive.as_slice()).unwrap_err();
        assert!(matches!(e, ArchiveError::UnsafePath { .. }), "{e}");
    }
    assert!(!dir.path().join("evil").exists());
}

#[test]
fn malformed_archives_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir, "a");
    // not an archive at all / no image metadata
    assert!(load_archive(&store, &b""[..]).is_err());
    assert!(matches!(
        load_archive(
            &store,
            raw_tar(&[("hello", tar::EntryType::Regular, b"x", None)]).as_slice()
        ),
        Err(ArchiveError::NotAnImageArchive)
    ));
    assert!(load_archive(&store, &[7u8; 4096][..]).is_err());

    // a blob whose content does not match its name
    let wrong = format!("blobs/sha256/{}", Digest::of(b"expected").hex());
    let index = serde_json::json!({"schemaVersion":2,"manifests":[{"mediaType":media::OCI_MANIFEST,"digest":Digest::of(b"expected"),"size":8,"annotations":{ANNOTATION_REF_NAME:"x"}}]}).to_string();
    let layout: (&str, tar::EntryType, &[u8], Option<&str>) = (
        "oci-layout",
        tar::EntryType::Regular,
        br#"{"imageLayoutVersion":"1.0.0"}"#,
        None,
    );
    let index_entry = (
        "index.json",
        tar::EntryType::Regular,
        index.as_bytes(),
        None,
    );
    let archive = raw_tar(&[
        layout,
        index_entry,
        (&wrong, tar::EntryType::Regular, b"tampered", None),
    ]);
    let e = load_archive(&store, archive.as_slice()).unwrap_err();
    assert!(
        matches!(e, ArchiveError::Store(StoreError::DigestMismatch { .. })),
        "{e}"
    );
    assert!(!store.has_blob(&Digest::of(b"tampered")));

    // an OCI index entry whose blob is not in the archive
    let archive = raw_tar(&[layout, index_entry]);
    let e = load_archive(&store, archive.as_slice()).unwrap_err();
    assert!(
        matches!(e, ArchiveError::Store(StoreError::MissingBlob { .. })),
        "{e}"
    );

    // docker: a layer that is missing, and one whose content is not the diff_id
    let l = layer_tar("f", b"content");
    let config = config_for(&[&l]);
    let archive = legacy_docker_archive(&config, &["app"], &["nope/layer.tar"], &[]);
    let e = load_archive(&store, archive.as_slice()).unwrap_err();
    assert!(
        matches!(&e, ArchiveError::MissingEntry { path } if path == "nope/layer.tar"),
        "{e}"
    );
    let other = layer_tar("f", b"other");
    let archive = legacy_docker_archive(
        &config,
        &["app"],
        &["l.tar"],
        &[("l.tar", tar::EntryType::Regular, &other, None)],
    );
    let e = load_archive(&store, archive.as_slice()).unwrap_err();
    assert!(matches!(e, ArchiveError::DiffIdMismatch { .. }), "{e}");
    // a bad RepoTag and a bad manifest.json
    let archive = legacy_docker_archive(
        &config,
        &["Bad Tag"],
        &["l.tar"],
        &[("l.tar", tar::EntryType::Regular, &l, None)],
    );
    assert!(matches!(
        load_archive(&store, archive.as_slice()),
        Err(ArchiveError::Malformed { .. })
    ));
    let archive = raw_tar(&[(
        "manifest.json",
        tar::EntryType::Regular,
        b"{\"not\": \"a list\"}",
        None,
    )]);
    let e = load_archive(&store, archive.as_slice()).unwrap_err();
    assert!(e.to_string().contains("manifest.json"), "{e}");

    assert!(store.refs().unwrap().is_empty());
}
