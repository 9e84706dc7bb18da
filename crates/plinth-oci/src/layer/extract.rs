//! Extracting a layer blob into a directory, never writing outside it.
//!
//! Safety model: every path is resolved from an open descriptor of `root`, one component at a
//! time, with `O_NOFOLLOW | O_DIRECTORY`; a missing parent is created (mode 0755). The decisions:
//!
//! * A leading `/` or `./` is neutralized (the path is taken relative to `root`, as GNU tar and
//!   Docker do); a `..` component is an error.
//! * A parent component that is a symlink (wherever it points) or not a directory is an error
//!   ([`LayerError::UnsafePath`]). Layers made from a real filesystem never have entries below a
//!   symlink, so this refuses only crafted or broken layers. (Docker instead follows such links
//!   scoped to the root; plinth fails closed.)
//! * An existing non-directory at an entry's path is removed first and the new node is created
//!   with `O_EXCL`/`mknodat`/`symlinkat`, so a planted symlink or hardlink is never written
//!   through. An existing directory is kept when the entry is a directory; otherwise it is removed.
//! * Errors abort the extraction; `root` may then hold a partial tree, which the caller should
//!   discard.
//!
//! Whiteouts are applied (`.wh.<name>` removes `<name>`, `.wh..wh..opq` removes everything in the
//! directory that this layer did not itself create) and not created. Owners are applied only
//! when running as root; modes always (directories' modes and all mtimes are applied at the end,
//! so a read-only directory can still be filled and mtimes are not disturbed by later entries).
//! Device nodes that cannot be created for lack of privilege and xattrs the filesystem or the
//! process cannot set are skipped and counted in [`ExtractStats`]. The root entry (`./`) does not
//! change `root`'s own metadata.
//!
//! # Overlay lower directories
//! [`extract_layer_with`] with [`ExtractMode::OverlayLower`] extracts one layer *alone* into an
//! empty directory in the format overlayfs reads as a lower directory (the format of Docker's
//! overlay2 and containerd's overlayfs snapshotter):
//!
//! * a whiteout `dir/.wh.name` becomes a character device 0/0 `dir/name` (mode 0, owned by the
//!   header's uid/gid when running as root); whatever this layer put at that path before is
//!   replaced;
//! * an opaque marker `dir/.wh..wh..opq` sets the xattr `trusted.overlay.opaque=y` on `dir`, and
//!   nothing is removed (the directory holds only this layer's entries);
//! * a directory that replaces a non-directory this layer created earlier (a whiteout or a file
//!   of the same path, or a whiteout used as a parent) is made opaque, so the merged view is the
//!   same as applying the layer with [`ExtractMode::Apply`];
//! * xattrs in the overlay namespaces (`trusted.overlay.*`, `user.overlay.*`) carried by layer
//!   entries are not set (counted in [`ExtractStats::skipped_xattrs`]): overlayfs would read them
//!   as its own metadata (redirects, metacopy).
//!
//! Everything else (modes, owners, xattrs, hardlinks, symlinks, devices, the path-safety rules) is
//! as in [`ExtractMode::Apply`]. Creating the whiteout devices and the `trusted.*` xattr needs
//! privilege (CAP_MKNOD for devices on old kernels, CAP_SYS_ADMIN for `trusted.*`); without it the
//! extraction fails rather than produce a lower directory with a different merged view. A
//! hardlink must point at a file of the same layer (as for Docker's overlay2 driver).
//!
//! # File pool
//! With [`ExtractOptions::pool`] (overlay lower mode only), regular files are hard links into a
//! content-addressed pool directory, so extracting a layer whose files earlier layers already had
//! (a rebuilt `COPY` that changed one file) creates no new inodes for them. The pool entry of a
//! file is `<pool>/<2 hex>/<key hex>`, the key being the sha256 of the content's sha256, the mode,
//! uid, gid and mtime (all shared by hard links). Sharing inodes between lower directories is safe
//! because overlayfs never writes to a lower directory (a write copies the file up first). Not
//! pooled (written as usual): files with xattrs, setuid/setgid files, files over
//! [`POOL_MAX_FILE_SIZE`], and files whose link fails with `EMLINK`, `EXDEV` or `EPERM`
//! (`fs.protected_hardlinks` in a user namespace).

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, Timespec, Timestamps};
use rustix::io::Errno;
use sha2::{Digest as _, Sha256};

