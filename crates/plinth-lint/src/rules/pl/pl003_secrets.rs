//! PL003 secret-in-build.

use std::sync::LazyLock;

use plinth_dockerfile::{Command, Span};
use regex::Regex;

use super::{basename, is_url, literal, run_text};
use crate::Ctx;
use crate::finding::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

static META: RuleMeta = RuleMeta {
    code: "PL003",
    name: "secret-in-build",
    severity: Severity::Error,
    summary: "Credentials must not be baked into the image or its history; use RUN --mount=type=secret.",
};

/// Flags credentials that end up in the image or its build history:
///
/// - an `ENV`/`ARG` whose *name* is a credential: its last `_`-separated word is `PASSWORD`,
///   `PASSWD`, `PASS`, `PASSPHRASE`, `SECRET`, `TOKEN`, `APIKEY`, `CREDENTIAL(S)`, or `KEY` after
///   `API`/`ACCESS`/`PRIVATE`/`SECRET`/`AUTH` (`GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`), or it
///   is `SECRET_KEY_BASE`. Only the last word counts, so names that describe *where* a secret
///   is (`TOKEN_URL`, `PASSWORD_FILE`, `SECRET_PATH`) are not flagged; neither are values that
///   are empty, booleans (`ALLOW_EMPTY_PASSWORD=yes`) or paths (`/run/secrets/db`). An `ARG`
///   without a default is flagged (its build-arg value is recorded in the image history);
/// - any ENV/ARG value, RUN text or COPY heredoc containing a well-known credential shape: AWS
///   key ids (`AKIA`/`ASIA` + 16), `-----BEGIN ... PRIVATE KEY-----`, GitHub/GitLab/Slack/npm/
///   Stripe token prefixes, or a URL with a literal password (`https://user:pw@host`; a `$VAR`
///   password is not flagged);
/// - `COPY`/`ADD` of private keys (`id_rsa`, `id_dsa`, `id_ecdsa`, `id_ed25519`, `*.key`,
///   `*.pem` unless the name says certificate: `cert`, `crt`, `ca`, `chain`, `bundle`, `.ssh`
///   directories), `.env` files (not `.env.example`/`.sample`/`.template`/`.dist`), and
///   credential files (`.npmrc`, `.pypirc`, `.netrc`, `.git-credentials`, `.aws/credentials`,
///   `.docker/config.json`), as source or as destination file.
///
/// `RUN --mount=type=secret` is the right way and is never flagged. Known misses: secrets in
/// files under other names, `COPY . .` that takes a `.env` along, renamed keys. Known false
/// positives: `.npmrc` files without tokens, `*.pem`/`*.key` that hold public material.
pub(super) struct SecretInBuild;

static SECRET_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
        r"|-----BEGIN [A-Z ]*PRIVATE KEY",
        r"|\bgh[pousr]_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{22,}",
        r"|\bglpat-[A-Za-z0-9_-]{20,}|\bxox[abprs]-[A-Za-z0-9-]{10,}",
        r"|\bnpm_[A-Za-z0-9]{36}\b|\bsk_live_[A-Za-z0-9]{16,}",
        r"|\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@'\x22]+:[^$/\s@'\x22{][^/\s@'\x22]*@",
    ))
    .expect("regex")
});

/// A short description of the credential-looking text in `text`, if any.
fn secret_value(text: &str) -> Option<String> {
    SECRET_VALUE.find(text).map(|m| {
        let s = m.as_str();
        if s.contains("://") {
            "a URL with a password".to_string()
        } else if s.starts_with("-----") {
            "a private key".to_string()
        } else {
            let shown: String = s.chars().take(6).collect();
            format!("a credential ({shown}…)")
        }
    })
}

/// Whether an ENV/ARG name says the variable holds a credential.
fn credential_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if upper == "SECRET_KEY_BASE" {
        return true;
    }
    let words: Vec<&str> = upper
        .split(['_', '-', '.'])
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        [.., last]
            if matches!(
                *last,
                "PASSWORD"
                    | "PASSWD"
                    | "PASS"
                    | "PASSPHRASE"
                    | "SECRET"
                    | "TOKEN"
                    | "APIKEY"
                    | "CREDENTIAL"
                    | "CREDENTIALS"
                    | "ACCESSKEY"
                    | "PRIVATEKEY"
                    | "SECRETKEY"
            ) =>
        {
            true
        }
        [.., prev, "KEY"] => matches!(*prev, "API" | "ACCESS" | "PRIVATE" | "SECRET" | "AUTH"),
        _ => false,
    }
}

/// Whether a literal value is clearly not a secret (empty, a boolean, a path).
fn harmless_value(value: &str) -> bool {
    let v = value.trim();
    v.is_empty()
        || matches!(
            v.to_ascii_lowercase().as_str(),
            "yes" | "no" | "true" | "false" | "0" | "1" | "on" | "off"
        )
        || v.starts_with('/')
        || v.starts_with("./")
        || v.starts_with("~/")
}

