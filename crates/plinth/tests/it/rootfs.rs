//! Debian root filesystems: `plinth rootfs`, `plinth lock`, `FROM <context>` in builds.
//!
//! The tests that talk to the Debian mirror (and compare with mmdebstrap) need the network and
//! root; they run with PLINTH_TEST_SLOW=1 (set by .ci/run). The others use a local `file://`
//! mirror made from a real InRelease.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::{Env, tool_run};

pub(crate) fn slow(name: &str) -> bool {
    if std::env::var("PLINTH_TEST_SLOW").as_deref() == Ok("1") {
        return true;
    }
    eprintln!("{name}: PLINTH_TEST_SLOW unset (.ci/run sets it); not run");
    false
}

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../plinth-debian/tests/fixtures"
);

/// A local mirror serving the real bookworm InRelease (optionally altered).
fn local_mirror(env: &Env, alter: impl Fn(&mut Vec<u8>)) -> String {
    let root = env.dir.path().join("mirror");
    let dists = root.join("dists/bookworm");
    std::fs::create_dir_all(&dists).unwrap();
    let mut data = std::fs::read(Path::new(FIXTURES).join("bookworm.InRelease")).unwrap();
    alter(&mut data);
    std::fs::write(dists.join("InRelease"), data).unwrap();
    format!("file://{}", root.display())
}

#[test]
fn a_tampered_inrelease_is_refused() {
    let env = Env::new();
    // Change one hex digit of a checksum inside the signed text.
    let mirror = local_mirror(&env, |d| {
        let text = String::from_utf8_lossy(d).into_owned();
        let at = text.find("SHA256:\n ").unwrap() + 9;
        d[at] = if d[at] == b'0' { b'1' } else { b'0' };
    });
    let run = env.plinth(&[
        "rootfs",
        "--suite",
        "bookworm",
        "--mirror",
        &mirror,
        "--progress",
        "plain",
    ]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains("InRelease"), "{}", run.stderr);
    assert!(
        run.stderr.to_lowercase().contains("signature"),
        "{}",
        run.stderr
    );
    // Nothing was cached as an index and no image was made.
    let images = env.plinth(&["images"]).ok();
    assert_eq!(images.stdout.lines().count(), 1, "{}", images.stdout);
}

