//! Integration tests of the sandbox against a real busybox root filesystem. They need root
//! (namespaces, overlayfs) and Debian's busybox-static (`/bin/busybox`).

use std::collections::BTreeSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use plinth_sandbox::{
    ExecFailure, ExitStatus, Mount, MountKind, Network, OutputStream, RunOptions, RunOutcome,
    Sandbox, SandboxError, Security, Spec, Stdio, scrub_upper,
};

const APPLETS: &[&str] = &[
    "sh", "ls", "cat", "echo", "id", "hostname", "ip", "touch", "rm", "mkdir", "sleep", "wget",
    "ps", "mount", "env", "pwd", "grep", "head", "wc", "tr", "kill", "stat", "true", "false",
    "sed", "test", "readlink", "cut",
];

fn sandbox() -> Sandbox {
    Sandbox::new(PathBuf::from(env!("CARGO_BIN_EXE_plinth-sandbox-helper")))
}

fn write(p: &Path, content: &str) {
    if let Some(parent) = p.parent() {
        fs_err::create_dir_all(parent).expect("mkdir");
    }
    fs_err::write(p, content).expect("write");
}

/// Builds a busybox image layer at `dir`: /bin with applets, /etc/os-release (so /etc
/// exists but has no resolv.conf or hosts), /data with a few files, /tmp.
fn busybox_layer(dir: &Path) {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.is_file(),
        "/bin/busybox is missing: `apt-get install busybox-static` (scripts/install-deps.sh)"
    );
    fs_err::create_dir_all(dir.join("bin")).expect("mkdir");
    fs_err::copy(busybox, dir.join("bin/busybox")).expect("copy busybox");
    for a in APPLETS {
        symlink("busybox", dir.join("bin").join(a)).expect("symlink");
    }
    write(&dir.join("etc/os-release"), "ID=test\n");
    write(&dir.join("data/keep"), "orig\n");
    write(&dir.join("data/del"), "bye\n");
    write(&dir.join("data/dir/a"), "a\n");
    fs_err::create_dir_all(dir.join("tmp")).expect("mkdir");
    fs_err::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777))
        .expect("chmod");
}

struct Fixture {
    dir: tempfile::TempDir,
    sub: String,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::new_in("")
    }

    /// All directories under `<tempdir>/<sub>`.
    fn new_in(sub: &str) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = Fixture {
            dir,
            sub: sub.to_string(),
        };
        busybox_layer(&f.path("lower"));
        for d in ["upper", "work", "rootfs"] {
            fs_err::create_dir_all(f.path(d)).expect("mkdir");
        }
        f
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(&self.sub).join(p)
    }

    fn spec(&self, script: &str) -> Spec {
        let mut s = Spec::new(
            self.path("rootfs"),
            vec!["sh".into(), "-c".into(), script.into()],
        );
        s.lower = vec![self.path("lower")];
        s.upper = Some(self.path("upper"));
        s.work = Some(self.path("work"));
        s.env = vec!["PATH=/bin".into()];
        s
    }
}

struct Ran {
    result: Result<RunOutcome, SandboxError>,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn ok(&self) -> &RunOutcome {
        match &self.result {
            Ok(o) => o,
            Err(e) => panic!(
                "run failed: {e}\nstdout: {}\nstderr: {}",
                self.stdout, self.stderr
            ),
        }
    }

    fn success(&self) -> &str {
        let o = self.ok();
        assert_eq!(
            o.status,
            ExitStatus::Code(0),
            "stdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        &self.stdout
    }
}

/// Runs with a 60 s watchdog on the cancel flag so a hang fails instead of blocking.
fn run_opts(spec: &Spec, mut opts: RunOptions, mut on_out: impl FnMut(&str)) -> Ran {
    let cancel = opts
        .cancel
        .get_or_insert_with(|| Arc::new(AtomicBool::new(false)))
        .clone();
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while !done.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(20));
            }
            if !done.load(Ordering::SeqCst) {
                cancel.store(true, Ordering::SeqCst);
            }
        })
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let result = sandbox().run_with(spec, &opts, &mut |stream, bytes| {
        match stream {
            OutputStream::Stdout => stdout.extend_from_slice(bytes),
            OutputStream::Stderr => stderr.extend_from_slice(bytes),
        }
        on_out(&String::from_utf8_lossy(&stdout));
    });
    done.store(true, Ordering::SeqCst);
    watchdog.join().expect("watchdog");
    Ran {
        result,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn run(spec: &Spec) -> Ran {
    run_opts(spec, RunOptions::default(), |_| {})
}

/// Host processes whose command line contains `token`: (pid, ppid).
fn find_processes(token: &str) -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    for entry in fs_err::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if !String::from_utf8_lossy(&cmdline).contains(token) {
            continue;
        }
        if let Some(ppid) = ppid(pid) {
            out.push((pid, ppid));
        }
    }
    out
}

