//! The build context and how `COPY` (and the local part of `ADD`) turns sources into layer entries,
//! following BuildKit: the Dockerfile frontend (`dispatchCopy`), the file-op backend (`docopy`) and
//! fsutil's copier.
//!
//! Sources are read from a [`SourceTree`]: a host directory seen through a `.dockerignore` (the
//! build context), or another stage's root filesystem extracted to disk. Paths inside a tree are
//! resolved like continuity's `fs.RootPath`: symlinks are followed as if the tree's root were `/`,
//! and `..` stops at the root, so nothing outside the tree can ever be read. Excluded files are
//! invisible, exactly as if they had not been sent to the daemon.
//!
//! Destinations are resolved against the image being built through [`DestFs`] (what is already at
//! a path), because the rules depend on it: a single file copied to an existing directory goes
//! inside it, and symlinks in the destination path are followed within the image.
//!
//! The rules, for `COPY src... dest` (all BuildKit's):
//! - a relative `dest` is relative to WORKDIR; `dest` ending in `/` or `/.` (or `.`) is a directory;
//! - each source is cleaned against `/` (`..` cannot climb out of the context) and may hold
//!   `filepath.Match` wildcards; a wildcard that matches nothing copies nothing (no error), a plain
//!   path that does not exist fails with `failed to compute cache key: "/path": not found`;
//! - a source symlink is followed (inside the tree); symlinks inside copied directories are copied
//!   as symlinks; a source directory copies its contents;
//! - a file goes to `dest/<name>` when `dest` is (now) a directory, else to `dest` itself;
//! - missing parent directories of the destination are created with mode 0755, owned by the
//!   `--chown` user (or 0:0), exactly like fsutil's `MkdirAll`; existing ones are left alone;
//! - copied files keep their mode and mtime; owners are 0:0 for the build context and kept for
//!   another stage, unless `--chown`; `--chmod` (octal or symbolic) applies to every copied file
//!   and directory (not to symlinks, nor to created parent directories);
//! - `--exclude` patterns (dockerignore syntax) match paths relative to each source directory;
//!   with `--parents` the source path (or what follows `/./`) becomes an include pattern over the
//!   context and the matched paths keep their parent directories.
//!
//! Deliberate differences: `--exclude` also filters the files a wildcard source matches directly
//! (as Docker's documentation says; BuildKit does not, moby/buildkit#5489); xattrs are not taken
//! from the build context (host labels such as `security.selinux` must not leak into images), but
//! are kept from another stage.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use plinth_dockerfile::dockerignore::{self, Dockerignore, IgnoreError};
use plinth_oci::Digest;
use plinth_oci::layer::{EntryKind, FileSource, LayerEntry};
use sha2::{Digest as _, Sha256};

/// Errors of reading the context and planning a copy.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// A source that does not exist (or is excluded by `.dockerignore`).
    #[error("failed to compute cache key: \"{path}\": not found")]
    NotFound { path: String },
    /// The directory part of a wildcard source does not exist.
    #[error("lstat {path}: no such file or directory")]
    WildcardBaseMissing { path: String },
    #[error("invalid {file}: {source}")]
    Dockerignore { file: PathBuf, source: IgnoreError },
    #[error("invalid --exclude pattern: {0}")]
    Exclude(IgnoreError),
    #[error("invalid --parents pattern: {0}")]
    Parents(IgnoreError),
    #[error("cannot copy to non-directory: /{path}")]
    NotADirectory { path: String },
    #[error("cannot replace to directory /{path} with file")]
    ReplaceDirWithFile { path: String },
    #[error("mkdir /{path}: not a directory")]
    MkdirNotADirectory { path: String },
    #[error("too many levels of symbolic links resolving {path:?}")]
    TooManyLinks { path: String },
    #[error("file name {} is not valid UTF-8; image paths must be UTF-8", path.display())]
    NonUtf8Name { path: PathBuf },
    #[error("the build context {} is not a directory", path.display())]
    ContextNotDir { path: PathBuf },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Whose ownership copied files get when `--chown` is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Everything is owned by 0:0 (the build context: BuildKit's context transfer drops host owners).
    Root,
    /// Files keep the uid/gid they have on disk (the extracted root filesystem of a stage or image).
    FromDisk,
}

/// A numeric owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
}

/// A directory that `COPY` reads from, with what is visible in it.
#[derive(Debug, Clone)]
pub struct SourceTree {
    root: PathBuf,
    ignore: Dockerignore,
    ownership: Ownership,
    mtimes: Mtimes,
}

/// Which mtime copied files get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mtimes {
    /// The source file's mtime (BuildKit's behaviour for the context and stages).
    FromSource,
    /// None: SOURCE_DATE_EPOCH when the layer is written (git checkouts, whose disk mtimes are
    /// just the checkout time).
    Epoch,
}

/// Ownership and mtime rules of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Origin {
    ownership: Ownership,
    mtimes: Mtimes,
}

/// What a path in a [`SourceTree`] is (from `lstat`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink(String),
    CharDevice(u64),
    BlockDevice(u64),
    Fifo,
    Socket,
}

#[derive(Debug, Clone)]
struct Meta {
    kind: Kind,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: i64,
    dev: u64,
    ino: u64,
    nlink: u64,
}

impl Meta {
    fn from_fs(md: &std::fs::Metadata, host: &Path) -> Result<Meta, ContextError> {
        let ft = md.file_type();
        use std::os::unix::fs::FileTypeExt;
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            let target = fs_err::read_link(host)?;
            match target.to_str() {
                Some(t) => Kind::Symlink(t.to_string()),
                None => return Err(ContextError::NonUtf8Name { path: target }),
            }
        } else if ft.is_char_device() {
            Kind::CharDevice(md.rdev())
        } else if ft.is_block_device() {
            Kind::BlockDevice(md.rdev())
        } else if ft.is_fifo() {
            Kind::Fifo
        } else if ft.is_socket() {
            Kind::Socket
        } else {
            Kind::File
        };
        Ok(Meta {
            kind,
            mode: md.mode() & 0o7777,
            uid: u64::from(md.uid()),
            gid: u64::from(md.gid()),
            mtime: md.mtime(),
            dev: md.dev(),
            ino: md.ino(),
            nlink: md.nlink(),
        })
    }

    fn is_dir(&self) -> bool {
        self.kind == Kind::Dir
    }
}

