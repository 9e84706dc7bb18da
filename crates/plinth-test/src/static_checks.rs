//! The static checks: assertions about an image answered from its layers and config through an
//! [`ImageView`], without running or unpacking it: files, Debian packages (the dpkg database),
//! users and groups (`/etc/passwd`, `/etc/group`), the config's metadata, and
//! container-structure-test's license checks.
//!
//! [`run`] gives one [`TestResult`] per test. A failed result's message lists every attribute
//! that did not match, one per line, as `what: expected X, found Y`. A check that cannot be
//! carried out (an unreadable layer, an invalid regular expression, a runtime check handed to
//! this module) is [`Status::Error`].
//!
//! File metadata (kind, mode, owner, size, link target) is that of the path itself (`lstat`, as
//! goss and container-structure-test report a symlink); content and `sha256` are the content of
//! the file it names (symlinks followed).

use std::collections::BTreeMap;
use std::time::Instant;

use plinth_build::userdb::{GroupEntry, PasswdEntry, parse_group, parse_passwd};
use sha2::{Digest as _, Sha256};

use crate::image::{Entry, ImageError, ImageView};
use crate::model::{
    Check, FileCheck, FileKind, GroupCheck, LicenseCheck, Matcher, MetadataCheck, PackageCheck,
    Status, Test, TestResult, UserCheck,
};

/// The dpkg status database.
pub const DPKG_STATUS: &str = "/var/lib/dpkg/status";
/// Distroless images' per-package status files.
pub const DPKG_STATUS_DIR: &str = "/var/lib/dpkg/status.d";
/// Where Debian packages keep their `copyright` files (container-structure-test's `DebianRoot`).
pub const DEBIAN_DOC_ROOT: &str = "/usr/share/doc";
/// Packages container-structure-test's license test skips.
const LICENSE_SKIP: &[&str] = &["libgnutls30"];
/// Words that fail a license file (compared upper-cased), as container-structure-test does.
const LICENSE_DENY: &[&str] = &["AGPL", "WTFPL"];

/// Why a check could not be carried out.
enum Problem {
    Image(ImageError),
    Other(String),
}

impl From<ImageError> for Problem {
    fn from(e: ImageError) -> Self {
        Problem::Image(e)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Image(e) => write!(f, "{e}"),
            Problem::Other(s) => f.write_str(s),
        }
    }
}

/// Runs one static test against the image. A runtime check gives [`Status::Error`].
pub fn run(view: &ImageView, suite: &str, test: &Test) -> TestResult {
    let start = Instant::now();
    let outcome = match &test.check {
        Check::File(c) => check_file(view, c),
        Check::Package(c) => check_package(view, c),
        Check::User(c) => check_user(view, c),
        Check::Group(c) => check_group(view, c),
        Check::Metadata(c) => check_metadata(view, c),
        Check::License(c) => check_license(view, c),
        other => Err(Problem::Other(format!(
            "{} is a runtime check: it needs a running container, not the image's layers",
            other.kind()
        ))),
    };
    let (status, message) = match outcome {
        Ok(failures) if failures.is_empty() => (Status::Passed, String::new()),
        Ok(failures) => (Status::Failed, failures.join("\n")),
        Err(p) => (Status::Error, p.to_string()),
    };
    TestResult {
        suite: suite.to_string(),
        name: test.name.clone(),
        kind: test.check.kind(),
        status,
        message,
        duration: start.elapsed(),
    }
}

type Outcome = Result<Vec<String>, Problem>;

// ------------------------------------------------------------------------------------ matchers

/// Whether `text` satisfies `m`. An invalid regular expression is a [`Problem`].
fn matches(m: &Matcher, text: &str) -> Result<bool, Problem> {
    m.matches(text).map_err(Problem::Other)
}

/// A text for a message, shortened.
fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    if text.chars().count() <= MAX {
        return format!("{text:?}");
    }
    let cut: String = text.chars().take(MAX).collect();
    format!("{cut:?}... ({} bytes)", text.len())
}

// ---------------------------------------------------------------------------------- databases

