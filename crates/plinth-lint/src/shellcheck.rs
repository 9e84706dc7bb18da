//! ShellCheck on RUN scripts, as hadolint does it, without running anything here: [`scripts`]
//! gives the script of every shell-form RUN (or its heredoc script) with the shell it runs in,
//! [`Script::args`] the `shellcheck` arguments, [`findings`] turns ShellCheck's `json1` output
//! into `SCxxxx` findings at the RUN's line, and [`filter`] applies the inline ignores and the
//! configuration to them (the CLI runs the program).
//!
//! As in hadolint, the script starts with a shebang of the stage's SHELL and `export NAME=1`
//! for the proxy variables and every ARG and ENV seen so far in the stage (so they do not count
//! as unassigned), SC2187 (ash not supported) and SC1090 (a `source` that needs a directive) are
//! left out, and PowerShell (or any shell ShellCheck does not know) is not checked.

use plinth_dockerfile::{Command, ShellOrExec};
use serde_json::Value;

use crate::config::LintConfig;
use crate::finding::{Finding, Severity};
use crate::{LintError, ignore};

/// ShellCheck codes hadolint leaves out: 2187 (ash is not supported, so it is checked as sh)
/// and 1090 (`source` of a computed path needs a directive a Dockerfile cannot hold).
pub const EXCLUDED: [u32; 2] = [2187, 1090];

/// The variables every RUN has (BuildKit's predefined proxy args).
const PREDEFINED: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// A shell dialect ShellCheck checks (`shellcheck -s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sh,
    Bash,
    Dash,
    Ksh,
}

impl Dialect {
    /// ShellCheck's name of the dialect.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Sh => "sh",
            Dialect::Bash => "bash",
            Dialect::Dash => "dash",
            Dialect::Ksh => "ksh",
        }
    }

    /// The dialect of a shell program (`/bin/bash`, `sh`, `/usr/bin/env bash`...), `None` for
    /// one ShellCheck does not check (PowerShell, cmd, zsh, python...).
    pub fn of_program(words: &[&str]) -> Option<Dialect> {
        let mut words = words.iter().copied();
        let mut program = words.next()?;
        let base = |p: &str| {
            p.rsplit(['/', '\\'])
                .next()
                .unwrap_or(p)
                .to_ascii_lowercase()
        };
        if base(program) == "env" {
            program = words.find(|w| !w.starts_with('-'))?;
        }
        match base(program).as_str() {
            "sh" | "ash" | "busybox" => Some(Dialect::Sh),
            "bash" => Some(Dialect::Bash),
            "dash" => Some(Dialect::Dash),
            "ksh" | "mksh" | "ksh93" => Some(Dialect::Ksh),
            _ => None,
        }
    }
}

/// One script to check: a file for ShellCheck whose shebang names its dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The RUN's first line and column, and its last line.
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub dialect: Dialect,
    /// The text to give ShellCheck on stdin (shebang and exports first).
    pub text: String,
    /// How many lines of `text` come before the RUN's own script.
    pub prelude_lines: u32,
}

