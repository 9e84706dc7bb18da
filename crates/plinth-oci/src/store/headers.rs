//! The layer header cache: a layer blob's tar headers, as [`LayerEntryInfo`]s, kept in
//! `.plinth/headers/<blob digest hex>` so that listing them ([`Store::layer_entries`]) costs a
//! file read instead of decompressing the whole layer. See the store module docs ("Layer header
//! cache").
//!
//! # File format (version 1)
//! Little-endian, lengths as `u32` followed by that many bytes ("bytes" below):
//!
//! ```text
//! magic        8 bytes  "plinthH\n"
//! version      u32      1
//! blob digest  bytes    "sha256:<hex>" (the file must belong to the blob it is named after)
//! compression  u8       0 none, 1 gzip, 2 zstd (as sniffed from the blob)
//! count        u64      number of entries, then each entry:
//!   path       bytes    UTF-8
//!   kind       u8       0 dir, 1 file, 2 symlink, 3 hardlink, 4 char device, 5 block device,
//!                       6 fifo, 7 whiteout, 8 opaque whiteout; then a target (bytes, UTF-8)
//!                       for 2 and 3, or major and minor (u32, u32) for 4 and 5
//!   mode u32, uid u64, gid u64, size u64, mtime i64
//!   xattrs     u32      count, then name (bytes, UTF-8) and value (bytes) each
//! checksum     32 bytes sha256 of everything before it
//! ```
//!
//! A file that is short, has trailing bytes, another magic or version, another blob's digest, a
//! wrong checksum or an invalid field is ignored (the layer is read again and the file rewritten).
//!
//! Files are written to `.plinth/tmp` and renamed into place, so a reader never sees a partial
//! file. They are not fsynced (like extracted layers, they are derived from a verified blob): after
//! a power loss a damaged file fails the checks above and is rebuilt.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use super::extracted::layer_error;
use super::{PRIVATE_DIR, Result, Store, StoreError, private_tempfile};
use crate::Digest;
use crate::layer::read::{Decoder, check_media_type, read_entries, sniff_compression};
use crate::layer::{Compression, EntryInfoKind, LayerEntryInfo, LayerError};
use crate::types::Descriptor;

/// `.plinth/headers`.
const HEADERS_DIR: &str = "headers";

const MAGIC: &[u8; 8] = b"plinthH\n";
/// The version this code writes and the only one it reads.
const VERSION: u32 = 1;
const CHECKSUM_LEN: usize = 32;
/// The smallest encoded entry: empty path, a kind without fields, the fixed fields, no xattrs.
const MIN_ENTRY_LEN: usize = 4 + 1 + 4 + 8 + 8 + 8 + 8 + 4;

impl Store {
    fn headers_dir(&self) -> PathBuf {
        self.root.join(PRIVATE_DIR).join(HEADERS_DIR)
    }

    /// Where the header cache file of the layer blob `layer` lives (whether or not it exists).
    pub(crate) fn header_cache_path(&self, layer: &Digest) -> PathBuf {
        self.headers_dir().join(layer.hex())
    }

    /// The entries of the layer blob `layer` (as [`crate::layer::read_layer_entries`] lists
    /// them), from the header cache when it has them. Otherwise the blob is read (its size and
    /// digest checked; the compression sniffed and checked against the media type as
    /// `read_layer_entries` does) and the entries are cached for next time. Writing the cache is
    /// best effort: if it fails (a read-only store, a full disk), the entries are still returned.
    /// A cache file that is damaged, truncated or of another format version is ignored and
    /// replaced.
    pub fn layer_entries(&self, layer: &Descriptor) -> Result<Vec<LayerEntryInfo>> {
        let read_error = |e| {
            layer_error(e, |source| StoreError::ReadLayer {
                store: self.root.clone(),
                digest: layer.digest.clone(),
                source,
            })
        };
        if let Some((compression, entries)) = self.cached_entries(&layer.digest) {
            // The same refusals (encrypted, mislabelled) as reading the blob would give.
            check_media_type(&layer.media_type, Some(compression)).map_err(read_error)?;
            return Ok(entries);
        }
        let mut blob = self.open_blob(&layer.digest)?;
        if blob.size() != layer.size {
            return Err(StoreError::SizeMismatch {
                store: self.root.clone(),
                digest: layer.digest.clone(),
                expected: layer.size,
                actual: blob.size(),
            });
        }
        let (compression, entries) = {
            let decoder = Decoder::open(&mut blob, &layer.media_type).map_err(read_error)?;
            let compression = decoder.compression();
            (compression, read_entries(decoder).map_err(read_error)?)
        };
        // The blob's end, so its digest is checked before anything is cached.
        io::copy(&mut blob, &mut io::sink()).map_err(|e| read_error(LayerError::ReadLayer(e)))?;
        // Best effort: the entries are right whether or not they could be cached.
        let _ = self.write_header_cache(&layer.digest, compression, &entries);
        Ok(entries)
    }

