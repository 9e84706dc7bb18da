//! Image archives: writing `oci-archive` and classic `docker save` tars of images in the store,
//! and loading either kind back into the store.
//!
//! * [`save_oci_archive`]: a tar of an OCI layout holding only the named images (their blobs,
//!   `index.json` with their ref names, `oci-layout`).
//! * [`save_docker_archive`]: the format `docker load` (Docker 20.10 and later) and
//!   `skopeo copy docker-archive:` read: `manifest.json`, `repositories`, the config blob bytes
//!   unchanged as `<config-hex>.json` (so the image ID stays the config digest and Docker-only fields
//!   such as `Healthcheck` survive), and each layer uncompressed as `<diff-id-hex>/layer.tar`,
//!   checked against the config's `diff_ids`.
//! * [`load_archive`]: detects a docker archive (it has `manifest.json`; also the Docker 25+ form
//!   whose files live under `blobs/sha256/`) or an OCI archive (`index.json` + `oci-layout`), also
//!   gzip- or zstd-compressed, and imports it.
//!
//! Both writers are deterministic: entries sorted by path, mtime 0, uid/gid 0, no user names.
//!
//! Loading never extracts anything to the filesystem by the names in the archive: regular files
//! are streamed into the store's blob writer (files under `blobs/sha256/` are refused unless their
//! content has that digest), symlinks and hard links are resolved lexically inside the archive,
//! and paths that are absolute or leave the archive with `..` are errors. All refs are set in one
//! `index.json` update after every image has been verified, so a truncated or malformed archive
//! leaves no ref behind (only unreferenced blobs, which `gc` removes).

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

use crate::reference::{ImageRef, familiar, normalize_ref};
use crate::store::{BlobReader, Image, Kind, Store, StoreError, kind_of};
use crate::types::{ANNOTATION_REF_NAME, Descriptor, ImageConfig, Index, Manifest, media};
use crate::{Digest, json};

/// The annotation containerd and Docker 25+ use for the full image name in an OCI index.
const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// Largest metadata file (`manifest.json`, `index.json`, ...) read into memory.
const METADATA_LIMIT: u64 = 64 << 20;
/// How many links are followed when resolving a path inside an archive.
const MAX_LINKS: usize = 32;

/// Errors while writing or reading an archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the archive: {0}")]
    Write(#[source] io::Error),
    #[error("reading the archive: {0}")]
    Read(#[source] io::Error),
    #[error("unsafe path {path:?} in the archive (absolute, or leaving the archive with '..')")]
    UnsafePath { path: String },
    #[error("the archive is truncated: {path:?} should have {expected} bytes but has {actual}")]
    Truncated {
        path: String,
        expected: u64,
        actual: u64,
    },
    #[error(
        "not an image archive: it has neither manifest.json (docker-archive) nor index.json and \
         oci-layout (oci-archive)"
    )]
    NotAnImageArchive,
    #[error("malformed {format} archive: {reason}")]
    Malformed {
        format: &'static str,
        reason: String,
    },
    #[error("the archive refers to {path:?}, which it does not contain")]
    MissingEntry { path: String },
    #[error("{path:?} in the archive is larger than {limit} bytes")]
    TooLarge { path: String, limit: u64 },
    #[error(
        "layer {layer}: its uncompressed content is {actual}, but the image config's diff_id is {expected}"
    )]
    DiffIdMismatch {
        layer: Digest,
        expected: Digest,
        actual: Digest,
    },
    #[error(
        "image {image}: the manifest has {layers} layers but the config lists {diff_ids} diff_ids"
    )]
    LayerCountMismatch {
        image: Digest,
        layers: usize,
        diff_ids: usize,
    },
    #[error("layer {digest} has media type {media_type:?}, which plinth cannot decompress")]
    UnsupportedLayer { digest: Digest, media_type: String },
}

pub type Result<T, E = ArchiveError> = std::result::Result<T, E>;

