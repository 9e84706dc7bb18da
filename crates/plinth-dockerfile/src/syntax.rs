//! The lossless syntax layer: [`parse`] turns source text into a [`Dockerfile`], a list of
//! [`Item`]s (parser directives, comments, blank lines, instructions) whose raw texts concatenate
//! back to the input.
//!
//! Line handling follows BuildKit's `frontend/dockerfile/parser` exactly: parser directives are
//! only recognised before anything else; a line ending in the escape character (optionally
//! followed by blanks) continues on the next line, and inside a continuation comment lines and
//! empty lines are skipped; the logical line is split into the keyword, `--flags` (quotes and `\`
//! processed byte by byte, as BuildKit does) and the arguments; `RUN`/`COPY`/`ADD` (also under
//! `ONBUILD`) in shell form read heredoc bodies after the logical line.

use crate::error::ParseError;
use crate::golang;
use crate::json::{self, JsonArray};
use crate::lex::{EmptyEnv, Lexer};
use crate::span::{LineIndex, Span};

/// A parsed Dockerfile: every line of the source, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character (`\` unless an `# escape=` directive says `` ` ``).
    pub escape: char,
    /// Everything in the file, in source order.
    pub items: Vec<Item>,
}

impl Dockerfile {
    /// The instructions, in order.
    pub fn instructions(&self) -> impl Iterator<Item = &Instruction> {
        self.items.iter().filter_map(|i| match i {
            Item::Instruction(inst) => Some(inst),
            _ => None,
        })
    }

    /// The parser directives (`syntax`, `escape`, `check`), in order.
    pub fn directives(&self) -> impl Iterator<Item = &Directive> {
        self.items.iter().filter_map(|i| match i {
            Item::Directive(d) => Some(d),
            _ => None,
        })
    }

    /// The value of the directive `name` (lower case), if present.
    pub fn directive(&self, name: &str) -> Option<&str> {
        self.directives()
            .find(|d| d.name == name)
            .map(|d| d.value.as_str())
    }

    /// The exact source text this was parsed from.
    pub fn to_source(&self) -> String {
        let mut s = String::new();
        for item in &self.items {
            s.push_str(item.raw());
        }
        s
    }
}

/// One top-level element of a Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `# name=value` before anything else.
    Directive(Directive),
    /// A comment line (outside a continuation).
    Comment(Comment),
    /// A line with nothing but blanks.
    Blank(Blank),
    /// An instruction with its continuation lines and heredoc bodies.
    Instruction(Instruction),
}

impl Item {
    /// The exact source text of this item (including its final line break).
    pub fn raw(&self) -> &str {
        match self {
            Item::Directive(d) => &d.raw,
            Item::Comment(c) => &c.raw,
            Item::Blank(b) => &b.raw,
            Item::Instruction(i) => &i.raw,
        }
    }

    /// Where this item is.
    pub fn span(&self) -> Span {
        match self {
            Item::Directive(d) => d.span,
            Item::Comment(c) => c.span,
            Item::Blank(b) => b.span,
            Item::Instruction(i) => i.span,
        }
    }
}

/// A parser directive (`# syntax=`, `# escape=`, `# check=`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The name, lower-cased.
    pub name: String,
    /// The value, trimmed.
    pub value: String,
    /// The source line, including its line break.
    pub raw: String,
    /// Where it is.
    pub span: Span,
}

/// A comment line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// The text after `#`, trimmed.
    pub text: String,
    /// The source line, including its line break.
    pub raw: String,
    /// Where it is.
    pub span: Span,
}

/// A blank line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blank {
    /// The source line, including its line break.
    pub raw: String,
    /// Where it is.
    pub span: Span,
}

/// The instruction keywords BuildKit knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Keyword {
    /// `ADD`
    Add,
    /// `ARG`
    Arg,
    /// `CMD`
    Cmd,
    /// `COPY`
    Copy,
    /// `ENTRYPOINT`
    Entrypoint,
    /// `ENV`
    Env,
    /// `EXPOSE`
    Expose,
    /// `FROM`
    From,
    /// `HEALTHCHECK`
    Healthcheck,
    /// `LABEL`
    Label,
    /// `MAINTAINER`
    Maintainer,
    /// `ONBUILD`
    Onbuild,
    /// `RUN`
    Run,
    /// `SHELL`
    Shell,
    /// `STOPSIGNAL`
    StopSignal,
    /// `USER`
    User,
    /// `VOLUME`
    Volume,
    /// `WORKDIR`
    Workdir,
}

