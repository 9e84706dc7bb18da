//! Variable expansion and word splitting, a faithful port of BuildKit's
//! `frontend/dockerfile/shell/lex.go`.
//!
//! Supported syntax (exactly as BuildKit): `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`, `${V+w}`,
//! `${V:?msg}`, `${V?msg}`, `${V#pat}`, `${V##pat}`, `${V%pat}`, `${V%%pat}`, `${V/pat/repl}`,
//! `${V//pat/repl}`; single quotes are literal; inside double quotes the escape character only
//! escapes `"`, `$` and itself; outside quotes it escapes anything (and is dropped at the end of
//! the word). Unset variables expand to the empty string. Special parameters (`$@`, `$1`, ...) are
//! looked up like any other name (and are normally unset).
//!
//! Patterns (`#`, `%`, `/`) follow BuildKit: `*` and `?` are wildcards, `\` escapes `*`, `?`, `\`
//! (and `}`/`/` inside `${}`), everything else is literal; there are no bracket expressions.
//!
//! Two BuildKit quirks are kept on purpose because they change results:
//! - the words buffer is shared between nested `${...}` modifiers, so in
//!   [`Lexer::process_words`] a partial word written before a `${V:-...}`-style expansion is
//!   dropped (`ab${X:-y}c` splits as `["yc"]`); [`Lexer::process_word`] is not affected;
//! - `<<` followed by blanks stays glued to the next word (BuildKit does this to find heredocs).
//!
//! One deliberate limit: `${...}` nested more than 200 levels deep is an error (BuildKit would
//! recurse further); it keeps any input from exhausting the stack.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::ExpandError;
use crate::golang;

/// A source of variable values for expansion.
pub trait Env {
    /// The value of `name`, or `None` when it is not set.
    fn get(&self, name: &str) -> Option<&str>;
}

impl<E: Env + ?Sized> Env for &E {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }
}

impl Env for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }
}

impl<S: std::hash::BuildHasher> Env for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

/// Pairs; the last pair with a given name wins.
impl Env for [(String, String)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Env for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        Env::get(self.as_slice(), name)
    }
}

/// Pairs; the last pair with a given name wins.
impl Env for [(&str, &str)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| *v)
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<&str> {
        Env::get(self.as_slice(), name)
    }
}

/// `K=V` strings as in a container's environment; `K` alone means an empty value; the last
/// entry for a name wins (BuildKit's `EnvsFromSlice`).
impl Env for [String] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().rev().find_map(|e| match e.split_once('=') {
            Some((k, v)) if k == name => Some(v),
            None if e == name => Some(""),
            _ => None,
        })
    }
}

impl Env for Vec<String> {
    fn get(&self, name: &str) -> Option<&str> {
        Env::get(self.as_slice(), name)
    }
}

/// An environment where nothing is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmptyEnv;

impl Env for EmptyEnv {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }
}

/// Wraps an environment and records which names were looked up, found or not.
#[derive(Debug)]
pub struct RecordingEnv<E> {
    inner: E,
    matched: RefCell<BTreeSet<String>>,
    unmatched: RefCell<BTreeSet<String>>,
}

impl<E: Env> RecordingEnv<E> {
    /// Starts recording lookups made through `inner`.
    pub fn new(inner: E) -> Self {
        RecordingEnv {
            inner,
            matched: RefCell::new(BTreeSet::new()),
            unmatched: RefCell::new(BTreeSet::new()),
        }
    }

    /// The names looked up so far.
    pub fn matches(&self) -> VarMatches {
        VarMatches {
            matched: self.matched.borrow().clone(),
            unmatched: self.unmatched.borrow().clone(),
        }
    }
}

impl<E: Env> Env for RecordingEnv<E> {
    fn get(&self, name: &str) -> Option<&str> {
        let v = self.inner.get(name);
        if v.is_some() {
            self.matched.borrow_mut().insert(name.to_owned());
        } else {
            self.unmatched.borrow_mut().insert(name.to_owned());
        }
        v
    }
}

