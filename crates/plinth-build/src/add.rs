//! `ADD`: local tar archives extracted into the destination, remote files downloaded, git
//! repositories checked out — everything else is `COPY` ([`crate::context`]).
//!
//! BuildKit's rules, followed here:
//! - a local source (after wildcard expansion) that is a regular file whose content is a tar
//!   archive — plain, gzip, bzip2, xz or zstd, recognized by magic bytes and a valid first tar
//!   header, never by name — is extracted into `dest`, which is then a directory whatever its
//!   spelling. Entry names are cleaned; one that climbs out (`../x`) is an error. Missing parent
//!   directories are created 0755 and owned by 0:0; entries keep the archive's modes and mtimes
//!   (`--chmod` does not apply); `--chown` replaces every entry's owner, otherwise the archive's
//!   numeric owners are kept. Symlinks inside the archive are followed for later entries, within
//!   the extraction root. Devices and fifos are rejected, as BuildKit does;
//! - a remote URL (`http://`, `https://`) is downloaded (redirects followed, TLS verified) and
//!   never extracted: a file named after the URL path's last segment (`__unnamed__` when there is
//!   none), mode 0600, owner 0:0 unless `--chown`, mtime from `Last-Modified` (else the epoch 0);
//!   `--checksum=sha256:...` is verified; without it an [`AddWarning::UnpinnedUrl`] is returned;
//! - a git URL (`https://host/repo.git#ref:subdir`, `git@host:repo#ref`, `git://`, `ssh://`) is
//!   checked out with the `git` command (shallow when it can) and its content copied into `dest`;
//!   `.git` is left out unless `--keep-git-dir`. File mtimes are SOURCE_DATE_EPOCH (a checkout's
//!   disk mtimes are only the checkout time).
//!
//! Extracted and downloaded content goes to files in a scratch directory the caller owns and
//! keeps until the layer is written; nothing is written anywhere else.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use plinth_dockerfile::dockerignore::{self, Dockerignore};
use plinth_oci::Digest;
use plinth_oci::layer::{EntryKind, FileSource, LayerEntry};
use sha2::{Digest as _, Sha256};

use crate::context::{
    self, ContextError, CopyOptions, CopyTarget, DestFs, DestNode, DestWriter, Mtimes, Ownership,
    SourceTree,
};

/// Files at most this large are kept in memory; larger ones are written to the scratch directory.
const INLINE_LIMIT: u64 = 256 * 1024;

/// Errors of `ADD`.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error("checksum can't be specified for multiple sources")]
    ChecksumMultipleSources,
    #[error("checksum can't be specified for non-HTTP(S) sources")]
    ChecksumNotHttp,
    #[error("invalid checksum {0:?}: expected sha256:<64 hex digits>")]
    BadChecksum(String),
    #[error("digest mismatch for {url}: {actual} (expected: {expected})")]
    ChecksumMismatch {
        url: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("failed to download {url}: invalid response status {status}")]
    HttpStatus { url: String, status: u16 },
    #[error("failed to download {url}: {message}")]
    Http { url: String, message: String },
    #[error("archive path {name:?} is outside extraction root")]
    ArchiveEscape { name: String },
    #[error("archive symlink {name:?} points outside extraction root")]
    ArchiveSymlinkEscape { name: String },
    #[error(
        "archive hardlink {name:?} targets {target:?}, which is not an earlier file of the archive"
    )]
    ArchiveHardlink { name: String, target: String },
    #[error("unsupported tar entry {name:?} type {kind}")]
    ArchiveEntryType { name: String, kind: u8 },
    #[error("reading archive {}: {source}", archive.display())]
    Archive { archive: PathBuf, source: io::Error },
    #[error("git {args}: {stderr}")]
    Git { args: String, stderr: String },
    #[error("running git: {0}")]
    GitSpawn(io::Error),
    #[error("invalid git source {0:?}")]
    BadGitRef(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Something worth telling the user that does not stop the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddWarning {
    /// A remote file added without `--checksum`: its content may change between builds.
    UnpinnedUrl { url: String },
}

impl std::fmt::Display for AddWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AddWarning::UnpinnedUrl { url } => {
                write!(
                    f,
                    "ADD {url} has no --checksum: its content is not pinned and may change between builds"
                )
            }
        }
    }
}

