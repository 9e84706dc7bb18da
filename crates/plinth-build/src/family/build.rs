//! Building a family: what each selected image gets (tags, labels, the parents it is pinned
//! to) and the parallel, parent-first build itself.
//!
//! [`plan`] is pure: from the graph, the selection and the facts of the build (git, CI,
//! SOURCE_DATE_EPOCH, the family's tags) it computes, per image, the store references to set,
//! which of them are immutable, and the labels. [`build_family`] runs [`crate::build`] for
//! each planned image on up to `jobs` threads: an image starts when every family parent of it
//! has been built in this run, and each reference its Dockerfile makes to a family image
//! (`FROM base-root`, `COPY --from=registry.example.com/base/base-build:1`) is a named context
//! pinned to the exact digest just built ([`NamedContext::Image`]), recorded in the child's
//! `org.opencontainers.image.base.name` (the parent's unique tag) and `.base.digest` labels.
//!
//! A failure stops new images from starting (running ones finish); images whose parent failed
//! are skipped. The cancel flag of the template options stops everything like one build.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

use plinth_oci::store::Store;
use serde::Serialize;

use crate::engine::{
    Annotations, BaseLabels, BuildError, BuildEvent, BuildOptions, BuildResult, ImageMetadata,
    NamedContext,
};
use crate::family::graph::{Graph, Reason, Selected};
use crate::family::provenance::{self, CiInfo, GitInfo, LabelInput, ProvenanceError};
use crate::family::tags::Tags;
use crate::project::FamilyConfig;

/// The prefixes of the labels that are copied into manifest annotations.
pub const ANNOTATED_PREFIXES: [&str; 2] = ["org.opencontainers.image.", "dev.plinth."];

/// One image of a family build, as planned.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedImage {
    pub name: String,
    /// Why it is built (named, a dependent, an ancestor of one, or the whole family).
    #[serde(skip)]
    pub reason: Reason,
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    /// `prefix/name`, the repository its tags are under.
    pub repository: String,
    /// Every reference to set (`repository:tag`), the unique one first.
    pub references: Vec<String>,
    /// The unique tag's reference: what children record as their base name.
    pub unique: String,
    /// References that must not move (the unique tag of a non-development build).
    pub immutable: Vec<String>,
    /// The family images its Dockerfile names, as written, with the image each names.
    pub parent_refs: Vec<(String, String)>,
    #[serde(skip)]
    pub metadata: ImageMetadata,
}

/// The facts a family build is planned from.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    pub family: &'a FamilyConfig,
    /// The directory of plinth.toml.
    pub project_dir: &'a std::path::Path,
    pub graph: &'a Graph,
    pub selected: &'a Selected,
    pub tags: &'a Tags,
    pub git: Option<&'a GitInfo>,
    pub ci: Option<&'a CiInfo>,
    /// SOURCE_DATE_EPOCH of the build (the `created` label).
    pub epoch: i64,
}

/// Computes what each selected image gets.
pub fn plan(input: &PlanInput<'_>) -> Result<Vec<PlannedImage>, ProvenanceError> {
    let family = input.family;
    let prefix = family.prefix();
    let created = crate::sde::rfc3339(input.epoch);
    let mut out = Vec::new();
    for selected in &input.selected.images {
        let name = selected.name.as_str();
        let repository = match &prefix {
            Some(p) => format!("{}/{name}", p.trim_end_matches('/')),
            None => name.to_string(),
        };
        let references: Vec<String> = input
            .tags
            .all()
            .iter()
            .map(|t| format!("{repository}:{t}"))
            .collect();
        let unique = format!("{repository}:{}", input.tags.unique);
        let immutable = if input.tags.development {
            Vec::new()
        } else {
            vec![unique.clone()]
        };
        let all = provenance::oci_labels(&LabelInput {
            created: &created,
            git: input.git,
            ci: input.ci,
            version: input.tags.resolved_version.as_deref(),
            title: Some(name),
            description: family.description.as_deref(),
            vendor: family.vendor.as_deref(),
            licenses: family.license.as_deref(),
            url: family.url.as_deref(),
            documentation: family.documentation.as_deref(),
            base_name: None,
            base_digest: None,
            development: input.tags.development,
            forced_release_tags: input.tags.forced_release_tags,
            extra: &family.labels,
        })?;
        // Descriptive labels are defaults a Dockerfile's own LABEL may refine; the facts of the
        // build (created, revision, source, version, CI, development) always win.
        let descriptive = [
            provenance::TITLE,
            provenance::DESCRIPTION,
            provenance::VENDOR,
            provenance::LICENSES,
            provenance::URL,
            provenance::DOCUMENTATION,
        ];
        let (default_labels, labels): (BTreeMap<_, _>, BTreeMap<_, _>) = all
            .into_iter()
            .partition(|(k, _)| descriptive.contains(&k.as_str()));
        let dir = input.project_dir.join(&family.images_dir).join(name);
        out.push(PlannedImage {
            name: name.to_string(),
            reason: selected.reason,
            dockerfile: dir.join("Dockerfile"),
            context: dir,
            repository,
            references,
            unique,
            immutable,
            parent_refs: input
                .graph
                .parent_references(name)
                .unwrap_or_default()
                .into_iter()
                .map(|(r, p)| (r.to_string(), p.to_string()))
                .collect(),
            metadata: ImageMetadata {
                labels,
                default_labels,
                base_labels: BaseLabels::Record,
                annotations: Annotations::LabelsWithPrefix(
                    ANNOTATED_PREFIXES.iter().map(|p| p.to_string()).collect(),
                ),
            },
        });
    }
    Ok(out)
}

