//! Tests of the layer header cache on real stores and real layers.

use std::sync::{Arc, Barrier};
use std::time::Instant;

use super::*;
use crate::layer::{EntryKind, FileSource, LayerEntry, LayerOptions, read_layer_entries};
use crate::types::media;

fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(dir.path().join("store")).unwrap();
    (dir, store)
}

fn file(path: &str, content: &[u8], mode: u32) -> LayerEntry {
    LayerEntry::new(
        path,
        EntryKind::File(FileSource::Bytes(content.into())),
        mode,
        0,
        0,
    )
}

/// A layer with every kind of entry, xattrs (binary values), long and non-ASCII paths, big ids.
fn rich_entries(seed: &str) -> Vec<LayerEntry> {
    let long_dir = format!("deep/{}", "d".repeat(150));
    let mut ping = file("usr/bin/ping", b"ping binary", 0o755);
    ping.xattrs.insert(
        "security.capability".into(),
        vec![
            1, 0, 0, 2, 0, 0x20, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    );
    ping.xattrs
        .insert("user.note".into(), b"x=y\n\0z\xff".to_vec());
    let mut big_ids = file(&format!("{long_dir}/{}", "f".repeat(200)), b"long", 0o640);
    big_ids.uid = 3_000_000;
    big_ids.gid = 4_000_000_000;
    big_ids.mtime = Some(1_000);
    vec![
        LayerEntry::new("deep", EntryKind::Dir, 0o755, 0, 0),
        LayerEntry::new(long_dir.clone(), EntryKind::Dir, 0o700, 5, 6),
        big_ids,
        LayerEntry::new("etc", EntryKind::Dir, 0o755, 0, 0),
        file("etc/seed", seed.as_bytes(), 0o644),
        LayerEntry::new("etc/gone", EntryKind::Whiteout, 0, 0, 0),
        LayerEntry::new("usr", EntryKind::Dir, 0o755, 0, 0),
        LayerEntry::new("usr/bin", EntryKind::Dir, 0o755, 0, 0),
        ping,
        file("usr/bin/su", b"su", 0o4755),
        LayerEntry::new(
            "usr/bin/sh",
            EntryKind::Symlink {
                target: format!("/{}", "t".repeat(180)),
            },
            0o777,
            0,
            0,
        ),
        LayerEntry::new(
            "usr/bin/dash",
            EntryKind::Hardlink {
                target: "usr/bin/su".into(),
            },
            0,
            0,
            0,
        ),
        LayerEntry::new("var", EntryKind::OpaqueWhiteout, 0o755, 0, 0),
        file("var/data", &[7u8; 3000], 0o640),
        LayerEntry::new("run", EntryKind::Dir, 0o755, 0, 0),
        LayerEntry::new("run/fifo", EntryKind::Fifo, 0o600, 1000, 1000),
        LayerEntry::new(
            "dev-null",
            EntryKind::CharDevice { major: 1, minor: 3 },
            0o666,
            0,
            0,
        ),
        LayerEntry::new(
            "dev-sda",
            EntryKind::BlockDevice { major: 8, minor: 0 },
            0o660,
            0,
            6,
        ),
        file("ünïcödé", b"u", 0o644),
    ]
}

/// Writes `entries` as a layer blob into the store; returns its descriptor and blob bytes.
fn put_layer(
    store: &Store,
    entries: Vec<LayerEntry>,
    compression: Compression,
) -> (Descriptor, Vec<u8>) {
    let opts = LayerOptions {
        compression,
        source_date_epoch: 1_700_000_000,
    };
    let (w, bytes) = crate::layer::write_layer(entries, &opts, Vec::new()).unwrap();
    let d = store.write_blob(w.media_type, &bytes).unwrap();
    assert_eq!(d.digest, w.digest);
    (d, bytes)
}

fn temp_files(store: &Store) -> Vec<PathBuf> {
    match std::fs::read_dir(store.path().join(".plinth/tmp")) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn cold_and_warm_reads_equal_the_decompressed_entries() {
    for compression in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let (_d, store) = new_store();
        let (desc, bytes) = put_layer(&store, rich_entries("a"), compression);
        let direct = read_layer_entries(bytes.as_slice(), &desc.media_type).unwrap();
        // The sample really has every kind the cache must keep.
        let kinds: Vec<&EntryInfoKind> = direct.iter().map(|e| &e.kind).collect();
        for want in [
            EntryInfoKind::Whiteout,
            EntryInfoKind::OpaqueWhiteout,
            EntryInfoKind::Fifo,
            EntryInfoKind::CharDevice { major: 1, minor: 3 },
            EntryInfoKind::BlockDevice { major: 8, minor: 0 },
            EntryInfoKind::Hardlink {
                target: "usr/bin/dash".into(),
            },
        ] {
            assert!(kinds.contains(&&want), "{want:?} missing from {kinds:?}");
        }
        assert!(direct.iter().any(|e| e.xattrs.len() == 2));
        assert!(
            direct.iter().any(
                |e| matches!(&e.kind, EntryInfoKind::Symlink { target } if target.len() == 181)
            )
        );

        let path = store.header_cache_path(&desc.digest);
        assert!(!path.exists());
        let cold = store.layer_entries(&desc).unwrap();
        assert_eq!(cold, direct, "{compression:?}");
        let file = std::fs::read(&path).unwrap();
        assert_eq!(
            decode(&file, &desc.digest),
            Some((compression, direct.clone()))
        );
        assert!(temp_files(&store).is_empty());

        // A hit does not touch the blob: it works with the blob gone.
        let blob = store.blob_path(&desc.digest);
        std::fs::remove_file(&blob).unwrap();
        assert_eq!(store.layer_entries(&desc).unwrap(), direct);
        std::fs::write(&blob, &bytes).unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            file,
            "a hit rewrites nothing"
        );
    }
}

