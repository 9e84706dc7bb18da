//! hadolint's rules about the shell commands of `RUN`: `cd`, `sudo`, `apt`/`apt-get`, `apk`,
//! `pip`, `npm`, `wget`/`curl`, `ln /bin/sh` and pipes without `pipefail`.
//!
//! Every `RUN` is split into simple commands with [`crate::shell`]: shell form as a script, and
//! exec form as its strings joined with spaces and read as a script (what hadolint does, so
//! `RUN ["sh", "-c", "a | b"]` has a pipe). Commands, arguments and flags are then matched the
//! way hadolint matches them (its `Hadolint.Shell` helpers: `-abc` is the flags `a`, `b`, `c`,
//! `--x=y` is the flag `x`, a command is named by its first word exactly). Rules hadolint also
//! applies to `ONBUILD RUN` (DL3009, DL3013, DL3018, DL3042, DL4001) do so here, with
//! hadolint's model: the triggers of the whole file are a stream of their own, with state
//! apart from the plain instructions.
//!
//! Heredocs are plinth's addition (hadolint 2.15 does not parse them): a `RUN <<EOF` is checked
//! as its body when that is a shell script, and in `RUN sh <<EOF` the bodies fed to the shell
//! are checked too. Other differences from hadolint are in the rules' docs.

use plinth_dockerfile::{
    Command, MountType, RunCommand, RunMount, RunScript, ShellOrExec, Span, Stage,
};

use super::{Rule, RuleMeta};
use crate::Ctx;
use crate::finding::{Finding, Severity};
use crate::shell::{Script, SimpleCommand};

/// The rules of this module.
pub(super) fn rules() -> Vec<&'static dyn Rule> {
    vec![
        &Dl3003, &Dl3004, &Dl3008, &Dl3009, &Dl3013, &Dl3014, &Dl3015, &Dl3016, &Dl3018, &Dl3019,
        &Dl3027, &Dl3042, &Dl4001, &Dl4005, &Dl4006,
    ]
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the rules.

/// Whether `ONBUILD RUN` triggers are checked as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Triggers {
    /// Check `ONBUILD RUN` too (hadolint's `rule <> onbuild rule`).
    Include,
    /// Only plain `RUN`s.
    Skip,
}

/// A `RUN` (or `ONBUILD RUN`) as the rules see it.
struct Run<'a> {
    run: &'a RunCommand,
    /// Where findings point: the `RUN`, or the `ONBUILD` holding it.
    span: Span,
    script: Script,
}

/// The `RUN`s of `stage`, in order.
fn runs(stage: &Stage, triggers: Triggers) -> Vec<Run<'_>> {
    stage
        .commands
        .iter()
        .filter_map(|c| run_of(c, triggers))
        .collect()
}

/// `c` as a [`Run`], when it is a `RUN` (or an `ONBUILD RUN` and `triggers` includes them).
fn run_of(c: &Command, triggers: Triggers) -> Option<Run<'_>> {
    match c {
        Command::Run(run) => Some(Run {
            run,
            span: run.meta.span,
            script: script_of(run),
        }),
        Command::Onbuild(on) if triggers == Triggers::Include => match on.trigger.as_deref() {
            Ok(Command::Run(run)) => Some(Run {
                run,
                span: on.meta.span,
                script: script_of(run),
            }),
            _ => None,
        },
        _ => None,
    }
}

/// The `ONBUILD` instructions of the whole file, unwrapped, with the `ONBUILD`'s span, in
/// order. hadolint checks them as a stream of their own (its `onbuild` wrapper): with state
/// apart from the plain instructions, and without the `FROM`s.
fn onbuild_commands<'a>(cx: &'a Ctx<'_>) -> Vec<(&'a Command, Span)> {
    cx.stages
        .stages
        .iter()
        .flat_map(|s| &s.commands)
        .filter_map(|c| match c {
            Command::Onbuild(on) => on.trigger.as_deref().ok().map(|t| (t, on.meta.span)),
            _ => None,
        })
        .collect()
}

