//! `plinth run`: a container from a store image, in plinth's sandbox, with the image's
//! Entrypoint/Cmd/Env/User/WorkingDir, over the extracted layers and a throwaway upper directory.

use std::path::PathBuf;

use plinth_oci::layer;
use plinth_oci::store::{Store, StoreError};
use plinth_sandbox::{
    Mount, MountKind, Network, OutputStream, Running, Sandbox, Security, Spec, Stdio,
};

use crate::engine::DEFAULT_PATH;
use crate::run::OverlayDirs;
use crate::userdb;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub image: String,
    /// Replaces the image's Cmd (the Entrypoint stays) when not empty.
    pub command: Vec<String>,
    /// Replaces the image's Entrypoint when set (an empty string clears it).
    pub entrypoint: Option<String>,
    /// `K=V` added to (or replacing in) the image's environment.
    pub env: Vec<String>,
    /// `SRC:DST[:ro]` bind mounts.
    pub volumes: Vec<String>,
    pub network: Network,
    /// Overrides the image's USER.
    pub user: Option<String>,
    /// Overrides the image's WorkingDir.
    pub workdir: Option<String>,
    /// Keep the container's writable layer after it exits (its path is returned).
    pub keep: Keep,
    /// The executable that runs the sandbox (`None`: this process's own).
    pub sandbox_helper: Option<PathBuf>,
}

/// Whether the container's writable layer is removed when it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Keep {
    #[default]
    Remove,
    Keep,
}

/// How the container ended.
#[derive(Debug)]
pub struct ContainerExit {
    /// The exit code, or 128 + signal when it was killed.
    pub code: i32,
    /// The writable layer, when kept.
    pub upper: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    // Transparent: the CLI prints error chains, so a message that repeats its source would show twice.
    #[error(transparent)]
    Layer(#[from] layer::LayerError),
    #[error(transparent)]
    User(#[from] userdb::UserError),
    #[error(transparent)]
    Sandbox(#[from] plinth_sandbox::SandboxError),
    #[error("{path}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Runs a container and waits for it.
pub fn run(store: &Store, opts: &RunOptions) -> Result<ContainerExit, ContainerError> {
    let prepared = Prepared::new(store, opts)?;
    let layer = WritableLayer::new(store)?;
    let mut spec = prepared.spec(&layer)?;
    spec.stdin = Stdio::Inherit;
    spec.output = Stdio::Inherit;
    let outcome = prepared.sandbox.run(&spec, &mut |_, _| {})?;
    let code = outcome.status.shell_code();
    let upper = match opts.keep {
        Keep::Remove => None,
        Keep::Keep => Some(layer.keep()),
    };
    Ok(ContainerExit { code, upper })
}

/// A container's writable layer (overlay upper and work directories, and the root mount
/// point) under the store's `.plinth/tmp`. Several runs may use it one after the other, each
/// seeing what the previous ones wrote (`plinth test`'s setup, command and teardown, as
/// container-structure-test commits between them). Removed when dropped, unless kept.
pub struct WritableLayer {
    dirs: OverlayDirs,
}

impl std::fmt::Debug for WritableLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WritableLayer")
            .field("dir", &self.dirs.dir.path())
            .finish()
    }
}

impl WritableLayer {
    /// A new, empty writable layer.
    pub fn new(store: &Store) -> Result<WritableLayer, ContainerError> {
        let tmp_root = store.path().join(".plinth/tmp");
        let dirs = OverlayDirs::new(&tmp_root, "container-")
            .map_err(|(path, source)| ContainerError::Io { path, source })?;
        Ok(WritableLayer { dirs })
    }

    /// The upper directory: what the container's runs changed.
    pub fn upper(&self) -> PathBuf {
        self.dirs.upper()
    }

    /// Keeps the directories on disk and returns the upper directory.
    pub fn keep(self) -> PathBuf {
        self.dirs.dir.keep().join("upper")
    }
}

/// A container worked out from an image and [`RunOptions`] (the image resolved, its layers
/// extracted, user, environment and mounts set), ready to run, possibly several times and
/// with other commands ([`Prepared::set_args`]). Holds a store session, so the image's
/// layers stay while it lives.
#[derive(Debug)]
pub struct Prepared {
    _session: plinth_oci::store::BuildSession,
    image: String,
    lowers: Vec<PathBuf>,
    args: Vec<String>,
    env: Vec<String>,
    cwd: String,
    uid: u32,
    gid: u32,
    additional_gids: Vec<u32>,
    network: Network,
    hostname: String,
    mounts: Vec<Mount>,
    sandbox: Sandbox,
}

/// A run whose output was captured.
#[derive(Debug, Clone)]
pub struct CapturedExit {
    /// The exit code (128 + signal when killed); `None` when the timeout struck first (the
    /// container was then killed).
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub duration: std::time::Duration,
}

impl Prepared {
    /// Resolves the image and works out everything but the writable layer. `opts.keep` is
    /// not used here (the caller owns the [`WritableLayer`]).
    pub fn new(store: &Store, opts: &RunOptions) -> Result<Prepared, ContainerError> {
        let session = store.session()?;
        let resolved = store.resolve(&opts.image)?;
        let image = store.image(&resolved.descriptor)?;
        let cfg = &image.config.config;

        let entrypoint: Vec<String> = match &opts.entrypoint {
            Some(e) if e.is_empty() => Vec::new(),
            Some(e) => vec![e.clone()],
            None => cfg.entrypoint.clone().unwrap_or_default(),
        };
        let cmd: Vec<String> = if opts.command.is_empty() {
            if opts.entrypoint.is_some() {
                Vec::new()
            } else {
                cfg.cmd.clone().unwrap_or_default()
            }
        } else {
            opts.command.clone()
        };
        let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
        let mut env = cfg.env.clone();
        for e in &opts.env {
            set_env(&mut env, e);
        }
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(format!("PATH={DEFAULT_PATH}"));
        }

        let mut lowers = Vec::new();
        for (desc, diff_id) in image
            .manifest
            .layers
            .iter()
            .zip(image.config.rootfs.diff_ids.iter())
        {
            lowers.push(store.extracted_layer(desc, diff_id)?);
        }
        let user_spec = opts
            .user
            .clone()
            .or_else(|| cfg.user.clone())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "0".into());
        let passwd = read_lower_file(&lowers, "etc/passwd");
        let group = read_lower_file(&lowers, "etc/group");
        let user = userdb::resolve_exec_user(&user_spec, passwd.as_deref(), group.as_deref())?;
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={}", user.home));
        }

