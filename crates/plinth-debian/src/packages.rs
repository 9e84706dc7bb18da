//! Builds [`Package`] records from a Packages index, from a .deb `control` file or from any
//! deb822 paragraph describing a binary package (a dpkg status entry, for instance).
//!
//! A Packages record must have Package, Version, Architecture, Filename, Size and SHA256; a
//! control file has no Filename/Size/SHA256 (they describe the .deb itself), so
//! [`RecordKind::Control`] leaves them empty/zero unless present. Any field plinth reads that is
//! present but malformed (a relation that does not parse, an unknown Multi-Arch value, a size
//! that is not a number) is an error rather than a silent guess, since the resolver relies on
//! them. Fields plinth does not use (Description, Maintainer, Recommends...) are not checked.

use crate::deb822::{self, Deb822Error, Field, Paragraph};
use crate::model::{MultiArch, Package, Priority, Version};
use crate::relation::{RelationError, parse_depends, parse_provides, parse_relations};

/// Why a record was refused. `package` is the Package field, or `<unnamed>` when missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackagesError {
    #[error(transparent)]
    Syntax(#[from] Deb822Error),
    #[error("package {package} (paragraph at line {line}) has no {field} field")]
    Missing {
        package: String,
        line: usize,
        field: &'static str,
    },
    #[error("package {package}, line {line}: invalid {field} {value:?}: {why}")]
    Invalid {
        package: String,
        line: usize,
        field: &'static str,
        value: String,
        why: String,
    },
    #[error("the control text has no paragraph")]
    Empty,
    #[error("the control text has a second paragraph at line {line}; it must have one")]
    ExtraParagraph { line: usize },
}

/// What kind of record a paragraph is, which decides the required fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// A Packages index entry: Filename, Size and SHA256 are required.
    Index,
    /// A .deb control file or a dpkg status entry: Filename, Size and SHA256 are optional.
    Control,
}

/// Parses a whole Packages index. `origin` is stored in every record (see [`Package::origin`]).
pub fn parse_packages(text: &str, origin: usize) -> Result<Vec<Package>, PackagesError> {
    // A Debian Packages index averages about 700 bytes per record.
    let mut out = Vec::with_capacity(text.len() / 1024);
    for p in deb822::paragraphs(text) {
        out.push(package_from_paragraph(&p?, RecordKind::Index, origin)?);
    }
    Ok(out)
}

/// Parses the `control` file of a .deb (exactly one paragraph). Filename, Size and SHA256 are
/// empty/zero unless present; `origin` is 0.
pub fn parse_control(text: &str) -> Result<Package, PackagesError> {
    let mut paras = deb822::paragraphs(text);
    let p = paras.next().ok_or(PackagesError::Empty)??;
    if let Some(next) = paras.next() {
        return Err(PackagesError::ExtraParagraph { line: next?.line() });
    }
    package_from_paragraph(&p, RecordKind::Control, 0)
}

#[derive(Clone, Copy)]
enum Key {
    Package,
    Version,
    Architecture,
    MultiArch,
    Essential,
    Priority,
    Section,
    Source,
    PreDepends,
    Depends,
    Provides,
    Conflicts,
    Breaks,
    Filename,
    Size,
    Sha256,
    InstalledSize,
}

const KEYS: [(&str, Key); 17] = [
    ("Package", Key::Package),
    ("Version", Key::Version),
    ("Architecture", Key::Architecture),
    ("Multi-Arch", Key::MultiArch),
    ("Essential", Key::Essential),
    ("Priority", Key::Priority),
    ("Section", Key::Section),
    ("Source", Key::Source),
    ("Pre-Depends", Key::PreDepends),
    ("Depends", Key::Depends),
    ("Provides", Key::Provides),
    ("Conflicts", Key::Conflicts),
    ("Breaks", Key::Breaks),
    ("Filename", Key::Filename),
    ("Size", Key::Size),
    ("SHA256", Key::Sha256),
    ("Installed-Size", Key::InstalledSize),
];

fn key_of(name: &str) -> Option<Key> {
    KEYS.iter()
        .find(|(k, _)| k.len() == name.len() && k.eq_ignore_ascii_case(name))
        .map(|&(_, key)| key)
}

/// The fields of one record plinth reads, looked up in one pass.
struct Fields<'p, 'a> {
    slots: [Option<&'p Field<'a>>; KEYS.len()],
    package: &'a str,
    line: usize,
}