/// [`Run`] of an unwrapped `ONBUILD` trigger.
fn onbuild_run(c: &Command, span: Span) -> Option<Run<'_>> {
    match c {
        Command::Run(run) => Some(Run {
            run,
            span,
            script: script_of(run),
        }),
        _ => None,
    }
}

/// The shells whose scripts the splitter understands.
const SHELLS: [&str; 6] = ["sh", "bash", "dash", "ash", "zsh", "ksh"];

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Whether a `#!` line runs a shell (`#!/bin/sh`, `#!/usr/bin/env bash`).
fn shell_shebang(content: &str) -> bool {
    let first = content.lines().next().unwrap_or_default();
    let mut words = first.trim_start_matches("#!").split_whitespace();
    let mut interpreter = words.next().unwrap_or_default();
    if basename(interpreter) == "env" {
        interpreter = words.find(|w| !w.starts_with('-')).unwrap_or_default();
    }
    SHELLS.contains(&basename(interpreter))
}

/// A shell that reads its script from standard input (`sh`, `bash -ex`, `sh -s`).
fn reads_script_from_stdin(cmd: &SimpleCommand) -> bool {
    SHELLS.contains(&basename(cmd.name())) && cmd.args_no_flags(&[]).is_empty()
}

/// The simple commands a `RUN` runs, as hadolint reads them (exec form joined with blanks, a
/// `RUN <<EOF` body, heredocs fed to a shell).
pub(super) fn script_of(run: &RunCommand) -> Script {
    let text = match &run.cmd {
        // hadolint joins the JSON strings with spaces and reads the result as a script.
        ShellOrExec::Exec(words) => return Script::parse(&words.join(" ")),
        ShellOrExec::Shell(text) => text,
    };
    match run.script() {
        Ok(RunScript::Heredoc {
            content, shebang, ..
        }) => {
            if !shebang || shell_shebang(&content) {
                Script::parse(&content)
            } else {
                Script::default()
            }
        }
        Ok(RunScript::Inline(_)) => {
            let mut script = Script::parse(text);
            if script.commands.iter().any(reads_script_from_stdin) {
                for h in &run.heredocs {
                    script.extend(Script::parse(&h.content()));
                }
            }
            script
        }
        Ok(RunScript::Plain) | Err(_) => Script::parse(text),
    }
}

/// The source text of a `RUN`'s command (heredoc bodies included), for rules that look at the
/// text as hadolint does.
fn run_text(run: &RunCommand) -> String {
    let mut text = match &run.cmd {
        ShellOrExec::Shell(s) => s.clone(),
        ShellOrExec::Exec(words) => words.join(" "),
    };
    for h in &run.heredocs {
        text.push('\n');
        text.push_str(&h.data);
    }
    text
}

/// The targets of the `RUN`'s `--mount=type=cache` mounts (unexpanded).
fn cache_targets(run: &RunCommand) -> Vec<String> {
    run.mounts
        .iter()
        .filter_map(|m| match m {
            RunMount::Resolved(m) if m.typ == MountType::Cache => m.target.clone(),
            RunMount::Resolved(_) => None,
            RunMount::Unresolved(spec) => {
                let mut cache = false;
                let mut target = None;
                for field in spec.split(',') {
                    let (key, value) = field.split_once('=').unwrap_or((field, ""));
                    let value = value.trim_matches('"');
                    match key.trim().to_ascii_lowercase().as_str() {
                        "type" => cache = value == "cache",
                        "target" | "dst" | "destination" => target = Some(value.to_string()),
                        _ => {}
                    }
                }
                if cache { target } else { None }
            }
        })
        .collect()
}

/// Whether the `RUN` has a cache mount whose target starts with `dir` (hadolint's
/// `hasCacheDirectory`).
fn has_cache_dir(run: &RunCommand, dir: &str) -> bool {
    cache_targets(run).iter().any(|t| t.starts_with(dir))
}

