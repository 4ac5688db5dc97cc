//! The packed encoding read from a byte slice a word at a time (the encoding spec's
//! "Packing"). capnp's own `PackedRead` unpacks byte by byte through `BufRead` (about 80
//! instructions a word); this one loads the 8 bytes after the tag as one `u64` and places the
//! nonzero ones with the tag's own constant shifts (`expand.rs`, one jump-table arm per tag),
//! and copies zero and raw runs whole. While at least 10 bytes of input are left (a tag, its 8
//! bytes and a run count) a word costs one check of the input and one of the output, and its
//! next tag is shifted out of its own bytes rather than loaded (`unpack_fast_with`; with BMI2
//! and POPCNT the tag is counted by `popcnt` and placed by `pdep`, `dispatch.rs`); the last words
//! go through `unpack_rest`, which checks every read. It is a `capnp::io::Read`, which capnp's
//! `serialize::read_message` can read; `read_message` here does what that does (the segment
//! table, the limits, the checks and errors, in its order) into a lighter segment set
//! (`Unpacked`). The rules and errors are capnp's:
//!
//! - every `read` fills its whole buffer or fails; a zero or raw run longer than what is left
//!   of the buffer is "did not end cleanly on a segment boundary" (capnp reads the first
//!   word, the rest of the segment table and the segments in separate calls, as its writer
//!   packs them);
//! - input ending inside a word, or right after a 0x00/0xff tag's word, is "premature end of
//!   packed input"; inside a raw run "failed to fill the whole buffer" (capnp reads the run
//!   with `read_exact`); no input at all is a clean end (`Ok(0)`).
//!
//! Packing (`PackedVec`) is the same in reverse, under capnp's `serialize::write_message`,
//! with capnp's packer's output byte for byte: each `write_all` packed on its own (runs never
//! cross the segment table and the segments), a zero word followed by the count of zero words
//! after it (at most 255), a word without zero bytes by the count of following words with at
//! most one zero byte (at most 255) and those words unpacked.

use capnp::serialize::SEGMENTS_COUNT_LIMIT;
use capnp::{Error, ErrorKind, Word};

mod compress;
mod dispatch;
mod expand;
use compress::compress;
use expand::expand;

/// A packed stream over a byte slice; `rest` is what is not read yet (advanced by each read).
pub(crate) struct PackedSlice<'c, 'a> {
    pub(crate) rest: &'c mut &'a [u8],
}

fn premature() -> Error {
    Error::from_kind(ErrorKind::PrematureEndOfPackedInput)
}

/// Set bits of every tag (baseline x86-64 has no `popcnt`: a table load beats the bit
/// arithmetic `count_ones` compiles to).
const POPCOUNT: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = (i as u8).count_ones() as u8;
        i += 1;
    }
    table
};

impl capnp::io::Read for PackedSlice<'_, '_> {
    fn read(&mut self, out: &mut [u8]) -> capnp::Result<usize> {
        if out.is_empty() || self.rest.is_empty() {
            return Ok(0);
        }
        if !out.len().is_multiple_of(8) {
            return Err(Error::failed("packed reads must be word-aligned".into()));
        }
        let len = out.len();
        unpack(self.rest, out)?;
        Ok(len)
    }
}

/// Where `unpack_rest` puts the words it makes: word `i` and the ones after it.
trait Sink {
    fn word(&mut self, i: usize, w: u64);
    fn zeros(&mut self, i: usize, n: usize);
    /// Whole words, `raw.len()` a multiple of 8.
    fn raw(&mut self, i: usize, raw: &[u8]);
}

