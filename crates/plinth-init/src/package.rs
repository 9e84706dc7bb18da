//! Runtime packages: `PACKAGE_URL` + `PACKAGE_SHA256` download an archive at start, verify it and
//! unpack it into `/application`, so one generic image can run many builds of an application.
//!
//! # Behaviour
//!
//! - `PACKAGE_URL` unset or empty: nothing happens.
//! - `PACKAGE_SHA256` is mandatory: plinth-init refuses to run unverified code. It is 64 hex digits,
//!   optionally prefixed with `sha256:` (e.g. the output of `sha256sum app.tar.gz`).
//! - URL schemes:
//!   - `http://host[:port]/path`: fetched by plinth-init itself (HTTP/1.1 GET; `Content-Length`,
//!     chunked, or read-until-close bodies; up to 5 redirects, to `http://` URLs only; 30 s connect
//!     and read timeouts);
//!   - `https://...`: fetched by running `curl -fsSL URL` or, if curl is absent, `wget -qO- URL`
//!     (one of them must be on `PATH`); the checksum makes the transport's integrity irrelevant;
//!   - `file:///path` or an absolute path `/path`: a file inside the container (e.g. a volume).
//! - The download goes to a temporary file next to the destination (at most 2 GiB) and its SHA-256
//!   is checked BEFORE anything is unpacked; a mismatch is an error showing both digests.
//! - The archive is a tar file, optionally gzip-compressed (detected from its content, not its
//!   name: `.tar`, `.tar.gz`, `.tgz` all work). Anything else (a single binary, a zip) is an error.
//! - Unpacking is safe: absolute entry paths, `..` components, symlinks pointing outside the
//!   destination (absolute or escaping with `..`), hard links to outside, writing through a
//!   symlink, and devices/fifos are all refused. Modes are kept without setuid/setgid bits;
//!   ownership and times are not restored.
//! - The archive is unpacked into a temporary directory next to the destination first, then its
//!   entries are moved in, merging into existing directories and replacing existing files; a bad
//!   archive therefore leaves the destination untouched.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// Largest download accepted.
const MAX_BYTES: u64 = 2 << 30;
/// Redirects followed for `http://`.
const MAX_REDIRECTS: usize = 5;
const TIMEOUT: Duration = Duration::from_secs(30);

/// What `PACKAGE_URL` / `PACKAGE_SHA256` ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRequest {
    /// `PACKAGE_URL`.
    pub url: String,
    /// `PACKAGE_SHA256`, as given (validated by [`install`]).
    pub sha256: Option<String>,
}

impl PackageRequest {
    /// The request from the environment; `None` when `PACKAGE_URL` is unset or empty.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Option<PackageRequest> {
        let url = get("PACKAGE_URL")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())?;
        let sha256 = get("PACKAGE_SHA256")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        Some(PackageRequest { url, sha256 })
    }
}

/// What [`install`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Size of the downloaded archive.
    pub bytes: u64,
    /// Regular files unpacked.
    pub files: u64,
    /// The verified SHA-256 (lowercase hex).
    pub sha256: String,
}

