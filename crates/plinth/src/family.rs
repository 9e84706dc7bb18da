//! `plinth graph` and `plinth tags`: the family of images that plinth.toml's `[family]` declares.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use plinth_build::family::graph::{FamilyNaming, Graph, ImageSource};
use plinth_build::family::provenance::{detect_ci, git_info, version_tag_at_head};
use plinth_build::family::tags::{ReleaseTagsForDev, TagInput, Tags, VariantTags, compute_tags};
use plinth_build::project::{FamilyImage, Project};

use crate::cli::UsageError;

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

fn load(config: Option<&Path>) -> Result<(Project, Vec<FamilyImage>)> {
    let cwd = std::env::current_dir()?;
    let project = match config {
        Some(p) => Project::load(p),
        None => match Project::find(&cwd) {
            Ok(Some(p)) => Ok(p),
            Ok(None) => {
                return Err(UsageError(format!(
                    "error: no plinth.toml in {} or its parents",
                    cwd.display()
                ))
                .into());
            }
            Err(e) => Err(e),
        },
    }
    .map_err(|e| UsageError(format!("error: {e}")))?;
    let images = project
        .family_images()
        .map_err(|e| UsageError(format!("error: {e}")))?;
    Ok((project, images))
}

/// The family's graph from its Dockerfiles.
fn graph_of(project: &Project, images: &[FamilyImage]) -> Result<Graph> {
    let texts: Vec<(String, String)> = images
        .iter()
        .map(|i| {
            let rel = i
                .dockerfile
                .strip_prefix(project.dir())
                .unwrap_or(&i.dockerfile)
                .display()
                .to_string();
            fs_err::read_to_string(&i.dockerfile).map(|t| (rel, t))
        })
        .collect::<Result<_, _>>()?;
    let sources: Vec<ImageSource<'_>> = images
        .iter()
        .zip(&texts)
        .map(|(i, (path, text))| ImageSource {
            name: &i.name,
            dockerfile_path: path,
            dockerfile: text,
            build_args: &[],
        })
        .collect();
    let naming = FamilyNaming {
        prefix: project.file.family.as_ref().and_then(|f| f.prefix()),
    };
    Graph::build(&sources, &naming).map_err(|e| UsageError(format!("error: {e}")).into())
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
        release_tags_for_development: if args.release_tags {
            ReleaseTagsForDev::Yes
        } else {
            ReleaseTagsForDev::No
        },
    };
    let tags: Tags = compute_tags(&input).map_err(|e| UsageError(format!("error: {e}")))?;
    match args.format {
        TagsFormat::Text => {
            for n in &names {
                println!("{n}: {}", tags.all().join(" "));
            }
            if tags.development {
                eprintln!(
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
                );
            }
        }
        TagsFormat::Json => {
            let map: BTreeMap<&str, &Tags> = names.iter().map(|n| (n.as_str(), &tags)).collect();
            println!("{}", serde_json::to_string_pretty(&map)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
