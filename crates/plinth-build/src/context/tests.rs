//! Tests of the build context and COPY planning, on real temporary directories.

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use super::*;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir(dir.path().join("ctx")).unwrap();
        Fixture { dir }
    }

    fn ctx(&self) -> PathBuf {
        self.dir.path().join("ctx")
    }

    fn file(&self, rel: &str, content: &str) -> &Self {
        let p = self.ctx().join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        fs_err::write(&p, content).unwrap();
        self
    }

    fn mode(&self, rel: &str, mode: u32) -> &Self {
        fs_err::set_permissions(self.ctx().join(rel), std::fs::Permissions::from_mode(mode))
            .unwrap();
        self
    }

    fn link(&self, rel: &str, target: &str) -> &Self {
        let p = self.ctx().join(rel);
        fs_err::create_dir_all(p.parent().unwrap()).unwrap();
        symlink(target, &p).unwrap();
        self
    }

    fn tree(&self) -> SourceTree {
        SourceTree::open_context(&self.ctx(), &self.ctx().join("Dockerfile")).unwrap()
    }
}

fn copy(tree: &SourceTree, sources: &[&str], dest: &str) -> Result<Vec<LayerEntry>, ContextError> {
    copy_with(tree, sources, dest, "/", CopyOptions::default(), &EmptyDest)
}

