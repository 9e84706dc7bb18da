//! Bad input gets `FILE:LINE:COL: message` and exit 2 (Dockerfile errors) or a clear error and exit 1
//! (build errors), and never a partial image in the store.

use crate::support::Env;

fn build_err(env: &Env, dockerfile: &str) -> (i32, String) {
    let path = env.write("Dockerfile", dockerfile);
    let run = env.plinth(&[
        "build",
        "-t",
        "bad:1",
        "-f",
        path.to_str().unwrap(),
        env.ctx().to_str().unwrap(),
    ]);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    (
        run.status,
        run.stderr
            .replace(&path.display().to_string(), "Dockerfile"),
    )
}

#[test]
fn malformed_dockerfiles_exit_2_with_location() {
    let env = Env::new();
    let cases = [
        ("FROM scratch\nFROBNICATE x\n", "Dockerfile:2:1: "),
        ("FROM scratch\nCOPY --frob=1 a /b\n", "Dockerfile:2:"),
        ("FROM scratch\nSHELL /bin/sh\n", "Dockerfile:2:"),
        ("FROM scratch\nRUN <<EOF\nnever closed\n", "Dockerfile:2:"),
        (
            "FROM scratch\nHEALTHCHECK --interval=soon CMD true\n",
            "Dockerfile:2:",
        ),
        ("COPY a b\n", "Dockerfile:1:1: "),
    ];
    for (df, want) in cases {
        let (status, stderr) = build_err(&env, df);
        assert_eq!(status, 2, "{df:?}: {stderr}");
        assert!(
            stderr.starts_with(want),
            "{df:?}: expected {want:?}, got {stderr:?}"
        );
    }
    let run = env.plinth(&["images", "--format", "json"]);
    assert_eq!(
        run.stdout.trim(),
        "[]",
        "no image may be left by a failed build"
    );
}

#[test]
fn build_errors_are_clear() {
    let env = Env::new();
    let (status, stderr) = build_err(&env, "FROM scratch\nCOPY missing.txt /x\n");
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("missing.txt") && stderr.contains("not found"),
        "{stderr}"
    );

    let (status, stderr) = build_err(&env, "FROM nosuchimage:1.0\n");
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("nosuchimage:1.0"), "{stderr}");

    let (status, stderr) = build_err(&env, "FROM scratch\nRUN echo hi\n");
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains("Dockerfile:2: RUN echo hi"), "{stderr}");

    let (status, stderr) = build_err(&env, "FROM scratch AS a\nFROM scratch\n");
    assert_eq!(status, 0, "{stderr}");

    let run = env.plinth(&["build", "--target", "nope", env.ctx().to_str().unwrap()]);
    assert_eq!(run.status, 1);
    assert!(run.stderr.contains("nope"), "{}", run.stderr);

    let run = env.plinth(&["images", "--format", "json"]);
    let images: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let names: Vec<&str> = images
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["bad:1"],
        "only the successful build is in the store"
    );
}

#[test]
fn context_escape_is_refused() {
    let env = Env::new();
    std::fs::write(env.dir.path().join("outside.txt"), "secret").unwrap();
    std::os::unix::fs::symlink("../outside.txt", env.ctx().join("link.txt")).unwrap();
    let (status, stderr) = build_err(&env, "FROM scratch\nCOPY ../outside.txt /x\n");
    assert_eq!(
        status, 1,
        "`..` is cleaned against the context root, so the file is not found: {stderr}"
    );
    let (status, stderr) = build_err(&env, "FROM scratch\nCOPY link.txt /x\n");
    assert_ne!(
        status, 0,
        "a symlink out of the context must not be followed: {stderr}"
    );
}
