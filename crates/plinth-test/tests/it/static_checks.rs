//! `ImageView` and the static checks against images these tests build with plinth itself
//! (FROM scratch + COPY, several layers) plus one layer written with whiteouts and an opaque
//! directory.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use crate::support::build;
use plinth_oci::layer::{
    Compression, EntryKind, FileSource, LayerEntry, LayerOptions, write_layer,
};
use plinth_oci::store::Store;
use plinth_oci::{Descriptor, media};
use plinth_test::image::{ImageError, ImageView};
use plinth_test::model::{
    Check, CommandCheck, FileCheck, FileKind, GroupCheck, LicenseCheck, Matcher, MetadataCheck,
    PackageCheck, Status, Test, TestResult, UserCheck,
};
use plinth_test::static_checks::{self, dpkg_packages};

const DPKG_STATUS: &str = "\
Package: bash
Status: install ok installed
Priority: required
Version: 5.2.15-2+b2
Description: GNU Bourne Again SHell
 Bash is an sh-compatible command language interpreter.
 Version: 9.9 (a continuation line, not a field)

Package: oldpkg
Status: deinstall ok config-files
Version: 1.0

Package: curl
Status: install ok installed
Version: 7.88.1-10
";

fn write(root: &Path, rel: &str, content: &str, mode: u32) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
}

/// Adds a layer with `entries` on top of image `from`, tagged `tag` (what a `RUN rm` would do).
fn add_layer(store: &Store, from: &str, entries: Vec<LayerEntry>, tag: &str) {
    let base = store
        .image(&store.resolve(from).unwrap().descriptor)
        .unwrap();
    let opts = LayerOptions {
        compression: Compression::Gzip,
        source_date_epoch: 0,
    };
    let (written, writer) = write_layer(entries, &opts, store.blob_writer().unwrap()).unwrap();
    let (digest, size) = writer.commit().unwrap();
    assert_eq!(digest, written.digest);
    let mut config = base.config.clone();
    config.rootfs.diff_ids.push(written.diff_id.clone());
    let config_desc = store.write_json(media::OCI_CONFIG, &config).unwrap();
    let mut manifest = base.manifest.clone();
    manifest.config = config_desc;
    manifest
        .layers
        .push(Descriptor::new(written.media_type, digest, size));
    let desc = store.write_json(media::OCI_MANIFEST, &manifest).unwrap();
    store.set_ref(tag, &desc).unwrap();
}

