//! The local image store: an OCI image-layout directory (`oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`) that several plinth processes may use at once.
//!
//! # Layout and private files
//! Besides the standard layout, plinth keeps its private state under `<store>/.plinth/`:
//! `tmp/` (temporary files, on the same filesystem as the blobs so they can be renamed in),
//! `index.lock` (serializes `index.json` updates), `gc.lock` and `sessions/` (see below),
//! `roots/` (extra gc roots), `layers/` (extracted layers) and `headers/` (the layer header
//! cache). Other OCI tools ignore that directory.
//!
//! # Durability and crash safety
//! * A blob is written to a temp file in `.plinth/tmp`, fsynced, renamed to `blobs/sha256/<hex>`,
//!   and the directory is fsynced. A blob file therefore always holds its complete content.
//! * `index.json` is replaced atomically (temp file, fsync, rename, fsync of the directory) while
//!   holding an exclusive `flock` on `.plinth/index.lock`; concurrent ref updates from several
//!   processes are serialized and none is lost.
//! * [`Store::set_ref`] checks that every blob the image needs (manifest, config, layers, the
//!   manifests of an index) is present with the right size before it writes the ref, so a killed
//!   build can leave unreferenced blobs (removed by [`Store::gc`]) but never a dangling ref.
//!
//! # Garbage collection and build sessions
//! A build writes blobs first and sets its ref last. So that [`Store::gc`] never deletes blobs a
//! running build has written but not referenced yet, a build holds a [`BuildSession`]
//! ([`Store::session`]): a shared `flock` on `.plinth/gc.lock` (plus a per-session file in
//! `.plinth/sessions/` used only to count running builds). Every [`BlobWriter`] and every ref update
//! also holds that shared lock while it works. `gc` takes the lock exclusively. By default it does
//! not wait: if any session is open it fails with [`StoreError::Busy`]
//! ("store busy: N builds running"); [`GcWait::Timeout`] makes it retry until a deadline instead.
//! A process must not call `gc` while it holds a session itself (it would report itself as busy).
//!
//! # Extra gc roots
//! Besides `index.json`, gc keeps whatever a *root* lists. A root is a file
//! `.plinth/roots/<group>/<name>.json` ([`Root`]: descriptors, diff_ids of extracted layers to
//! keep, and free-form data of its owner), written atomically by [`Store::set_root`] /
//! [`Store::set_root_with`] (only when every blob it needs is present, like a ref), read by
//! [`Store::root`], listed by [`Store::roots`] (with mtimes, which [`Store::touch_root`] updates
//! for LRU bookkeeping) and deleted by [`Store::remove_root`]. gc walks every descriptor of every
//! root like an index entry; a blob a root lists but the store lacks is skipped, not an error.
//! Group and root names are `[A-Za-z0-9._-]`, 1 to 200 bytes, not starting with `.`. The build
//! cache is the group `cache` (one root per cached step).
//!
//! # Extracted layers
//! [`Store::extracted_layer`] keeps each layer extracted once, alone, in overlayfs
//! lower-directory format (whiteouts as 0/0 character devices, opaque directories marked with
//! `trusted.overlay.opaque=y`) in `.plinth/layers/<diff_id hex>/` (the `layers` directory is mode
//! 0700: it holds setuid files and devices). The extraction goes to a temp directory under
//! `.plinth/tmp`, is checked (blob digest and diff_id) and synced, then renamed into place, so a
//! layer directory is always complete; a killed extraction leaves a temp directory that gc
//! removes. gc removes a layer directory when no image config reachable from `index.json` or a
//! root, nor a root's `diff_ids`, names its diff_id. Builds use layer directories inside a
//! [`BuildSession`], so gc never removes one in use.
//!
//! Regular files of extracted layers are hard links into a content-addressed file pool,
//! `.plinth/pool/<2 hex>/<key hex>` (mode 0700; see [`crate::layer::ExtractOptions::pool`]), so
//! a file that several layers hold is one inode. gc removes a pool file once only the pool links
//! to it (link count 1), after removing layer directories.
//!
//! # Layer header cache
//! [`Store::layer_entries`] lists a layer blob's tar headers ([`crate::layer::LayerEntryInfo`])
//! and keeps them in `.plinth/headers/<blob digest hex>`, so the next build that needs an image's
//! file metadata does not decompress the layer again ([`Store::put_layer_entries`] fills it for a
//! layer whose entries the caller knows). The blob is immutable, so a file never goes stale; one
//! that is damaged is ignored and rewritten. gc removes the file once its blob is gone. The file
//! format is described in `store/headers.rs`.
//!
//! # Refs and other tools
//! A ref is an `index.json` entry whose `org.opencontainers.image.ref.name` annotation is the full
//! reference as the user gave it, with `:latest` added when it has no tag
//! (`app:1.0`, `registry.example.com/team/app:1.0`). Checked with the real tools:
//! * skopeo 1.9: `skopeo inspect oci:STORE:app:1.0` and `oci:STORE:registry.example.com/team/app:1.0`
//!   work (skopeo splits at the first `:`, so the store path itself must not contain `:`).
//! * umoci 0.4.7: `umoci unpack --image STORE:registry.example.com/team/app:1.0 BUNDLE` works (same
//!   split rule); `umoci ls --layout STORE` lists the full names.
//! * oci-image-tool 1.0.0-rc1: `validate --type image STORE` validates every ref (and fails on a
//!   damaged blob).
//!   `--ref name=X` matches names by *substring* (so `name=app:1.0` is "not unique" when
//!   `registry.example.com/team/app:1.0` also exists); `--type imageLayout` is not implemented.
//!
//! Layouts written by other tools often name refs with a bare tag (`skopeo copy ... oci:DIR:x`
//! writes `x`), so [`Store::resolve`] and [`Store::remove_ref`] try the name exactly as written
//! before the normalized one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::Permissions;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tempfile::NamedTempFile;

use crate::lock::{FileLock, LockKind};
use crate::reference::{ImageRef, RefError, normalize_ref};
use crate::types::{
    ANNOTATION_REF_NAME, Descriptor, ImageConfig, Index, Manifest, Platform, media,
};
use crate::{Digest, json};

const LAYOUT_FILE: &str = "oci-layout";
const INDEX_FILE: &str = "index.json";
const LAYOUT_VERSION: &str = "1.0.0";
const PRIVATE_DIR: &str = ".plinth";
/// The shortest digest prefix accepted as an image ID (as `docker images` shows them).
pub const MIN_PREFIX_LEN: usize = 12;
/// How deep nested indexes are followed.
const MAX_DEPTH: usize = 8;

