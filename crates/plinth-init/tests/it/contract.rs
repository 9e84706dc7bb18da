//! The image contract at start: hooks and their order, maintenance mode, the env contract,
//! NAME_FILE secrets, logs followed from /application/logging, `plinth-init test`.

use std::time::Duration;

use crate::support::{Container, read, wait_for};

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn hooks_run_compile_first_then_init_d_in_order_then_the_service() {
    let c = Container::new();
    let log = c.path("order");
    let l = log.display();
    c.script(
        "container/compile",
        &format!("#!/bin/sh\necho compile >> {l}\n"),
    );
    c.script(
        "container/init.d/20-second",
        &format!("#!/bin/sh\necho 20 >> {l}\n"),
    );
    c.script(
        "container/init.d/10-first",
        &format!("#!/bin/sh\necho 10 >> {l}\n"),
    );
    // A non-executable *.sh runs with /bin/sh.
    c.file("container/init.d/15-plain.sh", &format!("echo 15 >> {l}\n"));
    let done = c.run(&["--", "sh", "-c", &format!("echo service >> {l}")], LIMIT);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(read(&log), "compile\n10\n15\n20\nservice\n");
}

#[test]
fn a_failing_hook_stops_the_start_with_its_code() {
    let c = Container::new();
    let ran = c.path("service-ran");
    c.script(
        "container/init.d/10-fails",
        "#!/bin/sh\necho cannot migrate >&2\nexit 5\n",
    );
    let done = c.run(&["--", "touch", ran.to_str().unwrap()], LIMIT);
    assert_eq!(done.code, 5, "{}", done.stderr);
    assert!(done.stderr.contains("cannot migrate"));
    assert!(
        done.stderr.contains("10-fails"),
        "the message names the hook: {}",
        done.stderr
    );
    assert!(!ran.exists(), "the service ran after a failed hook");
}

#[test]
fn a_hook_that_cannot_run_is_named() {
    let c = Container::new();
    c.file("container/init.d/10-not-executable", "echo hi\n");
    let done = c.run(&["--", "true"], LIMIT);
    assert_eq!(done.code, 1);
    assert!(done.stderr.contains("10-not-executable"), "{}", done.stderr);
}

#[test]
fn maintenance_mode_runs_hooks_not_the_service_and_stops_cleanly_on_sigterm() {
    let c = Container::new().env("PLINTH_MODE", "maintenance");
    let hook = c.path("hook-ran");
    let ran = c.path("service-ran");
    c.script(
        "container/init.d/10-hook",
        &format!("#!/bin/sh\ntouch {}\n", hook.display()),
    );
    let mut run = c.start(&["--", "touch", ran.to_str().unwrap()]);
    wait_for(&hook, LIMIT);
    std::thread::sleep(Duration::from_millis(700));
    assert!(run.alive(), "the container stays up in maintenance mode");
    assert!(!ran.exists(), "the service ran in maintenance mode");
    run.signal(15);
    let done = run.wait(LIMIT);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(done.stderr.contains("maintenance mode"), "{}", done.stderr);
    assert!(done.took < Duration::from_secs(8), "{:?}", done.took);
}

const CONTRACT: &str = r#"
[vars.DATABASE_URL]
description = "PostgreSQL connection string"
required = true
type = "url"
secret = true

[vars.PORT]
description = "Port the service listens on"
type = "port"
default = "8080"

[vars.LOG_LEVEL]
description = "How much the service logs"
type = "enum"
values = ["debug", "info", "warn"]
default = "info"
"#;

#[test]
fn the_env_contract_lists_every_problem_at_once_and_the_service_does_not_start() {
    let c = Container::new()
        .env("PORT", "eighty")
        .env("LOG_LEVEL", "loud");
    c.file("application/env.toml", CONTRACT);
    let ran = c.path("service-ran");
    let done = c.run(&["--", "touch", ran.to_str().unwrap()], LIMIT);
    assert_eq!(done.code, 1, "{}", done.stderr);
    assert!(!ran.exists());
    for needle in [
        "DATABASE_URL",
        "PORT",
        "eighty",
        "LOG_LEVEL",
        "loud",
        "env.toml",
    ] {
        assert!(
            done.stderr.contains(needle),
            "{needle} missing from:\n{}",
            done.stderr
        );
    }
}