impl<'p, 'a> Fields<'p, 'a> {
    fn get(&self, key: Key) -> Option<&'p Field<'a>> {
        self.slots[key as usize]
    }

    fn package(&self) -> String {
        if self.package.is_empty() {
            "<unnamed>".to_string()
        } else {
            self.package.to_string()
        }
    }

    fn missing(&self, key: Key) -> PackagesError {
        PackagesError::Missing {
            package: self.package(),
            line: self.line,
            field: KEYS[key as usize].0,
        }
    }

    fn invalid(&self, key: Key, f: &Field<'_>, why: impl Into<String>) -> PackagesError {
        PackagesError::Invalid {
            package: self.package(),
            line: f.line(),
            field: KEYS[key as usize].0,
            value: f.value().to_string(),
            why: why.into(),
        }
    }

    fn required(&self, key: Key) -> Result<&'p Field<'a>, PackagesError> {
        match self.get(key) {
            Some(f) if !f.value().is_empty() => Ok(f),
            _ => Err(self.missing(key)),
        }
    }

    /// Parses a field with `parse` when present.
    fn optional<T>(
        &self,
        key: Key,
        parse: impl Fn(&'a str) -> Result<T, String>,
    ) -> Result<Option<T>, PackagesError> {
        match self.get(key) {
            None => Ok(None),
            Some(f) => parse(f.value())
                .map(Some)
                .map_err(|why| self.invalid(key, f, why)),
        }
    }

    fn relations<T>(
        &self,
        key: Key,
        parse: fn(&str) -> Result<Vec<T>, RelationError>,
    ) -> Result<Vec<T>, PackagesError> {
        let Some(f) = self.get(key) else {
            return Ok(Vec::new());
        };
        parse(f.value())
            .map_err(|e| self.invalid(key, f, format!("at byte {}: {}", e.position, e.why)))
    }
}

fn parse_u64(s: &str) -> Result<u64, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a decimal number".into());
    }
    s.parse().map_err(|_| "the number is too large".into())
}

fn parse_sha256(s: &str) -> Result<String, String> {
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("not 64 hexadecimal digits".into());
    }
    Ok(s.to_ascii_lowercase())
}

fn check_name(s: &str) -> Result<(), String> {
    let ok = s.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(
            "a package name is a letter or digit followed by letters, digits, '+', '.' and '-'"
                .into(),
        )
    }
}

