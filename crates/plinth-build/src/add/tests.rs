//! Tests of ADD: archives made with the real `tar`/`gzip`/`xz`/`bzip2`/`zstd` tools, downloads from
//! an HTTP server on 127.0.0.1, and git checkouts served by `git daemon` on 127.0.0.1.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Stdio};

use super::*;
use crate::context::{EmptyDest, Owner};

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        for d in ["ctx", "scratch", "work"] {
            fs_err::create_dir(dir.path().join(d)).unwrap();
        }
        Fixture { dir }
    }

    fn ctx(&self) -> PathBuf {
        self.dir.path().join("ctx")
    }

    fn scratch(&self) -> PathBuf {
        self.dir.path().join("scratch")
    }

    fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    fn tree(&self) -> SourceTree {
        SourceTree::open_context(&self.ctx(), &self.ctx().join("Dockerfile")).unwrap()
    }

    fn add(
        &self,
        sources: &[&str],
        dest: &str,
        options: CopyOptions,
        checksum: Option<&str>,
    ) -> Result<AddOutput, AddError> {
        self.add_req(AddRequest {
            sources: sources.iter().map(|s| s.to_string()).collect(),
            dest: dest.into(),
            workdir: "/".into(),
            options,
            checksum: checksum.map(str::to_string),
            git_dir: GitDir::Remove,
        })
    }

    fn add_req(&self, req: AddRequest) -> Result<AddOutput, AddError> {
        let tree = self.tree();
        let scratch = self.scratch();
        let env = AddEnv {
            tree: &tree,
            dest: &EmptyDest,
            scratch: &scratch,
            http_timeout: Duration::from_secs(20),
        };
        plan_add(&req, &env)
    }

    /// A tree to archive, in `work/src`: a file with mode 0750, a nested file, a symlink, an empty dir.
    fn make_src(&self) -> PathBuf {
        let src = self.work().join("src");
        fs_err::create_dir_all(src.join("sub/empty")).unwrap();
        fs_err::write(src.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
        fs_err::set_permissions(src.join("run.sh"), std::fs::Permissions::from_mode(0o750))
            .unwrap();
        fs_err::write(src.join("sub/data.txt"), "data\n").unwrap();
        std::os::unix::fs::symlink("sub/data.txt", src.join("link")).unwrap();
        src
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn paths(entries: &[LayerEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.path.as_str()).collect()
}

fn get<'a>(entries: &'a [LayerEntry], path: &str) -> &'a LayerEntry {
    entries
        .iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("no entry {path} in {:?}", paths(entries)))
}

fn content(e: &LayerEntry) -> Vec<u8> {
    match &e.kind {
        EntryKind::File(FileSource::Path(p)) => fs_err::read(p).unwrap(),
        EntryKind::File(FileSource::Bytes(b)) => b.to_vec(),
        other => panic!("{} is not a file: {other:?}", e.path),
    }
}

/// `tar` of `work/src` with fixed owners and mtime, into `ctx/<name>`, compressed by `compressor`.
fn make_archive(f: &Fixture, name: &str, compressor: Option<&[&str]>) -> PathBuf {
    f.make_src();
    let tar_path = f.work().join("plain.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(f.work().join("src"))
        .args([
            "--owner=1234",
            "--group=5678",
            "--numeric-owner",
            "--mtime=@1600000000",
            "-cf",
        ])
        .arg(&tar_path)
        .arg("."));
    let out = f.ctx().join(name);
    match compressor {
        None => {
            fs_err::copy(&tar_path, &out).unwrap();
        }
        Some(cmd) => {
            let data = Command::new(cmd[0])
                .args(&cmd[1..])
                .stdin(std::fs::File::open(&tar_path).unwrap())
                .output()
                .unwrap();
            assert!(data.status.success(), "{cmd:?} failed");
            fs_err::write(&out, &data.stdout).unwrap();
        }
    }
    out
}

