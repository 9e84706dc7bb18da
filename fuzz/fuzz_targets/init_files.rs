//! Fuzzes the files plinth-init reads from an image: the env contract (`env.toml`, then checking
//! an environment against it and rendering it), check files (`/container/tests/*.toml`) and the
//! services file. Any input must parse or give an error value, never panic.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use plinth_init::contract::{Contract, RenderFormat};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text = text.as_ref();
    if let Ok(c) = Contract::parse(text, Path::new("env.toml")) {
        // Every declared variable set to a fuzzed value, and none set.
        let value = text.lines().next().unwrap_or_default().to_string();
        let env: BTreeMap<String, String> =
            c.vars.iter().map(|(k, _)| (k.clone(), value.clone())).collect();
        let _ = c.resolve(&env);
        let _ = c.resolve(&BTreeMap::new());
        for f in [RenderFormat::Text, RenderFormat::Json, RenderFormat::Markdown] {
            let _ = c.render(f);
        }
    }
    let _ = plinth_init::checks::parse_checks(text, Path::new("t.toml"));
    let _ = plinth_init::services::parse(text, Path::new("services.toml"));
    let _ = plinth_init::checks::parse_duration(text);
});
