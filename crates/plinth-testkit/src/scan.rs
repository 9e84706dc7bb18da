//! Searching a directory tree for secrets: every regular file is read as bytes.

use std::path::{Path, PathBuf};

use crate::Result;

/// The files under `root` (recursively, symlinks not followed) whose bytes contain any of
/// `needles`, each with the first needle found in it. Empty needles are ignored.
pub fn files_containing(root: &Path, needles: &[&[u8]]) -> Result<Vec<(PathBuf, String)>> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs_err::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() {
                let bytes = fs_err::read(&path)?;
                if let Some(n) = needles
                    .iter()
                    .find(|n| !n.is_empty() && bytes.windows(n.len()).any(|w| w == **n))
                {
                    found.push((path, String::from_utf8_lossy(n).into_owned()));
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::files_containing;

    #[test]
    fn finds_needles_in_nested_files_only() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::write(d.path().join("a/b/hit"), b"\x00xx s3cret yy").unwrap();
        std::fs::write(d.path().join("a/miss"), b"s3cre t").unwrap();
        let found = files_containing(d.path(), &[b"", b"s3cret"]).unwrap();
        assert_eq!(found, [(d.path().join("a/b/hit"), "s3cret".to_string())]);
        assert!(files_containing(d.path(), &[b"nope"]).unwrap().is_empty());
    }
}
