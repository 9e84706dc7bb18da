//! A read-only view of a store image's merged filesystem that answers `lstat`, `stat`,
//! `read_dir` and `read` without unpacking the image, for the static checks.
//!
//! [`ImageView::open`] reads the manifest, the config and every layer's tar headers (through
//! plinth-oci's layer header cache, [`Store::layer_entries`], so a second look at an image
//! decompresses nothing) and merges them the way a container runtime stacks layers: a whiteout
//! (`.wh.name`) removes a path and everything below it from the lower layers, an opaque
//! directory (`.wh..wh..opq`) removes everything below it, and a non-directory replacing a
//! directory removes the directory's contents. Each path remembers which layer holds its topmost
//! version.
//!
//! Paths are resolved inside the image root: `..` never climbs above `/`, and an absolute
//! symlink target is taken relative to the image root, never the host's. [`ImageView::read`]
//! streams only the one layer blob that holds the file's topmost version
//! ([`plinth_oci::layer::read_layer_file`]) and stops at [`MAX_READ`] bytes.

use std::collections::{BTreeMap, HashMap};

use plinth_oci::layer::{EntryInfoKind, FileLookup, LayerEntryInfo, LayerError, read_layer_file};
use plinth_oci::store::{Image, Store, StoreError};
use plinth_oci::{Descriptor, Digest, ImageConfig};

use crate::model::FileKind;

/// The largest file [`ImageView::read`] returns (64 MiB).
pub const MAX_READ: u64 = 64 * 1024 * 1024;
/// How many symlinks one lookup follows before giving up (Linux's limit).
pub const MAX_SYMLINK_HOPS: usize = 40;

/// Errors of opening an image or reading a file from it.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("reading layer {layer}: {source}")]
    Layer {
        layer: Digest,
        #[source]
        source: LayerError,
    },
    #[error("{path} is not a regular file in the image (it is a {kind})")]
    NotRegularFile { path: String, kind: &'static str },
    #[error("{path} is {size} bytes, more than the {max} bytes plinth test reads")]
    TooLarge { path: String, size: u64, max: u64 },
    #[error(
        "layer {layer} does not hold {path} although its headers list it (a damaged header cache? remove the store's .plinth/headers/ and retry)"
    )]
    Inconsistent { path: String, layer: Digest },
}

/// Metadata of one path of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: FileKind,
    /// Permission bits with setuid/setgid/sticky (`0o7777` mask).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// Content size of a regular file (0 for everything else).
    pub size: u64,
    /// A symlink's target, as stored.
    pub link_target: Option<String>,
}

/// One path of the merged filesystem.
#[derive(Debug, Clone)]
struct Node {
    entry: Entry,
    /// Index into the manifest's layers of the layer holding the topmost version.
    layer: usize,
    /// For a hardlink: the path of the same layer whose content it shares.
    content_path: Option<String>,
}

/// The merged filesystem of an image, from its layer headers.
#[derive(Debug, Clone)]
pub struct ImageView {
    store: Store,
    image: Image,
    /// Relative path (no leading `/`) → node. The root is not in here.
    nodes: BTreeMap<String, Node>,
}

/// Splits a path into its components, dropping empty and `.` ones (`..` is kept).
fn components(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => "regular file",
        FileKind::Directory => "directory",
        FileKind::Symlink => "symlink",
        FileKind::Other => "special file",
    }
}

impl ImageView {
    /// Resolves `reference` in the store (a name, a digest, an ID prefix: see
    /// [`Store::resolve`]; for a multi-platform index, linux/amd64) and reads its manifest,
    /// config and layer headers. Nothing is extracted.
    pub fn open(store: &Store, reference: &str) -> Result<ImageView, ImageError> {
        let resolved = store.resolve(reference)?;
        let image = store.image(&resolved.descriptor)?;
        let mut view = ImageView {
            store: store.clone(),
            image,
            nodes: BTreeMap::new(),
        };
        let layers = view.image.manifest.layers.clone();
        for (index, layer) in layers.iter().enumerate() {
            let entries = store.layer_entries(layer)?;
            view.apply_layer(index, &entries);
        }
        Ok(view)
    }

