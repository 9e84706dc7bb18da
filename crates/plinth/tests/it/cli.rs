//! Snapshots of what the CLI shows people: help texts and error messages.

use crate::support::Env;

#[test]
fn help_texts() {
    let env = Env::new();
    insta::assert_snapshot!("help", env.plinth(&["--help"]).ok().stdout);
    insta::assert_snapshot!("build_help", env.plinth(&["build", "--help"]).ok().stdout);
}

#[test]
fn dockerfile_error_message() {
    let env = Env::new();
    env.write("Dockerfile", "FROM scratch\nCOPY --chown=1 a\n");
    let run = env.plinth(&["build", "-f", "Dockerfile", "."]);
    assert_eq!(run.status, 2);
    insta::assert_snapshot!("dockerfile_error", run.stderr);
}
