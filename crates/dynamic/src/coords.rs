//! Resolved locations of structs in a reader's own bytes. A struct handle finds its struct
//! once through capnp's validated walk and records where its data and pointer sections are
//! (segment, byte offset); later reads of primitive fields, and of Text/Data behind ordinary
//! near pointers, index those bytes directly instead of re-walking the path from the root.
//!
//! Everything here is a bounds-checked slice access. Anything unusual (far pointers, null
//! pointers with defaults, malformed pointers, structs outside the message's segments) makes
//! the fast path decline (`None`) and the caller takes capnp's path, which reports errors.

use capnp::message::ReaderSegments;
use capnp::private::layout::StructReader;

use crate::raw::RawStructReader;

/// Where a struct's sections are in one segment of a reader's message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StructAt {
    seg: u32,
    /// Byte offset and length of the data section.
    data_start: usize,
    data_len: usize,
    /// Byte offset of the pointer section and its pointer count.
    ptr_start: usize,
    ptr_count: u16,
}

/// The segment index and byte offset of `bytes` inside `segments`, if it lies in one.
fn find(segments: &impl ReaderSegments, bytes: &[u8]) -> Option<(u32, usize)> {
    let addr = bytes.as_ptr() as usize;
    for idx in 0..u32::try_from(segments.len()).ok()? {
        let seg = segments.get_segment(idx)?;
        let base = seg.as_ptr() as usize;
        if addr >= base && addr + bytes.len() <= base + seg.len() {
            return Some((idx, addr - base));
        }
    }
    None
}

fn word_at(seg: &[u8], pos: usize) -> Option<u64> {
    let bytes: [u8; 8] = seg.get(pos..pos.checked_add(8)?)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

impl StructAt {
    /// The location of `s`, when its sections lie in `segments` (not in a default value).
    pub(crate) fn locate(segments: &impl ReaderSegments, s: StructReader<'_>) -> Option<StructAt> {
        let data = capnp::raw::get_struct_data_section(RawStructReader(s));
        let ptrs = capnp::raw::get_struct_pointer_section(RawStructReader(s));
        let ptr_count = u16::try_from(ptrs.len()).ok()?;
        let ptr_bytes = capnp::raw::get_list_bytes(ptrs);
        let (seg, data_start) = if data.is_empty() {
            (None, 0)
        } else {
            let (seg, at) = find(segments, data)?;
            (Some(seg), at)
        };
        let (seg, ptr_start) = if ptr_bytes.is_empty() {
            (seg, 0)
        } else {
            let (pseg, at) = find(segments, ptr_bytes)?;
            if seg.is_some_and(|s| s != pseg) {
                return None;
            }
            (Some(pseg), at)
        };
        Some(StructAt {
            seg: seg.unwrap_or(0),
            data_start,
            data_len: data.len(),
            ptr_start,
            ptr_count: if ptr_bytes.is_empty() { 0 } else { ptr_count },
        })
    }

    pub(crate) fn segment(self) -> u32 {
        self.seg
    }

    /// A data-section value of `bits` width at `offset` (in units of that width), zero when
    /// it lies beyond the data section (a struct written by an older schema).
    pub(crate) fn bits(self, seg: &[u8], bits: u32, offset: u32) -> u64 {
        let offset = offset as usize;
        if bits == 1 {
            let byte = offset / 8;
            if byte >= self.data_len {
                return 0;
            }
            return seg
                .get(self.data_start + byte)
                .map_or(0, |b| u64::from((b >> (offset % 8)) & 1));
        }
        let width = (bits / 8) as usize;
        if width == 0 {
            return 0;
        }
        let start = offset * width;
        if start + width > self.data_len {
            return 0;
        }
        let Some(bytes) = seg.get(self.data_start + start..self.data_start + start + width) else {
            return 0;
        };
        let mut buf = [0u8; 8];
        buf[..width].copy_from_slice(bytes);
        u64::from_le_bytes(buf)
    }

    /// The raw pointer word `index` (0 when beyond the pointer section, like a null pointer).
    pub(crate) fn pointer(self, seg: &[u8], index: u16) -> Option<u64> {
        if index >= self.ptr_count {
            return Some(0);
        }
        word_at(seg, self.ptr_start + 8 * usize::from(index))
    }

    /// The bytes of a Text (without its NUL) or Data blob behind pointer `index`, when it is
    /// a non-null near pointer to a byte list inside the segment; `None` otherwise.
    pub(crate) fn blob(self, seg: &[u8], index: u16, text: bool) -> Option<&[u8]> {
        let w = self.pointer(seg, index)?;
        // Kind 1 (list) with element size 2 (byte).
        if w & 3 != 1 || (w >> 32) & 7 != 2 {
            return None;
        }
        let count = usize::try_from(w >> 35).ok()?;
        let offset_words = i64::from((w as u32 as i32) >> 2);
        let ptr_pos = self.ptr_start + 8 * usize::from(index);
        let start = i64::try_from(ptr_pos).ok()? + 8 + offset_words * 8;
        let start = usize::try_from(start).ok()?;
        // capnp bounds-checks whole words.
        let end_words = start.checked_add(count.div_ceil(8) * 8)?;
        if end_words > seg.len() {
            return None;
        }
        let bytes = seg.get(start..start + count)?;
        if text {
            match bytes.split_last() {
                Some((0, body)) => Some(body),
                _ => None,
            }
        } else {
            Some(bytes)
        }
    }
}
