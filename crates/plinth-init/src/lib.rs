//! plinth-init: the small static PID 1 that plinth's images run as their ENTRYPOINT.
//!
//! The binary (`main.rs`) is a thin dispatcher over these modules:
//! - [`layout`]: where the image contract lives (`/application`, `/container`), overridable for tests;
//! - [`contract`]: the environment contract (`/application/env.toml`), `NAME_FILE` secrets;
//! - [`hooks`]: `/container/compile` and `/container/init.d/*`;
//! - [`package`]: `PACKAGE_URL` + `PACKAGE_SHA256`, verified and unpacked into `/application`;
//! - [`logs`]: follows the files legacy software writes into `/application/logging`;
//! - [`checks`]: runtime checks (command, http, addr, port, process, file) from `/container/tests/*.toml`;
//! - [`health`]: `plinth-init health [--ready]` and the `/healthz` `/readyz` HTTP server;
//! - [`services`]: the optional `/container/services.toml` (several processes, one purpose);
//! - [`supervisor`]: PID 1 itself: signals, reaping, the grace period, services, exit codes;
//! - [`sys`]: the few raw system calls, each behind a safe function.
//!
//! Nothing here prints or exits except through values the binary renders.

pub mod checks;
pub mod contract;
pub mod health;
pub mod hooks;
pub mod layout;
pub mod logs;
pub mod package;
pub mod services;
pub mod supervisor;
pub mod sys;
