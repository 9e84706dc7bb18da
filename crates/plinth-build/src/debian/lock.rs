//! `plinth.lock`: what each Debian root filesystem context resolved to — every package's name,
//! version, architecture, size, path and SHA-256, and each Release file's date — so that the
//! same lock gives the same root filesystem (and the same layer digest) later, without asking
//! the mirror's current indexes.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DebianError;
use super::sources::SuiteSource;

/// The lock file format version plinth writes and reads.
pub const LOCK_VERSION: u32 = 1;

/// The whole lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub version: u32,
    /// One entry per root filesystem context, in name order.
    #[serde(default, rename = "rootfs")]
    pub rootfs: Vec<LockedRootfs>,
}

/// What one context resolved to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedRootfs {
    /// The context's name in plinth.toml (or the `plinth rootfs` target).
    pub context: String,
    /// A digest of the context's settings; when they change, the lock entry is stale.
    pub settings: String,
    pub suite: String,
    pub variant: String,
    pub architecture: String,
    #[serde(rename = "release")]
    pub releases: Vec<LockedRelease>,
    #[serde(rename = "package")]
    pub packages: Vec<LockedPackage>,
}

/// A Release file the resolution read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedRelease {
    pub uri: String,
    pub suite: String,
    /// The Release file's `Date:` field.
    pub date: String,
}

/// A package of the root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    pub architecture: String,
    pub sha256: String,
    pub size: u64,
    /// The path of the .deb below the mirror URI of `release`.
    pub filename: String,
    /// Index into the entry's releases: the mirror it is downloaded from.
    pub release: usize,
    /// Pulled in as a dependency (not asked for by the variant or `include`): marked
    /// automatically installed for apt (`/var/lib/apt/extended_states`), as apt would.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto: bool,
}

impl LockedRootfs {
    /// The suite sources, in lock order.
    pub fn sources(&self) -> Vec<SuiteSource> {
        self.releases
            .iter()
            .map(|r| SuiteSource {
                uri: r.uri.clone(),
                suite: r.suite.clone(),
            })
            .collect()
    }

    /// SOURCE_DATE_EPOCH of the root filesystem: the newest Release date, like debuerreotype.
    pub fn epoch(&self) -> Result<i64, DebianError> {
        let mut newest = None;
        for r in &self.releases {
            // The parser that checked the Release file when it was fetched.
            let t = plinth_debian::release::parse_rfc2822(&r.date).ok_or_else(|| {
                DebianError::LockFile {
                    path: PathBuf::new(),
                    message: format!("release {} {}: bad date {:?}", r.uri, r.suite, r.date),
                }
            })?;
            newest = Some(newest.map_or(t, |n: i64| n.max(t)));
        }
        newest.ok_or_else(|| DebianError::LockFile {
            path: PathBuf::new(),
            message: format!("context {:?} has no release", self.context),
        })
    }

    /// Checks internal consistency (indexes in range, hex hashes, no duplicate names).
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = BTreeMap::new();
        for p in &self.packages {
            if p.release >= self.releases.len() {
                return Err(format!(
                    "package {} names release {} of {}",
                    p.name,
                    p.release,
                    self.releases.len()
                ));
            }
            if p.sha256.len() != 64
                || !p
                    .sha256
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            {
                return Err(format!(
                    "package {} has a bad sha256 {:?}",
                    p.name, p.sha256
                ));
            }
            if p.filename.split('/').any(|c| c == ".." || c.is_empty()) {
                return Err(format!(
                    "package {} has a bad filename {:?}",
                    p.name, p.filename
                ));
            }
            if seen.insert(p.name.clone(), ()).is_some() {
                return Err(format!("package {} is listed twice", p.name));
            }
        }
        Ok(())
    }

    /// What differs between `self` (the lock) and `other` (a new resolution), a line each
    /// (`+ name version`, `- name version`, `~ name old -> new`, release changes).
    pub fn differences(&self, other: &LockedRootfs) -> Vec<String> {
        let mut out = Vec::new();
        if self.settings != other.settings {
            out.push("the context's settings changed".to_string());
        }
        let a: BTreeMap<&str, &LockedPackage> =
            self.packages.iter().map(|p| (p.name.as_str(), p)).collect();
        let b: BTreeMap<&str, &LockedPackage> = other
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p))
            .collect();
        for (name, p) in &a {
            match b.get(name) {
                None => out.push(format!("- {name} {}", p.version)),
                Some(q) if q.version != p.version || q.architecture != p.architecture => {
                    out.push(format!("~ {name} {} -> {}", p.version, q.version))
                }
                Some(q) if q.sha256 != p.sha256 => {
                    out.push(format!("~ {name} {}: the .deb's sha256 changed", p.version))
                }
                Some(_) => {}
            }
        }
        for (name, q) in &b {
            if !a.contains_key(name) {
                out.push(format!("+ {name} {}", q.version));
            }
        }
        out
    }
}

