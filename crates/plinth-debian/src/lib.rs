//! Debian archives, without IO: the parsers and policies plinth needs to make a root
//! filesystem from a Debian mirror.
//!
//! - [`model`]: the package model shared by the parsers and the resolver.
//! - [`deb822`]: zero-copy paragraphs and fields of deb822 control text.
//! - [`relation`]: Depends/Conflicts/Provides fields.
//! - [`release`]: Release files (suite identity and the SHA-256 list of its indexes).
//! - [`packages`]: Packages index records and .deb control files.
//! - [`signature`]: InRelease / Release.gpg OpenPGP verification against a keyring.
//! - [`deb`]: streaming reader of .deb files (ar container, control and data archives).
//! - [`resolve`]: which packages make a root filesystem, in which order, and why.
//!
//! Everything here works on bytes and readers handed in by the caller (plinth-build fetches,
//! caches and installs); nothing here touches the network or the filesystem.

#![forbid(unsafe_code)]

pub mod deb;
pub mod deb822;
pub mod model;
pub mod packages;
pub mod relation;
pub mod release;
pub mod resolve;
pub mod signature;

pub use deb::{ControlFile, DebControl, DebData, DebError, DebReader};
pub use deb822::{Deb822Error, Deb822ErrorKind, Field, Paragraph, Paragraphs, paragraphs};
pub use model::{
    Alternatives, MultiArch, Package, Priority, Provide, Relation, Version, VersionError, VersionOp,
};
pub use packages::{PackagesError, RecordKind, parse_control, parse_packages};
pub use relation::{RelationError, parse_depends, parse_provides, parse_relations};
pub use release::{IndexFile, Release, ReleaseError, parse_release};
pub use resolve::{
    DepField, Reason, Request, Resolution, ResolveError, Universe, UnknownVariant, Variant, resolve,
};
pub use signature::{Keyring, SignatureError, Verified, verify_detached, verify_inrelease};
