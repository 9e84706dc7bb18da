//! A small, strict streaming tar reader (USTAR, PAX `x`/`g` records, GNU `L`/`K` long names and
//! base-256 numbers) for layer blobs, written for untrusted input: malformed headers, records or
//! sizes are errors, nothing panics, and extension data is bounded.
//!
//! plinth does not use the `tar` crate's reader because it splits PAX records at newlines, which
//! breaks binary xattr values (a `security.capability` value may contain `0x0a`).

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read};

use super::LayerError;

/// One tar member with its extension headers applied.
#[derive(Debug)]
pub(crate) struct Member {
    pub path: Vec<u8>,
    pub link: Vec<u8>,
    /// The type flag (`\0` normalized to `0`).
    pub typeflag: u8,
    pub mode: u64,
    pub uid: u64,
    pub gid: u64,
    /// Bytes of data that follow (0 for header-only types).
    pub size: u64,
    pub mtime: i64,
    pub devmajor: u64,
    pub devminor: u64,
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// Largest PAX / GNU long-name payload accepted.
const MAX_EXTENSION: u64 = 8 << 20;
/// Most extension headers accepted in front of one member.
const MAX_EXTENSIONS: usize = 32;
const BLOCK: u64 = 512;

pub(crate) struct TarReader<R> {
    r: BufReader<R>,
    /// Unread data bytes of the current member.
    remaining: u64,
    /// Padding after the current member's data.
    pad: u64,
    done: bool,
}

fn bad(path: &[u8], reason: impl Into<String>) -> LayerError {
    LayerError::Malformed {
        path: String::from_utf8_lossy(path).into_owned(),
        reason: reason.into(),
    }
}

fn truncated() -> LayerError {
    LayerError::ReadLayer(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the tar stream is truncated",
    ))
}

fn pad_of(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

/// Bytes of a NUL-terminated field.
fn cstr(field: &[u8]) -> Vec<u8> {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    field[..end].to_vec()
}

/// Parses a numeric field: octal (leading spaces/NULs allowed, terminated by NUL or space; empty
/// means 0) or GNU base-256 (high bit set; negative values are rejected).
pub(crate) fn parse_num(field: &[u8]) -> Option<u64> {
    let first = *field.first()?;
    if first & 0x80 != 0 {
        if first & 0x40 != 0 {
            return None;
        }
        let mut v: u64 = u64::from(first & 0x3f);
        for b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(*b))?;
        }
        return Some(v);
    }
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ' || *b == 0)
        .take_while(|b| *b != 0 && *b != b' ')
        .collect();
    let mut v: u64 = 0;
    for d in digits {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        v = v.checked_mul(8)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(v)
}

/// Parses PAX records (`"<len> <key>=<value>\n"`, lengths counting the whole record) into `out`.
fn parse_pax(data: &[u8], out: &mut BTreeMap<String, Vec<u8>>) -> Result<(), String> {
    let mut rest = data;
    while !rest.is_empty() {
        if rest.iter().all(|b| *b == 0) {
            break;
        }
        let sp = rest
            .iter()
            .position(|b| *b == b' ')
            .ok_or("PAX record without a length")?;
        let len_str = &rest[..sp];
        if len_str.is_empty() || !len_str.iter().all(u8::is_ascii_digit) || len_str.len() > 12 {
            return Err("bad PAX record length".into());
        }
        let len: usize = std::str::from_utf8(len_str)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("bad PAX record length")?;
        if len <= sp + 1 || len > rest.len() {
            return Err("PAX record length out of range".into());
        }
        let rec = &rest[sp + 1..len];
        let Some((b'\n', rec)) = rec.split_last() else {
            return Err("PAX record does not end in a newline".into());
        };
        let eq = rec
            .iter()
            .position(|b| *b == b'=')
            .ok_or("PAX record without '='")?;
        let key = std::str::from_utf8(&rec[..eq]).map_err(|_| "PAX key is not UTF-8")?;
        out.insert(key.to_string(), rec[eq + 1..].to_vec());
        rest = &rest[len..];
    }
    Ok(())
}

/// Parses a PAX time (`[-]seconds[.fraction]`) to whole seconds, rounding down.
fn parse_pax_time(v: &[u8]) -> Option<i64> {
    let v = std::str::from_utf8(v).ok()?;
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let has_fraction = frac.bytes().any(|b| b != b'0');
    if int.starts_with('-') && has_fraction {
        secs.checked_sub(1)
    } else {
        Some(secs)
    }
}

fn parse_pax_u64(v: &[u8]) -> Option<u64> {
    std::str::from_utf8(v).ok()?.parse().ok()
}

impl<R: Read> TarReader<R> {
    pub(crate) fn new(r: R) -> Self {
        TarReader {
            r: BufReader::with_capacity(256 << 10, r),
            remaining: 0,
            pad: 0,
            done: false,
        }
    }

