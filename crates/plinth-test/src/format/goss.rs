//! goss files (goss-org/goss), read as goss reads them: a mapping of resource types to
//! mappings of resources to attributes.
//!
//! | goss resource | plinth reads |
//! |---|---|
//! | `file: {PATH: ...}` | `exists`, `mode` (`"0644"`), `owner`, `group`, `uid`, `gid`, `filetype`, `contents` (or the older `contains`), `linked-to`, `sha256`, `size` |
//! | `package: {NAME: ...}` | `installed`, `versions` |
//! | `port: {"tcp:8080": ...}` | `listening`, `ip` (`tcp`, `tcp6`, `udp`, `udp6`) |
//! | `process: {NAME: ...}` | `running` |
//! | `user: {NAME: ...}` | `exists`, `uid`, `gid`, `groups`, `home`, `shell` |
//! | `group: {NAME: ...}` | `exists`, `gid` |
//! | `command: {CMD: ...}` | `exec`, `exit-status` (required), `stdout`, `stderr`, `timeout` (ms, default 10000) |
//! | `http: {URL: ...}` | `status` (required), `body`, `headers`, `request-headers`, `method`, `timeout` (ms, default 5000), `allow-insecure` |
//! | `addr: {"tcp://IP:PORT": ...}` | `reachable`, `timeout` (ms, default 500) |
//! | `mount: {PATH: ...}` | `exists`, `opts`, `source`, `filesystem` |
//!
//! Every resource also takes `title` (the test's name), `meta` (ignored: it is only
//! information) and `skip: false`. Content patterns (`contents`, `stdout`, `stderr`, `body`)
//! are goss's: a plain string must appear, `/re/` is a regular expression, a leading `!`
//! negates (`\!` is a literal `!`); goss matches them line by line, which the model's
//! multi-line regexes and substrings reproduce. Commands run with `sh -c`, as goss runs them.
//!
//! The file is first rendered as goss renders it with Go's `text/template`; plinth supports the
//! subset `{{.Vars.a.b}}` (from `--vars`) and `{{.Env.NAME}}`, with `{{-`/`-}}` trimming.
//! Any other action is an error. Unsupported resources (`service`, `interface`,
//! `kernel-param`, `dns`, `gossfile`, `matching`), goss's advanced matchers (`{gt: 5}`...),
//! `skip: true` and attributes plinth does not implement (`md5`, `no-follow-redirects`,
//! `usage`...) are errors naming the key and its line.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::Spanned;

use super::{FormatError, OneOrMany, Scalar, check_regex, line_of, yaml_error};
use crate::model::{
    AddrCheck, Check, CommandCheck, FileCheck, FileKind, GroupCheck, HttpCheck, Matcher,
    MountCheck, PackageCheck, PortCheck, ProcessCheck, Protocol, Test, UserCheck,
};

