//! Struct list elements that borrow their list's shared part (`Elements`) instead of counting
//! a reference to it: the owner of the list handle keeps it alive (the binding: the element's
//! Python object holds the list's). Audited unsafe code; the argument is in
//! docs/ARCHITECTURE.md ("Unsafe code", "Lent elements").
//!
//! A counted reference costs an atomic increment when the element is made and a decrement
//! when it goes: measured, a sixth of indexing a struct list from Python.

#![allow(unsafe_code)]

use std::ptr::NonNull;
use std::sync::Arc;

use crate::error::Result;
use crate::message::{Elements, StructBase};
use crate::struct_::{StructBuilder, StructReader};

/// A `&Elements<B>` without a lifetime: valid while the `Arc` it was made from lives, which
/// the maker of the handle holding it guarantees ([`LentElements::new`]).
pub(crate) struct LentElements<B: 'static>(NonNull<Elements<B>>);

// SAFETY: it stands for a shared reference to an `Elements<B>`, which is `Send` and `Sync`
// when `B` is (its fields are an `Arc<B>`, an `Option<Step>` (plain values and an
// `Arc<Vec<Word>>`) and an `Arc<StructSchema>`).
unsafe impl<B: Send + Sync + 'static> Send for LentElements<B> {}
// SAFETY: as for `Send`.
unsafe impl<B: Send + Sync + 'static> Sync for LentElements<B> {}

impl<B: 'static> LentElements<B> {
    /// Borrows `elements` without counting.
    ///
    /// # Safety
    /// `elements` (the allocation, hence some `Arc` to it) must stay alive until the result
    /// and every handle holding it are dropped. Clones are counted ([`LentElements::counted`]).
    pub(crate) unsafe fn new(elements: &Arc<Elements<B>>) -> Self {
        LentElements(NonNull::from(&**elements))
    }

    pub(crate) fn get(&self) -> &Elements<B> {
        // SAFETY: the allocation outlives `self` (`new`'s contract), and `Elements` is never
        // written after it is made (no interior mutability).
        unsafe { self.0.as_ref() }
    }

    /// A counted reference to the same `Elements` (for clones, which may outlive the owner).
    pub(crate) fn counted(&self) -> Arc<Elements<B>> {
        let ptr = self.0.as_ptr().cast_const();
        // SAFETY: `ptr` came from an `Arc<Elements<B>>` (`new`) whose allocation is alive
        // while `self` is (`new`'s contract), so its strong count is at least one: adding one
        // and taking ownership of that one is what `Arc::clone` does.
        unsafe {
            Arc::increment_strong_count(ptr);
            Arc::from_raw(ptr)
        }
    }
}

impl super::ListReader {
    /// As [`struct_element`](Self::struct_element), but the handle borrows this list's
    /// shared part instead of counting a reference to it: one atomic increment and decrement
    /// less per element. Its clones are ordinary, counted handles.
    ///
    /// # Safety
    /// `self` must outlive the returned handle: the handle (which may be moved) must be
    /// dropped before `self` is dropped.
    pub unsafe fn struct_element_lent(&self, index: i64) -> Result<Option<StructReader>> {
        self.struct_element_with(index, |list, id| match list.struct_elements() {
            // SAFETY: `e` is owned by `list`'s `elements` cell, which is set once and never
            // replaced or taken while `list` lives; the caller keeps `list` alive until the
            // handle is dropped (this function's contract).
            Some(e) => Ok(StructBase::Lent(unsafe { LentElements::new(e) })),
            None => list.element_base(id),
        })
    }
}

impl super::ListBuilder {
    /// As [`struct_element_fast`](Self::struct_element_fast), with the element borrowing
    /// this list's shared part (as [`ListReader::struct_element_lent`](super::ListReader)).
    ///
    /// # Safety
    /// `self` must outlive the returned handle.
    pub unsafe fn struct_element_fast_lent(&self, index: i64) -> Result<Option<StructBuilder>> {
        self.struct_element_fast_with(index, |list, id| match list.struct_elements() {
            // SAFETY: as in `ListReader::struct_element_lent`.
            Some(e) => Ok(StructBase::Lent(unsafe { LentElements::new(e) })),
            None => list.element_base(id),
        })
    }
}
