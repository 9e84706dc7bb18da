//! Health and readiness: `plinth-init health [--ready]` and the `/healthz` `/readyz` server.
//!
//! Both run the checks of `/container/tests/*.toml` (see [`crate::checks`]) whose `probes`
//! include the probe asked for (a check without `probes` takes part in both; `probes = []`
//! keeps it for `plinth-init test` only). The result is one line:
//!
//! ```text
//! ok: 3 checks passed
//! web answers: expected status 200, got 503 (and 1 more check failed)
//! ```
//!
//! `plinth-init health` prints that line and exits 0 (healthy) or 1; `--ready` asks the
//! readiness probe. An image without check files is healthy (`ok: no health checks`).
//!
//! `plinth-init health --serve ADDR` (started by the supervisor as its own process when the
//! image asks for it) answers plain HTTP/1.1, one request at a time:
//!
//! ```text
//! GET /healthz  -> 200 "ok: 2 checks passed\n"  or  503 "<failing check>: <reason>\n"
//! GET /readyz   -> the same for the readiness probe; 503 "maintenance mode\n" when the
//!                  server runs with PLINTH_MODE=maintenance
//! anything else -> 404 (405 for methods other than GET and HEAD)
//! ```
//!
//! A client that does not send its request within 5 s is dropped. Broken check files make
//! both endpoints answer 503 with the error.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use crate::checks::{self, CheckError, Outcome, Probe};
use crate::layout::Layout;

/// How long a client has to send its request (and to take the answer).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest request head read.
const MAX_REQUEST: usize = 8192;

/// What can go wrong running the health server.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The address cannot be listened on.
    #[error(
        "cannot listen on {addr} for the health server: {source}; give a free HOST:PORT, e.g. 0.0.0.0:8081"
    )]
    Bind {
        /// The address asked for.
        addr: String,
        /// The cause.
        source: io::Error,
    },
}

/// The result of a probe.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// Whether every check passed.
    pub ok: bool,
    /// One line: `ok: 3 checks passed`, or the first failing check and its reason.
    pub line: String,
    /// Every check run, by name, in suite and file order.
    pub results: Vec<(String, Outcome)>,
}

/// Runs every check of `layout`'s tests directory that takes part in `probe`.
pub fn evaluate(layout: &Layout, probe: Probe) -> Result<Verdict, CheckError> {
    let suites = checks::load_dir(&layout.tests_dir())?;
    let results: Vec<(String, Outcome)> = suites
        .iter()
        .flat_map(|s| &s.checks)
        .filter(|c| c.probes.contains(&probe))
        .map(|c| (c.name.clone(), c.run()))
        .collect();
    Ok(verdict(results, probe))
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "check" } else { "checks" }
}

fn verdict(results: Vec<(String, Outcome)>, probe: Probe) -> Verdict {
    let failed: Vec<&(String, Outcome)> = results.iter().filter(|(_, o)| !o.passed).collect();
    let line = match failed.as_slice() {
        [] if results.is_empty() => match probe {
            Probe::Health => "ok: no health checks".to_string(),
            Probe::Ready => "ok: no readiness checks".to_string(),
        },
        [] => format!("ok: {} {} passed", results.len(), plural(results.len())),
        [(name, o)] => format!("{name}: {}", o.reason),
        [(name, o), rest @ ..] => format!(
            "{name}: {} (and {} more {} failed)",
            o.reason,
            rest.len(),
            plural(rest.len())
        ),
    };
    Verdict {
        ok: failed.is_empty(),
        line,
        results,
    }
}

/// Whether readiness is withheld on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Probes run the checks.
    Normal,
    /// `/readyz` answers 503 "maintenance mode" (`PLINTH_MODE=maintenance`).
    Maintenance,
}

impl Mode {
    /// `Maintenance` when `PLINTH_MODE` is `maintenance`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Mode {
        match get("PLINTH_MODE").as_deref().map(str::trim) {
            Some("maintenance") => Mode::Maintenance,
            _ => Mode::Normal,
        }
    }
}

