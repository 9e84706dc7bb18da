//! What `plinth build` puts in the image: config, history and layer contents, read back with skopeo
//! and umoci.

use std::os::unix::fs::PermissionsExt;

use crate::support::{Env, tool_run, unpack};

#[test]
fn every_config_instruction_lands_in_the_config() {
    let env = Env::new();
    env.build(
        r#"FROM scratch
MAINTAINER Jane <jane@example.com>
ENV A=1 B="two words"
ENV LEGACY value with spaces
LABEL org.opencontainers.image.title="demo" version=$A
WORKDIR /app
USER 1000:1000
EXPOSE 80 443/tcp 53/udp
VOLUME ["/data", "/logs"]
STOPSIGNAL SIGQUIT
SHELL ["/bin/bash", "-c"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD curl -f http://localhost/ || exit 1
ONBUILD COPY . /app/src
ENTRYPOINT ["/entry"]
CMD echo $B
"#,
        // MAINTAINER on purpose (DL4000 would stop the build).
        &["-t", "cfg:1", "--no-lint"],
    );
    let cfg = env.config("cfg:1");
    let c = &cfg["config"];
    assert_eq!(cfg["author"], "Jane <jane@example.com>");
    let envs: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(envs.contains(&"A=1"), "{envs:?}");
    assert!(envs.contains(&"B=two words"), "{envs:?}");
    assert!(envs.contains(&"LEGACY=value with spaces"), "{envs:?}");
    assert_eq!(c["Labels"]["org.opencontainers.image.title"], "demo");
    assert_eq!(c["Labels"]["version"], "1");
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["User"], "1000:1000");
    for p in ["80/tcp", "443/tcp", "53/udp"] {
        assert!(c["ExposedPorts"].get(p).is_some(), "missing port {p}: {c}");
    }
    assert!(c["Volumes"].get("/data").is_some() && c["Volumes"].get("/logs").is_some());
    assert_eq!(c["StopSignal"], "SIGQUIT");
    assert_eq!(c["Shell"], serde_json::json!(["/bin/bash", "-c"]));
    assert_eq!(c["OnBuild"], serde_json::json!(["COPY . /app/src"]));
    assert_eq!(c["Entrypoint"], serde_json::json!(["/entry"]));
    // Shell-form CMD goes through SHELL, unexpanded.
    assert_eq!(c["Cmd"], serde_json::json!(["/bin/bash", "-c", "echo $B"]));
    let hc = &c["Healthcheck"];
    assert_eq!(
        hc["Test"],
        serde_json::json!(["CMD-SHELL", "curl -f http://localhost/ || exit 1"])
    );
    assert_eq!(hc["Interval"], 30_000_000_000i64);
    assert_eq!(hc["Timeout"], 5_000_000_000i64);
    assert_eq!(hc["StartPeriod"], 10_000_000_000i64);
    assert_eq!(hc["Retries"], 3);

    // History: one entry per instruction, empty_layer on all but WORKDIR (which creates /app).
    let history = cfg["history"].as_array().unwrap();
    assert_eq!(history.len(), 14, "{history:#?}");
    let with_layer: Vec<&str> = history
        .iter()
        .filter(|h| h.get("empty_layer").is_none())
        .map(|h| h["created_by"].as_str().unwrap())
        .collect();
    assert_eq!(with_layer, ["WORKDIR /app"]);
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
}

#[test]
fn healthcheck_none_and_exec_form() {
    let env = Env::new();
    env.build(
        "FROM scratch\nHEALTHCHECK CMD [\"/bin/check\", \"--fast\"]\n",
        &["-t", "hc:exec"],
    );
    assert_eq!(
        env.config("hc:exec")["config"]["Healthcheck"]["Test"],
        serde_json::json!(["CMD", "/bin/check", "--fast"])
    );
    env.build("FROM hc:exec\nHEALTHCHECK NONE\n", &["-t", "hc:none"]);
    assert_eq!(
        env.config("hc:none")["config"]["Healthcheck"]["Test"],
        serde_json::json!(["NONE"])
    );
}