fn stat_field(pid: i32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(n).map(str::to_string)
}

fn ppid(pid: i32) -> Option<i32> {
    stat_field(pid, 1)?.parse().ok()
}

/// Gone, or a zombie nobody reaps (our machine's init may not).
fn is_dead(pid: i32) -> bool {
    stat_field(pid, 0).is_none_or(|state| state == "Z" || state == "X")
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) has no memory effects; the pid was just read from /proc.
    let r = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        r,
        0,
        "kill {pid} {sig}: {}",
        std::io::Error::last_os_error()
    );
}

#[test]
fn output_and_exit_codes() {
    let f = Fixture::new();
    let r = run(&f.spec("echo out; echo err >&2; exit 3"));
    assert_eq!(r.ok().status, ExitStatus::Code(3));
    assert_eq!(r.stdout, "out\n");
    assert_eq!(r.stderr, "err\n");
    let r = run(&f.spec("echo fine"));
    assert_eq!(r.success(), "fine\n");
}

#[test]
fn killed_command_reports_the_signal() {
    let f = Fixture::new();
    let token = "killed-command-token-5831";
    let spec = f.spec(&format!(
        "echo ready; while true; do sleep 1; done # {token}"
    ));
    let mut killed = false;
    let r = run_opts(&spec, RunOptions::default(), |out| {
        if out.contains("ready") && !killed {
            // PID 1 of the sandbox ignores signals from inside; SIGKILL from the host works.
            let procs = find_processes(token);
            let (sh, _) = procs
                .iter()
                .copied()
                .find(|(p, _)| stat_field(*p, 0).is_some())
                .expect("sh");
            signal(sh, libc::SIGKILL);
            killed = true;
        }
    });
    let status = r.ok().status;
    assert_eq!(status, ExitStatus::Signal(9));
    assert_eq!(status.shell_code(), 137);
}

#[test]
fn forwarded_signals_reach_the_command() {
    let f = Fixture::new();
    let token = "forwarded-signal-token-9127";
    let spec = f.spec(&format!(
        "trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.1; done # {token}"
    ));
    let mut sent = false;
    let r = run_opts(&spec, RunOptions::default(), |out| {
        if out.contains("ready") && !sent {
            let (_, helper) = find_processes(token)
                .into_iter()
                .next()
                .expect("sh process");
            signal(helper, libc::SIGTERM);
            sent = true;
        }
    });
    assert_eq!(r.ok().status, ExitStatus::Code(7), "stderr: {}", r.stderr);
    assert_eq!(r.stdout, "ready\ngot TERM\n");
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 64];
    let n = rustix::fs::lgetxattr(path, name, &mut buf[..]).ok()?;
    buf.truncate(n);
    Some(buf)
}

