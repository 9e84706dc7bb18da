//! The store through the CLI: images, rmi, gc, save/load, and two builds at once.

use crate::support::{Env, SDE, tool};

fn images(env: &Env) -> Vec<serde_json::Value> {
    let run = env.plinth(&["images", "--format", "json"]).ok();
    serde_json::from_str::<serde_json::Value>(&run.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn blob_count(env: &Env) -> usize {
    std::fs::read_dir(env.store().join("blobs/sha256"))
        .unwrap()
        .count()
}

#[test]
fn images_rmi_gc() {
    let env = Env::new();
    env.write("a.txt", "a");
    env.write("b.txt", "b");
    let d1 = env.build(
        "FROM scratch\nCOPY a.txt /\n",
        &["-t", "one:1", "-t", "one:latest"],
    );
    let d2 = env.build(
        "FROM scratch\nCOPY b.txt /\n",
        &["-t", "registry.example.com:5000/team/two:2.0"],
    );
    let list = images(&env);
    let names: Vec<&str> = list.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "{list:?}");
    for n in [
        "one:1",
        "one:latest",
        "registry.example.com:5000/team/two:2.0",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    let one = list.iter().find(|i| i["name"] == "one:1").unwrap();
    assert_eq!(one["digest"], d1);
    assert!(one["size"].as_u64().unwrap() > 0);

    let table = env.plinth(&["images"]).ok().stdout;
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.contains("registry.example.com:5000/team/two") && table.contains("2.0"),
        "{table}"
    );

    let before = blob_count(&env);
    env.plinth(&["rmi", "registry.example.com:5000/team/two:2.0"])
        .ok();
    assert_eq!(blob_count(&env), before, "rmi only removes the reference");
    let gc = env.plinth(&["gc"]).ok();
    assert!(gc.stdout.starts_with("removed 2 blobs"), "{}", gc.stdout);
    assert_eq!(
        blob_count(&env),
        before - 2,
        "manifest and config; the layer stays for the build cache"
    );
    let prune = env.plinth(&["prune"]).ok();
    assert!(
        prune.stdout.contains("removed 1 blobs"),
        "the cached layer goes with the cache: {}",
        prune.stdout
    );
    assert_eq!(blob_count(&env), before - 3);
    assert!(!images(&env).iter().any(|i| i["digest"] == d2));
    // The remaining image is intact.
    tool(
        "skopeo",
        &[
            "copy",
            &format!("oci:{}:one:1", env.store().display()),
            &format!("dir:{}", env.dir.path().join("d").display()),
        ],
    );

    let run = env.plinth(&["rmi", "nope:1"]);
    assert_eq!(run.status, 1);
    assert!(run.stderr.contains("nope:1"), "{}", run.stderr);
}

#[test]
fn save_and_load_both_formats() {
    let env = Env::new();
    env.write("a.txt", "a");
    let digest = env.build(
        "FROM scratch\nCOPY a.txt /\nHEALTHCHECK --interval=5s CMD [\"/check\"]\n",
        &["-t", "saved:1", "--source-date-epoch", SDE],
    );
    for format in ["oci-archive", "docker-archive"] {
        let archive = env.dir.path().join(format!("img-{format}.tar"));
        env.plinth(&[
            "save",
            "saved:1",
            "-o",
            archive.to_str().unwrap(),
            "--format",
            format,
        ])
        .ok();
        let other = Env::new();
        let run = other.plinth(&["load", archive.to_str().unwrap()]).ok();
        assert!(run.stdout.contains("saved:1"), "{format}: {}", run.stdout);
        let cfg = other.config("saved:1");
        assert_eq!(
            cfg["config"]["Healthcheck"]["Test"],
            serde_json::json!(["CMD", "/check"]),
            "{format}"
        );
        if format == "oci-archive" {
            let list = images(&other);
            assert_eq!(
                list[0]["digest"], digest,
                "an oci-archive round trip keeps the manifest digest"
            );
        }
        tool(
            "skopeo",
            &["inspect", &format!("{format}:{}", archive.display())],
        );
    }
}

#[test]
fn two_builds_into_one_store_at_once() {
    let env = Env::new();
    for i in 0..8 {
        env.write(&format!("f{i}.txt"), &format!("{i}\n").repeat(10_000));
    }
    let mut children = Vec::new();
    for i in 0..4 {
        let ctx = env.dir.path().join(format!("ctx{i}"));
        std::fs::create_dir_all(&ctx).unwrap();
        for j in 0..8 {
            std::fs::copy(
                env.ctx().join(format!("f{j}.txt")),
                ctx.join(format!("f{j}.txt")),
            )
            .unwrap();
        }
        std::fs::write(
            ctx.join("Dockerfile"),
            format!("FROM scratch\nCOPY . /\nLABEL n={i}\n"),
        )
        .unwrap();
        children.push(
            std::process::Command::new(env!("CARGO_BIN_EXE_plinth"))
                .args(["build", "-t", &format!("par:{i}"), ctx.to_str().unwrap()])
                .env("PLINTH_STORE", env.store())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let names: Vec<String> = images(&env)
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    for i in 0..4 {
        assert!(
            names.contains(&format!("par:{i}")),
            "par:{i} lost: {names:?}"
        );
    }
    tool(
        "oci-image-tool",
        &["validate", "--type", "image", env.store().to_str().unwrap()],
    );
}

#[test]
fn a_killed_build_leaves_no_image_and_gc_cleans_up() {
    let env = Env::new();
    env.write("small.txt", "kept\n");
    env.build("FROM scratch\nCOPY small.txt /\n", &["-t", "kept:1"]);
    // A context big enough that the build is still writing its layer when it is killed.
    let big = env.ctx().join("big");
    std::fs::create_dir_all(&big).unwrap();
    let chunk: Vec<u8> = (0..1024 * 1024)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for i in 0..300 {
        std::fs::write(big.join(format!("f{i}")), &chunk).unwrap();
    }
    std::fs::write(
        env.ctx().join("Dockerfile"),
        "FROM scratch\nCOPY big /big\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(["build", "-t", "killed:1", env.ctx().to_str().unwrap()])
        .env("PLINTH_STORE", env.store())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the layer is being written (a temp file exists), then kill -9.
    let tmp = env.store().join(".plinth/tmp");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let writing = std::fs::read_dir(&tmp)
            .map(|d| d.count() > 0)
            .unwrap_or(false);
        if writing || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the build finished before it was killed; make the context bigger"
    );
    let names: Vec<String> = images(&env)
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["kept:1"]);
    tool(
        "oci-image-tool",
        &["validate", "--type", "image", env.store().to_str().unwrap()],
    );
    env.plinth(&["gc"]).ok();
    let leftovers = std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    assert_eq!(
        leftovers, 0,
        "gc removes the killed build's temporary files"
    );
    tool(
        "skopeo",
        &[
            "copy",
            &format!("oci:{}:kept:1", env.store().display()),
            &format!("dir:{}", env.dir.path().join("k").display()),
        ],
    );
}
