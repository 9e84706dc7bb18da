//! `plinth pin` on a family made in the test, with external images built into a real store:
//! what is pinned and what is not, `--check`, `--update`, missing images, and that a pinned
//! Dockerfile builds.

use std::os::unix::fs::PermissionsExt;

use crate::support::Env;

/// Builds a tiny image (no RUN) with `content` in /hello.txt, tagged `tag`; returns its digest.
fn external(env: &Env, tag: &str, content: &str) -> String {
    env.write("hello.txt", content);
    env.build("FROM scratch\nCOPY hello.txt /hello.txt\n", &["-t", tag])
}

/// The digest `plinth images` lists for `name`.
fn listed_digest(env: &Env, name: &str) -> String {
    let run = env.plinth(&["images", "--format", "json"]).ok();
    let images: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    images
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {}", run.stdout))["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

fn read(env: &Env, rel: &str) -> String {
    std::fs::read_to_string(env.ctx().join(rel)).unwrap()
}

const A: &str =
    "# the family's root\nFROM ext/base:1 AS base\nLABEL stage=base\n\nFROM base\nLABEL image=a\n";
const B: &str = "FROM a\nLABEL image=b\n";
const C: &str = "FROM debian-bookworm\nRUN true\n";

fn family(env: &Env) {
    env.write(
        "plinth.toml",
        "[family]\nname = \"fam\"\n\n[contexts.debian-bookworm]\nsuite = \"bookworm\"\n",
    );
    env.write("images/a/Dockerfile", A);
    env.write("images/b/Dockerfile", B);
    env.write("images/c/Dockerfile", C);
}

#[test]
fn pin_check_build_and_update_a_family() {
    let env = Env::new();
    let d1 = external(&env, "ext/base:1", "one\n");
    assert_eq!(listed_digest(&env, "ext/base:1"), d1);
    family(&env);

    // --check lists the unpinned FROM, fails, changes nothing and needs no store.
    let no_store = env.dir.path().join("no-store");
    let run = env.plinth_env(
        &["pin", "--check"],
        &[("PLINTH_STORE", no_store.to_str().unwrap())],
    );
    assert_eq!(run.status, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.lines().next(),
        Some("images/a/Dockerfile:2: ext/base:1 is not pinned"),
        "{}",
        run.stdout
    );
    assert!(!no_store.exists());
    assert_eq!(read(&env, "images/a/Dockerfile"), A);

    // Pinning rewrites only the image word of the external FROM: not the stage reference, the
    // family image (b) or the named context (c).
    let run = env.plinth(&["pin"]).ok();
    assert_eq!(
        run.stdout.lines().next(),
        Some(format!("images/a/Dockerfile:2: ext/base:1 -> ext/base:1@{d1}").as_str()),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("3 Dockerfiles: 1 FROM pinned"),
        "{}",
        run.stdout
    );
    assert_eq!(
        read(&env, "images/a/Dockerfile"),
        format!(
            "# the family's root\nFROM ext/base:1@{d1} AS base\nLABEL stage=base\n\nFROM base\nLABEL image=a\n"
        )
    );
    assert_eq!(read(&env, "images/b/Dockerfile"), B);
    assert_eq!(read(&env, "images/c/Dockerfile"), C);

    let run = env.plinth(&["pin", "--check"]).ok();
    assert!(
        run.stdout.contains("every external FROM is pinned"),
        "{}",
        run.stdout
    );
    // Pinning again changes nothing.
    let run = env.plinth(&["pin"]).ok();
    assert!(
        run.stdout.contains("0 FROMs pinned, 1 already pinned"),
        "{}",
        run.stdout
    );

    // The store resolves name:tag@sha256:..., so the pinned Dockerfile builds, from that image.
    let ctx = env.ctx();
    let built = env
        .plinth(&[
            "build",
            "--progress",
            "plain",
            "-t",
            "a:pinned",
            ctx.join("images/a").to_str().unwrap(),
        ])
        .ok();
    assert!(
        built.stdout.trim().starts_with("sha256:"),
        "{}",
        built.stdout
    );
    let config = env.config("a:pinned");
    assert_eq!(config["config"]["Labels"]["image"], "a");

    // ext/base:1 now names another image: --update --check reports the stale digest...
    let d2 = external(&env, "ext/base:1", "two\n");
    assert_ne!(d1, d2);
    let pinned_d1 = read(&env, "images/a/Dockerfile");
    let run = env.plinth(&["pin", "--check", "--update"]);
    assert_eq!(run.status, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.lines().next(),
        Some(format!("images/a/Dockerfile:2: ext/base:1@{d1} -> ext/base:1@{d2}").as_str()),
        "{}",
        run.stdout
    );
    assert_eq!(read(&env, "images/a/Dockerfile"), pinned_d1);
    // ...plain pin keeps it...
    env.plinth(&["pin"]).ok();
    assert_eq!(read(&env, "images/a/Dockerfile"), pinned_d1);
    // ...and --update replaces it.
    let run = env.plinth(&["pin", "--update", "--format", "json"]).ok();
    let rows: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([{
            "file": "images/a/Dockerfile",
            "line": 2,
            "column": 6,
            "from": format!("ext/base:1@{d1}"),
            "to": format!("ext/base:1@{d2}"),
            "action": "updated",
            "written": true,
            "reason": null,
        }])
    );
    assert_eq!(
        read(&env, "images/a/Dockerfile"),
        format!(
            "# the family's root\nFROM ext/base:1@{d2} AS base\nLABEL stage=base\n\nFROM base\nLABEL image=a\n"
        )
    );
    env.plinth(&["pin", "--check", "--update"]).ok();
}

