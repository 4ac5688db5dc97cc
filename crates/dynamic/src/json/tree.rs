//! A JSON document as the codec sees it (objects keep their order and repeated names), parsed
//! with serde_json and printed as the reference's `JsonCodec` prints, compact or pretty.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::text::format_f64;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    /// Every number is a double, as in the reference's `JsonValue`.
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The kind, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut fields = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Json>()? {
            fields.push((k, v));
        }
        Ok(Json::Object(fields))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// A string in double quotes with the reference's escapes (`\uXXXX` for other control
/// characters; everything else, UTF-8 included, as is).
pub(crate) fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            c if c < 0x20 => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 15)]);
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// An encoded value ready to print: strings stay bytes (Text is printed as stored).
#[derive(Debug)]
pub(crate) enum Out {
    Null,
    Bool(bool),
    Number(f64),
    String(Vec<u8>),
    Array(Vec<Out>),
    Object(Vec<(Vec<u8>, Out)>),
    /// A `JsonValue`'s `raw`: written as is.
    Raw(Vec<u8>),
    /// A `JsonValue`'s `call`: `function(params...)`.
    Call(Vec<u8>, Vec<Out>),
}

/// Compact form: no whitespace at all.
pub(crate) fn write_compact(out: &mut Vec<u8>, v: &Out) {
    match v {
        Out::Null => out.extend_from_slice(b"null"),
        Out::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Out::Number(n) => out.extend_from_slice(format_f64(*n).as_bytes()),
        Out::String(s) => write_string(out, s),
        Out::Raw(raw) => out.extend_from_slice(raw),
        Out::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_compact(out, item);
            }
            out.push(b']');
        }
        Out::Call(function, params) => {
            out.extend_from_slice(function);
            out.push(b'(');
            for (i, item) in params.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_compact(out, item);
            }
            out.push(b')');
        }
        Out::Object(fields) => {
            out.push(b'{');
            for (i, (name, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, name);
                out.push(b':');
                write_compact(out, item);
            }
            out.push(b'}');
        }
    }
}

/// Elements longer than this put a list or object on several lines.
const MAX_INLINE_CHILD: usize = 50;

/// Pretty form, as the reference's `encodeRaw`/`encodeList`: `indent` is the nesting level,
/// `multiline` is set when the result spans lines, `has_prefix` when something precedes the
/// value on its first line (a field name).
pub(crate) fn write_pretty(
    v: &Out,
    indent: usize,
    multiline: &mut bool,
    has_prefix: bool,
) -> Vec<u8> {
    match v {
        Out::Call(function, params) => {
            let sub = indent + usize::from(params.len() > 1);
            let mut child_multiline = false;
            let parts: Vec<Vec<u8>> = params
                .iter()
                .map(|item| write_pretty(item, sub, &mut child_multiline, false))
                .collect();
            // The function name precedes the parameters on their first line.
            let mut out = function.clone();
            out.extend(list(
                b'(',
                parts,
                b')',
                child_multiline,
                indent,
                multiline,
                true,
            ));
            out
        }
        Out::Array(items) => {
            let sub = indent + usize::from(items.len() > 1);
            let mut child_multiline = false;
            let parts: Vec<Vec<u8>> = items
                .iter()
                .map(|item| write_pretty(item, sub, &mut child_multiline, false))
                .collect();
            list(
                b'[',
                parts,
                b']',
                child_multiline,
                indent,
                multiline,
                has_prefix,
            )
        }
        Out::Object(fields) => {
            let sub = indent + usize::from(fields.len() > 1);
            let mut child_multiline = false;
            let parts: Vec<Vec<u8>> = fields
                .iter()
                .map(|(name, item)| {
                    let mut part = Vec::with_capacity(name.len() + 8);
                    write_string(&mut part, name);
                    part.extend_from_slice(b": ");
                    part.extend(write_pretty(item, sub, &mut child_multiline, true));
                    part
                })
                .collect();
            list(
                b'{',
                parts,
                b'}',
                child_multiline,
                indent,
                multiline,
                has_prefix,
            )
        }
        scalar => {
            let mut out = Vec::new();
            write_compact(&mut out, scalar);
            out
        }
    }
}

fn list(
    open: u8,
    parts: Vec<Vec<u8>>,
    close: u8,
    child_multiline: bool,
    indent: usize,
    multiline: &mut bool,
    has_prefix: bool,
) -> Vec<u8> {
    let total: usize = parts.iter().map(Vec::len).sum::<usize>() + parts.len() * 2;
    let mut out = Vec::with_capacity(total + indent * 2 + 4);
    out.push(open);
    let longest = parts.iter().map(Vec::len).max().unwrap_or(0);
    if parts.len() > 1 && (child_multiline || longest > MAX_INLINE_CHILD) {
        *multiline = true;
        let spaces = (indent + 1) * 2;
        if has_prefix {
            out.push(b'\n');
            out.resize(out.len() + spaces, b' ');
        } else {
            out.push(b' ');
        }
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b",\n");
                out.resize(out.len() + spaces, b' ');
            }
            out.extend_from_slice(part);
        }
        out.push(b' ');
    } else {
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(part);
        }
    }
    out.push(close);
    out
}

/// Standard base64 with padding, as `kj::encodeBase64` (no line breaks).
pub(crate) fn encode_base64(data: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

/// Decodes base64 as `kj::decodeBase64` does: characters outside the alphabet are skipped,
/// padding is optional. Fails only on a dangling single character.
pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut count = 0usize;
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        count += 1;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if count % 4 == 1 {
        return Err("invalid base64: dangling character".to_string());
    }
    Ok(out)
}

/// Lower-case hex, as `kj::encodeHex`.
pub(crate) fn encode_hex(data: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(data.len() * 2);
    for &b in data {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
    out
}

pub(crate) fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    let digit = |c: u8| -> Result<u8, String> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(format!("invalid hex digit {:?}", char::from(c))),
        }
    };
    let bytes = text.as_bytes();
    if bytes.len() & 1 != 0 {
        return Err("invalid hex: odd number of digits".to_string());
    }
    bytes
        .chunks(2)
        .map(|p| Ok((digit(p[0])? << 4) | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            let e = encode_base64(data);
            assert_eq!(
                decode_base64(std::str::from_utf8(&e).expect("ascii")),
                Ok(data.to_vec())
            );
        }
        assert_eq!(encode_base64(b"foob"), b"Zm9vYg==");
        assert!(decode_base64("Zm9vY").is_err());
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(encode_hex(&[0, 0xab, 0x10]), b"00ab10");
        assert_eq!(decode_hex("00AB10"), Ok(vec![0, 0xab, 0x10]));
        assert!(decode_hex("0g").is_err());
        assert!(decode_hex("abc").is_err());
    }

    #[test]
    fn string_escapes() {
        let mut out = Vec::new();
        write_string(&mut out, b"a\"\\\x08\x0c\n\r\t\x01\x7f\xc3\xa9");
        assert_eq!(out, b"\"a\\\"\\\\\\b\\f\\n\\r\\t\\u0001\x7f\xc3\xa9\"");
    }
}
