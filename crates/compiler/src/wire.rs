//! A small, bounds-checked reader of serialized messages, used to embed a struct message
//! (`embed "file"` where a struct is expected) as an object tree.

use crate::model::{ListObj, Obj, StructObj};

/// Limits that keep hostile files from costing unbounded time or memory.
const MAX_DEPTH: u32 = 64;
const MAX_WORDS_VISITED: usize = 1 << 22;

struct Message {
    segments: Vec<Vec<u64>>,
    budget: usize,
}

/// Decodes a message in stream framing and returns its root struct, or None if it is malformed.
pub(crate) fn decode_root(bytes: &[u8]) -> Option<Obj> {
    if !bytes.len().is_multiple_of(8) || bytes.len() < 8 {
        return None;
    }
    let word = |i: usize| -> Option<u32> {
        let b = bytes.get(i * 4..i * 4 + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let count = word(0)? as usize + 1;
    if count > 512 {
        return None;
    }
    let mut sizes = Vec::with_capacity(count);
    for i in 0..count {
        sizes.push(word(1 + i)? as usize);
    }
    let header_words = (1 + count).div_ceil(2);
    let mut pos = header_words * 8;
    let mut segments = Vec::with_capacity(count);
    for size in sizes {
        let end = pos.checked_add(size.checked_mul(8)?)?;
        let seg = bytes.get(pos..end)?;
        segments.push(
            seg.chunks_exact(8)
                .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        );
        pos = end;
    }
    let mut m = Message {
        segments,
        budget: MAX_WORDS_VISITED,
    };
    match m.read_pointer(0, 0, 0)? {
        Some(obj @ Obj::Struct(_)) => Some(obj),
        _ => None,
    }
}

impl Message {
    fn get(&self, seg: usize, at: usize) -> Option<u64> {
        self.segments.get(seg)?.get(at).copied()
    }

    fn spend(&mut self, words: usize) -> Option<()> {
        self.budget = self.budget.checked_sub(words.max(1))?;
        Some(())
    }

    /// Reads the pointer at `(seg, at)`; Ok(None) for a null pointer.
    fn read_pointer(&mut self, seg_in: usize, at: usize, depth: u32) -> Option<Option<Obj>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut p = self.get(seg_in, at)?;
        if p == 0 {
            return Some(None);
        }
        let (seg, target);
        if p & 3 == 2 {
            // Far pointer: follow the landing pad (single or double far).
            let double = p & 4 != 0;
            let pad_at = (p >> 3) as u32 as usize & 0x1fff_ffff;
            let pad_seg = (p >> 32) as usize;
            let pad = self.get(pad_seg, pad_at)?;
            if double {
                let tag = self.get(pad_seg, pad_at + 1)?;
                if pad & 3 != 2 {
                    return None;
                }
                seg = (pad >> 32) as usize;
                target = (pad >> 3) as u32 as usize & 0x1fff_ffff;
                p = tag;
            } else {
                seg = pad_seg;
                p = pad;
                let off = ((p as u32 as i32) >> 2) as isize;
                target = (pad_at as isize + 1 + off).try_into().ok()?;
                if p & 3 == 2 {
                    return None;
                }
            }
        } else {
            let off = ((p as u32 as i32) >> 2) as isize;
            seg = seg_in;
            target = (at as isize + 1 + off).try_into().unwrap_or(usize::MAX);
        }
        match p & 3 {
            0 => {
                let dw = ((p >> 32) & 0xffff) as usize;
                let pc = (p >> 48) as usize;
                self.spend(dw + pc)?;
                Some(Some(Obj::Struct(
                    self.read_struct(seg, target, dw, pc, depth)?,
                )))
            }
            1 => Some(Some(Obj::List(self.read_list(seg, target, p, depth)?))),
            _ => None,
        }
    }

    fn read_struct(
        &mut self,
        seg: usize,
        at: usize,
        dw: usize,
        pc: usize,
        depth: u32,
    ) -> Option<StructObj> {
        let mut data = Vec::with_capacity(dw * 8);
        for i in 0..dw {
            data.extend_from_slice(&self.get(seg, at + i)?.to_le_bytes());
        }
        let mut ptrs = Vec::with_capacity(pc);
        for i in 0..pc {
            ptrs.push(self.read_pointer(seg, at + dw + i, depth + 1)?);
        }
        Some(StructObj { data, ptrs })
    }

    fn read_list(&mut self, seg: usize, at: usize, p: u64, depth: u32) -> Option<ListObj> {
        let size = (p >> 32) & 7;
        let count = (p >> 35) as usize;
        let bytes_of = |m: &Message, n_bytes: usize| -> Option<Vec<u8>> {
            let mut out = Vec::with_capacity(n_bytes);
            for i in 0..n_bytes.div_ceil(8) {
                out.extend_from_slice(&m.get(seg, at + i)?.to_le_bytes());
            }
            out.truncate(n_bytes);
            Some(out)
        };
        Some(match size {
            0 => {
                self.spend(count / 64)?;
                ListObj::Void(count as u32)
            }
            1 => {
                self.spend(count / 64)?;
                let bytes = bytes_of(self, count.div_ceil(8))?;
                ListObj::Bits(
                    (0..count)
                        .map(|i| bytes[i / 8] & (1 << (i % 8)) != 0)
                        .collect(),
                )
            }
            2..=5 => {
                let width = 1usize << (size - 2);
                self.spend(count * width / 8)?;
                ListObj::Bytes {
                    width: width as u8,
                    data: bytes_of(self, count * width)?,
                }
            }
            6 => {
                self.spend(count)?;
                let mut ptrs = Vec::with_capacity(count);
                for i in 0..count {
                    ptrs.push(self.read_pointer(seg, at + i, depth + 1)?);
                }
                ListObj::Pointers(ptrs)
            }
            _ => {
                let tag = self.get(seg, at)?;
                let n = ((tag as u32) >> 2) as usize;
                let dw = ((tag >> 32) & 0xffff) as usize;
                let pc = (tag >> 48) as usize;
                if n.checked_mul(dw + pc)? > count {
                    return None;
                }
                self.spend(count)?;
                let mut elems = Vec::with_capacity(n);
                for i in 0..n {
                    elems.push(self.read_struct(seg, at + 1 + i * (dw + pc), dw, pc, depth)?);
                }
                ListObj::Structs {
                    data_words: dw as u16,
                    ptr_count: pc as u16,
                    elems,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::encode_message;

    #[test]
    fn round_trips_what_the_encoder_writes() {
        let obj = Obj::Struct(StructObj {
            data: vec![1, 0, 0, 0, 0, 0, 0, 0],
            ptrs: vec![
                Some(Obj::text(b"hi")),
                None,
                Some(Obj::List(ListObj::Bits(vec![true, false, true]))),
            ],
        });
        let bytes = encode_message(&obj);
        assert_eq!(decode_root(&bytes), Some(obj));
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert_eq!(decode_root(b"abc"), None);
        assert_eq!(decode_root(&[0xff; 64]), None);
        let mut seed = 1u64;
        for _ in 0..2000 {
            let bytes: Vec<u8> = (0..40)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 56) as u8
                })
                .collect();
            let _ = decode_root(&bytes);
        }
    }
}
