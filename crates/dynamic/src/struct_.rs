//! Struct reader and builder handles: field get/set/has/init, unions and groups.

use std::sync::Arc;

use capnp::private::layout::{ElementSize, PointerBuilder, PointerReader, StructSize};
use capnp::MessageSize;

use crate::any_pointer::{AnyPointerBuilder, AnyPointerReader};
use crate::arena::{DataAt, ElemsAt, Held, SrcStruct, StructCache};
use crate::coords::StructAt;
use crate::copy::{copy_default, Snapshot};
use crate::error::{Error, Result};
use crate::list::lent::{ListBase, OwnPair, SchemaRef};
use crate::list::{ListBuilder, ListReader};
use crate::message::{
    builder_reader_loc, follow_builder, follow_fresh_struct_list, follow_reader, lock_pair,
    push_step, shape_words, walk_reader, with_builder_loc_locked, BLoc, Backing, BuilderBase, Hop,
    MessageBuilder, RLoc, ReaderBase, Shape, Step, StructBase,
};
use crate::orphan::Orphan;
use crate::raw::RawListReader;
use crate::schema::{same_registry, DefaultValue, Field, FieldKind, Registry, StructSchema, Type};
use crate::value::{
    check_blob_size, check_list_size, decode_data, encode_data, list_shape, number_bits,
    read_struct_bits, write_struct_bits, AnyPointerValue, ListValue, Number, SetValue, StructValue,
    Value,
};

/// Groups nest at most this deep when cleared (a hostile schema could make a group its own member).
const MAX_GROUP_DEPTH: u32 = 64;

fn default_words(default: &DefaultValue) -> Option<Arc<Vec<capnp::Word>>> {
    match default {
        DefaultValue::Pointer(w) => Some(w.clone()),
        _ => None,
    }
}

/// How a list of `shape` is encoded when written by a current schema (what the resolved
/// location fast path accepts).
pub(crate) fn expected_size(shape: Shape) -> Option<capnp::private::layout::ElementSize> {
    use capnp::private::layout::ElementSize;
    match shape {
        Shape::PrimList(es) => Some(es),
        Shape::PtrList => Some(ElementSize::Pointer),
        Shape::StructList(_) => Some(ElementSize::InlineComposite),
        Shape::Struct(_) => None,
    }
}

pub(crate) fn mask(default: &DefaultValue) -> u64 {
    match default {
        DefaultValue::Bits(b) => *b,
        _ => 0,
    }
}

/// The kind of a primitive field [`PrimSlot`] reads: Bool, a number or an enum (read as its
/// raw value, which the binding turns into its own object).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PrimKind {
    Bool = 1,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    /// An enum's raw value (16 bits).
    Enum,
}

impl PrimKind {
    /// The kind whose `as u8` is `code`.
    #[inline(always)]
    fn from_code(code: u8) -> Option<PrimKind> {
        Some(match code {
            1 => PrimKind::Bool,
            2 => PrimKind::Int8,
            3 => PrimKind::Int16,
            4 => PrimKind::Int32,
            5 => PrimKind::Int64,
            6 => PrimKind::UInt8,
            7 => PrimKind::UInt16,
            8 => PrimKind::UInt32,
            9 => PrimKind::UInt64,
            10 => PrimKind::Float32,
            11 => PrimKind::Float64,
            12 => PrimKind::Enum,
            _ => return None,
        })
    }

    pub(crate) fn of(ty: &Type) -> Option<PrimKind> {
        Some(match ty {
            Type::Bool => PrimKind::Bool,
            Type::Int8 => PrimKind::Int8,
            Type::Int16 => PrimKind::Int16,
            Type::Int32 => PrimKind::Int32,
            Type::Int64 => PrimKind::Int64,
            Type::UInt8 => PrimKind::UInt8,
            Type::UInt16 => PrimKind::UInt16,
            Type::UInt32 => PrimKind::UInt32,
            Type::UInt64 => PrimKind::UInt64,
            Type::Float32 => PrimKind::Float32,
            Type::Float64 => PrimKind::Float64,
            Type::Enum(_) => PrimKind::Enum,
            _ => return None,
        })
    }

    /// The value of a slot's bits (its default already XORed in): the one decoding of Bool,
    /// numbers and enums, which `decode_data` uses too.
    #[inline(always)]
    pub(crate) fn decode(self, bits: u64) -> Prim {
        match self {
            PrimKind::Bool => Prim::Bool(bits & 1 != 0),
            PrimKind::Int8 => Prim::Int(i64::from(bits as u8 as i8)),
            PrimKind::Int16 => Prim::Int(i64::from(bits as u16 as i16)),
            PrimKind::Int32 => Prim::Int(i64::from(bits as u32 as i32)),
            PrimKind::Int64 => Prim::Int(bits as i64),
            PrimKind::UInt8 => Prim::UInt(bits & 0xff),
            PrimKind::UInt16 => Prim::UInt(bits & 0xffff),
            PrimKind::UInt32 => Prim::UInt(bits & 0xffff_ffff),
            PrimKind::UInt64 => Prim::UInt(bits),
            PrimKind::Float32 => Prim::Float(f64::from(f32::from_bits(bits as u32))),
            PrimKind::Float64 => Prim::Float(f64::from_bits(bits)),
            PrimKind::Enum => Prim::Enum(bits as u16),
        }
    }

    /// The width of the kind's slot, in bits (as `Type::data_bits`): a table indexed by the
    /// kind's code (one load where a `match` made a jump table).
    #[inline(always)]
    fn bits(self) -> u32 {
        // Bool, Int8..Int64, UInt8..UInt64, Float32, Float64, Enum (codes 1 to 12).
        const BITS: [u8; 13] = [0, 1, 8, 16, 32, 64, 8, 16, 32, 64, 32, 64, 16];
        u32::from(BITS[self as usize])
    }
}

/// Where a primitive field lies and how to decode it: what `primitive_fast` looks up in the
/// schema on each read, decided once. Only for fields outside unions (no discriminant to
/// check), Bool, numbers and enums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrimSlot {
    kind: PrimKind,
    /// In units of the kind's width.
    offset: u32,
    /// The default's bits, XORed into the stored ones.
    mask: u64,
}

/// A primitive value read through a [`PrimSlot`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Prim {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// An enum's raw value.
    Enum(u16),
}

impl From<Prim> for Value {
    /// The `Value` `get_by_index` reads for the same field.
    fn from(p: Prim) -> Value {
        match p {
            Prim::Bool(b) => Value::Bool(b),
            Prim::Int(v) => Value::Int(v),
            Prim::UInt(v) => Value::UInt(v),
            Prim::Float(v) => Value::Float(v),
            Prim::Enum(v) => Value::Enum(v),
        }
    }
}

impl PrimSlot {
    /// Field `index` of `schema` as a slot, when it is a Bool, number or enum field outside
    /// any union.
    pub fn of(schema: &StructSchema, index: usize) -> Option<PrimSlot> {
        let field = schema.fields.get(index)?;
        if field.discriminant.is_some() {
            return None;
        }
        let FieldKind::Slot {
            offset,
            ty,
            default,
            ..
        } = &field.kind
        else {
            return None;
        };
        Some(PrimSlot {
            kind: PrimKind::of(ty)?,
            offset: *offset,
            mask: mask(default),
        })
    }

    /// The slot as two words (for a cache of plain integers); `unpack` turns them back.
    /// The first is never 0.
    pub fn pack(self) -> (u64, u64) {
        ((u64::from(self.offset) << 8) | self.kind as u64, self.mask)
    }

    /// A slot from `pack`'s words; `None` for anything `pack` does not make (0 included).
    #[inline(always)]
    pub fn unpack(word: u64, mask: u64) -> Option<PrimSlot> {
        Some(PrimSlot {
            kind: PrimKind::from_code(word as u8)?,
            // `pack` shifts a `u32` by 8: the rest fits.
            offset: (word >> 8) as u32,
            mask,
        })
    }

    /// The slot's bits in the struct at `at` of segment `seg` (default XORed in).
    #[inline(always)]
    fn bits_at(self, at: StructAt, seg: &[u8]) -> u64 {
        at.bits(seg, self.kind.bits(), self.offset) ^ self.mask
    }

    /// The slot's bits in a struct's data section `data` (default XORed in): what
    /// `bits_at` reads with the struct's location and segment when `data` is its data section
    /// there ([`StructAt::data_section`]): 0 for a slot past its end. One load of the word
    /// holding the slot, shifted and masked, whatever the width (a slot is aligned to its
    /// width, so it never crosses a word).
    #[inline(always)]
    pub(crate) fn bits_in(self, data: &[u8]) -> u64 {
        let bits = self.kind.bits();
        let bit = self.offset as usize * bits as usize;
        let word = (bit / 64) * 8;
        let raw = match data.get(word..word + 8).and_then(|w| w.try_into().ok()) {
            Some(w) => u64::from_le_bytes(w) >> (bit % 64),
            None => bits_in_short(data, bit, bits),
        };
        (raw & (u64::MAX >> (64 - bits))) ^ self.mask
    }

    /// Whether the slot is a Bool's.
    #[inline(always)]
    pub fn is_bool(self) -> bool {
        matches!(self.kind, PrimKind::Bool)
    }

    /// The value of the slot's bits as `prim_bits_located` and `prim_bits_excluded` return
    /// them (the default XORed in already). Two fields' bits are equal exactly when their
    /// values are (the same slot: one kind, one width).
    #[inline(always)]
    pub fn value(self, bits: u64) -> Prim {
        self.kind.decode(bits)
    }
}

/// [`PrimSlot::bits_in`]'s read of the `bits`-wide slot at bit `bit` when the word holding
/// it is not all in `data`: 0 past its end, else its bytes (a data section shorter than a
/// word: a list of small values read as structs), shifted to bit 0 (not masked).
#[cold]
fn bits_in_short(data: &[u8], bit: usize, bits: u32) -> u64 {
    let byte = bit / 8;
    let width = bits.div_ceil(8) as usize;
    match data.get(byte..byte + width) {
        Some(bytes) => {
            bytes
                .iter()
                .rev()
                .fold(0, |acc, b| (acc << 8) | u64::from(*b))
                >> (bit % 8)
        }
        None => 0,
    }
}

/// A read-only view of one struct (or group) in a message.
#[derive(Clone)]
pub struct StructReader {
    /// The message, registry and path, shared with the list or parent it came from, and
    /// the schema.
    shared: StructBase<ReaderBase>,
    /// A last hop not yet appended to the base's path: element handles of a located struct
    /// list share the list's base (no allocation per element); `path()` appends it when a
    /// walk or a child needs the whole path.
    pending: Option<Step>,
    is_root: bool,
    /// Where the struct is in the reader's bytes (reader-backed handles only).
    at: Option<StructAt>,
}

impl std::fmt::Debug for StructReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} reader>", self.shared.schema().display_name)
    }
}

impl StructReader {
    pub(crate) fn new(
        backing: Backing,
        steps: crate::message::Path,
        schema: Arc<StructSchema>,
        registry: Arc<Registry>,
        is_root: bool,
    ) -> Self {
        StructReader {
            shared: StructBase::own(ReaderBase::new(backing, registry, steps), schema),
            pending: None,
            is_root,
            at: None,
        }
    }

    /// A located child (a struct list element, a struct field of a located struct): the
    /// parent's base (and for list elements, the list's element schema) plus a pending hop,
    /// so no path is copied until a walk needs it.
    pub(crate) fn element(shared: StructBase<ReaderBase>, hop: Step, at: StructAt) -> Self {
        StructReader {
            shared,
            pending: Some(hop),
            is_root: false,
            at: Some(at),
        }
    }

    /// The whole path from the root to this struct.
    fn path(&self) -> crate::message::Path {
        self.shared.path_with(self.pending.as_ref())
    }

    /// Records the struct's resolved location (only meaningful for reader backings).
    pub(crate) fn at(mut self, at: Option<StructAt>) -> Self {
        if matches!(self.shared.base().backing, Backing::Reader(_)) {
            self.at = at;
        }
        self
    }

    /// The same handle without its resolved location, so every read walks from the root
    /// (tests compare both paths).
    #[doc(hidden)]
    pub fn without_location(&self) -> Self {
        let mut r = self.clone();
        r.at = None;
        r
    }

    /// The segment holding this struct, when its location is resolved.
    /// Segment `id` of a reader's message (the far pointers of the fast paths).
    fn segment(&self, id: u32) -> Option<&[u8]> {
        match &self.shared.base().backing {
            Backing::Reader(m) => m.segment(id),
            Backing::Builder(_) => None,
        }
    }

    /// The struct's resolved location and the message it is in (reader-backed handles).
    pub(crate) fn location(&self) -> Option<(StructAt, &crate::message::MessageReader)> {
        let at = self.at?;
        match &self.shared.base().backing {
            Backing::Reader(m) => Some((at, m)),
            Backing::Builder(_) => None,
        }
    }

    // Always inlined into the attribute slot's primitive read (fat LTO otherwise leaves it
    // out of line: ~45 instructions per read).
    #[inline(always)]
    fn fast(&self) -> Option<(StructAt, &[u8])> {
        let at = self.at?;
        match &self.shared.base().backing {
            Backing::Reader(m) => Some((at, m.segment(at.segment())?)),
            Backing::Builder(_) => None,
        }
    }

    /// Hands the bytes of Text/Data field `index` to `f` straight from the message (no
    /// intermediate copy): through the resolved location when it can, else capnp's walk;
    /// `Ok(None)` when the field is not Text/Data. Checks and charges as `get_by_index`.
    pub fn with_blob<R>(&self, index: usize, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        let field = field_at(self.shared.schema(), index)?;
        let Some((offset, text, default)) = blob_slot(field) else {
            return Ok(None);
        };
        if let Some((at, seg)) = self.fast() {
            check_active(
                self.shared.schema(),
                field,
                at.bits(seg, 16, disc_offset(self.shared.schema())),
            )?;
            if let Some(bytes) = u16::try_from(*offset)
                .ok()
                .and_then(|i| at.blob(seg, i, text, |id| self.segment(id)))
            {
                self.shared.base().backing.charge_blob(bytes.len(), text)?;
                return Ok(Some(f(bytes)));
            }
        }
        self.with_struct(|s| {
            check_active(
                self.shared.schema(),
                field,
                read_struct_bits(s, &Type::UInt16, disc_offset(self.shared.schema())),
            )?;
            let pr = s.get_pointer_field(*offset as usize);
            let dw = default_words(default);
            let d = dw.as_deref().map(|v| &v[..]);
            // A null pointer reads the default, which the reference does not charge.
            let null = pr.is_null();
            let bytes: &[u8] = if text {
                pr.get_text(d)?.as_bytes()
            } else {
                pr.get_data(d)?
            };
            if !null {
                self.shared.base().backing.charge_blob(bytes.len(), text)?;
            }
            Ok(Some(f(bytes)))
        })
    }

    /// Primitive field `slot` ([`PrimSlot::of`]) read through the resolved location, as
    /// [`primitive_fast`](Self::primitive_fast) reads it; `None` when the struct has no
    /// location. The binding keeps the slot beside a field name it met before, so the read
    /// looks at no schema.
    #[inline(always)]
    pub fn prim_located(&self, slot: PrimSlot) -> Option<Prim> {
        self.prim_bits_located(slot).map(|bits| slot.value(bits))
    }

