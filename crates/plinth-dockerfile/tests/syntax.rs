//! The lossless syntax layer: items, spans, logical lines, flags and heredocs.

use plinth_dockerfile::{Command, Item, Keyword, RunScript, parse, parse_trigger, stages};

#[test]
fn items_and_spans() {
    let src = "# syntax=x\n\n# note\nFROM  alpine:3 AS  Base\nRUN --mount=type=cache,target=/c \\\n  # skipped comment\n\n    echo \\\n  hi\nCOPY <<EOF /x\nbody\nEOF\n";
    let df = parse(src).expect("parses");
    assert_eq!(df.to_source(), src);
    let kinds: Vec<&str> = df
        .items
        .iter()
        .map(|i| match i {
            Item::Directive(_) => "directive",
            Item::Comment(_) => "comment",
            Item::Blank(_) => "blank",
            Item::Instruction(_) => "instruction",
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            "directive",
            "blank",
            "comment",
            "instruction",
            "instruction",
            "instruction"
        ]
    );
    assert_eq!(df.directive("syntax"), Some("x"));
    let insts: Vec<_> = df.instructions().collect();
    let from = insts[0];
    assert_eq!(from.keyword, Keyword::From);
    assert_eq!((from.span.line, from.span.col), (4, 1));
    assert_eq!(from.args, "alpine:3 AS  Base");
    assert_eq!(from.args_span.text(src), "alpine:3 AS  Base");
    assert_eq!((from.args_span.line, from.args_span.col), (4, 7));

    let run = insts[1];
    assert_eq!((run.span.line, run.end_line), (5, 9));
    assert_eq!(
        run.original,
        "RUN --mount=type=cache,target=/c     echo   hi"
    );
    assert_eq!(run.args, "echo   hi");
    assert_eq!(run.args_span.line, 8);
    assert_eq!(run.args_span.text(src), "echo \\\n  hi");
    let flag = &run.flags[0];
    assert_eq!(flag.name, "mount");
    assert_eq!(flag.value.as_deref(), Some("type=cache,target=/c"));
    assert_eq!(flag.span.text(src), "--mount=type=cache,target=/c");
    assert_eq!((flag.span.line, flag.span.col), (5, 5));
    assert_eq!(
        run.raw,
        "RUN --mount=type=cache,target=/c \\\n  # skipped comment\n\n    echo \\\n  hi\n"
    );

    let copy = insts[2];
    assert_eq!(copy.heredocs.len(), 1);
    let h = &copy.heredocs[0];
    assert_eq!((h.name.as_str(), h.body.as_str()), ("EOF", "body\n"));
    assert_eq!(h.span.text(src), "body\nEOF\n");
    assert_eq!(copy.end_line, 12);
}

#[test]
fn columns_count_characters() {
    let src = "FROM a\nLABEL é=1 ü=2\nRUN --x=é echo\n";
    let df = parse(src).expect("parses");
    let run = df.instructions().nth(2).expect("RUN");
    assert_eq!(run.flags[0].span.col, 5);
    assert_eq!(run.args_span.col, 11);
    assert_eq!(run.args_span.text(src), "echo");
}

#[test]
fn keywords_are_case_insensitive() {
    let df = parse("fRoM a\nrUn x\nHealthCheck NONE\n").expect("parses");
    let kws: Vec<Keyword> = df.instructions().map(|i| i.keyword).collect();
    assert_eq!(kws, vec![Keyword::From, Keyword::Run, Keyword::Healthcheck]);
    assert_eq!(
        df.instructions().nth(1).map(|i| i.keyword_raw.as_str()),
        Some("rUn")
    );
}

