//! Checks the store and the archives with the real OCI tools: skopeo, umoci and oci-image-tool
//! (Debian packages `skopeo`, `umoci`, `oci-image-tool`). A missing tool fails the test with a
//! message saying what to install.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use plinth_oci::archive::{load_archive_file, save_docker_archive, save_oci_archive};
use plinth_oci::store::Store;
use plinth_oci::types::{ContainerConfig, Healthcheck, RootFs};
use plinth_oci::{Descriptor, Digest, ImageConfig, Manifest, media};

fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "`{name}` is not installed, and this test checks plinth's output with it: install it \
             (Debian/Ubuntu: apt-get install -y {name})"
        )
    })
}

fn run(name: &str, args: &[&str]) -> Output {
    let out = Command::new(tool(name)).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{name} {} failed: {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A gzip layer with a directory and one file, made with the tar crate and flate2.
fn gzip_layer(file: &str, content: &[u8]) -> (Vec<u8>, Digest) {
    let mut b = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_ustar();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o755);
    dir.set_size(0);
    dir.set_mtime(1_700_000_000);
    dir.set_uid(0);
    dir.set_gid(0);
    b.append_data(&mut dir, "etc/", std::io::empty()).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(content.len() as u64);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    b.append_data(&mut h, format!("etc/{file}"), content)
        .unwrap();
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&tar).unwrap();
    (gz.finish().unwrap(), Digest::of(&tar))
}

/// Stores a one-layer image whose layer holds `etc/<file>` and returns its manifest descriptor.
fn put_image(store: &Store, file: &str, content: &[u8]) -> Descriptor {
    let (gz, diff_id) = gzip_layer(file, content);
    let layer = store.write_blob(media::OCI_LAYER_GZIP, &gz).unwrap();
    let config = ImageConfig {
        created: Some("2023-11-14T22:13:20Z".into()),
        architecture: "amd64".into(),
        os: "linux".into(),
        config: ContainerConfig {
            cmd: Some(vec!["/bin/sh".into()]),
            healthcheck: Some(Healthcheck {
                test: vec!["CMD-SHELL".into(), "test -f /etc/hello".into()],
                interval: 30_000_000_000,
                retries: 3,
                ..Default::default()
            }),
            ..Default::default()
        },
        rootfs: RootFs {
            typ: "layers".into(),
            diff_ids: vec![diff_id],
        },
        ..Default::default()
    };
    let config = store.write_json(media::OCI_CONFIG, &config).unwrap();
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config,
        layers: vec![layer],
        subject: None,
        annotations: BTreeMap::new(),
    };
    store.write_json(media::OCI_MANIFEST, &manifest).unwrap()
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: Store,
    app: Descriptor,
    other: Descriptor,
}

const APP_REFS: [&str; 2] = ["app:1.0", "registry.example.com/team/app:1.0"];

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let store = Store::init(root.join("store")).unwrap();
    let app = put_image(&store, "hello", b"hello from plinth\n");
    let other = put_image(&store, "other", b"another image\n");
    for r in APP_REFS {
        store.set_ref(r, &app).unwrap();
    }
    store.set_ref("other:2", &other).unwrap();
    Fixture {
        _dir: dir,
        root,
        store,
        app,
        other,
    }
}

fn skopeo_digest(transport_ref: &str) -> String {
    let out = run("skopeo", &["inspect", transport_ref]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

fn umoci_unpack(image: &str, bundle: &Path) {
    let mut args = vec!["unpack"];
    if !rustix::process::geteuid().is_root() {
        args.push("--rootless");
    }
    args.extend(["--image", image, s(bundle)]);
    run("umoci", &args);
}

#[test]
fn the_store_is_a_valid_layout_for_oci_tools() {
    let f = fixture();
    let store = s(f.store.path());

    let out = run("oci-image-tool", &["validate", "--type", "image", store]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("Validation succeeded"));
    run(
        "oci-image-tool",
        &[
            "validate",
            "--type",
            "image",
            "--ref",
            "name=registry.example.com/team/app:1.0",
            store,
        ],
    );

    for (r, expected) in [
        (APP_REFS[0], &f.app),
        (APP_REFS[1], &f.app),
        ("other:2", &f.other),
    ] {
        assert_eq!(
            skopeo_digest(&format!("oci:{store}:{r}")),
            expected.digest.to_string(),
            "skopeo inspect {r}"
        );
    }

    // skopeo copy verifies every digest on the way
    let copy = f.root.join("copy");
    run(
        "skopeo",
        &[
            "copy",
            &format!("oci:{store}:registry.example.com/team/app:1.0"),
            &format!("dir:{}", s(&copy)),
        ],
    );
    assert_eq!(
        std::fs::read(copy.join("manifest.json")).unwrap(),
        f.store.read_blob(&f.app.digest).unwrap()
    );

    // umoci unpacks by the full ref, slashes and all
    for (r, file, content) in [
        (APP_REFS[1], "hello", "hello from plinth\n"),
        (APP_REFS[0], "hello", "hello from plinth\n"),
        ("other:2", "other", "another image\n"),
    ] {
        let bundle = f
            .root
            .join(format!("bundle-{}", r.replace(['/', ':'], "_")));
        umoci_unpack(&format!("{store}:{r}"), &bundle);
        assert_eq!(
            std::fs::read_to_string(bundle.join("rootfs/etc").join(file)).unwrap(),
            content,
            "{r}"
        );
    }

    // the validator notices a damaged blob (so its success above means something)
    let layer = f.store.image(&f.other).unwrap().manifest.layers[0]
        .digest
        .clone();
    let path = f.store.blob_path(&layer);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let out = Command::new(tool("oci-image-tool"))
        .args(["validate", "--type", "image", store])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "oci-image-tool should reject a corrupt layer"
    );
}

#[test]
fn oci_archives_work_with_skopeo() {
    let f = fixture();
    let file = f.root.join("images.oci.tar");
    let mut out = std::fs::File::create(&file).unwrap();
    save_oci_archive(
        &f.store,
        &["registry.example.com/team/app:1.0", "other:2"],
        &mut out,
    )
    .unwrap();
    drop(out);
    let archive = s(&file);
    assert_eq!(
        skopeo_digest(&format!(
            "oci-archive:{archive}:registry.example.com/team/app:1.0"
        )),
        f.app.digest.to_string()
    );
    assert_eq!(
        skopeo_digest(&format!("oci-archive:{archive}:other:2")),
        f.other.digest.to_string()
    );
    run(
        "skopeo",
        &[
            "copy",
            &format!("oci-archive:{archive}:other:2"),
            &format!("dir:{}", s(&f.root.join("x"))),
        ],
    );

    // and an archive skopeo writes loads into a store
    let theirs = f.root.join("skopeo.oci.tar");
    run(
        "skopeo",
        &[
            "copy",
            &format!("oci:{}:app:1.0", s(f.store.path())),
            &format!("oci-archive:{}:app:1.0", s(&theirs)),
        ],
    );
    let store2 = Store::init(f.root.join("store2")).unwrap();
    let loaded = load_archive_file(&store2, &theirs).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].name.as_deref(), Some("app:1.0"));
    assert_eq!(loaded[0].descriptor.digest, f.app.digest);
}