/// Builds a [`Package`] from one deb822 paragraph.
pub fn package_from_paragraph(
    p: &Paragraph<'_>,
    kind: RecordKind,
    origin: usize,
) -> Result<Package, PackagesError> {
    let mut fields = Fields {
        slots: [None; KEYS.len()],
        package: "",
        line: p.line(),
    };
    for f in p.fields() {
        if let Some(key) = key_of(f.name()) {
            fields.slots[key as usize] = Some(f);
        }
    }
    if let Some(f) = fields.get(Key::Package) {
        fields.package = f.value();
    }
    let f = fields.required(Key::Package)?;
    let name = f.value();
    check_name(name).map_err(|why| fields.invalid(Key::Package, f, why))?;

    let f = fields.required(Key::Version)?;
    let version = Version::parse(f.value()).map_err(|e| fields.invalid(Key::Version, f, e.why))?;

    let f = fields.required(Key::Architecture)?;
    let architecture = f.value();
    if !architecture
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(fields.invalid(Key::Architecture, f, "not an architecture name"));
    }

    let (filename, size, sha256) = match kind {
        RecordKind::Index => {
            let f = fields.required(Key::Filename)?;
            let filename =
                check_filename(f.value()).map_err(|why| fields.invalid(Key::Filename, f, why))?;
            let f = fields.required(Key::Size)?;
            let size = parse_u64(f.value()).map_err(|why| fields.invalid(Key::Size, f, why))?;
            let f = fields.required(Key::Sha256)?;
            let sha = parse_sha256(f.value()).map_err(|why| fields.invalid(Key::Sha256, f, why))?;
            (filename, size, sha)
        }
        RecordKind::Control => (
            fields
                .optional(Key::Filename, check_filename)?
                .unwrap_or_default(),
            fields.optional(Key::Size, parse_u64)?.unwrap_or(0),
            fields
                .optional(Key::Sha256, parse_sha256)?
                .unwrap_or_default(),
        ),
    };

    let multi_arch = fields
        .optional(Key::MultiArch, |v| {
            const VALUES: [(&str, MultiArch); 4] = [
                ("no", MultiArch::No),
                ("same", MultiArch::Same),
                ("foreign", MultiArch::Foreign),
                ("allowed", MultiArch::Allowed),
            ];
            VALUES
                .iter()
                .find(|(s, _)| s.eq_ignore_ascii_case(v))
                .map(|&(_, m)| m)
                .ok_or_else(|| "expected no, same, foreign or allowed".to_string())
        })?
        .unwrap_or_default();
    let essential = fields
        .optional(Key::Essential, |v| {
            if v.eq_ignore_ascii_case("yes") {
                Ok(true)
            } else if v.eq_ignore_ascii_case("no") {
                Ok(false)
            } else {
                Err("expected yes or no".to_string())
            }
        })?
        .unwrap_or(false);
    let priority = fields
        .optional(Key::Priority, |v| Ok(parse_priority(v)))?
        .flatten();
    let section = fields
        .optional(Key::Section, |v| Ok((!v.is_empty()).then(|| v.to_string())))?
        .flatten();
    let source = fields
        .optional(Key::Source, |v| {
            // `Source: glibc (2.36-9)` names the source version when it differs.
            let name = v
                .split(|c: char| c.is_whitespace() || c == '(')
                .next()
                .unwrap_or_default();
            if name.is_empty() {
                return Ok(None);
            }
            check_name(name)?;
            Ok(Some(name.to_string()))
        })?
        .flatten();
    let installed_size = fields.optional(Key::InstalledSize, parse_u64)?;

    Ok(Package {
        name: name.to_string(),
        version,
        architecture: architecture.to_string(),
        multi_arch,
        essential,
        priority,
        section,
        source,
        pre_depends: fields.relations(Key::PreDepends, parse_depends)?,
        depends: fields.relations(Key::Depends, parse_depends)?,
        provides: fields.relations(Key::Provides, parse_provides)?,
        conflicts: fields.relations(Key::Conflicts, parse_relations)?,
        breaks: fields.relations(Key::Breaks, parse_relations)?,
        filename,
        size,
        sha256,
        installed_size,
        origin,
    })
}

fn parse_priority(v: &str) -> Option<Priority> {
    const VALUES: [(&str, Priority); 5] = [
        ("required", Priority::Required),
        ("important", Priority::Important),
        ("standard", Priority::Standard),
        ("optional", Priority::Optional),
        ("extra", Priority::Extra),
    ];
    if v.is_empty() {
        return None;
    }
    Some(
        VALUES
            .iter()
            .find(|(s, _)| s.eq_ignore_ascii_case(v))
            .map_or_else(|| Priority::Other(v.to_string()), |(_, p)| p.clone()),
    )
}

/// A Filename is a plain relative path under the mirror root.
fn check_filename(v: &str) -> Result<String, String> {
    if v.starts_with('/')
        || v.contains(char::is_whitespace)
        || v.split('/').any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err("not a plain relative path".into());
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Provide, Relation, VersionOp};

    // From `apt-cache show dash libc6 apt` on Debian 12 (libc6's Breaks shortened).
    const INDEX: &str = "Package: dash
Version: 0.5.12-2
Essential: yes
Installed-Size: 191
Maintainer: Andrej Shadura <andrewsh@debian.org>
Architecture: amd64
Depends: debianutils (>= 5.6-0.1), dpkg (>= 1.19.1)
Pre-Depends: libc6 (>= 2.34)
Description: POSIX-compliant shell
Description-md5: 8d4d9c32c6b2b70328f7f774a0cc1248
Multi-Arch: foreign
Homepage: http://gondor.apana.org.au/~herbert/dash/
Tag: implemented-in::c, interface::shell, role::program, scope::utility
Section: shells
Priority: required
Filename: pool/main/d/dash/dash_0.5.12-2_amd64.deb
Size: 91848
MD5sum: 4f19daace3f998b7e719575ff5e5b316
SHA256: 33ea40061da2f1a861ec46212b2b6a34f0776a049b1a3f0abce2fb8cb994258f

Package: libc6
Source: glibc
Version: 2.36-9+deb12u14
Installed-Size: 13001
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Replaces: libc6-amd64
Depends: libgcc-s1
Recommends: libidn2-0 (>= 2.0.5~)
Suggests: glibc-doc, debconf | debconf-2.0, libc-l10n, locales, libnss-nis, libnss-nisplus
Breaks: aide (<< 0.17.3-4+b3), busybox (<< 1.30.1-6),
 hurd (<< 1:0.9.git20220301-2), wcc (<< 0.0.2+dfsg-3)
