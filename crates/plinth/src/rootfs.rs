//! `plinth rootfs`, `plinth lock`, and the named contexts `plinth build` prepares from
//! plinth.toml and plinth.lock.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use plinth_build::debian::sources::{AptSource, host_sources};
use plinth_build::debian::{
    self, LockFile, LockMode, LockedRootfs, RootfsEvent, RootfsOptions, RootfsSpec, SuiteSource,
};
use plinth_build::family::graph::{ImageSource, image_references};
use plinth_build::project::Project;
use plinth_build::{BuildEvent, NamedContext};
use plinth_debian::resolve::Variant;
use plinth_oci::store::Store;

use crate::cli::{CompressionArg, UsageError, open_store};
use crate::render;

#[derive(Debug, Args)]
pub struct RootfsArgs {
    /// A context of plinth.toml (`[contexts.NAME]`); or give --suite instead.
    #[arg(value_name = "CONTEXT", required_unless_present = "suite")]
    pub context: Option<String>,
    /// Name the image (repeatable).
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,
    /// The project file [default: plinth.toml in the current directory or the nearest parent].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Without a plinth.toml: the Debian suite (bookworm, trixie, sid...).
    #[arg(long, conflicts_with = "context")]
    pub suite: Option<String>,
    /// With --suite: essential, apt, minbase (= required), important, standard or custom.
    #[arg(long, default_value = "minbase", requires = "suite")]
    pub variant: String,
    /// With --suite: more packages (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',', requires = "suite", value_name = "PKG")]
    pub include: Vec<String>,
    /// With --suite: packages to leave out of the variant's set (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',', requires = "suite", value_name = "PKG")]
    pub exclude: Vec<String>,
    /// With --suite: archive components.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "main",
        requires = "suite"
    )]
    pub components: Vec<String>,
    /// With --suite: the dpkg architecture [default: the host's].
    #[arg(long = "arch", requires = "suite")]
    pub architecture: Option<String>,
    /// With --suite: the mirror [default: the host's apt sources for the suite, with its
    /// -updates and -security suites].
    #[arg(long, requires = "suite", value_name = "URI")]
    pub mirror: Option<String>,
    /// With --suite: an OpenPGP keyring to verify InRelease files [default: Debian's, built in].
    #[arg(long, requires = "suite", value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    /// With --suite: read and write this lock file (plinth.toml contexts use plinth.lock).
    #[arg(long, requires = "suite", value_name = "FILE")]
    pub lock: Option<PathBuf>,
    #[command(flatten)]
    pub lock_mode: LockModeArgs,
    /// Build again even when the cache has this package set.
    #[arg(long)]
    pub no_cache: bool,
    /// Layer compression.
    #[arg(long, value_enum, default_value_t = CompressionArg::Gzip)]
    pub compression: CompressionArg,
    /// Progress output: auto (tty when stderr is a terminal), tty, plain or json.
    #[arg(long, value_enum, default_value_t = render::ProgressMode::Auto)]
    pub progress: render::ProgressMode,
}

#[derive(Debug, Args, Clone, Copy)]
pub struct LockModeArgs {
    /// Resolve the Debian contexts again against the mirror and fail when the result differs
    /// from plinth.lock, writing nothing (for CI).
    #[arg(long, conflicts_with = "update_lock")]
    pub locked: bool,
    /// Resolve the Debian contexts again and rewrite their plinth.lock entries.
    #[arg(long = "update-lock")]
    pub update_lock: bool,
}

