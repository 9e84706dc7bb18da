//! The typed layer: BuildKit's `frontend/dockerfile/instructions` package. [`stages`] turns a
//! parsed [`Dockerfile`] into global `ARG`s and [`Stage`]s of [`Command`]s, applying BuildKit's
//! per-instruction rules (argument counts, flags, JSON requirements, heredoc sources, stage
//! names) with BuildKit's messages.
//!
//! Values are kept unexpanded; [`Command::expand`] applies variable expansion where BuildKit's
//! dispatcher does.

use std::time::Duration;

use crate::error::ParseError;
use crate::golang;
use crate::mount::{self, RunMount};
use crate::span::Span;
use crate::syntax::{self, Dockerfile, Flag, Instruction, Keyword, chomp_heredoc_content};

/// What every command carries: where it is and its source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMeta {
    /// The whole instruction (continuation lines and heredoc bodies included).
    pub span: Span,
    /// The keyword.
    pub keyword_span: Span,
    /// The logical line, trimmed: BuildKit's `String()` of the command (used in build history
    /// and progress output). Heredoc bodies are not part of it.
    pub original: String,
}

impl CommandMeta {
    fn of(inst: &Instruction) -> Self {
        CommandMeta {
            span: inst.span,
            keyword_span: inst.keyword_span,
            original: golang::trim_space(&inst.original).to_owned(),
        }
    }
}

/// A command line in shell form (run through the stage's `SHELL`) or exec form (a JSON array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellOrExec {
    /// Shell form: the text to hand to the shell (`""` when nothing was written).
    Shell(String),
    /// Exec form: the JSON array's strings.
    Exec(Vec<String>),
}

impl ShellOrExec {
    fn from_args(args: &[String], json: bool) -> Self {
        if json {
            ShellOrExec::Exec(args.to_vec())
        } else {
            ShellOrExec::Shell(args.join(" "))
        }
    }

    /// True for exec (JSON) form.
    pub fn is_exec(&self) -> bool {
        matches!(self, ShellOrExec::Exec(_))
    }
}

/// A key/value pair of `ENV` or `LABEL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key, unexpanded.
    pub key: String,
    /// The value, unexpanded (quotes still in place).
    pub value: String,
    /// True for the legacy `ENV key value` form (no `=`).
    pub no_delim: bool,
}

/// One `ARG` name with its optional default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgPair {
    /// The name.
    pub key: String,
    /// The default value, unexpanded, if one is given.
    pub value: Option<String>,
}

/// A heredoc used as a `COPY`/`ADD` source (BuildKit's `SourceContent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeredocSource {
    /// The heredoc name, which is also the file name created in the destination.
    pub name: String,
    /// The content (leading tabs already stripped for `<<-`).
    pub data: String,
    /// Whether the content is subject to variable expansion (delimiter not quoted).
    pub expand: bool,
}

/// A heredoc attached to `RUN` (BuildKit's `ShellInlineFile`). Never expanded by the frontend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeredocFile {
    /// The heredoc name.
    pub name: String,
    /// The body as written (tabs not stripped).
    pub data: String,
    /// `<<-`: strip leading tabs before use.
    pub strip_tabs: bool,
}

impl HeredocFile {
    /// The body with leading tabs stripped when `strip_tabs` is set.
    pub fn content(&self) -> String {
        if self.strip_tabs {
            chomp_heredoc_content(&self.data)
        } else {
            self.data.clone()
        }
    }
}

/// `RUN --network=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NetworkMode {
    /// `default`.
    #[default]
    Default,
    /// `none`.
    None,
    /// `host`.
    Host,
}

/// `RUN --security=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SecurityMode {
    /// `sandbox` (the default).
    #[default]
    Sandbox,
    /// `insecure`.
    Insecure,
}

/// How BuildKit runs a `RUN` that has heredocs (see [`RunCommand::script`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunScript {
    /// No heredoc: run `cmd` as usual.
    Plain,
    /// The command is exactly one heredoc marker (`RUN <<EOF`). If `shebang` (the body starts
    /// with `#!`, and the image is not Windows) BuildKit writes `content` to a file named `name`
    /// with mode 0755, mounts it read-only at `/dev/pipes/`, and runs `/dev/pipes/<name>` (through
    /// the shell, as shell form); otherwise `content` itself is the shell command. `content` has
    /// tabs stripped for `<<-`; the expand flag is ignored.
    Heredoc {
        /// The heredoc name.
        name: String,
        /// The body (tabs stripped for `<<-`).
        content: String,
        /// The body starts with `#!`.
        shebang: bool,
    },
    /// The command uses heredocs as input (`RUN python3 <<EOF`): BuildKit hands the shell the
    /// command line followed, for each heredoc, by `"\n" + body + name`, so the shell sees real
    /// heredocs (bodies unstripped; the shell handles `<<-`).
    Inline(String),
}

