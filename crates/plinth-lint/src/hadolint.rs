//! hadolint's configuration file (`.hadolint.yaml`) as a [`LintConfig`], so a project that
//! already has one keeps its settings under `plinth lint`; and [`merge`], which lays plinth's own
//! settings over it.
//!
//! Keys (hadolint's names): `ignored`, `override` (`error`, `warning`, `info`, `style`: lists of
//! codes), `failure-threshold`, `trusted-registries` (also the older `trustedRegistries`),
//! `label-schema` (label name: type), `strict-labels`, `disable-ignore-pragma`, `no-fail`,
//! `no-color`, `verbose` and `output-format`. An unknown key is an error naming it.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::{LabelType, Level, LintConfig};
use crate::finding::Severity;

/// A `.hadolint.yaml` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct HadolintConfigError(pub String);

/// What a `.hadolint.yaml` says.
#[derive(Debug, Clone, Default)]
pub struct HadolintFile {
    /// The lint settings.
    pub config: LintConfig,
    /// `no-fail: true`: findings never make the run fail.
    pub no_fail: bool,
    /// Keys that were read but have no effect in plinth (`strict-labels`, `no-color`,
    /// `verbose`, `output-format`), for the CLI to mention.
    pub without_effect: Vec<String>,
}

/// `override:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    #[serde(default)]
    error: Vec<String>,
    #[serde(default)]
    warning: Vec<String>,
    #[serde(default)]
    info: Vec<String>,
    #[serde(default)]
    style: Vec<String>,
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    #[serde(default)]
    ignored: Vec<String>,
    #[serde(default)]
    r#override: Override,
    #[serde(default)]
    failure_threshold: Option<String>,
    #[serde(default, alias = "trustedRegistries")]
    trusted_registries: Vec<String>,
    #[serde(default)]
    label_schema: BTreeMap<String, LabelType>,
    #[serde(default)]
    strict_labels: Option<bool>,
    #[serde(default)]
    disable_ignore_pragma: Option<bool>,
    #[serde(default)]
    no_fail: Option<bool>,
    #[serde(default)]
    no_color: Option<bool>,
    #[serde(default)]
    verbose: Option<bool>,
    #[serde(default)]
    output_format: Option<String>,
}

