//! Tests of the build cache on real stores.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use plinth_oci::layer::{
    Compression, EntryKind, FileSource, LayerEntry, LayerOptions, write_layer,
};
use plinth_oci::media;
use plinth_oci::store::GcWait;
use rustix::fs::{AtFlags, Timespec, Timestamps};

use super::*;

fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(dir.path().join("store")).unwrap();
    (dir, store)
}

/// Stores a blob standing in for a layer of `size` bytes (content varies with `seed`).
fn fake_layer(store: &Store, seed: &str, size: usize) -> CachedLayer {
    let mut bytes = seed.as_bytes().to_vec();
    bytes.resize(size.max(seed.len()), b'.');
    let descriptor = store.write_blob(media::OCI_LAYER_TAR, &bytes).unwrap();
    CachedLayer {
        diff_id: descriptor.digest.clone(),
        descriptor,
    }
}

fn entry(layer: Option<CachedLayer>, created_by: &str) -> CacheEntry {
    CacheEntry {
        layer,
        created_by: created_by.to_string(),
        extra: serde_json::json!({"mountpoints": ["/proc", "/dev"], "n": 1}),
    }
}

fn set_mtime(path: &Path, secs: i64) {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(rustix::fs::CWD, path, &times, AtFlags::empty()).unwrap();
}

fn entry_path(store: &Store, key: &Digest) -> std::path::PathBuf {
    store.root_path(CACHE_GROUP, key.hex()).unwrap()
}

#[test]
fn put_and_get_round_trip() {
    let (_d, store) = new_store();
    let cache = BuildCache::new(&store);
    let key = cache_key(&[b"RUN make", b"parent"]);
    assert_eq!(cache.get(&key).unwrap(), None);

    let e = entry(Some(fake_layer(&store, "l", 100)), "RUN make");
    cache.put(&key, &e).unwrap();
    assert!(entry_path(&store, &key).is_file());
    assert_eq!(cache.get(&key).unwrap(), Some(e.clone()));
    // Another handle (another process) sees it.
    let other = BuildCache::new(&Store::open(store.path()).unwrap());
    assert_eq!(other.get(&key).unwrap(), Some(e));

    // A config-only step.
    let key2 = cache_key(&[b"ENV A=1"]);
    let e2 = CacheEntry {
        layer: None,
        created_by: "ENV A=1".into(),
        extra: serde_json::Value::Null,
    };
    cache.put(&key2, &e2).unwrap();
    assert_eq!(cache.get(&key2).unwrap(), Some(e2.clone()));

    // Replacing an entry.
    let e3 = entry(Some(fake_layer(&store, "l3", 10)), "RUN make (again)");
    cache.put(&key, &e3).unwrap();
    assert_eq!(cache.get(&key).unwrap(), Some(e3));

    assert_eq!(
        store
            .roots(CACHE_GROUP)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect::<std::collections::BTreeSet<_>>(),
        [key.hex().to_string(), key2.hex().to_string()].into()
    );
}

#[test]
fn put_refuses_an_entry_whose_layer_is_not_stored() {
    let (_d, store) = new_store();
    let cache = BuildCache::new(&store);
    let absent = Descriptor::new(media::OCI_LAYER_TAR, Digest::of(b"never written"), 13);
    let e = entry(
        Some(CachedLayer {
            diff_id: absent.digest.clone(),
            descriptor: absent,
        }),
        "RUN x",
    );
    let key = cache_key(&[b"k"]);
    let err = cache.put(&key, &e).unwrap_err();
    assert!(
        matches!(err, CacheError::Store(StoreError::MissingBlob { .. })),
        "{err}"
    );
    assert_eq!(cache.get(&key).unwrap(), None);
}

#[test]
fn get_records_the_last_use() {
    let (_d, store) = new_store();
    let cache = BuildCache::new(&store);
    let key = cache_key(&[b"touch"]);
    cache
        .put(&key, &entry(Some(fake_layer(&store, "t", 5)), "RUN t"))
        .unwrap();
    let path = entry_path(&store, &key);
    set_mtime(&path, 1000);
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        UNIX_EPOCH + Duration::from_secs(1000)
    );
    cache.get(&key).unwrap().unwrap();
    let now = std::fs::metadata(&path).unwrap().modified().unwrap();
    assert!(now > SystemTime::now() - Duration::from_secs(60), "{now:?}");
}