/// `base:1`: three COPY layers (rootfs; app files owned by 1000:50; a new /etc/hello.txt) and
/// metadata. `wh:1`: base plus a layer deleting /etc/rmme and two doc dirs with whiteouts and
/// making /opq opaque. `empty:1`: one file, no config metadata, no databases.
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::init(dir.path().join("store")).unwrap();
    let ctx = dir.path().join("ctx");
    let r = ctx.join("rootfs");
    write(
        &r,
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/ash\n",
        0o644,
    );
    write(
        &r,
        "etc/group",
        "root:x:0:\napp:x:1000:\nstaff:x:50:app\nwheel:x:10:\n",
        0o644,
    );
    write(&r, "etc/rmme", "to be deleted\n", 0o600);
    write(&r, "etc/hello.txt", "hello v1\n", 0o640);
    write(&r, "bin/tool", "#!/bin/sh\necho tool\n", 0o4755);
    write(&r, "opq/old.txt", "old\n", 0o644);
    write(&r, "var/lib/dpkg/status", DPKG_STATUS, 0o644);
    write(&r, "usr/share/doc/bash/copyright", "GPL-3+\n", 0o644);
    write(
        &r,
        "usr/share/doc/bad/copyright",
        "License: agpl-3.0\n",
        0o644,
    );
    write(
        &r,
        "usr/share/doc/libgnutls30/README",
        "no copyright\n",
        0o644,
    );
    write(&r, "usr/share/doc/nocopy/README", "no copyright\n", 0o644);
    write(&r, "licenses/MIT", "MIT License\n", 0o644);
    write(
        &r,
        "licenses/WTF",
        "DO WHAT THE FUCK YOU WANT (wtfpl)\n",
        0o644,
    );
    std::fs::create_dir_all(r.join("home/app")).unwrap();
    symlink("tool", r.join("bin/link")).unwrap();
    symlink("/etc/hello.txt", r.join("etc/abs")).unwrap();
    symlink("../../../../etc/hello.txt", r.join("etc/up")).unwrap();
    symlink("loop2", r.join("etc/loop1")).unwrap();
    symlink("loop1", r.join("etc/loop2")).unwrap();
    symlink("/nope", r.join("etc/dangling")).unwrap();
    symlink("etc", r.join("dirlink")).unwrap();
    write(&ctx, "app/data.txt", "data\n", 0o600);
    write(&ctx, "v2/hello.txt", "hello v2\nsecond line\n", 0o644);
    write(&ctx, "only.txt", "only\n", 0o644);
    build(
        &store,
        &ctx,
        "FROM scratch\nCOPY rootfs/ /\nCOPY --chown=1000:50 app/ /home/app/\n\
         COPY v2/hello.txt /etc/hello.txt\n\
         ENV A=1 B=\"x y\"\nLABEL org.example.name=hello\n\
         ENTRYPOINT [\"/bin/tool\"]\nCMD [\"--help\"]\nWORKDIR /home/app\nUSER app\n\
         EXPOSE 8080 53/udp\nVOLUME /data\nHEALTHCHECK CMD [\"/bin/tool\"]\n",
        "base:1",
    );
    let gone = |p: &str| LayerEntry::new(p, EntryKind::Whiteout, 0, 0, 0);
    add_layer(
        &store,
        "base:1",
        vec![
            gone("etc/rmme"),
            gone("usr/share/doc/bad"),
            gone("usr/share/doc/nocopy"),
            LayerEntry::new("opq", EntryKind::OpaqueWhiteout, 0o755, 0, 0),
            LayerEntry::new(
                "opq/new.txt",
                EntryKind::File(FileSource::Bytes(b"new\n".to_vec().into())),
                0o644,
                0,
                0,
            ),
        ],
        "wh:1",
    );
    build(&store, &ctx, "FROM scratch\nCOPY only.txt /\n", "empty:1");
    Fixture { _dir: dir, store }
}

fn test(check: Check) -> Test {
    Test {
        name: "t".to_string(),
        line: Some(1),
        check,
    }
}

fn run(view: &ImageView, check: Check) -> TestResult {
    static_checks::run(view, "suite", &test(check))
}

#[track_caller]
fn assert_passes(view: &ImageView, check: Check) {
    let r = run(view, check.clone());
    assert_eq!(r.status, Status::Passed, "{check:?}: {}", r.message);
    assert!(r.message.is_empty());
    assert_eq!(r.suite, "suite");
    assert_eq!(r.kind, check.kind());
}

/// Fails, with a message containing every string of `needles`.
#[track_caller]
fn assert_fails(view: &ImageView, check: Check, needles: &[&str]) {
    let r = run(view, check.clone());
    assert_eq!(r.status, Status::Failed, "{check:?} should fail");
    for n in needles {
        assert!(
            r.message.contains(n),
            "{check:?}: {:?} lacks {n:?}",
            r.message
        );
    }
}

// ------------------------------------------------------------------------------ ImageView

