//! Fuzzes `plinth lint`'s core: any input must lint or fail with a parse error, never panic; every
//! finding points inside the file; ShellCheck scripts and the report formats are made from it
//! without panicking; the RUN-script splitter takes any text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plinth_lint::report::{Color, FileReport, Format, render};
use plinth_lint::{LintConfig, NoContext, lint};

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let src = src.as_ref();
    let _ = plinth_lint::shell::Script::parse(src);
    let Ok(findings) = lint("Dockerfile", src, &LintConfig::default(), &NoContext) else {
        return;
    };
    let lines = u32::try_from(src.lines().count().max(1)).unwrap_or(u32::MAX);
    for f in &findings {
        assert!(f.line >= 1 && f.line <= lines, "{f:?} outside {lines} lines");
        assert!(f.end_line >= f.line);
    }
    let _ = plinth_lint::shellcheck::scripts("Dockerfile", src);
    let files = [FileReport {
        path: "Dockerfile",
        text: src,
        findings: &findings,
    }];
    for format in [Format::Tty, Format::Json, Format::Sarif, Format::Checkstyle, Format::Junit] {
        let _ = render(format, &files, Color::Never);
    }
});
