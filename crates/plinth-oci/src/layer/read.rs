//! Reading layer blobs: decompression (gzip, zstd or none, sniffed from the magic bytes and
//! checked against the media type) and parsing tar members into normalized entries, shared by
//! [`read_layer_entries`] and [`super::extract_layer`].
//!
//! Malformed input only ever produces errors (see [`super::tarread`]), and paths with `..`
//! components are rejected.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read};

use super::tarread::{Member, TarReader};
use super::{LayerError, OPAQUE_MARKER, WHITEOUT_PREFIX};
use crate::types::media;

/// One entry of a layer as its tar headers describe it (contents are not read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntryInfo {
    /// Normalized path: relative, no leading `./` or `/`, no trailing `/`, no `.` components.
    /// Bytes that are not UTF-8 are replaced with U+FFFD. For whiteouts, the deleted path; for an
    /// opaque whiteout, the directory ("" for the root).
    pub path: String,
    pub kind: EntryInfoKind,
    /// Permission bits with setuid/setgid/sticky (`0o7777` mask).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Content size (0 for everything but regular files).
    pub size: u64,
    /// Seconds since the epoch (a PAX `mtime` record wins over the header field).
    pub mtime: i64,
    /// From PAX `SCHILY.xattr.<name>` records.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// What a layer entry is. Whiteout markers (`.wh.<name>`, `.wh..wh..opq`) are reported as
/// [`EntryInfoKind::Whiteout`] / [`EntryInfoKind::OpaqueWhiteout`] at the path they affect; the
/// opaque directory's own entry is reported separately as a [`EntryInfoKind::Dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryInfoKind {
    Dir,
    File,
    Symlink {
        target: String,
    },
    /// `target` is normalized like [`LayerEntryInfo::path`].
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
    Whiteout,
    OpaqueWhiteout,
}

/// Lists the entries of a layer blob (gzip, zstd or uncompressed) without extracting it.
///
/// The compression is detected from the magic bytes; if `media_type` names a compressed layer
/// (gzip/zstd, OCI or Docker) but the data is not compressed, that is an error. Global PAX
/// headers and the root entry (`./`) are skipped; aufs metadata (`.wh..wh.*` other than the opaque
/// marker) is skipped. Paths with `..` components are an error, and so are GNU sparse files.
pub fn read_layer_entries<R: Read>(
    r: R,
    media_type: &str,
) -> Result<Vec<LayerEntryInfo>, LayerError> {
    read_entries(Decoder::open(r, media_type)?)
}

/// [`read_layer_entries`] of an already decompressed tar stream.
pub(crate) fn read_entries<R: Read>(tar_stream: R) -> Result<Vec<LayerEntryInfo>, LayerError> {
    let mut tar = TarReader::new(tar_stream);
    let mut out = Vec::new();
    while let Some(member) = tar.next_member()? {
        let Some(p) = parse_entry(member)? else {
            continue;
        };
        let kind = match p.kind {
            ParsedKind::Dir => EntryInfoKind::Dir,
            ParsedKind::File => EntryInfoKind::File,
            ParsedKind::Symlink(t) => EntryInfoKind::Symlink {
                target: String::from_utf8_lossy(&t).into_owned(),
            },
            ParsedKind::Hardlink(t) => EntryInfoKind::Hardlink {
                target: join_lossy(&normalize(&t)?),
            },
            ParsedKind::Char(major, minor) => EntryInfoKind::CharDevice { major, minor },
            ParsedKind::Block(major, minor) => EntryInfoKind::BlockDevice { major, minor },
            ParsedKind::Fifo => EntryInfoKind::Fifo,
            ParsedKind::Whiteout => EntryInfoKind::Whiteout,
            ParsedKind::Opaque => EntryInfoKind::OpaqueWhiteout,
        };
        out.push(LayerEntryInfo {
            path: join_lossy(&p.comps),
            kind,
            mode: p.mode,
            uid: p.uid,
            gid: p.gid,
            size: p.size,
            mtime: p.mtime,
            xattrs: p.xattrs,
        });
    }
    Ok(out)
}

/// What one layer says about a path, for [`read_layer_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileLookup {
    /// The layer has the path as a regular file with this content.
    Found(Vec<u8>),
    /// The path is a hardlink to this other path of the same layer: read that one.
    HardlinkTo(String),
    /// The layer deletes the path (a whiteout, an opaque parent, or a non-file entry over it), so
    /// lower layers must not be consulted.
    Deleted,
    /// The layer does not mention the path: look in the layer below.
    Absent,
}