#[test]
fn lstat_and_stat_report_layer_metadata_and_resolve_links_inside_the_image() {
    let f = fixture();
    let v = ImageView::open(&f.store, "base:1").unwrap();
    assert_eq!(
        v.digest(),
        &f.store.resolve("base:1").unwrap().descriptor.digest
    );

    let tool = v.lstat("/bin/tool").unwrap();
    assert_eq!(tool.kind, FileKind::File);
    assert_eq!(tool.mode, 0o4755);
    assert_eq!(tool.size, "#!/bin/sh\necho tool\n".len() as u64);

    let link = v.lstat("/bin/link").unwrap();
    assert_eq!(link.kind, FileKind::Symlink);
    assert_eq!(link.link_target.as_deref(), Some("tool"));
    assert_eq!(v.stat("/bin/link").unwrap(), tool);

    // The topmost version of /etc/hello.txt is layer 3's (size and mode from there).
    let hello = v.stat("/etc/hello.txt").unwrap();
    assert_eq!(hello.size, "hello v2\nsecond line\n".len() as u64);
    assert_eq!(hello.mode, 0o644);
    // Absolute and escaping targets stay inside the image root.
    assert_eq!(v.stat("/etc/abs").unwrap(), hello);
    assert_eq!(v.stat("/etc/up").unwrap(), hello);
    assert_eq!(v.stat("etc/../../../etc/./hello.txt").unwrap(), hello);
    // Parents' symlinks are followed by lstat too.
    assert_eq!(v.lstat("/dirlink/hello.txt").unwrap(), hello);
    assert_eq!(v.lstat("/dirlink").unwrap().kind, FileKind::Symlink);
    assert_eq!(v.stat("/dirlink").unwrap().kind, FileKind::Directory);
    // Loops and dangling links.
    assert_eq!(v.lstat("/etc/loop1").unwrap().kind, FileKind::Symlink);
    assert!(v.stat("/etc/loop1").is_none());
    assert!(v.stat("/etc/dangling").is_none());
    assert!(v.lstat("/etc/dangling").is_some());
    // A file is not a directory.
    assert!(v.lstat("/etc/hello.txt/x").is_none());
    assert!(v.lstat("/missing").is_none());
    // COPY --chown.
    let data = v.lstat("/home/app/data.txt").unwrap();
    assert_eq!((data.uid, data.gid, data.mode), (1000, 50, 0o600));
    assert_eq!(v.stat("/").unwrap().kind, FileKind::Directory);
    assert_eq!(
        v.read_dir("/dirlink").unwrap(),
        [
            "abs",
            "dangling",
            "group",
            "hello.txt",
            "loop1",
            "loop2",
            "passwd",
            "rmme",
            "up"
        ]
    );
    assert_eq!(v.config().config.user.as_deref(), Some("app"));
}

#[test]
fn read_streams_only_the_layer_of_the_topmost_version() {
    let f = fixture();
    let v = ImageView::open(&f.store, "base:1").unwrap();
    assert_eq!(
        v.read("/etc/abs").unwrap().unwrap(),
        b"hello v2\nsecond line\n"
    );
    assert_eq!(v.read("/nothing").unwrap(), None);
    assert!(matches!(
        v.read("/etc"),
        Err(ImageError::NotRegularFile { .. })
    ));
    assert!(matches!(
        v.read("/"),
        Err(ImageError::NotRegularFile { .. })
    ));
    // Remove the first layer's blob: files whose topmost version is above it still read.
    let layers = &v.image().manifest.layers;
    assert_eq!(layers.len(), 3);
    std::fs::remove_file(f.store.blob_path(&layers[0].digest)).unwrap();
    assert_eq!(v.read("/home/app/data.txt").unwrap().unwrap(), b"data\n");
    assert_eq!(
        v.read("/etc/hello.txt").unwrap().unwrap(),
        b"hello v2\nsecond line\n"
    );
    assert!(v.read("/etc/passwd").is_err(), "layer 1 is gone");
}