/// Everything that can go wrong in the store. Messages name the store path and the digest.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed (the message carries the path, via fs-err).
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("{what} {path}: {source}")]
    IoAt {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{path} is not an OCI image layout: {reason}")]
    NotALayout { path: PathBuf, reason: String },
    #[error("{path}: unsupported imageLayoutVersion {version:?} (plinth reads {LAYOUT_VERSION})")]
    UnsupportedLayoutVersion { path: PathBuf, version: String },
    #[error("corrupt index {path}: {source}")]
    CorruptIndex {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("blob {digest} is missing from the store {store}")]
    MissingBlob { store: PathBuf, digest: Digest },
    #[error("blob {digest} in the store {store} is corrupt: its content hashes to {actual}")]
    CorruptBlob {
        store: PathBuf,
        digest: Digest,
        actual: Digest,
    },
    #[error(
        "blob {digest} in the store {store} has {actual} bytes but its descriptor says {expected}"
    )]
    SizeMismatch {
        store: PathBuf,
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error("content expected to be {expected} hashes to {actual}; nothing was stored in {store}")]
    DigestMismatch {
        store: PathBuf,
        expected: Digest,
        actual: Digest,
    },
    #[error("{what} {digest} in the store {store} is not valid: {source}")]
    BadJson {
        store: PathBuf,
        digest: Digest,
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("{digest} in the store {store} has media type {media_type:?}: {problem}")]
    UnsupportedMediaType {
        store: PathBuf,
        digest: Digest,
        media_type: String,
        problem: &'static str,
    },
    #[error(
        "image index {digest} in the store {store} has no manifest for {platform} (it has: {available})"
    )]
    NoMatchingPlatform {
        store: PathBuf,
        digest: Digest,
        platform: String,
        available: String,
    },
    #[error(
        "image index {digest} in the store {store} nests indexes deeper than {MAX_DEPTH} levels"
    )]
    TooDeep { store: PathBuf, digest: Digest },
    #[error("no image {reference:?} in the store {store}")]
    NotFound { store: PathBuf, reference: String },
    #[error(
        "{prefix:?} is ambiguous in the store {store}: it matches {}",
        list_digests(candidates)
    )]
    AmbiguousPrefix {
        store: PathBuf,
        prefix: String,
        candidates: Vec<Digest>,
    },
    #[error(transparent)]
    Reference(#[from] RefError),
    #[error("store busy: {} (store {store}); try again when they finish", busy_detail(*sessions))]
    Busy { store: PathBuf, sessions: usize },
    #[error("cannot serialize {what}: {source}")]
    Serialize {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("invalid gc root name {name:?}: {reason}")]
    InvalidRootName { name: String, reason: &'static str },
    #[error("corrupt gc root {path}: {source}")]
    CorruptRoot {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("extracting layer {digest} of the store {store}: {source}")]
    ExtractLayer {
        store: PathBuf,
        digest: Digest,
        source: crate::layer::LayerError,
    },
    #[error("reading layer {digest} of the store {store}: {source}")]
    ReadLayer {
        store: PathBuf,
        digest: Digest,
        source: crate::layer::LayerError,
    },
    #[error(
        "layer {layer} in the store {store} uncompresses to content with digest {actual}, not the expected diff_id {expected}; nothing was kept"
    )]
    DiffIdMismatch {
        store: PathBuf,
        layer: Digest,
        expected: Digest,
        actual: Digest,
    },
}

fn list_digests(d: &[Digest]) -> String {
    d.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn busy_detail(sessions: usize) -> String {
    match sessions {
        0 => "blobs are being written".to_string(),
        1 => "1 build running".to_string(),
        n => format!("{n} builds running"),
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A handle on a store directory. Cheap to clone; holds no open files or locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    root: PathBuf,
}

/// A manifest and its config, loaded and checked.
#[derive(Debug, Clone)]
pub struct Image {
    /// The descriptor of the image manifest (for an index: the chosen platform's manifest).
    pub descriptor: Descriptor,
    pub manifest: Manifest,
    /// The manifest exactly as stored.
    pub manifest_bytes: Vec<u8>,
    pub config: ImageConfig,
    /// The config exactly as stored (Docker-only fields such as `Healthcheck` survive in here).
    pub config_bytes: Vec<u8>,
}

impl Image {
    /// The image ID, as Docker defines it: the config digest.
    pub fn id(&self) -> &Digest {
        &self.manifest.config.digest
    }

    /// Config size plus the (stored, possibly compressed) sizes of all layers.
    pub fn size(&self) -> u64 {
        self.manifest.config.size + self.manifest.layers.iter().map(|l| l.size).sum::<u64>()
    }
}

/// What a reference resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The ref name when the image was found through (or also has) a ref in `index.json`.
    pub name: Option<String>,
    /// The manifest or index descriptor (as in `index.json` when it came from there).
    pub descriptor: Descriptor,
}

/// One ref, as listed by [`Store::list_refs`].
#[derive(Debug)]
pub struct RefInfo {
    pub name: String,
    /// The `index.json` entry (manifest or index).
    pub descriptor: Descriptor,
    /// The image's details, or why they could not be read (a broken image does not hide the others).
    pub summary: Result<ImageSummary>,
}

/// One entry of `index.json` as [`Store::list_images`] lists it.
#[derive(Debug)]
pub struct ListedImage {
    /// The ref name; `None` for an untagged image.
    pub name: Option<String>,
    pub descriptor: Descriptor,
    /// The image's details, or why they could not be read.
    pub summary: Result<ImageSummary>,
}

/// Size and creation time of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    /// The config digest (Docker's image ID).
    pub image_id: Digest,
    /// Config plus layers, as stored.
    pub size: u64,
    /// `created` from the config.
    pub created: Option<String>,
}

/// How [`Store::gc`] behaves when builds are running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GcWait {
    /// Fail at once with [`StoreError::Busy`].
    #[default]
    NoWait,
    /// Retry until the builds finish or the time is up, then fail with [`StoreError::Busy`].
    Timeout(Duration),
}

