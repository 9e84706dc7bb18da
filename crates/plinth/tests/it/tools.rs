//! Real tools read plinth's output: oci-image-tool, skopeo (which verifies digests on copy), umoci,
//! and `docker load` of the docker archive when a dockerd is available (PLINTH_TEST_DOCKER_HOST, set
//! by scripts/test.sh).

use crate::support::{self, Env, SDE, tool, tool_run};

fn sample(env: &Env) -> String {
    env.write("etc/app.conf", "key=value\n");
    env.write("bin/app", "#!/bin/sh\necho app\n");
    env.build(
        "FROM scratch\nCOPY etc/ /etc/\nCOPY --chmod=755 bin/app /usr/local/bin/app\nWORKDIR /app\nUSER 1000\n\
         HEALTHCHECK --interval=10s --retries=2 CMD [\"/usr/local/bin/app\", \"health\"]\nLABEL org.opencontainers.image.version=1.2.3\nCMD [\"/usr/local/bin/app\"]\n",
        &["-t", "sample:1.2.3", "--source-date-epoch", SDE],
    )
}

#[test]
fn oci_image_tool_validates_the_store() {
    let env = Env::new();
    sample(&env);
    let store = env.store();
    tool(
        "oci-image-tool",
        &["validate", "--type", "image", store.to_str().unwrap()],
    );
    tool(
        "oci-image-tool",
        &[
            "validate",
            "--type",
            "image",
            "--ref",
            "name=sample:1.2.3",
            store.to_str().unwrap(),
        ],
    );
    // It catches damage: corrupt the config blob and validation fails.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(store.join("blobs/sha256").join(&manifest_digest)).unwrap(),
    )
    .unwrap();
    let config = store.join("blobs/sha256").join(
        manifest["config"]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:"),
    );
    std::fs::write(&config, b"{}").unwrap();
    let run = tool_run(
        "oci-image-tool",
        &["validate", "--type", "image", store.to_str().unwrap()],
        None,
    );
    assert_ne!(run.status, 0, "a corrupt blob must fail validation");
}

#[test]
fn skopeo_copies_with_digest_verification() {
    let env = Env::new();
    let digest = sample(&env);
    let src = format!("oci:{}:sample:1.2.3", env.store().display());
    let inspect: serde_json::Value =
        serde_json::from_str(&tool("skopeo", &["inspect", &src])).unwrap();
    assert_eq!(inspect["Digest"], digest);
    assert_eq!(
        inspect["Labels"]["org.opencontainers.image.version"],
        "1.2.3"
    );
    let dir = env.dir.path().join("copy");
    tool("skopeo", &["copy", &src, &format!("dir:{}", dir.display())]);
    // skopeo copy to another OCI layout keeps the manifest bytes, so the digest is unchanged.
    let other = env.dir.path().join("other-layout");
    tool(
        "skopeo",
        &["copy", &src, &format!("oci:{}:copied", other.display())],
    );
    let inspect: serde_json::Value = serde_json::from_str(&tool(
        "skopeo",
        &["inspect", &format!("oci:{}:copied", other.display())],
    ))
    .unwrap();
    assert_eq!(inspect["Digest"], digest);
}

#[test]
fn umoci_unpacks_with_modes_and_owners() {
    let env = Env::new();
    sample(&env);
    let bundle = env.dir.path().join("bundle");
    tool(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:sample:1.2.3", env.store().display()),
            bundle.to_str().unwrap(),
        ],
    );
    let root = bundle.join("rootfs");
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(root.join("usr/local/bin/app")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o755);
    assert_eq!(
        std::fs::read_to_string(root.join("etc/app.conf")).unwrap(),
        "key=value\n"
    );
    let w = std::fs::metadata(root.join("app")).unwrap();
    assert_eq!(
        (w.uid(), w.is_dir()),
        (0, true),
        "WORKDIR before USER: created owned by root"
    );
}

#[test]
fn docker_loads_the_docker_archive() {
    let Some(host) = support::docker_host("docker_loads_the_docker_archive") else {
        return;
    };
    let env = Env::new();
    sample(&env);
    let docker = |args: &[&str]| support::docker(&host, args);
    let run = support::docker_load(&env, &host, "sample:1.2.3");
    assert!(run.stdout.contains("sample:1.2.3"), "{}", run.stdout);
    let run = docker(&["image", "inspect", "sample:1.2.3"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let inspect: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let cfg = &inspect[0]["Config"];
    assert_eq!(
        cfg["Healthcheck"]["Test"],
        serde_json::json!(["CMD", "/usr/local/bin/app", "health"])
    );
    assert_eq!(cfg["Healthcheck"]["Retries"], 2);
    assert_eq!(cfg["User"], "1000");
    assert_eq!(cfg["Labels"]["org.opencontainers.image.version"], "1.2.3");
    let _ = docker(&["rmi", "sample:1.2.3"]);
}

#[test]
fn zstd_and_uncompressed_layers_copy_with_skopeo() {
    let env = Env::new();
    env.write("f.txt", &"zstd or not\n".repeat(1000));
    for (compression, media) in [
        ("zstd", "application/vnd.oci.image.layer.v1.tar+zstd"),
        ("uncompressed", "application/vnd.oci.image.layer.v1.tar"),
    ] {
        let tag = format!("comp:{compression}");
        env.build(
            "FROM scratch\nCOPY f.txt /\n",
            &["-t", &tag, "--compression", compression],
        );
        let src = format!("oci:{}:{tag}", env.store().display());
        let manifest: serde_json::Value =
            serde_json::from_str(&tool("skopeo", &["inspect", "--raw", &src])).unwrap();
        assert_eq!(manifest["layers"][0]["mediaType"], media);
        tool(
            "skopeo",
            &[
                "copy",
                &src,
                &format!("dir:{}", env.dir.path().join(compression).display()),
            ],
        );
    }
}