#[test]
fn whiteouts_and_opaque_directories_hide_lower_layers() {
    let f = fixture();
    let base = ImageView::open(&f.store, "base:1").unwrap();
    let wh = ImageView::open(&f.store, "wh:1").unwrap();
    assert!(base.lstat("/etc/rmme").is_some());
    assert!(wh.lstat("/etc/rmme").is_none());
    assert_eq!(wh.read("/etc/rmme").unwrap(), None);
    assert!(wh.lstat("/usr/share/doc/bad/copyright").is_none());
    assert!(wh.lstat("/opq/old.txt").is_none());
    assert_eq!(wh.read("/opq/new.txt").unwrap().unwrap(), b"new\n");
    assert_eq!(wh.read_dir("/opq").unwrap(), ["new.txt"]);
    assert_eq!(
        wh.read_dir("/usr/share/doc").unwrap(),
        ["bash", "libgnutls30"]
    );
    // Untouched files still come from the lower layers.
    assert!(
        wh.read("/etc/passwd")
            .unwrap()
            .unwrap()
            .starts_with(b"root:")
    );
    assert!(ImageView::open(&f.store, "nope:1").is_err());
}

// ------------------------------------------------------------------------------ files

fn file(path: &str) -> FileCheck {
    FileCheck {
        path: path.to_string(),
        exists: true,
        ..Default::default()
    }
}

#[test]
fn file_checks_pass_and_fail_per_attribute() {
    let f = fixture();
    let v = ImageView::open(&f.store, "base:1").unwrap();
    let good = FileCheck {
        kind: Some(FileKind::File),
        mode: Some(0o600),
        uid: Some(1000),
        gid: Some(50),
        owner: Some("app".into()),
        group: Some("staff".into()),
        size: Some(5),
        sha256: Some("6667b2d1aab6a00caa5aee5af8ad9f1465e567abf1c209d15727d57b3e8f6e5f".into()),
        content: vec![Matcher::Equals("data".into())],
        ..file("/home/app/data.txt")
    };
    assert_passes(&v, Check::File(good.clone()));
    let cases: Vec<(FileCheck, &[&str])> = vec![
        (
            FileCheck {
                kind: Some(FileKind::Directory),
                ..good.clone()
            },
            &["type: expected directory, found file"],
        ),
        (
            FileCheck {
                mode: Some(0o644),
                ..good.clone()
            },
            &["mode: expected 0644, found 0600"],
        ),
        (
            FileCheck {
                uid: Some(0),
                ..good.clone()
            },
            &["uid: expected 0, found 1000"],
        ),
        (
            FileCheck {
                gid: Some(0),
                ..good.clone()
            },
            &["gid: expected 0, found 50"],
        ),
        (
            FileCheck {
                owner: Some("root".into()),
                ..good.clone()
            },
            &["owner: expected root, found uid 1000 (app)"],
        ),
        (
            FileCheck {
                group: Some("wheel".into()),
                ..good.clone()
            },
            &["group: expected wheel, found gid 50 (staff)"],
        ),
        (
            FileCheck {
                size: Some(6),
                ..good.clone()
            },
            &["size: expected 6, found 5"],
        ),
        (
            // isExecutableBy: the 0600 file is executable by nobody.
            FileCheck {
                executable_by: Some(0o111),
                ..good.clone()
            },
            &["executable: expected one of the bits 0111 in the mode, found 0600"],
        ),
        (
            FileCheck {
                sha256: Some("00".into()),
                ..good.clone()
            },
            &["sha256: expected 00, found 6667b2d1"],
        ),
        (
            FileCheck {
                link_target: Some("x".into()),
                ..good.clone()
            },
            &["link target: expected x, found file (not a symlink)"],
        ),
        (
            FileCheck {
                mode: Some(0o644),
                uid: Some(0),
                ..good.clone()
            },
            &["mode: expected", "uid: expected"],
        ),
    ];
    for (check, needles) in cases {
        assert_fails(&v, Check::File(check), needles);
    }
    // Symlinks: metadata of the link itself, content of its target.
    let link = FileCheck {
        kind: Some(FileKind::Symlink),
        link_target: Some("/etc/hello.txt".into()),
        content: vec![Matcher::Contains("second".into())],
        ..file("/etc/abs")
    };
    assert_passes(&v, Check::File(link.clone()));
    assert_fails(
        &v,
        Check::File(FileCheck {
            link_target: Some("/etc/other".into()),
            ..link
        }),
        &["link target: expected /etc/other, found /etc/hello.txt"],
    );
    assert_passes(
        &v,
        Check::File(FileCheck {
            kind: Some(FileKind::Directory),
            mode: Some(0o755),
            ..file("/etc")
        }),
    );
    assert_fails(
        &v,
        Check::File(FileCheck {
            content: vec![Matcher::Contains("x".into())],
            ..file("/etc")
        }),
        &["content: expected a regular file, found a directory"],
    );
    assert_fails(
        &v,
        Check::File(FileCheck {
            content: vec![Matcher::Contains("x".into())],
            ..file("/etc/dangling")
        }),
        &["dangling symlink"],
    );
}

