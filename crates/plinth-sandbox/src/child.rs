//! PID 1 of the new PID namespace, before it becomes the command: mounts the root
//! filesystem, `/proc`, `/dev`, `/sys`, the `/etc` files and the extra mounts, sets the
//! hostname and loopback, pivots into the root, switches user and executes the command.
//! Every failure is reported on the report pipe before exiting.

use std::convert::Infallible;
use std::ffi::CString;
use std::fmt::Display;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{self as rfs, CWD, Mode, OFlags};
use rustix::mount::{
    MountFlags, MoveMountFlags, OpenTreeFlags, UnmountFlags, move_mount, open_tree,
};
use rustix::process::Signal;
use rustix::thread::{CapabilitySet, CapabilitySets, Gid, Uid};

use crate::error::ExecFailure;
use crate::lookup;
use crate::overlay;
use crate::protocol::{FailureKind, Message};
use crate::rootfs::{Kind, Root, fd_path};
use crate::spec::{MountKind, Network, Security, Spec};
use crate::sys::{self, Recursive};

/// Docker's default capability set (moby `oci/caps/defaults.go`).
const DEFAULT_CAPS: u64 = (1 << 0) // CHOWN
    | (1 << 1) // DAC_OVERRIDE
    | (1 << 3) // FOWNER
    | (1 << 4) // FSETID
    | (1 << 5) // KILL
    | (1 << 6) // SETGID
    | (1 << 7) // SETUID
    | (1 << 8) // SETPCAP
    | (1 << 10) // NET_BIND_SERVICE
    | (1 << 13) // NET_RAW
    | (1 << 18) // SYS_CHROOT
    | (1 << 27) // MKNOD
    | (1 << 29) // AUDIT_WRITE
    | (1 << 31); // SETFCAP

/// Docker's read-only paths under /proc.
const READONLY_PROC: [&str; 5] = ["bus", "fs", "irq", "sys", "sysrq-trigger"];
/// Docker's masked paths under /proc (files get /dev/null, directories an empty tmpfs).
const MASKED_PROC: [&str; 10] = [
    "acpi",
    "asound",
    "interrupts",
    "kcore",
    "keys",
    "latency_stats",
    "timer_list",
    "timer_stats",
    "sched_debug",
    "scsi",
];
/// Docker's masked paths under /sys.
const MASKED_SYS: [&str; 2] = ["firmware", "devices/virtual/powercap"];

/// Why PID 1 gave up.
pub(crate) struct Failure {
    pub(crate) kind: FailureKind,
    pub(crate) message: String,
}

fn setup_failure(message: String) -> Failure {
    Failure {
        kind: FailureKind::Setup,
        message,
    }
}

/// `map_err` helper: "what: error".
fn ctx<E: Display>(what: impl Display) -> impl FnOnce(E) -> Failure {
    move |e| setup_failure(format!("{what}: {e}"))
}

/// Writes one message on the report pipe (best effort: the host may be gone).
pub(crate) fn send(report: &impl AsFd, msg: &Message) {
    let line = msg.to_line();
    let mut rest = &line[..];
    while !rest.is_empty() {
        match rustix::io::write(report, rest) {
            Ok(n) if n > 0 => rest = &rest[n..],
            Err(rustix::io::Errno::INTR) => {}
            _ => return,
        }
    }
}

/// Exits at once if the helper (our parent) is already gone: PR_SET_PDEATHSIG only covers
/// deaths after it was set. The helper holds the write end of `lifeline` until it exits.
fn exit_if_orphaned(lifeline: &OwnedFd) {
    let mut fds = [rustix::event::PollFd::new(
        lifeline,
        rustix::event::PollFlags::IN,
    )];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    if rustix::event::poll(&mut fds, Some(&zero)).is_ok() && !fds[0].revents().is_empty() {
        sys::exit_now(125);
    }
}

fn die_with_parent(lifeline: &OwnedFd) -> Result<(), Failure> {
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))
        .map_err(ctx("PR_SET_PDEATHSIG"))?;
    exit_if_orphaned(lifeline);
    Ok(())
}

/// Sets up the container and executes the command; never returns.
pub(crate) fn run(spec: &Spec, report: &OwnedFd, lifeline: OwnedFd, mask: &libc::sigset_t) -> ! {
    let mut created = Vec::new();
    let Err(failure) = prepare_and_exec(spec, report, &lifeline, mask, &mut created);
    send(report, &Message::Created(created));
    let code = match failure.kind {
        FailureKind::Setup => 125,
        FailureKind::Exec(e) => e.exit_code(),
    };
    send(
        report,
        &Message::Failed {
            kind: failure.kind,
            message: failure.message,
        },
    );
    sys::exit_now(code)
}

