//! The layer writer: validation and planning (sorting, hardlink normalization, mtime clamping),
//! tar header encoding (USTAR + PAX), and the tar → compressor → sink pipeline that computes the
//! `diff_id` and the blob digest on the fly.
//!
//! On machines with more than one core the tar stream is produced (files read, headers encoded,
//! `diff_id` hashed) on a helper thread while the calling thread compresses, hashes the compressed
//! bytes and writes them to the sink; the two hand over fixed 1 MiB chunks, so the bytes written
//! are the same as with everything on one thread.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::sync::mpsc;

use sha2::{Digest as _, Sha256};

use super::{
    Compression, EntryKind, FileSource, LayerEntry, LayerError, OPAQUE_MARKER, WHITEOUT_PREFIX,
    cmp_paths, validate_path,
};
use crate::digest::{Digest, HashingWriter};
use crate::types::media;

/// How [`write_layer`] builds a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerOptions {
    pub compression: Compression,
    /// Upper bound for every entry's mtime and the mtime of whiteout markers (seconds, >= 0).
    pub source_date_epoch: i64,
}

/// What [`write_layer`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenLayer {
    /// sha256 of the uncompressed tar (goes into the image config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// sha256 of the bytes written to the sink (the blob digest in the manifest).
    pub digest: Digest,
    /// Number of bytes written to the sink.
    pub size: u64,
    /// Size of the uncompressed tar.
    pub uncompressed_size: u64,
    /// The OCI layer media type for the compression used.
    pub media_type: &'static str,
}

/// The OCI layer media type of a compression.
pub fn media_type(c: Compression) -> &'static str {
    match c {
        Compression::Gzip => media::OCI_LAYER_GZIP,
        Compression::Zstd => media::OCI_LAYER_ZSTD,
        Compression::None => media::OCI_LAYER_TAR,
    }
}

/// Writes `entries` as a deterministic tar layer (see the module docs for the rules), compressed as
/// `opts.compression`, into `out`, and returns the digests with the sink.
///
/// Entries are validated first (nothing is written if one is invalid): paths must be valid layer
/// paths ([`LayerEntry::path`]), unique, and no entry may sit below a non-directory entry;
/// hardlinks must point at a file, symlink, device or fifo of the same layer; modes must fit in
/// `0o7777`; xattr names must be non-empty without `=` or NUL; device numbers must fit in 7 octal
/// digits. `out` is flushed before it is returned.
pub fn write_layer<W: Write>(
    entries: Vec<LayerEntry>,
    opts: &LayerOptions,
    out: W,
) -> Result<(WrittenLayer, W), LayerError> {
    write_layer_with(entries, opts, out, Pipeline::auto())
}

/// Whether the tar stream is produced on a helper thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pipeline {
    Inline,
    Threaded,
}

impl Pipeline {
    fn auto() -> Pipeline {
        match std::thread::available_parallelism() {
            Ok(n) if n.get() > 1 => Pipeline::Threaded,
            _ => Pipeline::Inline,
        }
    }
}

pub(crate) fn write_layer_with<W: Write>(
    entries: Vec<LayerEntry>,
    opts: &LayerOptions,
    out: W,
    pipeline: Pipeline,
) -> Result<(WrittenLayer, W), LayerError> {
    let sde = u64::try_from(opts.source_date_epoch)
        .map_err(|_| LayerError::InvalidSourceDateEpoch(opts.source_date_epoch))?;
    let planned = plan(entries, sde)?;
    let compressor =
        Compressor::new(opts.compression, HashingWriter::new(out)).map_err(LayerError::Write)?;
    let (diff_id, uncompressed_size, compressor) = match pipeline {
        Pipeline::Inline => {
            let mut tar = TarOut::new(WriteSink(compressor));
            emit_all(&planned, sde, &mut tar)?;
            let (diff_id, n, WriteSink(c)) = tar.finish()?;
            (diff_id, n, c)
        }
        Pipeline::Threaded => threaded(planned, sde, compressor)?,
    };
    let mut hashing = compressor.finish().map_err(LayerError::Write)?;
    hashing.flush().map_err(LayerError::Write)?;
    let (out, digest, size) = hashing.finish();
    let written = WrittenLayer {
        diff_id,
        digest,
        size,
        uncompressed_size,
        media_type: media_type(opts.compression),
    };
    Ok((written, out))
}

