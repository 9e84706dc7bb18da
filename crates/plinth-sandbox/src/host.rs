//! The host side: starts the helper, feeds stdin, delivers output to the callback, watches
//! the cancel flag and turns the helper's report into a [`RunOutcome`] or an error.
//!
//! The calling thread does all the work in one `poll(2)` loop over the helper's stdout,
//! stderr, stdin, the report pipe and a pidfd of the helper, so `run` spawns no thread.
//! The spec travels in a memfd; both fds are passed by number in the helper's argv.

use std::fs::File;
use std::io::{Seek, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::{MemfdFlags, OFlags};
use rustix::io::FdFlags;
use rustix::pipe::PipeFlags;
use rustix::process::{Pid, PidfdFlags, Signal};

use crate::error::SandboxError;
use crate::protocol::{ExitStatus, FailureKind, Message, ReportReader};
use crate::spec::{Spec, Stdio};

/// The first argument that turns a binary into the sandbox helper.
pub const HELPER_ARG: &str = "__plinth-sandbox";

/// How often the cancel flag is looked at while nothing else happens.
const CANCEL_POLL: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 50_000_000,
};

/// Which output stream a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    /// The command's stdout.
    Stdout,
    /// The command's stderr.
    Stderr,
}

/// Options of one run besides the spec.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Cancellation: when it becomes `true`, `run` kills the helper and the command (all
    /// of the container's processes die with its PID 1) within ~50 ms and returns
    /// [`SandboxError::Cancelled`]. The library installs no signal handler; a binary maps
    /// its SIGINT/SIGTERM to this flag (e.g. `signal_hook::flag::register`).
    pub cancel: Option<Arc<AtomicBool>>,
    /// The bytes written to the command's stdin when `spec.stdin` is [`Stdio::Pipe`].
    pub stdin: Vec<u8>,
}

/// The result of a run whose command was executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// How the command ended.
    pub status: ExitStatus,
    /// In-root paths (e.g. `/proc`, `/etc/resolv.conf`) the sandbox created as mount points,
    /// parents first; pass them to [`crate::scrub_upper`] before turning the upper
    /// directory into a layer.
    pub created_mountpoints: Vec<String>,
}

/// Runs commands through a helper executable (see [`crate::maybe_run_helper`]).
#[derive(Debug, Clone)]
pub struct Sandbox {
    helper_exe: PathBuf,
}

impl Sandbox {
    /// A sandbox using `helper_exe` (a binary whose `main` starts with
    /// [`crate::maybe_run_helper`]).
    pub fn new(helper_exe: PathBuf) -> Sandbox {
        Sandbox { helper_exe }
    }

    /// A sandbox re-executing the current binary (`/proc/self/exe`).
    pub fn current_exe() -> Sandbox {
        Sandbox::new(PathBuf::from("/proc/self/exe"))
    }

    /// The helper executable.
    pub fn helper_exe(&self) -> &Path {
        &self.helper_exe
    }

    /// Runs `spec` with default options; see [`Sandbox::run_with`].
    pub fn run(
        &self,
        spec: &Spec,
        on_output: &mut dyn FnMut(OutputStream, &[u8]),
    ) -> Result<RunOutcome, SandboxError> {
        self.run_with(spec, &RunOptions::default(), on_output)
    }

    /// Runs `spec` and blocks until the command and its helper have ended. With
    /// `spec.output == Stdio::Pipe`, output chunks are passed to `on_output` as they come.
    ///
    /// The helper gets `PR_SET_PDEATHSIG(SIGKILL)` tied to the calling thread: keep the
    /// thread alive for the call (it is, since the call blocks). If this function returns
    /// early or unwinds, the helper and the command are killed.
    pub fn run_with(
        &self,
        spec: &Spec,
        opts: &RunOptions,
        on_output: &mut dyn FnMut(OutputStream, &[u8]),
    ) -> Result<RunOutcome, SandboxError> {
        self.run_inner(spec, opts, on_output, &mut |_| {})
    }

