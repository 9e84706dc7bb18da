//! Test results recorded with the image in the store: `<store>/.plinth/tests/<manifest hex>.json`,
//! one file per image digest (the last run wins), written atomically. `plinth push` reads them
//! to refuse release tags for images whose tests failed or were never run.

use std::path::{Path, PathBuf};

use plinth_oci::store::Store;

use crate::model::TestResult;

/// What is kept of a test run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// The manifest digest the tests ran against.
    pub digest: String,
    /// How the image was named when it was tested.
    pub image: String,
    pub passed: usize,
    pub failed: usize,
    /// The suites that ran (file names, `checklist`).
    pub suites: Vec<String>,
    /// RFC 3339, UTC.
    pub tested_at: String,
    /// The plinth that ran them.
    pub plinth: String,
}

impl Record {
    /// A record of `results` for `digest`.
    pub fn of(image: &str, digest: &str, results: &[TestResult], plinth: &str) -> Record {
        let mut suites: Vec<String> = Vec::new();
        for r in results {
            if !suites.contains(&r.suite) {
                suites.push(r.suite.clone());
            }
        }
        let failed = results.iter().filter(|r| !r.passed()).count();
        Record {
            digest: digest.to_string(),
            image: image.to_string(),
            passed: results.len() - failed,
            failed,
            suites,
            tested_at: jiff::Timestamp::now().to_string(),
            plinth: plinth.to_string(),
        }
    }

    /// Whether every test passed (and there was at least one).
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }
}

/// A record that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a test record ({source}); delete it and run `plinth test` again")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0:?} is not a sha256 digest")]
    Digest(String),
}

fn dir(store: &Store) -> PathBuf {
    store.path().join(".plinth").join("tests")
}

fn file(store: &Store, digest: &str) -> Result<PathBuf, RecordError> {
    let hex = digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| RecordError::Digest(digest.to_string()))?;
    Ok(dir(store).join(format!("{hex}.json")))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `record` (replacing an earlier one of the same digest) atomically.
pub fn write(store: &Store, record: &Record) -> Result<PathBuf, RecordError> {
    let path = file(store, &record.digest)?;
    let d = dir(store);
    std::fs::create_dir_all(&d).map_err(io(&d))?;
    let tmp = d.join(format!(".{}.tmp", std::process::id()));
    let bytes = serde_json::to_vec_pretty(record).map_err(|source| RecordError::Json {
        path: path.clone(),
        source,
    })?;
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok(path)
}

/// The record of `digest`, if the image was tested.
pub fn read(store: &Store, digest: &str) -> Result<Option<Record>, RecordError> {
    let path = file(store, digest)?;
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| RecordError::Json { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;
    use std::time::Duration;

    #[test]
    fn a_record_round_trips_and_the_last_run_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::init(dir.path()).unwrap();
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(read(&store, &digest).unwrap(), None);
        let mut r = TestResult {
            suite: "files".into(),
            name: "x".into(),
            kind: "file",
            status: Status::Failed,
            message: "no".into(),
            duration: Duration::ZERO,
        };
        let failed = Record::of("img:1", &digest, std::slice::from_ref(&r), "0.1.0");
        write(&store, &failed).unwrap();
        let got = read(&store, &digest).unwrap().unwrap();
        assert_eq!(got, failed);
        assert!(!got.ok());
        r.status = Status::Passed;
        write(&store, &Record::of("img:1", &digest, &[r], "0.1.0")).unwrap();
        assert!(read(&store, &digest).unwrap().unwrap().ok());
        assert!(matches!(
            read(&store, "sha256:../x"),
            Err(RecordError::Digest(_))
        ));
    }
}
