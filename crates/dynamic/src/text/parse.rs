//! Parsing the text format back into a message: what `str()` prints, which is the schema
//! language's value syntax (struct tuples, lists, string and `0x"..."` literals, numbers,
//! `inf`/`nan`, enumerant names, `true`/`false`/`void`). Constants and embeds are not values
//! here: there is no schema file to look them up in.
//!
//! Parsing makes a small tree first (so errors in the syntax are found before anything is
//! written), then writes it into a builder, checking each value against its field's type.
//! Errors name the position (`line:col`) and the field path (`$.a.b[2]`).

use std::collections::HashSet;

use crate::error::{Error, Result};
use crate::list::ListBuilder;
use crate::schema::{FieldKind, StructSchema, Type};
use crate::struct_::StructBuilder;
use crate::value::{ListValue, SetValue, StructValue, Value};

/// Nested tuples and lists deeper than this are an error (as in text.rs).
const MAX_DEPTH: u32 = 1000;
const RED_ZONE: usize = 64 * 1024;
const STACK_GROWTH: usize = 1024 * 1024;

/// Fills `b` (a struct builder, normally a new message's root) from the text of one struct
/// value, `( name = value, ... )`.
pub fn struct_from_text(text: &[u8], b: &StructBuilder) -> Result<()> {
    let mut p = Parser { text, pos: 0 };
    p.skip_space();
    let v = p.value(0)?;
    p.skip_space();
    if p.pos < text.len() {
        return Err(p.error_at(p.pos, "unexpected text after the value"));
    }
    let Node::Tuple(items) = &v.node else {
        return Err(p.error_at(v.pos, "expected a struct value: '(' ... ')'"));
    };
    let w = Writer { text };
    let mut path = String::from("$");
    w.tuple(b, items, &mut path, 0)
}

/// One parsed value and where it starts (a byte offset into the text).
#[derive(Debug)]
struct Parsed {
    pos: usize,
    node: Node,
}

