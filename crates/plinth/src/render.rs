//! Rendering: build progress (plain lines or JSON lines on stderr) and listings (table or JSON).

use std::io::Write;
use std::time::Instant;

use anyhow::Result;
use clap::ValueEnum;
use plinth_build::{BuildEvent, BuildResult};
use plinth_oci::Digest;
use plinth_oci::store::ListedImage;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// `tty` on a terminal, `plain` otherwise (CI logs, pipes).
    Auto,
    /// A compact display: one line per step, the last lines of a running step's output below it,
    /// redrawn in place.
    Tty,
    /// One line per step and event, RUN output as it comes.
    Plain,
    /// One JSON object per event and line, for other tools.
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

/// How many output lines the tty display keeps under the running step.
const WINDOW: usize = 6;

/// Writes build events to stderr.
pub struct BuildRenderer {
    mode: ProgressMode,
    started: Instant,
    step_started: Instant,
    /// tty: the output lines shown under the current step, and how many are drawn.
    window: std::collections::VecDeque<String>,
    partial: String,
    drawn: usize,
    width: usize,
    /// A family build: the image whose events these are (lines start with `name | `, JSON
    /// objects get an `image` field; never the tty display).
    image: Option<String>,
}

impl BuildRenderer {
    pub fn new(mode: ProgressMode, is_terminal: bool) -> Self {
        let mode = match mode {
            ProgressMode::Auto if is_terminal => ProgressMode::Tty,
            ProgressMode::Auto => ProgressMode::Plain,
            m => m,
        };
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100usize);
        BuildRenderer {
            mode,
            started: Instant::now(),
            step_started: Instant::now(),
            window: std::collections::VecDeque::new(),
            partial: String::new(),
            drawn: 0,
            width: width.max(20),
            image: None,
        }
    }

    /// A renderer for one image of a family build (several print at once, so the tty display
    /// becomes plain lines).
    pub fn for_image(mode: ProgressMode, image: &str) -> Self {
        let mode = match mode {
            ProgressMode::Json => ProgressMode::Json,
            _ => ProgressMode::Plain,
        };
        let mut r = BuildRenderer::new(mode, false);
        r.image = Some(image.to_string());
        r
    }

    /// Writes `text` with the image prefix on each complete line (a partial line waits).
    fn prefixed(&mut self, err: &mut impl Write, text: &str) {
        let Some(image) = &self.image else {
            let _ = err.write_all(text.as_bytes());
            return;
        };
        self.partial.push_str(text);
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            let _ = write!(err, "{image} | {line}");
        }
    }

    /// A line of this renderer (prefixed in a family build).
    pub fn line(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        self.prefixed(&mut err, &format!("{text}\n"));
    }

    /// tty: erases the output window.
    fn clear_window(&mut self, err: &mut impl Write) {
        if self.drawn > 0 {
            let _ = write!(err, "\x1b[{}A\x1b[J", self.drawn);
            self.drawn = 0;
        }
        self.window.clear();
        self.partial.clear();
    }

    /// tty: adds output and redraws the window in place.
    fn show_output(&mut self, err: &mut impl Write, text: &str) {
        self.partial.push_str(text);
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial[..i].trim_end_matches('\r').to_string();
            self.partial.drain(..=i);
            if self.window.len() == WINDOW {
                self.window.pop_front();
            }
            self.window.push_back(line);
        }
        if self.drawn > 0 {
            let _ = write!(err, "\x1b[{}A", self.drawn);
        }
        let max = self.width.saturating_sub(6);
        for line in &self.window {
            let shown: String = line.chars().filter(|c| !c.is_control()).take(max).collect();
            let _ = writeln!(err, "\x1b[2K  \x1b[2m│ {shown}\x1b[0m");
        }
        self.drawn = self.window.len();
    }

    pub fn event(&mut self, ev: &BuildEvent) {
        let mut err = std::io::stderr().lock();
        if self.mode == ProgressMode::Json {
            let value = match (serde_json::to_value(ev), &self.image) {
                (Ok(serde_json::Value::Object(mut map)), Some(image)) => {
                    map.insert("image".into(), image.clone().into());
                    serde_json::Value::Object(map)
                }
                (Ok(v), _) => v,
                (Err(_), _) => return,
            };
            let _ = writeln!(err, "{value}");
            return;
        }
        if self.image.is_some() {
            // Rendered into a buffer, then prefixed line by line.
            let mut buf = Vec::new();
            self.write_event(&mut buf, ev, false);
            let text = String::from_utf8_lossy(&buf).into_owned();
            self.prefixed(&mut err, &text);
            return;
        }
        self.write_event(&mut err, ev, true);
    }

    fn write_event(&mut self, err: &mut impl Write, ev: &BuildEvent, allow_tty: bool) {
        let tty = allow_tty && self.mode == ProgressMode::Tty;
        if tty && !matches!(ev, BuildEvent::Output { .. }) {
            self.clear_window(err);
        }
        let _ = match ev {
            BuildEvent::Start {
                dockerfile,
                epoch,
                epoch_source,
                stages,
            } => writeln!(
                err,
                "building {dockerfile} ({stages} stage{}; SOURCE_DATE_EPOCH={epoch} from {epoch_source})",
                if *stages == 1 { "" } else { "s" }
            ),
            BuildEvent::Step {
                stage,
                index,
                total,
                instruction,
            } => {
                self.step_started = Instant::now();
                writeln!(err, "[{stage} {index}/{total}] {instruction}")
            }
            BuildEvent::Layer { digest, size } => writeln!(
                err,
                "  layer {} {} in {:.2}s",
                &digest.to_string()[..19],
                human_size(*size),
                self.step_started.elapsed().as_secs_f64()
            ),
            BuildEvent::Warning { line, message } => match line {
                Some(l) => writeln!(err, "warning: line {l}: {message}"),
                None => writeln!(err, "warning: {message}"),
            },
            BuildEvent::Tagged { name } => writeln!(err, "tagged {name}"),
            BuildEvent::Context { name, message } => writeln!(err, "  [{name}] {message}"),
            BuildEvent::Cached { .. } => writeln!(err, "  cached"),
            BuildEvent::Pulling { reference } => writeln!(err, "  pulling {reference}"),
            BuildEvent::BaseResolved { reference, digest } => writeln!(
                err,
                "  {reference} is {digest} (not pinned: `plinth pin` pins it)"
            ),
            BuildEvent::Output { text } if tty => {
                self.show_output(err, text);
                Ok(())
            }
            BuildEvent::Output { text } => err.write_all(text.as_bytes()),
        };
    }

    pub fn finish(&mut self, result: &BuildResult) {
        if self.mode == ProgressMode::Json {
            return;
        }
        if self.mode == ProgressMode::Tty {
            self.clear_window(&mut std::io::stderr().lock());
        }
        eprintln!(
            "built {} ({}, {} layers) in {:.2}s",
            result.manifest.digest,
            human_size(result.size),
            result.layers,
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// One row of `plinth images`.
#[derive(Debug, Serialize)]
struct ImageRow {
    name: Option<String>,
    digest: Digest,
    image_id: Option<Digest>,
    size: u64,
    created: Option<String>,
    error: Option<String>,
}

/// Prints the store's images.
pub fn images(entries: &[ListedImage], format: ListFormat) -> Result<()> {
    let images: Vec<ImageRow> = entries
        .iter()
        .map(|e| {
            let (name, digest) = (e.name.clone(), e.descriptor.digest.clone());
            match &e.summary {
                Ok(s) => ImageRow {
                    name,
                    digest,
                    image_id: Some(s.image_id.clone()),
                    size: s.size,
                    created: s.created.clone(),
                    error: None,
                },
                Err(err) => ImageRow {
                    name,
                    digest,
                    image_id: None,
                    size: 0,
                    created: None,
                    error: Some(err.to_string()),
                },
            }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match format {
        ListFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &images)?;
            writeln!(out)?;
        }
        ListFormat::Table => {
            let rows: Vec<[String; 5]> = images
                .iter()
                .map(|i| {
                    let (name, tag) = split_name_tag(i.name.as_deref());
                    [
                        name,
                        tag,
                        i.digest.to_string()[7..19].to_string(),
                        human_size(i.size),
                        match &i.error {
                            Some(e) => format!("broken: {e}"),
                            None => i.created.clone().unwrap_or_else(|| "-".to_string()),
                        },
                    ]
                })
                .collect();
            let header = ["NAME", "TAG", "DIGEST", "SIZE", "CREATED"];
            let mut widths = header.map(str::len);
            for r in &rows {
                for (w, c) in widths.iter_mut().zip(r.iter()) {
                    *w = (*w).max(c.len());
                }
            }
            let line = |cells: [&str; 5]| {
                let mut s = String::new();
                for (i, c) in cells.iter().enumerate() {
                    if i + 1 == cells.len() {
                        s.push_str(c);
                    } else {
                        s.push_str(&format!("{c:<w$}  ", w = widths[i]));
                    }
                }
                s
            };
            writeln!(out, "{}", line(header))?;
            for r in &rows {
                writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3], &r[4]]))?;
            }
        }
    }
    Ok(())
}

