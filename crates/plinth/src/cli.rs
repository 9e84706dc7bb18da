//! Command-line arguments (clap) and the dispatch of each subcommand to the libraries.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use plinth_oci::layer::Compression;
use plinth_oci::store::{GcWait, Store};

use crate::render;

/// plinth builds, tests and releases families of OCI base images, without a daemon.
///
/// Images are built into a local OCI image-layout store (see --store), bit-for-bit reproducible:
/// the same Dockerfile, context, build args and SOURCE_DATE_EPOCH give the same digest anywhere.
#[derive(Debug, Parser)]
#[command(
    name = "plinth",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// The OCI image-layout directory that holds images [default: $XDG_DATA_HOME/plinth/store,
    /// or ~/.local/share/plinth/store].
    #[arg(
        long,
        global = true,
        env = "PLINTH_STORE",
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub store: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build a Dockerfile, or a family of images, into the store.
    ///
    /// With a CONTEXT directory, its Dockerfile (or -f FILE) is built and tagged with -t.
    ///
    /// In a family repository (plinth.toml with [family]; --config FILE, or found from the
    /// current directory), `plinth build` builds every image of images/*/ parent-first, -j
    /// images at a time, and `plinth build NAME...` builds those images (their family parents
    /// are built first, mostly from the cache; --with-dependents also rebuilds their
    /// descendants). A child's FROM of a family image is pinned to the digest just built and
    /// recorded in its org.opencontainers.image.base.* labels. Each image gets the family's
    /// tags (see `plinth tags`) and OCI labels from plinth.toml, git and CI, also as manifest
    /// annotations.
    ///
    /// RUN steps run in plinth's sandbox (root needed). Steps come from the layer cache when their
    /// inputs are unchanged; the cache is kept under PLINTH_CACHE_LIMIT (default 10G) and `plinth
    /// prune` empties it.
    ///
    /// Example: plinth build -t app:1.0 --build-arg VERSION=1.0 .
    ///
    /// Example, a family: plinth build --with-dependents base-runtime
    Build(BuildArgs),
    /// List the images in the store (name, tag, digest, size, created).
    Images(ImagesArgs),
    /// Remove image references from the store (blobs are freed by `plinth gc`).
    Rmi(RmiArgs),
    /// Delete every blob no image reference needs, and leftovers of killed runs.
    Gc(GcArgs),
    /// Write images to an archive: an OCI layout tar, or a `docker load` tar.
    Save(SaveArgs),
    /// Import an oci-archive or docker-archive (as written by `docker save`) into the store.
    Load(LoadArgs),
    /// Download an image from a registry into the store.
    ///
    /// The manifest and every blob are verified by digest before they enter the store, and the
    /// image is named REGISTRY/NAME:TAG only when all of it is there. For a multi-platform image
    /// (an index) the manifest for --platform is taken. Credentials come from Docker's
    /// config.json (`docker login`) unless --creds is given. The digest goes to stdout.
    ///
    /// Example: plinth pull registry.example.com/team/app:1.0
    Pull(crate::registry::PullArgs),
    /// Upload family images, or one store image, to a registry, keeping their digests.
    ///
    /// In a family repository, `plinth push [NAME...]` pushes the images built for the current
    /// commit (default: all; family parents first, also when only a child is named) with every
    /// tag the build gave them: the unique tag, the version tags and `latest`. The unique tag and
    /// the full-version tags (1.2.3, 1.2.3-bookworm) never move: if the registry has one at
    /// another digest, nothing is pushed. 1.2, 1 and latest move. stdout: one line per image,
    /// `NAME DIGEST REFERENCE...`.
    ///
    /// `plinth push SRC DEST` pushes one store image; with --immutable it fails, before uploading
    /// anything, if DEST's tag already names another digest. The digest goes to stdout.
    ///
    /// Blobs the registry has are skipped, blobs of a parent image are mounted from its
    /// repository, the others are uploaded in parallel (-j); manifests are pushed exactly as
    /// stored, after all their blobs, so the digest on the registry is the one `plinth images`
    /// shows.
    ///
    /// Example, a family: plinth push
    ///
    /// Example: plinth push app:1.0 registry.example.com/team/app:1.0 --immutable
    Push(crate::registry::PushArgs),
    /// Copy an image from one registry repository to another, without the store.
    ///
    /// Manifests keep their bytes (so the digest is kept) and are pushed after all their blobs;
    /// blobs are skipped when present, mounted within a registry, or streamed through a
    /// verified temporary file, up to -j at a time. The digest goes to stdout.
    ///
    /// Example: plinth copy registry.example.com/team/app:1.0 mirror.example.com/app:1.0
    Copy(crate::registry::CopyArgs),
    /// Log in to a registry and save the credentials where Docker keeps them.
    ///
    /// The user name and password are checked against the registry first (as `docker login`
    /// does) and saved only when it accepts them: in Docker's config.json ($DOCKER_CONFIG, or
    /// ~/.docker), or in the credential helper it names (credsStore, credHelpers). `plinth
    /// pull`, `push` and `copy`, Docker and skopeo then use them. REGISTRY is docker.io unless
    /// given. The password is asked for without echo, or read from stdin with --password-stdin.
    ///
    /// Example: echo "$TOKEN" | plinth login registry.example.com -u ci --password-stdin
    Login(crate::login::LoginArgs),
    /// Remove the saved login for a registry (docker.io unless given).
    ///
    /// The registry's entries of Docker's config.json are removed, and its credential helper, if
    /// any, is asked to erase them. Not being logged in is not an error.
    ///
    /// Example: plinth logout registry.example.com
    Logout(crate::login::LogoutArgs),
    /// Run a command in a container of a store image (in plinth's sandbox; needs root).
    ///
    /// Example: plinth run --rm app:1.0 sh -c 'id && ls /app'
    Run(RunArgs),
    /// Free the layer cache down to a size limit, then collect unreferenced blobs.
    Prune(PruneArgs),
    /// Make a Debian root filesystem image from a mirror, without debootstrap.
    ///
    /// Packages are resolved like apt (variants as in mmdebstrap), Release files are verified
    /// with the Debian archive keyring and every .deb by its SHA-256, and dpkg runs the
    /// maintainer scripts inside plinth's sandbox (root needed) with no network. A context of
    /// plinth.toml is locked in plinth.lock; the same lock gives the same digest.
    ///
    /// Example, a context of plinth.toml: plinth rootfs debian-bookworm -t base/debian:bookworm
    ///
    /// Example, without plinth.toml: plinth rootfs --suite bookworm --include curl -t deb:curl
    Rootfs(crate::rootfs::RootfsArgs),
    /// Resolve the Debian contexts of plinth.toml and write plinth.lock.
    ///
    /// Without flags only missing or stale entries (whose context settings changed) are
    /// resolved; --update resolves every entry again; --check fails when the lock would change.
    Lock(crate::rootfs::LockArgs),
    /// Print the family's images as a tree of FROM edges (plinth.toml [family], images/*/Dockerfile).
    ///
    /// A FROM that names a family image (bare, with a tag, or under the family's
    /// registry/namespace) is an edge; anything else is an external base. A cycle is an error.
    Graph(crate::family::GraphArgs),
    /// Print the tags a build of the family's images gets, without building.
    ///
    /// One unique tag (`<branch>-<shortsha>-<commit time>`, or the [family] tag-template), the
    /// version tags X.Y.Z, X.Y and X from the family version or a vX.Y.Z git tag on HEAD, and
    /// `latest` for a stable release built by CI. Builds outside CI or from a dirty work tree are
    /// development builds: their unique tag starts with `dev-` and they get no version tags.
    Tags(crate::family::TagsArgs),
    /// Pin external base images: rewrite `FROM name:tag` to `FROM name:tag@sha256:...`.
    Pin(crate::pin::PinArgs),
    /// Check Dockerfiles with hadolint's rules, plinth's checklist and ShellCheck.
    ///
    /// PATHs are Dockerfiles, directories (DIR means DIR/Dockerfile) or `-` for stdin; without
    /// one, every image of the family (plinth.toml [family]) is checked, else ./Dockerfile.
    /// hadolint's DL codes, `.hadolint.yaml` and `# hadolint ignore=` comments keep working.
    /// Settings come from plinth.toml's [lint] table (or .plinth-lint.toml) laid over
    /// .hadolint.yaml. RUN scripts go through ShellCheck when it is installed (SC codes). Exit
    /// status: 0 clean, 1 findings at or above the failure threshold, 2 a Dockerfile that does
    /// not parse or a usage error.
    ///
    /// Example: plinth lint --format sarif > lint.sarif
    Lint(crate::lint::LintArgs),
    /// Create a family repository: plinth.toml, images/<name>/{Dockerfile,files,tests}, CHANGELOG.md.
    New(crate::new::NewArgs),
    /// Test images: structure tests (files, packages, users, metadata) and runtime checks.
    ///
    /// Test files are plinth's format (YAML or TOML: a `check:` list), container-structure-test
    /// files (schemaVersion 2.0.0) or goss files, read as they are; a key plinth does not
    /// support is an error. Static checks read the image's layers without running it; commands
    /// run in fresh containers of plinth's sandbox (root needed), processes, ports, HTTP and
    /// mounts against one container of the image's service. --checklist adds seed 003's
    /// checklist. In a family repository every image built for this commit is tested with its
    /// images/<name>/tests/*.{yaml,yml,toml}. Results are recorded in the store: `plinth push`
    /// pushes release tags only for images whose tests passed. Exit status: 0 all passed, 1 a
    /// test failed, 2 a bad test file or usage.
    ///
    /// Example: plinth test app:1.0 --config tests/app.yaml --checklist --format junit
    Test(crate::test_cmd::TestArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Remove the container's writable layer when it exits (without it the layer is kept and its
    /// path printed).
    #[arg(long)]
    pub rm: bool,
    /// Network: the host's, or none (loopback only).
    #[arg(long, value_enum, default_value_t = NetworkArg::Host)]
    pub network: NetworkArg,
    /// Set an environment variable (repeatable).
    #[arg(short = 'e', long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// Bind-mount a host path (repeatable).
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:ro]")]
    pub volumes: Vec<String>,
    /// Run as this user (name or uid[:gid]) instead of the image's USER.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory instead of the image's WORKDIR.
    #[arg(short = 'w', long)]
    pub workdir: Option<String>,
    /// Replace the image's ENTRYPOINT ("" clears it).
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// The image (name:tag or digest).
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// The command, replacing the image's CMD.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum NetworkArg {
    Host,
    None,
}

