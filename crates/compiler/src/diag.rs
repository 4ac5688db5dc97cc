//! Diagnostics: byte spans inside a source file and errors rendered as `file:line:col: error: message`.

use std::fmt;

/// A half-open byte range `[start, end)` inside one source file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: clamp_u32(start),
            end: clamp_u32(end),
        }
    }

    /// A zero-width span at one byte position.
    pub fn at(pos: usize) -> Span {
        Span::new(pos, pos)
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

fn clamp_u32(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Index of a loaded file inside one compilation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

/// One error, located in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: FileId,
    pub span: Span,
    pub message: String,
}

/// A diagnostic made printable: the file's source name and line/column positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedDiagnostic {
    pub file_name: String,
    pub line: u32,
    pub col: u32,
    /// Exclusive end column + 1 when the span covers several columns of one line.
    pub end_col: Option<u32>,
    /// True when the span crosses a line break (then only the line is printed).
    pub multi_line: bool,
    pub message: String,
}

impl fmt::Display for RenderedDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.multi_line {
            write!(
                f,
                "{}:{}: error: {}",
                self.file_name, self.line, self.message
            )
        } else if let Some(end) = self.end_col {
            write!(
                f,
                "{}:{}:{}-{}: error: {}",
                self.file_name, self.line, self.col, end, self.message
            )
        } else {
            write!(
                f,
                "{}:{}:{}: error: {}",
                self.file_name, self.line, self.col, self.message
            )
        }
    }
}

/// Maps byte offsets of one file to 1-based lines and columns.
#[derive(Clone, Debug)]
pub struct LineIndex {
    line_starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(src: &[u8]) -> LineIndex {
        let mut line_starts = vec![0];
        for (i, b) in src.iter().enumerate() {
            if *b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        LineIndex {
            line_starts,
            len: src.len(),
        }
    }

    /// Length in bytes of the indexed source.
    pub fn source_len(&self) -> usize {
        self.len
    }

    /// 0-based line and byte column of a position.
    pub fn position(&self, pos: usize) -> (usize, usize) {
        let line = match self.line_starts.binary_search(&pos) {
            Ok(l) => l,
            Err(l) => l - 1,
        };
        (line, pos - self.line_starts[line])
    }

    pub fn render(&self, file_name: &str, span: Span, message: &str) -> RenderedDiagnostic {
        let (line, col) = self.position(span.start as usize);
        let (end_line, end_col) = self.position(span.end as usize);
        let multi_line = end_line != line;
        let end_col = if !multi_line && span.end > span.start {
            Some(end_col as u32 + 1)
        } else {
            None
        };
        RenderedDiagnostic {
            file_name: file_name.to_string(),
            line: line as u32 + 1,
            col: col as u32 + 1,
            end_col,
            multi_line,
            message: message.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_positions_like_the_reference() {
        let src = b"@0xd5a2c5c3a0b9e8f1;\nstruct Foo { a @0 :Bar; }\n";
        let idx = LineIndex::new(src);
        let start = 21 + 19;
        let d = idx.render("f.capnp", Span::new(start, start + 3), "Not defined: Bar");
        assert_eq!(d.to_string(), "f.capnp:2:20-23: error: Not defined: Bar");
        let d = idx.render("f.capnp", Span::at(0), "x");
        assert_eq!(d.to_string(), "f.capnp:1:1: error: x");
        let d = idx.render("f.capnp", Span::new(0, 30), "y");
        assert_eq!(d.to_string(), "f.capnp:1: error: y");
    }
}
