//! The package resolver: which binary packages make up a Debian root filesystem, in which
//! order to install them, and why each one is there.
//!
//! The goal is the package set `mmdebstrap` (through apt's resolver) installs for the same
//! suite and variant, computed without apt. This is plinth's documented policy:
//!
//! # Universe
//!
//! A [`Universe`] is built from the records of several Packages indexes (a suite, its
//! `-updates` and `-security` suites, several components) and the target architecture. Only
//! packages of that architecture and of `all` are kept. All indexes have the same priority
//! (like apt's default pin 500), so the *candidate* of a name is its highest version; when
//! the same name and version appears twice, the first record wins (its `origin` is kept).
//! Provides are indexed by virtual name.
//!
//! # Seeds (variants, as mmdebstrap names them)
//!
//! - `essential`: every candidate with `Essential: yes`;
//! - `apt`: essential plus `apt`;
//! - `required` (also called `minbase`, the same set): essential plus every candidate with
//!   `Priority: required`;
//! - `important`: required plus `Priority: important`;
//! - `standard`: important plus `Priority: standard`;
//! - `custom`: only the include list.
//!
//! [`Request::include`] adds names (`name=version` asks for an exact version, which then
//! replaces the candidate, as `apt-get install name=version` does; a virtual name with a single
//! provider selects that provider). [`Request::exclude`] removes names from the seeds and
//! forbids the resolver to choose them. This is stricter than mmdebstrap, whose exclude can be
//! undone by a dependency: here a dependency that can then not be satisfied is an error that
//! shows the chain. Naming a package that is in no index is an error with close matches.
//!
//! # Resolution
//!
//! Like `apt-get install --no-install-recommends SEEDS`: all seeds are selected first, then
//! dependencies are resolved depth-first, seeds in name order, each package's relations in
//! field order (`Pre-Depends` before `Depends`; `Recommends` and `Suggests` are never
//! followed). For each OR group:
//!
//! 1. if an alternative is already satisfied by a selected package (the real package with a
//!    matching version, or a selected package that Provides it with a version satisfying the
//!    constraint; an unversioned Provides only satisfies an unversioned relation), nothing is
//!    done;
//! 2. otherwise the alternatives are tried in order, and for each alternative its possible
//!    solutions in the order of apt's `CompareProviders` (apt-pkg/depcache.cc): the real
//!    package first (when its candidate satisfies the relation), then the candidates that
//!    Provide the name, preferring `Essential: yes`, then the target architecture (which
//!    cannot differ here: the universe only holds the target architecture and `all`, which apt
//!    counts as native), then the higher `Priority` (required > important > standard >
//!    optional > extra > other/none). apt's last resort is its internal package id; plinth
//!    uses the name (then the higher version) instead, so the choice is deterministic. (apt
//!    also prefers installed and `Protected: yes` packages, which a bootstrap does not have.)
//!    A solution that conflicts with or breaks a selected package (or is conflicted or broken
//!    by one) is skipped. A solution is selected and its own dependencies resolved at once;
//!    if that fails, everything it pulled in is rolled back and the next solution is tried
//!    (apt does the same through `MarkInstall` failing early, but keeps what the failed
//!    attempt pulled in).
//! 3. if no solution works, resolution fails with the chain from the seed, e.g.
//!    `apt -> libapt-pkg6.0 (>= 2.6.1) -> libzstd1 (>= 1.5.5): no candidate: available
//!    versions are 1.5.4-2`.
//!
//! To stay bounded on pathological indexes, the search gives up after 200,000 attempts or
//! when a dependency chain gets deeper than 256 packages (Debian's are a few dozen deep).
//!
//! Architecture qualifiers: no qualifier, `:native` and `:<target>` are satisfied by the
//! target architecture and `all` (the only ones in the universe); `:any` only by packages with
//! `Multi-Arch: allowed`, as dpkg decides; another architecture cannot be satisfied.
//!
//! After resolution no two selected packages may conflict or break each other (versioned
//! relations, through Provides too). A package never conflicts with itself, so the
//! `Conflicts`+`Provides`+`Replaces` idiom on a virtual name works. A conflict between seeds
//! cannot be avoided and is an error naming both packages and how each was pulled in.
//!
//! # Result
//!
//! A [`Resolution`] lists the selected packages by name, the *essential closure* (the
//! `Essential: yes` packages of the selection and everything they depend on, transitively,
//! as resolved: what a bootstrap extracts first, like mmdebstrap's essential phase), an
//! install order (dependencies before dependents; cycles are broken deterministically, keeping
//! Pre-Depends edges in preference; the essential closure comes first) and the reason each
//! package is there. "As resolved" means: for each OR group of a selected package, the first
//! alternative that the final selection satisfies.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use crate::model::{Alternatives, MultiArch, Package, Priority, Relation, Version, VersionOp};
use crate::relation::op_str;

/// How many solutions the resolver tries before it gives up (a guard against pathological
/// indexes; a Debian suite needs a few hundred).
const MAX_ATTEMPTS: usize = 200_000;
/// How deep a dependency chain may go before the resolver gives up.
const MAX_DEPTH: usize = 256;

/// The packages of several indexes, for one architecture, with the candidate of each name
/// and the providers of each virtual name.
#[derive(Debug, Clone)]
pub struct Universe {
    arch: String,
    packages: Vec<Package>,
    /// Name -> indexes of its versions, highest first (the first is the candidate).
    by_name: HashMap<String, Vec<usize>>,
    /// Provided name -> indexes of the packages (any version) that provide it.
    providers: HashMap<String, Vec<usize>>,
    /// The candidates that are essential or of priority standard or higher (the seeds of
    /// every variant), sorted by name.
    notable: Vec<usize>,
}

impl Universe {
    /// Keeps the packages of `arch` and `all`, drops repeated name+version records (the first
    /// wins) and indexes names and Provides.
    pub fn new(mut packages: Vec<Package>, arch: &str) -> Universe {
        // In place: a suite has tens of thousands of records, moving them costs more than
        // indexing them.
        packages.retain(|p| p.architecture == arch || p.architecture == "all");
        let mut by_name = Universe::index_names(&packages);
        let mut repeated = vec![false; packages.len()];
        for versions in by_name.values_mut() {
            if versions.len() > 1 {
                // Stable: of equal versions the first record comes first and is kept.
                versions.sort_by(|&a, &b| packages[b].version.cmp(&packages[a].version));
                for pair in versions.windows(2) {
                    if packages[pair[0]].version == packages[pair[1]].version {
                        repeated[pair[1]] = true;
                    }
                }
            }
        }
        if repeated.contains(&true) {
            // New index of each kept record.
            let mut renumber = vec![usize::MAX; packages.len()];
            let mut next = 0;
            for (old, &dropped) in repeated.iter().enumerate() {
                if !dropped {
                    renumber[old] = next;
                    next += 1;
                }
            }
            let mut flags = repeated.iter();
            packages.retain(|_| !flags.next().copied().unwrap_or(false));
            for versions in by_name.values_mut() {
                versions.retain(|&i| !repeated[i]);
                for i in versions.iter_mut() {
                    *i = renumber[*i];
                }
            }
        }
        let kept = packages;
        let mut notable: Vec<usize> = by_name
            .values()
            .filter_map(|v| v.first().copied())
            .filter(|&i| kept[i].essential || priority_rank(kept[i].priority.as_ref()) <= 3)
            .collect();
        notable.sort_by(|&a, &b| kept[a].name.cmp(&kept[b].name));
        let mut providers: HashMap<String, Vec<usize>> = HashMap::new();
        for (idx, package) in kept.iter().enumerate() {
            for provide in &package.provides {
                let list = match providers.get_mut(provide.name.as_str()) {
                    Some(list) => list,
                    None => providers.entry(provide.name.clone()).or_default(),
                };
                if list.last() != Some(&idx) {
                    list.push(idx);
                }
            }
        }
        Universe {
            arch: arch.to_string(),
            packages: kept,
            by_name,
            providers,
            notable,
        }
    }

    /// Name -> indexes of its records, in record order.
    fn index_names(packages: &[Package]) -> HashMap<String, Vec<usize>> {
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::with_capacity(packages.len());
        for (idx, package) in packages.iter().enumerate() {
            match by_name.get_mut(package.name.as_str()) {
                Some(versions) => versions.push(idx),
                None => {
                    by_name.insert(package.name.clone(), vec![idx]);
                }
            }
        }
        by_name
    }

    /// The target architecture.
    pub fn arch(&self) -> &str {
        &self.arch
    }

    /// The package at `idx` (an index of a [`Resolution`] or of [`Universe::packages`]).
    ///
    /// # Panics
    ///
    /// When `idx` is not an index of this universe.
    pub fn package(&self, idx: usize) -> &Package {
        &self.packages[idx]
    }

    /// The package at `idx`, if there is one.
    pub fn get(&self, idx: usize) -> Option<&Package> {
        self.packages.get(idx)
    }

    /// Every kept package record.
    pub fn packages(&self) -> &[Package] {
        &self.packages
    }

    /// The number of kept package records.
    pub fn len(&self) -> usize {
        self.packages.len()
    }

