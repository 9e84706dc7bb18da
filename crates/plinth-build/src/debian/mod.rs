//! Debian root filesystems, natively: what debootstrap/mmdebstrap do for a family's root image,
//! without either of them.
//!
//! - [`sources`]: the host's apt sources and the default suites of a root filesystem;
//! - [`fetch`]: verified downloads from a mirror;
//! - [`archive`]: InRelease (signature) and Packages (checksum) indexes, cached by hash;
//! - [`lock`]: the lock file, plinth.lock;
//! - [`debs`]: the .deb cache and parallel downloads;
//! - [`install`]: unpacking and dpkg in the sandbox.
//!
//! [`lock_rootfs`] resolves a [`RootfsSpec`] against the mirror into a [`LockedRootfs`];
//! [`build_rootfs`] turns a locked set into a one-layer image in the store (cached by the
//! lock's content, so the same lock gives the same digest without installing again).

pub mod archive;
pub mod debs;
pub mod fetch;
pub mod install;
pub mod lock;
pub mod sources;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use plinth_debian::resolve::{Request, Universe, Variant, resolve};
use plinth_debian::signature::Keyring;
use plinth_oci::layer::{self, Compression, LayerOptions};
use plinth_oci::store::{Store, StoreError};
use plinth_oci::types::{
    ContainerConfig, Descriptor, History, ImageConfig, Manifest, RootFs, media,
};
use plinth_oci::{Digest, json};
use plinth_sandbox::Sandbox;
use sha2::{Digest as _, Sha256};

use crate::cache::{BuildCache, CacheEntry, CachedLayer, cache_key};
use crate::engine::BuildEvent;
pub use lock::{LockFile, LockedPackage, LockedRelease, LockedRootfs};
pub use sources::SuiteSource;

/// The archive keyring plinth uses when the context names none (Debian's
/// debian-archive-keyring 2023.3+deb12u2: bullseye, bookworm and trixie keys).
pub const DEFAULT_KEYRING: &[u8] = include_bytes!("../../keys/debian-archive-keyring.gpg");

/// Errors of root filesystem builds.
#[derive(Debug, thiserror::Error)]
pub enum DebianError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    IoPlain(#[from] std::io::Error),
    #[error("downloading {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("downloading {url}: not found (404)")]
    NotFound { url: String },
    #[error("{url}: checksum mismatch: expected {expected}, got {actual}; the download is refused")]
    Checksum {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("{url}: {message}")]
    Signature { url: String, message: String },
    #[error("{url}: {message}")]
    Index { url: String, message: String },
    #[error("keyring {path}: {message}")]
    Keyring { path: String, message: String },
    #[error(transparent)]
    Resolve(#[from] plinth_debian::resolve::ResolveError),
    #[error("{}: {message}", path.display())]
    Deb { path: PathBuf, message: String },
    #[error("{phase} failed ({status}){}", crate::run::format_last_lines(.last_lines))]
    Install {
        phase: String,
        status: String,
        last_lines: Vec<String>,
    },
    #[error("lock file {}: {message}", path.display())]
    LockFile { path: PathBuf, message: String },
    #[error(
        "context {context:?}: resolving again gives a different result than plinth.lock (--locked):\n  {}\nrun `plinth lock --update` to accept it",
        differences.join("\n  ")
    )]
    Locked {
        context: String,
        differences: Vec<String>,
    },
    #[error(transparent)]
    Sandbox(#[from] plinth_sandbox::SandboxError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Layer(#[from] plinth_oci::layer::LayerError),
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Internal(String),
}