#[derive(Debug)]
enum Node {
    /// `(name = value, ...)`: names with their positions.
    Tuple(Vec<(String, usize, Parsed)>),
    List(Vec<Parsed>),
    /// A string literal's bytes (escapes resolved).
    Str(Vec<u8>),
    /// `0x"0a 1b"`: bytes given in hex.
    Hex(Vec<u8>),
    Int {
        negative: bool,
        magnitude: u128,
    },
    Float(f64),
    /// A bare name: `true`, `false`, `void`, `inf`, `nan`, or an enumerant.
    Ident(String),
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

/// 1-based line and column of byte `pos`.
fn line_col(text: &[u8], pos: usize) -> (usize, usize) {
    let before = &text[..pos.min(text.len())];
    let line = before.iter().filter(|&&c| c == b'\n').count() + 1;
    let col = match before.iter().rposition(|&c| c == b'\n') {
        Some(nl) => before.len() - nl,
        None => before.len() + 1,
    };
    (line, col)
}

fn text_error(
    text: &[u8],
    pos: usize,
    path: Option<&str>,
    message: impl std::fmt::Display,
) -> Error {
    let (line, col) = line_col(text, pos);
    let at = match path {
        Some(p) => format!(" ({p})"),
        None => String::new(),
    };
    Error::Capnp(capnp::Error::failed(format!(
        "text at {line}:{col}{at}: {message}"
    )))
}

impl Parser<'_> {
    fn error_at(&self, pos: usize, message: impl std::fmt::Display) -> Error {
        text_error(self.text, pos, None, message)
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    /// Skips whitespace and `#` comments.
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'#' {
                while self.peek().is_some_and(|c| c != b'\n') {
                    self.pos += 1;
                }
            } else if c.is_ascii_whitespace() {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        self.skip_space();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error_at(self.pos, format!("expected '{}'", char::from(c))))
        }
    }

    fn value(&mut self, depth: u32) -> Result<Parsed> {
        if depth >= MAX_DEPTH {
            return Err(self.error_at(self.pos, "values are nested too deeply"));
        }
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.value_inner(depth + 1))
    }

    fn value_inner(&mut self, depth: u32) -> Result<Parsed> {
        self.skip_space();
        let pos = self.pos;
        let node = match self.peek() {
            None => return Err(self.error_at(pos, "unexpected end of text, expected a value")),
            Some(b'(') => {
                self.pos += 1;
                Node::Tuple(self.tuple_items(depth)?)
            }
            Some(b'[') => {
                self.pos += 1;
                Node::List(self.list_items(depth)?)
            }
            Some(b'"') => Node::Str(self.string()?),
            Some(b'-') => {
                self.pos += 1;
                self.skip_space();
                let at = self.pos;
                match self.peek() {
                    Some(c) if c.is_ascii_digit() => match self.number()? {
                        Node::Int { magnitude, .. } => Node::Int {
                            negative: true,
                            magnitude,
                        },
                        Node::Float(f) => Node::Float(-f),
                        _ => return Err(self.error_at(at, "expected a number after '-'")),
                    },
                    _ if self.ident().as_deref() == Some("inf") => Node::Float(f64::NEG_INFINITY),
                    _ => return Err(self.error_at(at, "expected a number after '-'")),
                }
            }
            Some(b'0') if matches!(self.text.get(pos + 1..pos + 3), Some(b"x\"")) => {
                self.pos += 2;
                Node::Hex(self.hex_string()?)
            }
            Some(c) if c.is_ascii_digit() => self.number()?,
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => match self.ident() {
                Some(name) => Node::Ident(name),
                None => return Err(self.error_at(pos, "expected a value")),
            },
            Some(c) => {
                return Err(
                    self.error_at(pos, format!("expected a value, found {:?}", char::from(c)))
                )
            }
        };
        Ok(Parsed { pos, node })
    }

    /// The items of a tuple after its `(`, through the `)`.
    fn tuple_items(&mut self, depth: u32) -> Result<Vec<(String, usize, Parsed)>> {
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b')') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            self.skip_space();
            let at = self.pos;
            let Some(name) = self.ident() else {
                return Err(self.error_at(at, "expected a field name"));
            };
            self.expect(b'=')?;
            let value = self.value(depth)?;
            items.push((name, at, value));
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return Err(self.error_at(self.pos, "expected ',' or ')'")),
            }
        }
    }

    /// The items of a list after its `[`, through the `]`.
    fn list_items(&mut self, depth: u32) -> Result<Vec<Parsed>> {
        let mut items = Vec::new();
        self.skip_space();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return Err(self.error_at(self.pos, "expected ',' or ']'")),
            }
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == b'_' => {}
            _ => return None,
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.pos += 1;
        }
        std::str::from_utf8(&self.text[start..self.pos])
            .ok()
            .map(str::to_string)
    }

    /// A decimal, hexadecimal (`0x`) or octal (leading `0`) integer, or a decimal float.
    fn number(&mut self) -> Result<Node> {
        let start = self.pos;
        let text = self.text;
        let rest = &text[start..];
        if rest.len() > 1 && rest[0] == b'0' && (rest[1] == b'x' || rest[1] == b'X') {
            self.pos += 2;
            let digits = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                self.pos += 1;
            }
            let s = std::str::from_utf8(&text[digits..self.pos]).unwrap_or_default();
            let magnitude = u128::from_str_radix(s, 16)
                .ok()
                .filter(|m| *m <= u128::from(u64::MAX))
                .ok_or_else(|| self.error_at(start, "integer is too big"))?;
            return Ok(Node::Int {
                negative: false,
                magnitude,
            });
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let mut float = false;
        if self.peek() == Some(b'.') && text.get(self.pos + 1).is_some_and(u8::is_ascii_digit) {
            float = true;
            self.pos += 1;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let mut end = self.pos + 1;
            if matches!(text.get(end), Some(b'+' | b'-')) {
                end += 1;
            }
            if text.get(end).is_some_and(u8::is_ascii_digit) {
                float = true;
                self.pos = end;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.pos += 1;
                }
            }
        }
        if self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            return Err(self.error_at(self.pos, "invalid character in number"));
        }
        let s = std::str::from_utf8(&text[start..self.pos]).unwrap_or_default();
        if float {
            return s
                .parse::<f64>()
                .map(Node::Float)
                .map_err(|_| self.error_at(start, "invalid number"));
        }
        let (digits, radix) = if s.len() > 1 && s.starts_with('0') {
            (&s[1..], 8)
        } else {
            (s, 10)
        };
        let magnitude = u128::from_str_radix(digits, radix)
            .ok()
            .filter(|m| *m <= u128::from(u64::MAX))
            .ok_or_else(|| self.error_at(start, "integer is too big or not a number"))?;
        Ok(Node::Int {
            negative: false,
            magnitude,
        })
    }

    /// A double-quoted string with the schema language's escapes.
    fn string(&mut self) -> Result<Vec<u8>> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error_at(start, "string is not terminated"));
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let at = self.pos - 1;
                    let Some(e) = self.peek() else {
                        return Err(self.error_at(start, "string is not terminated"));
                    };
                    self.pos += 1;
                    let byte = match e {
                        b'a' => 0x07,
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'v' => 0x0b,
                        b'\\' | b'\'' | b'"' | b'?' => e,
                        b'x' => {
                            let mut v = 0u32;
                            let mut n = 0;
                            while n < 2 && self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                                v = v * 16
                                    + char::from(self.text[self.pos]).to_digit(16).unwrap_or(0);
                                self.pos += 1;
                                n += 1;
                            }
                            if n == 0 {
                                return Err(self.error_at(at, "\\x needs hex digits"));
                            }
                            v as u8
                        }
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            let mut n = 1;
                            while n < 3 && self.peek().is_some_and(|c| (b'0'..=b'7').contains(&c)) {
                                v = v * 8 + u32::from(self.text[self.pos] - b'0');
                                self.pos += 1;
                                n += 1;
                            }
                            if v > 0xff {
                                return Err(self.error_at(at, "octal escape is above \\377"));
                            }
                            v as u8
                        }
                        _ => return Err(self.error_at(at, "invalid escape sequence")),
                    };
                    out.push(byte);
                }
                _ => out.push(c),
            }
        }
    }

    /// The bytes of `0x"..."` (after the `0x`): hex digit pairs, spaces allowed between.
    fn hex_string(&mut self) -> Result<Vec<u8>> {
        let start = self.pos;
        let raw = self.string()?;
        let digits: Vec<u8> = raw
            .into_iter()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        if !digits.len().is_multiple_of(2) {
            return Err(self.error_at(start, "hex data has an odd number of digits"));
        }
        digits
            .chunks(2)
            .map(|pair| {
                let s = std::str::from_utf8(pair).unwrap_or("zz");
                u8::from_str_radix(s, 16).map_err(|_| self.error_at(start, "invalid hex digit"))
            })
            .collect()
    }
}

