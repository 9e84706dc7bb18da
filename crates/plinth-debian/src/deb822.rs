//! A zero-copy parser of deb822 control text: Packages and Release indexes, the body of an
//! InRelease file (after the caller strips the signature), the dpkg status file and the
//! `control` file of a .deb.
//!
//! The text is a list of paragraphs separated by blank lines (a line of only white space is
//! blank). A paragraph is a list of fields `Name: value`; a line starting with a space or a tab
//! continues the value of the field above it. Lines starting with `#` are comments and are
//! skipped (Packages files have none, but the deb822 format allows them elsewhere); a comment
//! ends the field above it, as in dpkg, so a continuation line right after a comment is an
//! error. Field names are compared case-insensitively.
//!
//! Nothing is copied: [`Paragraph`] and [`Field`] borrow from the text, and the only allocation
//! per paragraph is the vector of its fields. [`Field::folded`] allocates only for multi-line
//! values.

use std::borrow::Cow;

/// What is wrong with a line of deb822 text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Deb822ErrorKind {
    #[error("line {text:?} is neither a field (`Name: value`), a continuation line nor a comment")]
    MissingColon { text: String },
    #[error("continuation line {text:?} comes before any field of the paragraph")]
    ContinuationBeforeField { text: String },
    #[error("continuation line {text:?} follows a comment line, which ends the field above it")]
    ContinuationAfterComment { text: String },
    #[error("the field name is empty")]
    EmptyFieldName,
    #[error("the field name {name:?} has a character outside printable ASCII or starts with '-'")]
    BadFieldName { name: String },
    #[error("field {name:?} appears twice in the paragraph (first at line {first_line})")]
    DuplicateField { name: String, first_line: usize },
    #[error("the text is not valid UTF-8")]
    NotUtf8,
}

/// An error in deb822 text, with the 1-based line number where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deb822 line {line}: {kind}")]
pub struct Deb822Error {
    pub line: usize,
    pub kind: Deb822ErrorKind,
}

/// One field of a paragraph, borrowed from the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    name: &'a str,
    /// Everything after the colon up to the end of the last continuation line (without the final
    /// newline), untrimmed.
    raw: &'a str,
    line: usize,
}

/// One paragraph (stanza) of deb822 text, borrowed from the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paragraph<'a> {
    line: usize,
    raw: &'a str,
    fields: Vec<Field<'a>>,
}

/// The iterator returned by [`paragraphs`]. It stops after the first error.
#[derive(Debug, Clone)]
pub struct Paragraphs<'a> {
    text: &'a str,
    /// Byte offset of the next line to read.
    pos: usize,
    /// 1-based number of the line at `pos`.
    line: usize,
    done: bool,
}

/// Iterates over the paragraphs of deb822 `text`.
///
/// ```
/// let text = "Package: dash\nVersion: 0.5.12-2\n\nPackage: apt\nDescription: package manager\n more\n";
/// let ps: Vec<_> = plinth_debian::deb822::paragraphs(text).collect::<Result<_, _>>().unwrap();
/// assert_eq!(ps.len(), 2);
/// assert_eq!(ps[1].line(), 4);
/// assert_eq!(ps[0].get("version"), Some("0.5.12-2"));
/// assert_eq!(ps[1].field("Description").unwrap().folded(), "package manager\nmore");
/// ```
pub fn paragraphs(text: &str) -> Paragraphs<'_> {
    Paragraphs {
        text,
        pos: 0,
        line: 1,
        done: false,
    }
}

/// Checks that `bytes` is UTF-8 and returns it as text, or the line of the first invalid byte.
/// Debian indexes are UTF-8; this lets callers holding bytes use [`paragraphs`].
pub fn text_from_bytes(bytes: &[u8]) -> Result<&str, Deb822Error> {
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
        Deb822Error {
            line: 1 + valid.iter().filter(|&&b| b == b'\n').count(),
            kind: Deb822ErrorKind::NotUtf8,
        }
    })
}

fn is_blank(line: &str) -> bool {
    line.bytes().all(|b| b.is_ascii_whitespace())
}

/// A short copy of a line for an error message.
fn excerpt(line: &str) -> String {
    const MAX: usize = 80;
    let line = line.trim_end_matches(['\r', '\n']);
    if line.len() <= MAX {
        return line.to_string();
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &line[..end])
}

