//! Moving images between a registry and plinth's local OCI store: [`pull_to_store`] downloads a
//! manifest (for an index: the manifest for one platform) and its blobs into the store, verified
//! by digest, and names it last; [`push_from_store`] uploads a stored image's blobs (in parallel)
//! and then its manifests exactly as stored, so digests never change, refusing up front to move a
//! tag that must not move.

use std::collections::BTreeMap;
use std::io;

use plinth_oci::store::{Store, StoreError};
use plinth_oci::types::media;
use plinth_oci::{Descriptor, Digest, Index, Manifest, Platform};

use crate::client::{BlobPush, Client};
use crate::error::RegistryError;
use crate::reference::{RemoteRef, RepoRef};

/// How deep indexes may nest (index of indexes of manifests).
const MAX_DEPTH: u32 = 4;

/// Why a pull or push failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("pushing blob {digest}: {source}")]
    PushBlob {
        digest: Digest,
        #[source]
        source: Box<RegistryError>,
    },
    #[error(
        "{repo}: tag {tag:?} must not move: the registry has it at {remote}, the image to push is {local}; nothing was pushed"
    )]
    TagMoved {
        repo: String,
        tag: String,
        remote: Digest,
        local: Digest,
    },
    #[error("{repo}: manifest {digest}: {message}")]
    BadManifest {
        repo: String,
        digest: Digest,
        message: String,
    },
    #[error("{repo}: the image index {digest} has no manifest for {platform}")]
    NoPlatform {
        repo: String,
        digest: Digest,
        platform: String,
    },
}

/// What [`pull_to_store`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullReport {
    /// The digest of what the reference names on the registry (an index or a manifest).
    pub digest: Digest,
    /// The image manifest stored and named: the same as `digest` unless that is an index, in
    /// which case it is the manifest chosen for the platform.
    pub manifest: Descriptor,
    /// The store ref set (`registry/repository:tag`); `None` for a pull by digest, which is
    /// recorded untagged.
    pub name: Option<String>,
    pub blobs_fetched: usize,
    pub blobs_present: usize,
}

/// Settings of [`push_from_store`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOptions {
    /// Tags that must not move: if the registry has one of them at another digest, the push
    /// fails before anything is uploaded.
    pub immutable_tags: Vec<String>,
    /// How many blobs are uploaded at once (at least one).
    pub jobs: usize,
    /// More tags of the same repository to point at the image, after the destination's own.
    pub extra_tags: Vec<String>,
    /// A repository of the same registry that probably has many of the blobs (a parent image's):
    /// blobs missing from the destination are mounted from it when it has them.
    pub mount_from: Option<RepoRef>,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            immutable_tags: Vec::new(),
            jobs: 4,
            extra_tags: Vec::new(),
            mount_from: None,
        }
    }
}

/// Checks that none of `tags` of `repo` names another image than `local` on the registry (a tag
/// the registry does not have is fine): the check [`push_from_store`] makes before it writes.
pub fn check_immutable_tags(
    client: &Client,
    repo: &RepoRef,
    tags: &[String],
    local: &Digest,
) -> Result<(), TransferError> {
    for tag in tags {
        let Some(info) = client.head_manifest(repo, tag)? else {
            continue;
        };
        let remote = match info.digest {
            Some(d) => d,
            None => client.get_manifest(repo, tag)?.digest,
        };
        if &remote != local {
            return Err(TransferError::TagMoved {
                repo: repo.to_string(),
                tag: tag.clone(),
                remote,
                local: local.clone(),
            });
        }
    }
    Ok(())
}

/// What a push did: the same counts as a registry-to-registry copy.
pub type PushReport = crate::copy::CopyReport;

#[derive(serde::Deserialize)]
struct MediaTypeField {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Manifest,
    Index,
}