impl LockModeArgs {
    pub fn mode(self) -> LockMode {
        if self.locked {
            LockMode::Locked
        } else if self.update_lock {
            LockMode::Update
        } else {
            LockMode::Use
        }
    }
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Contexts to lock [default: all of plinth.toml].
    #[arg(value_name = "CONTEXT")]
    pub contexts: Vec<String>,
    /// The project file [default: plinth.toml in the current directory or the nearest parent].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Resolve again against the mirror and rewrite the entries (without it, only missing or
    /// stale entries are resolved).
    #[arg(long, conflicts_with = "check")]
    pub update: bool,
    /// Resolve again and fail when the lock would change; write nothing.
    #[arg(long)]
    pub check: bool,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn host() -> Result<Vec<AptSource>> {
    Ok(host_sources(Path::new("/etc/apt"))?)
}

/// plinth.toml: `config`, else the nearest one from `start` upwards (`None` when there is none).
pub(crate) fn load_project(config: Option<&Path>, start: &Path) -> Result<Option<Project>> {
    match config {
        Some(p) => Ok(Some(
            Project::load(p).map_err(|e| UsageError(format!("error: {e}")))?,
        )),
        None => Project::find(start).map_err(|e| UsageError(format!("error: {e}")).into()),
    }
}

/// Prints root filesystem progress on stderr.
struct Progress {
    renderer: render::BuildRenderer,
    name: String,
}

impl Progress {
    fn new(mode: render::ProgressMode, name: &str) -> Progress {
        Progress {
            renderer: render::BuildRenderer::new(mode, std::io::stderr().is_terminal()),
            name: name.to_string(),
        }
    }

