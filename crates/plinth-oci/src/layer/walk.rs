//! Turning a host directory into layer entries: `COPY` sources and, later, a `RUN` step's
//! overlayfs upper directory (whose whiteouts and opaque directories become layer whiteouts).

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use rustix::io::Errno;

use super::{EntryKind, FileSource, LayerEntry, LayerError, validate_path};

/// Walks `root` (not following symlinks) into entries named `prefix/<relative path>` (or just the
/// relative path when `prefix` is empty; leading/trailing `/` of `prefix` are ignored). `root`
/// itself is not an entry. Entries come in layer order (see the module docs of
/// [`super`]).
///
/// * Regular files become [`FileSource::Path`] entries; directories, symlinks (target kept
///   verbatim), block/char devices and fifos become the matching kinds; sockets are skipped
///   (tar cannot hold them).
/// * Files with more than one link that share `(dev, inode)` become hardlinks to the first one
///   seen.
/// * overlayfs markers: a char device 0/0 becomes an [`EntryKind::Whiteout`]; a directory with
///   `trusted.overlay.opaque=y` or `user.overlay.opaque=y` becomes an
///   [`EntryKind::OpaqueWhiteout`]. `overlay.redirect` / `overlay.metacopy` attributes (an overlay
///   mounted with `redirect_dir` or `metacopy`) are an error: such an upper dir is not a plain diff.
/// * xattrs kept: `security.capability` and `user.*` (except `user.overlay.*`); all others
///   (`trusted.*`, `security.selinux`, ACLs) are dropped.
/// * uid, gid, mode (`& 0o7777`) and mtime (whole seconds) come from disk.
///
/// File names that are not UTF-8 are an error ([`LayerError::NonUtf8Name`]).
pub fn entries_from_dir(root: &Path, prefix: &str) -> Result<Vec<LayerEntry>, LayerError> {
    let prefix = prefix.trim_matches('/');
    if !prefix.is_empty() {
        validate_path(prefix)?;
    }
    let mut seen_inodes: HashMap<(u64, u64), String> = HashMap::new();
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name();
    for item in walker {
        let item = item.map_err(|e| LayerError::ReadSource(std::io::Error::other(e)))?;
        let abs = item.path();
        let rel = abs
            .strip_prefix(root)
            .map_err(|_| LayerError::NonUtf8Name {
                path: abs.to_path_buf(),
            })?;
        let rel = rel.to_str().ok_or_else(|| LayerError::NonUtf8Name {
            path: abs.to_path_buf(),
        })?;
        let path = if prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{prefix}/{rel}")
        };
        let md = item
            .metadata()
            .map_err(|e| LayerError::ReadSource(std::io::Error::other(e)))?;
        let ft = md.file_type();
        let xattrs = read_xattrs(abs)?;
        let mut kept = BTreeMap::new();
        let mut opaque = false;
        for (name, value) in xattrs {
            match name.as_str() {
                "trusted.overlay.opaque" | "user.overlay.opaque" => opaque = value == b"y",
                "trusted.overlay.redirect"
                | "user.overlay.redirect"
                | "trusted.overlay.metacopy"
                | "user.overlay.metacopy" => {
                    return Err(LayerError::UnsupportedOverlay {
                        path: abs.to_path_buf(),
                        xattr: name,
                    });
                }
                "security.capability" => {
                    kept.insert(name, value);
                }
                n if n.starts_with("user.") && !n.starts_with("user.overlay.") => {
                    kept.insert(name, value);
                }
                _ => {}
            }
        }
        let rdev = md.rdev();
        let kind = if ft.is_dir() {
            if opaque {
                EntryKind::OpaqueWhiteout
            } else {
                EntryKind::Dir
            }
        } else if ft.is_char_device() && rdev == 0 {
            EntryKind::Whiteout
        } else if ft.is_socket() {
            continue;
        } else {
            let key = (md.dev(), md.ino());
            if md.nlink() > 1
                && let Some(first) = seen_inodes.get(&key)
            {
                EntryKind::Hardlink {
                    target: first.clone(),
                }
            } else {
                if md.nlink() > 1 {
                    seen_inodes.insert(key, path.clone());
                }
                if ft.is_file() {
                    EntryKind::File(FileSource::Path(abs.to_path_buf()))
                } else if ft.is_symlink() {
                    let target = fs_err::read_link(abs).map_err(LayerError::ReadSource)?;
                    let target = target.into_os_string().into_string().map_err(|_| {
                        LayerError::NonUtf8Name {
                            path: abs.to_path_buf(),
                        }
                    })?;
                    EntryKind::Symlink { target }
                } else if ft.is_char_device() {
                    let dev = rdev;
                    EntryKind::CharDevice {
                        major: rustix::fs::major(dev),
                        minor: rustix::fs::minor(dev),
                    }
                } else if ft.is_block_device() {
                    EntryKind::BlockDevice {
                        major: rustix::fs::major(rdev),
                        minor: rustix::fs::minor(rdev),
                    }
                } else if ft.is_fifo() {
                    EntryKind::Fifo
                } else {
                    continue;
                }
            }
        };
        out.push(LayerEntry {
            path,
            kind,
            mode: md.mode() & 0o7777,
            uid: u64::from(md.uid()),
            gid: u64::from(md.gid()),
            mtime: Some(md.mtime()),
            xattrs: kept,
        });
    }
    Ok(out)
}

fn xattr_error(path: &Path, what: &str, e: Errno) -> LayerError {
    let e = std::io::Error::from(e);
    LayerError::ReadSource(std::io::Error::new(
        e.kind(),
        format!("{what} of {}: {e}", path.display()),
    ))
}

/// Reads the xattrs of `path` (not following a symlink). Names that are not UTF-8 are skipped.
fn read_xattrs(path: &Path) -> Result<Vec<(String, Vec<u8>)>, LayerError> {
    let mut names = Vec::new();
    for _attempt in 0..4 {
        let size = match rustix::fs::llistxattr_query(path) {
            Ok(n) => n,
            Err(Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(xattr_error(path, "listing xattrs", e)),
        };
        if size == 0 {
            return Ok(Vec::new());
        }
        names = vec![0u8; size];
        match rustix::fs::llistxattr(path, &mut names[..]) {
            Ok(n) => {
                names.truncate(n);
                break;
            }
            // The list grew between the two calls: ask again.
            Err(Errno::RANGE) => names.clear(),
            Err(e) => return Err(xattr_error(path, "listing xattrs", e)),
        }
    }
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        let wanted = name == "security.capability"
            || name.starts_with("user.")
            || name.starts_with("trusted.overlay.");
        if !wanted {
            continue;
        }
        let mut value = None;
        for _attempt in 0..4 {
            let size = match rustix::fs::lgetxattr_query(path, name) {
                Ok(n) => n,
                // Removed between listing and reading.
                Err(Errno::NODATA) => break,
                Err(e) => return Err(xattr_error(path, "reading xattr", e)),
            };
            let mut buf = vec![0u8; size];
            if size == 0 {
                value = Some(buf);
                break;
            }
            match rustix::fs::lgetxattr(path, name, &mut buf[..]) {
                Ok(n) => {
                    buf.truncate(n);
                    value = Some(buf);
                    break;
                }
                Err(Errno::RANGE) => {}
                Err(Errno::NODATA) => break,
                Err(e) => return Err(xattr_error(path, "reading xattr", e)),
            }
        }
        if let Some(value) = value {
            out.push((name.to_string(), value));
        }
    }
    Ok(out)
}
