//! plinth's integration tests: the real binary, a real store, and real tools (skopeo, umoci,
//! oci-image-tool, docker) reading what it wrote. One test binary, as in ripgrep and uv.

mod build;
mod cli;
mod errors;
mod family;
mod init;
mod lint;
mod login;
mod new;
mod pin;
mod pull_build;
mod registry;
mod registry_creds;
mod registry_faults;
mod repro;
mod rootfs;
mod run;
mod store;
mod support;
mod test_cmd;
mod tools;
