//! `RUN --mount=...` specifications, parsed like BuildKit's `commands_runmount.go`.
//!
//! BuildKit parses a mount twice: when the Dockerfile is parsed, only the CSV syntax and the
//! `from=` key (which must not use variables) are checked; when the instruction is dispatched,
//! every value is expanded with the stage's environment and then fully validated. This crate does
//! the first step in [`crate::stages`] (keeping the spec as [`RunMount::Unresolved`]) and the
//! second in [`crate::Command::expand`] (producing [`RunMount::Resolved`]).

use crate::error::ExpandError;
use crate::golang;

/// The kind of a `RUN --mount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MountType {
    /// `type=bind` (the default): a directory of the build context or another stage.
    Bind,
    /// `type=cache`: a persistent cache directory.
    Cache,
    /// `type=tmpfs`.
    Tmpfs,
    /// `type=secret`.
    Secret,
    /// `type=ssh`.
    Ssh,
}

impl MountType {
    /// The name as written in the Dockerfile.
    pub fn as_str(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }
}

/// `sharing=` of a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sharing {
    /// Concurrent builds share the cache (the default).
    Shared,
    /// Concurrent builds get their own copy.
    Private,
    /// Concurrent builds wait for each other.
    Locked,
}

/// A fully parsed `RUN --mount`, as BuildKit's `instructions.Mount`. Empty string values are
/// `None`, since BuildKit treats them as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `type=`.
    pub typ: MountType,
    /// `from=`: a stage name or image.
    pub from: Option<String>,
    /// `source=`/`src=`.
    pub source: Option<String>,
    /// `target=`/`dst=`/`destination=`.
    pub target: Option<String>,
    /// Read-only: explicit `ro`/`rw`, or by default true except for cache and tmpfs mounts.
    pub readonly: bool,
    /// `size=` of a tmpfs mount, in bytes.
    pub size_limit: Option<i64>,
    /// `id=`.
    pub id: Option<String>,
    /// `sharing=` of a cache mount.
    pub sharing: Option<Sharing>,
    /// `required` (secret and ssh mounts).
    pub required: bool,
    /// `env=` of a secret mount (`Some("")` means the default name).
    pub env: Option<String>,
    /// `mode=` (octal).
    pub mode: Option<u32>,
    /// `uid=`.
    pub uid: Option<u32>,
    /// `gid=`.
    pub gid: Option<u32>,
}

/// A mount of a `RUN` instruction: as written (before dispatch) or expanded and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMount {
    /// The `--mount` value as written; its variables are not expanded yet.
    Unresolved(String),
    /// Expanded with the stage environment and validated.
    Resolved(Mount),
}

/// Splits a mount spec into CSV fields like Go's `encoding/csv` (one record).
pub(crate) fn csv_fields(s: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    loop {
        let mut field = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err("extraneous or missing \" in quoted-field".to_owned());
                    }
                    Some('"') => {
                        if chars.get(i + 1) == Some(&'"') {
                            field.push('"');
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(c) => {
                        field.push(*c);
                        i += 1;
                    }
                }
            }
            match chars.get(i) {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => {
                    i += 1;
                    fields.push(field);
                }
                Some(_) => return Err("extraneous or missing \" in quoted-field".to_owned()),
            }
        } else {
            loop {
                match chars.get(i) {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => {
                        i += 1;
                        fields.push(field);
                        break;
                    }
                    Some('"') => return Err("bare \" in non-quoted-field".to_owned()),
                    Some(c) => {
                        field.push(*c);
                        i += 1;
                    }
                }
            }
        }
    }
}

/// The checks BuildKit makes when parsing (no expander): CSV syntax, and no variable in `from=`.
pub(crate) fn check_unexpanded(spec: &str) -> Result<(), String> {
    let fields = csv_fields(spec).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
    for field in fields {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        if key.to_lowercase() == "from"
            && let Some(idx) = value.find('$')
            && idx != value.len() - 1
        {
            return Err(
                "'from' doesn't support variable expansion, define alias stage instead".to_owned(),
            );
        }
    }
    Ok(())
}

