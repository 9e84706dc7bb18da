//! Reproducibility: the same Dockerfile, context and args give the same manifest digest, twice on
//! one machine and from another checkout (other paths, other mtimes, another store).

use std::path::Path;

use crate::support::{Env, SDE, tool_run};

const DOCKERFILE: &str = "FROM scratch AS base\nCOPY . /src/\nFROM base\nARG V=1\nLABEL v=$V\nWORKDIR /srv\nCOPY --chmod=755 bin/ /usr/local/bin/\nCMD [\"/usr/local/bin/tool\"]\n";

fn fill(env: &Env) {
    env.write("Dockerfile", DOCKERFILE);
    env.write("a.txt", "alpha\n");
    env.write("dir/b.txt", "beta\n");
    env.write("bin/tool", "#!/bin/sh\necho tool\n");
    let long = "x".repeat(120);
    env.write(
        &format!("deep/{long}/{long}.txt"),
        "long names use PAX headers\n",
    );
    std::fs::hard_link(env.ctx().join("a.txt"), env.ctx().join("a-link.txt")).unwrap();
    std::os::unix::fs::symlink("a.txt", env.ctx().join("sym")).unwrap();
}

fn touch_all(dir: &Path, when: &str) {
    let run = tool_run(
        "sh",
        &[
            "-c",
            &format!("find '{}' -exec touch -h -d '{when}' {{}} +", dir.display()),
        ],
        None,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
}

#[test]
fn same_inputs_same_digest_on_another_checkout() {
    let a = Env::new();
    fill(&a);
    let d1 = a.build(DOCKERFILE, &["--source-date-epoch", SDE]);
    let d2 = a.build(DOCKERFILE, &["--source-date-epoch", SDE]);
    assert_eq!(d1, d2, "twice in one store");

    // Another "machine": a different path, different mtimes, a different store, env var instead of flag.
    let b = Env::new();
    fill(&b);
    touch_all(&b.ctx(), "2030-01-01 12:00");
    touch_all(&a.ctx(), "2031-06-01 08:00");
    let run = b
        .plinth_env(
            &["build", b.ctx().to_str().unwrap()],
            &[("SOURCE_DATE_EPOCH", SDE)],
        )
        .ok();
    assert_eq!(run.stdout.trim(), d1, "another checkout, another store");

    // The inputs matter: a build arg, a file, or the epoch change the digest.
    assert_ne!(
        b.build(
            DOCKERFILE,
            &["--source-date-epoch", SDE, "--build-arg", "V=2"]
        ),
        d1
    );
    assert_ne!(
        b.build(DOCKERFILE, &["--source-date-epoch", "1700000001"]),
        d1
    );
    b.write("a.txt", "changed\n");
    assert_ne!(b.build(DOCKERFILE, &["--source-date-epoch", SDE]), d1);
}

#[test]
fn epoch_defaults_to_git_head_commit_time() {
    let env = Env::new();
    fill(&env);
    let git = |args: &[&str]| {
        let st = std::process::Command::new("git")
            .arg("-C")
            .arg(env.ctx())
            .args(args)
            .env("GIT_COMMITTER_DATE", "1650000000 +0000")
            .env("GIT_AUTHOR_DATE", "1650000000 +0000")
            .status()
            .expect("git is installed");
        assert!(st.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "-m",
        "m",
    ]);
    let digest = env.build(DOCKERFILE, &["-t", "repro:git"]);
    assert_eq!(env.config("repro:git")["created"], "2022-04-15T05:20:00Z");
    let explicit = env.build(DOCKERFILE, &["--source-date-epoch", "1650000000"]);
    assert_eq!(digest, explicit, "the git commit time is the default epoch");
}
