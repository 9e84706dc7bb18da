//! PID 1 duties: exit codes, signal forwarding, zombie reaping, the grace period.

use std::process::Command;
use std::time::Duration;

use crate::support::{Container, read, wait_for};

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn the_service_exit_code_is_plinth_inits_and_a_killed_service_gives_128_plus_the_signal() {
    let c = Container::new();
    let done = c.run(&["--", "sh", "-c", "exit 7"], LIMIT);
    assert_eq!(done.code, 7, "stderr: {}", done.stderr);
    let done = c.run(&["--", "sh", "-c", "echo out; echo err >&2; exit 0"], LIMIT);
    assert_eq!(done.code, 0);
    assert_eq!(done.stdout, "out\n", "stdout passes through untouched");
    assert!(done.stderr.contains("err\n"));
    let done = c.run(&["--", "sh", "-c", "kill -KILL $$"], LIMIT);
    assert_eq!(done.code, 137, "stderr: {}", done.stderr);
    let done = c.run(&["--", "sh", "-c", "kill -SEGV $$"], LIMIT);
    assert_eq!(done.code, 128 + 11);
    // Without `--` the command is taken as is; a missing program is 127.
    let done = c.run(&["/nonexistent/program"], LIMIT);
    assert_eq!(done.code, 127, "stderr: {}", done.stderr);
    assert!(
        done.stderr.contains("/nonexistent/program"),
        "{}",
        done.stderr
    );
}

#[test]
fn it_runs_as_pid_1_and_the_service_is_its_child() {
    let c = Container::new();
    let done = c.run(&["--", "sh", "-c", "echo $PPID; cat /proc/1/comm"], LIMIT);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(done.stdout, "1\nplinth-init\n");
}

