//! PL001 healthcheck-missing.

use plinth_dockerfile::Command;

use super::final_chain;
use crate::Ctx;
use crate::finding::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

static META: RuleMeta = RuleMeta {
    code: "PL001",
    name: "healthcheck-missing",
    severity: Severity::Warning,
    summary: "The final stage should define a HEALTHCHECK.",
};

/// Flags a final stage without `HEALTHCHECK` (its own, or one of an earlier stage it is built
/// `FROM`): without one the runtime cannot tell a hung service from a working one (seed 003,
/// item 12). A health check of an external base image is not visible here, so such images are
/// flagged too (add the HEALTHCHECK again, or ignore the rule). `HEALTHCHECK NONE` as the last
/// one is an explicit choice: reported as `info`, at the instruction, as a reminder.
pub(super) struct HealthcheckMissing;

impl Rule for HealthcheckMissing {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        let chain = final_chain(&cx.stages.stages);
        let Some(last) = chain.last() else {
            return;
        };
        let check = chain
            .iter()
            .flat_map(|s| s.commands.iter())
            .filter_map(|c| match c {
                Command::Healthcheck(h) => Some(h),
                _ => None,
            })
            .next_back();
        match check {
            None => out.push(cx.finding(
                &META,
                last.from.meta.span,
                "the final stage has no HEALTHCHECK: add one so the runtime can tell whether \
                 the service works",
            )),
            Some(h) if h.health.test.first().map(String::as_str) == Some("NONE") => {
                let mut f = cx.finding(
                    &META,
                    h.meta.span,
                    "HEALTHCHECK NONE disables health checks (inherited ones too): make sure a \
                     failing service makes the container exit",
                );
                f.severity = Severity::Info;
                out.push(f);
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{LintConfig, NoContext, Severity, lint};

    fn pl001(text: &str) -> Vec<(u32, Severity)> {
        lint("t", text, &LintConfig::default(), &NoContext)
            .expect("parses")
            .into_iter()
            .filter(|f| f.code == "PL001")
            .map(|f| (f.line, f.severity))
            .collect()
    }

    #[test]
    fn healthcheck_none_is_info_at_the_instruction() {
        let text = "FROM a\nHEALTHCHECK CMD true\nHEALTHCHECK NONE\n";
        assert_eq!(pl001(text), vec![(3, Severity::Info)]);
    }

    #[test]
    fn the_last_healthcheck_wins_and_is_inherited_from_a_stage() {
        assert!(pl001("FROM a\nHEALTHCHECK NONE\nHEALTHCHECK CMD true\n").is_empty());
        let inherited = "FROM a AS base\nHEALTHCHECK CMD true\nFROM base\nRUN x\n";
        assert!(pl001(inherited).is_empty());
        let other = "FROM a AS base\nHEALTHCHECK CMD true\nFROM b\n";
        assert_eq!(pl001(other), vec![(3, Severity::Warning)]);
    }
}