/// Reads one regular file (`path` relative, e.g. `etc/passwd`) from a layer blob, if it is at
/// most `max_size` bytes (a larger one is an error). Used for small files such as /etc/passwd
/// without extracting the layer.
pub fn read_layer_file<R: Read>(
    r: R,
    media_type: &str,
    path: &str,
    max_size: u64,
) -> Result<FileLookup, LayerError> {
    let want: Vec<Vec<u8>> = normalize(path.as_bytes())?;
    let mut tar = TarReader::new(Decoder::open(r, media_type)?);
    let mut result = FileLookup::Absent;
    while let Some(mut member) = tar.next_member()? {
        let mut data = Vec::new();
        if matches!(member.typeflag, b'0' | b'7') && normalize(&member.path)? == want {
            if member.size > max_size {
                return Err(LayerError::Unsupported(format!(
                    "{path} is {} bytes, more than the {max_size} this reader allows",
                    member.size
                )));
            }
            tar.data()
                .read_to_end(&mut data)
                .map_err(LayerError::ReadLayer)?;
            member.size = data.len() as u64;
        }
        let Some(p) = parse_entry(member)? else {
            continue;
        };
        let is_prefix = p.comps.len() < want.len() && want.starts_with(&p.comps);
        match p.kind {
            ParsedKind::Whiteout if p.comps == want || is_prefix => result = FileLookup::Deleted,
            ParsedKind::Opaque
                if (is_prefix || p.comps.is_empty()) && result == FileLookup::Absent =>
            {
                result = FileLookup::Deleted;
            }
            ParsedKind::File if p.comps == want => result = FileLookup::Found(data),
            ParsedKind::Hardlink(target) if p.comps == want => {
                result = FileLookup::HardlinkTo(join_lossy(&normalize(&target)?));
            }
            ParsedKind::File | ParsedKind::Hardlink(_) | ParsedKind::Symlink(_) if is_prefix => {
                result = FileLookup::Deleted;
            }
            _ if p.comps == want => result = FileLookup::Deleted,
            _ => {}
        }
    }
    Ok(result)
}

pub(crate) fn join(comps: &[Vec<u8>]) -> Vec<u8> {
    comps.join(&b'/')
}

pub(crate) fn join_lossy(comps: &[Vec<u8>]) -> String {
    String::from_utf8_lossy(&join(comps)).into_owned()
}

/// Splits a tar path into components, dropping empty and `.` components (so a leading `/` or
/// `./` is neutralized). `..` is an error.
pub(crate) fn normalize(raw: &[u8]) -> Result<Vec<Vec<u8>>, LayerError> {
    let mut comps = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                return Err(LayerError::UnsafePath {
                    path: String::from_utf8_lossy(raw).into_owned(),
                    reason: "'..' components are not allowed",
                });
            }
            _ => comps.push(c.to_vec()),
        }
    }
    Ok(comps)
}

/// A tar member, normalized.
pub(crate) struct Parsed {
    /// Path components (never empty: the root entry is skipped). For whiteouts, the deleted path;
    /// for opaque markers, the directory (may be empty: the root).
    pub comps: Vec<Vec<u8>>,
    pub kind: ParsedKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime: i64,
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

pub(crate) enum ParsedKind {
    Dir,
    File,
    /// Raw link target.
    Symlink(Vec<u8>),
    /// Raw (unnormalized) link target.
    Hardlink(Vec<u8>),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
    Whiteout,
    Opaque,
}

fn malformed(path: &[u8], reason: impl Into<String>) -> LayerError {
    LayerError::Malformed {
        path: String::from_utf8_lossy(path).into_owned(),
        reason: reason.into(),
    }
}

/// Turns a tar member into a normalized entry. Returns `None` for members that describe nothing
/// in the filesystem (the root directory, aufs metadata).
pub(crate) fn parse_entry(m: Member) -> Result<Option<Parsed>, LayerError> {
    let raw_path = m.path;
    let device = || -> Result<(u32, u32), LayerError> {
        let major = u32::try_from(m.devmajor)
            .map_err(|_| malformed(&raw_path, "device major out of range"))?;
        let minor = u32::try_from(m.devminor)
            .map_err(|_| malformed(&raw_path, "device minor out of range"))?;
        Ok((major, minor))
    };
    let mut kind = match m.typeflag {
        b'0' | b'7' if raw_path.ends_with(b"/") => ParsedKind::Dir,
        b'0' | b'7' => ParsedKind::File,
        b'1' => ParsedKind::Hardlink(m.link),
        b'2' => ParsedKind::Symlink(m.link),
        b'3' => {
            let (a, b) = device()?;
            ParsedKind::Char(a, b)
        }
        b'4' => {
            let (a, b) = device()?;
            ParsedKind::Block(a, b)
        }
        b'5' => ParsedKind::Dir,
        b'6' => ParsedKind::Fifo,
        t => {
            return Err(malformed(
                &raw_path,
                format!("unsupported tar entry type {:?}", t as char),
            ));
        }
    };
    if matches!(kind, ParsedKind::Symlink(ref t) | ParsedKind::Hardlink(ref t) if t.is_empty()) {
        return Err(malformed(&raw_path, "link entry without a target"));
    }
    let size = if matches!(kind, ParsedKind::File) {
        m.size
    } else {
        0
    };
    let mode = u32::try_from(m.mode & 0o7777).unwrap_or(0);

    let mut comps = normalize(&raw_path)?;
    let Some(base) = comps.last() else {
        // The root directory itself ("./" or "/").
        return Ok(None);
    };
    if let Some(rest) = base.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
        if base.as_slice() == OPAQUE_MARKER.as_bytes() {
            comps.pop();
            kind = ParsedKind::Opaque;
        } else if rest.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            // aufs metadata (.wh..wh.plnk, .wh..wh.aufs, ...): nothing in the image filesystem.
            return Ok(None);
        } else if rest.is_empty() {
            return Err(malformed(&raw_path, "whiteout without a name"));
        } else {
            let target = rest.to_vec();
            comps.pop();
            comps.push(target);
            kind = ParsedKind::Whiteout;
        }
    }
    Ok(Some(Parsed {
        comps,
        kind,
        mode,
        uid: m.uid,
        gid: m.gid,
        size,
        mtime: m.mtime,
        xattrs: m.xattrs,
    }))
}