#[test]
fn file_existence_passes_and_fails_both_ways() {
    let f = fixture();
    let base = ImageView::open(&f.store, "base:1").unwrap();
    let wh = ImageView::open(&f.store, "wh:1").unwrap();
    let absent = FileCheck {
        exists: false,
        ..file("/etc/rmme")
    };
    assert_passes(&wh, Check::File(absent.clone()));
    assert_fails(
        &base,
        Check::File(absent),
        &["/etc/rmme: expected not to exist, found a file (mode 0600, uid 0, gid 0)"],
    );
    assert_passes(&base, Check::File(file("/etc/rmme")));
    assert_fails(
        &wh,
        Check::File(file("/etc/rmme")),
        &["/etc/rmme: expected to exist, found nothing"],
    );
}

#[test]
fn content_matchers_pass_and_fail_and_bad_regexes_are_errors() {
    let f = fixture();
    let v = ImageView::open(&f.store, "base:1").unwrap();
    let with = |m: Matcher| {
        Check::File(FileCheck {
            content: vec![m],
            ..file("/etc/hello.txt")
        })
    };
    // Multi-line: ^ and $ match at line ends.
    assert_passes(&v, with(Matcher::Regex("^second line$".into())));
    assert_fails(
        &v,
        with(Matcher::Regex("^hello v1$".into())),
        &["content: expected to match /^hello v1$/, found \"hello v2"],
    );
    assert_passes(&v, with(Matcher::NotRegex("v1".into())));
    assert_fails(
        &v,
        with(Matcher::NotRegex("v\\d".into())),
        &["not to match /v\\d/"],
    );
    assert_passes(&v, with(Matcher::Contains("v2\nsec".into())));
    assert_fails(
        &v,
        with(Matcher::Contains("v3".into())),
        &["expected to contain \"v3\""],
    );
    assert_passes(&v, with(Matcher::NotContains("v1".into())));
    assert_fails(
        &v,
        with(Matcher::NotContains("second".into())),
        &["not to contain \"second\""],
    );
    assert_passes(&v, with(Matcher::Equals("hello v2\nsecond line".into())));
    assert_fails(
        &v,
        with(Matcher::Equals("hello v2".into())),
        &["expected to be \"hello v2\""],
    );
    let r = run(&v, with(Matcher::Regex("(unclosed".into())));
    assert_eq!(r.status, Status::Error);
    assert!(
        r.message.contains("invalid regular expression"),
        "{}",
        r.message
    );
}

// ------------------------------------------------------------------------------ packages

#[test]
fn dpkg_database_is_parsed_from_the_image() {
    let f = fixture();
    let v = ImageView::open(&f.store, "base:1").unwrap();
    let pkgs = dpkg_packages(&v).unwrap();
    assert_eq!(pkgs.len(), 2, "{pkgs:?}");
    assert_eq!(pkgs["bash"], "5.2.15-2+b2");
    assert_eq!(pkgs["curl"], "7.88.1-10");
    assert!(
        !pkgs.contains_key("oldpkg"),
        "config-files only is not installed"
    );
    let empty = ImageView::open(&f.store, "empty:1").unwrap();
    assert!(dpkg_packages(&empty).unwrap().is_empty());
}

