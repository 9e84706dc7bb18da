//! A small shell-command splitter for lint rules about `RUN`.
//!
//! [`Script::parse`] turns a shell-form `RUN` command (or the body of a `RUN <<EOF` heredoc)
//! into the simple commands it runs: argv words with quotes removed and variables left as text,
//! split at `&&`, `||`, `;`, `&`, `|`, newlines and `( )`. It understands single and double
//! quotes, backslash escapes, backslash-newline continuations, comments, redirections (which
//! are not words), heredoc bodies inside the script (skipped as data), the reserved words of
//! compound commands (`if`, `then`, `do`, `for ... in ...`, `case ... esac`, `{ }`), and
//! command substitutions (`$(...)` and backticks, whose commands are listed too). It records
//! which commands are parts of a pipeline (`a | b`), for hadolint's DL4006.
//!
//! It is not a full POSIX parser: the aim is what real Dockerfiles contain, and it never
//! panics, whatever the input. [`SimpleCommand`] also has hadolint's view of flags
//! (`-abc` is the flags `a`, `b`, `c`; `--name=value` is the flag `name`), which the `DL` rules
//! use to match hadolint's semantics.

/// How deep command substitutions are followed.
const MAX_DEPTH: usize = 8;

/// One simple command: `NAME=value ... word word ...`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SimpleCommand {
    /// Leading variable assignments (`DEBIAN_FRONTEND=noninteractive`), as written minus quotes.
    pub assignments: Vec<String>,
    /// The argv: the command name and its arguments, quotes removed, variables as text.
    pub words: Vec<String>,
    /// Whether the command is one side of a pipe (`a | b`: both `a` and `b`).
    pub in_pipeline: bool,
}

/// A flag as hadolint sees it: its name and the index (in [`SimpleCommand::args`]) of the
/// argument it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag<'a> {
    /// `y` for `-y` (and for each letter of `-yq`), `no-cache` for `--no-cache[=...]`.
    pub name: &'a str,
    /// The index of the argument in [`SimpleCommand::args`].
    pub arg: usize,
    /// Whether the flag's value is attached (`--target=x`) rather than the next argument.
    pub attached_value: bool,
}

impl SimpleCommand {
    /// The command name (the first word), or `""` when there is none.
    pub fn name(&self) -> &str {
        self.words.first().map(String::as_str).unwrap_or_default()
    }

    /// The arguments after the name.
    pub fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or_default()
    }

    /// Whether the command is `name` and one of its arguments is in `any_of`.
    pub fn is_with_arg(&self, name: &str, any_of: &[&str]) -> bool {
        self.name() == name && self.args().iter().any(|a| any_of.contains(&a.as_str()))
    }

    /// Whether one of the arguments is exactly `arg`.
    pub fn has_arg(&self, arg: &str) -> bool {
        self.args().iter().any(|a| a == arg)
    }

    /// hadolint's flags: `-abc` gives `a`, `b`, `c`; `--long` and `--long=value` give `long`;
    /// `-` and `--` are not flags.
    pub fn flags(&self) -> Vec<Flag<'_>> {
        let mut out = Vec::new();
        for (i, a) in self.args().iter().enumerate() {
            if a == "-" || a == "--" {
                continue;
            }
            if let Some(long) = a.strip_prefix("--") {
                let (name, attached) = match long.split_once('=') {
                    Some((n, _)) => (n, true),
                    None => (long, false),
                };
                out.push(Flag {
                    name,
                    arg: i,
                    attached_value: attached,
                });
            } else if let Some(short) = a.strip_prefix('-') {
                let mut chars = short.char_indices().peekable();
                while let Some((at, c)) = chars.next() {
                    let last = chars.peek().is_none();
                    out.push(Flag {
                        name: short.get(at..at + c.len_utf8()).unwrap_or_default(),
                        arg: i,
                        attached_value: !last,
                    });
                }
            }
        }
        out
    }

    /// Whether the command has the flag `name` (see [`SimpleCommand::flags`]).
    pub fn has_flag(&self, name: &str) -> bool {
        self.flags().iter().any(|f| f.name == name)
    }

    /// Whether the command has one of the flags `names`.
    pub fn has_any_flag(&self, names: &[&str]) -> bool {
        self.flags().iter().any(|f| names.contains(&f.name))
    }

    /// The arguments that are not flags (`-` and `--` count as non-flags, as in hadolint),
    /// leaving out the value argument that follows each flag in `takes_value` (when the value
    /// is not attached to the flag).
    pub fn args_no_flags(&self, takes_value: &[&str]) -> Vec<&str> {
        let flags = self.flags();
        let mut skip = vec![false; self.args().len()];
        for f in &flags {
            if let Some(s) = skip.get_mut(f.arg) {
                *s = true;
            }
            if takes_value.contains(&f.name)
                && !f.attached_value
                && let Some(s) = skip.get_mut(f.arg + 1)
            {
                *s = true;
            }
        }
        self.args()
            .iter()
            .zip(skip)
            .filter(|(_, s)| !s)
            .map(|(a, _)| a.as_str())
            .collect()
    }
}

