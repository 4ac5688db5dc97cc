//! The extension's Rust allocator: mimalloc, called the way the standard library calls the
//! system allocator.
//!
//! glibc's malloc and free were a fifth of an RPC call's instructions; mimalloc halves that. The
//! `mimalloc` crate's allocator sends every request through mimalloc's aligned entry points,
//! which for the common case (alignment at most 16 and not above the size) cost about twice the
//! plain ones; this one takes the plain entry points there. mimalloc's v2 line (the crate's
//! `v2` feature): a small message's allocations and frees cost ~6 instructions fewer each than
//! with v3 (an address book build: 23,980 against 24,042 instructions, callgrind).
//!
//! Safety argument (docs/ARCHITECTURE.md, "Unsafe code"): `GlobalAlloc` is an unsafe trait
//! whose contract is that returned blocks fit the layout. mimalloc returns blocks aligned to 16
//! bytes for any size of at least 16 and to 8 for smaller ones (its size classes are multiples of
//! 16 above 8, carved from aligned pages), so a request whose alignment is at most 16 and at most
//! its size is served by `mi_malloc`/`mi_zalloc`/`mi_realloc` (the rule `std` uses for the system
//! allocator with 16 as the guaranteed alignment); every other request goes to the aligned
//! functions, which take the alignment. All blocks are freed by `mi_free`, which accepts both.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys as mi;

/// The alignment mimalloc's plain functions guarantee for blocks at least that large.
const PLAIN_ALIGN: usize = 16;

pub(crate) struct Mimalloc;

fn plain(layout: &Layout) -> bool {
    layout.align() <= PLAIN_ALIGN && layout.align() <= layout.size()
}

// SAFETY: see the module documentation; each function forwards to the mimalloc function that
// honours `layout` (plain ones only where their guaranteed alignment covers it).
unsafe impl GlobalAlloc for Mimalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: mimalloc's allocation functions accept any size and alignment.
        unsafe {
            if plain(&layout) {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe {
            if plain(&layout) {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from one of the functions above (GlobalAlloc's contract).
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout` (GlobalAlloc's contract); the
        // new block keeps `layout`'s alignment with `new_size` bytes.
        unsafe {
            let new = Layout::from_size_align_unchecked(new_size, layout.align());
            if plain(&new) {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_the_alignment_asked_for() {
        for size in [1usize, 7, 8, 15, 16, 24, 33, 100, 4096, 70_000] {
            for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
                let layout = Layout::from_size_align(size, align).expect("layout");
                // SAFETY: a non-zero-size layout; the block is freed below.
                unsafe {
                    let p = Mimalloc.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    let q = Mimalloc.realloc(p, layout, size * 3);
                    assert_eq!(q as usize % align, 0, "realloc size {size} align {align}");
                    Mimalloc.dealloc(q, Layout::from_size_align(size * 3, align).expect("layout"));
                    let z = Mimalloc.alloc_zeroed(layout);
                    assert!(std::slice::from_raw_parts(z, size).iter().all(|b| *b == 0));
                    Mimalloc.dealloc(z, layout);
                }
            }
        }
    }
}
