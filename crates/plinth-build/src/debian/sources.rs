//! Where packages come from: the host's apt sources (`/etc/apt/sources.list`, `*.list` and
//! deb822 `*.sources` files) and the default source list of a root filesystem.

use std::path::Path;

use super::DebianError;
use crate::credentials::strip_credentials;

/// One apt source: a mirror URI and the suites and components taken from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
}

/// One (mirror, suite) pair a root filesystem reads indexes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct SuiteSource {
    /// The mirror root, without a trailing `/`.
    pub uri: String,
    pub suite: String,
}

/// Reads the host's `deb` sources from `etc_apt` (normally `/etc/apt`). Missing files are
/// fine; unreadable ones are errors. `deb-src` and disabled (`Enabled: no`) entries are skipped.
pub fn host_sources(etc_apt: &Path) -> Result<Vec<AptSource>, DebianError> {
    let mut out = Vec::new();
    let list = etc_apt.join("sources.list");
    if list.exists() {
        out.extend(parse_one_line(&read(&list)?));
    }
    let dir = etc_apt.join("sources.list.d");
    if dir.is_dir() {
        let mut names: Vec<_> = fs_err::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        names.sort();
        for p in names {
            match p.extension().and_then(|e| e.to_str()) {
                Some("list") => out.extend(parse_one_line(&read(&p)?)),
                Some("sources") => {
                    out.extend(parse_deb822(&read(&p)?).map_err(|e| DebianError::Index {
                        url: p.display().to_string(),
                        message: e.to_string(),
                    })?)
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

fn read(p: &Path) -> Result<String, DebianError> {
    Ok(String::from_utf8_lossy(&fs_err::read(p)?).into_owned())
}

/// `deb [options] uri suite [component...]` lines.
pub fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut rest = match line
            .strip_prefix("deb ")
            .or_else(|| line.strip_prefix("deb\t"))
        {
            Some(r) => r.trim_start(),
            None => continue,
        };
        if let Some(r) = rest.strip_prefix('[') {
            match r.split_once(']') {
                Some((_, after)) => rest = after.trim_start(),
                None => continue,
            }
        }
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(AptSource {
            uri: uri.trim_end_matches('/').to_string(),
            suites: vec![suite.to_string()],
            components: words.map(str::to_string).collect(),
        });
    }
    out
}

/// deb822 `.sources` stanzas (`Types`, `URIs`, `Suites`, `Components`, `Enabled`), read with
/// plinth-debian's deb822 parser; a malformed file is an error with its line.
pub fn parse_deb822(text: &str) -> Result<Vec<AptSource>, plinth_debian::Deb822Error> {
    let mut out = Vec::new();
    for para in plinth_debian::paragraphs(text) {
        let para = para?;
        let words = |k: &str| -> Vec<String> {
            para.get(k)
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect()
        };
        if !words("Types").iter().any(|t| t == "deb") {
            continue;
        }
        if para
            .get("Enabled")
            .is_some_and(|e| e.eq_ignore_ascii_case("no"))
        {
            continue;
        }
        for uri in words("URIs") {
            out.push(AptSource {
                uri: uri.trim_end_matches('/').to_string(),
                suites: words("Suites"),
                components: words("Components"),
            });
        }
    }
    Ok(out)
}

/// The suites a root filesystem of `suite` reads by default, from the host's sources: every
/// host entry for `suite`, `suite-updates` and `suite-security` (so a `bookworm` root gets the
/// same point-release and security updates as the host, as mmdebstrap's defaults do). When the
/// host has none of them (another release), the host's first Debian mirror (a URI not ending in
/// `-security`) with `suite` alone; with no host sources at all, `http://deb.debian.org/debian`.
pub fn default_suites(host: &[AptSource], suite: &str) -> Vec<SuiteSource> {
    let wanted = [
        suite.to_string(),
        format!("{suite}-updates"),
        format!("{suite}-security"),
    ];
    let mut out: Vec<SuiteSource> = Vec::new();
    for w in &wanted {
        for src in host {
            if src.suites.iter().any(|s| s == w) {
                let s = SuiteSource {
                    uri: src.uri.clone(),
                    suite: w.clone(),
                };
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    if out.is_empty() {
        let uri = host
            .iter()
            .find(|s| {
                s.uri.contains("debian")
                    && !s.uri.ends_with("-security")
                    && !s.suites.iter().any(|x| x.ends_with("-security"))
            })
            .map(|s| s.uri.clone())
            .unwrap_or_else(|| "http://deb.debian.org/debian".to_string());
        out.push(SuiteSource {
            uri,
            suite: suite.to_string(),
        });
    }
    out
}

/// The mirror URI to download from for a (credential-free) `uri` of a lock: the spec's own
/// source with the same credential-free URI (which may carry credentials), else `uri`.
pub fn with_credentials(uri: &str, spec: &[SuiteSource]) -> String {
    spec.iter()
        .find(|s| strip_credentials(&s.uri) == uri)
        .map(|s| s.uri.clone())
        .unwrap_or_else(|| uri.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_stripped_and_found_again() {
        assert_eq!(
            strip_credentials("https://u:p@m.example/debian"),
            "https://m.example/debian"
        );
        assert_eq!(strip_credentials("http://m/debian"), "http://m/debian");
        assert_eq!(
            strip_credentials("file:///srv/mirror"),
            "file:///srv/mirror"
        );
        let spec = [SuiteSource {
            uri: "https://u:p@m.example/debian".into(),
            suite: "bookworm".into(),
        }];
        assert_eq!(
            with_credentials("https://m.example/debian", &spec),
            spec[0].uri
        );
        assert_eq!(with_credentials("http://other", &spec), "http://other");
    }

    const DEB822: &str = "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\n# comment\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb-src\nURIs: http://x/debian\nSuites: bookworm\nComponents: main\n\nTypes: deb\nEnabled: no\nURIs: http://y/debian\nSuites: bookworm\nComponents: main\n";

    #[test]
    fn deb822_sources() {
        let s = parse_deb822(DEB822).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(s[1].uri, "http://deb.debian.org/debian-security");
    }

    #[test]
    fn one_line_sources() {
        let s = parse_one_line(
            "# x\ndeb [arch=amd64 signed-by=/k.gpg] http://m/debian/ bookworm main contrib\ndeb-src http://m/debian bookworm main\ndeb http://m/debian-security bookworm-security main # tail\n",
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].uri, "http://m/debian");
        assert_eq!(s[0].components, ["main", "contrib"]);
        assert_eq!(s[1].suites, ["bookworm-security"]);
    }

    #[test]
    fn defaults_follow_the_host() {
        let host = parse_deb822(DEB822).unwrap();
        let d = default_suites(&host, "bookworm");
        let pairs: Vec<(&str, &str)> = d
            .iter()
            .map(|s| (s.uri.as_str(), s.suite.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("http://deb.debian.org/debian", "bookworm"),
                ("http://deb.debian.org/debian", "bookworm-updates"),
                ("http://deb.debian.org/debian-security", "bookworm-security"),
            ]
        );
        let t = default_suites(&host, "trixie");
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].uri.as_str(), t[0].suite.as_str()),
            ("http://deb.debian.org/debian", "trixie")
        );
        let none = default_suites(&[], "sid");
        assert_eq!(none[0].uri, "http://deb.debian.org/debian");
    }
}
