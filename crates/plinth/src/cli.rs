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
    /// Build a Dockerfile into the store.
    ///
    /// Example: plinth build -t app:1.0 --build-arg VERSION=1.0 .
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
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The build context: the directory COPY and ADD read from.
    #[arg(value_name = "CONTEXT")]
    pub context: PathBuf,

    /// The Dockerfile [default: CONTEXT/Dockerfile].
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Name and tag of the image (repeatable), e.g. -t app:1.0 -t registry.example.com/team/app:1.0.
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,

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
fn open_store(path: &Path) -> Result<Store> {
    Store::init(path).with_context(|| format!("opening the store {}", path.display()))
}

fn build(store_path: &Path, args: BuildArgs) -> Result<ExitCode> {
    let source_date_epoch = match &args.source_date_epoch {
        Some(v) if !v.is_empty() => {
            Some(plinth_build::sde::parse(v).map_err(|e| UsageError(format!("error: {e}")))?)
        }
        _ => None,
    };
    let mut build_args = Vec::new();
    for a in &args.build_args {
        match a.split_once('=') {
            Some((k, v)) => build_args.push((k.to_string(), v.to_string())),
            // Docker: `--build-arg K` takes K from the environment, and is ignored when unset.
            None => {
                if let Ok(v) = std::env::var(a) {
                    build_args.push((a.clone(), v));
                }
            }
        }
    }
    let dockerfile = args
        .file
        .clone()
        .unwrap_or_else(|| args.context.join("Dockerfile"));
    let opts = plinth_build::BuildOptions {
        dockerfile,
        context: args.context.clone(),
        tags: args.tags.clone(),
        build_args,
        target: args.target.clone(),
        compression: args.compression.into(),
        source_date_epoch,
    };
    let store = open_store(store_path)?;
    let mut renderer = render::BuildRenderer::new(args.progress, std::io::stderr().is_terminal());
    let result = plinth_build::build(&store, &opts, &mut |ev| renderer.event(&ev));
    let result = match result {
        Ok(r) => r,
        Err(plinth_build::BuildError::Dockerfile(diag)) => {
            return Err(UsageError(diag.to_string()).into());
        }
        Err(e @ plinth_build::BuildError::Tag(_)) => {
            return Err(UsageError(format!("error: {e}")).into());
        }
        Err(e) => return Err(anyhow::Error::new(e)),
    };
    renderer.finish(&result);
    if let Some(f) = &args.iidfile {
        fs_err::write(f, result.manifest.digest.to_string())?;
    }
    println!("{}", result.manifest.digest);
    Ok(ExitCode::SUCCESS)
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
