//! Resolved locations of structs and lists in a reader's own bytes. A handle finds its object
//! once through capnp's validated walk and records where it is (segment, byte offset); later
//! reads of primitive fields and elements, struct list elements, and Text/Data behind ordinary
//! near pointers (or, for struct fields, one far hop to a landing pad that is such a pointer)
//! index those bytes directly instead of re-walking the path from the root.
//!
//! Everything here is a bounds-checked slice access. Anything unusual (other far pointers, null
//! pointers with defaults, malformed pointers, structs outside the message's segments) makes
//! the fast path decline (`None`) and the caller takes capnp's path, which reports errors.

use capnp::message::ReaderSegments;
use capnp::private::layout::{ElementSize, StructReader};

use crate::raw::{RawListReader, RawStructReader};

/// Where a struct's sections are in one segment of a reader's message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StructAt {
    seg: u32,
    /// Byte offset and length of the data section; the pointer section follows it
    /// (`ptr_start`).
    data_start: usize,
    data_len: usize,
    /// The pointer section's pointer count.
    ptr_count: u16,
    /// capnp's nesting limit left at this struct (0 when unknown: no fast pointer follows).
    nesting: i32,
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
    /// The struct at byte `start` of segment `seg`, of `data_len` bytes of data and
    /// `ptr_count` pointers, with `nesting` levels of capnp's limit left.
    pub(crate) fn at(
        seg: u32,
        start: usize,
        data_len: usize,
        ptr_count: u16,
        nesting: i32,
    ) -> StructAt {
        StructAt {
            seg,
            data_start: start,
            data_len,
            ptr_count,
            nesting,
        }
    }

    /// The location of `s`, when its sections lie in `segments` (not in a default value).
    pub(crate) fn locate(
        segments: &impl ReaderSegments,
        s: StructReader<'_>,
        nesting: i32,
    ) -> Option<StructAt> {
        let data = capnp::raw::get_struct_data_section(RawStructReader(s));
        let ptrs = capnp::raw::get_struct_pointer_section(RawStructReader(s));
        let ptr_count = u16::try_from(ptrs.len()).ok()?;
        let ptr_bytes = capnp::raw::get_list_bytes(ptrs);
        let (seg, data_start) = if data.is_empty() {
            (None, None)
        } else {
            let (seg, at) = find(segments, data)?;
            (Some(seg), Some(at))
        };
        let (seg, ptr_start) = if ptr_bytes.is_empty() {
            (seg, None)
        } else {
            let (pseg, at) = find(segments, ptr_bytes)?;
            if seg.is_some_and(|s| s != pseg) {
                return None;
            }
            (Some(pseg), Some(at))
        };
        // The pointer section follows the data section (as in every struct capnp reads); an
        // empty section starts where the other one does.
        let data_start = match (data_start, ptr_start) {
            (Some(d), Some(p)) if d.checked_add(data.len()) == Some(p) => d,
            (Some(_), Some(_)) => return None,
            (Some(d), None) => d,
            (None, Some(p)) => p,
            (None, None) => 0,
        };
        Some(StructAt {
            seg: seg.unwrap_or(0),
            data_start,
            data_len: data.len(),
            ptr_count: if ptr_bytes.is_empty() { 0 } else { ptr_count },
            nesting,
        })
    }

    /// The root struct of a message whose first segment is `seg`, when the root pointer is a
    /// near struct pointer capnp would follow without complaint (see `follow_struct`), with
    /// the nesting limit `nesting_limit` of the message: what capnp's `get_root` and
    /// `get_struct` then `locate` find, without making capnp's reader.
    pub(crate) fn root(seg: &[u8], nesting_limit: i32) -> Option<StructAt> {
        follow_struct(seg, 0, 0, nesting_limit)
    }

    pub(crate) fn segment(self) -> u32 {
        self.seg
    }

    /// The data section's length in bytes.
    #[inline(always)]
    pub(crate) fn data_len(self) -> usize {
        self.data_len
    }

    /// The pointer section's byte offset: right after the data section.
    #[inline(always)]
    fn ptr_start(self) -> usize {
        self.data_start + self.data_len
    }

    /// The data section's byte offset and length and the pointer section's byte offset and
    /// slot count, in segment `segment()`.
    pub(crate) fn sections(self) -> (usize, usize, usize, u16) {
        (
            self.data_start,
            self.data_len,
            self.ptr_start(),
            self.ptr_count,
        )
    }

    /// Byte position of non-null-capable pointer `index` (`None` beyond the section).
    fn ptr_pos(self, index: u16) -> Option<usize> {
        (index < self.ptr_count).then(|| self.ptr_start() + 8 * usize::from(index))
    }

    /// The struct behind pointer `index` (see `follow_struct`), also through a single far
    /// pointer (see `through_far`; `other(id)` gives segment `id`'s bytes).
    pub(crate) fn child_struct<'a>(
        self,
        seg: &'a [u8],
        index: u16,
        other: impl FnOnce(u32) -> Option<&'a [u8]>,
    ) -> Option<StructAt> {
        let (seg, seg_id, pos) = through_far(seg, self.seg, self.ptr_pos(index)?, other)?;
        follow_struct(seg, seg_id, pos, self.nesting)
    }

    /// The list behind pointer `index` (see `follow_list`), also through a single far
    /// pointer (see `through_far`). A large list is what lands in a segment of its own: a
    /// builder's list that did not fit the first segment is reached only this way.
    pub(crate) fn child_list<'a>(
        self,
        seg: &'a [u8],
        index: u16,
        expected: ElementSize,
        other: impl FnOnce(u32) -> Option<&'a [u8]>,
    ) -> Option<ListAt> {
        let (seg, seg_id, pos) = through_far(seg, self.seg, self.ptr_pos(index)?, other)?;
        follow_list(seg, seg_id, pos, expected, self.nesting)
    }

    /// A data-section value of `bits` width at `offset` (in units of that width), zero when
    /// it lies beyond the data section (a struct written by an older schema).
    #[inline(always)]
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
        bytes_at(seg, self.data_start + start, width).unwrap_or(0)
    }

    /// The data section's bytes in `seg`, the struct's segment (`None` when they do not lie in
    /// it). [`PrimSlot::bits_in`](crate::struct_::PrimSlot) reads them as `bits` reads `seg`.
    #[inline]
    pub(crate) fn data_section(self, seg: &[u8]) -> Option<&[u8]> {
        seg.get(self.data_start..self.data_start.checked_add(self.data_len)?)
    }

    /// The raw pointer word `index` (0 when beyond the pointer section, like a null pointer).
    pub(crate) fn pointer(self, seg: &[u8], index: u16) -> Option<u64> {
        if index >= self.ptr_count {
            return Some(0);
        }
        word_at(seg, self.ptr_start() + 8 * usize::from(index))
    }

    /// The bytes of a Text (without its NUL) or Data blob behind pointer `index` (see `blob`),
    /// also through a single far pointer (the blob in another segment, reached through a
    /// landing pad there that is a near pointer to it: what a builder writes when the blob
    /// did not fit the struct's segment); `other(id)` gives segment `id`'s bytes. A double far
    /// pointer declines.
    pub(crate) fn blob<'a>(
        self,
        seg: &'a [u8],
        index: u16,
        text: bool,
        other: impl FnOnce(u32) -> Option<&'a [u8]>,
    ) -> Option<&'a [u8]> {
        if index >= self.ptr_count {
            return None;
        }
        let pos = self.ptr_start() + 8 * usize::from(index);
        let (seg, _, pos) = through_far(seg, self.seg, pos, other)?;
        blob(seg, pos, text)
    }
}

