//! RUN steps in the sandbox, the layer cache, and `plinth run`, on a busybox root filesystem the
//! tests make themselves (Debian's busybox-static). `apt-get install` in a RUN step on a Debian
//! root is tested with plinth's own root filesystems (`rootfs.rs`).

use std::path::Path;

use crate::support::{self, Env, tool, tool_run, unpack};

/// Tags `bb:base`: busybox and its applet links, /tmp, /etc/passwd with root and app (1000).
pub(crate) fn busybox_base(env: &Env) {
    let root = env.ctx().join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "the tests need /bin/busybox: apt-get install busybox-static (scripts/install-deps.sh)"
    );
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    for applet in [
        "sh", "echo", "cat", "ls", "id", "rm", "mkdir", "touch", "date", "sleep", "test", "pwd",
        "ip", "hostname", "env", "grep", "wc", "head", "cp", "printf", "true", "false", "sed",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\napp:x:1000:\n").unwrap();
    std::fs::write(root.join("etc/rmme"), "to be deleted\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    env.build(
        "FROM scratch\nCOPY rootfs/ /\nCMD [\"/bin/sh\"]\n",
        &["-t", "bb:base"],
    );
}

#[test]
fn run_steps_change_the_filesystem_with_env_user_and_workdir() {
    let env = Env::new();
    busybox_base(&env);
    env.build(
        "FROM bb:base\nARG GREETING=hello\nENV WHO=world\nRUN echo \"$GREETING $WHO\" > /greeting && rm /etc/rmme && mkdir -p /srv/data\n\
         USER app\nWORKDIR /home/app\nRUN id -u > uid && pwd > cwd && echo \"$GREETING\" > arg\n\
         RUN <<EOF\necho from a heredoc > /tmp/heredoc\nEOF\n",
        &["-t", "run:1"],
    );
    let root = unpack(&env, "run:1");
    assert_eq!(
        std::fs::read_to_string(root.join("greeting")).unwrap(),
        "hello world\n"
    );
    assert!(
        !root.join("etc/rmme").exists(),
        "a file deleted by RUN is a whiteout"
    );
    assert!(root.join("srv/data").is_dir());
    assert_eq!(
        std::fs::read_to_string(root.join("home/app/uid")).unwrap(),
        "1000\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("home/app/cwd")).unwrap(),
        "/home/app\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("home/app/arg")).unwrap(),
        "hello\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("tmp/heredoc")).unwrap(),
        "from a heredoc\n"
    );
    // Nothing of the sandbox is captured: no resolv.conf/hosts placeholders, no /proc, /dev, /sys.
    for p in ["etc/resolv.conf", "etc/hosts", "proc", "dev", "sys"] {
        assert!(!root.join(p).exists(), "{p} was captured in a layer");
    }
    // ARG values are env for the step only.
    let cfg = env.config("run:1");
    let envs = cfg["config"]["Env"].to_string();
    assert!(!envs.contains("GREETING"), "{envs}");
}

#[test]
fn a_failing_step_names_the_step_code_and_output_and_commits_nothing() {
    let env = Env::new();
    busybox_base(&env);
    env.write(
        "Dockerfile",
        "FROM bb:base\nRUN echo first line && echo the error detail >&2 && exit 3\n",
    );
    let run = env.plinth(&["build", "-t", "fail:1", "."]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains("Dockerfile:2"), "{}", run.stderr);
    assert!(
        run.stderr.contains("exit") && run.stderr.contains('3'),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("the error detail"), "{}", run.stderr);
    let images = env.plinth(&["images", "--format", "json"]).ok().stdout;
    assert!(!images.contains("fail:1"), "{images}");
}

#[test]
fn network_none_has_only_loopback() {
    let env = Env::new();
    busybox_base(&env);
    env.build("FROM bb:base\nRUN --network=none cat /proc/net/dev > /netdev\nRUN cat /proc/net/dev > /hostdev\n", &["-t", "net:1"]);
    let root = unpack(&env, "net:1");
    let none = std::fs::read_to_string(root.join("netdev")).unwrap();
    let ifaces: Vec<&str> = none
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, ["lo"], "{none}");
    let host = std::fs::read_to_string(root.join("hostdev")).unwrap();
    assert_eq!(
        host.lines().count(),
        std::fs::read_to_string("/proc/net/dev")
            .unwrap()
            .lines()
            .count(),
        "the host network by default"
    );
}