fn meta(p: &std::path::Path) -> (u32, u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (m.mode() & 0o7777, m.uid(), m.gid())
}

#[test]
fn copy_files_dirs_globs_chown_chmod() {
    let env = Env::new();
    env.write("app/main.py", "print('hi')\n");
    env.write("app/lib/util.py", "x = 1\n");
    env.write("conf/a.conf", "a\n");
    env.write("conf/b.conf", "b\n");
    env.write("conf/c.txt", "c\n");
    let secret = env.write("secret.key", "k\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let tool_sh = env.write("tool.sh", "#!/bin/sh\n");
    std::fs::set_permissions(&tool_sh, std::fs::Permissions::from_mode(0o4755)).unwrap();
    env.build(
        "FROM scratch\nCOPY app /srv/app\nCOPY conf/*.conf /etc/demo/\nCOPY --chown=1000:1001 --chmod=640 conf/c.txt /etc/demo/c.txt\n\
         COPY secret.key tool.sh /keys/\nWORKDIR /work\nCOPY app/main.py rel.py\n",
        // A key file on purpose (PL003 would stop the build).
        &["-t", "copy:1", "--no-lint"],
    );
    let root = unpack(&env, "copy:1");
    assert_eq!(
        std::fs::read_to_string(root.join("srv/app/main.py")).unwrap(),
        "print('hi')\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("srv/app/lib/util.py")).unwrap(),
        "x = 1\n"
    );
    assert!(root.join("etc/demo/a.conf").is_file() && root.join("etc/demo/b.conf").is_file());
    assert_eq!(meta(&root.join("etc/demo/c.txt")), (0o640, 1000, 1001));
    assert_eq!(meta(&root.join("keys/secret.key")).0, 0o600);
    assert_eq!(meta(&root.join("keys/tool.sh")).0, 0o4755);
    assert_eq!(
        meta(&root.join("srv/app/main.py")).1,
        0,
        "context files are owned by root"
    );
    assert!(
        root.join("work/rel.py").is_file(),
        "relative dest resolves against WORKDIR"
    );
    assert!(!root.join("etc/demo/c.conf").exists());
}

#[test]
fn dockerignore_excludes_and_exceptions() {
    let env = Env::new();
    env.write(
        ".dockerignore",
        "*.log\n**/node_modules\nsecrets/\n!keep.log\n",
    );
    env.write("a.log", "no");
    env.write("keep.log", "yes");
    env.write("src/node_modules/x.js", "no");
    env.write("src/index.js", "yes");
    env.write("secrets/token", "no");
    env.build("FROM scratch\nCOPY . /ctx/\n", &["-t", "ignore:1"]);
    let root = unpack(&env, "ignore:1");
    assert!(root.join("ctx/keep.log").is_file());
    assert!(root.join("ctx/src/index.js").is_file());
    assert!(!root.join("ctx/a.log").exists());
    assert!(!root.join("ctx/src/node_modules").exists());
    assert!(!root.join("ctx/secrets").exists());
}

#[test]
fn add_extracts_local_archives() {
    let env = Env::new();
    let src = env.dir.path().join("payload");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/file.txt"), "from the archive\n").unwrap();
    for (flag, name) in [
        ("-z", "p.tar.gz"),
        ("-J", "p.tar.xz"),
        ("-j", "p.tar.bz2"),
        ("--zstd", "p.tar.zst"),
    ] {
        let out = env.ctx().join(name);
        let run = tool_run(
            "tar",
            &[
                "-C",
                src.to_str().unwrap(),
                flag,
                "-cf",
                out.to_str().unwrap(),
                "sub",
            ],
            None,
        );
        assert_eq!(run.status, 0, "tar {flag}: {}", run.stderr);
    }
    env.build(
        "FROM scratch\nADD p.tar.gz /gz/\nADD p.tar.xz /xz/\nADD p.tar.bz2 /bz2/\nADD p.tar.zst /zst/\nCOPY p.tar.gz /copied/\n",
        &["-t", "add:1"],
    );
    let root = unpack(&env, "add:1");
    for d in ["gz", "xz", "bz2", "zst"] {
        assert_eq!(
            std::fs::read_to_string(root.join(d).join("sub/file.txt")).unwrap(),
            "from the archive\n",
            "{d}"
        );
    }
    assert!(
        root.join("copied/p.tar.gz").is_file(),
        "COPY never extracts"
    );
}

#[test]
fn multi_stage_copy_from_and_target() {
    let env = Env::new();
    env.write("a.txt", "A\n");
    env.write("b.txt", "B\n");
    let df = "ARG BASE=scratch\nFROM ${BASE} AS first\nCOPY a.txt /a.txt\n\
              FROM first AS second\nCOPY b.txt /b.txt\n\
              FROM scratch AS final\nCOPY --from=second /a.txt /b.txt /out/\nCOPY --from=first /a.txt /again.txt\n";
    env.build(df, &["-t", "ms:final"]);
    let root = unpack(&env, "ms:final");
    assert!(
        root.join("out/a.txt").is_file()
            && root.join("out/b.txt").is_file()
            && root.join("again.txt").is_file()
    );
    env.build(df, &["-t", "ms:first", "--target", "first"]);
    let root = unpack(&env, "ms:first");
    assert!(root.join("a.txt").is_file());
    assert!(!root.join("b.txt").exists());
    // An image from the store as a base and as a COPY --from source.
    env.build(
        "FROM ms:first\nCOPY --from=ms:final /out/b.txt /b.txt\n",
        &["-t", "ms:fromstore"],
    );
    let root = unpack(&env, "ms:fromstore");
    assert!(root.join("a.txt").is_file() && root.join("b.txt").is_file());
}

#[test]
fn args_and_env_scoping() {
    let env = Env::new();
    let df = "ARG VERSION=1.0\nARG UNUSED_GLOBAL=x\nFROM scratch\nARG VERSION\nARG FLAVOR=plain\nENV APP_VERSION=$VERSION\n\
              LABEL flavor=${FLAVOR} missing=${NOPE:-default} global=${UNUSED_GLOBAL}\nENV FLAVOR=env-wins\nLABEL after=$FLAVOR\n";
    env.build(df, &["-t", "args:default"]);
    let c = &env.config("args:default")["config"];
    let envs: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(envs.contains(&"APP_VERSION=1.0"), "{envs:?}");
    assert_eq!(c["Labels"]["flavor"], "plain");
    assert_eq!(c["Labels"]["missing"], "default");
    assert_eq!(
        c["Labels"]["global"], "",
        "a global ARG is not visible in a stage unless redeclared"
    );
    assert_eq!(c["Labels"]["after"], "env-wins");
    env.build(
        df,
        &[
            "-t",
            "args:override",
            "--build-arg",
            "VERSION=2.5",
            "--build-arg",
            "FLAVOR=fancy",
        ],
    );
    let c = &env.config("args:override")["config"];
    let envs: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(envs.contains(&"APP_VERSION=2.5"), "{envs:?}");
    assert_eq!(c["Labels"]["flavor"], "fancy");
    // ARG values are not kept in the image's environment.
    assert!(!envs.iter().any(|e| e.starts_with("VERSION=")));
}

#[test]
fn heredoc_copy() {
    let env = Env::new();
    env.build(
        "FROM scratch\nARG NAME=world\nCOPY <<EOF /hello.txt\nhello ${NAME}\nEOF\nCOPY <<'EOF' /raw.txt\nhello ${NAME}\nEOF\n",
        &["-t", "heredoc:1"],
    );
    let root = unpack(&env, "heredoc:1");
    assert_eq!(
        std::fs::read_to_string(root.join("hello.txt")).unwrap(),
        "hello world\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("raw.txt")).unwrap(),
        "hello ${NAME}\n"
    );
}

#[test]
fn add_url_with_checksum() {
    use std::io::{Read, Write};
    let body = b"downloaded content\n".to_vec();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = body.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(6) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                served.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&served);
        }
    });
    let sum = plinth_oci::Digest::of(&body);
    let env = Env::new();
    env.build(
        &format!(
            "FROM scratch\nADD --checksum={sum} http://user:t0ps3cret@127.0.0.1:{port}/files/data.txt /dl/\n"
        ),
        &["-t", "url:1"],
    );
    // Credentials in the URL reach neither the history nor the output.
    let history = env.config("url:1")["history"].to_string();
    assert!(
        history.contains("http://***@127.0.0.1") && !history.contains("t0ps3cret"),
        "{history}"
    );
    let root = unpack(&env, "url:1");
    assert_eq!(std::fs::read(root.join("dl/data.txt")).unwrap(), body);
    // A wrong checksum fails the build and names both digests.
    env.write(
        "Dockerfile",
        &format!(
            "FROM scratch\nADD --checksum=sha256:{} http://127.0.0.1:{port}/x /x\n",
            "0".repeat(64)
        ),
    );
    let run = env.plinth(&["build", env.ctx().to_str().unwrap()]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains(&sum.to_string()), "{}", run.stderr);
}

