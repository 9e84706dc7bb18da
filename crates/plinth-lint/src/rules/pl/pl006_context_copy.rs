//! PL006 context-copied-before-dependencies.

use plinth_dockerfile::Command;

use super::{basename, commands, run_text};
use crate::Ctx;
use crate::finding::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

static META: RuleMeta = RuleMeta {
    code: "PL006",
    name: "context-copied-before-dependencies",
    severity: Severity::Warning,
    summary: "Copy the dependency manifests and install dependencies before copying the whole context.",
};

/// Flags a `COPY`/`ADD` of the whole build context (`COPY . .`, `COPY ./ /app`, `ADD . /app`)
/// that comes before a dependency install of the same stage (seed 002, "ADD, install, ADD"):
/// every change to any file of the context then re-runs the install. Dependency installs:
/// `pip install -r/--requirement`, `pipenv install`, `poetry install`, `uv sync`, `npm ci`,
/// `npm install` (without package names or `-g`), `yarn` / `yarn install`, `pnpm install`, `bundle install`,
/// `composer install`, `go mod download`, `mvn dependency:*`/`package`/`install`/`verify`,
/// `gradle`/`gradlew` (any task), `cargo build`/`fetch`/`chef cook`.
///
/// Not flagged when the stage already ran an install of the same ecosystem *before* the context
/// copy: the manifests were copied and installed first (as seed 002 recommends, or with
/// cargo-chef), and the later step only builds the project. Known misses: installs done by
/// scripts; a partial copy (`COPY src/ .`) is never flagged.
pub(super) struct ContextCopiedBeforeDependencies;

/// The ecosystem of a dependency install in `words`, if it is one.
fn install_of(words: &[String]) -> Option<&'static str> {
    let prog = basename(&words[0]);
    let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
    let sub = args.iter().find(|a| !a.starts_with('-')).copied();
    let has = |x: &str| args.contains(&x);
    match (prog, sub) {
        ("pip" | "pip3", Some("install"))
            if has("-r")
                || has("--requirement")
                || args.iter().any(|a| {
                    a.starts_with("--requirement=")
                        || (a.starts_with("-r") && a.len() > 2 && !a.starts_with("--"))
                }) =>
        {
            Some("python")
        }
        ("uv", Some("sync")) | ("pipenv" | "poetry", Some("install")) => Some("python"),
        ("uv", Some("pip")) if has("install") && (has("-r") || has("--requirement")) => {
            Some("python")
        }
        ("npm", Some("ci")) => Some("node"),
        // `npm install` of the manifest; `npm install pkg` and `-g` do not read the context.
        ("npm", Some("install" | "i"))
            if !has("-g")
                && !has("--global")
                && args.iter().filter(|a| !a.starts_with('-')).count() == 1 =>
        {
            Some("node")
        }
        ("yarn", None | Some("install")) | ("pnpm", Some("install" | "i")) => Some("node"),
        ("bundle", Some("install")) => Some("ruby"),
        ("composer", Some("install")) => Some("php"),
        ("go", Some("mod")) if has("download") => Some("go"),
        ("mvn" | "mvnw", Some(s))
            if s.starts_with("dependency:") || matches!(s, "package" | "install" | "verify") =>
        {
            Some("java")
        }
        ("mvn" | "mvnw", Some(_))
            if args.iter().any(|a| {
                a.starts_with("dependency:") || matches!(*a, "package" | "install" | "verify")
            }) =>
        {
            Some("java")
        }
        ("gradle" | "gradlew", _) => Some("java"),
        ("cargo", Some("build" | "fetch")) => Some("rust"),
        ("cargo", Some("chef")) if has("cook") => Some("rust"),
        _ => None,
    }
}

impl Rule for ContextCopiedBeforeDependencies {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            let mut installed_before: Vec<&str> = Vec::new();
            // The first whole-context copy not yet reported, with the ecosystems installed
            // before it.
            let mut pending: Option<(&plinth_dockerfile::CommandMeta, Vec<&str>)> = None;
            for c in &stage.commands {
                let context_copy = match c {
                    Command::Copy(cp) if cp.from.is_none() && whole_context(&cp.sources) => {
                        Some(&cp.meta)
                    }
                    Command::Add(a) if whole_context(&a.sources) => Some(&a.meta),
                    _ => None,
                };
                if let Some(meta) = context_copy {
                    if pending.is_none() {
                        pending = Some((meta, installed_before.clone()));
                    }
                    continue;
                }
                let Command::Run(r) = c else {
                    continue;
                };
                for words in commands(&run_text(r)) {
                    let Some(eco) = install_of(&words) else {
                        continue;
                    };
                    if let Some((meta, before)) = &pending
                        && !before.contains(&eco)
                    {
                        out.push(cx.finding(
                            &META,
                            meta.span,
                            format!(
                                "the whole context is copied before `{}` (line {}): \
                                 copy the dependency manifests first, install, then \
                                 copy the rest, so code changes keep the install cached",
                                words.join(" "),
                                r.meta.span.line
                            ),
                        ));
                        pending = None;
                    }
                    installed_before.push(eco);
                }
            }
        }
    }
}

/// Whether the sources are the whole context (`.`, `./`).
fn whole_context(sources: &[String]) -> bool {
    sources
        .iter()
        .any(|s| matches!(s.as_str(), "." | "./" | "*" | "./*"))
}