/// Writes parsed values into builders.
struct Writer<'a> {
    text: &'a [u8],
}

impl Writer<'_> {
    fn error(&self, pos: usize, path: &str, message: impl std::fmt::Display) -> Error {
        text_error(self.text, pos, Some(path), message)
    }

    /// A failure of the layer below (range checks, unknown enumerants) with its location.
    fn located(&self, pos: usize, path: &str, e: Error) -> Error {
        self.error(pos, path, e)
    }

    fn tuple(
        &self,
        b: &StructBuilder,
        items: &[(String, usize, Parsed)],
        path: &mut String,
        depth: u32,
    ) -> Result<()> {
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
            let schema = b.schema().clone();
            let mut seen = HashSet::new();
            let mut union_member: Option<&str> = None;
            for (name, at, value) in items {
                let len = path.len();
                path.push('.');
                path.push_str(name);
                let Some(&i) = schema.by_name.get(name.as_str()) else {
                    return Err(self.error(
                        *at,
                        path,
                        format!("{} has no field named {name:?}", short_name(&schema)),
                    ));
                };
                if !seen.insert(i) {
                    return Err(self.error(*at, path, "field is assigned twice"));
                }
                if schema
                    .fields
                    .get(i)
                    .is_some_and(|f| f.discriminant.is_some())
                {
                    if let Some(other) = union_member {
                        return Err(self.error(
                            *at,
                            path,
                            format!("{other:?} and {name:?} are members of the same union"),
                        ));
                    }
                    union_member = Some(name);
                }
                self.field(b, &schema, i, value, path, depth)?;
                path.truncate(len);
            }
            Ok(())
        })
    }

    fn field(
        &self,
        b: &StructBuilder,
        schema: &StructSchema,
        i: usize,
        value: &Parsed,
        path: &mut String,
        depth: u32,
    ) -> Result<()> {
        let field = schema.fields.get(i).ok_or(Error::TypeMismatch)?;
        let at = |e: Error| self.located(value.pos, path, e);
        match &field.kind {
            FieldKind::Group { .. } => {
                let Node::Tuple(items) = &value.node else {
                    return Err(self.error(value.pos, path, "expected a group value '(...)'"));
                };
                let g = struct_builder_of(b.init_by_index(i, None).map_err(at)?)?;
                self.tuple(&g, items, path, depth + 1)
            }
            FieldKind::Slot { ty, .. } => match (ty, &value.node) {
                (Type::Struct(_), Node::Tuple(items)) => {
                    let s = struct_builder_of(b.init_by_index(i, None).map_err(at)?)?;
                    self.tuple(&s, items, path, depth + 1)
                }
                (Type::List(elem), Node::List(items)) => {
                    let len = u32::try_from(items.len())
                        .map_err(|_| self.error(value.pos, path, "list is too long"))?;
                    let l = list_builder_of(b.init_by_index(i, Some(len)).map_err(at)?)?;
                    self.list(&l, elem, items, path, depth + 1)
                }
                _ => {
                    let v = self.scalar(ty, value, path)?;
                    b.set_by_index(i, v.as_set()).map_err(at)
                }
            },
        }
    }

    fn list(
        &self,
        l: &ListBuilder,
        elem: &Type,
        items: &[Parsed],
        path: &mut String,
        depth: u32,
    ) -> Result<()> {
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
            for (k, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{k}]"));
                let at = |e: Error| self.located(item.pos, path, e);
                let index = k as i64;
                match (elem, &item.node) {
                    (Type::Struct(_), Node::Tuple(fields)) => {
                        let s = struct_builder_of(l.get(index).map_err(at)?)?;
                        self.tuple(&s, fields, path, depth + 1)?;
                    }
                    (Type::List(inner), Node::List(sub)) => {
                        let n = u32::try_from(sub.len())
                            .map_err(|_| self.error(item.pos, path, "list is too long"))?;
                        let s = list_builder_of(l.init(index, n).map_err(at)?)?;
                        self.list(&s, inner, sub, path, depth + 1)?;
                    }
                    _ => {
                        let v = self.scalar(elem, item, path)?;
                        l.set(index, v.as_set()).map_err(at)?;
                    }
                }
                path.truncate(len);
            }
            Ok(())
        })
    }

    /// A parsed value as what to write into a slot of the non-struct, non-list type `ty`.
    fn scalar(&self, ty: &Type, value: &Parsed, path: &str) -> Result<Scalar> {
        let wrong = |what: &str| {
            self.error(
                value.pos,
                path,
                format!("expected {what}, found {}", describe(&value.node)),
            )
        };
        let ident = match &value.node {
            Node::Ident(s) => Some(s.as_str()),
            _ => None,
        };
        Ok(match ty {
            Type::Void => match ident {
                Some("void") => Scalar::Void,
                _ => return Err(wrong("void")),
            },
            Type::Bool => match ident {
                Some("true") => Scalar::Bool(true),
                Some("false") => Scalar::Bool(false),
                _ => return Err(wrong("true or false")),
            },
            Type::Int8
            | Type::Int16
            | Type::Int32
            | Type::Int64
            | Type::UInt8
            | Type::UInt16
            | Type::UInt32
            | Type::UInt64 => match value.node {
                Node::Int {
                    negative,
                    magnitude,
                } => {
                    let m = magnitude as i128;
                    Scalar::Int(if negative { -m } else { m })
                }
                _ => return Err(wrong("an integer")),
            },
            Type::Float32 | Type::Float64 => match (&value.node, ident) {
                (Node::Float(f), _) => Scalar::Float(*f),
                (
                    Node::Int {
                        negative,
                        magnitude,
                    },
                    _,
                ) => {
                    let f = *magnitude as f64;
                    Scalar::Float(if *negative { -f } else { f })
                }
                (_, Some("inf")) => Scalar::Float(f64::INFINITY),
                (_, Some("nan")) => Scalar::Float(f64::NAN),
                _ => return Err(wrong("a number")),
            },
            Type::Text => match &value.node {
                Node::Str(s) => Scalar::Bytes(s.clone()),
                _ => return Err(wrong("a string")),
            },
            Type::Data => match &value.node {
                Node::Str(s) | Node::Hex(s) => Scalar::Bytes(s.clone()),
                _ => return Err(wrong("a string or 0x\"...\" data")),
            },
            Type::Enum(_) => match ident {
                Some(name) => Scalar::Enumerant(name.to_string()),
                None => return Err(wrong("an enumerant name")),
            },
            Type::Struct(_) => return Err(wrong("a struct value '(...)'")),
            Type::List(_) => return Err(wrong("a list '[...]'")),
            Type::AnyPointer => {
                return Err(self.error(
                    value.pos,
                    path,
                    "AnyPointer values cannot be parsed from text",
                ))
            }
            Type::Interface(_) => {
                return Err(self.error(value.pos, path, "capabilities cannot be parsed from text"))
            }
        })
    }
}

