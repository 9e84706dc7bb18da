//! `plinth graph` and `plinth tags` on a family repository made in the test (a real git
//! repository for the tag policy).

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::support::Env;

fn family(env: &Env) {
    env.write(
        "plinth.toml",
        "[family]\nname = \"base\"\nversion = \"1.2.3\"\nregistry = \"registry.example.com\"\nnamespace = \"base\"\n",
    );
    env.write(
        "images/base-root/Dockerfile",
        "FROM debian-bookworm\nRUN true\n",
    );
    env.write(
        "images/base-build/Dockerfile",
        "FROM registry.example.com/base/base-root:1.2.3\nRUN true\n",
    );
    env.write(
        "images/base-runtime/Dockerfile",
        "ARG BASE=base-root\nFROM ${BASE}\n",
    );
    env.write(
        "images/base-runtime-jre/Dockerfile",
        "FROM eclipse-temurin:17 AS jdk\nFROM base-runtime\nCOPY --from=jdk /opt/java /opt/java\n",
    );
}

fn git(env: &Env, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(env.ctx())
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .env("GIT_AUTHOR_DATE", "1700000000 +0000")
        .env("GIT_COMMITTER_DATE", "1700000000 +0000")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn graph_prints_the_family_tree_and_dot() {
    let env = Env::new();
    family(&env);
    let run = env.plinth(&["graph"]).ok();
    let tree = run.stdout;
    let root = tree.find("base-root").expect("root listed");
    let build = tree.find("base-build").expect("child listed");
    let jre = tree.find("base-runtime-jre").expect("grandchild listed");
    assert!(root < build && build < jre, "{tree}");
    assert!(
        tree.contains("debian-bookworm") && tree.contains("eclipse-temurin:17"),
        "{tree}"
    );
    let run = env.plinth(&["graph", "--format", "dot"]).ok();
    assert!(run.stdout.starts_with("digraph"), "{}", run.stdout);
    assert!(
        run.stdout.contains("\"base-root\" -> \"base-build\""),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\"base-runtime\" -> \"base-runtime-jre\""),
        "{}",
        run.stdout
    );
    // A cycle is an error naming it.
    env.write("images/base-root/Dockerfile", "FROM base-runtime-jre\n");
    let run = env.plinth(&["graph"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("cycle") && run.stderr.contains("base-root ->"),
        "{}",
        run.stderr
    );
}

#[test]
fn tags_follow_git_ci_and_the_family_version() {
    let env = Env::new();
    family(&env);
    git(&env, &["init", "-q", "-b", "main"]);
    git(&env, &["add", "."]);
    git(&env, &["commit", "-q", "-m", "family"]);
    git(&env, &["tag", "v1.2.3"]);
    let no_ci: [(&str, &str); 0] = [];
    // Outside CI: a development build.
    let run = env.plinth_env(&["tags", "base-root", "--format", "json"], &no_ci);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let unique = v["base-root"]["unique"].as_str().unwrap();
    assert!(
        unique.starts_with("dev-main-") && unique.ends_with("-1700000000"),
        "{unique}"
    );
    assert_eq!(v["base-root"]["version"], serde_json::json!([]));
    assert_eq!(v["base-root"]["development"], true);
    // In CI (GitHub Actions) with a clean tree: version tags and latest.
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REF_NAME", "main"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "org/base"),
        ("GITHUB_RUN_ID", "42"),
    ];
    let run = env.plinth_env(&["tags"], &ci);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("base-runtime:"))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(line.contains(" 1.2.3 1.2 1 latest"), "{line}");
    assert!(line.contains("main-"), "{line}");
    // A dirty tree in CI is a development build again.
    env.write("images/base-root/extra", "x");
    let run = env.plinth_env(&["tags", "base-root", "--format", "json"], &ci);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        v["base-root"]["unique"]
            .as_str()
            .unwrap()
            .ends_with("-dirty"),
        "{}",
        run.stdout
    );
    assert_eq!(v["base-root"]["latest"], serde_json::json!([]));
    // A git tag that disagrees with plinth.toml is refused.
    std::fs::remove_file(env.ctx().join("images/base-root/extra")).unwrap();
    git(&env, &["tag", "v2.0.0"]);
    let run = env.plinth_env(&["tags"], &ci);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("2.0.0") && run.stderr.contains("1.2.3"),
        "{}",
        run.stderr
    );
    // Unknown image names get suggestions.
    let run = env.plinth(&["tags", "runtime"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("base-runtime"), "{}", run.stderr);
}

