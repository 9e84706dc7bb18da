//! container-structure-test files (`schemaVersion: "2.0.0"`), read as that tool reads them
//! (GoogleContainerTools/container-structure-test, `pkg/types/v2`):
//!
//! - `commandTests`: `command` + `args` run with the image's entrypoint cleared, `setup` and
//!   `teardown` commands in the same container, `envVars` (after `globalEnvVars`),
//!   `exitCode` (default 0), `expectedOutput`/`excludedOutput` (stdout) and
//!   `expectedError`/`excludedError` (stderr) regexes;
//! - `fileExistenceTests`: `path`, `shouldExist` (default true), `permissions` (Go's
//!   `FileMode.String()`, e.g. `-rw-r--r--`, `drwxr-xr-x`, `Lrwxrwxrwx`, `urwxr-xr-x` for
//!   setuid: the type and every permission bit are compared), `uid`, `gid`, `isExecutableBy`
//!   (`any`, `owner`, `group`, `other`);
//! - `fileContentTests`: `path`, `expectedContents`, `excludedContents` regexes;
//! - `metadataTest`: `envVars` and `labels` (`key`, `value`, `isRegex`: exact value unless
//!   `isRegex`), `unboundEnvVars` (`key`: must not be set), `exposedPorts`, `unexposedPorts`, `volumes`, `unmountedVolumes`,
//!   `entrypoint` and `cmd` (compared exactly when given, `[]` = none), `workdir`, `user`;
//! - `licenseTests`: `debian`, `files`.
//!
//! Regexes are Go's RE2 matched with `regexp.MatchString`, which is not multi-line: `^` and
//! `$` match only at the start and end of the whole text. The model's regexes are multi-line,
//! so each pattern is wrapped in `(?-m:...)`, which gives Go's meaning. container-structure-test
//! ignores keys it does not know; plinth refuses them (a typo would otherwise check nothing),
//! as well as `containerRunOptions`, which it does not implement.

use std::path::Path;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::Spanned;

