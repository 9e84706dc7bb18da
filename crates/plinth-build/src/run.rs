//! RUN steps: the sandbox invocation for one step (overlay upper/work dirs over the extracted lower
//! layers, the step's mounts), the live output with its last lines kept for error messages, and the
//! overlay upper directory turned into layer entries.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use plinth_oci::layer::{self, LayerEntry};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use plinth_sandbox::{
    ExitStatus, Mount, Network, RunOptions, RunOutcome, Sandbox, Security, Spec, Stdio,
};

/// How many lines of output a failed step shows.
pub const LAST_LINES: usize = 20;

/// One RUN step, ready to execute.
#[derive(Debug, Clone)]
pub struct RunStep {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub network: Network,
    pub mounts: Vec<Mount>,
    /// Extracted layers, bottom first.
    pub lowers: Vec<PathBuf>,
    /// `RUN --security`.
    pub security: Security,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the command exited with code {code}{}", format_last_lines(.last_lines))]
    Exit { code: i32, last_lines: Vec<String> },
    #[error("the command was killed by signal {signal}{}", format_last_lines(.last_lines))]
    Signal {
        signal: i32,
        last_lines: Vec<String>,
    },
    #[error("sandbox: {0}")]
    Sandbox(#[from] plinth_sandbox::SandboxError),
    #[error("reading the step's changes: {0}")]
    Layer(#[from] layer::LayerError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub(crate) fn format_last_lines(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut s = String::from("; last lines of its output:");
    for l in lines {
        s.push_str("\n  | ");
        s.push_str(l);
    }
    s
}

/// The changes a successful step made, as layer entries. The entries point into `scratch`, which
/// must live until the layer is written.
pub struct RunChanges {
    pub entries: Vec<LayerEntry>,
    pub scratch: tempfile::TempDir,
}

/// A container's scratch directory under `<store>/.plinth/tmp`: the overlay `upper` and `work`
/// dirs and the `rootfs` mount point. Removed when dropped (a killed run's is removed by the next).
pub struct OverlayDirs {
    pub dir: tempfile::TempDir,
}

impl OverlayDirs {
    pub fn new(tmp_root: &Path, prefix: &str) -> Result<OverlayDirs, (PathBuf, std::io::Error)> {
        fs_err::create_dir_all(tmp_root).map_err(|e| (tmp_root.to_path_buf(), e))?;
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(tmp_root)
            .map_err(|e| (tmp_root.to_path_buf(), e))?;
        let dirs = OverlayDirs { dir };
        for d in [dirs.upper(), dirs.work(), dirs.rootfs()] {
            fs_err::create_dir(&d).map_err(|e| (d.clone(), e))?;
        }
        Ok(dirs)
    }

    pub fn upper(&self) -> PathBuf {
        self.dir.path().join("upper")
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }
}

/// Drops directories that overlayfs copied up without a change (for example `/etc`, when the
/// sandbox made the resolv.conf mount point there and then scrubbed it): no entry below them in the
/// layer, and the same mode and owner as in the lower layers. BuildKit's differ does the same, so
/// RUN layers hold only what the command changed.
pub fn drop_unchanged_dirs(entries: Vec<LayerEntry>, lowers: &[PathBuf]) -> Vec<LayerEntry> {
    use std::collections::BTreeSet;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let parents: BTreeSet<String> = entries
        .iter()
        .filter_map(|e| e.path.rsplit_once('/').map(|(p, _)| p.to_string()))
        .collect();
    let unchanged = |e: &LayerEntry| -> bool {
        if !matches!(e.kind, layer::EntryKind::Dir) || !e.xattrs.is_empty() || e.path.is_empty() {
            return false;
        }
        // entries_from_dir lists every directory, so a directory with anything below it is the
        // parent of some entry.
        if parents.contains(&e.path) {
            return false;
        }
        for lower in lowers.iter().rev() {
            match std::fs::symlink_metadata(lower.join(&e.path)) {
                Ok(m) if m.is_dir() => {
                    return m.mode() & 0o7777 == e.mode
                        && u64::from(m.uid()) == e.uid
                        && u64::from(m.gid()) == e.gid;
                }
                Ok(m) if m.file_type().is_char_device() => return false,
                Ok(_) => return false,
                Err(_) => continue,
            }
        }
        false
    };
    let mut entries = entries;
    entries.retain(|e| !unchanged(e));
    entries
}

/// Keeps the last [`LAST_LINES`] complete lines of a byte stream.
#[derive(Default)]
pub struct LastLines {
    lines: VecDeque<String>,
    partial: Vec<u8>,
}

impl LastLines {
    pub fn push(&mut self, bytes: &[u8]) {
        for b in bytes {
            if *b == b'\n' {
                let line = String::from_utf8_lossy(&self.partial)
                    .trim_end_matches('\r')
                    .to_string();
                self.partial.clear();
                if self.lines.len() == LAST_LINES {
                    self.lines.pop_front();
                }
                self.lines.push_back(line);
            } else if self.partial.len() < 4096 {
                self.partial.push(*b);
            }
        }
    }

    pub fn finish(mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            self.push(b"\n");
        }
        self.lines.into_iter().collect()
    }
}

/// Runs `step` in the sandbox with a fresh overlay upper dir under `tmp_root`, streaming output to
/// `on_output`, and returns the changes.
pub fn run_step(
    sandbox: &Sandbox,
    step: &RunStep,
    tmp_root: &Path,
    cancel: Option<Arc<AtomicBool>>,
    on_output: &mut dyn FnMut(&[u8]),
) -> Result<RunChanges, RunError> {
    let dirs = OverlayDirs::new(tmp_root, "run-")
        .map_err(|(path, source)| RunError::Io { path, source })?;
    let (upper, work) = (dirs.upper(), dirs.work());
    let spec = Spec {
        lower: step.lowers.clone(),
        upper: Some(upper.clone()),
        work: Some(work.clone()),
        rootfs: dirs.rootfs(),
        args: step.args.clone(),
        env: step.env.clone(),
        cwd: step.cwd.clone(),
        uid: step.uid,
        gid: step.gid,
        additional_gids: step.additional_gids.clone(),
        network: step.network,
        hostname: "plinth".to_string(),
        mounts: step.mounts.clone(),
        stdin: Stdio::Null,
        output: Stdio::Pipe,
        security: step.security,
    };
    let mut last = LastLines::default();
    let opts = RunOptions {
        cancel,
        ..RunOptions::default()
    };
    let outcome: RunOutcome = sandbox.run_with(&spec, &opts, &mut |_, bytes: &[u8]| {
        last.push(bytes);
        on_output(bytes);
    })?;
    match outcome.status {
        ExitStatus::Code(0) => {}
        ExitStatus::Code(code) => {
            return Err(RunError::Exit {
                code,
                last_lines: last.finish(),
            });
        }
        ExitStatus::Signal(signal) => {
            return Err(RunError::Signal {
                signal,
                last_lines: last.finish(),
            });
        }
    }
    plinth_sandbox::scrub_upper(&upper, &outcome.created_mountpoints)?;
    let _ = fs_err::remove_dir_all(&work);
    let entries = drop_unchanged_dirs(layer::entries_from_dir(&upper, "")?, &step.lowers);
    Ok(RunChanges {
        entries,
        scratch: dirs.dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_copied_up_dirs_are_dropped() {
        use std::os::unix::fs::PermissionsExt;
        let lower = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(lower.path().join("etc/ssl")).unwrap();
        std::fs::create_dir_all(lower.path().join("var")).unwrap();
        std::fs::set_permissions(
            lower.path().join("etc"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::fs::set_permissions(
            lower.path().join("var"),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        let (uid, gid) = {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(lower.path().join("etc")).unwrap();
            (u64::from(m.uid()), u64::from(m.gid()))
        };
        let dir = |p: &str, mode: u32| LayerEntry::new(p, layer::EntryKind::Dir, mode, uid, gid);
        let file = |p: &str| {
            LayerEntry::new(
                p,
                layer::EntryKind::File(layer::FileSource::Bytes(b"x".to_vec().into())),
                0o644,
                uid,
                gid,
            )
        };
        let entries = vec![
            dir("etc", 0o755),
            dir("var", 0o700),
            dir("new", 0o755),
            dir("etc2", 0o755),
            file("etc2/f"),
            dir("opt", 0o755),
            dir("opt/sub", 0o755),
        ];
        let kept: Vec<String> = drop_unchanged_dirs(entries, &[lower.path().to_path_buf()])
            .into_iter()
            .map(|e| e.path)
            .collect();
        // etc: copied up, unchanged, empty -> dropped; var: mode changed -> kept; new: not in the
        // lower -> kept; etc2 has a child -> kept; opt/sub not in the lower -> kept, and opt with it.
        assert_eq!(kept, ["var", "new", "etc2", "etc2/f", "opt", "opt/sub"]);
    }

    #[test]
    fn last_lines_keeps_the_tail() {
        let mut l = LastLines::default();
        for i in 0..30 {
            l.push(format!("line {i}\r\n").as_bytes());
        }
        l.push(b"partial");
        let lines = l.finish();
        assert_eq!(lines.len(), LAST_LINES);
        assert_eq!(lines.first().unwrap(), "line 11");
        assert_eq!(lines.last().unwrap(), "partial");
    }
}
