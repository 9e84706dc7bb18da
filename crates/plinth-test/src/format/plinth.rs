//! plinth's own test format: a `check` list, in YAML (`*.yaml`) or TOML (`*.toml`, as
//! `[[check]]` tables). It is a superset of plinth-init's check files
//! (`/container/tests/<suite>.toml`, see plinth-init's `checks` module): the same keys mean the
//! same thing, so one file serves `plinth test` in CI and `plinth-init health` in the container.
//! Its JSON Schema is [`json_schema`] (committed as `plinth-test.schema.json`).
//!
//! # Format
//!
//! ```yaml
//! check:
//!   - file: /etc/nginx/nginx.conf       # kind key: the path
//!     exists: true                      # default true
//!     filetype: file                    # file | directory | symlink | other
//!     mode: "0644"                      # permission bits, octal
//!     uid: 0                            # or owner: root (by name, the image's /etc/passwd)
//!     gid: 0                            # or owner-group: root (the image's /etc/group)
//!     contains: ["^worker_processes"]   # regexes the content must match (multi-line)
//!     contains-not: ["^user nobody"]    # regexes the content must not match
//!     size: 1024
//!     sha256: "e3b0c442..."
//!     linked-to: ../lib/x.so            # a symlink's target, as stored
//!   - package: nginx                    # from the dpkg database
//!     installed: true                   # default true
//!     versions: ["1.22.1-9"]            # one of these
//!   - user: www-data                    # /etc/passwd
//!     exists: true
//!     uid: 33
//!     gid: 33
//!     groups: [www-data]
//!     home: /var/www
//!     shell: /usr/sbin/nologin
//!   - group: www-data                   # /etc/group
//!     gid: 33
//!   - metadata:                         # the image config; only the given keys are checked
//!       env: { LANG: C.UTF-8 }          # exact values
//!       env-match: { PATH: "/usr/bin" } # regexes ("" = only set)
//!       labels: { org.opencontainers.image.title: web }
//!       labels-match: { version: "^1\\." }
//!       entrypoint: ["/docker-entrypoint.sh"]
//!       cmd: ["nginx", "-g", "daemon off;"]
//!       workdir: /
//!       user: "101"
//!       exposed-ports: ["80/tcp"]
//!       unexposed-ports: ["22"]
//!       volumes: [/data]
//!       unmounted-volumes: [/tmp]
//!       healthcheck: true
//!   - command: nginx -t                 # a string runs with /bin/sh -c; or an argv list
//!     exit-status: 0                    # default 0
//!     stdout: []                        # regexes stdout must match; stderr likewise
//!     stderr: ["syntax is ok"]
//!     stdout-not: ["error"]             # regexes stdout must not match; stderr-not likewise
//!     env: { TZ: UTC }
//!     setup: [["touch", "/tmp/a"]]      # run before, in the same container
//!     teardown: ["rm /tmp/a"]           # run after
//!     entrypoint: []                    # replaces the image's entrypoint
//!   - process: nginx                    # in the running container
//!     running: true
//!   - port: 80
//!     protocol: tcp                     # tcp | tcp6 | udp | udp6
//!     listening: true
//!     ip: ["0.0.0.0"]                   # listening on one of these
//!   - http: http://127.0.0.1:80/
//!     status: 200                       # default 200
//!     body: ["Welcome"]                 # regexes; body-not likewise
//!     headers: { Host: example.com }    # request headers (as plinth-init)
//!     response-headers: ["Content-Type: text/html"]
//!     method: GET
//!   - addr: tcp://127.0.0.1:80          # or HOST:PORT; udp://HOST:PORT
//!     reachable: true
//!   - mount: /data
//!     exists: true
//!     opts: [rw]
//!     source: /dev/sda1
//!     filesystem: ext4
//! ```
//!
//! Every check also takes `name` (default derived from the check), `probes` (plinth-init's
//! health/ready probes: `["health", "ready"]` by default, validated here, and `plinth test`
//! runs every check whatever its probes) and `timeout` (`"250ms"`, `"5s"`, `"2m"`, `"1h"` or a
//! number of seconds; default 5s, as plinth-init). Each check has exactly one kind key; a key
//! of another kind, or an unknown key, is an error naming it and its line.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{FormatError, OneOrMany, check_regex, line_of, parse_duration, toml_error, yaml_error};
use crate::model::{
    AddrCheck, Check, CommandCheck, FileCheck, FileKind, GroupCheck, HttpCheck, Matcher,
    MetadataCheck, MountCheck, PackageCheck, PortCheck, ProcessCheck, Protocol, Test, UserCheck,
};

/// plinth-init's default check timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The kind keys, in the order errors list them.
const KINDS: &[&str] = &[
    "file", "package", "user", "group", "metadata", "command", "process", "port", "http", "addr",
    "mount",
];

/// The whole file (used for the JSON Schema).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "plinth test file",
    description = "plinth's test format: a list of checks (YAML `check:` or TOML `[[check]]`), a superset of plinth-init's check files."
)]
struct SchemaFile {
    /// The checks, in order.
    #[serde(default)]
    #[allow(dead_code)]
    check: Vec<RawCheck>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YamlFile {
    #[serde(default)]
    check: Vec<serde_saphyr::Spanned<RawCheck>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlFile {
    #[serde(default)]
    check: Vec<toml::Spanned<RawCheck>>,
}

/// A duration: "250ms", "5s", "2m", "1h", or a number of seconds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "a duration such as \"5s\" or a number of seconds"
)]
enum DurVal {
    Str(String),
    Int(u64),
}