/// The values of a mount spec that BuildKit expands (for listing variable references).
pub(crate) fn expandable_values(spec: &str) -> Vec<String> {
    csv_fields(spec)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| f.split_once('=').map(|(_, v)| v.to_owned()))
        .collect()
}

/// BuildKit's `parseMount` with an expander: expands every value and validates the mount.
pub(crate) fn resolve(
    spec: &str,
    expand: &mut dyn FnMut(&str) -> Result<String, ExpandError>,
) -> Result<Mount, ExpandError> {
    let err = |m: String| ExpandError::new(m);
    let fields = csv_fields(spec).map_err(|e| err(format!("failed to parse csv mounts: {e}")))?;
    let mut m = Mount {
        typ: MountType::Bind,
        from: None,
        source: None,
        target: None,
        readonly: false,
        size_limit: None,
        id: None,
        sharing: None,
        required: false,
        env: None,
        mode: None,
        uid: None,
        gid: None,
    };
    let mut ro_auto = true;
    let non_empty = |v: String| if v.is_empty() { None } else { Some(v) };
    for field in &fields {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_lowercase(), v),
            None => {
                let key = field.to_lowercase();
                match key.as_str() {
                    "readonly" | "ro" => {
                        m.readonly = true;
                        ro_auto = false;
                    }
                    "readwrite" | "rw" => {
                        m.readonly = false;
                        ro_auto = false;
                    }
                    "required" => {
                        if matches!(m.typ, MountType::Secret | MountType::Ssh) {
                            m.required = true;
                        } else {
                            return Err(err(format!(
                                "unexpected key '{key}' for mount type '{}'",
                                m.typ.as_str()
                            )));
                        }
                    }
                    _ => {
                        return Err(err(format!(
                            "invalid field '{field}' must be a key=value pair"
                        )));
                    }
                }
                continue;
            }
        };
        let value = expand(value)?;
        let bool_value = |v: &str| {
            golang::parse_bool(v).ok_or_else(|| err(format!("invalid value for {key}: {v}")))
        };
        match key.as_str() {
            "type" => {
                m.typ = match value.to_lowercase().as_str() {
                    "bind" => MountType::Bind,
                    "cache" => MountType::Cache,
                    "tmpfs" => MountType::Tmpfs,
                    "secret" => MountType::Secret,
                    "ssh" => MountType::Ssh,
                    _ => {
                        return Err(err(format!(
                            "unsupported mount type {}",
                            golang::quote(&value)
                        )));
                    }
                };
            }
            "from" => m.from = non_empty(value),
            "source" | "src" => m.source = non_empty(value),
            "target" | "dst" | "destination" => m.target = non_empty(value),
            "readonly" | "ro" => {
                m.readonly = bool_value(&value)?;
                ro_auto = false;
            }
            "readwrite" | "rw" => {
                m.readonly = !bool_value(&value)?;
                ro_auto = false;
            }
            "required" => {
                if matches!(m.typ, MountType::Secret | MountType::Ssh) {
                    m.required = bool_value(&value)?;
                } else {
                    return Err(err(format!(
                        "unexpected key '{key}' for mount type '{}'",
                        m.typ.as_str()
                    )));
                }
            }
            "size" => {
                if m.typ == MountType::Tmpfs {
                    m.size_limit = Some(
                        golang::ram_in_bytes(&value)
                            .ok_or_else(|| err(format!("invalid value for {key}: {value}")))?,
                    );
                } else {
                    return Err(err(format!(
                        "unexpected key '{key}' for mount type '{}'",
                        m.typ.as_str()
                    )));
                }
            }
            "id" => m.id = non_empty(value),
            "sharing" => {
                m.sharing = Some(match value.to_lowercase().as_str() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    _ => {
                        return Err(err(format!(
                            "unsupported sharing value {}",
                            golang::quote(&value)
                        )));
                    }
                });
            }
            "mode" => {
                m.mode = Some(
                    golang::parse_uint32(&value, 8)
                        .ok_or_else(|| err(format!("invalid value {value} for mode")))?,
                );
            }
            "uid" => {
                m.uid = Some(
                    golang::parse_uint32(&value, 10)
                        .ok_or_else(|| err(format!("invalid value {value} for uid")))?,
                );
            }
            "gid" => {
                m.gid = Some(
                    golang::parse_uint32(&value, 10)
                        .ok_or_else(|| err(format!("invalid value {value} for gid")))?,
                );
            }
            "env" => m.env = Some(value),
            _ => {
                return Err(err(format!("unexpected key '{key}' in '{field}'")));
            }
        }
    }
    let file_info_allowed = matches!(m.typ, MountType::Secret | MountType::Ssh | MountType::Cache);
    if !file_info_allowed {
        let t = golang::quote(m.typ.as_str());
        if m.mode.is_some() {
            return Err(err(format!("mode not allowed for {t} type mounts")));
        }
        if m.uid.is_some() {
            return Err(err(format!("uid not allowed for {t} type mounts")));
        }
        if m.gid.is_some() {
            return Err(err(format!("gid not allowed for {t} type mounts")));
        }
    }
    if ro_auto {
        m.readonly = !matches!(m.typ, MountType::Cache | MountType::Tmpfs);
    }
    if m.typ == MountType::Secret {
        if m.from.is_some() {
            return Err(err("secret mount should not have a from".to_owned()));
        }
        if m.sharing.is_some() {
            return Err(err("secret mount should not define sharing".to_owned()));
        }
        if m.source.is_none() && m.target.is_none() && m.id.is_none() {
            return Err(err(
                "invalid secret mount. one of source, target required".to_owned()
            ));
        }
        if m.source.is_some() && m.id.is_some() {
            return Err(err("both source and id can't be set".to_owned()));
        }
    }
    if m.sharing.is_some() && m.typ != MountType::Cache {
        return Err(err(format!(
            "invalid cache sharing set for {} mount",
            m.typ.as_str()
        )));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(spec: &str) -> Result<Mount, String> {
        resolve(spec, &mut |v: &str| Ok(v.to_owned())).map_err(|e| e.message)
    }

    #[test]
    fn csv_like_go() {
        assert_eq!(
            csv_fields(r#"type=bind,"source=a,b",target=/x"#),
            Ok(vec![
                "type=bind".to_owned(),
                "source=a,b".to_owned(),
                "target=/x".to_owned()
            ])
        );
        assert_eq!(csv_fields(""), Ok(vec![String::new()]));
        assert!(csv_fields(r#"a"b"#).is_err());
        assert!(csv_fields(r#""ab"c"#).is_err());
        assert_eq!(csv_fields(r#""a""b""#), Ok(vec!["a\"b".to_owned()]));
    }

    #[test]
    fn mounts_like_buildkit() {
        let m = lit("type=cache,target=/root/.cache,sharing=locked,id=x,uid=1000,mode=0755");
        let m = m.expect("valid cache mount");
        assert_eq!(m.typ, MountType::Cache);
        assert!(!m.readonly);
        assert_eq!(m.sharing, Some(Sharing::Locked));
        assert_eq!(m.mode, Some(0o755));
        let m = lit("target=/src").expect("bind");
        assert!(m.readonly);
        assert_eq!(
            lit("type=bind,foo=bar").err().as_deref(),
            Some("unexpected key 'foo' in 'foo=bar'")
        );
        assert_eq!(
            lit("type=bind,uid=1").err().as_deref(),
            Some("uid not allowed for \"bind\" type mounts")
        );
        assert_eq!(
            lit("type=secret").err().as_deref(),
            Some("invalid secret mount. one of source, target required")
        );
        assert!(lit("type=secret,id=x,required").expect("secret").required);
        assert_eq!(
            lit("required").err().as_deref(),
            Some("unexpected key 'required' for mount type 'bind'")
        );
        assert_eq!(
            lit("type=tmpfs,size=64m").expect("tmpfs").size_limit,
            Some(64 << 20)
        );
        assert_eq!(
            check_unexpanded("type=bind,from=$X"),
            Err("'from' doesn't support variable expansion, define alias stage instead".to_owned())
        );
        assert_eq!(check_unexpanded("type=bind,from=a$"), Ok(()));
    }
}
