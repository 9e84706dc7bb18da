//! PL004 unpinned-remote-fetch.

use std::sync::LazyLock;

use plinth_dockerfile::Command;
use regex::Regex;

use super::{basename, commands, is_url, run_text};
use crate::Ctx;
use crate::finding::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

static META: RuleMeta = RuleMeta {
    code: "PL004",
    name: "unpinned-remote-fetch",
    severity: Severity::Warning,
    summary: "Remote downloads should name a fixed version or be verified by a checksum.",
};

/// Flags remote fetches that can change under a rebuild (seed 003, "Repeatable Builds"):
///
/// - a download piped into an interpreter (`curl ... | sh`, `wget -O- ... | bash`,
///   `sh -c "$(curl ...)"`, `bash <(curl ...)`), always;
/// - `curl`/`wget` (and `pip`/`npm` installs of a URL) of a URL with a moving reference (a path
///   segment `latest`, `master`, `main`, `HEAD`, `nightly`, `trunk`, `refs/heads/`,
///   `master.zip`-style archives, `?ref=main`), or of a URL with no version in it (no
///   `1.2`-style number, `v1`, commit-like hex or `$VARIABLE`), unless the same RUN verifies a
///   checksum or signature (`sha256sum -c`, `shasum -c`, `gpg --verify`, `cosign verify`,
///   `minisign -V`); URLs of keys (`*.gpg`, `*.asc`, `*.key`, `gpgkey`) are trust anchors
///   checked by the package manager and not flagged;
/// - `git clone` without `--branch`/`-b` of a fixed ref and no later `git checkout`/`git reset`
///   to a fixed ref in the same RUN (a branch named `main`, `master`, `HEAD`... is moving);
/// - VCS requirements without a fixed ref: `pip install git+https://...` without `@ref` or with
///   `@main`, npm `git+`/`github:` specs without `#ref`, `go install`/`go get` of `@latest`,
///   `@master`, `@main`, `cargo install --git` without `--rev`/`--tag`;
/// - `ADD <url>` without `--checksum` (git URLs: without a fixed `#ref` either).
///
/// Boundary with hadolint: DL3008 (apt), DL3013 (pip), DL3016 (npm) and friends ask for version
/// pins of *registry* packages; PL004 never looks at package names, only at URLs and VCS refs.
/// Known misses: URLs built in variables, downloads inside scripts the RUN calls.
pub(super) struct UnpinnedRemoteFetch;

static PIPE_TO_SHELL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:curl|wget)\b[^|;&\n]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+)?(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*",
        r"(?:/usr)?(?:/local)?(?:/bin/)?(?:ba|z|da|k|a)?sh\b",
        r"|\b(?:ba|z|da|k)?sh\b[^;&|\n]*(?:\$\(|<\(|`)\s*(?:curl|wget)\b",
    ))
    .expect("regex")
});
static VERIFIED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:sha(?:1|224|256|384|512)sum|shasum|md5sum|b2sum)\b[^;&\n]*(?:\s-[a-z]*c\b|--check\b)",
        r"|\bgpgv?\b[^;&\n]*--verify|\bgpgv\b|\bcosign\s+verify|\bminisign\b[^;&\n]*-V",
    ))
    .expect("regex")
});
static URL_IN_TEXT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?:https?|ftp)://[^\s'"|;&)<>]+"#).expect("regex"));
static VERSIONED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\d+\.\d+|[/_-]v?\d+(?:[/._-]|$)|\b[0-9a-f]{7,64}\b|\$").expect("regex")
});

const MOVING: [&str; 7] = [
    "latest", "master", "main", "head", "nightly", "trunk", "develop",
];

/// Whether a ref (branch, tag, commit) is a moving one.
fn moving_ref(r: &str) -> bool {
    MOVING.contains(&r.to_ascii_lowercase().as_str())
}

