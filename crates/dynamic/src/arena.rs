//! Builder locations kept across calls, and the writes through them: audited `unsafe` code
//! (the argument is in docs/ARCHITECTURE.md, "Unsafe code").
//!
//! A builder handle normally re-walks its path from the root under the message lock on every
//! operation. Here a handle instead records where its struct's sections (or its list's
//! elements) lie the first time a walk finds them, and later primitive reads and writes go
//! straight to those bytes — while the message's *generation* is unchanged. Pointer writes
//! into a recorded struct (Text, Data, `init`, struct assignment) go through a capnp
//! `PointerBuilder` made for the slot, in the message's arena, which this module owns
//! (`BuilderMessage`); a plain struct assigned from another message (pointers null or lists
//! of Void, Bool or numbers) is copied by this module's own code instead
//! (`DataAt::copy_struct`), the same bytes as capnp's copy, and so are Text and Data written
//! into a field (`DataAt::write_blob`). Every lock of a message except
//! `MessageBuilder::lock_fast` bumps the generation, so any other operation that could move
//! or replace an object (`disown`, `adopt`, an upgrade during a walk, a new root) makes every
//! recorded location stale; under `lock_fast` only this module's accesses run: data-section
//! and element accesses, which never touch a pointer, and pointer writes, which bump the
//! generation unless the slot was null.
//!
//! The addresses come from the segments themselves: the message's arena (`MessageArena`)
//! records each segment its allocator hands out in the message's `SegmentTable`, so a
//! location is the segment's own pointer (with its provenance) plus an offset, never a pointer
//! forged from a shared slice.

#![allow(unsafe_code)]

use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use capnp::message::Allocator;
use capnp::private::arena::{BuilderArena, GeneratedCodeArena, ReaderArena};
use capnp::private::layout::{
    ElementSize, PointerBuilder, PointerReader, StructBuilder, StructSize,
};
use capnp::traits::{FromPointerBuilder, FromPointerReader};

use crate::raw::{RawListReader, RawStructReader};

/// One segment handed to capnp: its first byte and length.
#[derive(Clone, Copy)]
struct Segment {
    base: NonNull<u8>,
    bytes: usize,
}

// SAFETY: a `Segment` is an address and a length; nothing is read or written through it here.
// Pointers derived from it are dereferenced only by `DataAt`/`ElemsAt` under the rules below.
unsafe impl Send for Segment {}
// SAFETY: as above (shared references to it only copy the address).
unsafe impl Sync for Segment {}

/// The segments of one builder message, in allocation order (capnp's segment ids).
///
/// The first segment (most messages have no other) is kept in two atomics, written once
/// when the arena allocates it and read without a lock: an uncontended mutex still costs
/// two atomic read-modify-writes per use, on every location a handle records. Its base is published with
/// `Release` after its length, so whoever sees the base sees that length. Later segments are
/// in a vector under a mutex. Segments are freed only when the message drops, with its table.
#[derive(Default)]
pub(crate) struct SegmentTable {
    /// The first segment's base, null until it is allocated.
    first_base: AtomicPtr<u8>,
    /// The first segment's length in bytes.
    first_bytes: AtomicUsize,
    /// The first segment's bytes handed out so far (its used words, in bytes), published by
    /// the arena after each allocation in it (`MessageArena::publish_first`), under the
    /// message lock. While any handle of the message lives it only grows (only emptying the
    /// message for reuse lowers it, and that needs the message without handles), so a value
    /// read earlier is a lower bound of the used words: what reads without the lock check a
    /// pointer's target against (`BlobsAt::blob_excluded`).
    first_used: AtomicUsize,
    /// Segments 1, 2, ... in order.
    rest: Mutex<Vec<Segment>>,
}

impl SegmentTable {
    fn rest(&self) -> std::sync::MutexGuard<'_, Vec<Segment>> {
        self.rest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The first segment's used bytes as published (tests).
    #[cfg(test)]
    pub(crate) fn published_first_used(&self) -> usize {
        self.first_used.load(Ordering::Relaxed)
    }

    /// Whether the table holds no segment after the first.
    fn first_only(&mut self) -> bool {
        self.rest.get_mut().is_ok_and(|rest| rest.is_empty())
    }

    /// Records a segment capnp was handed (the caller allocates them one at a time).
    fn push(&self, seg: Segment) {
        if self.first_base.load(Ordering::Acquire).is_null() {
            self.first_bytes.store(seg.bytes, Ordering::Relaxed);
            self.first_base.store(seg.base.as_ptr(), Ordering::Release);
        } else {
            self.rest().push(seg);
        }
    }

    /// The segment id (its index: capnp numbers segments in allocation order) and the
    /// address of `bytes` (a slice capnp handed out of one of this message's segments),
    /// derived from its segment's own pointer; `None` when it lies in no segment (a default
    /// value, an empty section).
    fn place_of(&self, bytes: &[u8]) -> Option<(u32, NonNull<u8>)> {
        if bytes.is_empty() {
            return None;
        }
        if let Some(base) = NonNull::new(self.first_base.load(Ordering::Acquire)) {
            let first = Segment {
                base,
                bytes: self.first_bytes.load(Ordering::Acquire),
            };
            if let Some(at) = first.place_of(bytes) {
                return Some((0, at));
            }
        }
        self.rest()
            .iter()
            .zip(1u32..)
            .find_map(|(seg, id)| Some((id, seg.place_of(bytes)?)))
    }
}

impl Segment {
    /// The address of `bytes` derived from this segment's pointer, if they lie inside it.
    fn place_of(&self, bytes: &[u8]) -> Option<NonNull<u8>> {
        let addr = bytes.as_ptr() as usize;
        let base = self.base.as_ptr() as usize;
        if addr >= base && addr + bytes.len() <= base + self.bytes {
            // SAFETY: `addr - base + bytes.len() <= self.bytes`, so the offset stays inside
            // the segment's allocation; the result keeps the segment pointer's provenance.
            Some(unsafe { self.base.add(addr - base) })
        } else {
            None
        }
    }
}

/// Where a message's arena records its segments: the `SegmentTable` of its shared state (or,
/// while the message is made, a table on the maker's stack), or nowhere (null).
#[derive(Clone, Copy)]
struct TablePtr(*const SegmentTable);

// SAFETY: a `TablePtr` is an address; the table it points to is read and written only
// through shared references (atomics and a mutex: `SegmentTable` is `Sync`), by the arena
// that holds it, under the message's lock (`MessageArena::record_into`'s contract).
unsafe impl Send for TablePtr {}
// SAFETY: as above.
unsafe impl Sync for TablePtr {}

/// One segment of a message being built (capnp's `BuilderSegment`): its first byte, its
/// capacity and the words handed out from its start. Not `Copy`: a `&BuildSeg` borrows the
/// arena that owns it, which `used` relies on.
struct BuildSeg {
    ptr: NonNull<u8>,
    capacity: u32,
    allocated: u32,
}

// SAFETY: a `BuildSeg` is an address and two counts of memory its arena owns (allocated by
// the arena's allocator, freed only in its `Drop`); every access to the bytes goes through
// the arena's `&self`/`&mut self` (capnp's `BuilderArenaImpl` is `Send`/`Sync` on the same
// grounds), so the arena is `Send`/`Sync` as its allocator is.
unsafe impl Send for BuildSeg {}
// SAFETY: as above (a shared reference only reads the address and counts).
unsafe impl Sync for BuildSeg {}

impl BuildSeg {
    /// `amount` more words of this segment, at the word index returned.
    #[inline(always)]
    fn take(&mut self, amount: u32) -> Option<u32> {
        if amount > self.capacity - self.allocated {
            return None;
        }
        let at = self.allocated;
        self.allocated += amount;
        Some(at)
    }

    /// The used words (what `get_segments_for_output` returns for it).
    fn used(&self) -> &[u8] {
        // SAFETY: the segment's first `allocated` words: inside its allocation (allocated <=
        // capacity, the allocator's words), initialized (segments are handed out zeroed).
        // `self` is borrowed from the arena that owns the segment (a `BuildSeg` is never
        // copied out of it), and every write of the message borrows that arena mutably (the
        // message lock's guard), so nothing writes them for the slice's lifetime. capnp's own
        // `get_segments_for_output` forms the same slices.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.allocated as usize * 8) }
    }
}

/// A message's arena: capnp's `BuilderArenaImpl` with the first segment held inline (most
/// messages have no other), so a new message makes no segment vector. It implements capnp's
/// arena traits with capnp's builder-arena semantics (no bounds or limits on reads of the
/// message's own memory, segments in allocation order, each handed out bump-wise) and frees
/// every segment through its allocator when dropped.
pub(crate) struct MessageArena {
    /// capnp's heap, or segments supplied from outside (`external.rs`).
    allocator: crate::external::SegmentAlloc,
    /// Where each new segment is recorded (`record_into`).
    table: TablePtr,
    /// Segment 0, once allocated.
    first: Option<BuildSeg>,
    /// Segments 1, 2, ...
    rest: Vec<BuildSeg>,
}

impl MessageArena {
    fn new(allocator: crate::external::SegmentAlloc) -> Self {
        MessageArena {
            allocator,
            table: TablePtr(std::ptr::null()),
            first: None,
            rest: Vec::new(),
        }
    }

    /// Records every segment allocated from now on in `table` (segments allocated before are
    /// not recorded there).
    ///
    /// # Safety
    /// `table` must stay valid for shared access for as long as this arena may allocate a
    /// segment (until it is dropped or pointed elsewhere); the arena reads and writes it only
    /// through `&SegmentTable` (atomics and a mutex), and never while being dropped.
    pub(crate) unsafe fn record_into(&mut self, table: *const SegmentTable) {
        self.table = TablePtr(table);
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    #[inline(always)]
    fn seg(&self, id: u32) -> Option<&BuildSeg> {
        match id {
            0 => self.first.as_ref(),
            _ => self.rest.get(id as usize - 1),
        }
    }

    #[inline(always)]
    fn seg_mut(&mut self, id: u32) -> Option<&mut BuildSeg> {
        match id {
            0 => self.first.as_mut(),
            _ => self.rest.get_mut(id as usize - 1),
        }
    }

    /// Publishes the first segment's used words in the table (`SegmentTable::first_used`):
    /// called after every change of them, with the arena borrowed mutably (the lock).
    #[inline(always)]
    fn publish_first(&self) {
        // SAFETY: `record_into`'s contract: the table is valid while the arena allocates.
        if let (Some(table), Some(first)) = (unsafe { self.table.0.as_ref() }, &self.first) {
            table
                .first_used
                .store(first.allocated as usize * 8, Ordering::Relaxed);
        }
    }

    /// A new segment of at least `minimum_size` words, last in the order (its id is the
    /// number of segments before it).
    fn allocate_segment(&mut self, minimum_size: u32) {
        let (ptr, capacity) = self.allocator.allocate_segment(minimum_size);
        // SAFETY: `record_into`'s contract: the table is valid while the arena allocates.
        if let Some(table) = unsafe { self.table.0.as_ref() } {
            table.push(Segment {
                base: ptr,
                bytes: capacity as usize * 8,
            });
        }
        let seg = BuildSeg {
            ptr,
            capacity,
            allocated: 0,
        };
        if self.first.is_none() {
            self.first = Some(seg);
        } else {
            self.rest.push(seg);
        }
    }

    /// Empties a message whose only segment is a heap segment of the pooled size (as
    /// `Heap`'s pool would: its used words zeroed), keeping that segment with its first word
    /// (a null root pointer) handed out: the state of a new message's arena once the root
    /// pointer exists. `false`, the arena unchanged, for any other message.
    fn empty_for_reuse(&mut self) -> bool {
        if !self.rest.is_empty() || !self.allocator.is_heap_after_pooled_first() {
            return false;
        }
        let Some(first) = self
            .first
            .as_mut()
            .filter(|f| f.capacity == crate::external::POOLED_WORDS && f.allocated >= 1)
        else {
            return false;
        };
        // SAFETY: the segment's first `allocated` words lie inside its allocation (allocated
        // <= capacity) and the arena is borrowed mutably (no slice of them is alive); capnp
        // wrote nothing past them (as `Heap::deallocate` relies on), so the whole segment is
        // zero afterwards, as a segment the allocator hands out.
        unsafe {
            first
                .ptr
                .as_ptr()
                .write_bytes(0, first.allocated as usize * 8)
        };
        first.allocated = 1;
        true
    }

    /// Every segment's used words, in order (capnp's `get_segments_for_output`).
    pub(crate) fn get_segments_for_output(&self) -> capnp::OutputSegments<'_> {
        match (&self.first, self.rest.is_empty()) {
            (Some(first), true) => capnp::OutputSegments::SingleSegment([first.used()]),
            _ => capnp::OutputSegments::MultiSegment(
                self.first
                    .iter()
                    .chain(&self.rest)
                    .map(BuildSeg::used)
                    .collect(),
            ),
        }
    }
}

