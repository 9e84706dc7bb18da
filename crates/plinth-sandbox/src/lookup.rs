//! `args[0]` resolution through `$PATH` of the command's environment, as runc does with Go's
//! `exec.LookPath`: a name containing `/` is used as is; otherwise each `PATH` entry (an
//! empty entry meaning `.`) is tried in order and the first candidate that is not a
//! directory and has an execute bit wins. The last `PATH=` of the environment counts; no
//! `PATH` means nothing is searched.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::ExecFailure;

/// The value of the last `PATH=` entry of `env`.
pub(crate) fn path_var(env: &[String]) -> Option<&str> {
    env.iter().rev().find_map(|e| e.strip_prefix("PATH="))
}

/// Resolves `program` with `is_executable` deciding about candidates.
pub(crate) fn lookup_with(
    program: &str,
    path: Option<&str>,
    is_executable: impl Fn(&Path) -> bool,
) -> Result<PathBuf, (ExecFailure, String)> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    // Go's filepath.SplitList("") is empty: no PATH searches nothing.
    let dirs = path.filter(|p| !p.is_empty()).map(|p| p.split(':'));
    for dir in dirs.into_iter().flatten() {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(program);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err((
        ExecFailure::NotFound,
        format!("exec: {program:?}: executable file not found in $PATH"),
    ))
}

/// Resolves `program` against the real filesystem (used inside the container).
pub(crate) fn lookup(program: &str, env: &[String]) -> Result<PathBuf, (ExecFailure, String)> {
    lookup_with(program, path_var(env), |p| {
        std::fs::metadata(p).is_ok_and(|m| !m.is_dir() && m.permissions().mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn last_path_entry_wins() {
        let env = vec!["PATH=/a".to_string(), "X=1".into(), "PATH=/b:/c".into()];
        assert_eq!(path_var(&env), Some("/b:/c"));
        assert_eq!(path_var(&["PATHX=/a".to_string()]), None);
    }

    #[test]
    fn first_executable_candidate_in_order() {
        let found = lookup_with("sh", Some("/x:/bin:/usr/bin"), |p| {
            p == Path::new("/bin/sh") || p == Path::new("/usr/bin/sh")
        });
        assert_eq!(found, Ok(PathBuf::from("/bin/sh")));
    }

    #[test]
    fn empty_entry_means_current_dir_and_slash_names_are_kept() {
        let found = lookup_with("tool", Some("/none::/also"), |p| p == Path::new("./tool"));
        assert_eq!(found, Ok(PathBuf::from("./tool")));
        assert_eq!(
            lookup_with("./x/y", None, |_| false),
            Ok(PathBuf::from("./x/y"))
        );
    }

    #[test]
    fn not_found_message_is_dockers() {
        for path in [None, Some(""), Some("/a:/b")] {
            let err = lookup_with("nope", path, |_| false).expect_err("not found");
            assert_eq!(err.0, ExecFailure::NotFound);
            assert_eq!(err.1, "exec: \"nope\": executable file not found in $PATH");
        }
    }

    #[test]
    fn real_lookup_skips_directories_and_non_executables() {
        let t = tempfile::tempdir().expect("tempdir");
        let (a, b, c) = (t.path().join("a"), t.path().join("b"), t.path().join("c"));
        for d in [&a, &b, &c] {
            fs_err::create_dir(d).expect("mkdir");
        }
        fs_err::create_dir(a.join("prog")).expect("dir named prog");
        fs_err::write(b.join("prog"), "x").expect("write");
        fs_err::set_permissions(b.join("prog"), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        fs_err::write(c.join("prog"), "x").expect("write");
        fs_err::set_permissions(c.join("prog"), std::fs::Permissions::from_mode(0o700))
            .expect("chmod");
        let env = vec![format!(
            "PATH={}:{}:{}",
            a.display(),
            b.display(),
            c.display()
        )];
        assert_eq!(lookup("prog", &env), Ok(c.join("prog")));
    }
}
