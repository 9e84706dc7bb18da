//! Shared test support: building images into a test store.

use std::path::Path;

use plinth_oci::store::Store;

/// Builds `dockerfile` (written into `ctx`) as `tag`: SOURCE_DATE_EPOCH 0, no network, no RUN
/// sandbox needed for COPY-only Dockerfiles.
pub fn build(store: &Store, ctx: &Path, dockerfile: &str, tag: &str) {
    let df = ctx.join(format!("Dockerfile.{}", tag.replace(':', "_")));
    std::fs::write(&df, dockerfile).unwrap();
    let opts = plinth_build::BuildOptions {
        tags: vec![tag.to_string()],
        source_date_epoch: Some(0),
        network: plinth_sandbox::Network::None,
        ..plinth_build::BuildOptions::new(df, ctx.to_path_buf())
    };
    plinth_build::build(store, &opts, &mut |_| {}).unwrap();
}
