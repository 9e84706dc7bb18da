//! Runtime checks: commands in fresh containers of the image, and processes, listening
//! ports, HTTP endpoints, reachable addresses and mounts of a running service container, all
//! in plinth's sandbox (`plinth_build::container`).
//!
//! - [`Runtime::run_command`] runs a [`CommandCheck`] in a container of its own: the setup
//!   commands, the command and the teardown commands run one after the other over one
//!   writable layer (as container-structure-test commits between them), with the image's
//!   entrypoint cleared unless the check gives one.
//! - [`Runtime::start_service`] starts the image's Entrypoint + Cmd in the background; the
//!   other checks look at it from the host: processes are those of `/proc` in the service's
//!   PID namespace, ports come from `/proc/<pid>/net/{tcp,tcp6,udp,udp6}`, mounts from
//!   `/proc/<pid>/mountinfo`, and HTTP requests and address probes are made by a thread of
//!   this process that joined the service's network namespace (`setns(2)`), so
//!   `http://localhost:8080/` means the container's own localhost.
//! - [`Service::exec`] runs a command inside the service container through util-linux
//!   `nsenter` (its namespaces, root and working directory, the image's user).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plinth_build::container::{self, Background, Prepared, RunOptions, WritableLayer};
use plinth_oci::store::Store;
use plinth_sandbox::Network;

use crate::model::{
    AddrCheck, Check, CommandCheck, HttpCheck, Matcher, MountCheck, PortCheck, ProcessCheck,
    Protocol, Status, Test, TestResult,
};

/// Default timeout of an HTTP request or an address probe.
const DEFAULT_NET_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest HTTP response read.
const HTTP_LIMIT: u64 = 16 * 1024 * 1024;

/// Why a container could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Container(#[from] container::ContainerError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// What a command printed and how it ended.
#[derive(Debug, Clone)]
pub struct CommandOutput {
    /// Exit code (128 + signal when killed).
    pub code: i32,
    /// The timeout struck first and the command was killed.
    pub timed_out: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub duration: Duration,
}

/// Where runtime checks run: an image of a store, in plinth's sandbox.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub store: Store,
    /// The image reference (tag or digest) in the store.
    pub image: String,
    /// A binary whose `main` calls `plinth_sandbox::maybe_run_helper()` first (the `plinth`
    /// binary itself in production).
    pub sandbox_helper: PathBuf,
    /// The network of command containers.
    pub network: Network,
}

/// Options of a service container.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub network: Network,
    /// `KEY=value` added to the image's environment.
    pub env: Vec<String>,
}

impl Runtime {
    fn options(&self, network: Network, env: &[String]) -> RunOptions {
        RunOptions {
            image: self.image.clone(),
            command: Vec::new(),
            entrypoint: None,
            env: env.to_vec(),
            volumes: Vec::new(),
            network,
            user: None,
            workdir: None,
            keep: container::Keep::Remove,
            sandbox_helper: Some(self.sandbox_helper.clone()),
        }
    }

    /// Runs `check`'s setup commands, command and teardown commands in one new container
    /// (one writable layer), returning the command's output. A failing setup or teardown
    /// command is an error naming it; the check's timeout applies to the command.
    pub fn run_command(&self, check: &CommandCheck) -> Result<CommandOutput, RuntimeError> {
        if check.argv.is_empty() {
            return Err(RuntimeError::Invalid("the command is empty".into()));
        }
        let env: Vec<String> = check.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut prepared = Prepared::new(&self.store, &self.options(self.network, &env))?;
        let layer = WritableLayer::new(&self.store)?;
        let entry = check.entrypoint.clone().unwrap_or_default();
        let full = |argv: &[String]| -> Vec<String> { entry.iter().chain(argv).cloned().collect() };
        run_steps(&mut prepared, &layer, "setup", &check.setup, &full)?;
        prepared.set_args(full(&check.argv));
        let out = prepared.run_captured(&layer, check.timeout)?;
        run_steps(&mut prepared, &layer, "teardown", &check.teardown, &full)?;
        Ok(CommandOutput {
            code: out.code.unwrap_or(128 + 9),
            timed_out: out.code.is_none(),
            stdout: out.stdout,
            stderr: out.stderr,
            duration: out.duration,
        })
    }