#[test]
fn changes_land_in_upper_and_lower_is_untouched() {
    let f = Fixture::new();
    let r = run(&f.spec(
        "set -e; echo new > /data/new; echo changed >> /data/keep; rm /data/del; \
         rm -rf /data/dir && mkdir /data/dir && echo b > /data/dir/b; cat /data/keep",
    ));
    assert_eq!(r.success(), "orig\nchanged\n");
    let up = f.path("upper/data");
    assert_eq!(
        fs_err::read_to_string(up.join("new")).expect("new"),
        "new\n"
    );
    assert_eq!(
        fs_err::read_to_string(up.join("keep")).expect("keep"),
        "orig\nchanged\n"
    );
    let del = fs_err::symlink_metadata(up.join("del")).expect("whiteout");
    assert!(
        del.file_type().is_char_device(),
        "whiteout is a character device"
    );
    assert_eq!(del.rdev(), 0, "whiteout is device 0/0");
    assert_eq!(
        xattr(&up.join("dir"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(up.join("dir/b").is_file());
    assert!(!up.join("dir/a").exists());
    assert_eq!(
        xattr(&up, "trusted.overlay.opaque"),
        None,
        "only the recreated dir is opaque"
    );
    let low = f.path("lower/data");
    assert_eq!(
        fs_err::read_to_string(low.join("keep")).expect("keep"),
        "orig\n"
    );
    assert_eq!(
        fs_err::read_to_string(low.join("del")).expect("del"),
        "bye\n"
    );
    assert!(
        low.join("dir/a").is_file() && !low.join("dir/b").exists() && !low.join("new").exists()
    );
}

#[test]
fn pid_namespace_hostname_and_user() {
    let f = Fixture::new();
    let mut spec = f.spec("echo $$; cat /proc/1/cmdline; echo; hostname; id -u; id -g; id -G");
    spec.uid = 1000;
    spec.gid = 1001;
    spec.additional_gids = vec![27, 44];
    spec.hostname = "sbx-test".into();
    let out = run(&spec).success().to_string();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "the shell is PID 1");
    assert!(lines[1].starts_with("sh\0-c\0echo $$;"), "{:?}", lines[1]);
    assert_eq!(&lines[2..], ["sbx-test", "1000", "1001", "1001 27 44"]);
}

fn cap_line(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

#[test]
fn capabilities_follow_security() {
    let f = Fixture::new();
    let mut spec = f.spec("grep -E '^Cap(Eff|Bnd|Inh)' /proc/self/status");
    let out = run(&spec).success().to_string();
    assert_eq!(
        cap_line(&out, "CapEff:"),
        "00000000a80425fb",
        "Docker's default set: {out}"
    );
    assert_eq!(cap_line(&out, "CapBnd:"), "00000000a80425fb");
    assert_eq!(cap_line(&out, "CapInh:"), "0000000000000000");
    spec.security = Security::Insecure;
    let out = run(&spec).success().to_string();
    let host = fs_err::read_to_string("/proc/self/status").expect("status");
    assert_eq!(cap_line(&out, "CapBnd:"), cap_line(&host, "CapBnd:"));
    assert_eq!(cap_line(&out, "CapEff:"), cap_line(&host, "CapBnd:"));
    spec.security = Security::Sandboxed;
    spec.uid = 1000;
    let out = run(&spec).success().to_string();
    assert_eq!(
        cap_line(&out, "CapEff:"),
        "0000000000000000",
        "a non-root user has none"
    );
}

#[test]
fn proc_dev_and_sys() {
    let f = Fixture::new();
    let r = run(&f.spec(
        "ls /dev | tr '\\n' ' '; echo; echo x > /dev/null && head -c 5 /dev/zero | wc -c; \
         readlink /dev/ptmx; readlink /dev/fd; \
         grep -E ' /(dev/pts|dev/shm|sys|proc|proc/sys) ' /proc/self/mountinfo | sed 's/.* - //'; \
         touch /sys/x 2>/dev/null && echo sys-writable; \
         echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo procsys-writable; \
         wc -c < /proc/timer_list; ls /sys/firmware | wc -l; touch /dev/shm/ok && echo shm-ok",
    ));
    let out = r.success();
    let mut lines = out.lines();
    let devs: BTreeSet<&str> = lines.next().expect("ls").split_whitespace().collect();
    for d in [
        "null", "zero", "full", "random", "urandom", "pts", "shm", "ptmx", "fd", "stdin", "stdout",
        "stderr",
    ] {
        assert!(devs.contains(d), "/dev/{d} missing: {devs:?}");
    }
    assert_eq!(lines.next(), Some("5"));
    assert_eq!(lines.next(), Some("pts/ptmx"));
    assert_eq!(lines.next(), Some("/proc/self/fd"));
    let rest: Vec<&str> = lines.collect();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("devpts devpts rw") && l.contains("ptmxmode=666")),
        "{rest:?}"
    );
    assert!(
        rest.iter().any(|l| l.starts_with("tmpfs shm rw")),
        "{rest:?}"
    );
    assert!(
        rest.iter().any(|l| l.starts_with("proc proc rw")),
        "{rest:?}"
    );
    assert!(
        !out.contains("sys-writable") && !out.contains("procsys-writable"),
        "{out}"
    );
    // Masked: /proc/timer_list reads empty, /sys/firmware is an empty directory.
    let n = rest.len();
    assert!(n >= 3, "{rest:?}");
    assert_eq!(&rest[n - 3..], ["0", "0", "shm-ok"], "{rest:?}");
    assert!(
        fs_err::metadata("/proc/timer_list").is_ok()
            && fs_err::read_dir("/sys/firmware").expect("fw").count() > 0
    );
}

fn interfaces(net_dev: &str) -> BTreeSet<String> {
    net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_string())
        .collect()
}

