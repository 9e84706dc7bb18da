//! Parsers of the package relation fields: Depends/Pre-Depends (an AND list of OR groups),
//! Conflicts/Breaks (an AND list without alternatives) and Provides (names with an optional
//! `= version`).
//!
//! One relation is `name[:archqual] [(op version)] [[arch ...]] [<profile ...> ...]`, with white
//! space (newlines of folded fields included) allowed between the parts. The operators are
//! `<<`, `<=`, `=`, `>=`, `>>` and the obsolete `<` (read as `<=`) and `>` (read as `>=`).
//!
//! Architecture restriction lists (`[amd64 !i386]`) and build profile lists (`<!nocheck>`)
//! belong to source package fields; dpkg-gencontrol removes them from binary packages, so they
//! should never reach a Packages index. They are checked for syntax and then ignored: the
//! relation is kept whatever the architecture, since [`Relation`] has no place for them.
//!
//! As dpkg does, an empty element (`a, , b`, a trailing comma, `a | | b`) is refused; a field of
//! only white space is an empty list.

use crate::model::{Alternatives, Provide, Relation, Version, VersionOp};

/// A relation field that does not parse, with the field text and the byte offset of the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid relation field {field:?} at byte {position}: {why}")]
pub struct RelationError {
    pub field: String,
    /// Byte offset into `field`.
    pub position: usize,
    pub why: String,
}

/// Parses a Depends/Pre-Depends field: a comma-separated list of `|`-separated alternatives.
pub fn parse_depends(field: &str) -> Result<Vec<Alternatives>, RelationError> {
    let mut p = Parser::new(field);
    let mut out = Vec::new();
    if p.at_end() {
        return Ok(out);
    }
    loop {
        let mut alts = Vec::with_capacity(1);
        loop {
            alts.push(p.relation()?);
            if !p.eat(b'|') {
                break;
            }
        }
        out.push(alts);
        if !p.end_or_comma("'|' or ','")? {
            return Ok(out);
        }
    }
}

/// Parses a Conflicts/Breaks field: a comma-separated list of relations; `|` is refused.
pub fn parse_relations(field: &str) -> Result<Vec<Relation>, RelationError> {
    let mut p = Parser::new(field);
    let mut out = Vec::new();
    if p.at_end() {
        return Ok(out);
    }
    loop {
        out.push(p.relation()?);
        if p.peek() == Some(b'|') {
            return Err(p.error("alternatives ('|') are not allowed in this field"));
        }
        if !p.end_or_comma("','")? {
            return Ok(out);
        }
    }
}

/// Parses a Provides field: a comma-separated list of `name [(= version)]`. Other operators,
/// architecture qualifiers and `|` are refused.
pub fn parse_provides(field: &str) -> Result<Vec<Provide>, RelationError> {
    let mut p = Parser::new(field);
    let mut out = Vec::new();
    if p.at_end() {
        return Ok(out);
    }
    loop {
        let start = p.pos;
        let r = p.relation()?;
        if r.arch_qualifier.is_some() {
            return Err(p.error_at(
                start,
                "an architecture qualifier is not allowed in Provides",
            ));
        }
        let version = match r.constraint {
            None => None,
            Some((VersionOp::Eq, v)) => Some(v),
            Some(_) => {
                return Err(p.error_at(start, "only '=' is allowed in Provides"));
            }
        };
        out.push(Provide {
            name: r.name,
            version,
        });
        if p.peek() == Some(b'|') {
            return Err(p.error("alternatives ('|') are not allowed in Provides"));
        }
        if !p.end_or_comma("','")? {
            return Ok(out);
        }
    }
}

/// The operator as written in a relation field.
pub(crate) fn op_str(op: VersionOp) -> &'static str {
    match op {
        VersionOp::Lt => "<<",
        VersionOp::Le => "<=",
        VersionOp::Eq => "=",
        VersionOp::Ge => ">=",
        VersionOp::Gt => ">>",
    }
}

impl std::fmt::Display for Relation {
    /// `name[:archqual] [(op version)]`, which [`parse_relations`] reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if let Some(q) = &self.arch_qualifier {
            write!(f, ":{q}")?;
        }
        if let Some((op, v)) = &self.constraint {
            write!(f, " ({} {v})", op_str(*op))?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Provide {
    /// `name [(= version)]`, which [`parse_provides`] reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if let Some(v) = &self.version {
            write!(f, " (= {v})")?;
        }
        Ok(())
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')
}