/// `RUN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The command.
    pub cmd: ShellOrExec,
    /// Heredocs, in order.
    pub heredocs: Vec<HeredocFile>,
    /// `--mount` flags, in order.
    pub mounts: Vec<RunMount>,
    /// `--network`.
    pub network: NetworkMode,
    /// `--security`.
    pub security: SecurityMode,
    /// Names of the flags that were given.
    pub flags_used: Vec<String>,
}

impl RunCommand {
    /// What BuildKit's `dispatchRun` does with heredocs.
    pub fn script(&self) -> Result<RunScript, String> {
        if self.heredocs.is_empty() {
            return Ok(RunScript::Plain);
        }
        let line = match &self.cmd {
            ShellOrExec::Shell(s) => s.clone(),
            ShellOrExec::Exec(v) => {
                return Err(format!(
                    "parsing produced an invalid run command: {}",
                    go_slice(v)
                ));
            }
        };
        if let Ok(Some(_)) = syntax::parse_heredoc(&line) {
            let first = &self.heredocs[0];
            let content = first.content();
            return Ok(RunScript::Heredoc {
                name: first.name.clone(),
                shebang: first.data.starts_with("#!"),
                content,
            });
        }
        let mut full = line;
        for h in &self.heredocs {
            full.push('\n');
            full.push_str(&h.data);
            full.push_str(&h.name);
        }
        Ok(RunScript::Inline(full))
    }

    /// The resolved mounts, when [`crate::Command::expand`] has resolved them.
    pub fn resolved_mounts(&self) -> Option<Vec<&mount::Mount>> {
        self.mounts
            .iter()
            .map(|m| match m {
                RunMount::Resolved(m) => Some(m),
                RunMount::Unresolved(_) => None,
            })
            .collect()
    }
}

fn go_slice(v: &[String]) -> String {
    format!("[{}]", v.join(" "))
}

/// `CMD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The command.
    pub cmd: ShellOrExec,
}

/// `ENTRYPOINT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrypointCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The command. `Exec(vec![])` (`ENTRYPOINT []`) is BuildKit's nil entrypoint (cleared),
    /// whereas `CMD []` stores an empty list.
    pub cmd: ShellOrExec,
}

/// `SHELL` (JSON form only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The shell and its arguments.
    pub shell: Vec<String>,
}

/// `ENV`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The pairs, in order.
    pub pairs: Vec<KeyValue>,
}

/// `LABEL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The pairs, in order.
    pub pairs: Vec<KeyValue>,
}

/// `ARG` (several names allowed: `ARG a=1 b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The names and defaults, in order.
    pub args: Vec<ArgPair>,
}

/// `EXPOSE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposeCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The port words, sorted (BuildKit sorts them when parsing); unexpanded.
    pub ports: Vec<String>,
}

/// `VOLUME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The paths, unexpanded.
    pub volumes: Vec<String>,
}

/// `USER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// `user[:group]`, unexpanded.
    pub user: String,
}

/// `WORKDIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkdirCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The path, unexpanded.
    pub path: String,
}

/// `STOPSIGNAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopSignalCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The signal, unexpanded.
    pub signal: String,
}

/// `MAINTAINER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintainerCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The text.
    pub maintainer: String,
}

/// The healthcheck configuration, as BuildKit's `HealthcheckConfig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", args...]` (exec form) or `["CMD-SHELL", command]` (shell form).
    pub test: Vec<String>,
    /// `--interval` (zero when not given).
    pub interval: Duration,
    /// `--timeout` (zero when not given).
    pub timeout: Duration,
    /// `--start-period` (zero when not given).
    pub start_period: Duration,
    /// `--start-interval` (zero when not given).
    pub start_interval: Duration,
    /// `--retries` (zero when not given).
    pub retries: i64,
}

/// `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthcheckCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The configuration.
    pub health: Healthcheck,
}

/// `ONBUILD`. Never expanded; the expression is stored in the image and parsed again (with the
/// default escape character) by builds that use the image as their base: see [`parse_trigger`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnbuildCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The trigger text BuildKit stores: the logical line without `ONBUILD`, followed for each
    /// heredoc by `"\n" + body + name`.
    pub expression: String,
    /// The trigger parsed as part of this file. BuildKit does not check it until it runs, so
    /// this can be an error while the `ONBUILD` itself is fine.
    pub trigger: Result<Box<Command>, ParseError>,
}

