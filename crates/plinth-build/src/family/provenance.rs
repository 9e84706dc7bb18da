//! Provenance of a family build: the git and CI facts of the source, and the OCI labels they
//! fill, so every image can be tied to the commit, the repository and the CI run that made it
//! (seed 003, "Labels", checklist items 11 and 15).
//!
//! The module has one edge that does IO, [`git_info`], and pure functions over values:
//!
//! - [`git_info`] asks `git` about the work tree holding a directory: the commit, its short form,
//!   the branch, whether the tree is dirty, origin's URL, the tags at HEAD and the commit time.
//!   It runs `git -C DIR ...` with `LC_ALL=C`, no terminal prompt, `GIT_OPTIONAL_LOCKS=0` (so
//!   `git status` never writes the index) and without the `GIT_DIR`-like variables a caller (a git
//!   hook, say) may have set, so the answer is about `DIR` and nothing else. A directory outside a
//!   work tree, a repository without a commit yet, and a machine without git give `Ok(None)`; any
//!   other failure (a corrupt repository, a bad config, a repository git refuses as unsafe) is an
//!   error with the command and git's message, for the caller to report or downgrade.
//! - [`detect_ci`] reads the documented variables of GitHub Actions, GitLab CI, Jenkins,
//!   Buildkite and CircleCI (and `CI=true` for any other CI) from an environment map.
//! - [`oci_labels`] computes the labels from both and the image's settings.
//!
//! # Decisions
//!
//! - **Short commit**: the first 7 characters of the full commit, not `git rev-parse --short`,
//!   whose length grows with the number of objects in the local clone: a shallow CI clone and a
//!   developer's full clone would otherwise name the same commit differently.
//! - **Credentials**: a password is a secret, and so is any user name in an `http(s)://` URL
//!   (`https://TOKEN@github.com/...` and `https://gitlab-ci-token:TOKEN@...` are how CI systems
//!   pass tokens): the whole `user[:password]@` is removed from every URL, except that a bare user
//!   of an `ssh://` URL is kept (`ssh://git@host/x`), as is the user of an scp-like remote
//!   (`git@github.com:org/repo.git`, which cannot carry a password; if it does anyway,
//!   `user:password@host:path`, the user-info goes). [`strip_credentials`] does this for every
//!   URL inside any text: every label value and every error message goes through it.
//! - **`org.opencontainers.image.source`** is a browsable URL, the same however the repository
//!   was cloned ([`source_url`]): `https://host/path` for https, ssh, `git://` and scp-like remotes,
//!   without user-info, port, trailing `/` or `.git`. A developer's ssh clone and CI's https clone
//!   thus label the image identically, which keeps rebuilds reproducible. An ssh host alias from
//!   `~/.ssh/config` cannot be resolved and is taken as the host name. Remotes that are local paths,
//!   `file://` URLs or other transports give no source label rather than a guessed one.
//! - **Version**: [`oci_labels`] takes the version the caller settled on (plinth.toml, or a version
//!   tag at HEAD found with [`version_tag_at_head`]); it does not guess one itself.
//! - **Extra labels** (plinth.toml) never override what plinth fills: an extra label with one of
//!   the `org.opencontainers.image.*` keys plinth fills, or any key in plinth's own `dev.plinth.`
//!   namespace, is an error naming the key, whether or not this build has a value for it. The
//!   same plinth.toml thus means the same thing on every machine (a `source` label that only
//!   errors where there is a git remote would not). Other keys, including other
//!   `org.opencontainers.image.*` keys such as `authors` or `ref.name`, are free.
//! - **Development builds** ([`is_development_build`]): a build outside CI or from a dirty work
//!   tree is marked `dev.plinth.build.development=true`; a dirty tree is also marked
//!   `dev.plinth.git.dirty=true`, and a build whose release tags were forced on a development
//!   build is marked `dev.plinth.build.forced-release-tags=true`. Release builds carry none of
//!   these keys (absent, not `false`).
//! - **Empty values** (empty or only white space) are left out.
//! - **Manifest annotations**: the caller writes the same map as the image config's labels and
//!   as the manifest's annotations.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `org.opencontainers.image.created`: the build's time (SOURCE_DATE_EPOCH).
pub const CREATED: &str = "org.opencontainers.image.created";
/// `org.opencontainers.image.revision`: the source commit.
pub const REVISION: &str = "org.opencontainers.image.revision";
/// `org.opencontainers.image.source`: the source repository's URL.
pub const SOURCE: &str = "org.opencontainers.image.source";
/// `org.opencontainers.image.version`: the image's version.
pub const VERSION: &str = "org.opencontainers.image.version";
/// `org.opencontainers.image.title`.
pub const TITLE: &str = "org.opencontainers.image.title";
/// `org.opencontainers.image.description`.
pub const DESCRIPTION: &str = "org.opencontainers.image.description";
/// `org.opencontainers.image.vendor`.
pub const VENDOR: &str = "org.opencontainers.image.vendor";
/// `org.opencontainers.image.licenses` (an SPDX expression).
pub const LICENSES: &str = "org.opencontainers.image.licenses";
/// `org.opencontainers.image.url`: where to find out about the image.
pub const URL: &str = "org.opencontainers.image.url";
/// `org.opencontainers.image.documentation`.
pub const DOCUMENTATION: &str = "org.opencontainers.image.documentation";
/// `org.opencontainers.image.base.name`: the base image's reference.
pub const BASE_NAME: &str = "org.opencontainers.image.base.name";
/// `org.opencontainers.image.base.digest`: the base image's manifest digest.
pub const BASE_DIGEST: &str = "org.opencontainers.image.base.digest";
/// plinth's key for the URL of the CI build that made the image.
pub const BUILD_URL: &str = "dev.plinth.build.url";
/// plinth's marker of a development build (`true`, absent otherwise).
pub const BUILD_DEVELOPMENT: &str = "dev.plinth.build.development";
/// plinth's marker of release tags forced on a development build (`true`, absent otherwise).
pub const BUILD_FORCED_RELEASE_TAGS: &str = "dev.plinth.build.forced-release-tags";
/// plinth's marker of a dirty work tree (`true`, absent otherwise).
pub const GIT_DIRTY: &str = "dev.plinth.git.dirty";

/// The namespace of plinth's own labels; extra labels may not use it.
const PLINTH_NAMESPACE: &str = "dev.plinth.";

/// The `org.opencontainers.image.*` keys plinth fills, with where each value comes from.
const FILLED_KEYS: [(&str, &str); 12] = [
    (CREATED, "SOURCE_DATE_EPOCH"),
    (REVISION, "the git commit"),
    (SOURCE, "the git remote"),
    (VERSION, "the image's version"),
    (TITLE, "the image's title setting"),
    (DESCRIPTION, "the image's description setting"),
    (VENDOR, "the image's vendor setting"),
    (LICENSES, "the image's licenses setting"),
    (URL, "the image's url setting"),
    (DOCUMENTATION, "the image's documentation setting"),
    (BASE_NAME, "the base image"),
    (BASE_DIGEST, "the base image"),
];

