//! The built-in checklist any image can run (`plinth test IMAGE --checklist`), from seed 003's
//! Docker image checklist:
//!
//! - **non-root**: the image's USER is not root (a name is looked up in the image's /etc/passwd);
//! - **volumes**: every declared VOLUME exists in the image as a directory;
//! - **healthcheck**: the image has a HEALTHCHECK and it passes within its start period and
//!   retries (`start-period + retries x interval`, at most [`ChecklistOptions::max_wait`]), run
//!   inside a container of the image as Docker would;
//! - **network off**: the service starts and stays up with the network off (only `lo`), and its
//!   health check passes there: nothing is downloaded at start-up;
//! - **log files**: after it ran, the container's writable layer has no log files (`*.log`, files
//!   under `/var/log`): the service logs to stdout/stderr;
//! - **sigterm**: SIGTERM to the container's PID 1 ends it within the grace period
//!   ([`ChecklistOptions::grace`], Docker's 10 s) with a clean code (0, or 143 for a service that
//!   lets SIGTERM kill it).

use std::path::Path;
use std::time::{Duration, Instant};

use plinth_sandbox::Network;

use crate::image::ImageView;
use crate::model::{Status, TestResult};
use crate::runtime::{Runtime, Service, ServiceOptions};

/// How long the checklist waits.
#[derive(Debug, Clone)]
pub struct ChecklistOptions {
    /// SIGTERM to exit (Docker's `docker stop` default: 10 s).
    pub grace: Duration,
    /// How long the service must stay up with the network off (at least; the health check's
    /// start period when longer).
    pub settle: Duration,
    /// The longest wait for a health check to pass.
    pub max_wait: Duration,
}

impl Default for ChecklistOptions {
    fn default() -> Self {
        ChecklistOptions {
            grace: Duration::from_secs(10),
            settle: Duration::from_secs(2),
            max_wait: Duration::from_secs(120),
        }
    }
}

const SUITE: &str = "checklist";

fn result(name: &str, started: Instant, outcome: Result<(), String>) -> TestResult {
    let (status, message) = match outcome {
        Ok(()) => (Status::Passed, String::new()),
        Err(m) => (Status::Failed, m),
    };
    TestResult {
        suite: SUITE.to_string(),
        name: name.to_string(),
        kind: "checklist",
        status,
        message,
        duration: started.elapsed(),
    }
}

fn error(name: &str, started: Instant, message: String) -> TestResult {
    TestResult {
        suite: SUITE.to_string(),
        name: name.to_string(),
        kind: "checklist",
        status: Status::Error,
        message,
        duration: started.elapsed(),
    }
}

/// Runs the whole checklist.
pub fn run(view: &ImageView, rt: &Runtime, opts: &ChecklistOptions) -> Vec<TestResult> {
    let mut out = vec![non_root(view), volumes(view)];
    let health = HealthSpec::of(view);

    // The service with the host's network: health check, log files, SIGTERM.
    let t = Instant::now();
    match rt.start_service(&ServiceOptions {
        network: Network::Host,
        env: Vec::new(),
    }) {
        Ok(service) => {
            out.push(result(
                "healthcheck passes within its start period and retries",
                t,
                health_passes(&service, &health, opts),
            ));
            let t = Instant::now();
            std::thread::sleep(opts.settle.min(Duration::from_secs(5)));
            out.push(result(
                "logs to stdout/stderr, writes no log files",
                t,
                no_log_files(service.upper()),
            ));
            let t = Instant::now();
            out.push(result(
                "stops on SIGTERM within the grace period with a clean exit code",
                t,
                stops_on_sigterm(&service, opts.grace),
            ));
        }
        Err(e) => {
            let msg = format!("the container did not start: {e}");
            for name in [
                "healthcheck passes within its start period and retries",
                "logs to stdout/stderr, writes no log files",
                "stops on SIGTERM within the grace period with a clean exit code",
            ] {
                out.push(error(name, t, msg.clone()));
            }
        }
    }

    // Again with the network off.
    let t = Instant::now();
    let name = "starts and stays healthy with the network off";
    match rt.start_service(&ServiceOptions {
        network: Network::None,
        env: Vec::new(),
    }) {
        Ok(service) => out.push(result(name, t, network_off(&service, &health, opts))),
        Err(e) => out.push(error(name, t, format!("the container did not start: {e}"))),
    }
    out
}

