//! A reader's segments kept with their first segment recorded as an address and a length,
//! so reads through resolved locations (coords.rs) reach its bytes without the segment
//! table and the buffer's `dyn AsRef` (~60 instructions of a list subscript). Audited unsafe
//! code; the argument is in docs/ARCHITECTURE.md ("Unsafe code", "First segments").

#![allow(unsafe_code)]

use std::ptr::NonNull;

use capnp::message::ReaderSegments;

use crate::message::Segments;

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
