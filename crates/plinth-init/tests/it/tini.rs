//! The same PID 1 behaviours under Debian's tini (`/usr/bin/tini`, apt package `tini`), for the
//! comparison table in README.md: what tini does and what it leaves to the runtime. Each test
//! asserts tini's observed behaviour next to plinth-init's, so the table stays true.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{Container, read, wait_for};

const LIMIT: Duration = Duration::from_secs(20);

fn tini() -> &'static str {
    let p = "/usr/bin/tini";
    assert!(
        Path::new(p).exists(),
        "the comparison needs tini: apt-get install tini (scripts/install-deps.sh)"
    );
    p
}

#[test]
fn both_pass_exit_codes_through_and_give_128_plus_the_signal() {
    let c = Container::new();
    for (script, code) in [
        ("exit 7", 7),
        ("kill -KILL $$", 137),
        ("kill -SEGV $$", 139),
    ] {
        let t = c
            .start_other(tini(), &["--", "sh", "-c", script])
            .wait(LIMIT);
        let p = c.run(&["--", "sh", "-c", script], LIMIT);
        assert_eq!(
            (t.code, p.code),
            (code, code),
            "{script}: tini {}, plinth-init {}",
            t.stderr,
            p.stderr
        );
    }
}

#[test]
fn both_forward_signals_to_the_service() {
    let c = Container::new();
    for init in ["tini", "plinth-init"] {
        let log = c.path(&format!("{init}-signals"));
        let ready = c.path(&format!("{init}-ready"));
        let script = format!(
            "for s in HUP USR1 USR2 WINCH; do trap \"echo $s >> {l}\" $s; done\n\
             trap 'echo TERM >> {l}; exit 0' TERM\ntouch {r}\nwhile true; do sleep 0.05; done\n",
            l = log.display(),
            r = ready.display()
        );
        let svc = c.script(&format!("{init}.sh"), &script);
        let run = if init == "tini" {
            c.start_other(tini(), &["--", svc.to_str().unwrap()])
        } else {
            c.start(&["--", svc.to_str().unwrap()])
        };
        wait_for(&ready, LIMIT);
        for (sig, name) in [(1, "HUP"), (10, "USR1"), (12, "USR2"), (28, "WINCH")] {
            run.signal(sig);
            let until = Instant::now() + LIMIT;
            while !read(&log).contains(name) {
                assert!(Instant::now() < until, "{init}: {name} not forwarded");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        run.signal(15);
        assert_eq!(run.wait(LIMIT).code, 0, "{init}");
        assert_eq!(read(&log), "HUP\nUSR1\nUSR2\nWINCH\nTERM\n", "{init}");
    }
}

#[test]
fn both_reap_orphans() {
    let c = Container::new();
    let script = "for i in 1 2 3; do (sleep 0.1 &) ; done; sleep 1; \
                  echo zombies=$(grep -l '^State:.Z' /proc/[0-9]*/status 2>/dev/null | wc -l)";
    let t = c
        .start_other(tini(), &["--", "sh", "-c", script])
        .wait(LIMIT);
    let p = c.run(&["--", "sh", "-c", script], LIMIT);
    assert_eq!(t.stdout.trim(), "zombies=0");
    assert_eq!(p.stdout.trim(), "zombies=0");
}

#[test]
fn only_plinth_init_enforces_a_grace_period_tini_waits_for_the_runtime_to_kill() {
    let c = Container::new().env("PLINTH_STOP_TIMEOUT", "1s");
    let ready = c.path("ready");
    let script = format!("trap '' TERM; touch {}; sleep 60", ready.display());
    let mut t = c.start_other(tini(), &["--", "sh", "-c", &script]);
    wait_for(&ready, LIMIT);
    t.signal(15);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        t.alive(),
        "tini has no grace period: the service ignoring SIGTERM keeps it running"
    );
    drop(t); // unshare --kill-child: SIGKILL, as `docker stop` does after its timeout

    std::fs::remove_file(&ready).unwrap();
    let p = c.start(&["--", "sh", "-c", &script]);
    wait_for(&ready, LIMIT);
    p.signal(15);
    let done = p.wait(Duration::from_secs(5));
    assert_eq!(done.code, 137);
}

#[test]
fn only_plinth_init_runs_the_image_contract() {
    // Hooks, the env contract and maintenance mode: tini runs the command and nothing else.
    let c = Container::new().env("PLINTH_MODE", "maintenance");
    let hook = c.path("hook");
    c.script(
        "container/init.d/10-hook",
        &format!("#!/bin/sh\ntouch {}\n", hook.display()),
    );
    let ran = c.path("service-ran");
    let t = c
        .start_other(tini(), &["--", "touch", ran.to_str().unwrap()])
        .wait(LIMIT);
    assert_eq!(t.code, 0);
    assert!(
        ran.exists() && !hook.exists(),
        "tini ran the service, no hook, no maintenance mode"
    );
    std::fs::remove_file(&ran).unwrap();
    let mut p = c.start(&["--", "touch", ran.to_str().unwrap()]);
    wait_for(&hook, LIMIT);
    std::thread::sleep(Duration::from_millis(300));
    assert!(p.alive() && !ran.exists());
    p.signal(15);
    assert_eq!(p.wait(LIMIT).code, 0);
}