/// Whether `ADD` of a git repository keeps its `.git` directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GitDir {
    #[default]
    Remove,
    Keep,
}

/// An `ADD` instruction, ready to plan.
#[derive(Debug, Clone, Default)]
pub struct AddRequest {
    /// Sources as written (after variable expansion): paths, URLs or git references.
    pub sources: Vec<String>,
    pub dest: String,
    /// The current WORKDIR (absolute; `/` when unset).
    pub workdir: String,
    /// `--chown`, `--chmod`, `--exclude` (`parents` is COPY-only and ignored here).
    pub options: CopyOptions,
    /// `--checksum`.
    pub checksum: Option<String>,
    /// `--keep-git-dir`.
    pub git_dir: GitDir,
}

/// Where `ADD` reads from and writes to.
pub struct AddEnv<'a> {
    /// The build context (or the stage given with `--from`).
    pub tree: &'a SourceTree,
    /// The image being built.
    pub dest: &'a dyn DestFs,
    /// A directory for extracted, downloaded and checked-out content; it must outlive the layer.
    pub scratch: &'a Path,
    /// Timeout of one whole download.
    pub http_timeout: Duration,
}

/// The result of planning an `ADD`.
#[derive(Debug)]
pub struct AddOutput {
    /// The layer entries, sorted by path.
    pub entries: Vec<LayerEntry>,
    pub warnings: Vec<AddWarning>,
}

/// Plans an `ADD`.
pub fn plan_add(req: &AddRequest, env: &AddEnv<'_>) -> Result<AddOutput, AddError> {
    let expected = match &req.checksum {
        None => None,
        Some(c) => {
            if req.sources.len() != 1 {
                return Err(AddError::ChecksumMultipleSources);
            }
            if !is_http_source(&req.sources[0]) || parse_git_ref(&req.sources[0]).is_some() {
                return Err(AddError::ChecksumNotHttp);
            }
            Some(
                c.parse::<Digest>()
                    .map_err(|_| AddError::BadChecksum(c.clone()))?,
            )
        }
    };
    let exclude =
        Dockerignore::from_patterns(&req.options.exclude).map_err(ContextError::Exclude)?;
    let target = CopyTarget::new(&req.dest, &req.workdir);
    let mut w = DestWriter::new(env.dest, req.options.chown);
    let mut warnings = Vec::new();
    let scratch = Scratch::new(env.scratch);
    let opts = CopyOptions {
        parents: false,
        ..req.options.clone()
    };
    for src in &req.sources {
        if let Some(git) = parse_git_ref(src) {
            add_git(&mut w, &git, req.git_dir, &target, &opts, &scratch)?;
        } else if is_http_source(src) {
            if expected.is_none() {
                warnings.push(AddWarning::UnpinnedUrl { url: src.clone() });
            }
            let dl = download(src, expected.as_ref(), &scratch, env.http_timeout)?;
            context::place_host_file(
                &mut w,
                &dl.name,
                dl.path,
                0o600,
                Some(dl.mtime),
                &target,
                &opts,
            )?;
        } else {
            let expanded = context::expand_source(env.tree, src, &opts, &exclude)?;
            for m in &expanded.matches {
                if let Some(host) = m.regular_file(env.tree)
                    && is_archive(&host)?
                {
                    extract_archive(&mut w, &host, &target.dest, req.options.chown, &scratch)?;
                } else {
                    context::copy_match(&mut w, env.tree, m, None, &target, &opts, &exclude)?;
                }
            }
        }
    }
    Ok(AddOutput {
        entries: w.finish(),
        warnings,
    })
}

/// Whether a source is an HTTP(S) URL (BuildKit's `isHTTPSource`).
pub fn is_http_source(src: &str) -> bool {
    src.starts_with("http://") || src.starts_with("https://")
}

// ---------------------------------------------------------------------------------------------
// Scratch files
// ---------------------------------------------------------------------------------------------

