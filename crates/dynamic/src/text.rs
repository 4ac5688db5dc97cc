//! The Cap'n Proto text format of structs and lists (API.md 3.14): the pretty form behind
//! `str()` and the one-line form inside `repr()`, byte for byte as the reference prints them.

mod located;
mod parse;

pub use parse::struct_from_text;

use crate::error::{Error, Result};
use crate::list::ListReader;
use crate::schema::{FieldKind, StructSchema, Type};
use crate::struct_::StructReader;
use crate::value::{ListValue, StructValue, Value};

/// Nested structs and lists deeper than this are an error rather than unbounded recursion
/// (builders have no nesting limit of their own).
const MAX_DEPTH: u32 = 1000;
/// Stack kept free before each nested value; below it the stack grows (`stacker`), so deep
/// messages print on small thread stacks too.
const RED_ZONE: usize = 64 * 1024;
const STACK_GROWTH: usize = 1024 * 1024;

/// An item longer than this (in bytes) forces its struct or list onto several lines.
const MAX_INLINE_VALUE: usize = 24;
/// A struct whose items add up to more than this (in bytes) is printed on several lines.
const MAX_INLINE_RECORD: usize = 64;
/// Between two items on one line.
const INLINE_SEP: &[u8] = b", ";

/// The text of a struct: pretty (`str()`) or on one line (inside `repr()`).
///
/// The result is bytes because Text fields are printed as stored; the binding decodes it
/// strictly as UTF-8, as the reference does.
pub fn struct_text(r: &StructReader, pretty: bool) -> Result<Vec<u8>> {
    if let Some(out) = struct_text_located(r, pretty) {
        return Ok(out);
    }
    let mut p = Printer::new(pretty);
    p.struct_(r, top_level(pretty), Place::Bracketed, 0)?;
    Ok(p.out)
}

/// `struct_text` by the walk over the message's own bytes (`located`), when the struct's
/// location is resolved and the walk does not decline; `None` otherwise (nothing charged).
/// Public for the tests that compare it with the general walk.
#[doc(hidden)]
pub fn struct_text_located(r: &StructReader, pretty: bool) -> Option<Vec<u8>> {
    let (at, message) = r.location()?;
    let mut loc = located::Located::new(message, r.registry());
    let mut p = Printer::new(pretty);
    p.located_struct(
        &mut loc,
        at,
        r.schema(),
        top_level(pretty),
        Place::Bracketed,
        0,
    )?;
    loc.settle()?;
    Some(p.out)
}

/// The text of a list: pretty (`str()`) or on one line (inside `repr()`).
pub fn list_text(l: &ListReader, pretty: bool) -> Result<Vec<u8>> {
    if let Some(out) = list_text_located(l, pretty) {
        return Ok(out);
    }
    let mut p = Printer::new(pretty);
    p.list(l, top_level(pretty), Place::Bracketed, 0)?;
    Ok(p.out)
}

/// `list_text` by the walk over the message's own bytes, as `struct_text_located`.
#[doc(hidden)]
pub fn list_text_located(l: &ListReader, pretty: bool) -> Option<Vec<u8>> {
    let (at, message) = l.location()?;
    let mut loc = located::Located::new(message, l.registry());
    let mut p = Printer::new(pretty);
    p.located_list(
        &mut loc,
        at,
        l.element_type(),
        top_level(pretty),
        Place::Bracketed,
        0,
    )?;
    loc.settle()?;
    Some(p.out)
}

/// A value on its own, as kj prints a `DynamicValue` (`capnp eval`): structs and lists as
/// `struct_text`/`list_text`; floats as Float64 whatever their type (a `DynamicValue` keeps a
/// double); other scalars as inside a struct. `ty` names enumerants.
pub fn value_text(
    v: &Value,
    ty: &Type,
    registry: &crate::schema::Registry,
    pretty: bool,
) -> Result<Vec<u8>> {
    match v {
        Value::Struct(s) => struct_text(&struct_reader(s), pretty),
        Value::List(l) => list_text(&list_reader(l), pretty),
        Value::Float(f) => Ok(format_f64(*f).into_bytes()),
        _ => {
            let mut out = Vec::new();
            scalar(&mut out, v, ty, registry)?;
            Ok(out)
        }
    }
}