/// Why the package could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// `PACKAGE_SHA256` is missing.
    #[error(
        "PACKAGE_URL={url} is set but PACKAGE_SHA256 is not: plinth-init refuses to run unverified code; set PACKAGE_SHA256=<hex> (the output of `sha256sum` on the archive)"
    )]
    NoChecksum {
        /// The URL.
        url: String,
    },
    /// `PACKAGE_SHA256` is not 64 hex digits.
    #[error(
        "PACKAGE_SHA256={value:?} is not a SHA-256 digest; give 64 hex digits, optionally prefixed with sha256:"
    )]
    BadChecksum {
        /// The value given.
        value: String,
    },
    /// The download does not match `PACKAGE_SHA256`.
    #[error(
        "the package {url} does not match PACKAGE_SHA256: expected {expected}, got {actual}; nothing was unpacked (check the URL and the digest)"
    )]
    Mismatch {
        /// The URL.
        url: String,
        /// `PACKAGE_SHA256`.
        expected: String,
        /// The download's digest.
        actual: String,
    },
    /// A scheme plinth-init does not fetch.
    #[error(
        "PACKAGE_URL={url} is not supported; use http://, https://, file:// or an absolute path"
    )]
    UnsupportedUrl {
        /// The URL.
        url: String,
    },
    /// The HTTP download failed.
    #[error("cannot download {url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// https:// needs curl or wget.
    #[error(
        "cannot download {url}: https:// needs curl or wget on PATH and neither was found; install one in the image or use http:// (the checksum protects the content)"
    )]
    NoDownloader {
        /// The URL.
        url: String,
    },
    /// curl or wget failed.
    #[error("cannot download {url}: `{program}` failed ({status})")]
    Downloader {
        /// The URL.
        url: String,
        /// curl or wget.
        program: String,
        /// Its exit status.
        status: String,
    },
    /// Over 2 GiB.
    #[error("the package {url} is larger than 2 GiB; plinth-init does not download it")]
    TooLarge {
        /// The URL.
        url: String,
    },
    /// A file operation failed.
    #[error("package install: {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Neither a tar nor a gzip-compressed tar.
    #[error(
        "the package {url} is not a tar archive (plain or gzip-compressed); pack the application with `tar czf`"
    )]
    NotArchive {
        /// The URL.
        url: String,
    },
    /// The tar stream is corrupt.
    #[error("the package {url} is a corrupt archive: {source}; nothing was installed")]
    Archive {
        /// The URL.
        url: String,
        /// The cause.
        source: io::Error,
    },
    /// An entry that would write outside the destination or is not allowed.
    #[error("the package {url} has an unsafe entry {entry:?}: {reason}; nothing was installed")]
    Unsafe {
        /// The URL.
        url: String,
        /// The entry path.
        entry: String,
        /// Why it is refused.
        reason: String,
    },
    /// A directory in the destination would be replaced by a file (or the reverse).
    #[error(
        "the package would replace the directory {path} with a file (or a file with a directory); nothing was installed"
    )]
    Conflict {
        /// The destination path.
        path: PathBuf,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PackageError + '_ {
    move |source| PackageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A path removed on drop (temporary file or directory).
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.0.is_dir() {
            let _ = fs::remove_dir_all(&self.0);
        } else {
            let _ = fs::remove_file(&self.0);
        }
    }
}

fn parse_sha(value: &str) -> Option<String> {
    let hexs = value.strip_prefix("sha256:").unwrap_or(value);
    (hexs.len() == 64 && hexs.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hexs.to_ascii_lowercase())
}

/// Downloads, verifies and unpacks the package into `dest`.
pub fn install(req: &PackageRequest, dest: &Path) -> Result<Installed, PackageError> {
    let url = req.url.clone();
    let given = req
        .sha256
        .as_deref()
        .ok_or_else(|| PackageError::NoChecksum { url: url.clone() })?;
    let expected = parse_sha(given).ok_or_else(|| PackageError::BadChecksum {
        value: given.to_string(),
    })?;
    // The download and the staging directory live inside `dest` (hidden): the service user
    // can write there when it cannot write to `/`, and the final moves stay on one filesystem.
    fs::create_dir_all(dest).map_err(io_err(dest))?;
    let parent = dest.to_path_buf();
    let stem = format!(".plinth-package-{}", std::process::id());
    let tmp = TempPath(parent.join(format!("{stem}.download")));
    let _ = fs::remove_file(&tmp.0);
    download(&url, &tmp.0)?;

    let (bytes, actual) = hash_file(&tmp.0)?;
    if bytes > MAX_BYTES {
        return Err(PackageError::TooLarge { url });
    }
    if actual != expected {
        return Err(PackageError::Mismatch {
            url,
            expected,
            actual,
        });
    }

    let staging = TempPath(parent.join(format!("{stem}.unpack")));
    let _ = fs::remove_dir_all(&staging.0);
    fs::create_dir(&staging.0).map_err(io_err(&staging.0))?;
    let files = unpack(&url, &tmp.0, &staging.0)?;
    fs::create_dir_all(dest).map_err(io_err(dest))?;
    check_conflicts(&staging.0, dest)?;
    move_in(&staging.0, dest)?;
    Ok(Installed {
        bytes,
        files,
        sha256: actual,
    })
}