/// `/etc/passwd` of the image (empty when it has none).
pub fn passwd(view: &ImageView) -> Result<Vec<PasswdEntry>, ImageError> {
    Ok(read_optional(view, "/etc/passwd")?
        .map(|b| parse_passwd(&b))
        .unwrap_or_default())
}

/// `/etc/group` of the image (empty when it has none).
pub fn groups(view: &ImageView) -> Result<Vec<GroupEntry>, ImageError> {
    Ok(read_optional(view, "/etc/group")?
        .map(|b| parse_group(&b))
        .unwrap_or_default())
}

/// A file's content; a path that is there but not a regular file counts as absent.
fn read_optional(view: &ImageView, path: &str) -> Result<Option<Vec<u8>>, ImageError> {
    match view.read(path) {
        Err(ImageError::NotRegularFile { .. }) => Ok(None),
        other => other,
    }
}

/// The installed Debian packages (name → version) from `/var/lib/dpkg/status` and, as distroless
/// images keep them, the files of `/var/lib/dpkg/status.d/`. A package counts as installed when
/// its `Status` is `install ok installed` (any want, `ok`, `installed`). Empty when the image has
/// no dpkg database.
pub fn dpkg_packages(view: &ImageView) -> Result<BTreeMap<String, String>, ImageError> {
    let mut out = BTreeMap::new();
    if let Some(text) = read_optional(view, DPKG_STATUS)? {
        parse_dpkg_status(&String::from_utf8_lossy(&text), &mut out);
    }
    for name in view.read_dir(DPKG_STATUS_DIR).unwrap_or_default() {
        if let Some(text) = read_optional(view, &format!("{DPKG_STATUS_DIR}/{name}"))? {
            parse_dpkg_status(&String::from_utf8_lossy(&text), &mut out);
        }
    }
    Ok(out)
}

/// Adds the installed packages of a dpkg status file (RFC 822-style paragraphs) to `out`.
/// Distroless status.d files have no `Status` field: their packages are installed.
pub fn parse_dpkg_status(text: &str, out: &mut BTreeMap<String, String>) {
    for paragraph in text.split("\n\n") {
        let mut package = None;
        let mut version = None;
        let mut status = None;
        for line in paragraph.lines() {
            if line.starts_with([' ', '\t']) {
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                k if k.eq_ignore_ascii_case("Package") => package = Some(value),
                k if k.eq_ignore_ascii_case("Version") => version = Some(value),
                k if k.eq_ignore_ascii_case("Status") => status = Some(value),
                _ => {}
            }
        }
        let installed = status.is_none_or(|s| {
            let words: Vec<&str> = s.split_whitespace().collect();
            words.get(1) == Some(&"ok") && words.get(2) == Some(&"installed")
        });
        if let Some(p) = package
            && installed
        {
            out.entry(p.to_string())
                .or_insert_with(|| version.unwrap_or_default().to_string());
        }
    }
}

// --------------------------------------------------------------------------------------- file

fn kind_word(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => "file",
        FileKind::Directory => "directory",
        FileKind::Symlink => "symlink",
        FileKind::Other => "special file",
    }
}

fn describe_entry(e: &Entry) -> String {
    let mut s = format!(
        "a {} (mode {:04o}, uid {}, gid {}",
        kind_word(e.kind),
        e.mode,
        e.uid,
        e.gid
    );
    if let Some(t) = &e.link_target {
        s.push_str(&format!(", -> {t}"));
    }
    s.push(')');
    s
}

