//! Small re-implementations of the Go standard library behaviour BuildKit relies on
//! (`unicode.IsSpace`, `unicode.IsLetter`, `strconv.Quote`, `time.ParseDuration`,
//! `strconv.ParseBool`/`ParseUint`, go-units `RAMInBytes`), so that the parser accepts, rejects
//! and reports exactly what BuildKit does.

use std::time::Duration;

use unicode_general_category::{GeneralCategory, get_general_category};

/// Go's `unicode.IsSpace`: the Unicode `White_Space` property (same set as Rust's).
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Go's `unicode.IsSpace(rune(b))` applied to a single byte, as BuildKit does in a few byte loops.
pub(crate) fn is_space_byte(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0)
}

/// Go's `unicode.IsLetter`: general category L.
pub(crate) fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphabetic();
    }
    matches!(
        get_general_category(c),
        GeneralCategory::UppercaseLetter
            | GeneralCategory::LowercaseLetter
            | GeneralCategory::TitlecaseLetter
            | GeneralCategory::ModifierLetter
            | GeneralCategory::OtherLetter
    )
}

/// Go's `unicode.IsDigit`: general category Nd.
pub(crate) fn is_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    get_general_category(c) == GeneralCategory::DecimalNumber
}

/// Go's `strconv.IsPrint`.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    use GeneralCategory as G;
    matches!(
        get_general_category(c),
        G::UppercaseLetter
            | G::LowercaseLetter
            | G::TitlecaseLetter
            | G::ModifierLetter
            | G::OtherLetter
            | G::NonspacingMark
            | G::SpacingMark
            | G::EnclosingMark
            | G::DecimalNumber
            | G::LetterNumber
            | G::OtherNumber
            | G::ConnectorPunctuation
            | G::DashPunctuation
            | G::OpenPunctuation
            | G::ClosePunctuation
            | G::InitialPunctuation
            | G::FinalPunctuation
            | G::OtherPunctuation
            | G::MathSymbol
            | G::CurrencySymbol
            | G::ModifierSymbol
            | G::OtherSymbol
    )
}