    /// Fills the header cache of the stored layer blob `layer` with `entries`, for a writer that
    /// knows them already (they must be what [`crate::layer::read_layer_entries`] lists for that
    /// blob: nothing checks it). Replaces a cached list. Fails with
    /// [`StoreError::MissingBlob`] when the blob is not in the store.
    pub fn put_layer_entries(&self, layer: &Digest, entries: &[LayerEntryInfo]) -> Result<()> {
        let path = self.blob_path(layer);
        let file = match fs_err::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(self.missing(layer)),
            Err(e) => return Err(e.into()),
        };
        let mut head = Vec::with_capacity(4);
        file.take(4).read_to_end(&mut head)?;
        self.write_header_cache(layer, sniff_compression(&head), entries)
    }

    /// The cached entries of `layer` and its blob's compression; `None` when there is no valid
    /// cache file.
    fn cached_entries(&self, layer: &Digest) -> Option<(Compression, Vec<LayerEntryInfo>)> {
        let bytes = std::fs::read(self.header_cache_path(layer)).ok()?;
        decode(&bytes, layer)
    }

    fn write_header_cache(
        &self,
        layer: &Digest,
        compression: Compression,
        entries: &[LayerEntryInfo],
    ) -> Result<()> {
        let dest = self.header_cache_path(layer);
        let bytes = encode(layer, compression, entries).ok_or_else(|| StoreError::IoAt {
            what: "encoding",
            path: dest.clone(),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                "a layer entry has a field longer than 4 GiB",
            ),
        })?;
        // gc removes every file in .plinth/tmp when it runs: not while we write ours.
        let _gc = self.gc_shared_lock()?;
        fs_err::create_dir_all(self.headers_dir())?;
        let tmp_dir = self.tmp_dir()?;
        let mut tmp =
            private_tempfile(&tmp_dir, "headers-").map_err(|source| StoreError::IoAt {
                what: "creating a temp file in",
                path: tmp_dir.clone(),
                source,
            })?;
        tmp.write_all(&bytes).map_err(|source| StoreError::IoAt {
            what: "writing",
            path: tmp.path().to_path_buf(),
            source,
        })?;
        tmp.persist(&dest).map_err(|e| StoreError::IoAt {
            what: "renaming into",
            path: dest.clone(),
            source: e.error,
        })?;
        Ok(())
    }

    /// Removes header cache files whose blob is not in the store; returns how many. Files not
    /// named by a digest are left alone. Call only with the exclusive gc lock held.
    pub(super) fn remove_orphan_headers(&self) -> Result<usize> {
        let dir = self.headers_dir();
        let entries = match fs_err::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry?;
            let Some(Ok(digest)) = entry
                .file_name()
                .to_str()
                .map(|h| format!("sha256:{h}").parse::<Digest>())
            else {
                continue;
            };
            if self.has_blob(&digest) {
                continue;
            }
            match fs_err::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(removed)
    }
}

// ---------------------------------------------------------------------------------- encoding

