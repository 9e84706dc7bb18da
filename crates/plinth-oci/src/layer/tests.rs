//! Tests of the layer writer, reader, extractor and directory walker.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use super::write::{Pipeline, write_layer_with};
use super::*;
use crate::Digest;

const SDE: i64 = 1_700_000_000;

fn opts(c: Compression) -> LayerOptions {
    LayerOptions {
        compression: c,
        source_date_epoch: SDE,
    }
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn file(path: &str, content: &[u8], mode: u32) -> LayerEntry {
    LayerEntry::new(
        path,
        EntryKind::File(FileSource::Bytes(Arc::from(content))),
        mode,
        0,
        0,
    )
}

fn dir(path: &str, mode: u32) -> LayerEntry {
    LayerEntry::new(path, EntryKind::Dir, mode, 0, 0)
}

fn write(entries: Vec<LayerEntry>, c: Compression) -> (WrittenLayer, Vec<u8>) {
    match write_layer(entries, &opts(c), Vec::new()) {
        Ok(r) => r,
        Err(e) => panic!("write_layer failed: {e}"),
    }
}

fn decompress(blob: &[u8], c: Compression) -> Vec<u8> {
    match c {
        Compression::Gzip => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(blob)
                .read_to_end(&mut out)
                .unwrap();
            out
        }
        Compression::Zstd => zstd::decode_all(blob).unwrap(),
        Compression::None => blob.to_vec(),
    }
}

/// A tar member as raw header fields, parsed independently of the `tar` crate.
#[derive(Debug)]
struct Raw {
    name: String,
    typeflag: u8,
    mode: u32,
    uid: u64,
    gid: u64,
    size: u64,
    mtime: u64,
    link: String,
    uname: Vec<u8>,
    gname: Vec<u8>,
    magic: Vec<u8>,
    devmajor: Vec<u8>,
    data: Vec<u8>,
}

fn octal(field: &[u8]) -> u64 {
    let s: String = field
        .iter()
        .take_while(|b| **b != 0 && **b != b' ')
        .map(|b| *b as char)
        .collect();
    u64::from_str_radix(&s, 8).unwrap()
}

fn cstr(field: &[u8]) -> String {
    String::from_utf8(field.iter().take_while(|b| **b != 0).copied().collect()).unwrap()
}

fn raw_members(tar: &[u8]) -> Vec<Raw> {
    let mut out = Vec::new();
    let mut pos = 0;
    loop {
        let h = &tar[pos..pos + 512];
        if h.iter().all(|b| *b == 0) {
            // End: exactly two zero blocks and nothing after.
            assert_eq!(
                tar.len(),
                pos + 1024,
                "archive must end with exactly two zero blocks"
            );
            assert!(tar[pos..].iter().all(|b| *b == 0));
            return out;
        }
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(*b)
                }
            })
            .sum();
        assert_eq!(octal(&h[148..156]), sum, "checksum");
        assert_eq!(&h[154..156], b"\0 ");
        let size = octal(&h[124..136]);
        let data = tar[pos + 512..pos + 512 + size as usize].to_vec();
        out.push(Raw {
            name: cstr(&h[0..100]),
            typeflag: h[156],
            mode: octal(&h[100..108]) as u32,
            uid: octal(&h[108..116]),
            gid: octal(&h[116..124]),
            size,
            mtime: octal(&h[136..148]),
            link: cstr(&h[157..257]),
            magic: h[257..265].to_vec(),
            uname: h[265..297].to_vec(),
            gname: h[297..329].to_vec(),
            devmajor: h[329..337].to_vec(),
            data,
        });
        pos += 512 + (size as usize).div_ceil(512) * 512;
    }
}

fn pax_records(data: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut rest = data;
    while !rest.is_empty() {
        let sp = rest.iter().position(|b| *b == b' ').unwrap();
        let len: usize = std::str::from_utf8(&rest[..sp]).unwrap().parse().unwrap();
        let rec = &rest[sp + 1..len];
        assert_eq!(rest[len - 1], b'\n');
        let eq = rec.iter().position(|b| *b == b'=').unwrap();
        out.insert(
            String::from_utf8(rec[..eq].to_vec()).unwrap(),
            rec[eq + 1..rec.len() - 1].to_vec(),
        );
        rest = &rest[len..];
    }
    out
}

