//! The optional `/container/services.toml`: several processes that together serve one purpose
//! (a log daemon beside the application, a sidecar proxy...). This module parses the file and
//! puts the services in start order; the supervisor starts, watches and restarts them, and
//! stops them in reverse order.
//!
//! # Format
//!
//! ```toml
//! [service.syslog]
//! command = ["busybox", "syslogd", "-n"]   # an argv (searched on PATH), or a string run with /bin/sh -c
//! restart = "always"                       # always | on-failure (default) | never
//!
//! [service.db]
//! command = "exec postgres -D /application/data"
//! after = ["syslog"]                       # started (and ready) before this one; default []
//! workdir = "/application"                 # absolute; default: plinth-init's own
//! env = { PGPORT = "5432" }                # added to the environment
//!
//! [service.db.ready]                       # optional: the same keys as a [[check]] in /container/tests
//! addr = "tcp://127.0.0.1:5432"
//! timeout = "30s"                          # here: the total time to become ready (default 30s)
//! ```
//!
//! Services start dependencies first; services that do not depend on each other start in name
//! order. A service with a `ready` table is polled (each attempt may take up to 5 s, or the
//! total if shorter) until its check passes; the next service starts only then. An `after`
//! naming an unknown service, a cycle of `after`s, an empty command or an unknown key is an
//! error naming the file. A restarted service waits 1 s, 2 s, 4 s ... up to 30 s between
//! restarts; the delay starts again at 1 s once it ran for 10 s (see [`Backoff`]).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::checks::{self, Check, CheckError};

/// Default total time a service has to become ready.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// What can go wrong loading `services.toml`.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The file exists but cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Malformed TOML, an unknown key or a value of the wrong type.
    #[error("{}:{line}:{column}: {message}; fix the services file", path.display())]
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
    /// A service definition that makes no sense.
    #[error("{}:{line}: service {service}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the service (0 when unknown).
        line: usize,
        /// The service.
        service: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The `after` lists form a cycle.
    #[error(
        "{}: the services' `after` lists form a cycle ({cycle}), so none of them can start first; \
         remove one of these dependencies",
        path.display()
    )]
    Cycle {
        /// The file.
        path: PathBuf,
        /// The cycle, e.g. `a -> b -> a` (a starts after b, b after a).
        cycle: String,
    },
    /// A `ready` table that is not a valid check.
    #[error(transparent)]
    Ready(#[from] CheckError),
}

/// The parsed file.
#[derive(Debug, Clone)]
pub struct ServiceFile {
    /// The file it came from.
    pub path: PathBuf,
    /// The services in START order (dependencies first, ties by name).
    pub services: Vec<Service>,
}

/// One service.
#[derive(Debug, Clone)]
pub struct Service {
    /// The name (`[service.NAME]`).
    pub name: String,
    /// The argv (a string command becomes `/bin/sh -c STRING`).
    pub argv: Vec<String>,
    /// The services that start (and become ready) before this one.
    pub after: Vec<String>,
    /// When to restart it after it ends.
    pub restart: Restart,
    /// The working directory.
    pub workdir: Option<PathBuf>,
    /// Extra environment, sorted by name.
    pub env: Vec<(String, String)>,
    /// The readiness check, polled after start.
    pub ready: Option<Check>,
    /// The total time it has to become ready.
    pub ready_timeout: Duration,
}

/// When a service is restarted after it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    /// Whatever the exit status.
    Always,
    /// Only after a non-zero exit or a signal (the default).
    OnFailure,
    /// Never: the service is allowed to end.
    Never,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    service: BTreeMap<String, toml::Spanned<RawService>>,
}

