//! Source positions: byte spans with their 1-based line and column.

/// A region of the source: bytes `start..end`, starting at 1-based `line` and `col` (column
/// counted in characters).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// 1-based line of `start`.
    pub line: u32,
    /// 1-based column of `start`, in characters.
    pub col: u32,
}

/// Compact: `3:5@40..52` (line:col@start..end).
impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}@{}..{}", self.line, self.col, self.start, self.end)
    }
}

impl Span {
    /// The text this span covers in `src` (empty if it does not fit).
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start..self.end).unwrap_or("")
    }
}

/// Maps byte offsets to lines and columns.
#[derive(Debug, Clone)]
pub(crate) struct LineIndex<'a> {
    src: &'a str,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
    /// Whether each line is pure ASCII (columns are then byte offsets).
    ascii: Vec<bool>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        let mut starts = vec![0];
        let mut ascii = Vec::new();
        let mut line_ascii = true;
        for (i, b) in src.bytes().enumerate() {
            line_ascii &= b.is_ascii();
            if b == b'\n' {
                starts.push(i + 1);
                ascii.push(line_ascii);
                line_ascii = true;
            }
        }
        ascii.push(line_ascii);
        LineIndex { src, starts, ascii }
    }

    /// Clamps `pos` to the source and to a character boundary (rounding down).
    fn clamp(&self, pos: usize) -> usize {
        let mut p = pos.min(self.src.len());
        while p > 0 && !self.src.is_char_boundary(p) {
            p -= 1;
        }
        p
    }

    pub(crate) fn span(&self, start: usize, end: usize) -> Span {
        let start = self.clamp(start);
        let end = self.clamp(end).max(start);
        let line_idx = match self.starts.binary_search(&start) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let line_start = self.starts.get(line_idx).copied().unwrap_or(0);
        let col = if self.ascii.get(line_idx).copied().unwrap_or(false) {
            start - line_start
        } else {
            self.src
                .get(line_start..start)
                .map_or(0, |s| s.chars().count())
        };
        Span {
            start,
            end,
            line: u32::try_from(line_idx + 1).unwrap_or(u32::MAX),
            col: u32::try_from(col + 1).unwrap_or(u32::MAX),
        }
    }
}