fn prepare_and_exec(
    spec: &Spec,
    report: &OwnedFd,
    lifeline: &OwnedFd,
    mask: &libc::sigset_t,
    created: &mut Vec<String>,
) -> Result<Infallible, Failure> {
    die_with_parent(lifeline)?;
    let rootfs = spec.rootfs.as_path();

    // A small private tmpfs under the root mount: an empty lower layer when there is none,
    // and the generated /etc/hosts. It stays hidden below the root and is never on the host.
    rustix::mount::mount(
        "tmpfs",
        rootfs,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        c"mode=0755,size=65536",
    )
    .map_err(ctx(format_args!(
        "mounting a scratch tmpfs at {}",
        rootfs.display()
    )))?;
    let scratch = rfs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(ctx("opening the scratch tmpfs"))?;
    rfs::mkdirat(&scratch, "empty", Mode::from_raw_mode(0o755)).map_err(ctx("scratch mkdir"))?;
    let generated_hosts = match spec.network {
        Network::Host => None,
        Network::None => Some(scratch_file(&scratch, "hosts", HOSTS_NONE)?),
    };

    mount_root(spec, &rootfs.join("empty"))?;
    let root =
        Root::open(rootfs).map_err(ctx(format_args!("opening the root {}", rootfs.display())))?;
    mount_proc(&root, spec.security, created)?;
    mount_dev(&root, created)?;
    mount_sys(&root, spec.security, created)?;
    mount_etc(&root, generated_hosts, created)?;
    for m in &spec.mounts {
        mount_extra(&root, &m.kind, &m.target, created)?;
    }
    drop(root);
    drop(scratch);

    rustix::system::sethostname(spec.hostname.as_bytes()).map_err(ctx("sethostname"))?;
    if spec.network == Network::None {
        sys::loopback_up().map_err(ctx("bringing up the loopback interface"))?;
    }
    pivot(rootfs)?;
    rustix::process::chdir(spec.cwd.as_str()).map_err(|e| {
        setup_failure(format!(
            "cannot change to the working directory {:?}: {e}",
            spec.cwd
        ))
    })?;
    switch_user(spec)?;
    die_with_parent(lifeline)?;

    let program = lookup::lookup(&spec.args[0], &spec.env).map_err(|(kind, message)| Failure {
        kind: FailureKind::Exec(kind),
        message,
    })?;
    let cstrings = |v: &[String]| -> Result<Vec<CString>, Failure> {
        v.iter()
            .map(|s| CString::new(s.as_bytes()).map_err(ctx(format_args!("{s:?}"))))
            .collect()
    };
    let argv = cstrings(&spec.args)?;
    let envp = cstrings(&spec.env)?;
    let path = CString::new(program.as_os_str().as_encoded_bytes())
        .map_err(ctx(format_args!("{program:?}")))?;

    send(report, &Message::Created(created.clone()));
    sys::cloexec_from(3).map_err(ctx("close_range"))?;
    sys::reset_signal_dispositions();
    sys::set_signal_mask(mask).map_err(ctx("sigprocmask"))?;
    let err = sys::execve(&path, &argv, &envp);
    let kind = match err.raw_os_error() {
        Some(libc::ENOENT) => ExecFailure::NotFound,
        Some(libc::EACCES) => ExecFailure::PermissionDenied,
        _ => ExecFailure::Other,
    };
    let shown = if program.as_os_str() == spec.args[0].as_str() {
        format!("exec: {:?}", spec.args[0])
    } else {
        format!("exec: {:?} ({})", spec.args[0], program.display())
    };
    Err(Failure {
        kind: FailureKind::Exec(kind),
        message: format!("{shown}: {err}"),
    })
}

const HOSTS_NONE: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";