#[test]
fn entries_with_a_missing_blob_or_bad_content_are_misses_and_removed() {
    let (_d, store) = new_store();
    let cache = BuildCache::new(&store);
    let layer = fake_layer(&store, "gone", 50);
    let key = cache_key(&[b"gone"]);
    cache
        .put(&key, &entry(Some(layer.clone()), "RUN gone"))
        .unwrap();
    std::fs::remove_file(store.blob_path(&layer.descriptor.digest)).unwrap();
    assert_eq!(cache.get(&key).unwrap(), None);
    assert!(!entry_path(&store, &key).exists(), "removed");

    // Not JSON, and JSON that is no cache entry.
    let bad = cache_key(&[b"bad"]);
    std::fs::write(entry_path(&store, &bad), b"{garbage").unwrap();
    assert_eq!(cache.get(&bad).unwrap(), None);
    assert!(!entry_path(&store, &bad).exists());
    let odd = cache_key(&[b"odd"]);
    store
        .set_root_with(
            CACHE_GROUP,
            odd.hex(),
            &Root {
                data: serde_json::json!({"unexpected": true}),
                ..Root::default()
            },
        )
        .unwrap();
    assert_eq!(cache.get(&odd).unwrap(), None);
    assert!(!entry_path(&store, &odd).exists());
}

#[test]
fn cache_keys_separate_the_parts() {
    let k = |parts: &[&[u8]]| cache_key(parts);
    assert_ne!(k(&[b"ab", b"c"]), k(&[b"a", b"bc"]));
    assert_ne!(k(&[b"abc"]), k(&[b"ab", b"c"]));
    assert_ne!(k(&[]), k(&[b""]));
    assert_ne!(k(&[b""]), k(&[b"", b""]));
    assert_ne!(k(&[b"a", b""]), k(&[b"", b"a"]));
    assert_eq!(k(&[b"same", b"parts"]), k(&[b"same", b"parts"]));
    // Not the plain hash of the concatenation.
    assert_ne!(k(&[b"abc"]), Digest::of(b"abc"));
}

/// Puts an entry with a layer of `size` bytes and sets its last use to `used_at`.
fn put_used_at(
    cache: &BuildCache,
    store: &Store,
    name: &str,
    layer: Option<CachedLayer>,
    used_at: i64,
) -> Digest {
    let key = cache_key(&[name.as_bytes()]);
    cache.put(&key, &entry(layer, name)).unwrap();
    set_mtime(&entry_path(store, &key), used_at);
    key
}

#[test]
fn prune_drops_least_recently_used_first_and_counts_shared_layers_once() {
    let (_d, store) = new_store();
    let cache = BuildCache::new(&store);
    let a = fake_layer(&store, "a", 1000);
    let b = fake_layer(&store, "b", 2000);
    let c = fake_layer(&store, "c", 4000);
    let ka = put_used_at(&cache, &store, "a", Some(a.clone()), 100);
    let kb = put_used_at(&cache, &store, "b", Some(b.clone()), 200);
    // Two entries sharing layer c.
    let kc1 = put_used_at(&cache, &store, "c1", Some(c.clone()), 300);
    let kc2 = put_used_at(&cache, &store, "c2", Some(c.clone()), 400);
    let kenv = put_used_at(&cache, &store, "env", None, 50);
    assert_eq!(
        cache.usage().unwrap(),
        CacheUsage {
            entries: 5,
            bytes: 7000
        }
    );
    // `a` is used now: it becomes the most recent.
    cache.get(&ka).unwrap().unwrap();

    // The oldest (the config-only env, 0 bytes) and then b go; then the rest fits.
    let report = cache.prune(5000).unwrap();
    assert_eq!(report.removed_entries, 2);
    assert_eq!(report.removed_bytes, 2000);
    assert_eq!(
        report.remaining,
        CacheUsage {
            entries: 3,
            bytes: 5000
        }
    );
    assert_eq!(cache.get(&kenv).unwrap(), None);
    assert_eq!(cache.get(&kb).unwrap(), None);
    assert!(!store.has_blob(&b.descriptor.digest), "gc collected b");
    match &report.gc {
        GcOutcome::Ran(gc) => {
            assert_eq!(gc.removed_blobs, std::slice::from_ref(&b.descriptor.digest))
        }
        other => panic!("gc did not run: {other:?}"),
    }
    for k in [&kc1, &kc2] {
        set_mtime(&entry_path(&store, k), 500);
    }
    set_mtime(&entry_path(&store, &ka), 600);

    // Dropping c1 alone frees nothing (c2 still uses c); both go before a.
    let report = cache.prune(1000).unwrap();
    assert_eq!(report.removed_entries, 2);
    assert_eq!(report.removed_bytes, 4000);
    assert_eq!(
        report.remaining,
        CacheUsage {
            entries: 1,
            bytes: 1000
        }
    );
    assert!(cache.get(&ka).unwrap().is_some());
    assert!(cache.get(&kc1).unwrap().is_none() && cache.get(&kc2).unwrap().is_none());
    assert!(store.has_blob(&a.descriptor.digest));
    assert!(!store.has_blob(&c.descriptor.digest));

    // Under the limit: nothing to do.
    let report = cache.prune(DEFAULT_CACHE_LIMIT).unwrap();
    assert_eq!((report.removed_entries, report.removed_bytes), (0, 0));
    assert_eq!(cache.usage().unwrap().entries, 1);
}

