//! `plinth test`: structure tests and runtime checks of store images, with plinth-test. In a
//! family repository (no IMAGE, or family image names) each image built for the current commit
//! is tested with its `images/<name>/tests/*.{yaml,yml,toml}`; otherwise IMAGE is any store
//! image and `--config FILE` names the test files. Results go to stdout in the chosen format and
//! are recorded with the image in the store (for `plinth push`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Args, ValueEnum};
use plinth_test::model::{Phase, Status, Suite, TestResult};
use plinth_test::report::{Color, ImageReport, ReportFormat};

use crate::cli::{NetworkArg, UsageError, open_store};

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Store images (name:tag, digest) or, in a family repository, family image names
    /// [default: every image of the family built for the current commit].
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
    /// A test file: plinth's format (YAML or TOML), container-structure-test (schemaVersion
    /// 2.0.0) or goss; repeatable. Replaces a family image's own tests.
    #[arg(short = 'c', long = "config", value_name = "FILE")]
    pub configs: Vec<PathBuf>,
    /// Also run the built-in checklist (seed 003): health check passes, no log files, starts
    /// with the network off, non-root user, clean stop on SIGTERM, declared volumes exist.
    #[arg(long)]
    pub checklist: bool,
    /// The checklist's grace period: how long a container may take to exit after SIGTERM
    /// (Docker's `docker stop` waits 10 s).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub stop_grace: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TestFormat::Tty)]
    pub format: TestFormat,
    /// Variables for goss files (`{{.Vars.name}}`), a YAML or JSON file.
    #[arg(long, value_name = "FILE")]
    pub vars: Option<PathBuf>,
    /// The network of the containers runtime checks start.
    #[arg(long, value_enum, default_value_t = NetworkArg::Host)]
    pub network: NetworkArg,
    /// The project file [default: plinth.toml in the current directory or the nearest parent].
    #[arg(long = "project", value_name = "FILE")]
    pub project: Option<PathBuf>,
    /// Colour in the tty format.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestFormat {
    Tty,
    Json,
    Junit,
    Tap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

/// One image to test and the files to test it with.
struct Target {
    /// How the report names it.
    shown: String,
    /// The store reference.
    reference: String,
    files: Vec<PathBuf>,
    /// A family image (its tests from images/<name>/tests).
    family: bool,
}

fn targets(args: &TestArgs) -> Result<Vec<Target>> {
    // A plinth.toml that does not load is the error when the family is what is tested; with
    // store images named it does not matter.
    let project = match crate::family::find_project(args.project.as_deref()) {
        Ok(p) => p.filter(|p| p.file.family.is_some()),
        Err(e) if args.images.is_empty() => return Err(e),
        Err(_) => None,
    };
    if let Some(project) = project {
        let images = project
            .family_images()
            .map_err(|e| UsageError(format!("error: {e}")))?;
        let names: Vec<String> = images.iter().map(|i| i.name.clone()).collect();
        let family_named: Vec<String> = args
            .images
            .iter()
            .filter(|i| names.contains(i))
            .cloned()
            .collect();
        if args.images.is_empty() || family_named.len() == args.images.len() {
            let family = project.file.family.clone().context("a [family] table")?;
            let (_, plan) = crate::family::commit_plan(&project, &family, &images, &family_named)?;
            return Ok(plan
                .iter()
                // Ancestors of named images come with the plan; only the named ones are tested.
                .filter(|p| family_named.is_empty() || family_named.contains(&p.name))
                .map(|p| Target {
                    family: true,
                    shown: p.name.clone(),
                    reference: p.unique.clone(),
                    files: if args.configs.is_empty() {
                        crate::family::test_files(&crate::family::image_tests_dir(p))
                    } else {
                        args.configs.clone()
                    },
                })
                .collect());
        }
    }
    if args.images.is_empty() {
        return Err(UsageError(
            "error: give an IMAGE (and its test files with --config FILE), or run in a family repository (plinth.toml [family])".into(),
        )
        .into());
    }
    Ok(args
        .images
        .iter()
        .map(|i| Target {
            family: false,
            shown: i.clone(),
            reference: i.clone(),
            files: args.configs.clone(),
        })
        .collect())
}

