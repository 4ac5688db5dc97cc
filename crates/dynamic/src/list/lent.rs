//! Struct list elements that borrow their list's shared part (`Elements`) instead of counting
//! a reference to it: the owner of the list handle keeps it alive (the binding: the element's
//! Python object holds the list's). Audited unsafe code; the argument is in
//! docs/ARCHITECTURE.md ("Unsafe code", "Lent elements").
//!
//! A counted reference costs an atomic increment when the element is made and a decrement
//! when it goes: measured, a sixth of indexing a struct list from Python.
//!
//! Also the cell in which a list's `Elements` keeps the part its elements' groups share
//! (`GroupCell`, "Group cell" in the same argument).

#![allow(unsafe_code)]

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use crate::error::Result;
use crate::message::{Elements, HandleBase, StructBase};
use crate::schema::{Registry, StructSchema};
use crate::struct_::{StructBuilder, StructReader};

/// The pointer an `Arc` holds, from `Arc::as_ptr`: it may be handed back to
/// `Arc::increment_strong_count` and `Arc::from_raw` (a pointer made from a reference to the
/// value, `&**arc`, may not: it covers the value only, not the counts beside it in the same
/// allocation, which Miri reports under both Stacked and Tree Borrows).
fn arc_pointer<T>(arc: &Arc<T>) -> NonNull<T> {
    // An `Arc`'s pointer is never null (`Arc::as_ptr` points into a live allocation).
    NonNull::new(Arc::as_ptr(arc).cast_mut()).unwrap_or_else(|| unreachable!())
}

/// A `&Elements<B>` without a lifetime: valid while the `Arc` it was made from lives, which
/// the maker of the handle holding it guarantees ([`LentElements::new`]).
pub(crate) struct LentElements<B: 'static>(NonNull<Elements<B>>);

// SAFETY: it stands for a shared reference to an `Elements<B>`, which is `Send` and `Sync`
// when `B` is (its fields are an `Arc<B>`, an `Option<Step>` (plain values and an
// `Arc<Vec<Word>>`), an `Arc<StructSchema>` and a `GroupCell<B>`, as an `Arc<Elements<B>>`).
unsafe impl<B: Send + Sync + 'static> Send for LentElements<B> {}
// SAFETY: as for `Send`.
unsafe impl<B: Send + Sync + 'static> Sync for LentElements<B> {}

impl<B: 'static> LentElements<B> {
    /// Borrows `elements` without counting.
    ///
    /// # Safety
    /// `elements` (the allocation, hence some `Arc` to it) must stay alive until the result
    /// and every handle holding it are dropped. Clones are counted ([`LentElements::counted`]).
    pub(crate) unsafe fn new(elements: &Arc<Elements<B>>) -> Self {
        LentElements(arc_pointer(elements))
    }

    pub(crate) fn get(&self) -> &Elements<B> {
        // SAFETY: the allocation outlives `self` (`new`'s contract). `Elements` is written
        // after it is made only through its `GroupCell` (an atomic, through `&`), so a shared
        // reference to it is what any `Arc` to it gives.
        unsafe { self.0.as_ref() }
    }

    /// A counted reference to the same `Elements` (for clones, which may outlive the owner).
    pub(crate) fn counted(&self) -> Arc<Elements<B>> {
        let ptr = self.0.as_ptr().cast_const();
        // SAFETY: `ptr` came from an `Arc<Elements<B>>` (`new`) whose allocation is alive
        // while `self` is (`new`'s contract), so its strong count is at least one: adding one
        // and taking ownership of that one is what `Arc::clone` does.
        unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }
}

impl super::ListReader {
    /// As [`struct_element`](Self::struct_element), but the handle borrows this list's
    /// shared part instead of counting a reference to it: one atomic increment and decrement
    /// less per element. Its clones are ordinary, counted handles.
    ///
    /// # Safety
    /// `self` must outlive the returned handle: the handle (which may be moved) must be
    /// dropped before `self` is dropped.
    pub unsafe fn struct_element_lent(&self, index: i64) -> Result<Option<StructReader>> {
        self.struct_element_with(index, |list, id| match list.struct_elements() {
            // SAFETY: `e` is owned by `list`'s `elements` cell, which is set once and never
            // replaced or taken while `list` lives; the caller keeps `list` alive until the
            // handle is dropped (this function's contract).
            Some(e) => Ok(StructBase::Lent(unsafe { LentElements::new(e) })),
            None => list.element_base(id),
        })
    }
}

