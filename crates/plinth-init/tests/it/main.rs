//! plinth-init's integration tests: the real binary as PID 1 of a new PID namespace
//! (`unshare --fork --pid --mount-proc`, as root), with real processes, signals and sockets.

mod contract;
mod pid1;
mod services;
mod support;
mod tini;
