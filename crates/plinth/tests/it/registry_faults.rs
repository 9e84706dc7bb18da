//! `plinth push` through a fault proxy in front of a real registry: uploads cut mid-blob, 500s,
//! 429s with `Retry-After`, slow answers. Faults within the client's retry budget
//! (`RetryPolicy::default()`: 4 attempts) must not fail the push; more must fail it cleanly
//! (exit 1, an error naming the blob). Either way the registry, asked directly, never holds a
//! manifest whose blobs are missing.

use std::time::{Duration, Instant};

use plinth_testkit::{Fault, FaultProxy, Rule};

use crate::registry::{Registry, listed_digest, plinth, skopeo_digest};
use crate::support::{Env, Run, tool};

/// The attempts `RetryPolicy::default()` allows per request and per blob upload.
const ATTEMPTS: usize = 4;

/// Writes `len` bytes of incompressible data (xorshift) to the context as `rel`.
fn noise(env: &Env, rel: &str, len: usize, seed: u64) {
    let mut x = seed | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(len);
    std::fs::write(env.ctx().join(rel), bytes).unwrap();
}

/// A three-layer image `big:1` of a few MB; returns its digest and the hex of its largest layer.
fn build_image(env: &Env) -> (String, String) {
    noise(env, "a.bin", 3 << 20, 1);
    noise(env, "b.bin", 1 << 20, 2);
    noise(env, "c.bin", 512 << 10, 3);
    env.build(
        "FROM scratch\nCOPY a.bin /a.bin\nCOPY b.bin /b.bin\nCOPY c.bin /c.bin\n",
        &["-t", "big:1"],
    );
    let store = env.store();
    let digest = listed_digest(env, store.to_str().unwrap(), "big:1");
    let raw = tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            &format!("oci:{}:big:1", store.display()),
        ],
    );
    let m: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3, "{raw}");
    let largest = layers
        .iter()
        .max_by_key(|l| l["size"].as_u64().unwrap())
        .unwrap();
    assert!(largest["size"].as_u64().unwrap() > 3 << 20, "{raw}");
    let hex = largest["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap()
        .to_string();
    (digest, hex)
}

/// What one push through a proxy did.
struct Outcome {
    name: &'static str,
    run: Run,
    took: Duration,
    spoiled: Vec<String>,
    /// Whether the tag exists on the registry (asked directly).
    tagged: bool,
}

/// Pushes `big:1` to `REPO:1` through a proxy applying `rule`, then checks the registry directly:
/// no tag, or a tag whose manifest is complete and has the local digest.
fn push_through(env: &Env, reg: &Registry, name: &'static str, rule: Rule, local: &str) -> Outcome {
    let proxy = FaultProxy::start(reg.kit.port, rule).unwrap();
    let repo = format!("faults/{name}");
    let start = Instant::now();
    let run = plinth(env, &["push", "big:1", &format!("{}/{repo}:1", proxy.host)]);
    let took = start.elapsed();
    assert!(
        run.status == 0 || run.status == 1,
        "{name}: exit {}\n{}",
        run.status,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{name}: {}", run.stderr);
    let tagged = match reg.kit.missing_blobs(&repo, "1").unwrap() {
        None => false,
        Some(missing) => {
            assert!(
                missing.is_empty(),
                "{name}: the registry has a manifest without its blobs {missing:?}"
            );
            assert_eq!(
                skopeo_digest(&format!("{}/{repo}:1", reg.host)),
                local,
                "{name}"
            );
            true
        }
    };
    Outcome {
        name,
        run,
        took,
        spoiled: proxy.spoiled_requests(),
        tagged,
    }
}

#[test]
fn pushes_survive_faults_within_the_retry_budget() {
    let reg = Registry::start(None);
    let env = Env::new();
    let (local, largest) = build_image(&env);
    let cases: Vec<(&'static str, Rule, usize)> = vec![
        // The largest layer's upload is cut after 256 KiB, twice: the blob is uploaded again.
        (
            "cut",
            Rule::new(Fault::CutAfter(256 << 10), 2)
                .method("PUT")
                .path_contains(&largest),
            2,
        ),
        // Three 500s on whatever comes first (fewer than the 4 attempts of any request).
        (
            "status500",
            Rule::new(
                Fault::Status {
                    line: "500 Internal Server Error",
                    retry_after: None,
                },
                ATTEMPTS - 1,
            ),
            ATTEMPTS - 1,
        ),
        // One 429 on an upload start, asking for 2 s (the client's own first delay is 0.5 s).
        (
            "status429",
            Rule::new(
                Fault::Status {
                    line: "429 Too Many Requests",
                    retry_after: Some(2),
                },
                1,
            )
            .method("POST"),
            1,
        ),
        // Slow answers: the first six requests wait 700 ms before they reach the registry.
        (
            "slow",
            Rule::new(Fault::Delay(Duration::from_millis(700)), 6),
            6,
        ),
    ];
    let outcomes: Vec<(Outcome, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .into_iter()
            .map(|(name, rule, expected)| {
                let (env, reg, local) = (&env, &reg, &local);
                s.spawn(move || (push_through(env, reg, name, rule, local), expected))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (o, expected) in outcomes {
        let name = o.name;
        assert_eq!(o.run.status, 0, "{name}: {}", o.run.stderr);
        assert_eq!(o.run.stdout.trim(), local, "{name}");
        assert!(o.tagged, "{name}: the tag is on the registry");
        assert_eq!(o.spoiled.len(), expected, "{name}: {:?}", o.spoiled);
        match name {
            "cut" => assert!(
                o.spoiled.iter().all(|l| l.starts_with("PUT ")),
                "{:?}",
                o.spoiled
            ),
            "status429" => assert!(
                o.took >= Duration::from_secs(2),
                "Retry-After: 2 was honoured: {:?}",
                o.took
            ),
            "slow" => assert!(o.took >= Duration::from_millis(700), "{:?}", o.took),
            _ => {}
        }
    }
}

#[test]
fn pushes_fail_cleanly_when_faults_outlast_the_retries() {
    let reg = Registry::start(None);
    let env = Env::new();
    let (local, largest) = build_image(&env);
    let cases: Vec<(&'static str, Rule)> = vec![
        // Every upload of the largest layer is refused.
        (
            "always503",
            Rule::new(Fault::status("503 Service Unavailable"), usize::MAX)
                .method("PUT")
                .path_contains(&largest),
        ),
        // Every upload of the largest layer is cut mid-blob.
        (
            "alwayscut",
            Rule::new(Fault::CutAfter(256 << 10), usize::MAX)
                .method("PUT")
                .path_contains(&largest),
        ),
    ];
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .into_iter()
            .map(|(name, rule)| {
                let (env, reg, local) = (&env, &reg, &local);
                s.spawn(move || push_through(env, reg, name, rule, local))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in outcomes {
        let (name, err) = (o.name, &o.run.stderr);
        assert_eq!(o.run.status, 1, "{name}: {err}");
        assert!(o.run.stdout.is_empty(), "{name}: {}", o.run.stdout);
        assert!(!o.tagged, "{name}: no manifest after a failed push");
        assert!(
            err.contains(&format!("sha256:{largest}")),
            "{name}: the error names the blob: {err}"
        );
        assert!(err.contains("faults/"), "{name}: {err}");
        if name == "always503" {
            assert!(err.contains("HTTP 503"), "{err}");
        }
        assert_eq!(
            o.spoiled.len(),
            ATTEMPTS,
            "{name}: one upload per attempt: {:?}",
            o.spoiled
        );
    }
}