    /// `prim_located`'s bits, before decoding ([`PrimSlot::value`] makes the value): what
    /// a cache of values per field can be keyed by.
    #[inline(always)]
    pub fn prim_bits_located(&self, slot: PrimSlot) -> Option<u64> {
        let (at, seg) = self.fast()?;
        Some(slot.bits_at(at, seg))
    }

    /// The struct's data section, when it has a location in a reader's segments
    /// (`PrimSlot::bits_in` reads a field from it as `prim_bits_located` does).
    #[inline]
    pub fn data_section(&self) -> Option<&[u8]> {
        let (at, seg) = self.fast()?;
        at.data_section(seg)
    }

    /// The length of `data_section`'s answer, when there is one (else any number).
    #[inline(always)]
    pub(crate) fn data_len(&self) -> usize {
        self.at.map_or(0, StructAt::data_len)
    }

    /// A primitive field (Bool, a number, an enum: a data-section slot) read through the
    /// resolved location, as `get_by_index` reads it; `None` when the struct has no location,
    /// the field is a pointer, a group or Void, or it is a union member that is not active
    /// (`get_by_index` then reads it or raises). The hot read of the binding's attribute slot:
    /// no `Result`, no walk, one bounds-checked load.
    #[inline]
    pub fn primitive_fast(&self, index: usize) -> Option<Value> {
        let schema = self.shared.schema();
        let field = schema.fields.get(index)?;
        let FieldKind::Slot {
            offset,
            ty,
            default,
            ..
        } = &field.kind
        else {
            return None;
        };
        let bits = ty.data_bits();
        if bits == 0 {
            return None;
        }
        let (at, seg) = self.fast()?;
        if field.discriminant.is_some()
            && check_active(schema, field, at.bits(seg, 16, disc_offset(schema))).is_err()
        {
            return None;
        }
        Some(decode_data(ty, at.bits(seg, bits, *offset) ^ mask(default)))
    }

    /// List field `index` through the resolved location, as `get_by_index` reads it (the
    /// same handle, checks and charge) without a `Value`; `Ok(None)` when the field is not a
    /// list or `get_by_index` must read it (no location, a far or null pointer, another
    /// encoding). Raises as `get_by_index` for an inactive union member.
    pub fn list_fast(&self, index: usize) -> Result<Option<ListReader>> {
        self.list_fast_with(index, Self::list_base)
    }

    /// `list_fast` with the list handle's base made by `base` (`list_base`, or one lent:
    /// `list/lent.rs`).
    #[inline(always)]
    pub(crate) fn list_fast_with(
        &self,
        index: usize,
        base: impl FnOnce(&Self) -> ListBase<ReaderBase>,
    ) -> Result<Option<ListReader>> {
        let Some((field, offset, elem, default)) = list_slot(self.shared.schema(), index)? else {
            return Ok(None);
        };
        let Some((at, seg)) = self.active_located(field)? else {
            return Ok(None);
        };
        self.located_list(at, seg, field, offset, elem, default, base)
    }

    /// The base of a list handle read from this struct: its children's (`extended`), counted.
    pub(crate) fn list_base(&self) -> ListBase<ReaderBase> {
        ListBase::Own(self.shared.extended(self.pending.as_ref()))
    }

    /// This struct's own base when its children's base is that one (as
    /// `StructBuilder::lendable_base`).
    pub(crate) fn lendable_base(&self) -> Option<&Arc<ReaderBase>> {
        (self.pending.is_none() && self.shared.hop().is_none()).then(|| self.shared.base())
    }

    /// This struct's location and segment when it has one, after the check that `field` is
    /// not an inactive union member (which raises as `get_by_index` raises).
    #[inline(always)]
    fn active_located(&self, field: &Field) -> Result<Option<(StructAt, &[u8])>> {
        let Some((at, seg)) = self.fast() else {
            return Ok(None);
        };
        check_active(
            self.shared.schema(),
            field,
            at.bits(seg, 16, disc_offset(self.shared.schema())),
        )?;
        Ok(Some((at, seg)))
    }

    /// Struct field `index` through the resolved location, as `get_by_index` reads it (the
    /// same handle, checks and charge) without a `Value`; `Ok(None)` when the field is not a
    /// struct slot or `get_by_index` must read it (no location, a null pointer, more than one
    /// far hop). Raises as `get_by_index` for an inactive union member.
    pub fn struct_fast(&self, index: usize) -> Result<Option<StructReader>> {
        self.struct_fast_with(index, Self::child_pair)
    }