impl Keyword {
    /// The keyword in upper case, as conventionally written.
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Add => "ADD",
            Keyword::Arg => "ARG",
            Keyword::Cmd => "CMD",
            Keyword::Copy => "COPY",
            Keyword::Entrypoint => "ENTRYPOINT",
            Keyword::Env => "ENV",
            Keyword::Expose => "EXPOSE",
            Keyword::From => "FROM",
            Keyword::Healthcheck => "HEALTHCHECK",
            Keyword::Label => "LABEL",
            Keyword::Maintainer => "MAINTAINER",
            Keyword::Onbuild => "ONBUILD",
            Keyword::Run => "RUN",
            Keyword::Shell => "SHELL",
            Keyword::StopSignal => "STOPSIGNAL",
            Keyword::User => "USER",
            Keyword::Volume => "VOLUME",
            Keyword::Workdir => "WORKDIR",
        }
    }

    /// Recognises a keyword, case-insensitively (Unicode lower-casing, as Go's `strings.ToLower`).
    pub fn from_word(word: &str) -> Option<Keyword> {
        Some(match word.to_lowercase().as_str() {
            "add" => Keyword::Add,
            "arg" => Keyword::Arg,
            "cmd" => Keyword::Cmd,
            "copy" => Keyword::Copy,
            "entrypoint" => Keyword::Entrypoint,
            "env" => Keyword::Env,
            "expose" => Keyword::Expose,
            "from" => Keyword::From,
            "healthcheck" => Keyword::Healthcheck,
            "label" => Keyword::Label,
            "maintainer" => Keyword::Maintainer,
            "onbuild" => Keyword::Onbuild,
            "run" => Keyword::Run,
            "shell" => Keyword::Shell,
            "stopsignal" => Keyword::StopSignal,
            "user" => Keyword::User,
            "volume" => Keyword::Volume,
            "workdir" => Keyword::Workdir,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Keyword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `--name[=value]` flag, after BuildKit's quote and `\` processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The name, without `--`.
    pub name: String,
    /// The value after the first `=`, if there is one.
    pub value: Option<String>,
    /// The processed text, e.g. `--mount=type=cache,target=/x`.
    pub text: String,
    /// Where the flag is written.
    pub span: Span,
}

/// A heredoc attached to an instruction (`<<EOF`, `<<-EOF`, `<<"EOF"`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word, quotes removed.
    pub name: String,
    /// True when any part of the delimiter was quoted: the body is then never expanded.
    pub quoted: bool,
    /// `<<-`: leading tabs are stripped from body lines (and from the terminator line).
    pub strip_tabs: bool,
    /// The file descriptor written before `<<` (`3<<EOF`), 0 when absent.
    pub fd: u32,
    /// The body exactly as written (line breaks included, tabs not stripped).
    pub body: String,
    /// The body lines and the terminator line.
    pub span: Span,
}

impl Heredoc {
    /// The body with leading tabs removed from every line when `strip_tabs` is set
    /// (BuildKit's `ChompHeredocContent`).
    pub fn content(&self) -> String {
        if self.strip_tabs {
            chomp_heredoc_content(&self.body)
        } else {
            self.body.clone()
        }
    }
}

/// Removes leading tabs from every line (BuildKit's `ChompHeredocContent`, `(?m)^\t+`).
pub fn chomp_heredoc_content(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.split_inclusive('\n') {
        out.push_str(line.trim_start_matches('\t'));
    }
    out
}

/// One instruction: its logical line, parts and exact source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The keyword.
    pub keyword: Keyword,
    /// The keyword as written.
    pub keyword_raw: String,
    /// Where the keyword is written.
    pub keyword_span: Span,
    /// The `--flags` before the arguments.
    pub flags: Vec<Flag>,
    /// The arguments after the flags, trimmed (continuations joined, skipped lines removed).
    pub args: String,
    /// From the first to the last character of the arguments in the source.
    pub args_span: Span,
    /// Heredocs read after the logical line.
    pub heredocs: Vec<Heredoc>,
    /// The logical line (BuildKit's `Node.Original`): continuation lines joined without their
    /// escape characters, skipped lines removed.
    pub original: String,
    /// The exact source text, including continuation lines, skipped lines, heredoc bodies and
    /// the final line break.
    pub raw: String,
    /// Where the whole instruction is (`line`/`col` are those of its first line's start).
    pub span: Span,
    /// The last source line (1-based) of the instruction.
    pub end_line: u32,
    /// For `ONBUILD`: the trigger instruction, when its keyword is known.
    pub trigger: Option<Box<Instruction>>,
    /// BuildKit's `nodeArgs`: the arguments as the per-keyword line parser split them.
    pub(crate) node_args: Vec<String>,
    /// The arguments were a JSON array (exec form).
    pub json: bool,
}

