//! `plinth lint`: finds the Dockerfiles (the paths given, stdin, or the family's), reads the lint
//! configuration (plinth.toml `[lint]` or `.plinth-lint.toml`, over `.hadolint.yaml`), runs
//! plinth-lint's rules with each Dockerfile's directory as its build context, runs ShellCheck on
//! RUN scripts when it is installed, renders the report and sets the exit status.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::{Component, Path, PathBuf};
use std::process::{ExitCode, Stdio};

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use plinth_lint::report::{self, Color, FileReport, Format};
use plinth_lint::{ContextFiles, Finding, LintConfig, Severity};

use crate::cli::UsageError;

const AFTER_HELP: &str = "\
Configuration (--config FILE replaces the discovery): in the project's directory (that of the
nearest plinth.toml, else the current directory) plinth reads plinth.toml's [lint] table, or
.plinth-lint.toml (the same keys at top level) when plinth.toml has none, and .hadolint.yaml or
.hadolint.yml. Both apply; where both set something, plinth's setting wins. --ignore and
--failure-threshold win over both. The tty format says on stderr which files were read.

  [lint]
  ignored = [\"DL3008\"]
  failure-threshold = \"warning\"
  severity = { DL3059 = \"error\", PL001 = \"off\" }

Inline comments: `# hadolint ignore=DL3008,SC2086` (or `# plinth ignore=...`) on the lines right
above an instruction; `# hadolint global ignore=...` for the whole file.

ShellCheck: each shell-form RUN (or heredoc script) is checked with the stage's SHELL (sh, bash,
dash, ksh) when `shellcheck` is on PATH (PLINTH_SHELLCHECK names another program); its findings
are SC codes at the RUN's line.

Examples:
  plinth lint                         every image of the family (plinth.toml [family])
  plinth lint Dockerfile tools/       these Dockerfiles (tools/ means tools/Dockerfile)
  cat Dockerfile | plinth lint -      a Dockerfile on stdin
  plinth lint --format sarif > lint.sarif   for code scanning
  plinth lint --failure-threshold error --ignore DL3008";

#[derive(Debug, Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct LintArgs {
    /// Dockerfiles, directories holding a file named Dockerfile, or `-` for stdin [default: the
    /// Dockerfile of every image of the family in plinth.toml, else ./Dockerfile].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Output: tty (annotated source), json (hadolint's), sarif, checkstyle, junit, or gitlab
    /// (Code Quality).
    #[arg(long, value_enum, default_value_t = LintFormat::Tty)]
    pub format: LintFormat,
    /// Exit 1 when a finding is at this level or worse (error, warning, info, style), or never
    /// (none) [default: the configuration's, else info].
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub failure_threshold: Option<Threshold>,
    /// Do not report this rule code (repeatable), e.g. --ignore DL3008 --ignore SC2086.
    #[arg(long = "ignore", value_name = "CODE")]
    pub ignore: Vec<String>,
    /// The lint configuration instead of the discovered ones: a plinth.toml (its [lint] table;
    /// also the family to lint), a TOML file like .plinth-lint.toml, or a .hadolint.yaml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Colours in the tty format.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    Tty,
    Json,
    Sarif,
    Checkstyle,
    Junit,
    Gitlab,
}

