//! What to run and how: the [`Spec`] handed from the host side to the helper process
//! (serialized as JSON), and its validation.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::SandboxError;

/// The network the command sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
    /// The host's network namespace; the host's `/etc/resolv.conf` and `/etc/hosts` are
    /// bind-mounted read-only.
    Host,
    /// A new network namespace with only `lo` (brought up); `/etc/hosts` maps `localhost`.
    None,
}

/// Where a standard stream of the command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stdio {
    /// `/dev/null`.
    Null,
    /// The caller's own stream.
    Inherit,
    /// For output: stdout and stderr are delivered, in chunks as they are read, to the
    /// `on_output` callback of [`crate::Sandbox::run`]. For stdin: the bytes of
    /// [`crate::RunOptions::stdin`] are written to the command, then stdin is closed.
    Pipe,
}

/// How much of Docker's default confinement applies (`RUN --security`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Security {
    /// Docker's defaults: the default capability set (`CHOWN DAC_OVERRIDE FOWNER FSETID KILL
    /// SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP`,
    /// also as bounding set), read-only `/proc/{bus,fs,irq,sys,sysrq-trigger}` and masked
    /// `/proc/kcore` & co.
    #[default]
    Sandboxed,
    /// All capabilities and no masked paths (`RUN --security=insecure`).
    Insecure,
}

/// What is mounted at [`Mount::target`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MountKind {
    /// A recursive bind mount of a host file or directory (cache, secret, bind mounts).
    Bind {
        /// Absolute host path.
        source: PathBuf,
        /// Mount it read-only (recursively).
        readonly: bool,
    },
    /// A fresh tmpfs (`nosuid`, the kernel's default mode 1777, `size` in bytes when given),
    /// as BuildKit's `RUN --mount=type=tmpfs`.
    Tmpfs {
        /// Size limit in bytes.
        size: Option<u64>,
    },
}

/// An extra mount inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// What to mount.
    pub kind: MountKind,
    /// Absolute path inside the container; created when missing (and reported in
    /// [`crate::RunOutcome::created_mountpoints`]).
    pub target: String,
}

/// Everything needed to run one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// Read-only layer directories, bottom layer first.
    pub lower: Vec<PathBuf>,
    /// The overlay upper directory receiving the changes; `None` mounts the root read-only
    /// (then every mount point must already exist in the layers, or setup fails).
    pub upper: Option<PathBuf>,
    /// The overlay work directory (an empty directory on the same filesystem as `upper`);
    /// required with `upper`.
    pub work: Option<PathBuf>,
    /// An empty host directory used as the mount point of the root filesystem.
    pub rootfs: PathBuf,
    /// The command; `args[0]` is looked up in the `PATH` of `env` when it has no `/`.
    pub args: Vec<String>,
    /// The complete environment of the command (`KEY=value`).
    pub env: Vec<String>,
    /// Absolute working directory inside the container; it must exist.
    pub cwd: String,
    /// User id of the command.
    pub uid: u32,
    /// Group id of the command.
    pub gid: u32,
    /// Supplementary group ids.
    pub additional_gids: Vec<u32>,
    /// Network namespace choice.
    pub network: Network,
    /// Hostname inside the UTS namespace (1 to 64 bytes).
    pub hostname: String,
    /// Extra mounts, mounted in this order after `/proc`, `/dev`, `/sys` and `/etc` files.
    pub mounts: Vec<Mount>,
    /// The command's stdin.
    pub stdin: Stdio,
    /// The command's stdout and stderr.
    pub output: Stdio,
    /// Capabilities and masked paths.
    #[serde(default)]
    pub security: Security,
}

impl Spec {
    /// A spec with Docker-like defaults: no layers, cwd `/`, root, no network, hostname
    /// `sandbox`, stdin `/dev/null`, output piped to the callback, empty environment.
    pub fn new(rootfs: PathBuf, args: Vec<String>) -> Spec {
        Spec {
            lower: Vec::new(),
            upper: None,
            work: None,
            rootfs,
            args,
            env: Vec::new(),
            cwd: "/".to_string(),
            uid: 0,
            gid: 0,
            additional_gids: Vec::new(),
            network: Network::None,
            hostname: "sandbox".to_string(),
            mounts: Vec::new(),
            stdin: Stdio::Null,
            output: Stdio::Pipe,
            security: Security::Sandboxed,
        }
    }

