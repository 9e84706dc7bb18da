//! `plinth new DIR`: the scaffold it writes is a family `plinth graph` and `plinth tags` accept,
//! its plinth.toml validates against the committed JSON Schema, and a taken DIR is refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Env, tool_run};

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The scaffold's files, sorted.
const FILES: [&str; 9] = [
    "CHANGELOG.md",
    "README.md",
    "images/base-root/Dockerfile",
    "images/base-root/files/etc/apt/apt.conf.d/90-no-recommends",
    "images/base-root/tests/README.md",
    "images/base-runtime/Dockerfile",
    "images/base-runtime/files/usr/local/bin/healthcheck",
    "images/base-runtime/tests/README.md",
    "plinth.toml",
];

fn expected_files() -> Vec<String> {
    FILES.iter().map(|s| s.to_string()).collect()
}

#[test]
fn new_scaffolds_a_family_that_graph_and_tags_accept() {
    let env = Env::new();
    // Parents are created; the name comes from the directory's name.
    let dir = env.dir.path().join("work/Acme Base");
    let run = env.plinth(&["new", dir.to_str().unwrap()]).ok();
    assert_eq!(tree(&dir), expected_files());
    assert!(run.stdout.contains("\"acme-base\""), "{}", run.stdout);
    for f in expected_files() {
        assert!(
            run.stdout.contains(&format!("  {f}\n")),
            "{f} not listed:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout.contains("plinth lock") && run.stdout.contains("plinth graph"),
        "next steps: {}",
        run.stdout
    );
    // Nothing else next to it: the staging directory is gone.
    let siblings: Vec<_> = std::fs::read_dir(dir.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings, ["Acme Base"]);

    let config = dir.join("plinth.toml");
    let config = config.to_str().unwrap();
    let run = env.plinth(&["graph", "--config", config]).ok();
    assert!(
        run.stdout.starts_with("base-root\n└── base-runtime\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("base-root: debian-bookworm"),
        "{}",
        run.stdout
    );
    let run = env
        .plinth(&["graph", "--config", config, "--format", "dot"])
        .ok();
    assert!(
        run.stdout.contains("\"base-root\" -> \"base-runtime\""),
        "{}",
        run.stdout
    );

    // Not a git repository: a development build, with the default template.
    let run = env
        .plinth(&["tags", "--config", config, "--format", "json"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    for image in ["base-root", "base-runtime"] {
        let unique = v[image]["unique"].as_str().unwrap_or_default();
        assert!(unique.starts_with("dev-"), "{image}: {}", run.stdout);
        assert_eq!(v[image]["development"], true, "{}", run.stdout);
    }

    // The content.
    let toml = read(dir.join("plinth.toml"));
    for snippet in [
        "name = \"acme-base\"",
        "version = \"0.1.0\"",
        "namespace = \"acme-base\"",
        "# registry = ",
        "# vendor = ",
        "# license = ",
        "# tag-template = \"{branch}-{sha}-{time}\"",
        "[family.labels]",
        "[contexts.debian-bookworm]",
        "suite = \"bookworm\"",
        "variant = \"minbase\"",
        "include = [\"ca-certificates\"]",
    ] {
        assert!(
            toml.contains(snippet),
            "plinth.toml lacks {snippet:?}:\n{toml}"
        );
    }
    let root = read(dir.join("images/base-root/Dockerfile"));
    assert!(root.contains("\nFROM debian-bookworm\n"), "{root}");
    assert!(
        root.contains("LABEL org.opencontainers.image.description="),
        "{root}"
    );
    assert!(root.contains("\nCOPY files/ /\n"), "{root}");
    let runtime = read(dir.join("images/base-runtime/Dockerfile"));
    assert!(runtime.contains("\nFROM base-root\n"), "{runtime}");
    assert!(
        runtime.contains("--no-install-recommends")
            && runtime.contains("rm -rf /var/lib/apt/lists/*"),
        "{runtime}"
    );
    assert!(
        runtime.contains("VOLUME [\"/application/logging\", \"/application/data\"]"),
        "{runtime}"
    );
    assert!(
        runtime.contains("CMD [\"/usr/local/bin/healthcheck\"]"),
        "{runtime}"
    );
    for hard_coded in [
        "image.version",
        "image.revision",
        "image.created",
        "image.source",
    ] {
        assert!(!root.contains(hard_coded) && !runtime.contains(hard_coded));
    }
    let apt = read(dir.join("images/base-root/files/etc/apt/apt.conf.d/90-no-recommends"));
    assert!(apt.contains("APT::Install-Recommends \"false\";"), "{apt}");
    let changelog = read(dir.join("CHANGELOG.md"));
    assert!(
        changelog.contains("Keep a Changelog") && changelog.contains("## [Unreleased]"),
        "{changelog}"
    );
    let tests = read(dir.join("images/base-runtime/tests/README.md"));
    assert!(tests.contains("structure tests"), "{tests}");
    let readme = read(dir.join("README.md"));
    for cmd in ["plinth lock", "plinth graph", "plinth build", "plinth tags"] {
        assert!(readme.contains(cmd), "README lacks {cmd}");
    }
}

#[test]
fn the_healthcheck_runs_the_checks_of_its_directory() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new();
    let dir = env.dir.path().join("fam");
    env.plinth(&["new", dir.to_str().unwrap()]).ok();
    let script = dir.join("images/base-runtime/files/usr/local/bin/healthcheck");
    let mode = std::fs::metadata(&script).unwrap().permissions().mode();
    assert_eq!(mode & 0o111, 0o111, "executable: {mode:o}");

    let checks = env.dir.path().join("checks");
    std::fs::create_dir(&checks).unwrap();
    let check = |dir: &Path| {
        Command::new(&script)
            .env("HEALTHCHECK_DIR", dir)
            .output()
            .expect("run healthcheck")
    };
    // No checks: healthy (also with no directory at all).
    assert!(check(&checks).status.success());
    assert!(check(&env.dir.path().join("missing")).status.success());
    let write = |name: &str, body: &str, mode: u32| {
        let p = checks.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write("10-ok", "#!/bin/sh\nexit 0\n", 0o755);
    write("20-not-executable", "#!/bin/sh\nexit 1\n", 0o644);
    assert!(check(&checks).status.success());
    write("30-fails", "#!/bin/sh\nexit 3\n", 0o755);
    let out = check(&checks);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("30-fails failed"), "{stderr}");
}

#[test]
fn a_non_empty_dir_is_refused_and_left_alone() {
    let env = Env::new();
    let dir = env.ctx();
    std::fs::write(dir.join("keep.txt"), "mine").unwrap();
    let run = env.plinth(&["new", dir.to_str().unwrap()]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("not empty") && run.stderr.contains("new or empty directory"),
        "{}",
        run.stderr
    );
    assert_eq!(tree(&dir), ["keep.txt"]);
    assert_eq!(read(dir.join("keep.txt")), "mine");
    // Nothing was left next to it either.
    let siblings: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(siblings, ["ctx"]);

    // A file is refused too; an empty directory is fine.
    let run = env.plinth(&["new", dir.join("keep.txt").to_str().unwrap()]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not a directory"), "{}", run.stderr);
    // So is a dangling symbolic link (the scaffold would replace it).
    let link = env.dir.path().join("link");
    std::os::unix::fs::symlink(env.dir.path().join("nowhere"), &link).unwrap();
    let run = env.plinth(&["new", link.to_str().unwrap()]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);
    assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
    std::fs::remove_file(&link).unwrap();
    // An empty directory is fine, and kept (a shell in it still sees the files): `plinth new .`.
    use std::os::unix::fs::MetadataExt as _;
    let empty = env.dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let inode = std::fs::metadata(&empty).unwrap().ino();
    let run = Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(["new", "."])
        .current_dir(&empty)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(tree(&empty), expected_files(), "no staging directory left");
    assert_eq!(std::fs::metadata(&empty).unwrap().ino(), inode);
    assert!(read(empty.join("plinth.toml")).contains("name = \"empty\""));
}

#[test]
fn flags_are_reflected_in_plinth_toml_and_bad_ones_refused() {
    let env = Env::new();
    // A relative DIR, from the current directory (the context).
    let run = env.plinth(&[
        "new",
        "fam",
        "--name",
        "acme",
        "--registry",
        "registry.example.org:5000",
        "--namespace",
        "platform/base",
        "--vendor",
        "ACME \"Rockets\" Inc.",
    ]);
    let run = run.ok();
    assert!(run.stdout.contains("\"acme\""), "{}", run.stdout);
    let toml = read(env.ctx().join("fam/plinth.toml"));
    for line in [
        "\nname = \"acme\"\n",
        "\nregistry = \"registry.example.org:5000\"\n",
        "\nnamespace = \"platform/base\"\n",
        "\nvendor = \"ACME \\\"Rockets\\\" Inc.\"\n",
    ] {
        assert!(toml.contains(line), "plinth.toml lacks {line:?}:\n{toml}");
    }
    // A FROM under the family's prefix is an edge too.
    let dockerfile = env.ctx().join("fam/images/base-runtime/Dockerfile");
    let text = read(dockerfile.clone()).replace(
        "\nFROM base-root\n",
        "\nFROM registry.example.org:5000/platform/base/base-root:0.1.0\n",
    );
    std::fs::write(&dockerfile, text).unwrap();
    let run = env.plinth(&["graph", "--config", "fam/plinth.toml"]).ok();
    assert!(
        run.stdout.starts_with("base-root\n└── base-runtime\n"),
        "{}",
        run.stdout
    );

    for (flag, value) in [
        ("--name", "Acme"),
        ("--registry", "https://registry.example.org"),
        ("--namespace", "/base"),
        ("--vendor", " "),
    ] {
        let run = env.plinth(&["new", "other", flag, value]);
        assert_eq!(run.status, 2, "{flag} {value}: {}", run.stderr);
        assert!(run.stderr.contains(flag), "{}", run.stderr);
        assert!(!env.ctx().join("other").exists());
    }
}

#[test]
fn plinth_toml_validates_against_the_committed_json_schema() {
    let env = Env::new();
    let dir = env.dir.path().join("fam");
    env.plinth(&[
        "new",
        dir.to_str().unwrap(),
        "--vendor",
        "ACME",
        "--registry",
        "r.example.com",
    ])
    .ok();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plinth.schema.json");
    let toml = dir.join("plinth.toml");
    let script = r#"
import json, sys, tomllib, jsonschema
schema = json.load(open(sys.argv[1]))
doc = tomllib.load(open(sys.argv[2], "rb"))
jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
# The same validator rejects a misspelt key, so the check above can fail.
doc["family"]["tag_template"] = "{sha}"
try:
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
except jsonschema.ValidationError:
    print("valid; misspelt key refused")
"#;
    let run = tool_run(
        "python3",
        &[
            "-c",
            script,
            schema.to_str().unwrap(),
            toml.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout.trim(), "valid; misspelt key refused");
}