/// Progress of a root filesystem build, for the CLI to render.
#[derive(Debug, Clone)]
pub enum RootfsEvent {
    /// A Release file was fetched and its signature verified.
    Release {
        uri: String,
        suite: String,
        date: String,
        /// Fingerprint of the key whose signature verified.
        signer: String,
    },
    /// Resolution finished.
    Resolved { packages: usize, bytes: u64 },
    /// Download progress (`done` of `total` missing files).
    Download {
        done: usize,
        total: usize,
        bytes: u64,
        total_bytes: u64,
    },
    /// A phase of the installation started.
    Phase(&'static str),
    /// Output of dpkg and the maintainer scripts.
    Output(Vec<u8>),
    /// The layer came from the cache.
    Cached,
    /// The layer was written.
    Layer { digest: Digest, size: u64 },
}

impl RootfsEvent {
    /// The event as a build event of context `name` (download progress only at its end).
    pub fn into_build_event(self, name: &str) -> Option<BuildEvent> {
        use RootfsEvent as R;
        let message = match self {
            R::Output(bytes) => {
                return Some(BuildEvent::Output {
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                });
            }
            R::Layer { digest, size } => return Some(BuildEvent::Layer { digest, size }),
            R::Release {
                uri,
                suite,
                date,
                signer,
            } => format!("{uri} {suite} ({date}): signed by {signer}"),
            R::Resolved { packages, bytes } => format!("{packages} packages ({bytes} bytes)"),
            R::Download { done, total, .. } if done == total && total > 0 => {
                format!("downloaded {total} packages")
            }
            R::Download { .. } => return None,
            R::Phase(p) => p.to_string(),
            R::Cached => "root filesystem from the cache".to_string(),
        };
        Some(BuildEvent::Context {
            name: name.to_string(),
            message,
        })
    }
}

/// What a root filesystem is made of (a plinth.toml context, or `plinth rootfs` flags).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RootfsSpec {
    /// The context's name (the lock entry's key).
    pub name: String,
    pub suite: String,
    pub variant: Variant,
    pub components: Vec<String>,
    pub architecture: String,
    /// Mirrors and suites (default: from the host's apt sources, see [`sources::default_suites`]).
    pub sources: Vec<SuiteSource>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// An OpenPGP keyring file; `None`: [`DEFAULT_KEYRING`].
    #[serde(skip)]
    pub keyring: Option<PathBuf>,
}

impl RootfsSpec {
    /// The digest of everything that decides the resolution (recorded in the lock: a lock entry
    /// with another digest is stale).
    pub fn settings_digest(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("sha256:{}", hex::encode(Sha256::digest(&json)))
    }

    /// Loads the keyring the spec names, or the default one.
    pub fn keyring(&self) -> Result<Keyring, DebianError> {
        match &self.keyring {
            None => Keyring::from_bytes(DEFAULT_KEYRING).map_err(|e| DebianError::Keyring {
                path: "(built in)".into(),
                message: e.to_string(),
            }),
            Some(p) => {
                let data = fs_err::read(p)?;
                Keyring::from_bytes(&data).map_err(|e| DebianError::Keyring {
                    path: p.display().to_string(),
                    message: e.to_string(),
                })
            }
        }
    }
}

/// The dpkg architecture of the host (`amd64`, `arm64`, ...).
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// The store's Debian cache directory (`.plinth/debian`).
pub fn cache_dir(store: &Store) -> PathBuf {
    store.path().join(".plinth/debian")
}

/// Resolves `spec` against the mirror's current indexes.
pub fn lock_rootfs(
    store: &Store,
    spec: &RootfsSpec,
    now_unix: i64,
    on_event: &mut dyn FnMut(RootfsEvent),
) -> Result<LockedRootfs, DebianError> {
    let keyring = spec.keyring()?;
    let fetcher = fetch::Fetcher::new();
    let indexes = archive::fetch_indexes(
        &fetcher,
        &archive::IndexRequest {
            sources: &spec.sources,
            components: &spec.components,
            arch: &spec.architecture,
            keyring: &keyring,
            now_unix,
            cache_dir: &cache_dir(store).join("indexes"),
        },
        on_event,
    )?;
    let universe = Universe::new(indexes.packages, &spec.architecture);
    let resolution = resolve(
        &universe,
        &Request {
            variant: spec.variant,
            include: spec.include.clone(),
            exclude: spec.exclude.clone(),
        },
    )?;
    let mut packages: Vec<LockedPackage> = resolution
        .packages
        .iter()
        .map(|&i| {
            let p = universe.package(i);
            LockedPackage {
                name: p.name.clone(),
                version: p.version.to_string(),
                architecture: p.architecture.clone(),
                sha256: p.sha256.clone(),
                size: p.size,
                filename: p.filename.clone(),
                release: p.origin,
                auto: matches!(
                    resolution.reasons.get(&i),
                    Some(plinth_debian::resolve::Reason::Dependency { .. })
                ),
            }
        })
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    on_event(RootfsEvent::Resolved {
        packages: packages.len(),
        bytes: packages.iter().map(|p| p.size).sum(),
    });
    Ok(LockedRootfs {
        context: spec.name.clone(),
        settings: spec.settings_digest(),
        suite: spec.suite.clone(),
        variant: spec.variant.to_string(),
        architecture: spec.architecture.clone(),
        releases: indexes
            .releases
            .iter()
            .map(|r| LockedRelease {
                uri: crate::credentials::strip_credentials(&r.source.uri),
                suite: r.source.suite.clone(),
                date: r.date.clone(),
            })
            .collect(),
        packages,
    })
}

/// How a lock file is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// Use the lock entry when it matches the spec; resolve (and record) otherwise.
    Use,
    /// `--locked`: resolve again and fail when the result differs from the lock.
    Locked,
    /// `--update`: resolve again and replace the entry.
    Update,
}