#[test]
fn docker_archives_work_with_skopeo_and_load_back() {
    let f = fixture();
    let file = f.root.join("images.docker.tar");
    let mut out = std::fs::File::create(&file).unwrap();
    save_docker_archive(
        &f.store,
        &["registry.example.com/team/app:1.0", "other:2"],
        &mut out,
    )
    .unwrap();
    drop(out);
    let archive = s(&file);

    let inspect = run(
        "skopeo",
        &[
            "inspect",
            &format!("docker-archive:{archive}:registry.example.com/team/app:1.0"),
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 1);
    let dest = f.root.join("from-docker");
    run(
        "skopeo",
        &[
            "copy",
            &format!("docker-archive:{archive}:other:2"),
            &format!("oci:{}:x", s(&dest)),
        ],
    );
    let copied = Store::open(&dest).unwrap();
    let img = copied
        .image(&copied.resolve("x").unwrap().descriptor)
        .unwrap();
    assert_eq!(
        img.config.rootfs.diff_ids,
        f.store.image(&f.other).unwrap().config.rootfs.diff_ids
    );
    // a one-image archive needs no ref at all
    let single = f.root.join("single.docker.tar");
    save_docker_archive(
        &f.store,
        &["app:1.0"],
        std::fs::File::create(&single).unwrap(),
    )
    .unwrap();
    let dest = f.root.join("from-single");
    run(
        "skopeo",
        &[
            "copy",
            &format!("docker-archive:{}", s(&single)),
            &format!("oci:{}:x", s(&dest)),
        ],
    );
    let copied = Store::open(&dest).unwrap();
    let img = copied
        .image(&copied.resolve("x").unwrap().descriptor)
        .unwrap();
    assert_eq!(img.config.config.cmd, Some(vec!["/bin/sh".to_string()]));

    // load into a second store: same image ID, config bytes (HEALTHCHECK included) unchanged
    let store2 = Store::init(f.root.join("store2")).unwrap();
    let loaded = load_archive_file(&store2, &file).unwrap();
    let names: Vec<_> = loaded.iter().filter_map(|l| l.name.clone()).collect();
    assert_eq!(names, vec!["registry.example.com/team/app:1.0", "other:2"]);
    let original = f.store.image(&f.app).unwrap();
    let back = store2
        .image(
            &store2
                .resolve("registry.example.com/team/app:1.0")
                .unwrap()
                .descriptor,
        )
        .unwrap();
    assert_eq!(back.id(), original.id());
    assert_eq!(back.config_bytes, original.config_bytes);
    assert!(String::from_utf8_lossy(&back.config_bytes).contains("test -f /etc/hello"));
    assert_eq!(back.manifest.layers[0].media_type, media::OCI_LAYER_TAR);
    // the loaded store is valid for the tools too
    let store2_path = s(store2.path());
    run(
        "oci-image-tool",
        &["validate", "--type", "image", store2_path],
    );
    let bundle = f.root.join("bundle2");
    umoci_unpack(
        &format!("{store2_path}:registry.example.com/team/app:1.0"),
        &bundle,
    );
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/etc/hello")).unwrap(),
        "hello from plinth\n"
    );

    // and a docker archive skopeo writes loads too
    let theirs = f.root.join("skopeo.docker.tar");
    run(
        "skopeo",
        &[
            "copy",
            &format!("oci:{}:other:2", s(f.store.path())),
            &format!("docker-archive:{}:other:2", s(&theirs)),
        ],
    );
    let store3 = Store::init(f.root.join("store3")).unwrap();
    let loaded = load_archive_file(&store3, &theirs).unwrap();
    assert_eq!(loaded[0].name.as_deref(), Some("other:2"));
    let img = store3.image(&loaded[0].descriptor).unwrap();
    assert_eq!(
        img.config.rootfs.diff_ids,
        f.store.image(&f.other).unwrap().config.rootfs.diff_ids
    );
}
