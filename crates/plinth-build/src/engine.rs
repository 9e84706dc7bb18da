//! The build engine: walks a Dockerfile's stages in order, keeps each stage's image state (config,
//! layers, a metadata view of its filesystem), turns COPY/ADD/WORKDIR into deterministic layers in the
//! store, applies every config instruction, and writes the target stage's config, manifest and refs.
//!
//! Invariant: nothing is referenced in the store's index until every blob of the image is in place,
//! and the whole build holds a store session so a concurrent `gc` cannot take fresh blobs away.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use plinth_dockerfile::instructions::{self as ins, Command};
use plinth_dockerfile::shell::Lexer;
use plinth_oci::layer::{self, Compression, EntryKind, FileSource, LayerEntry, LayerOptions};
use plinth_oci::store::{Store, StoreError};
use plinth_oci::types::{ContainerConfig, Descriptor, EmptyObject, Healthcheck, History, ImageConfig, Manifest, RootFs, media};
use plinth_oci::{Digest, json};
use serde::Serialize;

use crate::context::{Context, CopyOptions, OwnershipSource};
use crate::fsview::{FsView, HeaderInfo, Node, NodeKind};
use crate::{add, sde, userdb};

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
}

/// Progress and warnings, for the CLI to render.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BuildEvent {
    Start { dockerfile: String, epoch: i64, epoch_source: String, stages: usize },
    Step { stage: String, index: usize, total: usize, instruction: String },
    Layer { digest: Digest, size: u64 },
    Warning { line: Option<u32>, message: String },
    Tagged { name: String },
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
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.message)
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
    Step { file: String, line: u32, instruction: String, message: String },
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("target stage {0:?} not found in the Dockerfile (stages: {1})")]
    UnknownTarget(String, String),
    #[error(transparent)]
    Store(#[from] plinth_oci::store::StoreError),
    #[error("invalid tag: {0}")]
    Tag(#[from] plinth_oci::reference::RefError),
}

/// The platform plinth builds for (the host's; cross builds are not supported by a daemonless RUN).
fn host_platform() -> (&'static str, &'static str) {
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
pub fn build(store: &Store, opts: &BuildOptions, on_event: &mut dyn FnMut(BuildEvent)) -> Result<BuildResult, BuildError> {
    let file = opts.dockerfile.display().to_string();
    for tag in &opts.tags {
        plinth_oci::reference::normalize_ref(tag)?;
    }
    let bytes = fs_err::read(&opts.dockerfile).map_err(|e| BuildError::Read { path: opts.dockerfile.clone(), source: e })?;
    let src = String::from_utf8(bytes).map_err(|e| {
        let (line, col) = line_col(e.as_bytes(), e.utf8_error().valid_up_to());
        BuildError::Dockerfile(Diagnostic { file: file.clone(), line, col, message: "the Dockerfile is not valid UTF-8".into() })
    })?;
    let diag = |e: plinth_dockerfile::ParseError| {
        BuildError::Dockerfile(Diagnostic { file: file.clone(), line: e.line, col: e.col, message: e.message.clone() })
    };
    let df = plinth_dockerfile::parse(&src).map_err(diag)?;
    let parsed = ins::stages(&df).map_err(diag)?;
    if parsed.stages.is_empty() {
        return Err(BuildError::Dockerfile(Diagnostic { file, line: 1, col: 1, message: "no FROM instruction: a Dockerfile needs at least one stage".into() }));
    }
    let (epoch, epoch_source) = sde::resolve(opts.source_date_epoch, &opts.context);
    let _session = store.session()?;
    let mut engine = Engine {
        store,
        opts,
        file: file.clone(),
        lex: Lexer::new(df.escape),
        epoch,
        created: sde::rfc3339(epoch),
        context: None,
        used_build_args: BTreeSet::new(),
        extracted: HashMap::new(),
        tmp: tempfile::Builder::new().prefix("plinth-build-").tempdir().map_err(|e| BuildError::Read { path: std::env::temp_dir(), source: e })?,
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
    context: Option<Context>,
    used_build_args: BTreeSet<String>,
    /// Extracted root filesystems for COPY --from, by the image's last diff_id.
    extracted: HashMap<Vec<Digest>, PathBuf>,
    tmp: tempfile::TempDir,
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
}

/// A stage's variables: declared ARGs with their values.
struct Scope {
    args: Vec<(String, Option<String>)>,
}

impl<'a> Engine<'a> {
    fn run(&mut self, parsed: &ins::ParsedStages) -> Result<BuildResult, BuildError> {
        let stages = &parsed.stages;
        let target = match &self.opts.target {
            Some(t) => stages.iter().position(|s| s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(t))).ok_or_else(|| {
                let names: Vec<&str> = stages.iter().filter_map(|s| s.name.as_deref()).collect();
                BuildError::UnknownTarget(t.clone(), if names.is_empty() { "none named".into() } else { names.join(", ") })
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
            .filter(|k| !self.used_build_args.contains(*k) && !parsed.meta_args.iter().any(|a| a.names().any(|n| n == *k)))
            .collect();
        if !unused.is_empty() {
            (self.on_event)(BuildEvent::Warning { line: None, message: format!("build args were not consumed by any ARG: {}", unused.join(", ")) });
        }
        let state = built[target].take().expect("target stage was built");
        self.commit_image(state)
    }

    /// Meta ARGs (before the first FROM) with their values: `--build-arg`, else the default expanded
    /// with the ARGs before it; plus the platform ARGs BuildKit predefines.
    fn global_args(&mut self, meta: &[ins::ArgCommand]) -> Result<Vec<(String, Option<String>)>, BuildError> {
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
            for (name, default) in arg.pairs() {
                let value = match self.build_arg(name) {
                    Some(v) => Some(v),
                    None => match default {
                        Some(d) => Some(self.expand(d, &env_of(&vars), arg.line())?),
                        None => None,
                    },
                };
                set_var(&mut vars, name, value);
            }
        }
        Ok(vars)
    }

    fn build_arg(&self, name: &str) -> Option<String> {
        self.opts.build_args.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn expand(&self, word: &str, env: &BTreeMap<String, String>, line: u32) -> Result<String, BuildError> {
        self.lex.process_word(word, env).map_err(|e| BuildError::Step { file: self.file.clone(), line, instruction: word.to_string(), message: e.to_string() })
    }

    fn step_err(&self, cmd_line: u32, original: &str, message: impl std::fmt::Display) -> BuildError {
        BuildError::Step { file: self.file.clone(), line: cmd_line, instruction: original.trim().to_string(), message: message.to_string() }
    }

    fn build_stage(
        &mut self,
        index: usize,
        stage: &ins::Stage,
        global: &[(String, Option<String>)],
        stages: &[ins::Stage],
        built: &[Option<ImageState>],
    ) -> Result<ImageState, BuildError> {
        let label = stage.name.clone().unwrap_or_else(|| format!("stage-{index}"));
        let total = stage.commands.len() + 1;
        (self.on_event)(BuildEvent::Step { stage: label.clone(), index: 1, total, instruction: stage.from.original.trim().to_string() });
        let base_name = self.expand(&stage.base, &env_of(global), stage.span.line)?;
        let platform = match &stage.platform {
            Some(p) => Some(parse_platform(&self.expand(p, &env_of(global), stage.span.line)?).map_err(|m| self.step_err(stage.span.line, &stage.from.original, m))?),
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
                    stage.span.line,
                    &stage.from.original,
                    format!("{base_name} is {}/{}, not the requested --platform={os}/{arch}", state.config.os, state.config.architecture),
                ));
            }
        }
        state.cmd_set = false;
        // ONBUILD triggers of the base run first, then are cleared (BuildKit behaviour).
        let triggers = std::mem::take(&mut state.config.config.on_build);
        let mut scope = Scope { args: Vec::new() };
        for trigger in &triggers {
            let cmd = ins::parse_onbuild_trigger(trigger).map_err(|e| self.step_err(stage.span.line, trigger, format!("ONBUILD trigger from {base_name}: {}", e.message)))?;
            self.dispatch(&mut state, &mut scope, &cmd, global, stages, built)?;
        }
        for (i, cmd) in stage.commands.iter().enumerate() {
            (self.on_event)(BuildEvent::Step { stage: label.clone(), index: i + 2, total, instruction: cmd.original().trim().to_string() });
            self.dispatch(&mut state, &mut scope, cmd, global, stages, built)?;
        }
        Ok(state)
    }

    fn resolve_base(&mut self, name: &str, stage: &ins::Stage, stages: &[ins::Stage], built: &[Option<ImageState>]) -> Result<ImageState, BuildError> {
        let (os, arch) = host_platform();
        if name.eq_ignore_ascii_case("scratch") {
            return Ok(ImageState {
                config: ImageConfig { architecture: arch.into(), os: os.into(), rootfs: RootFs::default(), ..Default::default() },
                layers: Vec::new(),
                fs: Some(FsView::default()),
                cmd_set: false,
            });
        }
        if let Some(i) = stage_index(stages, name)
            && let Some(Some(s)) = built.get(i)
        {
            return Ok(s.clone());
        }
        let desc = match self.store.resolve(name) {
            Ok(r) => r.descriptor,
            Err(StoreError::NotFound { .. }) => {
                return Err(self.step_err(
                    stage.span.line,
                    &stage.from.original,
                    format!("image {name:?} is not in the store {}: build it first or `plinth load` it", self.store.path().display()),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let image = self.store.image(&desc)?;
        let mut config = image.config;
        config.created = None;
        let layers = image.manifest.layers.into_iter().map(normalize_layer_media_type).collect();
        Ok(ImageState { config, layers, fs: None, cmd_set: false })
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
        state.config.history.push(History { created: Some(self.created.clone()), created_by: Some(created_by), author: None, comment: None, empty_layer });
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
        let line = cmd.line();
        let original = cmd.original().to_string();
        let env = self.env(state, scope);
        let cmd = cmd.expand(&self.lex, &env).map_err(|e| self.step_err(line, &original, e))?;
        let cfg = &mut state.config.config;
        match &cmd {
            Command::Arg(a) => {
                let mut parts = Vec::new();
                for (name, default) in a.pairs() {
                    let value = match self.build_arg(name) {
                        Some(v) => {
                            self.used_build_args.insert(name.to_string());
                            Some(v)
                        }
                        None => match default {
                            Some(d) => Some(d.to_string()),
                            None => global.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.clone()),
                        },
                    };
                    parts.push(match default {
                        Some(d) => format!("{name}={d}"),
                        None => name.to_string(),
                    });
                    set_var(&mut scope.args, name, value);
                }
                self.history(state, format!("ARG {}", parts.join(" ")), true);
            }
            Command::Env(e) => {
                for (k, v) in e.pairs() {
                    set_env(&mut cfg.env, k, v);
                }
                let text = e.pairs().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
                self.history(state, format!("ENV {text}"), true);
            }
            Command::Label(l) => {
                for (k, v) in l.pairs() {
                    cfg.labels.insert(k.to_string(), v.to_string());
                }
                let text = l.pairs().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
                self.history(state, format!("LABEL {text}"), true);
            }
            Command::Maintainer(m) => {
                state.config.author = Some(m.name().to_string());
                self.history(state, format!("MAINTAINER {}", m.name()), true);
            }
            Command::User(u) => {
                cfg.user = Some(u.user().to_string());
                self.history(state, format!("USER {}", u.user()), true);
            }
            Command::Expose(e) => {
                let mut ports = Vec::new();
                for p in e.ports() {
                    for port in expand_port(p).map_err(|m| self.step_err(line, &original, m))? {
                        cfg.exposed_ports.insert(port.clone(), EmptyObject {});
                        ports.push(port);
                    }
                }
                self.history(state, format!("EXPOSE {}", ports.join(" ")), true);
            }
            Command::Volume(v) => {
                for p in v.paths() {
                    if p.is_empty() {
                        return Err(self.step_err(line, &original, "VOLUME specified can not be an empty string"));
                    }
                    cfg.volumes.insert(p.to_string(), EmptyObject {});
                }
                self.history(state, format!("VOLUME [{}]", v.paths().join(" ")), true);
            }
            Command::StopSignal(s) => {
                cfg.stop_signal = Some(s.signal().to_string());
                self.history(state, format!("STOPSIGNAL {}", s.signal()), true);
            }
            Command::Shell(s) => {
                cfg.shell = s.shell().to_vec();
                self.history(state, format!("SHELL {}", go_quote_list(s.shell())), true);
            }
            Command::Cmd(c) => {
                let args = with_shell(c.form(), &cfg.shell);
                self.history(state, format!("CMD {}", go_quote_list(&args)), true);
                state.config.config.cmd = Some(args);
                state.cmd_set = true;
            }
            Command::Entrypoint(c) => {
                let args = with_shell(c.form(), &cfg.shell);
                self.history(state, format!("ENTRYPOINT {}", go_quote_list(&args)), true);
                let cfg = &mut state.config.config;
                cfg.entrypoint = Some(args);
                if !state.cmd_set {
                    cfg.cmd = None;
                }
            }
            Command::Healthcheck(h) => {
                let hc = match h.test() {
                    None => Healthcheck { test: vec!["NONE".into()], ..Default::default() },
                    Some(form) => {
                        let test = match form {
                            ins::ShellOrExec::Shell(s) => vec!["CMD-SHELL".to_string(), s.clone()],
                            ins::ShellOrExec::Exec(v) => std::iter::once("CMD".to_string()).chain(v.iter().cloned()).collect(),
                        };
                        Healthcheck {
                            test,
                            interval: h.interval_ns(),
                            timeout: h.timeout_ns(),
                            start_period: h.start_period_ns(),
                            start_interval: h.start_interval_ns(),
                            retries: h.retries(),
                        }
                    }
                };
                cfg.healthcheck = Some(hc);
                self.history(state, original.trim().to_string(), true);
            }
            Command::Onbuild(o) => {
                cfg.on_build.push(o.expression().to_string());
                self.history(state, format!("ONBUILD {}", o.expression()), true);
            }
            Command::Workdir(w) => {
                let dir = resolve_path(cfg.working_dir.as_deref().unwrap_or("/"), w.path());
                cfg.working_dir = Some(dir.clone());
                self.workdir(state, &dir, line, &original)?;
            }
            Command::Run(_) => {
                return Err(self.step_err(
                    line,
                    &original,
                    "RUN needs plinth's build sandbox, which this build of plinth does not include; build images without RUN, or use a plinth with the sandbox",
                ));
            }
            Command::Copy(c) => self.copy(state, CopyKind::Copy(c), line, &original, stages, built)?,
            Command::Add(a) => self.copy(state, CopyKind::Add(a), line, &original, stages, built)?,
        }
        Ok(())
    }

    fn fs<'s>(&self, state: &'s mut ImageState) -> Result<&'s mut FsView, BuildError> {
        if state.fs.is_none() {
            let mut view = FsView::default();
            for desc in &state.layers {
                let blob = self.store.open_blob(&desc.digest)?;
                let entries = layer::read_layer_entries(std::io::BufReader::new(blob), &desc.media_type)
                    .map_err(|e| BuildError::Step { file: self.file.clone(), line: 0, instruction: "FROM".into(), message: format!("reading layer {}: {e}", desc.digest) })?;
                let headers: Vec<HeaderInfo> = entries.iter().map(header_info).collect();
                view.apply_tar_layer(&headers);
            }
            state.fs = Some(view);
        }
        Ok(state.fs.as_mut().expect("set above"))
    }

    /// Reads a regular file from the image's layers (top layer first), e.g. /etc/passwd.
    fn read_image_file(&self, state: &ImageState, path: &str) -> Result<Option<Vec<u8>>, BuildError> {
        let want = path.trim_start_matches('/');
        for desc in state.layers.iter().rev() {
            let blob = self.store.open_blob(&desc.digest)?;
            match layer::read_layer_file(std::io::BufReader::new(blob), &desc.media_type, want) {
                Ok(layer::FileLookup::Found(bytes)) => return Ok(Some(bytes)),
                Ok(layer::FileLookup::Deleted) => return Ok(None),
                Ok(layer::FileLookup::Absent) => continue,
                Err(e) => {
                    return Err(BuildError::Step { file: self.file.clone(), line: 0, instruction: String::new(), message: format!("reading {path} from layer {}: {e}", desc.digest) });
                }
            }
        }
        Ok(None)
    }

    fn resolve_owner(&self, state: &ImageState, spec: &str, line: u32, original: &str) -> Result<(u64, u64), BuildError> {
        let passwd = self.read_image_file(state, "/etc/passwd")?;
        let group = self.read_image_file(state, "/etc/group")?;
        userdb::resolve(spec, passwd.as_deref(), group.as_deref()).map_err(|e| self.step_err(line, original, e))
    }

    fn workdir(&mut self, state: &mut ImageState, dir: &str, line: u32, original: &str) -> Result<(), BuildError> {
        let rel = dir.trim_start_matches('/').to_string();
        if rel.is_empty() {
            self.history(state, format!("WORKDIR {dir}"), true);
            return Ok(());
        }
        let exists = self.fs(state)?.get(&rel).is_some_and(|n| n.kind == NodeKind::Dir);
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

    fn copy(&mut self, state: &mut ImageState, kind: CopyKind<'_>, line: u32, original: &str, stages: &[ins::Stage], built: &[Option<ImageState>]) -> Result<(), BuildError> {
        let c = kind.common();
        let chown = match c.chown.as_deref().filter(|s| !s.is_empty()) {
            Some(spec) => Some(self.resolve_owner(state, spec, line, original)?),
            None => None,
        };
        let chmod = match c.chmod.as_deref().filter(|s| !s.is_empty()) {
            Some(m) => Some(u32::from_str_radix(m, 8).ok().filter(|m| *m <= 0o7777).ok_or_else(|| self.step_err(line, original, format!("invalid --chmod={m}: expected an octal mode like 0755")))?),
            None => None,
        };
        let workdir = state.config.config.working_dir.clone().unwrap_or_else(|| "/".into());
        let dest = c.dest.clone();
        let copy_opts = CopyOptions { chown, chmod, parents: c.parents, excludes: c.exclude.clone(), workdir: workdir.clone() };
        let mut entries: Vec<LayerEntry> = Vec::new();
        let mut warnings = Vec::new();

        // Heredoc sources become files named after the heredoc.
        for h in &c.heredocs {
            let path = crate::context::heredoc_dest(&dest, &h.name, &workdir);
            entries.push(LayerEntry {
                path,
                kind: EntryKind::File(FileSource::Bytes(h.body.clone().into_bytes().into())),
                mode: chmod.unwrap_or(0o644),
                uid: chown.map_or(0, |o| o.0),
                gid: chown.map_or(0, |o| o.1),
                mtime: None,
                xattrs: BTreeMap::new(),
            });
        }

        if !c.sources.is_empty() {
            match &c.from {
                Some(from) => {
                    let root = self.source_root(from, stages, built, line, original)?;
                    let ctx = Context::open_dir(&root, OwnershipSource::FromDisk).map_err(|e| self.step_err(line, original, e))?;
                    entries.extend(ctx.copy_entries(&c.sources, &dest, &copy_opts).map_err(|e| self.step_err(line, original, e))?);
                }
                None => {
                    if self.context.is_none() {
                        self.context = Some(Context::open(&self.opts.context, &self.opts.dockerfile).map_err(|e| self.step_err(line, original, e))?);
                    }
                    let ctx = self.context.as_ref().expect("opened above");
                    match kind {
                        CopyKind::Copy(_) => entries.extend(ctx.copy_entries(&c.sources, &dest, &copy_opts).map_err(|e| self.step_err(line, original, e))?),
                        CopyKind::Add(a) => {
                            let tmp = self.tmp.path().join(format!("add-{}", entries.len() + self.extracted.len() + line as usize));
                            let out = add::add_entries(ctx, &c.sources, &dest, &copy_opts, &add::AddOptions { checksum: a.checksum.clone(), keep_git_dir: a.keep_git_dir, scratch: tmp })
                                .map_err(|e| self.step_err(line, original, e))?;
                            warnings.extend(out.warnings);
                            entries.extend(out.entries);
                        }
                    }
                }
            }
        }
        for w in warnings {
            (self.on_event)(BuildEvent::Warning { line: Some(line), message: w.to_string() });
        }
        // Parents of everything copied: existing ones keep their metadata, missing ones are created.
        let fs = self.fs(state)?;
        let have: BTreeSet<String> = entries.iter().map(|e| e.path.clone()).collect();
        let mut parents: BTreeMap<String, LayerEntry> = BTreeMap::new();
        for e in &entries {
            let mut p = e.path.as_str();
            while let Some(i) = p.rfind('/') {
                p = &p[..i];
                if have.contains(p) || parents.contains_key(p) {
                    continue;
                }
                let entry = match fs.get(p) {
                    Some(n) if n.kind == NodeKind::Dir => dir_entry(p, n.mode, (n.uid, n.gid)),
                    _ => dir_entry(p, 0o755, chown.unwrap_or((0, 0))),
                };
                parents.insert(p.to_string(), entry);
            }
        }
        // Directories the copy names that already exist keep the existing metadata unless chown/chmod.
        for e in &mut entries {
            if matches!(e.kind, EntryKind::Dir)
                && let Some(Node { kind: NodeKind::Dir, mode, uid, gid }) = fs.get(&e.path).copied()
                && chown.is_none()
                && chmod.is_none()
                && !e.path.is_empty()
                && dest_dir_path(&dest, &workdir) == e.path
            {
                e.mode = mode;
                e.uid = uid;
                e.gid = gid;
            }
        }
        entries.extend(parents.into_values());
        self.commit_layer(state, entries, original.trim().to_string())
    }

    /// The root filesystem of `COPY --from=X`: a stage (name or index) or an image in the store,
    /// extracted once per build into a temporary directory.
    fn source_root(&mut self, from: &str, stages: &[ins::Stage], built: &[Option<ImageState>], line: u32, original: &str) -> Result<PathBuf, BuildError> {
        let layers = match stage_index(stages, from).or_else(|| from.parse::<usize>().ok().filter(|i| *i < stages.len())) {
            Some(i) => match built.get(i) {
                Some(Some(s)) => s.layers.clone(),
                _ => return Err(self.step_err(line, original, format!("COPY --from={from}: that stage comes later or was not built"))),
            },
            None => {
                let desc = match self.store.resolve(from) {
                    Ok(r) => r.descriptor,
                    Err(StoreError::NotFound { .. }) => {
                        return Err(self.step_err(line, original, format!("COPY --from={from}: no stage has that name and the image is not in the store")));
                    }
                    Err(e) => return Err(e.into()),
                };
                self.store.image(&desc)?.manifest.layers.into_iter().map(normalize_layer_media_type).collect()
            }
        };
        let key: Vec<Digest> = layers.iter().map(|d| d.digest.clone()).collect();
        if let Some(p) = self.extracted.get(&key) {
            return Ok(p.clone());
        }
        let root = self.tmp.path().join(format!("from-{}", self.extracted.len()));
        fs_err::create_dir_all(&root).map_err(|e| self.step_err(line, original, e))?;
        for desc in &layers {
            let blob = self.store.open_blob(&desc.digest)?;
            layer::extract_layer(std::io::BufReader::new(blob), &desc.media_type, &root).map_err(|e| self.step_err(line, original, format!("extracting layer {}: {e}", desc.digest)))?;
        }
        self.extracted.insert(key, root.clone());
        Ok(root)
    }

    fn commit_layer(&mut self, state: &mut ImageState, entries: Vec<LayerEntry>, created_by: String) -> Result<(), BuildError> {
        let opts = LayerOptions { compression: self.opts.compression, source_date_epoch: self.epoch };
        let writer = self.store.blob_writer()?;
        let (written, writer) = layer::write_layer(entries.clone(), &opts, writer).map_err(|e| BuildError::Step { file: self.file.clone(), line: 0, instruction: created_by.clone(), message: e.to_string() })?;
        let (digest, size) = writer.commit()?;
        debug_assert_eq!(digest, written.digest);
        (self.on_event)(BuildEvent::Layer { digest: digest.clone(), size });
        state.layers.push(Descriptor::new(written.media_type, digest, size));
        state.config.rootfs.diff_ids.push(written.diff_id);
        self.history(state, created_by, false);
        self.fs(state)?.apply_entries(&entries);
        Ok(())
    }

    fn commit_image(&mut self, state: ImageState) -> Result<BuildResult, BuildError> {
        let mut config = state.config;
        config.created = Some(self.created.clone());
        let config_bytes = json::to_canonical_vec(&config).map_err(|e| BuildError::Step { file: self.file.clone(), line: 0, instruction: "config".into(), message: e.to_string() })?;
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
            annotations: BTreeMap::new(),
        };
        let manifest_bytes = json::to_canonical_vec(&manifest).map_err(|e| BuildError::Step { file: self.file.clone(), line: 0, instruction: "manifest".into(), message: e.to_string() })?;
        let manifest_desc = self.store.write_blob(media::OCI_MANIFEST, &manifest_bytes)?;
        if self.opts.tags.is_empty() {
            self.store.add_untagged(&manifest_desc)?;
        } else {
            let refs: Vec<(&str, &Descriptor)> = self.opts.tags.iter().map(|t| (t.as_str(), &manifest_desc)).collect();
            for name in self.store.set_refs(&refs)? {
                (self.on_event)(BuildEvent::Tagged { name });
            }
        }
        Ok(BuildResult { manifest: manifest_desc, config: config_desc.digest, size, layers, epoch: self.epoch })
    }
}

enum CopyKind<'c> {
    Copy(&'c ins::CopyCommand),
    Add(&'c ins::AddCommand),
}

impl CopyKind<'_> {
    fn common(&self) -> &ins::CopyCommon {
        match self {
            CopyKind::Copy(c) => &c.common,
            CopyKind::Add(a) => &a.common,
        }
    }
}

fn header_info(e: &layer::LayerEntryInfo) -> HeaderInfo {
    let kind = match e.kind {
        layer::InfoKind::Dir => NodeKind::Dir,
        layer::InfoKind::File | layer::InfoKind::Hardlink => NodeKind::File,
        layer::InfoKind::Symlink => NodeKind::Symlink,
        _ => NodeKind::Other,
    };
    HeaderInfo { path: e.path.clone(), node: Node { kind, mode: e.mode, uid: e.uid, gid: e.gid } }
}

fn dir_entry(path: &str, mode: u32, owner: (u64, u64)) -> LayerEntry {
    LayerEntry { path: path.to_string(), kind: EntryKind::Dir, mode, uid: owner.0, gid: owner.1, mtime: None, xattrs: BTreeMap::new() }
}

/// The path of the destination directory of a COPY (relative to the root), for metadata decisions.
fn dest_dir_path(dest: &str, workdir: &str) -> String {
    resolve_path(workdir, dest).trim_start_matches('/').trim_end_matches('/').to_string()
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
    stages.iter().position(|s| s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
}

/// The stages `target` depends on (FROM another stage, COPY --from a stage), transitively.
fn needed_stages(stages: &[ins::Stage], target: usize, lex: &Lexer, global: &[(String, Option<String>)]) -> BTreeSet<usize> {
    let env = env_of(global);
    let mut needed = BTreeSet::new();
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if !needed.insert(i) {
            continue;
        }
        let stage = &stages[i];
        let mut refs = vec![lex.process_word(&stage.base, &env).unwrap_or_else(|_| stage.base.clone())];
        for cmd in &stage.commands {
            refs.extend(cmd.stage_refs());
        }
        for r in refs {
            if let Some(j) = stage_index(&stages[..i], &r).or_else(|| r.parse::<usize>().ok().filter(|j| *j < i)) {
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
        [os, arch] if !os.is_empty() && !arch.is_empty() => Ok((os.to_string(), arch.to_string(), None)),
        [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => Ok((os.to_string(), arch.to_string(), Some(variant.to_string()))),
        _ => Err(format!("invalid --platform={p:?}: expected os/arch[/variant], e.g. linux/amd64")),
    }
}

fn env_of(vars: &[(String, Option<String>)]) -> BTreeMap<String, String> {
    vars.iter().filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone()))).collect()
}

fn set_var(vars: &mut Vec<(String, Option<String>)>, name: &str, value: Option<String>) {
    match vars.iter_mut().find(|(k, _)| k == name) {
        Some(slot) => slot.1 = value,
        None => vars.push((name.to_string(), value)),
    }
}

fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let entry = format!("{key}={value}");
    match env.iter_mut().find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key) {
        Some(slot) => *slot = entry,
        None => env.push(entry),
    }
}

/// Shell form goes through SHELL (default `/bin/sh -c`); exec form is used as is.
fn with_shell(form: &ins::ShellOrExec, shell: &[String]) -> Vec<String> {
    match form {
        ins::ShellOrExec::Exec(v) => v.clone(),
        ins::ShellOrExec::Shell(s) => {
            let mut v: Vec<String> = if shell.is_empty() { vec!["/bin/sh".into(), "-c".into()] } else { shell.to_vec() };
            v.push(s.clone());
            v
        }
    }
}

/// `["a" "b"]`, the way BuildKit writes argument lists into history (Go's `%q` of a slice).
fn go_quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| serde_json::to_string(s).unwrap_or_default()).collect();
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
    let parse = |s: &str| s.parse::<u16>().map_err(|_| format!("invalid port {s:?} in EXPOSE {spec}"));
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
    let joined = if path.starts_with('/') { path.to_string() } else { format!("{cwd}/{path}") };
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
    fn ports() {
        assert_eq!(expand_port("80").unwrap(), ["80/tcp"]);
        assert_eq!(expand_port("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(expand_port("8000-8002").unwrap(), ["8000/tcp", "8001/tcp", "8002/tcp"]);
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
        assert_eq!(go_quote_list(&["/bin/sh".into(), "-c".into(), "echo \"hi\"".into()]), r#"["/bin/sh" "-c" "echo \"hi\""]"#);
    }

    #[test]
    fn env_replaces_existing_keys() {
        let mut env = vec!["A=1".to_string(), "B=2".to_string()];
        set_env(&mut env, "A", "3");
        set_env(&mut env, "C", "4");
        assert_eq!(env, ["A=3", "B=2", "C=4"]);
    }
}
