//! A reader's segments kept with their first segment recorded as an address and a length,
//! so reads through resolved locations (coords.rs) reach its bytes without the segment
//! table and the buffer's `dyn AsRef` (~60 instructions of a list subscript), and a struct
//! reader kept with where its data section is (`LocatedReader`). Audited unsafe
//! code; the argument is in docs/ARCHITECTURE.md ("Unsafe code", "First segments").

#![allow(unsafe_code)]

use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use capnp::message::ReaderSegments;

use crate::message::Segments;
use crate::schema::StructSchema;
use crate::struct_::{PrimSlot, StructReader};

/// A reader's segments, never mutated or replaced once kept (no `&mut` access: only
/// `Deref`), and where segment 0's bytes are.
pub(crate) struct KeptSegments {
    segments: Segments,
    first: Option<FirstSegment>,
}

/// Segment 0's bytes, borrowed without a lifetime from the segments beside it.
struct FirstSegment {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: it stands for a `&[u8]` (shared, read-only) into the segments it is kept with,
// which are `Send` and `Sync` themselves.
unsafe impl Send for FirstSegment {}
// SAFETY: as for `Send`.
unsafe impl Sync for FirstSegment {}

impl KeptSegments {
    pub(crate) fn new(segments: Segments) -> KeptSegments {
        // A releasable reader's segments have none (`Lent`: their bytes are reachable only
        // under its lock), and neither do others without a segment 0.
        let first = segments.get_segment(0).map(|bytes| FirstSegment {
            ptr: NonNull::from(bytes).cast(),
            len: bytes.len(),
        });
        KeptSegments { segments, first }
    }

    /// The bytes of segment 0 when `idx` is 0 and they are kept in place, else `None`
    /// (`segment` then answers): no call for the common case.
    #[inline(always)]
    pub(crate) fn first(&self, idx: u32) -> Option<&[u8]> {
        match &self.first {
            Some(first) if idx == 0 => {
                // SAFETY: `ptr` and `len` came from `self.segments.get_segment(0)`, a slice of
                // heap memory the segments own (behind an `Arc` or in a `Vec`: `Bytes`,
                // capnp's `OwnedSegments`, `Unpacked`; a Python buffer, held exported, cannot
                // be resized or freed). The segments are never mutated or replaced (this type
                // gives no `&mut` access) and drop with `self`, so the memory is allocated and
                // in place while `&self` is borrowed; it is only read, as capnp reads it.
                Some(unsafe { std::slice::from_raw_parts(first.ptr.as_ptr(), first.len) })
            }
            _ => None,
        }
    }

    /// The bytes of segment `idx`, as `get_segment` gives them.
    #[inline]
    pub(crate) fn segment(&self, idx: u32) -> Option<&[u8]> {
        match self.first(idx) {
            Some(bytes) => Some(bytes),
            None => self.segments.get_segment(idx),
        }
    }
}

impl std::ops::Deref for KeptSegments {
    type Target = Segments;
    fn deref(&self) -> &Segments {
        &self.segments
    }
}

impl ReaderSegments for KeptSegments {
    fn get_segment(&self, idx: u32) -> Option<&[u8]> {
        self.segment(idx)
    }

    fn len(&self) -> usize {
        self.segments.len()
    }
}

/// A struct reader kept with where its data section is and its schema's address, so the
/// binding's attribute slot reads a primitive field with no walk through the handle's base,
/// backing and segment table (`prim_bits_quick`). The data section is looked for at the
/// first such read, not when the handle is made (most element handles are made and dropped
/// without one: looking cost ~35 instructions per handle). The reader is never mutated or
/// replaced once kept (no `&mut` access: only `Deref`).
pub struct LocatedReader {
    reader: StructReader,
    /// Where `reader.data_section()` starts (its length is `reader.data_len()`): `UNKNOWN`
    /// until looked for, `NONE` when there is none. One address, not a slice: the handle
    /// objects stay within the size whose moves are inlined (128 bytes; a `memcpy` call cost
    /// ~30 instructions per object made).
    data: AtomicUsize,
    schema: NonNull<StructSchema>,
}

/// [`LocatedReader::data`] before the first look.
const UNKNOWN: usize = 0;
/// [`LocatedReader::data`] of a reader without a data section in reach (no location, or
/// bytes reachable only under a lock). A slice's address is never 0; an empty one may be
/// the dangling address 1, and is then recorded as none (the full read answers for it).
const NONE: usize = 1;

// SAFETY: the addresses stand for a `&[u8]` and a `&StructSchema` borrowed from the reader
// beside them (shared, read-only), which is `Send` and `Sync` itself; `data` is an atomic,
// written only with the one value every thread computes (see `data`).
unsafe impl Send for LocatedReader {}
// SAFETY: as for `Send`.
unsafe impl Sync for LocatedReader {}

impl LocatedReader {
    #[inline]
    pub fn new(reader: StructReader) -> LocatedReader {
        let schema = NonNull::from(&**reader.schema());
        LocatedReader {
            reader,
            data: AtomicUsize::new(UNKNOWN),
            schema,
        }
    }

