//! `.dockerignore` files and the pattern language shared by `COPY --exclude` and `COPY --parents`,
//! with the exact semantics of moby's `patternmatcher` and of BuildKit's context walker (fsutil).
//!
//! Reading a file (moby `ignorefile.ReadAll`): a UTF-8 BOM on the first line is dropped; a line whose
//! first byte is `#` is a comment; lines are trimmed; empty lines are skipped; a leading `!` marks an
//! exception; the rest is cleaned like Go's `filepath.Clean` and a leading `/` is removed, so every
//! pattern is relative to the context root.
//!
//! Matching (moby `patternmatcher`): `*` is any run of non-`/` characters, `?` one non-`/`
//! character, `[...]` a character class as in Go's `filepath.Match`, `\` escapes the next character,
//! and `**` matches any number of directories (including none). Patterns are anchored at the root
//! and match a path or any of its parents (so `docs` excludes `docs/a/b`). The last pattern that
//! matches wins. A directory that is excluded is still walked when an exception could re-include
//! something inside it; that is the rule BuildKit's walker uses ([`Dockerignore::may_reinclude_under`]).
//!
//! Deviations, all on patterns Docker itself fails on or treats absurdly: a character class with a
//! reversed range (`[z-a]`) is a syntax error here at parse time (moby fails later, at match time);
//! inside a class and after `\`, characters keep their `filepath.Match` meaning (moby feeds them to a
//! regular expression, where `\d` is a digit class and `[*]` is nonsense).
//!
//! This module does no IO.

use std::fmt;

/// A `.dockerignore` pattern that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    /// The pattern is not valid `filepath.Match` syntax (`[` not closed, trailing `\`, ...).
    #[error("{}syntax error in pattern {pattern:?}", at_line(*line))]
    BadPattern {
        line: Option<usize>,
        pattern: String,
    },
    /// A line holding only `!`.
    #[error("{}illegal exclusion pattern: \"!\"", at_line(*line))]
    LoneExclamation { line: Option<usize> },
}

fn at_line(line: Option<usize>) -> String {
    match line {
        Some(n) => format!(".dockerignore line {n}: "),
        None => String::new(),
    }
}

/// A Go `filepath.Match` pattern that is malformed (Go's `ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern")]
pub struct BadPattern;

/// A parsed list of ignore patterns (a `.dockerignore` file, or `COPY --exclude` flags).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Dockerignore {
    patterns: Vec<Pattern>,
    /// True when no exception pattern (after dropping a trailing `/*` or `/**`) has a wildcard:
    /// then a walker may skip an excluded directory unless an exception names a path under it.
    only_prefix_exceptions: bool,
}

impl fmt::Debug for Dockerignore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.patterns.iter().map(|p| p.to_string()))
            .finish()
    }
}

/// One compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    /// The cleaned pattern without the leading `!`.
    text: String,
    exclusion: bool,
    kind: MatchKind,
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.exclusion {
            write!(f, "!{}", self.text)
        } else {
            f.write_str(&self.text)
        }
    }
}

