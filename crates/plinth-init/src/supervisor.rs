//! PID 1 itself. In order, at start: the `PACKAGE_URL` package, the env contract, the log
//! follower, the hooks, the supervised services (dependency order, each ready before the next),
//! the health server, then the service (the image's CMD, else `/application/run`). Then one
//! loop waits for signals:
//!
//! - SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH go to the service;
//!   SIGTERM, SIGINT and SIGQUIT also start the stop: the service has `PLINTH_STOP_TIMEOUT`
//!   (default 8 s) to exit, then its whole process group and every other process get SIGKILL;
//! - every ended child is reaped (orphans included); when the service ends, the services are
//!   stopped in reverse order and plinth-init exits with the service's code (128 + signal when
//!   it was killed);
//! - a supervised service that ends is restarted per its `restart` policy with backoff;
//! - in maintenance mode (`PLINTH_MODE=maintenance`) there is no service: hooks run, services
//!   and the health server start, and the container stays up until SIGTERM/SIGINT (exit 0).
//!
//! The loop is single-threaded (the log follower thread spawns nothing), so code it calls may
//! wait for its own children by pid while the loop reaps everything else.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::checks;
use crate::contract::{Contract, Problems};
use crate::hooks;
use crate::layout::Layout;
use crate::logs;
use crate::package::{self, PackageRequest};
use crate::services::{self, Backoff, Restart, Service};
use crate::sys::{self, Ended, SigSet};

/// How the container runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Hooks, services, then the service.
    Normal,
    /// Hooks and services, no service: the container stays up for inspection and repair.
    Maintenance,
}

/// Everything the supervisor needs, read from the environment and the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the image contract lives.
    pub layout: Layout,
    /// `PLINTH_MODE`.
    pub mode: Mode,
    /// `PLINTH_STOP_TIMEOUT`: the grace period between SIGTERM and SIGKILL.
    pub stop_timeout: Duration,
    /// `PLINTH_HEALTH_ADDR`: where `/healthz` and `/readyz` are served.
    pub health_addr: Option<String>,
    /// The service's command line (the image's CMD, after `--`); empty means `/application/run`.
    pub command: Vec<OsString>,
    /// `PACKAGE_URL` / `PACKAGE_SHA256`.
    pub package: Option<PackageRequest>,
    /// This binary, to start the health server (`plinth-init health --serve ADDR`).
    pub self_exe: PathBuf,
    /// How often the log follower looks at `/application/logging`.
    pub log_interval: Duration,
}

/// The default grace period: inside Docker's own 10 s, so plinth-init's SIGKILL to the service's
/// process group comes before the runtime's SIGKILL to everything.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(8);

/// A setting with a bad value.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `PLINTH_MODE` is neither `normal` nor `maintenance`.
    #[error("PLINTH_MODE={0:?} is not a mode: use `normal` (the default) or `maintenance`")]
    Mode(String),
    /// `PLINTH_STOP_TIMEOUT` is not a duration.
    #[error(
        "PLINTH_STOP_TIMEOUT={0:?} is not a duration: use seconds (`10`) or `10s`, `500ms`, `1m`"
    )]
    StopTimeout(String),
}

impl Settings {
    /// Settings from the environment (`get`) and the service's command line.
    pub fn from_env(
        command: Vec<OsString>,
        get: impl Fn(&str) -> Option<String>,
        self_exe: PathBuf,
    ) -> Result<Settings, SettingsError> {
        let mode = match get("PLINTH_MODE").as_deref().map(str::trim) {
            None | Some("") | Some("normal") => Mode::Normal,
            Some("maintenance") => Mode::Maintenance,
            Some(other) => return Err(SettingsError::Mode(other.to_string())),
        };
        let stop_timeout = match get("PLINTH_STOP_TIMEOUT") {
            None => DEFAULT_STOP_TIMEOUT,
            Some(s) if s.trim().is_empty() => DEFAULT_STOP_TIMEOUT,
            Some(s) => checks::parse_duration(s.trim()).ok_or(SettingsError::StopTimeout(s))?,
        };
        Ok(Settings {
            layout: Layout::from_env(&get),
            mode,
            stop_timeout,
            health_addr: get("PLINTH_HEALTH_ADDR").filter(|s| !s.trim().is_empty()),
            command,
            package: PackageRequest::from_env(&get),
            self_exe,
            log_interval: Duration::from_millis(250),
        })
    }
}

