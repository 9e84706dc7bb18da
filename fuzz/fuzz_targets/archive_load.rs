//! Arbitrary bytes as an image archive (oci-archive or docker-archive): loading into a fresh store
//! must only ever fail with an error, never panic, and never leave a ref to an incomplete image.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plinth_oci::archive::load_archive;
use plinth_oci::store::Store;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let Ok(store) = Store::init(dir.path().join("store")) else { return };
    if load_archive(&store, data).is_ok() {
        // Every ref that was set must resolve to a complete image.
        if let Ok(refs) = store.list_refs() {
            for r in refs {
                assert!(store.image(&r.descriptor).is_ok(), "ref {} points at a broken image", r.name);
            }
        }
    }
});
