//! `plinth pull`, `plinth push` and `plinth copy`: images between the store and registries.
//! The work is plinth-registry's; this module parses the arguments, builds the client settings
//! (TLS, insecure hosts, credentials) and prints the digest on stdout and progress on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use plinth_oci::Platform;
use plinth_registry::{
    Client, ClientConfig, Credentials, PushOptions, RemoteRef, pull_to_store, push_from_store,
};

use crate::cli::{UsageError, open_store};

/// How to reach registries over the network: insecure hosts and TLS files.
#[derive(Debug, Clone, Args)]
pub struct TlsOpts {
    /// A registry (HOST or HOST:PORT) that may be reached over plain HTTP or whose TLS certificate
    /// is not verified (repeatable). Loopback registries may always use plain HTTP.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// Per-registry TLS files, as Docker reads them: DIR/HOST[:PORT]/*.crt are extra CA
    /// certificates, *.cert with *.key a client certificate.
    #[arg(long, value_name = "DIR", default_value = "/etc/docker/certs.d")]
    pub cert_dir: PathBuf,
}

/// How to reach registries: TLS, insecure hosts, credentials.
#[derive(Debug, Clone, Args)]
pub struct RegistryOpts {
    #[command(flatten)]
    pub tls: TlsOpts,
    /// USER:PASSWORD for the registries of this command, instead of Docker's config.json
    /// ($DOCKER_CONFIG/config.json or ~/.docker/config.json, with its credential helpers).
    /// Prefer the environment variable: a command line is visible to other users.
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        env = "PLINTH_REGISTRY_CREDS",
        hide_env_values = true
    )]
    pub creds: Option<String>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The image: [REGISTRY/]NAME[:TAG][@DIGEST] (Docker Hub when no registry is given).
    #[arg(value_name = "REF")]
    pub reference: String,
    /// The platform taken from a multi-platform image: OS/ARCH[/VARIANT].
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", default_value = "linux/amd64")]
    pub platform: String,
    #[command(flatten)]
    pub registry: RegistryOpts,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// In a family repository: the family images to push (default: all; their family parents
    /// are pushed too). Otherwise SRC DEST: a store image (name:tag, digest or digest prefix)
    /// and where to (REGISTRY/NAME[:TAG], `latest` when no tag is given).
    #[arg(value_name = "NAME... | SRC DEST")]
    pub targets: Vec<String>,
    /// The project file [default: plinth.toml in the current directory or the nearest parent].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// SRC DEST only: fail, before uploading anything, if the registry has DEST's tag at another
    /// digest (for release tags that must never move).
    #[arg(long)]
    pub immutable: bool,
    /// Upload up to N blobs at the same time.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,
    /// In a family repository: push release tags (versions, latest) even for images whose
    /// `plinth test` failed or never ran (by default they are refused and nothing is pushed).
    #[arg(long)]
    pub untested: bool,
    #[command(flatten)]
    pub registry: RegistryOpts,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The image to copy: REGISTRY/NAME[:TAG][@DIGEST].
    #[arg(value_name = "SRC")]
    pub source: String,
    /// Where to: REGISTRY/NAME[:TAG] (`latest` when no tag is given).
    #[arg(value_name = "DST")]
    pub dest: String,
    /// Copy up to N blobs at the same time.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,
    #[command(flatten)]
    pub registry: RegistryOpts,
}

fn remote(what: &str, reference: &str) -> Result<RemoteRef> {
    RemoteRef::parse(reference).map_err(|e| UsageError(format!("error: {what}: {e}")).into())
}

pub(crate) fn client(opts: &RegistryOpts) -> Result<Client> {
    let credentials = match &opts.creds {
        None => Credentials::DockerConfig { path: None },
        Some(c) => match c.split_once(':') {
            Some((user, pass)) if !user.is_empty() => Credentials::Static {
                username: user.to_string(),
                password: pass.to_string(),
            },
            // The value may hold a password: it is never repeated.
            _ => {
                return Err(UsageError(
                    "error: --creds must be USER:PASSWORD (with a non-empty user)".to_string(),
                )
                .into());
            }
        },
    };
    let config = ClientConfig {
        certs_dir: Some(opts.tls.cert_dir.clone()),
        insecure_hosts: opts.tls.insecure_registries.clone(),
        credentials,
        ..ClientConfig::default()
    };
    Client::new(config).context("setting up the registry client")
}