impl Instruction {
    /// The flag named `name` (last one wins when repeated).
    pub fn flag(&self, name: &str) -> Option<&Flag> {
        self.flags.iter().rev().find(|f| f.name == name)
    }

    /// The arguments as BuildKit's line parser for this keyword split them (JSON strings for
    /// exec form; for `ENV`/`LABEL` triples of key, value and `=`-or-empty).
    pub fn node_args(&self) -> &[String] {
        &self.node_args
    }
}

/// Parses a Dockerfile losslessly. Fails on what BuildKit's parser rejects (bad directives,
/// heredoc errors, malformed JSON arrays, `ENV`/`LABEL` syntax) and on unknown instructions.
pub fn parse(src: &str) -> Result<Dockerfile, ParseError> {
    Parser::new(src).run()
}

struct Parser<'a> {
    src: &'a str,
    index: LineIndex<'a>,
    /// (start, end) of each physical line; `end` includes the line break.
    lines: Vec<(usize, usize)>,
    bom: usize,
    escape: char,
    directives_done: bool,
    seen_directives: Vec<String>,
}

/// Trailing `\r` and `\n` removed (Go's `bytes.TrimRight(s, "\r\n")`).
fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn is_comment(s: &str) -> bool {
    golang::trim_left_space(s).starts_with('#')
}

/// Go regexp `\s`.
fn is_re_s(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// BuildKit's directive regexp `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`.
fn match_directive(s: &str) -> Option<(&str, &str)> {
    let first = s.chars().next()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let name_len = s.bytes().take_while(u8::is_ascii_alphanumeric).count();
    let name = &s[..name_len];
    let rest = s[name_len..].trim_start_matches(is_re_s);
    let rest = rest.strip_prefix('=')?;
    if rest.is_empty() {
        return None;
    }
    let after_ws = rest.trim_start_matches(is_re_s);
    let value = if after_ws.is_empty() {
        // Only blanks after `=`: the lazy group backtracks into the last blank.
        let last = rest.chars().next_back()?;
        &rest[rest.len() - last.len_utf8()..]
    } else {
        after_ws.trim_end_matches(is_re_s)
    };
    Some((name, value))
}

/// BuildKit's `trimContinuationCharacter`: `([^\e])\e[ \t]*$|^\e[ \t]*$`.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    if let Some(before) = body.strip_suffix(escape) {
        match before.chars().next_back() {
            None => return ("", false),
            Some(c) if c != escape => return (before, false),
            Some(_) => {}
        }
    }
    (line, true)
}

/// Maps offsets in a logical line back to the source.
struct Segments {
    /// (logical start, source start, length)
    segs: Vec<(usize, usize, usize)>,
}

impl Segments {
    fn map_start(&self, off: usize) -> usize {
        let mut best = None;
        for &(ls, ss, len) in &self.segs {
            if off >= ls && off < ls + len {
                return ss + (off - ls);
            }
            if off >= ls {
                best = Some(ss + len.min(off - ls));
            }
        }
        best.unwrap_or_else(|| self.segs.first().map_or(0, |s| s.1))
    }

