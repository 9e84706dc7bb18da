//! Reading a binary package (`.deb`) as a stream: the `ar` container, the `debian-binary`
//! format version, the control archive (small, read whole into memory) and the data archive
//! (handed back as a decompressed `tar` stream for the caller to extract).
//!
//! A `.deb` is an `ar` archive (`!<arch>\n`, then members with 60-byte headers whose sizes are
//! decimal, each member padded to an even offset) holding, in this order: `debian-binary`
//! (`2.x\n`), `control.tar[.gz|.xz|.zst]` and `data.tar[.gz|.xz|.zst|.bz2]`. Members whose names
//! start with `_` are reserved for extensions and skipped, as dpkg does. The GNU and BSD long
//! member name schemes are refused: `dpkg-deb` never writes them.
//!
//! Everything is read forward from any [`Read`]; nothing seeks. Garbage input gives a
//! [`DebError`] naming the member and the problem, never a panic.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufReader, Read};

const AR_MAGIC: &[u8; 8] = b"!<arch>\n";
const HEADER_LEN: usize = 60;
/// Largest `debian-binary` member accepted.
const MAX_DEBIAN_BINARY: u64 = 64;
/// Largest decompressed control archive accepted.
const MAX_CONTROL_TAR: u64 = 256 << 20;

/// Errors reading a `.deb`.
#[derive(Debug, thiserror::Error)]
pub enum DebError {
    /// The data does not start with the `ar` magic.
    #[error("not a .deb package: it does not start with the ar archive magic \"!<arch>\\n\"")]
    BadMagic,
    /// The archive ends too early.
    #[error("the .deb is truncated: {0}")]
    Truncated(String),
    /// A malformed `ar` member header.
    #[error("malformed .deb: bad ar member header at byte {offset}: {why}")]
    BadHeader { offset: u64, why: String },
    /// A member that is not the one the format requires at this place.
    #[error("malformed .deb: expected {expected}, found member {found:?}")]
    UnexpectedMember {
        expected: &'static str,
        found: String,
    },
    /// A required member is missing (the archive ended).
    #[error("malformed .deb: no {0} member")]
    Missing(&'static str),
    /// A member's content is wrong.
    #[error("malformed .deb: member {member}: {why}")]
    Member { member: String, why: String },
    /// Reading failed.
    #[error("reading the .deb ({context}): {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// The API was used out of order.
    #[error("{0}")]
    Usage(&'static str),
}

/// Compression of a `control.tar` or `data.tar` member, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

impl Compression {
    fn from_suffix(suffix: &str) -> Option<Compression> {
        Some(match suffix {
            "" => Compression::None,
            ".gz" => Compression::Gzip,
            ".xz" => Compression::Xz,
            ".zst" => Compression::Zstd,
            ".bz2" => Compression::Bzip2,
            _ => return None,
        })
    }
}

/// One file of the control archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlFile {
    /// Permission bits from the tar header (e.g. `0o755` for maintainer scripts).
    pub mode: u32,
    pub data: Vec<u8>,
}

/// The files of the control archive (`control`, `md5sums`, `conffiles`, maintainer scripts
/// `preinst postinst prerm postrm config`, `templates`, `triggers`, `shlibs`, `symbols`, ...),
/// by name without the leading `./`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebControl {
    /// The `control` file (it must be present and UTF-8).
    pub control: String,
    /// Every file of the control archive, `control` included.
    pub files: BTreeMap<String, ControlFile>,
}

impl DebControl {
    /// A file of the control archive by name (`"postinst"`, `"md5sums"`, ...).
    pub fn file(&self, name: &str) -> Option<&ControlFile> {
        self.files.get(name)
    }
}

/// An `ar` member header.
#[derive(Debug, Clone)]
struct MemberHeader {
    name: String,
    size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Next: the control member.
    Control,
    /// Next: the data member.
    Data,
}

/// A `.deb` being read from `R`. See the module docs.
pub struct DebReader<R: Read> {
    inner: R,
    /// Bytes of the archive consumed so far.
    offset: u64,
    version: String,
    stage: Stage,
}

impl<R: Read> fmt::Debug for DebReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DebReader")
            .field("offset", &self.offset)
            .field("version", &self.version)
            .field("stage", &self.stage)
            .finish_non_exhaustive()
    }
}