/// Renders goss's template subset: `{{.Vars.a.b}}` from `vars`, `{{.Env.NAME}}` from the
/// environment.
pub fn render(
    text: &str,
    path: &Path,
    vars: Option<&serde_json::Value>,
) -> Result<String, FormatError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut offset = 0;
    while let Some(start) = rest.find("{{") {
        let line = line_of(text, offset + start);
        let err = |m: String| FormatError::invalid(path, Some(line), m);
        let Some(len) = rest[start..].find("}}") else {
            return Err(err(
                "a template action `{{` is not closed with `}}`".to_string()
            ));
        };
        let mut action = &rest[start + 2..start + len];
        let mut before = &rest[..start];
        if let Some(a) = action.strip_prefix("- ") {
            before = before.trim_end();
            action = a;
        }
        let trim_after = action.ends_with(" -");
        if trim_after {
            action = &action[..action.len() - 2];
        }
        out.push_str(before);
        out.push_str(&value_of(action.trim(), vars).map_err(err)?);
        let consumed = start + len + 2;
        offset += consumed;
        rest = &rest[consumed..];
        if trim_after {
            let trimmed = rest.trim_start();
            offset += rest.len() - trimmed.len();
            rest = trimmed;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn value_of(action: &str, vars: Option<&serde_json::Value>) -> Result<String, String> {
    let unsupported = || {
        format!(
            "template action `{{{{{action}}}}}` is not supported: plinth renders only {{{{.Vars.NAME}}}} (nested: .Vars.a.b) and {{{{.Env.NAME}}}}; \
             replace it with a plain value"
        )
    };
    if let Some(name) = action.strip_prefix(".Env.") {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(unsupported());
        }
        return std::env::var(name).map_err(|_| {
            format!("{{{{.Env.{name}}}}}: the environment variable {name} is not set; set it")
        });
    }
    let Some(keys) = action.strip_prefix(".Vars.") else {
        return Err(unsupported());
    };
    let parts: Vec<&str> = keys.split('.').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || !p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    {
        return Err(unsupported());
    }
    let Some(mut v) = vars else {
        return Err(format!(
            "{{{{.Vars.{keys}}}}}: no vars were given; pass --vars FILE (YAML or JSON) defining {keys}"
        ));
    };
    for p in &parts {
        v = v.get(p).ok_or_else(|| {
            format!("{{{{.Vars.{keys}}}}}: the vars file defines no {keys}; add it")
        })?;
    }
    match v {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        _ => Err(format!(
            "{{{{.Vars.{keys}}}}} is a {}, not a string, number or boolean; only scalars can be rendered",
            match v {
                serde_json::Value::Null => "null",
                serde_json::Value::Array(_) => "list",
                _ => "mapping",
            }
        )),
    }
}

/// The resources of one type, in file order.
struct Entries<T>(Vec<(Spanned<Scalar>, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = Entries<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping of resources to their attributes")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Entries<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = m.next_key::<Spanned<Scalar>>()? {
                    out.push((k, m.next_value::<T>()?));
                }
                Ok(Entries(out))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Entries<T>, E> {
                Ok(Entries(Vec::new()))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawFile {
    file: Option<Entries<RawFileRes>>,
    package: Option<Entries<RawPackage>>,
    port: Option<Entries<RawPort>>,
    process: Option<Entries<RawProcess>>,
    user: Option<Entries<RawUser>>,
    group: Option<Entries<RawGroup>>,
    command: Option<Entries<RawCommand>>,
    http: Option<Entries<RawHttp>>,
    addr: Option<Entries<RawAddr>>,
    mount: Option<Entries<RawMount>>,
    matching: Option<Spanned<IgnoredAny>>,
    service: Option<Spanned<IgnoredAny>>,
    interface: Option<Spanned<IgnoredAny>>,
    kernel_param: Option<Spanned<IgnoredAny>>,
    dns: Option<Spanned<IgnoredAny>>,
    gossfile: Option<Spanned<IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawFileRes {
    title: Option<String>,
    meta: Option<IgnoredAny>,
    skip: Option<bool>,
    exists: Option<bool>,
    mode: Option<String>,
    owner: Option<String>,
    group: Option<String>,
    uid: Option<u64>,
    gid: Option<u64>,
    filetype: Option<String>,
    contents: Option<Vec<String>>,
    contains: Option<Vec<String>>,
    linked_to: Option<String>,
    sha256: Option<String>,
    size: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPackage {
    title: Option<String>,
    meta: Option<IgnoredAny>,
    skip: Option<bool>,
    installed: Option<bool>,
    versions: Option<OneOrMany>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPort {
    title: Option<String>,
    meta: Option<IgnoredAny>,
    skip: Option<bool>,
    listening: Option<bool>,
    ip: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawProcess {
    title: Option<String>,
    meta: Option<IgnoredAny>,
    skip: Option<bool>,
    running: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawUser {
    title: Option<String>,
    meta: Option<IgnoredAny>,
    skip: Option<bool>,
    exists: Option<bool>,
    uid: Option<u64>,
    gid: Option<u64>,
    groups: Option<Vec<String>>,
    home: Option<String>,
    shell: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawGroup {
    title: Option<String>,
    meta: Option<IgnoredAny>,
    skip: Option<bool>,
    exists: Option<bool>,
    gid: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCommand {
    title: Option<String>,
    meta: Option<IgnoredAny>,
    skip: Option<bool>,
    exec: Option<String>,
    exit_status: Option<i32>,
    stdout: Option<Vec<String>>,
    stderr: Option<Vec<String>>,
    timeout: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawHttp {
    title: Option<String>,
    meta: Option<IgnoredAny>,
    skip: Option<bool>,
    status: Option<u16>,
    allow_insecure: Option<bool>,
    body: Option<Vec<String>>,
    headers: Option<Vec<String>>,
    request_headers: Option<Vec<String>>,
    method: Option<String>,
    timeout: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawAddr {
    title: Option<String>,
    meta: Option<IgnoredAny>,
    skip: Option<bool>,
    reachable: Option<bool>,
    timeout: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawMount {
    title: Option<String>,
    meta: Option<IgnoredAny>,
    skip: Option<bool>,
    exists: Option<bool>,
    opts: Option<Vec<String>>,
    source: Option<String>,
    filesystem: Option<String>,
}

/// goss content patterns as model matchers.
pub(crate) fn patterns(list: Vec<String>, key: &str) -> Result<Vec<Matcher>, String> {
    list.into_iter()
        .map(|p| {
            let (not, body) = if let Some(b) = p.strip_prefix('!') {
                (true, b.to_string())
            } else if let Some(b) = p.strip_prefix("\\!") {
                (false, format!("!{b}"))
            } else {
                (false, p.clone())
            };
            if body.len() >= 2 && body.starts_with('/') && body.ends_with('/') {
                let re = body[1..body.len() - 1].to_string();
                check_regex(&re).map_err(|e| format!("{key}: {e}"))?;
                Ok(if not {
                    Matcher::NotRegex(re)
                } else {
                    Matcher::Regex(re)
                })
            } else if not {
                Ok(Matcher::NotContains(body))
            } else {
                Ok(Matcher::Contains(body))
            }
        })
        .collect()
}

/// Runs a fallible block (the body of a resource conversion).
fn attempt<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    f()
}

/// Parses a goss file (already rendered).
pub fn parse(text: &str, path: &Path) -> Result<Vec<Test>, FormatError> {
    let raw: RawFile = serde_saphyr::from_str(text).map_err(|e| yaml_error(&e, path))?;
    for (key, v) in [
        ("matching", &raw.matching),
        ("service", &raw.service),
        ("interface", &raw.interface),
        ("kernel-param", &raw.kernel_param),
        ("dns", &raw.dns),
        ("gossfile", &raw.gossfile),
    ] {
        if let Some(s) = v {
            // The key's own line (the span is the value's, on the next line for a block).
            let line = text
                .lines()
                .position(|l| l.starts_with(&format!("{key}:")))
                .map_or(s.referenced.line() as usize, |i| i + 1);
            return Err(FormatError::invalid(
                path,
                Some(line),
                format!(
                    "goss `{key}` tests are not supported by plinth test; remove them or express them as command tests"
                ),
            ));
        }
    }
    let mut tests: Vec<Test> = Vec::new();
    macro_rules! each {
        ($field:expr, $kind:literal, |$key:ident, $attrs:ident| $body:expr) => {
            for ($key, $attrs) in $field.map(|e| e.0).unwrap_or_default() {
                let line = Some($key.referenced.line() as usize);
                let $key = $key.value.text();
                let err = |m: String| {
                    FormatError::invalid(path, line, format!("goss {} {:?}: {m}", $kind, $key))
                };
                let title = $attrs.title.clone();
                if $attrs.skip == Some(true) {
                    return Err(err(
                        "skip: true is not supported: remove the test (or set skip: false)"
                            .to_string(),
                    ));
                }
                let _ = &$attrs.meta;
                let (check, default_name): (Check, String) =
                    attempt(|| -> Result<(Check, String), String> { $body }).map_err(err)?;
                tests.push(Test {
                    name: title.filter(|t| !t.is_empty()).unwrap_or(default_name),
                    line,
                    check,
                });
            }
        };
    }
    each!(raw.file, "file", |key, a| {
        let exists = a.exists.unwrap_or(true);
        let mode = a
            .mode
            .as_deref()
            .map(|m| {
                u32::from_str_radix(m, 8)
                    .ok()
                    .filter(|v| *v <= 0o7777)
                    .ok_or_else(|| format!("mode {m:?} is not an octal mode like \"0644\""))
            })
            .transpose()?;
        let kind = match a.filetype.as_deref() {
            None => None,
            Some("file") => Some(FileKind::File),
            Some("directory") => Some(FileKind::Directory),
            Some("symlink") => Some(FileKind::Symlink),
            Some("pipe" | "socket" | "character-device" | "block-device") => Some(FileKind::Other),
            Some(o) => return Err(format!("filetype {o:?} is unknown")),
        };
        if a.contents.is_some() && a.contains.is_some() {
            return Err("give `contents` or `contains`, not both".to_string());
        }
        let content = patterns(a.contents.or(a.contains).unwrap_or_default(), "contents")?;
        let f = FileCheck {
            path: key.clone(),
            exists,
            kind,
            mode,
            uid: a.uid,
            gid: a.gid,
            owner: a.owner,
            group: a.group,
            link_target: a.linked_to,
            content,
            size: a.size,
            sha256: a.sha256.map(|h| h.to_ascii_lowercase()),
            executable_by: None,
        };
        if !exists && super::plinth::has_attributes(&f) {
            return Err("a file with exists: false takes no other attributes".to_string());
        }
        Ok((Check::File(f), format!("File: {key}")))
    });
    each!(raw.package, "package", |key, a| {
        Ok((
            Check::Package(PackageCheck {
                name: key.clone(),
                installed: a.installed.unwrap_or(true),
                versions: a.versions.map(OneOrMany::into_vec).unwrap_or_default(),
            }),
            format!("Package: {key}"),
        ))
    });
    each!(raw.port, "port", |key, a| {
        let (proto, num) = key
            .split_once(':')
            .ok_or_else(|| "a port is written PROTO:PORT, e.g. tcp:8080".to_string())?;
        let protocol = match proto {
            "tcp" => Protocol::Tcp,
            "tcp6" => Protocol::Tcp6,
            "udp" => Protocol::Udp,
            "udp6" => Protocol::Udp6,
            other => return Err(format!("protocol {other:?} is not tcp, tcp6, udp or udp6")),
        };
        let port: u16 = num
            .parse()
            .map_err(|_| format!("{num:?} is not a port number"))?;
        Ok((
            Check::Port(PortCheck {
                port,
                protocol,
                listening: a.listening.unwrap_or(true),
                ips: a.ip.unwrap_or_default(),
            }),
            format!("Port: {key}"),
        ))
    });
    each!(raw.process, "process", |key, a| {
        Ok((
            Check::Process(ProcessCheck {
                name: key.clone(),
                running: a.running.unwrap_or(true),
            }),
            format!("Process: {key}"),
        ))
    });
    each!(raw.user, "user", |key, a| {
        Ok((
            Check::User(UserCheck {
                name: key.clone(),
                exists: a.exists.unwrap_or(true),
                uid: a.uid,
                gid: a.gid,
                groups: a.groups.unwrap_or_default(),
                home: a.home,
                shell: a.shell,
            }),
            format!("User: {key}"),
        ))
    });
    each!(raw.group, "group", |key, a| {
        Ok((
            Check::Group(GroupCheck {
                name: key.clone(),
                exists: a.exists.unwrap_or(true),
                gid: a.gid,
            }),
            format!("Group: {key}"),
        ))
    });
    each!(raw.command, "command", |key, a| {
        let cmd = a.exec.clone().unwrap_or_else(|| key.clone());
        if cmd.trim().is_empty() {
            return Err("the command is empty".to_string());
        }
        let exit_status = a.exit_status.ok_or_else(|| {
            "has no exit-status: plinth always checks the exit status; add exit-status: 0 (or the expected code)".to_string()
        })?;
        Ok((
            Check::Command(CommandCheck {
                argv: vec!["sh".to_string(), "-c".to_string(), cmd],
                entrypoint: None,
                exit_status,
                stdout: patterns(a.stdout.unwrap_or_default(), "stdout")?,
                stderr: patterns(a.stderr.unwrap_or_default(), "stderr")?,
                env: Vec::new(),
                setup: Vec::new(),
                teardown: Vec::new(),
                timeout: Some(Duration::from_millis(a.timeout.unwrap_or(10_000))),
            }),
            format!("Command: {key}"),
        ))
    });
    each!(raw.http, "http", |key, a| {
        super::plinth::check_http_url(&key)?;
        let _ = a.allow_insecure;
        let status = a.status.ok_or_else(|| {
            "has no status: plinth always checks the status; add status: 200 (or the expected code)".to_string()
        })?;
        let request_headers = a
            .request_headers
            .unwrap_or_default()
            .into_iter()
            .map(|h| {
                h.split_once(':')
                    .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| format!("request header {h:?} is not \"Name: value\""))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok((
            Check::Http(HttpCheck {
                url: key.clone(),
                status,
                body: patterns(a.body.unwrap_or_default(), "body")?,
                headers: a.headers.unwrap_or_default(),
                request_headers,
                method: a.method,
                timeout: Some(Duration::from_millis(a.timeout.unwrap_or(5_000))),
            }),
            format!("HTTP: {key}"),
        ))
    });
    each!(raw.addr, "addr", |key, a| {
        let addr = super::plinth::normalize_addr(&key)?;
        Ok((
            Check::Addr(AddrCheck {
                addr,
                reachable: a.reachable.unwrap_or(true),
                timeout: Some(Duration::from_millis(a.timeout.unwrap_or(500))),
            }),
            format!("Addr: {key}"),
        ))
    });
    each!(raw.mount, "mount", |key, a| {
        Ok((
            Check::Mount(MountCheck {
                path: key.clone(),
                exists: a.exists.unwrap_or(true),
                opts: a.opts.unwrap_or_default(),
                source: a.source,
                filesystem: a.filesystem,
            }),
            format!("Mount: {key}"),
        ))
    });
    tests.sort_by_key(|t| t.line);
    Ok(tests)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"file:
  /etc/passwd:
    title: passwd is there
    meta: {owner: team}
    skip: false
    exists: true
    mode: "0644"
    owner: root
    group: root
    uid: 0
    gid: 0
    filetype: file
    contents: ["root", "/^root:x:0/", "!evil", "!/^bad$/", "\\!bang"]
    sha256: ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789
    size: 100
  /usr/bin/sh:
    exists: true
    filetype: symlink
    linked-to: dash
    contains: ["x"]
package:
  nginx:
    installed: true
    versions: ["1.22.1-9"]
port:
  tcp:8080:
    listening: true
    ip: ["0.0.0.0"]
  udp6:53:
    listening: false
process:
  nginx:
    running: true
user:
  www-data:
    exists: true
    uid: 33
    gid: 33
    groups: [www-data]
    home: /var/www
    shell: /usr/sbin/nologin
group:
  www-data:
    exists: true
    gid: 33
command:
  version:
    exec: nginx -v
    exit-status: 0
    stdout: []
    stderr: ["/nginx version/"]
    timeout: 2000
  echo hi:
    exit-status: 0
    stdout: ["hi"]
http:
  http://127.0.0.1:8080/health:
    status: 200
    allow-insecure: false
    body: ["ok"]
    headers: ["Content-Type: text/plain"]
    request-headers: ["X-Test: 1"]
    method: GET
    timeout: 1000
addr:
  tcp://127.0.0.1:8080:
    reachable: true
    timeout: 300
mount:
  /data:
    exists: true
    opts: [rw, nosuid]
    source: /dev/sda1
    filesystem: ext4
"#;

    fn p(text: &str) -> Result<Vec<Test>, FormatError> {
        parse(text, Path::new("goss.yaml"))
    }

    #[test]
    fn every_attribute_is_read_as_goss_means_it() {
        let t = p(FULL).unwrap();
        assert_eq!(t.len(), 13);
        let Check::File(f) = &t[0].check else {
            panic!()
        };
        assert_eq!(t[0].name, "passwd is there");
        assert_eq!(t[0].line, Some(2));
        assert_eq!(
            (f.path.as_str(), f.exists, f.mode),
            ("/etc/passwd", true, Some(0o644))
        );
        assert_eq!(
            (f.owner.as_deref(), f.group.as_deref()),
            (Some("root"), Some("root"))
        );
        assert_eq!(
            (f.uid, f.gid, f.kind),
            (Some(0), Some(0), Some(FileKind::File))
        );
        assert_eq!(
            f.content,
            vec![
                Matcher::Contains("root".into()),
                Matcher::Regex("^root:x:0".into()),
                Matcher::NotContains("evil".into()),
                Matcher::NotRegex("^bad$".into()),
                Matcher::Contains("!bang".into()),
            ]
        );
        assert_eq!(
            f.sha256.as_deref(),
            Some("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
        );
        assert_eq!(f.size, Some(100));
        let Check::File(f) = &t[1].check else {
            panic!()
        };
        assert_eq!(t[1].name, "File: /usr/bin/sh");
        assert_eq!(f.kind, Some(FileKind::Symlink));
        assert_eq!(f.link_target.as_deref(), Some("dash"));
        assert_eq!(f.content, vec![Matcher::Contains("x".into())]);
        let Check::Package(pk) = &t[2].check else {
            panic!()
        };
        assert_eq!((pk.name.as_str(), pk.installed), ("nginx", true));
        assert_eq!(pk.versions, vec!["1.22.1-9"]);
        let Check::Port(pt) = &t[3].check else {
            panic!()
        };
        assert_eq!(
            (pt.port, pt.protocol, pt.listening),
            (8080, Protocol::Tcp, true)
        );
        assert_eq!(pt.ips, vec!["0.0.0.0"]);
        let Check::Port(pt) = &t[4].check else {
            panic!()
        };
        assert_eq!(
            (pt.port, pt.protocol, pt.listening),
            (53, Protocol::Udp6, false)
        );
        let Check::Process(pr) = &t[5].check else {
            panic!()
        };
        assert!(pr.running);
        let Check::User(u) = &t[6].check else {
            panic!()
        };
        assert_eq!((u.uid, u.gid), (Some(33), Some(33)));
        assert_eq!(u.groups, vec!["www-data"]);
        assert_eq!(u.home.as_deref(), Some("/var/www"));
        assert_eq!(u.shell.as_deref(), Some("/usr/sbin/nologin"));
        let Check::Group(g) = &t[7].check else {
            panic!()
        };
        assert_eq!(g.gid, Some(33));
        let Check::Command(c) = &t[8].check else {
            panic!()
        };
        assert_eq!(t[8].name, "Command: version");
        assert_eq!(c.argv, vec!["sh", "-c", "nginx -v"]);
        assert_eq!(c.stderr, vec![Matcher::Regex("nginx version".into())]);
        assert_eq!(c.timeout, Some(Duration::from_millis(2000)));
        let Check::Command(c) = &t[9].check else {
            panic!()
        };
        assert_eq!(c.argv, vec!["sh", "-c", "echo hi"]);
        assert_eq!(c.timeout, Some(Duration::from_secs(10)));
        let Check::Http(h) = &t[10].check else {
            panic!()
        };
        assert_eq!(
            (h.url.as_str(), h.status),
            ("http://127.0.0.1:8080/health", 200)
        );
        assert_eq!(h.body, vec![Matcher::Contains("ok".into())]);
        assert_eq!(h.headers, vec!["Content-Type: text/plain"]);
        assert_eq!(
            h.request_headers,
            vec![("X-Test".to_string(), "1".to_string())]
        );
        assert_eq!(h.method.as_deref(), Some("GET"));
        assert_eq!(h.timeout, Some(Duration::from_secs(1)));
        let Check::Addr(a) = &t[11].check else {
            panic!()
        };
        assert_eq!(a.addr, "tcp://127.0.0.1:8080");
        assert_eq!(a.timeout, Some(Duration::from_millis(300)));
        let Check::Mount(m) = &t[12].check else {
            panic!()
        };
        assert_eq!(m.opts, vec!["rw", "nosuid"]);
        assert_eq!(m.source.as_deref(), Some("/dev/sda1"));
        assert_eq!(m.filesystem.as_deref(), Some("ext4"));
        assert_eq!(t.len(), 13);
    }

    #[test]
    fn unsupported_keys_are_errors_with_their_line() {
        let cases = [
            ("file:\n  /a:\n    exists: true\n    md5: abc\n", 4, "md5"),
            ("service:\n  sshd:\n    running: true\n", 1, "service"),
            (
                "file:\n  /a:\n    exists: true\ngossfile:\n  x.yaml: {}\n",
                4,
                "gossfile",
            ),
            ("kernel-param:\n  x: {}\n", 1, "kernel-param"),
            ("interface:\n  eth0: {}\n", 1, "interface"),
            ("dns:\n  x: {}\n", 1, "dns"),
            ("matching:\n  x: {content: 1, matches: 1}\n", 1, "matching"),
            (
                "http:\n  http://x/:\n    status: 200\n    no-follow-redirects: true\n",
                4,
                "no-follow-redirects",
            ),
            ("mount:\n  /a:\n    usage: {lt: 90}\n", 3, "usage"),
            (
                "command:\n  true:\n    skip: true\n    exit-status: 0\n",
                2,
                "skip",
            ),
            ("command:\n  true:\n    stdout: []\n", 2, "exit-status"),
            ("http:\n  http://x/:\n    body: []\n", 2, "status"),
            ("port:\n  8080:\n    listening: true\n", 2, "PROTO:PORT"),
            ("port:\n  sctp:1:\n    listening: true\n", 2, "sctp"),
            ("file:\n  /a:\n    mode: \"0999\"\n", 2, "mode"),
            ("file:\n  /a:\n    contents: [\"/(/\"]\n", 2, "contents"),
            ("user:\n  a:\n    uid: {gt: 5}\n", 3, "uid"),
        ];
        for (text, line, word) in cases {
            let e = p(text).unwrap_err();
            assert_eq!(e.line(), Some(line), "{text}: {e}");
            assert!(e.to_string().contains(word), "{text}: {e}");
        }
    }

    #[test]
    fn vars_and_env_are_rendered() {
        let vars = serde_json::json!({"port": 8080, "app": {"name": "web", "on": true}});
        let out = render(
            "a: {{.Vars.port}}\nb: {{ .Vars.app.name }}\nc: {{.Vars.app.on}}\nd: {{- .Vars.app.name -}}  \ne\n",
            Path::new("g.yaml"),
            Some(&vars),
        )
        .unwrap();
        assert_eq!(out, "a: 8080\nb: web\nc: true\nd:webe\n");
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(
            render("p={{.Env.PATH}}", Path::new("g"), None).unwrap(),
            format!("p={path}")
        );
    }

    #[test]
    fn template_errors_name_the_line() {
        let vars = serde_json::json!({"list": [1], "a": 1});
        for (text, word) in [
            ("x: 1\ny: {{.Vars.missing}}\n", "missing"),
            ("x: 1\ny: {{.Vars.list}}\n", "list"),
            ("x: 1\ny: {{range .Vars.list}}{{end}}\n", "not supported"),
            ("x: 1\ny: {{.Vars.a | upper}}\n", "not supported"),
            (
                "x: 1\ny: {{.Env.PLINTH_SURELY_UNSET_VARIABLE}}\n",
                "not set",
            ),
            ("x: 1\ny: {{.Vars.a\n", "not closed"),
        ] {
            let e = render(text, Path::new("g.yaml"), Some(&vars)).unwrap_err();
            assert_eq!(e.line(), Some(2), "{text}: {e}");
            assert!(e.to_string().contains(word), "{text}: {e}");
        }
        let e = render("a: {{.Vars.a}}", Path::new("g.yaml"), None).unwrap_err();
        assert!(e.to_string().contains("--vars"), "{e}");
    }
}