/// The image's USER is not root.
pub fn non_root(view: &ImageView) -> TestResult {
    let t = Instant::now();
    let name = "runs as a non-root user";
    let user = view.config().config.user.clone().unwrap_or_default();
    let who = user.split(':').next().unwrap_or_default().to_string();
    let outcome = if who.is_empty() {
        Err(
            "no USER: the container runs as root; add `USER <uid>` (e.g. USER 1000:1000)"
                .to_string(),
        )
    } else if let Ok(uid) = who.parse::<u64>() {
        if uid == 0 {
            Err(format!("USER {user} is root"))
        } else {
            Ok(())
        }
    } else {
        match view.read("/etc/passwd") {
            Ok(Some(bytes)) => {
                let text = String::from_utf8_lossy(&bytes);
                let uid = text.lines().find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 3 && f[0] == who).then(|| f[2].to_string())
                });
                match uid.as_deref() {
                    Some("0") => Err(format!("USER {user} has uid 0 in /etc/passwd")),
                    Some(_) => Ok(()),
                    None => Err(format!("USER {user} is not in the image's /etc/passwd")),
                }
            }
            Ok(None) => Err(format!(
                "USER {user} is a name but the image has no /etc/passwd"
            )),
            Err(e) => return error(name, t, e.to_string()),
        }
    };
    result(name, t, outcome)
}

/// Every declared volume exists as a directory.
pub fn volumes(view: &ImageView) -> TestResult {
    let t = Instant::now();
    let mut missing = Vec::new();
    for v in view.config().config.volumes.keys() {
        let is_dir = view
            .stat(v)
            .is_some_and(|e| e.kind == crate::model::FileKind::Directory);
        if !is_dir {
            missing.push(v.clone());
        }
    }
    let outcome = if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "declared VOLUME {} {} not a directory in the image: create {} (owned by the service's user) before VOLUME",
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" },
            if missing.len() == 1 { "it" } else { "them" }
        ))
    };
    result("declared volumes exist", t, outcome)
}

/// The image's HEALTHCHECK as a command and Docker's timing.
#[derive(Debug, Clone)]
pub struct HealthSpec {
    /// `None`: no HEALTHCHECK (or `NONE`).
    pub argv: Option<Vec<String>>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u32,
}

impl HealthSpec {
    /// From the image config (Docker's defaults for unset fields: 30 s, 30 s, 0 s, 3).
    pub fn of(view: &ImageView) -> HealthSpec {
        let hc = view.config().config.healthcheck.clone();
        let ns = |v: i64, default: Duration| {
            if v > 0 {
                Duration::from_nanos(v as u64)
            } else {
                default
            }
        };
        let argv = hc
            .as_ref()
            .and_then(|h| match h.test.first().map(String::as_str) {
                Some("CMD") => Some(h.test[1..].to_vec()),
                Some("CMD-SHELL") => Some(vec![
                    "/bin/sh".to_string(),
                    "-c".to_string(),
                    h.test[1..].join(" "),
                ]),
                _ => None,
            });
        HealthSpec {
            argv,
            interval: ns(
                hc.as_ref().map_or(0, |h| h.interval),
                Duration::from_secs(30),
            ),
            timeout: ns(
                hc.as_ref().map_or(0, |h| h.timeout),
                Duration::from_secs(30),
            ),
            start_period: ns(hc.as_ref().map_or(0, |h| h.start_period), Duration::ZERO),
            retries: hc
                .as_ref()
                .map(|h| h.retries)
                .filter(|r| *r > 0)
                .unwrap_or(3) as u32,
        }
    }
}

