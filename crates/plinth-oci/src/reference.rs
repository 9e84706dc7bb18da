//! Image references as users write them (`app`, `app:1.0`, `registry.example.com:5000/team/app:1.0`,
//! `app@sha256:...`), checked against Docker's reference grammar (distribution/reference) so that
//! every name plinth stores is also a valid `docker load` `RepoTags` entry.
//!
//! Names are kept as the user gave them: no `docker.io/library/` is added. The only normalization is
//! the default tag: a reference without a tag (and without a digest) gets `:latest`.

use std::fmt;

use crate::Digest;

/// The longest name (without tag or digest) Docker accepts.
const NAME_MAX: usize = 255;
/// The longest tag Docker accepts.
const TAG_MAX: usize = 128;

/// Why a string is not a valid image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("invalid reference {reference:?}: {reason}")]
    Invalid { reference: String, reason: String },
    #[error(
        "invalid reference {reference:?}: a digest reference (name@sha256:...) cannot be used as a tag"
    )]
    DigestNotAllowed { reference: String },
}

/// A parsed reference: `name[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The repository name as given, e.g. `registry.example.com/team/app`.
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl ImageRef {
    /// Parses and validates a reference.
    pub fn parse(reference: &str) -> Result<ImageRef, RefError> {
        let invalid = |reason: &str| RefError::Invalid {
            reference: reference.to_string(),
            reason: reason.to_string(),
        };
        if reference.is_empty() {
            return Err(invalid("empty reference"));
        }
        let (name_tag, digest) = match reference.split_once('@') {
            Some((n, d)) => {
                let digest = d.parse::<Digest>().map_err(|e| invalid(&e.to_string()))?;
                (n, Some(digest))
            }
            None => (reference, None),
        };
        let last_slash = name_tag.rfind('/');
        let (name, tag) = match name_tag.rfind(':') {
            Some(colon) if last_slash.is_none_or(|s| colon > s) => {
                (&name_tag[..colon], Some(name_tag[colon + 1..].to_string()))
            }
            _ => (name_tag, None),
        };
        if let Some(tag) = &tag {
            check_tag(tag).map_err(|r| invalid(&r))?;
        }
        check_name(name).map_err(|r| invalid(&r))?;
        Ok(ImageRef {
            name: name.to_string(),
            tag,
            digest,
        })
    }

    /// The tag, or `latest` when none was given.
    pub fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }

    /// `name:tag` with the default tag filled in (the digest, if any, is left out).
    pub fn name_tag(&self) -> String {
        format!("{}:{}", self.name, self.tag_or_latest())
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Validates a reference meant to name an image in the store and returns it with `:latest` added
/// when it has no tag. Digest references are refused (a ref name cannot pin a digest).
pub fn normalize_ref(reference: &str) -> Result<String, RefError> {
    let r = ImageRef::parse(reference)?;
    if r.digest.is_some() {
        return Err(RefError::DigestNotAllowed {
            reference: reference.to_string(),
        });
    }
    Ok(r.name_tag())
}

/// Docker's "familiar" form of a normalized reference: `docker.io/library/app:1` becomes `app:1`
/// and `docker.io/team/app:1` becomes `team/app:1`; anything else is returned unchanged. Used for
/// names read from archives written by tools that fully qualify names (skopeo, containerd), so they
/// match what users type, as `docker load` shows them.
pub fn familiar(reference: &str) -> String {
    let rest = reference
        .strip_prefix("docker.io/")
        .or_else(|| reference.strip_prefix("index.docker.io/"));
    match rest {
        Some(rest) => match rest.strip_prefix("library/") {
            Some(short) if !short.contains('/') => short.to_string(),
            _ => rest.to_string(),
        },
        None => reference.to_string(),
    }
}

fn check_tag(tag: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    match bytes.first() {
        None => return Err("empty tag".into()),
        Some(&b) if !word(b) => {
            return Err(format!(
                "tag {tag:?} must start with a letter, digit or '_'"
            ));
        }
        _ => {}
    }
    if bytes.len() > TAG_MAX {
        return Err(format!("tag {tag:?} is longer than {TAG_MAX} characters"));
    }
    if !bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-') {
        return Err(format!(
            "tag {tag:?} may only contain letters, digits, '_', '.' and '-'"
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty repository name".into());
    }
    if name.len() > NAME_MAX {
        return Err(format!(
            "repository name is longer than {NAME_MAX} characters"
        ));
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1 {
        let first = parts[0];
        let is_domain = first.contains('.')
            || first.contains(':')
            || first == "localhost"
            || first.bytes().any(|b| b.is_ascii_uppercase());
        if is_domain {
            check_domain(first)?;
            parts.remove(0);
        }
    }
    for part in parts {
        check_path_component(part)?;
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), String> {
    let bad = || Err(format!("invalid registry host {domain:?}"));
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        // IPv6 literal: [addr] or [addr]:port
        let Some((addr, after)) = rest.split_once(']') else {
            return bad();
        };
        if addr.is_empty()
            || !addr
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return bad();
        }
        match after {
            "" => return Ok(()),
            p => match p.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return bad(),
            },
        }
    } else {
        match domain.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return bad();
    }
    if domain.starts_with('[') {
        return Ok(());
    }
    for comp in host.split('.') {
        let b = comp.as_bytes();
        let ok = !b.is_empty()
            && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
            && b.first() != Some(&b'-')
            && b.last() != Some(&b'-');
        if !ok {
            return bad();
        }
    }
    Ok(())
}

fn check_path_component(comp: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid repository name component {comp:?}: {why}"));
    if comp.is_empty() {
        return bad("empty component");
    }
    if comp.bytes().any(|b| b.is_ascii_uppercase()) {
        return bad("repository names must be lowercase");
    }
    let b = comp.as_bytes();
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return bad("must start and end with a lowercase letter or digit");
    }
    // separator := [_.] | __ | [-]+
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &comp[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return bad(&format!(
                "separator {sep:?} is not one of '.', '_', '__' or dashes"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_latest_only_when_no_tag() {
        assert_eq!(normalize_ref("app").unwrap(), "app:latest");
        assert_eq!(normalize_ref("app:1.0").unwrap(), "app:1.0");
        assert_eq!(
            normalize_ref("registry.example.com/team/app:1.0").unwrap(),
            "registry.example.com/team/app:1.0"
        );
        assert_eq!(
            normalize_ref("localhost:5000/app").unwrap(),
            "localhost:5000/app:latest"
        );
        assert_eq!(
            normalize_ref("localhost:5000/app:v2").unwrap(),
            "localhost:5000/app:v2"
        );
        assert_eq!(
            normalize_ref("[::1]:5000/a/b").unwrap(),
            "[::1]:5000/a/b:latest"
        );
        assert_eq!(
            normalize_ref("a__b/c-d--e/f.g_h").unwrap(),
            "a__b/c-d--e/f.g_h:latest"
        );
    }

    #[test]
    fn rejects_what_docker_rejects() {
        for bad in [
            "",
            "App",
            "app:",
            "app:-x",
            ":tag",
            "app/",
            "/app",
            "a..b",
            "a___b",
            "-app",
            "app-",
            "reg:x/app",
            "app:has/slash",
            "app@sha256:abc",
            &format!("app:{}", "x".repeat(129)),
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(normalize_ref(&format!("app:{}", "x".repeat(128))).is_ok());
        assert!(
            ImageRef::parse("Registry.Example.com/app").is_ok(),
            "uppercase allowed in the domain"
        );
    }

    #[test]
    fn familiar_strips_only_docker_hub_defaults() {
        assert_eq!(familiar("docker.io/library/app:1"), "app:1");
        assert_eq!(familiar("index.docker.io/library/app:1"), "app:1");
        assert_eq!(familiar("docker.io/team/app:1"), "team/app:1");
        assert_eq!(familiar("docker.io/library/a/b:1"), "library/a/b:1");
        assert_eq!(
            familiar("registry.example.com/library/app:1"),
            "registry.example.com/library/app:1"
        );
        assert_eq!(familiar("app:1"), "app:1");
    }

    #[test]
    fn digest_refs_parse_but_are_not_ref_names() {
        let d = Digest::of(b"x");
        let r = ImageRef::parse(&format!("reg.io/app:1@{d}")).unwrap();
        assert_eq!(r.name, "reg.io/app");
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.digest.as_ref(), Some(&d));
        assert!(matches!(
            normalize_ref(&format!("app@{d}")),
            Err(RefError::DigestNotAllowed { .. })
        ));
    }
}
