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
//!   frame (`PyThreadState_GetFrame`; its globals are what `PyEval_GetGlobals` returns).
//!   `setup_context` creates `__warningregistry__` in that frame's globals when it is
//!   missing and `warn_explicit` raises `TypeError` when it is neither a dict nor `None`: so
//!   the check requires it to exist already as a dict or `None`, and takes the full path
//!   otherwise (which creates it: the next call is quick).
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
//! - *Cache.* The check costs three dict lookups and the walk (~800 instructions, a quarter
//!   of a small `to_bytes()`), so a "certainly ignored" answer is kept with what it read:
//!   the caller's globals and the interpreter's module dict, each by identity and PEP 509
//!   version (`ffi::dict_state`: an equal pair is the same dict, unchanged), the `warnings`
//!   module and its dict's state when `filters` was read, the filter list and the items the
//!   walk read (held: no other object can take their addresses). A later call whose
//!   globals and module dict are in the same state finds the same registry entry and the
//!   same module; with that module still a plain module and its dict unchanged, the same
//!   list; with the list still starting with the same items (tuples: they cannot change),
//!   the same walk and the same answer. Anything else (a global assigned, a module
//!   imported, `warnings.filters` rebound or changed in place, `catch_warnings`) runs the
//!   check again. Items with a module need the caller's `__name__`, which is in its globals,
//!   so they are covered by the globals' state. PyO3 refuses sub-interpreters, whose
//!   version counters would be separate.
//! - *Python 3.14* adds context-local filters (`sys.flags.context_aware_warnings`) that this
//!   walk does not read: there the full path is always taken.
//!
//! Tests: `tests/python/test_serialization.py` (filters switched between writes, records,
//! errors, a registry made by the first warning, module and category filters; for the
//! cache, an item replaced in place, another caller, another `warnings` module, another
//! filter list).

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

/// A "certainly ignored" answer of [`ignored`] and the state it was read from (module
/// comment, *Cache*): the caller's globals and the interpreter's module dict (identity and
/// version), the `warnings` module and its dict's state, the filter list and the items the
/// walk read, in order (held, so that no other object can take their addresses).
struct Decided {
    globals: (usize, u64),
    modules: (usize, u64),
    warnings: Py<PyModule>,
    warnings_dict: (usize, u64),
    filters: Py<PyList>,
    walked: Vec<Py<PyAny>>,
}

/// The last "certainly ignored" answer.
static DECIDED: Mutex<Option<Decided>> = Mutex::new(None);

/// `Some(true)` when `warnings.warn(WRITTEN_TWICE, UserWarning, 1)` from the running frame
/// would certainly return `None` without effect (see the module comment); `None` or
/// `Some(false)` when unsure.
fn ignored(py: Python<'_>) -> Option<bool> {
    if !*MIRRORED.get_or_init(py, || py.version_info() < (3, 14)) {
        return None;
    }
    let globals = crate::ffi::running_globals(py)?;
    let modules = crate::ffi::modules_dict(py)?;
    let seen = (
        crate::ffi::dict_state(&globals)?,
        crate::ffi::dict_state(&modules)?,
    );
    if still_ignored(py, seen) {
        return Some(true);
    }
    let mut walked = Vec::new();
    let (answer, warnings, warnings_dict, filters) = decide(py, &globals, &mut walked)?;
    if answer {
        let decided = Decided {
            globals: seen.0,
            modules: seen.1,
            warnings,
            warnings_dict,
            filters,
            walked,
        };
        // The answer replaced is released after the lock (its release may run Python code).
        let replaced = DECIDED.lock().ok()?.replace(decided);
        drop(replaced);
    }
    Some(answer)
}

/// Whether the last "certainly ignored" answer holds for a caller whose globals and the
/// interpreter's module dict are in the state `seen`: the same dicts unchanged, so the same
/// registry entry and the same `warnings` module; that module still a plain module whose
/// dict is unchanged, so the same filter list; and that list still starting with the items
/// the walk read. No Python code runs here (reads, identity tests, a list's length).
fn still_ignored(py: Python<'_>, seen: ((usize, u64), (usize, u64))) -> bool {
    let Ok(last) = DECIDED.lock() else {
        return false;
    };
    let Some(last) = last.as_ref() else {
        return false;
    };
    if (last.globals, last.modules) != seen {
        return false;
    }
    // A module's `__class__` can be reassigned without touching its dict.
    let Ok(warnings) = last.warnings.bind(py).cast_exact::<PyModule>() else {
        return false;
    };
    if crate::ffi::dict_state(&warnings.dict()) != Some(last.warnings_dict) {
        return false;
    }
    let filters = last.filters.bind(py);
    filters.len() >= last.walked.len()
        && last
            .walked
            .iter()
            .enumerate()
            .all(|(i, item)| filters.get_item(i).is_ok_and(|now| now.is(item)))
}

/// The check itself (module comment): the answer, with the `warnings` module, its dict's
/// state when `filters` was read from it, and the filter list; the items read are pushed
/// onto `walked`. `None` when unsure.
#[allow(clippy::type_complexity)]
fn decide(
    py: Python<'_>,
    globals: &Bound<'_, PyDict>,
    walked: &mut Vec<Py<PyAny>>,
) -> Option<(bool, Py<PyModule>, (usize, u64), Py<PyList>)> {
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
    let warnings_dict = warnings.dict();
    let warnings_state = crate::ffi::dict_state(&warnings_dict)?;
    let filters = warnings_dict.get_item(intern!(py, "filters")).ok()??;
    let filters = filters.cast::<PyList>().ok()?;
    let category = py.get_type::<PyUserWarning>();
    let mut module_is_str = None;
    for i in 0..filters.len().min(MAX_FILTERS + 1) {
        if i == MAX_FILTERS {
            return None;
        }
        let item = filters.get_item(i).ok()?;
        walked.push(item.clone().unbind());
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
        let answer = any_module && line == 0 && action.to_str().ok()? == "ignore";
        return Some((
            answer,
            warnings.clone().unbind(),
            warnings_state,
            filters.clone().unbind(),
        ));
    }
    None
}
