//! The tags of one image of a family, from its version, git and CI facts (seed 003's tag policy).
//!
//! This module is pure policy: everything comes in as a [`TagInput`] value (the caller reads
//! plinth.toml, git and the CI environment) and [`compute_tags`] returns the [`Tags`] or a
//! [`TagError`]. No IO happens here.
//!
//! # Policy
//!
//! Every image gets:
//!
//! - **One unique, immutable tag** (seed 003: "one completely unique tag, to identify that exact
//!   image for all eternity"). It is rendered from a template, by default `{branch}-{sha}-{time}`
//!   (git branch or PR number, short commit sha, integer build time, as in the seed). Placeholders:
//!   `{branch}` (the sanitized branch, `pr-<N>` for a pull/merge request, `detached` for a detached
//!   HEAD), `{sha}`, `{time}` (unix seconds), `{version}` (the family version), `{variant}`. A
//!   template must contain `{sha}` or `{time}`, else it would not be unique. An image with a
//!   variant whose template has no `{variant}` gets `-<variant>` appended, so that two variants of
//!   one image built from the same commit in the same second still get different tags.
//! - **Version tags** `X.Y.Z`, `X.Y`, `X` (most specific first) from the family version: a
//!   `vX.Y.Z` (or `X.Y.Z`) git tag on HEAD when there is one (seed 004 publishes on such a tag),
//!   else plinth.toml's `version`. When both exist they must be the same version, else the build
//!   is refused with both values named. A **pre-release** (`2.0.0-rc.1`) gets only its full
//!   version: `2.0` and `2` keep pointing at the newest stable release. Semver **build metadata**
//!   (`1.4.2+build.5`) is refused: `+` cannot appear in a tag, and replacing it (as Helm does with
//!   `_`) would make a tag `1.4.2_build.5` that no version range resolves to while `1.4.2` would
//!   then be ambiguous; a build's identity belongs in the unique tag, and a flavour in a variant.
//! - **`latest`** only for a stable release (never a pre-release) built by CI from a clean work
//!   tree (seed 003 checklist item 7: "the latest tag points to the most recent stable release").
//!
//! # Variants
//!
//! Like the official images (seed 003: python's newest stable image is tagged `3.9.0-buster`,
//! `3.9-buster`, `3-buster`, `buster`, and also `3.9.0`, `3.9`, `3`, `latest` because buster is
//! the default variant), an image with a variant gets every version tag with a `-<variant>` suffix,
//! and the bare variant name plays the role of `latest` for that variant. Only the default variant
//! ([`VariantTags::AlsoPlain`]) additionally gets the plain version tags and `latest`; any other
//! variant never gets a plain tag, so that `1.4` and `latest` name exactly one image.
//!
//! # Development builds
//!
//! A build outside CI, or from a dirty work tree, is a development build (seed 003 checklist item
//! 15: "manually/locally built images are easily identified as development / non-release
//! artifacts"). Its unique tag starts with `dev-` and, when the tree is dirty, ends with `-dirty`;
//! these marks are added outside the template, so no template can hide them. It gets no version
//! tags and no `latest`. With [`ReleaseTagsForDev::Yes`] (an explicit flag) it gets the version
//! tags, never `latest` nor the bare variant tag, and [`Tags::forced_release_tags`] is set so that
//! the caller records the override in a label; [`Tags::development`] is the label's other input.
//!
//! # Tag syntax
//!
//! A Docker tag matches `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. Values that come from outside
//! (branch, PR number) are sanitized: case is kept, every run of other characters becomes one
//! `-`, and leading `.`/`-` and trailing `.`/`-` are trimmed (`feature/Foo Bar` becomes
//! `feature-Foo-Bar`). Configuration (template text, variant) is validated instead, and refused
//! with an error when a tag cannot hold it. A unique tag longer than 128 characters is shortened
//! by truncating the branch, never the sha, time, version or marks.

use std::fmt;

use serde::Serialize;

/// The longest tag the distribution spec and Docker accept.
pub const MAX_TAG_LEN: usize = 128;

/// The unique tag template used when none is configured.
pub const DEFAULT_TEMPLATE: &str = "{branch}-{sha}-{time}";

/// Everything the tag policy needs, gathered by the caller (plinth.toml, git, CI environment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagInput {
    /// The family version from plinth.toml, e.g. `1.4.2` or `2.0.0-rc.1` (a leading `v` is accepted).
    pub version: Option<String>,
    /// A `vX.Y.Z` / `X.Y.Z` git tag on HEAD, if any.
    pub git_tag_version: Option<String>,
    /// The git branch; `None` when HEAD is detached.
    pub branch: Option<String>,
    /// The pull/merge request number from CI; when set (and not empty) it names the build as
    /// `pr-<N>` instead of the branch.
    pub pull_request: Option<String>,
    /// The short commit sha (hexadecimal).
    pub short_sha: String,
    /// The build time in unix seconds.
    pub unix_time: i64,
    /// The work tree has uncommitted changes.
    pub dirty: bool,
    /// The build runs in CI.
    pub ci: bool,
    /// The image's variant, e.g. `bookworm`.
    pub variant: Option<String>,
    /// Whether the variant is the image's default one (ignored without a variant).
    pub variant_tags: VariantTags,
    /// The unique tag template; `None` means [`DEFAULT_TEMPLATE`].
    pub template: Option<String>,
    /// The explicit flag that gives a development build its version tags anyway.
    pub release_tags_for_development: ReleaseTagsForDev,
}

/// Whether a development build gets version tags (never `latest`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseTagsForDev {
    /// Development builds get only their unique tag.
    #[default]
    No,
    /// Development builds also get version tags, and the result says so.
    Yes,
}

