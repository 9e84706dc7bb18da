//! Test files: reading plinth's own format ([`plinth`]), container-structure-test 2.0.0
//! files ([`cst`]) and goss files ([`goss`]) into the one model of [`crate::model`].
//!
//! [`load`] reads a file, recognises its format and parses it; [`parse`] does the same with
//! text already read. The format is recognised by the file's top-level keys:
//!
//! - `schemaVersion` → container-structure-test (it must be `"2.0.0"`);
//! - `check` → plinth's format (a `.toml` file is always plinth's format, in TOML syntax);
//! - any of goss's resource keys (`file`, `package`, `port`, `process`, `user`, `group`,
//!   `command`, `http`, `addr`, `mount`, `matching`, `service`, `interface`, `kernel-param`,
//!   `dns`, `gossfile`) → goss, after rendering its `{{.Vars.x}}` / `{{.Env.X}}` templates.
//!
//! `.yaml`, `.yml` and `.json` files are read as YAML (JSON is YAML). Every key a format
//! defines either means in plinth what it means in the original tool, or is an error naming
//! the key and its `file:line`: nothing is silently skipped.

pub mod cst;
pub mod goss;
pub mod plinth;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::model::{Format, Suite};

pub use plinth::json_schema;

/// How test files are read.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// goss's `--vars` values (`{{.Vars.x}}` in goss files), from [`load_vars`].
    pub goss_vars: Option<serde_json::Value>,
}

/// What can go wrong reading a test file.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file could not be read.
    #[error("{source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause (its message names the path).
        source: std::io::Error,
    },
    /// The file is not a valid test file.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What is wrong and what to do.
        message: String,
    },
}

impl FormatError {
    /// An [`FormatError::Invalid`].
    pub(crate) fn invalid(path: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        FormatError::Invalid {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// The line the error is about, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            FormatError::Read { .. } => None,
            FormatError::Invalid { line, .. } => *line,
        }
    }
}

/// goss's top-level resource keys (those plinth reads and those it refuses by name).
pub const GOSS_KEYS: &[&str] = &[
    "file",
    "package",
    "port",
    "process",
    "user",
    "group",
    "command",
    "http",
    "addr",
    "mount",
    "matching",
    "service",
    "interface",
    "kernel-param",
    "dns",
    "gossfile",
];

/// Reads a test file, recognises its format and parses it.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Suite, FormatError> {
    let text = fs_err::read_to_string(path).map_err(|source| FormatError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path, opts)
}

/// Reads goss's `--vars` file (YAML or JSON) into a value for [`LoadOptions::goss_vars`].
pub fn load_vars(path: &Path) -> Result<serde_json::Value, FormatError> {
    let text = fs_err::read_to_string(path).map_err(|source| FormatError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Object(serde_json::Map::new()));
    }
    let value: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|e| yaml_error(&e, path))?;
    if !value.is_object() {
        return Err(FormatError::invalid(
            path,
            Some(1),
            "a vars file must be a mapping of names to values (YAML or JSON)",
        ));
    }
    Ok(value)
}

/// Parses the text of a test file read from `path` (the path names the suite, chooses TOML
/// by its extension and appears in errors).
pub fn parse(text: &str, path: &Path, opts: &LoadOptions) -> Result<Suite, FormatError> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let (format, tests) = match ext.as_deref() {
        Some("toml") => (Format::Plinth, plinth::parse_toml(text, path)?),
        Some("yaml" | "yml" | "json") | None => {
            // goss renders the whole file as a template before reading it as YAML; a
            // template may not even be valid YAML, so look at the top-level keys by line.
            let rendered;
            let text = if text.contains("{{") && looks_like_goss(text) {
                rendered = goss::render(text, path, opts.goss_vars.as_ref())?;
                rendered.as_str()
            } else {
                text
            };
            let format = detect(text, path)?;
            let tests = match format {
                Format::Plinth => plinth::parse_yaml(text, path)?,
                Format::ContainerStructureTest => cst::parse(text, path)?,
                Format::Goss => goss::parse(text, path)?,
            };
            (format, tests)
        }
        Some(other) => {
            return Err(FormatError::invalid(
                path,
                None,
                format!(
                    "test files are .yaml, .yml, .json or .toml, not .{other}: rename the file"
                ),
            ));
        }
    };
    Ok(Suite {
        path: path.to_path_buf(),
        name,
        format,
        tests,
    })
}