/// Names files in the caller's scratch directory; only names it makes itself are ever used.
struct Scratch<'a> {
    dir: &'a Path,
    next: AtomicU64,
}

impl<'a> Scratch<'a> {
    fn new(dir: &'a Path) -> Scratch<'a> {
        Scratch {
            dir,
            next: AtomicU64::new(0),
        }
    }

    /// A new, not yet existing path in the scratch directory.
    fn fresh(&self, what: &str) -> PathBuf {
        loop {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let p = self
                .dir
                .join(format!("plinth-add-{}-{what}-{n}", std::process::id()));
            if std::fs::symlink_metadata(&p).is_err() {
                return p;
            }
        }
    }

    /// Creates a new file (never overwriting anything).
    fn create(&self, what: &str) -> io::Result<(PathBuf, fs_err::File)> {
        loop {
            let p = self.fresh(what);
            match fs_err::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p)
            {
                Ok(f) => return Ok((p, f)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Archives
// ---------------------------------------------------------------------------------------------

/// A compression format recognized by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveCompression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

/// The compression of a stream starting with `head` (BuildKit's `DetectCompression`).
pub fn detect_compression(head: &[u8]) -> ArchiveCompression {
    if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        ArchiveCompression::Gzip
    } else if head.starts_with(b"BZh") {
        ArchiveCompression::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        ArchiveCompression::Xz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        ArchiveCompression::Zstd
    } else {
        ArchiveCompression::None
    }
}

/// Opens `path` decompressed according to its magic bytes.
fn open_decompressed(path: &Path) -> io::Result<Box<dyn Read>> {
    let mut f = BufReader::new(fs_err::File::open(path)?);
    let head = f.fill_buf()?.to_vec();
    Ok(match detect_compression(&head) {
        ArchiveCompression::None => Box::new(f),
        ArchiveCompression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(f)),
        ArchiveCompression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(f)),
        ArchiveCompression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(f)),
        ArchiveCompression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(f)?),
    })
}

/// Whether `path` (a regular file) is a tar archive: after decompression, its first tar header
/// reads (BuildKit's `isArchivePath`). An empty tar (only the end marker) is not an archive.
pub fn is_archive(path: &Path) -> io::Result<bool> {
    let reader = match open_decompressed(path) {
        Ok(r) => r,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
        Err(_) => return Ok(false),
    };
    let mut archive = tar::Archive::new(reader);
    let Ok(mut entries) = archive.entries() else {
        return Ok(false);
    };
    Ok(matches!(entries.next(), Some(Ok(_))))
}

