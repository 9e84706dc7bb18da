//! The helper process (`<exe> __plinth-sandbox <spec-fd> <report-fd>`), started fresh and
//! single-threaded by the host side: reads the [`Spec`], unshares the namespaces, makes all
//! mounts private, forks PID 1 of the new PID namespace ([`crate::child`]) and supervises
//! it — forwarding signals, reaping it and reporting its status.

use std::ffi::OsString;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::io::FdFlags;
use rustix::mount::MountPropagationFlags;
use rustix::pipe::PipeFlags;
use rustix::process::{Pid, WaitOptions};
use rustix::thread::UnshareFlags;

use crate::child;
use crate::protocol::{ExitStatus, FailureKind, Message};
use crate::spec::{Network, Spec};
use crate::sys;

/// Runs the helper with its full argv; returns the process exit code.
pub(crate) fn main(args: &[OsString]) -> i32 {
    let fd = |i: usize| {
        args.get(i)
            .and_then(|a| a.to_str())
            .and_then(|s| s.parse::<i32>().ok())
    };
    let (Some(spec_fd), Some(report_fd)) = (fd(2), fd(3)) else {
        return 125;
    };
    let Ok(report) = sys::adopt_fd(report_fd) else {
        return 125;
    };
    // The command must not inherit the report pipe: only the helper and PID 1 (until
    // execve) hold it, so the host sees EOF exactly when both are done.
    if rustix::io::fcntl_setfd(&report, FdFlags::CLOEXEC).is_err() {
        return 125;
    }
    match supervise(spec_fd, &report) {
        Ok(status) => status.shell_code(),
        Err(message) => {
            child::send(
                &report,
                &Message::Failed {
                    kind: FailureKind::Setup,
                    message,
                },
            );
            125
        }
    }
}

fn read_spec(spec_fd: i32) -> Result<Spec, String> {
    let fd = sys::adopt_fd(spec_fd).map_err(|e| format!("spec fd {spec_fd}: {e}"))?;
    let mut json = Vec::new();
    std::fs::File::from(fd)
        .read_to_end(&mut json)
        .map_err(|e| format!("reading the spec: {e}"))?;
    let spec: Spec = serde_json::from_slice(&json).map_err(|e| format!("parsing the spec: {e}"))?;
    spec.validate().map_err(|e| e.to_string())?;
    Ok(spec)
}

fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

fn supervise(spec_fd: i32, report: &OwnedFd) -> Result<ExitStatus, String> {
    let spec = read_spec(spec_fd)?;
    if let Some(n) = thread_count().filter(|&n| n != 1) {
        return Err(format!(
            "the sandbox helper must be single-threaded but has {n} threads \
             (call maybe_run_helper() first thing in main)"
        ));
    }
    let mut flags =
        UnshareFlags::NEWNS | UnshareFlags::NEWIPC | UnshareFlags::NEWUTS | UnshareFlags::NEWPID;
    if spec.network == Network::None {
        flags |= UnshareFlags::NEWNET;
    }
    // SAFETY: the process is single-threaded (checked above) and CLONE_FILES is not among
    // the flags, so no thread can observe a changed fd table.
    unsafe { rustix::thread::unshare_unsafe(flags) }.map_err(|e| format!("unshare: {e}"))?;
    rustix::mount::mount_change(
        "/",
        MountPropagationFlags::REC | MountPropagationFlags::PRIVATE,
    )
    .map_err(|e| format!("making mounts private: {e}"))?;

    let mut waited: Vec<libc::c_int> = sys::FORWARDED.to_vec();
    waited.push(libc::SIGCHLD);
    let old_mask = sys::block_signals(&waited).map_err(|e| format!("sigprocmask: {e}"))?;
    let (life_r, life_w) =
        rustix::pipe::pipe_with(PipeFlags::CLOEXEC).map_err(|e| format!("pipe: {e}"))?;

    // SAFETY: single-threaded (checked above); the child only runs `child::run`, which
    // never returns and ends with execve or _exit.
    match unsafe { sys::fork() }.map_err(|e| format!("fork: {e}"))? {
        sys::Forked::Child => {
            drop(life_w);
            child::run(&spec, report, life_r, &old_mask)
        }
        sys::Forked::Parent(pid) => {
            drop(life_r);
            child::send(report, &Message::ChildPid(pid));
            let status = reap(pid, &waited);
            child::send(report, &Message::Exit(status));
            drop(life_w);
            Ok(status)
        }
    }
}

/// Forwards the blocked signals to `pid` until it ends; returns how it ended.
fn reap(pid: libc::pid_t, waited: &[libc::c_int]) -> ExitStatus {
    let Some(child) = Pid::from_raw(pid) else {
        return ExitStatus::Code(125);
    };
    loop {
        match rustix::process::waitpid(Some(child), WaitOptions::NOHANG) {
            Ok(Some((_, st))) => {
                if let Some(sig) = st.terminating_signal() {
                    return ExitStatus::Signal(sig);
                }
                if let Some(code) = st.exit_status() {
                    return ExitStatus::Code(code);
                }
            }
            Ok(None) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => return ExitStatus::Code(125),
        }
        match sys::wait_signal(waited, Duration::from_secs(1)) {
            Some(libc::SIGCHLD) | None => {}
            Some(sig) => sys::kill(pid, sig),
        }
    }
}
