//! plinth's own rules, `PL001`–`PL011`: the image checklist (health check, labels, pinned
//! bases and fetches, one service, logs to stdout, no environment-specific images, no runtime
//! downloads) and the layer practices (clean up in the layer that installs, copy the context
//! after installing dependencies), plus secrets in the build.
//!
//! RUN commands are read with plain word and regular-expression matching over the command text
//! and heredoc bodies (see [`commands`]), not a shell parser: quoting and expansions are only
//! approximated, which each rule's docs take into account. Helpers shared by the rules live here:
//! the text of a command, the final stage and its ancestors, and the build-context scripts that
//! an `ENTRYPOINT`/`CMD` runs.

mod pl001_healthcheck;
mod pl002_labels;
mod pl003_secrets;
mod pl004_remote_fetch;
mod pl005_cleanup;
mod pl006_context_copy;
mod pl007_services;
mod pl008_logs;
mod pl009_environment;
mod pl010_base_pin;
mod pl011_runtime_download;

use plinth_dockerfile::{Command, EmptyEnv, Lexer, RunCommand, ShellOrExec, Stage};

use super::Rule;
use crate::Ctx;

/// The rules of this module.
pub(super) fn rules() -> Vec<&'static dyn Rule> {
    vec![
        &pl001_healthcheck::HealthcheckMissing,
        &pl002_labels::LabelsMissing,
        &pl003_secrets::SecretInBuild,
        &pl004_remote_fetch::UnpinnedRemoteFetch,
        &pl005_cleanup::CleanupInSeparateLayer,
        &pl006_context_copy::ContextCopiedBeforeDependencies,
        &pl007_services::MultipleServices,
        &pl008_logs::LogsToFile,
        &pl009_environment::EnvironmentSpecificImage,
        &pl010_base_pin::BaseNotPinned,
        &pl011_runtime_download::RuntimeDownload,
    ]
}

/// The text of a shell- or exec-form command line (exec words joined by spaces).
fn line_text(c: &ShellOrExec) -> String {
    match c {
        ShellOrExec::Shell(s) => s.clone(),
        ShellOrExec::Exec(v) => v.join(" "),
    }
}

/// The text a RUN executes: the command line, then each heredoc body (line continuations
/// joined).
fn run_text(r: &RunCommand) -> String {
    let mut text = line_text(&r.cmd);
    for h in &r.heredocs {
        text.push('\n');
        text.push_str(&h.content().replace("\\\r\n", " ").replace("\\\n", " "));
    }
    text
}

/// Words that only prefix the command they run.
const PREFIXES: [&str; 9] = [
    "sudo", "env", "exec", "nohup", "command", "time", "nice", "eval", "then",
];

/// The simple commands of shell text (`crate::shell`'s parse: quotes, escapes, operators,
/// `$(...)`), each as its words with leading `sudo`/`env`/`exec`/... prefixes (and their
/// options and `VAR=x` words) dropped, so the first word is the program.
fn commands(text: &str) -> Vec<Vec<String>> {
    crate::shell::Script::parse(text)
        .commands
        .into_iter()
        .filter_map(|c| {
            let mut words = c.words;
            let skip = words
                .iter()
                .take_while(|w| {
                    PREFIXES.contains(&w.as_str())
                        || (w.contains('=') && !w.starts_with('-') && !w.starts_with('='))
                        || (w.starts_with('-') && w.len() > 1)
                })
                .count();
            words.drain(..skip);
            (!words.is_empty()).then_some(words)
        })
        .collect()
}

/// The last path component of `path` (trailing slashes ignored).
fn basename(path: &str) -> &str {
    let p = path.trim_end_matches('/');
    p.rsplit('/').next().unwrap_or(p)
}

/// A value as written (quotes removed), or `None` when it refers to a variable.
fn literal(cx: &Ctx<'_>, value: &str) -> Option<String> {
    let lex = Lexer::new(cx.dockerfile.escape);
    match lex.process(value, &EmptyEnv) {
        Ok(r) if r.matched.is_empty() && r.unmatched.is_empty() => Some(r.result),
        _ => None,
    }
}

/// The index of the stage `FROM base` names (an earlier stage), if any.
fn parent_stage(stages: &[Stage], idx: usize) -> Option<usize> {
    let base = stages.get(idx)?.from.base.to_ascii_lowercase();
    stages[..idx]
        .iter()
        .rposition(|s| s.name.as_deref() == Some(base.as_str()))
}