fn check_file(view: &ImageView, c: &FileCheck) -> Outcome {
    let mut fails = Vec::new();
    let found = view.lstat(&c.path);
    let Some(e) = found else {
        if c.exists {
            fails.push(format!("{}: expected to exist, found nothing", c.path));
        }
        return Ok(fails);
    };
    if !c.exists {
        fails.push(format!(
            "{}: expected not to exist, found {}",
            c.path,
            describe_entry(&e)
        ));
        return Ok(fails);
    }
    if let Some(kind) = c.kind
        && kind != e.kind
    {
        fails.push(format!(
            "type: expected {}, found {}",
            kind_word(kind),
            kind_word(e.kind)
        ));
    }
    if let Some(mode) = c.mode
        && mode & 0o7777 != e.mode
    {
        fails.push(format!(
            "mode: expected {:04o}, found {:04o}",
            mode & 0o7777,
            e.mode
        ));
    }
    // container-structure-test's isExecutableBy: any of the bits (owner 0o100, group 0o010,
    // other 0o001, any 0o111) is set.
    if let Some(bits) = c.executable_by
        && e.mode & bits == 0
    {
        fails.push(format!(
            "executable: expected one of the bits {bits:04o} in the mode, found {:04o}",
            e.mode
        ));
    }
    if let Some(uid) = c.uid
        && uid != e.uid
    {
        fails.push(format!("uid: expected {uid}, found {}", e.uid));
    }
    if let Some(gid) = c.gid
        && gid != e.gid
    {
        fails.push(format!("gid: expected {gid}, found {}", e.gid));
    }
    if let Some(owner) = &c.owner {
        let users = passwd(view)?;
        let name = users
            .iter()
            .find(|u| u.uid == e.uid)
            .map(|u| u.name.as_str());
        if name != Some(owner.as_str()) {
            fails.push(format!(
                "owner: expected {owner}, found uid {} ({})",
                e.uid,
                name.unwrap_or("not in /etc/passwd")
            ));
        }
    }
    if let Some(group) = &c.group {
        let all = groups(view)?;
        let name = all.iter().find(|g| g.gid == e.gid).map(|g| g.name.as_str());
        if name != Some(group.as_str()) {
            fails.push(format!(
                "group: expected {group}, found gid {} ({})",
                e.gid,
                name.unwrap_or("not in /etc/group")
            ));
        }
    }
    if let Some(target) = &c.link_target
        && e.link_target.as_deref() != Some(target.as_str())
    {
        fails.push(format!(
            "link target: expected {target}, found {}",
            match &e.link_target {
                Some(t) => t.clone(),
                None => format!("{} (not a symlink)", kind_word(e.kind)),
            }
        ));
    }
    if let Some(size) = c.size
        && size != e.size
    {
        fails.push(format!("size: expected {size}, found {}", e.size));
    }
    if !c.content.is_empty() || c.sha256.is_some() {
        let content = match view.read(&c.path) {
            Ok(Some(data)) => data,
            Ok(None) => {
                fails.push("content: expected a file to read, found a dangling symlink".into());
                return Ok(fails);
            }
            Err(ImageError::NotRegularFile { kind, .. }) => {
                fails.push(format!("content: expected a regular file, found a {kind}"));
                return Ok(fails);
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(want) = &c.sha256 {
            let got = hex::encode(Sha256::digest(&content));
            if !got.eq_ignore_ascii_case(want) {
                fails.push(format!("sha256: expected {want}, found {got}"));
            }
        }
        let text = String::from_utf8_lossy(&content);
        for m in &c.content {
            if !matches(m, &text)? {
                fails.push(format!(
                    "content: expected {}, found {}",
                    m.describe(),
                    excerpt(&text)
                ));
            }
        }
    }
    Ok(fails)
}

// ------------------------------------------------------------------------------------ package

fn check_package(view: &ImageView, c: &PackageCheck) -> Outcome {
    let packages = dpkg_packages(view)?;
    let mut fails = Vec::new();
    let no_db = || {
        if view.stat(DPKG_STATUS).is_none() && view.stat(DPKG_STATUS_DIR).is_none() {
            " (the image has no dpkg database)"
        } else {
            ""
        }
    };
    match (packages.get(&c.name), c.installed) {
        (None, true) => fails.push(format!(
            "package {}: expected installed, found not installed{}",
            c.name,
            no_db()
        )),
        (Some(v), false) => fails.push(format!(
            "package {}: expected not installed, found version {v} installed",
            c.name
        )),
        (Some(v), true) if !c.versions.is_empty() && !c.versions.contains(v) => {
            fails.push(format!(
                "version of {}: expected {}, found {v}",
                c.name,
                one_of(&c.versions)
            ))
        }
        _ => {}
    }
    Ok(fails)
}

fn one_of(items: &[String]) -> String {
    match items {
        [one] => one.clone(),
        _ => format!("one of {}", items.join(", ")),
    }
}

// ------------------------------------------------------------------------------ user and group

fn check_user(view: &ImageView, c: &UserCheck) -> Outcome {
    let users = passwd(view)?;
    let mut fails = Vec::new();
    let user = users.iter().find(|u| u.name == c.name);
    let Some(u) = user else {
        if c.exists {
            fails.push(format!(
                "user {}: expected to exist, not in /etc/passwd",
                c.name
            ));
        }
        return Ok(fails);
    };
    if !c.exists {
        fails.push(format!(
            "user {}: expected not to exist, found uid {} in /etc/passwd",
            c.name, u.uid
        ));
        return Ok(fails);
    }
    if let Some(uid) = c.uid
        && uid != u.uid
    {
        fails.push(format!("uid: expected {uid}, found {}", u.uid));
    }
    if let Some(gid) = c.gid
        && gid != u.gid
    {
        fails.push(format!("gid: expected {gid}, found {}", u.gid));
    }
    if let Some(home) = &c.home
        && home != &u.home
    {
        fails.push(format!("home: expected {home}, found {}", u.home));
    }
    if let Some(shell) = &c.shell
        && shell != &u.shell
    {
        fails.push(format!("shell: expected {shell}, found {}", u.shell));
    }
    if !c.groups.is_empty() {
        let all = groups(view)?;
        let mine: Vec<&str> = all
            .iter()
            .filter(|g| g.gid == u.gid || g.members.iter().any(|m| m == &u.name))
            .map(|g| g.name.as_str())
            .collect();
        let missing: Vec<&str> = c
            .groups
            .iter()
            .map(String::as_str)
            .filter(|g| !mine.contains(g))
            .collect();
        if !missing.is_empty() {
            fails.push(format!(
                "groups: expected {} to include the user, found the user in [{}]",
                missing.join(", "),
                mine.join(", ")
            ));
        }
    }
    Ok(fails)
}

fn check_group(view: &ImageView, c: &GroupCheck) -> Outcome {
    let all = groups(view)?;
    let mut fails = Vec::new();
    match (all.iter().find(|g| g.name == c.name), c.exists) {
        (None, true) => fails.push(format!(
            "group {}: expected to exist, not in /etc/group",
            c.name
        )),
        (Some(g), false) => fails.push(format!(
            "group {}: expected not to exist, found gid {} in /etc/group",
            c.name, g.gid
        )),
        (Some(g), true) => {
            if let Some(gid) = c.gid
                && gid != g.gid
            {
                fails.push(format!("gid: expected {gid}, found {}", g.gid));
            }
        }
        (None, false) => {}
    }
    Ok(fails)
}

// ----------------------------------------------------------------------------------- metadata

/// `8080` means `8080/tcp`, as in the config's `ExposedPorts` keys.
fn normalize_port(p: &str) -> String {
    let p = p.trim();
    if p.contains('/') {
        p.to_ascii_lowercase()
    } else {
        format!("{p}/tcp")
    }
}

fn check_pairs(
    what: &str,
    wanted: &[(String, Option<Matcher>)],
    actual: &BTreeMap<String, String>,
    fails: &mut Vec<String>,
) -> Result<(), Problem> {
    for (key, matcher) in wanted {
        match (actual.get(key), matcher) {
            (None, _) => fails.push(format!("{what} {key}: expected to be set, found not set")),
            (Some(v), Some(m)) if !matches(m, v)? => fails.push(format!(
                "{what} {key}: expected {}, found {v:?}",
                m.describe()
            )),
            _ => {}
        }
    }
    Ok(())
}

fn check_metadata(view: &ImageView, c: &MetadataCheck) -> Outcome {
    let cfg = &view.config().config;
    let mut fails = Vec::new();
    let env: BTreeMap<String, String> = cfg
        .env
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.clone(), String::new()),
        })
        .collect();
    check_pairs("env", &c.env, &env, &mut fails)?;
    for k in &c.env_unset {
        if let Some(v) = env.get(k) {
            fails.push(format!("env {k}: expected unset, found {v:?}"));
        }
    }
    check_pairs("label", &c.labels, &cfg.labels, &mut fails)?;
    let lists = [
        ("entrypoint", &c.entrypoint, &cfg.entrypoint),
        ("cmd", &c.cmd, &cfg.cmd),
    ];
    for (what, want, have) in lists {
        let have = have.clone().unwrap_or_default();
        if let Some(want) = want
            && want != &have
        {
            fails.push(format!("{what}: expected {want:?}, found {have:?}"));
        }
    }
    if let Some(want) = &c.workdir {
        let have = cfg.working_dir.as_deref().unwrap_or("");
        if want != have {
            fails.push(format!("workdir: expected {want:?}, found {have:?}"));
        }
    }
    if let Some(want) = &c.user {
        let have = cfg.user.as_deref().unwrap_or("");
        if want != have {
            fails.push(format!("user: expected {want:?}, found {have:?}"));
        }
    }
    let ports: Vec<String> = cfg
        .exposed_ports
        .keys()
        .map(|p| normalize_port(p))
        .collect();
    let list = |v: &[String]| format!("[{}]", v.join(", "));
    for p in &c.exposed_ports {
        if !ports.contains(&normalize_port(p)) {
            fails.push(format!(
                "exposed port {p}: expected exposed, found exposed ports {}",
                list(&ports)
            ));
        }
    }
    for p in &c.unexposed_ports {
        if ports.contains(&normalize_port(p)) {
            fails.push(format!(
                "exposed port {p}: expected not exposed, found exposed"
            ));
        }
    }
    let volumes: Vec<String> = cfg.volumes.keys().cloned().collect();
    for v in &c.volumes {
        if !volumes.contains(v) {
            fails.push(format!(
                "volume {v}: expected declared, found volumes {}",
                list(&volumes)
            ));
        }
    }
    for v in &c.unmounted_volumes {
        if volumes.contains(v) {
            fails.push(format!("volume {v}: expected not declared, found declared"));
        }
    }
    if let Some(want) = c.healthcheck {
        let have = cfg
            .healthcheck
            .as_ref()
            .and_then(|h| h.test.first())
            .is_some_and(|t| t != "NONE");
        if want != have {
            let word = |b: bool| if b { "declared" } else { "none" };
            fails.push(format!(
                "healthcheck: expected {}, found {}",
                word(want),
                word(have)
            ));
        }
    }
    Ok(fails)
}

