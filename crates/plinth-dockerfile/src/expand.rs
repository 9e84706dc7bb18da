//! Variable expansion of typed commands, following BuildKit's `Expand` methods and dispatchers:
//!
//! | command | what is expanded (with the stage environment, the file's escape character) |
//! |---|---|
//! | `ADD` | `--chown`, `--checksum`, source paths, destination; heredoc bodies unless the delimiter was quoted |
//! | `COPY` | `--chown`, source paths, destination; heredoc bodies unless the delimiter was quoted |
//! | `ENV`, `LABEL` | keys and values |
//! | `ARG` | default values, not names (BuildKit's `dispatchArg`: a default is only expanded when no build arg overrides it, so an engine should skip, or ignore errors of, overridden defaults) |
//! | `WORKDIR`, `USER`, `STOPSIGNAL` | the value |
//! | `VOLUME` | each path |
//! | `EXPOSE` | each port word, split into words (`ProcessWords`) |
//! | `RUN` | the values of `--mount` specs, which are then validated |
//! | `FROM` | base name and `--platform`, with the global `ARG`s only ([`FromCommand::expand`]) |
//! | `CMD`, `ENTRYPOINT`, `SHELL`, `HEALTHCHECK`, `MAINTAINER`, `ONBUILD`, `RUN` command | nothing |
//!
//! Not expanded by BuildKit: `COPY --from`, `--chmod`, `--exclude`, `--link`, `--parents`,
//! `ADD --keep-git-dir`/`--unpack`, `RUN --network`/`--security`, and `RUN` heredoc bodies.
//! Heredoc bodies use their own lexer: escape `\` and quotes left alone
//! ([`Lexer::for_heredoc_body`]).

use std::collections::BTreeSet;

use crate::error::ExpandError;
use crate::instructions::{Command, FromCommand, HeredocSource};
use crate::lex::{Env, Lexer, RecordingEnv, VarMatches};
use crate::mount::{self, RunMount};

fn expand_opt(
    lex: &Lexer,
    env: &(impl Env + ?Sized),
    v: &Option<String>,
) -> Result<Option<String>, ExpandError> {
    match v {
        Some(s) => {
            let e = lex.process_word(s, env)?;
            Ok(if e.is_empty() { None } else { Some(e) })
        }
        None => Ok(None),
    }
}

fn expand_all(
    lex: &Lexer,
    env: &(impl Env + ?Sized),
    v: &[String],
) -> Result<Vec<String>, ExpandError> {
    v.iter().map(|s| lex.process_word(s, env)).collect()
}

fn expand_heredocs(
    env: &(impl Env + ?Sized),
    v: &[HeredocSource],
) -> Result<Vec<HeredocSource>, ExpandError> {
    let raw = Lexer::for_heredoc_body();
    v.iter()
        .map(|h| {
            Ok(HeredocSource {
                data: if h.expand {
                    raw.process_word(&h.data, env)?
                } else {
                    h.data.clone()
                },
                ..h.clone()
            })
        })
        .collect()
}

impl Command {
    /// The command with variables expanded where BuildKit expands them (see the module docs).
    /// `lex` should be `Lexer::new(dockerfile.escape)` and `env` the stage environment (build
    /// args in scope and `ENV`s).
    pub fn expand(&self, lex: &Lexer, env: &(impl Env + ?Sized)) -> Result<Command, ExpandError> {
        Ok(match self {
            Command::Add(c) => {
                let mut c = c.clone();
                c.chown = expand_opt(lex, env, &c.chown)?;
                c.checksum = expand_opt(lex, env, &c.checksum)?;
                c.sources = expand_all(lex, env, &c.sources)?;
                c.dest = lex.process_word(&c.dest, env)?;
                c.heredocs = expand_heredocs(env, &c.heredocs)?;
                Command::Add(c)
            }
            Command::Copy(c) => {
                let mut c = c.clone();
                c.chown = expand_opt(lex, env, &c.chown)?;
                c.sources = expand_all(lex, env, &c.sources)?;
                c.dest = lex.process_word(&c.dest, env)?;
                c.heredocs = expand_heredocs(env, &c.heredocs)?;
                Command::Copy(c)
            }
            Command::Env(c) => {
                let mut c = c.clone();
                for p in &mut c.pairs {
                    p.key = lex.process_word(&p.key, env)?;
                    p.value = lex.process_word(&p.value, env)?;
                }
                Command::Env(c)
            }
            Command::Label(c) => {
                let mut c = c.clone();
                for p in &mut c.pairs {
                    p.key = lex.process_word(&p.key, env)?;
                    p.value = lex.process_word(&p.value, env)?;
                }
                Command::Label(c)
            }
            Command::Arg(c) => {
                let mut c = c.clone();
                for p in &mut c.args {
                    if let Some(v) = &p.value {
                        p.value = Some(lex.process_word(v, env)?);
                    }
                }
                Command::Arg(c)
            }
            Command::Workdir(c) => {
                let mut c = c.clone();
                c.path = lex.process_word(&c.path, env)?;
                Command::Workdir(c)
            }
            Command::User(c) => {
                let mut c = c.clone();
                c.user = lex.process_word(&c.user, env)?;
                Command::User(c)
            }
            Command::StopSignal(c) => {
                let mut c = c.clone();
                c.signal = lex.process_word(&c.signal, env)?;
                Command::StopSignal(c)
            }
            Command::Volume(c) => {
                let mut c = c.clone();
                c.volumes = expand_all(lex, env, &c.volumes)?;
                Command::Volume(c)
            }
            Command::Expose(c) => {
                let mut c = c.clone();
                let mut ports = Vec::new();
                for p in &c.ports {
                    ports.extend(lex.process_words(p, env)?);
                }
                c.ports = ports;
                Command::Expose(c)
            }
            Command::Run(c) => {
                let mut c = c.clone();
                for m in &mut c.mounts {
                    if let RunMount::Unresolved(spec) = m {
                        let resolved =
                            mount::resolve(spec, &mut |v: &str| lex.process_word(v, env))?;
                        *m = RunMount::Resolved(resolved);
                    }
                }
                Command::Run(c)
            }
            Command::Cmd(_)
            | Command::Entrypoint(_)
            | Command::Shell(_)
            | Command::Healthcheck(_)
            | Command::Maintainer(_)
            | Command::Onbuild(_) => self.clone(),
        })
    }

