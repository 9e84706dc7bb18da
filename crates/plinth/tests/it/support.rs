//! Test support: a temporary store and context, running the plinth binary, running real tools.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A temporary workspace: a store and a build context.
pub struct Env {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.status, 0,
            "plinth failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("plinth-it")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(dir.path().join("ctx")).unwrap();
        Env { dir }
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    pub fn ctx(&self) -> PathBuf {
        self.dir.path().join("ctx")
    }

    /// Writes a file in the context (parents created).
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.ctx().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    /// Runs plinth with this env's store.
    pub fn plinth(&self, args: &[&str]) -> Run {
        self.plinth_env(args, &[])
    }

    pub fn plinth_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out = self.command(args, env).output().expect("run plinth");
        to_run(out)
    }

    /// Runs plinth like [`Env::plinth_env`], with `stdin` as its standard input.
    pub fn plinth_stdin(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Run {
        use std::io::Write as _;
        use std::process::Stdio;
        let mut cmd = self.command(args, env);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("run plinth");
        let mut input = child.stdin.take().expect("stdin is piped");
        // plinth may exit without reading stdin (a usage error): a broken pipe is fine then.
        let _ = input.write_all(stdin.as_bytes());
        drop(input);
        to_run(child.wait_with_output().expect("wait for plinth"))
    }

    /// The plinth command with this env's store and context directory, no CI variables of the
    /// host's, and `env` set.
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_plinth"));
        cmd.args(args)
            .env("PLINTH_STORE", self.store())
            .env_remove("SOURCE_DATE_EPOCH")
            .current_dir(self.ctx());
        // Tests say themselves whether they run "in CI" (the tag policy depends on it).
        for var in [
            "CI",
            "GITHUB_ACTIONS",
            "GITLAB_CI",
            "JENKINS_URL",
            "BUILDKITE",
            "CIRCLECI",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// `plinth build` of the context with the given Dockerfile text; returns the manifest digest.
    pub fn build(&self, dockerfile: &str, extra: &[&str]) -> String {
        self.write("Dockerfile", dockerfile);
        let ctx = self.ctx();
        let mut args = vec!["build", "--progress", "plain"];
        args.extend_from_slice(extra);
        args.push(ctx.to_str().unwrap());
        let run = self.plinth(&args).ok();
        let digest = run.stdout.trim().to_string();
        assert!(
            digest.starts_with("sha256:"),
            "stdout is not a digest: {digest:?}"
        );
        digest
    }

    /// The image config as skopeo reads it from the store.
    pub fn config(&self, reference: &str) -> Value {
        let out = tool(
            "skopeo",
            &[
                "inspect",
                "--config",
                "--raw",
                &format!("oci:{}:{reference}", self.store().display()),
            ],
        );
        serde_json::from_str(&out).expect("skopeo config json")
    }
}

fn to_run(out: Output) -> Run {
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a real tool and returns its stdout; fails the test (with how to install it) when missing.
#[track_caller]
pub fn tool(name: &str, args: &[&str]) -> String {
    let run = tool_run(name, args, None);
    assert_eq!(
        run.status, 0,
        "{name} {args:?} failed:\n{}\n{}",
        run.stdout, run.stderr
    );
    run.stdout
}

#[track_caller]
pub fn tool_run(name: &str, args: &[&str], cwd: Option<&Path>) -> Run {
    let mut cmd = Command::new(name);
    cmd.args(args);
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    match cmd.output() {
        Ok(out) => to_run(out),
        Err(e) => {
            panic!("cannot run {name}: {e}; install the test tools with scripts/install-deps.sh")
        }
    }
}

pub const SDE: &str = "1700000000";

/// `umoci unpack`s a store image and returns its root filesystem.
pub fn unpack(env: &Env, reference: &str) -> PathBuf {
    let bundle = env
        .dir
        .path()
        .join(format!("bundle-{}", reference.replace([':', '/'], "_")));
    tool(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:{reference}", env.store().display()),
            bundle.to_str().unwrap(),
        ],
    );
    bundle.join("rootfs")
}

/// The test dockerd (`PLINTH_TEST_DOCKER_HOST`, which scripts/test.sh sets); `None`, after
/// saying so, when there is none.
pub fn docker_host(test: &str) -> Option<String> {
    let host = std::env::var("PLINTH_TEST_DOCKER_HOST").ok();
    if host.is_none() {
        eprintln!("{test}: PLINTH_TEST_DOCKER_HOST unset (scripts/test.sh sets it); not run");
    }
    host
}

/// Saves `image` of the env's store as a docker archive and `docker load`s it; the load's output.
pub fn docker_load(env: &Env, host: &str, image: &str) -> Run {
    let archive = env.dir.path().join("docker-load.tar");
    env.plinth(&[
        "save",
        image,
        "-o",
        archive.to_str().unwrap(),
        "--format",
        "docker-archive",
    ])
    .ok();
    let run = docker(host, &["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(run.status, 0, "docker load: {}\n{}", run.stdout, run.stderr);
    run
}

/// Runs the docker CLI against the test's dockerd.
pub fn docker(host: &str, args: &[&str]) -> Run {
    let mut full = vec!["--host", host];
    full.extend_from_slice(args);
    tool_run("docker", &full, None)
}