#[test]
fn network_none_has_only_loopback_up() {
    let f = Fixture::new();
    let mut spec = f.spec("cat /proc/net/dev; echo ---; ip link; echo ---; cat /etc/hosts");
    spec.network = Network::None;
    let out = run(&spec).success().to_string();
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(interfaces(parts[0]), BTreeSet::from(["lo".to_string()]));
    assert!(
        parts[1].contains("lo: <LOOPBACK,UP,LOWER_UP>"),
        "{}",
        parts[1]
    );
    assert!(
        parts[2].starts_with("127.0.0.1\tlocalhost\n"),
        "{}",
        parts[2]
    );
}

#[test]
fn network_host_sees_host_interfaces_and_files() {
    let f = Fixture::new();
    let mut spec =
        f.spec("cat /proc/net/dev; echo ---; cat /etc/resolv.conf; echo ---; cat /etc/hosts");
    spec.network = Network::Host;
    let r = run(&spec);
    let out = r.success().to_string();
    let parts: Vec<&str> = out.split("---\n").collect();
    let host_ifs = interfaces(&fs_err::read_to_string("/proc/self/net/dev").expect("net/dev"));
    assert_eq!(interfaces(parts[0]), host_ifs);
    assert_eq!(
        parts[1],
        fs_err::read_to_string("/etc/resolv.conf").expect("resolv.conf")
    );
    assert_eq!(
        parts[2],
        fs_err::read_to_string("/etc/hosts").expect("hosts")
    );
}

#[test]
fn created_mountpoints_are_reported_and_scrubbed() {
    let f = Fixture::new();
    let lower_etc_mtime = fs_err::metadata(f.path("lower/etc")).expect("etc").mtime();
    let mut spec = f.spec("cat /etc/resolv.conf; echo hi > /motd; echo x > /etc/resolv.conf");
    spec.network = Network::Host;
    spec.mounts = vec![Mount {
        kind: MountKind::Tmpfs {
            size: Some(1 << 20),
        },
        target: "/var/cache/apt".into(),
    }];
    let r = run(&spec);
    let outcome = r.ok().clone();
    assert_ne!(
        outcome.status,
        ExitStatus::Code(0),
        "resolv.conf is read-only"
    );
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        fs_err::read_to_string("/etc/resolv.conf").expect("host resolv.conf")
    );
    let created = &outcome.created_mountpoints;
    for p in [
        "/proc",
        "/dev",
        "/sys",
        "/etc/resolv.conf",
        "/etc/hosts",
        "/var",
        "/var/cache",
        "/var/cache/apt",
    ] {
        assert!(created.contains(&p.to_string()), "{p} not in {created:?}");
    }
    assert!(
        !created.contains(&"/etc".to_string()),
        "/etc existed: {created:?}"
    );
    let up = f.path("upper");
    assert!(up.join("etc/resolv.conf").is_file() && up.join("proc").is_dir());
    let etc_mtime = || fs_err::metadata(up.join("etc")).expect("etc").mtime();
    assert_eq!(
        etc_mtime(),
        lower_etc_mtime,
        "creating the placeholder kept the parent's mtime"
    );
    scrub_upper(&up, created).expect("scrub");
    for p in created {
        assert!(
            !up.join(p.trim_start_matches('/')).exists(),
            "{p} left in upper"
        );
    }
    assert_eq!(
        etc_mtime(),
        lower_etc_mtime,
        "scrubbing kept the parent's mtime"
    );
    assert_eq!(
        fs_err::read_to_string(up.join("motd")).expect("motd"),
        "hi\n"
    );
}

