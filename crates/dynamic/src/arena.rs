//! Builder locations kept across calls, and the one place in capnp-dynamic with `unsafe` code
//! (audited; the argument is in docs/ARCHITECTURE.md, "Unsafe code").
//!
//! A builder handle normally re-walks its path from the root under the message lock on every
//! operation. Here a handle instead records where its struct's data section (or its list's
//! elements) lies the first time a walk finds it, and later primitive reads and writes go
//! straight to those bytes — while the message's *generation* is unchanged. Every lock of a
//! message except `MessageBuilder::lock_fast` bumps the generation, so any operation that could
//! move or replace an object (a pointer write, `init`, `disown`, `adopt`, an upgrade during a
//! walk, a new root) makes every recorded location stale; only the data-section reads and
//! writes of this module run without bumping it, and they never touch a pointer.
//!
//! The addresses come from the segments themselves: `TrackingAllocator` wraps capnp's heap
//! allocator and records each segment it hands out, so a location is the segment's own pointer
//! (with its provenance) plus an offset, never a pointer forged from a shared slice.

#![allow(unsafe_code)]

use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use capnp::message::Allocator;
use capnp::private::layout::{ElementSize, StructBuilder};

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
#[derive(Default)]
pub(crate) struct SegmentTable {
    segments: Mutex<Vec<Segment>>,
}

impl SegmentTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Segment>> {
        self.segments.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The address of `bytes` (a slice capnp handed out of one of this message's segments)
    /// derived from its segment's own pointer, or `None` when it lies in no segment (a
    /// default value, an empty section).
    fn address_of(&self, bytes: &[u8]) -> Option<NonNull<u8>> {
        if bytes.is_empty() {
            return None;
        }
        let addr = bytes.as_ptr() as usize;
        for seg in self.lock().iter() {
            let base = seg.base.as_ptr() as usize;
            if addr >= base && addr + bytes.len() <= base + seg.bytes {
                // SAFETY: `addr - base + bytes.len() <= seg.bytes`, so the offset stays inside
                // the segment's allocation; the result keeps the segment pointer's provenance.
                return Some(unsafe { seg.base.add(addr - base) });
            }
        }
        None
    }
}

/// A message's allocator (capnp's heap, or segments supplied from outside: `external.rs`),
/// recording every segment in a `SegmentTable`.
pub(crate) struct TrackingAllocator {
    inner: crate::external::SegmentAlloc,
    table: Arc<SegmentTable>,
}

impl TrackingAllocator {
    pub(crate) fn new(inner: crate::external::SegmentAlloc, table: Arc<SegmentTable>) -> Self {
        TrackingAllocator { inner, table }
    }
}

// SAFETY: every segment comes from `SegmentAlloc`, which upholds the trait's contract (zeroed,
// 8-byte aligned, non-overlapping, at least `minimum_size` words; see its own SAFETY comment);
// recording its address changes nothing about it. (Messages over external segments never use
// recorded locations: they are `walk_only`.)
unsafe impl Allocator for TrackingAllocator {
    fn allocate_segment(&mut self, minimum_size: u32) -> (NonNull<u8>, u32) {
        let (base, words) = self.inner.allocate_segment(minimum_size);
        self.table.lock().push(Segment {
            base,
            bytes: words as usize * 8,
        });
        (base, words)
    }

    unsafe fn deallocate_segment(&mut self, ptr: NonNull<u8>, word_size: u32, words_used: u32) {
        // Forgotten first, so no location can be derived from freed memory.
        for seg in self.table.lock().iter_mut() {
            if seg.base == ptr {
                seg.bytes = 0;
            }
        }
        // SAFETY: forwarded unchanged from capnp, which calls this once per segment that
        // `allocate_segment` (hence the inner allocator) returned, with its size.
        unsafe { self.inner.deallocate_segment(ptr, word_size, words_used) }
    }
}

/// Proof of holding a builder message's lock, and the generation its locations must match.
/// Made only by `MessageBuilder::lock_fast` (which holds the guard for `'a`).
pub(crate) struct Held<'a> {
    pub(crate) generation: u64,
    pub(crate) _guard: std::sync::MutexGuard<'a, crate::message::BuilderMessage>,
}

/// A struct's data section in a builder message.
#[derive(Clone, Copy)]
pub(crate) struct DataAt {
    ptr: NonNull<u8>,
    len: u32,
}

impl DataAt {
    /// Where `s`'s data section is, if it is inside one of `table`'s segments.
    pub(crate) fn locate(table: &SegmentTable, s: &StructBuilder<'_>) -> Option<DataAt> {
        let data = capnp::raw::get_struct_data_section(RawStructReader(s.as_reader()));
        Some(DataAt {
            ptr: table.address_of(data)?,
            len: u32::try_from(data.len()).ok()?,
        })
    }

    /// The byte range of a `bits`-wide value at `offset` (in units of that width), when it
    /// lies inside the section.
    fn span(self, bits: u32, offset: u32) -> Option<(usize, usize)> {
        let bit = u64::from(offset) * u64::from(bits);
        let start = usize::try_from(bit / 8).ok()?;
        let width = (bits as usize).div_ceil(8);
        (bits > 0 && start + width <= self.len as usize).then_some((start, width))
    }

