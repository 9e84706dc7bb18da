//! Renders test results: `tty` (for people), `json`, `junit` (JUnit XML for CI systems) and
//! `tap` (Test Anything Protocol 13).

use std::fmt::Write as _;

use crate::model::{Status, TestResult};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Tty,
    Json,
    Junit,
    Tap,
}

/// The results of one image.
#[derive(Debug, Clone)]
pub struct ImageReport<'a> {
    /// How the user named it.
    pub image: &'a str,
    /// Its manifest digest (`sha256:...`).
    pub digest: &'a str,
    pub results: &'a [TestResult],
}

impl ImageReport<'_> {
    fn failed(&self) -> usize {
        self.results.iter().filter(|r| !r.passed()).count()
    }
}

/// Whether the tty report uses ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Always,
    Never,
}

/// The report of `images` in `format`.
pub fn render(format: ReportFormat, images: &[ImageReport<'_>], color: Color) -> String {
    match format {
        ReportFormat::Tty => tty(images, color),
        ReportFormat::Json => json(images),
        ReportFormat::Junit => junit(images),
        ReportFormat::Tap => tap(images),
    }
}

fn paint(color: Color, code: &str, text: &str) -> String {
    match color {
        Color::Always => format!("\x1b[{code}m{text}\x1b[0m"),
        Color::Never => text.to_string(),
    }
}

fn tty(images: &[ImageReport<'_>], color: Color) -> String {
    let mut out = String::new();
    let (mut total, mut failed) = (0, 0);
    for image in images {
        let short = image.digest.strip_prefix("sha256:").unwrap_or(image.digest);
        let _ = writeln!(out, "{} ({})", image.image, &short[..short.len().min(12)]);
        for r in image.results {
            total += 1;
            let mark = match r.status {
                Status::Passed => paint(color, "32", "PASS"),
                Status::Failed => paint(color, "31", "FAIL"),
                Status::Error => paint(color, "31", "ERROR"),
            };
            let _ = writeln!(
                out,
                "  {mark} {}: {} ({:.2}s)",
                r.suite,
                r.name,
                r.duration.as_secs_f64()
            );
            if !r.passed() {
                failed += 1;
                for line in r.message.lines() {
                    let _ = writeln!(out, "       {line}");
                }
            }
        }
    }
    let summary = format!(
        "{} passed, {failed} failed ({total} tests, {} image{})",
        total - failed,
        images.len(),
        if images.len() == 1 { "" } else { "s" }
    );
    let summary = if failed > 0 {
        paint(color, "31", &summary)
    } else {
        paint(color, "32", &summary)
    };
    let _ = writeln!(out, "{summary}");
    out
}

fn json(images: &[ImageReport<'_>]) -> String {
    let doc: Vec<serde_json::Value> = images
        .iter()
        .map(|i| {
            serde_json::json!({
                "image": i.image,
                "digest": i.digest,
                "passed": i.results.len() - i.failed(),
                "failed": i.failed(),
                "results": i.results,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&serde_json::json!({ "images": doc }))
        .unwrap_or_else(|_| "{}".to_string());
    s.push('\n');
    s
}

/// XML text/attribute escaping; characters XML 1.0 cannot carry become U+FFFD.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn junit(images: &[ImageReport<'_>]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total: usize = images.iter().map(|i| i.results.len()).sum();
    let failures: usize = images
        .iter()
        .flat_map(|i| i.results.iter())
        .filter(|r| r.status == Status::Failed)
        .count();
    let errors: usize = images
        .iter()
        .flat_map(|i| i.results.iter())
        .filter(|r| r.status == Status::Error)
        .count();
    let _ = writeln!(
        out,
        "<testsuites name=\"plinth test\" tests=\"{total}\" failures=\"{failures}\" errors=\"{errors}\">"
    );
    for image in images {
        // One <testsuite> per image and suite file, in the order the results came.
        let mut suites: Vec<&str> = Vec::new();
        for r in image.results {
            if !suites.contains(&r.suite.as_str()) {
                suites.push(&r.suite);
            }
        }
        for suite in suites {
            let rs: Vec<&TestResult> = image.results.iter().filter(|r| r.suite == suite).collect();
            let time: f64 = rs.iter().map(|r| r.duration.as_secs_f64()).sum();
            let f = rs.iter().filter(|r| r.status == Status::Failed).count();
            let e = rs.iter().filter(|r| r.status == Status::Error).count();
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" time=\"{time:.3}\">",
                xml(&format!("{} {suite}", image.image)),
                rs.len()
            );
            let _ = writeln!(
                out,
                "    <properties><property name=\"digest\" value=\"{}\"/></properties>",
                xml(image.digest)
            );
            for r in rs {
                let _ = write!(
                    out,
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                    xml(&format!("{}.{suite}", image.image)),
                    xml(&r.name),
                    r.duration.as_secs_f64()
                );
                match r.status {
                    Status::Passed => out.push_str("/>\n"),
                    Status::Failed | Status::Error => {
                        let tag = if r.status == Status::Failed {
                            "failure"
                        } else {
                            "error"
                        };
                        let first = r.message.lines().next().unwrap_or_default();
                        let _ = writeln!(
                            out,
                            ">\n      <{tag} message=\"{}\" type=\"{}\">{}</{tag}>\n    </testcase>",
                            xml(first),
                            r.kind,
                            xml(&r.message)
                        );
                    }
                }
            }
            out.push_str("  </testsuite>\n");
        }
    }
    out.push_str("</testsuites>\n");
    out
}

fn tap(images: &[ImageReport<'_>]) -> String {
    let total: usize = images.iter().map(|i| i.results.len()).sum();
    let mut out = format!("TAP version 13\n1..{total}\n");
    let mut n = 0;
    for image in images {
        for r in image.results {
            n += 1;
            let ok = if r.passed() { "ok" } else { "not ok" };
            // A `#` in a description would start a TAP directive.
            let desc = format!("{} {}: {}", image.image, r.suite, r.name).replace('#', "\\#");
            let _ = writeln!(out, "{ok} {n} - {desc}");
            if !r.passed() {
                let _ = writeln!(
                    out,
                    "  ---\n  message: {}\n  severity: {}\n  ...",
                    serde_json::Value::String(r.message.clone()),
                    if r.status == Status::Error {
                        "error"
                    } else {
                        "fail"
                    }
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn results() -> Vec<TestResult> {
        vec![
            TestResult {
                suite: "files".into(),
                name: "passwd <exists> & \"ok\"".into(),
                kind: "file",
                status: Status::Passed,
                message: String::new(),
                duration: Duration::from_millis(3),
            },
            TestResult {
                suite: "files".into(),
                name: "# not a directive".into(),
                kind: "command",
                status: Status::Failed,
                message: "expected exit 0\ngot 1 <&>".into(),
                duration: Duration::from_millis(250),
            },
            TestResult {
                suite: "checklist".into(),
                name: "non-root".into(),
                kind: "checklist",
                status: Status::Error,
                message: "no config\u{1}".into(),
                duration: Duration::ZERO,
            },
        ]
    }

    #[test]
    fn junit_is_escaped_and_counts_failures_and_errors() {
        let r = results();
        let out = render(
            ReportFormat::Junit,
            &[ImageReport {
                image: "img:1",
                digest: "sha256:abc",
                results: &r,
            }],
            Color::Never,
        );
        assert!(
            out.contains(r#"tests="3" failures="1" errors="1""#),
            "{out}"
        );
        assert!(
            out.contains("passwd &lt;exists&gt; &amp; &quot;ok&quot;"),
            "{out}"
        );
        assert!(out.contains("got 1 &lt;&amp;&gt;"), "{out}");
        assert!(out.contains("no config\u{fffd}"), "{out}");
        assert_eq!(out.matches("<testsuite ").count(), 2, "{out}");
    }

    #[test]
    fn tap_numbers_tests_and_escapes_hashes() {
        let r = results();
        let out = render(
            ReportFormat::Tap,
            &[ImageReport {
                image: "img:1",
                digest: "sha256:abc",
                results: &r,
            }],
            Color::Never,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "TAP version 13");
        assert_eq!(lines[1], "1..3");
        assert!(lines[2].starts_with("ok 1 - img:1 files: passwd"));
        assert_eq!(lines[3], "not ok 2 - img:1 files: \\# not a directive");
        assert!(
            out.contains("message: \"expected exit 0\\ngot 1 <&>\""),
            "{out}"
        );
    }

    #[test]
    fn json_and_tty_summaries() {
        let r = results();
        let images = [ImageReport {
            image: "img:1",
            digest: "sha256:0123456789abcdef",
            results: &r,
        }];
        let v: serde_json::Value =
            serde_json::from_str(&render(ReportFormat::Json, &images, Color::Never)).unwrap();
        assert_eq!(v["images"][0]["failed"], 2);
        assert_eq!(v["images"][0]["results"][1]["status"], "failed");
        let tty = render(ReportFormat::Tty, &images, Color::Never);
        assert!(tty.starts_with("img:1 (0123456789ab)\n"), "{tty}");
        assert!(tty.contains("       got 1 <&>"), "{tty}");
        assert!(
            tty.ends_with("1 passed, 2 failed (3 tests, 1 image)\n"),
            "{tty}"
        );
    }
}