/// Reads a `.hadolint.yaml`: its lint settings, `no-fail`, and the keys without effect.
pub fn parse(text: &str) -> Result<HadolintFile, HadolintConfigError> {
    // An empty file (or one holding only comments) is an empty configuration, as in hadolint.
    let is_empty = text
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---");
    let raw: Raw = if is_empty {
        Raw::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| HadolintConfigError(e.to_string()))?
    };
    let mut config = LintConfig {
        ignored: raw.ignored,
        trusted_registries: raw.trusted_registries,
        required_labels: raw.label_schema,
        disable_ignore_pragma: raw.disable_ignore_pragma.unwrap_or(false),
        ..LintConfig::default()
    };
    let levels = [
        (raw.r#override.error, Level::Error),
        (raw.r#override.warning, Level::Warning),
        (raw.r#override.info, Level::Info),
        (raw.r#override.style, Level::Style),
    ];
    for (codes, level) in levels {
        for code in codes {
            config.severity.insert(code, level);
        }
    }
    let mut no_fail = raw.no_fail.unwrap_or(false);
    if let Some(t) = raw.failure_threshold {
        match t.to_ascii_lowercase().as_str() {
            // hadolint's `none` (and `ignore`): nothing fails the run.
            "none" | "ignore" => no_fail = true,
            other => {
                config.failure_threshold = Some(Severity::parse(other).ok_or_else(|| {
                    HadolintConfigError(format!(
                        "failure-threshold: {t:?} is not one of error, warning, info, style, none"
                    ))
                })?)
            }
        }
    }
    let mut without_effect = Vec::new();
    for (key, set) in [
        ("strict-labels", raw.strict_labels.is_some()),
        ("no-color", raw.no_color.is_some()),
        ("verbose", raw.verbose.is_some()),
        ("output-format", raw.output_format.is_some()),
    ] {
        if set {
            without_effect.push(key.to_string());
        }
    }
    Ok(HadolintFile {
        config,
        no_fail,
        without_effect,
    })
}

/// The lint settings of a `.hadolint.yaml`.
pub fn from_yaml(text: &str) -> Result<LintConfig, HadolintConfigError> {
    parse(text).map(|f| f.config)
}

/// `over` laid over `base`: ignored codes add up, `over`'s severities, threshold, trusted
/// registries and required labels win where it sets them, and the ignore pragma is disregarded
/// when either disregards it.
pub fn merge(base: LintConfig, over: LintConfig) -> LintConfig {
    let mut out = base;
    for code in over.ignored {
        if !out.ignored.contains(&code) {
            out.ignored.push(code);
        }
    }
    out.severity.extend(over.severity);
    if over.failure_threshold.is_some() {
        out.failure_threshold = over.failure_threshold;
    }
    if !over.trusted_registries.is_empty() {
        out.trusted_registries = over.trusted_registries;
    }
    if !over.required_labels.is_empty() {
        out.required_labels = over.required_labels;
    }
    out.disable_ignore_pragma |= over.disable_ignore_pragma;
    out.custom_rules.extend(over.custom_rules);
    if over.ignore_pragmas != crate::ignore::IgnorePragmas::default() {
        out.ignore_pragmas = over.ignore_pragmas;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hadolint_key_is_read() {
        let f = parse(
            "ignored:\n  - DL3008\n  - SC2086\noverride:\n  error:\n    - DL3001\n  style: [DL3015]\n\
             failure-threshold: warning\ntrustedRegistries:\n  - docker.io\n  - my-company.com:5000\n\
             label-schema:\n  author: text\n  version: semver\nstrict-labels: true\n\
             disable-ignore-pragma: true\nno-fail: false\n",
        )
        .unwrap();
        let c = &f.config;
        assert_eq!(c.ignored, ["DL3008", "SC2086"]);
        assert_eq!(c.severity.get("DL3001"), Some(&Level::Error));
        assert_eq!(c.severity.get("DL3015"), Some(&Level::Style));
        assert_eq!(c.failure_threshold, Some(Severity::Warning));
        assert_eq!(c.trusted_registries, ["docker.io", "my-company.com:5000"]);
        assert_eq!(c.required_labels.get("version"), Some(&LabelType::Semver));
        assert_eq!(c.required_labels.get("author"), Some(&LabelType::Text));
        assert!(c.disable_ignore_pragma);
        assert!(!f.no_fail);
        assert_eq!(f.without_effect, ["strict-labels"]);
        // The current spelling of trusted registries.
        let c = from_yaml("trusted-registries: [quay.io]\n").unwrap();
        assert_eq!(c.trusted_registries, ["quay.io"]);
    }

    #[test]
    fn empty_files_and_none_threshold() {
        let c = from_yaml("").unwrap();
        assert!(c.ignored.is_empty() && c.failure_threshold.is_none());
        let c = from_yaml("# nothing here\n---\n").unwrap();
        assert!(c.severity.is_empty());
        let f = parse("failure-threshold: none\n").unwrap();
        assert!(f.no_fail && f.config.failure_threshold.is_none());
        assert!(parse("no-fail: true\n").unwrap().no_fail);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_that_name_them() {
        let e = from_yaml("ignored: [DL3008]\nignore: [DL3009]\n").unwrap_err();
        assert!(e.0.contains("ignore"), "{e}");
        let e = from_yaml("override:\n  fatal: [DL3008]\n").unwrap_err();
        assert!(e.0.contains("fatal"), "{e}");
        let e = from_yaml("failure-threshold: severe\n").unwrap_err();
        assert!(e.0.contains("severe"), "{e}");
        let e = from_yaml("label-schema:\n  author: colour\n").unwrap_err();
        assert!(e.0.contains("colour"), "{e}");
        assert!(from_yaml("ignored: DL3008\n").is_err());
        assert!(from_yaml("- just\n- a list\n").is_err());
        assert!(from_yaml("ignored: [unclosed\n").is_err());
    }

    #[test]
    fn plinth_settings_win_when_merged() {
        let base = from_yaml(
            "ignored: [DL3008]\noverride:\n  error: [DL3001]\n  info: [DL3002]\nfailure-threshold: error\ntrusted-registries: [docker.io]\n",
        )
        .unwrap();
        let over = LintConfig {
            ignored: vec!["PL001".into(), "DL3008".into()],
            severity: [("DL3001".to_string(), Level::Warning)].into(),
            failure_threshold: Some(Severity::Style),
            ..LintConfig::default()
        };
        let m = merge(base, over);
        assert_eq!(m.ignored, ["DL3008", "PL001"]);
        assert_eq!(m.severity.get("DL3001"), Some(&Level::Warning));
        assert_eq!(m.severity.get("DL3002"), Some(&Level::Info));
        assert_eq!(m.failure_threshold, Some(Severity::Style));
        // Not set by plinth: hadolint's list stays.
        assert_eq!(m.trusted_registries, ["docker.io"]);
    }
}