/// Indentation level of a top-level value; 0 means "never break lines".
fn top_level(pretty: bool) -> u32 {
    u32::from(pretty)
}

/// Where a struct or list value stands, which decides what precedes its first item
/// when it is broken over several lines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// At top level or as a list element: a single space after the bracket.
    Bracketed,
    /// As a field value (`name = (`): the first item starts on its own line.
    Field,
}

/// Writes everything into one buffer: a struct's or list's items are written right after its
/// opening bracket as if on one line (`", "` between them); once one item rules that out,
/// `spread_items` spreads those written so far in place with the separators that layout
/// needs and the rest are written spread (`Items`), so no item is a buffer of its own, items
/// on one line are never moved, and spread ones move at most once.
struct Printer {
    pretty: bool,
    out: Vec<u8>,
    /// The items written so far on one line of every struct or list being printed (innermost
    /// last): where each ends in `out`, and whether it contains a line break.
    ends: Vec<(usize, bool)>,
}

impl Printer {
    fn new(pretty: bool) -> Self {
        Printer {
            pretty,
            out: Vec::with_capacity(256),
            ends: Vec::new(),
        }
    }

    fn next(&self, level: u32) -> u32 {
        if self.pretty {
            level.saturating_add(1)
        } else {
            0
        }
    }

