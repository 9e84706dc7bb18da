//! PL008 logs-to-file.

use std::sync::LazyLock;

use plinth_dockerfile::{Command, ShellOrExec};
use regex::Regex;

use super::{literal, run_text};
use crate::Ctx;
use crate::finding::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

static META: RuleMeta = RuleMeta {
    code: "PL008",
    name: "logs-to-file",
    severity: Severity::Warning,
    summary: "The service should log to stdout/stderr, not to files in the image.",
};

/// Flags log output sent to files (seed 003, checklist item 5):
///
/// - an `ENTRYPOINT`/`CMD` (shell form, or the `sh -c` string of the exec form) that redirects
///   output into a file (`> /var/log/app.log`, `>> x.log 2>&1`, `&> f`) or `tee`s into a
///   `*.log` file or one under `/var/log/`;
/// - an `ENTRYPOINT`/`CMD` argument `--log-file`/`--logfile`/`--error-logfile`/
///   `--access-logfile`/`--log-path` (`=value` or next word) naming a file;
/// - an `ENV` whose name has the word `LOG` (`LOG_FILE`, `APP_LOGFILE`, `ERROR_LOG_PATH`; not
///   `*_DIR`) set to a `*.log` file or a file under `/var/log/`.
///
/// Fine targets: `/dev/stdout`, `/dev/stderr`, `/dev/null`, `/proc/self/fd/N`, `-`, and files
/// a RUN of the stage symlinks to stdout/stderr (`ln -sf /dev/stdout /var/log/nginx/access.log`,
/// as the official nginx image does). Known misses: logging configured in config files.
pub(super) struct LogsToFile;

static REDIRECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[^<>&0-9])(?:[12]|&)?>>?[ \t]*([^\s&|;<>'"()]+)"#).expect("regex")
});
static TEE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\btee\s+(?:-\S+\s+)*([^\s&|;<>'"()]+)"#).expect("regex"));
static LOG_FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^--?(?:[a-z]+[-_])*(?:log[-_]?file|log[-_]path|logfile)$").expect("regex")
});
static LINK_TO_STDOUT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\bln\s+(?:-\S+\s+)*(?:/dev/std(?:out|err)|/proc/self/fd/[12])\s+([^\s&|;]+)")
        .expect("regex")
});

/// Whether writing to `target` keeps logs out of the image.
fn fine_target(target: &str, linked: &[String]) -> bool {
    let t = target.trim_matches(['"', '\'']);
    t.starts_with('&')
        || t == "-"
        || matches!(t, "/dev/stdout" | "/dev/stderr" | "/dev/null")
        || t.starts_with("/proc/self/fd/")
        || t.starts_with("/dev/fd/")
        || linked.iter().any(|l| l == t)
}

fn log_file(value: &str) -> bool {
    value.ends_with(".log") || value.starts_with("/var/log/")
}

/// Where a command line writes logs to a file, if it does.
fn writes_log(line: &ShellOrExec, linked: &[String]) -> Option<String> {
    let words: Vec<&str> = match line {
        ShellOrExec::Shell(s) => s.split_whitespace().collect(),
        ShellOrExec::Exec(v) => v.iter().map(String::as_str).collect(),
    };
    for (i, w) in words.iter().enumerate() {
        let (flag, value) = match w.split_once('=') {
            Some((f, v)) => (f, Some(v)),
            None => (*w, words.get(i + 1).copied()),
        };
        if LOG_FLAG.is_match(flag)
            && let Some(v) = value
            && !fine_target(v, linked)
        {
            return Some(format!("`{flag}` writes logs to {v}"));
        }
    }
    let shell_texts: Vec<&str> = match line {
        ShellOrExec::Shell(s) => vec![s.as_str()],
        ShellOrExec::Exec(v) => match v.iter().position(|w| w == "-c") {
            Some(i) => v[i + 1..].iter().map(String::as_str).collect(),
            None => Vec::new(),
        },
    };
    for text in shell_texts {
        for cap in REDIRECT.captures_iter(text) {
            let target = &cap[1];
            if !fine_target(target, linked) {
                return Some(format!("output is redirected into {target}"));
            }
        }
        for cap in TEE.captures_iter(text) {
            let target = &cap[1];
            if log_file(target) && !fine_target(target, linked) {
                return Some(format!("output is copied into {target}"));
            }
        }
    }
    None
}

impl Rule for LogsToFile {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for stage in &cx.stages.stages {
            let linked: Vec<String> = stage
                .commands
                .iter()
                .filter_map(|c| match c {
                    Command::Run(r) => Some(run_text(r)),
                    _ => None,
                })
                .flat_map(|t| {
                    LINK_TO_STDOUT
                        .captures_iter(&t)
                        .map(|c| c[1].to_string())
                        .collect::<Vec<_>>()
                })
                .collect();
            for c in &stage.commands {
                match c {
                    Command::Cmd(_) | Command::Entrypoint(_) => {
                        let (kw, line, span) = match c {
                            Command::Cmd(c) => ("CMD", &c.cmd, c.meta.span),
                            Command::Entrypoint(e) => ("ENTRYPOINT", &e.cmd, e.meta.span),
                            _ => continue,
                        };
                        if let Some(why) = writes_log(line, &linked) {
                            out.push(cx.finding(
                                &META,
                                span,
                                format!("{kw}: {why}; log to stdout/stderr instead"),
                            ));
                        }
                    }
                    Command::Env(e) => {
                        for kv in &e.pairs {
                            let name = kv.key.to_ascii_uppercase();
                            let words: Vec<&str> = name.split(['_', '-', '.']).collect();
                            let logish = words
                                .iter()
                                .any(|w| matches!(*w, "LOG" | "LOGFILE" | "LOGPATH" | "LOGS"))
                                && !matches!(words.last(), Some(&("DIR" | "DIRECTORY" | "LEVEL")));
                            let Some(value) = literal(cx, &kv.value) else {
                                continue;
                            };
                            if logish && log_file(&value) && !fine_target(&value, &linked) {
                                out.push(cx.finding(
                                    &META,
                                    e.meta.span,
                                    format!(
                                        "ENV {}={value} sends logs to a file; log to \
                                         stdout/stderr instead",
                                        kv.key
                                    ),
                                ));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects() {
        let sh = |s: &str| writes_log(&ShellOrExec::Shell(s.into()), &[]);
        assert!(sh("app >> /var/log/app.log 2>&1").is_some());
        assert!(sh("app &> out.txt").is_some());
        assert!(sh("app > /dev/stdout 2>&1").is_none());
        assert!(sh("app 2>/proc/self/fd/2").is_none());
        assert!(sh("app --log-file=/var/log/a.log").is_some());
        assert!(sh("gunicorn --access-logfile - app:app").is_none());
        assert!(sh("app | tee -a /var/log/app.log").is_some());
        let linked = vec!["/var/log/nginx/access.log".to_string()];
        let line = ShellOrExec::Shell("nginx > /var/log/nginx/access.log".into());
        assert!(writes_log(&line, &linked).is_none());
    }
}