/// An image imported by [`load_archive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    /// The ref it was stored under (normalized), or `None` for an image the archive does not name
    /// (its blobs are stored, reachable by digest, but nothing references them: `gc` removes them).
    pub name: Option<String>,
    /// The manifest (or index) descriptor.
    pub descriptor: Descriptor,
}

// ------------------------------------------------------------------------------------ tar output

enum Source {
    Dir,
    Bytes(Vec<u8>),
    Blob(Digest, u64),
    Layer { layer: Descriptor, size: u64 },
}

/// Writes entries (sorted by path) with fixed metadata.
fn write_tar<W: Write>(store: &Store, out: W, mut entries: Vec<(String, Source)>) -> Result<W> {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|a, b| a.0 == b.0);
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, source) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        match source {
            Source::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                tar.append_data(&mut h, &path, io::empty())
                    .map_err(ArchiveError::Write)?;
            }
            Source::Bytes(b) => {
                file_header(&mut h, b.len() as u64);
                tar.append_data(&mut h, &path, b.as_slice())
                    .map_err(ArchiveError::Write)?;
            }
            Source::Blob(d, size) => {
                file_header(&mut h, size);
                let mut r = CountingReader::new(store.open_blob(&d)?);
                tar.append_data(&mut h, &path, &mut r)
                    .map_err(ArchiveError::Write)?;
                check_count(&path, size, r.count)?;
            }
            Source::Layer { layer, size } => {
                file_header(&mut h, size);
                let mut r = CountingReader::new(Decompressed::open(store, &layer)?);
                tar.append_data(&mut h, &path, &mut r)
                    .map_err(ArchiveError::Write)?;
                check_count(&path, size, r.count)?;
                r.inner.finish().map_err(ArchiveError::Write)?;
            }
        }
    }
    tar.into_inner().map_err(ArchiveError::Write)
}

fn file_header(h: &mut tar::Header, size: u64) {
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(size);
}

fn check_count(path: &str, expected: u64, actual: u64) -> Result<()> {
    if expected != actual {
        return Err(ArchiveError::Write(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{path}: wrote {actual} bytes where {expected} were announced (blob changed?)"),
        )));
    }
    Ok(())
}

struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R> CountingReader<R> {
    fn new(inner: R) -> Self {
        CountingReader { inner, count: 0 }
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

fn compression_of(layer: &Descriptor) -> Result<Compression> {
    let mt = layer.media_type.as_str();
    if mt.ends_with("+gzip") || mt.ends_with(".tar.gzip") {
        Ok(Compression::Gzip)
    } else if mt.ends_with("+zstd") {
        Ok(Compression::Zstd)
    } else if mt.ends_with(".tar") {
        Ok(Compression::None)
    } else {
        Err(ArchiveError::UnsupportedLayer {
            digest: layer.digest.clone(),
            media_type: mt.to_string(),
        })
    }
}

fn sniff_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// The uncompressed content of a layer blob. [`Decompressed::finish`] reads the compressed blob to
/// its end so its digest is checked even when the decompressor stops early.
enum Decompressed {
    Plain(BlobReader),
    Gzip(Box<MultiGzDecoder<BlobReader>>),
    Zstd(zstd::Decoder<'static, BufReader<BlobReader>>),
}

impl Decompressed {
    fn open(store: &Store, layer: &Descriptor) -> Result<Decompressed> {
        Self::with(store, &layer.digest, compression_of(layer)?)
    }

    fn with(store: &Store, digest: &Digest, c: Compression) -> Result<Decompressed> {
        let r = store.open_blob(digest)?;
        Ok(match c {
            Compression::None => Decompressed::Plain(r),
            Compression::Gzip => Decompressed::Gzip(Box::new(MultiGzDecoder::new(r))),
            Compression::Zstd => {
                Decompressed::Zstd(zstd::Decoder::new(r).map_err(ArchiveError::Read)?)
            }
        })
    }

    fn finish(self) -> io::Result<()> {
        match self {
            Decompressed::Plain(mut r) => io::copy(&mut r, &mut io::sink()).map(drop),
            Decompressed::Gzip(d) => io::copy(&mut d.into_inner(), &mut io::sink()).map(drop),
            Decompressed::Zstd(d) => io::copy(&mut d.finish(), &mut io::sink()).map(drop),
        }
    }
}

impl Read for Decompressed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decompressed::Plain(r) => r.read(buf),
            Decompressed::Gzip(r) => r.read(buf),
            Decompressed::Zstd(r) => r.read(buf),
        }
    }
}