/// `COPY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// Source paths (not heredocs), unexpanded.
    pub sources: Vec<String>,
    /// Heredoc sources.
    pub heredocs: Vec<HeredocSource>,
    /// The destination, unexpanded.
    pub dest: String,
    /// `--from` (BuildKit does not expand it).
    pub from: Option<String>,
    /// `--chown`.
    pub chown: Option<String>,
    /// `--chmod` (BuildKit does not expand it).
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--parents`.
    pub parents: bool,
    /// `--exclude` patterns (not expanded).
    pub exclude: Vec<String>,
}

/// `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// Source paths or URLs (not heredocs), unexpanded.
    pub sources: Vec<String>,
    /// Heredoc sources.
    pub heredocs: Vec<HeredocSource>,
    /// The destination, unexpanded.
    pub dest: String,
    /// `--chown`.
    pub chown: Option<String>,
    /// `--chmod` (not expanded).
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--keep-git-dir`, when given.
    pub keep_git_dir: Option<bool>,
    /// `--checksum`.
    pub checksum: Option<String>,
    /// `--exclude` patterns (not expanded).
    pub exclude: Vec<String>,
    /// `--unpack`, when given.
    pub unpack: Option<bool>,
}

/// `FROM`: the start of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromCommand {
    /// Position and source.
    pub meta: CommandMeta,
    /// The base image or stage, unexpanded (expanded with global `ARG`s only).
    pub base: String,
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// `--platform`, unexpanded.
    pub platform: Option<String>,
}

/// A command inside a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `RUN`
    Run(RunCommand),
    /// `COPY`
    Copy(CopyCommand),
    /// `ADD`
    Add(AddCommand),
    /// `ENV`
    Env(EnvCommand),
    /// `LABEL`
    Label(LabelCommand),
    /// `CMD`
    Cmd(CmdCommand),
    /// `ENTRYPOINT`
    Entrypoint(EntrypointCommand),
    /// `EXPOSE`
    Expose(ExposeCommand),
    /// `VOLUME`
    Volume(VolumeCommand),
    /// `USER`
    User(UserCommand),
    /// `WORKDIR`
    Workdir(WorkdirCommand),
    /// `ARG`
    Arg(ArgCommand),
    /// `ONBUILD`
    Onbuild(OnbuildCommand),
    /// `STOPSIGNAL`
    StopSignal(StopSignalCommand),
    /// `HEALTHCHECK`
    Healthcheck(HealthcheckCommand),
    /// `SHELL`
    Shell(ShellCommand),
    /// `MAINTAINER`
    Maintainer(MaintainerCommand),
}

impl Command {
    /// Position and source.
    pub fn meta(&self) -> &CommandMeta {
        match self {
            Command::Run(c) => &c.meta,
            Command::Copy(c) => &c.meta,
            Command::Add(c) => &c.meta,
            Command::Env(c) => &c.meta,
            Command::Label(c) => &c.meta,
            Command::Cmd(c) => &c.meta,
            Command::Entrypoint(c) => &c.meta,
            Command::Expose(c) => &c.meta,
            Command::Volume(c) => &c.meta,
            Command::User(c) => &c.meta,
            Command::Workdir(c) => &c.meta,
            Command::Arg(c) => &c.meta,
            Command::Onbuild(c) => &c.meta,
            Command::StopSignal(c) => &c.meta,
            Command::Healthcheck(c) => &c.meta,
            Command::Shell(c) => &c.meta,
            Command::Maintainer(c) => &c.meta,
        }
    }

    /// The keyword.
    pub fn keyword(&self) -> Keyword {
        match self {
            Command::Run(_) => Keyword::Run,
            Command::Copy(_) => Keyword::Copy,
            Command::Add(_) => Keyword::Add,
            Command::Env(_) => Keyword::Env,
            Command::Label(_) => Keyword::Label,
            Command::Cmd(_) => Keyword::Cmd,
            Command::Entrypoint(_) => Keyword::Entrypoint,
            Command::Expose(_) => Keyword::Expose,
            Command::Volume(_) => Keyword::Volume,
            Command::User(_) => Keyword::User,
            Command::Workdir(_) => Keyword::Workdir,
            Command::Arg(_) => Keyword::Arg,
            Command::Onbuild(_) => Keyword::Onbuild,
            Command::StopSignal(_) => Keyword::StopSignal,
            Command::Healthcheck(_) => Keyword::Healthcheck,
            Command::Shell(_) => Keyword::Shell,
            Command::Maintainer(_) => Keyword::Maintainer,
        }
    }
}

/// A build stage: its `FROM` and the commands after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// The `FROM` instruction.
    pub from: FromCommand,
    /// The commands, in order.
    pub commands: Vec<Command>,
}

impl Stage {
    /// The base image or stage, unexpanded.
    pub fn base(&self) -> &str {
        &self.from.base
    }

    /// `--platform`, unexpanded.
    pub fn platform(&self) -> Option<&str> {
        self.from.platform.as_deref()
    }

    /// Where the `FROM` is.
    pub fn span(&self) -> Span {
        self.from.meta.span
    }
}

/// The stages of a Dockerfile and the `ARG`s before the first `FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedStages {
    /// `ARG`s before the first `FROM` (usable in `FROM` lines and, re-declared, in stages).
    pub meta_args: Vec<ArgCommand>,
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

/// One instruction in typed form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedInstruction {
    /// `FROM`.
    From(FromCommand),
    /// Anything else.
    Command(Command),
}