/// Why the container could not start (plinth-init exits 1, or the hook's code).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The environment does not meet the env contract.
    #[error("{0}")]
    Contract(#[from] Problems),
    /// The env contract file is unreadable or invalid.
    #[error(transparent)]
    ContractFile(#[from] crate::contract::ContractError),
    /// `PACKAGE_URL` failed.
    #[error(transparent)]
    Package(#[from] package::PackageError),
    /// The hooks are not runnable.
    #[error(transparent)]
    Hooks(#[from] hooks::HookError),
    /// A hook failed.
    #[error("hook {path} {ended}: the service was not started")]
    HookFailed {
        /// The hook.
        path: String,
        /// How it ended.
        ended: Ended,
    },
    /// The services file is invalid.
    #[error(transparent)]
    Services(#[from] services::ServiceError),
    /// A service did not become ready.
    #[error("service {name} {why}")]
    NotReady {
        /// The service.
        name: String,
        /// What happened.
        why: String,
    },
    /// Nothing to run.
    #[error(
        "nothing to run: the image has no CMD, no executable {run} and no services in {services}; \
         give a command (`plinth-init -- CMD...`), add {run}, or start with PLINTH_MODE=maintenance"
    )]
    NothingToRun {
        /// `/application/run`.
        run: String,
        /// `/container/services.toml`.
        services: String,
    },
    /// A process could not be started.
    #[error("cannot start {what} ({program}): {source}")]
    Spawn {
        /// What it is (the service, hook X, service X).
        what: String,
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{0}: {1}")]
    Sys(&'static str, #[source] std::io::Error),
}

impl StartError {
    /// The exit code plinth-init ends with: a failed hook's own code, 127/126 for a missing or
    /// non-executable program (like a shell), else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::HookFailed { ended, .. } => match ended.code() {
                0 => 1,
                c => c,
            },
            StartError::Spawn { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound => 127,
                std::io::ErrorKind::PermissionDenied => 126,
                _ => 1,
            },
            _ => 1,
        }
    }
}

/// What the supervisor tells the user, on stderr, prefixed `plinth-init: ` by the binary.
pub type Notify<'a> = &'a mut dyn FnMut(&str);

/// The signals the loop waits for.
fn handled() -> SigSet {
    let mut all = sys::FORWARDED.to_vec();
    all.push(libc::SIGCHLD);
    SigSet::of(&all)
}

fn is_stop_signal(sig: libc::c_int) -> bool {
    matches!(sig, libc::SIGTERM | libc::SIGINT | libc::SIGQUIT)
}

/// Runs the container; returns plinth-init's exit code.
pub fn run(settings: &Settings, notify: Notify<'_>) -> Result<i32, StartError> {
    let set = handled();
    sys::block(&set).map_err(|e| StartError::Sys("sigprocmask", e))?;
    sys::ignore_tty_signals();
    if sys::getpid() != 1 {
        // Not PID 1 (e.g. `docker run --init` or a test): orphans still come to us.
        sys::set_child_subreaper()
            .map_err(|e| StartError::Sys("prctl(PR_SET_CHILD_SUBREAPER)", e))?;
    }
    let mut pid1 = Pid1::new(settings, set);
    let code = pid1.start(notify);
    pid1.stop_logs();
    code
}

/// A process the supervisor started and waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Main,
    Hook,
    Service(usize),
    Health,
}

struct Running {
    role: Role,
    pid: libc::pid_t,
    started: Instant,
}

struct ServiceState {
    def: Service,
    backoff: Backoff,
    restart_at: Option<Instant>,
}

