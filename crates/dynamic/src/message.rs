//! Messages (owned readers and locked builders) and the path walk that re-derives a
//! layout object from a handle's location on every operation (DESIGN decision 3).
//!
//! Traversal accounting: because every operation re-walks its path, capnp's own read
//! limiter would charge the path again on each access (reading element i of a big list
//! re-charges the whole list). The walk therefore runs without capnp's limiter and the
//! message keeps its own budget, charged once per user-level pointer access with the size
//! the reference would charge (API.md 3.1).

use crate::first_segment::KeptSegments;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use capnp::message::{HeapAllocator, ReaderOptions, ReaderSegments};
use capnp::private::layout::{
    ElementSize, ListBuilder, ListReader, PointerBuilder, PointerReader, StructBuilder,
    StructReader, StructSize,
};
use capnp::traits::{FromPointerBuilder, FromPointerReader};
use capnp::{any_pointer_list, struct_list, Word};

use crate::any_pointer::{AnyPointerBuilder, AnyPointerReader};
use crate::error::{Error, Result};
use crate::external::{self, SegmentAlloc, SegmentSupplier, SharedState};
use crate::raw::{RawPtr, RawPtrBuilder, RawStruct};
use crate::schema::{Registry, StructSchema};
use crate::struct_::{StructBuilder as DynStructBuilder, StructReader as DynStructReader};

/// Read limits, as pycapnp's `traversal_limit_in_words` and `nesting_limit` (None = default).
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadLimits {
    pub traversal_limit_in_words: Option<u64>,
    pub nesting_limit: Option<i64>,
}

impl ReadLimits {
    pub const DEFAULT_TRAVERSAL_LIMIT: u64 = 8 * 1024 * 1024;
    pub const DEFAULT_NESTING_LIMIT: i64 = 64;

    fn words(self) -> u64 {
        self.traversal_limit_in_words
            .unwrap_or(Self::DEFAULT_TRAVERSAL_LIMIT)
    }

    fn nesting(self) -> i32 {
        let nesting = self.nesting_limit.unwrap_or(Self::DEFAULT_NESTING_LIMIT);
        i32::try_from(nesting.max(0)).unwrap_or(i32::MAX)
    }

    /// Options for framing (segment table checks against the whole limit).
    fn options(self) -> ReaderOptions {
        let mut o = ReaderOptions::new();
        o.traversal_limit_in_words(Some(usize::try_from(self.words()).unwrap_or(usize::MAX)));
        o.nesting_limit(self.nesting());
        o
    }
}

/// Input bytes shared with the caller (zero-copy) or owned words (copied when unaligned).
#[derive(Clone)]
pub(crate) enum Bytes {
    Shared(Arc<dyn AsRef<[u8]> + Send + Sync>),
    Words(Arc<Vec<Word>>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Shared(b) => (**b).as_ref(),
            Bytes::Words(w) => Word::words_to_bytes(w),
        }
    }
}

impl Bytes {
    /// Shares `buf` when it is 8-byte aligned (capnp requires aligned segments), else copies.
    fn new(buf: Arc<dyn AsRef<[u8]> + Send + Sync>) -> Bytes {
        let slice: &[u8] = (*buf).as_ref();
        if (slice.as_ptr() as usize).is_multiple_of(8) {
            Bytes::Shared(buf)
        } else {
            Bytes::Words(Arc::new(copy_to_words(slice)))
        }
    }
}

/// Where the segment of a framed one-segment message in `bytes` ends, when capnp's
/// `BufferSegments::new` would accept it (a segment table of one segment, within the
/// traversal limit and the bytes); `None` for anything else, which capnp then reads (and
/// reports). One segment is what builders write for small messages; capnp would allocate
/// its table of segment bounds for it.
fn single_segment_end(bytes: &[u8], limits: ReadLimits) -> Option<usize> {
    let table: &[u8; 8] = bytes.first_chunk()?;
    if table[..4] != [0, 0, 0, 0] {
        return None;
    }
    let words = u32::from_le_bytes([table[4], table[5], table[6], table[7]]);
    if u64::from(words) > limits.words() {
        return None;
    }
    let end = 8 + usize::try_from(words).ok()?.checked_mul(8)?;
    (end <= bytes.len()).then_some(end)
}

/// Where the two segments of a framed two-segment message in `bytes` end (`bytes[16..mid]`
/// and `bytes[mid..end]`), when capnp's `BufferSegments::new` would accept it (a table of two
/// segments, within the traversal limit and the bytes); `None` for anything else. Two
/// segments are what a builder writes for a message whose large list did not fit its first
/// segment; capnp would allocate its table of segment bounds for them.
fn two_segment_ends(bytes: &[u8], limits: ReadLimits) -> Option<(usize, usize)> {
    let table: &[u8; 16] = bytes.first_chunk()?;
    if table[..4] != [1, 0, 0, 0] {
        return None;
    }
    let first = u32::from_le_bytes([table[4], table[5], table[6], table[7]]);
    let second = u32::from_le_bytes([table[8], table[9], table[10], table[11]]);
    if u64::from(first) + u64::from(second) > limits.words() {
        return None;
    }
    let mid = 16 + usize::try_from(first).ok()?.checked_mul(8)?;
    let end = mid.checked_add(usize::try_from(second).ok()?.checked_mul(8)?)?;
    (end <= bytes.len()).then_some((mid, end))
}

/// The segments as a releasable reader keeps them, or unchanged.
/// `buffers`: the inputs a releasable reader gives back (empty for any other).
fn lend(segments: Segments, buffers: Vec<Bytes>, sharing: Sharing) -> Segments {
    if sharing.releasable {
        Segments::Lent(Box::new(Lent {
            slot: RwLock::new(Some(LentParts { segments, buffers })),
        }))
    } else {
        segments
    }
}

fn copy_to_words(bytes: &[u8]) -> Vec<Word> {
    let mut words = Word::allocate_zeroed_vec(bytes.len().div_ceil(8));
    Word::words_to_bytes_mut(&mut words)[..bytes.len()].copy_from_slice(bytes);
    words
}

/// A stream that ends inside a message is reported as capnp's premature end of file (the
/// `io::Read` adapter says "failed to fill the whole buffer"), which callers stop on.
fn eof(e: capnp::Error) -> capnp::Error {
    match e.kind {
        capnp::ErrorKind::FailedToFillTheWholeBuffer => {
            capnp::Error::from_kind(capnp::ErrorKind::PrematureEndOfFile)
        }
        _ => e,
    }
}

fn read_limit_exceeded() -> Error {
    Error::Capnp(capnp::Error::from_kind(capnp::ErrorKind::ReadLimitExceeded))
}

/// A byte range of a shared buffer (one message of several).
struct Window {
    buf: Arc<dyn AsRef<[u8]> + Send + Sync>,
    start: usize,
    end: usize,
}

impl AsRef<[u8]> for Window {
    fn as_ref(&self) -> &[u8] {
        (*self.buf)
            .as_ref()
            .get(self.start..self.end)
            .unwrap_or_default()
    }
}

pub(crate) enum Segments {
    Flat(capnp::serialize::BufferSegments<Bytes>),
    Owned(capnp::serialize::OwnedSegments),
    Unpacked(crate::packed::Unpacked),
    /// A framed message of one segment: the segment is `bytes[8..end]`.
    Single {
        bytes: Bytes,
        end: usize,
    },
    /// A framed message of two segments: `bytes[16..mid]` and `bytes[mid..end]`.
    Pair {
        bytes: Bytes,
        mid: usize,
        end: usize,
    },
    List(Vec<Bytes>),
    /// Bytes the owner can take back (`MessageReader::release`). They are reachable only
    /// under the lent lock (`with_root`), so as plain segments this variant has none: code
    /// that indexes segments directly declines and takes the locked path.
    Lent(Box<Lent>),
}

/// The segments of a releasable reader, and the buffers they are over (which keep list
/// exports alive after a release, see `pinned.rs`).
pub(crate) struct LentParts {
    pub(crate) segments: Segments,
    pub(crate) buffers: Vec<Bytes>,
}

/// A releasable reader's bytes: every access holds the read lock, `release` takes the write
/// lock, so a release never frees memory a read is using.
pub(crate) struct Lent {
    pub(crate) slot: RwLock<Option<LentParts>>,
}

impl ReaderSegments for Segments {
    fn get_segment(&self, idx: u32) -> Option<&[u8]> {
        match self {
            Segments::Flat(s) => s.get_segment(idx),
            Segments::Owned(s) => s.get_segment(idx),
            Segments::Unpacked(s) => s.get_segment(idx),
            Segments::Single { bytes, end } => (idx == 0).then(|| bytes.get(8..*end)).flatten(),
            Segments::Pair { bytes, mid, end } => match idx {
                0 => bytes.get(16..*mid),
                1 => bytes.get(*mid..*end),
                _ => None,
            },
            Segments::List(v) => v.get(idx as usize).map(|b| {
                let s: &[u8] = b;
                &s[..s.len() / 8 * 8]
            }),
            Segments::Lent(_) => None,
        }
    }
    fn len(&self) -> usize {
        match self {
            Segments::Flat(s) => s.len(),
            Segments::Owned(s) => s.len(),
            Segments::Unpacked(s) => s.len(),
            Segments::Single { .. } => 1,
            Segments::Pair { .. } => 2,
            Segments::List(v) => v.len(),
            Segments::Lent(_) => 0,
        }
    }
}

/// How a reader shares its input with the input's owner (the Python binding's buffers).
#[derive(Clone, Copy, Debug, Default)]
pub struct Sharing {
    /// The owner may take the bytes back (`MessageReader::release`); reads then fail with
    /// `Error::BufferReleased` instead of touching memory that is gone.
    pub releasable: bool,
    /// Code outside Rust may write the bytes while they are shared (a writable Python
    /// buffer). The caller must keep such writers from running while the reader is used
    /// (the binding holds the GIL for every read of such a message); see `is_volatile`.
    pub volatile: bool,
}

/// A message being read. Owns (or shares) its bytes; cheap to share between handles.
pub struct MessageReader {
    /// Segment 0 recorded where its bytes are (`first_segment.rs`).
    pub(crate) segments: KeptSegments,
    /// Set from `Sharing::volatile`.
    volatile: bool,
    nesting_limit: i32,
    /// Words of traversal budget left (API.md 3.1), shared by every handle.
    budget: AtomicU64,
    /// The builder this is a frozen copy of (`MessageBuilder::frozen`): AnyPointer reads
    /// through it hand out builders into the original, as a builder's reader view does.
    pub(crate) origin: Option<MessageBuilder>,
    /// Where the root struct is, when the maker knows (`over_struct_in`): `root` then
    /// follows no pointer.
    known_root: Option<crate::coords::StructAt>,
}

impl std::fmt::Debug for MessageReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageReader")
    }
}

impl MessageReader {
    fn new(segments: Segments, limits: ReadLimits) -> Result<Arc<MessageReader>> {
        Self::new_shared(segments, limits, false, true)
    }

    /// `check`: read the root pointer now, so that framing errors surface at call time; a
    /// caller that reads the root struct at once (`root`, which reads the same pointer first)
    /// passes `false`: the same errors, in the same order, from one read.
    fn new_shared(
        segments: Segments,
        limits: ReadLimits,
        volatile: bool,
        check: bool,
    ) -> Result<Arc<MessageReader>> {
        let reader = Self::new_owned(segments, limits, volatile);
        if check {
            reader.with_root(None, |_| Ok(()))?;
        }
        Ok(Arc::new(reader))
    }

    /// A reader no handle shares yet (its root pointer not read).
    fn new_owned(segments: Segments, limits: ReadLimits, volatile: bool) -> MessageReader {
        MessageReader {
            segments: KeptSegments::new(segments),
            volatile,
            nesting_limit: limits.nesting(),
            budget: AtomicU64::new(limits.words()),
            origin: None,
            known_root: None,
        }
    }

