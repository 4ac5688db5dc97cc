//! The write-once warning (pycapnp's `UserWarning` on a repeated `to_bytes()`, `write()`...),
//! and the check that skips the warnings machinery when its filters would ignore the warning
//! anyway.
//!
//! `warnings.warn` costs ~5,000 instructions per call even when an `ignore` filter drops the
//! warning (the caller's line number, a `UserWarning` instance, a registry key, the filter
//! walk): most of a small `to_bytes()` that writes a message again. [`written_twice`]
//! first asks [`ignored`] whether the call can only return `None` with no effect, reading
//! the same state CPython's `_warnings.warn` (3.9-3.13) reads, in the same order, and warns
//! through `_warnings.warn` whenever the answer is not a certain yes. The argument, against
//! CPython's `warn_explicit`, `setup_context` and `get_filter`:
//!
//! - *Frame and registry.* With `stacklevel=1` the warning belongs to the innermost complete
//!   frame (`PyThreadState_GetFrame`). `setup_context` creates `__warningregistry__` in that
//!   frame's globals when it is missing and `warn_explicit` raises `TypeError` when it is
//!   neither a dict nor `None`: so the check requires it to exist already as a dict or
//!   `None`, and takes the full path otherwise (which creates it: the next call is quick).
//! - *Registry lookup.* `already_warned` may answer "warned already" (return) or clear a
//!   registry whose `version` is not the filters' current one; then the filters decide. Here
//!   they decide `ignore`, so the outcome is `None` either way; the only difference is that a
//!   stale registry is cleared at the next full call instead of now, and every full call
//!   clears a stale registry before it reads it, so no later warning is shown or hidden
//!   differently (only code reading `__warningregistry__` itself can see it).
//! - *Filters.* `get_filter` reads `sys.modules["warnings"].filters` (a list) and walks it;
//!   the first item matching (message, category, module, line) gives the action. The walk
//!   here accepts only items it can judge with no user code run and no error possible: a
//!   5-tuple whose action is a `str`, message `None`, category an instance of `type` itself
//!   (its subclass test is the plain MRO walk), module `None` or an exact `str` (compared as
//!   `str`; the caller's `__name__` must then be a `str`, else CPython's comparison would
//!   raise) and line an `int` in range. An item whose category is not a base of
//!   `UserWarning` cannot match: skipped. The first one that is a base must also have no
//!   module and line 0 (it matches whatever the caller) and the action `"ignore"`; anything
//!   else (another action, an item it cannot judge, the end of the list: the default
//!   action) takes the full path.
//! - *Python 3.14* adds context-local filters (`sys.flags.context_aware_warnings`) that this
//!   walk does not read: there the full path is always taken.
//!
//! Tests: `tests/python/test_serialization.py` (filters switched between writes, records,
//! errors, a registry made by the first warning, module and category filters).

use std::sync::Mutex;

use pyo3::exceptions::PyUserWarning;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyInt, PyList, PyModule, PyString, PyTuple, PyType};

const WRITTEN_TWICE: &str = "This message has already been written once. Be very careful that you're not setting Text/Struct/List fields more than once, since that will cause memory leaks (both in memory and in the serialized data). You can disable this warning by calling the `clear_write_flag` method of this object after every write.";

/// `_warnings.warn` and the write-once message (pycapnp's text), made once.
static WRITE_WARNING: PyOnceLock<(Py<PyAny>, Py<PyString>)> = PyOnceLock::new();

/// Whether this interpreter's warnings machinery is the one [`ignored`] mirrors (3.9-3.13).
static MIRRORED: PyOnceLock<bool> = PyOnceLock::new();

/// The `warnings` module as last found in the interpreter's module dict, known to be
/// imported completely.
static WARNINGS_MODULE: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

/// Items of the filter list walked at most; a longer walk takes the full path.
const MAX_FILTERS: usize = 32;