/// Flags every `RUN` of every stage for which `bad` holds, with the rule's message.
fn flag_runs(
    cx: &Ctx<'_>,
    out: &mut Vec<Finding>,
    meta: &RuleMeta,
    message: &str,
    triggers: Triggers,
    bad: impl Fn(&Run<'_>) -> bool,
) {
    for stage in &cx.stages.stages {
        for r in runs(stage, triggers) {
            if bad(&r) {
                out.push(cx.finding(meta, r.span, message));
            }
        }
    }
}

/// Declares a rule that flags single `RUN`s: a unit struct, its `RuleMeta` and its check.
macro_rules! run_rule {
    (
        $(#[$doc:meta])*
        $ty:ident, $meta:ident {
            code: $code:literal,
            name: $name:literal,
            severity: $sev:expr,
            summary: $summary:literal,
            message: $message:expr,
            triggers: $triggers:expr,
            bad: $bad:expr $(,)?
        }
    ) => {
        static $meta: RuleMeta = RuleMeta {
            code: $code,
            name: $name,
            severity: $sev,
            summary: $summary,
        };

        $(#[$doc])*
        struct $ty;

        impl Rule for $ty {
            fn meta(&self) -> &'static RuleMeta {
                &$meta
            }

            fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
                flag_runs(cx, out, &$meta, $message, $triggers, $bad);
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// The rules.

run_rule! {
    /// DL3003: a `cd` command in `RUN`; `WORKDIR` says where commands run, for every later
    /// instruction, where a `cd` lasts only for its `RUN`.
    Dl3003, DL3003 {
        code: "DL3003",
        name: "cd-instead-of-workdir",
        severity: Severity::Warning,
        summary: "Use WORKDIR to switch to a directory.",
        message: "Use WORKDIR to switch to a directory.",
        triggers: Triggers::Skip,
        bad: |r: &Run<'_>| r.script.uses("cd"),
    }
}

run_rule! {
    /// DL3004: `sudo` in `RUN`; builds run as root or as the `USER` set, and sudo's TTY and
    /// signal handling make builds unpredictable.
    Dl3004, DL3004 {
        code: "DL3004",
        name: "sudo",
        severity: Severity::Error,
        summary: "Do not use sudo in RUN.",
        message: "Do not use sudo as it leads to unpredictable behavior. Use a tool like gosu to enforce root",
        triggers: Triggers::Skip,
        bad: |r: &Run<'_>| r.script.uses("sudo"),
    }
}

/// The packages of `apt-get ... install ...` commands (hadolint's `aptGetPackages`): the
/// non-flag arguments other than `install`, leaving out the value of `-t`/`--target-release`.
fn apt_get_packages(script: &Script) -> impl Iterator<Item = &str> {
    script
        .commands
        .iter()
        .filter(|c| c.is_with_arg("apt-get", &["install"]))
        .flat_map(|c| c.args_no_flags(&["t", "target-release"]))
        .filter(|a| *a != "install")
}

run_rule! {
    /// DL3008: `apt-get install` of a package without a version (`pkg=1.2`; a path or a
    /// `.deb` counts as pinned), so rebuilds install whatever is current.
    ///
    /// Unlike hadolint, `--target-release=x` (value attached) does not swallow the next
    /// argument.
    Dl3008, DL3008 {
        code: "DL3008",
        name: "apt-get-unpinned",
        severity: Severity::Warning,
        summary: "Pin versions in apt-get install.",
        message: "Pin versions in apt get install. Instead of `apt-get install <package>` use `apt-get install <package>=<version>`",
        triggers: Triggers::Skip,
        bad: |r: &Run<'_>| {
            apt_get_packages(&r.script)
                .any(|p| !(p.contains('=') || p.contains('/') || p.ends_with(".deb")))
        },
    }
}

static DL3009: RuleMeta = RuleMeta {
    code: "DL3009",
    name: "apt-lists-not-deleted",
    severity: Severity::Info,
    summary: "Delete the apt-get lists after installing something.",
};

/// DL3009: `apt-get update` (or `apt update`, `aptitude update`) in a `RUN` that does not
/// `rm -rf /var/lib/apt/lists/*`, leaving the lists in the layer. As in hadolint: only in the
/// last stage (or a stage with the same `FROM`) and in stages that a `FROM` builds on, since
/// other stages' files do not reach the image (`ONBUILD RUN`s always count); any `rm` with the
/// argument `-rf` or `/var/lib/apt/lists/*` counts as the cleanup; a cache mount on
/// `/var/lib/apt/lists` (or on both `/var/lib/apt` and `/var/cache/apt`) keeps the lists out
/// of the layer.
struct Dl3009;

/// Whether a `RUN` updates the apt lists and leaves them in the layer.
fn apt_lists_left(r: &Run<'_>) -> bool {
    let cmds = &r.script.commands;
    let update = cmds.iter().any(|c| {
        ["apt-get", "apt", "aptitude"]
            .iter()
            .any(|n| c.is_with_arg(n, &["update"]))
    });
    let cleanup = cmds
        .iter()
        .any(|c| c.is_with_arg("rm", &["-rf", "/var/lib/apt/lists/*"]));
    let cached = has_cache_dir(r.run, "/var/lib/apt/lists")
        || (has_cache_dir(r.run, "/var/lib/apt") && has_cache_dir(r.run, "/var/cache/apt"));
    update && !cleanup && !cached
}

impl Rule for Dl3009 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3009
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        const MESSAGE: &str = "Delete the apt-get lists after installing something";
        let stages = &cx.stages.stages;
        let Some(last) = stages.last() else { return };
        let same_from = |s: &Stage| {
            s.from.base == last.from.base
                && s.from.name == last.from.name
                && s.from.platform == last.from.platform
        };
        // hadolint keys stages by the image name of every FROM (tag and digest left out).
        let used_as_base = |name: &str| {
            stages.iter().any(|s| {
                let base = s.from.base.split('@').next().unwrap_or_default();
                let image = match base.rsplit_once(':') {
                    Some((img, tag)) if !tag.contains('/') => img,
                    _ => base,
                };
                image.eq_ignore_ascii_case(name)
            })
        };
        for stage in stages {
            let counts = same_from(stage) || stage.name.as_deref().is_some_and(used_as_base);
            if !counts {
                continue;
            }
            for r in runs(stage, Triggers::Skip) {
                if apt_lists_left(&r) {
                    out.push(cx.finding(&DL3009, r.span, MESSAGE));
                }
            }
        }
        // The ONBUILD stream has no FROM, so every trigger is in hadolint's "last stage".
        for (c, span) in onbuild_commands(cx) {
            if let Some(r) = onbuild_run(c, span)
                && apt_lists_left(&r)
            {
                out.push(cx.finding(&DL3009, r.span, MESSAGE));
            }
        }
    }
}

/// hadolint's `isPipInstall`: a command whose name starts with `pip` and that has the argument
/// `install`, or a `python*` command with the arguments `-m pip install`.
fn is_pip_install(c: &SimpleCommand) -> bool {
    let name = c.name();
    (name.starts_with("pip") && c.has_arg("install"))
        || (name.starts_with("python")
            && c.args()
                .windows(3)
                .any(|w| w[0] == "-m" && w[1] == "pip" && w[2] == "install"))
}

/// pip's options that take a value (hadolint's list for DL3013).
const PIP_VALUE_FLAGS: [&str; 24] = [
    "abi",
    "b",
    "build",
    "e",
    "editable",
    "extra-index-url",
    "f",
    "find-links",
    "i",
    "index-url",
    "implementation",
    "no-binary",
    "only-binary",
    "platform",
    "prefix",
    "progress-bar",
    "proxy",
    "python-version",
    "root",
    "src",
    "t",
    "target",
    "trusted-host",
    "upgrade-strategy",
];

/// pip's VCS schemes (`git+https://...`).
const VCS_SCHEMES: [&str; 22] = [
    "git+file",
    "git+https",
    "git+ssh",
    "git+http",
    "git+git",
    "git",
    "hg+file",
    "hg+http",
    "hg+https",
    "hg+ssh",
    "hg+static-http",
    "svn",
    "svn+svn",
    "svn+http",
    "svn+https",
    "svn+ssh",
    "bzr+http",
    "bzr+https",
    "bzr+ssh",
    "bzr+sftp",
    "bzr+ftp",
    "bzr+lp",
];

/// Whether a `pip install` argument is pinned (hadolint's `versionFixed`).
fn pip_pinned(p: &str) -> bool {
    const SYMBOLS: [&str; 8] = ["==", ">=", "<=", ">", "<", "!=", "~=", "==="];
    let vcs = VCS_SCHEMES.iter().any(|s| p.starts_with(s));
    SYMBOLS.iter().any(|s| p.contains(s))
        || (vcs && p.contains('@'))
        || p.ends_with(".whl")
        || p.ends_with(".tar.gz")
        || (!vcs && p.contains('/'))
}

/// hadolint's DL3013 trigger on one command.
fn pip_unpinned(c: &SimpleCommand) -> bool {
    if !is_pip_install(c) {
        return false;
    }
    let requirements = ["--requirement", "-r", "."].iter().any(|a| c.has_arg(a));
    let constraint = c.has_flag("constraint") || c.has_flag("c");
    if requirements || constraint {
        return false;
    }
    let args = c.args_no_flags(&PIP_VALUE_FLAGS);
    let packages = args
        .iter()
        .skip_while(|a| **a != "install")
        .skip_while(|a| **a == "install");
    !packages.clone().all(|p| pip_pinned(p))
}

run_rule! {
    /// DL3013: `pip install` of a package without a version (`pkg==1.2`, another comparison,
    /// a VCS URL with `@ref`, a wheel or sdist, or a path count as pinned); installs from
    /// `-r`/`--requirement` files, of `.`, or with `-c`/`--constraint` are fine.
    ///
    /// Unlike hadolint, a value attached to an option (`--index-url=x`) does not swallow the
    /// next argument.
    Dl3013, DL3013 {
        code: "DL3013",
        name: "pip-unpinned",
        severity: Severity::Warning,
        summary: "Pin versions in pip install.",
        message: "Pin versions in pip. Instead of `pip install <package>` use `pip install <package>==<version>` or `pip install --requirement <requirements file>`",
        triggers: Triggers::Include,
        bad: |r: &Run<'_>| r.script.commands.iter().any(pip_unpinned),
    }
}

run_rule! {
    /// DL3014: `apt-get install` without `-y` (`--yes`, `--assume-yes`, or `-q`, as hadolint
    /// accepts), which waits for an answer no build gives.
    Dl3014, DL3014 {
        code: "DL3014",
        name: "apt-get-no-yes",
        severity: Severity::Warning,
        summary: "Use the -y switch with apt-get install.",
        message: "Use the `-y` switch to avoid manual input `apt-get -y install <package>`",
        triggers: Triggers::Skip,
        bad: |r: &Run<'_>| {
            r.script.commands.iter().any(|c| {
                c.is_with_arg("apt-get", &["install"])
                    && !c.has_any_flag(&["y", "yes", "q", "assume-yes"])
            })
        },
    }
}

run_rule! {
    /// DL3015: `apt-get install` without `--no-install-recommends` (or
    /// `APT::Install-Recommends=false`), which pulls in packages nobody asked for.
    Dl3015, DL3015 {
        code: "DL3015",
        name: "apt-get-recommends",
        severity: Severity::Info,
        summary: "Use --no-install-recommends with apt-get install.",
        message: "Avoid additional packages by specifying `--no-install-recommends`",
        triggers: Triggers::Skip,
        bad: |r: &Run<'_>| {
            r.script.commands.iter().any(|c| {
                c.is_with_arg("apt-get", &["install"])
                    && !(c.has_flag("no-install-recommends")
                        || c.has_arg("APT::Install-Recommends=false"))
            })
        },
    }
}