#[test]
fn bind_mounts_readonly_cache_secret_and_tmpfs() {
    let f = Fixture::new();
    let ro = f.path("ro-src");
    write(&ro.join("file"), "ro\n");
    let cache = f.path("cache");
    fs_err::create_dir(&cache).expect("cache");
    let secret = f.path("secret");
    write(&secret, "s3cret");
    fs_err::set_permissions(&secret, std::fs::Permissions::from_mode(0o400)).expect("chmod");
    let mounts = vec![
        Mount {
            kind: MountKind::Bind {
                source: ro.clone(),
                readonly: true,
            },
            target: "/mnt/ro".into(),
        },
        Mount {
            kind: MountKind::Bind {
                source: cache.clone(),
                readonly: false,
            },
            target: "/root/.cache".into(),
        },
        Mount {
            kind: MountKind::Bind {
                source: secret,
                readonly: true,
            },
            target: "/run/secrets/token".into(),
        },
        Mount {
            kind: MountKind::Tmpfs { size: None },
            target: "/scratch".into(),
        },
    ];
    let script = "cat /mnt/ro/file; touch /mnt/ro/new 2>&1 | grep -o 'Read-only file system'; \
                  cat /root/.cache/count 2>/dev/null; echo run >> /root/.cache/count; \
                  cat /run/secrets/token; echo; stat -c %a /run/secrets/token; \
                  touch /scratch/t && grep ' /scratch ' /proc/mounts | cut -d' ' -f3";
    let mut spec = f.spec(script);
    spec.mounts = mounts;
    let out1 = run(&spec).success().to_string();
    assert_eq!(out1, "ro\nRead-only file system\ns3cret\n400\ntmpfs\n");
    let f2 = Fixture::new();
    let mut spec2 = f2.spec(script);
    spec2.mounts = spec.mounts.clone();
    let out2 = run(&spec2).success().to_string();
    assert_eq!(
        out2, "ro\nRead-only file system\nrun\ns3cret\n400\ntmpfs\n",
        "the cache persisted"
    );
    assert_eq!(
        fs_err::read_to_string(cache.join("count")).expect("count"),
        "run\nrun\n"
    );
    assert!(!ro.join("new").exists());
    assert!(
        !f.path("upper/scratch/t").exists(),
        "tmpfs content is not in the layer"
    );
}

#[test]
fn killing_the_helper_kills_the_command_and_leaves_no_mounts() {
    let f = Fixture::new();
    let rootfs = f.path("rootfs");
    let token = "kill-helper-token-2718";
    let spec = f.spec(&format!("echo ready; sleep 4242; echo never # {token}"));
    let mut seen: Option<(i32, i32, i32)> = None;
    let start = Instant::now();
    let r = run_opts(&spec, RunOptions::default(), |out| {
        if !out.contains("ready") || seen.is_some() {
            return;
        }
        let (sh, helper) = find_processes(token)
            .into_iter()
            .next()
            .expect("sh process");
        let mut sleep = None;
        wait_until("sleep to start", || {
            sleep = find_processes("4242")
                .into_iter()
                .find(|(_, pp)| *pp == sh)
                .map(|(p, _)| p);
            sleep.is_some()
        });
        let sleep = sleep.expect("sleep");
        // Inside, the overlay is the root; on the host, nothing is mounted at rootfs.
        let inside = fs_err::read_to_string(format!("/proc/{sh}/mountinfo")).expect("mountinfo");
        assert!(
            inside
                .lines()
                .any(|l| l.contains(" / / ") && l.contains(" - overlay ")),
            "{inside}"
        );
        signal(helper, libc::SIGKILL);
        seen = Some((helper, sh, sleep));
    });
    let (_, sh, sleep) = seen.expect("the command started");
    assert!(
        matches!(r.result, Err(SandboxError::HelperDied { .. })),
        "{:?}",
        r.result
    );
    assert!(start.elapsed() < Duration::from_secs(30));
    wait_until("the command to die", || is_dead(sh) && is_dead(sleep));
    assert!(!r.stdout.contains("never"));
    let rootfs = rootfs.to_string_lossy().into_owned();
    let host = fs_err::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !host.contains(&rootfs),
        "a mount at {rootfs} leaked: {host}"
    );
    assert!(
        !host
            .lines()
            .any(|l| l.contains(" - overlay ") && l.contains(&rootfs))
    );
}