impl<'a> Paragraphs<'a> {
    /// The next line (without its `\n`) and the offset just past it, or `None` at the end.
    fn peek_line(&self) -> Option<(&'a str, usize)> {
        let rest = self.text.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        match rest.find('\n') {
            Some(i) => Some((&rest[..i], self.pos + i + 1)),
            None => Some((rest, self.text.len())),
        }
    }

    fn fail(
        &mut self,
        line: usize,
        kind: Deb822ErrorKind,
    ) -> Option<Result<Paragraph<'a>, Deb822Error>> {
        self.done = true;
        Some(Err(Deb822Error { line, kind }))
    }
}

impl<'a> Iterator for Paragraphs<'a> {
    type Item = Result<Paragraph<'a>, Deb822Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // Skip blank lines and comments between paragraphs.
        loop {
            let Some((line, next)) = self.peek_line() else {
                self.done = true;
                return None;
            };
            if is_blank(line) || line.starts_with('#') {
                self.pos = next;
                self.line += 1;
            } else {
                break;
            }
        }
        let start = self.pos;
        let start_line = self.line;
        let mut end = start;
        let mut fields: Vec<Field<'a>> = Vec::with_capacity(16);
        // Whether the previous line was a comment (which ends the field above it).
        let mut after_comment = false;
        // Byte offset where the value of the last field starts.
        let mut value_start = 0;
        while let Some((line, next)) = self.peek_line() {
            if is_blank(line) {
                break;
            }
            let lineno = self.line;
            let line_end = self.pos + line.len();
            let first = line.as_bytes().first().copied();
            if first == Some(b'#') {
                after_comment = true;
            } else if first == Some(b' ') || first == Some(b'\t') {
                if after_comment {
                    return self.fail(
                        lineno,
                        Deb822ErrorKind::ContinuationAfterComment {
                            text: excerpt(line),
                        },
                    );
                }
                let Some(field) = fields.last_mut() else {
                    return self.fail(
                        lineno,
                        Deb822ErrorKind::ContinuationBeforeField {
                            text: excerpt(line),
                        },
                    );
                };
                field.raw = &self.text[value_start..line_end];
            } else {
                after_comment = false;
                let Some(colon) = line.find(':') else {
                    return self.fail(
                        lineno,
                        Deb822ErrorKind::MissingColon {
                            text: excerpt(line),
                        },
                    );
                };
                let name = &line[..colon];
                if name.is_empty() {
                    return self.fail(lineno, Deb822ErrorKind::EmptyFieldName);
                }
                if name.starts_with('-') || !name.bytes().all(|b| b.is_ascii_graphic()) {
                    return self.fail(
                        lineno,
                        Deb822ErrorKind::BadFieldName {
                            name: excerpt(name),
                        },
                    );
                }
                if let Some(dup) = fields.iter().find(|f| f.name.eq_ignore_ascii_case(name)) {
                    let first_line = dup.line;
                    return self.fail(
                        lineno,
                        Deb822ErrorKind::DuplicateField {
                            name: name.to_string(),
                            first_line,
                        },
                    );
                }
                value_start = self.pos + colon + 1;
                fields.push(Field {
                    name,
                    raw: &self.text[value_start..line_end],
                    line: lineno,
                });
            }
            end = line_end;
            self.pos = next;
            self.line += 1;
        }
        Some(Ok(Paragraph {
            line: start_line,
            raw: &self.text[start..end],
            fields,
        }))
    }
}

impl std::iter::FusedIterator for Paragraphs<'_> {}

impl<'a> Paragraph<'a> {
    /// The 1-based line number where the paragraph starts.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The text of the paragraph, from its first field to the end of its last line (comments
    /// inside it included).
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The fields in the order of the text.
    pub fn fields(&self) -> &[Field<'a>] {
        &self.fields
    }

    /// The field called `name` (compared case-insensitively).
    pub fn field(&self, name: &str) -> Option<&Field<'a>> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The trimmed value of the field called `name` (see [`Field::value`]).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.field(name).map(Field::value)
    }

    /// The folded value of the field called `name` (see [`Field::folded`]).
    pub fn get_folded(&self, name: &str) -> Option<Cow<'a, str>> {
        self.field(name).map(Field::folded)
    }
}

