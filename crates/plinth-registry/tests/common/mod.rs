//! The library-specific part of the registry test fixture: client settings for tests, a small
//! image built with the client, and `RepoRef`s of a [`plinth_testkit::Registry`]. The registry
//! itself, the fault proxy and the skopeo helpers are in `plinth-testkit`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use plinth_registry::{
    BytesSource, Client, ClientConfig, Credentials, Digest, RepoRef, RetryPolicy,
};
use plinth_testkit::Registry;

/// `RepoRef`s of a test registry.
pub trait RegistryExt {
    /// The repository `name` on this registry.
    fn repo(&self, name: &str) -> RepoRef;
}

impl RegistryExt for Registry {
    fn repo(&self, name: &str) -> RepoRef {
        RepoRef::new(self.host.clone(), name)
    }
}

/// Client settings for tests: no system certs dir, fast retries.
pub fn config(credentials: Credentials, certs_dir: Option<PathBuf>) -> ClientConfig {
    ClientConfig {
        certs_dir,
        credentials,
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
        },
        timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    }
}

/// A small image: config blob, one layer blob, and an OCI manifest referencing them.
pub struct Image {
    pub config: Vec<u8>,
    pub layer: Vec<u8>,
    pub manifest: Vec<u8>,
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

impl Image {
    pub fn new(seed: &str) -> Image {
        // A real (uncompressed) tar layer with one file.
        let mut tar = tar::Builder::new(Vec::new());
        let data = format!("hello from {seed}\n").repeat(50);
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        tar.append_data(&mut h, "hello.txt", data.as_bytes())
            .expect("tar");
        let layer = tar.into_inner().expect("tar");
        let diff_id = Digest::of(&layer);
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["SEED={seed}"]}},"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#
        )
        .into_bytes();
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
            Digest::of(&config),
            config.len(),
            diff_id,
            layer.len()
        )
        .into_bytes();
        Image {
            config,
            layer,
            manifest,
        }
    }

    pub fn blobs(&self) -> [(&[u8], Digest); 2] {
        [
            (&self.config, Digest::of(&self.config)),
            (&self.layer, Digest::of(&self.layer)),
        ]
    }

    /// Pushes blobs and manifest; returns the manifest digest.
    pub fn push(&self, client: &Client, repo: &RepoRef, tag: &str) -> Digest {
        for (bytes, digest) in self.blobs() {
            client
                .push_blob(
                    repo,
                    &digest,
                    bytes.len() as u64,
                    &BytesSource(bytes.into()),
                    None,
                )
                .expect("push blob");
        }
        client
            .put_manifest(repo, tag, &self.manifest, OCI_MANIFEST)
            .expect("put manifest")
    }
}
