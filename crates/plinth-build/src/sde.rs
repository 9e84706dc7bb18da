//! SOURCE_DATE_EPOCH: the one timestamp every layer mtime, history entry and config `created` is
//! clamped or set to, so the same inputs give the same digests on any machine.

use std::path::Path;
use std::process::{Command, Stdio};

/// Where the build's timestamp came from (shown to the user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochSource {
    /// `SOURCE_DATE_EPOCH` or `--source-date-epoch`.
    Explicit,
    /// The commit time of HEAD of the git repository that holds the context.
    GitHead,
    /// Neither: 0 (1970-01-01T00:00:00Z).
    Zero,
}

/// Resolves the build's epoch: the explicit value, else the context's git HEAD commit time, else 0.
pub fn resolve(explicit: Option<i64>, context: &Path) -> (i64, EpochSource) {
    if let Some(v) = explicit {
        return (v, EpochSource::Explicit);
    }
    match git_head_time(context) {
        Some(t) => (t, EpochSource::GitHead),
        None => (0, EpochSource::Zero),
    }
}

/// Parses a SOURCE_DATE_EPOCH value (decimal seconds, non-negative).
pub fn parse(value: &str) -> Result<i64, String> {
    let v = value.trim();
    match v.parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(format!(
            "SOURCE_DATE_EPOCH must be a non-negative integer number of seconds, got {value:?}"
        )),
    }
}

fn git_head_time(dir: &Path) -> Option<i64> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["log", "-1", "--format=%ct", "HEAD"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

/// Formats seconds since the epoch as RFC 3339 UTC (`1970-01-01T00:00:00Z`).
pub fn rfc3339(epoch: i64) -> String {
    match jiff::Timestamp::from_second(epoch) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => "1970-01-01T00:00:00Z".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn parses_epoch() {
        assert_eq!(parse("1700000000"), Ok(1_700_000_000));
        assert!(parse("-1").is_err());
        assert!(parse("soon").is_err());
    }

    #[test]
    fn git_head_commit_time_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let st = Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(args)
                .env("GIT_COMMITTER_DATE", "1600000000 +0000")
                .env("GIT_AUTHOR_DATE", "1600000000 +0000")
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(st.success(), "git {args:?}");
        };
        assert_eq!(resolve(None, dir.path()), (0, EpochSource::Zero));
        run(&["init", "-q"]);
        std::fs::write(dir.path().join("f"), "x").unwrap();
        run(&["add", "f"]);
        run(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "m",
        ]);
        assert_eq!(
            resolve(None, dir.path()),
            (1_600_000_000, EpochSource::GitHead)
        );
        assert_eq!(resolve(Some(5), dir.path()), (5, EpochSource::Explicit));
    }
}