// ---------------------------------------------------------------------------------------------
// Planning

/// An entry ready to be written: validated, clamped, hardlinks normalized.
#[derive(Debug)]
struct Planned {
    /// The tar name without a trailing `/` (for whiteouts, the `.wh.` marker's path).
    name: String,
    body: Body,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    xattrs: BTreeMap<String, Vec<u8>>,
}

#[derive(Debug)]
enum Body {
    Dir,
    File(FileSource),
    Symlink(String),
    Hardlink(String),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
    Whiteout,
    Opaque,
}

const MAX_OCTAL_7: u64 = 0o7777777;
const MAX_OCTAL_11: u64 = 0o77777777777;

fn invalid(path: &str, reason: impl Into<String>) -> LayerError {
    LayerError::InvalidEntry {
        path: path.to_string(),
        reason: reason.into(),
    }
}

fn validate_entry(e: &LayerEntry) -> Result<(), LayerError> {
    validate_path(&e.path)?;
    if e.mode & !0o7777 != 0 {
        return Err(invalid(
            &e.path,
            format!("mode {:o} has bits outside 0o7777", e.mode),
        ));
    }
    for name in e.xattrs.keys() {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(invalid(&e.path, format!("invalid xattr name {name:?}")));
        }
    }
    match &e.kind {
        EntryKind::Symlink { target } if target.is_empty() || target.contains('\0') => {
            Err(invalid(&e.path, "symlink target is empty or contains NUL"))
        }
        EntryKind::Hardlink { target } if validate_path(target).is_err() => {
            Err(LayerError::InvalidHardlink {
                path: e.path.clone(),
                target: target.clone(),
                reason: "the target is not a valid layer path",
            })
        }
        EntryKind::CharDevice { major, minor } | EntryKind::BlockDevice { major, minor }
            if u64::from(*major) > MAX_OCTAL_7 || u64::from(*minor) > MAX_OCTAL_7 =>
        {
            Err(invalid(
                &e.path,
                format!("device number {major}:{minor} is too large for a tar header"),
            ))
        }
        _ => Ok(()),
    }
}

fn is_linkable(k: &EntryKind) -> bool {
    matches!(
        k,
        EntryKind::File(_)
            | EntryKind::Symlink { .. }
            | EntryKind::CharDevice { .. }
            | EntryKind::BlockDevice { .. }
            | EntryKind::Fifo
    )
}

/// The role of an entry in the written layer.
#[derive(Clone, Copy)]
enum Role {
    /// Written as itself.
    Plain,
    /// Carries the content/metadata of entry `root` (itself or the file a hardlink group points at).
    Primary { root: usize },
    /// A hardlink to entry `primary`, with the metadata of entry `root`.
    Link { primary: usize, root: usize },
}

