//! Malformed Dockerfiles give `LINE:COL: message` errors, worded as BuildKit words them.

use plinth_dockerfile::{Command, Item, parse, stages};

/// Parses `input` through both layers and compares the error's `Display` with `expect`.
#[track_caller]
fn check(input: &str, expect: &str) {
    let got = match parse(input) {
        Err(e) => e.to_string(),
        Ok(df) => {
            assert_eq!(df.to_source(), input);
            match stages(&df) {
                Err(e) => e.to_string(),
                Ok(s) => format!("no error: {s:?}"),
            }
        }
    };
    assert_eq!(got, expect, "input: {input:?}");
}

#[test]
fn unknown_instruction() {
    check("FROM a\nFOO bar\n", "2:1: unknown instruction: FOO");
    check(
        "FROM a\n  frobnicate\n",
        "2:3: unknown instruction: frobnicate",
    );
    check("FROM a\n\\\n", "2:1: unknown instruction: ");
}

#[test]
fn unknown_and_bad_flags() {
    check("FROM a\nCOPY --foo=1 a b\n", "2:1: unknown flag: --foo");
    check("FROM --plat=x a\n", "1:1: unknown flag: --plat");
    check(
        "FROM a\nRUN --mount=type=cache --bogus true\n",
        "2:1: unknown flag: --bogus",
    );
    check("FROM a\nWORKDIR --x /\n", "2:1: unknown flag: --x");
    check(
        "FROM a\nCOPY --link=maybe a b\n",
        "2:1: expecting boolean value for flag --link, not: maybe",
    );
    check(
        "FROM a\nCOPY --link= a b\n",
        "2:1: missing a value on flag: --link",
    );
    check(
        "FROM a\nCOPY --from a b\n",
        "2:1: missing a value on flag: --from",
    );
    check(
        "FROM a\nCOPY --from=x --from=y a b\n",
        "2:1: duplicate flag specified: --from",
    );
    check(
        "FROM a\nRUN --network=bridge x\n",
        "2:1: invalid network mode \"bridge\"",
    );
    check(
        "FROM a\nRUN --security=root x\n",
        "2:1: security \"root\" is not valid",
    );
    check(
        "FROM a\nRUN --mount=type=bind,from=$X x\n",
        "2:1: 'from' doesn't support variable expansion, define alias stage instead",
    );
    check(
        "FROM a\nRUN --mount=type=bind,a\\\"b x\n",
        "2:1: failed to parse csv mounts: bare \" in non-quoted-field",
    );
}

#[test]
fn flags_buildkit_ignores() {
    // BuildKit never parses flags of STOPSIGNAL and ARG, and of HEALTHCHECK NONE.
    let df = parse("ARG --x a\nFROM a\nSTOPSIGNAL --y 9\nHEALTHCHECK --z NONE\n").expect("parses");
    let s = stages(&df).expect("BuildKit accepts these");
    assert_eq!(s.meta_args[0].args[0].key, "a");
    assert!(matches!(&s.stages[0].commands[0], Command::StopSignal(c) if c.signal == "9"));
}

#[test]
fn json_errors() {
    check(
        "FROM a\nSHELL /bin/sh -c\n",
        "2:1: SHELL requires the arguments to be in JSON form",
    );
    check(
        "FROM a\nSHELL []\n",
        "2:1: SHELL requires at least one argument",
    );
    check(
        "FROM a\nSHELL [\"a\", 1]\n",
        "2:1: when using JSON array syntax, arrays must be comprised of strings only",
    );
    check(
        "FROM a\nRUN [\"echo\", [\"nested\"]]\n",
        "2:1: when using JSON array syntax, arrays must be comprised of strings only",
    );
    check(
        "FROM a\nSHELL [\"c:\\windows\\cmd.exe\", \"/S\"]\n",
        "2:1: SHELL requires the arguments to be in JSON form. It looks like 'shell [\"c:\\windows\\cmd.exe\", \"/s\"]' includes a file path without an escaped back-slash. JSON requires back-slashes to be escaped such as [\"c:\\\\path\\\\to\\\\file.exe\", \"/parameter\"]",
    );
}

#[test]
fn heredoc_errors() {
    check("FROM a\nRUN <<EOF\necho\n", "2:1: unterminated heredoc");
    check("FROM a\nCOPY <<A <<B /x\nA\n", "2:1: unterminated heredoc");
    check(
        "FROM a\nCOPY a <<EOF\nx\nEOF\n",
        "2:1: COPY cannot accept a heredoc as a destination",
    );
}

#[test]
fn directive_errors_and_late_directives() {
    check(
        "# escape=x\nFROM a\n",
        "1:1: invalid escape token 'x' does not match ` or \\",
    );
    check(
        "# syntax=a\n# syntax=b\nFROM a\n",
        "2:1: only one syntax parser directive can be used",
    );
    // After an instruction (or a comment, or a blank line) a directive is a plain comment.
    for src in [
        "FROM a\n# escape=`\nRUN echo \\\n  hi\n",
        "# hello\n# escape=`\nFROM a\nRUN echo \\\n  hi\n",
        "\n# escape=`\nFROM a\nRUN echo \\\n  hi\n",
    ] {
        let df = parse(src).expect("parses");
        assert_eq!(df.escape, '\\', "{src:?}");
        assert!(df.directives().next().is_none());
        assert!(
            df.items
                .iter()
                .any(|i| matches!(i, Item::Comment(c) if c.text == "escape=`"))
        );
        let run = df.instructions().last().expect("RUN");
        assert_eq!(run.args, "echo   hi");
    }
}

