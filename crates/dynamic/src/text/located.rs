//! The printer's walk over a reader's own bytes: a struct or list whose location is resolved
//! (coords.rs) is printed by following its pointers in place, with no handle, `Value` or path
//! made per field or element. It prints exactly what the general walk (`Printer::struct_`)
//! prints and charges the read limit the same words, once, at the end.
//!
//! It declines (`None`) wherever the general walk would leave the resolved locations or could
//! fail: a pointer the fast paths do not follow (null Text of an active union member, double
//! far pointers, lists encoded other than as their type, defaults), AnyPointer and interface
//! values, Void lists, a schema it cannot find, a read limit the words exceed. The caller
//! then throws the output away and prints with the general walk, from the start, so errors
//! and the budget left are the general walk's.

use std::sync::Arc;

use super::{check_depth, push_u64, quoted, scalar_number, Place, Printer, RED_ZONE, STACK_GROWTH};
use crate::coords::{ListAt, StructAt};
use crate::message::{shape_words, MessageReader, Shape};
use crate::schema::{EnumSchema, FieldKind, Registry, StructSchema, Type};
use crate::struct_::{expected_size, mask};
use crate::value::{decode_data, list_shape};

/// What the walk shares: the message, the schemas it looked up, the words it owes the limit.
pub(super) struct Located<'a> {
    message: &'a MessageReader,
    registry: &'a Registry,
    /// What the general walk would have charged so far (`charge`d at the end).
    owed: u64,
    /// The budget left when the print began: owing more declines at once (the general walk
    /// would fail there), so a message claiming more than it holds (lists of zero-sized
    /// elements, which the walk charges a word each) is never printed past its limit.
    left: u64,
    /// Struct schemas of list elements and enum schemas, looked up once per print.
    structs: Vec<Arc<StructSchema>>,
    enums: Vec<Arc<EnumSchema>>,
}

impl<'a> Located<'a> {
    pub(super) fn new(message: &'a MessageReader, registry: &'a Registry) -> Self {
        Located {
            message,
            registry,
            owed: 0,
            left: message.budget_left(),
            structs: Vec::new(),
            enums: Vec::new(),
        }
    }

    /// Charges what the walk owes; `None` when the limit is exceeded (the general walk then
    /// fails where it runs out).
    pub(super) fn settle(&self) -> Option<()> {
        self.message.charge(self.owed).ok()
    }

    /// Adds `words` to what the walk owes; `None` (decline) once that exceeds the budget
    /// left at the start.
    fn owe(&mut self, words: u64) -> Option<()> {
        self.owed = self.owed.saturating_add(words);
        (self.owed <= self.left).then_some(())
    }

    /// A blob of `len` bytes, charged as `charge_blob` charges it.
    fn owe_blob(&mut self, len: usize, text: bool) -> Option<()> {
        self.owe((len as u64 + u64::from(text)).div_ceil(8))
    }

    fn struct_schema(&mut self, id: u64) -> Option<Arc<StructSchema>> {
        if let Some(s) = self.structs.iter().find(|s| s.id == id) {
            return Some(s.clone());
        }
        let s = self.registry.get_struct(id).ok()?;
        self.structs.push(s.clone());
        Some(s)
    }

    /// The encoding of a list of `elem`, as `list_shape` finds it.
    fn list_shape(&mut self, elem: &Type) -> Option<Shape> {
        match elem {
            Type::Struct(id) => Some(Shape::StructList(self.struct_schema(*id)?.size())),
            _ => list_shape(elem, self.registry).ok(),
        }
    }

    /// Enumerant `n` of enum `id` as `scalar` prints it.
    fn enumerant(&mut self, out: &mut Vec<u8>, id: u64, n: u16) -> Option<()> {
        let schema = match self.enums.iter().find(|e| e.id == id) {
            Some(e) => e,
            None => {
                let e = self.registry.get_enum(id).ok()?;
                self.enums.push(e);
                self.enums.last()?
            }
        };
        match schema.enumerants.get(usize::from(n)) {
            Some(name) => out.extend_from_slice(name.as_bytes()),
            None => {
                out.push(b'(');
                push_u64(out, u64::from(n));
                out.push(b')');
            }
        }
        Some(())
    }

    /// A data-section value of type `ty` from its raw bits (a struct slot already XORed
    /// with its default, or a list element).
    fn data(&mut self, out: &mut Vec<u8>, ty: &Type, bits: u64) -> Option<()> {
        match ty {
            Type::Enum(id) => self.enumerant(out, *id, bits as u16),
            _ if integer(out, ty, bits) => Some(()),
            _ => scalar_number(out, &decode_data(ty, bits), ty),
        }
    }
}

