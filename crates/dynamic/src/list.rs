//! List reader and builder handles: len, element get/set/init for every element type.

use std::sync::{Arc, OnceLock};

use capnp::private::layout::{ElementSize, PointerBuilder, PointerReader, StructSize};

use crate::any_pointer::{AnyPointerBuilder, AnyPointerReader};
use crate::arena::{ElemsAt, Held, ListCache};
use crate::coords::ListAt;
use crate::copy::Snapshot;
use crate::error::{Error, Result};
use crate::message::{
    follow_builder, follow_reader, push_step, shape_words, with_builder_loc_imbued,
    with_builder_loc_then, BLoc, Backing, BuilderBase, Elements, Hop, MessageBuilder, RLoc,
    ReaderBase, Shape, Step, StructBase,
};
use crate::raw::{RawListReader, RawPtr, RawPtrBuilder, RawStructReader};
use crate::schema::{same_registry, Registry, Type};
use crate::struct_::{expected_size, write_pointer, StructBuilder, StructReader};
use crate::value::AnyPointerValue;
use crate::value::{
    check_blob_size, check_list_size, decode_data, encode_data, list_shape, read_list_bits,
    read_list_builder_bits, write_list_bits, ListValue, SetValue, StructValue, Value,
};

/// The schema of a struct list's elements (`None` for other lists, or an id the registry
/// does not know yet: looked up again on use, where the error surfaces).
fn element_schema(elem: &Type, registry: &Registry) -> Option<Arc<crate::schema::StructSchema>> {
    match elem {
        Type::Struct(id) if !registry.uses_placeholders() => registry.get_struct(*id).ok(),
        _ => None,
    }
}

/// Resolves a Python-style index (negative counts from the end).
mod disown;
pub(crate) mod lent;

fn resolve(index: i64, len: u32) -> Result<u32> {
    let len = i64::from(len);
    let i = if index < 0 { index + len } else { index };
    if i < 0 || i >= len {
        return Err(Error::IndexOutOfRange);
    }
    u32::try_from(i).map_err(|_| Error::IndexOutOfRange)
}

/// The base a list handle's children share (`ListReader::child_base`,
/// `ListBuilder::child_base`): its own counted base when nothing is pending, else made once
/// into `full` — a lent base counted (the children may outlive the handle), or the path with
/// the pending hop appended.
fn child_base_of<'a, B: crate::message::HandleBase>(
    pending: Option<&Step>,
    base: &'a lent::ListBase<B>,
    full: &'a OnceLock<Arc<B>>,
) -> &'a Arc<B> {
    match (pending, base.own()) {
        (None, Some(base)) => base,
        (None, None) => full.get_or_init(|| base.counted()),
        (Some(hop), _) => {
            full.get_or_init(|| base.with_steps(push_step(base.steps(), hop.clone())))
        }
    }
}

#[derive(Clone)]
pub struct ListReader {
    /// The message, registry and path, shared with the struct or list it came from
    /// (counted, or borrowed from the struct handle it was read from: `lent.rs`).
    base: lent::ListBase<ReaderBase>,
    /// A last hop not yet appended to the base's path (as `StructReader`'s): a child list of
    /// a located parent shares the parent's base; `path()` appends it when a walk needs it.
    pending: Option<Step>,
    /// The base of this list's children (its own path), made by the first child or walk
    /// that needs it: child lists and elements without a known schema share it, so it is
    /// allocated at most once per list handle rather than once per element. Struct elements
    /// with a known schema need none: `elements` holds this list's base and pending hop.
    full: OnceLock<Arc<ReaderBase>>,
    /// This list's base and pending hop with the element schema (struct lists), shared by
    /// every element handle.
    elements: OnceLock<Arc<Elements<ReaderBase>>>,
    elem: Type,
    /// Where the list is in the reader's bytes (reader-backed handles only).
    at: Option<ListAt>,
    /// The element schema of a struct list, looked up once per handle.
    elem_schema: Option<Arc<crate::schema::StructSchema>>,
    /// A located list of Bool or numbers encoded at its element type's width: where its
    /// elements are, worked out once for `scalar_bits`.
    scalar: Option<ScalarAt>,
}

/// Where the elements of a list of Bool or numbers are (`ListReader::scalar`).
#[derive(Clone, Copy, Debug)]
struct ScalarAt {
    seg: u32,
    start: usize,
    end: usize,
    len: u32,
    bits: u32,
}

impl std::fmt::Debug for ListReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<list reader of {:?}>", self.elem)
    }
}

impl ListReader {
    pub(crate) fn new(
        backing: Backing,
        steps: crate::message::Path,
        elem: Type,
        registry: Arc<Registry>,
    ) -> Self {
        ListReader::on(ReaderBase::new(backing, registry, steps).into(), None, elem)
    }

    /// A child list on its parent's base, with `hop` pending (no path copied now).
    pub(crate) fn child(
        base: impl Into<lent::ListBase<ReaderBase>>,
        hop: Step,
        elem: Type,
    ) -> Self {
        ListReader::on(base.into(), Some(hop), elem)
    }

    /// `child` of a struct list whose element schema the caller has at hand (`struct_schema`:
    /// what `element_schema` would find for `elem`), without the registry's lookup.
    pub(crate) fn child_of_structs(
        base: impl Into<lent::ListBase<ReaderBase>>,
        hop: Step,
        elem: Type,
        struct_schema: Arc<crate::schema::StructSchema>,
    ) -> Self {
        let base = base.into();
        let elem_schema = (!base.registry.uses_placeholders()).then_some(struct_schema);
        ListReader::with_schema(base, Some(hop), elem, elem_schema)
    }

    fn on(base: lent::ListBase<ReaderBase>, pending: Option<Step>, elem: Type) -> Self {
        let elem_schema = element_schema(&elem, &base.registry);
        ListReader::with_schema(base, pending, elem, elem_schema)
    }

    fn with_schema(
        base: lent::ListBase<ReaderBase>,
        pending: Option<Step>,
        elem: Type,
        elem_schema: Option<Arc<crate::schema::StructSchema>>,
    ) -> Self {
        ListReader {
            base,
            pending,
            full: OnceLock::new(),
            elements: OnceLock::new(),
            elem,
            at: None,
            elem_schema,
            scalar: None,
        }
    }