/// Where the pointer at byte `pos` of segment `seg_id` (`seg`) leads from: itself when it is
/// not a far pointer; the landing pad when it is a single far pointer (kind 2, bit 2 clear:
/// the upper half names the pad's segment, bits 3-31 its word offset there), as capnp's
/// `follow_fars` takes it, the pad then read as the pointer (in bounds: the callers' reads of
/// it are checked). A double far pointer (two hops and a tag) is `None`: capnp's walk.
fn through_far<'a>(
    seg: &'a [u8],
    seg_id: u32,
    pos: usize,
    other: impl FnOnce(u32) -> Option<&'a [u8]>,
) -> Option<(&'a [u8], u32, usize)> {
    let w = word_at(seg, pos)?;
    if w & 3 != 2 {
        return Some((seg, seg_id, pos));
    }
    if w & 4 != 0 {
        return None;
    }
    let pad_id = u32::try_from(w >> 32).ok()?;
    let pad_seg = other(pad_id)?;
    let pad_pos = usize::try_from((w as u32) >> 3).ok()?.checked_mul(8)?;
    Some((pad_seg, pad_id, pad_pos))
}

/// The bytes of a Text (without its NUL) or Data blob behind the pointer at byte `ptr_pos`,
/// when it is a non-null near pointer to a byte list inside the segment; `None` otherwise.
fn blob(seg: &[u8], ptr_pos: usize, text: bool) -> Option<&[u8]> {
    let w = word_at(seg, ptr_pos)?;
    // Kind 1 (list) with element size 2 (byte).
    if w & 3 != 1 || (w >> 32) & 7 != 2 {
        return None;
    }
    let count = usize::try_from(w >> 35).ok()?;
    let offset_words = i64::from((w as u32 as i32) >> 2);
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

/// Little-endian bits of `width` bytes at byte `pos`. One fixed-size load per width: a
/// copy of `width` bytes into a buffer calls `memcpy`, most of an element read.
#[inline(always)]
fn bytes_at(seg: &[u8], pos: usize, width: usize) -> Option<u64> {
    let end = pos.checked_add(width)?;
    let bytes = seg.get(pos..end)?;
    Some(match width {
        1 => u64::from(*bytes.first()?),
        2 => u64::from(u16::from_le_bytes(bytes.try_into().ok()?)),
        4 => u64::from(u32::from_le_bytes(bytes.try_into().ok()?)),
        8 => u64::from_le_bytes(bytes.try_into().ok()?),
        _ => {
            let mut buf = [0u8; 8];
            buf.get_mut(..width)?.copy_from_slice(bytes);
            u64::from_le_bytes(buf)
        }
    })
}

/// Raw bits of element `i` of a primitive list whose elements are `bits` wide, from `bytes`
/// (the list's element bytes, `ListAt::prim_bytes`); 0 past their end.
pub(crate) fn prim_element(bytes: &[u8], bits: u32, i: u32) -> u64 {
    let i = i as usize;
    if bits == 1 {
        return bytes
            .get(i / 8)
            .map_or(0, |b| u64::from((b >> (i % 8)) & 1));
    }
    let width = (bits / 8) as usize;
    i.checked_mul(width)
        .and_then(|pos| bytes_at(bytes, pos, width))
        .unwrap_or(0)
}

/// The encoding of a primitive list whose elements are `bits` wide.
fn prim_size(bits: u32) -> Option<ElementSize> {
    Some(match bits {
        1 => ElementSize::Bit,
        8 => ElementSize::Byte,
        16 => ElementSize::TwoBytes,
        32 => ElementSize::FourBytes,
        64 => ElementSize::EightBytes,
        _ => return None,
    })
}

/// Where a list's elements are in one segment of a reader's message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListAt {
    seg: u32,
    /// Byte offset of the first element (after the tag word of a struct list).
    start: usize,
    len: u32,
    size: ElementSize,
    /// Bits from one element to the next.
    step: u32,
    /// Struct lists: each element's data bytes and pointer count (from the tag word).
    struct_data: usize,
    struct_ptrs: u16,
    /// capnp's nesting limit left at this list (0 when unknown).
    nesting: i32,
}