        let mut mounts = Vec::new();
        for v in &opts.volumes {
            let parts: Vec<&str> = v.split(':').collect();
            let (src, dst, readonly) = match parts.as_slice() {
                [s, d] => (*s, *d, false),
                [s, d, "ro"] => (*s, *d, true),
                [s, d, "rw"] => (*s, *d, false),
                _ => {
                    return Err(ContainerError::Invalid(format!(
                        "-v {v}: expected SRC:DST[:ro|rw]"
                    )));
                }
            };
            let source = std::fs::canonicalize(src).map_err(|e| ContainerError::Io {
                path: PathBuf::from(src),
                source: e,
            })?;
            if !dst.starts_with('/') {
                return Err(ContainerError::Invalid(format!(
                    "-v {v}: the destination must be an absolute path"
                )));
            }
            mounts.push(Mount {
                kind: MountKind::Bind { source, readonly },
                target: dst.to_string(),
            });
        }
        let (uid, gid, additional_gids) = user.ids();
        Ok(Prepared {
            _session: session,
            image: opts.image.clone(),
            lowers,
            args,
            env,
            cwd: opts
                .workdir
                .clone()
                .or_else(|| cfg.working_dir.clone())
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            uid,
            gid,
            additional_gids,
            network: opts.network,
            hostname: resolved.descriptor.digest.hex()[..12].to_string(),
            mounts,
            sandbox: match &opts.sandbox_helper {
                Some(p) => Sandbox::new(p.clone()),
                None => Sandbox::current_exe(),
            },
        })
    }

    /// The command: Entrypoint + Cmd as the options made them.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Replaces the whole command (entrypoint included).
    pub fn set_args(&mut self, args: Vec<String>) {
        self.args = args;
    }

    /// The complete environment (`KEY=value`).
    pub fn env(&self) -> &[String] {
        &self.env
    }

    /// Sets (or replaces) one variable, `KEY=value`.
    pub fn set_env(&mut self, entry: &str) {
        set_env(&mut self.env, entry);
    }

    /// The user and group ids the command runs as.
    pub fn ids(&self) -> (u32, u32) {
        (self.uid, self.gid)
    }

    /// The working directory.
    pub fn cwd(&self) -> &str {
        &self.cwd
    }

    fn spec(&self, layer: &WritableLayer) -> Result<Spec, ContainerError> {
        if self.args.is_empty() {
            return Err(ContainerError::Invalid(format!(
                "{}: the image has no Entrypoint or Cmd; give a command",
                self.image
            )));
        }
        Ok(Spec {
            lower: self.lowers.clone(),
            upper: Some(layer.dirs.upper()),
            work: Some(layer.dirs.work()),
            rootfs: layer.dirs.rootfs(),
            args: self.args.clone(),
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            uid: self.uid,
            gid: self.gid,
            additional_gids: self.additional_gids.clone(),
            network: self.network,
            hostname: self.hostname.clone(),
            mounts: self.mounts.clone(),
            stdin: Stdio::Null,
            output: Stdio::Pipe,
            security: Security::Sandboxed,
        })
    }

    /// Runs the command over `layer` with stdin from `/dev/null`, capturing its output, and
    /// kills it when `timeout` passes first. A command that cannot be executed (not found,
    /// not executable) is an error, as a sandbox setup failure is.
    pub fn run_captured(
        &self,
        layer: &WritableLayer,
        timeout: Option<std::time::Duration>,
    ) -> Result<CapturedExit, ContainerError> {
        let started = std::time::Instant::now();
        let spec = self.spec(layer)?;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let Some(timeout) = timeout else {
            let outcome = self.sandbox.run(&spec, &mut |s, b| match s {
                OutputStream::Stdout => stdout.extend_from_slice(b),
                OutputStream::Stderr => stderr.extend_from_slice(b),
            })?;
            return Ok(CapturedExit {
                code: Some(outcome.status.shell_code()),
                stdout,
                stderr,
                duration: started.elapsed(),
            });
        };
        let mut running = self.sandbox.start(&spec, &Default::default())?;
        let left = timeout.saturating_sub(started.elapsed());
        let code = match running.wait(left) {
            Some(Ok(status)) => Some(status.shell_code()),
            Some(Err(message)) => return Err(ContainerError::Invalid(message)),
            None => {
                running.kill();
                None
            }
        };
        let (stdout, stderr) = running.output();
        Ok(CapturedExit {
            code,
            stdout,
            stderr,
            duration: started.elapsed(),
        })
    }

    /// Starts the command in the background over `layer` (which the handle then owns) and
    /// returns once it is about to be executed.
    pub fn start(&self, layer: WritableLayer) -> Result<Background, ContainerError> {
        let spec = self.spec(&layer)?;
        let running = self.sandbox.start(&spec, &Default::default())?;
        Ok(Background { running, layer })
    }
}