/// What [`Store::gc`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub removed_blobs: Vec<Digest>,
    pub freed_bytes: u64,
    /// Stale temporary files and session files of dead processes (including interrupted layer
    /// extractions).
    pub removed_temp_files: usize,
    /// Extracted layers ([`Store::extracted_layer`]) removed, by diff_id.
    pub removed_layer_dirs: Vec<Digest>,
    /// Files of the extracted layers' file pool that no extracted layer used any more.
    pub removed_pool_files: usize,
    /// Layer header cache files ([`Store::layer_entries`]) whose blob is gone.
    pub removed_header_files: usize,
}

/// Whether a walk tolerates blobs that are not in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// Every referenced blob must be present with its descriptor's size.
    Error,
    /// Absent blobs are skipped (gc: nothing below them can be known).
    Skip,
}

/// What kind of object a media type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Manifest,
    Index,
    Other,
}

pub(crate) fn kind_of(media_type: &str) -> Kind {
    match media_type {
        media::OCI_MANIFEST | media::DOCKER_MANIFEST => Kind::Manifest,
        media::OCI_INDEX | media::DOCKER_MANIFEST_LIST => Kind::Index,
        _ => Kind::Other,
    }
}

/// The platform plinth builds for when none is asked: linux/amd64.
pub fn default_platform() -> Platform {
    Platform {
        architecture: "amd64".into(),
        os: "linux".into(),
        variant: None,
        os_version: None,
    }
}

/// Guesses from its content whether a blob is a manifest or an index; `None` if it is neither.
fn sniff_bytes(bytes: &[u8]) -> Option<(Kind, String)> {
    let Ok(serde_json::Value::Object(v)) = serde_json::from_slice::<serde_json::Value>(bytes)
    else {
        return None;
    };
    let mt = v.get("mediaType").and_then(|m| m.as_str()).unwrap_or("");
    match kind_of(mt) {
        Kind::Other if !mt.is_empty() => None,
        Kind::Other if v.contains_key("manifests") => {
            Some((Kind::Index, media::OCI_INDEX.to_string()))
        }
        Kind::Other if v.contains_key("config") && v.contains_key("layers") => {
            Some((Kind::Manifest, media::OCI_MANIFEST.to_string()))
        }
        Kind::Other => None,
        k => Some((k, mt.to_string())),
    }
}

fn platform_str(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{}", p.os, p.architecture, v),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str)
}

fn private_tempfile(dir: &Path, prefix: &str) -> io::Result<NamedTempFile> {
    tempfile::Builder::new()
        .prefix(prefix)
        .permissions(Permissions::from_mode(0o644))
        .tempfile_in(dir)
}

fn fsync_dir(dir: &Path) -> Result<()> {
    let f = fs_err::File::open(dir)?;
    f.sync_all()?;
    Ok(())
}