impl super::ListBuilder {
    /// As [`struct_element_fast`](Self::struct_element_fast), with the element borrowing
    /// this list's shared part (as [`ListReader::struct_element_lent`](super::ListReader)).
    ///
    /// # Safety
    /// `self` must outlive the returned handle.
    pub unsafe fn struct_element_fast_lent(&self, index: i64) -> Result<Option<StructBuilder>> {
        self.struct_element_fast_with(index, |list, id| match list.struct_elements() {
            // SAFETY: as in `ListReader::struct_element_lent`.
            Some(e) => Ok(StructBase::Lent(unsafe { LentElements::new(e) })),
            None => list.element_base(id),
        })
    }
}

impl StructBuilder {
    /// The counted base `list_base` makes, or this struct's own base borrowed when the list's
    /// children may share it (`lendable_base`).
    ///
    /// # Safety
    /// `self` must outlive the returned base and every handle holding it.
    unsafe fn lent_list_base(&self) -> ListBase<crate::message::BuilderBase> {
        match self.lendable_base() {
            // SAFETY: the base is `self`'s (its `StructBase`'s counted `Arc`, or its list's
            // shared part's, which `self` keeps counted or, lent, is kept by `self`'s owner):
            // it lives while `self` does, which the caller keeps alive (the contract).
            Some(base) => unsafe { ListBase::lent(base) },
            None => self.list_base(),
        }
    }

    /// As [`list_fast`](Self::list_fast), with the list handle borrowing this struct's base
    /// instead of counting a reference to it when it can (`ListBase`): one atomic increment
    /// and decrement less per list handle. Its clones and children count theirs. Without the
    /// message lock when the caller holds [`Excluded`](crate::Excluded) and the lock is free.
    ///
    /// # Safety
    /// `self` must outlive the returned handle: the handle (which may be moved) must be
    /// dropped before `self` is dropped.
    pub unsafe fn list_fast_lent(
        &self,
        excluded: Option<&mut crate::Excluded>,
        index: usize,
    ) -> Result<Option<super::ListBuilder>> {
        // SAFETY: the caller keeps `self` alive until the handle is dropped (the contract).
        self.list_fast_with(excluded, index, |s| unsafe { s.lent_list_base() })
    }

    /// As [`init_list_fast`](Self::init_list_fast), the handle borrowing this struct's base
    /// as in [`list_fast_lent`](Self::list_fast_lent).
    ///
    /// # Safety
    /// As `list_fast_lent`'s.
    pub unsafe fn init_list_fast_lent(
        &self,
        excluded: Option<&mut crate::Excluded>,
        index: usize,
        n: u32,
    ) -> Result<Option<super::ListBuilder>> {
        // SAFETY: as in `list_fast_lent`.
        self.init_list_fast_with(excluded, index, n, |s| unsafe { s.lent_list_base() })
    }
}

impl StructReader {
    /// As [`StructBuilder`]'s `lent_list_base`.
    ///
    /// # Safety
    /// `self` must outlive the returned base and every handle holding it.
    unsafe fn lent_list_base(&self) -> ListBase<crate::message::ReaderBase> {
        match self.lendable_base() {
            // SAFETY: as in `StructBuilder::lent_list_base`.
            Some(base) => unsafe { ListBase::lent(base) },
            None => self.list_base(),
        }
    }

    /// As [`list_fast`](Self::list_fast), with the list handle borrowing this struct's base
    /// when it can (as [`StructBuilder::list_fast_lent`]).
    ///
    /// # Safety
    /// `self` must outlive the returned handle: the handle (which may be moved) must be
    /// dropped before `self` is dropped.
    pub unsafe fn list_fast_lent(&self, index: usize) -> Result<Option<super::ListReader>> {
        // SAFETY: the caller keeps `self` alive until the handle is dropped (the contract).
        self.list_fast_with(index, |s| unsafe { s.lent_list_base() })
    }
}