impl LockFile {
    /// Reads a lock file; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<LockFile>, DebianError> {
        let text = match fs_err::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let bad = |message: String| DebianError::LockFile {
            path: path.to_path_buf(),
            message,
        };
        let lock: LockFile = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if lock.version != LOCK_VERSION {
            return Err(bad(format!(
                "version {} is not supported by this plinth (it reads version {LOCK_VERSION}); run `plinth lock --update`",
                lock.version
            )));
        }
        for r in &lock.rootfs {
            r.validate()
                .map_err(|m| bad(format!("context {:?}: {m}", r.context)))?;
        }
        Ok(Some(lock))
    }

    /// The entry of `context`.
    pub fn get(&self, context: &str) -> Option<&LockedRootfs> {
        self.rootfs.iter().find(|r| r.context == context)
    }

    /// Adds or replaces the entry of `entry.context`, keeping entries in name order.
    pub fn put(&mut self, entry: LockedRootfs) {
        self.version = LOCK_VERSION;
        self.rootfs.retain(|r| r.context != entry.context);
        self.rootfs.push(entry);
        self.rootfs.sort_by(|a, b| a.context.cmp(&b.context));
    }

    /// The lock as TOML, with a header saying what the file is.
    pub fn to_toml(&self) -> Result<String, DebianError> {
        let body = toml::to_string(self).map_err(|e| DebianError::Internal(e.to_string()))?;
        Ok(format!(
            "# plinth.lock: the packages each Debian root filesystem resolved to.\n# Written by `plinth lock`; refresh it with `plinth lock --update`.\n\n{body}"
        ))
    }

    /// Writes the lock atomically (temp file + rename in the same directory).
    pub fn write(&self, path: &Path) -> Result<(), DebianError> {
        let text = self.to_toml()?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // A lock is a shared, committed file: the old one's mode, else rw-r--r-- (a temp file
        // alone would be 0600).
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o644);
        let mut tmp = tempfile::Builder::new()
            .prefix(".plinth.lock-")
            .tempfile_in(dir)
            .map_err(|source| DebianError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        // Set explicitly: the mode given at creation would be cut by the umask.
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|source| DebianError::Io {
                path: tmp.path().to_path_buf(),
                source,
            })?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(|source| DebianError::Io {
            path: tmp.path().to_path_buf(),
            source,
        })?;
        tmp.persist(path).map_err(|e| DebianError::Io {
            path: path.to_path_buf(),
            source: e.error,
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_lock_is_world_readable_and_a_rewritten_one_keeps_its_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("plinth.lock");
        let lock = LockFile::default();
        lock.write(&path).expect("write");
        let mode = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o777)
                .ok()
        };
        assert_eq!(mode(&path), Some(0o644));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).expect("chmod");
        lock.write(&path).expect("rewrite");
        assert_eq!(mode(&path), Some(0o664));
    }

    fn entry() -> LockedRootfs {
        LockedRootfs {
            context: "debian-bookworm".into(),
            settings: "sha256:00".into(),
            suite: "bookworm".into(),
            variant: "minbase".into(),
            architecture: "amd64".into(),
            releases: vec![LockedRelease {
                uri: "http://deb.debian.org/debian".into(),
                suite: "bookworm".into(),
                date: "Sat, 10 May 2025 09:08:47 UTC".into(),
            }],
            packages: vec![LockedPackage {
                name: "dash".into(),
                version: "0.5.12-2".into(),
                architecture: "amd64".into(),
                sha256: "a".repeat(64),
                size: 100,
                filename: "pool/main/d/dash/dash_0.5.12-2_amd64.deb".into(),
                release: 0,
                auto: false,
            }],
        }
    }

    #[test]
    fn round_trip_and_epoch() {
        let mut lock = LockFile::default();
        lock.put(entry());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plinth.lock");
        lock.write(&path).unwrap();
        let text = fs_err::read_to_string(&path).unwrap();
        assert!(text.starts_with("# plinth.lock"));
        assert!(text.contains("[[rootfs.package]]"), "{text}");
        let back = LockFile::read(&path).unwrap().unwrap();
        assert_eq!(back, lock);
        assert_eq!(
            back.get("debian-bookworm").unwrap().epoch().unwrap(),
            1746868127
        );
        assert!(
            LockFile::read(&dir.path().join("missing"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn bad_locks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plinth.lock");
        let mut lock = LockFile::default();
        let mut e = entry();
        e.packages[0].filename = "../../etc/passwd".into();
        lock.put(e);
        lock.write(&path).unwrap();
        let err = LockFile::read(&path).unwrap_err().to_string();
        assert!(err.contains("bad filename"), "{err}");
        fs_err::write(&path, "version = 7\n").unwrap();
        let err = LockFile::read(&path).unwrap_err().to_string();
        assert!(err.contains("version 7"), "{err}");
        fs_err::write(&path, "version = 1\nbogus = 1\n").unwrap();
        assert!(LockFile::read(&path).is_err());
    }

    #[test]
    fn differences_name_each_change() {
        let a = entry();
        let mut b = entry();
        b.packages[0].version = "0.5.12-3".into();
        b.packages.push(LockedPackage {
            name: "zlib1g".into(),
            ..a.packages[0].clone()
        });
        assert_eq!(
            a.differences(&b),
            ["~ dash 0.5.12-2 -> 0.5.12-3", "+ zlib1g 0.5.12-2"]
        );
        assert!(a.differences(&a).is_empty());
    }
}
