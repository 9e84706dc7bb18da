//! PL005 cleanup-in-separate-layer.

use plinth_dockerfile::Command;

use super::{basename, commands, run_text};
use crate::Ctx;
use crate::finding::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

static META: RuleMeta = RuleMeta {
    code: "PL005",
    name: "cleanup-in-separate-layer",
    severity: Severity::Warning,
    summary: "Clean package caches and remove build packages in the RUN that installed them.",
};

/// Flags a RUN that cleans up after an install done by an *earlier* RUN of the same stage
/// (seed 002, "Install & cleanup in a layer"): every instruction adds a layer, so the earlier
/// layer keeps the files and the image does not get smaller. Per package manager:
///
/// - apt: `rm -rf /var/lib/apt/lists`, `/var/cache/apt`, `apt(-get) clean`, and removals
///   (`apt-get remove/purge/autoremove`) after `apt(-get) install/update`;
/// - apk: `apk cache clean`, `rm -rf /var/cache/apk`, `apk del` after `apk add/update`;
/// - yum/dnf/microdnf: `clean all`, `rm -rf /var/cache/yum|dnf`, `remove` after `install`;
/// - pip: `pip cache purge`, `rm -rf ~/.cache/pip` (or `/root/.cache/pip`) after a
///   `pip install` without `--no-cache-dir`;
/// - npm: `npm cache clean`, `rm -rf ~/.npm` after `npm install/ci`.
///
/// A cache cleanup counts only when the earlier install's RUN did not clean the same cache
/// itself, and a RUN that installs with the same manager itself is not flagged (its cleanup is
/// its own). Commands inside scripts are not seen.
pub(super) struct CleanupInSeparateLayer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Manager {
    Apt,
    Apk,
    Yum,
    Pip,
    Npm,
}

impl Manager {
    fn name(self) -> &'static str {
        match self {
            Manager::Apt => "apt",
            Manager::Apk => "apk",
            Manager::Yum => "yum/dnf",
            Manager::Pip => "pip",
            Manager::Npm => "npm",
        }
    }
}

const ALL: [Manager; 5] = [
    Manager::Apt,
    Manager::Apk,
    Manager::Yum,
    Manager::Pip,
    Manager::Npm,
];

/// What one RUN does with package managers.
#[derive(Default)]
struct Effects {
    /// Installs that leave files behind (before any cleanup in the same RUN).
    installs: Vec<Manager>,
    /// Cache cleanups, with the command that does it.
    cleans: Vec<(Manager, String)>,
    /// Package removals, with the command.
    removes: Vec<(Manager, String)>,
}

fn cache_dir(path: &str) -> Option<Manager> {
    let p = path.trim_end_matches(['*', '/']);
    if p.starts_with("/var/lib/apt/lists") || p.starts_with("/var/cache/apt") {
        Some(Manager::Apt)
    } else if p.starts_with("/var/cache/apk") || p.starts_with("/etc/apk/cache") {
        Some(Manager::Apk)
    } else if p.starts_with("/var/cache/yum") || p.starts_with("/var/cache/dnf") {
        Some(Manager::Yum)
    } else if p.ends_with(".cache/pip") {
        Some(Manager::Pip)
    } else if p.ends_with(".npm") || p.ends_with(".npm/_cacache") {
        Some(Manager::Npm)
    } else {
        None
    }
}

fn effects(text: &str) -> Effects {
    let mut fx = Effects::default();
    for words in commands(text) {
        let prog = basename(&words[0]);
        let sub = words[1..]
            .iter()
            .find(|w| !w.starts_with('-'))
            .map(String::as_str);
        let line = words.join(" ");
        let mgr = match prog {
            "apt-get" | "apt" => Some(Manager::Apt),
            "apk" => Some(Manager::Apk),
            "yum" | "dnf" | "microdnf" => Some(Manager::Yum),
            "pip" | "pip3" => Some(Manager::Pip),
            "npm" => Some(Manager::Npm),
            _ => None,
        };
        match (prog, mgr, sub) {
            ("rm", _, _) => {
                for m in words[1..].iter().filter_map(|w| cache_dir(w)) {
                    fx.cleans.push((m, line.clone()));
                }
            }
            (_, Some(Manager::Pip), Some("install")) => {
                // `--no-cache-dir` leaves no cache behind.
                let keeps_cache = !words.iter().any(|w| w == "--no-cache-dir");
                fx.installs.extend(keeps_cache.then_some(Manager::Pip));
            }
            (_, Some(Manager::Pip), Some("cache")) => fx.cleans.push((Manager::Pip, line)),
            (_, Some(Manager::Npm), Some("install" | "i" | "ci")) => fx.installs.push(Manager::Npm),
            (_, Some(Manager::Npm), Some("cache")) => fx.cleans.push((Manager::Npm, line)),
            (_, Some(Manager::Apk), Some("add" | "update")) => {
                if !words.iter().any(|w| w == "--no-cache") {
                    fx.installs.push(Manager::Apk);
                } else {
                    // `apk add --no-cache` leaves no cache, but the packages it adds stay.
                    fx.installs.push(Manager::Apk);
                    fx.cleans.push((Manager::Apk, line));
                }
            }
            (_, Some(Manager::Apk), Some("cache")) => fx.cleans.push((Manager::Apk, line)),
            (_, Some(Manager::Apk), Some("del")) => fx.removes.push((Manager::Apk, line)),
            (_, Some(m), Some("install" | "update" | "upgrade" | "dist-upgrade")) => {
                fx.installs.push(m)
            }
            (_, Some(m), Some("clean")) => fx.cleans.push((m, line)),
            (_, Some(m), Some("remove" | "purge" | "autoremove" | "erase")) => {
                fx.removes.push((m, line))
            }
            _ => {}
        }
    }
    fx
}

impl Rule for CleanupInSeparateLayer {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            // Managers whose earlier install left caches behind / installed packages.
            let mut dirty: Vec<Manager> = Vec::new();
            let mut installed: Vec<Manager> = Vec::new();
            for c in &stage.commands {
                let Command::Run(r) = c else { continue };
                let fx = effects(&run_text(r));
                for m in ALL {
                    if fx.installs.contains(&m) {
                        continue;
                    }
                    let cleanup = fx
                        .cleans
                        .iter()
                        .find(|(cm, _)| *cm == m && dirty.contains(&m))
                        .or_else(|| {
                            fx.removes
                                .iter()
                                .find(|(rm, _)| *rm == m && installed.contains(&m))
                        });
                    if let Some((_, cmd)) = cleanup {
                        out.push(cx.finding(
                            &META,
                            r.meta.span,
                            format!(
                                "`{cmd}` cleans up after the {} install of an earlier RUN, \
                                 whose layer keeps the files: clean up in the same RUN",
                                m.name()
                            ),
                        ));
                    }
                }
                for m in ALL {
                    if fx.installs.contains(&m) {
                        installed.push(m);
                        if fx.cleans.iter().any(|(cm, _)| *cm == m) {
                            dirty.retain(|d| *d != m);
                        } else {
                            dirty.push(m);
                        }
                    }
                }
            }
        }
    }
}
