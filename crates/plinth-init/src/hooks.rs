//! Start hooks: `/container/compile`, then every entry of `/container/init.d/`, run by PID 1 one at
//! a time before the service (or the services) start, on every container start.
//!
//! # Behaviour
//!
//! - `/container/compile` runs first when present. It must be an executable file; a present but
//!   non-executable `compile` is an error (make it executable with `chmod +x`).
//! - Then the entries of `/container/init.d/` run in byte order of their names (use numeric prefixes:
//!   `10-migrate`, `20-warm-cache.sh`).
//! - Names starting with `.` (dotfiles) and backup files ending in `~` are skipped.
//! - An executable file runs directly; a non-executable file whose name ends in `.sh` runs with
//!   `/bin/sh FILE`. Symlinks are followed.
//! - A directory, a broken symlink, a non-executable file not ending in `.sh`, or anything that is
//!   not a regular file (fifo, socket, device) is an error naming it: nothing runs then.
//! - A missing `/container/compile` or `/container/init.d` is fine: no hooks.
//! - A hook that fails stops the start; the container exits with the hook's exit code.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::layout::Layout;

/// One hook to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// The hook file.
    pub path: PathBuf,
    /// The command line: `argv[0]` is the program (the file itself, or `/bin/sh` for a
    /// non-executable `*.sh`).
    pub argv: Vec<OsString>,
}

/// Why the hooks cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// A hook path or the `init.d` directory cannot be read.
    #[error("cannot read the hook {path}: {source}; check its permissions")]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A symlink whose target does not exist.
    #[error("the hook {path} is a broken symlink; fix or remove it")]
    BrokenSymlink {
        /// The symlink.
        path: PathBuf,
    },
    /// A directory inside `init.d` (or `compile` is a directory).
    #[error(
        "the hook {path} is a directory; hooks must be files (remove it or move its content up)"
    )]
    Directory {
        /// The directory.
        path: PathBuf,
    },
    /// Not a regular file (fifo, socket, device).
    #[error("the hook {path} is not a regular file; remove it")]
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// A non-executable file in `init.d` whose name does not end in `.sh`.
    #[error(
        "the hook {path} is not executable and does not end in .sh; run `chmod +x` on it or rename it to *.sh"
    )]
    NotExecutable {
        /// The file.
        path: PathBuf,
    },
    /// `/container/compile` exists but is not executable.
    #[error("{path} exists but is not executable; run `chmod +x` on it")]
    CompileNotExecutable {
        /// The file.
        path: PathBuf,
    },
    /// `init.d` exists but is not a directory.
    #[error("{path} is not a directory; init.d must be a directory of hooks")]
    InitDNotDirectory {
        /// The path.
        path: PathBuf,
    },
}

enum Found {
    Executable,
    Plain,
}

