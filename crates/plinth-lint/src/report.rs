//! Rendering lint results for people and tools: annotated source snippets for a terminal
//! (`tty`), hadolint's JSON, SARIF 2.1.0 (code scanning), Checkstyle XML, JUnit XML and GitLab's
//! Code Quality report (Code Climate JSON). Pure: every renderer returns the text to print.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::finding::{Finding, Severity};

/// One linted file: how findings name it, its text, and its findings.
#[derive(Debug, Clone, Copy)]
pub struct FileReport<'a> {
    pub path: &'a str,
    pub text: &'a str,
    pub findings: &'a [Finding],
}

/// An output format of `plinth lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Annotated source snippets, for a terminal.
    Tty,
    /// hadolint's JSON array.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// Checkstyle XML.
    Checkstyle,
    /// JUnit XML.
    Junit,
    /// GitLab Code Quality (Code Climate JSON).
    Gitlab,
}

/// Whether the `tty` format uses ANSI colours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Color {
    #[default]
    Never,
    Always,
}

/// `files` in `format`.
pub fn render(format: Format, files: &[FileReport<'_>], color: Color) -> String {
    match format {
        Format::Tty => tty(files, color),
        Format::Json => json(files),
        Format::Sarif => sarif(files),
        Format::Checkstyle => checkstyle(files),
        Format::Junit => junit(files),
        Format::Gitlab => gitlab(files),
    }
}

fn all_findings<'a>(
    files: &'a [FileReport<'a>],
) -> impl Iterator<Item = (&'a FileReport<'a>, &'a Finding)> {
    files
        .iter()
        .flat_map(|f| f.findings.iter().map(move |x| (f, x)))
}

fn to_string(v: &Value) -> String {
    let mut s = serde_json::to_string(v).unwrap_or_default();
    s.push('\n');
    s
}

/// hadolint's `--format json`: an array of `{code, column, file, level, line, message}`.
pub fn json(files: &[FileReport<'_>]) -> String {
    let items: Vec<Value> = all_findings(files)
        .map(|(f, x)| {
            json!({
                "code": x.code,
                "column": x.column,
                "file": f.path,
                "level": x.severity.as_str(),
                "line": x.line,
                "message": x.message,
            })
        })
        .collect();
    to_string(&Value::Array(items))
}

/// SARIF's level: `error`, `warning`, or `note` for info and style (as hadolint maps them).
pub fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info | Severity::Style => "note",
    }
}

/// The documentation page of a rule code, when there is a known one.
pub fn help_uri(code: &str) -> Option<String> {
    if code.starts_with("DL") {
        Some(format!("https://github.com/hadolint/hadolint/wiki/{code}"))
    } else if code.starts_with("SC") {
        Some(format!("https://www.shellcheck.net/wiki/{code}"))
    } else {
        None
    }
}

/// A path as a URI reference: `/` kept, unreserved characters kept, the rest percent-encoded.
fn uri_of(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// SARIF 2.1.0: one run of the `plinth` driver, with the rules the results use.
pub fn sarif(files: &[FileReport<'_>]) -> String {
    // Rules, in code order, each with the index the results refer to.
    let mut codes: BTreeMap<&str, Severity> = BTreeMap::new();
    for (_, x) in all_findings(files) {
        codes.entry(x.code.as_str()).or_insert(x.severity);
    }
    let index: BTreeMap<&str, usize> = codes.keys().enumerate().map(|(i, c)| (*c, i)).collect();
    let rules: Vec<Value> = codes
        .iter()
        .map(|(code, seen)| {
            let meta = crate::rules::by_code(code).map(|r| r.meta());
            let (name, summary, level) = match meta {
                Some(m) => (m.name.to_string(), m.summary.to_string(), m.severity),
                None if code.starts_with("SC") => {
                    (code.to_string(), format!("ShellCheck {code}"), *seen)
                }
                None => (code.to_string(), code.to_string(), *seen),
            };
            let mut rule = json!({
                "id": code,
                "name": name,
                "shortDescription": { "text": summary },
                "defaultConfiguration": { "level": sarif_level(level) },
            });
            if let (Some(uri), Some(obj)) = (help_uri(code), rule.as_object_mut()) {
                obj.insert("helpUri".into(), Value::String(uri));
            }
            rule
        })
        .collect();
    let results: Vec<Value> = all_findings(files)
        .map(|(f, x)| {
            json!({
                "ruleId": x.code,
                "ruleIndex": index.get(x.code.as_str()).copied().unwrap_or(0),
                "level": sarif_level(x.severity),
                "message": { "text": x.message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri_of(f.path) },
                        "region": {
                            "startLine": x.line,
                            "startColumn": x.column.max(1),
                            "endLine": x.end_line.max(x.line),
                        },
                    },
                }],
            })
        })
        .collect();
    to_string(&json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "plinth",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                },
            },
            "results": results,
        }],
    }))
}

