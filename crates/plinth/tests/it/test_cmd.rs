//! `plinth test`: the three formats against images the tests build (busybox on scratch), the
//! checklist on images built to break it, results recorded for `plinth push`, and the verdicts
//! of container-structure-test itself (docker driver) on the same file and image.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::run::busybox_base;
use crate::support::{self, Env};

/// `t:1`: busybox with an app user, env, label, port, volume, workdir and user set.
fn test_image(env: &Env) {
    busybox_base(env);
    env.write("app/config.ini", "[server]\nport = 8080\nmode = prod\n");
    env.write("data/.keep", "");
    env.build(
        "FROM bb:base\nCOPY app/ /app/\nCOPY --chown=1000:1000 data/ /data/\n\
         ENV APP_MODE=prod\nLABEL team=platform\nEXPOSE 8080\nVOLUME /data\nWORKDIR /app\nUSER app\n\
         CMD [\"sleep\", \"300\"]\n",
        &["-t", "t:1", "--no-lint"],
    );
}

/// The result list of `plinth test --format json` as (name, passed).
fn verdicts(json: &str) -> Vec<(String, bool)> {
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    v["images"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["status"] == "passed",
            )
        })
        .collect()
}

const CST: &str = r#"schemaVersion: 2.0.0
commandTests:
  - name: echo works
    command: sh
    args: ["-c", "echo hello"]
    expectedOutput: ["hello"]
  - name: wrong exit code
    command: sh
    args: ["-c", "exit 3"]
    exitCode: 0
  - name: env var reaches the command
    command: sh
    args: ["-c", "echo $GREETING"]
    envVars:
      - key: GREETING
        value: hi
    expectedOutput: ["^hi"]
  - name: excluded output is printed
    command: echo
    args: ["secret"]
    excludedOutput: ["secret"]
  - name: image env is expanded in arguments
    command: echo
    args: ["$APP_MODE"]
    expectedOutput: ["^prod"]
  - name: setup runs first
    setup: [["touch", "/tmp/made"]]
    command: ls
    args: ["/tmp/made"]
fileExistenceTests:
  - name: busybox exists and is executable
    path: /bin/busybox
    shouldExist: true
    permissions: "-rwxr-xr-x"
  - name: a missing file
    path: /nope
    shouldExist: true
  - name: data is the app user's
    path: /data
    shouldExist: true
    uid: 1000
    gid: 1000
  - name: wrong owner
    path: /app/config.ini
    shouldExist: true
    uid: 1000
fileContentTests:
  - name: config has the port
    path: /app/config.ini
    expectedContents: ["port = 8080"]
  - name: config has no debug mode
    path: /app/config.ini
    expectedContents: ["mode = debug"]
  - name: config is not empty
    path: /app/config.ini
    excludedContents: ["mode = prod"]
metadataTest:
  envVars:
    - key: APP_MODE
      value: prod
  labels:
    - key: team
      value: platform
  exposedPorts: ["8080"]
  volumes: ["/data"]
  workdir: /app
  user: app
"#;

