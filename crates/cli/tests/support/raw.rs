//! Placement-independent comparison of the object behind an untyped pointer
//! (`Value.struct`, `Value.list`, `Value.anyPointer`).
//!
//! The pointer is deep-copied into a fresh single-segment message (the copy
//! keeps struct and list sizes exactly, it does not canonicalize), and the copy
//! is decoded into a small tree so that differences can be reported by path.

use capnp::any_pointer;
use capnp::message::{Builder, HeapAllocator};

/// Decoded pointed-to object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    Null,
    Struct(StructObject),
    /// Data lists keep their raw element bytes (bit lists rounded up to bytes).
    DataList {
        element_bits: u32,
        count: u32,
        bytes: Vec<u8>,
    },
    PointerList(Vec<Object>),
    /// An inline-composite list with the element size from its tag word.
    StructList {
        data_words: u16,
        pointers: u16,
        elements: Vec<StructObject>,
    },
    Capability(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructObject {
    pub data: Vec<u8>,
    pub pointers: Vec<Object>,
}

/// Nesting deeper than this is reported as an error instead of recursing.
const MAX_DEPTH: u32 = 128;

/// Zero-sized elements cost no words, so bound their number separately.
const MAX_ELEMENTS: u32 = 1 << 24;

/// Deep-copies `pointer` and decodes the copy.
pub fn decode(pointer: any_pointer::Reader<'_>) -> Result<Object, String> {
    if pointer.is_null() {
        return Ok(Object::Null);
    }
    let words = pointer
        .target_size()
        .map_err(|e| format!("cannot size pointer target: {e}"))?
        .word_count;
    // One segment big enough for root pointer + object: no far pointers to follow.
    let first = u32::try_from(words.saturating_add(8)).map_err(|_| "object too large")?;
    let mut message = Builder::new(HeapAllocator::new().first_segment_words(first));
    message
        .set_root(pointer)
        .map_err(|e| format!("cannot copy pointer target: {e}"))?;
    let segments = message.get_segments_for_output();
    if segments.len() != 1 {
        return Err(format!("copy spans {} segments", segments.len()));
    }
    let segment = segments[0];
    let decoder = Decoder { segment };
    decoder.pointer(0, 0)
}

struct Decoder<'a> {
    segment: &'a [u8],
}