    /// Runs `f` on the root pointer of a capnp reader over the segments whose own limiter
    /// allows `limit` words (`None`: unlimited, for path walks charged by `charge`).
    pub(crate) fn with_root<R>(
        &self,
        limit: Option<u64>,
        f: impl FnOnce(PointerReader<'_>) -> Result<R>,
    ) -> Result<R> {
        let mut o = ReaderOptions::new();
        o.traversal_limit_in_words(limit.map(|w| usize::try_from(w).unwrap_or(usize::MAX)));
        o.nesting_limit(self.nesting_limit);
        if let Segments::Lent(lent) = &*self.segments {
            // Held until `f` returns: `release` waits for it.
            let guard = lent.slot.read().unwrap_or_else(|e| e.into_inner());
            let parts = guard.as_ref().ok_or(Error::BufferReleased)?;
            let message = capnp::message::Reader::new(&parts.segments, o);
            let root = message.get_root::<RawPtr<'_>>()?.0;
            return f(root);
        }
        let message = capnp::message::Reader::new(&self.segments, o);
        let root = message.get_root::<RawPtr<'_>>()?.0;
        f(root)
    }

    /// Whether the message is in canonical form (one segment, objects in pre-order, no
    /// padding; the encoding spec's "Canonicalization").
    pub fn is_canonical(&self) -> Result<bool> {
        let mut o = ReaderOptions::new();
        o.traversal_limit_in_words(None);
        o.nesting_limit(self.nesting_limit);
        if let Segments::Lent(lent) = &*self.segments {
            let guard = lent.slot.read().unwrap_or_else(|e| e.into_inner());
            let parts = guard.as_ref().ok_or(Error::BufferReleased)?;
            return Ok(capnp::message::Reader::new(&parts.segments, o).is_canonical()?);
        }
        Ok(capnp::message::Reader::new(&self.segments, o).is_canonical()?)
    }

    /// Gives the input bytes back to their owner: later reads through any handle of this
    /// message fail with `Error::BufferReleased`. Returns whether there was anything to give
    /// back (only readers made with `Sharing::releasable` have). The buffers are dropped
    /// after the lock is let go, so an owner's release hook never runs under it.
    pub fn release(&self) -> bool {
        let Segments::Lent(lent) = &*self.segments else {
            return false;
        };
        let taken = lent.slot.write().unwrap_or_else(|e| e.into_inner()).take();
        let had = taken.is_some();
        drop(taken);
        had
    }

    /// Whether `release` was called on a releasable reader.
    pub fn is_released(&self) -> bool {
        match &*self.segments {
            Segments::Lent(lent) => lent
                .slot
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .is_none(),
            _ => false,
        }
    }

    /// Whether the bytes may be written by code outside Rust while shared (`Sharing`).
    pub fn is_volatile(&self) -> bool {
        self.volatile
    }

    /// Takes `words` from the traversal budget; fails (leaving it unchanged) when fewer are left.
    ///
    /// A load and a store, not a compare-and-swap loop (a locked instruction on every pointer
    /// read, ~20 cycles): what the reference's read limiter does (C++ `ReadLimiter::canRead`,
    /// relaxed atomics; capnp-rust's likewise). One thread charges exactly; handles of one
    /// message read by several threads at once may lose a concurrent charge, so the limit
    /// then bounds each thread's reads rather than their sum, as in the reference. The budget
    /// orders no other memory: relaxed.
    pub(crate) fn charge(&self, words: u64) -> Result<()> {
        let left = self.budget.load(Ordering::Relaxed);
        let rest = left.checked_sub(words).ok_or_else(read_limit_exceeded)?;
        self.budget.store(rest, Ordering::Relaxed);
        Ok(())
    }

    /// The bytes of segment `idx`, for reads through resolved locations (coords.rs).
    #[inline]
    pub(crate) fn segment(&self, idx: u32) -> Option<&[u8]> {
        self.segments.segment(idx)
    }

    /// Locates the struct `s` read from this message in its segments; `nesting` is capnp's
    /// nesting limit left at it (0 when the caller does not know it).
    pub(crate) fn locate(
        &self,
        s: capnp::private::layout::StructReader<'_>,
        nesting: i32,
    ) -> Option<crate::coords::StructAt> {
        crate::coords::StructAt::locate(&self.segments, s, nesting)
    }

    /// Locates the list at `loc` (read from this message) in its segments, with an unknown
    /// nesting limit (so no fast pointer follows from it).
    pub(crate) fn locate_list(&self, loc: &RLoc<'_>) -> Option<crate::coords::ListAt> {
        use crate::coords::ListAt;
        match loc {
            RLoc::PrimList(l) => ListAt::locate(&self.segments, crate::raw::RawListReader(*l), 0),
            RLoc::PtrList(l) => ListAt::locate(&self.segments, *l, 0),
            RLoc::StructList(l) => ListAt::locate(&self.segments, *l, 0),
            RLoc::Struct(_) => None,
        }
    }

    /// Where the root struct is (as `root` finds it, without charging).
    pub(crate) fn root_at(&self) -> Result<Option<crate::coords::StructAt>> {
        self.with_root(None, |p| {
            Ok(self.locate(p.get_struct(None)?, self.nesting_limit - 1))
        })
    }

    /// Words of traversal budget left.
    pub fn budget_left(&self) -> u64 {
        self.budget.load(Ordering::Relaxed)
    }

    /// One message in standard stream framing; extra bytes after it are ignored.
    pub fn from_bytes(
        buf: Arc<dyn AsRef<[u8]> + Send + Sync>,
        limits: ReadLimits,
    ) -> Result<Arc<MessageReader>> {
        Self::from_bytes_shared(buf, limits, Sharing::default())
    }

    /// As `from_bytes`, sharing the input as `sharing` says.
    pub fn from_bytes_shared(
        buf: Arc<dyn AsRef<[u8]> + Send + Sync>,
        limits: ReadLimits,
        sharing: Sharing,
    ) -> Result<Arc<MessageReader>> {
        Self::bytes_shared(buf, limits, sharing, true)
    }

    /// `from_bytes_shared(..)?.root(registry, id)`, reading the root pointer once.
    pub fn root_from_bytes_shared(
        buf: Arc<dyn AsRef<[u8]> + Send + Sync>,
        limits: ReadLimits,
        sharing: Sharing,
        registry: &Arc<Registry>,
        id: u64,
    ) -> Result<DynStructReader> {
        Self::root_from_bytes_with(buf, limits, sharing, registry, || registry.get_struct(id))
    }

    /// As `root_from_bytes_shared`, the root's schema given by `schema` (asked where `root`
    /// looks up its id): a caller that keeps the schema skips the registry's lookup.
    pub fn root_from_bytes_with(
        buf: Arc<dyn AsRef<[u8]> + Send + Sync>,
        limits: ReadLimits,
        sharing: Sharing,
        registry: &Arc<Registry>,
        schema: impl FnOnce() -> Result<Arc<StructSchema>>,
    ) -> Result<DynStructReader> {
        Self::bytes_shared(buf, limits, sharing, false)?.root_with(registry, schema)
    }

    fn bytes_shared(
        buf: Arc<dyn AsRef<[u8]> + Send + Sync>,
        limits: ReadLimits,
        sharing: Sharing,
        check: bool,
    ) -> Result<Arc<MessageReader>> {
        if !(*buf).as_ref().len().is_multiple_of(8) {
            return Err(Error::UnalignedLength);
        }
        let bytes = Bytes::new(buf);
        // What a releasable reader gives back; nothing to keep (no allocation) otherwise.
        let buffers = if sharing.releasable {
            vec![bytes.clone()]
        } else {
            Vec::new()
        };
        let segments = match single_segment_end(&bytes, limits) {
            Some(end) => Segments::Single { bytes, end },
            None => match two_segment_ends(&bytes, limits) {
                Some((mid, end)) => Segments::Pair { bytes, mid, end },
                None => Segments::Flat(capnp::serialize::BufferSegments::new(
                    bytes,
                    limits.options(),
                )?),
            },
        };
        Self::new_shared(
            lend(segments, buffers, sharing),
            limits,
            sharing.volatile,
            check,
        )
    }

    /// One packed message; the input is unpacked into memory the reader owns.
    pub fn from_bytes_packed(buf: &[u8], limits: ReadLimits) -> Result<Arc<MessageReader>> {
        let reader = Self::from_bytes_packed_for_root(buf, limits)?;
        reader.with_root(None, |_| Ok(()))?;
        Ok(Arc::new(reader))
    }

    /// As `from_bytes_packed`, for a caller that calls `into_root` at once: the root pointer
    /// is read there, not here (the same errors in the same order).
    pub fn from_bytes_packed_for_root(buf: &[u8], limits: ReadLimits) -> Result<MessageReader> {
        let mut cursor = buf;
        let message = crate::packed::read_message(&mut cursor, limits.options())?;
        Ok(Self::new_owned(Segments::Unpacked(message), limits, false))
    }

    /// Segments without framing (each used up to a multiple of 8 bytes).
    /// A reader whose root is the struct at word `at` (`data_words` and `pointers` in size)
    /// of `segment`, a one-segment message's words shared with their owner (an RPC response
    /// in the incoming message: read in place, not copied). The root is a double-far pointer
    /// in a segment of its own, as the encoding allows; `None` when the struct does not lie
    /// within the segment.
    pub fn over_struct_in(
        segment: Arc<Vec<Word>>,
        at: usize,
        data_words: u16,
        pointers: u16,
        limits: ReadLimits,
    ) -> Option<Arc<MessageReader>> {
        let end = at
            .checked_add(usize::from(data_words))?
            .checked_add(usize::from(pointers))?;
        if end > segment.len() || at > (u32::MAX >> 3) as usize {
            return None;
        }
        // Segment 0: the root (a double-far pointer to the landing pad at word 1 of this
        // segment), the pad's far pointer to word `at` of segment 1, then its struct tag.
        let far = |double: u64, offset: u64, segment: u64| {
            (offset << 3) | (double << 2) | 2 | (segment << 32)
        };
        let tag = (u64::from(data_words) << 32) | (u64::from(pointers) << 48);
        let root = [far(1, 1, 0), far(0, at as u64, 1), tag];
        let head: Vec<Word> = root
            .iter()
            .map(|w| {
                let b = w.to_le_bytes();
                capnp::word(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7])
            })
            .collect();
        let segments = Segments::List(vec![Bytes::Words(Arc::new(head)), Bytes::Words(segment)]);
        let nesting_limit = limits.nesting();
        // Where capnp's reader would find the root through the far pointers.
        let known_root = (nesting_limit > 0).then(|| {
            crate::coords::StructAt::at(
                1,
                at * 8,
                usize::from(data_words) * 8,
                pointers,
                nesting_limit - 1,
            )
        });
        Some(Arc::new(MessageReader {
            segments: KeptSegments::new(segments),
            volatile: false,
            nesting_limit,
            budget: AtomicU64::new(limits.words()),
            origin: None,
            known_root,
        }))
    }

    pub fn from_segments(
        segments: Vec<Arc<dyn AsRef<[u8]> + Send + Sync>>,
        limits: ReadLimits,
    ) -> Result<Arc<MessageReader>> {
        Self::from_segments_shared(segments, limits, Sharing::default())
    }

    /// As `from_segments`, sharing the inputs as `sharing` says.
    pub fn from_segments_shared(
        segments: Vec<Arc<dyn AsRef<[u8]> + Send + Sync>>,
        limits: ReadLimits,
        sharing: Sharing,
    ) -> Result<Arc<MessageReader>> {
        Self::segments_shared(segments, limits, sharing, true)
    }

