//! The data and pointer allocators of SCHEMA-COMPILER.md 6.7: one top allocator per struct, one
//! union allocator per union and one member allocator per union member, kept in arenas.

use super::holes::HoleSet;

/// Data offsets are in units of the allocated size; `2^6` bits is a word.
const WORD_LG: u8 = 6;

/// The allocator a field or a union's container uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AllocId {
    /// The struct's own data and pointer sections.
    Top,
    /// A member allocator, by index.
    Member(usize),
}

/// A data region shared by the members of one union: `2^k` bits at `off`
/// (in units of `2^k` bits) inside the container.
#[derive(Clone, Copy, Debug)]
struct Slot {
    k: u8,
    off: u32,
}

#[derive(Debug)]
struct UnionAlloc {
    container: AllocId,
    /// Members that have allocated anything (void fields included).
    started: u32,
    disc: Option<u32>,
    slots: Vec<Slot>,
    ptr_slots: Vec<u32>,
}

/// How much of one union slot a member uses: the first `2^size` bits, minus
/// the local holes (offsets relative to the slot's start).
#[derive(Clone, Copy, Debug, Default)]
struct SlotUse {
    used: bool,
    size: u8,
    holes: HoleSet,
}

#[derive(Debug)]
struct MemberAlloc {
    union: usize,
    has_started: bool,
    ptr_used: usize,
    /// One entry per slot of the union, created as the member first looks at it.
    uses: Vec<SlotUse>,
}

/// All allocators of one struct. Ids handed out by `new_union`/`new_member`
/// index the arenas; they are never derived from input, only created here.
#[derive(Debug, Default)]
pub(crate) struct Allocators {
    words: u32,
    pointers: u32,
    holes: HoleSet,
    unions: Vec<UnionAlloc>,
    members: Vec<MemberAlloc>,
    /// Set when the reference would abort with its "issue 344" error; the
    /// caller turns it into a diagnostic on whatever it was placing.
    issue_344: bool,
}

/// Converts an offset in units of `2^from` bits to units of `2^to` bits (`to <= from`).
fn rescale(off: u32, from: u8, to: u8) -> u32 {
    off << from.saturating_sub(to)
}

impl Allocators {
    pub(crate) fn new() -> Allocators {
        Allocators::default()
    }

    pub(crate) fn data_words(&self) -> u32 {
        self.words
    }

    pub(crate) fn pointers(&self) -> u32 {
        self.pointers
    }

    /// Reports (and clears) the issue-344 condition.
    pub(crate) fn take_issue_344(&mut self) -> bool {
        std::mem::take(&mut self.issue_344)
    }

    pub(crate) fn new_union(&mut self, container: AllocId) -> usize {
        self.unions.push(UnionAlloc {
            container,
            started: 0,
            disc: None,
            slots: Vec::new(),
            ptr_slots: Vec::new(),
        });
        self.unions.len() - 1
    }

    pub(crate) fn new_member(&mut self, union: usize) -> AllocId {
        self.members.push(MemberAlloc {
            union,
            has_started: false,
            ptr_used: 0,
            uses: Vec::new(),
        });
        AllocId::Member(self.members.len() - 1)
    }

    /// The discriminant's offset in 16-bit units, once allocated.
    pub(crate) fn discriminant(&self, union: usize) -> Option<u32> {
        self.unions[union].disc
    }

    /// Allocates `2^k` bits (`k <= 6`) and returns the offset in units of that size.
    pub(crate) fn alloc_data(&mut self, id: AllocId, k: u8) -> u32 {
        let k = k.min(WORD_LG);
        match id {
            AllocId::Top => {
                if let Some(r) = self.holes.take(k) {
                    return r;
                }
                let r = self.words << (WORD_LG - k);
                self.words = self.words.wrapping_add(1);
                self.holes.fill_after(k, r.wrapping_add(1), WORD_LG);
                r
            }
            AllocId::Member(m) => self.member_alloc_data(m, k),
        }
    }

    pub(crate) fn alloc_pointer(&mut self, id: AllocId) -> u32 {
        match id {
            AllocId::Top => {
                let p = self.pointers;
                self.pointers = self.pointers.wrapping_add(1);
                p
            }
            AllocId::Member(m) => {
                self.start(m);
                let u = self.members[m].union;
                let used = self.members[m].ptr_used;
                self.members[m].ptr_used += 1;
                if let Some(&p) = self.unions[u].ptr_slots.get(used) {
                    return p;
                }
                let p = self.alloc_pointer(self.unions[u].container);
                self.unions[u].ptr_slots.push(p);
                p
            }
        }
    }

    /// A void field takes no space, but still counts as a union member
    /// starting, all the way out through nested unions.
    pub(crate) fn note_void(&mut self, id: AllocId) {
        if let AllocId::Member(m) = id {
            self.start(m);
            let container = self.unions[self.members[m].union].container;
            self.note_void(container);
        }
    }

    /// Allocates the union's discriminant unless it exists; true if it was new.
    pub(crate) fn ensure_discriminant(&mut self, u: usize) -> bool {
        if self.unions[u].disc.is_some() {
            return false;
        }
        let d = self.alloc_data(self.unions[u].container, 4);
        self.unions[u].disc = Some(d);
        true
    }

    /// Widens the item of `2^k` bits at `off` to `2^(k+n)` bits in place, if possible.
    fn grow_data(&mut self, id: AllocId, k: u8, off: u32, n: u8) -> bool {
        match id {
            AllocId::Top => self.holes.grow(k, off, n),
            AllocId::Member(m) => self.member_grow_data(m, k, off, n),
        }
    }

