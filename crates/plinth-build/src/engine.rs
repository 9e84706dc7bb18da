//! The build engine: walks a Dockerfile's stages in order, keeps each stage's image state (config,
//! layers, a metadata view of its filesystem), turns COPY/ADD/WORKDIR into deterministic layers in the
//! store, applies every config instruction, and writes the target stage's config, manifest and refs.
//!
//! Invariant: nothing is referenced in the store's index until every blob of the image is in place,
//! and the whole build holds a store session so a concurrent `gc` cannot take fresh blobs away.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use plinth_dockerfile::{self as ins, Command, Lexer, ShellOrExec};
use plinth_oci::layer::{self, Compression, EntryKind, LayerEntry, LayerOptions};
use plinth_oci::store::{Store, StoreError};
use plinth_oci::types::{
    Descriptor, EmptyObject, Healthcheck, History, ImageConfig, Manifest, RootFs, media,
};
use plinth_oci::{Digest, json};
use serde::Serialize;

use crate::add::{AddEnv, AddRequest, GitDir, plan_add};
use crate::cache::{BuildCache, CacheEntry, CachedLayer, cache_key};
use crate::context::{
    Chmod, CopyOptions, CopyRequest, CopySource, Owner, Ownership, SourceTree, plan_copy,
};
use crate::context::{EmptyDest, content_digest};
use crate::fsview::{FsView, NodeKind};
use crate::run::{self, RunStep};
use crate::{sde, userdb};
use plinth_dockerfile::dockerignore::Dockerignore;
use plinth_sandbox::{Mount as SandboxMount, MountKind, Network, Sandbox};

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    /// `name[:tag]` references to point at the result (none: the image is stored untagged).
    pub tags: Vec<String>,
    /// `--build-arg` values, in the order given (a later one wins).
    pub build_args: Vec<(String, String)>,
    /// Stop at this stage instead of the last one.
    pub target: Option<String>,
    pub compression: Compression,
    /// SOURCE_DATE_EPOCH; `None`: the context's git HEAD commit time, else 0.
    pub source_date_epoch: Option<i64>,
    /// The network of RUN steps that do not say (`RUN --network=...`).
    pub network: Network,
    /// `--secret id=ID,src=FILE`: files RUN --mount=type=secret can mount; never stored.
    pub secrets: Vec<SecretSource>,
    /// Whether the layer cache is used.
    pub cache: CachePolicy,
    /// Set (e.g. by a SIGINT/SIGTERM handler) to stop the build: a running step is killed, nothing
    /// is committed, temporary directories are removed.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// The executable that runs sandboxed steps (`None`: this process's own executable, which must
    /// call `plinth_sandbox::maybe_run_helper` first thing in `main`).
    pub sandbox_helper: Option<PathBuf>,
    /// Named contexts (plinth.toml `[contexts.NAME]`): a FROM or COPY --from that names one (and
    /// no stage) uses it instead of a store image.
    pub named_contexts: BTreeMap<String, NamedContext>,
    /// Labels and annotations the caller adds (the family's OCI labels).
    pub metadata: ImageMetadata,
    /// Tags among [`BuildOptions::tags`] that must not move: when one already names a
    /// different image, the build fails instead of re-pointing it (a family's unique tags).
    pub immutable_tags: Vec<String>,
    /// Whether images a FROM or COPY --from names are pulled from a registry.
    pub pull: Pull,
}

impl BuildOptions {
    /// A build of `dockerfile` with `context` and every other option at its default: no tags
    /// or build args, the final stage, gzip layers, SOURCE_DATE_EPOCH from git, the host's
    /// network, the layer cache, no pulls. Callers set the fields they need.
    pub fn new(dockerfile: PathBuf, context: PathBuf) -> BuildOptions {
        BuildOptions {
            dockerfile,
            context,
            tags: Vec::new(),
            build_args: Vec::new(),
            target: None,
            compression: Compression::default(),
            source_date_epoch: None,
            network: Network::Host,
            secrets: Vec::new(),
            cache: CachePolicy::default(),
            cancel: None,
            sandbox_helper: None,
            named_contexts: BTreeMap::new(),
            metadata: ImageMetadata::default(),
            immutable_tags: Vec::new(),
            pull: Pull::default(),
        }
    }
}

/// Fetches an image into the store from where it lives (a registry): how a build pulls the image
/// a FROM or `COPY --from` names. The CLI implements it with plinth-registry, so the engine has
/// no network code.
pub trait ImageFetcher: Send + Sync {
    /// Makes `reference` (as the Dockerfile names it) available in `store`; returns the
    /// descriptor of its image manifest (for a multi-platform image, the host platform's).
    fn fetch(
        &self,
        store: &Store,
        reference: &str,
    ) -> Result<Descriptor, Box<dyn std::error::Error + Send + Sync>>;
}

/// [`BuildOptions::pull`]: when the build asks its [`ImageFetcher`] for an image (named
/// contexts and stages are never pulled).
#[derive(Clone, Default)]
pub enum Pull {
    /// Never: an image the store does not have is an error.
    #[default]
    Never,
    /// For images the store does not have.
    Missing(std::sync::Arc<dyn ImageFetcher>),
    /// For every image named by tag, so the registry's current image is used (an image pinned
    /// by digest comes from the store when it is there).
    Always(std::sync::Arc<dyn ImageFetcher>),
}

impl std::fmt::Debug for Pull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Pull::Never => "Never",
            Pull::Missing(_) => "Missing",
            Pull::Always(_) => "Always",
        })
    }
}

/// Labels and manifest annotations a caller adds to the built image.
#[derive(Debug, Clone, Default)]
pub struct ImageMetadata {
    /// Set after the Dockerfile's LABELs, like `docker build --label`: these win.
    pub labels: BTreeMap<String, String>,
    /// Set unless the Dockerfile's own LABELs set the key (they win; a label inherited from
    /// the base image does not).
    pub default_labels: BTreeMap<String, String>,
    /// Whether the final stage's base image goes into the base.name/base.digest labels.
    pub base_labels: BaseLabels,
    /// Which of the final labels are copied into the manifest's annotations.
    pub annotations: Annotations,
}

/// [`ImageMetadata::base_labels`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BaseLabels {
    #[default]
    Omit,
    /// `org.opencontainers.image.base.digest` (and `.base.name` when the base has a name that
    /// can be pulled: not for a Debian root filesystem context) of the final stage's base.
    Record,
}

/// [`ImageMetadata::annotations`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Annotations {
    #[default]
    None,
    /// Every final label whose key starts with one of these prefixes.
    LabelsWithPrefix(Vec<String>),
}

/// The image a build's final stage is based on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseImage {
    /// A reference to it (`registry.example.com/base/base-root:main-1a2b3c4-1700000000`), when
    /// it has one.
    pub name: Option<String>,
    pub digest: Digest,
}

/// What a named context is.
#[derive(Debug, Clone)]
pub enum NamedContext {
    /// A Debian root filesystem, as locked (built on first use, then from the cache).
    DebianRootfs {
        locked: crate::debian::LockedRootfs,
        components: Vec<String>,
        /// The context's configured sources (see [`crate::debian::RootfsOptions::sources`]).
        sources: Vec<crate::debian::SuiteSource>,
    },
    /// A store image, pinned by digest: a family parent just built (`reference` is its unique
    /// tag, recorded as the child's base name).
    Image { reference: String, digest: Digest },
}

/// A build secret: its id and the file it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSource {
    pub id: String,
    pub path: PathBuf,
}

/// When the layer cache is used.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CachePolicy {
    /// Look up and record every step.
    #[default]
    Use,
    /// `--no-cache`: run every step (results are still recorded for later builds).
    Ignore,
    /// `--no-cache-filter`: run every step of these stages (by name), use the cache elsewhere.
    IgnoreStages(Vec<String>),
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildResult {
    pub manifest: Descriptor,
    pub config: Digest,
    /// Config plus compressed layers, in bytes.
    pub size: u64,
    pub layers: usize,
    pub epoch: i64,
    /// The final stage's base image (`None` for `scratch`).
    pub base: Option<BaseImage>,
    /// Steps that ran (RUN, COPY, ADD... not from the layer cache).
    pub steps_run: usize,
    /// Steps that came from the layer cache.
    pub steps_cached: usize,
}

/// Progress and warnings, for the CLI to render.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BuildEvent {
    Start {
        dockerfile: String,
        epoch: i64,
        epoch_source: String,
        stages: usize,
    },
    Step {
        stage: String,
        index: usize,
        total: usize,
        instruction: String,
    },
    Layer {
        digest: Digest,
        size: u64,
    },
    Warning {
        line: Option<u32>,
        message: String,
    },
    /// The step came from the layer cache.
    Cached {
        key: Digest,
    },
    /// Output of a RUN step, as it comes.
    Output {
        text: String,
    },
    Tagged {
        name: String,
    },
    /// Progress of a named context being prepared (a Debian root filesystem).
    Context {
        name: String,
        message: String,
    },
    /// An image a FROM or COPY --from names is being pulled into the store.
    Pulling {
        reference: String,
    },
    /// A FROM named an image by tag, not by digest: the digest it resolved to in the store (it
    /// is recorded in the base labels when they are asked for; `plinth pin` pins it).
    BaseResolved {
        reference: String,
        digest: Digest,
    },
}