fn sample_entries() -> Vec<LayerEntry> {
    let mut cap = file("usr/bin/ping", b"ping binary", 0o755);
    // A valid VFS_CAP_REVISION_2 value: effective, permitted = CAP_NET_RAW; contains a 0x0a byte.
    cap.xattrs.insert(
        "security.capability".into(),
        vec![
            1, 0, 0, 2, 0, 0x20, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    );
    let mut mtime_file = file("etc/old", b"old", 0o644);
    mtime_file.mtime = Some(1_000);
    vec![
        dir("etc", 0o755),
        file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n", 0o644),
        file("etc/shadow", b"root:*::\n", 0o600),
        mtime_file,
        dir("usr", 0o755),
        dir("usr/bin", 0o755),
        cap,
        file("usr/bin/su", b"su", 0o4755),
        LayerEntry::new(
            "usr/bin/sh",
            EntryKind::Symlink {
                target: "dash".into(),
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
        dir("tmp", 0o1777),
        LayerEntry::new("etc/gone", EntryKind::Whiteout, 0, 0, 0),
        LayerEntry::new("var", EntryKind::OpaqueWhiteout, 0o755, 0, 0),
        file("var/data", &[7u8; 3000], 0o640),
        LayerEntry::new("run/fifo", EntryKind::Fifo, 0o600, 1000, 1000),
        LayerEntry::new(
            "dev-null",
            EntryKind::CharDevice { major: 1, minor: 3 },
            0o666,
            0,
            0,
        ),
        LayerEntry::new(
            format!("deep/{}", "x".repeat(150)),
            EntryKind::Dir,
            0o700,
            5,
            6,
        ),
        file(
            &format!("deep/{}/{}", "x".repeat(150), "y".repeat(200)),
            b"long",
            0o644,
        ),
        file("ünïcödé", b"u", 0o644),
    ]
}

#[test]
fn deterministic_regardless_of_input_order() {
    for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let (w1, b1) = write(sample_entries(), c);
        let (w2, b2) = write(sample_entries(), c);
        let mut reversed = sample_entries();
        reversed.reverse();
        let (w3, b3) = write(reversed, c);
        let mut rotated = sample_entries();
        rotated.rotate_left(7);
        let (w4, b4) = write(rotated, c);
        assert_eq!(b1, b2);
        assert_eq!(b1, b3);
        assert_eq!(b1, b4);
        assert_eq!(w1, w2);
        assert_eq!(w1, w3);
        assert_eq!(w1, w4);
    }
}

#[test]
fn inline_and_threaded_pipelines_write_the_same_bytes() {
    // Content spanning several 1 MiB chunks, not chunk-aligned.
    let big: Vec<u8> = (0..3_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let mut entries = sample_entries();
        entries.push(file("big", &big, 0o644));
        let a = write_layer_with(entries.clone(), &opts(c), Vec::new(), Pipeline::Inline).unwrap();
        let b = write_layer_with(entries, &opts(c), Vec::new(), Pipeline::Threaded).unwrap();
        assert_eq!(a.0, b.0);
        assert_eq!(a.1, b.1);
        let tar = decompress(&a.1, c);
        let m = raw_members(&tar);
        let big_member = m.iter().find(|r| r.name == "big").unwrap();
        assert_eq!(big_member.data, big);
    }
}

#[test]
fn digests_match_independent_decompression() {
    for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let (w, blob) = write(sample_entries(), c);
        let tar = decompress(&blob, c);
        assert_eq!(w.diff_id, Digest::of(&tar));
        assert_eq!(w.uncompressed_size, tar.len() as u64);
        assert_eq!(w.digest, Digest::of(&blob));
        assert_eq!(w.size, blob.len() as u64);
        assert_eq!(w.media_type, media_type(c));
        assert_eq!(tar.len() % 512, 0);
    }
    assert_eq!(
        media_type(Compression::Gzip),
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(
        media_type(Compression::Zstd),
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    assert_eq!(
        media_type(Compression::None),
        "application/vnd.oci.image.layer.v1.tar"
    );
    // Compression changes the blob but not the diff_id.
    let (g, _) = write(sample_entries(), Compression::Gzip);
    let (z, _) = write(sample_entries(), Compression::Zstd);
    assert_eq!(g.diff_id, z.diff_id);
    assert_ne!(g.digest, z.digest);
}

#[test]
fn gzip_header_has_no_mtime_or_name_and_zstd_has_checksum() {
    let (_, blob) = write(sample_entries(), Compression::Gzip);
    assert_eq!(&blob[..3], &[0x1f, 0x8b, 8]);
    assert_eq!(blob[3], 0, "FLG: no FNAME/FEXTRA/FCOMMENT");
    assert_eq!(&blob[4..8], &[0, 0, 0, 0], "MTIME is zero");
    assert_eq!(blob[9], 255, "OS byte is 'unknown'");
    let (_, z) = write(sample_entries(), Compression::Zstd);
    assert_eq!(&z[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    assert_ne!(z[4] & 0x04, 0, "zstd frame has a content checksum");
}

#[test]
fn headers_are_ustar_with_real_modes_and_numeric_owners() {
    let (_, blob) = write(sample_entries(), Compression::None);
    let m = raw_members(&blob);
    let get = |name: &str| {
        m.iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no member {name}"))
    };
    for r in &m {
        assert_eq!(r.magic, b"ustar\x0000");
        assert!(r.uname.iter().all(|b| *b == 0), "uname must be empty");
        assert!(r.gname.iter().all(|b| *b == 0), "gname must be empty");
        assert!(r.mtime <= SDE as u64);
    }
    // usr/bin/dash sorts before usr/bin/su, so it carries the content and su links to it.
    assert_eq!(
        (get("usr/bin/dash").typeflag, get("usr/bin/dash").mode),
        (b'0', 0o4755)
    );
    let su = get("usr/bin/su");
    assert_eq!(
        (su.typeflag, su.mode, su.link.as_str()),
        (b'1', 0o4755, "usr/bin/dash")
    );
    assert_eq!(get("etc/shadow").mode, 0o600);
    assert_eq!(get("tmp/").mode, 0o1777);
    assert_eq!(get("tmp/").typeflag, b'5');
    assert_eq!(get("etc/passwd").devmajor, b"0000000\0");
    let fifo = get("run/fifo");
    assert_eq!(
        (fifo.typeflag, fifo.uid, fifo.gid, fifo.mode),
        (b'6', 1000, 1000, 0o600)
    );
    let null = get("dev-null");
    assert_eq!(
        (null.typeflag, null.devmajor.as_slice()),
        (b'3', b"0000001\0".as_slice())
    );
    let sh = get("usr/bin/sh");
    assert_eq!((sh.typeflag, sh.link.as_str()), (b'2', "dash"));
    // No atime/ctime anywhere; PAX only where needed.
    for r in m.iter().filter(|r| r.typeflag == b'x') {
        let recs = pax_records(&r.data);
        assert!(!recs.contains_key("atime") && !recs.contains_key("ctime"));
        // Go's naming, truncated to the 100-byte name field.
        assert!(
            r.name.contains("PaxHeaders.0") || r.name.len() == 100,
            "{}",
            r.name
        );
    }
    let pax_count = m.iter().filter(|r| r.typeflag == b'x').count();
    // usr/bin/ping (xattr), deep/x..x/ (>100), its child (>100), ünïcödé (non-ASCII).
    assert_eq!(pax_count, 4);
}

#[test]
fn order_puts_directories_before_their_contents() {
    let entries = vec![
        file("a-b", b"", 0o644),
        file("a/b/c", b"", 0o644),
        dir("a/b", 0o755),
        dir("a", 0o755),
        file("a/a", b"", 0o644),
        file("a.txt", b"", 0o644),
        file("Z", b"", 0o644),
    ];
    let (_, blob) = write(entries, Compression::None);
    let names: Vec<String> = raw_members(&blob).into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["Z", "a/", "a/a", "a/b/", "a/b/c", "a-b", "a.txt"]);
}

#[test]
fn whiteouts_and_opaque_markers() {
    let (_, blob) = write(sample_entries(), Compression::None);
    let m = raw_members(&blob);
    let wh = m.iter().find(|r| r.name == "etc/.wh.gone").unwrap();
    assert_eq!(
        (wh.typeflag, wh.mode, wh.size, wh.mtime, wh.uid, wh.gid),
        (b'0', 0, 0, SDE as u64, 0, 0)
    );
    let i = m.iter().position(|r| r.name == "var/").unwrap();
    assert_eq!(m[i + 1].name, "var/.wh..wh..opq");
    assert_eq!(
        (m[i + 1].mode, m[i + 1].size, m[i + 1].mtime),
        (0, 0, SDE as u64)
    );
    assert_eq!(m[i].mode, 0o755);
    assert!(!m.iter().any(|r| r.name == "etc/gone"));

    let infos = read_layer_entries(blob.as_slice(), crate::media::OCI_LAYER_TAR).unwrap();
    let kind = |p: &str| {
        infos
            .iter()
            .filter(|i| i.path == p)
            .map(|i| i.kind.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(kind("etc/gone"), [EntryInfoKind::Whiteout]);
    assert_eq!(
        kind("var"),
        [EntryInfoKind::Dir, EntryInfoKind::OpaqueWhiteout]
    );
}

#[test]
fn mtimes_are_clamped() {
    let mut future = file("future", b"", 0o644);
    future.mtime = Some(SDE + 1000);
    let mut past = file("past", b"", 0o644);
    past.mtime = Some(5);
    let mut negative = file("negative", b"", 0o644);
    negative.mtime = Some(-50);
    let none = file("none", b"", 0o644);
    let (_, blob) = write(vec![future, past, negative, none], Compression::None);
    let m = raw_members(&blob);
    let t = |n: &str| m.iter().find(|r| r.name == n).unwrap().mtime;
    assert_eq!(t("future"), SDE as u64);
    assert_eq!(t("past"), 5);
    assert_eq!(t("negative"), 0);
    assert_eq!(t("none"), SDE as u64);
    let infos = read_layer_entries(blob.as_slice(), "").unwrap();
    assert_eq!(infos.iter().find(|i| i.path == "past").unwrap().mtime, 5);
}

#[test]
fn long_paths_links_and_xattrs_round_trip() {
    let p150 = format!("a/{}", "b".repeat(148));
    let p300 = format!("{p150}/{}", "c".repeat(149));
    assert!(p150.len() > 100 && p300.len() > 255);
    let long_target = format!("/{}", "t".repeat(180));
    let cap = vec![
        0u8, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut f = file(&p300, b"hello", 0o640);
    f.uid = 3_000_000; // > 7 octal digits: PAX uid
    f.gid = 42;
    f.xattrs.insert("security.capability".into(), cap.clone());
    f.xattrs.insert("user.note".into(), b"x=y\n\0z".to_vec());
    let entries = vec![
        dir("a", 0o755),
        dir(&p150, 0o750),
        f,
        LayerEntry::new(
            format!("{p150}/link"),
            EntryKind::Symlink {
                target: long_target.clone(),
            },
            0o777,
            0,
            0,
        ),
        LayerEntry::new(
            format!("{p150}/a-hard"),
            EntryKind::Hardlink {
                target: p300.clone(),
            },
            0,
            0,
            0,
        ),
    ];
    for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let (_, blob) = write(entries.clone(), c);
        let infos = read_layer_entries(blob.as_slice(), media_type(c)).unwrap();
        let by_path: BTreeMap<&str, &LayerEntryInfo> =
            infos.iter().map(|i| (i.path.as_str(), i)).collect();
        assert_eq!(by_path.len(), 5);
        assert_eq!(by_path[p150.as_str()].kind, EntryInfoKind::Dir);
        assert_eq!(by_path[p150.as_str()].mode, 0o750);
        // The hardlink sorts first, so it carries the content and the original links to it.
        let hard = format!("{p150}/a-hard");
        let content_holder = by_path[hard.as_str()];
        assert_eq!(content_holder.kind, EntryInfoKind::File);
        assert_eq!(
            (content_holder.size, content_holder.uid, content_holder.gid),
            (5, 3_000_000, 42)
        );
        assert_eq!(content_holder.xattrs.get("security.capability"), Some(&cap));
        assert_eq!(
            content_holder.xattrs.get("user.note").map(Vec::as_slice),
            Some(&b"x=y\n\0z"[..])
        );
        assert_eq!(
            by_path[p300.as_str()].kind,
            EntryInfoKind::Hardlink {
                target: hard.clone()
            }
        );
        let link = format!("{p150}/link");
        assert_eq!(
            by_path[link.as_str()].kind,
            EntryInfoKind::Symlink {
                target: long_target.clone()
            }
        );
    }
}

#[test]
fn hardlinks_point_at_the_first_member_and_chains_resolve() {
    let entries = vec![
        file("z/data", b"payload", 0o644),
        dir("z", 0o755),
        LayerEntry::new(
            "m",
            EntryKind::Hardlink {
                target: "z/data".into(),
            },
            0o777,
            9,
            9,
        ),
        LayerEntry::new("b", EntryKind::Hardlink { target: "m".into() }, 0, 0, 0),
    ];
    let (_, blob) = write(entries, Compression::None);
    let m = raw_members(&blob);
    let names: Vec<(&str, u8, &str)> = m
        .iter()
        .map(|r| (r.name.as_str(), r.typeflag, r.link.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("b", b'0', ""),
            ("m", b'1', "b"),
            ("z/", b'5', ""),
            ("z/data", b'1', "b")
        ]
    );
    assert_eq!(m[0].data, b"payload");
    // Links carry the file's metadata.
    assert!(
        m.iter()
            .filter(|r| r.typeflag == b'1')
            .all(|r| r.mode == 0o644 && r.uid == 0)
    );
}

#[test]
fn invalid_entries_are_rejected() {
    let o = opts(Compression::Gzip);
    let err = |entries: Vec<LayerEntry>| {
        write_layer(entries, &o, Vec::new())
            .map(|_| ())
            .unwrap_err()
    };
    for bad in ["/abs", "a/../b", "..", "", "a//b", "./a", "a/", "x/.wh.y"] {
        match err(vec![file(bad, b"", 0o644)]) {
            LayerError::InvalidPath { path, .. } => assert_eq!(path, bad),
            e => panic!("{bad:?}: unexpected {e}"),
        }
    }
    match err(vec![
        file("etc/a", b"1", 0o644),
        dir("etc", 0o755),
        file("etc/a", b"2", 0o644),
    ]) {
        LayerError::DuplicatePath { path } => assert_eq!(path, "etc/a"),
        e => panic!("unexpected {e}"),
    }
    let e = err(vec![
        file("dup", b"", 0o644),
        LayerEntry::new("dup", EntryKind::Whiteout, 0, 0, 0),
    ]);
    assert!(e.to_string().contains("\"dup\""), "{e}");
    assert!(matches!(
        err(vec![LayerEntry::new(
            "l",
            EntryKind::Hardlink {
                target: "missing".into()
            },
            0,
            0,
            0
        )]),
        LayerError::InvalidHardlink { .. }
    ));
    assert!(matches!(
        err(vec![
            dir("d", 0o755),
            LayerEntry::new("l", EntryKind::Hardlink { target: "d".into() }, 0, 0, 0)
        ]),
        LayerError::InvalidHardlink { .. }
    ));
    assert!(matches!(
        err(vec![
            LayerEntry::new(
                "l1",
                EntryKind::Hardlink {
                    target: "l2".into()
                },
                0,
                0,
                0
            ),
            LayerEntry::new(
                "l2",
                EntryKind::Hardlink {
                    target: "l1".into()
                },
                0,
                0,
                0
            ),
        ]),
        LayerError::InvalidHardlink { .. }
    ));
    assert!(matches!(
        err(vec![file("f", b"", 0o644), file("f/g/h", b"", 0o644)]),
        LayerError::ParentNotDirectory { .. }
    ));
    assert!(matches!(
        err(vec![file("f", b"", 0o100644)]),
        LayerError::InvalidEntry { .. }
    ));
    let mut x = file("f", b"", 0o644);
    x.xattrs.insert("a=b".into(), vec![]);
    assert!(matches!(err(vec![x]), LayerError::InvalidEntry { .. }));
    let neg = LayerOptions {
        compression: Compression::Gzip,
        source_date_epoch: -1,
    };
    assert!(matches!(
        write_layer(vec![], &neg, Vec::new()),
        Err(LayerError::InvalidSourceDateEpoch(-1))
    ));
}

#[test]
fn empty_layer_is_two_zero_blocks() {
    let (w, blob) = write(vec![], Compression::None);
    assert_eq!(blob, vec![0u8; 1024]);
    assert_eq!(w.diff_id, Digest::of(&[0u8; 1024]));
}

#[test]
fn path_sources_are_read_and_changes_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("f");
    std::fs::write(&p, b"from disk").unwrap();
    let e = LayerEntry::new(
        "f",
        EntryKind::File(FileSource::Path(p.clone())),
        0o644,
        0,
        0,
    );
    let (_, blob) = write(vec![e], Compression::None);
    assert_eq!(raw_members(&blob)[0].data, b"from disk");
    let d = LayerEntry::new(
        "d",
        EntryKind::File(FileSource::Path(tmp.path().to_path_buf())),
        0o644,
        0,
        0,
    );
    assert!(matches!(
        write_layer(vec![d], &opts(Compression::None), Vec::new()),
        Err(LayerError::NotRegularFile { .. })
    ));
    std::os::unix::fs::symlink(&p, tmp.path().join("sym")).unwrap();
    let sym = LayerEntry::new(
        "s",
        EntryKind::File(FileSource::Path(tmp.path().join("sym"))),
        0o644,
        0,
        0,
    );
    assert!(matches!(
        write_layer(vec![sym], &opts(Compression::None), Vec::new()),
        Err(LayerError::NotRegularFile { .. })
    ));
    let missing = LayerEntry::new(
        "m",
        EntryKind::File(FileSource::Path(tmp.path().join("nope"))),
        0o644,
        0,
        0,
    );
    let e = write_layer(vec![missing], &opts(Compression::None), Vec::new())
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(e, LayerError::ReadSource(_)) && e.to_string().contains("nope"),
        "{e}"
    );
}

#[test]
fn read_rejects_mislabelled_and_garbage_blobs() {
    let (_, plain) = write(sample_entries(), Compression::None);
    assert!(read_layer_entries(plain.as_slice(), crate::media::OCI_LAYER_GZIP).is_err());
    // Mislabelled the other way round (gzip data, tar media type) is sniffed and read.
    let (_, gz) = write(sample_entries(), Compression::Gzip);
    assert_eq!(
        read_layer_entries(gz.as_slice(), crate::media::OCI_LAYER_TAR).unwrap(),
        read_layer_entries(plain.as_slice(), crate::media::OCI_LAYER_TAR).unwrap()
    );
    assert!(read_layer_entries(&b"\x1f\x8bnot really gzip"[..], "").is_err());
    assert!(read_layer_entries(&[0xffu8; 700][..], "").is_err());
}

/// A small xorshift generator (deterministic, no dependency).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn corrupted_layers_give_errors_not_panics() {
    let (_, plain) = write(sample_entries(), Compression::None);
    let (_, gz) = write(sample_entries(), Compression::Gzip);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let root = tempfile::tempdir().unwrap();
    let mut errors = 0;
    for i in 0..600 {
        let mut data = if i % 3 == 0 {
            gz.clone()
        } else {
            plain.clone()
        };
        match rng.below(3) {
            0 => {
                let n = rng.below(data.len());
                data.truncate(n);
            }
            _ => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(data.len());
                    data[at] = rng.next() as u8;
                }
            }
        }
        if read_layer_entries(data.as_slice(), "").is_err() {
            errors += 1;
        }
        let dest = root.path().join(i.to_string());
        std::fs::create_dir(&dest).unwrap();
        let _ = extract_layer(data.as_slice(), "", &dest);
    }
    assert!(
        errors > 50,
        "corruptions should mostly be detected, got {errors} errors"
    );
}

// ---------------------------------------------------------------------------------------------
// Extraction

/// Builds a tar with raw headers (no path sanitizing by the `tar` crate's builder).
/// (name, type, link target, data)
type RawMember<'a> = (&'a [u8], tar::EntryType, &'a [u8], &'a [u8]);