Description: GNU C Library: Shared libraries
Description-md5: fc3001b0b90a1c8e6690b283a619d57f
Multi-Arch: same
Homepage: https://www.gnu.org/software/libc/libc.html
Tag: role::shared-lib
Section: libs
Priority: optional
Filename: pool/main/g/glibc/libc6_2.36-9+deb12u14_amd64.deb
Size: 2759320
MD5sum: 8d98f0c882f269aaee8437bcfe89346e
SHA256: BA4F88F73DBC3AE9055F3C20F4523BFDBAF1AD13FF95E258924F77D20B4FBEDF

Package: apt
Version: 2.6.1
Installed-Size: 4232
Maintainer: APT Development Team <deity@lists.debian.org>
Architecture: amd64
Replaces: apt-transport-https (<< 1.5~alpha4~), apt-utils (<< 1.3~exp2~)
Provides: apt-transport-https (= 2.6.1)
Depends: adduser, gpgv | gpgv2 | gpgv1, libapt-pkg6.0 (>= 2.6.1), debian-archive-keyring, libc6 (>= 2.34), libgcc-s1 (>= 3.0), libgnutls30 (>= 3.7.5), libseccomp2 (>= 2.4.2), libstdc++6 (>= 11), libsystemd0
Recommends: ca-certificates
Suggests: apt-doc, aptitude | synaptic | wajig, dpkg-dev (>= 1.17.2), gnupg | gnupg2 | gnupg1, powermgmt-base
Breaks: apt-transport-https (<< 1.5~alpha4~), apt-utils (<< 1.3~exp2~), aptitude (<< 0.8.10)
Description: commandline package manager
Description-md5: 9fb97a88cb7383934ef963352b53b4a7
Section: admin
Priority: required
Filename: pool/main/a/apt/apt_2.6.1_amd64.deb
Size: 1372852
MD5sum: 2a077296b9b9f4f8b027f86d9500192b
SHA256: 6ea03cbbc7a7bfcee601c9fb08d4e026fd522ede5350561f06867ad9c0a0fa6b
";

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn keys_table_matches_the_enum() {
        for (i, (name, key)) in KEYS.iter().enumerate() {
            assert_eq!(*key as usize, i, "{name}");
            assert_eq!(
                key_of(&name.to_ascii_lowercase()).map(|k| k as usize),
                Some(i)
            );
        }
        assert!(key_of("Description").is_none());
    }

    #[test]
    fn real_index() {
        let ps = parse_packages(INDEX, 7).unwrap();
        assert_eq!(ps.len(), 3);
        let dash = &ps[0];
        assert_eq!(dash.name, "dash");
        assert_eq!(dash.version.to_string(), "0.5.12-2");
        assert_eq!(dash.architecture, "amd64");
        assert!(dash.essential);
        assert_eq!(dash.multi_arch, MultiArch::Foreign);
        assert_eq!(dash.priority, Some(Priority::Required));
        assert_eq!(dash.section.as_deref(), Some("shells"));
        assert_eq!(dash.source, None);
        assert_eq!(dash.installed_size, Some(191));
        assert_eq!(dash.pre_depends.len(), 1);
        assert_eq!(dash.pre_depends[0][0].name, "libc6");
        assert_eq!(dash.depends.len(), 2);
        assert_eq!(
            dash.depends[1][0].constraint,
            Some((VersionOp::Ge, v("1.19.1")))
        );
        assert_eq!(dash.filename, "pool/main/d/dash/dash_0.5.12-2_amd64.deb");
        assert_eq!(dash.size, 91848);
        assert_eq!(
            dash.sha256,
            "33ea40061da2f1a861ec46212b2b6a34f0776a049b1a3f0abce2fb8cb994258f"
        );
        assert_eq!(dash.origin, 7);

        let libc = &ps[1];
        assert_eq!(libc.source.as_deref(), Some("glibc"));
        assert!(!libc.essential);
        assert_eq!(libc.multi_arch, MultiArch::Same);
        assert_eq!(libc.priority, Some(Priority::Optional));
        // Breaks folded over two lines.
        assert_eq!(libc.breaks.len(), 4);
        assert_eq!(
            libc.breaks[2],
            Relation {
                name: "hurd".into(),
                arch_qualifier: None,
                constraint: Some((VersionOp::Lt, v("1:0.9.git20220301-2")))
            }
        );
        assert!(libc.conflicts.is_empty());
        // Upper-case hashes are normalised.
        assert_eq!(
            libc.sha256,
            "ba4f88f73dbc3ae9055f3c20f4523bfdbaf1ad13ff95e258924f77d20b4fbedf"
        );

        let apt = &ps[2];
        assert_eq!(apt.multi_arch, MultiArch::No);
        assert_eq!(
            apt.provides,
            [Provide {
                name: "apt-transport-https".into(),
                version: Some(v("2.6.1"))
            }]
        );
        assert_eq!(
            apt.depends[1]
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>(),
            ["gpgv", "gpgv2", "gpgv1"]
        );
        assert_eq!(apt.breaks.len(), 3);
        assert_eq!(apt.depends.len(), 10);
    }

    #[test]
    fn source_version_suffix_and_optional_fields() {
        let text = "Package: libfoo1\nSource: foo (1.2-3)\nVersion: 1.2-3+b1\nArchitecture: all\nPriority: weird\n\
                    Filename: pool/f/foo.deb\nSize: 0\nSHA256: 33ea40061da2f1a861ec46212b2b6a34f0776a049b1a3f0abce2fb8cb994258f\n";
        let p = &parse_packages(text, 0).unwrap()[0];
        assert_eq!(p.source.as_deref(), Some("foo"));
        assert_eq!(p.priority, Some(Priority::Other("weird".into())));
        assert_eq!((p.section.as_ref(), p.installed_size), (None, None));
        assert!(p.depends.is_empty() && p.provides.is_empty());
    }

    fn index_error(text: &str) -> PackagesError {
        parse_packages(text, 0).unwrap_err()
    }

    #[test]
    fn missing_required_fields() {
        for field in [
            "Package",
            "Version",
            "Architecture",
            "Filename",
            "Size",
            "SHA256",
        ] {
            // Drop the field from the third record (which starts at line 45).
            let mut seen = 0;
            let text: String = INDEX
                .lines()
                .filter(|l| {
                    if l.starts_with("Package: ") {
                        seen += 1;
                    }
                    !(seen == 3 && l.starts_with(&format!("{field}: ")))
                })
                .map(|l| format!("{l}\n"))
                .collect();
            match index_error(&text) {
                PackagesError::Missing {
                    package,
                    line,
                    field: f,
                } => {
                    assert_eq!(f, field);
                    assert_eq!(line, 45);
                    let expect = if field == "Package" {
                        "<unnamed>"
                    } else {
                        "apt"
                    };
                    assert_eq!(package, expect);
                }
                other => panic!("{field}: {other:?}"),
            }
        }
        // An empty value counts as missing.
        assert!(matches!(
            index_error("Package: a\nVersion:\nArchitecture: all\n"),
            PackagesError::Missing {
                field: "Version",
                line: 1,
                ..
            }
        ));
    }

    #[test]
    fn malformed_fields() {
        let good = "Package: a\nVersion: 1.0\nArchitecture: all\nFilename: pool/a.deb\nSize: 10\n\
                    SHA256: 33ea40061da2f1a861ec46212b2b6a34f0776a049b1a3f0abce2fb8cb994258f\n";
        assert_eq!(parse_packages(good, 0).unwrap().len(), 1);
        let cases = [
            ("Version: 1.0", "Version: x1.0", "Version"),
            ("Size: 10", "Size: ten", "Size"),
            ("Size: 10", "Size: -10", "Size"),
            ("SHA256: 33ea", "SHA256: 33e", "SHA256"),
            ("Filename: pool/a.deb", "Filename: ../a.deb", "Filename"),
            ("Filename: pool/a.deb", "Filename: /pool/a.deb", "Filename"),
            ("Package: a", "Package: _a", "Package"),
            ("Architecture: all", "Architecture: a/b", "Architecture"),
            ("Size: 10", "Size: 10\nDepends: b (>> )", "Depends"),
            ("Size: 10", "Size: 10\nConflicts: b | c", "Conflicts"),
            ("Size: 10", "Size: 10\nProvides: b (>= 1)", "Provides"),
            ("Size: 10", "Size: 10\nMulti-Arch: sometimes", "Multi-Arch"),
            ("Size: 10", "Size: 10\nEssential: maybe", "Essential"),
            (
                "Size: 10",
                "Size: 10\nInstalled-Size: 1.5",
                "Installed-Size",
            ),
        ];
        for (from, to, field) in cases {
            // Second record, so the line numbers are not those of the first record.
            let text = format!("{good}\n{}", good.replacen(from, to, 1));
            assert_ne!(text, format!("{good}\n{good}"), "{from} -> {to}");
            match index_error(&text) {
                PackagesError::Invalid {
                    field: f,
                    line,
                    package,
                    ..
                } => {
                    assert_eq!(f, field, "{to}");
                    let expected_line = 7
                        + text
                            .lines()
                            .skip(7)
                            .position(|l| l.starts_with(field))
                            .unwrap()
                        + 1;
                    assert_eq!(line, expected_line, "{to}");
                    let expect = if field == "Package" { "_a" } else { "a" };
                    assert_eq!(package, expect);
                }
                other => panic!("{to}: {other:?}"),
            }
        }
        let e = index_error(&format!("{good}Depends: b (>> )\n"));
        let msg = e.to_string();
        assert!(
            msg.contains("package a, line 7") && msg.contains("Depends") && msg.contains("byte"),
            "{msg}"
        );
        // deb822 syntax errors keep their line number.
        assert!(
            matches!(index_error(&format!("{good}\nnonsense\n")), PackagesError::Syntax(e) if e.line == 8)
        );
    }

    #[test]
    fn control_file() {
        // `dpkg -s dash` without its Status line: what DEBIAN/control holds.
        let control = "Package: dash
Essential: yes
Priority: required
Section: shells
Installed-Size: 191
Maintainer: Andrej Shadura <andrewsh@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 0.5.12-2
Depends: debianutils (>= 5.6-0.1), dpkg (>= 1.19.1)
Pre-Depends: libc6 (>= 2.34)
Description: POSIX-compliant shell
 The Debian Almquist Shell (dash) is a POSIX-compliant shell derived
 from ash.
 .
 Since it executes scripts faster than bash, and has fewer library
 dependencies (making it more robust against software or hardware
 failures), it is used as the default system shell on Debian systems.
Homepage: http://gondor.apana.org.au/~herbert/dash/
";
        let p = parse_control(control).unwrap();
        let from_index = &parse_packages(INDEX, 0).unwrap()[0];
        assert_eq!(p.name, "dash");
        assert_eq!(
            (p.filename.as_str(), p.size, p.sha256.as_str()),
            ("", 0, "")
        );
        assert_eq!(
            Package {
                filename: from_index.filename.clone(),
                size: from_index.size,
                sha256: from_index.sha256.clone(),
                ..p
            },
            *from_index
        );
        assert_eq!(parse_control("\n\n"), Err(PackagesError::Empty));
        assert_eq!(
            parse_control(&format!("{control}\nPackage: b\n")),
            Err(PackagesError::ExtraParagraph { line: 21 })
        );
        // The index requires what a control file may omit.
        assert!(matches!(
            parse_packages(control, 0),
            Err(PackagesError::Missing {
                field: "Filename",
                line: 1,
                ..
            })
        ));
    }

    /// Every installed package in this machine's dpkg status file parses (when there is one).
    #[test]
    fn local_status_file() {
        let Ok(text) = std::fs::read_to_string("/var/lib/dpkg/status") else {
            return;
        };
        let mut count = 0;
        for p in deb822::paragraphs(&text) {
            let p = p.unwrap();
            // Purged packages may keep a Status entry without a version.
            if p.get("Status")
                .is_some_and(|s| s.ends_with("not-installed"))
            {
                continue;
            }
            package_from_paragraph(&p, RecordKind::Control, 0).unwrap_or_else(|e| panic!("{e}"));
            count += 1;
        }
        assert!(count > 0);
    }

    /// A Packages file named by PLINTH_TEST_PACKAGES, or any uncompressed Packages index apt
    /// keeps, parses completely.
    #[test]
    fn local_packages_files() {
        let mut paths: Vec<std::path::PathBuf> = std::env::var_os("PLINTH_TEST_PACKAGES")
            .map(Into::into)
            .into_iter()
            .collect();
        if let Ok(dir) = std::fs::read_dir("/var/lib/apt/lists") {
            paths.extend(
                dir.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.to_string_lossy().ends_with("_Packages")),
            );
        }
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            let paragraphs = deb822::paragraphs(&text).count();
            let ps = parse_packages(&text, 0).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!ps.is_empty());
            assert_eq!(ps.len(), paragraphs);
        }
    }
}