/// An environment in which every name is set to a non-empty value: processing a word against it
/// visits every variable reference without failing on `${V?}` / `${V:?}`.
struct EverythingSet;

impl Env for EverythingSet {
    fn get(&self, _name: &str) -> Option<&str> {
        Some("x")
    }
}

/// Variable names a word used: set ones (`matched`) and unset ones (`unmatched`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VarMatches {
    /// Names that were looked up and set.
    pub matched: BTreeSet<String>,
    /// Names that were looked up and not set.
    pub unmatched: BTreeSet<String>,
}

impl VarMatches {
    /// Every name that was looked up.
    pub fn all(&self) -> BTreeSet<String> {
        self.matched.union(&self.unmatched).cloned().collect()
    }

    /// Adds another set of lookups.
    pub fn extend(&mut self, other: VarMatches) {
        self.matched.extend(other.matched);
        self.unmatched.extend(other.unmatched);
    }
}

/// The full result of processing a word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessResult {
    /// The expanded word (`ProcessWord`).
    pub result: String,
    /// The expanded word split into words (`ProcessWords`).
    pub words: Vec<String>,
    /// Variables that were looked up and set.
    pub matched: BTreeSet<String>,
    /// Variables that were looked up and not set.
    pub unmatched: BTreeSet<String>,
}

/// BuildKit's shell lexer (`shell.Lex`): expands `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`,
/// `${V+w}`, `${V:?msg}`, `${V?msg}`, `${V#pat}`, `${V##pat}`, `${V%pat}`, `${V%%pat}`,
/// `${V/pat/repl}` and `${V//pat/repl}`, removes quotes and escapes, and splits words.
///
/// Two BuildKit quirks are kept because they change results: in [`Lexer::process_words`] a
/// partial word written before a `${V:-...}`-style expansion is dropped (BuildKit shares one
/// words buffer between nesting levels: `ab${X:-y}c` splits as `["yc"]`; `process_word` is not
/// affected); and `<<` followed by blanks stays glued to the next word. `${...}` nested more than
/// 200 levels deep is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexer {
    /// The escape character: `\` or `` ` `` (the Dockerfile's `# escape=` directive).
    pub escape: char,
    /// Keep quote characters in the output (`RawQuotes`).
    pub raw_quotes: bool,
    /// Keep escape characters in the output (`RawEscapes`).
    pub raw_escapes: bool,
    /// Treat quotes as ordinary characters (`SkipProcessQuotes`; used for heredoc bodies).
    pub skip_process_quotes: bool,
    /// Leave references to unset variables as written (`SkipUnsetEnv`).
    pub skip_unset_env: bool,
}

impl Default for Lexer {
    fn default() -> Self {
        Lexer::new('\\')
    }
}

const MAX_DEPTH: usize = 200;

impl Lexer {
    /// A lexer with the given escape character and BuildKit's default options.
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_process_quotes: false,
            skip_unset_env: false,
        }
    }

    /// The lexer BuildKit uses for heredoc bodies of `COPY`/`ADD` (`ExpandRaw`): escape `\`,
    /// quotes not processed.
    pub fn for_heredoc_body() -> Self {
        Lexer {
            skip_process_quotes: true,
            ..Lexer::new('\\')
        }
    }

    /// Expands variables in `word` and removes quotes and escapes (`ProcessWord`).
    pub fn process_word(
        &self,
        word: &str,
        env: &(impl Env + ?Sized),
    ) -> Result<String, ExpandError> {
        Ok(self.process(word, env)?.result)
    }

    /// Expands `word` and splits it into words on unquoted whitespace (`ProcessWords`).
    pub fn process_words(
        &self,
        word: &str,
        env: &(impl Env + ?Sized),
    ) -> Result<Vec<String>, ExpandError> {
        Ok(self.process(word, env)?.words)
    }

    /// Expands `word`, returning the expanded string, the split words and the variables used.
    pub fn process(
        &self,
        word: &str,
        env: &(impl Env + ?Sized),
    ) -> Result<ProcessResult, ExpandError> {
        let mut sw = ShellWord {
            lex: self,
            chars: word.chars().collect(),
            pos: 0,
            env,
            raw_escapes: self.raw_escapes,
            words_buf: String::new(),
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
            depth: 0,
        };
        // text/scanner skips a byte order mark at the very start of its input.
        if sw.chars.first() == Some(&'\u{FEFF}') {
            sw.pos = 1;
        }
        match sw.process_stop_on(None, self.raw_escapes) {
            Ok((result, words)) => Ok(ProcessResult {
                result,
                words,
                matched: sw.matched,
                unmatched: sw.unmatched,
            }),
            Err(e) => Err(ExpandError::new(format!(
                "failed to process {}: {}",
                golang::quote(word),
                e
            ))),
        }
    }

    /// The names of the variables `word` refers to (whatever their values), e.g. the build
    /// arguments an instruction depends on. Errors only on malformed syntax.
    pub fn referenced_vars(&self, word: &str) -> Result<BTreeSet<String>, ExpandError> {
        let r = self.process(word, &EverythingSet)?;
        Ok(r.matched)
    }
}

