//! Runtime checks: the TOML form of an image's test files, `/container/tests/<suite>.toml`.
//!
//! `plinth-init test [SUITE]` runs every check of a suite; `plinth-init health [--ready]` and
//! the `/healthz` `/readyz` server run the checks whose `probes` name that probe (see
//! [`crate::health`]); a service's `ready` table in `/container/services.toml` uses the same
//! keys (see [`crate::services`]). The suite's name is the file name without `.toml`. Only
//! `*.toml` files are read; a `*.yaml`/`*.yml` file in the directory is an error (convert it
//! to this TOML form); other files are ignored.
//!
//! # Format
//!
//! ```toml
//! [[check]]
//! name = "web answers"            # optional; default derived from the check ("http GET http://...")
//! probes = ["health", "ready"]    # optional; default both; [] = only `plinth-init test`
//! timeout = "5s"                  # optional, default 5s: "250ms", "5s", "2m", "1h", or 10 (seconds)
//! http = "http://127.0.0.1:8080/healthz"
//! status = 200                    # default 200
//! body = ["ok"]                   # regexes the body must match (all of them)
//! headers = { Host = "example.com" }   # extra request headers
//!
//! [[check]]
//! command = ["pg_isready", "-q"]  # an argv (searched on PATH), or a string run with /bin/sh -c
//! exit-status = 0                 # default 0
//! stdout = ["accepting"]          # regexes stdout must match; stderr = [...] likewise
//! stdout-not = ["error"]          # regexes stdout must NOT match; stderr-not = [...] likewise
//! env = { PGHOST = "127.0.0.1" }  # added to the inherited environment
//!
//! [[check]]
//! addr = "tcp://127.0.0.1:5432"   # or "host:port"; TCP only (a connect attempt)
//! reachable = true                # default true
//!
//! [[check]]
//! port = 8080                     # a local socket on this port, read from /proc/net/*
//! protocol = "tcp"                # tcp (v4 and v6, LISTEN state) | tcp6 | udp (v4 and v6) | udp6
//! listening = true                # default true
//!
//! [[check]]
//! process = "nginx"               # /proc/*/comm exactly, or the basename of argv[0]
//! running = true                  # default true
//!
//! [[check]]
//! file = "/application/data/READY"
//! exists = true                   # default true
//! contains = ["^ready$"]          # regexes the content must match
//! mode = "0644"                   # the permission bits, octal
//! ```
//!
//! Each `[[check]]` has exactly one of `command`, `http`, `addr`, `port`, `process`, `file`;
//! a key that belongs to another kind of check, or an unknown key, is an error. `http` is
//! plain HTTP only (use a `command` check with curl for https). Regexes use the `regex-lite`
//! syntax, in multi-line mode: `^` and `$` match at the start and end of every line, so
//! `stdout = ["^hello$"]` matches the output `hello\n`. A command that runs past its timeout is killed (its whole process group).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use regex_lite::Regex;
use serde::Deserialize;

/// The default time a check may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Cap on captured command output and HTTP responses (bytes).
const OUTPUT_CAP: usize = 1 << 20;

/// What can go wrong loading check files.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The TOML itself is malformed, or a key is unknown or of the wrong type.
    #[error("{}:{line}:{column}: {message}; fix the check file", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A check is well-formed TOML but makes no sense.
    #[error("{}:{line}: check {check}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the check (0 when unknown).
        line: usize,
        /// The check's name or position.
        check: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A YAML test file where plinth-init reads only TOML.
    #[error(
        "{} is a YAML test file, but plinth-init reads only the TOML form of checks: convert it to a \
         .toml file with [[check]] tables (see the checks format) or remove it from the image",
        path.display()
    )]
    Yaml {
        /// The file.
        path: PathBuf,
    },
}

/// A suite: one `/container/tests/<name>.toml` file.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The file it came from.
    pub path: PathBuf,
    /// The file name without `.toml`.
    pub name: String,
    /// The checks, in file order.
    pub checks: Vec<Check>,
}

/// One check.
#[derive(Debug, Clone)]
pub struct Check {
    /// The `name` key, or a name derived from the check.
    pub name: String,
    /// The probes that run it (`plinth-init test` runs every check).
    pub probes: Vec<Probe>,
    /// How long it may take.
    pub timeout: Duration,
    /// What it checks.
    pub kind: CheckKind,
}

/// The health probes a check can take part in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Liveness: `plinth-init health`, `/healthz`.
    Health,
    /// Readiness: `plinth-init health --ready`, `/readyz`.
    Ready,
}

/// The kinds of check.
#[derive(Debug, Clone)]
pub enum CheckKind {
    /// Run a command.
    Command(CommandCheck),
    /// An HTTP GET.
    Http(HttpCheck),
    /// A TCP connect.
    Addr(AddrCheck),
    /// A local listening socket.
    Port(PortCheck),
    /// A running process.
    Process(ProcessCheck),
    /// A file.
    File(FileCheck),
}

/// `command = ...`
#[derive(Debug, Clone)]
pub struct CommandCheck {
    /// The argv (a string command becomes `/bin/sh -c STRING`).
    pub argv: Vec<String>,
    /// The expected exit status.
    pub exit_status: i32,
    /// Regexes stdout must match.
    pub stdout: Vec<Regex>,
    /// Regexes stderr must match.
    pub stderr: Vec<Regex>,
    /// Regexes stdout must not match.
    pub stdout_not: Vec<Regex>,
    /// Regexes stderr must not match.
    pub stderr_not: Vec<Regex>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

/// `http = ...`
#[derive(Debug, Clone)]
pub struct HttpCheck {
    /// The URL as written.
    pub url: String,
    /// Host part (for connecting and the Host header).
    pub host: String,
    /// Port (default 80).
    pub port: u16,
    /// Path and query (default `/`).
    pub path: String,
    /// Expected status.
    pub status: u16,
    /// Regexes the body must match.
    pub body: Vec<Regex>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
}

/// `addr = ...`
#[derive(Debug, Clone)]
pub struct AddrCheck {
    /// `host:port`.
    pub addr: String,
    /// Whether a connection must succeed (or must fail).
    pub reachable: bool,
}

/// `port = ...`
#[derive(Debug, Clone)]
pub struct PortCheck {
    /// The local port.
    pub port: u16,
    /// Whether something must listen (or must not).
    pub listening: bool,
    /// Which socket tables to read.
    pub protocol: Protocol,
}

/// The socket tables a port check reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `/proc/net/tcp` and `/proc/net/tcp6`, LISTEN sockets.
    Tcp,
    /// `/proc/net/tcp6` only.
    Tcp6,
    /// `/proc/net/udp` and `/proc/net/udp6`, any bound socket.
    Udp,
    /// `/proc/net/udp6` only.
    Udp6,
}

