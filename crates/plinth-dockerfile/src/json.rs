//! The JSON-array test BuildKit uses to tell exec form from shell form: Go's `encoding/json`
//! (`json.Unmarshal` into `[]interface{}`), re-implemented without recursion so that no input can
//! exhaust the stack (Go's own nesting limit of 10000 is kept).

/// What a string is, as far as the exec-form rule is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonArray {
    /// Not valid JSON (or not an array): shell form.
    NotJson,
    /// A valid JSON array with a non-string element: an error in BuildKit.
    NonString,
    /// A valid JSON array of strings: exec form.
    Strings(Vec<String>),
}

const MAX_DEPTH: usize = 10_000;

struct Reader<'a> {
    b: &'a [u8],
    s: &'a str,
    i: usize,
}

impl Reader<'_> {
    fn skip_ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn literal(&mut self, lit: &[u8]) -> bool {
        if self.b.get(self.i..self.i + lit.len()) == Some(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn number(&mut self) -> bool {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return false,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return false;
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return false;
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        true
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let h = self.s.get(at..at + 4)?;
        if !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(h, 16).ok()
    }

    /// Reads a string starting at the opening quote; returns its decoded value.
    fn string(&mut self) -> Option<String> {
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            let c = *self.b.get(self.i)?;
            match c {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                b'\\' => {
                    let e = *self.b.get(self.i + 1)?;
                    self.i += 2;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let r = self.hex4(self.i)?;
                            self.i += 4;
                            if (0xd800..0xe000).contains(&r) {
                                // Go: a valid surrogate pair is combined, anything else is U+FFFD.
                                let pair = if r < 0xdc00
                                    && self.b.get(self.i) == Some(&b'\\')
                                    && self.b.get(self.i + 1) == Some(&b'u')
                                {
                                    self.hex4(self.i + 2)
                                        .filter(|r2| (0xdc00..0xe000).contains(r2))
                                } else {
                                    None
                                };
                                match pair {
                                    Some(r2) => {
                                        self.i += 6;
                                        let cp = 0x10000 + ((r - 0xd800) << 10) + (r2 - 0xdc00);
                                        out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                                    }
                                    None => out.push('\u{FFFD}'),
                                }
                            } else {
                                out.push(char::from_u32(r).unwrap_or('\u{FFFD}'));
                            }
                        }
                        _ => return None,
                    }
                }
                c if c < 0x20 => return None,
                _ => {
                    // copy one UTF-8 character
                    let rest = self.s.get(self.i..)?;
                    let ch = rest.chars().next()?;
                    out.push(ch);
                    self.i += ch.len_utf8();
                }
            }
        }
    }
}

