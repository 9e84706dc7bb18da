//! The package model: versions, relations and binary package records, as the Packages
//! index describes them. Parsers build these; the resolver reads them.

/// A Debian version `[epoch:]upstream[-revision]`, ordered as dpkg orders versions.
/// `Ord`/`Eq` follow dpkg: `1.0` == `0:1.0`, `1.0~rc1` < `1.0`.
#[derive(Debug, Clone)]
pub struct Version {
    pub epoch: u32,
    pub upstream: String,
    /// Empty when the version has no `-revision`.
    pub revision: String,
}

/// A version string dpkg would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version {version:?}: {why}")]
pub struct VersionError {
    pub version: String,
    pub why: &'static str,
}

/// A version relation operator of a dependency field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionOp {
    /// `<<`
    Lt,
    /// `<=` (and the obsolete `<`)
    Le,
    /// `=`
    Eq,
    /// `>=` (and the obsolete `>`)
    Ge,
    /// `>>`
    Gt,
}

/// One package relation: `name[:archqual] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub name: String,
    /// The `:any` / `:native` / `:amd64` qualifier, without the colon.
    pub arch_qualifier: Option<String>,
    pub constraint: Option<(VersionOp, Version)>,
}

/// An OR group of a Depends/Pre-Depends field: `a | b (>= 1)`. A field is a list of these.
pub type Alternatives = Vec<Relation>;

/// One entry of a Provides field: `name [(= version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provide {
    pub name: String,
    pub version: Option<Version>,
}

/// The Multi-Arch field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MultiArch {
    #[default]
    No,
    Same,
    Foreign,
    Allowed,
}

/// The Priority field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Priority {
    Required,
    Important,
    Standard,
    Optional,
    Extra,
    Other(String),
}

/// A binary package record of a Packages index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: Version,
    pub architecture: String,
    pub multi_arch: MultiArch,
    pub essential: bool,
    pub priority: Option<Priority>,
    pub section: Option<String>,
    pub source: Option<String>,
    pub pre_depends: Vec<Alternatives>,
    pub depends: Vec<Alternatives>,
    pub provides: Vec<Provide>,
    pub conflicts: Vec<Relation>,
    pub breaks: Vec<Relation>,
    /// Path of the .deb relative to the mirror root (`pool/main/a/apt/apt_2.6.1_amd64.deb`).
    pub filename: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the .deb.
    pub sha256: String,
    pub installed_size: Option<u64>,
    /// Which index the record came from (an index into the caller's list of indexes), so that
    /// the caller knows the mirror to download it from.
    pub origin: usize,
}

impl Version {
    /// Parses `[epoch:]upstream[-revision]` as dpkg does: the epoch is digits before the first
    /// `:`, the revision what follows the last `-`; the upstream part must start with a digit
    /// and be non-empty.
    pub fn parse(s: &str) -> Result<Version, VersionError> {
        let bad = |why: &'static str| VersionError {
            version: s.to_string(),
            why,
        };
        let s_trim = s.trim();
        if s_trim.is_empty() {
            return Err(bad("it is empty"));
        }
        if s_trim.contains(char::is_whitespace) {
            return Err(bad("it contains white space"));
        }
        let (epoch, rest) = match s_trim.split_once(':') {
            Some((e, r)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("the epoch is not a number"));
                }
                let epoch = e
                    .parse::<u32>()
                    .map_err(|_| bad("the epoch is too large"))?;
                (epoch, r)
            }
            None => (0, s_trim),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(bad("the upstream version is empty"));
        }
        if !upstream.as_bytes()[0].is_ascii_digit() {
            return Err(bad("the upstream version does not start with a digit"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".+~-:".contains(c);
        if !upstream.chars().all(allowed) {
            return Err(bad(
                "the upstream version has a character outside [A-Za-z0-9.+~-:]",
            ));
        }
        if rest.contains('-') && revision.is_empty() {
            return Err(bad("the revision after '-' is empty"));
        }
        if !revision
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+~".contains(c))
        {
            return Err(bad("the revision has a character outside [A-Za-z0-9.+~]"));
        }
        Ok(Version {
            epoch,
            upstream: upstream.to_string(),
            revision: revision.to_string(),
        })
    }

    /// The version as Debian writes it (`epoch:` only when not zero).
    pub fn to_debian_string(&self) -> String {
        let mut s = String::new();
        if self.epoch != 0 {
            s.push_str(&self.epoch.to_string());
            s.push(':');
        }
        s.push_str(&self.upstream);
        if !self.revision.is_empty() {
            s.push('-');
            s.push_str(&self.revision);
        }
        s
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_debian_string())
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}

/// dpkg's character order inside the non-digit parts: `~` sorts before everything (even the
/// end of the part), letters before non-letters.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` (lib/dpkg/version.c).
fn verrevcmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        let mut first_diff = 0i32;
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == 0 {
                first_diff = i32::from(a[i]) - i32::from(b[j]);
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return std::cmp::Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return std::cmp::Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    std::cmp::Ordering::Equal
}

impl VersionOp {
    /// Whether `candidate op reference` holds.
    pub fn holds(self, candidate: &Version, reference: &Version) -> bool {
        use std::cmp::Ordering::*;
        let o = candidate.cmp(reference);
        match self {
            VersionOp::Lt => o == Less,
            VersionOp::Le => o != Greater,
            VersionOp::Eq => o == Equal,
            VersionOp::Ge => o != Less,
            VersionOp::Gt => o == Greater,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn parse_errors() {
        for bad in ["", "a1.0", "x:1.0", "1.0-", "1 0", ":1.0", "1.0-a_b", "-1"] {
            assert!(Version::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let v = v("1:2.3-4-5");
        assert_eq!(
            (v.epoch, v.upstream.as_str(), v.revision.as_str()),
            (1, "2.3-4", "5")
        );
    }

    #[test]
    fn dpkg_order() {
        // Pairs from dpkg's t/version tests: a < b.
        let less = [
            ("1.0~rc1", "1.0"),
            ("1.0", "1.0-1"),
            ("1.0-1", "1.0.1"),
            ("1:0.9", "2:0.1"),
            ("2.30-2", "2.30-10"),
            ("1.2a", "1.2b"),
            ("1.2", "1.2a"),
            ("1.2a", "1.2+"),
            ("0~", "0"),
            ("1.0~~", "1.0~"),
            ("9", "10"),
            ("2.6.1", "2.6.1+deb12u1"),
        ];
        for (a, b) in less {
            assert!(v(a) < v(b), "{a} < {b}");
            assert!(v(b) > v(a), "{b} > {a}");
        }
        assert_eq!(v("1.0"), v("0:1.0"));
        assert_eq!(v("1.001"), v("1.1"));
        assert_eq!(v("2:1.0-1").to_string(), "2:1.0-1");
        assert!(VersionOp::Ge.holds(&v("1.0"), &v("1.0")));
        assert!(!VersionOp::Gt.holds(&v("1.0"), &v("1.0")));
        assert!(VersionOp::Lt.holds(&v("1.0~"), &v("1.0")));
    }
}