struct Words {
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn new() -> Self {
        Words {
            words: Vec::new(),
            in_word: false,
        }
    }

    fn add_char(&mut self, buf: &mut String, ch: char) {
        if golang::is_space(ch) && self.in_word {
            if !buf.is_empty() {
                self.words.push(std::mem::take(buf));
                self.in_word = false;
            }
        } else if !golang::is_space(ch) {
            self.add_raw_char(buf, ch);
        }
    }

    fn add_raw_char(&mut self, buf: &mut String, ch: char) {
        buf.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, buf: &mut String, s: &str) {
        for c in s.chars() {
            self.add_char(buf, c);
        }
    }

    fn add_raw_string(&mut self, buf: &mut String, s: &str) {
        buf.push_str(s);
        self.in_word = true;
    }

    fn get_words(mut self, buf: &mut String) -> Vec<String> {
        if !buf.is_empty() {
            self.words.push(std::mem::take(buf));
            self.in_word = false;
        }
        self.words
    }
}

struct ShellWord<'a, E: ?Sized> {
    lex: &'a Lexer,
    chars: Vec<char>,
    pos: usize,
    env: &'a E,
    raw_escapes: bool,
    /// Shared between nested `processStopOn` calls, as in BuildKit.
    words_buf: String,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
    depth: usize,
}

type LexResult<T> = Result<T, String>;