/// Splits a parsed Dockerfile into global `ARG`s and stages, checking every instruction
/// (BuildKit's `instructions.Parse`).
pub fn stages(df: &Dockerfile) -> Result<ParsedStages, ParseError> {
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    let mut any = false;
    for inst in df.instructions() {
        any = true;
        match parse_instruction(inst)? {
            ParsedInstruction::From(from) => stages.push(Stage {
                name: from.name.clone(),
                from,
                commands: Vec::new(),
            }),
            ParsedInstruction::Command(Command::Arg(a)) if stages.is_empty() => meta_args.push(a),
            ParsedInstruction::Command(c) => match stages.last_mut() {
                Some(stage) => stage.commands.push(c),
                None => {
                    return Err(ParseError::at(
                        &inst.keyword_span,
                        "no build stage in current context",
                    ));
                }
            },
        }
    }
    let end = end_position(df);
    if !any {
        return Err(ParseError::at(&end, "file with no instructions"));
    }
    if stages.is_empty() {
        return Err(ParseError::at(
            &end,
            "dockerfile contains no stages to build",
        ));
    }
    Ok(ParsedStages { meta_args, stages })
}

fn end_position(df: &Dockerfile) -> Span {
    let mut span = df.items.last().map(|i| i.span()).unwrap_or_default();
    span.line = span.line.max(1);
    span.col = span.col.max(1);
    span
}

/// Go's `strings.EqualFold(s, "as")` (simple case folding: `ſ` folds to `s`).
fn equal_fold_as(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(
        (cs.next(), cs.next(), cs.next()),
        (Some('a' | 'A'), Some('s' | 'S' | '\u{17f}'), None)
    )
}

/// Parses an `ONBUILD` trigger expression the way BuildKit does when the trigger fires: as a
/// Dockerfile of its own (default escape character) that must hold exactly one instruction.
pub fn parse_trigger(expression: &str) -> Result<Command, ParseError> {
    let df = syntax::parse(expression)?;
    let mut it = df.instructions();
    let (Some(inst), None) = (it.next(), it.next()) else {
        return Err(ParseError {
            line: 1,
            col: 1,
            message: "onbuild trigger should be a single expression".to_owned(),
        });
    };
    match parse_instruction(inst)? {
        ParsedInstruction::Command(c) => Ok(c),
        ParsedInstruction::From(_) => Err(ParseError::at(
            &inst.keyword_span,
            "*instructions.Stage is not a command type",
        )),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FlagKind {
    Bool,
    Str,
    Strs,
}

#[derive(Default)]
struct FlagValue {
    used: bool,
    value: String,
    values: Vec<String>,
}

struct Flags {
    names: Vec<&'static str>,
    values: Vec<FlagValue>,
}

impl Flags {
    fn get(&self, name: &str) -> Option<&FlagValue> {
        self.names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| self.values.get(i))
    }

    fn string(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|f| f.value.clone())
            .filter(|v| !v.is_empty())
    }

    fn boolean(&self, name: &str) -> bool {
        self.get(name).is_some_and(|f| f.value == "true")
    }

    fn tri_bool(&self, name: &str) -> Option<bool> {
        self.get(name).filter(|f| f.used).map(|f| f.value == "true")
    }

    fn strings(&self, name: &str) -> Vec<String> {
        self.get(name).map(|f| f.values.clone()).unwrap_or_default()
    }

    fn used(&self) -> Vec<String> {
        self.names
            .iter()
            .zip(&self.values)
            .filter(|(_, v)| v.used)
            .map(|(n, _)| (*n).to_owned())
            .collect()
    }
}