impl ListAt {
    /// The location of `l` (any of capnp's list readers), when it lies in `segments`.
    pub(crate) fn locate<'a>(
        segments: &impl ReaderSegments,
        l: impl capnp::traits::IntoInternalListReader<'a>,
        nesting: i32,
    ) -> Option<ListAt> {
        let l = l.into_internal_list_reader();
        let len = l.len();
        let size = capnp::raw::get_list_element_size(RawListReader(l));
        let step = capnp::raw::get_list_step_size_in_bits(RawListReader(l));
        let bytes = capnp::raw::get_list_bytes(RawListReader(l));
        let (seg, start) = if bytes.is_empty() {
            if len != 0 && step != 0 {
                return None;
            }
            (0, 0)
        } else {
            find(segments, bytes)?
        };
        let (struct_data, struct_ptrs) = if size == ElementSize::InlineComposite {
            if bytes.is_empty() {
                (0, 0)
            } else {
                let tag = word_at(segments.get_segment(seg)?, start.checked_sub(8)?)?;
                let data = ((tag >> 32) & 0xffff) as usize * 8;
                let ptrs = (tag >> 48) as u16;
                if (data as u64 + u64::from(ptrs) * 8) * 8 != u64::from(step) {
                    return None;
                }
                (data, ptrs)
            }
        } else {
            (0, 0)
        };
        Some(ListAt {
            seg,
            start,
            len,
            size,
            step,
            struct_data,
            struct_ptrs,
            nesting,
        })
    }

    pub(crate) fn segment(self) -> u32 {
        self.seg
    }

    pub(crate) fn len(self) -> u32 {
        self.len
    }

    /// Element `i` (`i < len`) of a struct list.
    pub(crate) fn struct_at(self, i: u32) -> Option<StructAt> {
        if self.size != ElementSize::InlineComposite || i >= self.len {
            return None;
        }
        let data_start = self.start + (u64::from(i) * u64::from(self.step) / 8) as usize;
        Some(StructAt {
            seg: self.seg,
            data_start,
            data_len: self.struct_data,
            ptr_count: self.struct_ptrs,
            nesting: self.nesting - 1,
        })
    }

    /// Raw bits of primitive element `i` of `bits` width, when the list's encoding is exactly
    /// that width (anything else, e.g. an upgraded struct list, takes capnp's path).
    pub(crate) fn bits(self, seg: &[u8], bits: u32, i: u32) -> Option<u64> {
        if i >= self.len || self.step != bits || Some(self.size) != prim_size(bits) {
            return None;
        }
        if bits == 1 {
            let byte = *seg.get(self.start + i as usize / 8)?;
            return Some(u64::from((byte >> (i % 8)) & 1));
        }
        let width = (bits / 8) as usize;
        bytes_at(seg, self.start + i as usize * width, width)
    }

    /// Where the element bytes of a primitive list of `bits`-wide elements are in its
    /// segment (a whole byte for the last bits of a Bool list; not checked against the
    /// segment), when the list's encoding is exactly that width, as `bits` requires.
    pub(crate) fn prim_range(self, bits: u32) -> Option<(usize, usize)> {
        if self.step != bits || Some(self.size) != prim_size(bits) {
            return None;
        }
        let len = (u64::from(self.len) * u64::from(bits)).div_ceil(8);
        let end = self.start.checked_add(usize::try_from(len).ok()?)?;
        Some((self.start, end))
    }

    /// The list behind pointer element `i` of a list of lists (see `follow_list`).
    pub(crate) fn child_list(self, seg: &[u8], i: u32, expected: ElementSize) -> Option<ListAt> {
        if self.size != ElementSize::Pointer || i >= self.len {
            return None;
        }
        follow_list(
            seg,
            self.seg,
            self.start + 8 * i as usize,
            expected,
            self.nesting,
        )
    }

    /// Text or Data element `i` of a pointer list (see `blob`).
    pub(crate) fn blob(self, seg: &[u8], i: u32, text: bool) -> Option<&[u8]> {
        if self.size != ElementSize::Pointer || i >= self.len {
            return None;
        }
        blob(seg, self.start + 8 * i as usize, text)
    }
}