    /// `from_segments_shared(..)?.root(registry, id)` of the struct `schema` gives (asked
    /// where `root` looks up its id), reading the root pointer once, on a reader no other
    /// handle shares yet (`into_root`).
    pub fn root_from_segments_shared(
        segments: Vec<Arc<dyn AsRef<[u8]> + Send + Sync>>,
        limits: ReadLimits,
        sharing: Sharing,
        registry: &Arc<Registry>,
        schema: impl FnOnce() -> Result<Arc<StructSchema>>,
    ) -> Result<DynStructReader> {
        let segments = Self::segment_list(segments, sharing)?;
        Self::new_owned(segments, limits, sharing.volatile).into_root(registry, schema)
    }

    fn segments_shared(
        segments: Vec<Arc<dyn AsRef<[u8]> + Send + Sync>>,
        limits: ReadLimits,
        sharing: Sharing,
        check: bool,
    ) -> Result<Arc<MessageReader>> {
        let segments = Self::segment_list(segments, sharing)?;
        Self::new_shared(segments, limits, sharing.volatile, check)
    }

    /// The segments of a message given as its segments' buffers.
    fn segment_list(
        segments: Vec<Arc<dyn AsRef<[u8]> + Send + Sync>>,
        sharing: Sharing,
    ) -> Result<Segments> {
        if segments.is_empty() {
            return Err(Error::Capnp(capnp::Error::failed(
                "Message did not contain a root pointer".into(),
            )));
        }
        let buffers: Vec<Bytes> = segments.into_iter().map(Bytes::new).collect();
        // What a releasable reader gives back; nothing to keep (no allocation) otherwise.
        let kept = if sharing.releasable {
            buffers.clone()
        } else {
            Vec::new()
        };
        Ok(lend(Segments::List(buffers), kept, sharing))
    }

    /// The message starting `offset` bytes into `buf` (stream framing, zero-copy), and the
    /// offset just past it: the step of `read_multiple_bytes`.
    pub fn from_bytes_at(
        buf: Arc<dyn AsRef<[u8]> + Send + Sync>,
        offset: usize,
        limits: ReadLimits,
    ) -> Result<(Arc<MessageReader>, usize)> {
        Self::from_bytes_at_shared(buf, offset, limits, Sharing::default())
    }

    /// As `from_bytes_at`, sharing the input as `sharing` says.
    pub fn from_bytes_at_shared(
        buf: Arc<dyn AsRef<[u8]> + Send + Sync>,
        offset: usize,
        limits: ReadLimits,
        sharing: Sharing,
    ) -> Result<(Arc<MessageReader>, usize)> {
        let all: &[u8] = (*buf).as_ref();
        let rest = all.get(offset..).unwrap_or_default();
        let mut cursor = rest;
        capnp::serialize::read_message_from_flat_slice(&mut cursor, limits.options())?;
        let end = offset + (rest.len() - cursor.len());
        let window: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(Window {
            buf,
            start: offset,
            end,
        });
        Ok((Self::from_bytes_shared(window, limits, sharing)?, end))
    }

    /// The packed message starting `offset` bytes into `buf`, and the offset just past it.
    pub fn from_bytes_packed_at(
        buf: &[u8],
        offset: usize,
        limits: ReadLimits,
    ) -> Result<(Arc<MessageReader>, usize)> {
        let rest = buf.get(offset..).unwrap_or_default();
        let mut cursor = rest;
        let message = crate::packed::read_message(&mut cursor, limits.options())?;
        let end = offset + (rest.len() - cursor.len());
        Ok((Self::new(Segments::Unpacked(message), limits)?, end))
    }

    /// The next unpacked message of a stream, or `None` at a clean end of input.
    pub fn read_from(read: impl std::io::Read, limits: ReadLimits) -> Result<Option<Arc<Self>>> {
        match capnp::serialize::try_read_message(read, limits.options()).map_err(eof)? {
            Some(m) => Ok(Some(Self::new(Segments::Owned(m.into_segments()), limits)?)),
            None => Ok(None),
        }
    }

    /// The next packed message of a buffered stream, or `None` at a clean end of input.
    pub fn read_packed_from(
        read: impl std::io::BufRead,
        limits: ReadLimits,
    ) -> Result<Option<Arc<Self>>> {
        match capnp::serialize_packed::try_read_message(read, limits.options()).map_err(eof)? {
            Some(m) => Ok(Some(Self::new(Segments::Owned(m.into_segments()), limits)?)),
            None => Ok(None),
        }
    }

    /// The root pointer as an AnyPointer; struct ids are resolved in `registry`.
    pub fn root_as_any(self: &Arc<Self>, registry: &Arc<Registry>) -> AnyPointerReader {
        AnyPointerReader::root(Backing::Reader(self.clone()), registry.clone())
    }

    /// The root struct, interpreted as the struct `id`.
    /// The root pointer is read (its framing errors first), then `id` looked up, then the
    /// struct located.
    pub fn root(self: &Arc<Self>, registry: &Arc<Registry>, id: u64) -> Result<DynStructReader> {
        self.root_with(registry, || registry.get_struct(id))
    }

    /// `root` of the struct `schema` gives (asked where `root` looks up its id).
    fn root_with(
        self: &Arc<Self>,
        registry: &Arc<Registry>,
        schema: impl FnOnce() -> Result<Arc<StructSchema>>,
    ) -> Result<DynStructReader> {
        let (schema, at, words) = self.find_root(schema)?;
        self.charge(words)?;
        Ok(Self::root_reader(self.clone(), schema, registry, at))
    }

    /// `root` of a reader no handle shares yet, which becomes the root's: its budget is
    /// charged and its count made without atomic operations. `schema` is the root's type,
    /// asked for where `root` looks up its id (a caller may have it at hand).
    pub fn into_root(
        mut self,
        registry: &Arc<Registry>,
        schema: impl FnOnce() -> Result<Arc<StructSchema>>,
    ) -> Result<DynStructReader> {
        let (schema, at, words) = self.find_root(schema)?;
        let left = self.budget.get_mut();
        *left = left.checked_sub(words).ok_or_else(read_limit_exceeded)?;
        Ok(Self::root_reader(Arc::new(self), schema, registry, at))
    }

    fn root_reader(
        message: Arc<Self>,
        schema: Arc<StructSchema>,
        registry: &Arc<Registry>,
        at: Option<crate::coords::StructAt>,
    ) -> DynStructReader {
        DynStructReader::new(
            Backing::Reader(message),
            root_path(),
            schema,
            registry.clone(),
            true,
        )
        .at(at)
    }

    /// The root struct's schema (from `schema`), location and traversal cost, with `root`'s
    /// errors in its order.
    fn find_root(
        &self,
        schema: impl FnOnce() -> Result<Arc<StructSchema>>,
    ) -> Result<(Arc<StructSchema>, Option<crate::coords::StructAt>, u64)> {
        // A root pointer that is a near struct pointer in bounds (what builders write) is
        // followed directly: capnp could raise nothing on it, so the id is the first check.
        let direct = self.known_root.or_else(|| {
            self.segments
                .get_segment(0)
                .and_then(|seg| crate::coords::StructAt::root(seg, self.nesting_limit))
        });
        // As the reference's getRoot: the root pointer word, then the struct it points to.
        let (schema, null, at) = match direct {
            Some(at) => (schema()?, false, Some(at)),
            None => self.with_root(None, |p| {
                let schema = schema()?;
                let null = p.is_null();
                Ok((
                    schema,
                    null,
                    self.locate(p.get_struct(None)?, self.nesting_limit - 1),
                ))
            })?,
        };
        let size = schema.size();
        let words = if null {
            1
        } else {
            1 + u64::from(size.data) + u64::from(size.pointers)
        };
        Ok((schema, at, words))
    }
}

pub(crate) use crate::arena::BuilderMessage;

/// What every handle of one message being built shares (one allocation, one reference count).
pub struct BuilderShared {
    pub(crate) inner: parking_lot::Mutex<BuilderMessage>,
    /// Set when the message was an orphan's private message and the orphan was adopted:
    /// its content moved elsewhere, so every handle into it must fail instead of writing
    /// into a message nobody will see.
    retired: AtomicBool,
    /// Writable views of its bytes lent out (`pinned::LentMut`); while any exists, code
    /// outside Rust may write them, so readers of the message keep the GIL (`is_volatile`).
    pub(crate) lent_mut: AtomicUsize,
    /// The message's cap table (`cap.rs`): capability pointers hold indices into it. Locked
    /// after the message when both are held.
    pub(crate) caps: Mutex<Vec<Option<crate::cap::Cap>>>,
    /// Whether the message has a capability context (an RPC message, or one a capability was
    /// written into): plain messages fail on capability reads, as pycapnp's do.
    cap_context: AtomicBool,
    /// Bumped by every lock except `lock_fast`: handles' recorded locations (arena.rs) are
    /// current only while it keeps the value they were recorded at. Changed under the lock.
    generation: AtomicU64,
    /// The message's segments (arena.rs), where recorded locations come from.
    pub(crate) segments: crate::arena::SegmentTable,
    /// Set by `walk_only` (tests), and for external messages: no recorded location is ever
    /// current, so every operation walks (and checks the external segments first).
    walk_only: AtomicBool,
    /// Segments supplied from outside Rust (`external.rs`): checked before every operation.
    external: Option<SharedState>,
}

/// A message being built. Every handle into it shares this lock.
///
/// A message made by `new_root` (`new_message()`) whose last handle drops is emptied and kept
/// as its thread's spare (one at a time), if its only segment is its first, of the default size, and it
/// holds no capability and lends nothing out; the next `new_root` of that size takes it
/// instead of allocating a state and a segment (`BuilderShared::reset`).
#[derive(Clone)]
pub struct MessageBuilder(crate::arena::Recyclable<BuilderShared>);

thread_local! {
    /// This thread's spare message (`MessageBuilder`).
    static SPARE: crate::arena::Spare<BuilderShared> = const { crate::arena::Spare::new() };
    /// This thread's spare root (`keep_root`): a root handle's base, with its emptied message,
    /// and schema.
    static ROOT_SPARE: std::cell::Cell<Option<(Arc<BuilderBase>, Arc<StructSchema>)>> =
        const { std::cell::Cell::new(None) };
}

/// Keeps a root handle's base (its message, registry and path) and schema as the thread's
/// spare root when the handle was their last holder and the message can be emptied
/// (`BuilderShared::reset`): the next `new_root` of the same schema and registry reuses them
/// all, without the five atomic reference-count operations (~6 ns each on the EPYC machine
/// of docs/benchmarks.md) of dropping them and making them again. Otherwise they are dropped
/// (the message may still become the spare message).
pub(crate) fn keep_root(mut base: Arc<BuilderBase>, schema: Arc<StructSchema>) {
    let kept = crate::arena::alone_mut(&mut base).is_some_and(|b| {
        b.steps.is_empty()
            && b.message
                .0
                .alone_mut()
                .is_some_and(crate::arena::Recycle::reset)
    });
    if kept {
        // The one kept before (if any) is dropped; once the thread's spare root is gone, the
        // closure drops these unrun.
        let _ = ROOT_SPARE.try_with(|spare| spare.set(Some((base, schema))));
    }
}

impl crate::arena::Recycle for BuilderShared {
    fn with_spare<R>(f: impl FnOnce(&crate::arena::Spare<Self>) -> R) -> Option<R> {
        SPARE.try_with(f).ok()
    }