use super::LayerError;
use super::read::{Decoder, Parsed, ParsedKind, join, join_lossy, normalize, parse_entry};
use super::tarread::TarReader;

/// What [`extract_layer`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractStats {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub hardlinks: u64,
    pub devices: u64,
    pub fifos: u64,
    /// Whiteouts and opaque markers applied.
    pub whiteouts: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Device nodes not created because the process may not create them.
    pub skipped_devices: u64,
    /// xattrs not set because the filesystem or the process does not allow it.
    pub skipped_xattrs: u64,
    /// Regular files (counted in `files` too) linked from an entry the file pool already had.
    pub pooled_files: u64,
}

/// Files larger than this are never pooled (see the module docs, "File pool").
pub const POOL_MAX_FILE_SIZE: u64 = 16 << 20;

/// Options of [`extract_layer_opts`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractOptions<'a> {
    pub mode: ExtractMode,
    /// The content-addressed file pool (an existing directory on the filesystem of `root`),
    /// used only with [`ExtractMode::OverlayLower`]; see the module docs ("File pool").
    pub pool: Option<&'a Path>,
}

/// How [`extract_layer_with`] writes whiteouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExtractMode {
    /// Apply the layer onto the filesystem in `root`: whiteouts delete, opaque markers empty the
    /// directory of what lower layers put there.
    #[default]
    Apply,
    /// Extract the layer alone into an empty directory, as one overlayfs lower directory:
    /// whiteouts become 0/0 character devices and opaque markers the `trusted.overlay.opaque=y`
    /// xattr (see the module docs).
    OverlayLower,
}

/// The xattr overlayfs reads to make a directory opaque.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Extracts a layer blob (gzip, zstd or uncompressed; see [`super::read_layer_entries`] for the
/// detection) into the existing directory `root`, applying whiteouts. See the module docs for the
/// safety rules. Same as [`extract_layer_with`] with [`ExtractMode::Apply`].
pub fn extract_layer<R: Read>(
    r: R,
    media_type: &str,
    root: &Path,
) -> Result<ExtractStats, LayerError> {
    extract_layer_with(r, media_type, root, ExtractMode::Apply)
}

/// Extracts a layer blob (compression detected as for [`extract_layer`]) into the existing
/// directory `root`, with whiteouts written as `mode` says. For [`ExtractMode::OverlayLower`]
/// `root` should be empty.
pub fn extract_layer_with<R: Read>(
    r: R,
    media_type: &str,
    root: &Path,
    mode: ExtractMode,
) -> Result<ExtractStats, LayerError> {
    extract_layer_opts(r, media_type, root, &ExtractOptions { mode, pool: None })
}

/// Extracts a layer blob (compression detected as for [`extract_layer`]) into the existing
/// directory `root` as `opts` say.
pub fn extract_layer_opts<R: Read>(
    r: R,
    media_type: &str,
    root: &Path,
    opts: &ExtractOptions<'_>,
) -> Result<ExtractStats, LayerError> {
    extract_tar(Decoder::open(r, media_type)?, root, opts)
}