/// Whether bytes with this (possibly empty) media type are an index or a manifest.
fn kind(media_type: &str, bytes: &[u8]) -> Option<Kind> {
    match media_type {
        media::OCI_MANIFEST | media::DOCKER_MANIFEST => Some(Kind::Manifest),
        media::OCI_INDEX | media::DOCKER_MANIFEST_LIST => Some(Kind::Index),
        _ => {
            let f: MediaTypeField = serde_json::from_slice(bytes).ok()?;
            match f.media_type.as_deref() {
                Some(mt) if !mt.is_empty() && mt != "application/json" => kind(mt, b"null"),
                _ if f.manifests.is_some() => Some(Kind::Index),
                _ => Some(Kind::Manifest),
            }
        }
    }
}

/// The media type to store or push bytes under: the given one, else the `mediaType` field, else
/// OCI's by shape.
fn media_type_of(given: &str, bytes: &[u8]) -> String {
    if !given.is_empty() && given != "application/json" {
        return given.to_string();
    }
    let field = serde_json::from_slice::<MediaTypeField>(bytes)
        .ok()
        .and_then(|f| f.media_type);
    match (field, kind(given, bytes)) {
        (Some(mt), _) if !mt.is_empty() => mt,
        (_, Some(Kind::Index)) => media::OCI_INDEX.to_string(),
        _ => media::OCI_MANIFEST.to_string(),
    }
}

/// Foreign (non-distributable) layers are referenced by URL and never pushed or pulled.
fn foreign(media_type: &str) -> bool {
    media_type.contains("foreign") || media_type.contains("nondistributable")
}

fn platform_str(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{}", p.os, p.architecture, v),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

/// The index entry for `platform`: the first whose os and architecture match (and variant, when
/// one is asked); an index whose only entry has no platform gives that entry.
fn choose<'a>(index: &'a Index, platform: &Platform) -> Option<&'a Descriptor> {
    let matches = |d: &&Descriptor| {
        d.platform.as_ref().is_some_and(|p| {
            p.os == platform.os
                && p.architecture == platform.architecture
                && (platform.variant.is_none() || p.variant == platform.variant)
        })
    };
    index
        .manifests
        .iter()
        .find(matches)
        .or(match &index.manifests[..] {
            [only] if only.platform.is_none() => Some(only),
            _ => None,
        })
}

/// The image manifest for `platform` that `digest` (a manifest or an index) names, when the store
/// has all of it (the manifest, its config and layers), without asking a registry: what a pull
/// by digest stored before. `Ok(None)` when something is missing.
pub fn stored_image(
    store: &Store,
    digest: &Digest,
    platform: &Platform,
) -> Result<Option<Descriptor>, StoreError> {
    let mut digest = digest.clone();
    for _ in 0..=MAX_DEPTH {
        if !store.has_blob(&digest) {
            return Ok(None);
        }
        let bytes = store.read_blob(&digest)?;
        match kind("", &bytes) {
            Some(Kind::Index) => {
                let Ok(index) = serde_json::from_slice::<Index>(&bytes) else {
                    return Ok(None);
                };
                let Some(child) = choose(&index, platform) else {
                    return Ok(None);
                };
                digest = child.digest.clone();
            }
            Some(Kind::Manifest) => {
                let Ok(m) = serde_json::from_slice::<Manifest>(&bytes) else {
                    return Ok(None);
                };
                let complete = std::iter::once(&m.config)
                    .chain(&m.layers)
                    .all(|b| foreign(&b.media_type) || store.has_blob(&b.digest));
                return Ok(complete.then(|| {
                    Descriptor::new(media_type_of("", &bytes), digest, bytes.len() as u64)
                }));
            }
            None => return Ok(None),
        }
    }
    Ok(None)
}