    /// Discards `n` bytes; an early end is an error.
    fn discard(&mut self, n: u64) -> Result<(), LayerError> {
        let copied =
            io::copy(&mut (&mut self.r).take(n), &mut io::sink()).map_err(LayerError::ReadLayer)?;
        if copied != n {
            return Err(truncated());
        }
        Ok(())
    }

    /// Reads a header block; `false` at a clean end of input.
    fn read_block(&mut self, block: &mut [u8; 512]) -> Result<bool, LayerError> {
        let mut got = 0;
        while got < block.len() {
            match self.r.read(&mut block[got..]) {
                Ok(0) if got == 0 => return Ok(false),
                Ok(0) => return Err(truncated()),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(LayerError::ReadLayer(e)),
            }
        }
        Ok(true)
    }

    fn read_payload(&mut self, size: u64, name: &[u8]) -> Result<Vec<u8>, LayerError> {
        if size > MAX_EXTENSION {
            return Err(bad(
                name,
                format!("extension header of {size} bytes is too large"),
            ));
        }
        let mut data = Vec::new();
        (&mut self.r)
            .take(size)
            .read_to_end(&mut data)
            .map_err(LayerError::ReadLayer)?;
        if data.len() as u64 != size {
            return Err(truncated());
        }
        self.discard(pad_of(size))?;
        Ok(data)
    }

    /// The next member (skipping the unread data of the previous one), or `None` at the end.
    pub(crate) fn next_member(&mut self) -> Result<Option<Member>, LayerError> {
        if self.done {
            return Ok(None);
        }
        self.discard(self.remaining)?;
        self.discard(self.pad)?;
        self.remaining = 0;
        self.pad = 0;
        let mut pax: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut extensions = 0usize;
        loop {
            let mut h = [0u8; 512];
            if !self.read_block(&mut h)? || h.iter().all(|b| *b == 0) {
                self.done = true;
                if extensions > 0 {
                    return Err(bad(b"", "extension headers at the end of the archive"));
                }
                return Ok(None);
            }
            let name_field = cstr(&h[0..100]);
            let stored = parse_num(&h[148..156])
                .ok_or_else(|| bad(&name_field, "bad header checksum field"))?;
            let unsigned: u64 = h
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    if (148..156).contains(&i) {
                        32
                    } else {
                        u64::from(*b)
                    }
                })
                .sum();
            let signed: i64 = h
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    if (148..156).contains(&i) {
                        32
                    } else {
                        i64::from(*b as i8)
                    }
                })
                .sum();
            if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
                return Err(bad(&name_field, "header checksum mismatch"));
            }
            let typeflag = if h[156] == 0 { b'0' } else { h[156] };
            let size = parse_num(&h[124..136]).ok_or_else(|| bad(&name_field, "bad size field"))?;
            if matches!(typeflag, b'x' | b'g' | b'L' | b'K') {
                extensions += 1;
                if extensions > MAX_EXTENSIONS {
                    return Err(bad(&name_field, "too many extension headers"));
                }
                let data = self.read_payload(size, &name_field)?;
                match typeflag {
                    b'x' => parse_pax(&data, &mut pax).map_err(|e| bad(&name_field, e))?,
                    // Global headers are validated and otherwise ignored (as Docker does).
                    b'g' => {
                        parse_pax(&data, &mut BTreeMap::new()).map_err(|e| bad(&name_field, e))?
                    }
                    b'L' => long_name = Some(cstr(&data)),
                    _ => long_link = Some(cstr(&data)),
                }
                continue;
            }

            let ustar = &h[257..263] == b"ustar\0";
            let gnu = &h[257..265] == b"ustar  \0";
            let mut path = name_field;
            if ustar {
                let prefix = cstr(&h[345..500]);
                if !prefix.is_empty() {
                    let mut p = prefix;
                    p.push(b'/');
                    p.extend_from_slice(&path);
                    path = p;
                }
            }
            let mut link = cstr(&h[157..257]);
            if let Some(n) = long_name.take() {
                path = n;
            }
            if let Some(l) = long_link.take() {
                link = l;
            }
            if let Some(p) = pax.remove("path").filter(|p| !p.is_empty()) {
                path = p;
            }
            if let Some(l) = pax.remove("linkpath").filter(|l| !l.is_empty()) {
                link = l;
            }
            let num = |range: std::ops::Range<usize>, what: &str| {
                parse_num(&h[range]).ok_or_else(|| bad(&path, format!("bad {what} field")))
            };
            let mode = num(100..108, "mode")?;
            let mut uid = num(108..116, "uid")?;
            let mut gid = num(116..124, "gid")?;
            let mut size = size;
            let header_mtime = num(136..148, "mtime")?;
            let mut mtime =
                i64::try_from(header_mtime).map_err(|_| bad(&path, "mtime out of range"))?;
            let (devmajor, devminor) = if ustar || gnu {
                (num(329..337, "devmajor")?, num(337..345, "devminor")?)
            } else {
                (0, 0)
            };
            let mut xattrs = BTreeMap::new();
            for (k, v) in pax {
                let field_err = || bad(&path, format!("bad PAX {k} record"));
                match k.as_str() {
                    "uid" => uid = parse_pax_u64(&v).ok_or_else(field_err)?,
                    "gid" => gid = parse_pax_u64(&v).ok_or_else(field_err)?,
                    "size" => size = parse_pax_u64(&v).ok_or_else(field_err)?,
                    "mtime" => mtime = parse_pax_time(&v).ok_or_else(field_err)?,
                    _ if k.starts_with("GNU.sparse.") => {
                        return Err(LayerError::Unsupported(format!(
                            "sparse file {:?} in layer",
                            String::from_utf8_lossy(&path)
                        )));
                    }
                    _ => {
                        if let Some(name) = k.strip_prefix("SCHILY.xattr.")
                            && !name.is_empty()
                        {
                            xattrs.insert(name.to_string(), v);
                        }
                    }
                }
            }
            if typeflag == b'S' {
                return Err(LayerError::Unsupported(format!(
                    "GNU sparse file {:?} in layer",
                    String::from_utf8_lossy(&path)
                )));
            }
            // Like Go's archive/tar: these types never have data, whatever the size field says.
            let data = if matches!(typeflag, b'1'..=b'6') {
                0
            } else {
                size
            };
            self.remaining = data;
            self.pad = pad_of(data);
            return Ok(Some(Member {
                path,
                link,
                typeflag,
                mode,
                uid,
                gid,
                size: data,
                mtime,
                devmajor,
                devminor,
                xattrs,
            }));
        }
    }

    /// A reader over the current member's data.
    pub(crate) fn data(&mut self) -> MemberData<'_, R> {
        MemberData { tar: self }
    }
}