pub fn test(store_path: &std::path::Path, args: TestArgs) -> Result<ExitCode> {
    let targets = targets(&args)?;
    let vars = match &args.vars {
        Some(p) => {
            Some(plinth_test::format::load_vars(p).map_err(|e| UsageError(format!("error: {e}")))?)
        }
        None => None,
    };
    let load = plinth_test::format::LoadOptions { goss_vars: vars };
    // Every file is read before anything runs: a bad file is exit 2, not half a report.
    // In a family, images without tests are skipped (and `plinth push` lets them through).
    let family_mode = targets.iter().any(|t| t.family);
    let targets: Vec<Target> = targets
        .into_iter()
        .filter(|t| {
            let skip = t.family && t.files.is_empty() && !args.checklist;
            if skip {
                eprintln!(
                    "{}: no tests (images/{}/tests/*.yaml); skipped",
                    t.shown, t.shown
                );
            }
            !skip
        })
        .collect();
    if family_mode && targets.is_empty() {
        return Err(UsageError(
            "error: no family image has tests (images/<name>/tests/*.yaml|yml|toml); add some, or use --checklist".into(),
        )
        .into());
    }
    let mut suites: Vec<Vec<Suite>> = Vec::new();
    for t in &targets {
        if t.files.is_empty() && !args.checklist {
            return Err(UsageError(format!(
                "error: {}: no test files (images/<name>/tests/*.yaml in a family, or --config FILE) and no --checklist",
                t.shown
            ))
            .into());
        }
        let mut s = Vec::new();
        for f in &t.files {
            s.push(
                plinth_test::format::load(f, &load)
                    .map_err(|e| UsageError(format!("error: {e}")))?,
            );
        }
        suites.push(s);
    }
    let store = open_store(store_path)?;
    let helper = std::env::current_exe().context("finding the plinth executable")?;
    let mut all: Vec<(String, String, Vec<TestResult>)> = Vec::new();
    for (t, suites) in targets.iter().zip(&suites) {
        let view = plinth_test::image::ImageView::open(&store, &t.reference)
            .with_context(|| format!("{}: opening {}", t.shown, t.reference))?;
        let digest = view.digest().to_string();
        let rt = plinth_test::runtime::Runtime {
            store: store.clone(),
            image: t.reference.clone(),
            sandbox_helper: helper.clone(),
            network: args.network.into(),
        };
        let mut results = Vec::new();
        for suite in suites {
            let suite = suite.for_image(&view.config().config.env);
            results.extend(run_suite(&view, &rt, &suite));
        }
        if args.checklist {
            results.extend(plinth_test::checklist::run(
                &view,
                &rt,
                &plinth_test::checklist::ChecklistOptions {
                    grace: std::time::Duration::from_secs(args.stop_grace),
                    ..Default::default()
                },
            ));
        }
        let record =
            plinth_test::record::Record::of(&t.shown, &digest, &results, env!("CARGO_PKG_VERSION"));
        plinth_test::record::write(&store, &record)?;
        all.push((t.shown.clone(), digest, results));
    }
    let reports: Vec<ImageReport<'_>> = all
        .iter()
        .map(|(image, digest, results)| ImageReport {
            image,
            digest,
            results,
        })
        .collect();
    let color = match args.color {
        ColorArg::Always => Color::Always,
        ColorArg::Never => Color::Never,
        ColorArg::Auto if std::io::stdout().is_terminal() => Color::Always,
        ColorArg::Auto => Color::Never,
    };
    let format = match args.format {
        TestFormat::Tty => ReportFormat::Tty,
        TestFormat::Json => ReportFormat::Json,
        TestFormat::Junit => ReportFormat::Junit,
        TestFormat::Tap => ReportFormat::Tap,
    };
    print!("{}", plinth_test::report::render(format, &reports, color));
    let failed = all
        .iter()
        .flat_map(|(_, _, r)| r.iter())
        .any(|r| r.status != Status::Passed);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs one suite: static checks from the image, commands in fresh containers, the other
/// runtime checks against one service container started when the suite first needs it.
fn run_suite(
    view: &plinth_test::image::ImageView,
    rt: &plinth_test::runtime::Runtime,
    suite: &Suite,
) -> Vec<TestResult> {
    let needs_service = suite.tests.iter().any(|t| {
        t.check.phase() == Phase::Runtime
            && !matches!(t.check, plinth_test::model::Check::Command(_))
    });
    let mut service = None;
    let mut service_error = None;
    if needs_service {
        match rt.start_service(&plinth_test::runtime::ServiceOptions {
            network: rt.network,
            env: Vec::new(),
        }) {
            Ok(s) => service = Some(s),
            Err(e) => service_error = Some(e.to_string()),
        }
    }
    let mut out = Vec::new();
    for test in &suite.tests {
        let r = match test.check.phase() {
            Phase::Static => plinth_test::static_checks::run(view, &suite.name, test),
            Phase::Runtime => match (&service, &service_error) {
                (_, Some(e)) if !matches!(test.check, plinth_test::model::Check::Command(_)) => {
                    TestResult {
                        suite: suite.name.clone(),
                        name: test.name.clone(),
                        kind: test.check.kind(),
                        status: Status::Error,
                        message: format!("the container did not start: {e}"),
                        duration: std::time::Duration::ZERO,
                    }
                }
                (s, _) => plinth_test::runtime::run(rt, s.as_ref(), &suite.name, test),
            },
        };
        out.push(r);
    }
    out
}