/// The target byte offset of the near pointer `w` at `ptr_pos`, if it is inside the segment.
fn target(seg: &[u8], ptr_pos: usize, w: u64) -> Option<usize> {
    let offset_words = i64::from((w as u32 as i32) >> 2);
    let start = usize::try_from(i64::try_from(ptr_pos).ok()? + 8 + offset_words * 8).ok()?;
    (start <= seg.len()).then_some(start)
}

/// The struct behind the pointer at `ptr_pos` when it is a non-null near struct pointer
/// whose content lies in the segment and the nesting limit allows following it (capnp's
/// `read_struct_pointer` accepts exactly these); `None` for anything else.
fn follow_struct(seg: &[u8], seg_id: u32, ptr_pos: usize, nesting: i32) -> Option<StructAt> {
    if nesting <= 0 {
        return None;
    }
    let w = word_at(seg, ptr_pos)?;
    if w == 0 || w & 3 != 0 {
        return None;
    }
    let start = target(seg, ptr_pos, w)?;
    let data_len = ((w >> 32) & 0xffff) as usize * 8;
    let ptr_count = (w >> 48) as u16;
    let end = start + data_len + usize::from(ptr_count) * 8;
    if end > seg.len() {
        return None;
    }
    Some(StructAt {
        seg: seg_id,
        data_start: start,
        data_len,
        ptr_count,
        nesting: nesting - 1,
    })
}

