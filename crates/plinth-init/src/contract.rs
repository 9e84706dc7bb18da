//! The environment contract: `/application/env.toml` declares the environment variables the
//! service reads, and plinth-init checks the real environment against it before the service starts.
//! `plinth-init env` renders the same file as the image's API documentation (text, JSON, Markdown).
//!
//! # Format
//!
//! ```toml
//! [vars.DATABASE_URL]
//! description = "PostgreSQL connection string"   # required, non-empty
//! required = true                                # default false
//! type = "url"
//! secret = true                                  # the value is never printed
//! example = "postgres://db/app"
//!
//! [vars.PORT]
//! description = "TCP port the service listens on"
//! type = "port"
//! default = "8080"                               # a string, or a TOML integer/boolean
//!
//! [vars.LOG_LEVEL]
//! description = "How much the service logs"
//! type = "enum"
//! values = ["debug", "info", "warn", "error"]
//! default = "info"
//! ```
//!
//! Each `[vars.NAME]` table declares one variable; `NAME` must be a valid environment variable name
//! (`[A-Za-z_][A-Za-z0-9_]*`). Keys:
//!
//! | key           | meaning |
//! |---------------|---------|
//! | `description` | required, non-empty: what the variable is for (shown in errors and docs) |
//! | `required`    | `true`: the service does not start without it (default `false`) |
//! | `type`        | how the value is checked, see below (default `string`) |
//! | `values`      | the allowed values; only with `type = "enum"`, and required there |
//! | `default`     | the value set when the variable is unset; not allowed with `required = true`; must itself be valid for the type |
//! | `secret`      | `true`: the value is never shown (in errors or docs) |
//! | `example`     | an example value for the documentation |
//!
//! Any other key is an error naming it.
//!
//! Types: `string` (anything), `int` (a signed 64-bit integer), `bool` (`true`/`false`, `1`/`0`,
//! `yes`/`no`, `on`/`off`, any case), `port` (1-65535), `url` (`scheme://rest`, no spaces), `path`
//! (an absolute path, starting with `/`), `enum` (one of `values`), `duration` (`10`, `250ms`, `5s`,
//! `2m`, `1h`, `1d`, or groups such as `1m30s`; a bare number is seconds), `email` (`local@domain.tld`).
//!
//! # Resolution
//!
//! When the service starts, for each declared variable in order:
//! - an empty value counts as unset;
//! - `NAME_FILE=/path` (allowed for every variable, meant for secrets) sets `NAME` to the content of
//!   that file with one trailing newline removed, and `NAME_FILE` is removed from the service's
//!   environment; setting both `NAME` and `NAME_FILE` is an error, so is an unreadable file;
//! - an unset variable gets its `default`; an unset `required` variable is an error;
//! - the value is checked against the type.
//!
//! Every problem is reported at once; values of `secret` variables never appear in messages.
//! Variables not declared in the contract are passed through untouched.
//!
//! Variables are kept in file order (the order of the `[vars.*]` tables).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use toml::Spanned;

/// A loaded `/application/env.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    /// The file it was read from (shown in messages).
    pub path: PathBuf,
    /// The declared variables, in file order.
    pub vars: Vec<(String, Var)>,
}

/// One declared variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    /// What the variable is for.
    pub description: String,
    /// The service does not start without it.
    pub required: bool,
    /// How the value is checked.
    pub kind: Kind,
    /// The allowed values (`Kind::Enum` only).
    pub values: Vec<String>,
    /// The value set when the variable is unset.
    pub default: Option<String>,
    /// The value is never shown.
    pub secret: bool,
    /// An example value for the documentation.
    pub example: Option<String>,
}

/// The type of a variable (`type = "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Anything.
    String,
    /// A signed 64-bit integer.
    Int,
    /// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
    Bool,
    /// 1-65535.
    Port,
    /// `scheme://rest`.
    Url,
    /// An absolute path.
    Path,
    /// One of `values`.
    Enum,
    /// `5s`, `250ms`, `2m`, `1h`, `1d`, `10` (seconds).
    Duration,
    /// `local@domain.tld`.
    Email,
}

