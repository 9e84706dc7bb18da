//! OCI image primitives for plinth: content digests, canonical JSON, the image/manifest/index types
//! (with the Docker-only config fields that OCI tools drop, such as `Healthcheck`), the OCI image-layout
//! store, and the deterministic layer writer.
//!
//! This crate does file IO (the store, layers) but never prints or exits.

#![forbid(unsafe_code)]

pub mod archive;
pub mod digest;
pub mod json;
pub mod layer;
pub(crate) mod lock;
pub mod reference;
pub mod store;
pub mod types;

pub use digest::{Digest, DigestError};
pub use types::*;