    /// Empties a heap message whose only segment is a first segment of the default size, as
    /// new: the segment zeroed but its root pointer (`new_root` makes the root), no
    /// capability context, the generation kept (no handle into it is left, and no location
    /// recorded before could be current). Anything else is dropped: messages with
    /// capabilities (their drop releases them), lent bytes (none can be: a lent view holds
    /// the message), supplied segments, retired or walk-only messages.
    fn reset(&mut self) -> bool {
        if self.external.is_some()
            || *self.walk_only.get_mut()
            || *self.retired.get_mut()
            || *self.lent_mut.get_mut() != 0
            || !self.caps.get_mut().is_ok_and(|caps| caps.is_empty())
        {
            return false;
        }
        let inner = self.inner.get_mut();
        if !inner.empty_for_reuse(&mut self.segments) {
            return false;
        }
        *self.cap_context.get_mut() = false;
        true
    }
}

impl std::ops::Deref for MessageBuilder {
    type Target = BuilderShared;
    fn deref(&self) -> &BuilderShared {
        &self.0
    }
}

impl std::fmt::Debug for MessageBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageBuilder")
    }
}

impl Default for MessageBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// The first segment's size in words when none is asked for: the reference's
/// `SUGGESTED_FIRST_SEGMENT_WORDS`, pycapnp's default first request.
pub const FIRST_SEGMENT_WORDS: u32 = 1024;

impl MessageBuilder {
    /// First segment of 1024 words, growing heuristically (as the reference `MallocMessageBuilder`).
    pub fn new() -> Self {
        Self::with_first_segment_words(FIRST_SEGMENT_WORDS)
    }

    pub fn with_first_segment_words(words: u32) -> Self {
        Self::with_alloc(SegmentAlloc::Heap(crate::external::Heap::new(words)), None)
    }

    /// A new message on the heap (first segment `first_words`, default
    /// [`FIRST_SEGMENT_WORDS`]) whose root is a
    /// new `schema` struct: `init_root_as` done before the message is shared, so without its
    /// lock and generation bump (atomic operations were most of a small `new_message()`).
    ///
    /// The thread's spare root (`keep_root`), when it is of the same schema and registry, is
    /// the new root: its base, schema and message reused as they are, without a reference
    /// count changed.
    pub fn new_root(
        first_words: Option<u32>,
        registry: &Arc<Registry>,
        schema: &Arc<StructSchema>,
    ) -> Result<DynStructBuilder> {
        let first_words = first_words.unwrap_or(FIRST_SEGMENT_WORDS);
        let size = schema.size();
        let make_root = |m: &mut BuilderMessage, segments: &crate::arena::SegmentTable| {
            m.init_root_struct(segments, size)
        };
        if first_words == crate::external::POOLED_WORDS {
            if let Some((mut base, kept)) = ROOT_SPARE.try_with(|spare| spare.take()).ok().flatten()
            {
                if Arc::ptr_eq(&kept, schema) && Arc::ptr_eq(&base.registry, registry) {
                    // The base is alone (`keep_root` found it so, and nothing could reach it
                    // since), and so is its message.
                    let made = crate::arena::alone_mut(&mut base).and_then(|b| {
                        let (inner, segments) = b.message.0.alone_parts()?;
                        Some(make_root(inner.get_mut(), segments))
                    });
                    if let Some(at) = made {
                        let at = at?;
                        let generation = base.message.generation();
                        return Ok(
                            DynStructBuilder::on_root_base(base, kept).located(generation, at)
                        );
                    }
                }
                // Another schema's (or registry's): its message goes to the spare as it drops.
                drop((base, kept));
            }
        }
        // The spare's only segment is a pooled one (`reset`): it serves that first size only.
        let spare = match first_words {
            crate::external::POOLED_WORDS => SPARE.try_with(|spare| spare.take()).ok().flatten(),
            _ => None,
        };
        let (message, at) = match spare {
            // The spare is as a new message whose root pointer exists (`reset`), held only
            // here: its root is made as in a new one, before the message is shared.
            Some(mut taken) => {
                let (inner, segments) = taken.message_and_table();
                let at = make_root(inner.get_mut(), segments);
                (MessageBuilder(taken.into_shared()), at)
            }
            None => Self::new_with_root(first_words, make_root),
        };
        let at = at?;
        let generation = message.generation();
        Ok(
            DynStructBuilder::new(message, root_path(), schema.clone(), registry.clone(), true)
                .located(generation, at),
        )
    }

    /// A new heap message with `make_root` run on it before it is shared.
    fn new_with_root<R>(
        first_words: u32,
        make_root: impl FnOnce(&mut BuilderMessage, &crate::arena::SegmentTable) -> R,
    ) -> (Self, R) {
        let alloc = SegmentAlloc::Heap(crate::external::Heap::new(first_words));
        Self::build(alloc, None, make_root)
    }

    fn with_alloc(alloc: SegmentAlloc, external: Option<SharedState>) -> Self {
        Self::build(alloc, external, |_, _| ()).0
    }

    /// A message over `alloc`, with `first` run on its arena before anything else can
    /// reach it (the generation it starts with stays current).
    fn build<R>(
        alloc: SegmentAlloc,
        external: Option<SharedState>,
        first: impl FnOnce(&mut BuilderMessage, &crate::arena::SegmentTable) -> R,
    ) -> (Self, R) {
        let (shared, made) = crate::arena::build_shared(
            alloc,
            first,
            |inner, segments| BuilderShared {
                inner: parking_lot::Mutex::new(inner),
                retired: AtomicBool::new(false),
                lent_mut: AtomicUsize::new(0),
                caps: Mutex::new(Vec::new()),
                cap_context: AtomicBool::new(false),
                generation: AtomicU64::new(1),
                segments,
                // Memory Python code can write: no location is trusted across operations.
                walk_only: AtomicBool::new(external.is_some()),
                external,
            },
            |state| &state.segments,
            |state| state.inner.get_mut(),
        );
        (MessageBuilder(crate::arena::Recyclable::new(shared)), made)
    }

    /// Makes every operation on this message walk from the root (tests compare both paths).
    #[doc(hidden)]
    pub fn walk_only(&self) {
        self.walk_only.store(true, Ordering::Release);
    }

    /// Whether two handles share one message.
    pub fn same_message(&self, other: &MessageBuilder) -> bool {
        Arc::ptr_eq(self.0.arc(), other.0.arc())
    }

    /// A message whose segments come from `supplier`, the first of at least `first_words`
    /// words (asked for now, so a supplier that fails at once is an error here). Every later
    /// operation first checks the message (`external.rs`); it is always volatile.
    pub fn with_supplier(supplier: Box<dyn SegmentSupplier>, first_words: u32) -> Result<Self> {
        let state = SharedState::default();
        let alloc = SegmentAlloc::External {
            supplier,
            first_words: first_words.max(1),
            fallback: HeapAllocator::new(),
            state: state.clone(),
        };
        let message = Self::with_alloc(alloc, Some(state));
        message.lock().get_root::<RawPtrBuilder<'_>>()?;
        drop(message.lock_live()?);
        Ok(message)
    }

    /// Whether the segments come from outside Rust (`with_supplier`).
    pub fn is_external(&self) -> bool {
        self.external.is_some()
    }

    /// After an operation on an external message: the allocation failure it met, if any.
    pub(crate) fn check_allocation(&self) -> Result<()> {
        match &self.external {
            Some(state) => external::check_failure(state),
            None => Ok(()),
        }
    }

    /// Gives the message a capability context (see `cap_context`).
    pub fn enable_caps(&self) {
        self.cap_context.store(true, Ordering::Release);
    }

    pub fn has_cap_context(&self) -> bool {
        self.cap_context.load(Ordering::Acquire)
    }

    /// A copy of the cap table.
    pub fn caps(&self) -> Vec<Option<crate::cap::Cap>> {
        self.caps.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Appends tokens to the cap table (what `CapScope::take_new` returned after a copy into
    /// this message made with `CapScope::for_writing(caps_len())`).
    pub fn extend_caps(&self, new: Vec<Option<crate::cap::Cap>>) {
        // Kept true: a message with a cap table has a capability context
        // (`holds_no_host_objects`).
        if !new.is_empty() {
            self.enable_caps();
        }
        self.caps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(new);
    }

    pub fn caps_len(&self) -> usize {
        self.caps.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Runs `f` on the root pointer imbued with `table` (a `CapScope` over this message's
    /// caps, or one standing for other clients): how the RPC layer copies a message into or
    /// out of capnp-rpc's messages with their capabilities.
    pub fn with_root_imbued<R>(
        &self,
        table: &mut capnp::private::layout::CapTable,
        f: impl FnOnce(capnp::any_pointer::Builder<'_>) -> Result<R>,
    ) -> Result<R> {
        self.enable_caps();
        let mut guard = self.lock_live()?;
        let mut root = guard.get_root::<RawPtrBuilder<'_>>()?.0;
        root.imbue(capnp::private::layout::CapTableBuilder::from_ref(table));
        f(capnp::any_pointer::Builder::new(root))
    }

    /// Whether dropping the message can release nothing but its own memory: its segments
    /// are the heap's (not buffers from outside Rust, `external`) and it has no capability
    /// context, so its cap table is empty (every way into the table — `cap::write_cap`,
    /// `extend_caps`, the copies through `with_root_imbued` — gives the message its context
    /// first; the context is never taken away). The binding releases a handle that may hold
    /// a message's last reference without its bookkeeping for Python objects when this holds.
    pub fn holds_no_host_objects(&self) -> bool {
        self.external.is_none() && !self.has_cap_context()
    }

    /// Whether writable views of its bytes are lent out (see `lent_mut`), or its segments
    /// are memory Python code can write (`with_supplier`).
    pub fn is_volatile(&self) -> bool {
        self.lent_mut.load(Ordering::Acquire) > 0 || self.external.is_some()
    }

    /// Locks the message for any operation: recorded locations become stale (arena.rs).
    pub(crate) fn lock(&self) -> MessageGuard<'_> {
        let guard = lock(&self.inner);
        self.bump_generation();
        guard
    }

    /// Makes every recorded location stale. Call only with the lock held: the generation
    /// changes only under it (here and `Held::bump`), so a load and a store (no locked
    /// instruction) cannot lose a change, and generations never repeat.
    fn bump_generation(&self) {
        let next = self.generation.load(Ordering::Relaxed).wrapping_add(1);
        self.generation.store(next, Ordering::Relaxed);
    }

    /// Locks the message for reading only (no layout change: recorded locations stay).
    pub(crate) fn lock_read(&self) -> MessageGuard<'_> {
        lock(&self.inner)
    }

    /// Locks a live message for the data-section reads and writes of arena.rs, which leave
    /// recorded locations current; the generation they must match comes with the guard.
    pub(crate) fn lock_fast(&self) -> Result<crate::arena::Held<'_>> {
        if self.retired.load(Ordering::Acquire) {
            return Err(Error::OrphanAdopted);
        }
        let guard = crate::arena::Access::Locked(lock(&self.inner));
        Ok(crate::arena::Held {
            generation: self.generation_held(),
            guard,
            counter: &self.generation,
        })
    }

    /// The generation recorded locations must match, read with the lock held (or under
    /// `Excluded`): 0 for a walk-only message.
    #[inline(always)]
    fn generation_held(&self) -> u64 {
        if self.walk_only.load(Ordering::Relaxed) {
            0
        } else {
            self.generation.load(Ordering::Relaxed)
        }
    }

    /// `held_excluded` when the caller has the proof and it applies, else `lock_fast`.
    #[inline]
    pub(crate) fn held<'a>(
        &'a self,
        excluded: Option<&'a mut crate::Excluded>,
    ) -> Result<crate::arena::Held<'a>> {
        match excluded.and_then(|e| self.held_excluded(e)) {
            Some(held) => Ok(held),
            None => self.lock_fast(),
        }
    }