/// BuildKit's `BFlags.Parse`.
fn parse_flags(
    given: &[Flag],
    specs: &[(&'static str, FlagKind, &'static str)],
) -> Result<Flags, String> {
    let mut flags = Flags {
        names: specs.iter().map(|s| s.0).collect(),
        values: specs
            .iter()
            .map(|s| FlagValue {
                used: false,
                value: s.2.to_owned(),
                values: Vec::new(),
            })
            .collect(),
    };
    for f in given {
        let flag_name = match f.text.split_once('=') {
            Some((n, _)) => n,
            None => f.text.as_str(),
        };
        let has_value = f.value.is_some();
        let value = f.value.clone().unwrap_or_default();
        let Some(i) = specs.iter().position(|s| s.0 == f.name) else {
            return Err(format!("unknown flag: {flag_name}"));
        };
        let kind = specs[i].1;
        let slot = &mut flags.values[i];
        if slot.used && kind != FlagKind::Strs {
            return Err(format!("duplicate flag specified: {flag_name}"));
        }
        slot.used = true;
        match kind {
            FlagKind::Bool => {
                if has_value && value.is_empty() {
                    return Err(format!("missing a value on flag: {flag_name}"));
                }
                match value.to_lowercase().as_str() {
                    "true" | "" => slot.value = "true".to_owned(),
                    "false" => slot.value = "false".to_owned(),
                    _ => {
                        return Err(format!(
                            "expecting boolean value for flag {flag_name}, not: {value}"
                        ));
                    }
                }
            }
            FlagKind::Str => {
                if !has_value {
                    return Err(format!("missing a value on flag: {flag_name}"));
                }
                slot.value = value;
            }
            FlagKind::Strs => {
                if !has_value {
                    return Err(format!("missing a value on flag: {flag_name}"));
                }
                slot.values.push(value);
            }
        }
    }
    Ok(flags)
}

/// Checks one instruction and gives it its typed form (BuildKit's `ParseInstruction`).
pub fn parse_instruction(inst: &Instruction) -> Result<ParsedInstruction, ParseError> {
    let err = |m: String| ParseError::at(&inst.keyword_span, m);
    parse_instruction_inner(inst).map_err(err)
}

fn err_at_least_one(cmd: &str) -> String {
    format!("{cmd} requires at least one argument")
}

fn err_exactly_one(cmd: &str) -> String {
    format!("{cmd} requires exactly one argument")
}

fn err_no_destination(cmd: &str) -> String {
    format!(
        "{cmd} requires at least two arguments, but only one was provided. Destination could not be determined"
    )
}

fn err_not_json(cmd: &str, original: &str) -> String {
    // BuildKit adds a hint when a Windows path looks unescaped.
    let lower = original.to_lowercase();
    let mut extra = String::new();
    let looks_like_path = lower.match_indices('"').any(|(i, _)| {
        let rest = &lower[i + 1..];
        let mut cs = rest.chars();
        matches!((cs.next(), cs.next(), cs.next()), (Some(d), Some(':'), Some('\\')) if d.is_ascii_lowercase())
    });
    if looks_like_path && !lower.contains("\\\\") && lower.contains('[') && lower.contains(']') {
        extra = format!(
            ". It looks like '{lower}' includes a file path without an escaped back-slash. JSON requires back-slashes to be escaped such as [\"c:\\\\path\\\\to\\\\file.exe\", \"/parameter\"]"
        );
    }
    format!("{cmd} requires the arguments to be in JSON form{extra}")
}

fn parse_kvps(args: &[String], cmd: &str) -> Result<Vec<KeyValue>, String> {
    if args.is_empty() {
        return Err(err_at_least_one(cmd));
    }
    if !args.len().is_multiple_of(3) {
        return Err(format!("Bad input to {cmd}, too many arguments"));
    }
    let mut out = Vec::new();
    for t in args.chunks(3) {
        if t[0].is_empty() {
            return Err(format!("{cmd} names can not be blank"));
        }
        out.push(KeyValue {
            key: t[0].clone(),
            value: t[1].clone(),
            no_delim: t[2].is_empty(),
        });
    }
    Ok(out)
}

struct SourcesAndDest {
    sources: Vec<String>,
    heredocs: Vec<HeredocSource>,
    dest: String,
}