fn hash_file(path: &Path) -> Result<(u64, String), PackageError> {
    let mut f = File::open(path).map_err(io_err(path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        let r = f.read(&mut buf).map_err(io_err(path))?;
        if r == 0 {
            break;
        }
        n += r as u64;
        h.update(&buf[..r]);
    }
    Ok((n, hex::encode(h.finalize())))
}

fn download(url: &str, to: &Path) -> Result<(), PackageError> {
    let local = if let Some(rest) = url.strip_prefix("file://") {
        Some(rest.strip_prefix("localhost").unwrap_or(rest))
    } else if url.starts_with('/') {
        Some(url)
    } else {
        None
    };
    if let Some(p) = local {
        let p = Path::new(p);
        let size = fs::metadata(p).map_err(io_err(p))?.len();
        if size > MAX_BYTES {
            return Err(PackageError::TooLarge { url: url.into() });
        }
        fs::copy(p, to).map_err(io_err(p))?;
        return Ok(());
    }
    if url.starts_with("https://") {
        return download_external(url, to);
    }
    if url.starts_with("http://") {
        let mut out = File::create(to).map_err(io_err(to))?;
        return http_get(url, &mut out, to);
    }
    Err(PackageError::UnsupportedUrl { url: url.into() })
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

fn download_external(url: &str, to: &Path) -> Result<(), PackageError> {
    let (program, args): (PathBuf, &[&str]) = if let Some(p) = on_path("curl") {
        (p, &["-fsSL", "--max-filesize", "2147483648"])
    } else if let Some(p) = on_path("wget") {
        (p, &["-qO-"])
    } else {
        return Err(PackageError::NoDownloader { url: url.into() });
    };
    let out = File::create(to).map_err(io_err(to))?;
    let status = Command::new(&program)
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(out)
        .status()
        .map_err(io_err(&program))?;
    if status.success() {
        Ok(())
    } else {
        Err(PackageError::Downloader {
            url: url.into(),
            program: program.display().to_string(),
            status: status.to_string(),
        })
    }
}

/// `http://host[:port]/path` → (host, port, path, host header).
fn split_http(url: &str) -> Option<(String, u16, String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes().get(i) == Some(&b'/') => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    let path = path.split('#').next().unwrap_or("/").to_string();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(h) = authority.strip_prefix('[') {
        let (h, after) = h.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => 80,
            None => return None,
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), 80),
        }
    };
    Some((host, port, path, authority.to_string()))
}

fn http_get(url: &str, out: &mut File, out_path: &Path) -> Result<(), PackageError> {
    let mut current = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let fail = |reason: String| PackageError::Http {
            url: current.clone(),
            reason,
        };
        let (host, port, path, authority) =
            split_http(&current).ok_or_else(|| fail("not a valid http:// URL".into()))?;
        let addrs: Vec<_> = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| fail(format!("cannot resolve {host}: {e}")))?
            .collect();
        let mut last = None;
        let mut stream = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let mut stream = stream.ok_or_else(|| {
            fail(match last {
                Some(e) => format!("cannot connect to {authority}: {e}"),
                None => format!("{host} has no address"),
            })
        })?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
            .map_err(|e| fail(e.to_string()))?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: plinth-init\r\nAccept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| fail(format!("cannot send the request: {e}")))?;
        let mut r = BufReader::new(stream);
        let status_line = read_line(&mut r).map_err(|e| fail(format!("bad response: {e}")))?;
        let code: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .filter(|_| status_line.starts_with("HTTP/"))
            .ok_or_else(|| fail(format!("bad status line {status_line:?}")))?;
        let mut length = None;
        let mut chunked = false;
        let mut location = None;
        loop {
            let line = read_line(&mut r).map_err(|e| fail(format!("bad response: {e}")))?;
            if line.is_empty() {
                break;
            }
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let v = v.trim();
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => {
                    length = Some(
                        v.parse::<u64>()
                            .map_err(|_| fail(format!("bad Content-Length {v:?}")))?,
                    )
                }
                "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
                "location" => location = Some(v.to_string()),
                _ => {}
            }
        }
        match code {
            200 => {}
            301 | 302 | 303 | 307 | 308 => {
                let loc =
                    location.ok_or_else(|| fail(format!("redirect {code} without Location")))?;
                current = if loc.starts_with('/') {
                    format!("http://{authority}{loc}")
                } else if loc.starts_with("http://") {
                    loc
                } else {
                    return Err(fail(format!(
                        "redirects to {loc}, which plinth-init does not follow (http:// only); set PACKAGE_URL to the final URL"
                    )));
                };
                continue;
            }
            _ => return Err(fail(format!("the server answered {}", status_line.trim()))),
        }
        if length.is_some_and(|n| n > MAX_BYTES) {
            return Err(PackageError::TooLarge { url: current });
        }
        let res = if chunked {
            copy_chunked(&mut r, out)
        } else if let Some(n) = length {
            copy_capped(&mut (&mut r).take(n), out).and_then(|got| {
                if got < n {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the body ended after {got} of {n} bytes"),
                    ))
                } else {
                    Ok(())
                }
            })
        } else {
            copy_capped(&mut r, out).map(|_| ())
        };
        return res.map_err(|e| {
            if e.kind() == io::ErrorKind::FileTooLarge {
                PackageError::TooLarge {
                    url: current.clone(),
                }
            } else if e.kind() == io::ErrorKind::WriteZero || e.kind() == io::ErrorKind::StorageFull
            {
                PackageError::Io {
                    path: out_path.to_path_buf(),
                    source: e,
                }
            } else {
                fail(e.to_string())
            }
        });
    }
    Err(PackageError::Http {
        url: url.into(),
        reason: format!("more than {MAX_REDIRECTS} redirects"),
    })
}