impl<R: Read> DebReader<R> {
    /// Checks the `ar` magic and the `debian-binary` member (format `2.x`).
    pub fn new(mut inner: R) -> Result<DebReader<R>, DebError> {
        let mut magic = [0u8; 8];
        let got = read_full(&mut inner, &mut magic).map_err(|e| io_error("the ar magic", e))?;
        if got < magic.len() {
            // A short prefix of the magic is a truncated .deb; anything else is not a .deb.
            if got > 0 && magic[..got] == AR_MAGIC[..got] {
                return Err(DebError::Truncated(
                    "it ends inside the ar magic".to_string(),
                ));
            }
            return Err(DebError::BadMagic);
        }
        if &magic != AR_MAGIC {
            return Err(DebError::BadMagic);
        }
        let mut reader = DebReader {
            inner,
            offset: magic.len() as u64,
            version: String::new(),
            stage: Stage::Control,
        };
        let Some(header) = reader.next_header()? else {
            return Err(DebError::Missing("debian-binary"));
        };
        if header.name != "debian-binary" {
            return Err(DebError::UnexpectedMember {
                expected: "debian-binary first",
                found: header.name,
            });
        }
        let bad = |why: String| DebError::Member {
            member: "debian-binary".to_string(),
            why,
        };
        if header.size > MAX_DEBIAN_BINARY {
            return Err(bad(format!("{} bytes is too long", header.size)));
        }
        let content = reader.read_member(&header)?;
        let text = std::str::from_utf8(&content)
            .map_err(|_| bad("the format version is not text".to_string()))?;
        let version = text
            .strip_suffix('\n')
            .filter(|v| !v.contains('\n'))
            .ok_or_else(|| bad(format!("{text:?} is not one version line")))?;
        let minor = version
            .strip_prefix("2.")
            .ok_or_else(|| bad(format!("unsupported format version {version:?} (need 2.x)")))?;
        if minor.is_empty() || !minor.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!(
                "unsupported format version {version:?} (need 2.x)"
            )));
        }
        reader.version = version.to_string();
        Ok(reader)
    }

    /// The format version of `debian-binary` (`"2.0"`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Reads the control archive member and returns its files. Must come before
    /// [`DebReader::data`] and only once.
    pub fn read_control(&mut self) -> Result<DebControl, DebError> {
        if self.stage != Stage::Control {
            return Err(DebError::Usage("the control member was already read"));
        }
        let (header, compression) = self.next_tar_member("control")?;
        let member = header.name.clone();
        let result = {
            let mut raw = MemberReader {
                inner: &mut self.inner,
                remaining: header.size,
                name: &member,
                truncated: false,
            };
            let decoded = decoder(&mut raw, compression);
            let limited = LimitReader {
                inner: decoded,
                remaining: MAX_CONTROL_TAR,
                name: &member,
            };
            // Whatever the tar reader leaves (end-of-archive blocks, padding) is skipped.
            let files = read_control_tar(limited, &member).and_then(|files| {
                io::copy(&mut raw, &mut io::sink())
                    .map(|_| files)
                    .map_err(|e| io_error(&member, e))
            });
            if raw.truncated {
                Err(truncated_member(
                    &member,
                    header.size,
                    header.size - raw.remaining,
                ))
            } else {
                files
            }
        };
        let files = result?;
        self.offset += header.size;
        self.skip_padding(&header)?;
        self.stage = Stage::Data;
        let control = files.get("control").ok_or_else(|| DebError::Member {
            member: member.clone(),
            why: "it has no control file".to_string(),
        })?;
        let control = String::from_utf8(control.data.clone()).map_err(|_| DebError::Member {
            member: member.clone(),
            why: "the control file is not UTF-8".to_string(),
        })?;
        Ok(DebControl { control, files })
    }

    /// The decompressed `data.tar` stream. Skips the control member if it was not read.
    pub fn data(mut self) -> Result<DebData<R>, DebError> {
        if self.stage == Stage::Control {
            let (header, _) = self.next_tar_member("control")?;
            self.skip_member(&header)?;
        }
        let (header, compression) = self.next_tar_member("data")?;
        let name = header.name;
        let raw = MemberReader {
            inner: self.inner,
            remaining: header.size,
            name: name.clone(),
            truncated: false,
        };
        Ok(DebData {
            inner: decoder(raw, compression),
            member: name,
        })
    }

    /// Next member that is not a reserved `_` one: `{what}.tar` with a known compression.
    fn next_tar_member(
        &mut self,
        what: &'static str,
    ) -> Result<(MemberHeader, Compression), DebError> {
        let expected = if what == "control" {
            "control.tar[.gz|.xz|.zst]"
        } else {
            "data.tar[.gz|.xz|.zst|.bz2]"
        };
        loop {
            let Some(header) = self.next_header()? else {
                return Err(DebError::Missing(expected));
            };
            if header.name.starts_with('_') {
                self.skip_member(&header)?;
                continue;
            }
            let compression = header
                .name
                .strip_prefix(what)
                .and_then(|rest| rest.strip_prefix(".tar"))
                .and_then(Compression::from_suffix)
                .filter(|c| what == "data" || *c != Compression::Bzip2);
            return match compression {
                Some(c) => Ok((header, c)),
                None => Err(DebError::UnexpectedMember {
                    expected,
                    found: header.name,
                }),
            };
        }
    }

    /// Reads the next `ar` header; `None` at a clean end of the archive.
    fn next_header(&mut self) -> Result<Option<MemberHeader>, DebError> {
        let start = self.offset;
        let mut buf = [0u8; HEADER_LEN];
        let got =
            read_full(&mut self.inner, &mut buf).map_err(|e| io_error("an ar member header", e))?;
        if got == 0 {
            return Ok(None);
        }
        if got < HEADER_LEN {
            return Err(DebError::Truncated(format!(
                "it ends inside the ar member header at byte {start}"
            )));
        }
        self.offset += HEADER_LEN as u64;
        parse_header(&buf, start).map(Some)
    }

    /// Reads a (small) member whole.
    fn read_member(&mut self, header: &MemberHeader) -> Result<Vec<u8>, DebError> {
        let capacity = usize::try_from(header.size.min(1 << 16)).unwrap_or(0);
        let mut content = Vec::with_capacity(capacity);
        (&mut self.inner)
            .take(header.size)
            .read_to_end(&mut content)
            .map_err(|e| io_error(&header.name, e))?;
        if (content.len() as u64) < header.size {
            return Err(truncated_member(
                &header.name,
                header.size,
                content.len() as u64,
            ));
        }
        self.offset += header.size;
        self.skip_padding(header)?;
        Ok(content)
    }

    fn skip_member(&mut self, header: &MemberHeader) -> Result<(), DebError> {
        let copied = io::copy(&mut (&mut self.inner).take(header.size), &mut io::sink())
            .map_err(|e| io_error(&header.name, e))?;
        if copied < header.size {
            return Err(truncated_member(&header.name, header.size, copied));
        }
        self.offset += header.size;
        self.skip_padding(header)
    }

    /// Members start at even offsets: an odd-sized one is followed by one padding byte.
    fn skip_padding(&mut self, header: &MemberHeader) -> Result<(), DebError> {
        if header.size % 2 == 1 {
            let mut pad = [0u8; 1];
            let got = read_full(&mut self.inner, &mut pad).map_err(|e| io_error("padding", e))?;
            // The last member may omit its padding; a following header read reports the end.
            self.offset += got as u64;
        }
        Ok(())
    }
}