/// One check: exactly one kind key (file, package, user, group, metadata, command, process,
/// port, http, addr, mount) and that kind's keys.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCheck {
    /// The check's name (default: derived from the check).
    name: Option<String>,
    /// plinth-init's probes running the check: "health", "ready" (default both; [] = test only).
    probes: Option<Vec<String>>,
    /// How long the check may take (default 5s).
    timeout: Option<DurVal>,

    /// file: a path in the image.
    file: Option<String>,
    /// file, user, group, mount: must exist (default true) or must not.
    exists: Option<bool>,
    /// file: file | directory | symlink | other.
    filetype: Option<String>,
    /// file: regexes the content must match.
    contains: Option<OneOrMany>,
    /// file: regexes the content must not match.
    contains_not: Option<OneOrMany>,
    /// file: permission bits, octal ("0644").
    mode: Option<String>,
    /// file, user: numeric owner / user id.
    uid: Option<u64>,
    /// file, user, group: numeric group id.
    gid: Option<u64>,
    /// file: owner by name.
    owner: Option<String>,
    /// file: group by name.
    owner_group: Option<String>,
    /// file: a symlink's target, as stored.
    linked_to: Option<String>,
    /// file: size in bytes.
    size: Option<u64>,
    /// file: hex SHA-256 of the content.
    sha256: Option<String>,

    /// package: a Debian package name.
    package: Option<String>,
    /// package: installed (default true) or not.
    installed: Option<bool>,
    /// package: the installed version must be one of these.
    versions: Option<OneOrMany>,

    /// user: a user name of /etc/passwd.
    user: Option<String>,
    /// user: groups (by name) the user must be in.
    groups: Option<Vec<String>>,
    /// user: home directory.
    home: Option<String>,
    /// user: login shell.
    shell: Option<String>,

    /// group: a group name of /etc/group.
    group: Option<String>,

    /// metadata: the image config.
    metadata: Option<RawMetadata>,

    /// command: a string (run with /bin/sh -c) or an argv.
    command: Option<OneOrMany>,
    /// command: the expected exit status (default 0).
    exit_status: Option<i32>,
    /// command: regexes stdout must match.
    stdout: Option<OneOrMany>,
    /// command: regexes stderr must match.
    stderr: Option<OneOrMany>,
    /// command: regexes stdout must not match.
    stdout_not: Option<OneOrMany>,
    /// command: regexes stderr must not match.
    stderr_not: Option<OneOrMany>,
    /// command: environment variables set.
    env: Option<BTreeMap<String, String>>,
    /// command: commands run before it in the same container (strings or argvs).
    setup: Option<Vec<OneOrMany>>,
    /// command: commands run after it in the same container.
    teardown: Option<Vec<OneOrMany>>,
    /// command: replaces the image's entrypoint.
    entrypoint: Option<Vec<String>>,

    /// process: a process name (comm, or argv[0]'s base name).
    process: Option<String>,
    /// process: running (default true) or not.
    running: Option<bool>,

    /// port: a port number.
    port: Option<u16>,
    /// port: tcp | tcp6 | udp | udp6 (default tcp).
    protocol: Option<String>,
    /// port: listening (default true) or not.
    listening: Option<bool>,
    /// port: it must listen on one of these addresses.
    ip: Option<Vec<String>>,

    /// http: an http:// URL as seen from inside the container.
    http: Option<String>,
    /// http: the expected status (default 200).
    status: Option<u16>,
    /// http: regexes the body must match.
    body: Option<OneOrMany>,
    /// http: regexes the body must not match.
    body_not: Option<OneOrMany>,
    /// http: request headers sent.
    headers: Option<BTreeMap<String, String>>,
    /// http: response headers that must be present ("Name: value", substring).
    response_headers: Option<Vec<String>>,
    /// http: the request method (default GET).
    method: Option<String>,

    /// addr: tcp://HOST:PORT, udp://HOST:PORT or HOST:PORT.
    addr: Option<String>,
    /// addr: reachable (default true) or not.
    reachable: Option<bool>,

    /// mount: a mount point of the running container.
    mount: Option<String>,
    /// mount: options that must be among the mount's.
    opts: Option<Vec<String>>,
    /// mount: the mount's source.
    source: Option<String>,
    /// mount: the filesystem type.
    filesystem: Option<String>,
}

/// The image config keys of a metadata check.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawMetadata {
    /// Variables that must be set to exactly these values.
    env: Option<BTreeMap<String, String>>,
    /// Variables that must be set, their values matching these regexes ("" = any value).
    env_match: Option<BTreeMap<String, String>>,
    /// Variables that must not be set.
    env_unset: Option<Vec<String>>,
    /// Labels that must be set to exactly these values.
    labels: Option<BTreeMap<String, String>>,
    /// Labels that must be set, their values matching these regexes.
    labels_match: Option<BTreeMap<String, String>>,
    /// Exactly this entrypoint ([] = none).
    entrypoint: Option<Vec<String>>,
    /// Exactly this cmd ([] = none).
    cmd: Option<Vec<String>>,
    workdir: Option<String>,
    user: Option<String>,
    /// Ports that must be exposed ("8080", "8080/tcp", "53/udp").
    exposed_ports: Option<Vec<String>>,
    /// Ports that must not be exposed.
    unexposed_ports: Option<Vec<String>>,
    /// Volumes that must be declared.
    volumes: Option<Vec<String>>,
    /// Volumes that must not be declared.
    unmounted_volumes: Option<Vec<String>>,
    /// A HEALTHCHECK must (true) or must not (false) be declared.
    healthcheck: Option<bool>,
}

/// The JSON Schema of plinth's test format (committed as `plinth-test.schema.json`).
pub fn json_schema() -> String {
    let value = serde_json::to_value(schemars::schema_for!(SchemaFile)).unwrap_or_default();
    format!(
        "{}\n",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    )
}