/// Whether an `npm install` argument is pinned (hadolint's DL3016 `versionFixed`).
fn npm_pinned(p: &str) -> bool {
    const GIT: [&str; 4] = ["git://", "git+ssh://", "git+http://", "git+https://"];
    const PATHS: [&str; 4] = ["/", "./", "../", "~/"];
    const TARBALLS: [&str; 3] = [".tar", ".tar.gz", ".tgz"];
    if GIT.iter().any(|g| p.starts_with(g)) {
        return p.contains('#');
    }
    if TARBALLS.iter().any(|t| p.ends_with(t)) || PATHS.iter().any(|d| p.starts_with(d)) {
        return true;
    }
    // hadolint drops a scope's leading characters above '/' before looking for '@'.
    let rest = if p.starts_with('@') {
        p.trim_start_matches(|c: char| c > '/')
    } else {
        p
    };
    rest.contains('@')
}

run_rule! {
    /// DL3016: `npm install <package>` without a version (`pkg@1.2`, a git URL with `#ref`,
    /// a tarball or a folder count as pinned); a bare `npm install` (from package.json) is
    /// fine.
    Dl3016, DL3016 {
        code: "DL3016",
        name: "npm-unpinned",
        severity: Severity::Warning,
        summary: "Pin versions in npm install.",
        message: "Pin versions in npm. Instead of `npm install <package>` use `npm install <package>@<version>`",
        triggers: Triggers::Skip,
        bad: |r: &Run<'_>| {
            r.script.commands.iter().any(|c| {
                if !c.is_with_arg("npm", &["install"]) {
                    return false;
                }
                let args = c.args_no_flags(&[]);
                if args.first() != Some(&"install") {
                    return false;
                }
                !args
                    .iter()
                    .skip_while(|a| **a != "install")
                    .skip_while(|a| **a == "install")
                    .all(|p| npm_pinned(p))
            })
        },
    }
}