/// The format of a YAML test file, from its top-level keys.
pub fn detect(text: &str, path: &Path) -> Result<Format, FormatError> {
    let keys: Vec<serde_saphyr::Spanned<String>> = if text.trim().is_empty() {
        Vec::new()
    } else {
        let map: Option<Vec<(serde_saphyr::Spanned<String>, serde::de::IgnoredAny)>> =
            serde_saphyr::from_str::<Option<KeyList>>(text)
                .map_err(|e| yaml_error(&e, path))?
                .map(|k| k.0);
        map.unwrap_or_default()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    let has = |k: &str| keys.iter().any(|s| s.value == k);
    if has("schemaVersion") {
        return Ok(Format::ContainerStructureTest);
    }
    if has("check") {
        return Ok(Format::Plinth);
    }
    if keys.iter().any(|k| GOSS_KEYS.contains(&k.value.as_str())) {
        return Ok(Format::Goss);
    }
    let found: Vec<&str> = keys.iter().map(|k| k.value.as_str()).collect();
    Err(FormatError::invalid(
        path,
        keys.first().map(|k| k.referenced.line() as usize),
        format!(
            "not a test file: found the top-level keys [{}]; plinth reads its own format (a `check:` list), \
             container-structure-test files (`schemaVersion: 2.0.0`) and goss files (file:, command:, http:...)",
            found.join(", ")
        ),
    ))
}

/// The top-level keys of a YAML mapping, in order.
struct KeyList(Vec<(serde_saphyr::Spanned<String>, serde::de::IgnoredAny)>);

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = KeyList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping of test kinds")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<KeyList, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = m.next_key::<serde_saphyr::Spanned<String>>()? {
                    let v = m.next_value::<serde::de::IgnoredAny>()?;
                    out.push((k, v));
                }
                Ok(KeyList(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Whether a (possibly templated, not yet valid YAML) text's top-level keys are goss's and
/// not container-structure-test's or plinth's.
fn looks_like_goss(text: &str) -> bool {
    let mut goss = false;
    for line in text.lines() {
        if line.starts_with([' ', '\t', '#', '-']) {
            continue;
        }
        let key = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches(['"', '\'']);
        if key == "schemaVersion" || key == "check" {
            return false;
        }
        goss |= GOSS_KEYS.contains(&key);
    }
    goss
}

/// A serde_saphyr error as a [`FormatError`] with its line.
pub(crate) fn yaml_error(e: &serde_saphyr::Error, path: &Path) -> FormatError {
    let line = e.location().map(|l| l.line() as usize).filter(|l| *l > 0);
    let message = e.to_string();
    // serde_saphyr appends the position; the error shows it as file:line already.
    let message = match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    FormatError::invalid(path, line, format!("{message}; fix the test file"))
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .unwrap_or("")
        .matches('\n')
        .count()
        + 1
}

/// A toml error as a [`FormatError`] with its line.
pub(crate) fn toml_error(e: &toml::de::Error, text: &str, path: &Path) -> FormatError {
    let line = e.span().map(|s| line_of(text, s.start));
    FormatError::invalid(
        path,
        line,
        format!("{}; fix the test file", e.message().trim()),
    )
}

/// A string or a list of strings.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged, expecting = "a string or a list of strings")]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// A scalar read as text, as Go's YAML reads a number or boolean into a string field.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, expecting = "a string, number or boolean")]
pub(crate) enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    pub(crate) fn text(self) -> String {
        match self {
            Scalar::Str(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// Checks that a pattern compiles as the runner will compile it (multi-line).
pub(crate) fn check_regex(pattern: &str) -> Result<(), String> {
    regex::RegexBuilder::new(pattern)
        .multi_line(true)
        .build()
        .map(|_| ())
        .map_err(|e| format!("`{pattern}` is not a valid regular expression: {e}"))
}

/// Parses "250ms", "5s", "2m", "1h", or a bare number of seconds: plinth-init's own parser, so
/// a `timeout` means the same in `plinth test` and in `plinth-init health`.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    plinth_init::checks::parse_duration(s.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str, file: &str) -> Result<Suite, FormatError> {
        parse(text, Path::new(file), &LoadOptions::default())
    }

    #[test]
    fn formats_are_recognised_by_their_keys() {
        let s = p(
            "schemaVersion: 2.0.0\nfileExistenceTests:\n- name: a\n  path: /a\n",
            "t.yaml",
        )
        .unwrap();
        assert_eq!(s.format, Format::ContainerStructureTest);
        assert_eq!(s.name, "t");
        let s = p("check:\n- file: /a\n", "u.yml").unwrap();
        assert_eq!(s.format, Format::Plinth);
        let s = p("file:\n  /a:\n    exists: true\n", "g.yaml").unwrap();
        assert_eq!(s.format, Format::Goss);
        let s = p("[[check]]\nfile = \"/a\"\n", "x.toml").unwrap();
        assert_eq!(s.format, Format::Plinth);
        let s = p("{\"schemaVersion\": \"2.0.0\", \"commandTests\": [{\"name\": \"n\", \"command\": \"true\"}]}", "j.json").unwrap();
        assert_eq!(s.format, Format::ContainerStructureTest);
        assert_eq!(s.tests.len(), 1);
    }

    #[test]
    fn an_unknown_file_names_its_keys() {
        let e = p("foo: 1\nbar: 2\n", "t.yaml").unwrap_err().to_string();
        assert!(e.starts_with("t.yaml:1:"), "{e}");
        assert!(e.contains("foo, bar"), "{e}");
        let e = p("check: []\n", "t.txt").unwrap_err().to_string();
        assert!(e.contains(".txt"), "{e}");
    }

    #[test]
    fn a_wrong_schema_version_is_an_error() {
        let e = p("schemaVersion: 1.0.0\ncommandTests: []\n", "t.yaml").unwrap_err();
        assert_eq!(e.line(), Some(1), "{e}");
        assert!(e.to_string().contains("2.0.0"), "{e}");
    }

    #[test]
    fn goss_templates_are_rendered_before_reading() {
        let opts = LoadOptions {
            goss_vars: Some(serde_json::json!({"path": "/etc/app.conf"})),
        };
        let s = parse(
            "file:\n  {{.Vars.path}}:\n    exists: true\n",
            Path::new("g.yaml"),
            &opts,
        )
        .unwrap();
        assert_eq!(s.format, Format::Goss);
        match &s.tests[0].check {
            crate::model::Check::File(f) => assert_eq!(f.path, "/etc/app.conf"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn load_reads_files_and_vars() {
        let dir = tempfile::tempdir().unwrap();
        let vars = dir.path().join("vars.yaml");
        fs_err::write(&vars, "port: 8080\nnested:\n  name: web\n").unwrap();
        let v = load_vars(&vars).unwrap();
        assert_eq!(v["port"], 8080);
        assert_eq!(v["nested"]["name"], "web");
        let json = dir.path().join("vars.json");
        fs_err::write(&json, "{\"a\": [1]}").unwrap();
        assert_eq!(load_vars(&json).unwrap()["a"][0], 1);
        let bad = dir.path().join("bad.yaml");
        fs_err::write(&bad, "- 1\n").unwrap();
        assert!(load_vars(&bad).is_err());
        let goss = dir.path().join("goss.yaml");
        fs_err::write(&goss, "port:\n  tcp:{{.Vars.port}}:\n    listening: true\n").unwrap();
        let s = load(&goss, &LoadOptions { goss_vars: Some(v) }).unwrap();
        match &s.tests[0].check {
            crate::model::Check::Port(p) => assert_eq!(p.port, 8080),
            other => panic!("{other:?}"),
        }
        let e = load(&dir.path().join("missing.yaml"), &LoadOptions::default()).unwrap_err();
        assert!(e.to_string().contains("missing.yaml"), "{e}");
    }

    #[test]
    fn durations_parse_like_plinth_init() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_duration("5x"), None);
    }
}
