//! PL002 labels-missing.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use plinth_dockerfile::{Command, Span};
use regex::Regex;

use super::{final_chain, literal};
use crate::Ctx;
use crate::config::LabelType;
use crate::finding::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

static META: RuleMeta = RuleMeta {
    code: "PL002",
    name: "labels-missing",
    severity: Severity::Warning,
    summary: "The final stage should set the required labels, with values of the right type.",
};

/// Flags a final stage that does not set every label of `LintConfig::required_labels()`
/// (default: OCI `source`, `revision`, `version`), counting the LABELs of the earlier stages it
/// is built `FROM`; one finding at the final `FROM` lists the missing ones. A value that refers
/// to a variable (`version=$VERSION`, set from a build ARG) counts and is not checked. A literal
/// value is checked against the label's [`LabelType`] (the last LABEL of a key wins): url
/// (`scheme://host...`), semver (SemVer 2.0, no `v` prefix), hash (7 to 40 or 64 hex digits),
/// rfc3339, spdx (license identifiers joined by AND/OR/WITH and parentheses; identifiers are
/// not checked against the SPDX list), email, text (not empty). Labels of external base images
/// are not visible, so images that inherit them are flagged.
pub(super) struct LabelsMissing;

impl Rule for LabelsMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        let chain = final_chain(&cx.stages.stages);
        let Some(last) = chain.last() else {
            return;
        };
        let mut set: BTreeMap<String, (Option<String>, Span)> = BTreeMap::new();
        for c in chain.iter().flat_map(|s| s.commands.iter()) {
            if let Command::Label(l) = c {
                for kv in &l.pairs {
                    let key = literal(cx, &kv.key).unwrap_or_else(|| kv.key.clone());
                    set.insert(key, (literal(cx, &kv.value), l.meta.span));
                }
            }
        }
        let mut missing = Vec::new();
        for (key, ty) in cx.config.required_labels() {
            if cx.config.built_here.labels.contains(&key) {
                continue;
            }
            match set.get(&key) {
                None => missing.push(format!("{key} ({})", type_name(ty))),
                Some((Some(value), span)) => {
                    if let Some(problem) = check_value(ty, value) {
                        out.push(cx.finding(
                            &META,
                            *span,
                            format!("label {key}={value:?} {problem}"),
                        ));
                    }
                }
                Some((None, _)) => {}
            }
        }
        if !missing.is_empty() {
            out.push(cx.finding(
                &META,
                last.from.meta.span,
                format!(
                    "the final stage does not set the required label{} {} (set {} with \
                     LABEL, e.g. from build ARGs)",
                    if missing.len() > 1 { "s" } else { "" },
                    missing.join(", "),
                    if missing.len() > 1 { "them" } else { "it" },
                ),
            ));
        }
    }
}

fn type_name(t: LabelType) -> &'static str {
    match t {
        LabelType::Text => "text",
        LabelType::Url => "url",
        LabelType::Semver => "semver",
        LabelType::Hash => "hash",
        LabelType::Rfc3339 => "rfc3339",
        LabelType::Spdx => "spdx",
        LabelType::Email => "email",
    }
}

static URL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#]+[^\s]*$").expect("regex"));
static SEMVER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$",
    )
    .expect("regex")
});
static HASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:[0-9a-fA-F]{7,40}|[0-9a-fA-F]{64})$").expect("regex"));
static RFC3339: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$",
    )
    .expect("regex")
});
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$").expect("regex"));
static SPDX_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9][A-Za-z0-9.:-]*\+?$").expect("regex"));

/// Why `value` is not a `ty`, if it is not.
fn check_value(ty: LabelType, value: &str) -> Option<&'static str> {
    let ok = match ty {
        LabelType::Text => !value.trim().is_empty(),
        LabelType::Url => URL.is_match(value),
        LabelType::Semver => SEMVER.is_match(value),
        LabelType::Hash => HASH.is_match(value),
        LabelType::Rfc3339 => RFC3339.is_match(value),
        LabelType::Spdx => is_spdx(value),
        LabelType::Email => EMAIL.is_match(value),
    };
    if ok {
        return None;
    }
    Some(match ty {
        LabelType::Text => "is empty",
        LabelType::Url => "is not an absolute URL",
        LabelType::Semver => "is not a semantic version (MAJOR.MINOR.PATCH)",
        LabelType::Hash => "is not a commit hash (7 to 40 or 64 hexadecimal digits)",
        LabelType::Rfc3339 => "is not an RFC 3339 date-time",
        LabelType::Spdx => "is not an SPDX license expression",
        LabelType::Email => "is not an e-mail address",
    })
}

/// An SPDX license expression: identifiers joined by `AND`/`OR`/`WITH`, with parentheses.
fn is_spdx(value: &str) -> bool {
    let spaced = value.replace('(', " ( ").replace(')', " ) ");
    let mut depth = 0i32;
    let mut want_id = true;
    let mut any = false;
    for tok in spaced.split_whitespace() {
        match tok {
            "(" if want_id => depth += 1,
            ")" if !want_id => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            "AND" | "OR" | "WITH" if !want_id => want_id = true,
            t if want_id && SPDX_ID.is_match(t) && !matches!(t, "AND" | "OR" | "WITH") => {
                want_id = false;
                any = true;
            }
            _ => return false,
        }
    }
    any && !want_id && depth == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LintConfig, NoContext, lint};

    #[test]
    fn value_types() {
        assert!(check_value(LabelType::Semver, "1.2.3-rc.1+b5").is_none());
        assert!(check_value(LabelType::Semver, "v1.2.3").is_some());
        assert!(check_value(LabelType::Rfc3339, "2024-02-29T10:00:00Z").is_none());
        assert!(check_value(LabelType::Rfc3339, "2024-13-01").is_some());
        assert!(check_value(LabelType::Spdx, "(MIT OR Apache-2.0) AND BSD-3-Clause").is_none());
        assert!(check_value(LabelType::Spdx, "MIT OR").is_some());
        assert!(
            check_value(LabelType::Spdx, "GPL-2.0-only WITH Classpath-exception-2.0").is_none()
        );
        assert!(check_value(LabelType::Email, "ops@example.com").is_none());
        assert!(check_value(LabelType::Email, "ops at example").is_some());
        assert!(check_value(LabelType::Hash, "0123abc").is_none());
        assert!(check_value(LabelType::Hash, "main").is_some());
        assert!(check_value(LabelType::Url, "git.example.com/x").is_some());
        assert!(check_value(LabelType::Text, " ").is_some());
    }

    #[test]
    fn a_configured_set_replaces_the_default() {
        let cfg: LintConfig = toml::from_str(
            "[required-labels]\n\"org.opencontainers.image.licenses\" = \"spdx\"\nmaintainer = \"email\"\n",
        )
        .expect("config");
        let run = |text: &str| -> Vec<String> {
            lint("t", text, &cfg, &NoContext)
                .expect("parses")
                .into_iter()
                .filter(|f| f.code == "PL002")
                .map(|f| f.message)
                .collect()
        };
        let ok = "FROM a\nLABEL org.opencontainers.image.licenses=\"MIT OR Apache-2.0\" maintainer=a@b.io\n";
        assert_eq!(run(ok), Vec::<String>::new());
        let bad = "FROM a\nLABEL org.opencontainers.image.licenses=\"MIT or\"\n";
        let found = run(bad);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().any(|m| m.contains("maintainer (email)")));
        assert!(found.iter().any(|m| m.contains("SPDX")));
    }
}