run_rule! {
    /// DL3018: `apk add` of a package without a version (`pkg=1.2`, `pkg~1.2` or an `.apk`
    /// file count as pinned; the values of `-t`/`--virtual`, `--repository` and `-X` are not
    /// packages).
    Dl3018, DL3018 {
        code: "DL3018",
        name: "apk-unpinned",
        severity: Severity::Warning,
        summary: "Pin versions in apk add.",
        message: "Pin versions in apk add. Instead of `apk add <package>` use `apk add <package>=<version>`",
        triggers: Triggers::Include,
        bad: |r: &Run<'_>| {
            r.script
                .commands
                .iter()
                .filter(|c| c.is_with_arg("apk", &["add"]))
                .flat_map(|c| c.args_no_flags(&["t", "virtual", "repository", "X"]))
                .filter(|a| *a != "add")
                .any(|p| !(p.contains('=') || p.contains('~') || p.ends_with(".apk")))
        },
    }
}

run_rule! {
    /// DL3019: `apk add` without `--no-cache`, which leaves the package index in the layer,
    /// unless a cache mount on `/var/cache/apk` keeps it out.
    Dl3019, DL3019 {
        code: "DL3019",
        name: "apk-no-cache",
        severity: Severity::Info,
        summary: "Use apk add --no-cache.",
        message: "Use the `--no-cache` switch to avoid the need to use `--update` and remove `/var/cache/apk/*` when done installing packages",
        triggers: Triggers::Skip,
        bad: |r: &Run<'_>| {
            !has_cache_dir(r.run, "/var/cache/apk")
                && r.script
                    .commands
                    .iter()
                    .any(|c| c.is_with_arg("apk", &["add"]) && !c.has_flag("no-cache"))
        },
    }
}

