//! Snapshot tests over `tests/fixtures/*.Dockerfile`: each fixture must round-trip exactly, and
//! its items, typed stages, `RUN` heredoc scripts and expanded commands are snapshotted.

use std::fmt::Write as _;
use std::path::Path;

use plinth_dockerfile::{Command, Item, Lexer, parse, stages};

const SAMPLE_ENV: [(&str, &str); 6] = [
    ("USER", "root"),
    ("HOME", "/root"),
    ("NAME", "world"),
    ("APP", "app"),
    ("PATH", "/bin"),
    ("TARGETPLATFORM", "linux/arm64"),
];

fn render(src: &str) -> String {
    let mut out = String::new();
    let df = match parse(src) {
        Ok(df) => df,
        Err(e) => return format!("parse error: {e}\n"),
    };
    assert_eq!(df.to_source(), src, "round trip");
    let _ = writeln!(out, "escape: {:?}", df.escape);
    let _ = writeln!(out, "items:");
    for item in &df.items {
        match item {
            Item::Directive(d) => {
                let _ = writeln!(out, "  directive {}={:?} {:?}", d.name, d.value, d.span);
            }
            Item::Comment(c) => {
                let _ = writeln!(out, "  comment {:?} {:?}", c.text, c.span);
            }
            Item::Blank(b) => {
                let _ = writeln!(out, "  blank {:?}", b.span);
            }
            Item::Instruction(i) => {
                let _ = writeln!(
                    out,
                    "  {} {:?} lines {}-{} flags={:?} args={:?} {:?} json={}",
                    i.keyword,
                    i.keyword_raw,
                    i.span.line,
                    i.end_line,
                    i.flags
                        .iter()
                        .map(|f| (&f.text, f.span))
                        .collect::<Vec<_>>(),
                    i.args,
                    i.args_span,
                    i.json
                );
                assert_eq!(
                    i.keyword_span.text(src),
                    i.keyword_raw,
                    "keyword span of {:?}",
                    i.original
                );
                for h in &i.heredocs {
                    let _ = writeln!(
                        out,
                        "    heredoc {:?} quoted={} strip_tabs={} fd={} body={:?} {:?}",
                        h.name, h.quoted, h.strip_tabs, h.fd, h.body, h.span
                    );
                }
            }
        }
    }
    let parsed = match stages(&df) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(out, "stages error: {e}");
            return out;
        }
    };
    let _ = writeln!(out, "stages:\n{parsed:#?}");
    let lex = Lexer::new(df.escape);
    let _ = writeln!(
        out,
        "from expanded with {{TARGETPLATFORM=linux/arm64, BASE=debian}}:"
    );
    let meta_env = [("TARGETPLATFORM", "linux/arm64"), ("BASE", "debian")];
    for st in &parsed.stages {
        match st.from.expand(&lex, &meta_env) {
            Ok(f) => {
                let _ = writeln!(out, "  {:?} platform={:?}", f.base, f.platform);
            }
            Err(e) => {
                let _ = writeln!(out, "  error: {e}");
            }
        }
    }
    let _ = writeln!(out, "run scripts and expansions (env {SAMPLE_ENV:?}):");
    for st in &parsed.stages {
        for c in &st.commands {
            let line = c.meta().span.line;
            if let Command::Run(r) = c {
                let _ = writeln!(out, "  {line}: script {:?}", r.script());
            }
            match c.expand_with_matches(&lex, &SAMPLE_ENV) {
                Ok((e, m)) if e != *c => {
                    let _ = writeln!(
                        out,
                        "  {line}: {} expanded (matched {:?}, unmatched {:?}):\n{e:#?}",
                        c.keyword(),
                        m.matched,
                        m.unmatched
                    );
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = writeln!(out, "  {line}: {} expand error: {e}", c.keyword());
                }
            }
            if let Ok(vars) = c.referenced_vars(&lex)
                && !vars.is_empty()
            {
                let _ = writeln!(out, "  {line}: references {vars:?}");
            }
        }
    }
    out
}

#[test]
fn fixtures_round_trip_and_snapshot() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 10, "fixtures found: {entries:?}");
    for path in entries {
        let src = std::fs::read_to_string(&path).expect("fixture is UTF-8");
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("fixture name")
            .to_owned();
        let rendered = render(&src);
        insta::assert_snapshot!(name, rendered);
    }
}