    /// The base its children share: its own, or one with the pending hop appended (once).
    /// Whether another handle (or a child's base) holds this handle's base too, so dropping
    /// this handle does not drop the message. Read without synchronization: another thread
    /// dropping its reference at the same moment can make the answer stale (then this drop
    /// is the message's last; the caller must stay sound either way).
    pub fn base_shared(&self) -> bool {
        // The list's own shared element part holds the base too, once made: that is no other
        // holder unless an element handle holds the part.
        let own = match self.elements.get() {
            Some(e) if Arc::strong_count(e) == 1 && self.base.is(&e.base) => 2,
            _ => 1,
        };
        // A lent base is held by the struct handle it was borrowed from, which outlives this.
        self.base
            .own()
            .is_none_or(|base| Arc::strong_count(base) > own)
    }

    fn child_base(&self) -> &Arc<ReaderBase> {
        child_base_of(self.pending.as_ref(), &self.base, &self.full)
    }

    /// The whole path from the root to this list.
    fn path(&self) -> crate::message::Path {
        self.child_base().steps.clone()
    }

    /// The base and schema of struct element `id`'s handles: the list's shared pair when
    /// its element schema is known, else (a registry with placeholders) looked up again.
    fn element_base(&self, id: u64) -> Result<StructBase<ReaderBase>> {
        match self.struct_elements() {
            Some(e) => Ok(StructBase::Element(e.clone())),
            None => Ok(StructBase::own(
                self.child_base().clone(),
                self.base.registry.get_struct(id)?,
            )),
        }
    }

    /// What its struct elements share (made once), when the element schema is known.
    fn struct_elements(&self) -> Option<&Arc<Elements<ReaderBase>>> {
        let schema = self.elem_schema.as_ref()?;
        Some(self.elements.get_or_init(|| {
            // The list's own base and pending hop: no base with the hop appended is made.
            Arc::new(Elements::new(
                self.base.counted(),
                self.pending.clone(),
                schema.clone(),
            ))
        }))
    }

    fn struct_schema(&self, id: u64) -> Result<Arc<crate::schema::StructSchema>> {
        match &self.elem_schema {
            Some(s) => Ok(s.clone()),
            None => self.base.registry.get_struct(id),
        }
    }

    /// Records the list's resolved location (only meaningful for reader backings).
    pub(crate) fn at(mut self, at: Option<ListAt>) -> Self {
        if matches!(self.base.backing, Backing::Reader(_)) {
            self.at = at;
            self.scalar = at.and_then(|at| self.scalar_at(at));
        }
        self
    }

    /// Where a list of Bool or numbers keeps its elements, when it is encoded at exactly its
    /// element type's width (anything else, e.g. an upgraded struct list, takes capnp's path).
    fn scalar_at(&self, at: ListAt) -> Option<ScalarAt> {
        if self.elem.is_pointer() || matches!(self.elem, Type::Void | Type::Enum(_)) {
            return None;
        }
        let bits = self.elem.data_bits();
        let (start, end) = at.prim_range(bits)?;
        Some(ScalarAt {
            seg: at.segment(),
            start,
            end,
            len: at.len(),
            bits,
        })
    }

    /// Whether the list is of Bool or numbers and its elements' location is resolved
    /// (`scalar_bits` then reads them; cannot fail or panic).
    #[inline(always)]
    pub fn is_scalar_located(&self) -> bool {
        self.scalar.is_some()
    }

    /// The element bytes of a located list of Bool or numbers (`scalar_at`), in place.
    fn scalar_bytes(&self) -> Option<(ScalarAt, &[u8])> {
        let sc = self.scalar?;
        let Backing::Reader(m) = &self.base.backing else {
            return None;
        };
        Some((sc, m.segment(sc.seg)?.get(sc.start..sc.end)?))
    }

    /// The same handle without its resolved location (tests compare both paths).
    #[doc(hidden)]
    pub fn without_location(&self) -> Self {
        let mut l = self.clone();
        l.at = None;
        l.scalar = None;
        l
    }

    /// The list's resolved location and the message it is in (reader-backed handles).
    pub(crate) fn location(&self) -> Option<(ListAt, &crate::message::MessageReader)> {
        let at = self.at?;
        match &self.base.backing {
            Backing::Reader(m) => Some((at, m)),
            Backing::Builder(_) => None,
        }
    }

    fn fast(&self) -> Option<(ListAt, &[u8])> {
        let at = self.at?;
        match &self.base.backing {
            Backing::Reader(m) => Some((at, m.segment(at.segment()).unwrap_or_default())),
            Backing::Builder(_) => None,
        }
    }

    /// `get` through the resolved location; `None` when it needs capnp's walk.
    fn fast_get(&self, index: i64) -> Result<Option<Value>> {
        let Some((at, seg)) = self.fast() else {
            return Ok(None);
        };
        if let Type::Struct(_) = self.elem {
            let element = self.struct_element(index)?;
            return Ok(element.map(|s| Value::Struct(StructValue::Reader(s))));
        }
        let i = resolve(index, at.len())?;
        Ok(match &self.elem {
            Type::Text | Type::Data => {
                let text = self.elem == Type::Text;
                let Some(bytes) = at.blob(seg, i, text) else {
                    return Ok(None);
                };
                self.base.backing.charge_blob(bytes.len(), text)?;
                let bytes = bytes.to_vec();
                Some(if text {
                    Value::Text(bytes)
                } else {
                    Value::Data(bytes)
                })
            }
            Type::List(inner) => {
                let shape = list_shape(inner, &self.base.registry)?;
                let Some(child) = expected_size(shape).and_then(|es| at.child_list(seg, i, es))
                else {
                    return Ok(None);
                };
                self.base.backing.charge(shape_words(shape, child.len()))?;
                let step = Step {
                    hop: Hop::Elem(i),
                    shape,
                    default: None,
                };
                Some(Value::List(ListValue::Reader(
                    ListReader::child(self.child_base().clone(), step, (**inner).clone())
                        .at(Some(child)),
                )))
            }
            ty if !ty.is_pointer() => at
                .bits(seg, ty.data_bits(), i)
                .map(|bits| decode_data(ty, bits)),
            _ => None,
        })
    }

    pub fn element_type(&self) -> &Type {
        &self.elem
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.base.registry
    }

    /// Element `index` (negative counts from the end) of a list of structs as a handle made
    /// from the resolved location; `Ok(None)` when the list is of another kind or needs
    /// capnp's path (`get` then reads it).
    pub fn struct_element(&self, index: i64) -> Result<Option<StructReader>> {
        self.struct_element_with(index, Self::element_base)
    }

