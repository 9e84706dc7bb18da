//! `plinth test`'s engine: test files of three formats read into one model ([`model`]), static
//! checks against an image's layers and config without running it ([`image`],
//! [`static_checks`]), runtime checks in containers of plinth's sandbox ([`runtime`]), the
//! built-in checklist of seed 003 ([`checklist`]), reports ([`report`]) and the results recorded
//! with the image in the store ([`record`]).
#![forbid(unsafe_code)]

pub mod checklist;
pub mod format;
pub mod image;
pub mod model;
pub mod record;
pub mod report;
pub mod runtime;
pub mod static_checks;