/// Parses the YAML form.
pub fn parse_yaml(text: &str, path: &Path) -> Result<Vec<Test>, FormatError> {
    let file: YamlFile = serde_saphyr::from_str(text).map_err(|e| yaml_error(&e, path))?;
    file.check
        .into_iter()
        .enumerate()
        .map(|(i, s)| build(s.value, i, Some(s.referenced.line() as usize), path))
        .collect()
}

/// Parses the TOML form (`[[check]]` tables).
pub fn parse_toml(text: &str, path: &Path) -> Result<Vec<Test>, FormatError> {
    let file: TomlFile = toml::from_str(text).map_err(|e| toml_error(&e, text, path))?;
    file.check
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let line = line_of(text, s.span().start);
            build(s.into_inner(), i, Some(line), path)
        })
        .collect()
}

fn regexes(v: Option<OneOrMany>, key: &str, not: bool) -> Result<Vec<Matcher>, String> {
    v.map(OneOrMany::into_vec)
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            check_regex(&p).map_err(|e| format!("`{key}`: {e}"))?;
            Ok(if not {
                Matcher::NotRegex(p)
            } else {
                Matcher::Regex(p)
            })
        })
        .collect()
}

fn argv(c: OneOrMany) -> Vec<String> {
    match c {
        OneOrMany::One(s) => vec!["/bin/sh".to_string(), "-c".to_string(), s],
        OneOrMany::Many(v) => v,
    }
}

fn build(
    raw: RawCheck,
    index: usize,
    line: Option<usize>,
    path: &Path,
) -> Result<Test, FormatError> {
    let label = match &raw.name {
        Some(n) => format!("check #{} ({n:?})", index + 1),
        None => format!("check #{}", index + 1),
    };
    let err = |m: String| FormatError::invalid(path, line, format!("{label}: {m}"));
    build_inner(raw)
        .map(|mut t| {
            t.line = line;
            t
        })
        .map_err(err)
}