fn parse_sources_and_dest(inst: &Instruction, cmd: &str) -> Result<SourcesAndDest, String> {
    let args = &inst.node_args;
    let (dest, srcs) = match args.split_last() {
        Some((d, s)) => (d.clone(), s),
        None => return Err(err_no_destination(cmd)),
    };
    if let Ok(Some(_)) = syntax::parse_heredoc(&dest) {
        return Err(format!("{cmd} cannot accept a heredoc as a destination"));
    }
    let mut sources = Vec::new();
    let mut heredocs = Vec::new();
    for src in srcs {
        if let Ok(Some(h)) = syntax::parse_heredoc(src) {
            // BuildKit looks the body up by name; the last heredoc with that name wins.
            let data = inst
                .heredocs
                .iter()
                .rev()
                .find(|d| d.name == h.name)
                .map(|d| d.body.clone())
                .unwrap_or_default();
            let data = if h.chomp {
                chomp_heredoc_content(&data)
            } else {
                data
            };
            heredocs.push(HeredocSource {
                name: h.name,
                data,
                expand: h.expand,
            });
        } else {
            sources.push(src.clone());
        }
    }
    Ok(SourcesAndDest {
        sources,
        heredocs,
        dest,
    })
}

fn parse_opt_interval(name: &str, value: &str) -> Result<Duration, String> {
    if value.is_empty() {
        return Ok(Duration::ZERO);
    }
    let d = golang::parse_duration(value)?;
    if d == 0 {
        return Ok(Duration::ZERO);
    }
    if d < 1_000_000 {
        return Err(format!(
            "Interval {} cannot be less than 1ms",
            golang::quote(name)
        ));
    }
    Ok(golang::nanos_to_duration(d))
}

