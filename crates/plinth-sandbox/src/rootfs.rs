//! Mount targets inside the container's root, resolved without escaping it.
//!
//! Every path is resolved with `openat2(RESOLVE_IN_ROOT)` against the root's fd, so symlinks
//! in the image (`/etc -> /host/path`) are followed inside the root, never on the host.
//! Missing components are created (directories 0755, a final file 0644, empty) and their
//! real in-root paths recorded in [`Root::created`]; the parent directory's times are put
//! back after each creation so that a copied-up parent looks unchanged in the upper dir.
//! Mounts are then made onto the resolved fds (`/proc/self/fd/N` or `move_mount`).

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use rustix::fs::{self as rfs, FileType, Mode, OFlags, ResolveFlags, Timestamps};

use crate::spec::container_components;

/// What a mount target must be.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Dir,
    File,
}

/// The container's root filesystem, seen from the helper before `pivot_root`.
pub(crate) struct Root {
    fd: OwnedFd,
    /// The host path of the root (what `/proc/self/fd` links of fds inside it start with).
    prefix: String,
}

/// `/proc/self/fd/N`: a path naming exactly what `fd` refers to.
pub(crate) fn fd_path(fd: &impl AsFd) -> String {
    format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd())
}

/// The access and modification times of `st`, for restoring them with `utimensat`.
pub(crate) fn stat_times(st: &rfs::Stat) -> Timestamps {
    Timestamps {
        last_access: rfs::Timespec {
            tv_sec: st.st_atime,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: rfs::Timespec {
            tv_sec: st.st_mtime,
            tv_nsec: st.st_mtime_nsec as _,
        },
    }
}

fn file_type(fd: &impl AsFd) -> io::Result<FileType> {
    Ok(FileType::from_raw_mode(rfs::fstat(fd)?.st_mode))
}

impl Root {
    /// Opens the root mounted at `path`.
    pub(crate) fn open(path: &Path) -> io::Result<Root> {
        let fd = rfs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let prefix = link_target(&fd)?;
        Ok(Root { fd, prefix })
    }

    /// Resolves an existing path (`O_PATH`), following symlinks inside the root and
    /// crossing mounts made so far.
    pub(crate) fn resolve(&self, path: &str) -> io::Result<OwnedFd> {
        let rel = container_components(path).join("/");
        let rel = if rel.is_empty() { ".".to_string() } else { rel };
        rfs::openat2(
            &self.fd,
            rel.as_str(),
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT,
        )
        .map_err(io::Error::from)
    }

    /// Makes sure `path` exists as `kind`, creating what is missing (appended to `created`,
    /// parents first), and returns it opened with `O_PATH`. A dangling symlink on the way is
    /// followed inside the root and its target created. Errors are messages naming the path.
    pub(crate) fn ensure(
        &self,
        path: &str,
        kind: Kind,
        created: &mut Vec<String>,
    ) -> Result<OwnedFd, String> {
        let mut comps: Vec<String> = container_components(path)
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut links = 0;
        let mut i = 0;
        let mut parent: Option<OwnedFd> = None;
        while i < comps.len() {
            let last = i + 1 == comps.len();
            let want = if last { kind } else { Kind::Dir };
            let sub = comps[..=i].join("/");
            let fd = match self.resolve(&sub) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    let dir = parent.as_ref().unwrap_or(&self.fd);
                    let name = comps[i].as_str();
                    if let Some(target) = dangling_link(dir, name) {
                        links += 1;
                        if links > 40 {
                            return Err(format!("mount point {path:?}: too many symlinks"));
                        }
                        let base = if target.starts_with('/') {
                            String::new()
                        } else {
                            self.in_root(dir)
                                .map_err(|e| format!("cannot resolve /{sub}: {e}"))?
                        };
                        let rest = comps[i + 1..].join("/");
                        let joined = format!("{base}/{target}/{rest}");
                        comps = container_components(&joined)
                            .into_iter()
                            .map(str::to_string)
                            .collect();
                        i = 0;
                        parent = None;
                        continue;
                    }
                    self.create(dir, name, want, created)
                        .map_err(|e| format!("cannot create mount point /{sub}: {e}"))?;
                    self.resolve(&sub)
                        .map_err(|e| format!("cannot open /{sub}: {e}"))?
                }
                Err(e) => return Err(format!("cannot resolve /{sub}: {e}")),
            };
            let ft = file_type(&fd).map_err(|e| format!("cannot stat /{sub}: {e}"))?;
            match want {
                Kind::Dir if ft != FileType::Directory => {
                    return Err(format!("mount point /{sub} exists and is not a directory"));
                }
                Kind::File if ft == FileType::Directory => {
                    return Err(format!(
                        "mount point /{sub} is a directory, expected a file"
                    ));
                }
                _ => {}
            }
            parent = Some(fd);
            i += 1;
        }
        parent.ok_or_else(|| format!("mount point {path:?} is the root"))
    }

    /// The in-root path of a directory fd inside the root ("" for the root itself).
    fn in_root(&self, dir: &OwnedFd) -> io::Result<String> {
        let real = link_target(dir)?;
        Ok(real
            .strip_prefix(&self.prefix)
            .unwrap_or(&real)
            .trim_end_matches('/')
            .to_string())
    }

    fn create(
        &self,
        dir: &OwnedFd,
        name: &str,
        kind: Kind,
        created: &mut Vec<String>,
    ) -> io::Result<()> {
        let dir_path = fd_path(dir);
        let before = rfs::fstat(dir)?;
        match kind {
            Kind::Dir => rfs::mkdirat(dir, name, Mode::from_raw_mode(0o755))?,
            Kind::File => {
                rfs::openat(
                    dir,
                    name,
                    OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::WRONLY
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o644),
                )?;
            }
        }
        created.push(format!("{}/{name}", self.in_root(dir)?));
        rfs::utimensat(
            rfs::CWD,
            dir_path.as_str(),
            &stat_times(&before),
            rfs::AtFlags::empty(),
        )?;
        Ok(())
    }
}

/// The target of `name` in `dir` when it is a symlink (a dangling one, as the caller
/// knows resolving it failed).
fn dangling_link(dir: &OwnedFd, name: &str) -> Option<String> {
    let st = rfs::statat(dir, name, rfs::AtFlags::SYMLINK_NOFOLLOW).ok()?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
        return None;
    }
    rfs::readlinkat(dir, name, Vec::new())
        .ok()?
        .into_string()
        .ok()
}

/// Where `/proc/self/fd/N` of `fd` points.
fn link_target(fd: &impl AsFd) -> io::Result<String> {
    let target = rfs::readlink(fd_path(fd).as_str(), Vec::new())?;
    target
        .into_string()
        .map_err(|_| io::Error::from_raw_os_error(libc::EILSEQ))
}