impl From<NetworkArg> for plinth_sandbox::Network {
    fn from(n: NetworkArg) -> Self {
        match n {
            NetworkArg::Host => plinth_sandbox::Network::Host,
            NetworkArg::None => plinth_sandbox::Network::None,
        }
    }
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Keep at most this many bytes of cached layers (suffixes k, M, G accepted).
    #[arg(long, value_name = "SIZE", default_value = "0")]
    pub keep: String,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The build context (the directory COPY and ADD read from), or names of family images
    /// [default: every image of the family].
    #[arg(value_name = "CONTEXT|NAME")]
    pub targets: Vec<String>,

    /// The Dockerfile [default: CONTEXT/Dockerfile].
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Name and tag of the image (repeatable), e.g. -t app:1.0 -t registry.example.com/team/app:1.0.
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,

    /// When images that FROM and COPY --from name are pulled from their registry: missing
    /// (those the store does not have), always (every one named by tag, for the registry's
    /// current image) or never (offline: the store must have them).
    #[arg(long, value_enum, value_name = "WHEN", default_value = "missing")]
    pub pull: crate::registry::PullPolicy,

    /// Build without linting the Dockerfile first (by default, lint errors stop the build; see
    /// `plinth lint`).
    #[arg(long)]
    pub no_lint: bool,