/// `s` escaped for an XML attribute or text: `& < > " '`, line breaks and tabs as character
/// references (so attributes keep them), other control characters (not allowed in XML 1.0)
/// replaced by U+FFFD.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Checkstyle 4.3 XML: a `<file>` per linted file with an `<error>` per finding (hadolint's
/// levels as severity, the code as source).
pub fn checkstyle(files: &[FileReport<'_>]) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<checkstyle version=\"4.3\">\n");
    for f in files {
        let _ = writeln!(out, "  <file name=\"{}\">", xml_escape(f.path));
        for x in f.findings {
            let _ = writeln!(
                out,
                "    <error line=\"{}\" column=\"{}\" severity=\"{}\" message=\"{}\" source=\"{}\"/>",
                x.line,
                x.column,
                x.severity,
                xml_escape(&x.message),
                xml_escape(&x.code)
            );
        }
        out.push_str("  </file>\n");
    }
    out.push_str("</checkstyle>\n");
    out
}

/// JUnit XML: a `<testsuite>` per file, a failing `<testcase>` per finding, and one passing
/// test case for a file without findings.
pub fn junit(files: &[FileReport<'_>]) -> String {
    let total: usize = files.iter().map(|f| f.findings.len().max(1)).sum();
    let failures: usize = files.iter().map(|f| f.findings.len()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"plinth lint\" tests=\"{total}\" failures=\"{failures}\" errors=\"0\">"
    );
    for f in files {
        let path = xml_escape(f.path);
        let _ = writeln!(
            out,
            "  <testsuite name=\"{path}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\">",
            f.findings.len().max(1),
            f.findings.len()
        );
        if f.findings.is_empty() {
            let _ = writeln!(
                out,
                "    <testcase name=\"lint\" classname=\"{path}\" file=\"{path}\"/>"
            );
        }
        for x in f.findings {
            let _ = writeln!(
                out,
                "    <testcase name=\"{} line {}\" classname=\"{path}\" file=\"{path}\" line=\"{}\">",
                xml_escape(&x.code),
                x.line,
                x.line
            );
            let _ = writeln!(
                out,
                "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                x.severity,
                xml_escape(&x.message),
                xml_escape(&format!(
                    "{}:{}:{}: {} {}: {}",
                    f.path, x.line, x.column, x.code, x.severity, x.message
                ))
            );
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Code Climate's severity for a level (hadolint's mapping): error `blocker`, warning `major`,
/// info `info`, style `minor`.
pub fn codeclimate_severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "blocker",
        Severity::Warning => "major",
        Severity::Info => "info",
        Severity::Style => "minor",
    }
}

/// A stable fingerprint of a finding: SHA-256 of path, code, line and message.
pub fn fingerprint(path: &str, x: &Finding) -> String {
    let mut h = Sha256::new();
    for part in [
        path,
        x.code.as_str(),
        &x.line.to_string(),
        x.message.as_str(),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// GitLab Code Quality: a Code Climate JSON array of issues.
pub fn gitlab(files: &[FileReport<'_>]) -> String {
    let items: Vec<Value> = all_findings(files)
        .map(|(f, x)| {
            json!({
                "type": "issue",
                "description": x.message,
                "check_name": x.code,
                "fingerprint": fingerprint(f.path, x),
                "severity": codeclimate_severity(x.severity),
                "categories": ["Bug Risk"],
                "location": {
                    "path": f.path,
                    "lines": { "begin": x.line, "end": x.end_line.max(x.line) },
                },
            })
        })
        .collect();
    to_string(&Value::Array(items))
}

/// ANSI styles of the tty format.
struct Paint(Color);

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        match self.0 {
            Color::Never => s.to_string(),
            Color::Always => format!("\x1b[{code}m{s}\x1b[0m"),
        }
    }

    fn level(&self, s: Severity) -> String {
        let code = match s {
            Severity::Error => "1;31",
            Severity::Warning => "1;33",
            Severity::Info => "1;36",
            Severity::Style => "1;35",
        };
        self.wrap(code, s.as_str())
    }
}

/// How many source lines a snippet shows at most.
const SNIPPET_LINES: u32 = 6;

/// Annotated source snippets: `path:line:col: CODE level: message`, the instruction's lines with
/// their numbers, a caret under the column; then a summary line.
pub fn tty(files: &[FileReport<'_>], color: Color) -> String {
    let paint = Paint(color);
    let mut out = String::new();
    let mut counts: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in files {
        let lines: Vec<&str> = f.text.lines().collect();
        for x in f.findings {
            *counts.entry(x.severity).or_default() += 1;
            let _ = writeln!(
                out,
                "{}: {} {}: {}",
                paint.wrap("1", &format!("{}:{}:{}", f.path, x.line, x.column)),
                paint.wrap("1", &x.code),
                paint.level(x.severity),
                x.message
            );
            let first = x.line.max(1);
            let last = x.end_line.max(first);
            let shown_last = last.min(first + SNIPPET_LINES - 1);
            let width = shown_last.to_string().len();
            let gutter = paint.wrap("1;34", &format!("{:width$} |", ""));
            let mut any = false;
            for n in first..=shown_last {
                let Some(src) = usize::try_from(n - 1).ok().and_then(|i| lines.get(i)) else {
                    break;
                };
                if !any {
                    let _ = writeln!(out, "{gutter}");
                    any = true;
                }
                let src = src.trim_end_matches('\r');
                let _ = writeln!(
                    out,
                    "{} {src}",
                    paint.wrap("1;34", &format!("{n:>width$} |"))
                );
                if n == first {
                    // The caret's indent copies the line's own tabs so it lines up.
                    let pad: String = src
                        .chars()
                        .take(usize::try_from(x.column.max(1) - 1).unwrap_or(0))
                        .map(|c| if c == '\t' { '\t' } else { ' ' })
                        .collect();
                    let _ = writeln!(out, "{gutter} {pad}{}", paint.wrap("1;31", "^"));
                }
            }
            if any && last > shown_last {
                let _ = writeln!(out, "{gutter} ...");
            }
            out.push('\n');
        }
    }
    let total: usize = counts.values().sum();
    let nfiles = files.len();
    let files_word = if nfiles == 1 { "file" } else { "files" };
    if total == 0 {
        let _ = writeln!(out, "no findings in {nfiles} {files_word}");
    } else {
        let parts: Vec<String> = counts
            .iter()
            .map(|(s, n)| {
                let plural = match (s, n) {
                    (Severity::Error | Severity::Warning, 2..) => "s",
                    _ => "",
                };
                format!("{n} {}{plural}", paint.level(*s))
            })
            .collect();
        let word = if total == 1 { "finding" } else { "findings" };
        let _ = writeln!(
            out,
            "{total} {word} ({}) in {nfiles} {files_word}",
            parts.join(", ")
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(code: &str, severity: Severity, line: u32, column: u32, message: &str) -> Finding {
        Finding {
            code: code.into(),
            severity,
            message: message.into(),
            line,
            column,
            end_line: line,
        }
    }

    const TEXT: &str =
        "FROM debian\nRUN apt-get update && \\\n  apt-get install -y curl\n\tUSER root\n";

    fn sample() -> Vec<Finding> {
        let mut multi = finding(
            "DL3008",
            Severity::Warning,
            2,
            1,
            "Pin versions in \"apt-get install\" <pkg>=<version> & co.\nsecond line",
        );
        multi.end_line = 3;
        vec![
            finding("DL3006", Severity::Warning, 1, 1, "Always tag the image"),
            multi,
            finding(
                "SC2086",
                Severity::Info,
                2,
                1,
                "Double quote to 'prevent' globbing",
            ),
            finding("PL999", Severity::Style, 4, 2, "tabbed"),
        ]
    }

    #[test]
    fn json_has_hadolints_fields_and_escapes() {
        let findings = sample();
        let files = [FileReport {
            path: "dir/Docker\"file",
            text: TEXT,
            findings: &findings,
        }];
        let out = json(&files);
        let v: Value = serde_json::from_str(&out).unwrap();
        let arr = v.as_array().unwrap();
        assert_eq!(arr.len(), 4);
        let keys: Vec<&String> = arr[1].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["code", "column", "file", "level", "line", "message"]);
        assert_eq!(arr[1]["message"], findings[1].message.as_str());
        assert_eq!(arr[1]["file"], "dir/Docker\"file");
        assert_eq!(arr[2]["level"], "info");
        assert_eq!(arr[3]["line"], 4);
        assert_eq!(arr[3]["column"], 2);
        assert_eq!(json(&[]), "[]\n");
    }

    #[test]
    fn sarif_has_the_21_structure() {
        let findings = sample();
        let files = [FileReport {
            path: "a b/Dockerfile",
            text: TEXT,
            findings: &findings,
        }];
        let v: Value = serde_json::from_str(&sarif(&files)).unwrap();
        assert_eq!(v["version"], "2.1.0");
        assert!(v["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "plinth");
        // No informationUri: plinth has no public home to point at (the field is optional).
        assert!(run["tool"]["driver"].get("informationUri").is_none());
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["DL3006", "DL3008", "PL999", "SC2086"]);
        for r in rules {
            assert!(
                r["shortDescription"]["text"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty())
            );
            assert!(r["name"].is_string());
        }
        assert_eq!(rules[3]["defaultConfiguration"]["level"], "note");
        assert_eq!(
            rules[3]["helpUri"],
            "https://www.shellcheck.net/wiki/SC2086"
        );
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 4);
        let r = &results[1];
        assert_eq!(r["ruleId"], "DL3008");
        assert_eq!(r["ruleIndex"], 1);
        assert_eq!(r["level"], "warning");
        assert_eq!(r["message"]["text"], findings[1].message.as_str());
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "a%20b/Dockerfile");
        assert_eq!(loc["region"]["startLine"], 2);
        assert_eq!(loc["region"]["startColumn"], 1);
        assert_eq!(loc["region"]["endLine"], 3);
        // info and style are notes.
        assert_eq!(results[2]["level"], "note");
        assert_eq!(results[3]["level"], "note");
        assert_eq!(results[0]["level"], "warning");
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(
            xml_escape("a<b & \"c\" 'd'>\n\te\u{1}"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;&#10;&#9;e\u{FFFD}"
        );
    }

    /// The value of `attr="..."` in `tag`, unescaped (enough for these tests).
    fn attr<'a>(tag: &'a str, name: &str) -> &'a str {
        let start = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        let len = tag[start..].find('"').unwrap();
        &tag[start..start + len]
    }

    #[test]
    fn checkstyle_lists_every_file_with_escaped_attributes() {
        let findings = sample();
        let files = [
            FileReport {
                path: "x<&>/Dockerfile",
                text: TEXT,
                findings: &findings,
            },
            FileReport {
                path: "clean/Dockerfile",
                text: "FROM a\n",
                findings: &[],
            },
        ];
        let out = checkstyle(&files);
        assert!(out.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<checkstyle version=\"4.3\">"
        ));
        assert!(out.contains("<file name=\"x&lt;&amp;&gt;/Dockerfile\">"));
        assert!(out.contains("<file name=\"clean/Dockerfile\">\n  </file>"));
        let errors: Vec<&str> = out
            .lines()
            .filter(|l| l.trim_start().starts_with("<error "))
            .collect();
        assert_eq!(errors.len(), 4);
        assert_eq!(
            attr(errors[1], "message"),
            "Pin versions in &quot;apt-get install&quot; &lt;pkg&gt;=&lt;version&gt; &amp; co.&#10;second line"
        );
        assert_eq!(attr(errors[1], "source"), "DL3008");
        assert_eq!(attr(errors[2], "severity"), "info");
        assert_eq!(attr(errors[3], "column"), "2");
        // No raw special character survives inside an attribute value.
        for e in &errors {
            let m = attr(e, "message");
            assert!(!m.contains('<') && !m.contains('\n'), "{m}");
        }
    }

    #[test]
    fn junit_has_a_suite_per_file_and_a_failure_per_finding() {
        let findings = sample();
        let files = [
            FileReport {
                path: "Dockerfile",
                text: TEXT,
                findings: &findings,
            },
            FileReport {
                path: "ok/Dockerfile",
                text: "FROM a\n",
                findings: &[],
            },
        ];
        let out = junit(&files);
        assert_eq!(out.matches("<testsuite ").count(), 2);
        assert_eq!(out.matches("<failure ").count(), 4);
        assert_eq!(out.matches("<testcase ").count(), 5);
        assert!(out.contains("<testsuites name=\"plinth lint\" tests=\"5\" failures=\"4\""));
        assert!(out.contains("<testsuite name=\"ok/Dockerfile\" tests=\"1\" failures=\"0\""));
        assert!(out.contains("<testcase name=\"lint\" classname=\"ok/Dockerfile\""));
        assert!(out.contains(
            "message=\"Double quote to &apos;prevent&apos; globbing\">Dockerfile:2:1: SC2086 info: Double quote to &apos;prevent&apos; globbing</failure>"
        ));
        assert!(!out.contains("\"apt-get"));
    }

    #[test]
    fn gitlab_has_code_climate_fields_and_stable_fingerprints() {
        let findings = sample();
        let files = [FileReport {
            path: "Dockerfile",
            text: TEXT,
            findings: &findings,
        }];
        let v: Value = serde_json::from_str(&gitlab(&files)).unwrap();
        let arr = v.as_array().unwrap();
        assert_eq!(arr.len(), 4);
        assert_eq!(arr[1]["check_name"], "DL3008");
        assert_eq!(arr[1]["description"], findings[1].message.as_str());
        assert_eq!(arr[1]["location"]["path"], "Dockerfile");
        assert_eq!(arr[1]["location"]["lines"]["begin"], 2);
        let sev: Vec<&str> = arr
            .iter()
            .map(|i| i["severity"].as_str().unwrap())
            .collect();
        assert_eq!(sev, ["major", "major", "info", "minor"]);
        let fp: Vec<&str> = arr
            .iter()
            .map(|i| i["fingerprint"].as_str().unwrap())
            .collect();
        assert!(fp.iter().all(|f| f.len() == 64));
        let unique: std::collections::BTreeSet<&&str> = fp.iter().collect();
        assert_eq!(unique.len(), 4);
        // Stable: the same input gives the same fingerprints; another path another one.
        let again: Value = serde_json::from_str(&gitlab(&files)).unwrap();
        assert_eq!(again[0]["fingerprint"], arr[0]["fingerprint"]);
        assert_ne!(fingerprint("other/Dockerfile", &findings[0]), fp[0]);
        let severities = [
            Severity::Error,
            Severity::Warning,
            Severity::Info,
            Severity::Style,
        ];
        let mapped: Vec<&str> = severities
            .iter()
            .map(|s| codeclimate_severity(*s))
            .collect();
        assert_eq!(mapped, ["blocker", "major", "info", "minor"]);
    }

    #[test]
    fn tty_shows_the_lines_and_a_caret_under_the_column() {
        let findings = sample();
        let files = [FileReport {
            path: "Dockerfile",
            text: TEXT,
            findings: &findings,
        }];
        let out = tty(&files, Color::Never);
        assert!(!out.contains('\x1b'));
        assert!(out.contains(
            "Dockerfile:2:1: DL3008 warning: Pin versions in \"apt-get install\" <pkg>=<version> & co.\nsecond line\n  |\n2 | RUN apt-get update && \\\n  | ^\n3 |   apt-get install -y curl\n\n"
        ), "{out}");
        // The caret under column 2 of a line that starts with a tab keeps the tab.
        assert!(out.contains("4 | \tUSER root\n  | \t^\n"), "{out}");
        assert!(
            out.ends_with("4 findings (2 warnings, 1 info, 1 style) in 1 file\n"),
            "{out}"
        );
        let colored = tty(&files, Color::Always);
        assert!(colored.contains("\x1b[1;33mwarning\x1b[0m"));
        let clean = tty(
            &[FileReport {
                path: "D",
                text: "FROM a\n",
                findings: &[],
            }],
            Color::Never,
        );
        assert_eq!(clean, "no findings in 1 file\n");
    }

    #[test]
    fn tty_survives_positions_outside_the_text() {
        let f = [
            finding("X1", Severity::Error, 40, 300, "far away"),
            finding("X2", Severity::Error, 1, 99, "past the end"),
        ];
        let out = tty(
            &[FileReport {
                path: "D",
                text: "FROM a\n",
                findings: &f,
            }],
            Color::Never,
        );
        assert!(out.contains("D:40:300: X1 error: far away\n\n"));
        assert!(out.contains("1 | FROM a\n  |       ^\n"), "{out}");
        let out = render(
            Format::Json,
            &[FileReport {
                path: "D",
                text: "",
                findings: &f,
            }],
            Color::Never,
        );
        assert!(serde_json::from_str::<Value>(&out).is_ok());
    }
}