/// The buffer being filled (as long as the words unpacked into it).
impl Sink for [u8] {
    #[inline(always)]
    fn word(&mut self, i: usize, w: u64) {
        self[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    #[inline(always)]
    fn zeros(&mut self, i: usize, n: usize) {
        self[i * 8..(i + n) * 8].fill(0);
    }
    #[inline(always)]
    fn raw(&mut self, i: usize, raw: &[u8]) {
        self[i * 8..i * 8 + raw.len()].copy_from_slice(raw);
    }
}

/// Nowhere: the input checked as if unpacked (for segments it cannot fill, whose error is
/// wanted without allocating them).
struct Discard;

impl Sink for Discard {
    fn word(&mut self, _: usize, _: u64) {}
    fn zeros(&mut self, _: usize, _: usize) {}
    fn raw(&mut self, _: usize, _: &[u8]) {}
}

fn did_not_end_cleanly() -> Error {
    Error::from_kind(ErrorKind::PackedInputDidNotEndCleanlyOnASegmentBoundary)
}

fn failed_to_fill() -> Error {
    Error::from_kind(ErrorKind::FailedToFillTheWholeBuffer)
}

/// Unpacks exactly `out.len() / 8` words (`out.len()` a nonzero multiple of 8) from the
/// front of `rest` into `out`, advancing `rest` past them only on success (errors: see the
/// module comment). The words are made by `unpack_fast` while at least 10 bytes of input are
/// left, then by `unpack_rest`, which checks every byte it reads.
fn unpack(rest: &mut &[u8], out: &mut [u8]) -> capnp::Result<()> {
    let words = out.len() / 8;
    let (input, left) = dispatch::unpack_fast(rest, out)?;
    *rest = unpack_rest(input, words - left, words, out)?;
    Ok(())
}

/// Words while at least 10 bytes of input are left: a tag, the 8 bytes after it and a run
/// count after those all lie in the input, so each word costs one check of the input's
/// length (and one of the output's) however many of its bytes the tag takes. Returns the
/// input after the words made and the number of words of `out` not filled yet; the errors are
/// the ones `unpack_rest` would return for the same bytes (a run longer than the words left,
/// a raw run past the end of the input). `count` is the tag's number of set bits, `expand`
/// places the data bytes by the tag (`expand::expand`); `dispatch.rs` passes the CPU's own
/// instructions for both where it has them.
#[inline(always)]
fn unpack_fast_with<'a>(
    mut input: &'a [u8],
    mut out: &mut [u8],
    count: impl Fn(u8) -> usize,
    expand: impl Fn(u8, u64) -> u64,
) -> capnp::Result<(&'a [u8], usize)> {
    // The tag of the word at the front of `input`, carried from word to word: a plain word's
    // next tag is shifted out of its own 8 bytes, not loaded again, so each word waits on one
    // count (a table load, or `popcnt`) instead of a load of its tag and then the count.
    let mut tag = input.first().copied().unwrap_or_default();
    while let Some(head) = input.first_chunk::<10>() {
        let Some((slot, out_after)) = std::mem::take(&mut out).split_first_chunk_mut::<8>() else {
            break;
        };
        out = out_after;
        // One 8-byte load (bytes destructured one by one were loaded and shifted one by one).
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&head[1..9]);
        let data = u64::from_le_bytes(bytes);
        *slot = expand(tag, data).to_le_bytes();
        if tag != 0 && tag != 0xff {
            // 1 to 7 bytes: the next tag is byte `count` of `data`.
            let count = count(tag) & 7;
            tag = (data >> (8 * count)) as u8;
            input = input.get(1 + count..).unwrap_or_default();
            continue;
        }
        // A zero word's run count is the byte after its tag; a full word's, the byte after
        // its 8 bytes (both within `head`).
        let (run, after_run) = if tag == 0 {
            (head[1], 2)
        } else {
            (head[9], 10)
        };
        input = input.get(after_run..).unwrap_or_default();
        if run == 0 {
            // Most runs are empty (a zero or full word alone): no call to fill or copy.
            tag = input.first().copied().unwrap_or_default();
            continue;
        }
        let (run_out, out_after) = std::mem::take(&mut out)
            .split_at_mut_checked(usize::from(run) * 8)
            .ok_or_else(did_not_end_cleanly)?;
        out = out_after;
        if tag == 0 {
            run_out.fill(0);
        } else {
            let (raw, input_after) = input
                .split_at_checked(run_out.len())
                .ok_or_else(failed_to_fill)?;
            run_out.copy_from_slice(raw);
            input = input_after;
        }
        tag = input.first().copied().unwrap_or_default();
    }
    Ok((input, out.len() / 8))
}

/// `unpack_fast_with` on any CPU: the count from a table, the bytes placed by a jump table.
fn unpack_fast_portable<'a>(input: &'a [u8], out: &mut [u8]) -> capnp::Result<(&'a [u8], usize)> {
    unpack_fast_with(
        input,
        out,
        |tag| usize::from(POPCOUNT[usize::from(tag)]),
        expand,
    )
}

