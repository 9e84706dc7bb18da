//! Variable expansion, mirroring BuildKit's `shell/envVarTest`, `shell/wordsTest` and
//! `lex_test.go` tables, plus the per-command expansion rules.

use std::collections::BTreeSet;

use plinth_dockerfile::{Command, EmptyEnv, Env, Lexer, RunMount, ShellOrExec, parse, stages};

/// `envVarTest`: `ProcessWord` with PWD=/home, SHELL=bash, KOREAN=한국어, NULL= (empty).
/// `None` means an error is expected.
const ENV_VAR_TEST: &[(&str, Option<&str>)] = &[
    ("hello", Some("hello")),
    ("he'll'o", Some("hello")),
    ("he'llo", None),
    ("he\\'llo", Some("he'llo")),
    ("he\\\\'llo", None),
    ("abc\\tdef", Some("abctdef")),
    ("\"abc\\tdef\"", Some("abc\\tdef")),
    ("\"abc\\\\tdef\"", Some("abc\\tdef")),
    ("'abc\\tdef'", Some("abc\\tdef")),
    ("hello\\", Some("hello")),
    ("hello\\\\", Some("hello\\")),
    ("\"hello", None),
    ("\"hello\\\"", None),
    ("\"hel'lo\"", Some("hel'lo")),
    ("'hello", None),
    ("'hello\\'", Some("hello\\")),
    ("'hello\\there'", Some("hello\\there")),
    ("'hello\\\\there'", Some("hello\\\\there")),
    ("\"''\"", Some("''")),
    ("$.", Some("$.")),
    ("he$1x", Some("hex")),
    ("he$.x", Some("he$.x")),
    ("he$pwd.", Some("he.")),
    ("he$PWD", Some("he/home")),
    ("he\\$PWD", Some("he$PWD")),
    ("he\\\\$PWD", Some("he\\/home")),
    ("\"he\\$PWD\"", Some("he$PWD")),
    ("'he\\$PWD'", Some("he\\$PWD")),
    ("he\\${}", Some("he${}")),
    ("he\\${}xx", Some("he${}xx")),
    ("he${}", None),
    ("he${}xx", None),
    ("he${hi}", Some("he")),
    ("he${hi}xx", Some("hexx")),
    ("he${PWD}", Some("he/home")),
    ("he${.}", None),
    ("he${XXX:-000}xx", Some("he000xx")),
    ("he${PWD:-000}xx", Some("he/homexx")),
    ("he${XXX:-$PWD}xx", Some("he/homexx")),
    ("he${XXX:-${PWD:-yyy}}xx", Some("he/homexx")),
    ("he${XXX:-${YYY:-yyy}}xx", Some("heyyyxx")),
    ("he${XXX:YYY}", None),
    ("he${XXX?}", None),
    ("he${XXX:?}", None),
    ("he${PWD?}", Some("he/home")),
    ("he${PWD:?}", Some("he/home")),
    ("he${NULL?}", Some("he")),
    ("he${NULL:?}", None),
    ("he${XXX:+${PWD}}xx", Some("hexx")),
    ("he${PWD:+${XXX}}xx", Some("hexx")),
    ("he${PWD:+${SHELL}}xx", Some("hebashxx")),
    ("he${XXX:+000}xx", Some("hexx")),
    ("he${PWD:+000}xx", Some("he000xx")),
    ("he${NULL:+000}xx", Some("hexx")),
    ("he${NULL+000}xx", Some("he000xx")),
    ("he${NULL:-000}xx", Some("he000xx")),
    ("he${NULL-000}xx", Some("hexx")),
    ("'he${XX}'", Some("he${XX}")),
    ("\"he${PWD}\"", Some("he/home")),
    ("\"he'$PWD'\"", Some("he'/home'")),
    ("\"$PWD\"", Some("/home")),
    ("'$PWD'", Some("$PWD")),
    ("'\\$PWD'", Some("\\$PWD")),
    ("'\"hello\"'", Some("\"hello\"")),
    ("he${PWD", None),
    ("he${PWD:=000}xx", None),
    ("he${PWD:+${PWD}:}xx", Some("he/home:xx")),
    ("he${XXX:-\\$PWD:}xx", Some("he$PWD:xx")),
    ("he${XXX:-\\${PWD}z}xx", Some("he${PWDz}xx")),
    ("안녕하세요", Some("안녕하세요")),
    ("안'녕'하세요", Some("안녕하세요")),
    ("안'녕하세요", None),
    ("안녕\\'하세요", Some("안녕'하세요")),
    ("안\\\\'녕하세요", None),
    ("안녕\\t하세요", Some("안녕t하세요")),
    ("\"안녕\\t하세요\"", Some("안녕\\t하세요")),
    ("'안녕\\t하세요", None),
    ("안녕하세요\\", Some("안녕하세요")),
    ("안녕하세요\\\\", Some("안녕하세요\\")),
    ("\"안녕하세요", None),
    ("\"안녕'하세요\"", Some("안녕'하세요")),
    ("'안녕하세요\\'", Some("안녕하세요\\")),
    ("안녕$1x", Some("안녕x")),
    ("안녕$.x", Some("안녕$.x")),
    ("안녕$pwd.", Some("안녕.")),
    ("안녕$PWD", Some("안녕/home")),
    ("안녕\\$PWD", Some("안녕$PWD")),
    ("안녕\\\\$PWD", Some("안녕\\/home")),
    ("안녕${hi}xx", Some("안녕xx")),
    ("안녕${PWD}", Some("안녕/home")),
    ("안녕${XXX:-${YYY:-yyy}}xx", Some("안녕yyyxx")),
    ("안녕${PWD:+${SHELL}}xx", Some("안녕bashxx")),
    ("\"안녕'$PWD'\"", Some("안녕'/home'")),
    ("안녕${XXX:-\\${PWD}z}xx", Some("안녕${PWDz}xx")),
    ("$KOREAN", Some("한국어")),
    ("안녕$KOREAN", Some("안녕한국어")),
];

