//! The Release file of a Debian suite: its identity (origin, suite, codename, dates), its
//! architectures and components, and the SHA-256 list of the index files it vouches for.
//!
//! The input is a plain Release file or the signed text of an InRelease file once the caller has
//! checked and stripped the OpenPGP signature. plinth trusts only SHA-256, so a Release without
//! a `SHA256` list is refused; the MD5Sum and SHA1 lists are ignored.

use std::collections::HashSet;

use crate::deb822::{self, Deb822Error};

/// A parsed Release file. Text fields missing from the file are empty strings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Release {
    pub origin: String,
    pub label: String,
    pub suite: String,
    pub codename: String,
    pub version: String,
    /// The `Date` field as written (`Sat, 10 May 2025 09:08:47 UTC`); empty when missing.
    pub date: String,
    /// `Date` in seconds since the Unix epoch; `None` when the field is missing.
    pub date_unix: Option<i64>,
    /// The `Valid-Until` field as written.
    pub valid_until: Option<String>,
    /// `Valid-Until` in seconds since the Unix epoch.
    pub valid_until_unix: Option<i64>,
    pub architectures: Vec<String>,
    pub components: Vec<String>,
    /// `Acquire-By-Hash: yes`: index files can be fetched from `by-hash/SHA256/<hash>`.
    pub acquire_by_hash: bool,
    /// The entries of the `SHA256` list, in the order of the file.
    pub sha256: Vec<IndexFile>,
}

/// One entry of the `SHA256` list: an index file relative to the suite directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    /// `main/binary-amd64/Packages.xz`
    pub path: String,
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
}

/// Why a Release file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Syntax(#[from] Deb822Error),
    #[error("the Release file is empty")]
    Empty,
    #[error("the Release file has a second paragraph at line {line}; it must have one")]
    ExtraParagraph { line: usize },
    #[error("the Release file has no SHA256 list (plinth only trusts SHA-256)")]
    MissingSha256,
    #[error("the SHA256 list of the Release file is empty")]
    EmptySha256,
    #[error("Release line {line}: SHA256 entry {text:?}: {why}")]
    BadSha256Entry {
        line: usize,
        text: String,
        why: &'static str,
    },
    #[error(
        "Release line {line}: {field} {value:?} is not a date like \"Sat, 10 May 2025 09:08:47 UTC\""
    )]
    BadDate {
        line: usize,
        field: &'static str,
        value: String,
    },
}

impl Release {
    /// The `SHA256` entry for `path` (relative to the suite directory), if listed.
    pub fn file(&self, path: &str) -> Option<&IndexFile> {
        self.sha256.iter().find(|f| f.path == path)
    }
}

/// Parses the text of a Release file (or of an InRelease file without its signature).
pub fn parse_release(text: &str) -> Result<Release, ReleaseError> {
    let mut paras = deb822::paragraphs(text);
    let p = paras.next().ok_or(ReleaseError::Empty)??;
    if let Some(next) = paras.next() {
        return Err(ReleaseError::ExtraParagraph { line: next?.line() });
    }
    let text_field = |name: &str| p.get(name).unwrap_or_default().to_string();
    let words = |name: &str| {
        p.get(name)
            .unwrap_or_default()
            .split_ascii_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let date_field = |name: &'static str| -> Result<Option<(String, i64)>, ReleaseError> {
        let Some(f) = p.field(name) else {
            return Ok(None);
        };
        let value = f.value();
        match parse_rfc2822(value) {
            Some(t) => Ok(Some((value.to_string(), t))),
            None => Err(ReleaseError::BadDate {
                line: f.line(),
                field: name,
                value: value.to_string(),
            }),
        }
    };
    let (date, date_unix) = match date_field("Date")? {
        Some((raw, t)) => (raw, Some(t)),
        None => (String::new(), None),
    };
    let (valid_until, valid_until_unix) = match date_field("Valid-Until")? {
        Some((raw, t)) => (Some(raw), Some(t)),
        None => (None, None),
    };
    let sha = p.field("SHA256").ok_or(ReleaseError::MissingSha256)?;
    let sha256 = parse_sha256_list(sha)?;
    Ok(Release {
        origin: text_field("Origin"),
        label: text_field("Label"),
        suite: text_field("Suite"),
        codename: text_field("Codename"),
        version: text_field("Version"),
        date,
        date_unix,
        valid_until,
        valid_until_unix,
        architectures: words("Architectures"),
        components: words("Components"),
        acquire_by_hash: p
            .get("Acquire-By-Hash")
            .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
        sha256,
    })
}

