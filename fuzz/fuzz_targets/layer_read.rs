//! Arbitrary bytes as a layer blob: listing entries, reading one file and extracting into a
//! temporary directory must only ever return errors, never panic or write outside the root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plinth_oci::layer::{extract_layer, read_layer_entries, read_layer_file};

const MEDIA: &str = "application/vnd.oci.image.layer.v1.tar";

fuzz_target!(|data: &[u8]| {
    let _ = read_layer_entries(data, MEDIA);
    let _ = read_layer_file(data, MEDIA, "etc/passwd", 1 << 20);
    let Ok(dir) = tempfile::tempdir() else { return };
    let root = dir.path().join("root");
    if std::fs::create_dir(&root).is_ok() {
        let _ = extract_layer(data, MEDIA, &root);
        // Nothing may appear beside the root.
        let outside: Vec<_> = std::fs::read_dir(dir.path()).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
        assert_eq!(outside.len(), 1, "extraction wrote outside its root: {outside:?}");
    }
});