fn scratch_file(dir: &OwnedFd, name: &str, content: &str) -> Result<OwnedFd, Failure> {
    let fd = rfs::openat(
        dir,
        name,
        OFlags::CREATE | OFlags::EXCL | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .map_err(ctx(format_args!("creating scratch {name}")))?;
    let mut rest = content.as_bytes();
    while !rest.is_empty() {
        let n =
            rustix::io::write(&fd, rest).map_err(ctx(format_args!("writing scratch {name}")))?;
        rest = &rest[n..];
    }
    Ok(fd)
}

/// Mounts the root filesystem at `spec.rootfs` (over the scratch tmpfs).
fn mount_root(spec: &Spec, empty: &Path) -> Result<(), Failure> {
    let rootfs = spec.rootfs.as_path();
    let mut lowers: Vec<&Path> = spec.lower.iter().rev().map(|p| p.as_path()).collect();
    let upper = match (&spec.upper, &spec.work) {
        (Some(u), Some(w)) => Some((u.as_path(), w.as_path())),
        _ => None,
    };
    if upper.is_none() {
        match lowers.as_slice() {
            [] => {
                // Nothing at all: a throwaway writable tmpfs.
                return rustix::mount::mount(
                    "tmpfs",
                    rootfs,
                    "tmpfs",
                    MountFlags::empty(),
                    c"mode=0755",
                )
                .map_err(ctx(format_args!(
                    "mounting an empty root at {}",
                    rootfs.display()
                )));
            }
            [only] => {
                // Overlay needs two lower layers without an upper one: bind the only layer.
                let tree = open_tree_path(only, Recursive::Yes)?;
                return attach(
                    tree,
                    Recursive::Yes,
                    libc::MOUNT_ATTR_RDONLY,
                    &Target::Path(rootfs),
                )
                .map_err(ctx(format_args!(
                    "binding {} read-only at {}",
                    only.display(),
                    rootfs.display()
                )));
            }
            _ => {}
        }
    }
    if lowers.is_empty() {
        lowers.push(empty);
    }
    let plan = overlay::plan(&lowers, upper).map_err(setup_failure)?;
    overlay::mount(&plan, rootfs, upper.is_none()).map_err(setup_failure)
}

/// Where a detached mount tree goes.
enum Target<'a> {
    Path(&'a Path),
    Fd(&'a OwnedFd),
}

fn open_tree_path(source: &Path, recursive: Recursive) -> Result<OwnedFd, Failure> {
    let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if let Recursive::Yes = recursive {
        flags |= OpenTreeFlags::AT_RECURSIVE;
    }
    open_tree(CWD, source, flags).map_err(ctx(format_args!("open_tree {}", source.display())))
}

/// Sets attributes on a detached tree and attaches it at `target`.
fn attach(tree: OwnedFd, recursive: Recursive, attrs: u64, target: &Target) -> std::io::Result<()> {
    if attrs != 0 {
        sys::mount_setattr(&tree, recursive, attrs, 0)?;
    }
    match target {
        Target::Path(p) => move_mount(&tree, "", CWD, *p, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH)?,
        Target::Fd(fd) => move_mount(
            &tree,
            "",
            *fd,
            "",
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
        )?,
    }
    Ok(())
}

fn mount_at(
    source: &str,
    target: &OwnedFd,
    fstype: &str,
    flags: MountFlags,
    data: &std::ffi::CStr,
    what: &str,
) -> Result<(), Failure> {
    rustix::mount::mount(source, fd_path(target).as_str(), fstype, flags, data)
        .map_err(ctx(format_args!("mounting {fstype} at {what}")))
}

fn open_in(dir: &OwnedFd, name: &str) -> std::io::Result<OwnedFd> {
    rfs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(Into::into)
}

/// Masks the existing entries `names` under `dir` (files with the host's /dev/null,
/// directories with an empty read-only tmpfs).
fn mask(dir: &OwnedFd, names: &[&str], base: &str) -> Result<(), Failure> {
    for name in names {
        let Ok(fd) = open_in(dir, name) else { continue };
        let is_dir = rfs::fstat(&fd)
            .map(|s| rfs::FileType::from_raw_mode(s.st_mode) == rfs::FileType::Directory);
        if is_dir.map_err(ctx(format_args!("stat {base}/{name}")))? {
            mount_at(
                "tmpfs",
                &fd,
                "tmpfs",
                MountFlags::RDONLY,
                c"",
                &format!("{base}/{name}"),
            )?;
        } else {
            let tree = open_tree_path(Path::new("/dev/null"), Recursive::No)?;
            attach(tree, Recursive::No, 0, &Target::Fd(&fd))
                .map_err(ctx(format_args!("masking {base}/{name}")))?;
        }
    }
    Ok(())
}

fn mount_proc(root: &Root, security: Security, created: &mut Vec<String>) -> Result<(), Failure> {
    let target = root
        .ensure("/proc", Kind::Dir, created)
        .map_err(setup_failure)?;
    mount_at(
        "proc",
        &target,
        "proc",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        c"",
        "/proc",
    )?;
    if security == Security::Insecure {
        return Ok(());
    }
    let proc = root
        .resolve("/proc")
        .map_err(ctx("opening the new /proc"))?;
    for name in READONLY_PROC {
        let Ok(fd) = open_in(&proc, name) else {
            continue;
        };
        let tree = open_tree(
            &proc,
            name,
            OpenTreeFlags::OPEN_TREE_CLONE
                | OpenTreeFlags::OPEN_TREE_CLOEXEC
                | OpenTreeFlags::AT_RECURSIVE,
        )
        .map_err(ctx(format_args!("open_tree /proc/{name}")))?;
        attach(
            tree,
            Recursive::Yes,
            libc::MOUNT_ATTR_RDONLY,
            &Target::Fd(&fd),
        )
        .map_err(ctx(format_args!("making /proc/{name} read-only")))?;
    }
    mask(&proc, &MASKED_PROC, "/proc")
}

fn mount_dev(root: &Root, created: &mut Vec<String>) -> Result<(), Failure> {
    let target = root
        .ensure("/dev", Kind::Dir, created)
        .map_err(setup_failure)?;
    mount_at(
        "tmpfs",
        &target,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::STRICTATIME,
        c"mode=755,size=65536k",
        "/dev",
    )?;
    let dev = root.resolve("/dev").map_err(ctx("opening the new /dev"))?;
    for name in ["null", "zero", "full", "random", "urandom", "tty"] {
        let host = Path::new("/dev").join(name);
        if name == "tty" && !host.exists() {
            continue;
        }
        let node = rfs::openat(
            &dev,
            name,
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o666),
        )
        .map_err(ctx(format_args!("creating /dev/{name}")))?;
        let tree = open_tree_path(&host, Recursive::No)?;
        attach(
            tree,
            Recursive::No,
            libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOEXEC,
            &Target::Fd(&node),
        )
        .map_err(ctx(format_args!("binding {}", host.display())))?;
    }
    let mkdir = |name: &str, mode: u32| -> Result<OwnedFd, Failure> {
        rfs::mkdirat(&dev, name, Mode::from_raw_mode(mode))
            .map_err(ctx(format_args!("mkdir /dev/{name}")))?;
        open_in(&dev, name).map_err(ctx(format_args!("open /dev/{name}")))
    };
    let pts = mkdir("pts", 0o755)?;
    mount_at(
        "devpts",
        &pts,
        "devpts",
        MountFlags::NOSUID | MountFlags::NOEXEC,
        c"newinstance,ptmxmode=0666,mode=0620,gid=5",
        "/dev/pts",
    )?;
    let shm = mkdir("shm", 0o1777)?;
    mount_at(
        "shm",
        &shm,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        c"mode=1777,size=65536k",
        "/dev/shm",
    )?;
    for (link, to) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
    ] {
        rfs::symlinkat(to, &dev, link).map_err(ctx(format_args!("symlink /dev/{link}")))?;
    }
    Ok(())
}