/// Go's `strconv.Quote` (what `%q` prints for a string).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if is_print(c) => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Go's `strings.TrimSpace`.
pub(crate) fn trim_space(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Go's `strings.TrimLeftFunc(s, unicode.IsSpace)`.
pub(crate) fn trim_left_space(s: &str) -> &str {
    s.trim_start_matches(is_space)
}

/// BuildKit's `reWhitespace` (`[\t\v\f\r ]+`) character class.
pub(crate) fn is_re_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// `reWhitespace.Split(s, -1)`, for input without leading or trailing separators.
pub(crate) fn split_re_whitespace(s: &str) -> Vec<String> {
    s.split(is_re_whitespace)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `reWhitespace.Split(s, 2)`.
pub(crate) fn split_re_whitespace_2(s: &str) -> Vec<&str> {
    match s.find(is_re_whitespace) {
        None => vec![s],
        Some(i) => {
            let rest = s[i..].trim_start_matches(is_re_whitespace);
            vec![&s[..i], rest]
        }
    }
}

/// The string Go holds for the bytes `s[start..]` when `start` may be inside a UTF-8 sequence:
/// stray continuation bytes decode to U+FFFD each.
pub(crate) fn lossy_suffix(s: &str, start: usize) -> String {
    let start = start.min(s.len());
    let mut i = start;
    let mut out = String::new();
    while i < s.len() && !s.is_char_boundary(i) {
        out.push('\u{FFFD}');
        i += 1;
    }
    out.push_str(&s[i..]);
    out
}

/// The string Go holds for the bytes `s[..end]` when `end` may be inside a UTF-8 sequence.
pub(crate) fn lossy_prefix(s: &str, end: usize) -> String {
    let end = end.min(s.len());
    let mut i = end;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    let mut out = s[..i].to_owned();
    if i < end {
        out.push('\u{FFFD}');
    }
    out
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseUint(s, base, 32)` for bases 8 and 10 (no sign, no prefix, no `_`).
pub(crate) fn parse_uint32(s: &str, base: u32) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for c in s.chars() {
        let d = c.to_digit(base)?;
        v = v.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
        if v > u64::from(u32::MAX) {
            return None;
        }
    }
    u32::try_from(v).ok()
}

/// Why `strconv.ParseInt` failed.
pub(crate) enum ParseIntError {
    Syntax,
    Range,
}

/// Go's `strconv.ParseInt(s, 10, 32)`.
pub(crate) fn parse_int32(s: &str) -> Result<i64, ParseIntError> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseIntError::Syntax);
    }
    let mut v: i64 = 0;
    for b in digits.bytes() {
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    let v = if neg { -v } else { v };
    if v > i64::from(i32::MAX) || v < i64::from(i32::MIN) {
        return Err(ParseIntError::Range);
    }
    Ok(v)
}

/// The quoting Go's `time` package uses in duration errors.
fn time_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if (c as u32) >= 0x80 || (c as u32) < 0x20 {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// A duration parsed like Go's `time.ParseDuration` (nanoseconds; negative allowed).
pub(crate) fn parse_duration(orig: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {}", time_quote(orig));
    let mut s = orig;
    let mut neg = false;
    if let Some(c) = s.chars().next()
        && (c == '-' || c == '+')
    {
        neg = c == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut d: u64 = 0;
    while !s.is_empty() {
        let b0 = s.as_bytes()[0];
        if !(b0 == b'.' || b0.is_ascii_digit()) {
            return Err(invalid());
        }
        // leading int
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        let mut v: u64 = 0;
        for b in s[..digits].bytes() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(b - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
        }
        let pre = digits > 0;
        s = &s[digits..];
        let mut post = false;
        let mut f: u64 = 0;
        let mut scale: f64 = 1.0;
        if s.as_bytes().first() == Some(&b'.') {
            s = &s[1..];
            let fd = s.bytes().take_while(u8::is_ascii_digit).count();
            let mut overflow = false;
            for b in s[..fd].bytes() {
                if overflow {
                    continue;
                }
                if f > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(b - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            post = fd > 0;
            s = &s[fd..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let ulen = s
            .bytes()
            .take_while(|b| !(*b == b'.' || b.is_ascii_digit()))
            .count();
        if ulen == 0 {
            return Err(format!(
                "time: missing unit in duration {}",
                time_quote(orig)
            ));
        }
        let u = &s[..ulen];
        s = &s[ulen..];
        let unit: u64 = match u {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    time_quote(u),
                    time_quote(orig)
                ));
            }
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            // Go converts through float64 here; so do we.
            let add = (f as f64) * (unit as f64 / scale);
            v = v.saturating_add(add as u64);
            if v > LIMIT {
                return Err(invalid());
            }
        }
        d = d.saturating_add(v);
        if d > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok(-(i128::from(d)));
    }
    if d > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(i128::from(d))
}

/// Converts a non-negative nanosecond count to a [`Duration`].
pub(crate) fn nanos_to_duration(n: i128) -> Duration {
    let n = u64::try_from(n.max(0)).unwrap_or(u64::MAX);
    Duration::from_nanos(n)
}

/// docker/go-units `RAMInBytes` (binary multipliers).
pub(crate) fn ram_in_bytes(s: &str) -> Option<i64> {
    // ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$
    let b = s.as_bytes();
    let mut i = 0;
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == start {
        return None;
    }
    while i < b.len() && b[i] == b'.' {
        let j = i + 1;
        let mut k = j;
        while k < b.len() && b[k].is_ascii_digit() {
            k += 1;
        }
        if k == j {
            break;
        }
        i = k;
    }
    let num = &s[start..i];
    if i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let mut mult: f64 = 1.0;
    if i < b.len() {
        let m = match b[i].to_ascii_lowercase() {
            b'k' => Some(1024f64),
            b'm' => Some(1024f64.powi(2)),
            b'g' => Some(1024f64.powi(3)),
            b't' => Some(1024f64.powi(4)),
            b'p' => Some(1024f64.powi(5)),
            _ => None,
        };
        if let Some(m) = m {
            mult = m;
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'i' || b[i] == b'I') {
        i += 1;
    }
    if i < b.len() && (b[i] == b'b' || b[i] == b'B') {
        i += 1;
    }
    if i != b.len() {
        return None;
    }
    // Go's strconv.ParseFloat accepts "1.2.3"? No: the regexp allows it but ParseFloat fails.
    let value: f64 = num.parse().ok()?;
    Some((value * mult) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        assert_eq!(parse_duration("30s").ok(), Some(30_000_000_000));
        assert_eq!(parse_duration("1m30s").ok(), Some(90_000_000_000));
        assert_eq!(parse_duration("500ms").ok(), Some(500_000_000));
        assert_eq!(parse_duration("1.5h").ok(), Some(5_400_000_000_000));
        assert_eq!(parse_duration("-2us").ok(), Some(-2_000));
        assert_eq!(parse_duration("0").ok(), Some(0));
        assert_eq!(parse_duration(".5s").ok(), Some(500_000_000));
        assert_eq!(
            parse_duration("10").err().as_deref(),
            Some("time: missing unit in duration \"10\"")
        );
        assert_eq!(
            parse_duration("1x").err().as_deref(),
            Some("time: unknown unit \"x\" in duration \"1x\"")
        );
        assert_eq!(
            parse_duration("").err().as_deref(),
            Some("time: invalid duration \"\"")
        );
        assert_eq!(
            parse_duration("99999999999999999999h").err().as_deref(),
            Some("time: invalid duration \"99999999999999999999h\"")
        );
    }

    #[test]
    fn quote_like_go() {
        assert_eq!(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(quote("é\u{0}"), "\"é\\x00\"");
        assert_eq!(quote("\u{a0}"), "\"\\u00a0\"");
    }

    #[test]
    fn ram_in_bytes_like_go_units() {
        assert_eq!(ram_in_bytes("64m"), Some(64 * 1024 * 1024));
        assert_eq!(ram_in_bytes("1 GiB"), Some(1024 * 1024 * 1024));
        assert_eq!(ram_in_bytes("100"), Some(100));
        assert_eq!(ram_in_bytes("abc"), None);
    }

    #[test]
    fn go_character_classes() {
        assert!(is_letter('é') && is_letter('한') && !is_letter('1'));
        assert!(is_digit('٣') && !is_digit('Ⅻ'));
        assert!(is_space('\u{a0}') && is_space_byte(0x85) && !is_space_byte(b'a'));
    }
}