#[test]
fn prune_also_drops_broken_entries() {
    let (_d, store) = new_store();
    let cache = BuildCache::new(&store);
    let layer = fake_layer(&store, "x", 10);
    let key = put_used_at(&cache, &store, "x", Some(layer.clone()), 100);
    let broken = cache_key(&[b"broken"]);
    std::fs::write(entry_path(&store, &broken), b"[").unwrap();
    assert_eq!(cache.usage().unwrap().entries, 1, "usage skips it");
    assert!(
        entry_path(&store, &broken).exists(),
        "usage changes nothing"
    );
    let report = cache.prune(DEFAULT_CACHE_LIMIT).unwrap();
    assert_eq!(report.removed_entries, 1);
    assert!(!entry_path(&store, &broken).exists());
    assert!(cache.get(&key).unwrap().is_some());
}

#[test]
fn cache_only_blobs_survive_gc_and_pruned_ones_are_collected() {
    let (_d, store) = new_store();
    let cache = BuildCache::new(&store);
    let cached = fake_layer(&store, "cached", 300);
    let stray = store.write_blob(media::OCI_LAYER_TAR, b"stray").unwrap();
    let key = put_used_at(&cache, &store, "cached", Some(cached.clone()), 100);
    let report = store.gc(GcWait::NoWait).unwrap();
    assert_eq!(report.removed_blobs, std::slice::from_ref(&stray.digest));
    assert!(store.has_blob(&cached.descriptor.digest));
    assert!(cache.get(&key).unwrap().is_some());

    // While a build runs, prune drops entries but gc waits for a later run.
    let session = store.session().unwrap();
    let report = cache.prune(0).unwrap();
    assert_eq!(report.gc, GcOutcome::Busy { sessions: 1 });
    assert_eq!(report.removed_entries, 1);
    assert!(store.has_blob(&cached.descriptor.digest));
    drop(session);
    let report = cache.prune(0).unwrap();
    match report.gc {
        GcOutcome::Ran(gc) => assert_eq!(
            gc.removed_blobs,
            std::slice::from_ref(&cached.descriptor.digest)
        ),
        other => panic!("gc did not run: {other:?}"),
    }
    assert!(!store.has_blob(&cached.descriptor.digest));
}

#[test]
fn a_pruned_layer_used_by_an_image_stays() {
    let (_d, store) = new_store();
    let cache = BuildCache::new(&store);
    let layer = fake_layer(&store, "shared", 100);
    let config = store
        .write_json(
            media::OCI_CONFIG,
            &plinth_oci::ImageConfig {
                architecture: "amd64".into(),
                os: "linux".into(),
                rootfs: plinth_oci::RootFs {
                    typ: "layers".into(),
                    diff_ids: vec![layer.diff_id.clone()],
                },
                ..Default::default()
            },
        )
        .unwrap();
    let manifest = store
        .write_json(
            media::OCI_MANIFEST,
            &plinth_oci::Manifest {
                schema_version: 2,
                media_type: Some(media::OCI_MANIFEST.into()),
                artifact_type: None,
                config,
                layers: vec![layer.descriptor.clone()],
                subject: None,
                annotations: Default::default(),
            },
        )
        .unwrap();
    store.set_ref("app", &manifest).unwrap();
    put_used_at(&cache, &store, "shared", Some(layer.clone()), 100);
    let report = cache.prune(0).unwrap();
    assert_eq!(report.removed_entries, 1);
    assert_eq!(report.removed_bytes, 100, "no longer held by the cache");
    assert!(
        store.has_blob(&layer.descriptor.digest),
        "the image holds it"
    );
}

#[test]
fn the_extracted_layer_of_a_cached_step_lives_as_long_as_the_entry() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: extracting overlay layers needs root");
        return;
    }
    let (_d, store) = new_store();
    let cache = BuildCache::new(&store);
    let entries = vec![LayerEntry::new(
        "built",
        EntryKind::File(FileSource::Bytes(b"output".as_slice().into())),
        0o644,
        0,
        0,
    )];
    let opts = LayerOptions {
        compression: Compression::Gzip,
        source_date_epoch: 0,
    };
    let (w, bytes) = write_layer(entries, &opts, Vec::new()).unwrap();
    let descriptor = store.write_blob(w.media_type, &bytes).unwrap();
    let layer = CachedLayer {
        descriptor,
        diff_id: w.diff_id.clone(),
    };
    let dir = store
        .extracted_layer(&layer.descriptor, &layer.diff_id)
        .unwrap();
    put_used_at(&cache, &store, "run", Some(layer.clone()), 100);
    let report = store.gc(GcWait::NoWait).unwrap();
    assert!(report.removed_layer_dirs.is_empty());
    assert_eq!(std::fs::read(dir.join("built")).unwrap(), b"output");
    let report = cache.prune(0).unwrap();
    match report.gc {
        GcOutcome::Ran(gc) => {
            assert_eq!(gc.removed_layer_dirs, std::slice::from_ref(&layer.diff_id))
        }
        other => panic!("gc did not run: {other:?}"),
    }
    assert!(!dir.exists());
}