fn mount_sys(root: &Root, security: Security, created: &mut Vec<String>) -> Result<(), Failure> {
    let target = root
        .ensure("/sys", Kind::Dir, created)
        .map_err(setup_failure)?;
    let tree = open_tree_path(Path::new("/sys"), Recursive::Yes)?;
    let attrs = libc::MOUNT_ATTR_RDONLY
        | libc::MOUNT_ATTR_NOSUID
        | libc::MOUNT_ATTR_NODEV
        | libc::MOUNT_ATTR_NOEXEC;
    attach(tree, Recursive::Yes, attrs, &Target::Fd(&target))
        .map_err(ctx("binding /sys read-only"))?;
    if security == Security::Insecure {
        return Ok(());
    }
    let sys = root.resolve("/sys").map_err(ctx("opening the new /sys"))?;
    mask(&sys, &MASKED_SYS, "/sys")
}

/// `/etc/resolv.conf` and `/etc/hosts`: the host's (Network::Host; skipped when the host has
/// none) or the generated hosts file (Network::None).
fn mount_etc(
    root: &Root,
    generated_hosts: Option<OwnedFd>,
    created: &mut Vec<String>,
) -> Result<(), Failure> {
    let ro = libc::MOUNT_ATTR_RDONLY
        | libc::MOUNT_ATTR_NOSUID
        | libc::MOUNT_ATTR_NODEV
        | libc::MOUNT_ATTR_NOEXEC;
    let sources: Vec<(&str, OwnedFd)> = match generated_hosts {
        Some(hosts) => {
            let tree = open_tree(
                &hosts,
                "",
                OpenTreeFlags::OPEN_TREE_CLONE
                    | OpenTreeFlags::OPEN_TREE_CLOEXEC
                    | OpenTreeFlags::AT_EMPTY_PATH,
            )
            .map_err(ctx("open_tree of the generated hosts file"))?;
            vec![("/etc/hosts", tree)]
        }
        None => {
            let mut v = Vec::new();
            for path in ["/etc/resolv.conf", "/etc/hosts"] {
                if Path::new(path).is_file() {
                    v.push((path, open_tree_path(Path::new(path), Recursive::No)?));
                }
            }
            v
        }
    };
    for (path, tree) in sources {
        let target = root
            .ensure(path, Kind::File, created)
            .map_err(setup_failure)?;
        attach(tree, Recursive::No, ro, &Target::Fd(&target))
            .map_err(ctx(format_args!("binding {path}")))?;
    }
    Ok(())
}