/// A small family that builds without RUN: `a` (scratch), `b` and `b2` from `a`, `c` from `b`
/// under the registry prefix.
fn small_family(env: &Env) {
    small_family_at(env, "registry.example.com");
}

/// [`small_family`] with its images under `registry`.
fn small_family_at(env: &Env, registry: &str) {
    env.write(
        "plinth.toml",
        &format!(
            "[family]\nname = \"t\"\nversion = \"1.2.3\"\nregistry = \"{registry}\"\n\
             namespace = \"t\"\nvendor = \"Acme\"\ndescription = \"the t family\"\n\
             [family.labels]\n\"com.example.team\" = \"platform\"\n"
        ),
    );
    env.write("images/a/files/a.txt", "a\n");
    env.write("images/a/Dockerfile", "FROM scratch\nCOPY files/ /\n");
    env.write("images/b/files/b.txt", "b\n");
    env.write(
        "images/b/Dockerfile",
        "FROM a\nLABEL org.opencontainers.image.description=\"bee\"\nARG X=1\nCOPY files/ /\nCOPY <<EOF /x\n${X}\nEOF\n",
    );
    env.write("images/b2/files/b2.txt", "b2\n");
    env.write("images/b2/Dockerfile", "FROM a:latest\nCOPY files/ /\n");
    env.write("images/c/files/c.txt", "c\n");
    env.write(
        "images/c/Dockerfile",
        &format!("FROM {registry}/t/b:1.2.3\nCOPY files/ /\nCOPY --from=b2 /b2.txt /from-b2.txt\n"),
    );
    git(env, &["init", "-q", "-b", "main"]);
    git(
        env,
        &[
            "remote",
            "add",
            "origin",
            "https://builder:s3cret@git.example.com/t/family.git",
        ],
    );
    git(env, &["add", "-A"]);
    git(env, &["commit", "-q", "-m", "family"]);
}

