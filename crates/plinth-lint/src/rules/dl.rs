//! hadolint's rules that are not about the shell commands of `RUN`: base image references
//! (`FROM` tags, digests, registries, platforms, stage names), `COPY`/`ADD` sources and
//! destinations, `WORKDIR`, `USER`, `CMD`/`ENTRYPOINT` form and count, `MAINTAINER`, plus the two
//! `RUN` rules that read the commands through `dl_run::script_of` (DL3047 wget progress, DL3059
//! consecutive `RUN`s). Each rule keeps hadolint's trigger, default severity and message, as
//! hadolint 2.15.1 behaves (checked against the binary where its sources changed over time).
//!
//! Values are read unexpanded, as hadolint reads them: `FROM ${BASE}` is an image whose name
//! starts with `$`. Where plinth differs on purpose:
//! - stage names compare case-insensitively (`AS Build` is `--from=build`), as BuildKit and
//!   plinth's builder resolve them (DL3006, DL3022, DL3023, DL3024; hadolint compares the
//!   text as written);
//! - an image's registry is found as Docker finds it (`localhost/x` and `host:5000/x` name a
//!   registry; hadolint cannot parse `FROM host:5000/x:1` at all, and reads `localhost/x` as a
//!   Docker Hub image) (DL3006, DL3026).

use std::collections::{BTreeMap, BTreeSet};

use plinth_dockerfile::{Command, RunCommand, Stage};

use super::dl_run::script_of;
use super::{Rule, RuleMeta};
use crate::Ctx;
use crate::finding::{Finding, Severity};

/// The rules of this module.
pub(super) fn rules() -> Vec<&'static dyn Rule> {
    vec![
        &Dl3000, &Dl3002, &Dl3006, &Dl3007, &Dl3020, &Dl3021, &Dl3022, &Dl3023, &Dl3024, &Dl3025,
        &Dl3026, &Dl3029, &Dl3045, &Dl3047, &Dl3059, &Dl4000, &Dl4003, &Dl4004,
    ]
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the rules.

/// hadolint's `dropQuotes`: strips every `"` and `'` from both ends.
fn drop_quotes(s: &str) -> &str {
    s.trim_matches(['"', '\''])
}

/// A `FROM` image reference split the way hadolint reads it (language-docker's `BaseImage`):
/// registry, name (the path without registry, tag and digest), tag and digest. Nothing is
/// expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ImageRef<'a> {
    registry: Option<&'a str>,
    name: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