impl Store {
    /// Opens an existing layout (any OCI layout, also one written by another tool).
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let root = path.as_ref().to_path_buf();
        let layout = root.join(LAYOUT_FILE);
        let bytes = match fs_err::read(&layout) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotALayout {
                    path: root,
                    reason: "there is no oci-layout file".into(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        #[derive(serde::Deserialize)]
        struct Layout {
            #[serde(rename = "imageLayoutVersion")]
            version: String,
        }
        let l: Layout = serde_json::from_slice(&bytes).map_err(|e| StoreError::NotALayout {
            path: root.clone(),
            reason: format!("bad oci-layout file: {e}"),
        })?;
        if l.version != LAYOUT_VERSION {
            return Err(StoreError::UnsupportedLayoutVersion {
                path: root,
                version: l.version,
            });
        }
        if !root.join(INDEX_FILE).is_file() {
            return Err(StoreError::NotALayout {
                path: root,
                reason: "there is no index.json".into(),
            });
        }
        Ok(Store { root })
    }

    /// Opens the layout at `path`, creating it (and the directory) if needed. Refuses a directory
    /// that has other content but no `oci-layout` file, so a wrong path is not polluted.
    pub fn init(path: impl AsRef<Path>) -> Result<Store> {
        let root = path.as_ref().to_path_buf();
        fs_err::create_dir_all(&root)?;
        if !root.join(LAYOUT_FILE).exists() {
            for entry in fs_err::read_dir(&root)? {
                let name = entry?.file_name();
                let name = name.to_string_lossy();
                if !(name.starts_with('.') || name == "blobs" || name == INDEX_FILE) {
                    return Err(StoreError::NotALayout {
                        path: root,
                        reason: format!(
                            "the directory is not empty (it has {name:?}) and has no oci-layout file"
                        ),
                    });
                }
            }
        }
        let store = Store { root };
        fs_err::create_dir_all(store.blobs_dir())?;
        // index.json first, oci-layout last: a concurrent `open` that sees oci-layout also finds
        // index.json.
        if !store.index_path().exists() {
            let _lock = store.index_lock()?;
            if !store.index_path().exists() {
                store.write_index(&Index::default())?;
            }
        }
        if !store.root.join(LAYOUT_FILE).exists() {
            let _lock = store.index_lock()?;
            if !store.root.join(LAYOUT_FILE).exists() {
                let content = format!("{{\"imageLayoutVersion\":\"{LAYOUT_VERSION}\"}}");
                store.replace_file(&store.root.join(LAYOUT_FILE), content.as_bytes())?;
            }
        }
        Store::open(&store.root)
    }

    /// The store directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Where a blob lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.hex())
    }

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs").join("sha256")
    }

    fn index_path(&self) -> PathBuf {
        self.root.join(INDEX_FILE)
    }

    /// `.plinth/<sub>`, created if missing.
    fn private_dir(&self, sub: &str) -> Result<PathBuf> {
        let p = self.root.join(PRIVATE_DIR).join(sub);
        fs_err::create_dir_all(&p)?;
        Ok(p)
    }

    pub(crate) fn tmp_dir(&self) -> Result<PathBuf> {
        self.private_dir("tmp")
    }

    fn lock_path(&self, name: &str) -> Result<PathBuf> {
        Ok(self.private_dir("")?.join(name))
    }

    fn index_lock(&self) -> Result<FileLock> {
        let p = self.lock_path("index.lock")?;
        FileLock::acquire(&p, LockKind::Exclusive).map_err(|source| StoreError::IoAt {
            what: "locking",
            path: p,
            source,
        })
    }

    pub(crate) fn gc_shared_lock(&self) -> Result<FileLock> {
        let p = self.lock_path("gc.lock")?;
        FileLock::acquire(&p, LockKind::Shared).map_err(|source| StoreError::IoAt {
            what: "locking",
            path: p,
            source,
        })
    }

    /// Writes `bytes` to `dest` atomically (temp file in `.plinth/tmp`, fsync, rename, fsync dir).
    fn replace_file(&self, dest: &Path, bytes: &[u8]) -> Result<()> {
        let tmp_dir = self.tmp_dir()?;
        let mut tmp = private_tempfile(&tmp_dir, "file-").map_err(|source| StoreError::IoAt {
            what: "creating a temp file in",
            path: tmp_dir.clone(),
            source,
        })?;
        tmp.write_all(bytes)
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|source| StoreError::IoAt {
                what: "writing",
                path: tmp.path().to_path_buf(),
                source,
            })?;
        tmp.persist(dest).map_err(|e| StoreError::IoAt {
            what: "renaming into",
            path: dest.to_path_buf(),
            source: e.error,
        })?;
        fsync_dir(dest.parent().unwrap_or(&self.root))
    }

    // ---------------------------------------------------------------- blobs

    /// Whether the blob is in the store.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// The size of a stored blob.
    pub fn blob_size(&self, digest: &Digest) -> Result<u64> {
        match fs_err::metadata(self.blob_path(digest)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(self.missing(digest)),
            Err(e) => Err(e.into()),
        }
    }

    fn missing(&self, digest: &Digest) -> StoreError {
        StoreError::MissingBlob {
            store: self.root.clone(),
            digest: digest.clone(),
        }
    }

    /// Starts writing a blob whose digest is computed as it is written.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let gc_lock = self.gc_shared_lock()?;
        let dir = self.tmp_dir()?;
        let tmp = private_tempfile(&dir, "blob-").map_err(|source| StoreError::IoAt {
            what: "creating a temp file in",
            path: dir,
            source,
        })?;
        Ok(BlobWriter {
            file: BufWriter::with_capacity(256 * 1024, tmp),
            hasher: Sha256::new(),
            size: 0,
            store: self.clone(),
            _gc_lock: gc_lock,
        })
    }

    /// Stores `bytes` (a no-op if the blob is already there) and returns its descriptor.
    pub fn write_blob(&self, media_type: &str, bytes: &[u8]) -> Result<Descriptor> {
        let digest = Digest::of(bytes);
        let size = bytes.len() as u64;
        if !matches!(self.blob_size(&digest), Ok(s) if s == size) {
            let mut w = self.blob_writer()?;
            w.write_all(bytes).map_err(|source| StoreError::IoAt {
                what: "writing a blob in",
                path: self.root.clone(),
                source,
            })?;
            w.commit_expect(&digest)?;
        }
        Ok(Descriptor::new(media_type, digest, size))
    }

    /// Serializes `value` through canonical JSON and stores it.
    pub fn write_json<T: Serialize>(&self, media_type: &str, value: &T) -> Result<Descriptor> {
        let bytes = json::to_canonical_vec(value).map_err(|source| StoreError::Serialize {
            what: "JSON blob",
            source,
        })?;
        self.write_blob(media_type, &bytes)
    }

    /// Reads a whole blob and checks its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let bytes = match fs_err::read(self.blob_path(digest)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(self.missing(digest)),
            Err(e) => return Err(e.into()),
        };
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(StoreError::CorruptBlob {
                store: self.root.clone(),
                digest: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Reads the blob a descriptor names, checking size and digest.
    pub fn read_descriptor(&self, d: &Descriptor) -> Result<Vec<u8>> {
        let bytes = self.read_blob(&d.digest)?;
        if bytes.len() as u64 != d.size {
            return Err(StoreError::SizeMismatch {
                store: self.root.clone(),
                digest: d.digest.clone(),
                expected: d.size,
                actual: bytes.len() as u64,
            });
        }
        Ok(bytes)
    }

    /// Opens a blob for streaming. The reader checks the digest when it reaches the end and fails
    /// with an `InvalidData` error (wrapping [`StoreError::CorruptBlob`]) on a mismatch.
    pub fn open_blob(&self, digest: &Digest) -> Result<BlobReader> {
        let file = match fs_err::File::open(self.blob_path(digest)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(self.missing(digest)),
            Err(e) => return Err(e.into()),
        };
        let size = file.metadata()?.len();
        Ok(BlobReader {
            file: io::BufReader::with_capacity(256 * 1024, file),
            hasher: Sha256::new(),
            expected: digest.clone(),
            store: self.root.clone(),
            size,
            checked: false,
        })
    }

    // ---------------------------------------------------------------- images

    /// Loads an image for linux/amd64 (see [`Store::image_for`]).
    pub fn image(&self, d: &Descriptor) -> Result<Image> {
        self.image_for(d, &default_platform())
    }

    /// Loads manifest and config. `d` may name an OCI or Docker schema 2 manifest, or an index /
    /// manifest list, from which the first manifest for `platform` is taken (an index whose only
    /// entry has no platform gives that entry).
    pub fn image_for(&self, d: &Descriptor, platform: &Platform) -> Result<Image> {
        let d = self.select_manifest(d, platform)?;
        let manifest_bytes = self.read_descriptor(&d)?;
        let manifest: Manifest =
            serde_json::from_slice(&manifest_bytes).map_err(|source| StoreError::BadJson {
                store: self.root.clone(),
                digest: d.digest.clone(),
                what: "manifest",
                source,
            })?;
        match manifest.config.media_type.as_str() {
            media::OCI_CONFIG | media::DOCKER_CONFIG => {}
            other => {
                return Err(StoreError::UnsupportedMediaType {
                    store: self.root.clone(),
                    digest: manifest.config.digest.clone(),
                    media_type: other.to_string(),
                    problem: "the manifest's config is not an image config (not an image?)",
                });
            }
        }
        let config_bytes = self.read_descriptor(&manifest.config)?;
        let config: ImageConfig =
            serde_json::from_slice(&config_bytes).map_err(|source| StoreError::BadJson {
                store: self.root.clone(),
                digest: manifest.config.digest.clone(),
                what: "image config",
                source,
            })?;
        Ok(Image {
            descriptor: d,
            manifest,
            manifest_bytes,
            config,
            config_bytes,
        })
    }

    /// The media type of a descriptor, sniffed from the blob when the descriptor has none.
    fn kind(&self, d: &Descriptor) -> Result<Kind> {
        match kind_of(&d.media_type) {
            Kind::Other if d.media_type.is_empty() => Ok(self
                .sniff(&d.digest)?
                .map(|(k, _)| k)
                .unwrap_or(Kind::Other)),
            k => Ok(k),
        }
    }

    /// Reads a blob and guesses whether it is a manifest or an index; `None` if it is neither.
    fn sniff(&self, digest: &Digest) -> Result<Option<(Kind, String)>> {
        Ok(sniff_bytes(&self.read_blob(digest)?))
    }

    fn select_manifest(&self, d: &Descriptor, platform: &Platform) -> Result<Descriptor> {
        let mut d = d.clone();
        for _ in 0..MAX_DEPTH {
            match self.kind(&d)? {
                Kind::Manifest => return Ok(d),
                Kind::Other => {
                    return Err(StoreError::UnsupportedMediaType {
                        store: self.root.clone(),
                        digest: d.digest.clone(),
                        media_type: d.media_type.clone(),
                        problem: "not an image manifest or index",
                    });
                }
                Kind::Index => {
                    let bytes = self.read_descriptor(&d)?;
                    let index: Index =
                        serde_json::from_slice(&bytes).map_err(|source| StoreError::BadJson {
                            store: self.root.clone(),
                            digest: d.digest.clone(),
                            what: "image index",
                            source,
                        })?;
                    let matches = |p: &Platform| {
                        p.os == platform.os
                            && p.architecture == platform.architecture
                            && (platform.variant.is_none() || p.variant == platform.variant)
                    };
                    let chosen = index
                        .manifests
                        .iter()
                        .find(|m| m.platform.as_ref().is_some_and(matches))
                        .or_else(|| match index.manifests.as_slice() {
                            [only] if only.platform.is_none() => Some(only),
                            _ => None,
                        });
                    match chosen {
                        Some(c) => d = c.clone(),
                        None => {
                            let available = index
                                .manifests
                                .iter()
                                .map(|m| {
                                    m.platform
                                        .as_ref()
                                        .map(platform_str)
                                        .unwrap_or_else(|| "no platform".into())
                                })
                                .collect::<Vec<_>>()
                                .join(", ");
                            return Err(StoreError::NoMatchingPlatform {
                                store: self.root.clone(),
                                digest: d.digest.clone(),
                                platform: platform_str(platform),
                                available,
                            });
                        }
                    }
                }
            }
        }
        Err(StoreError::TooDeep {
            store: self.root.clone(),
            digest: d.digest,
        })
    }

    /// Every blob reachable from `root` (itself included): manifests → config, layers, subject;
    /// indexes → manifests, subject. Subjects are optional (a referrer's subject may live elsewhere).
    pub(crate) fn walk(
        &self,
        root: &Descriptor,
        missing: Missing,
        out: &mut BTreeMap<Digest, Descriptor>,
    ) -> Result<()> {
        let mut stack: Vec<(Descriptor, bool)> = vec![(root.clone(), false)];
        while let Some((d, optional)) = stack.pop() {
            if out.contains_key(&d.digest) {
                continue;
            }
            let size = match self.blob_size(&d.digest) {
                Ok(s) => s,
                Err(StoreError::MissingBlob { .. }) if optional || missing == Missing::Skip => {
                    continue;
                }
                Err(e) => return Err(e),
            };
            if missing == Missing::Error && size != d.size {
                return Err(StoreError::SizeMismatch {
                    store: self.root.clone(),
                    digest: d.digest.clone(),
                    expected: d.size,
                    actual: size,
                });
            }
            out.insert(d.digest.clone(), d.clone());
            // Without a media type the blob is read once, both to sniff and to parse.
            let (kind, bytes) = match kind_of(&d.media_type) {
                Kind::Other if d.media_type.is_empty() => {
                    let bytes = self.read_blob(&d.digest)?;
                    match sniff_bytes(&bytes) {
                        Some((kind, _)) => (kind, bytes),
                        None => continue,
                    }
                }
                Kind::Other => continue,
                kind => (kind, self.read_blob(&d.digest)?),
            };
            let bad = |what, source| StoreError::BadJson {
                store: self.root.clone(),
                digest: d.digest.clone(),
                what,
                source,
            };
            if kind == Kind::Manifest {
                let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| bad("manifest", e))?;
                stack.push((m.config, false));
                stack.extend(m.layers.into_iter().map(|l| (l, false)));
                stack.extend(m.subject.map(|s| (s, true)));
            } else {
                let i: Index = serde_json::from_slice(&bytes).map_err(|e| bad("image index", e))?;
                stack.extend(i.manifests.into_iter().map(|m| (m, false)));
                #[derive(serde::Deserialize)]
                struct Subject {
                    subject: Option<Descriptor>,
                }
                if let Ok(Subject { subject: Some(s) }) = serde_json::from_slice::<Subject>(&bytes)
                {
                    stack.push((s, true));
                }
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- index and refs

    /// The current `index.json`.
    pub fn index(&self) -> Result<Index> {
        let path = self.index_path();
        let bytes = match fs_err::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotALayout {
                    path: self.root.clone(),
                    reason: "there is no index.json".into(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        serde_json::from_slice(&bytes).map_err(|source| StoreError::CorruptIndex { path, source })
    }

    /// Must be called with the index lock held.
    fn write_index(&self, index: &Index) -> Result<()> {
        let bytes = json::to_canonical_vec(index).map_err(|source| StoreError::Serialize {
            what: "index.json",
            source,
        })?;
        self.replace_file(&self.index_path(), &bytes)
    }

    /// Reads, changes and atomically replaces `index.json` under the exclusive index lock.
    fn update_index<T>(&self, f: impl FnOnce(&mut Index) -> Result<T>) -> Result<T> {
        let _lock = self.index_lock()?;
        let mut index = self.index()?;
        let before = index.clone();
        let out = f(&mut index)?;
        // An update that changes nothing (a rebuild re-setting its refs) writes nothing.
        if index != before {
            self.write_index(&index)?;
        }
        Ok(out)
    }

    /// Points the ref `name` (normalized with `:latest` when it has no tag) at `target`, replacing
    /// an existing ref of that name. Fails, without touching `index.json`, unless every blob the
    /// image needs is present with the right size.
    pub fn set_ref(&self, name: &str, target: &Descriptor) -> Result<String> {
        let mut names = self.set_refs(&[(name, target)])?;
        Ok(names.pop().unwrap_or_default())
    }

    /// Sets several refs in one `index.json` update (all or none). Returns the normalized names.
    pub fn set_refs(&self, refs: &[(&str, &Descriptor)]) -> Result<Vec<String>> {
        // Hold off gc between the completeness check and the index update.
        let _gc = self.gc_shared_lock()?;
        let mut entries: Vec<(String, Descriptor)> = Vec::with_capacity(refs.len());
        for &(name, target) in refs {
            let name = normalize_ref(name)?;
            // A missing media type is sniffed once, here, and recorded in the index entry.
            let mut d = target.clone();
            if d.media_type.is_empty()
                && let Some((_, mt)) = self.sniff(&d.digest)?
            {
                d.media_type = mt;
            }
            if kind_of(&d.media_type) == Kind::Other {
                return Err(StoreError::UnsupportedMediaType {
                    store: self.root.clone(),
                    digest: d.digest.clone(),
                    media_type: d.media_type.clone(),
                    problem: "a ref must point at an image manifest or index",
                });
            }
            self.walk(&d, Missing::Error, &mut BTreeMap::new())?;
            d.annotations
                .insert(ANNOTATION_REF_NAME.to_string(), name.clone());
            entries.push((name, d));
        }
        self.update_index(|index| {
            for (name, d) in &entries {
                match index
                    .manifests
                    .iter_mut()
                    .find(|m| ref_name(m) == Some(name))
                {
                    Some(slot) => *slot = d.clone(),
                    None => index.manifests.push(d.clone()),
                }
            }
            Ok(())
        })?;
        Ok(entries.into_iter().map(|(n, _)| n).collect())
    }

    /// Records an image without a name (an untagged build, like Docker's dangling images), so gc
    /// keeps it until it is removed by digest. Does nothing when the manifest is already in the
    /// index. Fails, without touching `index.json`, unless every blob the image needs is present.
    pub fn add_untagged(&self, target: &Descriptor) -> Result<()> {
        let _gc = self.gc_shared_lock()?;
        self.walk(target, Missing::Error, &mut BTreeMap::new())?;
        self.update_index(|index| {
            if !index.manifests.iter().any(|m| m.digest == target.digest) {
                let mut d = target.clone();
                d.annotations.remove(ANNOTATION_REF_NAME);
                index.manifests.push(d);
            }
            Ok(())
        })
    }

    /// The details of the image `d` names, for listings.
    fn summary(&self, d: &Descriptor) -> Result<ImageSummary> {
        self.image(d).map(|img| ImageSummary {
            image_id: img.id().clone(),
            size: img.size(),
            created: img.config.created,
        })
    }

    /// Every image entry of `index.json`, named or not, with its details.
    pub fn list_images(&self) -> Result<Vec<ListedImage>> {
        let index = self.index()?;
        Ok(index
            .manifests
            .into_iter()
            .map(|d| {
                let summary = self.summary(&d);
                ListedImage {
                    name: ref_name(&d).map(str::to_string),
                    descriptor: d,
                    summary,
                }
            })
            .collect())
    }

    /// `rmi`: removes the ref `reference` names, or, for a digest (or unique digest prefix), every
    /// index entry of that image. Returns the names (or digests, for unnamed entries) removed.
    pub fn remove_image(&self, reference: &str) -> Result<Vec<String>> {
        let found = self.resolve(reference)?;
        if let Some(name) = found.name.filter(|n| {
            n == reference || normalize_ref(reference).ok().as_deref() == Some(n.as_str())
        }) {
            self.remove_ref(&name)?;
            return Ok(vec![name]);
        }
        let digest = found.descriptor.digest;
        self.update_index(|index| {
            let mut removed = Vec::new();
            index.manifests.retain(|m| {
                if m.digest == digest {
                    removed.push(ref_name(m).map_or_else(|| m.digest.to_string(), str::to_string));
                    false
                } else {
                    true
                }
            });
            Ok(removed)
        })
    }

    /// Removes a ref (`rmi`); returns what it pointed at. Blobs stay until [`Store::gc`].
    /// The name is matched as written first, then normalized with `:latest`.
    pub fn remove_ref(&self, name: &str) -> Result<Descriptor> {
        self.update_index(|index| {
            let find = |n: &str| index.manifests.iter().position(|m| ref_name(m) == Some(n));
            let pos = match find(name) {
                Some(p) => p,
                None => find(&normalize_ref(name)?).ok_or_else(|| StoreError::NotFound {
                    store: self.root.clone(),
                    reference: name.to_string(),
                })?,
            };
            Ok(index.manifests.remove(pos))
        })
    }

    /// Every ref in `index.json`, in index order.
    pub fn list_refs(&self) -> Result<Vec<RefInfo>> {
        let index = self.index()?;
        Ok(index
            .manifests
            .into_iter()
            .filter_map(|d| {
                let name = ref_name(&d)?.to_string();
                let summary = self.summary(&d);
                Some(RefInfo {
                    name,
                    descriptor: d,
                    summary,
                })
            })
            .collect())
    }

    /// Finds an image by ref name (`app`, `app:1.0`, `reg.io/team/app:1.0`), by digest
    /// (`sha256:<64 hex>`: a manifest, an index or an image ID), by `name@sha256:...`, or by a
    /// unique prefix of at least [`MIN_PREFIX_LEN`] hex digits of a manifest digest or image ID
    /// (`sha256:` optional). A ref name wins over a digest prefix that looks the same.
    pub fn resolve(&self, reference: &str) -> Result<Resolved> {
        let not_found = || StoreError::NotFound {
            store: self.root.clone(),
            reference: reference.to_string(),
        };
        if let Ok(d) = reference.parse::<Digest>() {
            return self
                .resolve_digest(&self.index()?, &d)?
                .ok_or_else(not_found);
        }
        if reference.contains('@') {
            let r = ImageRef::parse(reference)?;
            let Some(d) = r.digest.as_ref() else {
                return Err(not_found());
            };
            let index = self.index()?;
            let mut found = self.resolve_digest(&index, d)?.ok_or_else(not_found)?;
            let wanted = r.name_tag();
            found.name = index
                .manifests
                .iter()
                .find(|m| &m.digest == d && ref_name(m) == Some(wanted.as_str()))
                .map(|_| wanted);
            return Ok(found);
        }
        let index = self.index()?;
        // The name exactly as written (layouts from other tools have names like `1.0`), then
        // normalized with `:latest`.
        let normalized = normalize_ref(reference).ok();
        for name in std::iter::once(reference).chain(normalized.as_deref()) {
            if let Some(d) = index.manifests.iter().find(|m| ref_name(m) == Some(name)) {
                return Ok(Resolved {
                    name: Some(name.to_string()),
                    descriptor: d.clone(),
                });
            }
        }
        let prefix = reference.strip_prefix("sha256:").unwrap_or(reference);
        if prefix.len() >= MIN_PREFIX_LEN && prefix.len() <= 64 && is_hex(prefix) {
            if let Ok(d) = format!("sha256:{prefix}").parse::<Digest>() {
                return self.resolve_digest(&index, &d)?.ok_or_else(not_found);
            }
            let mut found: BTreeMap<Digest, Resolved> = BTreeMap::new();
            for m in &index.manifests {
                let id_matches = || {
                    self.image(m)
                        .is_ok_and(|img| img.id().hex().starts_with(prefix))
                };
                if m.digest.hex().starts_with(prefix) || id_matches() {
                    found.entry(m.digest.clone()).or_insert_with(|| Resolved {
                        name: ref_name(m).map(str::to_string),
                        descriptor: m.clone(),
                    });
                }
            }
            return match found.len() {
                0 => Err(not_found()),
                1 => Ok(found.into_values().next().ok_or_else(not_found)?),
                _ => Err(StoreError::AmbiguousPrefix {
                    store: self.root.clone(),
                    prefix: reference.to_string(),
                    candidates: found.into_keys().collect(),
                }),
            };
        }
        // A syntactically invalid name is reported as such.
        normalize_ref(reference)?;
        Err(not_found())
    }

    /// Finds `d` as a manifest or image ID of an `index` entry, or as an unreferenced manifest or
    /// index blob.
    fn resolve_digest(&self, index: &Index, d: &Digest) -> Result<Option<Resolved>> {
        if let Some(m) = index.manifests.iter().find(|m| &m.digest == d) {
            return Ok(Some(Resolved {
                name: ref_name(m).map(str::to_string),
                descriptor: m.clone(),
            }));
        }
        // An image ID (config digest) of a ref'd image.
        for m in &index.manifests {
            if self.image(m).is_ok_and(|img| img.id() == d) {
                return Ok(Some(Resolved {
                    name: ref_name(m).map(str::to_string),
                    descriptor: m.clone(),
                }));
            }
        }
        // A manifest or index blob in the store without a ref.
        if !self.has_blob(d) {
            return Ok(None);
        }
        let size = self.blob_size(d)?;
        Ok(self.sniff(d)?.map(|(_, mt)| Resolved {
            name: None,
            descriptor: Descriptor::new(mt, d.clone(), size),
        }))
    }

    // ---------------------------------------------------------------- sessions and gc

    /// Opens a build session: until the guard is dropped, [`Store::gc`] will not run, so blobs
    /// written but not yet referenced are safe. Waits while a gc is running.
    pub fn session(&self) -> Result<BuildSession> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let gc_lock = self.gc_shared_lock()?;
        let dir = self.private_dir("sessions")?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{}-{nanos}-{n}", std::process::id()));
        let me =
            FileLock::acquire(&path, LockKind::Exclusive).map_err(|source| StoreError::IoAt {
                what: "locking",
                path: path.clone(),
                source,
            })?;
        Ok(BuildSession {
            path,
            _me: me,
            _gc_lock: gc_lock,
        })
    }

    /// Counts sessions whose owner is alive (their file is locked).
    fn live_sessions(&self) -> Result<usize> {
        let dir = self.private_dir("sessions")?;
        let mut n = 0;
        for entry in fs_err::read_dir(&dir)? {
            let p = entry?.path();
            if FileLock::try_acquire(&p, LockKind::Exclusive).is_ok_and(|l| l.is_none()) {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Deletes every blob not reachable from `index.json` or a gc root (manifests → config and
    /// layers, indexes → manifests, and subjects), extracted layers whose diff_id no reachable
    /// image config (nor root) names, layer header cache files whose blob is gone, stale temp
    /// files (and interrupted extractions) and dead sessions' files. Refuses (or waits, see
    /// [`GcWait`]) while build sessions or blob writers are active. A manifest or root file that
    /// cannot be parsed stops gc before anything is deleted, since what it references cannot be
    /// known.
    pub fn gc(&self, wait: GcWait) -> Result<GcReport> {
        let path = self.lock_path("gc.lock")?;
        let deadline = match wait {
            GcWait::NoWait => None,
            GcWait::Timeout(t) => Some(Instant::now() + t),
        };
        let _gc = loop {
            match FileLock::try_acquire(&path, LockKind::Exclusive) {
                Ok(Some(l)) => break l,
                Ok(None) => {
                    if deadline.is_some_and(|d| Instant::now() < d) {
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    }
                    return Err(StoreError::Busy {
                        store: self.root.clone(),
                        sessions: self.live_sessions()?,
                    });
                }
                Err(source) => {
                    return Err(StoreError::IoAt {
                        what: "locking",
                        path,
                        source,
                    });
                }
            }
        };
        let _index_lock = self.index_lock()?;
        let index = self.index()?;
        let mut reachable = BTreeMap::new();
        for d in &index.manifests {
            self.walk(d, Missing::Skip, &mut reachable)?;
        }
        let mut root_diff_ids = BTreeSet::new();
        for root in self.all_roots()? {
            for d in &root.descriptors {
                self.walk(d, Missing::Skip, &mut reachable)?;
            }
            root_diff_ids.extend(root.diff_ids);
        }
        let mut report = GcReport::default();
        if self.layers_dir().is_dir() {
            // A config that cannot be read: its layers are unknown, so every extracted layer stays.
            if let Some(mut live) = self.reachable_diff_ids(&reachable) {
                live.append(&mut root_diff_ids);
                report.removed_layer_dirs = self.remove_extracted_layers(&live)?;
            }
        }

        let blobs = self.blobs_dir();
        if blobs.is_dir() {
            let mut names: Vec<_> = fs_err::read_dir(&blobs)?.collect::<io::Result<Vec<_>>>()?;
            names.sort_by_key(|e| e.file_name());
            for entry in names {
                let name = entry.file_name();
                let Some(Ok(digest)) = name
                    .to_str()
                    .map(|h| format!("sha256:{h}").parse::<Digest>())
                else {
                    continue; // not ours to judge
                };
                if reachable.contains_key(&digest) {
                    continue;
                }
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                fs_err::remove_file(entry.path())?;
                report.freed_bytes += size;
                report.removed_blobs.push(digest);
            }
            if !report.removed_blobs.is_empty() {
                fsync_dir(&blobs)?;
            }
        }
        report.removed_header_files = self.remove_orphan_headers()?;
        report.removed_temp_files = self.remove_temp_files()?;
        // Last: removed layer directories and interrupted extractions free pool files.
        report.removed_pool_files = self.remove_unused_pool_files()?;
        Ok(report)
    }

    /// Removes what killed runs left in `.plinth/tmp` (temp blobs, RUN upper dirs, extractions)
    /// when no other plinth process is using the store; does nothing (returns 0) otherwise. Builds
    /// call this before they start, so a kill -9 is cleaned up by the next run.
    pub fn clean_stale_temp(&self) -> Result<usize> {
        let path = self.lock_path("gc.lock")?;
        match FileLock::try_acquire(&path, LockKind::Exclusive) {
            Ok(Some(_lock)) => {
                // Index updates write their temp files under the index lock.
                let _index_lock = self.index_lock()?;
                self.remove_temp_files()
            }
            Ok(None) => Ok(0),
            Err(source) => Err(StoreError::IoAt {
                what: "locking",
                path,
                source,
            }),
        }
    }

    /// Must be called with gc.lock held exclusively: then no writer or session is alive and every
    /// temp file is stale.
    fn remove_temp_files(&self) -> Result<usize> {
        let mut removed = 0;
        for sub in ["tmp", "sessions"] {
            let dir = self.private_dir(sub)?;
            for entry in fs_err::read_dir(&dir)? {
                let p = entry?.path();
                match fs_err::symlink_metadata(&p).and_then(|_| extracted::remove_tree(&p)) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(removed)
    }

    /// Digests of every blob reachable from the given descriptors (used by the archive writer).
    pub(crate) fn reachable(&self, roots: &[Descriptor]) -> Result<BTreeMap<Digest, Descriptor>> {
        let mut out = BTreeMap::new();
        for r in roots {
            self.walk(r, Missing::Error, &mut out)?;
        }
        Ok(out)
    }

    /// Every ref name currently in the index, with the digests they point at.
    pub fn refs(&self) -> Result<Vec<(String, Digest)>> {
        Ok(self
            .index()?
            .manifests
            .iter()
            .filter_map(|m| ref_name(m).map(|n| (n.to_string(), m.digest.clone())))
            .collect())
    }

    /// Digests of all blobs present (sorted).
    pub fn blobs(&self) -> Result<BTreeSet<Digest>> {
        let mut out = BTreeSet::new();
        let dir = self.blobs_dir();
        if !dir.is_dir() {
            return Ok(out);
        }
        for entry in fs_err::read_dir(&dir)? {
            if let Some(Ok(d)) = entry?
                .file_name()
                .to_str()
                .map(|h| format!("sha256:{h}").parse::<Digest>())
            {
                out.insert(d);
            }
        }
        Ok(out)
    }
}

/// A held build session (see [`Store::session`]); dropping it ends the session.
#[derive(Debug)]
pub struct BuildSession {
    path: PathBuf,
    _me: FileLock,
    _gc_lock: FileLock,
}

impl Drop for BuildSession {
    fn drop(&mut self) {
        // The file only counts sessions; a leftover one (e.g. a failed unlink) is removed by gc.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Streams a blob into the store. Nothing is visible until [`BlobWriter::commit`]; dropping the
/// writer uncommitted removes its temp file.
pub struct BlobWriter {
    file: BufWriter<NamedTempFile>,
    hasher: Sha256,
    size: u64,
    store: Store,
    _gc_lock: FileLock,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("temp", &self.file.get_ref().path())
            .field("size", &self.size)
            .finish()
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.size
    }

    /// Moves the content into the store under its digest (a no-op if the blob is already there).
    pub fn commit(self) -> Result<(Digest, u64)> {
        self.finish(None)
    }

    /// Like [`BlobWriter::commit`], but refuses (storing nothing) if the content's digest is not
    /// `expected`.
    pub fn commit_expect(self, expected: &Digest) -> Result<(Digest, u64)> {
        self.finish(Some(expected))
    }

    fn finish(self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let BlobWriter {
            file,
            hasher,
            size,
            store,
            _gc_lock,
        } = self;
        let digest = Digest::from_hasher(hasher);
        if let Some(expected) = expected
            && expected != &digest
        {
            return Err(StoreError::DigestMismatch {
                store: store.root.clone(),
                expected: expected.clone(),
                actual: digest,
            });
        }
        let tmp = file.into_inner().map_err(|e| {
            let (source, w) = e.into_parts();
            StoreError::IoAt {
                what: "writing",
                path: w.get_ref().path().to_path_buf(),
                source,
            }
        })?;
        let dest = store.blob_path(&digest);
        if matches!(fs_err::metadata(&dest), Ok(m) if m.len() == size) {
            return Ok((digest, size)); // already stored; the temp file goes away on drop
        }
        tmp.as_file()
            .sync_all()
            .map_err(|source| StoreError::IoAt {
                what: "syncing",
                path: tmp.path().to_path_buf(),
                source,
            })?;
        fs_err::create_dir_all(store.blobs_dir())?;
        tmp.persist(&dest).map_err(|e| StoreError::IoAt {
            what: "renaming into",
            path: dest.clone(),
            source: e.error,
        })?;
        fsync_dir(&store.blobs_dir())?;
        Ok((digest, size))
    }
}

/// A streaming reader of a stored blob that verifies the digest at the end.
#[derive(Debug)]
pub struct BlobReader {
    file: io::BufReader<fs_err::File>,
    hasher: Sha256,
    expected: Digest,
    store: PathBuf,
    size: u64,
    checked: bool,
}

impl BlobReader {
    /// The blob's size on disk.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        if n > 0 {
            self.hasher.update(&buf[..n]);
        } else if !buf.is_empty() && !self.checked {
            self.checked = true;
            let actual = Digest::from_hasher(self.hasher.clone());
            if actual != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    StoreError::CorruptBlob {
                        store: self.store.clone(),
                        digest: self.expected.clone(),
                        actual,
                    },
                ));
            }
        }
        Ok(n)
    }
}

mod extracted;
mod headers;
mod roots;

pub use roots::{Root, RootInfo};

#[cfg(test)]
mod tests;