/// A container running in the background ([`Prepared::start`]). Dropping it kills the
/// container and removes its writable layer.
#[derive(Debug)]
pub struct Background {
    // Field order: the container dies before its layer is removed.
    running: Running,
    layer: WritableLayer,
}

impl Background {
    /// The host pid of the container's PID 1.
    pub fn pid(&self) -> i32 {
        self.running.pid()
    }

    /// Sends `sig` to the container's PID 1.
    pub fn signal(&self, sig: i32) -> Result<(), ContainerError> {
        Ok(self.running.signal(sig)?)
    }

    /// Waits up to `timeout`: `Some(Ok(code))` (128 + signal when killed), `Some(Err(message))`
    /// when the sandbox failed (e.g. the command could not be executed), `None` while running.
    pub fn wait(&self, timeout: std::time::Duration) -> Option<Result<i32, String>> {
        self.running
            .wait(timeout)
            .map(|r| r.map(|s| s.shell_code()))
    }

    /// Kills the container and waits for it.
    pub fn kill(&mut self) {
        self.running.kill();
    }

    /// Output so far: (stdout, stderr).
    pub fn output(&self) -> (Vec<u8>, Vec<u8>) {
        self.running.output()
    }

    /// The writable layer's upper directory.
    pub fn upper(&self) -> PathBuf {
        self.layer.upper()
    }
}

fn set_env(env: &mut Vec<String>, e: &str) {
    let key = e.split_once('=').map_or(e, |(k, _)| k);
    env.retain(|x| x.split_once('=').map_or(x.as_str(), |(k, _)| k) != key);
    env.push(e.to_string());
}

/// Reads a small file from extracted layers (top first), honouring overlay whiteouts.
pub(crate) fn read_lower_file(lowers: &[PathBuf], rel: &str) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileTypeExt;
    for dir in lowers.iter().rev() {
        let p = dir.join(rel);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_file() => return std::fs::read(&p).ok(),
            Ok(m) if m.file_type().is_char_device() => return None,
            Ok(_) => return None,
            Err(_) => continue,
        }
    }
    None
}
