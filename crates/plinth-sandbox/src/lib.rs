//! Runs one command in an isolated root filesystem: Dockerfile `RUN` steps and `plinth run`.
//!
//! # Process model
//! Namespaces, mounts and `pivot_root` need a single-threaded process, and `plinth` is not
//! one. [`Sandbox::run`] therefore re-executes a helper binary (`plinth` itself through
//! `/proc/self/exe`, or `plinth-sandbox-helper` in tests) as
//! `<exe> __plinth-sandbox <spec-fd> <report-fd>`; that binary calls [`maybe_run_helper`]
//! first thing in `main`. The JSON [`Spec`] is read from a memfd; a pipe carries JSON-line
//! reports back (the container's PID 1 host pid, the mount points it created, a setup or
//! exec failure with its message, and the command's exit status).
//!
//! The helper unshares mount, IPC, UTS, PID (and network for [`Network::None`]) namespaces,
//! makes every mount private and forks. The child is PID 1 of the new PID namespace: it
//! mounts the overlay root (see `overlay` for long layer lists), `/proc`, a minimal `/dev`,
//! a read-only `/sys`, `/etc/resolv.conf` and `/etc/hosts`, the spec's extra mounts, sets
//! the hostname and brings `lo` up, pivots into the root, applies Docker's default
//! capabilities, switches groups/gid/uid and executes `args[0]` (looked up in the spec's
//! `PATH`). The helper forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and
//! SIGWINCH, reaps the command and exits with its code (or 128 + signal).
//!
//! # Lifetime
//! All mounts live in the private mount namespace, so nothing is ever left mounted on the
//! host. The helper has `PR_SET_PDEATHSIG(SIGKILL)` towards the thread calling `run`, and
//! PID 1 towards the helper (set again after the uid switch, which clears it); when PID 1
//! dies the kernel kills every other process of its PID namespace. Cancellation is a flag
//! polled by `run` ([`RunOptions::cancel`]), and dropping out of `run` kills everything.
//!
//! # Layers
//! Mount points missing from the image are created inside the overlay and so appear in the
//! upper directory; they are reported in [`RunOutcome::created_mountpoints`] and
//! [`scrub_upper`] removes those still untouched.

mod child;
mod error;
mod helper;
mod host;
mod lookup;
mod overlay;
mod protocol;
mod rootfs;
mod scrub;
mod spec;
mod sys;

pub use error::{ExecFailure, SandboxError};
pub use host::{HELPER_ARG, OutputStream, RunOptions, RunOutcome, Running, Sandbox};
pub use protocol::ExitStatus;
pub use scrub::scrub_upper;
pub use spec::{Mount, MountKind, Network, Security, Spec, Stdio};

/// If this process was started as the sandbox helper (first argument
/// [`HELPER_ARG`]), runs the helper and exits with the command's status (its exit code,
/// 128 + signal, or 125 for a sandbox failure, 126/127 when the command cannot be
/// executed); otherwise returns at once. Call it first thing in `main`, before any thread
/// is started.
pub fn maybe_run_helper() {
    if std::env::args_os().nth(1).as_deref() != Some(std::ffi::OsStr::new(HELPER_ARG)) {
        return;
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    std::process::exit(helper::main(&args));
}