/// One header line without CRLF (at most 16 KiB).
fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut buf = Vec::new();
    r.take(16 * 1024).read_until(b'\n', &mut buf)?;
    if !buf.ends_with(b"\n") {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the connection closed mid-header",
        ));
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn copy_capped(r: &mut impl Read, out: &mut File) -> io::Result<u64> {
    let n = io::copy(&mut r.take(MAX_BYTES + 1), out)?;
    if n > MAX_BYTES {
        return Err(io::Error::new(io::ErrorKind::FileTooLarge, "over 2 GiB"));
    }
    Ok(n)
}

fn copy_chunked(r: &mut impl BufRead, out: &mut File) -> io::Result<()> {
    let mut total = 0u64;
    loop {
        let line = read_line(r)?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size_hex, 16).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad chunk size {size_hex:?}"),
            )
        })?;
        if size == 0 {
            // Trailers until the empty line.
            while !read_line(r)?.is_empty() {}
            return Ok(());
        }
        total = total.saturating_add(size);
        if total > MAX_BYTES {
            return Err(io::Error::new(io::ErrorKind::FileTooLarge, "over 2 GiB"));
        }
        let got = io::copy(&mut r.take(size), out)?;
        if got < size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the body ended inside a chunk",
            ));
        }
        if !read_line(r)?.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a chunk is longer than its size",
            ));
        }
    }
}

/// A relative path with only normal components, or why not.
fn safe_relative(raw: &[u8]) -> Result<PathBuf, String> {
    let s = String::from_utf8_lossy(raw);
    if s.starts_with('/') {
        return Err("absolute paths are not allowed".into());
    }
    let mut out = PathBuf::new();
    for c in Path::new(s.as_ref()).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => return Err("`..` components are not allowed".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute paths are not allowed".into());
            }
        }
    }
    Ok(out)
}

/// Refuses when an existing ancestor of `rel` inside `root` is a symlink (writing through it).
fn no_symlink_ancestors(root: &Path, rel: &Path) -> Result<(), String> {
    let mut p = root.to_path_buf();
    let mut comps: Vec<_> = rel.components().collect();
    comps.pop();
    for c in comps {
        p.push(c);
        if fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err("it would write through a symlink".into());
        }
    }
    Ok(())
}