#[test]
fn container_structure_test_files_give_the_same_verdicts_under_plinth_and_the_tool() {
    let env = Env::new();
    test_image(&env);
    let file = env.write("cst.yaml", CST);
    let run = env.plinth(&[
        "test",
        "t:1",
        "--config",
        file.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(run.status, 1, "some tests fail on purpose: {}", run.stderr);
    let ours = verdicts(&run.stdout);
    let expected: Vec<(&str, bool)> = vec![
        ("echo works", true),
        ("wrong exit code", false),
        // The tool expands $GREETING from the image's env before the command runs: empty.
        ("env var reaches the command", false),
        ("excluded output is printed", false),
        ("image env is expanded in arguments", true),
        ("setup runs first", true),
        ("busybox exists and is executable", true),
        ("a missing file", false),
        ("data is the app user's", true),
        ("wrong owner", false),
        ("config has the port", true),
        ("config has no debug mode", false),
        ("config is not empty", false),
    ];
    for (name, pass) in &expected {
        let got = ours.iter().find(|(n, _)| n == name);
        assert_eq!(got.map(|g| g.1), Some(*pass), "{name}: {}", run.stdout);
    }
    let meta = ours
        .iter()
        .find(|(n, _)| n.to_lowercase().contains("metadata"));
    assert_eq!(meta.map(|m| m.1), Some(true), "{}", run.stdout);

    // The tool itself, docker driver, on the same image loaded into the test dockerd.
    let Some(host) = support::docker_host(
        "container_structure_test_files_give_the_same_verdicts_under_plinth_and_the_tool",
    ) else {
        return;
    };
    let cst = PathBuf::from("/opt/plinth-tools/bin/container-structure-test");
    assert!(
        cst.exists(),
        "container-structure-test is missing: scripts/install-deps.sh installs it"
    );
    support::docker_load(&env, &host, "t:1");
    let out = std::process::Command::new(&cst)
        .args(["test", "--driver", "docker", "--image", "t:1", "--config"])
        .arg(&file)
        .args(["--output", "json", "--no-color"])
        .env("DOCKER_HOST", &host)
        .output()
        .unwrap();
    let _ = support::docker(&host, &["rmi", "t:1"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let json_start = text.find('{').unwrap_or_else(|| {
        panic!(
            "no JSON from container-structure-test: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let theirs: Value = serde_json::from_str(&text[json_start..]).unwrap();
    for r in theirs["Results"].as_array().unwrap() {
        // The tool prefixes each name with its kind ("Command Test: echo works").
        let full = r["Name"].as_str().unwrap();
        let name = [
            "Command Test: ",
            "File Existence Test: ",
            "File Content Test: ",
        ]
        .iter()
        .find_map(|p| full.strip_prefix(p))
        .unwrap_or(full);
        let pass = r["Pass"].as_bool().unwrap();
        let ours_pass = if name.to_lowercase().contains("metadata") {
            meta.map(|m| m.1)
        } else {
            ours.iter().find(|(n, _)| n == name).map(|g| g.1)
        };
        assert_eq!(
            ours_pass,
            Some(pass),
            "{name}: container-structure-test says {pass}"
        );
    }
    assert_eq!(
        theirs["Total"].as_u64().unwrap() as usize,
        ours.len(),
        "the same number of tests"
    );
}

fn write_suite(env: &Env, name: &str, text: &str) -> PathBuf {
    env.write(name, text)
}

fn plinth_test(env: &Env, image: &str, files: &[&Path], extra: &[&str]) -> support::Run {
    let mut args: Vec<String> = vec!["test".into(), image.into()];
    for f in files {
        args.push("--config".into());
        args.push(f.to_str().unwrap().into());
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    env.plinth(&refs)
}

#[test]
fn plinth_and_goss_formats_pass_and_fail_every_static_kind() {
    let env = Env::new();
    test_image(&env);
    let plinth = write_suite(
        &env,
        "plinth.yaml",
        "check:\n\
         - name: config exists\n  file: /app/config.ini\n  contains: ['port = 8080']\n\
         - name: config mode wrong\n  file: /app/config.ini\n  mode: '0600'\n\
         - name: app user\n  user: app\n  uid: 1000\n\
         - name: no such user\n  user: nobody\n\
         - name: app group\n  group: app\n  gid: 1000\n\
         - name: no busybox package\n  package: busybox\n\
         - name: metadata\n  metadata:\n    user: app\n    workdir: /app\n    volumes: [/data]\n    env: {APP_MODE: prod}\n\
         - name: metadata wrong\n  metadata:\n    workdir: /srv\n",
    );
    let run = plinth_test(&env, "t:1", &[&plinth], &["--format", "json"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    let v = verdicts(&run.stdout);
    let want = [
        ("config exists", true),
        ("config mode wrong", false),
        ("app user", true),
        ("no such user", false),
        ("app group", true),
        ("no busybox package", false),
        ("metadata", true),
        ("metadata wrong", false),
    ];
    for (n, p) in want {
        assert_eq!(
            v.iter().find(|x| x.0 == n).map(|x| x.1),
            Some(p),
            "{n}: {}",
            run.stdout
        );
    }

    let goss = write_suite(
        &env,
        "goss.yaml",
        "file:\n  /app/config.ini:\n    exists: true\n    contents: ['{{.Vars.port}}']\n  /nope:\n    exists: true\n\
         user:\n  app:\n    exists: true\n    uid: 1000\n\
         group:\n  app:\n    exists: true\n    gid: 2000\n\
         command:\n  echo-hi:\n    exec: echo hi\n    exit-status: 0\n    stdout: ['hi']\n",
    );
    let vars = write_suite(&env, "vars.yaml", "port: 'port = 8080'\n");
    let run = plinth_test(
        &env,
        "t:1",
        &[&goss],
        &["--vars", vars.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    let v = verdicts(&run.stdout);
    let passed = v.iter().filter(|x| x.1).count();
    let failed = v.iter().filter(|x| !x.1).count();
    assert_eq!((passed, failed), (3, 2), "{}", run.stdout);

    // An unsupported goss key is an error naming it, and nothing runs.
    let bad = write_suite(&env, "bad.yaml", "service:\n  nginx:\n    enabled: true\n");
    let run = plinth_test(&env, "t:1", &[&bad], &[]);
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert!(run.stderr.contains("service"), "{}", run.stderr);
}

#[test]
fn results_are_recorded_and_reports_come_in_every_format() {
    let env = Env::new();
    test_image(&env);
    let ok = write_suite(
        &env,
        "ok.yaml",
        "check:\n- file: /bin/busybox\n- command: [sh, -c, 'exit 0']\n",
    );
    for (format, needle) in [
        ("tty", "2 passed, 0 failed"),
        ("tap", "1..2"),
        ("junit", "<testsuites"),
        ("json", "\"passed\": 2"),
    ] {
        let run = plinth_test(
            &env,
            "t:1",
            &[&ok],
            &["--format", format, "--color", "never"],
        );
        assert_eq!(run.status, 0, "{format}: {}", run.stderr);
        assert!(run.stdout.contains(needle), "{format}: {}", run.stdout);
    }
    let records = env.store().join(".plinth/tests");
    let files: Vec<_> = std::fs::read_dir(&records).unwrap().flatten().collect();
    assert_eq!(files.len(), 1, "one record for the one image digest");
    let record: Value = serde_json::from_slice(&std::fs::read(files[0].path()).unwrap()).unwrap();
    assert_eq!(record["failed"], 0);
    assert_eq!(record["passed"], 2);
}

/// A one-answer HTTP server on 127.0.0.1 (the "internet" a service downloads from).
fn http_server() -> u16 {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
        }
    });
    port
}

/// The checklist items that failed for a checklist run (`--format json`).
fn failed_items(run: &support::Run) -> Vec<String> {
    let v: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", run.stdout, run.stderr));
    let mut out: Vec<String> = v["images"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] != "passed")
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

/// Builds `dockerfile` as `cl-NAME:1` and runs `plinth test --checklist` on it (JSON).
fn checklist(env: &Env, name: &str, dockerfile: &str, grace: &str) -> support::Run {
    let file = env.write(&format!("{name}.Dockerfile"), dockerfile);
    let image = format!("cl-{name}:1");
    env.plinth(&[
        "build",
        "--no-lint",
        "-t",
        &image,
        "-f",
        file.to_str().unwrap(),
        env.ctx().to_str().unwrap(),
    ])
    .ok();
    env.plinth(&[
        "test",
        &image,
        "--checklist",
        "--format",
        "json",
        "--stop-grace",
        grace,
    ])
}

#[test]
fn every_checklist_item_fails_on_an_image_built_to_break_it() {
    let env = Env::new();
    busybox_base(&env);
    env.write("data/.keep", "");
    let port = http_server();
    // A well-behaved service: non-root, its volume exists, healthy after it starts, no log
    // files, exits 0 on SIGTERM, needs no network.
    let good = |user: &str, volume: &str, health: &str, body: &str| {
        format!(
            "FROM bb:base\nCOPY --chown=1000:1000 data/ /data/\nUSER {user}\nVOLUME {volume}\n\
             HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD {health}\n\
             CMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; {body} touch /tmp/ready; while true; do sleep 0.1; done\"]\n"
        )
    };
    let ready = "[\"test\", \"-e\", \"/tmp/ready\"]";
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("good", good("app", "/data", ready, ""), vec![]),
        (
            "root",
            good("root", "/data", ready, ""),
            vec!["runs as a non-root user"],
        ),
        (
            "novolume",
            good("app", "/missing", ready, ""),
            vec!["declared volumes exist"],
        ),
        (
            "unhealthy",
            good("app", "/data", "[\"false\"]", ""),
            vec![
                "healthcheck passes within its start period and retries",
                "starts and stays healthy with the network off",
            ],
        ),
        (
            "logfile",
            good("app", "/data", ready, "echo started >> /tmp/app.log;"),
            vec!["logs to stdout/stderr, writes no log files"],
        ),
        (
            "download",
            good(
                "app",
                "/data",
                ready,
                &format!("wget -q -O /tmp/dl http://127.0.0.1:{port}/pkg || exit 7;"),
            ),
            vec!["starts and stays healthy with the network off"],
        ),
    ];
    for (name, dockerfile, want) in &cases {
        let run = checklist(&env, name, dockerfile, "3");
        assert_eq!(
            run.status,
            i32::from(!want.is_empty()),
            "{name}: {}\n{}",
            run.stdout,
            run.stderr
        );
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(failed_items(&run), want, "{name}: {}", run.stdout);
    }

    // A service that ignores SIGTERM outlives the grace period.
    let stubborn = format!(
        "FROM bb:base\nCOPY --chown=1000:1000 data/ /data/\nUSER app\nVOLUME /data\n\
             HEALTHCHECK --interval=1s --retries=3 CMD {ready}\n\
             CMD [\"sh\", \"-c\", \"trap '' TERM; touch /tmp/ready; while true; do sleep 0.1; done\"]\n"
    );
    let run = checklist(&env, "stubborn", &stubborn, "2");
    assert_eq!(run.status, 1);
    assert_eq!(
        failed_items(&run),
        vec!["stops on SIGTERM within the grace period with a clean exit code".to_string()],
        "{}",
        run.stdout
    );
}