// SAFETY: `get_segment` returns a live segment's first byte and its used words (inside its
// allocation); the other methods are capnp's builder arena's (a builder's own memory is not
// bounds-checked or limited: it was written by capnp or this crate).
unsafe impl ReaderArena for MessageArena {
    fn get_segment(&self, id: u32) -> capnp::Result<(*const u8, u32)> {
        match self.seg(id) {
            Some(seg) => Ok((seg.ptr.as_ptr(), seg.allocated)),
            None => Err(capnp::Error::from_kind(capnp::ErrorKind::InvalidSegmentId(
                id,
            ))),
        }
    }

    unsafe fn check_offset(
        &self,
        _segment_id: u32,
        start: *const u8,
        offset_in_words: i32,
    ) -> capnp::Result<*const u8> {
        // A builder's pointers are trusted, as capnp's builder arena trusts them: the offset
        // is applied unchecked (`wrapping_offset`: forming the address is never undefined;
        // capnp reads through it only where its own layout put an object).
        Ok(start.wrapping_offset((offset_in_words as isize).wrapping_mul(8)))
    }

    fn contains_interval(&self, _id: u32, _start: *const u8, _size: usize) -> capnp::Result<()> {
        Ok(())
    }

    fn amplified_read(&self, _virtual_amount: u64) -> capnp::Result<()> {
        Ok(())
    }

    fn nesting_limit(&self) -> i32 {
        0x7fff_ffff
    }

    fn size_in_words(&self) -> usize {
        self.first
            .iter()
            .chain(&self.rest)
            .map(|seg| seg.allocated as usize)
            .sum()
    }
}

// SAFETY: `allocate` and `allocate_anywhere` hand out words of a live segment, each word once
// (bump allocation, never past the capacity); `get_segment_mut` returns a live segment's
// first byte and capacity, as capnp's builder arena does.
unsafe impl BuilderArena for MessageArena {
    #[inline]
    fn allocate(&mut self, segment_id: u32, amount: u32) -> Option<u32> {
        let at = self.seg_mut(segment_id)?.take(amount)?;
        if segment_id == 0 {
            self.publish_first();
        }
        Some(at)
    }

    fn allocate_anywhere(&mut self, amount: u32) -> (u32, u32) {
        if let Some(at) = self.first.as_mut().and_then(|s| s.take(amount)) {
            self.publish_first();
            return (0, at);
        }
        for (seg, id) in self.rest.iter_mut().zip(1u32..) {
            if let Some(at) = seg.take(amount) {
                return (id, at);
            }
        }
        let id = self.len() as u32;
        self.allocate_segment(amount);
        match self.seg_mut(id).and_then(|s| s.take(amount)) {
            Some(at) => {
                if id == 0 {
                    self.publish_first();
                }
                (id, at)
            }
            // Unreachable: the allocator hands out at least the words asked for (its
            // contract); capnp's arena fails the same way.
            None => panic!("a new segment of {amount} words was smaller"),
        }
    }

    #[inline]
    fn get_segment_mut(&mut self, id: u32) -> (*mut u8, u32) {
        match self.seg(id) {
            Some(seg) => (seg.ptr.as_ptr(), seg.capacity),
            // Unreachable: capnp and this module ask only for segments of the message (ids
            // from the arena or from pointers it wrote); capnp's arena fails the same way.
            None => panic!("segment {id} of a message with {} segments", self.len()),
        }
    }

    fn as_reader(&self) -> &dyn ReaderArena {
        self
    }
}

impl Drop for MessageArena {
    fn drop(&mut self) {
        // The table is not touched: it goes with the message (whose drop may hold the only,
        // exclusive, reference to it).
        for seg in self.first.take().into_iter().chain(self.rest.drain(..)) {
            // SAFETY: each segment came from this allocator's `allocate_segment`, with this
            // capacity, and is freed once (taken out of the arena here).
            unsafe {
                self.allocator
                    .deallocate_segment(seg.ptr, seg.capacity, seg.allocated)
            };
        }
    }
}

/// A message being built: its arena (`MessageArena`), held here instead of inside a
/// `capnp::message::Builder` (whose arena is private) so that a pointer slot found by an
/// earlier walk can be written through a `PointerBuilder` made for it
/// (`DataAt::write_pointer`). The methods are `capnp::message::Builder`'s, with the same code.
pub(crate) struct BuilderMessage {
    arena: MessageArena,
}

/// A message's shared state `S` in an `Arc`, holding the message and its segment table in
/// one allocation: `first` runs on the new message with a table on this stack (recorded
/// into as it allocates), `wrap` moves both into `S`, and the arena is then pointed at the
/// table inside the `Arc` (found by `table_of`, reached by `message_of` through the `Arc`'s
/// unique borrow, so without locking).
///
/// The arena's pointer is formed from the `Arc`'s own pointer plus the table's offset in `S`
/// (checked to lie inside `S`), not from a borrow, so every later use of it is as a shared
/// reference's alongside the state's own shared references; the unique borrow ends before
/// any. The arena uses the table only through shared references (atomics and a mutex), only
/// when it allocates a segment (under the message's lock), and not in its drop (which may run
/// under the `Arc`'s exclusive reference to the state).
pub(crate) fn build_shared<S, R>(
    alloc: crate::external::SegmentAlloc,
    first: impl FnOnce(&mut BuilderMessage, &SegmentTable) -> R,
    wrap: impl FnOnce(BuilderMessage, SegmentTable) -> S,
    table_of: impl FnOnce(&S) -> &SegmentTable,
    message_of: impl FnOnce(&mut S) -> &mut BuilderMessage,
) -> (Arc<S>, R) {
    let local = SegmentTable::default();
    let mut message = BuilderMessage::new(alloc);
    // SAFETY: `local` outlives every allocation of the arena until the arena is pointed away
    // from it, right after `first`; it is used only through shared references meanwhile.
    unsafe { message.record_into(&local) };
    let made = first(&mut message, &local);
    // SAFETY: null records nowhere (until pointed at the moved table below).
    unsafe { message.record_into(std::ptr::null()) };
    let mut shared = Arc::new(wrap(message, local));
    let base = Arc::as_ptr(&shared).cast::<u8>();
    let offset = (table_of(&shared) as *const SegmentTable as usize).wrapping_sub(base as usize);
    let inside = offset
        .checked_add(std::mem::size_of::<SegmentTable>())
        .is_some_and(|end| end <= std::mem::size_of::<S>());
    let table = if inside {
        // A reference to a table whose bytes lie inside `S`'s is to a table held inline in
        // `S`: it lives as long as the state. The address keeps the `Arc` pointer's provenance.
        base.wrapping_add(offset).cast::<SegmentTable>()
    } else {
        // Unreachable (`table_of` returns the state's own field); later segments then go
        // unrecorded, and locations in them are never found (their handles walk).
        std::ptr::null()
    };
    if let Some(state) = Arc::get_mut(&mut shared) {
        // SAFETY: the table is inside the state (above), in the same allocation as the arena,
        // for as long as it; the arena's use of it is as stated above.
        unsafe { message_of(state).record_into(table) };
    }
    (shared, made)
}

/// State an `Arc` may hand back for reuse when its last holder drops it (`Recyclable`).
pub(crate) trait Recycle: Send + Sync + Sized + 'static + NeverWeak {
    /// Runs `f` on this thread's spare; `None`, `f` dropped unrun, once the thread's
    /// spare is gone (the thread is exiting).
    fn with_spare<R>(f: impl FnOnce(&Spare<Self>) -> R) -> Option<R>;
    /// Makes the state as new (for whoever takes it from the spare); `false`, leaving it to
    /// be dropped, when it cannot be.
    fn reset(&mut self) -> bool;
}

/// One spare state `S` (an `Arc` nobody else holds), or none, per thread (a thread-local:
/// a program that drops one message and makes the next takes and returns it without an
/// atomic read-modify-write, which costs ~6 ns on the EPYC machine of docs/benchmarks.md;
/// a global slot took two). A state dropped on one thread serves that thread's next
/// message; the thread's spare is freed when it exits.
pub(crate) struct Spare<S>(std::cell::Cell<Option<Arc<S>>>);

impl<S: Recycle> Spare<S> {
    pub(crate) const fn new() -> Self {
        Spare(std::cell::Cell::new(None))
    }

    /// The spare state, if there is one, held by the caller alone.
    pub(crate) fn take(&self) -> Option<Taken<S>> {
        // `give` keeps only an `Arc` with no other strong or weak reference
        // (`Recyclable::drop` checked), and the spare hands it out once: the `Arc` is the
        // state's only reference, as `Taken` requires.
        self.0.take().map(|state| Taken(Recyclable::new(state)))
    }

    /// Whether a state waits (tests).
    #[cfg(test)]
    pub(crate) fn holds_one(&self) -> bool {
        let kept = self.0.take();
        let holds = kept.is_some();
        self.0.set(kept);
        holds
    }

    /// Keeps `state` as the spare unless there is one already (then `state` is dropped).
    fn give(&self, state: Arc<S>) {
        match self.0.take() {
            None => self.0.set(Some(state)),
            Some(kept) => {
                self.0.set(Some(kept));
                drop(state);
            }
        }
    }
}

/// A state taken from its spare (`Spare::take`): the only reference to it, so it is changed
/// without the atomic read-modify-write of `Arc::get_mut` (~6 ns on the EPYC machine of
/// docs/benchmarks.md), then shared.
pub(crate) struct Taken<S: Recycle>(Recyclable<S>);

impl Taken<crate::message::BuilderShared> {
    /// The message's arena (its lock's content, without locking) and its segment table, to
    /// make its root before it is shared (`message_parts`).
    pub(crate) fn message_and_table(
        &mut self,
    ) -> (&mut parking_lot::Mutex<BuilderMessage>, &SegmentTable) {
        // SAFETY: the `Arc` is the state's only reference, strong or weak (`Spare::take`),
        // borrowed mutably for both results.
        unsafe { message_parts(&mut self.0 .0) }
    }
}

impl<S: Recycle> Recyclable<S> {
    /// The state when this is its only holder ([`alone_mut`]).
    pub(crate) fn alone_mut(&mut self) -> Option<&mut S> {
        alone_mut(&mut self.0)
    }
}

impl Recyclable<crate::message::BuilderShared> {
    /// `Taken::message_and_table` for a holder found alone ([`alone_mut`]'s test).
    pub(crate) fn alone_parts(
        &mut self,
    ) -> Option<(&mut parking_lot::Mutex<BuilderMessage>, &SegmentTable)> {
        alone_mut(&mut self.0)?;
        // SAFETY: the only reference (just checked), borrowed mutably for both results.
        Some(unsafe { message_parts(&mut self.0) })
    }
}

/// A message state's lock (borrowed mutably, as `Arc::get_mut` would give it) and its
/// segment table (shared), not the whole state mutably: the arena publishes into the table
/// through its own pointer to it (`MessageArena::publish_first`), which a mutable borrow of
/// the whole state would forbid.
///
/// # Safety
/// `state` is the state's only reference, strong or weak.
unsafe fn message_parts(
    state: &mut Arc<crate::message::BuilderShared>,
) -> (&mut parking_lot::Mutex<BuilderMessage>, &SegmentTable) {
    let state = Arc::as_ptr(state).cast_mut();
    // SAFETY: the only reference (the caller's contract), borrowed mutably for both results,
    // so nothing else reads or writes the state meanwhile. The two fields are disjoint. The
    // pointer is `Arc`'s own to its value.
    unsafe { (&mut (*state).inner, &(*state).segments) }
}

/// Types of which no `Weak` is ever made, so that one strong reference is the only reference
/// ([`alone_mut`]).
///
/// # Safety
/// No code makes a `Weak` of a value of the type (`Arc::downgrade`).
pub(crate) unsafe trait NeverWeak {}

// SAFETY: the state is reached only through `Recyclable`'s private `Arc` (`arc()` lends it to
// this crate only), and no code in the crate downgrades it.
unsafe impl NeverWeak for crate::message::BuilderShared {}
// SAFETY: a crate-private type; no code in the crate downgrades its `Arc`s.
unsafe impl NeverWeak for crate::message::BuilderBase {}

/// `Arc::get_mut` without its compare-and-swap (~6 ns on the EPYC machine of
/// docs/benchmarks.md): the value when `arc` is its only reference. A plain load of the strong
/// count decides: one strong reference (this one, borrowed mutably) and, for a type no `Weak`
/// is made of ([`NeverWeak`]; the weak count is checked as well), nothing else another thread
/// could make a new reference from; the acquire fence orders the former holders' uses before
/// this one's, as `Arc`'s drop does. (`Arc::get_mut` locks the weak count first because a
/// `Weak` could be upgraded between two loads; none exists here.)
pub(crate) fn alone_mut<T: NeverWeak>(arc: &mut Arc<T>) -> Option<&mut T> {
    if Arc::strong_count(arc) != 1 || Arc::weak_count(arc) != 0 {
        return None;
    }
    std::sync::atomic::fence(Ordering::Acquire);
    // SAFETY: the only reference (above), borrowed mutably for the result's lifetime; the
    // pointer is `Arc`'s own to its value (what `Arc::get_mut` returns once it has found the
    // same).
    Some(unsafe { &mut *Arc::as_ptr(arc).cast_mut() })
}

