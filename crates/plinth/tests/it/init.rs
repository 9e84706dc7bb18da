//! plinth-init as the ENTRYPOINT of an image plinth builds: run by `plinth run` (PID 1 of the
//! sandbox's PID namespace) and, when the test dockerd is up, by `docker run` / `docker stop`.
//! The static binary comes from PLINTH_INIT_BINARY or `scripts/build-init.sh` (built once).

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::run::busybox_base;
use crate::support::{self, Env};

/// The static plinth-init (glibc static-pie): the image has no libc.
fn static_init() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Ok(p) = std::env::var("PLINTH_INIT_BINARY") {
            return PathBuf::from(p);
        }
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = std::process::Command::new(root.join("scripts/build-init.sh"))
            .output()
            .expect("scripts/build-init.sh runs");
        assert!(
            out.status.success(),
            "scripts/build-init.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
    .clone()
}

/// `init:1`: busybox, plinth-init as ENTRYPOINT, an env contract, a hook, a CMD that reports.
fn init_image(env: &Env) {
    busybox_base(env);
    env.write(
        "application/env.toml",
        "[vars.GREETING]\ndescription = \"What the service says\"\ndefault = \"hello\"\n\n\
         [vars.PORT]\ndescription = \"Port\"\ntype = \"port\"\ndefault = \"8080\"\n",
    );
    env.write("container/init.d/10-hook", "#!/bin/sh\necho hook ran\n");
    let dockerfile = env.write(
        "Dockerfile",
        "FROM bb:base\n\
         COPY --from=plinth-init /plinth-init /usr/sbin/plinth-init\n\
         COPY application/ /application/\n\
         COPY --chmod=755 container/init.d/10-hook /container/init.d/10-hook\n\
         ENTRYPOINT [\"/usr/sbin/plinth-init\", \"--\"]\n\
         CMD [\"sh\", \"-c\", \"echo \\\"$GREETING on $PORT from $(cat /proc/1/comm)\\\"; \
         for i in 1 2 3; do (sleep 0.1 &); done; sleep 0.6; \
         echo zombies=$(grep -l '^State:.Z' /proc/[0-9]*/status 2>/dev/null | wc -l); exit 3\"]\n",
    );
    // The built-in `plinth-init` context: the static binary, as PLINTH_INIT_BINARY names it.
    let init = static_init();
    env.plinth_env(
        &[
            "build",
            "-t",
            "init:1",
            "-f",
            dockerfile.to_str().unwrap(),
            env.ctx().to_str().unwrap(),
        ],
        &[("PLINTH_INIT_BINARY", init.to_str().unwrap())],
    )
    .ok();
}

#[test]
fn the_plinth_init_context_needs_the_static_binary() {
    let env = Env::new();
    let dockerfile = env.write(
        "Dockerfile",
        "FROM scratch\nCOPY --from=plinth-init /plinth-init /init\n",
    );
    let dynamic = std::path::PathBuf::from(env!("CARGO_BIN_EXE_plinth"));
    let run = env.plinth_env(
        &[
            "build",
            "-t",
            "x:1",
            "-f",
            dockerfile.to_str().unwrap(),
            env.ctx().to_str().unwrap(),
        ],
        &[("PLINTH_INIT_BINARY", dynamic.to_str().unwrap())],
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains("dynamically linked"), "{}", run.stderr);
    assert!(
        run.stderr.contains("scripts/build-init.sh"),
        "{}",
        run.stderr
    );
}

#[test]
fn plinth_init_is_pid_1_of_plinth_run_with_hooks_contract_and_reaping() {
    let env = Env::new();
    init_image(&env);
    let run = env.plinth(&["run", "--rm", "--network", "none", "init:1"]);
    assert_eq!(
        run.status, 3,
        "the service's exit code; stderr:\n{}",
        run.stderr
    );
    assert_eq!(
        run.stdout,
        "hook ran\nhello on 8080 from plinth-init\nzombies=0\n"
    );

    // The contract is checked inside the image: a bad PORT stops the start with one message.
    let bad = env.plinth(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-e",
        "PORT=http",
        "init:1",
    ]);
    assert_eq!(bad.status, 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("PORT"), "{}", bad.stderr);
    assert!(
        bad.stderr.contains("/application/env.toml"),
        "{}",
        bad.stderr
    );
    assert!(
        !bad.stdout.contains("hook ran"),
        "hooks run after the contract check"
    );
}

#[test]
fn docker_stop_ends_a_plinth_init_container_within_the_grace_period() {
    let Some(host) =
        support::docker_host("docker_stop_ends_a_plinth_init_container_within_the_grace_period")
    else {
        return;
    };
    let env = Env::new();
    init_image(&env);
    support::docker_load(&env, &host, "init:1");
    let docker = |args: &[&str]| support::docker(&host, args);
    let name = format!("plinth-init-{}", std::process::id());
    // A service that ignores SIGTERM: plinth-init's 2 s grace period, then SIGKILL to its group,
    // well before docker's own 20 s.
    let started = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "-e",
        "PLINTH_STOP_TIMEOUT=2s",
        "init:1",
        "sh",
        "-c",
        "trap '' TERM; echo up; sleep 300",
    ]);
    assert_eq!(started.status, 0, "{}", started.stderr);
    let t = std::time::Instant::now();
    let stop = docker(&["stop", "-t", "20", &name]);
    let took = t.elapsed();
    let state = docker(&["inspect", "-f", "{{.State.ExitCode}}", &name]);
    let logs = docker(&["logs", &name]);
    let _ = docker(&["rm", "-f", &name]);
    let _ = docker(&["rmi", "init:1"]);
    assert_eq!(stop.status, 0, "{}", stop.stderr);
    assert_eq!(
        state.stdout.trim(),
        "137",
        "SIGKILL after the grace period; logs:\n{}{}",
        logs.stdout,
        logs.stderr
    );
    assert!(
        took >= std::time::Duration::from_millis(1800),
        "no grace period: {took:?}"
    );
    assert!(
        took < std::time::Duration::from_secs(15),
        "docker had to kill it: {took:?}"
    );
    assert!(logs.stderr.contains("SIGTERM received"), "{}", logs.stderr);
}