/// A scalar to write, owning its bytes.
enum Scalar {
    Void,
    Bool(bool),
    Int(i128),
    Float(f64),
    Bytes(Vec<u8>),
    Enumerant(String),
}

impl Scalar {
    fn as_set(&self) -> SetValue<'_> {
        match self {
            Scalar::Void => SetValue::Void,
            Scalar::Bool(b) => SetValue::Bool(*b),
            Scalar::Int(i) => SetValue::Int(*i),
            Scalar::Float(f) => SetValue::Float(*f),
            Scalar::Bytes(b) => SetValue::Bytes(b),
            Scalar::Enumerant(s) => SetValue::Str(s),
        }
    }
}

fn describe(node: &Node) -> String {
    match node {
        Node::Tuple(_) => "a struct value".into(),
        Node::List(_) => "a list".into(),
        Node::Str(_) => "a string".into(),
        Node::Hex(_) => "hex data".into(),
        Node::Int { .. } => "an integer".into(),
        Node::Float(_) => "a floating-point number".into(),
        Node::Ident(s) => format!("'{s}'"),
    }
}

fn short_name(schema: &StructSchema) -> &str {
    let name = schema.display_name.as_str();
    name.rsplit(':').next().unwrap_or(name)
}

fn struct_builder_of(v: Value) -> Result<StructBuilder> {
    match v {
        Value::Struct(StructValue::Builder(b)) => Ok(b),
        _ => Err(Error::TypeMismatch),
    }
}