/// Errors of git queries and label computation. No message carries a credential.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    /// `git` could not be started (other than not being installed).
    #[error("cannot run {command}: {source}")]
    GitSpawn {
        command: String,
        source: std::io::Error,
    },
    /// `git` failed.
    #[error("{command} failed: {stderr}")]
    Git { command: String, stderr: String },
    /// `git` succeeded but printed something that is not what it prints.
    #[error("{command} printed {output:?}, not {expected}")]
    GitOutput {
        command: String,
        output: String,
        expected: &'static str,
    },
    /// An extra label sets a key plinth fills itself.
    #[error(
        "the label {key:?} is filled by plinth from {origin}; it cannot be set as an extra label"
    )]
    ReservedLabel { key: String, origin: &'static str },
    /// An extra label has an empty key.
    #[error("an extra label has an empty key")]
    EmptyLabelKey,
}

/// Facts about the git work tree a build's source is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitInfo {
    /// HEAD's full commit id (40 hex digits, 64 in a SHA-256 repository).
    pub commit: String,
    /// The first 7 characters of [`GitInfo::commit`].
    pub short_sha: String,
    /// The checked-out branch; `None` when HEAD is detached.
    pub branch: Option<String>,
    /// Tracked changes (staged or not) or untracked files that are not ignored, as
    /// `git status --porcelain` reports them.
    pub dirty: bool,
    /// `remote.origin.url` with credentials stripped ([`strip_remote_credentials`]).
    pub remote_url: Option<String>,
    /// The tags pointing at HEAD (lightweight, or annotated with HEAD as target), sorted.
    pub tags_at_head: Vec<String>,
    /// HEAD's committer time, seconds since the epoch.
    pub commit_time: i64,
}

/// Variables that redirect git away from the directory it is given (set by git for hooks, for
/// example); they are removed so that [`git_info`] describes the directory's own repository.
const GIT_LOCATION_VARIABLES: [&str; 7] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
];

/// The git facts of the work tree holding `repo_dir`; `Ok(None)` when it is in no work tree, the
/// repository has no commit yet, or git is not installed. See the module docs.
pub fn git_info(repo_dir: &Path) -> Result<Option<GitInfo>, ProvenanceError> {
    git_info_with(OsStr::new("git"), repo_dir)
}

/// [`git_info`] with the git program to run.
fn git_info_with(program: &OsStr, dir: &Path) -> Result<Option<GitInfo>, ProvenanceError> {
    let git = Git { program, dir };

    let inside = ["rev-parse", "--is-inside-work-tree"];
    let out = match git.output(&inside) {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(git.spawn_error(&inside, e)),
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        if stderr.contains("not a git repository") {
            return Ok(None);
        }
        return Err(git.failure(&inside, &out));
    }
    // `false` inside a `.git` directory or a bare repository: no work tree.
    if String::from_utf8_lossy(&out.stdout).trim() != "true" {
        return Ok(None);
    }

    // An unborn HEAD (no commit yet) fails quietly with exit status 1.
    let verify = ["rev-parse", "--quiet", "--verify", "HEAD"];
    let out = git.run(&verify)?;
    if !out.status.success() {
        if out.status.code() == Some(1) && out.stdout.is_empty() {
            return Ok(None);
        }
        return Err(git.failure(&verify, &out));
    }

    let log = [
        "log",
        "-1",
        "--no-show-signature",
        "--format=%H %ct",
        "HEAD",
    ];
    let text = git.stdout(&log)?;
    let (commit, time) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    let commit_ok =
        (commit.len() == 40 || commit.len() == 64) && commit.bytes().all(|b| b.is_ascii_hexdigit());
    let commit_time = time
        .parse::<i64>()
        .ok()
        .filter(|_| commit_ok)
        .ok_or_else(|| ProvenanceError::GitOutput {
            command: git.command(&log),
            output: text.trim().to_string(),
            expected: "a commit id and a time",
        })?;
    let commit = commit.to_ascii_lowercase();
    let short_sha = commit[..7].to_string();

    // Exit status 1 (quietly): HEAD is detached.
    let symref = ["symbolic-ref", "--quiet", "HEAD"];
    let out = git.run(&symref)?;
    let branch = if out.status.success() {
        let full = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Some(
            full.strip_prefix("refs/heads/")
                .unwrap_or(&full)
                .to_string(),
        )
    } else if out.status.code() == Some(1) {
        None
    } else {
        return Err(git.failure(&symref, &out));
    };

    let status = ["status", "--porcelain", "-z", "--untracked-files=normal"];
    let dirty = !git.stdout(&status)?.is_empty();

    // Exit status 1: the key is not set.
    let origin = ["config", "--get", "remote.origin.url"];
    let out = git.run(&origin)?;
    let remote_url = if out.status.success() {
        Some(strip_remote_credentials(
            String::from_utf8_lossy(&out.stdout).trim(),
        ))
        .filter(|u| !u.is_empty())
    } else if out.status.code() == Some(1) {
        None
    } else {
        return Err(git.failure(&origin, &out));
    };

    let tags = [
        "for-each-ref",
        "--points-at",
        "HEAD",
        "--format=%(refname:strip=2)",
        "refs/tags",
    ];
    let mut tags_at_head: Vec<String> = git
        .stdout(&tags)?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    tags_at_head.sort();

    Ok(Some(GitInfo {
        commit,
        short_sha,
        branch,
        dirty,
        remote_url,
        tags_at_head,
        commit_time,
    }))
}

/// How `git -C dir` is run.
struct Git<'a> {
    program: &'a OsStr,
    dir: &'a Path,
}