    /// `lock_fast` for a caller holding [`Excluded`](crate::Excluded), without the lock:
    /// the state reached while the lock is free (arena.rs `Access::excluded`), for a message
    /// neither volatile nor retired; `None` otherwise (the caller locks).
    #[inline]
    pub(crate) fn held_excluded<'a>(
        &'a self,
        excluded: &'a mut crate::Excluded,
    ) -> Option<crate::arena::Held<'a>> {
        if self.retired.load(Ordering::Acquire) || self.is_volatile() {
            return None;
        }
        let guard = crate::arena::Access::excluded(&self.inner, excluded)?;
        Some(crate::arena::Held {
            generation: self.generation_held(),
            guard,
            counter: &self.generation,
        })
    }

    /// The generation recorded locations must match now, read without the lock (0 — no
    /// location current — for a retired or walk-only message, as `lock_fast` gives). Only for
    /// operations that derive new locations from recorded ones and dereference nothing
    /// (arena.rs `ListCache::peek`): by the time a derived location is used, under the lock,
    /// its generation is checked again.
    pub(crate) fn generation_unlocked(&self) -> u64 {
        if self.retired.load(Ordering::Acquire) || self.walk_only.load(Ordering::Relaxed) {
            return 0;
        }
        self.generation.load(Ordering::Relaxed)
    }

    /// The current generation (call with the lock held, after `lock`/`lock_live`).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Locks the message for a handle operation; fails once the message is retired.
    pub(crate) fn lock_live(&self) -> Result<MessageGuard<'_>> {
        if self.retired.load(Ordering::Acquire) {
            return Err(Error::OrphanAdopted);
        }
        let guard = self.lock();
        if let Some(state) = &self.external {
            external::check(state, &guard.get_segments_for_output())?;
        }
        Ok(guard)
    }

    /// As `lock_read`, failing once the message is retired.
    pub(crate) fn lock_read_live(&self) -> Result<MessageGuard<'_>> {
        if self.retired.load(Ordering::Acquire) {
            return Err(Error::OrphanAdopted);
        }
        let guard = self.lock_read();
        if let Some(state) = &self.external {
            external::check(state, &guard.get_segments_for_output())?;
        }
        Ok(guard)
    }

    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    pub(crate) fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// Initialises the root as a zeroed struct `id` and returns its builder (`is_root`).
    pub fn init_root(&self, registry: &Arc<Registry>, id: u64) -> Result<DynStructBuilder> {
        self.init_root_as(registry, registry.get_struct(id)?)
    }

    /// `init_root` with the struct's schema, as `registry` gives it (a caller that keeps it
    /// skips the registry's lock and table).
    pub fn init_root_as(
        &self,
        registry: &Arc<Registry>,
        schema: Arc<StructSchema>,
    ) -> Result<DynStructBuilder> {
        // Located at once: the first operation on the root does not walk.
        let (generation, at) = {
            let mut m = self.lock_live()?;
            let s = m
                .init_root::<RawPtrBuilder<'_>>()?
                .0
                .init_struct(schema.size());
            (
                self.generation(),
                crate::arena::DataAt::locate(&self.segments, &s),
            )
        };
        self.check_allocation()?;
        Ok(
            DynStructBuilder::new(self.clone(), root_path(), schema, registry.clone(), true)
                .located(generation, at),
        )
    }

    /// The existing root interpreted as struct `id` (allocated if null).
    pub fn get_root(&self, registry: &Arc<Registry>, id: u64) -> Result<DynStructBuilder> {
        let schema = registry.get_struct(id)?;
        let (generation, at) = {
            let mut m = self.lock_live()?;
            let s = m
                .get_root::<RawPtrBuilder<'_>>()?
                .0
                .get_struct(schema.size(), None)?;
            (
                self.generation(),
                crate::arena::DataAt::locate(&self.segments, &s),
            )
        };
        self.check_allocation()?;
        Ok(
            DynStructBuilder::new(self.clone(), root_path(), schema, registry.clone(), true)
                .located(generation, at),
        )
    }

    /// The root pointer as an AnyPointer (`get_root_as_any`).
    pub fn root_as_any(&self, registry: &Arc<Registry>) -> AnyPointerBuilder {
        AnyPointerBuilder::root(self.clone(), registry.clone())
    }

    /// Standard stream framing.
    pub fn to_bytes(&self) -> Vec<u8> {
        capnp::serialize::write_message_segments_to_words(&*self.lock_read())
    }

    /// Runs `f` under the message lock on the standard stream framing in pieces: the segment
    /// table (count, sizes, padding), then the segments; written one after the other they are
    /// `capnp::serialize::write_message`'s bytes (tested). The caller copies them once, into
    /// a buffer of exactly their total size.
    pub fn with_framed<R>(&self, f: impl FnOnce(&[u8], &[&[u8]]) -> R) -> R {
        let m = self.lock_read();
        let segments = m.get_segments_for_output();
        // (1 + n) little-endian u32s, padded to a whole word.
        let mut small = [0u8; 64];
        let mut large = Vec::new();
        let table_len = (segments.len() / 2 + 1) * 8;
        let table = if table_len <= small.len() {
            &mut small[..table_len]
        } else {
            large.resize(table_len, 0);
            &mut large[..]
        };
        let count = u32::try_from(segments.len().saturating_sub(1)).unwrap_or(u32::MAX);
        let sizes = segments
            .iter()
            .map(|s| u32::try_from(s.len() / 8).unwrap_or(u32::MAX));
        for (slot, value) in table
            .chunks_exact_mut(4)
            .zip(std::iter::once(count).chain(sizes))
        {
            slot.copy_from_slice(&value.to_le_bytes());
        }
        f(table, &segments)
    }

    /// The size of the standard stream framing of the message now.
    pub fn serialized_size(&self) -> usize {
        serialized_words(&self.lock_read()) * 8
    }

    /// Packed encoding of the standard framing.
    pub fn to_bytes_packed(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail (capnp writes whole words).
        let _ = capnp::serialize::write_message_segments(
            crate::packed::PackedVec(&mut out),
            &*self.lock_read(),
        );
        out
    }

    /// Runs `f` on the segments (no framing) under the message lock.
    pub fn with_segments<R>(&self, f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let m = self.lock_read();
        let segments = m.get_segments_for_output();
        f(&segments)
    }

    /// One `Vec` per segment, no framing.
    pub fn to_segments(&self) -> Vec<Vec<u8>> {
        let m = self.lock_read();
        let segments = m.get_segments_for_output();
        segments.iter().map(|s| s.to_vec()).collect()
    }

    /// Words in use, over all segments.
    pub fn size_in_words(&self) -> usize {
        self.lock_read().size_in_words()
    }

    /// A reader over a copy of the message's segments as they are now (one lock), when the
    /// message is at most `max_words` and holds no capabilities; `None` otherwise. Reads
    /// through it see what a reader view (`Backing::Builder`) sees, without a lock and a walk
    /// from the root per read: no traversal budget and capnp's builder nesting limit
    /// (`i32::MAX`), as a builder's reader view has.
    pub(crate) fn frozen(&self, max_words: usize) -> Result<Option<Arc<MessageReader>>> {
        if self.has_cap_context() {
            return Ok(None);
        }
        let buffers: Vec<Bytes> = {
            let m = self.lock_read_live()?;
            let segments = m.get_segments_for_output();
            let words: usize = segments.iter().map(|s| s.len() / 8).sum();
            if words > max_words {
                return Ok(None);
            }
            segments
                .iter()
                .map(|s| Bytes::Words(Arc::new(copy_to_words(s))))
                .collect()
        };
        let limits = ReadLimits {
            traversal_limit_in_words: Some(u64::MAX),
            nesting_limit: Some(i64::from(i32::MAX)),
        };
        let mut reader = MessageReader::new(Segments::List(buffers), limits)?;
        if let Some(r) = Arc::get_mut(&mut reader) {
            r.origin = Some(self.clone());
        }
        Ok(Some(reader))
    }
}

/// The words of `m`'s standard stream framing (capnp's `compute_serialized_size_in_words`):
/// the segment table, padded to a word, and the segments.
fn serialized_words(m: &BuilderMessage) -> usize {
    let segments = m.get_segments_for_output();
    segments.len() / 2 + 1 + segments.iter().map(|s| s.len() / 8).sum::<usize>()
}

/// A builder message's lock held (`parking_lot`'s: no poisoning; no operation leaves the
/// arena inconsistent when it panics part-way, capnp writes pointers last).
pub(crate) type MessageGuard<'a> = parking_lot::MutexGuard<'a, BuilderMessage>;

pub(crate) fn lock(m: &parking_lot::Mutex<BuilderMessage>) -> MessageGuard<'_> {
    m.lock()
}

/// What reader handles share with the handles made from them: the message, the registry and
/// the path from the root to where their own pending hop starts. A child of a handle without
/// a pending hop (a root, a list's elements) shares the parent's base: one reference count
/// per child, instead of one per part (reference counts are atomic: each costs a few ns).
pub(crate) struct ReaderBase {
    pub(crate) backing: Backing,
    pub(crate) registry: Arc<Registry>,
    pub(crate) steps: Path,
}

impl ReaderBase {
    pub(crate) fn new(backing: Backing, registry: Arc<Registry>, steps: Path) -> Arc<Self> {
        Arc::new(ReaderBase {
            backing,
            registry,
            steps,
        })
    }

    /// The base of the children of a handle on this base with pending hop `pending`: this
    /// one when there is none, else a new one whose path ends with it.
    pub(crate) fn extended(self: &Arc<Self>, pending: Option<&Step>) -> Arc<Self> {
        match pending {
            None => self.clone(),
            Some(hop) => ReaderBase::new(
                self.backing.clone(),
                self.registry.clone(),
                push_step(&self.steps, hop.clone()),
            ),
        }
    }
}

/// What builder handles share with the handles made from them (as [`ReaderBase`]), and the
/// root struct's size, to which every walk upgrades the root.
pub(crate) struct BuilderBase {
    pub(crate) message: MessageBuilder,
    pub(crate) registry: Arc<Registry>,
    pub(crate) steps: Path,
    pub(crate) root_size: StructSize,
}

impl BuilderBase {
    pub(crate) fn new(
        message: MessageBuilder,
        registry: Arc<Registry>,
        steps: Path,
        root_size: StructSize,
    ) -> Arc<Self> {
        Arc::new(BuilderBase {
            message,
            registry,
            steps,
            root_size,
        })
    }

    /// As [`ReaderBase::extended`].
    pub(crate) fn extended(self: &Arc<Self>, pending: Option<&Step>) -> Arc<Self> {
        match pending {
            None => self.clone(),
            Some(hop) => BuilderBase::new(
                self.message.clone(),
                self.registry.clone(),
                push_step(&self.steps, hop.clone()),
                self.root_size,
            ),
        }
    }
}

/// What a struct list shares with all its element handles: the list's own base and its
/// pending hop (the path to the list is the base's path, then `hop`), and the element
/// schema, behind one reference count. Keeping the hop here instead of a base with the path
/// extended by it spares a list's first element an allocation, a path copy and their atomic
/// counts.
pub(crate) struct Elements<B: 'static> {
    pub(crate) base: Arc<B>,
    pub(crate) hop: Option<Step>,
    pub(crate) schema: Arc<crate::schema::StructSchema>,
    /// What the elements' handles of one group share (the same base and hop, the group's
    /// schema): made by the first such handle (`element_with_schema`) and shared by the
    /// groups of the list's other elements (each `person.employment` of a list of people
    /// would otherwise allocate its own). Only the first group asked for is kept.
    pub(crate) group: crate::list::lent::GroupCell<B>,
}

