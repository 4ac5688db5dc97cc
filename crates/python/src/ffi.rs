//! The one CPython call the safe PyO3 API lacks: generic attribute lookup.
//!
//! Struct handles resolve fields in their own `__getattribute__` (DESIGN decision 8); every
//! other attribute (methods, properties) then needs the ordinary lookup. Reaching it through
//! `object.__getattribute__` is a Python-level call costing ~70 ns per method call;
//! `PyObject_GenericGetAttr` is the same lookup without the call.
#![allow(unsafe_code)]

use pyo3::prelude::*;
use pyo3::types::PyString;

/// `object.__getattribute__(obj, name)`: the type's descriptors, then the instance dict.
pub(crate) fn generic_getattr<'py>(
    obj: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    // SAFETY: both pointers are live, borrowed references held by the `Bound`s for the whole
    // call and the GIL is held (`py`). `PyObject_GenericGetAttr` returns a new reference, or
    // NULL with an exception set, which `from_owned_ptr_or_err` turns into `PyErr` without
    // touching the pointer.
    unsafe {
        let ptr = pyo3::ffi::PyObject_GenericGetAttr(obj.as_ptr(), name.as_ptr());
        Bound::from_owned_ptr_or_err(py, ptr)
    }
}