/// Unpacks words `i..words` from the front of `input` into `sink`, checking every byte it
/// reads; returns the input after them (errors: see the module comment).
fn unpack_rest<'a, S: Sink + ?Sized>(
    mut input: &'a [u8],
    mut i: usize,
    words: usize,
    sink: &mut S,
) -> capnp::Result<&'a [u8]> {
    while i < words {
        let (&tag, after_tag) = input.split_first().ok_or_else(premature)?;
        let count = usize::from(POPCOUNT[usize::from(tag)]);
        let data = match after_tag.first_chunk::<8>() {
            Some(chunk) => u64::from_le_bytes(*chunk),
            None => {
                let bytes = after_tag.get(..count).ok_or_else(premature)?;
                let mut chunk = [0u8; 8];
                chunk[..count].copy_from_slice(bytes);
                u64::from_le_bytes(chunk)
            }
        };
        sink.word(i, expand(tag, data));
        i += 1;
        input = after_tag.get(count..).ok_or_else(premature)?;
        if tag == 0 || tag == 0xff {
            let (&run, after_run) = input.split_first().ok_or_else(premature)?;
            let run = usize::from(run);
            if run > words - i {
                return Err(did_not_end_cleanly());
            }
            if tag == 0 {
                sink.zeros(i, run);
                input = after_run;
            } else {
                let raw = after_run.get(..run * 8).ok_or_else(failed_to_fill)?;
                sink.raw(i, raw);
                input = after_run.get(run * 8..).unwrap_or_default();
            }
            i += run;
        }
    }
    Ok(input)
}

/// One packed message's segments, unpacked into one buffer.
pub(crate) struct Unpacked {
    words: Vec<Word>,
    /// Where segment 0 ends (in words); segment `i` > 0 ends at `ends[i - 1]`.
    first_end: usize,
    ends: Vec<usize>,
}

impl capnp::message::ReaderSegments for Unpacked {
    fn get_segment(&self, idx: u32) -> Option<&[u8]> {
        let idx = idx as usize;
        let (start, end) = match idx {
            0 => (0, self.first_end),
            1 => (self.first_end, *self.ends.first()?),
            _ => (*self.ends.get(idx - 2)?, *self.ends.get(idx - 1)?),
        };
        Some(Word::words_to_bytes(self.words.get(start..end)?))
    }
    fn len(&self) -> usize {
        1 + self.ends.len()
    }
}

/// One packed message from the front of `rest` (advanced past it): capnp's
/// `serialize::read_message` over a `PackedSlice` (its segment table, limits, checks and
/// errors, in its order), with the segments in an `Unpacked` (no table of segment bounds
/// allocated for a single segment, no `message::Reader` made and taken apart); a short input
/// claiming huge segments fails without allocating them.
pub(crate) fn read_message(
    rest: &mut &[u8],
    options: capnp::message::ReaderOptions,
) -> capnp::Result<Unpacked> {
    use capnp::io::Read;
    if rest.is_empty() {
        return Err(Error::from_kind(ErrorKind::PrematureEndOfFile));
    }
    // The first word (what `PackedSlice::read` would do, by the careful loop alone: one word
    // is not worth the fast loop's setup).
    let mut buf = [0u8; 8];
    *rest = unpack_rest(rest, 0, 1, &mut buf[..])?;
    let mut table = PackedSlice { rest };
    let segment_count =
        u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]).wrapping_add(1) as usize;
    if segment_count >= SEGMENTS_COUNT_LIMIT || segment_count == 0 {
        return Err(Error::from_kind(ErrorKind::InvalidNumberOfSegments(
            segment_count,
        )));
    }
    let first_end = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
    let mut ends = Vec::new();
    let mut total = first_end;
    if segment_count > 1 {
        // The other lengths, padded to a whole word (at most 511 segments: 2 KiB).
        let mut lengths = [0u8; SEGMENTS_COUNT_LIMIT * 4];
        let table_bytes = if segment_count < 4 {
            8
        } else {
            (segment_count & !1) * 4
        };
        table.read_exact(&mut lengths[..table_bytes])?;
        ends.reserve_exact(segment_count - 1);
        for idx in 0..segment_count - 1 {
            let at = idx * 4;
            let len = u32::from_le_bytes([
                lengths[at],
                lengths[at + 1],
                lengths[at + 2],
                lengths[at + 3],
            ]) as usize;
            total = total
                .checked_add(len)
                .ok_or_else(|| Error::from_kind(ErrorKind::MessageSizeOverflow))?;
            ends.push(total);
        }
    }
    if let Some(limit) = options.traversal_limit_in_words {
        if total > limit {
            return Err(Error::from_kind(ErrorKind::MessageTooLarge(total)));
        }
    }
    let mut words: Vec<Word> = Vec::new();
    if total > 0 {
        // As capnp's `read_exact`: no input left at all is "failed to fill the whole buffer".
        if rest.is_empty() {
            return Err(Error::from_kind(ErrorKind::FailedToFillTheWholeBuffer));
        }
        if total > rest.len().saturating_mul(128) {
            // More words than the input left can make (at most 256 per 2 bytes): unpacking
            // fails; its error (capnp's) is found without allocating the claimed size.
            unpack_rest(rest, 0, total, &mut Discard)?;
        }
        words = Word::allocate_zeroed_vec(total);
        unpack(rest, Word::words_to_bytes_mut(&mut words))?;
    }
    Ok(Unpacked {
        words,
        first_end,
        ends,
    })
}

