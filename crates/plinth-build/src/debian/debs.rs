//! The .deb cache: every package file under its SHA-256 (`<sha256>.deb`), shared by all builds
//! of a store, filled by parallel downloads that are verified before they land.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use super::fetch::{Expected, Fetcher};
use super::lock::LockedRootfs;
use super::{DebianError, RootfsEvent};

/// Concurrent downloads.
pub const PARALLEL_DOWNLOADS: usize = 8;

/// The cached file of a package with this SHA-256.
pub fn deb_path(cache_dir: &Path, sha256: &str) -> PathBuf {
    cache_dir.join(format!("{sha256}.deb"))
}

/// Makes sure every package of `locked` is in `cache_dir`, downloading the missing ones in
/// parallel. Returns the cached paths in the lock's package order.
pub fn ensure_debs(
    fetcher: &Fetcher,
    locked: &LockedRootfs,
    cache_dir: &Path,
    cancel: Option<&Arc<AtomicBool>>,
    on_event: &mut dyn FnMut(RootfsEvent),
) -> Result<Vec<PathBuf>, DebianError> {
    fs_err::create_dir_all(cache_dir)?;
    let tmp = cache_dir.join("tmp");
    fs_err::create_dir_all(&tmp)?;
    let paths: Vec<PathBuf> = locked
        .packages
        .iter()
        .map(|p| deb_path(cache_dir, &p.sha256))
        .collect();
    let missing: Vec<usize> = (0..paths.len()).filter(|&i| !paths[i].exists()).collect();
    let total_bytes: u64 = missing.iter().map(|&i| locked.packages[i].size).sum();
    on_event(RootfsEvent::Download {
        done: 0,
        total: missing.len(),
        bytes: 0,
        total_bytes,
    });
    if missing.is_empty() {
        return Ok(paths);
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Result<u64, DebianError>>();
    let workers = PARALLEL_DOWNLOADS.min(missing.len());
    let mut first_error = None;
    std::thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, stop, missing, paths, tmp) = (&next, &stop, &missing, &paths, &tmp);
            s.spawn(move || {
                loop {
                    if stop.load(Ordering::Relaxed)
                        || cancel.is_some_and(|c| c.load(Ordering::Relaxed))
                    {
                        return;
                    }
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = missing.get(n) else { return };
                    let p = &locked.packages[i];
                    let uri = &locked.releases[p.release].uri;
                    let url = format!("{uri}/{}", p.filename);
                    let r = fetcher.download_verified(
                        &url,
                        Expected {
                            size: p.size,
                            sha256: &p.sha256,
                        },
                        tmp,
                        &paths[i],
                    );
                    let failed = r.is_err();
                    if tx.send(r).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let (mut done, mut bytes) = (0usize, 0u64);
        for r in rx {
            match r {
                Ok(n) => {
                    done += 1;
                    bytes += n;
                    on_event(RootfsEvent::Download {
                        done,
                        total: missing.len(),
                        bytes,
                        total_bytes,
                    });
                }
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    first_error.get_or_insert(e);
                }
            }
        }
    });
    if let Some(e) = first_error {
        return Err(match e {
            DebianError::NotFound { url } => DebianError::Fetch {
                url,
                message: "the mirror no longer has this package version (404): run `plinth lock --update`, or point the context's sources at a snapshot mirror (snapshot.debian.org) of the lock's Release dates".into(),
            },
            e => e,
        });
    }
    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
        return Err(DebianError::Cancelled);
    }
    Ok(paths)
}
