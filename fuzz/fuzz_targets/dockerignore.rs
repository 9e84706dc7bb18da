//! Arbitrary .dockerignore text and paths: parsing and matching must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plinth_dockerfile::dockerignore::Dockerignore;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (patterns, paths) = text.split_once('\0').unwrap_or((&text, "a/b/c"));
    if let Ok(ig) = Dockerignore::parse(patterns) {
        for p in paths.split('\n') {
            let _ = ig.is_excluded(p);
            let _ = ig.may_reinclude_under(p);
        }
    }
});