    /// Starts the image's Entrypoint + Cmd in the background (a service container) and
    /// returns once it is being executed.
    pub fn start_service(&self, opts: &ServiceOptions) -> Result<Service, RuntimeError> {
        let prepared = Prepared::new(&self.store, &self.options(opts.network, &opts.env))?;
        let layer = WritableLayer::new(&self.store)?;
        let bg = prepared.start(layer)?;
        let upper = bg.upper();
        let (uid, gid) = prepared.ids();
        Ok(Service {
            bg,
            upper,
            uid,
            gid,
            cwd: prepared.cwd().to_string(),
            env: prepared.env().to_vec(),
        })
    }
}

fn run_steps(
    prepared: &mut Prepared,
    layer: &WritableLayer,
    what: &str,
    cmds: &[Vec<String>],
    full: &dyn Fn(&[String]) -> Vec<String>,
) -> Result<(), RuntimeError> {
    for cmd in cmds {
        prepared.set_args(full(cmd));
        let out = prepared.run_captured(layer, None)?;
        if out.code != Some(0) {
            return Err(RuntimeError::Invalid(format!(
                "{what} command {cmd:?} failed with exit code {}: {}",
                out.code.unwrap_or(-1),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    Ok(())
}

/// A running service container; dropping it kills it.
#[derive(Debug)]
pub struct Service {
    bg: Background,
    upper: PathBuf,
    uid: u32,
    gid: u32,
    cwd: String,
    env: Vec<String>,
}

impl Service {
    /// Host pid of the container's PID 1.
    pub fn pid(&self) -> i32 {
        self.bg.pid()
    }

    /// Runs `argv` inside the container (its namespaces, root, working directory and user)
    /// with the container's environment plus `env`, through `nsenter`; killed (with all it
    /// started) when `timeout` passes first.
    pub fn exec(
        &self,
        argv: &[String],
        env: &[(String, String)],
        timeout: Option<Duration>,
    ) -> Result<CommandOutput, RuntimeError> {
        use std::os::unix::process::CommandExt;
        if argv.is_empty() {
            return Err(RuntimeError::Invalid("the command is empty".into()));
        }
        let started = Instant::now();
        let mut cmd = Command::new("nsenter");
        cmd.arg("--target")
            .arg(self.pid().to_string())
            .args([
                "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd",
            ])
            .arg("-S")
            .arg(self.uid.to_string())
            .arg("-G")
            .arg(self.gid.to_string())
            .arg("--")
            .args(argv)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        for e in &self.env {
            if let Some((k, v)) = e.split_once('=') {
                cmd.env(k, v);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let io = |what: &str| {
            let what = what.to_string();
            move |source| RuntimeError::Io { what, source }
        };
        let mut child = cmd.spawn().map_err(io("running nsenter (util-linux)"))?;
        let reader = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut p) = pipe {
                    let _ = p.read_to_end(&mut buf);
                }
                buf
            })
        };
        let out_thread = reader(
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let err_thread = reader(
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        );
        let mut timed_out = false;
        let status = loop {
            if let Some(st) = child.try_wait().map_err(io("waiting for nsenter"))? {
                break st;
            }
            if timeout.is_some_and(|t| started.elapsed() >= t) {
                timed_out = true;
                if let Some(pgid) = rustix::process::Pid::from_raw(child.id() as i32) {
                    let _ =
                        rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
                }
                break child.wait().map_err(io("waiting for nsenter"))?;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let stdout = out_thread.join().unwrap_or_default();
        let stderr = err_thread.join().unwrap_or_default();
        use std::os::unix::process::ExitStatusExt;
        let code = status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .unwrap_or(-1);
        Ok(CommandOutput {
            code,
            timed_out,
            stdout,
            stderr,
            duration: started.elapsed(),
        })
    }

    /// Sends a signal to the container's PID 1 (nothing when it has ended).
    pub fn signal(&self, sig: i32) {
        let _ = self.bg.signal(sig);
    }

    /// Waits up to `timeout` for the container to end: its exit code (128 + signal), 125
    /// when the sandbox failed, `None` while it runs.
    pub fn wait(&self, timeout: Duration) -> Option<i32> {
        self.bg.wait(timeout).map(|r| r.unwrap_or(125))
    }

    /// Kills the container.
    pub fn kill(&mut self) {
        self.bg.kill();
    }

    /// Output so far: (stdout, stderr).
    pub fn output(&self) -> (Vec<u8>, Vec<u8>) {
        self.bg.output()
    }

    /// The writable layer's upper directory (what the service wrote).
    pub fn upper(&self) -> &Path {
        &self.upper
    }

    /// The container's working directory.
    pub fn cwd(&self) -> &str {
        &self.cwd
    }
}

/// Runs one runtime test: a command in a container of its own, or a check against
/// `service` (an error result when there is none). Static checks give an error result.
pub fn run(rt: &Runtime, service: Option<&Service>, suite: &str, test: &Test) -> TestResult {
    let started = Instant::now();
    let outcome: Result<Vec<String>, String> = match &test.check {
        Check::Command(c) => command(rt, c),
        Check::Process(c) => with_service(service, |s| process(s, c)),
        Check::Port(c) => with_service(service, |s| port(s, c)),
        Check::Http(c) => with_service(service, |s| http(s, c)),
        Check::Addr(c) => with_service(service, |s| addr(s, c)),
        Check::Mount(c) => with_service(service, |s| mount(s, c)),
        other => Err(format!(
            "{} is a static check, not a runtime one",
            other.kind()
        )),
    };
    let (status, message) = match outcome {
        Ok(problems) if problems.is_empty() => (Status::Passed, String::new()),
        Ok(problems) => (Status::Failed, problems.join("\n")),
        Err(e) => (Status::Error, e),
    };
    TestResult {
        suite: suite.to_string(),
        name: test.name.clone(),
        kind: test.check.kind(),
        status,
        message,
        duration: started.elapsed(),
    }
}

fn with_service(
    service: Option<&Service>,
    f: impl FnOnce(&Service) -> Result<Vec<String>, String>,
) -> Result<Vec<String>, String> {
    match service {
        Some(s) => f(s),
        None => Err(
            "this check needs a running container of the image (a service); none was started"
                .into(),
        ),
    }
}

/// Evaluates one matcher; `Err` for an invalid regular expression.
pub fn matches(m: &Matcher, text: &str) -> Result<bool, String> {
    m.matches(text)
}

fn check_matchers(
    what: &str,
    matchers: &[Matcher],
    text: &str,
    problems: &mut Vec<String>,
) -> Result<(), String> {
    for m in matchers {
        if !matches(m, text)? {
            problems.push(format!(
                "expected {what} {}; found {:?}",
                m.describe(),
                excerpt(text)
            ));
        }
    }
    Ok(())
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 400;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn command(rt: &Runtime, c: &CommandCheck) -> Result<Vec<String>, String> {
    let out = rt.run_command(c).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.timed_out {
        problems.push(format!(
            "timed out after {:.1}s (killed)",
            c.timeout.unwrap_or_default().as_secs_f64()
        ));
    } else if out.code != c.exit_status {
        problems.push(format!(
            "expected exit status {}; found {} (stderr: {:?})",
            c.exit_status,
            out.code,
            excerpt(stderr.trim())
        ));
    }
    check_matchers("stdout", &c.stdout, &stdout, &mut problems)?;
    check_matchers("stderr", &c.stderr, &stderr, &mut problems)?;
    Ok(problems)
}

/// Host pids of the processes in `pid`'s PID namespace.
fn namespace_pids(pid: i32) -> Result<Vec<i32>, String> {
    let ns = fs_err::read_link(format!("/proc/{pid}/ns/pid")).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for entry in fs_err::read_dir("/proc").map_err(|e| e.to_string())? {
        let Ok(entry) = entry else { continue };
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if std::fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|n| n == ns) {
            out.push(p);
        }
    }
    Ok(out)
}

/// comm and argv[0]'s base name of a process.
fn process_names(pid: i32) -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        names.push(comm.trim_end_matches('\n').to_string());
    }
    if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline"))
        && let Some(arg0) = cmdline.split(|b| *b == 0).next()
    {
        let arg0 = String::from_utf8_lossy(arg0);
        if let Some(base) = arg0.rsplit('/').next().filter(|b| !b.is_empty()) {
            names.push(base.to_string());
        }
    }
    names
}

fn process(s: &Service, c: &ProcessCheck) -> Result<Vec<String>, String> {
    let pids = namespace_pids(s.pid())?;
    let mut seen = std::collections::BTreeSet::new();
    let mut found = false;
    for p in pids {
        let names = process_names(p);
        found |= names.iter().any(|n| n == &c.name);
        seen.extend(names.into_iter().take(1));
    }
    Ok(if found == c.running {
        Vec::new()
    } else if c.running {
        vec![format!(
            "expected a process {:?} running; found: {}",
            c.name,
            seen.into_iter().collect::<Vec<_>>().join(", ")
        )]
    } else {
        vec![format!("expected no process {:?}; one is running", c.name)]
    })
}

/// A socket of `/proc/<pid>/net/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Socket {
    ip: std::net::IpAddr,
    port: u16,
    /// LISTEN (TCP) or unconnected (UDP).
    listening: bool,
}

/// Parses `/proc/net/{tcp,udp}{,6}` text.
fn parse_net(text: &str, v6: bool, udp: bool) -> Vec<Socket> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
            continue;
        };
        let Some((ip_hex, port_hex)) = local.split_once(':') else {
            continue;
        };
        let Ok(port) = u16::from_str_radix(port_hex, 16) else {
            continue;
        };
        let Some(ip) = parse_hex_ip(ip_hex, v6) else {
            continue;
        };
        let listening = if udp { *state == "07" } else { *state == "0A" };
        out.push(Socket {
            ip,
            port,
            listening,
        });
    }
    out
}