/// Digest and size of the uncompressed content of a blob.
fn uncompressed_digest(store: &Store, digest: &Digest, c: Compression) -> Result<(Digest, u64)> {
    let mut d = Decompressed::with(store, digest, c)?;
    let out = Digest::of_reader(&mut d).map_err(|e| read_error(store, digest, e))?;
    d.finish().map_err(|e| read_error(store, digest, e))?;
    Ok(out)
}

fn read_error(store: &Store, digest: &Digest, e: io::Error) -> ArchiveError {
    // A corrupt blob surfaces as InvalidData wrapping the store error; keep that message.
    ArchiveError::Read(io::Error::new(
        e.kind(),
        format!("blob {digest} in the store {}: {e}", store.path().display()),
    ))
}

/// Resolves the user's refs. The ref name is kept only when the image was asked for by that name.
fn resolve_refs(store: &Store, refs: &[&str]) -> Result<Vec<(Option<String>, Descriptor)>> {
    let mut out = Vec::with_capacity(refs.len());
    for r in refs {
        let resolved = store.resolve(r)?;
        let name = match (normalize_ref(r), resolved.name) {
            (Ok(asked), Some(found)) if asked == found => Some(found),
            _ => None,
        };
        out.push((name, resolved.descriptor));
    }
    Ok(out)
}

/// Writes an OCI-layout tar holding only the images `refs` name (see [`Store::resolve`] for
/// what a ref may be), with their ref names in `index.json`. Returns the writer.
pub fn save_oci_archive<W: Write>(store: &Store, refs: &[&str], out: W) -> Result<W> {
    let _session = store.session()?;
    let mut index = Index::default();
    let mut roots = Vec::new();
    for (name, d) in resolve_refs(store, refs)? {
        let mut entry = Descriptor::new(d.media_type.clone(), d.digest.clone(), d.size);
        entry.platform = d.platform.clone();
        entry.artifact_type = d.artifact_type.clone();
        if let Some(n) = name {
            entry.annotations.insert(ANNOTATION_REF_NAME.to_string(), n);
        }
        if !index.manifests.contains(&entry) {
            index.manifests.push(entry);
        }
        roots.push(d);
    }
    let blobs = store.reachable(&roots)?;
    let mut entries = vec![
        ("blobs/".to_string(), Source::Dir),
        ("blobs/sha256/".to_string(), Source::Dir),
        (
            "oci-layout".to_string(),
            Source::Bytes(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
        ),
        ("index.json".to_string(), Source::Bytes(canonical(&index)?)),
    ];
    for (digest, d) in blobs {
        entries.push((
            format!("blobs/sha256/{}", digest.hex()),
            Source::Blob(digest, d.size),
        ));
    }
    write_tar(store, out, entries)
}

fn canonical<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    json::to_canonical_vec(v).map_err(|source| {
        ArchiveError::Store(StoreError::Serialize {
            what: "archive metadata",
            source,
        })
    })
}

