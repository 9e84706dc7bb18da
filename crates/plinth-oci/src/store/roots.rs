//! Extra gc roots: named lists of descriptors, in groups, that [`Store::gc`] treats as reachable
//! like `index.json` entries. See the store module docs ("Extra gc roots").

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::time::SystemTime;

use rustix::fs::{AtFlags, Timespec, Timestamps, UTIME_NOW};
use serde::{Deserialize, Serialize};

use super::{Missing, PRIVATE_DIR, Result, Store, StoreError};
use crate::types::Descriptor;
use crate::{Digest, json};

/// `.plinth/roots`: one directory per group, one `<name>.json` file per root.
pub(super) const ROOTS_DIR: &str = "roots";
const ROOT_EXT: &str = ".json";
/// Longest group or root name (a file name with `.json` added must fit in 255 bytes).
const MAX_NAME_LEN: usize = 200;

/// The content of a root file (`.plinth/roots/<group>/<name>.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Root {
    /// Walked by gc like `index.json` entries (a manifest keeps its config and layers, an index
    /// its manifests). A listed blob that is missing is skipped.
    #[serde(default)]
    pub descriptors: Vec<Descriptor>,
    /// Layers (by diff_id) whose extracted directories ([`Store::extracted_layer`]) gc keeps,
    /// besides those of every image reachable from `index.json` and the roots.
    #[serde(default, rename = "diffIds", skip_serializing_if = "Vec::is_empty")]
    pub diff_ids: Vec<Digest>,
    /// The owner's own data, stored as given (`null` when there is none).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

/// One root of a group, as [`Store::roots`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootInfo {
    pub name: String,
    /// The root file's mtime: when it was written or last [touched](Store::touch_root).
    pub modified: SystemTime,
    /// The root file's size in bytes.
    pub file_size: u64,
}

/// Group and root names: 1 to 200 of `[A-Za-z0-9._-]`, not starting with `.`.
fn check_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("it is longer than 200 bytes")
    } else if name.starts_with('.') {
        Some("it starts with '.'")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Some("only ASCII letters, digits, '.', '_' and '-' are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(StoreError::InvalidRootName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

impl Store {
    fn roots_dir(&self) -> PathBuf {
        self.root.join(PRIVATE_DIR).join(ROOTS_DIR)
    }

    /// The file of root `name` in `group` (whether or not it exists). Fails for an invalid name.
    pub fn root_path(&self, group: &str, name: &str) -> Result<PathBuf> {
        check_name(group)?;
        check_name(name)?;
        Ok(self
            .roots_dir()
            .join(group)
            .join(format!("{name}{ROOT_EXT}")))
    }

    /// Writes (or replaces) the root `name` in `group` listing `descriptors`, atomically.
    /// Equivalent to [`Store::set_root_with`] with only descriptors.
    pub fn set_root(&self, group: &str, name: &str, descriptors: &[Descriptor]) -> Result<()> {
        self.set_root_with(
            group,
            name,
            &Root {
                descriptors: descriptors.to_vec(),
                ..Root::default()
            },
        )
    }

    /// Writes (or replaces) a root atomically (temp file, fsync, rename). Like a ref, it is written
    /// only when every blob its descriptors need is present with the right size (otherwise
    /// [`StoreError::MissingBlob`] / [`StoreError::SizeMismatch`] and nothing is written); gc is held
    /// off between that check and the rename.
    pub fn set_root_with(&self, group: &str, name: &str, root: &Root) -> Result<()> {
        let path = self.root_path(group, name)?;
        let bytes = json::to_canonical_vec(root).map_err(|source| StoreError::Serialize {
            what: "gc root",
            source,
        })?;
        let _gc = self.gc_shared_lock()?;
        for d in &root.descriptors {
            self.walk(d, Missing::Error, &mut BTreeMap::new())?;
        }
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir)?;
        }
        self.replace_file(&path, &bytes)
    }

    /// Reads a root; `None` if there is none. A root file that is not valid JSON is
    /// [`StoreError::CorruptRoot`].
    pub fn root(&self, group: &str, name: &str) -> Result<Option<Root>> {
        let path = self.root_path(group, name)?;
        let bytes = match fs_err::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::CorruptRoot { path, source })
    }

    /// Sets a root file's mtime to now (for least-recently-used bookkeeping). Returns whether the
    /// root exists.
    pub fn touch_root(&self, group: &str, name: &str) -> Result<bool> {
        let path = self.root_path(group, name)?;
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_NOW,
        };
        let times = Timestamps {
            last_access: now,
            last_modification: now,
        };
        match rustix::fs::utimensat(rustix::fs::CWD, &path, &times, AtFlags::empty()) {
            Ok(()) => Ok(true),
            Err(rustix::io::Errno::NOENT) => Ok(false),
            Err(e) => Err(StoreError::IoAt {
                what: "touching",
                path,
                source: e.into(),
            }),
        }
    }

    /// Removes a root; returns whether it existed. Its blobs stay until [`Store::gc`].
    pub fn remove_root(&self, group: &str, name: &str) -> Result<bool> {
        let path = self.root_path(group, name)?;
        match fs_err::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The roots of a group, sorted by name (without reading them).
    pub fn roots(&self, group: &str) -> Result<Vec<RootInfo>> {
        check_name(group)?;
        let dir = self.roots_dir().join(group);
        let entries = match fs_err::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry?;
            let file_name = entry.file_name();
            let Some(name) = file_name
                .to_str()
                .and_then(|n| n.strip_suffix(ROOT_EXT))
                .filter(|n| check_name(n).is_ok())
            else {
                continue;
            };
            let md = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // removed meanwhile
                Err(e) => return Err(e.into()),
            };
            if !md.is_file() {
                continue;
            }
            out.push(RootInfo {
                name: name.to_string(),
                modified: md.modified()?,
                file_size: md.len(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Every root of every group, for gc. A root file that cannot be read stops gc, since what it
    /// protects cannot be known.
    pub(super) fn all_roots(&self) -> Result<Vec<Root>> {
        let dir = self.roots_dir();
        let groups = match fs_err::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for group in groups {
            let group = group?;
            let Some(group_name) = group.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if check_name(&group_name).is_err() || !group.file_type()?.is_dir() {
                continue;
            }
            for info in self.roots(&group_name)? {
                if let Some(root) = self.root(&group_name, &info.name)? {
                    out.push(root);
                }
            }
        }
        Ok(out)
    }
}