fn plan(entries: Vec<LayerEntry>, sde: u64) -> Result<Vec<Planned>, LayerError> {
    for e in &entries {
        validate_entry(e)?;
    }
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        if index.insert(e.path.as_str(), i).is_some() {
            return Err(LayerError::DuplicatePath {
                path: e.path.clone(),
            });
        }
    }
    // Every ancestor that is in the layer must be a directory.
    for e in &entries {
        let mut rest = e.path.as_str();
        while let Some((parent, _)) = rest.rsplit_once('/') {
            if let Some(&pi) = index.get(parent)
                && !matches!(entries[pi].kind, EntryKind::Dir | EntryKind::OpaqueWhiteout)
            {
                return Err(LayerError::ParentNotDirectory {
                    path: e.path.clone(),
                    parent: parent.to_string(),
                });
            }
            rest = parent;
        }
    }

    // Resolve hardlinks (through chains) to the entry that holds the content, and group them.
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        let EntryKind::Hardlink { target } = &e.kind else {
            continue;
        };
        let bad = |reason| LayerError::InvalidHardlink {
            path: e.path.clone(),
            target: target.clone(),
            reason,
        };
        let mut cur = i;
        let mut steps = 0usize;
        while let EntryKind::Hardlink { target: t } = &entries[cur].kind {
            cur = *index
                .get(t.as_str())
                .ok_or_else(|| bad("the target is not in the layer"))?;
            steps += 1;
            if steps > entries.len() {
                return Err(bad("hardlinks form a cycle"));
            }
        }
        if !is_linkable(&entries[cur].kind) {
            return Err(bad("the target must be a file, symlink, device or fifo"));
        }
        groups.entry(cur).or_insert_with(|| vec![cur]).push(i);
    }
    let mut roles = vec![Role::Plain; entries.len()];
    for (root, members) in &groups {
        let primary = members
            .iter()
            .copied()
            .min_by(|&a, &b| cmp_paths(&entries[a].path, &entries[b].path))
            .unwrap_or(*root);
        for &m in members {
            roles[m] = if m == primary {
                Role::Primary { root: *root }
            } else {
                Role::Link {
                    primary,
                    root: *root,
                }
            };
        }
    }

    let clamp = |t: Option<i64>| match t {
        None => sde,
        Some(t) => u64::try_from(t).unwrap_or(0).min(sde),
    };
    let mut planned = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let p = match roles[i] {
            Role::Plain => plan_one(e, clamp(e.mtime), sde),
            Role::Primary { root } => {
                let r = &entries[root];
                let mut p = plan_one(r, clamp(r.mtime), sde);
                p.name = e.path.clone();
                p
            }
            Role::Link { primary, root } => {
                let r = &entries[root];
                Planned {
                    name: e.path.clone(),
                    body: Body::Hardlink(entries[primary].path.clone()),
                    mode: r.mode,
                    uid: r.uid,
                    gid: r.gid,
                    mtime: clamp(r.mtime),
                    xattrs: BTreeMap::new(),
                }
            }
        };
        planned.push(p);
    }
    planned.sort_by(|a, b| cmp_paths(&a.name, &b.name));
    Ok(planned)
}

/// Plans a non-hardlink entry (hardlinks are handled by the caller).
fn plan_one(e: &LayerEntry, mtime: u64, sde: u64) -> Planned {
    let mut p = Planned {
        name: e.path.clone(),
        body: Body::Dir,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        mtime,
        xattrs: e.xattrs.clone(),
    };
    p.body = match &e.kind {
        EntryKind::Dir => Body::Dir,
        EntryKind::File(src) => Body::File(src.clone()),
        EntryKind::Symlink { target } => Body::Symlink(target.clone()),
        EntryKind::Hardlink { target } => Body::Hardlink(target.clone()),
        EntryKind::CharDevice { major, minor } => Body::Char(*major, *minor),
        EntryKind::BlockDevice { major, minor } => Body::Block(*major, *minor),
        EntryKind::Fifo => Body::Fifo,
        EntryKind::OpaqueWhiteout => Body::Opaque,
        EntryKind::Whiteout => {
            let (dir, base) = match e.path.rsplit_once('/') {
                Some((d, b)) => (Some(d), b),
                None => (None, e.path.as_str()),
            };
            p.name = match dir {
                Some(d) => format!("{d}/{WHITEOUT_PREFIX}{base}"),
                None => format!("{WHITEOUT_PREFIX}{base}"),
            };
            p.mode = 0;
            p.uid = 0;
            p.gid = 0;
            p.mtime = sde;
            p.xattrs = BTreeMap::new();
            Body::Whiteout
        }
    };
    p
}

// ---------------------------------------------------------------------------------------------
// Tar encoding

pub(crate) const BLOCK: usize = 512;

const TYPE_REG: u8 = b'0';
const TYPE_LINK: u8 = b'1';
const TYPE_SYMLINK: u8 = b'2';
const TYPE_CHAR: u8 = b'3';
const TYPE_BLOCK: u8 = b'4';
const TYPE_DIR: u8 = b'5';
const TYPE_FIFO: u8 = b'6';
const TYPE_PAX: u8 = b'x';

/// The fields of one tar member's header.
struct Hdr<'a> {
    /// Full tar name (directories end in `/`).
    name: &'a str,
    typeflag: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    link: &'a str,
    dev: (u32, u32),
    xattrs: &'a BTreeMap<String, Vec<u8>>,
}

fn needs_pax(s: &str) -> bool {
    s.len() > 100 || !s.is_ascii()
}