    /// The schema's address (`Arc::as_ptr` of the reader's schema), without the match over
    /// the handle's kinds of base.
    #[inline(always)]
    pub fn schema_addr(&self) -> *const StructSchema {
        self.schema.as_ptr().cast_const()
    }

    /// `StructReader::prim_bits_located`'s answer, from the kept data section (looked for
    /// at the first call): `None` only when the reader has none (no location, or bytes
    /// reachable only under a lock).
    #[inline(always)]
    pub fn prim_bits_quick(&self, slot: PrimSlot) -> Option<u64> {
        let mut data = self.data.load(Ordering::Relaxed);
        if data <= NONE {
            data = self.look()?;
        }
        // SAFETY: `data` is the address of `self.reader.data_section()`'s answer (`look`;
        // the length is `self.reader.data_len()`, from the same location, which never
        // changes): a slice of the segments of a reader-backed message (`fast` answers only
        // for those, and never for releasable ones, whose segments give no bytes outside
        // their lock), which the reader holds through its base's `Arc`. Those segments are
        // never mutated or replaced while held (`KeptSegments` above; their memory is a heap
        // buffer or an exported Python buffer), and `self.reader` is never changed nor dropped
        // before `self`, so the bytes are allocated and in place while `&self` is borrowed;
        // they are only read. Any thread that loads an address other than the two marks
        // loads one that a `look` on this reader computed and stored, and every `look`
        // computes the same one; the bytes it points to were written before the reader was
        // made (they are a reader's), so no ordering beyond the atomic's own is needed.
        let bytes =
            unsafe { std::slice::from_raw_parts(data as *const u8, self.reader.data_len()) };
        Some(slot.bits_in(bytes))
    }

    /// The data section's address, looked for and recorded (`None`, recorded as `NONE`, when
    /// there is none).
    #[cold]
    #[inline(never)]
    fn look(&self) -> Option<usize> {
        if self.data.load(Ordering::Relaxed) == NONE {
            return None;
        }
        let found = self
            .reader
            .data_section()
            .map(|bytes| bytes.as_ptr() as usize);
        // Never one of the marks: 0 is no slice's address, 1 at most an empty one's.
        let found = found.filter(|&addr| addr > NONE);
        self.data.store(found.unwrap_or(NONE), Ordering::Relaxed);
        found
    }
}

impl std::ops::Deref for LocatedReader {
    type Target = StructReader;
    #[inline(always)]
    fn deref(&self) -> &StructReader {
        &self.reader
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use capnp::message::ReaderSegments;

    use crate::message::{MessageReader, ReadLimits, Sharing};

    const LIMITS: ReadLimits = ReadLimits {
        traversal_limit_in_words: None,
        nesting_limit: None,
    };

    /// Every segment index gives the same bytes (address and length) through the recorded
    /// first segment as through the segments' own table.
    fn same_as_table(r: &MessageReader) {
        for idx in 0..4 {
            let recorded = r.segments.segment(idx).map(|s| (s.as_ptr(), s.len()));
            let table = (*r.segments)
                .get_segment(idx)
                .map(|s| (s.as_ptr(), s.len()));
            assert_eq!(recorded, table, "segment {idx}");
        }
        assert_eq!(ReaderSegments::len(&r.segments), (*r.segments).len());
    }

    fn bytes(words: &[u64]) -> Arc<dyn AsRef<[u8]> + Send + Sync> {
        Arc::new(
            words
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
    }

    #[test]
    fn the_recorded_first_segment_is_the_tables() {
        // One framed segment of one word (a null root), and two segments of one word each.
        let one = bytes(&[1 << 32, 0]);
        let two = bytes(&[1 | (1 << 32), 1, 0, 0]);
        for (buf, segments) in [(one, 1), (two, 2)] {
            let r = MessageReader::from_bytes(buf.clone(), LIMITS).expect("framed");
            assert_eq!((*r.segments).len(), segments);
            same_as_table(&r);
            let lent = Sharing {
                releasable: true,
                volatile: false,
            };
            let r = MessageReader::from_bytes_shared(buf, LIMITS, lent).expect("lent");
            // A releasable reader's bytes are reachable only under its lock: none recorded.
            assert!(r.segments.segment(0).is_none());
            same_as_table(&r);
            assert!(r.release());
            same_as_table(&r);
        }
        let r = MessageReader::from_segments(vec![bytes(&[0]), bytes(&[0, 0])], LIMITS)
            .expect("segments");
        same_as_table(&r);
        let packed = [0x10, 0x01, 0x00, 0x00];
        let r = MessageReader::from_bytes_packed(&packed, LIMITS).expect("packed");
        same_as_table(&r);
    }
}