/// Classifies `s` (already left-trimmed, starting with `[`) like BuildKit's `parseJSON`.
pub(crate) fn parse_array(s: &str) -> JsonArray {
    let mut r = Reader {
        b: s.as_bytes(),
        s,
        i: 0,
    };
    r.skip_ws();
    if r.peek() != Some(b'[') {
        return JsonArray::NotJson;
    }
    // Iterative validation. Each stack entry is an open container: true for object.
    let mut stack: Vec<bool> = Vec::new();
    let mut top_strings: Vec<String> = Vec::new();
    let mut top_non_string = false;
    // Parse the top-level array by hand so we can collect its elements.
    r.i += 1;
    stack.push(false);
    // State machine: expecting a value (or closing bracket when first) in the current container.
    #[derive(PartialEq)]
    enum Want {
        ValueOrClose,
        Value,
        CommaOrClose,
        KeyOrClose,
        Key,
    }
    let mut want = Want::ValueOrClose;
    loop {
        r.skip_ws();
        let Some(c) = r.peek() else {
            return JsonArray::NotJson;
        };
        let depth = stack.len();
        match want {
            Want::KeyOrClose | Want::Key => {
                if c == b'}' && want == Want::KeyOrClose {
                    r.i += 1;
                    stack.pop();
                    want = Want::CommaOrClose;
                } else if c == b'"' {
                    if r.string().is_none() {
                        return JsonArray::NotJson;
                    }
                    r.skip_ws();
                    if r.peek() != Some(b':') {
                        return JsonArray::NotJson;
                    }
                    r.i += 1;
                    want = Want::Value;
                } else {
                    return JsonArray::NotJson;
                }
            }
            Want::ValueOrClose | Want::Value => {
                if c == b']' && want == Want::ValueOrClose && stack.last() == Some(&false) {
                    r.i += 1;
                    stack.pop();
                    want = Want::CommaOrClose;
                } else {
                    let is_top = depth == 1;
                    match c {
                        b'"' => {
                            let Some(v) = r.string() else {
                                return JsonArray::NotJson;
                            };
                            if is_top {
                                top_strings.push(v);
                            }
                            want = Want::CommaOrClose;
                        }
                        b'[' | b'{' => {
                            if stack.len() >= MAX_DEPTH {
                                return JsonArray::NotJson;
                            }
                            if is_top {
                                top_non_string = true;
                            }
                            r.i += 1;
                            let obj = c == b'{';
                            stack.push(obj);
                            want = if obj {
                                Want::KeyOrClose
                            } else {
                                Want::ValueOrClose
                            };
                        }
                        _ => {
                            let ok = match c {
                                b't' => r.literal(b"true"),
                                b'f' => r.literal(b"false"),
                                b'n' => r.literal(b"null"),
                                b'-' | b'0'..=b'9' => r.number(),
                                _ => false,
                            };
                            if !ok {
                                return JsonArray::NotJson;
                            }
                            if is_top {
                                top_non_string = true;
                            }
                            want = Want::CommaOrClose;
                        }
                    }
                }
            }
            Want::CommaOrClose => {
                let Some(&obj) = stack.last() else {
                    return JsonArray::NotJson;
                };
                match (c, obj) {
                    (b',', false) => {
                        r.i += 1;
                        want = Want::Value;
                    }
                    (b',', true) => {
                        r.i += 1;
                        want = Want::Key;
                    }
                    (b']', false) | (b'}', true) => {
                        r.i += 1;
                        stack.pop();
                        want = Want::CommaOrClose;
                    }
                    _ => return JsonArray::NotJson,
                }
            }
        }
        if stack.is_empty() {
            break;
        }
    }
    r.skip_ws();
    if r.i != r.b.len() {
        return JsonArray::NotJson;
    }
    if top_non_string {
        JsonArray::NonString
    } else {
        JsonArray::Strings(top_strings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> JsonArray {
        JsonArray::Strings(v.iter().map(|s| (*s).to_owned()).collect())
    }

    #[test]
    fn classifies_like_go() {
        assert_eq!(parse_array(r#"["a", "b c"]"#), strings(&["a", "b c"]));
        assert_eq!(parse_array("[]"), strings(&[]));
        assert_eq!(parse_array(r#"[ "a" ]  "#), strings(&["a"]));
        assert_eq!(parse_array(r#"["a",]"#), JsonArray::NotJson);
        assert_eq!(parse_array(r#"["a"] x"#), JsonArray::NotJson);
        assert_eq!(parse_array(r#"['a']"#), JsonArray::NotJson);
        assert_eq!(parse_array(r#"["a", 1]"#), JsonArray::NonString);
        assert_eq!(parse_array(r#"[["a"]]"#), JsonArray::NonString);
        assert_eq!(
            parse_array(r#"[{"k": [1, {}]}, null]"#),
            JsonArray::NonString
        );
        assert_eq!(
            parse_array(r#"["\u00e9\n\ud83d\ude00\ud800"]"#),
            strings(&["é\n😀\u{FFFD}"])
        );
        assert_eq!(parse_array("[\"a\tb\"]"), JsonArray::NotJson);
        assert_eq!(parse_array("[01]"), JsonArray::NotJson);
        assert_eq!(parse_array("[1.5e+3, -0]"), JsonArray::NonString);
        let deep = "[".repeat(20_000) + &"]".repeat(20_000);
        assert_eq!(parse_array(&deep), JsonArray::NotJson);
        let ok_deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(parse_array(&ok_deep), JsonArray::NonString);
    }
}