/// Extracts an uncompressed tar stream. Stops at the end-of-archive marker; the caller may read
/// on (to hash the whole stream).
pub(crate) fn extract_tar<R: Read>(
    tar_stream: R,
    root: &Path,
    opts: &ExtractOptions<'_>,
) -> Result<ExtractStats, LayerError> {
    let mode = opts.mode;
    let open_dir = |dir: &Path| {
        rustix::fs::open(
            dir,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| LayerError::Extract {
            path: dir.display().to_string(),
            source: e.into(),
        })
    };
    let root_fd = open_dir(root)?;
    let pool = match (mode, opts.pool) {
        (ExtractMode::OverlayLower, Some(pool)) => Some(open_dir(pool)?),
        _ => None,
    };
    let mut ex = Extractor {
        root: root_fd,
        pool,
        as_root: rustix::process::geteuid().is_root(),
        mode,
        unpacked: HashSet::new(),
        dirs: BTreeMap::new(),
        stats: ExtractStats::default(),
        copy_buf: vec![0; 1 << 20],
    };
    let mut tar = TarReader::new(tar_stream);
    while let Some(member) = tar.next_member()? {
        let Some(p) = parse_entry(member)? else {
            continue;
        };
        ex.apply(p, &mut tar.data())?;
    }
    ex.finish_dirs()?;
    Ok(ex.stats)
}

/// Deepest directory nesting that whiteout removal descends into.
const MAX_REMOVE_DEPTH: usize = 4096;

struct Extractor {
    root: OwnedFd,
    /// The file pool directory, when pooling.
    pool: Option<OwnedFd>,
    as_root: bool,
    mode: ExtractMode,
    /// Paths (joined with `/`) this layer created, for opaque whiteouts.
    unpacked: HashSet<Vec<u8>>,
    /// Directory metadata applied at the end: path components → (mode, mtime).
    dirs: BTreeMap<Vec<Vec<u8>>, (u32, i64)>,
    stats: ExtractStats,
    copy_buf: Vec<u8>,
}

fn err(path: &[u8], e: impl Into<io::Error>) -> LayerError {
    LayerError::Extract {
        path: String::from_utf8_lossy(path).into_owned(),
        source: e.into(),
    }
}

fn unsafe_path(path: &[u8], reason: &'static str) -> LayerError {
    LayerError::UnsafePath {
        path: String::from_utf8_lossy(path).into_owned(),
        reason,
    }
}