#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a command: a string (run with /bin/sh -c) or an array of strings"
)]
enum RawCommand {
    Str(String),
    Vec(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    command: RawCommand,
    #[serde(default)]
    after: Vec<String>,
    restart: Option<Restart>,
    workdir: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    ready: Option<toml::Spanned<toml::Table>>,
}

/// Loads `path`; `Ok(None)` when it does not exist.
pub fn load(path: &Path) -> Result<Option<ServiceFile>, ServiceError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ServiceError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Parses the text of a services file (`path` is used in messages).
pub fn parse(text: &str, path: &Path) -> Result<ServiceFile, ServiceError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| checks::line_col(text, s.start));
        ServiceError::Toml {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    let names: BTreeSet<String> = raw.service.keys().cloned().collect();
    let mut services = BTreeMap::new();
    for (name, spanned) in raw.service {
        let (line, _) = checks::line_col(text, spanned.span().start);
        let invalid = |message: String| ServiceError::Invalid {
            path: path.to_path_buf(),
            line,
            service: name.clone(),
            message,
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(invalid(format!(
                "the name {name:?} is not usable: use letters, digits, '.', '_' and '-'"
            )));
        }
        let raw = spanned.into_inner();
        let argv = match raw.command {
            RawCommand::Str(s) => vec!["/bin/sh".to_string(), "-c".to_string(), s],
            RawCommand::Vec(v) => v,
        };
        let empty_command = match argv.as_slice() {
            [] => true,
            [sh, c, s] if sh == "/bin/sh" && c == "-c" => s.trim().is_empty(),
            [program, ..] => program.trim().is_empty(),
        };
        if empty_command {
            return Err(invalid(
                "`command` is empty: give a program and its arguments".to_string(),
            ));
        }
        let mut after = Vec::new();
        for dep in raw.after {
            if !names.contains(&dep) {
                let known: Vec<&str> = names.iter().map(String::as_str).collect();
                return Err(invalid(format!(
                    "`after` names {dep:?}, which is not a service in this file (services: {})",
                    known.join(", ")
                )));
            }
            if !after.contains(&dep) {
                after.push(dep);
            }
        }
        let workdir = match raw.workdir {
            None => None,
            Some(w) if w.starts_with('/') => Some(PathBuf::from(w)),
            Some(w) => {
                return Err(invalid(format!(
                    "workdir {w:?} must be an absolute path, e.g. \"/application\""
                )));
            }
        };
        let (ready, ready_timeout) = match raw.ready {
            None => (None, DEFAULT_READY_TIMEOUT),
            Some(spanned) => {
                let (ready_line, _) = checks::line_col(text, spanned.span().start);
                let mut table = spanned.into_inner();
                let total = match table.remove("timeout") {
                    None => DEFAULT_READY_TIMEOUT,
                    Some(toml::Value::String(s)) => checks::parse_duration(&s)
                        .filter(|d| !d.is_zero())
                        .ok_or_else(|| {
                            invalid(format!(
                                "ready timeout {s:?} is not a duration: write e.g. \"30s\" or \"2m\""
                            ))
                        })?,
                    Some(toml::Value::Integer(n)) if n > 0 => {
                        Duration::from_secs(n.unsigned_abs())
                    }
                    Some(other) => {
                        return Err(invalid(format!(
                            "ready timeout must be a duration like \"30s\" or \"2m\", not a {}",
                            other.type_str()
                        )));
                    }
                };
                let mut check = checks::check_from_table(
                    table,
                    path,
                    ready_line,
                    &format!("service {name} ready"),
                )?;
                check.timeout = total.min(checks::DEFAULT_TIMEOUT);
                (Some(check), total)
            }
        };
        services.insert(
            name.clone(),
            Service {
                name,
                argv,
                after,
                restart: raw.restart.unwrap_or(Restart::OnFailure),
                workdir,
                env: raw.env.into_iter().collect(),
                ready,
                ready_timeout,
            },
        );
    }
    let services = start_order(services).map_err(|cycle| ServiceError::Cycle {
        path: path.to_path_buf(),
        cycle,
    })?;
    Ok(ServiceFile {
        path: path.to_path_buf(),
        services,
    })
}