#[test]
fn chown_and_workdir_owner_come_from_the_image_passwd() {
    let env = Env::new();
    env.write(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\napp:x:1500:1600:app:/home/app:/bin/sh\n",
    );
    env.write("etc/group", "root:x:0:\napp:x:1600:\nstaff:x:1700:app\n");
    env.write("data.txt", "d\n");
    env.build("FROM scratch\nCOPY etc/ /etc/\n", &["-t", "users:base"]);
    env.build(
        "FROM users:base\nCOPY --chown=app data.txt /a.txt\nCOPY --chown=app:staff data.txt /b.txt\nUSER app\nWORKDIR /home/app/work\n",
        &["-t", "users:1"],
    );
    let root = unpack(&env, "users:1");
    assert_eq!(
        meta(&root.join("a.txt")),
        (0o644, 1500, 1600),
        "a user name takes its primary group"
    );
    assert_eq!(
        meta(&root.join("b.txt")),
        (0o644, 1500, 1700),
        "user:group by name"
    );
    let w = meta(&root.join("home/app/work"));
    assert_eq!((w.1, w.2), (1500, 1600), "WORKDIR is created for the USER");
    // An unknown user is an error naming it.
    env.write(
        "Dockerfile",
        "FROM users:base\nCOPY --chown=nobody data.txt /c.txt\n",
    );
    let run = env.plinth(&["build", "."]);
    assert_eq!(run.status, 1);
    assert!(run.stderr.contains("nobody"), "{}", run.stderr);
}