/// A Dockerfile error with its location: `FILE:LINE:COL: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.col, self.message
        )
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile itself is malformed.
    #[error("{0}")]
    Dockerfile(Diagnostic),
    /// A step failed.
    #[error("{file}:{line}: {instruction}: {message}")]
    Step {
        file: String,
        line: u32,
        instruction: String,
        message: String,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("target stage {0:?} not found in the Dockerfile (stages: {1})")]
    UnknownTarget(String, String),
    #[error(transparent)]
    Store(#[from] plinth_oci::store::StoreError),
    #[error("invalid tag: {0}")]
    Tag(#[from] plinth_oci::reference::RefError),
    #[error("the build was interrupted; nothing was committed")]
    Cancelled,
    #[error(
        "the tag {tag} already names {existing}, not this build's {built}: it is immutable (remove it with `plinth rmi {tag}` if that image is unwanted)"
    )]
    ImmutableTag {
        tag: String,
        existing: Digest,
        built: Digest,
    },
}

/// The platform plinth builds for (the host's; cross builds are not supported by a daemonless RUN).
pub fn host_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    ("linux", arch)
}

/// Builds `opts` into `store`, reporting progress to `on_event`.
pub fn build(
    store: &Store,
    opts: &BuildOptions,
    on_event: &mut dyn FnMut(BuildEvent),
) -> Result<BuildResult, BuildError> {
    let file = opts.dockerfile.display().to_string();
    for tag in &opts.tags {
        plinth_oci::reference::normalize_ref(tag)?;
    }
    let bytes = fs_err::read(&opts.dockerfile).map_err(|e| BuildError::Read {
        path: opts.dockerfile.clone(),
        source: e,
    })?;
    let src = String::from_utf8(bytes).map_err(|e| {
        let (line, col) = line_col(e.as_bytes(), e.utf8_error().valid_up_to());
        BuildError::Dockerfile(Diagnostic {
            file: file.clone(),
            line,
            col,
            message: "the Dockerfile is not valid UTF-8".into(),
        })
    })?;
    let diag = |e: plinth_dockerfile::ParseError| {
        BuildError::Dockerfile(Diagnostic {
            file: file.clone(),
            line: e.line,
            col: e.col,
            message: e.message.clone(),
        })
    };
    let df = plinth_dockerfile::parse(&src).map_err(diag)?;
    // `stages` rejects a file without a stage, so there is always at least one.
    let parsed = plinth_dockerfile::stages(&df).map_err(diag)?;
    let (epoch, epoch_source) = sde::resolve(opts.source_date_epoch, &opts.context);
    // What a killed earlier run left behind goes first (only when no other run is active).
    store.clean_stale_temp()?;
    let _session = store.session()?;
    let mut engine = Engine {
        store,
        opts,
        file: file.clone(),
        lex: Lexer::new(df.escape),
        epoch,
        created: sde::rfc3339(epoch),
        context: None,
        scratch_dirs: 0,
        named_built: BTreeMap::new(),
        pulled: BTreeMap::new(),
        used_build_args: BTreeSet::new(),
        extracted: HashMap::new(),
        tmp: tempfile::Builder::new()
            .prefix("plinth-build-")
            .tempdir()
            .map_err(|e| BuildError::Read {
                path: std::env::temp_dir(),
                source: e,
            })?,
        cache: BuildCache::new(store),
        current_stage: None,
        steps_run: 0,
        steps_cached: 0,
        sandbox: match &opts.sandbox_helper {
            Some(p) => Sandbox::new(p.clone()),
            None => Sandbox::current_exe(),
        },
        on_event,
    };
    (engine.on_event)(BuildEvent::Start {
        dockerfile: file.clone(),
        epoch,
        epoch_source: match epoch_source {
            sde::EpochSource::Explicit => "SOURCE_DATE_EPOCH",
            sde::EpochSource::GitHead => "the context's git HEAD",
            sde::EpochSource::Zero => "default 0",
        }
        .to_string(),
        stages: parsed.stages.len(),
    });
    engine.run(&parsed)
}

fn line_col(bytes: &[u8], offset: usize) -> (u32, u32) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() as u32 + 1;
    let col = before.iter().rev().take_while(|b| **b != b'\n').count() as u32 + 1;
    (line, col)
}

struct Engine<'a> {
    store: &'a Store,
    opts: &'a BuildOptions,
    file: String,
    lex: Lexer,
    epoch: i64,
    created: String,
    context: Option<SourceTree>,
    /// Counter for ADD scratch directories.
    scratch_dirs: usize,
    /// Named contexts already prepared in this build, with their base names.
    named_built: BTreeMap<String, (Descriptor, Option<String>)>,
    /// Images pulled by this build, by reference as written (each is pulled once).
    pulled: BTreeMap<String, Descriptor>,
    used_build_args: BTreeSet<String>,
    /// Extracted root filesystems for COPY --from and RUN --mount from=, by the image's layers.
    extracted: HashMap<Vec<Digest>, PathBuf>,
    tmp: tempfile::TempDir,
    cache: BuildCache,
    sandbox: Sandbox,
    /// The stage being built (for `--no-cache-filter`).
    current_stage: Option<String>,
    steps_run: usize,
    steps_cached: usize,
    on_event: &'a mut dyn FnMut(BuildEvent),
}

/// A stage's image while it is being built.
#[derive(Clone)]
struct ImageState {
    config: ImageConfig,
    layers: Vec<Descriptor>,
    /// Filesystem metadata view, built on first use.
    fs: Option<FsView>,
    /// Whether CMD was set in this stage (ENTRYPOINT resets an inherited CMD otherwise).
    cmd_set: bool,
    /// The cache key of the state so far: the base, then every step, chained.
    key: Digest,
    /// The image the stage is based on (through earlier stages), `None` for scratch.
    base: Option<BaseImage>,
    /// Label keys this Dockerfile's LABELs set (not inherited from the base image).
    own_labels: BTreeSet<String>,
}

/// The contents of /etc/passwd and /etc/group, when the image has them.
type UserDb = (Option<Vec<u8>>, Option<Vec<u8>>);

/// A stage's variables: declared ARGs with their values.
struct Scope {
    args: Vec<(String, Option<String>)>,
}

