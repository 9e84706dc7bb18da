//! The extracted-layer cache: each layer extracted once, alone, in overlayfs lower-directory
//! format, under `.plinth/layers/<diff_id hex>/`. See the store module docs ("Extracted layers").

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::RenameFlags;

use super::{PRIVATE_DIR, Result, Store, StoreError, fsync_dir};
use crate::Digest;
use crate::digest::HashingReader;
use crate::layer::read::Decoder;
use crate::layer::{ExtractMode, ExtractOptions, LayerError, extract_tar};
use crate::types::{Descriptor, media};

/// `.plinth/layers`.
pub(super) const LAYERS_DIR: &str = "layers";

/// `.plinth/pool`: the file pool of extracted layers (see [`crate::layer::ExtractOptions::pool`]).
pub(super) const POOL_DIR: &str = "pool";

/// Removes a temporary directory tree when dropped (unless it is gone already).
struct TreeGuard(PathBuf);

impl Drop for TreeGuard {
    fn drop(&mut self) {
        // A leftover (the removal failed) is in `.plinth/tmp` and removed by gc.
        let _ = remove_tree(&self.0);
    }
}

impl Store {
    pub(super) fn layers_dir(&self) -> PathBuf {
        self.root.join(PRIVATE_DIR).join(LAYERS_DIR)
    }

    pub(super) fn pool_dir(&self) -> PathBuf {
        self.root.join(PRIVATE_DIR).join(POOL_DIR)
    }

    /// Where the extracted layer with this diff_id lives (whether or not it exists).
    pub fn extracted_layer_path(&self, diff_id: &Digest) -> PathBuf {
        self.layers_dir().join(diff_id.hex())
    }

    /// The layer `layer` (a blob of this store whose uncompressed content hashes to `diff_id`)
    /// extracted alone in overlayfs lower-directory format ([`ExtractMode::OverlayLower`]), to be
    /// used as one `lowerdir` of an overlay mount. Extracts it the first time: into a temp
    /// directory in `.plinth/tmp`, checking the blob's size and digest and that the uncompressed
    /// stream hashes to `diff_id` (otherwise an error, and nothing is kept), then renamed into
    /// place. When several processes extract the same layer at once, the first rename wins and
    /// the others use it. Needs root (the whiteouts and opaque xattrs of overlayfs need it).
    ///
    /// The directory stays until [`Store::gc`] finds no image (from `index.json` or a root) with
    /// that diff_id; hold a [`super::BuildSession`] while using it.
    pub fn extracted_layer(&self, layer: &Descriptor, diff_id: &Digest) -> Result<PathBuf> {
        let dest = self.extracted_layer_path(diff_id);
        if is_real_dir(&dest) {
            return Ok(dest);
        }
        // Keeps gc from removing the temp directory while we work.
        let _gc = self.gc_shared_lock()?;
        if is_real_dir(&dest) {
            return Ok(dest);
        }
        let layers = self.layers_dir();
        if !layers.is_dir() {
            fs_err::create_dir_all(&layers)?;
            // Layers hold setuid binaries and device nodes: not for other users to reach.
            fs_err::set_permissions(&layers, std::fs::Permissions::from_mode(0o700))?;
        }
        let pool = self.pool_dir();
        if !pool.is_dir() {
            fs_err::create_dir_all(&pool)?;
            // Pool files are the layers' files (setuid ones are not pooled, but still private).
            fs_err::set_permissions(&pool, std::fs::Permissions::from_mode(0o700))?;
        }
        let tmp_dir = self.tmp_dir()?;
        let wrapper = tempfile::Builder::new()
            .prefix("layer-")
            .tempdir_in(&tmp_dir)
            .map_err(|source| StoreError::IoAt {
                what: "creating a temp directory in",
                path: tmp_dir.clone(),
                source,
            })?
            .keep();
        let guard = TreeGuard(wrapper);
        let root = guard.0.join("root");
        fs_err::create_dir(&root)?;
        fs_err::set_permissions(&root, std::fs::Permissions::from_mode(0o755))?;

        let mut blob = self.open_blob(&layer.digest)?;
        if blob.size() != layer.size {
            return Err(StoreError::SizeMismatch {
                store: self.root.clone(),
                digest: layer.digest.clone(),
                expected: layer.size,
                actual: blob.size(),
            });
        }
        let ext = |e: LayerError| self.extract_error(&layer.digest, e);
        let actual = {
            let decoder = Decoder::open(&mut blob, &layer.media_type).map_err(ext)?;
            let mut tar = HashingReader::new(decoder);
            let opts = ExtractOptions {
                mode: ExtractMode::OverlayLower,
                pool: Some(&pool),
            };
            extract_tar(&mut tar, &root, &opts).map_err(ext)?;
            // The diff_id covers the whole uncompressed stream, past the end-of-archive blocks.
            io::copy(&mut tar, &mut io::sink()).map_err(|e| ext(LayerError::ReadLayer(e)))?;
            tar.finish().1
        };
        // Read the blob to its end so its digest is checked.
        io::copy(&mut blob, &mut io::sink()).map_err(|e| ext(LayerError::ReadLayer(e)))?;
        if &actual != diff_id {
            return Err(StoreError::DiffIdMismatch {
                store: self.root.clone(),
                layer: layer.digest.clone(),
                expected: diff_id.clone(),
                actual,
            });
        }
        // No fsync/syncfs here: an extracted layer is a cache derived from a verified blob, and a
        // killed process cannot leave it half-written (the rename is last). syncfs cost ~0.6 s per
        // step on a busy filesystem (it flushes every dirty page of the filesystem, blobs included).
        // After a power loss, `rm -rf <store>/.plinth/layers` rebuilds it.
        match rustix::fs::renameat_with(
            rustix::fs::CWD,
            &root,
            rustix::fs::CWD,
            &dest,
            RenameFlags::NOREPLACE,
        ) {
            Ok(()) => fsync_dir(&layers)?,
            // Another process won the race; theirs is as good as ours.
            Err(rustix::io::Errno::EXIST) | Err(rustix::io::Errno::NOTEMPTY)
                if is_real_dir(&dest) => {}
            Err(e) => {
                return Err(StoreError::IoAt {
                    what: "renaming into",
                    path: dest,
                    source: e.into(),
                });
            }
        }
        drop(guard);
        Ok(dest)
    }