#[test]
fn cancel_kills_everything_promptly() {
    let f = Fixture::new();
    let token = "cancel-token-1618";
    let spec = f.spec(&format!("echo ready; sleep 1000; echo never # {token}"));
    let cancel = Arc::new(AtomicBool::new(false));
    let opts = RunOptions {
        cancel: Some(cancel.clone()),
        ..RunOptions::default()
    };
    let mut sh = None;
    let mut cancelled_at = None;
    let r = run_opts(&spec, opts, |out| {
        if out.contains("ready") && sh.is_none() {
            sh = find_processes(token).first().map(|(p, _)| *p);
            cancel.store(true, Ordering::SeqCst);
            cancelled_at = Some(Instant::now());
        }
    });
    assert!(
        matches!(r.result, Err(SandboxError::Cancelled)),
        "{:?}",
        r.result
    );
    let elapsed = cancelled_at.expect("cancelled").elapsed();
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    let sh = sh.expect("sh pid");
    wait_until("the command to die", || is_dead(sh));
}

#[test]
fn exec_failures_are_clear_errors() {
    let f = Fixture::new();
    let mut spec = f.spec("");
    spec.args = vec!["no-such-command".into(), "arg".into()];
    match run(&spec).result {
        Err(SandboxError::Exec {
            kind: ExecFailure::NotFound,
            message,
        }) => {
            assert_eq!(
                message,
                "exec: \"no-such-command\": executable file not found in $PATH"
            );
        }
        other => panic!("expected not found, got {other:?}"),
    }
    spec.args = vec!["/bin/nope".into()];
    let err = run(&spec).result.expect_err("missing absolute path");
    assert!(
        matches!(
            err,
            SandboxError::Exec {
                kind: ExecFailure::NotFound,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("/bin/nope"), "{err}");
    spec.args = vec!["/data/keep".into()];
    let err = run(&spec).result.expect_err("not executable");
    assert!(
        matches!(
            err,
            SandboxError::Exec {
                kind: ExecFailure::PermissionDenied,
                ..
            }
        ),
        "{err}"
    );
    spec.args = vec!["sh".into()];
    spec.env = vec![];
    let err = run(&spec).result.expect_err("no PATH");
    assert!(
        matches!(
            err,
            SandboxError::Exec {
                kind: ExecFailure::NotFound,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn environment_and_working_directory() {
    let f = Fixture::new();
    let mut spec = f.spec("");
    spec.args = vec!["env".into()];
    spec.env = vec!["PATH=/bin".into(), "FOO=bar baz".into(), "EMPTY=".into()];
    assert_eq!(run(&spec).success(), "PATH=/bin\nFOO=bar baz\nEMPTY=\n");
    spec.args = vec!["pwd".into()];
    spec.cwd = "/data/dir".into();
    assert_eq!(run(&spec).success(), "/data/dir\n");
    spec.cwd = "/does/not/exist".into();
    let err = run(&spec).result.expect_err("missing cwd");
    assert!(matches!(err, SandboxError::Setup { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("working directory \"/does/not/exist\""),
        "{err}"
    );
}

#[test]
fn stdin_pipe_delivers_bytes() {
    let f = Fixture::new();
    let mut spec = f.spec("cat; echo end");
    spec.stdin = Stdio::Pipe;
    let opts = RunOptions {
        stdin: b"hello\nworld\n".to_vec(),
        ..RunOptions::default()
    };
    let r = run_opts(&spec, opts, |_| {});
    assert_eq!(r.success(), "hello\nworld\nend\n");
    spec.stdin = Stdio::Null;
    assert_eq!(run(&spec).success(), "end\n");
}

/// Makes `n` layers under `base`, each adding /layers/<i> and overwriting /common.
fn many_layers(base: &Path, n: usize, name: impl Fn(usize) -> String) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let dir = base.join(name(i));
            write(&dir.join(format!("layers/{i}")), "");
            write(&dir.join("common"), &format!("layer {i}\n"));
            dir
        })
        .collect()
}

fn check_many_layers(f: &Fixture, layers: Vec<PathBuf>) {
    let n = layers.len();
    let total: usize = layers.iter().map(|l| l.as_os_str().len() + 1).sum();
    assert!(
        total > 4096,
        "the option string must exceed a page ({total})"
    );
    let mut spec = f.spec("cat /common; ls /layers | wc -l; echo top > /common");
    spec.lower.extend(layers);
    let out = run(&spec).success().to_string();
    assert_eq!(out, format!("layer {}\n{n}\n", n - 1));
    assert_eq!(
        fs_err::read_to_string(f.path("upper/common")).expect("upper"),
        "top\n"
    );
}

#[test]
fn long_layer_paths_mount_through_a_common_parent() {
    let f = Fixture::new_in(&format!("{}/{}", "d".repeat(120), "e".repeat(120)));
    let base = f.path("");
    check_many_layers(&f, many_layers(&base, 30, |i| format!("l{i}")));
}

#[test]
fn very_many_layers_mount_through_fsconfig() {
    let f = Fixture::new();
    let base = f.path("layers");
    check_many_layers(&f, many_layers(&base, 120, |i| format!("{i:040}")));
}

/// A layer with the mount points a read-only root needs.
fn mountpoint_layer(dir: &Path) {
    for d in ["proc", "dev", "sys"] {
        fs_err::create_dir_all(dir.join(d)).expect("mkdir");
    }
    write(&dir.join("etc/hosts"), "");
}

#[test]
fn read_only_roots() {
    let f = Fixture::new();
    let mp = f.path("mp");
    mountpoint_layer(&mp);
    let mut spec = f.spec("cat /data/keep; touch /new 2>&1 | grep -o 'Read-only file system'");
    spec.upper = None;
    spec.work = None;
    spec.lower.push(mp.clone());
    let r = run(&spec);
    assert_eq!(r.success(), "orig\nRead-only file system\n");
    assert!(r.ok().created_mountpoints.is_empty());
    // One layer: a read-only bind instead of an overlay.
    busybox_layer(&mp);
    spec.lower = vec![mp];
    assert_eq!(run(&spec).success(), "orig\nRead-only file system\n");
    // Without the mount points a read-only root cannot work: a clear setup error.
    spec.lower = vec![f.path("lower")];
    let err = run(&spec).result.expect_err("no /proc");
    assert!(matches!(err, SandboxError::Setup { .. }), "{err}");
    assert!(
        err.to_string().contains("cannot create mount point /proc"),
        "{err}"
    );
}

#[test]
fn symlinked_mount_targets_stay_inside_the_root() {
    let f = Fixture::new();
    let outside = f.path("outside");
    fs_err::create_dir(&outside).expect("mkdir");
    // An image whose /var points at a host path: targets must resolve inside the root.
    symlink(&outside, f.path("lower/var")).expect("symlink");
    let mut spec = f.spec("ls -d /var/cache/x && readlink /var");
    spec.mounts = vec![Mount {
        kind: MountKind::Tmpfs { size: None },
        target: "/var/cache/x".into(),
    }];
    let r = run(&spec);
    assert_eq!(
        r.success(),
        format!("/var/cache/x\n{}\n", outside.display())
    );
    assert_eq!(
        fs_err::read_dir(&outside).expect("outside").count(),
        0,
        "nothing created on the host"
    );
    let created = &r.ok().created_mountpoints;
    let expected = outside.to_string_lossy().into_owned();
    assert!(
        created.contains(&format!("{expected}/cache/x")),
        "{created:?}"
    );
}

#[test]
fn invalid_specs_fail_before_starting() {
    let f = Fixture::new();
    let mut spec = f.spec("true");
    spec.work = None;
    assert!(matches!(
        run(&spec).result,
        Err(SandboxError::InvalidSpec(_))
    ));
    let missing = Sandbox::new(f.path("no-helper"));
    let err = missing
        .run(&f.spec("true"), &mut |_, _| {})
        .expect_err("no helper");
    assert!(matches!(err, SandboxError::Spawn { .. }), "{err}");
}