    /// `struct_element` with the element's base and schema made by `shared`.
    fn struct_element_with(
        &self,
        index: i64,
        shared: impl FnOnce(&Self, u64) -> Result<StructBase<ReaderBase>>,
    ) -> Result<Option<StructReader>> {
        let Type::Struct(id) = self.elem else {
            return Ok(None);
        };
        let Some(at) = self
            .at
            .filter(|_| matches!(self.base.backing, Backing::Reader(_)))
        else {
            return Ok(None);
        };
        let i = resolve(index, at.len())?;
        let Some(sat) = at.struct_at(i) else {
            return Ok(None);
        };
        let shared = shared(self, id)?;
        let step = Step {
            hop: Hop::Elem(i),
            shape: Shape::Struct(shared.schema().size()),
            default: None,
        };
        Ok(Some(StructReader::element(shared, step, sat)))
    }

    /// Raw bits of element `index` (negative counts from the end) of a list of Bool or
    /// numbers (not enums), read through the resolved location; `Ok(None)` when the list is
    /// of another kind or needs capnp's path (`get` then reads it). Errors as `get`'s.
    pub fn scalar_bits(&self, index: i64) -> Result<Option<u64>> {
        let Some((sc, bytes)) = self.scalar_bytes() else {
            return Ok(None);
        };
        let i = resolve(index, sc.len)?;
        Ok(Some(crate::coords::prim_element(bytes, sc.bits, i)))
    }

    /// `scalar_bits` answering only a located element within range, `None` otherwise (the
    /// caller then takes `scalar_bits`, which raises for an index out of range). Never
    /// panics.
    #[inline(always)]
    pub fn scalar_bits_quick(&self, index: i64) -> Option<u64> {
        let (sc, bytes) = self.scalar_bytes()?;
        let i = resolve(index, sc.len).ok()?;
        Some(crate::coords::prim_element(bytes, sc.bits, i))
    }

    /// Every element of a list of Bool or numbers as raw bits, read in one pass through the
    /// resolved location (the segment found once); `None` when `scalar_bits` declines (it
    /// then declines for every element).
    pub fn scalar_bits_all(&self) -> Option<ScalarBits<'_>> {
        let (sc, bytes) = self.scalar_bytes()?;
        Some(ScalarBits {
            bytes,
            bits: sc.bits,
            next: 0,
            len: sc.len,
        })
    }

    /// `f(i, bytes)` for every element `i` of a list of Text or Data, in order, with the
    /// bytes read in place (Text without its NUL) and charged as `with_blob_element` does,
    /// the segment found once; `bytes` is `None` for an element `get` must read. Stops at
    /// the first error. `Ok(false)` (nothing called) when the list is of another kind or not
    /// located.
    pub fn for_each_blob<E: From<Error>>(
        &self,
        mut f: impl FnMut(u32, Option<&[u8]>) -> std::result::Result<(), E>,
    ) -> std::result::Result<bool, E> {
        let Some(text) = self.elem.blob_kind() else {
            return Ok(false);
        };
        let Some((at, seg)) = self.fast() else {
            return Ok(false);
        };
        for i in 0..at.len() {
            let bytes = at.blob(seg, i, text);
            if let Some(bytes) = bytes {
                self.base.backing.charge_blob(bytes.len(), text)?;
            }
            f(i, bytes)?;
        }
        Ok(true)
    }

    /// `f` over the bytes of Text or Data element `index` (Text without its NUL), read in
    /// place through the resolved location and charged as `get` charges it; `Ok(None)` when
    /// the list is of another kind or the element needs capnp's path (`get` then reads it).
    pub fn with_blob_element<R>(
        &self,
        index: i64,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>> {
        let Some(text) = self.elem.blob_kind() else {
            return Ok(None);
        };
        let Some((at, seg)) = self.fast() else {
            return Ok(None);
        };
        let i = resolve(index, at.len())?;
        let Some(bytes) = at.blob(seg, i, text) else {
            return Ok(None);
        };
        self.base.backing.charge_blob(bytes.len(), text)?;
        Ok(Some(f(bytes)))
    }

    pub(crate) fn with_loc<R>(&self, f: impl FnOnce(RLoc<'_>) -> Result<R>) -> Result<R> {
        match &self.pending {
            None => self.base.backing.with_loc(&self.base.steps, f),
            Some(_) => self.base.backing.with_loc(&self.child_base().steps, f),
        }
    }

    pub(crate) fn backing(&self) -> &Backing {
        &self.base.backing
    }

    pub(crate) fn steps(&self) -> crate::message::Path {
        self.path()
    }

    /// The length when the list's location is resolved (no walk, cannot fail or panic).
    pub fn recorded_len(&self) -> Option<u32> {
        self.at.map(|at| at.len())
    }

    #[inline]
    pub fn len(&self) -> Result<u32> {
        if let Some(at) = self.at {
            return Ok(at.len());
        }
        self.with_loc(|loc| {
            Ok(match loc {
                RLoc::PrimList(l) => l.len(),
                RLoc::PtrList(l) => l.len(),
                RLoc::StructList(l) => l.len(),
                RLoc::Struct(_) => return Err(Error::TypeMismatch),
            })
        })
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Element `index` (negative counts from the end).
    pub fn get(&self, index: i64) -> Result<Value> {
        if let Some(v) = self.fast_get(index)? {
            return Ok(v);
        }
        self.with_loc(|loc| match loc {
            RLoc::PrimList(l) => {
                let i = resolve(index, l.len())?;
                Ok(decode_data(&self.elem, read_list_bits(&l, &self.elem, i)))
            }
            RLoc::StructList(l) => {
                let i = resolve(index, l.len())?;
                let Type::Struct(id) = self.elem else {
                    return Err(Error::TypeMismatch);
                };
                let schema = self.struct_schema(id)?;
                let step = Step {
                    hop: Hop::Elem(i),
                    shape: Shape::Struct(schema.size()),
                    default: None,
                };
                let at = match &self.base.backing {
                    Backing::Reader(m) => l.try_get(i).and_then(|e| m.locate(e.0, 0)),
                    Backing::Builder(_) => None,
                };
                Ok(Value::Struct(StructValue::Reader(
                    StructReader::new(
                        self.base.backing.clone(),
                        push_step(&self.path(), step),
                        schema,
                        self.base.registry.clone(),
                        false,
                    )
                    .at(at),
                )))
            }
            RLoc::PtrList(l) => {
                let i = resolve(index, l.len())?;
                let pr = l.get(i).get_as::<RawPtr<'_>>()?.0;
                self.read_pointer(pr, i)
            }
            RLoc::Struct(_) => Err(Error::TypeMismatch),
        })
    }

    fn read_pointer(&self, pr: PointerReader<'_>, i: u32) -> Result<Value> {
        // A null element reads as empty, which the reference does not charge.
        let null = pr.is_null();
        Ok(match &self.elem {
            Type::Text => {
                let bytes = pr.get_text(None)?.as_bytes().to_vec();
                if !null {
                    self.base.backing.charge_blob(bytes.len(), true)?;
                }
                Value::Text(bytes)
            }
            Type::Data => {
                let bytes = pr.get_data(None)?.to_vec();
                if !null {
                    self.base.backing.charge_blob(bytes.len(), false)?;
                }
                Value::Data(bytes)
            }
            Type::Interface(_) => Value::Capability(crate::cap::read_cap(
                pr,
                self.base.backing.caps().as_deref(),
            )),
            Type::List(inner) => {
                let shape = list_shape(inner, &self.base.registry)?;
                let loc = follow_reader(pr, shape, None)?;
                if !null {
                    self.base.backing.charge_loc(&loc, shape)?;
                }
                let step = Step {
                    hop: Hop::Elem(i),
                    shape,
                    default: None,
                };
                let at = match &self.base.backing {
                    Backing::Reader(m) => m.locate_list(&loc),
                    Backing::Builder(_) => None,
                };
                Value::List(ListValue::Reader(
                    ListReader::new(
                        self.base.backing.clone(),
                        push_step(&self.path(), step),
                        (**inner).clone(),
                        self.base.registry.clone(),
                    )
                    .at(at),
                ))
            }
            Type::AnyPointer => {
                let step = Step {
                    hop: Hop::Elem(i),
                    shape: Shape::PtrList,
                    default: None,
                };
                Value::AnyPointer(AnyPointerValue::Reader(AnyPointerReader::new(
                    self.base.backing.clone(),
                    push_step(&self.path(), step),
                    self.base.registry.clone(),
                )))
            }
            _ => return Err(Error::TypeMismatch),
        })
    }
}

#[derive(Clone)]
pub struct ListBuilder {
    /// The message, registry, path and root size, shared with the struct or list it came
    /// from (counted, or borrowed from the struct handle it was read from: `lent.rs`).
    base: lent::ListBase<BuilderBase>,
    /// A last hop not yet appended to the base's path (see `StructBuilder`).
    pending: Option<Step>,
    /// The base of this list's children (its own path), made once (see `ListReader`; struct
    /// elements with a known schema need none).
    full: OnceLock<Arc<BuilderBase>>,
    /// This list's base and pending hop with the element schema (struct lists), shared by
    /// every element handle.
    elements: OnceLock<Arc<Elements<BuilderBase>>>,
    /// The same, made with the list (`fresh_child`) and then used instead: setting a
    /// `OnceLock`, even when it is made, goes through its `Once` (~80 instructions).
    fresh: Option<Arc<Elements<BuilderBase>>>,
    elem: Type,
    /// The element width of a list of Bool or numbers (`scalar_bits`), 0 for other kinds.
    prim_bits: u32,
    /// The element schema of a struct list, looked up once per handle.
    elem_schema: Option<Arc<crate::schema::StructSchema>>,
    /// Where its elements were last found, and when (arena.rs).
    cache: ListCache,
}

impl std::fmt::Debug for ListBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<list builder of {:?}>", self.elem)
    }
}

