//! Mounting the overlay root, whatever the number and length of the layer paths.
//!
//! `mount(2)` copies at most one page of option data (4096 bytes), and overlay options are
//! one string. [`plan`] picks, in order:
//! 1. [`Plan::Absolute`]: the classic option string with absolute paths, when it fits;
//! 2. [`Plan::Relative`]: `chdir` into the deepest common parent of every layer, upper and
//!    work directory, and the same string with paths relative to it (layers of one store
//!    share a long prefix, so this usually fits dozens more);
//! 3. [`Plan::FsConfig`]: the fd-based API (`fsopen`/`fsconfig`/`fsmount`/`move_mount`),
//!    one `lowerdir+` value per layer (Linux 6.8), still relative to the common parent
//!    because each `fsconfig` string is limited to 256 bytes.
//!
//! Options are always `redirect_dir=off,metacopy=off,index=off` so the upper directory is
//! a plain diff (whiteouts and opaque directories only). Path characters special to
//! overlay's option parser (`\`, `,`, `:`) are backslash-escaped in the string forms.

use std::path::{Component, Path, PathBuf};

use rustix::fs::CWD;
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, MoveMountFlags, fsconfig_create,
    fsconfig_set_string, fsmount, fsopen, move_mount,
};

/// The largest option string `mount(2)` accepts (a 4 KiB page with the NUL).
pub(crate) const LEGACY_LIMIT: usize = 4095;
/// The largest `fsconfig` string value (the kernel copies at most 256 bytes with the NUL).
pub(crate) const FSCONFIG_LIMIT: usize = 255;

const FIXED_OPTIONS: [(&str, &str); 3] = [
    ("redirect_dir", "off"),
    ("metacopy", "off"),
    ("index", "off"),
];

/// How the overlay will be mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    Absolute {
        data: String,
    },
    Relative {
        dir: PathBuf,
        data: String,
    },
    FsConfig {
        dir: PathBuf,
        lowers: Vec<String>,
        upper: Option<(String, String)>,
    },
}

