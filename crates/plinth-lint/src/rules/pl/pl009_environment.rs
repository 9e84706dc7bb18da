//! PL009 environment-specific-image.

use plinth_dockerfile::{Command, Span};

use super::{basename, is_url, literal};
use crate::Ctx;
use crate::finding::{Finding, Severity};
use crate::rules::{Rule, RuleMeta};

static META: RuleMeta = RuleMeta {
    code: "PL009",
    name: "environment-specific-image",
    severity: Severity::Warning,
    summary: "Build one image for every environment; configure the environment at run time.",
};

/// Flags builds that bake one deployment environment into the image (seed 003, checklist
/// item 4: the same image should run in QA, staging and production, configured at run time):
///
/// - an `ENV`/`ARG` with a *generic* environment name (`ENV`, `ENVIRONMENT`, `APP_ENV`,
///   `APP_ENVIRONMENT`, `DEPLOY_ENV`, `DEPLOYMENT_ENV`, `DEPLOY_ENVIRONMENT`, `TARGET_ENV`,
///   `RUNTIME_ENV`, `STAGE`) set to an environment (`prod`, `production`, `staging`, `stage`,
///   `stg`, `dev`, `development`, `qa`, `test`, `testing`, `uat`, `preprod`, `live`);
/// - `COPY`/`ADD` of a file named for one environment: an inner dot-separated part of its name
///   is an environment (`config.production.json`, `appsettings.Staging.json`, `app.qa.yml`;
///   `test`/`testing` excepted there, as `*.test.js` are test files), or `.env.<environment>`.
///
/// Framework variables are deliberately *not* flagged: `NODE_ENV=production`,
/// `RAILS_ENV=production`, `RACK_ENV`, `FLASK_ENV`, `ASPNETCORE_ENVIRONMENT`... select a
/// framework's optimised mode, are the documented practice for images and are the same in every
/// deployment. An `ARG` without a default is not flagged (its value is not known here). Known
/// misses: directories named for environments (`COPY config/production/ ...`).
pub(super) struct EnvironmentSpecificImage;

const NAMES: [&str; 11] = [
    "ENV",
    "ENVIRONMENT",
    "APP_ENV",
    "APP_ENVIRONMENT",
    "DEPLOY_ENV",
    "DEPLOYMENT_ENV",
    "DEPLOY_ENVIRONMENT",
    "TARGET_ENV",
    "RUNTIME_ENV",
    "STAGE",
    "APPLICATION_ENV",
];

const ENVIRONMENTS: [&str; 13] = [
    "prod",
    "production",
    "staging",
    "stage",
    "stg",
    "dev",
    "development",
    "qa",
    "test",
    "testing",
    "uat",
    "preprod",
    "live",
];

fn environment(value: &str) -> bool {
    ENVIRONMENTS.contains(&value.trim().to_ascii_lowercase().as_str())
}

/// The environment a copied file's name is for, if any.
fn environment_file(path: &str) -> Option<String> {
    let base = basename(path).to_ascii_lowercase();
    if let Some(env) = base.strip_prefix(".env.")
        && environment(env)
    {
        return Some(env.to_string());
    }
    let parts: Vec<&str> = base.split('.').collect();
    if parts.len() < 3 {
        return None;
    }
    parts[1..parts.len() - 1]
        .iter()
        .find(|p| environment(p) && !matches!(**p, "test" | "testing"))
        .map(|p| p.to_string())
}

impl Rule for EnvironmentSpecificImage {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, cx: &Ctx<'_>, out: &mut Vec<Finding>) {
        let mut vars: Vec<(&str, &str, Option<&str>, Span)> = Vec::new();
        for a in &cx.stages.meta_args {
            for p in &a.args {
                vars.push(("ARG", &p.key, p.value.as_deref(), a.meta.span));
            }
        }
        for c in cx.stages.stages.iter().flat_map(|s| s.commands.iter()) {
            match c {
                Command::Arg(a) => {
                    for p in &a.args {
                        vars.push(("ARG", &p.key, p.value.as_deref(), a.meta.span));
                    }
                }
                Command::Env(e) => {
                    for kv in &e.pairs {
                        vars.push(("ENV", &kv.key, Some(&kv.value), e.meta.span));
                    }
                }
                Command::Copy(_) | Command::Add(_) => {
                    let (kw, sources, span) = match c {
                        Command::Copy(c) => ("COPY", &c.sources, c.meta.span),
                        Command::Add(a) => ("ADD", &a.sources, a.meta.span),
                        _ => continue,
                    };
                    if let Some((src, env)) = sources
                        .iter()
                        .filter(|s| !is_url(s))
                        .find_map(|s| environment_file(s).map(|e| (s, e)))
                    {
                        out.push(cx.finding(
                            &META,
                            span,
                            format!(
                                "{kw} {src} bakes the {env} configuration into the image: build \
                                 one image and mount or pass the configuration at run time"
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        for (kw, key, value, span) in vars {
            let generic = NAMES.contains(&key.to_ascii_uppercase().as_str());
            if generic
                && let Some(v) = value.and_then(|v| literal(cx, v))
                && environment(&v)
            {
                out.push(cx.finding(
                    &META,
                    span,
                    format!(
                        "{kw} {key}={v} builds an image for one environment: build one image \
                         and set the environment when the container runs"
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files() {
        assert_eq!(
            environment_file("config/config.production.json").as_deref(),
            Some("production")
        );
        assert_eq!(environment_file(".env.staging").as_deref(), Some("staging"));
        assert!(environment_file("src/app.test.js").is_none());
        assert!(environment_file("production.yml").is_none());
        assert!(environment_file("config.json").is_none());
    }
}