/// The high bit of each byte of `w` set when that byte is nonzero (`(b & 0x7f) + 0x7f | b`
/// has its high bit set exactly when `b` is nonzero, without carries between bytes).
#[inline(always)]
fn nonzero_bytes(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    (((w & LOW7) + LOW7) | w) & !LOW7
}

/// Whether `w` has at most one zero byte (a word a raw run may take).
#[inline(always)]
fn at_most_one_zero_byte(w: u64) -> bool {
    let zeros = !nonzero_bytes(w) & 0x8080_8080_8080_8080;
    zeros & zeros.wrapping_sub(1) == 0
}

/// The tag of word `w`: bit `i` set when byte `i` is nonzero (the multiplication gathers the
/// eight high bits of `nonzero_bytes` into the top byte).
#[inline]
fn tag_of(w: u64) -> u8 {
    ((nonzero_bytes(w) >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

/// Packs every `write_all` into the vector it holds (capnp's `PackedWrite`, a word at a time).
pub(crate) struct PackedVec<'a>(pub(crate) &'a mut Vec<u8>);

impl capnp::io::Write for PackedVec<'_> {
    fn write_all(&mut self, buf: &[u8]) -> capnp::Result<()> {
        if !buf.len().is_multiple_of(8) {
            return Err(Error::failed("packed writes must be word-aligned".into()));
        }
        dispatch::pack(buf, self.0);
        Ok(())
    }
}

/// Packs `buf` (whole words) onto the end of `out`. `pack_word` gives a word's tag, its
/// nonzero bytes gathered into the low bytes, and their number (`dispatch.rs` passes the
/// CPU's own instructions where it has them).
#[inline(always)]
fn pack_with(buf: &[u8], out: &mut Vec<u8>, pack_word: impl Fn(u64) -> (u8, u64, usize)) {
    let n = buf.len() / 8;
    let word = |i: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&buf[i * 8..i * 8 + 8]);
        u64::from_le_bytes(bytes)
    };
    // At most 10 bytes a word (a tag, 8 bytes, a count), plus 8 of slack: each word's
    // nonzero bytes are stored as one 8-byte write and `at` advanced by their number.
    let start = out.len();
    out.resize(start + n * 10 + 8, 0);
    let mut at = start;
    let mut i = 0;
    while i < n {
        let (tag, bytes, count) = pack_word(word(i));
        out[at] = tag;
        out[at + 1..at + 9].copy_from_slice(&bytes.to_le_bytes());
        at += 1 + count;
        i += 1;
        if tag == 0 {
            let end = n.min(i + 255);
            let mut j = i;
            while j < end && word(j) == 0 {
                j += 1;
            }
            out[at] = (j - i) as u8;
            at += 1;
            i = j;
        } else if tag == 0xff {
            let end = n.min(i + 255);
            let mut j = i;
            while j < end && at_most_one_zero_byte(word(j)) {
                j += 1;
            }
            out[at] = (j - i) as u8;
            at += 1;
            let raw = &buf[i * 8..j * 8];
            out[at..at + raw.len()].copy_from_slice(raw);
            at += raw.len();
            i = j;
        }
    }
    out.truncate(at);
}

