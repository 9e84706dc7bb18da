//! `user[:group]` strings resolved against an image's `/etc/passwd` and `/etc/group` (given as
//! bytes; either may be absent). Pure: no IO.
//!
//! Two rule sets exist, because Docker has two:
//!
//! - [`resolve_chown`] for `COPY/ADD --chown` (BuildKit's file-op `readUser`): a numeric user `N`
//!   means `N:N` (the gid is the same number, not the passwd entry's group); a user name takes uid
//!   *and* primary gid from passwd; an explicit group (number or name) replaces the gid. BuildKit
//!   silently uses 0 for a name it cannot find; plinth refuses, with the classic builder's message
//!   (`unable to convert uid/gid chown string to host mapping: can't find uid for user X`), because
//!   a typo must not make files root-owned.
//! - [`resolve_exec_user`] for `USER` when a process runs (runc's `GetExecUser`, which BuildKit's
//!   executor uses): a numeric user keeps its number and takes gid and home from passwd when an
//!   entry has that uid, else gid 0 and home `/`; a name must exist; an explicit group must exist
//!   unless numeric; with no explicit group, the groups that list the user as a member become
//!   supplementary groups.

/// One `/etc/passwd` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u64,
    pub gid: u64,
    pub home: String,
    pub shell: String,
}

/// One `/etc/group` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u64,
    pub members: Vec<String>,
}

/// Errors of resolving a user or group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("unable to convert uid/gid chown string to host mapping: can't find uid for user {0}")]
    ChownUnknownUser(String),
    #[error("unable to convert uid/gid chown string to host mapping: can't find gid for group {0}")]
    ChownUnknownGroup(String),
    #[error("unable to find user {0}: no matching entries in passwd file")]
    UnknownUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    UnknownGroup(String),
    #[error("invalid user specification {0:?}")]
    Invalid(String),
}

/// A resolved process identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecUser {
    pub uid: u64,
    pub gid: u64,
    /// Supplementary groups (from `/etc/group` membership).
    pub additional_gids: Vec<u64>,
    /// The home directory from passwd (`/` when unknown), for `HOME`.
    pub home: String,
}

impl ExecUser {
    /// uid, gid and supplementary gids as the kernel takes them (ids above u32 become nobody's
    /// 65534-style overflow id, `u32::MAX`, which setuid refuses).
    pub fn ids(&self) -> (u32, u32, Vec<u32>) {
        let id = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        (
            id(self.uid),
            id(self.gid),
            self.additional_gids.iter().map(|g| id(*g)).collect(),
        )
    }
}

/// Parses `/etc/passwd` content. Lines that do not have numeric uid and gid fields are skipped.
pub fn parse_passwd(data: &[u8]) -> Vec<PasswdEntry> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        let (Some(name), Some(uid), Some(gid)) = (f.first(), f.get(2), f.get(3)) else {
            continue;
        };
        let (Ok(uid), Ok(gid)) = (uid.parse::<u64>(), gid.parse::<u64>()) else {
            continue;
        };
        out.push(PasswdEntry {
            name: name.to_string(),
            uid,
            gid,
            home: f.get(5).unwrap_or(&"").to_string(),
            shell: f.get(6).unwrap_or(&"").to_string(),
        });
    }
    out
}

/// Parses `/etc/group` content. Lines without a numeric gid are skipped.
pub fn parse_group(data: &[u8]) -> Vec<GroupEntry> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        let (Some(name), Some(gid)) = (f.first(), f.get(2)) else {
            continue;
        };
        let Ok(gid) = gid.parse::<u64>() else {
            continue;
        };
        let members = f
            .get(3)
            .map(|m| {
                m.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        out.push(GroupEntry {
            name: name.to_string(),
            gid,
            members,
        });
    }
    out
}

fn split_spec(spec: &str) -> Result<(&str, Option<&str>), UserError> {
    let spec = spec.trim();
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() && group.is_none_or(str::is_empty) {
        return Err(UserError::Invalid(spec.to_string()));
    }
    Ok((user, group))
}