fn copy_with(
    tree: &SourceTree,
    sources: &[&str],
    dest: &str,
    workdir: &str,
    options: CopyOptions,
    dest_fs: &dyn DestFs,
) -> Result<Vec<LayerEntry>, ContextError> {
    let req = CopyRequest {
        sources: sources
            .iter()
            .map(|s| CopySource::Path(s.to_string()))
            .collect(),
        dest: dest.to_string(),
        workdir: workdir.to_string(),
        options,
    };
    plan_copy(tree, &req, dest_fs)
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

#[test]
fn single_file_into_directory_dest() {
    let f = Fixture::new();
    f.file("a.txt", "alpha").mode("a.txt", 0o640);
    let entries = copy(&f.tree(), &["a.txt"], "/app/").unwrap();
    assert_eq!(paths(&entries), ["app", "app/a.txt"]);
    let dir = get(&entries, "app");
    assert_eq!(
        (dir.kind.clone(), dir.mode, dir.uid, dir.gid, dir.mtime),
        (EntryKind::Dir, 0o755, 0, 0, None)
    );
    let file = get(&entries, "app/a.txt");
    assert_eq!(content(file), b"alpha");
    assert_eq!(file.mode, 0o640, "the mode comes from the file");
    assert_eq!((file.uid, file.gid), (0, 0), "context files are root-owned");
    let disk_mtime = fs_err::metadata(f.ctx().join("a.txt")).unwrap().mtime();
    assert_eq!(file.mtime, Some(disk_mtime));
    match &file.kind {
        EntryKind::File(FileSource::Path(p)) => {
            assert_eq!(p, &f.ctx().canonicalize().unwrap().join("a.txt"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn single_file_to_a_file_path() {
    let f = Fixture::new();
    f.file("a.txt", "alpha");
    let entries = copy(&f.tree(), &["a.txt"], "/etc/b.conf").unwrap();
    assert_eq!(paths(&entries), ["etc", "etc/b.conf"]);
    assert_eq!(content(get(&entries, "etc/b.conf")), b"alpha");
}

#[test]
fn file_into_existing_image_directory_without_slash() {
    let f = Fixture::new();
    f.file("tool", "#!/bin/sh\n");
    let image = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(image.path().join("usr/bin")).unwrap();
    let dest = HostDirDest {
        root: image.path().to_path_buf(),
    };
    let entries = copy_with(
        &f.tree(),
        &["tool"],
        "/usr/bin",
        "/",
        CopyOptions::default(),
        &dest,
    )
    .unwrap();
    assert_eq!(
        paths(&entries),
        ["usr/bin/tool"],
        "existing directories are not rewritten"
    );
}

#[test]
fn destination_symlinks_in_the_image_are_followed() {
    let f = Fixture::new();
    f.file("tool", "x");
    let image = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(image.path().join("usr/bin")).unwrap();
    symlink("usr/bin", image.path().join("bin")).unwrap();
    let dest = HostDirDest {
        root: image.path().to_path_buf(),
    };
    let entries = copy_with(
        &f.tree(),
        &["tool"],
        "/bin/",
        "/",
        CopyOptions::default(),
        &dest,
    )
    .unwrap();
    assert_eq!(paths(&entries), ["usr/bin/tool"]);
}

#[test]
fn relative_dest_uses_workdir() {
    let f = Fixture::new();
    f.file("a.txt", "a");
    let tree = f.tree();
    let e = copy_with(
        &tree,
        &["a.txt"],
        "sub/",
        "/work",
        CopyOptions::default(),
        &EmptyDest,
    )
    .unwrap();
    assert_eq!(paths(&e), ["work", "work/sub", "work/sub/a.txt"]);
    let e = copy_with(
        &tree,
        &["a.txt"],
        ".",
        "/work",
        CopyOptions::default(),
        &EmptyDest,
    )
    .unwrap();
    assert_eq!(
        paths(&e),
        ["work", "work/a.txt"],
        "`.` is the workdir as a directory"
    );
    let e = copy_with(
        &tree,
        &["a.txt"],
        "../up.txt",
        "/work/dir",
        CopyOptions::default(),
        &EmptyDest,
    )
    .unwrap();
    assert_eq!(paths(&e), ["work", "work/up.txt"]);
    assert_eq!(
        normalize_dest("../../../x", "/a"),
        ("x".to_string(), false),
        "dest cannot climb above /"
    );
    assert_eq!(
        normalize_dest("/opt/app/.", "/"),
        ("opt/app".to_string(), true)
    );
}

#[test]
fn directory_source_copies_its_contents() {
    let f = Fixture::new();
    f.file("dir/x", "x")
        .file("dir/sub/y", "y")
        .mode("dir/sub", 0o700);
    let e = copy(&f.tree(), &["dir"], "/out").unwrap();
    assert_eq!(paths(&e), ["out", "out/sub", "out/sub/y", "out/x"]);
    assert_eq!(
        get(&e, "out").mode,
        0o755,
        "the destination dir is created by MkdirAll"
    );
    assert_eq!(
        get(&e, "out/sub").mode,
        0o700,
        "copied dirs keep their mode"
    );
    let e = copy(&f.tree(), &["dir/"], "/out/").unwrap();
    assert_eq!(
        paths(&e),
        ["out", "out/sub", "out/sub/y", "out/x"],
        "a trailing slash changes nothing"
    );
}

#[test]
fn whole_context_with_dot() {
    let f = Fixture::new();
    f.file("Dockerfile", "FROM scratch\n")
        .file("src/main.rs", "fn main() {}");
    let e = copy(&f.tree(), &["."], "/app/").unwrap();
    assert_eq!(
        paths(&e),
        ["app", "app/Dockerfile", "app/src", "app/src/main.rs"],
        "the Dockerfile is an ordinary context file"
    );
}

#[test]
fn wildcards_match_per_component() {
    let f = Fixture::new();
    f.file("a.txt", "a")
        .file("b.txt", "b")
        .file("c.md", "c")
        .file("sub/d.txt", "d")
        .file("src/x.rs", "x");
    let tree = f.tree();
    let e = copy(&tree, &["*.txt"], "/out/").unwrap();
    assert_eq!(
        paths(&e),
        ["out", "out/a.txt", "out/b.txt"],
        "* does not cross directories"
    );
    let e = copy(&tree, &["s*/*.rs", "[ab].txt"], "/out/").unwrap();
    assert_eq!(paths(&e), ["out", "out/a.txt", "out/b.txt", "out/x.rs"]);
    let e = copy(&tree, &["?.md"], "/out/").unwrap();
    assert_eq!(paths(&e), ["out", "out/c.md"]);
}

#[test]
fn wildcard_matching_nothing_is_not_an_error() {
    let f = Fixture::new();
    f.file("a.txt", "a");
    let e = copy(&f.tree(), &["*.nothing", "a.txt"], "/out/").unwrap();
    assert_eq!(paths(&e), ["out", "out/a.txt"]);
    let e = copy(&f.tree(), &["*.nothing"], "/out/").unwrap();
    assert!(e.is_empty(), "nothing is created: {e:?}");
    let err = copy(&f.tree(), &["nodir/*.txt"], "/out/").unwrap_err();
    assert_eq!(err.to_string(), "lstat /nodir: no such file or directory");
}

#[test]
fn missing_source_error_is_buildkits() {
    let f = Fixture::new();
    f.file("a.txt", "a");
    let err = copy(&f.tree(), &["missing.txt"], "/out/").unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to compute cache key: \"/missing.txt\": not found"
    );
    let err = copy(&f.tree(), &["./sub/../missing.txt"], "/out/").unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to compute cache key: \"/missing.txt\": not found"
    );
}

#[test]
fn dockerignored_files_are_invisible() {
    let f = Fixture::new();
    f.file(".dockerignore", "secret*\nlogs\n!logs/keep.log\n")
        .file("secret.txt", "s")
        .file("public.txt", "p")
        .file("logs/a.log", "a")
        .file("logs/keep.log", "k");
    let tree = f.tree();
    let e = copy(&tree, &["."], "/out/").unwrap();
    assert_eq!(
        paths(&e),
        [
            "out",
            "out/.dockerignore",
            "out/logs",
            "out/logs/keep.log",
            "out/public.txt"
        ]
    );
    let err = copy(&tree, &["secret.txt"], "/x").unwrap_err();
    assert!(matches!(err, ContextError::NotFound { .. }), "{err}");
    let e = copy(&tree, &["*.txt"], "/out/").unwrap();
    assert_eq!(paths(&e), ["out", "out/public.txt"]);
    let err = copy(&tree, &["logs/a.log"], "/x").unwrap_err();
    assert!(matches!(err, ContextError::NotFound { .. }), "{err}");
}

#[test]
fn dockerfile_specific_ignore_file_wins() {
    let f = Fixture::new();
    f.file(".dockerignore", "a.txt\n")
        .file("build/app.Dockerfile.dockerignore", "b.txt\n")
        .file("a.txt", "a")
        .file("b.txt", "b");
    let tree = SourceTree::open_context(&f.ctx(), &f.ctx().join("build/app.Dockerfile")).unwrap();
    assert!(
        copy(&tree, &["a.txt"], "/x").is_ok(),
        "the root .dockerignore is not read"
    );
    assert!(matches!(
        copy(&tree, &["b.txt"], "/x"),
        Err(ContextError::NotFound { .. })
    ));
    let tree = f.tree();
    assert!(matches!(
        copy(&tree, &["a.txt"], "/x"),
        Err(ContextError::NotFound { .. })
    ));
}

#[test]
fn bad_dockerignore_names_file_and_line() {
    let f = Fixture::new();
    f.file(".dockerignore", "ok\n[bad\n");
    let err = SourceTree::open_context(&f.ctx(), &f.ctx().join("Dockerfile")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(".dockerignore") && msg.contains("line 2"),
        "{msg}"
    );
}

#[test]
fn dotdot_cannot_escape_the_context() {
    let f = Fixture::new();
    fs_err::write(f.dir.path().join("outside.txt"), "outside").unwrap();
    f.file("a.txt", "a");
    let tree = f.tree();
    let err = copy(&tree, &["../outside.txt"], "/x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to compute cache key: \"/outside.txt\": not found"
    );
    let err = copy(&tree, &["../../../../outside.txt"], "/x").unwrap_err();
    assert!(matches!(err, ContextError::NotFound { .. }));
    let e = copy(&tree, &["../a.txt"], "/x").unwrap();
    assert_eq!(
        content(get(&e, "x")),
        b"a",
        "`..` at the root stays at the root"
    );
}

#[test]
fn symlink_source_is_followed_inside_the_context() {
    let f = Fixture::new();
    f.file("real/data.txt", "data")
        .link("alias.txt", "real/data.txt")
        .link("dirlink", "real");
    let tree = f.tree();
    let e = copy(&tree, &["alias.txt"], "/out/").unwrap();
    assert_eq!(paths(&e), ["out", "out/alias.txt"], "named after the link");
    assert_eq!(content(get(&e, "out/alias.txt")), b"data");
    let e = copy(&tree, &["dirlink"], "/d").unwrap();
    assert_eq!(
        paths(&e),
        ["d", "d/data.txt"],
        "a linked directory copies its contents"
    );
}

#[test]
fn symlink_source_pointing_outside_is_refused() {
    let f = Fixture::new();
    let outside = f.dir.path().join("outside.txt");
    fs_err::write(&outside, "SECRET").unwrap();
    f.link("abs", outside.to_str().unwrap())
        .link("rel", "../outside.txt")
        .link("deep/rel2", "../../../outside.txt");
    let tree = f.tree();
    for src in ["abs", "rel", "deep/rel2"] {
        let r = copy(&tree, &[src], "/x");
        assert!(
            matches!(r, Err(ContextError::NotFound { .. })),
            "{src}: {r:?}"
        );
    }
    // A link whose target, read inside the context, exists there is followed there.
    f.file(
        outside.strip_prefix("/").unwrap().to_str().unwrap(),
        "inside copy",
    );
    let e = copy(&f.tree(), &["abs"], "/x").unwrap();
    assert_eq!(
        content(get(&e, "x")),
        b"inside copy",
        "absolute targets are relative to the context root"
    );
}

#[test]
fn symlinks_inside_directories_stay_symlinks() {
    let f = Fixture::new();
    f.file("dir/a.txt", "a")
        .link("dir/link", "../elsewhere")
        .link("dir/abs", "/etc/passwd");
    let e = copy(&f.tree(), &["dir"], "/out").unwrap();
    let link = get(&e, "out/link");
    assert_eq!(
        link.kind,
        EntryKind::Symlink {
            target: "../elsewhere".into()
        }
    );
    assert_eq!(link.mode, 0o777);
    assert_eq!(
        get(&e, "out/abs").kind,
        EntryKind::Symlink {
            target: "/etc/passwd".into()
        }
    );
}

#[test]
fn parents_keep_relative_paths() {
    let f = Fixture::new();
    f.file("a/b/x.txt", "x")
        .file("a/b/y.md", "y")
        .file("a/c/z.txt", "z")
        .file("top.txt", "t")
        .mode("a/b", 0o750);
    let tree = f.tree();
    let opts = CopyOptions {
        parents: true,
        ..Default::default()
    };
    let e = copy_with(
        &tree,
        &["a/*/*.txt"],
        "/out/",
        "/",
        opts.clone(),
        &EmptyDest,
    )
    .unwrap();
    assert_eq!(
        paths(&e),
        [
            "out",
            "out/a",
            "out/a/b",
            "out/a/b/x.txt",
            "out/a/c",
            "out/a/c/z.txt"
        ]
    );
    assert_eq!(
        get(&e, "out/a/b").mode,
        0o750,
        "parent dirs keep their source metadata"
    );
    let e = copy_with(
        &tree,
        &["./a/./b/x.txt"],
        "/out/",
        "/",
        opts.clone(),
        &EmptyDest,
    )
    .unwrap();
    assert_eq!(
        paths(&e),
        ["out", "out/b", "out/b/x.txt"],
        "/./ marks where the kept path starts"
    );
    let e = copy_with(
        &tree,
        &["top.txt", "a/c"],
        "/out/",
        "/",
        opts.clone(),
        &EmptyDest,
    )
    .unwrap();
    assert_eq!(
        paths(&e),
        ["out", "out/a", "out/a/c", "out/a/c/z.txt", "out/top.txt"]
    );
    let err = copy_with(&tree, &["nope.txt"], "/out/", "/", opts, &EmptyDest).unwrap_err();
    assert!(matches!(err, ContextError::NotFound { .. }), "{err}");
}

#[test]
fn exclude_patterns_are_relative_to_the_source() {
    let f = Fixture::new();
    f.file("dir/a.log", "a")
        .file("dir/b.txt", "b")
        .file("dir/sub/c.log", "c")
        .file("x.log", "x")
        .file("y.txt", "y");
    let tree = f.tree();
    let opts = |p: &[&str]| CopyOptions {
        exclude: p.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let e = copy_with(&tree, &["dir"], "/out", "/", opts(&["*.log"]), &EmptyDest).unwrap();
    assert_eq!(
        paths(&e),
        ["out", "out/b.txt", "out/sub", "out/sub/c.log"],
        "dockerignore rules: *.log is top-level only"
    );
    let e = copy_with(
        &tree,
        &["dir"],
        "/out",
        "/",
        opts(&["**/*.log"]),
        &EmptyDest,
    )
    .unwrap();
    assert_eq!(paths(&e), ["out", "out/b.txt", "out/sub"]);
    let e = copy_with(
        &tree,
        &["dir"],
        "/out",
        "/",
        opts(&["sub", "!sub/c.log"]),
        &EmptyDest,
    )
    .unwrap();
    assert_eq!(
        paths(&e),
        ["out", "out/a.log", "out/b.txt", "out/sub", "out/sub/c.log"]
    );
    let e = copy_with(
        &tree,
        &["*"],
        "/out/",
        "/",
        opts(&["*.log", "dir"]),
        &EmptyDest,
    )
    .unwrap();
    assert_eq!(
        paths(&e),
        ["out", "out/y.txt"],
        "wildcard matches are filtered too (Docker's documentation)"
    );
    let err = copy_with(&tree, &["dir"], "/out", "/", opts(&["["]), &EmptyDest).unwrap_err();
    assert!(matches!(err, ContextError::Exclude(_)), "{err}");
}

#[test]
fn chmod_applies_to_files_and_dirs_not_links_or_created_parents() {
    let f = Fixture::new();
    f.file("dir/a", "a")
        .file("dir/sub/b", "b")
        .link("dir/l", "a")
        .mode("dir/a", 0o600);
    let tree = f.tree();
    let opts = CopyOptions {
        chmod: Some(Chmod::parse("0640").unwrap()),
        ..Default::default()
    };
    let e = copy_with(&tree, &["dir"], "/x/y", "/", opts, &EmptyDest).unwrap();
    assert_eq!(get(&e, "x").mode, 0o755);
    assert_eq!(get(&e, "x/y").mode, 0o755);
    assert_eq!(get(&e, "x/y/a").mode, 0o640);
    assert_eq!(
        get(&e, "x/y/sub").mode,
        0o640,
        "BuildKit applies --chmod to directories too"
    );
    assert_eq!(get(&e, "x/y/l").mode, 0o777);
    let opts = CopyOptions {
        chmod: Some(Chmod::parse("u=rwX,go=rX").unwrap()),
        ..Default::default()
    };
    let e = copy_with(&tree, &["dir"], "/x/", "/", opts, &EmptyDest).unwrap();
    assert_eq!(get(&e, "x/a").mode, 0o644);
    assert_eq!(get(&e, "x/sub").mode, 0o755);
}

#[test]
fn chmod_parsing_and_symbolic_rules() {
    assert_eq!(Chmod::parse("755"), Ok(Chmod::Octal(0o755)));
    assert_eq!(Chmod::parse("4755").unwrap().apply(0, false), 0o4755);
    assert!(Chmod::parse("8").is_err());
    assert!(Chmod::parse("17777").is_err());
    assert!(Chmod::parse("").is_err());
    assert!(Chmod::parse("u+q").is_err());
    assert!(Chmod::parse("rwx").is_err());
    let m = |s: &str, mode: u32, dir: bool| Chmod::parse(s).unwrap().apply(mode, dir);
    assert_eq!(m("+x", 0o644, false), 0o755);
    assert_eq!(m("u+x", 0o644, false), 0o744);
    assert_eq!(m("go-rwx", 0o755, false), 0o700);
    assert_eq!(m("a=r", 0o777, false), 0o444);
    assert_eq!(m("a+X", 0o644, false), 0o644, "X needs a dir or an x bit");
    assert_eq!(m("a+X", 0o744, false), 0o755);
    assert_eq!(m("a+X", 0o600, true), 0o711);
    assert_eq!(m("g=u", 0o640, false), 0o660);
    assert_eq!(m("u+s,+t", 0o755, false), 0o5755);
    assert_eq!(m("u=rw,g=r,o=", 0o777, false), 0o640);
}

#[test]
fn chown_applies_to_files_and_created_parents() {
    let f = Fixture::new();
    f.file("a.txt", "a").file("d/b", "b");
    let tree = f.tree();
    let owner = Owner {
        uid: 1000,
        gid: 1001,
    };
    let opts = CopyOptions {
        chown: Some(owner),
        ..Default::default()
    };
    let e = copy_with(&tree, &["a.txt", "d"], "/x/y/", "/", opts, &EmptyDest).unwrap();
    for p in ["x", "x/y", "x/y/a.txt", "x/y/b"] {
        let en = get(&e, p);
        assert_eq!((en.uid, en.gid), (1000, 1001), "{p}");
    }
}

#[test]
fn stage_roots_keep_owners_and_xattrs_unless_chown() {
    let f = Fixture::new();
    f.file("bin/tool", "x");
    let host = f.ctx().join("bin/tool");
    let is_root = rustix::process::geteuid().is_root();
    if is_root {
        rustix::fs::chown(
            &host,
            Some(rustix::process::Uid::from_raw(4321)),
            Some(rustix::process::Gid::from_raw(8765)),
        )
        .unwrap();
    }
    let md = fs_err::metadata(&host).unwrap();
    let xattr_ok =
        rustix::fs::lsetxattr(&host, "user.plinth", b"v", rustix::fs::XattrFlags::empty()).is_ok();
    let stage = SourceTree::new(f.ctx(), Dockerignore::default(), Ownership::FromDisk);
    let e = copy_with(
        &stage,
        &["/bin/tool"],
        "/usr/local/bin/",
        "/",
        CopyOptions::default(),
        &EmptyDest,
    )
    .unwrap();
    let t = get(&e, "usr/local/bin/tool");
    assert_eq!((t.uid, t.gid), (u64::from(md.uid()), u64::from(md.gid())));
    if is_root {
        assert_eq!((t.uid, t.gid), (4321, 8765));
    }
    if xattr_ok {
        assert_eq!(
            t.xattrs.get("user.plinth").map(Vec::as_slice),
            Some(&b"v"[..])
        );
    }
    let ctx = f.tree();
    let e = copy(&ctx, &["bin/tool"], "/x").unwrap();
    assert_eq!(
        (get(&e, "x").uid, get(&e, "x").gid),
        (0, 0),
        "the build context is root-owned"
    );
    assert!(
        get(&e, "x").xattrs.is_empty(),
        "no host xattrs from the context"
    );
    let opts = CopyOptions {
        chown: Some(Owner { uid: 7, gid: 8 }),
        ..Default::default()
    };
    let e = copy_with(&stage, &["bin/tool"], "/x", "/", opts, &EmptyDest).unwrap();
    assert_eq!((get(&e, "x").uid, get(&e, "x").gid), (7, 8));
}

#[test]
fn several_sources_to_a_non_directory_dest_last_one_wins() {
    // BuildKit copies each source in turn; without a trailing slash the second overwrites the first.
    let f = Fixture::new();
    f.file("a.txt", "a").file("b.txt", "b");
    let e = copy(&f.tree(), &["a.txt", "b.txt"], "/out").unwrap();
    assert_eq!(paths(&e), ["out"]);
    assert_eq!(content(get(&e, "out")), b"b");
    let e = copy(&f.tree(), &["a.txt", "b.txt"], "/out/").unwrap();
    assert_eq!(paths(&e), ["out", "out/a.txt", "out/b.txt"]);
}

#[test]
fn directory_onto_an_existing_file_fails() {
    let f = Fixture::new();
    f.file("d/x", "x");
    let image = tempfile::tempdir().unwrap();
    fs_err::write(image.path().join("target"), "file").unwrap();
    let dest = HostDirDest {
        root: image.path().to_path_buf(),
    };
    let err = copy_with(
        &f.tree(),
        &["d"],
        "/target",
        "/",
        CopyOptions::default(),
        &dest,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "cannot copy to non-directory: /target");
    let err = copy_with(
        &f.tree(),
        &["d/x"],
        "/target/sub/",
        "/",
        CopyOptions::default(),
        &dest,
    )
    .unwrap_err();
    assert!(
        matches!(err, ContextError::MkdirNotADirectory { .. }),
        "{err}"
    );
}

#[test]
fn hardlinks_in_a_copied_directory_stay_linked() {
    let f = Fixture::new();
    f.file("d/b-first", "same");
    fs_err::hard_link(f.ctx().join("d/b-first"), f.ctx().join("d/a-second")).unwrap();
    let e = copy(&f.tree(), &["d"], "/o").unwrap();
    assert!(
        matches!(get(&e, "o/a-second").kind, EntryKind::File(_)),
        "the smallest path holds the content"
    );
    assert_eq!(
        get(&e, "o/b-first").kind,
        EntryKind::Hardlink {
            target: "o/a-second".into()
        }
    );
}

#[test]
fn heredoc_sources() {
    let f = Fixture::new();
    let req = CopyRequest {
        sources: vec![CopySource::Inline {
            name: "run.sh".into(),
            data: Arc::from(&b"echo hi\n"[..]),
        }],
        dest: "/usr/local/bin/".into(),
        workdir: "/".into(),
        options: CopyOptions {
            chmod: Some(Chmod::Octal(0o755)),
            ..Default::default()
        },
    };
    let e = plan_copy(&f.tree(), &req, &EmptyDest).unwrap();
    let s = get(&e, "usr/local/bin/run.sh");
    assert_eq!((s.mode, s.mtime), (0o755, None));
    assert_eq!(content(s), b"echo hi\n");
}

#[test]
fn content_digest_ignores_mtimes_only() {
    let f = Fixture::new();
    f.file("d/a", "one").file("d/b", "two");
    let tree = f.tree();
    let base = content_digest(&copy(&tree, &["d"], "/o").unwrap()).unwrap();
    let again = copy(&tree, &["d"], "/o").unwrap();
    assert_eq!(content_digest(&again).unwrap(), base);

    let mut touched = again.clone();
    for e in &mut touched {
        e.mtime = Some(12345);
    }
    assert_eq!(
        content_digest(&touched).unwrap(),
        base,
        "mtimes are not part of the digest"
    );

    f.file("d/a", "ONE");
    assert_ne!(
        content_digest(&copy(&tree, &["d"], "/o").unwrap()).unwrap(),
        base,
        "content"
    );
    f.file("d/a", "one");
    assert_eq!(
        content_digest(&copy(&tree, &["d"], "/o").unwrap()).unwrap(),
        base
    );
    f.mode("d/a", 0o600);
    assert_ne!(
        content_digest(&copy(&tree, &["d"], "/o").unwrap()).unwrap(),
        base,
        "mode"
    );
    f.mode("d/a", 0o644);
    let moved = copy(&tree, &["d"], "/p").unwrap();
    assert_ne!(content_digest(&moved).unwrap(), base, "paths");
    let opts = CopyOptions {
        chown: Some(Owner { uid: 1, gid: 1 }),
        ..Default::default()
    };
    let owned = copy_with(&tree, &["d"], "/o", "/", opts, &EmptyDest).unwrap();
    assert_ne!(content_digest(&owned).unwrap(), base, "owners");
}

#[test]
fn dest_writer_overlay_sees_its_own_entries() {
    let mut w = DestWriter::new(&EmptyDest, None);
    w.mkdir_all("a/b").unwrap();
    assert_eq!(w.lookup("a/b"), Some(DestNode::Dir));
    w.put(LayerEntry::new(
        "a/link",
        EntryKind::Symlink { target: "b".into() },
        0o777,
        0,
        0,
    ));
    assert_eq!(w.resolve("a/link/c").unwrap(), "a/b/c");
    w.put(LayerEntry::new(
        "a",
        EntryKind::File(FileSource::Bytes(Arc::from(&b""[..]))),
        0o644,
        0,
        0,
    ));
    assert_eq!(
        w.lookup("a/b"),
        None,
        "a file over a directory hides what was below it"
    );
    assert_eq!(w.finish().len(), 1);
}
