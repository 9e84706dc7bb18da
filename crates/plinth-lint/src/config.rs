//! The lint configuration: which rules are off, severity overrides, the failure threshold,
//! trusted registries, required labels and custom rules. It is read from plinth.toml's `[lint]`
//! table or `.plinth-lint.toml` (this type, kebab-case keys) and from `.hadolint.yaml`
//! (`crate::hadolint`), by the CLI; this module only holds and queries it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::finding::Severity;
use crate::ignore::IgnorePragmas;

/// A severity override: a level, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Info,
    Style,
    /// The rule is not reported (`ignore` is accepted too).
    #[serde(alias = "ignore")]
    Off,
}

/// The type a required label's value must have (hadolint's `label-schema` types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LabelType {
    /// Any non-empty text.
    Text,
    /// An absolute URL.
    Url,
    /// A semantic version.
    Semver,
    /// A git commit hash (7 to 40 hexadecimal digits, or 64).
    Hash,
    /// An RFC 3339 date-time.
    Rfc3339,
    /// An SPDX license expression.
    Spdx,
    /// An e-mail address.
    Email,
}

/// The labels PL002 requires when the configuration names none.
pub const DEFAULT_REQUIRED_LABELS: [(&str, LabelType); 3] = [
    ("org.opencontainers.image.source", LabelType::Url),
    ("org.opencontainers.image.revision", LabelType::Hash),
    ("org.opencontainers.image.version", LabelType::Semver),
];

/// plinth.toml `[lint]`, `.plinth-lint.toml`, or what `.hadolint.yaml` says.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LintConfig {
    /// Rule codes that are not checked, e.g. `["DL3008", "PL010"]`.
    #[serde(default)]
    pub ignored: Vec<String>,
    /// Severity per rule code, e.g. `{ DL3008 = "error", PL001 = "off" }`.
    #[serde(default)]
    pub severity: BTreeMap<String, Level>,
    /// Findings at this severity or worse make `plinth lint` exit 1 (default `info`, as hadolint;
    /// `style` findings never fail unless this is `style`).
    #[serde(default)]
    pub failure_threshold: Option<Severity>,
    /// Registries FROM images may come from (DL3026); empty means any.
    #[serde(default)]
    pub trusted_registries: Vec<String>,
    /// Labels the final stage must set, with the type of their value (PL002); empty means
    /// [`DEFAULT_REQUIRED_LABELS`].
    #[serde(default)]
    pub required_labels: BTreeMap<String, LabelType>,
    /// Inline `# hadolint ignore=` / `# plinth ignore=` comments are disregarded.
    #[serde(default)]
    pub disable_ignore_pragma: bool,
    /// Rules of the project's own (see `crate::custom`).
    #[serde(default, rename = "rule")]
    pub custom_rules: Vec<crate::custom::CustomRule>,
    #[serde(skip)]
    pub ignore_pragmas: IgnorePragmas,
    /// What the build makes itself (set by the caller in a family repository, never from a
    /// file): rules about external base images and required labels leave these alone.
    #[serde(skip)]
    pub built_here: BuiltHere,
}

/// Images and labels a family build makes itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuiltHere {
    /// Repositories (no tag or digest) that name images of the build: the family's images, by
    /// name and under the family's registry/namespace, and the named contexts of plinth.toml.
    /// The build pins them to the digests it makes, so tags and digests do not apply.
    pub images: Vec<String>,
    /// Labels the build sets on every image (the family's OCI labels from plinth.toml and git).
    pub labels: Vec<String>,
}

impl BuiltHere {
    /// Whether `reference` (`name[:tag][@digest]`, as a FROM writes it) names an image of the
    /// build.
    pub fn image(&self, reference: &str) -> bool {
        let no_digest = reference.split('@').next().unwrap_or(reference);
        let slash = no_digest.rfind('/').map_or(0, |i| i + 1);
        let repo = match no_digest[slash..].rfind(':') {
            Some(i) => &no_digest[..slash + i],
            None => no_digest,
        };
        self.images.iter().any(|i| i.eq_ignore_ascii_case(repo))
    }
}

impl LintConfig {
    /// Whether `code` is switched off (listed in `ignored`, or overridden to `off`).
    pub fn is_ignored(&self, code: &str) -> bool {
        self.ignored.iter().any(|c| c == code) || self.severity.get(code) == Some(&Level::Off)
    }

    /// The override for `code`: `Some(None)` means off, `Some(Some(s))` a new severity.
    pub fn severity_override(&self, code: &str) -> Option<Option<Severity>> {
        self.severity.get(code).map(|l| match l {
            Level::Error => Some(Severity::Error),
            Level::Warning => Some(Severity::Warning),
            Level::Info => Some(Severity::Info),
            Level::Style => Some(Severity::Style),
            Level::Off => None,
        })
    }

    /// The failure threshold (default `info`).
    pub fn threshold(&self) -> Severity {
        self.failure_threshold.unwrap_or(Severity::Info)
    }

    /// The labels PL002 requires.
    pub fn required_labels(&self) -> Vec<(String, LabelType)> {
        if self.required_labels.is_empty() {
            DEFAULT_REQUIRED_LABELS
                .iter()
                .map(|(k, t)| (k.to_string(), *t))
                .collect()
        } else {
            self.required_labels
                .iter()
                .map(|(k, t)| (k.clone(), *t))
                .collect()
        }
    }

    /// Checks what deserializing cannot: the custom rules' ids (well-formed, not built-in,
    /// unique), instructions and regular expressions.
    pub fn validate(&self) -> Result<(), crate::custom::CustomRuleError> {
        crate::custom::check_all(&self.custom_rules)
    }

    /// The effective ignore-pragma setting.
    pub fn pragmas(&self) -> IgnorePragmas {
        if self.disable_ignore_pragma {
            IgnorePragmas::Disregard
        } else {
            self.ignore_pragmas
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_here_matches_repositories_whatever_the_tag() {
        let b = BuiltHere {
            images: vec![
                "base-root".into(),
                "registry.example.com/base/base-root".into(),
            ],
            labels: Vec::new(),
        };
        for yes in [
            "base-root",
            "base-root:1",
            "BASE-ROOT",
            "registry.example.com/base/base-root:1.2.3",
            "registry.example.com/base/base-root@sha256:00",
        ] {
            assert!(b.image(yes), "{yes}");
        }
        for no in [
            "base-root2",
            "other/base-root",
            "registry.example.com:5000/x",
        ] {
            assert!(!b.image(no), "{no}");
        }
    }
}