impl<B: 'static> Elements<B> {
    pub(crate) fn new(
        base: Arc<B>,
        hop: Option<Step>,
        schema: Arc<crate::schema::StructSchema>,
    ) -> Self {
        Elements {
            base,
            hop,
            schema,
            group: crate::list::lent::GroupCell::new(),
        }
    }
}

/// A base of handles (`ReaderBase`, `BuilderBase`): its path, and a base like it with
/// another path.
pub(crate) trait HandleBase: Sized {
    fn steps(&self) -> &Path;
    fn registry(&self) -> &crate::schema::Registry;
    fn with_steps(&self, steps: Path) -> Arc<Self>;
    /// `ReaderBase::extended` / `BuilderBase::extended`.
    fn extended_by(this: &Arc<Self>, pending: Option<&Step>) -> Arc<Self>;
}

impl HandleBase for ReaderBase {
    #[inline]
    fn steps(&self) -> &Path {
        &self.steps
    }

    #[inline(always)]
    fn registry(&self) -> &crate::schema::Registry {
        &self.registry
    }

    fn with_steps(&self, steps: Path) -> Arc<Self> {
        ReaderBase::new(self.backing.clone(), self.registry.clone(), steps)
    }

    #[inline(always)]
    fn extended_by(this: &Arc<Self>, pending: Option<&Step>) -> Arc<Self> {
        this.extended(pending)
    }
}

impl HandleBase for BuilderBase {
    #[inline]
    fn steps(&self) -> &Path {
        &self.steps
    }

    #[inline(always)]
    fn registry(&self) -> &crate::schema::Registry {
        &self.registry
    }

    fn with_steps(&self, steps: Path) -> Arc<Self> {
        BuilderBase::new(
            self.message.clone(),
            self.registry.clone(),
            steps,
            self.root_size,
        )
    }

    #[inline(always)]
    fn extended_by(this: &Arc<Self>, pending: Option<&Step>) -> Arc<Self> {
        this.extended(pending)
    }
}

/// A struct handle's base and schema: its own pair (each part counted, or borrowed:
/// `list/lent.rs`, `OwnPair`), or its list's [`Elements`] (one reference count per element
/// handle instead of two), or its list's `Elements` borrowed without a count while the
/// list's owner keeps them (`list/lent.rs`; clones are counted).
pub(crate) enum StructBase<B: 'static> {
    Own(crate::list::lent::OwnPair<B>),
    Element(Arc<Elements<B>>),
    Lent(crate::list::lent::LentElements<B>),
}

impl<B: 'static> Clone for StructBase<B> {
    fn clone(&self) -> Self {
        match self {
            StructBase::Own(pair) => StructBase::Own(pair.clone()),
            StructBase::Element(e) => StructBase::Element(e.clone()),
            StructBase::Lent(e) => StructBase::Element(e.counted()),
        }
    }
}

impl<B: 'static> StructBase<B> {
    #[inline]
    pub(crate) fn base(&self) -> &Arc<B> {
        match self {
            StructBase::Own(pair) => pair.base(),
            StructBase::Element(e) => &e.base,
            StructBase::Lent(e) => &e.get().base,
        }
    }

    /// Whether another owner keeps the message when this handle's share goes: its base
    /// (or its list's shared pair) is counted more than once, or it is lent (it holds no
    /// count; the list object its owner keeps holds the message). Read without
    /// synchronization: another thread dropping its share at the same moment can make the
    /// answer stale (then this drop is the message's last; callers stay sound either way).
    #[inline]
    pub(crate) fn shared(&self) -> bool {
        match self {
            StructBase::Own(pair) => pair.base_lent() || Arc::strong_count(pair.base()) > 1,
            StructBase::Element(e) => Arc::strong_count(e) > 1 || Arc::strong_count(&e.base) > 1,
            StructBase::Lent(_) => true,
        }
    }

    #[inline]
    pub(crate) fn schema(&self) -> &Arc<crate::schema::StructSchema> {
        match self {
            StructBase::Own(pair) => pair.schema(),
            StructBase::Element(e) => &e.schema,
            StructBase::Lent(e) => &e.get().schema,
        }
    }

    /// The hop from the base's path to the handle's list (elements of a list with one
    /// pending; see [`Elements`]), else `None`.
    #[inline(always)]
    pub(crate) fn hop(&self) -> Option<&Step> {
        match self {
            StructBase::Own(..) => None,
            StructBase::Element(e) => e.hop.as_ref(),
            StructBase::Lent(e) => e.get().hop.as_ref(),
        }
    }
}

impl<B: HandleBase + 'static> StructBase<B> {
    /// A base and schema of its own, both counted.
    #[inline(always)]
    pub(crate) fn own(base: Arc<B>, schema: Arc<crate::schema::StructSchema>) -> Self {
        StructBase::Own(crate::list::lent::OwnPair::new(base, schema))
    }

    /// The path of a handle on this base with pending hop `pending`: the base's path, the
    /// list's hop, then `pending`.
    pub(crate) fn path_with(&self, pending: Option<&Step>) -> Path {
        let steps = self.base().steps();
        match (self.hop(), pending) {
            (None, None) => steps.clone(),
            (Some(one), None) | (None, Some(one)) => push_step(steps, one.clone()),
            (Some(hop), Some(last)) => push_steps(steps, hop, last),
        }
    }

    /// The base of the children of a handle on this base with pending hop `pending` (as
    /// [`ReaderBase::extended`], the list's hop included).
    #[inline(always)]
    pub(crate) fn extended(&self, pending: Option<&Step>) -> Arc<B> {
        // A handle's own base (fields of roots and of their fields) as before the hops.
        if let StructBase::Own(pair) = self {
            return B::extended_by(pair.base(), pending);
        }
        self.extended_element(pending)
    }

    #[inline(never)]
    fn extended_element(&self, pending: Option<&Step>) -> Arc<B> {
        match (self.hop(), pending) {
            (None, _) => B::extended_by(self.base(), pending),
            _ => self.base().with_steps(self.path_with(pending)),
        }
    }

    /// The same base and hop with `schema`: a group's (same location, another schema).
    #[inline(always)]
    pub(crate) fn with_schema(&self, schema: crate::list::lent::SchemaRef<'_>) -> Self {
        if let StructBase::Own(pair) = self {
            return StructBase::Own(crate::list::lent::OwnPair::with_ref(
                pair.base().clone(),
                schema,
            ));
        }
        self.element_with_schema(schema.counted())
    }

    #[inline(never)]
    fn element_with_schema(&self, schema: Arc<crate::schema::StructSchema>) -> Self {
        let elements = match self {
            StructBase::Own(pair) => return StructBase::own(pair.base().clone(), schema),
            StructBase::Element(e) => &**e,
            StructBase::Lent(e) => e.get(),
        };
        let Some(hop) = &elements.hop else {
            return StructBase::own(elements.base.clone(), schema);
        };
        // The list's shared part for this group, when another element's group made it (a
        // group schema's id names it within the registry, which the base fixes).
        if let Some(group) = elements.group.get(schema.id) {
            return StructBase::Element(group);
        }
        // A fourth variant holding the element's `Elements` and the group's schema would
        // spare this allocation, but made every handle's `base()` a jump table: builder
        // primitive gets and sets 1.5-2.5 ns slower.
        let made = Arc::new(Elements::new(
            elements.base.clone(),
            Some(hop.clone()),
            schema,
        ));
        elements.group.offer(&made);
        StructBase::Element(made)
    }
}

/// What keeps a reader handle's bytes alive.
#[derive(Clone)]
pub(crate) enum Backing {
    Reader(Arc<MessageReader>),
    /// A reader view of a builder (`as_reader`): sees later writes.
    Builder(MessageBuilder),
}

impl Backing {
    /// The cap table of the message behind the handle (`None`: a reader of plain bytes).
    pub(crate) fn caps(&self) -> Option<Vec<Option<crate::cap::Cap>>> {
        match self {
            Backing::Reader(_) => None,
            Backing::Builder(b) if b.has_cap_context() => Some(b.caps()),
            Backing::Builder(_) => None,
        }
    }

    /// Runs `f` on the reader location at `steps`.
    #[inline(always)]
    pub(crate) fn with_loc<R>(
        &self,
        steps: &[Step],
        f: impl FnOnce(RLoc<'_>) -> Result<R>,
    ) -> Result<R> {
        match self {
            Backing::Reader(m) => m.with_root(None, |root| f(walk_reader(root, steps)?)),
            Backing::Builder(b) => {
                let guard = b.lock_read_live()?;
                let root = guard.get_root_as_reader::<RawPtr<'_>>()?.0;
                f(walk_reader(root, steps)?)
            }
        }
    }

    /// As `with_loc`, for operations that traverse a whole subtree inside capnp (copies,
    /// sizes): capnp's limiter then guards them with the budget left, so a message of shared
    /// subtrees cannot make them do unbounded work. Callers charge what they read.
    pub(crate) fn with_loc_deep<R>(
        &self,
        steps: &[Step],
        f: impl FnOnce(RLoc<'_>) -> Result<R>,
    ) -> Result<R> {
        match self {
            Backing::Reader(m) => {
                m.with_root(Some(m.budget_left()), |root| f(walk_reader(root, steps)?))
            }
            Backing::Builder(_) => self.with_loc(steps, f),
        }
    }

    /// Charges a user-level pointer access against the reader's budget (builders are not limited).
    pub(crate) fn charge(&self, words: u64) -> Result<()> {
        match self {
            Backing::Reader(m) => m.charge(words),
            Backing::Builder(_) => Ok(()),
        }
    }

    /// Charges following the non-null pointer that led to `loc` (read as `shape`).
    pub(crate) fn charge_loc(&self, loc: &RLoc<'_>, shape: Shape) -> Result<()> {
        self.charge(loc_words(loc, shape))
    }

    /// Charges reading a non-null text (`with_nul`) or data blob of `len` bytes.
    pub(crate) fn charge_blob(&self, len: usize, with_nul: bool) -> Result<()> {
        let bytes = len as u64 + u64::from(with_nul);
        self.charge(bytes.div_ceil(8))
    }
}

/// What following a non-null pointer to a list of `len` elements read as `shape` charges
/// (as `loc_words`), for locations resolved without capnp.
pub(crate) fn shape_words(shape: Shape, len: u32) -> u64 {
    let per_struct = |s: StructSize| u64::from(s.data) + u64::from(s.pointers);
    let n = u64::from(len);
    match shape {
        Shape::Struct(size) => per_struct(size),
        Shape::PrimList(es) => {
            let bits = match es {
                ElementSize::Void => return n,
                ElementSize::Bit => 1,
                ElementSize::Byte => 8,
                ElementSize::TwoBytes => 16,
                ElementSize::FourBytes => 32,
                ElementSize::EightBytes | ElementSize::Pointer | ElementSize::InlineComposite => 64,
            };
            (n * bits).div_ceil(64)
        }
        Shape::PtrList => n,
        Shape::StructList(size) => match per_struct(size) {
            0 => 1 + n,
            w => 1 + n * w,
        },
    }
}

/// The words the reference charges for following a pointer to `loc`: a struct's sections,
/// a list's content (with its tag word for struct lists, and one word per element for
/// zero-sized elements, as its guard against amplification).
fn loc_words(loc: &RLoc<'_>, shape: Shape) -> u64 {
    let len = match (loc, shape) {
        (RLoc::Struct(_), Shape::Struct(_)) => 0,
        (RLoc::PrimList(l), Shape::PrimList(_)) => l.len(),
        (RLoc::PtrList(l), Shape::PtrList) => l.len(),
        (RLoc::StructList(l), Shape::StructList(_)) => l.len(),
        _ => return 0,
    };
    shape_words(shape, len)
}

/// How one pointer hop is interpreted.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    Struct(StructSize),
    PrimList(ElementSize),
    PtrList,
    StructList(StructSize),
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Hop {
    /// A pointer field of a struct.
    Field(u16),
    /// An element of a list.
    Elem(u32),
    /// The message's root pointer itself, as a first step only: the path then starts at
    /// the root's list (an AnyPointer root viewed as a list) instead of at a root struct.
    Root,
}

#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub(crate) hop: Hop,
    pub(crate) shape: Shape,
    pub(crate) default: Option<Arc<Vec<Word>>>,
}

/// The steps from the root to a handle's object. A root's path is empty and holds nothing:
/// making, cloning and dropping it are no atomic operations (a shared empty `Arc<[Step]>`
/// cost an increment and a decrement of one count per root handle, tens of cycles each).
/// Paths of one or two steps (the children of a root's fields and of a root list's
/// elements: an address book's phone lists) are held inline, in the base that holds the
/// path, instead of in an allocation of their own.
#[derive(Clone, Default)]
pub(crate) struct Path(Steps);

#[derive(Clone, Default)]
enum Steps {
    #[default]
    Root,
    One(Step),
    Two([Step; 2]),
    Many(Arc<[Step]>),
}

impl std::ops::Deref for Path {
    type Target = [Step];