fn build_inner(raw: RawCheck) -> Result<Test, String> {
    let present = [
        ("file", raw.file.is_some()),
        ("package", raw.package.is_some()),
        ("user", raw.user.is_some()),
        ("group", raw.group.is_some()),
        ("metadata", raw.metadata.is_some()),
        ("command", raw.command.is_some()),
        ("process", raw.process.is_some()),
        ("port", raw.port.is_some()),
        ("http", raw.http.is_some()),
        ("addr", raw.addr.is_some()),
        ("mount", raw.mount.is_some()),
    ];
    let kinds: Vec<&str> = present
        .iter()
        .filter(|(_, p)| *p)
        .map(|(k, _)| *k)
        .collect();
    let kind = match kinds.as_slice() {
        [k] => *k,
        [] => {
            return Err(format!(
                "a check needs one of the keys {}; add one",
                KINDS.join(", ")
            ));
        }
        many => {
            return Err(format!(
                "a check has exactly one of {}, but this one has {}; split it into several checks",
                KINDS.join(", "),
                many.join(", ")
            ));
        }
    };
    let owned: &[(&str, bool, &[&str])] = &[
        (
            "exists",
            raw.exists.is_some(),
            &["file", "user", "group", "mount"],
        ),
        ("filetype", raw.filetype.is_some(), &["file"]),
        ("contains", raw.contains.is_some(), &["file"]),
        ("contains-not", raw.contains_not.is_some(), &["file"]),
        ("mode", raw.mode.is_some(), &["file"]),
        ("uid", raw.uid.is_some(), &["file", "user"]),
        ("gid", raw.gid.is_some(), &["file", "user", "group"]),
        ("owner", raw.owner.is_some(), &["file"]),
        ("owner-group", raw.owner_group.is_some(), &["file"]),
        ("linked-to", raw.linked_to.is_some(), &["file"]),
        ("size", raw.size.is_some(), &["file"]),
        ("sha256", raw.sha256.is_some(), &["file"]),
        ("installed", raw.installed.is_some(), &["package"]),
        ("versions", raw.versions.is_some(), &["package"]),
        ("groups", raw.groups.is_some(), &["user"]),
        ("home", raw.home.is_some(), &["user"]),
        ("shell", raw.shell.is_some(), &["user"]),
        ("exit-status", raw.exit_status.is_some(), &["command"]),
        ("stdout", raw.stdout.is_some(), &["command"]),
        ("stderr", raw.stderr.is_some(), &["command"]),
        ("stdout-not", raw.stdout_not.is_some(), &["command"]),
        ("stderr-not", raw.stderr_not.is_some(), &["command"]),
        ("env", raw.env.is_some(), &["command"]),
        ("setup", raw.setup.is_some(), &["command"]),
        ("teardown", raw.teardown.is_some(), &["command"]),
        ("entrypoint", raw.entrypoint.is_some(), &["command"]),
        ("running", raw.running.is_some(), &["process"]),
        ("protocol", raw.protocol.is_some(), &["port"]),
        ("listening", raw.listening.is_some(), &["port"]),
        ("ip", raw.ip.is_some(), &["port"]),
        ("status", raw.status.is_some(), &["http"]),
        ("body", raw.body.is_some(), &["http"]),
        ("body-not", raw.body_not.is_some(), &["http"]),
        ("headers", raw.headers.is_some(), &["http"]),
        (
            "response-headers",
            raw.response_headers.is_some(),
            &["http"],
        ),
        ("method", raw.method.is_some(), &["http"]),
        ("reachable", raw.reachable.is_some(), &["addr"]),
        ("opts", raw.opts.is_some(), &["mount"]),
        ("source", raw.source.is_some(), &["mount"]),
        ("filesystem", raw.filesystem.is_some(), &["mount"]),
    ];
    for (key, is_present, owners) in owned {
        if *is_present && !owners.contains(&kind) {
            return Err(format!(
                "`{key}` belongs to {} checks, not to a {kind} check; remove it",
                owners.join("/")
            ));
        }
    }
    if let Some(list) = &raw.probes {
        for p in list {
            if p != "health" && p != "ready" {
                return Err(format!(
                    "probe {p:?} is unknown: use \"health\" and/or \"ready\" (or [] for test only)"
                ));
            }
        }
    }
    let timeout = match raw.timeout {
        None => DEFAULT_TIMEOUT,
        Some(DurVal::Int(n)) => Duration::from_secs(n),
        Some(DurVal::Str(s)) => parse_duration(&s).ok_or_else(|| {
            format!(
                "timeout {s:?} is not a duration: write e.g. \"250ms\", \"5s\", \"2m\" or \"1h\""
            )
        })?,
    };
    if timeout.is_zero() {
        return Err("timeout must be more than zero".to_string());
    }
    let nonempty = |v: &str, key: &str| {
        if v.trim().is_empty() {
            Err(format!("`{key}` is empty: give a value"))
        } else {
            Ok(())
        }
    };
    let (check, default_name) = match kind {
        "file" => {
            let path = raw.file.unwrap_or_default();
            nonempty(&path, "file")?;
            let exists = raw.exists.unwrap_or(true);
            let kind = match raw.filetype.as_deref() {
                None => None,
                Some("file") => Some(FileKind::File),
                Some("directory") => Some(FileKind::Directory),
                Some("symlink") => Some(FileKind::Symlink),
                Some("other") => Some(FileKind::Other),
                Some(o) => {
                    return Err(format!(
                        "filetype {o:?} is unknown: use file, directory, symlink or other"
                    ));
                }
            };
            let mode = raw
                .mode
                .map(|m| {
                    u32::from_str_radix(&m, 8)
                        .ok()
                        .filter(|v| *v <= 0o7777)
                        .ok_or_else(|| format!("mode {m:?} is not an octal mode like \"0644\""))
                })
                .transpose()?;
            let mut content = regexes(raw.contains, "contains", false)?;
            content.extend(regexes(raw.contains_not, "contains-not", true)?);
            if let Some(h) = &raw.sha256
                && (h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(format!("sha256 {h:?} is not 64 hex digits"));
            }
            let f = FileCheck {
                exists,
                kind,
                mode,
                uid: raw.uid,
                gid: raw.gid,
                owner: raw.owner,
                group: raw.owner_group,
                link_target: raw.linked_to,
                content,
                size: raw.size,
                sha256: raw.sha256.map(|h| h.to_ascii_lowercase()),
                executable_by: None,
                path: path.clone(),
            };
            if !exists && has_attributes(&f) {
                return Err(
                    "a file with exists: false takes no other attributes (mode, contains...)"
                        .to_string(),
                );
            }
            (
                Check::File(f),
                format!("file {path} {}", if exists { "exists" } else { "absent" }),
            )
        }
        "package" => {
            let name = raw.package.unwrap_or_default();
            nonempty(&name, "package")?;
            let installed = raw.installed.unwrap_or(true);
            (
                Check::Package(PackageCheck {
                    name: name.clone(),
                    installed,
                    versions: raw.versions.map(OneOrMany::into_vec).unwrap_or_default(),
                }),
                format!(
                    "package {name} {}",
                    if installed {
                        "installed"
                    } else {
                        "not installed"
                    }
                ),
            )
        }
        "user" => {
            let name = raw.user.unwrap_or_default();
            nonempty(&name, "user")?;
            let exists = raw.exists.unwrap_or(true);
            (
                Check::User(UserCheck {
                    name: name.clone(),
                    exists,
                    uid: raw.uid,
                    gid: raw.gid,
                    groups: raw.groups.unwrap_or_default(),
                    home: raw.home,
                    shell: raw.shell,
                }),
                format!("user {name} {}", if exists { "exists" } else { "absent" }),
            )
        }
        "group" => {
            let name = raw.group.unwrap_or_default();
            nonempty(&name, "group")?;
            let exists = raw.exists.unwrap_or(true);
            (
                Check::Group(GroupCheck {
                    name: name.clone(),
                    exists,
                    gid: raw.gid,
                }),
                format!("group {name} {}", if exists { "exists" } else { "absent" }),
            )
        }
        "metadata" => {
            let m = raw.metadata.unwrap_or_default();
            let pairs = |exact: Option<BTreeMap<String, String>>,
                         rx: Option<BTreeMap<String, String>>,
                         key: &str|
             -> Result<Vec<(String, Option<Matcher>)>, String> {
                let mut out: Vec<(String, Option<Matcher>)> = exact
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, Some(Matcher::Equals(v))))
                    .collect();
                for (k, v) in rx.unwrap_or_default() {
                    if v.is_empty() {
                        out.push((k, None));
                    } else {
                        check_regex(&v).map_err(|e| format!("`{key}` {k}: {e}"))?;
                        out.push((k, Some(Matcher::Regex(v))));
                    }
                }
                Ok(out)
            };
            (
                Check::Metadata(MetadataCheck {
                    env: pairs(m.env, m.env_match, "env-match")?,
                    env_unset: m.env_unset.unwrap_or_default(),
                    labels: pairs(m.labels, m.labels_match, "labels-match")?,
                    entrypoint: m.entrypoint,
                    cmd: m.cmd,
                    workdir: m.workdir,
                    user: m.user,
                    exposed_ports: m.exposed_ports.unwrap_or_default(),
                    unexposed_ports: m.unexposed_ports.unwrap_or_default(),
                    volumes: m.volumes.unwrap_or_default(),
                    unmounted_volumes: m.unmounted_volumes.unwrap_or_default(),
                    healthcheck: m.healthcheck,
                }),
                "metadata".to_string(),
            )
        }
        "command" => {
            let argv = raw.command.map(argv).unwrap_or_default();
            if argv.first().is_none_or(|a| a.trim().is_empty()) {
                return Err("`command` is empty: give a program and its arguments".to_string());
            }
            let shown = match argv.as_slice() {
                [sh, c, s] if sh == "/bin/sh" && c == "-c" => s.clone(),
                _ => argv.join(" "),
            };
            let steps =
                |v: Option<Vec<OneOrMany>>, key: &str| -> Result<Vec<Vec<String>>, String> {
                    let steps: Vec<Vec<String>> =
                        v.unwrap_or_default().into_iter().map(self::argv).collect();
                    if steps
                        .iter()
                        .any(|s| s.first().is_none_or(|a| a.trim().is_empty()))
                    {
                        return Err(format!("`{key}` has an empty command; remove it"));
                    }
                    Ok(steps)
                };
            let mut stdout = regexes(raw.stdout, "stdout", false)?;
            stdout.extend(regexes(raw.stdout_not, "stdout-not", true)?);
            let mut stderr = regexes(raw.stderr, "stderr", false)?;
            stderr.extend(regexes(raw.stderr_not, "stderr-not", true)?);
            (
                Check::Command(CommandCheck {
                    argv,
                    entrypoint: raw.entrypoint,
                    exit_status: raw.exit_status.unwrap_or(0),
                    stdout,
                    stderr,
                    env: raw.env.unwrap_or_default().into_iter().collect(),
                    setup: steps(raw.setup, "setup")?,
                    teardown: steps(raw.teardown, "teardown")?,
                    timeout: Some(timeout),
                }),
                format!("command `{shown}`"),
            )
        }
        "process" => {
            let name = raw.process.unwrap_or_default();
            nonempty(&name, "process")?;
            let running = raw.running.unwrap_or(true);
            (
                Check::Process(ProcessCheck {
                    name: name.clone(),
                    running,
                }),
                format!(
                    "process {name} {}",
                    if running { "running" } else { "not running" }
                ),
            )
        }
        "port" => {
            let port = raw.port.unwrap_or_default();
            let (protocol, pname) = match raw.protocol.as_deref() {
                None | Some("tcp") => (Protocol::Tcp, "tcp"),
                Some("tcp6") => (Protocol::Tcp6, "tcp6"),
                Some("udp") => (Protocol::Udp, "udp"),
                Some("udp6") => (Protocol::Udp6, "udp6"),
                Some(other) => {
                    return Err(format!(
                        "protocol {other:?} is unknown: use \"tcp\", \"tcp6\", \"udp\" or \"udp6\""
                    ));
                }
            };
            let listening = raw.listening.unwrap_or(true);
            (
                Check::Port(PortCheck {
                    port,
                    protocol,
                    listening,
                    ips: raw.ip.unwrap_or_default(),
                }),
                format!(
                    "port {port}/{pname} {}",
                    if listening {
                        "listening"
                    } else {
                        "not listening"
                    }
                ),
            )
        }
        "http" => {
            let url = raw.http.unwrap_or_default();
            check_http_url(&url)?;
            let mut body = regexes(raw.body, "body", false)?;
            body.extend(regexes(raw.body_not, "body-not", true)?);
            let method = raw.method.clone().unwrap_or_else(|| "GET".to_string());
            (
                Check::Http(HttpCheck {
                    url: url.clone(),
                    status: raw.status.unwrap_or(200),
                    body,
                    headers: raw.response_headers.unwrap_or_default(),
                    request_headers: raw.headers.unwrap_or_default().into_iter().collect(),
                    method: raw.method,
                    timeout: Some(timeout),
                }),
                format!("http {method} {url}"),
            )
        }
        "addr" => {
            let written = raw.addr.unwrap_or_default();
            let addr = normalize_addr(&written)?;
            let reachable = raw.reachable.unwrap_or(true);
            (
                Check::Addr(AddrCheck {
                    addr,
                    reachable,
                    timeout: Some(timeout),
                }),
                format!(
                    "addr {written}{}",
                    if reachable { "" } else { " unreachable" }
                ),
            )
        }
        _ => {
            let path = raw.mount.unwrap_or_default();
            nonempty(&path, "mount")?;
            let exists = raw.exists.unwrap_or(true);
            (
                Check::Mount(MountCheck {
                    path: path.clone(),
                    exists,
                    opts: raw.opts.unwrap_or_default(),
                    source: raw.source,
                    filesystem: raw.filesystem,
                }),
                format!("mount {path} {}", if exists { "exists" } else { "absent" }),
            )
        }
    };
    Ok(Test {
        name: raw.name.unwrap_or(default_name),
        line: None,
        check,
    })
}