impl<'a> Field<'a> {
    /// The field name as written.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The 1-based line number of the field's first line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The value with surrounding white space trimmed. Continuation lines are kept as written,
    /// newlines and leading spaces included: this suits fields where line breaks are only white
    /// space (Depends and the other relation fields).
    pub fn value(&self) -> &'a str {
        self.raw.trim()
    }

    /// The value's first line (the text after the colon), trimmed. Empty for multi-line fields
    /// such as `SHA256` of a Release file.
    pub fn first_line(&self) -> &'a str {
        match self.raw.find('\n') {
            Some(i) => self.raw[..i].trim(),
            None => self.raw.trim(),
        }
    }

    /// The continuation lines, each without its first character (the space or tab that marks
    /// it) and without trailing white space; a line ` .` gives an empty line.
    pub fn continuation_lines(&self) -> impl Iterator<Item = &'a str> + 'a {
        let rest = match self.raw.find('\n') {
            Some(i) => &self.raw[i + 1..],
            None => "",
        };
        let lines = (!rest.is_empty()).then_some(rest).into_iter();
        lines.flat_map(|r| r.split('\n')).map(|l| {
            // Every continuation line starts with one ASCII space or tab.
            let l = l.get(1..).unwrap_or_default().trim_end();
            if l == "." { "" } else { l }
        })
    }

    /// The folded value: the first line (when not empty) followed by the continuation lines
    /// (see [`Field::continuation_lines`]), joined with `\n`. Borrowed for one-line values.
    pub fn folded(&self) -> Cow<'a, str> {
        if !self.raw.contains('\n') {
            return Cow::Borrowed(self.raw.trim());
        }
        let mut out = String::with_capacity(self.raw.len());
        let first = self.first_line();
        let mut started = !first.is_empty();
        out.push_str(first);
        for l in self.continuation_lines() {
            if started {
                out.push('\n');
            }
            started = true;
            out.push_str(l);
        }
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<Paragraph<'_>> {
        paragraphs(text).collect::<Result<_, _>>().unwrap()
    }

    fn err(text: &str) -> Deb822Error {
        paragraphs(text).find_map(Result::err).expect("an error")
    }

    // From `apt-cache show apt` on Debian 12.
    const APT: &str = "Package: apt
Version: 2.6.1
Installed-Size: 4232
Maintainer: APT Development Team <deity@lists.debian.org>
Architecture: amd64
Replaces: apt-transport-https (<< 1.5~alpha4~), apt-utils (<< 1.3~exp2~)
Provides: apt-transport-https (= 2.6.1)
Depends: adduser, gpgv | gpgv2 | gpgv1, libapt-pkg6.0 (>= 2.6.1), debian-archive-keyring, libc6 (>= 2.34), libgcc-s1 (>= 3.0), libgnutls30 (>= 3.7.5), libseccomp2 (>= 2.4.2), libstdc++6 (>= 11), libsystemd0
Description: commandline package manager
Description-md5: 9fb97a88cb7383934ef963352b53b4a7
Tag: admin::package-management, devel::lang:ruby, hardware::storage,
 hardware::storage:cd, implemented-in::c++, implemented-in::perl,
 implemented-in::ruby, interface::commandline, network::client