/// The `Elements` a list's elements' groups share (`Elements::group`): an owned `Arc` kept
/// as a raw pointer (null: none yet), set once and dropped with the cell. One atomic load
/// to read and one compare-and-swap to set, where a `OnceLock` took ~40 instructions to set
/// (an address book build's two `person.employment` reads then cost more than the one
/// allocation the cell spares).
/// (`Send` and `Sync` as the `Arc` it holds, through the marker.)
pub(crate) struct GroupCell<B: 'static>(
    AtomicPtr<Elements<B>>,
    std::marker::PhantomData<Arc<Elements<B>>>,
);

impl<B: 'static> GroupCell<B> {
    pub(crate) fn new() -> Self {
        GroupCell(
            AtomicPtr::new(std::ptr::null_mut()),
            std::marker::PhantomData,
        )
    }

    /// The kept `Elements` when it is the group `id`'s, counted.
    #[inline]
    pub(crate) fn get(&self, id: u64) -> Option<Arc<Elements<B>>> {
        let ptr = self.0.load(Ordering::Acquire);
        if ptr.is_null() {
            return None;
        }
        // SAFETY: a non-null pointer came from `Arc::into_raw` in `offer` (published with
        // `Release`, read with `Acquire`: the `Elements` it points to is initialized) and the
        // cell owns that count until it drops, which needs `&mut self`, so the allocation
        // is alive while `&self` is borrowed; reading it is what `&*Arc` does.
        let kept = unsafe { &*ptr };
        if kept.schema.id != id {
            return None;
        }
        // SAFETY: `ptr` is an `Arc`'s pointer whose count the cell holds (at least one):
        // adding one and taking ownership of it is `Arc::clone`.
        unsafe {
            Arc::increment_strong_count(ptr.cast_const());
            Some(Arc::from_raw(ptr.cast_const()))
        }
    }

    /// As [`get`](Self::get), borrowed instead of counted.
    ///
    /// # Safety
    /// The cell must outlive the result and every handle holding it.
    #[inline]
    pub(crate) unsafe fn get_lent(&self, id: u64) -> Option<LentElements<B>> {
        let ptr = NonNull::new(self.0.load(Ordering::Acquire))?;
        // SAFETY: as in `get`: published initialized, alive while the cell is.
        if unsafe { ptr.as_ref() }.schema.id != id {
            return None;
        }
        // The cell holds a count until it drops, which the caller's contract puts after the
        // result's last use: what `LentElements::new`'s contract asks.
        Some(LentElements(ptr))
    }

    /// Keeps a count of `made` when the cell is empty (else leaves it as it is).
    pub(crate) fn offer(&self, made: &Arc<Elements<B>>) {
        if !self.0.load(Ordering::Relaxed).is_null() {
            return;
        }
        let raw = Arc::into_raw(made.clone()).cast_mut();
        if self
            .0
            .compare_exchange(
                std::ptr::null_mut(),
                raw,
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_err()
        {
            // SAFETY: `raw` came from `Arc::into_raw` just above and was not published (the
            // exchange failed): its count is still ours to give back.
            drop(unsafe { Arc::from_raw(raw.cast_const()) });
        }
    }
}

impl<B: 'static> Drop for GroupCell<B> {
    fn drop(&mut self) {
        let ptr = *self.0.get_mut();
        if !ptr.is_null() {
            // SAFETY: a non-null pointer is the count `offer` published (from
            // `Arc::into_raw`), owned by the cell and released only here, once.
            drop(unsafe { Arc::from_raw(ptr.cast_const()) });
        }
    }
}

/// A list handle's base (`ListBuilder::base`, `ListReader::base`): a counted reference, or one
/// borrowed from the struct handle the list was read from ([`StructBuilder::list_fast_lent`],
/// [`StructReader::list_fast_lent`]) while that handle's owner keeps it alive (the binding: the
/// list's Python object holds the struct's). A borrowed base spares the list handle an atomic
/// increment and decrement of the base's count (a list field read from Python). Clones are
/// counted.
pub(crate) enum ListBase<B: 'static> {
    Own(Arc<B>),
    Lent(LentBase<B>),
}

/// A `&B` taken from an `Arc<B>` without a lifetime (as [`LentElements`]).
pub(crate) struct LentBase<B: 'static>(NonNull<B>);