#[test]
fn onbuild_errors() {
    check(
        "FROM a\nONBUILD FROM b\n",
        "2:1: FROM isn't allowed as an ONBUILD trigger",
    );
    check(
        "FROM a\nONBUILD MAINTAINER me\n",
        "2:1: MAINTAINER isn't allowed as an ONBUILD trigger",
    );
    check(
        "FROM a\nONBUILD ONBUILD RUN x\n",
        "2:1: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
    );
    check(
        "FROM a\nONBUILD\n",
        "2:1: ONBUILD requires at least one argument",
    );
    check(
        "FROM a\nONBUILD RUN [\"a\", 2]\n",
        "2:9: when using JSON array syntax, arrays must be comprised of strings only",
    );
}

#[test]
fn healthcheck_errors() {
    check(
        "FROM a\nHEALTHCHECK --interval=5 CMD true\n",
        "2:1: time: missing unit in duration \"5\"",
    );
    check(
        "FROM a\nHEALTHCHECK --timeout=abc CMD true\n",
        "2:1: time: invalid duration \"abc\"",
    );
    check(
        "FROM a\nHEALTHCHECK --start-period=1x CMD true\n",
        "2:1: time: unknown unit \"x\" in duration \"1x\"",
    );
    check(
        "FROM a\nHEALTHCHECK --timeout=10us CMD true\n",
        "2:1: Interval \"timeout\" cannot be less than 1ms",
    );
    check(
        "FROM a\nHEALTHCHECK --retries=-1 CMD true\n",
        "2:1: --retries cannot be negative (-1)",
    );
    check(
        "FROM a\nHEALTHCHECK --retries=x CMD true\n",
        "2:1: strconv.ParseInt: parsing \"x\": invalid syntax",
    );
    check(
        "FROM a\nHEALTHCHECK NONE x\n",
        "2:1: HEALTHCHECK NONE takes no arguments",
    );
    check(
        "FROM a\nHEALTHCHECK CMD\n",
        "2:1: Missing command after HEALTHCHECK CMD",
    );
    check(
        "FROM a\nHEALTHCHECK PING x\n",
        "2:1: Unknown type \"PING\" in HEALTHCHECK (try CMD)",
    );
    check(
        "FROM a\nHEALTHCHECK\n",
        "2:1: HEALTHCHECK requires at least one argument",
    );
}

#[test]
fn argument_count_errors() {
    check("FROM\n", "1:1: FROM requires either one or three arguments");
    check(
        "FROM a b\n",
        "1:1: FROM requires either one or three arguments",
    );
    check(
        "FROM a AS 1st\n",
        "1:1: invalid name for build stage: \"1st\", name can't start with a number or contain symbols",
    );
    check("FROM a\nENV FOO\n", "2:1: ENV must have two arguments");
    check("FROM a\nENV\n", "2:1: ENV requires at least one argument");
    check(
        "FROM a\nENV a=1 b\n",
        "2:1: Syntax error - can't find = in \"b\". Must be of the form: name=value",
    );
    check("FROM a\nLABEL =x\n", "2:1: LABEL names can not be blank");
    check(
        "FROM a\nCOPY onlyone\n",
        "2:1: COPY requires at least two arguments, but only one was provided. Destination could not be determined",
    );
    check(
        "FROM a\nADD\n",
        "2:1: ADD requires at least two arguments, but only one was provided. Destination could not be determined",
    );
    check("FROM a\nUSER\n", "2:1: USER requires exactly one argument");
    check(
        "FROM a\nWORKDIR\n",
        "2:1: WORKDIR requires exactly one argument",
    );
    check(
        "FROM a\nMAINTAINER\n",
        "2:1: MAINTAINER requires exactly one argument",
    );
    check(
        "FROM a\nSTOPSIGNAL\n",
        "2:1: STOPSIGNAL requires exactly one argument",
    );
    check(
        "FROM a\nEXPOSE\n",
        "2:1: EXPOSE requires at least one argument",
    );
    check(
        "FROM a\nVOLUME []\n",
        "2:1: VOLUME requires at least one argument",
    );
    check(
        "FROM a\nVOLUME [\"\"]\n",
        "2:1: VOLUME specified can not be an empty string",
    );
    check("FROM a\nARG\n", "2:1: ARG requires at least one argument");
    check("FROM a\nARG =1\n", "2:1: ARG names can not be blank");
}

#[test]
fn structure_errors() {
    check("RUN echo\n", "1:1: no build stage in current context");
    check("ARG a\nENV b=c\n", "2:1: no build stage in current context");
    check("", "1:1: file with no instructions");
    check("# just a comment\n\n", "2:1: file with no instructions");
    check("ARG a=1\n", "1:1: dockerfile contains no stages to build");
}

#[test]
fn errors_point_at_the_instruction() {
    check(
        "FROM a\n\n   COPY x\n",
        "3:4: COPY requires at least two arguments, but only one was provided. Destination could not be determined",
    );
    check(
        "FROM a\nRUN echo \\\n  && true\nFOO\n",
        "4:1: unknown instruction: FOO",
    );
    check(
        "FROM a\n\u{e9}\u{e9} RUN\n",
        "2:1: unknown instruction: \u{e9}\u{e9}",
    );
}