/// Whether a file check checks anything beyond existence.
pub(crate) fn has_attributes(f: &FileCheck) -> bool {
    f.kind.is_some()
        || f.mode.is_some()
        || f.uid.is_some()
        || f.gid.is_some()
        || f.owner.is_some()
        || f.group.is_some()
        || f.link_target.is_some()
        || !f.content.is_empty()
        || f.size.is_some()
        || f.sha256.is_some()
        || f.executable_by.is_some()
}

/// Validates an http:// or https:// URL with a host.
pub(crate) fn check_http_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("http {url:?} is not an http:// URL"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.is_empty() || authority.starts_with(':') {
        return Err(format!("http {url:?} has no host"));
    }
    if authority.contains('@') {
        return Err(format!(
            "http {url:?}: credentials in URLs are not supported; send an Authorization header"
        ));
    }
    Ok(())
}

/// `tcp://H:P`, `udp://H:P` or `H:P` (TCP) as `PROTO://H:P`.
pub(crate) fn normalize_addr(addr: &str) -> Result<String, String> {
    let (scheme, hostport) = if let Some(rest) = addr.strip_prefix("tcp://") {
        ("tcp", rest)
    } else if let Some(rest) = addr.strip_prefix("udp://") {
        ("udp", rest)
    } else if addr.contains("://") {
        return Err(format!(
            "addr {addr:?}: only tcp:// and udp:// addresses can be checked"
        ));
    } else {
        ("tcp", addr)
    };
    if hostport
        .rsplit_once(':')
        .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
    {
        return Err(format!(
            "addr {addr:?} is not HOST:PORT (e.g. tcp://127.0.0.1:5432)"
        ));
    }
    Ok(format!("{scheme}://{hostport}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{LoadOptions, parse};
    use crate::model::Format;

    /// The module documentation's example, every key of every kind.
    const EXAMPLE: &str = r#"check:
  - file: /etc/nginx/nginx.conf
    exists: true
    filetype: file
    mode: "0644"
    uid: 0
    gid: 0
    owner: root
    owner-group: adm
    contains: ["^worker_processes"]
    contains-not: ["^user nobody"]
    size: 1024
    sha256: "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
    linked-to: ../lib/x.so
  - package: nginx
    installed: false
    versions: ["1.22.1-9"]
  - user: www-data
    exists: true
    uid: 33
    gid: 34
    groups: [www-data]
    home: /var/www
    shell: /usr/sbin/nologin
  - group: www-data
    exists: false
    gid: 33
  - metadata:
      env: { LANG: C.UTF-8 }
      env-match: { PATH: "/usr/bin", HOME: "" }
      labels: { org.opencontainers.image.title: web }
      labels-match: { version: "^1\\." }
      entrypoint: ["/docker-entrypoint.sh"]
      cmd: ["nginx", "-g", "daemon off;"]
      workdir: /
      user: "101"
      exposed-ports: ["80/tcp"]
      unexposed-ports: ["22"]
      volumes: [/data]
      unmounted-volumes: [/tmp]
      healthcheck: true
  - command: nginx -t
    name: config ok
    probes: []
    timeout: 2m
    exit-status: 1
    stdout: ["a"]
    stderr: ["syntax is ok"]
    stdout-not: ["error"]
    stderr-not: ["fatal"]
    env: { TZ: UTC }
    setup: [["touch", "/tmp/a"]]
    teardown: ["rm /tmp/a"]
    entrypoint: []
  - process: nginx
    running: false
  - port: 80
    protocol: udp6
    listening: false
    ip: ["0.0.0.0"]
  - http: http://127.0.0.1:80/
    status: 204
    body: ["Welcome"]
    body-not: ["Error"]
    headers: { Host: example.com }
    response-headers: ["Content-Type: text/html"]
    method: HEAD
    timeout: 250ms
  - addr: 127.0.0.1:80
    reachable: false
  - mount: /data
    exists: true
    opts: [rw]
    source: /dev/sda1
    filesystem: ext4
"#;

    fn yaml(text: &str) -> Result<Vec<Test>, FormatError> {
        parse_yaml(text, Path::new("t.yaml"))
    }

    #[test]
    fn every_key_of_every_kind_is_read() {
        let t = yaml(EXAMPLE).unwrap();
        assert_eq!(t.len(), 11);
        let lines: Vec<Option<usize>> = t.iter().map(|t| t.line).collect();
        assert_eq!(lines[0], Some(2));
        assert_eq!(lines[1], Some(15));
        let Check::File(f) = &t[0].check else {
            panic!("{:?}", t[0])
        };
        assert_eq!(f.path, "/etc/nginx/nginx.conf");
        assert!(f.exists);
        assert_eq!(f.kind, Some(FileKind::File));
        assert_eq!(f.mode, Some(0o644));
        assert_eq!((f.uid, f.gid), (Some(0), Some(0)));
        assert_eq!(f.owner.as_deref(), Some("root"));
        assert_eq!(f.group.as_deref(), Some("adm"));
        assert_eq!(
            f.content,
            vec![
                Matcher::Regex("^worker_processes".into()),
                Matcher::NotRegex("^user nobody".into())
            ]
        );
        assert_eq!(f.size, Some(1024));
        assert_eq!(
            f.sha256.as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(f.link_target.as_deref(), Some("../lib/x.so"));
        assert_eq!(t[0].name, "file /etc/nginx/nginx.conf exists");
        let Check::Package(p) = &t[1].check else {
            panic!()
        };
        assert_eq!((p.name.as_str(), p.installed), ("nginx", false));
        assert_eq!(p.versions, vec!["1.22.1-9"]);
        let Check::User(u) = &t[2].check else {
            panic!()
        };
        assert_eq!((u.uid, u.gid), (Some(33), Some(34)));
        assert_eq!(u.groups, vec!["www-data"]);
        assert_eq!(u.home.as_deref(), Some("/var/www"));
        assert_eq!(u.shell.as_deref(), Some("/usr/sbin/nologin"));
        let Check::Group(g) = &t[3].check else {
            panic!()
        };
        assert_eq!((g.exists, g.gid), (false, Some(33)));
        let Check::Metadata(m) = &t[4].check else {
            panic!()
        };
        assert_eq!(
            m.env[0],
            ("LANG".into(), Some(Matcher::Equals("C.UTF-8".into())))
        );
        assert!(m.env.contains(&("HOME".into(), None)));
        assert!(
            m.env
                .contains(&("PATH".into(), Some(Matcher::Regex("/usr/bin".into()))))
        );
        assert_eq!(m.labels.len(), 2);
        assert_eq!(
            m.entrypoint,
            Some(vec!["/docker-entrypoint.sh".to_string()])
        );
        assert_eq!(m.cmd.as_ref().map(Vec::len), Some(3));
        assert_eq!(m.workdir.as_deref(), Some("/"));
        assert_eq!(m.user.as_deref(), Some("101"));
        assert_eq!(m.exposed_ports, vec!["80/tcp"]);
        assert_eq!(m.unexposed_ports, vec!["22"]);
        assert_eq!(m.volumes, vec!["/data"]);
        assert_eq!(m.unmounted_volumes, vec!["/tmp"]);
        assert_eq!(m.healthcheck, Some(true));
        let Check::Command(c) = &t[5].check else {
            panic!()
        };
        assert_eq!(t[5].name, "config ok");
        assert_eq!(c.argv, vec!["/bin/sh", "-c", "nginx -t"]);
        assert_eq!(c.exit_status, 1);
        assert_eq!(
            c.stdout,
            vec![
                Matcher::Regex("a".into()),
                Matcher::NotRegex("error".into())
            ]
        );
        assert_eq!(
            c.stderr,
            vec![
                Matcher::Regex("syntax is ok".into()),
                Matcher::NotRegex("fatal".into())
            ]
        );
        assert_eq!(c.env, vec![("TZ".to_string(), "UTC".to_string())]);
        assert_eq!(
            c.setup,
            vec![vec!["touch".to_string(), "/tmp/a".to_string()]]
        );
        assert_eq!(
            c.teardown,
            vec![vec!["/bin/sh".to_string(), "-c".into(), "rm /tmp/a".into()]]
        );
        assert_eq!(c.entrypoint, Some(vec![]));
        assert_eq!(c.timeout, Some(Duration::from_secs(120)));
        let Check::Process(p) = &t[6].check else {
            panic!()
        };
        assert!(!p.running);
        let Check::Port(p) = &t[7].check else {
            panic!()
        };
        assert_eq!(
            (p.port, p.protocol, p.listening),
            (80, Protocol::Udp6, false)
        );
        assert_eq!(p.ips, vec!["0.0.0.0"]);
        let Check::Http(h) = &t[8].check else {
            panic!()
        };
        assert_eq!(h.status, 204);
        assert_eq!(
            h.body,
            vec![
                Matcher::Regex("Welcome".into()),
                Matcher::NotRegex("Error".into())
            ]
        );
        assert_eq!(
            h.request_headers,
            vec![("Host".to_string(), "example.com".to_string())]
        );
        assert_eq!(h.headers, vec!["Content-Type: text/html"]);
        assert_eq!(h.method.as_deref(), Some("HEAD"));
        assert_eq!(h.timeout, Some(Duration::from_millis(250)));
        let Check::Addr(a) = &t[9].check else {
            panic!()
        };
        assert_eq!(a.addr, "tcp://127.0.0.1:80");
        assert!(!a.reachable);
        assert_eq!(a.timeout, Some(DEFAULT_TIMEOUT));
        let Check::Mount(m) = &t[10].check else {
            panic!()
        };
        assert_eq!(m.opts, vec!["rw"]);
        assert_eq!(m.source.as_deref(), Some("/dev/sda1"));
        assert_eq!(m.filesystem.as_deref(), Some("ext4"));
    }

    #[test]
    fn unknown_and_misplaced_keys_are_errors_with_their_line() {
        let e = yaml("check:\n  - file: /a\n    colour: red\n").unwrap_err();
        assert_eq!(e.line(), Some(3), "{e}");
        assert!(e.to_string().contains("colour"), "{e}");
        let e = yaml("check:\n  - file: /a\n  - command: x\n    running: true\n").unwrap_err();
        assert_eq!(e.line(), Some(3), "{e}");
        assert!(
            e.to_string().contains("`running` belongs to process"),
            "{e}"
        );
        let e = yaml("check:\n  - file: /a\n    process: x\n").unwrap_err();
        assert!(e.to_string().contains("file, process"), "{e}");
        let e = yaml("check:\n  - name: x\n").unwrap_err();
        assert!(e.to_string().contains("needs one of"), "{e}");
        let e = yaml("check:\n  - metadata:\n      envs: {}\n").unwrap_err();
        assert_eq!(e.line(), Some(3), "{e}");
        let e = yaml("check: []\nother: 1\n").unwrap_err();
        assert!(e.to_string().contains("other"), "{e}");
        for bad in [
            "check:\n  - file: /a\n    mode: \"999\"\n",
            "check:\n  - file: /a\n    contains: [\"(\"]\n",
            "check:\n  - file: /a\n    exists: false\n    mode: \"0644\"\n",
            "check:\n  - port: 1\n    protocol: sctp\n",
            "check:\n  - http: ftp://x/\n",
            "check:\n  - addr: nohost\n",
            "check:\n  - command: []\n",
            "check:\n  - command: x\n    timeout: soon\n",
            "check:\n  - command: x\n    probes: [alive]\n",
        ] {
            let e = yaml(bad).unwrap_err();
            assert_eq!(e.line(), Some(2), "{bad}: {e}");
        }
    }

    /// plinth-init's own documented example and a file using every plinth-init key, read
    /// by plinth-init's parser and by plinth's: the same checks.
    #[test]
    fn plinth_init_check_files_mean_the_same() {
        let toml_text = r#"
[[check]]
name = "web answers"
probes = ["health", "ready"]
timeout = "5s"
http = "http://127.0.0.1:8080/healthz"
status = 200
body = ["ok"]
headers = { Host = "example.com" }

[[check]]
command = ["pg_isready", "-q"]
exit-status = 3
stdout = ["accepting"]
stderr = "warn"
stdout-not = ["error"]
stderr-not = ["fatal"]
env = { PGHOST = "127.0.0.1" }
timeout = 7

[[check]]
command = "echo hi"

[[check]]
addr = "tcp://127.0.0.1:5432"
reachable = false

[[check]]
port = 8080
protocol = "tcp6"
listening = true

[[check]]
process = "nginx"
running = true

[[check]]
file = "/application/data/READY"
exists = true
contains = ["^ready$"]
mode = "0644"
"#;
        let path = Path::new("suite.toml");
        let init = plinth_init::checks::parse_checks(toml_text, path).unwrap();
        let ours = parse(toml_text, path, &LoadOptions::default()).unwrap();
        assert_eq!(ours.format, Format::Plinth);
        assert_eq!(init.len(), ours.tests.len());
        use plinth_init::checks::CheckKind as K;
        fn pats<R: std::fmt::Display>(v: &[R]) -> Vec<String> {
            v.iter().map(ToString::to_string).collect()
        }
        let of = |m: &[Matcher], neg: bool| {
            m.iter()
                .filter_map(|m| match (m, neg) {
                    (Matcher::Regex(p), false) | (Matcher::NotRegex(p), true) => Some(p.clone()),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        for (i, t) in init.iter().zip(&ours.tests) {
            assert_eq!(i.name, t.name);
            match (&i.kind, &t.check) {
                (K::Http(a), Check::Http(b)) => {
                    assert_eq!(a.url, b.url);
                    assert_eq!(a.status, b.status);
                    assert_eq!(pats(&a.body), of(&b.body, false));
                    assert_eq!(a.headers, b.request_headers);
                    assert_eq!(Some(i.timeout), b.timeout);
                }
                (K::Command(a), Check::Command(b)) => {
                    assert_eq!(a.argv, b.argv);
                    assert_eq!(a.exit_status, b.exit_status);
                    assert_eq!(pats(&a.stdout), of(&b.stdout, false));
                    assert_eq!(pats(&a.stderr), of(&b.stderr, false));
                    assert_eq!(pats(&a.stdout_not), of(&b.stdout, true));
                    assert_eq!(pats(&a.stderr_not), of(&b.stderr, true));
                    assert_eq!(a.env, b.env);
                    assert_eq!(Some(i.timeout), b.timeout);
                    assert_eq!(b.entrypoint, None);
                }
                (K::Addr(a), Check::Addr(b)) => {
                    assert_eq!(format!("tcp://{}", a.addr), b.addr);
                    assert_eq!(a.reachable, b.reachable);
                }
                (K::Port(a), Check::Port(b)) => {
                    assert_eq!(a.port, b.port);
                    assert_eq!(a.listening, b.listening);
                    assert_eq!(format!("{:?}", a.protocol), format!("{:?}", b.protocol));
                }
                (K::Process(a), Check::Process(b)) => {
                    assert_eq!((&a.name, a.running), (&b.name, b.running));
                }
                (K::File(a), Check::File(b)) => {
                    assert_eq!(a.path, Path::new(&b.path));
                    assert_eq!(a.exists, b.exists);
                    assert_eq!(a.mode, b.mode);
                    assert_eq!(pats(&a.contains), of(&b.content, false));
                }
                (a, b) => panic!("different kinds: {a:?} vs {b:?}"),
            }
        }
        // A key plinth-init does not know is refused by both, at the same line.
        let bad = "[[check]]\nfile = \"/a\"\nshape = 1\n";
        let ie = plinth_init::checks::parse_checks(bad, path)
            .unwrap_err()
            .to_string();
        let oe = parse(bad, path, &LoadOptions::default()).unwrap_err();
        assert!(ie.contains("suite.toml:3:"), "{ie}");
        assert_eq!(oe.line(), Some(3), "{oe}");
        assert!(oe.to_string().contains("shape"), "{oe}");
    }

    #[test]
    fn toml_and_yaml_forms_read_the_same() {
        let y =
            yaml("check:\n  - user: app\n    uid: 1000\n  - metadata:\n      healthcheck: false\n")
                .unwrap();
        let t = parse_toml(
            "[[check]]\nuser = \"app\"\nuid = 1000\n\n[[check]]\nmetadata = { healthcheck = false }\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(format!("{:?}", y[0].check), format!("{:?}", t[0].check));
        assert_eq!(format!("{:?}", y[1].check), format!("{:?}", t[1].check));
        assert_eq!(t[1].line, Some(5));
    }

    #[test]
    fn the_committed_json_schema_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plinth-test.schema.json");
        let generated = json_schema();
        if std::env::var_os("PLINTH_UPDATE_SCHEMA").is_some() {
            fs_err::write(&path, &generated).unwrap();
        }
        let committed = fs_err::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "plinth-test.schema.json is stale: run `PLINTH_UPDATE_SCHEMA=1 cargo test -p plinth-test --lib format` and commit it"
        );
        let v: serde_json::Value = serde_json::from_str(&generated).unwrap();
        assert_eq!(v["additionalProperties"], serde_json::json!(false), "{v}");
        let check = &v["$defs"]["RawCheck"];
        assert_eq!(
            check["additionalProperties"],
            serde_json::json!(false),
            "{check}"
        );
        for key in [
            "file",
            "exit-status",
            "stdout-not",
            "response-headers",
            "owner-group",
            "probes",
        ] {
            assert!(
                check["properties"][key].is_object(),
                "{key} missing from the schema"
            );
        }
    }
}