    /// Whether no package was kept.
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty()
    }

    /// The candidate (highest version) of a real package name.
    pub fn candidate(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).and_then(|v| v.first().copied())
    }

    /// All versions of a real package name, highest first.
    pub fn versions(&self, name: &str) -> &[usize] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// The packages (any version) whose Provides name `name`.
    pub fn providers(&self, name: &str) -> &[usize] {
        self.providers.get(name).map_or(&[], Vec::as_slice)
    }

    /// Whether a relation's architecture qualifier accepts `package` (see the module docs).
    fn arch_ok(&self, qualifier: Option<&str>, package: &Package) -> bool {
        match qualifier {
            None | Some("native") => true,
            Some("any") => package.multi_arch == MultiArch::Allowed,
            Some(q) => q == self.arch,
        }
    }

    /// The same for a Conflicts/Breaks relation, where `:any` means every architecture.
    fn neg_arch_ok(&self, qualifier: Option<&str>) -> bool {
        match qualifier {
            None | Some("native") | Some("any") => true,
            Some(q) => q == self.arch,
        }
    }

    /// Whether package `idx` is the real package `rel` names, in a matching version.
    fn real_matches(&self, rel: &Relation, idx: usize) -> bool {
        let p = &self.packages[idx];
        p.name == rel.name
            && self.arch_ok(rel.arch_qualifier.as_deref(), p)
            && constraint_holds(rel.constraint.as_ref(), &p.version)
    }

    /// Whether package `idx` Provides what `rel` asks for.
    fn provides_matches(&self, rel: &Relation, idx: usize) -> bool {
        let p = &self.packages[idx];
        self.arch_ok(rel.arch_qualifier.as_deref(), p)
            && p.provides
                .iter()
                .any(|pr| pr.name == rel.name && provide_holds(rel, pr.version.as_ref()))
    }

    /// Whether a Conflicts/Breaks relation hits package `idx` (by name or by Provides).
    fn neg_matches(&self, rel: &Relation, idx: usize) -> bool {
        if !self.neg_arch_ok(rel.arch_qualifier.as_deref()) {
            return false;
        }
        let p = &self.packages[idx];
        (p.name == rel.name && constraint_holds(rel.constraint.as_ref(), &p.version))
            || p.provides
                .iter()
                .any(|pr| pr.name == rel.name && provide_holds(rel, pr.version.as_ref()))
    }

    /// apt's `CompareProviders` order among providers of one name (see the module docs).
    fn provider_key(&self, idx: usize) -> (bool, u8, bool, &str, Reverse<&Version>) {
        let p = &self.packages[idx];
        (
            !p.essential,
            priority_rank(p.priority.as_ref()),
            p.architecture != self.arch && p.architecture != "all",
            p.name.as_str(),
            Reverse(&p.version),
        )
    }

    /// Names close to `name`, for "did you mean": first the names that extend it at a word
    /// boundary (`libc` -> `libc6`, `libc-bin`), then those within a small edit distance, then
    /// other extensions; closer first, then by name.
    fn suggestions(&self, name: &str) -> Vec<String> {
        let len = name.chars().count();
        let limit = (len / 3).max(2);
        let mut scored: Vec<(u8, usize, &str)> = self
            .by_name
            .keys()
            .chain(self.providers.keys())
            .map(String::as_str)
            .filter(|c| *c != name)
            .filter_map(|c| {
                let clen = c.chars().count();
                let extension = if len >= 3 { c.strip_prefix(name) } else { None };
                if let Some(rest) = extension
                    && rest.starts_with(|ch: char| !ch.is_ascii_lowercase())
                {
                    return Some((0, clen - len, c));
                }
                if clen.abs_diff(len) <= limit {
                    let d = edit_distance(name, c);
                    if d <= limit {
                        return Some((1, d, c));
                    }
                }
                extension.map(|_| (2, clen - len, c))
            })
            .collect();
        scored.sort_unstable();
        scored.dedup();
        scored
            .into_iter()
            .take(5)
            .map(|(_, _, c)| c.to_string())
            .collect()
    }
}

fn constraint_holds(constraint: Option<&(VersionOp, Version)>, version: &Version) -> bool {
    constraint.is_none_or(|(op, v)| op.holds(version, v))
}

/// Whether a Provides entry of version `provided` satisfies `rel`: an unversioned relation
/// takes any Provides, a versioned one only a versioned Provides that satisfies it.
fn provide_holds(rel: &Relation, provided: Option<&Version>) -> bool {
    match (&rel.constraint, provided) {
        (None, _) => true,
        (Some((op, v)), Some(pv)) => op.holds(pv, v),
        (Some(_), None) => false,
    }
}

/// required = 1 ... extra = 5, anything else 6 (lower is preferred).
fn priority_rank(priority: Option<&Priority>) -> u8 {
    match priority {
        Some(Priority::Required) => 1,
        Some(Priority::Important) => 2,
        Some(Priority::Standard) => 3,
        Some(Priority::Optional) => 4,
        Some(Priority::Extra) => 5,
        Some(Priority::Other(_)) | None => 6,
    }
}

fn priority_name(priority: &Priority) -> &str {
    match priority {
        Priority::Required => "required",
        Priority::Important => "important",
        Priority::Standard => "standard",
        Priority::Optional => "optional",
        Priority::Extra => "extra",
        Priority::Other(s) => s,
    }
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// A relation as a control file writes it: `name[:qual] [(op version)]`.
fn relation_text(rel: &Relation) -> String {
    let mut s = rel.name.clone();
    if let Some(q) = &rel.arch_qualifier {
        s.push(':');
        s.push_str(q);
    }
    if let Some((op, v)) = &rel.constraint {
        s.push_str(&format!(" ({} {v})", op_str(*op)));
    }
    s
}

fn group_text(group: &Alternatives) -> String {
    group
        .iter()
        .map(relation_text)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A set of seeds, as mmdebstrap's `--variant` names them (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// The `Essential: yes` candidates.
    Essential,
    /// Essential plus `apt`.
    Apt,
    /// Essential plus `Priority: required`.
    Required,
    /// The same set as [`Variant::Required`], under debootstrap's name.
    Minbase,
    /// Required plus `Priority: important`.
    Important,
    /// Important plus `Priority: standard`.
    Standard,
    /// Only the include list.
    Custom,
}

impl Variant {
    /// Every variant, in the order of the documentation.
    pub const ALL: [Variant; 7] = [
        Variant::Essential,
        Variant::Apt,
        Variant::Required,
        Variant::Minbase,
        Variant::Important,
        Variant::Standard,
        Variant::Custom,
    ];

    /// The lower-case name (`minbase`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Variant::Essential => "essential",
            Variant::Apt => "apt",
            Variant::Required => "required",
            Variant::Minbase => "minbase",
            Variant::Important => "important",
            Variant::Standard => "standard",
            Variant::Custom => "custom",
        }
    }

    /// The lowest priority rank whose candidates are seeds (0: none).
    fn priority_limit(self) -> u8 {
        match self {
            Variant::Essential | Variant::Apt | Variant::Custom => 0,
            Variant::Required | Variant::Minbase => 1,
            Variant::Important => 2,
            Variant::Standard => 3,
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A variant name that is not one of mmdebstrap's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown variant '{0}': expected one of essential, apt, required, minbase, important, standard, custom"
)]
pub struct UnknownVariant(pub String);

impl FromStr for Variant {
    type Err = UnknownVariant;

    fn from_str(s: &str) -> Result<Variant, UnknownVariant> {
        Variant::ALL
            .into_iter()
            .find(|v| v.name() == s)
            .ok_or_else(|| UnknownVariant(s.to_string()))
    }
}

/// What to resolve: a variant's seeds plus includes, minus excludes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Request {
    pub variant: Variant,
    /// Package names, or `name=version` for an exact version.
    pub include: Vec<String>,
    /// Package names that must not be installed.
    pub exclude: Vec<String>,
}

/// Which dependency field pulled a package in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DepField {
    PreDepends,
    Depends,
}

impl fmt::Display for DepField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DepField::PreDepends => "Pre-Depends",
            DepField::Depends => "Depends",
        })
    }
}

/// Why a package is in the selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A seed because it is `Essential: yes`.
    Essential,
    /// A seed because of its Priority and the variant.
    Priority(Priority),
    /// `apt`, a seed of the `apt` variant.
    VariantApt,
    /// Named in [`Request::include`].
    Include,
    /// Chosen to satisfy a relation of another selected package.
    Dependency {
        /// The name of the package whose relation it satisfies.
        of: String,
        field: DepField,
        /// The relation, as written (`perl:any`, or `awk [provided by mawk]` when a provider
        /// was chosen).
        relation: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Essential => f.write_str("seed (essential)"),
            Reason::Priority(p) => write!(f, "seed (priority {})", priority_name(p)),
            Reason::VariantApt => f.write_str("seed (variant apt)"),
            Reason::Include => f.write_str("include"),
            Reason::Dependency {
                of,
                field,
                relation,
            } => write!(f, "dependency of {of} ({field}: {relation})"),
        }
    }
}