/// Orders services dependencies first, ties by name; Err(the cycle, "a -> b -> a") if none can.
fn start_order(mut pending: BTreeMap<String, Service>) -> Result<Vec<Service>, String> {
    let mut order = Vec::new();
    let mut started: BTreeSet<String> = BTreeSet::new();
    loop {
        let next = pending
            .values()
            .find(|s| s.after.iter().all(|d| started.contains(d)))
            .map(|s| s.name.clone());
        let Some(name) = next else { break };
        if let Some(s) = pending.remove(&name) {
            started.insert(name);
            order.push(s);
        }
    }
    let Some(first) = pending.keys().next().cloned() else {
        return Ok(order);
    };
    // Every pending service waits for another pending one: walk those edges until one repeats.
    let mut path = vec![first];
    loop {
        let current = path.last().and_then(|n| pending.get(n));
        let Some(dep) = current.and_then(|s| s.after.iter().find(|d| pending.contains_key(*d)))
        else {
            return Err(path.join(" -> "));
        };
        if let Some(pos) = path.iter().position(|n| n == dep) {
            let mut cycle = path.split_off(pos);
            cycle.push(dep.clone());
            return Err(cycle.join(" -> "));
        }
        path.push(dep.clone());
    }
}

/// The delay before restarting a service: 1 s, 2 s, 4 s ... at most 30 s; back to 1 s after a
/// run of 10 s or more.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

impl Backoff {
    const FIRST: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(30);
    const HEALTHY_RUN: Duration = Duration::from_secs(10);

    /// A fresh backoff (next delay 1 s).
    pub fn new() -> Self {
        Backoff { next: Self::FIRST }
    }