#[test]
fn heredoc_edge_cases() {
    // A quoted heredoc marker is not a heredoc; neither is one in JSON form.
    let df = parse("FROM a\nRUN echo \"<<EOF\"\nRUN [\"<<EOF\"]\n").expect("parses");
    assert!(df.instructions().all(|i| i.heredocs.is_empty()));
    // Terminators must match exactly (after tabs for <<-), other lines are body.
    let df = parse("FROM a\nRUN <<-END cat\n\tEND \nx\n\t\tEND\n").expect("parses");
    let run = df.instructions().nth(1).expect("RUN");
    assert_eq!(run.heredocs[0].body, "\tEND \nx\n");
    assert_eq!(run.heredocs[0].content(), "END \nx\n");
    // Several heredocs are read in order; each only ends at its own terminator.
    let df = parse("FROM a\nCOPY <<X <<Y /dest\nY\nX\nX\nY\n").expect("parses");
    let copy = df.instructions().nth(1).expect("COPY");
    assert_eq!(copy.heredocs[0].body, "Y\n");
    assert_eq!(copy.heredocs[1].body, "X\n");
    // CRLF bodies are kept as written.
    let df = parse("FROM a\r\nRUN <<EOF\r\na\r\nEOF\r\n").expect("parses");
    assert_eq!(
        df.instructions().nth(1).expect("RUN").heredocs[0].body,
        "a\r\n"
    );
}

#[test]
fn run_heredoc_scripts_follow_buildkit_dispatch() {
    let src = "FROM a\nRUN <<-EOF\n\techo hi\nEOF\nRUN <<EOF\n#!/bin/sh\necho x\nEOF\nRUN cat <<A <<-B\na\nA\n\tb\n\tB\nRUN echo plain\n";
    let df = parse(src).expect("parses");
    let s = stages(&df).expect("stages");
    let scripts: Vec<RunScript> = s.stages[0]
        .commands
        .iter()
        .map(|c| match c {
            Command::Run(r) => r.script().expect("script"),
            _ => panic!("only RUN"),
        })
        .collect();
    assert_eq!(
        scripts,
        vec![
            RunScript::Heredoc {
                name: "EOF".into(),
                content: "echo hi\n".into(),
                shebang: false
            },
            RunScript::Heredoc {
                name: "EOF".into(),
                content: "#!/bin/sh\necho x\n".into(),
                shebang: true
            },
            // BuildKit re-appends each body followed by the bare name.
            RunScript::Inline("cat <<A <<-B\na\nA\n\tb\nB".into()),
            RunScript::Plain,
        ]
    );
}

#[test]
fn onbuild_trigger_reparse() {
    let src = "# escape=`\nFROM a\nONBUILD RUN echo `\n  done\n";
    let df = parse(src).expect("parses");
    let s = stages(&df).expect("stages");
    let Command::Onbuild(o) = &s.stages[0].commands[0] else {
        panic!("ONBUILD")
    };
    assert_eq!(o.expression, "RUN echo   done");
    let Ok(trigger) = &o.trigger else {
        panic!("trigger parses")
    };
    assert_eq!(trigger.keyword(), Keyword::Run);
    let again = parse_trigger(&o.expression).expect("re-parses");
    assert_eq!(again.keyword(), Keyword::Run);
    assert!(parse_trigger("RUN a\nRUN b\n").is_err());
    assert!(parse_trigger("FROM x").is_err());
}

#[test]
fn logical_line_joining_matches_buildkit() {
    // The escape character only continues a line when it is not itself escaped.
    let df = parse("FROM a\nRUN echo \\\\\nRUN next\n").expect("parses");
    assert_eq!(df.instructions().count(), 3);
    // A continuation can run into the end of the file.
    let df = parse("FROM a\nRUN echo \\").expect("parses");
    assert_eq!(df.instructions().nth(1).expect("RUN").args, "echo");
    // Trailing blanks after the escape character still continue the line.
    let df = parse("FROM a\nRUN a \\ \t\n b\n").expect("parses");
    assert_eq!(df.instructions().nth(1).expect("RUN").args, "a  b");
}

/// Found by fuzzing: a keyword split by a line continuation.
#[test]
fn keyword_split_by_continuation() {
    let src = "FROM a\nHEALTHC\\\nHECK NONE\n";
    let df = parse(src).expect("parses");
    let hc = df.instructions().nth(1).expect("HEALTHCHECK");
    assert_eq!(hc.keyword, Keyword::Healthcheck);
    assert_eq!(hc.keyword_raw, "HEALTHCHECK");
    assert_eq!(hc.keyword_span.text(src), "HEALTHC\\\nHECK");
    assert_eq!(hc.original, "HEALTHCHECK NONE");
    assert!(stages(&df).is_ok());
}