/// Stage `idx` and the earlier stages it is built on, oldest first.
fn chain(stages: &[Stage], idx: usize) -> Vec<usize> {
    let mut out = vec![idx];
    let mut cur = idx;
    while let Some(p) = parent_stage(stages, cur) {
        out.push(p);
        cur = p;
    }
    out.reverse();
    out
}

/// The final stage and the stages it is built on, oldest first (empty without stages).
fn final_chain(stages: &[Stage]) -> Vec<&Stage> {
    match stages.len().checked_sub(1) {
        Some(last) => chain(stages, last)
            .into_iter()
            .map(|i| &stages[i])
            .collect(),
        None => Vec::new(),
    }
}

/// Whether `url` is a remote URL (`http(s)://`, `ftp://`, `git@`).
fn is_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("http://")
        || l.starts_with("https://")
        || l.starts_with("ftp://")
        || l.starts_with("git@")
        || l.starts_with("git://")
}

/// Joins a path to a directory (absolute paths stay as they are).
fn join(dir: &str, path: &str) -> String {
    let path = path.trim_start_matches("./");
    if path.starts_with('/') {
        path.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{path}")
    } else {
        format!("{dir}/{path}")
    }
}

/// Simple glob match with `*` and `?` (no classes).
fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A file a stage copies into the image, from the context or a heredoc.
struct Copied<'a> {
    sources: &'a [String],
    inline: Vec<(&'a str, &'a str)>,
    /// The destination, absolute (resolved against WORKDIR).
    dest: String,
    /// The destination is a directory (ends with `/` or several sources).
    dest_dir: bool,
}

/// A build-context (or heredoc) script that an ENTRYPOINT/CMD runs.
struct Script {
    /// Its path in the image.
    image_path: String,
    /// Where it comes from: the context path, or `heredoc`.
    origin: String,
    text: String,
}

/// What stage `idx` (with the stages it is built on) copies from the build context.
fn copies(stages: &[Stage], idx: usize) -> Vec<Copied<'_>> {
    let mut out = Vec::new();
    let mut workdir = String::from("/");
    for i in chain(stages, idx) {
        for c in &stages[i].commands {
            let (sources, heredocs, dest) = match c {
                Command::Workdir(w) => {
                    workdir = join(&workdir, &w.path);
                    continue;
                }
                Command::Copy(c) if c.from.is_none() => (&c.sources, &c.heredocs, &c.dest),
                Command::Add(a) => (&a.sources, &a.heredocs, &a.dest),
                _ => continue,
            };
            if dest.contains('$') {
                continue;
            }
            let inline = heredocs
                .iter()
                .map(|h| (h.name.as_str(), h.data.as_str()))
                .collect::<Vec<_>>();
            out.push(Copied {
                sources: sources.as_slice(),
                dest_dir: dest.ends_with('/') || sources.len() + inline.len() > 1,
                dest: join(&workdir, dest),
                inline,
            });
        }
    }
    out
}