fn parse_platform(s: &str) -> Result<Platform> {
    let parts: Vec<&str> = s.split('/').collect();
    let (os, arch, variant) = match parts[..] {
        [os, arch] => (os, arch, None),
        [os, arch, variant] if !variant.is_empty() => (os, arch, Some(variant.to_string())),
        _ => ("", "", None),
    };
    if os.is_empty() || arch.is_empty() {
        return Err(UsageError(format!(
            "error: --platform {s:?}: expected OS/ARCH or OS/ARCH/VARIANT, e.g. linux/arm64/v8"
        ))
        .into());
    }
    Ok(Platform {
        architecture: arch.to_string(),
        os: os.to_string(),
        variant,
        os_version: None,
    })
}

/// `plinth pull REF`.
pub fn pull(store_path: &Path, args: PullArgs) -> Result<ExitCode> {
    let remote = remote("REF", &args.reference)?;
    let platform = parse_platform(&args.platform)?;
    let client = client(&args.registry)?;
    let store = open_store(store_path)?;
    eprintln!("pulling {}:{}", remote.repo, remote.reference);
    let report = pull_to_store(&client, &store, &remote, &platform)
        .with_context(|| format!("pulling {}", args.reference))?;
    eprintln!(
        "{}: {} blobs downloaded, {} already present",
        report
            .name
            .as_deref()
            .unwrap_or(&report.manifest.digest.to_string()),
        report.blobs_fetched,
        report.blobs_present
    );
    println!("{}", report.digest);
    Ok(ExitCode::SUCCESS)
}

/// `plinth push [NAME...]` (a family) or `plinth push SRC DEST` (one store image): family mode
/// when a family project is found and every argument names one of its images.
pub fn push(store_path: &Path, args: PushArgs) -> Result<ExitCode> {
    if args.jobs == 0 {
        return Err(UsageError("error: --jobs must be at least 1".to_string()).into());
    }
    let project = crate::family::find_project(args.config.as_deref())?;
    let family_names: Option<Vec<String>> = match &project {
        Some(p) if p.file.family.is_some() => Some(
            p.family_images()
                .map_err(|e| UsageError(format!("error: {e}")))?
                .into_iter()
                .map(|i| i.name)
                .collect(),
        ),
        _ => None,
    };
    if let (Some(project), Some(names)) = (project, &family_names)
        && (args.targets.is_empty() || args.targets.iter().all(|t| names.contains(t)))
    {
        return crate::family::push(store_path, project, &args);
    }
    let [source, dest] = &args.targets[..] else {
        return Err(UsageError(match family_names {
            Some(names) => format!(
                "error: expected family images (of {}) or SRC DEST, got {:?}",
                names.join(", "),
                args.targets
            ),
            None => "error: expected SRC DEST (a store image and where to push it); family images are pushed by name in a repository with plinth.toml's [family]".to_string(),
        })
        .into());
    };
    let dest_ref = remote("DEST", dest)?;
    let store = open_store(store_path)?;
    let local = store
        .resolve(source)
        .with_context(|| format!("finding {source} in the store"))?
        .descriptor;
    let client = client(&args.registry)?;
    let immutable_tags =
        if args.immutable && dest_ref.reference.parse::<plinth_oci::Digest>().is_err() {
            vec![dest_ref.reference.clone()]
        } else {
            Vec::new()
        };
    eprintln!(
        "pushing {source} ({}) to {}:{}",
        local.digest, dest_ref.repo, dest_ref.reference
    );
    let report = push_from_store(
        &client,
        &store,
        &local,
        &dest_ref,
        &PushOptions {
            immutable_tags,
            jobs: args.jobs,
            ..PushOptions::default()
        },
    )
    .with_context(|| format!("pushing {source} to {dest}"))?;
    eprintln!(
        "{} blobs uploaded, {} already there, {} manifests",
        report.blobs_uploaded + report.blobs_mounted,
        report.blobs_existed,
        report.manifests
    );
    println!("{}", report.digest);
    Ok(ExitCode::SUCCESS)
}