// SAFETY: it stands for a shared reference to a `B`, which is `Send` and `Sync` when `B` is,
// as an `Arc<B>` is.
unsafe impl<B: Send + Sync + 'static> Send for LentBase<B> {}
// SAFETY: as for `Send`.
unsafe impl<B: Send + Sync + 'static> Sync for LentBase<B> {}

impl<B: 'static> ListBase<B> {
    /// Borrows `base` without counting.
    ///
    /// # Safety
    /// `base`'s allocation (hence some `Arc` to it) must stay alive until the result and
    /// every handle holding it are dropped. Clones are counted ([`ListBase::counted`]).
    pub(crate) unsafe fn lent(base: &Arc<B>) -> Self {
        ListBase::Lent(LentBase(arc_pointer(base)))
    }

    /// A counted reference to the base (for what may outlive the handle: clones, children).
    pub(crate) fn counted(&self) -> Arc<B> {
        match self {
            ListBase::Own(base) => base.clone(),
            ListBase::Lent(lent) => {
                let ptr = lent.0.as_ptr().cast_const();
                // SAFETY: `ptr` came from an `Arc<B>` (`lent`) whose allocation is alive
                // while `self` is (`lent`'s contract), so its strong count is at least one:
                // adding one and taking ownership of that one is what `Arc::clone` does.
                unsafe {
                    Arc::increment_strong_count(ptr);
                    Arc::from_raw(ptr)
                }
            }
        }
    }

    /// The counted reference when the base is counted, `None` when it is lent.
    pub(crate) fn own(&self) -> Option<&Arc<B>> {
        match self {
            ListBase::Own(base) => Some(base),
            ListBase::Lent(_) => None,
        }
    }

    /// Whether this is `other`'s allocation.
    pub(crate) fn is(&self, other: &Arc<B>) -> bool {
        std::ptr::eq::<B>(&**self, Arc::as_ptr(other))
    }
}

impl<B: 'static> std::ops::Deref for ListBase<B> {
    type Target = B;

    #[inline(always)]
    fn deref(&self) -> &B {
        match self {
            ListBase::Own(base) => base,
            // SAFETY: the allocation outlives `self` (`lent`'s contract); a `B` behind an
            // `Arc` is only ever shared, so a shared reference to it is what the `Arc` gives.
            ListBase::Lent(lent) => unsafe { lent.0.as_ref() },
        }
    }
}

impl<B: 'static> From<Arc<B>> for ListBase<B> {
    fn from(base: Arc<B>) -> Self {
        ListBase::Own(base)
    }
}

impl<B: 'static> Clone for ListBase<B> {
    fn clone(&self) -> Self {
        ListBase::Own(self.counted())
    }
}

/// A struct schema that a field keeps as its target (`Field::target`): the pointer of one of
/// registry `registry`'s own schemas (`Registry::uid`), without a count. A registry never
/// removes or replaces a schema in its maps (schema.rs), so the schema lives while that
/// registry does; `registry` numbers are never reused, so a live registry with that number is
/// the one that holds it. ("Lent struct fields" in docs/ARCHITECTURE.md.)
#[derive(Clone, Copy, Debug)]
pub(crate) struct RegistrySchema {
    ptr: NonNull<StructSchema>,
    registry: u64,
}

// SAFETY: it stands for a `&StructSchema` (valid while its registry lives, which the only
// dereferencing path, `of`, checks); `StructSchema` is `Send` and `Sync` (it sits in `Arc`s
// shared across threads by `Registry`, which is itself `Send` and `Sync`).
unsafe impl Send for RegistrySchema {}
// SAFETY: as for `Send`.
unsafe impl Sync for RegistrySchema {}

impl RegistrySchema {
    /// Keeps `schema`, which must be one of `registry`'s own (found in its map: `get_struct`
    /// of a registry without placeholders). Safe to make: nothing reads through the pointer
    /// unless `of` finds that registry alive.
    pub(crate) fn new(schema: &Arc<StructSchema>, registry: &Registry) -> Self {
        RegistrySchema {
            ptr: arc_pointer(schema),
            registry: registry.uid,
        }
    }

