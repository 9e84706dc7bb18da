//! A build pulls the images its FROM and COPY --from name from a real registry when the store
//! does not have them (`--pull missing`, the default), every tagged one with `--pull always`, and
//! none with `--pull never`.

use crate::registry::{Registry, plinth, skopeo_digest};
use crate::support::Env;

/// The diff_ids of a store image, as skopeo reads its config.
fn diff_ids(env: &Env, store: &str, reference: &str) -> Vec<String> {
    let out = crate::support::tool(
        "skopeo",
        &[
            "inspect",
            "--config",
            "--raw",
            &format!("oci:{store}:{reference}"),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let _ = env;
    v["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_build_pulls_a_missing_base_and_copy_from_image() {
    let reg = Registry::start(None);
    let env = Env::new();
    // Two images on the registry: a base and a "tools" image COPY --from takes a file from.
    env.write("base.txt", "base v1\n");
    env.build("FROM scratch\nCOPY base.txt /base.txt\n", &["-t", "base:1"]);
    env.write("tool.txt", "tool\n");
    env.build(
        "FROM scratch\nCOPY tool.txt /tool.txt\n",
        &["-t", "tools:1"],
    );
    let base = format!("{}/t/base:1", reg.host);
    let tools = format!("{}/t/tools:1", reg.host);
    let base_digest = plinth(&env, &["push", "base:1", &base]).ok().stdout;
    plinth(&env, &["push", "tools:1", &tools]).ok();
    let base_store = env.store();
    let base_layers = diff_ids(&env, base_store.to_str().unwrap(), "base:1");

    // A fresh store: the build pulls both.
    let other = env.dir.path().join("other");
    let other = other.to_str().unwrap();
    env.write("app.txt", "app\n");
    let app_dockerfile =
        format!("FROM {base}\nCOPY --from={tools} /tool.txt /tool.txt\nCOPY app.txt /app.txt\n");
    env.write("Dockerfile", &app_dockerfile);
    let ctx = env.ctx();
    let ctx = ctx.to_str().unwrap();
    let built = plinth(
        &env,
        &[
            "--store",
            other,
            "build",
            "--progress",
            "plain",
            "-t",
            "app:1",
            ctx,
        ],
    )
    .ok();
    assert!(
        built.stderr.contains(&format!("pulling {base}")),
        "{}",
        built.stderr
    );
    assert!(
        built.stderr.contains(&format!("pulling {tools}")),
        "{}",
        built.stderr
    );
    assert!(
        built.stderr.contains(base_digest.trim()),
        "{}",
        built.stderr
    );
    let layers = diff_ids(&env, other, "app:1");
    assert_eq!(layers.len(), 3, "{layers:?}");
    assert_eq!(layers[0], base_layers[0]);
    // The pulled images are in the store under their names, with the registry's digests.
    let listed = crate::registry::listed_digest(&env, other, &base);
    assert_eq!(listed, base_digest.trim());

    // Offline, the store has everything now: the same image, nothing pulled.
    let offline = plinth(
        &env,
        &[
            "--store",
            other,
            "build",
            "--pull",
            "never",
            "--progress",
            "plain",
            "-t",
            "app:1",
            ctx,
        ],
    )
    .ok();
    assert!(!offline.stderr.contains("pulling"), "{}", offline.stderr);
    assert_eq!(offline.stdout, built.stdout);

    // The base moves on the registry: `--pull missing` keeps the stored one, `--pull always`
    // takes the new one.
    env.write("base.txt", "base v2\n");
    env.build("FROM scratch\nCOPY base.txt /base.txt\n", &["-t", "base:2"]);
    let moved = plinth(&env, &["push", "base:2", &base]).ok().stdout;
    assert_eq!(skopeo_digest(&base), moved.trim());
    env.write("Dockerfile", &app_dockerfile);
    let missing = plinth(&env, &["--store", other, "build", "-t", "app:1", ctx]).ok();
    assert_eq!(missing.stdout, built.stdout);
    let always = plinth(
        &env,
        &[
            "--store",
            other,
            "build",
            "--pull",
            "always",
            "--progress",
            "plain",
            "-t",
            "app:1",
            ctx,
        ],
    )
    .ok();
    assert_ne!(always.stdout, built.stdout);
    assert!(always.stderr.contains(moved.trim()), "{}", always.stderr);
    let new_base_layers = diff_ids(&env, base_store.to_str().unwrap(), "base:2");
    assert_eq!(diff_ids(&env, other, "app:1")[0], new_base_layers[0]);

    // Pinned by digest, in a third store: pulled by digest once, then found offline.
    let third = env.dir.path().join("third");
    let third = third.to_str().unwrap();
    env.write(
        "Dockerfile",
        &format!(
            "FROM {}/t/base@{}\nCOPY app.txt /app.txt\n",
            reg.host,
            base_digest.trim()
        ),
    );
    plinth(&env, &["--store", third, "build", "-t", "pinned:1", ctx]).ok();
    plinth(
        &env,
        &[
            "--store", third, "build", "--pull", "never", "-t", "pinned:1", ctx,
        ],
    )
    .ok();
    assert_eq!(diff_ids(&env, third, "pinned:1")[0], base_layers[0]);

    // Not on the registry: the error names the image and the registry's answer.
    env.write("Dockerfile", &format!("FROM {}/t/nope:1\n", reg.host));
    let run = plinth(&env, &["--store", third, "build", ctx]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("Dockerfile:1") && run.stderr.contains("t/nope"),
        "{}",
        run.stderr
    );
    // And with --pull never, the store's absence is the error.
    let run = plinth(&env, &["--store", third, "build", "--pull", "never", ctx]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains("pulling is off"), "{}", run.stderr);
}