fn timestamps(mtime: i64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// Whether a failed xattr set is "not supported here" rather than an error.
fn xattr_skippable(e: Errno) -> bool {
    e == Errno::NOTSUP || e == Errno::PERM || e == Errno::ACCESS
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Create {
    Yes,
    No,
}

impl Extractor {
    /// Opens the directory at `comps` below the root without following symlinks, creating
    /// missing components when asked. `None` if a component is missing and `create` is `No`.
    fn open_dir(
        &self,
        comps: &[Vec<u8>],
        create: Create,
        path: &[u8],
    ) -> Result<Option<OwnedFd>, LayerError> {
        let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
        let mut cur =
            rustix::fs::openat(&self.root, ".", flags, Mode::empty()).map_err(|e| err(path, e))?;
        for c in comps {
            let next = match rustix::fs::openat(&cur, c.as_slice(), flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) if create == Create::Yes => {
                    match rustix::fs::mkdirat(&cur, c.as_slice(), Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(err(path, e)),
                    }
                    rustix::fs::openat(&cur, c.as_slice(), flags, Mode::empty())
                        .map_err(|e| err(path, e))?
                }
                Err(Errno::NOENT) => return Ok(None),
                Err(Errno::NOTDIR)
                    if create == Create::Yes
                        && self.mode == ExtractMode::OverlayLower
                        && is_whiteout_at(&cur, c) =>
                {
                    // A whiteout of this layer used as a parent: as if the path had been deleted
                    // and recreated, the new directory hides lower layers' content.
                    rustix::fs::unlinkat(&cur, c.as_slice(), AtFlags::empty())
                        .map_err(|e| err(path, e))?;
                    rustix::fs::mkdirat(&cur, c.as_slice(), Mode::from_raw_mode(0o755))
                        .map_err(|e| err(path, e))?;
                    let fd = rustix::fs::openat(&cur, c.as_slice(), flags, Mode::empty())
                        .map_err(|e| err(path, e))?;
                    set_opaque(&fd, path)?;
                    fd
                }
                Err(Errno::LOOP) | Err(Errno::NOTDIR) => {
                    return Err(unsafe_path(
                        path,
                        "a parent path component is a symlink or not a directory",
                    ));
                }
                Err(e) => return Err(err(path, e)),
            };
            cur = next;
        }
        Ok(Some(cur))
    }

    /// Opens the directory at `comps` below the root, creating missing components.
    fn create_dir(&self, comps: &[Vec<u8>], path: &[u8]) -> Result<OwnedFd, LayerError> {
        self.open_dir(comps, Create::Yes, path)?
            .ok_or_else(|| err(path, io::Error::from(io::ErrorKind::NotFound)))
    }

    fn apply(&mut self, p: Parsed, data: &mut impl Read) -> Result<(), LayerError> {
        let path = join(&p.comps);
        match p.kind {
            ParsedKind::Opaque => {
                let dir = self.create_dir(&p.comps, &path)?;
                match self.mode {
                    ExtractMode::Apply => self.clear_opaque(&dir, &path, 0)?,
                    ExtractMode::OverlayLower => set_opaque(&dir, &path)?,
                }
                self.stats.whiteouts += 1;
                return Ok(());
            }
            ParsedKind::Whiteout => {
                let Some((name, parent)) = p.comps.split_last() else {
                    return Ok(());
                };
                match self.mode {
                    ExtractMode::Apply => {
                        if let Some(dir) = self.open_dir(parent, Create::No, &path)? {
                            remove_all_at(&dir, name, &path, 0)?;
                        }
                    }
                    ExtractMode::OverlayLower => {
                        let dir = self.create_dir(parent, &path)?;
                        remove_all_at(&dir, name, &path, 0)?;
                        self.make_whiteout(&dir, name, &p, &path)?;
                    }
                }
                self.stats.whiteouts += 1;
                return Ok(());
            }
            _ => {}
        }
        let Some((name, parent)) = p.comps.split_last() else {
            return Ok(());
        };
        let name = name.as_slice();
        let dir = self.create_dir(parent, &path)?;
        // Replace whatever is there, except a directory by a directory.
        let mut replaced_non_dir = false;
        match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
                if !(is_dir && matches!(p.kind, ParsedKind::Dir)) {
                    remove_all_at(&dir, name, &path, 0)?;
                    replaced_non_dir = !is_dir;
                }
            }
            Err(Errno::NOENT) => {}
            Err(e) => return Err(err(&path, e)),
        }
        let mode = Mode::from_raw_mode(p.mode);
        match &p.kind {
            ParsedKind::Dir => {
                match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(err(&path, e)),
                }
                let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
                let fd = rustix::fs::openat(&dir, name, flags, Mode::empty())
                    .map_err(|e| err(&path, e))?;
                self.chown_fd(&fd, &p, &path)?;
                self.set_xattrs(&fd, &p, &path)?;
                if replaced_non_dir && self.mode == ExtractMode::OverlayLower {
                    // What this layer put here before hid the lower layers' path; so must this.
                    set_opaque(&fd, &path)?;
                }
                self.dirs.insert(p.comps.clone(), (p.mode, p.mtime));
                self.stats.dirs += 1;
            }
            ParsedKind::File => {
                if self.poolable(&p) {
                    self.pooled_file(&dir, name, &p, &path, data)?;
                } else {
                    self.write_file(&dir, name, &p, &path, data)?;
                }
                self.stats.files += 1;
            }
            ParsedKind::Symlink(target) => {
                rustix::fs::symlinkat(target.as_slice(), &dir, name).map_err(|e| err(&path, e))?;
                self.chown_at(&dir, name, &p, &path)?;
                rustix::fs::utimensat(&dir, name, &timestamps(p.mtime), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| err(&path, e))?;
                self.stats.symlinks += 1;
            }
            ParsedKind::Hardlink(target) => {
                let tcomps = normalize(target)?;
                let Some((tname, tparent)) = tcomps.split_last() else {
                    return Err(unsafe_path(&path, "hardlink to the root directory"));
                };
                let Some(tdir) = self.open_dir(tparent, Create::No, &path)? else {
                    return Err(err(
                        &path,
                        io::Error::new(io::ErrorKind::NotFound, "hardlink target does not exist"),
                    ));
                };
                rustix::fs::linkat(&tdir, tname.as_slice(), &dir, name, AtFlags::empty())
                    .map_err(|e| err(&path, e))?;
                self.stats.hardlinks += 1;
            }
            ParsedKind::Char(..) | ParsedKind::Block(..) | ParsedKind::Fifo => {
                let (ft, dev) = match &p.kind {
                    ParsedKind::Char(major, minor) => (
                        FileType::CharacterDevice,
                        rustix::fs::makedev(*major, *minor),
                    ),
                    ParsedKind::Block(major, minor) => {
                        (FileType::BlockDevice, rustix::fs::makedev(*major, *minor))
                    }
                    _ => (FileType::Fifo, 0),
                };
                match rustix::fs::mknodat(&dir, name, ft, Mode::from_raw_mode(0o600), dev) {
                    Ok(()) => {}
                    Err(Errno::PERM) if ft != FileType::Fifo && !self.as_root => {
                        self.stats.skipped_devices += 1;
                        return Ok(());
                    }
                    Err(e) => return Err(err(&path, e)),
                }
                self.chown_at(&dir, name, &p, &path)?;
                // The node was just created by us (not a symlink), so following is not a concern.
                rustix::fs::chmodat(&dir, name, mode, AtFlags::empty())
                    .map_err(|e| err(&path, e))?;
                rustix::fs::utimensat(&dir, name, &timestamps(p.mtime), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| err(&path, e))?;
                if ft == FileType::Fifo {
                    self.stats.fifos += 1;
                } else {
                    self.stats.devices += 1;
                }
            }
            ParsedKind::Whiteout | ParsedKind::Opaque => {}
        }
        self.unpacked.insert(path);
        Ok(())
    }

    /// Creates the regular file `name` in `dir` with `p.size` bytes of `data` and `p`'s metadata.
    fn write_file(
        &mut self,
        dir: &OwnedFd,
        name: &[u8],
        p: &Parsed,
        path: &[u8],
        data: &mut impl Read,
    ) -> Result<(), LayerError> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o600))
            .map_err(|e| err(path, e))?;
        let mut file = std::fs::File::from(fd);
        let mut left = p.size;
        while left > 0 {
            let want = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(self.copy_buf.len());
            let n = match data.read(&mut self.copy_buf[..want]) {
                Ok(0) => return Err(truncated(p)),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LayerError::ReadLayer(e)),
            };
            file.write_all(&self.copy_buf[..n])
                .map_err(|e| err(path, e))?;
            left -= n as u64;
        }
        self.stats.bytes += p.size;
        self.set_file_meta(&file, p, path)?;
        self.set_xattrs(&file, p, path)?;
        rustix::fs::futimens(&file, &timestamps(p.mtime)).map_err(|e| err(path, e))?;
        Ok(())
    }

    /// Owner, then mode (chown clears setuid/setgid).
    fn set_file_meta(
        &self,
        fd: impl std::os::fd::AsFd,
        p: &Parsed,
        path: &[u8],
    ) -> Result<(), LayerError> {
        self.chown_fd(&fd, p, path)?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(p.mode)).map_err(|e| err(path, e))
    }

    /// Whether the regular file `p` goes through the file pool.
    fn poolable(&self, p: &Parsed) -> bool {
        self.pool.is_some()
            && self.mode == ExtractMode::OverlayLower
            && p.xattrs.is_empty()
            && p.mode & 0o6000 == 0
            && p.size <= POOL_MAX_FILE_SIZE
    }

    /// Creates the regular file `name` in `dir` as a hard link to its pool entry, adding the
    /// entry first when the pool lacks it. Falls back to [`Self::write_file`] when the link
    /// cannot be made (`EMLINK`, `EXDEV`, `EPERM`, or the entry vanished).
    fn pooled_file(
        &mut self,
        dir: &OwnedFd,
        name: &[u8],
        p: &Parsed,
        path: &[u8],
        data: &mut impl Read,
    ) -> Result<(), LayerError> {
        let Some(pool) = &self.pool else {
            return self.write_file(dir, name, p, path, data);
        };
        let len = usize::try_from(p.size).map_err(|_| truncated(p))?;
        let mut content = vec![0; len];
        data.read_exact(&mut content).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                truncated(p)
            } else {
                LayerError::ReadLayer(e)
            }
        })?;
        let key = pool_key(&content, p);
        let (sub, _) = key.split_at(2);
        let entry = key.as_str();
        let sub_fd = open_pool_subdir(pool, sub).map_err(|e| err(path, e))?;
        let mut created = false;
        let linked = match rustix::fs::linkat(&sub_fd, entry, dir, name, AtFlags::empty()) {
            Ok(()) => true,
            Err(Errno::NOENT) => {
                self.add_to_pool(&sub_fd, entry, &content, p, path)?;
                created = true;
                match rustix::fs::linkat(&sub_fd, entry, dir, name, AtFlags::empty()) {
                    Ok(()) => true,
                    Err(Errno::MLINK | Errno::XDEV | Errno::PERM | Errno::NOENT) => false,
                    Err(e) => return Err(err(path, e)),
                }
            }
            Err(Errno::MLINK | Errno::XDEV | Errno::PERM) => false,
            Err(e) => return Err(err(path, e)),
        };
        if !linked {
            return self.write_file(dir, name, p, path, &mut content.as_slice());
        }
        if created {
            self.stats.bytes += p.size;
        } else {
            self.stats.pooled_files += 1;
        }
        Ok(())
    }

    /// Writes `content` with `p`'s metadata as the pool entry `entry` of `sub` (via a temp name
    /// and a rename; an entry another process added meanwhile is kept).
    fn add_to_pool(
        &self,
        sub: &OwnedFd,
        entry: &str,
        content: &[u8],
        p: &Parsed,
        path: &[u8],
    ) -> Result<(), LayerError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let tmp = format!(
            ".tmp-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(sub, tmp.as_str(), flags, Mode::from_raw_mode(0o600))
            .map_err(|e| err(path, e))?;
        let mut file = std::fs::File::from(fd);
        let written = file
            .write_all(content)
            .map_err(|e| err(path, e))
            .and_then(|()| self.set_file_meta(&file, p, path))
            .and_then(|()| {
                rustix::fs::futimens(&file, &timestamps(p.mtime)).map_err(|e| err(path, e))
            });
        drop(file);
        let renamed = written.and_then(|()| {
            match rustix::fs::renameat_with(sub, tmp.as_str(), sub, entry, RenameFlags::NOREPLACE) {
                Ok(()) | Err(Errno::EXIST) => Ok(()),
                Err(e) => Err(err(path, e)),
            }
        });
        // Gone after a successful rename; otherwise ours to remove.
        let _ = rustix::fs::unlinkat(sub, tmp.as_str(), AtFlags::empty());
        renamed
    }

    /// As root, gives the entry `name` of `dir` the owner of `p` (without following a symlink).
    fn chown_at(
        &self,
        dir: &OwnedFd,
        name: &[u8],
        p: &Parsed,
        path: &[u8],
    ) -> Result<(), LayerError> {
        if self.as_root {
            rustix::fs::chownat(
                dir,
                name,
                Some(uid(p.uid, path)?),
                Some(gid(p.gid, path)?),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(|e| err(path, e))?;
        }
        Ok(())
    }

    fn chown_fd(
        &self,
        fd: impl std::os::fd::AsFd,
        p: &Parsed,
        path: &[u8],
    ) -> Result<(), LayerError> {
        if self.as_root {
            rustix::fs::fchown(fd, Some(uid(p.uid, path)?), Some(gid(p.gid, path)?))
                .map_err(|e| err(path, e))?;
        }
        Ok(())
    }

    fn set_xattrs(
        &mut self,
        fd: impl std::os::fd::AsFd,
        p: &Parsed,
        path: &[u8],
    ) -> Result<(), LayerError> {
        for (k, v) in &p.xattrs {
            if self.mode == ExtractMode::OverlayLower && is_overlay_xattr(k) {
                self.stats.skipped_xattrs += 1;
                continue;
            }
            match rustix::fs::fsetxattr(&fd, k.as_str(), v, rustix::fs::XattrFlags::empty()) {
                Ok(()) => {}
                Err(e) if xattr_skippable(e) => self.stats.skipped_xattrs += 1,
                Err(e) => return Err(err(path, e)),
            }
        }
        Ok(())
    }

    /// Creates the overlayfs whiteout (a 0/0 character device) `name` in `dir`.
    fn make_whiteout(
        &self,
        dir: &OwnedFd,
        name: &[u8],
        p: &Parsed,
        path: &[u8],
    ) -> Result<(), LayerError> {
        rustix::fs::mknodat(
            dir,
            name,
            FileType::CharacterDevice,
            Mode::empty(),
            rustix::fs::makedev(0, 0),
        )
        .map_err(|e| {
            err(
                path,
                io::Error::new(
                    io::Error::from(e).kind(),
                    format!("creating the overlay whiteout (a 0/0 character device): {e}"),
                ),
            )
        })?;
        self.chown_at(dir, name, p, path)
    }

    /// Removes everything in `dir` that this layer did not create (recursing into directories it
    /// did create).
    fn clear_opaque(&self, dir: &OwnedFd, prefix: &[u8], depth: usize) -> Result<(), LayerError> {
        if depth > MAX_REMOVE_DEPTH {
            return Err(unsafe_path(prefix, "directory tree too deep"));
        }
        for name in list_dir(dir, prefix)? {
            let mut child = prefix.to_vec();
            if !child.is_empty() {
                child.push(b'/');
            }
            child.extend_from_slice(&name);
            if self.unpacked.contains(&child) {
                let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
                match rustix::fs::openat(dir, name.as_slice(), flags, Mode::empty()) {
                    Ok(sub) => self.clear_opaque(&sub, &child, depth + 1)?,
                    Err(Errno::NOTDIR) | Err(Errno::LOOP) => {}
                    Err(e) => return Err(err(&child, e)),
                }
            } else {
                remove_all_at(dir, &name, &child, depth + 1)?;
            }
        }
        Ok(())
    }

    /// Applies directory modes and mtimes once everything is extracted.
    fn finish_dirs(&mut self) -> Result<(), LayerError> {
        let dirs = std::mem::take(&mut self.dirs);
        for (comps, (mode, mtime)) in dirs {
            let path = join(&comps);
            // A directory later replaced by something else, or removed, is skipped.
            let fd = match self.open_dir(&comps, Create::No, &path) {
                Ok(Some(fd)) => fd,
                Ok(None) | Err(LayerError::UnsafePath { .. }) => continue,
                Err(e) => return Err(e),
            };
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode)).map_err(|e| err(&path, e))?;
            rustix::fs::futimens(&fd, &timestamps(mtime)).map_err(|e| err(&path, e))?;
        }
        Ok(())
    }
}

