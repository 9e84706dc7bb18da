//! Health probes (exit codes and HTTP), supervised services, and PACKAGE_URL.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use sha2::Digest;

use crate::support::{Container, free_port, http_get, http_until, read, wait_for};

const LIMIT: Duration = Duration::from_secs(30);

fn health_checks(c: &Container, marker: &std::path::Path) {
    c.file(
        "container/tests/health.toml",
        &format!(
            "[[check]]\nname = \"marker file\"\nfile = \"{}\"\nprobes = [\"health\", \"ready\"]\n\n\
             [[check]]\nname = \"shell answers\"\ncommand = \"true\"\nprobes = [\"ready\"]\n",
            marker.display()
        ),
    );
}

#[test]
fn health_exits_0_or_1_with_a_one_line_reason() {
    let c = Container::new();
    let marker = c.path("healthy");
    health_checks(&c, &marker);
    let bad = c.tool(&["health"]);
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert_eq!(bad.stdout.lines().count(), 1, "one line: {:?}", bad.stdout);
    assert!(bad.stdout.contains("marker file"), "{}", bad.stdout);
    std::fs::write(&marker, "").unwrap();
    let good = c.tool(&["health"]);
    assert_eq!(good.code, 0, "{}", good.stdout);
    assert!(good.stdout.starts_with("ok"), "{}", good.stdout);
    let ready = c.tool(&["health", "--ready"]);
    assert_eq!(ready.code, 0, "{}", ready.stdout);
    // A broken check file makes the probe fail, with the file named.
    c.file("container/tests/broken.toml", "[[check]]\nbogus = 1\n");
    let broken = c.tool(&["health"]);
    assert_eq!(broken.code, 1);
    assert!(broken.stdout.contains("broken.toml"), "{}", broken.stdout);
}

#[test]
fn healthz_and_readyz_answer_over_http_while_the_service_runs() {
    let port = free_port();
    let c = Container::new().env("PLINTH_HEALTH_ADDR", &format!("127.0.0.1:{port}"));
    let marker = c.path("healthy");
    health_checks(&c, &marker);
    let run = c.start(&["--", "sleep", "60"]);
    let body = http_until(port, "/healthz", 503, LIMIT);
    assert!(body.contains("marker file"), "{body}");
    std::fs::write(&marker, "").unwrap();
    http_until(port, "/healthz", 200, LIMIT);
    http_until(port, "/readyz", 200, LIMIT);
    assert_eq!(http_get(port, "/nope").map(|r| r.0), Some(404));
    run.signal(15);
    let done = run.wait(LIMIT);
    assert_eq!(
        done.code,
        128 + 15,
        "sleep is killed by the forwarded SIGTERM; {}",
        done.stderr
    );
    assert!(
        http_get(port, "/healthz").is_none(),
        "the health server outlived the container"
    );
}

#[test]
fn readyz_is_503_in_maintenance_mode() {
    let port = free_port();
    let c = Container::new()
        .env("PLINTH_HEALTH_ADDR", &format!("127.0.0.1:{port}"))
        .env("PLINTH_MODE", "maintenance");
    let run = c.start(&[]);
    http_until(port, "/healthz", 200, LIMIT);
    let body = http_until(port, "/readyz", 503, LIMIT);
    assert!(body.contains("maintenance"), "{body}");
    run.signal(15);
    assert_eq!(run.wait(LIMIT).code, 0);
}

#[test]
fn services_start_in_dependency_order_wait_for_readiness_and_stop_in_reverse() {
    let c = Container::new().env("PLINTH_STOP_TIMEOUT", "5s");
    let log = c.path("order");
    let l = log.display();
    // Every service says it is ready (after writing its line): what the log shows is ordered.
    let ready_a = c.path("a-ready");
    let ready_b = c.path("b-ready");
    let ready_c = c.path("c-ready");
    let svc = |name: &str, extra: &str| {
        format!(
            "[\"sh\", \"-c\", \"trap 'echo stop {name} >> {l}; exit 0' TERM; echo start {name} >> {l}; {extra} while true; do sleep 0.05; done\"]"
        )
    };
    c.file(
        "container/services.toml",
        &format!(
            "[service.c]\ncommand = {}\nafter = [\"b\"]\n[service.c.ready]\nfile = \"{}\"\n\n\
             [service.b]\ncommand = {}\nafter = [\"a\"]\n[service.b.ready]\nfile = \"{}\"\ntimeout = \"10s\"\n\n\
             [service.a]\ncommand = {}\n[service.a.ready]\nfile = \"{}\"\n",
            svc("c", &format!("touch {};", ready_c.display())),
            ready_c.display(),
            svc("b", &format!("sleep 0.5; touch {};", ready_b.display())),
            ready_b.display(),
            svc("a", &format!("touch {};", ready_a.display())),
            ready_a.display(),
        ),
    );
    let ready = c.path("main-ready");
    let main = format!(
        "trap 'echo stop main >> {l}; exit 0' TERM; echo start main >> {l}; touch {}; while true; do sleep 0.05; done",
        ready.display()
    );
    let run = c.start(&["--", "sh", "-c", &main]);
    wait_for(&ready, LIMIT);
    assert_eq!(
        read(&log),
        "start a\nstart b\nstart c\nstart main\n",
        "c waited for b to be ready"
    );
    run.signal(15);
    let done = run.wait(LIMIT);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(
        read(&log),
        "start a\nstart b\nstart c\nstart main\nstop main\nstop c\nstop b\nstop a\n"
    );
}

