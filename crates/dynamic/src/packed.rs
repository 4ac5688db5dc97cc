//! The packed encoding read from a byte slice a word at a time (the encoding spec's
//! "Packing"). capnp's own `PackedRead` unpacks byte by byte through `BufRead` (about 80
//! instructions a word); this one loads the 8 bytes after the tag as one `u64` and places the
//! nonzero ones with the tag's own constant shifts (`expand.rs`, one jump-table arm per tag),
//! and copies zero and raw runs whole. It is a `capnp::io::Read`, so capnp's
//! `serialize::read_message` still reads the segment table, checks the limits and allocates
//! the one buffer of all segments: only the unpacking changed, with capnp's rules and errors:
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

use capnp::{Error, ErrorKind};

mod compress;
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
        let words = out.len() / 8;
        let mut i = 0;
        let mut rest: &[u8] = self.rest;
        while i < words {
            let (&tag, after_tag) = rest.split_first().ok_or_else(premature)?;
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
            let word = expand(tag, data);
            out[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
            i += 1;
            rest = after_tag.get(count..).ok_or_else(premature)?;
            if tag == 0 || tag == 0xff {
                let (&run, after_run) = rest.split_first().ok_or_else(premature)?;
                let run = usize::from(run);
                if run > words - i {
                    return Err(Error::from_kind(
                        ErrorKind::PackedInputDidNotEndCleanlyOnASegmentBoundary,
                    ));
                }
                let span = &mut out[i * 8..(i + run) * 8];
                if tag == 0 {
                    span.fill(0);
                    rest = after_run;
                } else {
                    let raw = after_run
                        .get(..run * 8)
                        .ok_or_else(|| Error::from_kind(ErrorKind::FailedToFillTheWholeBuffer))?;
                    span.copy_from_slice(raw);
                    rest = after_run.get(run * 8..).unwrap_or_default();
                }
                i += run;
            }
        }
        *self.rest = rest;
        Ok(out.len())
    }
}

/// The tag of word `w`: bit `i` set when byte `i` is nonzero (the high bit of each byte of
/// `(b & 0x7f) + 0x7f | b` says whether `b` is nonzero, without carries between bytes; the
/// multiplication gathers the eight bits into the top byte).
#[inline]
fn tag_of(w: u64) -> u8 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let nonzero = (((w & LOW7) + LOW7) | w) & !LOW7;
    ((nonzero >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

/// Packs every `write_all` into the vector it holds (capnp's `PackedWrite`, a word at a time).
pub(crate) struct PackedVec<'a>(pub(crate) &'a mut Vec<u8>);

impl capnp::io::Write for PackedVec<'_> {
    fn write_all(&mut self, buf: &[u8]) -> capnp::Result<()> {
        if !buf.len().is_multiple_of(8) {
            return Err(Error::failed("packed writes must be word-aligned".into()));
        }
        let out = &mut *self.0;
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
            let w = word(i);
            let tag = tag_of(w);
            out[at] = tag;
            out[at + 1..at + 9].copy_from_slice(&compress(tag, w).to_le_bytes());
            at += 1 + usize::from(POPCOUNT[usize::from(tag)]);
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
                while j < end && POPCOUNT[usize::from(tag_of(word(j)))] >= 7 {
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
        Ok(())
    }
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
            let mut flat = Vec::new();
            flat.extend_from_slice(&(segments as u32 - 1).to_le_bytes());
            for s in &sizes {
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
                let word = match rng.next() % 5 {
                    0 | 1 => 0,
                    2 => u64::MAX ^ (rng.next() & 0x0101 & rng.next()),
                    3 => rng.next() & rng.next() & rng.next(),
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