#[test]
fn package_checks_pass_and_fail() {
    let f = fixture();
    let v = ImageView::open(&f.store, "base:1").unwrap();
    let pkg = |name: &str, installed: bool, versions: &[&str]| {
        Check::Package(PackageCheck {
            name: name.into(),
            installed,
            versions: versions.iter().map(|s| s.to_string()).collect(),
        })
    };
    assert_passes(&v, pkg("bash", true, &[]));
    assert_passes(&v, pkg("curl", true, &["1.0", "7.88.1-10"]));
    assert_passes(&v, pkg("oldpkg", false, &[]));
    assert_passes(&v, pkg("vim", false, &[]));
    assert_fails(
        &v,
        pkg("vim", true, &[]),
        &["package vim: expected installed, found not installed"],
    );
    assert_fails(
        &v,
        pkg("oldpkg", true, &[]),
        &["package oldpkg: expected installed"],
    );
    assert_fails(
        &v,
        pkg("bash", false, &[]),
        &["package bash: expected not installed, found version 5.2.15-2+b2 installed"],
    );
    assert_fails(
        &v,
        pkg("curl", true, &["8.0", "8.1"]),
        &["version of curl: expected one of 8.0, 8.1, found 7.88.1-10"],
    );
    let empty = ImageView::open(&f.store, "empty:1").unwrap();
    assert_fails(
        &empty,
        pkg("bash", true, &[]),
        &["the image has no dpkg database"],
    );
}

// ------------------------------------------------------------------------------ users, groups

#[test]
fn user_checks_pass_and_fail_per_field() {
    let f = fixture();
    let v = ImageView::open(&f.store, "base:1").unwrap();
    let good = UserCheck {
        name: "app".into(),
        exists: true,
        uid: Some(1000),
        gid: Some(1000),
        groups: vec!["app".into(), "staff".into()],
        home: Some("/home/app".into()),
        shell: Some("/bin/ash".into()),
    };
    assert_passes(&v, Check::User(good.clone()));
    let cases: Vec<(UserCheck, &str)> = vec![
        (
            UserCheck {
                uid: Some(1),
                ..good.clone()
            },
            "uid: expected 1, found 1000",
        ),
        (
            UserCheck {
                gid: Some(2),
                ..good.clone()
            },
            "gid: expected 2, found 1000",
        ),
        (
            UserCheck {
                home: Some("/root".into()),
                ..good.clone()
            },
            "home: expected /root, found /home/app",
        ),
        (
            UserCheck {
                shell: Some("/bin/sh".into()),
                ..good.clone()
            },
            "shell: expected /bin/sh, found /bin/ash",
        ),
        (
            UserCheck {
                groups: vec!["staff".into(), "wheel".into()],
                ..good.clone()
            },
            "groups: expected wheel to include the user, found the user in [app, staff]",
        ),
        (
            UserCheck {
                name: "ghost".into(),
                ..good.clone()
            },
            "user ghost: expected to exist, not in /etc/passwd",
        ),
        (
            UserCheck {
                exists: false,
                ..Default::default()
            }
            .with_name("root"),
            "user root: expected not to exist, found uid 0",
        ),
    ];
    for (check, needle) in cases {
        assert_fails(&v, Check::User(check), &[needle]);
    }
    assert_passes(
        &v,
        Check::User(
            UserCheck {
                exists: false,
                ..Default::default()
            }
            .with_name("ghost"),
        ),
    );
    // No /etc/passwd at all.
    let empty = ImageView::open(&f.store, "empty:1").unwrap();
    assert_fails(&empty, Check::User(good), &["user app: expected to exist"]);
}

