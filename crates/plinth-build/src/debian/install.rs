//! Installing packages into a fresh root filesystem, the way debootstrap and mmdebstrap do:
//!
//! 1. read every .deb's control file and plan the order (dependencies first; the Essential
//!    packages and what they depend on — the "essential closure" — before the rest);
//! 2. unpack the essential closure's files natively (so the root has a shell, libc and dpkg);
//! 3. merge `/bin`, `/sbin`, `/lib*` into `/usr` (merged-/usr, Debian's layout since bookworm);
//! 4. in plinth's sandbox, with no network: `dpkg --install` the essential closure (which
//!    unpacks them again properly and runs their maintainer scripts, filling dpkg's database),
//!    then `dpkg --install` the rest;
//! 5. remove what a root filesystem must not carry (logs, caches, `*-old` files, machine-id).
//!
//! dpkg runs with `--force-depends` (as mmdebstrap's essential phase does: the set is complete,
//! and dpkg still configures dependencies before dependents) and `--force-unsafe-io` (the tree
//! is committed atomically as a layer afterwards, so per-file fsyncs buy nothing).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use plinth_debian::Package;
use plinth_oci::layer::{ExtractMode, ExtractOptions, extract_layer_opts};
use plinth_sandbox::{Mount, MountKind, Network, RunOptions, Sandbox, Spec, Stdio};

use super::sources::SuiteSource;
use super::{DebianError, RootfsEvent};
use crate::run::{LastLines, OverlayDirs};

/// The order packages are installed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallPlan {
    /// Indexes of the essential closure, in install order.
    pub essential: Vec<usize>,
    /// Indexes of the other packages, in install order.
    pub rest: Vec<usize>,
}

/// Packages debootstrap installs before everything else: the users and groups and the base
/// directory tree the other maintainer scripts rely on.
const FIRST: [&str; 2] = ["base-passwd", "base-files"];

/// Plans the installation of `pkgs` (a complete, resolved set): the essential closure (Essential
/// packages and their Pre-Depends/Depends within the set, transitively) first, each part in
/// dependency order (depth-first, name order for ties, cycles broken where they close).
pub fn plan(pkgs: &[Package]) -> InstallPlan {
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    let mut provided: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in pkgs.iter().enumerate() {
        by_name.insert(p.name.as_str(), i);
        for pr in &p.provides {
            provided.entry(pr.name.as_str()).or_default().push(i);
        }
    }
    let edges: Vec<Vec<usize>> = pkgs
        .iter()
        .map(|p| {
            p.pre_depends
                .iter()
                .chain(&p.depends)
                .filter_map(|alts| {
                    alts.iter().find_map(|r| {
                        by_name.get(r.name.as_str()).copied().or_else(|| {
                            provided
                                .get(r.name.as_str())
                                .and_then(|v| v.first().copied())
                        })
                    })
                })
                .collect()
        })
        .collect();
    let mut names: Vec<usize> = (0..pkgs.len()).collect();
    names.sort_by(|&a, &b| pkgs[a].name.cmp(&pkgs[b].name));
    // The essential closure.
    let mut essential = BTreeSet::new();
    let mut stack: Vec<usize> = names
        .iter()
        .copied()
        .filter(|&i| pkgs[i].essential)
        .collect();
    while let Some(i) = stack.pop() {
        if essential.insert(i) {
            stack.extend(edges[i].iter().copied());
        }
    }
    let mut placed = vec![false; pkgs.len()];
    let order_of = |subset: &dyn Fn(usize) -> bool, placed: &mut Vec<bool>| -> Vec<usize> {
        let mut out = Vec::new();
        let mut roots: Vec<usize> = FIRST
            .iter()
            .filter_map(|n| by_name.get(n).copied())
            .collect();
        roots.extend(names.iter().copied());
        for root in roots {
            if !subset(root) || placed[root] {
                continue;
            }
            // Iterative DFS, dependencies first.
            let mut stack = vec![(root, 0usize)];
            placed[root] = true;
            while let Some((node, k)) = stack.pop() {
                if let Some(&dep) = edges[node].get(k) {
                    stack.push((node, k + 1));
                    if subset(dep) && !placed[dep] {
                        placed[dep] = true;
                        stack.push((dep, 0));
                    }
                } else {
                    out.push(node);
                }
            }
        }
        out
    };
    let ess = order_of(&|i| essential.contains(&i), &mut placed);
    let rest = order_of(&|i| !essential.contains(&i), &mut placed);
    InstallPlan {
        essential: ess,
        rest,
    }
}