/// How many symlinks one resolution may follow (Linux's MAXSYMLINKS is 40; continuity uses 255).
const MAX_LINKS: usize = 255;

impl SourceTree {
    /// Opens the build context `dir` for the Dockerfile at `dockerfile`: reads
    /// `<dockerfile-name>.dockerignore` next to the Dockerfile if it exists, else `.dockerignore` at
    /// the context root (BuildKit's order). The Dockerfile and `.dockerignore` are ordinary context
    /// files: `COPY . .` copies them unless they are listed.
    pub fn open_context(dir: &Path, dockerfile: &Path) -> Result<SourceTree, ContextError> {
        let root = fs_err::canonicalize(dir)?;
        if !fs_err::metadata(&root)?.is_dir() {
            return Err(ContextError::ContextNotDir {
                path: dir.to_path_buf(),
            });
        }
        let mut candidates = Vec::new();
        if let Some(name) = dockerfile.file_name() {
            let mut n = name.to_os_string();
            n.push(".dockerignore");
            candidates.push(dockerfile.with_file_name(n));
        }
        candidates.push(root.join(".dockerignore"));
        let mut ignore = Dockerignore::default();
        for file in candidates {
            match fs_err::read(&file) {
                Ok(bytes) => {
                    let text = String::from_utf8_lossy(&bytes);
                    ignore = Dockerignore::parse(&text)
                        .map_err(|source| ContextError::Dockerignore { file, source })?;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(SourceTree {
            root,
            ignore,
            ownership: Ownership::Root,
            mtimes: Mtimes::FromSource,
        })
    }

    /// A tree over `root` with the given filter and ownership rule (e.g. a stage's extracted root
    /// filesystem with an empty [`Dockerignore`] and [`Ownership::FromDisk`]).
    pub fn new(root: impl Into<PathBuf>, ignore: Dockerignore, ownership: Ownership) -> SourceTree {
        SourceTree {
            root: root.into(),
            ignore,
            ownership,
            mtimes: Mtimes::FromSource,
        }
    }

    /// The same tree, with the given mtime rule.
    pub fn with_mtimes(mut self, mtimes: Mtimes) -> SourceTree {
        self.mtimes = mtimes;
        self
    }

    fn origin(&self) -> Origin {
        Origin {
            ownership: self.ownership,
            mtimes: self.mtimes,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn dockerignore(&self) -> &Dockerignore {
        &self.ignore
    }

    pub fn ownership(&self) -> Ownership {
        self.ownership
    }

    fn host(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    /// `lstat` of `rel` on disk, ignoring the filter; `None` when it does not exist.
    fn lstat_raw(&self, rel: &str) -> Result<Option<Meta>, ContextError> {
        let host = self.host(rel);
        match std::fs::symlink_metadata(&host) {
            Ok(md) => Ok(Some(Meta::from_fs(&md, &host)?)),
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.kind() == io::ErrorKind::NotADirectory =>
            {
                Ok(None)
            }
            Err(e) => Err(fs_err::symlink_metadata(&host).err().unwrap_or(e).into()),
        }
    }

    /// Whether `rel` (which exists, with `meta`) is part of the tree after filtering: not excluded,
    /// or an excluded directory that still holds something visible (the walker sends it then).
    fn visible(&self, rel: &str, meta: &Meta) -> Result<bool, ContextError> {
        if rel.is_empty() || !self.ignore.is_excluded(rel) {
            return Ok(true);
        }
        if meta.is_dir() && self.ignore.may_reinclude_under(rel) {
            for (_, child_rel, child) in self.read_dir_raw(rel)? {
                if self.visible(&child_rel, &child)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// `lstat` through the filter. Every parent of `rel` must be a real directory on disk (not a
    /// symlink), so that the host never resolves a link on the tree's behalf.
    fn lstat(&self, rel: &str) -> Result<Option<Meta>, ContextError> {
        let mut end = 0;
        while let Some(i) = rel[end..].find('/') {
            end += i;
            match self.lstat_raw(&rel[..end])? {
                Some(m) if m.is_dir() => {}
                _ => return Ok(None),
            }
            end += 1;
        }
        match self.lstat_raw(rel)? {
            Some(m) if self.visible(rel, &m)? => Ok(Some(m)),
            _ => Ok(None),
        }
    }

    /// All entries of the directory `rel` on disk, sorted by name, as (name, rel path, meta).
    fn read_dir_raw(&self, rel: &str) -> Result<Vec<(String, String, Meta)>, ContextError> {
        let host = self.host(rel);
        let mut out = Vec::new();
        for entry in fs_err::read_dir(&host)? {
            let entry = entry?;
            let name_os = entry.file_name();
            let Some(name) = name_os.to_str() else {
                return Err(ContextError::NonUtf8Name { path: entry.path() });
            };
            let child_rel = join_rel(rel, name);
            let child_host = entry.path();
            let md = fs_err::symlink_metadata(&child_host)?;
            out.push((
                name.to_string(),
                child_rel,
                Meta::from_fs(&md, &child_host)?,
            ));
        }
        out.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        Ok(out)
    }

    /// The visible entries of the directory `rel`, sorted by name.
    fn read_dir(&self, rel: &str) -> Result<Vec<(String, String, Meta)>, ContextError> {
        let mut out = Vec::new();
        for (name, child_rel, meta) in self.read_dir_raw(rel)? {
            if self.visible(&child_rel, &meta)? {
                out.push((name, child_rel, meta));
            }
        }
        Ok(out)
    }

    /// continuity's `fs.RootPath` over the filtered tree: resolves `path` (absolute or relative to
    /// the root) following symlinks as if the root were `/`; `..` stops at the root; components
    /// that do not exist are kept as they are. With [`LeafLinks::Keep`] a symlink as the last
    /// component is not followed. Returns a relative path (`""` for the root).
    fn resolve(&self, path: &str, leaf: LeafLinks) -> Result<String, ContextError> {
        root_path(path, leaf, |candidate| {
            Ok(match self.lstat(candidate)? {
                Some(Meta {
                    kind: Kind::Symlink(target),
                    ..
                }) => Lookup::Symlink(target),
                Some(_) => Lookup::Other,
                None => Lookup::Missing,
            })
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeafLinks {
    Follow,
    Keep,
}

fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

fn join_rel(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn parent_rel(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i],
        None => "",
    }
}

fn base_name(path: &str) -> &str {
    let p = path.trim_end_matches('/');
    match p.rfind('/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

// ---------------------------------------------------------------------------------------------
// Destination side
// ---------------------------------------------------------------------------------------------

/// What is at a path of the image being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestNode {
    Dir,
    /// A regular file, device, fifo or anything else that is neither a directory nor a symlink.
    File,
    Symlink {
        target: String,
    },
}

/// The image filesystem a copy writes into, as far as a copy needs to see it.
pub trait DestFs {
    /// What is at `path` (relative to the image root, `/`-separated, no leading `/`; `""` is the
    /// root), without following a symlink at `path` itself. `None` when nothing is there.
    fn lookup(&self, path: &str) -> Option<DestNode>;
}

/// An empty image (`FROM scratch`): only the root directory exists.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyDest;

impl DestFs for EmptyDest {
    fn lookup(&self, path: &str) -> Option<DestNode> {
        path.is_empty().then_some(DestNode::Dir)
    }
}

/// An image root filesystem extracted to a host directory.
#[derive(Debug, Clone)]
pub struct HostDirDest {
    pub root: PathBuf,
}

impl DestFs for HostDirDest {
    fn lookup(&self, path: &str) -> Option<DestNode> {
        let host = if path.is_empty() {
            self.root.clone()
        } else {
            self.root.join(path)
        };
        let md = std::fs::symlink_metadata(&host).ok()?;
        if md.is_dir() {
            Some(DestNode::Dir)
        } else if md.file_type().is_symlink() {
            let target = std::fs::read_link(&host).ok()?;
            Some(DestNode::Symlink {
                target: target.to_string_lossy().into_owned(),
            })
        } else {
            Some(DestNode::File)
        }
    }
}

/// The entries one instruction writes, on top of the image: later writes replace earlier ones and
/// every decision sees both.
pub struct DestWriter<'a> {
    base: &'a dyn DestFs,
    entries: BTreeMap<String, LayerEntry>,
    /// Owner of directories created by `MkdirAll` (the `--chown` user, else 0:0).
    dir_owner: Owner,
}

impl fmt::Debug for DestWriter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DestWriter")
            .field("entries", &self.entries.len())
            .field("dir_owner", &self.dir_owner)
            .finish()
    }
}

impl<'a> DestWriter<'a> {
    pub fn new(base: &'a dyn DestFs, chown: Option<Owner>) -> DestWriter<'a> {
        DestWriter {
            base,
            entries: BTreeMap::new(),
            dir_owner: chown.unwrap_or(Owner { uid: 0, gid: 0 }),
        }
    }

    /// What is at `path` now (this instruction's entries over the image), not following a final
    /// symlink.
    pub fn lookup(&self, path: &str) -> Option<DestNode> {
        if let Some(e) = self.entries.get(path) {
            return match &e.kind {
                EntryKind::Dir | EntryKind::OpaqueWhiteout => Some(DestNode::Dir),
                EntryKind::Symlink { target } => Some(DestNode::Symlink {
                    target: target.clone(),
                }),
                EntryKind::Whiteout => None,
                _ => Some(DestNode::File),
            };
        }
        // A non-directory written over an ancestor hides whatever the image had below it.
        let mut p = path;
        while !p.is_empty() {
            p = parent_rel(p);
            if let Some(e) = self.entries.get(p)
                && !matches!(e.kind, EntryKind::Dir | EntryKind::OpaqueWhiteout)
            {
                return None;
            }
        }
        self.base.lookup(path)
    }

    /// continuity's `fs.RootPath` in the image: follows every symlink (including the last
    /// component) inside the image; missing components are kept. Returns a relative path.
    pub fn resolve(&self, path: &str) -> Result<String, ContextError> {
        root_path(path, LeafLinks::Follow, |candidate| {
            Ok(match self.lookup(candidate) {
                Some(DestNode::Symlink { target }) => Lookup::Symlink(target),
                Some(_) => Lookup::Other,
                None => Lookup::Missing,
            })
        })
    }

    /// `stat` of a path [`DestWriter::resolve`] returned: a symlink there is dangling or loops.
    fn stat_resolved(&self, resolved: &str) -> Option<DestNode> {
        match self.lookup(resolved) {
            Some(DestNode::Symlink { .. }) => None,
            other => other,
        }
    }

    /// fsutil's `MkdirAll(path, 0755, chown)`: resolves `path` in the image and creates every
    /// missing directory (mode 0755, the `--chown` owner or 0:0, mtime SOURCE_DATE_EPOCH).
    /// Existing directories are not touched. Returns the resolved path.
    pub fn mkdir_all(&mut self, path: &str) -> Result<String, ContextError> {
        let resolved = self.resolve(path)?;
        let mut cur = String::new();
        for comp in components(&resolved) {
            cur = join_rel(&cur, &comp);
            match self.lookup(&cur) {
                Some(DestNode::Dir) => {}
                Some(_) => return Err(ContextError::MkdirNotADirectory { path: cur }),
                None => {
                    let o = self.dir_owner;
                    self.put(LayerEntry::new(
                        cur.clone(),
                        EntryKind::Dir,
                        0o755,
                        o.uid,
                        o.gid,
                    ));
                }
            }
        }
        Ok(resolved)
    }

    /// Adds an entry, replacing whatever this instruction wrote at the same path (and, when the
    /// new entry is not a directory, everything it wrote below it).
    pub fn put(&mut self, entry: LayerEntry) {
        if !matches!(entry.kind, EntryKind::Dir) {
            let prefix = format!("{}/", entry.path);
            let doomed: Vec<String> = self
                .entries
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .map(|(k, _)| k.clone())
                .collect();
            for k in doomed {
                self.entries.remove(&k);
            }
        }
        self.entries.insert(entry.path.clone(), entry);
    }

    /// The entries written so far, sorted by path.
    pub fn finish(self) -> Vec<LayerEntry> {
        self.entries.into_values().collect()
    }
}

// ---------------------------------------------------------------------------------------------
// --chmod
// ---------------------------------------------------------------------------------------------

/// A `--chmod` value: an octal mode (up to `07777`) or a symbolic mode (`u+x,go=rX`), as BuildKit
/// accepts since Dockerfile 1.14.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chmod {
    Octal(u32),
    Symbolic(Vec<SymbolicClause>),
}

/// One comma-separated clause of a symbolic mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolicClause {
    /// Bits of `ugo` the clause applies to (`0o7777`-style mask); all when no `who` was given.
    who: u32,
    actions: Vec<(char, Perm)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Perm {
    Bits {
        rwx: u32,
        big_x: bool,
        s: bool,
        t: bool,
    },
    Copy(char),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid chmod parameter: '{0}'. it should be octal string and between 0 and 07777, or a symbolic mode such as u+x,go=rX"
)]
pub struct ChmodError(pub String);

impl Chmod {
    /// Parses a `--chmod` value.
    pub fn parse(s: &str) -> Result<Chmod, ChmodError> {
        let err = || ChmodError(s.to_string());
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            let v = u32::from_str_radix(s, 8).map_err(|_| err())?;
            if v > 0o7777 {
                return Err(err());
            }
            return Ok(Chmod::Octal(v));
        }
        let mut clauses = Vec::new();
        for clause in s.split(',') {
            let mut chars = clause.chars().peekable();
            let mut who = 0;
            while let Some(&c) = chars.peek() {
                who |= match c {
                    'u' => 0o4700,
                    'g' => 0o2070,
                    'o' => 0o1007,
                    'a' => 0o7777,
                    _ => break,
                };
                chars.next();
            }
            if who == 0 {
                who = 0o7777;
            }
            let mut actions = Vec::new();
            while let Some(op) = chars.next() {
                if !matches!(op, '+' | '-' | '=') {
                    return Err(err());
                }
                let mut rwx = 0;
                let (mut big_x, mut s_bit, mut t_bit) = (false, false, false);
                let mut copy = None;
                while let Some(&c) = chars.peek() {
                    match c {
                        'r' => rwx |= 4,
                        'w' => rwx |= 2,
                        'x' => rwx |= 1,
                        'X' => big_x = true,
                        's' => s_bit = true,
                        't' => t_bit = true,
                        'u' | 'g' | 'o'
                            if copy.is_none() && rwx == 0 && !big_x && !s_bit && !t_bit =>
                        {
                            copy = Some(c)
                        }
                        '+' | '-' | '=' => break,
                        _ => return Err(err()),
                    }
                    chars.next();
                }
                let perm = match copy {
                    Some(c) => Perm::Copy(c),
                    None => Perm::Bits {
                        rwx,
                        big_x,
                        s: s_bit,
                        t: t_bit,
                    },
                };
                actions.push((op, perm));
            }
            if actions.is_empty() {
                return Err(err());
            }
            clauses.push(SymbolicClause { who, actions });
        }
        Ok(Chmod::Symbolic(clauses))
    }

    /// The mode a file with `mode` gets (`is_dir` matters for `X`).
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        match self {
            Chmod::Octal(m) => *m,
            Chmod::Symbolic(clauses) => {
                let mut m = mode & 0o7777;
                for clause in clauses {
                    for (op, perm) in &clause.actions {
                        let bits = match perm {
                            Perm::Bits { rwx, big_x, s, t } => {
                                let mut x = *rwx;
                                if *big_x && (is_dir || m & 0o111 != 0) {
                                    x |= 1;
                                }
                                let mut b = x * 0o111;
                                if *s {
                                    b |= 0o6000;
                                }
                                if *t {
                                    b |= 0o1000;
                                }
                                b
                            }
                            Perm::Copy(c) => {
                                let v = match c {
                                    'u' => (m >> 6) & 7,
                                    'g' => (m >> 3) & 7,
                                    _ => m & 7,
                                };
                                v * 0o111
                            }
                        };
                        let bits = bits & clause.who;
                        m = match op {
                            '+' => m | bits,
                            '-' => m & !bits,
                            _ => (m & !clause.who) | bits,
                        };
                    }
                }
                m & 0o7777
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// COPY
// ---------------------------------------------------------------------------------------------

/// One source of a `COPY`/`ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    /// A path in the source tree, as written (after variable expansion).
    Path(String),
    /// A heredoc (`COPY <<EOF name`): a file `name` with this content, mode 0644.
    Inline { name: String, data: Arc<[u8]> },
}

/// The flags of a `COPY`.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// `--chown`, already resolved to numbers ([`crate::userdb`]).
    pub chown: Option<Owner>,
    /// `--chmod`.
    pub chmod: Option<Chmod>,
    /// `--parents`.
    pub parents: bool,
    /// `--exclude` patterns (dockerignore syntax).
    pub exclude: Vec<String>,
}

/// A `COPY` instruction, ready to plan.
#[derive(Debug, Clone)]
pub struct CopyRequest {
    pub sources: Vec<CopySource>,
    /// The destination as written.
    pub dest: String,
    /// The current WORKDIR (absolute; `/` when unset).
    pub workdir: String,
    pub options: CopyOptions,
}

/// Plans a `COPY`: the layer entries it writes (sorted by path), reading sources from `tree` and
/// deciding destinations against `dest_fs`.
pub fn plan_copy(
    tree: &SourceTree,
    req: &CopyRequest,
    dest_fs: &dyn DestFs,
) -> Result<Vec<LayerEntry>, ContextError> {
    let mut w = DestWriter::new(dest_fs, req.options.chown);
    copy_into(&mut w, tree, req)?;
    Ok(w.finish())
}

/// The absolute destination (cleaned, relative form without leading `/`) and whether it names a
/// directory (trailing `/` or `/.`, or `.`), like BuildKit's `pathRelativeToWorkingDir` + `cleanPath`.
pub fn normalize_dest(dest: &str, workdir: &str) -> (String, bool) {
    let force_dir = dest.is_empty() || dest == "." || dest.ends_with('/') || dest.ends_with("/.");
    let joined = if dest.starts_with('/') {
        dest.to_string()
    } else {
        format!("{workdir}/{dest}")
    };
    let cleaned = dockerignore::clean_path(&format!("/{joined}"));
    (cleaned.trim_start_matches('/').to_string(), force_dir)
}

/// Plans a `COPY` into an existing writer.
pub fn copy_into(
    w: &mut DestWriter<'_>,
    tree: &SourceTree,
    req: &CopyRequest,
) -> Result<(), ContextError> {
    let exclude =
        Dockerignore::from_patterns(&req.options.exclude).map_err(ContextError::Exclude)?;
    let target = CopyTarget::new(&req.dest, &req.workdir);
    for source in &req.sources {
        match source {
            CopySource::Path(src) => {
                let expanded = expand_source(tree, src, &req.options, &exclude)?;
                copy_expanded(w, tree, &expanded, &target, &req.options, &exclude)?;
            }
            CopySource::Inline { name, data } => {
                place_bytes(
                    w,
                    base_name(name),
                    data.clone(),
                    0o644,
                    None,
                    &target,
                    &req.options,
                )?;
            }
        }
    }
    Ok(())
}

/// Places an in-memory file (a heredoc, or a downloaded file's content) at the destination with
/// the single-file rules. `mtime` `None` means SOURCE_DATE_EPOCH.
pub(crate) fn place_bytes(
    w: &mut DestWriter<'_>,
    name: &str,
    data: Arc<[u8]>,
    mode: u32,
    mtime: Option<i64>,
    target: &CopyTarget,
    opts: &CopyOptions,
) -> Result<(), ContextError> {
    place_content(w, name, Content::Bytes(data), mode, mtime, target, opts)
}

/// Places a host file that is not part of a source tree (a download) with the single-file rules:
/// owner 0:0 unless `--chown`.
pub(crate) fn place_host_file(
    w: &mut DestWriter<'_>,
    name: &str,
    host: PathBuf,
    mode: u32,
    mtime: Option<i64>,
    target: &CopyTarget,
    opts: &CopyOptions,
) -> Result<(), ContextError> {
    place_content(w, name, Content::Host(host), mode, mtime, target, opts)
}

fn place_content(
    w: &mut DestWriter<'_>,
    name: &str,
    content: Content,
    mode: u32,
    mtime: Option<i64>,
    target: &CopyTarget,
    opts: &CopyOptions,
) -> Result<(), ContextError> {
    let meta = Meta {
        kind: Kind::File,
        mode,
        uid: 0,
        gid: 0,
        mtime: mtime.unwrap_or(0),
        dev: 0,
        ino: 0,
        nlink: 1,
    };
    let mtimes = if mtime.is_some() {
        Mtimes::FromSource
    } else {
        Mtimes::Epoch
    };
    let item = Item {
        src_name: name.to_string(),
        meta,
        content,
    };
    place_single(
        w,
        &item,
        target,
        opts,
        Origin {
            ownership: Ownership::Root,
            mtimes,
        },
    )
}

enum Content {
    Host(PathBuf),
    Bytes(Arc<[u8]>),
}

/// A single non-directory source.
struct Item {
    src_name: String,
    meta: Meta,
    content: Content,
}

/// A source path after `--parents` and wildcard expansion.
pub(crate) struct ExpandedSource {
    /// The `--parents` include pattern, its text, and whether it has a wildcard.
    include: Option<(Dockerignore, String, bool)>,
    pub(crate) matches: Vec<SourceMatch>,
}

/// One path a source matched, resolved in the tree.
pub(crate) struct SourceMatch {
    /// The matched path (unresolved; its base name names a copied file).
    path: String,
    /// The path with every symlink followed.
    followed: String,
    meta: Meta,
}

impl SourceMatch {
    /// The host file behind the match when it is a regular file (what `ADD` probes for archives).
    pub(crate) fn regular_file(&self, tree: &SourceTree) -> Option<PathBuf> {
        (self.meta.kind == Kind::File).then(|| tree.host(&self.followed))
    }
}

/// Expands one source path: `--parents` handling, wildcards (a wildcard matching nothing gives no
/// match), `--exclude` on wildcard matches, and the not-found check for plain paths.
pub(crate) fn expand_source(
    tree: &SourceTree,
    src: &str,
    opts: &CopyOptions,
    exclude: &Dockerignore,
) -> Result<ExpandedSource, ContextError> {
    // --parents: the part after "/./" (or the whole source) becomes an include pattern applied
    // while copying the pivot directory (or the root).
    let (src, include) = if opts.parents {
        let (pivot, pattern) = match src.split_once("/./") {
            Some((p, pat)) => (p.to_string(), pat.to_string()),
            None => ("/".to_string(), src.to_string()),
        };
        let pattern = dockerignore::clean_path(&format!("/{pattern}"))
            .trim_start_matches('/')
            .to_string();
        let has_wild = pattern.split('/').any(dockerignore::has_wildcard);
        let inc = Dockerignore::from_patterns([&pattern]).map_err(ContextError::Parents)?;
        (pivot, Some((inc, pattern, has_wild)))
    } else {
        (src.to_string(), None)
    };
    let src_path = dockerignore::clean_path(&format!("/{src}"));

    // Wildcards: split at the first component that has one.
    let comps: Vec<&str> = src_path.split('/').filter(|c| !c.is_empty()).collect();
    let first_wild = comps.iter().position(|c| dockerignore::has_wildcard(c));
    let candidates: Vec<(String, Option<String>)> = match first_wild {
        None => vec![(comps.join("/"), None)],
        Some(i) => {
            let d1 = comps[..i].join("/");
            let d2 = comps[i..].join("/");
            let base = tree.resolve(&d1, LeafLinks::Follow)?;
            let Some(base_meta) = tree.lstat(&base)? else {
                return Err(ContextError::WildcardBaseMissing {
                    path: format!("/{d1}"),
                });
            };
            let mut out = Vec::new();
            if base_meta.is_dir() {
                walk_wildcard(tree, &base, "", &d2, &mut out)?;
            }
            out.into_iter()
                .map(|rel| (join_rel(&base, &rel), Some(rel)))
                .collect()
        }
    };
    let mut matches = Vec::new();
    for (path, wildcard_rel) in candidates {
        if let Some(rel) = &wildcard_rel
            && !exclude.is_empty()
            && exclude.matches(rel)
        {
            continue;
        }
        let followed = tree.resolve(&path, LeafLinks::Follow)?;
        let Some(meta) = tree.lstat(&followed)? else {
            return Err(ContextError::NotFound {
                path: format!("/{path}"),
            });
        };
        matches.push(SourceMatch {
            path,
            followed,
            meta,
        });
    }
    Ok(ExpandedSource { include, matches })
}

/// Copies one expanded source (all its matches) to the destination.
pub(crate) fn copy_expanded(
    w: &mut DestWriter<'_>,
    tree: &SourceTree,
    expanded: &ExpandedSource,
    target: &CopyTarget,
    opts: &CopyOptions,
    exclude: &Dockerignore,
) -> Result<(), ContextError> {
    let mut copied_any = false;
    for m in &expanded.matches {
        copied_any |= copy_match(
            w,
            tree,
            m,
            expanded.include.as_ref().map(|(d, _, _)| d),
            target,
            opts,
            exclude,
        )?;
    }
    if let Some((_, pattern, false)) = &expanded.include
        && !copied_any
    {
        return Err(ContextError::NotFound {
            path: format!("/{pattern}"),
        });
    }
    Ok(())
}

/// A normalized destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyTarget {
    /// Relative to the image root, cleaned.
    pub(crate) dest: String,
    /// The destination was written as a directory (`/` or `/.` at the end).
    pub(crate) force_dir: bool,
}

impl CopyTarget {
    pub(crate) fn new(dest: &str, workdir: &str) -> CopyTarget {
        let (dest, force_dir) = normalize_dest(dest, workdir);
        CopyTarget { dest, force_dir }
    }
}

/// Copies one matched path (fsutil `Copy` for one source). Returns whether anything was written.
pub(crate) fn copy_match(
    w: &mut DestWriter<'_>,
    tree: &SourceTree,
    m: &SourceMatch,
    include: Option<&Dockerignore>,
    target: &CopyTarget,
    opts: &CopyOptions,
    exclude: &Dockerignore,
) -> Result<bool, ContextError> {
    let dest = target.dest.as_str();
    let ensure = if target.force_dir {
        dest.to_string()
    } else {
        parent_rel(dest).to_string()
    };
    w.mkdir_all(&ensure)?;
    if !m.meta.is_dir() {
        let item = Item {
            src_name: base_name(&m.path).to_string(),
            content: Content::Host(tree.host(&m.followed)),
            meta: m.meta.clone(),
        };
        place_single(w, &item, target, opts, tree.origin())?;
        return Ok(true);
    }
    let dst = w.resolve(dest)?;
    match w.stat_resolved(&dst) {
        None => {
            w.mkdir_all(&dst)?;
        }
        Some(DestNode::Dir) => {}
        Some(_) => return Err(ContextError::NotADirectory { path: dst }),
    }
    let mut ctx = DirCopy {
        tree,
        opts,
        exclude,
        include,
        links: HashMap::new(),
        copied: 0,
    };
    ctx.copy_children(w, &m.followed, "", &dst, &MatchInfos::default(), &[])?;
    ctx.fix_hardlinks(w);
    Ok(ctx.copied > 0)
}

/// fsutil `resolveWildcards`: walks `base` (not following symlinks), matching each path relative
/// to it against `pattern`; a matching directory is not descended into.
fn walk_wildcard(
    tree: &SourceTree,
    base: &str,
    rel: &str,
    pattern: &str,
    out: &mut Vec<String>,
) -> Result<(), ContextError> {
    for (name, _, meta) in tree.read_dir(&join_rel(base, rel))? {
        let r = join_rel(rel, &name);
        if dockerignore::path_match(pattern, &r).unwrap_or(false) {
            out.push(r);
        } else if meta.is_dir() {
            walk_wildcard(tree, base, &r, pattern, out)?;
        }
    }
    Ok(())
}

/// Places a single non-directory source at the destination.
fn place_single(
    w: &mut DestWriter<'_>,
    item: &Item,
    target: &CopyTarget,
    opts: &CopyOptions,
    origin: Origin,
) -> Result<(), ContextError> {
    let dest = target.dest.as_str();
    let ensure = if target.force_dir {
        dest.to_string()
    } else {
        parent_rel(dest).to_string()
    };
    w.mkdir_all(&ensure)?;
    let dst = w.resolve(dest)?;
    let target = match w.stat_resolved(&dst) {
        Some(DestNode::Dir) => join_rel(&dst, &item.src_name),
        _ => dst,
    };
    let parent = parent_rel(&target).to_string();
    w.mkdir_all(&parent)?;
    if w.lookup(&target) == Some(DestNode::Dir) {
        return Err(ContextError::ReplaceDirWithFile { path: target });
    }
    if target.is_empty() {
        return Err(ContextError::ReplaceDirWithFile { path: target });
    }
    let entry = make_entry(&target, &item.meta, &item.content, opts, origin)?;
    if let Some(e) = entry {
        w.put(e);
    }
    Ok(())
}

/// The layer entry for one source file system object (None for sockets, which layers cannot hold).
fn make_entry(
    path: &str,
    meta: &Meta,
    content: &Content,
    opts: &CopyOptions,
    origin: Origin,
) -> Result<Option<LayerEntry>, ContextError> {
    let kind = match &meta.kind {
        Kind::Dir => EntryKind::Dir,
        Kind::File => EntryKind::File(match content {
            Content::Host(p) => FileSource::Path(p.clone()),
            Content::Bytes(b) => FileSource::Bytes(b.clone()),
        }),
        Kind::Symlink(t) => EntryKind::Symlink { target: t.clone() },
        Kind::CharDevice(rdev) => EntryKind::CharDevice {
            major: major(*rdev),
            minor: minor(*rdev),
        },
        Kind::BlockDevice(rdev) => EntryKind::BlockDevice {
            major: major(*rdev),
            minor: minor(*rdev),
        },
        Kind::Fifo => EntryKind::Fifo,
        Kind::Socket => return Ok(None),
    };
    let mode = match (&meta.kind, &opts.chmod) {
        (Kind::Symlink(_), _) => 0o777,
        (_, Some(c)) => c.apply(meta.mode, meta.is_dir()),
        (_, None) => meta.mode,
    };
    let owner = match (opts.chown, origin.ownership) {
        (Some(o), _) => o,
        (None, Ownership::Root) => Owner { uid: 0, gid: 0 },
        (None, Ownership::FromDisk) => Owner {
            uid: meta.uid,
            gid: meta.gid,
        },
    };
    let mut entry = LayerEntry::new(path, kind, mode, owner.uid, owner.gid);
    entry.mtime = match origin.mtimes {
        Mtimes::FromSource => Some(meta.mtime),
        Mtimes::Epoch => None,
    };
    if origin.ownership == Ownership::FromDisk
        && let Content::Host(host) = content
    {
        entry.xattrs = read_xattrs(host)?;
    }
    Ok(Some(entry))
}

/// Linux `major()` of a `dev_t`.
fn major(rdev: u64) -> u32 {
    (((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0x0000_0fff)) as u32
}

/// Linux `minor()` of a `dev_t`.
fn minor(rdev: u64) -> u32 {
    (((rdev >> 12) & 0xffff_ff00) | (rdev & 0x0000_00ff)) as u32
}

/// The extended attributes of a host path (not following symlinks), minus `security.selinux`.
/// Linux caps both the name list and each value at 64 KiB.
fn read_xattrs(host: &Path) -> Result<BTreeMap<String, Vec<u8>>, ContextError> {
    const XATTR_MAX: usize = 64 * 1024;
    let mut out = BTreeMap::new();
    let mut names = vec![0u8; XATTR_MAX];
    let n = match rustix::fs::llistxattr(host, &mut names[..]) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Ok(out),
        Err(e) => return Err(io::Error::from(e).into()),
    };
    let mut value = vec![0u8; XATTR_MAX];
    for name in names[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let Ok(key) = std::str::from_utf8(name) else {
            continue;
        };
        if key == "security.selinux" {
            continue;
        }
        let got = match rustix::fs::lgetxattr(host, name, &mut value[..]) {
            Ok(got) => got,
            Err(rustix::io::Errno::NODATA) => continue,
            Err(e) => return Err(io::Error::from(e).into()),
        };
        out.insert(key.to_string(), value[..got].to_vec());
    }
    Ok(out)
}

#[derive(Default, Clone)]
struct MatchInfos {
    include: dockerignore::MatchInfo,
    exclude: dockerignore::MatchInfo,
}

/// The state of copying one source directory (fsutil's copier for one `Copy` call).
struct DirCopy<'t> {
    tree: &'t SourceTree,
    opts: &'t CopyOptions,
    exclude: &'t Dockerignore,
    include: Option<&'t Dockerignore>,
    /// (dev, ino) of multiply-linked files → destination paths written for them.
    links: HashMap<(u64, u64), Vec<String>>,
    copied: usize,
}

impl DirCopy<'_> {
    /// Copies the children of source directory `src` (tree path) into `dst` (image path).
    /// `comps` is the path relative to the copied source; `pending` are directories not yet
    /// written because they did not match an include pattern themselves (written, with their
    /// source metadata, as soon as something below them is).
    fn copy_children(
        &mut self,
        w: &mut DestWriter<'_>,
        src: &str,
        comps: &str,
        dst: &str,
        infos: &MatchInfos,
        pending: &[(String, String)],
    ) -> Result<(), ContextError> {
        for (name, child_src, meta) in self.tree.read_dir(src)? {
            let child_comps = join_rel(comps, &name);
            let child_dst = join_rel(dst, &name);
            let mut next = MatchInfos::default();
            let mut include = true;
            if let Some(inc) = self.include {
                let (m, info) = inc.matches_with_parent(&child_comps, &infos.include);
                include = m;
                next.include = info;
            }
            if !self.exclude.is_empty() {
                let (m, info) = self
                    .exclude
                    .matches_with_parent(&child_comps, &infos.exclude);
                if m {
                    include = false;
                }
                next.exclude = info;
            }
            if include {
                self.flush_pending(w, pending)?;
                self.write(w, &child_src, &child_dst, &meta)?;
                if meta.is_dir() {
                    self.copy_children(w, &child_src, &child_comps, &child_dst, &next, &[])?;
                }
            } else if meta.is_dir() {
                let mut more = pending.to_vec();
                more.push((child_src.clone(), child_dst.clone()));
                self.copy_children(w, &child_src, &child_comps, &child_dst, &next, &more)?;
            }
        }
        Ok(())
    }

    fn flush_pending(
        &mut self,
        w: &mut DestWriter<'_>,
        pending: &[(String, String)],
    ) -> Result<(), ContextError> {
        for (src, dst) in pending {
            if w.lookup(dst) == Some(DestNode::Dir) && w.entries.contains_key(dst.as_str()) {
                continue;
            }
            if let Some(meta) = self.tree.lstat(src)? {
                self.write(w, src, dst, &meta)?;
            }
        }
        Ok(())
    }

    fn write(
        &mut self,
        w: &mut DestWriter<'_>,
        src: &str,
        dst: &str,
        meta: &Meta,
    ) -> Result<(), ContextError> {
        match w.lookup(dst) {
            Some(DestNode::Dir) if !meta.is_dir() => {
                return Err(ContextError::ReplaceDirWithFile {
                    path: dst.to_string(),
                });
            }
            Some(DestNode::File | DestNode::Symlink { .. }) if meta.is_dir() => {
                return Err(ContextError::NotADirectory {
                    path: dst.to_string(),
                });
            }
            _ => {}
        }
        let content = Content::Host(self.tree.host(src));
        if let Some(entry) = make_entry(dst, meta, &content, self.opts, self.tree.origin())? {
            if meta.kind == Kind::File && meta.nlink > 1 {
                self.links
                    .entry((meta.dev, meta.ino))
                    .or_default()
                    .push(dst.to_string());
            }
            w.put(entry);
            self.copied += 1;
        }
        Ok(())
    }

    /// Multiply-linked files copied together stay hard links (fsutil keeps them); the bytewise
    /// smallest path holds the content so the link always follows its target in the layer.
    fn fix_hardlinks(&mut self, w: &mut DestWriter<'_>) {
        for paths in self.links.values() {
            if paths.len() < 2 {
                continue;
            }
            let Some(first) = paths.iter().min_by(|a, b| a.as_bytes().cmp(b.as_bytes())) else {
                continue;
            };
            let Some(first_entry) = w.entries.get(first.as_str()).cloned() else {
                continue;
            };
            for p in paths {
                if p == first {
                    continue;
                }
                if let Some(e) = w.entries.get_mut(p.as_str())
                    && matches!(e.kind, EntryKind::File(_))
                {
                    e.kind = EntryKind::Hardlink {
                        target: first.clone(),
                    };
                    e.mode = first_entry.mode;
                    e.uid = first_entry.uid;
                    e.gid = first_entry.gid;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Content digest
// ---------------------------------------------------------------------------------------------

/// A digest of what a copy writes: paths, kinds, modes, owners, link targets, device numbers,
/// xattrs and file contents, in path order. Not mtimes (an unchanged file touched on disk keeps
/// the same digest). Reads every [`FileSource::Path`].
pub fn content_digest(entries: &[LayerEntry]) -> io::Result<Digest> {
    let mut sorted: Vec<&LayerEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let mut h = Sha256::new();
    let field = |h: &mut Sha256, bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    for e in sorted {
        field(&mut h, e.path.as_bytes());
        let (tag, extra): (&str, Vec<u8>) = match &e.kind {
            EntryKind::Dir => ("dir", Vec::new()),
            EntryKind::File(src) => ("file", file_digest(src)?.to_vec()),
            EntryKind::Symlink { target } => ("symlink", target.as_bytes().to_vec()),
            EntryKind::Hardlink { target } => ("hardlink", target.as_bytes().to_vec()),
            EntryKind::CharDevice { major, minor } => {
                ("chr", format!("{major},{minor}").into_bytes())
            }
            EntryKind::BlockDevice { major, minor } => {
                ("blk", format!("{major},{minor}").into_bytes())
            }
            EntryKind::Fifo => ("fifo", Vec::new()),
            EntryKind::Whiteout => ("whiteout", Vec::new()),
            EntryKind::OpaqueWhiteout => ("opaque", Vec::new()),
        };
        field(&mut h, tag.as_bytes());
        field(&mut h, &extra);
        field(
            &mut h,
            format!("{:o}:{}:{}", e.mode, e.uid, e.gid).as_bytes(),
        );
        h.update((e.xattrs.len() as u64).to_le_bytes());
        for (k, v) in &e.xattrs {
            field(&mut h, k.as_bytes());
            field(&mut h, v);
        }
    }
    Ok(Digest::from_hasher(h))
}

fn file_digest(src: &FileSource) -> io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    match src {
        FileSource::Bytes(b) => h.update(b),
        FileSource::Path(p) => {
            let mut f = fs_err::File::open(p)?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        }
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests;

/// What [`root_path`] needs to know of one path.
enum Lookup {
    Symlink(String),
    Other,
    Missing,
}

/// continuity's `fs.RootPath`: resolves `path` (absolute or relative to the root) following
/// symlinks as if the root were `/`; `..` stops at the root; components that do not exist are kept
/// as they are. With [`LeafLinks::Keep`] a symlink as the last component is not followed. Returns
/// a relative path (`""` for the root). `lookup` says what is at a relative path.
fn root_path(
    path: &str,
    leaf: LeafLinks,
    lookup: impl Fn(&str) -> Result<Lookup, ContextError>,
) -> Result<String, ContextError> {
    let mut pending: Vec<String> = components(path).into_iter().rev().collect();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(comp) = pending.pop() {
        match comp.as_str() {
            "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        if pending.is_empty() && leaf == LeafLinks::Keep {
            resolved.push(comp);
            break;
        }
        let candidate = join_rel(&resolved.join("/"), &comp);
        match lookup(&candidate)? {
            Lookup::Symlink(target) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(ContextError::TooManyLinks {
                        path: path.to_string(),
                    });
                }
                if target.starts_with('/') {
                    resolved.clear();
                }
                for c in components(&target).into_iter().rev() {
                    pending.push(c);
                }
            }
            Lookup::Other => resolved.push(comp),
            Lookup::Missing => {
                resolved.push(comp);
                while let Some(rest) = pending.pop() {
                    match rest.as_str() {
                        "." => {}
                        ".." => {
                            resolved.pop();
                        }
                        _ => resolved.push(rest),
                    }
                }
            }
        }
    }
    Ok(resolved.join("/"))
}
