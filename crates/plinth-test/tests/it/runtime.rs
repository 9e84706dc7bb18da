//! Runtime checks against containers of busybox images these tests build with plinth (FROM
//! scratch + COPY of /bin/busybox and applet links): commands in fresh containers, and
//! processes, ports, HTTP, addresses and mounts of a running `busybox httpd` service.
//! Containers need root.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::build;
use plinth_oci::store::Store;
use plinth_sandbox::Network;
use plinth_test::model::{
    AddrCheck, Check, CommandCheck, FileCheck, HttpCheck, Matcher, MountCheck, PortCheck,
    ProcessCheck, Protocol, Status, Test, TestResult,
};
use plinth_test::runtime::{self, Runtime, Service, ServiceOptions};

const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "id", "sleep", "test", "env", "grep", "true", "false", "httpd",
    "nc", "printf", "touch", "rm",
];

struct Images {
    _dir: tempfile::TempDir,
    store: Store,
}

/// `bb:svc` serves /www with httpd on 8080 and listens with nc on 9000; `bb:term` exits 7 on
/// SIGTERM; `bb:entry` has an ENTRYPOINT.
fn images() -> &'static Images {
    static IMAGES: OnceLock<Images> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path().join("store")).unwrap();
        let ctx = dir.path().join("ctx");
        let root = ctx.join("rootfs");
        for d in ["bin", "etc", "www", "tmp"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let busybox = Path::new("/bin/busybox");
        assert!(busybox.exists(), "the tests need /bin/busybox (busybox-static)");
        std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
        for a in APPLETS {
            symlink("busybox", root.join("bin").join(a)).unwrap();
        }
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\napp:x:1000:\n").unwrap();
        std::fs::write(root.join("www/index.html"), "<p>hello plinth</p>\n").unwrap();
        std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        build(
            &store,
            &ctx,
            "FROM scratch\nCOPY rootfs/ /\nCMD [\"sh\", \"-c\", \"echo started; nc -l -p 9000 & exec httpd -f -p 8080 -h /www\"]\n",
            "bb:svc",
        );
        build(
            &store,
            &ctx,
            "FROM bb:svc\nCMD [\"sh\", \"-c\", \"trap 'echo bye; exit 7' TERM; echo up; while true; do sleep 0.1; done\"]\n",
            "bb:term",
        );
        build(
            &store,
            &ctx,
            "FROM bb:svc\nENTRYPOINT [\"/bin/false\"]\n",
            "bb:entry",
        );
        Images { _dir: dir, store }
    })
}