run_rule! {
    /// DL3027: `apt`, whose command-line interface is not stable; scripts use `apt-get` and
    /// `apt-cache`.
    Dl3027, DL3027 {
        code: "DL3027",
        name: "apt",
        severity: Severity::Warning,
        summary: "Use apt-get or apt-cache instead of apt.",
        message: "Do not use apt as it is meant to be a end-user tool, use apt-get or apt-cache instead",
        triggers: Triggers::Skip,
        bad: |r: &Run<'_>| r.script.uses("apt"),
    }
}

static DL3042: RuleMeta = RuleMeta {
    code: "DL3042",
    name: "pip-cache-dir",
    severity: Severity::Warning,
    summary: "Use pip install --no-cache-dir.",
};

/// The values of `PIP_NO_CACHE_DIR` pip takes as true.
const TRUTHY: [&str; 10] = [
    "1", "true", "True", "TRUE", "on", "On", "ON", "yes", "Yes", "YES",
];

/// hadolint's `pipNoCacheDirIsSet`: the text after the first `PIP_NO_CACHE_DIR=` starts with a
/// true value.
fn text_sets_pip_no_cache(text: &str) -> bool {
    text.split_once("PIP_NO_CACHE_DIR=")
        .is_some_and(|(_, rest)| TRUTHY.iter().any(|t| rest.starts_with(t)))
}