#[test]
fn the_hit_returns_what_the_cache_file_holds() {
    let (_d, store) = new_store();
    let (desc, _) = put_layer(&store, rich_entries("b"), Compression::Gzip);
    let real = store.layer_entries(&desc).unwrap();
    let mut other = real.clone();
    other.truncate(2);
    other[1].mode = 0o123;
    store.put_layer_entries(&desc.digest, &other).unwrap();
    assert_eq!(store.layer_entries(&desc).unwrap(), other);
    store.put_layer_entries(&desc.digest, &real).unwrap();
    assert_eq!(store.layer_entries(&desc).unwrap(), real);
}

#[test]
fn damaged_truncated_and_foreign_cache_files_are_ignored_and_rewritten() {
    let (_d, store) = new_store();
    let (desc, bytes) = put_layer(&store, rich_entries("c"), Compression::Zstd);
    let direct = read_layer_entries(bytes.as_slice(), &desc.media_type).unwrap();
    store.layer_entries(&desc).unwrap();
    let path = store.header_cache_path(&desc.digest);
    let good = std::fs::read(&path).unwrap();

    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let mut version_2 = good[..good.len() - CHECKSUM_LEN].to_vec();
    version_2[8..12].copy_from_slice(&2u32.to_le_bytes());
    let sum = Sha256::digest(&version_2);
    version_2.extend_from_slice(&sum);
    // A valid file, but of another blob.
    let (other, _) = put_layer(&store, rich_entries("other"), Compression::Zstd);
    store.layer_entries(&other).unwrap();
    let foreign = std::fs::read(store.header_cache_path(&other.digest)).unwrap();

    for (what, damaged) in [
        ("empty", Vec::new()),
        ("truncated", good[..good.len() - 1].to_vec()),
        ("half", good[..good.len() / 2].to_vec()),
        ("flipped byte", flipped),
        ("unknown version", version_2),
        ("another blob's", foreign),
        ("text", b"not a cache file".to_vec()),
    ] {
        std::fs::write(&path, &damaged).unwrap();
        assert_eq!(store.layer_entries(&desc).unwrap(), direct, "{what}");
        assert_eq!(std::fs::read(&path).unwrap(), good, "{what}: rewritten");
    }
    // A directory in the way: the entries still come (from the blob), caching fails quietly.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("x"), b"x").unwrap();
    assert_eq!(store.layer_entries(&desc).unwrap(), direct);
    assert!(temp_files(&store).is_empty());
}

