//! The few system calls rustix does not wrap (or wraps only behind its `runtime` feature):
//! fork/execve/_exit, signal masks, `mount_setattr`, the loopback ioctl, the capability
//! bounding set and `close_range`. Most of the crate's unsafe code lives here; the other
//! blocks are the `unshare`/`fork` calls in `helper` and the `pre_exec` hook in `host`.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::time::Duration;

/// The signals the helper forwards to the command.
pub(crate) const FORWARDED: [libc::c_int; 7] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Takes ownership of an fd inherited from the host (`fd` comes from the helper's argv).
/// Refuses the standard streams and fds that are not open.
pub(crate) fn adopt_fd(fd: RawFd) -> io::Result<OwnedFd> {
    if fd < 3 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: F_GETFD on any integer is harmless; it tells whether the fd is open.
    check(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: the fd is open (checked above) and nothing else in this freshly started
    // single-threaded helper owns it: the host passed it for us alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub(crate) enum Forked {
    Child,
    Parent(libc::pid_t),
}

/// `fork()`.
///
/// # Safety
/// The process must be single-threaded, so the child does not inherit locks held by
/// other threads.
pub(crate) unsafe fn fork() -> io::Result<Forked> {
    // SAFETY: the caller guarantees a single-threaded process.
    let pid = check(unsafe { libc::fork() })?;
    Ok(if pid == 0 {
        Forked::Child
    } else {
        Forked::Parent(pid)
    })
}

/// `_exit(code)`: ends the process without running destructors or atexit handlers (what a
/// forked child must do).
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no Rust state.
    unsafe { libc::_exit(code) }
}

/// `execve(path, argv, envp)`; returns only on failure.
pub(crate) fn execve(path: &CStr, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(ptr::null());
    // SAFETY: path and every argv/envp string are NUL-terminated CStrings that outlive the
    // call, and both arrays are NULL-terminated.
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    io::Error::last_os_error()
}

fn sigset(signals: &[libc::c_int]) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initializes it before use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t; valid signal numbers.
    unsafe {
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
    }
    set
}

/// Blocks `signals` in the calling (only) thread; returns the previous mask.
pub(crate) fn block_signals(signals: &[libc::c_int]) -> io::Result<libc::sigset_t> {
    let set = sigset(signals);
    // SAFETY: sigset_t is plain data; sigprocmask fills it.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to initialized sigset_t values.
    check(unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old) })?;
    Ok(old)
}

/// Restores a mask returned by [`block_signals`].
pub(crate) fn set_signal_mask(mask: &libc::sigset_t) -> io::Result<()> {
    // SAFETY: valid pointer to an initialized sigset_t; a null old-mask pointer is allowed.
    check(unsafe { libc::sigprocmask(libc::SIG_SETMASK, mask, ptr::null_mut()) }).map(drop)
}

/// Waits up to `timeout` for one of the (blocked) `signals`; `None` on timeout or EINTR.
pub(crate) fn wait_signal(signals: &[libc::c_int], timeout: Duration) -> Option<libc::c_int> {
    let set = sigset(signals);
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: valid set and timespec; a null siginfo pointer is allowed.
    let r = unsafe { libc::sigtimedwait(&set, ptr::null_mut(), &ts) };
    (r > 0).then_some(r)
}

/// Resets every catchable signal to its default action (ignored dispositions, like Rust's
/// SIGPIPE, survive execve otherwise).
pub(crate) fn reset_signal_dispositions() {
    for sig in 1..libc::SIGRTMIN() {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: SIG_DFL is always a valid disposition; invalid numbers just fail.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
}

/// `kill(pid, sig)`, ignoring a process that is already gone.
pub(crate) fn kill(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: kill has no memory effects; pid is a child of ours.
    unsafe { libc::kill(pid, sig) };
}

/// `mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], {set, clr})` (Linux 5.12).
pub(crate) fn mount_setattr(
    fd: impl AsFd,
    recursive: Recursive,
    attr_set: u64,
    attr_clr: u64,
) -> io::Result<()> {
    let mut attr = libc::mount_attr {
        attr_set,
        attr_clr,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = libc::AT_EMPTY_PATH
        | match recursive {
            Recursive::Yes => libc::AT_RECURSIVE,
            Recursive::No => 0,
        };
    // SAFETY: a valid fd, a NUL-terminated empty path and a mount_attr of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_fd().as_raw_fd(),
            c"".as_ptr(),
            flags as libc::c_uint,
            &mut attr as *mut libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Whether an operation applies to the whole mount tree.
#[derive(Clone, Copy)]
pub(crate) enum Recursive {
    Yes,
    No,
}

/// Sets IFF_UP on the loopback interface of the current network namespace.
pub(crate) fn loopback_up() -> io::Result<()> {
    // SAFETY: plain socket(2) call; the result is checked and owned below.
    let raw =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `raw` is a fresh fd owned by nobody else.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain data (a name and a union of integers/addresses).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `req` is a valid ifreq with a NUL-terminated name; SIOCGIFFLAGS fills the flags.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: SIOCGIFFLAGS initialized the `ifru_flags` member of the union.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: same valid ifreq, now with the flags to set.
    check(unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) }).map(drop)
}

/// `prctl(PR_CAPBSET_DROP, cap)`; EINVAL (a capability this kernel does not know) is fine.
pub(crate) fn drop_bounding_cap(cap: u32) -> io::Result<()> {
    // SAFETY: PR_CAPBSET_DROP takes an integer argument and has no memory effects.
    let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
    match check(r) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        other => other.map(drop),
    }
}

/// Marks every fd from `first` up as close-on-exec (Linux 5.11).
pub(crate) fn cloexec_from(first: u32) -> io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags.
    check(unsafe { libc::close_range(first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int) })
        .map(drop)
}