/// Whether a URL names a moving reference.
fn moving_url(url: &str) -> bool {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    if path.contains("refs/heads/")
        || query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .any(|(k, v)| matches!(k, "ref" | "branch" | "version") && moving_ref(v))
    {
        return true;
    }
    let path = path.split('#').next().unwrap_or(path);
    path.split('/').skip(3).any(|seg| {
        let l = seg.to_ascii_lowercase();
        moving_ref(&l)
            || l.starts_with("latest")
            || ["master", "main", "head"].iter().any(|m| {
                [".zip", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2"]
                    .iter()
                    .any(|ext| l == format!("{m}{ext}"))
            })
    })
}

/// Whether a URL points at a signing key.
fn key_url(url: &str) -> bool {
    let b = basename(url.split(['?', '#']).next().unwrap_or(url)).to_ascii_lowercase();
    [".gpg", ".asc", ".key", ".pub"]
        .iter()
        .any(|e| b.ends_with(e))
        || matches!(b.as_str(), "gpg" | "key" | "gpgkey" | "pubkey")
}

/// What is wrong with fetching `url`, if anything (`verified`: the RUN checks a checksum).
fn url_problem(url: &str, verified: bool) -> Option<String> {
    if verified || key_url(url) {
        return None;
    }
    if moving_url(url) {
        return Some(format!("{url} names a moving reference"));
    }
    let after_host = url.splitn(4, '/').nth(3).unwrap_or("");
    if !VERSIONED.is_match(after_host) {
        return Some(format!("{url} names no version"));
    }
    None
}

/// The ref of a `git+https://host/path@ref#egg=x` requirement, `None` when there is none.
fn vcs_ref(spec: &str) -> Option<&str> {
    let spec = spec.split('#').next().unwrap_or(spec);
    let path = spec.splitn(4, '/').nth(3)?;
    path.rsplit_once('@').map(|(_, r)| r)
}

/// The problems of one RUN's text.
fn run_problems(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(m) = PIPE_TO_SHELL.find(text) {
        out.push(format!(
            "`{}` runs a downloaded script unverified",
            m.as_str().trim()
        ));
    }
    let verified = VERIFIED.is_match(text);
    let cmds = commands(text);
    for (i, words) in cmds.iter().enumerate() {
        let prog = basename(&words[0]);
        let args = &words[1..];
        match prog {
            "curl" | "wget" => {
                for w in args {
                    for m in URL_IN_TEXT.find_iter(w) {
                        out.extend(url_problem(m.as_str(), verified));
                    }
                }
            }
            "git" if args.first().map(String::as_str) == Some("clone") => {
                let branch = args
                    .windows(2)
                    .find(|w| w[0] == "-b" || w[0] == "--branch")
                    .map(|w| w[1].as_str())
                    .or_else(|| args.iter().find_map(|a| a.strip_prefix("--branch=")));
                let later_fixed = cmds[i + 1..].iter().any(|c| {
                    let Some(at) = c.iter().position(|w| w == "checkout" || w == "reset") else {
                        return false;
                    };
                    basename(&c[0]) == "git"
                        && c[at + 1..]
                            .iter()
                            .find(|a| !a.starts_with('-'))
                            .is_some_and(|r| !moving_ref(r) && !r.starts_with("origin/"))
                });
                let url = args
                    .iter()
                    .skip(1)
                    .find(|a| !a.starts_with('-') && a.contains(['/', ':']));
                let fixed = branch.is_some_and(|b| !moving_ref(b)) || later_fixed;
                if !fixed {
                    let url = url.map(String::as_str).unwrap_or("");
                    out.push(match branch {
                        Some(b) => format!("git clone {url} of the moving branch {b}"),
                        None => format!("git clone {url} without a fixed tag or commit"),
                    });
                }
            }
            "pip" | "pip3" | "python" | "python3" | "uv" | "npm" | "yarn" | "pnpm" => {
                let js = matches!(prog, "npm" | "yarn" | "pnpm");
                let installs = args
                    .iter()
                    .any(|a| matches!(a.as_str(), "install" | "i" | "add"));
                if !installs {
                    continue;
                }
                for a in args {
                    let lower = a.to_ascii_lowercase();
                    if lower.starts_with("git+") || lower.starts_with("github:") {
                        let r = if js {
                            a.split_once('#').map(|(_, r)| r)
                        } else {
                            vcs_ref(a.trim_start_matches("git+"))
                        };
                        match r {
                            Some(r) if !moving_ref(r) => {}
                            _ => out.push(format!("{a} has no fixed tag or commit")),
                        }
                    } else if is_url(a) {
                        out.extend(url_problem(a, verified));
                    }
                }
            }
            "go" if matches!(args.first().map(String::as_str), Some("install" | "get")) => {
                for a in &args[1..] {
                    if a.rsplit_once('@').is_some_and(|(_, v)| moving_ref(v)) {
                        out.push(format!("go {} {a} takes a moving version", args[0]));
                    }
                }
            }
            "cargo"
                if args.first().map(String::as_str) == Some("install")
                    && args.iter().any(|a| a == "--git" || a.starts_with("--git="))
                    && !args.iter().any(|a| {
                        a == "--rev"
                            || a == "--tag"
                            || a.starts_with("--rev=")
                            || a.starts_with("--tag=")
                    }) =>
            {
                out.push("cargo install --git without --rev or --tag".to_string());
            }
            _ => {}
        }
    }
    out
}

impl Rule for UnpinnedRemoteFetch {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        for c in cx.stages.stages.iter().flat_map(|s| s.commands.iter()) {
            match c {
                Command::Run(r) => {
                    let problems = run_problems(&run_text(r));
                    if !problems.is_empty() {
                        out.push(cx.finding(
                            &META,
                            r.meta.span,
                            format!(
                                "unpinned remote fetch: {} (pin a version or commit, or verify \
                                 a checksum)",
                                problems.join("; ")
                            ),
                        ));
                    }
                }
                Command::Add(a) if a.checksum.is_none() => {
                    for src in a.sources.iter().filter(|s| is_url(s)) {
                        let git = src.starts_with("git@")
                            || src.starts_with("git://")
                            || src.split('#').next().is_some_and(|u| u.ends_with(".git"));
                        let problem = if git {
                            match src
                                .split_once('#')
                                .map(|(_, r)| r.split(':').next().unwrap_or(r))
                            {
                                Some(r) if !r.is_empty() && !moving_ref(r) => None,
                                _ => Some(format!("ADD {src} without a fixed ref or --checksum")),
                            }
                        } else {
                            Some(format!("ADD {src} without --checksum"))
                        };
                        if let Some(p) = problem {
                            out.push(cx.finding(&META, a.meta.span, p));
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(moving_url(
            "https://github.com/o/r/releases/latest/download/x.tgz"
        ));
        assert!(moving_url("https://github.com/o/r/archive/master.zip"));
        assert!(moving_url(
            "https://raw.githubusercontent.com/o/r/refs/heads/main/x.sh"
        ));
        assert!(!moving_url("https://example.com/static/main.js"));
        assert!(url_problem("https://example.com/tool/1.4.2/tool.tgz", false).is_none());
        assert!(url_problem("https://example.com/tool.tgz", false).is_some());
        assert!(url_problem("https://example.com/tool.tgz", true).is_none());
        assert!(url_problem("https://example.com/${V}/tool.tgz", false).is_none());
    }

    #[test]
    fn run_texts() {
        assert_eq!(run_problems("curl -fsSL https://x.io/i.sh | sh").len(), 2);
        assert!(run_problems("git clone --depth 1 -b v1.2.0 https://g.io/r.git").is_empty());
        assert!(
            run_problems("git clone https://g.io/r.git && cd r && git checkout 1a2b3c4").is_empty()
        );
        assert!(
            run_problems("git clone https://g.io/r.git /r && git -C /r checkout v1.0").is_empty()
        );
        assert_eq!(
            run_problems("git clone https://g.io/r.git /r && git -C /r checkout main").len(),
            1
        );
        assert_eq!(
            run_problems("git clone -b main https://g.io/r.git").len(),
            1
        );
        assert_eq!(
            run_problems("pip install git+https://g.io/o/r.git@main").len(),
            1
        );
        assert!(run_problems("pip install git+https://g.io/o/r.git@v1.0.0#egg=r").is_empty());
        assert!(run_problems("pip install flask requests").is_empty());
        assert_eq!(
            run_problems("go install golang.org/x/tools/gopls@latest").len(),
            1
        );
    }
}