/// `pack_with` on any CPU: the tag by a multiplication, the bytes gathered by a jump table.
fn pack_portable(buf: &[u8], out: &mut Vec<u8>) {
    pack_with(buf, out, |w| {
        let tag = tag_of(w);
        (
            tag,
            compress(tag, w),
            usize::from(POPCOUNT[usize::from(tag)]),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use capnp::message::ReaderOptions;

    /// capnp's own unpacking of `input`: the words and the bytes it consumed, or its error.
    fn reference(input: &[u8]) -> Result<(Vec<u8>, usize), String> {
        let mut cursor = input;
        let m = capnp::serialize_packed::read_message(&mut cursor, ReaderOptions::new())
            .map_err(|e| e.to_string())?;
        let segments = m.into_segments();
        Ok((segments.to_vec(), input.len() - cursor.len()))
    }

    fn ours(input: &[u8]) -> Result<(Vec<u8>, usize), String> {
        let mut cursor = input;
        let m =
            capnp::serialize::read_message(PackedSlice { rest: &mut cursor }, ReaderOptions::new())
                .map_err(|e| e.to_string())?;
        let segments = m.into_segments();
        Ok((segments.to_vec(), input.len() - cursor.len()))
    }

    /// capnp's unpacking of `input` segment by segment: the segments and the bytes consumed.
    fn reference_segments(
        input: &[u8],
        options: ReaderOptions,
    ) -> Result<(Vec<Vec<u8>>, usize), String> {
        use capnp::message::ReaderSegments;
        let mut cursor = input;
        let m = capnp::serialize_packed::read_message(&mut cursor, options)
            .map_err(|e| e.to_string())?;
        let segments = m.into_segments();
        let all = (0..segments.len() as u32)
            .map(|i| segments.get_segment(i).expect("segment").to_vec())
            .collect();
        Ok((all, input.len() - cursor.len()))
    }

    /// `read_message` (unpacked into one unzeroed buffer) on the same input.
    fn direct_segments(
        input: &[u8],
        options: ReaderOptions,
    ) -> Result<(Vec<Vec<u8>>, usize), String> {
        use capnp::message::ReaderSegments;
        let mut cursor = input;
        let m = read_message(&mut cursor, options).map_err(|e| e.to_string())?;
        assert!(m.get_segment(m.len() as u32).is_none());
        let all = (0..m.len() as u32)
            .map(|i| m.get_segment(i).expect("segment").to_vec())
            .collect();
        Ok((all, input.len() - cursor.len()))
    }

    /// A packed message of `sizes` segments of words of varied density.
    fn packed_message(rng: &mut Rng, sizes: &[u32]) -> Vec<u8> {
        let mut flat = Vec::new();
        flat.extend_from_slice(&(sizes.len() as u32).wrapping_sub(1).to_le_bytes());
        for s in sizes {
            flat.extend_from_slice(&s.to_le_bytes());
        }
        if flat.len() % 8 != 0 {
            flat.extend_from_slice(&[0; 4]);
        }
        let mut packed = Vec::new();
        pack(&flat, &mut packed);
        let mut body = Vec::new();
        for _ in 0..sizes.iter().sum::<u32>() {
            let word = match rng.next() % 4 {
                0 => 0,
                1 => u64::MAX ^ (rng.next() & 0x0101),
                2 => rng.next() & rng.next() & rng.next(),
                _ => rng.next(),
            };
            body.extend_from_slice(&word.to_le_bytes());
        }
        pack(&body, &mut packed);
        packed
    }

    #[test]
    fn direct_unpacking_is_capnps_on_every_table_shape() {
        let mut rng = Rng(0x5eed);
        let options = ReaderOptions::new();
        // Every segment count up to 9, then larger tables up to capnp's limit and past it.
        let counts = (1..=9).chain([16, 17, 100, 511, 512, 513, 1000]);
        for count in counts {
            for _ in 0..20 {
                let sizes: Vec<u32> = (0..count)
                    .map(|_| match rng.next() % 4 {
                        0 => 0,
                        _ => (rng.next() % 30) as u32,
                    })
                    .collect();
                let mut packed = packed_message(&mut rng, &sizes);
                packed.extend((0..(rng.next() % 12)).map(|_| rng.next() as u8));
                let theirs = reference_segments(&packed, options);
                assert_eq!(
                    direct_segments(&packed, options),
                    theirs,
                    "{count} segments"
                );
                if count < 512 {
                    let (segments, _) = theirs.expect("valid");
                    assert_eq!(segments.len(), count);
                }
            }
        }
    }

    #[test]
    fn direct_unpacking_is_capnps_on_every_early_end() {
        let mut rng = Rng(3);
        let options = ReaderOptions::new();
        for sizes in [&[0u32][..], &[1], &[7], &[40], &[3, 0, 5], &[2, 9, 1, 4, 6]] {
            let packed = packed_message(&mut rng, sizes);
            for cut in 0..=packed.len() {
                let input = &packed[..cut];
                assert_eq!(
                    direct_segments(input, options),
                    reference_segments(input, options),
                    "{sizes:?} cut at {cut}"
                );
            }
        }
    }

    /// Segments claimed larger than the input could fill (unpacked into a growing buffer
    /// instead of the claimed one): capnp's errors, at every cut of the input.
    #[test]
    fn direct_unpacking_is_capnps_on_overclaimed_segments() {
        let mut rng = Rng(17);
        let options = ReaderOptions::new();
        for claimed in [[2000u32, 0], [1, 3000], [700, 700]] {
            let mut packed = packed_message(&mut rng, &[3, 2]);
            // The same table as packed_message writes, claiming `claimed` instead.
            let mut table = vec![1u8, 0, 0, 0];
            table.extend_from_slice(&claimed[0].to_le_bytes());
            table.extend_from_slice(&claimed[1].to_le_bytes());
            table.extend_from_slice(&[0; 4]);
            let mut head = Vec::new();
            pack(&table, &mut head);
            let mut real_table = Vec::new();
            pack(
                &[1, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0],
                &mut real_table,
            );
            let body_start = real_table.len();
            head.extend_from_slice(&packed[body_start..]);
            packed = head;
            for cut in 0..=packed.len() {
                let input = &packed[..cut];
                assert_eq!(
                    direct_segments(input, options),
                    reference_segments(input, options),
                    "{claimed:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn direct_unpacking_is_capnps_on_mutated_messages() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..3000 {
            let segments = 1 + (rng.next() % 5) as usize;
            let sizes: Vec<u32> = (0..segments).map(|_| (rng.next() % 40) as u32).collect();
            let mut packed = packed_message(&mut rng, &sizes);
            for _ in 0..1 + rng.next() % 3 {
                let at = (rng.next() as usize) % packed.len();
                packed[at] = rng.next() as u8;
            }
            // A limit that some claimed sizes pass and others do not.
            let mut options = ReaderOptions::new();
            options.traversal_limit_in_words(Some((rng.next() % 200) as usize));
            assert_eq!(
                direct_segments(&packed, options),
                reference_segments(&packed, options),
                "case {case}"
            );
        }
    }

    /// `unpack` (the fast part, then the careful one) against `unpack_rest` alone (every read
    /// checked) on the same bytes: the same words, the same input left, or the same error.
    fn same_as_careful(input: &[u8], words: usize) {
        let mut fast_rest = input;
        let mut fast_out = vec![0u8; words * 8];
        let fast = unpack(&mut fast_rest, &mut fast_out).map_err(|e| e.kind);
        let mut careful_out = vec![0u8; words * 8];
        let careful = unpack_rest(input, 0, words, &mut careful_out[..]).map_err(|e| e.kind);
        dispatch::assert_same_as_portable(input, words);
        match (fast, careful) {
            (Ok(()), Ok(careful_rest)) => {
                assert_eq!(fast_out, careful_out, "{input:?} into {words} words");
                assert_eq!(fast_rest.len(), careful_rest.len(), "{input:?}");
            }
            (fast, careful) => {
                assert_eq!(fast.err(), careful.err(), "{input:?} into {words} words");
                assert_eq!(fast_rest.len(), input.len(), "input advanced on an error");
            }
        }
    }

    /// Byte strings shaped like packed words (tags of every density, zero and raw runs of
    /// every length up to past the output) ending at every byte, read into every output size
    /// around them: the fast part hands over to the careful one at every distance from the
    /// end, with tags whose bytes, run counts or raw runs lie past it.
    #[test]
    fn fast_unpacking_is_the_careful_one_at_every_end() {
        let mut rng = Rng(0xfa57);
        for case in 0..400 {
            let mut input = Vec::new();
            while input.len() < 48 {
                let tag = match rng.next() % 6 {
                    0 => 0,
                    1 => 0xff,
                    _ => rng.next() as u8,
                };
                input.push(tag);
                input.extend((0..POPCOUNT[usize::from(tag)]).map(|_| rng.next() as u8));
                if tag == 0 || tag == 0xff {
                    let run = (rng.next() % 6) as u8;
                    input.push(if rng.next().is_multiple_of(8) {
                        255
                    } else {
                        run
                    });
                    if tag == 0xff {
                        input.extend((0..usize::from(run) * 8).map(|_| rng.next() as u8));
                    }
                }
            }
            for cut in 0..=input.len() {
                for words in 1..=12 {
                    same_as_careful(&input[..cut], words);
                }
                if case % 8 == 0 {
                    same_as_careful(&input[..cut], 40);
                }
            }
        }
    }

    /// Whole messages whose last words are raw runs, zero runs or dense words, cut at every
    /// byte and with each of their last 24 bytes replaced (tags whose bytes run past the end,
    /// runs longer than the segment): capnp's results.
    #[test]
    fn direct_unpacking_is_capnps_near_the_end() {
        let options = ReaderOptions::new();
        let mut rng = Rng(0xe0d);
        let tails: [&[u64]; 6] = [
            &[u64::MAX, u64::MAX, u64::MAX - 1],
            &[0, 0, 0],
            &[u64::MAX, 0, 0],
            &[0x0102_0304_0506_0708, 0x0100],
            &[0, u64::MAX, u64::MAX],
            &[0x0101_0101_0101_0101, 0x1100_0000_0000_0000, 0, 7],
        ];
        for tail in tails {
            for head_words in 0..12 {
                let mut body: Vec<u64> = (0..head_words)
                    .map(|_| match rng.next() % 3 {
                        0 => 0,
                        1 => rng.next(),
                        _ => rng.next() & rng.next() & rng.next(),
                    })
                    .collect();
                body.extend_from_slice(tail);
                let mut flat = vec![0u8; 4];
                flat.extend_from_slice(&(body.len() as u32).to_le_bytes());
                for w in &body {
                    flat.extend_from_slice(&w.to_le_bytes());
                }
                let mut packed = Vec::new();
                pack(&flat[..8], &mut packed);
                pack(&flat[8..], &mut packed);
                for cut in 0..=packed.len() {
                    let input = &packed[..cut];
                    assert_eq!(
                        direct_segments(input, options),
                        reference_segments(input, options),
                        "{tail:?} after {head_words} words, cut at {cut}"
                    );
                }
                for at in packed.len().saturating_sub(24)..packed.len() {
                    for byte in [0u8, 1, 0xff, 0xfe, 0x7f, rng.next() as u8] {
                        let mut mutated = packed.clone();
                        mutated[at] = byte;
                        assert_eq!(
                            direct_segments(&mutated, options),
                            reference_segments(&mutated, options),
                            "{tail:?} after {head_words} words, byte {at} = {byte}"
                        );
                    }
                }
            }
        }
    }

    /// Segments claimed far beyond what the input can hold: the same error as capnp's, and
    /// no reservation of the claimed size (which would abort on 2^35 words).
    #[test]
    fn huge_claimed_segments_fail_without_allocating_them() {
        let mut options = ReaderOptions::new();
        options.traversal_limit_in_words(None);
        let mut packed = Vec::new();
        // Four segments of 2^32 - 1 words each, then one word of content.
        let mut table = vec![3u8, 0, 0, 0];
        for _ in 0..4 {
            table.extend_from_slice(&u32::MAX.to_le_bytes());
        }
        table.extend_from_slice(&[0; 4]);
        pack(&table, &mut packed);
        pack(&[1, 0, 0, 0, 0, 0, 0, 0], &mut packed);
        let mut cursor = &packed[..];
        let err = read_message(&mut cursor, options).err().expect("too short");
        assert_eq!(err.kind, ErrorKind::PrematureEndOfPackedInput);
    }

    /// Packs `words` (the spec's rules; raw runs take words with at most one zero byte).
    fn pack(words: &[u8], out: &mut Vec<u8>) {
        let words: Vec<[u8; 8]> = words
            .chunks_exact(8)
            .map(|w| w.try_into().expect("8 bytes"))
            .collect();
        let mut i = 0;
        while i < words.len() {
            let w = words[i];
            let tag = (0..8).fold(0u8, |t, b| t | (u8::from(w[b] != 0) << b));
            out.push(tag);
            out.extend(w.iter().filter(|&&b| b != 0));
            i += 1;
            if tag == 0 {
                let run = words[i..]
                    .iter()
                    .take(255)
                    .take_while(|w| **w == [0; 8])
                    .count();
                out.push(run as u8);
                i += run;
            } else if tag == 0xff {
                let run = words[i..]
                    .iter()
                    .take(255)
                    .take_while(|w| w.iter().filter(|&&b| b == 0).count() <= 1)
                    .count();
                out.push(run as u8);
                for w in &words[i..i + run] {
                    out.extend_from_slice(w);
                }
                i += run;
            }
        }
    }

    /// A small pseudo-random generator (no dependency): xorshift64*.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    #[test]
    fn same_as_capnp_on_valid_and_mutated_messages() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..3000 {
            // A framed message: segment table, then segments of words of varied density.
            let segments = 1 + (rng.next() % 5) as usize;
            let sizes: Vec<u32> = (0..segments).map(|_| (rng.next() % 40) as u32).collect();
            let mut packed = packed_message(&mut rng, &sizes);
            assert_eq!(ours(&packed), reference(&packed), "case {case}");
            // Mutations: truncation, flipped bytes, trailing garbage.
            match case % 3 {
                0 => {
                    let cut = (rng.next() as usize) % (packed.len() + 1);
                    packed.truncate(cut);
                }
                1 => {
                    for _ in 0..3 {
                        if !packed.is_empty() {
                            let at = (rng.next() as usize) % packed.len();
                            packed[at] = rng.next() as u8;
                        }
                    }
                }
                _ => packed.extend((0..(rng.next() % 20)).map(|_| rng.next() as u8)),
            }
            assert_eq!(ours(&packed), reference(&packed), "mutated case {case}");
        }
    }

    /// The rule `expand.rs` spells out per tag: one byte of `data` per set bit, in order.
    fn expand_by_bits(tag: u8, mut data: u64) -> u64 {
        let mut word = 0;
        for bit in 0..8 {
            if tag & (1 << bit) != 0 {
                word |= (data & 0xff) << (bit * 8);
                data >>= 8;
            }
        }
        word
    }

    #[test]
    fn every_tag_expands_by_its_bits() {
        let mut rng = Rng(7);
        for tag in 0..=255u8 {
            for _ in 0..64 {
                let data = rng.next();
                assert_eq!(
                    expand(tag, data),
                    expand_by_bits(tag, data),
                    "tag {tag:#04x}"
                );
            }
        }
    }

    fn compress_by_bits(tag: u8, w: u64) -> u64 {
        let mut out = 0;
        let mut at = 0;
        for bit in 0..8 {
            if tag & (1 << bit) != 0 {
                out |= ((w >> (bit * 8)) & 0xff) << (at * 8);
                at += 1;
            }
        }
        out
    }

    #[test]
    fn every_tag_compresses_by_its_bits() {
        let mut rng = Rng(11);
        for tag in 0..=255u8 {
            for _ in 0..64 {
                // A word with exactly the tag's nonzero bytes.
                let mut w = 0u64;
                for bit in 0..8 {
                    if tag & (1 << bit) != 0 {
                        w |= u64::from((rng.next() as u8).max(1)) << (bit * 8);
                    }
                }
                assert_eq!(tag_of(w), tag, "{w:#x}");
                assert_eq!(compress(tag, w), compress_by_bits(tag, w), "tag {tag:#04x}");
            }
        }
    }

    /// capnp's packer and ours on the same pieces: the same bytes, and ours unpacks back.
    #[test]
    fn packs_as_capnp_does() {
        use capnp::io::Write;
        let mut rng = Rng(5);
        for case in 0..2000 {
            let words = (rng.next() % 700) as usize;
            let mut flat = Vec::new();
            for _ in 0..words {
                let word = match rng.next() % 6 {
                    0 | 1 => 0,
                    2 => u64::MAX ^ (rng.next() & 0x0101 & rng.next()),
                    3 => rng.next() & rng.next() & rng.next(),
                    // No, one or two zero bytes (whether a raw run takes the word).
                    4 => {
                        let mut w = rng.next() | 0x0101_0101_0101_0101;
                        for _ in 0..rng.next() % 3 {
                            w &= !(0xff << (8 * (rng.next() % 8)));
                        }
                        w
                    }
                    _ => rng.next(),
                };
                flat.extend_from_slice(&word.to_le_bytes());
            }
            // Two pieces (as a segment table and a segment are written), against the rules.
            let cut = ((rng.next() as usize) % (words + 1)) * 8;
            let mut reference = Vec::new();
            pack(&flat[..cut], &mut reference);
            pack(&flat[cut..], &mut reference);
            let mut ours = Vec::new();
            let mut p = PackedVec(&mut ours);
            p.write_all(&flat[..cut]).expect("ours");
            p.write_all(&flat[cut..]).expect("ours");
            assert_eq!(ours, reference, "case {case}");
            dispatch::assert_packs_as_portable(&flat);
            // A whole message holding the words (a Data root, in one or more segments),
            // against capnp's packer, and read back by our unpacker.
            let first = 1 + (rng.next() % 800) as u32;
            let mut m = capnp::message::Builder::new(
                capnp::message::HeapAllocator::new().first_segment_words(first),
            );
            m.set_root::<capnp::data::Owned>(&flat[..]).expect("root");
            let mut theirs = Vec::new();
            capnp::serialize_packed::write_message(&mut theirs, &m).expect("theirs");
            let mut ours = Vec::new();
            capnp::serialize::write_message(PackedVec(&mut ours), &m).expect("ours");
            assert_eq!(ours, theirs, "message case {case}");
            assert_eq!(
                self::ours(&ours).map(|(w, _)| w),
                reference_words(&m),
                "round trip {case}"
            );
        }
    }

    fn reference_words(
        m: &capnp::message::Builder<capnp::message::HeapAllocator>,
    ) -> Result<Vec<u8>, String> {
        Ok(m.get_segments_for_output().concat())
    }

    #[test]
    fn empty_input_is_a_clean_end() {
        let mut cursor: &[u8] = &[];
        let r = capnp::serialize::try_read_message(
            PackedSlice { rest: &mut cursor },
            ReaderOptions::new(),
        );
        assert!(matches!(r, Ok(None)));
    }
}