/// An integer of type `ty` straight from its raw bits, as `decode_data` reads it and `scalar`
/// prints it; `false` (nothing written) for any other type.
fn integer(out: &mut Vec<u8>, ty: &Type, bits: u64) -> bool {
    let signed = match ty {
        Type::Int8 => i64::from(bits as u8 as i8),
        Type::Int16 => i64::from(bits as u16 as i16),
        Type::Int32 => i64::from(bits as u32 as i32),
        Type::Int64 => bits as i64,
        Type::UInt8 => {
            push_u64(out, bits & 0xff);
            return true;
        }
        Type::UInt16 => {
            push_u64(out, bits & 0xffff);
            return true;
        }
        Type::UInt32 => {
            push_u64(out, bits & 0xffff_ffff);
            return true;
        }
        Type::UInt64 => {
            push_u64(out, bits);
            return true;
        }
        _ => return false,
    };
    if signed < 0 {
        out.push(b'-');
    }
    push_u64(out, signed.unsigned_abs());
    true
}

impl Printer {
    /// Writes the struct at `at` as `struct_` writes its reader; `None`: declined.
    pub(super) fn located_struct(
        &mut self,
        loc: &mut Located<'_>,
        at: StructAt,
        schema: &StructSchema,
        level: u32,
        place: Place,
        depth: u32,
    ) -> Option<bool> {
        let depth = check_depth(depth).ok()?;
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
            let message = loc.message;
            let seg = message.segment(at.segment())?;
            let child = self.next(level);
            let mut items = self.open(b'(', level, place, true);

            // As `struct_items`: the active member, unless it is member 0 left null.
            let mut union_member: Option<usize> = None;
            if let Some(union) = &schema.union {
                let d = at.bits(seg, 16, union.discriminant_offset) as u16;
                if let Some(Some(i)) = union.members.get(usize::from(d)).copied() {
                    if d != 0 || has(at, seg, schema, i)? {
                        union_member = Some(i);
                    }
                }
            }
            for &i in &schema.non_union_fields {
                if let Some(u) = union_member.filter(|u| *u < i) {
                    union_member = None;
                    let start = self.begin(&items);
                    let breaks = self.located_field(loc, at, seg, schema, u, child, depth)?;
                    self.end(&mut items, start, breaks);
                }
                if has(at, seg, schema, i)? {
                    let start = self.begin(&items);
                    let breaks = self.located_field(loc, at, seg, schema, i, child, depth)?;
                    self.end(&mut items, start, breaks);
                }
            }
            if let Some(u) = union_member {
                let start = self.begin(&items);
                let breaks = self.located_field(loc, at, seg, schema, u, child, depth)?;
                self.end(&mut items, start, breaks);
            }
            Some(self.close(items, b')'))
        })
    }

    /// `name = value` for field `index` of the struct at `at` (in `seg`), as `field`.
    #[allow(clippy::too_many_arguments)]
    fn located_field(
        &mut self,
        loc: &mut Located<'_>,
        at: StructAt,
        seg: &[u8],
        schema: &StructSchema,
        index: usize,
        level: u32,
        depth: u32,
    ) -> Option<bool> {
        let field = schema.fields.get(index)?;
        self.out.extend_from_slice(field.name.as_bytes());
        self.out.extend_from_slice(b" = ");
        let (offset, ty, default) = match &field.kind {
            FieldKind::Group { id } => {
                let group = field.target_struct(loc.registry, *id).ok()?;
                return self.located_struct(loc, at, &group, level, Place::Field, depth);
            }
            FieldKind::Slot {
                offset,
                ty,
                default,
                ..
            } => (*offset, ty, default),
        };
        match ty {
            Type::Void => self.out.extend_from_slice(b"void"),
            Type::Text | Type::Data => {
                let text = *ty == Type::Text;
                let message = loc.message;
                let bytes = at.blob(seg, u16::try_from(offset).ok()?, text, |id| {
                    message.segment(id)
                })?;
                loc.owe_blob(bytes.len(), text)?;
                quoted(&mut self.out, bytes, !text);
            }
            Type::Struct(id) => {
                let message = loc.message;
                let child =
                    at.child_struct(seg, u16::try_from(offset).ok()?, |id| message.segment(id))?;
                let schema = field.target_struct(loc.registry, *id).ok()?;
                loc.owe(shape_words(Shape::Struct(schema.size()), 0))?;
                return self.located_struct(loc, child, &schema, level, Place::Field, depth);
            }
            Type::List(elem) => {
                let shape = loc.list_shape(elem)?;
                let message = loc.message;
                let child = at.child_list(
                    seg,
                    u16::try_from(offset).ok()?,
                    expected_size(shape)?,
                    |id| message.segment(id),
                )?;
                loc.owe(shape_words(shape, child.len()))?;
                return self.located_list(loc, child, elem, level, Place::Field, depth);
            }
            Type::Interface(_) | Type::AnyPointer => return None,
            _ => {
                let bits = at.bits(seg, ty.data_bits(), offset) ^ mask(default);
                loc.data(&mut self.out, ty, bits)?;
            }
        }
        Some(false)
    }

    /// Writes the list at `at` (of `elem`) as `list` writes its reader; `None`: declined.
    pub(super) fn located_list(
        &mut self,
        loc: &mut Located<'_>,
        at: ListAt,
        elem: &Type,
        level: u32,
        place: Place,
        depth: u32,
    ) -> Option<bool> {
        let depth = check_depth(depth).ok()?;
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || {
            let message = loc.message;
            // As `ListReader::fast`: an empty list may name no segment.
            let seg = message.segment(at.segment()).unwrap_or_default();
            let child = self.next(level);
            let mut items = self.open(b'[', level, place, false);
            match elem {
                Type::Struct(id) => {
                    let schema = loc.struct_schema(*id)?;
                    for i in 0..at.len() {
                        let s = at.struct_at(i)?;
                        let start = self.begin(&items);
                        let breaks =
                            self.located_struct(loc, s, &schema, child, Place::Bracketed, depth)?;
                        self.end(&mut items, start, breaks);
                    }
                }
                Type::Text | Type::Data => {
                    let text = *elem == Type::Text;
                    for i in 0..at.len() {
                        let bytes = at.blob(seg, i, text)?;
                        loc.owe_blob(bytes.len(), text)?;
                        let start = self.begin(&items);
                        quoted(&mut self.out, bytes, !text);
                        self.end(&mut items, start, false);
                    }
                }
                Type::List(inner) => {
                    let shape = loc.list_shape(inner)?;
                    let size = expected_size(shape)?;
                    for i in 0..at.len() {
                        let c = at.child_list(seg, i, size)?;
                        loc.owe(shape_words(shape, c.len()))?;
                        let start = self.begin(&items);
                        let breaks =
                            self.located_list(loc, c, inner, child, Place::Bracketed, depth)?;
                        self.end(&mut items, start, breaks);
                    }
                }
                Type::Void | Type::Interface(_) | Type::AnyPointer => return None,
                _ => {
                    let bits = elem.data_bits();
                    for i in 0..at.len() {
                        let raw = at.bits(seg, bits, i)?;
                        let start = self.begin(&items);
                        loc.data(&mut self.out, elem, raw)?;
                        self.end(&mut items, start, false);
                    }
                }
            }
            Some(self.close(items, b']'))
        })
    }
}