/// Checks one hook path; `Ok(None)` when it does not exist at all.
fn inspect(path: &Path) -> Result<Option<Found>, HookError> {
    let read = |source| HookError::Read {
        path: path.to_path_buf(),
        source,
    };
    let link = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read(e)),
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound && link.file_type().is_symlink() => {
            return Err(HookError::BrokenSymlink {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(read(e)),
    };
    if meta.is_dir() {
        return Err(HookError::Directory {
            path: path.to_path_buf(),
        });
    }
    if !meta.is_file() {
        return Err(HookError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    Ok(Some(if meta.permissions().mode() & 0o111 != 0 {
        Found::Executable
    } else {
        Found::Plain
    }))
}

/// The hooks to run, in order: `compile` first (if present), then `init.d` entries sorted by byte name.
pub fn hooks(layout: &Layout) -> Result<Vec<Hook>, HookError> {
    let mut out = Vec::new();
    let compile = layout.compile_hook();
    match inspect(&compile)? {
        None => {}
        Some(Found::Executable) => out.push(Hook {
            argv: vec![compile.clone().into_os_string()],
            path: compile,
        }),
        Some(Found::Plain) => return Err(HookError::CompileNotExecutable { path: compile }),
    }

    let dir = layout.init_d();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
            return Err(HookError::InitDNotDirectory { path: dir });
        }
        Err(source) => return Err(HookError::Read { path: dir, source }),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| HookError::Read {
            path: dir.clone(),
            source,
        })?;
        let name = entry.file_name();
        let b = name.as_bytes();
        if b.starts_with(b".") || b.ends_with(b"~") {
            continue;
        }
        names.push(name);
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let path = dir.join(&name);
        let argv = match inspect(&path)? {
            // Removed between listing and inspection: nothing to run.
            None => continue,
            Some(Found::Executable) => vec![path.clone().into_os_string()],
            Some(Found::Plain) if name.as_bytes().ends_with(b".sh") => {
                vec![OsString::from("/bin/sh"), path.clone().into_os_string()]
            }
            Some(Found::Plain) => return Err(HookError::NotExecutable { path }),
        };
        out.push(Hook { path, argv });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::process::Command;

    fn layout(root: &Path) -> Layout {
        Layout {
            app: root.join("application"),
            container: root.join("container"),
        }
    }

    /// Runs a hook; retries "text file busy", which a parallel test's fork can cause briefly.
    fn run(h: &[OsString]) -> std::process::ExitStatus {
        for _ in 0..50 {
            match Command::new(&h[0]).args(&h[1..]).status() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other.expect("run hook"),
            }
        }
        panic!("hook stayed busy: {h:?}");
    }

    fn write(path: &Path, body: &str, mode: u32) {
        fs::write(path, body).expect("write");
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn missing_everything_means_no_hooks() {
        let t = tempfile::tempdir().expect("tempdir");
        assert!(hooks(&layout(t.path())).expect("ok").is_empty());
    }

    #[test]
    fn order_skips_and_sh_fallback_and_they_really_run() {
        let t = tempfile::tempdir().expect("tempdir");
        let l = layout(t.path());
        let d = l.init_d();
        fs::create_dir_all(&d).expect("mkdir");
        let log = t.path().join("log");
        let line = |w: &str| format!("#!/bin/sh\necho {w} >> {}\n", log.display());
        write(&l.compile_hook(), &line("compile"), 0o755);
        write(&d.join("20-b"), &line("b"), 0o755);
        write(&d.join("10-a.sh"), &line("a"), 0o644);
        write(&d.join("B-upper"), &line("upper"), 0o700);
        write(&d.join(".hidden"), "not a hook", 0o644);
        write(&d.join("30-c~"), "backup", 0o644);

        let hs = hooks(&l).expect("hooks");
        let names: Vec<String> = hs
            .iter()
            .map(|h| {
                h.path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(names, ["compile", "10-a.sh", "20-b", "B-upper"]);
        assert_eq!(hs[1].argv[0], OsString::from("/bin/sh"));
        assert_eq!(hs[2].argv, [d.join("20-b").into_os_string()]);

        for h in &hs {
            let st = run(&h.argv);
            assert!(st.success());
        }
        assert_eq!(
            fs::read_to_string(&log).expect("log"),
            "compile\na\nb\nupper\n"
        );
    }

    #[test]
    fn bad_entries_are_errors_naming_them() {
        let t = tempfile::tempdir().expect("tempdir");
        let l = layout(t.path());
        let d = l.init_d();
        fs::create_dir_all(d.join("10-dir")).expect("mkdir");
        let e = hooks(&l).expect_err("dir");
        assert!(
            matches!(e, HookError::Directory { .. }) && e.to_string().contains("10-dir"),
            "{e}"
        );
        fs::remove_dir(d.join("10-dir")).expect("rmdir");

        std::os::unix::fs::symlink(t.path().join("nowhere"), d.join("20-link")).expect("symlink");
        let e = hooks(&l).expect_err("broken");
        assert!(
            matches!(e, HookError::BrokenSymlink { .. }) && e.to_string().contains("20-link"),
            "{e}"
        );
        fs::remove_file(d.join("20-link")).expect("rm");

        write(&d.join("30-plain"), "echo", 0o644);
        let e = hooks(&l).expect_err("plain");
        assert!(
            matches!(e, HookError::NotExecutable { .. }) && e.to_string().contains("30-plain"),
            "{e}"
        );
        fs::remove_file(d.join("30-plain")).expect("rm");

        write(&l.compile_hook(), "echo", 0o644);
        let e = hooks(&l).expect_err("compile");
        assert!(matches!(e, HookError::CompileNotExecutable { .. }), "{e}");
        write(&l.compile_hook(), "echo", 0o755);
        assert_eq!(hooks(&l).expect("ok").len(), 1);
    }

    #[test]
    fn symlink_to_executable_is_followed() {
        let t = tempfile::tempdir().expect("tempdir");
        let l = layout(t.path());
        fs::create_dir_all(l.init_d()).expect("mkdir");
        let target = t.path().join("real");
        write(&target, "#!/bin/sh\nexit 3\n", 0o755);
        std::os::unix::fs::symlink(&target, l.init_d().join("50-link")).expect("symlink");
        let hs = hooks(&l).expect("ok");
        assert_eq!(hs.len(), 1);
        let st = run(&hs[0].argv);
        assert_eq!(st.code(), Some(3));
    }
}
