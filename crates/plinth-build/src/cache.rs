//! The build cache: what a build step produced, stored under a key the engine computes, so a
//! later build can restore the step without running it.
//!
//! This module is storage only; the engine decides what goes into a key ([`cache_key`] hashes the
//! parts it chooses) and what an entry's `extra` holds.
//!
//! # Storage
//! Each entry is a gc root of the store ([`Store::set_root_with`]) in the group `cache`, named by
//! the key's hex digits: `<store>/.plinth/roots/cache/<hex>.json`. The root lists the entry's layer
//! blob (so [`Store::gc`] keeps it) and its diff_id (so gc keeps the layer's extracted directory,
//! [`Store::extracted_layer`], which later RUN steps mount), and carries the [`CacheEntry`] itself
//! as its data. A hit ([`BuildCache::get`]) therefore reads one small file, checks that the layer
//! blob is present and sets the file's mtime, which records the last use; no image is walked.
//!
//! An entry keeps only its own layer. Restoring a step also needs the parent's layers, which the
//! engine has already (the parent is the previous step, restored or built, or a base image).
//!
//! # Size limit and pruning
//! [`BuildCache::prune`] drops least-recently-used entries until the distinct layer bytes the
//! remaining entries reference are at most the limit, then runs the store's gc without waiting
//! ([`GcWait::NoWait`]); when builds are running the entries are still dropped and the outcome
//! says gc was busy (their blobs go at the next gc). [`BuildCache::put`] never prunes: a build
//! holds a store session, so gc could not run from inside it anyway. The CLI calls `prune` with
//! [`DEFAULT_CACHE_LIMIT`] (or the user's limit) after a build, when its session is closed.
//! Layer bytes are counted once per distinct blob, whether or not an image also uses the blob.

use std::collections::BTreeMap;
use std::time::SystemTime;

use plinth_oci::store::{GcReport, GcWait, Root, Store, StoreError};
use plinth_oci::{Descriptor, Digest};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The default size limit of the cache (layer bytes): 10 GiB.
pub const DEFAULT_CACHE_LIMIT: u64 = 10 * 1024 * 1024 * 1024;

/// The store root group holding the cache entries.
pub const CACHE_GROUP: &str = "cache";

/// What a cached step produced: the layer it added (None for steps that only change the config),
/// plus what the engine needs to restore the step without running it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheEntry {
    pub layer: Option<CachedLayer>,
    /// The history `created_by` of the step.
    pub created_by: String,
    /// Engine-defined (e.g. the mountpoints a RUN step created); stored as given.
    #[serde(default)]
    pub extra: serde_json::Value,
}

/// A layer a cached step added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedLayer {
    /// The layer blob, as it goes into the manifest.
    pub descriptor: Descriptor,
    /// The digest of the uncompressed layer, as it goes into the config's `rootfs.diff_ids`.
    pub diff_id: Digest,
}

/// Errors of the build cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot serialize the build cache entry {key}: {source}")]
    Serialize {
        key: Digest,
        source: serde_json::Error,
    },
}

/// How much the cache holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheUsage {
    /// Readable entries.
    pub entries: usize,
    /// Distinct layer bytes (as stored, compressed) the entries reference.
    pub bytes: u64,
}

/// What the gc run by [`BuildCache::prune`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcOutcome {
    Ran(GcReport),
    /// Builds were running, so gc did not run; the dropped entries' blobs stay until the next gc.
    Busy {
        sessions: usize,
    },
}

/// What [`BuildCache::prune`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneReport {
    /// Entries dropped: least recently used ones, plus unreadable ones and ones whose layer blob
    /// is gone.
    pub removed_entries: usize,
    /// Distinct layer bytes no remaining entry references (gc frees those no image uses).
    pub removed_bytes: u64,
    /// What is left.
    pub remaining: CacheUsage,
    pub gc: GcOutcome,
}

/// The build cache of a store (see the module docs).
#[derive(Debug, Clone)]
pub struct BuildCache {
    store: Store,
}

/// An entry as [`BuildCache::scan`] finds it.
struct Scanned {
    name: String,
    modified: SystemTime,
    /// The layer blob and its size; `None` for a config-only step.
    layer: Option<(Digest, u64)>,
}

impl BuildCache {
    pub fn new(store: &Store) -> BuildCache {
        BuildCache {
            store: store.clone(),
        }
    }

    /// Looks up an entry and records its use. An entry that cannot be read, or whose layer blob
    /// is gone from the store, is a miss and is removed.
    pub fn get(&self, key: &Digest) -> Result<Option<CacheEntry>, CacheError> {
        let name = key.hex();
        let Some(entry) = self.read_entry(name)? else {
            return Ok(None);
        };
        if let Some(layer) = &entry.layer
            && !self.blob_present(&layer.descriptor)?
        {
            self.store.remove_root(CACHE_GROUP, name)?;
            return Ok(None);
        }
        // A concurrent prune may have dropped the entry meanwhile: still a hit, since the caller
        // holds a session and gc cannot take the blob away.
        self.store.touch_root(CACHE_GROUP, name)?;
        Ok(Some(entry))
    }

    /// Stores (or replaces) an entry. Its layer blob must be in the store already
    /// ([`StoreError::MissingBlob`] otherwise, and nothing is stored). Never prunes (see the
    /// module docs).
    pub fn put(&self, key: &Digest, entry: &CacheEntry) -> Result<(), CacheError> {
        let data = serde_json::to_value(entry).map_err(|source| CacheError::Serialize {
            key: key.clone(),
            source,
        })?;
        let root = Root {
            descriptors: entry.layer.iter().map(|l| l.descriptor.clone()).collect(),
            diff_ids: entry.layer.iter().map(|l| l.diff_id.clone()).collect(),
            data,
        };
        self.store.set_root_with(CACHE_GROUP, key.hex(), &root)?;
        Ok(())
    }

