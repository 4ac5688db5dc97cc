//! Binary output laid out in segments exactly as the reference lays it out: a copy of the root
//! into a `MallocMessageBuilder` (1,024-word first segment growing heuristically, or
//! `--segment-size=N` words with `FIXED_SIZE`), so `convert` writes the same bytes.
//!
//! capnp-rust's builder cannot do this: when an object does not fit in its pointer's segment
//! it searches every segment from the first for space, where the reference tries only the
//! segment it allocated last. So the message is first copied into one segment (all pointers
//! near, objects in copy order) and then re-laid here, object by object in the same depth-first
//! order as the reference's copy (`setStructPointer`/`setListPointer`), with its allocation
//! rule: the pointer's own segment, else the last segment allocated, else a new segment of
//! `max(needed, next size)`, reached by a far pointer whose landing pad precedes the object.

/// The reference's `SUGGESTED_FIRST_SEGMENT_WORDS`.
const FIRST_SEGMENT_WORDS: usize = 1024;

/// How the reference's `MallocMessageBuilder` sizes segments.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Strategy {
    /// `GROW_HEURISTICALLY` from 1,024 words: each new segment at least as big as all before.
    Grow,
    /// `FIXED_SIZE`: every segment `n` words, or what one object needs if more.
    Fixed(u32),
}

struct Segment {
    words: Vec<u64>,
    capacity: usize,
}

struct Arena {
    segments: Vec<Segment>,
    /// The segment the reference's arena tries before making a new one (`segmentWithSpace`).
    last: usize,
    next_size: usize,
    strategy: Strategy,
}

/// A word position: (segment, index).
type At = (usize, usize);

fn malformed() -> String {
    "message is malformed (pointer out of bounds)".to_string()
}

impl Arena {
    fn new(strategy: Strategy) -> Self {
        let next_size = match strategy {
            Strategy::Grow => FIRST_SEGMENT_WORDS,
            Strategy::Fixed(n) => n as usize,
        };
        Arena {
            segments: Vec::new(),
            last: 0,
            next_size,
            strategy,
        }
    }

    /// `amount` words in segment `s` if they fit there.
    fn take(&mut self, s: usize, amount: usize) -> Option<usize> {
        let seg = &mut self.segments[s];
        let pos = seg.words.len();
        if seg.capacity - pos < amount {
            return None;
        }
        seg.words.resize(pos + amount, 0);
        Some(pos)
    }

    /// The arena's allocation (`BuilderArena::allocate`): the last segment, else a new one.
    fn allocate_anywhere(&mut self, amount: usize) -> At {
        if !self.segments.is_empty() {
            if let Some(i) = self.take(self.last, amount) {
                return (self.last, i);
            }
        }
        let size = amount.max(self.next_size);
        if let Strategy::Grow = self.strategy {
            // After the first segment the next one is as big as everything so far, and
            // then each grows by its own size (`MallocMessageBuilder::allocateSegment`).
            if self.segments.is_empty() {
                self.next_size = size;
            }
            self.next_size = self.next_size.saturating_add(size).min((1 << 29) - 1);
        }
        self.segments.push(Segment {
            words: Vec::with_capacity(size.min(1 << 20)),
            capacity: size,
        });
        self.last = self.segments.len() - 1;
        let at = self.take(self.last, amount).unwrap_or(0);
        (self.last, at)
    }

    /// Space for an object pointed to from `r` (`WireHelpers::allocate`): returns where the
    /// pointer to it goes (`r`, or a landing pad when it lands in another segment) and where
    /// the object starts.
    fn allocate(&mut self, r: At, amount: usize) -> (At, At) {
        if let Some(i) = self.take(r.0, amount) {
            return (r, (r.0, i));
        }
        let (s, pad) = self.allocate_anywhere(amount + 1);
        // A single far pointer to the landing pad, which then points at the object just after.
        self.set(r, 2 | ((pad as u64) << 3) | ((s as u64) << 32));
        ((s, pad), (s, pad + 1))
    }

    fn set(&mut self, at: At, word: u64) {
        self.segments[at.0].words[at.1] = word;
    }
}

/// A near pointer at `r` to `target` (same segment) with the kind bits and upper half given.
fn near(r: At, target: At, kind: u64, upper: u64) -> u64 {
    let offset = target.1 as i64 - r.1 as i64 - 1;
    ((((offset as i32) << 2) as u32) as u64) | kind | (upper << 32)
}

struct Copier<'a> {
    src: &'a [u64],
    arena: Arena,
}

impl<'a> Copier<'a> {
    fn word(&self, i: usize) -> Result<u64, String> {
        self.src.get(i).copied().ok_or_else(malformed)
    }