    /// A [`LayerError`] from extracting `digest`; a corrupt blob detected while reading is
    /// reported as such.
    fn extract_error(&self, digest: &Digest, e: LayerError) -> StoreError {
        layer_error(e, |source| StoreError::ExtractLayer {
            store: self.root.clone(),
            digest: digest.clone(),
            source,
        })
    }

    /// The diff_ids of every image config among `reachable`, or `None` when a config cannot be
    /// read (then gc keeps every extracted layer).
    pub(super) fn reachable_diff_ids(
        &self,
        reachable: &BTreeMap<Digest, Descriptor>,
    ) -> Option<BTreeSet<Digest>> {
        #[derive(serde::Deserialize)]
        struct RootFs {
            #[serde(default)]
            diff_ids: Vec<Digest>,
        }
        #[derive(serde::Deserialize)]
        struct Config {
            rootfs: RootFs,
        }
        let mut out = BTreeSet::new();
        for d in reachable.values() {
            if !matches!(
                d.media_type.as_str(),
                media::OCI_CONFIG | media::DOCKER_CONFIG
            ) {
                continue;
            }
            let config: Config = serde_json::from_slice(&self.read_blob(&d.digest).ok()?).ok()?;
            out.extend(config.rootfs.diff_ids);
        }
        Some(out)
    }

    /// Removes extracted layers whose diff_id is not in `live`; returns the removed diff_ids.
    /// Directory entries that are not named by a digest are left alone.
    pub(super) fn remove_extracted_layers(&self, live: &BTreeSet<Digest>) -> Result<Vec<Digest>> {
        let dir = self.layers_dir();
        let entries = match fs_err::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut removed = Vec::new();
        for entry in entries {
            let entry = entry?;
            let Some(Ok(diff_id)) = entry
                .file_name()
                .to_str()
                .map(|h| format!("sha256:{h}").parse::<Digest>())
            else {
                continue;
            };
            if live.contains(&diff_id) {
                continue;
            }
            remove_tree(&entry.path())?;
            removed.push(diff_id);
        }
        removed.sort();
        Ok(removed)
    }
}

impl Store {
    /// Removes the pool files only the pool links to (link count 1), and leftover temp files of
    /// interrupted pool writes (also link count 1); returns how many. Call only with the
    /// exclusive gc lock held: an extraction could otherwise be about to link such a file.
    pub(super) fn remove_unused_pool_files(&self) -> Result<usize> {
        use std::os::unix::fs::MetadataExt;
        let pool = self.pool_dir();
        let subs = match fs_err::read_dir(&pool) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let mut removed = 0;
        for sub in subs {
            let sub = sub?;
            if !sub.file_type()?.is_dir() {
                continue;
            }
            for entry in fs_err::read_dir(sub.path())? {
                let entry = entry?;
                let md = match fs_err::symlink_metadata(entry.path()) {
                    Ok(md) => md,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                if md.file_type().is_file() && md.nlink() == 1 {
                    match fs_err::remove_file(entry.path()) {
                        Ok(()) => removed += 1,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(removed)
    }
}

/// A [`LayerError`] from reading a stored blob: a corrupt blob (detected by the
/// [`super::BlobReader`] at its end) is reported as that store error, anything else through `wrap`.
pub(super) fn layer_error(
    e: LayerError,
    wrap: impl FnOnce(LayerError) -> StoreError,
) -> StoreError {
    match e {
        LayerError::ReadLayer(io_err)
            if io_err
                .get_ref()
                .is_some_and(|inner| inner.is::<StoreError>()) =>
        {
            let kind = io_err.kind();
            match io_err
                .into_inner()
                .map(|inner| inner.downcast::<StoreError>())
            {
                Some(Ok(store_err)) => *store_err,
                Some(Err(other)) => wrap(LayerError::ReadLayer(io::Error::new(kind, other))),
                None => wrap(LayerError::ReadLayer(io::Error::from(kind))),
            }
        }
        e => wrap(e),
    }
}

/// A directory, not a symlink to one.
fn is_real_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// Removes a directory tree (or a file) without following symlinks; a missing path is not an
/// error. Directories the process may not write or read (an image's `0555` directories when not
/// root) are made accessible (`u+rwx`) first.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    let md = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !md.is_dir() {
        return match fs_err::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    match fs_err::remove_dir_all(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
        Err(e) => return Err(e),
    }
    make_accessible(path)?;
    match fs_err::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Adds `u+rwx` to every directory of the tree (top-down, so each can then be read).
fn make_accessible(top: &Path) -> io::Result<()> {
    let mut stack = vec![top.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let md = match std::fs::symlink_metadata(&dir) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !md.is_dir() {
            continue;
        }
        let mode = md.permissions().mode();
        if mode & 0o700 != 0o700 {
            fs_err::set_permissions(
                &dir,
                std::fs::Permissions::from_mode((mode | 0o700) & 0o7777),
            )?;
        }
        for entry in fs_err::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    Ok(())
}
