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

/// How to reach registries: TLS, insecure hosts, credentials.
#[derive(Debug, Args)]
pub struct RegistryOpts {
    /// A registry (HOST or HOST:PORT) that may be reached over plain HTTP or whose TLS certificate
    /// is not verified (repeatable). Loopback registries may always use plain HTTP.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// Per-registry TLS files, as Docker reads them: DIR/HOST[:PORT]/*.crt are extra CA
    /// certificates, *.cert with *.key a client certificate.
    #[arg(long, value_name = "DIR", default_value = "/etc/docker/certs.d")]
    pub cert_dir: PathBuf,
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
    /// The store image to push (name:tag, digest or digest prefix).
    #[arg(value_name = "SRC")]
    pub source: String,
    /// Where to: REGISTRY/NAME[:TAG] (`latest` when no tag is given).
    #[arg(value_name = "DEST")]
    pub dest: String,
    /// Fail, before uploading anything, if the registry has DEST's tag at another digest
    /// (for release tags that must never move).
    #[arg(long)]
    pub immutable: bool,
    /// Upload up to N blobs at the same time.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 4)]
    pub jobs: usize,
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
    #[command(flatten)]
    pub registry: RegistryOpts,
}

fn remote(what: &str, reference: &str) -> Result<RemoteRef> {
    RemoteRef::parse(reference).map_err(|e| UsageError(format!("error: {what}: {e}")).into())
}

fn client(opts: &RegistryOpts) -> Result<Client> {
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
        certs_dir: Some(opts.cert_dir.clone()),
        insecure_hosts: opts.insecure_registries.clone(),
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

/// `plinth push SRC DEST`.
pub fn push(store_path: &Path, args: PushArgs) -> Result<ExitCode> {
    let dest = remote("DEST", &args.dest)?;
    if args.jobs == 0 {
        return Err(UsageError("error: --jobs must be at least 1".to_string()).into());
    }
    let store = open_store(store_path)?;
    let local = store
        .resolve(&args.source)
        .with_context(|| format!("finding {} in the store", args.source))?
        .descriptor;
    let client = client(&args.registry)?;
    let immutable_tags = if args.immutable && dest.reference.parse::<plinth_oci::Digest>().is_err()
    {
        vec![dest.reference.clone()]
    } else {
        Vec::new()
    };
    eprintln!(
        "pushing {} ({}) to {}:{}",
        args.source, local.digest, dest.repo, dest.reference
    );
    let report = push_from_store(
        &client,
        &store,
        &local,
        &dest,
        &PushOptions {
            immutable_tags,
            jobs: args.jobs,
        },
    )
    .with_context(|| format!("pushing {} to {}", args.source, args.dest))?;
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
    let client = client(&args.registry)?;
    eprintln!(
        "copying {}:{} to {}:{}",
        from.repo, from.reference, to.repo, to.reference
    );
    let report = client
        .copy_image(&from.repo, &from.reference, &to.repo, &to.reference)
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