    fn map_end(&self, off: usize) -> usize {
        let mut best = None;
        for &(ls, ss, len) in &self.segs {
            if off > ls && off <= ls + len {
                return ss + (off - ls);
            }
            if off >= ls {
                best = Some(ss + len.min(off - ls));
            }
        }
        best.unwrap_or_else(|| self.segs.first().map_or(0, |s| s.1))
    }
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, b) in src.bytes().enumerate() {
            if b == b'\n' {
                lines.push((start, i + 1));
                start = i + 1;
            }
        }
        if start < src.len() {
            lines.push((start, src.len()));
        }
        Parser {
            src,
            index: LineIndex::new(src),
            lines,
            bom: if src.starts_with('\u{FEFF}') { 3 } else { 0 },
            escape: '\\',
            directives_done: false,
            seen_directives: Vec::new(),
        }
    }

    fn line_text(&self, i: usize) -> &'a str {
        let (s, e) = self.lines[i];
        let s = if i == 0 { s + self.bom } else { s };
        self.src.get(s..e).unwrap_or("")
    }

    fn line_content_start(&self, i: usize) -> usize {
        if i == 0 {
            self.lines[0].0 + self.bom
        } else {
            self.lines[i].0
        }
    }

    fn err_line(&self, i: usize, message: impl Into<String>) -> ParseError {
        let start = self.line_content_start(i);
        let text = self.line_text(i);
        let lead = text.len() - golang::trim_left_space(text).len();
        ParseError::at(&self.index.span(start + lead, start + lead), message)
    }

    /// BuildKit's `DirectiveParser.ParseLine` plus the escape handling of
    /// `possibleParserDirective`.
    fn possible_directive(&mut self, line: &str) -> Result<Option<(String, String)>, String> {
        if self.directives_done {
            return Ok(None);
        }
        let Some(rest) = line.strip_prefix('#') else {
            self.directives_done = true;
            return Ok(None);
        };
        let rest = golang::trim_left_space(rest);
        let Some((name, value)) = match_directive(rest) else {
            self.directives_done = true;
            return Ok(None);
        };
        let key = name.to_ascii_lowercase();
        if !matches!(key.as_str(), "syntax" | "escape" | "check") {
            self.directives_done = true;
            return Ok(None);
        }
        if self.seen_directives.contains(&key) {
            return Err(format!("only one {key} parser directive can be used"));
        }
        self.seen_directives.push(key.clone());
        if key == "escape" {
            match value {
                "`" => self.escape = '`',
                "\\" => self.escape = '\\',
                _ => {
                    return Err(format!(
                        "invalid escape token '{value}' does not match ` or \\"
                    ));
                }
            }
        }
        Ok(Some((key, value.to_owned())))
    }

    fn run(mut self) -> Result<Dockerfile, ParseError> {
        let mut items = Vec::new();
        let mut i = 0;
        while i < self.lines.len() {
            let item_start = self.lines[i].0;
            let text = self.line_text(i);
            let nonl = trim_newline(text);
            let trimmed = golang::trim_left_space(nonl);
            let directive = self
                .possible_directive(trimmed)
                .map_err(|m| self.err_line(i, m))?;
            let raw = &self.src[item_start..self.lines[i].1];
            let span = self.index.span(item_start, self.lines[i].1);
            if let Some((name, value)) = directive {
                items.push(Item::Directive(Directive {
                    name,
                    value,
                    raw: raw.to_owned(),
                    span,
                }));
                i += 1;
                continue;
            }
            if is_comment(trimmed) {
                items.push(Item::Comment(Comment {
                    text: golang::trim_space(&trimmed[1..]).to_owned(),
                    raw: raw.to_owned(),
                    span,
                }));
                i += 1;
                continue;
            }
            let (first, mut eol) = trim_continuation(trimmed, self.escape);
            if eol && first.is_empty() {
                items.push(Item::Blank(Blank {
                    raw: raw.to_owned(),
                    span,
                }));
                i += 1;
                continue;
            }
            // An instruction: collect its continuation lines.
            let first_src = self.line_content_start(i) + (nonl.len() - trimmed.len());
            let mut logical = first.to_owned();
            let mut segs = vec![(0usize, first_src, first.len())];
            let mut j = i;
            while !eol && j + 1 < self.lines.len() {
                j += 1;
                let raw_line = self.line_text(j);
                let processed = trim_newline(raw_line);
                if is_comment(raw_line) {
                    continue;
                }
                if golang::trim_left_space(processed).is_empty() {
                    continue;
                }
                let (part, e) = trim_continuation(processed, self.escape);
                eol = e;
                segs.push((logical.len(), self.lines[j].0, part.len()));
                logical.push_str(part);
            }
            let segments = Segments { segs };
            let inst_start_err = |p: &Parser<'_>, node_kw: Option<(usize, usize)>, m: String| {
                let pos = match node_kw {
                    Some((s, _)) => segments.map_start(s),
                    None => first_src,
                };
                ParseError::at(&p.index.span(pos, pos), m)
            };
            let node = build_node(&logical, self.escape)
                .map_err(|(kw, m)| inst_start_err(&self, kw, m))?;
            let kw_pos = Some(node.kw_range);
            // Heredocs.
            let mut heredocs = Vec::new();
            let mut last = j;
            if node.can_contain_heredoc() && logical.contains("<<") {
                let found =
                    heredocs_from_line(&logical).map_err(|m| inst_start_err(&self, kw_pos, m))?;
                let mut k = j + 1;
                for h in found {
                    let body_start = k;
                    let mut body = String::new();
                    let mut terminated = false;
                    while k < self.lines.len() {
                        let raw_line = self.line_text(k);
                        k += 1;
                        let mut possible = trim_newline(raw_line);
                        if h.chomp {
                            possible = possible.trim_start_matches('\t');
                        }
                        if possible == h.name {
                            terminated = true;
                            break;
                        }
                        body.push_str(raw_line);
                    }
                    if !terminated {
                        return Err(inst_start_err(
                            &self,
                            kw_pos,
                            "unterminated heredoc".to_owned(),
                        ));
                    }
                    let hs = self.lines.get(body_start).map_or(self.src.len(), |l| l.0);
                    let he = self.lines[k - 1].1;
                    heredocs.push(Heredoc {
                        name: h.name,
                        quoted: !h.expand,
                        strip_tabs: h.chomp,
                        fd: h.fd,
                        body,
                        span: self.index.span(hs, he),
                    });
                }
                last = k - 1;
            }
            let end = self.lines[last].1;
            let inst = self.make_instruction(
                &node,
                &segments,
                &logical,
                heredocs,
                (item_start, end),
                last,
            );
            let Some(inst) = inst else {
                return Err(inst_start_err(
                    &self,
                    kw_pos,
                    format!("unknown instruction: {}", node.keyword),
                ));
            };
            items.push(Item::Instruction(inst));
            i = last + 1;
        }
        Ok(Dockerfile {
            escape: self.escape,
            items,
        })
    }

    fn make_instruction(
        &self,
        node: &RawNode,
        segments: &Segments,
        logical: &str,
        heredocs: Vec<Heredoc>,
        (start, end): (usize, usize),
        last_line: usize,
    ) -> Option<Instruction> {
        let keyword = Keyword::from_word(&node.keyword)?;
        let kw_s = segments.map_start(node.kw_range.0);
        let kw_e = segments.map_end(node.kw_range.1);
        let flags = node
            .flags
            .iter()
            .map(|(text, s, e)| {
                let body = text.strip_prefix("--").unwrap_or(text);
                let (name, value) = match body.split_once('=') {
                    Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                    None => (body.to_owned(), None),
                };
                Flag {
                    name,
                    value,
                    text: text.clone(),
                    span: self
                        .index
                        .span(segments.map_start(*s), segments.map_end(*e)),
                }
            })
            .collect();
        let args_span = if node.args.is_empty() {
            let p = segments.map_end(node.args_range.0);
            self.index.span(p, p)
        } else {
            self.index.span(
                segments.map_start(node.args_range.0),
                segments.map_end(node.args_range.1),
            )
        };
        let trigger = match &node.child {
            Some(child) if keyword == Keyword::Onbuild => self
                .make_instruction(
                    child,
                    segments,
                    &node.args,
                    heredocs.clone(),
                    (segments.map_start(child.kw_range.0), end),
                    last_line,
                )
                .map(Box::new),
            _ => None,
        };
        Some(Instruction {
            keyword,
            keyword_raw: node.keyword.clone(),
            keyword_span: self.index.span(kw_s, kw_e),
            flags,
            args: node.args.clone(),
            args_span,
            heredocs,
            original: logical.to_owned(),
            raw: self.src.get(start..end).unwrap_or("").to_owned(),
            span: self.index.span(start, end),
            end_line: u32::try_from(last_line + 1).unwrap_or(u32::MAX),
            trigger,
            node_args: node.words.clone(),
            json: node.json,
        })
    }
}

