//! The `plinth` command line: argument parsing, store selection, rendering and exit codes.
//! All work is done by the library crates; this binary only wires them to the terminal.

mod cli;
mod render;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
