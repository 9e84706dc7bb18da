//! Where the image contract lives. The defaults are the documented paths (`/application`,
//! `/container`); `PLINTH_APP_DIR` and `PLINTH_CONTAINER_DIR` move them (tests, and images that
//! cannot use the standard paths).

use std::path::{Path, PathBuf};

/// The two roots of the image contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `/application`: the service (`run`), its env contract, logging and data volumes.
    pub app: PathBuf,
    /// `/container`: hooks, tests, services.
    pub container: PathBuf,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            app: PathBuf::from("/application"),
            container: PathBuf::from("/container"),
        }
    }
}

impl Layout {
    /// The layout from `PLINTH_APP_DIR` / `PLINTH_CONTAINER_DIR`, else the defaults.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Layout {
        let d = Layout::default();
        Layout {
            app: get("PLINTH_APP_DIR")
                .filter(|s| !s.is_empty())
                .map_or(d.app, PathBuf::from),
            container: get("PLINTH_CONTAINER_DIR")
                .filter(|s| !s.is_empty())
                .map_or(d.container, PathBuf::from),
        }
    }

    /// `/application/env.toml`: the environment contract.
    pub fn env_contract(&self) -> PathBuf {
        self.app.join("env.toml")
    }
    /// `/application/run`: the service when the image has no CMD.
    pub fn run_script(&self) -> PathBuf {
        self.app.join("run")
    }
    /// `/application/logging`: files legacy software writes, followed to stdout/stderr.
    pub fn logging_dir(&self) -> PathBuf {
        self.app.join("logging")
    }
    /// `/container/compile`: runs before the service on every start.
    pub fn compile_hook(&self) -> PathBuf {
        self.container.join("compile")
    }
    /// `/container/init.d`: hooks run in name order after `compile`.
    pub fn init_d(&self) -> PathBuf {
        self.container.join("init.d")
    }
    /// `/container/test`: the image's own test script (`plinth-init test [SUITE]`).
    pub fn test_script(&self) -> PathBuf {
        self.container.join("test")
    }
    /// `/container/tests`: check files (`*.toml`) for `plinth-init test` and `health`.
    pub fn tests_dir(&self) -> PathBuf {
        self.container.join("tests")
    }
    /// `/container/services.toml`: the optional supervised services.
    pub fn services_file(&self) -> PathBuf {
        self.container.join("services.toml")
    }
    /// A path shown in messages.
    pub fn show(p: &Path) -> String {
        p.display().to_string()
    }
}