/// `--metadata-file` of a family build: image name → its entry.
fn family_build(
    env: &Env,
    args: &[&str],
    vars: &[(&str, &str)],
) -> (crate::support::Run, BTreeMap<String, Value>) {
    let meta = env.dir.path().join("meta.json");
    let _ = std::fs::remove_file(&meta);
    let mut all = vec![
        "build",
        "--progress",
        "plain",
        "--metadata-file",
        meta.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let run = env.plinth_env(&all, vars);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&meta).unwrap_or_default())
        .unwrap_or(Value::Null);
    let images = doc["images"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    (
                        i["name"].as_str().unwrap_or_default().to_string(),
                        i.clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (run, images)
}

fn statuses(images: &BTreeMap<String, Value>) -> Vec<(String, String)> {
    images
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The raw manifest and config of a store image, read from the layout with skopeo.
fn manifest_and_config(env: &Env, reference: &str) -> (Value, Value) {
    let target = format!("oci:{}:{reference}", env.store().display());
    let manifest = crate::support::tool("skopeo", &["inspect", "--raw", &target]);
    let manifest: Value = serde_json::from_str(&manifest).expect("manifest json");
    (manifest, env.config(reference))
}

#[test]
fn family_builds_parent_first_pinned_labelled_and_incrementally() {
    let env = Env::new();
    small_family(&env);
    let (run, images) = family_build(&env, &["-j", "2"], &[]);
    let run = run.ok();
    // stdout: one line per image in build order.
    let names: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["a", "b", "b2", "c"], "{}", run.stdout);
    assert_eq!(
        statuses(&images),
        pairs(&[
            ("a", "built"),
            ("b", "built"),
            ("b2", "built"),
            ("c", "built")
        ])
    );
    // Outside CI: a development build, only the unique tag.
    let refs = images["c"]["references"].as_array().unwrap();
    assert_eq!(refs.len(), 1, "{refs:?}");
    let c_ref = refs[0].as_str().unwrap();
    assert!(
        c_ref.starts_with("registry.example.com/t/c:dev-main-"),
        "{c_ref}"
    );
    // c is pinned to the b just built, named by its unique tag.
    let b_digest = images["b"]["digest"].as_str().unwrap();
    let b_unique = images["b"]["references"][0].as_str().unwrap();
    assert_eq!(images["c"]["base"]["digest"], b_digest);
    assert_eq!(images["c"]["base"]["name"], b_unique);
    let (manifest, config) = manifest_and_config(&env, c_ref);
    let labels = &config["config"]["Labels"];
    assert_eq!(labels["org.opencontainers.image.base.digest"], b_digest);
    assert_eq!(labels["org.opencontainers.image.base.name"], b_unique);
    assert_eq!(labels["org.opencontainers.image.title"], "c");
    // b's own LABEL wins over the family description; c does not inherit it.
    assert_eq!(
        labels["org.opencontainers.image.description"],
        "the t family"
    );
    assert_eq!(labels["org.opencontainers.image.vendor"], "Acme");
    assert_eq!(labels["org.opencontainers.image.version"], "1.2.3");
    assert_eq!(labels["com.example.team"], "platform");
    assert_eq!(labels["dev.plinth.build.development"], "true");
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://git.example.com/t/family"
    );
    assert!(
        !config.to_string().contains("s3cret"),
        "credentials in the config"
    );
    let revision = labels["org.opencontainers.image.revision"]
        .as_str()
        .unwrap();
    assert_eq!(revision.len(), 40, "{revision}");
    // The manifest carries the same values as annotations.
    let annotations = manifest["annotations"].as_object().expect("annotations");
    for key in [
        "org.opencontainers.image.base.digest",
        "org.opencontainers.image.base.name",
        "org.opencontainers.image.revision",
        "org.opencontainers.image.version",
        "org.opencontainers.image.created",
    ] {
        assert_eq!(annotations[key], labels[key], "{key}");
    }
    let (_, b_config) = manifest_and_config(&env, b_unique);
    assert_eq!(
        b_config["config"]["Labels"]["org.opencontainers.image.description"],
        "bee"
    );
    // b2's `FROM a:latest` was pinned too (no `a:latest` exists in the store).
    assert_eq!(images["b2"]["base"]["digest"], images["a"]["digest"]);

    // A second run builds nothing and gives the same digests.
    let (run, again) = family_build(&env, &[], &[]);
    run.ok();
    assert_eq!(
        statuses(&again),
        pairs(&[
            ("a", "cached"),
            ("b", "cached"),
            ("b2", "cached"),
            ("c", "cached")
        ])
    );
    for name in ["a", "b", "b2", "c"] {
        assert_eq!(again[name]["digest"], images[name]["digest"], "{name}");
    }

    // One file of b changes: b and its descendant c are rebuilt, a and b2 come from the cache.
    env.write("images/b/files/b.txt", "b, changed\n");
    let (run, changed) = family_build(&env, &[], &[]);
    run.ok();
    assert_eq!(
        statuses(&changed),
        pairs(&[
            ("a", "cached"),
            ("b", "built"),
            ("b2", "cached"),
            ("c", "built")
        ])
    );
    assert_ne!(changed["b"]["digest"], images["b"]["digest"]);
    assert_eq!(changed["c"]["base"]["digest"], changed["b"]["digest"]);

    // `plinth build c` builds c with its ancestors; `--with-dependents b` adds c, not b2.
    let (run, only_c) = family_build(&env, &["c"], &[]);
    run.ok();
    assert_eq!(
        only_c.keys().collect::<Vec<_>>(),
        ["a", "b", "b2", "c"],
        "c copies from b2, so b2 is an ancestor"
    );
    let (run, with_deps) = family_build(&env, &["--with-dependents", "b2"], &[]);
    run.ok();
    assert_eq!(with_deps.keys().collect::<Vec<_>>(), ["a", "b", "b2", "c"]);
    let (run, only_a) = family_build(&env, &["a"], &[]);
    run.ok();
    assert_eq!(only_a.keys().collect::<Vec<_>>(), ["a"]);
    // Build args pass through to every image.
    let (run, with_arg) = family_build(&env, &["--build-arg", "X=2", "b"], &[]);
    run.ok();
    assert_eq!(with_arg["b"]["status"], "built");
    // An unknown image is a usage error with the family listed.
    let (run, _) = family_build(&env, &["nope"], &[]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
}

#[test]
fn ci_release_builds_get_version_tags_and_immutable_unique_tags() {
    let env = Env::new();
    small_family(&env);
    let ci = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REF_NAME", "main"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_REPOSITORY", "org/t"),
        ("GITHUB_RUN_ID", "42"),
    ];
    git(&env, &["tag", "v1.2.3"]);
    let (run, images) = family_build(&env, &["b"], &ci);
    run.ok();
    let refs: Vec<&str> = images["a"]["references"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let tags: Vec<&str> = refs
        .iter()
        .map(|r| r.rsplit_once(':').map(|(_, t)| t).unwrap_or_default())
        .collect();
    assert!(tags[0].starts_with("main-"), "{tags:?}");
    for tag in ["1.2.3", "1.2", "1", "latest"] {
        assert!(tags.contains(&tag), "{tag} missing from {tags:?}");
    }
    let (_, config) = manifest_and_config(&env, "registry.example.com/t/a:1.2.3");
    let labels = &config["config"]["Labels"];
    assert!(
        labels.get("dev.plinth.build.development").is_none(),
        "{labels}"
    );
    assert_eq!(
        labels["dev.plinth.build.url"],
        "https://github.com/org/t/actions/runs/42"
    );
    // The same commit built again with other inputs would move the unique tag: refused.
    let (run, again) = family_build(&env, &["--build-arg", "X=2", "b"], &ci);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains("immutable"), "{}", run.stderr);
    assert_eq!(again["b"]["status"], "failed");
    // The same inputs again are fine (same digest).
    let (run, _) = family_build(&env, &["b"], &ci);
    run.ok();
}