    /// The delay before the next start, given how long the last run lasted.
    pub fn next_delay(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= Self::HEALTHY_RUN {
            self.next = Self::FIRST;
        }
        let delay = self.next;
        self.next = (delay * 2).min(Self::MAX);
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckKind;
    use std::net::TcpListener;

    fn parse_ok(text: &str) -> ServiceFile {
        parse(text, Path::new("services.toml")).expect("parses")
    }

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("services.toml"))
            .expect_err("must fail")
            .to_string()
    }

    fn names(f: &ServiceFile) -> Vec<&str> {
        f.services.iter().map(|s| s.name.as_str()).collect()
    }

    #[test]
    fn full_service_and_defaults() {
        let f = parse_ok(
            "[service.web]\ncommand = \"exec httpd -f\"\n\n\
             [service.db]\ncommand = [\"postgres\", \"-D\", \"/data\"]\nrestart = \"always\"\n\
             workdir = \"/application\"\nenv = { PGPORT = \"5432\", A = \"1\" }\n\
             [service.db.ready]\naddr = \"tcp://127.0.0.1:5432\"\ntimeout = \"2m\"\n",
        );
        let db = &f.services[0];
        assert_eq!(db.name, "db");
        assert_eq!(db.argv, ["postgres", "-D", "/data"]);
        assert_eq!(db.restart, Restart::Always);
        assert_eq!(db.workdir.as_deref(), Some(Path::new("/application")));
        assert_eq!(
            db.env,
            [
                ("A".to_string(), "1".to_string()),
                ("PGPORT".to_string(), "5432".to_string())
            ]
        );
        assert_eq!(db.ready_timeout, Duration::from_secs(120));
        let ready = db.ready.as_ref().expect("ready");
        assert!(matches!(ready.kind, CheckKind::Addr(_)));
        assert_eq!(ready.timeout, checks::DEFAULT_TIMEOUT);
        let web = &f.services[1];
        assert_eq!(web.argv, ["/bin/sh", "-c", "exec httpd -f"]);
        assert_eq!(web.restart, Restart::OnFailure);
        assert!(web.ready.is_none() && web.workdir.is_none() && web.after.is_empty());
        assert_eq!(web.ready_timeout, DEFAULT_READY_TIMEOUT);
    }

    #[test]
    fn start_order_dependencies_first_ties_by_name() {
        let f = parse_ok(
            "[service.app]\ncommand = \"a\"\nafter = [\"db\", \"cache\"]\n\
             [service.db]\ncommand = \"d\"\nafter = [\"syslog\"]\n\
             [service.cache]\ncommand = \"c\"\n\
             [service.syslog]\ncommand = \"s\"\n\
             [service.zz]\ncommand = \"z\"\n",
        );
        assert_eq!(names(&f), ["cache", "syslog", "db", "app", "zz"]);
    }

    #[test]
    fn cycles_are_named() {
        let e = parse_err(
            "[service.a]\ncommand = \"a\"\nafter = [\"b\"]\n\
             [service.b]\ncommand = \"b\"\nafter = [\"c\"]\n\
             [service.c]\ncommand = \"c\"\nafter = [\"a\"]\n\
             [service.d]\ncommand = \"d\"\nafter = [\"a\"]\n",
        );
        assert!(e.contains("(a -> b -> c -> a)"), "{e}");
        let e = parse_err("[service.self]\ncommand = \"x\"\nafter = [\"self\"]\n");
        assert!(e.contains("(self -> self)"), "{e}");
    }

    #[test]
    fn errors_name_the_file_and_what_to_do() {
        let e = parse_err("[service.web]\ncommand = \"x\"\nafter = [\"db\"]\n");
        assert!(
            e.contains("services.toml") && e.contains("service web") && e.contains("\"db\""),
            "{e}"
        );
        let e = parse_err("[service.web]\ncommand = true\n");
        assert!(e.contains("a command: a string"), "{e}");
        let e = parse_err("[service.web]\nafter = []\n");
        assert!(e.contains("command"), "{e}");
        let e = parse_err("[service.web]\ncommand = []\n");
        assert!(e.contains("empty"), "{e}");
        let e = parse_err("[service.web]\ncommand = \"  \"\n");
        assert!(e.contains("empty"), "{e}");
        let e = parse_err("[service.web]\ncommand = \"x\"\nuser = \"nobody\"\n");
        assert!(e.contains("services.toml:3:") && e.contains("user"), "{e}");
        let e = parse_err("[service.web]\ncommand = \"x\"\nrestart = \"sometimes\"\n");
        assert!(
            e.contains("sometimes") && e.contains("services.toml:3"),
            "{e}"
        );
        let e = parse_err("[service.web]\ncommand = \"x\"\nworkdir = \"app\"\n");
        assert!(e.contains("absolute"), "{e}");
        let e = parse_err("[services.web]\ncommand = \"x\"\n");
        assert!(e.contains("services"), "{e}");
        let e = parse_err(
            "[service.web]\ncommand = \"x\"\n[service.web.ready]\ntimeout = \"soon\"\naddr = \"a:1\"\n",
        );
        assert!(e.contains("soon"), "{e}");
        let e = parse_err(
            "[service.web]\ncommand = \"x\"\n[service.web.ready]\nport = 80\nbogus = true\n",
        );
        assert!(
            e.contains("services.toml:3") && e.contains("bogus") && e.contains("service web ready"),
            "{e}"
        );
        let e = parse_err("[service.\"a b\"]\ncommand = \"x\"\n");
        assert!(e.contains("not usable"), "{e}");
    }

    #[test]
    fn load_missing_empty_and_real_ready_check() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("services.toml");
        assert!(load(&path).expect("missing").is_none());
        std::fs::write(&path, "").expect("write");
        assert!(
            load(&path)
                .expect("empty")
                .expect("some")
                .services
                .is_empty()
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        std::fs::write(
            &path,
            format!("[service.s]\ncommand = \"sleep 1\"\n[service.s.ready]\nport = {port}\ntimeout = 2\n"),
        )
        .expect("write");
        let f = load(&path).expect("load").expect("some");
        let s = &f.services[0];
        assert_eq!(s.ready_timeout, Duration::from_secs(2));
        let check = s.ready.as_ref().expect("ready");
        assert_eq!(check.timeout, Duration::from_secs(2));
        assert!(check.run().passed);
        drop(listener);
        assert!(!check.run().passed);
    }

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::new();
        let quick = Duration::from_millis(100);
        let delays: Vec<u64> = (0..7).map(|_| b.next_delay(quick).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(
            b.next_delay(Duration::from_secs(10)),
            Duration::from_secs(1)
        );
        assert_eq!(b.next_delay(quick), Duration::from_secs(2));
        assert_eq!(b.next_delay(Duration::from_secs(9)), Duration::from_secs(4));
    }
}
