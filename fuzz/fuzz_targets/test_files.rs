//! Fuzzes `plinth test`'s file formats: any text, read as a YAML file (format detection, plinth's
//! format, container-structure-test, goss with templating) and as plinth's TOML form, must give a
//! suite or an error value, never a panic; a suite then expands against an image env.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use plinth_test::format::{LoadOptions, parse};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let vars = serde_json::json!({ "a": "1", "b": { "c": "x" } });
    let opts = LoadOptions {
        goss_vars: Some(vars),
    };
    for path in ["t.yaml", "t.toml"] {
        if let Ok(suite) = parse(&text, Path::new(path), &opts) {
            let _ = suite.for_image(&["A=1".to_string(), "PATH=/bin".to_string()]);
        }
    }
    let _ = plinth_test::model::go_expand(&text, &|k| k.to_string());
});