fn unpack(url: &str, archive: &Path, staging: &Path) -> Result<u64, PackageError> {
    let mut f = File::open(archive).map_err(io_err(archive))?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(io_err(archive))?;
    drop(f);
    let f = File::open(archive).map_err(io_err(archive))?;
    let reader: Box<dyn Read> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(BufReader::new(f)))
    } else {
        Box::new(BufReader::new(f))
    };
    // Read the first header to check the ustar magic, then hand the whole stream to tar.
    let mut reader = reader;
    let mut first = Vec::with_capacity(512);
    (&mut reader)
        .take(512)
        .read_to_end(&mut first)
        .map_err(|source| PackageError::Archive {
            url: url.into(),
            source,
        })?;
    if first.get(257..262) != Some(b"ustar".as_slice()) {
        return Err(PackageError::NotArchive { url: url.into() });
    }
    let stream = io::Cursor::new(first).chain(reader);
    let mut ar = tar::Archive::new(stream);
    let bad = |source| PackageError::Archive {
        url: url.into(),
        source,
    };
    let mut files = 0u64;
    for entry in ar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let unsafe_entry = |reason: String| PackageError::Unsafe {
            url: url.into(),
            entry: name.clone(),
            reason,
        };
        let ty = entry.header().entry_type();
        if ty.is_pax_global_extensions()
            || ty.is_pax_local_extensions()
            || ty.is_gnu_longname()
            || ty.is_gnu_longlink()
        {
            continue;
        }
        let rel = safe_relative(&raw).map_err(unsafe_entry)?;
        if rel.as_os_str().is_empty() {
            continue;
        }
        no_symlink_ancestors(staging, &rel).map_err(unsafe_entry)?;
        let target = staging.join(&rel);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let existing = fs::symlink_metadata(&target).ok();
        if existing
            .as_ref()
            .is_some_and(|m| m.file_type().is_symlink())
        {
            return Err(unsafe_entry("it would write through a symlink".into()));
        }
        let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
        if ty.is_dir() {
            if existing.as_ref().is_some_and(|m| !m.is_dir()) {
                return Err(unsafe_entry(
                    "a file and a directory have the same name".into(),
                ));
            }
            fs::create_dir_all(&target).map_err(io_err(&target))?;
            fs::set_permissions(&target, fs::Permissions::from_mode(mode | 0o700))
                .map_err(io_err(&target))?;
        } else if ty.is_file() || ty == tar::EntryType::Continuous {
            if existing.as_ref().is_some_and(|m| m.is_dir()) {
                return Err(unsafe_entry(
                    "a file and a directory have the same name".into(),
                ));
            }
            let _ = fs::remove_file(&target);
            let mut out = File::create(&target).map_err(io_err(&target))?;
            io::copy(&mut entry, &mut out).map_err(bad)?;
            fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                .map_err(io_err(&target))?;
            files += 1;
        } else if ty.is_symlink() {
            let link = entry
                .link_name_bytes()
                .map(|l| l.into_owned())
                .unwrap_or_default();
            let link_s = String::from_utf8_lossy(&link).into_owned();
            if link_s.starts_with('/') {
                return Err(unsafe_entry(format!(
                    "its symlink target {link_s:?} is absolute"
                )));
            }
            // Resolve the target lexically from the link's directory; it must stay inside.
            let mut depth = rel.components().count() as i64 - 1;
            for c in Path::new(&link_s).components() {
                match c {
                    Component::ParentDir => depth -= 1,
                    Component::Normal(_) => depth += 1,
                    _ => {}
                }
                if depth < 0 {
                    return Err(unsafe_entry(format!(
                        "its symlink target {link_s:?} points outside the package"
                    )));
                }
            }
            if existing.is_some() {
                return Err(unsafe_entry(
                    "it replaces an earlier entry with a symlink".into(),
                ));
            }
            std::os::unix::fs::symlink(&link_s, &target).map_err(io_err(&target))?;
        } else if ty.is_hard_link() {
            let link = entry
                .link_name_bytes()
                .map(|l| l.into_owned())
                .unwrap_or_default();
            let src_rel = safe_relative(&link)
                .map_err(|r| unsafe_entry(format!("its hard link target: {r}")))?;
            no_symlink_ancestors(staging, &src_rel).map_err(unsafe_entry)?;
            let src = staging.join(&src_rel);
            let meta = fs::symlink_metadata(&src).map_err(|_| {
                unsafe_entry("its hard link target is not an earlier file of the package".into())
            })?;
            if !meta.is_file() {
                return Err(unsafe_entry(
                    "its hard link target is not a regular file".into(),
                ));
            }
            if existing.is_some() {
                let _ = fs::remove_file(&target);
            }
            fs::hard_link(&src, &target).map_err(io_err(&target))?;
            files += 1;
        } else {
            return Err(unsafe_entry(format!(
                "entry type {ty:?} is not allowed (only files, directories and links)"
            )));
        }
    }
    Ok(files)
}