/// The resolved package set. Indexes point into the [`Universe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Every selected package, sorted by name.
    pub packages: Vec<usize>,
    /// The `Essential: yes` packages of the selection and everything they depend on
    /// (Pre-Depends and Depends, transitively, as resolved), sorted by name.
    pub essential_closure: Vec<usize>,
    /// Every selected package, dependencies before dependents, the essential closure first.
    pub install_order: Vec<usize>,
    /// Why each selected package is there.
    pub reasons: BTreeMap<usize, Reason>,
}

impl Resolution {
    /// The selected package names, sorted.
    pub fn names<'u>(&self, universe: &'u Universe) -> Vec<&'u str> {
        self.packages
            .iter()
            .map(|&i| universe.package(i).name.as_str())
            .collect()
    }
}

/// Why resolution failed; every message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("unknown package '{name}'{}", did_you_mean(suggestions))]
    UnknownPackage {
        name: String,
        suggestions: Vec<String>,
    },
    #[error(
        "'{name}' is a virtual package provided by {}: name one of them instead",
        providers.join(", ")
    )]
    VirtualPackage {
        name: String,
        providers: Vec<String>,
    },
    #[error("no version {version} of '{name}' in the indexes (available: {})", available.join(", "))]
    UnknownVersion {
        name: String,
        version: String,
        available: Vec<String>,
    },
    #[error("invalid request entry '{entry}': {why}")]
    BadRequest { entry: String, why: String },
    #[error("'{name}' is both included and excluded")]
    IncludedAndExcluded { name: String },
    #[error("{}: {reason}", chain.join(" -> "))]
    Unsatisfiable {
        /// The seed, then each relation followed, then the relation that failed.
        chain: Vec<String>,
        reason: String,
    },
    #[error(
        "unavoidable conflict: {first} {relation}, which {second} matches; {first} was pulled in by {first_via}, {second} by {second_via}"
    )]
    Conflict {
        /// `name version` of the package with the Conflicts/Breaks relation.
        first: String,
        first_via: String,
        /// `name version` of the package it hits.
        second: String,
        second_via: String,
        /// `conflicts with foo (<< 2)` / `breaks foo`.
        relation: String,
    },
    #[error(
        "dependency resolution gave up after {attempts} attempts; name the packages you want with include/exclude"
    )]
    TooComplex { attempts: usize },
    #[error("dependency chain longer than {depth} packages: {}", chain.join(" -> "))]
    TooDeep { depth: usize, chain: Vec<String> },
}

fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", suggestions.join(", "))
    }
}

/// A dependency that could not be satisfied, with the chain that led to it.
#[derive(Debug)]
struct Failure {
    chain: Vec<String>,
    reason: String,
}

/// Why the search stopped: a failure the caller may work around with another alternative, or
/// an abort that ends resolution.
enum Stop {
    Fail(Failure),
    Abort(ResolveError),
}

/// One solution tried for an alternative: the deeper failure when it was selected, or why it
/// was not selected at all.
type Tried = (usize, Result<Failure, String>);

/// Whose Conflicts/Breaks relation hit whom.
struct Clash {
    owner: usize,
    target: usize,
    kind: &'static str,
    relation: String,
}

struct State<'u> {
    u: &'u Universe,
    /// `name=version` requests: they replace the candidate.
    pins: HashMap<&'u str, usize>,
    excluded: HashSet<&'u str>,
    selected: HashMap<&'u str, usize>,
    /// Selection order, for roll-back.
    order: Vec<usize>,
    reasons: HashMap<usize, Reason>,
    expanded: HashSet<usize>,
    attempts: usize,
}

/// Resolves `request` in `universe` (see the module docs for the policy).
pub fn resolve(universe: &Universe, request: &Request) -> Result<Resolution, ResolveError> {
    let mut state = State {
        u: universe,
        pins: HashMap::new(),
        excluded: HashSet::new(),
        selected: HashMap::new(),
        order: Vec::new(),
        reasons: HashMap::new(),
        expanded: HashSet::new(),
        attempts: 0,
    };
    let includes = state.read_request(request)?;
    let seeds = state.seeds(request.variant, &includes)?;
    for (idx, reason) in seeds.values() {
        state.select(*idx, reason.clone());
    }
    state.check_conflicts()?;
    for (name, (idx, _)) in &seeds {
        let mut path = vec![name.to_string()];
        match state.expand(*idx, &mut path) {
            Ok(()) => {}
            Err(Stop::Fail(f)) => {
                return Err(ResolveError::Unsatisfiable {
                    chain: f.chain,
                    reason: f.reason,
                });
            }
            Err(Stop::Abort(e)) => return Err(e),
        }
    }
    state.check_conflicts()?;
    Ok(state.finish())
}

