//! Arbitrary bytes as a .deb: opening it, reading its control archive and draining its data
//! stream must only ever return errors, never panic.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use plinth_debian::DebReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = DebReader::new(data) else { return };
    let _ = reader.version();
    if let Ok(control) = reader.read_control() {
        assert!(control.files.contains_key("control"));
    }
    if let Ok(stream) = reader.data() {
        // Bounded: a small input may decompress to a lot.
        let _ = std::io::copy(&mut stream.take(64 << 20), &mut std::io::sink());
    }
});