fn numeric(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Resolves a `--chown` value to numeric `(uid, gid)` with BuildKit's rules (see the module docs).
/// `passwd`/`group` are the files' contents in the destination image, `None` when absent.
pub fn resolve_chown(
    spec: &str,
    passwd: Option<&[u8]>,
    group: Option<&[u8]>,
) -> Result<(u64, u64), UserError> {
    let (user, grp) = split_spec(spec)?;
    let (mut uid, mut gid) = (0, 0);
    if !user.is_empty() {
        match numeric(user) {
            Some(n) => (uid, gid) = (n, n),
            None => {
                let entries = passwd.map(parse_passwd).unwrap_or_default();
                let e = entries
                    .iter()
                    .find(|e| e.name == user)
                    .ok_or_else(|| UserError::ChownUnknownUser(user.to_string()))?;
                (uid, gid) = (e.uid, e.gid);
            }
        }
    }
    if let Some(g) = grp.filter(|g| !g.is_empty()) {
        gid = match numeric(g) {
            Some(n) => n,
            None => {
                let entries = group.map(parse_group).unwrap_or_default();
                entries
                    .iter()
                    .find(|e| e.name == g)
                    .ok_or_else(|| UserError::ChownUnknownGroup(g.to_string()))?
                    .gid
            }
        };
    }
    Ok((uid, gid))
}

/// Resolves a `USER` value for running a process, with runc's rules (see the module docs).
pub fn resolve_exec_user(
    spec: &str,
    passwd: Option<&[u8]>,
    group: Option<&[u8]>,
) -> Result<ExecUser, UserError> {
    let (user, grp) = split_spec(spec)?;
    let users = passwd.map(parse_passwd).unwrap_or_default();
    let groups = group.map(parse_group).unwrap_or_default();
    let mut out = ExecUser {
        uid: 0,
        gid: 0,
        additional_gids: Vec::new(),
        home: "/".to_string(),
    };
    let user_num = numeric(user);
    let found = if user.is_empty() {
        users.iter().find(|e| e.uid == 0)
    } else {
        match user_num {
            Some(n) => users.iter().find(|e| e.uid == n),
            None => users.iter().find(|e| e.name == user),
        }
    };
    let matched_name = match found {
        Some(e) => {
            out.uid = e.uid;
            out.gid = e.gid;
            if !e.home.is_empty() {
                out.home = e.home.clone();
            }
            Some(e.name.clone())
        }
        None => {
            match user_num {
                Some(n) => out.uid = n,
                None if user.is_empty() => {}
                None => return Err(UserError::UnknownUser(user.to_string())),
            }
            None
        }
    };
    match grp.filter(|g| !g.is_empty()) {
        Some(g) => {
            let g_num = numeric(g);
            let hit = groups.iter().find(|e| match g_num {
                Some(n) => e.gid == n,
                None => e.name == g,
            });
            out.gid = match (hit, g_num) {
                (Some(e), _) => e.gid,
                (None, Some(n)) => n,
                (None, None) => return Err(UserError::UnknownGroup(g.to_string())),
            };
        }
        None => {
            if let Some(name) = matched_name {
                out.additional_gids = groups
                    .iter()
                    .filter(|e| e.members.contains(&name))
                    .map(|e| e.gid)
                    .collect();
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
app:x:1000:1001:App:/home/app:/bin/bash\n\
# a comment\n\
broken line\n\
svc:x:999:999::/var/lib/svc:/bin/false\n";
    const GROUP: &[u8] =
        b"root:x:0:\nwheel:x:10:app,svc\napp:x:1001:\ndocker:x:2000:app\nsvc:x:999:\n";

    #[test]
    fn parses_passwd_and_group() {
        let u = parse_passwd(PASSWD);
        assert_eq!(u.len(), 4, "the comment and the broken line are skipped");
        assert_eq!(
            u[2],
            PasswdEntry {
                name: "app".into(),
                uid: 1000,
                gid: 1001,
                home: "/home/app".into(),
                shell: "/bin/bash".into()
            }
        );
        let g = parse_group(GROUP);
        assert_eq!(g[1].members, ["app", "svc"]);
    }

    #[test]
    fn chown_numeric_user_uses_same_gid() {
        assert_eq!(
            resolve_chown("1000", Some(PASSWD), Some(GROUP)),
            Ok((1000, 1000)),
            "BuildKit: N means N:N"
        );
        assert_eq!(resolve_chown("1234", None, None), Ok((1234, 1234)));
        assert_eq!(resolve_chown("1000:50", None, None), Ok((1000, 50)));
    }

    #[test]
    fn chown_names() {
        assert_eq!(
            resolve_chown("app", Some(PASSWD), Some(GROUP)),
            Ok((1000, 1001)),
            "primary gid from passwd"
        );
        assert_eq!(
            resolve_chown("app:docker", Some(PASSWD), Some(GROUP)),
            Ok((1000, 2000))
        );
        assert_eq!(
            resolve_chown("app:7", Some(PASSWD), Some(GROUP)),
            Ok((1000, 7))
        );
        assert_eq!(
            resolve_chown("42:wheel", Some(PASSWD), Some(GROUP)),
            Ok((42, 10))
        );
        assert_eq!(
            resolve_chown(":wheel", Some(PASSWD), Some(GROUP)),
            Ok((0, 10))
        );
    }

    #[test]
    fn chown_unknown_names_are_errors() {
        let e = resolve_chown("nobody", Some(PASSWD), Some(GROUP)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unable to convert uid/gid chown string to host mapping: can't find uid for user nobody"
        );
        assert_eq!(
            resolve_chown("app", None, None),
            Err(UserError::ChownUnknownUser("app".into())),
            "no /etc/passwd"
        );
        assert_eq!(
            resolve_chown("app:nogroup", Some(PASSWD), Some(GROUP)),
            Err(UserError::ChownUnknownGroup("nogroup".into()))
        );
        assert!(matches!(
            resolve_chown("", None, None),
            Err(UserError::Invalid(_))
        ));
    }

    #[test]
    fn exec_user_by_name_with_supplementary_groups() {
        let u = resolve_exec_user("app", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 1001));
        assert_eq!(u.additional_gids, [10, 2000]);
        assert_eq!(u.home, "/home/app");
    }

    #[test]
    fn exec_user_numeric() {
        let u = resolve_exec_user("1000", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!(
            (u.uid, u.gid),
            (1000, 1001),
            "a numeric uid with a passwd entry takes its gid"
        );
        let u = resolve_exec_user("4242", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.home.as_str()),
            (4242, 0, "/"),
            "unknown numeric uid: gid 0"
        );
        assert!(u.additional_gids.is_empty());
        let u = resolve_exec_user("4242:4343", None, None).unwrap();
        assert_eq!((u.uid, u.gid), (4242, 4343));
    }

    #[test]
    fn exec_user_explicit_group_drops_supplementary() {
        let u = resolve_exec_user("app:wheel", Some(PASSWD), Some(GROUP)).unwrap();
        assert_eq!((u.uid, u.gid), (1000, 10));
        assert!(u.additional_gids.is_empty());
    }

    #[test]
    fn exec_user_errors() {
        assert_eq!(
            resolve_exec_user("ghost", Some(PASSWD), Some(GROUP)),
            Err(UserError::UnknownUser("ghost".into()))
        );
        assert_eq!(
            resolve_exec_user("app:ghosts", Some(PASSWD), Some(GROUP))
                .unwrap_err()
                .to_string(),
            "unable to find group ghosts: no matching entries in group file"
        );
        assert_eq!(
            resolve_exec_user("root", None, None),
            Err(UserError::UnknownUser("root".into()))
        );
    }
}