#[test]
fn defaults_and_name_file_secrets_reach_the_service_and_secrets_are_never_printed() {
    let c = Container::new();
    c.file("application/env.toml", CONTRACT);
    let secret = c.file("secrets/db", "postgres://u:hunter2@db/app\n");
    let c = c.env("DATABASE_URL_FILE", secret.to_str().unwrap());
    let done = c.run(
        &[
            "--",
            "sh",
            "-c",
            "echo \"$DATABASE_URL|$PORT|$LOG_LEVEL|${DATABASE_URL_FILE:-unset}\"",
        ],
        LIMIT,
    );
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(done.stdout, "postgres://u:hunter2@db/app|8080|info|unset\n");
    assert!(!done.stderr.contains("hunter2"));

    // A bad secret value is reported without its value.
    let bad = c.file("secrets/bad", "not a url hunter2\n");
    let c2 = Container::new().env("DATABASE_URL_FILE", bad.to_str().unwrap());
    c2.file("application/env.toml", CONTRACT);
    let done = c2.run(&["--", "true"], LIMIT);
    assert_eq!(done.code, 1);
    assert!(done.stderr.contains("DATABASE_URL"), "{}", done.stderr);
    assert!(
        !done.stderr.contains("hunter2"),
        "a secret value was printed: {}",
        done.stderr
    );
}

#[test]
fn plinth_init_env_prints_the_contract_and_checks_the_environment() {
    let c = Container::new();
    c.file("application/env.toml", CONTRACT);
    let text = c.tool(&["env"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    for needle in [
        "DATABASE_URL",
        "required",
        "PostgreSQL connection string",
        "8080",
        "debug",
    ] {
        assert!(
            text.stdout.contains(needle),
            "{needle} missing from:\n{}",
            text.stdout
        );
    }
    let json = c.tool(&["env", "--format", "json"]);
    let v: serde_json::Value =
        serde_json::from_str(&json.stdout).expect("env --format json is JSON");
    assert!(v.to_string().contains("LOG_LEVEL"));
    let md = c.tool(&["env", "--format", "markdown"]);
    assert!(md.stdout.contains('|'), "a markdown table: {}", md.stdout);
    let check = c.tool(&["env", "--check"]);
    assert_eq!(check.code, 1, "DATABASE_URL is missing");
    let c = c.env("DATABASE_URL", "postgres://db/app");
    let check = c.tool(&["env", "--check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);
}

#[test]
fn files_in_application_logging_are_copied_to_stdout_and_stderr() {
    let c = Container::new();
    let logs = c.app().join("logging");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("old.log"), "from a previous run\n").unwrap();
    let script = format!(
        "echo direct\necho 'legacy line 1' >> {d}/app.log\necho 'legacy line 2' >> {d}/app.log\n\
         echo 'it failed' >> {d}/error.log\necho more >> {d}/old.log\nsleep 1\n",
        d = logs.display()
    );
    let done = c.run(&["--", "sh", "-c", &script], LIMIT);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(done.stdout.contains("direct\n"));
    assert!(
        done.stdout.contains("legacy line 1\nlegacy line 2\n"),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("more\n"), "{}", done.stdout);
    assert!(
        !done.stdout.contains("from a previous run"),
        "old content replayed: {}",
        done.stdout
    );
    assert!(done.stderr.contains("it failed\n"), "{}", done.stderr);
    assert!(!done.stdout.contains("it failed"));
}

#[test]
fn plinth_init_test_runs_the_image_test_script_or_its_checks() {
    let c = Container::new();
    c.file(
        "container/tests/smoke.toml",
        "[[check]]\nname = \"shell works\"\ncommand = [\"sh\", \"-c\", \"echo hello\"]\nstdout = [\"^hello$\"]\n\n\
         [[check]]\nname = \"marker\"\nfile = \"/nonexistent/marker\"\n",
    );
    let done = c.tool(&["test"]);
    assert_eq!(done.code, 1, "{}{}", done.stdout, done.stderr);
    assert!(
        done.stdout
            .lines()
            .any(|l| l == "ok 1 - smoke: shell works"),
        "{}",
        done.stdout
    );
    assert!(
        done.stdout.lines().any(|l| l == "not ok 2 - smoke: marker"),
        "{}",
        done.stdout
    );
    let json = c.tool(&["test", "smoke", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["failed"], 1);
    assert_eq!(v["passed"], 1);
    let unknown = c.tool(&["test", "nope"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("smoke"), "{}", unknown.stderr);
    // /container/test wins, with the suite as its argument (seed 002).
    c.script("container/test", "#!/bin/sh\necho \"suite=$1\"\nexit 3\n");
    let done = c.tool(&["test", "unit"]);
    assert_eq!(done.code, 3);
    assert_eq!(done.stdout, "suite=unit\n");
}
