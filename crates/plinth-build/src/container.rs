//! `plinth run`: a container from a store image, in plinth's sandbox, with the image's
//! Entrypoint/Cmd/Env/User/WorkingDir, over the extracted layers and a throwaway upper directory.

use std::path::PathBuf;

use plinth_oci::layer;
use plinth_oci::store::{Store, StoreError};
use plinth_sandbox::{Mount, MountKind, Network, Sandbox, Security, Spec, Stdio};

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
    let _session = store.session()?;
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
    if args.is_empty() {
        return Err(ContainerError::Invalid(format!(
            "{}: the image has no Entrypoint or Cmd; give a command",
            opts.image
        )));
    }
    let mut env = cfg.env.clone();
    for e in &opts.env {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        env.retain(|x| x.split_once('=').map_or(x.as_str(), |(k, _)| k) != key);
        env.push(e.clone());
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

    let tmp_root = store.path().join(".plinth/tmp");
    let dirs = OverlayDirs::new(&tmp_root, "container-")
        .map_err(|(path, source)| ContainerError::Io { path, source })?;
    let (uid, gid, additional_gids) = user.ids();
    let spec = Spec {
        lower: lowers,
        upper: Some(dirs.upper()),
        work: Some(dirs.work()),
        rootfs: dirs.rootfs(),
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
        stdin: Stdio::Inherit,
        output: Stdio::Inherit,
        security: Security::Sandboxed,
    };
    let sandbox = match &opts.sandbox_helper {
        Some(p) => Sandbox::new(p.clone()),
        None => Sandbox::current_exe(),
    };
    let outcome = sandbox.run(&spec, &mut |_, _| {})?;
    let code = outcome.status.shell_code();
    let upper = match opts.keep {
        Keep::Remove => None,
        Keep::Keep => Some(dirs.dir.keep().join("upper")),
    };
    Ok(ContainerExit { code, upper })
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
