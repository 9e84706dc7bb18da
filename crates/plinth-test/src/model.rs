//! The one test model every file format is read into (plinth's own YAML/TOML format,
//! container-structure-test 2.0.0, goss), and the results the checks give.
//!
//! A [`Test`] is one assertion about an image. Static checks ([`Phase::Static`]: files,
//! packages, users, groups, metadata, licenses) read the image's layers and config without
//! running it; runtime checks ([`Phase::Runtime`]: commands, processes, ports, HTTP,
//! addresses, mounts) need a running container.

use std::path::PathBuf;
use std::time::Duration;

/// Which file format a suite was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// plinth's own format (`check:` list, YAML or TOML syntax).
    Plinth,
    /// container-structure-test, `schemaVersion: 2.0.0`.
    ContainerStructureTest,
    /// goss (`file:`, `package:`, `command:`... maps).
    Goss,
}

/// One test file.
#[derive(Debug, Clone)]
pub struct Suite {
    pub path: PathBuf,
    /// The file name without its extension.
    pub name: String,
    pub format: Format,
    pub tests: Vec<Test>,
}

/// One assertion.
#[derive(Debug, Clone)]
pub struct Test {
    /// Given, or made from the check (`file /etc/passwd`, `command: nginx -v`).
    pub name: String,
    /// 1-based line in the file, when the parser knows it.
    pub line: Option<usize>,
    pub check: Check,
}

/// When a check can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// From the image's layers and config.
    Static,
    /// In a running container.
    Runtime,
}

/// What is checked.
#[derive(Debug, Clone)]
pub enum Check {
    File(FileCheck),
    Package(PackageCheck),
    User(UserCheck),
    Group(GroupCheck),
    Metadata(MetadataCheck),
    License(LicenseCheck),
    Command(CommandCheck),
    Process(ProcessCheck),
    Port(PortCheck),
    Http(HttpCheck),
    Addr(AddrCheck),
    Mount(MountCheck),
}

impl Check {
    /// Static or runtime.
    pub fn phase(&self) -> Phase {
        match self {
            Check::File(_)
            | Check::Package(_)
            | Check::User(_)
            | Check::Group(_)
            | Check::Metadata(_)
            | Check::License(_) => Phase::Static,
            Check::Command(_)
            | Check::Process(_)
            | Check::Port(_)
            | Check::Http(_)
            | Check::Addr(_)
            | Check::Mount(_) => Phase::Runtime,
        }
    }

    /// The check's kind, as the formats and reports name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::File(_) => "file",
            Check::Package(_) => "package",
            Check::User(_) => "user",
            Check::Group(_) => "group",
            Check::Metadata(_) => "metadata",
            Check::License(_) => "license",
            Check::Command(_) => "command",
            Check::Process(_) => "process",
            Check::Port(_) => "port",
            Check::Http(_) => "http",
            Check::Addr(_) => "addr",
            Check::Mount(_) => "mount",
        }
    }
}

/// How a text is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// A regular expression (Rust `regex` syntax, multi-line: `^`/`$` match at line ends)
    /// that must match somewhere.
    Regex(String),
    /// A regular expression that must match nowhere.
    NotRegex(String),
    /// A substring that must appear.
    Contains(String),
    /// A substring that must not appear.
    NotContains(String),
    /// The whole text, exactly (after trimming one trailing newline).
    Equals(String),
}

impl Matcher {
    /// Whether `text` satisfies the matcher (regexes multi-line, `Equals` ignoring one
    /// trailing newline on either side); `Err` names an invalid regular expression.
    pub fn matches(&self, text: &str) -> Result<bool, String> {
        let re = |r: &str| {
            regex::RegexBuilder::new(r)
                .multi_line(true)
                .build()
                .map_err(|e| format!("invalid regular expression /{r}/: {e}"))
        };
        let trim = |t: &str| t.strip_suffix('\n').unwrap_or(t).to_string();
        Ok(match self {
            Matcher::Regex(r) => re(r)?.is_match(text),
            Matcher::NotRegex(r) => !re(r)?.is_match(text),
            Matcher::Contains(s) => text.contains(s.as_str()),
            Matcher::NotContains(s) => !text.contains(s.as_str()),
            Matcher::Equals(s) => trim(text) == trim(s),
        })
    }

    /// How the expectation reads in a message (`to match /re/`).
    pub fn describe(&self) -> String {
        match self {
            Matcher::Regex(r) => format!("to match /{r}/"),
            Matcher::NotRegex(r) => format!("not to match /{r}/"),
            Matcher::Contains(s) => format!("to contain {s:?}"),
            Matcher::NotContains(s) => format!("not to contain {s:?}"),
            Matcher::Equals(s) => format!("to be {s:?}"),
        }
    }
}

/// The type of a filesystem entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Directory,
    Symlink,
    /// Anything else (device, fifo, socket).
    Other,
}