impl Git<'_> {
    fn output(&self, args: &[&str]) -> std::io::Result<Output> {
        let mut cmd = Command::new(self.program);
        cmd.arg("-C")
            .arg(self.dir)
            .args(args)
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_OPTIONAL_LOCKS", "0")
            .stdin(Stdio::null());
        for var in GIT_LOCATION_VARIABLES {
            cmd.env_remove(var);
        }
        cmd.output()
    }

    /// Runs a command; any exit status is the caller's to judge.
    fn run(&self, args: &[&str]) -> Result<Output, ProvenanceError> {
        self.output(args).map_err(|e| self.spawn_error(args, e))
    }

    /// Runs a command that must succeed; its standard output.
    fn stdout(&self, args: &[&str]) -> Result<String, ProvenanceError> {
        let out = self.run(args)?;
        if !out.status.success() {
            return Err(self.failure(args, &out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn command(&self, args: &[&str]) -> String {
        strip_credentials(&format!(
            "{} -C {} {}",
            self.program.to_string_lossy(),
            self.dir.display(),
            args.join(" ")
        ))
    }

    fn spawn_error(&self, args: &[&str], source: std::io::Error) -> ProvenanceError {
        ProvenanceError::GitSpawn {
            command: self.command(args),
            source,
        }
    }

    fn failure(&self, args: &[&str], out: &Output) -> ProvenanceError {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr = match stderr.trim() {
            "" => format!("exit status {}", out.status),
            text => text.to_string(),
        };
        git_error(self.command(args), &stderr)
    }
}

/// A git failure whose message never shows a credential.
fn git_error(command: String, stderr: &str) -> ProvenanceError {
    ProvenanceError::Git {
        command: strip_credentials(&command),
        stderr: strip_credentials(stderr),
    }
}

/// The highest semantic version among `tags` written `vX.Y.Z` or `X.Y.Z` (pre-release and build
/// parts allowed, as semver orders them), as the tag is written. Equal versions written both ways
/// give the one without `v`, so the answer does not depend on the order of `tags`.
pub fn version_tag_at_head(tags: &[String]) -> Option<String> {
    tags.iter()
        .filter_map(|tag| {
            let bare = tag.strip_prefix('v').unwrap_or(tag);
            semver::Version::parse(bare).ok().map(|v| (v, tag))
        })
        .max_by(|(va, ta), (vb, tb)| va.cmp(vb).then_with(|| tb.cmp(ta)))
        .map(|(_, tag)| tag.clone())
}

pub use crate::credentials::strip_credentials;

/// A git remote without credentials: [`strip_credentials`] for URLs, and for an scp-like remote
/// (`[user@]host:path`) the user-info only when it holds a password (`user:password@host:path`).
pub fn strip_remote_credentials(remote: &str) -> String {
    if remote.contains("://") {
        return strip_credentials(remote);
    }
    let prefix_end = remote.find('/').unwrap_or(remote.len());
    match remote[..prefix_end].rfind('@') {
        Some(at) if remote[..at].contains(':') => remote[at + 1..].to_string(),
        _ => remote.to_string(),
    }
}

/// The browsable URL of a git remote for `org.opencontainers.image.source`: `https://host/path`
/// without credentials, port, trailing `/` or `.git` (`http://` stays `http://`); `None` for local
/// paths, `file://`, other transports and remote helpers (`ext::...`). See the module docs.
pub fn source_url(remote: &str) -> Option<String> {
    let remote = strip_remote_credentials(remote.trim());
    // `<transport>::<address>` runs a remote helper (`ext::`, `persistent-https::`, ...).
    if let Some((transport, _)) = remote.split_once("::")
        && !transport.is_empty()
        && transport
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let (scheme, host, path) = if let Some((scheme, rest)) = remote.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        match scheme.as_str() {
            "http" | "https" => (scheme, host_port.to_string(), path.to_string()),
            "ssh" | "git+ssh" | "ssh+git" | "git" => (
                "https".to_string(),
                without_port(host_port),
                path.to_string(),
            ),
            _ => return None,
        }
    } else {
        let (host, path) = scp_like(&remote)?;
        ("https".to_string(), host.to_string(), path.to_string())
    };
    let path = path.trim_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    if host.is_empty() || path.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    Some(format!("{scheme}://{host}/{path}"))
}

/// `host` of `host:port` or `[v6]:port`.
fn without_port(host_port: &str) -> String {
    if host_port.starts_with('[') {
        return match host_port.find(']') {
            Some(end) => host_port[..=end].to_string(),
            None => host_port.to_string(),
        };
    }
    host_port
        .split_once(':')
        .map_or(host_port, |(h, _)| h)
        .to_string()
}

/// The host and path of an scp-like remote `[user@]host:path`: as git decides, a `:` before any
/// `/` (a path like `./a:b` or `/srv/a:b` is local).
fn scp_like(remote: &str) -> Option<(&str, &str)> {
    let colon = remote.find(':')?;
    if remote[..colon].contains('/') {
        return None;
    }
    let prefix = &remote[..colon];
    let host = prefix.rsplit_once('@').map_or(prefix, |(_, h)| h);
    Some((host, &remote[colon + 1..]))
}

/// The CI system a build runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiProvider {
    GithubActions,
    GitlabCi,
    Jenkins,
    Buildkite,
    CircleCi,
    /// Another CI system, known only by `CI=true`.
    Generic,
}

impl CiProvider {
    /// The provider's name as people write it.
    pub fn name(self) -> &'static str {
        match self {
            CiProvider::GithubActions => "GitHub Actions",
            CiProvider::GitlabCi => "GitLab CI",
            CiProvider::Jenkins => "Jenkins",
            CiProvider::Buildkite => "Buildkite",
            CiProvider::CircleCi => "CircleCI",
            CiProvider::Generic => "CI",
        }
    }
}

/// What the CI system says about the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiInfo {
    pub provider: CiProvider,
    /// The URL of the CI build (job), credentials stripped.
    pub build_url: Option<String>,
    /// The branch built; for a pull/merge request its source branch; `None` for a tag build.
    pub branch: Option<String>,
    /// The pull/merge request number (GitLab's IID, Jenkins' CHANGE_ID).
    pub pull_request: Option<String>,
    /// The commit CI built.
    pub commit: Option<String>,
}