impl Kind {
    const ALL: [(&'static str, Kind); 9] = [
        ("string", Kind::String),
        ("int", Kind::Int),
        ("bool", Kind::Bool),
        ("port", Kind::Port),
        ("url", Kind::Url),
        ("path", Kind::Path),
        ("enum", Kind::Enum),
        ("duration", Kind::Duration),
        ("email", Kind::Email),
    ];

    /// The name used in `type = "..."`.
    pub fn name(self) -> &'static str {
        Kind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("string", |(n, _)| n)
    }

    fn from_name(s: &str) -> Option<Kind> {
        Kind::ALL.iter().find(|(n, _)| *n == s).map(|(_, k)| *k)
    }

    /// What a valid value looks like (used in messages: "is not ...").
    fn expectation(self, values: &[String]) -> String {
        match self {
            Kind::String => "a string".into(),
            Kind::Int => "an integer".into(),
            Kind::Bool => "a boolean (true/false, 1/0, yes/no, on/off)".into(),
            Kind::Port => "a port number (1-65535)".into(),
            Kind::Url => "a URL (scheme://...)".into(),
            Kind::Path => "an absolute path (starting with /)".into(),
            Kind::Enum => format!("one of {}", values.join(", ")),
            Kind::Duration => "a duration (e.g. 10, 250ms, 5s, 2m, 1h, 1m30s)".into(),
            Kind::Email => "an email address (local@domain.tld)".into(),
        }
    }

    /// Whether `v` is a valid value of this type.
    fn accepts(self, v: &str, values: &[String]) -> bool {
        match self {
            Kind::String => true,
            Kind::Int => v.parse::<i64>().is_ok(),
            Kind::Bool => matches!(
                v.to_ascii_lowercase().as_str(),
                "true" | "false" | "1" | "0" | "yes" | "no" | "on" | "off"
            ),
            Kind::Port => v.parse::<u16>().is_ok_and(|p| p != 0),
            Kind::Url => valid_url(v),
            Kind::Path => v.starts_with('/') && !v.contains('\0'),
            Kind::Enum => values.iter().any(|x| x == v),
            Kind::Duration => valid_duration(v),
            Kind::Email => valid_email(v),
        }
    }
}

fn valid_url(v: &str) -> bool {
    let Some((scheme, rest)) = v.split_once("://") else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn valid_duration(v: &str) -> bool {
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    let mut rest = v;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h", "d"]
            .iter()
            .find(|u| rest.starts_with(**u));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
    }
    true
}

fn valid_email(v: &str) -> bool {
    let Some((local, domain)) = v.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !v.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn valid_name(n: &str) -> bool {
    let mut b = n.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Why `/application/env.toml` could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The file exists but cannot be read.
    #[error("cannot read the environment contract {path}: {source}; check its permissions")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys / wrong value types.
    #[error(
        "{path}{location}: {message}; fix the environment contract (see `plinth-init env --help` for its format)"
    )]
    Syntax {
        /// The file.
        path: PathBuf,
        /// `:line:col` when known, else empty.
        location: String,
        /// What the TOML parser said.
        message: String,
    },
    /// A variable's declaration is inconsistent.
    #[error("{path}: variable {name}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The variable.
        name: String,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// The result of [`Contract::resolve`]: what to change in the service's environment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resolved {
    /// Variables to set (defaults, and values read from `NAME_FILE`).
    pub set: Vec<(String, String)>,
    /// Variables to remove (the `NAME_FILE` variables that were read).
    pub unset: Vec<String>,
}

/// Every way the environment fails the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    /// The contract file.
    pub path: PathBuf,
    /// One line per problem (secret values never appear).
    pub problems: Vec<String>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the environment does not meet the contract in {}:",
            self.path.display()
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// How [`Contract::render`] formats the documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderFormat {
    /// Plain text for a terminal.
    Text,
    /// A JSON document: `{"path": ..., "vars": [{"name", "description", "required", "type", "values", "default", "secret", "example"}]}`.
    Json,
    /// A Markdown table.
    Markdown,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    vars: OrderedVars,
}

#[derive(Default)]
struct OrderedVars(Vec<(Spanned<String>, RawVar)>);