/// One image in a docker archive's `manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Writes a `docker save` tar of the images `refs` name. Each layer is written uncompressed
/// (decompressed as its media type says) after checking that its digest is the config's diff_id.
pub fn save_docker_archive<W: Write>(store: &Store, refs: &[&str], out: W) -> Result<W> {
    let _session = store.session()?;
    // Group refs by image ID, in first-seen order.
    let mut images: Vec<(Image, Vec<String>)> = Vec::new();
    for (name, d) in resolve_refs(store, refs)? {
        let image = store.image(&d)?;
        let tag = name
            .map(|n| normalize_ref(&n))
            .transpose()
            .map_err(StoreError::from)?;
        match images.iter_mut().find(|(i, _)| i.id() == image.id()) {
            Some((_, tags)) => tags.extend(tag.filter(|t| !tags.contains(t))),
            None => images.push((image, tag.into_iter().collect())),
        }
    }
    let mut entries = Vec::new();
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut layer_sizes: HashMap<Digest, u64> = HashMap::new();
    for (image, tags) in &images {
        let diff_ids = &image.config.rootfs.diff_ids;
        if diff_ids.len() != image.manifest.layers.len() {
            return Err(ArchiveError::LayerCountMismatch {
                image: image.descriptor.digest.clone(),
                layers: image.manifest.layers.len(),
                diff_ids: diff_ids.len(),
            });
        }
        let config_name = format!("{}.json", image.id().hex());
        entries.push((
            config_name.clone(),
            Source::Bytes(image.config_bytes.clone()),
        ));
        let mut layer_paths = Vec::new();
        for (layer, diff_id) in image.manifest.layers.iter().zip(diff_ids) {
            let dir = diff_id.hex().to_string();
            layer_paths.push(format!("{dir}/layer.tar"));
            if layer_sizes.contains_key(diff_id) {
                continue;
            }
            let (actual, size) = uncompressed_digest(store, &layer.digest, compression_of(layer)?)?;
            if &actual != diff_id {
                return Err(ArchiveError::DiffIdMismatch {
                    layer: layer.digest.clone(),
                    expected: diff_id.clone(),
                    actual,
                });
            }
            layer_sizes.insert(diff_id.clone(), size);
            entries.push((format!("{dir}/"), Source::Dir));
            entries.push((
                format!("{dir}/layer.tar"),
                Source::Layer {
                    layer: layer.clone(),
                    size,
                },
            ));
        }
        for tag in tags {
            let r = ImageRef::parse(tag).map_err(StoreError::from)?;
            if let Some(top) = diff_ids.last() {
                repositories
                    .entry(r.name.clone())
                    .or_default()
                    .insert(r.tag_or_latest().to_string(), top.hex().to_string());
            }
        }
        manifest.push(DockerManifestEntry {
            config: config_name,
            repo_tags: Some(tags.clone()),
            layers: layer_paths,
        });
    }
    let manifest_json = serde_json::to_vec(&manifest).map_err(|source| StoreError::Serialize {
        what: "manifest.json",
        source,
    })?;
    entries.push(("manifest.json".to_string(), Source::Bytes(manifest_json)));
    entries.push((
        "repositories".to_string(),
        Source::Bytes(canonical(&repositories)?),
    ));
    write_tar(store, out, entries)
}

// ------------------------------------------------------------------------------------ loading

/// What a path in the archive holds.
#[derive(Debug, Clone)]
enum Item {
    Blob(Digest, u64),
    /// A symlink or hard link to another path (already normalized and inside the archive).
    Link(String),
}