/// Which tags an image with a variant gets besides the `-<variant>` ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VariantTags {
    /// Only the suffixed tags and the bare variant name (python's `3.9-alpine`, `alpine`).
    #[default]
    SuffixedOnly,
    /// The default variant: also the plain version tags and `latest` (python's `3.9`, `latest`).
    AlsoPlain,
}

/// Where the family version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VersionSource {
    /// plinth.toml's `version`.
    PlinthToml,
    /// A version tag on HEAD.
    GitTag,
}

impl fmt::Display for VersionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VersionSource::PlinthToml => "plinth.toml",
            VersionSource::GitTag => "git tag",
        })
    }
}

/// The tags of one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tags {
    /// The unique, immutable tag.
    pub unique: String,
    /// Version tags, most specific first (`1.4.2-bookworm`, `1.4-bookworm`, `1-bookworm`, then the
    /// plain ones for a default variant).
    pub version: Vec<String>,
    /// The tags that follow the newest stable release: `latest`, or the bare variant name for an
    /// image with a variant (both for the default variant). Empty unless this is a stable release
    /// built by CI from a clean tree.
    pub latest: Vec<String>,
    /// A development build (outside CI or from a dirty tree); the caller labels the image.
    pub development: bool,
    /// The family version, normalized (no leading `v`), whether or not it was tagged.
    pub resolved_version: Option<String>,
    /// Where [`Tags::resolved_version`] came from.
    pub version_source: Option<VersionSource>,
    /// Version tags were given to a development build because of [`ReleaseTagsForDev::Yes`]; the
    /// caller records this in a label.
    pub forced_release_tags: bool,
}

impl Tags {
    /// Every tag: the unique one first, then the version tags, then the `latest` ones.
    pub fn all(&self) -> Vec<String> {
        std::iter::once(&self.unique)
            .chain(&self.version)
            .chain(&self.latest)
            .cloned()
            .collect()
    }

    /// The version tags that name the full version (`1.4.2`, `1.4.2-bookworm`, `2.0.0-rc.1`):
    /// a release, which a registry push never moves by default (`1.4`, `1` and `latest` float).
    pub fn full_version(&self) -> Vec<&str> {
        let Some(v) = &self.resolved_version else {
            return Vec::new();
        };
        let with_variant = format!("{v}-");
        self.version
            .iter()
            .filter(|t| *t == v || t.starts_with(&with_variant))
            .map(String::as_str)
            .collect()
    }
}

/// Why the tags of an image cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// A version is not semver.
    #[error("{source_name} version `{value}` is not a semantic version (X.Y.Z): {reason}")]
    InvalidVersion {
        source_name: VersionSource,
        value: String,
        reason: String,
    },
    /// A version carries build metadata, which a tag cannot hold.
    #[error(
        "{source_name} version `{value}` has build metadata (`+{build}`), which an image tag \
         cannot hold; drop it (the unique tag identifies the build, a variant names a flavour)"
    )]
    BuildMetadata {
        source_name: VersionSource,
        value: String,
        build: String,
    },
    /// The git tag on HEAD and plinth.toml disagree.
    #[error("the git tag `{git_tag}` on HEAD and plinth.toml's version `{plinth_toml}` disagree")]
    VersionMismatch {
        git_tag: String,
        plinth_toml: String,
    },
    /// A template placeholder is not known.
    #[error(
        "unknown placeholder `{{{name}}}` in tag template `{template}` \
         (known: {{branch}} {{sha}} {{time}} {{version}} {{variant}})"
    )]
    UnknownPlaceholder { template: String, name: String },
    /// A `{` without `}` or a `}` without `{`.
    #[error("unbalanced brace in tag template `{template}`")]
    UnbalancedBrace { template: String },
    /// Template text a tag cannot hold.
    #[error(
        "tag template `{template}` contains `{character}`, which a tag cannot hold \
         (only letters, digits, `_`, `.` and `-`)"
    )]
    InvalidTemplateText { template: String, character: char },
    /// A template that starts with `.` or `-`.
    #[error("tag template `{template}` starts with `{character}`, which a tag cannot start with")]
    InvalidTemplateStart { template: String, character: char },
    /// A template without `{sha}` or `{time}`.
    #[error("a unique tag template needs {{sha}} or {{time}}: `{template}`")]
    NotUnique { template: String },
    /// A template uses a value the image does not have.
    #[error("tag template `{template}` uses {{{placeholder}}} but the image has no {placeholder}")]
    MissingValue {
        template: String,
        placeholder: &'static str,
    },
    /// A variant a tag cannot hold.
    #[error(
        "variant `{variant}` is not a valid tag part (letters, digits, `_`, `.`, `-`, \
         not starting with `.` or `-`)"
    )]
    InvalidVariant { variant: String },
    /// A commit sha that is not hexadecimal.
    #[error("commit sha `{sha}` is not a hexadecimal sha")]
    InvalidSha { sha: String },
    /// A build time before 1970.
    #[error("build time {time} is before 1970")]
    NegativeTime { time: i64 },
    /// A tag longer than 128 characters that cannot be shortened.
    #[error("tag `{tag}` is {len} characters long, more than the {MAX_TAG_LEN} a tag can hold")]
    TooLong { tag: String, len: usize },
}

