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
    #[error("the command exited with code {code}{}", tail(.last_lines))]
    Exit { code: i32, last_lines: Vec<String> },
    #[error("the command was killed by signal {signal}{}", tail(.last_lines))]
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

fn tail(lines: &[String]) -> String {
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
    let entries = layer::entries_from_dir(&upper, "")?;
    Ok(RunChanges {
        entries,
        scratch: dirs.dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