impl<E: Env + ?Sized> ShellWord<'_, E> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> LexResult<(String, Vec<String>)> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("substitutions nested too deeply".to_owned());
        }
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.process_stop_on_inner(stop);
        self.raw_escapes = saved;
        self.depth -= 1;
        r
    }

    fn process_stop_on_inner(&mut self, stop: Option<char>) -> LexResult<(String, Vec<String>)> {
        let mut result = String::new();
        self.words_buf.clear();
        let mut words = Words::new();
        while let Some(ch) = self.peek() {
            if stop == Some(ch) {
                self.next();
                let w = words.get_words(&mut self.words_buf);
                return Ok((result, w));
            }
            if ch == '$' {
                let tmp = self.process_dollar()?;
                result.push_str(&tmp);
                words.add_string(&mut self.words_buf, &tmp);
            } else if ch == '<' {
                let tmp = self.process_possible_heredoc();
                result.push_str(&tmp);
                words.add_raw_string(&mut self.words_buf, &tmp);
            } else if !self.lex.skip_process_quotes && ch == '\'' {
                let tmp = self.process_single_quote()?;
                result.push_str(&tmp);
                words.add_raw_string(&mut self.words_buf, &tmp);
            } else if !self.lex.skip_process_quotes && ch == '"' {
                let tmp = self.process_double_quote()?;
                result.push_str(&tmp);
                words.add_raw_string(&mut self.words_buf, &tmp);
            } else {
                let mut ch = ch;
                self.next();
                if ch == self.lex.escape {
                    if self.raw_escapes {
                        words.add_raw_char(&mut self.words_buf, ch);
                        result.push(ch);
                    }
                    match self.next() {
                        None => break,
                        Some(c) => ch = c,
                    }
                    words.add_raw_char(&mut self.words_buf, ch);
                } else {
                    words.add_char(&mut self.words_buf, ch);
                }
                result.push(ch);
            }
        }
        if let Some(stop) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            ));
        }
        let w = words.get_words(&mut self.words_buf);
        Ok((result, w))
    }

    fn process_single_quote(&mut self) -> LexResult<String> {
        let mut result = String::new();
        if let Some(q) = self.next()
            && self.lex.raw_quotes
        {
            result.push(q);
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_owned(),
                    );
                }
                Some('\'') => {
                    if self.lex.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> LexResult<String> {
        let mut result = String::new();
        if let Some(q) = self.next()
            && self.lex.raw_quotes
        {
            result.push(q);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .to_owned(),
                    );
                }
                Some('"') => {
                    self.next();
                    if self.lex.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let v = self.process_dollar()?;
                    result.push_str(&v);
                }
                Some(c) => {
                    self.next();
                    let mut ch = c;
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.lex.escape => {
                                self.next();
                                ch = n;
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn process_possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".to_owned();
        }
        self.next();
        let mut result = "<<".to_owned();
        while let Some(c) = self.peek() {
            if matches!(c, ' ' | '\t' | '\r' | '\n') {
                result.push(c);
                self.next();
            } else {
                break;
            }
        }
        result
    }

    fn get_env(&mut self, name: &str) -> (String, bool) {
        match self.env.get(name) {
            Some(v) => {
                self.matched.insert(name.to_owned());
                (v.to_owned(), true)
            }
            None => {
                self.unmatched.insert(name.to_owned());
                (String::new(), false)
            }
        }
    }

    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && golang::is_digit(ch) {
                while let Some(d) = self.peek() {
                    if !golang::is_digit(d) {
                        break;
                    }
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !golang::is_letter(ch) && !golang::is_digit(ch) && ch != '_' {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }

    fn process_dollar(&mut self) -> LexResult<String> {
        self.next(); // '$'
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_owned());
            }
            let (value, found) = self.get_env(&name);
            if !found && self.lex.skip_unset_env {
                return Ok(format!("${name}"));
            }
            return Ok(value);
        }
        self.next(); // '{'
        match self.peek() {
            None => return Err("syntax error: missing '}'".to_owned()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".to_owned()),
            Some(_) => {}
        }
        let name = self.process_name();
        // Go: string(scanner.EOF) is "\uFFFD".
        let mut ch = self.next();
        let mut chs = ch.unwrap_or('\u{FFFD}').to_string();
        let mut null_is_unset = false;
        match ch {
            Some('}') => {
                let (value, set) = self.get_env(&name);
                if !set && self.lex.skip_unset_env {
                    return Ok(format!("${{{name}}}"));
                }
                Ok(value)
            }
            Some(':' | '+' | '-' | '?' | '#' | '%') => {
                if ch == Some(':') {
                    null_is_unset = true;
                    ch = self.next();
                    chs.push(ch.unwrap_or('\u{FFFD}'));
                }
                let raw_escapes = matches!(ch, Some('#' | '%'));
                if null_is_unset && raw_escapes {
                    return Err(format!("unsupported modifier ({chs}) in substitution"));
                }
                let word = match self.process_stop_on(Some('}'), raw_escapes) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '}'".to_owned());
                        }
                        return Err(e);
                    }
                };
                let (value, set) = self.get_env(&name);
                if self.lex.skip_unset_env && !set {
                    return Ok(format!("${{{name}{chs}{word}}}"));
                }
                match ch {
                    Some('-') => {
                        if !set || (null_is_unset && value.is_empty()) {
                            Ok(word)
                        } else {
                            Ok(value)
                        }
                    }
                    Some('+') => {
                        if !set || (null_is_unset && value.is_empty()) {
                            Ok(String::new())
                        } else {
                            Ok(word)
                        }
                    }
                    Some('?') => {
                        if !set {
                            let message = if word.is_empty() {
                                "is not allowed to be unset".to_owned()
                            } else {
                                word
                            };
                            return Err(format!("{name}: {message}"));
                        }
                        if null_is_unset && value.is_empty() {
                            let message = if word.is_empty() {
                                "is not allowed to be empty".to_owned()
                            } else {
                                word
                            };
                            return Err(format!("{name}: {message}"));
                        }
                        Ok(value)
                    }
                    Some(c @ ('%' | '#')) => {
                        let mut pattern = word.as_str();
                        let mut greedy = false;
                        if pattern.starts_with(c) {
                            greedy = true;
                            pattern = &pattern[1..];
                        }
                        if c == '%' {
                            trim_suffix(pattern, &value, greedy)
                        } else {
                            trim_prefix(pattern, &value, greedy)
                        }
                    }
                    _ => Err(format!("unsupported modifier ({chs}) in substitution")),
                }
            }
            Some('/') => {
                let replace_all = self.peek() == Some('/');
                if replace_all {
                    self.next();
                }
                let pattern = match self.process_stop_on(Some('/'), true) {
                    Ok((p, _)) => p,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '/' in ${}".to_owned());
                        }
                        return Err(e);
                    }
                };
                let replacement = match self.process_stop_on(Some('}'), true) {
                    Ok((r, _)) => r,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '}'".to_owned());
                        }
                        return Err(e);
                    }
                };
                let (value, set) = self.get_env(&name);
                if self.lex.skip_unset_env && !set {
                    return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
                }
                let re = convert_shell_pattern_to_regex(&pattern, true, false)
                    .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
                if replace_all {
                    Ok(replace_all_go(&re, &value, &replacement))
                } else if let Some(m) = re.find(&value) {
                    Ok(format!(
                        "{}{}{}",
                        &value[..m.start()],
                        replacement,
                        &value[m.end()..]
                    ))
                } else {
                    Ok(value)
                }
            }
            _ => Err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }
}