    fn start(&mut self, m: usize) {
        if self.members[m].has_started {
            return;
        }
        self.members[m].has_started = true;
        let u = self.members[m].union;
        self.unions[u].started += 1;
        // The discriminant goes right before the second member's first field.
        if self.unions[u].started == 2 {
            self.ensure_discriminant(u);
        }
    }

    fn widen_slot(&mut self, u: usize, i: usize, k2: u8) -> bool {
        let s = self.unions[u].slots[i];
        if k2 <= s.k {
            return true;
        }
        if self.grow_data(self.unions[u].container, s.k, s.off, k2 - s.k) {
            self.unions[u].slots[i] = Slot {
                k: k2,
                off: s.off >> (k2 - s.k),
            };
            return true;
        }
        false
    }

    fn member_alloc_data(&mut self, m: usize, k: u8) -> u32 {
        self.start(m);
        let u = self.members[m].union;
        let slot_count = self.unions[u].slots.len();
        if self.members[m].uses.len() < slot_count {
            self.members[m].uses.resize(slot_count, SlotUse::default());
        }

        // Pass 1: the tightest existing fit; the first one wins ties.
        let mut best: Option<(usize, u8)> = None;
        for (i, (slot, usage)) in self.unions[u]
            .slots
            .iter()
            .zip(&self.members[m].uses)
            .enumerate()
        {
            if let Some(f) = fit(usage, *slot, k) {
                match best {
                    Some((_, b)) if b <= f => {}
                    _ => best = Some((i, f)),
                }
            }
        }
        if let Some((i, _)) = best {
            return self.alloc_from_fit(m, i, k);
        }

        // Pass 2: widen a slot in place.
        for i in 0..slot_count {
            if let Some(r) = self.alloc_by_widening(m, i, k) {
                return r;
            }
        }

        // Pass 3: a new slot, used by this member from its start.
        let off = self.alloc_data(self.unions[u].container, k);
        self.unions[u].slots.push(Slot { k, off });
        self.members[m].uses.push(SlotUse {
            used: true,
            size: k,
            holes: HoleSet::default(),
        });
        off
    }

    fn alloc_from_fit(&mut self, m: usize, i: usize, k: u8) -> u32 {
        let s = self.unions[self.members[m].union].slots[i];
        let usage = &mut self.members[m].uses[i];
        let r = if !usage.used {
            usage.used = true;
            usage.size = k;
            0
        } else if k >= usage.size {
            usage.holes.fill_after(usage.size, 1, k);
            usage.size = k + 1;
            1
        } else if let Some(r) = usage.holes.take(k) {
            r
        } else {
            let r = 1u32 << (usage.size - k);
            usage.holes.fill_after(k, r + 1, usage.size);
            usage.size += 1;
            r
        };
        rescale(s.off, s.k, k) + r
    }

    fn alloc_by_widening(&mut self, m: usize, i: usize, k: u8) -> Option<u32> {
        let u = self.members[m].union;
        let usage = self.members[m].uses[i];
        if !usage.used {
            if !self.widen_slot(u, i, k) {
                return None;
            }
            let usage = &mut self.members[m].uses[i];
            usage.used = true;
            usage.size = k;
            let s = self.unions[u].slots[i];
            return Some(rescale(s.off, s.k, k));
        }
        let target = usage.size.max(k) + 1;
        if !self.widen_use(m, i, target, true) {
            return None;
        }
        // Widening doubled the used part, so a hole of at least 2^k now exists.
        let r = self.members[m].uses[i].holes.take(k)?;
        let s = self.unions[u].slots[i];
        Some(rescale(s.off, s.k, k) + r)
    }

    fn widen_use(&mut self, m: usize, i: usize, target: u8, add_holes: bool) -> bool {
        let u = self.members[m].union;
        if target > self.unions[u].slots[i].k && !self.widen_slot(u, i, target) {
            return false;
        }
        let usage = &mut self.members[m].uses[i];
        if add_holes {
            usage.holes.fill_after(usage.size, 1, target);
        } else {
            // The reference aborts here; carry on as its escape hatch does
            // (no hole bookkeeping) so the state stays consistent.
            self.issue_344 = true;
        }
        usage.size = target;
        true
    }

    /// Called by a union nested in member `m` to widen one of its slots.
    fn member_grow_data(&mut self, m: usize, k: u8, off: u32, n: u8) -> bool {
        let misaligned = k + n > WORD_LG || off & ((1u32 << n.min(31)) - 1) != 0;
        let u = self.members[m].union;
        let found = self.unions[u]
            .slots
            .iter()
            .take(self.members[m].uses.len())
            .position(|s| s.k >= k && off >> (s.k - k) == s.off);
        let Some(i) = found else {
            // The nested union allocated through this member, so its region
            // is always inside one of the member's slots.
            return false;
        };
        let s = self.unions[u].slots[i];
        let local = off.wrapping_sub(rescale(s.off, s.k, k));
        let usage = self.members[m].uses[i];
        let r = if local == 0 && usage.size == k {
            self.widen_use(m, i, k + n, false)
        } else {
            self.members[m].uses[i].holes.grow(k, local, n)
        };
        if misaligned && r {
            self.issue_344 = true;
            return false;
        }
        r
    }
}

/// The size class of the tightest place in slot `s` where a `2^k`-bit item
/// fits for a member using it as `usage`, if any.
fn fit(usage: &SlotUse, s: Slot, k: u8) -> Option<u8> {
    if !usage.used {
        return (k <= s.k).then_some(s.k);
    }
    if k >= usage.size {
        return (k < s.k).then_some(k);
    }
    if let Some(j) = usage.holes.smallest_free(k) {
        return Some(j);
    }
    (usage.size < s.k).then_some(usage.size)
}
