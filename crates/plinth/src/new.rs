//! `plinth new DIR`: scaffolds an image-family repository, the small starting point of a family
//! (seeds 000, 002 and 004): plinth.toml, two images, a changelog and a README.
//!
//! ```text
//! DIR/
//! ├── CHANGELOG.md                        Keep a Changelog, an Unreleased section
//! ├── README.md                           the layout and the commands
//! ├── plinth.toml                         [family] (every key, commented) and [contexts.debian-bookworm]
//! └── images/
//!     ├── base-root/                      FROM debian-bookworm (the named context)
//!     │   ├── Dockerfile
//!     │   ├── files/etc/apt/apt.conf.d/90-no-recommends
//!     │   └── tests/README.md
//!     └── base-runtime/                   FROM base-root: tools, /application, a health check
//!         ├── Dockerfile
//!         ├── files/usr/local/bin/healthcheck
//!         └── tests/README.md
//! ```
//!
//! The files are templates under `src/new/` with `{{key}}` placeholders. Whether DIR is taken
//! is decided first (it may be missing or an empty directory, nothing else); the scaffold is
//! then written into a hidden staging directory and moved into place (see [`write_scaffold`]),
//! so that DIR never holds half a scaffold. On any error the staging directory, what was moved
//! and the parent directories this command created are removed again.

use std::fmt::Write as _;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;

use crate::cli::UsageError;

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The directory to create (missing or empty); parent directories are created.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The family's name [default: DIR's name made a valid image name: lower-case, other
    /// characters replaced with '-'].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The registry host the images are published to, e.g. registry.example.com[:5000]
    /// [default: none; plinth.toml gets a commented example].
    #[arg(long, value_name = "HOST")]
    pub registry: Option<String>,
    /// The repository namespace under the registry, e.g. `base` or `platform/base` [default: the
    /// family's name].
    #[arg(long, value_name = "PATH")]
    pub namespace: Option<String>,
    /// Who makes the images (the org.opencontainers.image.vendor label) [default: none;
    /// plinth.toml gets a commented example].
    #[arg(long, value_name = "TEXT")]
    pub vendor: Option<String>,
}

/// The family's settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub name: String,
    pub registry: Option<String>,
    pub namespace: String,
    pub vendor: Option<String>,
}

impl Settings {
    /// `registry/namespace`, the prefix of the images' names.
    fn prefix(&self) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}", self.namespace),
            None => self.namespace.clone(),
        }
    }
}

/// Whether a scaffold file is executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileMode {
    Regular,
    Executable,
}

/// One file of the scaffold, its path relative to DIR.
#[derive(Debug, Clone)]
pub struct ScaffoldFile {
    pub path: String,
    pub content: String,
    pub mode: FileMode,
}

/// The images of the scaffold, parents first.
pub const IMAGES: [&str; 2] = ["base-root", "base-runtime"];

/// The longest image name (`registry/namespace/image`) Docker accepts.
const NAME_TOTAL_MAX: usize = 255;

const PLINTH_TOML: &str = include_str!("new/plinth.toml.in");
const README: &str = include_str!("new/README.md.in");
const CHANGELOG: &str = include_str!("new/CHANGELOG.md.in");
const BASE_ROOT_DOCKERFILE: &str = include_str!("new/Dockerfile.base-root.in");
const NO_RECOMMENDS: &str = include_str!("new/90-no-recommends.in");
const BASE_RUNTIME_DOCKERFILE: &str = include_str!("new/Dockerfile.base-runtime.in");
const HEALTHCHECK: &str = include_str!("new/healthcheck.in");
const TESTS_README: &str = include_str!("new/tests-README.md.in");

