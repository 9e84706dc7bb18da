//! plinth's build engine: Dockerfile stages into images in the OCI store.
//!
//! - [`engine`]: stage walking, ARG/ENV scoping, config instructions, layers, the final image.
//! - `context`: the build context (.dockerignore) and COPY/ADD source and destination rules.
//! - `add`: ADD's archive extraction and URL downloads.
//! - `userdb`: `user:group` resolution against the image's /etc/passwd and /etc/group.
//! - [`fsview`]: a metadata view of an image's filesystem read from layer headers.
//! - [`sde`]: SOURCE_DATE_EPOCH resolution.
//! - [`credentials`]: user-info in URLs, redacted or stripped wherever plinth writes a URL.
//! - [`project`]: plinth.toml (named contexts).
//! - [`debian`]: Debian root filesystems from a mirror (resolution, lock file, dpkg in the sandbox).
//!
//! The engine reads files and writes to the store, but never prints or exits: progress goes to a
//! callback as [`BuildEvent`]s.

#![forbid(unsafe_code)]

pub mod add;
pub mod cache;
pub mod container;
pub mod context;
pub mod credentials;
pub mod debian;
pub mod engine;
pub mod family;
pub mod fsview;
pub mod project;
pub mod run;
pub mod sde;
pub mod userdb;

pub use engine::{
    Annotations, BaseImage, BaseLabels, BuildError, BuildEvent, BuildOptions, BuildResult,
    CachePolicy, Diagnostic, ImageFetcher, ImageMetadata, NamedContext, Pull, SecretSource, build,
    host_platform,
};