/// The simple commands of a script, in order (commands of command substitutions after the
/// others).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    /// The commands.
    pub commands: Vec<SimpleCommand>,
    /// Whether a pipe (`|` or `|&`) occurs.
    pub has_pipe: bool,
}

impl Script {
    /// Splits a shell script into its simple commands.
    pub fn parse(text: &str) -> Script {
        Splitter::new(text, 0).split()
    }

    /// An exec-form command (`RUN ["a", "b"]`): its words as one command.
    pub fn from_words(words: &[String]) -> Script {
        let commands = if words.is_empty() {
            Vec::new()
        } else {
            vec![SimpleCommand {
                assignments: Vec::new(),
                words: words.to_vec(),
                in_pipeline: false,
            }]
        };
        Script {
            commands,
            has_pipe: false,
        }
    }

    /// Appends the commands of `other`.
    pub fn extend(&mut self, other: Script) {
        self.commands.extend(other.commands);
        self.has_pipe |= other.has_pipe;
    }

    /// Whether some command is named `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.commands.iter().any(|c| c.name() == name)
    }
}

/// An operator between words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `&&`, `||`, `;`, `&`.
    List,
    /// A newline.
    Newline,
    /// `|` or `|&`.
    Pipe,
    /// `;;`, `;&`, `;;&` (end of a `case` branch).
    CaseBreak,
    /// `(`.
    Open,
    /// `)`.
    Close,
}

/// What the splitter does with the words it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Building commands.
    Normal,
    /// After `for`/`select`/`function`: words up to the next separator are not a command.
    Discard,
    /// After `case`: up to `in`.
    CaseHeader,
    /// A `case` pattern, up to `)`.
    CasePattern,
}

/// A word: its text and where its first `=` ends an unquoted assignment name.
struct Word {
    text: String,
    /// How many leading characters of `text` came from plain unquoted characters.
    plain_prefix: usize,
}

impl Word {
    fn is_assignment(&self) -> bool {
        let Some(eq) = self.text.find('=') else {
            return false;
        };
        if eq >= self.plain_prefix || eq == 0 {
            return false;
        }
        let name = self.text.get(..eq).unwrap_or_default();
        let name = name.strip_suffix('+').unwrap_or(name);
        let mut chars = name.chars();
        matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
            && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
    }
}

struct PendingHeredoc {
    delimiter: String,
    strip_tabs: bool,
}

struct Splitter {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    commands: Vec<SimpleCommand>,
    nested: Vec<SimpleCommand>,
    current: SimpleCommand,
    mode: Mode,
    case_depth: usize,
    pending_pipe: bool,
    has_pipe: bool,
    heredocs: Vec<PendingHeredoc>,
}

