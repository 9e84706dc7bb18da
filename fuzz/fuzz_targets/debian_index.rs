//! Arbitrary text as Debian indexes: the deb822 parser, the Packages/control/Release parsers and
//! the relation parsers must only ever fail with an error, never panic. What parses must be
//! consistent: fields are found by name, hashes are normalised, and relations printed with
//! `Display` parse back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plinth_debian::packages::{RecordKind, package_from_paragraph};
use plinth_debian::{
    Alternatives, Relation, deb822, parse_control, parse_depends, parse_packages, parse_provides,
    parse_relations, parse_release,
};

fn depends_text(deps: &[Alternatives]) -> String {
    deps.iter()
        .map(|alts| {
            alts.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .collect::<Vec<_>>()
        .join(",\n ")
}

fn relations_text(rels: &[Relation]) -> String {
    rels.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fuzz_target!(|data: &[u8]| {
    let lossy;
    let text = match deb822::text_from_bytes(data) {
        Ok(t) => t,
        Err(e) => {
            assert!(e.line >= 1);
            lossy = String::from_utf8_lossy(data);
            lossy.as_ref()
        }
    };

    let mut last_line = 0;
    for p in deb822::paragraphs(text) {
        let Ok(p) = p else { break };
        assert!(p.line() > last_line, "paragraphs go forward");
        last_line = p.line();
        for f in p.fields() {
            assert!(f.line() >= p.line());
            let found = p
                .field(&f.name().to_ascii_uppercase())
                .expect("case-insensitive lookup");
            assert_eq!(found.line(), f.line(), "field names are unique");
            if f.continuation_lines().count() == 0 {
                assert!(!f.folded().contains('\n'));
                assert_eq!(f.first_line(), f.value());
            }
        }
        let _ = package_from_paragraph(&p, RecordKind::Control, 0);
    }

    if let Ok(packages) = parse_packages(text, 3) {
        for p in &packages {
            assert_eq!(p.origin, 3);
            assert_eq!(p.sha256.len(), 64);
            assert_eq!(p.sha256, p.sha256.to_ascii_lowercase());
            assert_eq!(
                parse_depends(&depends_text(&p.depends)).as_ref(),
                Ok(&p.depends)
            );
            assert_eq!(
                parse_depends(&depends_text(&p.pre_depends)).as_ref(),
                Ok(&p.pre_depends)
            );
            assert_eq!(
                parse_relations(&relations_text(&p.breaks)).as_ref(),
                Ok(&p.breaks)
            );
            assert_eq!(
                parse_relations(&relations_text(&p.conflicts)).as_ref(),
                Ok(&p.conflicts)
            );
            let provides = p
                .provides
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            assert_eq!(parse_provides(&provides).as_ref(), Ok(&p.provides));
        }
    }
    let _ = parse_control(text);

    if let Ok(release) = parse_release(text) {
        assert!(!release.sha256.is_empty());
        for f in &release.sha256 {
            assert_eq!(f.sha256.len(), 64);
            assert_eq!(release.file(&f.path), Some(f));
        }
    }

    if let Ok(deps) = parse_depends(text) {
        assert_eq!(parse_depends(&depends_text(&deps)), Ok(deps));
    }
    if let Ok(rels) = parse_relations(text) {
        assert_eq!(parse_relations(&relations_text(&rels)), Ok(rels));
    }
    let _ = parse_provides(text);
});