fn check_extracted(entries: &[LayerEntry], dest: &str) {
    let p = |s: &str| format!("{dest}/{s}");
    let run_sh = get(entries, &p("run.sh"));
    assert_eq!(content(run_sh), b"#!/bin/sh\necho hi\n");
    assert_eq!(run_sh.mode, 0o750);
    assert_eq!(
        (run_sh.uid, run_sh.gid),
        (1234, 5678),
        "archive owners are kept"
    );
    assert_eq!(run_sh.mtime, Some(1_600_000_000));
    assert_eq!(content(get(entries, &p("sub/data.txt"))), b"data\n");
    assert_eq!(
        get(entries, &p("link")).kind,
        EntryKind::Symlink {
            target: "sub/data.txt".into()
        }
    );
    assert_eq!(get(entries, &p("sub/empty")).kind, EntryKind::Dir);
}

#[test]
fn archives_of_every_compression_are_extracted() {
    let cases: &[(&str, Option<&[&str]>, ArchiveCompression)] = &[
        ("plain.tar", None, ArchiveCompression::None),
        ("a.tar.gz", Some(&["gzip", "-c"]), ArchiveCompression::Gzip),
        ("a.tar.xz", Some(&["xz", "-c"]), ArchiveCompression::Xz),
        (
            "a.tar.bz2",
            Some(&["bzip2", "-c"]),
            ArchiveCompression::Bzip2,
        ),
        (
            "a.tar.zst",
            Some(&["zstd", "-q", "-c"]),
            ArchiveCompression::Zstd,
        ),
    ];
    for (name, compressor, kind) in cases {
        let f = Fixture::new();
        let archive = make_archive(&f, name, *compressor);
        let head = fs_err::read(&archive).unwrap();
        assert_eq!(detect_compression(&head), *kind, "{name}");
        assert!(is_archive(&archive).unwrap(), "{name}");
        // No trailing slash: an archive's destination is a directory all the same.
        let out = f
            .add(&[name], "/opt/app", CopyOptions::default(), None)
            .unwrap();
        assert!(out.warnings.is_empty());
        check_extracted(&out.entries, "opt/app");
        assert_eq!(get(&out.entries, "opt").mode, 0o755);
        assert!(
            !paths(&out.entries).contains(&format!("opt/app/{name}").as_str()),
            "{name} is not copied as a file"
        );
    }
}

#[test]
fn detection_is_by_content_not_name() {
    let f = Fixture::new();
    make_archive(&f, "archive.data", Some(&["gzip", "-c"]));
    fs_err::write(f.ctx().join("fake.tar.gz"), "not an archive at all").unwrap();
    let out = f
        .add(
            &["archive.data", "fake.tar.gz"],
            "/d/",
            CopyOptions::default(),
            None,
        )
        .unwrap();
    check_extracted(&out.entries, "d");
    assert_eq!(
        content(get(&out.entries, "d/fake.tar.gz")),
        b"not an archive at all"
    );
    // gzip of something that is not a tar is copied as it is.
    fs_err::write(f.work().join("t.txt"), "text").unwrap();
    let gz = Command::new("gzip")
        .arg("-c")
        .arg(f.work().join("t.txt"))
        .output()
        .unwrap();
    fs_err::write(f.ctx().join("t.txt.gz"), &gz.stdout).unwrap();
    assert!(!is_archive(&f.ctx().join("t.txt.gz")).unwrap());
    let out = f
        .add(&["t.txt.gz"], "/d/", CopyOptions::default(), None)
        .unwrap();
    assert_eq!(content(get(&out.entries, "d/t.txt.gz")), gz.stdout);
    // An empty tar (only the end marker) is not an archive either, as in BuildKit.
    fs_err::write(f.ctx().join("empty.tar"), [0u8; 1024]).unwrap();
    assert!(!is_archive(&f.ctx().join("empty.tar")).unwrap());
}

#[test]
fn chown_overrides_archive_owners_and_chmod_does_not_apply() {
    let f = Fixture::new();
    make_archive(&f, "a.tgz", Some(&["gzip", "-c"]));
    let opts = CopyOptions {
        chown: Some(Owner { uid: 10, gid: 20 }),
        chmod: Some(context::Chmod::Octal(0o600)),
        ..Default::default()
    };
    let out = f.add(&["a.tgz"], "/x/y", opts, None).unwrap();
    let run_sh = get(&out.entries, "x/y/run.sh");
    assert_eq!((run_sh.uid, run_sh.gid, run_sh.mode), (10, 20, 0o750));
    let x = get(&out.entries, "x");
    assert_eq!(
        (x.uid, x.gid),
        (10, 20),
        "the destination is created by MkdirAll with the chown user"
    );
}