    /// Writes a struct; whether its text contains a line break.
    fn struct_(&mut self, r: &StructReader, level: u32, place: Place, depth: u32) -> Result<bool> {
        let depth = check_depth(depth)?;
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
            self.struct_items(r, level, place, depth)
        })
    }

    fn struct_items(
        &mut self,
        r: &StructReader,
        level: u32,
        place: Place,
        depth: u32,
    ) -> Result<bool> {
        let schema: &StructSchema = r.schema();
        let child = self.next(level);
        let mut items = self.open(b'(', level, place, true);

        // The active union member, unless it is the default member (discriminant 0) left
        // null; it sits before the first non-union field declared after it.
        let mut union_member: Option<usize> = None;
        if let Some(union) = &schema.union {
            if let Ok((d, _)) = r.which() {
                if let Some(Some(i)) = union.members.get(usize::from(d)).copied() {
                    if d != 0 || r.has_by_index(i)? {
                        union_member = Some(i);
                    }
                }
            }
        }
        for &i in &schema.non_union_fields {
            if let Some(u) = union_member.filter(|u| *u < i) {
                union_member = None;
                self.item(&mut items, |p| p.field(r, u, child, depth))?;
            }
            if r.has_by_index(i)? {
                self.item(&mut items, |p| p.field(r, i, child, depth))?;
            }
        }
        if let Some(u) = union_member {
            self.item(&mut items, |p| p.field(r, u, child, depth))?;
        }
        Ok(self.close(items, b')'))
    }

    /// Writes one item of `items` with `write` (see `begin` and `end`).
    fn item(
        &mut self,
        items: &mut Items,
        write: impl FnOnce(&mut Self) -> Result<bool>,
    ) -> Result<()> {
        let start = self.begin(items);
        let breaks = write(self)?;
        self.end(items, start, breaks);
        Ok(())
    }

    /// `name = value` for the field at `index`.
    fn field(&mut self, r: &StructReader, index: usize, level: u32, depth: u32) -> Result<bool> {
        let field = r
            .schema()
            .fields
            .get(index)
            .ok_or_else(|| Error::NoSuchField {
                name: format!("#{index}"),
            })?;
        let group_type;
        let ty = match &field.kind {
            FieldKind::Slot { ty, .. } => ty,
            FieldKind::Group { id } => {
                group_type = Type::Struct(*id);
                &group_type
            }
        };
        self.out.extend_from_slice(field.name.as_bytes());
        self.out.extend_from_slice(b" = ");
        if matches!(ty, Type::Text | Type::Data) {
            // In place, without a copy of the bytes.
            let (out, data) = (&mut self.out, *ty == Type::Data);
            if r.with_blob(index, |bytes| quoted(out, bytes, data))?
                .is_some()
            {
                return Ok(false);
            }
        }
        let v = r.get_by_index(index)?;
        self.value(&v, ty, r.registry(), level, Place::Field, depth)
    }

    fn list(&mut self, l: &ListReader, level: u32, place: Place, depth: u32) -> Result<bool> {
        let depth = check_depth(depth)?;
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
            self.list_items(l, level, place, depth)
        })
    }

    fn list_items(&mut self, l: &ListReader, level: u32, place: Place, depth: u32) -> Result<bool> {
        let child = self.next(level);
        let len = l.len()?;
        let mut items = self.open(b'[', level, place, false);
        let elem = l.element_type();
        let blob = matches!(elem, Type::Text | Type::Data);
        for i in 0..len {
            if blob {
                // In place, without a copy of the bytes (when the list's location is known).
                let mark = self.out.len();
                let start = self.begin(&items);
                let (out, data) = (&mut self.out, *elem == Type::Data);
                if l.with_blob_element(i64::from(i), |bytes| quoted(out, bytes, data))?
                    .is_some()
                {
                    self.end(&mut items, start, false);
                    continue;
                }
                self.out.truncate(mark);
            }
            let v = l.get(i64::from(i))?;
            self.item(&mut items, |p| {
                p.value(&v, elem, l.registry(), child, Place::Bracketed, depth)
            })?;
        }
        Ok(self.close(items, b']'))
    }

    /// Writes a value: structs and lists stand at `place` (a field value, or bracketed as a
    /// list element); whether its text contains a line break.
    fn value(
        &mut self,
        v: &Value,
        ty: &Type,
        registry: &crate::schema::Registry,
        level: u32,
        place: Place,
        depth: u32,
    ) -> Result<bool> {
        match v {
            Value::Struct(s) => self.struct_(&struct_reader(s), level, place, depth),
            Value::List(l) => self.list(&list_reader(l), level, place, depth),
            _ => {
                scalar(&mut self.out, v, ty, registry)?;
                Ok(false)
            }
        }
    }

    /// Opens a struct or list (`bracket`) at `level` standing at `place`; `record`: a struct
    /// (whose items also have a total limit on one line).
    fn open(&mut self, bracket: u8, level: u32, place: Place, record: bool) -> Items {
        self.out.push(bracket);
        Items {
            open: self.out.len() - 1,
            base: self.ends.len(),
            level,
            place,
            record,
            count: 0,
            total: 0,
            any_break: false,
            spread: false,
        }
    }

    /// The separator before the next item of `items`: `INLINE_SEP` while they are on one
    /// line, a line break and the indentation once they are spread; where the item starts.
    fn begin(&mut self, items: &Items) -> usize {
        if items.spread {
            self.out.extend_from_slice(b",\n");
            let indent = items.level as usize * 2;
            self.out.resize(self.out.len() + indent, b' ');
        } else if items.count > 0 {
            self.out.extend_from_slice(INLINE_SEP);
        }
        self.out.len()
    }

    /// Records the item of `items` written from `start` (`breaks`: it contains a line
    /// break). The first item that rules out one line spreads the items so far
    /// (`spread_items`); later ones are then written in place.
    fn end(&mut self, items: &mut Items, start: usize, breaks: bool) {
        let len = self.out.len() - start;
        items.count += 1;
        items.any_break |= breaks;
        if items.spread {
            return;
        }
        self.ends.push((self.out.len(), breaks));
        items.total += len;
        if items.level != 0 && rules_out_one_line(len, breaks, items.total, items.record) {
            self.spread_items(items);
        }
    }

    /// Spreads the items of `items` written so far on one line (`INLINE_SEP` between them,
    /// their ends recorded from `items.base`) one per line, in place: what precedes the
    /// first one and a wide separator between two.
    fn spread_items(&mut self, items: &mut Items) {
        let start = items.open + 1;
        let sep_len = INLINE_SEP.len();
        let ends = &self.ends[items.base..];
        let count = ends.len();
        let indent = items.level as usize * 2;
        // What goes before the first item, between two items.
        let lead: &[u8] = match items.place {
            Place::Bracketed => b" ",
            Place::Field => b"\n",
        };
        let sep: &[u8] = b",\n";
        let lead_len = lead.len()
            + if items.place == Place::Field {
                indent
            } else {
                0
            };
        let wide_sep_len = sep.len() + indent;
        let extra = lead_len + (wide_sep_len - sep_len) * count.saturating_sub(1);
        let written = self.out.len();
        self.out.resize(written + extra, b' ');
        // Items move right, last first (each lands at or after where it was), and the
        // separators fill the gaps they leave.
        let out = &mut self.out;
        let mut dest_end = written + extra;
        for k in (0..count).rev() {
            let (end, _) = ends[k];
            let begin = if k == 0 {
                start
            } else {
                ends[k - 1].0 + sep_len
            };
            let len = end - begin;
            let dest = dest_end - len;
            out.copy_within(begin..end, dest);
            let (gap, text) = if k == 0 {
                (lead_len, lead)
            } else {
                (wide_sep_len, sep)
            };
            let gap_start = dest - gap;
            out[gap_start..gap_start + text.len()].copy_from_slice(text);
            out[gap_start + text.len()..dest].fill(b' ');
            dest_end = gap_start;
        }
        self.ends.truncate(items.base);
        items.spread = true;
    }

    /// Closes `items` with `bracket`: on one line, or spread with a space before the bracket.
    /// Whether the result contains a line break.
    fn close(&mut self, items: Items, bracket: u8) -> bool {
        self.ends.truncate(items.base);
        if !items.spread {
            self.out.push(bracket);
            return items.any_break;
        }
        self.out.extend_from_slice(&[b' ', bracket]);
        // Laid out: a break before the first item of a field value or between two items.
        items.any_break || items.place == Place::Field || items.count >= 2
    }
}