/// A file, directory or link in the image.
#[derive(Debug, Clone, Default)]
pub struct FileCheck {
    /// Absolute path in the image.
    pub path: String,
    /// Must exist (default) or must not.
    pub exists: bool,
    pub kind: Option<FileKind>,
    /// Permission bits (with setuid/setgid/sticky), e.g. 0o644.
    pub mode: Option<u32>,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    /// Owner by name (resolved through the image's /etc/passwd).
    pub owner: Option<String>,
    /// Group by name (the image's /etc/group).
    pub group: Option<String>,
    /// A symlink's target, as stored.
    pub link_target: Option<String>,
    /// Matchers over the content (a regular file, symlinks followed).
    pub content: Vec<Matcher>,
    pub size: Option<u64>,
    /// Hex SHA-256 of the content.
    pub sha256: Option<String>,
    /// Permission bits of which at least one must be set: container-structure-test's
    /// `isExecutableBy` (`any` 0o111, `owner` 0o100, `group` 0o010, `other` 0o001).
    pub executable_by: Option<u32>,
}

/// A Debian package, from the image's dpkg database (/var/lib/dpkg/status).
#[derive(Debug, Clone, Default)]
pub struct PackageCheck {
    pub name: String,
    /// Installed (status `install ok installed`) or not.
    pub installed: bool,
    /// When not empty, the installed version must be one of these.
    pub versions: Vec<String>,
}

/// A user of the image's /etc/passwd.
#[derive(Debug, Clone, Default)]
pub struct UserCheck {
    pub name: String,
    pub exists: bool,
    pub uid: Option<u64>,
    pub gid: Option<u64>,
    /// Supplementary and primary groups by name; each must contain the user.
    pub groups: Vec<String>,
    pub home: Option<String>,
    pub shell: Option<String>,
}

/// A group of the image's /etc/group.
#[derive(Debug, Clone, Default)]
pub struct GroupCheck {
    pub name: String,
    pub exists: bool,
    pub gid: Option<u64>,
}

/// The image config. Every `Some`/non-empty field is checked; the rest is not.
#[derive(Debug, Clone, Default)]
pub struct MetadataCheck {
    /// Variables that must be set; with a value, it must match.
    pub env: Vec<(String, Option<Matcher>)>,
    /// Variables that must not be set (container-structure-test's `unboundEnvVars`).
    pub env_unset: Vec<String>,
    /// Labels that must be set; with a value, it must match.
    pub labels: Vec<(String, Option<Matcher>)>,
    /// Exactly these (an empty list: none).
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    /// Ports that must be exposed (`8080`, `8080/tcp`, `53/udp`).
    pub exposed_ports: Vec<String>,
    /// Ports that must not be exposed.
    pub unexposed_ports: Vec<String>,
    /// Volumes that must be declared.
    pub volumes: Vec<String>,
    /// Volumes that must not be declared.
    pub unmounted_volumes: Vec<String>,
    /// Whether a HEALTHCHECK must be (`true`) or must not be (`false`) declared.
    pub healthcheck: Option<bool>,
}

/// container-structure-test's `licenseTests`: Debian copyright files present (`debian`) and
/// the given license files present.
#[derive(Debug, Clone, Default)]
pub struct LicenseCheck {
    pub debian: bool,
    pub files: Vec<String>,
}

/// A command run in a container of the image.
#[derive(Debug, Clone, Default)]
pub struct CommandCheck {
    /// The command: argv (a shell string is `["sh", "-c", text]`).
    pub argv: Vec<String>,
    /// Replaces the image's entrypoint when set (container-structure-test runs commands with
    /// the entrypoint cleared unless the test says otherwise).
    pub entrypoint: Option<Vec<String>>,
    pub exit_status: i32,
    pub stdout: Vec<Matcher>,
    pub stderr: Vec<Matcher>,
    /// Variables set for the command (and setup/teardown).
    pub env: Vec<(String, String)>,
    /// Commands run before it, in the same container (their failure fails the test).
    pub setup: Vec<Vec<String>>,
    /// Commands run after it, in the same container.
    pub teardown: Vec<Vec<String>>,
    pub timeout: Option<Duration>,
}

/// A process of the running container (matched by its comm or argv[0]'s base name).
#[derive(Debug, Clone, Default)]
pub struct ProcessCheck {
    pub name: String,
    pub running: bool,
}

/// Transport of a port check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Tcp,
    Tcp6,
    Udp,
    Udp6,
}

/// A listening socket in the running container.
#[derive(Debug, Clone, Default)]
pub struct PortCheck {
    pub port: u16,
    pub protocol: Protocol,
    pub listening: bool,
    /// When not empty, it must listen on one of these addresses.
    pub ips: Vec<String>,
}

/// An HTTP request to the running container.
#[derive(Debug, Clone, Default)]
pub struct HttpCheck {
    /// `http://host:port/path` as seen from inside the container.
    pub url: String,
    pub status: u16,
    pub body: Vec<Matcher>,
    /// Response headers that must be present (`Name: value` substring match).
    pub headers: Vec<String>,
    /// Request headers sent.
    pub request_headers: Vec<(String, String)>,
    pub method: Option<String>,
    pub timeout: Option<Duration>,
}

