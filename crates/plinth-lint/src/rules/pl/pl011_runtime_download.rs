//! PL011 runtime-download.

use std::sync::LazyLock;

use plinth_dockerfile::Command;
use regex::Regex;

use super::{basename, commands, line_text, script_lines, scripts_run_by};
use crate::Ctx;
use crate::finding::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

static META: RuleMeta = RuleMeta {
    code: "PL011",
    name: "runtime-download",
    severity: Severity::Warning,
    summary: "The container should not download or install anything when it starts.",
};

/// Flags an `ENTRYPOINT`/`CMD` (of any stage) that downloads or installs at start-up (seed 003,
/// checklist item 9: start-up then depends on the network and the image is not what runs),
/// directly or in a build-context script it runs (a word of the ENTRYPOINT/CMD that is where a
/// `COPY`/`ADD` put a file: absolute, relative to WORKDIR, or a bare name in a PATH directory;
/// the script is read through the build context, or from a COPY heredoc; comment lines skipped).
///
/// Installs: `pip install`, `npm install/i/ci`, `yarn add/install`, `pnpm add/install`,
/// `apt-get/apt install`, `apk add`, `yum/dnf/microdnf install`, `gem install`,
/// `bundle install`, `composer install/require`, `go get/install`, `cargo install`,
/// `git clone`. Downloads: `curl` with `-o`/`-O`/`--output`/`--remote-name`, `wget` unless it
/// only prints (`-O-`, `--spider`, `-O /dev/null`), and either piped into a shell, `tar`,
/// `unzip` or an interpreter. Plain `curl URL` (a health or readiness probe, or a curl image's
/// ENTRYPOINT) is not a download. Known misses: downloads in programs other than these tools,
/// scripts created by RUN or copied from other stages.
///
/// Also flags `ENV PACKAGE_URL=...` with a value: plinth-init (and seed 001's wrappers) then
/// downloads and unpacks a package at every start. plinth-init does it only with a
/// `PACKAGE_SHA256`, but the image still depends on the network and on the URL staying up.
pub(super) struct RuntimeDownload;

static PIPED_DOWNLOAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:curl|wget)\b[^|;&\n]*\|\s*(?:sudo\s+)?(?:\S*/)?(?:(?:ba|z|da|k|a)?sh|tar|unzip|gunzip|bsdtar|python3?|perl|ruby|node)\b",
    )
    .expect("regex")
});

/// The download or install in shell text, if any.
fn download_in(text: &str) -> Option<String> {
    if let Some(m) = PIPED_DOWNLOAD.find(text) {
        return Some(m.as_str().trim().to_string());
    }
    for words in commands(text) {
        let prog = basename(&words[0]);
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let sub = args.iter().find(|a| !a.starts_with('-')).copied();
        let hit = match (prog, sub) {
            ("pip" | "pip3" | "uv", Some("install" | "pip")) => true,
            ("python" | "python3", _) => args.windows(3).any(|w| w == ["-m", "pip", "install"]),
            ("npm", Some("install" | "i" | "ci")) => true,
            ("yarn" | "pnpm", Some("add" | "install")) => true,
            ("apt-get" | "apt" | "yum" | "dnf" | "microdnf", Some("install")) => true,
            ("apk", Some("add")) => true,
            ("gem", Some("install")) | ("bundle", Some("install")) => true,
            ("composer", Some("install" | "require")) => true,
            ("go", Some("get" | "install")) | ("cargo", Some("install")) => true,
            ("git", Some("clone")) => true,
            ("curl", _) => args.iter().any(|a| {
                *a == "--output"
                    || *a == "--remote-name"
                    || *a == "--remote-name-all"
                    || (a.starts_with('-')
                        && !a.starts_with("--")
                        && a[1..].chars().any(|c| c == 'o' || c == 'O'))
            }),
            ("wget", _) => {
                let prints = args.windows(2).any(|w| {
                    matches!(w[0], "-O" | "-qO" | "--output-document")
                        && matches!(w[1], "-" | "/dev/null")
                }) || args.iter().any(|a| {
                    matches!(*a, "-O-" | "-qO-" | "--spider" | "--output-document=-")
                        || a.ends_with("O-")
                });
                !prints
            }
            _ => false,
        };
        if hit {
            return Some(words.join(" "));
        }
    }
    None
}

impl Rule for RuntimeDownload {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for (idx, stage) in cx.stages.stages.iter().enumerate() {
            for c in &stage.commands {
                if let Command::Env(e) = c {
                    let set = e.pairs.iter().any(|kv| {
                        kv.key == "PACKAGE_URL" && !kv.value.trim_matches(['"', '\'']).is_empty()
                    });
                    if set {
                        out.push(cx.finding(
                            &META,
                            e.meta.span,
                            "ENV PACKAGE_URL makes plinth-init download and unpack a package at \
                             every start: COPY or ADD (with --checksum) the package while \
                             building the image"
                                .to_string(),
                        ));
                    }
                    continue;
                }
                let (kw, line, meta) = match c {
                    Command::Cmd(c) => ("CMD", &c.cmd, &c.meta),
                    Command::Entrypoint(e) => ("ENTRYPOINT", &e.cmd, &e.meta),
                    _ => continue,
                };
                if let Some(what) = download_in(&line_text(line)) {
                    out.push(cx.finding(
                        &META,
                        meta.span,
                        format!(
                            "{kw} runs `{what}` at start-up: download and install while \
                             building the image"
                        ),
                    ));
                    continue;
                }
                for s in scripts_run_by(cx, idx, line) {
                    let hit =
                        script_lines(&s.text).find_map(|(n, l)| download_in(l).map(|w| (n, w)));
                    if let Some((n, what)) = hit {
                        out.push(cx.finding(
                            &META,
                            meta.span,
                            format!(
                                "{kw} runs {} ({}, line {n}) which runs `{what}` at start-up: \
                                 download and install while building the image",
                                s.image_path, s.origin
                            ),
                        ));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downloads() {
        assert!(download_in("curl -fsSLo /tmp/x https://x.io/x").is_some());
        assert!(download_in("curl -fsS http://localhost:8080/health").is_none());
        assert!(download_in("wget -qO- https://x.io/i.sh | sh").is_some());
        assert!(download_in("wget -qO- http://localhost/health").is_none());
        assert!(download_in("pip install -r requirements.txt && exec app").is_some());
        assert!(download_in("exec gunicorn app:app").is_none());
    }
}
