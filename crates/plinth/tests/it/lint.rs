//! `plinth lint`: exit codes, stdin, every output format read back by a parser, the
//! configuration files (.hadolint.yaml, plinth.toml [lint], .plinth-lint.toml), family mode,
//! parse errors, ShellCheck, and snapshots of the tty and json output.
//!
//! The rules are written separately; these tests rely only on hadolint's DL3006 (an untagged
//! FROM) and otherwise assert on structure, so new rules do not break them.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{Env, Run, tool, tool_run};

/// ShellCheck off: outputs that must not depend on whether it is installed.
const NO_SC: (&str, &str) = ("PLINTH_SHELLCHECK", "/nonexistent/shellcheck");

/// An untagged FROM (DL3006) and a RUN with an unquoted variable (SC2086 when ShellCheck runs).
const SMALL: &str = "FROM debian\nRUN echo $HOME > /tmp/x\n";

fn json_of(run: &Run) -> Vec<Value> {
    let v: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", run.stdout, run.stderr));
    v.as_array().expect("a JSON array").clone()
}

fn codes(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|i| i["code"].as_str().expect("code").to_string())
        .collect()
}

fn lint(env: &Env, args: &[&str]) -> Run {
    let mut all = vec!["lint"];
    all.extend_from_slice(args);
    env.plinth_env(&all, &[NO_SC])
}