fn parse_header(buf: &[u8; HEADER_LEN], offset: u64) -> Result<MemberHeader, DebError> {
    let bad = |why: String| DebError::BadHeader { offset, why };
    if &buf[58..60] != b"`\n" {
        return Err(bad("missing the \"`\\n\" header terminator".to_string()));
    }
    let raw_name = std::str::from_utf8(&buf[0..16])
        .map_err(|_| bad("the member name is not text".to_string()))?;
    let trimmed = raw_name.trim_end_matches(' ');
    if trimmed.starts_with("#1/") || trimmed.starts_with('/') {
        return Err(bad(format!(
            "member name {trimmed:?} uses the BSD/GNU long name extension, which .deb archives \
             do not use"
        )));
    }
    // GNU ar ends names with '/'; dpkg-deb pads with spaces.
    let name = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if name.is_empty() || name.contains(['/', ' ', '\0']) {
        return Err(bad(format!("invalid member name {raw_name:?}")));
    }
    let size_field = &buf[48..58];
    let digits_end = size_field
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(size_field.len());
    if digits_end == 0 || size_field[digits_end..].iter().any(|&b| b != b' ') {
        return Err(bad(format!(
            "member {name:?} has an invalid size field {:?}",
            String::from_utf8_lossy(size_field)
        )));
    }
    let mut size: u64 = 0;
    for &d in &size_field[..digits_end] {
        // At most 10 digits: no overflow in u64.
        size = size * 10 + u64::from(d - b'0');
    }
    Ok(MemberHeader {
        name: name.to_string(),
        size,
    })
}