/// Normalizes a member path: strips `./` and empty components; refuses absolute paths and `..`.
fn clean_path(raw: &str) -> Result<String> {
    if raw.starts_with('/') {
        return Err(ArchiveError::UnsafePath {
            path: raw.to_string(),
        });
    }
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(ArchiveError::UnsafePath {
                    path: raw.to_string(),
                });
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// Resolves a link target relative to the directory of `from`, lexically, inside the archive.
fn resolve_link(from: &str, target: &str) -> Result<String> {
    let unsafe_path = || ArchiveError::UnsafePath {
        path: format!("{from} -> {target}"),
    };
    if target.starts_with('/') {
        return Err(unsafe_path());
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop(); // the link's own name
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or_else(unsafe_path)?;
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

struct Contents {
    items: HashMap<String, Item>,
    metadata: HashMap<&'static str, Vec<u8>>,
}

impl Contents {
    fn lookup(&self, path: &str) -> Result<(Digest, u64)> {
        let mut p = clean_path(path)?;
        for _ in 0..MAX_LINKS {
            match self.items.get(&p) {
                Some(Item::Blob(d, n)) => return Ok((d.clone(), *n)),
                Some(Item::Link(t)) => p = t.clone(),
                None => break,
            }
        }
        Err(ArchiveError::MissingEntry {
            path: path.to_string(),
        })
    }
}

const METADATA_FILES: [&str; 4] = ["manifest.json", "index.json", "oci-layout", "repositories"];

/// Reads every member into the store (regular files) or memory (metadata), without trusting paths.
fn read_members(store: &Store, reader: impl Read) -> Result<Contents> {
    let mut contents = Contents {
        items: HashMap::new(),
        metadata: HashMap::new(),
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(ArchiveError::Read)? {
        let mut entry = entry.map_err(ArchiveError::Read)?;
        let raw = String::from_utf8(entry.path_bytes().into_owned()).map_err(|e| {
            ArchiveError::UnsafePath {
                path: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            }
        })?;
        let path = clean_path(&raw)?;
        let link_target = entry
            .link_name_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        match entry.header().entry_type() {
            tar::EntryType::Symlink => {
                let target = resolve_link(&path, &link_target)?;
                contents.items.insert(path, Item::Link(target));
            }
            tar::EntryType::Link => {
                let target = clean_path(&link_target)?;
                contents.items.insert(path, Item::Link(target));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let expected = entry.size();
                if let Some(name) = METADATA_FILES.iter().find(|n| **n == path) {
                    if expected > METADATA_LIMIT {
                        return Err(ArchiveError::TooLarge {
                            path,
                            limit: METADATA_LIMIT,
                        });
                    }
                    let mut buf = Vec::new();
                    (&mut entry)
                        .take(METADATA_LIMIT)
                        .read_to_end(&mut buf)
                        .map_err(ArchiveError::Read)?;
                    check_truncated(&path, expected, buf.len() as u64)?;
                    contents.metadata.insert(name, buf);
                    continue;
                }
                let named_digest = path
                    .strip_prefix("blobs/sha256/")
                    .and_then(|h| format!("sha256:{h}").parse::<Digest>().ok());
                let skip = (named_digest.is_none() && path.starts_with("blobs/"))
                    || path.ends_with("/VERSION")
                    || path.ends_with("/json");
                if skip {
                    let n = io::copy(&mut entry, &mut io::sink()).map_err(ArchiveError::Read)?;
                    check_truncated(&path, expected, n)?;
                    continue;
                }
                let mut w = store.blob_writer()?;
                let n = io::copy(&mut entry, &mut w).map_err(ArchiveError::Read)?;
                check_truncated(&path, expected, n)?;
                let (digest, size) = match &named_digest {
                    Some(d) => w.commit_expect(d)?,
                    None => w.commit()?,
                };
                contents.items.insert(path, Item::Blob(digest, size));
            }
            _ => {} // directories, devices, fifos: nothing an image archive needs
        }
    }
    Ok(contents)
}

fn check_truncated(path: &str, expected: u64, actual: u64) -> Result<()> {
    if expected != actual {
        return Err(ArchiveError::Truncated {
            path: path.to_string(),
            expected,
            actual,
        });
    }
    Ok(())
}

/// Loads an archive from a file (see [`load_archive`]).
pub fn load_archive_file(store: &Store, path: impl AsRef<Path>) -> Result<Vec<LoadedImage>> {
    let f = fs_err::File::open(path.as_ref()).map_err(ArchiveError::Read)?;
    load_archive(store, f)
}

/// Imports a docker-archive or oci-archive (plain, gzip or zstd) into the store and sets the refs
/// it names: docker `RepoTags`, or in an OCI archive the `io.containerd.image.name` annotation or
/// else `org.opencontainers.image.ref.name`, normalized with `:latest` and in Docker's familiar
/// form (`docker.io/library/app:1` → `app:1`, as `docker load` shows it). Docker layers are stored
/// as they are in the archive (normally uncompressed tar, `application/vnd.oci.image.layer.v1.tar`)
/// under an OCI manifest written through canonical JSON; a Docker 25+ archive's own OCI manifest
/// is kept when it matches.
pub fn load_archive<R: Read>(store: &Store, reader: R) -> Result<Vec<LoadedImage>> {
    let _session = store.session()?;
    let mut br = BufReader::with_capacity(1 << 16, reader);
    let head = br.fill_buf().map_err(ArchiveError::Read)?;
    let contents = match sniff_compression(head) {
        Compression::None => read_members(store, br)?,
        Compression::Gzip => read_members(store, MultiGzDecoder::new(br))?,
        Compression::Zstd => read_members(
            store,
            zstd::Decoder::with_buffer(br).map_err(ArchiveError::Read)?,
        )?,
    };
    let loaded = if contents.metadata.contains_key("manifest.json") {
        import_docker(store, &contents)?
    } else if contents.metadata.contains_key("index.json")
        && contents.metadata.contains_key("oci-layout")
    {
        import_oci(store, &contents)?
    } else {
        return Err(ArchiveError::NotAnImageArchive);
    };
    let named: Vec<(&str, &Descriptor)> = loaded
        .iter()
        .filter_map(|l| l.name.as_deref().map(|n| (n, &l.descriptor)))
        .collect();
    store.set_refs(&named)?;
    Ok(loaded)
}

fn malformed(format: &'static str, reason: impl Into<String>) -> ArchiveError {
    ArchiveError::Malformed {
        format,
        reason: reason.into(),
    }
}

fn import_docker(store: &Store, contents: &Contents) -> Result<Vec<LoadedImage>> {
    const F: &str = "docker";
    let entries: Vec<DockerManifestEntry> =
        serde_json::from_slice(&contents.metadata["manifest.json"])
            .map_err(|e| malformed(F, format!("manifest.json: {e}")))?;
    if entries.is_empty() {
        return Err(malformed(F, "manifest.json lists no image"));
    }
    let oci_manifests = docker25_manifests(store, contents);
    let mut loaded = Vec::new();
    for entry in entries {
        let (config_digest, config_size) = contents.lookup(&entry.config)?;
        let config_bytes = store.read_blob(&config_digest)?;
        let config: ImageConfig = serde_json::from_slice(&config_bytes)
            .map_err(|e| malformed(F, format!("config {}: {e}", entry.config)))?;
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != entry.layers.len() {
            return Err(ArchiveError::LayerCountMismatch {
                image: config_digest,
                layers: entry.layers.len(),
                diff_ids: diff_ids.len(),
            });
        }
        let mut layers = Vec::new();
        for (path, diff_id) in entry.layers.iter().zip(diff_ids) {
            let (digest, size) = contents.lookup(path)?;
            let mut head = [0u8; 4];
            let n = store
                .open_blob(&digest)?
                .read(&mut head)
                .map_err(|e| read_error(store, &digest, e))?;
            let compression = sniff_compression(&head[..n]);
            let actual = match compression {
                Compression::None => digest.clone(),
                c => uncompressed_digest(store, &digest, c)?.0,
            };
            if &actual != diff_id {
                return Err(ArchiveError::DiffIdMismatch {
                    layer: digest,
                    expected: diff_id.clone(),
                    actual,
                });
            }
            let media_type = match compression {
                Compression::None => media::OCI_LAYER_TAR,
                Compression::Gzip => media::OCI_LAYER_GZIP,
                Compression::Zstd => media::OCI_LAYER_ZSTD,
            };
            layers.push(Descriptor::new(media_type, digest, size));
        }
        let keep = oci_manifests.iter().find(|(_, m)| {
            m.config.digest == config_digest
                && m.layers
                    .iter()
                    .map(|l| &l.digest)
                    .eq(layers.iter().map(|l| &l.digest))
        });
        let descriptor = match keep {
            Some((d, _)) => Descriptor::new(d.media_type.clone(), d.digest.clone(), d.size),
            None => {
                let manifest = Manifest {
                    schema_version: 2,
                    media_type: Some(media::OCI_MANIFEST.to_string()),
                    artifact_type: None,
                    config: Descriptor::new(media::OCI_CONFIG, config_digest, config_size),
                    layers,
                    subject: None,
                    annotations: BTreeMap::new(),
                };
                store.write_json(media::OCI_MANIFEST, &manifest)?
            }
        };
        let tags = entry.repo_tags.unwrap_or_default();
        if tags.is_empty() {
            loaded.push(LoadedImage {
                name: None,
                descriptor: descriptor.clone(),
            });
        }
        for tag in tags {
            let name = normalize_ref(&familiar(&tag))
                .map_err(|e| malformed(F, format!("RepoTags: {e}")))?;
            loaded.push(LoadedImage {
                name: Some(name),
                descriptor: descriptor.clone(),
            });
        }
    }
    Ok(loaded)
}

/// The OCI manifests of a Docker 25+ archive (which also has `index.json` and `blobs/`), so that
/// loading keeps their digests. Anything unreadable is simply not reused.
fn docker25_manifests(store: &Store, contents: &Contents) -> Vec<(Descriptor, Manifest)> {
    let Some(index) = contents
        .metadata
        .get("index.json")
        .and_then(|b| serde_json::from_slice::<Index>(b).ok())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stack: Vec<(Descriptor, usize)> = index.manifests.into_iter().map(|d| (d, 0)).collect();
    while let Some((d, depth)) = stack.pop() {
        let Ok(bytes) = store.read_descriptor(&d) else {
            continue;
        };
        match kind_of(&d.media_type) {
            Kind::Manifest => {
                if let Ok(m) = serde_json::from_slice::<Manifest>(&bytes) {
                    out.push((d, m));
                }
            }
            Kind::Index if depth < 4 => {
                if let Ok(i) = serde_json::from_slice::<Index>(&bytes) {
                    stack.extend(i.manifests.into_iter().map(|m| (m, depth + 1)));
                }
            }
            _ => {}
        }
    }
    out
}

fn import_oci(store: &Store, contents: &Contents) -> Result<Vec<LoadedImage>> {
    const F: &str = "oci";
    #[derive(Deserialize)]
    struct Layout {
        #[serde(rename = "imageLayoutVersion")]
        version: String,
    }
    let layout: Layout = serde_json::from_slice(&contents.metadata["oci-layout"])
        .map_err(|e| malformed(F, format!("oci-layout: {e}")))?;
    if layout.version != "1.0.0" {
        return Err(malformed(
            F,
            format!("unsupported imageLayoutVersion {:?}", layout.version),
        ));
    }
    let index: Index = serde_json::from_slice(&contents.metadata["index.json"])
        .map_err(|e| malformed(F, format!("index.json: {e}")))?;
    let mut loaded = Vec::new();
    for d in index.manifests {
        // Every blob must have come in with the archive (or already be in the store) intact.
        store.reachable(std::slice::from_ref(&d))?;
        let name = d
            .annotations
            .get(ANNOTATION_CONTAINERD_NAME)
            .or_else(|| d.annotations.get(ANNOTATION_REF_NAME))
            .map(|n| {
                normalize_ref(&familiar(n))
                    .map_err(|e| malformed(F, format!("index.json ref name: {e}")))
            })
            .transpose()?;
        let mut descriptor = Descriptor::new(d.media_type.clone(), d.digest.clone(), d.size);
        descriptor.platform = d.platform.clone();
        descriptor.artifact_type = d.artifact_type.clone();
        loaded.push(LoadedImage { name, descriptor });
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests;
