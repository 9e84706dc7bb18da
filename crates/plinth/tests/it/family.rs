//! `plinth graph` and `plinth tags` on a family repository made in the test (a real git
//! repository for the tag policy).

use std::process::Command;

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