impl ListBuilder {
    pub(crate) fn new(
        message: MessageBuilder,
        root_size: StructSize,
        steps: crate::message::Path,
        elem: Type,
        registry: Arc<Registry>,
    ) -> Self {
        ListBuilder::on(
            BuilderBase::new(message, registry, steps, root_size).into(),
            None,
            elem,
        )
    }

    /// A child list on its parent's base, with `hop` pending (no path copied now).
    pub(crate) fn child(
        base: impl Into<lent::ListBase<BuilderBase>>,
        hop: Step,
        elem: Type,
    ) -> Self {
        ListBuilder::on(base.into(), Some(hop), elem)
    }

    /// `child` with the element schema the caller found (what `element_schema` gives for
    /// `elem`), so making the handle looks nothing up in the registry.
    pub(crate) fn child_with(
        base: impl Into<lent::ListBase<BuilderBase>>,
        hop: Step,
        elem: Type,
        elem_schema: Option<Arc<crate::schema::StructSchema>>,
    ) -> Self {
        ListBuilder::with_schema(base.into(), Some(hop), elem, elem_schema)
    }

    fn on(base: lent::ListBase<BuilderBase>, pending: Option<Step>, elem: Type) -> Self {
        let elem_schema = element_schema(&elem, &base.registry);
        ListBuilder::with_schema(base, pending, elem, elem_schema)
    }

    /// `child_with` for a list just made (`init`), whose elements are about to be used: a
    /// struct list's shared element part made now (`fresh`), where making it on first use
    /// (a `OnceLock` initialized through its `Once`) costs more.
    #[inline(always)]
    pub(crate) fn fresh_child(
        base: impl Into<lent::ListBase<BuilderBase>>,
        hop: Step,
        elem: Type,
        elem_schema: Option<Arc<crate::schema::StructSchema>>,
    ) -> Self {
        let mut list = ListBuilder::with_schema(base.into(), Some(hop), elem, elem_schema);
        if let Some(schema) = &list.elem_schema {
            list.fresh = Some(Arc::new(Elements::new(
                list.base.counted(),
                list.pending.clone(),
                schema.clone(),
            )));
        }
        list
    }

    #[inline(always)]
    fn with_schema(
        base: lent::ListBase<BuilderBase>,
        pending: Option<Step>,
        elem: Type,
        elem_schema: Option<Arc<crate::schema::StructSchema>>,
    ) -> Self {
        let prim_bits = if elem.is_pointer() || matches!(elem, Type::Void | Type::Enum(_)) {
            0
        } else {
            elem.data_bits()
        };
        ListBuilder {
            base,
            pending,
            full: OnceLock::new(),
            elements: OnceLock::new(),
            fresh: None,
            elem,
            prim_bits,
            elem_schema,
            cache: ListCache::default(),
        }
    }