#[test]
fn add_install_add_comes_from_the_cache() {
    let env = Env::new();
    busybox_base(&env);
    env.write("requirements.txt", "flask==3.0\n");
    env.write("app.py", "print('v1')\n");
    let df = "FROM bb:base\nCOPY requirements.txt /app/\nRUN cat /app/requirements.txt > /app/installed && cat /proc/sys/kernel/random/uuid >> /app/installed\nCOPY . /app\n";
    env.build(df, &["-t", "aia:1"]);
    env.write("app.py", "print('v2')\n");
    env.write("Dockerfile", df);
    let run = env
        .plinth(&["build", "-t", "aia:2", "--progress", "plain", "."])
        .ok();
    assert_eq!(
        run.stderr.matches("  cached").count(),
        2,
        "COPY requirements.txt and RUN come from the cache:\n{}",
        run.stderr
    );
    let (r1, r2) = (unpack(&env, "aia:1"), unpack(&env, "aia:2"));
    assert_eq!(
        std::fs::read(r1.join("app/installed")).unwrap(),
        std::fs::read(r2.join("app/installed")).unwrap(),
        "the install step did not run again"
    );
    assert_eq!(
        std::fs::read_to_string(r2.join("app/app.py")).unwrap(),
        "print('v2')\n"
    );
    // --no-cache runs it again.
    let run = env
        .plinth(&[
            "build",
            "-t",
            "aia:3",
            "--no-cache",
            "--progress",
            "plain",
            ".",
        ])
        .ok();
    assert_eq!(run.stderr.matches("  cached").count(), 0, "{}", run.stderr);
    assert_ne!(
        std::fs::read(unpack(&env, "aia:3").join("app/installed")).unwrap(),
        std::fs::read(r1.join("app/installed")).unwrap()
    );
    // prune empties the cache; the images stay intact.
    env.plinth(&["prune"]).ok();
    let run = env
        .plinth(&["build", "-t", "aia:4", "--progress", "plain", "."])
        .ok();
    assert_eq!(run.stderr.matches("  cached").count(), 0, "{}", run.stderr);
    tool(
        "oci-image-tool",
        &["validate", "--type", "image", env.store().to_str().unwrap()],
    );
}

#[test]
fn secrets_never_land_in_the_image_and_cache_mounts_persist() {
    let env = Env::new();
    busybox_base(&env);
    let secret = env.dir.path().join("token.txt");
    std::fs::write(&secret, "s3cret-value-42").unwrap();
    env.write(
        "Dockerfile",
        "FROM bb:base\nRUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /secret-len && ls -l /run/secrets/tok > /secret-ls\n\
         RUN --mount=type=cache,target=/cache echo run >> /cache/log && cp /cache/log /log-copy\n",
    );
    let src = format!("id=tok,src={}", secret.display());
    env.plinth(&["build", "-t", "sec:1", "--secret", &src, "."])
        .ok();
    env.plinth(&["build", "-t", "sec:2", "--secret", &src, "--no-cache", "."])
        .ok();
    let root = unpack(&env, "sec:2");
    assert_eq!(
        std::fs::read_to_string(root.join("secret-len"))
            .unwrap()
            .trim(),
        "15",
        "the step read the secret"
    );
    assert!(
        std::fs::read_to_string(root.join("secret-ls"))
            .unwrap()
            .starts_with("-r--------"),
        "mode 0400"
    );
    assert!(!root.join("run/secrets/tok").exists());
    assert!(
        !root.join("cache/log").exists(),
        "a cache mount is never in the image"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("log-copy")).unwrap(),
        "run\nrun\n",
        "the cache mount persists between builds"
    );
    // The secret is in no blob of the store (layers decompressed), the config or the history.
    for entry in std::fs::read_dir(env.store().join("blobs/sha256")).unwrap() {
        let path = entry.unwrap().path();
        let raw = std::fs::read(&path).unwrap();
        let mut text = raw.clone();
        let mut dec = Vec::new();
        if std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut dec).is_ok()
        {
            text = dec;
        }
        assert!(
            !String::from_utf8_lossy(&text).contains("s3cret-value-42"),
            "the secret is in {}",
            path.display()
        );
    }
    // A missing required secret is a clear error.
    let run = env.plinth(&["build", "--no-cache", "."]);
    assert_eq!(run.status, 1);
    assert!(run.stderr.contains("tok"), "{}", run.stderr);
}

