//! The rules: every [`Rule`] plinth checks, in [`all`]. hadolint's codes are in `dl_run`
//! (rules about RUN's shell commands) and `dl` (the others); plinth's checklist in `pl`; the
//! project's own rules come from the configuration (`crate::custom`).

mod dl;
mod dl_run;
mod pl;

use crate::Ctx;
use crate::finding::{Finding, Severity};

/// What a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMeta {
    /// `DL3008`, `PL001`.
    pub code: &'static str,
    /// A short kebab-case name, e.g. `healthcheck-missing`.
    pub name: &'static str,
    /// The default severity.
    pub severity: Severity,
    /// One sentence: what the rule wants.
    pub summary: &'static str,
}

/// One lint rule.
pub trait Rule: Sync {
    /// Its code, name, severity and summary.
    fn meta(&self) -> &'static RuleMeta;
    /// Appends its findings on `cx` to `out`.
    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>);
}

/// Every built-in rule, in code order.
pub fn all() -> Vec<&'static dyn Rule> {
    let mut rules: Vec<&'static dyn Rule> = Vec::new();
    rules.extend(dl::rules());
    rules.extend(dl_run::rules());
    rules.extend(pl::rules());
    rules.sort_by_key(|r| r.meta().code);
    rules
}

/// The rule with `code`, if built in.
pub fn by_code(code: &str) -> Option<&'static dyn Rule> {
    all().into_iter().find(|r| r.meta().code == code)
}