    /// Checks what the helper relies on; the same check runs on both sides.
    pub fn validate(&self) -> Result<(), SandboxError> {
        let bad = |msg: String| Err(SandboxError::InvalidSpec(msg));
        if self.args.is_empty() || self.args[0].is_empty() {
            return bad("the command (args) is empty".into());
        }
        for s in self
            .args
            .iter()
            .chain(&self.env)
            .chain([&self.cwd, &self.hostname])
        {
            if s.contains('\0') {
                return bad(format!("{s:?} contains a NUL byte"));
            }
        }
        for e in &self.env {
            if !e.contains('=') || e.starts_with('=') {
                return bad(format!("environment entry {e:?} is not KEY=value"));
            }
        }
        if self.hostname.is_empty() || self.hostname.len() > 64 {
            return bad(format!(
                "hostname {:?} must have 1 to 64 bytes",
                self.hostname
            ));
        }
        if !self.cwd.starts_with('/') {
            return bad(format!("working directory {:?} is not absolute", self.cwd));
        }
        check_host_path("rootfs", &self.rootfs)?;
        for l in &self.lower {
            check_host_path("lower", l)?;
        }
        match (&self.upper, &self.work) {
            (Some(u), Some(w)) => {
                check_host_path("upper", u)?;
                check_host_path("work", w)?;
            }
            (Some(_), None) => return bad("an upper directory needs a work directory".into()),
            (None, Some(_)) => return bad("a work directory without an upper directory".into()),
            (None, None) => {}
        }
        for m in &self.mounts {
            if !m.target.starts_with('/') || m.target.contains('\0') {
                return bad(format!(
                    "mount target {:?} is not an absolute path",
                    m.target
                ));
            }
            if container_components(&m.target).is_empty() {
                return bad(format!("mount target {:?} is the root", m.target));
            }
            if let MountKind::Bind { source, .. } = &m.kind {
                check_host_path("mount source", source)?;
            }
        }
        Ok(())
    }
}

/// Host paths must be absolute, without `..`, and UTF-8 free of NUL (the spec travels as JSON).
fn check_host_path(what: &str, p: &Path) -> Result<(), SandboxError> {
    let ok = p.is_absolute()
        && p.to_str().is_some_and(|s| !s.contains('\0'))
        && !p.components().any(|c| c == Component::ParentDir);
    if ok {
        Ok(())
    } else {
        Err(SandboxError::InvalidSpec(format!(
            "{what} path {} must be absolute, UTF-8, without `..`",
            p.display()
        )))
    }
}

/// The normal components of a container path (`.` and empty dropped, `..` pops, clamped at
/// the root like Go's `path.Clean("/" + p)`).
pub(crate) fn container_components(p: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Spec {
        let mut s = Spec::new(
            "/tmp/r".into(),
            vec!["sh".into(), "-c".into(), "echo hi".into()],
        );
        s.lower = vec!["/l/0".into(), "/l/1".into()];
        s.upper = Some("/u".into());
        s.work = Some("/w".into());
        s.env = vec!["PATH=/bin".into(), "A=b=c".into()];
        s.uid = 1000;
        s.gid = 1000;
        s.additional_gids = vec![27, 44];
        s.network = Network::Host;
        s.mounts = vec![
            Mount {
                kind: MountKind::Bind {
                    source: "/cache".into(),
                    readonly: false,
                },
                target: "/root/.cache".into(),
            },
            Mount {
                kind: MountKind::Tmpfs {
                    size: Some(1 << 20),
                },
                target: "/tmp".into(),
            },
        ];
        s
    }

    #[test]
    fn spec_round_trips_through_json() {
        let s = sample();
        let json = serde_json::to_string(&s).expect("serialize");
        let back: Spec = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, s);
        let v: serde_json::Value = serde_json::from_str(&json).expect("value");
        assert_eq!(v["network"], "host");
        assert_eq!(v["mounts"][0]["kind"]["bind"]["source"], "/cache");
        assert_eq!(v["mounts"][1]["kind"]["tmpfs"]["size"], 1 << 20);
        assert_eq!(v["security"], "sandboxed");
    }

    #[test]
    fn missing_security_defaults_to_sandboxed() {
        let mut v = serde_json::to_value(sample()).expect("value");
        v.as_object_mut().expect("object").remove("security");
        let back: Spec = serde_json::from_value(v).expect("deserialize");
        assert_eq!(back.security, Security::Sandboxed);
    }

    #[test]
    fn unknown_enum_values_are_errors() {
        let mut v = serde_json::to_value(sample()).expect("value");
        v["network"] = "bridge".into();
        assert!(serde_json::from_value::<Spec>(v).is_err());
    }

    #[test]
    fn validation_rejects_bad_specs() {
        assert!(sample().validate().is_ok());
        type Change = Box<dyn Fn(&mut Spec)>;
        let cases: Vec<(&str, Change)> = vec![
            ("empty", Box::new(|s| s.args.clear())),
            ("NUL", Box::new(|s| s.args.push("a\0b".into()))),
            ("KEY=value", Box::new(|s| s.env.push("NOEQUALS".into()))),
            ("hostname", Box::new(|s| s.hostname.clear())),
            ("not absolute", Box::new(|s| s.cwd = "rel".into())),
            ("absolute", Box::new(|s| s.lower.push("rel/dir".into()))),
            ("absolute", Box::new(|s| s.rootfs = "/a/../b".into())),
            ("work directory", Box::new(|s| s.work = None)),
            (
                "not an absolute path",
                Box::new(|s| s.mounts[0].target = "x".into()),
            ),
            (
                "is the root",
                Box::new(|s| s.mounts[0].target = "/..".into()),
            ),
        ];
        for (needle, change) in cases {
            let mut s = sample();
            change(&mut s);
            let err = s.validate().expect_err(needle).to_string();
            assert!(err.contains(needle), "{err} should mention {needle}");
        }
    }

    #[test]
    fn container_paths_are_cleaned_at_the_root() {
        assert_eq!(container_components("/a/./b//c/"), ["a", "b", "c"]);
        assert_eq!(
            container_components("/../../etc/x/../hosts"),
            ["etc", "hosts"]
        );
        assert!(container_components("/").is_empty());
    }
}