#[test]
fn decode_rejects_every_truncation_and_byte_flip_and_never_panics() {
    let digest = Digest::of(b"layer");
    let entries = vec![LayerEntryInfo {
        path: "a/b".into(),
        kind: EntryInfoKind::Symlink {
            target: "../c".into(),
        },
        mode: 0o777,
        uid: 1,
        gid: 2,
        size: 0,
        mtime: -5,
        xattrs: BTreeMap::from([("user.x".to_string(), vec![0, 1, 2])]),
    }];
    let good = encode(&digest, Compression::Gzip, &entries).unwrap();
    assert_eq!(
        decode(&good, &digest),
        Some((Compression::Gzip, entries.clone()))
    );
    assert_eq!(decode(&good, &Digest::of(b"other")), None);
    for n in 0..good.len() {
        assert_eq!(decode(&good[..n], &digest), None, "truncated to {n}");
    }
    let mut longer = good.clone();
    longer.push(0);
    assert_eq!(decode(&longer, &digest), None);
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x01;
        assert_eq!(decode(&b, &digest), None, "byte {i} flipped");
    }
    // Bodies with a valid checksum: the decoder itself must refuse bad fields without panicking.
    let body = &good[..good.len() - CHECKSUM_LEN];
    let with_sum = |mut b: Vec<u8>| {
        let sum = Sha256::digest(&b);
        b.extend_from_slice(&sum);
        b
    };
    let header_len = 8 + 4 + 4 + digest.to_string().len() + 1;
    let mut huge_count = body.to_vec();
    huge_count[header_len..header_len + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(decode(&with_sum(huge_count), &digest), None);
    let mut bad_kind = body.to_vec();
    bad_kind[header_len + 8 + 4 + 3] = 9;
    assert_eq!(decode(&with_sum(bad_kind), &digest), None);
    let mut bad_utf8 = body.to_vec();
    bad_utf8[header_len + 8 + 4] = 0xff;
    assert_eq!(decode(&with_sum(bad_utf8), &digest), None);
    // Every single-byte change and every truncation of the body, re-checksummed.
    let mut accepted = 0;
    for i in 0..body.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut b = body.to_vec();
            b[i] ^= x;
            accepted += usize::from(decode(&with_sum(b), &digest).is_some());
        }
        assert_eq!(
            decode(&with_sum(body[..i].to_vec()), &digest),
            None,
            "body cut at {i}"
        );
    }
    // Changes to values (mode, ids, bytes of strings) decode; structural ones must not.
    assert!(accepted > 0 && accepted < body.len() * 3, "{accepted}");
}

#[test]
fn a_hit_still_refuses_what_reading_the_blob_refuses() {
    let (_d, store) = new_store();
    let (plain, _) = put_layer(&store, rich_entries("d"), Compression::None);
    store.layer_entries(&plain).unwrap();
    assert!(store.header_cache_path(&plain.digest).is_file());
    let mut mislabelled = plain.clone();
    mislabelled.media_type = media::OCI_LAYER_GZIP.into();
    let e = store.layer_entries(&mislabelled).unwrap_err();
    assert!(
        matches!(&e, StoreError::ReadLayer { digest, .. } if digest == &plain.digest),
        "{e}"
    );
    assert!(e.to_string().contains("not compressed"), "{e}");
    let mut encrypted = plain.clone();
    encrypted.media_type = format!("{}+encrypted", media::OCI_LAYER_TAR);
    let e = store.layer_entries(&encrypted).unwrap_err();
    assert!(e.to_string().contains("encrypted"), "{e}");
    // The same refusals cold (no cache file).
    std::fs::remove_file(store.header_cache_path(&plain.digest)).unwrap();
    let e = store.layer_entries(&mislabelled).unwrap_err();
    assert!(e.to_string().contains("not compressed"), "{e}");
    assert!(!store.header_cache_path(&plain.digest).exists());
}

#[test]
fn a_corrupt_or_missing_blob_is_an_error_and_nothing_is_cached() {
    let (_d, store) = new_store();
    let (desc, bytes) = put_layer(&store, rich_entries("e"), Compression::Gzip);
    let blob = store.blob_path(&desc.digest);
    // Same size, other content: the tar headers still parse, the digest check at the end fails.
    let mut corrupt = bytes.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    std::fs::write(&blob, &corrupt).unwrap();
    let e = store.layer_entries(&desc).unwrap_err();
    assert!(matches!(e, StoreError::CorruptBlob { .. }), "{e}");
    assert!(!store.header_cache_path(&desc.digest).exists());

    std::fs::write(&blob, &bytes).unwrap();
    let mut wrong_size = desc.clone();
    wrong_size.size += 1;
    let e = store.layer_entries(&wrong_size).unwrap_err();
    assert!(matches!(e, StoreError::SizeMismatch { .. }), "{e}");

    std::fs::remove_file(&blob).unwrap();
    let e = store.layer_entries(&desc).unwrap_err();
    assert!(matches!(e, StoreError::MissingBlob { .. }), "{e}");
    let e = store.put_layer_entries(&desc.digest, &[]).unwrap_err();
    assert!(matches!(e, StoreError::MissingBlob { .. }), "{e}");
    assert!(!store.header_cache_path(&desc.digest).exists());
}