impl From<LintFormat> for Format {
    fn from(f: LintFormat) -> Format {
        match f {
            LintFormat::Tty => Format::Tty,
            LintFormat::Json => Format::Json,
            LintFormat::Sarif => Format::Sarif,
            LintFormat::Checkstyle => Format::Checkstyle,
            LintFormat::Junit => Format::Junit,
            LintFormat::Gitlab => Format::Gitlab,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Threshold {
    Error,
    Warning,
    Info,
    Style,
    /// Findings never fail the run.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    /// When stdout is a terminal and NO_COLOR is not set.
    Auto,
    Always,
    Never,
}

/// Where a Dockerfile comes from.
enum Source {
    Stdin,
    File(PathBuf),
}

/// A Dockerfile to lint and how the report names it.
struct Target {
    shown: String,
    source: Source,
}

/// The configuration in effect and where it came from.
struct Loaded {
    config: LintConfig,
    /// The level at which findings fail the run (`None`: never).
    fail_at: Option<Severity>,
    /// The files read, for the tty format's note.
    read: Vec<String>,
    /// Notes about settings without effect.
    notes: Vec<String>,
}

pub fn lint(args: LintArgs) -> Result<ExitCode> {
    let project_config = args
        .config
        .as_deref()
        .filter(|p| p.file_name().is_some_and(|n| n == "plinth.toml"));
    let project = crate::family::find_project(project_config)?;
    let loaded = load_config(&args, project.as_ref())?;
    let targets = targets(project.as_ref(), &args.paths)?;
    let tty = args.format == LintFormat::Tty;
    if tty {
        if !loaded.read.is_empty() {
            eprintln!("plinth lint: configuration from {}", loaded.read.join(", "));
        }
        for note in &loaded.notes {
            eprintln!("plinth lint: {note}");
        }
    }

    let mut texts: Vec<(String, String)> = Vec::new();
    let mut results: Vec<Vec<Finding>> = Vec::new();
    let mut parse_errors: Vec<String> = Vec::new();
    for target in &targets {
        let text = read_target(target)?;
        let context = match &target.source {
            Source::File(p) => DirContext::of(p),
            Source::Stdin => DirContext { root: None },
        };
        match plinth_lint::lint(&target.shown, &text, &loaded.config, &context) {
            Ok(found) => {
                results.push(found);
                texts.push((target.shown.clone(), text));
            }
            Err(e) => parse_errors.push(e.to_string()),
        }
    }
    // ShellCheck: one process for every RUN script of every file.
    let mut shellcheck = ShellCheck::new();
    let scripts: Vec<Vec<plinth_lint::shellcheck::Script>> = texts
        .iter()
        .map(|(path, text)| plinth_lint::shellcheck::scripts(path, text).unwrap_or_default())
        .collect();
    let checked = shellcheck.check_all(&scripts);
    for (((_, text), found), sc) in texts.iter().zip(&mut results).zip(checked) {
        found.extend(plinth_lint::shellcheck::filter(text, &loaded.config, sc));
        found.sort_by(|a, b| (a.line, a.column, &a.code).cmp(&(b.line, b.column, &b.code)));
    }
    if tty && let Some(note) = shellcheck.note() {
        eprintln!("plinth lint: {note}");
    }

    let reports: Vec<FileReport<'_>> = texts
        .iter()
        .zip(&results)
        .map(|((path, text), findings)| FileReport {
            path,
            text,
            findings,
        })
        .collect();
    let color = match args.color {
        ColorArg::Always => Color::Always,
        ColorArg::Never => Color::Never,
        ColorArg::Auto => {
            if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
                Color::Always
            } else {
                Color::Never
            }
        }
    };
    // A tty report of nothing but parse errors would only say "no findings in 0 files".
    let out = if reports.is_empty() && !parse_errors.is_empty() && tty {
        String::new()
    } else {
        report::render(args.format.into(), &reports, color)
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;

    if !parse_errors.is_empty() {
        return Err(UsageError(parse_errors.join("\n")).into());
    }
    let failed = loaded
        .fail_at
        .is_some_and(|at| results.iter().flatten().any(|f| f.severity.reaches(at)));
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn usage(message: String) -> anyhow::Error {
    UsageError(format!("error: {message}")).into()
}

/// A plinth lint TOML file (`.plinth-lint.toml`, or a `--config` TOML that is not plinth.toml).
fn read_plinth_toml(path: &Path) -> Result<LintConfig> {
    let text = fs_err::read_to_string(path)?;
    toml::from_str(&text).map_err(|e| usage(format!("{}: {e}", path.display())))
}

fn read_hadolint(path: &Path) -> Result<plinth_lint::hadolint::HadolintFile> {
    let text = fs_err::read_to_string(path)?;
    plinth_lint::hadolint::parse(&text).map_err(|e| usage(format!("{}: {e}", path.display())))
}

/// What a build makes or provides itself: the built-in `plinth-init` context and, in a
/// project, its named contexts, the family's images (by name and under the family's
/// registry/namespace) and the OCI labels it sets from plinth.toml and git.
fn built_here(project: Option<&plinth_build::project::Project>) -> plinth_lint::BuiltHere {
    let mut images = vec![crate::init_context::NAME.to_string()];
    let mut labels = Vec::new();
    let Some(project) = project else {
        return plinth_lint::BuiltHere { images, labels };
    };
    images.extend(project.file.contexts.keys().cloned());
    if let Some(family) = &project.file.family {
        let prefix = family.prefix();
        for image in project.family_images().unwrap_or_default() {
            if let Some(p) = &prefix {
                images.push(format!("{}/{}", p.trim_end_matches('/'), image.name));
            }
            images.push(image.name);
        }
        labels = [
            "created",
            "revision",
            "source",
            "version",
            "title",
            "description",
            "vendor",
            "licenses",
            "url",
            "documentation",
        ]
        .iter()
        .map(|k| format!("org.opencontainers.image.{k}"))
        .collect();
    }
    plinth_lint::BuiltHere { images, labels }
}

/// The configuration: discovered (or --config), merged, with the command line's settings.
fn load_config(
    args: &LintArgs,
    project: Option<&plinth_build::project::Project>,
) -> Result<Loaded> {
    let mut read = Vec::new();
    let mut notes = Vec::new();
    let mut hadolint: Option<plinth_lint::hadolint::HadolintFile> = None;
    let mut plinth: Option<LintConfig> = None;
    let shown = |p: &Path| p.display().to_string();
    match &args.config {
        Some(path) => {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if !path.is_file() {
                return Err(usage(format!("--config {}: no such file", path.display())));
            }
            if name == "plinth.toml" {
                plinth = Some(
                    project
                        .and_then(|p| p.file.lint.clone())
                        .unwrap_or_default(),
                );
                read.push(format!("{} [lint]", shown(path)));
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                hadolint = Some(read_hadolint(path)?);
                read.push(shown(path));
            } else {
                plinth = Some(read_plinth_toml(path)?);
                read.push(shown(path));
            }
        }
        None => {
            let dir = match project {
                Some(p) => p.dir().to_path_buf(),
                None => std::env::current_dir()?,
            };
            let relative = |p: &Path| -> String {
                let cwd = std::env::current_dir().unwrap_or_default();
                p.strip_prefix(&cwd).unwrap_or(p).display().to_string()
            };
            if let Some(lint) = project.and_then(|p| p.file.lint.clone()) {
                if let Some(p) = project {
                    read.push(format!("{} [lint]", relative(&p.path)));
                }
                plinth = Some(lint);
            } else {
                let f = dir.join(".plinth-lint.toml");
                if f.is_file() {
                    plinth = Some(read_plinth_toml(&f)?);
                    read.push(relative(&f));
                }
            }
            for name in [".hadolint.yaml", ".hadolint.yml"] {
                let f = dir.join(name);
                if f.is_file() {
                    hadolint = Some(read_hadolint(&f)?);
                    read.push(relative(&f));
                    break;
                }
            }
        }
    }
    if let Some(h) = &hadolint
        && !h.without_effect.is_empty()
    {
        notes.push(format!(
            "hadolint settings without effect in plinth: {}",
            h.without_effect.join(", ")
        ));
    }
    let plinth_threshold = plinth.as_ref().and_then(|c| c.failure_threshold);
    let hadolint_no_fail = hadolint.as_ref().is_some_and(|h| h.no_fail);
    let mut config = match (hadolint, plinth) {
        (Some(h), Some(p)) => plinth_lint::hadolint::merge(h.config, p),
        (Some(h), None) => h.config,
        (None, Some(p)) => p,
        (None, None) => LintConfig::default(),
    };
    config.built_here = built_here(project);
    for code in &args.ignore {
        for code in code.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if !config.ignored.iter().any(|c| c == code) {
                config.ignored.push(code.to_string());
            }
        }
    }
    let fail_at = match args.failure_threshold {
        Some(Threshold::None) => None,
        Some(Threshold::Error) => Some(Severity::Error),
        Some(Threshold::Warning) => Some(Severity::Warning),
        Some(Threshold::Info) => Some(Severity::Info),
        Some(Threshold::Style) => Some(Severity::Style),
        None if plinth_threshold.is_none() && hadolint_no_fail => None,
        None => Some(config.threshold()),
    };
    Ok(Loaded {
        config,
        fail_at,
        read,
        notes,
    })
}

/// The Dockerfiles to lint: the given paths (a directory means its `Dockerfile`, `-` stdin),
/// each once; or every family image's Dockerfile; or ./Dockerfile.
fn targets(
    project: Option<&plinth_build::project::Project>,
    paths: &[PathBuf],
) -> Result<Vec<Target>> {
    if paths.is_empty() {
        if let Some(project) = project
            && project.file.family.is_some()
        {
            let images = project
                .family_images()
                .map_err(|e| UsageError(format!("error: {e}")))?;
            let cwd = std::env::current_dir()?;
            return Ok(images
                .into_iter()
                .map(|i| Target {
                    shown: i
                        .dockerfile
                        .strip_prefix(&cwd)
                        .unwrap_or(&i.dockerfile)
                        .display()
                        .to_string(),
                    source: Source::File(i.dockerfile),
                })
                .collect());
        }
        if Path::new("Dockerfile").is_file() {
            return Ok(vec![Target {
                shown: "Dockerfile".into(),
                source: Source::File(PathBuf::from("Dockerfile")),
            }]);
        }
        return Err(usage(format!(
            "no Dockerfile to lint: give PATHs (plinth lint Dockerfile), or run in a family repository (plinth.toml [family]) or a directory with a Dockerfile; {} has neither",
            std::env::current_dir()?.display()
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut stdin_used = false;
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            if stdin_used {
                return Err(usage("`-` (stdin) is given twice".into()));
            }
            stdin_used = true;
            out.push(Target {
                shown: "-".into(),
                source: Source::Stdin,
            });
            continue;
        }
        let file = if p.is_dir() {
            let f = p.join("Dockerfile");
            if !f.is_file() {
                return Err(usage(format!(
                    "{}: the directory has no file named Dockerfile",
                    p.display()
                )));
            }
            f
        } else if p.is_file() {
            p.clone()
        } else {
            return Err(usage(format!(
                "{}: no such Dockerfile or directory",
                p.display()
            )));
        };
        let canonical = fs_err::canonicalize(&file)?;
        if seen.insert(canonical) {
            out.push(Target {
                shown: file.display().to_string(),
                source: Source::File(file),
            });
        }
    }
    Ok(out)
}

fn read_target(target: &Target) -> Result<String> {
    let bytes = match &target.source {
        Source::Stdin => {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .context("reading the Dockerfile from stdin")?;
            b
        }
        Source::File(p) => fs_err::read(p)?,
    };
    String::from_utf8(bytes).map_err(|_| usage(format!("{}: not UTF-8 text", target.shown)))
}

/// The largest context file a rule may read.
const CONTEXT_FILE_LIMIT: u64 = 1 << 20;

/// The build context of a Dockerfile: its directory (none for stdin). Only text files under
/// the directory are read, up to [`CONTEXT_FILE_LIMIT`] bytes.
struct DirContext {
    root: Option<PathBuf>,
}

impl DirContext {
    fn of(dockerfile: &Path) -> DirContext {
        let dir = dockerfile
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        DirContext {
            root: std::fs::canonicalize(dir).ok(),
        }
    }
}

impl ContextFiles for DirContext {
    fn read(&self, path: &str) -> Option<String> {
        let root = self.root.as_ref()?;
        let rel = Path::new(path);
        if path.is_empty()
            || rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return None;
        }
        // Symbolic links must not lead out of the context either.
        let full = std::fs::canonicalize(root.join(rel)).ok()?;
        if !full.starts_with(root) {
            return None;
        }
        let meta = std::fs::metadata(&full).ok()?;
        if !meta.is_file() || meta.len() > CONTEXT_FILE_LIMIT {
            return None;
        }
        let bytes = std::fs::read(&full).ok()?;
        if bytes.contains(&0) {
            return None;
        }
        String::from_utf8(bytes).ok()
    }
}

/// Where `program` is: itself when it names a path, else the first executable file of that
/// name in PATH.
fn locate(program: &std::ffi::OsStr) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let p = Path::new(program);
    if p.components().count() > 1 {
        return executable(p).then(|| p.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(p))
        .find(|c| executable(c))
}

/// A script and the index of the file it comes from.
type ScriptOf<'a> = (usize, &'a plinth_lint::shellcheck::Script);

/// Running ShellCheck, if it is there.
struct ShellCheck {
    program: std::ffi::OsString,
    state: ShellCheckState,
}

#[derive(Debug, PartialEq, Eq)]
enum ShellCheckState {
    /// Not tried yet, or it ran.
    Usable,
    /// Not installed.
    Missing,
    /// It ran and failed (the message).
    Failed(String),
}

impl ShellCheck {
    fn new() -> ShellCheck {
        ShellCheck {
            program: std::env::var_os("PLINTH_SHELLCHECK")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "shellcheck".into()),
            state: ShellCheckState::Usable,
        }
    }

    /// What to tell a person once, if ShellCheck did not run.
    fn note(&self) -> Option<String> {
        match &self.state {
            ShellCheckState::Usable => None,
            ShellCheckState::Missing => Some(format!(
                "{} is not installed: RUN scripts were not checked (SC codes); install ShellCheck (apt-get install shellcheck) to check them",
                self.program.to_string_lossy()
            )),
            ShellCheckState::Failed(m) => Some(format!("ShellCheck did not run: {m}")),
        }
    }

    /// ShellCheck's findings (not yet filtered) for each file's scripts, in the order given,
    /// from one ShellCheck process per chunk of scripts (each script a temporary file whose
    /// shebang names its dialect); empty lists when ShellCheck is missing or fails.
    fn check_all(&mut self, files: &[Vec<plinth_lint::shellcheck::Script>]) -> Vec<Vec<Finding>> {
        let mut out: Vec<Vec<Finding>> = files.iter().map(|_| Vec::new()).collect();
        let all: Vec<(usize, &plinth_lint::shellcheck::Script)> = files
            .iter()
            .enumerate()
            .flat_map(|(i, scripts)| scripts.iter().map(move |s| (i, s)))
            .collect();
        if all.is_empty() {
            return out;
        }
        if locate(&self.program).is_none() {
            self.state = ShellCheckState::Missing;
            return out;
        }
        let dir = match tempfile::Builder::new().prefix("plinth-lint").tempdir() {
            Ok(d) => d,
            Err(e) => {
                self.state = ShellCheckState::Failed(format!("a temporary directory: {e}"));
                return out;
            }
        };
        // One ShellCheck per core (it is single-threaded), at most CHUNK scripts per command line.
        const CHUNK: usize = 400;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let size = all.len().div_ceil(cores).clamp(1, CHUNK);
        let mut chunks: Vec<(Vec<ScriptOf<'_>>, Vec<PathBuf>)> = Vec::new();
        // Identical scripts (the same RUN in many Dockerfiles) are checked once.
        let mut written: std::collections::HashMap<&str, PathBuf> = Default::default();
        for (chunk_no, chunk) in all.chunks(size).enumerate() {
            let mut paths = Vec::new();
            for (n, (_, script)) in chunk.iter().enumerate() {
                if let Some(p) = written.get(script.text.as_str()) {
                    paths.push(p.clone());
                    continue;
                }
                let path = dir.path().join(format!("{chunk_no}-{n}.sh"));
                if let Err(e) = fs_err::write(&path, &script.text) {
                    self.state = ShellCheckState::Failed(e.to_string());
                    return out;
                }
                written.insert(&script.text, path.clone());
                paths.push(path);
            }
            chunks.push((chunk.to_vec(), paths));
        }
        let this = &*self;
        let answers: Vec<Result<String, ShellCheckState>> = std::thread::scope(|s| {
            let running: Vec<_> = chunks
                .iter()
                .map(|(_, paths)| {
                    // Each file once per run, even when several scripts share it.
                    let mut unique = paths.clone();
                    unique.sort();
                    unique.dedup();
                    s.spawn(move || this.run(&unique))
                })
                .collect();
            running
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(ShellCheckState::Failed("a ShellCheck thread failed".into()))
                    })
                })
                .collect()
        });
        for ((chunk, paths), answer) in chunks.iter().zip(answers) {
            let json = match answer {
                Ok(j) => j,
                Err(state) => {
                    self.state = state;
                    return files.iter().map(|_| Vec::new()).collect();
                }
            };
            let per_file = match plinth_lint::shellcheck::split_by_file(&json) {
                Ok(m) => m,
                Err(e) => {
                    self.state = ShellCheckState::Failed(e);
                    return files.iter().map(|_| Vec::new()).collect();
                }
            };
            for ((file_index, script), path) in chunk.iter().zip(paths) {
                let key = path.to_string_lossy();
                let Some(comments) = per_file.get(key.as_ref()) else {
                    continue;
                };
                match plinth_lint::shellcheck::findings(script, comments) {
                    Ok(f) => out[*file_index].extend(f),
                    Err(e) => {
                        self.state = ShellCheckState::Failed(e);
                        return files.iter().map(|_| Vec::new()).collect();
                    }
                }
            }
        }
        out
    }

    fn run(&self, paths: &[PathBuf]) -> Result<String, ShellCheckState> {
        let output = std::process::Command::new(&self.program)
            .args(plinth_lint::shellcheck::batch_args())
            .args(paths)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => ShellCheckState::Missing,
                _ => ShellCheckState::Failed(format!("{}: {e}", self.program.to_string_lossy())),
            })?;
        // 0: no comments, 1: comments; anything else is ShellCheck failing.
        match output.status.code() {
            Some(0 | 1) => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
            _ => Err(ShellCheckState::Failed(format!(
                "{} exited with {}: {}",
                self.program.to_string_lossy(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_reads_only_text_files_inside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let ctx_dir = dir.path().join("ctx");
        std::fs::create_dir_all(ctx_dir.join("sub")).unwrap();
        std::fs::write(ctx_dir.join("Dockerfile"), "FROM a\n").unwrap();
        std::fs::write(ctx_dir.join("sub/run.sh"), "#!/bin/sh\necho hi\n").unwrap();
        std::fs::write(ctx_dir.join("bin"), b"\x7fELF\0\0").unwrap();
        std::fs::write(dir.path().join("secret"), "outside").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), ctx_dir.join("link")).unwrap();
        let big = vec![b'a'; usize::try_from(CONTEXT_FILE_LIMIT).unwrap() + 1];
        std::fs::write(ctx_dir.join("big"), big).unwrap();
        let c = DirContext::of(&ctx_dir.join("Dockerfile"));
        assert_eq!(
            c.read("sub/run.sh").as_deref(),
            Some("#!/bin/sh\necho hi\n")
        );
        assert_eq!(
            c.read("./sub/run.sh").as_deref(),
            Some("#!/bin/sh\necho hi\n")
        );
        assert_eq!(c.read("bin"), None);
        assert_eq!(c.read("../secret"), None);
        assert_eq!(c.read("sub/../../secret"), None);
        assert_eq!(
            c.read(&dir.path().join("secret").display().to_string()),
            None
        );
        assert_eq!(c.read("link"), None);
        assert_eq!(c.read("big"), None);
        assert_eq!(c.read("sub"), None);
        assert_eq!(c.read(""), None);
        assert_eq!(DirContext { root: None }.read("sub/run.sh"), None);
    }
}

/// What a build does with lint findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BeforeBuild {
    /// Lint first; errors stop the build.
    Check,
    /// `--no-lint`.
    Skip,
}