fn escape(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    for c in p.chars() {
        if matches!(c, '\\' | ',' | ':') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn option_string(lowers: &[String], upper: Option<&(String, String)>) -> String {
    let lower: Vec<String> = lowers.iter().map(|l| escape(l)).collect();
    let mut data = format!("lowerdir={}", lower.join(":"));
    if let Some((u, w)) = upper {
        data.push_str(&format!(",upperdir={},workdir={}", escape(u), escape(w)));
    }
    for (k, v) in FIXED_OPTIONS {
        data.push_str(&format!(",{k}={v}"));
    }
    data
}

fn common_parent(paths: &[&Path]) -> PathBuf {
    let mut common: Vec<Component> = match paths.first() {
        Some(p) => p.components().collect(),
        None => return PathBuf::from("/"),
    };
    for p in &paths[1..] {
        let n = common
            .iter()
            .zip(p.components())
            .take_while(|(a, b)| *a == b)
            .count();
        common.truncate(n);
    }
    // A path equal to the common prefix would become "."; keep the parent so every
    // relative path names its directory.
    if paths.iter().any(|p| p.components().count() == common.len()) {
        common.pop();
    }
    common.iter().collect()
}

fn relative(p: &Path, base: &Path) -> String {
    p.strip_prefix(base)
        .map(|r| r.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Chooses how to mount `lowers` (top layer first) with an optional (upper, work).
pub(crate) fn plan(lowers: &[&Path], upper: Option<(&Path, &Path)>) -> Result<Plan, String> {
    let abs_lowers: Vec<String> = lowers.iter().map(|p| text(p)).collect();
    let abs_upper = upper.map(|(u, w)| (text(u), text(w)));
    let data = option_string(&abs_lowers, abs_upper.as_ref());
    if data.len() <= LEGACY_LIMIT {
        return Ok(Plan::Absolute { data });
    }
    let mut all: Vec<&Path> = lowers.to_vec();
    if let Some((u, w)) = upper {
        all.extend([u, w]);
    }
    let dir = common_parent(&all);
    let rel_lowers: Vec<String> = lowers.iter().map(|p| relative(p, &dir)).collect();
    let rel_upper = upper.map(|(u, w)| (relative(u, &dir), relative(w, &dir)));
    let data = option_string(&rel_lowers, rel_upper.as_ref());
    if data.len() <= LEGACY_LIMIT {
        return Ok(Plan::Relative { dir, data });
    }
    let values = rel_lowers
        .iter()
        .chain(rel_upper.iter().flat_map(|(u, w)| [u, w]));
    if let Some(long) = values.into_iter().find(|v| v.len() > FSCONFIG_LIMIT) {
        return Err(format!(
            "overlay: layer path {long:?} (relative to {}) is longer than {FSCONFIG_LIMIT} bytes",
            dir.display()
        ));
    }
    Ok(Plan::FsConfig {
        dir,
        lowers: rel_lowers,
        upper: rel_upper,
    })
}

/// Mounts the overlay at `target` following `plan` (may change the current directory).
pub(crate) fn mount(plan: &Plan, target: &Path, readonly: bool) -> Result<(), String> {
    let flags = if readonly {
        MountFlags::RDONLY
    } else {
        MountFlags::empty()
    };
    let legacy = |data: &str| {
        let data =
            std::ffi::CString::new(data).map_err(|_| "overlay options contain NUL".to_string())?;
        rustix::mount::mount("overlay", target, "overlay", flags, data.as_c_str())
            .map_err(|e| format!("mounting overlay at {}: {e}", target.display()))
    };
    match plan {
        Plan::Absolute { data } => legacy(data),
        Plan::Relative { dir, data } => {
            chdir(dir)?;
            legacy(data)
        }
        Plan::FsConfig { dir, lowers, upper } => {
            chdir(dir)?;
            let fs = fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)
                .map_err(|e| format!("fsopen(overlay): {e}"))?;
            let set = |k: &str, v: &str| {
                fsconfig_set_string(&fs, k, v).map_err(|e| {
                    format!(
                        "overlay option {k}={v:?} (relative to {}): {e}{}",
                        dir.display(),
                        log(&fs)
                    )
                })
            };
            for l in lowers {
                set("lowerdir+", l)?;
            }
            if let Some((u, w)) = upper {
                set("upperdir", u)?;
                set("workdir", w)?;
            }
            for (k, v) in FIXED_OPTIONS {
                set(k, v)?;
            }
            fsconfig_create(&fs).map_err(|e| format!("creating the overlay: {e}{}", log(&fs)))?;
            let attrs = if readonly {
                MountAttrFlags::MOUNT_ATTR_RDONLY
            } else {
                MountAttrFlags::empty()
            };
            let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs)
                .map_err(|e| format!("fsmount(overlay): {e}"))?;
            move_mount(
                &mnt,
                "",
                CWD,
                target,
                MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
            )
            .map_err(|e| format!("moving the overlay to {}: {e}", target.display()))
        }
    }
}

fn chdir(dir: &Path) -> Result<(), String> {
    rustix::process::chdir(dir).map_err(|e| format!("chdir {}: {e}", dir.display()))
}

/// The kernel's messages about a failed `fsconfig`, read from the fs context fd.
fn log(fs: &impl std::os::fd::AsFd) -> String {
    let mut out = String::new();
    let mut buf = [0u8; 512];
    for _ in 0..16 {
        match rustix::io::read(fs, &mut buf) {
            Ok(n) if n > 0 => {
                out.push_str(" [");
                out.push_str(String::from_utf8_lossy(&buf[..n]).trim_end());
                out.push(']');
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(v: &[String]) -> Vec<&Path> {
        v.iter().map(Path::new).collect()
    }

    #[test]
    fn short_layer_lists_use_absolute_paths() {
        let l = vec!["/s/l2".to_string(), "/s/l1".into()];
        let p = plan(&paths(&l), Some((Path::new("/s/u"), Path::new("/s/w")))).expect("plan");
        assert_eq!(
            p,
            Plan::Absolute {
                data: "lowerdir=/s/l2:/s/l1,upperdir=/s/u,workdir=/s/w,redirect_dir=off,metacopy=off,index=off"
                    .into()
            }
        );
    }

    #[test]
    fn special_characters_are_escaped() {
        let l = vec!["/a,b:c\\d".to_string(), "/e".into()];
        let Plan::Absolute { data } = plan(&paths(&l), None).expect("plan") else {
            panic!("expected absolute plan")
        };
        assert!(
            data.starts_with("lowerdir=/a\\,b\\:c\\\\d:/e,redirect_dir=off"),
            "{data}"
        );
    }

    #[test]
    fn long_common_prefix_goes_relative() {
        let base = format!("/{}", "p".repeat(200));
        let l: Vec<String> = (0..40).map(|i| format!("{base}/layers/{i:03}")).collect();
        let (u, w) = (format!("{base}/run/u"), format!("{base}/run/w"));
        let p = plan(&paths(&l), Some((Path::new(&u), Path::new(&w)))).expect("plan");
        let Plan::Relative { dir, data } = p else {
            panic!("expected relative plan: {p:?}")
        };
        assert_eq!(dir, PathBuf::from(&base));
        assert!(
            data.starts_with("lowerdir=layers/000:layers/001:"),
            "{data}"
        );
        assert!(data.contains(",upperdir=run/u,workdir=run/w,"), "{data}");
        assert!(data.len() <= LEGACY_LIMIT);
    }

    #[test]
    fn very_many_layers_use_fsconfig() {
        let l: Vec<String> = (0..200).map(|i| format!("/store/layers/{i:064}")).collect();
        let p = plan(&paths(&l), None).expect("plan");
        let Plan::FsConfig { dir, lowers, upper } = p else {
            panic!("expected fsconfig: {p:?}")
        };
        assert_eq!(dir, PathBuf::from("/store/layers"));
        assert_eq!(lowers.len(), 200);
        assert_eq!(lowers[0], format!("{:064}", 0));
        assert_eq!(upper, None);
    }

    #[test]
    fn a_layer_equal_to_the_common_prefix_stays_named() {
        let l = vec!["/s/a".to_string(), "/s/a/b".into()];
        assert_eq!(common_parent(&paths(&l)), PathBuf::from("/s"));
    }

    #[test]
    fn overlong_single_paths_are_errors() {
        let l: Vec<String> = (0..30)
            .map(|i| format!("/{i}/{}", "x".repeat(300)))
            .collect();
        let err = plan(&paths(&l), None).expect_err("too long");
        assert!(err.contains("longer than 255 bytes"), "{err}");
    }
}