fn rt(image: &str) -> Runtime {
    Runtime {
        store: images().store.clone(),
        image: image.to_string(),
        sandbox_helper: env!("CARGO_BIN_EXE_plinth-test-sandbox-helper").into(),
        network: Network::None,
    }
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

fn test(check: Check) -> Test {
    Test {
        name: format!("{} test", check.kind()),
        line: None,
        check,
    }
}

fn cmd_result(image: &str, c: CommandCheck) -> TestResult {
    runtime::run(&rt(image), None, "rt", &test(Check::Command(c)))
}

fn assert_status(r: &TestResult, want: Status, message_part: &str) {
    assert_eq!(r.status, want, "{r:?}");
    assert!(
        r.message.contains(message_part),
        "{message_part:?} not in {r:?}"
    );
    assert_eq!(r.suite, "rt");
}

#[test]
fn command_exit_status_and_stdout_pass_and_fail() {
    let pass = cmd_result(
        "bb:svc",
        CommandCheck {
            argv: sh("echo hello; echo world"),
            stdout: vec![
                Matcher::Regex("^world$".into()),
                Matcher::Contains("hello".into()),
                Matcher::NotContains("bye".into()),
            ],
            ..Default::default()
        },
    );
    assert_status(&pass, Status::Passed, "");
    assert_eq!(pass.kind, "command");

    let wrong_code = cmd_result(
        "bb:svc",
        CommandCheck {
            argv: sh("echo nope >&2; exit 3"),
            ..Default::default()
        },
    );
    assert_status(
        &wrong_code,
        Status::Failed,
        "expected exit status 0; found 3",
    );
    assert!(wrong_code.message.contains("nope"), "{wrong_code:?}");

    let wrong_out = cmd_result(
        "bb:svc",
        CommandCheck {
            argv: vec!["echo".into(), "hello".into()],
            stdout: vec![Matcher::Equals("bye".into())],
            ..Default::default()
        },
    );
    assert_status(&wrong_out, Status::Failed, "expected stdout to be \"bye\"");
}

#[test]
fn command_stderr_matchers_and_expected_nonzero_exit() {
    let c = |stderr: Vec<Matcher>| CommandCheck {
        argv: sh("echo oops >&2; exit 2"),
        exit_status: 2,
        stderr,
        ..Default::default()
    };
    assert_status(
        &cmd_result("bb:svc", c(vec![Matcher::Contains("oops".into())])),
        Status::Passed,
        "",
    );
    assert_status(
        &cmd_result("bb:svc", c(vec![Matcher::NotRegex("^oo".into())])),
        Status::Failed,
        "expected stderr not to match /^oo/",
    );
}

#[test]
fn command_env_setup_and_teardown_share_the_writable_layer() {
    let pass = cmd_result(
        "bb:svc",
        CommandCheck {
            argv: sh("cat /tmp/state; echo \"$GREETING\""),
            env: vec![("GREETING".into(), "hi there".into())],
            setup: vec![
                sh("echo from-setup > /tmp/state"),
                sh("echo more >> /tmp/state"),
            ],
            teardown: vec![sh("test -f /tmp/state && rm /tmp/state")],
            stdout: vec![Matcher::Equals("from-setup\nmore\nhi there".into())],
            ..Default::default()
        },
    );
    assert_status(&pass, Status::Passed, "");

    // A fresh container per test: the state of the previous test is gone.
    let fresh = cmd_result(
        "bb:svc",
        CommandCheck {
            argv: sh("test -e /tmp/state"),
            ..Default::default()
        },
    );
    assert_status(&fresh, Status::Failed, "found 1");

    let bad_setup = cmd_result(
        "bb:svc",
        CommandCheck {
            argv: sh("true"),
            setup: vec![sh("echo setup-broke >&2; exit 4")],
            ..Default::default()
        },
    );
    assert_status(&bad_setup, Status::Error, "setup command");
    assert!(bad_setup.message.contains("setup-broke"), "{bad_setup:?}");

    let bad_teardown = cmd_result(
        "bb:svc",
        CommandCheck {
            argv: sh("true"),
            teardown: vec![sh("false")],
            ..Default::default()
        },
    );
    assert_status(&bad_teardown, Status::Error, "teardown command");
}

#[test]
fn command_timeout_kills_the_container() {
    let started = Instant::now();
    let r = cmd_result(
        "bb:svc",
        CommandCheck {
            argv: vec!["sleep".into(), "30".into()],
            timeout: Some(Duration::from_millis(700)),
            ..Default::default()
        },
    );
    assert_status(&r, Status::Failed, "timed out");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    let in_time = cmd_result(
        "bb:svc",
        CommandCheck {
            argv: vec!["sleep".into(), "0.1".into()],
            timeout: Some(Duration::from_secs(20)),
            ..Default::default()
        },
    );
    assert_status(&in_time, Status::Passed, "");
}

#[test]
fn command_entrypoint_is_cleared_unless_given() {
    // bb:entry's ENTRYPOINT is /bin/false: without clearing it, the echo would not run.
    let cleared = cmd_result(
        "bb:entry",
        CommandCheck {
            argv: vec!["echo".into(), "ran".into()],
            stdout: vec![Matcher::Equals("ran".into())],
            ..Default::default()
        },
    );
    assert_status(&cleared, Status::Passed, "");
    let given = cmd_result(
        "bb:entry",
        CommandCheck {
            argv: vec!["x".into()],
            entrypoint: Some(vec!["echo".into(), "pre".into()]),
            stdout: vec![Matcher::Equals("pre x".into())],
            ..Default::default()
        },
    );
    assert_status(&given, Status::Passed, "");
    let missing = cmd_result(
        "bb:svc",
        CommandCheck {
            argv: vec!["/no/such/binary".into()],
            ..Default::default()
        },
    );
    assert_eq!(missing.status, Status::Error, "{missing:?}");
}

/// Starts bb:svc and waits until httpd listens.
fn service() -> Service {
    let runtime = rt("bb:svc");
    let svc = runtime
        .start_service(&ServiceOptions {
            network: Network::None,
            env: vec!["SVC=1".into()],
        })
        .unwrap();
    let listening = test(Check::Port(PortCheck {
        port: 8080,
        listening: true,
        ..Default::default()
    }));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !runtime::run(&runtime, Some(&svc), "rt", &listening).passed() {
        assert!(
            Instant::now() < deadline,
            "httpd did not start: {:?}",
            svc.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    svc
}

fn svc_result(svc: &Service, check: Check) -> TestResult {
    runtime::run(&rt("bb:svc"), Some(svc), "rt", &test(check))
}

#[test]
fn service_checks_pass_and_fail() {
    let svc = service();
    let ok = |check: Check| {
        let r = svc_result(&svc, check);
        assert_status(&r, Status::Passed, "");
    };
    let fails = |check: Check, part: &str| {
        let r = svc_result(&svc, check);
        assert_status(&r, Status::Failed, part);
    };

    // Process.
    let process = |name: &str, running| {
        Check::Process(ProcessCheck {
            name: name.into(),
            running,
        })
    };
    ok(process("httpd", true));
    ok(process("nc", true));
    ok(process("nginx", false));
    fails(
        process("nginx", true),
        "expected a process \"nginx\" running",
    );
    fails(process("httpd", false), "expected no process \"httpd\"");

    // Port.
    let port = |port, listening, ips: &[&str]| {
        Check::Port(PortCheck {
            port,
            protocol: Protocol::Tcp,
            listening,
            ips: ips.iter().map(|s| s.to_string()).collect(),
        })
    };
    ok(port(8080, true, &[]));
    ok(port(9000, true, &["0.0.0.0", "::"]));
    ok(port(8081, false, &[]));
    fails(port(8081, true, &[]), "nothing listens on it");
    fails(port(8080, false, &[]), "not listening");
    fails(
        port(8080, true, &["10.9.9.9"]),
        "listening on one of 10.9.9.9",
    );
    fails(
        Check::Port(PortCheck {
            port: 8080,
            protocol: Protocol::Udp,
            listening: true,
            ips: Vec::new(),
        }),
        "udp:8080",
    );

    // HTTP, from inside the container's network namespace (its own localhost).
    let http = |url: &str, status, body: Vec<Matcher>, headers: &[&str]| {
        Check::Http(HttpCheck {
            url: url.into(),
            status,
            body,
            headers: headers.iter().map(|s| s.to_string()).collect(),
            request_headers: vec![("X-Test".into(), "1".into())],
            method: None,
            timeout: Some(Duration::from_secs(5)),
        })
    };
    ok(http(
        "http://localhost:8080/index.html",
        200,
        vec![
            Matcher::Contains("hello plinth".into()),
            Matcher::Regex("^<p>".into()),
        ],
        &["Content-Type: text/html"],
    ));
    ok(http("http://127.0.0.1:8080/missing", 404, vec![], &[]));
    fails(
        http("http://localhost:8080/missing", 200, vec![], &[]),
        "expected status 200; found 404",
    );
    fails(
        http(
            "http://localhost:8080/",
            200,
            vec![Matcher::Contains("goodbye".into())],
            &[],
        ),
        "expected body to contain \"goodbye\"",
    );
    fails(
        http("http://localhost:8080/", 200, vec![], &["X-Nope: 1"]),
        "expected a response header \"X-Nope: 1\"",
    );
    fails(
        http("http://localhost:8089/", 200, vec![], &[]),
        "the request failed",
    );

    // Addr.
    let addr = |a: &str, reachable| {
        Check::Addr(AddrCheck {
            addr: a.into(),
            reachable,
            timeout: Some(Duration::from_secs(2)),
        })
    };
    ok(addr("tcp://127.0.0.1:8080", true));
    ok(addr("tcp://localhost:8089", false));
    ok(addr("udp://127.0.0.1:9", false));
    fails(
        addr("tcp://127.0.0.1:8089", true),
        "expected tcp://127.0.0.1:8089 reachable",
    );
    fails(addr("tcp://127.0.0.1:8080", false), "not reachable; it is");
    fails(addr("udp://127.0.0.1:9", true), "port unreachable");
    let bad = svc_result(&svc, addr("sctp://127.0.0.1:1", true));
    assert_status(&bad, Status::Error, "unknown protocol");

    // Mount.
    let mount = |path: &str, exists, opts: &[&str], fs: Option<&str>| {
        Check::Mount(MountCheck {
            path: path.into(),
            exists,
            opts: opts.iter().map(|s| s.to_string()).collect(),
            source: None,
            filesystem: fs.map(str::to_string),
        })
    };
    ok(mount("/proc", true, &["nosuid"], Some("proc")));
    ok(mount("/", true, &[], Some("overlay")));
    ok(mount("/www", false, &[], None));
    fails(mount("/www", true, &[], None), "expected a mount on /www");
    fails(
        mount("/proc", true, &[], Some("ext4")),
        "expected filesystem ext4 on /proc; found proc",
    );
    fails(
        mount("/proc", true, &["sync"], None),
        "expected mount option sync",
    );
    fails(
        mount("/proc", false, &[], None),
        "expected no mount on /proc",
    );
}

#[test]
fn service_exec_output_and_upper() {
    let svc = service();
    let out = svc
        .exec(
            &sh("cat /www/index.html; echo \"$SVC-$EXTRA\"; id -u; echo x > /tmp/written"),
            &[("EXTRA".into(), "e".into())],
            None,
        )
        .unwrap();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.timed_out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "<p>hello plinth</p>\n1-e\n0\n"
    );
    // The exec'd command wrote into the service's writable layer.
    assert_eq!(
        std::fs::read_to_string(svc.upper().join("tmp/written")).unwrap(),
        "x\n"
    );
    let failed = svc.exec(&sh("exit 5"), &[], None).unwrap();
    assert_eq!(failed.code, 5);
    let started = Instant::now();
    let slow = svc
        .exec(&sh("sleep 30"), &[], Some(Duration::from_millis(300)))
        .unwrap();
    assert!(slow.timed_out, "{slow:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let (stdout, _) = svc.output();
    assert_eq!(String::from_utf8_lossy(&stdout), "started\n");
    // The exec ran in the container's PID namespace: it sees httpd as one of few processes.
    let ps = svc
        .exec(&sh("ls /proc | grep -c '^[0-9]'"), &[], None)
        .unwrap();
    let n: u32 = String::from_utf8_lossy(&ps.stdout).trim().parse().unwrap();
    assert!((3..10).contains(&n), "{n} processes");
    assert!(svc.wait(Duration::from_millis(10)).is_none());
}

#[test]
fn service_signal_and_wait() {
    let runtime = rt("bb:term");
    let svc = runtime
        .start_service(&ServiceOptions {
            network: Network::None,
            env: Vec::new(),
        })
        .unwrap();
    assert!(svc.pid() > 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while svc.output().0 != b"up\n" {
        assert!(Instant::now() < deadline, "{:?}", svc.output());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(svc.wait(Duration::from_millis(200)), None);
    svc.signal(15);
    assert_eq!(svc.wait(Duration::from_secs(10)), Some(7));
    assert_eq!(svc.output().0, b"up\nbye\n");

    let mut killed = runtime
        .start_service(&ServiceOptions {
            network: Network::None,
            env: Vec::new(),
        })
        .unwrap();
    let pid = killed.pid();
    killed.kill();
    assert_eq!(killed.wait(Duration::from_secs(5)), Some(137));
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn service_checks_without_a_service_and_static_checks_are_errors() {
    let r = runtime::run(
        &rt("bb:svc"),
        None,
        "rt",
        &test(Check::Process(ProcessCheck {
            name: "httpd".into(),
            running: true,
        })),
    );
    assert_status(&r, Status::Error, "needs a running container");
    let r = runtime::run(
        &rt("bb:svc"),
        None,
        "rt",
        &test(Check::File(FileCheck {
            path: "/etc/passwd".into(),
            exists: true,
            ..Default::default()
        })),
    );
    assert_status(&r, Status::Error, "static check");
    let missing = runtime::run(
        &rt("bb:nope"),
        None,
        "rt",
        &test(Check::Command(CommandCheck {
            argv: sh("true"),
            ..Default::default()
        })),
    );
    assert_eq!(missing.status, Status::Error, "{missing:?}");
}
