//! Lexer: bytes into tokens and statements with doc comments (SCHEMA-COMPILER.md section 1).
//!
//! Lexing is all-or-nothing, like the reference: the first byte that cannot be
//! tokenized aborts the whole file with a single `Parse error.` there.

use crate::diag::Span;

/// How deeply blocks and lists may nest before the file is rejected. Bounds
/// the recursion of this lexer, of the parser and of every later phase that
/// walks expressions or declarations recursively.
pub const MAX_DEPTH: usize = 64;

/// The message reported for any byte sequence that cannot be split into tokens.
pub const PARSE_ERROR: &str = "Parse error.";

const NON_UTF8: &str = "Non-UTF-8 input detected. Cap'n Proto schema files must be UTF-8 text.";

#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// Its text is the source under the token's span: the parser copies only the names it keeps.
    Identifier,
    /// A `"…"` literal or a backtick line, escapes already decoded.
    String(Vec<u8>),
    /// `0x"…"`.
    Binary(Vec<u8>),
    /// Wrapped to 64 bits, as the reference does.
    Integer(u64),
    Float(f64),
    Operator(Op),
    /// `( … )`: one token run per comma-separated item.
    ParenList(ListRef),
    /// `[ … ]`: one token run per comma-separated item.
    BracketList(ListRef),
}

/// A run of tokens, stored in `Lexed::tokens`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenRange {
    start: u32,
    end: u32,
}

/// The items of a list, stored in `Lexed::items`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListRef {
    start: u32,
    end: u32,
}

/// A lexed file. Tokens and list items live in two flat arrays that statements and
/// lists index into, so a file costs a handful of allocations rather than one per
/// statement, list and item.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lexed {
    pub statements: Vec<Statement>,
    tokens: Vec<Token>,
    items: Vec<TokenRange>,
}

impl Lexed {
    pub fn tokens(&self, range: TokenRange) -> &[Token] {
        self.tokens
            .get(range.start as usize..range.end as usize)
            .unwrap_or(&[])
    }

    pub fn items(&self, list: ListRef) -> &[TokenRange] {
        self.items
            .get(list.start as usize..list.end as usize)
            .unwrap_or(&[])
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// An operator's text, stored inline: the operators the grammar knows are one or two bytes,
/// so a longer run keeps its first bytes and its length, and never equals a known operator.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Op {
    len: usize,
    bytes: [u8; 6],
}

impl Op {
    pub fn new(text: &[u8]) -> Op {
        let mut bytes = [0u8; 6];
        let n = text.len().min(6);
        bytes[..n].copy_from_slice(&text[..n]);
        Op {
            len: text.len(),
            bytes,
        }
    }

    /// The stored bytes (all of them for operators of up to six bytes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len.min(6)]
    }
}

impl PartialEq<str> for Op {
    fn eq(&self, other: &str) -> bool {
        self.len == other.len() && self.as_bytes() == other.as_bytes()
    }
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// Tokens up to a `;` (line statement) or a `{ … }` block (block statement).
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub tokens: TokenRange,
    /// The statements inside the braces of a block statement.
    pub block: Option<Vec<Statement>>,
    /// Raw doc comment text (1.5), each line terminated by `\n`.
    pub doc: Option<Vec<u8>>,
    /// From the first token to the terminator, extended over a trailing doc comment.
    pub span: Span,
}

/// The lexer stopped; the position is recorded in `Lexer::fail_at`.
struct Stop;

type Lexing<T> = Result<T, Stop>;

struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    depth: usize,
    fail_at: usize,
    errors: Vec<(Span, String)>,
    /// Tokens of the statements and list items still being lexed, innermost last:
    /// each run moves to `tokens` once complete, which keeps it contiguous there.
    pending: Vec<Token>,
    /// Likewise for the items of unfinished lists, which move to `items`.
    pending_items: Vec<TokenRange>,
    /// The statements of unfinished blocks, moved into a vector of exactly their number.
    pending_statements: Vec<Statement>,
    tokens: Vec<Token>,
    items: Vec<TokenRange>,
}