#[test]
fn missing_images_and_bad_dockerfiles_change_nothing() {
    let env = Env::new();
    external(&env, "ext/base:1", "one\n");
    env.write("plinth.toml", "[family]\nname = \"fam\"\n");
    let a = "FROM ext/base:1\n";
    let b = "# b\n\nFROM ext/missing:2\n";
    env.write("images/a/Dockerfile", a);
    env.write("images/b/Dockerfile", b);
    let run = env.plinth(&["pin"]);
    assert_eq!(run.status, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("images/b/Dockerfile:3: ext/missing:2 is not in the store")
            && run.stderr.contains("plinth pull ext/missing:2")
            && run.stderr.contains("no file was changed"),
        "{}",
        run.stderr
    );
    // All or nothing: a, which could be pinned, is not touched either.
    assert_eq!(read(&env, "images/a/Dockerfile"), a);
    assert_eq!(read(&env, "images/b/Dockerfile"), b);

    env.write("images/b/Dockerfile", "FROM ext/base:1\nFROBNICATE\n");
    let run = env.plinth(&["pin"]);
    assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("images/b/Dockerfile:2:1: unknown instruction"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&env, "images/a/Dockerfile"), a);

    // A path that is not there is a usage error.
    let run = env.plinth(&["pin", "nowhere"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("nowhere"), "{}", run.stderr);
}

#[test]
fn given_paths_keep_crlf_permissions_and_warn_about_variables() {
    let env = Env::new();
    let d = external(&env, "ext/base:1", "one\n");
    let text = "ARG V=1\r\nFROM ext/base:${V} AS x\r\nFROM --platform=linux/amd64 \\\r\n    ext/base:1\r\nCOPY --from=x / /\r\n";
    let path = env.write("sub/Dockerfile", text);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let run = env.plinth(&["pin", "sub"]).ok();
    assert_eq!(
        run.stdout.lines().next(),
        Some(format!("sub/Dockerfile:4: ext/base:1 -> ext/base:1@{d}").as_str()),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("warning: sub/Dockerfile:2: ext/base:${V} is not pinned")
            && run.stderr.contains("ARG variables ($V)"),
        "{}",
        run.stderr
    );
    assert_eq!(
        read(&env, "sub/Dockerfile"),
        format!(
            "ARG V=1\r\nFROM ext/base:${{V}} AS x\r\nFROM --platform=linux/amd64 \\\r\n    ext/base:1@{d}\r\nCOPY --from=x / /\r\n"
        )
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(env.ctx().join("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["Dockerfile"]);
    // The variable FROM is a warning, not an unpinned FROM: --check passes.
    let run = env.plinth(&["pin", "--check", "sub/Dockerfile"]).ok();
    assert!(run.stderr.contains("warning:"), "{}", run.stderr);
}

#[test]
fn pin_from_the_registry_uses_what_the_tag_names_there() {
    let reg = crate::registry::Registry::start(None);
    let env = Env::new();
    let one = external(&env, "up:1", "one\n");
    let remote = format!("{}/ext/up:1", reg.host);
    crate::registry::plinth(&env, &["push", "up:1", &remote]).ok();
    let dockerfile = format!("# app\nFROM {remote} AS base\nLABEL x=1\n");
    env.write("app/Dockerfile", &dockerfile);
    // The store does not have it under that name; the registry does.
    let run = crate::registry::plinth(&env, &["pin", "app"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    let run = crate::registry::plinth(&env, &["pin", "--from", "registry", "app"]).ok();
    assert_eq!(
        read(&env, "app/Dockerfile"),
        format!("# app\nFROM {remote}@{one} AS base\nLABEL x=1\n"),
        "{}",
        run.stderr
    );
    // The tag moves on the registry: --check --update says so, --update rewrites the digest.
    let two = external(&env, "up:2", "two\n");
    crate::registry::plinth(&env, &["push", "up:2", &remote]).ok();
    let check = crate::registry::plinth(
        &env,
        &["pin", "--from", "registry", "--check", "--update", "app"],
    );
    assert_eq!(check.status, 1, "{}", check.stderr);
    crate::registry::plinth(&env, &["pin", "--from", "registry", "--update", "app"]).ok();
    assert_eq!(
        read(&env, "app/Dockerfile"),
        format!("# app\nFROM {remote}@{two} AS base\nLABEL x=1\n")
    );
    // A tag the registry does not have: an error with the Dockerfile's line, nothing written.
    env.write("app/Dockerfile", &format!("FROM {}/ext/none:1\n", reg.host));
    let run = crate::registry::plinth(&env, &["pin", "--from", "registry", "app"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("app/Dockerfile:1") && run.stderr.contains("ext/none"),
        "{}",
        run.stderr
    );
}