/// Splits `registry:5000/team/app:1.0` into (`registry:5000/team/app`, `1.0`) with Docker's
/// reference grammar; a name other tools wrote that is not a reference is shown whole.
fn split_name_tag(name: Option<&str>) -> (String, String) {
    match name.map(|n| (n, plinth_oci::reference::ImageRef::parse(n))) {
        None => ("<none>".to_string(), "<none>".to_string()),
        Some((_, Ok(r))) => (r.name.clone(), r.tag_or_latest().to_string()),
        Some((n, Err(_))) => (n.to_string(), String::new()),
    }
}

/// `1.2MB`-style sizes (decimal units, as docker shows them).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes}B")
    } else {
        format!("{v:.3}{}", UNITS[u]).replace(".000", "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_names_with_registry_ports() {
        assert_eq!(
            split_name_tag(Some("localhost:5000/a/b:1.0")),
            ("localhost:5000/a/b".into(), "1.0".into())
        );
        assert_eq!(
            split_name_tag(Some("localhost:5000/a/b")),
            ("localhost:5000/a/b".into(), "latest".into())
        );
        assert_eq!(split_name_tag(Some("app:x")), ("app".into(), "x".into()));
        assert_eq!(split_name_tag(None), ("<none>".into(), "<none>".into()));
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(1_234_567), "1.235MB");
    }
}