/// BuildKit's `convertShellPatternToRegex`.
fn convert_shell_pattern_to_regex(
    pattern: &str,
    greedy: bool,
    anchored: bool,
) -> Result<regex::Regex, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = usize::from(chars.first() == Some(&'\u{FEFF}'));
    let mut out = String::with_capacity(pattern.len() + 4);
    if anchored {
        out.push('^');
    }
    let star = if greedy { ".*" } else { ".*?" };
    while let Some(&tok) = chars.get(i) {
        i += 1;
        match tok {
            '*' => out.push_str(star),
            '?' => out.push('.'),
            '\\' => {
                let peek = chars.get(i).copied();
                if peek == Some('}') || peek == Some('/') {
                    continue;
                }
                out.push('\\');
                let next = chars.get(i).copied();
                i += 1;
                match next {
                    Some(c @ ('*' | '?' | '\\')) => out.push(c),
                    other => {
                        return Err(format!(
                            "invalid escape '\\{}'",
                            other.unwrap_or('\u{FFFD}')
                        ));
                    }
                }
            }
            '[' | ']' | '{' | '}' | '.' | '+' | '(' | ')' | '|' | '^' | '$' => {
                out.push('\\');
                out.push(tok);
            }
            c => out.push(c),
        }
    }
    regex::Regex::new(&out).map_err(|e| e.to_string())
}

fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> LexResult<String> {
    let re = convert_shell_pattern_to_regex(pattern, greedy, true)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    match re.find(value) {
        Some(m) => Ok(value[m.end()..].to_owned()),
        None => Ok(value.to_owned()),
    }
}

/// Reverses a pattern without splitting `\x` escapes (`a\*c` becomes `c\*a`).
fn reverse_pattern(pattern: &str) -> String {
    let runes: Vec<char> = pattern.chars().collect();
    if runes.is_empty() {
        return String::new();
    }
    let last = runes.len() - 1;
    let mut out = vec!['\0'; runes.len()];
    let mut i = 0;
    while i <= last {
        let tok = runes[i];
        let out_idx = last - i;
        if tok == '\\' && i != last {
            out[out_idx - 1] = tok;
            out[out_idx] = runes[i + 1];
            i += 2;
        } else {
            out[out_idx] = tok;
            i += 1;
        }
    }
    out.into_iter().collect()
}

fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> LexResult<String> {
    let pattern = reverse_pattern(pattern);
    let value: String = value.chars().rev().collect();
    let s = trim_prefix(&pattern, &value, greedy)?;
    Ok(s.chars().rev().collect())
}

/// Go's `regexp.ReplaceAllString`, including its `$name` template expansion (the pattern has no
/// groups, so only `$0`/`${0}` refer to anything) and its handling of empty matches.
fn replace_all_go(re: &regex::Regex, src: &str, template: &str) -> String {
    let mut out = String::new();
    let mut last_match_end = 0usize;
    let mut search_pos = 0usize;
    let end = src.len();
    while search_pos <= end {
        let Some(m) = re.find_at(src, search_pos) else {
            break;
        };
        let (a0, a1) = (m.start(), m.end());
        out.push_str(&src[last_match_end..a0]);
        if a1 > last_match_end || a0 == 0 {
            expand_template(&mut out, template, &src[a0..a1]);
        }
        last_match_end = a1;
        let width = src[search_pos..].chars().next().map_or(0, char::len_utf8);
        if search_pos + width > a1 {
            search_pos += width;
        } else if search_pos + 1 > a1 {
            search_pos += 1;
        } else {
            search_pos = a1;
        }
    }
    out.push_str(&src[last_match_end.min(end)..]);
    out
}

fn expand_template(out: &mut String, mut template: &str, whole: &str) {
    while let Some(idx) = template.find('$') {
        out.push_str(&template[..idx]);
        template = &template[idx + 1..];
        if template.starts_with('$') {
            out.push('$');
            template = &template[1..];
            continue;
        }
        match extract_name(template) {
            None => out.push('$'),
            Some((name, rest)) => {
                template = rest;
                if name == "0" {
                    out.push_str(whole);
                }
            }
        }
    }
    out.push_str(template);
}

/// Go's `regexp.extract`: a `name` or `{name}` after `$`.
fn extract_name(s: &str) -> Option<(&str, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let len: usize = body
        .chars()
        .take_while(|c| golang::is_letter(*c) || golang::is_digit(*c) || *c == '_')
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    let mut rest = &body[len..];
    if brace {
        rest = rest.strip_prefix('}')?;
    }
    Some((name, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_pattern_like_buildkit() {
        for (p, want) in [
            ("a\\*c", "c\\*a"),
            ("\\\\\\ab", "b\\a\\\\"),
            ("ab\\", "\\ba"),
            ("👽\\🚀🖖", "🖖\\🚀👽"),
            ("\\\\b", "b\\\\"),
        ] {
            assert_eq!(reverse_pattern(p), want, "pattern {p}");
        }
    }

    #[test]
    fn pattern_conversion_like_buildkit() {
        for (p, want) in [
            ("*", "^.*"),
            ("?", "^."),
            ("\\*", "^\\*"),
            (
                "(()[]{\\}^$.\\*\\?|\\\\",
                "^\\(\\(\\)\\[\\]\\{\\}\\^\\$\\.\\*\\?\\|\\\\",
            ),
        ] {
            let re = convert_shell_pattern_to_regex(p, true, true).map(|r| r.as_str().to_owned());
            assert_eq!(re.as_deref(), Ok(want));
        }
        for p in ["\\", "\\x", "\\\\\\"] {
            assert!(
                convert_shell_pattern_to_regex(p, true, true).is_err(),
                "{p}"
            );
        }
    }

    #[test]
    fn go_replace_all_semantics() {
        let re = regex::Regex::new("a*").expect("re");
        assert_eq!(replace_all_go(&re, "baaab", "-"), "-b-b-");
        let re2 = regex::Regex::new("o").expect("re");
        assert_eq!(replace_all_go(&re2, "foo", "[$0]$$x$1"), "f[o]$x[o]$x");
    }
}