/// Splits a file into statements. On failure returns the errors to report:
/// possibly a non-UTF-8 notice, then one `Parse error.`.
pub fn lex(src: &[u8]) -> Result<Lexed, Vec<(Span, String)>> {
    let mut lexer = Lexer {
        src,
        pos: 0,
        depth: 0,
        fail_at: 0,
        errors: Vec::new(),
        pending: Vec::with_capacity(64),
        pending_items: Vec::with_capacity(16),
        pending_statements: Vec::with_capacity(64),
        // Typical schemas have a token every three to eight bytes: room for the dense end,
        // so a large file's token array is not copied while it grows.
        tokens: Vec::with_capacity(src.len() / 3),
        items: Vec::with_capacity(src.len() / 32),
    };
    match lexer.statements(false) {
        Ok(statements) => Ok(Lexed {
            statements,
            tokens: lexer.tokens,
            items: lexer.items,
        }),
        Err(Stop) => {
            let mut errors = lexer.errors;
            errors.push((Span::at(lexer.fail_at), PARSE_ERROR.to_string()));
            Err(errors)
        }
    }
}

/// Byte classes, looked up once per byte in the scanning loops.
const IDENT: u8 = 1;
const SPACE: u8 = 2;
const OPERATOR: u8 = 4;

static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() || b == b'_' {
            table[i] = IDENT;
        } else if matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
            table[i] = SPACE;
        } else if matches!(
            b,
            b'!' | b'$'
                | b'%'
                | b'&'
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'/'
                | b':'
                | b'<'
                | b'='
                | b'>'
                | b'?'
                | b'@'
                | b'^'
                | b'|'
                | b'~'
        ) {
            table[i] = OPERATOR;
        }
        i += 1;
    }
    table
};