#[test]
fn onbuild_triggers_run_in_the_child_and_are_cleared() {
    let env = Env::new();
    env.write("marker.txt", "from the child context\n");
    env.build(
        "FROM scratch\nONBUILD COPY marker.txt /onbuild/\nONBUILD LABEL triggered=yes\n",
        &["-t", "onbuild:parent"],
    );
    env.build(
        "FROM onbuild:parent\nLABEL child=1\n",
        &["-t", "onbuild:child"],
    );
    let cfg = env.config("onbuild:child");
    assert_eq!(cfg["config"]["Labels"]["triggered"], "yes");
    assert!(
        cfg["config"].get("OnBuild").is_none(),
        "triggers are not inherited further: {cfg}"
    );
    let root = unpack(&env, "onbuild:child");
    assert!(root.join("onbuild/marker.txt").is_file());
}

#[test]
fn from_platform_sets_the_image_platform() {
    let env = Env::new();
    env.build(
        "FROM --platform=linux/arm64/v8 scratch\nLABEL a=b\n",
        &["-t", "plat:arm"],
    );
    let cfg = env.config("plat:arm");
    assert_eq!(
        (
            cfg["os"].as_str(),
            cfg["architecture"].as_str(),
            cfg["variant"].as_str()
        ),
        (Some("linux"), Some("arm64"), Some("v8"))
    );
    env.build("FROM scratch\n", &["-t", "plat:host"]);
    assert_eq!(env.config("plat:host")["architecture"], "amd64");
}