fn truncated(p: &Parsed) -> LayerError {
    LayerError::Malformed {
        path: join_lossy(&p.comps),
        reason: "truncated file content".into(),
    }
}

/// The pool key (hex) of a file: sha256 over its content's sha256, mode, uid, gid and mtime.
fn pool_key(content: &[u8], p: &Parsed) -> String {
    let mut h = Sha256::new();
    h.update(Sha256::digest(content));
    h.update(p.mode.to_le_bytes());
    h.update(p.uid.to_le_bytes());
    h.update(p.gid.to_le_bytes());
    h.update(p.mtime.to_le_bytes());
    hex::encode(h.finalize())
}

/// Opens (creating it when missing) the pool subdirectory `sub`, not following symlinks.
fn open_pool_subdir(pool: &OwnedFd, sub: &str) -> Result<OwnedFd, Errno> {
    let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
    match rustix::fs::openat(pool, sub, flags, Mode::empty()) {
        Err(Errno::NOENT) => match rustix::fs::mkdirat(pool, sub, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => rustix::fs::openat(pool, sub, flags, Mode::empty()),
            Err(e) => Err(e),
        },
        r => r,
    }
}

/// Whether the xattr name is one overlayfs interprets (in a lower directory it would be read as
/// overlay metadata, not as file content).
fn is_overlay_xattr(name: &str) -> bool {
    name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")
}