/// The kernel prints addresses as 32-bit words in host byte order.
fn parse_hex_ip(hex: &str, v6: bool) -> Option<std::net::IpAddr> {
    let words: Vec<u32> = (0..hex.len() / 8)
        .map(|i| {
            hex.get(i * 8..i * 8 + 8)
                .and_then(|w| u32::from_str_radix(w, 16).ok())
        })
        .collect::<Option<Vec<u32>>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    match (v6, bytes.len()) {
        (false, 4) => Some(std::net::IpAddr::from([
            bytes[0], bytes[1], bytes[2], bytes[3],
        ])),
        (true, 16) => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&bytes);
            Some(std::net::IpAddr::from(a))
        }
        _ => None,
    }
}

fn port(s: &Service, c: &PortCheck) -> Result<Vec<String>, String> {
    // A TCP check also accepts a listener on `::` (dual-stack sockets accept IPv4).
    let tables: &[(&str, bool, bool)] = match c.protocol {
        Protocol::Tcp => &[("tcp", false, false), ("tcp6", true, false)],
        Protocol::Tcp6 => &[("tcp6", true, false)],
        Protocol::Udp => &[("udp", false, true), ("udp6", true, true)],
        Protocol::Udp6 => &[("udp6", true, true)],
    };
    let mut listeners = Vec::new();
    for (file, v6, udp) in tables {
        let path = format!("/proc/{}/net/{file}", s.pid());
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            // No IPv6 in the kernel: no such table.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("{path}: {e}")),
        };
        listeners.extend(
            parse_net(&text, *v6, *udp)
                .into_iter()
                .filter(|so| so.listening && so.port == c.port),
        );
    }
    let mut problems = Vec::new();
    let name = format!("{:?}:{}", c.protocol, c.port).to_lowercase();
    match (c.listening, listeners.is_empty()) {
        (true, true) => problems.push(format!("expected {name} listening; nothing listens on it")),
        (false, false) => problems.push(format!(
            "expected {name} not listening; it listens on {}",
            ips(&listeners)
        )),
        _ => {}
    }
    if c.listening && !listeners.is_empty() && !c.ips.is_empty() {
        let found = listeners.iter().any(|so| {
            c.ips.iter().any(|ip| {
                ip.parse::<std::net::IpAddr>()
                    .is_ok_and(|want| want == so.ip)
            })
        });
        if !found {
            problems.push(format!(
                "expected {name} listening on one of {}; it listens on {}",
                c.ips.join(", "),
                ips(&listeners)
            ));
        }
    }
    Ok(problems)
}

