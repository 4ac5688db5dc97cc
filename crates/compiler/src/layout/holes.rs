//! The hole set of SCHEMA-COMPILER.md 6.7: free power-of-two regions left behind by data allocation.

/// Number of hole sizes tracked: 1, 2, 4, 8, 16 and 32 bits. A 64-bit hole is
/// never recorded because the allocator that owns the set opens whole words (or
/// slots) itself.
pub(crate) const HOLE_SIZES: u8 = 6;

/// One free hole per size class; `h[k]` is an offset in units of `2^k` bits,
/// with 0 meaning "none" (offset 0 is always allocated first, so it can never
/// be a hole).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HoleSet {
    h: [u32; HOLE_SIZES as usize],
}

impl HoleSet {
    /// Test and debug view of the raw slots.
    #[cfg(test)]
    pub(crate) fn slots(&self) -> [u32; HOLE_SIZES as usize] {
        self.h
    }

    #[cfg(test)]
    pub(crate) fn from_slots(h: [u32; HOLE_SIZES as usize]) -> HoleSet {
        HoleSet { h }
    }

    /// Takes the best-fitting hole of `2^k` bits, splitting a larger hole when
    /// no exact one exists (its upper half stays free).
    pub(crate) fn take(&mut self, k: u8) -> Option<u32> {
        let slot = self.h.get_mut(usize::from(k))?;
        if *slot != 0 {
            return Some(std::mem::take(slot));
        }
        let bigger = self.take(k + 1)?;
        let r = bigger * 2;
        self.h[usize::from(k)] = r + 1;
        Some(r)
    }

    /// Marks the rest of a `2^limit`-bit block free after a `2^k`-bit piece
    /// that ends just before `off` (in units of `2^k`).
    pub(crate) fn fill_after(&mut self, mut k: u8, mut off: u32, limit: u8) {
        let limit = limit.min(HOLE_SIZES);
        while k < limit {
            self.h[usize::from(k)] = off;
            k += 1;
            off = off.div_ceil(2);
        }
    }

    /// Whether the item of `2^k` bits at `off` can be widened in place to
    /// `2^(k+n)` bits by absorbing the holes that follow it; consumes them if so.
    pub(crate) fn grow(&mut self, k: u8, off: u32, n: u8) -> bool {
        if n == 0 {
            return true;
        }
        let Some(&hole) = self.h.get(usize::from(k)) else {
            return false;
        };
        if hole != off.wrapping_add(1) {
            return false;
        }
        if self.grow(k + 1, off / 2, n - 1) {
            self.h[usize::from(k)] = 0;
            return true;
        }
        false
    }

    /// The size class of the smallest hole of at least `2^k` bits.
    pub(crate) fn smallest_free(&self, k: u8) -> Option<u8> {
        (k..HOLE_SIZES).find(|&j| self.h[usize::from(j)] != 0)
    }
}
