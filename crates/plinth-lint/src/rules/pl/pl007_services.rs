//! PL007 multiple-services.

use std::sync::LazyLock;

use plinth_dockerfile::{Command, ShellOrExec};
use regex::Regex;

use super::{basename, commands, line_text, script_lines, scripts_run_by};
use crate::Ctx;
use crate::finding::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

static META: RuleMeta = RuleMeta {
    code: "PL007",
    name: "multiple-services",
    severity: Severity::Warning,
    summary: "A container should run one service, without an init system or supervisor.",
};

/// Flags an `ENTRYPOINT`/`CMD` (of any stage: `--target` makes any stage an image) that starts
/// several services or a service manager (seed 003, checklist item 2):
///
/// - a process supervisor or init system as a program: `supervisord`, `runsvdir`,
///   `s6-svscan`, `my_init`, `systemd`, `/sbin/init`, `/usr/sbin/init`;
/// - `service X start|restart`, `/etc/init.d/X start`, `systemctl start X`;
/// - a command put in the background with a single `&` followed by another command
///   (`nginx & php-fpm`; `2>&1`, `&>` and `&&` are not backgrounding, and `x & wait` is one
///   service);
/// - the same first two in a build-context script the ENTRYPOINT/CMD runs (comments skipped).
///
/// Known misses: scripts created by RUN, background jobs inside scripts (too common for
/// helpers to judge), s6-overlay's `/init` (the name is too generic). `tini`/`dumb-init`
/// wrappers are fine and not flagged.
pub(super) struct MultipleServices;

static SERVICE_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\bservice\s+[\w.@-]+\s+(?:start|restart)\b",
        r"|/etc/init\.d/[\w.@-]+\s+(?:start|restart)\b",
        r"|\bsystemctl\s+(?:--\S+\s+)*(?:start|restart)\b",
    ))
    .expect("regex")
});

/// Background `&`: not `&&`, not part of a redirection (`>&`, `&>`, `<&`).
static BACKGROUND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^&<>|])&(?:[^&>]|$)").expect("regex"));

fn supervisor(word: &str) -> bool {
    let w = word.trim_matches(['"', '\'']);
    matches!(
        basename(w),
        "supervisord" | "runsvdir" | "s6-svscan" | "my_init" | "systemd"
    ) || matches!(w, "/sbin/init" | "/usr/sbin/init")
}

/// What in `text` starts several services, if anything.
fn services_in(text: &str, check_background: bool) -> Option<String> {
    if let Some(m) = SERVICE_START.find(text) {
        return Some(format!("`{}` starts a background service", m.as_str()));
    }
    if let Some(w) = commands(text)
        .iter()
        .filter_map(|c| c.first())
        .find(|w| supervisor(w))
    {
        return Some(format!("`{w}` runs a service manager"));
    }
    if check_background
        && let Some(m) = BACKGROUND.find(text)
        && let Some(amp) = m.as_str().find('&').map(|i| m.start() + i)
    {
        // `&` is ASCII, so both slices are on character boundaries.
        let rest = text[amp + 1..].trim();
        if !rest.is_empty() && rest != "wait" && !rest.starts_with("wait ") {
            let before = text[..amp].trim();
            return Some(format!(
                "`{before}` is put in the background and `{rest}` runs next"
            ));
        }
    }
    None
}

impl Rule for MultipleServices {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for (idx, stage) in cx.stages.stages.iter().enumerate() {
            for c in &stage.commands {
                let (kw, line, meta) = match c {
                    Command::Cmd(c) => ("CMD", &c.cmd, &c.meta),
                    Command::Entrypoint(e) => ("ENTRYPOINT", &e.cmd, &e.meta),
                    _ => continue,
                };
                let direct = match line {
                    ShellOrExec::Shell(s) => services_in(s, true),
                    ShellOrExec::Exec(words) => {
                        if let Some(w) = words.iter().find(|w| supervisor(w)) {
                            Some(format!("`{w}` runs a service manager"))
                        } else {
                            // `["sh", "-c", "a & b"]`: the shell string.
                            match words.iter().position(|w| w == "-c") {
                                Some(i) => services_in(&words[i + 1..].join(" "), true),
                                None => services_in(&line_text(line), false),
                            }
                        }
                    }
                };
                if let Some(why) = direct {
                    out.push(cx.finding(
                        &META,
                        meta.span,
                        format!("{kw} {why}: run one service per container"),
                    ));
                    continue;
                }
                for s in scripts_run_by(cx, idx, line) {
                    let hit = script_lines(&s.text)
                        .find_map(|(n, l)| services_in(l, false).map(|w| (n, w)));
                    if let Some((n, why)) = hit {
                        out.push(cx.finding(
                            &META,
                            meta.span,
                            format!(
                                "{kw} runs {} ({}, line {n}): {why}: run one service per container",
                                s.image_path, s.origin
                            ),
                        ));
                    }
                }
            }
        }
    }
}