/// How a family build runs.
#[derive(Debug, Clone)]
pub struct FamilyOptions {
    /// Images built at the same time (at least 1).
    pub jobs: usize,
    /// The options every image's build starts from (build args, cache, network, secrets,
    /// SOURCE_DATE_EPOCH, named contexts, cancel flag...); `dockerfile`, `context`, `tags`,
    /// `target` and `metadata` are replaced per image.
    pub template: BuildOptions,
}

/// What happens during a family build, per image.
#[derive(Debug)]
pub enum FamilyEvent<'a> {
    /// The image's build starts.
    Started,
    /// An event of the image's build.
    Build(&'a BuildEvent),
    /// The image was built (or came whole from the cache).
    Finished(&'a BuildResult),
    /// The image's build failed.
    Failed(&'a BuildError),
    /// The image was not built: the named parent failed or was skipped, or the build stopped.
    Skipped { because: &'a str },
}

/// How one image of a family build ended.
#[derive(Debug)]
pub enum ImageOutcome {
    Built(BuildResult),
    Failed(BuildError),
    /// Not built; why.
    Skipped(String),
}

/// What a family build did, in plan order.
#[derive(Debug)]
pub struct FamilyOutcome {
    pub images: Vec<(String, ImageOutcome)>,
}

impl FamilyOutcome {
    /// Whether every image was built.
    pub fn success(&self) -> bool {
        self.images
            .iter()
            .all(|(_, o)| matches!(o, ImageOutcome::Built(_)))
    }
}

/// The scheduler's shared state.
struct Board {
    /// Per plan index: not started, running, or its outcome.
    state: Vec<Slot>,
    /// A failure or a cancel: start nothing new.
    stopping: bool,
}

enum Slot {
    Waiting,
    Running,
    Done(Box<ImageOutcome>),
}

/// Builds `plan` into `store`, parents first, up to `opts.jobs` images at a time. `on_event`
/// gets each image's events with the image's name; it is called from the worker threads.
pub fn build_family(
    store: &Store,
    plan: &[PlannedImage],
    opts: &FamilyOptions,
    on_event: &(dyn Fn(&str, FamilyEvent<'_>) + Sync),
) -> FamilyOutcome {
    let index: BTreeMap<&str, usize> = plan
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let board = Mutex::new(Board {
        state: plan.iter().map(|_| Slot::Waiting).collect(),
        stopping: false,
    });
    let wake = Condvar::new();
    let jobs = opts.jobs.max(1).min(plan.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| worker(store, plan, &index, opts, &board, &wake, on_event));
        }
    });
    let board = board.into_inner().unwrap_or_else(|p| p.into_inner());
    FamilyOutcome {
        images: plan
            .iter()
            .zip(board.state)
            .map(|(p, slot)| {
                let outcome = match slot {
                    Slot::Done(o) => *o,
                    Slot::Waiting | Slot::Running => ImageOutcome::Skipped("not started".into()),
                };
                (p.name.clone(), outcome)
            })
            .collect(),
    }
}

/// What a worker takes next.
enum Next {
    Build(usize, BTreeMap<String, NamedContext>),
    Wait,
    Exit,
}

fn worker(
    store: &Store,
    plan: &[PlannedImage],
    index: &BTreeMap<&str, usize>,
    opts: &FamilyOptions,
    board: &Mutex<Board>,
    wake: &Condvar,
    on_event: &(dyn Fn(&str, FamilyEvent<'_>) + Sync),
) {
    let cancelled = || {
        opts.template
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst))
    };
    let mut guard = board.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if cancelled() {
            guard.stopping = true;
        }
        match next(&mut guard, plan, index, on_event) {
            Next::Exit => {
                wake.notify_all();
                return;
            }
            Next::Wait => {
                guard = wake.wait(guard).unwrap_or_else(|p| p.into_inner());
            }
            Next::Build(i, pinned) => {
                drop(guard);
                let image = &plan[i];
                on_event(&image.name, FamilyEvent::Started);
                let mut build_opts = opts.template.clone();
                build_opts.dockerfile = image.dockerfile.clone();
                build_opts.context = image.context.clone();
                build_opts.tags = image.references.clone();
                build_opts.immutable_tags = image.immutable.clone();
                build_opts.target = None;
                build_opts.metadata = image.metadata.clone();
                build_opts.named_contexts.extend(pinned);
                let result = crate::engine::build(store, &build_opts, &mut |ev| {
                    on_event(&image.name, FamilyEvent::Build(&ev))
                });
                let outcome = match result {
                    Ok(r) => {
                        on_event(&image.name, FamilyEvent::Finished(&r));
                        ImageOutcome::Built(r)
                    }
                    Err(e) => {
                        on_event(&image.name, FamilyEvent::Failed(&e));
                        ImageOutcome::Failed(e)
                    }
                };
                guard = board.lock().unwrap_or_else(|p| p.into_inner());
                if !matches!(outcome, ImageOutcome::Built(_)) {
                    guard.stopping = true;
                }
                guard.state[i] = Slot::Done(Box::new(outcome));
                wake.notify_all();
            }
        }
    }
}

/// Picks the first waiting image whose parents are all built (skipping those whose parents
/// failed), with its parents pinned; `Wait` while running images may unblock one.
fn next(
    board: &mut Board,
    plan: &[PlannedImage],
    index: &BTreeMap<&str, usize>,
    on_event: &(dyn Fn(&str, FamilyEvent<'_>) + Sync),
) -> Next {
    let running = board.state.iter().any(|s| matches!(s, Slot::Running));
    for i in 0..plan.len() {
        if !matches!(board.state[i], Slot::Waiting) {
            continue;
        }
        let image = &plan[i];
        if board.stopping {
            let why = "the build stopped before it".to_string();
            on_event(&image.name, FamilyEvent::Skipped { because: &why });
            board.state[i] = Slot::Done(Box::new(ImageOutcome::Skipped(why)));
            continue;
        }
        let mut pinned = BTreeMap::new();
        let mut blocked: Option<String> = None;
        let mut ready = true;
        for (reference, parent) in &image.parent_refs {
            // A parent outside the plan is not a family image this run builds: the store (or
            // the engine's error) decides.
            let Some(&p) = index.get(parent.as_str()) else {
                continue;
            };
            let built = match &board.state[p] {
                Slot::Done(done) => match &**done {
                    ImageOutcome::Built(r) => Some(r),
                    ImageOutcome::Failed(_) | ImageOutcome::Skipped(_) => {
                        blocked = Some(parent.clone());
                        break;
                    }
                },
                Slot::Waiting | Slot::Running => None,
            };
            match built {
                Some(r) => {
                    pinned.insert(
                        reference.clone(),
                        NamedContext::Image {
                            reference: plan[p].unique.clone(),
                            digest: r.manifest.digest.clone(),
                        },
                    );
                }
                None => ready = false,
            }
        }
        if let Some(parent) = blocked {
            let why = format!("its parent {parent} was not built");
            on_event(&image.name, FamilyEvent::Skipped { because: &why });
            board.state[i] = Slot::Done(Box::new(ImageOutcome::Skipped(why)));
            continue;
        }
        if ready {
            board.state[i] = Slot::Running;
            return Next::Build(i, pinned);
        }
    }
    // Only a running build can make a waiting image ready (the plan is parents first).
    if running { Next::Wait } else { Next::Exit }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::graph::{FamilyNaming, ImageSource, Selection, WithDependents};
    use crate::family::tags::{ReleaseTagsForDev, TagInput, VariantTags, compute_tags};

    fn tags(ci: bool) -> Tags {
        compute_tags(&TagInput {
            version: Some("1.2.3".into()),
            git_tag_version: None,
            branch: Some("main".into()),
            pull_request: None,
            short_sha: "abc1234".into(),
            unix_time: 1_700_000_000,
            dirty: false,
            ci,
            variant: None,
            variant_tags: VariantTags::AlsoPlain,
            template: None,
            release_tags_for_development: ReleaseTagsForDev::No,
        })
        .expect("tags")
    }

    fn planned(ci: bool) -> Vec<PlannedImage> {
        let sources = [
            ImageSource {
                name: "root",
                dockerfile_path: "images/root/Dockerfile",
                dockerfile: "FROM debian-bookworm\n",
                build_args: &[],
            },
            ImageSource {
                name: "app",
                dockerfile_path: "images/app/Dockerfile",
                dockerfile: "FROM reg.example.com/base/root:1\nCOPY --from=root /a /a\n",
                build_args: &[],
            },
        ];
        let family = FamilyConfig {
            name: "base".into(),
            registry: Some("reg.example.com".into()),
            namespace: Some("base".into()),
            vendor: Some("Acme".into()),
            description: Some("family".into()),
            images_dir: "images".into(),
            ..Default::default()
        };
        let graph = Graph::build(
            &sources,
            &FamilyNaming {
                prefix: family.prefix(),
            },
        )
        .expect("graph");
        let selected = graph
            .select(
                &["app"],
                Selection {
                    dependents: WithDependents::No,
                },
            )
            .expect("select");
        let tags = tags(ci);
        plan(&PlanInput {
            family: &family,
            project_dir: std::path::Path::new("/repo"),
            graph: &graph,
            selected: &selected,
            tags: &tags,
            git: None,
            ci: None,
            epoch: 1_700_000_000,
        })
        .expect("plan")
    }

    #[test]
    fn the_plan_is_parents_first_with_references_and_pins() {
        let p = planned(true);
        let names: Vec<&str> = p.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["root", "app"]);
        let app = &p[1];
        assert_eq!(app.repository, "reg.example.com/base/app");
        assert_eq!(
            app.unique,
            "reg.example.com/base/app:main-abc1234-1700000000"
        );
        assert_eq!(app.references[0], app.unique);
        assert!(
            app.references
                .contains(&"reg.example.com/base/app:1.2.3".to_string())
        );
        assert_eq!(app.immutable, vec![app.unique.clone()]);
        assert_eq!(
            app.parent_refs,
            vec![
                (
                    "reg.example.com/base/root:1".to_string(),
                    "root".to_string()
                ),
                ("root".to_string(), "root".to_string()),
            ]
        );
        assert_eq!(app.dockerfile, PathBuf::from("/repo/images/app/Dockerfile"));
        assert_eq!(app.context, PathBuf::from("/repo/images/app"));
    }

    #[test]
    fn facts_override_and_descriptions_are_defaults() {
        let p = planned(true);
        let m = &p[1].metadata;
        assert_eq!(
            m.labels.get(provenance::CREATED).map(String::as_str),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            m.labels.get(provenance::VERSION).map(String::as_str),
            Some("1.2.3")
        );
        assert!(!m.labels.contains_key(provenance::TITLE));
        assert_eq!(
            m.default_labels.get(provenance::TITLE).map(String::as_str),
            Some("app")
        );
        assert_eq!(
            m.default_labels.get(provenance::VENDOR).map(String::as_str),
            Some("Acme")
        );
        assert_eq!(m.base_labels, BaseLabels::Record);
        assert!(matches!(&m.annotations, Annotations::LabelsWithPrefix(p) if p.len() == 2));
    }

    #[test]
    fn development_builds_have_no_immutable_tag() {
        let p = planned(false);
        assert!(p[1].unique.contains(":dev-"), "{}", p[1].unique);
        assert!(p.iter().all(|i| i.immutable.is_empty()));
        assert_eq!(
            p[1].metadata
                .labels
                .get(provenance::BUILD_DEVELOPMENT)
                .map(String::as_str),
            Some("true")
        );
    }
}
