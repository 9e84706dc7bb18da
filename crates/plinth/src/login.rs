//! `plinth login` and `plinth logout`: checking a user's credentials against a registry and
//! saving them in Docker's config.json (or its credential helper) the way `docker login` does, so
//! plinth and Docker share logins; and erasing them again. The work is plinth-registry's; this
//! module reads the user name and password (flags, stdin, or a prompt without echo) and reports.

use std::io::{BufRead as _, IsTerminal as _, Read as _, Write as _};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use plinth_registry::{Erased, LoginCheck, erase_login, login_registry, save_login};

use crate::cli::UsageError;
use crate::registry::{RegistryOpts, TlsOpts};

/// The registry when none is given, as with `docker login`.
const DEFAULT_REGISTRY: &str = "docker.io";

#[derive(Args)]
pub struct LoginArgs {
    /// The registry: HOST or HOST:PORT [default: docker.io].
    #[arg(value_name = "REGISTRY")]
    pub server: Option<String>,
    /// The user name (asked for when stdin is a terminal).
    #[arg(short, long, value_name = "USER")]
    pub username: Option<String>,
    /// The password. Insecure: a command line is visible to other users; use --password-stdin.
    #[arg(short, long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Read the password from stdin (one line; a trailing newline is removed).
    #[arg(long, conflicts_with = "password")]
    pub password_stdin: bool,
    #[command(flatten)]
    pub tls: TlsOpts,
}

impl std::fmt::Debug for LoginArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginArgs")
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_stdin", &self.password_stdin)
            .field("tls", &self.tls)
            .finish()
    }
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry: HOST or HOST:PORT [default: docker.io].
    #[arg(value_name = "REGISTRY")]
    pub server: Option<String>,
}

fn registry_arg(server: Option<&str>) -> Result<String> {
    let server = server.unwrap_or(DEFAULT_REGISTRY);
    login_registry(server).map_err(|e| UsageError(format!("error: REGISTRY: {e}")).into())
}

/// The password from stdin: one line, its newline removed.
fn password_from_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .lock()
        .read_to_string(&mut text)
        .context("reading the password from stdin")?;
    let line = text
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&text);
    if line.contains(['\n', '\r']) {
        return Err(UsageError(
            "error: --password-stdin: stdin has more than one line; give the password alone"
                .to_string(),
        )
        .into());
    }
    Ok(line.to_string())
}

/// Asks for the user name on the terminal.
fn prompt_username(registry: &str) -> Result<String> {
    eprint!("Username for {registry}: ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the user name")?;
    Ok(line.trim().to_string())
}

/// `plinth login [REGISTRY]`.
pub fn login(args: LoginArgs) -> Result<ExitCode> {
    let registry = registry_arg(args.server.as_deref())?;
    let terminal = std::io::stdin().is_terminal();
    if args.password.is_some() {
        eprintln!(
            "WARNING! Using --password on the command line is insecure. Use --password-stdin."
        );
    }
    let username = match args.username {
        Some(u) => u,
        None if args.password_stdin => {
            return Err(UsageError(
                "error: --password-stdin needs --username (stdin holds the password)".to_string(),
            )
            .into());
        }
        None if terminal => prompt_username(&registry)?,
        None => {
            return Err(UsageError(
                "error: no user name: give --username (stdin is not a terminal)".to_string(),
            )
            .into());
        }
    };
    if username.is_empty() || username.contains(':') {
        return Err(UsageError(
            "error: the user name must not be empty or contain ':'".to_string(),
        )
        .into());
    }
    let password = match args.password {
        Some(p) => p,
        None if args.password_stdin => password_from_stdin()?,
        None if terminal => rpassword::prompt_password(format!("Password for {username}: "))
            .context("reading the password from the terminal")?,
        None => {
            return Err(UsageError(
                "error: no password: use --password-stdin to read it from stdin (stdin is not a terminal)"
                    .to_string(),
            )
            .into());
        }
    };
    if password.is_empty() {
        return Err(UsageError("error: the password is empty".to_string()).into());
    }

    let opts = RegistryOpts {
        tls: args.tls,
        creds: Some(format!("{username}:{password}")),
    };
    let client = crate::registry::client(&opts)?;
    // The error names the registry and the user already.
    let check = client.login(&registry)?;
    if check == LoginCheck::NotRequired {
        eprintln!(
            "warning: {registry} does not ask for credentials; they were saved without being checked"
        );
    }
    let saved = save_login(None, &registry, &username, &password)
        .with_context(|| format!("saving the login for {registry}"))?;
    eprintln!("Login succeeded (credentials saved in {saved})");
    Ok(ExitCode::SUCCESS)
}

/// `plinth logout [REGISTRY]`.
pub fn logout(args: LogoutArgs) -> Result<ExitCode> {
    let registry = registry_arg(args.server.as_deref())?;
    let erased = erase_login(None, &registry)
        .with_context(|| format!("removing the login for {registry}"))?;
    match erased {
        Erased::NothingStored => eprintln!("Not logged in to {registry}"),
        Erased::ConfigFile(path) => eprintln!(
            "Removed the login credentials for {registry} from {}",
            path.display()
        ),
        Erased::Helper { helper } => eprintln!(
            "Removed the login credentials for {registry} from the credential helper docker-credential-{helper}"
        ),
    }
    Ok(ExitCode::SUCCESS)
}
