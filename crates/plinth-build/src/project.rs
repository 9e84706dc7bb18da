//! `plinth.toml`, the project file: for now its named build contexts (`[contexts.NAME]`), which
//! a Dockerfile uses as `FROM NAME` in the spirit of BuildKit's named contexts. A context of
//! type `debian` is a root filesystem made from a Debian mirror (see [`crate::debian`]).
//!
//! ```toml
//! [contexts.debian-bookworm]
//! suite = "bookworm"
//! variant = "minbase"          # essential, apt, minbase/required, important, standard, custom
//! components = ["main"]
//! include = ["ca-certificates"]
//! exclude = []
//! # architecture = "amd64"     # default: the host's
//! # mirror = "http://deb.debian.org/debian"   # default: the host's apt sources for the suite
//! # sources = [{ uri = "...", suite = "bookworm-updates" }]   # instead of mirror: every suite
//! # keyring = "keys/archive.gpg"   # default: Debian's archive keyring, built in
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use plinth_debian::resolve::Variant;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::debian::sources::{AptSource, SuiteSource, default_suites};
use crate::debian::{RootfsSpec, host_architecture};

/// The project file's name.
pub const PROJECT_FILE: &str = "plinth.toml";
/// The lock file's name (next to the project file).
pub const LOCK_FILE: &str = "plinth.lock";

/// Errors of the project file.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("{}: there is no context {name:?} (contexts: {known})", path.display())]
    UnknownContext {
        path: PathBuf,
        name: String,
        known: String,
    },
}

/// The parsed file.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "plinth.toml",
    description = "The project file of plinth: an image family and its named build contexts."
)]
pub struct ProjectFile {
    /// The image family this repository holds (`[family]`).
    #[serde(default)]
    pub family: Option<FamilyConfig>,
    #[serde(default)]
    pub contexts: BTreeMap<String, ContextConfig>,
    /// `plinth lint`'s settings (`[lint]`): ignored rules, severity overrides, the failure
    /// threshold, trusted registries, required labels and custom rules.
    #[serde(default)]
    pub lint: Option<plinth_lint::LintConfig>,
}

/// `[family]`: the family's identity and tag and label policy.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FamilyConfig {
    pub name: String,
    /// The family version (semver); a `vX.Y.Z` git tag on HEAD must agree with it.
    #[serde(default)]
    pub version: Option<String>,
    /// Registry host, e.g. `registry.example.com`.
    #[serde(default)]
    pub registry: Option<String>,
    /// Repository namespace under the registry, e.g. `base`.
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub license: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub documentation: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// A tag suffix for every version tag (`bookworm` gives `1.2.3-bookworm`).
    #[serde(default)]
    pub variant: Option<String>,
    /// The unique tag's template (`{branch}`, `{sha}`, `{time}`, `{version}`, `{variant}`).
    #[serde(default)]
    pub tag_template: Option<String>,
    /// Whether `plinth push` refuses to move a full-version tag (`1.2.3`, `1.2.3-bookworm`) that
    /// the registry has at another digest (default true); the unique tag never moves.
    #[serde(default)]
    pub immutable_version_tags: Option<bool>,
    /// Where the images are (`<dir>/<name>/Dockerfile`), relative to plinth.toml.
    #[serde(default = "default_images_dir")]
    pub images_dir: String,
    /// Extra labels on every image.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

fn default_images_dir() -> String {
    "images".to_string()
}

impl FamilyConfig {
    /// [`FamilyConfig::immutable_version_tags`], true unless set false.
    pub fn version_tags_immutable(&self) -> bool {
        self.immutable_version_tags.unwrap_or(true)
    }

    /// `registry/namespace`, the prefix of the family's image names, when set.
    pub fn prefix(&self) -> Option<String> {
        match (&self.registry, &self.namespace) {
            (Some(r), Some(n)) => Some(format!("{r}/{n}")),
            (Some(r), None) => Some(r.clone()),
            (None, Some(n)) => Some(n.clone()),
            (None, None) => None,
        }
    }
}

/// One image of the family: `images/<name>/Dockerfile`.
#[derive(Debug, Clone)]
pub struct FamilyImage {
    pub name: String,
    pub dir: PathBuf,
    pub dockerfile: PathBuf,
}

/// The kind of a named context.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ContextKind {
    /// A Debian root filesystem.
    #[default]
    Debian,
}

/// `[contexts.NAME]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ContextConfig {
    #[serde(rename = "type", default)]
    pub kind: ContextKind,
    pub suite: String,
    /// essential, apt, minbase (= required), important, standard or custom (as mmdebstrap's).
    #[serde(default = "default_variant")]
    #[schemars(with = "VariantName")]
    pub variant: Variant,
    #[serde(default)]
    pub components: Option<Vec<String>>,
    #[serde(default)]
    pub architecture: Option<String>,
    #[serde(default)]
    pub mirror: Option<String>,
    #[serde(default)]
    pub sources: Option<Vec<SourceConfig>>,
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub keyring: Option<PathBuf>,
}