/// The result of BuildKit's `newNodeFromLine` for one logical line (offsets are in the
/// logical line).
#[derive(Debug, Clone)]
struct RawNode {
    keyword: String,
    kw_range: (usize, usize),
    /// Processed flag words with their (start, end) offsets.
    flags: Vec<(String, usize, usize)>,
    args: String,
    args_range: (usize, usize),
    words: Vec<String>,
    json: bool,
    child: Option<Box<RawNode>>,
}

impl RawNode {
    fn can_contain_heredoc(&self) -> bool {
        let mut node = self;
        if node.keyword.to_lowercase() == "onbuild"
            && let Some(child) = &node.child
        {
            node = child;
        }
        matches!(node.keyword.to_lowercase().as_str(), "add" | "copy" | "run") && !node.json
    }
}

type NodeError = (Option<(usize, usize)>, String);

/// `newNodeFromLine`, with `ONBUILD` children parsed one level deep (deeper levels are only
/// checked, never kept, so nesting depth cannot exhaust the stack).
fn build_node(line: &str, escape: char) -> Result<RawNode, NodeError> {
    let mut top = split_node(line, 0, escape)?;
    if top.keyword.to_lowercase() == "onbuild" && !top.args.is_empty() {
        let child = split_node(&top.args, top.args_range.0, escape)?;
        // Deeper ONBUILD levels: run the line parsers for their errors only.
        let mut cur = if child.keyword.to_lowercase() == "onbuild" {
            Some(child.args.clone())
        } else {
            None
        };
        while let Some(a) = cur.take() {
            if a.is_empty() {
                break;
            }
            let n = split_node(&a, child.args_range.0, escape)
                .map_err(|(_, m)| (Some(child.kw_range), m))?;
            if n.keyword.to_lowercase() == "onbuild" {
                cur = Some(n.args);
            }
        }
        let mut words = vec![child.keyword.clone()];
        words.extend(child.words.iter().cloned());
        top.words = words;
        top.child = Some(Box::new(child));
    }
    Ok(top)
}