fn read_control_tar<T: Read>(
    reader: T,
    member: &str,
) -> Result<BTreeMap<String, ControlFile>, DebError> {
    let bad = |why: String| DebError::Member {
        member: member.to_string(),
        why,
    };
    let tar_error = |e: io::Error| bad(format!("bad tar archive: {e}"));
    let mut archive = tar::Archive::new(reader);
    let mut files = BTreeMap::new();
    for entry in archive.entries().map_err(tar_error)? {
        let mut entry = entry.map_err(tar_error)?;
        let path = entry.path_bytes();
        let path = std::str::from_utf8(&path)
            .map_err(|_| bad("a file name is not UTF-8".to_string()))?
            .to_string();
        let name = path.strip_prefix("./").unwrap_or(&path);
        let name = name.strip_suffix('/').unwrap_or(name);
        let kind = entry.header().entry_type();
        if kind.is_dir() && (name.is_empty() || name == ".") {
            continue;
        }
        if name.is_empty()
            || name == "."
            || name == ".."
            || name.contains('/')
            || name.contains('\0')
        {
            return Err(bad(format!(
                "{path:?} is not a file name at the top level of the control archive"
            )));
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            return Err(bad(format!(
                "{path:?} is not a regular file (tar entry type {:?})",
                kind.as_byte() as char
            )));
        }
        if files.contains_key(name) {
            return Err(bad(format!("{name:?} appears twice")));
        }
        let mode = entry.header().mode().map_err(tar_error)?;
        let size = entry.size();
        let mut data = Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
        entry.read_to_end(&mut data).map_err(tar_error)?;
        files.insert(name.to_string(), ControlFile { mode, data });
    }
    Ok(files)
}

/// The decompressed `data.tar` stream of a `.deb`. Read errors name the member.
pub struct DebData<R: Read> {
    inner: Decoder<MemberReader<R, String>>,
    member: String,
}

impl<R: Read> DebData<R> {
    /// The member name (`data.tar.xz`, ...).
    pub fn member(&self) -> &str {
        &self.member
    }
}

impl<R: Read> fmt::Debug for DebData<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DebData")
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

impl<R: Read> Read for DebData<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.member)))
    }
}

enum Decoder<T: Read> {
    Plain(T),
    Gzip(Box<flate2::read::GzDecoder<T>>),
    Xz(Box<liblzma::read::XzDecoder<T>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, BufReader<T>>>),
    Bzip2(Box<bzip2::read::BzDecoder<T>>),
    /// A decoder that could not be set up: the error is reported on the first read.
    Failed(Option<io::Error>),
}

fn decoder<T: Read>(raw: T, compression: Compression) -> Decoder<T> {
    match compression {
        Compression::None => Decoder::Plain(raw),
        Compression::Gzip => Decoder::Gzip(Box::new(flate2::read::GzDecoder::new(raw))),
        Compression::Xz => Decoder::Xz(Box::new(liblzma::read::XzDecoder::new(raw))),
        Compression::Zstd => match zstd::stream::read::Decoder::new(raw) {
            Ok(d) => Decoder::Zstd(Box::new(d)),
            Err(e) => Decoder::Failed(Some(e)),
        },
        Compression::Bzip2 => Decoder::Bzip2(Box::new(bzip2::read::BzDecoder::new(raw))),
    }
}

impl<T: Read> Read for Decoder<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Xz(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
            Decoder::Bzip2(r) => r.read(buf),
            Decoder::Failed(e) => Err(e
                .take()
                .unwrap_or_else(|| io::Error::other("the decompressor could not start"))),
        }
    }
}

/// The raw bytes of one `ar` member: ends where the member ends, and fails (instead of ending
/// quietly) when the archive ends first.
struct MemberReader<R, N> {
    inner: R,
    remaining: u64,
    name: N,
    /// Set when the archive ended before the member.
    truncated: bool,
}

impl<R: Read, N: AsRef<str>> Read for MemberReader<R, N> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let got = self.inner.read(&mut buf[..want])?;
        if got == 0 {
            self.truncated = true;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the .deb is truncated: member {} lacks its last {} bytes",
                    self.name.as_ref(),
                    self.remaining
                ),
            ));
        }
        self.remaining -= got as u64;
        Ok(got)
    }
}

/// Fails once more than `remaining` bytes were read (a decompression bomb guard).
struct LimitReader<'a, T> {
    inner: T,
    remaining: u64,
    name: &'a str,
}

impl<T: Read> Read for LimitReader<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let got = self.inner.read(buf)?;
        if got as u64 > self.remaining {
            return Err(io::Error::other(format!(
                "{} decompresses to more than {} MiB",
                self.name,
                MAX_CONTROL_TAR >> 20
            )));
        }
        self.remaining -= got as u64;
        Ok(got)
    }
}

/// Reads until `buf` is full or the reader ends; returns the number of bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn io_error(context: &str, source: io::Error) -> DebError {
    DebError::Io {
        context: context.to_string(),
        source,
    }
}