#[test]
fn plinth_run_uses_the_image_config_and_returns_the_exit_code() {
    let env = Env::new();
    busybox_base(&env);
    env.build("FROM bb:base\nENV MSG=from-env\nWORKDIR /tmp\nUSER app\nCMD [\"sh\", \"-c\", \"echo $MSG $(id -u) $(pwd)\"]\n", &["-t", "runme:1"]);
    let run = env.plinth(&["run", "--rm", "runme:1"]).ok();
    assert_eq!(run.stdout, "from-env 1000 /tmp\n");
    let run = env.plinth(&[
        "run",
        "--rm",
        "-e",
        "MSG=override",
        "runme:1",
        "sh",
        "-c",
        "echo $MSG; exit 7",
    ]);
    assert_eq!(run.status, 7, "{}", run.stderr);
    assert_eq!(run.stdout, "override\n");
    let host = env.dir.path().join("shared");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in.txt"), "from the host\n").unwrap();
    let vol = format!("{}:/mnt:ro", host.display());
    let run = env
        .plinth(&[
            "run",
            "--rm",
            "-v",
            &vol,
            "--network",
            "none",
            "runme:1",
            "cat",
            "/mnt/in.txt",
        ])
        .ok();
    assert_eq!(run.stdout, "from the host\n");
}

#[test]
fn run_built_images_load_into_docker() {
    let Some(host) = support::docker_host("run_built_images_load_into_docker") else {
        return;
    };
    let env = Env::new();
    busybox_base(&env);
    env.build(
        "FROM bb:base\nRUN echo built-by-run > /made && rm /etc/rmme\nCMD [\"cat\", \"/made\"]\n",
        &["-t", "dockrun:1"],
    );
    support::docker_load(&env, &host, "dockrun:1");
    let docker = |args: &[&str]| support::docker(&host, args);
    let run = docker(&["run", "--rm", "--network", "none", "dockrun:1"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "built-by-run\n");
    let run = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "dockrun:1",
        "test",
        "!",
        "-e",
        "/etc/rmme",
    ]);
    assert_eq!(
        run.status, 0,
        "the whiteout hides the file in docker too: {}",
        run.stderr
    );
    let _ = docker(&["rmi", "dockrun:1"]);
}

#[test]
fn no_cache_filter_and_the_cache_limit() {
    let env = Env::new();
    busybox_base(&env);
    env.write(
        "Dockerfile",
        "FROM bb:base AS deps\nRUN cat /proc/sys/kernel/random/uuid > /deps\nFROM bb:base\nCOPY --from=deps /deps /deps\nRUN cat /proc/sys/kernel/random/uuid > /final\n",
    );
    env.plinth(&["build", "-t", "f:1", "."]).ok();
    let run = env
        .plinth(&[
            "build",
            "-t",
            "f:2",
            "--progress",
            "plain",
            "--no-cache-filter",
            "deps",
            ".",
        ])
        .ok();
    // deps runs again (new uuid), so everything after it in the final stage misses too.
    assert_eq!(run.stderr.matches("  cached").count(), 0, "{}", run.stderr);
    let run = env
        .plinth(&["build", "-t", "f:3", "--progress", "plain", "."])
        .ok();
    assert_eq!(run.stderr.matches("  cached").count(), 3, "{}", run.stderr);
    // A tiny limit empties the cache after the build.
    let run = env
        .plinth_env(
            &[
                "build",
                "-t",
                "f:4",
                "--no-cache",
                "--progress",
                "plain",
                ".",
            ],
            &[("PLINTH_CACHE_LIMIT", "1")],
        )
        .ok();
    assert!(
        run.stderr.contains("layer cache over its limit"),
        "{}",
        run.stderr
    );
    let run = env
        .plinth(&["build", "-t", "f:5", "--progress", "plain", "."])
        .ok();
    assert_eq!(run.stderr.matches("  cached").count(), 0, "{}", run.stderr);
}