/// Whether `name` in `dir` is an overlay whiteout (a 0/0 character device).
fn is_whiteout_at(dir: &OwnedFd, name: &[u8]) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok_and(|st| {
        FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice && st.st_rdev == 0
    })
}

/// Marks a directory opaque for overlayfs.
fn set_opaque(dir: &OwnedFd, path: &[u8]) -> Result<(), LayerError> {
    rustix::fs::fsetxattr(
        dir,
        OVERLAY_OPAQUE_XATTR,
        b"y",
        rustix::fs::XattrFlags::empty(),
    )
    .map_err(|e| {
        err(
            path,
            io::Error::new(
                io::Error::from(e).kind(),
                format!("setting {OVERLAY_OPAQUE_XATTR} (needs CAP_SYS_ADMIN): {e}"),
            ),
        )
    })
}

fn uid(v: u64, path: &[u8]) -> Result<rustix::fs::Uid, LayerError> {
    let v = u32::try_from(v).map_err(|_| {
        err(
            path,
            io::Error::new(io::ErrorKind::InvalidData, "uid too large"),
        )
    })?;
    Ok(rustix::fs::Uid::from_raw(v))
}

fn gid(v: u64, path: &[u8]) -> Result<rustix::fs::Gid, LayerError> {
    let v = u32::try_from(v).map_err(|_| {
        err(
            path,
            io::Error::new(io::ErrorKind::InvalidData, "gid too large"),
        )
    })?;
    Ok(rustix::fs::Gid::from_raw(v))
}

