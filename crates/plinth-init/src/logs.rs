//! Log following: software that insists on writing log files writes them under
//! `/application/logging/`, and plinth-init copies their lines to the container's stdout/stderr,
//! so `docker logs` (or any log collector) sees them.
//!
//! # Behaviour
//!
//! - Every regular file under `/application/logging` is followed, in subdirectories too (up to 4
//!   levels: `logging/a/b/c/file.log`). Symlinks are not followed (a `access.log -> /dev/stdout`
//!   link is left alone), nor are fifos, sockets or devices.
//! - Files that exist when plinth-init starts are followed from their end: a previous run's lines
//!   are not replayed. Files created later are read from their beginning.
//! - Lines are copied as they are (no prefix, no reformatting). Lines of a file whose name contains
//!   `err` (`error.log`, `stderr`, `app.err`, any case) go to stderr; all others go to stdout.
//! - Files are tracked by identity (device and inode), so rotation works: a renamed file keeps its
//!   position, and a new file created at the old path is read from its beginning. A file that
//!   shrinks (truncated, `> file`) is read again from its beginning.
//! - A last line without a newline waits for the rest of it; if it is still incomplete two polls
//!   later it is copied anyway (with a newline added), and so is any line longer than 64 KiB.
//! - Files are polled (every second by default), not watched: no inotify needed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Deepest file followed (1 = directly in the logging directory).
const MAX_DEPTH: usize = 4;
/// At most this much of one file is read per poll (the rest follows on the next polls).
const READ_PER_POLL: u64 = 1 << 20;
/// A partial line longer than this is copied without waiting for its end.
const MAX_LINE: usize = 64 * 1024;
/// Polls an incomplete last line waits before it is copied anyway.
const PARTIAL_POLLS: u32 = 2;

/// Where a file's lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

#[derive(Debug)]
struct Tracked {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    stale: u32,
    stream: Stream,
}

/// Follows the files of one directory; see the module documentation.
#[derive(Debug)]
pub struct Follower {
    dir: PathBuf,
    /// Keyed by (device, inode).
    files: BTreeMap<(u64, u64), Tracked>,
}

/// Whether partial lines are flushed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Partial {
    Wait,
    FlushAll,
}

fn stream_for(path: &Path) -> Stream {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.contains("err") {
        Stream::Err
    } else {
        Stream::Out
    }
}