    #[command(flatten)]
    pub registry: crate::registry::RegistryOpts,

    /// Set a build argument declared with ARG (repeatable). `--build-arg K` takes K from the environment.
    #[arg(long = "build-arg", value_name = "K=V")]
    pub build_args: Vec<String>,

    /// Build up to this stage (by name) instead of the last one.
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,

    /// Layer compression.
    #[arg(long, value_enum, default_value_t = CompressionArg::Gzip)]
    pub compression: CompressionArg,

    /// Timestamp for every file, history entry and the image (seconds since 1970) [default: the
    /// commit time of the context's git HEAD, else 0].
    #[arg(
        long,
        env = "SOURCE_DATE_EPOCH",
        hide_env_values = true,
        value_name = "SECONDS"
    )]
    pub source_date_epoch: Option<String>,

    /// How to show progress on stderr: one line per step (auto, plain) or one JSON object per
    /// event (json). The image digest always goes to stdout.
    #[arg(long, value_enum, default_value_t = render::ProgressMode::Auto)]
    pub progress: render::ProgressMode,

    /// Write the image's manifest digest to this file.
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,

    /// The network of RUN steps that do not set `RUN --network`.
    #[arg(long, value_enum, default_value_t = NetworkArg::Host)]
    pub network: NetworkArg,

    /// A secret for `RUN --mount=type=secret,id=ID` (repeatable): `id=ID,src=FILE`. Secrets never
    /// land in a layer, the config or the history.
    #[arg(long = "secret", value_name = "id=ID,src=FILE")]
    pub secrets: Vec<String>,

    /// Run every step, ignoring the layer cache.
    #[arg(long)]
    pub no_cache: bool,

    /// Ignore the layer cache for these stages (repeatable).
    #[arg(long = "no-cache-filter", value_name = "STAGE")]
    pub no_cache_filter: Vec<String>,
    /// The project file whose named contexts FROM lines may use [default: plinth.toml in the
    /// build context or its nearest parent that has one].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub lock_mode: crate::rootfs::LockModeArgs,

    /// Build up to N images at the same time [default: the number of CPUs].
    #[arg(short = 'j', long, value_name = "N", help_heading = "Family builds")]
    pub jobs: Option<usize>,
    /// Also rebuild the descendants of the named images.
    #[arg(long, help_heading = "Family builds")]
    pub with_dependents: bool,
    /// Give a development build (outside CI, or a dirty work tree) its version tags
    /// anyway (never `latest`); the images record that this flag was used.
    #[arg(long, help_heading = "Family builds")]
    pub release_tags: bool,
    /// Write what was built (per image: digest, references, base, steps run) as JSON.
    #[arg(long, value_name = "FILE", help_heading = "Family builds")]
    pub metadata_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompressionArg {
    Gzip,
    Zstd,
    Uncompressed,
}