impl<S: Recycle> Taken<S> {
    /// `held` as taken, if it is its state's only reference (tests: a state emptied by
    /// `Recycle::reset` made into a root as `Spare::take`'s caller makes it).
    #[cfg(test)]
    pub(crate) fn alone(mut held: Recyclable<S>) -> Option<Taken<S>> {
        Arc::get_mut(&mut held.0).is_some().then_some(Taken(held))
    }

    /// The state as a shared holder.
    pub(crate) fn into_shared(self) -> Recyclable<S> {
        self.0
    }
}

/// An `Arc<S>` whose last holder gives `S` to its spare (after `Recycle::reset`) instead of
/// freeing it. Clones share the state as `Arc`'s do; nothing makes a `Weak` of it.
pub(crate) struct Recyclable<S: Recycle>(std::mem::ManuallyDrop<Arc<S>>);

impl<S: Recycle> Recyclable<S> {
    pub(crate) fn new(state: Arc<S>) -> Self {
        Recyclable(std::mem::ManuallyDrop::new(state))
    }

    pub(crate) fn arc(&self) -> &Arc<S> {
        &self.0
    }

    /// The state, if this is its only holder (tests).
    #[cfg(test)]
    pub(crate) fn get_mut(&mut self) -> Option<&mut S> {
        Arc::get_mut(&mut self.0)
    }
}

impl<S: Recycle> Clone for Recyclable<S> {
    fn clone(&self) -> Self {
        Recyclable::new(Arc::clone(&self.0))
    }
}

impl<S: Recycle> std::ops::Deref for Recyclable<S> {
    type Target = S;
    #[inline(always)]
    fn deref(&self) -> &S {
        &self.0
    }
}

impl<S: Recycle> Drop for Recyclable<S> {
    fn drop(&mut self) {
        // SAFETY: the `Arc` is taken out once, here, and `self.0` is not used after.
        let mut state = unsafe { std::mem::ManuallyDrop::take(&mut self.0) };
        // The counts (plain loads, `alone_mut`): a holder that is not the last drops its
        // reference with one atomic operation, as `Arc`'s drop; the last one resets the state
        // without `Arc::get_mut`'s compare-and-swap.
        if alone_mut(&mut state).is_some_and(S::reset) {
            // (Once the thread's spare is gone, the closure drops the state unrun.)
            S::with_spare(|spare| spare.give(state));
        }
    }
}

/// One null word: the root of a message with no segment yet, as capnp reads it.
static NULL_ROOT: [capnp::Word; 1] = [capnp::word(0, 0, 0, 0, 0, 0, 0, 0)];
static NULL_ARENA: GeneratedCodeArena = GeneratedCodeArena::new(&NULL_ROOT);

impl BuilderMessage {
    pub(crate) fn new(allocator: crate::external::SegmentAlloc) -> Self {
        BuilderMessage {
            arena: MessageArena::new(allocator),
        }
    }

    /// `MessageArena::record_into`.
    ///
    /// # Safety
    /// As `MessageArena::record_into`.
    pub(crate) unsafe fn record_into(&mut self, table: *const SegmentTable) {
        // SAFETY: the caller's guarantee.
        unsafe { self.arena.record_into(table) }
    }

    /// The root pointer, allocating the first segment and the root word on first use.
    fn root(&mut self) -> capnp::Result<PointerBuilder<'_>> {
        if self.arena.is_empty() {
            self.arena.allocate_segment(1);
            if self.arena.allocate(0, 1).is_none() {
                return Err(capnp::Error::failed("no room for the root pointer".into()));
            }
        }
        let (start, _) = self.arena.get_segment_mut(0);
        Ok(PointerBuilder::get_root(&mut self.arena, 0, start))
    }

    pub(crate) fn get_root<'a, T: FromPointerBuilder<'a>>(&'a mut self) -> capnp::Result<T> {
        T::get_from_pointer(self.root()?, None)
    }

    pub(crate) fn init_root<'a, T: FromPointerBuilder<'a>>(&'a mut self) -> capnp::Result<T> {
        Ok(T::init_pointer(self.root()?, 0))
    }

    pub(crate) fn get_root_as_reader<'a, T: FromPointerReader<'a>>(&'a self) -> capnp::Result<T> {
        let root = if self.arena.is_empty() {
            PointerReader::get_root_from_arena(&NULL_ARENA)?
        } else {
            PointerReader::get_root_from_arena(&self.arena)?
        };
        T::get_from_pointer(&root, None)
    }

    /// Makes the root a new struct of `size` in a message that has no root yet (new, or
    /// emptied for reuse), returning where its sections are. The struct goes right after the
    /// root pointer, as capnp's `init_struct` puts it; that pointer is written here when the
    /// first segment holds nothing else, otherwise (and for an empty struct, whose pointer capnp
    /// encodes specially) capnp makes it.
    pub(crate) fn init_root_struct(
        &mut self,
        table: &SegmentTable,
        size: StructSize,
    ) -> capnp::Result<Option<DataAt>> {
        if self.arena.is_empty() {
            self.root()?;
        }
        let words = u32::from(size.data) + u32::from(size.pointers);
        let base = NonNull::new(table.first_base.load(Ordering::Acquire));
        let fresh = match (&mut self.arena.first, base) {
            (Some(first), Some(base))
                if base == first.ptr
                    && first.allocated == 1
                    && words > 0
                    && words < first.capacity =>
            {
                // SAFETY: word 0 of the first segment (handed out: allocated is 1) is its
                // root pointer; the arena is borrowed mutably, so nothing else reads or
                // writes it now.
                let root = unsafe { base.cast::<u64>().as_ptr().read() };
                (root == 0).then_some((first, base))
            }
            _ => None,
        };
        let Some((first, base)) = fresh else {
            let s = self
                .init_root::<crate::raw::RawPtrBuilder<'_>>()?
                .0
                .init_struct(size);
            return Ok(DataAt::locate_new_root(table, &s, size));
        };
        // The struct pointer capnp writes for a struct at the word after it: offset 0 (bits
        // 2-31), kind struct (bits 0-1: 0), data words (bits 32-47), pointer count (48-63).
        let pointer = (u64::from(size.data) << 32) | (u64::from(size.pointers) << 48);
        first.allocated = 1 + words;
        self.arena.publish_first();
        // SAFETY: as above for word 0. The struct's words 1..=words are handed out just above
        // (words < capacity) and are zero (a segment is handed out zeroed, and nothing was
        // handed out past word 0), as `init_struct` leaves a new struct.
        unsafe { base.cast::<u64>().as_ptr().write(pointer.to_le()) };
        let data_len = usize::from(size.data) * 8;
        // SAFETY: word 1 and the word after the data section are inside the segment's
        // allocation (1 + words <= capacity); `base` is the table's pointer to it.
        let (data_at, ptrs_at) = unsafe { (base.add(8), base.add(8 + data_len)) };
        Ok(Some(DataAt {
            ptr: (size.data > 0).then_some(data_at),
            len: data_len as u32,
            ptrs: (size.pointers > 0).then_some(ptrs_at),
            ptr_count: size.pointers,
            segment: 0,
        }))
    }

    /// Empties the message for reuse as a new one (`MessageArena::empty_for_reuse`), if its
    /// only segment is a pooled-size heap segment and `table` (the message's) records no
    /// other; `false`, nothing changed, otherwise.
    pub(crate) fn empty_for_reuse(&mut self, table: &mut SegmentTable) -> bool {
        if !(table.first_only() && self.arena.empty_for_reuse()) {
            return false;
        }
        // The root pointer's word alone is handed out; published here, through the table
        // borrowed mutably (the arena's own pointer to it must not write while that borrow
        // lives).
        *table.first_used.get_mut() = 8;
        true
    }

    /// Hands out `words` more words and writes every byte of them, reachable from no pointer
    /// (tests: what a message may hold besides its objects, as its arena sees it).
    #[cfg(test)]
    pub(crate) fn scribble(&mut self, words: u32) {
        let (id, at) = self.arena.allocate_anywhere(words);
        let (start, _) = self.arena.get_segment_mut(id);
        // SAFETY: words `at..at + words` of segment `id` were just handed out (inside its
        // allocation), to nobody else; the arena is borrowed mutably.
        unsafe {
            start
                .add(at as usize * 8)
                .write_bytes(0xa5, words as usize * 8)
        };
    }

    /// The first segment's used bytes as the arena counts them (tests: what
    /// `SegmentTable::first_used` must publish).
    #[cfg(test)]
    pub(crate) fn first_used_bytes(&self) -> Option<usize> {
        self.arena
            .first
            .as_ref()
            .map(|seg| seg.allocated as usize * 8)
    }

    /// The whole first segment, used words or not (tests: a segment not yet handed out must
    /// be zero).
    #[cfg(test)]
    pub(crate) fn first_segment_whole(&self) -> Option<&[u8]> {
        self.arena.first.as_ref().map(|seg| {
            // SAFETY: the segment's `capacity` words are its allocation, initialized (handed
            // out zeroed); the arena is borrowed, so nothing writes them meanwhile.
            unsafe { std::slice::from_raw_parts(seg.ptr.as_ptr(), seg.capacity as usize * 8) }
        })
    }

    /// The first segment's used words (what `get_segments_for_output` returns first), without
    /// building the list of all segments; `None` before the first segment exists.
    pub(crate) fn first_segment(&self) -> Option<&[u8]> {
        self.arena.first.as_ref().map(BuildSeg::used)
    }

    pub(crate) fn get_segments_for_output(&self) -> capnp::OutputSegments<'_> {
        self.arena.get_segments_for_output()
    }

    pub(crate) fn size_in_words(&self) -> usize {
        self.arena.size_in_words()
    }
}

impl capnp::message::ReaderSegments for BuilderMessage {
    fn get_segment(&self, id: u32) -> Option<&[u8]> {
        self.get_segments_for_output().get(id as usize).copied()
    }

    fn len(&self) -> usize {
        self.get_segments_for_output().len()
    }
}

/// Proof of holding a builder message's lock (or of the exclusion that stands for it:
/// [`Access::Excluded`]), and the generation its locations must match. Made only by
/// `MessageBuilder::lock_fast` (which holds the guard for `'a`) and `held_excluded`.
pub(crate) struct Held<'a> {
    pub(crate) generation: u64,
    pub(crate) guard: Access<'a>,
    /// The message's generation counter (`BuilderShared::generation`).
    pub(crate) counter: &'a AtomicU64,
}

/// A builder message's state reached for an operation: under its lock, or while the lock is
/// free by a caller holding [`Excluded`] (`Access::excluded`).
pub(crate) enum Access<'a> {
    Locked(crate::message::MessageGuard<'a>),
    Excluded(&'a mut BuilderMessage),
}

impl<'a> Access<'a> {
    /// The state of the message locked by `inner`, without locking it, when the lock is
    /// free; `None` when it is held (the caller locks, and waits, as before).
    ///
    /// The exclusion (`Excluded`'s contract) rules out every other thread's access to a
    /// message that is not volatile, except the GIL's holders, which do not run meanwhile:
    /// the caller holds the GIL and calls no Python code while the result lives (the
    /// message is not volatile, so no allocator of it calls Python: `is_volatile`). A free
    /// lock means no guard of this message is alive on any thread (a holder that released
    /// the GIL keeps the lock held, and is then waited for). On this thread, `excluded` is
    /// borrowed mutably for as long as the result lives, so no second `Access::Excluded`
    /// is made from the same proof meanwhile, and the callers take no lock of the message
    /// while they hold the result (arena.rs and struct_.rs `fast_blob`).
    #[inline]
    pub(crate) fn excluded(
        inner: &'a parking_lot::Mutex<BuilderMessage>,
        _excluded: &'a mut Excluded,
    ) -> Option<Self> {
        if inner.is_locked() {
            return None;
        }
        // SAFETY: no other reference to the state exists or can be made while the result
        // lives (above), so this is the only one, as a guard's would be; the pointer is the
        // mutex's own to its data, valid while `inner` is borrowed.
        Some(Access::Excluded(unsafe { &mut *inner.data_ptr() }))
    }
}

impl std::ops::Deref for Access<'_> {
    type Target = BuilderMessage;

    #[inline(always)]
    fn deref(&self) -> &BuilderMessage {
        match self {
            Access::Locked(guard) => guard,
            Access::Excluded(state) => state,
        }
    }
}

impl std::ops::DerefMut for Access<'_> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut BuilderMessage {
        match self {
            Access::Locked(guard) => guard,
            Access::Excluded(state) => state,
        }
    }
}