    /// Whether a `bits`-wide value at `offset` lies inside the section.
    pub(crate) fn fits(self, bits: u32, offset: u32) -> bool {
        self.span(bits, offset).is_some()
    }

    /// The raw bits at `offset`, or `None` when outside the section.
    pub(crate) fn read(self, _held: &Held<'_>, bits: u32, offset: u32) -> Option<u64> {
        let (start, width) = self.span(bits, offset)?;
        // SAFETY: `start + width <= len`, inside the data section `locate` found in a live
        // segment (the message is alive: `_held` borrows it) and current (the caller checked
        // the generation under the same lock, so nothing moved it); the lock excludes every
        // other access to the message's bytes.
        let v = unsafe { read_le(self.ptr.as_ptr().add(start), width) };
        Some(if bits == 1 {
            (v >> (offset % 8)) & 1
        } else {
            v
        })
    }

    /// Writes the raw bits at `offset`; `false` (nothing written) when outside the section.
    pub(crate) fn write(self, _held: &Held<'_>, bits: u32, offset: u32, value: u64) -> bool {
        let Some((start, width)) = self.span(bits, offset) else {
            return false;
        };
        // SAFETY: as in `read`; a data section holds no pointers, so no write here can
        // mislead capnp's later walks.
        unsafe {
            let p = self.ptr.as_ptr().add(start);
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
}

/// The elements of a list in a builder message.
#[derive(Clone, Copy)]
pub(crate) struct ElemsAt {
    ptr: Option<NonNull<u8>>,
    len: u32,
    step_bits: u32,
    size: ElementSize,
    /// Data section bytes of each element of a struct list.
    struct_data: u32,
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
        let ptr = table.address_of(bytes);
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
        })
    }

    /// As `locate`, for a struct list whose elements have `data_words` of data.
    pub(crate) fn with_struct_data(mut self, data_words: u16) -> Option<ElemsAt> {
        let data = u32::from(data_words) * 64;
        (self.size == ElementSize::InlineComposite && data <= self.step_bits).then(|| {
            self.struct_data = data / 8;
            self
        })
    }

    pub(crate) fn len(self) -> u32 {
        self.len
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
        Some(DataAt {
            ptr,
            len: self.struct_data,
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

/// Reads `width` (1, 2, 4 or 8) little-endian bytes at `p`.
///
/// # Safety
/// `p..p + width` must be readable and not written concurrently.
unsafe fn read_le(p: *const u8, width: usize) -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: the caller guarantees `width` readable bytes; `buf` has 8 >= width.
    unsafe { std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), width) };
    u64::from_le_bytes(buf)
}

/// Writes the low `width` bytes of `v` little-endian at `p`.
///
/// # Safety
/// `p..p + width` must be writable and not accessed concurrently.
unsafe fn write_le(p: *mut u8, width: usize, v: u64) {
    let buf = v.to_le_bytes();
    // SAFETY: the caller guarantees `width` writable bytes; `buf` has 8 >= width.
    unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), p, width) };
}

/// A handle's recorded location and the generation it was recorded at (0: none). Read and
/// written only while the message lock is held (so `Relaxed` suffices: the lock orders them).
#[derive(Default)]
pub(crate) struct StructCache {
    generation: AtomicU64,
    ptr: AtomicPtr<u8>,
    len: AtomicU32,
}

impl Clone for StructCache {
    fn clone(&self) -> Self {
        // A copy starts empty: clones are made outside the lock.
        StructCache::default()
    }
}

impl StructCache {
    pub(crate) fn get(&self, held: &Held<'_>) -> Option<DataAt> {
        // Generation 0 is "nothing recorded" (a message's generation starts at 1).
        if held.generation == 0 || self.generation.load(Ordering::Relaxed) != held.generation {
            return None;
        }
        Some(DataAt {
            ptr: NonNull::new(self.ptr.load(Ordering::Relaxed))?,
            len: self.len.load(Ordering::Relaxed),
        })
    }

    /// Records `at` as current at `generation` (called under the message lock).
    pub(crate) fn set(&self, generation: u64, at: Option<DataAt>) {
        match at {
            Some(at) => {
                self.ptr.store(at.ptr.as_ptr(), Ordering::Relaxed);
                self.len.store(at.len, Ordering::Relaxed);
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
        // Generation 0 is "nothing recorded" (a message's generation starts at 1).
        if held.generation == 0 || self.generation.load(Ordering::Relaxed) != held.generation {
            return None;
        }
        let shape = self.shape.load(Ordering::Relaxed);
        Some(ElemsAt {
            ptr: NonNull::new(self.ptr.load(Ordering::Relaxed)),
            len: self.len.load(Ordering::Relaxed),
            step_bits: self.step_bits.load(Ordering::Relaxed),
            size: size_of_code(shape & 0xff),
            struct_data: (shape >> 8) as u32,
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
            Some(at) => {
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
                self.generation.store(generation, Ordering::Relaxed);
            }
            None => self.generation.store(0, Ordering::Relaxed),
        }
    }
}
