//! A lossless Dockerfile parser with source spans, typed instructions and BuildKit-exact
//! variable expansion. Pure: no file or environment access.
//!
//! # The model
//!
//! Parsing has three layers, mirroring BuildKit's Dockerfile frontend:
//!
//! 1. **Syntax** ([`parse`] → [`Dockerfile`]). The source becomes a list of [`Item`]s — parser
//!    [`Directive`]s, [`Comment`]s, [`Blank`] lines and [`Instruction`]s — each keeping its exact
//!    source text (`raw`), so [`Dockerfile::to_source`] gives back the input byte for byte. An
//!    instruction keeps its keyword, `--flags`, argument text, heredocs, BuildKit's logical line
//!    (`original`), and [`Span`]s (byte range, 1-based line and column). Rules, all BuildKit's:
//!    - directives (`# syntax=`, `# escape=`, `# check=`) count only at the very top; the first
//!      line that is not one (a comment, a blank line, an instruction) ends them, and later
//!      lines that look like directives are plain comments;
//!    - a line ending in the escape character (`\`, or `` ` `` with `# escape=``) continues on
//!      the next one; inside a continuation, comment lines and blank lines are skipped;
//!    - `RUN`, `COPY` and `ADD` in shell form (also as an `ONBUILD` trigger) read heredoc bodies
//!      (`<<EOF`, `<<-EOF`, `<<"EOF"`, several per line) after the logical line;
//!    - a valid JSON array of strings is exec form, a valid JSON array with anything else is an
//!      error, anything else is shell form.
//!
//!    Instruction keywords are case-insensitive; an unknown instruction is an error.
//! 2. **Typed instructions** ([`stages`] → [`ParsedStages`]). Global `ARG`s and [`Stage`]s of
//!    [`Command`]s, with BuildKit's checks and messages (argument counts, `unknown flag: --x`,
//!    `SHELL` must be JSON, heredoc sources of `COPY`/`ADD`, `RUN --mount/--network/--security`,
//!    `HEALTHCHECK` durations parsed like Go's `time.ParseDuration`, stage names, ...). Values stay
//!    unexpanded.
//! 3. **Expansion** ([`Lexer`], [`Command::expand`], [`FromCommand::expand`]). A port of
//!    BuildKit's `shell/lex.go` and of the per-command `Expand` rules: which words are expanded
//!    (see the [`expand`] module docs), with which lexer, and how (`ProcessWord`
//!    versus `ProcessWords`). [`Command::referenced_vars`] lists the variables a command uses.
//!
//! Errors are values: [`ParseError`] (`LINE:COL: message`) and [`ExpandError`]. No input makes
//! the parser panic.
//!
//! # BuildKit behaviours kept on purpose
//!
//! - `--flags` are read byte by byte with `\` as escape whatever the escape directive says, and
//!   each byte becomes one character (Go's `string(rune(b))`): a non-ASCII flag value comes out
//!   mangled (`--chown=é` gives `"Ã©"`), exactly as BuildKit hands it on.
//! - Shell-form `COPY`/`ADD`/`VOLUME`/`EXPOSE`/`FROM` split their arguments on blanks before any
//!   quote processing (`COPY "a b" /d` has the sources `"a` and `b"`, which then fail to expand).
//! - `STOPSIGNAL`, `ARG` and `HEALTHCHECK NONE` ignore their flags; `EXPOSE` sorts its ports.
//! - `ONBUILD` keeps its trigger as text; builds from the image re-parse it with the default
//!   escape character ([`parse_trigger`]).
//!
//! # Where this deliberately differs from BuildKit
//!
//! - BuildKit's parser accepts an unknown instruction and only its second layer rejects it;
//!   [`parse`] rejects it at once (except inside `ONBUILD`, which BuildKit checks only when the
//!   trigger runs; see [`OnbuildCommand::trigger`]).
//! - An empty file (or one with only comments) parses; [`stages`] reports
//!   `file with no instructions`.
//! - Error positions are the construct's own line and column (BuildKit reports some errors on
//!   the previous line).
//! - `${...}` nesting deeper than 200 levels is an error instead of deep recursion.
//!
//! # Example
//!
//! ```
//! use plinth_dockerfile::{parse, stages, Command, Lexer};
//!
//! let df = parse("ARG V=1\nFROM alpine:$V AS base\nENV X=\"a b\"\nRUN echo $X\n")?;
//! assert_eq!(df.to_source(), "ARG V=1\nFROM alpine:$V AS base\nENV X=\"a b\"\nRUN echo $X\n");
//! let parsed = stages(&df)?;
//! let lex = Lexer::new(df.escape);
//! let from = parsed.stages[0].from.expand(&lex, &[("V", "1")])?;
//! assert_eq!(from.base, "alpine:1");
//! let env = parsed.stages[0].commands[0].expand(&lex, &[("V", "1")])?;
//! let Command::Env(env) = env else { unreachable!() };
//! assert_eq!(env.pairs[0].value, "a b");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod dockerignore;
mod error;
pub mod expand;
mod golang;
mod instructions;
mod json;
mod lex;
mod mount;
mod span;
mod syntax;

pub use error::{ExpandError, ParseError};
pub use instructions::{
    AddCommand, ArgCommand, ArgPair, CmdCommand, Command, CommandMeta, CopyCommand,
    EntrypointCommand, EnvCommand, ExposeCommand, FromCommand, Healthcheck, HealthcheckCommand,
    HeredocFile, HeredocSource, KeyValue, LabelCommand, MaintainerCommand, NetworkMode,
    OnbuildCommand, ParsedInstruction, ParsedStages, RunCommand, RunScript, SecurityMode,
    ShellCommand, ShellOrExec, Stage, StopSignalCommand, UserCommand, VolumeCommand,
    WorkdirCommand, parse_instruction, parse_trigger, stages,
};
pub use lex::{EmptyEnv, Env, Lexer, ProcessResult, RecordingEnv, VarMatches};
pub use mount::{Mount, MountType, RunMount, Sharing};
pub use span::Span;
pub use syntax::{
    Blank, Comment, Directive, Dockerfile, Flag, Heredoc, Instruction, Item, Keyword,
    chomp_heredoc_content, parse,
};