impl<'u> State<'u> {
    fn name(&self, idx: usize) -> &'u str {
        self.u.packages[idx].name.as_str()
    }

    fn candidate(&self, name: &str) -> Option<usize> {
        self.pins
            .get(name)
            .copied()
            .or_else(|| self.u.candidate(name))
    }

    fn is_selected(&self, idx: usize) -> bool {
        self.selected.get(self.name(idx)) == Some(&idx)
    }

    /// Validates excludes and includes; returns the included package indexes.
    fn read_request(&mut self, request: &Request) -> Result<Vec<usize>, ResolveError> {
        let u = self.u;
        for entry in &request.exclude {
            let name = entry.trim();
            if name.is_empty() {
                return Err(ResolveError::BadRequest {
                    entry: entry.clone(),
                    why: "the package name is empty".to_string(),
                });
            }
            match u.by_name.get_key_value(name) {
                Some((key, _)) => {
                    self.excluded.insert(key.as_str());
                }
                None => return Err(self.unknown(name)),
            }
        }
        let mut includes = Vec::new();
        for entry in &request.include {
            let (name, version) = match entry.trim().split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (entry.trim(), None),
            };
            if name.is_empty() {
                return Err(ResolveError::BadRequest {
                    entry: entry.clone(),
                    why: "the package name is empty".to_string(),
                });
            }
            if self.excluded.contains(name) {
                return Err(ResolveError::IncludedAndExcluded {
                    name: name.to_string(),
                });
            }
            let idx = match version {
                Some(version) => {
                    let wanted = Version::parse(version).map_err(|e| ResolveError::BadRequest {
                        entry: entry.clone(),
                        why: e.to_string(),
                    })?;
                    let versions = u.versions(name);
                    if versions.is_empty() {
                        return Err(self.unknown(name));
                    }
                    let Some(&idx) = versions.iter().find(|&&i| u.packages[i].version == wanted)
                    else {
                        return Err(ResolveError::UnknownVersion {
                            name: name.to_string(),
                            version: version.to_string(),
                            available: versions
                                .iter()
                                .map(|&i| u.packages[i].version.to_string())
                                .collect(),
                        });
                    };
                    if let Some(other) = self.pins.insert(u.packages[idx].name.as_str(), idx)
                        && other != idx
                    {
                        return Err(ResolveError::BadRequest {
                            entry: entry.clone(),
                            why: format!("{name} {} is requested too", u.packages[other].version),
                        });
                    }
                    idx
                }
                None => match u.candidate(name) {
                    Some(idx) => idx,
                    None => self.only_provider(name)?,
                },
            };
            includes.push(idx);
        }
        // A pin changes the candidate; resolve unpinned includes again against the pins.
        for idx in &mut includes {
            if let Some(&pinned) = self.pins.get(self.u.packages[*idx].name.as_str()) {
                *idx = pinned;
            }
        }
        Ok(includes)
    }

    fn unknown(&self, name: &str) -> ResolveError {
        let providers = self.u.providers(name);
        if providers.is_empty() {
            ResolveError::UnknownPackage {
                name: name.to_string(),
                suggestions: self.u.suggestions(name),
            }
        } else {
            ResolveError::VirtualPackage {
                name: name.to_string(),
                providers: self.provider_names(name),
            }
        }
    }

    fn provider_names(&self, name: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .u
            .providers(name)
            .iter()
            .map(|&i| self.name(i).to_string())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// An included virtual name with exactly one candidate provider selects it (as apt does).
    fn only_provider(&self, name: &str) -> Result<usize, ResolveError> {
        let mut found: Vec<usize> = self
            .u
            .providers(name)
            .iter()
            .copied()
            .filter(|&i| self.candidate(self.name(i)) == Some(i))
            .collect();
        found.dedup();
        match found.as_slice() {
            [one] if !self.excluded.contains(self.name(*one)) => Ok(*one),
            [] if self.u.providers(name).is_empty() => Err(self.unknown(name)),
            _ => Err(ResolveError::VirtualPackage {
                name: name.to_string(),
                providers: self.provider_names(name),
            }),
        }
    }

    /// The seeds of the variant plus the includes, by name, with their reason.
    fn seeds(
        &self,
        variant: Variant,
        includes: &[usize],
    ) -> Result<BTreeMap<&'u str, (usize, Reason)>, ResolveError> {
        if variant == Variant::Apt
            && !self.excluded.contains("apt")
            && self.candidate("apt").is_none()
        {
            return Err(ResolveError::Unsatisfiable {
                chain: vec!["variant apt".to_string()],
                reason: format!("no package 'apt' for {} in the indexes", self.u.arch),
            });
        }
        let mut seeds = BTreeMap::new();
        let limit = variant.priority_limit();
        if variant != Variant::Custom {
            // A pin may make an older version (with other flags) the candidate.
            let names = self
                .u
                .notable
                .iter()
                .map(|&i| self.name(i))
                .chain(self.pins.keys().copied());
            for name in names {
                let Some(idx) = self.candidate(name) else {
                    continue;
                };
                if self.excluded.contains(name) {
                    continue;
                }
                let p = &self.u.packages[idx];
                let reason = if p.essential {
                    Reason::Essential
                } else if variant == Variant::Apt && name == "apt" {
                    Reason::VariantApt
                } else if let Some(pr) = p
                    .priority
                    .as_ref()
                    .filter(|pr| priority_rank(Some(pr)) <= limit)
                {
                    Reason::Priority(pr.clone())
                } else {
                    continue;
                };
                seeds.insert(name, (idx, reason));
            }
        }
        for &idx in includes {
            seeds
                .entry(self.name(idx))
                .or_insert((idx, Reason::Include));
        }
        Ok(seeds)
    }

    fn select(&mut self, idx: usize, reason: Reason) {
        self.selected.insert(self.name(idx), idx);
        self.order.push(idx);
        self.reasons.insert(idx, reason);
    }

    fn rollback(&mut self, mark: usize) {
        for idx in self.order.split_off(mark) {
            self.selected.remove(self.u.packages[idx].name.as_str());
            self.reasons.remove(&idx);
            self.expanded.remove(&idx);
        }
    }

    /// The selected package that satisfies `rel`, preferring the real package, then the
    /// providers in `CompareProviders` order.
    fn selected_satisfier(&self, rel: &Relation) -> Option<usize> {
        if let Some(&i) = self.selected.get(rel.name.as_str())
            && self.u.real_matches(rel, i)
        {
            return Some(i);
        }
        self.u
            .providers(&rel.name)
            .iter()
            .copied()
            .filter(|&p| self.is_selected(p) && self.u.provides_matches(rel, p))
            .min_by(|&a, &b| self.u.provider_key(a).cmp(&self.u.provider_key(b)))
    }

    /// Resolves the dependencies of selected package `idx`.
    fn expand(&mut self, idx: usize, path: &mut Vec<String>) -> Result<(), Stop> {
        if !self.expanded.insert(idx) {
            return Ok(());
        }
        if path.len() > MAX_DEPTH {
            return Err(Stop::Abort(ResolveError::TooDeep {
                depth: MAX_DEPTH,
                chain: path.clone(),
            }));
        }
        let u = self.u;
        let p = &u.packages[idx];
        let fields = p
            .pre_depends
            .iter()
            .map(|g| (DepField::PreDepends, g))
            .chain(p.depends.iter().map(|g| (DepField::Depends, g)));
        for (field, group) in fields {
            if group
                .iter()
                .any(|rel| self.selected_satisfier(rel).is_some())
            {
                continue;
            }
            self.satisfy(idx, field, group, path)?;
        }
        Ok(())
    }

    /// The possible solutions of one alternative, in preference order, or why there is none.
    fn solutions(&self, rel: &Relation) -> Result<Vec<usize>, String> {
        let u = self.u;
        let mut solutions = Vec::new();
        let mut notes = Vec::new();
        if let Some(q) = rel.arch_qualifier.as_deref()
            && !matches!(q, "any" | "native")
            && q != u.arch
        {
            return Err(format!(
                "the architecture qualifier ':{q}' cannot be satisfied (only {} and all packages are installed)",
                u.arch
            ));
        }
        if let Some(c) = self.candidate(&rel.name) {
            let p = &u.packages[c];
            if self.excluded.contains(p.name.as_str()) {
                notes.push(format!("'{}' is excluded", p.name));
            } else if !u.arch_ok(rel.arch_qualifier.as_deref(), p) {
                notes.push(format!(
                    "'{}' is not Multi-Arch: allowed, so it cannot satisfy ':any'",
                    p.name
                ));
            } else if !constraint_holds(rel.constraint.as_ref(), &p.version) {
                let available: Vec<String> = u
                    .versions(&rel.name)
                    .iter()
                    .map(|&i| u.packages[i].version.to_string())
                    .collect();
                notes.push(format!(
                    "no candidate: available versions are {}",
                    available.join(", ")
                ));
            } else {
                solutions.push(c);
            }
        }
        let mut providers: Vec<usize> = Vec::new();
        let mut unusable: Vec<String> = Vec::new();
        for &pv in u.providers(&rel.name) {
            let name = self.name(pv);
            if self.candidate(name) != Some(pv) || name == rel.name {
                continue;
            }
            if self.excluded.contains(name) {
                unusable.push(format!("{name} (excluded)"));
            } else if u.provides_matches(rel, pv) {
                providers.push(pv);
            } else {
                let versions: Vec<String> = u.packages[pv]
                    .provides
                    .iter()
                    .filter(|pr| pr.name == rel.name)
                    .map(|pr| match &pr.version {
                        Some(v) => format!("{name} provides {} (= {v})", pr.name),
                        None => format!("{name} provides {} unversioned", pr.name),
                    })
                    .collect();
                if versions.is_empty() || !u.arch_ok(rel.arch_qualifier.as_deref(), &u.packages[pv])
                {
                    unusable.push(format!("{name} (not Multi-Arch: allowed)"));
                } else {
                    unusable.extend(versions);
                }
            }
        }
        providers.sort_by(|&a, &b| u.provider_key(a).cmp(&u.provider_key(b)));
        solutions.extend(providers);
        if !solutions.is_empty() {
            return Ok(solutions);
        }
        if !unusable.is_empty() {
            notes.push(format!("no usable provider: {}", unusable.join(", ")));
        }
        if notes.is_empty() {
            notes.push(format!(
                "no package or provider named '{}' for {} or all",
                rel.name, u.arch
            ));
        }
        Err(notes.join("; "))
    }

    /// Chooses a solution for an OR group of `owner` that nothing selected satisfies yet.
    fn satisfy(
        &mut self,
        owner: usize,
        field: DepField,
        group: &'u Alternatives,
        path: &mut Vec<String>,
    ) -> Result<(), Stop> {
        let mut reports: Vec<(&'u Relation, Vec<Tried>)> = Vec::new();
        let mut none: Vec<(String, String)> = Vec::new();
        for rel in group {
            let solutions = match self.solutions(rel) {
                Ok(s) => s,
                Err(why) => {
                    none.push((relation_text(rel), why));
                    continue;
                }
            };
            let mut tried = Vec::new();
            for sol in solutions {
                if self.selected.contains_key(self.name(sol)) {
                    let other = self.selected[self.name(sol)];
                    tried.push((
                        sol,
                        Err(format!(
                            "{} {} is already selected",
                            self.name(other),
                            self.u.packages[other].version
                        )),
                    ));
                    continue;
                }
                if let Some(clash) = self.clash_with_selected(sol) {
                    tried.push((sol, Err(self.clash_text(&clash))));
                    continue;
                }
                self.attempts += 1;
                if self.attempts > MAX_ATTEMPTS {
                    return Err(Stop::Abort(ResolveError::TooComplex {
                        attempts: MAX_ATTEMPTS,
                    }));
                }
                let step = if self.name(sol) == rel.name {
                    relation_text(rel)
                } else {
                    format!("{} [provided by {}]", relation_text(rel), self.name(sol))
                };
                let mark = self.order.len();
                self.select(
                    sol,
                    Reason::Dependency {
                        of: self.name(owner).to_string(),
                        field,
                        relation: step.clone(),
                    },
                );
                path.push(step);
                let result = self.expand(sol, path);
                path.pop();
                match result {
                    Ok(()) => return Ok(()),
                    Err(Stop::Abort(e)) => return Err(Stop::Abort(e)),
                    Err(Stop::Fail(f)) => {
                        self.rollback(mark);
                        tried.push((sol, Ok(f)));
                    }
                }
            }
            reports.push((rel, tried));
        }
        // A single way to satisfy the group that failed further down: report that failure.
        if none.is_empty()
            && let [(_, tried)] = reports.as_mut_slice()
            && let [(_, Ok(_))] = tried.as_slice()
            && let Some((_, Ok(f))) = tried.pop()
        {
            return Err(Stop::Fail(f));
        }
        let mut parts = none;
        for (rel, tried) in reports {
            for (sol, outcome) in tried {
                let version = &self.u.packages[sol].version;
                let what = if self.name(sol) == rel.name {
                    format!("{} {version}", rel.name)
                } else {
                    format!(
                        "{} [provided by {} {version}]",
                        relation_text(rel),
                        self.name(sol)
                    )
                };
                match outcome {
                    Err(why) => parts.push((what, why)),
                    Ok(f) => {
                        let rest: Vec<&str> = f
                            .chain
                            .iter()
                            .skip(path.len() + 1)
                            .map(String::as_str)
                            .collect();
                        if rest.is_empty() {
                            parts.push((what, f.reason));
                        } else {
                            parts.push((format!("{what} -> {}", rest.join(" -> ")), f.reason));
                        }
                    }
                }
            }
        }
        let mut chain = path.clone();
        chain.push(group_text(group));
        let reason = match parts.as_slice() {
            [(_, why)] if group.len() == 1 => why.clone(),
            _ => {
                let parts: Vec<String> = parts
                    .iter()
                    .map(|(what, why)| format!("{what}: {why}"))
                    .collect();
                if group.len() == 1 {
                    format!(
                        "nothing that satisfies it can be installed: {}",
                        parts.join("; ")
                    )
                } else {
                    format!("no alternative can be installed: {}", parts.join("; "))
                }
            }
        };
        Err(Stop::Fail(Failure { chain, reason }))
    }

    fn negatives(&self, idx: usize) -> impl Iterator<Item = (&'static str, &'u Relation)> + 'u {
        let p = &self.u.packages[idx];
        p.conflicts
            .iter()
            .map(|r| ("conflicts with", r))
            .chain(p.breaks.iter().map(|r| ("breaks", r)))
    }

    /// The first selected package that `owner`'s Conflicts/Breaks hit, other than itself.
    fn hit_by(&self, owner: usize) -> Option<Clash> {
        let owner_name = self.name(owner);
        for (kind, rel) in self.negatives(owner) {
            let mut targets: Vec<usize> = Vec::new();
            if let Some(&s) = self.selected.get(rel.name.as_str()) {
                targets.push(s);
            }
            targets.extend(
                self.u
                    .providers(&rel.name)
                    .iter()
                    .copied()
                    .filter(|&p| self.is_selected(p)),
            );
            targets.sort_by_key(|&t| self.name(t));
            if let Some(target) = targets
                .into_iter()
                .find(|&t| self.name(t) != owner_name && self.u.neg_matches(rel, t))
            {
                return Some(Clash {
                    owner,
                    target,
                    kind,
                    relation: relation_text(rel),
                });
            }
        }
        None
    }

    /// Whether candidate `idx` conflicts/breaks with a selected package, either way round.
    fn clash_with_selected(&self, idx: usize) -> Option<Clash> {
        if let Some(c) = self.hit_by(idx) {
            return Some(c);
        }
        let name = self.name(idx);
        for &s in &self.order {
            if self.name(s) == name {
                continue;
            }
            for (kind, rel) in self.negatives(s) {
                if self.u.neg_matches(rel, idx) {
                    return Some(Clash {
                        owner: s,
                        target: idx,
                        kind,
                        relation: relation_text(rel),
                    });
                }
            }
        }
        None
    }

    fn clash_text(&self, c: &Clash) -> String {
        let (o, t) = (&self.u.packages[c.owner], &self.u.packages[c.target]);
        if self.is_selected(c.owner) {
            format!(
                "selected {} {} {} {}",
                o.name, o.version, c.kind, c.relation
            )
        } else {
            format!(
                "{} {} {} {}, which selected {} {} matches",
                o.name, o.version, c.kind, c.relation, t.name, t.version
            )
        }
    }

    /// How a selected package was pulled in: `seed -> relation -> ...` with the seed's reason.
    fn via(&self, idx: usize) -> String {
        let mut steps = Vec::new();
        let mut cur = idx;
        let mut seen = HashSet::new();
        loop {
            if !seen.insert(cur) {
                break;
            }
            match self.reasons.get(&cur) {
                Some(Reason::Dependency { of, relation, .. }) => {
                    steps.push(relation.clone());
                    match self.selected.get(of.as_str()) {
                        Some(&parent) => cur = parent,
                        None => {
                            steps.push(of.clone());
                            break;
                        }
                    }
                }
                Some(seed) => {
                    steps.push(format!("{} [{seed}]", self.name(cur)));
                    break;
                }
                None => {
                    steps.push(self.name(cur).to_string());
                    break;
                }
            }
        }
        steps.reverse();
        steps.join(" -> ")
    }

    /// Errors when two selected packages conflict or break each other.
    fn check_conflicts(&self) -> Result<(), ResolveError> {
        let mut order = self.order.clone();
        order.sort_by_key(|&i| self.name(i));
        for idx in order {
            if let Some(c) = self.hit_by(idx) {
                let (o, t) = (&self.u.packages[c.owner], &self.u.packages[c.target]);
                return Err(ResolveError::Conflict {
                    first: format!("{} {}", o.name, o.version),
                    first_via: self.via(c.owner),
                    second: format!("{} {}", t.name, t.version),
                    second_via: self.via(c.target),
                    relation: format!("{} {}", c.kind, c.relation),
                });
            }
        }
        Ok(())
    }

    /// The resolved Pre-Depends/Depends edges of a selected package.
    fn edges(&self, idx: usize) -> Vec<(usize, DepField)> {
        let p = &self.u.packages[idx];
        let fields = p
            .pre_depends
            .iter()
            .map(|g| (DepField::PreDepends, g))
            .chain(p.depends.iter().map(|g| (DepField::Depends, g)));
        let mut edges = Vec::new();
        for (field, group) in fields {
            if let Some(t) = group.iter().find_map(|rel| self.selected_satisfier(rel))
                && t != idx
            {
                edges.push((t, field));
            }
        }
        edges
    }

    fn finish(self) -> Resolution {
        let mut packages = self.order.clone();
        packages.sort_by_key(|&i| self.name(i));
        let pos: HashMap<usize, usize> =
            packages.iter().enumerate().map(|(k, &i)| (i, k)).collect();
        // Edges between positions in `packages` (which is in name order).
        let edges: Vec<Vec<(usize, DepField)>> = packages
            .iter()
            .map(|&i| {
                self.edges(i)
                    .into_iter()
                    .filter_map(|(t, f)| pos.get(&t).map(|&k| (k, f)))
                    .collect()
            })
            .collect();
        let mut in_closure = vec![false; packages.len()];
        let mut stack: Vec<usize> = (0..packages.len())
            .filter(|&k| self.u.packages[packages[k]].essential)
            .collect();
        while let Some(k) = stack.pop() {
            if in_closure[k] {
                continue;
            }
            in_closure[k] = true;
            stack.extend(edges[k].iter().map(|&(t, _)| t).filter(|&t| !in_closure[t]));
        }
        let closure: Vec<usize> = (0..packages.len()).filter(|&k| in_closure[k]).collect();
        let rest: Vec<usize> = (0..packages.len()).filter(|&k| !in_closure[k]).collect();
        let mut install_order = Vec::with_capacity(packages.len());
        for part in [&closure, &rest] {
            install_order.extend(order_nodes(part, &edges).into_iter().map(|k| packages[k]));
        }
        let essential_closure = closure.iter().map(|&k| packages[k]).collect();
        let reasons = self.reasons.into_iter().collect();
        Resolution {
            packages,
            essential_closure,
            install_order,
            reasons,
        }
    }
}