/// `has_by_index` on a located struct: a union member only while active, a pointer only when
/// not null, anything else always; `None` when the pointer word cannot be read.
fn has(at: StructAt, seg: &[u8], schema: &StructSchema, index: usize) -> Option<bool> {
    let field = schema.fields.get(index)?;
    if let Some(d) = field.discriminant {
        let offset = schema.union.as_ref().map_or(0, |u| u.discriminant_offset);
        if at.bits(seg, 16, offset) != u64::from(d) {
            return Some(false);
        }
    }
    match &field.kind {
        FieldKind::Slot { offset, ty, .. } if ty.is_pointer() => {
            Some(at.pointer(seg, u16::try_from(*offset).ok()?)? != 0)
        }
        _ => Some(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Registry;

    /// Integers printed from their bits are what the general walk prints of `decode_data`.
    #[test]
    fn integers_print_as_the_walk_prints_them() {
        let registry = Registry::new();
        let types = [
            Type::Int8,
            Type::Int16,
            Type::Int32,
            Type::Int64,
            Type::UInt8,
            Type::UInt16,
            Type::UInt32,
            Type::UInt64,
        ];
        let patterns = [
            0u64,
            1,
            0x7f,
            0x80,
            0xff,
            0x7fff,
            0x8000,
            0xffff,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            i64::MAX as u64,
            1 << 63,
            u64::MAX,
            0x1234_5678_9abc_def0,
        ];
        for ty in &types {
            for &bits in &patterns {
                let mut fast = Vec::new();
                assert!(integer(&mut fast, ty, bits));
                let mut walked = Vec::new();
                super::super::scalar(&mut walked, &decode_data(ty, bits), ty, &registry)
                    .expect("scalar");
                assert_eq!(fast, walked, "{ty:?} {bits:#x}");
            }
        }
        assert!(!integer(&mut Vec::new(), &Type::Float64, 0));
    }
}
