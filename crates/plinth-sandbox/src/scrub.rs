//! Removing the sandbox's own mount points from an overlay upper directory, so a RUN layer
//! never captures the `/proc`, `/dev`, `/etc/resolv.conf`... placeholders it had to create.

use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD};

use crate::error::SandboxError;
use crate::rootfs::stat_times;
use crate::spec::container_components;

/// Removes from `upper` every path of `created` (as reported in
/// [`crate::RunOutcome::created_mountpoints`]) that is still the placeholder the sandbox
/// made: an empty regular file or an empty directory. Anything the command changed (a
/// non-empty directory, a file with content, another type) stays. Paths are handled
/// children first; symlinks in `upper` are never followed; the parent directory keeps its
/// access and modification times.
pub fn scrub_upper(upper: &Path, created: &[String]) -> Result<(), SandboxError> {
    for path in created.iter().rev() {
        let comps = container_components(path);
        let Some((name, parents)) = comps.split_last() else {
            continue;
        };
        let Some(parent) = real_dir(upper, parents)? else {
            continue;
        };
        let target = parent.join(name);
        let meta = match fs_err::symlink_metadata(&target) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        let placeholder = if meta.file_type().is_file() {
            meta.len() == 0
        } else if meta.file_type().is_dir() {
            fs_err::read_dir(&target)?.next().is_none()
        } else {
            false
        };
        if !placeholder {
            continue;
        }
        let before = rustix::fs::stat(&parent).map_err(std::io::Error::from)?;
        if meta.is_dir() {
            fs_err::remove_dir(&target)?;
        } else {
            fs_err::remove_file(&target)?;
        }
        rustix::fs::utimensat(
            CWD,
            &parent,
            &stat_times(&before),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(std::io::Error::from)?;
    }
    Ok(())
}

/// `upper/<parents...>` when every component is a real directory (no symlink), else None.
fn real_dir(upper: &Path, parents: &[&str]) -> Result<Option<PathBuf>, SandboxError> {
    let mut cur = upper.to_path_buf();
    for c in parents {
        cur.push(c);
        match fs_err::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_dir() => {}
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(cur))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn removes_only_untouched_placeholders() {
        let t = tempfile::tempdir().expect("tempdir");
        let up = t.path();
        for d in ["proc", "etc", "dev", "root/.cache/pip", "keep"] {
            fs_err::create_dir_all(up.join(d)).expect("mkdir");
        }
        fs_err::write(up.join("etc/resolv.conf"), "").expect("write");
        fs_err::write(up.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").expect("write");
        fs_err::write(up.join("keep/file"), "data").expect("write");
        fs_err::write(up.join("secret"), "changed").expect("write");
        let created: Vec<String> = [
            "/proc",
            "/etc",
            "/etc/resolv.conf",
            "/dev",
            "/root",
            "/root/.cache",
            "/root/.cache/pip",
            "/keep",
            "/secret",
            "/missing/x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        scrub_upper(up, &created).expect("scrub");
        for gone in ["proc", "etc/resolv.conf", "dev", "root"] {
            assert!(!up.join(gone).exists(), "{gone} should be removed");
        }
        for kept in ["etc/passwd", "keep/file", "secret"] {
            assert!(up.join(kept).exists(), "{kept} should stay");
        }
    }

    #[test]
    fn keeps_parent_times_and_never_follows_symlinks() {
        let t = tempfile::tempdir().expect("tempdir");
        let (up, outside) = (t.path().join("upper"), t.path().join("outside"));
        fs_err::create_dir_all(up.join("etc")).expect("mkdir");
        fs_err::create_dir_all(&outside).expect("mkdir");
        fs_err::write(outside.join("hosts"), "").expect("write");
        symlink(&outside, up.join("link")).expect("symlink");
        fs_err::write(up.join("etc/hosts"), "").expect("write");
        let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::open(up.join("etc"))
            .expect("open dir")
            .set_times(
                std::fs::FileTimes::new()
                    .set_modified(old)
                    .set_accessed(old),
            )
            .expect("set times");
        scrub_upper(&up, &["/link/hosts".to_string(), "/etc/hosts".to_string()]).expect("scrub");
        assert!(
            outside.join("hosts").exists(),
            "must not follow the symlink"
        );
        assert!(!up.join("etc/hosts").exists());
        let mtime = fs_err::metadata(up.join("etc"))
            .expect("stat")
            .modified()
            .expect("mtime");
        assert_eq!(mtime, old);
    }
}