/// Pulls `remote` into `store`. For an index, the manifest matching `platform` is followed (the
/// index bytes are stored too, unnamed). Manifests are stored byte for byte and every blob is
/// verified by digest before it enters the store; the ref is set last, so a failure leaves no
/// ref. A tag reference names the image `registry/repository:tag`; a digest reference records it
/// untagged.
pub fn pull_to_store(
    client: &Client,
    store: &Store,
    remote: &RemoteRef,
    platform: &Platform,
) -> Result<PullReport, TransferError> {
    let repo = &remote.repo;
    let top = client.get_manifest(repo, &remote.reference)?;
    let bad = |digest: &Digest, message: String| TransferError::BadManifest {
        repo: repo.to_string(),
        digest: digest.clone(),
        message,
    };
    let mut fetched = vec![top.clone()];
    let mut current = top.clone();
    let mut depth = 0;
    while kind(&current.media_type, &current.bytes) == Some(Kind::Index) {
        depth += 1;
        if depth > MAX_DEPTH {
            return Err(bad(
                &top.digest,
                format!("indexes nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        let index: Index = serde_json::from_slice(&current.bytes)
            .map_err(|e| bad(&current.digest, format!("invalid image index: {e}")))?;
        let child = choose(&index, platform).ok_or_else(|| TransferError::NoPlatform {
            repo: repo.to_string(),
            digest: current.digest.clone(),
            platform: platform_str(platform),
        })?;
        let m = client.get_manifest(repo, &child.digest.to_string())?;
        if m.bytes.len() as u64 != child.size {
            return Err(bad(
                &child.digest,
                format!("{} bytes, the index says {}", m.bytes.len(), child.size),
            ));
        }
        fetched.push(m.clone());
        current = m;
    }
    let manifest: Manifest = serde_json::from_slice(&current.bytes)
        .map_err(|e| bad(&current.digest, format!("invalid image manifest: {e}")))?;

    let mut report = PullReport {
        digest: top.digest.clone(),
        manifest: Descriptor::new(
            media_type_of(&current.media_type, &current.bytes),
            current.digest.clone(),
            current.bytes.len() as u64,
        ),
        name: None,
        blobs_fetched: 0,
        blobs_present: 0,
    };
    for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
        if foreign(&blob.media_type) {
            continue;
        }
        if matches!(store.blob_size(&blob.digest), Ok(s) if s == blob.size) {
            report.blobs_present += 1;
            continue;
        }
        let mut w = store.blob_writer()?;
        let got = client.get_blob(repo, &blob.digest, &mut w)?;
        if got != blob.size {
            return Err(bad(
                &current.digest,
                format!(
                    "blob {} has {got} bytes, the manifest says {}",
                    blob.digest, blob.size
                ),
            ));
        }
        w.commit_expect(&blob.digest)?;
        report.blobs_fetched += 1;
    }
    for m in &fetched {
        let d = store.write_blob(&media_type_of(&m.media_type, &m.bytes), &m.bytes)?;
        if d.digest != m.digest {
            return Err(bad(&m.digest, format!("stored with digest {}", d.digest)));
        }
    }
    if remote.reference.parse::<Digest>().is_ok() {
        store.add_untagged(&report.manifest)?;
    } else {
        let name = format!("{}/{}:{}", repo.registry, repo.repository, remote.reference);
        report.name = Some(store.set_ref(&name, &report.manifest)?);
    }
    Ok(report)
}

/// A stored manifest or index, with its exact bytes.
struct Stored {
    descriptor: Descriptor,
    bytes: Vec<u8>,
    media_type: String,
}

/// Reads `d` and, for an index, its children (depth first, children before parents) into
/// `manifests`, and the blobs of every manifest into `blobs`.
fn collect(
    store: &Store,
    repo: &RepoRef,
    d: &Descriptor,
    depth: u32,
    manifests: &mut Vec<Stored>,
    blobs: &mut BTreeMap<Digest, u64>,
) -> Result<(), TransferError> {
    let bad = |message: String| TransferError::BadManifest {
        repo: repo.to_string(),
        digest: d.digest.clone(),
        message,
    };
    if depth > MAX_DEPTH {
        return Err(bad(format!("indexes nest deeper than {MAX_DEPTH} levels")));
    }
    let bytes = store.read_descriptor(d)?;
    match kind(&d.media_type, &bytes) {
        Some(Kind::Index) => {
            let index: Index = serde_json::from_slice(&bytes)
                .map_err(|e| bad(format!("invalid image index: {e}")))?;
            for child in &index.manifests {
                collect(store, repo, child, depth + 1, manifests, blobs)?;
            }
        }
        Some(Kind::Manifest) => {
            let m: Manifest = serde_json::from_slice(&bytes)
                .map_err(|e| bad(format!("invalid image manifest: {e}")))?;
            for b in std::iter::once(&m.config).chain(&m.layers) {
                if !foreign(&b.media_type) {
                    blobs.insert(b.digest.clone(), b.size);
                }
            }
        }
        None => return Err(bad("not an image manifest or index".to_string())),
    }
    let media_type = media_type_of(&d.media_type, &bytes);
    manifests.push(Stored {
        descriptor: d.clone(),
        bytes,
        media_type,
    });
    Ok(())
}

/// Pushes the stored image `local` (a manifest or index, as [`Store::resolve`] gives it) to
/// `dest`. First every tag of `options.immutable_tags` is checked: if the registry has it at
/// another digest, nothing is written. Then the blobs of every manifest are pushed (skipped when
/// present; up to `options.jobs` at once; each is verified against its digest as it is read),
/// then child manifests by digest, then the top one under `dest`'s tag (or digest) and then each
/// of `options.extra_tags`, all with their stored bytes, so the digests are the local ones. A
/// failed blob leaves no manifest.
pub fn push_from_store(
    client: &Client,
    store: &Store,
    local: &Descriptor,
    dest: &RemoteRef,
    options: &PushOptions,
) -> Result<PushReport, TransferError> {
    let repo = &dest.repo;
    check_immutable_tags(client, repo, &options.immutable_tags, &local.digest)?;

    let mut manifests = Vec::new();
    let mut blobs = BTreeMap::new();
    collect(store, repo, local, 0, &mut manifests, &mut blobs)?;
    let mut report = PushReport {
        digest: local.digest.clone(),
        manifests: 0,
        blobs_existed: 0,
        blobs_mounted: 0,
        blobs_uploaded: 0,
    };
    let mount_from = options
        .mount_from
        .as_ref()
        .filter(|m| m.registry == repo.registry);
    for outcome in push_blobs(client, store, repo, &blobs, options.jobs, mount_from)? {
        match outcome {
            BlobPush::Existed => report.blobs_existed += 1,
            BlobPush::Mounted => report.blobs_mounted += 1,
            BlobPush::Uploaded => report.blobs_uploaded += 1,
        }
    }
    let Some((top, children)) = manifests.split_last() else {
        return Err(TransferError::BadManifest {
            repo: repo.to_string(),
            digest: local.digest.clone(),
            message: "nothing to push".to_string(),
        });
    };
    for m in children {
        client.put_manifest(
            repo,
            &m.descriptor.digest.to_string(),
            &m.bytes,
            &m.media_type,
        )?;
        report.manifests += 1;
    }
    client.put_manifest(repo, &dest.reference, &top.bytes, &top.media_type)?;
    report.manifests += 1;
    for tag in &options.extra_tags {
        if tag != &dest.reference {
            client.put_manifest(repo, tag, &top.bytes, &top.media_type)?;
        }
    }
    Ok(report)
}

/// Pushes `blobs` with up to `jobs` threads; stops handing out work after the first failure and
/// returns it.
fn push_blobs(
    client: &Client,
    store: &Store,
    repo: &RepoRef,
    blobs: &BTreeMap<Digest, u64>,
    jobs: usize,
    mount_from: Option<&RepoRef>,
) -> Result<Vec<BlobPush>, TransferError> {
    let items: Vec<(&Digest, u64)> = blobs.iter().map(|(d, s)| (d, *s)).collect();
    crate::parallel::for_each(&items, jobs, |&(digest, size)| {
        let source = || {
            store
                .open_blob(digest)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        };
        client
            .push_blob(repo, digest, size, &source, mount_from)
            .map_err(|source| TransferError::PushBlob {
                digest: digest.clone(),
                source: Box::new(source),
            })
    })
}
