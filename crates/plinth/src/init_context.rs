//! The built-in named context `plinth-init`: every build can
//! `COPY --from=plinth-init /plinth-init /usr/sbin/plinth-init` to put the static plinth-init
//! (crate `plinth-init`, the PID 1 of plinth's images) into an image, at the version of this
//! plinth. The context is a one-layer image (`plinth-init:VERSION` in the store) built from the
//! static binary with SOURCE_DATE_EPOCH=0, so its digest depends only on the binary.
//!
//! The binary is looked up as `PLINTH_INIT_BINARY`, then `plinth-init` next to the plinth
//! executable, then `../init/x86_64-unknown-linux-gnu/init/plinth-init` from it (where
//! `scripts/build-init.sh` puts it in a source checkout). It must be statically linked: an image
//! may have no libc at all.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use plinth_build::NamedContext;
use plinth_oci::store::Store;

/// The context's name in Dockerfiles.
pub const NAME: &str = "plinth-init";

/// Whether `mentioned` (a Dockerfile's image references) uses the context and `defined` (the
/// project's own contexts) does not override it.
pub fn wanted<'a>(mentioned: &[String], mut defined: impl Iterator<Item = &'a String>) -> bool {
    mentioned.iter().any(|m| m == NAME) && !defined.any(|d| d == NAME)
}

/// Adds the context to a build's named contexts when [`wanted`].
pub fn add_if_wanted<'a>(
    contexts: &mut BTreeMap<String, NamedContext>,
    store: &Store,
    mentioned: &[String],
    defined: impl Iterator<Item = &'a String>,
) -> Result<()> {
    if wanted(mentioned, defined) {
        contexts.insert(NAME.to_string(), context(store)?);
    }
    Ok(())
}

/// The static plinth-init binary (see the module doc).
pub fn binary() -> Result<PathBuf> {
    let mut seen = Vec::new();
    if let Some(p) = std::env::var_os("PLINTH_INIT_BINARY").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !is_static(&p).with_context(|| format!("PLINTH_INIT_BINARY={}", p.display()))? {
            bail!(
                "PLINTH_INIT_BINARY={} is dynamically linked: images need the static build \
                 (scripts/build-init.sh)",
                p.display()
            );
        }
        return Ok(p);
    }
    let exe = std::env::current_exe().context("finding the plinth executable")?;
    if let Some(dir) = exe.parent() {
        for candidate in [
            dir.join("plinth-init"),
            dir.join("../init/x86_64-unknown-linux-gnu/init/plinth-init"),
        ] {
            match is_static(&candidate) {
                Ok(true) => return Ok(candidate),
                Ok(false) => seen.push(format!("{} (dynamically linked)", candidate.display())),
                Err(_) => {}
            }
        }
    }
    let mut msg = String::from(
        "`plinth-init` (COPY --from=plinth-init) needs the static plinth-init binary: set \
         PLINTH_INIT_BINARY=/path/to/plinth-init, or install it next to plinth (in a source \
         checkout: scripts/build-init.sh)",
    );
    if !seen.is_empty() {
        msg.push_str(&format!("; found only {}", seen.join(", ")));
    }
    bail!(msg)
}

/// Whether the ELF file at `path` has no program interpreter (PT_INTERP), i.e. runs without a
/// dynamic loader.
pub fn is_static(path: &Path) -> Result<bool> {
    let mut f = fs_err::File::open(path)?;
    let mut bytes = Vec::new();
    f.by_ref().take(64 * 1024).read_to_end(&mut bytes)?;
    let bad = || {
        anyhow::anyhow!(
            "{} is not a 64-bit little-endian ELF executable",
            path.display()
        )
    };
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return Err(bad());
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().map_err(|_| bad())?) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        let Some(h) = bytes.get(at..at + 4) else {
            return Err(bad());
        };
        if u32::from_le_bytes([h[0], h[1], h[2], h[3]]) == 3 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Builds (or finds in the layer cache) the context's image and returns it as a named context.
pub fn context(store: &Store) -> Result<NamedContext> {
    let bin = binary()?;
    let dir = tempfile::Builder::new()
        .prefix("plinth-init-context")
        .tempdir()
        .context("creating a temporary build context")?;
    fs_err::copy(&bin, dir.path().join("plinth-init"))?;
    let dockerfile = dir.path().join("Dockerfile");
    fs_err::write(
        &dockerfile,
        "FROM scratch\nCOPY --chmod=755 plinth-init /plinth-init\n",
    )?;
    let reference = format!("plinth-init:{}", env!("CARGO_PKG_VERSION"));
    let opts = plinth_build::BuildOptions {
        tags: vec![reference.clone()],
        source_date_epoch: Some(0),
        network: plinth_sandbox::Network::None,
        cancel: Some(crate::interrupt_flag()),
        ..plinth_build::BuildOptions::new(dockerfile, dir.path().to_path_buf())
    };
    let built = plinth_build::build(store, &opts, &mut |_| {})
        .with_context(|| format!("building the {NAME} context from {}", bin.display()))?;
    Ok(NamedContext::Image {
        reference,
        digest: built.manifest.digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_executable_is_not_static() {
        // The test binary itself is dynamically linked (the normal gnu target).
        let exe = std::env::current_exe().unwrap();
        assert!(!is_static(&exe).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let not_elf = dir.path().join("x");
        std::fs::write(&not_elf, "#!/bin/sh\n").unwrap();
        assert!(is_static(&not_elf).is_err());
    }

    #[test]
    fn wanted_only_when_named_and_not_overridden() {
        let m = vec!["debian".to_string(), NAME.to_string()];
        assert!(wanted(&m, [].iter()));
        assert!(!wanted(&m, [NAME.to_string()].iter()));
        assert!(!wanted(&["debian".to_string()], [].iter()));
    }
}