fn ips(listeners: &[Socket]) -> String {
    listeners
        .iter()
        .map(|s| s.ip.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `f` on a thread that joined the network namespace of `pid`.
fn in_netns<T: Send + 'static>(
    pid: i32,
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    let path = format!("/proc/{pid}/ns/net");
    let ns = fs_err::File::open(&path).map_err(|e| e.to_string())?;
    let handle = std::thread::Builder::new()
        .name("plinth-test-netns".into())
        .spawn(move || {
            use std::os::fd::AsFd;
            rustix::thread::move_into_link_name_space(
                ns.file().as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .map_err(|e| format!("joining the container's network namespace ({path}): {e}"))?;
            f()
        })
        .map_err(|e| format!("starting a thread: {e}"))?;
    handle
        .join()
        .map_err(|_| "the network thread failed".to_string())?
}

/// A parsed `http://host[:port]/path` URL.
fn parse_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = if let Some(r) = url.strip_prefix("http://") {
        r
    } else if url.starts_with("https://") {
        return Err(format!(
            "{url}: https is not supported by plinth's HTTP check; use http://"
        ));
    } else {
        return Err(format!("{url}: expected an http:// URL"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = if let Some(h) = authority.strip_prefix('[') {
        let (h, after) = h
            .split_once(']')
            .ok_or_else(|| format!("{url}: unterminated [IPv6] host"))?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (authority.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| format!("{url}: bad port {p:?}"))?,
        None => 80,
    };
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    Ok((host, port, path.to_string()))
}

fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("resolving {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    Ok(addrs)
}

struct HttpResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn http_request(c: &HttpCheck) -> Result<HttpResponse, String> {
    let timeout = c.timeout.unwrap_or(DEFAULT_NET_TIMEOUT);
    let (host, port, path) = parse_url(&c.url)?;
    let mut last = String::new();
    let mut stream = None;
    for a in resolve(&host, port)? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = format!("connecting to {a}: {e}"),
        }
    }
    let mut stream = stream.ok_or(last)?;
    let io = |e: std::io::Error| format!("{}: {e}", c.url);
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.set_write_timeout(Some(timeout)).map_err(io)?;
    let method = c.method.as_deref().unwrap_or("GET");
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    let host_header = if port == 80 {
        host.clone()
    } else {
        format!("{host}:{port}")
    };
    if !c
        .request_headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("host"))
    {
        let _ = write!(req, "Host: {host_header}\r\n");
    }
    for (k, v) in &c.request_headers {
        let _ = write!(req, "{k}: {v}\r\n");
    }
    req.push_str("Connection: close\r\nUser-Agent: plinth-test\r\n\r\n");
    stream.write_all(req.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    stream.take(HTTP_LIMIT).read_to_end(&mut raw).map_err(io)?;
    parse_response(&raw).map_err(|e| format!("{}: {e}", c.url))
}

fn parse_response(raw: &[u8]) -> Result<HttpResponse, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the response has no complete header")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (canonical_header(k.trim()), v.trim().to_string()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    if chunked {
        body = dechunk(&body)?;
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// A header name as Go's `CanonicalMIMEHeaderKey` writes it (`content-type` →
/// `Content-Type`), so goss's `headers` lines match whatever case the server used.
fn canonical_header(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunked body")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data.get(..size).ok_or("truncated chunk")?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

fn http(s: &Service, c: &HttpCheck) -> Result<Vec<String>, String> {
    let check = c.clone();
    let resp = match in_netns(s.pid(), move || Ok(http_request(&check)))? {
        Ok(r) => r,
        // The endpoint could not be reached: the check fails (it is not a harness error).
        Err(e) => {
            return Ok(vec![format!(
                "expected status {}; the request failed: {e}",
                c.status
            )]);
        }
    };
    let mut problems = Vec::new();
    if resp.status != c.status {
        problems.push(format!(
            "expected status {}; found {}",
            c.status, resp.status
        ));
    }
    for want in &c.headers {
        let found = resp
            .headers
            .iter()
            .any(|(k, v)| format!("{k}: {v}").contains(want.as_str()));
        if !found {
            problems.push(format!(
                "expected a response header {want:?}; found: {}",
                resp.headers
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    }
    let body = String::from_utf8_lossy(&resp.body);
    check_matchers("body", &c.body, &body, &mut problems)?;
    Ok(problems)
}

fn probe(addr: &str, timeout: Duration) -> Result<Result<(), String>, String> {
    let (proto, rest) = addr
        .split_once("://")
        .ok_or_else(|| format!("{addr}: expected tcp://host:port or udp://host:port"))?;
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("{addr}: no port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port
        .parse()
        .map_err(|_| format!("{addr}: bad port {port:?}"))?;
    let addrs = resolve(host, port)?;
    match proto {
        "tcp" => {
            let mut last = String::new();
            for a in addrs {
                match TcpStream::connect_timeout(&a, timeout) {
                    Ok(_) => return Ok(Ok(())),
                    Err(e) => last = format!("connecting to {a}: {e}"),
                }
            }
            Ok(Err(last))
        }
        "udp" => {
            // UDP has no handshake: send a datagram and count an ICMP port-unreachable
            // (ECONNREFUSED on the next receive) as unreachable, silence as reachable.
            let Some(a) = addrs.first() else {
                return Ok(Err("no address".into()));
            };
            let bind: SocketAddr = if a.is_ipv6() {
                "[::]:0".parse().map_err(|e| format!("{e}"))?
            } else {
                "0.0.0.0:0".parse().map_err(|e| format!("{e}"))?
            };
            let io = |e: std::io::Error| format!("{addr}: {e}");
            let sock = UdpSocket::bind(bind).map_err(io)?;
            if let Err(e) = sock.connect(a) {
                return Ok(Err(format!("connecting to {a}: {e}")));
            }
            if let Err(e) = sock.send(b"\n") {
                return Ok(Err(format!("sending to {a}: {e}")));
            }
            sock.set_read_timeout(Some(timeout.min(Duration::from_millis(500))))
                .map_err(io)?;
            let mut buf = [0u8; 512];
            match sock.recv(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    Ok(Err(format!("{a}: port unreachable")))
                }
                _ => Ok(Ok(())),
            }
        }
        other => Err(format!("{addr}: unknown protocol {other:?} (tcp or udp)")),
    }
}

fn addr(s: &Service, c: &AddrCheck) -> Result<Vec<String>, String> {
    let a = c.addr.clone();
    let timeout = c.timeout.unwrap_or(DEFAULT_NET_TIMEOUT);
    let reached = in_netns(s.pid(), move || probe(&a, timeout))?;
    Ok(match (reached, c.reachable) {
        (Ok(()), true) | (Err(_), false) => Vec::new(),
        (Err(e), true) => vec![format!("expected {} reachable; {e}", c.addr)],
        (Ok(()), false) => vec![format!("expected {} not reachable; it is", c.addr)],
    })
}

/// One line of `/proc/<pid>/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MountInfo {
    target: String,
    opts: Vec<String>,
    fstype: String,
    source: String,
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(code) = s
                .get(i + 1..i + 4)
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(code);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    let mut out = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(target), Some(opts), Some(fstype), Some(source)) = (
            fields.get(4),
            fields.get(5),
            fields.get(sep + 1),
            fields.get(sep + 2),
        ) else {
            continue;
        };
        out.push(MountInfo {
            target: unescape(target),
            opts: opts.split(',').map(str::to_string).collect(),
            fstype: fstype.to_string(),
            source: unescape(source),
        });
    }
    out
}

fn mount(s: &Service, c: &MountCheck) -> Result<Vec<String>, String> {
    let path = format!("/proc/{}/mountinfo", s.pid());
    let text = fs_err::read_to_string(&path).map_err(|e| e.to_string())?;
    let want = if c.path.len() > 1 {
        c.path.trim_end_matches('/')
    } else {
        c.path.as_str()
    };
    // The last mount on a path is the visible one.
    let found = parse_mountinfo(&text)
        .into_iter()
        .rev()
        .find(|m| m.target == want);
    let mut problems = Vec::new();
    match (found, c.exists) {
        (None, true) => problems.push(format!("expected a mount on {want}; there is none")),
        (Some(m), false) => problems.push(format!(
            "expected no mount on {want}; found {} from {}",
            m.fstype, m.source
        )),
        (None, false) => {}
        (Some(m), true) => {
            for o in &c.opts {
                if !m.opts.contains(o) {
                    problems.push(format!(
                        "expected mount option {o} on {want}; found {}",
                        m.opts.join(",")
                    ));
                }
            }
            if let Some(src) = &c.source
                && src != &m.source
            {
                problems.push(format!(
                    "expected source {src} on {want}; found {}",
                    m.source
                ));
            }
            if let Some(fs) = &c.filesystem
                && fs != &m.fstype
            {
                problems.push(format!(
                    "expected filesystem {fs} on {want}; found {}",
                    m.fstype
                ));
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_lines_parse_to_addresses_and_states() {
        let tcp = "  sl  local_address rem_address   st\n   0: 0100007F:1F90 00000000:0000 0A 0\n   1: 0100007F:1F91 0100007F:9C40 01 0\n";
        let s = parse_net(tcp, false, false);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].ip.to_string(), "127.0.0.1");
        assert_eq!(s[0].port, 8080);
        assert!(s[0].listening);
        assert!(!s[1].listening);
        let tcp6 = "h\n 0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A\n";
        let s = parse_net(tcp6, true, false);
        assert_eq!(s[0].ip.to_string(), "::");
        assert_eq!(s[0].port, 80);
    }

    #[test]
    fn mountinfo_lines_parse_with_escapes() {
        let text = "36 35 98:0 /mnt1 /my\\040mnt rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n";
        let m = parse_mountinfo(text);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].target, "/my mnt");
        assert_eq!(m[0].opts, vec!["rw", "noatime"]);
        assert_eq!(m[0].fstype, "ext3");
        assert_eq!(m[0].source, "/dev/root");
    }

    #[test]
    fn urls_and_responses_parse() {
        assert_eq!(
            parse_url("http://localhost:8080/a?b").unwrap(),
            ("localhost".into(), 8080, "/a?b".into())
        );
        assert_eq!(
            parse_url("http://[::1]/").unwrap(),
            ("::1".into(), 80, "/".into())
        );
        assert!(parse_url("https://x/").is_err());
        let r = parse_response(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"abcde");
        assert_eq!(r.headers[0].0, "Transfer-Encoding");
        assert_eq!(canonical_header("content-TYPE"), "Content-Type");
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn matchers_are_multi_line_and_equals_trims_one_newline() {
        assert!(matches(&Matcher::Regex("^b$".into()), "a\nb\nc").unwrap());
        assert!(!matches(&Matcher::NotRegex("b".into()), "abc").unwrap());
        assert!(matches(&Matcher::Equals("x".into()), "x\n").unwrap());
        assert!(!matches(&Matcher::Equals("x".into()), "x\n\n").unwrap());
        assert!(matches(&Matcher::Regex("(".into()), "").is_err());
    }
}