/// Runs the health check in `service` until it passes or its budget is spent.
fn health_passes(
    service: &Service,
    spec: &HealthSpec,
    opts: &ChecklistOptions,
) -> Result<(), String> {
    let Some(argv) = &spec.argv else {
        return Err("the image has no HEALTHCHECK: add one so the runtime can tell a hung service from a working one".into());
    };
    let budget = (spec.start_period + spec.interval * spec.retries).min(opts.max_wait);
    let until = Instant::now() + budget;
    let poll = spec.interval.min(Duration::from_secs(1));
    let mut last = String::new();
    loop {
        if let Some(code) = service.wait(Duration::ZERO) {
            return Err(format!(
                "the container exited with {code} before its health check passed; last check: {last}"
            ));
        }
        match service.exec(argv, &[], Some(spec.timeout)) {
            Ok(out) if out.code == 0 => return Ok(()),
            Ok(out) => {
                last = format!(
                    "exit {}: {}",
                    out.code,
                    String::from_utf8_lossy(&out.stdout)
                        .lines()
                        .chain(String::from_utf8_lossy(&out.stderr).lines())
                        .last()
                        .unwrap_or_default()
                );
            }
            Err(e) => last = e.to_string(),
        }
        if Instant::now() >= until {
            return Err(format!(
                "the health check `{}` did not pass within {budget:?} (start period {:?} + {} retries x {:?}); last: {last}",
                argv.join(" "),
                spec.start_period,
                spec.retries,
                spec.interval
            ));
        }
        std::thread::sleep(poll);
    }
}

/// Log files in the container's writable layer.
fn no_log_files(upper: &Path) -> Result<(), String> {
    let mut found = Vec::new();
    let mut stack = vec![upper.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                let rel = p
                    .strip_prefix(upper)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .into_owned();
                let size = e.metadata().map(|m| m.len()).unwrap_or(0);
                if size > 0 && (rel.starts_with("var/log/") || rel.ends_with(".log")) {
                    found.push(format!("/{rel} ({size} bytes)"));
                }
            }
        }
    }
    found.sort();
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the service wrote log files: {}; log to stdout/stderr instead (plinth-init copies files in /application/logging there for software that cannot)",
            found.join(", ")
        ))
    }
}

fn stops_on_sigterm(service: &Service, grace: Duration) -> Result<(), String> {
    if let Some(code) = service.wait(Duration::ZERO) {
        return Err(format!("the container had already exited with {code}"));
    }
    let t = Instant::now();
    service.signal(15);
    match service.wait(grace) {
        Some(0) | Some(143) => Ok(()),
        Some(code) => Err(format!(
            "exited with {code} after SIGTERM ({:.1}s): expected 0 (or 143)",
            t.elapsed().as_secs_f64()
        )),
        None => Err(format!(
            "still running {grace:?} after SIGTERM: the runtime would SIGKILL it; handle SIGTERM (or run under plinth-init, which forwards it)"
        )),
    }
}

fn network_off(
    service: &Service,
    spec: &HealthSpec,
    opts: &ChecklistOptions,
) -> Result<(), String> {
    if spec.argv.is_some() {
        health_passes(service, spec, opts).map_err(|e| format!("with the network off, {e}"))?;
    }
    let settle = opts.settle.max(spec.start_period).min(opts.max_wait);
    if let Some(code) = service.wait(settle) {
        let (stdout, stderr) = service.output();
        let tail = String::from_utf8_lossy(&stderr)
            .lines()
            .chain(String::from_utf8_lossy(&stdout).lines())
            .last()
            .unwrap_or_default()
            .to_string();
        return Err(format!(
            "the container exited with {code} within {settle:?} with the network off: does it download at start-up? last output: {tail}"
        ));
    }
    Ok(())
}