/// How a pattern matches, as moby's `compile` classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum MatchKind {
    /// No wildcard: the path equals the pattern.
    Exact,
    /// `prefix**`: the path starts with the prefix.
    Prefix(String),
    /// `**suffix` with no other wildcard: the path ends with the suffix (or equals it without its `/`).
    Suffix(String),
    /// Anything else, matched like moby's generated regular expression.
    Tokens(Vec<Tok>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`: `[^/]*`
    Star,
    /// `?`: `[^/]`
    One,
    /// `**` followed by more pattern: `(.*/)?`
    Dirs,
    /// `**` at the end: `.*`
    All,
    Class(Class),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

/// Per-pattern results for a directory, handed to its children ([`Dockerignore::matches_with_parent`]).
/// The default value means "no information" (a path at the root, or a path checked on its own).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo {
    parent_matched: Vec<bool>,
}

impl Dockerignore {
    /// Parses the text of a `.dockerignore` file. A bad pattern is an error naming its line.
    pub fn parse(text: &str) -> Result<Dockerignore, IgnoreError> {
        let mut lines = Vec::new();
        for (idx, raw) in text.split('\n').enumerate() {
            let mut line = raw.strip_suffix('\r').unwrap_or(raw);
            if idx == 0 {
                line = line.strip_prefix('\u{feff}').unwrap_or(line);
            }
            if line.starts_with('#') {
                continue;
            }
            let mut pattern = line.trim();
            if pattern.is_empty() {
                continue;
            }
            let invert = pattern.starts_with('!');
            if invert {
                pattern = pattern[1..].trim();
            }
            let mut cleaned = String::new();
            if !pattern.is_empty() {
                cleaned = clean_path(pattern);
                if cleaned.len() > 1 && cleaned.starts_with('/') {
                    cleaned.remove(0);
                }
            }
            if invert {
                cleaned.insert(0, '!');
            }
            lines.push((Some(idx + 1), cleaned));
        }
        Self::build(lines)
    }

    /// Builds a matcher from patterns given one by one (moby `patternmatcher.New`), as for
    /// `COPY --exclude=...`: each is trimmed and cleaned, `!` marks an exception. Unlike
    /// [`Dockerignore::parse`], no leading `/` is removed (BuildKit does not either).
    pub fn from_patterns<I, S>(patterns: I) -> Result<Dockerignore, IgnoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::build(
            patterns
                .into_iter()
                .map(|p| (None, p.as_ref().to_string()))
                .collect(),
        )
    }

    fn build(raw: Vec<(Option<usize>, String)>) -> Result<Dockerignore, IgnoreError> {
        let mut patterns = Vec::new();
        for (line, p) in raw {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let mut p = clean_path(p);
            let exclusion = p.starts_with('!');
            if exclusion {
                if p.len() == 1 {
                    return Err(IgnoreError::LoneExclamation { line });
                }
                p.remove(0);
            }
            if path_match(&p, ".").is_err() {
                return Err(IgnoreError::BadPattern { line, pattern: p });
            }
            let kind = compile(&p).ok_or_else(|| IgnoreError::BadPattern {
                line,
                pattern: p.clone(),
            })?;
            patterns.push(Pattern {
                text: p,
                exclusion,
                kind,
            });
        }
        let only_prefix_exceptions = !patterns.iter().any(|p| {
            p.exclusion && without_trailing_glob(&p.text).contains(['*', '[', ']', '?', '^', '\\'])
        });
        Ok(Dockerignore {
            patterns,
            only_prefix_exceptions,
        })
    }

    /// True when there are no patterns at all.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// True when at least one pattern is an exception (`!pattern`).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exclusion)
    }

    /// The cleaned patterns, exceptions with their leading `!`, in order.
    pub fn patterns(&self) -> Vec<String> {
        self.patterns.iter().map(|p| p.to_string()).collect()
    }

    /// One step of a walk (moby `MatchesUsingParentResults`): whether `path` (relative, `/`-separated)
    /// is excluded, given the [`MatchInfo`] its parent directory got. Returns the info to pass to
    /// this path's children when it is a directory.
    pub fn matches_with_parent(&self, path: &str, parent: &MatchInfo) -> (bool, MatchInfo) {
        let parent_matched = if parent.parent_matched.len() == self.patterns.len() {
            &parent.parent_matched[..]
        } else {
            &[][..]
        };
        let mut matched = false;
        let mut info = MatchInfo {
            parent_matched: vec![false; self.patterns.len()],
        };
        for (i, pattern) in self.patterns.iter().enumerate() {
            let mut m = parent_matched.get(i).copied().unwrap_or(false);
            if !m {
                // An inclusion that already matched, or an exception before anything matched,
                // cannot change the result: skip it (moby does, and records "no match").
                if pattern.exclusion != matched {
                    continue;
                }
                m = pattern.matches(path);
                if !m && parent_matched.is_empty() {
                    m = parents(path).any(|dir| pattern.matches(dir));
                }
            }
            info.parent_matched[i] = m;
            if m {
                matched = !pattern.exclusion;
            }
        }
        (matched, info)
    }

    /// Whether `path` matches, with its parents' results computed the way a walk from the root
    /// computes them (so the answer is the one BuildKit's context transfer gives for that path
    /// when its parent directories are walked). Does not apply the walker's directory skipping:
    /// see [`Dockerignore::is_excluded`].
    pub fn matches(&self, path: &str) -> bool {
        let path = normalize_rel(path);
        if path.is_empty() {
            return false;
        }
        let mut info = MatchInfo::default();
        let mut result = false;
        for prefix in prefixes(&path) {
            let (m, next) = self.matches_with_parent(prefix, &info);
            result = m;
            info = next;
        }
        result
    }

    /// Whether `path` (relative to the root, `/`-separated) is left out of the build context:
    /// it matches, or one of its parent directories is excluded and no exception could
    /// re-include anything under that directory (so the walker never looks inside it).
    pub fn is_excluded(&self, path: &str) -> bool {
        let path = normalize_rel(path);
        if path.is_empty() || self.patterns.is_empty() {
            return false;
        }
        let mut info = MatchInfo::default();
        let all: Vec<&str> = prefixes(&path).collect();
        for (i, prefix) in all.iter().enumerate() {
            let (m, next) = self.matches_with_parent(prefix, &info);
            if i + 1 == all.len() {
                return m;
            }
            if m && !self.may_reinclude_under(prefix) {
                return true;
            }
            info = next;
        }
        false
    }

    /// For walkers: whether anything under the excluded directory `dir` could be re-included by an
    /// exception, so the directory must still be walked (fsutil's rule: when every exception is a
    /// plain path, only an exception naming a path under `dir` keeps the walk going; when one has a
    /// wildcard, every excluded directory is walked).
    pub fn may_reinclude_under(&self, dir: &str) -> bool {
        if !self.has_exceptions() {
            return false;
        }
        if !self.only_prefix_exceptions {
            return true;
        }
        let dir = normalize_rel(dir);
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .filter(|p| p.exclusion)
            .any(|p| format!("{}/", without_trailing_glob(&p.text)).starts_with(&dir_slash))
    }
}

impl Pattern {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            MatchKind::Exact => path == self.text,
            MatchKind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            MatchKind::Suffix(suffix) => {
                path.ends_with(suffix.as_str())
                    || suffix.strip_prefix('/').is_some_and(|s| path == s)
            }
            MatchKind::Tokens(toks) => match_tokens(toks, path),
        }
    }
}

/// fsutil's `patternWithoutTrailingGlob`.
fn without_trailing_glob(p: &str) -> &str {
    let p = p.strip_suffix("/**").unwrap_or(p);
    p.strip_suffix("/*").unwrap_or(p)
}

/// Strips leading/trailing `/` and cleans `.`/`..`-free relative paths as callers give them.
fn normalize_rel(path: &str) -> String {
    let cleaned = clean_path(path.trim_start_matches('/'));
    if cleaned == "." {
        String::new()
    } else {
        cleaned
    }
}

/// `a`, `a/b`, `a/b/c` for `a/b/c`.
fn prefixes(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(move |(i, _)| &path[..i])
        .chain(std::iter::once(path))
}

/// The parent directories of `path`, shortest first (`a`, `a/b` for `a/b/c`).
fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// moby's `compile`: classifies the pattern and, for the general case, turns it into tokens that
/// match exactly what moby's generated regular expression matches. `None` for a reversed range.
fn compile(pattern: &str) -> Option<MatchKind> {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regexp,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut detected = Detected::Exact;
    let mut pos = 0;
    let mut iteration = 0;
    while pos < chars.len() {
        let ch = chars[pos];
        pos += 1;
        match ch {
            '*' if chars.get(pos) == Some(&'*') => {
                pos += 1;
                if chars.get(pos) == Some(&'/') {
                    pos += 1;
                }
                if pos == chars.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        toks.push(Tok::All);
                        detected = Detected::Regexp;
                    }
                } else {
                    toks.push(Tok::Dirs);
                    detected = Detected::Regexp;
                }
                if iteration == 0 {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                detected = Detected::Regexp;
            }
            '?' => {
                toks.push(Tok::One);
                detected = Detected::Regexp;
            }
            '\\' => match chars.get(pos) {
                Some(&next) => {
                    toks.push(Tok::Lit(next));
                    pos += 1;
                    detected = Detected::Regexp;
                }
                None => toks.push(Tok::Lit('\\')),
            },
            '[' => {
                let (class, used) = parse_class(&chars[pos..])?;
                pos += used;
                toks.push(Tok::Class(class));
                detected = Detected::Regexp;
            }
            ']' => {
                toks.push(Tok::Lit(']'));
                detected = Detected::Regexp;
            }
            other => toks.push(Tok::Lit(other)),
        }
        iteration += 1;
    }
    Some(match detected {
        Detected::Exact => MatchKind::Exact,
        Detected::Prefix => MatchKind::Prefix(pattern[..pattern.len() - 2].to_string()),
        Detected::Suffix => MatchKind::Suffix(pattern[2..].to_string()),
        Detected::Regexp => MatchKind::Tokens(toks),
    })
}

/// Parses a class body after `[` with `filepath.Match`'s grammar (already validated): returns the
/// class and the number of chars consumed including the closing `]`. `None` on a reversed range
/// or a malformed class.
fn parse_class(chars: &[char]) -> Option<(Class, usize)> {
    let mut i = 0;
    let negated = chars.first() == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if chars.get(i) == Some(&']') && !ranges.is_empty() {
            return Some((Class { negated, ranges }, i + 1));
        }
        let (lo, n) = class_char(&chars[i..])?;
        i += n;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            let (h, n) = class_char(&chars[i + 1..])?;
            hi = h;
            i += 1 + n;
        }
        if lo > hi {
            return None;
        }
        ranges.push((lo, hi));
    }
}

fn class_char(chars: &[char]) -> Option<(char, usize)> {
    match chars {
        [] | ['-', ..] | [']', ..] => None,
        ['\\', c, ..] => Some((*c, 2)),
        ['\\'] => None,
        [c, ..] => Some((*c, 1)),
    }
}

/// Full match of `toks` against `path`, with the semantics of moby's regular expression.
fn match_tokens(toks: &[Tok], path: &str) -> bool {
    let s: Vec<char> = path.chars().collect();
    let n = s.len();
    let width = n + 1;
    // ok[t * width + c]: toks[t..] matches s[c..] completely.
    let mut ok = vec![false; (toks.len() + 1) * width];
    ok[toks.len() * width + n] = true;
    for t in (0..toks.len()).rev() {
        for c in (0..=n).rev() {
            let next = |cc: usize| ok[(t + 1) * width + cc];
            let v = match &toks[t] {
                Tok::Lit(l) => c < n && s[c] == *l && next(c + 1),
                Tok::One => c < n && s[c] != '/' && next(c + 1),
                Tok::Class(class) => c < n && class.matches(s[c]) && next(c + 1),
                Tok::Star => next(c) || (c < n && s[c] != '/' && ok[t * width + c + 1]),
                Tok::All => next(c) || (c < n && s[c] != '\n' && ok[t * width + c + 1]),
                Tok::Dirs => {
                    next(c)
                        || (c..n)
                            .take_while(|&k| s[k] != '\n')
                            .any(|k| s[k] == '/' && next(k + 1))
                }
            };
            ok[t * width + c] = v;
        }
    }
    ok[0]
}

/// Go's `path.Clean` (Unix `filepath.Clean`): the shortest equivalent path, `.` for an empty one.
pub fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|c| *c != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Match` on Unix: whether `name` matches the shell pattern `pattern` (`*`, `?`,
/// `[...]` with `^` negation and ranges, `\` escapes; `*` and `?` never match `/`). A malformed
/// pattern is an error even when the match fails early, as in Go.
pub fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok) = match_chunk(chunk, name)?;
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// Whether a path component holds a `filepath.Match` wildcard (`*`, `?`, `[`), skipping
/// `\`-escaped characters (fsutil's `containsWildcards`).
pub fn has_wildcard(component: &str) -> bool {
    let b = component.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

fn scan_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut pattern = pattern;
    let mut star = false;
    while pattern.first() == Some(&b'*') {
        pattern = &pattern[1..];
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Go's `utf8.DecodeRune`: U+FFFD with width 1 for an invalid byte, width 0 for empty input.
fn decode_rune(s: &[u8]) -> (char, usize) {
    if s.is_empty() {
        return ('\u{fffd}', 0);
    }
    let len = match s[0] {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return ('\u{fffd}', 1),
    };
    match s
        .get(..len)
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|st| st.chars().next())
    {
        Some(c) => (c, len),
        None => ('\u{fffd}', 1),
    }
}

fn match_chunk<'a>(chunk: &[u8], s: &'a [u8]) -> Result<(&'a [u8], bool), BadPattern> {
    let mut chunk = chunk;
    let mut s = s;
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let (c, n) = decode_rune(s);
                    r = c;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let mut negated = false;
                if chunk.first() == Some(&b'^') {
                    negated = true;
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk[0] == b'-' {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            c => {
                let mut lit = c;
                if c == b'\\' {
                    chunk = &chunk[1..];
                    match chunk.first() {
                        Some(&next) => lit = next,
                        None => return Err(BadPattern),
                    }
                }
                if !failed {
                    if lit != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        Ok((&[], false))
    } else {
        Ok((s, true))
    }
}

/// Go's `getEsc`: one possibly escaped character of a class; the rest must not be empty.
fn get_esc(chunk: &[u8]) -> Result<(char, &[u8]), BadPattern> {
    let mut chunk = chunk;
    match chunk.first() {
        None | Some(b'-') | Some(b']') => return Err(BadPattern),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(BadPattern);
            }
        }
        Some(_) => {}
    }
    let (r, n) = decode_rune(chunk);
    if r == '\u{fffd}' && n == 1 {
        return Err(BadPattern);
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Want {
        Fail,
        Exact,
        Inexact,
    }
    use Want::*;

    /// Single-pattern cases from moby/patternmatcher's `TestMatches`.
    const MATCHES: &[(&str, &str, Want)] = &[
        ("**", "file", Exact),
        ("**", "file/", Exact),
        ("**/", "file", Exact),
        ("**/", "file/", Exact),
        ("**", "/", Exact),
        ("**/", "/", Exact),
        ("**", "dir/file", Exact),
        ("**/", "dir/file", Exact),
        ("**", "dir/file/", Exact),
        ("**/", "dir/file/", Exact),
        ("**/**", "dir/file", Exact),
        ("**/**", "dir/file/", Exact),
        ("dir/**", "dir/file", Exact),
        ("dir/**", "dir/file/", Exact),
        ("dir/**", "dir/dir2/file", Exact),
        ("dir/**", "dir/dir2/file/", Exact),
        ("**/dir", "dir", Exact),
        ("**/dir", "dir/file", Inexact),
        ("**/dir2/*", "dir/dir2/file", Exact),
        ("**/dir2/*", "dir/dir2/file/", Inexact),
        ("**/dir2/**", "dir/dir2/dir3/file", Exact),
        ("**/dir2/**", "dir/dir2/dir3/file/", Exact),
        ("**file", "file", Exact),
        ("**file", "dir/file", Exact),
        ("**/file", "dir/file", Exact),
        ("**file", "dir/dir/file", Exact),
        ("**/file", "dir/dir/file", Exact),
        ("**/file*", "dir/dir/file", Exact),
        ("**/file*", "dir/dir/file.txt", Exact),
        ("**/file*txt", "dir/dir/file.txt", Exact),
        ("**/file*.txt", "dir/dir/file.txt", Exact),
        ("**/file*.txt*", "dir/dir/file.txt", Exact),
        ("**/**/*.txt", "dir/dir/file.txt", Exact),
        ("**/**/*.txt2", "dir/dir/file.txt", Fail),
        ("**/*.txt", "file.txt", Exact),
        ("**/**/*.txt", "file.txt", Exact),
        ("a**/*.txt", "a/file.txt", Exact),
        ("a**/*.txt", "a/dir/file.txt", Exact),
        ("a**/*.txt", "a/dir/dir/file.txt", Exact),
        ("a/*.txt", "a/dir/file.txt", Fail),
        ("a/*.txt", "a/file.txt", Exact),
        ("a/*.txt**", "a/file.txt", Exact),
        ("a[b-d]e", "ae", Fail),
        ("a[b-d]e", "ace", Exact),
        ("a[b-d]e", "aae", Fail),
        ("a[^b-d]e", "aze", Exact),
        (".*", ".foo", Exact),
        (".*", "foo", Fail),
        ("abc.def", "abcdef", Fail),
        ("abc.def", "abc.def", Exact),
        ("abc.def", "abcZdef", Fail),
        ("abc?def", "abcZdef", Exact),
        ("abc?def", "abcdef", Fail),
        ("**/foo/bar", "foo/bar", Exact),
        ("**/foo/bar", "dir/foo/bar", Exact),
        ("**/foo/bar", "dir/dir2/foo/bar", Exact),
        ("abc/**", "abc", Fail),
        ("abc/**", "abc/def", Exact),
        ("abc/**", "abc/def/ghi", Exact),
        ("**/.foo", ".foo", Exact),
        ("**/.foo", "bar.foo", Fail),
        ("a(b)c/def", "a(b)c/def", Exact),
        ("a(b)c/def", "a(b)c/xyz", Fail),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", Exact),
        (
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            Exact,
        ),
        (
            "dist/*.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            Exact,
        ),
        ("a\\\\", "a\\", Exact),
        ("a\\*b", "a*b", Exact),
    ];

    const MULTI: &[(&[&str], &str, Want)] = &[
        (&["**", "!util/docker/web"], "util/docker/web/foo", Fail),
        (
            &["**", "!util/docker/web", "util/docker/web/foo"],
            "util/docker/web/foo",
            Exact,
        ),
        (
            &[
                "**",
                "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            ],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            Fail,
        ),
        (
            &["**", "!dist/*.whl"],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            Fail,
        ),
    ];

    fn pm(patterns: &[&str]) -> Dockerignore {
        Dockerignore::from_patterns(patterns).unwrap()
    }

    /// moby's `MatchesExact`: no parent matching.
    fn matches_exact(d: &Dockerignore, file: &str) -> bool {
        let mut matched = false;
        for p in &d.patterns {
            if p.exclusion != matched {
                continue;
            }
            if p.matches(file) {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// The walk moby's `MatchesUsingParentResults` test does: parents first, then the path.
    fn walk_match(d: &Dockerignore, text: &str) -> bool {
        let parent = match text.rfind('/') {
            Some(i) => clean_path(&text[..i]),
            None => ".".to_string(),
        };
        let mut info = MatchInfo::default();
        if parent != "." && parent != "/" {
            for prefix in prefixes(&parent) {
                info = d.matches_with_parent(prefix, &info).1;
            }
        }
        d.matches_with_parent(text, &info).0
    }

    #[test]
    fn moby_matches_table_exact() {
        for &(pattern, text, want) in MATCHES {
            let d = pm(&[pattern]);
            assert_eq!(
                matches_exact(&d, text),
                want == Exact,
                "pattern={pattern:?} text={text:?}"
            );
        }
    }

    #[test]
    fn moby_matches_table_with_parents() {
        for &(pattern, text, want) in MATCHES {
            let d = pm(&[pattern]);
            assert_eq!(
                walk_match(&d, text),
                want != Fail,
                "pattern={pattern:?} text={text:?}"
            );
            let (no_ctx, _) = d.matches_with_parent(text, &MatchInfo::default());
            assert_eq!(
                no_ctx,
                want != Fail,
                "no context: pattern={pattern:?} text={text:?}"
            );
        }
        for &(patterns, text, want) in MULTI {
            let d = pm(patterns);
            assert_eq!(
                walk_match(&d, text),
                want != Fail,
                "patterns={patterns:?} text={text:?}"
            );
            let (no_ctx, _) = d.matches_with_parent(text, &MatchInfo::default());
            assert_eq!(
                no_ctx,
                want != Fail,
                "no context: patterns={patterns:?} text={text:?}"
            );
        }
    }

    /// moby's compile table: which patterns take the fast paths.
    #[test]
    fn moby_compile_kinds() {
        let kind = |p: &str| compile(&clean_path(p)).unwrap();
        assert!(matches!(kind("*"), MatchKind::Tokens(_)));
        assert!(matches!(kind("**"), MatchKind::Suffix(_)));
        assert!(matches!(kind("**/**"), MatchKind::Tokens(_)));
        assert!(matches!(kind("dir/**"), MatchKind::Prefix(_)));
        assert!(matches!(kind("**/dir"), MatchKind::Suffix(_)));
        assert!(matches!(kind("**/dir2/*"), MatchKind::Tokens(_)));
        assert!(matches!(kind("**file"), MatchKind::Suffix(_)));
        assert!(matches!(kind("abc.def"), MatchKind::Exact));
        assert!(matches!(kind("**/foo/bar"), MatchKind::Suffix(_)));
        assert!(matches!(kind("a(b)c/def"), MatchKind::Exact));
        assert!(matches!(kind("a.|)$(}+{bc"), MatchKind::Exact));
        assert!(matches!(kind("abc?def"), MatchKind::Tokens(_)));
    }

    /// moby's `TestMatch` (Go's filepath.Match table run through `patternmatcher.Matches`, which
    /// also matches parents, hence `a*` matching `ab/c`).
    #[test]
    fn moby_filepath_match_table() {
        let cases: &[(&str, &str, Result<bool, ()>)] = &[
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "abc", Ok(true)),
            ("a*", "ab/c", Ok(true)),
            ("a*/b", "abc/b", Ok(true)),
            ("a*/b", "a/c/b", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Ok(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[b-d]", "abc", Ok(true)),
            ("ab[e-g]", "abc", Ok(false)),
            ("ab[^c]", "abc", Ok(false)),
            ("ab[^b-d]", "abc", Ok(false)),
            ("ab[^e-g]", "abc", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a[^a]b", "a☺b", Ok(true)),
            ("a???b", "a☺b", Ok(false)),
            ("a[^a][^a][^a]b", "a☺b", Ok(false)),
            ("[a-ζ]*", "α", Ok(true)),
            ("*[a-ζ]", "A", Ok(false)),
            ("a?b", "a/b", Ok(false)),
            ("a*b", "a/b", Ok(false)),
            ("[\\]a]", "]", Ok(true)),
            ("[\\-]", "-", Ok(true)),
            ("[x\\-]", "x", Ok(true)),
            ("[x\\-]", "-", Ok(true)),
            ("[x\\-]", "z", Ok(false)),
            ("[\\-x]", "x", Ok(true)),
            ("[\\-x]", "-", Ok(true)),
            ("[\\-x]", "a", Ok(false)),
            ("[]a]", "]", Err(())),
            ("[-]", "-", Err(())),
            ("[x-]", "x", Err(())),
            ("[x-]", "-", Err(())),
            ("[x-]", "z", Err(())),
            ("[-x]", "x", Err(())),
            ("[-x]", "-", Err(())),
            ("[-x]", "a", Err(())),
            ("\\", "a", Err(())),
            ("[a-b-c]", "a", Err(())),
            ("[", "a", Err(())),
            ("[^", "a", Err(())),
            ("[^bc", "a", Err(())),
            ("a[", "a", Err(())),
            ("a[", "ab", Err(())),
            ("*x", "xxx", Ok(true)),
        ];
        for &(pattern, text, want) in cases {
            let got =
                Dockerignore::from_patterns([pattern]).map(|d| walk_match(&d, &clean_path(text)));
            match want {
                Ok(w) => assert_eq!(got, Ok(w), "pattern={pattern:?} text={text:?}"),
                Err(()) => assert!(
                    matches!(got, Err(IgnoreError::BadPattern { .. })),
                    "pattern={pattern:?} must be rejected, got {got:?}"
                ),
            }
        }
    }

    /// Go's own filepath.Match table (path/filepath/match_test.go), straight through `path_match`.
    #[test]
    fn go_filepath_match() {
        let cases: &[(&str, &str, Result<bool, BadPattern>)] = &[
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "abc", Ok(true)),
            ("a*", "ab/c", Ok(false)),
            ("a*/b", "abc/b", Ok(true)),
            ("a*/b", "a/c/b", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Ok(true)),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Ok(false)),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Ok(false)),
            ("a*b?c*x", "abxbbxdbxebxczzx", Ok(true)),
            ("a*b?c*x", "abxbbxdbxebxczzy", Ok(false)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[^c]", "abc", Ok(false)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a???b", "a☺b", Ok(false)),
            ("[a-ζ]*", "α", Ok(true)),
            ("*[a-ζ]", "A", Ok(false)),
            ("a?b", "a/b", Ok(false)),
            ("a*b", "a/b", Ok(false)),
            ("[\\]a]", "]", Ok(true)),
            ("[]a]", "]", Err(BadPattern)),
            ("[-]", "-", Err(BadPattern)),
            ("[x-]", "x", Err(BadPattern)),
            ("\\", "a", Err(BadPattern)),
            ("[a-b-c]", "a", Err(BadPattern)),
            ("[", "a", Err(BadPattern)),
            ("[^bc", "a", Err(BadPattern)),
            ("a[", "a", Err(BadPattern)),
            ("a[", "ab", Err(BadPattern)),
            ("a[", "x", Err(BadPattern)),
            ("a/b[", "x", Err(BadPattern)),
            ("*x", "xxx", Ok(true)),
        ];
        for &(pattern, name, want) in cases {
            assert_eq!(
                path_match(pattern, name),
                want,
                "pattern={pattern:?} name={name:?}"
            );
        }
    }

    #[test]
    fn clean_is_go_path_clean() {
        for (input, want) in [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            ("a/b/c", "a/b/c"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("../../abc", "../../abc"),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc/def/", "abc/def"),
            ("/abc/", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("//abc", "/abc"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/.", "abc"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("abc/./../def", "def"),
            ("abc//./../def", "def"),
            ("abc/../../././../def", "../../def"),
        ] {
            assert_eq!(clean_path(input), want, "clean({input:?})");
        }
    }

    /// moby ignorefile's `TestReadAll`, except that a lone `!` is an error here at once (moby
    /// reports it when the patterns are compiled, which is the next thing a build does).
    #[test]
    fn read_all_normalizes_lines() {
        let content =
            "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n";
        let d = Dockerignore::parse(content).unwrap();
        assert_eq!(
            d.patterns(),
            [
                "test1",
                "test2",
                "a/file/here",
                "lastfile",
                "!inverted/abs/path"
            ]
        );

        let err = Dockerignore::parse("a\n!\n").unwrap_err();
        assert_eq!(err, IgnoreError::LoneExclamation { line: Some(2) });
        let err = Dockerignore::parse("ok\n\n# c\nbad[\n").unwrap_err();
        assert_eq!(
            err,
            IgnoreError::BadPattern {
                line: Some(4),
                pattern: "bad[".into()
            }
        );
        assert!(err.to_string().contains("line 4"), "{err}");
    }

    #[test]
    fn bom_crlf_comments_and_cleaning() {
        let d = Dockerignore::parse("\u{feff}node_modules\r\n  # not a comment after spaces\r\n#comment\r\n./build/../dist/\n").unwrap();
        assert_eq!(
            d.patterns(),
            ["node_modules", "# not a comment after spaces", "dist"]
        );
        assert!(d.is_excluded("node_modules/x/y.js"));
        assert!(d.is_excluded("dist"));
        assert!(!d.is_excluded("build/out"));
    }

    #[test]
    fn exceptions_last_match_wins() {
        let d = Dockerignore::parse("*.md\n!README.md\nREADME*.md\n").unwrap();
        assert!(d.is_excluded("CHANGES.md"));
        assert!(
            d.is_excluded("README.md"),
            "the last matching line re-excludes it"
        );
        let d = Dockerignore::parse("*.md\n!README.md\n").unwrap();
        assert!(!d.is_excluded("README.md"));
        assert!(d.is_excluded("other.md"));
        assert!(
            !d.is_excluded("sub/other.md"),
            "* does not cross directories"
        );
    }

    #[test]
    fn excluded_dirs_and_reinclusion() {
        let d = Dockerignore::parse("docs\n!docs/README.md\n").unwrap();
        assert!(d.is_excluded("docs/a.md"));
        assert!(!d.is_excluded("docs/README.md"));
        assert!(
            d.is_excluded("docs"),
            "the dir itself matches; a walker still enters it"
        );
        assert!(d.may_reinclude_under("docs"));
        assert!(!d.may_reinclude_under("other"));

        // Only plain exceptions: a dir no exception names is skipped whole.
        let d = Dockerignore::parse("vendor\n!vendor/keep\n").unwrap();
        assert!(d.may_reinclude_under("vendor"));
        assert!(!d.is_excluded("vendor/keep/file"));
        assert!(d.is_excluded("vendor/other/file"));

        // A wildcard exception: every excluded dir must be walked.
        let d = Dockerignore::parse("build\n!**/*.keep\n").unwrap();
        assert!(d.may_reinclude_under("build"));
        assert!(!d.is_excluded("build/deep/x.keep"));
        assert!(d.is_excluded("build/deep/x.o"));

        // No exceptions at all: never re-included.
        let d = Dockerignore::parse("build\n").unwrap();
        assert!(!d.may_reinclude_under("build"));
        assert!(d.is_excluded("build/x"));
    }

    #[test]
    fn star_everything_with_exception() {
        // The common "allow list" style.
        let d = Dockerignore::parse("*\n!src\n!Cargo.toml\n").unwrap();
        assert!(d.is_excluded("target"));
        assert!(d.is_excluded("target/debug/x"));
        assert!(!d.is_excluded("src/main.rs"));
        assert!(!d.is_excluded("Cargo.toml"));
        assert!(!d.is_excluded("src"));
    }

    #[test]
    fn walker_rule_differs_from_parent_rule_as_in_buildkit() {
        // moby's walk (MatchesUsingParentResults) does not re-check an exception against a
        // parent it skipped: "a/b" stays excluded although "!a" matches its parent.
        let d = Dockerignore::from_patterns(["a/b", "!a"]).unwrap();
        assert!(d.matches("a/b"));
        assert!(!d.matches("a"));
    }

    #[test]
    fn empty_matcher_excludes_nothing() {
        let d = Dockerignore::parse("# only comments\n\n   \n").unwrap();
        assert!(d.is_empty());
        assert!(!d.is_excluded("anything/at/all"));
        assert!(!d.may_reinclude_under("anything"));
    }

    #[test]
    fn reversed_range_is_an_error() {
        assert!(matches!(
            Dockerignore::parse("[Local-Only]/\n"),
            Err(IgnoreError::BadPattern { line: Some(1), .. })
        ));
    }

    #[test]
    fn has_wildcard_skips_escapes() {
        assert!(has_wildcard("*.txt"));
        assert!(has_wildcard("a[bc]"));
        assert!(has_wildcard("a?"));
        assert!(!has_wildcard("a\\*b"));
        assert!(!has_wildcard("plain"));
    }
}