impl Held<'_> {
    /// Makes every recorded location stale (as any other lock does), keeping the lock.
    pub(crate) fn bump(&mut self) {
        // A load and a store, not `fetch_add` (a locked instruction): the counter is only
        // ever changed under the message lock (`MessageBuilder::bump_generation`), which
        // orders every change after the one before; readers without the lock only load it.
        let next = self.counter.load(Ordering::Relaxed).wrapping_add(1);
        self.counter.store(next, Ordering::Relaxed);
        // Generation 0 (walk-only messages) stays 0: nothing is ever current there.
        if self.generation != 0 {
            self.generation = next;
        }
    }
}

/// A struct's sections in a builder message: its data section, and its pointer section with
/// the id of the segment holding it (which a `PointerBuilder` for one of its slots needs).
#[derive(Clone, Copy)]
pub(crate) struct DataAt {
    /// The data section (`None`: empty).
    ptr: Option<NonNull<u8>>,
    len: u32,
    /// The pointer section (`None`: empty).
    ptrs: Option<NonNull<u8>>,
    ptr_count: u16,
    segment: u32,
}

impl DataAt {
    /// Where `s`'s sections are, if they are inside one of `table`'s segments.
    pub(crate) fn locate(table: &SegmentTable, s: &StructBuilder<'_>) -> Option<DataAt> {
        DataAt::locate_reader(table, s.as_reader())
    }

    /// `locate` for the root struct `s` that capnp's `init_struct(size)` just made in a new
    /// message: when its data section starts right after the root pointer (word 1 of the first
    /// segment) and the whole struct fits in that segment, its sections are found by
    /// arithmetic instead of two segment lookups (~80 instructions of `new_message()`).
    pub(crate) fn locate_new_root(
        table: &SegmentTable,
        s: &StructBuilder<'_>,
        size: StructSize,
    ) -> Option<DataAt> {
        let data_len = usize::from(size.data) * 8;
        let ptrs_len = usize::from(size.pointers) * 8;
        let r = RawStructReader(s.as_reader());
        // The first section capnp made (an empty data section has no address).
        let first = if data_len > 0 {
            capnp::raw::get_struct_data_section(r)
        } else {
            capnp::raw::get_list_bytes(capnp::raw::get_struct_pointer_section(r))
        };
        let base = table.first_base.load(Ordering::Acquire);
        let fits = 8 + data_len + ptrs_len <= table.first_bytes.load(Ordering::Acquire);
        let Some(base) = NonNull::new(base).filter(|b| {
            fits && data_len + ptrs_len > 0
                && first.len() == if data_len > 0 { data_len } else { ptrs_len }
                && first.as_ptr() == b.as_ptr().wrapping_add(8)
        }) else {
            return DataAt::locate(table, s);
        };
        // SAFETY: the first segment is `first_bytes` long from `base` (recorded when capnp was
        // handed it, still allocated: `first_bytes` is 0 once it is freed), and
        // `8 + data_len + ptrs_len` fits in it, so both offsets stay inside its allocation.
        // capnp's `init_struct_pointer` lays a struct out as its data section (`size.data`
        // words) followed at once by its `size.pointers` pointer words; the first of them was
        // checked to start at word 1, so these are `s`'s sections, as `locate` finds them.
        let (data_at, ptrs_at) = unsafe { (base.add(8), base.add(8 + data_len)) };
        let at = DataAt {
            ptr: (data_len > 0).then_some(data_at),
            len: data_len as u32,
            ptrs: (ptrs_len > 0).then_some(ptrs_at),
            ptr_count: size.pointers,
            segment: 0,
        };
        debug_assert!(DataAt::locate(table, s).is_some_and(|l| l.ptr == at.ptr
            && l.len == at.len
            && l.ptrs == at.ptrs
            && l.ptr_count == at.ptr_count
            && l.segment == 0));
        Some(at)
    }

    /// Where the struct capnp's reader `s` (over this message's builder arena) has its
    /// sections, if they are inside one of `table`'s segments.
    pub(crate) fn locate_reader(
        table: &SegmentTable,
        s: capnp::private::layout::StructReader<'_>,
    ) -> Option<DataAt> {
        let r = RawStructReader(s);
        let data = capnp::raw::get_struct_data_section(r);
        let ptrs = capnp::raw::get_list_bytes(capnp::raw::get_struct_pointer_section(r));
        let d = table.place_of(data);
        let p = table.place_of(ptrs);
        if d.is_none() && p.is_none() {
            return None;
        }
        Some(DataAt {
            ptr: d.map(|(_, at)| at),
            len: if d.is_some() {
                u32::try_from(data.len()).ok()?
            } else {
                0
            },
            ptrs: p.map(|(_, at)| at),
            ptr_count: if p.is_some() {
                u16::try_from(ptrs.len() / 8).ok()?
            } else {
                0
            },
            segment: p.map_or(0, |(id, _)| id),
        })
    }

    /// Whether both sections are at least `size`'s (a builder's read of such a struct
    /// returns it as it is: no upgrade).
    pub(crate) fn holds(self, size: StructSize) -> bool {
        self.len as usize >= usize::from(size.data) * 8 && self.ptr_count >= size.pointers
    }

    /// The byte range of a `bits`-wide value at `offset` (in units of that width), when it
    /// lies inside the section.
    fn span(self, bits: u32, offset: u32) -> Option<(usize, usize)> {
        let bit = u64::from(offset) * u64::from(bits);
        let start = usize::try_from(bit / 8).ok()?;
        let width = (bits as usize).div_ceil(8);
        (bits > 0 && self.ptr.is_some() && start + width <= self.len as usize)
            .then_some((start, width))
    }

    /// Whether a `bits`-wide value at `offset` lies inside the section.
    pub(crate) fn fits(self, bits: u32, offset: u32) -> bool {
        self.span(bits, offset).is_some()
    }

    /// The raw bits at `offset`, or `None` when outside the section.
    pub(crate) fn read(self, _held: &Held<'_>, bits: u32, offset: u32) -> Option<u64> {
        // SAFETY: the section lies in a live segment (the message is alive: `_held` borrows
        // it) and is current (the caller checked the generation under the same lock, so
        // nothing moved it); the lock excludes every other access to the message's bytes.
        unsafe { self.read_current(bits, offset) }
    }

    /// `read` for a caller holding [`Excluded`] instead of the lock, on a location current at
    /// the message's generation read under the same exclusion (as `write_excluded`).
    #[inline(always)]
    pub(crate) fn read_excluded(self, _excluded: &Excluded, bits: u32, offset: u32) -> Option<u64> {
        // SAFETY: the location is current (its generation is the message's, read under the
        // exclusion, which no other thread can change meanwhile), so the section lies in a
        // live segment of the message (the caller's handle keeps it alive), and the exclusion
        // rules out every concurrent access to it.
        unsafe { self.read_current(bits, offset) }
    }

    /// `read`'s body.
    ///
    /// # Safety
    /// The location is current and the caller excludes every other access to the message's
    /// bytes (the lock, or [`Excluded`]).
    #[inline(always)]
    unsafe fn read_current(self, bits: u32, offset: u32) -> Option<u64> {
        let (start, width) = self.span(bits, offset)?;
        let p = self.ptr?;
        // SAFETY: `start + width <= len`, inside the data section, which is live, current and
        // not written by anyone else (the caller's contract).
        let v = unsafe { read_le(p.as_ptr().add(start), width) };
        Some(if bits == 1 {
            (v >> (offset % 8)) & 1
        } else {
            v
        })
    }

    /// Writes the raw bits at `offset`; `false` (nothing written) when outside the section.
    pub(crate) fn write(self, _held: &Held<'_>, bits: u32, offset: u32, value: u64) -> bool {
        // SAFETY: the location is current under the lock `_held` proves (see `read`).
        unsafe { self.write_current(bits, offset, value) }
    }

    /// `write` for a caller holding [`Excluded`] instead of the lock, on a location current at
    /// the message's generation read under the same exclusion.
    pub(crate) fn write_excluded(
        self,
        _excluded: &Excluded,
        bits: u32,
        offset: u32,
        value: u64,
    ) -> bool {
        // SAFETY: the location is current (its generation is the message's, read under the
        // exclusion, which no other thread can change meanwhile), so the section lies in a
        // live segment of the message (the caller's handle keeps it alive), and the exclusion
        // rules out every concurrent access to it.
        unsafe { self.write_current(bits, offset, value) }
    }

    /// `write`'s body.
    ///
    /// # Safety
    /// The location is current and the caller excludes every other access to the message's
    /// bytes (the lock, or [`Excluded`]).
    unsafe fn write_current(self, bits: u32, offset: u32, value: u64) -> bool {
        let (Some((start, width)), Some(p)) = (self.span(bits, offset), self.ptr) else {
            return false;
        };
        // SAFETY: `start + width <= len`, inside the data section, which is live, current and
        // not accessed by anyone else (the caller's contract); a data section holds no
        // pointers, so no write here can mislead capnp's later walks.
        unsafe {
            let p = p.as_ptr().add(start);
            if bits == 1 {
                let shift = offset % 8;
                let b = (p.read() & !(1 << shift)) | (((value & 1) as u8) << shift);
                p.write(b);
            } else {
                write_le(p, width, value);
            }
        }
        true
    }

    /// Whether pointer slot `index` lies inside the pointer section.
    pub(crate) fn has_pointer(self, index: u32) -> bool {
        self.ptrs.is_some() && index < u32::from(self.ptr_count)
    }

    /// The address of pointer slot `index`, when it lies inside the pointer section.
    fn slot(self, index: u32) -> Option<NonNull<u8>> {
        if !self.has_pointer(index) {
            return None;
        }
        let section = self.ptrs?;
        // SAFETY: `index < ptr_count`, so the slot's 8 bytes lie inside the pointer section
        // `locate` found in a live segment; the offset keeps the segment pointer's provenance.
        Some(unsafe { section.add(index as usize * 8) })
    }

    /// capnp's `PointerBuilder` for `slot` (from `slot`, under the lock `held` holds, the
    /// caller having checked the generation). The slot is a pointer of this message's struct,
    /// in segment `segment` (capnp's id: the table is in allocation order), exactly what
    /// capnp's `get_pointer_field` makes; `get_root` is capnp's constructor for a pointer at a
    /// known location. capnp trusts the location (it is a safe function taking a raw
    /// pointer), so its soundness rests on the argument in `write_pointer` and in
    /// docs/ARCHITECTURE.md.
    fn pointer_builder<'h>(self, held: &'h mut Held<'_>, slot: NonNull<u8>) -> PointerBuilder<'h> {
        let arena: &mut dyn BuilderArena = &mut held.guard.arena;
        PointerBuilder::get_root(arena, self.segment, slot.as_ptr())
    }

