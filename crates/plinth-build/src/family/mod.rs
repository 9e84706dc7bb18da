//! Image families (issue 5, in progress): a repository of images built parent-first.
//!
//! - [`graph`]: the family's FROM edges, build order, selection, cycles, text and DOT output.
//! - [`tags`]: the tags of an image from the version, git and CI (seed 003's tag policy).
//! - [`provenance`]: git and CI facts, and the OCI labels they fill.

pub mod graph;
pub mod provenance;
pub mod tags;