struct Pid1<'s> {
    settings: &'s Settings,
    set: SigSet,
    env: BTreeMap<OsString, OsString>,
    running: Vec<Running>,
    services: Vec<ServiceState>,
    health_restart_at: Option<Instant>,
    /// Set once the stop began: the SIGKILL deadline.
    deadline: Option<Instant>,
    killed: bool,
    /// The service's end, once it ended.
    main_ended: Option<Ended>,
    /// Services still to stop, in stop order, once the stop reached them.
    stop_queue: Option<Vec<usize>>,
    log_stop: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl<'s> Pid1<'s> {
    fn new(settings: &'s Settings, set: SigSet) -> Self {
        Pid1 {
            settings,
            set,
            env: std::env::vars_os().collect(),
            running: Vec::new(),
            services: Vec::new(),
            health_restart_at: None,
            deadline: None,
            killed: false,
            main_ended: None,
            stop_queue: None,
            log_stop: None,
        }
    }

    fn stop_logs(&mut self) {
        if let Some((flag, handle)) = self.log_stop.take() {
            flag.store(true, Ordering::SeqCst);
            let _ = handle.join();
        }
    }

    fn start(&mut self, notify: Notify<'_>) -> Result<i32, StartError> {
        let s = self.settings;
        if let Some(req) = &s.package {
            notify(&format!(
                "installing PACKAGE_URL {} into {}",
                req.url,
                s.layout.app.display()
            ));
            let got = package::install(req, &s.layout.app)?;
            notify(&format!(
                "PACKAGE_URL verified (sha256:{}), {} files, {} bytes",
                got.sha256, got.files, got.bytes
            ));
        }
        self.apply_contract()?;
        let logging = s.layout.logging_dir();
        if logging.is_dir() {
            let flag = Arc::new(AtomicBool::new(false));
            let handle = logs::spawn(logging, s.log_interval, flag.clone());
            self.log_stop = Some((flag, handle));
        }
        for hook in hooks::hooks(&s.layout)? {
            let shown = hook.path.display().to_string();
            let ended = self.run_to_end(&hook.argv, &format!("hook {shown}"))?;
            if self.deadline.is_some() {
                notify(&format!("stopped during hook {shown}"));
                return Ok(ended.code());
            }
            if !ended.success() {
                return Err(StartError::HookFailed { path: shown, ended });
            }
        }
        if let Some(file) = services::load(&s.layout.services_file())? {
            for def in file.services {
                self.services.push(ServiceState {
                    def,
                    backoff: Backoff::new(),
                    restart_at: None,
                });
            }
        }
        for i in 0..self.services.len() {
            self.start_service(i)?;
            if let Err(e) = self.wait_ready(i, notify) {
                self.begin_stop();
                self.event_loop(notify);
                return Err(e);
            }
            if self.deadline.is_some() {
                return Ok(self.event_loop(notify));
            }
        }
        if let Some(addr) = s.health_addr.clone() {
            self.start_health(&addr)?;
        }
        match s.mode {
            Mode::Maintenance => {
                notify(
                    "maintenance mode: hooks ran, the service is not started; stop the container to end it",
                );
            }
            Mode::Normal => {
                let argv = self.main_command()?;
                match argv {
                    Some(argv) => {
                        let pid = self.spawn(&argv, "the service", &[])?;
                        self.running.push(Running {
                            role: Role::Main,
                            pid,
                            started: Instant::now(),
                        });
                    }
                    None => notify("no CMD and no /application/run: supervising the services only"),
                }
            }
        }
        Ok(self.event_loop(notify))
    }

    fn apply_contract(&mut self) -> Result<(), StartError> {
        let path = self.settings.layout.env_contract();
        let Some(contract) = Contract::load(&path)? else {
            return Ok(());
        };
        let utf8: BTreeMap<String, String> = self
            .env
            .iter()
            .filter_map(|(k, v)| Some((k.to_str()?.to_string(), v.to_str()?.to_string())))
            .collect();
        let resolved = contract.resolve(&utf8)?;
        for (k, v) in resolved.set {
            self.env.insert(k.into(), v.into());
        }
        for k in resolved.unset {
            self.env.remove(OsStr::new(&k));
        }
        Ok(())
    }

    /// The service: the command line, else `/application/run`, else none when services exist.
    fn main_command(&self) -> Result<Option<Vec<OsString>>, StartError> {
        if !self.settings.command.is_empty() {
            return Ok(Some(self.settings.command.clone()));
        }
        let run = self.settings.layout.run_script();
        let executable = std::fs::metadata(&run)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        if executable {
            return Ok(Some(vec![run.into_os_string()]));
        }
        if !self.services.is_empty() {
            return Ok(None);
        }
        Err(StartError::NothingToRun {
            run: run.display().to_string(),
            services: self.settings.layout.services_file().display().to_string(),
        })
    }

    fn spawn(
        &mut self,
        argv: &[OsString],
        what: &str,
        extra_env: &[(String, String)],
    ) -> Result<libc::pid_t, StartError> {
        let Some((program, args)) = argv.split_first() else {
            return Err(StartError::Spawn {
                what: what.to_string(),
                program: String::new(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
            });
        };
        let mut cmd = Command::new(program);
        cmd.args(args).env_clear().envs(&self.env).process_group(0);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        // SAFETY: the closure only makes async-signal-safe calls (isatty, getpgrp, tcsetpgrp,
        // signal, sigprocmask) between fork and exec.
        unsafe {
            cmd.pre_exec(sys::child_setup);
        }
        let child = cmd.spawn().map_err(|source| StartError::Spawn {
            what: what.to_string(),
            program: program.to_string_lossy().into_owned(),
            source,
        })?;
        let pid = child.id() as libc::pid_t;
        sys::set_process_group(pid);
        // The loop reaps it with waitpid(-1); std's Child has no Drop side effects.
        drop(child);
        Ok(pid)
    }

    /// Runs a hook to its end, forwarding signals to it; a stop signal starts the grace period.
    fn run_to_end(&mut self, argv: &[OsString], what: &str) -> Result<Ended, StartError> {
        let pid = self.spawn(argv, what, &[])?;
        self.running.push(Running {
            role: Role::Hook,
            pid,
            started: Instant::now(),
        });
        loop {
            let wait = self.time_to_deadline(Duration::from_millis(500));
            match sys::wait_signal(&self.set, wait) {
                Ok(Some(libc::SIGCHLD)) | Ok(None) => {}
                Ok(Some(sig)) => {
                    sys::kill(pid, sig);
                    if is_stop_signal(sig) {
                        self.begin_stop();
                    }
                }
                Err(e) => return Err(StartError::Sys("sigtimedwait", e)),
            }
            self.kill_if_late();
            while let Some((p, ended)) = sys::reap_any() {
                if p == pid {
                    self.running.retain(|r| r.pid != pid);
                    return Ok(ended);
                }
            }
        }
    }

    fn start_service(&mut self, i: usize) -> Result<(), StartError> {
        let def = &self.services[i].def;
        let argv: Vec<OsString> = def.argv.iter().map(OsString::from).collect();
        let what = format!("service {}", def.name);
        let env = def.env.clone();
        let workdir = def.workdir.clone();
        let pid = match workdir {
            Some(dir) => {
                let cwd = std::env::current_dir().ok();
                std::env::set_current_dir(&dir).map_err(|source| StartError::Spawn {
                    what: what.clone(),
                    program: dir.display().to_string(),
                    source,
                })?;
                let r = self.spawn(&argv, &what, &env);
                if let Some(cwd) = cwd {
                    let _ = std::env::set_current_dir(cwd);
                }
                r?
            }
            None => self.spawn(&argv, &what, &env)?,
        };
        self.running.push(Running {
            role: Role::Service(i),
            pid,
            started: Instant::now(),
        });
        Ok(())
    }

    /// Polls service `i`'s readiness check until it passes, its timeout passes, the service
    /// ends, or a stop signal comes (then returns Ok with the stop begun).
    fn wait_ready(&mut self, i: usize, notify: Notify<'_>) -> Result<(), StartError> {
        let Some(check) = self.services[i].def.ready.clone() else {
            return Ok(());
        };
        let name = self.services[i].def.name.clone();
        let until = Instant::now() + self.services[i].def.ready_timeout;
        loop {
            let outcome = check.run();
            if outcome.passed {
                notify(&format!("service {name} is ready"));
                return Ok(());
            }
            if Instant::now() >= until {
                return Err(StartError::NotReady {
                    name,
                    why: format!(
                        "was not ready within {:?}: {}",
                        self.services[i].def.ready_timeout, outcome.reason
                    ),
                });
            }
            match sys::wait_signal(&self.set, Duration::from_millis(200)) {
                Ok(Some(sig)) if is_stop_signal(sig) => {
                    self.begin_stop();
                    return Ok(());
                }
                Ok(_) => {}
                Err(e) => return Err(StartError::Sys("sigtimedwait", e)),
            }
            self.reap(notify);
            if self.pid_of(Role::Service(i)).is_none() {
                return Err(StartError::NotReady {
                    name,
                    why: "ended before it was ready".to_string(),
                });
            }
        }
    }

    fn start_health(&mut self, addr: &str) -> Result<(), StartError> {
        let argv = vec![
            self.settings.self_exe.clone().into_os_string(),
            "health".into(),
            "--serve".into(),
            addr.into(),
        ];
        let pid = self.spawn(&argv, "the health server", &[])?;
        self.running.push(Running {
            role: Role::Health,
            pid,
            started: Instant::now(),
        });
        Ok(())
    }

    fn role_of(&self, pid: libc::pid_t) -> Option<Role> {
        self.running.iter().find(|r| r.pid == pid).map(|r| r.role)
    }

    fn pid_of(&self, role: Role) -> Option<libc::pid_t> {
        self.running.iter().find(|r| r.role == role).map(|r| r.pid)
    }

    fn time_to_deadline(&self, max: Duration) -> Duration {
        match self.deadline {
            Some(d) if !self.killed => d.saturating_duration_since(Instant::now()).min(max),
            _ => max,
        }
    }

    /// Starts the grace period (once). Without a running service, the services' stop begins now.
    fn begin_stop(&mut self) {
        if self.deadline.is_none() {
            self.deadline = Some(Instant::now() + self.settings.stop_timeout);
            for s in &mut self.services {
                s.restart_at = None;
            }
            self.health_restart_at = None;
        }
        if self.pid_of(Role::Main).is_none() {
            self.stop_services();
        }
    }

    /// Stops the services in reverse start order, one at a time (the next once the previous
    /// ended), then the health server.
    fn stop_services(&mut self) {
        if self.stop_queue.is_none() {
            let order: Vec<usize> = (0..self.services.len()).rev().collect();
            self.stop_queue = Some(order);
            if self.deadline.is_none() {
                self.deadline = Some(Instant::now() + self.settings.stop_timeout);
            }
        }
        self.advance_stop();
    }

    fn advance_stop(&mut self) {
        loop {
            let next = self.stop_queue.as_ref().and_then(|q| q.first().copied());
            let Some(i) = next else {
                if let Some(pid) = self.pid_of(Role::Health) {
                    sys::kill_group(pid, libc::SIGTERM);
                }
                return;
            };
            match self.pid_of(Role::Service(i)) {
                Some(pid) => {
                    sys::kill_group(pid, libc::SIGTERM);
                    return;
                }
                None => {
                    if let Some(q) = self.stop_queue.as_mut() {
                        q.remove(0);
                    }
                }
            }
        }
    }

    /// Past the grace period: SIGKILL to every process group we started and, as PID 1, to
    /// every process in the namespace.
    fn kill_if_late(&mut self) {
        let Some(d) = self.deadline else { return };
        if self.killed || Instant::now() < d {
            return;
        }
        self.killed = true;
        for r in &self.running {
            sys::kill_group(r.pid, libc::SIGKILL);
        }
        if sys::getpid() == 1 {
            sys::kill_all(libc::SIGKILL);
        }
    }

    /// Waits for signals and children until everything started has ended after a stop or the
    /// service's end. A failed start waits here too, for what it started (the stop begun).
    fn event_loop(&mut self, notify: Notify<'_>) -> i32 {
        loop {
            if self.done() {
                return self.exit_code();
            }
            let wait = self.next_wait();
            match sys::wait_signal(&self.set, wait) {
                Ok(Some(libc::SIGCHLD)) | Ok(None) => {}
                Ok(Some(sig)) => self.on_signal(sig, notify),
                Err(e) => {
                    notify(&format!("sigtimedwait failed: {e}"));
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            self.reap(notify);
            self.kill_if_late();
            self.restarts(notify);
        }
    }

    fn done(&self) -> bool {
        let stopping = self.deadline.is_some() || self.main_ended.is_some();
        stopping && self.running.is_empty()
    }

    fn exit_code(&self) -> i32 {
        match self.main_ended {
            Some(e) => e.code(),
            None => 0,
        }
    }

    fn next_wait(&self) -> Duration {
        let mut wait = self.time_to_deadline(Duration::from_secs(1));
        let now = Instant::now();
        for at in self
            .services
            .iter()
            .filter_map(|s| s.restart_at)
            .chain(self.health_restart_at)
        {
            wait = wait.min(at.saturating_duration_since(now));
        }
        wait
    }

    fn on_signal(&mut self, sig: libc::c_int, notify: Notify<'_>) {
        match self.pid_of(Role::Main) {
            Some(pid) => sys::kill(pid, sig),
            None => {
                if !is_stop_signal(sig) {
                    return;
                }
            }
        }
        if is_stop_signal(sig) && self.deadline.is_none() {
            notify(&format!(
                "{} received: stopping (grace period {:?})",
                sys::signal_name(sig),
                self.settings.stop_timeout
            ));
            self.begin_stop();
        }
    }

    fn reap(&mut self, notify: Notify<'_>) {
        while let Some((pid, ended)) = sys::reap_any() {
            let Some(role) = self.role_of(pid) else {
                continue; // an orphan that was re-parented to us
            };
            let started = self
                .running
                .iter()
                .find(|r| r.pid == pid)
                .map(|r| r.started);
            self.running.retain(|r| r.pid != pid);
            match role {
                Role::Main => {
                    self.main_ended = Some(ended);
                    // A clean exit on its own is the normal end and says nothing (like tini).
                    if self.deadline.is_some() || !ended.success() {
                        notify(&format!("the service {ended}"));
                    }
                    if !self.services.is_empty() || self.pid_of(Role::Health).is_some() {
                        self.stop_services();
                    }
                }
                Role::Service(i) => {
                    if self.stop_queue.is_some() {
                        if let Some(q) = self.stop_queue.as_mut() {
                            q.retain(|&j| j != i);
                        }
                        self.advance_stop();
                        continue;
                    }
                    if self.deadline.is_some() {
                        continue;
                    }
                    let st = &mut self.services[i];
                    let again = match st.def.restart {
                        Restart::Always => true,
                        Restart::OnFailure => !ended.success(),
                        Restart::Never => false,
                    };
                    if again {
                        let ran = started.map(|s| s.elapsed()).unwrap_or_default();
                        let delay = st.backoff.next_delay(ran);
                        st.restart_at = Some(Instant::now() + delay);
                        notify(&format!(
                            "service {} {ended}; restarting in {delay:?}",
                            st.def.name
                        ));
                    } else {
                        notify(&format!(
                            "service {} {ended}; not restarted (restart = {:?})",
                            st.def.name, st.def.restart
                        ));
                        if self.settings.mode == Mode::Normal
                            && self.pid_of(Role::Main).is_none()
                            && self.main_ended.is_none()
                            && self.running.iter().all(|r| r.role == Role::Health)
                        {
                            // Services-only container with nothing left to supervise.
                            self.begin_stop();
                        }
                    }
                }
                Role::Health => {
                    if self.deadline.is_none() && self.main_ended.is_none() {
                        notify(&format!("the health server {ended}; restarting it"));
                        self.health_restart_at = Some(Instant::now() + Duration::from_secs(1));
                    } else if self.stop_queue.is_some() {
                        self.advance_stop();
                    }
                }
                Role::Hook => {}
            }
        }
    }

    fn restarts(&mut self, notify: Notify<'_>) {
        if self.deadline.is_some() || self.main_ended.is_some() {
            return;
        }
        let now = Instant::now();
        for i in 0..self.services.len() {
            if self.services[i].restart_at.is_some_and(|at| at <= now) {
                self.services[i].restart_at = None;
                if let Err(e) = self.start_service(i) {
                    let st = &mut self.services[i];
                    let delay = st.backoff.next_delay(Duration::ZERO);
                    st.restart_at = Some(Instant::now() + delay);
                    notify(&format!("{e}; trying again in {delay:?}"));
                }
            }
        }
        if self.health_restart_at.is_some_and(|at| at <= now) {
            self.health_restart_at = None;
            if let Some(addr) = self.settings.health_addr.clone()
                && let Err(e) = self.start_health(&addr)
            {
                notify(&e.to_string());
            }
        }
    }
}