/// Issues pycapnp's write-once `UserWarning` (`stacklevel=1`: the caller's line), unless the
/// warnings filters certainly ignore it.
pub(crate) fn written_twice(py: Python<'_>) -> PyResult<()> {
    if ignored(py).unwrap_or(false) {
        return Ok(());
    }
    // `_warnings.warn` with a prepared message: the same warning machinery as
    // `PyErr::warn` without decoding the long message on every write.
    let (warn, message) = WRITE_WARNING.get_or_try_init(py, || -> PyResult<_> {
        Ok((
            py.import("_warnings")?.getattr("warn")?.unbind(),
            PyString::new(py, WRITTEN_TWICE).unbind(),
        ))
    })?;
    warn.call1(py, (message, py.get_type::<PyUserWarning>(), 1))?;
    Ok(())
}

/// `Some(true)` when `warnings.warn(WRITTEN_TWICE, UserWarning, 1)` from the running frame
/// would certainly return `None` without effect (see the module comment); `None` or
/// `Some(false)` when unsure.
fn ignored(py: Python<'_>) -> Option<bool> {
    if !*MIRRORED.get_or_init(py, || py.version_info() < (3, 14)) {
        return None;
    }
    let frame = crate::ffi::warning_frame(py)?;
    let globals = crate::ffi::frame_globals(&frame)?;
    let globals = globals.cast::<PyDict>().ok()?;
    let registry = globals
        .get_item(intern!(py, "__warningregistry__"))
        .ok()??;
    if !(registry.is_none() || registry.is_instance_of::<PyDict>()) {
        return None;
    }
    // The lock is not held across the lookup, which may wait for an import.
    let last = WARNINGS_MODULE
        .lock()
        .ok()?
        .as_ref()
        .map(|m| m.clone_ref(py));
    let warnings = crate::ffi::imported_module(py, intern!(py, "warnings"), last.as_ref())?;
    if !last.is_some_and(|l| l.is(&warnings)) {
        // The module replaced is released after the lock (its release may run Python code).
        let replaced = WARNINGS_MODULE
            .lock()
            .ok()?
            .replace(warnings.clone().unbind());
        drop(replaced);
    }
    // `warnings.filters` of a plain module is its dict's entry (no descriptor of `ModuleType`
    // has that name); anything else (a module subclass, a missing entry, which would call the
    // module's `__getattr__`) takes the full path.
    let warnings = warnings.cast_exact::<PyModule>().ok()?;
    let filters = warnings.dict().get_item(intern!(py, "filters")).ok()??;
    let filters = filters.cast::<PyList>().ok()?;
    let category = py.get_type::<PyUserWarning>();
    let mut module_is_str = None;
    for i in 0..filters.len().min(MAX_FILTERS + 1) {
        if i == MAX_FILTERS {
            return None;
        }
        let item = filters.get_item(i).ok()?;
        let item = item.cast::<PyTuple>().ok()?;
        // The items in place (a tuple cannot change), without a reference count each.
        let [action, message, cat, module, line] = item.as_slice() else {
            return None;
        };
        let action = action.cast::<PyString>().ok()?;
        if !message.is_none() {
            return None;
        }
        let cat = cat.cast_exact::<PyType>().ok()?;
        let any_module = module.is_none();
        if !any_module {
            if !module.is_exact_instance_of::<PyString>() {
                return None;
            }
            // CPython compares the filter's module with the caller's `__name__` (or
            // "<string>" when that is missing or not a str, or `None` when it is `None`,
            // which makes the comparison raise).
            let name_ok = *module_is_str.get_or_insert_with(|| {
                match globals.get_item(intern!(py, "__name__")) {
                    Ok(Some(name)) => !name.is_none(),
                    Ok(None) => true,
                    Err(_) => false,
                }
            });
            if !name_ok {
                return None;
            }
        }
        let line = line.cast_exact::<PyInt>().ok()?.extract::<isize>().ok()?;
        if !crate::ffi::is_subtype(&category, cat) {
            continue;
        }
        return Some(any_module && line == 0 && action.to_str().ok()? == "ignore");
    }
    None
}
