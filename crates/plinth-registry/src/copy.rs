//! Copying images between repositories and registries: the manifest (or index and its child
//! manifests) is pushed byte for byte after its blobs; blobs, a bounded number at a time, are
//! skipped when present, mounted within a registry, or streamed through a temporary file
//! (verified by digest) between registries.

use plinth_oci::Digest;

use crate::client::{BlobPush, Client, FileSource};
use crate::error::RegistryError;
use crate::reference::RepoRef;

/// How deep indexes may nest (index of indexes of manifests).
const MAX_DEPTH: u32 = 4;

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// The digest of the top manifest (the same on both sides).
    pub digest: Digest,
    pub manifests: usize,
    pub blobs_existed: usize,
    pub blobs_mounted: usize,
    pub blobs_uploaded: usize,
}

#[derive(serde::Deserialize)]
struct Refs {
    #[serde(default)]
    config: Option<Desc>,
    #[serde(default)]
    layers: Vec<Desc>,
    #[serde(default)]
    manifests: Vec<Desc>,
}

#[derive(serde::Deserialize)]
struct Desc {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: Digest,
    size: u64,
}

/// Foreign (non-distributable) layers are referenced by URL and never pushed.
fn foreign(media_type: &str) -> bool {
    media_type.contains("foreign") || media_type.contains("nondistributable")
}

impl Client {
    /// Makes `to` have a blob of `from`: skipped if present, mounted on the same registry, or
    /// downloaded (digest-verified) into a temporary file and uploaded.
    pub fn copy_blob(
        &self,
        from: &RepoRef,
        to: &RepoRef,
        digest: &Digest,
        size: u64,
    ) -> Result<BlobPush, RegistryError> {
        if self.head_blob(to, digest)?.is_some() {
            return Ok(BlobPush::Existed);
        }
        if from.registry == to.registry && self.mount_blob(to, from, digest)? {
            return Ok(BlobPush::Mounted);
        }
        let mut tmp = tempfile::NamedTempFile::new()?;
        let got = self.get_blob(from, digest, tmp.as_file_mut())?;
        if got != size {
            return Err(RegistryError::Protocol {
                registry: from.registry.clone(),
                repository: from.repository.clone(),
                message: format!("blob {digest} has {got} bytes, the manifest says {size}"),
            });
        }
        self.upload_blob(to, digest, size, &FileSource(tmp.path().to_path_buf()))?;
        Ok(BlobPush::Uploaded)
    }

    /// Copies an image (manifest or index, with everything it references) from
    /// `from:reference` to `to:tag`, up to `jobs` blobs at a time; manifests keep their exact
    /// bytes, so digests are kept, and each is pushed after all its blobs.
    pub fn copy_image(
        &self,
        from: &RepoRef,
        reference: &str,
        to: &RepoRef,
        tag: &str,
        jobs: usize,
    ) -> Result<CopyReport, RegistryError> {
        let top = self.get_manifest(from, reference)?;
        let mut report = CopyReport {
            digest: top.digest.clone(),
            manifests: 0,
            blobs_existed: 0,
            blobs_mounted: 0,
            blobs_uploaded: 0,
        };
        self.copy_children(from, to, &top.bytes, 0, jobs, &mut report)?;
        self.put_manifest(to, tag, &top.bytes, &top.media_type)?;
        report.manifests += 1;
        Ok(report)
    }

    fn copy_children(
        &self,
        from: &RepoRef,
        to: &RepoRef,
        bytes: &[u8],
        depth: u32,
        jobs: usize,
        report: &mut CopyReport,
    ) -> Result<(), RegistryError> {
        let protocol = |message: String| RegistryError::Protocol {
            registry: from.registry.clone(),
            repository: from.repository.clone(),
            message,
        };
        if depth > MAX_DEPTH {
            return Err(protocol(format!(
                "indexes nest deeper than {MAX_DEPTH} levels"
            )));
        }
        let refs: Refs = serde_json::from_slice(bytes)
            .map_err(|e| protocol(format!("invalid manifest: {e}")))?;
        for child in &refs.manifests {
            let m = self.get_manifest(from, &child.digest.to_string())?;
            self.copy_children(from, to, &m.bytes, depth + 1, jobs, report)?;
            self.put_manifest(to, &child.digest.to_string(), &m.bytes, &m.media_type)?;
            report.manifests += 1;
        }
        let blobs: Vec<&Desc> = refs
            .config
            .iter()
            .chain(&refs.layers)
            .filter(|b| !foreign(&b.media_type))
            .collect();
        let outcomes = crate::parallel::for_each(&blobs, jobs, |blob| {
            self.copy_blob(from, to, &blob.digest, blob.size)
        })?;
        for outcome in outcomes {
            match outcome {
                BlobPush::Existed => report.blobs_existed += 1,
                BlobPush::Mounted => report.blobs_mounted += 1,
                BlobPush::Uploaded => report.blobs_uploaded += 1,
            }
        }
        Ok(())
    }
}