/// The variant names, for the JSON Schema (the field deserializes into [`Variant`]).
#[derive(JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum VariantName {
    Essential,
    Apt,
    Required,
    Minbase,
    Important,
    Standard,
    Custom,
}

/// The JSON Schema of plinth.toml (committed as `plinth.schema.json`; editors validate the
/// file with it, e.g. taplo with a `#:schema` comment).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(ProjectFile)).unwrap_or_default()
}

fn default_variant() -> Variant {
    Variant::Minbase
}

/// One entry of `sources`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub uri: String,
    pub suite: String,
}

/// A loaded project.
#[derive(Debug, Clone)]
pub struct Project {
    /// The plinth.toml path.
    pub path: PathBuf,
    pub file: ProjectFile,
}

impl Project {
    /// Finds plinth.toml in `start` or the nearest ancestor that has one.
    pub fn find(start: &Path) -> Result<Option<Project>, ProjectError> {
        let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
        for dir in start.ancestors() {
            let p = dir.join(PROJECT_FILE);
            if p.is_file() {
                return Project::load(&p).map(Some);
            }
        }
        Ok(None)
    }

    /// Loads and validates a project file.
    pub fn load(path: &Path) -> Result<Project, ProjectError> {
        let text = fs_err::read_to_string(path).map_err(|source| ProjectError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |message: String| ProjectError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let file: ProjectFile = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        for (name, c) in &file.contexts {
            if !is_simple_name(name) {
                return Err(invalid(format!(
                    "contexts.{name}: a context name is lower-case letters, digits, '-', '_' and '.' (it is used as a FROM name)"
                )));
            }
            if c.mirror.is_some() && c.sources.is_some() {
                return Err(invalid(format!(
                    "contexts.{name}: give either `mirror` or `sources`, not both"
                )));
            }
            if c.suite.trim().is_empty() || c.suite.contains(['/', ' ']) {
                return Err(invalid(format!(
                    "contexts.{name}.suite: {:?} is not a suite name",
                    c.suite
                )));
            }
            for s in c.sources.iter().flatten() {
                check_uri(&s.uri).map_err(|m| invalid(format!("contexts.{name}.sources: {m}")))?;
            }
            if let Some(m) = &c.mirror {
                check_uri(m).map_err(|m| invalid(format!("contexts.{name}.mirror: {m}")))?;
            }
        }
        Ok(Project {
            path: path.to_path_buf(),
            file,
        })
    }

    /// The family's images: every `<images-dir>/<name>/Dockerfile`, in name order. Errors
    /// when the file has no `[family]` table or the images directory cannot be read.
    pub fn family_images(&self) -> Result<Vec<FamilyImage>, ProjectError> {
        let Some(f) = &self.file.family else {
            return Err(ProjectError::Invalid {
                path: self.path.clone(),
                message: "there is no [family] table: declare the family (name, version...) first"
                    .into(),
            });
        };
        let root = self.dir().join(&f.images_dir);
        let read = |source| ProjectError::Read {
            path: root.clone(),
            source,
        };
        let mut out = Vec::new();
        for entry in fs_err::read_dir(&root).map_err(read)? {
            let entry = entry.map_err(read)?;
            let dir = entry.path();
            let dockerfile = dir.join("Dockerfile");
            if !dockerfile.is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if !is_simple_name(&name) {
                return Err(ProjectError::Invalid {
                    path: dir,
                    message: "an image directory name must be lower-case letters, digits, '-', '_' or '.' (it is the image's name)".into(),
                });
            }
            out.push(FamilyImage {
                name,
                dir,
                dockerfile,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The directory of plinth.toml.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// `path` as messages show it: relative to the project's directory when inside it
    /// (`images/base-root/Dockerfile`).
    pub fn shown(&self, path: &Path) -> String {
        path.strip_prefix(self.dir())
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// plinth.lock next to plinth.toml.
    pub fn lock_path(&self) -> PathBuf {
        self.dir().join(LOCK_FILE)
    }

    /// The root filesystem spec of context `name`; `host` are the host's apt sources (used when
    /// the context names no mirror).
    pub fn rootfs_spec(&self, name: &str, host: &[AptSource]) -> Result<RootfsSpec, ProjectError> {
        let c = self
            .file
            .contexts
            .get(name)
            .ok_or_else(|| ProjectError::UnknownContext {
                path: self.path.clone(),
                name: name.to_string(),
                known: self
                    .file
                    .contexts
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        Ok(spec_from(name, c, host, self.dir()))
    }
}

/// A context or image name: lower-case letters, digits, `-`, `_` and `.` (usable as a FROM name
/// and as an image name).
fn is_simple_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}

fn check_uri(uri: &str) -> Result<(), String> {
    if uri.starts_with("http://") || uri.starts_with("https://") || uri.starts_with("file:///") {
        Ok(())
    } else {
        Err(format!(
            "{uri:?} is not an http://, https:// or file:/// URI"
        ))
    }
}

/// Builds a spec from a context's settings.
pub fn spec_from(name: &str, c: &ContextConfig, host: &[AptSource], base_dir: &Path) -> RootfsSpec {
    let sources = match (&c.sources, &c.mirror) {
        (Some(s), _) => s
            .iter()
            .map(|s| SuiteSource {
                uri: s.uri.trim_end_matches('/').to_string(),
                suite: s.suite.clone(),
            })
            .collect(),
        (None, Some(m)) => vec![SuiteSource {
            uri: m.trim_end_matches('/').to_string(),
            suite: c.suite.clone(),
        }],
        (None, None) => default_suites(host, &c.suite),
    };
    RootfsSpec {
        name: name.to_string(),
        suite: c.suite.clone(),
        variant: c.variant,
        components: c
            .components
            .clone()
            .unwrap_or_else(|| vec!["main".to_string()]),
        architecture: c
            .architecture
            .clone()
            .unwrap_or_else(|| host_architecture().to_string()),
        sources,
        include: c.include.clone(),
        exclude: c.exclude.clone(),
        keyring: c.keyring.as_ref().map(|k| base_dir.join(k)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Project, ProjectError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(PROJECT_FILE);
        fs_err::write(&p, text).unwrap();
        Project::load(&p)
    }

    #[test]
    fn contexts_load_with_defaults() {
        let p = load("[contexts.debian-bookworm]\nsuite = \"bookworm\"\ninclude = [\"curl\"]\n")
            .unwrap();
        let host = crate::debian::sources::parse_one_line(
            "deb http://m/debian bookworm main\ndeb http://m/debian-security bookworm-security main\n",
        );
        let spec = p.rootfs_spec("debian-bookworm", &host).unwrap();
        assert_eq!(spec.variant, Variant::Minbase);
        assert_eq!(spec.components, ["main"]);
        assert_eq!(spec.include, ["curl"]);
        assert_eq!(spec.sources.len(), 2);
        assert_eq!(spec.sources[1].suite, "bookworm-security");
        let err = p.rootfs_spec("nope", &host).unwrap_err().to_string();
        assert!(
            err.contains("no context \"nope\"") && err.contains("debian-bookworm"),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let err = load("[contexts.x]\nsuite = \"bookworm\"\nvariant = \"tiny\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
        let err = load("[contexts.x]\nsuit = \"bookworm\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("suit"), "{err}");
        let err = load("[contexts.Bad]\nsuite = \"bookworm\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("contexts.Bad"), "{err}");
        let err = load("[contexts.x]\nsuite = \"bookworm\"\nmirror = \"ftp://m\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mirror"), "{err}");
        let err = load("[contexts.x]\nsuite = \"bookworm\"\nmirror = \"http://a\"\nsources = [{uri = \"http://b\", suite = \"s\"}]\n").unwrap_err().to_string();
        assert!(err.contains("either"), "{err}");
    }

    #[test]
    fn the_committed_json_schema_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plinth.schema.json");
        let generated = format!(
            "{}\n",
            serde_json::to_string_pretty(&json_schema()).unwrap()
        );
        if std::env::var_os("PLINTH_UPDATE_SCHEMA").is_some() {
            fs_err::write(&path, &generated).unwrap();
        }
        let committed = fs_err::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "plinth.schema.json is stale: run `PLINTH_UPDATE_SCHEMA=1 cargo test -p plinth-build --lib project` and commit it"
        );
        // The schema knows the tables and refuses unknown keys, as the loader does.
        let v = json_schema();
        assert!(v["properties"]["family"].is_object(), "{v}");
        assert!(v["properties"]["contexts"].is_object(), "{v}");
        assert_eq!(v["additionalProperties"], serde_json::json!(false), "{v}");
        assert!(generated.contains("\"minbase\""), "variant names listed");
    }

    #[test]
    fn settings_digest_changes_with_the_settings() {
        let a = load("[contexts.x]\nsuite = \"bookworm\"\nmirror = \"http://m/debian\"\n").unwrap();
        let b = load("[contexts.x]\nsuite = \"bookworm\"\nmirror = \"http://m/debian\"\ninclude = [\"curl\"]\n").unwrap();
        let sa = a.rootfs_spec("x", &[]).unwrap();
        let sb = b.rootfs_spec("x", &[]).unwrap();
        assert_ne!(sa.settings_digest(), sb.settings_digest());
        assert_eq!(
            sa.settings_digest(),
            a.rootfs_spec("x", &[]).unwrap().settings_digest()
        );
    }
}