/// Computes the tags of one image; see the module docs for the policy.
pub fn compute_tags(input: &TagInput) -> Result<Tags, TagError> {
    let resolved = resolve_version(input)?;
    let variant = match &input.variant {
        Some(v) if !is_valid_tag(v) => {
            return Err(TagError::InvalidVariant { variant: v.clone() });
        }
        Some(v) => Some(v.as_str()),
        None => None,
    };
    let development = !input.ci || input.dirty;
    let forcing = development && input.release_tags_for_development == ReleaseTagsForDev::Yes;

    let unique = unique_tag(
        input,
        resolved.as_ref().map(|(v, _)| v),
        variant,
        development,
    )?;

    let mut version_tags = Vec::new();
    let mut latest = Vec::new();
    if let Some((version, _)) = &resolved
        && (!development || forcing)
    {
        let stable = version.pre.is_empty();
        let full = version.to_string();
        let numbers = if stable {
            vec![
                full,
                format!("{}.{}", version.major, version.minor),
                version.major.to_string(),
            ]
        } else {
            vec![full]
        };
        let plain = match variant {
            None => true,
            Some(_) => input.variant_tags == VariantTags::AlsoPlain,
        };
        if let Some(variant) = variant {
            version_tags.extend(numbers.iter().map(|n| format!("{n}-{variant}")));
        }
        if plain {
            version_tags.extend(numbers.iter().cloned());
        }
        if stable && !development {
            if let Some(variant) = variant {
                latest.push(variant.to_owned());
            }
            if plain {
                latest.push("latest".to_owned());
            }
        }
    }
    for tag in version_tags.iter().chain(&latest) {
        check_len(tag)?;
    }

    Ok(Tags {
        unique,
        forced_release_tags: forcing && !version_tags.is_empty(),
        version: version_tags,
        latest,
        development,
        resolved_version: resolved.as_ref().map(|(v, _)| v.to_string()),
        version_source: resolved.map(|(_, s)| s),
    })
}

/// Whether `tag` is a valid Docker/OCI tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphanumeric() || first == '_')
        && chars.all(is_tag_char)
        && tag.len() <= MAX_TAG_LEN
}

/// Makes an outside value (branch, PR number) fit in a tag: keeps letters, digits, `_` and `.`,
/// turns every run of other characters into one `-`, trims `.`/`-` from both ends. May be empty.
pub fn sanitize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches(['.', '-']).to_owned()
}

fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn check_len(tag: &str) -> Result<(), TagError> {
    if tag.len() > MAX_TAG_LEN {
        return Err(TagError::TooLong {
            tag: tag.to_owned(),
            len: tag.len(),
        });
    }
    Ok(())
}

fn parse_version(value: &str, source_name: VersionSource) -> Result<semver::Version, TagError> {
    let bare = value.strip_prefix('v').unwrap_or(value);
    let version = semver::Version::parse(bare).map_err(|e| TagError::InvalidVersion {
        source_name,
        value: value.to_owned(),
        reason: e.to_string(),
    })?;
    if !version.build.is_empty() {
        return Err(TagError::BuildMetadata {
            source_name,
            value: value.to_owned(),
            build: version.build.to_string(),
        });
    }
    Ok(version)
}

fn resolve_version(input: &TagInput) -> Result<Option<(semver::Version, VersionSource)>, TagError> {
    let toml = input
        .version
        .as_deref()
        .map(|v| parse_version(v, VersionSource::PlinthToml))
        .transpose()?;
    let git = input
        .git_tag_version
        .as_deref()
        .map(|v| parse_version(v, VersionSource::GitTag))
        .transpose()?;
    match (git, toml) {
        (Some(git), Some(toml)) if git != toml => Err(TagError::VersionMismatch {
            git_tag: input.git_tag_version.clone().unwrap_or_default(),
            plinth_toml: input.version.clone().unwrap_or_default(),
        }),
        (Some(git), _) => Ok(Some((git, VersionSource::GitTag))),
        (None, Some(toml)) => Ok(Some((toml, VersionSource::PlinthToml))),
        (None, None) => Ok(None),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    Branch,
    Sha,
    Time,
    Version,
    Variant,
}

#[derive(Debug)]
enum Segment<'a> {
    Text(&'a str),
    Value(Placeholder),
}

fn parse_template(template: &str) -> Result<Vec<Segment<'_>>, TagError> {
    let unbalanced = || TagError::UnbalancedBrace {
        template: template.to_owned(),
    };
    let mut segments = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                segments.push(Segment::Text(rest));
                rest = "";
            }
            Some(start) => {
                if rest[start..].starts_with('}') {
                    return Err(unbalanced());
                }
                if start > 0 {
                    segments.push(Segment::Text(&rest[..start]));
                }
                let after = &rest[start + 1..];
                let end = after.find('}').ok_or_else(unbalanced)?;
                let name = &after[..end];
                if name.contains('{') {
                    return Err(unbalanced());
                }
                let placeholder = match name {
                    "branch" => Placeholder::Branch,
                    "sha" => Placeholder::Sha,
                    "time" => Placeholder::Time,
                    "version" => Placeholder::Version,
                    "variant" => Placeholder::Variant,
                    _ => {
                        return Err(TagError::UnknownPlaceholder {
                            template: template.to_owned(),
                            name: name.to_owned(),
                        });
                    }
                };
                segments.push(Segment::Value(placeholder));
                rest = &after[end + 1..];
            }
        }
    }
    for segment in &segments {
        if let Segment::Text(text) = segment
            && let Some(character) = text.chars().find(|c| !is_tag_char(*c))
        {
            return Err(TagError::InvalidTemplateText {
                template: template.to_owned(),
                character,
            });
        }
    }
    if let Some(Segment::Text(text)) = segments.first()
        && let Some(character) = text.chars().next().filter(|c| matches!(c, '.' | '-'))
    {
        return Err(TagError::InvalidTemplateStart {
            template: template.to_owned(),
            character,
        });
    }
    if !segments
        .iter()
        .any(|s| matches!(s, Segment::Value(Placeholder::Sha | Placeholder::Time)))
    {
        return Err(TagError::NotUnique {
            template: template.to_owned(),
        });
    }
    Ok(segments)
}