/// Listens on `addr` and answers `/healthz` and `/readyz` forever.
pub fn serve(addr: &str, layout: &Layout) -> Result<(), HealthError> {
    let listener = TcpListener::bind(addr).map_err(|source| HealthError::Bind {
        addr: addr.to_string(),
        source,
    })?;
    let mode = Mode::from_env(|k| std::env::var(k).ok());
    serve_connections(&listener, layout, mode, CLIENT_TIMEOUT, None);
    Ok(())
}

/// Answers connections on `listener` one at a time: `limit` of them, or forever when None.
/// `client_timeout` bounds how long one client may take.
pub fn serve_connections(
    listener: &TcpListener,
    layout: &Layout,
    mode: Mode,
    client_timeout: Duration,
    limit: Option<usize>,
) {
    let mut served = 0usize;
    while limit.is_none_or(|l| served < l) {
        match listener.accept() {
            Ok((stream, _)) => {
                served += 1;
                // A client that misbehaves only loses its own answer.
                let _ = answer(stream, layout, mode, client_timeout);
            }
            // Out of file descriptors and the like: do not spin.
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Reads the request head; None if it is not complete before EOF, the size cap, or the timeout.
fn read_head(stream: &mut TcpStream) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(String::from_utf8_lossy(&buf[..end]).into_owned()));
        }
        if buf.len() > MAX_REQUEST {
            return Ok(None);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn answer(mut stream: TcpStream, layout: &Layout, mode: Mode, timeout: Duration) -> io::Result<()> {
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let Some(head) = read_head(&mut stream)? else {
        return respond(&mut stream, 400, "bad request\n", true);
    };
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let with_body = method != "HEAD";
    if method != "GET" && method != "HEAD" {
        return respond(&mut stream, 405, "only GET and HEAD\n", true);
    }
    let probe = match path {
        "/healthz" => Probe::Health,
        "/readyz" if mode == Mode::Maintenance => {
            return respond(&mut stream, 503, "maintenance mode\n", with_body);
        }
        "/readyz" => Probe::Ready,
        _ => {
            return respond(
                &mut stream,
                404,
                "not found: try /healthz or /readyz\n",
                with_body,
            );
        }
    };
    let (status, line) = match evaluate(layout, probe) {
        Ok(v) => (if v.ok { 200 } else { 503 }, v.line),
        Err(e) => (503, format!("unhealthy: {e}")),
    };
    let line: String = line
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    respond(
        &mut stream,
        status,
        &format!("{}\n", line.trim_end()),
        with_body,
    )
}

fn respond(stream: &mut TcpStream, status: u16, body: &str, with_body: bool) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if with_body {
        out.push_str(body);
    }
    stream.write_all(out.as_bytes())?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Instant;

    fn layout_with(suites: &[(&str, String)]) -> (tempfile::TempDir, Layout) {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout {
            app: dir.path().join("application"),
            container: dir.path().join("container"),
        };
        std::fs::create_dir_all(layout.tests_dir()).expect("mkdir");
        for (name, text) in suites {
            std::fs::write(layout.tests_dir().join(name), text).expect("write");
        }
        (dir, layout)
    }

    fn file_check(name: &str, path: &Path, probes: &str) -> String {
        format!(
            "[[check]]\nname = \"{name}\"\nfile = \"{}\"\n{probes}\n",
            path.display()
        )
    }

    #[test]
    fn evaluate_filters_by_probe_and_reports_first_failure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let present = dir.path().join("present");
        std::fs::write(&present, "x").expect("write");
        let absent = dir.path().join("absent");
        let suite = [
            file_check("alive", &present, ""),
            file_check("warm", &absent, "probes = [\"ready\"]"),
            file_check("manual", &absent, "probes = []"),
            "[[check]]\nname = \"shell\"\ncommand = \"test -e /\"\nprobes = [\"health\"]\n"
                .to_string(),
        ]
        .concat();
        let (_d, layout) = layout_with(&[("a.toml", suite)]);
        let health = evaluate(&layout, Probe::Health).expect("health");
        assert!(health.ok, "{health:?}");
        assert_eq!(health.line, "ok: 2 checks passed");
        let names: Vec<&str> = health.results.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["alive", "shell"]);
        let ready = evaluate(&layout, Probe::Ready).expect("ready");
        assert!(!ready.ok);
        assert!(
            ready.line.starts_with("warm: expected ") && ready.line.contains("absent"),
            "{}",
            ready.line
        );
        std::fs::write(&absent, "now").expect("write");
        let ready = evaluate(&layout, Probe::Ready).expect("ready");
        assert!(ready.ok && ready.line == "ok: 2 checks passed", "{ready:?}");
    }

    #[test]
    fn evaluate_counts_more_failures_and_empty_dirs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let absent = dir.path().join("absent");
        let suite = [
            file_check("one", &absent, ""),
            file_check("two", &absent, ""),
            file_check("three", &absent, ""),
        ]
        .concat();
        let (_d, layout) = layout_with(&[("s.toml", suite)]);
        let v = evaluate(&layout, Probe::Health).expect("health");
        assert!(!v.ok);
        assert!(
            v.line.starts_with("one: ") && v.line.ends_with("(and 2 more checks failed)"),
            "{}",
            v.line
        );
        let (_d, empty) = layout_with(&[]);
        let v = evaluate(&empty, Probe::Health).expect("empty");
        assert!(
            v.ok && v.line == "ok: no health checks" && v.results.is_empty(),
            "{v:?}"
        );
        let (_d, broken) = layout_with(&[("bad.toml", "[[check]]\nnope = 1\n".to_string())]);
        let e = evaluate(&broken, Probe::Ready)
            .expect_err("broken")
            .to_string();
        assert!(e.contains("bad.toml:2") && e.contains("nope"), "{e}");
    }

    #[test]
    fn mode_from_env() {
        assert_eq!(
            Mode::from_env(|_| Some("maintenance".into())),
            Mode::Maintenance
        );
        assert_eq!(Mode::from_env(|_| Some("normal".into())), Mode::Normal);
        assert_eq!(Mode::from_env(|_| None), Mode::Normal);
    }

    fn get(port: u16, request: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.write_all(request.as_bytes()).expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    }

    #[test]
    fn server_answers_probes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let flag = dir.path().join("flag");
        let suite = [file_check("flag file", &flag, "probes = [\"ready\"]")].concat();
        let (_d, layout) = layout_with(&[("web.toml", suite)]);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server_layout = layout.clone();
        let server = std::thread::spawn(move || {
            serve_connections(
                &listener,
                &server_layout,
                Mode::Normal,
                Duration::from_millis(300),
                Some(7),
            );
        });
        let r = get(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("\r\n\r\nok: no health checks\n"),
            "{r}"
        );
        let r = get(port, "GET /readyz HTTP/1.1\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.1 503 ") && r.contains("flag file: expected"),
            "{r}"
        );
        std::fs::write(&flag, "").expect("write");
        let r = get(port, "GET /readyz?verbose=1 HTTP/1.1\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.1 200 ") && r.ends_with("ok: 1 check passed\n"),
            "{r}"
        );
        let r = get(port, "HEAD /readyz HTTP/1.1\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.1 200 ")
                && r.ends_with("\r\n\r\n")
                && r.contains("Content-Length: 19\r\n"),
            "{r}"
        );
        let r = get(port, "GET /other HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 404 "), "{r}");
        let r = get(port, "POST /healthz HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 405 "), "{r}");
        // A silent client is dropped after the client timeout instead of blocking the server.
        let started = Instant::now();
        let mut silent = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let mut out = String::new();
        let _ = silent.read_to_string(&mut out);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert!(out.is_empty() || out.starts_with("HTTP/1.1 400"), "{out}");
        server.join().expect("server");
    }

    #[test]
    fn maintenance_mode_withholds_readiness_only() {
        let (_d, layout) = layout_with(&[]);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            serve_connections(
                &listener,
                &layout,
                Mode::Maintenance,
                CLIENT_TIMEOUT,
                Some(2),
            );
        });
        let r = get(port, "GET /readyz HTTP/1.1\r\n\r\n");
        assert!(
            r.starts_with("HTTP/1.1 503 ") && r.ends_with("maintenance mode\n"),
            "{r}"
        );
        let r = get(port, "GET /healthz HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 "), "{r}");
        server.join().expect("server");
    }

    #[test]
    fn serve_reports_bind_errors() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr").to_string();
        let e = serve(&addr, &Layout::default())
            .expect_err("in use")
            .to_string();
        assert!(e.contains(&addr) && e.contains("cannot listen"), "{e}");
    }
}