/// A tar with raw entry names (the `tar` crate refuses `..` in `set_path`).
fn raw_tar(entries: &[(&str, tar::EntryType, &[u8], &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data, link) in entries {
        let mut h = tar::Header::new_old();
        let nb = name.as_bytes();
        h.as_old_mut().name[..nb.len()].copy_from_slice(nb);
        if !link.is_empty() {
            let lb = link.as_bytes();
            h.as_old_mut().linkname[..lb.len()].copy_from_slice(lb);
        }
        h.set_entry_type(*kind);
        h.set_mode(if *kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn archive_entries_cannot_escape() {
    let f = Fixture::new();
    fs_err::write(
        f.ctx().join("evil.tar"),
        raw_tar(&[
            ("ok.txt", tar::EntryType::Regular, b"ok", ""),
            ("../../evil.txt", tar::EntryType::Regular, b"x", ""),
        ]),
    )
    .unwrap();
    let err = f
        .add(&["evil.tar"], "/d/", CopyOptions::default(), None)
        .unwrap_err();
    assert!(matches!(err, AddError::ArchiveEscape { .. }), "{err}");
    assert!(err.to_string().contains("outside extraction root"), "{err}");

    fs_err::write(
        f.ctx().join("abs.tar"),
        raw_tar(&[("/abs/f.txt", tar::EntryType::Regular, b"abs", "")]),
    )
    .unwrap();
    let out = f
        .add(&["abs.tar"], "/d/", CopyOptions::default(), None)
        .unwrap();
    assert_eq!(
        content(get(&out.entries, "d/abs/f.txt")),
        b"abs",
        "absolute names land under dest"
    );
    let abs = get(&out.entries, "d/abs");
    assert_eq!(
        (abs.mode, abs.uid),
        (0o755, 0),
        "implied parents are 0755 root"
    );

    let t = raw_tar(&[
        ("real", tar::EntryType::Directory, b"", ""),
        ("via", tar::EntryType::Symlink, b"", "real"),
        ("via/f.txt", tar::EntryType::Regular, b"through", ""),
        ("out", tar::EntryType::Symlink, b"", "../.."),
        ("out/escaped.txt", tar::EntryType::Regular, b"no", ""),
    ]);
    fs_err::write(f.ctx().join("links.tar"), t).unwrap();
    let err = f
        .add(&["links.tar"], "/d/", CopyOptions::default(), None)
        .unwrap_err();
    assert!(
        matches!(err, AddError::ArchiveSymlinkEscape { .. }),
        "{err}"
    );

    let t = raw_tar(&[
        ("real", tar::EntryType::Directory, b"", ""),
        ("via", tar::EntryType::Symlink, b"", "real"),
        ("via/f.txt", tar::EntryType::Regular, b"through", ""),
        ("hard", tar::EntryType::Link, b"", "real/f.txt"),
        ("abslink", tar::EntryType::Symlink, b"", "/real"),
        ("abslink/g.txt", tar::EntryType::Regular, b"g", ""),
    ]);
    fs_err::write(f.ctx().join("links2.tar"), t).unwrap();
    let out = f
        .add(&["links2.tar"], "/d/", CopyOptions::default(), None)
        .unwrap();
    assert_eq!(
        content(get(&out.entries, "d/real/f.txt")),
        b"through",
        "later entries follow the archive's symlinks"
    );
    assert_eq!(
        get(&out.entries, "d/hard").kind,
        EntryKind::Hardlink {
            target: "d/real/f.txt".into()
        }
    );
    assert_eq!(
        content(get(&out.entries, "d/real/g.txt")),
        b"g",
        "absolute link targets are relative to the extraction root"
    );

    fs_err::write(
        f.ctx().join("dev.tar"),
        raw_tar(&[("fifo", tar::EntryType::Fifo, b"", "")]),
    )
    .unwrap();
    let err = f
        .add(&["dev.tar"], "/d/", CopyOptions::default(), None)
        .unwrap_err();
    assert!(matches!(err, AddError::ArchiveEntryType { .. }), "{err}");
}

#[test]
fn large_archive_files_go_to_the_scratch_dir() {
    let f = Fixture::new();
    let big: Vec<u8> = (0..(INLINE_LIMIT as usize + 4096))
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    fs_err::write(
        f.ctx().join("big.tar"),
        raw_tar(&[
            ("big.bin", tar::EntryType::Regular, &big, ""),
            ("small", tar::EntryType::Regular, b"s", ""),
        ]),
    )
    .unwrap();
    let out = f
        .add(&["big.tar"], "/d", CopyOptions::default(), None)
        .unwrap();
    let e = get(&out.entries, "d/big.bin");
    match &e.kind {
        EntryKind::File(FileSource::Path(p)) => assert!(
            p.starts_with(f.scratch()),
            "{} is outside the scratch dir",
            p.display()
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(content(e), big);
    assert!(matches!(
        get(&out.entries, "d/small").kind,
        EntryKind::File(FileSource::Bytes(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

const LAST_MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";
const LAST_MODIFIED_SECS: i64 = 1_445_412_480;

/// Serves a few fixed responses on 127.0.0.1 for at most `max` connections.
fn serve(max: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(max) {
            let Ok(stream) = stream else { continue };
            let _ = answer(stream);
        }
    });
    format!("http://{addr}")
}

fn answer(mut stream: TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let (status, headers, body): (&str, Vec<String>, Vec<u8>) = match path.as_str() {
        "/files/hello.txt" | "/dl/a%20b.txt?x=1" => (
            "200 OK",
            vec![format!("Last-Modified: {LAST_MODIFIED}")],
            b"hello world\n".to_vec(),
        ),
        "/nodate" => ("200 OK", vec![], b"no date".to_vec()),
        "/redirect" => (
            "302 Found",
            vec!["Location: /files/hello.txt".to_string()],
            Vec::new(),
        ),
        "/archive.tar" => (
            "200 OK",
            vec![],
            raw_tar(&[("inside.txt", tar::EntryType::Regular, b"in", "")]),
        ),
        _ => ("404 Not Found", vec![], b"nope".to_vec()),
    };
    let mut resp = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        resp.push_str(&h);
        resp.push_str("\r\n");
    }
    resp.push_str("\r\n");
    stream.write_all(resp.as_bytes())?;
    stream.write_all(&body)?;
    stream.flush()
}

fn sha(data: &[u8]) -> String {
    Digest::of(data).to_string()
}

#[test]
fn url_download_unpinned() {
    let base = serve(10);
    let f = Fixture::new();
    let url = format!("{base}/files/hello.txt");
    let out = f
        .add(&[&url], "/srv/", CopyOptions::default(), None)
        .unwrap();
    assert_eq!(out.warnings, [AddWarning::UnpinnedUrl { url: url.clone() }]);
    assert!(out.warnings[0].to_string().contains("--checksum"));
    let e = get(&out.entries, "srv/hello.txt");
    assert_eq!(content(e), b"hello world\n");
    assert_eq!((e.mode, e.uid, e.gid), (0o600, 0, 0));
    assert_eq!(
        e.mtime,
        Some(LAST_MODIFIED_SECS),
        "mtime from Last-Modified"
    );
    match &e.kind {
        EntryKind::File(FileSource::Path(p)) => assert!(p.starts_with(f.scratch())),
        other => panic!("{other:?}"),
    }

    let out = f
        .add(
            &[&format!("{base}/nodate")],
            "/srv/renamed",
            CopyOptions::default(),
            None,
        )
        .unwrap();
    let e = get(&out.entries, "srv/renamed");
    assert_eq!(
        (content(e), e.mtime),
        (b"no date".to_vec(), Some(0)),
        "no Last-Modified: the epoch, as BuildKit"
    );

    let out = f
        .add(
            &[&format!("{base}/redirect")],
            "/r/",
            CopyOptions::default(),
            None,
        )
        .unwrap();
    assert_eq!(
        content(get(&out.entries, "r/redirect")),
        b"hello world\n",
        "redirects are followed, the name is the URL's"
    );

    let out = f
        .add(
            &[&format!("{base}/archive.tar")],
            "/t/",
            CopyOptions::default(),
            None,
        )
        .unwrap();
    assert_eq!(
        paths(&out.entries),
        ["t", "t/archive.tar"],
        "remote archives are not extracted"
    );

    let opts = CopyOptions {
        chown: Some(Owner { uid: 3, gid: 4 }),
        chmod: Some(context::Chmod::Octal(0o644)),
        ..Default::default()
    };
    let out = f
        .add(&[&format!("{base}/dl/a%20b.txt?x=1")], "/q/", opts, None)
        .unwrap();
    let e = get(&out.entries, "q/a b.txt");
    assert_eq!((e.mode, e.uid, e.gid), (0o644, 3, 4));
}

#[test]
fn url_checksums() {
    let base = serve(10);
    let f = Fixture::new();
    let url = format!("{base}/files/hello.txt");
    let good = sha(b"hello world\n");
    let out = f
        .add(&[&url], "/x", CopyOptions::default(), Some(&good))
        .unwrap();
    assert!(out.warnings.is_empty());
    assert_eq!(content(get(&out.entries, "x")), b"hello world\n");

    let wrong = sha(b"something else");
    let err = f
        .add(&[&url], "/x", CopyOptions::default(), Some(&wrong))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&wrong) && msg.contains(&good),
        "names expected and actual: {msg}"
    );

    let err = f
        .add(&[&url], "/x", CopyOptions::default(), Some("sha256:abc"))
        .unwrap_err();
    assert!(matches!(err, AddError::BadChecksum(_)), "{err}");
    let err = f
        .add(&[&url, &url], "/x/", CopyOptions::default(), Some(&good))
        .unwrap_err();
    assert!(matches!(err, AddError::ChecksumMultipleSources), "{err}");
    fs_err::write(f.ctx().join("local"), "l").unwrap();
    let err = f
        .add(&["local"], "/x", CopyOptions::default(), Some(&good))
        .unwrap_err();
    assert!(matches!(err, AddError::ChecksumNotHttp), "{err}");
}

#[test]
fn url_http_errors_name_the_status() {
    let base = serve(5);
    let f = Fixture::new();
    let url = format!("{base}/missing.txt");
    let err = f
        .add(&[&url], "/x", CopyOptions::default(), None)
        .unwrap_err();
    assert!(
        matches!(err, AddError::HttpStatus { status: 404, .. }),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!("failed to download {url}: invalid response status 404")
    );
    // Nothing listens on this port any more.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let err = f
        .add(
            &[&format!("http://{closed}/x")],
            "/x",
            CopyOptions::default(),
            None,
        )
        .unwrap_err();
    assert!(matches!(err, AddError::Http { .. }), "{err}");
}

#[test]
fn url_file_names() {
    assert_eq!(
        url_file_name("https://example.com/a/b/tool.tar.gz"),
        "tool.tar.gz"
    );
    assert_eq!(url_file_name("https://example.com/a/b/?v=1"), "b");
    assert_eq!(url_file_name("https://example.com"), "__unnamed__");
    assert_eq!(url_file_name("https://example.com/"), "__unnamed__");
    assert_eq!(url_file_name("http://h/x%20y.txt#frag"), "x y.txt");
}

// ---------------------------------------------------------------------------------------------
// Git
// ---------------------------------------------------------------------------------------------

#[test]
fn git_ref_parsing() {
    let g = parse_git_ref("https://github.com/moby/buildkit.git#v0.12.0:frontend").unwrap();
    assert_eq!(g.remote, "https://github.com/moby/buildkit.git");
    assert_eq!(g.reference.as_deref(), Some("v0.12.0"));
    assert_eq!(g.subdir.as_deref(), Some("frontend"));
    let g = parse_git_ref("git@github.com:moby/buildkit.git").unwrap();
    assert_eq!((g.reference, g.subdir), (None, None));
    let g = parse_git_ref("git://host/repo#main").unwrap();
    assert_eq!(g.reference.as_deref(), Some("main"));
    let g = parse_git_ref("ssh://git@host/repo.git#:docs").unwrap();
    assert_eq!((g.reference, g.subdir.as_deref()), (None, Some("docs")));
    assert_eq!(
        parse_git_ref("https://example.com/file.tar.gz"),
        None,
        "plain URLs are downloads"
    );
    assert_eq!(parse_git_ref("https://example.com/repo"), None);
    assert_eq!(
        parse_git_ref("github.com/moby/buildkit"),
        None,
        "treated as a local path"
    );
    assert_eq!(parse_git_ref("./local.git"), None);
    assert_eq!(parse_git_ref("src/file.txt"), None);
    assert_eq!(parse_git_ref("file:///tmp/repo.git"), None);
}

fn git_cmd(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C").arg(dir).args([
        "-c",
        "user.name=plinth",
        "-c",
        "user.email=plinth@example.invalid",
        "-c",
        "init.defaultBranch=main",
    ]);
    c
}

/// A repository with two commits (tag v1 on the first), served as a bare copy.
fn make_repo(root: &Path) -> (PathBuf, String) {
    let work = root.join("repo-work");
    fs_err::create_dir_all(work.join("sub")).unwrap();
    run(git_cmd(root).args(["init", "-q"]).arg(&work));
    fs_err::write(work.join("README"), "v1\n").unwrap();
    fs_err::write(work.join("sub/inner.txt"), "inner\n").unwrap();
    run(git_cmd(&work).args(["add", "-A"]));
    run(git_cmd(&work).args(["commit", "-q", "-m", "one"]));
    run(git_cmd(&work).args(["tag", "v1"]));
    let first = String::from_utf8(
        git_cmd(&work)
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    fs_err::write(work.join("README"), "v2\n").unwrap();
    run(git_cmd(&work).args(["commit", "-q", "-am", "two"]));
    let bare = root.join("srv/repo.git");
    run(git_cmd(root)
        .args(["clone", "-q", "--bare"])
        .arg(&work)
        .arg(&bare));
    (bare, first)
}

#[test]
fn git_checkout_from_a_local_path() {
    let f = Fixture::new();
    let (bare, first) = make_repo(f.dir.path());
    let r = GitRef {
        remote: bare.to_str().unwrap().to_string(),
        reference: Some("v1".into()),
        subdir: None,
    };
    let dir = f.work().join("co");
    let head = git_checkout(&r, &dir).unwrap();
    assert_eq!(head, first);
    assert_eq!(fs_err::read_to_string(dir.join("README")).unwrap(), "v1\n");
    // A commit id that is not a branch tip still checks out.
    let r = GitRef {
        reference: Some(first.clone()),
        ..r
    };
    let dir2 = f.work().join("co2");
    assert_eq!(git_checkout(&r, &dir2).unwrap(), first);
    let r = GitRef {
        reference: Some("no-such-branch".into()),
        ..r
    };
    assert!(matches!(
        git_checkout(&r, &f.work().join("co3")),
        Err(AddError::Git { .. })
    ));
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn add_git_repository_over_git_daemon() {
    let f = Fixture::new();
    make_repo(f.dir.path());
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = f.dir.path().join("srv");
    let child = Command::new("git")
        .arg("daemon")
        .arg("--export-all")
        .arg("--reuseaddr")
        .arg("--listen=127.0.0.1")
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(&base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _daemon = Daemon(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "git daemon did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("git://127.0.0.1:{port}/repo.git");

    let out = f
        .add(&[&url], "/src", CopyOptions::default(), None)
        .unwrap();
    assert!(out.warnings.is_empty());
    assert_eq!(
        content(get(&out.entries, "src/README")),
        b"v2\n",
        "the default branch"
    );
    assert_eq!(content(get(&out.entries, "src/sub/inner.txt")), b"inner\n");
    assert!(
        !paths(&out.entries)
            .iter()
            .any(|p| p.starts_with("src/.git")),
        "no .git by default"
    );
    let readme = get(&out.entries, "src/README");
    assert_eq!((readme.uid, readme.gid, readme.mtime), (0, 0, None));

    let out = f
        .add(
            &[&format!("{url}#v1:sub")],
            "/only/",
            CopyOptions::default(),
            None,
        )
        .unwrap();
    assert_eq!(paths(&out.entries), ["only", "only/inner.txt"]);

    let out = f
        .add_req(AddRequest {
            sources: vec![format!("{url}#v1")],
            dest: "/keep".into(),
            workdir: "/".into(),
            git_dir: GitDir::Keep,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(content(get(&out.entries, "keep/README")), b"v1\n");
    assert!(
        paths(&out.entries).contains(&"keep/.git/HEAD"),
        "--keep-git-dir keeps .git"
    );
}