#[test]
fn an_inrelease_signed_by_an_unknown_key_is_refused() {
    let env = Env::new();
    let mirror = local_mirror(&env, |_| {});
    // A keyring with only the bullseye keys, which did not sign bookworm.
    let run = env.plinth(&[
        "rootfs",
        "--suite",
        "bookworm",
        "--mirror",
        &mirror,
        "--keyring",
        "/usr/share/keyrings/debian-archive-bullseye-stable.gpg",
    ]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr.to_lowercase().contains("signature"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_packages_index_with_a_wrong_checksum_is_refused() {
    let env = Env::new();
    let mirror = local_mirror(&env, |_| {});
    // The InRelease is genuine; the Packages.xz the mirror serves is not the one it lists.
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("bookworm.InRelease")).unwrap();
    assert!(
        text.contains("main/binary-amd64/Packages.xz"),
        "fixture lists the index"
    );
    let dir = env
        .dir
        .path()
        .join("mirror/dists/bookworm/main/binary-amd64");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Packages.xz"), b"not the index").unwrap();
    let run = env.plinth(&["rootfs", "--suite", "bookworm", "--mirror", &mirror]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains("checksum mismatch"), "{}", run.stderr);
    assert!(run.stderr.contains("Packages.xz"), "{}", run.stderr);
}

#[test]
fn plinth_toml_errors_name_the_key_and_line() {
    let env = Env::new();
    env.write(
        "plinth.toml",
        "[contexts.debian-bookworm]\nsuite = \"bookworm\"\nvariant = \"tiny\"\n",
    );
    let run = env.plinth(&["rootfs", "debian-bookworm"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("plinth.toml") && run.stderr.contains("line 3"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("minbase"),
        "lists the variants: {}",
        run.stderr
    );
    env.write(
        "plinth.toml",
        "[contexts.debian-bookworm]\nsuite = \"bookworm\"\n",
    );
    let run = env.plinth(&["rootfs", "debian-trixie"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("debian-bookworm"), "{}", run.stderr);
    env.write("plinth.lock", "version = 1\n[[rootfs]]\ncontext = 1\n");
    let run = env.plinth(&["rootfs", "debian-bookworm"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains("plinth.lock"), "{}", run.stderr);
}

/// Package names of a dpkg status file.
fn status_packages(status: &str) -> BTreeSet<String> {
    status
        .lines()
        .filter_map(|l| l.strip_prefix("Package: "))
        .map(str::to_string)
        .collect()
}

/// Paths of a tar (`./` prefixes and trailing `/` removed).
fn tar_paths(args: &[&str]) -> BTreeSet<String> {
    let run = tool_run("tar", args, None);
    assert_eq!(run.status, 0, "tar {args:?}: {}", run.stderr);
    run.stdout
        .lines()
        .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_string())
        .filter(|l| !l.is_empty() && l != ".")
        .collect()
}

/// Differences from mmdebstrap's minbase that are expected, with the reason (see BENCHMARKS.md
/// and the issue note): prefixes of paths only mmdebstrap has.
const ONLY_MMDEBSTRAP: &[(&str, &str)] = &[
    (
        "dev/",
        "device nodes: OCI runtimes provide /dev; a layer carries none",
    ),
    (
        "etc/hostname",
        "copied from the build host by mmdebstrap; runtimes mount their own",
    ),
    (
        "etc/resolv.conf",
        "copied from the build host by mmdebstrap; runtimes mount their own",
    ),
    (
        "var/lib/apt/lists/lock",
        "left by mmdebstrap's `apt-get update`; plinth reads indexes itself",
    ),
    (
        "var/cache/apt/archives/lock",
        "left by mmdebstrap's apt run",
    ),
    (
        "var/lib/dpkg/status-old",
        "dpkg's backup of its database: not needed in an image",
    ),
    (
        "var/lib/dpkg/diversions-old",
        "dpkg's backup of its database: not needed in an image",
    ),
    (
        "var/cache/debconf/config.dat-old",
        "debconf's backup: not needed in an image",
    ),
    (
        "var/cache/debconf/templates.dat-old",
        "debconf's backup: not needed in an image",
    ),
];

#[test]
fn debian_minbase_root_filesystem() {
    if !slow("debian_minbase_root_filesystem") {
        return;
    }
    let env = Env::new();
    env.write(
        "plinth.toml",
        "[contexts.debian-bookworm]\nsuite = \"bookworm\"\nvariant = \"minbase\"\n",
    );
    // Lock, then build from the lock.
    let run = env.plinth(&["lock"]).ok();
    assert!(
        run.stdout.contains("debian-bookworm: bookworm minbase"),
        "{}",
        run.stdout
    );
    let lock = std::fs::read_to_string(env.ctx().join("plinth.lock")).unwrap();
    let locked: BTreeSet<String> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .map(|l| l.trim_end_matches('"').to_string())
        .collect();
    assert!(locked.len() > 80, "{lock}");
    assert!(lock.contains("date = "), "the Release dates are recorded");
    let first = env
        .plinth(&[
            "rootfs",
            "debian-bookworm",
            "-t",
            "deb:minbase",
            "--progress",
            "plain",
        ])
        .ok();
    let digest = first.stdout.trim().to_string();
    assert!(digest.starts_with("sha256:"), "{}", first.stdout);

    // apt and dpkg work in it, and dpkg's database is complete.
    let run = env
        .plinth(&[
            "run",
            "--rm",
            "--network",
            "none",
            "deb:minbase",
            "apt-get",
            "--version",
        ])
        .ok();
    assert!(run.stdout.starts_with("apt "), "{}", run.stdout);
    let run = env
        .plinth(&[
            "run",
            "--rm",
            "--network",
            "none",
            "deb:minbase",
            "dpkg",
            "-l",
        ])
        .ok();
    let installed: BTreeSet<String> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("ii "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|n| n.split(':').next().unwrap_or(n).to_string())
        .collect();
    assert_eq!(
        installed, locked,
        "dpkg -l lists every locked package, all configured"
    );
    let run = env.plinth(&["run", "--rm", "--network", "none", "deb:minbase", "sh", "-c", "cat /etc/apt/sources.list; ls /var/lib/apt/lists /var/log; test ! -e /etc/machine-id && echo no-machine-id"]).ok();
    assert!(
        run.stdout
            .contains("deb http://deb.debian.org/debian bookworm main"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("no-machine-id"), "{}", run.stdout);
    assert!(!run.stdout.contains("dpkg.log"), "{}", run.stdout);

    // The same lock gives the same digest, built again without the cache.
    let again = env
        .plinth(&[
            "rootfs",
            "debian-bookworm",
            "--no-cache",
            "-t",
            "deb:again",
            "--progress",
            "plain",
        ])
        .ok();
    assert_eq!(again.stdout.trim(), digest, "{}", again.stderr);
    assert!(!again.stderr.contains("from the cache"), "{}", again.stderr);

    // The same package set as mmdebstrap --variant=minbase, and the same files but for the
    // differences listed in ONLY_MMDEBSTRAP.
    let tar = env.dir.path().join("mm.tar");
    let run = tool_run(
        "mmdebstrap",
        &[
            "--quiet",
            "--variant=minbase",
            "--mode=root",
            "bookworm",
            tar.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(run.status, 0, "mmdebstrap: {}", run.stderr);
    let mm_status = tool_run(
        "tar",
        &["-xOf", tar.to_str().unwrap(), "./var/lib/dpkg/status"],
        None,
    );
    assert_eq!(
        status_packages(&mm_status.stdout),
        locked,
        "same package set as mmdebstrap"
    );
    let mm_paths = tar_paths(&["-tf", tar.to_str().unwrap()]);
    let ours = crate::support::unpack(&env, "deb:minbase");
    let listing = tool_run(
        "sh",
        &[
            "-c",
            &format!("cd {} && find . -mindepth 1", ours.display()),
        ],
        None,
    );
    let our_paths: BTreeSet<String> = listing
        .stdout
        .lines()
        .map(|l| l.trim_start_matches("./").to_string())
        .collect();
    let only_mm: Vec<&String> = mm_paths
        .difference(&our_paths)
        .filter(|p| {
            !ONLY_MMDEBSTRAP
                .iter()
                .any(|(pre, _)| p.starts_with(pre) || pre.trim_end_matches('/') == p.as_str())
        })
        .collect();
    let only_ours: Vec<&String> = our_paths.difference(&mm_paths).collect();
    assert!(only_mm.is_empty(), "files only mmdebstrap has: {only_mm:?}");
    assert!(only_ours.is_empty(), "files only plinth has: {only_ours:?}");

    // FROM the context in a Dockerfile, and apt-get install on top of it.
    env.write(
        "Dockerfile",
        "FROM debian-bookworm\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n",
    );
    let run = env
        .plinth(&[
            "build",
            "--locked",
            "-t",
            "deb:curl",
            "--progress",
            "plain",
            ".",
        ])
        .ok();
    assert!(run.stderr.contains("[debian-bookworm]"), "{}", run.stderr);
    let run = env
        .plinth(&["run", "--rm", "deb:curl", "curl", "--version"])
        .ok();
    assert!(run.stdout.starts_with("curl "), "{}", run.stdout);
    let config = env.config("deb:curl");
    let base_layers = env.config("deb:minbase")["rootfs"]["diff_ids"].clone();
    assert_eq!(
        config["rootfs"]["diff_ids"][0], base_layers[0],
        "built on the locked root"
    );

    // --locked fails when the lock no longer matches what resolution gives.
    let tampered = lock.replacen("version = \"", "version = \"0:0.0-", 1);
    std::fs::write(env.ctx().join("plinth.lock"), &tampered).unwrap();
    let run = env.plinth(&["build", "--locked", "-t", "deb:x", "."]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("plinth lock --update") && run.stderr.contains("~ "),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(env.ctx().join("plinth.lock")).unwrap(),
        tampered,
        "--locked writes nothing"
    );

    // An unknown package names close matches.
    let run = env.plinth(&[
        "rootfs",
        "--suite",
        "bookworm",
        "--include",
        "libc",
        "--progress",
        "plain",
    ]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown package 'libc'") && run.stderr.contains("libc6"),
        "{}",
        run.stderr
    );
}