/// The names in a directory, without `.` and `..`.
fn list_dir(dir: &OwnedFd, path: &[u8]) -> Result<Vec<Vec<u8>>, LayerError> {
    let mut d = rustix::fs::Dir::read_from(dir).map_err(|e| err(path, e))?;
    let mut names = Vec::new();
    while let Some(ent) = d.read() {
        let ent = ent.map_err(|e| err(path, e))?;
        let name = ent.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    }
    Ok(names)
}

/// Removes `name` in `dir` (recursively for directories) without following symlinks. A missing
/// `name` is not an error.
fn remove_all_at(dir: &OwnedFd, name: &[u8], path: &[u8], depth: usize) -> Result<(), LayerError> {
    if depth > MAX_REMOVE_DEPTH {
        return Err(unsafe_path(path, "directory tree too deep"));
    }
    let st = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(err(path, e)),
    };
    if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
        return match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(err(path, e)),
        };
    }
    let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
    let sub = rustix::fs::openat(dir, name, flags, Mode::empty()).map_err(|e| err(path, e))?;
    for child in list_dir(&sub, path)? {
        let mut child_path = path.to_vec();
        child_path.push(b'/');
        child_path.extend_from_slice(&child);
        remove_all_at(&sub, &child, &child_path, depth + 1)?;
    }
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(err(path, e)),
    }
}