/// `process = ...`
#[derive(Debug, Clone)]
pub struct ProcessCheck {
    /// The process name.
    pub name: String,
    /// Whether it must run (or must not).
    pub running: bool,
}

/// `file = ...`
#[derive(Debug, Clone)]
pub struct FileCheck {
    /// The path.
    pub path: PathBuf,
    /// Whether it must exist (or must not).
    pub exists: bool,
    /// Regexes the content must match.
    pub contains: Vec<Regex>,
    /// Expected permission bits.
    pub mode: Option<u32>,
}

/// The result of running a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether it passed.
    pub passed: bool,
    /// One line: what was expected and what was seen.
    pub reason: String,
    /// How long it took.
    pub elapsed: Duration,
}

/// Parses "250ms", "5s", "2m", "1h", or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let n: u64 = num.parse().ok()?;
    let secs = |mul: u64| n.checked_mul(mul).map(Duration::from_secs);
    match unit.trim() {
        "" | "s" => Some(Duration::from_secs(n)),
        "ms" => Some(Duration::from_millis(n)),
        "m" => secs(60),
        "h" => secs(3600),
        _ => None,
    }
}

/// Loads one suite file.
pub fn load_suite(path: &Path) -> Result<Suite, CheckError> {
    let text = std::fs::read_to_string(path).map_err(|source| CheckError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(Suite {
        path: path.to_path_buf(),
        name,
        checks: parse_checks(&text, path)?,
    })
}

/// Loads every `*.toml` suite in `dir`, sorted by file name. A missing directory has no suites.
pub fn load_dir(dir: &Path) -> Result<Vec<Suite>, CheckError> {
    let read_err = |source| CheckError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_err(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(read_err)?.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => files.push(path),
            Some("yaml" | "yml") => return Err(CheckError::Yaml { path }),
            _ => {}
        }
    }
    files.sort();
    files.iter().map(|p| load_suite(p)).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    check: Vec<toml::Spanned<RawCheck>>,
}

#[derive(Deserialize)]
#[serde(untagged, expecting = "a string or an array of strings")]
enum StrOrVec {
    Str(String),
    Vec(Vec<String>),
}

impl StrOrVec {
    fn into_vec(self) -> Vec<String> {
        match self {
            StrOrVec::Str(s) => vec![s],
            StrOrVec::Vec(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a duration such as \"5s\" or a number of seconds"
)]
enum DurVal {
    Str(String),
    Int(u64),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCheck {
    name: Option<String>,
    probes: Option<Vec<String>>,
    timeout: Option<DurVal>,
    command: Option<StrOrVec>,
    exit_status: Option<i32>,
    stdout: Option<StrOrVec>,
    stderr: Option<StrOrVec>,
    stdout_not: Option<StrOrVec>,
    stderr_not: Option<StrOrVec>,
    env: Option<BTreeMap<String, String>>,
    http: Option<String>,
    status: Option<u16>,
    body: Option<StrOrVec>,
    headers: Option<BTreeMap<String, String>>,
    addr: Option<String>,
    reachable: Option<bool>,
    port: Option<u16>,
    listening: Option<bool>,
    protocol: Option<String>,
    process: Option<String>,
    running: Option<bool>,
    file: Option<String>,
    exists: Option<bool>,
    contains: Option<StrOrVec>,
    mode: Option<String>,
}

/// 1-based (line, column) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// A toml error as a [`CheckError::Toml`] naming the file and position.
pub(crate) fn toml_error(e: &toml::de::Error, text: &str, path: &Path) -> CheckError {
    let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
    CheckError::Toml {
        path: path.to_path_buf(),
        line,
        column,
        message: e.message().trim().to_string(),
    }
}

/// Parses the `[[check]]` tables of a suite file.
pub fn parse_checks(text: &str, path: &Path) -> Result<Vec<Check>, CheckError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| toml_error(&e, text, path))?;
    raw.check
        .into_iter()
        .enumerate()
        .map(|(i, spanned)| {
            let (line, _) = line_col(text, spanned.span().start);
            let at = Where {
                path,
                line,
                label: format!("#{}", i + 1),
            };
            build(spanned.into_inner(), &at)
        })
        .collect()
}

/// Parses one check from a TOML table (a service's `ready` table); `label` names it in errors
/// and `line` is the table's line in `path` (0 when unknown).
pub fn check_from_table(
    table: toml::Table,
    path: &Path,
    line: usize,
    label: &str,
) -> Result<Check, CheckError> {
    let at = Where {
        path,
        line,
        label: label.to_string(),
    };
    let raw: RawCheck = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| at.err(e.message().trim().to_string()))?;
    build(raw, &at)
}

struct Where<'a> {
    path: &'a Path,
    line: usize,
    label: String,
}

impl Where<'_> {
    fn err(&self, message: impl fmt::Display) -> CheckError {
        CheckError::Invalid {
            path: self.path.to_path_buf(),
            line: self.line,
            check: self.label.clone(),
            message: message.to_string(),
        }
    }
}

fn regexes(v: Option<StrOrVec>, key: &str, at: &Where) -> Result<Vec<Regex>, CheckError> {
    v.map(StrOrVec::into_vec)
        .unwrap_or_default()
        .iter()
        .map(|p| {
            regex_lite::RegexBuilder::new(p)
                .multi_line(true)
                .build()
                .map_err(|e| at.err(format!("`{key}` pattern `{p}` is not a valid regex: {e}")))
        })
        .collect()
}