    /// Runs `f` on pointer slot `index` as a `PointerReader` over the builder's arena (capnp's
    /// `into_reader` of the `PointerBuilder` `write_pointer` makes), without a walk; `None`
    /// when the slot is outside the section. A `PointerReader` writes nothing, so every
    /// recorded location stays current and the generation is kept.
    pub(crate) fn read_pointer<R>(
        self,
        held: &mut Held<'_>,
        index: u32,
        f: impl FnOnce(PointerReader<'_>) -> R,
    ) -> Option<R> {
        let slot = self.slot(index)?;
        Some(f(self.pointer_builder(held, slot).into_reader()))
    }

    /// Runs `f` on pointer slot `index` as the `PointerBuilder` capnp's own
    /// `StructBuilder::get_pointer_field` would hand out for it (this arena, this segment,
    /// this slot), without a walk; `None` (nothing done) when the slot is outside the section.
    ///
    /// Whatever `f` writes into the slot, capnp only allocates new space and writes the slot,
    /// after zeroing the object the slot pointed to. When the slot was null nothing existing
    /// moves or changes, so every recorded location stays current (the generation is kept;
    /// see "Builder locations" in docs/ARCHITECTURE.md for why no record can lie behind a
    /// null slot). Otherwise a handle may have recorded a location inside the old object:
    /// every record is made stale first (the caller re-records its own at the new
    /// generation: its struct does not move).
    pub(crate) fn write_pointer<R>(
        self,
        held: &mut Held<'_>,
        index: u32,
        f: impl FnOnce(PointerBuilder<'_>) -> R,
    ) -> Option<R> {
        let slot = self.slot(index)?;
        // SAFETY: 8 readable bytes inside the pointer section (`slot`), current under the
        // lock `held` holds (the caller checked the generation): no other access meanwhile.
        if unsafe { read_le(slot.as_ptr(), 8) } != 0 {
            held.bump();
        }
        Some(f(self.pointer_builder(held, slot)))
    }

    /// Writes `bytes` into pointer slot `index` as capnp's `set_text` (`text`: a NUL follows,
    /// counted in the list) or `set_data` does, to the byte: the old object cleared by capnp
    /// (`PointerBuilder::clear`: its words and the slot zeroed) when the slot was not null,
    /// then the list's words allocated by the arena's own `allocate` (`place`: capnp's
    /// `allocate`), its pointer written (element size Byte) and the bytes copied into the
    /// fresh, zeroed words (the NUL is one of them). `None` with nothing written when the slot
    /// is outside the section or the list would be longer than a list pointer can say.
    /// Every recorded location stays as valid as after `write_pointer`: the same bump when
    /// the slot was not null, and otherwise only new space and the slot written.
    pub(crate) fn write_blob(
        self,
        held: &mut Held<'_>,
        index: u32,
        bytes: &[u8],
        text: bool,
    ) -> Option<()> {
        let slot = self.slot(index)?;
        let count = u32::try_from(bytes.len() + usize::from(text))
            .ok()
            .filter(|&n| n < 1 << 29)?;
        // SAFETY: 8 readable bytes inside the pointer section (`slot`), current under the
        // lock `held` holds (the caller checked the generation): no other access meanwhile.
        if unsafe { read_le(slot.as_ptr(), 8) } != 0 {
            held.bump();
            self.pointer_builder(held, slot).clear();
        }
        // SAFETY: the slot is 8 writable bytes of segment `self.segment` of this arena (see
        // `slot`), now null, and nothing else accesses the message (the lock); `place` writes
        // only the slot and the words the arena just handed out.
        let (obj, _) = unsafe {
            place(
                &mut held.guard.arena,
                self.segment,
                slot.as_ptr(),
                count.div_ceil(8),
                1,
                (count << 3) | 2,
            )
        };
        // SAFETY: `obj` starts `count.div_ceil(8)` fresh words of this message, at least
        // `bytes.len()` bytes; `bytes` is a Python object's or a copy, never this message.
        unsafe { copy_small(bytes, obj) };
        Some(())
    }

    /// Copies `src` into pointer slot `index` as capnp's `set_struct_pointer` (not
    /// canonical) does, to the byte: the old object zeroed (`zero_plain`, or capnp's `clear`
    /// when it is not plain), then the struct and each of its lists allocated in turn by the
    /// arena's own `allocate` (in the slot's segment, else anywhere behind a landing pad:
    /// capnp's `allocate`), the data section and the list bytes copied. Only when `src` is plain (`SrcStruct::is_plain`:
    /// null slots and lists of Void, Bool or numbers, Text and Data included); `None` with
    /// nothing written otherwise, or when the slot is outside the section. Every recorded
    /// location stays as valid as after `write_pointer`: the same bump when the slot was not
    /// null, and otherwise only new space and the slot written.
    pub(crate) fn copy_struct(
        self,
        held: &mut Held<'_>,
        index: u32,
        src: SrcStruct<'_>,
    ) -> Option<()> {
        let slot = self.slot(index)?;
        if !src.is_plain() {
            return None;
        }
        // SAFETY: 8 readable bytes inside the pointer section (`slot`), current under the
        // lock `held` holds (the caller checked the generation): no other access meanwhile.
        if unsafe { read_le(slot.as_ptr(), 8) } != 0 {
            held.bump();
            // SAFETY: the slot as above, in segment `self.segment` of this arena; this
            // message's pointers were all written by capnp or this module.
            if !unsafe { zero_plain(&mut held.guard.arena, self.segment, slot.as_ptr()) } {
                self.pointer_builder(held, slot).clear();
            }
        }
        let arena = &mut held.guard.arena;
        // `is_plain` bounds the data section by 0xffff words and the slots by `MAX_OWN_POINTERS`.
        let data_words = src.data_len.div_ceil(8) as u32;
        let ptr_count = src.ptr_count as u32;
        let words = data_words + ptr_count;
        if words == 0 {
            // capnp's pointer to an empty struct: offset -1, sizes 0.
            // SAFETY: the slot's 8 bytes, as above.
            unsafe { write_le(slot.as_ptr(), 8, 0xffff_fffc) };
            return Some(());
        }
        // SAFETY: the slot is 8 writable bytes of segment `self.segment` of this arena (see
        // `slot`), nothing else accesses the message (the lock), and `place` writes only the
        // slot and the words the arena just handed out.
        let (obj, seg) = unsafe {
            place(
                arena,
                self.segment,
                slot.as_ptr(),
                words,
                0,
                data_words | (ptr_count << 16),
            )
        };
        // `is_plain` checked the range.
        let data = src
            .seg
            .get(src.data..src.data + src.data_len)
            .unwrap_or_default();
        // SAFETY: `obj` starts `words` fresh words of this message (capnp's arena handed
        // them out just now, zeroed: capnp's allocator contract), `data_len <= data_words *
        // 8` of them; `data` is another message's bytes (or a reader's), never these.
        unsafe { copy_small(data, obj) };
        for i in 0..src.ptr_count {
            let Ok(Some(list)) = src.slot(i) else {
                continue; // null (`is_plain` refused anything else): the fresh word is zero
            };
            // SAFETY: slot `i` of the new struct's pointer section, inside the `words` just
            // allocated in segment `seg`; `place` as above.
            let (elems, _) = unsafe {
                place(
                    arena,
                    seg,
                    obj.add((data_words as usize + i) * 8),
                    list.words(),
                    1,
                    list.upper,
                )
            };
            let whole = (list.bits / 8) as usize;
            let left = (list.bits % 8) as u32;
            // `is_plain` checked the range (the list's words hold the partial byte too).
            let bytes = src
                .seg
                .get(list.at..list.at + whole + usize::from(left > 0))
                .unwrap_or_default();
            if bytes.len() < whole {
                continue;
            }
            // SAFETY: `elems` starts `list.words()` fresh words, at least `whole` bytes (plus
            // the partial byte when `left > 0`); the source bytes are another message's.
            unsafe {
                copy_small(&bytes[..whole], elems);
                if let (true, Some(b)) = (left > 0, bytes.get(whole)) {
                    elems.add(whole).write(b & ((1u8 << left) - 1));
                }
            }
        }
        Some(())
    }
}

/// A builder message's arena (static calls: `allocate` and `get_segment_mut` inline).
type OwnArena = MessageArena;

/// Copies `src` to `dst` (`memcpy`: word loops measured slower here).
///
/// # Safety
/// `dst..dst + src.len()` must be writable and not overlap `src`.
unsafe fn copy_small(src: &[u8], dst: *mut u8) {
    // SAFETY: the caller's guarantee.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) }
}

/// Zeroes `words` words at `p`.
///
/// # Safety
/// `p..p + words * 8` must be writable.
unsafe fn zero_words(p: *mut u8, words: usize) {
    // SAFETY: the caller's guarantee.
    unsafe { std::ptr::write_bytes(p, 0, words * 8) }
}

/// Bits per element of a list pointer's element size code, for Void, Bool and numbers
/// (`None`: pointers, structs).
fn plain_bits(code: u32) -> Option<u64> {
    Some(match code {
        0 => 0,
        1 => 1,
        2 => 8,
        3 => 16,
        4 => 32,
        5 => 64,
        _ => return None,
    })
}

/// The word range `[start, start + words)` of an object a pointer at word `at` with
/// `offset` targets, when it lies inside a segment of `cap` words.
fn target_range(at: usize, offset: i64, words: u64, cap: u32) -> Option<(usize, usize)> {
    let start = i64::try_from(at).ok()? + 1 + offset;
    let start = u64::try_from(start).ok()?;
    (start + words <= u64::from(cap)).then_some((start as usize, words as usize))
}

/// What capnp's `zero_object` and `clear` do to the non-null pointer at `slot` (segment
/// `seg`), when its object is plain: a struct (near, or behind a one-word landing pad) whose
/// pointers are null or near lists of Void, Bool or numbers. Its lists, its words, the pad
/// and the slot are zeroed; `false` with nothing written for any other object (the caller
/// takes capnp's `clear`).
///
/// # Safety
/// `slot` must be 8 bytes of segment `seg` of `arena`, a builder message whose pointers
/// were written by capnp or this module (so its segment ids name segments of the arena),
/// and nobody else may access its bytes meanwhile.
unsafe fn zero_plain(arena: &mut OwnArena, seg: u32, slot: *mut u8) -> bool {
    // SAFETY: the caller's guarantees; every other address is formed from a segment's base
    // (`get_segment_mut`, capnp's own pointer) and a word range checked against that
    // segment's capacity (`target_range`) before it is formed.
    unsafe {
        let w = read_le(slot, 8);
        let (obj_seg, tag_at, tag, pad) = match w & 7 {
            0 | 4 => {
                let (base, _) = arena.get_segment_mut(seg);
                ((seg, base), (slot as usize - base as usize) / 8, w, None)
            }
            2 => {
                let far_seg = (w >> 32) as u32;
                let (base, cap) = arena.get_segment_mut(far_seg);
                let pos = (w as u32 >> 3) as usize;
                if pos >= cap as usize {
                    return false;
                }
                let pad = base.add(pos * 8);
                ((far_seg, base), pos, read_le(pad, 8), Some(pad))
            }
            _ => return false,
        };
        if tag & 3 != 0 {
            return false;
        }
        let (_, base) = obj_seg;
        let (_, cap) = arena.get_segment_mut(obj_seg.0);
        let data_words = (tag >> 32) & 0xffff;
        let ptr_count = tag >> 48;
        let offset = i64::from((tag as u32 as i32) >> 2);
        let Some((start, words)) = target_range(tag_at, offset, data_words + ptr_count, cap) else {
            return false;
        };
        // Slot `i`'s list as a word range: `Ok(None)` null, `Err(())` anything else.
        let list = |i: usize| -> Result<Option<(usize, usize)>, ()> {
            let at = start + data_words as usize + i;
            let p = read_le(base.add(at * 8), 8);
            if p == 0 {
                return Ok(None);
            }
            let upper = (p >> 32) as u32;
            let bits = plain_bits(upper & 7).ok_or(())?;
            let list_words = (u64::from(upper >> 3) * bits).div_ceil(64);
            let off = i64::from((p as u32 as i32) >> 2);
            match (p & 3 == 1, target_range(at, off, list_words, cap)) {
                (true, Some(range)) => Ok(Some(range)),
                _ => Err(()),
            }
        };
        // Checked before anything is written, then zeroed (each list before the struct,
        // whose words locate it).
        if !(0..ptr_count as usize).all(|i| list(i).is_ok()) {
            return false;
        }
        for i in 0..ptr_count as usize {
            if let Ok(Some((s, len))) = list(i) {
                zero_words(base.add(s * 8), len);
            }
        }
        zero_words(base.add(start * 8), words);
        if let Some(pad) = pad {
            write_le(pad, 8, 0);
        }
        write_le(slot, 8, 0);
        true
    }
}

/// capnp's `wire_helpers::allocate` for a null pointer at `slot` (in segment `seg`):
/// `words` in `seg` if they fit, the pointer then a near pointer of `kind` (0 struct, 1
/// list) whose upper half is `upper`; otherwise `words + 1` anywhere (capnp's
/// `allocate_anywhere`), the slot a far pointer to a landing pad holding that pointer, the
/// object after the pad. Returns the object's first byte and its segment.
///
/// # Safety
/// `slot` must be 8 writable bytes of segment `seg` of `arena`, whose bytes nobody else
/// accesses meanwhile.
#[inline(always)]
unsafe fn place(
    arena: &mut OwnArena,
    seg: u32,
    slot: *mut u8,
    words: u32,
    kind: u32,
    upper: u32,
) -> (*mut u8, u32) {
    // SAFETY (both arms): the arena hands out `words` (or `words + 1`) words at `idx` of a
    // live segment whose first byte `get_segment_mut` returns (capnp's own pointer, with its
    // provenance), so every address formed lies inside that segment; the writes are the
    // slot (the caller's guarantee) and the pad (the first word handed out).
    unsafe {
        match arena.allocate(seg, words) {
            Some(idx) => {
                let (base, _) = arena.get_segment_mut(seg);
                let obj = base.add(idx as usize * 8);
                let offset = (obj as isize - slot as isize) / 8 - 1;
                let lo = ((offset as i32).wrapping_shl(2) as u32) | kind;
                write_le(slot, 8, u64::from(lo) | (u64::from(upper) << 32));
                (obj, seg)
            }
            None => {
                let (far_seg, idx) = arena.allocate_anywhere(words + 1);
                let (base, _) = arena.get_segment_mut(far_seg);
                let pad = base.add(idx as usize * 8);
                write_le(
                    slot,
                    8,
                    u64::from(idx.wrapping_shl(3) | 2) | (u64::from(far_seg) << 32),
                );
                write_le(pad, 8, u64::from(kind) | (u64::from(upper) << 32));
                (pad.add(8), far_seg)
            }
        }
    }
}

/// A struct to copy into a builder (`DataAt::copy_struct`), as byte ranges of the segment
/// holding it: its data section and its pointer section. Made by safe code from bytes capnp
/// handed out (a builder's used segments, `get_segments_for_output`); every range is checked
/// against the segment here, so nothing about it is trusted.
#[derive(Clone, Copy)]
pub(crate) struct SrcStruct<'a> {
    seg: &'a [u8],
    /// Byte offset and length of the data section.
    data: usize,
    data_len: usize,
    /// Byte offset of the pointer section and its slot count.
    ptrs: usize,
    ptr_count: usize,
}

/// Sources with more pointer slots than this are copied by capnp.
const MAX_OWN_POINTERS: usize = 16;

/// A primitive list (Void, Bool or numbers: no pointers) a source slot points at.
#[derive(Clone, Copy)]
struct SrcList {
    /// Byte offset of the elements in the source segment.
    at: usize,
    /// Element size code (0..=5) and count, as the list pointer's upper half holds them.
    upper: u32,
    bits: u64,
}

impl SrcList {
    fn words(self) -> u32 {
        // count < 2^29 and bits <= 64: at most 2^29 words, fits.
        self.bits.div_ceil(64) as u32
    }
}

impl<'a> SrcStruct<'a> {
    /// The root struct of a message whose first segment (its used words) is `seg`, when the
    /// root pointer is a near struct pointer inside it.
    pub(crate) fn root(seg: &'a [u8]) -> Option<SrcStruct<'a>> {
        let w = u64::from_le_bytes(seg.get(..8)?.try_into().ok()?);
        SrcStruct::at_pointer(seg, 0, w)
    }

    /// A struct whose data section is `data_len` bytes at byte `data` of `seg` and whose
    /// `ptr_count` pointers start at byte `ptrs` (a reader's resolved location, coords.rs;
    /// checked by `is_plain` like any other).
    pub(crate) fn from_parts(
        seg: &'a [u8],
        data: usize,
        data_len: usize,
        ptrs: usize,
        ptr_count: u16,
    ) -> SrcStruct<'a> {
        SrcStruct {
            seg,
            data,
            data_len,
            ptrs,
            ptr_count: usize::from(ptr_count),
        }
    }