fn element_bits(size: ElementSize) -> u32 {
    match size {
        ElementSize::Void => 0,
        ElementSize::Bit => 1,
        ElementSize::Byte => 8,
        ElementSize::TwoBytes => 16,
        ElementSize::FourBytes => 32,
        ElementSize::EightBytes | ElementSize::Pointer => 64,
        ElementSize::InlineComposite => 0,
    }
}

/// The list behind the pointer at `ptr_pos` when it is a non-null near list pointer encoded
/// exactly as `expected` (`InlineComposite` for struct lists) with its content in the
/// segment; `None` for anything else, including the compatible-but-different encodings
/// capnp converts (those take its path).
fn follow_list(
    seg: &[u8],
    seg_id: u32,
    ptr_pos: usize,
    expected: ElementSize,
    nesting: i32,
) -> Option<ListAt> {
    if nesting <= 0 {
        return None;
    }
    let w = word_at(seg, ptr_pos)?;
    if w == 0 || w & 3 != 1 {
        return None;
    }
    let start = target(seg, ptr_pos, w)?;
    let code = (w >> 32) & 7;
    let count = (w >> 35) as u32;
    if expected == ElementSize::InlineComposite {
        if code != 7 {
            return None;
        }
        let words = count as usize;
        if start + (words + 1) * 8 > seg.len() {
            return None;
        }
        let tag = word_at(seg, start)?;
        if tag & 3 != 0 {
            return None;
        }
        let len = (tag as u32) >> 2;
        let data_words = (tag >> 32) & 0xffff;
        let ptrs = (tag >> 48) as u16;
        let per = data_words + u64::from(ptrs);
        if u64::from(len) * per > words as u64 {
            return None;
        }
        return Some(ListAt {
            seg: seg_id,
            start: start + 8,
            len,
            size: ElementSize::InlineComposite,
            step: (per * 64) as u32,
            struct_data: data_words as usize * 8,
            struct_ptrs: ptrs,
            nesting: nesting - 1,
        });
    }
    let size = match code {
        0 => ElementSize::Void,
        1 => ElementSize::Bit,
        2 => ElementSize::Byte,
        3 => ElementSize::TwoBytes,
        4 => ElementSize::FourBytes,
        5 => ElementSize::EightBytes,
        6 => ElementSize::Pointer,
        _ => return None,
    };
    if size != expected {
        return None;
    }
    let step = element_bits(size);
    let words = (u64::from(count) * u64::from(step)).div_ceil(64);
    if start as u64 + words * 8 > seg.len() as u64 {
        return None;
    }
    Some(ListAt {
        seg: seg_id,
        start,
        len: count,
        size,
        step,
        struct_data: 0,
        struct_ptrs: 0,
        nesting: nesting - 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `StructAt::root` against capnp's own reading of the root (`get_root`, `get_struct`,
    /// then `locate`): on every root pointer it accepts, capnp accepts it too and finds the
    /// struct at the same place; tried on random root words (near struct pointers of every
    /// offset sign and size, in and out of the segment, other kinds) and nesting limits.
    #[test]
    fn root_is_where_capnp_finds_it() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for case in 0..20_000 {
            let seg_words = 1 + next() % 12;
            let mut ws: Vec<u64> = (0..seg_words).map(|_| next()).collect();
            let offset = (next() % 16) as i64 - 3;
            let data = next() % 6;
            let ptrs = next() % 6;
            ws[0] = match case % 4 {
                0 => next(),
                _ => (ptrs << 48) | (data << 32) | (((offset as u64) & 0x3fff_ffff) << 2),
            };
            let nesting = (next() % 3) as i32;
            let seg = words(&ws);
            let Some(at) = StructAt::root(&seg, nesting) else {
                continue;
            };
            accepted += 1;
            let segments: &[&[u8]] = &[&seg];
            let mut options = capnp::message::ReaderOptions::new();
            options.nesting_limit(nesting);
            options.traversal_limit_in_words(None);
            let message = capnp::message::Reader::new(segments, options);
            let root = message
                .get_root::<crate::raw::RawPtr<'_>>()
                .expect("root pointer")
                .0;
            let s = root
                .get_struct(None)
                .expect("capnp accepts what root accepts");
            let theirs = StructAt::locate(&segments, s, nesting - 1).expect("located");
            assert_eq!(
                (at.seg, at.data_len, at.ptr_count, at.nesting),
                (
                    theirs.seg,
                    theirs.data_len,
                    theirs.ptr_count,
                    theirs.nesting
                ),
                "case {case}: {:#x}",
                ws[0]
            );
            // (An empty section's start is never read; `locate` says 0 for it.)
            if at.data_len > 0 {
                assert_eq!(at.data_start, theirs.data_start, "case {case}");
            }
            if at.ptr_count > 0 {
                assert_eq!(at.ptr_start(), theirs.ptr_start(), "case {case}");
            }
        }
        assert!(accepted > 1000, "too few roots accepted: {accepted}");
    }

    /// A struct of no data and one pointer at the start of segment 0.
    fn one_pointer_struct() -> StructAt {
        StructAt {
            seg: 0,
            data_start: 0,
            data_len: 0,
            ptr_count: 1,
            nesting: 64,
        }
    }

    fn words(ws: &[u64]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// A near list pointer at word `at` to `count` bytes starting at word `target`.
    fn byte_list(at: u64, target: u64, count: u64) -> u64 {
        let offset = (target as i64 - at as i64 - 1) as u64 & 0x3fff_ffff;
        (count << 35) | (2 << 32) | (offset << 2) | 1
    }

    /// A single far pointer to the landing pad at word `pad` of segment `seg`.
    fn far(seg: u64, pad: u64, double: bool) -> u64 {
        (seg << 32) | (pad << 3) | (u64::from(double) << 2) | 2
    }

    /// Segment 1 of the tests: a junk word, the landing pad at word 1, "hi\0" at word 2.
    fn pad_segment() -> Vec<u8> {
        words(&[
            u64::MAX,
            byte_list(1, 2, 3),
            u64::from_le_bytes(*b"hi\0\0\0\0\0\0"),
        ])
    }

    #[test]
    fn text_behind_a_single_far_pointer() {
        let s = one_pointer_struct();
        let seg1 = pad_segment();
        let seg0 = words(&[far(1, 1, false)]);
        let got = s.blob(&seg0, 0, true, |id| (id == 1).then_some(&seg1[..]));
        assert_eq!(got, Some(&b"hi"[..]));
        // Data keeps the NUL byte as a byte.
        let got = s.blob(&seg0, 0, false, |id| (id == 1).then_some(&seg1[..]));
        assert_eq!(got, Some(&b"hi\0"[..]));
    }

    /// A list and a struct each behind a single far pointer are found where the landing
    /// pad's near pointer says, in the pad's segment, with one nesting level used; a double
    /// far pointer, a missing segment and a pad out of bounds decline.
    #[test]
    fn lists_and_structs_behind_a_single_far_pointer() {
        let s = one_pointer_struct();
        // Segment 1: junk, a pad at word 1 to a 2-element Int32 list at word 3, junk, the
        // list's word, a pad at word 4 to a struct of one data word and no pointers at 5.
        let int_list = (2u64 << 35) | (4 << 32) | (1 << 2) | 1;
        let struct_ptr = 1u64 << 32;
        let seg1 = words(&[
            u64::MAX,
            int_list,
            u64::MAX,
            0x0000_0002_0000_0001,
            struct_ptr,
            7,
        ]);
        let other = |id: u32| (id == 1).then_some(&seg1[..]);
        let seg0 = words(&[far(1, 1, false)]);
        let list = s
            .child_list(&seg0, 0, ElementSize::FourBytes, other)
            .expect("a list behind a far pointer");
        assert_eq!((list.segment(), list.len(), list.start), (1, 2, 24));
        assert_eq!(list.bits(&seg1, 32, 1), Some(2));
        assert_eq!(list.nesting, 63);
        // The same pad read as another encoding declines (capnp's path converts or fails).
        assert!(s.child_list(&seg0, 0, ElementSize::Byte, other).is_none());
        let seg0 = words(&[far(1, 4, false)]);
        let child = s
            .child_struct(&seg0, 0, other)
            .expect("a struct behind a far pointer");
        assert_eq!(
            (child.segment(), child.data_start, child.data_len),
            (1, 40, 8)
        );
        assert_eq!(child.bits(&seg1, 64, 0), 7);
        for ptr in [far(1, 1, true), far(7, 1, false), far(1, 9, false)] {
            let seg0 = words(&[ptr]);
            let other = |id: u32| (id == 1).then_some(&seg1[..]);
            assert!(s
                .child_list(&seg0, 0, ElementSize::FourBytes, other)
                .is_none());
            assert!(s.child_struct(&seg0, 0, other).is_none());
        }
    }

    #[test]
    fn unusual_far_pointers_decline() {
        let s = one_pointer_struct();
        let seg1 = pad_segment();
        // Two hops: capnp's walk handles them. Then a segment the message does not have, a
        // pad past the segment's end, a pad that is not a byte list (the junk word).
        for ptr in [
            far(1, 1, true),
            far(7, 1, false),
            far(1, 9, false),
            far(1, 0, false),
        ] {
            let seg0 = words(&[ptr]);
            let other = |id: u32| (id == 1).then_some(&seg1[..]);
            assert_eq!(s.blob(&seg0, 0, true, other), None, "{ptr:#x}");
        }
        // A pad whose blob would run past the segment.
        let short = words(&[byte_list(0, 1, 64)]);
        let seg0 = words(&[far(1, 0, false)]);
        assert_eq!(s.blob(&seg0, 0, true, |_| Some(&short[..])), None);
    }
}