fn mount_extra(
    root: &Root,
    kind: &MountKind,
    target: &str,
    created: &mut Vec<String>,
) -> Result<(), Failure> {
    match kind {
        MountKind::Bind { source, readonly } => {
            let meta = std::fs::metadata(source)
                .map_err(ctx(format_args!("mount source {}", source.display())))?;
            let kind = if meta.is_dir() { Kind::Dir } else { Kind::File };
            let fd = root.ensure(target, kind, created).map_err(setup_failure)?;
            let tree = open_tree_path(source, Recursive::Yes)?;
            let attrs = if *readonly {
                libc::MOUNT_ATTR_RDONLY
            } else {
                0
            };
            attach(tree, Recursive::Yes, attrs, &Target::Fd(&fd)).map_err(ctx(format_args!(
                "binding {} at {target}",
                source.display()
            )))
        }
        MountKind::Tmpfs { size } => {
            let fd = root
                .ensure(target, Kind::Dir, created)
                .map_err(setup_failure)?;
            let data = match size {
                Some(n) => format!("size={n}"),
                None => String::new(),
            };
            let data = CString::new(data).map_err(ctx("tmpfs options"))?;
            mount_at("tmpfs", &fd, "tmpfs", MountFlags::NOSUID, &data, target)
        }
    }
}

/// `pivot_root(".", ".")` then detach the old root stacked on top.
fn pivot(rootfs: &Path) -> Result<(), Failure> {
    rustix::process::chdir(rootfs).map_err(ctx(format_args!("chdir {}", rootfs.display())))?;
    rustix::process::pivot_root(".", ".").map_err(ctx("pivot_root"))?;
    rustix::mount::unmount(".", UnmountFlags::DETACH).map_err(ctx("detaching the old root"))?;
    rustix::process::chdir("/").map_err(ctx("chdir /"))
}

/// Capabilities (Docker's default set unless insecure), then groups, gid, uid.
fn switch_user(spec: &Spec) -> Result<(), Failure> {
    if spec.security == Security::Sandboxed {
        for cap in 0..64u32 {
            if DEFAULT_CAPS & (1u64 << cap) == 0 {
                sys::drop_bounding_cap(cap)
                    .map_err(ctx(format_args!("dropping capability {cap}")))?;
            }
        }
        let set = CapabilitySet::from_bits_retain(DEFAULT_CAPS);
        rustix::thread::set_capabilities(
            None,
            CapabilitySets {
                effective: set,
                permitted: set,
                inheritable: CapabilitySet::empty(),
            },
        )
        .map_err(ctx("capset"))?;
    }
    let groups: Vec<Gid> = spec
        .additional_gids
        .iter()
        .map(|&g| Gid::from_raw(g))
        .collect();
    rustix::thread::set_thread_groups(&groups).map_err(ctx("setgroups"))?;
    rustix::thread::set_thread_res_gid(
        Gid::from_raw(spec.gid),
        Gid::from_raw(spec.gid),
        Gid::from_raw(spec.gid),
    )
    .map_err(ctx(format_args!("setgid {}", spec.gid)))?;
    rustix::thread::set_thread_res_uid(
        Uid::from_raw(spec.uid),
        Uid::from_raw(spec.uid),
        Uid::from_raw(spec.uid),
    )
    .map_err(ctx(format_args!("setuid {}", spec.uid)))
}