/// Refuses before moving anything when a directory would meet a non-directory.
fn check_conflicts(from: &Path, to: &Path) -> Result<(), PackageError> {
    for e in fs::read_dir(from).map_err(io_err(from))? {
        let e = e.map_err(io_err(from))?;
        let src = e.path();
        let dst = to.join(e.file_name());
        let src_dir = fs::symlink_metadata(&src).map_err(io_err(&src))?.is_dir();
        let Ok(dm) = fs::symlink_metadata(&dst) else {
            continue;
        };
        match (src_dir, dm.is_dir()) {
            (true, true) => check_conflicts(&src, &dst)?,
            (false, true) => return Err(PackageError::Conflict { path: dst }),
            _ => {}
        }
    }
    Ok(())
}

/// Moves the staged entries into `to`, merging directories and replacing files and symlinks.
fn move_in(from: &Path, to: &Path) -> Result<(), PackageError> {
    for e in fs::read_dir(from).map_err(io_err(from))? {
        let e = e.map_err(io_err(from))?;
        let src = e.path();
        let dst = to.join(e.file_name());
        let src_dir = fs::symlink_metadata(&src).map_err(io_err(&src))?.is_dir();
        match fs::symlink_metadata(&dst) {
            Ok(dm) if dm.is_dir() && src_dir => move_in(&src, &dst)?,
            Ok(dm) if dm.is_dir() => return Err(PackageError::Conflict { path: dst }),
            Ok(_) => {
                fs::remove_file(&dst).map_err(io_err(&dst))?;
                fs::rename(&src, &dst).map_err(io_err(&dst))?;
            }
            Err(_) => fs::rename(&src, &dst).map_err(io_err(&dst))?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    /// A tiny HTTP server: path → raw response bytes. Serves until the test ends.
    fn serve(routes: BTreeMap<String, Vec<u8>>) -> (String, Arc<Mutex<Vec<String>>>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                let Ok(first) = read_line(&mut r) else {
                    continue;
                };
                while read_line(&mut r).is_ok_and(|l| !l.is_empty()) {}
                let path = first.split_whitespace().nth(1).unwrap_or("").to_string();
                seen2.lock().expect("lock").push(path.clone());
                let resp = routes.get(&path).cloned().unwrap_or_else(|| {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec()
                });
                let _ = s.write_all(&resp);
            }
        });
        (format!("http://{addr}"), seen)
    }

    fn ok_response(body: &[u8]) -> Vec<u8> {
        let mut v =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        v.extend_from_slice(body);
        v
    }

    fn chunked_response(body: &[u8]) -> Vec<u8> {
        let mut v = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for c in body.chunks(1000) {
            v.extend_from_slice(format!("{:x};ext=1\r\n", c.len()).as_bytes());
            v.extend_from_slice(c);
            v.extend_from_slice(b"\r\n");
        }
        v.extend_from_slice(b"0\r\n\r\n");
        v
    }

    fn redirect(to: &str) -> Vec<u8> {
        format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n").into_bytes()
    }

    fn tar_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o755);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, name, *data).expect("append");
        }
        b.into_inner().expect("finish")
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).expect("gz");
        e.finish().expect("gz finish")
    }

    /// A tar with one raw entry whose name (and link name) bypass the tar crate's own checks.
    fn raw_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, ty, link, data) in entries {
            let mut h = tar::Header::new_ustar();
            {
                let old = h.as_old_mut();
                old.name[..name.len()].copy_from_slice(name.as_bytes());
                old.linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
            h.set_entry_type(*ty);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.resize(out.len() + 1024, 0);
        out
    }

    fn sha(data: &[u8]) -> String {
        hex::encode(Sha256::digest(data))
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    fn req(url: String, sha256: Option<String>) -> PackageRequest {
        PackageRequest { url, sha256 }
    }

    #[test]
    fn from_env_reads_both_and_ignores_empty() {
        let env = |k: &str| match k {
            "PACKAGE_URL" => Some("http://x/p.tgz".to_string()),
            "PACKAGE_SHA256" => Some(String::new()),
            _ => None,
        };
        assert_eq!(
            PackageRequest::from_env(env),
            Some(req("http://x/p.tgz".into(), None))
        );
        assert_eq!(PackageRequest::from_env(|_| Some(String::new())), None);
    }

    #[test]
    fn good_checksum_over_http_unpacks_and_keeps_existing_files() {
        let archive = gz(&tar_bytes(&[
            ("bin/app", b"#!/bin/sh\necho hi\n"),
            ("./README", b"readme"),
        ]));
        let (base, _) = serve(BTreeMap::from([(
            "/app.tgz".to_string(),
            ok_response(&archive),
        )]));
        let t = tempfile::tempdir().expect("tempdir");
        let dest = t.path().join("application");
        fs::create_dir_all(dest.join("bin")).expect("mkdir");
        fs::write(dest.join("env.toml"), "kept").expect("write");
        fs::write(dest.join("README"), "old").expect("write");
        let got = install(
            &req(
                format!("{base}/app.tgz"),
                Some(format!("sha256:{}", sha(&archive).to_uppercase())),
            ),
            &dest,
        )
        .expect("install");
        assert_eq!(got.files, 2);
        assert_eq!(got.bytes, archive.len() as u64);
        assert_eq!(got.sha256, sha(&archive));
        assert_eq!(
            fs::read_to_string(dest.join("README")).expect("read"),
            "readme"
        );
        assert_eq!(
            fs::read_to_string(dest.join("env.toml")).expect("read"),
            "kept"
        );
        let mode = fs::metadata(dest.join("bin/app"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            listing(t.path()),
            ["application"],
            "no temporary files left"
        );
    }

    #[test]
    fn bad_checksum_leaves_dest_untouched_and_no_checksum_is_refused() {
        let archive = gz(&tar_bytes(&[("x", b"x")]));
        let (base, seen) = serve(BTreeMap::from([(
            "/a.tgz".to_string(),
            ok_response(&archive),
        )]));
        let t = tempfile::tempdir().expect("tempdir");
        let dest = t.path().join("app");
        fs::create_dir(&dest).expect("mkdir");
        let wrong = "0".repeat(64);
        let e = install(&req(format!("{base}/a.tgz"), Some(wrong.clone())), &dest)
            .expect_err("mismatch");
        let m = e.to_string();
        assert!(m.contains(&wrong) && m.contains(&sha(&archive)), "{m}");
        assert!(listing(&dest).is_empty());
        assert_eq!(listing(t.path()), ["app"]);

        let e = install(&req(format!("{base}/a.tgz"), None), &dest).expect_err("no checksum");
        assert!(matches!(e, PackageError::NoChecksum { .. }), "{e}");
        assert!(e.to_string().contains("PACKAGE_SHA256="), "{e}");
        let e = install(&req(format!("{base}/a.tgz"), Some("abc".into())), &dest)
            .expect_err("bad format");
        assert!(matches!(e, PackageError::BadChecksum { .. }), "{e}");
        assert_eq!(
            seen.lock().expect("lock").len(),
            1,
            "refused before downloading"
        );
    }

    #[test]
    fn chunked_and_redirects() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let archive = gz(&tar_bytes(&[("data.bin", &data)]));
        let (base, _) = serve(BTreeMap::from([
            ("/pkg".to_string(), chunked_response(&archive)),
            ("/r1".to_string(), redirect("/r2")),
            ("/r2".to_string(), redirect("/pkg")),
            ("/loop".to_string(), redirect("/loop")),
            ("/tls".to_string(), redirect("ftp://elsewhere/x")),
        ]));
        let t = tempfile::tempdir().expect("tempdir");
        let dest = t.path().join("app");
        let sum = Some(sha(&archive));
        install(&req(format!("{base}/r1"), sum.clone()), &dest)
            .expect("redirected chunked install");
        assert_eq!(fs::read(dest.join("data.bin")).expect("read"), data);

        let e = install(&req(format!("{base}/loop"), sum.clone()), &dest).expect_err("loop");
        assert!(e.to_string().contains("more than 5 redirects"), "{e}");
        let e = install(&req(format!("{base}/tls"), sum.clone()), &dest).expect_err("other scheme");
        assert!(e.to_string().contains("ftp://elsewhere/x"), "{e}");
        let e = install(&req(format!("{base}/missing"), sum), &dest).expect_err("404");
        assert!(e.to_string().contains("404"), "{e}");
    }

    #[test]
    fn escaping_archives_are_refused_and_dest_untouched() {
        use tar::EntryType as T;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("..", raw_tar(&[("../evil", T::Regular, "", b"x")])),
            ("absolute", raw_tar(&[("/etc/evil", T::Regular, "", b"x")])),
            (
                "outside",
                raw_tar(&[("link", T::Symlink, "../../etc", b"")]),
            ),
            ("absolute", raw_tar(&[("link", T::Symlink, "/etc", b"")])),
            (
                "through a symlink",
                raw_tar(&[
                    ("link", T::Symlink, "sub", b""),
                    ("link/f", T::Regular, "", b"x"),
                ]),
            ),
            ("..", raw_tar(&[("hard", T::Link, "../../etc/passwd", b"")])),
            ("not allowed", raw_tar(&[("fifo", T::Fifo, "", b"")])),
        ];
        let t = tempfile::tempdir().expect("tempdir");
        let dest = t.path().join("app");
        fs::create_dir(&dest).expect("mkdir");
        fs::write(dest.join("keep"), "k").expect("write");
        for (want, archive) in cases {
            let src = t.path().join("p.tar.gz");
            let archive = gz(&archive);
            fs::write(&src, &archive).expect("write");
            let e = install(&req(src.display().to_string(), Some(sha(&archive))), &dest)
                .expect_err(want);
            assert!(
                matches!(e, PackageError::Unsafe { .. }) && e.to_string().contains(want),
                "{want}: {e}"
            );
            assert_eq!(listing(&dest), ["keep"]);
            assert_eq!(listing(t.path()), ["app", "p.tar.gz"]);
        }
        // An in-package relative symlink is fine.
        let ok = raw_tar(&[
            ("sub/f", T::Regular, "", b"x"),
            ("link", T::Symlink, "sub/f", b""),
        ]);
        let src = t.path().join("ok.tar");
        fs::write(&src, &ok).expect("write");
        install(
            &req(format!("file://{}", src.display()), Some(sha(&ok))),
            &dest,
        )
        .expect("plain tar via file://");
        assert_eq!(
            fs::read_to_string(dest.join("link")).expect("through link"),
            "x"
        );
    }

    #[test]
    fn external_downloader_runs_and_its_failure_is_reported() {
        // curl and wget both read file:// URLs: this runs the real program the https:// path uses.
        if on_path("curl").is_none() && on_path("wget").is_none() {
            return;
        }
        let t = tempfile::tempdir().expect("tempdir");
        let src = t.path().join("src.bin");
        fs::write(&src, b"payload").expect("write");
        let to = t.path().join("out");
        download_external(&format!("file://{}", src.display()), &to).expect("download");
        assert_eq!(fs::read(&to).expect("read"), b"payload");
        let e = download_external(&format!("file://{}/missing", t.path().display()), &to)
            .expect_err("missing file");
        assert!(matches!(e, PackageError::Downloader { .. }), "{e}");
    }

    #[test]
    fn non_archive_is_an_error() {
        let t = tempfile::tempdir().expect("tempdir");
        let src = t.path().join("binary");
        let data = b"\x7fELF not an archive at all".repeat(40);
        fs::write(&src, &data).expect("write");
        let dest = t.path().join("app");
        let e = install(&req(src.display().to_string(), Some(sha(&data))), &dest)
            .expect_err("not archive");
        assert!(matches!(e, PackageError::NotArchive { .. }), "{e}");
        let gzd = gz(&data);
        fs::write(&src, &gzd).expect("write");
        let e = install(&req(src.display().to_string(), Some(sha(&gzd))), &dest)
            .expect_err("gz not archive");
        assert!(matches!(e, PackageError::NotArchive { .. }), "{e}");
        let e = install(&req("ftp://x/y".into(), Some(sha(&gzd))), &dest).expect_err("scheme");
        assert!(matches!(e, PackageError::UnsupportedUrl { .. }), "{e}");
    }
}