/// Why copying `path` (a source, or the destination file) leaks a credential, if it does.
fn secret_file(path: &str) -> Option<&'static str> {
    let p = path.trim_end_matches('/');
    let base = basename(p).to_ascii_lowercase();
    if matches!(
        base.as_str(),
        "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519"
    ) || base == ".ssh"
    {
        return Some("an SSH private key");
    }
    if base.ends_with(".key") {
        return Some("a private key");
    }
    if base.ends_with(".pem")
        && !["cert", "crt", "ca.", "ca-", "ca_", "chain", "bundle"]
            .iter()
            .any(|w| base.contains(w))
    {
        return Some("a private key");
    }
    if base == ".env"
        || (base.starts_with(".env.")
            && !["example", "sample", "template", "dist"]
                .iter()
                .any(|w| base.ends_with(w)))
    {
        return Some("an .env file");
    }
    if matches!(
        base.as_str(),
        ".npmrc" | ".pypirc" | ".netrc" | ".git-credentials"
    ) || p.ends_with(".aws/credentials")
        || p.ends_with(".docker/config.json")
    {
        return Some("a credentials file");
    }
    None
}

impl Rule for SecretInBuild {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        let mut flag = |span: Span, msg: String| out.push(cx.finding(&META, span, msg));
        for a in &cx.stages.meta_args {
            check_arg(cx, a, &mut flag);
        }
        for c in cx.stages.stages.iter().flat_map(|s| s.commands.iter()) {
            match c {
                Command::Arg(a) => check_arg(cx, a, &mut flag),
                Command::Env(e) => {
                    for kv in &e.pairs {
                        if let Some(what) = secret_value(&kv.value) {
                            flag(e.meta.span, format!("ENV {} holds {what}", kv.key));
                        } else if credential_name(&kv.key)
                            && !literal(cx, &kv.value).is_some_and(|v| harmless_value(&v))
                        {
                            flag(
                                e.meta.span,
                                format!(
                                    "ENV {} looks like a credential and stays in the image \
                                     config: use RUN --mount=type=secret",
                                    kv.key
                                ),
                            );
                        }
                    }
                }
                Command::Run(r) => {
                    if let Some(what) = secret_value(&run_text(r)) {
                        flag(r.meta.span, format!("RUN contains {what}"));
                    }
                }
                Command::Copy(_) | Command::Add(_) => {
                    let (kw, sources, heredocs, dest, span) = match c {
                        Command::Copy(c) => ("COPY", &c.sources, &c.heredocs, &c.dest, c.meta.span),
                        Command::Add(a) => ("ADD", &a.sources, &a.heredocs, &a.dest, a.meta.span),
                        _ => continue,
                    };
                    let leak = sources
                        .iter()
                        .filter(|s| !is_url(s))
                        .find_map(|s| secret_file(s).map(|w| ("of", s.as_str(), w)))
                        .or_else(|| {
                            (!dest.ends_with('/'))
                                .then(|| secret_file(dest).map(|w| ("to", dest.as_str(), w)))
                                .flatten()
                        });
                    if let Some((dir, path, what)) = leak {
                        flag(
                            span,
                            format!(
                                "{kw} {dir} {path} puts {what} into a layer: use RUN \
                                 --mount=type=secret"
                            ),
                        );
                    } else if let Some(what) = heredocs.iter().find_map(|h| secret_value(&h.data)) {
                        flag(span, format!("{kw} heredoc contains {what}"));
                    }
                }
                _ => {}
            }
        }
    }
}

fn check_arg(cx: &Ctx<'_>, a: &plinth_dockerfile::ArgCommand, flag: &mut impl FnMut(Span, String)) {
    for p in &a.args {
        if let Some(what) = p.value.as_deref().and_then(secret_value) {
            flag(a.meta.span, format!("ARG {} holds {what}", p.key));
            continue;
        }
        if !credential_name(&p.key) {
            continue;
        }
        let harmless = match &p.value {
            None => false,
            Some(v) => literal(cx, v).is_some_and(|v| harmless_value(&v)),
        };
        if !harmless {
            flag(
                a.meta.span,
                format!(
                    "ARG {} looks like a credential: build args are recorded in the image \
                     history; use RUN --mount=type=secret",
                    p.key
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for n in [
            "GITHUB_TOKEN",
            "db_password",
            "AWS_SECRET_ACCESS_KEY",
            "API_KEY",
            "SECRET",
        ] {
            assert!(credential_name(n), "{n}");
        }
        for n in [
            "TOKEN_URL",
            "PASSWORD_FILE",
            "GPG_KEY",
            "AWS_ACCESS_KEY_ID",
            "KEYRING",
        ] {
            assert!(!credential_name(n), "{n}");
        }
    }

    #[test]
    fn files() {
        assert!(secret_file("keys/id_ed25519").is_some());
        assert!(secret_file("id_ed25519.pub").is_none());
        assert!(secret_file("certs/ca-bundle.pem").is_none());
        assert!(secret_file("tls/server.pem").is_some());
        assert!(secret_file(".env.production").is_some());
        assert!(secret_file(".env.example").is_none());
        assert!(secret_file("home/.aws/credentials").is_some());
    }

    #[test]
    fn values() {
        assert!(secret_value("AKIAABCDEFGHIJKLMNOP").is_some());
        assert!(secret_value("https://user:hunter2@git.example.com/r.git").is_some());
        assert!(secret_value("https://user:${TOKEN}@git.example.com/r.git").is_none());
        assert!(secret_value("https://git.example.com/r.git").is_none());
    }
}