impl<'a> Engine<'a> {
    fn run(&mut self, parsed: &ins::ParsedStages) -> Result<BuildResult, BuildError> {
        let stages = &parsed.stages;
        let target = match &self.opts.target {
            Some(t) => stages
                .iter()
                .position(|s| s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(t)))
                .ok_or_else(|| {
                    let names: Vec<&str> =
                        stages.iter().filter_map(|s| s.name.as_deref()).collect();
                    BuildError::UnknownTarget(
                        t.clone(),
                        if names.is_empty() {
                            "none named".into()
                        } else {
                            names.join(", ")
                        },
                    )
                })?,
            None => stages.len() - 1,
        };
        let global = self.global_args(&parsed.meta_args)?;
        let needed = needed_stages(stages, target, &self.lex, &global);
        let mut built: Vec<Option<ImageState>> = vec![None; stages.len()];
        for (i, stage) in stages.iter().enumerate() {
            if i > target || !needed.contains(&i) {
                continue;
            }
            let state = self.build_stage(i, stage, &global, stages, &built)?;
            built[i] = Some(state);
        }
        let unused: Vec<&str> = self
            .opts
            .build_args
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| {
                !self.used_build_args.contains(*k)
                    && !parsed
                        .meta_args
                        .iter()
                        .any(|a| a.args.iter().any(|p| p.key == *k))
            })
            .collect();
        if !unused.is_empty() {
            (self.on_event)(BuildEvent::Warning {
                line: None,
                message: format!(
                    "build args were not consumed by any ARG: {}",
                    unused.join(", ")
                ),
            });
        }
        let state = built[target].take().expect("target stage was built");
        self.commit_image(state)
    }

    /// Meta ARGs (before the first FROM) with their values: `--build-arg`, else the default expanded
    /// with the ARGs before it; plus the platform ARGs BuildKit predefines.
    fn global_args(
        &mut self,
        meta: &[ins::ArgCommand],
    ) -> Result<Vec<(String, Option<String>)>, BuildError> {
        let (os, arch) = host_platform();
        let mut vars: Vec<(String, Option<String>)> = vec![
            ("TARGETPLATFORM".into(), Some(format!("{os}/{arch}"))),
            ("TARGETOS".into(), Some(os.into())),
            ("TARGETARCH".into(), Some(arch.into())),
            ("TARGETVARIANT".into(), Some(String::new())),
            ("BUILDPLATFORM".into(), Some(format!("{os}/{arch}"))),
            ("BUILDOS".into(), Some(os.into())),
            ("BUILDARCH".into(), Some(arch.into())),
            ("BUILDVARIANT".into(), Some(String::new())),
        ];
        for arg in meta {
            for pair in &arg.args {
                let value = match self.build_arg(&pair.key) {
                    Some(v) => Some(v),
                    None => match &pair.value {
                        Some(d) => Some(self.expand(d, &env_of(&vars), arg.meta.span.line)?),
                        None => None,
                    },
                };
                set_var(&mut vars, &pair.key, value);
            }
        }
        Ok(vars)
    }

    fn build_arg(&self, name: &str) -> Option<String> {
        self.opts
            .build_args
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    fn expand(
        &self,
        word: &str,
        env: &BTreeMap<String, String>,
        line: u32,
    ) -> Result<String, BuildError> {
        self.lex
            .process_word(word, env)
            .map_err(|e| self.step_err(line, word, e))
    }

    fn step_err(
        &self,
        cmd_line: u32,
        original: &str,
        message: impl std::fmt::Display,
    ) -> BuildError {
        BuildError::Step {
            file: self.file.clone(),
            line: cmd_line,
            instruction: redact_credentials(original.trim()),
            message: redact_credentials(&message.to_string()),
        }
    }

    fn build_stage(
        &mut self,
        index: usize,
        stage: &ins::Stage,
        global: &[(String, Option<String>)],
        stages: &[ins::Stage],
        built: &[Option<ImageState>],
    ) -> Result<ImageState, BuildError> {
        let label = stage
            .name
            .clone()
            .unwrap_or_else(|| format!("stage-{index}"));
        let total = stage.commands.len() + 1;
        self.current_stage = stage.name.clone();
        let line = stage.span().line;
        let from_text = stage.from.meta.original.clone();
        (self.on_event)(BuildEvent::Step {
            stage: label.clone(),
            index: 1,
            total,
            instruction: redact_credentials(&from_text),
        });
        let from = stage
            .from
            .expand(&self.lex, &env_of(global))
            .map_err(|e| self.step_err(line, &from_text, e))?;
        let base_name = from.base.clone();
        let platform = match &from.platform {
            Some(p) => Some(parse_platform(p).map_err(|m| self.step_err(line, &from_text, m))?),
            None => None,
        };
        let mut state = self.resolve_base(&base_name, stage, stages, built)?;
        if let Some((os, arch, variant)) = platform {
            if base_name.eq_ignore_ascii_case("scratch") {
                state.config.os = os;
                state.config.architecture = arch;
                state.config.variant = variant;
            } else if state.config.os != os || state.config.architecture != arch {
                return Err(self.step_err(
                    line,
                    &from_text,
                    format!(
                        "{base_name} is {}/{}, not the requested --platform={os}/{arch}",
                        state.config.os, state.config.architecture
                    ),
                ));
            }
        }
        state.cmd_set = false;
        // ONBUILD triggers of the base run first, then are cleared (BuildKit behaviour).
        let triggers = std::mem::take(&mut state.config.config.on_build);
        let mut scope = Scope { args: Vec::new() };
        for trigger in &triggers {
            let cmd = ins::parse_trigger(trigger).map_err(|e| {
                self.step_err(
                    line,
                    trigger,
                    format!("ONBUILD trigger from {base_name}: {}", e.message),
                )
            })?;
            self.dispatch(&mut state, &mut scope, &cmd, global, stages, built)?;
        }
        for (i, cmd) in stage.commands.iter().enumerate() {
            if self.cancelled() {
                return Err(BuildError::Cancelled);
            }
            (self.on_event)(BuildEvent::Step {
                stage: label.clone(),
                index: i + 2,
                total,
                instruction: redact_credentials(&cmd.meta().original),
            });
            self.dispatch(&mut state, &mut scope, cmd, global, stages, built)?;
        }
        Ok(state)
    }

    fn resolve_base(
        &mut self,
        name: &str,
        stage: &ins::Stage,
        stages: &[ins::Stage],
        built: &[Option<ImageState>],
    ) -> Result<ImageState, BuildError> {
        let (os, arch) = host_platform();
        if name.eq_ignore_ascii_case("scratch") {
            return Ok(ImageState {
                config: ImageConfig {
                    architecture: arch.into(),
                    os: os.into(),
                    rootfs: RootFs::default(),
                    ..Default::default()
                },
                layers: Vec::new(),
                fs: Some(FsView::default()),
                cmd_set: false,
                base: None,
                own_labels: BTreeSet::new(),
                key: cache_key(&[
                    b"scratch",
                    os.as_bytes(),
                    arch.as_bytes(),
                    self.compression_id(),
                ]),
            });
        }
        if let Some(i) = stage_index(stages, name)
            && let Some(Some(s)) = built.get(i)
        {
            return Ok(s.clone());
        }
        let (line, original) = (stage.span().line, &stage.from.meta.original);
        let (desc, base_name) = match self.named_context(name, line, original)? {
            Some(found) => found,
            None => {
                let desc = self.image_by_reference(name, line, original)?;
                if !name.contains('@') {
                    (self.on_event)(BuildEvent::BaseResolved {
                        reference: name.to_string(),
                        digest: desc.digest.clone(),
                    });
                }
                (desc, Some(name.to_string()))
            }
        };
        let image = self.store.image(&desc)?;
        let base = Some(BaseImage {
            name: base_name,
            digest: desc.digest.clone(),
        });
        let mut config = image.config;
        config.created = None;
        let layers = image
            .manifest
            .layers
            .into_iter()
            .map(normalize_layer_media_type)
            .collect();
        // The steps on top depend on the base's filesystem (diff_ids) and run configuration,
        // not on its labels or history: a parent rebuilt with new labels only (a new commit's
        // revision) leaves its children's steps in the cache.
        let mut identity = config.clone();
        identity.config.labels.clear();
        identity.history.clear();
        let identity = json::to_canonical_vec(&identity).map_err(|e| {
            self.step_err(stage.span().line, &stage.from.meta.original, e.to_string())
        })?;
        Ok(ImageState {
            config,
            layers,
            fs: None,
            cmd_set: false,
            base,
            own_labels: BTreeSet::new(),
            key: cache_key(&[b"image-content", &identity, self.compression_id()]),
        })
    }

    /// The store image `reference` names (not a stage or named context), pulled when
    /// [`BuildOptions::pull`] says so.
    fn image_by_reference(
        &mut self,
        reference: &str,
        line: u32,
        original: &str,
    ) -> Result<Descriptor, BuildError> {
        if let Some(d) = self.pulled.get(reference) {
            return Ok(d.clone());
        }
        let fetcher = match &self.opts.pull {
            Pull::Always(f) if !reference.contains('@') => Some(f.clone()),
            _ => None,
        };
        let fetcher = match fetcher {
            Some(f) => f,
            None => match self.store.resolve(reference) {
                Ok(r) => return Ok(r.descriptor),
                Err(StoreError::NotFound { .. }) => match &self.opts.pull {
                    Pull::Missing(f) | Pull::Always(f) => f.clone(),
                    Pull::Never => {
                        return Err(self.step_err(
                            line,
                            original,
                            format!(
                                "image {reference:?} is not in the store {} (and pulling is off): `plinth pull` it, build it or `plinth load` it",
                                self.store.path().display()
                            ),
                        ));
                    }
                },
                Err(e) => return Err(e.into()),
            },
        };
        (self.on_event)(BuildEvent::Pulling {
            reference: reference.to_string(),
        });
        let desc = fetcher.fetch(self.store, reference).map_err(|e| {
            self.step_err(
                line,
                original,
                format!("pulling {reference} from its registry: {e}"),
            )
        })?;
        self.pulled.insert(reference.to_string(), desc.clone());
        Ok(desc)
    }

    /// The image of named context `name` (built or found in the cache on first use) and the
    /// name to record as its base name; `None` when no context has that name.
    fn named_context(
        &mut self,
        name: &str,
        line: u32,
        original: &str,
    ) -> Result<Option<(Descriptor, Option<String>)>, BuildError> {
        let Some(ctx) = self.opts.named_contexts.get(name).cloned() else {
            return Ok(None);
        };
        if let Some(d) = self.named_built.get(name) {
            return Ok(Some(d.clone()));
        }
        let (locked, components, sources) = match ctx {
            NamedContext::DebianRootfs {
                locked,
                components,
                sources,
            } => (locked, components, sources),
            NamedContext::Image { reference, digest } => {
                let found = self
                    .store
                    .resolve(&digest.to_string())
                    .map_err(|e| self.step_err(line, original, format!("{reference}: {e}")))?;
                let found = (found.descriptor, Some(reference));
                self.named_built.insert(name.to_string(), found.clone());
                return Ok(Some(found));
            }
        };
        let opts = crate::debian::RootfsOptions {
            compression: self.opts.compression,
            sources,
            components,
            use_cache: self.opts.cache != CachePolicy::Ignore,
            cancel: self.opts.cancel.clone(),
            sandbox_helper: self.opts.sandbox_helper.clone(),
        };
        let on_event = &mut *self.on_event;
        let result = crate::debian::build_rootfs(self.store, &locked, &opts, &mut |ev| {
            if let Some(ev) = ev.into_build_event(name) {
                on_event(ev);
            }
        });
        let image = match result {
            Ok(i) => i,
            Err(crate::debian::DebianError::Cancelled) => return Err(BuildError::Cancelled),
            Err(e) => {
                return Err(self.step_err(line, original, format!("context {name:?}: {e}")));
            }
        };
        let found = (image.manifest, None);
        self.named_built.insert(name.to_string(), found.clone());
        Ok(Some(found))
    }

    /// The expansion environment: declared ARGs, overridden by ENV.
    fn env(&self, state: &ImageState, scope: &Scope) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for (k, v) in &scope.args {
            if let Some(v) = v {
                env.insert(k.clone(), v.clone());
            }
        }
        for kv in &state.config.config.env {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            env.insert(k.to_string(), v.to_string());
        }
        env
    }

    fn history(&self, state: &mut ImageState, created_by: String, empty_layer: bool) {
        state.config.history.push(History {
            created: Some(self.created.clone()),
            created_by: Some(redact_credentials(&created_by)),
            author: None,
            comment: None,
            empty_layer,
        });
    }

    fn dispatch(
        &mut self,
        state: &mut ImageState,
        scope: &mut Scope,
        cmd: &Command,
        global: &[(String, Option<String>)],
        stages: &[ins::Stage],
        built: &[Option<ImageState>],
    ) -> Result<(), BuildError> {
        let line = cmd.meta().span.line;
        let original = cmd.meta().original.clone();
        let env = self.env(state, scope);
        // The step's identity for the cache: its text and the values of the variables it uses.
        let mut step_id = original.clone();
        for name in cmd.referenced_vars(&self.lex).unwrap_or_default() {
            step_id.push('\0');
            step_id.push_str(&name);
            step_id.push('=');
            step_id.push_str(env.get(&name).map(String::as_str).unwrap_or("\u{1}unset"));
        }
        let cmd = cmd
            .expand(&self.lex, &env)
            .map_err(|e| self.step_err(line, &original, e))?;
        if !matches!(cmd, Command::Run(_) | Command::Copy(_) | Command::Add(_)) {
            state.key = cache_key(&[state.key.to_string().as_bytes(), step_id.as_bytes()]);
        }
        let cfg = &mut state.config.config;
        match &cmd {
            Command::Arg(a) => {
                let mut parts = Vec::new();
                for pair in &a.args {
                    let name = pair.key.as_str();
                    let value = match self.build_arg(name) {
                        Some(v) => {
                            self.used_build_args.insert(name.to_string());
                            Some(v)
                        }
                        None => match &pair.value {
                            Some(d) => Some(d.clone()),
                            None => global
                                .iter()
                                .find(|(k, _)| k == name)
                                .and_then(|(_, v)| v.clone()),
                        },
                    };
                    parts.push(match &pair.value {
                        Some(d) => format!("{name}={d}"),
                        None => name.to_string(),
                    });
                    set_var(&mut scope.args, name, value);
                }
                self.history(state, format!("ARG {}", parts.join(" ")), true);
            }
            Command::Env(e) => {
                for kv in &e.pairs {
                    set_env(&mut cfg.env, &kv.key, &kv.value);
                }
                let text = e
                    .pairs
                    .iter()
                    .map(|kv| format!("{}={}", kv.key, kv.value))
                    .collect::<Vec<_>>()
                    .join(" ");
                self.history(state, format!("ENV {text}"), true);
            }
            Command::Label(l) => {
                for kv in &l.pairs {
                    cfg.labels.insert(kv.key.clone(), kv.value.clone());
                    state.own_labels.insert(kv.key.clone());
                }
                let text = l
                    .pairs
                    .iter()
                    .map(|kv| format!("{}={}", kv.key, kv.value))
                    .collect::<Vec<_>>()
                    .join(" ");
                self.history(state, format!("LABEL {text}"), true);
            }
            Command::Maintainer(m) => {
                state.config.author = Some(m.maintainer.clone());
                self.history(state, format!("MAINTAINER {}", m.maintainer), true);
            }
            Command::User(u) => {
                cfg.user = Some(u.user.clone());
                self.history(state, format!("USER {}", u.user), true);
            }
            Command::Expose(e) => {
                let mut ports = Vec::new();
                for p in &e.ports {
                    for port in expand_port(p).map_err(|m| self.step_err(line, &original, m))? {
                        cfg.exposed_ports.insert(port.clone(), EmptyObject {});
                        ports.push(port);
                    }
                }
                self.history(state, format!("EXPOSE {}", ports.join(" ")), true);
            }
            Command::Volume(v) => {
                for p in &v.volumes {
                    if p.is_empty() {
                        return Err(self.step_err(
                            line,
                            &original,
                            "VOLUME specified can not be an empty string",
                        ));
                    }
                    cfg.volumes.insert(p.clone(), EmptyObject {});
                }
                self.history(state, format!("VOLUME [{}]", v.volumes.join(" ")), true);
            }
            Command::StopSignal(s) => {
                cfg.stop_signal = Some(s.signal.clone());
                self.history(state, format!("STOPSIGNAL {}", s.signal), true);
            }
            Command::Shell(s) => {
                cfg.shell = s.shell.clone();
                self.history(state, format!("SHELL {}", go_quote_list(&s.shell)), true);
            }
            Command::Cmd(c) => {
                let args = with_shell(&c.cmd, &cfg.shell);
                self.history(state, format!("CMD {}", go_quote_list(&args)), true);
                state.config.config.cmd = Some(args);
                state.cmd_set = true;
            }
            Command::Entrypoint(c) => {
                let args = with_shell(&c.cmd, &cfg.shell);
                self.history(state, format!("ENTRYPOINT {}", go_quote_list(&args)), true);
                let cfg = &mut state.config.config;
                cfg.entrypoint = Some(args);
                if !state.cmd_set {
                    cfg.cmd = None;
                }
            }
            Command::Healthcheck(h) => {
                let hc = &h.health;
                let ns = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
                cfg.healthcheck = Some(Healthcheck {
                    test: hc.test.clone(),
                    interval: ns(hc.interval),
                    timeout: ns(hc.timeout),
                    start_period: ns(hc.start_period),
                    start_interval: ns(hc.start_interval),
                    retries: hc.retries,
                });
                self.history(state, original.clone(), true);
            }
            Command::Onbuild(o) => {
                cfg.on_build.push(o.expression.clone());
                self.history(state, format!("ONBUILD {}", o.expression), true);
            }
            Command::Workdir(w) => {
                let dir = resolve_path(cfg.working_dir.as_deref().unwrap_or("/"), &w.path);
                cfg.working_dir = Some(dir.clone());
                self.workdir(state, &dir, line, &original)?;
            }
            Command::Run(r) => self.run_step(state, scope, r, line, &original, stages, built)?,
            Command::Copy(c) => self.copy(
                state,
                &step_id,
                &CopyCommon::from_copy(c),
                line,
                &original,
                stages,
                built,
            )?,
            Command::Add(a) => self.copy(
                state,
                &step_id,
                &CopyCommon::from_add(a),
                line,
                &original,
                stages,
                built,
            )?,
        }
        Ok(())
    }

    fn fs<'s>(&self, state: &'s mut ImageState) -> Result<&'s mut FsView, BuildError> {
        if state.fs.is_none() {
            let mut view = FsView::default();
            for desc in &state.layers {
                view.apply_layer(&self.layer_headers(desc)?);
            }
            state.fs = Some(view);
        }
        Ok(state.fs.as_mut().expect("set above"))
    }

    /// Reads a small regular file from the image's layers (top layer first), e.g. /etc/passwd.
    fn read_image_file(
        &self,
        state: &ImageState,
        path: &str,
    ) -> Result<Option<Vec<u8>>, BuildError> {
        let mut want = path.trim_start_matches('/').to_string();
        let mut layers = state.layers.iter().rev().peekable();
        while let Some(desc) = layers.peek() {
            let blob = self.store.open_blob(&desc.digest)?;
            let found = layer::read_layer_file(
                std::io::BufReader::new(blob),
                &desc.media_type,
                &want,
                16 << 20,
            )
            .map_err(|e| BuildError::Step {
                file: self.file.clone(),
                line: 0,
                instruction: String::new(),
                message: format!("reading {path} from layer {}: {e}", desc.digest),
            })?;
            match found {
                layer::FileLookup::Found(bytes) => return Ok(Some(bytes)),
                layer::FileLookup::Deleted => return Ok(None),
                // A hardlink names a file of the same layer: read it from this layer again.
                layer::FileLookup::HardlinkTo(target) if target != want => want = target,
                layer::FileLookup::HardlinkTo(_) => return Ok(None),
                layer::FileLookup::Absent => {
                    layers.next();
                }
            }
        }
        Ok(None)
    }

    /// The image's /etc/passwd and /etc/group: from the extracted layers when every layer is
    /// extracted already (RUN steps extract them), else read from the compressed blobs.
    fn user_db(&self, state: &ImageState) -> Result<UserDb, BuildError> {
        let extracted: Option<Vec<PathBuf>> = state
            .config
            .rootfs
            .diff_ids
            .iter()
            .map(|d| Some(self.store.extracted_layer_path(d)).filter(|p| p.is_dir()))
            .collect();
        match extracted {
            Some(lowers) if lowers.len() == state.layers.len() => Ok((
                crate::container::read_lower_file(&lowers, "etc/passwd"),
                crate::container::read_lower_file(&lowers, "etc/group"),
            )),
            _ => Ok((
                self.read_image_file(state, "/etc/passwd")?,
                self.read_image_file(state, "/etc/group")?,
            )),
        }
    }

    fn resolve_owner(
        &self,
        state: &ImageState,
        spec: &str,
        line: u32,
        original: &str,
    ) -> Result<(u64, u64), BuildError> {
        let (passwd, group) = self.user_db(state)?;
        userdb::resolve_chown(spec, passwd.as_deref(), group.as_deref())
            .map_err(|e| self.step_err(line, original, e))
    }

    fn workdir(
        &mut self,
        state: &mut ImageState,
        dir: &str,
        line: u32,
        original: &str,
    ) -> Result<(), BuildError> {
        let rel = dir.trim_start_matches('/').to_string();
        if rel.is_empty() {
            self.history(state, format!("WORKDIR {dir}"), true);
            return Ok(());
        }
        // Cached like a step (the layer it created, or none), so that a rebuild does not read
        // every layer's headers to see whether the directory exists.
        let created_by = format!("WORKDIR {dir}");
        let user = state.config.config.user.clone().unwrap_or_default();
        let key = cache_key(&[
            state.key.to_string().as_bytes(),
            b"WORKDIR",
            dir.as_bytes(),
            user.as_bytes(),
        ]);
        if self.try_cache(state, &key, &created_by)? {
            return Ok(());
        }
        self.workdir_uncached(state, dir, &rel, line, original)?;
        self.record_cache(state, &key, &created_by)
    }

    fn workdir_uncached(
        &mut self,
        state: &mut ImageState,
        dir: &str,
        rel: &str,
        line: u32,
        original: &str,
    ) -> Result<(), BuildError> {
        let exists = self
            .fs(state)?
            .get(rel)
            .is_some_and(|n| n.kind == NodeKind::Dir);
        if exists {
            self.history(state, format!("WORKDIR {dir}"), true);
            return Ok(());
        }
        // BuildKit creates the directory (and parents) owned by the current USER.
        let owner = match state.config.config.user.clone().filter(|u| !u.is_empty()) {
            Some(u) => self.resolve_owner(state, &u, line, original)?,
            None => (0, 0),
        };
        let fs = self.fs(state)?;
        let mut entries = Vec::new();
        let mut cur = String::new();
        for comp in rel.split('/') {
            if !cur.is_empty() {
                cur.push('/');
            }
            cur.push_str(comp);
            match fs.get(&cur) {
                Some(n) if n.kind == NodeKind::Dir => {}
                _ => entries.push(dir_entry(&cur, 0o755, owner)),
            }
        }
        self.commit_layer(state, entries, format!("WORKDIR {dir}"))
    }

    #[allow(clippy::too_many_arguments)]
    fn copy(
        &mut self,
        state: &mut ImageState,
        step_id: &str,
        c: &CopyCommon,
        line: u32,
        original: &str,
        stages: &[ins::Stage],
        built: &[Option<ImageState>],
    ) -> Result<(), BuildError> {
        let chown = match c.chown.as_deref().filter(|s| !s.is_empty()) {
            Some(spec) => {
                let (uid, gid) = self.resolve_owner(state, spec, line, original)?;
                Some(Owner { uid, gid })
            }
            None => None,
        };
        let chmod = match c.chmod.as_deref().filter(|s| !s.is_empty()) {
            Some(m) => Some(Chmod::parse(m).map_err(|e| {
                self.step_err(line, original, format!("invalid --chmod={m}: {}", e.0))
            })?),
            None => None,
        };
        let workdir = state
            .config
            .config
            .working_dir
            .clone()
            .unwrap_or_else(|| "/".into());
        let options = CopyOptions {
            chown,
            chmod,
            parents: c.parents,
            exclude: c.exclude.clone(),
        };
        let mut sources: Vec<CopySource> = c
            .heredocs
            .iter()
            .map(|h| CopySource::Inline {
                name: h.name.clone(),
                data: h.data.clone().into_bytes().into(),
            })
            .collect();
        sources.extend(c.sources.iter().cloned().map(CopySource::Path));

        let tree = match &c.from {
            Some(from) => {
                let root = self.source_root(from, stages, built, line, original)?;
                SourceTree::new(root, Dockerignore::default(), Ownership::FromDisk)
            }
            None => {
                if self.context.is_none() {
                    self.context = Some(
                        SourceTree::open_context(&self.opts.context, &self.opts.dockerfile)
                            .map_err(|e| self.step_err(line, original, e))?,
                    );
                }
                self.context.clone().expect("opened above")
            }
        };
        let (key, entries) = match &c.add {
            // COPY's cache key needs no image walk: the sources planned onto an empty image.
            None => {
                let req = CopyRequest {
                    sources,
                    dest: c.dest.clone(),
                    workdir,
                    options,
                };
                let planned = plan_copy(&tree, &req, &EmptyDest)
                    .map_err(|e| self.step_err(line, original, e))?;
                let key = copy_key(&state.key, step_id, &planned)
                    .map_err(|e| self.step_err(line, original, e))?;
                if self.try_cache(state, &key, original)? {
                    return Ok(());
                }
                self.fs(state)?;
                let dest_fs: &FsView = state.fs.as_ref().expect("loaded above");
                let entries = plan_copy(&tree, &req, dest_fs)
                    .map_err(|e| self.step_err(line, original, e))?;
                (key, entries)
            }
            // ADD must fetch and unpack its sources to know what they are.
            Some(a) => {
                self.fs(state)?;
                let dest_fs: &FsView = state.fs.as_ref().expect("loaded above");
                let scratch = self.tmp.path().join(format!("add-{}", self.scratch_dirs));
                self.scratch_dirs += 1;
                fs_err::create_dir_all(&scratch).map_err(|e| self.step_err(line, original, e))?;
                let req = AddRequest {
                    sources: c.sources.clone(),
                    dest: c.dest.clone(),
                    workdir: workdir.clone(),
                    options: options.clone(),
                    checksum: a.checksum.clone(),
                    git_dir: if a.keep_git_dir {
                        GitDir::Keep
                    } else {
                        GitDir::Remove
                    },
                };
                let env = AddEnv {
                    tree: &tree,
                    dest: dest_fs,
                    scratch: &scratch,
                    http_timeout: std::time::Duration::from_secs(300),
                };
                let out = plan_add(&req, &env).map_err(|e| self.step_err(line, original, e))?;
                let mut entries = out.entries;
                if !c.heredocs.is_empty() {
                    let req = CopyRequest {
                        sources: sources
                            .into_iter()
                            .filter(|s| matches!(s, CopySource::Inline { .. }))
                            .collect(),
                        dest: c.dest.clone(),
                        workdir,
                        options,
                    };
                    entries.extend(
                        plan_copy(&tree, &req, dest_fs)
                            .map_err(|e| self.step_err(line, original, e))?,
                    );
                }
                for w in out.warnings {
                    (self.on_event)(BuildEvent::Warning {
                        line: Some(line),
                        message: w.to_string(),
                    });
                }
                let key = copy_key(&state.key, step_id, &entries)
                    .map_err(|e| self.step_err(line, original, e))?;
                if self.try_cache(state, &key, original)? {
                    return Ok(());
                }
                (key, entries)
            }
        };
        self.commit_layer(state, entries, original.trim().to_string())?;
        self.record_cache(state, &key, original)
    }

    /// Layers differ by compression, so the cache keys do too.
    fn compression_id(&self) -> &'static [u8] {
        match self.opts.compression {
            Compression::Gzip => b"gzip",
            Compression::Zstd => b"zstd",
            Compression::None => b"none",
        }
    }

    fn cancelled(&self) -> bool {
        self.opts
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// Whether the cache may answer for the current stage.
    fn cache_enabled(&self) -> bool {
        match &self.opts.cache {
            CachePolicy::Use => true,
            CachePolicy::Ignore => false,
            CachePolicy::IgnoreStages(names) => !self
                .current_stage
                .as_deref()
                .is_some_and(|s| names.iter().any(|n| n.eq_ignore_ascii_case(s))),
        }
    }

    /// Looks `key` up; on a hit, applies the cached result to `state` (layer, history, key).
    fn try_cache(
        &mut self,
        state: &mut ImageState,
        key: &Digest,
        created_by: &str,
    ) -> Result<bool, BuildError> {
        if !self.cache_enabled() {
            return Ok(false);
        }
        let Some(entry) = self
            .cache
            .get(key)
            .map_err(|e| self.step_err(0, created_by, e))?
        else {
            return Ok(false);
        };
        (self.on_event)(BuildEvent::Cached { key: key.clone() });
        self.steps_cached += 1;
        match entry.layer {
            Some(l) => {
                state.layers.push(l.descriptor.clone());
                state.config.rootfs.diff_ids.push(l.diff_id);
                self.history(state, created_by.trim().to_string(), false);
                if state.fs.is_some() {
                    let headers = self.layer_headers(&l.descriptor)?;
                    if let Some(fs) = state.fs.as_mut() {
                        fs.apply_layer(&headers);
                    }
                }
            }
            None => self.history(state, created_by.trim().to_string(), true),
        }
        state.key = chain_output(key, state);
        Ok(true)
    }

    /// Records the step that just produced `state`'s top layer (or an empty step) under `key`, and
    /// moves `state.key` past it.
    fn record_cache(
        &mut self,
        state: &mut ImageState,
        key: &Digest,
        created_by: &str,
    ) -> Result<(), BuildError> {
        let empty = state.config.history.last().is_some_and(|h| h.empty_layer);
        let layer = match (
            empty,
            state.layers.last(),
            state.config.rootfs.diff_ids.last(),
        ) {
            (false, Some(d), Some(diff_id)) => Some(CachedLayer {
                descriptor: d.clone(),
                diff_id: diff_id.clone(),
            }),
            _ => None,
        };
        self.steps_run += 1;
        let entry = CacheEntry {
            layer,
            created_by: redact_credentials(created_by.trim()),
            extra: serde_json::Value::Null,
        };
        self.cache
            .put(key, &entry)
            .map_err(|e| self.step_err(0, created_by, e))?;
        state.key = chain_output(key, state);
        Ok(())
    }

    /// The headers of one layer blob, for the filesystem view.
    fn layer_headers(&self, desc: &Descriptor) -> Result<Vec<layer::LayerEntryInfo>, BuildError> {
        // From the store's header cache: a layer is decompressed once, not on every build.
        Ok(self.store.layer_entries(desc)?)
    }

    /// A RUN step: from the cache, or run in the sandbox over the extracted layers.
    #[allow(clippy::too_many_arguments)]
    fn run_step(
        &mut self,
        state: &mut ImageState,
        scope: &Scope,
        r: &ins::RunCommand,
        line: u32,
        original: &str,
        stages: &[ins::Stage],
        built: &[Option<ImageState>],
    ) -> Result<(), BuildError> {
        let cfg = &state.config.config;
        let shell = &cfg.shell;
        let scratch = tempfile::Builder::new()
            .prefix("run-mounts-")
            .tempdir_in(self.tmp.path())
            .map_err(|e| self.step_err(line, original, e))?;
        let mut mounts: Vec<SandboxMount> = Vec::new();
        let args = match r.script().map_err(|e| self.step_err(line, original, e))? {
            ins::RunScript::Plain => with_shell(&r.cmd, shell),
            ins::RunScript::Inline(full) => with_shell(&ShellOrExec::Shell(full), shell),
            ins::RunScript::Heredoc {
                name,
                content,
                shebang: false,
            } => {
                let _ = name;
                with_shell(&ShellOrExec::Shell(content), shell)
            }
            ins::RunScript::Heredoc {
                name,
                content,
                shebang: true,
            } => {
                let file = scratch.path().join(format!("heredoc-{}", mounts.len()));
                fs_err::write(&file, content).map_err(|e| self.step_err(line, original, e))?;
                set_mode(&file, 0o755).map_err(|e| self.step_err(line, original, e))?;
                let target = format!("/dev/pipes/{name}");
                mounts.push(SandboxMount {
                    kind: MountKind::Bind {
                        source: file,
                        readonly: true,
                    },
                    target: target.clone(),
                });
                with_shell(&ShellOrExec::Shell(target), shell)
            }
        };
        // The step's environment: ENV, then the ARGs in scope that ENV does not set; a default PATH.
        let mut env: Vec<String> = cfg.env.clone();
        for (k, v) in &scope.args {
            if let Some(v) = v
                && !env
                    .iter()
                    .any(|e| e.split_once('=').map_or(e.as_str(), |(ek, _)| ek) == k)
            {
                env.push(format!("{k}={v}"));
            }
        }
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(format!("PATH={DEFAULT_PATH}"));
        }
        let user_spec = cfg
            .user
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "0".to_string());
        let cwd = cfg
            .working_dir
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".to_string());
        let network = match r.network {
            ins::NetworkMode::None => Network::None,
            ins::NetworkMode::Host => Network::Host,
            _ => self.opts.network,
        };
        // Mounts; their description joins the cache key, secrets by id only.
        let mut mount_ids: Vec<String> = Vec::new();
        let mut secret_env: Vec<String> = Vec::new();
        for m in r.resolved_mounts().unwrap_or_default() {
            let target = m.target.clone().unwrap_or_default();
            match m.typ {
                ins::MountType::Cache => {
                    let id = m.id.clone().unwrap_or_else(|| target.clone());
                    let dir = self
                        .store
                        .path()
                        .join(".plinth/cache-mounts")
                        .join(Digest::of(id.as_bytes()).hex());
                    if !dir.exists() {
                        fs_err::create_dir_all(&dir)
                            .map_err(|e| self.step_err(line, original, e))?;
                        set_mode(&dir, m.mode.unwrap_or(0o755))
                            .map_err(|e| self.step_err(line, original, e))?;
                        chown(&dir, m.uid.unwrap_or(0), m.gid.unwrap_or(0))
                            .map_err(|e| self.step_err(line, original, e))?;
                    }
                    mount_ids.push(format!("cache:{id}:{target}"));
                    mounts.push(SandboxMount {
                        kind: MountKind::Bind {
                            source: dir,
                            readonly: m.readonly,
                        },
                        target,
                    });
                }
                ins::MountType::Secret => {
                    let id = m.id.clone().unwrap_or_else(|| {
                        target.rsplit('/').next().unwrap_or_default().to_string()
                    });
                    let target = if target.is_empty() {
                        format!("/run/secrets/{id}")
                    } else {
                        target
                    };
                    let Some(src) = self.opts.secrets.iter().find(|s| s.id == id) else {
                        if m.required {
                            return Err(self.step_err(line, original, format!("secret {id:?} is required but was not given: use plinth build --secret id={id},src=FILE")));
                        }
                        continue;
                    };
                    let bytes =
                        fs_err::read(&src.path).map_err(|e| self.step_err(line, original, e))?;
                    if let Some(var) = &m.env {
                        secret_env.push(format!("{var}={}", String::from_utf8_lossy(&bytes)));
                    } else {
                        let file = scratch.path().join(format!("secret-{}", mounts.len()));
                        fs_err::write(&file, &bytes)
                            .map_err(|e| self.step_err(line, original, e))?;
                        set_mode(&file, m.mode.unwrap_or(0o400))
                            .map_err(|e| self.step_err(line, original, e))?;
                        chown(&file, m.uid.unwrap_or(0), m.gid.unwrap_or(0))
                            .map_err(|e| self.step_err(line, original, e))?;
                        mounts.push(SandboxMount {
                            kind: MountKind::Bind {
                                source: file,
                                readonly: true,
                            },
                            target: target.clone(),
                        });
                    }
                    mount_ids.push(format!("secret:{id}:{target}"));
                }
                ins::MountType::Bind => {
                    let root = match &m.from {
                        Some(from) => self.source_root(from, stages, built, line, original)?,
                        None => self.opts.context.clone(),
                    };
                    let rel = m.source.clone().unwrap_or_default();
                    let source = resolve_path("/", &rel);
                    let host = root.join(source.trim_start_matches('/'));
                    if !host.starts_with(&root) || !host.exists() {
                        return Err(self.step_err(
                            line,
                            original,
                            format!("bind mount source {rel:?} not found"),
                        ));
                    }
                    mount_ids.push(format!(
                        "bind:{}:{}:{target}",
                        m.from.clone().unwrap_or_default(),
                        source
                    ));
                    mounts.push(SandboxMount {
                        kind: MountKind::Bind {
                            source: host,
                            readonly: m.readonly,
                        },
                        target,
                    });
                }
                ins::MountType::Tmpfs => {
                    mount_ids.push(format!("tmpfs:{target}"));
                    mounts.push(SandboxMount {
                        kind: MountKind::Tmpfs {
                            size: m.size_limit.and_then(|s| u64::try_from(s).ok()),
                        },
                        target,
                    });
                }
                ins::MountType::Ssh => {
                    return Err(self.step_err(line, original, "RUN --mount=type=ssh: plinth does not forward an SSH agent into builds; fetch private sources before the build or use a secret mount"));
                }
            }
        }
        let mut key_parts: Vec<String> = vec![state.key.to_string(), "RUN".into()];
        key_parts.extend(args.iter().cloned());
        key_parts.push("\0env".into());
        key_parts.extend(env.iter().cloned());
        key_parts.extend([
            "\0user".into(),
            user_spec.clone(),
            cwd.clone(),
            format!("{network:?}"),
        ]);
        key_parts.extend(mount_ids);
        let part_refs: Vec<&[u8]> = key_parts.iter().map(|p| p.as_bytes()).collect();
        let key = cache_key(&part_refs);
        let created_by = format!("RUN {}", args.join(" "));
        if self.try_cache(state, &key, &created_by)? {
            return Ok(());
        }
        env.extend(secret_env);
        let mut lowers = Vec::new();
        for (desc, diff_id) in state.layers.iter().zip(state.config.rootfs.diff_ids.iter()) {
            lowers.push(self.store.extracted_layer(desc, diff_id)?);
        }
        let (passwd, group) = self.user_db(state)?;
        let user = userdb::resolve_exec_user(&user_spec, passwd.as_deref(), group.as_deref())
            .map_err(|e| self.step_err(line, original, e))?;
        let (uid, gid, additional_gids) = user.ids();
        let step = RunStep {
            args,
            env,
            cwd,
            uid,
            gid,
            additional_gids,
            network,
            mounts,
            lowers,
            security: match r.security {
                ins::SecurityMode::Insecure => plinth_sandbox::Security::Insecure,
                _ => plinth_sandbox::Security::Sandboxed,
            },
        };
        let tmp_root = self.store.path().join(".plinth/tmp");
        let on_event = &mut self.on_event;
        let cancel = self.opts.cancel.clone();
        let changes = run::run_step(&self.sandbox, &step, &tmp_root, cancel, &mut |bytes| {
            on_event(BuildEvent::Output {
                text: String::from_utf8_lossy(bytes).into_owned(),
            });
        })
        .map_err(|e| match e {
            run::RunError::Sandbox(plinth_sandbox::SandboxError::Cancelled) => {
                BuildError::Cancelled
            }
            e => self.step_err(line, original, e),
        })?;
        if changes.entries.is_empty() {
            self.history(state, created_by.clone(), true);
        } else {
            self.commit_layer(state, changes.entries, created_by.clone())?;
        }
        drop(changes.scratch);
        self.record_cache(state, &key, &created_by)
    }

    /// The root filesystem of `COPY --from=X`: a stage (name or index) or an image in the store,
    /// extracted once per build into a temporary directory.
    fn source_root(
        &mut self,
        from: &str,
        stages: &[ins::Stage],
        built: &[Option<ImageState>],
        line: u32,
        original: &str,
    ) -> Result<PathBuf, BuildError> {
        let layers = match stage_index(stages, from)
            .or_else(|| from.parse::<usize>().ok().filter(|i| *i < stages.len()))
        {
            Some(i) => match built.get(i) {
                Some(Some(s)) => s.layers.clone(),
                _ => {
                    return Err(self.step_err(
                        line,
                        original,
                        format!("--from={from}: that stage comes later or was not built"),
                    ));
                }
            },
            None => {
                let desc = match self.named_context(from, line, original)? {
                    Some((d, _)) => d,
                    None => self.image_by_reference(from, line, original)?,
                };
                self.store
                    .image(&desc)?
                    .manifest
                    .layers
                    .into_iter()
                    .map(normalize_layer_media_type)
                    .collect()
            }
        };
        let key: Vec<Digest> = layers.iter().map(|d| d.digest.clone()).collect();
        if let Some(p) = self.extracted.get(&key) {
            return Ok(p.clone());
        }
        let root = self
            .tmp
            .path()
            .join(format!("from-{}", self.extracted.len()));
        fs_err::create_dir_all(&root).map_err(|e| self.step_err(line, original, e))?;
        for desc in &layers {
            let blob = self.store.open_blob(&desc.digest)?;
            layer::extract_layer(std::io::BufReader::new(blob), &desc.media_type, &root).map_err(
                |e| {
                    self.step_err(
                        line,
                        original,
                        format!("extracting layer {}: {e}", desc.digest),
                    )
                },
            )?;
        }
        self.extracted.insert(key, root.clone());
        Ok(root)
    }

    fn commit_layer(
        &mut self,
        state: &mut ImageState,
        entries: Vec<LayerEntry>,
        created_by: String,
    ) -> Result<(), BuildError> {
        let opts = LayerOptions {
            compression: self.opts.compression,
            source_date_epoch: self.epoch,
        };
        let writer = self.store.blob_writer()?;
        // The filesystem view is kept current only once something needed it; otherwise it is
        // built from all layers (this one included) on first use.
        let for_view = state.fs.is_some().then(|| entries.clone());
        let (written, writer) = layer::write_layer(entries, &opts, writer)
            .map_err(|e| self.step_err(0, &created_by, e))?;
        let (digest, size) = writer.commit_expect(&written.digest)?;
        (self.on_event)(BuildEvent::Layer {
            digest: digest.clone(),
            size,
        });
        state
            .layers
            .push(Descriptor::new(written.media_type, digest, size));
        state.config.rootfs.diff_ids.push(written.diff_id);
        self.history(state, created_by, false);
        if let (Some(fs), Some(entries)) = (state.fs.as_mut(), for_view) {
            fs.apply_entries(&entries);
        }
        Ok(())
    }

    fn commit_image(&mut self, state: ImageState) -> Result<BuildResult, BuildError> {
        let mut config = state.config;
        config.created = Some(self.created.clone());
        let annotations = self.apply_metadata(
            &mut config.config.labels,
            &state.own_labels,
            state.base.as_ref(),
        );
        let config_bytes = json::to_canonical_vec(&config).map_err(|e| BuildError::Step {
            file: self.file.clone(),
            line: 0,
            instruction: "config".into(),
            message: e.to_string(),
        })?;
        let config_desc = self.store.write_blob(media::OCI_CONFIG, &config_bytes)?;
        let size = config_desc.size + state.layers.iter().map(|l| l.size).sum::<u64>();
        let layers = state.layers.len();
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.into()),
            artifact_type: None,
            config: config_desc.clone(),
            layers: state.layers,
            subject: None,
            annotations,
        };
        let manifest_bytes = json::to_canonical_vec(&manifest).map_err(|e| BuildError::Step {
            file: self.file.clone(),
            line: 0,
            instruction: "manifest".into(),
            message: e.to_string(),
        })?;
        let manifest_desc = self
            .store
            .write_blob(media::OCI_MANIFEST, &manifest_bytes)?;
        for tag in &self.opts.immutable_tags {
            match self.store.resolve(tag) {
                Ok(r) if r.descriptor.digest != manifest_desc.digest => {
                    return Err(BuildError::ImmutableTag {
                        tag: tag.clone(),
                        existing: r.descriptor.digest,
                        built: manifest_desc.digest,
                    });
                }
                Ok(_) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if self.opts.tags.is_empty() {
            self.store.add_untagged(&manifest_desc)?;
        } else {
            let refs: Vec<(&str, &Descriptor)> = self
                .opts
                .tags
                .iter()
                .map(|t| (t.as_str(), &manifest_desc))
                .collect();
            for name in self.store.set_refs(&refs)? {
                (self.on_event)(BuildEvent::Tagged { name });
            }
        }
        Ok(BuildResult {
            manifest: manifest_desc,
            config: config_desc.digest,
            size,
            layers,
            epoch: self.epoch,
            base: state.base,
            steps_run: self.steps_run,
            steps_cached: self.steps_cached,
        })
    }

    /// Applies [`BuildOptions::metadata`] to the final labels; returns the manifest annotations.
    fn apply_metadata(
        &self,
        labels: &mut BTreeMap<String, String>,
        own: &BTreeSet<String>,
        base: Option<&BaseImage>,
    ) -> BTreeMap<String, String> {
        let meta = &self.opts.metadata;
        for (k, v) in &meta.default_labels {
            if !own.contains(k) {
                labels.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in &meta.labels {
            labels.insert(k.clone(), v.clone());
        }
        if meta.base_labels == BaseLabels::Record {
            // A base from another stage's FROM or an inherited label must not survive.
            labels.remove(crate::family::provenance::BASE_NAME);
            labels.remove(crate::family::provenance::BASE_DIGEST);
            if let Some(base) = base {
                if let Some(name) = &base.name {
                    labels.insert(
                        crate::family::provenance::BASE_NAME.to_string(),
                        redact_credentials(name),
                    );
                }
                labels.insert(
                    crate::family::provenance::BASE_DIGEST.to_string(),
                    base.digest.to_string(),
                );
            }
        }
        match &meta.annotations {
            Annotations::None => BTreeMap::new(),
            Annotations::LabelsWithPrefix(prefixes) => labels
                .iter()
                .filter(|(k, _)| prefixes.iter().any(|p| k.starts_with(p.as_str())))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// What COPY and ADD share, plus ADD's own flags.
struct CopyCommon {
    sources: Vec<String>,
    heredocs: Vec<ins::HeredocSource>,
    dest: String,
    from: Option<String>,
    chown: Option<String>,
    chmod: Option<String>,
    parents: bool,
    exclude: Vec<String>,
    /// `Some` for ADD.
    add: Option<AddFlags>,
}

struct AddFlags {
    checksum: Option<String>,
    keep_git_dir: bool,
}

impl CopyCommon {
    fn from_copy(c: &ins::CopyCommand) -> Self {
        CopyCommon {
            sources: c.sources.clone(),
            heredocs: c.heredocs.clone(),
            dest: c.dest.clone(),
            from: c.from.clone(),
            chown: c.chown.clone(),
            chmod: c.chmod.clone(),
            parents: c.parents,
            exclude: c.exclude.clone(),
            add: None,
        }
    }

    fn from_add(a: &ins::AddCommand) -> Self {
        CopyCommon {
            sources: a.sources.clone(),
            heredocs: a.heredocs.clone(),
            dest: a.dest.clone(),
            from: None,
            chown: a.chown.clone(),
            chmod: a.chmod.clone(),
            parents: false,
            exclude: a.exclude.clone(),
            add: Some(AddFlags {
                checksum: a.checksum.clone(),
                keep_git_dir: a.keep_git_dir.unwrap_or(false),
            }),
        }
    }
}

fn dir_entry(path: &str, mode: u32, owner: (u64, u64)) -> LayerEntry {
    LayerEntry {
        path: path.to_string(),
        kind: EntryKind::Dir,
        mode,
        uid: owner.0,
        gid: owner.1,
        mtime: None,
        xattrs: BTreeMap::new(),
    }
}

pub use crate::credentials::redact_credentials;

/// The cache key of a COPY/ADD: the state so far, the step, and the content it copies.
fn copy_key(state_key: &Digest, step_id: &str, entries: &[LayerEntry]) -> std::io::Result<Digest> {
    let digest = content_digest(entries)?;
    Ok(cache_key(&[
        state_key.to_string().as_bytes(),
        step_id.as_bytes(),
        digest.to_string().as_bytes(),
    ]))
}

/// The key after a step: its cache key and what it produced (the top diff_id, or nothing for an
/// empty step), so a rebuilt parent with different output never matches its old children.
fn chain_output(key: &Digest, state: &ImageState) -> Digest {
    let empty = state.config.history.last().is_some_and(|h| h.empty_layer);
    let output = match (empty, state.config.rootfs.diff_ids.last()) {
        (false, Some(d)) => d.to_string(),
        _ => String::new(),
    };
    cache_key(&[key.to_string().as_bytes(), output.as_bytes()])
}

/// The PATH RUN steps get when the image sets none (Docker's default).
pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn set_mode(path: &std::path::Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

fn chown(path: &std::path::Path, uid: u32, gid: u32) -> std::io::Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
}

/// Docker layers in an OCI manifest get the equivalent OCI media type (same bytes).
fn normalize_layer_media_type(mut d: Descriptor) -> Descriptor {
    d.media_type = match d.media_type.as_str() {
        media::DOCKER_LAYER_GZIP => media::OCI_LAYER_GZIP.to_string(),
        media::DOCKER_LAYER_TAR => media::OCI_LAYER_TAR.to_string(),
        other => other.to_string(),
    };
    d
}

fn stage_index(stages: &[ins::Stage], name: &str) -> Option<usize> {
    stages.iter().position(|s| {
        s.name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

/// The stages `target` depends on (FROM another stage, COPY --from a stage), transitively.
fn needed_stages(
    stages: &[ins::Stage],
    target: usize,
    lex: &Lexer,
    global: &[(String, Option<String>)],
) -> BTreeSet<usize> {
    let env = env_of(global);
    let mut needed = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !needed.insert(i) {
            continue;
        }
        let stage = &stages[i];
        let mut refs = vec![
            lex.process_word(&stage.from.base, &env)
                .unwrap_or_else(|_| stage.from.base.clone()),
        ];
        for cmd in &stage.commands {
            match cmd {
                Command::Copy(c) => refs.extend(c.from.clone()),
                // `RUN --mount=...,from=STAGE`: the spec is still unexpanded CSV here.
                Command::Run(r) => {
                    for m in &r.mounts {
                        match m {
                            ins::RunMount::Unresolved(spec) => refs.extend(
                                spec.split(',')
                                    .filter_map(|f| f.trim().strip_prefix("from="))
                                    .map(|f| f.trim_matches('"').to_string()),
                            ),
                            ins::RunMount::Resolved(m) => refs.extend(m.from.clone()),
                        }
                    }
                }
                _ => {}
            }
        }
        for r in refs {
            if let Some(j) =
                stage_index(&stages[..i], &r).or_else(|| r.parse::<usize>().ok().filter(|j| *j < i))
            {
                todo.push(j);
            }
        }
    }
    needed
}

/// `linux/arm64/v8` → (os, arch, variant).
fn parse_platform(p: &str) -> Result<(String, String, Option<String>), String> {
    let parts: Vec<&str> = p.split('/').collect();
    match parts.as_slice() {
        [os, arch] if !os.is_empty() && !arch.is_empty() => {
            Ok((os.to_string(), arch.to_string(), None))
        }
        [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
            Ok((os.to_string(), arch.to_string(), Some(variant.to_string())))
        }
        _ => Err(format!(
            "invalid --platform={p:?}: expected os/arch[/variant], e.g. linux/amd64"
        )),
    }
}

fn env_of(vars: &[(String, Option<String>)]) -> BTreeMap<String, String> {
    vars.iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
        .collect()
}

fn set_var(vars: &mut Vec<(String, Option<String>)>, name: &str, value: Option<String>) {
    match vars.iter_mut().find(|(k, _)| k == name) {
        Some(slot) => slot.1 = value,
        None => vars.push((name.to_string(), value)),
    }
}

fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    match env
        .iter_mut()
        .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
    {
        Some(slot) => *slot = entry,
        None => env.push(entry),
    }
}

/// Shell form goes through SHELL (default `/bin/sh -c`); exec form is used as is.
fn with_shell(form: &ShellOrExec, shell: &[String]) -> Vec<String> {
    match form {
        ShellOrExec::Exec(v) => v.clone(),
        ShellOrExec::Shell(s) => {
            let mut v: Vec<String> = if shell.is_empty() {
                vec!["/bin/sh".into(), "-c".into()]
            } else {
                shell.to_vec()
            };
            v.push(s.clone());
            v
        }
    }
}

/// `["a" "b"]`, the way BuildKit writes argument lists into history (Go's `%q` of a slice).
fn go_quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| serde_json::to_string(s).unwrap_or_default())
        .collect();
    format!("[{}]", quoted.join(" "))
}

/// `80` → `80/tcp`; `8000-8002/udp` → three ports; protocol lowercased.
fn expand_port(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid protocol {proto:?} in EXPOSE {spec}"));
    }
    let parse = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("invalid port {s:?} in EXPOSE {spec}"))
    };
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let p = parse(ports)?;
            (p, p)
        }
    };
    if lo > hi {
        return Err(format!("invalid port range in EXPOSE {spec}"));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// Resolves `path` against `cwd` and cleans it (`.`/`..`/duplicate slashes), keeping it absolute.
pub fn resolve_path(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in joined.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact_credentials("ADD https://user:s3cret@example.com/f.tgz /x"),
            "ADD https://***@example.com/f.tgz /x"
        );
        assert_eq!(
            redact_credentials("ADD http://tok@h:8080 /x and https://h/y"),
            "ADD http://***@h:8080 /x and https://h/y"
        );
        assert_eq!(redact_credentials("RUN echo no urls"), "RUN echo no urls");
        assert_eq!(
            redact_credentials("git://host/repo.git#main"),
            "git://host/repo.git#main"
        );
    }

    #[test]
    fn ports() {
        assert_eq!(expand_port("80").unwrap(), ["80/tcp"]);
        assert_eq!(expand_port("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(
            expand_port("8000-8002").unwrap(),
            ["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert!(expand_port("http").is_err());
        assert!(expand_port("80/icmp").is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(resolve_path("/", "app"), "/app");
        assert_eq!(resolve_path("/app", "../srv/./x/"), "/srv/x");
        assert_eq!(resolve_path("/app", "/abs"), "/abs");
        assert_eq!(resolve_path("/", "../../.."), "/");
    }

    #[test]
    fn history_quoting_matches_buildkit() {
        assert_eq!(
            go_quote_list(&["/bin/sh".into(), "-c".into(), "echo \"hi\"".into()]),
            r#"["/bin/sh" "-c" "echo \"hi\""]"#
        );
    }

    #[test]
    fn env_replaces_existing_keys() {
        let mut env = vec!["A=1".to_string(), "B=2".to_string()];
        set_env(&mut env, "A", "3");
        set_env(&mut env, "C", "4");
        assert_eq!(env, ["A=3", "B=2", "C=4"]);
    }
}