/// A TCP/UDP address reachable from inside the container.
#[derive(Debug, Clone, Default)]
pub struct AddrCheck {
    /// `tcp://host:port` or `udp://host:port`.
    pub addr: String,
    pub reachable: bool,
    pub timeout: Option<Duration>,
}

/// A mount point of the running container.
#[derive(Debug, Clone, Default)]
pub struct MountCheck {
    pub path: String,
    pub exists: bool,
    /// Options that must be among the mount's options (`ro`, `nosuid`...).
    pub opts: Vec<String>,
    pub source: Option<String>,
    pub filesystem: Option<String>,
}

/// A test's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Passed,
    Failed,
    /// The check could not be carried out (a container did not start, a file could not be
    /// read): counts as a failure.
    Error,
}

/// One test's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TestResult {
    /// The suite (file name without extension, or `checklist`).
    pub suite: String,
    pub name: String,
    pub kind: &'static str,
    pub status: Status,
    /// Empty when passed; else what was expected and what was found, one line or a few.
    pub message: String,
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Suite {
    /// The suite as it runs against an image whose config has `image_env` (`K=V`):
    /// container-structure-test expands `$VAR` and `${VAR}` in commands, their arguments,
    /// setup and teardown commands and file paths from the image's environment (Go's
    /// `os.Expand`: an unset variable is empty) before anything runs; the other formats are
    /// taken as written.
    pub fn for_image(&self, image_env: &[String]) -> Suite {
        if self.format != Format::ContainerStructureTest {
            return self.clone();
        }
        let env: std::collections::BTreeMap<&str, &str> = image_env
            .iter()
            .map(|kv| kv.split_once('=').unwrap_or((kv.as_str(), "")))
            .collect();
        let x = |s: &String| go_expand(s, &|k| env.get(k).copied().unwrap_or("").to_string());
        let xs = |v: &Vec<String>| v.iter().map(x).collect::<Vec<_>>();
        let mut out = self.clone();
        for t in &mut out.tests {
            match &mut t.check {
                Check::Command(c) => {
                    c.argv = xs(&c.argv);
                    c.setup = c.setup.iter().map(xs).collect();
                    c.teardown = c.teardown.iter().map(xs).collect();
                }
                Check::File(f) => f.path = x(&f.path),
                _ => {}
            }
        }
        out
    }
}

/// Go's `os.Expand`: `$name` (letters, digits, `_`), `${name}`, and the one-character shell
/// names (`$1`, `$@`, `$$`...) are replaced by `mapping(name)`; a `$` followed by anything else
/// stays; `${` without a closing `}` and `${}` are dropped.
pub fn go_expand(s: &str, mapping: &dyn Fn(&str) -> String) -> String {
    let b = s.as_bytes();
    let special =
        |c: u8| matches!(c, b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-') || c.is_ascii_digit();
    let alnum = |c: u8| c == b'_' || c.is_ascii_alphanumeric();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut j = 0;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            out.push_str(&s[i..j]);
            let rest = &s[j + 1..];
            let rb = rest.as_bytes();
            // (name, width) as Go's getShellName.
            let (name, w): (&str, usize) = if rb[0] == b'{' {
                if rb.len() > 2 && special(rb[1]) && rb[2] == b'}' {
                    (&rest[1..2], 3)
                } else {
                    match rest[1..].find('}') {
                        Some(0) => ("", 2),
                        Some(k) => (&rest[1..1 + k], k + 2),
                        None => ("", 1),
                    }
                }
            } else if special(rb[0]) {
                (&rest[..1], 1)
            } else {
                let k = rb.iter().take_while(|c| alnum(**c)).count();
                (&rest[..k], k)
            };
            if name.is_empty() && w > 0 {
                // Bad syntax: the characters are eaten.
            } else if name.is_empty() {
                out.push('$');
            } else {
                out.push_str(&mapping(name));
            }
            j += w;
            i = j + 1;
        }
        j += 1;
    }
    if i < b.len() {
        out.push_str(&s[i..]);
    }
    out
}

impl TestResult {
    /// Passed?
    pub fn passed(&self) -> bool {
        self.status == Status::Passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_expand_matches_os_expand() {
        let m = |k: &str| match k {
            "HOME" => "/root".to_string(),
            "A_1" => "x".to_string(),
            _ => String::new(),
        };
        for (input, want) in [
            ("$HOME/bin", "/root/bin"),
            ("${HOME}bin", "/rootbin"),
            ("[$GREETING]", "[]"),
            ("$A_1-$A_1", "x-x"),
            ("cost: 5$", "cost: 5$"),
            ("a $ b", "a $ b"),
            ("${}x", "x"),
            ("${HOME", "HOME"),
            ("$$", ""),
            ("${1}", ""),
            ("plain", "plain"),
            ("ünï$HOMEcödé", "ünïödé"),
        ] {
            assert_eq!(go_expand(input, &m), want, "{input}");
        }
    }
}
