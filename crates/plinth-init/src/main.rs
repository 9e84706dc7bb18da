//! The `plinth-init` binary: argument parsing and rendering over the `plinth_init` library.
//! No argument library: the binary goes into every image and stays small.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;

use plinth_init::checks::{self, Probe};
use plinth_init::contract::{Contract, RenderFormat};
use plinth_init::health;
use plinth_init::layout::Layout;
use plinth_init::supervisor::{self, Settings};

const HELP: &str = "\
plinth-init: the entrypoint of plinth's images (PID 1)

USAGE (as the image's ENTRYPOINT [\"/usr/sbin/plinth-init\", \"--\"]):
    plinth-init [--] [CMD [ARG...]]
        Runs CMD (else /application/run) as the service: forwards SIGTERM, SIGINT, SIGHUP,
        SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH to it, reaps zombies and exits with its code
        (128 + signal when it was killed). Before it: PACKAGE_URL, the env contract
        (/application/env.toml), /container/compile and /container/init.d/*, and the services
        of /container/services.toml. Files written to /application/logging are copied to
        stdout/stderr.

COMMANDS:
    plinth-init env [--format text|json|markdown]
        Prints the image's env contract: every variable, required or default, type, description.
    plinth-init env --check
        Checks the current environment against the contract; lists every problem (exit 1).
    plinth-init health [--ready]
        Runs the image's checks (/container/tests/*.toml, probe `health` or `ready`): exit 0
        and `ok: ...`, or exit 1 and the first failure, for HEALTHCHECK and exec probes.
    plinth-init health --serve ADDR
        Serves GET /healthz and /readyz on ADDR (what PLINTH_HEALTH_ADDR starts).
    plinth-init test [SUITE...] [--format tap|json]
        Runs /container/test SUITE... when it exists, else the checks in
        /container/tests/*.toml (SUITE = a file's name without .toml), as TAP or JSON.
    plinth-init --version | --help

ENVIRONMENT:
    PLINTH_MODE=maintenance   run hooks and services but not the service; stay up until stopped
    PLINTH_STOP_TIMEOUT=8s    grace period between SIGTERM and SIGKILL of the service's group
    PLINTH_HEALTH_ADDR=ADDR   serve /healthz and /readyz (e.g. 0.0.0.0:8081)
    PACKAGE_URL, PACKAGE_SHA256
                              download, verify and unpack a package into /application first
                              (refused without PACKAGE_SHA256)
    NAME_FILE                 read the contract variable NAME from a file (secrets)
    PLINTH_APP_DIR, PLINTH_CONTAINER_DIR
                              move /application and /container

EXIT CODES:
    the service's code; 128+N when it was killed by signal N; a failed hook's code; 1 when
    the start failed (contract, package, services); 2 for a usage error; 126/127 when the
    command cannot be run / is not found.
";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let code = match args.first().and_then(|a| a.to_str()) {
        Some("--help" | "-h" | "help") => {
            print!("{HELP}");
            0
        }
        Some("--version" | "-V" | "version") => {
            println!("plinth-init {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Some("env") => env_cmd(&args[1..]),
        Some("health") => health_cmd(&args[1..]),
        Some("test") => test_cmd(&args[1..]),
        Some("--") => run(args[1..].to_vec()),
        Some(a) if a.starts_with('-') => usage(&format!("unknown option {a}")),
        _ => run(args),
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn get(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn layout() -> Layout {
    Layout::from_env(get)
}

fn say(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "plinth-init: {msg}");
}

fn usage(msg: &str) -> i32 {
    say(&format!("{msg}\n(see `plinth-init --help`)"));
    2
}

fn run(command: Vec<OsString>) -> i32 {
    let self_exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
    let settings = match Settings::from_env(command, get, self_exe) {
        Ok(s) => s,
        Err(e) => {
            say(&e.to_string());
            return 1;
        }
    };
    match supervisor::run(&settings, &mut |m: &str| say(m)) {
        Ok(code) => code,
        Err(e) => {
            say(&e.to_string());
            e.exit_code()
        }
    }
}

fn env_cmd(args: &[OsString]) -> i32 {
    let mut format = RenderFormat::Text;
    let mut check = false;
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        match a.as_str() {
            "--check" => check = true,
            "--format" => match it.next().as_deref() {
                Some("text") => format = RenderFormat::Text,
                Some("json") => format = RenderFormat::Json,
                Some("markdown" | "md") => format = RenderFormat::Markdown,
                other => {
                    return usage(&format!(
                        "env --format takes text, json or markdown, not {other:?}"
                    ));
                }
            },
            "--json" => format = RenderFormat::Json,
            other => return usage(&format!("env: unknown argument {other}")),
        }
    }
    let path = layout().env_contract();
    let contract = match Contract::load(&path) {
        Ok(Some(c)) => c,
        Ok(None) if check => {
            println!("ok: no env contract ({} does not exist)", path.display());
            return 0;
        }
        Ok(None) => {
            say(&format!(
                "this image has no env contract: {} does not exist",
                path.display()
            ));
            return 1;
        }
        Err(e) => {
            say(&e.to_string());
            return 1;
        }
    };
    if check {
        let env = std::env::vars().collect();
        return match contract.resolve(&env) {
            Ok(_) => {
                println!(
                    "ok: the environment meets {} ({} variables)",
                    path.display(),
                    contract.vars.len()
                );
                0
            }
            Err(problems) => {
                say(&problems.to_string());
                1
            }
        };
    }
    print!("{}", contract.render(format));
    0
}

fn health_cmd(args: &[OsString]) -> i32 {
    let mut probe = Probe::Health;
    let mut serve = None;
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        match a.as_str() {
            "--ready" => probe = Probe::Ready,
            "--serve" => match it.next() {
                Some(addr) => serve = Some(addr),
                None => return usage("health --serve needs an address, e.g. 0.0.0.0:8081"),
            },
            other => return usage(&format!("health: unknown argument {other}")),
        }
    }
    let layout = layout();
    if let Some(addr) = serve {
        return match health::serve(&addr, &layout) {
            Ok(()) => 0,
            Err(e) => {
                say(&e.to_string());
                1
            }
        };
    }
    match health::evaluate(&layout, probe) {
        Ok(v) => {
            println!("{}", v.line);
            i32::from(!v.ok)
        }
        Err(e) => {
            println!("unhealthy: {e}");
            1
        }
    }
}

fn test_cmd(args: &[OsString]) -> i32 {
    let layout = layout();
    let script = layout.test_script();
    let runnable = std::fs::metadata(&script)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false);
    if runnable {
        let err = std::process::Command::new(&script).args(args).exec();
        say(&format!("cannot run {}: {err}", script.display()));
        return 126;
    }
    let mut json = false;
    let mut wanted = Vec::new();
    let mut it = args.iter().map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        match a.as_str() {
            "--format" => match it.next().as_deref() {
                Some("tap") => json = false,
                Some("json") => json = true,
                other => return usage(&format!("test --format takes tap or json, not {other:?}")),
            },
            s if s.starts_with('-') => return usage(&format!("test: unknown option {s}")),
            s => wanted.push(s.to_string()),
        }
    }
    let suites = match checks::load_dir(&layout.tests_dir()) {
        Ok(s) => s,
        Err(e) => {
            say(&e.to_string());
            return 2;
        }
    };
    for w in &wanted {
        if !suites.iter().any(|s| &s.name == w) {
            let known: Vec<&str> = suites.iter().map(|s| s.name.as_str()).collect();
            say(&format!(
                "no test suite {w:?}: {} has {}",
                layout.tests_dir().display(),
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ));
            return 2;
        }
    }
    let chosen: Vec<_> = suites
        .iter()
        .filter(|s| wanted.is_empty() || wanted.contains(&s.name))
        .collect();
    let total: usize = chosen.iter().map(|s| s.checks.len()).sum();
    if total == 0 {
        say(&format!(
            "nothing to test: no executable {} and no checks in {}/*.toml",
            script.display(),
            layout.tests_dir().display()
        ));
        return 2;
    }
    let mut failed = 0;
    let mut n = 0;
    let mut results = Vec::new();
    if !json {
        println!("TAP version 13\n1..{total}");
    }
    for suite in chosen {
        for check in &suite.checks {
            n += 1;
            let out = check.run();
            if !out.passed {
                failed += 1;
            }
            if json {
                results.push(serde_json::json!({
                    "suite": suite.name,
                    "name": check.name,
                    "passed": out.passed,
                    "reason": out.reason,
                    "seconds": out.elapsed.as_secs_f64(),
                }));
            } else {
                let status = if out.passed { "ok" } else { "not ok" };
                println!("{status} {n} - {}: {}", suite.name, check.name);
                if !out.passed {
                    println!(
                        "  ---\n  message: {}\n  ...",
                        serde_json::Value::String(out.reason.clone())
                    );
                }
            }
        }
    }
    if json {
        let doc =
            serde_json::json!({ "passed": total - failed, "failed": failed, "results": results });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        println!("# {} passed, {failed} failed", total - failed);
    }
    i32::from(failed > 0)
}