/// The compression a media type declares, if it is a known layer media type.
fn declared_compression(media_type: &str) -> Option<super::Compression> {
    use super::Compression;
    match media_type {
        media::OCI_LAYER_GZIP | media::DOCKER_LAYER_GZIP => Some(Compression::Gzip),
        media::OCI_LAYER_ZSTD => Some(Compression::Zstd),
        media::OCI_LAYER_TAR | media::DOCKER_LAYER_TAR => Some(Compression::None),
        m if m.ends_with("+gzip") || m.ends_with(".gzip") => Some(Compression::Gzip),
        m if m.ends_with("+zstd") || m.ends_with(".zstd") => Some(Compression::Zstd),
        _ => None,
    }
}

type Prefixed<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// A decompressing reader for a layer blob.
pub(crate) enum Decoder<R: Read> {
    Plain(Prefixed<R>),
    Gzip(Box<flate2::read::MultiGzDecoder<Prefixed<R>>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, BufReader<Prefixed<R>>>>),
}

impl<R: Read> Decoder<R> {
    pub(crate) fn open(mut r: R, media_type: &str) -> Result<Self, LayerError> {
        check_media_type(media_type, None)?;
        let mut head = vec![0u8; 4];
        let mut got = 0;
        while got < head.len() {
            match r.read(&mut head[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LayerError::ReadLayer(e)),
            }
        }
        head.truncate(got);
        let sniffed = sniff_compression(&head);
        check_media_type(media_type, Some(sniffed))?;
        let prefixed = io::Cursor::new(head).chain(r);
        Ok(match sniffed {
            super::Compression::Gzip => {
                Decoder::Gzip(Box::new(flate2::read::MultiGzDecoder::new(prefixed)))
            }
            super::Compression::Zstd => Decoder::Zstd(Box::new(
                zstd::stream::read::Decoder::new(prefixed).map_err(LayerError::ReadLayer)?,
            )),
            super::Compression::None => Decoder::Plain(prefixed),
        })
    }

    /// The compression of the stream, as sniffed from its magic bytes.
    pub(crate) fn compression(&self) -> super::Compression {
        match self {
            Decoder::Plain(_) => super::Compression::None,
            Decoder::Gzip(_) => super::Compression::Gzip,
            Decoder::Zstd(_) => super::Compression::Zstd,
        }
    }
}

/// The compression a blob's first (up to 4) bytes show.
pub(crate) fn sniff_compression(head: &[u8]) -> super::Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        super::Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        super::Compression::Zstd
    } else {
        super::Compression::None
    }
}

/// Whether a layer blob of media type `media_type` can be read: not encrypted, and (once the
/// blob's `sniffed` compression is known) not uncompressed when the media type declares
/// compression.
pub(crate) fn check_media_type(
    media_type: &str,
    sniffed: Option<super::Compression>,
) -> Result<(), LayerError> {
    if media_type.contains("+encrypted") {
        return Err(LayerError::Unsupported(format!(
            "encrypted layers ({media_type})"
        )));
    }
    if let Some(declared) = declared_compression(media_type)
        && declared != super::Compression::None
        && sniffed == Some(super::Compression::None)
    {
        return Err(LayerError::ReadLayer(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "media type {media_type} declares {declared:?} compression but the blob is not compressed"
            ),
        )));
    }
    Ok(())
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
        }
    }
}