/// The CI system of an environment, from its documented variables; `None` outside CI (no known
/// provider's variable, and `CI` unset, empty, `false` or `0`).
pub fn detect_ci(env: &BTreeMap<String, String>) -> Option<CiInfo> {
    let get = |key: &str| {
        env.get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let is_true = |key: &str| get(key).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let url = |key: &str| get(key).map(|u| strip_credentials(&u));

    if is_true("GITHUB_ACTIONS") {
        let build_url = match (
            get("GITHUB_SERVER_URL"),
            get("GITHUB_REPOSITORY"),
            get("GITHUB_RUN_ID"),
        ) {
            (Some(server), Some(repo), Some(run)) => {
                let mut u = format!("{}/{repo}/actions/runs/{run}", server.trim_end_matches('/'));
                if let Some(n) = get("GITHUB_RUN_ATTEMPT").and_then(|a| a.parse::<u32>().ok())
                    && n > 1
                {
                    u.push_str(&format!("/attempts/{n}"));
                }
                Some(strip_credentials(&u))
            }
            _ => None,
        };
        let git_ref = get("GITHUB_REF").unwrap_or_default();
        let pull_request = git_ref
            .strip_prefix("refs/pull/")
            .and_then(|r| r.split_once('/'))
            .filter(|(n, kind)| is_number(n) && matches!(*kind, "merge" | "head"))
            .map(|(n, _)| n.to_string());
        let branch = get("GITHUB_HEAD_REF")
            .or_else(|| git_ref.strip_prefix("refs/heads/").map(str::to_string))
            .or_else(|| {
                get("GITHUB_REF_TYPE")
                    .filter(|t| t == "branch")
                    .and_then(|_| get("GITHUB_REF_NAME"))
            });
        return Some(CiInfo {
            provider: CiProvider::GithubActions,
            build_url,
            branch,
            pull_request,
            commit: get("GITHUB_SHA"),
        });
    }

    if is_true("GITLAB_CI") {
        let pull_request =
            get("CI_MERGE_REQUEST_IID").or_else(|| get("CI_EXTERNAL_PULL_REQUEST_IID"));
        let branch = get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")
            .or_else(|| get("CI_EXTERNAL_PULL_REQUEST_SOURCE_BRANCH_NAME"))
            .or_else(|| get("CI_COMMIT_BRANCH"))
            .or_else(|| {
                get("CI_COMMIT_TAG")
                    .is_none()
                    .then(|| get("CI_COMMIT_REF_NAME"))
                    .flatten()
            });
        return Some(CiInfo {
            provider: CiProvider::GitlabCi,
            build_url: url("CI_JOB_URL"),
            branch,
            pull_request,
            commit: get("CI_COMMIT_SHA"),
        });
    }

    if get("JENKINS_URL").is_some() {
        let pull_request = get("CHANGE_ID");
        let branch = if pull_request.is_some() {
            // BRANCH_NAME is `PR-N` here; CHANGE_BRANCH is the source branch.
            get("CHANGE_BRANCH")
        } else if get("TAG_NAME").is_some() {
            None
        } else {
            get("BRANCH_NAME").or_else(|| get("GIT_BRANCH").map(|b| jenkins_branch(&b)))
        };
        return Some(CiInfo {
            provider: CiProvider::Jenkins,
            build_url: url("BUILD_URL"),
            branch,
            pull_request,
            commit: get("GIT_COMMIT"),
        });
    }

    if is_true("BUILDKITE") {
        let tag = get("BUILDKITE_TAG");
        return Some(CiInfo {
            provider: CiProvider::Buildkite,
            build_url: url("BUILDKITE_BUILD_URL"),
            branch: get("BUILDKITE_BRANCH").filter(|b| tag.as_ref() != Some(b)),
            pull_request: get("BUILDKITE_PULL_REQUEST").filter(|p| p != "false"),
            // A build started for `HEAD` has no commit id in the variable.
            commit: get("BUILDKITE_COMMIT").filter(|c| c != "HEAD"),
        });
    }

    if is_true("CIRCLECI") {
        let pull_request = get("CIRCLE_PR_NUMBER").or_else(|| {
            get("CIRCLE_PULL_REQUEST").and_then(|u| {
                let last = u.trim_end_matches('/').rsplit('/').next().unwrap_or("");
                is_number(last).then(|| last.to_string())
            })
        });
        return Some(CiInfo {
            provider: CiProvider::CircleCi,
            build_url: url("CIRCLE_BUILD_URL"),
            branch: get("CIRCLE_BRANCH"),
            pull_request,
            commit: get("CIRCLE_SHA1"),
        });
    }

    let generic = get("CI").is_some_and(|v| !(v.eq_ignore_ascii_case("false") || v == "0"));
    generic.then_some(CiInfo {
        provider: CiProvider::Generic,
        build_url: None,
        branch: None,
        pull_request: None,
        commit: None,
    })
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Jenkins' GIT_BRANCH (`origin/main`, `refs/remotes/origin/main`) as a branch name.
fn jenkins_branch(b: &str) -> String {
    for prefix in [
        "refs/remotes/origin/",
        "remotes/origin/",
        "origin/",
        "refs/heads/",
    ] {
        if let Some(rest) = b.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    b.to_string()
}

/// Whether a build is a development build: outside CI, or from a dirty work tree.
pub fn is_development_build(git: Option<&GitInfo>, ci: Option<&CiInfo>) -> bool {
    ci.is_none() || git.is_some_and(|g| g.dirty)
}

/// No extra labels (the default of [`LabelInput::extra`]).
static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

/// Everything the labels of one image are computed from.
#[derive(Debug, Clone, Copy)]
pub struct LabelInput<'a> {
    /// RFC 3339 of SOURCE_DATE_EPOCH (`crate::sde::rfc3339`).
    pub created: &'a str,
    pub git: Option<&'a GitInfo>,
    pub ci: Option<&'a CiInfo>,
    pub version: Option<&'a str>,
    pub title: Option<&'a str>,
    pub description: Option<&'a str>,
    pub vendor: Option<&'a str>,
    pub licenses: Option<&'a str>,
    pub url: Option<&'a str>,
    pub documentation: Option<&'a str>,
    /// The base image's reference as the Dockerfile names it.
    pub base_name: Option<&'a str>,
    /// The base image's manifest digest.
    pub base_digest: Option<&'a str>,
    /// A development build ([`is_development_build`]).
    pub development: bool,
    /// Release tags were forced on a development build.
    pub forced_release_tags: bool,
    /// Extra labels (plinth.toml).
    pub extra: &'a BTreeMap<String, String>,
}

impl Default for LabelInput<'_> {
    fn default() -> Self {
        LabelInput {
            created: "",
            git: None,
            ci: None,
            version: None,
            title: None,
            description: None,
            vendor: None,
            licenses: None,
            url: None,
            documentation: None,
            base_name: None,
            base_digest: None,
            development: false,
            forced_release_tags: false,
            extra: &NO_LABELS,
        }
    }
}

/// The labels of an image (also its manifest's annotations): the `org.opencontainers.image.*`
/// keys plinth fills, plinth's `dev.plinth.*` keys, and the extra labels. Every value is free of
/// credentials; empty values are left out; an extra label with a key plinth fills is an error.
pub fn oci_labels(input: &LabelInput<'_>) -> Result<BTreeMap<String, String>, ProvenanceError> {
    let mut labels = BTreeMap::new();
    for (key, value) in input.extra {
        check_extra_key(key)?;
        insert(&mut labels, key, Some(value));
    }

    let revision = match input.git {
        Some(g) => Some(g.commit.as_str()),
        None => input.ci.and_then(|c| c.commit.as_deref()),
    };
    let source = input
        .git
        .and_then(|g| g.remote_url.as_deref())
        .and_then(source_url);
    let yes = |flag: bool| flag.then_some("true");

    insert(&mut labels, CREATED, Some(input.created));
    insert(&mut labels, REVISION, revision);
    insert(&mut labels, SOURCE, source.as_deref());
    insert(&mut labels, VERSION, input.version);
    insert(&mut labels, TITLE, input.title);
    insert(&mut labels, DESCRIPTION, input.description);
    insert(&mut labels, VENDOR, input.vendor);
    insert(&mut labels, LICENSES, input.licenses);
    insert(&mut labels, URL, input.url);
    insert(&mut labels, DOCUMENTATION, input.documentation);
    insert(&mut labels, BASE_NAME, input.base_name);
    insert(&mut labels, BASE_DIGEST, input.base_digest);
    insert(
        &mut labels,
        BUILD_URL,
        input.ci.and_then(|c| c.build_url.as_deref()),
    );
    insert(&mut labels, BUILD_DEVELOPMENT, yes(input.development));
    insert(
        &mut labels,
        BUILD_FORCED_RELEASE_TAGS,
        yes(input.forced_release_tags),
    );
    insert(
        &mut labels,
        GIT_DIRTY,
        yes(input.git.is_some_and(|g| g.dirty)),
    );
    Ok(labels)
}

fn check_extra_key(key: &str) -> Result<(), ProvenanceError> {
    if key.trim().is_empty() {
        return Err(ProvenanceError::EmptyLabelKey);
    }
    if let Some((_, origin)) = FILLED_KEYS.iter().find(|(k, _)| *k == key) {
        return Err(ProvenanceError::ReservedLabel {
            key: key.to_string(),
            origin,
        });
    }
    if key.starts_with(PLINTH_NAMESPACE) {
        return Err(ProvenanceError::ReservedLabel {
            key: key.to_string(),
            origin: "the build (plinth's own dev.plinth. namespace)",
        });
    }
    Ok(())
}

/// Sets `key` to `value` without credentials, unless the value is empty.
fn insert(labels: &mut BTreeMap<String, String>, key: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
        labels.insert(key.to_string(), strip_credentials(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const T1: i64 = 1_600_000_000;
    const T2: i64 = 1_600_000_100;

    /// A scratch git repository built with the real git, isolated from the user's configuration.
    struct Repo {
        dir: tempfile::TempDir,
    }

    impl Repo {
        fn new() -> Repo {
            let repo = Repo {
                dir: tempfile::tempdir().unwrap(),
            };
            repo.git(T1, &["init", "-q", "-b", "main"]);
            repo
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn write(&self, name: &str, text: &str) {
            std::fs::write(self.path().join(name), text).unwrap();
        }

        fn commit(&self, time: i64, name: &str, text: &str) {
            self.write(name, text);
            self.git(time, &["add", name]);
            self.git(time, &["commit", "-q", "-m", name]);
        }

        fn git(&self, time: i64, args: &[&str]) -> String {
            let date = format!("{time} +0000");
            let mut cmd = Command::new("git");
            cmd.arg("-C")
                .arg(self.path())
                .args(args)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_AUTHOR_NAME", "Test")
                .env("GIT_AUTHOR_EMAIL", "test@example.com")
                .env("GIT_COMMITTER_NAME", "Test")
                .env("GIT_COMMITTER_EMAIL", "test@example.com")
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_DATE", &date)
                .env("LC_ALL", "C");
            for var in GIT_LOCATION_VARIABLES {
                cmd.env_remove(var);
            }
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        }

        fn info(&self) -> GitInfo {
            git_info(self.path()).unwrap().expect("a git work tree")
        }
    }

    #[test]
    fn git_facts_of_a_real_repository() {
        let repo = Repo::new();
        repo.commit(T1, "Dockerfile", "FROM scratch\n");
        let first = repo.git(T1, &["rev-parse", "HEAD"]).trim().to_string();
        repo.git(T1, &["tag", "-a", "-m", "release", "v1.2.3"]);
        repo.git(T1, &["tag", "1.2.0"]);
        repo.git(T1, &["tag", "nightly"]);
        repo.git(
            T1,
            &[
                "remote",
                "add",
                "origin",
                "https://user:secret@example.com/org/repo.git",
            ],
        );

        let info = repo.info();
        assert_eq!(info.commit, first);
        assert_eq!(info.commit.len(), 40);
        assert_eq!(info.short_sha, first[..7]);
        assert_eq!(info.branch.as_deref(), Some("main"));
        assert!(!info.dirty);
        assert_eq!(
            info.remote_url.as_deref(),
            Some("https://example.com/org/repo.git")
        );
        assert_eq!(info.tags_at_head, ["1.2.0", "nightly", "v1.2.3"]);
        assert_eq!(info.commit_time, T1);
        assert_eq!(
            version_tag_at_head(&info.tags_at_head).as_deref(),
            Some("v1.2.3")
        );

        // A directory below the top of the work tree belongs to the same repository.
        let sub = repo.path().join("images/app");
        std::fs::create_dir_all(&sub).unwrap();
        assert_eq!(git_info(&sub).unwrap(), Some(info.clone()));

        // The labels of the real facts: source without the password, the commit as revision.
        let labels = oci_labels(&LabelInput {
            git: Some(&info),
            ..LabelInput::default()
        })
        .unwrap();
        assert_eq!(labels[SOURCE], "https://example.com/org/repo");
        assert_eq!(labels[REVISION], first);

        // A new branch and commit: no tags at the new HEAD, its own time.
        repo.git(T2, &["checkout", "-q", "-b", "feature/x"]);
        repo.commit(T2, "README", "hello\n");
        let second = repo.info();
        assert_ne!(second.commit, first);
        assert_eq!(second.branch.as_deref(), Some("feature/x"));
        assert!(second.tags_at_head.is_empty());
        assert_eq!(second.commit_time, T2);
        assert_eq!(version_tag_at_head(&second.tags_at_head), None);

        // Detached at the annotated tag: no branch, the tag's commit and tags again.
        repo.git(T2, &["checkout", "-q", "--detach", "v1.2.3"]);
        let detached = repo.info();
        assert_eq!(detached.branch, None);
        assert_eq!(detached.commit, first);
        assert_eq!(detached.tags_at_head, ["1.2.0", "nightly", "v1.2.3"]);
        assert!(!detached.dirty);
    }

    #[test]
    fn dirty_means_tracked_changes_or_untracked_files_not_ignored() {
        let repo = Repo::new();
        repo.commit(T1, ".gitignore", "*.log\n");
        repo.commit(T1, "app.conf", "a=1\n");
        assert!(!repo.info().dirty);

        repo.write("build.log", "ignored\n");
        assert!(!repo.info().dirty, "an ignored file is not a change");

        repo.write("new.txt", "untracked\n");
        assert!(repo.info().dirty, "an untracked file");
        std::fs::remove_file(repo.path().join("new.txt")).unwrap();
        assert!(!repo.info().dirty);

        repo.write("app.conf", "a=2\n");
        assert!(repo.info().dirty, "a modified tracked file");
        repo.git(T1, &["add", "app.conf"]);
        assert!(repo.info().dirty, "a staged change");
        repo.git(T1, &["reset", "-q", "HEAD", "app.conf"]);
        repo.write("app.conf", "a=1\n");
        assert!(!repo.info().dirty);

        std::fs::remove_file(repo.path().join("app.conf")).unwrap();
        assert!(repo.info().dirty, "a deleted tracked file");
    }

    #[test]
    fn no_git_facts_outside_a_work_tree() {
        let plain = tempfile::tempdir().unwrap();
        assert_eq!(git_info(plain.path()).unwrap(), None);

        // A repository without a commit yet.
        let unborn = tempfile::tempdir().unwrap();
        let status = Command::new("git")
            .arg("-C")
            .arg(unborn.path())
            .args(["init", "-q"])
            .status()
            .unwrap();
        assert!(status.success());
        assert_eq!(git_info(unborn.path()).unwrap(), None);

        // Inside the .git directory there is no work tree.
        let repo = Repo::new();
        repo.commit(T1, "f", "x\n");
        assert!(git_info(repo.path()).unwrap().is_some());
        assert_eq!(git_info(&repo.path().join(".git")).unwrap(), None);

        // No git program.
        let missing = git_info_with(OsStr::new("plinth-test-no-such-git"), repo.path());
        assert_eq!(missing.unwrap(), None);
    }

    #[test]
    fn a_broken_repository_is_an_error_with_gits_message() {
        let repo = Repo::new();
        repo.commit(T1, "f", "x\n");
        let config = repo.path().join(".git/config");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str("[[[ broken\n");
        std::fs::write(&config, text).unwrap();
        match git_info(repo.path()) {
            Err(ProvenanceError::Git { command, stderr }) => {
                assert!(command.contains("rev-parse"), "{command}");
                assert!(stderr.contains("bad config"), "{stderr}");
            }
            other => panic!("expected a git error, got {other:?}"),
        }

        // HEAD names a commit that is not in the object database.
        let repo = Repo::new();
        repo.commit(T1, "f", "x\n");
        std::fs::write(
            repo.path().join(".git/refs/heads/main"),
            "0123456789012345678901234567890123456789\n",
        )
        .unwrap();
        let err = git_info(repo.path()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("git -C") && msg.contains("log"), "{msg}");
        assert!(msg.contains("bad object"), "{msg}");

        let missing: PathBuf = repo.path().join("no-such-dir");
        let err = git_info(&missing).unwrap_err();
        assert!(err.to_string().contains("cannot change to"), "{err}");
    }

    #[test]
    fn git_errors_never_show_credentials() {
        let err = git_error(
            "git -C /src fetch https://user:secret@example.com/org/repo.git".to_string(),
            "fatal: unable to access 'https://user:secret@example.com/org/repo.git/': 403",
        );
        let msg = err.to_string();
        assert!(!msg.contains("secret") && !msg.contains("user:"), "{msg}");
        assert!(
            msg.contains("'https://example.com/org/repo.git/': 403"),
            "{msg}"
        );
        assert!(
            msg.contains("fetch https://example.com/org/repo.git"),
            "{msg}"
        );
    }

    #[test]
    fn highest_semver_tag_wins() {
        let cases: &[(&[&str], Option<&str>)] = &[
            (&["v1.2.3", "v1.10.0", "1.9.9"], Some("v1.10.0")),
            (&["v2.0.0-rc.1", "v1.9.0"], Some("v2.0.0-rc.1")),
            (&["v2.0.0-rc.1", "v2.0.0"], Some("v2.0.0")),
            (&["v1.2.3", "1.2.3"], Some("1.2.3")),
            (&["1.2.3", "v1.2.3"], Some("1.2.3")),
            (
                &["latest", "v1.2", "release-1.2.3", "V1.2.3", "v01.2.3"],
                None,
            ),
            (&[], None),
        ];
        for (tags, want) in cases {
            let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
            assert_eq!(version_tag_at_head(&tags).as_deref(), *want, "{tags:?}");
        }
    }

    #[test]
    fn credentials_are_stripped_from_urls_in_text() {
        let cases = [
            (
                "https://user:token@github.com/org/repo.git",
                "https://github.com/org/repo.git",
            ),
            (
                "https://ghp_abc@github.com/org/repo",
                "https://github.com/org/repo",
            ),
            (
                "https://gitlab-ci-token:glcbt-xyz@gitlab.com/g/p.git",
                "https://gitlab.com/g/p.git",
            ),
            ("ssh://git@host/x", "ssh://git@host/x"),
            ("ssh://git:pw@host/x", "ssh://host/x"),
            ("git+ssh://git@host:22/x", "git+ssh://git@host:22/x"),
            ("git://user@host/x", "git://host/x"),
            (
                "http://u:p@jenkins.example.com:8080/job/a/1/",
                "http://jenkins.example.com:8080/job/a/1/",
            ),
            (
                "see https://u:p@a.example/x and HTTP://b:c@b.example/y",
                "see https://a.example/x and HTTP://b.example/y",
            ),
            ("https://u:p@ss@host/", "https://host/"),
            ("'https://u:p@h/x'", "'https://h/x'"),
            ("https://u:p@host", "https://host"),
            ("mail me@example.com", "mail me@example.com"),
            ("https://host/a@b", "https://host/a@b"),
        ];
        for (text, want) in cases {
            assert_eq!(strip_credentials(text), want, "{text}");
        }

        let remotes = [
            ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
            ("user:pw@host:org/repo.git", "host:org/repo.git"),
            ("/srv/git/repo.git", "/srv/git/repo.git"),
            ("https://u:p@h/r", "https://h/r"),
        ];
        for (remote, want) in remotes {
            assert_eq!(strip_remote_credentials(remote), want, "{remote}");
        }
    }

    #[test]
    fn source_urls_are_browsable_and_the_same_for_every_clone() {
        let cases = [
            (
                "https://github.com/org/repo.git",
                Some("https://github.com/org/repo"),
            ),
            (
                "https://user:secret@example.com/org/repo.git",
                Some("https://example.com/org/repo"),
            ),
            (
                "https://github.com/org/repo/",
                Some("https://github.com/org/repo"),
            ),
            (
                "git@github.com:org/repo.git",
                Some("https://github.com/org/repo"),
            ),
            (
                "ssh://git@gitlab.example.com:2222/group/sub/proj.git",
                Some("https://gitlab.example.com/group/sub/proj"),
            ),
            ("ssh://git@[::1]:22/repo.git", Some("https://[::1]/repo")),
            (
                "git://git.kernel.org/pub/scm/git/git.git",
                Some("https://git.kernel.org/pub/scm/git/git"),
            ),
            (
                "http://internal.example/repo.git",
                Some("http://internal.example/repo"),
            ),
            ("HTTPS://example.com/a", Some("https://example.com/a")),
            ("/srv/git/repo.git", None),
            ("file:///srv/git/repo.git", None),
            ("../repo", None),
            ("./a:b", None),
            ("repo", None),
            ("https://example.com", None),
            ("ext::ssh -i key host %S", None),
            ("ftp://example.com/repo.git", None),
        ];
        for (remote, want) in cases {
            assert_eq!(source_url(remote).as_deref(), want, "{remote}");
        }
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ci(
        provider: CiProvider,
        build_url: Option<&str>,
        branch: Option<&str>,
        pull_request: Option<&str>,
        commit: Option<&str>,
    ) -> Option<CiInfo> {
        let s = |v: Option<&str>| v.map(str::to_string);
        Some(CiInfo {
            provider,
            build_url: s(build_url),
            branch: s(branch),
            pull_request: s(pull_request),
            commit: s(commit),
        })
    }

    #[test]
    fn ci_systems_are_detected_from_their_variables() {
        use CiProvider::*;
        let sha = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
        let github = [
            ("CI", "true"),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "org/repo"),
            ("GITHUB_RUN_ID", "123"),
            ("GITHUB_SHA", sha),
        ];
        let with = |base: &[(&'static str, &'static str)],
                    more: &[(&'static str, &'static str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(more);
            env(&all)
        };
        let cases: Vec<(&str, BTreeMap<String, String>, Option<CiInfo>)> = vec![
            ("nothing", env(&[]), None),
            ("unrelated", env(&[("PATH", "/bin")]), None),
            ("CI=false", env(&[("CI", "false")]), None),
            ("CI=0", env(&[("CI", "0")]), None),
            ("CI empty", env(&[("CI", "")]), None),
            (
                "CI=true",
                env(&[("CI", "true")]),
                ci(Generic, None, None, None, None),
            ),
            (
                "CI=1",
                env(&[("CI", "1")]),
                ci(Generic, None, None, None, None),
            ),
            (
                "github push",
                with(
                    &github,
                    &[
                        ("GITHUB_RUN_ATTEMPT", "1"),
                        ("GITHUB_REF", "refs/heads/main"),
                        ("GITHUB_REF_NAME", "main"),
                        ("GITHUB_REF_TYPE", "branch"),
                        ("GITHUB_HEAD_REF", ""),
                    ],
                ),
                ci(
                    GithubActions,
                    Some("https://github.com/org/repo/actions/runs/123"),
                    Some("main"),
                    None,
                    Some(sha),
                ),
            ),
            (
                "github pull request, third attempt",
                with(
                    &github,
                    &[
                        ("GITHUB_RUN_ATTEMPT", "3"),
                        ("GITHUB_REF", "refs/pull/42/merge"),
                        ("GITHUB_REF_NAME", "42/merge"),
                        ("GITHUB_REF_TYPE", "branch"),
                        ("GITHUB_HEAD_REF", "feature/x"),
                    ],
                ),
                ci(
                    GithubActions,
                    Some("https://github.com/org/repo/actions/runs/123/attempts/3"),
                    Some("feature/x"),
                    Some("42"),
                    Some(sha),
                ),
            ),
            (
                "github tag",
                with(
                    &github,
                    &[
                        ("GITHUB_REF", "refs/tags/v1.2.3"),
                        ("GITHUB_REF_NAME", "v1.2.3"),
                        ("GITHUB_REF_TYPE", "tag"),
                    ],
                ),
                ci(
                    GithubActions,
                    Some("https://github.com/org/repo/actions/runs/123"),
                    None,
                    None,
                    Some(sha),
                ),
            ),
            (
                "gitlab branch",
                env(&[
                    ("CI", "true"),
                    ("GITLAB_CI", "true"),
                    ("CI_JOB_URL", "https://gitlab.com/g/p/-/jobs/9"),
                    ("CI_COMMIT_BRANCH", "main"),
                    ("CI_COMMIT_REF_NAME", "main"),
                    ("CI_COMMIT_SHA", sha),
                ]),
                ci(
                    GitlabCi,
                    Some("https://gitlab.com/g/p/-/jobs/9"),
                    Some("main"),
                    None,
                    Some(sha),
                ),
            ),
            (
                "gitlab merge request",
                env(&[
                    ("GITLAB_CI", "true"),
                    ("CI_JOB_URL", "https://gitlab.com/g/p/-/jobs/10"),
                    ("CI_COMMIT_REF_NAME", "fix"),
                    ("CI_MERGE_REQUEST_IID", "7"),
                    ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "fix"),
                ]),
                ci(
                    GitlabCi,
                    Some("https://gitlab.com/g/p/-/jobs/10"),
                    Some("fix"),
                    Some("7"),
                    None,
                ),
            ),
            (
                "gitlab tag",
                env(&[
                    ("GITLAB_CI", "true"),
                    ("CI_COMMIT_TAG", "v1.0.0"),
                    ("CI_COMMIT_REF_NAME", "v1.0.0"),
                ]),
                ci(GitlabCi, None, None, None, None),
            ),
            (
                "jenkins freestyle, credentials in BUILD_URL",
                env(&[
                    ("JENKINS_URL", "http://jenkins.example:8080/"),
                    (
                        "BUILD_URL",
                        "http://admin:hunter2@jenkins.example:8080/job/app/12/",
                    ),
                    ("GIT_BRANCH", "origin/release/1.x"),
                    ("GIT_COMMIT", sha),
                ]),
                ci(
                    Jenkins,
                    Some("http://jenkins.example:8080/job/app/12/"),
                    Some("release/1.x"),
                    None,
                    Some(sha),
                ),
            ),
            (
                "jenkins multibranch branch",
                env(&[
                    ("JENKINS_URL", "http://jenkins.example/"),
                    ("BRANCH_NAME", "develop"),
                    ("GIT_BRANCH", "develop"),
                ]),
                ci(Jenkins, None, Some("develop"), None, None),
            ),
            (
                "jenkins multibranch pull request",
                env(&[
                    ("JENKINS_URL", "http://jenkins.example/"),
                    ("BUILD_URL", "http://jenkins.example/job/app/job/PR-5/1/"),
                    ("BRANCH_NAME", "PR-5"),
                    ("CHANGE_ID", "5"),
                    ("CHANGE_BRANCH", "feature"),
                ]),
                ci(
                    Jenkins,
                    Some("http://jenkins.example/job/app/job/PR-5/1/"),
                    Some("feature"),
                    Some("5"),
                    None,
                ),
            ),
            (
                "jenkins multibranch tag",
                env(&[
                    ("JENKINS_URL", "http://jenkins.example/"),
                    ("BRANCH_NAME", "v1.0.0"),
                    ("TAG_NAME", "v1.0.0"),
                ]),
                ci(Jenkins, None, None, None, None),
            ),
            (
                "buildkite branch",
                env(&[
                    ("BUILDKITE", "true"),
                    ("CI", "true"),
                    (
                        "BUILDKITE_BUILD_URL",
                        "https://buildkite.com/org/app/builds/3",
                    ),
                    ("BUILDKITE_BRANCH", "main"),
                    ("BUILDKITE_PULL_REQUEST", "false"),
                    ("BUILDKITE_COMMIT", sha),
                ]),
                ci(
                    Buildkite,
                    Some("https://buildkite.com/org/app/builds/3"),
                    Some("main"),
                    None,
                    Some(sha),
                ),
            ),
            (
                "buildkite pull request",
                env(&[
                    ("BUILDKITE", "true"),
                    ("BUILDKITE_BRANCH", "feature"),
                    ("BUILDKITE_PULL_REQUEST", "9"),
                ]),
                ci(Buildkite, None, Some("feature"), Some("9"), None),
            ),
            (
                "buildkite tag at HEAD",
                env(&[
                    ("BUILDKITE", "true"),
                    ("BUILDKITE_BRANCH", "v2.0.0"),
                    ("BUILDKITE_TAG", "v2.0.0"),
                    ("BUILDKITE_COMMIT", "HEAD"),
                ]),
                ci(Buildkite, None, None, None, None),
            ),
            (
                "circleci branch",
                env(&[
                    ("CIRCLECI", "true"),
                    ("CI", "true"),
                    ("CIRCLE_BUILD_URL", "https://circleci.com/gh/org/app/55"),
                    ("CIRCLE_BRANCH", "main"),
                    ("CIRCLE_SHA1", sha),
                ]),
                ci(
                    CircleCi,
                    Some("https://circleci.com/gh/org/app/55"),
                    Some("main"),
                    None,
                    Some(sha),
                ),
            ),
            (
                "circleci pull request",
                env(&[
                    ("CIRCLECI", "true"),
                    ("CIRCLE_BRANCH", "feature"),
                    ("CIRCLE_PULL_REQUEST", "https://github.com/org/app/pull/77"),
                ]),
                ci(CircleCi, None, Some("feature"), Some("77"), None),
            ),
            (
                "circleci forked pull request",
                env(&[
                    ("CIRCLECI", "true"),
                    ("CIRCLE_PR_NUMBER", "78"),
                    ("CIRCLE_PULL_REQUEST", "https://github.com/org/app/pull/78"),
                ]),
                ci(CircleCi, None, None, Some("78"), None),
            ),
        ];
        for (name, env, want) in cases {
            assert_eq!(detect_ci(&env), want, "{name}");
        }
    }

    fn git_facts(dirty: bool, remote: Option<&str>) -> GitInfo {
        GitInfo {
            commit: "a".repeat(40),
            short_sha: "a".repeat(7),
            branch: Some("main".to_string()),
            dirty,
            remote_url: remote.map(str::to_string),
            tags_at_head: vec![],
            commit_time: T1,
        }
    }

    #[test]
    fn labels_fill_every_key() {
        let git = git_facts(
            false,
            Some("https://gitlab-ci-token:s3cr3t@gitlab.example.com/group/app.git"),
        );
        let ci = CiInfo {
            provider: CiProvider::GitlabCi,
            build_url: Some("https://gitlab.example.com/group/app/-/jobs/9".to_string()),
            branch: Some("main".to_string()),
            pull_request: None,
            commit: Some("b".repeat(40)),
        };
        let extra = env(&[("com.example.team", "platform")]);
        let labels = oci_labels(&LabelInput {
            created: "2020-09-13T12:26:40Z",
            git: Some(&git),
            ci: Some(&ci),
            version: Some("1.2.3"),
            title: Some("app"),
            description: Some("The app"),
            vendor: Some("Example"),
            licenses: Some("Apache-2.0"),
            url: Some("https://example.com/app"),
            documentation: Some("https://example.com/app/docs"),
            base_name: Some("docker.io/library/debian:bookworm"),
            base_digest: Some("sha256:0123"),
            development: false,
            forced_release_tags: false,
            extra: &extra,
        })
        .unwrap();
        let want = env(&[
            (CREATED, "2020-09-13T12:26:40Z"),
            (REVISION, &"a".repeat(40)),
            (SOURCE, "https://gitlab.example.com/group/app"),
            (VERSION, "1.2.3"),
            (TITLE, "app"),
            (DESCRIPTION, "The app"),
            (VENDOR, "Example"),
            (LICENSES, "Apache-2.0"),
            (URL, "https://example.com/app"),
            (DOCUMENTATION, "https://example.com/app/docs"),
            (BASE_NAME, "docker.io/library/debian:bookworm"),
            (BASE_DIGEST, "sha256:0123"),
            (BUILD_URL, "https://gitlab.example.com/group/app/-/jobs/9"),
            ("com.example.team", "platform"),
        ]);
        assert_eq!(labels, want);
    }

    #[test]
    fn development_builds_are_marked() {
        let dirty = git_facts(true, None);
        let clean = git_facts(false, None);
        let ci = ci(CiProvider::Generic, None, None, None, None).unwrap();

        assert!(is_development_build(None, None));
        assert!(is_development_build(Some(&clean), None));
        assert!(is_development_build(Some(&dirty), Some(&ci)));
        assert!(!is_development_build(Some(&clean), Some(&ci)));
        assert!(!is_development_build(None, Some(&ci)));

        let labels = oci_labels(&LabelInput {
            git: Some(&dirty),
            development: is_development_build(Some(&dirty), Some(&ci)),
            forced_release_tags: true,
            ..LabelInput::default()
        })
        .unwrap();
        assert_eq!(
            labels.get(BUILD_DEVELOPMENT).map(String::as_str),
            Some("true")
        );
        assert_eq!(
            labels.get(BUILD_FORCED_RELEASE_TAGS).map(String::as_str),
            Some("true")
        );
        assert_eq!(labels.get(GIT_DIRTY).map(String::as_str), Some("true"));

        let labels = oci_labels(&LabelInput {
            git: Some(&clean),
            development: is_development_build(Some(&clean), Some(&ci)),
            ..LabelInput::default()
        })
        .unwrap();
        for key in [BUILD_DEVELOPMENT, BUILD_FORCED_RELEASE_TAGS, GIT_DIRTY] {
            assert!(!labels.contains_key(key), "{key} in {labels:?}");
        }
    }

    #[test]
    fn label_values_never_carry_credentials() {
        let git = git_facts(
            false,
            Some("https://oauth2:glpat-123@gitlab.example.com/g/app.git"),
        );
        let ci = CiInfo {
            provider: CiProvider::Jenkins,
            build_url: Some("http://admin:hunter2@jenkins.example:8080/job/app/12/".to_string()),
            branch: None,
            pull_request: None,
            commit: None,
        };
        let extra = env(&[("com.example.mirror", "https://bob:pw123@mirror.example/x")]);
        let labels = oci_labels(&LabelInput {
            git: Some(&git),
            ci: Some(&ci),
            description: Some("built from https://ann:tok456@git.example/app"),
            documentation: Some("https://carl:tok789@docs.example/app"),
            extra: &extra,
            ..LabelInput::default()
        })
        .unwrap();
        assert_eq!(labels[SOURCE], "https://gitlab.example.com/g/app");
        assert_eq!(labels[BUILD_URL], "http://jenkins.example:8080/job/app/12/");
        assert_eq!(labels["com.example.mirror"], "https://mirror.example/x");
        assert_eq!(labels[DESCRIPTION], "built from https://git.example/app");
        assert_eq!(labels[DOCUMENTATION], "https://docs.example/app");
        for secret in ["glpat", "hunter2", "pw123", "tok456", "tok789", "@"] {
            assert!(
                labels.values().all(|v| !v.contains(secret)),
                "{secret} in {labels:?}"
            );
        }
    }

    #[test]
    fn extra_labels_cannot_set_keys_plinth_fills() {
        let mut reserved: Vec<&str> = FILLED_KEYS.iter().map(|(k, _)| *k).collect();
        reserved.extend([BUILD_URL, BUILD_DEVELOPMENT, GIT_DIRTY, "dev.plinth.custom"]);
        assert_eq!(reserved.len(), 16);
        for key in reserved {
            let extra = env(&[(key, "mine")]);
            // Reserved even where this build has no value of its own (no git, no CI).
            let err = oci_labels(&LabelInput {
                extra: &extra,
                ..LabelInput::default()
            })
            .unwrap_err();
            match &err {
                ProvenanceError::ReservedLabel { key: k, .. } => assert_eq!(k, key),
                other => panic!("{key}: expected ReservedLabel, got {other:?}"),
            }
            assert!(err.to_string().contains(key), "{err}");
        }

        let extra = env(&[
            ("org.opencontainers.image.authors", "team@example.com"),
            ("com.example.team", "platform"),
        ]);
        let labels = oci_labels(&LabelInput {
            extra: &extra,
            ..LabelInput::default()
        })
        .unwrap();
        assert_eq!(labels, extra);
    }

    #[test]
    fn empty_values_are_left_out_and_empty_keys_refused() {
        let extra = env(&[("com.example.empty", ""), ("com.example.blank", "  ")]);
        let git = git_facts(false, Some("/srv/git/app.git"));
        let labels = oci_labels(&LabelInput {
            created: "",
            git: Some(&git),
            description: Some(" "),
            title: Some(""),
            base_name: Some("debian:bookworm"),
            extra: &extra,
            ..LabelInput::default()
        })
        .unwrap();
        // A local remote gives no source; only the revision and the base name remain.
        let want = env(&[(REVISION, &"a".repeat(40)), (BASE_NAME, "debian:bookworm")]);
        assert_eq!(labels, want);

        let extra = env(&[("", "x")]);
        let err = oci_labels(&LabelInput {
            extra: &extra,
            ..LabelInput::default()
        })
        .unwrap_err();
        assert!(matches!(err, ProvenanceError::EmptyLabelKey), "{err:?}");
    }

    #[test]
    fn revision_falls_back_to_the_ci_commit() {
        let ci_commit = "c".repeat(40);
        let ci = ci(CiProvider::Generic, None, None, None, Some(&ci_commit)).unwrap();
        let labels = oci_labels(&LabelInput {
            ci: Some(&ci),
            ..LabelInput::default()
        })
        .unwrap();
        assert_eq!(labels[REVISION], ci_commit);

        let git = git_facts(false, None);
        let labels = oci_labels(&LabelInput {
            git: Some(&git),
            ci: Some(&ci),
            ..LabelInput::default()
        })
        .unwrap();
        assert_eq!(labels[REVISION], git.commit);
    }
}