#[test]
fn a_failing_service_is_restarted_with_backoff() {
    let c = Container::new();
    let starts = c.path("starts");
    c.file(
        "container/services.toml",
        &format!(
            "[service.flaky]\ncommand = \"echo x >> {}; exit 1\"\nrestart = \"on-failure\"\n",
            starts.display()
        ),
    );
    let run = c.start(&["--", "sleep", "60"]);
    std::thread::sleep(Duration::from_millis(4500));
    run.signal(15);
    let done = run.wait(LIMIT);
    let n = read(&starts).lines().count();
    // Starts at 0 s, then after 1 s, 2 s (t=3 s), then 4 s (t=7 s): 3 starts in 4.5 s.
    assert_eq!(n, 3, "backoff 1 s, 2 s, 4 s; stderr:\n{}", done.stderr);
    assert!(
        done.stderr
            .contains("service flaky exited with 1; restarting in"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_service_that_never_becomes_ready_fails_the_start() {
    let c = Container::new();
    let ran = c.path("main-ran");
    c.file(
        "container/services.toml",
        "[service.db]\ncommand = \"sleep 60\"\n[service.db.ready]\naddr = \"tcp://127.0.0.1:1\"\ntimeout = \"1s\"\n",
    );
    let t = Instant::now();
    let done = c.run(&["--", "touch", ran.to_str().unwrap()], LIMIT);
    assert_eq!(done.code, 1, "{}", done.stderr);
    assert!(
        done.stderr.contains("service db was not ready within"),
        "{}",
        done.stderr
    );
    assert!(!ran.exists());
    assert!(t.elapsed() < Duration::from_secs(15));
}

/// A one-shot HTTP server on 127.0.0.1 that serves `body` to every request; returns its port.
fn serve(body: Vec<u8>) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(&body);
        }
    });
    port
}

fn tar_gz(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    for (name, body, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(*mode);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, body.as_bytes()).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

#[test]
fn package_url_with_a_good_checksum_is_unpacked_before_the_service() {
    let pkg = tar_gz(&[(
        "bin/hello",
        "#!/bin/sh\necho hello from the package\n",
        0o755,
    )]);
    let sum = hex::encode(sha2::Sha256::digest(&pkg));
    let port = serve(pkg);
    let c = Container::new()
        .env(
            "PACKAGE_URL",
            &format!("http://127.0.0.1:{port}/app.tar.gz"),
        )
        .env("PACKAGE_SHA256", &sum);
    let hello = c.app().join("bin/hello");
    let done = c.run(&["--", hello.to_str().unwrap()], LIMIT);
    assert_eq!(done.code, 0, "{}", done.stderr);
    assert_eq!(done.stdout, "hello from the package\n");
}

#[test]
fn package_url_with_a_bad_or_no_checksum_refuses_to_run() {
    let pkg = tar_gz(&[("bin/hello", "#!/bin/sh\necho hi\n", 0o755)]);
    let port = serve(pkg);
    let url = format!("http://127.0.0.1:{port}/app.tar.gz");
    let wrong = "0".repeat(64);
    let c = Container::new()
        .env("PACKAGE_URL", &url)
        .env("PACKAGE_SHA256", &wrong);
    let ran = c.path("ran");
    let done = c.run(&["--", "touch", ran.to_str().unwrap()], LIMIT);
    assert_eq!(done.code, 1, "{}", done.stderr);
    assert!(
        done.stderr.contains(&wrong),
        "the expected sum is shown: {}",
        done.stderr
    );
    assert!(!ran.exists());
    assert!(
        !c.app().join("bin/hello").exists(),
        "an unverified package was unpacked"
    );

    let c = Container::new().env("PACKAGE_URL", &url);
    let done = c.run(&["--", "touch", ran.to_str().unwrap()], LIMIT);
    assert_eq!(done.code, 1);
    assert!(done.stderr.contains("PACKAGE_SHA256"), "{}", done.stderr);
    assert!(!ran.exists());
}
