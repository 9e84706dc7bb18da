//! Runs plinth-init as PID 1 of a new PID namespace (`unshare --fork --pid --mount-proc`), with
//! its `/application` and `/container` in temporary directories, and finds its host pid to send
//! it signals from outside, as a container runtime does.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_plinth-init");

/// One container: its two contract directories and extra environment.
pub struct Container {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

/// A running plinth-init.
pub struct Running {
    pub child: Child,
    pub started: Instant,
}

/// What a finished run gave.
pub struct Done {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Container {
    pub fn new() -> Container {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("application")).unwrap();
        std::fs::create_dir_all(dir.path().join("container")).unwrap();
        Container {
            dir,
            env: Vec::new(),
        }
    }

    pub fn app(&self) -> PathBuf {
        self.dir.path().join("application")
    }

    pub fn container(&self) -> PathBuf {
        self.dir.path().join("container")
    }

    /// A scratch path for marker files the services write.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn env(mut self, k: &str, v: &str) -> Container {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    /// Writes an executable script under the container's directories.
    pub fn script(&self, rel: &str, body: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    pub fn file(&self, rel: &str, body: &str) -> PathBuf {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
        p
    }

    fn command(&self, args: &[&str]) -> Command {
        self.command_of(BIN, args)
    }

    fn command_of(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("unshare");
        c.args(["--fork", "--pid", "--mount-proc", "--kill-child", program]);
        c.args(args);
        c.env("PLINTH_APP_DIR", self.app())
            .env("PLINTH_CONTAINER_DIR", self.container())
            .env_remove("PLINTH_MODE")
            .env_remove("PLINTH_HEALTH_ADDR")
            .env_remove("PACKAGE_URL")
            .env_remove("PACKAGE_SHA256")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Starts `plinth-init ARGS...` as PID 1.
    pub fn start(&self, args: &[&str]) -> Running {
        let child = self
            .command(args)
            .spawn()
            .expect("unshare (util-linux) runs plinth-init");
        Running {
            child,
            started: Instant::now(),
        }
    }

    /// Starts another init (tini) as PID 1, with the same environment.
    pub fn start_other(&self, program: &str, args: &[&str]) -> Running {
        let child = self
            .command_of(program, args)
            .spawn()
            .expect("unshare runs the init");
        Running {
            child,
            started: Instant::now(),
        }
    }

    /// Runs `plinth-init ARGS...` as PID 1 to its end (at most `limit`).
    pub fn run(&self, args: &[&str], limit: Duration) -> Done {
        self.start(args).wait(limit)
    }

    /// Runs a plinth-init subcommand (env, health, test) directly, not as PID 1.
    pub fn tool(&self, args: &[&str]) -> Done {
        let started = Instant::now();
        let out = Command::new(BIN)
            .args(args)
            .env("PLINTH_APP_DIR", self.app())
            .env("PLINTH_CONTAINER_DIR", self.container())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("plinth-init runs");
        Done {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            took: started.elapsed(),
        }
    }
}

impl Running {
    /// The host pid of plinth-init (unshare's child).
    pub fn init_pid(&self) -> i32 {
        let unshare = self.child.id();
        let path = format!("/proc/{unshare}/task/{unshare}/children");
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(s) = std::fs::read_to_string(&path)
                && let Some(pid) = s.split_whitespace().next()
            {
                return pid.parse().unwrap();
            }
            assert!(Instant::now() < until, "unshare started no child");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `sig` to plinth-init from outside its PID namespace.
    pub fn signal(&self, sig: i32) {
        let pid = self.init_pid();
        let rc = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .unwrap();
        assert!(rc.success(), "kill -{sig} {pid}");
    }

    /// Still running?
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the end, at most `limit` (then kills it and fails the test).
    pub fn wait(mut self, limit: Duration) -> Done {
        let mut out = self.child.stdout.take().unwrap();
        let mut err = self.child.stderr.take().unwrap();
        let o = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let e = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let until = self.started + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > until {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = e.join().unwrap();
                panic!("plinth-init did not end within {limit:?}; stderr:\n{stderr}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let took = self.started.elapsed();
        Done {
            code: status.code().unwrap_or(-1),
            stdout: o.join().unwrap(),
            stderr: e.join().unwrap(),
            took,
        }
    }
}

/// Waits until `path` exists (at most `limit`).
pub fn wait_for(path: &Path, limit: Duration) {
    let until = Instant::now() + limit;
    while !path.exists() {
        assert!(
            Instant::now() < until,
            "{} did not appear within {limit:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads a marker file ("" when absent).
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET http://127.0.0.1:PORT/PATH: (status, body), None when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let status = resp.split_whitespace().nth(1)?.parse().ok()?;
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// Polls `http_get` until it answers with `want` (at most `limit`); returns the body.
pub fn http_until(port: u16, path: &str, want: u16, limit: Duration) -> String {
    let until = Instant::now() + limit;
    loop {
        let got = http_get(port, path);
        if let Some((status, body)) = &got
            && *status == want
        {
            return body.clone();
        }
        assert!(
            Instant::now() < until,
            "GET {path} never answered {want}; last: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