/// The length of the run of `class` bytes at the start of `bytes`.
fn run_of(bytes: &[u8], class: u8) -> usize {
    bytes
        .iter()
        .position(|&b| CLASS[usize::from(b)] & class == 0)
        .unwrap_or(bytes.len())
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_operator_char(b: u8) -> bool {
    CLASS[usize::from(b)] == OPERATOR
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.src.get(self.pos + offset).copied()
    }

    fn fail<T>(&mut self, at: usize) -> Lexing<T> {
        self.fail_at = at;
        Err(Stop)
    }

    /// Skips whitespace, comments and byte order marks.
    fn skip_trivia(&mut self) {
        while let Some(b) = self.peek() {
            let rest = &self.src[self.pos..];
            if CLASS[usize::from(b)] == SPACE {
                self.pos += run_of(rest, SPACE);
            } else if b == b'#' {
                // To just past the line's end, or to the end of the file.
                self.pos += rest
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(rest.len(), |i| i + 1);
            } else if rest.starts_with(b"\xEF\xBB\xBF") {
                self.pos += 3;
            } else {
                break;
            }
        }
    }

    fn enter(&mut self) -> Lexing<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail(self.pos);
        }
        Ok(())
    }

    /// A statement sequence: the whole file, or the inside of a block (which
    /// stops before its `}`).
    fn statements(&mut self, in_block: bool) -> Lexing<Vec<Statement>> {
        let mark = self.pending_statements.len();
        loop {
            self.skip_trivia();
            match self.peek() {
                None if in_block => return self.fail(self.pos),
                None => break,
                Some(b'}') if in_block => break,
                Some(_) => {
                    let statement = self.statement()?;
                    self.pending_statements.push(statement);
                }
            }
        }
        Ok(self.pending_statements.drain(mark..).collect())
    }

    fn statement(&mut self) -> Lexing<Statement> {
        let start = self.pos;
        let mark = self.pending.len();
        loop {
            self.skip_trivia();
            match self.peek() {
                Some(b';') => {
                    self.pos += 1;
                    let tokens = self.take_pending(mark);
                    let doc = self.doc_comment();
                    return Ok(Statement {
                        tokens,
                        block: None,
                        doc,
                        span: Span::new(start, self.pos),
                    });
                }
                Some(b'{') => {
                    let tokens = self.take_pending(mark);
                    self.enter()?;
                    self.pos += 1;
                    let early = self.doc_comment();
                    let block = self.statements(true)?;
                    // `statements(true)` only returns Ok in front of a `}`.
                    self.pos += 1;
                    self.depth -= 1;
                    // The late comment is consumed (and extends the span) even when unused.
                    let late = self.doc_comment();
                    return Ok(Statement {
                        tokens,
                        block: Some(block),
                        doc: early.or(late),
                        span: Span::new(start, self.pos),
                    });
                }
                _ => {
                    let token = self.token()?;
                    self.pending.push(token);
                }
            }
        }
    }

    /// Moves the tokens pushed since `mark` to their final place.
    fn take_pending(&mut self, mark: usize) -> TokenRange {
        let start = self.tokens.len() as u32;
        self.tokens.extend(self.pending.drain(mark..));
        TokenRange {
            start,
            end: self.tokens.len() as u32,
        }
    }

    /// A doc comment at one of the three places of 1.5; consumes nothing when absent.
    fn doc_comment(&mut self) -> Option<Vec<u8>> {
        let saved = self.pos;
        self.skip_line_whitespace();
        if self.src[self.pos..].starts_with(b"\r\n") {
            self.pos += 2;
        } else if matches!(self.peek(), Some(b'\n' | b'\r')) {
            self.pos += 1;
        }
        let mut text = Vec::new();
        let mut lines = 0;
        loop {
            let line_start = self.pos;
            self.skip_line_whitespace();
            if self.peek() != Some(b'#') {
                self.pos = line_start;
                break;
            }
            self.pos += 1;
            if self.peek() == Some(b' ') {
                self.pos += 1;
            }
            while let Some(b) = self.peek() {
                self.pos += 1;
                if b == b'\n' {
                    break;
                }
                text.push(b);
            }
            text.push(b'\n');
            lines += 1;
        }
        if lines == 0 {
            self.pos = saved;
            None
        } else {
            Some(text)
        }
    }

    fn skip_line_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Lexing<Token> {
        let start = self.pos;
        let Some(b) = self.peek() else {
            return self.fail(start);
        };
        let rest = &self.src[start..];
        let bad_len = if rest.starts_with(b"\xFF\xFE") || rest.starts_with(b"\xFE\xFF") {
            2
        } else if b == 0 {
            1
        } else {
            0
        };
        if bad_len > 0 {
            self.errors
                .push((Span::new(start, start + bad_len), NON_UTF8.to_string()));
            return self.fail(start + bad_len);
        }
        let kind = match b {
            _ if is_ident_start(b) => {
                self.pos += run_of(&self.src[self.pos..], IDENT);
                TokenKind::Identifier
            }
            b'"' => TokenKind::String(self.string_literal()?),
            b'`' => {
                self.pos += 1;
                while let Some(c) = self.peek() {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
                let mut text = self.src[start + 1..self.pos].to_vec();
                text.push(b'\n');
                TokenKind::String(text)
            }
            b'0'..=b'9' => self.number()?,
            _ if is_operator_char(b) => {
                self.pos += run_of(&self.src[self.pos..], OPERATOR);
                TokenKind::Operator(Op::new(&self.src[start..self.pos]))
            }
            b'(' => TokenKind::ParenList(self.list(b')')?),
            b'[' => TokenKind::BracketList(self.list(b']')?),
            // The reference's UTF-16 check reads one byte of a would-be `FF FE`/`FE FF` pair.
            0xFE | 0xFF => return self.fail(start + 1),
            _ => return self.fail(start),
        };
        Ok(Token {
            kind,
            span: Span::new(start, self.pos),
        })
    }

    /// The items of a `(…)` or `[…]` list; `self.pos` is on the opening bracket.
    fn list(&mut self, close: u8) -> Lexing<ListRef> {
        self.enter()?;
        self.pos += 1;
        let items_mark = self.pending_items.len();
        let mark = self.pending.len();
        loop {
            self.skip_trivia();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    let item = self.take_pending(mark);
                    self.pending_items.push(item);
                }
                Some(c) if c == close => {
                    self.pos += 1;
                    // `()` has no items and a trailing comma adds none.
                    if self.pending.len() > mark {
                        let item = self.take_pending(mark);
                        self.pending_items.push(item);
                    }
                    self.depth -= 1;
                    let start = self.items.len() as u32;
                    self.items.extend(self.pending_items.drain(items_mark..));
                    return Ok(ListRef {
                        start,
                        end: self.items.len() as u32,
                    });
                }
                _ => {
                    let token = self.token()?;
                    self.pending.push(token);
                }
            }
        }
    }

    fn string_literal(&mut self) -> Lexing<Vec<u8>> {
        self.pos += 1;
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\n') => return self.fail(self.pos),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(value);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    value.push(self.escape()?);
                }
                Some(_) => {
                    // The run of plain bytes up to the next quote, backslash or line end.
                    let rest = &self.src[self.pos..];
                    let n = rest
                        .iter()
                        .position(|&c| matches!(c, b'"' | b'\\' | b'\n'))
                        .unwrap_or(rest.len());
                    value.extend_from_slice(&rest[..n]);
                    self.pos += n;
                }
            }
        }
    }

    /// One escape sequence; `self.pos` is just after the backslash.
    fn escape(&mut self) -> Lexing<u8> {
        let Some(b) = self.peek() else {
            return self.fail(self.pos);
        };
        let simple = match b {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'v' => Some(0x0b),
            b'\'' | b'"' | b'\\' | b'?' => Some(b),
            _ => None,
        };
        if let Some(v) = simple {
            self.pos += 1;
            return Ok(v);
        }
        if b == b'x' {
            self.pos += 1;
            let mut v = 0u8;
            for _ in 0..2 {
                match self.peek().and_then(hex_value) {
                    Some(d) => {
                        v = (v << 4) | d;
                        self.pos += 1;
                    }
                    None => return self.fail(self.pos),
                }
            }
            return Ok(v);
        }
        if (b'0'..=b'7').contains(&b) {
            let mut v = 0u32;
            let mut digits = 0;
            while digits < 3 {
                match self.peek() {
                    Some(d @ b'0'..=b'7') => {
                        v = v * 8 + u32::from(d - b'0');
                        self.pos += 1;
                        digits += 1;
                    }
                    _ => break,
                }
            }
            // `\777` does not fit a byte; C keeps the low bits.
            return Ok((v & 0xff) as u8);
        }
        self.fail(self.pos)
    }

    /// An integer, float or binary literal; `self.pos` is on a digit.
    fn number(&mut self) -> Lexing<TokenKind> {
        let start = self.pos;
        let rest = &self.src[start..];
        if rest.starts_with(b"0x\"") {
            return self.binary_literal().map(TokenKind::Binary);
        }
        if rest.starts_with(b"0x") {
            if rest.get(2).copied().and_then(hex_value).is_none() {
                return self.fail(start + 2);
            }
            let mut end = start + 2;
            let mut value = 0u64;
            while let Some(d) = self.src.get(end).copied().and_then(hex_value) {
                value = value.wrapping_mul(16).wrapping_add(u64::from(d));
                end += 1;
            }
            self.pos = end;
            return self.integer_end(value);
        }
        // Integer alternatives first: octal after a leading zero, else decimal.
        let (radix, digits_start) = if rest.first() == Some(&b'0') {
            (8u64, start + 1)
        } else {
            (10u64, start)
        };
        let mut end = digits_start;
        let mut value = 0u64;
        while let Some(d) = self.src.get(end).copied() {
            if !d.is_ascii_digit() || u64::from(d - b'0') >= radix {
                break;
            }
            value = value.wrapping_mul(radix).wrapping_add(u64::from(d - b'0'));
            end += 1;
        }
        if !self.src.get(end).copied().is_some_and(ends_number_badly) {
            self.pos = end;
            return Ok(TokenKind::Integer(value));
        }
        self.float_literal()
    }

    /// Accepts an integer whose digits end at `self.pos` unless a letter, `_` or `.` follows.
    fn integer_end(&mut self, value: u64) -> Lexing<TokenKind> {
        if self.peek().is_some_and(ends_number_badly) {
            return self.fail(self.pos);
        }
        Ok(TokenKind::Integer(value))
    }

    fn float_literal(&mut self) -> Lexing<TokenKind> {
        let start = self.pos;
        self.skip_digits();
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.skip_digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            let digits_start = self.pos;
            self.skip_digits();
            if self.pos == digits_start {
                // The reference aborts on an exponent without digits (`1.5e`).
                return self.fail(self.pos);
            }
        }
        if self.peek().is_some_and(ends_number_badly) {
            return self.fail(self.pos);
        }
        let text = std::str::from_utf8(&self.src[start..self.pos]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(v) => Ok(TokenKind::Float(v)),
            Err(_) => self.fail(start),
        }
    }

    fn skip_digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    /// `0x"…"`; `self.pos` is on the `0`.
    fn binary_literal(&mut self) -> Lexing<Vec<u8>> {
        self.pos += 3;
        let mut bytes = Vec::new();
        loop {
            self.pos += run_of(&self.src[self.pos..], SPACE);
            match self.peek() {
                Some(b'"') if !bytes.is_empty() => {
                    self.pos += 1;
                    return Ok(bytes);
                }
                _ => {}
            }
            let high = self.peek().and_then(hex_value);
            let low = self.peek_at(1).and_then(hex_value);
            match (high, low) {
                (Some(h), Some(l)) => {
                    bytes.push((h << 4) | l);
                    self.pos += 2;
                }
                (Some(_), None) => return self.fail(self.pos + 1),
                (None, _) => return self.fail(self.pos),
            }
        }
    }
}