    /// The words capnp's `total_size` counts for this struct (its sections and its lists)
    /// when it is plain (`is_plain`) and holds no non-empty list of Void (`None` then: the
    /// reader's charge for such a list is capnp's copy's to make).
    pub(crate) fn plain_words(self) -> Option<u64> {
        if !self.is_plain() {
            return None;
        }
        let mut words = self.data_len.div_ceil(8) as u64 + self.ptr_count as u64;
        for i in 0..self.ptr_count {
            if let Ok(Some(list)) = self.slot(i) {
                // capnp's read of a list of Void charges a word per element besides (its
                // guard against amplification): left to its copy, which charges that.
                if list.upper & 7 == 0 && list.upper >> 3 != 0 {
                    return None;
                }
                words += u64::from(list.words());
            }
        }
        Some(words)
    }

    /// The struct near struct pointer `w` (at word `pos` of `seg`) points at, if inside `seg`.
    fn at_pointer(seg: &'a [u8], pos: usize, w: u64) -> Option<SrcStruct<'a>> {
        if w & 3 != 0 || w == 0 {
            return None;
        }
        let offset = i64::from((w as u32 as i32) >> 2);
        let data_words = ((w >> 32) & 0xffff) as usize;
        let ptr_count = (w >> 48) as usize;
        let start = usize::try_from(i64::try_from(pos).ok()? + 1 + offset).ok()?;
        let end = start.checked_add(data_words + ptr_count)?;
        if end.checked_mul(8)? > seg.len() {
            return None;
        }
        Some(SrcStruct {
            seg,
            data: start * 8,
            data_len: data_words * 8,
            ptrs: (start + data_words) * 8,
            ptr_count,
        })
    }

    /// capnp's reader `s` of a struct in one of `segs` (a builder's used segments), when its
    /// sections lie in one of them.
    pub(crate) fn of_reader(
        segs: &[&'a [u8]],
        s: capnp::private::layout::StructReader<'a>,
    ) -> Option<SrcStruct<'a>> {
        let r = RawStructReader(s);
        let data = capnp::raw::get_struct_data_section(r);
        let ptrs = capnp::raw::get_list_bytes(capnp::raw::get_struct_pointer_section(r));
        // A struct read from a list of Bool has a one-bit data section, which capnp copies as
        // a byte: not measured here (and capnp refuses such lists as struct lists anyway).
        if data.is_empty() && s.get_bool_field(0) {
            return None;
        }
        let within = |seg: &[u8], part: &[u8]| -> Option<usize> {
            let (b, p) = (seg.as_ptr() as usize, part.as_ptr() as usize);
            (p >= b && p + part.len() <= b + seg.len()).then(|| p - b)
        };
        let seg = match (data.is_empty(), ptrs.is_empty()) {
            (true, true) => {
                return Some(SrcStruct {
                    seg: &[],
                    data: 0,
                    data_len: 0,
                    ptrs: 0,
                    ptr_count: 0,
                })
            }
            (false, _) => segs.iter().find(|g| within(g, data).is_some())?,
            (true, false) => segs.iter().find(|g| within(g, ptrs).is_some())?,
        };
        let data_at = if data.is_empty() {
            0
        } else {
            within(seg, data)?
        };
        let ptrs_at = if ptrs.is_empty() {
            0
        } else {
            within(seg, ptrs)?
        };
        if ptrs_at % 8 != 0 {
            return None;
        }
        Some(SrcStruct {
            seg,
            data: data_at,
            data_len: data.len(),
            ptrs: ptrs_at,
            ptr_count: ptrs.len() / 8,
        })
    }

    /// Pointer slot `i` decoded: `Ok(None)` null, `Ok(Some(list))` a near list of Void,
    /// Bool or numbers inside the segment, `Err(())` anything else (capnp's copy).
    fn slot(self, i: usize) -> Result<Option<SrcList>, ()> {
        let at = self.ptrs + i * 8;
        let bytes = self.seg.get(at..at + 8).ok_or(())?;
        let w = u64::from_le_bytes(bytes.try_into().map_err(|_| ())?);
        if w == 0 {
            return Ok(None);
        }
        if w & 3 != 1 {
            return Err(());
        }
        let upper = (w >> 32) as u32;
        let bits_per = plain_bits(upper & 7).ok_or(())?;
        let bits = u64::from(upper >> 3) * bits_per;
        let offset = i64::from((w as u32 as i32) >> 2);
        let start = i64::try_from(at / 8).map_err(|_| ())? + 1 + offset;
        let start = usize::try_from(start).map_err(|_| ())?;
        let end = (start as u64 + bits.div_ceil(64)) * 8;
        if end > self.seg.len() as u64 {
            return Err(());
        }
        Ok(Some(SrcList {
            at: start * 8,
            upper,
            bits,
        }))
    }

    /// Whether `copy_struct` copies this struct itself: at most `MAX_OWN_POINTERS` pointer
    /// slots, each null or a list of Void, Bool or numbers inside the segment, and the data
    /// section inside it.
    fn is_plain(self) -> bool {
        self.ptr_count <= MAX_OWN_POINTERS
            && self.data_len <= 0xffff * 8
            && self.seg.get(self.data..self.data + self.data_len).is_some()
            && (0..self.ptr_count).all(|i| self.slot(i).is_ok())
    }
}

/// The elements of a list in a builder message.
#[derive(Clone, Copy)]
pub(crate) struct ElemsAt {
    ptr: Option<NonNull<u8>>,
    len: u32,
    step_bits: u32,
    size: ElementSize,
    /// Data section bytes of each element of a struct list (the schema's).
    struct_data: u32,
    /// Where each element's pointer section starts (its data section's actual size, in
    /// words) and its slot count, for a struct list; and the segment id of the list.
    elem_ptrs: StructPtrs,
}

/// The elements of a recorded list of pointers (64 bits each) in the message's first segment,
/// as [`ListCache::blobs_excluded`] reads them: what a Text or Data element read needs.
#[derive(Clone, Copy)]
pub(crate) struct BlobsAt {
    ptr: NonNull<u8>,
    len: u32,
}

impl BlobsAt {
    pub(crate) fn len(self) -> u32 {
        self.len
    }

    /// The bytes of Text (`text`) or Data element `i` for a caller holding [`Excluded`]
    /// instead of the lock, read in place from the first segment, whose base and used words
    /// `table` publishes without a lock (`SegmentTable::first_used`, a lower bound of the
    /// used words); `None` as [`ElemsAt::blob_in_place`] declines.
    pub(crate) fn blob_excluded<'e>(
        self,
        _excluded: &'e Excluded,
        table: &SegmentTable,
        i: u32,
        text: bool,
    ) -> Option<&'e [u8]> {
        let start = table.first_base.load(Ordering::Acquire);
        if start.is_null() {
            return None;
        }
        let used = table
            .first_used
            .load(Ordering::Relaxed)
            .min(table.first_bytes.load(Ordering::Acquire));
        // SAFETY: `start` is the first segment's base (published once, when the arena was
        // handed it; segments are freed only with the message, which the caller's handle
        // keeps alive), and its first `used` bytes are handed out (a lower bound of the used
        // words, within its length); the list lies in it (`blobs_excluded`). Nothing writes
        // them while the exclusion, borrowed for `'e`, lives.
        unsafe { self.blob_at(start, used, i, text) }
    }

    /// Element `i`'s bytes, read in place from the list's segment, which starts at `start`
    /// and has `used` bytes handed out: `None` unless `i` is in range and the element's
    /// pointer is null or a list of bytes whose slot and target lie within them.
    ///
    /// # Safety
    /// The list is a recorded location current at the caller's generation, in the segment
    /// starting at `start`, whose first `used` bytes are initialized and inside its
    /// allocation, and nothing writes them for `'b`.
    unsafe fn blob_at<'b>(
        self,
        start: *const u8,
        used: usize,
        i: u32,
        text: bool,
    ) -> Option<&'b [u8]> {
        if i >= self.len {
            return None;
        }
        // SAFETY: `i < len`: element `i`'s 8 bytes lie inside the list (`locate`), in a live
        // segment current at the caller's generation; the offset keeps the list pointer's
        // provenance.
        let slot = unsafe { self.ptr.add(i as usize * 8) };
        let after_slot = (slot.as_ptr() as usize)
            .checked_sub(start as usize)?
            .checked_add(8)?;
        if after_slot > used {
            return None;
        }
        // SAFETY: the slot's 8 bytes lie within the segment's used bytes (just checked), not
        // written meanwhile (the caller's contract).
        let word = unsafe { read_le(slot.as_ptr(), 8) };
        if word == 0 {
            return Some(&[]);
        }
        // A list pointer (kind 1) of bytes (element size 2), as capnp writes Text and Data.
        if word & 3 != 1 || (word >> 32) & 7 != 2 {
            return None;
        }
        let count = usize::try_from(word >> 35).ok()?;
        // The signed offset in words from the end of the slot.
        let offset = i64::from((word as u32 as i32) >> 2) * 8;
        let target = usize::try_from(i64::try_from(after_slot).ok()?.checked_add(offset)?).ok()?;
        if target.checked_add(count)? > used {
            return None;
        }
        // SAFETY: `[target, target + count)` lies within the segment's used bytes (checked
        // just above), which were allocated and zeroed when handed out; nothing writes them
        // for `'b` (the caller's contract). `start` is the segment's own pointer.
        let bytes = unsafe { std::slice::from_raw_parts(start.add(target), count) };
        if !text {
            return Some(bytes);
        }
        match bytes.split_last() {
            Some((0, body)) => Some(body),
            _ => None,
        }
    }
}

/// The pointer sections of a struct list's elements (see `ElemsAt::elem_ptrs`).
#[derive(Clone, Copy, Default)]
struct StructPtrs {
    segment: u32,
    data_words: u16,
    count: u16,
}

impl StructPtrs {
    fn pack(self) -> u64 {
        (u64::from(self.segment) << 32) | (u64::from(self.data_words) << 16) | u64::from(self.count)
    }

    fn unpack(v: u64) -> Self {
        StructPtrs {
            segment: (v >> 32) as u32,
            data_words: (v >> 16) as u16,
            count: v as u16,
        }
    }
}

