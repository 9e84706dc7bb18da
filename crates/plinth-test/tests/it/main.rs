//! plinth-test's integration tests: one binary, one module per area.

mod runtime;
mod static_checks;
mod support;