fn build(raw: RawCheck, at: &Where) -> Result<Check, CheckError> {
    let at = &Where {
        path: at.path,
        line: at.line,
        label: match &raw.name {
            Some(n) => format!("{} ({n:?})", at.label),
            None => at.label.clone(),
        },
    };
    let kinds: Vec<&str> = [
        ("command", raw.command.is_some()),
        ("http", raw.http.is_some()),
        ("addr", raw.addr.is_some()),
        ("port", raw.port.is_some()),
        ("process", raw.process.is_some()),
        ("file", raw.file.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, present)| present.then_some(k))
    .collect();
    let kind = match kinds.as_slice() {
        [k] => *k,
        [] => {
            return Err(at.err(
                "a check needs one of the keys command, http, addr, port, process, file; add one",
            ));
        }
        many => {
            return Err(at.err(format!(
                "a check has exactly one of command, http, addr, port, process, file, but this one has {}; \
                 split it into several [[check]] tables",
                many.join(", ")
            )));
        }
    };
    let owned = [
        ("exit-status", raw.exit_status.is_some(), "command"),
        ("stdout", raw.stdout.is_some(), "command"),
        ("stderr", raw.stderr.is_some(), "command"),
        ("stdout-not", raw.stdout_not.is_some(), "command"),
        ("stderr-not", raw.stderr_not.is_some(), "command"),
        ("env", raw.env.is_some(), "command"),
        ("status", raw.status.is_some(), "http"),
        ("body", raw.body.is_some(), "http"),
        ("headers", raw.headers.is_some(), "http"),
        ("reachable", raw.reachable.is_some(), "addr"),
        ("listening", raw.listening.is_some(), "port"),
        ("protocol", raw.protocol.is_some(), "port"),
        ("running", raw.running.is_some(), "process"),
        ("exists", raw.exists.is_some(), "file"),
        ("contains", raw.contains.is_some(), "file"),
        ("mode", raw.mode.is_some(), "file"),
    ];
    for (key, present, owner) in owned {
        if present && owner != kind {
            return Err(at.err(format!(
                "`{key}` belongs to {owner} checks, not to a {kind} check; remove it"
            )));
        }
    }
    let probes = match raw.probes {
        None => vec![Probe::Health, Probe::Ready],
        Some(list) => {
            let mut out = Vec::new();
            for p in list {
                let probe = match p.as_str() {
                    "health" => Probe::Health,
                    "ready" => Probe::Ready,
                    other => {
                        return Err(at.err(format!(
                            "probe {other:?} is unknown: use \"health\" and/or \"ready\" (or [] for test only)"
                        )));
                    }
                };
                if !out.contains(&probe) {
                    out.push(probe);
                }
            }
            out
        }
    };
    let timeout = match raw.timeout {
        None => DEFAULT_TIMEOUT,
        Some(DurVal::Int(n)) => Duration::from_secs(n),
        Some(DurVal::Str(s)) => parse_duration(&s).ok_or_else(|| {
            at.err(format!(
                "timeout {s:?} is not a duration: write e.g. \"250ms\", \"5s\", \"2m\" or \"1h\""
            ))
        })?,
    };
    if timeout.is_zero() {
        return Err(at.err("timeout must be more than zero"));
    }
    let (kind, default_name) = if let Some(cmd) = raw.command {
        let argv = match cmd {
            StrOrVec::Str(s) => vec!["/bin/sh".to_string(), "-c".to_string(), s],
            StrOrVec::Vec(v) => v,
        };
        if argv.first().is_none_or(|a| a.trim().is_empty()) {
            return Err(at.err("`command` is empty: give a program and its arguments"));
        }
        let shown = match argv.as_slice() {
            [sh, c, s] if sh == "/bin/sh" && c == "-c" => s.clone(),
            _ => argv.join(" "),
        };
        (
            CheckKind::Command(CommandCheck {
                exit_status: raw.exit_status.unwrap_or(0),
                stdout: regexes(raw.stdout, "stdout", at)?,
                stderr: regexes(raw.stderr, "stderr", at)?,
                stdout_not: regexes(raw.stdout_not, "stdout-not", at)?,
                stderr_not: regexes(raw.stderr_not, "stderr-not", at)?,
                env: raw.env.unwrap_or_default().into_iter().collect(),
                argv,
            }),
            format!("command `{shown}`"),
        )
    } else if let Some(url) = raw.http {
        let (host, port, path) = parse_http_url(&url).map_err(|m| at.err(m))?;
        (
            CheckKind::Http(HttpCheck {
                host,
                port,
                path,
                status: raw.status.unwrap_or(200),
                body: regexes(raw.body, "body", at)?,
                headers: raw.headers.unwrap_or_default().into_iter().collect(),
                url: url.clone(),
            }),
            format!("http GET {url}"),
        )
    } else if let Some(addr) = raw.addr {
        let hostport = if let Some(rest) = addr.strip_prefix("tcp://") {
            rest.to_string()
        } else if addr.contains("://") {
            return Err(at.err(format!(
                "addr {addr:?}: only tcp:// addresses can be checked (write tcp://HOST:PORT or HOST:PORT)"
            )));
        } else {
            addr.clone()
        };
        if hostport
            .rsplit_once(':')
            .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
        {
            return Err(at.err(format!(
                "addr {addr:?} is not HOST:PORT (e.g. tcp://127.0.0.1:5432)"
            )));
        }
        let reachable = raw.reachable.unwrap_or(true);
        (
            CheckKind::Addr(AddrCheck {
                addr: hostport,
                reachable,
            }),
            format!("addr {addr}{}", if reachable { "" } else { " unreachable" }),
        )
    } else if let Some(port) = raw.port {
        let protocol = match raw.protocol.as_deref() {
            None | Some("tcp") => Protocol::Tcp,
            Some("tcp6") => Protocol::Tcp6,
            Some("udp") => Protocol::Udp,
            Some("udp6") => Protocol::Udp6,
            Some(other) => {
                return Err(at.err(format!(
                    "protocol {other:?} is unknown: use \"tcp\", \"tcp6\", \"udp\" or \"udp6\""
                )));
            }
        };
        let listening = raw.listening.unwrap_or(true);
        (
            CheckKind::Port(PortCheck {
                port,
                listening,
                protocol,
            }),
            format!(
                "port {port}/{} {}",
                protocol.name(),
                if listening {
                    "listening"
                } else {
                    "not listening"
                }
            ),
        )
    } else if let Some(name) = raw.process {
        if name.is_empty() {
            return Err(at.err("`process` is empty: give a process name"));
        }
        let running = raw.running.unwrap_or(true);
        (
            CheckKind::Process(ProcessCheck {
                running,
                name: name.clone(),
            }),
            format!(
                "process {name} {}",
                if running { "running" } else { "not running" }
            ),
        )
    } else if let Some(file) = raw.file {
        if file.is_empty() {
            return Err(at.err("`file` is empty: give a path"));
        }
        let exists = raw.exists.unwrap_or(true);
        let contains = regexes(raw.contains, "contains", at)?;
        let mode = match raw.mode {
            None => None,
            Some(m) => Some(
                u32::from_str_radix(&m, 8)
                    .ok()
                    .filter(|v| *v <= 0o7777)
                    .ok_or_else(|| {
                        at.err(format!("mode {m:?} is not an octal mode like \"0644\""))
                    })?,
            ),
        };
        if !exists && (!contains.is_empty() || mode.is_some()) {
            return Err(at.err("`contains` and `mode` need exists = true"));
        }
        (
            CheckKind::File(FileCheck {
                path: PathBuf::from(&file),
                exists,
                contains,
                mode,
            }),
            format!("file {file} {}", if exists { "exists" } else { "absent" }),
        )
    } else {
        return Err(
            at.err("a check needs one of the keys command, http, addr, port, process, file")
        );
    };
    Ok(Check {
        name: raw.name.unwrap_or(default_name),
        probes,
        timeout,
        kind,
    })
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Tcp6 => "tcp6",
            Protocol::Udp => "udp",
            Protocol::Udp6 => "udp6",
        }
    }
    fn tables(self) -> &'static [&'static str] {
        match self {
            Protocol::Tcp => &["/proc/net/tcp", "/proc/net/tcp6"],
            Protocol::Tcp6 => &["/proc/net/tcp6"],
            Protocol::Udp => &["/proc/net/udp", "/proc/net/udp6"],
            Protocol::Udp6 => &["/proc/net/udp6"],
        }
    }
}