    /// Drops least-recently-used entries until the distinct layer bytes of the rest are at most
    /// `keep_bytes` (entries used at the same time go in key order), then runs the store's gc
    /// without waiting for running builds.
    pub fn prune(&self, keep_bytes: u64) -> Result<PruneReport, CacheError> {
        let (mut scanned, dropped) = self.scan(Cleanup::RemoveBroken)?;
        scanned.sort_by(|a, b| a.modified.cmp(&b.modified).then(a.name.cmp(&b.name)));
        let mut refs: BTreeMap<&Digest, (u64, usize)> = BTreeMap::new();
        for s in &scanned {
            if let Some((d, size)) = &s.layer {
                refs.entry(d).or_insert((*size, 0)).1 += 1;
            }
        }
        let mut total: u64 = refs.values().map(|(size, _)| size).sum();
        let mut removed_entries = dropped;
        let mut removed_bytes = 0;
        let mut kept = scanned.len();
        for s in &scanned {
            if total <= keep_bytes {
                break;
            }
            self.store.remove_root(CACHE_GROUP, &s.name)?;
            removed_entries += 1;
            kept -= 1;
            if let Some((d, _)) = &s.layer
                && let Some((size, count)) = refs.get_mut(d)
            {
                *count -= 1;
                if *count == 0 {
                    total -= *size;
                    removed_bytes += *size;
                }
            }
        }
        let gc = match self.store.gc(GcWait::NoWait) {
            Ok(report) => GcOutcome::Ran(report),
            Err(StoreError::Busy { sessions, .. }) => GcOutcome::Busy { sessions },
            Err(e) => return Err(e.into()),
        };
        Ok(PruneReport {
            removed_entries,
            removed_bytes,
            remaining: CacheUsage {
                entries: kept,
                bytes: total,
            },
            gc,
        })
    }

    /// The number of readable entries and the distinct layer bytes they reference. Reads every
    /// entry; changes nothing.
    pub fn usage(&self) -> Result<CacheUsage, CacheError> {
        let (scanned, _) = self.scan(Cleanup::Keep)?;
        let mut sizes: BTreeMap<&Digest, u64> = BTreeMap::new();
        for s in &scanned {
            if let Some((d, size)) = &s.layer {
                sizes.insert(d, *size);
            }
        }
        Ok(CacheUsage {
            entries: scanned.len(),
            bytes: sizes.values().sum(),
        })
    }

    /// Reads an entry; an unreadable one is removed and reported as absent.
    fn read_entry(&self, name: &str) -> Result<Option<CacheEntry>, CacheError> {
        let root = match self.store.root(CACHE_GROUP, name) {
            Ok(Some(root)) => root,
            Ok(None) => return Ok(None),
            Err(StoreError::CorruptRoot { .. }) => {
                self.store.remove_root(CACHE_GROUP, name)?;
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        match serde_json::from_value(root.data) {
            Ok(entry) => Ok(Some(entry)),
            Err(_) => {
                self.store.remove_root(CACHE_GROUP, name)?;
                Ok(None)
            }
        }
    }

    /// Whether the blob is in the store with the descriptor's size (not re-hashed).
    fn blob_present(&self, d: &Descriptor) -> Result<bool, CacheError> {
        match self.store.blob_size(&d.digest) {
            Ok(size) => Ok(size == d.size),
            Err(StoreError::MissingBlob { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Every usable entry; with [`Cleanup::RemoveBroken`], unreadable entries and entries whose
    /// blob is gone are removed (and counted).
    fn scan(&self, cleanup: Cleanup) -> Result<(Vec<Scanned>, usize), CacheError> {
        let mut out = Vec::new();
        let mut removed = 0;
        for info in self.store.roots(CACHE_GROUP)? {
            let entry = match cleanup {
                Cleanup::RemoveBroken => self.read_entry(&info.name)?,
                Cleanup::Keep => match self.store.root(CACHE_GROUP, &info.name) {
                    Ok(Some(root)) => serde_json::from_value::<CacheEntry>(root.data).ok(),
                    Ok(None) | Err(StoreError::CorruptRoot { .. }) => None,
                    Err(e) => return Err(e.into()),
                },
            };
            let Some(entry) = entry else {
                removed += usize::from(cleanup == Cleanup::RemoveBroken);
                continue;
            };
            if cleanup == Cleanup::RemoveBroken
                && let Some(layer) = &entry.layer
                && !self.blob_present(&layer.descriptor)?
            {
                self.store.remove_root(CACHE_GROUP, &info.name)?;
                removed += 1;
                continue;
            }
            out.push(Scanned {
                name: info.name,
                modified: info.modified,
                layer: entry
                    .layer
                    .map(|l| (l.descriptor.digest, l.descriptor.size)),
            });
        }
        Ok((out, removed))
    }
}

/// Whether a scan removes entries it cannot use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cleanup {
    RemoveBroken,
    Keep,
}

/// A cache key: sha256 over a versioned, length-prefixed encoding of `parts` (the number of parts,
/// then each part's length and bytes), so different splits of the same bytes give different keys
/// (`["ab", "c"]` ≠ `["a", "bc"]`).
pub fn cache_key(parts: &[&[u8]]) -> Digest {
    let mut h = Sha256::new();
    h.update(b"plinth build cache key v1\0");
    h.update((parts.len() as u64).to_le_bytes());
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    Digest::from_hasher(h)
}

#[cfg(test)]
mod tests;