/// `splitCommand` plus the keyword's line parser (without descending into `ONBUILD`).
fn split_node(line: &str, base: usize, escape: char) -> Result<RawNode, NodeError> {
    let lead = line.len() - golang::trim_left_space(line).len();
    let trimmed = golang::trim_space(line);
    let kw_end = trimmed
        .find(golang::is_re_whitespace)
        .unwrap_or(trimmed.len());
    let keyword = trimmed[..kw_end].to_owned();
    let kw_range = (base + lead, base + lead + kw_end);
    let mut flags = Vec::new();
    let mut args = String::new();
    let mut args_range = (kw_range.1, kw_range.1);
    if kw_end < trimmed.len() {
        let after = &trimmed[kw_end..];
        let rest = after.trim_start_matches(golang::is_re_whitespace);
        let rest_off = base + lead + kw_end + (after.len() - rest.len());
        let (args_start, words) = extract_builder_flags(rest);
        for (w, s, e) in words {
            flags.push((w, rest_off + s, rest_off + e));
        }
        args_range = (rest_off + rest.len(), rest_off + rest.len());
        if let Some(p) = args_start {
            let raw = golang::lossy_suffix(rest, p);
            let lead2 = raw.len() - golang::trim_left_space(&raw).len();
            let t = golang::trim_space(&raw).to_owned();
            let s = rest_off + p + lead2;
            args_range = (s, s + t.len());
            args = t;
        } else if let Some((_, _, e)) = flags.last() {
            args_range = (*e, *e);
        }
    }
    let lower = keyword.to_lowercase();
    let parsed = match lower.as_str() {
        "add" | "copy" | "volume" => parse_maybe_json_to_list(&args),
        "arg" => Ok((parse_words(&args, escape), false)),
        "cmd" | "entrypoint" | "run" | "shell" => parse_maybe_json(&args),
        "env" => parse_name_val(&args, "ENV", escape).map(|w| (w, false)),
        "label" => parse_name_val(&args, "LABEL", escape).map(|w| (w, false)),
        "expose" | "from" => Ok((parse_strings_whitespace_delimited(&args), false)),
        "healthcheck" => parse_health_config(&args),
        "maintainer" | "stopsignal" | "user" | "workdir" => Ok((
            if args.is_empty() {
                Vec::new()
            } else {
                vec![args.clone()]
            },
            false,
        )),
        // ONBUILD is handled by the caller; unknown keywords are ignored here, like BuildKit's
        // `parseIgnore`.
        _ => Ok((Vec::new(), false)),
    };
    let (words, json) = parsed.map_err(|m| (Some(kw_range), m))?;
    Ok(RawNode {
        keyword,
        kw_range,
        flags,
        args,
        args_range,
        words,
        json,
        child: None,
    })
}