fn is_arch_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn is_profile_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        }
    }

    fn error_at(&self, position: usize, why: impl Into<String>) -> RelationError {
        RelationError {
            field: self.text.to_string(),
            position,
            why: why.into(),
        }
    }

    fn error(&self, why: impl Into<String>) -> RelationError {
        self.error_at(self.pos, why)
    }

    fn skip_ws(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    /// The next byte after white space.
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.pos).copied()
    }

    fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// Consumes `b` (after white space) when it is next.
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// After an element: `Ok(true)` when a comma follows, `Ok(false)` at the end of the field.
    fn end_or_comma(&mut self, expected: &str) -> Result<bool, RelationError> {
        match self.peek() {
            None => Ok(false),
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Err(self.error(format!("expected {expected} or the end of the field"))),
        }
    }

    /// Consumes bytes while `pred` holds and returns them.
    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.bytes.get(self.pos).is_some_and(|&b| pred(b)) {
            self.pos += 1;
        }
        // The predicates only accept ASCII, so both ends are character boundaries.
        self.text.get(start..self.pos).unwrap_or_default()
    }

    /// The bytes up to the next white space or one of `stops` (for error messages and versions).
    fn token(&mut self, stops: &[u8]) -> &'a str {
        let start = self.pos;
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| !b.is_ascii_whitespace() && !stops.contains(b))
        {
            self.pos += 1;
        }
        // Stops are ASCII, so both ends are character boundaries.
        self.text.get(start..self.pos).unwrap_or_default()
    }

    fn relation(&mut self) -> Result<Relation, RelationError> {
        self.skip_ws();
        let start = self.pos;
        let name = self.take_while(is_name_byte);
        if name.is_empty() {
            return Err(self.error("expected a package name"));
        }
        if !name.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(self.error_at(
                start,
                format!("package name {name:?} does not start with a letter or digit"),
            ));
        }
        // The qualifier is glued to the name: `perl:any`.
        let arch_qualifier = if self.bytes.get(self.pos) == Some(&b':') {
            self.pos += 1;
            let q = self.take_while(is_arch_byte);
            if q.is_empty() {
                return Err(self.error("expected an architecture name after ':'"));
            }
            Some(q.to_string())
        } else {
            None
        };
        if self
            .bytes
            .get(self.pos)
            .is_some_and(|&b| !b.is_ascii_whitespace() && !b"(,|[<".contains(&b))
        {
            return Err(self.error(format!("unexpected character in package name {name:?}")));
        }
        let constraint = if self.eat(b'(') {
            Some(self.constraint()?)
        } else {
            None
        };
        if self.eat(b'[') {
            self.restriction_list(b']', is_arch_byte, "architecture")?;
        }
        while self.eat(b'<') {
            self.restriction_list(b'>', is_profile_byte, "build profile")?;
        }
        Ok(Relation {
            name: name.to_string(),
            arch_qualifier,
            constraint,
        })
    }

    /// After `(`: `op version )`.
    fn constraint(&mut self) -> Result<(VersionOp, Version), RelationError> {
        self.skip_ws();
        let rest = &self.bytes[self.pos..];
        let (op, len) = match rest {
            [b'<', b'<', ..] => (VersionOp::Lt, 2),
            [b'<', b'=', ..] => (VersionOp::Le, 2),
            [b'>', b'>', ..] => (VersionOp::Gt, 2),
            [b'>', b'=', ..] => (VersionOp::Ge, 2),
            [b'<', ..] => (VersionOp::Le, 1),
            [b'>', ..] => (VersionOp::Ge, 1),
            [b'=', ..] => (VersionOp::Eq, 1),
            _ => return Err(self.error("expected a version operator (<<, <=, =, >=, >>)")),
        };
        self.pos += len;
        self.skip_ws();
        let vstart = self.pos;
        let text = self.token(b"()");
        if text.is_empty() {
            return Err(self.error("expected a version"));
        }
        let version = Version::parse(text).map_err(|e| self.error_at(vstart, e.to_string()))?;
        if !self.eat(b')') {
            return Err(self.error("expected ')' after the version"));
        }
        Ok((op, version))
    }

    /// After `[` or `<`: a non-empty white-space separated list of `[!]word` up to `close`.
    fn restriction_list(
        &mut self,
        close: u8,
        word: fn(u8) -> bool,
        what: &str,
    ) -> Result<(), RelationError> {
        // The position of the opening bracket, just consumed.
        let open = self.pos.saturating_sub(1);
        let mut count = 0usize;
        let mut negated = 0usize;
        loop {
            match self.peek() {
                None => return Err(self.error_at(open, format!("unterminated {what} list"))),
                Some(b) if b == close => {
                    self.pos += 1;
                    break;
                }
                Some(b) => {
                    let neg = b == b'!';
                    if neg {
                        self.pos += 1;
                        negated += 1;
                    }
                    if self.take_while(word).is_empty() {
                        return Err(self.error(format!("expected {what} name")));
                    }
                    if self
                        .bytes
                        .get(self.pos)
                        .is_some_and(|&b| !b.is_ascii_whitespace() && b != close)
                    {
                        return Err(self.error(format!("unexpected character in {what} list")));
                    }
                    count += 1;
                }
            }
        }
        if count == 0 {
            return Err(self.error_at(open, format!("empty {what} list")));
        }
        if close == b']' && negated != 0 && negated != count {
            return Err(self.error_at(
                open,
                "an architecture list mixes negated and plain architectures",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rel(name: &str, q: Option<&str>, c: Option<(VersionOp, &str)>) -> Relation {
        Relation {
            name: name.into(),
            arch_qualifier: q.map(Into::into),
            constraint: c.map(|(op, v)| (op, Version::parse(v).unwrap())),
        }
    }

    #[test]
    fn real_depends() {
        let d = parse_depends(
            "adduser, gpgv | gpgv2 | gpgv1, libapt-pkg6.0 (>= 2.6.1), libc6 (>= 2.34), libstdc++6 (>= 11)",
        )
        .unwrap();
        assert_eq!(d.len(), 5);
        assert_eq!(d[0], [rel("adduser", None, None)]);
        assert_eq!(
            d[1],
            [
                rel("gpgv", None, None),
                rel("gpgv2", None, None),
                rel("gpgv1", None, None)
            ]
        );
        assert_eq!(
            d[2],
            [rel("libapt-pkg6.0", None, Some((VersionOp::Ge, "2.6.1")))]
        );
        assert_eq!(d[4], [rel("libstdc++6", None, Some((VersionOp::Ge, "11")))]);
        // The version keeps its parts, not only the comparison result.
        assert_eq!(d[3][0].constraint.as_ref().unwrap().1.to_string(), "2.34");
    }

    #[test]
    fn edge_cases() {
        assert_eq!(
            parse_depends("libc6 (>= 2.34)").unwrap(),
            [vec![rel("libc6", None, Some((VersionOp::Ge, "2.34")))]]
        );
        assert_eq!(
            parse_depends("awk | mawk").unwrap(),
            [vec![rel("awk", None, None), rel("mawk", None, None)]]
        );
        assert_eq!(
            parse_depends("perl:any").unwrap(),
            [vec![rel("perl", Some("any"), None)]]
        );
        assert_eq!(
            parse_depends("python3:any (>= 3.11~)").unwrap(),
            [vec![rel(
                "python3",
                Some("any"),
                Some((VersionOp::Ge, "3.11~"))
            )]]
        );
        // Architecture restrictions and build profiles are parsed and ignored.
        assert_eq!(
            parse_depends("foo (<< 1.0~) [!amd64]").unwrap(),
            [vec![rel("foo", None, Some((VersionOp::Lt, "1.0~")))]]
        );
        assert_eq!(
            parse_depends("foo [amd64 i386] <!nocheck> <stage1 cross>, bar").unwrap(),
            [vec![rel("foo", None, None)], vec![rel("bar", None, None)]]
        );
        // White space everywhere, newlines of folded fields, obsolete operators.
        assert_eq!(
            parse_depends("  a(<1)|b\n ( > 2:1.0-1 ) ,\n\tc ( = 3 )  ,d(>>4)  ").unwrap(),
            [
                vec![
                    rel("a", None, Some((VersionOp::Le, "1"))),
                    rel("b", None, Some((VersionOp::Ge, "2:1.0-1")))
                ],
                vec![rel("c", None, Some((VersionOp::Eq, "3")))],
                vec![rel("d", None, Some((VersionOp::Gt, "4")))],
            ]
        );
        assert_eq!(parse_depends("").unwrap(), Vec::<Alternatives>::new());
        assert!(parse_depends(" \n ").unwrap().is_empty());
        // Case is kept as given.
        assert_eq!(parse_depends("Foo").unwrap()[0][0].name, "Foo");
    }

    #[test]
    fn errors_name_the_field_and_position() {
        let cases: &[(&str, usize, &str)] = &[
            ("a, , b", 3, "package name"),
            ("a,", 2, "package name"),
            ("a | | b", 4, "package name"),
            ("a (>= )", 6, "version"),
            ("a (~ 1)", 3, "operator"),
            ("a (>= 1", 7, "')'"),
            ("a (>= x1)", 6, "does not start with a digit"),
            ("a b", 2, "expected"),
            ("a [amd64", 2, "unterminated"),
            ("a []", 2, "empty"),
            ("a [amd64 !i386]", 2, "mixes"),
            ("a <>", 2, "empty"),
            ("a:", 2, "architecture"),
            ("-a", 0, "start"),
            ("a_b", 1, "unexpected"),
        ];
        for &(field, pos, why) in cases {
            let e = parse_depends(field).unwrap_err();
            assert_eq!(e.field, field);
            assert_eq!(e.position, pos, "{field:?}: {e}");
            assert!(e.why.contains(why), "{field:?}: {e}");
            assert!(e.to_string().contains(&format!("{field:?}")), "{e}");
        }
    }

    #[test]
    fn relations_and_provides() {
        assert_eq!(
            parse_relations("apt-transport-https (<< 1.5~alpha4~), aptitude (<< 0.8.10)").unwrap(),
            [
                rel(
                    "apt-transport-https",
                    None,
                    Some((VersionOp::Lt, "1.5~alpha4~"))
                ),
                rel("aptitude", None, Some((VersionOp::Lt, "0.8.10")))
            ]
        );
        let e = parse_relations("a | b").unwrap_err();
        assert_eq!(e.position, 2);
        assert!(e.why.contains("alternatives"));

        assert_eq!(
            parse_provides("apt-transport-https (= 2.6.1), mail-transport-agent").unwrap(),
            [
                Provide {
                    name: "apt-transport-https".into(),
                    version: Some(Version::parse("2.6.1").unwrap())
                },
                Provide {
                    name: "mail-transport-agent".into(),
                    version: None
                }
            ]
        );
        assert!(
            parse_provides("a (>= 1)")
                .unwrap_err()
                .why
                .contains("only '='")
        );
        assert!(
            parse_provides("a:any")
                .unwrap_err()
                .why
                .contains("qualifier")
        );
        assert!(parse_provides("a | b").is_err());
    }

    #[test]
    fn display() {
        let r = rel("libc6", Some("amd64"), Some((VersionOp::Lt, "1:2.36-9~")));
        assert_eq!(r.to_string(), "libc6:amd64 (<< 1:2.36-9~)");
        assert_eq!(
            rel("a", None, Some((VersionOp::Le, "1"))).to_string(),
            "a (<= 1)"
        );
        let p = Provide {
            name: "x".into(),
            version: Some(Version::parse("2").unwrap()),
        };
        assert_eq!(p.to_string(), "x (= 2)");
    }

    fn arb_version() -> impl Strategy<Value = Version> {
        (
            0u32..3,
            "[0-9][0-9a-z.+~]{0,6}",
            proptest::option::of("[0-9a-z.+~]{1,4}"),
        )
            .prop_map(|(epoch, up, rev)| {
                let s = match rev {
                    Some(r) => format!("{epoch}:{up}-{r}"),
                    None => format!("{epoch}:{up}"),
                };
                Version::parse(&s).unwrap()
            })
    }

    fn arb_op() -> impl Strategy<Value = VersionOp> {
        prop_oneof![
            Just(VersionOp::Lt),
            Just(VersionOp::Le),
            Just(VersionOp::Eq),
            Just(VersionOp::Ge),
            Just(VersionOp::Gt)
        ]
    }

    fn arb_relation() -> impl Strategy<Value = Relation> {
        (
            "[a-z0-9][a-z0-9+.-]{1,12}",
            proptest::option::of(prop_oneof![
                Just("any".to_string()),
                "[a-z0-9][a-z0-9-]{0,8}"
            ]),
            proptest::option::of((arb_op(), arb_version())),
        )
            .prop_map(|(name, arch_qualifier, constraint)| Relation {
                name,
                arch_qualifier,
                constraint,
            })
    }

    proptest! {
        #[test]
        fn never_panics(s in ".*") {
            let _ = parse_depends(&s);
            let _ = parse_relations(&s);
            let _ = parse_provides(&s);
        }

        #[test]
        fn never_panics_on_relation_like_text(s in "[a-z0-9 ,|()<>=!:\\[\\]~.+\n-]{0,40}") {
            if let Err(e) = parse_depends(&s) {
                prop_assert!(e.position <= s.len());
            }
        }

        #[test]
        fn display_round_trip(deps in proptest::collection::vec(proptest::collection::vec(arb_relation(), 1..4), 0..5)) {
            let text = deps
                .iter()
                .map(|alts| alts.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | "))
                .collect::<Vec<_>>()
                .join(",\n ");
            prop_assert_eq!(parse_depends(&text).unwrap(), deps.clone());
            let flat: Vec<Relation> = deps.into_iter().flatten().collect();
            let text = flat.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            prop_assert_eq!(parse_relations(&text).unwrap(), flat);
        }
    }
}