/// Extracts the archive at `archive` into the directory `dest` (image path, relative) of `w`.
fn extract_archive(
    w: &mut DestWriter<'_>,
    archive: &Path,
    dest: &str,
    chown: Option<context::Owner>,
    scratch: &Scratch<'_>,
) -> Result<(), AddError> {
    let wrap = |source: io::Error| AddError::Archive {
        archive: archive.to_path_buf(),
        source,
    };
    let root = w.mkdir_all(dest)?;
    let reader = open_decompressed(archive).map_err(wrap)?;
    let mut ar = tar::Archive::new(reader);
    // Paths (relative to the extraction root) of regular files this archive wrote, for hardlinks.
    let mut written: BTreeMap<String, ()> = BTreeMap::new();
    for entry in ar.entries().map_err(wrap)? {
        let mut entry = entry.map_err(wrap)?;
        let header = entry.header().clone();
        let kind = header.entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(name) = clean_archive_path(&raw_name)? else {
            continue;
        };
        let follow_leaf = kind == tar::EntryType::Directory;
        let rel = resolve_in_root(w, &root, &name, follow_leaf)?;
        if rel.is_empty() {
            continue;
        }
        let full = join(&root, &rel);

        // Missing parents inside the extraction root: 0755, owned by root (not the --chown user).
        let mut cur = root.clone();
        for comp in parent_of(&rel).split('/').filter(|c| !c.is_empty()) {
            cur = join(&cur, comp);
            match w.lookup(&cur) {
                Some(DestNode::Dir) => {}
                None => w.put(LayerEntry::new(cur.clone(), EntryKind::Dir, 0o755, 0, 0)),
                Some(_) => return Err(ContextError::MkdirNotADirectory { path: cur }.into()),
            }
        }

        let (uid, gid) = match chown {
            Some(o) => (o.uid, o.gid),
            // Go's tar reads an all-NUL numeric field as 0; so does this.
            None => (header.uid().unwrap_or(0), header.gid().unwrap_or(0)),
        };
        let mode = header.mode().unwrap_or(0) & 0o7777;
        let mtime = header.mtime().unwrap_or(0);
        let mtime = i64::try_from(mtime).unwrap_or(0);
        let entry_kind = match kind {
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.size();
                let src = if size <= INLINE_LIMIT {
                    let mut buf = Vec::with_capacity(size as usize);
                    entry.read_to_end(&mut buf).map_err(wrap)?;
                    FileSource::Bytes(Arc::from(buf))
                } else {
                    let (path, mut f) = scratch.create("archive")?;
                    io::copy(&mut entry, &mut f).map_err(wrap)?;
                    f.flush()?;
                    FileSource::Path(path)
                };
                written.insert(full.clone(), ());
                EntryKind::File(src)
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                EntryKind::Symlink { target }
            }
            tar::EntryType::Link => {
                let target_raw = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let Some(t) = clean_archive_path(&target_raw)? else {
                    return Err(AddError::ArchiveHardlink {
                        name: raw_name,
                        target: target_raw,
                    });
                };
                let t = join(&root, &resolve_in_root(w, &root, &t, false)?);
                if !written.contains_key(&t) {
                    return Err(AddError::ArchiveHardlink {
                        name: raw_name,
                        target: target_raw,
                    });
                }
                written.insert(full.clone(), ());
                EntryKind::Hardlink { target: t }
            }
            other => {
                return Err(AddError::ArchiveEntryType {
                    name: raw_name,
                    kind: other.as_byte(),
                });
            }
        };
        // Whatever was at `full` is replaced (BuildKit removes it unless both are directories).
        let mode = if matches!(entry_kind, EntryKind::Symlink { .. }) {
            0o777
        } else {
            mode
        };
        let mut le = LayerEntry::new(full, entry_kind, mode, uid, gid);
        le.mtime = Some(mtime.max(0));
        w.put(le);
    }
    Ok(())
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else if name.is_empty() {
        dir.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i],
        None => "",
    }
}

/// BuildKit's `cleanRootTarPath`: leading `/` dropped, cleaned; `None` for the root itself; an
/// error for a path that leaves the root.
fn clean_archive_path(name: &str) -> Result<Option<String>, AddError> {
    let cleaned = dockerignore::clean_path(name.trim_start_matches('/'));
    if cleaned == "." || cleaned.is_empty() {
        return Ok(None);
    }
    if cleaned == ".." || cleaned.starts_with("../") {
        return Err(AddError::ArchiveEscape {
            name: name.to_string(),
        });
    }
    Ok(Some(cleaned))
}

/// BuildKit's `resolveRootPath`: resolves `name` inside the extraction root `root` (an image path),
/// following symlinks (the last one only with `follow_leaf`). Absolute link targets are relative to
/// the extraction root; relative ones may not leave it. Returns a path relative to `root`.
fn resolve_in_root(
    w: &DestWriter<'_>,
    root: &str,
    name: &str,
    follow_leaf: bool,
) -> Result<String, AddError> {
    let mut name = name.to_string();
    for _ in 0..255 {
        let parts: Vec<&str> = name
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut followed = false;
        for (i, part) in parts.iter().enumerate() {
            if i == parts.len() - 1 && !follow_leaf {
                resolved.push(part.to_string());
                continue;
            }
            let candidate = join(&resolved.join("/"), part);
            match w.lookup(&join(root, &candidate)) {
                None => {
                    resolved.extend(parts[i..].iter().map(|p| p.to_string()));
                    return Ok(resolved.join("/"));
                }
                Some(DestNode::Symlink { target }) => {
                    let next = if target.starts_with('/') {
                        clean_archive_path(&target)?.unwrap_or_default()
                    } else {
                        let joined =
                            dockerignore::clean_path(&join(parent_of(&candidate), &target));
                        if joined == "." {
                            String::new()
                        } else if joined == ".." || joined.starts_with("../") {
                            return Err(AddError::ArchiveSymlinkEscape { name: candidate });
                        } else {
                            joined
                        }
                    };
                    let rest = parts[i + 1..].join("/");
                    name = join(&next, &rest);
                    followed = true;
                    break;
                }
                Some(_) => resolved.push(part.to_string()),
            }
        }
        if !followed {
            return Ok(resolved.join("/"));
        }
    }
    Err(ContextError::TooManyLinks { path: name }.into())
}

