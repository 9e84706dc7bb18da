//! `plinth build` of a family, `plinth graph` and `plinth tags`: the family of images that
//! plinth.toml's `[family]` declares.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use plinth_build::family::build::{
    FamilyEvent, FamilyOptions, ImageOutcome, PlanInput, build_family, plan,
};
use plinth_build::family::graph::{
    FamilyNaming, Graph, ImageSource, Selected, Selection, WithDependents,
};
use plinth_build::family::provenance::{CiInfo, GitInfo, detect_ci, git_info, version_tag_at_head};
use plinth_build::family::tags::{ReleaseTagsForDev, TagInput, Tags, VariantTags, compute_tags};
use plinth_build::project::{FamilyConfig, FamilyImage, Project};
use serde::Serialize;

use crate::cli::{
    BuildArgs, UsageError, build_error, enforce_cache_limit, open_store, shared_options,
};
use crate::render::BuildRenderer;

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The project file [default: plinth.toml in the current directory or the nearest parent].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// text (a tree, then each image's external bases) or dot (Graphviz).
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
}

#[derive(Debug, Args)]
pub struct TagsArgs {
    /// Images of the family [default: all].
    #[arg(value_name = "NAME")]
    pub images: Vec<String>,
    /// The project file [default: plinth.toml in the current directory or the nearest parent].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// text (one line per image) or json.
    #[arg(long, value_enum, default_value_t = TagsFormat::Text)]
    pub format: TagsFormat,
    /// Give a development build (outside CI, or a dirty work tree) its version tags anyway
    /// (never `latest`); the images record that this flag was used.
    #[arg(long)]
    pub release_tags: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TagsFormat {
    Text,
    Json,
}

/// The project file: `config`, or the nearest plinth.toml from the current directory (`None`
/// when there is none).
pub fn find_project(config: Option<&Path>) -> Result<Option<Project>> {
    crate::rootfs::load_project(config, &std::env::current_dir()?)
}

fn load(config: Option<&Path>) -> Result<(Project, Vec<FamilyImage>)> {
    let Some(project) = find_project(config)? else {
        return Err(UsageError(format!(
            "error: no plinth.toml in {} or its parents (a family repository has one; `plinth new DIR` makes one)",
            std::env::current_dir()?.display()
        ))
        .into());
    };
    let images = project
        .family_images()
        .map_err(|e| UsageError(format!("error: {e}")))?;
    Ok((project, images))
}

/// The family's graph from its Dockerfiles.
fn graph_of(project: &Project, images: &[FamilyImage]) -> Result<Graph> {
    graph_with_args(project, images, &[])
}

/// The graph, with FROMs expanded with `build_args`.
fn graph_with_args(
    project: &Project,
    images: &[FamilyImage],
    build_args: &[(String, String)],
) -> Result<Graph> {
    let texts: Vec<(String, String)> = images
        .iter()
        .map(|i| fs_err::read_to_string(&i.dockerfile).map(|t| (project.shown(&i.dockerfile), t)))
        .collect::<Result<_, _>>()?;
    let sources: Vec<ImageSource<'_>> = images
        .iter()
        .zip(&texts)
        .map(|(i, (path, text))| ImageSource {
            name: &i.name,
            dockerfile_path: path,
            dockerfile: text,
            build_args,
        })
        .collect();
    let naming = FamilyNaming {
        prefix: project.file.family.as_ref().and_then(|f| f.prefix()),
    };
    let graph = Graph::build(&sources, &naming).map_err(|e| UsageError(format!("error: {e}")))?;
    Ok(graph)
}

pub fn graph(args: GraphArgs) -> Result<ExitCode> {
    let (project, images) = load(args.config.as_deref())?;
    let graph = graph_of(&project, &images)?;
    match args.format {
        GraphFormat::Text => print!("{}", graph.render_text()),
        GraphFormat::Dot => print!("{}", graph.render_dot()),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn tags(args: TagsArgs) -> Result<ExitCode> {
    let (project, images) = load(args.config.as_deref())?;
    let graph = graph_of(&project, &images)?;
    let names: Vec<String> = if args.images.is_empty() {
        graph.order().into_iter().map(str::to_string).collect()
    } else {
        let wanted: Vec<&str> = args.images.iter().map(String::as_str).collect();
        // Unknown names are errors with suggestions; the order is the build order.
        graph
            .select(
                &wanted,
                plinth_build::family::graph::Selection {
                    dependents: plinth_build::family::graph::WithDependents::No,
                },
            )
            .map_err(|e| UsageError(format!("error: {e}")))?;
        wanted.iter().map(|s| s.to_string()).collect()
    };
    let family = project.file.family.clone().unwrap_or_default();
    let facts = facts(&project, &family, args.release_tags)?;
    let (tags, ci) = (facts.tags, facts.ci);
    match args.format {
        TagsFormat::Text => {
            for n in &names {
                println!("{n}: {}", tags.all().join(" "));
            }
            if tags.development {
                eprintln!("{}", development_note(&tags, ci.as_ref()));
            }
        }
        TagsFormat::Json => {
            let map: BTreeMap<&str, &Tags> = names.iter().map(|n| (n.as_str(), &tags)).collect();
            println!("{}", serde_json::to_string_pretty(&map)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What a development build is told.
fn development_note(tags: &Tags, ci: Option<&CiInfo>) -> String {
    format!(
        "development build ({}): no version tags{}",
        if ci.is_none() {
            "outside CI"
        } else {
            "dirty work tree"
        },
        if tags.forced_release_tags {
            " but --release-tags gave them"
        } else {
            " (--release-tags gives them)"
        }
    )
}

/// The git and CI facts of the repository, and the tags they give.
pub(crate) struct Facts {
    git: Option<GitInfo>,
    ci: Option<CiInfo>,
    tags: Tags,
}

fn facts(project: &Project, family: &FamilyConfig, release_tags: bool) -> Result<Facts> {
    let git = git_info(project.dir())
        .with_context(|| format!("reading git facts of {}", project.dir().display()))?;
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let ci = detect_ci(&env);
    let input = TagInput {
        version: family.version.clone(),
        git_tag_version: git
            .as_ref()
            .and_then(|g| version_tag_at_head(&g.tags_at_head)),
        branch: ci
            .as_ref()
            .and_then(|c| c.branch.clone())
            .or_else(|| git.as_ref().and_then(|g| g.branch.clone())),
        pull_request: ci.as_ref().and_then(|c| c.pull_request.clone()),
        short_sha: git
            .as_ref()
            .map(|g| g.short_sha.clone())
            .unwrap_or_else(|| "0000000".into()),
        // The commit time (the build's SOURCE_DATE_EPOCH), so the tags of a commit are stable.
        unix_time: git.as_ref().map(|g| g.commit_time).unwrap_or(0),
        dirty: git.as_ref().is_none_or(|g| g.dirty),
        ci: ci.is_some(),
        variant: family.variant.clone(),
        variant_tags: VariantTags::AlsoPlain,
        template: family.tag_template.clone(),
        release_tags_for_development: if release_tags {
            ReleaseTagsForDev::Yes
        } else {
            ReleaseTagsForDev::No
        },
    };
    let tags: Tags = compute_tags(&input).map_err(|e| UsageError(format!("error: {e}")))?;
    Ok(Facts { git, ci, tags })
}

/// One image in `--metadata-file`.
#[derive(Serialize)]
struct ImageReport<'a> {
    name: &'a str,
    status: &'static str,
    digest: Option<String>,
    references: &'a [String],
    base: Option<&'a plinth_build::BaseImage>,
    steps_run: usize,
    steps_cached: usize,
    error: Option<String>,
}

/// `plinth build [NAME...]` in a family repository.
pub fn build(store_path: &Path, args: &BuildArgs, names: &[String]) -> Result<ExitCode> {
    let (project, images) = load(args.config.as_deref())?;
    let Some(family) = project.file.family.clone() else {
        return Err(UsageError(format!(
            "error: {}: there is no [family] table, so there are no family images to build (give a CONTEXT directory to build one Dockerfile)",
            project.path.display()
        ))
        .into());
    };
    let mut template = shared_options(args, project.dir())?;
    let graph = graph_with_args(&project, &images, &template.build_args)?;
    if graph.is_empty() {
        return Err(UsageError(format!(
            "error: {}: no images (expected {}/<name>/Dockerfile)",
            project.path.display(),
            family.images_dir
        ))
        .into());
    }
    let dependents = if args.with_dependents {
        WithDependents::Yes
    } else {
        WithDependents::No
    };
    let selected = select(&graph, names, dependents)?;
    let facts = facts(&project, &family, args.release_tags)?;
    // One epoch for every image (each image's context is inside the repository: the same git
    // HEAD), resolved once rather than by a git process per image.
    let (epoch, epoch_source) =
        plinth_build::sde::resolve(template.source_date_epoch, project.dir());
    template.source_date_epoch = Some(epoch);
    let plan = plan(&PlanInput {
        family: &family,
        project_dir: project.dir(),
        graph: &graph,
        selected: &selected,
        tags: &facts.tags,
        git: facts.git.as_ref(),
        ci: facts.ci.as_ref(),
        epoch,
    })
    .map_err(|e| UsageError(format!("error: {}: {e}", project.path.display())))?;

    let dockerfiles: Vec<(String, PathBuf)> = plan
        .iter()
        .map(|p| (project.shown(&p.dockerfile), p.dockerfile.clone()))
        .collect();
    crate::lint::before_build(crate::cli::lint_mode(args), Some(&project), &dockerfiles)?;
    let store = open_store(store_path)?;
    let mut top = BuildRenderer::new(args.progress, std::io::stderr().is_terminal());
    // The named contexts (Debian root filesystems) any selected image uses, locked once: the
    // graph already lists each image's external bases.
    let mentioned: Vec<String> = plan
        .iter()
        .filter_map(|image| graph.external(&image.name))
        .flatten()
        .cloned()
        .collect();
    template.named_contexts = crate::rootfs::named_contexts_of(
        &store,
        &project,
        &mentioned,
        args.lock_mode.mode(),
        &mut |ev| top.event(&ev),
    )?;

    let order: Vec<&str> = plan.iter().map(|p| p.name.as_str()).collect();
    let jobs = args.jobs.unwrap_or_else(default_jobs).max(1);
    top.line(&format!(
        "building {} image{} of family {} ({}), {} at a time; SOURCE_DATE_EPOCH={epoch} from {}",
        plan.len(),
        if plan.len() == 1 { "" } else { "s" },
        family.name,
        order.join(", "),
        jobs,
        match epoch_source {
            plinth_build::sde::EpochSource::Explicit => "SOURCE_DATE_EPOCH",
            plinth_build::sde::EpochSource::GitHead => "the repository's git HEAD",
            plinth_build::sde::EpochSource::Zero => "default 0 (not a git repository)",
        },
    ));
    if facts.tags.development {
        top.line(&development_note(&facts.tags, facts.ci.as_ref()));
    }
    let renderers: Mutex<BTreeMap<String, BuildRenderer>> = Mutex::new(
        plan.iter()
            .map(|p| {
                (
                    p.name.clone(),
                    BuildRenderer::for_image(args.progress, &p.name),
                )
            })
            .collect(),
    );
    let started = Instant::now();
    let on_event = |image: &str, ev: FamilyEvent<'_>| {
        let mut all = renderers.lock().unwrap_or_else(|p| p.into_inner());
        let Some(r) = all.get_mut(image) else {
            return;
        };
        match ev {
            FamilyEvent::Started => r.line("started"),
            FamilyEvent::Build(ev) => r.event(ev),
            FamilyEvent::Finished(result) => r.line(&format!(
                "built {} ({} steps run, {} from the cache)",
                result.manifest.digest, result.steps_run, result.steps_cached
            )),
            FamilyEvent::Failed(e) => r.line(&format!("failed: {e}")),
            FamilyEvent::Skipped { because } => r.line(&format!("skipped: {because}")),
        }
    };
    let outcome = build_family(&store, &plan, &FamilyOptions { jobs, template }, &on_event);

    // stdout: one line per image, in build order.
    let mut reports = Vec::new();
    let mut interrupted = false;
    for (image, (name, result)) in plan.iter().zip(&outcome.images) {
        let report = match result {
            ImageOutcome::Built(r) => {
                println!(
                    "{name} {} {}",
                    r.manifest.digest,
                    if r.steps_run == 0 { "cached" } else { "built" }
                );
                ImageReport {
                    name,
                    status: if r.steps_run == 0 { "cached" } else { "built" },
                    digest: Some(r.manifest.digest.to_string()),
                    references: &image.references,
                    base: r.base.as_ref(),
                    steps_run: r.steps_run,
                    steps_cached: r.steps_cached,
                    error: None,
                }
            }
            ImageOutcome::Failed(e) => {
                interrupted |= matches!(e, plinth_build::BuildError::Cancelled);
                ImageReport {
                    name,
                    status: "failed",
                    digest: None,
                    references: &image.references,
                    base: None,
                    steps_run: 0,
                    steps_cached: 0,
                    error: Some(e.to_string()),
                }
            }
            ImageOutcome::Skipped(why) => ImageReport {
                name,
                status: "skipped",
                digest: None,
                references: &image.references,
                base: None,
                steps_run: 0,
                steps_cached: 0,
                error: Some(why.clone()),
            },
        };
        reports.push(report);
    }
    if let Some(f) = &args.metadata_file {
        let doc = serde_json::json!({
            "family": family.name,
            "development": facts.tags.development,
            "version": facts.tags.resolved_version,
            "tags": facts.tags.all(),
            "images": reports,
        });
        fs_err::write(f, format!("{}\n", serde_json::to_string_pretty(&doc)?))?;
    }
    let built = reports.iter().filter(|r| r.status == "built").count();
    let cached = reports.iter().filter(|r| r.status == "cached").count();
    top.line(&format!(
        "{built} built, {cached} from the cache, {} failed, {} skipped in {:.2}s",
        reports.iter().filter(|r| r.status == "failed").count(),
        reports.iter().filter(|r| r.status == "skipped").count(),
        started.elapsed().as_secs_f64()
    ));
    enforce_cache_limit(&store)?;
    if interrupted {
        eprintln!("interrupted: the images not built were not committed");
        return Ok(ExitCode::from(130));
    }
    // The first failure is the error (the others were printed as they happened).
    for (_, result) in outcome.images {
        if let ImageOutcome::Failed(e) = result {
            return Err(build_error(e));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// One image of a family push, resolved in the store.
struct PushPlan {
    name: String,
    repo: plinth_registry::RepoRef,
    local: plinth_oci::Descriptor,
    /// The tags to point at it: the unique one first.
    tags: Vec<String>,
    /// The tags that must not move on the registry.
    immutable: Vec<String>,
    /// The repository of its first family parent (blobs are mounted from there).
    parent_repo: Option<plinth_registry::RepoRef>,
}

/// The tag of a `repository:tag` reference (plinth-oci's reference grammar).
fn tag_of(reference: &str) -> Option<String> {
    plinth_oci::reference::ImageRef::parse(reference)
        .ok()
        .and_then(|r| r.tag)
}
/// The images `names` (the whole family when empty) of `graph` with their ancestors.
fn select(graph: &Graph, names: &[String], dependents: WithDependents) -> Result<Selected> {
    let wanted: Vec<&str> = if names.is_empty() {
        graph.order()
    } else {
        names.iter().map(String::as_str).collect()
    };
    graph
        .select(&wanted, Selection { dependents })
        .map_err(|e| UsageError(format!("error: {e}")).into())
}

/// The family images of the current commit: `targets` (all when empty) with their family
/// ancestors, parent-first, with every reference a build of this commit gives them (version tags
/// included, as with --release-tags). For `plinth push` and `plinth test`.
pub(crate) fn commit_plan(
    project: &Project,
    family: &FamilyConfig,
    images: &[FamilyImage],
    targets: &[String],
) -> Result<(Facts, Vec<plinth_build::family::build::PlannedImage>)> {
    let graph = graph_of(project, images)?;
    let selected = select(&graph, targets, WithDependents::No)?;
    // Every tag a build of this commit may have given (version tags included, as with
    // --release-tags): only those the store has at the image's unique tag's digest are pushed.
    let facts = facts(project, family, true)?;
    let plan = plan(&PlanInput {
        family,
        project_dir: project.dir(),
        graph: &graph,
        selected: &selected,
        tags: &facts.tags,
        git: facts.git.as_ref(),
        ci: facts.ci.as_ref(),
        epoch: 0,
    })
    .map_err(|e| UsageError(format!("error: {}: {e}", project.path.display())))?;
    Ok((facts, plan))
}

/// Why `image` (at `digest`) may not get release tags: its recorded `plinth test` run failed,
/// or it has test files (`images/<name>/tests/*.yaml|yml|toml`) and was never tested. `None`
/// when it passed, has no tests, or `--untested` was given.
fn untested(
    store: &plinth_oci::store::Store,
    image: &plinth_build::family::build::PlannedImage,
    digest: &plinth_oci::Digest,
    override_: bool,
) -> Result<Option<String>> {
    if override_ {
        return Ok(None);
    }
    let record = plinth_test::record::read(store, &digest.to_string())?;
    Ok(match record {
        Some(r) if r.ok() => None,
        Some(r) => Some(format!(
            "{}: its tests failed ({} of {}) on {} ({})",
            image.name,
            r.failed,
            r.failed + r.passed,
            r.tested_at,
            digest
        )),
        None if !test_files(&image_tests_dir(image)).is_empty() => Some(format!(
            "{}: not tested ({}); run `plinth test {}`",
            image.name, digest, image.name
        )),
        None => None,
    })
}

/// `images/<name>/tests` of a planned image.
pub(crate) fn image_tests_dir(image: &plinth_build::family::build::PlannedImage) -> PathBuf {
    image
        .dockerfile
        .parent()
        .map(|d| d.join("tests"))
        .unwrap_or_else(|| PathBuf::from("tests"))
}

/// The test files of a directory (`*.yaml`, `*.yml`, `*.toml`), sorted; none when it is missing.
pub(crate) fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && matches!(
                            p.extension().and_then(|e| e.to_str()),
                            Some("yaml" | "yml" | "toml")
                        )
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// `plinth push [NAME...]` in a family repository: every selected image (with its family
/// ancestors), parent-first, with every tag the build gave it.
pub fn push(
    store_path: &Path,
    project: Project,
    args: &crate::registry::PushArgs,
) -> Result<ExitCode> {
    let images = project
        .family_images()
        .map_err(|e| UsageError(format!("error: {e}")))?;
    let Some(family) = project.file.family.clone() else {
        return Err(UsageError(format!(
            "error: {}: there is no [family] table, so there are no family images to push (give SRC DEST to push one store image)",
            project.path.display()
        ))
        .into());
    };
    if args.immutable {
        return Err(UsageError(
            "error: --immutable is for `plinth push SRC DEST`: a family's unique and full-version tags are immutable already (plinth.toml immutable-version-tags)".to_string(),
        )
        .into());
    }
    let (facts, plan) = commit_plan(&project, &family, &images, &args.targets)?;
    let store = open_store(store_path)?;
    let full_version: Vec<&str> = if family.version_tags_immutable() {
        facts.tags.full_version()
    } else {
        Vec::new()
    };

    let mut pushes: Vec<PushPlan> = Vec::new();
    let mut missing = Vec::new();
    let mut untested_images = Vec::new();
    for image in &plan {
        let local = match store.resolve(&image.unique) {
            Ok(r) => r.descriptor,
            Err(plinth_oci::store::StoreError::NotFound { .. }) => {
                missing.push(format!("{} ({})", image.name, image.unique));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut tags = Vec::new();
        for reference in &image.references {
            let Some(tag) = tag_of(reference) else {
                continue;
            };
            match store.resolve(reference) {
                Ok(r) if r.descriptor.digest == local.digest => tags.push(tag),
                Ok(r) => eprintln!(
                    "{} | not pushing tag {tag}: in the store it names another image ({}), built after this commit's",
                    image.name, r.descriptor.digest
                ),
                Err(_) => {}
            }
        }
        let unique_tag = tag_of(&image.unique);
        if tags.iter().any(|t| Some(t) != unique_tag.as_ref())
            && let Some(why) = untested(&store, image, &local.digest, args.untested)?
        {
            untested_images.push(why);
        }
        let mut immutable: Vec<String> = image.immutable.iter().filter_map(|r| tag_of(r)).collect();
        immutable.extend(
            tags.iter()
                .filter(|t| full_version.contains(&t.as_str()))
                .cloned(),
        );
        let parent_repo = image.parent_refs.first().and_then(|(_, parent)| {
            plan.iter()
                .find(|p| &p.name == parent)
                .map(|p| plinth_registry::RepoRef::from_name(&p.repository))
        });
        pushes.push(PushPlan {
            name: image.name.clone(),
            repo: plinth_registry::RepoRef::from_name(&image.repository),
            local,
            tags,
            immutable,
            parent_repo,
        });
    }
    if !missing.is_empty() {
        return Err(anyhow::anyhow!(
            "not built for this commit (no unique tag in the store {}): {}; run `plinth build` first",
            store_path.display(),
            missing.join(", ")
        ));
    }
    if !untested_images.is_empty() {
        return Err(anyhow::anyhow!(
            "{}\nnothing was pushed: release tags (versions, latest) are pushed only for images whose tests passed; run `plinth test`, or push anyway with --untested",
            untested_images.join("\n")
        ));
    }
    let client = crate::registry::client(&args.registry)?;
    // Every immutable tag of every image is checked before anything is written.
    let mut moved = Vec::new();
    for p in &pushes {
        match plinth_registry::check_immutable_tags(&client, &p.repo, &p.immutable, &p.local.digest)
        {
            Ok(()) => {}
            Err(e @ plinth_registry::TransferError::TagMoved { .. }) => moved.push(e.to_string()),
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("checking the tags of {}", p.repo))
                );
            }
        }
    }
    if !moved.is_empty() {
        return Err(anyhow::anyhow!(
            "{}\nnothing was pushed: a released tag names another image on the registry; bump the family version in {} (or set immutable-version-tags = false to let full-version tags move)",
            moved.join("\n"),
            project.path.display()
        ));
    }
    eprintln!(
        "pushing {} image{} of family {} ({})",
        pushes.len(),
        if pushes.len() == 1 { "" } else { "s" },
        family.name,
        pushes
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let started = Instant::now();
    for p in &pushes {
        let Some((first, rest)) = p.tags.split_first() else {
            continue;
        };
        let report = plinth_registry::push_from_store(
            &client,
            &store,
            &p.local,
            &plinth_registry::RemoteRef {
                repo: p.repo.clone(),
                reference: first.clone(),
            },
            &plinth_registry::PushOptions {
                immutable_tags: p.immutable.clone(),
                jobs: args.jobs,
                extra_tags: rest.to_vec(),
                mount_from: p.parent_repo.clone(),
            },
        )
        .with_context(|| format!("pushing {} to {}", p.name, p.repo))?;
        eprintln!(
            "{} | pushed {} to {} ({} blobs uploaded, {} mounted, {} already there; tags {})",
            p.name,
            p.local.digest,
            p.repo,
            report.blobs_uploaded,
            report.blobs_mounted,
            report.blobs_existed,
            p.tags.join(" ")
        );
        println!(
            "{} {} {}",
            p.name,
            p.local.digest,
            p.tags
                .iter()
                .map(|t| format!("{}:{t}", p.repo))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    eprintln!("pushed in {:.2}s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