/// A struct or list being written: its items are written on one line (`INLINE_SEP` between
/// them) until one rules that out, then spread one per line in place (`spread_items`) and the
/// rest written spread, so no item moves more than once per level.
struct Items {
    /// Where its opening bracket is in the output.
    open: usize,
    /// Where its items' ends are recorded in `Printer::ends` (while on one line).
    base: usize,
    /// Its indentation level; 0: never broken.
    level: u32,
    place: Place,
    /// A struct (its items also have a total limit on one line).
    record: bool,
    count: usize,
    /// The items' lengths so far (on one line).
    total: usize,
    any_break: bool,
    spread: bool,
}

fn check_depth(depth: u32) -> Result<u32> {
    if depth >= MAX_DEPTH {
        return Err(Error::Capnp(capnp::Error::failed(
            "Message is too deeply-nested or contains cycles".into(),
        )));
    }
    Ok(depth + 1)
}

/// Whether an item of `len` bytes (`breaks`: containing a line break), bringing its struct's
/// or list's items to `total` bytes, keeps them off one line (`record`: a struct).
fn rules_out_one_line(len: usize, breaks: bool, total: usize, record: bool) -> bool {
    len > MAX_INLINE_VALUE || breaks || (record && total > MAX_INLINE_RECORD)
}

fn struct_reader(s: &StructValue) -> StructReader {
    match s {
        StructValue::Reader(r) => r.clone(),
        StructValue::Builder(b) => b.as_reader(),
    }
}

fn list_reader(l: &ListValue) -> ListReader {
    match l {
        ListValue::Reader(r) => r.clone(),
        ListValue::Builder(b) => b.as_reader(),
    }
}

/// Writes everything that is neither a struct nor a list.
fn scalar(
    out: &mut Vec<u8>,
    v: &Value,
    ty: &Type,
    registry: &crate::schema::Registry,
) -> Result<()> {
    use std::io::Write as _;
    match v {
        Value::Void => out.extend_from_slice(b"void"),
        Value::Bool(_) | Value::Int(_) | Value::UInt(_) | Value::Float(_) => {
            let _ = scalar_number(out, v, ty);
        }
        Value::Text(t) => quoted(out, t, false),
        Value::Data(d) => quoted(out, d, true),
        Value::Enum(n) => {
            let schema = match ty {
                Type::Enum(id) => Some(registry.get_enum(*id)?),
                _ => None,
            };
            match schema
                .as_ref()
                .and_then(|s| s.enumerants.get(usize::from(*n)))
            {
                Some(name) => out.extend_from_slice(name.as_bytes()),
                None => {
                    let _ = write!(out, "({n})");
                }
            }
        }
        Value::AnyPointer(_) => out.extend_from_slice(b"<opaque pointer>"),
        Value::Capability(_) => out.extend_from_slice(b"<external capability>"),
        // Reached only for a struct or list outside a struct or list walk.
        Value::Struct(_) | Value::List(_) => return Err(Error::TypeMismatch),
    }
    Ok(())
}