/// BuildKit's `extractBuilderFlags`, byte by byte (bytes become characters like Go's
/// `string(rune(b))`). Returns where the arguments start (if anywhere) and the flag words with
/// their byte ranges.
fn extract_builder_flags(line: &str) -> (Option<usize>, Vec<(String, usize, usize)>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let b = line.as_bytes();
    let n = b.len();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut word_start = 0;
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut ch = 0u8;
    let mut pos = 0;
    while pos <= n {
        if pos != n {
            ch = b[pos];
        }
        if phase == Phase::Spaces {
            if pos == n {
                break;
            }
            if golang::is_space_byte(ch) {
                pos += 1;
                continue;
            }
            if ch != b'-' || pos + 1 == n || b[pos + 1] != b'-' {
                return (Some(pos), words);
            }
            phase = Phase::Word;
            word_start = pos;
        }
        if (phase == Phase::Word || phase == Phase::Quote) && pos == n {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push((std::mem::take(&mut word), word_start, pos));
            }
            break;
        }
        if phase == Phase::Word {
            if golang::is_space_byte(ch) {
                phase = Phase::Spaces;
                if word == "--" {
                    return (Some(pos), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push((std::mem::take(&mut word), word_start, pos));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == b'\'' || ch == b'"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            if ch == b'\\' {
                if pos + 1 == n {
                    pos += 1;
                    continue;
                }
                pos += 1;
                ch = b[pos];
            }
            word.push(char::from(ch));
            pos += 1;
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        if ch == b'\\' {
            if pos + 1 == n {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            ch = b[pos];
        }
        word.push(char::from(ch));
        pos += 1;
    }
    (None, words)
}

/// BuildKit's `parseWords`: splits on whitespace, keeping quotes and escapes in the words.
pub(crate) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let n = chars.len();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut ch = '\0';
    let mut pos = 0;
    while pos <= n {
        if pos != n {
            ch = chars[pos];
        }
        if phase == Phase::Spaces {
            if pos == n {
                break;
            }
            if golang::is_space(ch) {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if (phase == Phase::Word || phase == Phase::Quote) && pos == n {
            if blank_ok || !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            break;
        }
        if phase == Phase::Word {
            if golang::is_space(ch) {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if pos + 1 == n {
                    pos += 1;
                    continue;
                }
                word.push(ch);
                pos += 1;
                ch = chars[pos];
            }
            word.push(ch);
            pos += 1;
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            if pos + 1 == n {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            word.push(ch);
            ch = chars[pos];
        }
        word.push(ch);
        pos += 1;
    }
    words
}

/// `parseNameVal` for ENV and LABEL: triples of key, value and `=` (or empty for the legacy
/// `KEY value` form).
fn parse_name_val(rest: &str, key: &str, escape: char) -> Result<Vec<String>, String> {
    let words = parse_words(rest, escape);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    if !words[0].contains('=') {
        let parts = golang::split_re_whitespace_2(rest);
        if parts.len() < 2 {
            return Err(format!("{key} must have two arguments"));
        }
        return Ok(vec![
            parts[0].to_owned(),
            parts[1].to_owned(),
            String::new(),
        ]);
    }
    let mut out = Vec::new();
    for w in &words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                golang::quote(w)
            ));
        };
        out.push(k.to_owned());
        out.push(v.to_owned());
        out.push("=".to_owned());
    }
    Ok(out)
}

fn parse_strings_whitespace_delimited(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    golang::split_re_whitespace(rest)
}

const NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

fn parse_json(rest: &str) -> JsonArray {
    let r = golang::trim_left_space(rest);
    if !r.starts_with('[') {
        return JsonArray::NotJson;
    }
    json::parse_array(r)
}

fn parse_maybe_json(rest: &str) -> Result<(Vec<String>, bool), String> {
    if rest.is_empty() {
        return Ok((Vec::new(), false));
    }
    match parse_json(rest) {
        JsonArray::Strings(v) => Ok((v, true)),
        JsonArray::NonString => Err(NOT_STRING_ARRAY.to_owned()),
        JsonArray::NotJson => Ok((vec![rest.to_owned()], false)),
    }
}

fn parse_maybe_json_to_list(rest: &str) -> Result<(Vec<String>, bool), String> {
    match parse_json(rest) {
        JsonArray::Strings(v) => Ok((v, true)),
        JsonArray::NonString => Err(NOT_STRING_ARRAY.to_owned()),
        JsonArray::NotJson => Ok((parse_strings_whitespace_delimited(rest), false)),
    }
}

/// `parseHealthConfig`: the type word, then the command like `parseMaybeJSON`.
fn parse_health_config(rest: &str) -> Result<(Vec<String>, bool), String> {
    let b = rest.as_bytes();
    let sep = b
        .iter()
        .position(|c| golang::is_space_byte(*c))
        .unwrap_or(b.len());
    let mut next = sep;
    while next < b.len() && golang::is_space_byte(b[next]) {
        next += 1;
    }
    if sep == 0 {
        return Ok((Vec::new(), false));
    }
    let typ = golang::lossy_prefix(rest, sep);
    let cmd = golang::lossy_suffix(rest, next);
    let (words, json) = parse_maybe_json(&cmd)?;
    let mut out = vec![typ];
    out.extend(words);
    Ok((out, json))
}

/// A heredoc marker found on an instruction line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeredocMarker {
    pub(crate) name: String,
    pub(crate) fd: u32,
    pub(crate) expand: bool,
    pub(crate) chomp: bool,
}