#[test]
fn exit_codes_follow_the_findings_and_the_threshold() {
    let env = Env::new();
    env.write("Dockerfile", SMALL);
    let run = lint(&env, &["--format", "json"]);
    assert_eq!(run.status, 1, "{}\n{}", run.stdout, run.stderr);
    let items = json_of(&run);
    let found = codes(&items);
    assert!(found.contains("DL3006"), "{found:?}");
    for i in &items {
        assert_eq!(i["file"], "Dockerfile");
        assert!(
            i["line"].as_u64().is_some_and(|l| (1..=2).contains(&l)),
            "{i}"
        );
    }

    // Ignoring every code found: clean, exit 0.
    let mut args = vec!["--format", "json"];
    for c in &found {
        args.extend(["--ignore", c.as_str()]);
    }
    let run = lint(&env, &args);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(json_of(&run).is_empty());
    // A comma-separated --ignore works too.
    let joined = found.iter().cloned().collect::<Vec<_>>().join(",");
    let run = lint(&env, &["--format", "json", "--ignore", &joined]);
    assert_eq!((run.status, json_of(&run).len()), (0, 0), "{}", run.stdout);

    // The threshold: exit 1 exactly when a finding reaches it.
    let rank = |l: &str| {
        ["error", "warning", "info", "style"]
            .iter()
            .position(|x| *x == l)
    };
    for threshold in ["error", "warning", "info", "style"] {
        let run = lint(
            &env,
            &["--format", "json", "--failure-threshold", threshold],
        );
        let reaches = json_of(&run)
            .iter()
            .any(|i| rank(i["level"].as_str().unwrap()) <= rank(threshold));
        assert_eq!(
            run.status,
            i32::from(reaches),
            "threshold {threshold}: {}",
            run.stdout
        );
    }
    let run = lint(&env, &["--failure-threshold", "none"]);
    assert_eq!(run.status, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("DL3006"), "{}", run.stdout);

    // Usage errors: exit 2.
    let run = lint(&env, &["missing/Dockerfile"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr
            .contains("missing/Dockerfile: no such Dockerfile"),
        "{}",
        run.stderr
    );
    let run = lint(&env, &["--format", "yaml"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    std::fs::create_dir_all(env.ctx().join("empty")).unwrap();
    let run = lint(&env, &["empty"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("no file named Dockerfile"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_parse_error_exits_2_with_file_line_and_column() {
    let env = Env::new();
    env.write("bad/Dockerfile", "FROM debian:12\nFOO bar\n");
    env.write("Dockerfile", SMALL);
    let run = lint(&env, &["bad"]);
    assert_eq!(run.status, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.starts_with("bad/Dockerfile:2:1: "),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // With a good file too: the good one is reported, the run still exits 2.
    let run = lint(&env, &["--format", "json", "Dockerfile", "bad/Dockerfile"]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("bad/Dockerfile:2:1: "),
        "{}",
        run.stderr
    );
    assert!(codes(&json_of(&run)).contains("DL3006"));
    // From stdin: named `-`.
    let run = env.plinth_stdin(&["lint", "-"], &[NO_SC], "FROM a\nFOO bar\n");
    assert_eq!(run.status, 2);
    assert!(run.stderr.starts_with("-:2:1: "), "{}", run.stderr);
}

#[test]
fn stdin_is_linted_as_dash() {
    let env = Env::new();
    let run = env.plinth_stdin(&["lint", "--format", "json", "-"], &[NO_SC], SMALL);
    assert_eq!(run.status, 1, "{}\n{}", run.stdout, run.stderr);
    let items = json_of(&run);
    assert!(codes(&items).contains("DL3006"));
    assert!(items.iter().all(|i| i["file"] == "-"));
    let run = env.plinth_stdin(&["lint", "-", "-"], &[NO_SC], SMALL);
    assert_eq!(run.status, 2, "{}", run.stderr);
}

/// Parses `xml` with Python's minidom (a real XML parser).
#[track_caller]
fn assert_well_formed_xml(env: &Env, name: &str, xml: &str) {
    let path = env.dir.path().join(name);
    std::fs::write(&path, xml).unwrap();
    let run = tool_run(
        "python3",
        &[
            "-c",
            "import xml.dom.minidom,sys; d=xml.dom.minidom.parse(sys.argv[1]); print(d.documentElement.tagName, len(d.getElementsByTagName(sys.argv[2])))",
            &path.display().to_string(),
            if name.contains("junit") {
                "failure"
            } else {
                "error"
            },
        ],
        None,
    );
    assert_eq!(
        run.status, 0,
        "{name} is not well-formed:\n{xml}\n{}",
        run.stderr
    );
}

#[test]
fn every_format_parses() {
    let env = Env::new();
    // Quotes, <, & in paths and messages: a file name with them.
    let name = "we<ird>&\"name\".Dockerfile";
    env.write(name, SMALL);
    let json = lint(&env, &["--format", "json", name]);
    let items = json_of(&json);
    let n = items.len();
    assert!(n >= 1);
    for i in &items {
        let keys: Vec<&String> = i.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["code", "column", "file", "level", "line", "message"]);
        assert_eq!(i["file"], name);
    }

    let sarif = lint(&env, &["--format", "sarif", name]);
    assert_eq!(sarif.status, 1);
    let v: Value = serde_json::from_str(&sarif.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "plinth");
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let rule_ids: BTreeSet<String> = rules
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rule_ids, codes(&items));
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), n);
    for (r, i) in results.iter().zip(&items) {
        assert_eq!(r["ruleId"], i["code"]);
        assert_eq!(r["message"]["text"], i["message"]);
        let level = match i["level"].as_str().unwrap() {
            "error" => "error",
            "warning" => "warning",
            _ => "note",
        };
        assert_eq!(r["level"], level);
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startLine"], i["line"]);
        assert!(region["endLine"].as_u64() >= region["startLine"].as_u64());
        let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(!uri.contains(['<', '"', ' ']), "{uri}");
        let index = r["ruleIndex"].as_u64().unwrap();
        assert_eq!(rules[usize::try_from(index).unwrap()]["id"], i["code"]);
    }

    let gitlab = lint(&env, &["--format", "gitlab", name]);
    let issues: Value = serde_json::from_str(&gitlab.stdout).unwrap();
    let issues = issues.as_array().unwrap();
    assert_eq!(issues.len(), n);
    for (g, i) in issues.iter().zip(&items) {
        assert_eq!(g["check_name"], i["code"]);
        assert_eq!(g["description"], i["message"]);
        assert_eq!(g["location"]["path"], name);
        assert_eq!(g["location"]["lines"]["begin"], i["line"]);
        assert!(
            ["info", "minor", "major", "critical", "blocker"]
                .contains(&g["severity"].as_str().unwrap())
        );
        assert_eq!(g["fingerprint"].as_str().unwrap().len(), 64);
    }
    let again = lint(&env, &["--format", "gitlab", name]);
    assert_eq!(again.stdout, gitlab.stdout, "fingerprints are stable");

    let checkstyle = lint(&env, &["--format", "checkstyle", name]);
    assert_eq!(checkstyle.status, 1);
    assert_well_formed_xml(&env, "checkstyle.xml", &checkstyle.stdout);
    assert_eq!(checkstyle.stdout.matches("<error ").count(), n);
    assert!(
        checkstyle
            .stdout
            .contains("name=\"we&lt;ird&gt;&amp;&quot;name&quot;.Dockerfile\"")
    );

    let junit = lint(&env, &["--format", "junit", name]);
    assert_eq!(junit.status, 1);
    assert_well_formed_xml(&env, "junit.xml", &junit.stdout);
    assert_eq!(junit.stdout.matches("<failure ").count(), n);

    // The tty format names the file, line and column of each finding.
    let tty = lint(&env, &["--color", "never", name]);
    assert_eq!(tty.status, 1);
    assert!(
        tty.stdout
            .contains(&format!("{name}:1:1: DL3006 warning: ")),
        "{}",
        tty.stdout
    );
    assert!(!tty.stdout.contains('\x1b'));
    let colored = lint(&env, &["--color", "always", name]);
    assert!(colored.stdout.contains('\x1b'));
}

#[test]
fn hadolint_yaml_is_honoured() {
    let env = Env::new();
    env.write("Dockerfile", SMALL);
    env.write(".hadolint.yaml", "ignored:\n  - DL3006\n");
    let run = lint(&env, &["--format", "json"]);
    assert!(!codes(&json_of(&run)).contains("DL3006"), "{}", run.stdout);
    // tty mode says which files were read.
    let run = lint(&env, &[]);
    assert!(
        run.stderr.contains("configuration from .hadolint.yaml"),
        "{}",
        run.stderr
    );

    env.write(
        ".hadolint.yaml",
        "override:\n  error:\n    - DL3006\nfailure-threshold: error\n",
    );
    let run = lint(&env, &["--format", "json"]);
    assert_eq!(run.status, 1);
    let items = json_of(&run);
    let dl3006: Vec<&Value> = items.iter().filter(|i| i["code"] == "DL3006").collect();
    assert_eq!(dl3006.len(), 1);
    assert_eq!(dl3006[0]["level"], "error");
    // no-fail: findings, exit 0.
    env.write(".hadolint.yml", "");
    env.write(".hadolint.yaml", "no-fail: true\n");
    let run = lint(&env, &["--format", "json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(!json_of(&run).is_empty());
    // An unknown key is an error naming it.
    env.write(".hadolint.yaml", "ignore: [DL3006]\n");
    let run = lint(&env, &[]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains(".hadolint.yaml") && run.stderr.contains("ignore"),
        "{}",
        run.stderr
    );
}

#[test]
fn plinth_toml_lint_table_wins_over_hadolint_yaml() {
    let env = Env::new();
    env.write("Dockerfile", SMALL);
    env.write(".hadolint.yaml", "override:\n  error: [DL3006]\n");
    env.write(
        "plinth.toml",
        "[lint]\nseverity = { DL3006 = \"style\" }\nfailure-threshold = \"error\"\n",
    );
    let run = lint(&env, &["--format", "json"]);
    let items = json_of(&run);
    let dl3006 = items
        .iter()
        .find(|i| i["code"] == "DL3006")
        .expect("DL3006");
    assert_eq!(dl3006["level"], "style");
    let errors = items.iter().any(|i| i["level"] == "error");
    assert_eq!(run.status, i32::from(errors), "{}", run.stdout);
    let run = lint(&env, &[]);
    assert!(
        run.stderr
            .contains("configuration from plinth.toml [lint], .hadolint.yaml"),
        "{}",
        run.stderr
    );

    env.write("plinth.toml", "[lint]\nignored = [\"DL3006\"]\n");
    let run = lint(&env, &["--format", "json"]);
    assert!(!codes(&json_of(&run)).contains("DL3006"));
    // A bad [lint] table is the project file's error.
    env.write("plinth.toml", "[lint]\nignord = [\"DL3006\"]\n");
    let run = lint(&env, &[]);
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("ignord"), "{}", run.stderr);

    // Without [lint]: .plinth-lint.toml.
    std::fs::remove_file(env.ctx().join("plinth.toml")).unwrap();
    std::fs::remove_file(env.ctx().join(".hadolint.yaml")).unwrap();
    env.write(".plinth-lint.toml", "ignored = [\"DL3006\"]\n");
    let run = lint(&env, &["--format", "json"]);
    assert!(!codes(&json_of(&run)).contains("DL3006"), "{}", run.stdout);
    // --config replaces the discovery.
    env.write("other.yaml", "override:\n  info: [DL3006]\n");
    let run = lint(&env, &["--format", "json", "--config", "other.yaml"]);
    let items = json_of(&run);
    let dl3006 = items
        .iter()
        .find(|i| i["code"] == "DL3006")
        .expect("DL3006");
    assert_eq!(dl3006["level"], "info");
}

#[test]
fn family_mode_lints_every_image() {
    let env = Env::new();
    env.write(
        "plinth.toml",
        "[family]\nname = \"fam\"\n\n[lint]\nfailure-threshold = \"error\"\n",
    );
    env.write("images/a/Dockerfile", "FROM debian\n");
    env.write("images/b/Dockerfile", "FROM a\n");
    let run = lint(&env, &["--format", "json"]);
    assert!(run.status == 0 || run.status == 1, "{}", run.stderr);
    let files: BTreeSet<String> = json_of(&run)
        .iter()
        .map(|i| i["file"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        files,
        BTreeSet::from([
            "images/a/Dockerfile".to_string(),
            "images/b/Dockerfile".to_string()
        ])
    );
    let junit = lint(&env, &["--format", "junit"]);
    assert_eq!(
        junit.stdout.matches("<testsuite ").count(),
        2,
        "{}",
        junit.stdout
    );
    let tty = lint(&env, &[]);
    assert!(tty.stdout.contains("in 2 files"), "{}", tty.stdout);
}

#[test]
fn shellcheck_findings_are_sc_codes_at_the_run_and_can_be_ignored() {
    tool("shellcheck", &["--version"]);
    let env = Env::new();
    env.write(
        "Dockerfile",
        "FROM debian:12\nARG NAME\n# hadolint ignore=SC2086\nRUN echo $HOME > /tmp/x\nRUN echo $HOME \\\n  && echo $NAME > /tmp/y\n\
         SHELL [\"/bin/bash\", \"-c\"]\nRUN [[ -n $HOME ]] && echo `id -u`\n",
    );
    let run = env.plinth(&["lint", "--format", "json"]);
    let items = json_of(&run);
    let sc: Vec<(String, u64)> = items
        .iter()
        .filter(|i| i["code"].as_str().unwrap().starts_with("SC"))
        .map(|i| {
            (
                i["code"].as_str().unwrap().to_string(),
                i["line"].as_u64().unwrap(),
            )
        })
        .collect();
    // Line 4 is ignored inline; line 5's RUN (two lines) is reported at its first line; SC2086
    // for $NAME too, as ARG names only count as set, not as safe to split. Bash's [[ ]] is fine
    // under SHELL bash; the backticks are SC2006.
    assert!(sc.contains(&("SC2086".to_string(), 5)), "{sc:?}");
    assert!(!sc.iter().any(|(_, l)| *l == 4), "{sc:?}");
    assert!(sc.contains(&("SC2006".to_string(), 8)), "{sc:?}");
    assert!(
        !sc.iter().any(|(c, _)| c == "SC2039" || c == "SC3010"),
        "{sc:?}"
    );
    // --ignore works on SC codes.
    let run = env.plinth(&["lint", "--format", "json", "--ignore", "SC2086"]);
    assert!(!codes(&json_of(&run)).contains("SC2086"));
    // Not installed: said once on stderr, and the rest goes on.
    let run = env.plinth_env(&["lint"], &[NO_SC]);
    assert_eq!(
        run.stderr.matches("is not installed").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("SC2086"));
    assert!(run.stdout.contains("Dockerfile:"), "{}", run.stdout);
    // Machine formats keep stderr quiet.
    let run = env.plinth_env(&["lint", "--format", "json"], &[NO_SC]);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn tty_and_json_snapshots() {
    let env = Env::new();
    env.write(
        "Dockerfile",
        "FROM debian\n\nRUN apt-get update && apt-get install -y curl \\\n    && rm -rf /var/lib/apt/lists/*\n",
    );
    let tty = lint(&env, &["--color", "never"]);
    insta::assert_snapshot!("lint_tty", tty.stdout);
    let json = lint(&env, &["--format", "json"]);
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&json.stdout).unwrap())
            .unwrap();
    insta::assert_snapshot!("lint_json", pretty);
}

#[test]
fn a_build_lints_first_and_stops_on_errors_unless_told_not_to() {
    let env = Env::new();
    env.write("a.txt", "a\n");
    env.write(
        "Dockerfile",
        "FROM scratch\nMAINTAINER someone@example.com\nCOPY a.txt /a.txt\n",
    );
    let ctx = env.ctx();
    let ctx = ctx.to_str().unwrap();
    let run = env.plinth(&["build", "-t", "linted:1", ctx]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("DL4000") && run.stderr.contains("--no-lint"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // Nothing was built.
    let images = env.plinth(&["images", "--format", "json"]).ok();
    assert!(!images.stdout.contains("linted"), "{}", images.stdout);

    // --no-lint builds it; an inline ignore too, and the warnings are only counted.
    let built = env
        .plinth(&["build", "--no-lint", "-t", "linted:1", ctx])
        .ok();
    assert!(built.stdout.trim().starts_with("sha256:"));
    env.write(
        "Dockerfile",
        "FROM scratch\n# plinth ignore=DL4000\nMAINTAINER someone@example.com\nCOPY a.txt /a.txt\n",
    );
    let ignored = env.plinth(&["build", "-t", "linted:2", ctx]).ok();
    assert!(ignored.stdout.trim().starts_with("sha256:"));
    assert!(
        ignored.stderr.contains("lint: ") && ignored.stderr.contains("`plinth lint` lists them"),
        "{}",
        ignored.stderr
    );
}

#[test]
fn the_built_in_plinth_init_context_is_not_an_unknown_stage() {
    let env = Env::new();
    let file = env.write(
        "Dockerfile",
        "FROM scratch\nCOPY --from=plinth-init /plinth-init /usr/sbin/plinth-init\nCOPY --from=tools /t /t\n",
    );
    let run = env.plinth(&["lint", "--format", "json", file.to_str().unwrap()]);
    let findings: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let dl3022: Vec<u64> = findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "DL3022")
        .map(|f| f["line"].as_u64().unwrap())
        .collect();
    assert_eq!(
        dl3022,
        vec![3],
        "only the unknown `tools` is flagged: {}",
        run.stdout
    );
}