impl From<CompressionArg> for Compression {
    fn from(c: CompressionArg) -> Self {
        match c {
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::Zstd => Compression::Zstd,
            CompressionArg::Uncompressed => Compression::None,
        }
    }
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = render::ListFormat::Table)]
    pub format: render::ListFormat,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// References (name:tag), digests or digest prefixes.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Wait up to this many seconds for running builds to finish (gc never deletes the blobs of a
    /// running build) [default: fail at once when builds are running].
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub wait: u64,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Images to save (name:tag or digest).
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
    /// The archive to write (written to a temporary file and renamed when complete).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Archive format: `oci-archive` (a tar of an OCI layout) or `docker-archive` (for `docker load`).
    #[arg(long, value_enum, default_value_t = ArchiveFormat::OciArchive)]
    pub format: ArchiveFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ArchiveFormat {
    OciArchive,
    DockerArchive,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The archive (oci-archive or docker-archive; detected from its content).
    #[arg(value_name = "FILE")]
    pub input: PathBuf,
}

/// An error that is the user's input, already formatted (e.g. `Dockerfile:3:1: unknown instruction`);
/// exits with code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let store_path = match cli.store {
        Some(p) => p,
        None => default_store()?,
    };
    match cli.command {
        Command::Build(args) => build(&store_path, args),
        Command::Rootfs(args) => crate::rootfs::rootfs(&store_path, args),
        Command::Lock(args) => crate::rootfs::lock(&store_path, args),
        Command::Graph(args) => crate::family::graph(args),
        Command::Tags(args) => crate::family::tags(args),
        Command::Pin(args) => crate::pin::pin(&store_path, args),
        Command::Lint(args) => crate::lint::lint(args),
        Command::New(args) => crate::new::new(args),
        Command::Test(args) => crate::test_cmd::test(&store_path, args),
        Command::Pull(args) => crate::registry::pull(&store_path, args),
        Command::Push(args) => crate::registry::push(&store_path, args),
        Command::Copy(args) => crate::registry::copy(args),
        Command::Login(args) => crate::login::login(args),
        Command::Logout(args) => crate::login::logout(args),
        Command::Images(args) => {
            let store = open_store(&store_path)?;
            render::images(&store.list_images()?, args.format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rmi(args) => {
            let store = open_store(&store_path)?;
            let mut failed = false;
            for image in &args.images {
                match store.remove_image(image) {
                    Ok(removed) => {
                        for name in removed {
                            println!("Untagged: {name}");
                        }
                    }
                    Err(e) => {
                        eprintln!("error: {image}: {e}");
                        failed = true;
                    }
                }
            }
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Gc(args) => {
            let store = open_store(&store_path)?;
            let wait = match args.wait {
                0 => GcWait::NoWait,
                s => GcWait::Timeout(std::time::Duration::from_secs(s)),
            };
            let report = store.gc(wait)?;
            println!(
                "removed {} blobs ({}) and {} temporary files",
                report.removed_blobs.len(),
                render::human_size(report.freed_bytes),
                report.removed_temp_files
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Save(args) => save(&store_path, args),
        Command::Run(args) => run_container(&store_path, args),
        Command::Prune(args) => {
            let store = open_store(&store_path)?;
            let keep =
                parse_size(&args.keep).map_err(|e| UsageError(format!("error: --keep: {e}")))?;
            let report = plinth_build::cache::BuildCache::new(&store).prune(keep)?;
            println!(
                "removed {} cache entries ({}); {} entries ({}) remain",
                report.removed_entries,
                render::human_size(report.removed_bytes),
                report.remaining.entries,
                render::human_size(report.remaining.bytes)
            );
            match report.gc {
                plinth_build::cache::GcOutcome::Ran(gc) => println!(
                    "removed {} blobs ({}) and {} extracted layers",
                    gc.removed_blobs.len(),
                    render::human_size(gc.freed_bytes),
                    gc.removed_layer_dirs.len()
                ),
                plinth_build::cache::GcOutcome::Busy { sessions } => {
                    println!(
                        "blobs not collected: {sessions} builds are running (run `plinth gc` later)"
                    )
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Load(args) => {
            let store = open_store(&store_path)?;
            let loaded = plinth_oci::archive::load_archive_file(&store, &args.input)
                .with_context(|| format!("loading {}", args.input.display()))?;
            for image in loaded {
                match image.name {
                    Some(name) => println!("Loaded image: {name} ({})", image.descriptor.digest),
                    None => println!("Loaded image: {}", image.descriptor.digest),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn default_store() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(d).join("plinth").join("store"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => Ok(PathBuf::from(h).join(".local/share/plinth/store")),
        None => bail!("cannot find a default store: set --store or PLINTH_STORE"),
    }
}

/// Opens the store, creating it when the directory does not exist yet (or is empty).
pub(crate) fn open_store(path: &Path) -> Result<Store> {
    Store::init(path).with_context(|| format!("opening the store {}", path.display()))
}

/// What `plinth build`'s positional arguments name.
enum BuildMode {
    /// A build context directory.
    Context(PathBuf),
    /// Family images (none: all of them).
    Family(Vec<String>),
}

/// A CONTEXT directory builds one Dockerfile; otherwise (no argument, or names) the family of
/// the project file builds. A name that is both a family image and a directory is the image,
/// unless single-build flags (-t, -f, --target, --iidfile) say otherwise.
fn build_mode(args: &BuildArgs) -> Result<BuildMode> {
    let single_flags = !args.tags.is_empty()
        || args.file.is_some()
        || args.target.is_some()
        || args.iidfile.is_some();
    let family_flags = args.jobs.is_some()
        || args.with_dependents
        || args.release_tags
        || args.metadata_file.is_some();
    let mode = match args.targets.as_slice() {
        [one] if Path::new(one).is_dir() => {
            let is_image = !single_flags
                && crate::family::find_project(args.config.as_deref())
                    .ok()
                    .flatten()
                    .and_then(|p| p.family_images().ok())
                    .is_some_and(|images| images.iter().any(|i| i.name == *one));
            if is_image {
                BuildMode::Family(vec![one.clone()])
            } else {
                BuildMode::Context(PathBuf::from(one))
            }
        }
        [] if single_flags => {
            return Err(UsageError(
                "error: give the build CONTEXT directory (e.g. `plinth build -t app:1.0 .`)".into(),
            )
            .into());
        }
        names if single_flags => {
            return Err(UsageError(format!(
                "error: {} is not a directory: -t, -f, --target and --iidfile build one CONTEXT directory",
                names.first().map(String::as_str).unwrap_or_default()
            ))
            .into());
        }
        names => BuildMode::Family(names.to_vec()),
    };
    if let BuildMode::Context(_) = mode
        && family_flags
    {
        return Err(UsageError(
            "error: -j, --with-dependents, --release-tags and --metadata-file are for family builds (plinth build [NAME...] in a repository with plinth.toml [family])".into(),
        )
        .into());
    }
    Ok(mode)
}

/// `--build-arg` values: `K=V`, or `K` taken from the environment (ignored when unset, like
/// Docker).
pub(crate) fn parse_build_args(raw: &[String]) -> Vec<(String, String)> {
    let mut build_args = Vec::new();
    for a in raw {
        match a.split_once('=') {
            Some((k, v)) => build_args.push((k.to_string(), v.to_string())),
            None => {
                if let Ok(v) = std::env::var(a) {
                    build_args.push((a.clone(), v));
                }
            }
        }
    }
    build_args
}

/// The options every build of this invocation shares (no tags, Dockerfile or named contexts).
pub(crate) fn shared_options(
    args: &BuildArgs,
    context: &Path,
) -> Result<plinth_build::BuildOptions> {
    let source_date_epoch = match &args.source_date_epoch {
        Some(v) if !v.is_empty() => {
            Some(plinth_build::sde::parse(v).map_err(|e| UsageError(format!("error: {e}")))?)
        }
        _ => None,
    };
    let build_args = parse_build_args(&args.build_args);
    let mut secrets = Vec::new();
    for s in &args.secrets {
        secrets.push(parse_secret(s).map_err(|e| UsageError(format!("error: --secret {s}: {e}")))?);
    }
    let cache = if args.no_cache {
        plinth_build::CachePolicy::Ignore
    } else if !args.no_cache_filter.is_empty() {
        plinth_build::CachePolicy::IgnoreStages(args.no_cache_filter.clone())
    } else {
        plinth_build::CachePolicy::Use
    };
    Ok(plinth_build::BuildOptions {
        dockerfile: context.join("Dockerfile"),
        context: context.to_path_buf(),
        tags: Vec::new(),
        build_args,
        target: None,
        compression: args.compression.into(),
        source_date_epoch,
        network: args.network.into(),
        secrets,
        cache,
        cancel: Some(crate::interrupt_flag()),
        sandbox_helper: None,
        named_contexts: Default::default(),
        metadata: Default::default(),
        immutable_tags: Vec::new(),
        pull: crate::registry::build_pull(args.pull, &args.registry)?,
    })
}

/// Whether a build lints first (`--no-lint`).
pub(crate) fn lint_mode(args: &BuildArgs) -> crate::lint::BeforeBuild {
    if args.no_lint {
        crate::lint::BeforeBuild::Skip
    } else {
        crate::lint::BeforeBuild::Check
    }
}

fn build(store_path: &Path, args: BuildArgs) -> Result<ExitCode> {
    let context = match build_mode(&args)? {
        BuildMode::Context(dir) => dir,
        BuildMode::Family(names) => return crate::family::build(store_path, &args, &names),
    };
    let mut opts = shared_options(&args, &context)?;
    if let Some(f) = &args.file {
        opts.dockerfile = f.clone();
    }
    let project = crate::family::find_project(args.config.as_deref())
        .ok()
        .flatten();
    crate::lint::before_build(
        lint_mode(&args),
        project.as_ref(),
        &[(
            opts.dockerfile.display().to_string(),
            opts.dockerfile.clone(),
        )],
    )?;
    opts.tags = args.tags.clone();
    opts.target = args.target.clone();
    let store = open_store(store_path)?;
    let mut renderer = render::BuildRenderer::new(args.progress, std::io::stderr().is_terminal());
    // Named contexts are looked up only when the Dockerfile can be read; the build reports a
    // missing Dockerfile itself.
    if let Ok(text) = fs_err::read_to_string(&opts.dockerfile) {
        opts.named_contexts = crate::rootfs::named_contexts_for_build(
            &store,
            args.config.as_deref(),
            &context,
            &text,
            &opts.build_args,
            args.lock_mode.mode(),
            &mut |ev| renderer.event(&ev),
        )?;
    }
    let result = plinth_build::build(&store, &opts, &mut |ev| renderer.event(&ev));
    let result = match result {
        Ok(r) => r,
        Err(plinth_build::BuildError::Cancelled) => {
            eprintln!("interrupted: nothing was committed");
            return Ok(ExitCode::from(130));
        }
        Err(e) => return Err(build_error(e)),
    };
    renderer.finish(&result);
    enforce_cache_limit(&store)?;
    if let Some(f) = &args.iidfile {
        fs_err::write(f, result.manifest.digest.to_string())?;
    }
    println!("{}", result.manifest.digest);
    Ok(ExitCode::SUCCESS)
}

/// A build error for `main`: Dockerfile and tag errors are usage errors (exit 2).
pub(crate) fn build_error(e: plinth_build::BuildError) -> anyhow::Error {
    match e {
        plinth_build::BuildError::Dockerfile(diag) => UsageError(diag.to_string()).into(),
        e @ plinth_build::BuildError::Tag(_) => UsageError(format!("error: {e}")).into(),
        e => anyhow::Error::new(e),
    }
}

fn save(store_path: &Path, args: SaveArgs) -> Result<ExitCode> {
    let store = open_store(store_path)?;
    let refs: Vec<&str> = args.images.iter().map(String::as_str).collect();
    let dir = args
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    {
        let mut w = std::io::BufWriter::new(tmp.as_file_mut());
        match args.format {
            ArchiveFormat::OciArchive => {
                plinth_oci::archive::save_oci_archive(&store, &refs, &mut w)?
            }
            ArchiveFormat::DockerArchive => {
                plinth_oci::archive::save_docker_archive(&store, &refs, &mut w)?
            }
        };
        std::io::Write::flush(&mut w)?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(&args.output)
        .with_context(|| format!("writing {}", args.output.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// `id=ID,src=FILE` (also `source=`, and `type=file` accepted), as docker buildx takes it.
fn parse_secret(spec: &str) -> Result<plinth_build::SecretSource, String> {
    let (mut id, mut src) = (None, None);
    for field in spec.split(',') {
        match field.split_once('=') {
            Some(("id", v)) => id = Some(v.to_string()),
            Some(("src" | "source", v)) => src = Some(PathBuf::from(v)),
            Some(("type", "file")) => {}
            _ => return Err(format!("unknown field {field:?}; expected id=ID,src=FILE")),
        }
    }
    match (id, src) {
        (Some(id), Some(path)) if !id.is_empty() => {
            if !path.is_file() {
                return Err(format!("{} is not a file", path.display()));
            }
            Ok(plinth_build::SecretSource { id, path })
        }
        _ => Err("expected id=ID,src=FILE".into()),
    }
}

/// Keeps the layer cache under its limit (`PLINTH_CACHE_LIMIT`, default 10G) after a build.
pub(crate) fn enforce_cache_limit(store: &Store) -> Result<()> {
    let limit = match std::env::var("PLINTH_CACHE_LIMIT") {
        Ok(v) => {
            parse_size(&v).map_err(|e| UsageError(format!("error: PLINTH_CACHE_LIMIT: {e}")))?
        }
        Err(_) => plinth_build::cache::DEFAULT_CACHE_LIMIT,
    };
    let cache = plinth_build::cache::BuildCache::new(store);
    if cache.usage()?.bytes > limit {
        let report = cache.prune(limit)?;
        eprintln!(
            "layer cache over its limit ({}): removed {} entries ({})",
            render::human_size(limit),
            report.removed_entries,
            render::human_size(report.removed_bytes)
        );
    }
    Ok(())
}

/// `10G`, `500M`, `64k` or plain bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'k' | 'K')) => (&s[..i], 1u64 << 10),
        Some((i, 'm' | 'M')) => (&s[..i], 1 << 20),
        Some((i, 'g' | 'G')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .map(|n| n.saturating_mul(mult))
        .map_err(|_| format!("{s:?} is not a size like 10G, 500M or 1048576"))
}

fn run_container(store_path: &Path, args: RunArgs) -> Result<ExitCode> {
    let store = open_store(store_path)?;
    let opts = plinth_build::container::RunOptions {
        image: args.image.clone(),
        command: args.command.clone(),
        entrypoint: args.entrypoint.clone(),
        env: args.env.clone(),
        volumes: args.volumes.clone(),
        network: args.network.into(),
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        keep: if args.rm {
            plinth_build::container::Keep::Remove
        } else {
            plinth_build::container::Keep::Keep
        },
        sandbox_helper: None,
    };
    // Ctrl-C reaches the container through the terminal's process group; plinth itself stays
    // to report the exit code (a second signal ends it, and the container with it).
    let _ = crate::interrupt_flag();
    let exit = plinth_build::container::run(&store, &opts)?;
    if let Some(upper) = exit.upper {
        eprintln!(
            "the container's writable layer is kept at {}",
            upper.display()
        );
    }
    Ok(ExitCode::from(
        u8::try_from(exit.code.clamp(0, 255)).unwrap_or(1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("10G"), Ok(10 << 30));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5T").is_err());
    }

    #[test]
    fn secrets_parse() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let path = file.path().display().to_string();
        let s = parse_secret(&format!("id=tok,src={path}")).unwrap();
        assert_eq!((s.id.as_str(), s.path.as_path()), ("tok", file.path()));
        assert!(parse_secret(&format!("type=file,id=tok,source={path}")).is_ok());
        assert!(parse_secret("id=tok").is_err());
        assert!(parse_secret(&format!("id=tok,src={path},mode=0400")).is_err());
        assert!(parse_secret("id=tok,src=/nonexistent/file").is_err());
    }
}