/// Finds or makes the lock entry of `spec` in `lock`. Returns the entry and whether `lock`
/// changed (and should be written).
pub fn locked_entry(
    store: &Store,
    spec: &RootfsSpec,
    lock: &mut LockFile,
    mode: LockMode,
    now_unix: i64,
    on_event: &mut dyn FnMut(RootfsEvent),
) -> Result<(LockedRootfs, bool), DebianError> {
    let current = lock
        .get(&spec.name)
        .filter(|e| e.settings == spec.settings_digest())
        .cloned();
    match (mode, current) {
        (LockMode::Use, Some(e)) => Ok((e, false)),
        (LockMode::Locked, current) => {
            let fresh = lock_rootfs(store, spec, now_unix, on_event)?;
            match current {
                Some(e) => {
                    let differences = e.differences(&fresh);
                    if differences.is_empty() {
                        Ok((e, false))
                    } else {
                        Err(DebianError::Locked {
                            context: spec.name.clone(),
                            differences,
                        })
                    }
                }
                None => Err(DebianError::Locked {
                    context: spec.name.clone(),
                    differences: vec![match lock.get(&spec.name) {
                        Some(_) => {
                            "the context's settings changed since the lock was written".into()
                        }
                        None => "the lock has no entry for it".into(),
                    }],
                }),
            }
        }
        (LockMode::Use | LockMode::Update, _) => {
            let fresh = lock_rootfs(store, spec, now_unix, on_event)?;
            lock.put(fresh.clone());
            Ok((fresh, true))
        }
    }
}

/// How [`build_rootfs`] runs.
#[derive(Debug, Clone)]
pub struct RootfsOptions {
    pub compression: Compression,
    /// The context's sources as configured: credentials in their URIs (never written to the
    /// lock or the image) are used for downloads from the lock's mirrors.
    pub sources: Vec<SuiteSource>,
    pub components: Vec<String>,
    /// Look the layer up in the build cache (it is recorded either way).
    pub use_cache: bool,
    pub cancel: Option<Arc<AtomicBool>>,
    /// The sandbox helper executable (`None`: this process's executable).
    pub sandbox_helper: Option<PathBuf>,
}

/// A root filesystem image in the store.
#[derive(Debug, Clone)]
pub struct RootfsImage {
    pub manifest: Descriptor,
    pub config: Digest,
    pub layer: Descriptor,
    pub epoch: i64,
    pub cached: bool,
    pub packages: usize,
}

