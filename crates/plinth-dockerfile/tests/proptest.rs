//! Property tests: no input makes the parser (or the later layers) panic, and whatever parses
//! round-trips exactly, with item spans tiling the input.

use plinth_dockerfile::{EmptyEnv, Item, Lexer, parse, stages};
use proptest::prelude::*;

const FRAGMENTS: &[&str] = &[
    "FROM ",
    "from ",
    "RUN ",
    "COPY ",
    "ADD ",
    "ENV ",
    "ARG ",
    "LABEL ",
    "ONBUILD ",
    "CMD ",
    "ENTRYPOINT ",
    "SHELL ",
    "HEALTHCHECK ",
    "EXPOSE ",
    "VOLUME ",
    "USER ",
    "WORKDIR ",
    "STOPSIGNAL ",
    "MAINTAINER ",
    "NONE ",
    "CMD ",
    "AS ",
    "alpine ",
    "x",
    "a=b ",
    "k v ",
    "--mount=type=cache,target=/c ",
    "--from=x ",
    "--link ",
    "--chown=",
    "--interval=5s ",
    "--platform=$P ",
    "--",
    "-",
    "\"",
    "'",
    "`",
    "\\",
    "\\\n",
    "`\n",
    "\n",
    "\r\n",
    " ",
    "\t",
    "#",
    "# escape=`\n",
    "# escape=\\\n",
    "# syntax=x\n",
    "<<",
    "<<-",
    "<<EOF",
    "EOF\n",
    "\tEOF\n",
    "<<'E'",
    "E\n",
    "$",
    "${",
    "}",
    "${A:-",
    "${A#",
    "${A/x/",
    ":",
    "?",
    "*",
    "[",
    "]",
    "[\"a\"]",
    "[\"a\", 1]",
    ",",
    "=",
    "é",
    "\u{feff}",
    "\u{a0}",
    "\u{85}",
    "\0",
];

fn dockerfile_like() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..60).prop_map(|v| v.concat())
}

fn check(src: &str) {
    let lex = Lexer::new('\\');
    let _ = lex.process_words(src, &EmptyEnv);
    let _ = lex.referenced_vars(src);
    let df = match parse(src) {
        Ok(df) => df,
        Err(e) => {
            assert!(e.line >= 1 && e.col >= 1, "{e:?}");
            return;
        }
    };
    assert_eq!(df.to_source(), src);
    let mut pos = 0;
    for item in &df.items {
        let span = item.span();
        assert_eq!(span.start, pos, "items tile the input");
        assert_eq!(span.text(src), item.raw());
        pos = span.end;
        if let Item::Instruction(i) = item {
            // The keyword may be split by a line continuation, so only check containment.
            assert!(i.keyword_span.start >= i.span.start && i.keyword_span.end <= i.span.end);
            assert!(i.args_span.start >= i.span.start && i.args_span.end <= i.span.end);
        }
    }
    assert_eq!(pos, src.len());
    let Ok(parsed) = stages(&df) else {
        return;
    };
    let lex = Lexer::new(df.escape);
    for st in &parsed.stages {
        let _ = st.from.expand(&lex, &[("A", "a b"), ("P", "linux")]);
        for c in &st.commands {
            let _ = c.expand(&lex, &[("A", "a*b"), ("X", "")]);
            let _ = c.referenced_vars(&lex);
            if let plinth_dockerfile::Command::Run(r) = c {
                let _ = r.script();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn dockerfile_like_inputs(src in dockerfile_like()) {
        check(&src);
    }

    #[test]
    fn arbitrary_strings(src in any::<String>()) {
        check(&src);
    }

    #[test]
    fn lexer_never_panics(word in "[a-z$\\\\{}:?#%/*'\"` <-]{0,40}") {
        for escape in ['\\', '`'] {
            let lex = Lexer::new(escape);
            let _ = lex.process(&word, &[("a", "xy*z"), ("b", "")]);
            let _ = lex.referenced_vars(&word);
        }
    }
}

/// Inputs the fuzzer found (`fuzz/artifacts`), kept as regression tests.
#[test]
fn fuzz_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir)
        .expect("regressions dir")
        .filter_map(Result::ok)
    {
        let bytes = std::fs::read(entry.path()).expect("readable");
        check(&String::from_utf8_lossy(&bytes));
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn huge_and_weird_inputs() {
    let long_line = format!("FROM a\nRUN {}\n", "x ".repeat(200_000));
    check(&long_line);
    check(&format!("FROM a\nENV {}\n", "k=v ".repeat(50_000)));
    check(&"\\\n".repeat(10_000));
    check(&format!(
        "FROM a\nONBUILD {}RUN x\n",
        "ONBUILD ".repeat(10_000)
    ));
    check(&format!("FROM a\nRUN [{}]\n", "[".repeat(50_000)));
    check("FROM a\nRUN <<EOF\n");
    check("FROM a\nRUN \"<<EOF\n");
    check("\u{feff}\u{feff}FROM a\r\r\n");
    check("FROM a\nCOPY --chown=\u{e0}\u{a0}x\u{800}y a b\n");
    check("FROM a\nHEALTHCHECK CMD\u{e0} x\n");
    check(&format!("FROM a\nENV a={}\n", "${A:-".repeat(1000)));
}