// ---------------------------------------------------------------------------------------------
// URLs
// ---------------------------------------------------------------------------------------------

struct Downloaded {
    name: String,
    path: PathBuf,
    mtime: i64,
}

/// The file name BuildKit gives a URL: the last segment of its (percent-decoded) path, or
/// `__unnamed__`.
pub fn url_file_name(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let path = match after_scheme.find('/') {
        Some(i) => &after_scheme[i..],
        None => "",
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode(path);
    let cleaned = dockerignore::clean_path(if decoded.is_empty() { "." } else { &decoded });
    match base_of(&cleaned) {
        "" | "." | "/" => "__unnamed__".to_string(),
        b => b.to_string(),
    }
}

fn base_of(path: &str) -> &str {
    if path == "/" {
        return "/";
    }
    let p = path.trim_end_matches('/');
    match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parses an HTTP date (`Last-Modified`) into seconds since the epoch.
fn parse_http_date(value: &str) -> Option<i64> {
    jiff::fmt::rfc2822::parse(value.trim())
        .ok()
        .map(|z| z.timestamp().as_second())
}

fn download(
    url: &str,
    expected: Option<&Digest>,
    scratch: &Scratch<'_>,
    timeout: Duration,
) -> Result<Downloaded, AddError> {
    let err = |message: String| AddError::Http {
        url: url.to_string(),
        message,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(10)
        .timeout_global(Some(timeout))
        .build()
        .into();
    let mut resp = agent.get(url).call().map_err(|e| err(e.to_string()))?;
    let status = resp.status().as_u16();
    if !(200..400).contains(&status) {
        return Err(AddError::HttpStatus {
            url: url.to_string(),
            status,
        });
    }
    let mtime = resp
        .headers()
        .get("last-modified")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
        .unwrap_or(0);
    let (path, mut file) = scratch.create("download")?;
    let mut reader = resp.body_mut().as_reader();
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read(&mut buf).map_err(|e| err(e.to_string()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])?;
    }
    file.flush()?;
    let actual = Digest::from_hasher(hasher);
    if let Some(exp) = expected
        && *exp != actual
    {
        return Err(AddError::ChecksumMismatch {
            url: url.to_string(),
            expected: exp.clone(),
            actual,
        });
    }
    Ok(Downloaded {
        name: url_file_name(url),
        path,
        mtime,
    })
}

// ---------------------------------------------------------------------------------------------
// Git
// ---------------------------------------------------------------------------------------------

/// A git source: `remote#ref:subdir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRef {
    /// The URL to fetch from (without the fragment).
    pub remote: String,
    /// The branch, tag or commit (`None`: the remote's HEAD).
    pub reference: Option<String>,
    /// A directory inside the repository to copy instead of its root.
    pub subdir: Option<String>,
}

/// BuildKit's `ParseGitRef`, for what `ADD` accepts as a git source: `http(s)://...` whose path
/// ends in `.git`, `git://...`, `ssh://...`, and scp-like `user@host:path`; each with an
/// optional `#ref[:subdir]`. `None` for anything else (local paths, plain URLs, and `github.com/x`
/// which BuildKit treats as a local path in `ADD`).
pub fn parse_git_ref(src: &str) -> Option<GitRef> {
    if src.starts_with("./") || src.starts_with("../") || src.starts_with("github.com/") {
        return None;
    }
    let (remote, fragment) = match src.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (src, None),
    };
    if let Some((scheme, rest)) = remote.split_once("://") {
        match scheme {
            "http" | "https" => {
                let path = rest.split(['?']).next().unwrap_or("");
                if !path.ends_with(".git") {
                    return None;
                }
            }
            "git" | "ssh" | "git+ssh" => {}
            _ => return None,
        }
    } else if !is_scp_like(remote) {
        return None;
    }
    let (reference, subdir) = match fragment {
        None => (None, None),
        Some(f) => {
            let (r, s) = match f.split_once(':') {
                Some((r, s)) => (r, Some(s)),
                None => (f, None),
            };
            (
                Some(r.to_string()).filter(|r| !r.is_empty()),
                s.map(str::to_string).filter(|s| !s.is_empty()),
            )
        }
    };
    Some(GitRef {
        remote: remote.to_string(),
        reference,
        subdir,
    })
}