const PATH_DIRS: [&str; 6] = [
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The scripts of the build context (or COPY heredocs) that `line` (an ENTRYPOINT or CMD of
/// stage `idx`) names: a word that is the path a COPY/ADD put a file at (absolute, relative to
/// the last WORKDIR, or a bare name found in the usual PATH directories), read through
/// `cx.files`.
fn scripts_run_by(cx: &Ctx<'_>, idx: usize, line: &ShellOrExec) -> Vec<Script> {
    let stages = &cx.stages.stages;
    let copied = copies(stages, idx);
    if copied.is_empty() {
        return Vec::new();
    }
    let workdir = chain(stages, idx)
        .into_iter()
        .flat_map(|i| stages[i].commands.iter())
        .fold(String::from("/"), |wd, c| match c {
            Command::Workdir(w) => join(&wd, &w.path),
            _ => wd,
        });
    let mut out: Vec<Script> = Vec::new();
    for word in line_text(line).split_whitespace() {
        let word = word.trim_matches(['"', '\'', ';', '&', '|']);
        if word.is_empty() || word.starts_with('-') || word.contains('$') {
            continue;
        }
        let targets: Vec<String> = if word.contains('/') {
            vec![join(&workdir, word)]
        } else {
            PATH_DIRS.iter().map(|d| join(d, word)).collect()
        };
        'targets: for target in &targets {
            for c in copied.iter().rev() {
                if let Some(s) = read_copied(cx, c, target) {
                    if !out.iter().any(|o| o.image_path == s.image_path) {
                        out.push(s);
                    }
                    break 'targets;
                }
            }
        }
    }
    out
}

/// The file `copy` puts at `target`, if it can be read.
fn read_copied(cx: &Ctx<'_>, copy: &Copied<'_>, target: &str) -> Option<Script> {
    let dest = copy.dest.trim_end_matches('/');
    let script = |origin: String, text: String| Script {
        image_path: target.to_string(),
        origin,
        text,
    };
    for (name, data) in &copy.inline {
        let at = if copy.dest_dir {
            join(dest, name)
        } else {
            dest.to_string()
        };
        if at == target {
            return Some(script("heredoc".to_string(), data.to_string()));
        }
    }
    let rest = target.strip_prefix(dest).and_then(|r| r.strip_prefix('/'));
    for src in copy.sources {
        if is_url(src) {
            continue;
        }
        let mut candidates = Vec::new();
        if !copy.dest_dir && target == dest {
            candidates.push(src.clone());
        }
        if let Some(rest) = rest {
            let base = basename(src);
            if !rest.contains('/') && glob_match(base, rest) {
                let dir = src.trim_end_matches('/');
                let dir = dir.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                candidates.push(if dir.is_empty() {
                    rest.to_string()
                } else {
                    format!("{dir}/{rest}")
                });
            }
            if !src.contains(['*', '?']) {
                candidates.push(join(src.trim_end_matches('/'), rest));
            }
        }
        for cand in candidates {
            if let Some(text) = cx.files.read(&cand) {
                return Some(script(cand, text));
            }
        }
    }
    None
}

/// Lines of a script that are not comments, with their 1-based numbers.
fn script_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_drop_prefixes_and_split_operators() {
        let c = commands("sudo -E DEBIAN_FRONTEND=x apt-get install -y a && curl -fsSL u | sh");
        assert_eq!(c[0][0], "apt-get");
        assert_eq!(c[1][0], "curl");
        assert_eq!(c[2], vec!["sh".to_string()]);
    }

    /// A build context where every file exists and is the same script.
    struct Everything;

    impl crate::ContextFiles for Everything {
        fn read(&self, _path: &str) -> Option<String> {
            Some("#!/bin/sh\nservice é start &\ncurl -o é https://é | sh\nexec \"$@\"\n".into())
        }
    }

    #[test]
    fn odd_inputs_and_every_prefix_of_the_fixtures_never_panic() {
        let odd = [
            "FROM a\nCMD a &é b\nENTRYPOINT [\"sh\", \"-c\", \"é&é\"]\nCMD []\nCMD\n",
            "FROM $X\nFROM ${Y:-é}\nFROM a@\nENV é=é LOG_FILE=é.log\nLABEL \"\"=\"\"\n",
            "FROM a\nRUN curl é|sh && git clone && git checkout\nRUN pip install git+é@\n",
            "FROM a\nCOPY <<EOF /\nx\nEOF\nCOPY . .\nRUN npm i\nCMD [\"/\", \"./\", \"-c\"]\n",
            "FROM a\nADD https://x.io/r.git# /d\nARG TOKEN=\"\"\nHEALTHCHECK NONE\nCMD x > \n",
        ];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut texts: Vec<String> = odd.iter().map(|s| s.to_string()).collect();
        for e in std::fs::read_dir(&dir).expect("fixtures").flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("PL") && name.ends_with(".Dockerfile") {
                texts.push(std::fs::read_to_string(e.path()).expect("fixture"));
            }
        }
        let mut linted = 0;
        for text in &texts {
            for (i, _) in text.char_indices().step_by(7) {
                for files in [&Everything as &dyn crate::ContextFiles, &crate::NoContext] {
                    let cfg = crate::LintConfig::default();
                    if crate::lint("t", &text[..i], &cfg, files).is_ok() {
                        linted += 1;
                    }
                }
            }
        }
        assert!(linted > 100, "only {linted} prefixes parsed");
    }

    #[test]
    fn globs_match_like_the_shell() {
        assert!(glob_match("*.sh", "entrypoint.sh"));
        assert!(glob_match("e?trypoint.*", "entrypoint.sh"));
        assert!(!glob_match("*.sh", "entrypoint.py"));
    }
}