    fn event(&mut self, ev: RootfsEvent) {
        if let Some(ev) = ev.into_build_event(&self.name) {
            self.renderer.event(&ev);
        }
    }
}

pub fn rootfs(store_path: &Path, args: RootfsArgs) -> Result<ExitCode> {
    let store = open_store(store_path)?;
    let host = host()?;
    let (spec, lock_path) = match (&args.context, &args.suite) {
        (Some(name), _) => {
            let cwd = std::env::current_dir()?;
            let Some(project) = load_project(args.config.as_deref(), &cwd)? else {
                return Err(UsageError(format!(
                    "error: no plinth.toml in {} or its parents: declare [contexts.{name}] there, or use --suite",
                    cwd.display()
                ))
                .into());
            };
            let spec = project
                .rootfs_spec(name, &host)
                .map_err(|e| UsageError(format!("error: {e}")))?;
            (spec, Some(project.lock_path()))
        }
        (None, Some(suite)) => {
            let variant: Variant = args
                .variant
                .parse()
                .map_err(|e| UsageError(format!("error: --variant: {e}")))?;
            let sources = match &args.mirror {
                Some(m) => vec![SuiteSource {
                    uri: m.trim_end_matches('/').to_string(),
                    suite: suite.clone(),
                }],
                None => debian::sources::default_suites(&host, suite),
            };
            let spec = RootfsSpec {
                name: suite.clone(),
                suite: suite.clone(),
                variant,
                components: args.components.clone(),
                architecture: args
                    .architecture
                    .clone()
                    .unwrap_or_else(|| debian::host_architecture().to_string()),
                sources,
                include: args.include.clone(),
                exclude: args.exclude.clone(),
                keyring: args.keyring.clone(),
            };
            (spec, args.lock.clone())
        }
        (None, None) => bail!("give a CONTEXT or --suite"),
    };
    let mut progress = Progress::new(args.progress, &spec.name);
    let mode = args.lock_mode.mode();
    let mut lock = match &lock_path {
        Some(p) => LockFile::read(p)?.unwrap_or_default(),
        None => LockFile::default(),
    };
    let started = std::time::Instant::now();
    let (entry, changed) =
        debian::locked_entry(&store, &spec, &mut lock, mode, now_unix(), &mut |ev| {
            progress.event(ev)
        })
        .map_err(map_debian_error)?;
    if changed && let Some(p) = &lock_path {
        lock.write(p)?;
        eprintln!("wrote {}", p.display());
    }
    let image = build_image(&store, &entry, &spec, &args, &mut progress)?;
    for t in &args.tags {
        for name in store.set_refs(&[(t.as_str(), &image.manifest)])? {
            eprintln!("tagged {name}");
        }
    }
    if args.tags.is_empty() {
        store.add_untagged(&image.manifest)?;
    }
    eprintln!(
        "root filesystem {} {} {}: {} packages, layer {} ({}){} in {:.1}s",
        entry.suite,
        entry.variant,
        entry.architecture,
        image.packages,
        &image.layer.digest.to_string()[..19],
        render::human_size(image.layer.size),
        if image.cached { ", from the cache" } else { "" },
        started.elapsed().as_secs_f64()
    );
    println!("{}", image.manifest.digest);
    Ok(ExitCode::SUCCESS)
}

fn build_image(
    store: &Store,
    entry: &LockedRootfs,
    spec: &RootfsSpec,
    args: &RootfsArgs,
    progress: &mut Progress,
) -> Result<debian::RootfsImage> {
    let opts = RootfsOptions {
        compression: args.compression.into(),
        sources: spec.sources.clone(),
        components: spec.components.clone(),
        use_cache: !args.no_cache,
        cancel: Some(crate::interrupt_flag()),
        sandbox_helper: None,
    };
    debian::build_rootfs(store, entry, &opts, &mut |ev| progress.event(ev)).map_err(|e| match e {
        debian::DebianError::Cancelled => anyhow::anyhow!("interrupted: nothing was committed"),
        e => map_debian_error(e),
    })
}

/// Resolution errors (unknown packages, unsatisfiable dependencies, --locked differences) are the
/// user's input: exit code 2.
fn map_debian_error(e: debian::DebianError) -> anyhow::Error {
    match e {
        e @ (debian::DebianError::Resolve(_) | debian::DebianError::Locked { .. }) => {
            UsageError(format!("error: {e}")).into()
        }
        e => anyhow::Error::new(e),
    }
}

pub fn lock(store_path: &Path, args: LockArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir()?;
    let Some(project) = load_project(args.config.as_deref(), &cwd)? else {
        return Err(UsageError(format!(
            "error: no plinth.toml in {} or its parents",
            cwd.display()
        ))
        .into());
    };
    let names: Vec<String> = if args.contexts.is_empty() {
        project.file.contexts.keys().cloned().collect()
    } else {
        args.contexts.clone()
    };
    if names.is_empty() {
        eprintln!(
            "{} declares no contexts: nothing to lock",
            project.path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let store = open_store(store_path)?;
    let mode = if args.check {
        LockMode::Locked
    } else if args.update {
        LockMode::Update
    } else {
        LockMode::Use
    };
    let mut progress: BTreeMap<String, Progress> = BTreeMap::new();
    let (entries, written) = lock_contexts(&store, &project, &names, mode, &mut |name, ev| {
        if matches!(
            ev,
            RootfsEvent::Release { .. } | RootfsEvent::Resolved { .. }
        ) {
            progress
                .entry(name.to_string())
                .or_insert_with(|| Progress::new(render::ProgressMode::Plain, name))
                .event(ev)
        }
    })?;
    for LockedContext {
        spec,
        entry,
        changed,
    } in &entries
    {
        let size: u64 = entry.packages.iter().map(|p| p.size).sum();
        println!(
            "{}: {} {} {}, {} packages ({}){}",
            spec.name,
            entry.suite,
            entry.variant,
            entry.architecture,
            entry.packages.len(),
            render::human_size(size),
            if *changed {
                ", updated"
            } else {
                ", up to date"
            }
        );
    }
    if let Some(p) = written {
        eprintln!("wrote {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A context with its plinth.lock entry.
struct LockedContext {
    spec: RootfsSpec,
    entry: LockedRootfs,
    /// The entry was resolved now (new, stale or --update).
    changed: bool,
}

/// The plinth.lock entries of the project's contexts `names`, found or made as `mode` says;
/// plinth.lock is written (and its path returned) when an entry changed.
fn lock_contexts(
    store: &Store,
    project: &Project,
    names: &[String],
    mode: LockMode,
    on_event: &mut dyn FnMut(&str, RootfsEvent),
) -> Result<(Vec<LockedContext>, Option<PathBuf>)> {
    let host = host()?;
    let lock_path = project.lock_path();
    let mut lock = LockFile::read(&lock_path)?.unwrap_or_default();
    let mut out = Vec::new();
    for name in names {
        let spec = project
            .rootfs_spec(name, &host)
            .map_err(|e| UsageError(format!("error: {e}")))?;
        let (entry, changed) =
            debian::locked_entry(store, &spec, &mut lock, mode, now_unix(), &mut |ev| {
                on_event(name, ev)
            })
            .map_err(map_debian_error)
            .with_context(|| format!("context {name:?} of {}", project.path.display()))?;
        out.push(LockedContext {
            spec,
            entry,
            changed,
        });
    }
    let written = if out.iter().any(|c| c.changed) {
        lock.write(&lock_path)?;
        Some(lock_path)
    } else {
        None
    };
    Ok((out, written))
}

/// The named contexts a build of `dockerfile` uses: contexts of the project file (found from the
/// build context upward, or `config`) whose names the Dockerfile's stages use as images (FROM
/// after ARG expansion with `build_args`, `COPY --from`, `RUN --mount=from=`). A Dockerfile that
/// does not parse needs none here: the build reports its error. Lock entries are found or made
/// (and plinth.lock written) as `mode` says.
pub fn named_contexts_for_build(
    store: &Store,
    config: Option<&Path>,
    context_dir: &Path,
    dockerfile_text: &str,
    build_args: &[(String, String)],
    mode: LockMode,
    on_event: &mut dyn FnMut(BuildEvent),
) -> Result<BTreeMap<String, NamedContext>> {
    let Ok(mentioned) = image_references(&ImageSource {
        name: "",
        dockerfile_path: "Dockerfile",
        dockerfile: dockerfile_text,
        build_args,
    }) else {
        return Ok(BTreeMap::new());
    };
    let Some(project) = load_project(config, context_dir)? else {
        let mut out = BTreeMap::new();
        crate::init_context::add_if_wanted(&mut out, store, &mentioned, std::iter::empty())?;
        return Ok(out);
    };
    named_contexts_of(store, &project, &mentioned, mode, on_event)
}

/// The named contexts of `project` that `mentioned` (image references of Dockerfiles) names,
/// locked (see [`lock_contexts`]).
pub fn named_contexts_of(
    store: &Store,
    project: &Project,
    mentioned: &[String],
    mode: LockMode,
    on_event: &mut dyn FnMut(BuildEvent),
) -> Result<BTreeMap<String, NamedContext>> {
    let wanted: Vec<String> = project
        .file
        .contexts
        .keys()
        .filter(|k| mentioned.contains(k))
        .cloned()
        .collect();
    let mut out = BTreeMap::new();
    crate::init_context::add_if_wanted(&mut out, store, mentioned, project.file.contexts.keys())?;
    if wanted.is_empty() {
        return Ok(out);
    }
    let (entries, written) = lock_contexts(store, project, &wanted, mode, &mut |name, ev| {
        if let Some(ev) = ev.into_build_event(name) {
            on_event(ev);
        }
    })?;
    if let Some(p) = written {
        on_event(BuildEvent::Warning {
            line: None,
            message: format!("wrote {}", p.display()),
        });
    }
    out.extend(entries.into_iter().map(|c| {
        (
            c.spec.name,
            NamedContext::DebianRootfs {
                locked: c.entry,
                components: c.spec.components,
                sources: c.spec.sources,
            },
        )
    }));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use plinth_build::family::graph::{ImageSource, image_references};

    #[test]
    fn names_from_from_lines_and_flags() {
        // FROM names are ARG-expanded (here and with a build arg), stage names are not images.
        let text = "ARG BASE=x\nFROM --platform=linux/amd64 debian-bookworm AS root\nfrom ${BASE}\nCOPY --from=tools /a /b\nCOPY --from=root /c /d\nRUN --mount=type=bind,from=x true\n";
        let names = |build_args: &[(String, String)]| {
            image_references(&ImageSource {
                name: "",
                dockerfile_path: "Dockerfile",
                dockerfile: text,
                build_args,
            })
            .unwrap()
        };
        assert_eq!(names(&[]), ["debian-bookworm", "x", "tools"]);
        assert_eq!(
            names(&[("BASE".into(), "debian-trixie".into())]),
            ["debian-bookworm", "debian-trixie", "tools", "x"]
        );
    }
}