impl<'a> ImageRef<'a> {
    /// Splits `base`. The registry is the first path component when there is a `/` after it
    /// and it looks like a host (contains `.` or `:`, or is `localhost`, as Docker decides);
    /// the tag is what follows the last `:` after the last `/`; the digest what follows `@`.
    fn parse(base: &'a str) -> ImageRef<'a> {
        let (rest, digest) = match base.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (base, None),
        };
        let (registry, rest) = match rest.split_once('/') {
            Some((host, path))
                if host.contains('.') || host.contains(':') || host == "localhost" =>
            {
                (Some(host), path)
            }
            _ => (None, rest),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        ImageRef {
            registry,
            name,
            tag,
            digest,
        }
    }
}

/// A stage's `AS` name (plinth's parser lower-cases it, as BuildKit does).
fn alias(stage: &Stage) -> Option<&str> {
    stage.name.as_deref()
}

/// hadolint's `getAllFlags`: `--name[=value]` gives `name`, `-abc` gives `a`, `b`, `c`; `-` and
/// `--` give nothing.
fn flags_of(args: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    for a in args {
        if a == "-" || a == "--" {
            continue;
        }
        if let Some(long) = a.strip_prefix("--") {
            out.push(long.split('=').next().unwrap_or_default());
        } else if let Some(short) = a.strip_prefix('-') {
            out.extend(
                short
                    .char_indices()
                    .map(|(i, c)| &short[i..i + c.len_utf8()]),
            );
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// DL3000

static DL3000: RuleMeta = RuleMeta {
    code: "DL3000",
    name: "workdir-relative",
    severity: Severity::Error,
    summary: "Use an absolute WORKDIR.",
};

/// Flags a `WORKDIR` that is not absolute: after stripping quotes it must start with `/`, a
/// variable (`$`), or a Windows drive (`C:`). A relative `WORKDIR` depends on whatever the
/// previous one (or the base image) was.
struct Dl3000;

impl Rule for Dl3000 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3000
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            for cmd in &stage.commands {
                let Command::Workdir(w) = cmd else { continue };
                let path = drop_quotes(&w.path);
                let mut cs = path.chars();
                let windows =
                    matches!((cs.next(), cs.next()), (Some(d), Some(':')) if d.is_alphabetic());
                if !(path.starts_with('$') || path.starts_with('/') || windows) {
                    out.push(cx.finding(&DL3000, w.meta.span, "Use absolute WORKDIR"));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3002

static DL3002: RuleMeta = RuleMeta {
    code: "DL3002",
    name: "last-user-root",
    severity: Severity::Warning,
    summary: "The last USER of a stage should not be root.",
};

/// Flags the last `USER` of a stage when it is root (`root`, `0`, `root:<group>`, `0:<group>`).
/// As in hadolint every stage is checked, not only the final one; a stage without `USER` is
/// not flagged.
struct Dl3002;

impl Rule for Dl3002 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3002
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            let last_user = stage.commands.iter().rev().find_map(|c| match c {
                Command::User(u) => Some(u),
                _ => None,
            });
            if let Some(u) = last_user {
                let user = u.user.as_str();
                let root = user == "root"
                    || user == "0"
                    || user.starts_with("root:")
                    || user.starts_with("0:");
                if root {
                    out.push(cx.finding(&DL3002, u.meta.span, "Last USER should not be root"));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3006

static DL3006: RuleMeta = RuleMeta {
    code: "DL3006",
    name: "image-untagged",
    severity: Severity::Warning,
    summary: "Always tag the version of an image explicitly.",
};

/// Flags a `FROM` image without a tag or digest. Not flagged: `scratch`, a digest
/// (`image@sha256:...`), a variable (`FROM ${BASE}`), and a stage defined earlier (or by this
/// very `FROM`'s `AS`).
struct Dl3006;

impl Rule for Dl3006 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3006
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        let mut aliases: BTreeSet<&str> = BTreeSet::new();
        for stage in &cx.stages.stages {
            if let Some(a) = alias(stage) {
                aliases.insert(a);
            }
            let image = ImageRef::parse(&stage.from.base);
            if image.name == "scratch"
                || image.digest.is_some()
                || image.tag.is_some()
                || cx.config.built_here.image(&stage.from.base)
            {
                continue;
            }
            let stage_ref = aliases.contains(image.name.to_lowercase().as_str());
            if !image.name.starts_with('$') && !stage_ref {
                out.push(cx.finding(
                    &DL3006,
                    stage.from.meta.span,
                    "Always tag the version of an image explicitly",
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3007

static DL3007: RuleMeta = RuleMeta {
    code: "DL3007",
    name: "image-latest",
    severity: Severity::Warning,
    summary: "Pin the image to a release tag rather than latest.",
};

/// Flags a `FROM` image tagged `latest`, unless a digest pins it (`debian:latest@sha256:...`).
struct Dl3007;

impl Rule for Dl3007 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3007
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            let image = ImageRef::parse(&stage.from.base);
            if image.tag == Some("latest")
                && image.digest.is_none()
                && !cx.config.built_here.image(&stage.from.base)
            {
                out.push(cx.finding(
                    &DL3007,
                    stage.from.meta.span,
                    "Using latest is prone to errors if the image will ever update. Pin the \
                     version explicitly to a release tag",
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3020

static DL3020: RuleMeta = RuleMeta {
    code: "DL3020",
    name: "add-instead-of-copy",
    severity: Severity::Error,
    summary: "Use COPY instead of ADD for files and folders.",
};

/// hadolint's archive extensions, and zstd's (`.zst`, `.tzst`), which BuildKit's and plinth's
/// `ADD` extract too (hadolint's list predates them): `ADD` of these is extraction, which `COPY`
/// cannot do.
const ARCHIVE_EXTENSIONS: [&str; 17] = [
    ".tar", ".Z", ".bz2", ".gz", ".lz", ".lzma", ".tZ", ".tb2", ".tbz", ".tbz2", ".tgz", ".tlz",
    ".tpz", ".txz", ".xz", ".zst", ".tzst",
];

/// Flags an `ADD` whose sources are not all archives (by extension) or `http(s)://` URLs:
/// for plain files and folders `COPY` is clearer (no implicit extraction or download).
struct Dl3020;

impl Rule for Dl3020 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3020
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            for cmd in &stage.commands {
                let Command::Add(add) = cmd else { continue };
                let plain = add.sources.iter().any(|src| {
                    let s = drop_quotes(src);
                    let archive = ARCHIVE_EXTENSIONS.iter().any(|e| s.ends_with(e));
                    let url = s.starts_with("https://") || s.starts_with("http://");
                    !(archive || url)
                });
                if plain {
                    out.push(cx.finding(
                        &DL3020,
                        add.meta.span,
                        "Use COPY instead of ADD for files and folders",
                    ));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3021

static DL3021: RuleMeta = RuleMeta {
    code: "DL3021",
    name: "copy-dest-not-dir",
    severity: Severity::Error,
    summary: "COPY with several sources needs a destination ending in /.",
};

/// Flags a `COPY` with more than one source (heredoc sources count) whose destination does
/// not end with `/` (quotes stripped).
struct Dl3021;

impl Rule for Dl3021 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3021
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            for cmd in &stage.commands {
                let Command::Copy(copy) = cmd else { continue };
                let sources = copy.sources.len() + copy.heredocs.len();
                if sources > 1 && !drop_quotes(&copy.dest).ends_with('/') {
                    out.push(cx.finding(
                        &DL3021,
                        copy.meta.span,
                        "COPY with more than 2 arguments requires the last argument to end \
                         with /",
                    ));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3022

static DL3022: RuleMeta = RuleMeta {
    code: "DL3022",
    name: "copy-from-unknown-stage",
    severity: Severity::Warning,
    summary: "COPY --from should reference a previously defined FROM alias.",
};

/// Flags `COPY --from=x` when no `FROM ... AS x` came before (the current stage's own alias
/// counts; DL3023 flags that). As in hadolint 2.15, a stage number is fine when that many
/// stages have started (`--from=0` always), and so is a value with a `:` (an image reference
/// such as `nginx:1.27`); an image without a tag (`--from=nginx`) is flagged, unless plinth's
/// build provides it (a family image, a named context, the built-in `plinth-init` context).
struct Dl3022;

impl Rule for Dl3022 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3022
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        let mut aliases: BTreeSet<&str> = BTreeSet::new();
        for (i, stage) in cx.stages.stages.iter().enumerate() {
            if let Some(a) = alias(stage) {
                aliases.insert(a);
            }
            for cmd in &stage.commands {
                let Command::Copy(copy) = cmd else { continue };
                let Some(from) = &copy.from else { continue };
                let index_ok = from.parse::<usize>().is_ok_and(|n| n <= i);
                let known = aliases.contains(from.to_lowercase().as_str());
                let provided = cx.config.built_here.image(from);
                if !(known || index_ok || provided || from.contains(':')) {
                    out.push(cx.finding(
                        &DL3022,
                        copy.meta.span,
                        "`COPY --from` should reference a previously defined `FROM` alias",
                    ));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3023

static DL3023: RuleMeta = RuleMeta {
    code: "DL3023",
    name: "copy-from-own-stage",
    severity: Severity::Error,
    summary: "COPY --from cannot reference its own FROM alias.",
};

/// Flags `COPY --from=x` inside the stage named `x`: a stage cannot copy from itself.
struct Dl3023;

impl Rule for Dl3023 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3023
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            let Some(own) = alias(stage) else { continue };
            for cmd in &stage.commands {
                let Command::Copy(copy) = cmd else { continue };
                if copy.from.as_deref().map(str::to_lowercase).as_deref() == Some(own) {
                    out.push(cx.finding(
                        &DL3023,
                        copy.meta.span,
                        "`COPY --from` cannot reference its own `FROM` alias",
                    ));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3024

static DL3024: RuleMeta = RuleMeta {
    code: "DL3024",
    name: "duplicate-stage-name",
    severity: Severity::Error,
    summary: "FROM aliases (stage names) must be unique.",
};

/// Flags a `FROM ... AS x` when an earlier stage is already named `x`.
struct Dl3024;

impl Rule for Dl3024 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3024
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for stage in &cx.stages.stages {
            let Some(a) = alias(stage) else { continue };
            if !seen.insert(a) {
                out.push(cx.finding(
                    &DL3024,
                    stage.from.meta.span,
                    "FROM aliases (stage names) must be unique",
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3025

static DL3025: RuleMeta = RuleMeta {
    code: "DL3025",
    name: "cmd-shell-form",
    severity: Severity::Warning,
    summary: "Use JSON notation for CMD and ENTRYPOINT.",
};

/// Flags `CMD`, `ENTRYPOINT` and `HEALTHCHECK CMD` in shell form (hadolint 2.15 checks the
/// health check too): the process then runs under `/bin/sh -c` and does not receive signals
/// (`docker stop` waits for the timeout).
struct Dl3025;

impl Rule for Dl3025 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3025
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            for cmd in &stage.commands {
                let (shell_form, meta) = match cmd {
                    Command::Cmd(c) => (!c.cmd.is_exec(), &c.meta),
                    Command::Entrypoint(e) => (!e.cmd.is_exec(), &e.meta),
                    Command::Healthcheck(h) => (
                        h.health.test.first().map(String::as_str) == Some("CMD-SHELL"),
                        &h.meta,
                    ),
                    _ => continue,
                };
                if shell_form {
                    out.push(cx.finding(
                        &DL3025,
                        meta.span,
                        "Use arguments JSON notation for CMD and ENTRYPOINT arguments",
                    ));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3026

static DL3026: RuleMeta = RuleMeta {
    code: "DL3026",
    name: "untrusted-registry",
    severity: Severity::Error,
    summary: "Use only an allowed registry in FROM (trusted-registries).",
};

/// Flags a `FROM` image whose registry is not in `trusted-registries` (silent when that list
/// is empty). An image without a registry is Docker Hub's: allowed when `docker.io` or
/// `hub.docker.com` is trusted; `scratch` and earlier stages are always allowed. Registries
/// match exactly (no wildcards, as in hadolint). A variable image (`FROM ${BASE}`) has no
/// registry hadolint can see, so it counts as Docker Hub's.
struct Dl3026;

impl Rule for Dl3026 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3026
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        let allowed = &cx.config.trusted_registries;
        if allowed.is_empty() {
            return;
        }
        let trusted = |r: &str| allowed.iter().any(|a| a == r);
        let mut aliases: BTreeSet<&str> = BTreeSet::new();
        for stage in &cx.stages.stages {
            let image = ImageRef::parse(&stage.from.base);
            let ok = aliases.contains(image.name.to_lowercase().as_str())
                || cx.config.built_here.image(&stage.from.base)
                || match image.registry {
                    Some(r) => trusted(r),
                    None => {
                        image.name == "scratch" || trusted("docker.io") || trusted("hub.docker.com")
                    }
                };
            if let Some(a) = alias(stage) {
                aliases.insert(a);
            }
            if !ok {
                out.push(cx.finding(
                    &DL3026,
                    stage.from.meta.span,
                    "Use only an allowed registry in the FROM image",
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3029

static DL3029: RuleMeta = RuleMeta {
    code: "DL3029",
    name: "from-platform",
    severity: Severity::Warning,
    summary: "Do not use --platform with FROM unless it is $BUILDPLATFORM or $TARGETPLATFORM.",
};

/// Flags `FROM --platform=...` unless the value mentions `BUILDPLATFORM` or `TARGETPLATFORM`
/// (hadolint's exact test): a fixed platform makes the Dockerfile build for that platform
/// only.
struct Dl3029;

impl Rule for Dl3029 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3029
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            let Some(p) = stage.platform() else { continue };
            if !p.is_empty() && !p.contains("BUILDPLATFORM") && !p.contains("TARGETPLATFORM") {
                out.push(cx.finding(
                    &DL3029,
                    stage.from.meta.span,
                    "Do not use --platform flag with FROM",
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3045

static DL3045: RuleMeta = RuleMeta {
    code: "DL3045",
    name: "copy-relative-without-workdir",
    severity: Severity::Warning,
    summary: "COPY to a relative destination needs a WORKDIR first.",
};

/// Flags `COPY` to a relative destination in a stage that has not set `WORKDIR` (the
/// destination then depends on the base image's working directory). Absolute destinations
/// (`/...`, `C:\...`, `C:/...`) and variables (`$DIR`) are fine. As in hadolint, a stage
/// inherits "WORKDIR set" from the stage it is built on, tracked by stage name or image name
/// (so `FROM debian` after a `FROM debian` stage that set `WORKDIR` counts as set too).
struct Dl3045;

impl Rule for Dl3045 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3045
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        // Stage key (alias or image name) -> WORKDIR set.
        let mut workdir_set: BTreeMap<String, bool> = BTreeMap::new();
        for (i, stage) in cx.stages.stages.iter().enumerate() {
            let image = ImageRef::parse(&stage.from.base).name.to_string();
            let current = alias(stage).map_or_else(|| image.clone(), str::to_string);
            if i > 0 {
                let parent = workdir_set.get(&image).copied().unwrap_or(false);
                workdir_set.insert(current.clone(), parent);
            }
            for cmd in &stage.commands {
                match cmd {
                    Command::Workdir(_) => {
                        workdir_set.insert(current.clone(), true);
                    }
                    Command::Copy(copy) => {
                        if workdir_set.get(&current) == Some(&true) {
                            continue;
                        }
                        let dest = drop_quotes(&copy.dest);
                        let after_drive = dest.get(dest.chars().next().map_or(0, char::len_utf8)..);
                        let windows = after_drive
                            .is_some_and(|d| d.starts_with(":\\") || d.starts_with(":/"));
                        if !(dest.starts_with('/') || windows || dest.starts_with('$')) {
                            out.push(cx.finding(
                                &DL3045,
                                copy.meta.span,
                                "`COPY` to a relative destination without `WORKDIR` set.",
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3047

static DL3047: RuleMeta = RuleMeta {
    code: "DL3047",
    name: "wget-progress",
    severity: Severity::Info,
    summary: "Use wget with --progress (or -q/-nv) to keep build logs small.",
};

/// Flags `RUN` with a `wget` that has none of `--progress`, `-q`/`--quiet`,
/// `-o`/`--output-file`, `-a`/`--append-output`, `--no-verbose`/`-nv`: its default progress
/// bar floods the build log. Short flags may be combined (`-qO-`).
struct Dl3047;

impl Rule for Dl3047 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3047
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        const SPECIAL: [&str; 8] = [
            "progress",
            "q",
            "quiet",
            "o",
            "output-file",
            "a",
            "append-output",
            "no-verbose",
        ];
        for stage in &cx.stages.stages {
            for cmd in &stage.commands {
                let Command::Run(run) = cmd else { continue };
                let forgot = script_of(run).commands.iter().any(|cmd| {
                    cmd.name() == "wget"
                        && !flags_of(cmd.args()).iter().any(|f| SPECIAL.contains(f))
                        && !cmd.has_arg("-nv")
                });
                if forgot {
                    out.push(cx.finding(
                        &DL3047,
                        run.meta.span,
                        "Avoid use of wget without progress bar. Use `wget --progress=dot:giga \
                         <url>`. Or consider using `-q` or `-nv` (shorthands for `--quiet` or \
                         `--no-verbose`).",
                    ));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL3059

static DL3059: RuleMeta = RuleMeta {
    code: "DL3059",
    name: "consecutive-run",
    severity: Severity::Info,
    summary: "Consolidate consecutive RUN instructions.",
};

/// Flags a `RUN` that directly follows another `RUN` (comments in between do not count) with
/// the same flags (`--mount`, `--network`, `--security`), unless either of them runs more than
/// one command (`a && b`, `echo $(date)`; hadolint 2.15's threshold): then the split was most
/// likely deliberate.
struct Dl3059;

/// What DL3059 compares between two `RUN`s: mounts (as a set), network, security, and which
/// flags were written.
fn run_flags(run: &RunCommand) -> (BTreeSet<String>, String, String, BTreeSet<String>) {
    (
        run.mounts.iter().map(|m| format!("{m:?}")).collect(),
        format!("{:?}", run.network),
        format!("{:?}", run.security),
        run.flags_used.iter().cloned().collect(),
    )
}

impl Rule for Dl3059 {
    fn meta(&self) -> &'static RuleMeta {
        &DL3059
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            // A FROM resets: the previous RUN belongs to another stage.
            let mut previous: Option<(_, usize)> = None;
            for cmd in &stage.commands {
                let Command::Run(run) = cmd else {
                    previous = None;
                    continue;
                };
                let flags = run_flags(run);
                let count = script_of(run).commands.len();
                if let Some((prev_flags, prev_count)) = &previous
                    && *prev_flags == flags
                    && count <= 1
                    && *prev_count <= 1
                {
                    // hadolint keeps the earlier RUN as the one to compare with.
                    out.push(cx.finding(
                        &DL3059,
                        run.meta.span,
                        "Multiple consecutive `RUN` instructions. Consider consolidation.",
                    ));
                    continue;
                }
                previous = Some((flags, count));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL4000

static DL4000: RuleMeta = RuleMeta {
    code: "DL4000",
    name: "maintainer-deprecated",
    severity: Severity::Error,
    summary: "MAINTAINER is deprecated; use a LABEL.",
};

/// Flags `MAINTAINER`, deprecated since Docker 1.13: use
/// `LABEL org.opencontainers.image.authors=...`.
struct Dl4000;

impl Rule for Dl4000 {
    fn meta(&self) -> &'static RuleMeta {
        &DL4000
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            for cmd in &stage.commands {
                if let Command::Maintainer(m) = cmd {
                    out.push(cx.finding(&DL4000, m.meta.span, "MAINTAINER is deprecated"));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DL4003 and DL4004

static DL4003: RuleMeta = RuleMeta {
    code: "DL4003",
    name: "multiple-cmd",
    severity: Severity::Warning,
    summary: "Only one CMD per stage takes effect.",
};

/// Flags every `CMD` after the first in a stage: only the last one takes effect.
struct Dl4003;

impl Rule for Dl4003 {
    fn meta(&self) -> &'static RuleMeta {
        &DL4003
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            let cmds = stage.commands.iter().filter_map(|c| match c {
                Command::Cmd(c) => Some(&c.meta),
                _ => None,
            });
            for meta in cmds.skip(1) {
                out.push(cx.finding(
                    &DL4003,
                    meta.span,
                    "Multiple `CMD` instructions found. If you list more than one `CMD` then \
                     only the last `CMD` will take effect",
                ));
            }
        }
    }
}

static DL4004: RuleMeta = RuleMeta {
    code: "DL4004",
    name: "multiple-entrypoint",
    severity: Severity::Error,
    summary: "Only one ENTRYPOINT per stage takes effect.",
};

/// Flags every `ENTRYPOINT` after the first in a stage: only the last one takes effect.
struct Dl4004;

impl Rule for Dl4004 {
    fn meta(&self) -> &'static RuleMeta {
        &DL4004
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            let entrypoints = stage.commands.iter().filter_map(|c| match c {
                Command::Entrypoint(e) => Some(&e.meta),
                _ => None,
            });
            for meta in entrypoints.skip(1) {
                out.push(cx.finding(
                    &DL4004,
                    meta.span,
                    "Multiple `ENTRYPOINT` instructions found. If you list more than one \
                     `ENTRYPOINT` then only the last `ENTRYPOINT` will take effect",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_like_hadolint() {
        let r = ImageRef::parse("registry.example.com:5000/team/app:1.2@sha256:abc");
        assert_eq!(r.registry, Some("registry.example.com:5000"));
        assert_eq!(
            (r.name, r.tag, r.digest),
            ("team/app", Some("1.2"), Some("sha256:abc"))
        );
        let r = ImageRef::parse("ubuntu");
        assert_eq!((r.registry, r.name, r.tag), (None, "ubuntu", None));
        let r = ImageRef::parse("library/ubuntu:22.04");
        assert_eq!(
            (r.registry, r.name, r.tag),
            (None, "library/ubuntu", Some("22.04"))
        );
        let r = ImageRef::parse("localhost/app");
        assert_eq!((r.registry, r.name), (Some("localhost"), "app"));
        let r = ImageRef::parse("${BASE}");
        assert_eq!((r.registry, r.name, r.tag), (None, "${BASE}", None));
    }

    #[test]
    fn run_scripts_split_on_operators_and_skip_keywords() {
        // What DL3047 and DL3059 read of a RUN: `crate::shell`'s simple commands.
        let words = |text: &str| -> Vec<Vec<String>> {
            crate::shell::Script::parse(text)
                .commands
                .into_iter()
                .map(|c| c.words)
                .filter(|w| !w.is_empty())
                .collect()
        };
        let cmds = words(
            "A=1 wget -q 'http://x y' && if true; then curl -o f u; fi | tee \"a b\" # c; d\nls",
        );
        let names: Vec<&str> = cmds.iter().map(|c| c[0].as_str()).collect();
        assert_eq!(names, ["wget", "true", "curl", "tee", "ls"]);
        assert_eq!(cmds[0], ["wget", "-q", "http://x y"]);
        assert_eq!(cmds[3], ["tee", "a b"]);
        assert_eq!(words("for i in 1 2; do echo $i; done").len(), 1);
        assert!(words("").is_empty());
        assert_eq!(words("a \\\n  b").len(), 1);
    }

    #[test]
    fn flags_are_split_like_hadolint() {
        let args: Vec<String> = ["-qO-", "--progress=dot", "-", "--", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(flags_of(&args), ["q", "O", "-", "progress"]);
    }
}