#[test]
fn every_forwarded_signal_reaches_the_service() {
    let c = Container::new();
    let log = c.path("signals");
    let ready = c.path("ready");
    let script = format!(
        "for s in HUP INT QUIT USR1 USR2 WINCH; do trap \"echo $s >> {log}\" $s; done\n\
         trap 'echo TERM >> {log}; exit 3' TERM\n\
         touch {ready}\n\
         while true; do sleep 0.05; done\n",
        log = log.display(),
        ready = ready.display()
    );
    let svc = c.script("svc.sh", &script);
    let run = c.start(&["--", svc.to_str().unwrap()]);
    wait_for(&ready, LIMIT);
    for (sig, name) in [
        (1, "HUP"),
        (10, "USR1"),
        (12, "USR2"),
        (28, "WINCH"),
        (3, "QUIT"),
        (2, "INT"),
    ] {
        // SIGINT and SIGQUIT start the stop too, but the script traps them and goes on.
        run.signal(sig);
        let until = std::time::Instant::now() + LIMIT;
        while !read(&log).contains(name) {
            assert!(
                std::time::Instant::now() < until,
                "{name} not forwarded: {}",
                read(&log)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    run.signal(15);
    let done = run.wait(LIMIT);
    assert_eq!(
        done.code, 3,
        "the service's own exit code after SIGTERM; {}",
        done.stderr
    );
    assert_eq!(read(&log), "HUP\nUSR1\nUSR2\nWINCH\nQUIT\nINT\nTERM\n");
}

#[test]
fn sigterm_then_the_grace_period_then_sigkill_to_the_whole_group() {
    let c = Container::new().env("PLINTH_STOP_TIMEOUT", "1s");
    let ready = c.path("ready");
    let child_pid = c.path("child-pid");
    // The service ignores SIGTERM and has a child in its group that ignores it too.
    let script = format!(
        "trap '' TERM\nsleep 60 &\necho $! > {child}\ntouch {ready}\nwait\n",
        child = child_pid.display(),
        ready = ready.display()
    );
    let svc = c.script("svc.sh", &script);
    let run = c.start(&["--", svc.to_str().unwrap()]);
    wait_for(&ready, LIMIT);
    let t = std::time::Instant::now();
    run.signal(15);
    let done = run.wait(LIMIT);
    let took = t.elapsed();
    assert_eq!(
        done.code, 137,
        "killed by SIGKILL after the grace period; {}",
        done.stderr
    );
    assert!(
        took >= Duration::from_millis(900),
        "the grace period was not given: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "SIGKILL came late: {took:?}");
    assert!(done.stderr.contains("SIGTERM received"), "{}", done.stderr);
}

#[test]
fn a_service_that_exits_on_sigterm_ends_at_once_with_its_code() {
    let c = Container::new().env("PLINTH_STOP_TIMEOUT", "30s");
    let ready = c.path("ready");
    let script = format!(
        "trap 'exit 0' TERM\ntouch {}\nwhile true; do sleep 0.05; done\n",
        ready.display()
    );
    let svc = c.script("svc.sh", &script);
    let run = c.start(&["--", svc.to_str().unwrap()]);
    wait_for(&ready, LIMIT);
    run.signal(15);
    let done = run.wait(LIMIT);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert!(
        done.took < Duration::from_secs(10),
        "waited for the grace period: {:?}",
        done.took
    );
}

/// Counts zombie processes in the caller's PID namespace (run inside it).
const COUNT_ZOMBIES: &str = "grep -l '^State:.Z' /proc/[0-9]*/status 2>/dev/null | wc -l";

#[test]
fn orphans_are_reaped_where_a_plain_pid_1_leaves_zombies() {
    let c = Container::new();
    // Three double-forked children: re-parented to PID 1, they end after 0.1 s.
    let script = format!(
        "for i in 1 2 3; do (sleep 0.1 &) ; done\nsleep 1\nz=$({COUNT_ZOMBIES})\necho zombies=$z\n"
    );
    let done = c.run(&["--", "sh", "-c", &script], LIMIT);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(done.stdout.trim(), "zombies=0");

    // The control: a PID 1 that never waits (python sleeping) keeps the three zombies.
    let control = format!(
        "import subprocess, time\n\
         subprocess.run(['sh', '-c', 'for i in 1 2 3; do (sleep 0.1 &) ; done'])\n\
         time.sleep(1)\n\
         print(subprocess.run(['sh', '-c', \"{COUNT_ZOMBIES}\"], capture_output=True, text=True).stdout.strip())\n"
    );
    let out = Command::new("unshare")
        .args(["--fork", "--pid", "--mount-proc", "python3", "-c", &control])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zombies: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert!(
        zombies >= 3,
        "the control PID 1 should leave zombies, found {zombies}"
    );
}

#[test]
fn a_bad_setting_is_one_clear_error() {
    let c = Container::new().env("PLINTH_STOP_TIMEOUT", "soon");
    let done = c.run(&["--", "true"], LIMIT);
    assert_eq!(done.code, 1);
    assert!(
        done.stderr
            .contains("PLINTH_STOP_TIMEOUT=\"soon\" is not a duration"),
        "{}",
        done.stderr
    );
    let c = Container::new().env("PLINTH_MODE", "debug");
    let done = c.run(&["--", "true"], LIMIT);
    assert_eq!(done.code, 1);
    assert!(
        done.stderr.contains("PLINTH_MODE=\"debug\" is not a mode"),
        "{}",
        done.stderr
    );
}

#[test]
fn nothing_to_run_says_what_to_add() {
    let c = Container::new();
    let done = c.run(&[], LIMIT);
    assert_eq!(done.code, 1);
    assert!(done.stderr.contains("nothing to run"), "{}", done.stderr);
    // /application/run is the service when there is no command.
    c.script("application/run", "#!/bin/sh\necho from run\nexit 4\n");
    let done = c.run(&[], LIMIT);
    assert_eq!(done.code, 4, "{}", done.stderr);
    assert_eq!(done.stdout, "from run\n");
}
