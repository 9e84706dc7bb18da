//! A fault-injecting TCP proxy in front of a real registry: it spoils the first N requests that
//! match a [`Rule`] (error statuses, dropped connections, uploads cut mid-body, slow answers) and
//! forwards everything else untouched.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::Result;

/// How long a cut request waits for more body bytes before it is cut anyway.
const CUT_READ_TIMEOUT: Duration = Duration::from_secs(2);

/// What the proxy does to a request it spoils.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Read the request (its `Content-Length` body too), answer with this status line (e.g.
    /// `503 Service Unavailable`) and close; with `retry_after`, a `Retry-After: SECONDS`
    /// header is sent.
    Status {
        /// The status line after `HTTP/1.1 `.
        line: &'static str,
        /// The `Retry-After` seconds, if any.
        retry_after: Option<u32>,
    },
    /// Close the connection without answering.
    Drop,
    /// Forward the request head and at most this many body bytes (half the body when its
    /// `Content-Length` is not larger), then cut both connections: an upload broken mid-blob.
    CutAfter(usize),
    /// Wait this long, then forward the request: a slow registry.
    Delay(Duration),
}

impl Fault {
    /// An error status with `Retry-After: 0`, so clients retry at once.
    pub const fn status(line: &'static str) -> Fault {
        Fault::Status {
            line,
            retry_after: Some(0),
        }
    }
}

/// Which requests are spoiled, and how.
#[derive(Debug, Clone)]
pub struct Rule {
    /// What is done to a spoiled request.
    pub fault: Fault,
    /// How many matching requests are spoiled; later ones are forwarded.
    pub times: usize,
    /// Only requests with this method (e.g. `PUT`); empty for any.
    pub method: String,
    /// Only requests whose target contains this text (e.g. `/blobs/uploads/` or a digest).
    pub path_contains: String,
}

impl Rule {
    /// The first `times` requests of any kind get `fault`.
    pub fn new(fault: Fault, times: usize) -> Rule {
        Rule {
            fault,
            times,
            method: String::new(),
            path_contains: String::new(),
        }
    }

    /// Only requests with this method.
    pub fn method(mut self, method: &str) -> Rule {
        self.method = method.trim().to_string();
        self
    }

    /// Only requests whose target contains `text`.
    pub fn path_contains(mut self, text: &str) -> Rule {
        self.path_contains = text.to_string();
        self
    }

    fn matches(&self, method: &str, target: &str) -> bool {
        (self.method.is_empty() || self.method == method) && target.contains(&self.path_contains)
    }
}

/// The proxy; it stops accepting connections when dropped.
///
/// Every forwarded HTTP request gets `Connection: close`, so each request has its own
/// connection and is seen (and possibly spoiled) by the proxy. Connections that do not start
/// with an HTTP request line (TLS) are forwarded untouched.
pub struct FaultProxy {
    /// `127.0.0.1:PORT` of the proxy.
    pub host: String,
    /// The proxy's port.
    pub port: u16,
    spoiled: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Starts a proxy to `127.0.0.1:target_port` applying `rule`.
    pub fn start(target_port: u16, rule: Rule) -> Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let spoiled = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopped) = (Arc::clone(&spoiled), Arc::clone(&stop));
        let budget = Arc::new(AtomicUsize::new(0));
        let rule = Arc::new(rule);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = conn else { continue };
                let (rule, log, budget) =
                    (Arc::clone(&rule), Arc::clone(&log), Arc::clone(&budget));
                std::thread::spawn(move || serve(s, target_port, &rule, &log, &budget));
            }
        });
        Ok(FaultProxy {
            host: format!("127.0.0.1:{port}"),
            port,
            spoiled,
            stop,
        })
    }

    /// How many requests were spoiled so far.
    pub fn spoiled(&self) -> usize {
        self.spoiled_requests().len()
    }

    /// The request lines (`METHOD TARGET HTTP/1.1`) of the spoiled requests, in order.
    pub fn spoiled_requests(&self) -> Vec<String> {
        self.spoiled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Handles one client connection.
fn serve(
    mut s: TcpStream,
    target_port: u16,
    rule: &Rule,
    log: &Mutex<Vec<String>>,
    budget: &AtomicUsize,
) {
    let mut first = vec![0u8; 64 * 1024];
    let n = match s.read(&mut first) {
        Ok(0) | Err(_) => return,
        Ok(n) => n,
    };
    first.truncate(n);
    let is_http = first.first().is_some_and(u8::is_ascii_uppercase);
    let line_end = first
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(first.len());
    let line = String::from_utf8_lossy(&first[..line_end]).into_owned();
    let mut words = line.split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let spoil = is_http
        && rule.matches(method, target)
        && budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                (c < rule.times).then_some(c + 1)
            })
            .is_ok();
    let mut cut = None;
    if spoil {
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
        match rule.fault {
            Fault::Status { line, retry_after } => {
                // Like a real server, read the request body before answering, so that the
                // client sees the answer rather than a broken pipe.
                drain_body(&mut s, &first);
                let ra = retry_after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n"));
                let _ = write!(
                    s,
                    "HTTP/1.1 {line}\r\n{ra}Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
                );
                let _ = s.shutdown(Shutdown::Both);
                return;
            }
            Fault::Drop => {
                let _ = s.shutdown(Shutdown::Both);
                return;
            }
            Fault::Delay(d) => std::thread::sleep(d),
            Fault::CutAfter(limit) => cut = Some(limit),
        }
    }
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", target_port)) else {
        return;
    };
    let head_end = first
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(first.len(), |p| p + 4);
    let mut head = first[..head_end].to_vec();
    if is_http && line_end < head.len() {
        head.splice(
            line_end + 2..line_end + 2,
            b"Connection: close\r\n".iter().copied(),
        );
    }
    let body_start = &first[head_end..];
    if let Some(limit) = cut {
        let keep = match content_length(&first[..head_end]) {
            Some(len) if len <= limit => len / 2,
            _ => limit,
        };
        let now = body_start.len().min(keep);
        if up.write_all(&head).is_ok() && up.write_all(&body_start[..now]).is_ok() && now < keep {
            let _ = s.set_read_timeout(Some(CUT_READ_TIMEOUT));
            let _ = std::io::copy(&mut (&s).take((keep - now) as u64), &mut up);
        }
        let _ = up.shutdown(Shutdown::Both);
        let _ = s.shutdown(Shutdown::Both);
        return;
    }
    if up.write_all(&head).is_err() || up.write_all(body_start).is_err() {
        return;
    }
    let (Ok(mut s2), Ok(mut up2)) = (s.try_clone(), up.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut s2, &mut up2);
        let _ = up2.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut up, &mut s);
    let _ = s.shutdown(Shutdown::Write);
}

/// Reads and discards the rest of a request's `Content-Length` body (`first` is what was read
/// so far), giving up after a pause of [`CUT_READ_TIMEOUT`].
fn drain_body(s: &mut TcpStream, first: &[u8]) {
    let Some(head_end) = first.windows(4).position(|w| w == b"\r\n\r\n") else {
        return;
    };
    let Some(len) = content_length(&first[..head_end + 4]) else {
        return;
    };
    let rest = len.saturating_sub(first.len() - head_end - 4);
    let _ = s.set_read_timeout(Some(CUT_READ_TIMEOUT));
    let _ = std::io::copy(&mut (&*s).take(rest as u64), &mut std::io::sink());
}

/// The `Content-Length` of a request head, when it has one.
fn content_length(head: &[u8]) -> Option<usize> {
    String::from_utf8_lossy(head).lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })
}