impl ElemsAt {
    /// Where `l`'s elements are (an empty list has no address).
    pub(crate) fn locate<'a>(
        table: &SegmentTable,
        l: impl capnp::traits::IntoInternalListReader<'a>,
    ) -> Option<ElemsAt> {
        let r = RawListReader(l.into_internal_list_reader());
        let len = r.0.len();
        let size = capnp::raw::get_list_element_size(RawListReader(r.0));
        let step_bits = capnp::raw::get_list_step_size_in_bits(RawListReader(r.0));
        let bytes = capnp::raw::get_list_bytes(r);
        let place = table.place_of(bytes);
        let ptr = place.map(|(_, p)| p);
        if ptr.is_none() && len != 0 && step_bits != 0 {
            return None;
        }
        let total = u64::from(len) * u64::from(step_bits);
        if total.div_ceil(8) > bytes.len() as u64 {
            return None;
        }
        Some(ElemsAt {
            ptr,
            len,
            step_bits,
            size,
            struct_data: 0,
            elem_ptrs: StructPtrs {
                segment: place.map_or(0, |(id, _)| id),
                ..StructPtrs::default()
            },
        })
    }

    /// As `locate`, for a struct list whose schema gives its elements `data_words` of data
    /// and whose elements actually have `actual_data_bytes` (`None`: the list is empty);
    /// their pointer sections fill the rest of each element.
    pub(crate) fn with_struct_data(
        mut self,
        data_words: u16,
        actual_data_bytes: Option<usize>,
    ) -> Option<ElemsAt> {
        let data = u32::from(data_words) * 64;
        if self.size != ElementSize::InlineComposite || data > self.step_bits {
            return None;
        }
        self.struct_data = data / 8;
        if let Some(actual) = actual_data_bytes {
            let actual_bits = u32::try_from(actual).ok()?.checked_mul(8)?;
            if actual_bits % 64 == 0 && actual_bits <= self.step_bits {
                self.elem_ptrs.data_words = u16::try_from(actual_bits / 64).ok()?;
                self.elem_ptrs.count = u16::try_from((self.step_bits - actual_bits) / 64).ok()?;
            }
        }
        Some(self)
    }

    pub(crate) fn len(self) -> u32 {
        self.len
    }

    /// Whether the elements are encoded exactly at `size`'s width (a list of Bool or numbers
    /// written by a current schema): what capnp's builder hands out for such a list as it is.
    pub(crate) fn is_exactly(self, size: ElementSize) -> bool {
        let bits = match size {
            ElementSize::Void => 0,
            ElementSize::Bit => 1,
            ElementSize::Byte => 8,
            ElementSize::TwoBytes => 16,
            ElementSize::FourBytes => 32,
            ElementSize::EightBytes => 64,
            ElementSize::Pointer | ElementSize::InlineComposite => return false,
        };
        self.size == size && self.step_bits == bits
    }

    pub(crate) fn size(self) -> ElementSize {
        self.size
    }

    /// The data section of struct element `i`.
    pub(crate) fn struct_data(self, i: u32) -> Option<DataAt> {
        if i >= self.len || self.size != ElementSize::InlineComposite {
            return None;
        }
        let start = usize::try_from(u64::from(i) * u64::from(self.step_bits) / 8).ok()?;
        // SAFETY: `i < len` and the list's `len * step` bits lie in its bytes (`locate`), so
        // the element's first byte is inside the list's allocation.
        let ptr = unsafe { self.ptr?.add(start) };
        let p = self.elem_ptrs;
        let ptrs = if p.count > 0 {
            // SAFETY: the element's pointer section starts `data_words` words into it and
            // ends with it (`with_struct_data`: data and pointers make up the step), inside
            // the list's allocation as above.
            Some(unsafe { ptr.add(usize::from(p.data_words) * 8) })
        } else {
            None
        };
        Some(DataAt {
            ptr: (self.struct_data > 0).then_some(ptr),
            len: self.struct_data,
            ptrs,
            ptr_count: p.count,
            segment: p.segment,
        })
    }

    /// Primitive element `i` as raw bits (`bits` = the element width), `None` when this is
    /// not a list of that width or `i` is out of range.
    pub(crate) fn read(self, _held: &Held<'_>, bits: u32, i: u32) -> Option<u64> {
        let (p, shift, width) = self.element(bits, i)?;
        // SAFETY: `element` checked `i < len` and the width against the list's step, and the
        // elements lie in a live, current segment (see `DataAt::read`).
        let v = unsafe { read_le(p, width) };
        Some(if bits == 1 { (v >> shift) & 1 } else { v })
    }

    /// Runs `f` on element `i` of a list of pointers as a `PointerReader` over the builder's
    /// arena (what capnp's `ListBuilder::get_pointer_element(i).into_reader()` makes), without
    /// a walk; `None` when this is not a list of pointers or `i` is out of range. A
    /// `PointerReader` writes nothing: every recorded location stays current.
    pub(crate) fn read_pointer<R>(
        self,
        held: &mut Held<'_>,
        i: u32,
        f: impl FnOnce(PointerReader<'_>) -> R,
    ) -> Option<R> {
        if self.size != ElementSize::Pointer || self.step_bits != 64 || i >= self.len {
            return None;
        }
        // SAFETY: `i < len`, and the list's `len * 64` bits lie in its bytes (`locate`), so
        // element `i`'s 8 bytes are inside the list, in a live segment current under the lock
        // `held` holds (the caller checked the generation); the offset keeps the list
        // pointer's provenance.
        let slot = unsafe { self.ptr?.add(i as usize * 8) };
        // The slot is a pointer of this message's list, in segment `elem_ptrs.segment` (the
        // list's, `locate`): what capnp's own `get_pointer_element` makes, as in
        // `DataAt::pointer_builder` (whose argument in docs/ARCHITECTURE.md covers it).
        let arena: &mut dyn BuilderArena = &mut held.guard.arena;
        let pb = PointerBuilder::get_root(arena, self.elem_ptrs.segment, slot.as_ptr());
        Some(f(pb.into_reader()))
    }

    /// Text (`text`) or Data element `i` of a list of pointers, read in place without
    /// capnp's pointer decoding: the bytes when its pointer is null (none) or a list of bytes
    /// in the list's own segment, as the builder writes them; `None` for anything else (a
    /// far pointer, another kind, a Text without its NUL), which `read_pointer` then reads
    /// (and capnp raises for). The bytes are checked to lie within the segment's used words.
    pub(crate) fn blob_in_place<'h>(
        self,
        held: &'h Held<'_>,
        i: u32,
        text: bool,
    ) -> Option<&'h [u8]> {
        let arena = &held.guard.arena;
        let segment = self.elem_ptrs.segment;
        if segment as usize >= arena.len() {
            return None;
        }
        // capnp's `ReaderArena::get_segment` of a builder arena: the segment's first byte and
        // its used words.
        let (start, words) = ReaderArena::get_segment(arena, segment).ok()?;
        // SAFETY: `start` is the first byte of the list's segment, live and not written while
        // the lock `held` holds is borrowed for `'h`, and its first `words` words are used
        // (capnp's `get_segment`).
        unsafe { self.blobs()?.blob_at(start, words as usize * 8, i, text) }
    }

    /// This location as a list of pointers (64 bits each, `BlobsAt`), when it is one.
    fn blobs(self) -> Option<BlobsAt> {
        if self.size != ElementSize::Pointer || self.step_bits != 64 {
            return None;
        }
        Some(BlobsAt {
            ptr: self.ptr?,
            len: self.len,
        })
    }

    /// Writes primitive element `i`; `false` (nothing written) as `read` declines.
    pub(crate) fn write(self, _held: &Held<'_>, bits: u32, i: u32, value: u64) -> bool {
        let Some((p, shift, width)) = self.element(bits, i) else {
            return false;
        };
        // SAFETY: as in `read`; the list holds primitives, not pointers.
        unsafe {
            if bits == 1 {
                let b = (p.read() & !(1 << shift)) | (((value & 1) as u8) << shift);
                p.write(b);
            } else {
                write_le(p, width, value);
            }
        }
        true
    }

    fn element(self, bits: u32, i: u32) -> Option<(*mut u8, u32, usize)> {
        let want = match self.size {
            ElementSize::Bit => 1,
            ElementSize::Byte => 8,
            ElementSize::TwoBytes => 16,
            ElementSize::FourBytes => 32,
            ElementSize::EightBytes => 64,
            _ => return None,
        };
        if want != bits || self.step_bits != bits || i >= self.len {
            return None;
        }
        let bit = u64::from(i) * u64::from(bits);
        let start = usize::try_from(bit / 8).ok()?;
        // SAFETY: `i < len`, so the element's byte lies within the list's bytes (`locate`).
        let p = unsafe { self.ptr?.as_ptr().add(start) };
        Some((p, (bit % 8) as u32, (bits as usize).div_ceil(8)))
    }
}

/// Proof that the caller has excluded every other access to every builder message's memory
/// while it lives, without holding a message's lock: what the Python binding has while it
/// holds the GIL and no thread runs detached from it (its `ffi::excluded`, argued in
/// docs/ARCHITECTURE.md, "Unsafe code", "Builder locations"). Element reads and data-section
/// writes through a location current at the message's generation (`ListCache::prim_excluded`,
/// `StructCache::get_excluded`) then need no lock: nothing else can move, read or write the
/// bytes meanwhile. Not `Send`: it stays on the thread that made it.
pub struct Excluded(std::marker::PhantomData<*const ()>);

impl Excluded {
    /// # Safety
    /// Until the value is dropped, no other thread reads or writes the memory of any builder
    /// message that is not volatile (`MessageBuilder::is_volatile`), its recorded locations or
    /// its generation, except threads excluded the same way that do not run at the same time
    /// (the GIL's holders).
    pub unsafe fn assume() -> Excluded {
        Excluded(std::marker::PhantomData)
    }
}

/// The elements of a list of Bool or numbers `bits` wide, as recorded at the message's
/// current generation (`ListCache::prim_excluded`).
#[derive(Clone, Copy)]
pub(crate) struct PrimAt {
    ptr: NonNull<u8>,
    len: u32,
    bits: u32,
}

impl PrimAt {
    pub(crate) fn len(self) -> u32 {
        self.len
    }

    /// Element `i`'s raw bits, `None` when `i` is out of range; for a caller holding
    /// [`Excluded`] (the proof `prim_excluded` was made under).
    pub(crate) fn read(self, _excluded: &Excluded, i: u32) -> Option<u64> {
        if i >= self.len {
            return None;
        }
        let bit = u64::from(i) * u64::from(self.bits);
        let start = usize::try_from(bit / 8).ok()?;
        let width = (self.bits as usize).div_ceil(8);
        // SAFETY: `i < len` and the elements are `bits` wide with no gap (size and step
        // checked by `prim_excluded`), so the element's bytes lie within the list's bytes;
        // the location is current (its generation is the message's, read under the
        // exclusion, which no other thread can change meanwhile), so they lie in a live
        // segment of the message (the caller's handle keeps it alive), and the exclusion
        // rules out every concurrent write.
        let v = unsafe { read_le(self.ptr.as_ptr().add(start), width) };
        Some(if self.bits == 1 {
            (v >> (bit % 8)) & 1
        } else {
            v
        })
    }
}

/// Reads `width` (1, 2, 4 or 8) little-endian bytes at `p`.
///
/// # Safety
/// `p..p + width` must be readable and not written concurrently.
unsafe fn read_le(p: *const u8, width: usize) -> u64 {
    // Fixed-size copies for the usual widths (a variable-length copy is a `memcpy` call).
    // SAFETY (every arm): the caller guarantees `width` readable bytes at `p`; each arm reads
    // exactly `width` of them, unaligned, into a local of that size.
    unsafe {
        match width {
            1 => u64::from(p.read()),
            2 => u64::from(u16::from_le_bytes(p.cast::<[u8; 2]>().read_unaligned())),
            4 => u64::from(u32::from_le_bytes(p.cast::<[u8; 4]>().read_unaligned())),
            8 => u64::from_le_bytes(p.cast::<[u8; 8]>().read_unaligned()),
            _ => {
                let mut buf = [0u8; 8];
                std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), width.min(8));
                u64::from_le_bytes(buf)
            }
        }
    }
}

/// Writes the low `width` bytes of `v` little-endian at `p`.
///
/// # Safety
/// `p..p + width` must be writable and not accessed concurrently.
unsafe fn write_le(p: *mut u8, width: usize, v: u64) {
    // SAFETY (every arm): the caller guarantees `width` writable bytes at `p`; each arm
    // writes exactly `width` of them, unaligned.
    unsafe {
        match width {
            1 => p.write(v as u8),
            2 => p
                .cast::<[u8; 2]>()
                .write_unaligned((v as u16).to_le_bytes()),
            4 => p
                .cast::<[u8; 4]>()
                .write_unaligned((v as u32).to_le_bytes()),
            8 => p.cast::<[u8; 8]>().write_unaligned(v.to_le_bytes()),
            _ => {
                let buf = v.to_le_bytes();
                std::ptr::copy_nonoverlapping(buf.as_ptr(), p, width.min(8));
            }
        }
    }
}

/// A handle's recorded location and the generation it was recorded at (0: none). Read and
/// written only while the message lock is held (so `Relaxed` suffices: the lock orders them).
#[derive(Default)]
pub(crate) struct StructCache {
    generation: AtomicU64,
    ptr: AtomicPtr<u8>,
    len: AtomicU32,
    ptrs: AtomicPtr<u8>,
    /// The pointer section's segment id (high half) and slot count.
    ptrs_shape: AtomicU64,
}

impl Clone for StructCache {
    fn clone(&self) -> Self {
        // A copy starts empty: clones are made outside the lock.
        StructCache::default()
    }
}

impl StructCache {
    pub(crate) fn get(&self, held: &Held<'_>) -> Option<DataAt> {
        self.current_at(held.generation)
    }

    /// The recorded location when it was recorded at generation `current`, for a caller
    /// holding [`Excluded`] (`current` read under it, `MessageBuilder::generation_unlocked`):
    /// nothing can record another meanwhile.
    pub(crate) fn get_excluded(&self, _excluded: &Excluded, current: u64) -> Option<DataAt> {
        self.current_at(current)
    }

