//! `plinth pin`: rewrites external `FROM name:tag` lines to `FROM name:tag@sha256:...` with the
//! digests of the store's images, so builds use exactly the base images that were tested.
//!
//! The rewriting is `plinth_build::family::pin` (pure, byte-preserving); this module finds the
//! Dockerfiles (the family's, or the paths given), tells family images and named contexts apart
//! from external images, answers digests from the store, writes files atomically and reports.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use plinth_build::family::pin::{
    self as lib, ChangeKind, FamilyNames, Finding, Mode, PinError, PinOptions, Pinned,
    ResolveResult, Scan,
};
use plinth_build::project::Project;
use plinth_oci::store::{Store, StoreError};
use serde_json::{Value, json};

use crate::cli::{UsageError, open_store};

const AFTER_HELP: &str = "\
Which FROMs are pinned: every stage's FROM that names an external image. Left alone are stages
of the same Dockerfile, `scratch`, the family's own images (by name, name:tag, or under the
family's registry/namespace) and the named contexts of plinth.toml ([contexts.NAME]): those are
built, not pulled. A FROM whose image uses ARG variables (FROM debian:${SUITE}) cannot be pinned
and is reported as a warning.

Only the image word changes; comments, continuation lines, --platform, AS names and line endings
stay as they are. A reference without a tag gets its tag written out (debian becomes
debian:latest@sha256:...), so --update can resolve it again later.

Digests come from the store (--store; put external images there with `plinth pull`, `plinth
load` or `plinth build -t NAME:TAG`), or with --from registry from the registries themselves (a
HEAD request per image; a multi-platform image is pinned to its index, so every platform still
builds). An image that cannot be resolved is an error naming the Dockerfile and line, and no file
is changed.

Examples:
  plinth pin                       pin every image of the family (plinth.toml [family])
  plinth pin Dockerfile tools/     pin these Dockerfiles (tools/ means tools/Dockerfile)
  plinth pin --check               in CI: exit 1 when a FROM is not pinned (no store needed)
  plinth pin --update              after loading newer images: refresh the pinned digests
  plinth pin --from registry --update   refresh the pins to what the registries serve now
  plinth pin --check --update      exit 1 when a pinned digest is stale in the store";

