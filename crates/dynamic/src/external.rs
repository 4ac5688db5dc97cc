//! Messages built in memory supplied from outside Rust (`_PyCustomMessageBuilder`: segments in
//! Python buffers), and the checks that keep capnp's builders sound over such memory. The
//! dynamic layer's only unsafe code (audited: docs/ARCHITECTURE.md, "Unsafe code").
//!
//! capnp's builders trust the message they write: they follow its pointers without bounds
//! checks, and they assume the unallocated rest of each segment is zero. Memory supplied from
//! outside may be written by its owner between two operations. So before every operation on
//! such a message (`MessageBuilder::lock_live`) the message is checked as a reader would
//! check it (every pointer in bounds, within a traversal and nesting limit) and the space
//! past each segment's used words must still be zero; a message that fails is refused from
//! then on. Python code runs only while its thread holds the GIL, and the binding keeps the
//! GIL around every operation on these messages (`MessageBuilder::is_volatile`), so nothing
//! in Python can write the memory between the check and the operation.

#![allow(unsafe_code)]

use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use capnp::message::{Allocator, HeapAllocator, ReaderOptions, SegmentArray};

/// Where an externally built message gets its segments.
///
/// # Safety
/// A region returned by `supply` must be valid for reads and writes of `words * 8` bytes,
/// aligned to 8 bytes, zeroed, used by nothing else in Rust, and stay valid and in place until
/// the supplier is dropped (the message drops it after its last use of the memory).
pub unsafe trait SegmentSupplier: Send {
    /// A region of at least `minimum_words` words (`request_words` is the size to ask for,
    /// larger for the first segment), or why none could be had (the segment then comes from
    /// the Rust heap and the message is refused from then on).
    fn supply(
        &mut self,
        request_words: u32,
        minimum_words: u32,
    ) -> std::result::Result<(NonNull<u8>, u32), String>;
}

/// A supplied region, by address (kept as an integer so the shared state is `Send`).
#[derive(Clone, Copy)]
struct Region {
    addr: usize,
    words: u32,
    /// From the heap fallback after the supplier failed.
    heap: bool,
}

/// What the allocator and the message share: the regions, in segment order, and the first
/// failure.
#[derive(Default)]
pub(crate) struct ExternalState {
    regions: Vec<Region>,
    failure: Option<String>,
}

pub(crate) type SharedState = Arc<Mutex<ExternalState>>;

fn state(s: &SharedState) -> std::sync::MutexGuard<'_, ExternalState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// The allocator of every `MessageBuilder`: capnp's heap allocator, or a supplier.
pub(crate) enum SegmentAlloc {
    Heap(HeapAllocator),
    External {
        supplier: Box<dyn SegmentSupplier>,
        first_words: u32,
        fallback: HeapAllocator,
        state: SharedState,
    },
}

// SAFETY: each arm upholds `Allocator`'s contract: the heap arm is capnp's own allocator; the
// external arm hands out regions that `SegmentSupplier`'s contract makes valid, aligned,
// zeroed and in place until the supplier drops (after the arena that uses them), or heap
// segments from capnp's allocator when the supplier fails; deallocation goes back to the
// allocator that made the segment (supplied regions are released with the supplier).
unsafe impl Allocator for SegmentAlloc {
    fn allocate_segment(&mut self, minimum_size: u32) -> (NonNull<u8>, u32) {
        match self {
            SegmentAlloc::Heap(h) => h.allocate_segment(minimum_size),
            SegmentAlloc::External {
                supplier,
                first_words,
                fallback,
                state: shared,
            } => {
                let first = state(shared).regions.is_empty();
                // The first segment is as big as asked at construction (pycapnp's
                // `firstSegmentWords`), later ones the minimum capnp needs.
                let want = if first {
                    minimum_size.max(*first_words)
                } else {
                    minimum_size
                };
                let (ptr, words, heap) = match supplier.supply(want, minimum_size) {
                    Ok((ptr, words))
                        if words >= minimum_size && (ptr.as_ptr() as usize) & 7 == 0 =>
                    {
                        (ptr, words, false)
                    }
                    Ok(_) => {
                        let (ptr, words) = fallback.allocate_segment(minimum_size);
                        state(shared).failure.get_or_insert_with(|| {
                            "allocate_seg_callable returned a region too small or unaligned"
                                .to_string()
                        });
                        (ptr, words, true)
                    }
                    Err(e) => {
                        let (ptr, words) = fallback.allocate_segment(minimum_size);
                        state(shared).failure.get_or_insert(e);
                        (ptr, words, true)
                    }
                };
                state(shared).regions.push(Region {
                    addr: ptr.as_ptr() as usize,
                    words,
                    heap,
                });
                (ptr, words)
            }
        }
    }