    /// The kept schema, borrowed for as long as `registry` is, when `registry` is the one
    /// holding it; `None` for another registry (the caller looks the id up in its own).
    #[inline]
    pub(crate) fn of<'r>(&self, registry: &'r Registry) -> Option<SchemaRef<'r>> {
        (self.registry == registry.uid).then_some(SchemaRef::Kept(*self, PhantomData))
    }
}

/// A field's struct schema as a read finds it: counted, or one of the registry's own borrowed
/// for as long as the registry is (`RegistrySchema::of`).
pub(crate) enum SchemaRef<'r> {
    Counted(Arc<StructSchema>),
    Kept(RegistrySchema, PhantomData<&'r Registry>),
}

impl SchemaRef<'_> {
    /// The schema.
    #[inline]
    pub(crate) fn get(&self) -> &StructSchema {
        match self {
            SchemaRef::Counted(s) => s,
            // SAFETY: a `Kept` schema was made by `RegistrySchema::of` for a registry
            // borrowed for `'r`, the one holding it (numbers are never reused), so it lives
            // for at least `'r`, which outlasts `self`; schemas are only ever shared.
            SchemaRef::Kept(kept, _) => unsafe { kept.ptr.as_ref() },
        }
    }

    /// A counted reference (an increment, as `Arc::clone`, for a kept one).
    #[inline]
    pub(crate) fn counted(self) -> Arc<StructSchema> {
        match self {
            SchemaRef::Counted(s) => s,
            SchemaRef::Kept(kept, _) => {
                let ptr = kept.ptr.as_ptr().cast_const();
                // SAFETY: `ptr` is an `Arc`'s (`arc_pointer`) whose registry, alive for `'r`
                // (`get`), holds a count: adding one and owning it is `Arc::clone`.
                unsafe {
                    Arc::increment_strong_count(ptr);
                    Arc::from_raw(ptr)
                }
            }
        }
    }
}

/// What a struct handle with a base of its own holds (`StructBase::Own`): its base and
/// schema, each counted or not. A base may be borrowed from the struct handle it was read
/// from ([`OwnPair::lent`], whose caller keeps that handle alive); a schema may be one of the
/// base's registry's own, uncounted (`SchemaRef::Kept`: it lives while that registry does,
/// which the base holds). Uncounted parts are never released; clones count both.
pub(crate) struct OwnPair<B: 'static> {
    base: ManuallyDrop<Arc<B>>,
    schema: ManuallyDrop<Arc<StructSchema>>,
    /// `LENT_BASE` and `KEPT_SCHEMA`: which parts hold no count.
    uncounted: u8,
}

const LENT_BASE: u8 = 1;
const KEPT_SCHEMA: u8 = 2;

impl<B: HandleBase + 'static> OwnPair<B> {
    /// Both parts counted.
    #[inline]
    pub(crate) fn new(base: Arc<B>, schema: Arc<StructSchema>) -> Self {
        OwnPair {
            base: ManuallyDrop::new(base),
            schema: ManuallyDrop::new(schema),
            uncounted: 0,
        }
    }

    /// A counted base with `schema` as the field read found it: kept uncounted when it is the
    /// base's registry's (which the base holds), else counted.
    #[inline]
    pub(crate) fn with_ref(base: Arc<B>, schema: SchemaRef<'_>) -> Self {
        let (schema, uncounted) = Self::schema_part(&base, schema);
        OwnPair {
            base: ManuallyDrop::new(base),
            schema,
            uncounted,
        }
    }

    /// As [`with_ref`](Self::with_ref), with `base` borrowed instead of counted.
    ///
    /// # Safety
    /// `base`'s allocation (hence some `Arc` to it) must stay alive until the result and
    /// every handle holding it are dropped (as [`ListBase::lent`]). Clones are counted.
    #[inline]
    pub(crate) unsafe fn lent(base: &Arc<B>, schema: SchemaRef<'_>) -> Self {
        let (schema, uncounted) = Self::schema_part(base, schema);
        let ptr = arc_pointer(base).as_ptr().cast_const();
        OwnPair {
            // SAFETY: `ptr` is an `Arc`'s (`arc_pointer`), alive as long as the result (the
            // contract). The `Arc` made here holds no count of its own: it is never dropped
            // (`LENT_BASE`: `Drop` skips it) and never moved out (`into_counted` counts it).
            base: ManuallyDrop::new(unsafe { Arc::from_raw(ptr) }),
            schema,
            uncounted: uncounted | LENT_BASE,
        }
    }

    #[inline(always)]
    fn schema_part(base: &B, schema: SchemaRef<'_>) -> (ManuallyDrop<Arc<StructSchema>>, u8) {
        match schema {
            SchemaRef::Kept(kept, _) if kept.registry == base.registry().uid => {
                let ptr = kept.ptr.as_ptr().cast_const();
                // SAFETY: the schema is the base's registry's own (`RegistrySchema`; numbers
                // are never reused), and that registry lives while the base does, which lives
                // while the pair does (counted, or lent under `lent`'s contract). The `Arc`
                // made here holds no count: never dropped (`KEPT_SCHEMA`), never moved out.
                (
                    ManuallyDrop::new(unsafe { Arc::from_raw(ptr) }),
                    KEPT_SCHEMA,
                )
            }
            other => (ManuallyDrop::new(other.counted()), 0),
        }
    }
}