#[test]
fn family_cycles_and_missing_family_are_usage_errors() {
    let env = Env::new();
    env.write("plinth.toml", "[family]\nname = \"t\"\n");
    env.write("images/x/Dockerfile", "FROM y\n");
    env.write("images/y/Dockerfile", "FROM x\n");
    let run = env.plinth(&["build"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("x -> y -> x") || run.stderr.contains("y -> x -> y"),
        "{}",
        run.stderr
    );
    env.write("plinth.toml", "[contexts.d]\nsuite = \"bookworm\"\n");
    let run = env.plinth(&["build"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no [family]"), "{}", run.stderr);
    // Family flags on a single build are refused.
    env.write("Dockerfile", "FROM scratch\n");
    let ctx = env.ctx();
    let run = env.plinth(&["build", "-j", "2", ctx.to_str().unwrap()]);
    assert_eq!(run.status, 2, "{}", run.stderr);
}

#[test]
fn a_failed_parent_skips_its_children_and_fails_the_build() {
    let env = Env::new();
    small_family(&env);
    env.write("images/b/Dockerfile", "FROM a\nCOPY missing.txt /\n");
    let (run, images) = family_build(&env, &["-j", "1"], &[]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains("missing.txt"), "{}", run.stderr);
    assert_eq!(images["a"]["status"], "built");
    assert_eq!(images["b"]["status"], "failed");
    assert_eq!(images["c"]["status"], "skipped");
    assert!(
        images["c"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("b"),
        "{:?}",
        images["c"]
    );
    // Nothing of c was committed.
    let listed = env.plinth(&["images", "--format", "json"]).ok().stdout;
    assert!(!listed.contains("registry.example.com/t/c:"), "{listed}");
}

/// Copies `from` into `to` (files and directories; the example has no symlinks).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The README's main job: the example family (examples/family) built from a clean repository,
/// then again with no change, then with one file of base-runtime changed. Needs root and the
/// Debian mirror (PLINTH_TEST_SLOW=1). The lock is refreshed first (`plinth lock --update`, what
/// the README's `--update-lock` does) and committed, so the test follows the mirror.
#[test]
fn the_example_family_builds_rebuilds_nothing_and_one_change_rebuilds_two() {
    if !crate::rootfs::slow(
        "the_example_family_builds_rebuilds_nothing_and_one_change_rebuilds_two",
    ) {
        return;
    }
    let env = Env::new();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/family");
    copy_tree(&example, &env.ctx());
    git(&env, &["init", "-q", "-b", "main"]);
    git(&env, &["add", "-A"]);
    git(&env, &["commit", "-q", "-m", "family"]);
    // The lock follows the mirror (as the README's `--update-lock` does) and is committed
    // before building, so every build and `plinth test` below see the same clean work tree
    // (a lock rewritten during a build would make the tree dirty after the build's tags).
    env.plinth(&["lock", "--update"]).ok();
    git(&env, &["add", "-A"]);
    git(&env, &["commit", "-q", "--allow-empty", "-m", "lock"]);
    let (run, cold) = family_build(&env, &[], &[]);
    let run = run.ok();
    assert_eq!(
        statuses(&cold),
        pairs(&[
            ("base-build", "built"),
            ("base-build-jvm", "built"),
            ("base-root", "built"),
            ("base-runtime", "built"),
            ("base-runtime-jre", "built"),
        ]),
        "{}",
        run.stderr
    );
    // Parent-first, each child pinned to its parent's digest.
    for (child, parent) in [
        ("base-build", "base-root"),
        ("base-build-jvm", "base-build"),
        ("base-runtime", "base-root"),
        ("base-runtime-jre", "base-runtime"),
    ] {
        assert_eq!(
            cold[child]["base"]["digest"], cold[parent]["digest"],
            "{child}"
        );
        assert_eq!(
            cold[child]["base"]["name"], cold[parent]["references"][0],
            "{child}"
        );
    }
    // The images work: the tools seed 004 asks for, the JDK, Maven and the JRE.
    let reference = |name: &str| cold[name]["references"][0].as_str().unwrap().to_string();
    for (image, cmd) in [
        ("base-root", vec!["/usr/local/bin/healthcheck"]),
        ("base-build", vec!["gcc", "--version"]),
        ("base-build-jvm", vec!["mvn", "-v"]),
        (
            "base-runtime",
            vec![
                "sh",
                "-c",
                "jq --version && aws --version && lsof -v && ss -V && curl --version && /usr/local/bin/healthcheck",
            ],
        ),
        ("base-runtime-jre", vec!["java", "-version"]),
    ] {
        let r = reference(image);
        // The health check's disk-usage limit is the test machine's disk: lifted.
        let mut args = vec![
            "run",
            "--rm",
            "--network",
            "none",
            "-e",
            "HEALTHCHECK_MAX_USED_PERCENT=100",
            r.as_str(),
        ];
        args.extend(cmd.iter().copied());
        env.plinth(&args).ok();
    }
    let (_, config) = manifest_and_config(&env, &reference("base-runtime"));
    let config_cfg = &config["config"];
    assert_eq!(config_cfg["User"], "1000:1000");
    assert!(config_cfg["Healthcheck"].is_object(), "{config_cfg}");
    assert!(
        config_cfg["Volumes"].as_object().is_some_and(
            |v| v.contains_key("/application/logging") && v.contains_key("/application/data")
        ),
        "{config_cfg}"
    );
    assert_eq!(
        config_cfg["Labels"]["org.opencontainers.image.version"],
        "1.0.0"
    );
    assert_eq!(config_cfg["Labels"]["com.example.team"], "platform");

    // Again: nothing runs, the same digests.
    let (run, again) = family_build(&env, &[], &[]);
    run.ok();
    for (name, image) in &again {
        assert_eq!(image["status"], "cached", "{name}");
        assert_eq!(image["digest"], cold[name]["digest"], "{name}");
    }
    // The family's own structure tests (base-root's tests/base-root.yaml) pass; the images
    // without tests are skipped.
    let tested = env.plinth(&["test", "--format", "tap"]);
    assert_eq!(tested.status, 0, "{}\n{}", tested.stdout, tested.stderr);
    assert!(tested.stdout.contains("1..10"), "{}", tested.stdout);
    assert!(!tested.stdout.contains("not ok"), "{}", tested.stdout);
    // One file of base-runtime changes: base-runtime and base-runtime-jre run steps, the
    // others come whole from the cache.
    let motd = env.ctx().join("images/base-runtime/files/etc/motd");
    let mut text = std::fs::read_to_string(&motd).unwrap();
    text.push_str("changed\n");
    std::fs::write(&motd, text).unwrap();
    let (run, changed) = family_build(&env, &[], &[]);
    run.ok();
    assert_eq!(
        statuses(&changed),
        pairs(&[
            ("base-build", "cached"),
            ("base-build-jvm", "cached"),
            ("base-root", "cached"),
            ("base-runtime", "built"),
            ("base-runtime-jre", "built"),
        ])
    );
}

/// The CI environment of a clean release build of `main`.
const CI: [(&str, &str); 6] = [
    ("GITHUB_ACTIONS", "true"),
    ("GITHUB_REF_NAME", "main"),
    ("GITHUB_REF", "refs/heads/main"),
    ("GITHUB_SERVER_URL", "https://github.com"),
    ("GITHUB_REPOSITORY", "org/t"),
    ("GITHUB_RUN_ID", "42"),
];

#[test]
fn family_push_sends_every_tag_parent_first_and_never_moves_a_release() {
    let reg = crate::registry::Registry::start(None);
    let env = Env::new();
    small_family_at(&env, &reg.host);
    git(&env, &["tag", "v1.2.3"]);
    let docker_config = env.dir.path().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    let mut vars = CI.to_vec();
    vars.push(("DOCKER_CONFIG", docker_config.to_str().unwrap()));
    let (run, images) = family_build(&env, &[], &vars);
    run.ok();

    let pushed = env.plinth_env(&["push", "-j", "2"], &vars).ok();
    let lines: Vec<Vec<&str>> = pushed
        .stdout
        .lines()
        .map(|l| l.split(' ').collect())
        .collect();
    let names: Vec<&str> = lines.iter().map(|l| l[0]).collect();
    // Parents first: a before b and b2, b before c.
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap();
    assert_eq!(names.len(), 4, "{}", pushed.stdout);
    assert!(pos("a") < pos("b") && pos("a") < pos("b2") && pos("b") < pos("c"));
    for line in &lines {
        let digest = images[line[0]]["digest"].as_str().unwrap();
        assert_eq!(line[1], digest, "{line:?}");
        let tags: Vec<&str> = line[2..]
            .iter()
            .map(|r| r.rsplit_once(':').unwrap().1)
            .collect();
        assert!(tags[0].starts_with("main-"), "{tags:?}");
        for tag in ["1.2.3", "1.2", "1", "latest"] {
            assert!(tags.contains(&tag), "{tag} missing from {tags:?}");
        }
        // Every reference reads back from the registry with the store's digest.
        for reference in &line[2..] {
            assert_eq!(crate::registry::skopeo_digest(reference), digest);
        }
    }
    // b's layer from a is mounted from a's repository, not uploaded again.
    let b_line = pushed
        .stderr
        .lines()
        .find(|l| l.starts_with("b | pushed"))
        .unwrap_or_else(|| panic!("{}", pushed.stderr));
    assert!(b_line.contains(", 1 mounted,"), "{b_line}");

    // Pushing again uploads nothing.
    let again = env.plinth_env(&["push"], &vars).ok();
    assert_eq!(again.stdout, pushed.stdout);
    assert!(
        again
            .stderr
            .lines()
            .filter(|l| l.contains("0 blobs uploaded, 0 mounted"))
            .count()
            == 4,
        "{}",
        again.stderr
    );

    // A new commit that changes `a` but keeps version 1.2.3: its 1.2.3 tags would move, so the
    // push stops before writing anything.
    let old_a = lines[pos("a")][1].to_string();
    env.write("images/a/files/a.txt", "a changed\n");
    git(&env, &["commit", "-q", "-am", "change a"]);
    let (run, rebuilt) = family_build(&env, &[], &vars);
    run.ok();
    let new_unique = rebuilt["a"]["references"][0].as_str().unwrap().to_string();
    let refused = env.plinth_env(&["push"], &vars);
    assert_eq!(refused.status, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("tag \"1.2.3\" must not move")
            && refused.stderr.contains("nothing was pushed"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    let latest = format!("{}/t/a:latest", reg.host);
    assert_eq!(crate::registry::skopeo_digest(&latest), old_a);
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{new_unique}"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the new unique tag was pushed");

    // Neither family images nor SRC DEST: a usage error naming the family.
    let bad = env.plinth_env(&["push", "nope"], &vars);
    assert_eq!(bad.status, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("a, b, b2, c") || bad.stderr.contains("b2"),
        "{}",
        bad.stderr
    );
}

/// `plinth push` pushes release tags only for family images whose `plinth test` passed: an
/// image with tests that never ran, or whose last run failed, stops the push before anything
/// is written; images without tests go through.
#[test]
fn family_push_needs_passing_tests_for_release_tags() {
    let reg = crate::registry::Registry::start(None);
    let env = Env::new();
    small_family_at(&env, &reg.host);
    env.write(
        "images/a/tests/files.yaml",
        "check:\n- file: /a.txt\n  contains: ['^a$']\n",
    );
    let bad = env.write("bad.yaml", "check:\n- file: /missing.txt\n");
    git(&env, &["add", "-A"]);
    git(&env, &["commit", "-q", "-m", "tests"]);
    git(&env, &["tag", "v1.2.3"]);
    let docker_config = env.dir.path().join("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    let mut vars = CI.to_vec();
    vars.push(("DOCKER_CONFIG", docker_config.to_str().unwrap()));
    family_build(&env, &[], &vars).0.ok();

    let refused = env.plinth_env(&["push"], &vars);
    assert_eq!(refused.status, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("a: not tested"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("nothing was pushed"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty());
    let tags = |repo: &str| {
        std::process::Command::new("skopeo")
            .args([
                "list-tags",
                "--tls-verify=false",
                &format!("docker://{}/t/{repo}", reg.host),
            ])
            .output()
            .unwrap()
    };
    assert!(
        !tags("a").status.success(),
        "a was pushed: {}",
        String::from_utf8_lossy(&tags("a").stdout)
    );

    // A failed run of a's tests (other files, same image digest) is recorded and refused too.
    let failed = env.plinth_env(&["test", "a", "--config", bad.to_str().unwrap()], &vars);
    assert_eq!(failed.status, 1, "{}{}", failed.stdout, failed.stderr);
    let refused = env.plinth_env(&["push"], &vars);
    assert_eq!(refused.status, 1);
    assert!(
        refused.stderr.contains("a: its tests failed (1 of 1)"),
        "{}",
        refused.stderr
    );

    // The family's own tests pass (b, b2, c have none and are skipped): the push goes through.
    let tested = env.plinth_env(&["test", "--format", "tap"], &vars);
    assert_eq!(tested.status, 0, "{}{}", tested.stdout, tested.stderr);
    assert!(
        tested.stdout.contains("ok 1 - a files:"),
        "{}",
        tested.stdout
    );
    assert!(tested.stderr.contains("b: no tests"), "{}", tested.stderr);
    let pushed = env.plinth_env(&["push"], &vars).ok();
    assert_eq!(pushed.stdout.lines().count(), 4, "{}", pushed.stdout);
    let listed = String::from_utf8_lossy(&tags("a").stdout).into_owned();
    assert!(listed.contains("1.2.3"), "{listed}");
}