/// Splits `order` (dependencies first) into consecutive batches so that no package
/// pre-depends on a package of its own batch: each batch is one `dpkg --install`, so a
/// pre-dependency is configured before its dependent is unpacked (as apt does), while plain
/// dependencies inside a batch are ordered by dpkg's own configuration loop.
pub fn pre_depends_batches(pkgs: &[Package], order: &[usize]) -> Vec<Vec<usize>> {
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for &i in order {
        let needs_new = pkgs[i].pre_depends.iter().any(|alts| {
            alts.iter().any(|r| {
                current.iter().any(|&j| {
                    pkgs[j].name == r.name || pkgs[j].provides.iter().any(|p| p.name == r.name)
                })
            })
        });
        if needs_new && !current.is_empty() {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Reads the control file of a .deb.
pub fn read_control(path: &Path) -> Result<Package, DebianError> {
    let control = open_deb(path)?
        .read_control()
        .map_err(|e| deb_error(path, e))?;
    plinth_debian::packages::parse_control(&control.control).map_err(|e| deb_error(path, e))
}

/// Opens a .deb (magic and format version checked).
fn open_deb(
    path: &Path,
) -> Result<plinth_debian::DebReader<std::io::BufReader<fs_err::File>>, DebianError> {
    let file = std::io::BufReader::with_capacity(1 << 20, fs_err::File::open(path)?);
    plinth_debian::DebReader::new(file).map_err(|e| deb_error(path, e))
}

fn deb_error(path: &Path, e: impl std::fmt::Display) -> DebianError {
    DebianError::Deb {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Unpacks the data of `which` debs into `root`, in that order. Decompression (the costly
/// part) runs on all cores a few packages ahead; the files are written one package at a time in
/// the given order, so a directory two packages share always gets the same metadata (the layer
/// digest depends on it).
fn unpack_all(input: &InstallInput<'_>, which: &[usize], root: &Path) -> Result<(), DebianError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // Slot n receives the decompressed data.tar of which[n].
    let (tx, rx) =
        std::sync::mpsc::sync_channel::<(usize, Result<Vec<u8>, DebianError>)>(threads * 2);
    std::thread::scope(|s| -> Result<(), DebianError> {
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            s.spawn(move || {
                loop {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&i) = which.get(n) else { return };
                    if tx.send((n, read_data(&input.debs[i]))).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
        let mut want = 0usize;
        let result = (|| {
            for (n, data) in rx.iter() {
                pending.insert(n, data?);
                while let Some(data) = pending.remove(&want) {
                    check_cancel(&input.cancel)?;
                    extract_data(&input.debs[which[want]], &data, root)?;
                    want += 1;
                }
            }
            Ok(())
        })();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Drain so that senders blocked on a full channel can finish.
        for _ in rx.iter() {}
        result
    })
}

/// The decompressed data.tar of a .deb.
fn read_data(path: &Path) -> Result<Vec<u8>, DebianError> {
    // DebReader::data skips the control member.
    let mut data = open_deb(path)?.data().map_err(|e| deb_error(path, e))?;
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut data, &mut out)
        .map_err(|e| deb_error(path, format!("reading data.tar: {e}")))?;
    Ok(out)
}

/// Extracts a data.tar (uncompressed) into `root`.
fn extract_data(path: &Path, tar: &[u8], root: &Path) -> Result<(), DebianError> {
    extract_layer_opts(
        tar,
        plinth_oci::types::media::OCI_LAYER_TAR,
        root,
        &ExtractOptions {
            mode: ExtractMode::Apply,
            pool: None,
        },
    )
    .map_err(|e| deb_error(path, format!("unpacking data.tar: {e}")))?;
    Ok(())
}

/// The top-level directories merged into `/usr`.
const MERGED: [&str; 6] = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// Moves `root/<d>` into `root/usr/<d>` for the merged directories that exist (and always `bin`,
/// `sbin`, `lib`), replacing them with relative symlinks, as usrmerge does.
pub fn merge_usr(root: &Path) -> Result<(), DebianError> {
    for d in MERGED {
        let top = root.join(d);
        let under = root.join("usr").join(d);
        let meta = fs_err::symlink_metadata(&top).ok();
        match meta {
            Some(m) if m.file_type().is_symlink() => continue,
            Some(m) if m.is_dir() => {
                fs_err::create_dir_all(&under)?;
                move_tree(&top, &under)?;
                fs_err::remove_dir(&top)?;
            }
            Some(_) => {
                return Err(DebianError::Internal(format!(
                    "/{d} is neither a directory nor a symlink; cannot merge it into /usr"
                )));
            }
            None if matches!(d, "bin" | "sbin" | "lib") => {
                fs_err::create_dir_all(&under)?;
            }
            None => continue,
        }
        std::os::unix::fs::symlink(format!("usr/{d}"), &top).map_err(|source| DebianError::Io {
            path: top.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Moves every entry of `from` into `to`, merging directories; a non-directory that exists in
/// both places must be the same symlink (else it is an error, as usrmerge refuses too).
fn move_tree(from: &Path, to: &Path) -> Result<(), DebianError> {
    for entry in fs_err::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let src_meta = fs_err::symlink_metadata(&src)?;
        match fs_err::symlink_metadata(&dst) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs_err::rename(&src, &dst)?,
            Err(e) => return Err(e.into()),
            Ok(dst_meta) if dst_meta.is_dir() && src_meta.is_dir() => {
                move_tree(&src, &dst)?;
                fs_err::remove_dir(&src)?;
            }
            Ok(dst_meta)
                if dst_meta.file_type().is_symlink()
                    && src_meta.file_type().is_symlink()
                    && fs_err::read_link(&src)? == fs_err::read_link(&dst)? =>
            {
                fs_err::remove_file(&src)?;
            }
            Ok(_) => {
                return Err(DebianError::Internal(format!(
                    "{} and {} both exist: cannot merge /usr",
                    src.display(),
                    dst.display()
                )));
            }
        }
    }
    Ok(())
}

/// What [`install`] needs.
pub struct InstallInput<'a> {
    /// The .deb of each package, in any order.
    pub debs: &'a [PathBuf],
    /// For each of `debs`: installed as a dependency (apt's "automatically installed").
    pub auto: &'a [bool],
    pub sources: &'a [SuiteSource],
    pub components: &'a [String],
    pub architecture: &'a str,
    /// SOURCE_DATE_EPOCH for the maintainer scripts.
    pub epoch: i64,
    pub sandbox: &'a Sandbox,
    /// Where the scratch directory is made (the store's `.plinth/tmp`, or a tmpfs).
    pub tmp_root: &'a Path,
    pub cancel: Option<Arc<AtomicBool>>,
}

/// A finished root filesystem: `dirs.upper()` is the tree. Removed when dropped.
pub struct InstalledRoot {
    pub dirs: OverlayDirs,
}

impl InstalledRoot {
    pub fn root(&self) -> PathBuf {
        self.dirs.upper()
    }
}

/// Builds a root filesystem from `input.debs` (see the module docs).
pub fn install(
    input: &InstallInput<'_>,
    on_event: &mut dyn FnMut(RootfsEvent),
) -> Result<InstalledRoot, DebianError> {
    on_event(RootfsEvent::Phase("reading package metadata"));
    let controls: Vec<Package> = input
        .debs
        .iter()
        .map(|p| read_control(p))
        .collect::<Result<_, _>>()?;
    let plan = plan(&controls);
    let dirs = OverlayDirs::new(input.tmp_root, &format!("rootfs-{}-", std::process::id()))
        .map_err(|(path, source)| DebianError::Io { path, source })?;
    let root = dirs.upper();

    on_event(RootfsEvent::Phase("unpacking the essential packages"));
    unpack_all(input, &plan.essential, &root)?;
    merge_usr(&root)?;
    skeleton(&root, input)?;

    // The .debs are bind-mounted read-only; the directory holding them is the common parent.
    let deb_dir = common_dir(input.debs)?;
    let in_root = |i: usize| -> Result<String, DebianError> {
        let name = input.debs[i]
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| DebianError::Internal("a .deb path is not UTF-8".into()))?;
        Ok(format!("{DEBS_MOUNT}/{name}"))
    };
    let mut phases: Vec<(&'static str, Vec<usize>)> =
        vec![("installing the essential packages", plan.essential.clone())];
    for batch in pre_depends_batches(&controls, &plan.rest) {
        phases.push(("installing the other packages", batch));
    }
    for (label, set) in phases {
        if set.is_empty() {
            continue;
        }
        check_cancel(&input.cancel)?;
        on_event(RootfsEvent::Phase(label));
        let mut args: Vec<String> = ["dpkg", "--install", "--force-depends", "--force-unsafe-io"]
            .map(String::from)
            .to_vec();
        for &i in &set {
            args.push(in_root(i)?);
        }
        run_dpkg(&dirs, &deb_dir, args, input, label, on_event)?;
    }
    on_event(RootfsEvent::Phase("cleaning up"));
    cleanup(&root)?;
    write_extended_states(&root, &controls, &plan, input)?;
    Ok(InstalledRoot { dirs })
}

/// Where the .debs are mounted during installation.
const DEBS_MOUNT: &str = "/run/plinth-debs";

fn check_cancel(cancel: &Option<Arc<AtomicBool>>) -> Result<(), DebianError> {
    if cancel
        .as_ref()
        .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed))
    {
        return Err(DebianError::Cancelled);
    }
    Ok(())
}

fn common_dir(debs: &[PathBuf]) -> Result<PathBuf, DebianError> {
    let mut parents: BTreeSet<&Path> = BTreeSet::new();
    for d in debs {
        parents.insert(d.parent().unwrap_or(Path::new("/")));
    }
    match parents.len() {
        1 => Ok(parents
            .into_iter()
            .next()
            .map(Path::to_path_buf)
            .unwrap_or_default()),
        _ => Err(DebianError::Internal(
            "the .debs of one installation must be in one directory".into(),
        )),
    }
}

/// dpkg's database skeleton, the architecture, /dev, and the sources list.
fn skeleton(root: &Path, input: &InstallInput<'_>) -> Result<(), DebianError> {
    let dpkg = root.join("var/lib/dpkg");
    for d in ["info", "updates", "triggers", "alternatives", "parts"] {
        fs_err::create_dir_all(dpkg.join(d))?;
    }
    if !dpkg.join("status").exists() {
        fs_err::write(dpkg.join("status"), b"")?;
    }
    fs_err::write(dpkg.join("arch"), format!("{}\n", input.architecture))?;
    fs_err::create_dir_all(root.join("dev"))?;
    // As debootstrap and mmdebstrap write it.
    if !root.join("etc/fstab").exists() {
        fs_err::write(
            root.join("etc/fstab"),
            "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n",
        )?;
    }
    fs_err::create_dir_all(root.join("etc/apt"))?;
    fs_err::write(
        root.join("etc/apt/sources.list"),
        sources_list(input.sources, input.components),
    )?;
    Ok(())
}

/// The sources list written into the root filesystem: one `deb` line per suite.
pub fn sources_list(sources: &[SuiteSource], components: &[String]) -> String {
    let mut s = String::new();
    for src in sources {
        s.push_str(&format!(
            "deb {} {} {}\n",
            src.uri,
            src.suite,
            components.join(" ")
        ));
    }
    s
}

fn run_dpkg(
    dirs: &OverlayDirs,
    deb_dir: &Path,
    args: Vec<String>,
    input: &InstallInput<'_>,
    label: &str,
    on_event: &mut dyn FnMut(RootfsEvent),
) -> Result<(), DebianError> {
    let env = [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        "DEBIAN_FRONTEND=noninteractive".to_string(),
        "DEBCONF_NONINTERACTIVE_SEEN=true".to_string(),
        "LC_ALL=C.UTF-8".to_string(),
        "LANG=C.UTF-8".to_string(),
        "HOME=/root".to_string(),
        format!("SOURCE_DATE_EPOCH={}", input.epoch),
    ];
    let mut spec = Spec::new(dirs.rootfs(), args);
    spec.upper = Some(dirs.upper());
    spec.work = Some(dirs.work());
    spec.env = env.to_vec();
    spec.network = Network::None;
    spec.hostname = "localhost".into();
    spec.output = Stdio::Pipe;
    spec.mounts = vec![Mount {
        kind: MountKind::Bind {
            source: deb_dir.to_path_buf(),
            readonly: true,
        },
        target: DEBS_MOUNT.into(),
    }];
    let mut last = LastLines::default();
    let outcome = input.sandbox.run_with(
        &spec,
        &RunOptions {
            cancel: input.cancel.clone(),
            ..RunOptions::default()
        },
        &mut |_, bytes: &[u8]| {
            last.push(bytes);
            on_event(RootfsEvent::Output(bytes.to_vec()));
        },
    );
    let outcome = match outcome {
        Err(plinth_sandbox::SandboxError::Cancelled) => return Err(DebianError::Cancelled),
        r => r?,
    };
    plinth_sandbox::scrub_upper(&dirs.upper(), &outcome.created_mountpoints)?;
    let _ = fs_err::remove_dir_all(dirs.work()).and_then(|()| fs_err::create_dir(dirs.work()));
    if !outcome.status.success() {
        return Err(DebianError::Install {
            phase: label.to_string(),
            status: format!("{:?}", outcome.status),
            last_lines: last.finish(),
        });
    }
    Ok(())
}

/// apt's record of automatically installed packages: the dependencies installed after the
/// essential closure (mmdebstrap installs those with apt, which marks them the same way).
fn write_extended_states(
    root: &Path,
    controls: &[Package],
    plan: &InstallPlan,
    input: &InstallInput<'_>,
) -> Result<(), DebianError> {
    let mut names: Vec<&str> = plan
        .rest
        .iter()
        .filter(|&&i| input.auto.get(i).copied().unwrap_or(false))
        .map(|&i| controls[i].name.as_str())
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    names.sort_unstable();
    let mut text = String::new();
    for n in names {
        text.push_str(&format!(
            "Package: {n}\nArchitecture: {}\nAuto-Installed: 1\n\n",
            input.architecture
        ));
    }
    let dir = root.join("var/lib/apt");
    fs_err::create_dir_all(&dir)?;
    fs_err::write(dir.join("extended_states"), text)?;
    Ok(())
}

/// Files a root filesystem must not carry (mmdebstrap removes the same): logs, caches, apt lists,
/// dpkg's `*-old` backups, and machine ids.
fn cleanup(root: &Path) -> Result<(), DebianError> {
    let remove_file = |rel: &str| -> Result<(), DebianError> {
        match fs_err::remove_file(root.join(rel)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    };
    for f in [
        "var/log/dpkg.log",
        "var/log/alternatives.log",
        "var/log/bootstrap.log",
        "var/log/apt/history.log",
        "var/log/apt/term.log",
        "var/log/apt/eipp.log.xz",
        "var/cache/ldconfig/aux-cache",
        "var/cache/apt/pkgcache.bin",
        "var/cache/apt/srcpkgcache.bin",
        "etc/machine-id",
        "var/lib/dbus/machine-id",
    ] {
        remove_file(f)?;
    }
    for (dir, keep_suffix) in [("var/lib/dpkg", "-old"), ("var/cache/debconf", "-old")] {
        let d = root.join(dir);
        if !d.is_dir() {
            continue;
        }
        for e in fs_err::read_dir(&d)? {
            let e = e?;
            if e.file_name().to_string_lossy().ends_with(keep_suffix) && e.file_type()?.is_file() {
                fs_err::remove_file(e.path())?;
            }
        }
    }
    for dir in ["var/lib/apt/lists", "tmp", "var/tmp"] {
        let d = root.join(dir);
        if !d.is_dir() {
            continue;
        }
        for e in fs_err::read_dir(&d)? {
            let e = e?;
            let name = e.file_name();
            if dir == "var/lib/apt/lists" && (name == "partial" || name == "lock") {
                continue;
            }
            if e.file_type()?.is_dir() {
                fs_err::remove_dir_all(e.path())?;
            } else {
                fs_err::remove_file(e.path())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(name: &str, essential: bool, pre: &str, deps: &str) -> Package {
        let mut control = format!("Package: {name}\nVersion: 1.0\nArchitecture: amd64\n");
        if essential {
            control.push_str("Essential: yes\n");
        }
        if !pre.is_empty() {
            control.push_str(&format!("Pre-Depends: {pre}\n"));
        }
        if !deps.is_empty() {
            control.push_str(&format!("Depends: {deps}\n"));
        }
        plinth_debian::parse_control(&control).unwrap()
    }

    fn names(pkgs: &[Package], idx: &[usize]) -> Vec<String> {
        idx.iter().map(|&i| pkgs[i].name.clone()).collect()
    }

    #[test]
    fn plan_puts_the_essential_closure_first_and_dependencies_before_dependents() {
        let pkgs = vec![
            pkg("apt", false, "", "libapt, adduser"),
            pkg("libapt", false, "", "libc6"),
            pkg("adduser", false, "", "passwd"),
            pkg("passwd", false, "", "libc6"),
            pkg("dpkg", true, "libc6, tar", ""),
            pkg("tar", true, "", "libc6"),
            pkg("libc6", false, "", "libgcc | libgcc-alt"),
            pkg("libgcc", false, "", ""),
            pkg("base-files", true, "", ""),
            pkg("base-passwd", true, "", "libc6"),
        ];
        let p = plan(&pkgs);
        let ess = names(&pkgs, &p.essential);
        // debootstrap's first packages first (with what they need), then dependency order.
        assert_eq!(
            ess,
            [
                "libgcc",
                "libc6",
                "base-passwd",
                "base-files",
                "tar",
                "dpkg"
            ]
        );
        let rest = names(&pkgs, &p.rest);
        assert_eq!(rest, ["passwd", "adduser", "libapt", "apt"]);
    }

    #[test]
    fn batches_split_where_a_package_pre_depends_on_its_own_batch() {
        let pkgs = vec![
            pkg("liba", false, "", ""),
            pkg("libb", false, "", "liba"),
            pkg("tool", false, "libb", ""),
            pkg("other", false, "", "tool"),
        ];
        let order = [0, 1, 2, 3];
        let b: Vec<Vec<String>> = pre_depends_batches(&pkgs, &order)
            .iter()
            .map(|b| names(&pkgs, b))
            .collect();
        assert_eq!(b, [vec!["liba", "libb"], vec!["tool", "other"]]);
    }

    #[test]
    fn merge_usr_moves_top_level_directories_into_usr() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs_err::create_dir_all(root.join("bin")).unwrap();
        fs_err::create_dir_all(root.join("usr/bin")).unwrap();
        fs_err::create_dir_all(root.join("lib/x86_64-linux-gnu")).unwrap();
        fs_err::create_dir_all(root.join("usr/lib/x86_64-linux-gnu")).unwrap();
        fs_err::write(root.join("bin/bash"), "bash").unwrap();
        fs_err::write(root.join("usr/bin/env"), "env").unwrap();
        fs_err::write(root.join("lib/x86_64-linux-gnu/libc.so.6"), "libc").unwrap();
        std::os::unix::fs::symlink("bash", root.join("bin/rbash")).unwrap();
        std::os::unix::fs::symlink("bash", root.join("usr/bin/rbash")).unwrap();
        merge_usr(root).unwrap();
        assert_eq!(
            fs_err::read_link(root.join("bin")).unwrap(),
            Path::new("usr/bin")
        );
        assert_eq!(
            fs_err::read_link(root.join("sbin")).unwrap(),
            Path::new("usr/sbin")
        );
        assert_eq!(
            fs_err::read_to_string(root.join("usr/bin/bash")).unwrap(),
            "bash"
        );
        assert_eq!(
            fs_err::read_to_string(root.join("usr/bin/env")).unwrap(),
            "env"
        );
        assert_eq!(
            fs_err::read_to_string(root.join("usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap(),
            "libc"
        );
        assert!(
            !root.join("lib64").exists(),
            "only directories that exist are merged"
        );
        // A file in both places with different content cannot be merged.
        let d = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(d.path().join("sbin")).unwrap();
        fs_err::create_dir_all(d.path().join("usr/sbin")).unwrap();
        fs_err::write(d.path().join("sbin/x"), "a").unwrap();
        fs_err::write(d.path().join("usr/sbin/x"), "b").unwrap();
        let err = merge_usr(d.path()).unwrap_err().to_string();
        assert!(err.contains("both exist"), "{err}");
    }

    #[test]
    fn cleanup_removes_logs_caches_and_backups_only() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for f in [
            "var/log/dpkg.log",
            "var/lib/dpkg/status-old",
            "var/lib/dpkg/status",
            "var/cache/debconf/config.dat-old",
            "var/cache/debconf/config.dat",
            "var/lib/apt/lists/x_Packages",
            "tmp/junk",
            "etc/machine-id",
        ] {
            fs_err::create_dir_all(root.join(f).parent().unwrap()).unwrap();
            fs_err::write(root.join(f), "x").unwrap();
        }
        fs_err::create_dir_all(root.join("var/lib/apt/lists/partial")).unwrap();
        cleanup(root).unwrap();
        for gone in [
            "var/log/dpkg.log",
            "var/lib/dpkg/status-old",
            "var/cache/debconf/config.dat-old",
            "var/lib/apt/lists/x_Packages",
            "tmp/junk",
            "etc/machine-id",
        ] {
            assert!(!root.join(gone).exists(), "{gone}");
        }
        for kept in [
            "var/lib/dpkg/status",
            "var/cache/debconf/config.dat",
            "var/lib/apt/lists/partial",
            "tmp",
        ] {
            assert!(root.join(kept).exists(), "{kept}");
        }
    }
}
