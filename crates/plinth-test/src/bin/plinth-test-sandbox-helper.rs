//! The sandbox helper as a standalone binary, for this crate's tests (the `plinth` binary
//! plays this role in production by calling `maybe_run_helper` itself).

fn main() {
    plinth_sandbox::maybe_run_helper();
    eprintln!(
        "plinth-test-sandbox-helper: internal helper of plinth's sandbox; it expects `{} <spec-fd> <report-fd>`",
        plinth_sandbox::HELPER_ARG
    );
    std::process::exit(2);
}
