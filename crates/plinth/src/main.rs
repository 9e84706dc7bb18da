//! The `plinth` command line: argument parsing, store selection, rendering and exit codes.
//! All work is done by the library crates; this binary only wires them to the terminal.

mod cli;
mod render;

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
            eprintln!("error: {err:#}");
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