/// A Bool or number; `None` for any other value.
fn scalar_number(out: &mut Vec<u8>, v: &Value, ty: &Type) -> Option<()> {
    match v {
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Int(i) => {
            if *i < 0 {
                out.push(b'-');
            }
            push_u64(out, i.unsigned_abs());
        }
        Value::UInt(u) => push_u64(out, *u),
        Value::Float(f) => out.extend_from_slice(
            match ty {
                Type::Float32 => format_f32(*f as f32),
                _ => format_f64(*f),
            }
            .as_bytes(),
        ),
        _ => return None,
    }
    Some(())
}

/// `n` in decimal (what `write!(out, "{n}")` writes, without the formatter).
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[at..]);
}

/// Which bytes print as themselves inside quotes: all but controls, DEL, quotes and the
/// backslash; in Data also none from 0x80 up.
const fn plain_table(data: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut c = 0x20;
    while c < 256 {
        let b = c as u8;
        t[c] = !(b == 0x7f || b == b'\'' || b == b'"' || b == b'\\' || (data && b >= 0x80));
        c += 1;
    }
    t
}
static PLAIN_TEXT: [bool; 256] = plain_table(false);
static PLAIN_DATA: [bool; 256] = plain_table(true);

/// Text or Data in double quotes with C escapes; Data also escapes bytes from 0x80 up
/// (Text keeps them, so UTF-8 prints as is).
fn quoted(out: &mut Vec<u8>, bytes: &[u8], data: bool) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Runs of bytes that print as themselves are copied whole (found by table lookup).
    let table = if data { &PLAIN_DATA } else { &PLAIN_TEXT };
    let mut rest = bytes;
    while !rest.is_empty() {
        let run = rest
            .iter()
            .position(|&c| !table[usize::from(c)])
            .unwrap_or(rest.len());
        out.extend_from_slice(&rest[..run]);
        let Some(&c) = rest.get(run) else {
            break;
        };
        rest = &rest[run + 1..];
        let esc = match c {
            0x07 => Some(b'a'),
            0x08 => Some(b'b'),
            0x0c => Some(b'f'),
            b'\n' => Some(b'n'),
            b'\r' => Some(b'r'),
            b'\t' => Some(b't'),
            0x0b => Some(b'v'),
            b'\'' | b'"' | b'\\' => Some(c),
            _ => None,
        };
        match esc {
            Some(e) => out.extend_from_slice(&[b'\\', e]),
            None => out.extend_from_slice(&[
                b'\\',
                b'0' + (c >> 6),
                b'0' + ((c >> 3) & 7),
                b'0' + (c & 7),
            ]),
        }
    }
    out.push(b'"');
}

/// A Float64 as the reference prints it: `%.15g`, or `%.17g` when that does not read back
/// as the same value; `+` removed from exponents; `inf`, `-inf`, `nan`.
pub fn format_f64(x: f64) -> String {
    if let Some(s) = non_finite(x) {
        return s.into();
    }
    let short = format_g(x, 15);
    if short.parse::<f64>().ok() == Some(x) {
        return short;
    }
    format_g(x, 17)
}

/// A Float32 as the reference prints it: `%.6g`, or `%.8g` when that does not read back
/// as the same float32 (eight digits do not always round-trip; the reference keeps them).
/// Subnormals always take eight digits: the reference's read-back reports underflow for them.
pub fn format_f32(x: f32) -> String {
    let wide = f64::from(x);
    if let Some(s) = non_finite(wide) {
        return s.into();
    }
    let short = format_g(wide, 6);
    if !x.is_subnormal() && short.parse::<f32>().ok() == Some(x) {
        return short;
    }
    format_g(wide, 8)
}

fn non_finite(x: f64) -> Option<&'static str> {
    if x.is_nan() {
        Some("nan")
    } else if x.is_infinite() {
        Some(if x > 0.0 { "inf" } else { "-inf" })
    } else {
        None
    }
}

