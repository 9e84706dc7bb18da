//! A Docker credential helper for tests: a shell script `docker-credential-NAME` that keeps each
//! stored login's JSON in a file of its own (the server URL, other bytes than `A-Za-z0-9.` as
//! `_`), answers `get` and `erase` from there like a real helper ("credentials not found in
//! native keychain", exit 1, for an unknown server), and fails `store` for the user `explode`
//! with its input echoed (a badly behaved helper).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::Result;

/// Writes `bin/docker-credential-NAME` keeping logins in `store` (created), appending each
/// action (`store`, `get`, `erase`) to `log` when given; returns the script's path.
pub fn file_credential_helper(
    bin: &Path,
    name: &str,
    store: &Path,
    log: Option<&Path>,
) -> Result<PathBuf> {
    fs_err::create_dir_all(bin)?;
    fs_err::create_dir_all(store)?;
    let log_line = match log {
        Some(l) => format!("echo \"$1\" >> '{}'\n", l.display()),
        None => String::new(),
    };
    let script = format!(
        r#"#!/bin/sh
store='{store}'
{log_line}key() {{ printf '%s' "$1" | tr -c 'A-Za-z0-9.' _; }}
case "$1" in
  store)
    input=$(cat)
    case "$input" in *'"Username":"explode"'*) echo "cannot store $input" >&2; exit 1 ;; esac
    server=$(printf '%s' "$input" | sed -n 's/.*"ServerURL":"\([^"]*\)".*/\1/p')
    printf '%s' "$input" > "$store/$(key "$server")" ;;
  get)
    read -r server
    f="$store/$(key "$server")"
    [ -f "$f" ] || {{ echo "credentials not found in native keychain"; exit 1; }}
    cat "$f" ;;
  erase)
    read -r server
    f="$store/$(key "$server")"
    [ -f "$f" ] || {{ echo "credentials not found in native keychain"; exit 1; }}
    rm "$f" ;;
  *) exit 2 ;;
esac
"#,
        store = store.display(),
    );
    let helper = bin.join(format!("docker-credential-{name}"));
    fs_err::write(&helper, script)?;
    fs_err::set_permissions(&helper, std::fs::Permissions::from_mode(0o755))?;
    Ok(helper)
}