fn parse_instruction_inner(inst: &Instruction) -> Result<ParsedInstruction, String> {
    use FlagKind::{Bool, Str, Strs};
    let args = &inst.node_args;
    let meta = CommandMeta::of(inst);
    let flags = |specs: &[(&'static str, FlagKind, &'static str)]| parse_flags(&inst.flags, specs);
    let cmd = match inst.keyword {
        Keyword::Env => {
            flags(&[])?;
            Command::Env(EnvCommand {
                meta,
                pairs: parse_kvps(args, "ENV")?,
            })
        }
        Keyword::Label => {
            flags(&[])?;
            Command::Label(LabelCommand {
                meta,
                pairs: parse_kvps(args, "LABEL")?,
            })
        }
        Keyword::Maintainer => {
            if args.len() != 1 {
                return Err(err_exactly_one("MAINTAINER"));
            }
            flags(&[])?;
            Command::Maintainer(MaintainerCommand {
                meta,
                maintainer: args[0].clone(),
            })
        }
        Keyword::Add => {
            if args.len() < 2 {
                return Err(err_no_destination("ADD"));
            }
            let f = flags(&[
                ("exclude", Strs, ""),
                ("chown", Str, ""),
                ("chmod", Str, ""),
                ("link", Bool, "false"),
                ("keep-git-dir", Bool, "false"),
                ("checksum", Str, ""),
                ("unpack", Bool, "false"),
            ])?;
            let sd = parse_sources_and_dest(inst, "ADD")?;
            Command::Add(AddCommand {
                meta,
                sources: sd.sources,
                heredocs: sd.heredocs,
                dest: sd.dest,
                chown: f.string("chown"),
                chmod: f.string("chmod"),
                link: f.boolean("link"),
                keep_git_dir: f.tri_bool("keep-git-dir"),
                checksum: f.string("checksum"),
                exclude: f.strings("exclude"),
                unpack: f.tri_bool("unpack"),
            })
        }
        Keyword::Copy => {
            if args.len() < 2 {
                return Err(err_no_destination("COPY"));
            }
            let f = flags(&[
                ("exclude", Strs, ""),
                ("parents", Bool, "false"),
                ("chown", Str, ""),
                ("from", Str, ""),
                ("chmod", Str, ""),
                ("link", Bool, "false"),
            ])?;
            let sd = parse_sources_and_dest(inst, "COPY")?;
            Command::Copy(CopyCommand {
                meta,
                sources: sd.sources,
                heredocs: sd.heredocs,
                dest: sd.dest,
                from: f.string("from"),
                chown: f.string("chown"),
                chmod: f.string("chmod"),
                link: f.boolean("link"),
                parents: f.boolean("parents"),
                exclude: f.strings("exclude"),
            })
        }
        Keyword::From => {
            let name = match args.len() {
                3 if equal_fold_as(&args[1]) => {
                    let name = args[2].to_lowercase();
                    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && name.chars().all(|c| {
                            c.is_ascii_lowercase()
                                || c.is_ascii_digit()
                                || matches!(c, '-' | '_' | '.')
                        });
                    if !valid {
                        return Err(format!(
                            "invalid name for build stage: {}, name can't start with a number or contain symbols",
                            golang::quote(&args[2])
                        ));
                    }
                    Some(name)
                }
                1 => None,
                _ => return Err("FROM requires either one or three arguments".to_owned()),
            };
            let f = flags(&[("platform", Str, "")])?;
            return Ok(ParsedInstruction::From(FromCommand {
                meta,
                base: args[0].clone(),
                name,
                platform: f.string("platform"),
            }));
        }
        Keyword::Onbuild => {
            if args.is_empty() {
                return Err(err_at_least_one("ONBUILD"));
            }
            flags(&[])?;
            let trigger_kw = golang::trim_space(&args[0]).to_uppercase();
            match trigger_kw.as_str() {
                "ONBUILD" => {
                    return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".to_owned());
                }
                "MAINTAINER" | "FROM" => {
                    return Err(format!("{trigger_kw} isn't allowed as an ONBUILD trigger"));
                }
                _ => {}
            }
            let mut expression = strip_onbuild(&inst.original).to_owned();
            for h in &inst.heredocs {
                expression.push('\n');
                expression.push_str(&h.body);
                expression.push_str(&h.name);
            }
            let trigger = match &inst.trigger {
                Some(t) => match parse_instruction(t) {
                    Ok(ParsedInstruction::Command(c)) => Ok(Box::new(c)),
                    Ok(ParsedInstruction::From(_)) => Err(ParseError::at(
                        &t.keyword_span,
                        "FROM isn't allowed as an ONBUILD trigger",
                    )),
                    Err(e) => Err(e),
                },
                None => Err(ParseError::at(
                    &inst.args_span,
                    format!("unknown instruction: {}", golang::trim_space(&args[0])),
                )),
            };
            Command::Onbuild(OnbuildCommand {
                meta,
                expression,
                trigger,
            })
        }
        Keyword::Workdir => {
            if args.len() != 1 {
                return Err(err_exactly_one("WORKDIR"));
            }
            flags(&[])?;
            Command::Workdir(WorkdirCommand {
                meta,
                path: args[0].clone(),
            })
        }
        Keyword::Run => {
            let f = flags(&[
                ("mount", Strs, ""),
                ("network", Str, "default"),
                ("security", Str, "sandbox"),
            ])?;
            let specs = f.strings("mount");
            for s in &specs {
                mount::check_unexpanded(s)?;
            }
            let network_value = f
                .get("network")
                .map(|v| v.value.clone())
                .unwrap_or_default();
            let network = match network_value.as_str() {
                "default" => NetworkMode::Default,
                "none" => NetworkMode::None,
                "host" => NetworkMode::Host,
                v => return Err(format!("invalid network mode {}", golang::quote(v))),
            };
            let security_value = f
                .get("security")
                .map(|v| v.value.clone())
                .unwrap_or_default();
            let security = match security_value.as_str() {
                "sandbox" => SecurityMode::Sandbox,
                "insecure" => SecurityMode::Insecure,
                v => return Err(format!("security {} is not valid", golang::quote(v))),
            };
            Command::Run(RunCommand {
                meta,
                cmd: ShellOrExec::from_args(args, inst.json),
                heredocs: inst
                    .heredocs
                    .iter()
                    .map(|h| HeredocFile {
                        name: h.name.clone(),
                        data: h.body.clone(),
                        strip_tabs: h.strip_tabs,
                    })
                    .collect(),
                mounts: specs.into_iter().map(RunMount::Unresolved).collect(),
                network,
                security,
                flags_used: f.used(),
            })
        }
        Keyword::Cmd => {
            flags(&[])?;
            Command::Cmd(CmdCommand {
                meta,
                cmd: ShellOrExec::from_args(args, inst.json),
            })
        }
        Keyword::Entrypoint => {
            flags(&[])?;
            Command::Entrypoint(EntrypointCommand {
                meta,
                cmd: ShellOrExec::from_args(args, inst.json),
            })
        }
        Keyword::Healthcheck => {
            if args.is_empty() {
                return Err(err_at_least_one("HEALTHCHECK"));
            }
            let typ = args[0].to_uppercase();
            let rest = &args[1..];
            let health = if typ == "NONE" {
                if !rest.is_empty() {
                    return Err("HEALTHCHECK NONE takes no arguments".to_owned());
                }
                Healthcheck {
                    test: vec![typ],
                    interval: Duration::ZERO,
                    timeout: Duration::ZERO,
                    start_period: Duration::ZERO,
                    start_interval: Duration::ZERO,
                    retries: 0,
                }
            } else {
                let f = flags(&[
                    ("interval", Str, ""),
                    ("timeout", Str, ""),
                    ("start-period", Str, ""),
                    ("start-interval", Str, ""),
                    ("retries", Str, ""),
                ])?;
                let test = match typ.as_str() {
                    "CMD" => {
                        let cmd_slice: Vec<String> = if inst.json {
                            rest.to_vec()
                        } else if rest.is_empty() {
                            Vec::new()
                        } else {
                            vec![rest.join(" ")]
                        };
                        if cmd_slice.is_empty() {
                            return Err("Missing command after HEALTHCHECK CMD".to_owned());
                        }
                        let t = if inst.json { "CMD" } else { "CMD-SHELL" };
                        let mut test = vec![t.to_owned()];
                        test.extend(cmd_slice);
                        test
                    }
                    _ => {
                        return Err(format!(
                            "Unknown type {} in HEALTHCHECK (try CMD)",
                            golang::quote(&typ)
                        ));
                    }
                };
                let value = |n: &str| f.get(n).map(|v| v.value.clone()).unwrap_or_default();
                let interval = parse_opt_interval("interval", &value("interval"))?;
                let timeout = parse_opt_interval("timeout", &value("timeout"))?;
                let start_period = parse_opt_interval("start-period", &value("start-period"))?;
                let start_interval =
                    parse_opt_interval("start-interval", &value("start-interval"))?;
                let retries_s = value("retries");
                let retries = if retries_s.is_empty() {
                    0
                } else {
                    let r = golang::parse_int32(&retries_s).map_err(|e| match e {
                        golang::ParseIntError::Syntax => format!(
                            "strconv.ParseInt: parsing {}: invalid syntax",
                            golang::quote(&retries_s)
                        ),
                        golang::ParseIntError::Range => format!(
                            "strconv.ParseInt: parsing {}: value out of range",
                            golang::quote(&retries_s)
                        ),
                    })?;
                    if r < 0 {
                        return Err(format!("--retries cannot be negative ({r})"));
                    }
                    r
                };
                Healthcheck {
                    test,
                    interval,
                    timeout,
                    start_period,
                    start_interval,
                    retries,
                }
            };
            Command::Healthcheck(HealthcheckCommand { meta, health })
        }
        Keyword::Expose => {
            if args.is_empty() {
                return Err(err_at_least_one("EXPOSE"));
            }
            flags(&[])?;
            let mut ports = args.clone();
            ports.sort();
            Command::Expose(ExposeCommand { meta, ports })
        }
        Keyword::User => {
            if args.len() != 1 {
                return Err(err_exactly_one("USER"));
            }
            flags(&[])?;
            Command::User(UserCommand {
                meta,
                user: args[0].clone(),
            })
        }
        Keyword::Volume => {
            if args.is_empty() {
                return Err(err_at_least_one("VOLUME"));
            }
            flags(&[])?;
            let mut volumes = Vec::new();
            for v in args {
                let v = golang::trim_space(v);
                if v.is_empty() {
                    return Err("VOLUME specified can not be an empty string".to_owned());
                }
                volumes.push(v.to_owned());
            }
            Command::Volume(VolumeCommand { meta, volumes })
        }
        Keyword::StopSignal => {
            // BuildKit does not parse flags for STOPSIGNAL.
            if args.len() != 1 {
                return Err(err_exactly_one("STOPSIGNAL"));
            }
            Command::StopSignal(StopSignalCommand {
                meta,
                signal: args[0].clone(),
            })
        }
        Keyword::Arg => {
            // BuildKit does not parse flags for ARG.
            if args.is_empty() {
                return Err(err_at_least_one("ARG"));
            }
            let mut pairs = Vec::new();
            for a in args {
                match a.split_once('=') {
                    Some((k, v)) => {
                        if k.is_empty() {
                            return Err("ARG names can not be blank".to_owned());
                        }
                        pairs.push(ArgPair {
                            key: k.to_owned(),
                            value: Some(v.to_owned()),
                        });
                    }
                    None => pairs.push(ArgPair {
                        key: a.clone(),
                        value: None,
                    }),
                }
            }
            Command::Arg(ArgCommand { meta, args: pairs })
        }
        Keyword::Shell => {
            flags(&[])?;
            if args.is_empty() {
                return Err(err_at_least_one("SHELL"));
            }
            if !inst.json {
                return Err(err_not_json("SHELL", &inst.original));
            }
            Command::Shell(ShellCommand {
                meta,
                shell: args.clone(),
            })
        }
    };
    Ok(ParsedInstruction::Command(cmd))
}

/// `(?i)^\s*ONBUILD\s*` removed.
fn strip_onbuild(original: &str) -> &str {
    let is_s = |c: char| matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ');
    let s = original.trim_start_matches(is_s);
    match s.get(..7) {
        Some(kw) if kw.eq_ignore_ascii_case("onbuild") => s[7..].trim_start_matches(is_s),
        _ => original,
    }
}