fn raw_tar(members: &[RawMember]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, data) in members {
        let mut h = tar::Header::new_ustar();
        let u = h.as_ustar_mut().unwrap();
        u.name[..name.len()].copy_from_slice(name);
        u.linkname[..link.len()].copy_from_slice(link);
        h.set_entry_type(*kind);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[test]
fn extract_never_writes_outside_root() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("root");
    let outside = base.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let outside_str = outside.to_str().unwrap().as_bytes();
    let reg = tar::EntryType::Regular;

    // `..` is an error.
    std::fs::create_dir(&root).unwrap();
    let t = raw_tar(&[(b"../evil", reg, b"", b"x")]);
    assert!(matches!(
        extract_layer(t.as_slice(), "", &root),
        Err(LayerError::UnsafePath { .. })
    ));
    assert!(!base.path().join("evil").exists());
    let t = raw_tar(&[(b"a/../../evil2", reg, b"", b"x")]);
    assert!(extract_layer(t.as_slice(), "", &root).is_err());
    assert!(!base.path().join("evil2").exists());

    // An absolute path is neutralized into the root.
    let abs = format!("{}/abs", outside.display());
    let t = raw_tar(&[(abs.as_bytes(), reg, b"", b"x")]);
    extract_layer(t.as_slice(), "", &root).unwrap();
    assert!(!outside.join("abs").exists());
    assert_eq!(
        std::fs::read(root.join(outside.strip_prefix("/").unwrap()).join("abs")).unwrap(),
        b"x"
    );

    // A symlink pointing out, then a file through it: error, nothing written outside.
    let t = raw_tar(&[
        (b"link", tar::EntryType::Symlink, outside_str, b""),
        (b"link/evil", reg, b"", b"x"),
    ]);
    assert!(matches!(
        extract_layer(t.as_slice(), "", &root),
        Err(LayerError::UnsafePath { .. })
    ));
    assert!(!outside.join("evil").exists());
    assert_eq!(std::fs::read_link(root.join("link")).unwrap(), outside);

    // A symlink inside the root used as a parent is refused as well.
    let t = raw_tar(&[
        (b"realdir/", tar::EntryType::Directory, b"", b""),
        (b"in", tar::EntryType::Symlink, b"realdir", b""),
        (b"in/f", reg, b"", b"x"),
    ]);
    assert!(matches!(
        extract_layer(t.as_slice(), "", &root),
        Err(LayerError::UnsafePath { .. })
    ));
    assert!(!root.join("realdir/f").exists());

    // A symlink, then a regular file at the same path: the symlink is replaced, not followed.
    let target = outside.join("victim");
    std::fs::write(&target, b"original").unwrap();
    let t = raw_tar(&[
        (
            b"f",
            tar::EntryType::Symlink,
            target.to_str().unwrap().as_bytes(),
            b"",
        ),
        (b"f", reg, b"", b"new"),
    ]);
    extract_layer(t.as_slice(), "", &root).unwrap();
    assert_eq!(std::fs::read(&target).unwrap(), b"original");
    assert_eq!(std::fs::read(root.join("f")).unwrap(), b"new");
    assert!(
        !std::fs::symlink_metadata(root.join("f"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // A hardlink to a file outside: `..` in the target is an error; an absolute target is
    // resolved inside the root (and does not exist there).
    let t = raw_tar(&[(b"h", tar::EntryType::Link, b"../outside/victim", b"")]);
    assert!(extract_layer(t.as_slice(), "", &root).is_err());
    let t = raw_tar(&[(
        b"h2",
        tar::EntryType::Link,
        target.to_str().unwrap().as_bytes(),
        b"",
    )]);
    assert!(extract_layer(t.as_slice(), "", &root).is_err());
    assert_eq!(std::fs::metadata(&target).unwrap().nlink(), 1);

    // A whiteout through a symlink does not delete outside.
    let t = raw_tar(&[(b"link/.wh.victim", reg, b"", b"")]);
    assert!(extract_layer(t.as_slice(), "", &root).is_err());
    assert!(target.exists());
}

#[test]
fn extract_reproduces_the_layer_and_applies_whiteouts() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path();
    // A lower layer's content.
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/gone"), b"old").unwrap();
    std::fs::write(root.join("etc/kept"), b"kept").unwrap();
    std::fs::create_dir_all(root.join("var/cache/sub")).unwrap();
    std::fs::write(root.join("var/cache/sub/x"), b"x").unwrap();
    std::fs::write(root.join("var/lower"), b"x").unwrap();

    let mut entries = sample_entries();
    let mut u = file("etc/userx", b"u", 0o644);
    u.xattrs.insert("user.plinth".into(), b"v".to_vec());
    entries.push(u);
    let (w, blob) = write(entries, Compression::Gzip);
    let stats = extract_layer(blob.as_slice(), w.media_type, root).unwrap();

    assert!(!root.join("etc/gone").exists());
    assert!(root.join("etc/kept").exists());
    assert!(!root.join("var/cache").exists() && !root.join("var/lower").exists());
    assert_eq!(
        std::fs::read(root.join("var/data")).unwrap(),
        vec![7u8; 3000]
    );
    assert_eq!(stats.whiteouts, 2);
    let mode = |p: &str| {
        std::fs::symlink_metadata(root.join(p))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("usr/bin/su"), 0o4755);
    assert_eq!(mode("etc/shadow"), 0o600);
    assert_eq!(mode("tmp"), 0o1777);
    assert_eq!(mode("var/data"), 0o640);
    assert_eq!(
        std::fs::read_link(root.join("usr/bin/sh")).unwrap(),
        Path::new("dash")
    );
    let ino = |p: &str| std::fs::metadata(root.join(p)).unwrap().ino();
    assert_eq!(ino("usr/bin/dash"), ino("usr/bin/su"));
    let md = std::fs::metadata(root.join("etc/passwd")).unwrap();
    assert_eq!(md.mtime(), SDE);
    assert_eq!(
        std::fs::metadata(root.join("etc/old")).unwrap().mtime(),
        1000
    );
    assert_eq!(
        std::fs::metadata(root.join("etc")).unwrap().mtime(),
        SDE,
        "dir mtimes are set last"
    );
    assert!(
        std::fs::symlink_metadata(root.join("run/fifo"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    let long = format!("deep/{}/{}", "x".repeat(150), "y".repeat(200));
    assert_eq!(std::fs::read(root.join(long)).unwrap(), b"long");
    let mut v = [0u8; 8];
    let n =
        rustix::fs::getxattr(root.join("etc/userx").as_path(), "user.plinth", &mut v[..]).unwrap();
    assert_eq!(&v[..n], b"v");
    if is_root() {
        let fifo = std::fs::symlink_metadata(root.join("run/fifo")).unwrap();
        assert_eq!((fifo.uid(), fifo.gid()), (1000, 1000));
        let null = std::fs::symlink_metadata(root.join("dev-null")).unwrap();
        assert!(null.file_type().is_char_device());
        assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
        let mut cap = [0u8; 32];
        let n = rustix::fs::getxattr(
            root.join("usr/bin/ping").as_path(),
            "security.capability",
            &mut cap[..],
        )
        .unwrap();
        assert_eq!(n, 20);
    }
}

use std::os::unix::fs::FileTypeExt;

// ---------------------------------------------------------------------------------------------
// Real GNU tar

#[test]
fn gnu_tar_lists_and_extracts_the_layer() {
    if Command::new("tar").arg("--version").output().is_err() {
        panic!("GNU tar is required for this test");
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut entries = sample_entries();
    entries.push(LayerEntry::new(
        "owned",
        EntryKind::File(FileSource::Bytes(Arc::from(&b"o"[..]))),
        0o2750,
        1234,
        5678,
    ));
    let (_, blob) = write(entries, Compression::Gzip);
    let layer = tmp.path().join("layer.tar.gz");
    std::fs::write(&layer, &blob).unwrap();

    let out = Command::new("tar")
        // No --numeric-owner: GNU tar shows numbers only because uname/gname are empty.
        .args(["-tvzf"])
        .arg(&layer)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8(out.stdout).unwrap();
    // "-rwsr-xr-x 0/0  2 2023-11-14 22:13 usr/bin/su"
    let line = |name: &str| -> Vec<String> {
        listing
            .lines()
            .find(|l| l.split_whitespace().nth(5) == Some(name))
            .unwrap_or_else(|| panic!("{name} not listed in:\n{listing}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(line("usr/bin/dash")[..2], ["-rwsr-xr-x", "0/0"]);
    assert_eq!(line("usr/bin/su")[..2], ["hrwsr-xr-x", "0/0"]);
    assert_eq!(line("etc/shadow")[..2], ["-rw-------", "0/0"]);
    assert_eq!(line("owned")[..2], ["-rwxr-s---", "1234/5678"]);
    assert_eq!(line("tmp/")[..1], ["drwxrwxrwt"]);
    assert_eq!(line("run/fifo")[..2], ["prw-------", "1000/1000"]);
    assert_eq!(line("usr/bin/sh")[0], "lrwxrwxrwx");
    assert_eq!(line("etc/.wh.gone")[..3], ["----------", "0/0", "0"]);
    let long = format!("deep/{}/{}", "x".repeat(150), "y".repeat(200));
    line(&long);
    line("ünïcödé");

    if is_root() {
        let dest = tmp.path().join("x");
        std::fs::create_dir(&dest).unwrap();
        let st = Command::new("tar")
            .args([
                "--numeric-owner",
                "--same-permissions",
                "--xattrs",
                "--xattrs-include=*",
                "-xzf",
            ])
            .arg(&layer)
            .arg("-C")
            .arg(&dest)
            .status()
            .unwrap();
        assert!(st.success());
        let md = |p: &str| std::fs::symlink_metadata(dest.join(p)).unwrap();
        assert_eq!(md("usr/bin/su").permissions().mode() & 0o7777, 0o4755);
        assert_eq!(md("etc/shadow").permissions().mode() & 0o7777, 0o600);
        assert_eq!(md("owned").permissions().mode() & 0o7777, 0o2750);
        assert_eq!((md("owned").uid(), md("owned").gid()), (1234, 5678));
        assert_eq!(md("tmp").permissions().mode() & 0o7777, 0o1777);
        assert_eq!(md("usr/bin/dash").ino(), md("usr/bin/su").ino());
        assert_eq!(std::fs::read(dest.join(&long)).unwrap(), b"long");
        let mut cap = [0u8; 32];
        let n = rustix::fs::getxattr(
            dest.join("usr/bin/ping").as_path(),
            "security.capability",
            &mut cap[..],
        )
        .unwrap();
        assert_eq!(n, 20);
    }
}

// ---------------------------------------------------------------------------------------------
// entries_from_dir

#[test]
fn entries_from_dir_converts_a_real_tree() {
    use rustix::fs::{FileType, Mode, XattrFlags};
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/file"), b"content").unwrap();
    std::fs::hard_link(root.join("sub/file"), root.join("a-link")).unwrap();
    std::os::unix::fs::symlink("sub/file", root.join("sym")).unwrap();
    std::fs::write(root.join("suid"), b"s").unwrap();
    std::fs::set_permissions(root.join("suid"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::set_permissions(
        root.join("sub/file"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let cwd = rustix::fs::CWD;
    rustix::fs::mknodat(
        cwd,
        root.join("fifo").as_path(),
        FileType::Fifo,
        Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
    rustix::fs::setxattr(
        root.join("suid").as_path(),
        "user.keep",
        b"1",
        XattrFlags::empty(),
    )
    .unwrap();
    if is_root() {
        rustix::fs::mknodat(
            cwd,
            root.join("sub/deleted").as_path(),
            FileType::CharacterDevice,
            Mode::empty(),
            0,
        )
        .unwrap();
        std::fs::create_dir(root.join("opaque")).unwrap();
        std::fs::write(root.join("opaque/new"), b"n").unwrap();
        rustix::fs::setxattr(
            root.join("opaque").as_path(),
            "trusted.overlay.opaque",
            b"y",
            XattrFlags::empty(),
        )
        .unwrap();
        std::fs::create_dir(root.join("not-opaque")).unwrap();
        rustix::fs::setxattr(
            root.join("not-opaque").as_path(),
            "trusted.overlay.opaque",
            b"x",
            XattrFlags::empty(),
        )
        .unwrap();
        rustix::fs::setxattr(
            root.join("suid").as_path(),
            "trusted.dropped",
            b"1",
            XattrFlags::empty(),
        )
        .unwrap();
        rustix::fs::mknodat(
            cwd,
            root.join("null").as_path(),
            FileType::CharacterDevice,
            Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
    }

    let entries = entries_from_dir(root, "/app/").unwrap();
    let get = |p: &str| {
        entries
            .iter()
            .find(|e| e.path == p)
            .unwrap_or_else(|| panic!("no {p} in {entries:#?}"))
    };
    assert!(entries.iter().all(|e| e.path.starts_with("app/")));
    // The first path in walk order holds the content; the second is the hardlink.
    assert!(
        matches!(&get("app/a-link").kind, EntryKind::File(FileSource::Path(p)) if p == &root.join("a-link"))
    );
    assert_eq!(
        get("app/sub/file").kind,
        EntryKind::Hardlink {
            target: "app/a-link".into()
        }
    );
    assert_eq!(
        get("app/sym").kind,
        EntryKind::Symlink {
            target: "sub/file".into()
        }
    );
    assert_eq!(get("app/fifo").kind, EntryKind::Fifo);
    assert_eq!(get("app/fifo").mode, 0o644 & !current_umask());
    assert_eq!(get("app/suid").mode, 0o4755);
    assert_eq!(get("app/sub/file").mode, 0o600);
    assert_eq!(get("app/sub").kind, EntryKind::Dir);
    let md = std::fs::metadata(root.join("suid")).unwrap();
    assert_eq!(
        (
            get("app/suid").uid,
            get("app/suid").gid,
            get("app/suid").mtime
        ),
        (u64::from(md.uid()), u64::from(md.gid()), Some(md.mtime()))
    );
    let xattr_names: Vec<&str> = get("app/suid").xattrs.keys().map(String::as_str).collect();
    assert_eq!(xattr_names, ["user.keep"]);
    if is_root() {
        assert_eq!(get("app/sub/deleted").kind, EntryKind::Whiteout);
        assert_eq!(get("app/opaque").kind, EntryKind::OpaqueWhiteout);
        assert_eq!(get("app/not-opaque").kind, EntryKind::Dir);
        assert_eq!(
            get("app/null").kind,
            EntryKind::CharDevice { major: 1, minor: 3 }
        );
    }
    // Walk order is already layer order, and the entries write as a layer.
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort_by(|a, b| cmp_paths(a, b));
    assert_eq!(paths, sorted);
    let (_, blob) = write(entries.clone(), Compression::Gzip);
    let infos = read_layer_entries(blob.as_slice(), media_type(Compression::Gzip)).unwrap();
    assert!(infos.iter().any(|i| i.path == "app/sub/file"
        && i.kind
            == EntryInfoKind::Hardlink {
                target: "app/a-link".into()
            }));
    if is_root() {
        assert!(
            infos
                .iter()
                .any(|i| i.path == "app/sub/deleted" && i.kind == EntryInfoKind::Whiteout)
        );
        assert!(
            infos
                .iter()
                .any(|i| i.path == "app/opaque" && i.kind == EntryInfoKind::OpaqueWhiteout)
        );
        // overlay redirect attributes are refused.
        rustix::fs::setxattr(
            root.join("sub").as_path(),
            "trusted.overlay.redirect",
            b"/x",
            XattrFlags::empty(),
        )
        .unwrap();
        assert!(matches!(
            entries_from_dir(root, ""),
            Err(LayerError::UnsupportedOverlay { .. })
        ));
    }
}

fn current_umask() -> u32 {
    let old = rustix::process::umask(Mode::from_raw_mode(0o022));
    rustix::process::umask(old);
    old.bits()
}

use rustix::fs::Mode;

#[test]
fn write_to_a_failing_sink_reports_the_sink_error() {
    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let big: Vec<u8> = vec![1; 5 << 20];
    for p in [Pipeline::Inline, Pipeline::Threaded] {
        let e = write_layer_with(
            vec![file("big", &big, 0o644)],
            &opts(Compression::None),
            Failing,
            p,
        )
        .map(|_| ())
        .unwrap_err();
        assert!(
            matches!(e, LayerError::Write(_)) && e.to_string().contains("disk full"),
            "{e}"
        );
    }
}

#[test]
fn opaque_marker_after_children_keeps_this_layers_entries() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("d/olddir")).unwrap();
    std::fs::write(root.path().join("d/old"), b"lower").unwrap();
    let t = raw_tar(&[
        (b"d/", tar::EntryType::Directory, b"", b""),
        (b"d/new", tar::EntryType::Regular, b"", b"upper"),
        (b"d/.wh..wh..opq", tar::EntryType::Regular, b"", b""),
    ]);
    extract_layer(t.as_slice(), "", root.path()).unwrap();
    assert_eq!(std::fs::read(root.path().join("d/new")).unwrap(), b"upper");
    assert!(!root.path().join("d/old").exists());
    assert!(!root.path().join("d/olddir").exists());
    assert!(!root.path().join("d/.wh..wh..opq").exists());
}

#[test]
fn reads_gnu_long_names_from_other_tools() {
    let long = format!("usr/share/{}/file", "n".repeat(180));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o755);
    h.set_uid(7);
    b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
    let data = b.into_inner().unwrap();
    let infos = read_layer_entries(data.as_slice(), "").unwrap();
    assert_eq!(infos.len(), 1);
    assert_eq!(
        (
            infos[0].path.as_str(),
            infos[0].size,
            infos[0].mode,
            infos[0].uid
        ),
        (long.as_str(), 3, 0o755, 7)
    );
    let root = tempfile::tempdir().unwrap();
    extract_layer(data.as_slice(), "", root.path()).unwrap();
    assert_eq!(std::fs::read(root.path().join(&long)).unwrap(), b"abc");
}

// ---------------------------------------------------------------------------------------------
// Overlay lower directories

/// Every path below `root` (sorted) with what it is: file content, symlink target or "dir".
fn tree(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root).min_depth(1).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(root).unwrap().display().to_string();
        let ft = e.file_type();
        let what = if ft.is_dir() {
            format!(
                "dir {:o}",
                e.metadata().unwrap().permissions().mode() & 0o7777
            )
        } else if ft.is_symlink() {
            format!("-> {}", std::fs::read_link(e.path()).unwrap().display())
        } else {
            String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned()
        };
        out.push((rel, what));
    }
    out
}

fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = [0u8; 64];
    rustix::fs::lgetxattr(path, name, &mut buf[..])
        .ok()
        .map(|n| buf[..n].to_vec())
}

fn is_whiteout(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0)
}

/// Unmounts when dropped, so a failing assertion does not leave the mount behind.
struct Mounted<'a>(&'a Path);

impl Drop for Mounted<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

#[test]
fn overlay_lower_extraction_writes_whiteouts_and_opaque_xattrs() {
    let mut entries = vec![
        dir("etc", 0o755),
        LayerEntry::new("etc/gone", EntryKind::Whiteout, 0, 0, 0),
        LayerEntry::new("var", EntryKind::OpaqueWhiteout, 0o750, 0, 0),
        file("var/new", b"upper", 0o640),
        file("etc/kept", b"k", 0o600),
    ];
    let mut f = file("etc/redirected", b"r", 0o644);
    f.xattrs
        .insert("trusted.overlay.redirect".into(), b"/elsewhere".to_vec());
    f.xattrs.insert("user.plinth".into(), b"v".to_vec());
    entries.push(f);
    let (w, blob) = write(entries, Compression::Zstd);
    let root = tempfile::tempdir().unwrap();
    let result = extract_layer_with(
        blob.as_slice(),
        w.media_type,
        root.path(),
        ExtractMode::OverlayLower,
    );
    if !is_root() {
        // trusted.* xattrs need CAP_SYS_ADMIN: refused rather than silently different.
        let e = result.unwrap_err();
        assert!(e.to_string().contains("trusted.overlay.opaque"), "{e}");
        return;
    }
    let stats = result.unwrap();
    let r = root.path();
    assert!(
        is_whiteout(&r.join("etc/gone")),
        "whiteout is a 0/0 char device"
    );
    assert_eq!(
        std::fs::symlink_metadata(r.join("etc/gone"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0
    );
    assert_eq!(
        get_xattr(&r.join("var"), OVERLAY_OPAQUE_XATTR),
        Some(b"y".to_vec())
    );
    assert_eq!(get_xattr(&r.join("etc"), OVERLAY_OPAQUE_XATTR), None);
    assert_eq!(std::fs::read(r.join("var/new")).unwrap(), b"upper");
    assert_eq!(
        std::fs::metadata(r.join("var"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o750
    );
    assert!(!r.join("var/.wh..wh..opq").exists());
    assert!(!r.join("etc/.wh.gone").exists());
    assert_eq!(stats.whiteouts, 2);
    // Overlay metadata from layer content is not set; other xattrs are.
    assert_eq!(
        get_xattr(&r.join("etc/redirected"), "trusted.overlay.redirect"),
        None
    );
    assert_eq!(
        get_xattr(&r.join("etc/redirected"), "user.plinth"),
        Some(b"v".to_vec())
    );
    assert_eq!(stats.skipped_xattrs, 1);

    // The same layer applied normally creates no device and no xattr.
    let applied = tempfile::tempdir().unwrap();
    extract_layer(blob.as_slice(), w.media_type, applied.path()).unwrap();
    assert!(!applied.path().join("etc/gone").exists());
    assert_eq!(
        get_xattr(&applied.path().join("var"), OVERLAY_OPAQUE_XATTR),
        None
    );
    assert_eq!(
        get_xattr(
            &applied.path().join("etc/redirected"),
            "trusted.overlay.redirect"
        ),
        Some(b"/elsewhere".to_vec())
    );
}

#[test]
fn overlay_lower_keeps_path_safety() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let reg = tar::EntryType::Regular;
    let out = outside.path().to_str().unwrap().as_bytes();
    let t = raw_tar(&[
        (b"link", tar::EntryType::Symlink, out, b""),
        (b"link/.wh.victim", reg, b"", b""),
    ]);
    let e =
        extract_layer_with(t.as_slice(), "", root.path(), ExtractMode::OverlayLower).unwrap_err();
    assert!(matches!(e, LayerError::UnsafePath { .. }), "{e}");
    let t = raw_tar(&[(b"../.wh.victim", reg, b"", b"")]);
    assert!(matches!(
        extract_layer_with(t.as_slice(), "", root.path(), ExtractMode::OverlayLower),
        Err(LayerError::UnsafePath { .. })
    ));
    let t = raw_tar(&[
        (b"link2", tar::EntryType::Symlink, out, b""),
        (b"link2/.wh..wh..opq", reg, b"", b""),
    ]);
    assert!(extract_layer_with(t.as_slice(), "", root.path(), ExtractMode::OverlayLower).is_err());
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    assert_eq!(get_xattr(outside.path(), OVERLAY_OPAQUE_XATTR), None);
}

#[test]
fn overlay_lower_layers_mount_to_the_applied_view() {
    if !is_root() {
        eprintln!("skipped: mounting overlayfs needs root");
        return;
    }
    check_overlay_lowers_mount_to_the_applied_view(None);
}

#[test]
fn pooled_overlay_lower_layers_mount_to_the_applied_view() {
    if !is_root() {
        eprintln!("skipped: mounting overlayfs needs root");
        return;
    }
    let pool = tempfile::tempdir().unwrap();
    check_overlay_lowers_mount_to_the_applied_view(Some(pool.path()));
}

/// Extracts three layers as overlay lowers (with the file pool when given), mounts them and
/// compares the merged view with the layers applied in order.
fn check_overlay_lowers_mount_to_the_applied_view(pool: Option<&Path>) {
    // Layer 1: the base.
    let l1 = vec![
        dir("etc", 0o755),
        file("etc/gone", b"old", 0o644),
        file("etc/kept", b"kept", 0o644),
        dir("d", 0o755),
        file("d/old", b"lower", 0o644),
        dir("d/sub", 0o700),
        file("d/sub/x", b"x", 0o644),
        dir("keep", 0o755),
        file("keep/a", b"a", 0o644),
        dir("replaced", 0o755),
        file("replaced/lower", b"l", 0o644),
        LayerEntry::new(
            "etc/link",
            EntryKind::Symlink {
                target: "kept".into(),
            },
            0o777,
            0,
            0,
        ),
    ];
    // Layer 2: deletes a file, makes `d` opaque with new content, adds to `keep`.
    let l2 = vec![
        dir("etc", 0o755),
        LayerEntry::new("etc/gone", EntryKind::Whiteout, 0, 0, 0),
        LayerEntry::new("d", EntryKind::OpaqueWhiteout, 0o755, 0, 0),
        file("d/new", b"upper", 0o644),
        dir("keep", 0o755),
        file("keep/b", b"b", 0o644),
        // The same file as layer 1's: one inode in both lowers when pooled.
        file("keep/a", b"a", 0o644),
    ];
    // Layer 3 (raw): a whiteout of this layer used as a parent, so `replaced` is recreated; the
    // merged directory must not show the lower `replaced/lower`.
    let reg = tar::EntryType::Regular;
    let l3 = raw_tar(&[
        (b".wh.replaced", reg, b"", b""),
        (b"replaced/fresh", reg, b"", b"f"),
        (b"etc/.wh.link", reg, b"", b""),
    ]);
    let (w1, b1) = write(l1, Compression::Gzip);
    let (w2, b2) = write(l2, Compression::Zstd);
    let layers: [(&[u8], &str); 3] = [
        (&b1, w1.media_type),
        (&b2, w2.media_type),
        (&l3, crate::media::OCI_LAYER_TAR),
    ];

    let base = tempfile::tempdir().unwrap();
    let applied = base.path().join("applied");
    std::fs::create_dir(&applied).unwrap();
    let mut lowers = Vec::new();
    for (i, (blob, mt)) in layers.iter().enumerate() {
        extract_layer(*blob, mt, &applied).unwrap();
        let lower = base.path().join(format!("l{i}"));
        std::fs::create_dir(&lower).unwrap();
        let opts = ExtractOptions {
            mode: ExtractMode::OverlayLower,
            pool,
        };
        extract_layer_opts(*blob, mt, &lower, &opts).unwrap();
        lowers.push(lower);
    }
    let ino = |p: PathBuf| std::fs::metadata(p).unwrap().ino();
    assert_eq!(
        ino(lowers[0].join("keep/a")) == ino(lowers[1].join("keep/a")),
        pool.is_some(),
        "identical files share an inode exactly when pooled"
    );
    assert!(is_whiteout(&lowers[1].join("etc/gone")));
    assert_eq!(
        get_xattr(&lowers[2].join("replaced"), OVERLAY_OPAQUE_XATTR),
        Some(b"y".to_vec())
    );

    let merged = base.path().join("merged");
    std::fs::create_dir(&merged).unwrap();
    // Top layer first.
    let lowerdir = lowers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let status = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o"])
        .arg(format!("lowerdir={lowerdir}"))
        .arg(&merged)
        .status()
        .unwrap();
    assert!(status.success(), "mount -t overlay failed");
    let guard = Mounted(&merged);

    assert!(
        !merged.join("etc/gone").exists(),
        "whiteout hides the lower file"
    );
    assert_eq!(std::fs::read(merged.join("etc/kept")).unwrap(), b"kept");
    assert!(std::fs::symlink_metadata(merged.join("etc/link")).is_err());
    assert_eq!(std::fs::read(merged.join("d/new")).unwrap(), b"upper");
    assert!(
        !merged.join("d/old").exists(),
        "opaque dir hides lower content"
    );
    assert!(!merged.join("d/sub").exists());
    assert_eq!(std::fs::read(merged.join("keep/a")).unwrap(), b"a");
    assert_eq!(std::fs::read(merged.join("keep/b")).unwrap(), b"b");
    assert!(!merged.join("replaced/lower").exists());
    assert_eq!(std::fs::read(merged.join("replaced/fresh")).unwrap(), b"f");
    // And the whole merged view is what applying the layers in order gives.
    assert_eq!(tree(&merged), tree(&applied));

    drop(guard);
    let still_mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(merged.to_str().unwrap());
    assert!(!still_mounted, "the overlay was unmounted");

    // Writing through a writable mount copies the file up: the (shared) lower files stay.
    let upper = base.path().join("upper");
    let work = base.path().join("work");
    std::fs::create_dir(&upper).unwrap();
    std::fs::create_dir(&work).unwrap();
    let status = Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o"])
        .arg(format!(
            "lowerdir={lowerdir},upperdir={},workdir={}",
            upper.display(),
            work.display()
        ))
        .arg(&merged)
        .status()
        .unwrap();
    assert!(status.success(), "mount -t overlay (writable) failed");
    let guard = Mounted(&merged);
    std::fs::write(merged.join("keep/a"), b"changed").unwrap();
    assert_eq!(std::fs::read(merged.join("keep/a")).unwrap(), b"changed");
    drop(guard);
    assert_eq!(std::fs::read(upper.join("keep/a")).unwrap(), b"changed");
    assert_eq!(std::fs::read(lowers[0].join("keep/a")).unwrap(), b"a");
    assert_eq!(std::fs::read(lowers[1].join("keep/a")).unwrap(), b"a");
}

/// A file entry with every metadata field the pool key covers.
fn file_meta(path: &str, content: &[u8], mode: u32, owner: u64, mtime: i64) -> LayerEntry {
    let mut e = file(path, content, mode);
    e.uid = owner;
    e.gid = owner;
    e.mtime = Some(mtime);
    e
}

#[test]
fn overlay_lower_pool_shares_only_identical_plain_files() {
    let base = tempfile::tempdir().unwrap();
    let pool = base.path().join("pool");
    std::fs::create_dir(&pool).unwrap();
    let old = SDE - 100;
    // Each pair differs between the layers only where its name says.
    let l1 = vec![
        file_meta("same", b"shared", 0o644, 0, old),
        file_meta("mode", b"m", 0o644, 0, old),
        file_meta("mtime", b"t", 0o644, 0, old),
        file_meta("owner", b"o", 0o644, 0, old),
        file_meta("content", b"one", 0o644, 0, old),
        file_meta("setuid", b"s", 0o4755, 0, old),
        {
            let mut f = file_meta("xattr", b"x", 0o644, 0, old);
            f.xattrs.insert("user.plinth".into(), b"v".to_vec());
            f
        },
        LayerEntry::new(
            "same-link",
            EntryKind::Hardlink {
                target: "same".into(),
            },
            0o644,
            0,
            0,
        ),
    ];
    let mut l2 = l1.clone();
    l2[1].mode = 0o755;
    l2[2].mtime = Some(old - 1);
    l2[3].uid = 1000;
    l2[3].gid = 1000;
    l2[4].kind = EntryKind::File(FileSource::Bytes(Arc::from(b"two".as_slice())));
    let mut lowers = Vec::new();
    let mut stats = Vec::new();
    for (i, entries) in [l1, l2].into_iter().enumerate() {
        let (w, blob) = write(entries, Compression::Gzip);
        let lower = base.path().join(format!("l{i}"));
        std::fs::create_dir(&lower).unwrap();
        let opts = ExtractOptions {
            mode: ExtractMode::OverlayLower,
            pool: Some(&pool),
        };
        stats.push(extract_layer_opts(blob.as_slice(), w.media_type, &lower, &opts).unwrap());
        lowers.push(lower);
    }
    let md = |i: usize, name: &str| std::fs::symlink_metadata(lowers[i].join(name)).unwrap();
    let (a, b) = (md(0, "same"), md(1, "same"));
    assert_eq!(a.ino(), b.ino());
    assert_eq!(
        b.nlink(),
        5,
        "two layers, each with a hardlink, and the pool"
    );
    assert_eq!(md(1, "same-link").ino(), a.ino());
    assert_eq!(std::fs::read(lowers[1].join("same")).unwrap(), b"shared");
    for name in ["mode", "mtime", "owner", "content"] {
        assert_ne!(md(0, name).ino(), md(1, name).ino(), "{name} is not shared");
        assert_eq!(md(0, name).nlink(), 2, "{name}: the layer and the pool");
    }
    assert_eq!(md(1, "mode").permissions().mode() & 0o7777, 0o755);
    assert_eq!(md(1, "mtime").mtime(), old - 1);
    assert_eq!(std::fs::read(lowers[1].join("content")).unwrap(), b"two");
    if is_root() {
        assert_eq!(md(1, "owner").uid(), 1000);
        assert_eq!(md(1, "setuid").permissions().mode() & 0o7777, 0o4755);
    }
    for name in ["setuid", "xattr"] {
        assert_ne!(md(0, name).ino(), md(1, name).ino(), "{name} is not pooled");
        assert_eq!(md(1, name).nlink(), 1, "{name} is not pooled");
    }
    assert_eq!(
        get_xattr(&lowers[1].join("xattr"), "user.plinth"),
        Some(b"v".to_vec())
    );
    // Pooled: same; mode, mtime, owner, content once per layer.
    let pooled: Vec<_> = walkdir::WalkDir::new(&pool)
        .min_depth(2)
        .into_iter()
        .map(|e| e.unwrap())
        .collect();
    assert_eq!(pooled.len(), 9, "{pooled:?}");
    assert_eq!(stats[0].pooled_files, 0);
    assert_eq!(stats[1].pooled_files, 1);
    assert_eq!(stats[1].files, 7);

    // Apply mode ignores the pool.
    let applied = base.path().join("applied");
    std::fs::create_dir(&applied).unwrap();
    let (w, blob) = write(
        vec![file_meta("same", b"shared", 0o644, 0, old)],
        Compression::None,
    );
    let opts = ExtractOptions {
        mode: ExtractMode::Apply,
        pool: Some(&pool),
    };
    extract_layer_opts(blob.as_slice(), w.media_type, &applied, &opts).unwrap();
    assert_eq!(std::fs::metadata(applied.join("same")).unwrap().nlink(), 1);
}