fn parse_sha256_list(field: &deb822::Field<'_>) -> Result<Vec<IndexFile>, ReleaseError> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let first = field.first_line();
    // Entries normally sit on continuation lines; accept one on the first line too.
    let first_entry = (!first.is_empty()).then_some((field.line(), first));
    let rest = field
        .continuation_lines()
        .enumerate()
        .map(|(i, l)| (field.line() + 1 + i, l));
    for (line, text) in first_entry.into_iter().chain(rest) {
        let bad = |why| ReleaseError::BadSha256Entry {
            line,
            text: text.to_string(),
            why,
        };
        if text.trim().is_empty() {
            continue;
        }
        let mut parts = text.split_ascii_whitespace();
        let (Some(hash), Some(size), Some(path), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected \"<sha256> <size> <path>\""));
        };
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the hash is not 64 hexadecimal digits"));
        }
        if !size.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the size is not a number"));
        }
        let size: u64 = size.parse().map_err(|_| bad("the size is not a number"))?;
        if path.starts_with('/')
            || path
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(bad("the path is not a plain relative path"));
        }
        if !seen.insert(path) {
            return Err(bad("the path is listed twice"));
        }
        out.push(IndexFile {
            path: path.to_string(),
            size,
            sha256: hash.to_ascii_lowercase(),
        });
    }
    if out.is_empty() {
        return Err(ReleaseError::EmptySha256);
    }
    Ok(out)
}

