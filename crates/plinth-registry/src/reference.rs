//! Splitting an image name into the registry host and the repository path, the way Docker does
//! (`app` is `docker.io/library/app`; a first component with a `.` or `:` or equal to `localhost`
//! is a registry host). Grammar checks are plinth-oci's ([`plinth_oci::reference::ImageRef`]).

use std::fmt;

use plinth_oci::reference::{ImageRef, RefError};

/// The registry host Docker Hub names resolve to.
pub const DOCKER_HUB: &str = "docker.io";
/// The host actually serving Docker Hub's registry API.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A repository on a registry: `registry/repository`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoRef {
    /// `host[:port]`, e.g. `127.0.0.1:5000` or `docker.io`.
    pub registry: String,
    /// The path inside the registry, e.g. `library/alpine`.
    pub repository: String,
}

impl RepoRef {
    /// Builds a repository reference from its parts.
    pub fn new(registry: impl Into<String>, repository: impl Into<String>) -> RepoRef {
        RepoRef {
            registry: registry.into(),
            repository: repository.into(),
        }
    }

    /// Splits the name of a parsed reference into registry and repository.
    pub fn from_name(name: &str) -> RepoRef {
        let (first, rest) = match name.split_once('/') {
            Some((f, r)) => (f, Some(r)),
            None => (name, None),
        };
        match rest {
            Some(rest) if first.contains(['.', ':']) || first == "localhost" => {
                let registry = if first == "index.docker.io" {
                    DOCKER_HUB
                } else {
                    first
                };
                let repository = if registry == DOCKER_HUB && !rest.contains('/') {
                    format!("library/{rest}")
                } else {
                    rest.to_string()
                };
                RepoRef::new(registry, repository)
            }
            _ if !name.contains('/') => RepoRef::new(DOCKER_HUB, format!("library/{name}")),
            _ => RepoRef::new(DOCKER_HUB, name),
        }
    }

    /// The host to connect to (Docker Hub's API host for `docker.io`).
    pub fn api_host(&self) -> &str {
        api_host(&self.registry)
    }
}

/// The host serving a registry's API.
pub fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

/// What a reference points at inside a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    pub repo: RepoRef,
    /// The tag, or the digest as a string when the reference pins one (the digest wins).
    pub reference: String,
}

impl RemoteRef {
    /// Parses `[registry/]name[:tag][@digest]`, with `latest` as the default tag.
    pub fn parse(s: &str) -> Result<RemoteRef, RefError> {
        let r = ImageRef::parse(s)?;
        let reference = match &r.digest {
            Some(d) => d.to_string(),
            None => r.tag_or_latest().to_string(),
        };
        Ok(RemoteRef {
            repo: RepoRef::from_name(&r.name),
            reference,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_split_rules() {
        let c = |n: &str| {
            let r = RepoRef::from_name(n);
            (r.registry, r.repository)
        };
        assert_eq!(c("alpine"), ("docker.io".into(), "library/alpine".into()));
        assert_eq!(c("team/app"), ("docker.io".into(), "team/app".into()));
        assert_eq!(
            c("docker.io/alpine"),
            ("docker.io".into(), "library/alpine".into())
        );
        assert_eq!(
            c("index.docker.io/team/app"),
            ("docker.io".into(), "team/app".into())
        );
        assert_eq!(
            c("127.0.0.1:5000/a/b"),
            ("127.0.0.1:5000".into(), "a/b".into())
        );
        assert_eq!(c("localhost/app"), ("localhost".into(), "app".into()));
        assert_eq!(
            c("ghcr.io/owner/img"),
            ("ghcr.io".into(), "owner/img".into())
        );
        assert_eq!(RepoRef::from_name("alpine").api_host(), DOCKER_HUB_API);
    }

    #[test]
    fn remote_refs() {
        let r = RemoteRef::parse("localhost:5000/app").unwrap();
        assert_eq!(r.repo.to_string(), "localhost:5000/app");
        assert_eq!(r.reference, "latest");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = RemoteRef::parse(&format!("h.io/app:1@{d}")).unwrap();
        assert_eq!(r.reference, d);
        assert!(RemoteRef::parse("x/UPPER").is_err());
    }
}