/// Reads the current member's data; a truncated stream is an `UnexpectedEof` error.
pub(crate) struct MemberData<'a, R> {
    tar: &'a mut TarReader<R>,
}

impl<R: Read> Read for MemberData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tar.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.tar.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.tar.r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the tar stream is truncated",
            ));
        }
        self.tar.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_num(b"0000644\0"), Some(0o644));
        assert_eq!(parse_num(b"   644 \0"), Some(0o644));
        assert_eq!(parse_num(b"\0\0\0\0\0\0\0\0"), Some(0));
        assert_eq!(parse_num(b"0000089\0"), None);
        assert_eq!(parse_num(&[0x80, 0, 0, 0, 0, 0, 0x01, 0x00]), Some(256));
        assert_eq!(parse_num(&[0xff; 8]), None);
        assert_eq!(
            parse_num(&[
                0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ]),
            None
        );
    }

    #[test]
    fn pax_records_are_length_delimited() {
        let mut out = BTreeMap::new();
        parse_pax(b"29 SCHILY.xattr.user.a=x\ny\0z\n12 path=abc\n", &mut out).unwrap();
        assert_eq!(out["SCHILY.xattr.user.a"], b"x\ny\0z");
        assert_eq!(out["path"], b"abc");
        for bad in [
            &b"5 a=b\n"[..],
            b"99 a=b\n",
            b"x a=b\n",
            b"8 ab\nxx\n",
            b"7 a=bc",
        ] {
            assert!(
                parse_pax(bad, &mut BTreeMap::new()).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn block(name: &str, typeflag: u8, size: u64) -> Vec<u8> {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_entry_type(tar::EntryType::new(typeflag));
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        h.as_bytes().to_vec()
    }

    #[test]
    fn huge_pax_size_is_an_error_not_an_overflow() {
        let rec = b"29 size=18446744073709551615\n";
        let mut tar = block("x", b'x', rec.len() as u64);
        tar.extend_from_slice(rec);
        tar.resize(1024, 0);
        tar.extend(block("f", b'0', 0));
        let mut r = TarReader::new(tar.as_slice());
        let m = r.next_member().unwrap().unwrap();
        assert_eq!((m.path.as_slice(), m.size), (&b"f"[..], u64::MAX));
        assert!(r.next_member().is_err());
    }

    #[test]
    fn extension_without_member_and_bad_checksum() {
        let mut tar = block("x", b'L', 4);
        tar.extend_from_slice(b"abc\0");
        tar.resize(1024 + 1024, 0);
        assert!(TarReader::new(tar.as_slice()).next_member().is_err());
        let mut bad = block("f", b'0', 0);
        bad[0] = b'g';
        assert!(TarReader::new(bad.as_slice()).next_member().is_err());
    }

    #[test]
    fn pax_times() {
        assert_eq!(parse_pax_time(b"1700000000"), Some(1_700_000_000));
        assert_eq!(parse_pax_time(b"12.75"), Some(12));
        assert_eq!(parse_pax_time(b"-1.5"), Some(-2));
        assert_eq!(parse_pax_time(b"1e5"), None);
    }
}