    /// The image config (Docker-only fields such as `Healthcheck` included).
    pub fn config(&self) -> &ImageConfig {
        &self.image.config
    }

    /// The manifest digest.
    pub fn digest(&self) -> &Digest {
        &self.image.descriptor.digest
    }

    /// The loaded image (manifest, config and their bytes).
    pub fn image(&self) -> &Image {
        &self.image
    }

    /// Applies one layer: first everything it hides from the layers below (whiteouts, opaque
    /// directories), then its entries.
    fn apply_layer(&mut self, layer: usize, entries: &[LayerEntryInfo]) {
        for e in entries {
            match e.kind {
                EntryInfoKind::Whiteout => {
                    self.nodes.remove(&e.path);
                    self.remove_children(&e.path);
                }
                EntryInfoKind::OpaqueWhiteout => self.remove_children(&e.path),
                _ => {}
            }
        }
        // Regular files of this layer, for hardlinks (their headers carry no size).
        let files: HashMap<&str, &LayerEntryInfo> = entries
            .iter()
            .filter(|e| e.kind == EntryInfoKind::File)
            .map(|e| (e.path.as_str(), e))
            .collect();
        for e in entries {
            if e.path.is_empty() {
                continue;
            }
            let mut entry = Entry {
                kind: FileKind::Other,
                mode: e.mode,
                uid: e.uid,
                gid: e.gid,
                size: 0,
                link_target: None,
            };
            let mut content_path = None;
            match &e.kind {
                EntryInfoKind::Whiteout | EntryInfoKind::OpaqueWhiteout => continue,
                EntryInfoKind::Dir => entry.kind = FileKind::Directory,
                EntryInfoKind::File => {
                    entry.kind = FileKind::File;
                    entry.size = e.size;
                }
                EntryInfoKind::Hardlink { target } => {
                    entry.kind = FileKind::File;
                    if let Some(t) = files.get(target.as_str()) {
                        entry.size = t.size;
                        entry.mode = t.mode;
                        entry.uid = t.uid;
                        entry.gid = t.gid;
                    }
                    content_path = Some(target.clone());
                }
                EntryInfoKind::Symlink { target } => {
                    entry.kind = FileKind::Symlink;
                    entry.link_target = Some(target.clone());
                }
                EntryInfoKind::CharDevice { .. }
                | EntryInfoKind::BlockDevice { .. }
                | EntryInfoKind::Fifo => {}
            }
            if entry.kind != FileKind::Directory {
                self.remove_children(&e.path);
            }
            self.nodes.insert(
                e.path.clone(),
                Node {
                    entry,
                    layer,
                    content_path,
                },
            );
        }
    }