    /// The base its children share: its own, or one with the pending hop appended (once).
    /// Whether another handle (or a child's base) holds this handle's base too, so dropping
    /// this handle does not drop the message. Read without synchronization: another thread
    /// dropping its reference at the same moment can make the answer stale (then this drop
    /// is the message's last; the caller must stay sound either way).
    pub fn base_shared(&self) -> bool {
        // The list's own shared element part holds the base too, once made: that is no other
        // holder unless an element handle holds the part.
        let own = match self.fresh.as_ref().or_else(|| self.elements.get()) {
            Some(e) if Arc::strong_count(e) == 1 && self.base.is(&e.base) => 2,
            _ => 1,
        };
        // A lent base is held by the struct handle it was borrowed from, which outlives this.
        self.base
            .own()
            .is_none_or(|base| Arc::strong_count(base) > own)
    }

    /// The message the list is in.
    pub fn message(&self) -> &MessageBuilder {
        &self.base.message
    }

    fn child_base(&self) -> &Arc<BuilderBase> {
        child_base_of(self.pending.as_ref(), &self.base, &self.full)
    }

    /// The whole path from the root to this list.
    fn path(&self) -> crate::message::Path {
        self.child_base().steps.clone()
    }

    /// Where `loc`'s elements are (struct lists: with this list's element data size).
    fn elements(&self, loc: &mut BLoc<'_>) -> Option<ElemsAt> {
        let table = &self.base.message.segments;
        match loc {
            BLoc::PrimList(l) => ElemsAt::locate(table, RawListReader(l.reborrow().into_reader())),
            BLoc::PtrList(l) => ElemsAt::locate(table, l.reborrow().into_reader()),
            BLoc::StructList(l) => {
                let r = l.reborrow().into_reader();
                // The elements' actual data size (where their pointer sections start).
                let actual =
                    (!r.is_empty()).then(|| capnp::raw::get_struct_data_section(r.get(0)).len());
                ElemsAt::locate(table, r)?
                    .with_struct_data(self.elem_schema.as_ref()?.data_words, actual)
            }
            BLoc::Struct(_) => None,
        }
    }

    /// The same handle with `loc` (its list, found under the message lock at the current
    /// generation) recorded.
    /// The same handle with its elements `at` recorded as current at `generation` (found
    /// through the parent's recorded location under the message lock at that generation).
    pub(crate) fn recorded(self, generation: u64, at: ElemsAt) -> Self {
        self.cache.set(generation, Some(at));
        self
    }

    /// As [`ListBuilder::recorded`], `None` recorded as "not located".
    #[inline(always)]
    pub(crate) fn recorded_at(self, generation: u64, at: Option<ElemsAt>) -> Self {
        self.cache.set(generation, at);
        self
    }

    pub(crate) fn located(self, mut loc: BLoc<'_>) -> Self {
        let at = self.elements(&mut loc);
        self.cache.set(self.base.message.generation(), at);
        self
    }

    pub fn element_type(&self) -> &Type {
        &self.elem
    }

