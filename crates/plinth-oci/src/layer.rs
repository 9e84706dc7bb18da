//! Deterministic layers: a list of [`LayerEntry`] in, one compressed tar stream out, with its
//! `diff_id` (digest of the uncompressed tar) and blob digest computed in one pass; plus the way
//! back: listing a layer blob's entries ([`read_layer_entries`]), extracting one safely
//! ([`extract_layer`], or into an overlayfs lower directory with [`extract_layer_with`]), and turning a host directory (a `COPY` source, an overlay upper dir) into
//! entries ([`entries_from_dir`]).
//!
//! # Determinism rules of [`write_layer`]
//!
//! * **Order**: entries are sorted by their tar name compared component by component (split at
//!   `/`, each component compared bytewise). This is a pre-order walk with siblings sorted
//!   bytewise, so every directory comes right before its contents (`a`, `a/b`, `a/b/c`, `a-b`), and
//!   the output does not depend on the order of the input.
//! * **Format**: USTAR headers (`ustar\0` magic, version `00`) plus PAX extended headers (the layout
//!   Go's `archive/tar` writes in PAX mode, which is what containerd/BuildKit produce). A PAX header
//!   is written only when needed: for a path or link target longer than 100 bytes or not ASCII, a
//!   uid/gid/size/mtime too large for the octal field, and for xattrs (`SCHILY.xattr.<name>`). PAX
//!   records are sorted by key; there are never `atime`/`ctime` records. The PAX header's own name
//!   is `<dir>/PaxHeaders.0/<base>` like Go's.
//! * **Fields**: every numeric field is written explicitly in octal (`mode` has the permission bits
//!   with setuid/setgid/sticky, no file-type bits); `uname`/`gname` are empty; `devmajor`/`devminor`
//!   are zero except for devices; directory names end in `/`. The archive ends with two zero
//!   blocks (no padding to a 10 KiB record).
//! * **Time**: an entry's mtime is `min(mtime, SOURCE_DATE_EPOCH)` (`None` means the epoch itself),
//!   and never below 0.
//! * **Hardlinks**: the members of a hardlink group (a file and the [`EntryKind::Hardlink`]s that
//!   point at it, possibly through other hardlinks) are normalized so the member that sorts first
//!   carries the content and the others are `1` (link) entries pointing at it, with the metadata of
//!   the linked file. A link therefore always follows its target in the stream.
//! * **Whiteouts**: a [`EntryKind::Whiteout`] at `dir/name` is written as a regular file
//!   `dir/.wh.name` (size 0, mode 0, uid/gid 0, mtime SOURCE_DATE_EPOCH); an
//!   [`EntryKind::OpaqueWhiteout`] at `dir` is written as the directory `dir/` followed
//!   immediately by `dir/.wh..wh..opq` (same fields as a whiteout).
//! * **Compression**: gzip via zlib-rs at level 6 with mtime 0, no file name and OS byte 255
//!   (unknown); zstd at level 3, single-threaded, with a content checksum; or none. The exact
//!   bytes depend on the compressor versions pinned in `Cargo.lock`.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

mod extract;
pub(crate) mod read;
mod tarread;
mod walk;
mod write;

#[cfg(test)]
mod tests;

pub(crate) use extract::extract_tar;
pub use extract::{
    ExtractMode, ExtractOptions, ExtractStats, OVERLAY_OPAQUE_XATTR, POOL_MAX_FILE_SIZE,
    extract_layer, extract_layer_opts, extract_layer_with,
};
pub use read::{EntryInfoKind, FileLookup, LayerEntryInfo, read_layer_entries, read_layer_file};
pub use walk::entries_from_dir;
pub use write::{LayerOptions, WrittenLayer, media_type, write_layer};

/// One entry of a layer. `path` is relative to the image root, `/`-separated, with no leading `/`,
/// no `.` or `..` components and no trailing `/` (e.g. `usr/bin/env`). No component may start
/// with `.wh.` (those names are reserved for whiteouts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (`0o7777` mask); the file type is in `kind`.
    /// Bits outside `0o7777` are rejected.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Seconds since the epoch; clamped to SOURCE_DATE_EPOCH when written. `None` means "use
    /// SOURCE_DATE_EPOCH".
    pub mtime: Option<i64>,
    /// Extended attributes (e.g. `security.capability`), written as PAX `SCHILY.xattr.*` records.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