impl<B: 'static> OwnPair<B> {
    /// The base (an `Arc` to clone when a counted reference is needed).
    #[inline(always)]
    pub(crate) fn base(&self) -> &Arc<B> {
        &self.base
    }

    #[inline(always)]
    pub(crate) fn schema(&self) -> &Arc<StructSchema> {
        &self.schema
    }

    /// Whether the base is borrowed (its owner holds the message: dropping this releases
    /// nothing).
    #[inline(always)]
    pub(crate) fn base_lent(&self) -> bool {
        self.uncounted & LENT_BASE != 0
    }

    /// Both parts as counted references (cloned where they hold no count).
    pub(crate) fn into_counted(self) -> (Arc<B>, Arc<StructSchema>) {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped; each `Arc` is read out of it once, and an
        // uncounted one is cloned (a count of its own) instead of taken.
        let (base, schema) =
            unsafe { (std::ptr::read(&*this.base), std::ptr::read(&*this.schema)) };
        let base = if this.uncounted & LENT_BASE != 0 {
            let counted = Arc::clone(&base);
            std::mem::forget(base);
            counted
        } else {
            base
        };
        let schema = if this.uncounted & KEPT_SCHEMA != 0 {
            let counted = Arc::clone(&schema);
            std::mem::forget(schema);
            counted
        } else {
            schema
        };
        (base, schema)
    }
}

impl<B: 'static> Clone for OwnPair<B> {
    fn clone(&self) -> Self {
        OwnPair {
            base: ManuallyDrop::new(Arc::clone(&self.base)),
            schema: ManuallyDrop::new(Arc::clone(&self.schema)),
            uncounted: 0,
        }
    }
}

impl<B: 'static> Drop for OwnPair<B> {
    fn drop(&mut self) {
        if self.uncounted & LENT_BASE == 0 {
            // SAFETY: a counted base, dropped once, here; not used after.
            unsafe { ManuallyDrop::drop(&mut self.base) };
        }
        if self.uncounted & KEPT_SCHEMA == 0 {
            // SAFETY: a counted schema, dropped once, here; not used after.
            unsafe { ManuallyDrop::drop(&mut self.schema) };
        }
    }
}

impl<B: HandleBase + 'static> StructBase<B> {
    /// As `with_schema` (a group's base and schema), with the base borrowed from this one
    /// when the group's base is this one's (no hop pending in its list's shared part).
    ///
    /// # Safety
    /// `self` must outlive the result and every handle holding it.
    #[inline(always)]
    unsafe fn lent_with_schema(&self, schema: SchemaRef<'_>) -> Self {
        if self.hop().is_none() {
            // SAFETY: `self.base()` is `self`'s own (its pair's, counted or lent and then
            // kept alive by `self`'s owner) or its list's shared part's (which `self` counts or,
            // lent, its owner keeps): it lives while `self` does (the contract).
            return StructBase::Own(unsafe { OwnPair::lent(self.base(), schema) });
        }
        let elements = match self {
            StructBase::Element(e) => &**e,
            StructBase::Lent(e) => e.get(),
            StructBase::Own(_) => return self.with_schema(schema),
        };
        // SAFETY: the cell belongs to `elements`, which `self` counts or (lent) its owner
        // keeps: it lives while `self` does (the contract), and the cell with it.
        if let Some(lent) = unsafe { elements.group.get_lent(schema.get().id) } {
            return StructBase::Lent(lent);
        }
        self.with_schema(schema)
    }
}