/// The `{branch}` value: `pr-<N>`, the sanitized branch, `detached`, or `branch` when nothing of
/// the branch name survives sanitizing.
fn branch_value(input: &TagInput) -> String {
    if let Some(pr) = input.pull_request.as_deref().map(sanitize)
        && !pr.is_empty()
    {
        return format!("pr-{pr}");
    }
    match input.branch.as_deref() {
        None | Some("") => "detached".to_owned(),
        Some(branch) => {
            let clean = sanitize(branch);
            if clean.is_empty() {
                "branch".to_owned()
            } else {
                clean
            }
        }
    }
}

fn unique_tag(
    input: &TagInput,
    version: Option<&semver::Version>,
    variant: Option<&str>,
    development: bool,
) -> Result<String, TagError> {
    let template = input.template.as_deref().unwrap_or(DEFAULT_TEMPLATE);
    let segments = parse_template(template)?;
    if input.short_sha.is_empty() || !input.short_sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(TagError::InvalidSha {
            sha: input.short_sha.clone(),
        });
    }
    if input.unix_time < 0 {
        return Err(TagError::NegativeTime {
            time: input.unix_time,
        });
    }
    let missing = |placeholder| TagError::MissingValue {
        template: template.to_owned(),
        placeholder,
    };
    let version = version.map(|v| v.to_string());
    let time = input.unix_time.to_string();
    let branch = branch_value(input);

    // Everything but the branch, which is shortened to fit.
    let mut fixed = 0;
    let mut branches = 0;
    for segment in &segments {
        fixed += match segment {
            Segment::Text(text) => text.len(),
            Segment::Value(Placeholder::Branch) => {
                branches += 1;
                0
            }
            Segment::Value(Placeholder::Sha) => input.short_sha.len(),
            Segment::Value(Placeholder::Time) => time.len(),
            Segment::Value(Placeholder::Version) => {
                version.as_ref().ok_or_else(|| missing("version"))?.len()
            }
            Segment::Value(Placeholder::Variant) => {
                variant.ok_or_else(|| missing("variant"))?.len()
            }
        };
    }
    let prefix = if development { "dev-" } else { "" };
    let variant_suffix = match variant {
        Some(v)
            if !segments
                .iter()
                .any(|s| matches!(s, Segment::Value(Placeholder::Variant))) =>
        {
            format!("-{v}")
        }
        _ => String::new(),
    };
    let dirty_suffix = if input.dirty { "-dirty" } else { "" };
    fixed += prefix.len() + variant_suffix.len() + dirty_suffix.len();

    let mut branch = branch;
    if branches > 0 && fixed + branches * branch.len() > MAX_TAG_LEN {
        let budget = MAX_TAG_LEN.saturating_sub(fixed) / branches;
        // The branch is ASCII after sanitizing, so bytes are characters.
        branch = branch
            .chars()
            .take(budget)
            .collect::<String>()
            .trim_end_matches(['.', '-'])
            .to_owned();
        if branch.is_empty() {
            // Even a one-character branch does not fit: report the tag at full length.
            branch = branch_value(input);
        }
    }

    let mut tag = String::from(prefix);
    for segment in &segments {
        match segment {
            Segment::Text(text) => tag.push_str(text),
            Segment::Value(Placeholder::Branch) => tag.push_str(&branch),
            Segment::Value(Placeholder::Sha) => tag.push_str(&input.short_sha),
            Segment::Value(Placeholder::Time) => tag.push_str(&time),
            Segment::Value(Placeholder::Version) => tag.push_str(version.as_deref().unwrap_or("")),
            Segment::Value(Placeholder::Variant) => tag.push_str(variant.unwrap_or("")),
        }
    }
    tag.push_str(&variant_suffix);
    tag.push_str(dirty_suffix);
    check_len(&tag)?;
    if !is_valid_tag(&tag) {
        // Unreachable by construction (values are sanitized or validated, template text is
        // checked); kept so that a mistake surfaces as an error, never as a bad tag.
        return Err(TagError::InvalidTemplateText {
            template: template.to_owned(),
            character: tag.chars().find(|c| !is_tag_char(*c)).unwrap_or('?'),
        });
    }
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clean CI build of `main` at a fixed commit and time, without a version.
    fn ci() -> TagInput {
        TagInput {
            branch: Some("main".to_owned()),
            short_sha: "1a2b3c4".to_owned(),
            unix_time: 1_700_000_000,
            ci: true,
            ..TagInput::default()
        }
    }

    fn with(f: impl FnOnce(&mut TagInput)) -> TagInput {
        let mut input = ci();
        f(&mut input);
        input
    }

    fn strings(tags: &[&str]) -> Vec<String> {
        tags.iter().map(|t| (*t).to_owned()).collect()
    }

    /// Expected tags: only the unique one, no version, not a development build.
    fn only(unique: &str) -> Tags {
        Tags {
            unique: unique.to_owned(),
            version: Vec::new(),
            latest: Vec::new(),
            development: false,
            resolved_version: None,
            version_source: None,
            forced_release_tags: false,
        }
    }

    impl Tags {
        fn toml_version(mut self, version: &str) -> Self {
            self.resolved_version = Some(version.to_owned());
            self.version_source = Some(VersionSource::PlinthToml);
            self
        }
        fn git_version(mut self, version: &str) -> Self {
            self.resolved_version = Some(version.to_owned());
            self.version_source = Some(VersionSource::GitTag);
            self
        }
        fn versions(mut self, tags: &[&str]) -> Self {
            self.version = strings(tags);
            self
        }
        fn latests(mut self, tags: &[&str]) -> Self {
            self.latest = strings(tags);
            self
        }
        fn dev(mut self) -> Self {
            self.development = true;
            self
        }
        fn forced(mut self) -> Self {
            self.forced_release_tags = true;
            self
        }
    }

    fn check(name: &str, input: TagInput, expected: Result<Tags, &str>) {
        let got = compute_tags(&input);
        match (&got, &expected) {
            (Ok(got), Ok(expected)) => {
                assert_eq!(got, expected, "case {name}: {input:?}");
                for tag in got.all() {
                    assert!(is_valid_tag(&tag), "case {name}: invalid tag {tag:?}");
                }
            }
            (Err(got), Err(expected)) => assert_eq!(got.to_string(), *expected, "case {name}"),
            _ => panic!("case {name}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn branches_and_pull_requests() {
        let cases = [
            ("main", ci(), only("main-1a2b3c4-1700000000")),
            (
                "slash and case kept",
                with(|i| i.branch = Some("feature/Foo Bar".into())),
                only("feature-Foo-Bar-1a2b3c4-1700000000"),
            ),
            (
                "weird characters collapse and trim",
                with(|i| i.branch = Some("..-fix//ü~weird__name.-/".into())),
                only("fix-weird__name-1a2b3c4-1700000000"),
            ),
            (
                "nothing survives sanitizing",
                with(|i| i.branch = Some("ü/ß".into())),
                only("branch-1a2b3c4-1700000000"),
            ),
            (
                "detached",
                with(|i| i.branch = None),
                only("detached-1a2b3c4-1700000000"),
            ),
            (
                "pull request wins over branch",
                with(|i| i.pull_request = Some("123".into())),
                only("pr-123-1a2b3c4-1700000000"),
            ),
            (
                "merge request with a sigil, detached",
                with(|i| {
                    i.branch = None;
                    i.pull_request = Some("!42".into());
                }),
                only("pr-42-1a2b3c4-1700000000"),
            ),
            (
                "empty pull request is ignored",
                with(|i| i.pull_request = Some(String::new())),
                only("main-1a2b3c4-1700000000"),
            ),
        ];
        for (name, input, expected) in cases {
            check(name, input, Ok(expected));
        }
    }

    #[test]
    fn full_version_tags_are_the_releases() {
        let tags = |f: fn(&mut TagInput)| compute_tags(&with(f)).unwrap();
        let t = tags(|i| {
            i.version = Some("1.4.2".into());
            i.variant = Some("bookworm".into());
            i.variant_tags = VariantTags::AlsoPlain;
        });
        assert_eq!(t.full_version(), ["1.4.2-bookworm", "1.4.2"]);
        let t = tags(|i| i.version = Some("v2.0.0-rc.1".into()));
        assert_eq!(t.full_version(), ["2.0.0-rc.1"]);
        // Without a version, or in a development build without version tags: none.
        assert!(tags(|_| ()).full_version().is_empty());
        assert!(
            tags(|i| {
                i.version = Some("1.4.2".into());
                i.ci = false;
            })
            .full_version()
            .is_empty()
        );
    }

    #[test]
    fn versions() {
        let v = |version: &str| with(|i| i.version = Some(version.into()));
        let u = "main-1a2b3c4-1700000000";
        let cases: Vec<(&str, TagInput, Result<Tags, &str>)> = vec![
            (
                "stable",
                v("1.4.2"),
                Ok(only(u)
                    .toml_version("1.4.2")
                    .versions(&["1.4.2", "1.4", "1"])
                    .latests(&["latest"])),
            ),
            (
                "leading v accepted and dropped",
                v("v1.4.2"),
                Ok(only(u)
                    .toml_version("1.4.2")
                    .versions(&["1.4.2", "1.4", "1"])
                    .latests(&["latest"])),
            ),
            (
                "zero major",
                v("0.3.0"),
                Ok(only(u)
                    .toml_version("0.3.0")
                    .versions(&["0.3.0", "0.3", "0"])
                    .latests(&["latest"])),
            ),
            (
                "pre-release: full version only, no latest",
                v("2.0.0-rc.1"),
                Ok(only(u).toml_version("2.0.0-rc.1").versions(&["2.0.0-rc.1"])),
            ),
            (
                "build metadata refused",
                v("1.4.2+build.5"),
                Err(
                    "plinth.toml version `1.4.2+build.5` has build metadata (`+build.5`), which \
                     an image tag cannot hold; drop it (the unique tag identifies the build, a \
                     variant names a flavour)",
                ),
            ),
            (
                "not semver",
                v("1.4"),
                Err(
                    "plinth.toml version `1.4` is not a semantic version (X.Y.Z): unexpected end \
                     of input while parsing minor version number",
                ),
            ),
            (
                "leading zero",
                v("01.2.3"),
                Err(
                    "plinth.toml version `01.2.3` is not a semantic version (X.Y.Z): invalid \
                     leading zero in major version number",
                ),
            ),
        ];
        for (name, input, expected) in cases {
            check(name, input, expected);
        }
    }

    #[test]
    fn git_tag_and_plinth_toml() {
        let both = |git: &str, toml: &str| {
            with(|i| {
                i.git_tag_version = Some(git.into());
                i.version = Some(toml.into());
            })
        };
        let u = "main-1a2b3c4-1700000000";
        let cases: Vec<(&str, TagInput, Result<Tags, &str>)> = vec![
            (
                "agree (v prefix on the tag only)",
                both("v1.4.2", "1.4.2"),
                Ok(only(u)
                    .git_version("1.4.2")
                    .versions(&["1.4.2", "1.4", "1"])
                    .latests(&["latest"])),
            ),
            (
                "disagree",
                both("v1.5.0", "1.4.2"),
                Err("the git tag `v1.5.0` on HEAD and plinth.toml's version `1.4.2` disagree"),
            ),
            (
                "pre-release does not equal its release",
                both("v2.0.0-rc.1", "2.0.0"),
                Err("the git tag `v2.0.0-rc.1` on HEAD and plinth.toml's version `2.0.0` disagree"),
            ),
            (
                "git tag only",
                with(|i| i.git_tag_version = Some("v3.1.0".into())),
                Ok(only(u)
                    .git_version("3.1.0")
                    .versions(&["3.1.0", "3.1", "3"])
                    .latests(&["latest"])),
            ),
            (
                "invalid git tag",
                with(|i| i.git_tag_version = Some("vnext".into())),
                Err(
                    "git tag version `vnext` is not a semantic version (X.Y.Z): unexpected \
                     character 'n' while parsing major version number",
                ),
            ),
        ];
        for (name, input, expected) in cases {
            check(name, input, expected);
        }
    }

    #[test]
    fn development_builds() {
        let dev = |f: fn(&mut TagInput)| {
            with(|i| {
                i.version = Some("1.4.2".into());
                f(i);
            })
        };
        let cases = [
            (
                "local build",
                dev(|i| i.ci = false),
                only("dev-main-1a2b3c4-1700000000")
                    .toml_version("1.4.2")
                    .dev(),
            ),
            (
                "dirty CI build",
                dev(|i| i.dirty = true),
                only("dev-main-1a2b3c4-1700000000-dirty")
                    .toml_version("1.4.2")
                    .dev(),
            ),
            (
                "dirty local build",
                dev(|i| {
                    i.ci = false;
                    i.dirty = true;
                }),
                only("dev-main-1a2b3c4-1700000000-dirty")
                    .toml_version("1.4.2")
                    .dev(),
            ),
            (
                "flag: version tags but no latest, recorded",
                dev(|i| {
                    i.ci = false;
                    i.release_tags_for_development = ReleaseTagsForDev::Yes;
                }),
                only("dev-main-1a2b3c4-1700000000")
                    .toml_version("1.4.2")
                    .versions(&["1.4.2", "1.4", "1"])
                    .dev()
                    .forced(),
            ),
            (
                "flag on a CI release changes nothing",
                dev(|i| i.release_tags_for_development = ReleaseTagsForDev::Yes),
                only("main-1a2b3c4-1700000000")
                    .toml_version("1.4.2")
                    .versions(&["1.4.2", "1.4", "1"])
                    .latests(&["latest"]),
            ),
            (
                "flag without a version forces nothing",
                with(|i| {
                    i.ci = false;
                    i.release_tags_for_development = ReleaseTagsForDev::Yes;
                }),
                only("dev-main-1a2b3c4-1700000000").dev(),
            ),
            (
                "flag on a pre-release: full version only",
                with(|i| {
                    i.ci = false;
                    i.version = Some("2.0.0-rc.1".into());
                    i.release_tags_for_development = ReleaseTagsForDev::Yes;
                }),
                only("dev-main-1a2b3c4-1700000000")
                    .toml_version("2.0.0-rc.1")
                    .versions(&["2.0.0-rc.1"])
                    .dev()
                    .forced(),
            ),
            (
                "a template cannot hide the marks",
                dev(|i| {
                    i.ci = false;
                    i.dirty = true;
                    i.template = Some("{sha}".into());
                }),
                only("dev-1a2b3c4-dirty").toml_version("1.4.2").dev(),
            ),
        ];
        for (name, input, expected) in cases {
            check(name, input, Ok(expected));
        }
    }

    #[test]
    fn variants() {
        let variant = |version: &str, tags: VariantTags, f: fn(&mut TagInput)| {
            with(|i| {
                i.version = Some(version.into());
                i.variant = Some("bookworm".into());
                i.variant_tags = tags;
                f(i);
            })
        };
        let u = "main-1a2b3c4-1700000000-bookworm";
        let cases: Vec<(&str, TagInput, Result<Tags, &str>)> = vec![
            (
                "stable: suffixed tags, bare variant instead of latest",
                variant("1.4.2", VariantTags::SuffixedOnly, |_| {}),
                Ok(only(u)
                    .toml_version("1.4.2")
                    .versions(&["1.4.2-bookworm", "1.4-bookworm", "1-bookworm"])
                    .latests(&["bookworm"])),
            ),
            (
                "default variant also gets plain tags and latest",
                variant("1.4.2", VariantTags::AlsoPlain, |_| {}),
                Ok(only(u)
                    .toml_version("1.4.2")
                    .versions(&[
                        "1.4.2-bookworm",
                        "1.4-bookworm",
                        "1-bookworm",
                        "1.4.2",
                        "1.4",
                        "1",
                    ])
                    .latests(&["bookworm", "latest"])),
            ),
            (
                "pre-release with a default variant",
                variant("2.0.0-rc.1", VariantTags::AlsoPlain, |_| {}),
                Ok(only(u)
                    .toml_version("2.0.0-rc.1")
                    .versions(&["2.0.0-rc.1-bookworm", "2.0.0-rc.1"])),
            ),
            (
                "development build with the flag: no bare variant tag",
                variant("1.4.2", VariantTags::SuffixedOnly, |i| {
                    i.ci = false;
                    i.release_tags_for_development = ReleaseTagsForDev::Yes;
                }),
                Ok(only("dev-main-1a2b3c4-1700000000-bookworm")
                    .toml_version("1.4.2")
                    .versions(&["1.4.2-bookworm", "1.4-bookworm", "1-bookworm"])
                    .dev()
                    .forced()),
            ),
            (
                "variant placed by the template is not appended again",
                variant("1.4.2", VariantTags::SuffixedOnly, |i| {
                    i.template = Some("{variant}-{sha}".into());
                }),
                Ok(only("bookworm-1a2b3c4")
                    .toml_version("1.4.2")
                    .versions(&["1.4.2-bookworm", "1.4-bookworm", "1-bookworm"])
                    .latests(&["bookworm"])),
            ),
            (
                "variant without a version",
                with(|i| i.variant = Some("alpine3.12".into())),
                Ok(only("main-1a2b3c4-1700000000-alpine3.12")),
            ),
            (
                "invalid variant",
                with(|i| i.variant = Some("-slim".into())),
                Err(
                    "variant `-slim` is not a valid tag part (letters, digits, `_`, `.`, `-`, \
                     not starting with `.` or `-`)",
                ),
            ),
            (
                "variant with a slash",
                with(|i| i.variant = Some("debian/bookworm".into())),
                Err(
                    "variant `debian/bookworm` is not a valid tag part (letters, digits, `_`, \
                     `.`, `-`, not starting with `.` or `-`)",
                ),
            ),
        ];
        for (name, input, expected) in cases {
            check(name, input, expected);
        }
    }

    #[test]
    fn templates() {
        let t = |template: &str| {
            with(|i| {
                i.version = Some("1.4.2".into());
                i.template = Some(template.into());
            })
        };
        let tagged = |unique: &str| {
            Ok(only(unique)
                .toml_version("1.4.2")
                .versions(&["1.4.2", "1.4", "1"])
                .latests(&["latest"]))
        };
        let cases: Vec<(&str, TagInput, Result<Tags, &str>)> = vec![
            ("time only", t("build-{time}"), tagged("build-1700000000")),
            (
                "every placeholder",
                t("{version}_{branch}.{sha}.{time}"),
                tagged("1.4.2_main.1a2b3c4.1700000000"),
            ),
            ("sha only", t("{sha}"), tagged("1a2b3c4")),
            (
                "unknown placeholder",
                t("{branch}-{commit}"),
                Err(
                    "unknown placeholder `{commit}` in tag template `{branch}-{commit}` (known: \
                     {branch} {sha} {time} {version} {variant})",
                ),
            ),
            (
                "not unique",
                t("{branch}-{version}"),
                Err("a unique tag template needs {sha} or {time}: `{branch}-{version}`"),
            ),
            (
                "empty",
                t(""),
                Err("a unique tag template needs {sha} or {time}: ``"),
            ),
            (
                "unclosed brace",
                t("{branch-{sha}"),
                Err("unbalanced brace in tag template `{branch-{sha}`"),
            ),
            (
                "stray closing brace",
                t("{sha}}"),
                Err("unbalanced brace in tag template `{sha}}`"),
            ),
            (
                "slash in the text",
                t("{branch}/{sha}"),
                Err(
                    "tag template `{branch}/{sha}` contains `/`, which a tag cannot hold (only \
                     letters, digits, `_`, `.` and `-`)",
                ),
            ),
            (
                "leading dash",
                t("-{sha}"),
                Err("tag template `-{sha}` starts with `-`, which a tag cannot start with"),
            ),
            (
                "version placeholder without a version",
                with(|i| i.template = Some("{version}-{sha}".into())),
                Err("tag template `{version}-{sha}` uses {version} but the image has no version"),
            ),
            (
                "variant placeholder without a variant",
                with(|i| i.template = Some("{sha}-{variant}".into())),
                Err("tag template `{sha}-{variant}` uses {variant} but the image has no variant"),
            ),
        ];
        for (name, input, expected) in cases {
            check(name, input, expected);
        }
    }

    #[test]
    fn inputs_are_validated() {
        let cases: Vec<(&str, TagInput, Result<Tags, &str>)> = vec![
            (
                "empty sha",
                with(|i| i.short_sha = String::new()),
                Err("commit sha `` is not a hexadecimal sha"),
            ),
            (
                "sha that is not hex",
                with(|i| i.short_sha = "HEAD~1".into()),
                Err("commit sha `HEAD~1` is not a hexadecimal sha"),
            ),
            (
                "negative time",
                with(|i| i.unix_time = -1),
                Err("build time -1 is before 1970"),
            ),
        ];
        for (name, input, expected) in cases {
            check(name, input, expected);
        }
    }

    #[test]
    fn long_branches_are_truncated_to_fit() {
        let long = "feature/".to_owned() + &"a".repeat(200);
        let tail = "-1a2b3c4-1700000000";

        let tags = compute_tags(&with(|i| i.branch = Some(long.clone()))).expect("tags");
        assert_eq!(tags.unique.len(), MAX_TAG_LEN);
        assert!(tags.unique.starts_with("feature-aaa"), "{}", tags.unique);
        assert!(tags.unique.ends_with(tail), "{}", tags.unique);

        // Marks and variant are kept whole; the branch pays for them.
        let tags = compute_tags(&with(|i| {
            i.branch = Some(long.clone());
            i.ci = false;
            i.dirty = true;
            i.variant = Some("bookworm".into());
        }))
        .expect("tags");
        assert_eq!(tags.unique.len(), MAX_TAG_LEN);
        assert!(
            tags.unique.starts_with("dev-feature-aaa"),
            "{}",
            tags.unique
        );
        assert!(tags.unique.ends_with(&format!("{tail}-bookworm-dirty")));

        // A branch cut right after a separator loses the separator.
        let budget = MAX_TAG_LEN - tail.len();
        let branch = format!("{}/x", "b".repeat(budget - 1));
        let tags = compute_tags(&with(|i| i.branch = Some(branch))).expect("tags");
        assert_eq!(tags.unique, format!("{}{tail}", "b".repeat(budget - 1)));

        // Two branch placeholders share the budget.
        let tags = compute_tags(&with(|i| {
            i.branch = Some(long.clone());
            i.template = Some("{branch}-{branch}-{sha}".into());
        }))
        .expect("tags");
        assert!(tags.unique.len() <= MAX_TAG_LEN);
        assert!(tags.unique.len() >= MAX_TAG_LEN - 1);
        let halves: Vec<&str> = tags
            .unique
            .trim_end_matches("-1a2b3c4")
            .split('-')
            .collect();
        assert_eq!(halves.len(), 4, "{}", tags.unique);
        assert_eq!(halves[0..2], halves[2..4]);

        // A branch that fits is not touched.
        let fits = "c".repeat(MAX_TAG_LEN - tail.len());
        let tags = compute_tags(&with(|i| i.branch = Some(fits.clone()))).expect("tags");
        assert_eq!(tags.unique, format!("{fits}{tail}"));
    }

    #[test]
    fn tags_that_cannot_be_shortened_are_refused() {
        let text = "x".repeat(130);
        let message = format!(
            "tag `{text}-1a2b3c4` is 138 characters long, more than the 128 a tag can hold"
        );
        check(
            "template text too long",
            with(|i| i.template = Some(format!("{text}-{{sha}}"))),
            Err(&message),
        );

        // The unique tag `1a2b3c4-<variant>` (126) fits, `1.4.2-rc.1-<variant>` (129) does not.
        let variant = "v".repeat(118);
        let message = format!(
            "tag `1.4.2-rc.1-{variant}` is 129 characters long, more than the 128 a tag can hold"
        );
        check(
            "variant too long for the version tags",
            with(|i| {
                i.version = Some("1.4.2-rc.1".into());
                i.variant = Some(variant.clone());
                i.template = Some("{sha}".into());
            }),
            Err(&message),
        );

        // A long variant leaves no room for even one character of the branch.
        let variant = "w".repeat(110);
        let message = format!(
            "tag `main-1a2b3c4-1700000000-{variant}` is 134 characters long, more than the 128 a \
             tag can hold"
        );
        check(
            "no room for the branch",
            with(|i| i.variant = Some(variant.clone())),
            Err(&message),
        );
    }

    #[test]
    fn all_lists_unique_then_versions_then_latest() {
        let tags = compute_tags(&with(|i| {
            i.version = Some("1.4.2".into());
            i.variant = Some("bookworm".into());
            i.variant_tags = VariantTags::AlsoPlain;
        }))
        .expect("tags");
        assert_eq!(
            tags.all(),
            strings(&[
                "main-1a2b3c4-1700000000-bookworm",
                "1.4.2-bookworm",
                "1.4-bookworm",
                "1-bookworm",
                "1.4.2",
                "1.4",
                "1",
                "bookworm",
                "latest",
            ])
        );
        let dev = compute_tags(&with(|i| i.ci = false)).expect("tags");
        assert_eq!(dev.all(), strings(&["dev-main-1a2b3c4-1700000000"]));
    }

    #[test]
    fn json_shape() {
        let tags = compute_tags(&with(|i| {
            i.git_tag_version = Some("v1.4.2".into());
            i.ci = false;
            i.release_tags_for_development = ReleaseTagsForDev::Yes;
        }))
        .expect("tags");
        let json = serde_json::to_value(&tags).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "unique": "dev-main-1a2b3c4-1700000000",
                "version": ["1.4.2", "1.4", "1"],
                "latest": [],
                "development": true,
                "resolved_version": "1.4.2",
                "version_source": "git-tag",
                "forced_release_tags": true,
            })
        );
        let plain = serde_json::to_value(compute_tags(&ci()).expect("tags")).expect("json");
        assert_eq!(plain["version_source"], serde_json::Value::Null);
        assert_eq!(plain["resolved_version"], serde_json::Value::Null);
        let toml = compute_tags(&with(|i| i.version = Some("1.0.0".into()))).expect("tags");
        assert_eq!(
            serde_json::to_value(toml).expect("json")["version_source"],
            "plinth-toml"
        );
    }

    #[test]
    fn tag_syntax() {
        for (tag, valid) in [
            ("latest", true),
            ("_x", true),
            ("1.4.2-rc.1", true),
            ("A.b-C_d", true),
            ("", false),
            (".x", false),
            ("-x", false),
            ("a/b", false),
            ("a+b", false),
            ("a:b", false),
        ] {
            assert_eq!(is_valid_tag(tag), valid, "{tag:?}");
        }
        assert!(is_valid_tag(&"a".repeat(MAX_TAG_LEN)));
        assert!(!is_valid_tag(&"a".repeat(MAX_TAG_LEN + 1)));
        assert_eq!(sanitize("feature/Foo Bar"), "feature-Foo-Bar");
        assert_eq!(sanitize("a--b"), "a-b");
        assert_eq!(sanitize("--.x.--"), "x");
        assert_eq!(sanitize("🦀"), "");
    }
}