use super::{FormatError, Scalar, check_regex, yaml_error};
use crate::model::{
    Check, CommandCheck, FileCheck, FileKind, LicenseCheck, Matcher, MetadataCheck, Test,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawFile {
    schema_version: Spanned<Scalar>,
    #[serde(default)]
    global_env_vars: Vec<RawEnvVar>,
    #[serde(default)]
    command_tests: Vec<Spanned<RawCommand>>,
    #[serde(default)]
    file_existence_tests: Vec<Spanned<RawFileExistence>>,
    #[serde(default)]
    file_content_tests: Vec<Spanned<RawFileContent>>,
    metadata_test: Option<Spanned<RawMetadata>>,
    #[serde(default)]
    license_tests: Vec<Spanned<RawLicense>>,
    container_run_options: Option<Spanned<IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEnvVar {
    key: String,
    #[serde(default)]
    value: Option<Scalar>,
    #[serde(default)]
    is_regex: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCommand {
    name: Option<String>,
    #[serde(default)]
    setup: Vec<Vec<String>>,
    #[serde(default)]
    teardown: Vec<Vec<String>>,
    #[serde(default)]
    env_vars: Vec<RawEnvVar>,
    #[serde(default)]
    exit_code: i32,
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    expected_output: Vec<String>,
    #[serde(default)]
    excluded_output: Vec<String>,
    #[serde(default)]
    expected_error: Vec<String>,
    #[serde(default)]
    excluded_error: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawFileExistence {
    name: Option<String>,
    path: Option<String>,
    should_exist: Option<bool>,
    permissions: Option<String>,
    uid: Option<i64>,
    gid: Option<i64>,
    is_executable_by: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawFileContent {
    name: Option<String>,
    path: Option<String>,
    #[serde(default)]
    expected_contents: Vec<String>,
    #[serde(default)]
    excluded_contents: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMetadata {
    #[serde(default)]
    env_vars: Vec<RawEnvVar>,
    #[serde(default)]
    unbound_env_vars: Vec<RawEnvVar>,
    #[serde(default)]
    exposed_ports: Vec<Scalar>,
    #[serde(default)]
    unexposed_ports: Vec<Scalar>,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    #[serde(default)]
    workdir: String,
    #[serde(default)]
    volumes: Vec<String>,
    #[serde(default)]
    unmounted_volumes: Vec<String>,
    #[serde(default)]
    labels: Vec<RawEnvVar>,
    /// A YAML number such as `1000` is a user id.
    user: Option<Scalar>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLicense {
    #[serde(default)]
    debian: bool,
    #[serde(default)]
    files: Vec<String>,
}

/// A Go regexp (matched with `MatchString`, not multi-line) as a model regex.
fn go_regex(pattern: &str, not: bool) -> Result<Matcher, String> {
    let wrapped = format!("(?-m:{pattern})");
    check_regex(&wrapped).map_err(|_| {
        let plain = check_regex(pattern).err().unwrap_or_default();
        format!("`{pattern}` is not a regular expression plinth can read: {plain}")
    })?;
    Ok(if not {
        Matcher::NotRegex(wrapped)
    } else {
        Matcher::Regex(wrapped)
    })
}

fn go_regexes(list: Vec<String>, not: bool, key: &str) -> Result<Vec<Matcher>, String> {
    list.iter()
        .map(|p| go_regex(p, not).map_err(|e| format!("{key}: {e}")))
        .collect()
}

/// Go's `os.FileMode.String()` (e.g. `drwxr-xr-x`) as (type, permission bits with
/// setuid/setgid/sticky).
pub(crate) fn parse_go_mode(s: &str) -> Result<(FileKind, u32), String> {
    let bad = |why: &str| {
        format!(
            "permissions {s:?} {why}: write it as `ls -l` does, e.g. \"-rw-r--r--\" or \"drwxr-xr-x\""
        )
    };
    let chars: Vec<char> = s.chars().collect();
    if chars.len() < 10 {
        return Err(bad("is too short"));
    }
    let (prefix, perm) = chars.split_at(chars.len() - 9);
    let mut mode = 0u32;
    for (i, c) in perm.iter().enumerate() {
        let want = ['r', 'w', 'x'][i % 3];
        if *c == want {
            mode |= 1 << (8 - i);
        } else if *c != '-' {
            return Err(bad(
                "has a character other than r, w, x or - in its permission bits",
            ));
        }
    }
    let mut kind = FileKind::File;
    if prefix != ['-'] {
        for c in prefix {
            match c {
                'd' => kind = FileKind::Directory,
                'L' => kind = FileKind::Symlink,
                'D' | 'p' | 'S' | 'c' | '?' => kind = FileKind::Other,
                'u' => mode |= 0o4000,
                'g' => mode |= 0o2000,
                't' => mode |= 0o1000,
                _ => return Err(bad("has a type letter image files cannot have")),
            }
        }
    }
    Ok((kind, mode))
}

/// Parses a container-structure-test 2.0.0 file.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Test>, FormatError> {
    let raw: RawFile = serde_saphyr::from_str(text).map_err(|e| yaml_error(&e, path))?;
    let line = |l: u64| Some(l as usize);
    let version = raw.schema_version.value.clone().text();
    if version != "2.0.0" {
        return Err(FormatError::invalid(
            path,
            line(raw.schema_version.referenced.line()),
            format!(
                "schemaVersion {version:?}: plinth reads container-structure-test files of schemaVersion \"2.0.0\" only; convert the file"
            ),
        ));
    }
    if let Some(c) = &raw.container_run_options {
        return Err(FormatError::invalid(
            path,
            line(c.referenced.line()),
            "containerRunOptions is not supported by plinth test: remove it (plinth runs commands as the image's user, without extra privileges, mounts or capabilities)",
        ));
    }
    let global = envs(raw.global_env_vars)
        .map_err(|m| FormatError::invalid(path, Some(1), format!("globalEnvVars: {m}")))?;
    let mut tests = Vec::new();
    for t in raw.command_tests {
        let l = line(t.referenced.line());
        let err = |m: String| FormatError::invalid(path, l, format!("commandTests: {m}"));
        let c = t.value;
        let name = named(c.name, "commandTests").map_err(err)?;
        let err = |m: String| FormatError::invalid(path, l, format!("command test {name:?}: {m}"));
        let command = c.command.filter(|c| !c.is_empty()).ok_or_else(|| {
            err("has no `command`: give the program to run (and its `args`)".to_string())
        })?;
        if c.setup.iter().chain(&c.teardown).any(Vec::is_empty) {
            return Err(err(
                "an empty setup or teardown command; remove it".to_string()
            ));
        }
        let mut env = global.clone();
        env.extend(envs(c.env_vars).map_err(err)?);
        let mut argv = vec![command];
        argv.extend(c.args);
        let mut stdout = go_regexes(c.expected_output, false, "expectedOutput").map_err(err)?;
        stdout.extend(go_regexes(c.excluded_output, true, "excludedOutput").map_err(err)?);
        let mut stderr = go_regexes(c.expected_error, false, "expectedError").map_err(err)?;
        stderr.extend(go_regexes(c.excluded_error, true, "excludedError").map_err(err)?);
        tests.push(Test {
            name,
            line: l,
            check: Check::Command(CommandCheck {
                argv,
                entrypoint: Some(Vec::new()),
                exit_status: c.exit_code,
                stdout,
                stderr,
                env,
                setup: c.setup,
                teardown: c.teardown,
                timeout: None,
            }),
        });
    }
    for t in raw.file_existence_tests {
        let l = line(t.referenced.line());
        let f = t.value;
        let name = named(f.name, "fileExistenceTests")
            .map_err(|m| FormatError::invalid(path, l, format!("fileExistenceTests: {m}")))?;
        let err =
            |m: String| FormatError::invalid(path, l, format!("file existence test {name:?}: {m}"));
        let file = f
            .path
            .filter(|p| !p.is_empty())
            .ok_or_else(|| err("has no `path`".to_string()))?;
        let exists = f.should_exist.unwrap_or(true);
        let (kind, mode) = match &f.permissions {
            Some(p) if !p.is_empty() => {
                let (k, m) = parse_go_mode(p).map_err(err)?;
                (Some(k), Some(m))
            }
            _ => (None, None),
        };
        let id = |v: Option<i64>, key: &str| -> Result<Option<u64>, String> {
            match v {
                None | Some(-1) => Ok(None),
                Some(n) => u64::try_from(n)
                    .map(Some)
                    .map_err(|_| format!("{key} {n} is not a valid id")),
            }
        };
        let executable_by = match f.is_executable_by.as_deref() {
            None | Some("") => None,
            Some("any") => Some(0o111),
            Some("owner") => Some(0o100),
            Some("group") => Some(0o010),
            Some("other") => Some(0o001),
            Some(o) => {
                return Err(err(format!(
                    "isExecutableBy {o:?} is not one of any, owner, group, other"
                )));
            }
        };
        let check = FileCheck {
            path: file,
            exists,
            kind,
            mode,
            uid: id(f.uid, "uid").map_err(err)?,
            gid: id(f.gid, "gid").map_err(err)?,
            executable_by,
            ..FileCheck::default()
        };
        if !exists && super::plinth::has_attributes(&check) {
            return Err(err(
                "permissions, uid, gid and isExecutableBy need shouldExist: true".to_string(),
            ));
        }
        tests.push(Test {
            name,
            line: l,
            check: Check::File(check),
        });
    }
    for t in raw.file_content_tests {
        let l = line(t.referenced.line());
        let f = t.value;
        let name = named(f.name, "fileContentTests")
            .map_err(|m| FormatError::invalid(path, l, format!("fileContentTests: {m}")))?;
        let err =
            |m: String| FormatError::invalid(path, l, format!("file content test {name:?}: {m}"));
        let file = f
            .path
            .filter(|p| !p.is_empty())
            .ok_or_else(|| err("has no `path`".to_string()))?;
        let mut content =
            go_regexes(f.expected_contents, false, "expectedContents").map_err(err)?;
        content.extend(go_regexes(f.excluded_contents, true, "excludedContents").map_err(err)?);
        tests.push(Test {
            name,
            line: l,
            check: Check::File(FileCheck {
                path: file,
                exists: true,
                kind: None,
                content,
                ..FileCheck::default()
            }),
        });
    }
    if let Some(m) = raw.metadata_test {
        let l = line(m.referenced.line());
        let err = |msg: String| FormatError::invalid(path, l, format!("metadataTest: {msg}"));
        let m = m.value;
        let pairs =
            |list: Vec<RawEnvVar>, what: &str| -> Result<Vec<(String, Option<Matcher>)>, String> {
                list.into_iter()
                    .map(|e| {
                        if e.key.is_empty() {
                            return Err(format!("{what} key cannot be empty"));
                        }
                        let value = e.value.map(Scalar::text).unwrap_or_default();
                        let m = if e.is_regex {
                            go_regex(&value, false).map_err(|m| format!("{what} {}: {m}", e.key))?
                        } else {
                            Matcher::Equals(value)
                        };
                        Ok((e.key, Some(m)))
                    })
                    .collect()
            };
        let nonempty = |v: Vec<String>, what: &str| -> Result<Vec<String>, String> {
            if v.iter().any(String::is_empty) {
                Err(format!("{what} cannot be empty"))
            } else {
                Ok(v)
            }
        };
        let meta = MetadataCheck {
            env: pairs(m.env_vars, "envVars").map_err(err)?,
            env_unset: m
                .unbound_env_vars
                .into_iter()
                .map(|e| {
                    if e.key.is_empty() {
                        Err(err("unboundEnvVars key cannot be empty".to_string()))
                    } else {
                        Ok(e.key)
                    }
                })
                .collect::<Result<_, _>>()?,
            labels: pairs(m.labels, "label").map_err(err)?,
            entrypoint: m.entrypoint,
            cmd: m.cmd,
            workdir: Some(m.workdir).filter(|w| !w.is_empty()),
            user: m.user.map(Scalar::text).filter(|u| !u.is_empty()),
            exposed_ports: nonempty(
                m.exposed_ports.into_iter().map(Scalar::text).collect(),
                "port",
            )
            .map_err(err)?,
            unexposed_ports: nonempty(
                m.unexposed_ports.into_iter().map(Scalar::text).collect(),
                "port",
            )
            .map_err(err)?,
            volumes: nonempty(m.volumes, "volume").map_err(err)?,
            unmounted_volumes: nonempty(m.unmounted_volumes, "volume").map_err(err)?,
            healthcheck: None,
        };
        tests.push(Test {
            name: "Metadata Test".to_string(),
            line: l,
            check: Check::Metadata(meta),
        });
    }
    for t in raw.license_tests {
        tests.push(Test {
            name: "License Test".to_string(),
            line: line(t.referenced.line()),
            check: Check::License(LicenseCheck {
                debian: t.value.debian,
                files: t.value.files,
            }),
        });
    }
    Ok(tests)
}

/// A test's name, which container-structure-test requires.
fn named(name: Option<String>, section: &str) -> Result<String, String> {
    name.filter(|n| !n.is_empty()).ok_or_else(|| {
        format!("every test of {section} needs a `name` (container-structure-test skips tests without one); add it")
    })
}

/// `envVars`: non-empty keys and values (as container-structure-test validates them).
fn envs(list: Vec<RawEnvVar>) -> Result<Vec<(String, String)>, String> {
    list.into_iter()
        .map(|e| {
            let value = e.value.map(Scalar::text).unwrap_or_default();
            if e.key.is_empty() || value.is_empty() {
                return Err("env vars need a non-empty key and value".to_string());
            }
            if e.is_regex {
                return Err(format!(
                    "env var {}: isRegex applies to metadataTest env only; remove it",
                    e.key
                ));
            }
            Ok((e.key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"schemaVersion: "2.0.0"
globalEnvVars:
  - key: GLOBAL
    value: g
commandTests:
  - name: hello
    setup: [["touch", "/tmp/x"]]
    teardown: [["rm", "/tmp/x"]]
    envVars:
      - key: PORT
        value: 8080
    exitCode: 2
    command: echo
    args: ["hello", "world"]
    expectedOutput: ["^hello"]
    excludedOutput: ["bye$"]
    expectedError: ["warn"]
    excludedError: ["fatal"]
fileExistenceTests:
  - name: dir
    path: /etc
    shouldExist: true
    permissions: "drwxr-xr-x"
    uid: 0
    gid: 0
    isExecutableBy: other
  - name: gone
    path: /nope
    shouldExist: false
fileContentTests:
  - name: passwd
    path: /etc/passwd
    expectedContents: ["root:x:0"]
    excludedContents: ["^evil"]
metadataTest:
  envVars:
    - key: PATH
      value: /usr/bin
    - key: HOME
      value: "^/"
      isRegex: true
  unboundEnvVars:
    - key: SECRET
  labels:
    - key: version
      value: "1"
  exposedPorts: ["8080", 53]
  unexposedPorts: ["22"]
  entrypoint: []
  cmd: ["nginx"]
  workdir: /app
  volumes: ["/data"]
  unmountedVolumes: ["/tmp"]
  user: 1000
licenseTests:
  - debian: true
    files: ["/LICENSE"]
"#;

    fn p(text: &str) -> Result<Vec<Test>, FormatError> {
        parse(text, Path::new("cst.yaml"))
    }

    #[test]
    fn every_key_is_read_as_container_structure_test_means_it() {
        let t = p(FULL).unwrap();
        assert_eq!(t.len(), 6);
        let Check::Command(c) = &t[0].check else {
            panic!()
        };
        assert_eq!(t[0].name, "hello");
        assert_eq!(t[0].line, Some(6));
        assert_eq!(c.argv, vec!["echo", "hello", "world"]);
        assert_eq!(c.entrypoint, Some(vec![]), "CST clears the entrypoint");
        assert_eq!(c.exit_status, 2);
        assert_eq!(
            c.env,
            vec![
                ("GLOBAL".into(), "g".into()),
                ("PORT".into(), "8080".into())
            ]
        );
        assert_eq!(
            c.setup,
            vec![vec!["touch".to_string(), "/tmp/x".to_string()]]
        );
        assert_eq!(
            c.teardown,
            vec![vec!["rm".to_string(), "/tmp/x".to_string()]]
        );
        assert_eq!(
            c.stdout,
            vec![
                Matcher::Regex("(?-m:^hello)".into()),
                Matcher::NotRegex("(?-m:bye$)".into())
            ]
        );
        assert_eq!(
            c.stderr,
            vec![
                Matcher::Regex("(?-m:warn)".into()),
                Matcher::NotRegex("(?-m:fatal)".into())
            ]
        );
        assert_eq!(c.timeout, None);
        let Check::File(f) = &t[1].check else {
            panic!()
        };
        assert_eq!((f.kind, f.mode), (Some(FileKind::Directory), Some(0o755)));
        assert_eq!((f.uid, f.gid), (Some(0), Some(0)));
        assert_eq!(f.executable_by, Some(0o001));
        assert!(f.exists);
        let Check::File(f) = &t[2].check else {
            panic!()
        };
        assert!(!f.exists);
        assert_eq!((f.uid, f.gid, f.kind), (None, None, None));
        let Check::File(f) = &t[3].check else {
            panic!()
        };
        assert!(f.exists);
        assert_eq!(
            f.content,
            vec![
                Matcher::Regex("(?-m:root:x:0)".into()),
                Matcher::NotRegex("(?-m:^evil)".into())
            ]
        );
        let Check::Metadata(m) = &t[4].check else {
            panic!()
        };
        assert_eq!(t[4].name, "Metadata Test");
        assert_eq!(
            m.env[0],
            ("PATH".into(), Some(Matcher::Equals("/usr/bin".into())))
        );
        assert_eq!(
            m.env[1],
            ("HOME".into(), Some(Matcher::Regex("(?-m:^/)".into())))
        );
        assert_eq!(
            m.labels,
            vec![("version".into(), Some(Matcher::Equals("1".into())))]
        );
        assert_eq!(m.env_unset, vec!["SECRET".to_string()]);
        assert_eq!(m.exposed_ports, vec!["8080", "53"]);
        assert_eq!(m.unexposed_ports, vec!["22"]);
        assert_eq!(m.entrypoint, Some(vec![]));
        assert_eq!(m.cmd, Some(vec!["nginx".to_string()]));
        assert_eq!(m.workdir.as_deref(), Some("/app"));
        assert_eq!(m.volumes, vec!["/data"]);
        assert_eq!(m.unmounted_volumes, vec!["/tmp"]);
        assert_eq!(m.user.as_deref(), Some("1000"));
        let Check::License(l) = &t[5].check else {
            panic!()
        };
        assert!(l.debian);
        assert_eq!(l.files, vec!["/LICENSE"]);
    }

    #[test]
    fn go_regexes_are_not_multi_line() {
        let Matcher::Regex(r) = go_regex("^b$", false).unwrap() else {
            panic!()
        };
        let re = regex::RegexBuilder::new(&r)
            .multi_line(true)
            .build()
            .unwrap();
        assert!(!re.is_match("a\nb\n"), "Go's MatchString would not match");
        assert!(re.is_match("b"));
        let Matcher::Regex(r) = go_regex("(?m)^b$", false).unwrap() else {
            panic!()
        };
        let re = regex::RegexBuilder::new(&r)
            .multi_line(true)
            .build()
            .unwrap();
        assert!(re.is_match("a\nb\n"), "an explicit (?m) still works");
        assert!(go_regex("(", false).is_err());
    }

    #[test]
    fn go_file_modes_are_read() {
        assert_eq!(
            parse_go_mode("-rw-r--r--").unwrap(),
            (FileKind::File, 0o644)
        );
        assert_eq!(
            parse_go_mode("Lrwxrwxrwx").unwrap(),
            (FileKind::Symlink, 0o777)
        );
        assert_eq!(
            parse_go_mode("urwxr-xr-x").unwrap(),
            (FileKind::File, 0o4755)
        );
        assert_eq!(
            parse_go_mode("dtrwxrwxrwx").unwrap(),
            (FileKind::Directory, 0o1777)
        );
        assert_eq!(
            parse_go_mode("dgrwxr-xr-x").unwrap(),
            (FileKind::Directory, 0o2755)
        );
        assert_eq!(
            parse_go_mode("Dcrw-rw-rw-").unwrap(),
            (FileKind::Other, 0o666)
        );
        assert!(parse_go_mode("0644").is_err());
        assert!(parse_go_mode("-rwxrwxrwz").is_err());
        assert!(parse_go_mode("arw-r--r--").is_err());
    }

    #[test]
    fn unknown_and_unsupported_keys_are_errors_with_their_line() {
        let cases = [
            (
                "schemaVersion: 2.0.0\ncommandTests:\n  - name: a\n    command: x\n    entrypoint: [sh]\n",
                5,
                "entrypoint",
            ),
            (
                "schemaVersion: 2.0.0\nfileExistenceTests:\n  - name: a\n    path: /a\n    mode: x\n",
                5,
                "mode",
            ),
            ("schemaVersion: 2.0.0\nmetadataTest:\n  env: []\n", 3, "env"),
            (
                "schemaVersion: 2.0.0\ncontainerRunOptions:\n  user: root\n",
                3,
                "containerRunOptions",
            ),
            ("schemaVersion: 2.0.0\nfooTests: []\n", 2, "fooTests"),
            (
                "schemaVersion: 2.0.0\ncommandTests:\n  - command: x\n",
                3,
                "name",
            ),
            (
                "schemaVersion: 2.0.0\ncommandTests:\n  - name: a\n",
                3,
                "command",
            ),
            (
                "schemaVersion: 2.0.0\ncommandTests:\n  - name: a\n    command: x\n    setup: [[]]\n",
                3,
                "empty",
            ),
            (
                "schemaVersion: 2.0.0\ncommandTests:\n  - name: a\n    command: x\n    envVars: [{key: A, value: ''}]\n",
                3,
                "non-empty",
            ),
            (
                "schemaVersion: 2.0.0\nfileExistenceTests:\n  - name: a\n    path: /a\n    isExecutableBy: nobody\n",
                3,
                "nobody",
            ),
            (
                "schemaVersion: 2.0.0\nfileExistenceTests:\n  - name: a\n    path: /a\n    shouldExist: false\n    uid: 0\n",
                3,
                "shouldExist",
            ),
            (
                "schemaVersion: 2.0.0\nfileContentTests:\n  - name: a\n    path: /a\n    expectedContents: ['(']\n",
                3,
                "expectedContents",
            ),
            ("schemaVersion: \"2.0.1\"\n", 1, "2.0.0"),
        ];
        for (text, line, word) in cases {
            let e = p(text).unwrap_err();
            assert_eq!(e.line(), Some(line), "{text}: {e}");
            assert!(e.to_string().contains(word), "{text}: {e}");
            assert!(e.to_string().starts_with("cst.yaml:"), "{e}");
        }
    }

    #[test]
    fn an_empty_metadata_test_still_runs_and_uid_minus_one_is_unset() {
        let t = p("schemaVersion: 2.0.0\nmetadataTest: {}\nfileExistenceTests:\n  - name: a\n    path: /a\n    uid: -1\n    gid: 5\n").unwrap();
        assert_eq!(t.len(), 2);
        let Check::File(f) = &t[0].check else {
            panic!("{:?}", t[0])
        };
        assert_eq!((f.uid, f.gid), (None, Some(5)));
        assert!(matches!(t[1].check, Check::Metadata(_)));
    }
}