trait WithName {
    fn with_name(self, name: &str) -> Self;
}

impl WithName for UserCheck {
    fn with_name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }
}

#[test]
fn group_checks_pass_and_fail() {
    let f = fixture();
    let v = ImageView::open(&f.store, "base:1").unwrap();
    let group = |name: &str, exists: bool, gid: Option<u64>| {
        Check::Group(GroupCheck {
            name: name.into(),
            exists,
            gid,
        })
    };
    assert_passes(&v, group("staff", true, Some(50)));
    assert_passes(&v, group("staff", true, None));
    assert_passes(&v, group("docker", false, None));
    assert_fails(
        &v,
        group("staff", true, Some(51)),
        &["gid: expected 51, found 50"],
    );
    assert_fails(
        &v,
        group("docker", true, None),
        &["group docker: expected to exist, not in /etc/group"],
    );
    assert_fails(
        &v,
        group("wheel", false, None),
        &["group wheel: expected not to exist, found gid 10"],
    );
}

// ------------------------------------------------------------------------------ metadata

#[test]
fn metadata_checks_pass_and_fail_per_field() {
    let f = fixture();
    let v = ImageView::open(&f.store, "base:1").unwrap();
    let good = MetadataCheck {
        env: vec![
            ("A".into(), Some(Matcher::Equals("1".into()))),
            ("B".into(), Some(Matcher::Regex("^x y$".into()))),
            ("A".into(), None),
        ],
        env_unset: vec!["NOT_SET".into()],
        labels: vec![(
            "org.example.name".into(),
            Some(Matcher::Equals("hello".into())),
        )],
        entrypoint: Some(vec!["/bin/tool".into()]),
        cmd: Some(vec!["--help".into()]),
        workdir: Some("/home/app".into()),
        user: Some("app".into()),
        exposed_ports: vec!["8080".into(), "8080/tcp".into(), "53/udp".into()],
        unexposed_ports: vec!["53".into(), "80".into()],
        volumes: vec!["/data".into()],
        unmounted_volumes: vec!["/var".into()],
        healthcheck: Some(true),
    };
    assert_passes(&v, Check::Metadata(good.clone()));
    let d = MetadataCheck::default;
    let cases: Vec<(MetadataCheck, &str)> = vec![
        (
            MetadataCheck {
                env: vec![("C".into(), None)],
                ..d()
            },
            "env C: expected to be set, found not set",
        ),
        (
            MetadataCheck {
                env_unset: vec!["A".into()],
                ..d()
            },
            "env A: expected unset, found \"1\"",
        ),
        (
            MetadataCheck {
                env: vec![("A".into(), Some(Matcher::Equals("2".into())))],
                ..d()
            },
            "env A: expected to be \"2\", found \"1\"",
        ),
        (
            MetadataCheck {
                labels: vec![(
                    "org.example.name".into(),
                    Some(Matcher::Regex("^bye".into())),
                )],
                ..d()
            },
            "label org.example.name: expected to match /^bye/, found \"hello\"",
        ),
        (
            MetadataCheck {
                labels: vec![("x".into(), None)],
                ..d()
            },
            "label x: expected to be set",
        ),
        (
            MetadataCheck {
                entrypoint: Some(vec![]),
                ..d()
            },
            "entrypoint: expected [], found [\"/bin/tool\"]",
        ),
        (
            MetadataCheck {
                cmd: Some(vec!["--help".into(), "-v".into()]),
                ..d()
            },
            "cmd: expected [\"--help\", \"-v\"], found [\"--help\"]",
        ),
        (
            MetadataCheck {
                workdir: Some("/".into()),
                ..d()
            },
            "workdir: expected \"/\", found \"/home/app\"",
        ),
        (
            MetadataCheck {
                user: Some("root".into()),
                ..d()
            },
            "user: expected \"root\", found \"app\"",
        ),
        (
            MetadataCheck {
                exposed_ports: vec!["53".into()],
                ..d()
            },
            "exposed port 53: expected exposed, found exposed ports [53/udp, 8080/tcp]",
        ),
        (
            MetadataCheck {
                unexposed_ports: vec!["8080".into()],
                ..d()
            },
            "exposed port 8080: expected not exposed, found exposed",
        ),
        (
            MetadataCheck {
                volumes: vec!["/srv".into()],
                ..d()
            },
            "volume /srv: expected declared, found volumes [/data]",
        ),
        (
            MetadataCheck {
                unmounted_volumes: vec!["/data".into()],
                ..d()
            },
            "volume /data: expected not declared, found declared",
        ),
        (
            MetadataCheck {
                healthcheck: Some(false),
                ..d()
            },
            "healthcheck: expected none, found declared",
        ),
    ];
    for (check, needle) in cases {
        assert_fails(&v, Check::Metadata(check), &[needle]);
    }
    // An image without any of it.
    let empty = ImageView::open(&f.store, "empty:1").unwrap();
    assert_passes(
        &empty,
        Check::Metadata(MetadataCheck {
            entrypoint: Some(vec![]),
            workdir: None,
            user: Some(String::new()),
            unexposed_ports: vec!["8080".into()],
            unmounted_volumes: vec!["/data".into()],
            healthcheck: Some(false),
            ..d()
        }),
    );
    assert_fails(
        &empty,
        Check::Metadata(MetadataCheck {
            healthcheck: Some(true),
            ..d()
        }),
        &["healthcheck: expected declared, found none"],
    );
}

