//! The `plinth` command line: argument parsing, store selection, rendering and exit codes.
//! All work is done by the library crates; this binary only wires them to the terminal.

#![forbid(unsafe_code)]

mod cli;
mod family;
mod init_context;
mod lint;
mod login;
mod new;
mod pin;
mod registry;
mod render;
mod rootfs;
mod test_cmd;

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use clap::Parser;

fn main() -> ExitCode {
    // The sandbox helper re-executes this binary; it must take over before anything else runs.
    plinth_sandbox::maybe_run_helper();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            // A Dockerfile error is already formatted as FILE:LINE:COL: message and exits 2.
            if let Some(usage) = err.downcast_ref::<cli::UsageError>() {
                eprintln!("{usage}");
                return ExitCode::from(2);
            }
            eprintln!("error: {}", chain_message(&err));
            ExitCode::from(1)
        }
    }
}

/// A flag set by SIGINT and SIGTERM, so long work stops cleanly (a running RUN step is killed,
/// nothing is committed, temporary directories are removed). A second signal exits at once.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // The second signal terminates (exit code 130-like), the first only sets the flag.
            let _ = signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&flag));
            let _ = signal_hook::flag::register(sig, Arc::clone(&flag));
        }
        flag
    })
    .clone()
}

/// The error and its causes joined with `: `, leaving out a cause whose text the message already
/// has (library errors often include their source in their own message).
fn chain_message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::chain_message;

    #[derive(Debug, thiserror::Error)]
    #[error("reading x: {0}")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn causes_already_in_the_message_are_not_repeated() {
        let io = std::io::Error::other("disk on fire");
        let err = anyhow::Error::new(Outer(io)).context("loading y");
        assert_eq!(chain_message(&err), "loading y: reading x: disk on fire");
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(chain_message(&plain), "outer: inner");
    }
}