impl Splitter {
    fn new(text: &str, depth: usize) -> Self {
        Splitter {
            chars: text.chars().collect(),
            pos: 0,
            depth,
            commands: Vec::new(),
            nested: Vec::new(),
            current: SimpleCommand::default(),
            mode: Mode::Normal,
            case_depth: 0,
            pending_pipe: false,
            has_pipe: false,
            heredocs: Vec::new(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<char> {
        self.chars.get(self.pos + off).copied()
    }

    /// The length of a backslash-newline (or backslash-CRLF) continuation at the position.
    fn continuation(&self) -> Option<usize> {
        match (self.peek(), self.peek_at(1), self.peek_at(2)) {
            (Some('\\'), Some('\n'), _) => Some(2),
            (Some('\\'), Some('\r'), Some('\n')) => Some(3),
            _ => None,
        }
    }

    fn split(mut self) -> Script {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' => self.pos += 1,
                '\\' if self.continuation().is_some() => {
                    self.pos += self.continuation().unwrap_or(1);
                }
                '\n' => {
                    self.pos += 1;
                    self.operator(Op::Newline);
                    self.skip_heredoc_bodies();
                }
                '#' => self.skip_comment(),
                '&' if self.peek_at(1) == Some('&') => {
                    self.pos += 2;
                    self.operator(Op::List);
                }
                '&' if self.peek_at(1) == Some('>') => self.redirection(),
                '&' => {
                    self.pos += 1;
                    self.operator(Op::List);
                }
                '|' if self.peek_at(1) == Some('|') => {
                    self.pos += 2;
                    self.operator(Op::List);
                }
                '|' => {
                    self.pos += if self.peek_at(1) == Some('&') { 2 } else { 1 };
                    self.operator(Op::Pipe);
                }
                ';' => {
                    if self.peek_at(1) == Some(';') {
                        self.pos += if self.peek_at(2) == Some('&') { 3 } else { 2 };
                        self.operator(Op::CaseBreak);
                    } else if self.peek_at(1) == Some('&') {
                        self.pos += 2;
                        self.operator(Op::CaseBreak);
                    } else {
                        self.pos += 1;
                        self.operator(Op::List);
                    }
                }
                '(' => {
                    self.pos += 1;
                    self.operator(Op::Open);
                }
                ')' => {
                    self.pos += 1;
                    self.operator(Op::Close);
                }
                '<' | '>' => self.redirection(),
                c if c.is_ascii_digit() && self.digits_then_redirect() => self.redirection(),
                _ => {
                    let w = self.read_word();
                    self.word(w);
                }
            }
        }
        self.finish_command();
        let mut commands = self.commands;
        commands.append(&mut self.nested);
        Script {
            commands,
            has_pipe: self.has_pipe,
        }
    }

    /// `2>`, `10<`: digits directly followed by a redirection operator.
    fn digits_then_redirect(&self) -> bool {
        let mut i = self.pos;
        while self.chars.get(i).is_some_and(char::is_ascii_digit) {
            i += 1;
        }
        matches!(self.chars.get(i), Some('<' | '>'))
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' {
                break;
            }
            self.pos += 1;
        }
    }

    fn skip_blanks(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' => self.pos += 1,
                '\\' if self.continuation().is_some() => {
                    self.pos += self.continuation().unwrap_or(1);
                }
                _ => break,
            }
        }
    }

    /// A redirection operator and its target word (not part of the command's words).
    fn redirection(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let mut heredoc = None;
        match (self.peek(), self.peek_at(1), self.peek_at(2)) {
            (Some('<'), Some('<'), Some('<')) => self.pos += 3,
            (Some('<'), Some('<'), Some('-')) => {
                self.pos += 3;
                heredoc = Some(true);
            }
            (Some('<'), Some('<'), _) => {
                self.pos += 2;
                heredoc = Some(false);
            }
            (Some('&'), Some('>'), Some('>')) => self.pos += 3,
            (Some('<' | '>' | '&'), Some('>' | '&' | '|'), _) => self.pos += 2,
            _ => self.pos += 1,
        }
        self.skip_blanks();
        let target_starts_word = self
            .peek()
            .is_some_and(|c| !matches!(c, '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>'));
        if !target_starts_word {
            return;
        }
        let target = self.read_word();
        if let Some(strip_tabs) = heredoc {
            self.heredocs.push(PendingHeredoc {
                delimiter: target.text,
                strip_tabs,
            });
        }
    }

    /// After a newline: the bodies of the heredocs started on the line before.
    fn skip_heredoc_bodies(&mut self) {
        for h in std::mem::take(&mut self.heredocs) {
            loop {
                if self.pos >= self.chars.len() {
                    return;
                }
                let start = self.pos;
                while self.peek().is_some_and(|c| c != '\n') {
                    self.pos += 1;
                }
                let line: String = self
                    .chars
                    .get(start..self.pos)
                    .unwrap_or_default()
                    .iter()
                    .collect();
                if self.peek() == Some('\n') {
                    self.pos += 1;
                }
                let line = line.strip_suffix('\r').unwrap_or(&line);
                let line = if h.strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                if line == h.delimiter {
                    break;
                }
            }
        }
    }

    /// Reads one word: quotes removed, escapes applied, expansions kept as text.
    fn read_word(&mut self) -> Word {
        let mut text = String::new();
        let mut plain_prefix = 0;
        let mut plain = true;
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>' => break,
                '\\' => {
                    plain = false;
                    if let Some(n) = self.continuation() {
                        self.pos += n;
                        continue;
                    }
                    match self.peek_at(1) {
                        Some(n) => {
                            text.push(n);
                            self.pos += 2;
                        }
                        None => {
                            text.push('\\');
                            self.pos += 1;
                        }
                    }
                }
                '\'' => {
                    plain = false;
                    self.pos += 1;
                    while let Some(q) = self.peek() {
                        self.pos += 1;
                        if q == '\'' {
                            break;
                        }
                        text.push(q);
                    }
                }
                '"' => {
                    plain = false;
                    self.pos += 1;
                    self.read_double_quoted(&mut text);
                }
                '$' | '`' => {
                    plain = false;
                    self.read_expansion(&mut text);
                }
                _ => {
                    text.push(c);
                    self.pos += 1;
                    if plain {
                        plain_prefix = text.len();
                    }
                }
            }
        }
        Word { text, plain_prefix }
    }

    /// The inside of `"..."` (the opening quote already read).
    fn read_double_quoted(&mut self, text: &mut String) {
        while let Some(c) = self.peek() {
            match c {
                '"' => {
                    self.pos += 1;
                    return;
                }
                '\\' => match self.peek_at(1) {
                    Some('\n') => self.pos += 2,
                    Some(n @ ('$' | '`' | '"' | '\\')) => {
                        text.push(n);
                        self.pos += 2;
                    }
                    _ => {
                        text.push('\\');
                        self.pos += 1;
                    }
                },
                '$' | '`' => self.read_expansion(text),
                _ => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `$VAR`, `${...}`, `$(...)`, `$((...))`, `` `...` ``, kept as written; the commands of
    /// command substitutions are collected.
    fn read_expansion(&mut self, text: &mut String) {
        let start = self.pos;
        match (self.peek(), self.peek_at(1), self.peek_at(2)) {
            (Some('`'), _, _) => {
                self.pos += 1;
                let body_start = self.pos;
                while let Some(c) = self.peek() {
                    if c == '\\' {
                        self.pos += 2;
                        continue;
                    }
                    if c == '`' {
                        break;
                    }
                    self.pos += 1;
                }
                let body_end = self.pos.min(self.chars.len());
                let body: String = self
                    .chars
                    .get(body_start..body_end)
                    .unwrap_or_default()
                    .iter()
                    .collect();
                self.pos = (self.pos + 1).min(self.chars.len());
                self.substitution(&body);
            }
            (Some('$'), Some('('), Some('(')) => {
                self.pos += 1;
                self.skip_balanced('(', ')');
            }
            (Some('$'), Some('('), _) => {
                self.pos += 1;
                let body_start = self.pos + 1;
                self.skip_balanced('(', ')');
                let body_end = self.pos.saturating_sub(1).max(body_start);
                let body: String = self
                    .chars
                    .get(body_start..body_end)
                    .unwrap_or_default()
                    .iter()
                    .collect();
                self.substitution(&body);
            }
            (Some('$'), Some('{'), _) => {
                self.pos += 1;
                self.skip_balanced('{', '}');
            }
            (Some('$'), Some('\''), _) => {
                // $'...': ANSI-C quoting; keep the text inside.
                self.pos += 2;
                let mut inner = String::new();
                while let Some(c) = self.peek() {
                    self.pos += 1;
                    if c == '\\' {
                        if let Some(n) = self.peek() {
                            inner.push(n);
                            self.pos += 1;
                        }
                        continue;
                    }
                    if c == '\'' {
                        break;
                    }
                    inner.push(c);
                }
                text.push_str(&inner);
                return;
            }
            (Some('$'), Some(c), _) if c == '_' || c.is_ascii_alphabetic() => {
                self.pos += 1;
                while self
                    .peek()
                    .is_some_and(|c| c == '_' || c.is_ascii_alphanumeric())
                {
                    self.pos += 1;
                }
            }
            (Some('$'), Some(c), _) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                self.pos += 2;
            }
            _ => self.pos += 1,
        }
        let end = self.pos.min(self.chars.len());
        text.extend(self.chars.get(start..end).unwrap_or_default());
    }

    /// From an opening `open` at the current position, moves past its matching `close`
    /// (quotes and escapes respected).
    fn skip_balanced(&mut self, open: char, close: char) {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            match c {
                '\\' => self.pos += 2,
                '\'' => {
                    self.pos += 1;
                    while let Some(q) = self.peek() {
                        self.pos += 1;
                        if q == '\'' {
                            break;
                        }
                    }
                }
                '"' => {
                    self.pos += 1;
                    while let Some(q) = self.peek() {
                        self.pos += 1;
                        if q == '\\' {
                            self.pos += 1;
                        } else if q == '"' {
                            break;
                        }
                    }
                }
                c if c == open => {
                    depth += 1;
                    self.pos += 1;
                }
                c if c == close => {
                    self.pos += 1;
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                _ => self.pos += 1,
            }
        }
        self.pos = self.pos.min(self.chars.len());
    }

    fn substitution(&mut self, body: &str) {
        if self.depth >= MAX_DEPTH {
            return;
        }
        let inner = Splitter::new(body, self.depth + 1).split();
        self.has_pipe |= inner.has_pipe;
        self.nested.extend(inner.commands);
    }

    fn word(&mut self, w: Word) {
        match self.mode {
            Mode::Discard => return,
            Mode::CaseHeader => {
                if w.text == "in" {
                    self.mode = Mode::CasePattern;
                }
                return;
            }
            Mode::CasePattern => {
                if w.text == "esac" {
                    self.case_depth = self.case_depth.saturating_sub(1);
                    self.mode = Mode::Normal;
                }
                return;
            }
            Mode::Normal => {}
        }
        if self.current.words.is_empty() {
            if self.current.assignments.is_empty() {
                match w.text.as_str() {
                    "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "!" | "{"
                    | "}" | "fi" | "done" | "time" => return,
                    "esac" => {
                        self.case_depth = self.case_depth.saturating_sub(1);
                        return;
                    }
                    "for" | "select" | "function" => {
                        self.mode = Mode::Discard;
                        return;
                    }
                    "case" => {
                        self.case_depth += 1;
                        self.mode = Mode::CaseHeader;
                        return;
                    }
                    _ => {}
                }
            }
            if w.is_assignment() {
                self.current.assignments.push(w.text);
                return;
            }
        }
        self.current.words.push(w.text);
    }

    fn finish_command(&mut self) {
        let mut cmd = std::mem::take(&mut self.current);
        if cmd.words.is_empty() {
            return;
        }
        if self.pending_pipe {
            cmd.in_pipeline = true;
            self.pending_pipe = false;
        }
        self.commands.push(cmd);
    }

    fn operator(&mut self, op: Op) {
        if self.mode == Mode::CasePattern {
            if op == Op::Close {
                self.mode = Mode::Normal;
            }
            return;
        }
        if self.mode == Mode::CaseHeader {
            return;
        }
        self.finish_command();
        match op {
            Op::Pipe => {
                self.has_pipe = true;
                if let Some(last) = self.commands.last_mut() {
                    last.in_pipeline = true;
                }
                self.pending_pipe = true;
            }
            Op::List => {
                self.pending_pipe = false;
                self.mode = Mode::Normal;
            }
            Op::Newline => {
                if self.mode == Mode::Discard {
                    self.mode = Mode::Normal;
                }
            }
            Op::CaseBreak => {
                self.pending_pipe = false;
                self.mode = if self.case_depth > 0 {
                    Mode::CasePattern
                } else {
                    Mode::Normal
                };
            }
            Op::Open | Op::Close => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<String>> {
        Script::parse(text)
            .commands
            .into_iter()
            .map(|c| c.words)
            .collect()
    }

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn splits_a_typical_apt_run() {
        let s = Script::parse(
            "set -eux; apt-get update && apt-get install -y --no-install-recommends a=1 b \\\n    && rm -rf /var/lib/apt/lists/*",
        );
        let w: Vec<_> = s.commands.iter().map(|c| c.words.clone()).collect();
        assert_eq!(
            w,
            vec![
                v(&["set", "-eux"]),
                v(&["apt-get", "update"]),
                v(&[
                    "apt-get",
                    "install",
                    "-y",
                    "--no-install-recommends",
                    "a=1",
                    "b"
                ]),
                v(&["rm", "-rf", "/var/lib/apt/lists/*"]),
            ]
        );
        assert!(!s.has_pipe);
        assert!(s.commands.iter().all(|c| !c.in_pipeline));
    }

    #[test]
    fn quotes_and_escapes_are_removed_and_variables_kept() {
        assert_eq!(
            words(r#"echo 'a b' "c $HOME ${X:-y}" d\ e "q\"x" 'it''s'"#),
            vec![v(&["echo", "a b", "c $HOME ${X:-y}", "d e", "q\"x", "its"])]
        );
    }

    #[test]
    fn separators_inside_quotes_do_not_split() {
        assert_eq!(
            words(r#"echo "a && b; c | d" 'e || f' && ls"#),
            vec![v(&["echo", "a && b; c | d", "e || f"]), v(&["ls"])]
        );
    }

    #[test]
    fn pipelines_are_marked() {
        let s = Script::parse("curl -s x | tar xz && echo done; a |& b");
        let marks: Vec<(String, bool)> = s
            .commands
            .iter()
            .map(|c| (c.name().to_string(), c.in_pipeline))
            .collect();
        assert_eq!(
            marks,
            vec![
                ("curl".into(), true),
                ("tar".into(), true),
                ("echo".into(), false),
                ("a".into(), true),
                ("b".into(), true),
            ]
        );
        assert!(s.has_pipe);
        assert!(!Script::parse("a || b").has_pipe);
    }

    #[test]
    fn assignments_redirections_and_comments_are_not_words() {
        let s = Script::parse(
            "DEBIAN_FRONTEND=noninteractive FOO=\"a b\" apt-get install x > /dev/null 2>&1 # a comment && no\nwc -l <in >>out",
        );
        assert_eq!(
            s.commands[0].assignments,
            v(&["DEBIAN_FRONTEND=noninteractive", "FOO=a b"])
        );
        assert_eq!(s.commands[0].words, v(&["apt-get", "install", "x"]));
        assert_eq!(s.commands[1].words, v(&["wc", "-l"]));
        assert_eq!(s.commands.len(), 2);
        // A quoted `=` or an argument after the name is not an assignment.
        assert_eq!(words("env A=1 'B'=2"), vec![v(&["env", "A=1", "B=2"])]);
    }

    #[test]
    fn compound_commands_and_subshells() {
        assert_eq!(
            words("if [ -f x ]; then cd /a; else (cd /b && make); fi"),
            vec![
                v(&["[", "-f", "x", "]"]),
                v(&["cd", "/a"]),
                v(&["cd", "/b"]),
                v(&["make"]),
            ]
        );
        assert_eq!(
            words("for p in a b c; do pip install \"$p\"; done"),
            vec![v(&["pip", "install", "$p"])]
        );
        assert_eq!(
            words("case \"$A\" in\n  x|y) apt-get update ;;\n  *) echo no ;;\nesac; ls"),
            vec![v(&["apt-get", "update"]), v(&["echo", "no"]), v(&["ls"])]
        );
        assert_eq!(
            words("{ echo a; echo b; }"),
            vec![v(&["echo", "a"]), v(&["echo", "b"])]
        );
    }

    #[test]
    fn heredoc_bodies_inside_a_script_are_data() {
        let s = Script::parse(
            "cat <<EOT > /etc/conf\napt-get install nothing\nEOT\napt-get update\ncat <<-'X'\n\tsudo x\n\tX\necho end",
        );
        let names: Vec<&str> = s.commands.iter().map(SimpleCommand::name).collect();
        assert_eq!(names, vec!["cat", "apt-get", "cat", "echo"]);
    }

    #[test]
    fn command_substitutions_are_searched() {
        let s = Script::parse("echo \"$(curl -s x | head -1)\" `wget -q y` $((1 + 2))");
        let names: Vec<&str> = s.commands.iter().map(SimpleCommand::name).collect();
        assert_eq!(names, vec!["echo", "curl", "head", "wget"]);
        assert!(s.has_pipe);
        assert_eq!(s.commands[0].words[1], "$(curl -s x | head -1)");
    }

    #[test]
    fn hadolint_flags() {
        let s =
            Script::parse("apt-get -yq install -t buster --target-release=x --no-cache - -- pkg");
        let c = &s.commands[0];
        let names: Vec<&str> = c.flags().iter().map(|f| f.name).collect();
        assert_eq!(names, vec!["y", "q", "t", "target-release", "no-cache"]);
        assert!(c.has_flag("q") && c.has_any_flag(&["x", "no-cache"]) && !c.has_flag("n"));
        assert_eq!(
            c.args_no_flags(&["t", "target-release"]),
            vec!["install", "-", "--", "pkg"]
        );
        assert_eq!(
            c.args_no_flags(&[]),
            vec!["install", "buster", "-", "--", "pkg"]
        );
        assert!(c.is_with_arg("apt-get", &["install"]) && !c.is_with_arg("apt", &["install"]));
    }

    #[test]
    fn exec_form_is_one_command() {
        let s = Script::from_words(&v(&["sh", "-c", "a | b"]));
        assert_eq!(s.commands.len(), 1);
        assert!(!s.has_pipe);
        assert!(Script::from_words(&[]).commands.is_empty());
    }

    #[test]
    fn odd_input_never_panics() {
        for text in [
            "",
            "\\",
            "'",
            "\"",
            "$",
            "$(",
            "${",
            "`",
            "a |",
            "| a",
            "&&",
            ";;",
            "(((",
            ")))",
            "<<",
            "<<EOF",
            "cat <<EOF\nbody",
            "2>",
            "a 2>&",
            "\"$(\"",
            "$'\\",
            "case x in",
            "ä ö ü | ß",
            "\\\n\\\n",
            "$((1+",
            "for",
            "echo ${a:-$(b)}",
            "x=",
            "=x",
        ] {
            let s = Script::parse(text);
            assert!(s.commands.iter().all(|c| !c.words.is_empty()), "{text:?}");
        }
        // Every prefix of a script full of constructs (unterminated quotes, substitutions,
        // heredocs, case patterns) splits without panicking.
        let script = "set -eux; A=\"x y\" apt-get -y install 'a b'=1 \\\r\n  c && (cd /x | y) \
            || echo $(curl -s \"$U\" | sh -s -- `id -u`) ${V:-$(w)} $((1+2)) <<-'E'\n\tbody\n\tE\n\
            case $1 in a|b) z;; *) q;; esac; for i in 1 2; do :; done # c\nä";
        let mut cut = String::new();
        for c in script.chars() {
            cut.push(c);
            let s = Script::parse(&cut);
            assert!(s.commands.iter().all(|c| !c.words.is_empty()), "{cut:?}");
        }
        assert_eq!(
            Script::parse(script)
                .commands
                .first()
                .map(|c| c.words.clone()),
            Some(v(&["set", "-eux"]))
        );
        assert_eq!(
            words("apt-get install a \\\r\n  b"),
            vec![v(&["apt-get", "install", "a", "b"])]
        );
        let deep = "$(".repeat(200) + &")".repeat(200);
        let _ = Script::parse(&deep);
    }
}