/// Orders `nodes` (ascending node numbers, which are name order) so that dependencies come
/// before dependents, using only edges inside `nodes`. Strongly connected components are
/// placed as a whole (ready components by smallest node first); inside a cycle the node with
/// the fewest unplaced Pre-Depends, then Depends, then the smallest number goes first.
fn order_nodes(nodes: &[usize], edges: &[Vec<(usize, DepField)>]) -> Vec<usize> {
    let n = nodes.len();
    let local: HashMap<usize, usize> = nodes.iter().enumerate().map(|(l, &k)| (k, l)).collect();
    let adj: Vec<Vec<(usize, DepField)>> = nodes
        .iter()
        .map(|&k| {
            edges[k]
                .iter()
                .filter_map(|&(t, f)| local.get(&t).map(|&l| (l, f)))
                .collect()
        })
        .collect();
    let comp = tarjan(&adj);
    let ncomp = comp.iter().map(|&c| c + 1).max().unwrap_or(0);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); ncomp];
    for (l, &c) in comp.iter().enumerate() {
        members[c].push(l);
    }
    // Component graph: remaining dependency components and dependents.
    let mut remaining = vec![0usize; ncomp];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ncomp];
    let mut seen: HashSet<(usize, usize)> = HashSet::new();
    for (l, out) in adj.iter().enumerate() {
        for &(t, _) in out {
            let (a, b) = (comp[l], comp[t]);
            if a != b && seen.insert((a, b)) {
                remaining[a] += 1;
                dependents[b].push(a);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<(usize, usize)>> = (0..ncomp)
        .filter(|&c| remaining[c] == 0)
        .map(|c| Reverse((members[c][0], c)))
        .collect();
    let mut out = Vec::with_capacity(n);
    while let Some(Reverse((_, c))) = ready.pop() {
        order_cycle(&members[c], &adj, &comp, c, &mut out);
        for &d in &dependents[c] {
            remaining[d] -= 1;
            if remaining[d] == 0 {
                ready.push(Reverse((members[d][0], d)));
            }
        }
    }
    out.into_iter().map(|l| nodes[l]).collect()
}

/// Orders the members of one component (see [`order_nodes`]) and appends them to `out`.
fn order_cycle(
    members: &[usize],
    adj: &[Vec<(usize, DepField)>],
    comp: &[usize],
    c: usize,
    out: &mut Vec<usize>,
) {
    if let [one] = members {
        out.push(*one);
        return;
    }
    // Per member: unplaced (Pre-Depends, Depends) targets inside the component.
    let mut counts: HashMap<usize, (usize, usize)> = members.iter().map(|&m| (m, (0, 0))).collect();
    let mut rev: HashMap<usize, Vec<(usize, DepField)>> = HashMap::new();
    for &m in members {
        for &(t, f) in &adj[m] {
            if comp[t] == c && t != m {
                if let Some(e) = counts.get_mut(&m) {
                    match f {
                        DepField::PreDepends => e.0 += 1,
                        DepField::Depends => e.1 += 1,
                    }
                }
                rev.entry(t).or_default().push((m, f));
            }
        }
    }
    let mut left: Vec<usize> = members.to_vec();
    while !left.is_empty() {
        let Some((pick, _)) = left
            .iter()
            .enumerate()
            .min_by_key(|&(_, &m)| (counts.get(&m).copied().unwrap_or((0, 0)), m))
        else {
            break;
        };
        let m = left.remove(pick);
        out.push(m);
        for &(d, f) in rev.get(&m).map_or(&[][..], Vec::as_slice) {
            if let Some(e) = counts.get_mut(&d) {
                match f {
                    DepField::PreDepends => e.0 = e.0.saturating_sub(1),
                    DepField::Depends => e.1 = e.1.saturating_sub(1),
                }
            }
        }
    }
}

/// Tarjan's strongly connected components, iteratively; returns the component of each node.
fn tarjan(adj: &[Vec<(usize, DepField)>]) -> Vec<usize> {
    let n = adj.len();
    const UNSEEN: usize = usize::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut comp = vec![UNSEEN; n];
    let mut next_index = 0usize;
    let mut next_comp = 0usize;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        // (node, position of the next edge to look at)
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&(v, e)) = work.last() {
            if let Some(&(w, _)) = adj[v].get(e) {
                if let Some(top) = work.last_mut() {
                    top.1 += 1;
                }
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp[w] = next_comp;
                    if w == v {
                        break;
                    }
                }
                next_comp += 1;
            }
        }
    }
    comp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relation::{parse_depends, parse_provides, parse_relations};

    /// A package record builder: `pkg("name", "1.0").depends("a | b").essential()`.
    struct B(Package);

    fn pkg(name: &str, version: &str) -> B {
        B(Package {
            name: name.to_string(),
            version: Version::parse(version).unwrap(),
            architecture: "amd64".to_string(),
            multi_arch: MultiArch::No,
            essential: false,
            priority: Some(Priority::Optional),
            section: None,
            source: None,
            pre_depends: Vec::new(),
            depends: Vec::new(),
            provides: Vec::new(),
            conflicts: Vec::new(),
            breaks: Vec::new(),
            filename: format!("pool/main/{name}_{version}_amd64.deb"),
            size: 1,
            sha256: String::new(),
            installed_size: None,
            origin: 0,
        })
    }

    impl B {
        fn depends(mut self, field: &str) -> B {
            self.0.depends = parse_depends(field).unwrap();
            self
        }
        fn pre_depends(mut self, field: &str) -> B {
            self.0.pre_depends = parse_depends(field).unwrap();
            self
        }
        fn provides(mut self, field: &str) -> B {
            self.0.provides = parse_provides(field).unwrap();
            self
        }
        fn conflicts(mut self, field: &str) -> B {
            self.0.conflicts = parse_relations(field).unwrap();
            self
        }
        fn breaks(mut self, field: &str) -> B {
            self.0.breaks = parse_relations(field).unwrap();
            self
        }
        fn essential(mut self) -> B {
            self.0.essential = true;
            self.0.priority = Some(Priority::Required);
            self
        }
        fn priority(mut self, p: Priority) -> B {
            self.0.priority = Some(p);
            self
        }
        fn required(self) -> B {
            self.priority(Priority::Required)
        }
        fn arch(mut self, arch: &str) -> B {
            self.0.architecture = arch.to_string();
            self
        }
        fn multi_arch(mut self, ma: MultiArch) -> B {
            self.0.multi_arch = ma;
            self
        }
        fn origin(mut self, origin: usize) -> B {
            self.0.origin = origin;
            self
        }
    }

    fn universe(packages: Vec<B>) -> Universe {
        Universe::new(packages.into_iter().map(|b| b.0).collect(), "amd64")
    }

    fn req(variant: Variant, include: &[&str], exclude: &[&str]) -> Request {
        Request {
            variant,
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// The selected `name version` list, or `error: message`.
    fn outcome(u: &Universe, request: &Request) -> String {
        match resolve(u, request) {
            Ok(r) => r
                .packages
                .iter()
                .map(|&i| format!("{} {}", u.package(i).name, u.package(i).version))
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => format!("error: {e}"),
        }
    }

    fn check(packages: Vec<B>, request: Request, expect: &str) {
        let u = universe(packages);
        assert_eq!(outcome(&u, &request), expect);
    }

    fn names(u: &Universe, list: &[usize]) -> Vec<String> {
        list.iter().map(|&i| u.package(i).name.clone()).collect()
    }

    #[test]
    fn first_alternative_wins() {
        check(
            vec![
                pkg("a", "1").required().depends("x | y"),
                pkg("x", "1"),
                pkg("y", "1"),
            ],
            req(Variant::Required, &[], &[]),
            "a 1, x 1",
        );
        // The first alternative that has a usable candidate wins.
        check(
            vec![
                pkg("a", "1").required().depends("x (>= 2) | y"),
                pkg("x", "1"),
                pkg("y", "1"),
            ],
            req(Variant::Required, &[], &[]),
            "a 1, y 1",
        );
    }

    #[test]
    fn seeds_are_selected_before_dependencies() {
        // `a` is expanded first (name order) but `y`, a later seed, already satisfies it.
        check(
            vec![
                pkg("a", "1").required().depends("x | y"),
                pkg("x", "1"),
                pkg("y", "1").required(),
            ],
            req(Variant::Required, &[], &[]),
            "a 1, y 1",
        );
        // A provider among the seeds satisfies a virtual dependency too.
        check(
            vec![
                pkg("a", "1").required().depends("mta"),
                pkg("exim", "1")
                    .provides("mta")
                    .priority(Priority::Standard),
                pkg("zmail", "1").provides("mta").required(),
            ],
            req(Variant::Required, &[], &[]),
            "a 1, zmail 1",
        );
    }

    #[test]
    fn provider_choice_follows_compare_providers() {
        let base = || {
            vec![
                pkg("a", "1").required().depends("awk"),
                pkg("aawk", "1").provides("awk"),
                pkg("bawk", "1")
                    .provides("awk")
                    .priority(Priority::Important),
                pkg("cawk", "1")
                    .provides("awk")
                    .priority(Priority::Important),
            ]
        };
        // Higher priority first, then name.
        check(base(), req(Variant::Required, &[], &[]), "a 1, bawk 1");
        // Essential beats priority.
        let mut with_essential = base();
        with_essential.push(
            pkg("zawk", "1")
                .provides("awk")
                .essential()
                .priority(Priority::Extra),
        );
        check(
            with_essential,
            req(Variant::Custom, &["a"], &[]),
            "a 1, zawk 1",
        );
        // The real package beats any provider.
        let mut with_real = base();
        with_real.push(pkg("awk", "1"));
        check(with_real, req(Variant::Required, &[], &[]), "a 1, awk 1");
        // An excluded provider is not chosen.
        check(
            base(),
            req(Variant::Required, &[], &["bawk"]),
            "a 1, cawk 1",
        );
    }

    #[test]
    fn versioned_provides() {
        let base = || {
            vec![
                pkg("a", "1").required().depends("v (>= 2)"),
                pkg("p1", "1").provides("v (= 1)"),
                pkg("p2", "1").provides("v"),
                pkg("p3", "1").provides("v (= 3)"),
            ]
        };
        check(base(), req(Variant::Required, &[], &[]), "a 1, p3 1");
        // An unversioned relation takes any provider (p1 by name order, all equal).
        check(
            vec![
                pkg("a", "1").required().depends("v"),
                pkg("p1", "1").provides("v (= 1)"),
                pkg("p2", "1").provides("v"),
            ],
            req(Variant::Required, &[], &[]),
            "a 1, p1 1",
        );
        // An unversioned Provides does not satisfy a versioned relation.
        check(
            base(),
            req(Variant::Required, &[], &["p3"]),
            "error: a -> v (>= 2): no usable provider: p1 provides v (= 1), p2 provides v unversioned, p3 (excluded)",
        );
        // A selected unversioned provider does not satisfy a versioned relation either.
        check(
            vec![
                pkg("a", "1").required().depends("v (>= 2)"),
                pkg("p2", "1").provides("v").required(),
                pkg("p3", "1").provides("v (= 3)"),
            ],
            req(Variant::Required, &[], &[]),
            "a 1, p2 1, p3 1",
        );
    }

    #[test]
    fn no_candidate_error_shows_the_chain() {
        check(
            vec![
                pkg("apt", "2.6.1")
                    .required()
                    .depends("libapt-pkg6.0 (>= 2.6.1)"),
                pkg("libapt-pkg6.0", "2.6.1").depends("libc6, libzstd1 (>= 1.5.5)"),
                pkg("libc6", "2.36"),
                pkg("libzstd1", "1.5.4-2").origin(0),
                pkg("libzstd1", "1.5.2-1").origin(1),
            ],
            req(Variant::Required, &[], &[]),
            "error: apt -> libapt-pkg6.0 (>= 2.6.1) -> libzstd1 (>= 1.5.5): no candidate: available versions are 1.5.4-2, 1.5.2-1",
        );
        check(
            vec![pkg("a", "1").required().depends("nothing-here")],
            req(Variant::Required, &[], &[]),
            "error: a -> nothing-here: no package or provider named 'nothing-here' for amd64 or all",
        );
    }

    #[test]
    fn failed_alternative_is_rolled_back() {
        // x is tried first, pulls in x-dep, then fails on a missing library: everything it
        // pulled in goes, y is chosen.
        check(
            vec![
                pkg("a", "1").required().depends("x | y"),
                pkg("x", "1").depends("x-dep, missing-lib"),
                pkg("x-dep", "1"),
                pkg("y", "1"),
            ],
            req(Variant::Required, &[], &[]),
            "a 1, y 1",
        );
        // When every alternative fails, each reason is shown.
        check(
            vec![
                pkg("a", "1").required().depends("x | y (>= 2)"),
                pkg("x", "1").depends("x-dep"),
                pkg("x-dep", "1").depends("missing-lib"),
                pkg("y", "1"),
            ],
            req(Variant::Required, &[], &[]),
            "error: a -> x | y (>= 2): no alternative can be installed: y (>= 2): no candidate: available versions are 1; x 1 -> x-dep -> missing-lib: no package or provider named 'missing-lib' for amd64 or all",
        );
    }

    #[test]
    fn conflicts_skip_an_alternative() {
        check(
            vec![
                pkg("a", "1").required().depends("x | y"),
                pkg("s", "1").required().conflicts("x"),
                pkg("x", "1"),
                pkg("y", "1"),
            ],
            req(Variant::Required, &[], &[]),
            "a 1, s 1, y 1",
        );
        // The other direction: the candidate conflicts with a selected package, through its
        // Provides.
        check(
            vec![
                pkg("a", "1").required().depends("x | y"),
                pkg("s", "1").required().provides("feature"),
                pkg("x", "1").conflicts("feature"),
                pkg("y", "1"),
            ],
            req(Variant::Required, &[], &[]),
            "a 1, s 1, y 1",
        );
        // A versioned conflict that does not match does not get in the way.
        check(
            vec![
                pkg("a", "1").required().depends("x | y"),
                pkg("s", "1").required().conflicts("x (<< 1)"),
                pkg("x", "1"),
                pkg("y", "1"),
            ],
            req(Variant::Required, &[], &[]),
            "a 1, s 1, x 1",
        );
    }

    #[test]
    fn unavoidable_conflicts_are_errors() {
        check(
            vec![
                pkg("a", "1").required().conflicts("b (<< 2)"),
                pkg("b", "1.5").essential(),
            ],
            req(Variant::Required, &[], &[]),
            "error: unavoidable conflict: a 1 conflicts with b (<< 2), which b 1.5 matches; a 1 was pulled in by a [seed (priority required)], b 1.5 by b [seed (essential)]",
        );
        // Through a dependency: the only way to satisfy it conflicts with a seed.
        check(
            vec![
                pkg("a", "1").required().depends("x"),
                pkg("s", "1").required(),
                pkg("x", "1").conflicts("s"),
            ],
            req(Variant::Required, &[], &[]),
            "error: a -> x: x 1 conflicts with s, which selected s 1 matches",
        );
        // The Conflicts+Provides idiom: a package never conflicts with itself, but with the
        // other providers.
        let mta = || {
            vec![
                pkg("exim", "1").provides("mta").conflicts("mta"),
                pkg("postfix", "1").provides("mta").conflicts("mta"),
            ]
        };
        check(mta(), req(Variant::Custom, &["exim"], &[]), "exim 1");
        let u = universe(mta());
        let err = outcome(&u, &req(Variant::Custom, &["exim", "postfix"], &[]));
        assert!(
            err.starts_with(
                "error: unavoidable conflict: exim 1 conflicts with mta, which postfix 1 matches"
            ),
            "{err}"
        );
    }

    #[test]
    fn breaks() {
        let base = |breaks: &str| {
            vec![
                pkg("a", "1").required().depends("x | y"),
                pkg("s", "1").required(),
                pkg("x", "1").breaks(breaks),
                pkg("y", "1"),
            ]
        };
        check(
            base("s (<< 2)"),
            req(Variant::Required, &[], &[]),
            "a 1, s 1, y 1",
        );
        check(
            base("s (<< 1)"),
            req(Variant::Required, &[], &[]),
            "a 1, s 1, x 1",
        );
        check(
            vec![
                pkg("a", "1").required().breaks("b"),
                pkg("b", "1").required(),
            ],
            req(Variant::Required, &[], &[]),
            "error: unavoidable conflict: a 1 breaks b, which b 1 matches; a 1 was pulled in by a [seed (priority required)], b 1 by b [seed (priority required)]",
        );
    }

    #[test]
    fn exclude() {
        let base = || {
            vec![
                pkg("init-system-helpers", "1.65")
                    .essential()
                    .depends("usrmerge | usr-is-merged"),
                pkg("usrmerge", "37")
                    .provides("usr-is-merged")
                    .depends("perl:any"),
                pkg("usr-is-merged", "37"),
                pkg("perl", "5.36").multi_arch(MultiArch::Allowed),
                pkg("tzdata", "1").required(),
            ]
        };
        check(
            base(),
            req(Variant::Essential, &[], &[]),
            "init-system-helpers 1.65, perl 5.36, usrmerge 37",
        );
        check(
            base(),
            req(Variant::Essential, &[], &["usrmerge"]),
            "init-system-helpers 1.65, usr-is-merged 37",
        );
        // Excluded seeds are not installed.
        check(
            base(),
            req(Variant::Minbase, &[], &["tzdata", "usrmerge"]),
            "init-system-helpers 1.65, usr-is-merged 37",
        );
        check(
            base(),
            req(Variant::Essential, &[], &["usrmerge", "usr-is-merged"]),
            "error: init-system-helpers -> usrmerge | usr-is-merged: no alternative can be installed: usrmerge: 'usrmerge' is excluded; usr-is-merged: 'usr-is-merged' is excluded; no usable provider: usrmerge (excluded)",
        );
        // Deeper down, the chain shows where.
        check(
            base(),
            req(Variant::Custom, &["usrmerge"], &["perl"]),
            "error: usrmerge -> perl:any: 'perl' is excluded",
        );
        check(
            base(),
            req(Variant::Custom, &["perl"], &["perl"]),
            "error: 'perl' is both included and excluded",
        );
    }

    #[test]
    fn unknown_names_get_suggestions() {
        let u = universe(vec![
            pkg("libc6", "2.36"),
            pkg("libc-bin", "2.36"),
            pkg("libcap2", "1"),
            pkg("zlib1g", "1"),
            pkg("exim", "1").provides("mail-transport-agent"),
            pkg("postfix", "1").provides("mail-transport-agent"),
        ]);
        assert_eq!(
            outcome(&u, &req(Variant::Custom, &["libc"], &[])),
            "error: unknown package 'libc' (did you mean libc6, libc-bin, libcap2?)"
        );
        assert_eq!(
            outcome(&u, &req(Variant::Custom, &["postfx"], &[])),
            "error: unknown package 'postfx' (did you mean postfix?)"
        );
        assert_eq!(
            outcome(&u, &req(Variant::Custom, &[], &["zlib"])),
            "error: unknown package 'zlib' (did you mean zlib1g?)"
        );
        assert_eq!(
            outcome(&u, &req(Variant::Custom, &["qqqqqq"], &[])),
            "error: unknown package 'qqqqqq'"
        );
        assert_eq!(
            outcome(&u, &req(Variant::Custom, &["mail-transport-agent"], &[])),
            "error: 'mail-transport-agent' is a virtual package provided by exim, postfix: name one of them instead"
        );
        assert_eq!(
            outcome(&u, &req(Variant::Custom, &["libc6=2.35"], &[])),
            "error: no version 2.35 of 'libc6' in the indexes (available: 2.36)"
        );
        assert_eq!(
            outcome(&u, &req(Variant::Custom, &["libc6=x"], &[])),
            "error: invalid request entry 'libc6=x': invalid version \"x\": the upstream version does not start with a digit"
        );
        // A virtual name with one provider selects it.
        let u = universe(vec![pkg("mawk", "1").provides("awk")]);
        assert_eq!(outcome(&u, &req(Variant::Custom, &["awk"], &[])), "mawk 1");
    }

    #[test]
    fn install_order_breaks_cycles_keeping_pre_depends() {
        let u = universe(vec![
            // a and b form a cycle; a Pre-Depends on b, so b goes first.
            pkg("a", "1").required().pre_depends("b"),
            pkg("b", "1").depends("a, c"),
            pkg("c", "1"),
            pkg("d", "1").required().depends("a"),
        ]);
        let r = resolve(&u, &req(Variant::Required, &[], &[])).unwrap();
        assert_eq!(names(&u, &r.install_order), ["c", "b", "a", "d"]);
        // The same cycle the other way round.
        let u = universe(vec![
            pkg("a", "1").required().depends("b"),
            pkg("b", "1").pre_depends("a"),
        ]);
        let r = resolve(&u, &req(Variant::Required, &[], &[])).unwrap();
        assert_eq!(names(&u, &r.install_order), ["a", "b"]);
        // Without Pre-Depends, name order decides inside the cycle.
        let u = universe(vec![
            pkg("z", "1").required().depends("y"),
            pkg("y", "1").depends("z"),
        ]);
        let r = resolve(&u, &req(Variant::Required, &[], &[])).unwrap();
        assert_eq!(names(&u, &r.install_order), ["y", "z"]);
    }

    #[test]
    fn essential_closure_comes_first() {
        let u = universe(vec![
            pkg("apt", "1").required().depends("libapt, gpgv"),
            pkg("libapt", "1").depends("libc6"),
            pkg("gpgv", "1").depends("libc6"),
            pkg("dpkg", "1").essential().pre_depends("libc6, libz"),
            pkg("tar", "1").essential().depends("libacl | libacl-ng"),
            pkg("libacl", "1"),
            pkg("libacl-ng", "1"),
            pkg("libc6", "1").depends("libgcc"),
            pkg("libgcc", "1").depends("libc6"),
            pkg("libz", "1").required(),
        ]);
        let r = resolve(&u, &req(Variant::Required, &[], &[])).unwrap();
        assert_eq!(
            names(&u, &r.essential_closure),
            ["dpkg", "libacl", "libc6", "libgcc", "libz", "tar"]
        );
        assert_eq!(
            names(&u, &r.install_order),
            [
                "libacl", "libc6", "libgcc", "libz", "dpkg", "tar", "gpgv", "libapt", "apt"
            ]
        );
        let reason = |name: &str| r.reasons[&u.candidate(name).unwrap()].to_string();
        assert_eq!(reason("dpkg"), "seed (essential)");
        assert_eq!(reason("apt"), "seed (priority required)");
        assert_eq!(reason("libapt"), "dependency of apt (Depends: libapt)");
        // apt is expanded before dpkg (seeds in name order): the first to need libc6 names it.
        assert_eq!(reason("libc6"), "dependency of libapt (Depends: libc6)");
        assert_eq!(reason("libz"), "seed (priority required)");
        assert_eq!(r.reasons.len(), r.packages.len());
        // Every dependency comes before its dependent.
        let pos: HashMap<usize, usize> = r
            .install_order
            .iter()
            .enumerate()
            .map(|(k, &i)| (i, k))
            .collect();
        for &i in &r.packages {
            for dep in u.package(i).pre_depends.iter().chain(&u.package(i).depends) {
                let Some(t) = dep
                    .iter()
                    .find_map(|rel| u.candidate(&rel.name).filter(|t| pos.contains_key(t)))
                else {
                    continue;
                };
                let cycle = ["libc6", "libgcc"].contains(&u.package(i).name.as_str());
                assert!(
                    cycle || pos[&t] < pos[&i],
                    "{} before {}",
                    u.package(t).name,
                    u.package(i).name
                );
            }
        }
    }

    #[test]
    fn highest_version_across_origins() {
        let u = universe(vec![
            pkg("libc6", "2.36-9").origin(0),
            pkg("libc6", "2.36-9+deb12u4").origin(2),
            pkg("libc6", "2.36-9+deb12u1").origin(1),
            pkg("tzdata", "2024a-0+deb12u1").origin(1),
            pkg("tzdata", "2024a-0+deb12u1").origin(2),
            pkg("tzdata", "2023c-5").origin(0),
        ]);
        let c = u.package(u.candidate("libc6").unwrap());
        assert_eq!(
            (c.version.to_string(), c.origin),
            ("2.36-9+deb12u4".to_string(), 2)
        );
        let c = u.package(u.candidate("tzdata").unwrap());
        assert_eq!(c.origin, 1, "the first of two equal records wins");
        assert_eq!(u.versions("tzdata").len(), 2);
        assert_eq!(u.len(), 5);
        // A request for an exact version replaces the candidate.
        assert_eq!(
            outcome(&u, &req(Variant::Custom, &["libc6=2.36-9", "tzdata"], &[])),
            "libc6 2.36-9, tzdata 2024a-0+deb12u1"
        );
    }

    #[test]
    fn other_architectures_are_ignored() {
        let u = universe(vec![
            pkg("a", "1").required().depends("b"),
            pkg("b", "1").arch("all"),
            pkg("b", "2").arch("i386"),
            pkg("only-i386", "1").arch("i386"),
        ]);
        assert_eq!(outcome(&u, &req(Variant::Required, &[], &[])), "a 1, b 1");
        assert_eq!(
            outcome(&u, &req(Variant::Custom, &["only-i386"], &[])),
            "error: unknown package 'only-i386'"
        );
        let u = universe(vec![
            pkg("a", "1").required().depends("b:i386"),
            pkg("b", "1"),
        ]);
        assert_eq!(
            outcome(&u, &req(Variant::Required, &[], &[])),
            "error: a -> b:i386: the architecture qualifier ':i386' cannot be satisfied (only amd64 and all packages are installed)"
        );
    }

    #[test]
    fn multi_arch_any() {
        let base = |ma: MultiArch| {
            vec![
                pkg("usrmerge", "37")
                    .required()
                    .depends("perl:any, python3:native"),
                pkg("perl", "5.36").multi_arch(ma),
                pkg("python3", "3.11").multi_arch(MultiArch::Allowed),
            ]
        };
        check(
            base(MultiArch::Allowed),
            req(Variant::Required, &[], &[]),
            "perl 5.36, python3 3.11, usrmerge 37",
        );
        check(
            base(MultiArch::Foreign),
            req(Variant::Required, &[], &[]),
            "error: usrmerge -> perl:any: 'perl' is not Multi-Arch: allowed, so it cannot satisfy ':any'",
        );
    }

    #[test]
    fn variants() {
        let u = universe(vec![
            pkg("apt", "1").priority(Priority::Important),
            pkg("bash", "1").essential(),
            pkg("mawk", "1").required(),
            pkg("cron", "1").priority(Priority::Important),
            pkg("less", "1").priority(Priority::Standard),
            pkg("vim", "1"),
        ]);
        let got = |v: Variant| outcome(&u, &req(v, &["vim"], &[]));
        assert_eq!(got(Variant::Essential), "bash 1, vim 1");
        assert_eq!(got(Variant::Apt), "apt 1, bash 1, vim 1");
        assert_eq!(got(Variant::Required), "bash 1, mawk 1, vim 1");
        assert_eq!(got(Variant::Minbase), got(Variant::Required));
        assert_eq!(
            got(Variant::Important),
            "apt 1, bash 1, cron 1, mawk 1, vim 1"
        );
        assert_eq!(
            got(Variant::Standard),
            "apt 1, bash 1, cron 1, less 1, mawk 1, vim 1"
        );
        assert_eq!(got(Variant::Custom), "vim 1");
        let r = resolve(&u, &req(Variant::Apt, &["vim"], &[])).unwrap();
        assert_eq!(
            r.reasons[&u.candidate("apt").unwrap()].to_string(),
            "seed (variant apt)"
        );
        assert_eq!(
            r.reasons[&u.candidate("vim").unwrap()].to_string(),
            "include"
        );

        for v in Variant::ALL {
            assert_eq!(v.to_string().parse::<Variant>(), Ok(v));
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{v}\""));
            assert_eq!(serde_json::from_str::<Variant>(&json).unwrap(), v);
        }
        assert_eq!(
            "buildd".parse::<Variant>().unwrap_err().to_string(),
            "unknown variant 'buildd': expected one of essential, apt, required, minbase, important, standard, custom"
        );
        assert!(serde_json::from_str::<Variant>("\"Minbase\"").is_err());
    }

    #[test]
    fn deep_chains_and_many_alternatives_stay_bounded() {
        // A chain deeper than the limit is an error, not a stack overflow.
        let n = MAX_DEPTH + 10;
        let mut packages = vec![pkg("p0", "1").required().depends("p1")];
        for k in 1..n {
            packages.push(pkg(&format!("p{k}"), "1").depends(&format!("p{}", k + 1)));
        }
        packages.push(pkg(&format!("p{n}"), "1"));
        let u = universe(packages);
        let err = resolve(&u, &req(Variant::Required, &[], &[])).unwrap_err();
        assert!(matches!(err, ResolveError::TooDeep { .. }), "{err}");
    }
}