/// Parses an RFC 2822 date as Release files write it: `[Day,] DD Mon YYYY HH:MM[:SS] ZONE` with
/// the zone `UTC`, `GMT`, `UT`, `Z` or `±HHMM`. Returns seconds since the Unix epoch.
pub fn parse_rfc2822(s: &str) -> Option<i64> {
    let s = s.trim();
    // Drop the optional day name.
    let s = match s.split_once(',') {
        Some((day, rest)) if day.trim().bytes().all(|b| b.is_ascii_alphabetic()) => rest,
        Some(_) => return None,
        None => s,
    };
    let mut parts = s.split_ascii_whitespace();
    let (Some(day), Some(month), Some(year), Some(time), zone, None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let num = |t: &str, min: usize, max: usize| -> Option<i64> {
        if t.len() < min || t.len() > max || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let day = num(day, 1, 2)?;
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? as i64 + 1;
    let year = num(year, 4, 4)?;
    let mut hms = time.split(':');
    let hour = num(hms.next()?, 2, 2)?;
    let minute = num(hms.next()?, 2, 2)?;
    let second = match hms.next() {
        Some(t) => num(t, 2, 2)?,
        None => 0,
    };
    if hms.next().is_some() || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if day < 1 || day > month_days[(month - 1) as usize] {
        return None;
    }
    let offset = match zone {
        None => return None,
        Some(z)
            if ["UTC", "GMT", "UT", "Z"]
                .iter()
                .any(|u| u.eq_ignore_ascii_case(z)) =>
        {
            0
        }
        Some(z) => {
            let (sign, digits) = match z.as_bytes().first() {
                Some(b'+') => (1, &z[1..]),
                Some(b'-') => (-1, &z[1..]),
                _ => return None,
            };
            let v = num(digits, 4, 4)?;
            let (h, m) = (v / 100, v % 100);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    // The head of the bookworm-security InRelease (signature stripped), shortened.
    const SECURITY: &str = "Origin: Debian
Label: Debian-Security
Suite: oldstable-security
Version: 12
Codename: bookworm-security
Date: Sat, 21 Nov 2026 00:53:02 UTC
Valid-Until: Sat, 28 Nov 2026 00:53:02 UTC
Acquire-By-Hash: yes
Architectures: amd64 arm64 armhf i386 ppc64el
Components: updates/main updates/contrib updates/non-free-firmware updates/non-free
Description: Debian 12 - Security Updates
MD5Sum:
 0ac4b5e3d5f7a3e0c0a8b2a1e96b5b0e   123 main/binary-amd64/Packages.xz
SHA256:
 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855        0 updates/contrib/Contents-all
 f61f27bd17de546264aa58f40f3aafaac7021e0ef69c17f6b1b4cd7664a037ec       20 updates/contrib/Contents-all.gz
 2BF8B69FE8E957E2A3AA8F8AAF8525803E35DE2C7CD77F4ADDEF838E95C18903   763339 updates/main/binary-amd64/Packages.xz
";

    #[test]
    fn real_release() {
        let r = parse_release(SECURITY).unwrap();
        assert_eq!(r.origin, "Debian");
        assert_eq!(r.label, "Debian-Security");
        assert_eq!(r.suite, "oldstable-security");
        assert_eq!(r.codename, "bookworm-security");
        assert_eq!(r.version, "12");
        assert_eq!(r.date, "Sat, 21 Nov 2026 00:53:02 UTC");
        // date -u -d 'Sat, 21 Nov 2026 00:53:02 UTC' +%s
        assert_eq!(r.date_unix, Some(1_795_222_382));
        assert_eq!(
            r.valid_until.as_deref(),
            Some("Sat, 28 Nov 2026 00:53:02 UTC")
        );
        assert_eq!(r.valid_until_unix, Some(1_795_222_382 + 7 * 86400));
        assert_eq!(
            r.architectures,
            ["amd64", "arm64", "armhf", "i386", "ppc64el"]
        );
        assert_eq!(r.components.len(), 4);
        assert_eq!(r.components[0], "updates/main");
        assert!(r.acquire_by_hash);
        assert_eq!(r.sha256.len(), 3);
        let f = r.file("updates/main/binary-amd64/Packages.xz").unwrap();
        assert_eq!(f.size, 763339);
        assert_eq!(
            f.sha256,
            "2bf8b69fe8e957e2a3aa8f8aaf8525803e35de2c7cd77f4addef838e95c18903"
        );
        assert_eq!(r.file("updates/contrib/Contents-all").unwrap().size, 0);
        assert!(
            r.file("main/binary-amd64/Packages.xz").is_none(),
            "the MD5Sum list is not trusted"
        );
    }

    #[test]
    fn minimal_release() {
        let text = "Suite: x\nSHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 Packages\n\n\n";
        let r = parse_release(text).unwrap();
        assert_eq!(r.suite, "x");
        assert_eq!(r.origin, "");
        assert_eq!((r.date.as_str(), r.date_unix), ("", None));
        assert!(!r.acquire_by_hash);
        assert!(r.architectures.is_empty());
        assert_eq!(r.sha256[0].path, "Packages");
    }

    #[test]
    fn errors() {
        let hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(parse_release(""), Err(ReleaseError::Empty));
        assert_eq!(
            parse_release("Suite: x\nMD5Sum:\n a 1 b\n"),
            Err(ReleaseError::MissingSha256)
        );
        assert_eq!(
            parse_release("Suite: x\nSHA256:\n"),
            Err(ReleaseError::EmptySha256)
        );
        assert!(matches!(
            parse_release(&format!("Suite: x\nSHA256:\n {hash} 1 a\n\nSuite: y\n")),
            Err(ReleaseError::ExtraParagraph { line: 5 })
        ));
        assert!(matches!(parse_release("Suite x\n"), Err(ReleaseError::Syntax(e)) if e.line == 1));
        let bad_entries = [
            (format!(" {hash} 1"), "expected"),
            (format!(" {hash} 1 a b"), "expected"),
            (format!(" {} 1 a", &hash[1..]), "64 hexadecimal"),
            (format!(" {}g 1 a", &hash[1..]), "64 hexadecimal"),
            (format!(" {hash} -1 a"), "size"),
            (format!(" {hash} 99999999999999999999999 a"), "size"),
            (format!(" {hash} 1 ../a"), "relative"),
            (format!(" {hash} 1 /a"), "relative"),
            (format!(" {hash} 1 a//b"), "relative"),
            (format!(" {hash} 1 a\n {hash} 2 a"), "twice"),
        ];
        for (entry, why) in bad_entries {
            let text = format!("Suite: x\nSHA256:\n {hash} 5 ok\n{entry}\n");
            match parse_release(&text) {
                Err(ReleaseError::BadSha256Entry { line, why: w, .. }) => {
                    assert!(w.contains(why), "{entry}: {w}");
                    assert!(line == 4 || line == 5, "{entry}: line {line}");
                }
                other => panic!("{entry}: {other:?}"),
            }
        }
        let e = parse_release(&format!("Date: yesterday\nSHA256:\n {hash} 1 a\n")).unwrap_err();
        assert!(
            matches!(
                &e,
                ReleaseError::BadDate {
                    line: 1,
                    field: "Date",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("yesterday"));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_rfc2822("Thu, 01 Jan 1970 00:00:00 UTC"), Some(0));
        assert_eq!(
            parse_rfc2822("Sat, 10 May 2025 09:08:47 UTC"),
            Some(1_746_868_127)
        );
        assert_eq!(
            parse_rfc2822("10 May 2025 09:08:47 GMT"),
            Some(1_746_868_127)
        );
        assert_eq!(
            parse_rfc2822("Sat, 10 May 2025 11:08:47 +0200"),
            Some(1_746_868_127)
        );
        assert_eq!(
            parse_rfc2822("Sat, 10 May 2025 08:38 -0030"),
            Some(1_746_868_080)
        );
        assert_eq!(
            parse_rfc2822("Tue, 29 Feb 2000 00:00:00 Z"),
            Some(951_782_400)
        );
        assert_eq!(
            parse_rfc2822("Sun, 1 Jan 1961 00:00:00 UTC"),
            Some(-283_996_800)
        );
        for bad in [
            "",
            "Sat, 10 May 2025 09:08:47",
            "Sat, 10 Mai 2025 09:08:47 UTC",
            "Sat, 32 May 2025 09:08:47 UTC",
            "Sat, 29 Feb 2023 09:08:47 UTC",
            "Sat, 10 May 2025 24:00:00 UTC",
            "Sat, 10 May 2025 09:08:47 CEST",
            "Sat, 10 May 2025 09:08:47 +02",
            "Sat, 10 May 25 09:08:47 UTC",
            "Sat, 10 May 2025 09:08:47 UTC extra",
            "1, 10 May 2025 09:08:47 UTC",
            "Sat, 10 May 2025 9:8:47 UTC",
        ] {
            assert_eq!(parse_rfc2822(bad), None, "{bad:?}");
        }
    }

    /// Every InRelease file apt fetched on this machine parses, once its signature is stripped.
    #[test]
    fn local_inrelease_files() {
        let Ok(dir) = std::fs::read_dir("/var/lib/apt/lists") else {
            return;
        };
        let (mut found, mut count) = (0, 0);
        for entry in dir.flatten() {
            let path = entry.path();
            if !path.to_string_lossy().ends_with("_InRelease") {
                continue;
            }
            found += 1;
            let text = std::fs::read_to_string(&path).unwrap();
            // Clear-signed text: the body is between the armor header block and the signature.
            let Some(body) = text
                .split_once("\n\n")
                .and_then(|(_, rest)| rest.split_once("\n-----BEGIN PGP SIGNATURE-----"))
                .map(|(body, _)| body)
            else {
                panic!("{}: not clear-signed text", path.display())
            };
            let r = parse_release(body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!r.sha256.is_empty());
            assert!(r.date_unix.is_some(), "{}", path.display());
            count += 1;
        }
        assert_eq!(count, found);
    }
}