/// Splits `http://host[:port][/path]` into (host, port, path).
fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(if url.starts_with("https://") {
            format!(
                "http {url:?}: https is not supported by plinth-init checks; use a command check with curl"
            )
        } else {
            format!("http {url:?} is not an http:// URL")
        });
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_string()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_string()),
    };
    let bad = || format!("http {url:?} has no valid host[:port]");
    if authority.contains('@') {
        return Err(format!(
            "http {url:?}: credentials in URLs are not supported; use headers"
        ));
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => 80,
            None => return Err(bad()),
        };
        (h.to_string(), port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
            None => (authority.to_string(), 80),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port, path))
}

/// Makes text fit on one short line.
fn one_line(s: &str) -> String {
    let flat: String = s
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > 120 {
        format!("{}...", flat.chars().take(120).collect::<String>())
    } else {
        flat
    }
}

/// The first pattern problem: a `want` pattern that does not match, or a `not` pattern that does.
fn match_problem(text: &str, want: &[Regex], not: &[Regex], what: &str) -> Option<String> {
    if let Some(r) = want.iter().find(|r| !r.is_match(text)) {
        return Some(format!(
            "expected {what} to match /{r}/, got {:?}",
            one_line(text)
        ));
    }
    not.iter().find(|r| r.is_match(text)).map(|r| {
        format!(
            "expected {what} not to match /{r}/, got {:?}",
            one_line(text)
        )
    })
}

impl Check {
    /// Runs the check once. Never panics; a command past the timeout is killed.
    pub fn run(&self) -> Outcome {
        let start = Instant::now();
        let deadline = start + self.timeout;
        let result = match &self.kind {
            CheckKind::Command(c) => run_command(c, deadline, self.timeout),
            CheckKind::Http(h) => run_http(h, deadline),
            CheckKind::Addr(a) => run_addr(a, deadline),
            CheckKind::Port(p) => run_port(p),
            CheckKind::Process(p) => run_process(p),
            CheckKind::File(f) => run_file(f),
        };
        let (passed, reason) = match result {
            Ok(reason) => (true, reason),
            Err(reason) => (false, reason),
        };
        Outcome {
            passed,
            reason,
            elapsed: start.elapsed(),
        }
    }
}

type Verdict = Result<String, String>;

fn remaining(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1))
}

fn read_capped(mut r: impl Read, tx: mpsc::Sender<Vec<u8>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match r.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if buf.len() < OUTPUT_CAP {
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        }
    }
    // The receiver may be gone (the check gave up waiting): nothing to do then.
    let _ = tx.send(buf);
}

fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals the process group we created for the child
        // (process_group(0) makes its pgid equal its pid); it touches no memory.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

fn run_command(c: &CommandCheck, deadline: Instant, timeout: Duration) -> Verdict {
    let Some((program, args)) = c.argv.split_first() else {
        return Err("the command is empty".to_string());
    };
    let mut cmd = Command::new(program);
    cmd.args(args)
        .envs(c.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {program:?}: {e}"))?;
    let (out_tx, out_rx) = mpsc::channel();
    let (err_tx, err_rx) = mpsc::channel();
    if let Some(o) = child.stdout.take() {
        std::thread::spawn(move || read_capped(o, out_tx));
    }
    if let Some(e) = child.stderr.take() {
        std::thread::spawn(move || read_capped(e, err_tx));
    }
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                kill_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {timeout:?} (killed)"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("cannot wait for {program:?}: {e}")),
        }
    };
    // Output pipes may be held open by a background grandchild: wait for them only until the deadline.
    let grace = remaining(deadline).max(Duration::from_millis(200));
    let stdout = out_rx.recv_timeout(grace).unwrap_or_default();
    let stderr = err_rx.recv_timeout(grace).unwrap_or_default();
    let stdout = String::from_utf8_lossy(&stdout);
    let stderr = String::from_utf8_lossy(&stderr);
    let code = match status.code() {
        Some(code) => code,
        None => {
            use std::os::unix::process::ExitStatusExt;
            let sig = status.signal().unwrap_or(0);
            return Err(format!(
                "expected exit status {}, got killed by signal {sig}",
                c.exit_status
            ));
        }
    };
    if code != c.exit_status {
        let hint = if stderr.trim().is_empty() {
            &stdout
        } else {
            &stderr
        };
        return Err(format!(
            "expected exit status {}, got {code} (output: {:?})",
            c.exit_status,
            one_line(hint)
        ));
    }
    if let Some(p) = match_problem(&stdout, &c.stdout, &c.stdout_not, "stdout") {
        return Err(p);
    }
    if let Some(p) = match_problem(&stderr, &c.stderr, &c.stderr_not, "stderr") {
        return Err(p);
    }
    Ok(format!("exit status {code} as expected"))
}