impl<'de> Deserialize<'de> for OrderedVars {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedVars;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of variables ([vars.NAME])")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedVars, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<Spanned<String>, RawVar>()? {
                    out.push((k, v));
                }
                // The deserializer may hand keys over sorted by name; the key spans give file order.
                out.sort_by_key(|(k, _)| k.span().start);
                Ok(OrderedVars(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "a string, an integer, a boolean or a float")]
enum Scalar {
    Str(String),
    Int(i64),
    Bool(bool),
    Float(f64),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Str(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Float(f) => f.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVar {
    description: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(rename = "type")]
    kind: Option<String>,
    values: Option<Vec<String>>,
    default: Option<Scalar>,
    #[serde(default)]
    secret: bool,
    example: Option<Scalar>,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

impl Contract {
    /// Reads and parses the contract; `Ok(None)` when the file does not exist.
    pub fn load(path: &Path) -> Result<Option<Contract>, ContractError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Contract::parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ContractError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    /// Parses the contract text; `path` is used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Contract, ContractError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let location = e.span().map_or(String::new(), |s| {
                let (l, c) = line_col(text, s.start);
                format!(":{l}:{c}")
            });
            ContractError::Syntax {
                path: path.to_path_buf(),
                location,
                message: e.message().trim().to_string(),
            }
        })?;
        let invalid = |name: &str, reason: String| ContractError::Invalid {
            path: path.to_path_buf(),
            name: name.to_string(),
            reason,
        };
        let mut vars = Vec::with_capacity(raw.vars.0.len());
        for (name, rv) in raw.vars.0 {
            let name = name.into_inner();
            if !valid_name(&name) {
                return Err(invalid(
                    &name,
                    "is not a valid environment variable name; use letters, digits and _ (not starting with a digit)".into(),
                ));
            }
            let description = rv.description.unwrap_or_default().trim().to_string();
            if description.is_empty() {
                return Err(invalid(
                    &name,
                    "has no description; add description = \"what it is for\"".into(),
                ));
            }
            let kind = match rv.kind.as_deref() {
                None => Kind::String,
                Some(t) => Kind::from_name(t).ok_or_else(|| {
                    let names: Vec<&str> = Kind::ALL.iter().map(|(n, _)| *n).collect();
                    invalid(
                        &name,
                        format!("has unknown type {t:?}; use one of {}", names.join(", ")),
                    )
                })?,
            };
            let values = rv.values.unwrap_or_default();
            if kind == Kind::Enum && values.is_empty() {
                return Err(invalid(
                    &name,
                    "has type = \"enum\" but no values; add values = [\"a\", \"b\"]".into(),
                ));
            }
            if kind != Kind::Enum && !values.is_empty() {
                return Err(invalid(
                    &name,
                    "has values but its type is not \"enum\"; add type = \"enum\" or remove values"
                        .into(),
                ));
            }
            let default = rv.default.map(Scalar::into_string);
            if let Some(d) = &default {
                if rv.required {
                    return Err(invalid(
                        &name,
                        "is required and has a default; remove one of them".into(),
                    ));
                }
                if !kind.accepts(d, &values) {
                    let shown = if rv.secret {
                        "its default".to_string()
                    } else {
                        format!("its default {d:?}")
                    };
                    return Err(invalid(
                        &name,
                        format!("{shown} is not {}", kind.expectation(&values)),
                    ));
                }
            }
            vars.push((
                name,
                Var {
                    description,
                    required: rv.required,
                    kind,
                    values,
                    default,
                    secret: rv.secret,
                    example: rv.example.map(Scalar::into_string),
                },
            ));
        }
        Ok(Contract {
            path: path.to_path_buf(),
            vars,
        })
    }

    /// Checks `env` against the contract: applies defaults, reads `NAME_FILE` (one trailing newline
    /// trimmed; both `NAME` and `NAME_FILE` set is a problem; an unreadable file is a problem naming
    /// it), validates types. Returns the variables to set in the service's environment (defaults and
    /// `_FILE` values) and the `NAME_FILE` variables to remove, or every problem at once.
    pub fn resolve(&self, env: &BTreeMap<String, String>) -> Result<Resolved, Problems> {
        let mut out = Resolved::default();
        let mut problems = Vec::new();
        let get = |k: &str| env.get(k).filter(|v| !v.is_empty());
        for (name, var) in &self.vars {
            let file_var = format!("{name}_FILE");
            let value = match (get(name), get(&file_var)) {
                (Some(_), Some(_)) => {
                    problems.push(format!(
                        "both {name} and {file_var} are set; set only one of them"
                    ));
                    continue;
                }
                (Some(v), None) => v.clone(),
                (None, Some(file)) => match std::fs::read_to_string(file) {
                    Ok(mut content) => {
                        if content.ends_with('\n') {
                            content.pop();
                            if content.ends_with('\r') {
                                content.pop();
                            }
                        }
                        out.unset.push(file_var.clone());
                        out.set.push((name.clone(), content.clone()));
                        content
                    }
                    Err(e) => {
                        problems.push(format!("{file_var}={file}: cannot read the file: {e}"));
                        continue;
                    }
                },
                (None, None) => match &var.default {
                    Some(d) => {
                        out.set.push((name.clone(), d.clone()));
                        continue;
                    }
                    None if var.required => {
                        problems.push(format!("{name} is required: {}", var.description));
                        continue;
                    }
                    None => continue,
                },
            };
            if !var.kind.accepts(&value, &var.values) {
                let shown = if var.secret {
                    format!("{name} (secret, value hidden)")
                } else {
                    format!("{name}={value:?}")
                };
                problems.push(format!(
                    "{shown} is not {}",
                    var.kind.expectation(&var.values)
                ));
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(Problems {
                path: self.path.clone(),
                problems,
            })
        }
    }

    /// The contract as the image's API documentation.
    pub fn render(&self, format: RenderFormat) -> String {
        match format {
            RenderFormat::Text => self.render_text(),
            RenderFormat::Json => self.render_json(),
            RenderFormat::Markdown => self.render_markdown(),
        }
    }

    fn shown_default(var: &Var) -> Option<String> {
        var.default.as_ref().map(|d| {
            if var.secret {
                "(hidden)".to_string()
            } else {
                d.clone()
            }
        })
    }

    fn type_label(var: &Var) -> String {
        if var.kind == Kind::Enum {
            format!("enum: {}", var.values.join("|"))
        } else {
            var.kind.name().to_string()
        }
    }

    fn render_text(&self) -> String {
        let mut s = format!(
            "Environment contract ({}): {} variable{}\n",
            self.path.display(),
            self.vars.len(),
            if self.vars.len() == 1 { "" } else { "s" }
        );
        for (name, var) in &self.vars {
            let mut tags = vec![Contract::type_label(var)];
            if var.required {
                tags.push("required".into());
            }
            if var.secret {
                tags.push("secret".into());
            }
            if let Some(d) = Contract::shown_default(var) {
                tags.push(format!("default {d}"));
            }
            s.push_str(&format!(
                "\n{name}  ({})\n    {}\n",
                tags.join(", "),
                var.description
            ));
            if let Some(e) = &var.example {
                s.push_str(&format!("    example: {e}\n"));
            }
        }
        s.push_str(
            "\nEvery variable can also be read from a file: set NAME_FILE=/path instead of NAME.\n",
        );
        s
    }

    fn render_json(&self) -> String {
        let vars: Vec<serde_json::Value> = self
            .vars
            .iter()
            .map(|(name, var)| {
                serde_json::json!({
                    "name": name,
                    "description": var.description,
                    "required": var.required,
                    "type": var.kind.name(),
                    "values": var.values,
                    "default": Contract::shown_default(var),
                    "secret": var.secret,
                    "example": var.example,
                })
            })
            .collect();
        let doc = serde_json::json!({ "path": self.path.display().to_string(), "vars": vars });
        let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
        s.push('\n');
        s
    }

    fn render_markdown(&self) -> String {
        fn cell(s: &str) -> String {
            s.replace('|', "\\|").replace('\n', " ")
        }
        let mut s = String::from(
            "| Variable | Type | Required | Default | Description |\n|---|---|---|---|---|\n",
        );
        for (name, var) in &self.vars {
            let mut desc = cell(&var.description);
            if var.secret {
                desc.push_str(" (secret)");
            }
            if let Some(e) = &var.example {
                desc.push_str(&format!(" Example: `{}`", cell(e)));
            }
            s.push_str(&format!(
                "| `{name}` | {} | {} | {} | {desc} |\n",
                cell(&Contract::type_label(var)),
                if var.required { "yes" } else { "no" },
                Contract::shown_default(var).map_or(String::new(), |d| format!("`{}`", cell(&d))),
            ));
        }
        s.push_str("\nEvery variable can also be read from a file: set `NAME_FILE=/path` instead of `NAME`.\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[vars.ZED]
description = "comes first in the file"
[vars.DATABASE_URL]
description = "PostgreSQL connection string"
required = true
type = "url"
secret = true
example = "postgres://db/app"
[vars.PORT]
description = "listen port"
type = "port"
default = 8080
[vars.LEVEL]
description = "log level"
type = "enum"
values = ["debug", "info"]
default = "info"
[vars.TIMEOUT]
description = "request timeout"
type = "duration"
"#;

    fn contract() -> Contract {
        match Contract::parse(SAMPLE, Path::new("/application/env.toml")) {
            Ok(c) => c,
            Err(e) => panic!("sample must parse: {e}"),
        }
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_in_file_order_with_types_and_defaults() {
        let c = contract();
        let names: Vec<&str> = c.vars.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["ZED", "DATABASE_URL", "PORT", "LEVEL", "TIMEOUT"]);
        assert_eq!(c.vars[1].1.kind, Kind::Url);
        assert!(c.vars[1].1.required && c.vars[1].1.secret);
        assert_eq!(c.vars[2].1.default.as_deref(), Some("8080"));
        assert_eq!(c.vars[3].1.values, ["debug", "info"]);
    }

    #[test]
    fn load_missing_is_none_and_load_real_file_works() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("env.toml");
        assert!(Contract::load(&p).expect("missing is fine").is_none());
        std::fs::write(&p, SAMPLE).expect("write");
        let c = Contract::load(&p).expect("load").expect("present");
        assert_eq!(c.vars.len(), 5);
        assert_eq!(c.path, p);
    }

    #[test]
    fn unknown_key_is_an_error_naming_key_and_line() {
        let text = "[vars.A]\ndescription = \"x\"\nrequird = true\n";
        let e = Contract::parse(text, Path::new("/x/env.toml")).expect_err("must fail");
        let m = e.to_string();
        assert!(m.contains("requird"), "{m}");
        assert!(m.contains("/x/env.toml:3:"), "{m}");
    }

    #[test]
    fn a_non_scalar_default_is_an_error_naming_the_line() {
        let text = "[vars.A]\ndescription = \"d\"\ndefault = [1, 2]\n";
        let e = Contract::parse(text, Path::new("env.toml")).expect_err("array default");
        let m = e.to_string();
        assert!(
            m.contains("env.toml:3:") && m.contains("a string, an integer"),
            "{m}"
        );
    }

    #[test]
    fn invalid_declarations_are_errors() {
        let cases = [
            ("[vars.A]\n", "no description"),
            (
                "[vars.A]\ndescription=\"d\"\ntype=\"number\"\n",
                "unknown type",
            ),
            ("[vars.A]\ndescription=\"d\"\ntype=\"enum\"\n", "no values"),
            (
                "[vars.A]\ndescription=\"d\"\nvalues=[\"a\"]\n",
                "not \"enum\"",
            ),
            (
                "[vars.A]\ndescription=\"d\"\nrequired=true\ndefault=\"x\"\n",
                "required and has a default",
            ),
            (
                "[vars.A]\ndescription=\"d\"\ntype=\"port\"\ndefault=\"0\"\n",
                "not a port number",
            ),
            (
                "[vars.\"1A\"]\ndescription=\"d\"\n",
                "not a valid environment variable name",
            ),
        ];
        for (text, want) in cases {
            let e = Contract::parse(text, Path::new("env.toml")).expect_err(text);
            assert!(e.to_string().contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn resolve_applies_defaults_and_collects_every_problem() {
        let c = contract();
        let p = c
            .resolve(&env(&[("PORT", "abc"), ("TIMEOUT", "5x")]))
            .expect_err("problems");
        assert_eq!(p.problems.len(), 3, "{p}");
        let m = p.to_string();
        assert!(m.starts_with(
            "the environment does not meet the contract in /application/env.toml:\n  - "
        ));
        assert!(
            m.contains("DATABASE_URL is required: PostgreSQL connection string"),
            "{m}"
        );
        assert!(
            m.contains("PORT=\"abc\" is not a port number (1-65535)"),
            "{m}"
        );
        assert!(m.contains("TIMEOUT=\"5x\" is not a duration"), "{m}");

        let r = c
            .resolve(&env(&[
                ("DATABASE_URL", "postgres://db/app"),
                ("TIMEOUT", "1m30s"),
            ]))
            .expect("ok");
        assert_eq!(
            r.set,
            [
                ("PORT".to_string(), "8080".to_string()),
                ("LEVEL".to_string(), "info".to_string())
            ]
        );
        assert!(r.unset.is_empty());
    }

    #[test]
    fn secret_values_never_appear_in_problems() {
        let c = contract();
        let p = c
            .resolve(&env(&[("DATABASE_URL", "hunter2-not-a-url")]))
            .expect_err("bad url");
        let m = p.to_string();
        assert!(!m.contains("hunter2"), "{m}");
        assert!(
            m.contains("DATABASE_URL (secret, value hidden) is not a URL"),
            "{m}"
        );
    }

    #[test]
    fn name_file_is_read_trimmed_and_unset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("db");
        std::fs::write(&f, "postgres://secret/db\n").expect("write");
        let c = contract();
        let fs = f.display().to_string();
        let r = c.resolve(&env(&[("DATABASE_URL_FILE", &fs)])).expect("ok");
        assert!(r.set.contains(&(
            "DATABASE_URL".to_string(),
            "postgres://secret/db".to_string()
        )));
        assert_eq!(r.unset, ["DATABASE_URL_FILE"]);

        let both = c
            .resolve(&env(&[
                ("DATABASE_URL_FILE", &fs),
                ("DATABASE_URL", "postgres://x/y"),
            ]))
            .expect_err("both");
        assert!(
            both.to_string()
                .contains("both DATABASE_URL and DATABASE_URL_FILE are set")
        );

        let missing = dir.path().join("nope").display().to_string();
        let gone = c
            .resolve(&env(&[("DATABASE_URL_FILE", &missing)]))
            .expect_err("missing");
        assert!(gone.to_string().contains(&missing), "{gone}");
    }

    #[test]
    fn type_validation() {
        let ok = [
            (Kind::Int, "-42"),
            (Kind::Bool, "Yes"),
            (Kind::Port, "65535"),
            (Kind::Url, "https://example.com/x"),
            (Kind::Path, "/data"),
            (Kind::Duration, "250ms"),
            (Kind::Duration, "10"),
            (Kind::Email, "a@b.io"),
        ];
        for (k, v) in ok {
            assert!(k.accepts(v, &[]), "{k:?} {v}");
        }
        let bad = [
            (Kind::Int, "4.2"),
            (Kind::Bool, "maybe"),
            (Kind::Port, "70000"),
            (Kind::Url, "example.com"),
            (Kind::Path, "data"),
            (Kind::Duration, "ms"),
            (Kind::Email, "a@b"),
        ];
        for (k, v) in bad {
            assert!(!k.accepts(v, &[]), "{k:?} {v}");
        }
    }

    #[test]
    fn render_formats() {
        let c = contract();
        let text = c.render(RenderFormat::Text);
        assert!(
            text.contains("DATABASE_URL  (url, required, secret)"),
            "{text}"
        );
        assert!(text.contains("PORT  (port, default 8080)"), "{text}");
        let md = c.render(RenderFormat::Markdown);
        assert!(
            md.contains("| `LEVEL` | enum: debug\\|info | no | `info` | log level |"),
            "{md}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&c.render(RenderFormat::Json)).expect("valid json");
        assert_eq!(json["vars"][0]["name"], "ZED");
        assert_eq!(json["vars"][2]["default"], "8080");
        assert_eq!(json["vars"][1]["type"], "url");
    }
}