#[test]
fn tty_progress_redraws_the_output_window() {
    let env = Env::new();
    busybox_base(&env);
    env.write(
        "Dockerfile",
        "FROM bb:base\nRUN for i in 1 2 3 4 5 6 7 8 9 10; do echo line-$i; done\n",
    );
    let run = env.plinth(&["build", "--progress", "tty", "."]).ok();
    assert!(
        run.stderr.contains("[stage-0 2/2] RUN for i in"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("\u{1b}[2K") && run.stderr.contains("line-10"),
        "the window shows the output: {:?}",
        run.stderr
    );
    assert!(
        run.stderr.contains("\u{1b}[J"),
        "and is cleared when the step ends: {:?}",
        run.stderr
    );
    let plain = env
        .plinth(&["build", "--no-cache", "--progress", "plain", "."])
        .ok();
    assert!(
        !plain.stderr.contains('\u{1b}'),
        "plain output has no escapes: {:?}",
        plain.stderr
    );
    assert!(
        plain.stderr.contains("line-1\nline-2\n"),
        "{}",
        plain.stderr
    );
}

#[test]
fn sigint_stops_a_running_step_and_leaves_nothing() {
    let env = Env::new();
    busybox_base(&env);
    env.write("Dockerfile", "FROM bb:base\nRUN echo started && sleep 60\n");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_plinth"))
        .args(["build", "-t", "interrupted:1", "--progress", "plain", "."])
        .current_dir(env.ctx())
        .env("PLINTH_STORE", env.store())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the step to start (its upper dir exists), then interrupt.
    let tmp = env.store().join(".plinth/tmp");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_dir(&tmp)
        .map(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("run-"))
        })
        .unwrap_or(false)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the RUN step never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the step was not stopped promptly"
    );
    assert!(stderr.contains("nothing was committed"), "{stderr}");
    let leftovers: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary directories left: {leftovers:?}"
    );
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(env.store().to_str().unwrap()),
        "a mount of the build is left on the host"
    );
    assert!(!env.plinth(&["images"]).ok().stdout.contains("interrupted"));
    let sleepers = tool_run(
        "sh",
        &["-c", "ps -eo args | grep -c '^sleep 60$' || true"],
        None,
    );
    assert_eq!(
        sleepers.stdout.trim(),
        "0",
        "the step's process is still running"
    );
}

#[test]
fn run_works_without_etc_passwd_and_with_a_numeric_user() {
    let env = Env::new();
    let root = env.ctx().join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for applet in ["sh", "id", "echo"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    env.build(
        "FROM scratch\nCOPY rootfs/ /\nRUN id -u > /root-id\nUSER 4242:4343\nRUN id -u > /tmp-id || echo no-tmp\nCMD [\"id\", \"-g\"]\n",
        &["-t", "nopasswd:1"],
    );
    let rootfs = unpack(&env, "nopasswd:1");
    assert_eq!(
        std::fs::read_to_string(rootfs.join("root-id")).unwrap(),
        "0\n",
        "no USER means uid 0, even without /etc/passwd"
    );
    let run = env.plinth(&["run", "--rm", "nopasswd:1"]).ok();
    assert_eq!(run.stdout, "4343\n");
}

#[test]
fn bind_mounts_from_a_stage_and_the_context_are_read_only_and_not_kept() {
    let env = Env::new();
    busybox_base(&env);
    env.write("ctx-file.txt", "from the context\n");
    env.build(
        "FROM bb:base AS src\nRUN echo from-the-stage > /data.txt\n\
         FROM bb:base\nRUN --mount=type=bind,from=src,source=/data.txt,target=/mnt/data.txt cat /mnt/data.txt > /copied\n\
         RUN --mount=type=bind,source=ctx-file.txt,target=/mnt/ctx.txt cat /mnt/ctx.txt > /ctx-copied && (echo x > /mnt/ctx.txt 2>/dev/null && echo writable || echo read-only) > /ro\n",
        &["-t", "bind:1"],
    );
    let root = unpack(&env, "bind:1");
    assert_eq!(
        std::fs::read_to_string(root.join("copied")).unwrap(),
        "from-the-stage\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("ctx-copied")).unwrap(),
        "from the context\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("ro")).unwrap(),
        "read-only\n"
    );
    assert!(
        !root.join("mnt/data.txt").exists() && !root.join("mnt/ctx.txt").exists(),
        "mount targets are not kept"
    );
    assert_eq!(
        std::fs::read_to_string(env.ctx().join("ctx-file.txt")).unwrap(),
        "from the context\n"
    );
}

#[test]
fn a_run_layer_holds_only_what_the_command_changed() {
    let env = Env::new();
    busybox_base(&env);
    env.build(
        "FROM bb:base\nRUN echo x > /newfile\n",
        &["-t", "minimal:1"],
    );
    let manifest: serde_json::Value = serde_json::from_str(&tool(
        "skopeo",
        &[
            "inspect",
            "--raw",
            &format!("oci:{}:minimal:1", env.store().display()),
        ],
    ))
    .unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    let top = layers.last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let blob = env.store().join("blobs/sha256").join(top);
    let listing = tool("tar", &["-tzf", blob.to_str().unwrap()]);
    // /etc got the resolv.conf/hosts mount points during the step; neither they nor the copied-up
    // /etc are in the layer.
    assert_eq!(
        listing.lines().collect::<Vec<_>>(),
        ["newfile"],
        "{listing}"
    );
}