    /// [`Sandbox::run_with`], calling `on_started` with the host pid of the container's PID 1
    /// once the sandbox is set up (just before the command is executed).
    fn run_inner(
        &self,
        spec: &Spec,
        opts: &RunOptions,
        on_output: &mut dyn FnMut(OutputStream, &[u8]),
        on_started: &mut dyn FnMut(i32),
    ) -> Result<RunOutcome, SandboxError> {
        spec.validate()?;
        let json =
            serde_json::to_vec(spec).map_err(|e| SandboxError::InvalidSpec(e.to_string()))?;
        let spec_fd = high_fd(
            rustix::fs::memfd_create("plinth-sandbox-spec", MemfdFlags::CLOEXEC)
                .map_err(io("memfd_create"))?,
        )?;
        let mut spec_file = File::from(spec_fd);
        spec_file.write_all(&json).map_err(io("writing the spec"))?;
        spec_file.rewind().map_err(io("rewinding the spec"))?;
        let (report_r, report_w) =
            rustix::pipe::pipe_with(PipeFlags::CLOEXEC).map_err(io("pipe"))?;
        let report_w = high_fd(report_w)?;

        let mut cmd = Command::new(&self.helper_exe);
        let inherited = [spec_file.as_raw_fd(), report_w.as_raw_fd()];
        cmd.arg(HELPER_ARG)
            .args(inherited.iter().map(|fd| fd.to_string()))
            .env_clear()
            .stdin(stdio(spec.stdin))
            .stdout(stdio(spec.output))
            .stderr(stdio(spec.output));
        let parent = rustix::process::getpid();
        // SAFETY: the closure runs between fork and exec and only makes raw system calls
        // (fcntl, prctl, getppid) through rustix, which neither allocate nor lock; errors
        // are built from raw errno values, without allocation.
        unsafe {
            cmd.pre_exec(move || {
                for fd in inherited {
                    // SAFETY: `fd` is open in this forked child: it was open in the parent
                    // when the child was forked and std only closes fds after exec.
                    let fd = BorrowedFd::borrow_raw(fd);
                    rustix::io::fcntl_setfd(fd, FdFlags::empty())?;
                }
                rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
                if rustix::process::getppid() != Some(parent) {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|source| SandboxError::Spawn {
            path: self.helper_exe.clone(),
            source,
        })?;
        drop(report_w);
        drop(spec_file);
        let mut guard = Guard {
            child: Some(child),
            command: None,
        };
        let reader = guard.pump(opts, report_r, on_output, on_started)?;
        let status = guard.wait()?;
        outcome(reader, status)
    }
}

fn io<E: Into<std::io::Error>>(context: &'static str) -> impl Fn(E) -> SandboxError {
    move |e| SandboxError::Io {
        context,
        source: e.into(),
    }
}

fn stdio(s: Stdio) -> std::process::Stdio {
    match s {
        Stdio::Null => std::process::Stdio::null(),
        Stdio::Inherit => std::process::Stdio::inherit(),
        Stdio::Pipe => std::process::Stdio::piped(),
    }
}

/// Moves an fd to number 3 or above, so std's stdio setup in the child cannot clobber it.
fn high_fd(fd: OwnedFd) -> Result<OwnedFd, SandboxError> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    rustix::io::fcntl_dupfd_cloexec(&fd, 3).map_err(io("fcntl"))
}

/// Owns the helper; kills it (and the command) unless it was waited for.
struct Guard {
    child: Option<Child>,
    /// A pidfd of the container's PID 1, from the helper's report.
    command: Option<OwnedFd>,
}

impl Guard {
    fn kill(&mut self) {
        if let Some(cmd) = &self.command {
            let _ = rustix::process::pidfd_send_signal(cmd, Signal::KILL);
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn wait(&mut self) -> Result<std::process::ExitStatus, SandboxError> {
        match self.child.take() {
            Some(mut c) => c.wait().map_err(io("waiting for the helper")),
            None => Err(SandboxError::Cancelled),
        }
    }

    fn pump(
        &mut self,
        opts: &RunOptions,
        report: OwnedFd,
        on_output: &mut dyn FnMut(OutputStream, &[u8]),
        on_started: &mut dyn FnMut(i32),
    ) -> Result<ReportReader, SandboxError> {
        let Some(child) = self.child.as_mut() else {
            return Err(SandboxError::Cancelled);
        };
        let helper_pid = Pid::from_child(child);
        let pidfd = rustix::process::pidfd_open(helper_pid, PidfdFlags::empty()).ok();
        let mut stdout: Option<OwnedFd> = child.stdout.take().map(OwnedFd::from);
        let mut stderr: Option<OwnedFd> = child.stderr.take().map(OwnedFd::from);
        let mut stdin: Option<OwnedFd> = child.stdin.take().map(OwnedFd::from);
        if opts.stdin.is_empty() {
            stdin = None;
        }
        if let Some(fd) = &stdin {
            rustix::fs::fcntl_setfl(fd, OFlags::NONBLOCK).map_err(io("fcntl"))?;
        }
        let mut stdin_pos = 0;
        let mut report = Some(report);
        let mut reader = ReportReader::default();
        let mut exited = false;
        let mut command_pid = None;
        let mut buf = vec![0u8; 64 * 1024];
        let cancelled = || {
            opts.cancel
                .as_ref()
                .is_some_and(|c| c.load(Ordering::SeqCst))
        };
        loop {
            if cancelled() {
                self.kill();
                return Err(SandboxError::Cancelled);
            }
            if exited {
                stdin = None;
                if stdout.is_none() && stderr.is_none() && report.is_none() {
                    return Ok(reader);
                }
            }
            let ready: Vec<Slot> = {
                let candidates = [
                    (
                        Slot::Out(OutputStream::Stdout),
                        stdout.as_ref(),
                        PollFlags::IN,
                    ),
                    (
                        Slot::Out(OutputStream::Stderr),
                        stderr.as_ref(),
                        PollFlags::IN,
                    ),
                    (Slot::Report, report.as_ref(), PollFlags::IN),
                    (Slot::Stdin, stdin.as_ref(), PollFlags::OUT),
                    (
                        Slot::Exit,
                        pidfd.as_ref().filter(|_| !exited),
                        PollFlags::IN,
                    ),
                ];
                let mut slots = Vec::new();
                let mut pollfds = Vec::new();
                for (slot, fd, events) in candidates {
                    if let Some(fd) = fd {
                        slots.push(slot);
                        pollfds.push(PollFd::from_borrowed_fd(fd.as_fd(), events));
                    }
                }
                let timeout = (opts.cancel.is_some() || pidfd.is_none()).then_some(&CANCEL_POLL);
                match rustix::event::poll(&mut pollfds, timeout) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(io("poll")(e)),
                }
                let revents = pollfds.iter().map(PollFd::revents);
                slots
                    .into_iter()
                    .zip(revents)
                    .filter(|(_, r)| !r.is_empty())
                    .map(|(s, _)| s)
                    .collect()
            };
            for slot in ready {
                match slot {
                    Slot::Out(stream) => {
                        let fd = match stream {
                            OutputStream::Stdout => &mut stdout,
                            OutputStream::Stderr => &mut stderr,
                        };
                        let n = read_some(fd, &mut buf);
                        if n > 0 {
                            on_output(stream, &buf[..n]);
                        }
                    }
                    Slot::Report => {
                        let n = read_some(&mut report, &mut buf);
                        let before = reader.messages.len();
                        reader.push(&buf[..n]);
                        for m in &reader.messages[before..] {
                            match m {
                                Message::ChildPid(pid) => {
                                    command_pid = Some(*pid);
                                    self.command = Pid::from_raw(*pid).and_then(|p| {
                                        rustix::process::pidfd_open(p, PidfdFlags::empty()).ok()
                                    });
                                }
                                Message::Created(_) => {
                                    if let Some(pid) = command_pid {
                                        on_started(pid);
                                    }
                                }
                                Message::Failed { .. } | Message::Exit(_) => {}
                            }
                        }
                    }
                    Slot::Stdin => {
                        let Some(fd) = stdin.as_ref() else { continue };
                        match rustix::io::write(fd, &opts.stdin[stdin_pos..]) {
                            Ok(n) => stdin_pos += n,
                            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                            // The command closed its stdin: stop feeding it.
                            Err(_) => stdin_pos = opts.stdin.len(),
                        }
                        if stdin_pos >= opts.stdin.len() {
                            stdin = None;
                        }
                    }
                    Slot::Exit => exited = true,
                }
            }
            if pidfd.is_none() && !exited {
                let child = self.child.as_mut().ok_or(SandboxError::Cancelled)?;
                exited = child
                    .try_wait()
                    .map_err(io("waiting for the helper"))?
                    .is_some();
            }
        }
    }
}

/// What a polled fd is.
#[derive(Clone, Copy)]
enum Slot {
    Out(OutputStream),
    Report,
    Stdin,
    /// The helper's pidfd.
    Exit,
}

/// Reads what is available; at end of file or on an error, closes `fd` and returns 0.
fn read_some(fd: &mut Option<OwnedFd>, buf: &mut [u8]) -> usize {
    let Some(f) = fd.as_ref() else { return 0 };
    match rustix::io::read(f, buf) {
        Ok(n) if n > 0 => n,
        Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => 0,
        _ => {
            *fd = None;
            0
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill();
    }
}

fn outcome(
    reader: ReportReader,
    helper: std::process::ExitStatus,
) -> Result<RunOutcome, SandboxError> {
    let mut created = Vec::new();
    let mut exit = None;
    for m in reader.messages {
        match m {
            Message::ChildPid(_) => {}
            Message::Created(c) => created = c,
            Message::Failed {
                kind: FailureKind::Setup,
                message,
            } => {
                return Err(SandboxError::Setup { message });
            }
            Message::Failed {
                kind: FailureKind::Exec(kind),
                message,
            } => {
                return Err(SandboxError::Exec { kind, message });
            }
            Message::Exit(s) => exit = Some(s),
        }
    }
    match exit {
        Some(status) => Ok(RunOutcome {
            status,
            created_mountpoints: created,
        }),
        None => {
            let mut status = helper.to_string();
            if !reader.garbage.is_empty() {
                status.push_str(&format!(
                    "; unreadable report: {}",
                    reader.garbage.join(" | ")
                ));
            }
            Err(SandboxError::HelperDied { status })
        }
    }
}

/// Output kept per stream by a [`Running`] container; later bytes are dropped.
const CAPTURE_LIMIT: usize = 64 * 1024 * 1024;

/// What a background run shares with its handle.
#[derive(Default)]
struct Shared {
    stdout: std::sync::Mutex<Vec<u8>>,
    stderr: std::sync::Mutex<Vec<u8>>,
    /// `Some` once the run has ended: the command's status, or the sandbox error's message.
    done: std::sync::Mutex<Option<Result<ExitStatus, String>>>,
    ended: std::sync::Condvar,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A command started in the background by [`Sandbox::start`]; its output is captured
/// (`spec.output` is forced to [`Stdio::Pipe`]). Dropping it kills the container.
pub struct Running {
    pid: i32,
    pidfd: Option<OwnedFd>,
    cancel: Arc<AtomicBool>,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("pid", &self.pid).finish()
    }
}

impl Sandbox {
    /// Starts `spec` on a thread of its own and returns once the sandbox is set up and the
    /// command is about to be executed, with the host pid of the container's PID 1. Output
    /// is captured ([`Running::output`]); `opts.stdin` is fed as by [`Sandbox::run_with`];
    /// `opts.cancel` is not used (stop the command with [`Running::kill`]). A setup failure
    /// is returned as the error.
    pub fn start(&self, spec: &Spec, opts: &RunOptions) -> Result<Running, SandboxError> {
        let mut spec = spec.clone();
        spec.output = Stdio::Pipe;
        spec.validate()?;
        let cancel = Arc::new(AtomicBool::new(false));
        let mut opts = opts.clone();
        opts.cancel = Some(cancel.clone());
        let shared = Arc::new(Shared::default());
        let (tx, rx) = std::sync::mpsc::channel::<i32>();
        let sandbox = self.clone();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("plinth-sandbox".into())
            .spawn(move || {
                let sh = thread_shared;
                let mut on_output = |stream: OutputStream, bytes: &[u8]| {
                    let mut buf = match stream {
                        OutputStream::Stdout => lock(&sh.stdout),
                        OutputStream::Stderr => lock(&sh.stderr),
                    };
                    let room = CAPTURE_LIMIT.saturating_sub(buf.len());
                    buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
                };
                let result = sandbox.run_inner(&spec, &opts, &mut on_output, &mut |pid| {
                    let _ = tx.send(pid);
                });
                drop(tx);
                *lock(&sh.done) = Some(result.map(|o| o.status).map_err(|e| e.to_string()));
                sh.ended.notify_all();
            })
            .map_err(io("starting the sandbox thread"))?;
        match rx.recv() {
            Ok(pid) => {
                let pidfd = Pid::from_raw(pid)
                    .and_then(|p| rustix::process::pidfd_open(p, PidfdFlags::empty()).ok());
                Ok(Running {
                    pid,
                    pidfd,
                    cancel,
                    shared,
                    thread: Some(thread),
                })
            }
            Err(_) => {
                let _ = thread.join();
                let done = lock(&shared.done).take();
                match done {
                    Some(Err(message)) => Err(SandboxError::Setup { message }),
                    Some(Ok(status)) => Err(SandboxError::Setup {
                        message: format!("the sandbox ended ({status}) before the command started"),
                    }),
                    None => Err(SandboxError::Cancelled),
                }
            }
        }
    }
}

impl Running {
    /// The host pid of the container's PID 1 (the command).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends signal `sig` to the container's PID 1, as `docker kill --signal` does (PID 1
    /// of a PID namespace only gets the signals it handles, besides SIGKILL).
    pub fn signal(&self, sig: i32) -> Result<(), SandboxError> {
        let signal = Signal::from_named_raw(sig)
            .ok_or_else(|| SandboxError::InvalidSpec(format!("{sig} is not a signal number")))?;
        match &self.pidfd {
            Some(fd) => rustix::process::pidfd_send_signal(fd, signal)
                .map_err(io("sending a signal to the container")),
            None => Err(SandboxError::Cancelled),
        }
    }

    /// Waits up to `timeout` for the run to end: `Some` with the command's status, or the
    /// sandbox error's message (for example an exec failure); `None` while it still runs.
    pub fn wait(&self, timeout: std::time::Duration) -> Option<Result<ExitStatus, String>> {
        let done = lock(&self.shared.done);
        let (done, _) = self
            .shared
            .ended
            .wait_timeout_while(done, timeout, |d| d.is_none())
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        done.clone()
    }

    /// Kills the container (all its processes die with PID 1) and waits for the run to end;
    /// [`Running::wait`] then reports the kill (signal 9) unless the run had ended before.
    pub fn kill(&mut self) {
        if let Some(fd) = &self.pidfd {
            let _ = rustix::process::pidfd_send_signal(fd, Signal::KILL);
        }
        if self.wait(std::time::Duration::from_secs(2)).is_none() {
            self.cancel.store(true, Ordering::SeqCst);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// The output captured so far: (stdout, stderr).
    pub fn output(&self) -> (Vec<u8>, Vec<u8>) {
        (
            lock(&self.shared.stdout).clone(),
            lock(&self.shared.stderr).clone(),
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}