fn list_builder_of(v: Value) -> Result<ListBuilder> {
    match v {
        Value::List(ListValue::Builder(l)) => Ok(l),
        _ => Err(Error::TypeMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Parsed> {
        let mut p = Parser {
            text: text.as_bytes(),
            pos: 0,
        };
        p.value(0)
    }

    #[test]
    fn literals() {
        let Node::Tuple(items) = parse("(a = -5, b = 0x1f, c = 017, d = 1.5e3, e = \"x\\n\\101\\xff\", f = 0x\"01 ab\", g = [nan, -inf])")
            .expect("parse")
            .node
        else {
            panic!("not a tuple");
        };
        assert!(matches!(
            items[0].2.node,
            Node::Int {
                negative: true,
                magnitude: 5
            }
        ));
        assert!(matches!(items[1].2.node, Node::Int { magnitude: 31, .. }));
        assert!(matches!(items[2].2.node, Node::Int { magnitude: 15, .. }));
        assert!(matches!(items[3].2.node, Node::Float(f) if f == 1500.0));
        assert!(matches!(&items[4].2.node, Node::Str(s) if s == b"x\nA\xff"));
        assert!(matches!(&items[5].2.node, Node::Hex(s) if s == &[1, 0xab]));
        assert!(matches!(&items[6].2.node, Node::List(l) if l.len() == 2));
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("(a = 1,\n  b = )").expect_err("bad");
        assert!(e.to_string().contains("text at 2:7"), "{e}");
        assert!(parse("(a = \"x").is_err());
        assert!(parse("(a = 99999999999999999999999)").is_err());
        assert!(parse("(a = 1 b = 2)").is_err());
        let deep = "(a = ".repeat(2000);
        assert!(parse(&deep).is_err());
    }
}