/// `user@host:path` (gitutil's `^[a-zA-Z0-9-_]+@[a-zA-Z0-9-.]+:.*$`).
fn is_scp_like(s: &str) -> bool {
    let Some((user, rest)) = s.split_once('@') else {
        return false;
    };
    let Some((host, _)) = rest.split_once(':') else {
        return false;
    };
    !user.is_empty()
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

fn git(dir: &Path, args: &[&str]) -> Result<String, AddError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env("LC_ALL", "C")
        .output()
        .map_err(AddError::GitSpawn)?;
    if !out.status.success() {
        return Err(AddError::Git {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn looks_like_commit(r: &str) -> bool {
    (r.len() == 40 || r.len() == 64) && r.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks `git` out into `dir` (which must not exist): a shallow fetch of the reference (or of
/// HEAD), falling back to a full fetch for commits a server will not serve shallowly; submodules
/// are checked out too. Returns the commit checked out.
pub fn git_checkout(git_ref: &GitRef, dir: &Path) -> Result<String, AddError> {
    fs_err::create_dir_all(dir)?;
    git(dir, &["init", "-q"])?;
    git(dir, &["remote", "add", "origin", &git_ref.remote])?;
    let reference = git_ref.reference.as_deref().unwrap_or("HEAD");
    let shallow = git(
        dir,
        &[
            "fetch",
            "-q",
            "--depth",
            "1",
            "--no-tags",
            "origin",
            reference,
        ],
    );
    match shallow {
        Ok(_) => {
            git(dir, &["checkout", "-q", "--detach", "FETCH_HEAD"])?;
        }
        Err(e) => {
            if !looks_like_commit(reference) {
                return Err(e);
            }
            git(
                dir,
                &[
                    "fetch",
                    "-q",
                    "--tags",
                    "origin",
                    "+refs/heads/*:refs/remotes/origin/*",
                ],
            )?;
            git(dir, &["checkout", "-q", "--detach", reference])?;
        }
    }
    if dir.join(".gitmodules").exists() {
        git(
            dir,
            &[
                "submodule",
                "update",
                "-q",
                "--init",
                "--recursive",
                "--depth",
                "1",
            ],
        )?;
    }
    Ok(git(dir, &["rev-parse", "HEAD"])?.trim().to_string())
}

fn add_git(
    w: &mut DestWriter<'_>,
    git_ref: &GitRef,
    git_dir: GitDir,
    target: &CopyTarget,
    opts: &CopyOptions,
    scratch: &Scratch<'_>,
) -> Result<(), AddError> {
    let dir = scratch.fresh("git");
    git_checkout(git_ref, &dir)?;
    let ignore = match git_dir {
        GitDir::Keep => Dockerignore::default(),
        GitDir::Remove => Dockerignore::from_patterns([".git"]).map_err(ContextError::Exclude)?,
    };
    let tree = SourceTree::new(dir, ignore, Ownership::Root).with_mtimes(Mtimes::Epoch);
    let src = git_ref.subdir.clone().unwrap_or_else(|| "/".to_string());
    let empty = Dockerignore::default();
    let opts = CopyOptions {
        exclude: Vec::new(),
        ..opts.clone()
    };
    let expanded = context::expand_source(&tree, &src, &opts, &empty)?;
    context::copy_expanded(w, &tree, &expanded, target, &opts, &empty)?;
    Ok(())
}

#[cfg(test)]
mod tests;