/// Encodes a cache file; `None` if a length does not fit in a `u32`.
pub(super) fn encode(
    layer: &Digest,
    compression: Compression,
    entries: &[LayerEntryInfo],
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(64 + entries.len() * 96);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    put_bytes(&mut out, layer.to_string().as_bytes())?;
    out.push(match compression {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Zstd => 2,
    });
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for e in entries {
        put_bytes(&mut out, e.path.as_bytes())?;
        match &e.kind {
            EntryInfoKind::Dir => out.push(0),
            EntryInfoKind::File => out.push(1),
            EntryInfoKind::Symlink { target } => {
                out.push(2);
                put_bytes(&mut out, target.as_bytes())?;
            }
            EntryInfoKind::Hardlink { target } => {
                out.push(3);
                put_bytes(&mut out, target.as_bytes())?;
            }
            EntryInfoKind::CharDevice { major, minor } => {
                out.push(4);
                out.extend_from_slice(&major.to_le_bytes());
                out.extend_from_slice(&minor.to_le_bytes());
            }
            EntryInfoKind::BlockDevice { major, minor } => {
                out.push(5);
                out.extend_from_slice(&major.to_le_bytes());
                out.extend_from_slice(&minor.to_le_bytes());
            }
            EntryInfoKind::Fifo => out.push(6),
            EntryInfoKind::Whiteout => out.push(7),
            EntryInfoKind::OpaqueWhiteout => out.push(8),
        }
        out.extend_from_slice(&e.mode.to_le_bytes());
        out.extend_from_slice(&e.uid.to_le_bytes());
        out.extend_from_slice(&e.gid.to_le_bytes());
        out.extend_from_slice(&e.size.to_le_bytes());
        out.extend_from_slice(&e.mtime.to_le_bytes());
        out.extend_from_slice(&u32::try_from(e.xattrs.len()).ok()?.to_le_bytes());
        for (name, value) in &e.xattrs {
            put_bytes(&mut out, name.as_bytes())?;
            put_bytes(&mut out, value)?;
        }
    }
    let checksum = Sha256::digest(&out);
    out.extend_from_slice(&checksum);
    Some(out)
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Option<()> {
    out.extend_from_slice(&u32::try_from(bytes.len()).ok()?.to_le_bytes());
    out.extend_from_slice(bytes);
    Some(())
}

/// Decodes a cache file of the blob `layer`; `None` if it is not a valid version-1 file of that
/// blob. Never panics, whatever the bytes.
pub(super) fn decode(bytes: &[u8], layer: &Digest) -> Option<(Compression, Vec<LayerEntryInfo>)> {
    let (body, checksum) = bytes.split_at_checked(bytes.len().checked_sub(CHECKSUM_LEN)?)?;
    if Sha256::digest(body).as_slice() != checksum {
        return None;
    }
    let mut r = Reader(body);
    if r.take(MAGIC.len())? != MAGIC || r.u32()? != VERSION {
        return None;
    }
    if r.bytes()? != layer.to_string().as_bytes() {
        return None;
    }
    let compression = match r.u8()? {
        0 => Compression::None,
        1 => Compression::Gzip,
        2 => Compression::Zstd,
        _ => return None,
    };
    let count = usize::try_from(r.u64()?).ok()?;
    // A count the remaining bytes cannot hold is corrupt (and must not size an allocation).
    if count > r.0.len() / MIN_ENTRY_LEN {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let path = r.string()?;
        let kind = match r.u8()? {
            0 => EntryInfoKind::Dir,
            1 => EntryInfoKind::File,
            2 => EntryInfoKind::Symlink {
                target: r.string()?,
            },
            3 => EntryInfoKind::Hardlink {
                target: r.string()?,
            },
            4 => EntryInfoKind::CharDevice {
                major: r.u32()?,
                minor: r.u32()?,
            },
            5 => EntryInfoKind::BlockDevice {
                major: r.u32()?,
                minor: r.u32()?,
            },
            6 => EntryInfoKind::Fifo,
            7 => EntryInfoKind::Whiteout,
            8 => EntryInfoKind::OpaqueWhiteout,
            _ => return None,
        };
        let mode = r.u32()?;
        let uid = r.u64()?;
        let gid = r.u64()?;
        let size = r.u64()?;
        let mtime = i64::from_le_bytes(r.array()?);
        let mut xattrs = BTreeMap::new();
        for _ in 0..r.u32()? {
            let name = r.string()?;
            let value = r.bytes()?.to_vec();
            xattrs.insert(name, value);
        }
        entries.push(LayerEntryInfo {
            path,
            kind,
            mode,
            uid,
            gid,
            size,
            mtime,
            xattrs,
        });
    }
    r.0.is_empty().then_some((compression, entries))
}

/// A cursor over the bytes of a cache file; every read is bounds-checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n)
    }

    fn string(&mut self) -> Option<String> {
        std::str::from_utf8(self.bytes()?).ok().map(str::to_owned)
    }
}

#[cfg(test)]
mod tests;