/// BuildKit's `ParseHeredoc`: recognises a `[n]<<[-]WORD` word. `Ok(None)` when it is not one.
pub(crate) fn parse_heredoc(src: &str) -> Result<Option<HeredocMarker>, String> {
    // ^(\d*)<<(-?)\s*([^<]*)$
    let digits = src.bytes().take_while(u8::is_ascii_digit).count();
    let Some(after) = src[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, after) = match after.strip_prefix('-') {
        Some(a) => (true, a),
        None => (false, after),
    };
    let rest = after.trim_start_matches(is_re_s);
    if rest.contains('<') {
        return Ok(None);
    }
    if rest.is_empty() {
        return Ok(None);
    }
    let fd = src[..digits].parse::<u32>().unwrap_or(0);
    let lex = Lexer {
        skip_unset_env: true,
        ..Lexer::new('\\')
    };
    let words = lex.process_words(rest, &EmptyEnv).map_err(|e| e.message)?;
    if words.len() != 1 {
        return Ok(None);
    }
    let raw_lex = Lexer {
        raw_quotes: true,
        ..lex
    };
    let words_raw = raw_lex
        .process_words(rest, &EmptyEnv)
        .map_err(|e| e.message)?;
    if words_raw.len() != words.len() {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    }
    let count = |s: &str| s.chars().filter(|c| *c == '\'' || *c == '"').count();
    let word = words.into_iter().next().unwrap_or_default();
    let raw = words_raw.into_iter().next().unwrap_or_default();
    let expand = count(&word) == count(&raw);
    Ok(Some(HeredocMarker {
        name: word,
        fd,
        expand,
        chomp,
    }))
}

/// BuildKit's `heredocsFromLine`.
fn heredocs_from_line(line: &str) -> Result<Vec<HeredocMarker>, String> {
    let lex = Lexer {
        raw_quotes: true,
        raw_escapes: true,
        skip_unset_env: true,
        ..Lexer::new('\\')
    };
    let words = lex.process_words(line, &EmptyEnv).unwrap_or_default();
    let mut docs = Vec::new();
    for w in words {
        if let Some(h) = parse_heredoc(&w)? {
            docs.push(h);
        }
    }
    Ok(docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_regex() {
        assert_eq!(match_directive("escape=`"), Some(("escape", "`")));
        assert_eq!(
            match_directive("syntax = a/b:1  "),
            Some(("syntax", "a/b:1"))
        );
        assert_eq!(match_directive("escape= "), Some(("escape", " ")));
        assert_eq!(match_directive("escape="), None);
        assert_eq!(match_directive("1x=y"), None);
        assert_eq!(match_directive("x y=z"), None);
    }

    #[test]
    fn continuation() {
        assert_eq!(trim_continuation("RUN a \\", '\\'), ("RUN a ", false));
        assert_eq!(trim_continuation("RUN a \\ \t", '\\'), ("RUN a ", false));
        assert_eq!(trim_continuation("\\", '\\'), ("", false));
        assert_eq!(trim_continuation("RUN a \\\\", '\\'), ("RUN a \\\\", true));
        assert_eq!(trim_continuation("RUN a `", '`'), ("RUN a ", false));
        assert_eq!(trim_continuation("RUN a", '\\'), ("RUN a", true));
    }

    #[test]
    fn flags_extraction() {
        let (p, w) = extract_builder_flags("--a=1 --b --c=\"x y\" rest of it");
        assert_eq!(p, Some(20));
        let texts: Vec<_> = w.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(texts, vec!["--a=1", "--b", "--c=x y"]);
        let (p, w) = extract_builder_flags("-- --x");
        assert_eq!(p, Some(2));
        assert!(w.is_empty());
        let (p, w) = extract_builder_flags("--only");
        assert_eq!(p, None);
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn heredoc_markers() {
        let m = parse_heredoc("<<EOF").ok().flatten();
        assert_eq!(
            m.map(|m| (m.name, m.expand, m.chomp)),
            Some(("EOF".to_owned(), true, false))
        );
        let m = parse_heredoc("<<-'EOF'").ok().flatten();
        assert_eq!(
            m.map(|m| (m.name, m.expand, m.chomp)),
            Some(("EOF".to_owned(), false, true))
        );
        let m = parse_heredoc("<<eo\\'f").ok().flatten();
        assert_eq!(
            m.map(|m| (m.name, m.expand)),
            Some(("eo'f".to_owned(), true))
        );
        let m = parse_heredoc("<<'e'o\\'f").ok().flatten();
        assert_eq!(
            m.map(|m| (m.name, m.expand)),
            Some(("eo'f".to_owned(), false))
        );
        let m = parse_heredoc("3<<  EOF").ok().flatten();
        assert_eq!(m.map(|m| (m.name, m.fd)), Some(("EOF".to_owned(), 3)));
        assert_eq!(parse_heredoc("<<"), Ok(None));
        assert_eq!(parse_heredoc("a<<EOF"), Ok(None));
        assert_eq!(parse_heredoc("<<EOF<<X"), Ok(None));
    }
}