/// `pipx`/`pipenv` (or `python -m pipx`), which have no `--no-cache-dir`.
fn is_pip_wrapper(c: &SimpleCommand) -> bool {
    ["pipx", "pipenv"].iter().any(|w| {
        c.name().contains(w)
            || (c.name().starts_with("python")
                && c.args().windows(2).any(|p| p[0] == "-m" && p[1] == *w))
    })
}

/// Whether a cache mount holds pip's cache (a target ending in `.cache/pip`, as hadolint
/// checks).
fn pip_cache_mounted(run: &RunCommand) -> bool {
    cache_targets(run)
        .iter()
        .any(|t| t.trim_end_matches('/').ends_with(".cache/pip"))
}

/// Whether an `ENV` sets `PIP_NO_CACHE_DIR` to a true value.
fn env_sets_pip_no_cache(c: &Command) -> bool {
    match c {
        Command::Env(env) => env.pairs.iter().any(|kv| {
            kv.key == "PIP_NO_CACHE_DIR" && TRUTHY.contains(&kv.value.trim_matches(['"', '\'']))
        }),
        _ => false,
    }
}

/// Whether a `RUN` installs with pip and keeps pip's cache in the layer.
fn pip_cache_kept(r: &Run<'_>) -> bool {
    let forgot = r
        .script
        .commands
        .iter()
        .any(|c| is_pip_install(c) && !c.has_arg("--no-cache-dir") && !is_pip_wrapper(c));
    forgot && !text_sets_pip_no_cache(&run_text(r.run)) && !pip_cache_mounted(r.run)
}

/// DL3042: `pip install` without `--no-cache-dir`, which keeps pip's download cache in the
/// layer. As in hadolint, not flagged when `PIP_NO_CACHE_DIR` is set true by an `ENV` of the
/// stage (or of the stage it builds on, by name) or in the `RUN` itself, for `pipx`/`pipenv`,
/// or when the `RUN` has a cache mount on pip's cache (`.../.cache/pip`). `ONBUILD RUN`s only
/// see `ONBUILD ENV`s (hadolint checks triggers as a stream of their own).
struct Dl3042;

impl Rule for Dl3042 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3042
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        const MESSAGE: &str =
            "Avoid use of cache directory with pip. Use `pip install --no-cache-dir <package>`";
        // Stage name -> whether PIP_NO_CACHE_DIR was set true in it.
        let mut named: Vec<(&str, bool)> = Vec::new();
        for stage in &cx.stages.stages {
            let base = stage.from.base.to_ascii_lowercase();
            let mut no_cache = named.iter().rev().any(|(n, set)| *set && *n == base);
            for cmd in &stage.commands {
                no_cache |= env_sets_pip_no_cache(cmd);
                if let Some(r) = run_of(cmd, Triggers::Skip)
                    && !no_cache
                    && pip_cache_kept(&r)
                {
                    out.push(cx.finding(&DL3042, r.span, MESSAGE));
                }
            }
            if let Some(name) = stage.name.as_deref() {
                named.push((name, no_cache));
            }
        }
        let mut no_cache = false;
        for (c, span) in onbuild_commands(cx) {
            no_cache |= env_sets_pip_no_cache(c);
            if let Some(r) = onbuild_run(c, span)
                && !no_cache
                && pip_cache_kept(&r)
            {
                out.push(cx.finding(&DL3042, r.span, MESSAGE));
            }
        }
    }
}

static DL4001: RuleMeta = RuleMeta {
    code: "DL4001",
    name: "wget-and-curl",
    severity: Severity::Warning,
    summary: "Use either wget or curl, not both.",
};

/// DL4001: a stage that uses both `wget` and `curl` (two tools for one job). As in hadolint,
/// each `RUN` that uses one of them once both have been seen in the stage is flagged;
/// `ONBUILD RUN`s are counted apart, over the whole file (hadolint's `onbuild` stream).
struct Dl4001;

