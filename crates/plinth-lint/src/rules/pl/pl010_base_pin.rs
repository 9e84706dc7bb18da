//! PL010 base-not-pinned.

use plinth_dockerfile::Lexer;

use crate::Ctx;
use crate::finding::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

static META: RuleMeta = RuleMeta {
    code: "PL010",
    name: "base-not-pinned",
    severity: Severity::Warning,
    summary: "External base images should be pinned by digest (name:tag@sha256:...).",
};

/// Flags a `FROM` of an external image without a digest (`FROM debian:bookworm`): tags move, so
/// a rebuild can get another base (seed 002 item 1, seed 003 "Repeatable Builds"). Not flagged:
/// `scratch`, earlier stage names, references with `@sha256:` (or any `@digest`), and a base that
/// is only a variable (`FROM ${BASE}`) whose global ARG has no default (it is chosen at build
/// time). A variable-only base whose ARG default is an unpinned image is flagged, naming the
/// default. Overlaps hadolint's DL3006/DL3007 (untagged, `latest`) on purpose: those ask for a
/// tag, this one for the digest.
pub(super) struct BaseNotPinned;

impl Rule for BaseNotPinned {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        let lex = Lexer::new(cx.dockerfile.escape);
        // The global ARGs with their defaults, expanded in order.
        let mut env: Vec<(String, String)> = Vec::new();
        for a in &cx.stages.meta_args {
            for p in &a.args {
                if let Some(v) = &p.value
                    && let Ok(v) = lex.process_word(v, &env)
                {
                    env.push((p.key.clone(), v));
                }
            }
        }
        let mut names: Vec<&str> = Vec::new();
        for stage in &cx.stages.stages {
            let raw = stage.from.base.as_str();
            let var_only = is_var_only(raw);
            let base = if raw.contains('$') {
                match lex.process(raw, &env) {
                    Ok(r) if r.unmatched.is_empty() && !r.result.is_empty() => r.result,
                    _ if var_only => {
                        names.extend(stage.name.as_deref());
                        continue;
                    }
                    Ok(r) => r.result,
                    Err(_) => raw.to_string(),
                }
            } else {
                raw.to_string()
            };
            if cx.config.built_here.image(&base) {
                names.extend(stage.name.as_deref());
                continue;
            }
            let lower = base.to_ascii_lowercase();
            let pinned = base.contains('@');
            if !(pinned || lower == "scratch" || names.contains(&lower.as_str())) {
                let shown = if base == raw {
                    format!("`{raw}`")
                } else {
                    format!("`{raw}` (`{base}` by default)")
                };
                out.push(cx.finding(
                    &META,
                    stage.from.meta.span,
                    format!(
                        "base image {shown} is not pinned to a digest: use name:tag@sha256:... so \
                         rebuilds get the same base"
                    ),
                ));
            }
            names.extend(stage.name.as_deref());
        }
    }
}

/// `$X` or `${X}` and nothing else.
fn is_var_only(s: &str) -> bool {
    let inner = s
        .strip_prefix("${")
        .and_then(|r| r.strip_suffix('}'))
        .or_else(|| s.strip_prefix('$'));
    inner.is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}