/// Builds (or finds in the cache) the image of `locked`, writes it to the store (untagged; the
/// caller tags it) and returns it.
pub fn build_rootfs(
    store: &Store,
    locked: &LockedRootfs,
    opts: &RootfsOptions,
    on_event: &mut dyn FnMut(RootfsEvent),
) -> Result<RootfsImage, DebianError> {
    let _session = store.session()?;
    let epoch = locked.epoch()?;
    let sources = locked.sources();
    let sources_list = install::sources_list(&sources, &opts.components);
    let mut parts: Vec<Vec<u8>> = vec![
        b"debian rootfs v1".to_vec(),
        locked.architecture.as_bytes().to_vec(),
        sources_list.as_bytes().to_vec(),
        epoch.to_string().into_bytes(),
        format!("{:?}", opts.compression).into_bytes(),
    ];
    for p in &locked.packages {
        parts
            .push(format!("{} {} {} {}", p.name, p.version, p.architecture, p.sha256).into_bytes());
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let key = cache_key(&refs);
    let cache = BuildCache::new(store);
    let created_by = format!(
        "plinth rootfs: debian {} {} {} ({} packages)",
        locked.suite,
        locked.variant,
        locked.architecture,
        locked.packages.len()
    );
    if opts.use_cache
        && let Some(CacheEntry { layer: Some(l), .. }) = cache.get(&key)?
    {
        on_event(RootfsEvent::Cached);
        return write_image(store, locked, epoch, l, &created_by, true);
    }
    let fetcher = fetch::Fetcher::new();
    let mut with_creds = locked.clone();
    for r in &mut with_creds.releases {
        r.uri = sources::with_credentials(&r.uri, &opts.sources);
    }
    let debs = debs::ensure_debs(
        &fetcher,
        &with_creds,
        &cache_dir(store).join("debs"),
        opts.cancel.as_ref(),
        on_event,
    )?;
    let sandbox = match &opts.sandbox_helper {
        Some(p) => Sandbox::new(p.clone()),
        None => Sandbox::current_exe(),
    };
    let need = locked.packages.iter().map(|p| p.size).sum::<u64>();
    let tmp_root = scratch_root(store, need);
    let installed = install::install(
        &install::InstallInput {
            debs: &debs,
            auto: &locked.packages.iter().map(|p| p.auto).collect::<Vec<_>>(),
            sources: &sources,
            components: &opts.components,
            architecture: &locked.architecture,
            epoch,
            sandbox: &sandbox,
            tmp_root: &tmp_root,
            cancel: opts.cancel.clone(),
        },
        on_event,
    )?;
    on_event(RootfsEvent::Phase("writing the layer"));
    let entries = layer::entries_from_dir(&installed.root(), "")?;
    let writer = store.blob_writer()?;
    let (written, writer) = layer::write_layer(
        entries,
        &LayerOptions {
            compression: opts.compression,
            source_date_epoch: epoch,
        },
        writer,
    )?;
    let (digest, size) = writer.commit_expect(&written.digest)?;
    drop(installed);
    on_event(RootfsEvent::Layer {
        digest: digest.clone(),
        size,
    });
    let l = CachedLayer {
        descriptor: Descriptor::new(written.media_type, digest, size),
        diff_id: written.diff_id,
    };
    cache.put(
        &key,
        &CacheEntry {
            layer: Some(l.clone()),
            created_by: created_by.clone(),
            extra: serde_json::Value::Null,
        },
    )?;
    write_image(store, locked, epoch, l, &created_by, false)
}

fn write_image(
    store: &Store,
    locked: &LockedRootfs,
    epoch: i64,
    l: CachedLayer,
    created_by: &str,
    cached: bool,
) -> Result<RootfsImage, DebianError> {
    let created = crate::sde::rfc3339(epoch);
    let config = ImageConfig {
        created: Some(created.clone()),
        author: None,
        architecture: locked.architecture.clone(),
        os: "linux".into(),
        variant: None,
        config: ContainerConfig {
            env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            cmd: Some(vec!["bash".into()]),
            ..Default::default()
        },
        rootfs: RootFs {
            typ: "layers".into(),
            diff_ids: vec![l.diff_id.clone()],
        },
        history: vec![History {
            created: Some(created),
            created_by: Some(created_by.to_string()),
            ..Default::default()
        }],
        extra: BTreeMap::new(),
    };
    let config_bytes =
        json::to_canonical_vec(&config).map_err(|e| DebianError::Internal(e.to_string()))?;
    let config_desc = store.write_blob(media::OCI_CONFIG, &config_bytes)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: config_desc.clone(),
        layers: vec![l.descriptor.clone()],
        subject: None,
        annotations: BTreeMap::new(),
    };
    let manifest_bytes =
        json::to_canonical_vec(&manifest).map_err(|e| DebianError::Internal(e.to_string()))?;
    let manifest_desc = store.write_blob(media::OCI_MANIFEST, &manifest_bytes)?;
    Ok(RootfsImage {
        manifest: manifest_desc,
        config: config_desc.digest,
        layer: l.descriptor,
        epoch,
        cached,
        packages: locked.packages.len(),
    })
}

/// Where the root filesystem is assembled: `$PLINTH_ROOTFS_TMPDIR` when set; else
/// `/dev/shm/plinth` when /dev/shm is a tmpfs with room for the tree (dpkg and the unpacking
/// write ~170 MB in thousands of small files, which tmpfs takes twice as fast as a disk; nothing
/// there has to survive a crash since the result is committed as a layer); else the store's
/// `.plinth/tmp`. Leftovers of killed runs (their pid is in the name) are removed first.
fn scratch_root(store: &Store, download_bytes: u64) -> PathBuf {
    if let Some(dir) = std::env::var_os("PLINTH_ROOTFS_TMPDIR").filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let fallback = store.path().join(".plinth/tmp");
    let shm = Path::new("/dev/shm");
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let Ok(st) = rustix::fs::statfs(shm) else {
        return fallback;
    };
    #[allow(clippy::unnecessary_cast)]
    let is_tmpfs = st.f_type as i64 == TMPFS_MAGIC;
    #[allow(clippy::unnecessary_cast)]
    let free = (st.f_bavail as u64).saturating_mul(st.f_bsize as u64);
    // .debs unpack to about five times their size; keep a margin for everything else.
    let need = download_bytes.saturating_mul(6).saturating_add(1 << 30);
    if !is_tmpfs || free < need {
        return fallback;
    }
    let dir = shm.join("plinth");
    if fs_err::create_dir_all(&dir).is_err() {
        return fallback;
    }
    remove_dead_scratch(&dir);
    dir
}

/// Removes `rootfs-<pid>-*` directories whose process is gone.
fn remove_dead_scratch(dir: &Path) {
    let Ok(entries) = fs_err::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("rootfs-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = fs_err::remove_dir_all(e.path());
        }
    }
}