    /// [`Command::expand`], also reporting which variables were looked up (set or not).
    pub fn expand_with_matches(
        &self,
        lex: &Lexer,
        env: &(impl Env + ?Sized),
    ) -> Result<(Command, VarMatches), ExpandError> {
        let rec = RecordingEnv::new(env);
        let c = self.expand(lex, &rec)?;
        Ok((c, rec.matches()))
    }

    /// The names of all variables the expanded parts of this command refer to, whatever their
    /// values (for cache keys: the build args a command depends on). Errors only on malformed
    /// variable syntax.
    pub fn referenced_vars(&self, lex: &Lexer) -> Result<BTreeSet<String>, ExpandError> {
        let mut words: Vec<(Lexer, String)> = Vec::new();
        let mut push = |l: Lexer, s: &str| words.push((l, s.to_owned()));
        let raw = Lexer::for_heredoc_body();
        match self {
            Command::Add(c) => {
                for s in c.chown.iter().chain(&c.checksum).chain(&c.sources) {
                    push(*lex, s);
                }
                push(*lex, &c.dest);
                for h in c.heredocs.iter().filter(|h| h.expand) {
                    push(raw, &h.data);
                }
            }
            Command::Copy(c) => {
                for s in c.chown.iter().chain(&c.sources) {
                    push(*lex, s);
                }
                push(*lex, &c.dest);
                for h in c.heredocs.iter().filter(|h| h.expand) {
                    push(raw, &h.data);
                }
            }
            Command::Env(c) => {
                for p in &c.pairs {
                    push(*lex, &p.key);
                    push(*lex, &p.value);
                }
            }
            Command::Label(c) => {
                for p in &c.pairs {
                    push(*lex, &p.key);
                    push(*lex, &p.value);
                }
            }
            Command::Arg(c) => {
                for p in &c.args {
                    if let Some(v) = &p.value {
                        push(*lex, v);
                    }
                }
            }
            Command::Workdir(c) => push(*lex, &c.path),
            Command::User(c) => push(*lex, &c.user),
            Command::StopSignal(c) => push(*lex, &c.signal),
            Command::Volume(c) => c.volumes.iter().for_each(|v| push(*lex, v)),
            Command::Expose(c) => c.ports.iter().for_each(|v| push(*lex, v)),
            Command::Run(c) => {
                for m in &c.mounts {
                    if let RunMount::Unresolved(spec) = m {
                        for v in mount::expandable_values(spec) {
                            push(*lex, &v);
                        }
                    }
                }
            }
            Command::Cmd(_)
            | Command::Entrypoint(_)
            | Command::Shell(_)
            | Command::Healthcheck(_)
            | Command::Maintainer(_)
            | Command::Onbuild(_) => {}
        }
        let mut out = BTreeSet::new();
        for (l, w) in words {
            out.extend(l.referenced_vars(&w)?);
        }
        Ok(out)
    }
}

impl FromCommand {
    /// Expands the base name and `--platform` with `env`, which must hold only the global
    /// `ARG`s (those before the first `FROM`, with build-arg overrides applied), as BuildKit does.
    pub fn expand(
        &self,
        lex: &Lexer,
        env: &(impl Env + ?Sized),
    ) -> Result<FromCommand, ExpandError> {
        let base = lex.process_word(&self.base, env)?;
        if base.is_empty() {
            return Err(ExpandError::new(format!(
                "base name ({}) should not be blank",
                self.base
            )));
        }
        let platform = match &self.platform {
            Some(p) => {
                let e = lex.process_word(p, env).map_err(|e| {
                    ExpandError::new(format!(
                        "failed to process arguments for platform {p}: {}",
                        e.message
                    ))
                })?;
                if e.is_empty() {
                    return Err(ExpandError::new(format!(
                        "empty platform value from expression {p}"
                    )));
                }
                Some(e)
            }
            None => None,
        };
        Ok(FromCommand {
            base,
            platform,
            ..self.clone()
        })
    }

    /// The global `ARG`s the base name and platform refer to.
    pub fn referenced_vars(&self, lex: &Lexer) -> Result<BTreeSet<String>, ExpandError> {
        let mut out = lex.referenced_vars(&self.base)?;
        if let Some(p) = &self.platform {
            out.extend(lex.referenced_vars(p)?);
        }
        Ok(out)
    }
}