    fn with_loc<R>(&self, f: impl FnOnce(BLoc<'_>) -> Result<R>) -> Result<R> {
        let (steps, last) = (&self.base.steps, self.pending.as_ref());
        with_builder_loc_then(
            &self.base.message,
            self.base.root_size,
            steps,
            last,
            |mut loc| {
                // Nothing `f` does moves the list itself, so its location stays current until
                // the next lock.
                let at = self.elements(&mut loc);
                self.cache.set(self.base.message.generation(), at);
                f(loc)
            },
        )
    }

    /// The recorded elements and their generation when current, read without the lock
    /// (arena.rs `ListCache::peek`).
    fn peek_at(&self) -> Option<(u64, ElemsAt)> {
        let current = self.base.message.generation_unlocked();
        self.cache.peek(current).map(|at| (current, at))
    }

    fn peek(&self) -> Option<ElemsAt> {
        self.peek_at().map(|(_, at)| at)
    }

    /// Runs `f` on the recorded elements under the lock (`Ok(None)`: none recorded, walk).
    fn with_fast<R>(
        &self,
        f: impl FnOnce(&Held<'_>, ElemsAt) -> Result<Option<R>>,
    ) -> Result<Option<R>> {
        let held = self.base.message.lock_fast()?;
        match self.cache.get(&held) {
            Some(at) => f(&held, at),
            None => Ok(None),
        }
    }

    /// A reader over the same memory.
    pub fn as_reader(&self) -> ListReader {
        ListReader::new(
            Backing::Builder(self.base.message.clone()),
            self.path(),
            self.elem.clone(),
            self.base.registry.clone(),
        )
    }

    /// The length when the recorded elements are current, read without the lock (no walk,
    /// cannot fail or panic).
    pub fn recorded_len(&self) -> Option<u32> {
        self.peek().map(|at| at.len())
    }

    pub fn len(&self) -> Result<u32> {
        if let Some(at) = self.peek() {
            return Ok(at.len());
        }
        if let Some(n) = self.with_fast(|_, at| Ok(Some(at.len())))? {
            return Ok(n);
        }
        self.with_loc(|loc| {
            Ok(match loc {
                BLoc::PrimList(l) => l.len(),
                BLoc::PtrList(l) => l.len(),
                BLoc::StructList(l) => l.len(),
                BLoc::Struct(_) => return Err(Error::TypeMismatch),
            })
        })
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Raw bits of element `index` (negative counts from the end) of a list of Bool or
    /// numbers (not enums), read through the recorded location; `Ok(None)` when the list is
    /// of another kind or its location is not current (`get` then reads it).
    pub fn scalar_bits(&self, index: i64) -> Result<Option<u64>> {
        if self.elem.is_pointer() || matches!(self.elem, Type::Void | Type::Enum(_)) {
            return Ok(None);
        }
        self.with_fast(|held, at| {
            let i = resolve(index, at.len())?;
            Ok(at.read(held, self.elem.data_bits(), i))
        })
    }

    /// `scalar_bits`, without the message lock when the caller has excluded every other access
    /// to the message (`excluded`, [`crate::Excluded`]) and a location is current; otherwise
    /// (none current, a retired or walk-only message, a volatile one, whose memory Python code
    /// may write or whose lock may be held while Python code runs) as `scalar_bits`.
    pub fn scalar_bits_excluded(
        &self,
        excluded: Option<&crate::Excluded>,
        index: i64,
    ) -> Result<Option<u64>> {
        if let Some(excluded) = excluded {
            if let Some(bits) = self.scalar_bits_unlocked(excluded, index)? {
                return Ok(Some(bits));
            }
        }
        self.scalar_bits(index)
    }

    /// Whether the list is of Bool or numbers (those `scalar_bits_quick` may read).
    #[inline(always)]
    pub fn is_scalar(&self) -> bool {
        self.prim_bits != 0
    }

    /// `scalar_bits_excluded`'s read without the lock alone: `None` when it does not apply
    /// and for an index out of range (the caller then takes the full read). Never panics.
    #[inline(always)]
    pub fn scalar_bits_quick(&self, excluded: &crate::Excluded, index: i64) -> Option<u64> {
        let at = self.prim_at_unlocked(excluded)?;
        let i = resolve(index, at.len()).ok()?;
        at.read(excluded, i)
    }

    /// `scalar_bits_excluded`'s read without the lock; `Ok(None)` when it does not apply.
    fn scalar_bits_unlocked(&self, excluded: &crate::Excluded, index: i64) -> Result<Option<u64>> {
        let Some(at) = self.prim_at_unlocked(excluded) else {
            return Ok(None);
        };
        let i = resolve(index, at.len())?;
        Ok(at.read(excluded, i))
    }

    /// The recorded elements of a list of Bool or numbers, when current, for a caller
    /// holding [`crate::Excluded`]; `None` otherwise (and for a volatile message).
    #[inline(always)]
    fn prim_at_unlocked(&self, excluded: &crate::Excluded) -> Option<crate::arena::PrimAt> {
        if self.prim_bits == 0 || self.base.message.is_volatile() {
            return None;
        }
        let current = self.base.message.generation_unlocked();
        self.cache.prim_excluded(excluded, current, self.prim_bits)
    }

    /// Element `index` (negative counts from the end) of a list of structs as a handle made
    /// from the recorded location; `Ok(None)` when the list is of another kind or its
    /// location is not current (`get` then reads it).
    pub fn struct_element_fast(&self, index: i64) -> Result<Option<StructBuilder>> {
        self.struct_element_fast_with(index, Self::element_base)
    }

    /// `struct_element_fast` with the element's base and schema made by `shared`.
    fn struct_element_fast_with(
        &self,
        index: i64,
        shared: impl FnOnce(&Self, u64) -> Result<StructBase<BuilderBase>>,
    ) -> Result<Option<StructBuilder>> {
        if !matches!(self.elem, Type::Struct(_)) {
            return Ok(None);
        }
        // Without the lock when the recorded elements are current: the element's handle
        // only records its address (at that generation), which it uses under the lock.
        if let Some((generation, at)) = self.peek_at() {
            if at.size() == ElementSize::InlineComposite {
                let i = resolve(index, at.len())?;
                let child = self.struct_element_with(i, shared)?;
                return Ok(Some(child.located(generation, at.struct_data(i))));
            }
        }
        self.with_fast(|held, at| {
            let i = resolve(index, at.len())?;
            // A list of primitives stored as structs (an older schema's message) reads
            // through the walk.
            if at.size() != ElementSize::InlineComposite {
                return Ok(None);
            }
            let child = self.struct_element_with(i, shared)?;
            Ok(Some(child.located(held.generation, at.struct_data(i))))
        })
    }

    /// Hands Text/Data element `index`'s bytes to `f` straight from the message, through the
    /// recorded elements under the message lock (arena.rs `ElemsAt::read_pointer`): no walk,
    /// and the generation kept. `Ok(None)` when this path does not apply and `get` must read
    /// the element (another element type, no current location, anything capnp's reader
    /// refuses: `get` then raises its builder's error); an index out of range raises as `get`.
    pub fn with_blob_element<R>(
        &self,
        index: i64,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>> {
        let Some(text) = self.elem.blob_kind() else {
            return Ok(None);
        };
        let mut held = self.base.message.lock_fast()?;
        let Some(at) = self.cache.get(&held) else {
            return Ok(None);
        };
        let i = resolve(index, at.len())?;
        if let Some(bytes) = at.blob_in_place(&held, i, text) {
            return Ok(Some(f(bytes)));
        }
        Ok(at
            .read_pointer(&mut held, i, |pr| {
                let bytes: &[u8] = if text {
                    pr.get_text(None).ok()?.as_bytes()
                } else {
                    pr.get_data(None).ok()?
                };
                Some(f(bytes))
            })
            .flatten())
    }

    /// `with_blob_element` without the message lock when the caller has excluded every other
    /// access to the message (`excluded`, [`crate::Excluded`]) and [`Self::blob_element_unlocked`]
    /// answers; otherwise (no proof, or that read declines) as `with_blob_element`.
    #[inline(always)]
    pub fn with_blob_element_excluded<R>(
        &self,
        excluded: Option<&crate::Excluded>,
        index: i64,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>> {
        let mut f = Some(f);
        if let Some(excluded) = excluded {
            let read =
                self.blob_element_unlocked(excluded, index, |bytes| f.take().map(|f| f(bytes)))?;
            if let Some(Some(r)) = read {
                return Ok(Some(r));
            }
        }
        match f {
            Some(f) => self.with_blob_element(index, f),
            None => Ok(None),
        }
    }

    /// Hands Text/Data element `index`'s bytes to `f` straight from the message without the
    /// lock, for a caller holding [`crate::Excluded`]: when the list's location is current, its
    /// elements lie in the first segment and the element is null or a list of bytes within
    /// its used words (arena.rs `BlobsAt::blob_excluded`). `Ok(None)`, `f` not
    /// called, otherwise (another element type, none current, a retired, walk-only or
    /// volatile message, anything else); an index out of range raises as `get`.
    pub fn blob_element_unlocked<R>(
        &self,
        excluded: &crate::Excluded,
        index: i64,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>> {
        let Some(text) = self.elem.blob_kind() else {
            return Ok(None);
        };
        if self.base.message.is_volatile() {
            return Ok(None);
        }
        let current = self.base.message.generation_unlocked();
        let Some(at) = self.cache.blobs_excluded(excluded, current) else {
            return Ok(None);
        };
        let i = resolve(index, at.len())?;
        let table = &self.base.message.segments;
        Ok(at.blob_excluded(excluded, table, i, text).map(f))
    }

    pub fn get(&self, index: i64) -> Result<Value> {
        if matches!(self.elem, Type::Struct(_)) {
            if let Some(child) = self.struct_element_fast(index)? {
                return Ok(Value::Struct(StructValue::Builder(child)));
            }
        } else if let Some(text) = self.elem.blob_kind() {
            let fast = self.with_blob_element(index, |bytes| match text {
                true => Value::Text(bytes.to_vec()),
                false => Value::Data(bytes.to_vec()),
            })?;
            if let Some(v) = fast {
                return Ok(v);
            }
        } else {
            let fast = self.with_fast(|held, at| {
                let i = resolve(index, at.len())?;
                Ok(at
                    .read(held, self.elem.data_bits(), i)
                    .map(|bits| decode_data(&self.elem, bits)))
            })?;
            if let Some(v) = fast {
                return Ok(v);
            }
        }
        self.with_loc(|loc| match loc {
            BLoc::PrimList(l) => {
                let i = resolve(index, l.len())?;
                Ok(decode_data(
                    &self.elem,
                    read_list_builder_bits(&l, &self.elem, i),
                ))
            }
            mut loc @ BLoc::StructList(_) => {
                let elems = self.elements(&mut loc);
                let BLoc::StructList(l) = loc else {
                    return Err(Error::TypeMismatch);
                };
                let i = resolve(index, l.len())?;
                let at = elems.and_then(|e| e.struct_data(i));
                let child = self.struct_element(i)?;
                Ok(Value::Struct(StructValue::Builder(
                    child.located(self.base.message.generation(), at),
                )))
            }
            BLoc::PtrList(l) => {
                let i = resolve(index, l.len())?;
                let pb = l.get(i).get_as::<RawPtrBuilder<'_>>()?.0;
                self.read_pointer(pb, i)
            }
            BLoc::Struct(_) => Err(Error::TypeMismatch),
        })
    }

    fn struct_element(&self, i: u32) -> Result<StructBuilder> {
        self.struct_element_with(i, Self::element_base)
    }

    /// The base and schema of struct element `id`'s handles (as `ListReader::element_base`).
    fn element_base(&self, id: u64) -> Result<StructBase<BuilderBase>> {
        match self.struct_elements() {
            Some(e) => Ok(StructBase::Element(e.clone())),
            None => Ok(StructBase::own(
                self.child_base().clone(),
                self.base.registry.get_struct(id)?,
            )),
        }
    }

    /// What its struct elements share (made once), when the element schema is known.
    fn struct_elements(&self) -> Option<&Arc<Elements<BuilderBase>>> {
        if let Some(made) = &self.fresh {
            return Some(made);
        }
        let schema = self.elem_schema.as_ref()?;
        Some(self.elements.get_or_init(|| {
            // The list's own base and pending hop: no base with the hop appended is made.
            Arc::new(Elements::new(
                self.base.counted(),
                self.pending.clone(),
                schema.clone(),
            ))
        }))
    }

    fn struct_element_with(
        &self,
        i: u32,
        shared: impl FnOnce(&Self, u64) -> Result<StructBase<BuilderBase>>,
    ) -> Result<StructBuilder> {
        let Type::Struct(id) = self.elem else {
            return Err(Error::TypeMismatch);
        };
        let shared = shared(self, id)?;
        let step = Step {
            hop: Hop::Elem(i),
            shape: Shape::Struct(shared.schema().size()),
            default: None,
        };
        Ok(StructBuilder::element(shared, Some(step)))
    }

    fn read_pointer(&self, pb: PointerBuilder<'_>, i: u32) -> Result<Value> {
        Ok(match &self.elem {
            Type::Text => Value::Text(pb.get_text(None)?.as_bytes().to_vec()),
            Type::Data => Value::Data(pb.get_data(None)?.to_vec()),
            Type::Interface(_) => {
                let caps = self
                    .base
                    .message
                    .has_cap_context()
                    .then(|| self.base.message.caps());
                Value::Capability(crate::cap::read_cap(pb.into_reader(), caps.as_deref()))
            }
            Type::List(inner) => {
                let shape = list_shape(inner, &self.base.registry)?;
                follow_builder(pb, shape, None)?;
                Value::List(ListValue::Builder(self.child_list(i, shape, inner)))
            }
            Type::AnyPointer => {
                let step = Step {
                    hop: Hop::Elem(i),
                    shape: Shape::PtrList,
                    default: None,
                };
                Value::AnyPointer(AnyPointerValue::Builder(AnyPointerBuilder::new(
                    self.base.message.clone(),
                    self.base.root_size,
                    push_step(&self.path(), step),
                    self.base.registry.clone(),
                )))
            }
            _ => return Err(Error::TypeMismatch),
        })
    }

    fn child_list(&self, i: u32, shape: Shape, inner: &Type) -> ListBuilder {
        let step = Step {
            hop: Hop::Elem(i),
            shape,
            default: None,
        };
        ListBuilder::child(self.child_base().clone(), step, inner.clone())
    }

    /// Sets element `index` (negative counts from the end); structs and lists are deep-copied.
    pub fn set(&self, index: i64, value: SetValue<'_>) -> Result<()> {
        let snapshot = match value {
            SetValue::Struct(src) => {
                match self.elem {
                    Type::Struct(id)
                        if src.schema().id == id
                            && same_registry(src.registry(), &self.base.registry) => {}
                    Type::AnyPointer => {}
                    _ => return Err(Error::TypeMismatch),
                }
                Some(Snapshot::of_struct(src)?)
            }
            SetValue::List(src) => {
                match &self.elem {
                    Type::List(inner)
                        if **inner == *src.element_type()
                            && (!inner.has_node()
                                || same_registry(src.registry(), &self.base.registry)) => {}
                    Type::AnyPointer => {}
                    _ => return Err(Error::TypeMismatch),
                }
                Some(Snapshot::of_list(src)?)
            }
            SetValue::AnyPointer(src) => Some(src.snapshot()?),
            _ => None,
        };
        let bits = if self.elem.is_pointer() {
            0
        } else {
            let bits = encode_data(&self.elem, &value, &self.base.registry)?;
            let done = self.with_fast(|held, at| {
                let i = resolve(index, at.len())?;
                Ok(at.write(held, self.elem.data_bits(), i, bits).then_some(()))
            })?;
            if done.is_some() {
                return Ok(());
            }
            bits
        };
        if let Some(snap) = snapshot.as_ref().filter(|s| s.has_caps()) {
            if matches!(self.elem, Type::Struct(_)) {
                // A struct holding capabilities into a struct list: the element is copied
                // with both sides imbued, and the capabilities join this message's table.
                return snap.copy_into_struct_element(&self.base.message, |table, copy| {
                    let (steps, last) = (&self.base.steps, self.pending.as_ref());
                    with_builder_loc_imbued(
                        &self.base.message,
                        self.base.root_size,
                        steps,
                        last,
                        Some(table),
                        |loc| match loc {
                            BLoc::StructList(mut l) => {
                                let i = resolve(index, l.len())?;
                                copy(&mut l, i)
                            }
                            _ => Err(Error::TypeMismatch),
                        },
                    )
                });
            }
        }
        self.with_loc(|loc| match loc {
            BLoc::PrimList(l) => {
                let i = resolve(index, l.len())?;
                write_list_bits(&l, &self.elem, i, bits);
                Ok(())
            }
            BLoc::StructList(mut l) => {
                let i = resolve(index, l.len())?;
                let snap = snapshot.as_ref().ok_or(Error::TypeMismatch)?;
                let src = snap.root()?.get_struct(None)?;
                l.set_with_caveats(i, RawStructReader(src))?;
                Ok(())
            }
            BLoc::PtrList(l) => {
                let i = resolve(index, l.len())?;
                let pb = l.get(i).get_as::<RawPtrBuilder<'_>>()?.0;
                write_pointer(
                    pb,
                    &self.elem,
                    &value,
                    snapshot.as_ref(),
                    Some(&self.base.message),
                )
            }
            BLoc::Struct(_) => Err(Error::TypeMismatch),
        })
    }

    /// Moves an orphan's content into element `index` (a struct of a struct list, or any
    /// pointer element); the orphan is spent afterwards.
    pub fn adopt(&self, index: i64, orphan: &crate::orphan::Orphan) -> Result<()> {
        if !self.elem.is_pointer() || !orphan.fits(&self.elem, &self.base.registry) {
            return Err(Error::TypeMismatch);
        }
        let content = orphan.content()?;
        self.with_loc(|loc| match loc {
            BLoc::StructList(mut l) => {
                let i = resolve(index, l.len())?;
                let src = content.root()?.get_struct(None)?;
                l.set_with_caveats(i, RawStructReader(src))?;
                Ok(())
            }
            BLoc::PtrList(l) => {
                let i = resolve(index, l.len())?;
                content.copy_into(
                    l.get(i).get_as::<RawPtrBuilder<'_>>()?.0,
                    Some(&self.base.message),
                )
            }
            _ => Err(Error::TypeMismatch),
        })?;
        orphan.retire();
        Ok(())
    }

    /// Initialises element `index` of a list of lists, Text or Data with `size` elements.
    pub fn init(&self, index: i64, size: u32) -> Result<Value> {
        let shape = match &self.elem {
            Type::List(inner) => Some(list_shape(inner, &self.base.registry)?),
            Type::Text | Type::Data => None,
            _ => return Err(Error::InitWithSize),
        };
        match shape {
            Some(shape) => check_list_size(shape, size)?,
            None => check_blob_size(size as usize, self.elem == Type::Text)?,
        }
        let i = self.with_loc(|loc| match loc {
            BLoc::PtrList(l) => {
                let i = resolve(index, l.len())?;
                let pb = l.get(i).get_as::<RawPtrBuilder<'_>>()?.0;
                match shape {
                    Some(Shape::StructList(sz)) => {
                        pb.init_struct_list(size, sz);
                    }
                    Some(Shape::PrimList(es)) => {
                        pb.init_list(es, size);
                    }
                    Some(_) => {
                        pb.init_list(capnp::private::layout::ElementSize::Pointer, size);
                    }
                    None if self.elem == Type::Text => {
                        pb.init_text(size);
                    }
                    None => {
                        pb.init_data(size);
                    }
                }
                Ok(i)
            }
            _ => Err(Error::InitWithSize),
        })?;
        self.get(i64::from(i))
    }

    /// Replaces nothing: sets elements `0..values.len()` in order (the list must be long
    /// enough), as `set` on each, stopping at the first failure. Values that are not copies of
    /// structs, lists or AnyPointers are written under one walk and one lock.
    pub fn set_all(&self, values: &[SetValue<'_>]) -> Result<()> {
        let copies = |v: &SetValue<'_>| {
            matches!(
                v,
                SetValue::Struct(_) | SetValue::List(_) | SetValue::AnyPointer(_)
            )
        };
        let bulk = !values.iter().any(copies)
            && match &self.elem {
                Type::Text | Type::Data => true,
                ty => !ty.is_pointer(),
            };
        if !bulk {
            for (i, v) in values.iter().enumerate() {
                self.set(i as i64, *v)?;
            }
            return Ok(());
        }
        // Numbers and Bool through the recorded elements when they are current and of this
        // width (checked before anything is written), in the walk's order: each index checked,
        // each value encoded, then written.
        let bits = self.elem.data_bits();
        if bits > 0 {
            let done = self.with_fast(|held, at| {
                if at.len() > 0 && at.read(held, bits, 0).is_none() {
                    return Ok(None);
                }
                for (i, v) in values.iter().enumerate() {
                    let i = resolve(i as i64, at.len())?;
                    let value = encode_data(&self.elem, v, &self.base.registry)?;
                    at.write(held, bits, i, value);
                }
                Ok(Some(()))
            })?;
            if done.is_some() {
                return Ok(());
            }
        }
        self.with_loc(|loc| match loc {
            BLoc::PrimList(l) => {
                for (i, v) in values.iter().enumerate() {
                    let i = resolve(i as i64, l.len())?;
                    let bits = encode_data(&self.elem, v, &self.base.registry)?;
                    write_list_bits(&l, &self.elem, i, bits);
                }
                Ok(())
            }
            BLoc::PtrList(mut l) => {
                for (i, v) in values.iter().enumerate() {
                    let i = resolve(i as i64, l.len())?;
                    let pb = l.reborrow().get(i).get_as::<RawPtrBuilder<'_>>()?.0;
                    write_pointer(pb, &self.elem, v, None, Some(&self.base.message))?;
                }
                Ok(())
            }
            _ => Err(Error::TypeMismatch),
        })
    }
}

/// The elements of a list of Bool or numbers as raw bits ([`ListReader::scalar_bits_all`]).
#[derive(Debug)]
pub struct ScalarBits<'a> {
    bytes: &'a [u8],
    bits: u32,
    next: u32,
    len: u32,
}

impl Iterator for ScalarBits<'_> {
    type Item = u64;

    #[inline]
    fn next(&mut self) -> Option<u64> {
        if self.next >= self.len {
            return None;
        }
        let i = self.next;
        self.next += 1;
        Some(crate::coords::prim_element(self.bytes, self.bits, i))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.len - self.next) as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for ScalarBits<'_> {}
