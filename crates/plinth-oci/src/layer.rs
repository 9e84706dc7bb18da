//! Deterministic layers: a list of [`LayerEntry`] in, one compressed tar blob in the store out,
//! with its `diff_id` (uncompressed digest) and blob digest computed in one pass.
//!
//! Determinism rules: entries sorted by path (bytewise), PAX headers for long names and xattrs,
//! real modes (setuid/setgid/sticky and 0600 kept), numeric uid/gid with empty uname/gname,
//! hardlinks preserved, mtimes clamped to SOURCE_DATE_EPOCH, gzip through zlib-rs at a pinned
//! level (or zstd single-threaded at a pinned level).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// One entry of a layer. `path` is relative to the image root, `/`-separated, with no leading `/`,
/// no `.` or `..` components and no trailing `/` (e.g. `usr/bin/env`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    pub path: String,
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (`0o7777` mask); the file type is in `kind`.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Seconds since the epoch; clamped to SOURCE_DATE_EPOCH when written. `None` means "use
    /// SOURCE_DATE_EPOCH".
    pub mtime: Option<i64>,
    /// Extended attributes (e.g. `security.capability`), written as PAX `SCHILY.xattr.*` records.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File(FileSource),
    Symlink { target: String },
    /// A hard link to another entry of the same layer (`target` is that entry's path).
    Hardlink { target: String },
    CharDevice { major: u32, minor: u32 },
    BlockDevice { major: u32, minor: u32 },
    Fifo,
    /// Deletes `path` from lower layers (written as `.wh.<name>`).
    Whiteout,
    /// Hides everything below the directory `path` in lower layers (written as `path/.wh..wh..opq`
    /// after the directory entry itself, which must also be present).
    OpaqueWhiteout,
}

/// Where a regular file's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// A file on the host, read when the layer is written.
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