pub fn new(args: NewArgs) -> Result<ExitCode> {
    let target = target_path(&args.dir)?;
    check_target(&target, &args.dir)?;
    let settings = settings(&args, &target)?;
    let files = scaffold(&settings);
    write_scaffold(&target, &files)?;

    let shown = args.dir.display();
    let mut out = format!("created the image family {:?} in {shown}:\n", settings.name);
    let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    paths.sort_unstable();
    for p in paths {
        let _ = writeln!(out, "  {p}");
    }
    let _ = writeln!(
        out,
        "\nnext steps:\n  \
         cd {dir}\n  \
         git init && git add . && git commit -m 'New image family {name}'\n  \
         plinth graph       # the images and their FROM edges\n  \
         plinth lock        # resolve the debian-bookworm context, write plinth.lock (commit it)\n  \
         plinth build       # as root: every image, parents first (RUN steps run in plinth's sandbox)\n  \
         plinth tags        # the tags a build of this commit gets\n\n\
         Then edit plinth.toml (registry, vendor, license...) and record changes in CHANGELOG.md.",
        dir = shell_quote(&args.dir.to_string_lossy()),
        name = settings.name,
    );
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// DIR as an absolute path: the real path when it exists, else with `.` and `..` resolved.
fn target_path(dir: &Path) -> Result<PathBuf> {
    if dir.exists() {
        return fs_err::canonicalize(dir).map_err(Into::into);
    }
    let abs = std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// Refuses a DIR that exists and is not an empty directory.
fn check_target(target: &Path, shown: &Path) -> Result<()> {
    let meta = match fs_err::metadata(target) {
        Ok(m) => m,
        // A dangling symbolic link would be replaced by the scaffold.
        Err(e) if e.kind() == ErrorKind::NotFound && fs_err::symlink_metadata(target).is_ok() => {
            return Err(UsageError(format!(
                "error: {} is a symbolic link to nothing: give the path of a new or empty directory",
                shown.display()
            ))
            .into());
        }
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if !meta.is_dir() {
        return Err(UsageError(format!(
            "error: {} exists and is not a directory: give the path of a new or empty directory",
            shown.display()
        ))
        .into());
    }
    if fs_err::read_dir(target)?.next().is_some() {
        return Err(UsageError(format!(
            "error: {} exists and is not empty: plinth new creates a new family repository; give a new or empty directory (or move the files out of it first)",
            shown.display()
        ))
        .into());
    }
    Ok(())
}

/// The settings from the flags, with DIR's name as the default name.
fn settings(args: &NewArgs, target: &Path) -> Result<Settings, UsageError> {
    let usage = |m: String| UsageError(format!("error: {m}"));
    let name = match &args.name {
        Some(n) => {
            if !is_path_component(n) {
                return Err(usage(format!(
                    "--name {n:?}: a family name is lower-case letters and digits, separated by '.', '_' or '-' (e.g. {:?})",
                    sanitize_name(n)
                )));
            }
            n.clone()
        }
        None => {
            let base = target
                .file_name()
                .map(|b| b.to_string_lossy().into_owned())
                .unwrap_or_default();
            let n = sanitize_name(&base);
            if n.is_empty() {
                return Err(usage(format!(
                    "{base:?} gives no family name (no letters or digits): give one with --name"
                )));
            }
            n
        }
    };
    let registry = match &args.registry {
        Some(r) if !is_registry_host(r) => {
            return Err(usage(format!(
                "--registry {r:?}: a registry is a host name with an optional port, e.g. registry.example.com or localhost:5000"
            )));
        }
        r => r.clone(),
    };
    let namespace = match &args.namespace {
        Some(ns) if !ns.split('/').all(is_path_component) => {
            return Err(usage(format!(
                "--namespace {ns:?}: a namespace is one or more '/'-separated components of lower-case letters and digits, separated by '.', '_' or '-' (e.g. base or platform/base)"
            )));
        }
        Some(ns) => ns.clone(),
        None => name.clone(),
    };
    let vendor = match &args.vendor {
        Some(v) if v.trim().is_empty() || v.chars().any(char::is_control) => {
            return Err(usage(format!(
                "--vendor {v:?}: give a non-empty text on one line"
            )));
        }
        v => v.clone(),
    };
    let settings = Settings {
        name,
        registry,
        namespace,
        vendor,
    };
    let longest = format!("{}/base-runtime", settings.prefix());
    if longest.len() > NAME_TOTAL_MAX {
        return Err(usage(format!(
            "{longest} is longer than the {NAME_TOTAL_MAX} characters an image name may have: shorten --registry, --namespace or --name"
        )));
    }
    Ok(settings)
}

/// The files of the scaffold.
pub fn scaffold(s: &Settings) -> Vec<ScaffoldFile> {
    let example_prefix = match &s.registry {
        Some(_) => s.prefix(),
        None => format!("registry.example.com/{}", s.namespace),
    };
    let registry = match &s.registry {
        Some(r) => format!("registry = {}", toml_string(r)),
        None => "# registry = \"registry.example.com\"".to_string(),
    };
    let vendor = match &s.vendor {
        Some(v) => format!("vendor = {}", toml_string(v)),
        None => "# vendor = \"Example Organization\"".to_string(),
    };
    let vars = [
        ("name", toml_string(&s.name)),
        ("name_bare", s.name.clone()),
        ("namespace", toml_string(&s.namespace)),
        ("registry", registry),
        ("vendor", vendor),
        ("example_ref", format!("{example_prefix}/base-root")),
    ];
    let text_vars = [
        ("name", s.name.clone()),
        ("example_prefix", example_prefix.clone()),
    ];
    let file = |path: &str, template: &str, vars: &[(&str, String)], mode| ScaffoldFile {
        path: path.to_string(),
        content: render(template, vars),
        mode,
    };
    let mut files = vec![
        file("plinth.toml", PLINTH_TOML, &vars, FileMode::Regular),
        file("README.md", README, &text_vars, FileMode::Regular),
        file("CHANGELOG.md", CHANGELOG, &text_vars, FileMode::Regular),
        file(
            "images/base-root/Dockerfile",
            BASE_ROOT_DOCKERFILE,
            &text_vars,
            FileMode::Regular,
        ),
        file(
            "images/base-root/files/etc/apt/apt.conf.d/90-no-recommends",
            NO_RECOMMENDS,
            &[],
            FileMode::Regular,
        ),
        file(
            "images/base-runtime/Dockerfile",
            BASE_RUNTIME_DOCKERFILE,
            &text_vars,
            FileMode::Regular,
        ),
        file(
            "images/base-runtime/files/usr/local/bin/healthcheck",
            HEALTHCHECK,
            &[],
            FileMode::Executable,
        ),
    ];
    for image in IMAGES {
        files.push(file(
            &format!("images/{image}/tests/README.md"),
            TESTS_README,
            &[("image", image.to_string())],
            FileMode::Regular,
        ));
    }
    files
}

/// Replaces every `{{key}}` of `template`.
fn render(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (key, value) in vars {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A name made a valid image path component (`[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`, the
/// distribution reference grammar): lower-case; a run of other characters between letters or
/// digits becomes `-` unless it is already a valid separator; leading and trailing ones go.
pub fn sanitize_name(raw: &str) -> String {
    let mut out = String::new();
    let mut sep = String::new();
    for c in raw.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if !out.is_empty() && !sep.is_empty() {
                if is_separator(&sep) {
                    out.push_str(&sep);
                } else {
                    out.push('-');
                }
            }
            sep.clear();
            out.push(c);
        } else {
            sep.push(c);
        }
    }
    out
}

/// `.`, `_`, `__` or one or more `-`.
fn is_separator(s: &str) -> bool {
    matches!(s, "." | "_" | "__") || (!s.is_empty() && s.bytes().all(|b| b == b'-'))
}

/// One path component of an image name (`[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`).
fn is_path_component(s: &str) -> bool {
    !s.is_empty() && sanitize_name(s) == s
}

/// A registry host: domain components (letters, digits, inner `-`) separated by `.`, and an
/// optional `:port`.
fn is_registry_host(s: &str) -> bool {
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    port_ok && !host.is_empty() && host.split('.').all(label_ok)
}

/// `'...'` when the text needs quoting in a POSIX shell.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./+@%:,=".contains(&b));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// What is removed again unless the scaffold is complete: the staging directory (a tree) and
/// the parent directories this command created (empty directories, deepest first).
struct Cleanup {
    /// In creation order; removed in reverse.
    created: Vec<Created>,
}

enum Created {
    /// A directory and its content, or a file.
    Tree(PathBuf),
    EmptyDir(PathBuf),
}

impl Cleanup {
    fn done(mut self) {
        self.created.clear();
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in self.created.iter().rev() {
            // Best effort: the error that got us here is the one reported.
            let _ = match c {
                Created::Tree(p) if p.is_dir() => std::fs::remove_dir_all(p),
                Created::Tree(p) => std::fs::remove_file(p),
                Created::EmptyDir(p) => std::fs::remove_dir(p),
            };
        }
    }
}

/// Writes the scaffold into `target`, which is missing or an empty directory.
///
/// A missing `target` is written as a hidden directory next to it, renamed into place in one
/// step. An existing (empty) `target` is kept, so that its permissions stay and a shell whose
/// working directory it is still sees it (`plinth new .`): the files are written into a hidden
/// directory inside it, whose entries are then moved up (same file system, even when `target`
/// is a mount point). On any error what was created is removed again.
fn write_scaffold(target: &Path, files: &[ScaffoldFile]) -> Result<()> {
    let mut cleanup = Cleanup {
        created: Vec::new(),
    };
    if target.is_dir() {
        let staging = create_staging(target, "")?;
        cleanup.created.push(Created::Tree(staging.clone()));
        write_files(&staging, files)?;
        for entry in fs_err::read_dir(&staging)? {
            let entry = entry?;
            let dest = target.join(entry.file_name());
            // rename(2) would replace a file or an empty directory someone just put there.
            if fs_err::symlink_metadata(&dest).is_ok() {
                return Err(filled(target));
            }
            fs_err::rename(entry.path(), &dest)?;
            cleanup.created.push(Created::Tree(dest));
        }
        fs_err::remove_dir(&staging)?;
        cleanup.done();
        return Ok(());
    }

    let parent = target
        .parent()
        .with_context(|| format!("{} has no parent directory", target.display()))?;
    let base = target
        .file_name()
        .with_context(|| format!("{} has no name", target.display()))?
        .to_string_lossy()
        .into_owned();
    let mut missing = Vec::new();
    let mut p = parent;
    while fs_err::symlink_metadata(p).is_err() {
        missing.push(p.to_path_buf());
        match p.parent() {
            Some(q) => p = q,
            None => break,
        }
    }
    for dir in missing.into_iter().rev() {
        match fs_err::create_dir(&dir) {
            Ok(()) => cleanup.created.push(Created::EmptyDir(dir)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
    }
    let staging = create_staging(parent, &format!("{base}."))?;
    cleanup.created.push(Created::Tree(staging.clone()));
    write_files(&staging, files)?;
    // Fails rather than replaces when `target` appeared meanwhile, unless it is an empty
    // directory (which is what plinth new accepts anyway).
    match fs_err::rename(&staging, target) {
        Ok(()) => {}
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::DirectoryNotEmpty | ErrorKind::AlreadyExists | ErrorKind::NotADirectory
            ) =>
        {
            return Err(filled(target));
        }
        Err(e) => return Err(e.into()),
    }
    cleanup.done();
    Ok(())
}

fn filled(target: &Path) -> anyhow::Error {
    UsageError(format!(
        "error: {} was filled while the scaffold was written: give a new or empty directory",
        target.display()
    ))
    .into()
}

fn write_files(root: &Path, files: &[ScaffoldFile]) -> Result<()> {
    for f in files {
        let path = root.join(&f.path);
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir)?;
        }
        fs_err::write(&path, &f.content)?;
        if f.mode == FileMode::Executable {
            use std::os::unix::fs::PermissionsExt as _;
            fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(())
}

/// A new hidden directory `.<prefix>plinth-new-<pid>[-N]` in `parent`.
fn create_staging(parent: &Path, prefix: &str) -> Result<PathBuf> {
    let pid = std::process::id();
    for n in 0..100u32 {
        let name = match n {
            0 => format!(".{prefix}plinth-new-{pid}"),
            n => format!(".{prefix}plinth-new-{pid}-{n}"),
        };
        let dir = parent.join(name);
        match fs_err::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e.into()),
        }
    }
    anyhow::bail!(
        "cannot create a staging directory in {}: 100 names are taken",
        parent.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_build::family::provenance;
    use plinth_build::project::Project;

    fn settings_for(name: &str) -> Settings {
        Settings {
            name: name.to_string(),
            registry: None,
            namespace: name.to_string(),
            vendor: None,
        }
    }

    fn args(dir: &str) -> NewArgs {
        NewArgs {
            dir: PathBuf::from(dir),
            name: None,
            registry: None,
            namespace: None,
            vendor: None,
        }
    }

    fn content<'a>(files: &'a [ScaffoldFile], path: &str) -> &'a str {
        &files
            .iter()
            .find(|f| f.path == path)
            .unwrap_or_else(|| panic!("{path} is not in the scaffold"))
            .content
    }

    /// Writes plinth.toml and loads it with the real loader.
    fn load(text: &str) -> Result<Project, plinth_build::project::ProjectError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("plinth.toml");
        fs_err::write(&p, text).unwrap();
        Project::load(&p)
    }

    #[test]
    fn names_are_sanitized_to_image_path_components() {
        assert_eq!(sanitize_name("My Family!"), "my-family");
        assert_eq!(sanitize_name("acme_base.images"), "acme_base.images");
        assert_eq!(sanitize_name("--Base--Images--"), "base--images");
        assert_eq!(sanitize_name("a._b"), "a-b");
        assert_eq!(sanitize_name("a__b"), "a__b");
        assert_eq!(sanitize_name("Ünïcode 2"), "n-code-2");
        assert_eq!(sanitize_name("..."), "");
        assert!(is_path_component("base-images"));
        assert!(!is_path_component("Base"));
        assert!(!is_path_component("-base"));
        assert!(!is_path_component("a/b"));
        assert!(is_registry_host("registry.example.com"));
        assert!(is_registry_host("localhost:5000"));
        assert!(!is_registry_host("https://registry.example.com"));
        assert!(!is_registry_host("reg.example.com:"));
        assert!(!is_registry_host("-reg.example.com"));
    }

    #[test]
    fn flags_are_validated_and_the_name_defaults_to_the_directory() {
        let s = settings(&args("x"), Path::new("/tmp/My Base Images")).unwrap();
        assert_eq!(s, settings_for("my-base-images"));
        let err = settings(&args("x"), Path::new("/tmp/___")).unwrap_err();
        assert!(err.0.contains("--name"), "{}", err.0);

        let mut a = args("x");
        a.name = Some("Acme".into());
        let err = settings(&a, Path::new("/tmp/x")).unwrap_err();
        assert!(
            err.0.contains("--name") && err.0.contains("\"acme\""),
            "{}",
            err.0
        );

        let mut a = args("x");
        a.registry = Some("https://r.example.com".into());
        assert!(
            settings(&a, Path::new("/tmp/x"))
                .unwrap_err()
                .0
                .contains("--registry")
        );

        let mut a = args("x");
        a.namespace = Some("platform/Base".into());
        assert!(
            settings(&a, Path::new("/tmp/x"))
                .unwrap_err()
                .0
                .contains("--namespace")
        );
        a.namespace = Some("platform/base".into());
        assert_eq!(
            settings(&a, Path::new("/tmp/x")).unwrap().namespace,
            "platform/base"
        );

        let mut a = args("x");
        a.vendor = Some("line\nbreak".into());
        assert!(
            settings(&a, Path::new("/tmp/x"))
                .unwrap_err()
                .0
                .contains("--vendor")
        );

        let mut a = args("x");
        a.namespace = Some("n".repeat(250));
        assert!(
            settings(&a, Path::new("/tmp/x"))
                .unwrap_err()
                .0
                .contains("255")
        );
    }

    #[test]
    fn every_placeholder_is_filled() {
        let mut s = settings_for("acme");
        for registry in [None, Some("r.example.com:5000".to_string())] {
            s.registry = registry;
            for f in scaffold(&s) {
                assert!(!f.content.contains("{{"), "{}:\n{}", f.path, f.content);
                assert!(f.content.ends_with('\n'), "{}", f.path);
            }
        }
    }

    #[test]
    fn plinth_toml_loads_and_says_what_the_flags_said() {
        let s = Settings {
            name: "acme".into(),
            registry: Some("registry.example.org:5000".into()),
            namespace: "platform/base".into(),
            vendor: Some("ACME \"Rockets\" \\ Co.".into()),
        };
        let files = scaffold(&s);
        let p = load(content(&files, "plinth.toml")).unwrap();
        let f = p.file.family.as_ref().unwrap();
        assert_eq!(f.name, "acme");
        assert_eq!(f.version.as_deref(), Some("0.1.0"));
        assert_eq!(f.registry.as_deref(), Some("registry.example.org:5000"));
        assert_eq!(f.namespace.as_deref(), Some("platform/base"));
        assert_eq!(f.vendor.as_deref(), Some("ACME \"Rockets\" \\ Co."));
        assert_eq!(f.images_dir, "images");
        assert!(f.tag_template.is_none() && f.labels.is_empty());
        let c = &p.file.contexts["debian-bookworm"];
        assert_eq!(c.suite, "bookworm");
        assert_eq!(c.include, ["ca-certificates"]);
        let spec = p.rootfs_spec("debian-bookworm", &[]).unwrap();
        assert_eq!(spec.variant, plinth_debian::resolve::Variant::Minbase);

        // Without the flags the keys stay commented examples.
        let files = scaffold(&settings_for("acme"));
        let p = load(content(&files, "plinth.toml")).unwrap();
        let f = p.file.family.as_ref().unwrap();
        assert_eq!((f.registry.as_deref(), f.vendor.as_deref()), (None, None));
        assert_eq!(f.namespace.as_deref(), Some("acme"));
    }

    #[test]
    fn every_family_key_is_written_and_the_commented_examples_are_valid() {
        let text = content(&scaffold(&settings_for("acme")), "plinth.toml").to_string();
        // The [family] section (up to the context) with every `# key = value` example enabled.
        let (family, contexts) = text.split_once("# A named build context").unwrap();
        let enabled: String = family
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => rest,
                _ => l,
            })
            .fold(String::new(), |acc, l| acc + l + "\n");
        let p = load(&format!("{enabled}# A named build context{contexts}")).unwrap();
        let f = p.file.family.unwrap();
        assert_eq!(
            f.tag_template.as_deref(),
            Some(plinth_build::family::tags::DEFAULT_TEMPLATE)
        );
        assert!(f.registry.is_some() && f.vendor.is_some() && f.license.is_some());
        assert!(f.url.is_some() && f.documentation.is_some() && f.description.is_some());
        assert_eq!(f.variant.as_deref(), Some("bookworm"));
        assert_eq!(f.labels.len(), 1);
        // Every key of the schema's [family] appears, set or commented.
        let schema = plinth_build::project::json_schema();
        let keys = schema["$defs"]["FamilyConfig"]["properties"]
            .as_object()
            .unwrap();
        assert!(
            keys.contains_key("tag-template") && keys.contains_key("labels"),
            "{keys:?}"
        );
        for key in keys.keys() {
            let set = format!("\n{key} = ");
            let commented = format!("\n# {key} = ");
            let table = format!("\n[family.{key}]");
            assert!(
                family.contains(&set) || family.contains(&commented) || family.contains(&table),
                "{key} is not in plinth.toml"
            );
        }
    }

    #[test]
    fn dockerfiles_parse_and_leave_the_filled_labels_to_plinth() {
        let files = scaffold(&settings_for("acme"));
        let filled = [
            provenance::VERSION,
            provenance::REVISION,
            provenance::CREATED,
            provenance::SOURCE,
            provenance::VENDOR,
            provenance::LICENSES,
        ];
        for (image, from) in [
            ("base-root", "debian-bookworm"),
            ("base-runtime", "base-root"),
        ] {
            let text = content(&files, &format!("images/{image}/Dockerfile"));
            let df = plinth_dockerfile::parse(text).unwrap();
            let parsed = plinth_dockerfile::stages(&df).unwrap();
            assert_eq!(parsed.stages.len(), 1, "{image}");
            let stage = &parsed.stages[0];
            assert_eq!(stage.from.base, from, "{image}");
            let labels: Vec<&str> = stage
                .commands
                .iter()
                .filter_map(|c| match c {
                    plinth_dockerfile::Command::Label(l) => Some(l),
                    _ => None,
                })
                .flat_map(|l| l.pairs.iter().map(|kv| kv.key.as_str()))
                .collect();
            assert!(
                labels.contains(&provenance::DESCRIPTION),
                "{image}: {labels:?}"
            );
            for key in filled {
                assert!(!labels.contains(&key), "{image} hard-codes {key}");
            }
            assert!(text.contains("COPY files/ /"), "{image}");
        }
        let runtime = content(&files, "images/base-runtime/Dockerfile");
        // Install and clean up in the same RUN, without recommended packages.
        let run = runtime
            .split("\nRUN ")
            .nth(1)
            .and_then(|r| r.split("\n\n").next())
            .unwrap();
        assert!(
            run.contains("apt-get install -y --no-install-recommends")
                && run.contains("rm -rf /var/lib/apt/lists/*"),
            "{run}"
        );
    }

    fn plain(path: &str) -> ScaffoldFile {
        ScaffoldFile {
            path: path.into(),
            content: "x\n".into(),
            mode: FileMode::Regular,
        }
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs_err::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap();
        // `a` is a file, so `a/b` cannot be written.
        let bad = [plain("plinth.toml"), plain("a"), plain("a/b")];
        let target = tmp.path().join("new/parents/fam");
        assert!(write_scaffold(&target, &bad).is_err());
        assert_eq!(
            entries(tmp.path()),
            Vec::<String>::new(),
            "parents removed too"
        );

        let empty = tmp.path().join("empty");
        fs_err::create_dir(&empty).unwrap();
        assert!(write_scaffold(&empty, &bad).is_err());
        assert_eq!(entries(&empty), Vec::<String>::new());

        // An entry that appears in an existing DIR meanwhile is neither replaced nor kept
        // alongside half a scaffold.
        fs_err::write(empty.join("z"), "mine").unwrap();
        let err = write_scaffold(&empty, &[plain("plinth.toml"), plain("z")]).unwrap_err();
        assert!(err.to_string().contains("was filled"), "{err}");
        assert_eq!(entries(&empty), ["z"]);
        assert_eq!(fs_err::read_to_string(empty.join("z")).unwrap(), "mine");

        // And the good case, for contrast.
        write_scaffold(&target, &[plain("plinth.toml"), plain("a/b")]).unwrap();
        assert_eq!(entries(&target), ["a", "plinth.toml"]);
        assert_eq!(entries(&tmp.path().join("new/parents")), ["fam"]);
    }

    #[test]
    fn toml_strings_escape() {
        assert_eq!(toml_string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(toml_string("x\u{1}"), r#""x\u0001""#);
        assert_eq!(shell_quote("my dir/x"), "'my dir/x'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote("a/b-c"), "a/b-c");
    }
}