impl Decoder<'_> {
    fn word(&self, index: i64) -> Result<u64, String> {
        let start = usize::try_from(index)
            .ok()
            .and_then(|i| i.checked_mul(8))
            .ok_or_else(|| format!("word {index} out of range"))?;
        let bytes = self
            .segment
            .get(start..start + 8)
            .ok_or_else(|| format!("word {index} out of range"))?;
        let mut array = [0u8; 8];
        array.copy_from_slice(bytes);
        Ok(u64::from_le_bytes(array))
    }

    fn bytes(&self, word_index: i64, len: u64) -> Result<Vec<u8>, String> {
        let start = usize::try_from(word_index)
            .ok()
            .and_then(|i| i.checked_mul(8))
            .ok_or("bytes out of range")?;
        let len = usize::try_from(len).map_err(|_| "length out of range")?;
        self.segment
            .get(start..start.saturating_add(len))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| "bytes out of range".to_string())
    }

    /// Decodes the pointer stored at word `at`.
    fn pointer(&self, at: i64, depth: u32) -> Result<Object, String> {
        if depth > MAX_DEPTH {
            return Err("object nested too deeply".into());
        }
        let word = self.word(at)?;
        if word == 0 {
            return Ok(Object::Null);
        }
        // The offset is a signed 30-bit word count relative to the next word.
        let offset = i64::from((word as u32 as i32) >> 2);
        let target = at + 1 + offset;
        match word & 3 {
            0 => {
                let data_words = (word >> 32) as u16;
                let pointers = (word >> 48) as u16;
                Ok(Object::Struct(
                    self.struct_at(target, data_words, pointers, depth)?,
                ))
            }
            1 => self.list(target, word, depth),
            2 => Err("unexpected far pointer in single-segment copy".into()),
            _ => Ok(Object::Capability((word >> 32) as u32)),
        }
    }

    fn struct_at(
        &self,
        at: i64,
        data_words: u16,
        pointers: u16,
        depth: u32,
    ) -> Result<StructObject, String> {
        let data = self.bytes(at, u64::from(data_words) * 8)?;
        let first_pointer = at + i64::from(data_words);
        let pointers = (0..i64::from(pointers))
            .map(|i| self.pointer(first_pointer + i, depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StructObject { data, pointers })
    }

    fn list(&self, at: i64, word: u64, depth: u32) -> Result<Object, String> {
        let size_code = (word >> 32) & 7;
        let count = (word >> 35) as u32;
        let element_bits = match size_code {
            0 => 0,
            1 => 1,
            2 => 8,
            3 => 16,
            4 => 32,
            5 => 64,
            6 => {
                let elements = (0..i64::from(count))
                    .map(|i| self.pointer(at + i, depth + 1))
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(Object::PointerList(elements));
            }
            _ => return self.struct_list(at, depth),
        };
        let bytes = self.bytes(at, (u64::from(count) * element_bits).div_ceil(8))?;
        Ok(Object::DataList {
            element_bits: element_bits as u32,
            count,
            bytes,
        })
    }

    fn struct_list(&self, tag_at: i64, depth: u32) -> Result<Object, String> {
        let tag = self.word(tag_at)?;
        let count = (tag as u32) >> 2;
        let data_words = (tag >> 32) as u16;
        let pointers = (tag >> 48) as u16;
        let stride = i64::from(data_words) + i64::from(pointers);
        if count > MAX_ELEMENTS {
            return Err(format!(
                "struct list of {count} elements is too long to compare"
            ));
        }
        let elements = (0..i64::from(count))
            .map(|i| self.struct_at(tag_at + 1 + i * stride, data_words, pointers, depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Object::StructList {
            data_words,
            pointers,
            elements,
        })
    }
}

/// Appends one message per difference between `expected` and `actual`,
/// located by `path`.
pub fn diff(path: &str, expected: &Object, actual: &Object, out: &mut Vec<(String, String)>) {
    match (expected, actual) {
        (Object::Struct(e), Object::Struct(a)) => diff_struct(path, e, a, out),
        (Object::PointerList(e), Object::PointerList(a)) => {
            if e.len() != a.len() {
                out.push((
                    path.into(),
                    format!("pointer list of {} vs {} elements", e.len(), a.len()),
                ));
                return;
            }
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                diff(&format!("{path}[{i}]"), e, a, out);
            }
        }
        (
            Object::StructList {
                data_words: ew,
                pointers: ep,
                elements: ee,
            },
            Object::StructList {
                data_words: aw,
                pointers: ap,
                elements: ae,
            },
        ) => {
            if (ew, ep) != (aw, ap) || ee.len() != ae.len() {
                out.push((
                    path.into(),
                    format!(
                        "struct list of {} x ({ew}w+{ep}p) vs {} x ({aw}w+{ap}p)",
                        ee.len(),
                        ae.len()
                    ),
                ));
                return;
            }
            for (i, (e, a)) in ee.iter().zip(ae).enumerate() {
                diff_struct(&format!("{path}[{i}]"), e, a, out);
            }
        }
        (e, a) if e == a => {}
        (e, a) => out.push((path.into(), format!("{} vs {}", describe(e), describe(a)))),
    }
}

fn diff_struct(path: &str, e: &StructObject, a: &StructObject, out: &mut Vec<(String, String)>) {
    if e.data.len() != a.data.len() || e.pointers.len() != a.pointers.len() {
        out.push((
            path.into(),
            format!(
                "struct size {}w+{}p vs {}w+{}p",
                e.data.len() / 8,
                e.pointers.len(),
                a.data.len() / 8,
                a.pointers.len()
            ),
        ));
        return;
    }
    if e.data != a.data {
        out.push((
            format!("{path}.data"),
            format!("{} vs {}", hex(&e.data), hex(&a.data)),
        ));
    }
    for (i, (e, a)) in e.pointers.iter().zip(&a.pointers).enumerate() {
        diff(&format!("{path}.ptr[{i}]"), e, a, out);
    }
}

fn describe(object: &Object) -> String {
    match object {
        Object::Null => "null".into(),
        Object::Struct(s) => format!("struct ({}w+{}p)", s.data.len() / 8, s.pointers.len()),
        Object::DataList {
            element_bits,
            count,
            bytes,
        } => format!("{element_bits}-bit list of {count} [{}]", hex(bytes)),
        Object::PointerList(elements) => format!("pointer list of {}", elements.len()),
        Object::StructList {
            data_words,
            pointers,
            elements,
        } => format!(
            "struct list of {} x ({data_words}w+{pointers}p)",
            elements.len()
        ),
        Object::Capability(index) => format!("capability #{index}"),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