#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct PinArgs {
    /// Dockerfiles to pin, or directories holding a file named Dockerfile [default: the
    /// Dockerfile of every image of the family in plinth.toml].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The project file, whose family images and named contexts are never pinned [default:
    /// plinth.toml in the current directory or the nearest parent].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Change nothing; list the FROMs that are not pinned and exit 1 if there are any (for CI;
    /// the store is not read). With --update: list what an update would change, and exit 1 if
    /// anything would.
    #[arg(long)]
    pub check: bool,
    /// Also resolve FROMs that are already pinned again, by their name:tag, and replace digests
    /// that are no longer what the tag points to in the store.
    #[arg(long)]
    pub update: bool,
    /// Where digests come from: the store, or the registries the images name.
    #[arg(long, value_enum, value_name = "WHERE", default_value_t = DigestSource::Store)]
    pub from: DigestSource,
    #[command(flatten)]
    pub registry: crate::registry::RegistryOpts,
    /// text (one `FILE:LINE: old -> new` line per change, then a summary) or json (an array of
    /// objects: file, line, column, from, to, action, written, reason).
    #[arg(long, value_enum, default_value_t = PinFormat::Text)]
    pub format: PinFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DigestSource {
    /// The images in the store (--store).
    Store,
    /// The registries: what each tag names there now.
    Registry,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PinFormat {
    Text,
    Json,
}

/// A Dockerfile to pin: where it is and how messages name it.
struct Target {
    path: PathBuf,
    shown: String,
}

/// What happened to one Dockerfile.
enum Outcome {
    /// `--check` without `--update`: what is pinned and what is not.
    Scanned(Scan),
    /// Resolved (and, without `--check`, to be written).
    Pinned(Pinned),
}

pub fn pin(store_path: &Path, args: PinArgs) -> Result<ExitCode> {
    let project = load_project(args.config.as_deref(), args.paths.is_empty())?;
    let (family, contexts) = skip_names(project.as_ref(), args.paths.is_empty())?;
    let skip = |reference: &str| family.matches(reference) || contexts.contains(reference);
    let targets = targets(project.as_ref(), &args.paths)?;
    let mode = if args.update {
        Mode::Update
    } else {
        Mode::Missing
    };
    let scan_only = args.check && !args.update;

    let store = if scan_only || args.from == DigestSource::Registry {
        None
    } else {
        Some(open_store(store_path)?)
    };
    let client = if !scan_only && args.from == DigestSource::Registry {
        Some(crate::registry::client(&args.registry)?)
    } else {
        None
    };
    let mut answers: BTreeMap<String, ResolveResult> = BTreeMap::new();
    let mut resolve = |reference: &str| -> ResolveResult {
        let answer = |reference: &str| match (&store, &client) {
            (Some(store), _) => resolve_in_store(store, reference),
            (None, Some(client)) => resolve_in_registry(client, reference),
            (None, None) => Err("nothing to resolve with".into()),
        };
        answers
            .entry(reference.to_string())
            .or_insert_with(|| answer(reference))
            .clone()
    };

    let mut outcomes: Vec<(&Target, Outcome)> = Vec::new();
    let mut errors: Vec<PinError> = Vec::new();
    for target in &targets {
        let text = fs_err::read_to_string(&target.path)?;
        let outcome = if scan_only {
            lib::scan(&target.shown, &text, &skip).map(Outcome::Scanned)
        } else {
            let options = PinOptions {
                path: &target.shown,
                mode,
                skip: &skip,
            };
            lib::pin(&text, &options, &mut resolve).map(Outcome::Pinned)
        };
        match outcome {
            Ok(o) => outcomes.push((target, o)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        let mut message = String::new();
        for line in errors.iter().flat_map(|e| {
            e.to_string()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        }) {
            message.push_str(&format!("error: {line}\n"));
        }
        message.push_str("no file was changed");
        // A Dockerfile that does not parse is the user's input (exit 2), like `plinth build`.
        if errors
            .iter()
            .any(|e| matches!(e, PinError::Dockerfile { .. }))
        {
            return Err(UsageError(message).into());
        }
        eprintln!("{message}");
        return Ok(ExitCode::from(1));
    }

    let write = !args.check;
    let mut written = BTreeSet::new();
    if write {
        for (target, outcome) in &outcomes {
            if let Outcome::Pinned(result) = outcome
                && !result.changes.is_empty()
            {
                write_atomically(&target.path, &result.text)?;
                written.insert(target.shown.clone());
            }
        }
    }
    let report = Report {
        outcomes: &outcomes,
        mode,
        check: args.check,
        written: &written,
    };
    match args.format {
        PinFormat::Text => report.text(),
        PinFormat::Json => println!("{}", serde_json::to_string_pretty(&report.json())?),
    }
    Ok(if args.check && report.counts().needs_work() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The digest of `reference` (`name:tag`) in the store: only an image whose ref name is exactly
/// that (never a digest prefix that happens to look like it).
fn resolve_in_store(store: &Store, reference: &str) -> ResolveResult {
    match store.resolve(reference) {
        Ok(r) if r.name.as_deref() == Some(reference) => Ok(Some(r.descriptor.digest)),
        Ok(_) | Err(StoreError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// The digest the registry has for `reference` (`name:tag`): a manifest or an index.
fn resolve_in_registry(client: &plinth_registry::Client, reference: &str) -> ResolveResult {
    let remote = plinth_registry::RemoteRef::parse(reference).map_err(|e| e.to_string())?;
    let info = client
        .head_manifest(&remote.repo, &remote.reference)
        .map_err(|e| e.to_string())?;
    match info {
        None => Err(format!(
            "{} has no manifest {:?}",
            remote.repo, remote.reference
        )),
        Some(info) => match info.digest {
            Some(d) => Ok(Some(d)),
            // A registry that does not say the digest on HEAD: the manifest's bytes tell.
            None => client
                .get_manifest(&remote.repo, &remote.reference)
                .map(|m| Some(m.digest))
                .map_err(|e| e.to_string()),
        },
    }
}

/// plinth.toml: `--config`, else the nearest one from the current directory. Required when no
/// path is given (the family is what gets pinned); optional otherwise.
fn load_project(config: Option<&Path>, required: bool) -> Result<Option<Project>> {
    match crate::family::find_project(config)? {
        Some(p) => Ok(Some(p)),
        None if required => Err(UsageError(format!(
            "error: no plinth.toml in {} or its parents: give the Dockerfiles to pin \
             (plinth pin Dockerfile), or run in a family repository",
            std::env::current_dir()?.display()
        ))
        .into()),
        None => Ok(None),
    }
}

/// The family's image names (with its registry/namespace prefix) and the named contexts: the
/// FROM names that are built, not pinned.
fn skip_names(
    project: Option<&Project>,
    family_required: bool,
) -> Result<(FamilyNames, BTreeSet<String>)> {
    let builtin = crate::init_context::NAME.to_string();
    let Some(project) = project else {
        return Ok((FamilyNames::default(), BTreeSet::from([builtin])));
    };
    let mut contexts: BTreeSet<String> = project.file.contexts.keys().cloned().collect();
    contexts.insert(builtin);
    let family = match &project.file.family {
        Some(f) => match project.family_images() {
            Ok(images) => {
                FamilyNames::new(images.into_iter().map(|i| i.name), f.prefix().as_deref())
            }
            Err(e) if family_required => return Err(UsageError(format!("error: {e}")).into()),
            // Pinning given files: a family whose images cannot be listed has no names to skip.
            Err(_) => FamilyNames::default(),
        },
        None if family_required => {
            return Err(UsageError(format!(
                "error: {}: there is no [family] table, so there are no family images to pin; \
                 give the Dockerfiles to pin instead (plinth pin Dockerfile)",
                project.path.display()
            ))
            .into());
        }
        None => FamilyNames::default(),
    };
    Ok((family, contexts))
}

/// The Dockerfiles to pin: the given paths (a directory means its `Dockerfile`), each once, or
/// every family image's Dockerfile (shown relative to plinth.toml's directory).
fn targets(project: Option<&Project>, paths: &[PathBuf]) -> Result<Vec<Target>> {
    if paths.is_empty() {
        let Some(project) = project else {
            return Ok(Vec::new());
        };
        let images = project
            .family_images()
            .map_err(|e| UsageError(format!("error: {e}")))?;
        return Ok(images
            .into_iter()
            .map(|i| Target {
                shown: project.shown(&i.dockerfile),
                path: i.dockerfile,
            })
            .collect());
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in paths {
        let file = if p.is_dir() {
            let f = p.join("Dockerfile");
            if !f.is_file() {
                return Err(UsageError(format!(
                    "error: {}: the directory has no file named Dockerfile",
                    p.display()
                ))
                .into());
            }
            f
        } else if p.is_file() {
            p.clone()
        } else {
            return Err(UsageError(format!(
                "error: {}: no such Dockerfile or directory",
                p.display()
            ))
            .into());
        };
        let canonical = fs_err::canonicalize(&file)?;
        if seen.insert(canonical) {
            out.push(Target {
                shown: file.display().to_string(),
                path: file,
            });
        }
    }
    Ok(out)
}

/// Replaces the file's content through a temporary file in the same directory and a rename, so
/// a reader never sees half a Dockerfile; keeps the permissions, and writes through a symlink
/// to its target.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let real = fs_err::canonicalize(path)?;
    let dir = real
        .parent()
        .with_context(|| format!("{} has no parent directory", real.display()))?;
    let permissions = fs_err::metadata(&real)?.permissions();
    let mut tmp = tempfile::Builder::new()
        .prefix(".plinth-pin-")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    fs_err::set_permissions(tmp.path(), permissions)?;
    tmp.persist(&real)
        .with_context(|| format!("replacing {}", real.display()))?;
    Ok(())
}

/// Totals over every Dockerfile.
#[derive(Debug, Default)]
struct Counts {
    files: usize,
    pinned: usize,
    updated: usize,
    kept: usize,
    unpinned: usize,
    not_pinnable: usize,
}

impl Counts {
    /// What `--check` fails on.
    fn needs_work(&self) -> bool {
        self.pinned + self.updated + self.unpinned > 0
    }
}

struct Report<'a> {
    outcomes: &'a [(&'a Target, Outcome)],
    mode: Mode,
    check: bool,
    written: &'a BTreeSet<String>,
}

impl Report<'_> {
    fn counts(&self) -> Counts {
        let mut c = Counts {
            files: self.outcomes.len(),
            ..Counts::default()
        };
        for (_, outcome) in self.outcomes {
            match outcome {
                Outcome::Scanned(s) => {
                    c.unpinned += s.unpinned().count();
                    c.kept += s.images.len() - s.unpinned().count();
                    c.not_pinnable += s.findings.len();
                }
                Outcome::Pinned(result) => {
                    for change in &result.changes {
                        match change.kind {
                            ChangeKind::Pinned => c.pinned += 1,
                            ChangeKind::Updated => c.updated += 1,
                        }
                    }
                    c.kept += result.kept;
                    c.not_pinnable += result.findings.len();
                }
            }
        }
        c
    }

    fn findings(&self) -> impl Iterator<Item = (&Target, &Finding)> {
        self.outcomes.iter().flat_map(|(t, o)| {
            let findings = match o {
                Outcome::Scanned(s) => &s.findings,
                Outcome::Pinned(result) => &result.findings,
            };
            findings.iter().map(move |f| (*t, f))
        })
    }

    fn text(&self) {
        for (target, finding) in self.findings() {
            eprintln!(
                "warning: {}:{}: {} is not pinned: {}",
                target.shown, finding.line, finding.image, finding.reason
            );
        }
        for (target, outcome) in self.outcomes {
            match outcome {
                Outcome::Scanned(s) => {
                    for image in s.unpinned() {
                        println!(
                            "{}:{}: {} is not pinned",
                            target.shown, image.line, image.image
                        );
                    }
                }
                Outcome::Pinned(result) => {
                    for change in &result.changes {
                        println!(
                            "{}:{}: {} -> {}",
                            target.shown, change.line, change.from, change.to
                        );
                    }
                }
            }
        }
        println!("{}", self.summary());
    }

    fn summary(&self) -> String {
        let c = self.counts();
        let files = plural(c.files, "Dockerfile");
        let mut parts = Vec::new();
        let not_pinnable = (c.not_pinnable > 0).then(|| {
            format!(
                "{} not pinnable (see the warnings)",
                plural(c.not_pinnable, "FROM")
            )
        });
        if self.check && self.mode == Mode::Missing {
            if c.unpinned > 0 {
                parts.push(format!(
                    "{} not pinned: run `plinth pin`",
                    plural(c.unpinned, "external FROM")
                ));
            } else {
                parts.push(format!("every external FROM is pinned ({} pinned)", c.kept));
            }
        } else {
            let (pinned, updated) = if self.check {
                ("would be pinned", "would be updated")
            } else {
                ("pinned", "updated")
            };
            parts.push(format!("{} {pinned}", plural(c.pinned, "FROM")));
            if self.mode == Mode::Update {
                parts.push(format!("{} {updated}", c.updated));
                parts.push(format!("{} up to date", c.kept));
            } else {
                parts.push(format!("{} already pinned", c.kept));
            }
            if self.check && c.needs_work() {
                parts.push("run `plinth pin --update` to apply".to_string());
            }
        }
        parts.extend(not_pinnable);
        format!("{files}: {}", parts.join(", "))
    }

    fn json(&self) -> Value {
        let mut rows = Vec::new();
        for (target, outcome) in self.outcomes {
            let written = self.written.contains(&target.shown);
            match outcome {
                Outcome::Scanned(s) => {
                    for image in s.unpinned() {
                        rows.push(json!({
                            "file": target.shown,
                            "line": image.line,
                            "column": image.col,
                            "from": image.image,
                            "to": null,
                            "action": "unpinned",
                            "written": false,
                            "reason": null,
                        }));
                    }
                }
                Outcome::Pinned(result) => {
                    for change in &result.changes {
                        rows.push(json!({
                            "file": target.shown,
                            "line": change.line,
                            "column": change.col,
                            "from": change.from,
                            "to": change.to,
                            "action": match change.kind {
                                ChangeKind::Pinned => "pinned",
                                ChangeKind::Updated => "updated",
                            },
                            "written": written,
                            "reason": null,
                        }));
                    }
                }
            }
        }
        for (target, finding) in self.findings() {
            rows.push(json!({
                "file": target.shown,
                "line": finding.line,
                "column": finding.col,
                "from": finding.image,
                "to": null,
                "action": "not-pinnable",
                "written": false,
                "reason": finding.reason.to_string(),
            }));
        }
        Value::Array(rows)
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}