    /// `struct_fast` with the child's base and schema paired by `pair` (`child_pair`, or with
    /// the base lent: `list/lent.rs`).
    #[inline(always)]
    pub(crate) fn struct_fast_with(
        &self,
        index: usize,
        pair: impl FnOnce(&Self, SchemaRef<'_>) -> StructBase<ReaderBase>,
    ) -> Result<Option<StructReader>> {
        let field = field_at(self.shared.schema(), index)?;
        let FieldKind::Slot {
            offset,
            ty: Type::Struct(id),
            default,
            ..
        } = &field.kind
        else {
            return Ok(None);
        };
        let Some((at, seg)) = self.active_located(field)? else {
            return Ok(None);
        };
        self.located_struct(at, seg, field, *offset, *id, default, pair)
    }

    /// The base and schema of a child struct handle: its children's base (`extended`),
    /// counted, with `schema` (uncounted when it is the registry's own: `OwnPair`).
    pub(crate) fn child_pair(&self, schema: SchemaRef<'_>) -> StructBase<ReaderBase> {
        StructBase::Own(OwnPair::with_ref(
            self.shared.extended(self.pending.as_ref()),
            schema,
        ))
    }

    /// The struct in pointer slot `offset` of this located struct (`at` in `seg`), of
    /// schema `id`, found in place and charged; `Ok(None)` when capnp's walk must read it.
    #[inline(always)]
    fn located_struct(
        &self,
        at: StructAt,
        seg: &[u8],
        field: &Field,
        offset: u32,
        id: u64,
        default: &DefaultValue,
        pair: impl FnOnce(&Self, SchemaRef<'_>) -> StructBase<ReaderBase>,
    ) -> Result<Option<StructReader>> {
        let Some(child) = u16::try_from(offset)
            .ok()
            .and_then(|i| at.child_struct(seg, i, |id| self.segment(id)))
        else {
            return Ok(None);
        };
        let schema = field.target_ref(&self.shared.base().registry, id)?;
        let shape = Shape::Struct(schema.get().size());
        self.shared.base().backing.charge(shape_words(shape, 0))?;
        let step = Step {
            hop: Hop::Field(offset as u16),
            shape,
            default: default_words(default),
        };
        Ok(Some(StructReader::element(pair(self, schema), step, child)))
    }

    /// The list in pointer slot `offset` of this located struct (`at` in `seg`), found in
    /// place and charged; `Ok(None)` when capnp's walk must read it.
    #[inline(always)]
    fn located_list(
        &self,
        at: StructAt,
        seg: &[u8],
        field: &Field,
        offset: u32,
        elem: &Type,
        default: &DefaultValue,
        list_base: impl FnOnce(&Self) -> ListBase<ReaderBase>,
    ) -> Result<Option<ListReader>> {
        let registry = &self.shared.base().registry;
        // A struct list's element schema, kept on the field after the first read.
        let elem_schema = match elem {
            Type::Struct(id) => Some(field.target_struct(registry, *id)?),
            _ => None,
        };
        let shape = match &elem_schema {
            Some(schema) => Shape::StructList(schema.size()),
            None => list_shape(elem, registry)?,
        };
        let Some(child) = u16::try_from(offset)
            .ok()
            .and_then(|i| at.child_list(seg, i, expected_size(shape)?, |id| self.segment(id)))
        else {
            return Ok(None);
        };
        self.shared
            .base()
            .backing
            .charge(shape_words(shape, child.len()))?;
        let step = Step {
            hop: Hop::Field(offset as u16),
            shape,
            default: default_words(default),
        };
        let base = list_base(self);
        let list = match elem_schema {
            Some(schema) => ListReader::child_of_structs(base, step, elem.clone(), schema),
            None => ListReader::child(base, step, elem.clone()),
        };
        Ok(Some(list.at(Some(child))))
    }

    /// Group field `index` as `get_by_index` reads it, through the resolved location without
    /// a `Value`; `Ok(None)` when the field is not a group or `get_by_index` must read it.
    /// Raises as `get_by_index` for an inactive union member.
    pub fn group_fast(&self, index: usize) -> Result<Option<StructReader>> {
        self.group_fast_with(index, StructBase::with_schema)
    }

    /// `group_fast` with the group's base and schema made by `pair` from this struct's
    /// (`StructBase::with_schema`, or with the base lent: `list/lent.rs`).
    #[inline(always)]
    pub(crate) fn group_fast_with(
        &self,
        index: usize,
        pair: impl FnOnce(&StructBase<ReaderBase>, SchemaRef<'_>) -> StructBase<ReaderBase>,
    ) -> Result<Option<StructReader>> {
        let field = field_at(self.shared.schema(), index)?;
        let FieldKind::Group { id } = &field.kind else {
            return Ok(None);
        };
        if self.active_located(field)?.is_none() {
            return Ok(None);
        }
        let schema = field.target_ref(&self.shared.base().registry, *id)?;
        Ok(Some(self.group_on(pair(&self.shared, schema))))
    }

    /// `get_by_index` through the resolved location; `None` when it needs capnp's walk.
    fn fast_get(&self, field: &Field) -> Result<Option<Value>> {
        let Some((at, seg)) = self.active_located(field)? else {
            return Ok(None);
        };
        Ok(match &field.kind {
            FieldKind::Group { id } => Some(Value::Struct(StructValue::Reader(
                self.group_of(field.target_ref(&self.shared.base().registry, *id)?),
            ))),
            FieldKind::Slot {
                offset,
                ty,
                default,
                ..
            } if !ty.is_pointer() => Some(decode_data(
                ty,
                at.bits(seg, ty.data_bits(), *offset) ^ mask(default),
            )),
            FieldKind::Slot { offset, ty, .. } if matches!(ty, Type::Text | Type::Data) => {
                let text = *ty == Type::Text;
                let Ok(index) = u16::try_from(*offset) else {
                    return Ok(None);
                };
                match at.blob(seg, index, text, |id| self.segment(id)) {
                    Some(bytes) => {
                        self.shared.base().backing.charge_blob(bytes.len(), text)?;
                        let bytes = bytes.to_vec();
                        Some(if text {
                            Value::Text(bytes)
                        } else {
                            Value::Data(bytes)
                        })
                    }
                    None => None,
                }
            }
            FieldKind::Slot {
                offset,
                ty: Type::Struct(id),
                default,
                ..
            } => self
                .located_struct(at, seg, field, *offset, *id, default, Self::child_pair)?
                .map(|r| Value::Struct(StructValue::Reader(r))),
            FieldKind::Slot {
                offset,
                ty: Type::List(elem),
                default,
                ..
            } => self
                .located_list(at, seg, field, *offset, elem, default, Self::list_base)?
                .map(|l| Value::List(ListValue::Reader(l))),
            _ => None,
        })
    }

    pub fn schema(&self) -> &Arc<StructSchema> {
        self.shared.schema()
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.shared.base().registry
    }

    pub fn is_root(&self) -> bool {
        self.is_root
    }

    /// Whether another handle (or list) shares this handle's base, so dropping this one does
    /// not drop the message (`StructBase::shared`; read unsynchronized, see there).
    pub fn base_shared(&self) -> bool {
        self.shared.shared()
    }

    pub(crate) fn with_loc<R>(&self, f: impl FnOnce(RLoc<'_>) -> Result<R>) -> Result<R> {
        match (&self.pending, self.shared.hop()) {
            (None, None) => self
                .shared
                .base()
                .backing
                .with_loc(&self.shared.base().steps, f),
            _ => self.shared.base().backing.with_loc(&self.path(), f),
        }
    }

    fn with_struct<R>(
        &self,
        f: impl FnOnce(&capnp::private::layout::StructReader<'_>) -> Result<R>,
    ) -> Result<R> {
        self.with_loc(|loc| match loc {
            RLoc::Struct(s) => f(&s),
            _ => Err(Error::TypeMismatch),
        })
    }

    /// Reads a field by name (API.md 3.2).
    pub fn get(&self, name: &str) -> Result<Value> {
        let i = field_index(self.shared.schema(), name)?;
        self.get_by_index(i)
    }

    /// Reads the field at `index` in the schema's field list.
    pub fn get_by_index(&self, index: usize) -> Result<Value> {
        let field = field_at(self.shared.schema(), index)?;
        if let Some(v) = self.fast_get(field)? {
            return Ok(v);
        }
        self.with_struct(|s| {
            check_active(
                self.shared.schema(),
                field,
                read_struct_bits(s, &Type::UInt16, disc_offset(self.shared.schema())),
            )?;
            match &field.kind {
                FieldKind::Group { id } => Ok(Value::Struct(StructValue::Reader(
                    self.group_of(field.target_ref(&self.shared.base().registry, *id)?),
                ))),
                FieldKind::Slot {
                    offset,
                    ty,
                    default,
                    ..
                } if !ty.is_pointer() => Ok(decode_data(
                    ty,
                    read_struct_bits(s, ty, *offset) ^ mask(default),
                )),
                FieldKind::Slot {
                    offset,
                    ty,
                    default,
                    ..
                } => {
                    let pr = s.get_pointer_field(*offset as usize);
                    let step = |shape| Step {
                        hop: Hop::Field(*offset as u16),
                        shape,
                        default: default_words(default),
                    };
                    read_pointer(
                        pr,
                        ty,
                        default,
                        &self.shared.base().registry,
                        |shape| Ok(push_step(&self.path(), step(shape))),
                        &self.shared.base().backing,
                    )
                }
            }
        })
    }

    /// Whether a field "has" a value (API.md 3.4 `_has`).
    pub fn has(&self, name: &str) -> Result<bool> {
        self.has_by_index(field_index(self.shared.schema(), name)?)
    }

    /// `has` for the field at `index` in the schema's field list.
    pub fn has_by_index(&self, index: usize) -> Result<bool> {
        let field = field_at(self.shared.schema(), index)?;
        if let Some((at, seg)) = self.fast() {
            if let Some(d) = field.discriminant {
                if at.bits(seg, 16, disc_offset(self.shared.schema())) != u64::from(d) {
                    return Ok(false);
                }
            }
            match &field.kind {
                FieldKind::Slot { offset, ty, .. } if ty.is_pointer() => {
                    if let Some(w) = u16::try_from(*offset).ok().and_then(|i| at.pointer(seg, i)) {
                        return Ok(w != 0);
                    }
                }
                _ => return Ok(true),
            }
        }
        self.with_struct(|s| {
            if let Some(d) = field.discriminant {
                if read_struct_bits(s, &Type::UInt16, disc_offset(self.shared.schema()))
                    != u64::from(d)
                {
                    return Ok(false);
                }
            }
            Ok(match &field.kind {
                FieldKind::Slot { offset, ty, .. } if ty.is_pointer() => {
                    !s.get_pointer_field(*offset as usize).is_null()
                }
                _ => true,
            })
        })
    }

    /// The active union member: (discriminant, field name).
    pub fn which(&self) -> Result<(u16, String)> {
        let (d, i) = self.which_field()?;
        Ok((d, field_at(self.shared.schema(), i)?.name.clone()))
    }

    /// The union's discriminant, read through the struct's resolved location; `None` when
    /// there is no union or no location (`which_field` then walks, and reports errors).
    #[inline]
    pub fn discriminant_fast(&self) -> Option<u16> {
        let union = self.shared.schema().union.as_ref()?;
        let (at, seg) = self.fast()?;
        Some(at.bits(seg, 16, union.discriminant_offset) as u16)
    }

    /// The active union member: (discriminant, index in the schema's field list).
    pub fn which_field(&self) -> Result<(u16, usize)> {
        // A `let else`, not `ok_or`: that builds (and drops) the error on every call.
        let Some(union) = self.shared.schema().union.as_ref() else {
            return Err(Error::NotAUnion);
        };
        let d = match self.fast() {
            Some((at, seg)) => at.bits(seg, 16, union.discriminant_offset) as u16,
            None => self.with_struct(|s| {
                Ok(read_struct_bits(s, &Type::UInt16, union.discriminant_offset) as u16)
            })?,
        };
        Ok((d, which_index(self.shared.schema(), d)?))
    }

    /// Size of this struct and everything reachable from it.
    pub fn total_size(&self) -> Result<MessageSize> {
        let size = self
            .shared
            .base()
            .backing
            .with_loc_deep(&self.path(), |loc| match loc {
                RLoc::Struct(s) => Ok(s.total_size()?),
                _ => Err(Error::TypeMismatch),
            })?;
        self.shared.base().backing.charge(size.word_count)?;
        Ok(size)
    }

    pub(crate) fn backing(&self) -> &Backing {
        &self.shared.base().backing
    }

    pub(crate) fn steps(&self) -> crate::message::Path {
        self.path()
    }

    /// Whether this is a message's root with a resolved location (`copy_located_reader`).
    #[inline]
    fn is_located_root(&self) -> bool {
        self.is_root && self.pending.is_none() && self.at.is_some()
    }

    /// Runs `f` on this struct's path from the root without taking a reference to it (a
    /// path is made only when a hop is pending).
    #[inline(always)]
    pub(crate) fn with_steps<R>(&self, f: impl FnOnce(&[Step]) -> R) -> R {
        match (&self.pending, self.shared.hop()) {
            (None, None) => f(&self.shared.base().steps),
            _ => f(&self.path()),
        }
    }

    /// Deep copy into a new message; returns its root builder.
    pub fn as_builder(&self) -> Result<StructBuilder> {
        self.as_builder_with(MessageBuilder::new())
    }

    pub fn as_builder_with(&self, message: MessageBuilder) -> Result<StructBuilder> {
        let snap = Snapshot::of_struct(self)?;
        {
            let mut m = message.lock();
            let root = m.get_root::<crate::raw::RawPtrBuilder<'_>>()?.0;
            snap.copy_into(root, Some(&message))?;
        }
        message.get_root(&self.shared.base().registry, self.shared.schema().id)
    }

    /// The group `schema` of this struct: the same location, another schema.
    fn group_of(&self, schema: SchemaRef<'_>) -> StructReader {
        self.group_on(self.shared.with_schema(schema))
    }

    /// The group handle at this struct's location on `shared` (its base, the group's schema).
    #[inline(always)]
    fn group_on(&self, shared: StructBase<ReaderBase>) -> StructReader {
        StructReader {
            shared,
            pending: self.pending.clone(),
            is_root: false,
            at: self.at,
        }
    }
}

fn field_index(schema: &StructSchema, name: &str) -> Result<usize> {
    schema
        .by_name
        .get(name)
        .copied()
        .ok_or_else(|| Error::NoSuchField {
            name: name.to_string(),
        })
}

/// Field `index` of `schema` when it is a list slot: the field, its pointer offset, element
/// type and default; `Ok(None)` for any other field (an index out of range raises).
fn list_slot(
    schema: &StructSchema,
    index: usize,
) -> Result<Option<(&Field, u32, &Type, &DefaultValue)>> {
    let field = field_at(schema, index)?;
    Ok(match &field.kind {
        FieldKind::Slot {
            offset,
            ty: Type::List(elem),
            default,
            ..
        } => Some((field, *offset, &**elem, default)),
        _ => None,
    })
}

fn field_at(schema: &StructSchema, index: usize) -> Result<&Field> {
    schema.fields.get(index).ok_or_else(|| Error::NoSuchField {
        name: format!("#{index}"),
    })
}

/// A Text (`true`) or Data (`false`) field's pointer slot and default; `None` for any other.
fn blob_slot(field: &Field) -> Option<(&u32, bool, &DefaultValue)> {
    match &field.kind {
        FieldKind::Slot {
            offset,
            ty: Type::Text,
            default,
            ..
        } => Some((offset, true, default)),
        FieldKind::Slot {
            offset,
            ty: Type::Data,
            default,
            ..
        } => Some((offset, false, default)),
        _ => None,
    }
}

fn disc_offset(schema: &StructSchema) -> u32 {
    schema.union.as_ref().map_or(0, |u| u.discriminant_offset)
}

fn check_active(schema: &StructSchema, field: &Field, disc: u64) -> Result<()> {
    match field.discriminant {
        Some(d) if schema.union.is_some() && disc != u64::from(d) => Err(Error::NotInUnion),
        _ => Ok(()),
    }
}

/// The field index of union member `d`.
fn which_index(schema: &StructSchema, d: u16) -> Result<usize> {
    let Some(union) = schema.union.as_ref() else {
        return Err(Error::NotAUnion);
    };
    match union.members.get(usize::from(d)).copied().flatten() {
        Some(index) => Ok(index),
        None => Err(Error::NotAUnion),
    }
}

/// Reads a pointer slot of a reader. `steps` builds the child location for walkable types.
pub(crate) fn read_pointer(
    pr: PointerReader<'_>,
    ty: &Type,
    default: &DefaultValue,
    registry: &Arc<Registry>,
    steps: impl FnOnce(Shape) -> Result<crate::message::Path>,
    backing: &Backing,
) -> Result<Value> {
    let dw = default_words(default);
    let d = dw.as_deref().map(|v| &v[..]);
    // A null pointer reads the default, which the reference does not charge.
    let null = pr.is_null();
    Ok(match ty {
        Type::Text => {
            let bytes = pr.get_text(d)?.as_bytes().to_vec();
            if !null {
                backing.charge_blob(bytes.len(), true)?;
            }
            Value::Text(bytes)
        }
        Type::Data => {
            let bytes = pr.get_data(d)?.to_vec();
            if !null {
                backing.charge_blob(bytes.len(), false)?;
            }
            Value::Data(bytes)
        }
        Type::Interface(_) => {
            Value::Capability(crate::cap::read_cap(pr, backing.caps().as_deref()))
        }
        Type::AnyPointer => {
            let steps = steps(Shape::PtrList)?;
            Value::AnyPointer(AnyPointerValue::Reader(AnyPointerReader::new(
                backing.clone(),
                steps,
                registry.clone(),
            )))
        }
        Type::Struct(id) => {
            let schema = registry.get_struct(*id)?;
            let shape = Shape::Struct(schema.size());
            // Followed now so a malformed pointer fails at access time.
            let loc = follow_reader(pr, shape, d)?;
            if !null {
                backing.charge_loc(&loc, shape)?;
            }
            let at = match (&loc, backing) {
                (RLoc::Struct(s), Backing::Reader(m)) => m.locate(*s, 0),
                _ => None,
            };
            Value::Struct(StructValue::Reader(
                StructReader::new(
                    backing.clone(),
                    steps(shape)?,
                    schema,
                    registry.clone(),
                    false,
                )
                .at(at),
            ))
        }
        Type::List(elem) => {
            let shape = list_shape(elem, registry)?;
            let loc = follow_reader(pr, shape, d)?;
            if !null {
                backing.charge_loc(&loc, shape)?;
            }
            let at = match backing {
                Backing::Reader(m) => m.locate_list(&loc),
                Backing::Builder(_) => None,
            };
            Value::List(ListValue::Reader(
                ListReader::new(
                    backing.clone(),
                    steps(shape)?,
                    (**elem).clone(),
                    registry.clone(),
                )
                .at(at),
            ))
        }
        _ => return Err(Error::TypeMismatch),
    })
}

/// A mutable view of one struct (or group) in a message being built.
#[derive(Clone)]
pub struct StructBuilder {
    /// The message, registry, path and root size, shared with the list or parent it came
    /// from, and the schema.
    shared: StructBase<BuilderBase>,
    /// A last hop not yet appended to the base's path (as `StructReader`'s): children share
    /// their parent's base; walks follow it after the base's path.
    pending: Option<Step>,
    /// Size the walk guarantees for this struct (a group's parent's size).
    storage: StructSize,
    is_root: bool,
    /// Where its data section was last found, and when (arena.rs).
    cache: StructCache,
}

impl std::fmt::Debug for StructBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} builder>", self.shared.schema().display_name)
    }
}

impl StructBuilder {
    pub(crate) fn new(
        message: MessageBuilder,
        steps: crate::message::Path,
        schema: Arc<StructSchema>,
        registry: Arc<Registry>,
        is_root: bool,
    ) -> Self {
        let size = schema.size();
        StructBuilder {
            shared: StructBase::own(BuilderBase::new(message, registry, steps, size), schema),
            pending: None,
            storage: size,
            is_root,
            cache: StructCache::default(),
        }
    }

    /// The root handle on a kept root base (`message::keep_root`), with its schema.
    pub(crate) fn on_root_base(base: Arc<BuilderBase>, schema: Arc<StructSchema>) -> Self {
        StructBuilder {
            storage: schema.size(),
            shared: StructBase::own(base, schema),
            pending: None,
            is_root: true,
            cache: StructCache::default(),
        }
    }

    /// Whether this is a root handle with a base of its own (what `release` may keep).
    #[inline]
    pub fn is_own_root(&self) -> bool {
        self.is_root && matches!(self.shared, StructBase::Own(..))
    }

    /// Drops the handle; a root handle that was its base's last holder keeps the base and its
    /// emptied message as the thread's spare root, for the next `MessageBuilder::new_root` of
    /// its schema (`message::keep_root`).
    pub fn release(self) {
        let StructBuilder {
            shared, is_root, ..
        } = self;
        if let (true, StructBase::Own(pair)) = (is_root, shared) {
            let (base, schema) = pair.into_counted();
            crate::message::keep_root(base, schema);
        }
    }

    /// A handle for a child location inside the same message.
    pub(crate) fn child(
        message: MessageBuilder,
        root_size: StructSize,
        steps: crate::message::Path,
        schema: Arc<StructSchema>,
        registry: Arc<Registry>,
    ) -> Self {
        StructBuilder::element(
            StructBase::own(
                BuilderBase::new(message, registry, steps, root_size),
                schema,
            ),
            None,
        )
    }

    /// A child on its parent's base (a struct field; a struct list's elements share the
    /// list's element schema too), with its last hop kept apart.
    pub(crate) fn element(shared: StructBase<BuilderBase>, hop: Option<Step>) -> Self {
        StructBuilder {
            storage: shared.schema().size(),
            shared,
            pending: hop,
            is_root: false,
            cache: StructCache::default(),
        }
    }

    /// The whole path from the root to this struct.
    fn path(&self) -> crate::message::Path {
        self.shared.path_with(self.pending.as_ref())
    }

    /// The same handle with its data section already located (made under the message lock,
    /// at the message's current generation).
    pub(crate) fn located(mut self, generation: u64, at: Option<DataAt>) -> Self {
        self.cache = StructCache::with(generation, at);
        self
    }

    /// A new message whose root is struct `id` (`new_message`).
    pub fn new_message(registry: &Arc<Registry>, id: u64) -> Result<StructBuilder> {
        MessageBuilder::new().init_root(registry, id)
    }

    pub fn schema(&self) -> &Arc<StructSchema> {
        self.shared.schema()
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.shared.base().registry
    }

    pub fn is_root(&self) -> bool {
        self.is_root
    }

    /// Whether another handle (or list) shares this handle's base, so dropping this one does
    /// not drop the message (`StructBase::shared`; read unsynchronized, see there).
    pub fn base_shared(&self) -> bool {
        self.shared.shared()
    }

    pub fn message(&self) -> &MessageBuilder {
        &self.shared.base().message
    }

    pub(crate) fn with_struct<R>(
        &self,
        f: impl FnOnce(capnp::private::layout::StructBuilder<'_>) -> Result<R>,
    ) -> Result<R> {
        let mut guard = self.shared.base().message.lock_live()?;
        self.with_struct_locked(&mut guard, f)
    }

    /// As `with_struct`, under a lock of this message the caller holds (`lock_pair`).
    fn with_struct_locked<R>(
        &self,
        guard: &mut crate::message::BuilderMessage,
        f: impl FnOnce(capnp::private::layout::StructBuilder<'_>) -> Result<R>,
    ) -> Result<R> {
        // The list's hop of an element (`StructBase::hop`) joins the path first.
        let full;
        let (steps, last): (&[Step], _) = match self.shared.hop() {
            None => (&self.shared.base().steps, self.pending.as_ref()),
            Some(_) => {
                full = self.path();
                (&full, None)
            }
        };
        with_builder_loc_locked(
            guard,
            &self.shared.base().message,
            self.shared.base().root_size,
            steps,
            last,
            None,
            |loc| match loc {
                BLoc::Struct(s) => {
                    // Nothing `f` does to this struct moves it (it writes inside it), so the
                    // location found now stays current until the next lock.
                    self.cache.set(
                        self.shared.base().message.generation(),
                        DataAt::locate(&self.shared.base().message.segments, &s),
                    );
                    f(s)
                }
                _ => Err(Error::TypeMismatch),
            },
        )
    }

    /// A primitive field's raw bits through the recorded location, without a walk; `None`
    /// when there is none (the caller walks).
    fn fast_read(&self, field: &Field, ty: &Type, offset: u32) -> Option<Result<u64>> {
        let held = match self.shared.base().message.lock_fast() {
            Ok(h) => h,
            Err(e) => return Some(Err(e)),
        };
        let at = self.cache.get(&held)?;
        if field.discriminant.is_some() {
            let disc = at.read(&held, 16, disc_offset(self.shared.schema()))?;
            if let Err(e) = check_active(self.shared.schema(), field, disc) {
                return Some(Err(e));
            }
        }
        at.read(&held, ty.data_bits(), offset).map(Ok)
    }

    /// `f` on non-null pointer slot `offset` of this struct through the recorded location,
    /// under the message lock, with the generation that location is current at; `Ok(None)`
    /// when there is no current location, the slot is null or outside the section, or `f`
    /// declines. Raises as `get_by_index` when `field` is an inactive union member.
    fn read_slot<R>(
        &self,
        excluded: Option<&mut crate::Excluded>,
        field: &Field,
        offset: u32,
        f: impl FnOnce(PointerReader<'_>) -> Option<R>,
    ) -> Result<Option<(u64, R)>> {
        // Without the lock under the proof when it is free (`MessageBuilder::held`): `f`
        // reads through capnp's reader and the segment table, and takes no lock of this
        // message.
        let mut held = self.shared.base().message.held(excluded)?;
        let Some(at) = self.cache.get(&held) else {
            return Ok(None);
        };
        if field.discriminant.is_some() {
            let Some(disc) = at.read(&held, 16, disc_offset(self.shared.schema())) else {
                return Ok(None);
            };
            check_active(self.shared.schema(), field, disc)?;
        }
        let generation = held.generation;
        let found = at
            .read_pointer(
                &mut held,
                offset,
                |pr| if pr.is_null() { None } else { f(pr) },
            )
            .flatten();
        Ok(found.map(|r| (generation, r)))
    }

    /// Struct field `field` (pointer slot `offset`, struct `id`) through the recorded
    /// location, when its slot already holds a struct at least as large as the schema's:
    /// capnp's builder would hand that struct out as it is, writing nothing, so it is read
    /// (arena.rs `DataAt::read_pointer`) and its own location recorded at the current
    /// generation. `Ok(None)` otherwise (a null slot, which the walk allocates or copies the
    /// default into; a smaller struct, which it upgrades; anything capnp's reader refuses).
    #[inline(always)]
    fn fast_struct_field(
        &self,
        excluded: Option<&mut crate::Excluded>,
        field: &Field,
        offset: u32,
        id: u64,
        default: &DefaultValue,
        pair: impl FnOnce(&Self, SchemaRef<'_>) -> StructBase<BuilderBase>,
    ) -> Result<Option<StructBuilder>> {
        let base = self.shared.base();
        let schema = field.target_ref(&base.registry, id)?;
        let size = schema.get().size();
        let Some((generation, child_at)) = self.read_slot(excluded, field, offset, |pr| {
            let s = pr.get_struct(None).ok()?;
            DataAt::locate_reader(&base.message.segments, s).filter(|at| at.holds(size))
        })?
        else {
            return Ok(None);
        };
        let step = Step {
            hop: Hop::Field(offset as u16),
            shape: Shape::Struct(size),
            default: default_words(default),
        };
        Ok(Some(
            StructBuilder::element(pair(self, schema), Some(step))
                .located(generation, Some(child_at)),
        ))
    }

    /// The base and schema of a child struct handle (as `StructReader::child_pair`).
    pub(crate) fn child_pair(&self, schema: SchemaRef<'_>) -> StructBase<BuilderBase> {
        StructBase::Own(OwnPair::with_ref(
            self.shared.extended(self.pending.as_ref()),
            schema,
        ))
    }

    /// Struct field `index` as `get_by_index` reads it, through the recorded location without
    /// a `Value` (`fast_struct_field`); `Ok(None)` when the field is not a struct slot or
    /// `get_by_index` must read it. Raises as `get_by_index` for an inactive union member.
    pub fn struct_fast(&self, index: usize) -> Result<Option<StructBuilder>> {
        self.struct_fast_with(None, index, Self::child_pair)
    }

    /// `struct_fast` with the child's base and schema paired by `pair` (`child_pair`, or
    /// with the base lent: `list/lent.rs`).
    #[inline(always)]
    pub(crate) fn struct_fast_with(
        &self,
        excluded: Option<&mut crate::Excluded>,
        index: usize,
        pair: impl FnOnce(&Self, SchemaRef<'_>) -> StructBase<BuilderBase>,
    ) -> Result<Option<StructBuilder>> {
        let field = field_at(self.shared.schema(), index)?;
        let FieldKind::Slot {
            offset,
            ty: Type::Struct(id),
            default,
            ..
        } = &field.kind
        else {
            return Ok(None);
        };
        self.fast_struct_field(excluded, field, *offset, *id, default, pair)
    }

    /// List field `index` as `get_by_index` reads it, through the recorded location without
    /// a `Value` (`fast_list_field`); `Ok(None)` when the field is not a list or
    /// `get_by_index` must read it. Raises as `get_by_index` for an inactive union member.
    pub fn list_fast(&self, index: usize) -> Result<Option<ListBuilder>> {
        self.list_fast_with(None, index, Self::list_base)
    }

    /// `list_fast` with the list handle's base made by `base` (`list_base`, or one lent:
    /// `list/lent.rs`), without the message lock under the proof (`read_slot`).
    #[inline(always)]
    pub(crate) fn list_fast_with(
        &self,
        excluded: Option<&mut crate::Excluded>,
        index: usize,
        base: impl FnOnce(&Self) -> ListBase<BuilderBase>,
    ) -> Result<Option<ListBuilder>> {
        let Some((field, offset, elem, default)) = list_slot(self.shared.schema(), index)? else {
            return Ok(None);
        };
        self.fast_list_field(excluded, field, offset, elem, default, base)
    }

    /// The base of a list handle read from this struct: its children's (`extended`), counted.
    pub(crate) fn list_base(&self) -> ListBase<BuilderBase> {
        ListBase::Own(self.shared.extended(self.pending.as_ref()))
    }

    /// This struct's own base when its children's base is that one (no hop pending, here or
    /// in its list's shared part): what a list handle read from it may borrow instead of
    /// counting (`list/lent.rs`); `None` when the children need a base of their own.
    pub(crate) fn lendable_base(&self) -> Option<&Arc<BuilderBase>> {
        (self.pending.is_none() && self.shared.hop().is_none()).then(|| self.shared.base())
    }

    /// List field `field` (at pointer `offset`, of `elem`s) through the recorded location, when
    /// capnp's builder would hand the list out as it is and the walk is not needed: a non-null
    /// list of Bool or numbers encoded exactly at its element width (capnp's builder neither
    /// copies nor writes such a list; it reads the same elements a `PointerReader` reads). The
    /// handle gets its elements recorded at the generation they were found at. `Ok(None)`
    /// (the walk decides) for a null slot (a default may be copied in), other element types,
    /// other encodings (a struct list read as numbers, an older schema's), no current location.
    fn fast_list_field(
        &self,
        excluded: Option<&mut crate::Excluded>,
        field: &Field,
        offset: u32,
        elem: &Type,
        default: &DefaultValue,
        list_base: impl FnOnce(&Self) -> ListBase<BuilderBase>,
    ) -> Result<Option<ListBuilder>> {
        let base = self.shared.base();
        if let Type::Struct(id) = elem {
            return self
                .fast_struct_list_field(excluded, field, offset, elem, *id, default, list_base);
        }
        let shape = list_shape(elem, &base.registry)?;
        // A list of pointers (Text, Data, lists, ...) stored as one (not as structs): capnp's
        // builder hands it out as it is too.
        let (size, exact) = match shape {
            Shape::PrimList(size) => (size, true),
            Shape::PtrList => (ElementSize::Pointer, false),
            _ => return Ok(None),
        };
        let Some((generation, elems)) = self.read_slot(excluded, field, offset, |pr| {
            let list = pr.get_list(size, None).ok()?;
            ElemsAt::locate(&base.message.segments, RawListReader(list)).filter(|e| {
                if exact {
                    e.is_exactly(size)
                } else {
                    e.size() == ElementSize::Pointer
                }
            })
        })?
        else {
            return Ok(None);
        };
        let step = Step {
            hop: Hop::Field(offset as u16),
            shape,
            default: default_words(default),
        };
        Ok(Some(
            ListBuilder::child(list_base(self), step, elem.clone()).recorded(generation, elems),
        ))
    }

    /// `fast_list_field` of a list of structs `id`: when the slot holds a non-empty struct
    /// list whose elements are at least as large as the schema's (data words and pointer
    /// count), which capnp's builder hands out as it is, writing nothing (it upgrades smaller
    /// elements, and may rewrite an empty list's tag: those, a null slot and anything capnp's
    /// reader refuses walk).
    fn fast_struct_list_field(
        &self,
        excluded: Option<&mut crate::Excluded>,
        field: &Field,
        offset: u32,
        elem: &Type,
        id: u64,
        default: &DefaultValue,
        list_base: impl FnOnce(&Self) -> ListBase<BuilderBase>,
    ) -> Result<Option<ListBuilder>> {
        use capnp::traits::FromPointerReader;
        let base = self.shared.base();
        let registry = &base.registry;
        let schema = field.target_struct(registry, id)?;
        let size = schema.size();
        let Some((generation, elems)) = self.read_slot(excluded, field, offset, |pr| {
            let list =
                capnp::struct_list::Reader::<crate::raw::RawStruct>::get_from_pointer(&pr, None)
                    .ok()?;
            if list.is_empty() {
                return None;
            }
            let first = list.get(0);
            let data_bytes = capnp::raw::get_struct_data_section(first).len();
            let pointers = capnp::raw::get_struct_pointer_section(first).len();
            if data_bytes < usize::from(size.data) * 8 || pointers < u32::from(size.pointers) {
                return None;
            }
            ElemsAt::locate(&base.message.segments, list)?
                .with_struct_data(size.data, Some(data_bytes))
        })?
        else {
            return Ok(None);
        };
        let step = Step {
            hop: Hop::Field(offset as u16),
            shape: Shape::StructList(size),
            default: default_words(default),
        };
        let elem_schema = (!registry.uses_placeholders()).then_some(schema);
        Ok(Some(
            ListBuilder::child_with(list_base(self), step, elem.clone(), elem_schema)
                .recorded(generation, elems),
        ))
    }

    /// Hands the bytes of Text/Data field `index` to `f` straight from the message, through
    /// the recorded location (arena.rs `DataAt::read_pointer`) under the message lock; `Ok(None)`
    /// when this path does not apply and `get_by_index` must read the field: not Text/Data, no
    /// current location, a null pointer with a default (which a builder's read copies in), or
    /// anything capnp's reader refuses (`get_by_index` then raises its builder's error).
    /// Raises as `get_by_index` for an inactive union member.
    pub fn with_blob<R>(&self, index: usize, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>> {
        let field = field_at(self.shared.schema(), index)?;
        let Some((offset, text, default)) = blob_slot(field) else {
            return Ok(None);
        };
        let mut held = self.shared.base().message.lock_fast()?;
        let Some(at) = self.cache.get(&held) else {
            return Ok(None);
        };
        if field.discriminant.is_some() {
            let Some(disc) = at.read(&held, 16, disc_offset(self.shared.schema())) else {
                return Ok(None);
            };
            check_active(self.shared.schema(), field, disc)?;
        }
        let has_default = matches!(default, DefaultValue::Pointer(_));
        let read = at.read_pointer(&mut held, *offset, |pr| {
            if pr.is_null() && has_default {
                return None;
            }
            let bytes: &[u8] = if text {
                pr.get_text(None).ok()?.as_bytes()
            } else {
                pr.get_data(None).ok()?
            };
            Some(f(bytes))
        });
        Ok(read.flatten())
    }

    /// Writes a primitive field (and its union discriminant) through the recorded location;
    /// `false` when there is none (nothing written: the caller walks).
    #[inline]
    fn fast_write(&self, field: &Field, ty: &Type, offset: u32, bits: u64) -> Result<bool> {
        let held = self.shared.base().message.lock_fast()?;
        let Some(at) = self.cache.get(&held) else {
            return Ok(false);
        };
        Ok(self.write_at(
            at,
            field,
            ty,
            offset,
            |width, offset, bits| at.write(&held, width, offset, bits),
            bits,
        ))
    }

    /// `fast_write` for a caller holding [`crate::Excluded`], without the message lock;
    /// `false` (nothing written) also when no location is current or the message is volatile
    /// (Python code may write its memory or run while its lock is held): `fast_write` then
    /// answers.
    #[inline]
    fn fast_write_excluded(
        &self,
        excluded: &crate::Excluded,
        field: &Field,
        ty: &Type,
        offset: u32,
        bits: u64,
    ) -> bool {
        let message = &self.shared.base().message;
        if message.is_volatile() {
            return false;
        }
        let current = message.generation_unlocked();
        let Some(at) = self.cache.get_excluded(excluded, current) else {
            return false;
        };
        self.write_at(
            at,
            field,
            ty,
            offset,
            |width, offset, bits| at.write_excluded(excluded, width, offset, bits),
            bits,
        )
    }

    /// The writes of a primitive field (`bits` at `offset`) and its union discriminant into
    /// the data section at `at`, through `write(width, offset, bits)`; `false`, nothing
    /// written, when either lies outside the section.
    #[inline(always)]
    fn write_at(
        &self,
        at: crate::arena::DataAt,
        field: &Field,
        ty: &Type,
        offset: u32,
        write: impl Fn(u32, u32, u64) -> bool,
        bits: u64,
    ) -> bool {
        let disc = match (field.discriminant, self.shared.schema().union.as_ref()) {
            (Some(d), Some(u)) => Some((u.discriminant_offset, d)),
            _ => None,
        };
        // Void has no bits: only its discriminant is written.
        let width = ty.data_bits();
        if (width > 0 && !at.fits(width, offset)) || disc.is_some_and(|(o, _)| !at.fits(16, o)) {
            return false;
        }
        if let Some((o, d)) = disc {
            write(16, o, u64::from(d));
        }
        width == 0 || write(width, offset, bits)
    }

    /// Runs `f` on pointer slot `offset` through the recorded location, after writing
    /// `field`'s discriminant, without a walk (arena.rs `DataAt::write_pointer`, which keeps
    /// every recorded location current when the slot was null); `Ok(None)` (nothing done)
    /// when no location is current or the slot or discriminant lies outside it: the caller
    /// walks.
    fn fast_pointer<R>(
        &self,
        field: &Field,
        offset: u32,
        f: impl FnOnce(PointerBuilder<'_>) -> Result<R>,
    ) -> Result<Option<R>> {
        self.fast_pointer_excluded(None, field, offset, f)
    }

    /// `fast_pointer` without the message lock when the caller holds
    /// [`Excluded`](crate::Excluded) and the lock is free (as `fast_blob`); `f` must take no
    /// lock of this message (it runs capnp's builder on the slot and reads the segment table).
    fn fast_pointer_excluded<R>(
        &self,
        excluded: Option<&mut crate::Excluded>,
        field: &Field,
        offset: u32,
        f: impl FnOnce(PointerBuilder<'_>) -> Result<R>,
    ) -> Result<Option<R>> {
        let mut held = self.shared.base().message.held(excluded)?;
        match self.slot_at(&held, field, offset) {
            Some(at) => self.write_slot(&mut held, at, field, offset, f).map(Some),
            None => Ok(None),
        }
    }

    /// `fast_pointer` for a Text (`text`) or Data write of `bytes`, by this layer's own
    /// writer (`DataAt::write_blob`); `false` with nothing written when the location is not
    /// recorded.
    fn fast_blob(
        &self,
        excluded: Option<&mut crate::Excluded>,
        field: &Field,
        offset: u32,
        bytes: &[u8],
        text: bool,
    ) -> Result<bool> {
        // Under the exclusion this takes no lock of the message until `held` goes (nothing
        // below locks it: the location's checks, the write into the arena, the record).
        let mut held = self.shared.base().message.held(excluded)?;
        let Some(at) = self.slot_at(&held, field, offset) else {
            return Ok(false);
        };
        self.write_slot_with(&mut held, at, field, |held, at| {
            at.write_blob(held, offset, bytes, text).map(Ok)
        })?;
        Ok(true)
    }

    /// The recorded location, when it is current and holds pointer slot `offset` and
    /// `field`'s discriminant (`fast_pointer` can write them).
    fn slot_at(&self, held: &Held<'_>, field: &Field, offset: u32) -> Option<DataAt> {
        let at = self.cache.get(held)?;
        let disc_fits = match (field.discriminant, self.shared.schema().union.as_ref()) {
            (Some(_), Some(u)) => at.fits(16, u.discriminant_offset),
            _ => true,
        };
        (at.has_pointer(offset) && disc_fits).then_some(at)
    }

    /// `fast_pointer`'s write, at `slot_at`'s location.
    fn write_slot<R>(
        &self,
        held: &mut Held<'_>,
        at: DataAt,
        field: &Field,
        offset: u32,
        f: impl FnOnce(PointerBuilder<'_>) -> Result<R>,
    ) -> Result<R> {
        self.write_slot_with(held, at, field, |held, at| {
            at.write_pointer(held, offset, f)
        })
    }

    /// `write_slot` with the slot's write `f` (`None`: the slot is outside the section).
    fn write_slot_with<R>(
        &self,
        held: &mut Held<'_>,
        at: DataAt,
        field: &Field,
        f: impl FnOnce(&mut Held<'_>, DataAt) -> Option<Result<R>>,
    ) -> Result<R> {
        if let (Some(d), Some(u)) = (field.discriminant, self.shared.schema().union.as_ref()) {
            at.write(held, 16, u.discriminant_offset, u64::from(d));
        }
        let r = f(held, at);
        // Its own struct did not move: still current, at the generation now.
        self.cache.set(held.generation, Some(at));
        // A `let else`, not `ok_or`: that builds (and drops) the error on every write.
        let Some(r) = r else {
            return Err(Error::TypeMismatch);
        };
        r
    }

    /// Runs `f` on pointer slot `offset` (after writing `field`'s discriminant) under `held`,
    /// this message's lock: through the recorded location when it is current, else by a walk
    /// (after making every recorded location stale, as every other lock does).
    fn with_slot_held<R>(
        &self,
        held: &mut Held<'_>,
        field: &Field,
        offset: u32,
        f: impl FnOnce(PointerBuilder<'_>) -> Result<R>,
    ) -> Result<R> {
        if let Some(at) = self.slot_at(held, field, offset) {
            return self.write_slot(held, at, field, offset, f);
        }
        held.bump();
        self.with_struct_locked(&mut held.guard, |s| {
            self.set_discriminant(&s, field);
            f(s.get_pointer_field(offset as usize))
        })
    }

    /// Group field `index` as `get_by_index` reads it, through the recorded location without
    /// a `Value` (`fast_group`); `Ok(None)` when the field is not a group or `get_by_index`
    /// must read it. Raises as `get_by_index` for an inactive union member.
    pub fn group_fast(&self, index: usize) -> Result<Option<StructBuilder>> {
        let field = field_at(self.shared.schema(), index)?;
        let FieldKind::Group { id } = &field.kind else {
            return Ok(None);
        };
        self.fast_group(field, *id, StructBase::with_schema)
    }

    /// `group_fast`, first without the message lock when the caller holds
    /// [`Excluded`](crate::Excluded) (as `set_number_by_index_excluded` writes): the location
    /// and the union discriminant read under the proof, two locked instructions fewer; a
    /// volatile message or no current location falls back to `fast_group`'s lock. `Ok(None)`
    /// when the field is not a group or the caller must walk; an inactive union member raises.
    /// The group's base and schema are made by `pair` (as `StructReader::group_fast_with`;
    /// the binding's, lent: `list/lent.rs` `group_fast_excluded_lent`).
    #[inline(always)]
    pub(crate) fn group_fast_excluded_with(
        &self,
        excluded: Option<&crate::Excluded>,
        index: usize,
        pair: impl Fn(&StructBase<BuilderBase>, SchemaRef<'_>) -> StructBase<BuilderBase> + Copy,
    ) -> Result<Option<StructBuilder>> {
        let field = field_at(self.shared.schema(), index)?;
        let FieldKind::Group { id } = &field.kind else {
            return Ok(None);
        };
        let message = &self.shared.base().message;
        if let Some(excluded) = excluded.filter(|_| !message.is_volatile()) {
            // 0 (nothing current) for a retired or walk-only message, as `lock_fast` gives.
            let current = message.generation_unlocked();
            if let Some(at) = self.cache.get_excluded(excluded, current) {
                let read = |bits, offset| at.read_excluded(excluded, bits, offset);
                if let Some(group) = self.group_at(field, *id, current, at, read, pair)? {
                    return Ok(Some(group));
                }
            }
        }
        self.fast_group(field, *id, pair)
    }

    /// Group `id` (member `field`) as a handle located where this struct is, when this
    /// struct's location is current; `Ok(None)` otherwise (the caller walks).
    fn fast_group(
        &self,
        field: &Field,
        id: u64,
        pair: impl FnOnce(&StructBase<BuilderBase>, SchemaRef<'_>) -> StructBase<BuilderBase>,
    ) -> Result<Option<StructBuilder>> {
        let held = self.shared.base().message.lock_fast()?;
        let Some(at) = self.cache.get(&held) else {
            return Ok(None);
        };
        self.group_at(
            field,
            id,
            held.generation,
            at,
            |bits, offset| at.read(&held, bits, offset),
            pair,
        )
    }

    /// Group `id` (member `field`) located at `at`, current at `generation`, after checking
    /// its union discriminant through `read(bits, offset)`; `Ok(None)` when the discriminant
    /// lies outside the section.
    fn group_at(
        &self,
        field: &Field,
        id: u64,
        generation: u64,
        at: crate::arena::DataAt,
        read: impl Fn(u32, u32) -> Option<u64>,
        pair: impl FnOnce(&StructBase<BuilderBase>, SchemaRef<'_>) -> StructBase<BuilderBase>,
    ) -> Result<Option<StructBuilder>> {
        if field.discriminant.is_some() {
            let Some(disc) = read(16, disc_offset(self.shared.schema())) else {
                return Ok(None);
            };
            check_active(self.shared.schema(), field, disc)?;
        }
        Ok(Some(
            self.group_with(field, id, pair)?
                .located(generation, Some(at)),
        ))
    }

    /// A reader over the same memory (later writes are visible through it).
    pub fn as_reader(&self) -> StructReader {
        let base = self.shared.base();
        StructReader {
            shared: StructBase::own(
                ReaderBase::new(
                    Backing::Builder(base.message.clone()),
                    base.registry.clone(),
                    self.shared.path_with(None),
                ),
                self.shared.schema().clone(),
            ),
            pending: self.pending.clone(),
            is_root: self.is_root,
            at: None,
        }
    }

    /// A reader of this struct over a copy of its message as it is now, for whole-struct
    /// reads (`to_dict`): each field then reads the copied bytes directly (resolved
    /// locations, coords.rs) instead of locking the message and walking from the root. Falls
    /// back to `as_reader` for messages over `max_words` or holding capabilities. Values
    /// are those a reader view sees at the time of the call.
    pub fn frozen_reader(&self, max_words: usize) -> Result<StructReader> {
        let Some(message) = self.shared.base().message.frozen(max_words)? else {
            return Ok(self.as_reader());
        };
        // The root is located at once (its fields then read without a walk); other structs
        // walk the copy from its root per read, without a lock.
        let at = if self.shared.base().steps.is_empty()
            && self.pending.is_none()
            && self.shared.hop().is_none()
        {
            message.root_at()?
        } else {
            None
        };
        Ok(StructReader {
            shared: StructBase::own(
                ReaderBase::new(
                    Backing::Reader(message),
                    self.shared.base().registry.clone(),
                    self.shared.path_with(None),
                ),
                self.shared.schema().clone(),
            ),
            pending: self.pending.clone(),
            is_root: self.is_root,
            at,
        })
    }

    /// Deep copy into a new message; returns its root builder.
    pub fn copy(&self) -> Result<StructBuilder> {
        self.as_reader().as_builder()
    }

    pub fn get(&self, name: &str) -> Result<Value> {
        let i = field_index(self.shared.schema(), name)?;
        self.get_by_index(i)
    }

    /// Reads a field; struct fields are allocated and explicit pointer defaults copied in (API.md 3.2).
    pub fn get_by_index(&self, index: usize) -> Result<Value> {
        let field = field_at(self.shared.schema(), index)?;
        if let FieldKind::Slot {
            offset,
            ty,
            default,
            ..
        } = &field.kind
        {
            if !ty.is_pointer() {
                if let Some(bits) = self.fast_read(field, ty, *offset) {
                    return Ok(decode_data(ty, bits? ^ mask(default)));
                }
            }
        }
        if let FieldKind::Group { id } = &field.kind {
            if let Some(g) = self.fast_group(field, *id, StructBase::with_schema)? {
                return Ok(Value::Struct(StructValue::Builder(g)));
            }
        }
        if let FieldKind::Slot {
            offset,
            ty: Type::Struct(id),
            default,
            ..
        } = &field.kind
        {
            if let Some(child) =
                self.fast_struct_field(None, field, *offset, *id, default, Self::child_pair)?
            {
                return Ok(Value::Struct(StructValue::Builder(child)));
            }
        }
        if let FieldKind::Slot {
            offset,
            ty: Type::List(elem),
            default,
            ..
        } = &field.kind
        {
            if let Some(list) =
                self.fast_list_field(None, field, *offset, elem, default, Self::list_base)?
            {
                return Ok(Value::List(ListValue::Builder(list)));
            }
        }
        self.with_struct(|s| {
            let r = s.as_reader();
            check_active(
                self.shared.schema(),
                field,
                read_struct_bits(&r, &Type::UInt16, disc_offset(self.shared.schema())),
            )?;
            match &field.kind {
                FieldKind::Group { id } => {
                    Ok(Value::Struct(StructValue::Builder(self.group(field, *id)?)))
                }
                FieldKind::Slot {
                    offset,
                    ty,
                    default,
                    ..
                } if !ty.is_pointer() => Ok(decode_data(
                    ty,
                    read_struct_bits(&r, ty, *offset) ^ mask(default),
                )),
                FieldKind::Slot {
                    offset,
                    ty,
                    default,
                    ..
                } => {
                    let pb = s.get_pointer_field(*offset as usize);
                    self.read_pointer(pb, field, Hop::Field(*offset as u16), ty, default, false)
                }
            }
        })
    }

    /// The value of pointer slot `pb` (field `field`, at `hop`): a struct or list is a
    /// handle found in the same walk, its schema (or its elements') kept with the field.
    /// The handle (or value) of pointer field `field` at `pb`. `fresh`: the pointer was just
    /// initialized to the field's own type and size (`init_by_index`), so a struct list
    /// needs no upgrade to the schema's size.
    fn read_pointer(
        &self,
        mut pb: PointerBuilder<'_>,
        field: &Field,
        hop: Hop,
        ty: &Type,
        default: &DefaultValue,
        fresh: bool,
    ) -> Result<Value> {
        let dw = default_words(default);
        if let (true, Some(w)) = (pb.is_null(), &dw) {
            copy_default(pb.reborrow(), w)?;
        }
        let d = None;
        let step = |shape| Step {
            hop,
            shape,
            default: dw.clone(),
        };
        Ok(match ty {
            Type::Text => Value::Text(pb.get_text(d)?.as_bytes().to_vec()),
            Type::Data => Value::Data(pb.get_data(d)?.to_vec()),
            Type::Interface(_) => {
                let caps = self
                    .shared
                    .base()
                    .message
                    .has_cap_context()
                    .then(|| self.shared.base().message.caps());
                Value::Capability(crate::cap::read_cap(pb.into_reader(), caps.as_deref()))
            }
            Type::AnyPointer => {
                Value::AnyPointer(AnyPointerValue::Builder(AnyPointerBuilder::new(
                    self.shared.base().message.clone(),
                    self.shared.base().root_size,
                    push_step(&self.path(), step(Shape::PtrList)),
                    self.shared.base().registry.clone(),
                )))
            }
            Type::Struct(id) => {
                let schema = field.target_struct(&self.shared.base().registry, *id)?;
                let shape = Shape::Struct(schema.size());
                let at = match follow_builder(pb, shape, d)? {
                    BLoc::Struct(cs) => DataAt::locate(&self.shared.base().message.segments, &cs),
                    _ => None,
                };
                Value::Struct(StructValue::Builder(
                    StructBuilder::element(
                        StructBase::own(self.shared.extended(self.pending.as_ref()), schema),
                        Some(step(shape)),
                    )
                    .located(self.shared.base().message.generation(), at),
                ))
            }
            Type::List(elem) => {
                let registry = &self.shared.base().registry;
                let (shape, elem_schema) = list_field_shape(field, elem, registry)?;
                let loc = match (fresh, shape) {
                    (true, Shape::StructList(_)) => follow_fresh_struct_list(pb)?,
                    _ => follow_builder(pb, shape, d)?,
                };
                let list = ListBuilder::child_with(
                    self.shared.extended(self.pending.as_ref()),
                    step(shape),
                    (**elem).clone(),
                    elem_schema,
                );
                Value::List(ListValue::Builder(list.located(loc)))
            }
            _ => return Err(Error::TypeMismatch),
        })
    }

    pub fn has(&self, name: &str) -> Result<bool> {
        self.as_reader().has(name)
    }

    pub fn which(&self) -> Result<(u16, String)> {
        self.as_reader().which()
    }

    /// The union's discriminant, read through the struct's recorded location; `None` when
    /// there is no union or no current location, or the message cannot be locked
    /// (`which_field` then walks, and reports errors).
    #[inline]
    pub fn discriminant_fast(&self) -> Option<u16> {
        let union = self.shared.schema().union.as_ref()?;
        let held = self.shared.base().message.lock_fast().ok()?;
        let d = self
            .cache
            .get(&held)?
            .read(&held, 16, union.discriminant_offset)?;
        Some(d as u16)
    }

    pub fn which_field(&self) -> Result<(u16, usize)> {
        // A `let else`, not `ok_or`: that builds (and drops) the error on every call.
        let Some(union) = self.shared.schema().union.as_ref() else {
            return Err(Error::NotAUnion);
        };
        let fast = {
            let held = self.shared.base().message.lock_fast()?;
            self.cache
                .get(&held)
                .and_then(|at| at.read(&held, 16, union.discriminant_offset))
        };
        let d = match fast {
            Some(d) => d as u16,
            None => self.with_struct(|s| {
                Ok(
                    read_struct_bits(&s.as_reader(), &Type::UInt16, union.discriminant_offset)
                        as u16,
                )
            })?,
        };
        Ok((d, which_index(self.shared.schema(), d)?))
    }

    pub fn total_size(&self) -> Result<MessageSize> {
        self.as_reader().total_size()
    }

    pub fn set(&self, name: &str, value: SetValue<'_>) -> Result<()> {
        let i = field_index(self.shared.schema(), name)?;
        self.set_by_index(i, value)
    }

    /// `set_by_index` of a number into a primitive field (Bool, integer, float, enum by
    /// ordinal) when the field takes it as it is, without the general path's classification
    /// of the value: `Ok(true)` once written. `Ok(false)` (nothing done) for any other field
    /// or value, or a value out of the field's range; the caller then takes `set_by_index`,
    /// which converts it or reports the error.
    pub fn set_number_by_index(&self, index: usize, value: Number) -> Result<bool> {
        self.set_number_by_index_excluded(None, index, value)
    }

    /// Primitive field `slot` ([`PrimSlot::of`]) read through the recorded location without
    /// the lock, as `get_by_index` reads it, for a caller holding [`crate::Excluded`];
    /// `None` (the caller then reads it under the lock) when no location is current, the
    /// message is volatile (its memory may be written by Python code) or the slot lies
    /// outside the data section.
    #[inline(always)]
    pub fn prim_excluded(&self, excluded: &crate::Excluded, slot: PrimSlot) -> Option<Prim> {
        self.prim_bits_excluded(excluded, slot)
            .map(|bits| slot.value(bits))
    }

    /// `prim_excluded`'s bits, before decoding (as `StructReader::prim_bits_located`).
    #[inline(always)]
    pub fn prim_bits_excluded(&self, excluded: &crate::Excluded, slot: PrimSlot) -> Option<u64> {
        let message = &self.shared.base().message;
        if message.is_volatile() {
            return None;
        }
        let at = self
            .cache
            .get_excluded(excluded, message.generation_unlocked())?;
        let raw = at.read_excluded(excluded, slot.kind.bits(), slot.offset)?;
        Some(raw ^ slot.mask)
    }

    /// `set_number_by_index`, the write skipping the message lock when the caller holds
    /// [`crate::Excluded`] (`excluded`) and the recorded location is current.
    #[inline(always)]
    pub fn set_number_by_index_excluded(
        &self,
        excluded: Option<&crate::Excluded>,
        index: usize,
        value: Number,
    ) -> Result<bool> {
        let Some(field) = self.shared.schema().fields.get(index) else {
            return Ok(false);
        };
        let FieldKind::Slot {
            offset,
            ty,
            default,
            ..
        } = &field.kind
        else {
            return Ok(false);
        };
        let Some(bits) = number_bits(ty, value) else {
            return Ok(false);
        };
        let bits = bits ^ mask(default);
        if excluded.is_some_and(|ex| self.fast_write_excluded(ex, field, ty, *offset, bits)) {
            return Ok(true);
        }
        if !self.fast_write(field, ty, *offset, bits)? {
            // No current location: the walk, as `set_by_index` does it.
            self.with_struct(|s| {
                self.set_discriminant(&s, field);
                write_struct_bits(&s, ty, *offset, bits);
                Ok(())
            })?;
        }
        Ok(true)
    }

    /// A list of numbers written into list field `index` of numbers or Bool
    /// (`b.int32List = [1, 2, 3]`): what `init_by_index(index, Some(n))` and `set_all` on the
    /// list it returns write, without making the list's handle. `Ok(true)` once written;
    /// `Ok(false)`, with nothing written, for any other field, or when a value is not one
    /// `number_bits` takes as it is for the element type (the caller then takes the general
    /// path, which converts it or reports the error there).
    pub fn set_number_list_by_index(&self, index: usize, values: &[Number]) -> Result<bool> {
        let Some(field) = self.shared.schema().fields.get(index) else {
            return Ok(false);
        };
        let FieldKind::Slot { offset, ty, .. } = &field.kind else {
            return Ok(false);
        };
        let Type::List(elem) = ty else {
            return Ok(false);
        };
        // Enum elements keep the general path (its conversions of names and numbers).
        if elem.is_pointer() || elem.data_bits() == 0 || matches!(**elem, Type::Enum(_)) {
            return Ok(false);
        }
        let Ok(n) = u32::try_from(values.len()) else {
            return Ok(false);
        };
        // All checked before anything is written; encoded again as they are written (cheaper
        // than a buffer of their bits).
        if !values.iter().all(|v| number_bits(elem, *v).is_some()) {
            return Ok(false);
        }
        let bits = || values.iter().map(|v| number_bits(elem, *v).unwrap_or(0));
        let Shape::PrimList(es) = list_shape(elem, &self.shared.base().registry)? else {
            return Ok(false);
        };
        check_list_size(Shape::PrimList(es), n)?;
        let init = |pb: PointerBuilder<'_>| {
            let l = pb.init_list(es, n);
            for (i, b) in (0..n).zip(bits()) {
                crate::value::write_list_bits(&l, elem, i, b);
            }
            Ok(())
        };
        if self.fast_pointer(field, *offset, init)?.is_none() {
            // No current location: the walk, as `init_by_index` does it.
            self.with_struct(|s| {
                self.set_discriminant(&s, field);
                let l = s.get_pointer_field(*offset as usize).init_list(es, n);
                for (i, b) in (0..n).zip(bits()) {
                    crate::value::write_list_bits(&l, elem, i, b);
                }
                Ok(())
            })?;
        }
        Ok(true)
    }

    /// `set_by_index` of text or bytes (`SetValue::Str`, `SetValue::Bytes`): into a Text or
    /// Data slot through the recorded location without the general path's classification
    /// of the value; anything else (another field or value, no current location) by
    /// `set_by_index` itself. The write through the recorded location is made without the
    /// message lock when the caller holds [`Excluded`](crate::Excluded) and the lock is free
    /// (arena.rs `Access::excluded`), as number writes are: two locked instructions fewer.
    pub fn set_blob_by_index_excluded(
        &self,
        excluded: Option<&mut crate::Excluded>,
        index: usize,
        value: SetValue<'_>,
    ) -> Result<()> {
        let field = field_at(self.shared.schema(), index)?;
        // The same write as `set_by_index`'s blob path, kept apart from it: called from
        // `set_by_index` too, the shared function cost ~30 instructions a Text write.
        if let (
            FieldKind::Slot {
                offset,
                ty: ty @ (Type::Text | Type::Data),
                ..
            },
            SetValue::Str(_) | SetValue::Bytes(_),
        ) = (&field.kind, &value)
        {
            let (bytes, text) = match value {
                SetValue::Str(s) => (s.as_bytes(), matches!(ty, Type::Text)),
                SetValue::Bytes(b) => (b, matches!(ty, Type::Text)),
                _ => (&[][..], false),
            };
            check_blob_size(bytes.len(), true)?;
            if self.fast_blob(excluded, field, *offset, bytes, text)? {
                return Ok(());
            }
        }
        self.set_by_index(index, value)
    }

    /// Writes a field (API.md 3.3); a union member becomes the active one.
    pub fn set_by_index(&self, index: usize, value: SetValue<'_>) -> Result<()> {
        let field = field_at(self.shared.schema(), index)?;
        if let FieldKind::Group { id } = &field.kind {
            let SetValue::Struct(src) = value else {
                return Err(Error::TypeMismatch);
            };
            if src.schema().id != *id
                || !same_registry(src.registry(), &self.shared.base().registry)
            {
                return Err(Error::TypeMismatch);
            }
            let group = self.activate_group(field, *id)?;
            return group.copy_fields_from(src);
        }
        let FieldKind::Slot {
            offset,
            ty,
            default,
            ..
        } = &field.kind
        else {
            return Err(Error::TypeMismatch);
        };
        // Taken before locking this message: the source may live in it.
        let snapshot = match value {
            SetValue::Struct(src) => {
                match ty {
                    Type::Struct(id)
                        if src.schema().id == *id
                            && same_registry(src.registry(), &self.shared.base().registry) => {}
                    Type::AnyPointer => {}
                    _ => return Err(Error::TypeMismatch),
                }
                if (src.is_located_root() && self.copy_located_reader(field, *offset, src)?)
                    || src.with_steps(|steps| {
                        self.copy_direct(field, *offset, src.backing(), steps)
                    })?
                {
                    return Ok(());
                }
                Some(Snapshot::of_struct(src)?)
            }
            SetValue::List(src) => {
                match ty {
                    Type::List(elem)
                        if **elem == *src.element_type()
                            && (!elem.has_node()
                                || same_registry(src.registry(), &self.shared.base().registry)) => {
                    }
                    Type::AnyPointer => {}
                    _ => return Err(Error::TypeMismatch),
                }
                if matches!(src.backing(), Backing::Builder(_))
                    && self.copy_direct(field, *offset, src.backing(), &src.steps())?
                {
                    return Ok(());
                }
                Some(Snapshot::of_list(src)?)
            }
            SetValue::AnyPointer(src) => Some(src.snapshot()?),
            _ => None,
        };
        if matches!(
            (ty, &value),
            (
                Type::Text | Type::Data,
                SetValue::Str(_) | SetValue::Bytes(_)
            )
        ) {
            let write = |pb: PointerBuilder<'_>| write_pointer(pb, ty, &value, None, None);
            if let Some(()) = self.fast_pointer(field, *offset, write)? {
                return Ok(());
            }
        }
        let bits = if ty.is_pointer() {
            0
        } else {
            let bits = encode_data(ty, &value, &self.shared.base().registry)? ^ mask(default);
            if self.fast_write(field, ty, *offset, bits)? {
                return Ok(());
            }
            bits
        };
        self.with_struct(|s| {
            self.set_discriminant(&s, field);
            if !ty.is_pointer() {
                write_struct_bits(&s, ty, *offset, bits);
                return Ok(());
            }
            let pb = s.get_pointer_field(*offset as usize);
            write_pointer(
                pb,
                ty,
                &value,
                snapshot.as_ref(),
                Some(&self.shared.base().message),
            )
        })
    }

    /// Struct assignment to field `index` (`set_by_index` with `SetValue::Struct(src)`) when
    /// it copies straight from the source's message (`copy_direct`): `Ok(true)` done,
    /// `Ok(false)` with nothing written when `set_by_index` would take any other way (a group,
    /// a type it refuses, a copy through a snapshot), which the caller then takes. It makes
    /// no snapshot and touches no cap table, so it releases nothing of the host's.
    pub fn set_struct_direct(&self, index: usize, src: &StructReader) -> Result<bool> {
        let field = field_at(self.shared.schema(), index)?;
        let FieldKind::Slot {
            offset,
            ty: Type::Struct(id),
            ..
        } = &field.kind
        else {
            return Ok(false);
        };
        if src.schema().id != *id || !same_registry(src.registry(), &self.shared.base().registry) {
            return Ok(false);
        }
        if src.is_located_root() && self.copy_located_reader(field, *offset, src)? {
            return Ok(true);
        }
        match (&src.pending, src.shared.hop()) {
            // `with_steps` without its closure (the common case: a root or a field handle).
            (None, None) => {
                self.copy_direct(field, *offset, src.backing(), &src.shared.base().steps)
            }
            _ => src.with_steps(|steps| self.copy_direct(field, *offset, src.backing(), steps)),
        }
    }

    /// `copy_direct` of a located reader's plain root struct (`is_located_root`,
    /// `SrcStruct::is_plain`) into a located slot, by our own copy, without capnp's reader:
    /// `Ok(false)` with nothing written or charged when any of that does not hold. The reader's budget is charged what
    /// `copy_direct` charges (capnp's `total_size`), and only when capnp's own copy would
    /// have stayed within its limit too (under a limit of the budget left, its walk to a root
    /// reads the struct once, `total_size` the struct and each list, the copy each list again:
    /// `2 * words`), so the outcome is the same as through capnp's walk. A struct below the
    /// root is not taken: capnp's walk to it also reads every struct on the way.
    #[inline(never)]
    fn copy_located_reader(&self, field: &Field, offset: u32, src: &StructReader) -> Result<bool> {
        let (Some((at, seg)), Backing::Reader(m)) = (src.fast(), src.backing()) else {
            return Ok(false);
        };
        if self.shared.base().message.is_external() {
            return Ok(false);
        }
        let (data, data_len, ptrs, ptr_count) = at.sections();
        let plain = SrcStruct::from_parts(seg, data, data_len, ptrs, ptr_count);
        let Some(words) = plain.plain_words() else {
            return Ok(false);
        };
        if words.saturating_mul(2) > m.budget_left() {
            return Ok(false);
        }
        let mut held = self.shared.base().message.lock_fast()?;
        if self.slot_at(&held, field, offset).is_none() {
            return Ok(false);
        }
        m.charge(words)?;
        // Taken whenever the checks above held (`copy_struct` declines only a source that is
        // not plain or a slot outside the section); otherwise capnp's copy follows.
        Ok(self.copy_own(&mut held, field, offset, plain))
    }

    /// Replaces a `List` field with `values.len()` elements set one by one (a Python list or tuple).
    pub fn set_list(&self, name: &str, values: &[SetValue<'_>]) -> Result<()> {
        let len = u32::try_from(values.len()).map_err(|_| Error::OutOfRange {
            value: values.len().to_string(),
        })?;
        let Value::List(ListValue::Builder(list)) = self.init(name, Some(len))? else {
            return Err(Error::TypeMismatch);
        };
        for (i, v) in values.iter().enumerate() {
            list.set(i as i64, *v)?;
        }
        Ok(())
    }

    /// Copies the struct or list at `steps` of `backing` into pointer field `offset`
    /// (setting `field`'s discriminant) straight from its message instead of through a
    /// snapshot; `false` (nothing done) when the source needs the snapshot: it is in this
    /// message (a copy into itself or a child), it may hold capabilities, this message is
    /// built in Python buffers (whose allocation callable runs Python code, which could reach
    /// the source's lock), or it is a list from a reader (whose words capnp cannot measure
    /// before the copy, which the read budget needs). A reader's bytes need no message lock:
    /// the copy runs inside its `with_root` (for a releasable reader a shared read lock, which
    /// nothing takes while holding a builder lock). A builder source is locked with this
    /// message by `lock_pair`.
    fn copy_direct(
        &self,
        field: &Field,
        offset: u32,
        backing: &Backing,
        steps: &[Step],
    ) -> Result<bool> {
        if self.shared.base().message.is_external() {
            return Ok(false);
        }
        let copy = |mut pb: PointerBuilder<'_>, src: RLoc<'_>| -> Result<()> {
            match src {
                RLoc::Struct(s) => pb.set_struct(&s, false)?,
                RLoc::PrimList(l) => pb.set_list(&l, false)?,
                RLoc::PtrList(l) => pb.set_list(&l.reader, false)?,
                RLoc::StructList(l) => {
                    use capnp::traits::IntoInternalListReader;
                    pb.set_list(&l.into_internal_list_reader(), false)?
                }
            }
            Ok(())
        };
        match backing {
            Backing::Reader(m) => m.with_root(Some(m.budget_left()), |root| {
                let src = walk_reader(root, steps)?;
                // Charged before the write, as the snapshot was: the words the copy takes
                // (capnp measures structs only; a list from a reader keeps the snapshot).
                let RLoc::Struct(s) = &src else {
                    return Ok(false);
                };
                m.charge(s.total_size()?.word_count)?;
                let mut held = self.shared.base().message.lock_fast()?;
                self.with_slot_held(&mut held, field, offset, |pb| copy(pb, src))?;
                Ok(true)
            }),
            Backing::Builder(b)
                if !b.same_message(&self.shared.base().message) && !b.has_cap_context() =>
            {
                let (src_guard, mut held) = lock_pair(b, &self.shared.base().message)?;
                // A root source is found from its root pointer (no walk) when that is a near
                // struct pointer; a plain source (`SrcStruct::is_plain`) is copied by our own
                // code into a located slot, the same bytes as capnp's copy.
                if steps.is_empty() {
                    if let Some(plain) = src_guard.first_segment().and_then(SrcStruct::root) {
                        if self.copy_own(&mut held, field, offset, plain) {
                            return Ok(true);
                        }
                    }
                }
                let src = builder_reader_loc(&src_guard, steps)?;
                if let (false, RLoc::Struct(s)) = (steps.is_empty(), &src) {
                    let segs = src_guard.get_segments_for_output();
                    if let Some(plain) = SrcStruct::of_reader(&segs, *s) {
                        if self.copy_own(&mut held, field, offset, plain) {
                            return Ok(true);
                        }
                    }
                }
                self.with_slot_held(&mut held, field, offset, |pb| copy(pb, src))?;
                Ok(true)
            }
            Backing::Builder(_) => Ok(false),
        }
    }

    /// `src` copied into pointer slot `offset` by our own code (`DataAt::copy_struct`) when
    /// this struct's location is current and `src` is plain; `false` with nothing written
    /// otherwise (the caller takes capnp's copy).
    fn copy_own(
        &self,
        held: &mut Held<'_>,
        field: &Field,
        offset: u32,
        src: SrcStruct<'_>,
    ) -> bool {
        let Some(at) = self.slot_at(held, field, offset) else {
            return false;
        };
        if at.copy_struct(held, offset, src).is_none() {
            return false;
        }
        if let (Some(d), Some(u)) = (field.discriminant, self.shared.schema().union.as_ref()) {
            at.write(held, 16, u.discriminant_offset, u64::from(d));
        }
        // Its own struct did not move: still current, at the generation now.
        self.cache.set(held.generation, Some(at));
        true
    }

    fn set_discriminant(&self, s: &capnp::private::layout::StructBuilder<'_>, field: &Field) {
        if let (Some(d), Some(u)) = (field.discriminant, self.shared.schema().union.as_ref()) {
            write_struct_bits(s, &Type::UInt16, u.discriminant_offset, u64::from(d));
        }
    }

    /// Initialises a field (API.md 3.4 `init`): structs, groups and AnyPointer without a
    /// size; lists, Text and Data with one. Returns the new value.
    pub fn init(&self, name: &str, size: Option<u32>) -> Result<Value> {
        let i = field_index(self.shared.schema(), name)?;
        self.init_by_index(i, size)
    }

    /// `init_by_index` of list field `index` with `n` elements through the recorded
    /// location, straight into the list's handle (no `Value`), its elements recorded from the
    /// list capnp just made (not read back through the pointer). `Ok(None)`, nothing done,
    /// when the field is not a list slot or no location is current: the caller then takes
    /// `init_by_index`, which raises or walks as before.
    pub fn init_list_fast(&self, index: usize, n: u32) -> Result<Option<ListBuilder>> {
        self.init_list_fast_with(None, index, n, Self::list_base)
    }

    /// `init_list_fast` with the list handle's base made by `base` (as `list_fast_with`).
    #[inline(always)]
    pub(crate) fn init_list_fast_with(
        &self,
        excluded: Option<&mut crate::Excluded>,
        index: usize,
        n: u32,
        list_base: impl FnOnce(&Self) -> ListBase<BuilderBase>,
    ) -> Result<Option<ListBuilder>> {
        let Some((field, offset, elem, default)) = list_slot(self.shared.schema(), index)? else {
            return Ok(None);
        };
        let base = self.shared.base();
        let (shape, elem_schema) = list_field_shape(field, elem, &base.registry)?;
        check_list_size(shape, n)?;
        let data_words = elem_schema.as_ref().map(|s| s.data_words);
        // Nothing below takes this message's lock (capnp's builder, the segment table).
        let made = self.fast_pointer_excluded(excluded, field, offset, |pb| {
            let raw = match shape {
                Shape::StructList(sz) => pb.init_struct_list(n, sz),
                Shape::PrimList(es) => pb.init_list(es, n),
                _ => pb.init_list(ElementSize::Pointer, n),
            };
            // What `ListBuilder::located` records for the list read back (arena.rs): a
            // struct list's elements with the schema's data size and their own (fresh
            // elements have exactly the size given to capnp).
            let at = ElemsAt::locate(&base.message.segments, RawListReader(raw.into_reader()));
            let at = match shape {
                Shape::StructList(sz) => at.and_then(|at| {
                    at.with_struct_data(data_words?, (n > 0).then_some(usize::from(sz.data) * 8))
                }),
                _ => at,
            };
            Ok((base.message.generation(), at))
        })?;
        let Some((generation, at)) = made else {
            return Ok(None);
        };
        let step = Step {
            hop: Hop::Field(offset as u16),
            shape,
            default: default_words(default),
        };
        let list = ListBuilder::fresh_child(list_base(self), step, elem.clone(), elem_schema);
        Ok(Some(list.recorded_at(generation, at)))
    }

    pub fn init_by_index(&self, index: usize, size: Option<u32>) -> Result<Value> {
        let field = field_at(self.shared.schema(), index)?;
        let (offset, ty) = match (&field.kind, size) {
            (FieldKind::Group { id }, None) => {
                let g = self.activate_group(field, *id)?;
                g.clear(0)?;
                return Ok(Value::Struct(StructValue::Builder(g)));
            }
            (FieldKind::Group { .. }, Some(_)) => return Err(Error::InitWithSize),
            (FieldKind::Slot { offset, ty, .. }, _) => (*offset, ty),
        };
        match (ty, size) {
            (Type::Struct(_) | Type::AnyPointer, Some(_)) => return Err(Error::InitWithSize),
            (Type::List(_) | Type::Text | Type::Data, None) => return Err(Error::InitWithoutSize),
            (Type::Struct(_) | Type::AnyPointer, None)
            | (Type::List(_) | Type::Text | Type::Data, Some(_)) => {}
            (_, None) => return Err(Error::InitWithoutSize),
            (_, Some(_)) => return Err(Error::InitWithSize),
        }
        let registry = &self.shared.base().registry;
        let struct_size = match ty {
            Type::Struct(id) => Some(field.target_struct(registry, *id)?.size()),
            _ => None,
        };
        let elem_shape = match ty {
            Type::List(elem) => Some(list_field_shape(field, elem, registry)?.0),
            _ => None,
        };
        let n = size.unwrap_or(0);
        match (ty, elem_shape) {
            (Type::Text, _) => check_blob_size(n as usize, true)?,
            (Type::Data, _) => check_blob_size(n as usize, false)?,
            (_, Some(shape)) => check_list_size(shape, n)?,
            _ => {}
        }
        let FieldKind::Slot { default, .. } = &field.kind else {
            return Err(Error::TypeMismatch);
        };
        let init = |mut pb: PointerBuilder<'_>| {
            match (ty, elem_shape) {
                (Type::Struct(_), _) => {
                    if let Some(sz) = struct_size {
                        pb.reborrow().init_struct(sz);
                    }
                }
                (Type::AnyPointer, _) => pb.clear(),
                (Type::Text, _) => {
                    pb.init_text(n);
                    return Ok(Value::Text(vec![0; n as usize]));
                }
                (Type::Data, _) => {
                    pb.init_data(n);
                    return Ok(Value::Data(vec![0; n as usize]));
                }
                (Type::List(_), Some(Shape::StructList(sz))) => {
                    pb.reborrow().init_struct_list(n, sz);
                }
                (Type::List(_), Some(Shape::PrimList(es))) => {
                    pb.reborrow().init_list(es, n);
                }
                (Type::List(_), Some(_)) => {
                    pb.reborrow()
                        .init_list(capnp::private::layout::ElementSize::Pointer, n);
                }
                _ => return Err(Error::InitWithSize),
            }
            // The handle `get` would return, made in the same walk.
            self.read_pointer(pb, field, Hop::Field(offset as u16), ty, default, true)
        };
        if let Some(v) = self.fast_pointer(field, offset, init)? {
            return Ok(v);
        }
        self.with_struct(|s| {
            self.set_discriminant(&s, field);
            init(s.get_pointer_field(offset as usize))
        })
    }

    /// The offset and type of pointer field `index`, checking it is the active union member.
    fn pointer_slot(&self, index: usize) -> Result<(u32, Type)> {
        let field = field_at(self.shared.schema(), index)?;
        let FieldKind::Slot { offset, ty, .. } = &field.kind else {
            return Err(Error::TypeMismatch);
        };
        if !ty.is_pointer() {
            return Err(Error::TypeMismatch);
        }
        Ok((*offset, ty.clone()))
    }

    /// Detaches a pointer field's content into an orphan, leaving the field null.
    pub fn disown(&self, name: &str) -> Result<Orphan> {
        let index = field_index(self.shared.schema(), name)?;
        let field = field_at(self.shared.schema(), index)?;
        let (offset, ty) = self.pointer_slot(index)?;
        let snapshot = self.as_reader().with_struct(|s| {
            check_active(
                self.shared.schema(),
                field,
                read_struct_bits(s, &Type::UInt16, disc_offset(self.shared.schema())),
            )?;
            Snapshot::of_pointer(s.get_pointer_field(offset as usize))
        })?;
        let orphan =
            Orphan::from_snapshot(Some(&snapshot), ty, self.shared.base().registry.clone())?;
        self.with_struct(|s| {
            s.get_pointer_field(offset as usize).clear();
            Ok(())
        })?;
        Ok(orphan)
    }

    /// Moves an orphan's content into a pointer field (making it the active union member);
    /// the orphan is spent afterwards.
    pub fn adopt(&self, name: &str, orphan: &Orphan) -> Result<()> {
        let index = field_index(self.shared.schema(), name)?;
        let field = field_at(self.shared.schema(), index)?;
        let (offset, ty) = self.pointer_slot(index)?;
        if !orphan.fits(&ty, &self.shared.base().registry) {
            return Err(Error::TypeMismatch);
        }
        let content = orphan.content()?;
        self.with_struct(|s| {
            self.set_discriminant(&s, field);
            content.copy_into(
                s.get_pointer_field(offset as usize),
                Some(&self.shared.base().message),
            )
        })?;
        orphan.retire();
        Ok(())
    }

    /// Resets a field to its default (a null pointer, zero bits, a cleared group), making it
    /// the active union member: the reference's `DynamicStruct::Builder::clear`.
    pub fn clear_by_index(&self, index: usize) -> Result<()> {
        let field = field_at(self.shared.schema(), index)?;
        match &field.kind {
            FieldKind::Group { id } => self.activate_group(field, *id)?.clear(0),
            FieldKind::Slot { offset, ty, .. } => self.with_struct(|s| {
                self.set_discriminant(&s, field);
                if ty.is_pointer() {
                    s.get_pointer_field(*offset as usize).clear();
                } else {
                    write_struct_bits(&s, ty, *offset, 0);
                }
                Ok(())
            }),
        }
    }

    /// Sets the union discriminant for a group member and returns the group's handle.
    fn activate_group(&self, field: &Field, id: u64) -> Result<StructBuilder> {
        if field.discriminant.is_some() {
            self.with_struct(|s| {
                self.set_discriminant(&s, field);
                Ok(())
            })?;
        }
        self.group(field, id)
    }

    /// Group `id`, member `field` of this struct: its schema kept by the field (no registry
    /// lookup after the first).
    fn group(&self, field: &Field, id: u64) -> Result<StructBuilder> {
        self.group_with(field, id, StructBase::with_schema)
    }

    /// `group` with the group's base and schema made by `pair` (as `StructReader`'s
    /// `group_fast_with`).
    #[inline(always)]
    fn group_with(
        &self,
        field: &Field,
        id: u64,
        pair: impl FnOnce(&StructBase<BuilderBase>, SchemaRef<'_>) -> StructBase<BuilderBase>,
    ) -> Result<StructBuilder> {
        let schema = field.target_ref(&self.shared.base().registry, id)?;
        // A group lives in its parent's sections; a schema claiming more would let writes
        // run past the struct.
        let size = schema.get();
        if size.data_words > self.storage.data || size.ptr_count > self.storage.pointers {
            return Err(Error::InvalidSchema(format!(
                "group {} larger than its parent",
                size.display_name
            )));
        }
        Ok(StructBuilder {
            shared: pair(&self.shared, schema),
            pending: self.pending.clone(),
            storage: self.storage,
            is_root: false,
            cache: StructCache::default(),
        })
    }

    /// Zeroes every field of this group (its data and pointers), as `init` of a group does.
    fn clear(&self, depth: u32) -> Result<()> {
        if depth > MAX_GROUP_DEPTH {
            return Err(Error::InvalidSchema("groups nested too deeply".into()));
        }
        let mut groups = Vec::new();
        self.with_struct(|mut s| {
            if let Some(u) = &self.shared.schema().union {
                write_struct_bits(&s, &Type::UInt16, u.discriminant_offset, 0);
            }
            for f in &self.shared.schema().fields {
                match &f.kind {
                    FieldKind::Slot { offset, ty, .. } if ty.is_pointer() => {
                        s.reborrow().get_pointer_field(*offset as usize).clear();
                    }
                    FieldKind::Slot { offset, ty, .. } => write_struct_bits(&s, ty, *offset, 0),
                    FieldKind::Group { id } => groups.push((f, *id)),
                }
            }
            Ok(())
        })?;
        for (f, id) in groups {
            self.group(f, id)?.clear(depth + 1)?;
        }
        Ok(())
    }

    /// Copies every field of `src` (same schema) into this struct, field by field.
    fn copy_fields_from(&self, src: &StructReader) -> Result<()> {
        let snap = Snapshot::of_struct(src)?;
        // The snapshot root is a full struct of the parent's size; reading it through a
        // reader handle of the group's schema picks out the group's fields.
        let reader = MessageBuilder::new();
        {
            let mut m = reader.lock();
            snap.copy_into(
                m.get_root::<crate::raw::RawPtrBuilder<'_>>()?.0,
                Some(&reader),
            )?;
        }
        let src = StructReader::new(
            Backing::Builder(reader),
            crate::message::root_path(),
            src.shared.schema().clone(),
            src.shared.base().registry.clone(),
            false,
        );
        self.clear(0)?;
        let active = src.which().ok().map(|(_, n)| n);
        for (i, f) in self.shared.schema().fields.iter().enumerate() {
            if f.discriminant.is_some() && active.as_deref() != Some(f.name.as_str()) {
                continue;
            }
            let v = src.get_by_index(i)?;
            match &v {
                Value::Struct(StructValue::Reader(r)) => {
                    if matches!(f.kind, FieldKind::Group { .. }) || src.has(&f.name)? {
                        self.set_by_index(i, SetValue::Struct(r))?;
                    }
                }
                Value::List(ListValue::Reader(l)) => {
                    if src.has(&f.name)? {
                        self.set_by_index(i, SetValue::List(l))?;
                    }
                }
                other => {
                    if let Some(sv) = as_set_value(other) {
                        if src.has(&f.name)? {
                            self.set_by_index(i, sv)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Standard framing of the whole message; root builders only.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.root_only()?;
        Ok(self.shared.base().message.to_bytes())
    }

    /// The message's standard framing in pieces, under its lock (`MessageBuilder::with_framed`);
    /// root builders only.
    pub fn with_framed<R>(&self, f: impl FnOnce(&[u8], &[&[u8]]) -> R) -> Result<R> {
        self.root_only()?;
        Ok(self.shared.base().message.with_framed(f))
    }

    /// The size of `to_bytes`'s result now.
    pub fn serialized_size(&self) -> Result<usize> {
        self.root_only()?;
        Ok(self.shared.base().message.serialized_size())
    }

    pub fn to_bytes_packed(&self) -> Result<Vec<u8>> {
        self.root_only()?;
        Ok(self.shared.base().message.to_bytes_packed())
    }

    /// Runs `f` on the message's segments (no framing) under its lock; root builders only.
    pub fn with_segments<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> Result<R> {
        self.root_only()?;
        Ok(self.shared.base().message.with_segments(f))
    }

    pub fn to_segments(&self) -> Result<Vec<Vec<u8>>> {
        self.root_only()?;
        Ok(self.shared.base().message.to_segments())
    }

    fn root_only(&self) -> Result<()> {
        if self.is_root {
            Ok(())
        } else {
            Err(Error::NotRoot)
        }
    }
}

/// Converts a read value back into a writable one (used by field-wise group copies).
fn as_set_value(v: &Value) -> Option<SetValue<'_>> {
    Some(match v {
        Value::Void => SetValue::Void,
        Value::Bool(b) => SetValue::Bool(*b),
        Value::Int(i) => SetValue::Int(i128::from(*i)),
        Value::UInt(u) => SetValue::Int(i128::from(*u)),
        Value::Float(f) => SetValue::Float(*f),
        Value::Text(t) => SetValue::Bytes(t),
        Value::Data(d) => SetValue::Bytes(d),
        Value::Enum(e) => SetValue::Int(i128::from(*e)),
        _ => return None,
    })
}

/// Writes a pointer slot from a value (the snapshot holds struct/list sources).
/// The shape of list field `field` (elements `elem`) and, for a struct list, its element
/// schema as `ListBuilder` keeps it (`None` from a registry that answers with placeholders,
/// which are looked up again on use). The element schema is kept with the field after the
/// first lookup (`Field::target_struct`: a list field's value has one element struct), so
/// `init` and reads of a struct list take no registry lock.
fn list_field_shape(
    field: &Field,
    elem: &Type,
    registry: &Registry,
) -> Result<(Shape, Option<Arc<StructSchema>>)> {
    match elem {
        Type::Struct(id) => {
            let schema = field.target_struct(registry, *id)?;
            let shape = Shape::StructList(schema.size());
            Ok((shape, (!registry.uses_placeholders()).then_some(schema)))
        }
        _ => Ok((list_shape(elem, registry)?, None)),
    }
}

pub(crate) fn write_pointer(
    mut pb: PointerBuilder<'_>,
    ty: &Type,
    value: &SetValue<'_>,
    snapshot: Option<&Snapshot>,
    message: Option<&MessageBuilder>,
) -> Result<()> {
    match value {
        SetValue::Str(s) => check_blob_size(s.len(), true)?,
        SetValue::Bytes(b) => check_blob_size(b.len(), true)?,
        _ => {}
    }
    match (ty, value) {
        (Type::Text, SetValue::Str(s)) => pb.set_text((*s).into()),
        (Type::Text, SetValue::Bytes(b)) => pb.set_text((*b).into()),
        (Type::Data, SetValue::Bytes(b)) => pb.set_data(b),
        (Type::Data, SetValue::Str(s)) => pb.set_data(s.as_bytes()),
        (Type::AnyPointer, SetValue::Str(s)) => pb.set_text((*s).into()),
        (Type::AnyPointer, SetValue::Bytes(b)) => pb.set_data(b),
        (
            Type::Struct(_) | Type::List(_) | Type::AnyPointer,
            SetValue::Struct(_) | SetValue::List(_),
        )
        | (Type::Struct(_) | Type::List(_) | Type::AnyPointer, SetValue::AnyPointer(_)) => {
            let snap = snapshot.ok_or(Error::TypeMismatch)?;
            snap.copy_into(pb, message)?;
        }
        (Type::Interface(_) | Type::AnyPointer, SetValue::Capability(cap)) => {
            let message = message.ok_or(Error::TypeMismatch)?;
            crate::cap::write_cap(pb, message, cap);
        }
        _ => return Err(Error::TypeMismatch),
    }
    Ok(())
}

/// A struct in a message of capnp's own (an RPC call's params in the incoming message), for
/// reading its plain fields without first copying it into a message of this layer.
pub struct ForeignStruct<'a>(capnp::private::layout::StructReader<'a>);

impl<'a> capnp::traits::FromPointerReader<'a> for ForeignStruct<'a> {
    fn get_from_pointer(
        reader: &PointerReader<'a>,
        default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(ForeignStruct(reader.get_struct(default)?))
    }
}

impl<'a> ForeignStruct<'a> {
    /// The struct `src` points to (null: the empty struct, as capnp reads it).
    pub fn of(src: capnp::any_pointer::Reader<'a>) -> Result<ForeignStruct<'a>> {
        Ok(src.get_as::<ForeignStruct<'a>>()?)
    }

    /// Where the struct lies: the address of its first word, its data section's size in
    /// bits and its pointer count (to find it in memory its reader shares).
    /// `None` for a struct of no words (nothing to find) or one whose data section is not
    /// whole words.
    pub fn position(&self) -> Option<(usize, u16, u16)> {
        let raw = crate::raw::RawStructReader(self.0);
        let data = capnp::raw::get_struct_data_section(raw);
        let ptrs = capnp::raw::get_struct_pointer_section(crate::raw::RawStructReader(self.0));
        let ptr_bytes = capnp::raw::get_list_bytes(ptrs);
        if data.len() % 8 != 0 {
            return None;
        }
        let data_words = u16::try_from(data.len() / 8).ok()?;
        let ptr_count = u16::try_from(ptr_bytes.len() / 8).ok()?;
        let start = match (data.is_empty(), ptr_bytes.is_empty()) {
            (false, _) => data.as_ptr() as usize,
            (true, false) => ptr_bytes.as_ptr() as usize,
            (true, true) => return None,
        };
        // The sections of a struct are contiguous.
        if !ptr_bytes.is_empty() && ptr_bytes.as_ptr() as usize != start + data.len() {
            return None;
        }
        Some((start, data_words, ptr_count))
    }

    /// Whether field `index` of `schema` is one `read_plain` reads: a primitive, enum, Text
    /// or Data slot.
    pub fn is_plain(schema: &StructSchema, index: usize) -> bool {
        matches!(
            schema.fields.get(index).map(|f| &f.kind),
            Some(FieldKind::Slot { ty, .. })
                if !ty.is_pointer() || matches!(ty, Type::Text | Type::Data)
        )
    }

    /// Field `index` of this struct (of type `schema`) when it is plain (`is_plain`);
    /// `Ok(None)` for any other kind. The same values and errors as `StructReader::get`.
    pub fn read_plain(&self, schema: &StructSchema, index: usize) -> Result<Option<Value>> {
        let field = field_at(schema, index)?;
        let FieldKind::Slot {
            offset,
            ty,
            default,
            ..
        } = &field.kind
        else {
            return Ok(None);
        };
        let s = &self.0;
        check_active(
            schema,
            field,
            read_struct_bits(s, &Type::UInt16, disc_offset(schema)),
        )?;
        if !ty.is_pointer() {
            return Ok(Some(decode_data(
                ty,
                read_struct_bits(s, ty, *offset) ^ mask(default),
            )));
        }
        let dw = default_words(default);
        let d = dw.as_deref().map(|v| &v[..]);
        let pr = s.get_pointer_field(*offset as usize);
        Ok(match ty {
            Type::Text => Some(Value::Text(pr.get_text(d)?.as_bytes().to_vec())),
            Type::Data => Some(Value::Data(pr.get_data(d)?.to_vec())),
            _ => None,
        })
    }
}

/// The pointer slot of a capnp builder, taken as it is (`any_pointer::Builder::get_as`).
struct RawPointerBuilder<'a>(PointerBuilder<'a>);

impl<'a> capnp::traits::FromPointerBuilder<'a> for RawPointerBuilder<'a> {
    fn init_pointer(builder: PointerBuilder<'a>, _length: u32) -> Self {
        RawPointerBuilder(builder)
    }
    fn get_from_pointer(
        builder: PointerBuilder<'a>,
        _default: Option<&'a [capnp::Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawPointerBuilder(builder))
    }
}

/// A new struct with plain fields set, checked, to be written into a message of capnp's
/// own (an RPC call's params or results) by `write`: no message of this layer to build and
/// copy.
pub struct PlainStruct<'a, 'v> {
    schema: &'a StructSchema,
    registry: &'a Registry,
    fields: &'a [(usize, SetValue<'v>)],
}

/// The slot a plain value is written to, and its type and default.
fn plain_slot<'s>(
    schema: &'s StructSchema,
    index: usize,
    value: &SetValue<'_>,
) -> Option<(&'s Field, u32, &'s Type, &'s DefaultValue)> {
    let field = schema.fields.get(index)?;
    let FieldKind::Slot {
        offset,
        ty,
        default,
        ..
    } = &field.kind
    else {
        return None;
    };
    let scalar = matches!(
        value,
        SetValue::Void | SetValue::Bool(_) | SetValue::Int(_) | SetValue::Float(_)
    );
    let blob = matches!(value, SetValue::Str(_) | SetValue::Bytes(_));
    let plain = (!ty.is_pointer() && scalar) || (matches!(ty, Type::Text | Type::Data) && blob);
    plain.then_some((field, *offset, ty, default))
}

impl<'a, 'v> PlainStruct<'a, 'v> {
    /// `fields` (`(index, value)`, set in order) when each is plain: a primitive or enum slot
    /// with a `Void`/`Bool`/`Int`/`Float` value, or a Text/Data slot with a `Str`/`Bytes` one.
    /// `Ok(None)` as soon as a field or value is of any other kind (the caller then takes the
    /// general path, which meets the same errors in the same order); the errors of
    /// `StructBuilder::set_by_index` otherwise.
    pub fn prepare(
        schema: &'a StructSchema,
        registry: &'a Registry,
        fields: &'a [(usize, SetValue<'v>)],
    ) -> Result<Option<PlainStruct<'a, 'v>>> {
        for (index, value) in fields {
            let Some((_, _, ty, _)) = plain_slot(schema, *index, value) else {
                return Ok(None);
            };
            match value {
                SetValue::Str(s) => check_blob_size(s.len(), true)?,
                SetValue::Bytes(b) => check_blob_size(b.len(), true)?,
                _ => {
                    encode_data(ty, value, registry)?;
                }
            }
        }
        Ok(Some(PlainStruct {
            schema,
            registry,
            fields,
        }))
    }

    /// Words the struct takes (its sections and blobs), for a message size hint.
    pub fn words(&self) -> u64 {
        let blobs: usize = self
            .fields
            .iter()
            .map(|(_, v)| match v {
                SetValue::Str(s) => s.len().div_ceil(8) + 1,
                SetValue::Bytes(b) => b.len().div_ceil(8),
                _ => 0,
            })
            .sum();
        u64::from(self.schema.data_words) + u64::from(self.schema.ptr_count) + blobs as u64
    }

    /// Writes the struct at `dst`.
    pub fn write(self, dst: capnp::any_pointer::Builder<'_>) -> Result<()> {
        let pb = dst.get_as::<RawPointerBuilder<'_>>()?.0;
        let mut s = pb.init_struct(self.schema.size());
        for (index, value) in self.fields {
            // Checked by `prepare`.
            let Some((field, offset, ty, default)) = plain_slot(self.schema, *index, value) else {
                continue;
            };
            if let (Some(d), Some(u)) = (field.discriminant, self.schema.union.as_ref()) {
                write_struct_bits(&s, &Type::UInt16, u.discriminant_offset, u64::from(d));
            }
            if ty.is_pointer() {
                write_pointer(
                    s.reborrow().get_pointer_field(offset as usize),
                    ty,
                    value,
                    None,
                    None,
                )?;
            } else {
                let bits = encode_data(ty, value, self.registry)? ^ mask(default);
                write_struct_bits(&s, ty, offset, bits);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod prim_slot_tests {
    use super::{PrimKind, PrimSlot};

    #[test]
    fn packed_slots_unpack_to_themselves() {
        for code in 1..=12u8 {
            let kind = PrimKind::from_code(code).expect("a kind's code");
            assert_eq!(kind as u8, code);
            for offset in [0, 1, 7, 0xffff, u32::MAX] {
                let slot = PrimSlot {
                    kind,
                    offset,
                    mask: u64::MAX - u64::from(offset),
                };
                let (word, mask) = slot.pack();
                assert_ne!(word, 0);
                assert_eq!(PrimSlot::unpack(word, mask), Some(slot));
            }
        }
        assert_eq!(PrimKind::from_code(0), None);
        assert_eq!(PrimKind::from_code(13), None);
        assert_eq!(PrimSlot::unpack(0, 5), None);
    }

    #[test]
    fn kind_widths_are_the_types() {
        use crate::schema::Type;
        for ty in [
            Type::Bool,
            Type::Int8,
            Type::Int16,
            Type::Int32,
            Type::Int64,
            Type::UInt8,
            Type::UInt16,
            Type::UInt32,
            Type::UInt64,
            Type::Float32,
            Type::Float64,
            Type::Enum(7),
        ] {
            let kind = PrimKind::of(&ty).expect("a primitive type");
            assert_eq!(kind.bits(), ty.data_bits(), "{ty:?}");
        }
    }

    /// A slot read from the data section alone (`bits_in`: one word load) gives what the read
    /// through the struct's location in its segment gives (`bits_at`), for every kind, every
    /// offset up to past the end, data sections of whole words and of less than a word, with
    /// other bytes before and after them in the segment.
    #[test]
    fn data_section_reads_match_located_reads() {
        use crate::coords::StructAt;
        for data_len in [0usize, 1, 2, 4, 8, 16, 24] {
            let seg: Vec<u8> = (0..8 + data_len + 16)
                .map(|i| (i as u8).wrapping_mul(151).wrapping_add(89))
                .collect();
            let at = StructAt::at(0, 8, data_len, 2, 64);
            let data = at
                .data_section(&seg)
                .expect("the data section lies in the segment");
            assert_eq!(data.len(), data_len);
            for code in 1..=12u8 {
                let kind = PrimKind::from_code(code).expect("a kind's code");
                let last = (data_len as u32 * 8 / kind.bits()) + 3;
                for offset in 0..=last {
                    for mask in [0, 0x5a5a_5a5a_5a5a_5a5a] {
                        let slot = PrimSlot { kind, offset, mask };
                        assert_eq!(
                            slot.bits_in(data),
                            slot.bits_at(at, &seg),
                            "{kind:?} at {offset} in {data_len} bytes, mask {mask:x}"
                        );
                    }
                }
            }
        }
        // A data section that does not lie in its segment has none.
        assert!(StructAt::at(0, 8, 16, 0, 64)
            .data_section(&[0; 20])
            .is_none());
    }
}