    #[inline]
    fn deref(&self) -> &[Step] {
        match &self.0 {
            Steps::Root => &[],
            Steps::One(step) => std::slice::from_ref(step),
            Steps::Two(steps) => steps,
            Steps::Many(steps) => steps,
        }
    }
}

impl From<Vec<Step>> for Path {
    fn from(steps: Vec<Step>) -> Self {
        let mut it = steps.into_iter();
        match (it.len(), it.next(), it.next()) {
            (0, ..) => Path(Steps::Root),
            (1, Some(a), _) => Path(Steps::One(a)),
            (2, Some(a), Some(b)) => Path(Steps::Two([a, b])),
            (_, a, b) => Path(Steps::Many(a.into_iter().chain(b).chain(it).collect())),
        }
    }
}

/// The path of a root (no steps).
#[inline]
pub(crate) fn root_path() -> Path {
    Path(Steps::Root)
}

/// `steps`, then `a` and `b`.
pub(crate) fn push_steps(steps: &Path, a: &Step, b: &Step) -> Path {
    let n = steps.len();
    if n == 0 {
        return Path(Steps::Two([a.clone(), b.clone()]));
    }
    // One exact-size pass (a range mapped: no chained iterators' state to step through).
    Path(Steps::Many(
        (0..n + 2)
            .map(|i| match i.checked_sub(n) {
                None => steps[i].clone(),
                Some(0) => a.clone(),
                Some(_) => b.clone(),
            })
            .collect(),
    ))
}

pub(crate) fn push_step(steps: &Path, step: Step) -> Path {
    match &steps.0 {
        Steps::Root => Path(Steps::One(step)),
        Steps::One(first) => Path(Steps::Two([first.clone(), step])),
        // Collected straight into the `Arc` (an exact-size iterator: one allocation, no Vec).
        _ => Path(Steps::Many(
            steps.iter().cloned().chain(std::iter::once(step)).collect(),
        )),
    }
}

pub(crate) enum RLoc<'a> {
    Struct(StructReader<'a>),
    PrimList(ListReader<'a>),
    PtrList(any_pointer_list::Reader<'a>),
    StructList(struct_list::Reader<'a, RawStruct>),
}

pub(crate) enum BLoc<'a> {
    Struct(StructBuilder<'a>),
    PrimList(ListBuilder<'a>),
    PtrList(any_pointer_list::Builder<'a>),
    StructList(struct_list::Builder<'a, RawStruct>),
}

fn internal() -> Error {
    Error::Capnp(capnp::Error::failed(
        "handle path does not match the message".into(),
    ))
}

#[inline(always)]
pub(crate) fn follow_reader<'a>(
    pr: PointerReader<'a>,
    shape: Shape,
    default: Option<&'a [Word]>,
) -> Result<RLoc<'a>> {
    Ok(match shape {
        Shape::Struct(_) => RLoc::Struct(pr.get_struct(default)?),
        Shape::PrimList(es) => RLoc::PrimList(pr.get_list(es, default)?),
        Shape::PtrList => RLoc::PtrList(any_pointer_list::Reader::get_from_pointer(&pr, default)?),
        Shape::StructList(_) => {
            RLoc::StructList(struct_list::Reader::get_from_pointer(&pr, default)?)
        }
    })
}

#[inline(always)]
pub(crate) fn walk_reader<'a>(root: PointerReader<'a>, steps: &'a [Step]) -> Result<RLoc<'a>> {
    let (mut loc, steps) = match steps.split_first() {
        Some((first, rest)) if matches!(first.hop, Hop::Root) => {
            (follow_reader(root, first.shape, None)?, rest)
        }
        _ => (RLoc::Struct(root.get_struct(None)?), steps),
    };
    for step in steps {
        let default = step.default.as_deref().map(|v| &v[..]);
        loc = match (loc, step.hop) {
            (RLoc::Struct(s), Hop::Field(i)) => {
                follow_reader(s.get_pointer_field(usize::from(i)), step.shape, default)?
            }
            (RLoc::PtrList(l), Hop::Elem(i)) => {
                let Some(p) = l.try_get(i) else {
                    return Err(Error::IndexOutOfRange);
                };
                follow_reader(p.get_as::<RawPtr<'_>>()?.0, step.shape, default)?
            }
            (RLoc::StructList(l), Hop::Elem(i)) => {
                let Some(e) = l.try_get(i) else {
                    return Err(Error::IndexOutOfRange);
                };
                RLoc::Struct(e.0)
            }
            _ => return Err(internal()),
        };
    }
    Ok(loc)
}

#[inline(always)]
pub(crate) fn follow_builder<'a>(
    pb: PointerBuilder<'a>,
    shape: Shape,
    default: Option<&'a [Word]>,
) -> Result<BLoc<'a>> {
    Ok(match shape {
        Shape::Struct(size) => BLoc::Struct(pb.get_struct(size, default)?),
        Shape::PrimList(es) => BLoc::PrimList(pb.get_list(es, default)?),
        Shape::PtrList => BLoc::PtrList(any_pointer_list::Builder::get_from_pointer(pb, default)?),
        Shape::StructList(size) => {
            let mut pb = pb;
            // Upgrade elements to the schema's size first: builder accessors do not
            // bounds-check, so every element must be at least as large as the schema says.
            pb.reborrow().get_struct_list(size, default)?;
            BLoc::StructList(struct_list::Builder::get_from_pointer(pb, None)?)
        }
    })
}

/// `follow_builder` of a struct list that was just initialized with its schema's element size
/// (`init_struct_list`): already as large as the schema says, so not upgraded again.
pub(crate) fn follow_fresh_struct_list(pb: PointerBuilder<'_>) -> Result<BLoc<'_>> {
    Ok(BLoc::StructList(struct_list::Builder::get_from_pointer(
        pb, None,
    )?))
}

/// Runs `f` on the builder location at `steps` below a root struct of `root_size`.
#[inline(always)]
pub(crate) fn with_builder_loc<R>(
    message: &MessageBuilder,
    root_size: StructSize,
    steps: &[Step],
    f: impl FnOnce(BLoc<'_>) -> Result<R>,
) -> Result<R> {
    with_builder_loc_then(message, root_size, steps, None, f)
}

/// As `with_builder_loc`, at `steps` followed by `last` (a handle's pending hop).
#[inline(always)]
pub(crate) fn with_builder_loc_then<R>(
    message: &MessageBuilder,
    root_size: StructSize,
    steps: &[Step],
    last: Option<&Step>,
    f: impl FnOnce(BLoc<'_>) -> Result<R>,
) -> Result<R> {
    with_builder_loc_imbued(message, root_size, steps, last, None, f)
}

/// As `with_builder_loc_then`, every builder on the way imbued with `table` (a `CapScope`'s
/// table over this message's caps), for copies that carry capabilities into the location.
pub(crate) fn with_builder_loc_imbued<R>(
    message: &MessageBuilder,
    root_size: StructSize,
    steps: &[Step],
    last: Option<&Step>,
    table: Option<&mut capnp::private::layout::CapTable>,
    f: impl FnOnce(BLoc<'_>) -> Result<R>,
) -> Result<R> {
    let mut guard = message.lock_live()?;
    with_builder_loc_locked(&mut guard, message, root_size, steps, last, table, f)
}

/// As `with_builder_loc_imbued`, under a lock of `message` the caller holds (`lock_pair`).
pub(crate) fn with_builder_loc_locked<R>(
    guard: &mut BuilderMessage,
    message: &MessageBuilder,
    root_size: StructSize,
    steps: &[Step],
    last: Option<&Step>,
    table: Option<&mut capnp::private::layout::CapTable>,
    f: impl FnOnce(BLoc<'_>) -> Result<R>,
) -> Result<R> {
    let mut root = guard.get_root::<RawPtrBuilder<'_>>()?.0;
    if let Some(table) = table {
        root.imbue(capnp::private::layout::CapTableBuilder::from_ref(table));
    }
    let (mut loc, steps) = match steps.split_first() {
        Some((first, rest)) if matches!(first.hop, Hop::Root) => {
            (follow_builder(root, first.shape, None)?, rest)
        }
        _ => (BLoc::Struct(root.get_struct(root_size, None)?), steps),
    };
    for step in steps.iter().chain(last) {
        let default = step.default.as_deref().map(|v| &v[..]);
        loc = match (loc, step.hop) {
            (BLoc::Struct(s), Hop::Field(i)) => {
                follow_builder(s.get_pointer_field(usize::from(i)), step.shape, default)?
            }
            (BLoc::PtrList(l), Hop::Elem(i)) => {
                let Some(p) = l.try_get(i) else {
                    return Err(Error::IndexOutOfRange);
                };
                follow_builder(p.get_as::<RawPtrBuilder<'_>>()?.0, step.shape, default)?
            }
            (BLoc::StructList(l), Hop::Elem(i)) => {
                let Some(e) = l.try_get(i) else {
                    return Err(Error::IndexOutOfRange);
                };
                BLoc::Struct(e.0)
            }
            _ => return Err(internal()),
        };
    }
    let r = f(loc)?;
    message.check_allocation()?;
    Ok(r)
}

/// Locks `src` for reading and `dest` for a write, the lower address first. This is the one
/// place that holds two builder locks at once (every other copy goes through a snapshot), so
/// two threads copying between the same two messages in opposite directions take them in the
/// same order and cannot each wait for the other's second lock. `src` and `dest` must be
/// different messages (a second lock of one mutex would wait for ever).
/// `dest` is locked as `lock_fast` locks it: its recorded locations stay current, and a
/// caller that walks it must first make them stale (`Held::bump`).
pub(crate) fn lock_pair<'a>(
    src: &'a MessageBuilder,
    dest: &'a MessageBuilder,
) -> Result<(MessageGuard<'a>, crate::arena::Held<'a>)> {
    if Arc::as_ptr(src.0.arc()) < Arc::as_ptr(dest.0.arc()) {
        let s = src.lock_read_live()?;
        let d = dest.lock_fast()?;
        Ok((s, d))
    } else {
        let d = dest.lock_fast()?;
        let s = src.lock_read_live()?;
        Ok((s, d))
    }
}

/// The reader location at `steps` in a builder message the caller has locked.
pub(crate) fn builder_reader_loc<'a>(
    guard: &'a MessageGuard<'_>,
    steps: &'a [Step],
) -> Result<RLoc<'a>> {
    let root = guard.get_root_as_reader::<RawPtr<'_>>()?.0;
    walk_reader(root, steps)
}

/// The pointer at `hop` inside a reader location (struct field or pointer-list element).
pub(crate) fn reader_pointer(loc: RLoc<'_>, hop: Hop) -> Result<PointerReader<'_>> {
    match (loc, hop) {
        (RLoc::Struct(s), Hop::Field(i)) => Ok(s.get_pointer_field(usize::from(i))),
        (RLoc::PtrList(l), Hop::Elem(i)) => Ok(l
            .try_get(i)
            .ok_or(Error::IndexOutOfRange)?
            .get_as::<RawPtr<'_>>()?
            .0),
        _ => Err(internal()),
    }
}

/// The pointer at `hop` inside a builder location.
pub(crate) fn builder_pointer(loc: BLoc<'_>, hop: Hop) -> Result<PointerBuilder<'_>> {
    match (loc, hop) {
        (BLoc::Struct(s), Hop::Field(i)) => Ok(s.get_pointer_field(usize::from(i))),
        (BLoc::PtrList(l), Hop::Elem(i)) => Ok(l
            .try_get(i)
            .ok_or(Error::IndexOutOfRange)?
            .get_as::<RawPtrBuilder<'_>>()?
            .0),
        _ => Err(internal()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_heap_messages_without_capabilities_hold_no_host_objects() {
        assert!(MessageBuilder::new().holds_no_host_objects());
        assert!(MessageBuilder::with_first_segment_words(16).holds_no_host_objects());
        let with_context = MessageBuilder::new();
        with_context.enable_caps();
        assert!(!with_context.holds_no_host_objects());
        // A cap table extended gives the message its context, so a table is never left
        // behind a message that claims to hold nothing.
        let extended = MessageBuilder::new();
        extended.extend_caps(Vec::new());
        assert!(extended.holds_no_host_objects());
        extended.extend_caps(vec![None]);
        assert!(!extended.holds_no_host_objects());
        assert_eq!(extended.caps_len(), 1);
    }

    const RESET_SIZE: StructSize = StructSize {
        data: 2,
        pointers: 2,
    };

    /// Makes the root (`RESET_SIZE`) and fills it: a data word, a text and a list of
    /// `elements` words, every byte not zero.
    fn fill(m: &MessageBuilder, elements: u32) {
        let mut g = m.lock();
        g.init_root_struct(&m.segments, RESET_SIZE).expect("root");
        let mut s = g
            .get_root::<RawPtrBuilder<'_>>()
            .expect("root")
            .0
            .get_struct(RESET_SIZE, None)
            .expect("struct");
        s.set_data_field::<u64>(0, u64::MAX);
        s.reborrow()
            .get_pointer_field(0)
            .set_text("left behind".into());
        let mut list: capnp::primitive_list::Builder<'_, u64> =
            capnp::traits::FromPointerBuilder::init_pointer(s.get_pointer_field(1), elements);
        for i in 0..elements {
            list.set(i, u64::MAX);
        }
        g.scribble(3);
    }

    /// A message emptied by `reset` and given a root is a new message with that root: the
    /// same bytes, and every word past the root zero, as a new segment's.
    #[test]
    fn a_reset_message_is_a_new_message() {
        let mut used = MessageBuilder::new();
        fill(&used, 100);
        let state = used.0.get_mut().expect("the only holder");
        assert!(crate::arena::Recycle::reset(state));
        // Only the root pointer's word is left handed out, and published so.
        assert_eq!(state.segments.published_first_used(), 8);
        let mut taken = crate::arena::Taken::alone(used.0).expect("the only holder");
        let (inner, segments) = taken.message_and_table();
        let m = inner.get_mut();
        let at = m.init_root_struct(segments, RESET_SIZE).expect("root");
        assert!(at.is_some());
        let used = MessageBuilder(taken.into_shared());
        let fresh = MessageBuilder::new();
        let fresh_at = fresh
            .lock()
            .init_root_struct(&fresh.segments, RESET_SIZE)
            .expect("root");
        assert!(fresh_at.is_some());
        assert_eq!(used.to_bytes(), fresh.to_bytes());
        // The used words reads without the lock check against: lowered by the reset, then
        // the root's.
        for m in [&used, &fresh] {
            assert_eq!(
                Some(m.segments.published_first_used()),
                m.lock().first_used_bytes()
            );
        }
        let root_words = 1 + 4;
        let g = used.lock();
        let whole = g.first_segment_whole().expect("segment");
        assert_eq!(whole.len(), FIRST_SEGMENT_WORDS as usize * 8);
        assert!(whole[root_words * 8..].iter().all(|&b| b == 0));
    }

    /// `init_root_struct` (the root pointer written by our own code when the segment is new)
    /// makes the same bytes as capnp's `init_root` + `init_struct`, for every shape of struct
    /// (an empty one is capnp's own path, its pointer encoded specially), and on a reset
    /// message too.
    #[test]
    fn new_roots_are_capnps() {
        for (data, pointers) in [(0, 0), (1, 0), (0, 1), (3, 2), (1023, 0)] {
            let size = StructSize { data, pointers };
            let ours = MessageBuilder::new();
            let at = ours
                .lock()
                .init_root_struct(&ours.segments, size)
                .expect("root");
            assert_eq!(at.is_some(), data + pointers > 0);
            let theirs = MessageBuilder::new();
            theirs
                .lock()
                .init_root::<RawPtrBuilder<'_>>()
                .expect("root")
                .0
                .init_struct(size);
            assert_eq!(
                ours.to_bytes(),
                theirs.to_bytes(),
                "{data} data, {pointers} pointers"
            );
            let mut reused = MessageBuilder::new();
            fill(&reused, 10);
            let state = reused.0.get_mut().expect("the only holder");
            assert!(crate::arena::Recycle::reset(state));
            let mut taken = crate::arena::Taken::alone(reused.0).expect("the only holder");
            let (inner, segments) = taken.message_and_table();
            inner
                .get_mut()
                .init_root_struct(segments, size)
                .expect("root");
            let reused = MessageBuilder(taken.into_shared());
            assert_eq!(reused.to_bytes(), theirs.to_bytes(), "reused, {data} data");
            for m in [&ours, &theirs, &reused] {
                assert_eq!(
                    Some(m.segments.published_first_used()),
                    m.lock().first_used_bytes(),
                    "{data} data, {pointers} pointers"
                );
            }
        }
    }

    /// A message dropped on a thread becomes that thread's spare, which its next message
    /// takes; another thread's does not see it, and a thread's spare is freed when the thread
    /// exits (under Miri, whose leak check fails the test otherwise).
    #[test]
    fn spares_are_per_thread() {
        let drop_one = || {
            let m = MessageBuilder::new();
            m.lock()
                .init_root_struct(&m.segments, RESET_SIZE)
                .expect("root");
        };
        let holds = || SPARE.with(crate::arena::Spare::holds_one);
        let _ = SPARE.with(|spare| spare.take());
        drop_one();
        assert!(holds());
        std::thread::spawn(move || {
            assert!(!holds());
            drop_one();
            assert!(holds());
        })
        .join()
        .expect("thread");
        assert!(holds());
        let taken = SPARE.with(|spare| spare.take());
        assert!(taken.is_some() && !holds());
    }

    /// Messages `reset` must leave alone: more than one segment, a first segment of another
    /// size, a cap table, walk-only; each stays readable as it was.
    #[test]
    fn only_plain_one_segment_messages_are_reset() {
        let two_segments = MessageBuilder::new();
        fill(&two_segments, FIRST_SEGMENT_WORDS);
        let small = MessageBuilder::with_first_segment_words(64);
        fill(&small, 1);
        let with_caps = MessageBuilder::new();
        fill(&with_caps, 1);
        with_caps.extend_caps(vec![None]);
        let walking = MessageBuilder::new();
        fill(&walking, 1);
        walking.walk_only();
        for mut m in [two_segments, small, with_caps, walking] {
            let before = m.to_bytes();
            let state = m.0.get_mut().expect("the only holder");
            assert!(!crate::arena::Recycle::reset(state));
            assert_eq!(m.to_bytes(), before);
        }
    }

    /// The segments of a framed message as our reader holds them, or its error.
    fn ours(framed: &[u8], limits: ReadLimits) -> std::result::Result<Vec<Vec<u8>>, String> {
        let buf: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(framed.to_vec());
        let reader = MessageReader::bytes_shared(buf, limits, Sharing::default(), false)
            .map_err(|e| e.to_string())?;
        let s = &reader.segments;
        assert!(s.get_segment(s.len() as u32).is_none());
        Ok((0..s.len() as u32)
            .map(|i| s.get_segment(i).expect("segment").to_vec())
            .collect())
    }

    /// capnp's `BufferSegments` over the same bytes.
    fn capnps(framed: &[u8], limits: ReadLimits) -> std::result::Result<Vec<Vec<u8>>, String> {
        let words = copy_to_words(framed);
        let bytes = &Word::words_to_bytes(&words)[..framed.len()];
        let s = capnp::serialize::BufferSegments::new(bytes, limits.options())
            .map_err(|e| Error::from(e).to_string())?;
        Ok((0..s.len() as u32)
            .map(|i| s.get_segment(i).expect("segment").to_vec())
            .collect())
    }

    /// A segment table claiming `sizes`, then `body_words` numbered words.
    fn framed(sizes: &[u32], body_words: usize) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(sizes.len() as u32).wrapping_sub(1).to_le_bytes());
        for s in sizes {
            out.extend_from_slice(&s.to_le_bytes());
        }
        if out.len() % 8 != 0 {
            out.extend_from_slice(&[0; 4]);
        }
        for i in 0..body_words as u64 {
            out.extend_from_slice(&(i + 1).to_le_bytes());
        }
        out
    }

    /// Every shape of segment table (one segment: empty, exact, short by a word, with bytes
    /// after it, past the traversal limit; several segments; a count of zero or past capnp's
    /// limit): the same segments or the same error as capnp's own framing.
    #[test]
    fn framed_segments_are_capnps() {
        let default = ReadLimits::default();
        let tight = ReadLimits {
            traversal_limit_in_words: Some(4),
            nesting_limit: None,
        };
        let mut cases: Vec<Vec<u8>> = vec![Vec::new(), vec![0; 8]];
        for n in [0u32, 1, 3, 4, 5, 40] {
            for extra in [-1i64, 0, 1, 3] {
                let body = (i64::from(n) + extra).max(0) as usize;
                cases.push(framed(&[n], body));
            }
        }
        cases.push(framed(&[u32::MAX], 2));
        // Two segments: exact, short by a word, with words after them, empty ones, past
        // the traversal limit (alone and together), lengths that overflow 32 bits together.
        for (first, second) in [(2u32, 3u32), (0, 0), (0, 2), (2, 0), (1, 3), (3, 2), (5, 1)] {
            let n = (first + second) as i64;
            for extra in [-1i64, 0, 2] {
                cases.push(framed(&[first, second], (n + extra).max(0) as usize));
            }
        }
        cases.push(framed(&[u32::MAX, 1], 2));
        cases.push(framed(&[1, u32::MAX], 2));
        cases.push(framed(&[u32::MAX, u32::MAX], 2));
        // A two-segment table whose padding word is not zero (capnp ignores it).
        let mut padded = framed(&[1, 1], 2);
        padded[12] = 0xab;
        cases.push(padded);
        cases.push(framed(&[0, 0, 1], 1));
        cases.push(framed(&[1; 6], 6));
        cases.push(framed(&[1; 511], 511));
        cases.push(framed(&[1; 512], 512));
        // A segment count of zero (the first word's count field at u32::MAX).
        let mut zero = vec![0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0];
        zero.extend_from_slice(&[0; 8]);
        cases.push(zero);
        for (i, case) in cases.iter().enumerate() {
            for limits in [default, tight] {
                assert_eq!(ours(case, limits), capnps(case, limits), "case {i}");
            }
        }
    }
}