fn env_var_test_env() -> Vec<String> {
    ["PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

#[test]
fn env_var_test_table() {
    let lex = Lexer::new('\\');
    let env = env_var_test_env();
    for (input, want) in ENV_VAR_TEST {
        let got = lex.process_word(input, &env);
        match want {
            Some(w) => assert_eq!(got.as_deref(), Ok(*w), "input {input:?}"),
            None => assert!(got.is_err(), "input {input:?} gave {got:?}"),
        }
    }
}

#[test]
fn words_test_table() {
    // `wordsTest`: ENV lines accumulate; expected words are comma-separated.
    let script: &[&str] = &[
        "hello | hello",
        "hello${hi}bye | hellobye",
        "ENV hi=hi",
        "hello${hi}bye | hellohibye",
        "ENV space=abc  def",
        "hello${space}bye | helloabc,defbye",
        "hello\"${space}\"bye | helloabc  defbye",
        "hello \"${space}\"bye | hello,abc  defbye",
        "ENV leading=  ab c",
        "hello${leading}def | hello,ab,cdef",
        "hello\"${leading}\" def | hello  ab c,def",
        "hello\"${leading}\" | hello  ab c",
        "hello${leading} | hello,ab,c",
        "ENV trailing=ab c   ",
        "hello${trailing} | helloab,c",
        "hello${trailing}d | helloab,c,d",
        "hello\"${trailing}\"d | helloab c   d",
        "hel\"lo${trailing}\" | helloab c   ",
        "hello\" there  \" | hello there  ",
        "hello there     | hello,there",
        "hello\\ there | hello there",
        "hello\" there | error",
        "hello\\\" there | hello\",there",
        "hello\"$trailing\"x | helloab c   x",
        "a'b c'd | ab cd",
    ];
    let lex = Lexer::new('\\');
    let mut envs: Vec<String> = Vec::new();
    for line in script {
        if let Some(e) = line.strip_prefix("ENV ") {
            envs.push(e.trim_start().to_owned());
            continue;
        }
        let (test, expected) = line.split_once('|').expect("one |");
        let test = test.trim();
        let expected: Vec<&str> = expected.trim_start_matches(' ').split(',').collect();
        let got = match lex.process_words(test, &envs) {
            Ok(w) => w,
            Err(_) => vec!["error".to_owned()],
        };
        assert_eq!(got, expected, "line {line:?}");
    }
}

fn map(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn process_with_matches_table() {
    // lex_test.go TestProcessWithMatches: (input, env, expected or None for error, matched,
    // unmatched).
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        Option<&'a str>,
        &'a [&'a str],
        &'a [&'a str],
    );
    let fb: &[(&str, &str)] = &[("FOO", "xxx"), ("BAR", "")];
    let cases: &[Case<'_>] = &[
        ("x", &[("DUMMY", "dummy")], Some("x"), &[], &[]),
        (
            "x ${UNUSED}",
            &[("DUMMY", "dummy")],
            Some("x "),
            &[],
            &["UNUSED"],
        ),
        ("x ${FOO}", &[("FOO", "y")], Some("x y"), &["FOO"], &[]),
        (
            "${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}",
            fb,
            Some("xxx  ccc"),
            &["FOO", "BAR"],
            &["BAZ"],
        ),
        (
            "${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}",
            fb,
            Some("xxx bbb ccc"),
            &["FOO", "BAR"],
            &["BAZ"],
        ),
        ("${FOO:-}", fb, Some("xxx"), &["FOO"], &[]),
        ("${FOO:-}", &[], Some(""), &[], &["FOO"]),
        (
            "${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}",
            fb,
            Some("aaa bbb "),
            &["FOO", "BAR"],
            &["BAZ"],
        ),
        (
            "${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}",
            fb,
            Some("aaa  "),
            &["FOO", "BAR"],
            &["BAZ"],
        ),
        ("${FOO?aaa}", fb, Some("xxx"), &["FOO"], &[]),
        ("${BAR?bbb}", fb, Some(""), &["BAR"], &[]),
        ("${BAZ?ccc}", fb, None, &[], &[]),
        ("${FOO:?aaa}", fb, Some("xxx"), &["FOO"], &[]),
        ("${BAR:?bbb}", fb, None, &[], &[]),
        ("${BAZ:?ccc}", fb, None, &[], &[]),
        ("${BAZ:?}", fb, None, &[], &[]),
        ("${FOO=aaa}", fb, None, &[], &[]),
        ("${FOO=:aaa}", fb, None, &[], &[]),
        ("${FOO=}", &[], None, &[], &[]),
        (
            "${FOO#()[]{\\}^$.\\*\\?|\\\\}",
            &[("FOO", "()[]{}^$.*?|\\x")],
            Some("x"),
            &["FOO"],
            &[],
        ),
        (
            "${FOO%%\\**}",
            &[("FOO", "xx**")],
            Some("xx"),
            &["FOO"],
            &[],
        ),
        ("${FOO#*x*y}", &[("FOO", "xxyy")], Some("y"), &["FOO"], &[]),
        ("${FOO#*}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
        (
            "${FOO#$BAR}",
            &[("FOO", "xxyy"), ("BAR", "x")],
            Some("xyy"),
            &["FOO", "BAR"],
            &[],
        ),
        (
            "${FOO#$BAR}",
            &[("FOO", "xxyy"), ("BAR", "")],
            Some("xxyy"),
            &["FOO", "BAR"],
            &[],
        ),
        ("${FOO#}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
        ("${FOO##*x}", &[("FOO", "xxyy")], Some("yy"), &["FOO"], &[]),
        ("${FOO##}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
        ("${FOO#?\\?}", &[("FOO", "???y")], Some("?y"), &["FOO"], &[]),
        (
            "${ABC:-.}${FOO%x}${ABC:-.}",
            &[("FOO", "xxyy")],
            Some(".xxyy."),
            &["FOO"],
            &["ABC"],
        ),
        (
            "${FOO%%\\**\\*}",
            &[("FOO", "a***yy*")],
            Some("a"),
            &["FOO"],
            &[],
        ),
        ("${FOO%}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
        (
            "${FOO%%$BAR}",
            &[("FOO", "xxyy"), ("BAR", "")],
            Some("xxyy"),
            &["FOO", "BAR"],
            &[],
        ),
        ("${FOO%y}", &[("FOO", "xxyy")], Some("xxy"), &["FOO"], &[]),
        ("${FOO%%y*}", &[("FOO", "xyxy")], Some("x"), &["FOO"], &[]),
        ("${FOO%y*}", &[("FOO", "xyxy")], Some("xyx"), &["FOO"], &[]),
        ("${FOO:#}", &[], None, &[], &[]),
        ("${FOO:##}", &[], None, &[], &[]),
        ("${FOO:%}", &[], None, &[], &[]),
        ("${FOO:%%}", &[], None, &[], &[]),
        (
            "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
            &[("FOO", "/foo*/*/*.txt"), ("NEEDLE", "\\*/")],
            Some("/foo.*/*.txt - /foo..*.txt"),
            &["FOO", "NEEDLE"],
            &[],
        ),
        (
            "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
            &[("FOO", "/tmp/tmp/bar.txt"), ("NEEDLE", "/tmp")],
            Some("/tmp/bar.txt - /bar.txt"),
            &["FOO", "NEEDLE"],
            &[],
        ),
        (
            "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
            &[
                ("FOO", "/a/foo/b/c.txt"),
                ("NEEDLE", "/?/"),
                ("REPLACEMENT", "/"),
            ],
            Some("/foo/b/c.txt - /foo/c.txt"),
            &["FOO", "NEEDLE", "REPLACEMENT"],
            &[],
        ),
        (
            "${FOO/$NEEDLE/$REPLACEMENT}",
            &[
                ("FOO", "http://google.de"),
                ("NEEDLE", "http://"),
                ("REPLACEMENT", "https://"),
            ],
            Some("https://google.de"),
            &["FOO", "NEEDLE", "REPLACEMENT"],
            &[],
        ),
        (
            "${FOO//\\//\\/}",
            &[("FOO", "/tmp/foo.txt")],
            Some("\\/tmp\\/foo.txt"),
            &["FOO"],
            &[],
        ),
        (
            "${FOO/$BAR/ww}",
            &[("FOO", "xxyy"), ("BAR", "")],
            Some("wwxxyy"),
            &["FOO", "BAR"],
            &[],
        ),
        ("${FOO//ww}", &[("FOO", "xxyy")], None, &[], &[]),
        ("${FOO//}", &[("FOO", "xxyy")], None, &[], &[]),
        ("${FOO///}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
        ("${FOO///}", &[], Some(""), &[], &["FOO"]),
    ];
    let lex = Lexer::new('\\');
    for (input, env, want, matched, unmatched) in cases {
        let env = map(env);
        let got = lex.process(input, &env);
        match want {
            None => assert!(got.is_err(), "{input:?} gave {got:?}"),
            Some(w) => {
                let got = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
                assert_eq!(got.result, *w, "{input:?}");
                assert_eq!(got.matched, set(matched), "matched of {input:?}");
                assert_eq!(got.unmatched, set(unmatched), "unmatched of {input:?}");
            }
        }
    }
}

#[test]
fn mandatory_env_vars() {
    let lex = Lexer::new('\\');
    let set_envs = vec!["VAR=plain".to_owned(), "ARG=x".to_owned()];
    let empty_envs = vec!["VAR=".to_owned(), "ARG=x".to_owned()];
    let unset_envs = vec!["ARG=x".to_owned()];
    let no_empty = "${VAR:?message here$ARG}";
    let no_unset = "${VAR?message here$ARG}";
    assert_eq!(
        lex.process_word(no_empty, &set_envs).as_deref(),
        Ok("plain")
    );
    let e = lex.process_word(no_empty, &empty_envs).expect_err("empty");
    assert_eq!(
        e.message,
        "failed to process \"${VAR:?message here$ARG}\": VAR: message herex"
    );
    assert!(lex.process_word(no_empty, &unset_envs).is_err());
    assert_eq!(
        lex.process_word(no_unset, &set_envs).as_deref(),
        Ok("plain")
    );
    assert_eq!(lex.process_word(no_unset, &empty_envs).as_deref(), Ok(""));
    let e = lex.process_word(no_unset, &unset_envs).expect_err("unset");
    assert!(e.message.ends_with("VAR: message herex"), "{e}");
    let e = lex.process_word("${X?}", &EmptyEnv).expect_err("unset");
    assert_eq!(
        e.message,
        "failed to process \"${X?}\": X: is not allowed to be unset"
    );
}

#[test]
fn platform_release_name() {
    let lex = Lexer::new('\\');
    let release =
        "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz";
    let base = [("VERSION", "v1.2.3"), ("TARGETOS", "linux")];
    let mut e1 = map(&base);
    e1.extend(map(&[("TARGETARCH", "arm"), ("TARGETVARIANT", "v7")]));
    assert_eq!(
        lex.process_word(release, &e1).as_deref(),
        Ok("something-v1.2.3.linux-arm-v7.tar.gz")
    );
    let mut e2 = map(&base);
    e2.extend(map(&[("TARGETARCH", "arm64"), ("TARGETVARIANT", "")]));
    assert_eq!(
        lex.process_word(release, &e2).as_deref(),
        Ok("something-v1.2.3.linux-arm64.tar.gz")
    );
    let mut e3 = map(&base);
    e3.extend(map(&[("TARGETARCH", "arm64")]));
    assert_eq!(
        lex.process_word(release, &e3).as_deref(),
        Ok("something-v1.2.3.linux-arm64.tar.gz")
    );
}

#[test]
fn env_sources_and_precedence() {
    let lex = Lexer::new('\\');
    // K=V lists: the last entry wins; a bare name is set and empty.
    let list = vec![
        "car=hat".to_owned(),
        "car=bike".to_owned(),
        "foo".to_owned(),
    ];
    assert_eq!(lex.process_word("$car", &list).as_deref(), Ok("bike"));
    assert_eq!(lex.process_word("${foo-unset}", &list).as_deref(), Ok(""));
    let mut btree = std::collections::BTreeMap::new();
    btree.insert("A".to_owned(), "1".to_owned());
    assert_eq!(lex.process_word("$A$B", &btree).as_deref(), Ok("1"));
    assert_eq!(
        lex.process_word("$A", &[("A", "x"), ("A", "y")]).as_deref(),
        Ok("y")
    );
}

#[test]
fn backtick_escape() {
    let lex = Lexer::new('`');
    let env = [("V", "val")];
    assert_eq!(lex.process_word("a`$V", &env).as_deref(), Ok("a$V"));
    assert_eq!(
        lex.process_word("C:\\dir\\$V", &env).as_deref(),
        Ok("C:\\dir\\val")
    );
    assert_eq!(lex.process_word("\"q`\"x\"", &env).as_deref(), Ok("q\"x"));
    assert_eq!(
        lex.process_words("a` b c", &env),
        Ok(vec!["a b".to_owned(), "c".to_owned()])
    );
}

#[test]
fn words_quirks_kept_from_buildkit() {
    let lex = Lexer::new('\\');
    // The shared words buffer: the partial word before a `${V:-...}` is dropped.
    assert_eq!(
        lex.process_words("ab${X:-y}c d", &EmptyEnv),
        Ok(vec!["yc".to_owned(), "d".to_owned()])
    );
    // ProcessWord is not affected.
    assert_eq!(
        lex.process_word("ab${X:-y}c d", &EmptyEnv).as_deref(),
        Ok("abyc d")
    );
    // `<<` keeps the blanks after it in the same word.
    assert_eq!(
        lex.process_words("cat << EOF x", &EmptyEnv),
        Ok(vec!["cat".to_owned(), "<< EOF".to_owned(), "x".to_owned()])
    );
    // A byte order mark at the start of a word is skipped.
    assert_eq!(lex.process_word("\u{feff}a", &EmptyEnv).as_deref(), Ok("a"));
    // Deep nesting is an error, not a crash.
    let deep = "${A:-".repeat(5000) + &"}".repeat(5000);
    assert!(lex.process_word(&deep, &EmptyEnv).is_err());
}

#[test]
fn referenced_vars_ignores_values() {
    let lex = Lexer::new('\\');
    assert_eq!(
        lex.referenced_vars("${A:?must be set}/${B:-$C}/$D${E#x}'$F'"),
        Ok(set(&["A", "B", "C", "D", "E"]))
    );
    assert!(lex.referenced_vars("${A").is_err());
}

fn stage_commands(src: &str) -> Vec<Command> {
    let df = parse(src).expect("parses");
    let s = stages(&df).expect("stages");
    s.stages.into_iter().flat_map(|s| s.commands).collect()
}

#[test]
fn command_expansion_rules() {
    let src = r#"FROM a
ENV K$X="v $X"
ENV LEGACY $X and "quoted"
LABEL "l-$X"=$X
ARG $X=$X
WORKDIR /w/$X
USER $X:grp
STOPSIGNAL SIG$X
VOLUME /v/$X
EXPOSE $PORTS 80
COPY --from=$X --chown=$X --chmod=$X --exclude=$X src/$X /dst/$X
ADD --checksum=$X --chown=$X --keep-git-dir https://h/$X /d/
RUN --mount=type=cache,target=/c/$X,id=$X echo $X
CMD echo $X
ENTRYPOINT ["$X"]
HEALTHCHECK CMD $X
SHELL ["$X"]
MAINTAINER $X
ONBUILD RUN $X
"#;
    let env = [("X", "x"), ("PORTS", "8080 9090/udp")];
    let lex = Lexer::new('\\');
    let cmds = stage_commands(src);
    let expanded: Vec<Command> = cmds
        .iter()
        .map(|c| c.expand(&lex, &env).expect("expands"))
        .collect();
    let mut it = expanded.iter();
    let Some(Command::Env(e)) = it.next() else {
        panic!("ENV")
    };
    assert_eq!(
        (e.pairs[0].key.as_str(), e.pairs[0].value.as_str()),
        ("Kx", "v x")
    );
    let Some(Command::Env(e)) = it.next() else {
        panic!("ENV")
    };
    assert_eq!(e.pairs[0].key, "LEGACY");
    assert_eq!(e.pairs[0].value, "x and quoted");
    assert!(e.pairs[0].no_delim);
    let Some(Command::Label(l)) = it.next() else {
        panic!("LABEL")
    };
    assert_eq!(
        (l.pairs[0].key.as_str(), l.pairs[0].value.as_str()),
        ("l-x", "x")
    );
    let Some(Command::Arg(a)) = it.next() else {
        panic!("ARG")
    };
    assert_eq!(a.args[0].key, "$X", "ARG names are not expanded");
    assert_eq!(a.args[0].value.as_deref(), Some("x"));
    let Some(Command::Workdir(w)) = it.next() else {
        panic!("WORKDIR")
    };
    assert_eq!(w.path, "/w/x");
    let Some(Command::User(u)) = it.next() else {
        panic!("USER")
    };
    assert_eq!(u.user, "x:grp");
    let Some(Command::StopSignal(s)) = it.next() else {
        panic!("STOPSIGNAL")
    };
    assert_eq!(s.signal, "SIGx");
    let Some(Command::Volume(v)) = it.next() else {
        panic!("VOLUME")
    };
    assert_eq!(v.volumes, vec!["/v/x"]);
    let Some(Command::Expose(x)) = it.next() else {
        panic!("EXPOSE")
    };
    assert_eq!(x.ports, vec!["8080", "9090/udp", "80"]);
    let Some(Command::Copy(c)) = it.next() else {
        panic!("COPY")
    };
    assert_eq!(c.from.as_deref(), Some("$X"), "--from is not expanded");
    assert_eq!(c.chown.as_deref(), Some("x"));
    assert_eq!(c.chmod.as_deref(), Some("$X"), "--chmod is not expanded");
    assert_eq!(c.exclude, vec!["$X"], "--exclude is not expanded");
    assert_eq!(c.sources, vec!["src/x"]);
    assert_eq!(c.dest, "/dst/x");
    let Some(Command::Add(ad)) = it.next() else {
        panic!("ADD")
    };
    assert_eq!(ad.checksum.as_deref(), Some("x"));
    assert_eq!(ad.chown.as_deref(), Some("x"));
    assert_eq!(ad.keep_git_dir, Some(true));
    assert_eq!(ad.sources, vec!["https://h/x"]);
    let Some(Command::Run(r)) = it.next() else {
        panic!("RUN")
    };
    assert_eq!(r.cmd, ShellOrExec::Shell("echo $X".to_owned()));
    let RunMount::Resolved(m) = &r.mounts[0] else {
        panic!("resolved")
    };
    assert_eq!(m.target.as_deref(), Some("/c/x"));
    assert_eq!(m.id.as_deref(), Some("x"));
    // The rest is left alone.
    for (orig, exp) in cmds.iter().zip(&expanded).skip(12) {
        assert_eq!(orig, exp, "{:?} must not be expanded", orig.keyword());
    }
    // Variables used, for cache keys.
    let vars = cmds[8].referenced_vars(&lex).expect("vars");
    assert_eq!(vars, set(&["PORTS"]));
    let vars = cmds[11].referenced_vars(&lex).expect("vars");
    assert_eq!(vars, set(&["X"]));
    let (_, m) = cmds[0]
        .expand_with_matches(&lex, &[("X", "1")])
        .expect("expands");
    assert_eq!(m.matched, set(&["X"]));
}

#[test]
fn heredoc_bodies_expand_only_when_unquoted() {
    let src = "# escape=`\nFROM a\nCOPY <<EOF <<'RAW' <<-TAB /d/\n$X \"q\" \\$X `$X\nEOF\n$X\nRAW\n\t$X\n\tTAB\nRUN <<EOF\n$X\nEOF\n";
    let df = parse(src).expect("parses");
    assert_eq!(df.escape, '`');
    let s = stages(&df).expect("stages");
    let lex = Lexer::new(df.escape);
    let env = [("X", "v")];
    let copy = s.stages[0].commands[0].expand(&lex, &env).expect("expands");
    let Command::Copy(c) = copy else {
        panic!("COPY")
    };
    // Heredoc bodies use `\` as escape and keep quotes, whatever the file's escape is.
    assert_eq!(c.heredocs[0].data, "v \"q\" $X `v\n");
    assert_eq!(c.heredocs[1].data, "$X\n");
    assert_eq!(c.heredocs[2].data, "v\n");
    let run = s.stages[0].commands[1].expand(&lex, &env).expect("expands");
    let Command::Run(r) = run else { panic!("RUN") };
    assert_eq!(
        r.heredocs[0].data, "$X\n",
        "RUN heredocs are never expanded"
    );
}

#[test]
fn from_expansion_uses_global_args() {
    let df =
        parse("ARG IMG=alpine\nFROM --platform=$P ${IMG}:${TAG:-latest} AS x\n").expect("parses");
    let s = stages(&df).expect("stages");
    let lex = Lexer::new(df.escape);
    let f = s.stages[0]
        .from
        .expand(&lex, &[("IMG", "debian"), ("P", "linux/amd64")])
        .expect("expands");
    assert_eq!(f.base, "debian:latest");
    assert_eq!(f.platform.as_deref(), Some("linux/amd64"));
    let e = s.stages[0]
        .from
        .expand(&lex, &[("IMG", "debian")])
        .expect_err("empty platform");
    assert_eq!(e.message, "empty platform value from expression $P");
    let df = parse("FROM $NOTHING\n").expect("parses");
    let s = stages(&df).expect("stages");
    let e = s.stages[0].from.expand(&lex, &EmptyEnv).expect_err("blank");
    assert_eq!(e.message, "base name ($NOTHING) should not be blank");
    assert_eq!(
        s.stages[0].from.referenced_vars(&lex),
        Ok(set(&["NOTHING"]))
    );
}

#[test]
fn mount_validation_happens_at_expansion() {
    let cmds = stage_commands("FROM a\nRUN --mount=type=$T,target=/x,uid=$U true\n");
    let lex = Lexer::new('\\');
    let ok = cmds[0]
        .expand(&lex, &[("T", "cache"), ("U", "1000")])
        .expect("valid once expanded");
    let Command::Run(r) = ok else { panic!("RUN") };
    let mounts = r.resolved_mounts().expect("resolved");
    assert_eq!(mounts[0].uid, Some(1000));
    let bad = cmds[0].expand(&lex, &[("T", "bind"), ("U", "1000")]);
    assert_eq!(
        bad.map_err(|e| e.message),
        Err("uid not allowed for \"bind\" type mounts".to_owned())
    );
    let bad = cmds[0].expand(&lex, &[("T", "nfs"), ("U", "1")]);
    assert_eq!(
        bad.map_err(|e| e.message),
        Err("unsupported mount type \"nfs\"".to_owned())
    );
}

#[test]
fn env_trait_objects_and_slices() {
    fn get(env: &(impl Env + ?Sized), k: &str) -> Option<String> {
        env.get(k).map(str::to_owned)
    }
    let pairs: Vec<(String, String)> = map(&[("a", "1")]);
    assert_eq!(get(pairs.as_slice(), "a").as_deref(), Some("1"));
    let list: Vec<String> = vec!["a=2".to_owned()];
    assert_eq!(get(list.as_slice(), "a").as_deref(), Some("2"));
    assert_eq!(get(&EmptyEnv, "a"), None);
}