impl StructReader {
    /// The base and schema of a struct field's handle: this struct's base borrowed when its
    /// children's base is that one (`lendable_base`), else `child_pair`'s counted one.
    ///
    /// # Safety
    /// `self` must outlive the result and every handle holding it.
    #[inline(always)]
    unsafe fn lent_child_pair(
        &self,
        schema: SchemaRef<'_>,
    ) -> StructBase<crate::message::ReaderBase> {
        match self.lendable_base() {
            // SAFETY: as in `StructBuilder::lent_list_base`.
            Some(base) => StructBase::Own(unsafe { OwnPair::lent(base, schema) }),
            None => self.child_pair(schema),
        }
    }

    /// As [`struct_fast`](Self::struct_fast), with the child handle borrowing this struct's
    /// base when it can (as [`list_fast_lent`](Self::list_fast_lent)): one atomic increment
    /// and decrement less per handle. Its clones and children count theirs.
    ///
    /// # Safety
    /// `self` must outlive the returned handle: the handle (which may be moved) must be
    /// dropped before `self` is dropped.
    pub unsafe fn struct_fast_lent(&self, index: usize) -> Result<Option<StructReader>> {
        // SAFETY: the caller keeps `self` alive until the handle is dropped (the contract).
        self.struct_fast_with(index, |s, schema| unsafe { s.lent_child_pair(schema) })
    }

    /// As [`group_fast`](Self::group_fast), with the group handle borrowing this struct's
    /// base when it is the group's (as [`struct_fast_lent`](Self::struct_fast_lent)).
    ///
    /// # Safety
    /// As `struct_fast_lent`'s.
    pub unsafe fn group_fast_lent(&self, index: usize) -> Result<Option<StructReader>> {
        // SAFETY: the caller keeps `self` (whose `StructBase` this is) alive until the handle
        // is dropped (the contract).
        self.group_fast_with(index, |shared, schema| unsafe {
            shared.lent_with_schema(schema)
        })
    }
}

impl StructBuilder {
    /// As [`StructReader`]'s `lent_child_pair`.
    ///
    /// # Safety
    /// `self` must outlive the result and every handle holding it.
    #[inline(always)]
    unsafe fn lent_child_pair(
        &self,
        schema: SchemaRef<'_>,
    ) -> StructBase<crate::message::BuilderBase> {
        match self.lendable_base() {
            // SAFETY: as in `lent_list_base`.
            Some(base) => StructBase::Own(unsafe { OwnPair::lent(base, schema) }),
            None => self.child_pair(schema),
        }
    }

    /// As [`struct_fast`](Self::struct_fast), with the child handle borrowing this struct's
    /// base when it can (as [`StructReader::struct_fast_lent`]), and without the message lock
    /// when the caller holds [`Excluded`](crate::Excluded) and the lock is free.
    ///
    /// # Safety
    /// `self` must outlive the returned handle: the handle (which may be moved) must be
    /// dropped before `self` is dropped.
    pub unsafe fn struct_fast_lent(
        &self,
        excluded: Option<&mut crate::Excluded>,
        index: usize,
    ) -> Result<Option<StructBuilder>> {
        // SAFETY: the caller keeps `self` alive until the handle is dropped (the contract).
        self.struct_fast_with(excluded, index, |s, schema| unsafe {
            s.lent_child_pair(schema)
        })
    }

    /// As `group_fast_excluded_with` (a group read under the proof), with the group handle borrowing
    /// this struct's base when it is the group's (as [`StructReader::group_fast_lent`]).
    ///
    /// # Safety
    /// As `struct_fast_lent`'s.
    pub unsafe fn group_fast_excluded_lent(
        &self,
        excluded: Option<&crate::Excluded>,
        index: usize,
    ) -> Result<Option<StructBuilder>> {
        // SAFETY: as in `StructReader::group_fast_lent`.
        self.group_fast_excluded_with(excluded, index, |shared, schema| unsafe {
            shared.lent_with_schema(schema)
        })
    }
}