    fn remove_children(&mut self, dir: &str) {
        if dir.is_empty() {
            self.nodes.clear();
            return;
        }
        let prefix = format!("{dir}/");
        let doomed: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// Resolves `path` to the key of an existing node ("" for the root), following symlinks
    /// of the parents (and of the final component when `follow_final`), inside the image root.
    fn resolve(&self, path: &str, follow_final: bool) -> Option<String> {
        let mut pending: Vec<String> = components(path).rev().map(str::to_string).collect();
        let mut current: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            if c == ".." {
                current.pop();
                continue;
            }
            let mut candidate = current.join("/");
            if !candidate.is_empty() {
                candidate.push('/');
            }
            candidate.push_str(&c);
            let node = self.nodes.get(&candidate)?;
            let last = pending.is_empty();
            if node.entry.kind == FileKind::Symlink && (follow_final || !last) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return None;
                }
                let target = node.entry.link_target.as_deref().unwrap_or_default();
                if target.starts_with('/') {
                    current.clear();
                }
                pending.extend(components(target).rev().map(str::to_string));
                continue;
            }
            if !last && node.entry.kind != FileKind::Directory {
                return None;
            }
            current.push(c);
        }
        Some(current.join("/"))
    }

    fn entry_at(&self, key: &str) -> Option<Entry> {
        if key.is_empty() {
            return Some(Entry {
                kind: FileKind::Directory,
                mode: 0o755,
                uid: 0,
                gid: 0,
                size: 0,
                link_target: None,
            });
        }
        self.nodes.get(key).map(|n| n.entry.clone())
    }

    /// The entry at `path` (absolute or relative to the root). Symlinks among the parents are
    /// followed inside the image root; a final symlink is not.
    pub fn lstat(&self, path: &str) -> Option<Entry> {
        self.entry_at(&self.resolve(path, false)?)
    }

    /// The entry at `path`, with every symlink followed (at most [`MAX_SYMLINK_HOPS`]); `None`
    /// for a missing path, a dangling link or a link loop.
    pub fn stat(&self, path: &str) -> Option<Entry> {
        self.entry_at(&self.resolve(path, true)?)
    }

    /// The names in directory `path` (symlinks followed), sorted; `None` when it is not a
    /// directory.
    pub fn read_dir(&self, path: &str) -> Option<Vec<String>> {
        let key = self.resolve(path, true)?;
        if self.entry_at(&key)?.kind != FileKind::Directory {
            return None;
        }
        let prefix = if key.is_empty() {
            String::new()
        } else {
            format!("{key}/")
        };
        Some(
            self.nodes
                .range(prefix.clone()..)
                .take_while(|(k, _)| k.starts_with(&prefix))
                .filter_map(|(k, _)| {
                    let rest = &k[prefix.len()..];
                    (!rest.contains('/')).then(|| rest.to_string())
                })
                .collect(),
        )
    }

    /// The content of the regular file at `path` (symlinks followed), or `None` when nothing
    /// is there. Only the layer blob holding the file's topmost version is read, and only up to
    /// the file. A directory or special file is [`ImageError::NotRegularFile`]; a file larger
    /// than [`MAX_READ`] is [`ImageError::TooLarge`].
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, ImageError> {
        let Some(key) = self.resolve(path, true) else {
            return Ok(None);
        };
        let Some(node) = self.nodes.get(&key) else {
            return Err(ImageError::NotRegularFile {
                path: path.to_string(),
                kind: kind_name(FileKind::Directory),
            });
        };
        if node.entry.kind != FileKind::File {
            return Err(ImageError::NotRegularFile {
                path: path.to_string(),
                kind: kind_name(node.entry.kind),
            });
        }
        if node.entry.size > MAX_READ {
            return Err(ImageError::TooLarge {
                path: path.to_string(),
                size: node.entry.size,
                max: MAX_READ,
            });
        }
        let Some(layer) = self.image.manifest.layers.get(node.layer) else {
            return Err(ImageError::Inconsistent {
                path: path.to_string(),
                layer: self.image.descriptor.digest.clone(),
            });
        };
        let mut wanted = node.content_path.clone().unwrap_or(key);
        // A hardlink may point at another hardlink only in malformed layers; bound the chase.
        for _ in 0..=MAX_SYMLINK_HOPS {
            match self.read_from_layer(layer, &wanted)? {
                FileLookup::Found(data) => return Ok(Some(data)),
                FileLookup::HardlinkTo(target) => wanted = target,
                FileLookup::Deleted | FileLookup::Absent => break,
            }
        }
        Err(ImageError::Inconsistent {
            path: path.to_string(),
            layer: layer.digest.clone(),
        })
    }

    fn read_from_layer(&self, layer: &Descriptor, path: &str) -> Result<FileLookup, ImageError> {
        let blob = self.store.open_blob(&layer.digest)?;
        read_layer_file(blob, &layer.media_type, path, MAX_READ).map_err(|source| {
            ImageError::Layer {
                layer: layer.digest.clone(),
                source,
            }
        })
    }
}
