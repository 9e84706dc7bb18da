//! Image families: a repository of images built parent-first.
//!
//! - [`build`]: what each image gets (tags, labels, pinned parents) and the parallel build.
//! - [`graph`]: the family's FROM edges, build order, selection, cycles, text and DOT output.
//! - [`tags`]: the tags of an image from the version, git and CI (seed 003's tag policy).
//! - [`provenance`]: git and CI facts, and the OCI labels they fill.
//! - [`pin`]: pinning external `FROM` images to digests (`plinth pin`).

pub mod build;
pub mod graph;
pub mod pin;
pub mod provenance;
pub mod tags;