    unsafe fn deallocate_segment(&mut self, ptr: NonNull<u8>, word_size: u32, words_used: u32) {
        match self {
            // SAFETY: the caller's contract, passed on to the allocator that made it.
            SegmentAlloc::Heap(h) => unsafe { h.deallocate_segment(ptr, word_size, words_used) },
            SegmentAlloc::External {
                fallback,
                state: shared,
                ..
            } => {
                let heap = state(shared)
                    .regions
                    .iter()
                    .any(|r| r.heap && r.addr == ptr.as_ptr() as usize);
                if heap {
                    // SAFETY: as above; this segment came from `fallback`.
                    unsafe { fallback.deallocate_segment(ptr, word_size, words_used) }
                }
                // Supplied regions belong to the supplier, released when it drops.
            }
        }
    }
}

/// The first allocation failure of an external message, as an error.
pub(crate) fn check_failure(shared: &SharedState) -> crate::Result<()> {
    match &state(shared).failure {
        Some(f) => Err(failed(format!(
            "message buffers unusable: allocate_seg_callable: {f}"
        ))),
        None => Ok(()),
    }
}

/// Nesting allowed in an external message: the check recurses (in capnp) once per level.
pub(crate) const EXTERNAL_NESTING_LIMIT: i32 = 1000;

/// Checks an external message before an operation (see the module comment): the first
/// allocation failure, then the pointers of the used words, then the zeroed tails.
pub(crate) fn check(shared: &SharedState, segments: &[&[u8]]) -> crate::Result<()> {
    check_failure(shared)?;
    let st = state(shared);
    let words: usize = segments.iter().map(|s| s.len() / 8).sum();
    let mut options = ReaderOptions::new();
    // A builder never shares subtrees, so a sound message reads in a few times its size.
    options.traversal_limit_in_words(Some(words.saturating_mul(4).saturating_add(64)));
    options.nesting_limit(EXTERNAL_NESTING_LIMIT);
    let reader = capnp::message::Reader::new(SegmentArray::new(segments), options);
    let valid = reader
        .get_root::<capnp::any_pointer::Reader<'_>>()
        .and_then(|root| root.target_size());
    if let Err(e) = valid {
        return Err(failed(format!(
            "message buffers were modified outside the message: {e}"
        )));
    }
    for (region, used) in st.regions.iter().zip(segments) {
        if region.heap {
            continue;
        }
        let start = used.len().min(region.words as usize * 8);
        let len = region.words as usize * 8 - start;
        // SAFETY: the region is valid for `words * 8` bytes while the message (which owns
        // the supplier) lives, and the caller holds the message's lock, so capnp is not
        // writing it; Python code cannot run meanwhile (the GIL is held, see the module).
        let tail = unsafe { std::slice::from_raw_parts((region.addr + start) as *const u8, len) };
        if tail.iter().any(|&b| b != 0) {
            return Err(failed(
                "message buffers were modified outside the message: \
                 the unused end of a segment is not zero"
                    .to_string(),
            ));
        }
    }
    Ok(())
}

fn failed(message: String) -> crate::Error {
    crate::Error::Capnp(capnp::Error::failed(message))
}
