//! Fuzzes the Dockerfile parser: any input must parse or fail cleanly; on success the source
//! must round-trip exactly, and the typed layer and expansion must not panic on anything.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plinth_dockerfile::{Command, Item, Lexer, parse, stages};

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let src = src.as_ref();
    let Ok(df) = parse(src) else {
        return;
    };
    assert_eq!(df.to_source(), src, "round trip");
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
    let lex = Lexer::new(df.escape);
    let env = [("A", "a b*"), ("B", ""), ("PATH", "/bin")];
    // Expansion on every word of every instruction, whatever the instruction.
    for inst in df.instructions() {
        for w in inst.node_args() {
            let _ = lex.process(w, &env);
            let _ = lex.referenced_vars(w);
        }
        let _ = lex.process_words(&inst.args, &env);
    }
    let Ok(parsed) = stages(&df) else {
        return;
    };
    for st in &parsed.stages {
        let _ = st.from.expand(&lex, &env);
        for c in &st.commands {
            let _ = c.expand(&lex, &env);
            let _ = c.referenced_vars(&lex);
            if let Command::Run(r) = c {
                let _ = r.script();
            }
            if let Command::Onbuild(o) = c {
                let _ = plinth_dockerfile::parse_trigger(&o.expression);
            }
        }
    }
});