fn connect(hostport: &str, port_hint: Option<u16>, deadline: Instant) -> Result<TcpStream, String> {
    let addrs: Vec<_> = match port_hint {
        Some(port) => (hostport, port).to_socket_addrs(),
        None => hostport.to_socket_addrs(),
    }
    .map_err(|e| format!("cannot resolve {hostport}: {e}"))?
    .collect();
    let mut last = format!("{hostport} resolves to no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, remaining(deadline)) {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("cannot connect to {a}: {e}"),
        }
    }
    Err(last)
}

fn run_addr(a: &AddrCheck, deadline: Instant) -> Verdict {
    match (connect(&a.addr, None, deadline), a.reachable) {
        (Ok(_), true) => Ok(format!("{} is reachable", a.addr)),
        (Ok(_), false) => Err(format!(
            "expected {} to be unreachable, but a connection succeeded",
            a.addr
        )),
        (Err(e), true) => Err(format!("expected {} to be reachable: {e}", a.addr)),
        (Err(_), false) => Ok(format!("{} is unreachable as expected", a.addr)),
    }
}

/// Decodes a complete chunked body; None while incomplete or malformed.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        let chunk = data.get(..size)?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..)?;
    }
}

struct Response {
    status: u16,
    body: Vec<u8>,
}

/// Parses a response if it is complete (`eof`: the peer closed).
fn parse_response(buf: &[u8], eof: bool) -> Option<Result<Response, String>> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let body = &buf[head_end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = match status_line.split_whitespace().nth(1).map(str::parse::<u16>) {
        Some(Ok(s)) if status_line.starts_with("HTTP/") => s,
        _ => {
            return Some(Err(format!(
                "not an HTTP response: {:?}",
                one_line(status_line)
            )));
        }
    };
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("content-length") {
                length = v.parse::<usize>().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
    }
    if chunked {
        return match dechunk(body) {
            Some(body) => Some(Ok(Response { status, body })),
            None if eof => Some(Err("the chunked response body ended early".to_string())),
            None => None,
        };
    }
    match length {
        Some(n) if body.len() >= n => Some(Ok(Response {
            status,
            body: body[..n].to_vec(),
        })),
        Some(_) if !eof => None,
        Some(_) => Some(Err("the response body ended early".to_string())),
        None if eof => Some(Ok(Response {
            status,
            body: body.to_vec(),
        })),
        None => None,
    }
}

fn http_get(h: &HttpCheck, deadline: Instant) -> Result<Response, String> {
    let mut stream = connect(&h.host, Some(h.port), deadline)?;
    let host_header = if h.host.contains(':') {
        format!("[{}]:{}", h.host, h.port)
    } else {
        format!("{}:{}", h.host, h.port)
    };
    let mut req = format!("GET {} HTTP/1.1\r\n", h.path);
    if !h
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("host"))
    {
        req.push_str(&format!("Host: {host_header}\r\n"));
    }
    for (k, v) in &h.headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("User-Agent: plinth-init\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    let io_err = |e: io::Error| match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            "timed out waiting for the response".to_string()
        }
        _ => format!("error talking to {}: {e}", h.url),
    };
    stream
        .set_write_timeout(Some(remaining(deadline)))
        .map_err(io_err)?;
    stream.write_all(req.as_bytes()).map_err(io_err)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if Instant::now() >= deadline {
            return Err("timed out waiting for the response".to_string());
        }
        stream
            .set_read_timeout(Some(remaining(deadline)))
            .map_err(io_err)?;
        let n = stream.read(&mut chunk).map_err(io_err)?;
        buf.extend_from_slice(&chunk[..n]);
        if let Some(r) = parse_response(&buf, n == 0) {
            return r;
        }
        if n == 0 {
            return Err("the connection closed before a complete response".to_string());
        }
        if buf.len() > OUTPUT_CAP {
            return Err(format!("the response is larger than {OUTPUT_CAP} bytes"));
        }
    }
}

fn run_http(h: &HttpCheck, deadline: Instant) -> Verdict {
    let resp = http_get(h, deadline)?;
    if resp.status != h.status {
        return Err(format!("expected status {}, got {}", h.status, resp.status));
    }
    let body = String::from_utf8_lossy(&resp.body);
    if let Some(p) = match_problem(&body, &h.body, &[], "the body") {
        return Err(p);
    }
    Ok(format!("status {} as expected", resp.status))
}

/// Whether a socket table line shows `port` in the right state.
fn table_has_port(text: &str, port: u16, protocol: Protocol) -> bool {
    text.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
            return false;
        };
        let local_port = local
            .rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
        let state_ok = match protocol {
            Protocol::Tcp | Protocol::Tcp6 => *state == "0A",
            Protocol::Udp | Protocol::Udp6 => true,
        };
        local_port == Some(port) && state_ok
    })
}

fn run_port(p: &PortCheck) -> Verdict {
    let mut found = false;
    let mut read_any = false;
    for table in p.protocol.tables() {
        if let Ok(text) = std::fs::read_to_string(table) {
            read_any = true;
            found |= table_has_port(&text, p.port, p.protocol);
        }
    }
    if !read_any {
        return Err(format!(
            "cannot read {} (is /proc mounted?)",
            p.protocol.tables().join(", ")
        ));
    }
    let what = format!("port {}/{}", p.port, p.protocol.name());
    match (found, p.listening) {
        (true, true) => Ok(format!("{what} is listening")),
        (false, false) => Ok(format!("{what} is not listening, as expected")),
        (false, true) => Err(format!(
            "expected {what} to be listening, but nothing listens on it"
        )),
        (true, false) => Err(format!(
            "expected {what} not to be listening, but something listens on it"
        )),
    }
}