/// Tracks which of `curl` and `wget` were used; says whether `r` is to be flagged.
fn curl_and_wget(seen: &mut (bool, bool), r: &Run<'_>) -> bool {
    let uses_curl = r.script.uses("curl");
    let uses_wget = r.script.uses("wget");
    seen.0 |= uses_curl;
    seen.1 |= uses_wget;
    (uses_curl || uses_wget) && seen.0 && seen.1
}

impl Rule for Dl4001 {
    fn meta(&self) -> &'static RuleMeta {
        &DL4001
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        const MESSAGE: &str = "Either use Wget or Curl but not both";
        for stage in &cx.stages.stages {
            let mut seen = (false, false);
            for r in runs(stage, Triggers::Skip) {
                if curl_and_wget(&mut seen, &r) {
                    out.push(cx.finding(&DL4001, r.span, MESSAGE));
                }
            }
        }
        let mut seen = (false, false);
        for (c, span) in onbuild_commands(cx) {
            if let Some(r) = onbuild_run(c, span)
                && curl_and_wget(&mut seen, &r)
            {
                out.push(cx.finding(&DL4001, r.span, MESSAGE));
            }
        }
    }
}

run_rule! {
    /// DL4005: `ln ... /bin/sh`: replacing the shell behind Docker's back; `SHELL` says which
    /// shell runs `RUN`.
    Dl4005, DL4005 {
        code: "DL4005",
        name: "ln-bin-sh",
        severity: Severity::Warning,
        summary: "Use SHELL to change the default shell.",
        message: "Use SHELL to change the default shell",
        triggers: Triggers::Skip,
        bad: |r: &Run<'_>| r.script.commands.iter().any(|c| c.is_with_arg("ln", &["/bin/sh"])),
    }
}

static DL4006: RuleMeta = RuleMeta {
    code: "DL4006",
    name: "pipefail",
    severity: Severity::Warning,
    summary: "Set the SHELL option -o pipefail before RUN with a pipe in it.",
};

/// Whether `cmd` is `bash`/`zsh`/`ash` (any path) with `-o pipefail` (hadolint's
/// `hasPipefailOption`), or (for a `RUN`) `set -o pipefail`.
fn sets_pipefail(cmd: &SimpleCommand, shells: &[&str]) -> bool {
    shells.contains(&basename(cmd.name())) && cmd.has_flag("o") && cmd.has_arg("pipefail")
}

/// DL4006: a `RUN` with a pipe while the shell does not fail on a failed pipe stage, so
/// `curl ... | tar x` succeeds even when the download fails. As in hadolint, a `SHELL` of
/// `bash`, `zsh` or `ash` (any path) with `-o pipefail` fixes the stage (until the next `SHELL`
/// or `FROM`), `/bin/sh -o pipefail` does not, and a non-POSIX `SHELL` (`pwsh`, `powershell`,
/// `cmd`) turns the rule off. Unlike hadolint (hadolint issue #522), `set -o pipefail` in the
/// same `RUN` is accepted too: where `/bin/sh` does not know the option the `RUN` fails loudly
/// instead of hiding a failed pipe stage, which is what the rule is about.
struct Dl4006;

impl Rule for Dl4006 {
    fn meta(&self) -> &'static RuleMeta {
        &DL4006
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            let mut safe = false;
            for cmd in &stage.commands {
                match cmd {
                    Command::Shell(sh) => {
                        let first = sh.shell.first().map(String::as_str).unwrap_or_default();
                        let non_posix = ["pwsh", "powershell", "cmd"]
                            .iter()
                            .any(|p| first.starts_with(p));
                        let words = Script::parse(&sh.shell.join(" "));
                        safe = non_posix
                            || words
                                .commands
                                .iter()
                                .any(|c| sets_pipefail(c, &["bash", "zsh", "ash"]));
                    }
                    Command::Run(run) if !safe => {
                        let script = script_of(run);
                        let set_in_run = script.commands.iter().any(|c| sets_pipefail(c, &["set"]));
                        if script.has_pipe && !set_in_run {
                            out.push(cx.finding(
                                &DL4006,
                                run.meta.span,
                                "Set the SHELL option -o pipefail before RUN with a pipe in it. If you are using /bin/sh in an alpine image or if your shell is symlinked to busybox then consider explicitly setting your SHELL to /bin/ash, or disable this check",
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}