impl LayerEntry {
    /// An entry with no xattrs and an mtime of SOURCE_DATE_EPOCH.
    pub fn new(path: impl Into<String>, kind: EntryKind, mode: u32, uid: u64, gid: u64) -> Self {
        LayerEntry {
            path: path.into(),
            kind,
            mode,
            uid,
            gid,
            mtime: None,
            xattrs: BTreeMap::new(),
        }
    }
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File(FileSource),
    Symlink {
        target: String,
    },
    /// A hard link to another entry of the same layer (`target` is that entry's path). The written
    /// link carries the linked file's metadata; this entry's own mode/uid/gid/mtime/xattrs are
    /// ignored (a hardlink shares the inode).
    Hardlink {
        target: String,
    },
    CharDevice {
        major: u32,
        minor: u32,
    },
    BlockDevice {
        major: u32,
        minor: u32,
    },
    Fifo,
    /// Deletes `path` from lower layers (written as `dir/.wh.<name>`). The entry's mode, owner,
    /// mtime and xattrs are ignored.
    Whiteout,
    /// The directory `path` itself (with this entry's mode, owner, mtime and xattrs), hiding
    /// everything below it in lower layers: written as `path/` followed by `path/.wh..wh..opq`.
    /// Do not add a separate [`EntryKind::Dir`] for the same path (that is a duplicate).
    OpaqueWhiteout,
}

/// Where a regular file's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// A file on the host, read when the layer is written. It must be a regular file and is
    /// opened without following a symlink (a symlink is [`LayerError::NotRegularFile`]). Its size
    /// is taken when it is opened; if it changes while being read, writing fails with
    /// [`LayerError::SourceChanged`].
    Path(PathBuf),
    /// Content in memory (heredocs, generated files).
    Bytes(Arc<[u8]>),
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    Gzip,
    Zstd,
    None,
}

/// Errors of writing, reading, extracting and walking layers.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("invalid layer path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    #[error("layer path {path:?} appears more than once")]
    DuplicatePath { path: String },
    #[error("layer entry {path:?}: parent {parent:?} is in the layer but is not a directory")]
    ParentNotDirectory { path: String, parent: String },
    #[error("hardlink {path:?} -> {target:?}: {reason}")]
    InvalidHardlink {
        path: String,
        target: String,
        reason: &'static str,
    },
    #[error("layer entry {path:?}: {reason}")]
    InvalidEntry { path: String, reason: String },
    #[error("SOURCE_DATE_EPOCH must not be negative (got {0})")]
    InvalidSourceDateEpoch(i64),
    /// Reading a [`FileSource::Path`] or walking a host directory failed (the error names the file).
    #[error("reading layer source: {0}")]
    ReadSource(#[source] io::Error),
    #[error("{} changed while it was being added to the layer", path.display())]
    SourceChanged { path: PathBuf },
    #[error("{} is not a regular file", path.display())]
    NotRegularFile { path: PathBuf },
    #[error("{}: the file name is not valid UTF-8", path.display())]
    NonUtf8Name { path: PathBuf },
    #[error(
        "{}: overlayfs attribute {xattr} is not supported (mount the overlay with redirect_dir=off and metacopy=off)",
        path.display()
    )]
    UnsupportedOverlay { path: PathBuf, xattr: String },
    /// The output sink (or the compressor in front of it) failed.
    #[error("writing the layer: {0}")]
    Write(#[source] io::Error),
    /// Reading or decompressing a layer blob failed, or its tar structure is malformed.
    #[error("reading layer: {0}")]
    ReadLayer(#[source] io::Error),
    #[error("malformed layer entry {path:?}: {reason}")]
    Malformed { path: String, reason: String },
    #[error("unsupported layer: {0}")]
    Unsupported(String),
    /// An entry would be written outside the extraction root, or through a symlink.
    #[error("unsafe path {path:?} in layer: {reason}")]
    UnsafePath { path: String, reason: &'static str },
    #[error("extracting {path:?}: {source}")]
    Extract {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// The name a whiteout marker gets inside its directory.
pub(crate) const WHITEOUT_PREFIX: &str = ".wh.";
/// The opaque-directory marker's file name.
pub(crate) const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Checks a layer path: relative, `/`-separated, no empty/`.`/`..` components, no NUL.
pub(crate) fn validate_path(path: &str) -> Result<(), LayerError> {
    let bad = |reason| {
        Err(LayerError::InvalidPath {
            path: path.to_string(),
            reason,
        })
    };
    if path.is_empty() {
        return bad("empty path");
    }
    if path.starts_with('/') {
        return bad("absolute paths are not allowed");
    }
    if path.ends_with('/') {
        return bad("trailing '/'");
    }
    if path.contains('\0') {
        return bad("NUL byte in path");
    }
    for c in path.split('/') {
        match c {
            "" => return bad("empty path component ('//')"),
            "." => return bad("'.' component"),
            ".." => return bad("'..' component"),
            _ if c.starts_with(WHITEOUT_PREFIX) => {
                return bad("names starting with '.wh.' are reserved for whiteouts");
            }
            _ => {}
        }
    }
    Ok(())
}

/// Compares two layer paths component by component (each component bytewise), which puts every
/// directory right before its contents.
pub(crate) fn cmp_paths(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}
