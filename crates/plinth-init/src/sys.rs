//! The raw system calls PID 1 needs that std does not offer: the signal mask, waiting for
//! signals, reaping any child, signalling process groups, the child-subreaper flag and the
//! terminal's foreground group. Each is a safe function over one `libc` call.

use std::io;
use std::time::Duration;

/// The signals plinth-init forwards to the service.
pub const FORWARDED: [libc::c_int; 7] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// A set of signals.
#[derive(Clone, Copy)]
pub struct SigSet(libc::sigset_t);

impl SigSet {
    /// The set of `signals`.
    pub fn of(signals: &[libc::c_int]) -> SigSet {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it before any use.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid, exclusively borrowed sigset_t.
        unsafe { libc::sigemptyset(&mut set) };
        for &s in signals {
            // SAFETY: as above; an invalid signal number only makes sigaddset return -1.
            unsafe { libc::sigaddset(&mut set, s) };
        }
        SigSet(set)
    }
}

/// Blocks `set` for the calling thread (and the threads it starts later); returns the old mask.
pub fn block(set: &SigSet) -> io::Result<SigSet> {
    // SAFETY: sigset_t is plain data, filled by pthread_sigmask below.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set.0, &mut old) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(SigSet(old))
}

/// Sets the calling thread's signal mask to `set`.
pub fn set_mask(set: &SigSet) -> io::Result<()> {
    // SAFETY: a valid sigset_t pointer; the old mask is not asked for.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &set.0, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Waits up to `timeout` for one of the (blocked) signals in `set`; `None` on timeout.
pub fn wait_signal(set: &SigSet, timeout: Duration) -> io::Result<Option<libc::c_int>> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: siginfo_t is plain data that sigtimedwait fills.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: all three pointers are valid for the duration of the call.
    let rc = unsafe { libc::sigtimedwait(&set.0, &mut info, &ts) };
    if rc >= 0 {
        return Ok(Some(rc));
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
        _ => Err(e),
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// `exit(code)`.
    Exited(i32),
    /// Killed by a signal.
    Signaled(i32),
}

impl Ended {
    /// The shell convention: the code, or 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            Ended::Exited(c) => c,
            Ended::Signaled(s) => 128 + s,
        }
    }

    /// True for `exit(0)`.
    pub fn success(self) -> bool {
        self == Ended::Exited(0)
    }
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Exited(c) => write!(f, "exited with {c}"),
            Ended::Signaled(s) => write!(f, "was killed by signal {s} ({})", signal_name(*s)),
        }
    }
}

/// Reaps one ended child, any child, without blocking; `None` when none has ended (or there
/// are no children).
pub fn reap_any() -> Option<(libc::pid_t, Ended)> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: `status` is a valid out pointer; WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            let ended = if libc::WIFSIGNALED(status) {
                Ended::Signaled(libc::WTERMSIG(status))
            } else if libc::WIFEXITED(status) {
                Ended::Exited(libc::WEXITSTATUS(status))
            } else {
                // Stopped/continued are not reported without WUNTRACED/WCONTINUED.
                continue;
            };
            return Some((pid, ended));
        }
        if pid < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return None;
    }
}

/// Sends `sig` to process `pid`; a process that is gone is not an error.
pub fn kill(pid: libc::pid_t, sig: libc::c_int) {
    if pid > 0 {
        // SAFETY: kill has no memory effects; pid > 0 names one process.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Sends `sig` to every process of group `pgid`; falls back to the process itself when the
/// group does not exist (yet).
pub fn kill_group(pgid: libc::pid_t, sig: libc::c_int) {
    if pgid > 0 {
        // SAFETY: kill has no memory effects; -pgid names one process group.
        let rc = unsafe { libc::kill(-pgid, sig) };
        if rc != 0 {
            kill(pgid, sig);
        }
    }
}

/// Sends `sig` to every process this process may signal (all of the PID namespace when PID 1),
/// except itself.
pub fn kill_all(sig: libc::c_int) {
    // SAFETY: kill has no memory effects.
    unsafe { libc::kill(-1, sig) };
}

/// This process's pid.
pub fn getpid() -> libc::pid_t {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

/// Makes this process the reaper of its orphaned descendants (for when it is not PID 1).
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes one integer argument.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Ignores SIGTTIN and SIGTTOU in this process (as a shell does), so PID 1 can hand the
/// terminal to the service's process group.
pub fn ignore_tty_signals() {
    for s in [libc::SIGTTIN, libc::SIGTTOU] {
        // SAFETY: installing SIG_IGN has no memory effects.
        unsafe { libc::signal(s, libc::SIG_IGN) };
    }
}

/// In a freshly forked child, before exec: when stdin is a terminal, makes the child's process
/// group the terminal's foreground group; restores the default disposition of SIGTTIN and
/// SIGTTOU and an empty signal mask (both survive exec, and PID 1 blocks the signals it
/// forwards). Only async-signal-safe calls.
pub fn child_setup() -> io::Result<()> {
    // SAFETY: isatty, getpgrp and tcsetpgrp are async-signal-safe and take plain integers.
    unsafe {
        if libc::isatty(0) == 1 {
            // SIGTTOU is still ignored here, so tcsetpgrp from a background group succeeds.
            libc::tcsetpgrp(0, libc::getpgrp());
        }
        libc::signal(libc::SIGTTIN, libc::SIG_DFL);
        libc::signal(libc::SIGTTOU, libc::SIG_DFL);
    }
    set_mask(&SigSet::of(&[]))
}

/// Puts `pid` in its own process group from the parent's side too (closes the race with the
/// child's own setpgid before exec); errors are expected when the child already exec'd.
pub fn set_process_group(pid: libc::pid_t) {
    // SAFETY: setpgid has no memory effects.
    unsafe { libc::setpgid(pid, pid) };
}

/// The conventional name of a signal, for messages.
pub fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGWINCH => "SIGWINCH",
        libc::SIGABRT => "SIGABRT",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ended_codes_follow_the_shell_convention() {
        assert_eq!(Ended::Exited(3).code(), 3);
        assert_eq!(Ended::Signaled(libc::SIGKILL).code(), 137);
        assert!(Ended::Exited(0).success());
        assert!(!Ended::Signaled(15).success());
        assert_eq!(
            Ended::Signaled(15).to_string(),
            "was killed by signal 15 (SIGTERM)"
        );
    }

    #[test]
    fn a_blocked_signal_is_waited_for_not_delivered() {
        // Tests run on several threads; a blocked SIGUSR2 sent to this thread only.
        let set = SigSet::of(&[libc::SIGUSR2]);
        let old = block(&set).expect("block");
        // SAFETY: pthread_kill to the calling thread with a blocked signal.
        unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGUSR2) };
        let got = wait_signal(&set, Duration::from_secs(2)).expect("wait");
        set_mask(&old).expect("restore");
        assert_eq!(got, Some(libc::SIGUSR2));
        let none = wait_signal(&set, Duration::from_millis(10)).expect("wait");
        assert_eq!(none, None);
    }
}