Section: admin
Priority: required
Filename: pool/main/a/apt/apt_2.6.1_amd64.deb
Size: 1372852
MD5sum: 2a077296b9b9f4f8b027f86d9500192b
SHA256: 6ea03cbbc7a7bfcee601c9fb08d4e026fd522ede5350561f06867ad9c0a0fa6b
";

    #[test]
    fn fields_in_order_and_case_insensitive() {
        let text = format!("{APT}\nPackage: dash\nessential: yes\n");
        let ps = all(&text);
        assert_eq!(ps.len(), 2);
        let apt = &ps[0];
        assert_eq!(apt.line(), 1);
        assert_eq!(apt.fields().len(), 17);
        assert_eq!(apt.fields()[0].name(), "Package");
        assert_eq!(apt.fields()[16].name(), "SHA256");
        assert_eq!(apt.get("PACKAGE"), Some("apt"));
        assert_eq!(apt.get("installed-size"), Some("4232"));
        assert_eq!(apt.field("Size").map(Field::line), Some(17));
        assert_eq!(apt.get("Essential"), None);
        assert!(apt.raw().starts_with("Package: apt\n"));
        assert!(apt.raw().ends_with("0fa6b"));
        let tag = apt.field("tag").unwrap();
        assert_eq!(
            tag.first_line(),
            "admin::package-management, devel::lang:ruby, hardware::storage,"
        );
        assert_eq!(
            tag.continuation_lines().collect::<Vec<_>>(),
            [
                "hardware::storage:cd, implemented-in::c++, implemented-in::perl,",
                "implemented-in::ruby, interface::commandline, network::client"
            ]
        );
        let dash = &ps[1];
        assert_eq!(dash.line(), 21);
        assert_eq!(dash.get("Essential"), Some("yes"));
        assert_eq!(dash.field("essential").unwrap().name(), "essential");
    }

    #[test]
    fn folding() {
        let text = "Description: short\n line one\n .\n   indented\t \nSHA256:\n aa 1 x\n bb 2 y\nEmpty:\nOne:   value  \n";
        let p = &all(text)[0];
        assert_eq!(
            p.get_folded("description").unwrap(),
            "short\nline one\n\n  indented"
        );
        assert_eq!(p.get_folded("SHA256").unwrap(), "aa 1 x\nbb 2 y");
        assert_eq!(p.get("SHA256"), Some("aa 1 x\n bb 2 y"));
        assert_eq!(p.get("Empty"), Some(""));
        assert_eq!(p.get_folded("Empty").unwrap(), "");
        assert!(matches!(p.get_folded("One"), Some(Cow::Borrowed("value"))));
        assert_eq!(p.field("SHA256").unwrap().first_line(), "");
        // A first continuation line " ." after an empty first line.
        assert_eq!(all("X:\n .\n a\n")[0].get_folded("x").unwrap(), "\na");
    }

    #[test]
    fn blank_lines_comments_and_crlf() {
        let text = "\n  \n# leading comment\nA: 1\n# inside\nB: 2\n \t \n\n\n#x\nC: 3\r\n D\r\n";
        let ps = all(text);
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].line(), 4);
        assert_eq!(ps[0].fields().len(), 2);
        assert_eq!(ps[0].get("b"), Some("2"));
        assert_eq!(ps[1].line(), 11);
        assert_eq!(ps[1].get_folded("c").unwrap(), "3\nD");
        assert!(all("").is_empty());
        assert!(all("\n\n  \n#only a comment").is_empty());
        // No final newline.
        assert_eq!(all("A: 1\n b")[0].get_folded("A").unwrap(), "1\nb");
    }

    #[test]
    fn errors_carry_line_numbers() {
        let e = err("A: 1\n\nB: 2\nnot a field\n");
        assert_eq!(e.line, 4);
        assert!(matches!(&e.kind, Deb822ErrorKind::MissingColon { text } if text == "not a field"));
        assert!(e.to_string().contains("line 4"), "{e}");

        let e = err("\n continued\n");
        assert_eq!(
            (e.line, e.kind.clone()),
            (
                2,
                Deb822ErrorKind::ContinuationBeforeField {
                    text: " continued".into()
                }
            )
        );

        let e = err("Package: a\nVersion: 1\npackage: b\n");
        assert_eq!(e.line, 3);
        assert_eq!(
            e.kind,
            Deb822ErrorKind::DuplicateField {
                name: "package".into(),
                first_line: 1
            }
        );
        assert!(e.to_string().contains("first at line 1"), "{e}");

        assert_eq!(err("A: 1\n: x\n").kind, Deb822ErrorKind::EmptyFieldName);
        assert_eq!(err("A: 1\n# c\n more\n").line, 3);
        assert!(matches!(
            err("-----BEGIN PGP: x\n").kind,
            Deb822ErrorKind::BadFieldName { .. }
        ));
        assert!(matches!(
            err("Bad Name: x\n").kind,
            Deb822ErrorKind::BadFieldName { .. }
        ));
    }

    #[test]
    fn stops_after_an_error() {
        let mut it = paragraphs("A: 1\n\nbad\n\nB: 2\n");
        assert!(it.next().unwrap().is_ok());
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn bytes() {
        assert_eq!(text_from_bytes(b"A: 1\n").unwrap(), "A: 1\n");
        let e = text_from_bytes(b"A: 1\nB: \xff\n").unwrap_err();
        assert_eq!((e.line, e.kind), (2, Deb822ErrorKind::NotUtf8));
    }

    #[test]
    fn long_lines_are_shortened_in_errors() {
        let line = "é".repeat(100);
        let e = err(&line);
        let Deb822ErrorKind::MissingColon { text } = e.kind else {
            panic!("wrong kind")
        };
        assert!(text.len() < 100 && text.ends_with("..."), "{text}");
    }
}