/// Regular files under `dir` (not following symlinks), sorted by path, with their metadata.
fn scan(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<(PathBuf, std::fs::Metadata)>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in rd.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_file() {
                out.push((path, meta));
            } else if meta.is_dir() && depth < MAX_DEPTH {
                walk(&path, depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, 1, &mut out);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

impl Follower {
    /// Starts following `dir`; files existing now are followed from their end.
    pub fn new(dir: PathBuf) -> Follower {
        let mut files = BTreeMap::new();
        for (path, meta) in scan(&dir) {
            files.insert(
                (meta.dev(), meta.ino()),
                Tracked {
                    stream: stream_for(&path),
                    path,
                    offset: meta.len(),
                    partial: Vec::new(),
                    stale: 0,
                },
            );
        }
        Follower { dir, files }
    }

    /// One pass: copies new complete lines of every followed file to `out` or `err`.
    /// Only write errors are returned; files that vanish or cannot be read are skipped.
    pub fn poll(&mut self, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<()> {
        self.pass(out, err, Partial::Wait)
    }

    /// A final pass: like [`Follower::poll`], then copies every incomplete last line too.
    pub fn finish(&mut self, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<()> {
        self.pass(out, err, Partial::FlushAll)
    }

    fn pass(&mut self, out: &mut dyn Write, err: &mut dyn Write, mode: Partial) -> io::Result<()> {
        let mut seen = BTreeSet::new();
        for (path, meta) in scan(&self.dir) {
            let key = (meta.dev(), meta.ino());
            if !seen.insert(key) {
                continue; // a hard link to a file already read in this pass
            }
            let t = self.files.entry(key).or_insert_with(|| Tracked {
                path: path.clone(),
                offset: 0,
                partial: Vec::new(),
                stale: 0,
                stream: stream_for(&path),
            });
            t.path = path;
            let w: &mut dyn Write = match t.stream {
                Stream::Out => &mut *out,
                Stream::Err => &mut *err,
            };
            if meta.len() < t.offset {
                flush_partial(t, w)?;
                t.offset = 0;
            }
            read_new(t, meta.len(), w, mode)?;
        }
        // Files that are gone: copy what is left of them and forget them.
        let gone: Vec<(u64, u64)> = self
            .files
            .keys()
            .filter(|k| !seen.contains(k))
            .copied()
            .collect();
        for k in gone {
            if let Some(mut t) = self.files.remove(&k) {
                let w: &mut dyn Write = match t.stream {
                    Stream::Out => &mut *out,
                    Stream::Err => &mut *err,
                };
                flush_partial(&mut t, w)?;
            }
        }
        out.flush()?;
        err.flush()
    }
}

fn flush_partial(t: &mut Tracked, w: &mut dyn Write) -> io::Result<()> {
    if !t.partial.is_empty() {
        t.partial.push(b'\n');
        w.write_all(&t.partial)?;
        t.partial.clear();
    }
    t.stale = 0;
    Ok(())
}

fn read_new(t: &mut Tracked, len: u64, w: &mut dyn Write, mode: Partial) -> io::Result<()> {
    let had_partial = !t.partial.is_empty();
    let mut newline_seen = false;
    if len > t.offset {
        let want = (len - t.offset).min(READ_PER_POLL);
        let mut buf = Vec::new();
        let read = File::open(&t.path).and_then(|mut f| {
            f.seek(SeekFrom::Start(t.offset))?;
            f.take(want).read_to_end(&mut buf)
        });
        if let Ok(n) = read {
            t.offset += n as u64;
            t.partial.extend_from_slice(&buf);
            if let Some(last_nl) = t.partial.iter().rposition(|b| *b == b'\n') {
                newline_seen = true;
                w.write_all(&t.partial[..=last_nl])?;
                t.partial.drain(..=last_nl);
            }
        }
    }
    if t.partial.is_empty() {
        t.stale = 0;
    } else if mode == Partial::FlushAll || t.partial.len() > MAX_LINE {
        flush_partial(t, w)?;
    } else if newline_seen || !had_partial {
        t.stale = 0;
    } else {
        t.stale += 1;
        if t.stale >= PARTIAL_POLLS {
            flush_partial(t, w)?;
        }
    }
    Ok(())
}

/// Follows `dir` on a thread: polls every `interval`, copying to the real stdout/stderr; once
/// `stop` is set it makes a final pass (copying incomplete lines too) and ends.
pub fn spawn(dir: PathBuf, interval: Duration, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut f = Follower::new(dir);
        let step = interval
            .min(Duration::from_millis(50))
            .max(Duration::from_millis(1));
        loop {
            let stopping = stop.load(Ordering::SeqCst);
            let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
            // A closed stdout/stderr must not kill PID 1's helper thread: keep following.
            let _ = if stopping {
                f.finish(&mut out, &mut err)
            } else {
                f.poll(&mut out, &mut err)
            };
            drop((out, err));
            if stopping {
                return;
            }
            let mut waited = Duration::ZERO;
            while waited < interval && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(step);
                waited += step;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::{self, OpenOptions};
    use std::time::Instant;

    fn append(path: &Path, s: &str) {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open");
        f.write_all(s.as_bytes()).expect("write");
    }

    fn poll(f: &mut Follower) -> (String, String) {
        let (mut o, mut e) = (Vec::new(), Vec::new());
        f.poll(&mut o, &mut e).expect("poll");
        (
            String::from_utf8_lossy(&o).into_owned(),
            String::from_utf8_lossy(&e).into_owned(),
        )
    }

    #[test]
    fn old_content_is_not_replayed_and_streams_are_routed() {
        let t = tempfile::tempdir().expect("tempdir");
        let d = t.path();
        append(&d.join("access.log"), "old line\n");
        let mut f = Follower::new(d.to_path_buf());
        assert_eq!(poll(&mut f), (String::new(), String::new()));
        append(&d.join("access.log"), "GET /\nGET /x\n");
        append(&d.join("Error.log"), "boom\n");
        let (o, e) = poll(&mut f);
        assert_eq!(o, "GET /\nGET /x\n");
        assert_eq!(e, "boom\n");
        assert_eq!(
            poll(&mut f),
            (String::new(), String::new()),
            "nothing twice"
        );
    }

    #[test]
    fn nested_new_files_from_start_depth_limit_and_symlinks_skipped() {
        let t = tempfile::tempdir().expect("tempdir");
        let d = t.path().join("logging");
        fs::create_dir_all(d.join("a/b/c/d")).expect("mkdir");
        let mut f = Follower::new(d.clone());
        append(&d.join("a/b/c/deep.log"), "depth 4\n");
        append(&d.join("a/b/c/d/deeper.log"), "depth 5\n");
        let outside = t.path().join("outside.log");
        append(&outside, "outside\n");
        std::os::unix::fs::symlink(&outside, d.join("link.log")).expect("symlink");
        let (o, _) = poll(&mut f);
        assert_eq!(o, "depth 4\n");
    }

    #[test]
    fn truncation_and_rotation() {
        let t = tempfile::tempdir().expect("tempdir");
        let d = t.path();
        let p = d.join("app.log");
        let mut f = Follower::new(d.to_path_buf());
        append(&p, "one\ntwo\n");
        assert_eq!(poll(&mut f).0, "one\ntwo\n");
        fs::write(&p, "x\n").expect("truncate+write");
        assert_eq!(poll(&mut f).0, "x\n");
        // Rotation: the renamed file keeps its position, the new file is read from 0.
        append(&p, "before rotate\n");
        fs::rename(&p, d.join("app.log.1")).expect("rename");
        append(&d.join("app.log.1"), "late write to old\n");
        append(&p, "new file\n");
        let (o, _) = poll(&mut f);
        // Files are read in path order: app.log (the new file) before app.log.1.
        assert_eq!(o, "new file\nbefore rotate\nlate write to old\n");
    }

    #[test]
    fn partial_line_waits_then_flushes() {
        let t = tempfile::tempdir().expect("tempdir");
        let p = t.path().join("stderr");
        let mut f = Follower::new(t.path().to_path_buf());
        append(&p, "complete\nhalf");
        assert_eq!(poll(&mut f).1, "complete\n");
        append(&p, " more");
        assert_eq!(poll(&mut f).1, "", "still waiting");
        append(&p, " end\n");
        assert_eq!(poll(&mut f).1, "half more end\n");
        append(&p, "dangling");
        assert_eq!(poll(&mut f).1, "");
        assert_eq!(poll(&mut f).1, "");
        assert_eq!(
            poll(&mut f).1,
            "dangling\n",
            "flushed after 2 incomplete polls"
        );
        append(&p, "tail");
        let (mut o, mut e) = (Vec::new(), Vec::new());
        f.finish(&mut o, &mut e).expect("finish");
        assert_eq!(e, b"tail\n");
    }

    #[test]
    fn spawned_follower_stops_when_asked() {
        let t = tempfile::tempdir().expect("tempdir");
        let stop = Arc::new(AtomicBool::new(false));
        let h = spawn(
            t.path().to_path_buf(),
            Duration::from_secs(3600),
            stop.clone(),
        );
        std::thread::sleep(Duration::from_millis(20));
        assert!(!h.is_finished());
        let started = Instant::now();
        stop.store(true, Ordering::SeqCst);
        h.join().expect("thread ends cleanly");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn missing_dir_is_quiet() {
        let t = tempfile::tempdir().expect("tempdir");
        let mut f = Follower::new(t.path().join("nope"));
        assert_eq!(poll(&mut f), (String::new(), String::new()));
    }
}
