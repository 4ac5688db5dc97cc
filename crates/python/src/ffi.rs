//! The CPython calls the safe PyO3 API lacks: generic attribute lookup, and reading an `int`
//! that may not fit 64 bits without raising; and taking a Python socket's descriptor (a `dup`
//! of it, owned by Rust) for the synchronous API's reactor.
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

/// The value of a Python `int` as an `i64`, or `None` when it does not fit — without raising
/// and discarding an `OverflowError` as `extract::<i64>()` does (that costs more than the
/// whole field write). The caller passes an `int` (`PyLong`) object.
pub(crate) fn int_as_i64(obj: &Bound<'_, pyo3::types::PyInt>) -> Option<i64> {
    let mut overflow: std::os::raw::c_int = 0;
    // SAFETY: `obj` is a live `int` borrowed for the call and the GIL is held (the `Bound`).
    // For an `int`, `PyLong_AsLongLongAndOverflow` reports a value out of range through
    // `overflow` without setting an exception; -1 with an exception set is impossible for an
    // `int`, but is still checked (and the exception cleared) below.
    let value = unsafe { pyo3::ffi::PyLong_AsLongLongAndOverflow(obj.as_ptr(), &mut overflow) };
    if overflow != 0 {
        return None;
    }
    if value == -1 && PyErr::take(obj.py()).is_some() {
        return None;
    }
    Some(value)
}

/// A new descriptor for the socket `sock` (a `dup` of `sock.fileno()`), owned by the caller;
/// `sock` stays open and usable.
pub(crate) fn dup_socket(sock: &Bound<'_, PyAny>) -> PyResult<std::os::fd::OwnedFd> {
    use std::os::fd::BorrowedFd;
    let fd: i32 = sock.call_method0("fileno")?.extract()?;
    if fd < 0 {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "the socket is closed",
        ));
    }
    // SAFETY: `fd` is the descriptor of the live socket object `sock`, which this call holds
    // (the `Bound`) with the GIL, so no Python code can close it before `try_clone_to_owned`
    // has duplicated it; the borrow does not outlive this statement.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    Ok(borrowed.try_clone_to_owned()?)
}