    /// The location when recorded at `generation`, read with nothing able to change it.
    fn current_at(&self, generation: u64) -> Option<DataAt> {
        // Generation 0 is "nothing recorded" (a message's generation starts at 1).
        if generation == 0 || self.generation.load(Ordering::Relaxed) != generation {
            return None;
        }
        let shape = self.ptrs_shape.load(Ordering::Relaxed);
        Some(DataAt {
            ptr: NonNull::new(self.ptr.load(Ordering::Relaxed)),
            len: self.len.load(Ordering::Relaxed),
            ptrs: NonNull::new(self.ptrs.load(Ordering::Relaxed)),
            ptr_count: shape as u16,
            segment: (shape >> 32) as u32,
        })
    }

    /// Records `at` as current at `generation` (called under the message lock).
    pub(crate) fn set(&self, generation: u64, at: Option<DataAt>) {
        match at {
            Some(at) => {
                let raw = |p: Option<NonNull<u8>>| p.map_or(std::ptr::null_mut(), |p| p.as_ptr());
                self.ptr.store(raw(at.ptr), Ordering::Relaxed);
                self.len.store(at.len, Ordering::Relaxed);
                self.ptrs.store(raw(at.ptrs), Ordering::Relaxed);
                self.ptrs_shape.store(
                    (u64::from(at.segment) << 32) | u64::from(at.ptr_count),
                    Ordering::Relaxed,
                );
                self.generation.store(generation, Ordering::Relaxed);
            }
            None => self.generation.store(0, Ordering::Relaxed),
        }
    }

    /// A cache already holding `at` (for a child handle made under the lock).
    pub(crate) fn with(generation: u64, at: Option<DataAt>) -> Self {
        let c = StructCache::default();
        c.set(generation, at);
        c
    }
}

/// As `StructCache`, for a list handle; written only under the lock, but also read without
/// it by [`ListCache::peek`], so its fields are published under a sequence count (a
/// seqlock: odd while a write is in progress).
#[derive(Default)]
pub(crate) struct ListCache {
    seq: AtomicU32,
    generation: AtomicU64,
    ptr: AtomicPtr<u8>,
    len: AtomicU32,
    step_bits: AtomicU32,
    /// `ElementSize` as u8, and the struct data bytes above bit 8.
    shape: AtomicU64,
    /// `StructPtrs::pack`.
    elem_ptrs: AtomicU64,
}

impl Clone for ListCache {
    fn clone(&self) -> Self {
        ListCache::default()
    }
}

fn size_code(s: ElementSize) -> u64 {
    match s {
        ElementSize::Void => 0,
        ElementSize::Bit => 1,
        ElementSize::Byte => 2,
        ElementSize::TwoBytes => 3,
        ElementSize::FourBytes => 4,
        ElementSize::EightBytes => 5,
        ElementSize::Pointer => 6,
        ElementSize::InlineComposite => 7,
    }
}

fn size_of_code(c: u64) -> ElementSize {
    match c {
        1 => ElementSize::Bit,
        2 => ElementSize::Byte,
        3 => ElementSize::TwoBytes,
        4 => ElementSize::FourBytes,
        5 => ElementSize::EightBytes,
        6 => ElementSize::Pointer,
        7 => ElementSize::InlineComposite,
        _ => ElementSize::Void,
    }
}

impl ListCache {
    pub(crate) fn get(&self, held: &Held<'_>) -> Option<ElemsAt> {
        self.current_at(held.generation)
    }

    /// The recorded elements of a list of pointers in the message's first segment, when
    /// recorded at generation `current`, for a caller holding [`Excluded`] (`current` read
    /// under it, `MessageBuilder::generation_unlocked`: no other thread can record
    /// meanwhile, so the fields are one `set`'s), narrowed to what a Text or Data element
    /// read needs.
    pub(crate) fn blobs_excluded(&self, _excluded: &Excluded, current: u64) -> Option<BlobsAt> {
        if current == 0 || self.generation.load(Ordering::Relaxed) != current {
            return None;
        }
        let pointers = self.shape.load(Ordering::Relaxed) & 0xff == size_code(ElementSize::Pointer);
        let first = StructPtrs::unpack(self.elem_ptrs.load(Ordering::Relaxed)).segment == 0;
        if !pointers || !first || self.step_bits.load(Ordering::Relaxed) != 64 {
            return None;
        }
        Some(BlobsAt {
            ptr: NonNull::new(self.ptr.load(Ordering::Relaxed))?,
            len: self.len.load(Ordering::Relaxed),
        })
    }

    /// The recorded elements of a list of Bool or numbers encoded exactly at `bits` per
    /// element, when recorded at generation `current`, for a caller holding [`Excluded`]
    /// (`current` read under it): `peek_excluded` narrowed to what an element read needs.
    pub(crate) fn prim_excluded(
        &self,
        _excluded: &Excluded,
        current: u64,
        bits: u32,
    ) -> Option<PrimAt> {
        if current == 0 || self.generation.load(Ordering::Relaxed) != current {
            return None;
        }
        // The recorded size code is the wire's (`size_of_code`); Void (0 bits) has no bytes.
        let code = (self.shape.load(Ordering::Relaxed) & 0xff) as u32;
        let want = plain_bits(code)?;
        if want == 0 || want != u64::from(bits) || self.step_bits.load(Ordering::Relaxed) != bits {
            return None;
        }
        Some(PrimAt {
            ptr: NonNull::new(self.ptr.load(Ordering::Relaxed))?,
            len: self.len.load(Ordering::Relaxed),
            bits,
        })
    }

    /// The fields when recorded at `generation`, read with nothing able to change them.
    fn current_at(&self, generation: u64) -> Option<ElemsAt> {
        // Generation 0 is "nothing recorded" (a message's generation starts at 1).
        if generation == 0 || self.generation.load(Ordering::Relaxed) != generation {
            return None;
        }
        let shape = self.shape.load(Ordering::Relaxed);
        Some(ElemsAt {
            ptr: NonNull::new(self.ptr.load(Ordering::Relaxed)),
            len: self.len.load(Ordering::Relaxed),
            step_bits: self.step_bits.load(Ordering::Relaxed),
            size: size_of_code(shape & 0xff),
            struct_data: (shape >> 8) as u32,
            elem_ptrs: StructPtrs::unpack(self.elem_ptrs.load(Ordering::Relaxed)),
        })
    }

    /// The recorded elements when they were recorded at generation `current` (the message's
    /// generation read without the lock, `MessageBuilder::generation_unlocked`), read without
    /// the lock: for operations that only compute from them (the length, a struct element's
    /// address) and dereference nothing. A read overlapping a `set` (another thread's walk)
    /// sees the sequence count change and returns `None`, so the fields returned were all
    /// written by one `set`, at the generation returned with them.
    pub(crate) fn peek(&self, current: u64) -> Option<ElemsAt> {
        let before = self.seq.load(Ordering::Acquire);
        if before & 1 != 0 || current == 0 {
            return None;
        }
        let generation = self.generation.load(Ordering::Relaxed);
        let ptr = self.ptr.load(Ordering::Relaxed);
        let len = self.len.load(Ordering::Relaxed);
        let step_bits = self.step_bits.load(Ordering::Relaxed);
        let shape = self.shape.load(Ordering::Relaxed);
        let elem_ptrs = self.elem_ptrs.load(Ordering::Relaxed);
        // Orders the loads above before the second read of the count (crossbeam's seqlock).
        std::sync::atomic::fence(Ordering::Acquire);
        if self.seq.load(Ordering::Relaxed) != before || generation != current {
            return None;
        }
        Some(ElemsAt {
            ptr: NonNull::new(ptr),
            len,
            step_bits,
            size: size_of_code(shape & 0xff),
            struct_data: (shape >> 8) as u32,
            elem_ptrs: StructPtrs::unpack(elem_ptrs),
        })
    }

    /// Records `at` as current at `generation` (called under the message lock, which
    /// orders writers; the sequence count lets `peek` detect a write it overlapped).
    pub(crate) fn set(&self, generation: u64, at: Option<ElemsAt>) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        std::sync::atomic::fence(Ordering::Release);
        self.set_fields(generation, at);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    fn set_fields(&self, generation: u64, at: Option<ElemsAt>) {
        match at {
            // An empty list is never recorded: a null pointer reads as one, and a pointer
            // write into a null slot keeps the generation (`DataAt::write_pointer`), after
            // which the slot is no longer empty.
            Some(at) if at.len > 0 => {
                self.ptr.store(
                    at.ptr.map_or(std::ptr::null_mut(), |p| p.as_ptr()),
                    Ordering::Relaxed,
                );
                self.len.store(at.len, Ordering::Relaxed);
                self.step_bits.store(at.step_bits, Ordering::Relaxed);
                self.shape.store(
                    size_code(at.size) | (u64::from(at.struct_data) << 8),
                    Ordering::Relaxed,
                );
                self.elem_ptrs.store(at.elem_ptrs.pack(), Ordering::Relaxed);
                self.generation.store(generation, Ordering::Relaxed);
            }
            _ => self.generation.store(0, Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arena(first_words: u32) -> (MessageArena, Arc<SegmentTable>) {
        let table = Arc::new(SegmentTable::default());
        let alloc = crate::external::SegmentAlloc::Heap(crate::external::Heap::new(first_words));
        let mut arena = MessageArena::new(alloc);
        // SAFETY: the tests allocate only while both are alive; the arena's drop does not
        // touch the table.
        unsafe { arena.record_into(Arc::as_ptr(&table)) };
        (arena, table)
    }

    fn lens(out: &capnp::OutputSegments<'_>) -> Vec<usize> {
        out.iter().map(|s| s.len()).collect()
    }

    #[test]
    fn segments_are_handed_out_in_order_and_recorded() {
        let (mut a, table) = arena(4);
        assert!(a.is_empty() && a.size_in_words() == 0);
        assert_eq!(a.len(), 0);
        assert!(ReaderArena::get_segment(&a, 0).is_err());
        assert_eq!(a.allocate(0, 1), None);
        // The first segment, then its words bump-wise.
        assert_eq!(a.allocate_anywhere(1), (0, 0));
        let (_, cap0) = a.get_segment_mut(0);
        assert!(cap0 >= 4);
        assert_eq!(table.published_first_used(), 8);
        assert_eq!(a.allocate(0, 2), Some(1));
        assert_eq!(table.published_first_used(), 24);
        assert_eq!(a.allocate(0, cap0), None);
        // Too large for what is left of segment 0: a second segment.
        let big = cap0 + 10;
        assert_eq!(a.allocate_anywhere(big), (1, 0));
        assert_eq!(a.len(), 2);
        let (_, cap1) = a.get_segment_mut(1);
        assert!(cap1 >= big);
        // Small amounts still go to the first segment with room, the earliest.
        assert_eq!(a.allocate_anywhere(1), (0, 3));
        // Every allocation in the first segment is published (4 words), none elsewhere.
        assert_eq!(table.published_first_used(), 32);
        assert_eq!(a.size_in_words() as u32, 4 + big);
        assert_eq!(
            ReaderArena::get_segment(&a, 1).map(|(_, w)| w).ok(),
            Some(big)
        );
        assert!(ReaderArena::get_segment(&a, 2).is_err());
        assert_eq!(a.allocate(2, 1), None);
        let out = a.get_segments_for_output();
        assert!(matches!(out, capnp::OutputSegments::MultiSegment(_)));
        assert_eq!(lens(&out), vec![32, big as usize * 8]);
        // The table places bytes of either segment in it, with its id.
        let (p1, _) = a.get_segment_mut(1);
        let (p0, _) = a.get_segment_mut(0);
        // SAFETY: words handed out above, inside each segment.
        let (b0, b1) = unsafe {
            (
                std::slice::from_raw_parts(p0.add(8), 16),
                std::slice::from_raw_parts(p1.add(8), 8),
            )
        };
        assert_eq!(
            table.place_of(b0).map(|(id, at)| (id, at.as_ptr())),
            Some((0, p0.wrapping_add(8)))
        );
        assert_eq!(
            table.place_of(b1).map(|(id, at)| (id, at.as_ptr())),
            Some((1, p1.wrapping_add(8)))
        );
    }

    #[test]
    fn one_segment_is_output_as_a_single_segment() {
        let (mut a, _table) = arena(8);
        assert!(matches!(
            a.get_segments_for_output(),
            capnp::OutputSegments::MultiSegment(ref v) if v.is_empty()
        ));
        assert_eq!(a.allocate_anywhere(3), (0, 0));
        let out = a.get_segments_for_output();
        assert!(matches!(out, capnp::OutputSegments::SingleSegment(_)));
        assert_eq!(lens(&out), vec![24]);
        let mut m = BuilderMessage { arena: a };
        assert_eq!(m.first_segment().map(<[u8]>::len), Some(24));
        assert!(m.get_root::<capnp::any_pointer::Builder<'_>>().is_ok());
    }
}