/// `plinth copy SRC DST`.
pub fn copy(args: CopyArgs) -> Result<ExitCode> {
    let from = remote("SRC", &args.source)?;
    let to = remote("DST", &args.dest)?;
    if args.jobs == 0 {
        return Err(UsageError("error: --jobs must be at least 1".to_string()).into());
    }
    let client = client(&args.registry)?;
    eprintln!(
        "copying {}:{} to {}:{}",
        from.repo, from.reference, to.repo, to.reference
    );
    let report = client
        .copy_image(
            &from.repo,
            &from.reference,
            &to.repo,
            &to.reference,
            args.jobs,
        )
        .with_context(|| format!("copying {} to {}", args.source, args.dest))?;
    eprintln!(
        "{} blobs copied, {} mounted, {} already there, {} manifests",
        report.blobs_uploaded, report.blobs_mounted, report.blobs_existed, report.manifests
    );
    println!("{}", report.digest);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::parse_platform;

    #[test]
    fn platforms() {
        let p = parse_platform("linux/arm64/v8").unwrap();
        assert_eq!(
            (p.os.as_str(), p.architecture.as_str(), p.variant.as_deref()),
            ("linux", "arm64", Some("v8"))
        );
        let p = parse_platform("linux/amd64").unwrap();
        assert_eq!((p.os.as_str(), p.variant), ("linux", None));
        for bad in ["linux", "linux/", "/amd64", "linux/arm64/", "a/b/c/d"] {
            assert!(parse_platform(bad).is_err(), "{bad}");
        }
    }
}

/// `plinth build --pull`: when a build pulls the images its FROMs and `COPY --from`s name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PullPolicy {
    /// Pull images the store does not have.
    Missing,
    /// Pull every image named by tag, so the registry's current one is used.
    Always,
    /// Never pull: an image the store does not have is an error (offline builds).
    Never,
}

/// A build's [`plinth_build::ImageFetcher`]: pulls with plinth-registry for the host platform.
struct BuildFetcher {
    /// Made on the first pull (most builds pull nothing).
    client: std::sync::OnceLock<Client>,
    opts: RegistryOpts,
    policy: PullPolicy,
}

impl plinth_build::ImageFetcher for BuildFetcher {
    fn fetch(
        &self,
        store: &plinth_oci::store::Store,
        reference: &str,
    ) -> Result<plinth_oci::Descriptor, Box<dyn std::error::Error + Send + Sync>> {
        let remote = RemoteRef::parse(reference)?;
        let (os, arch) = plinth_build::host_platform();
        let platform = Platform {
            architecture: arch.to_string(),
            os: os.to_string(),
            variant: None,
            os_version: None,
        };
        // What an earlier pull stored: by digest (an index's platform manifest included), or,
        // unless every tag is to be pulled again, under the full name (`debian:bookworm` is
        // stored as docker.io/library/debian:bookworm).
        if let Ok(digest) = remote.reference.parse::<plinth_oci::Digest>() {
            if let Some(d) = plinth_registry::stored_image(store, &digest, &platform)? {
                return Ok(d);
            }
        } else if self.policy == PullPolicy::Missing {
            let full = format!(
                "{}/{}:{}",
                remote.repo.registry, remote.repo.repository, remote.reference
            );
            if let Ok(r) = store.resolve(&full) {
                return Ok(r.descriptor);
            }
        }
        let client = match self.client.get() {
            Some(c) => c,
            None => {
                let made = client(&self.opts).map_err(|e| format!("{e:#}"))?;
                self.client.get_or_init(|| made)
            }
        };
        let report = pull_to_store(client, store, &remote, &platform)?;
        Ok(report.manifest)
    }
}

/// [`plinth_build::BuildOptions::pull`] for `--pull` and the registry flags of a build.
pub(crate) fn build_pull(policy: PullPolicy, opts: &RegistryOpts) -> Result<plinth_build::Pull> {
    if policy == PullPolicy::Never {
        return Ok(plinth_build::Pull::Never);
    }
    let fetcher = std::sync::Arc::new(BuildFetcher {
        client: std::sync::OnceLock::new(),
        opts: opts.clone(),
        policy,
    });
    Ok(match policy {
        PullPolicy::Always => plinth_build::Pull::Always(fetcher),
        _ => plinth_build::Pull::Missing(fetcher),
    })
}