/// `plinth build`'s lint of the Dockerfiles it is about to build, with the project's lint
/// configuration (plinth.toml [lint], .plinth-lint.toml, .hadolint.yaml; no ShellCheck): the
/// error findings are printed and stop the build (exit 1); warnings and the rest are counted on
/// one line. A Dockerfile that does not parse is left to the build, which reports it.
pub(crate) fn before_build(
    mode: BeforeBuild,
    project: Option<&plinth_build::project::Project>,
    dockerfiles: &[(String, PathBuf)],
) -> Result<()> {
    if mode == BeforeBuild::Skip {
        return Ok(());
    }
    let args = LintArgs {
        paths: Vec::new(),
        format: LintFormat::Tty,
        failure_threshold: None,
        ignore: Vec::new(),
        config: None,
        color: ColorArg::Never,
    };
    let loaded = load_config(&args, project)?;
    let mut texts = Vec::new();
    let mut errors: Vec<Vec<Finding>> = Vec::new();
    let mut others = 0usize;
    for (shown, path) in dockerfiles {
        let Ok(text) = fs_err::read_to_string(path) else {
            continue;
        };
        let Ok(found) = plinth_lint::lint(shown, &text, &loaded.config, &DirContext::of(path))
        else {
            continue;
        };
        let (errs, rest): (Vec<Finding>, Vec<Finding>) = found
            .into_iter()
            .partition(|f| f.severity == Severity::Error);
        others += rest.len();
        errors.push(errs);
        texts.push((shown.clone(), text));
    }
    let count: usize = errors.iter().map(Vec::len).sum();
    if others > 0 {
        eprintln!(
            "lint: {others} warning{} or note{} (`plinth lint` lists them)",
            if others == 1 { "" } else { "s" },
            if others == 1 { "" } else { "s" }
        );
    }
    if count == 0 {
        return Ok(());
    }
    let reports: Vec<FileReport<'_>> = texts
        .iter()
        .zip(&errors)
        .filter(|(_, e)| !e.is_empty())
        .map(|((path, text), findings)| FileReport {
            path,
            text,
            findings,
        })
        .collect();
    eprint!("{}", report::render(Format::Tty, &reports, Color::Never));
    Err(anyhow::anyhow!(
        "lint found {count} error{} in the Dockerfile{}: fix {}, switch the rule off (`# plinth ignore=CODE` above the instruction, or [lint] ignored in plinth.toml), or build with --no-lint",
        if count == 1 { "" } else { "s" },
        if reports.len() == 1 { "" } else { "s" },
        if count == 1 { "it" } else { "them" },
    ))
}