fn truncated_member(name: &str, size: u64, got: u64) -> DebError {
    DebError::Truncated(format!(
        "member {name} should have {size} bytes but the archive ends after {got}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::Path;
    use std::process::Command;

    const HOSTNAME_DEB: &[u8] = include_bytes!("../tests/fixtures/hostname_3.23+nmu1_amd64.deb");

    const CONTROL: &str = "Package: plinth-test\nVersion: 1.0-1\nArchitecture: all\n\
        Maintainer: Test <test@example.org>\nDescription: a test package\n test\n";
    const POSTINST: &[u8] = b"#!/bin/sh\nset -e\necho configured\n";
    const CONFFILES: &[u8] = b"/etc/plinth-test.conf\n";

    // --- test-side writers: ar, tar, compression --------------------------------------------

    fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = AR_MAGIC.to_vec();
        for (name, data) in members {
            let header = format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                name,
                1_700_000_000,
                0,
                0,
                100_644,
                data.len()
            );
            assert_eq!(header.len(), HEADER_LEN);
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    enum Entry<'a> {
        File(&'a str, &'a [u8], u32),
        Dir(&'a str),
        Symlink(&'a str, &'a str),
    }

    /// A tar archive with names written verbatim (the tar crate would drop `./`).
    fn tar(entries: &[Entry<'_>]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for entry in entries {
            let mut header = tar::Header::new_gnu();
            let (name, data, mode, kind): (&str, &[u8], u32, tar::EntryType) = match entry {
                Entry::File(name, data, mode) => (name, data, *mode, tar::EntryType::Regular),
                Entry::Dir(name) => (name, &[], 0o755, tar::EntryType::Directory),
                Entry::Symlink(name, target) => {
                    header.set_link_name(target).expect("link name");
                    (name, &[], 0o777, tar::EntryType::Symlink)
                }
            };
            let raw = &mut header.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            header.set_entry_type(kind);
            header.set_mode(mode);
            header.set_size(data.len() as u64);
            header.set_mtime(1_700_000_000);
            header.set_cksum();
            builder.append(&header, data).expect("tar append");
        }
        builder.into_inner().expect("tar finish")
    }

    fn compress(data: &[u8], compression: Compression) -> Vec<u8> {
        match compression {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).expect("gzip");
                e.finish().expect("gzip")
            }
            Compression::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
                e.write_all(data).expect("xz");
                e.finish().expect("xz")
            }
            Compression::Zstd => zstd::encode_all(data, 3).expect("zstd"),
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
                e.write_all(data).expect("bzip2");
                e.finish().expect("bzip2")
            }
        }
    }

    fn suffix(c: Compression) -> &'static str {
        match c {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Xz => ".xz",
            Compression::Zstd => ".zst",
            Compression::Bzip2 => ".bz2",
        }
    }

    fn control_tar() -> Vec<u8> {
        tar(&[
            Entry::Dir("./"),
            Entry::File("./control", CONTROL.as_bytes(), 0o644),
            Entry::File("./postinst", POSTINST, 0o755),
            Entry::File("./conffiles", CONFFILES, 0o644),
        ])
    }

    fn data_tar() -> Vec<u8> {
        tar(&[
            Entry::Dir("./"),
            Entry::Dir("./etc/"),
            Entry::File("./etc/plinth-test.conf", b"key=value\n", 0o644),
            Entry::Dir("./usr/"),
            Entry::Dir("./usr/share/"),
            Entry::File("./usr/share/README", b"hello\n", 0o644),
        ])
    }

    fn hand_built(control: Compression, data: Compression) -> Vec<u8> {
        let control_name = format!("control.tar{}", suffix(control));
        let data_name = format!("data.tar{}", suffix(data));
        ar(&[
            ("debian-binary", b"2.0\n"),
            ("_odd", b"abc"),
            (&control_name, &compress(&control_tar(), control)),
            (&data_name, &compress(&data_tar(), data)),
        ])
    }

    /// `dpkg-deb --build` of the same package, `None` when dpkg-deb is not installed.
    fn dpkg_built(compression: &str) -> Option<Vec<u8>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("pkg");
        let write = |path: &str, data: &[u8], mode: u32| {
            use std::os::unix::fs::PermissionsExt;
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, data).expect("write");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        };
        write("DEBIAN/control", CONTROL.as_bytes(), 0o644);
        write("DEBIAN/postinst", POSTINST, 0o755);
        write("DEBIAN/conffiles", CONFFILES, 0o644);
        write("etc/plinth-test.conf", b"key=value\n", 0o644);
        write("usr/share/README", b"hello\n", 0o644);
        let out = dir.path().join("out.deb");
        let status = Command::new("dpkg-deb")
            .arg("--root-owner-group")
            .arg(format!("-Z{compression}"))
            .arg("--build")
            .arg(&root)
            .arg(&out)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output();
        match status {
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => panic!("dpkg-deb: {e}"),
            Ok(o) => {
                assert!(o.status.success(), "dpkg-deb failed: {o:?}");
                Some(std::fs::read(Path::new(&out)).expect("read .deb"))
            }
        }
    }

    fn data_names(data: impl Read) -> Vec<String> {
        let mut archive = tar::Archive::new(data);
        archive
            .entries()
            .expect("tar")
            .map(|e| {
                let e = e.expect("tar entry");
                String::from_utf8(e.path_bytes().into_owned()).expect("utf-8 name")
            })
            .collect()
    }

    fn check_test_package(deb: &[u8]) {
        let mut reader = DebReader::new(deb).expect("a .deb");
        assert_eq!(reader.version(), "2.0");
        let control = reader.read_control().expect("control");
        assert_eq!(control.control, CONTROL);
        let postinst = control.file("postinst").expect("postinst");
        assert_eq!(postinst.data, POSTINST);
        assert_eq!(postinst.mode & 0o7777, 0o755);
        assert_eq!(
            control.file("control").expect("control").mode & 0o7777,
            0o644
        );
        assert_eq!(
            control.file("conffiles").expect("conffiles").data,
            CONFFILES
        );
        let data = reader.data().expect("data");
        let names = data_names(data);
        for name in ["./etc/plinth-test.conf", "./usr/share/README"] {
            assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
        }
    }

    fn err_of<T: fmt::Debug>(r: Result<T, DebError>) -> String {
        r.expect_err("must fail").to_string()
    }

    /// Opens, reads the control and drains the data; the first error.
    fn read_all(deb: &[u8]) -> Result<(DebControl, u64), DebError> {
        let mut reader = DebReader::new(deb)?;
        let control = reader.read_control()?;
        let mut data = reader.data()?;
        let n = io::copy(&mut data, &mut io::sink()).map_err(|e| io_error("data", e))?;
        Ok((control, n))
    }

    // --- tests -------------------------------------------------------------------------------

    #[test]
    fn real_hostname_deb() {
        let mut reader = DebReader::new(HOSTNAME_DEB).expect("a .deb");
        assert_eq!(reader.version(), "2.0");
        let control = reader.read_control().expect("control");
        assert!(
            control.control.starts_with("Package: hostname\n"),
            "{}",
            control.control
        );
        assert!(control.control.contains("\nEssential: yes\n"));
        assert_eq!(
            control.files.keys().collect::<Vec<_>>(),
            vec!["control", "md5sums"]
        );
        let md5sums = String::from_utf8(control.file("md5sums").expect("md5sums").data.clone())
            .expect("utf-8");
        assert!(
            md5sums.lines().any(|l| l.ends_with("  bin/hostname")),
            "{md5sums}"
        );
        let data = reader.data().expect("data");
        assert_eq!(data.member(), "data.tar.xz");
        let names = data_names(data);
        assert!(names.iter().any(|n| n == "./bin/hostname"), "{names:?}");
        // Every file md5sums lists is in the data archive.
        for line in md5sums.lines() {
            let path = line.split_once("  ").expect("md5sums line").1;
            assert!(names.contains(&format!("./{path}")), "{path}");
        }
    }

    #[test]
    fn dpkg_deb_built_packages_or_hand_built_fallback() {
        for (dpkg_name, compression) in [
            ("xz", Compression::Xz),
            ("gzip", Compression::Gzip),
            ("zstd", Compression::Zstd),
            ("none", Compression::None),
        ] {
            match dpkg_built(dpkg_name) {
                Some(deb) => {
                    let reader = DebReader::new(&deb[..]).expect("a .deb");
                    let data = reader.data().expect("data");
                    assert_eq!(data.member(), format!("data.tar{}", suffix(compression)));
                    check_test_package(&deb);
                }
                None => {
                    eprintln!("dpkg-deb is not installed: checking a hand-built .deb instead");
                    check_test_package(&hand_built(compression, compression));
                }
            }
        }
    }

    #[test]
    fn hand_built_every_compression() {
        let all = [
            Compression::None,
            Compression::Gzip,
            Compression::Xz,
            Compression::Zstd,
        ];
        for control in all {
            for data in all.iter().copied().chain([Compression::Bzip2]) {
                check_test_package(&hand_built(control, data));
            }
        }
    }

    #[test]
    fn data_without_reading_control_skips_it() {
        let deb = hand_built(Compression::Xz, Compression::Gzip);
        let reader = DebReader::new(&deb[..]).expect("a .deb");
        let names = data_names(reader.data().expect("data"));
        assert!(names.iter().any(|n| n == "./usr/share/README"), "{names:?}");
    }

    #[test]
    fn gnu_ar_names_with_slash_are_accepted() {
        let deb = ar(&[
            ("debian-binary/", b"2.0\n"),
            ("control.tar/", &control_tar()),
            ("data.tar/", &data_tar()),
        ]);
        check_test_package(&deb);
    }

    #[test]
    fn bad_magic() {
        for data in [
            &b""[..],
            b"!<arch",
            b"!<arch>\r\n",
            b"PK\x03\x04 not an ar archive",
        ] {
            let msg = err_of(DebReader::new(data));
            if data == b"!<arch" {
                assert!(msg.contains("truncated"), "{msg}");
            } else {
                assert!(msg.starts_with("not a .deb package"), "{msg}");
            }
        }
        let mut deb = hand_built(Compression::Xz, Compression::Xz);
        deb[1] = b'A';
        assert!(matches!(DebReader::new(&deb[..]), Err(DebError::BadMagic)));
    }

    #[test]
    fn bad_debian_binary() {
        let data = data_tar();
        for (content, want) in [
            (&b"3.0\n"[..], "unsupported format version \"3.0\""),
            (b"2.0", "is not one version line"),
            (b"2.\n", "unsupported format version \"2.\""),
            (b"2.0\n2.0\n", "is not one version line"),
            (b"\xff\n", "not text"),
        ] {
            let deb = ar(&[
                ("debian-binary", content),
                ("control.tar", &control_tar()),
                ("data.tar", &data),
            ]);
            let msg = err_of(DebReader::new(&deb[..]));
            assert!(
                msg.contains("member debian-binary") && msg.contains(want),
                "{msg}"
            );
        }
        let deb = ar(&[("control.tar", &control_tar()), ("debian-binary", b"2.0\n")]);
        let msg = err_of(DebReader::new(&deb[..]));
        assert!(
            msg.contains("expected debian-binary first, found member \"control.tar\""),
            "{msg}"
        );
        let msg = err_of(DebReader::new(&AR_MAGIC[..]));
        assert!(msg.contains("no debian-binary member"), "{msg}");
        // A newer minor version is fine.
        let deb = ar(&[("debian-binary", b"2.1\n"), ("control.tar", &control_tar())]);
        assert_eq!(DebReader::new(&deb[..]).expect("2.1").version(), "2.1");
    }

    #[test]
    fn missing_or_misplaced_members() {
        let data = data_tar();
        let only_data = ar(&[("debian-binary", b"2.0\n"), ("data.tar", &data)]);
        let mut reader = DebReader::new(&only_data[..]).expect("a .deb");
        let msg = err_of(reader.read_control());
        assert!(
            msg.contains("expected control.tar[.gz|.xz|.zst], found member \"data.tar\""),
            "{msg}"
        );
        let only_header = ar(&[("debian-binary", b"2.0\n")]);
        let mut reader = DebReader::new(&only_header[..]).expect("a .deb");
        let msg = err_of(reader.read_control());
        assert!(msg.contains("no control.tar[.gz|.xz|.zst] member"), "{msg}");
        let no_data = ar(&[("debian-binary", b"2.0\n"), ("control.tar", &control_tar())]);
        let mut reader = DebReader::new(&no_data[..]).expect("a .deb");
        reader.read_control().expect("control");
        let msg = err_of(reader.data());
        assert!(
            msg.contains("no data.tar[.gz|.xz|.zst|.bz2] member"),
            "{msg}"
        );
        let unknown = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar.lz4", &control_tar()),
        ]);
        let mut reader = DebReader::new(&unknown[..]).expect("a .deb");
        let msg = err_of(reader.read_control());
        assert!(msg.contains("found member \"control.tar.lz4\""), "{msg}");
        // Reading the control twice is a usage error, not a misparse.
        let deb = hand_built(Compression::None, Compression::None);
        let mut reader = DebReader::new(&deb[..]).expect("a .deb");
        reader.read_control().expect("control");
        assert!(matches!(reader.read_control(), Err(DebError::Usage(_))));
    }

    #[test]
    fn long_name_extensions_are_refused() {
        for name in ["#1/20", "/0", "//"] {
            let deb = ar(&[("debian-binary", b"2.0\n"), (name, b"x")]);
            let mut reader = DebReader::new(&deb[..]).expect("a .deb");
            let msg = err_of(reader.read_control());
            assert!(msg.contains("long name extension"), "{name}: {msg}");
        }
    }

    #[test]
    fn bad_header_fields() {
        let mut deb = ar(&[("debian-binary", b"2.0\n")]);
        let size_at = AR_MAGIC.len() + 48;
        deb[size_at] = b'x';
        let msg = err_of(DebReader::new(&deb[..]));
        assert!(msg.contains("invalid size field"), "{msg}");
        let mut deb = ar(&[("debian-binary", b"2.0\n")]);
        deb[AR_MAGIC.len() + 58] = b'!';
        let msg = err_of(DebReader::new(&deb[..]));
        assert!(
            msg.contains("header terminator") && msg.contains("byte 8"),
            "{msg}"
        );
    }

    #[test]
    fn control_archive_must_hold_top_level_regular_files() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                tar(&[
                    Entry::File("./control", CONTROL.as_bytes(), 0o644),
                    Entry::File("../evil", b"x", 0o644),
                ]),
                "\"../evil\" is not a file name at the top level",
            ),
            (
                tar(&[
                    Entry::File("./control", CONTROL.as_bytes(), 0o644),
                    Entry::File("./sub/x", b"x", 0o644),
                ]),
                "\"./sub/x\" is not a file name at the top level",
            ),
            (
                tar(&[
                    Entry::File("./control", CONTROL.as_bytes(), 0o644),
                    Entry::Symlink("./postinst", "/etc/shadow"),
                ]),
                "\"./postinst\" is not a regular file",
            ),
            (
                tar(&[
                    Entry::File("./control", CONTROL.as_bytes(), 0o644),
                    Entry::Dir("./scripts/"),
                ]),
                "not a regular file",
            ),
            (
                tar(&[Entry::File("./md5sums", b"", 0o644)]),
                "it has no control file",
            ),
            (
                tar(&[
                    Entry::File("./control", CONTROL.as_bytes(), 0o644),
                    Entry::File("control", CONTROL.as_bytes(), 0o644),
                ]),
                "\"control\" appears twice",
            ),
            (
                tar(&[Entry::File("./control", b"\xff\xfe", 0o644)]),
                "the control file is not UTF-8",
            ),
            (
                b"this is not a tar archive at all".repeat(20),
                "bad tar archive",
            ),
        ];
        for (control, want) in cases {
            let deb = ar(&[
                ("debian-binary", b"2.0\n"),
                ("control.tar.gz", &compress(&control, Compression::Gzip)),
                ("data.tar", &data_tar()),
            ]);
            let mut reader = DebReader::new(&deb[..]).expect("a .deb");
            let msg = err_of(reader.read_control());
            assert!(
                msg.starts_with("malformed .deb: member control.tar.gz: ") && msg.contains(want),
                "want {want:?}: {msg}"
            );
        }
    }

    #[test]
    fn corrupt_compressed_control_is_an_error() {
        let mut xz = compress(&control_tar(), Compression::Xz);
        let mid = xz.len() / 2;
        xz[mid] ^= 0xff;
        let deb = ar(&[("debian-binary", b"2.0\n"), ("control.tar.xz", &xz)]);
        let mut reader = DebReader::new(&deb[..]).expect("a .deb");
        let msg = err_of(reader.read_control());
        assert!(msg.contains("control.tar.xz"), "{msg}");
    }

    #[test]
    fn every_truncation_is_an_error() {
        for (control, data) in [
            (Compression::None, Compression::None),
            (Compression::Xz, Compression::Zstd),
            (Compression::Gzip, Compression::Bzip2),
        ] {
            let deb = hand_built(control, data);
            let (full, n) = read_all(&deb).expect("the whole .deb reads");
            assert_eq!(full.control, CONTROL);
            assert!(n > 0);
            // Cutting the last padding byte (if any) of the data member is harmless; any
            // other cut must fail.
            let data_len = compress(&data_tar(), data).len();
            let harmless = if data_len % 2 == 1 {
                deb.len() - 1
            } else {
                deb.len()
            };
            for cut in 0..harmless {
                let result = read_all(&deb[..cut]);
                assert!(
                    result.is_err(),
                    "cut at {cut} of {} was accepted",
                    deb.len()
                );
            }
        }
        // A cut inside the control member says so.
        let deb = hand_built(Compression::None, Compression::None);
        let control_start = AR_MAGIC.len() + 2 * HEADER_LEN + 4 + 4 + HEADER_LEN;
        let msg = err_of(read_all(&deb[..control_start + 700]));
        assert!(
            msg.starts_with("the .deb is truncated: member control.tar should have"),
            "{msg}"
        );
        // A cut inside the data member is reported by the data stream.
        let msg = err_of(read_all(&deb[..deb.len() - 100]));
        assert!(
            msg.contains("truncated") && msg.contains("data.tar"),
            "{msg}"
        );
    }

    #[test]
    fn random_corruption_never_panics() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let deb = hand_built(Compression::Gzip, Compression::Xz);
        let mut failures = 0;
        for _ in 0..2000 {
            let mut bad = deb.clone();
            for _ in 0..rng.gen_range(1..4) {
                let i = rng.gen_range(0..bad.len());
                bad[i] = rng.r#gen();
            }
            if read_all(&bad).is_err() {
                failures += 1;
            }
        }
        // Most corruptions hit compressed data or headers and must be detected.
        assert!(failures > 500, "only {failures} corruptions detected");
    }
}