/// C's `%.{precision}g` for a finite value, without the `+` of positive exponents.
fn format_g(x: f64, precision: usize) -> String {
    // Scientific form first: its exponent (after rounding) picks the style, as in C.
    let sci = format!("{:.*e}", precision - 1, x);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= precision as i32 {
        let mut s = strip_zeros(mantissa).to_string();
        s.push('e');
        if exp < 0 {
            s.push('-');
        }
        s.push_str(&format!("{:02}", exp.unsigned_abs()));
        s
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        strip_zeros(&format!("{x:.decimals$}")).to_string()
    }
}

/// Drops trailing fractional zeros and a bare trailing point.
fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float64_forms() {
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (1e100, "1e100"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (-0.0, "-0"),
            (0.0, "0"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.33333333333333331"),
            (-1.23e47, "-1.23e47"),
            (123456789.0, "123456789"),
            (1e15, "1e15"),
            (1e16, "1e16"),
            (1e-5, "1e-05"),
            (1e-4, "0.0001"),
            (5e-324, "4.94065645841247e-324"),
            (f64::MAX, "1.7976931348623157e308"),
            (9007199254740992.0, "9007199254740992"),
            (1234567.25, "1234567.25"),
        ];
        for (x, want) in cases {
            assert_eq!(format_f64(*x), *want, "{x:?}");
        }
    }

    #[test]
    fn float32_forms() {
        let cases: &[(f32, &str)] = &[
            (1.0 / 3.0, "0.33333334"),
            (1e-45, "1.4012985e-45"),
            (-103.217_32, "-103.21732"),
            (3.4e38, "3.4e38"),
            (123456789.0, "1.2345679e08"),
            (9007199254740992.0, "9.0071993e15"),
            (1_234_567.2, "1234567.2"),
            (0.1, "0.1"),
            (-0.0, "-0"),
            (f32::NAN, "nan"),
        ];
        for (x, want) in cases {
            assert_eq!(format_f32(*x), *want, "{x:?}");
        }
    }

    fn q(bytes: &[u8], data: bool) -> Vec<u8> {
        let mut out = Vec::new();
        quoted(&mut out, bytes, data);
        out
    }

    #[test]
    fn text_and_data_escapes() {
        let all: Vec<u8> = (1u8..=0x7f).collect();
        let text = String::from_utf8(q(&all, false)).expect("utf8");
        assert!(text.starts_with(r#""\001\002\003\004\005\006\a\b\t\n\v\f\r\016"#));
        assert!(text.ends_with(r#"[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\177""#));
        assert!(text.contains(r##"\037 !\"#$%&\'()"##));
        assert_eq!(q("é\0".as_bytes(), false), "\"é\\000\"".as_bytes());
        assert_eq!(q(&[0xff, 0, b'a', 0x80], true), br#""\377\000a\200""#);
    }

    #[test]
    fn plain_tables_match_the_rule() {
        for c in 0..=255u8 {
            for data in [false, true] {
                let plain = !(c < 0x20
                    || c == 0x7f
                    || c == b'\''
                    || c == b'"'
                    || c == b'\\'
                    || (data && c >= 0x80));
                let table = if data { &PLAIN_DATA } else { &PLAIN_TEXT };
                assert_eq!(table[usize::from(c)], plain, "{c:#x} data={data}");
            }
        }
    }

    #[test]
    fn decimal_numbers() {
        for n in [
            0u64,
            1,
            9,
            10,
            99,
            100,
            12345,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut out = Vec::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string().into_bytes());
        }
        for i in [i64::MIN, -1, 0, 7, i64::MAX] {
            let mut out = Vec::new();
            scalar_number(&mut out, &Value::Int(i), &Type::Int64).expect("number");
            assert_eq!(out, i.to_string().into_bytes());
        }
    }

    /// Whether items (length, contains a break) go on one line, by the rule `end` applies.
    fn fits_inline(items: &[(usize, bool)], record: bool) -> bool {
        let mut total = 0;
        items.iter().all(|&(len, breaks)| {
            total += len;
            !rules_out_one_line(len, breaks, total, record)
        })
    }

    #[test]
    fn inline_limits() {
        let item = |n: usize| (n, false);
        assert!(fits_inline(&[item(24), item(24)], false));
        assert!(!fits_inline(&[item(25)], false));
        assert!(fits_inline(&[item(24), item(24), item(16)], true));
        assert!(!fits_inline(&[item(24), item(24), item(17)], true));
        assert!(!fits_inline(&[(3, true)], false));
        assert!(fits_inline(&[], true));
    }
}