/// Whether a process named `name` runs (by comm, or argv[0]'s basename).
fn process_running(name: &str) -> Result<bool, String> {
    let entries = std::fs::read_dir("/proc").map_err(|e| format!("cannot read /proc: {e}"))?;
    // The kernel truncates comm to 15 bytes.
    let comm_name = name.get(..15).unwrap_or(name);
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        if !file_name
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let dir = entry.path();
        if let Ok(comm) = std::fs::read_to_string(dir.join("comm"))
            && comm.trim_end_matches('\n') == comm_name
        {
            return Ok(true);
        }
        if let Ok(cmdline) = std::fs::read(dir.join("cmdline")) {
            let argv0 = cmdline.split(|b| *b == 0).next().unwrap_or(&[]);
            let base = argv0.rsplit(|b| *b == b'/').next().unwrap_or(&[]);
            if !base.is_empty() && base == name.as_bytes() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn run_process(p: &ProcessCheck) -> Verdict {
    match (process_running(&p.name)?, p.running) {
        (true, true) => Ok(format!("process {} is running", p.name)),
        (false, false) => Ok(format!("process {} is not running, as expected", p.name)),
        (false, true) => Err(format!(
            "expected process {} to be running, found none",
            p.name
        )),
        (true, false) => Err(format!(
            "expected process {} not to be running, but it is",
            p.name
        )),
    }
}

fn run_file(f: &FileCheck) -> Verdict {
    let shown = f.path.display();
    let meta = match std::fs::metadata(&f.path) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("cannot inspect {shown}: {e}")),
    };
    let Some(meta) = meta else {
        return if f.exists {
            Err(format!("expected {shown} to exist, but it does not"))
        } else {
            Ok(format!("{shown} does not exist, as expected"))
        };
    };
    if !f.exists {
        return Err(format!("expected {shown} not to exist, but it does"));
    }
    if let Some(mode) = f.mode {
        let actual = meta.permissions().mode() & 0o7777;
        if actual != mode {
            return Err(format!(
                "expected {shown} to have mode {mode:04o}, got {actual:04o}"
            ));
        }
    }
    if !f.contains.is_empty() {
        let mut content = Vec::new();
        let read = std::fs::File::open(&f.path)
            .and_then(|file| file.take(OUTPUT_CAP as u64).read_to_end(&mut content));
        if let Err(e) = read {
            return Err(format!("cannot read {shown}: {e}"));
        }
        let text = String::from_utf8_lossy(&content);
        if let Some(p) = match_problem(&text, &f.contains, &[], &shown.to_string()) {
            return Err(p);
        }
    }
    Ok(format!("{shown} exists"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, UdpSocket};

    fn one(text: &str) -> Check {
        let mut checks = parse_checks(text, Path::new("t.toml")).expect("parses");
        assert_eq!(checks.len(), 1);
        checks.remove(0)
    }

    fn err(text: &str) -> String {
        parse_checks(text, Path::new("t.toml"))
            .expect_err("must fail")
            .to_string()
    }

    /// Serves `responses` (raw bytes) to successive connections, on a thread.
    fn http_server(responses: Vec<Vec<u8>>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let handle = std::thread::spawn(move || {
            let mut requests = Vec::new();
            for resp in responses {
                let (mut s, _) = listener.accept().expect("accept");
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut chunk).expect("read");
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                requests.push(String::from_utf8_lossy(&buf).into_owned());
                let _ = s.write_all(&resp);
            }
            requests
        });
        (port, handle)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("s"), None);
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("-5s"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn defaults_and_names() {
        let c = one("[[check]]\nhttp = \"http://127.0.0.1:8080/healthz\"\n");
        assert_eq!(c.name, "http GET http://127.0.0.1:8080/healthz");
        assert_eq!(c.probes, vec![Probe::Health, Probe::Ready]);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        let CheckKind::Http(h) = &c.kind else {
            panic!("not http")
        };
        assert_eq!(
            (h.host.as_str(), h.port, h.path.as_str(), h.status),
            ("127.0.0.1", 8080, "/healthz", 200)
        );
        let c = one(
            "[[check]]\nname = \"x\"\nprobes = []\ntimeout = \"250ms\"\nfile = \"/etc/passwd\"\n",
        );
        assert_eq!(c.name, "x");
        assert!(c.probes.is_empty());
        assert_eq!(c.timeout, Duration::from_millis(250));
        let c = one("[[check]]\ncommand = \"true\"\ntimeout = 3\nprobes = [\"ready\"]\n");
        assert_eq!(c.timeout, Duration::from_secs(3));
        assert_eq!(c.probes, vec![Probe::Ready]);
        let CheckKind::Command(cmd) = &c.kind else {
            panic!("not command")
        };
        assert_eq!(cmd.argv, ["/bin/sh", "-c", "true"]);
    }

    #[test]
    fn parse_errors_name_file_line_and_fix() {
        let e = err("[[check]]\nfile = \"/x\"\nbogus = 1\n");
        assert!(e.contains("t.toml:3:") && e.contains("bogus"), "{e}");
        let e = err(
            "[[check]]\nfile = \"/x\"\n\n[[check]]\nname = \"two\"\nhttp = \"http://a/\"\ncommand = \"true\"\n",
        );
        assert!(
            e.contains("t.toml:4")
                && e.contains("#2")
                && e.contains("two")
                && e.contains("command, http"),
            "{e}"
        );
        let e = err("[[check]]\ncommand = 5\n");
        assert!(
            e.contains("t.toml:2:") && e.contains("a string or an array of strings"),
            "{e}"
        );
        let e = err("[[check]]\nname = \"n\"\n");
        assert!(e.contains("needs one of"), "{e}");
        let e = err("[[check]]\nfile = \"/x\"\nstatus = 200\n");
        assert!(e.contains("`status` belongs to http checks"), "{e}");
        let e = err("[[check]]\nhttp = \"https://x/\"\n");
        assert!(e.contains("https is not supported"), "{e}");
        let e = err("[[check]]\naddr = \"udp://x:53\"\n");
        assert!(e.contains("only tcp://"), "{e}");
        let e = err("[[check]]\ncommand = \"true\"\nstdout = [\"(\"]\n");
        assert!(e.contains("not a valid regex"), "{e}");
        let e = err("[[check]]\ncommand = \"true\"\ntimeout = \"soon\"\n");
        assert!(e.contains("not a duration"), "{e}");
        let e = err("[[check]]\ncommand = []\n");
        assert!(e.contains("empty"), "{e}");
        let e = err("[[check]]\nport = 1\nprotocol = \"sctp\"\n");
        assert!(e.contains("sctp"), "{e}");
        let e = err("[[check]]\nport = 70000\n");
        assert!(e.contains("t.toml:2"), "{e}");
        let e = err("[[check]]\nfile = \"/x\"\nmode = \"999\"\n");
        assert!(e.contains("octal"), "{e}");
        let e = err("[[check]]\nfile = \"/x\"\nprobes = [\"live\"]\n");
        assert!(e.contains("\"live\""), "{e}");
        let e = err("[[check]\n");
        assert!(e.contains("t.toml:1:"), "{e}");
    }

    #[test]
    fn command_checks() {
        let c = one(
            "[[check]]\ncommand = \"echo hello; echo oops >&2\"\nstdout = [\"^hel+o\"]\nstderr = \"oops\"\n",
        );
        let o = c.run();
        assert!(o.passed, "{o:?}");
        let c = one(
            "[[check]]\ncommand = [\"/bin/sh\", \"-c\", \"echo $GREETING; exit 3\"]\nexit-status = 3\nenv = { GREETING = \"bonjour\" }\nstdout = [\"bonjour\"]\n",
        );
        assert!(c.run().passed, "{:?}", c.run());
        let o = one(r#"[[check]]
command = "printf 'one\\nhello\\n'"
stdout = ["^hello$"]
"#)
        .run();
        assert!(o.passed, "patterns are multi-line: {o:?}");
        let o = one("[[check]]\ncommand = \"echo hello there\"\nstdout = [\"^hello$\"]\n").run();
        assert!(!o.passed, "{o:?}");
        let o = one("[[check]]\ncommand = \"echo bad >&2; exit 2\"\n").run();
        assert!(!o.passed);
        assert!(
            o.reason.contains("expected exit status 0, got 2") && o.reason.contains("bad"),
            "{}",
            o.reason
        );
        let o = one("[[check]]\ncommand = \"echo fatal error\"\nstdout-not = [\"error\"]\n").run();
        assert!(
            !o.passed && o.reason.contains("not to match /error/"),
            "{}",
            o.reason
        );
        let o = one("[[check]]\ncommand = \"echo nope\"\nstdout = [\"yes\"]\n").run();
        assert!(
            !o.passed && o.reason.contains("/yes/") && o.reason.contains("nope"),
            "{}",
            o.reason
        );
        let o = one("[[check]]\ncommand = [\"/definitely/not/here\"]\n").run();
        assert!(!o.passed && o.reason.contains("cannot run"), "{}", o.reason);
    }

    #[test]
    fn command_timeout_kills_the_process_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("survived");
        let script = format!("(sleep 1; touch {}) & sleep 30", marker.display());
        let c = Check {
            name: "slow".into(),
            probes: vec![],
            timeout: Duration::from_millis(300),
            kind: CheckKind::Command(CommandCheck {
                argv: vec!["/bin/sh".into(), "-c".into(), script],
                exit_status: 0,
                stdout: vec![],
                stderr: vec![],
                stdout_not: vec![],
                stderr_not: vec![],
                env: vec![],
            }),
        };
        let o = c.run();
        assert!(!o.passed && o.reason.contains("timed out"), "{o:?}");
        assert!(o.elapsed < Duration::from_secs(3), "{o:?}");
        std::thread::sleep(Duration::from_millis(1500));
        assert!(!marker.exists(), "the background child was not killed");
    }

    #[test]
    fn http_checks() {
        let (port, server) = http_server(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nready".to_vec(),
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown".to_vec(),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nall\r\n4\r\n fin\r\n0\r\n\r\n".to_vec(),
            b"HTTP/1.0 200 OK\r\n\r\nuntil close".to_vec(),
        ]);
        let url = format!("http://127.0.0.1:{port}/healthz?x=1");
        let c = one(&format!(
            "[[check]]\nhttp = \"{url}\"\nbody = [\"^ready$\"]\nheaders = {{ X-Probe = \"yes\" }}\n"
        ));
        let o = c.run();
        assert!(o.passed, "{o:?}");
        let o = c.run();
        assert!(
            !o.passed && o.reason == "expected status 200, got 503",
            "{o:?}"
        );
        let o = one(&format!(
            "[[check]]\nhttp = \"{url}\"\nbody = \"all fin\"\n"
        ))
        .run();
        assert!(o.passed, "chunked: {o:?}");
        let o = one(&format!("[[check]]\nhttp = \"{url}\"\nbody = \"close\"\n")).run();
        assert!(o.passed, "read to close: {o:?}");
        let requests = server.join().expect("server");
        assert!(
            requests[0].starts_with("GET /healthz?x=1 HTTP/1.1\r\n"),
            "{}",
            requests[0]
        );
        assert!(requests[0].contains("X-Probe: yes\r\n"), "{}", requests[0]);
        assert!(
            requests[0].contains(&format!("Host: 127.0.0.1:{port}\r\n")),
            "{}",
            requests[0]
        );
    }

    #[test]
    fn http_timeout_on_silent_server() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let c = one(&format!(
            "[[check]]\nhttp = \"http://127.0.0.1:{port}/\"\ntimeout = \"300ms\"\n"
        ));
        let o = c.run();
        assert!(!o.passed && o.reason.contains("timed out"), "{o:?}");
        assert!(o.elapsed < Duration::from_secs(2), "{o:?}");
        drop(listener);
    }

    #[test]
    fn addr_and_port_checks() {
        // P listens; Q is the client end of a connection to P: in use (so no other socket can
        // take it while the test runs) but not listening.
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let p = listener.local_addr().expect("addr").port();
        let client = TcpStream::connect(("127.0.0.1", p)).expect("connect");
        let q = client.local_addr().expect("addr").port();
        let run = |text: String| one(&text).run();
        let o = run(format!("[[check]]\naddr = \"tcp://127.0.0.1:{p}\"\n"));
        assert!(o.passed, "{o:?}");
        let o = run(format!("[[check]]\nport = {p}\n"));
        assert!(o.passed, "{o:?}");
        let o = run(format!("[[check]]\nport = {p}\nlistening = false\n"));
        assert!(!o.passed && o.reason.contains("something listens"), "{o:?}");
        let o = run(format!("[[check]]\nport = {q}\n"));
        assert!(!o.passed && o.reason.contains("nothing listens"), "{o:?}");
        let o = run(format!("[[check]]\nport = {q}\nlistening = false\n"));
        assert!(o.passed, "{o:?}");
        let o = run(format!("[[check]]\naddr = \"tcp://127.0.0.1:{q}\"\n"));
        assert!(!o.passed && o.reason.contains("to be reachable"), "{o:?}");
        let o = run(format!(
            "[[check]]\naddr = \"127.0.0.1:{q}\"\nreachable = false\n"
        ));
        assert!(o.passed, "{o:?}");
        drop(client);

        let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
        let u = udp.local_addr().expect("addr").port();
        let o = run(format!("[[check]]\nport = {u}\nprotocol = \"udp\"\n"));
        assert!(o.passed, "{o:?}");
        drop(udp);
        drop(listener);
    }

    #[test]
    fn socket_tables() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue\n\
                   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000\n\
                   1: 0100007F:0050 0100007F:9C40 01 00000000:00000000\n";
        assert!(table_has_port(tcp, 8080, Protocol::Tcp));
        assert!(
            !table_has_port(tcp, 80, Protocol::Tcp),
            "ESTABLISHED is not listening"
        );
        assert!(!table_has_port(tcp, 8081, Protocol::Tcp));
        let udp = "  sl  local_address rem_address   st\n\
                   7: 00000000:0035 00000000:0000 07 00000000:00000000\n";
        assert!(table_has_port(udp, 53, Protocol::Udp));
        assert!(!table_has_port(udp, 54, Protocol::Udp));
    }

    #[test]
    fn process_checks() {
        let mut child = Command::new("/bin/sh")
            .args(["-c", "exec sleep 30"])
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(100));
        let o = one("[[check]]\nprocess = \"sleep\"\n").run();
        let _ = child.kill();
        let _ = child.wait();
        assert!(o.passed, "{o:?}");
        let o = one("[[check]]\nprocess = \"no-such-process-xyz\"\n").run();
        assert!(!o.passed && o.reason.contains("found none"), "{o:?}");
        assert!(
            one("[[check]]\nprocess = \"no-such-process-xyz\"\nrunning = false\n")
                .run()
                .passed
        );
    }

    #[test]
    fn file_checks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("READY");
        std::fs::write(&f, "state: ready\n").expect("write");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let p = f.display();
        assert!(
            one(&format!(
                "[[check]]\nfile = \"{p}\"\ncontains = [\"^state: ready$\"]\nmode = \"0640\"\n"
            ))
            .run()
            .passed
        );
        let o = one(&format!("[[check]]\nfile = \"{p}\"\nmode = \"0644\"\n")).run();
        assert!(
            !o.passed && o.reason.contains("0644") && o.reason.contains("0640"),
            "{o:?}"
        );
        let o = one(&format!("[[check]]\nfile = \"{p}\"\ncontains = \"busy\"\n")).run();
        assert!(!o.passed && o.reason.contains("/busy/"), "{o:?}");
        let o = one(&format!("[[check]]\nfile = \"{p}\"\nexists = false\n")).run();
        assert!(!o.passed, "{o:?}");
        let gone = dir.path().join("gone");
        let o = one(&format!("[[check]]\nfile = \"{}\"\n", gone.display())).run();
        assert!(!o.passed && o.reason.contains("does not"), "{o:?}");
        assert!(
            one(&format!(
                "[[check]]\nfile = \"{}\"\nexists = false\n",
                gone.display()
            ))
            .run()
            .passed
        );
    }

    #[test]
    fn load_dir_sorts_and_refuses_yaml() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(
            load_dir(&dir.path().join("missing"))
                .expect("missing is empty")
                .is_empty()
        );
        std::fs::write(dir.path().join("b.toml"), "[[check]]\nfile = \"/\"\n").expect("write");
        std::fs::write(
            dir.path().join("a.toml"),
            "[[check]]\nfile = \"/\"\n[[check]]\nfile = \"/tmp\"\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("README"), "not checks").expect("write");
        let suites = load_dir(dir.path()).expect("load");
        let names: Vec<_> = suites
            .iter()
            .map(|s| (s.name.as_str(), s.checks.len()))
            .collect();
        assert_eq!(names, [("a", 2), ("b", 1)]);
        std::fs::write(dir.path().join("c.yaml"), "checks: []").expect("write");
        let e = load_dir(dir.path()).expect_err("yaml").to_string();
        assert!(e.contains("c.yaml") && e.contains("TOML"), "{e}");
    }

    #[test]
    fn check_from_table_reads_ready_tables() {
        let table: toml::Table =
            toml::from_str("addr = \"127.0.0.1:1\"\nreachable = false\n").expect("toml");
        let c = check_from_table(table, Path::new("s.toml"), 7, "service db ready").expect("check");
        assert!(matches!(
            c.kind,
            CheckKind::Addr(AddrCheck {
                reachable: false,
                ..
            })
        ));
        let table: toml::Table =
            toml::from_str("addr = \"127.0.0.1:1\"\nnope = 1\n").expect("toml");
        let e = check_from_table(table, Path::new("s.toml"), 7, "service db ready")
            .expect_err("bad")
            .to_string();
        assert!(
            e.contains("s.toml:7") && e.contains("nope") && e.contains("service db ready"),
            "{e}"
        );
    }
}