/// Bytes that may not directly follow a number token.
fn ends_number_badly(b: u8) -> bool {
    is_ident_char(b) && !b.is_ascii_digit() || b == b'.'
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens of a single line statement `text;`.
    fn tokens(text: &str) -> Vec<TokenKind> {
        kinds(&lex_one(text), 0)
    }

    /// The lexed form of a single line statement `text;`.
    fn lex_one(text: &str) -> Lexed {
        let src = format!("{text};");
        let lexed = lex(src.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
        assert_eq!(lexed.statements.len(), 1, "{text:?}");
        lexed
    }

    /// The kinds of the tokens of top-level statement `i`.
    fn kinds(lexed: &Lexed, i: usize) -> Vec<TokenKind> {
        lexed
            .tokens(lexed.statements[i].tokens)
            .iter()
            .map(|t| t.kind.clone())
            .collect()
    }

    /// The byte offset of the `Parse error.` of a source that fails to lex.
    fn failure(src: &[u8]) -> usize {
        match lex(src) {
            Ok(s) => panic!("{src:?} lexed: {s:?}"),
            Err(errors) => {
                let (span, message) = errors.last().cloned().unwrap_or_default();
                assert_eq!(message, PARSE_ERROR);
                span.start as usize
            }
        }
    }

    fn ident(_text: &str) -> TokenKind {
        TokenKind::Identifier
    }

    fn op(s: &str) -> TokenKind {
        TokenKind::Operator(Op::new(s.as_bytes()))
    }

    #[test]
    fn token_kinds_and_values() {
        assert_eq!(
            tokens("foo_1 Bar \"s\" 0x\"0a 0B\" 12 1.5 @ -> ::"),
            vec![
                ident("foo_1"),
                ident("Bar"),
                TokenKind::String(b"s".to_vec()),
                TokenKind::Binary(vec![0x0a, 0x0b]),
                TokenKind::Integer(12),
                TokenKind::Float(1.5),
                op("@"),
                op("->"),
                op("::"),
            ]
        );
        let lexed = lex(b"  ab  (1, 2);").unwrap_or_default();
        let spans: Vec<Span> = lexed
            .tokens(lexed.statements[0].tokens)
            .iter()
            .map(|t| t.span)
            .collect();
        assert_eq!(spans, vec![Span::new(2, 4), Span::new(6, 12)]);
        let src = b"foo_1 Bar;";
        let lexed = lex(src).unwrap_or_default();
        let texts: Vec<&[u8]> = lexed
            .tokens(lexed.statements[0].tokens)
            .iter()
            .map(|t| &src[t.span.start as usize..t.span.end as usize])
            .collect();
        assert_eq!(texts, vec![&b"foo_1"[..], &b"Bar"[..]]);
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            tokens(r#""\a\b\f\n\r\t\v\'\"\\\?\x41\x7e\101\1234\0z""#),
            vec![TokenKind::String(
                b"\x07\x08\x0c\n\r\t\x0b'\"\\?A~AS4\0z".to_vec()
            )]
        );
        // An unknown escape stops the lexer on the escaped character.
        assert_eq!(failure(b"const a :Text = \"ab\\q\";"), 20);
        assert_eq!(failure(b"x \"\\x4\";"), 6);
        // Raw newlines are not allowed in strings; bytes above 0x7f are.
        assert_eq!(failure(b"x \"ab\ncd\";"), 5);
        assert_eq!(
            tokens("\"\u{e9}\""),
            vec![TokenKind::String("\u{e9}".into())]
        );
        assert_eq!(failure(b"x \"ab"), 5);
    }

    #[test]
    fn backtick_lines_end_with_one_lf() {
        let lexed = lex(b"x `one\r\n  `two\n;").unwrap_or_default();
        assert_eq!(
            kinds(&lexed, 0),
            vec![
                ident("x"),
                TokenKind::String(b"one\n".to_vec()),
                TokenKind::String(b"two\n".to_vec())
            ]
        );
    }

    #[test]
    fn integers_wrap_around() {
        assert_eq!(
            tokens("0 017 0x1F 18446744073709551615 18446744073709551616 0x10000000000000001"),
            vec![
                TokenKind::Integer(0),
                TokenKind::Integer(15),
                TokenKind::Integer(31),
                TokenKind::Integer(u64::MAX),
                TokenKind::Integer(0),
                TokenKind::Integer(1),
            ]
        );
        // `08` is two integers; `0X10` and `12ab` do not lex.
        assert_eq!(
            tokens("08"),
            vec![TokenKind::Integer(0), TokenKind::Integer(8)]
        );
        assert_eq!(failure(b"const a :Int32 = 0X10;"), 18);
        assert_eq!(failure(b"x 12ab;"), 4);
        // After `0x` the hex digits are required; the failure is just past the `x`.
        assert_eq!(failure(b"x 0x;"), 4);
        assert_eq!(failure(b"x 0xg;"), 4);
        assert_eq!(failure(b"x 0x1.5;"), 5);
    }

    #[test]
    fn floats() {
        assert_eq!(
            tokens("1. 1.5 1e5 2e-3 1E+5 0.25 12.0"),
            vec![
                TokenKind::Float(1.0),
                TokenKind::Float(1.5),
                TokenKind::Float(1e5),
                TokenKind::Float(2e-3),
                TokenKind::Float(1e5),
                TokenKind::Float(0.25),
                TokenKind::Float(12.0),
            ]
        );
        // `.5` is an operator then an integer.
        assert_eq!(tokens(".5"), vec![op("."), TokenKind::Integer(5)]);
        // An exponent without digits is rejected instead of aborting like the reference.
        assert_eq!(failure(b"const a :Float64 = 1.5e;"), 23);
        assert_eq!(failure(b"x 1.5.3;"), 5);
    }

    #[test]
    fn operators_are_maximal_munch() {
        assert_eq!(
            tokens("=-1 :.Foo @1!:union"),
            vec![
                op("=-"),
                TokenKind::Integer(1),
                op(":."),
                ident("Foo"),
                op("@"),
                TokenKind::Integer(1),
                op("!:"),
                ident("union"),
            ]
        );
    }

    #[test]
    fn binary_literals() {
        assert_eq!(
            tokens("0x\"\n  de ad\tbe\nef \""),
            vec![TokenKind::Binary(vec![0xde, 0xad, 0xbe, 0xef])]
        );
        assert_eq!(failure(b"const a :Data = 0x\"123\";"), 22);
        assert_eq!(failure(b"const a :Data = 0x\"\";"), 19);
    }

    #[test]
    fn lists_items_and_empty_items() {
        let item_counts = |text: &str| -> Vec<usize> {
            let lexed = lex_one(text);
            match kinds(&lexed, 0).first() {
                Some(TokenKind::ParenList(items) | TokenKind::BracketList(items)) => lexed
                    .items(*items)
                    .iter()
                    .map(|item| lexed.tokens(*item).len())
                    .collect(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(item_counts("()"), Vec::<usize>::new());
        assert_eq!(item_counts("[1, 2, ]"), vec![1, 1]);
        assert_eq!(item_counts("[1, , 2]"), vec![1, 0, 1]);
        assert_eq!(item_counts("[,]"), vec![0]);
        assert_eq!(item_counts("(a = 1 # comment\n, b)"), vec![3, 1]);
        // A `;` inside an unclosed list stops the lexer there.
        assert_eq!(failure(b"x (a; b);"), 4);
    }

    #[test]
    fn statements_blocks_and_failures() {
        let lexed = lex(b"\xEF\xBB\xBFa; b { c; \xEF\xBB\xBF d {} } ;").unwrap_or_default();
        let statements = &lexed.statements;
        assert_eq!(statements.len(), 3);
        assert_eq!(statements[0].span, Span::new(3, 5));
        let block = statements[1].block.clone().unwrap_or_default();
        assert_eq!(block.len(), 2);
        assert!(lexed.tokens(statements[2].tokens).is_empty());
        assert_eq!(statements[2].span, Span::new(24, 25));
        // Missing `}`: EOF. A `}` where `;` is expected: that `}`.
        assert_eq!(failure(b"struct Foo {\n"), 13);
        assert_eq!(failure(b"struct Foo { a @0 :Int32 }"), 25);
        assert_eq!(failure(b"x \xc3\xa9;"), 2);
        assert_eq!(failure(b"}"), 0);
        assert_eq!(failure(b"x \xff;"), 3);
        assert_eq!(failure(b"x \xfe;"), 3);
    }

    #[test]
    fn non_utf8_input_is_detected_at_token_starts() {
        let errors = lex(b"\xFF\xFE@\x00").err().unwrap_or_default();
        assert_eq!(
            errors,
            vec![
                (Span::new(0, 2), NON_UTF8.to_string()),
                (Span::at(2), PARSE_ERROR.to_string())
            ]
        );
        let errors = lex(b"x (a\x00b);").err().unwrap_or_default();
        assert_eq!(errors[0].0, Span::new(4, 5));
        assert_eq!(errors[1].0, Span::at(5));
        // Inside strings a NUL is just a byte.
        assert_eq!(
            tokens("\"a\x00b\""),
            vec![TokenKind::String(b"a\0b".to_vec())]
        );
    }

    #[test]
    fn nesting_is_limited() {
        let deep = format!(
            "x {}{};",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(lex(deep.as_bytes()).is_err());
        let ok = format!("x {}{};", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(lex(ok.as_bytes()).is_ok());
        let blocks = format!(
            "{}{}",
            "a {".repeat(MAX_DEPTH + 1),
            "}".repeat(MAX_DEPTH + 1)
        );
        assert!(lex(blocks.as_bytes()).is_err());
    }

    #[test]
    fn doc_comments_follow_terminators() {
        let statements =
            lex(b"a; # one\n  #  two\n\n# not\nb {\n # early\n} # late\nc {} # late2\n")
                .unwrap_or_default()
                .statements;
        assert_eq!(statements[0].doc.as_deref(), Some(&b"one\n two\n"[..]));
        assert_eq!(statements[0].span, Span::new(0, 18));
        assert_eq!(statements[1].doc.as_deref(), Some(&b"early\n"[..]));
        assert_eq!(statements[2].doc.as_deref(), Some(&b"late2\n"[..]));
        // A comment at EOF without a newline still ends its line with `\n`.
        let statements = lex(b"a; #x").unwrap_or_default().statements;
        assert_eq!(statements[0].doc.as_deref(), Some(&b"x\n"[..]));
        assert_eq!(statements[0].span, Span::new(0, 5));
    }
}