// ------------------------------------------------------------------------------------ license

/// container-structure-test's `checkFile`: the file must be readable and must not contain a
/// denied license name.
fn check_license_file(
    view: &ImageView,
    path: &str,
    fails: &mut Vec<String>,
) -> Result<(), Problem> {
    let content = match view.read(path) {
        Ok(Some(c)) => c,
        Ok(None) => {
            fails.push(format!(
                "license file {path}: expected to exist, found nothing"
            ));
            return Ok(());
        }
        Err(ImageError::NotRegularFile { kind, .. }) => {
            fails.push(format!(
                "license file {path}: expected a regular file, found a {kind}"
            ));
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let upper = String::from_utf8_lossy(&content).to_uppercase();
    for word in LICENSE_DENY {
        if upper.contains(word) {
            fails.push(format!(
                "license file {path}: expected no {word} license, found {word} in it"
            ));
        }
    }
    Ok(())
}

fn check_license(view: &ImageView, c: &LicenseCheck) -> Outcome {
    let mut fails = Vec::new();
    if c.debian {
        match view.read_dir(DEBIAN_DOC_ROOT) {
            None => fails.push(format!(
                "{DEBIAN_DOC_ROOT}: expected a directory of Debian package docs, found nothing"
            )),
            Some(names) => {
                for name in names {
                    let dir = format!("{DEBIAN_DOC_ROOT}/{name}");
                    let is_dir = view
                        .lstat(&dir)
                        .is_some_and(|e| e.kind == FileKind::Directory);
                    if !is_dir || LICENSE_SKIP.contains(&name.as_str()) {
                        continue;
                    }
                    check_license_file(view, &format!("{dir}/copyright"), &mut fails)?;
                }
            }
        }
    }
    for file in &c.files {
        check_license_file(view, file, &mut fails)?;
    }
    Ok(fails)
}
