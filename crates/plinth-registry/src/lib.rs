//! plinth's OCI distribution client: push, pull and copy blobs and manifests to and from
//! registries over the distribution HTTP API, with anonymous, Basic and Bearer-token auth
//! (credentials from Docker's `config.json` and credential helpers), TLS verified by default with
//! per-registry CAs in Docker's `certs.d` layout, retries with backoff, and digest verification.
//!
//! The API is blocking; an internal single-threaded tokio runtime drives the HTTP client. This is
//! the only crate of plinth that uses tokio. It never prints: errors are values, and none of them
//! carries a password or token.

#![forbid(unsafe_code)]

pub mod auth;
pub mod client;
pub mod copy;
pub mod credentials;
pub mod error;
mod parallel;
pub mod reference;
pub mod store;

pub use client::{
    BlobPush, BlobSource, BytesSource, Client, ClientConfig, FileSource, LoginCheck,
    MANIFEST_MEDIA_TYPES, ManifestInfo, RawManifest, RetryPolicy, UploadMode,
};
pub use copy::CopyReport;
pub use credentials::{
    Auth, Credentials, CredentialsError, Erased, SavedIn, docker_config_path, erase_login,
    login_registry, save_login,
};
pub use error::RegistryError;
pub use plinth_oci::Digest;
pub use reference::{RemoteRef, RepoRef};
pub use store::{
    PullReport, PushOptions, PushReport, TransferError, check_immutable_tags, pull_to_store,
    push_from_store, stored_image,
};