    fn words(&self, start: usize, len: usize) -> Result<&'a [u64], String> {
        let src: &'a [u64] = self.src;
        start
            .checked_add(len)
            .and_then(|end| src.get(start..end))
            .ok_or_else(malformed)
    }

    /// Where the near pointer at source word `i` points.
    fn target(&self, i: usize, w: u64) -> Result<usize, String> {
        let offset = i64::from((w as u32 as i32) >> 2);
        usize::try_from(i as i64 + 1 + offset).map_err(|_| malformed())
    }

    /// Copies the object the source pointer at `i` points to, writing its pointer at `r`.
    fn pointer(&mut self, r: At, i: usize, depth: u32) -> Result<(), String> {
        if depth > 10_000 {
            return Err("message is nested too deeply".to_string());
        }
        let w = self.word(i)?;
        if w == 0 {
            return Ok(());
        }
        match w & 3 {
            0 => self.struct_(r, i, w, depth),
            1 => self.list(r, i, w, depth),
            2 => Err("unexpected far pointer in a single-segment copy".to_string()),
            _ => Err("capabilities cannot be written as binary here".to_string()),
        }
    }

    fn struct_(&mut self, r: At, i: usize, w: u64, depth: u32) -> Result<(), String> {
        let data = ((w >> 32) & 0xffff) as usize;
        let ptrs = (w >> 48) as usize;
        if data + ptrs == 0 {
            // An empty struct takes no space: offset -1 (`setKindAndTargetForEmptyStruct`).
            self.arena.set(r, 0xffff_fffc);
            return Ok(());
        }
        let start = self.target(i, w)?;
        self.words(start, data + ptrs)?;
        let (r, at) = self.arena.allocate(r, data + ptrs);
        self.arena.set(r, near(r, at, 0, w >> 32));
        self.body(at, start, data, ptrs, depth)
    }

    /// A struct's data words and pointers, from source `start` to `at`.
    fn body(
        &mut self,
        at: At,
        start: usize,
        data: usize,
        ptrs: usize,
        depth: u32,
    ) -> Result<(), String> {
        let words = self.words(start, data + ptrs)?;
        let dst = &mut self.arena.segments[at.0].words[at.1..at.1 + data];
        dst.copy_from_slice(&words[..data]);
        for p in 0..ptrs {
            self.pointer((at.0, at.1 + data + p), start + data + p, depth + 1)?;
        }
        Ok(())
    }

    fn list(&mut self, r: At, i: usize, w: u64, depth: u32) -> Result<(), String> {
        let size = (w >> 32) & 7;
        let count = (w >> 35) as usize;
        let start = self.target(i, w)?;
        if size == 7 {
            // Inline composite: the tag word, then the elements, pointers copied element
            // by element.
            let tag = self.word(start)?;
            let elements = ((tag as u32) >> 2) as usize;
            let data = ((tag >> 32) & 0xffff) as usize;
            let ptrs = (tag >> 48) as usize;
            let total = elements * (data + ptrs);
            self.words(start, total + 1)?;
            let (r, at) = self.arena.allocate(r, total + 1);
            self.arena.set(r, near(r, at, 1, 7 | ((total as u64) << 3)));
            self.arena.set(at, tag);
            for e in 0..elements {
                let offset = 1 + e * (data + ptrs);
                self.body((at.0, at.1 + offset), start + offset, data, ptrs, depth)?;
            }
            return Ok(());
        }
        let bits: usize = [0, 1, 8, 16, 32, 64, 64][size as usize];
        let total = (count * bits).div_ceil(64);
        self.words(start, total)?;
        let (r, at) = self.arena.allocate(r, total);
        self.arena.set(r, near(r, at, 1, w >> 32));
        if size == 6 {
            for e in 0..count {
                self.pointer((at.0, at.1 + e), start + e, depth + 1)?;
            }
        } else {
            let words = self.words(start, total)?;
            self.arena.segments[at.0].words[at.1..at.1 + total].copy_from_slice(words);
        }
        Ok(())
    }
}

/// The segments the reference writes for a message whose content is `single` (one segment
/// of a capnp copy of the root: root pointer first, near pointers only).
pub(crate) fn relayout(single: &[u8], strategy: Strategy) -> Result<Vec<Vec<u8>>, String> {
    let src: Vec<u64> = single
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    let mut copier = Copier {
        src: &src,
        arena: Arena::new(strategy),
    };
    let root = copier.arena.allocate_anywhere(1);
    copier.pointer(root, 0, 0)?;
    Ok(copier
        .arena
        .segments
        .into_iter()
        .map(|s| s.words.iter().flat_map(|w| w.to_le_bytes()).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(ws: &[u64]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn fixed_size_segments_use_far_pointers_with_landing_pads() {
        // Root struct (1 data word, 1 pointer) pointing at a 2-word Int64 list.
        let single = words(&[0x0001_0001_0000_0000, 7, 1 | (5 << 32) | (2 << 35), 1, 2]);
        let segs = relayout(&single, Strategy::Fixed(3)).expect("relayout");
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].len(), 3 * 8);
        // The list pointer became a far pointer to segment 1, word 0 (its landing pad).
        assert_eq!(&segs[0][16..24], &(2u64 | (1 << 32)).to_le_bytes());
        assert_eq!(segs[1].len(), 3 * 8);
        assert_eq!(&segs[1][8..16], &1u64.to_le_bytes());
    }

    #[test]
    fn grows_like_the_reference_and_rejects_bad_pointers() {
        let segs = relayout(&words(&[0]), Strategy::Grow).expect("null root");
        assert_eq!(segs, vec![vec![0u8; 8]]);
        // A struct pointer past the end of the input is an error, not a panic.
        assert!(relayout(&words(&[0x0001_0000_0000_0100]), Strategy::Grow).is_err());
    }
}
