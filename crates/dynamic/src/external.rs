//! The allocator of every message being built: segments from the heap (`Heap`, which keeps
//! first segments for reuse), or from memory supplied from outside Rust
//! (`_PyCustomMessageBuilder`: segments in Python buffers), and the checks that keep capnp's
//! builders sound over such memory. Audited unsafe code (docs/ARCHITECTURE.md, "Unsafe code").
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
use std::sync::atomic::{AtomicPtr, Ordering};
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

/// capnp's `HeapAllocator` with the same segment sizes (the first `first_words`, each later
/// one at least as large as all before it together, at most 2^29 words), except that
/// segments of exactly `POOLED_WORDS` (the default first segment, 8 KiB) are kept when their
/// message drops, their used words zeroed again, and handed to a later message: a new
/// message's first segment is otherwise zeroed whole, which costs more than building a small
/// message (an address book) into it.
pub(crate) struct Heap {
    next_size: u32,
}

const MAX_SEGMENT_WORDS: u32 = 1 << 29;
pub(crate) const POOLED_WORDS: u32 = 1024;
/// Segments kept in the pool's vector at most (128 KiB; the spare is one more).
const POOL_MAX: usize = 16;

/// A pooled segment: `POOLED_WORDS` zeroed words from the global allocator, used by nothing.
struct Pooled(NonNull<u8>);

// SAFETY: a pooled segment is owned by the pool alone (no message, no other pointer to it is
// used); moving its address to another thread moves that ownership.
unsafe impl Send for Pooled {}

static POOL: Mutex<Vec<Pooled>> = Mutex::new(Vec::new());

/// One more pooled segment, outside the mutex (null: none): a program that builds and drops
/// one message at a time takes and returns it with one atomic operation each, where the
/// mutex costs two (a lock and an unlock), and atomic operations were most of a small
/// message's `new_message()`. Owned by the pool, as the vector's segments.
static SPARE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());

fn pool() -> std::sync::MutexGuard<'static, Vec<Pooled>> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A pooled segment taken out of the pool (the spare first), if there is one.
fn take_pooled() -> Option<NonNull<u8>> {
    let spare = SPARE.swap(std::ptr::null_mut(), Ordering::Acquire);
    NonNull::new(spare).or_else(|| pool().pop().map(|Pooled(ptr)| ptr))
}

/// Gives a zeroed, unused `POOLED_WORDS` segment to the pool (as the spare when there is
/// none); `false`, the segment still the caller's, when the pool is full.
fn give_pooled(ptr: NonNull<u8>) -> bool {
    let spare = SPARE.compare_exchange(
        std::ptr::null_mut(),
        ptr.as_ptr(),
        Ordering::Release,
        Ordering::Relaxed,
    );
    if spare.is_ok() {
        return true;
    }
    let mut pool = pool();
    if pool.len() < POOL_MAX {
        pool.push(Pooled(ptr));
        return true;
    }
    false
}

fn words_layout(words: u32) -> std::alloc::Layout {
    match std::alloc::Layout::array::<u64>(words as usize) {
        Ok(layout) => layout,
        // Over isize::MAX bytes: only on 32-bit targets; as capnp's allocator, give up.
        Err(_) => std::alloc::handle_alloc_error(std::alloc::Layout::new::<u64>()),
    }
}

impl Heap {
    pub(crate) fn new(first_words: u32) -> Self {
        Heap {
            next_size: first_words.max(1),
        }
    }

    fn allocate(&mut self, minimum_size: u32) -> (NonNull<u8>, u32) {
        let size = minimum_size.max(self.next_size);
        let pooled = if size == POOLED_WORDS {
            take_pooled()
        } else {
            None
        };
        let ptr = match pooled {
            Some(ptr) => {
                // SAFETY: a pooled segment is `POOLED_WORDS` words owned by the pool, now ours.
                #[cfg(debug_assertions)]
                let words =
                    unsafe { std::slice::from_raw_parts(ptr.as_ptr(), POOLED_WORDS as usize * 8) };
                #[cfg(debug_assertions)]
                assert!(words.iter().all(|&b| b == 0), "pooled segment not zero");
                ptr
            }
            None => {
                let layout = words_layout(size);
                // SAFETY: `layout` has a non-zero size (`size >= next_size >= 1`).
                let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
                match NonNull::new(ptr) {
                    Some(ptr) => ptr,
                    None => std::alloc::handle_alloc_error(layout),
                }
            }
        };
        // capnp's `AllocationStrategy::GrowHeuristically`.
        if size < MAX_SEGMENT_WORDS - self.next_size {
            self.next_size += size;
        } else {
            self.next_size = MAX_SEGMENT_WORDS;
        }
        (ptr, size)
    }

    /// # Safety
    /// As `Allocator::deallocate_segment`: `ptr` and `word_size` from `allocate`, once; capnp
    /// wrote nothing past `words_used`.
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, word_size: u32, words_used: u32) {
        if word_size == POOLED_WORDS {
            let used = words_used.min(word_size) as usize * 8;
            // SAFETY: the segment is `word_size` words, no longer used by its message (capnp
            // deallocates only when the arena drops); zeroing its used words leaves it all
            // zero, as capnp wrote nothing past them (its arena hands out words in order and
            // writes only words it handed out; the builder-location writes of arena.rs stay
            // inside sections capnp handed out; Data views cannot outlive the message).
            unsafe { ptr.as_ptr().write_bytes(0, used) };
            if give_pooled(ptr) {
                return;
            }
        }
        // SAFETY: allocated by `allocate` with this layout (pooled segments too: they came
        // from `alloc_zeroed` with `words_layout(POOLED_WORDS)`).
        unsafe { std::alloc::dealloc(ptr.as_ptr(), words_layout(word_size)) }
    }
}

/// The allocator of every `MessageBuilder`: the heap, or a supplier.
pub(crate) enum SegmentAlloc {
    Heap(Heap),
    External {
        supplier: Box<dyn SegmentSupplier>,
        first_words: u32,
        fallback: HeapAllocator,
        state: SharedState,
    },
}

impl SegmentAlloc {
    /// Whether this is the heap with one segment handed out, of `POOLED_WORDS` words, first:
    /// the state a new message's allocator is in once its first segment exists (a message
    /// whose only segment is that one can be emptied and reused as a new message).
    pub(crate) fn is_heap_after_pooled_first(&self) -> bool {
        matches!(self, SegmentAlloc::Heap(h) if h.next_size == 2 * POOLED_WORDS)
    }
}

// SAFETY: each arm upholds `Allocator`'s contract: the heap arm is capnp's own allocator's code
// (zeroed, 8-byte aligned segments of at least the minimum size from the global allocator),
// with pooled segments that are all zero again before they are handed out (`Heap`); the
// external arm hands out regions that `SegmentSupplier`'s contract makes valid, aligned,
// zeroed and in place until the supplier drops (after the arena that uses them), or heap
// segments from capnp's allocator when the supplier fails; deallocation goes back to the
// allocator that made the segment (supplied regions are released with the supplier).
unsafe impl Allocator for SegmentAlloc {
    fn allocate_segment(&mut self, minimum_size: u32) -> (NonNull<u8>, u32) {
        match self {
            SegmentAlloc::Heap(h) => h.allocate(minimum_size),
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
            SegmentAlloc::Heap(h) => unsafe { h.deallocate(ptr, word_size, words_used) },
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