fn decimal_len(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Appends one PAX record, `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let base = key.len() + value.len() + 3;
    let mut total = base + decimal_len(base);
    while base + decimal_len(total) != total {
        total = base + decimal_len(total);
    }
    out.extend_from_slice(total.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// Copies the ASCII bytes of `s` (others dropped, like Go's archive/tar) into a NUL-padded field,
/// truncated to the field's length.
fn put_str(field: &mut [u8], s: &str) {
    field.fill(0);
    for (slot, b) in field
        .iter_mut()
        .zip(s.bytes().filter(|b| b.is_ascii() && *b != 0))
    {
        *slot = b;
    }
}

/// Writes `v` as zero-padded octal followed by NUL, filling the field. The caller guarantees `v`
/// fits (`len - 1` octal digits).
fn put_octal(field: &mut [u8], v: u64) {
    let digits = format!("{v:0width$o}", width = field.len() - 1);
    let bytes = digits.as_bytes();
    let start = bytes.len().saturating_sub(field.len() - 1);
    let n = field.len() - 1;
    field[..n].copy_from_slice(&bytes[start..]);
    field[n] = 0;
}

/// Encodes one USTAR header block.
#[allow(clippy::too_many_arguments)]
fn ustar_block(
    out: &mut Vec<u8>,
    name: &str,
    typeflag: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    link: &str,
    dev: (u32, u32),
) -> io::Result<()> {
    let mut header = tar::Header::new_ustar();
    let u = header
        .as_ustar_mut()
        .ok_or_else(|| io::Error::other("tar::Header::new_ustar is not USTAR"))?;
    put_str(&mut u.name, name);
    put_octal(&mut u.mode, u64::from(mode));
    put_octal(&mut u.uid, uid);
    put_octal(&mut u.gid, gid);
    put_octal(&mut u.size, size);
    put_octal(&mut u.mtime, mtime);
    u.typeflag = [typeflag];
    put_str(&mut u.linkname, link);
    u.magic = *b"ustar\0";
    u.version = *b"00";
    u.uname = [0; 32];
    u.gname = [0; 32];
    put_octal(&mut u.dev_major, u64::from(dev.0));
    put_octal(&mut u.dev_minor, u64::from(dev.1));
    u.prefix = [0; 155];
    u.pad = [0; 12];
    // Checksum as GNU tar and Go write it: six octal digits, NUL, space.
    u.cksum = [b' '; 8];
    let bytes = header.as_mut_bytes();
    let sum: u64 = bytes.iter().map(|b| u64::from(*b)).sum();
    let ck = format!("{sum:06o}");
    let ck = ck.as_bytes();
    bytes[148..154].copy_from_slice(&ck[ck.len() - 6..]);
    bytes[154] = 0;
    bytes[155] = b' ';
    out.extend_from_slice(header.as_bytes());
    Ok(())
}

fn pad_len(size: u64) -> usize {
    // The remainder is < 512, so it always fits a usize.
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

/// Encodes a member's header (a PAX header first when needed) into `out`.
fn encode_header(out: &mut Vec<u8>, h: &Hdr) -> io::Result<()> {
    let mut records: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    if needs_pax(h.name) {
        records.insert("path".into(), h.name.as_bytes().to_vec());
    }
    if needs_pax(h.link) {
        records.insert("linkpath".into(), h.link.as_bytes().to_vec());
    }
    if h.uid > MAX_OCTAL_7 {
        records.insert("uid".into(), h.uid.to_string().into_bytes());
    }
    if h.gid > MAX_OCTAL_7 {
        records.insert("gid".into(), h.gid.to_string().into_bytes());
    }
    if h.size > MAX_OCTAL_11 {
        records.insert("size".into(), h.size.to_string().into_bytes());
    }
    if h.mtime > MAX_OCTAL_11 {
        records.insert("mtime".into(), h.mtime.to_string().into_bytes());
    }
    for (k, v) in h.xattrs {
        records.insert(format!("SCHILY.xattr.{k}"), v.clone());
    }
    if !records.is_empty() {
        let mut data = Vec::new();
        for (k, v) in &records {
            pax_record(&mut data, k, v);
        }
        // Go's name for the extended header: <dir>/PaxHeaders.0/<base>.
        let (dir, base) = match h.name.rfind('/') {
            Some(i) => (&h.name[..=i], &h.name[i + 1..]),
            None => ("", h.name),
        };
        let mut pax_name = format!("{dir}PaxHeaders.0");
        if !base.is_empty() {
            pax_name.push('/');
            pax_name.push_str(base);
        }
        let mut ascii: String = pax_name
            .chars()
            .filter(|c| c.is_ascii() && *c != '\0')
            .collect();
        ascii.truncate(100);
        let ascii = ascii.trim_end_matches('/');
        let len = data.len() as u64;
        ustar_block(out, ascii, TYPE_PAX, 0, 0, 0, len, 0, "", (0, 0))?;
        out.extend_from_slice(&data);
        out.resize(out.len() + pad_len(len), 0);
    }
    let fit = |v: u64, max: u64| if v > max { 0 } else { v };
    ustar_block(
        out,
        h.name,
        h.typeflag,
        h.mode,
        fit(h.uid, MAX_OCTAL_7),
        fit(h.gid, MAX_OCTAL_7),
        fit(h.size, MAX_OCTAL_11),
        fit(h.mtime, MAX_OCTAL_11),
        h.link,
        h.dev,
    )
}

// ---------------------------------------------------------------------------------------------
// The chunked tar output

const CHUNK: usize = 1 << 20;
/// Chunks in flight between the tar thread and the compressing thread.
const BUFFERS: usize = 4;

/// Where full chunks of the tar stream go.
trait ChunkSink {
    /// Consumes `buf[..len]` and returns a buffer of `CHUNK` bytes to fill next.
    fn take(&mut self, buf: Vec<u8>, len: usize) -> io::Result<Vec<u8>>;
    /// Consumes the last chunk.
    fn take_last(&mut self, buf: Vec<u8>, len: usize) -> io::Result<()>;
}

/// Compresses chunks on the current thread.
struct WriteSink<C>(C);

impl<C: Write> ChunkSink for WriteSink<C> {
    fn take(&mut self, buf: Vec<u8>, len: usize) -> io::Result<Vec<u8>> {
        self.0.write_all(&buf[..len])?;
        Ok(buf)
    }
    fn take_last(&mut self, buf: Vec<u8>, len: usize) -> io::Result<()> {
        self.0.write_all(&buf[..len])
    }
}

/// Hands chunks to the compressing thread.
struct ChannelSink {
    full: mpsc::SyncSender<(Vec<u8>, usize)>,
    free: mpsc::Receiver<Vec<u8>>,
}

fn consumer_gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the compressing side stopped")
}

impl ChunkSink for ChannelSink {
    fn take(&mut self, buf: Vec<u8>, len: usize) -> io::Result<Vec<u8>> {
        self.full.send((buf, len)).map_err(|_| consumer_gone())?;
        self.free.recv().map_err(|_| consumer_gone())
    }
    fn take_last(&mut self, buf: Vec<u8>, len: usize) -> io::Result<()> {
        self.full.send((buf, len)).map_err(|_| consumer_gone())
    }
}

/// Accumulates the tar stream in fixed-size chunks, hashing it (`diff_id`) as chunks complete.
struct TarOut<S> {
    buf: Vec<u8>,
    filled: usize,
    hasher: Sha256,
    count: u64,
    sink: S,
}

impl<S: ChunkSink> TarOut<S> {
    fn new(sink: S) -> Self {
        TarOut {
            buf: vec![0; CHUNK],
            filled: 0,
            hasher: Sha256::new(),
            count: 0,
            sink,
        }
    }

    fn flush_chunk(&mut self) -> Result<(), LayerError> {
        self.hasher.update(&self.buf[..self.filled]);
        self.count += self.filled as u64;
        let full = std::mem::take(&mut self.buf);
        self.buf = self
            .sink
            .take(full, self.filled)
            .map_err(LayerError::Write)?;
        if self.buf.len() != CHUNK {
            self.buf.resize(CHUNK, 0);
        }
        self.filled = 0;
        Ok(())
    }

    fn put(&mut self, mut bytes: &[u8]) -> Result<(), LayerError> {
        while !bytes.is_empty() {
            let n = (CHUNK - self.filled).min(bytes.len());
            self.buf[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
            self.filled += n;
            bytes = &bytes[n..];
            if self.filled == CHUNK {
                self.flush_chunk()?;
            }
        }
        Ok(())
    }

    fn put_zeros(&mut self, mut n: usize) -> Result<(), LayerError> {
        while n > 0 {
            let k = (CHUNK - self.filled).min(n);
            self.buf[self.filled..self.filled + k].fill(0);
            self.filled += k;
            n -= k;
            if self.filled == CHUNK {
                self.flush_chunk()?;
            }
        }
        Ok(())
    }

    /// Copies up to `len` bytes from `r` straight into the chunk buffer; returns how many were
    /// copied (fewer than `len` only at end of file).
    fn put_from(&mut self, r: &mut impl Read, len: u64) -> Result<u64, LayerError> {
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(CHUNK - self.filled);
            let n = match r.read(&mut self.buf[self.filled..self.filled + want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LayerError::ReadSource(e)),
            };
            self.filled += n;
            left -= n as u64;
            if self.filled == CHUNK {
                self.flush_chunk()?;
            }
        }
        Ok(len - left)
    }

    fn finish(mut self) -> Result<(Digest, u64, S), LayerError> {
        self.hasher.update(&self.buf[..self.filled]);
        self.count += self.filled as u64;
        let last = std::mem::take(&mut self.buf);
        self.sink
            .take_last(last, self.filled)
            .map_err(LayerError::Write)?;
        Ok((Digest::from_hasher(self.hasher), self.count, self.sink))
    }
}

fn emit_all<S: ChunkSink>(
    planned: &[Planned],
    sde: u64,
    tar: &mut TarOut<S>,
) -> Result<(), LayerError> {
    let mut scratch = Vec::with_capacity(4 * BLOCK);
    for p in planned {
        emit(p, sde, tar, &mut scratch)?;
    }
    tar.put_zeros(2 * BLOCK)
}

fn emit<S: ChunkSink>(
    p: &Planned,
    sde: u64,
    tar: &mut TarOut<S>,
    scratch: &mut Vec<u8>,
) -> Result<(), LayerError> {
    let no_xattrs = BTreeMap::new();
    let mut hdr = Hdr {
        name: &p.name,
        typeflag: TYPE_REG,
        mode: p.mode,
        uid: p.uid,
        gid: p.gid,
        size: 0,
        mtime: p.mtime,
        link: "",
        dev: (0, 0),
        xattrs: &p.xattrs,
    };
    let dir_name;
    let mut write_header = |hdr: &Hdr, tar: &mut TarOut<S>| -> Result<(), LayerError> {
        scratch.clear();
        encode_header(scratch, hdr).map_err(LayerError::Write)?;
        tar.put(scratch)
    };
    match &p.body {
        Body::Dir | Body::Opaque => {
            dir_name = format!("{}/", p.name);
            hdr.name = &dir_name;
            hdr.typeflag = TYPE_DIR;
            write_header(&hdr, tar)?;
            if matches!(p.body, Body::Opaque) {
                let marker = format!("{}/{OPAQUE_MARKER}", p.name);
                let m = Hdr {
                    name: &marker,
                    typeflag: TYPE_REG,
                    mode: 0,
                    uid: 0,
                    gid: 0,
                    size: 0,
                    mtime: sde,
                    link: "",
                    dev: (0, 0),
                    xattrs: &no_xattrs,
                };
                write_header(&m, tar)?;
            }
        }
        Body::File(FileSource::Bytes(bytes)) => {
            hdr.size = bytes.len() as u64;
            write_header(&hdr, tar)?;
            tar.put(bytes)?;
            tar.put_zeros(pad_len(hdr.size))?;
        }
        Body::File(FileSource::Path(path)) => {
            // O_NOFOLLOW: a file swapped for a symlink after the walk is refused, not followed.
            let flags = rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::CLOEXEC
                | rustix::fs::OFlags::NOFOLLOW;
            let fd =
                rustix::fs::open(path, flags, rustix::fs::Mode::empty()).map_err(|e| match e {
                    rustix::io::Errno::LOOP => LayerError::NotRegularFile { path: path.clone() },
                    e => {
                        let e = io::Error::from(e);
                        LayerError::ReadSource(io::Error::new(
                            e.kind(),
                            format!("opening {}: {e}", path.display()),
                        ))
                    }
                })?;
            let mut file = fs_err::File::from_parts(std::fs::File::from(fd), path);
            let md = file.metadata().map_err(LayerError::ReadSource)?;
            if !md.is_file() {
                return Err(LayerError::NotRegularFile { path: path.clone() });
            }
            hdr.size = md.len();
            write_header(&hdr, tar)?;
            let copied = tar.put_from(&mut file, hdr.size)?;
            let mut probe = [0u8; 1];
            let more = loop {
                match file.read(&mut probe) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(LayerError::ReadSource(e)),
                }
            };
            if copied != hdr.size || more != 0 {
                return Err(LayerError::SourceChanged { path: path.clone() });
            }
            tar.put_zeros(pad_len(hdr.size))?;
        }
        Body::Symlink(target) => {
            hdr.typeflag = TYPE_SYMLINK;
            hdr.link = target;
            write_header(&hdr, tar)?;
        }
        Body::Hardlink(target) => {
            hdr.typeflag = TYPE_LINK;
            hdr.link = target;
            write_header(&hdr, tar)?;
        }
        Body::Char(major, minor) | Body::Block(major, minor) => {
            hdr.typeflag = if matches!(p.body, Body::Char(..)) {
                TYPE_CHAR
            } else {
                TYPE_BLOCK
            };
            hdr.dev = (*major, *minor);
            write_header(&hdr, tar)?;
        }
        Body::Fifo => {
            hdr.typeflag = TYPE_FIFO;
            write_header(&hdr, tar)?;
        }
        Body::Whiteout => {
            hdr.xattrs = &no_xattrs;
            write_header(&hdr, tar)?;
        }
    }
    Ok(())
}

/// Runs the tar side on a helper thread and compresses on this one.
fn threaded<C: Write>(
    planned: Vec<Planned>,
    sde: u64,
    mut comp: C,
) -> Result<(Digest, u64, C), LayerError> {
    let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(BUFFERS);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    for _ in 1..BUFFERS {
        // Cannot fail: the receiver is alive.
        let _ = free_tx.send(vec![0; CHUNK]);
    }
    std::thread::scope(move |s| {
        let producer = s.spawn(move || -> Result<(Digest, u64), LayerError> {
            let mut tar = TarOut::new(ChannelSink {
                full: full_tx,
                free: free_rx,
            });
            emit_all(&planned, sde, &mut tar)?;
            let (digest, n, _) = tar.finish()?;
            Ok((digest, n))
        });
        let mut write_err = None;
        for (buf, len) in full_rx.iter() {
            if let Err(e) = comp.write_all(&buf[..len]) {
                write_err = Some(e);
                break;
            }
            // The tar side may have finished and dropped its receiver; that is fine.
            let _ = free_tx.send(buf);
        }
        // Unblocks the tar side if compression failed.
        drop(full_rx);
        drop(free_tx);
        let produced = producer
            .join()
            .map_err(|_| LayerError::Write(io::Error::other("the layer tar thread panicked")))?;
        if let Some(e) = write_err {
            return Err(LayerError::Write(e));
        }
        let (digest, n) = produced?;
        Ok((digest, n, comp))
    })
}

// ---------------------------------------------------------------------------------------------
// Compression

/// The pinned compressors.
enum Compressor<W: Write> {
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Plain(W),
}

/// Pinned gzip level.
pub(crate) const GZIP_LEVEL: u32 = 6;
/// Pinned zstd level.
pub(crate) const ZSTD_LEVEL: i32 = 3;

impl<W: Write> Compressor<W> {
    fn new(c: Compression, w: W) -> io::Result<Self> {
        Ok(match c {
            Compression::Gzip => Compressor::Gzip(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .operating_system(255)
                    .write(w, flate2::Compression::new(GZIP_LEVEL)),
            ),
            Compression::Zstd => {
                let mut e = zstd::stream::write::Encoder::new(w, ZSTD_LEVEL)?;
                e.include_checksum(true)?;
                e.include_contentsize(false)?;
                e.include_dictid(false)?;
                e.long_distance_matching(false)?;
                Compressor::Zstd(e)
            }
            Compression::None => Compressor::Plain(w),
        })
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Gzip(e) => e.finish(),
            Compressor::Zstd(e) => e.finish(),
            Compressor::Plain(w) => Ok(w),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Gzip(e) => e.write(buf),
            Compressor::Zstd(e) => e.write(buf),
            Compressor::Plain(w) => w.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Compressor::Gzip(e) => e.write_all(buf),
            Compressor::Zstd(e) => e.write_all(buf),
            Compressor::Plain(w) => w.write_all(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Gzip(e) => e.flush(),
            Compressor::Zstd(e) => e.flush(),
            Compressor::Plain(w) => w.flush(),
        }
    }
}