#[test]
fn put_layer_entries_records_the_blobs_compression() {
    let (_d, store) = new_store();
    for compression in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let (desc, bytes) = put_layer(&store, rich_entries("f"), compression);
        let entries = read_layer_entries(bytes.as_slice(), &desc.media_type).unwrap();
        store.put_layer_entries(&desc.digest, &entries).unwrap();
        let file = std::fs::read(store.header_cache_path(&desc.digest)).unwrap();
        assert_eq!(decode(&file, &desc.digest), Some((compression, entries)));
    }
}

#[test]
fn concurrent_cold_reads_agree() {
    let (_d, store) = new_store();
    let (desc, bytes) = put_layer(&store, rich_entries("g"), Compression::Gzip);
    let direct = read_layer_entries(bytes.as_slice(), &desc.media_type).unwrap();
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let store = Store::open(store.path()).unwrap();
            let desc = desc.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                store.layer_entries(&desc).unwrap()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), direct);
    }
    let file = std::fs::read(store.header_cache_path(&desc.digest)).unwrap();
    assert_eq!(decode(&file, &desc.digest).map(|(_, e)| e), Some(direct));
    assert!(temp_files(&store).is_empty());
}

/// Deterministic pseudo-random bytes (xorshift64*), compressible about like real binaries when
/// mixed with text.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        // Half random, half repetitive text.
        out.extend_from_slice(&v.to_le_bytes());
        out.extend_from_slice(b"/usr/lib/x86_64");
    }
    out.truncate(len);
    out
}

/// Cold (decompress) against warm (cache file) on a big layer: 10,000 files, ~200 MB.
/// Run with `cargo test -p plinth-oci --release -- --ignored --nocapture header_cache_timing`.
#[test]
#[ignore = "slow (writes a ~200 MB layer); a measurement"]
fn header_cache_timing() {
    let (_d, store) = new_store();
    let files = 10_000usize;
    let mut entries = Vec::with_capacity(files + 100);
    for d in 0..100 {
        entries.push(LayerEntry::new(
            format!("usr/share/pkg{d:03}"),
            EntryKind::Dir,
            0o755,
            0,
            0,
        ));
    }
    entries.push(LayerEntry::new("usr", EntryKind::Dir, 0o755, 0, 0));
    entries.push(LayerEntry::new("usr/share", EntryKind::Dir, 0o755, 0, 0));
    for i in 0..files {
        // Files of 20 kB, each with its own content (no compressor can dedupe them).
        let content: Arc<[u8]> = noise(i as u64 + 1, 20_000).into();
        entries.push(LayerEntry::new(
            format!("usr/share/pkg{:03}/file-{i:05}.dat", i % 100),
            EntryKind::File(FileSource::Bytes(content)),
            0o644,
            0,
            0,
        ));
    }
    for compression in [Compression::Gzip, Compression::Zstd] {
        let t = Instant::now();
        let (desc, bytes) = put_layer(&store, entries.clone(), compression);
        let write = t.elapsed();
        drop(bytes);

        let t = Instant::now();
        let cold = store.layer_entries(&desc).unwrap();
        let cold_time = t.elapsed();
        let cache_len = std::fs::metadata(store.header_cache_path(&desc.digest))
            .unwrap()
            .len();
        let mut warm_times = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let warm = store.layer_entries(&desc).unwrap();
            warm_times.push(t.elapsed());
            assert_eq!(warm, cold);
        }
        warm_times.sort();
        assert_eq!(cold.len(), files + 102);
        println!(
            "{compression:?}: blob {} MB ({} MB uncompressed, written in {write:?}), {} entries; \
             cold {cold_time:?}, warm median {:?} (min {:?}); cache file {} kB",
            desc.size / 1_000_000,
            (files * 20_000) / 1_000_000,
            cold.len(),
            warm_times[2],
            warm_times[0],
            cache_len / 1000,
        );
        assert!(warm_times[2] < cold_time);
    }
}