// ------------------------------------------------------------------------------ licenses

#[test]
fn license_checks_follow_container_structure_test() {
    let f = fixture();
    let base = ImageView::open(&f.store, "base:1").unwrap();
    let wh = ImageView::open(&f.store, "wh:1").unwrap();
    let debian = Check::License(LicenseCheck {
        debian: true,
        files: vec![],
    });
    // base: bad/ has an AGPL copyright, nocopy/ none; libgnutls30/ is skipped as CST does.
    let r = run(&base, debian.clone());
    assert_eq!(r.status, Status::Failed);
    assert!(
        r.message
            .contains("/usr/share/doc/bad/copyright: expected no AGPL license"),
        "{}",
        r.message
    );
    assert!(
        r.message
            .contains("/usr/share/doc/nocopy/copyright: expected to exist"),
        "{}",
        r.message
    );
    assert!(!r.message.contains("libgnutls30"), "{}", r.message);
    assert!(!r.message.contains("/bash/"), "{}", r.message);
    // wh: those two are deleted by whiteouts.
    assert_passes(&wh, debian.clone());
    let empty = ImageView::open(&f.store, "empty:1").unwrap();
    assert_fails(&empty, debian, &["/usr/share/doc: expected a directory"]);

    let files = |f: &[&str]| {
        Check::License(LicenseCheck {
            debian: false,
            files: f.iter().map(|s| s.to_string()).collect(),
        })
    };
    assert_passes(
        &base,
        files(&["/licenses/MIT", "/usr/share/doc/bash/copyright"]),
    );
    assert_fails(
        &base,
        files(&["/licenses/MIT", "/licenses/WTF"]),
        &["license file /licenses/WTF: expected no WTFPL license"],
    );
    assert_fails(
        &base,
        files(&["/licenses/none"]),
        &["license file /licenses/none: expected to exist, found nothing"],
    );
}

#[test]
fn runtime_checks_are_errors_here() {
    let f = fixture();
    let v = ImageView::open(&f.store, "empty:1").unwrap();
    let r = run(&v, Check::Command(CommandCheck::default()));
    assert_eq!(r.status, Status::Error);
    assert_eq!(r.kind, "command");
    assert!(r.message.contains("runtime check"), "{}", r.message);
}