/// Whether a shell-form command is only heredoc redirections (`<<EOF`, `<<-"EOF" <<X`): the
/// heredocs are then the script.
fn only_heredocs(cmd: &str) -> bool {
    let words: Vec<&str> = cmd.split_whitespace().collect();
    !words.is_empty() && words.iter().all(|w| w.starts_with("<<"))
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// The scripts of every shell-form RUN of `text` (named `path` in a parse error).
pub fn scripts(path: &str, text: &str) -> Result<Vec<Script>, LintError> {
    let df = plinth_dockerfile::parse(text).map_err(|e| LintError::from((path, e)))?;
    let stages = plinth_dockerfile::stages(&df).map_err(|e| LintError::from((path, e)))?;
    let mut out = Vec::new();
    for stage in &stages.stages {
        let mut shell: Vec<String> = vec!["/bin/sh".into(), "-c".into()];
        let mut vars: Vec<String> = PREDEFINED.iter().map(|v| v.to_string()).collect();
        for cmd in &stage.commands {
            match cmd {
                Command::Shell(s) => shell = s.shell.clone(),
                Command::Arg(a) => vars.extend(a.args.iter().map(|p| p.key.clone())),
                Command::Env(e) => vars.extend(e.pairs.iter().map(|p| p.key.clone())),
                Command::Run(run) => {
                    let ShellOrExec::Shell(cmdline) = &run.cmd else {
                        continue;
                    };
                    let words: Vec<&str> = shell.iter().map(String::as_str).collect();
                    let Some(mut dialect) = Dialect::of_program(&words) else {
                        continue;
                    };
                    let body = if only_heredocs(cmdline) && !run.heredocs.is_empty() {
                        let mut body = String::new();
                        for h in &run.heredocs {
                            body.push_str(&with_newline(h.content()));
                        }
                        // A heredoc with a shebang is run by that program.
                        if let Some(first) = body.lines().next()
                            && let Some(bang) = first.strip_prefix("#!")
                        {
                            let words: Vec<&str> = bang.split_whitespace().collect();
                            match Dialect::of_program(&words) {
                                Some(d) => dialect = d,
                                None => continue,
                            }
                            body = body.split_once('\n').map(|x| x.1).unwrap_or("").to_string();
                            // Keep ShellCheck's line numbers pointing at the same lines.
                            body.insert(0, '\n');
                        }
                        body
                    } else {
                        let mut body = with_newline(cmdline.clone());
                        for h in &run.heredocs {
                            body.push_str(&with_newline(h.content()));
                            body.push_str(&h.name);
                            body.push('\n');
                        }
                        body
                    };
                    let mut prelude = format!("#!/bin/{}\n", dialect.as_str());
                    let mut names: Vec<&String> = vars
                        .iter()
                        .filter(|v| {
                            !v.is_empty()
                                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                        })
                        .collect();
                    names.sort();
                    names.dedup();
                    for v in names {
                        prelude.push_str(&format!("export {v}=1\n"));
                    }
                    let prelude_lines = u32::try_from(prelude.lines().count()).unwrap_or(0);
                    let span = run.meta.span;
                    let covered = span.text(text).trim_end_matches(['\n', '\r']);
                    let end_line =
                        span.line + u32::try_from(covered.matches('\n').count()).unwrap_or(0);
                    out.push(Script {
                        line: span.line,
                        column: span.col,
                        end_line,
                        dialect,
                        text: prelude + &body,
                        prelude_lines,
                    });
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

/// ShellCheck's arguments to check several script files at once, each in the dialect its
/// shebang names (every [`Script::text`] starts with one).
pub fn batch_args() -> Vec<String> {
    let excluded: Vec<String> = EXCLUDED.iter().map(|c| format!("SC{c}")).collect();
    vec![
        "--format".into(),
        "json1".into(),
        "--exclude".into(),
        excluded.join(","),
    ]
}

/// ShellCheck's `--format json1` output of a run over several files, split into one json1
/// document (`{"comments": [...]}`) per file name, for [`findings`].
pub fn split_by_file(json1: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    let v: Value =
        serde_json::from_str(json1).map_err(|e| format!("ShellCheck's output is not JSON: {e}"))?;
    let comments = v
        .get("comments")
        .and_then(Value::as_array)
        .ok_or("ShellCheck's output has no \"comments\" array")?;
    let mut by_file: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for c in comments {
        let file = c
            .get("file")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("ShellCheck's comment {c} names no file"))?;
        by_file.entry(file.to_string()).or_default().push(c.clone());
    }
    Ok(by_file
        .into_iter()
        .map(|(f, cs)| (f, serde_json::json!({ "comments": cs }).to_string()))
        .collect())
}

/// ShellCheck's `--format json1` output for `script` as findings at the RUN (`SC2086`, with
/// ShellCheck's level and message); comments about the prelude are dropped.
pub fn findings(script: &Script, json1: &str) -> Result<Vec<Finding>, String> {
    let v: Value =
        serde_json::from_str(json1).map_err(|e| format!("ShellCheck's output is not JSON: {e}"))?;
    let comments = v
        .get("comments")
        .and_then(Value::as_array)
        .ok_or("ShellCheck's output has no \"comments\" array")?;
    let mut out = Vec::new();
    for c in comments {
        let (Some(code), Some(level), Some(message)) = (
            c.get("code").and_then(Value::as_u64),
            c.get("level").and_then(Value::as_str),
            c.get("message").and_then(Value::as_str),
        ) else {
            return Err(format!(
                "ShellCheck's comment {c} lacks code, level or message"
            ));
        };
        let line = c.get("line").and_then(Value::as_u64).unwrap_or(0);
        if line <= u64::from(script.prelude_lines) || EXCLUDED.iter().any(|x| u64::from(*x) == code)
        {
            continue;
        }
        let severity = match level {
            "warning" => Severity::Warning,
            "info" => Severity::Info,
            "style" => Severity::Style,
            _ => Severity::Error,
        };
        out.push(Finding {
            code: format!("SC{code}"),
            severity,
            message: message.to_string(),
            line: script.line,
            column: script.column,
            end_line: script.end_line,
        });
    }
    out.dedup();
    Ok(out)
}

/// `found` (findings from outside the rules, e.g. ShellCheck's) less what the inline ignores of
/// `text` and the configuration switch off, with the configuration's severity overrides; in
/// source order. `text` must parse (it is the text [`scripts`] read).
pub fn filter(text: &str, config: &LintConfig, found: Vec<Finding>) -> Vec<Finding> {
    let ignores = match plinth_dockerfile::parse(text) {
        Ok(df) => ignore::Ignores::of(&df, config.pragmas()),
        Err(_) => ignore::Ignores::default(),
    };
    crate::settle(&ignores, config, found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Level;

    #[test]
    fn every_shell_form_run_gives_a_script_in_its_stages_shell() {
        let text = "FROM a\nARG VERSION\nENV HOME_DIR=/x\nRUN echo $VERSION \\\n  && ls\nRUN [\"echo\", \"exec form\"]\n\
                    SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN echo hi | cat\n\
                    SHELL [\"pwsh\", \"-c\"]\nRUN Write-Host hi\nFROM b\nRUN echo $VERSION\n";
        let s = scripts("Dockerfile", text).unwrap();
        assert_eq!(s.len(), 3, "{s:#?}");
        assert_eq!((s[0].line, s[0].column, s[0].end_line), (4, 1, 5));
        assert_eq!(s[0].dialect, Dialect::Sh);
        assert!(s[0].text.starts_with("#!/bin/sh\n"));
        assert!(
            s[0].text.contains("export VERSION=1\n") && s[0].text.contains("export HOME_DIR=1\n")
        );
        assert!(
            s[0].text.contains("echo $VERSION") && s[0].text.ends_with("&& ls\n"),
            "{:?}",
            s[0].text
        );
        assert_eq!(s[1].dialect, Dialect::Bash);
        assert_eq!(s[1].line, 8);
        // A new stage: the shell and the variables start over.
        assert_eq!((s[2].line, s[2].dialect), (12, Dialect::Sh));
        assert!(!s[2].text.contains("VERSION=1"));
        let last_prelude_line = s[2]
            .text
            .lines()
            .nth(usize::try_from(s[2].prelude_lines).unwrap() - 1);
        assert_eq!(last_prelude_line, Some("export no_proxy=1"));
        // ShellCheck takes the dialect from the script's shebang (one run checks many files).
        assert!(s[2].text.starts_with("#!/bin/sh\n"), "{}", s[2].text);
        assert_eq!(
            batch_args(),
            ["--format", "json1", "--exclude", "SC2187,SC1090"]
        );
    }

    #[test]
    fn heredoc_scripts_and_their_shebangs() {
        let text = "FROM a\nRUN <<EOF\n#!/bin/bash\necho $x\nEOF\nRUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\nRUN cat <<EOF > /f\nhello\nEOF\n";
        let s = scripts("Dockerfile", text).unwrap();
        assert_eq!(s.len(), 2, "{s:#?}");
        assert_eq!(s[0].dialect, Dialect::Bash);
        assert!(s[0].text.ends_with("\necho $x\n"), "{:?}", s[0].text);
        assert!(!s[0].text.contains("<<EOF"));
        assert_eq!((s[0].line, s[0].end_line), (2, 5));
        assert!(
            s[1].text.ends_with("cat <<EOF > /f\nhello\nEOF\n"),
            "{:?}",
            s[1].text
        );
    }

    #[test]
    fn json1_output_becomes_findings_at_the_run() {
        let script = Script {
            line: 7,
            column: 1,
            end_line: 9,
            dialect: Dialect::Sh,
            text: String::new(),
            prelude_lines: 3,
        };
        let out = r#"{"comments":[
            {"file":"-","line":5,"endLine":5,"column":6,"endColumn":8,"level":"info","code":2086,"message":"Double quote to prevent globbing and word splitting.","fix":null},
            {"file":"-","line":4,"column":1,"level":"error","code":1073,"message":"Couldn't parse"},
            {"file":"-","line":2,"column":1,"level":"warning","code":2034,"message":"prelude"},
            {"file":"-","line":6,"column":1,"level":"warning","code":1090,"message":"excluded"},
            {"file":"-","line":6,"column":1,"level":"style","code":2006,"message":"Use $(...)"}
        ]}"#;
        let f = findings(&script, out).unwrap();
        let got: Vec<(&str, Severity, u32, u32)> = f
            .iter()
            .map(|x| (x.code.as_str(), x.severity, x.line, x.end_line))
            .collect();
        assert_eq!(
            got,
            [
                ("SC2086", Severity::Info, 7, 9),
                ("SC1073", Severity::Error, 7, 9),
                ("SC2006", Severity::Style, 7, 9)
            ]
        );
        assert!(findings(&script, "not json").is_err());
        assert!(findings(&script, "{}").is_err());
        assert!(findings(&script, r#"{"comments":[{"line":5}]}"#).is_err());
    }

    #[test]
    fn inline_ignores_and_configuration_apply_to_sc_codes() {
        let text = "FROM a\n# hadolint ignore=SC2086\nRUN echo $x\nRUN echo $y\nRUN echo `z`\n";
        let f = |code: &str, line| Finding {
            code: code.into(),
            severity: Severity::Info,
            message: "m".into(),
            line,
            column: 1,
            end_line: line,
        };
        let found = vec![
            f("SC2086", 4),
            f("SC2086", 3),
            f("SC2006", 5),
            f("SC2016", 5),
        ];
        let config = LintConfig {
            ignored: vec!["SC2016".into()],
            severity: [("SC2006".to_string(), Level::Error)].into(),
            ..LintConfig::default()
        };
        let out = filter(text, &config, found.clone());
        let got: Vec<(&str, u32, Severity)> = out
            .iter()
            .map(|x| (x.code.as_str(), x.line, x.severity))
            .collect();
        assert_eq!(
            got,
            [
                ("SC2086", 4, Severity::Info),
                ("SC2006", 5, Severity::Error)
            ]
        );
        let config = LintConfig {
            disable_ignore_pragma: true,
            ..LintConfig::default()
        };
        assert_eq!(filter(text, &config, found).len(), 4);
    }
}
