//! `_DynamicListBuilder` and `_DynamicListReader`: sequences over a list of a message.

use capnp_dynamic::text::list_text;
use capnp_dynamic::{Error, ListBuilder, ListReader, Type, Value};
use pyo3::exceptions::PyIndexError;
use std::sync::atomic::{AtomicU32, Ordering};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyList, PySlice};

use crate::convert::{index_type_error, scalar_to_py, set_element, text_to_py, value_to_py};
use crate::error::{MsgError, MsgResult};
use crate::ffi::{IterSlot, SequenceSlots};
use crate::registry::PyRegistry;
use crate::struct_::{decode_text, decode_text_str};

/// `lst[i]` failures: out of range is `IndexError('Out of bounds')`, not a `KjException`.
fn index_error(py: Python<'_>, e: MsgError) -> PyErr {
    match e {
        MsgError::Dynamic(Error::IndexOutOfRange) => PyIndexError::new_err("Out of bounds"),
        other => other.into_py(py),
    }
}

/// The positions a slice selects.
fn slice_positions(slice: &Bound<'_, PySlice>, len: u32) -> PyResult<Vec<i64>> {
    let ind = slice.indices(len as isize)?;
    let mut out = Vec::new();
    let mut i = ind.start;
    for _ in 0..ind.slicelength {
        out.push(i as i64);
        i += ind.step;
    }
    Ok(out)
}

/// An element index, or `TypeError` for anything but an int.
fn int_index(index: &Bound<'_, PyAny>) -> PyResult<i64> {
    // Beyond 64 bits is out of any list's range (`key_index`: `i64::MAX`).
    crate::ffi::key_index(index, None).ok_or_else(index_type_error)
}

/// `lst[index]`; `len` is asked only for slices (`get` resolves negative indices itself).
fn read_item(
    py: Python<'_>,
    get: impl Fn(i64) -> capnp_dynamic::Result<Value>,
    elem: &capnp_dynamic::Type,
    registry: &Py<PyRegistry>,
    index: &Bound<'_, PyAny>,
    len: impl FnOnce() -> PyResult<u32>,
) -> PyResult<Py<PyAny>> {
    // An int (the usual case) first, read without raising on overflow.
    if let Ok(i) = index.cast::<PyInt>() {
        let i = crate::ffi::int_as_i64(i).unwrap_or(i64::MAX);
        let run = || -> MsgResult<_> { value_to_py(py, get(i)?, Some(elem), registry) };
        return run().map_err(|e| index_error(py, e));
    }
    if let Ok(slice) = index.cast::<PySlice>() {
        let out = PyList::empty(py);
        for i in slice_positions(slice, len()?)? {
            let v = get(i).map_err(|e| MsgError::from(e).into_py(py))?;
            out.append(value_to_py(py, v, Some(elem), registry).map_err(|e| e.into_py(py))?)?;
        }
        return Ok(out.into_any().unbind());
    }
    let i = int_index(index)?;
    let run = || -> MsgResult<_> { value_to_py(py, get(i)?, Some(elem), registry) };
    run().map_err(|e| index_error(py, e))
}

/// The strict `_get(i)`: only `0 <= i < len`, failures as `KjException`.
fn checked(i: i64, len: u32) -> MsgResult<i64> {
    if i < 0 || i >= i64::from(len) {
        return Err(Error::IndexOutOfRange.into());
    }
    Ok(i)
}

/// A list in a message being built.
#[pyclass(
    frozen,
    sequence,
    name = "_DynamicListBuilder",
    module = "capnp.lib.capnp"
)]
pub(crate) struct PyListBuilder {
    pub(crate) inner: ListBuilder,
    pub(crate) registry: Py<PyRegistry>,
    /// The struct object whose base `inner` borrows (a list field read or initialised through
    /// `ffi::lent_builder_list`), kept alive by this reference. Declared last: fields drop in
    /// order, so `inner` goes first.
    #[allow(
        dead_code,
        reason = "held only to keep the struct alive until this object goes"
    )]
    pub(crate) keep: Option<Py<PyAny>>,
}

impl PyListBuilder {
    fn len(&self, py: Python<'_>) -> PyResult<u32> {
        self.inner.len().map_err(|e| MsgError::from(e).into_py(py))
    }
}

/// `len()` and `lst[key]` go through these straight from CPython's slots (ffi.rs).
impl SequenceSlots for PyListBuilder {
    fn type_addr() -> &'static std::sync::atomic::AtomicUsize {
        static TYPE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        &TYPE
    }

    fn slot_len(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.len(py)? as usize)
    }

    fn quick_len(&self) -> Option<usize> {
        self.inner.recorded_len().map(|n| n as usize)
    }

    #[inline(always)]
    fn quick_items(&self) -> bool {
        self.inner.is_scalar() || self.inner.element_type().blob_kind().is_some()
    }

    #[inline(always)]
    fn quick_item(&self, py: Python<'_>, index: i64) -> Option<*mut pyo3::ffi::PyObject> {
        // Only the reads without the lock (never wait, never panic).
        if self.inner.is_scalar() {
            // The proof is dropped before the object is made.
            let bits = self
                .inner
                .scalar_bits_quick(&crate::ffi::excluded(py)?, index)?;
            return crate::ffi::scalar_object_raw(py, self.inner.element_type(), bits);
        }
        // Text/Data: the bytes straight into the `str`/`bytes`, as `slot_item` makes them
        // (the same read; an error, an index out of range included, is left to it).
        let text = self.inner.element_type().blob_kind()?;
        let excluded = crate::ffi::excluded(py)?;
        self.inner
            .blob_element_unlocked(&excluded, index, |bytes| {
                crate::ffi::blob_object_quick(py, text, bytes)
            })
            .ok()??
    }

    fn slot_item(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        index: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        if let Some(i) = crate::ffi::key_index(key, index) {
            if matches!(this.inner.element_type(), Type::Struct(_)) {
                // A struct element borrowing the list's shared part (the element keeps `slf`).
                let element = crate::ffi::lent_builder_element(slf, i);
                if let Some(made) = element.map_err(|e| index_error(py, e.into()))? {
                    return made;
                }
            } else if let Some(text) = this.inner.element_type().blob_kind() {
                // Text/Data: the bytes straight from the message into the `str`/`bytes`,
                // without the message lock when nothing else can touch the message.
                // (The proof, a temporary, is dropped at the end of the statement.)
                let blob = this.inner.with_blob_element_excluded(
                    crate::ffi::excluded(py).as_ref(),
                    i,
                    |bytes| blob_under_lock(py, text, bytes),
                );
                if let Some(made) = blob.map_err(|e| index_error(py, e.into()))? {
                    return blob_object(py, made).map_err(|e| e.into_py(py));
                }
            } else {
                // An int index into a list of numbers: its bits straight to a Python number,
                // without the message lock when nothing else can touch the message.
                // (The proof, a temporary, is dropped at the end of the statement.)
                let bits = this
                    .inner
                    .scalar_bits_excluded(crate::ffi::excluded(py).as_ref(), i);
                if let Some(bits) = bits.map_err(|e| index_error(py, e.into()))? {
                    return scalar_to_py(py, this.inner.element_type(), bits);
                }
            }
        }
        read_item(
            py,
            |i| this.inner.get(i),
            this.inner.element_type(),
            &this.registry,
            key,
            || this.len(py),
        )
    }
}

/// A Text (`text`) or Data element's object made from its bytes where they lie (while the
/// message's bytes are borrowed: `str`/`bytes` creation runs no Python code); invalid UTF-8
/// is copied out for `blob_object` to raise.
#[inline(always)]
fn blob_under_lock(py: Python<'_>, text: bool, bytes: &[u8]) -> Result<Py<PyAny>, Vec<u8>> {
    if !text {
        return Ok(PyBytes::new(py, bytes).into_any().unbind());
    }
    crate::convert::str_under_lock(py, bytes)
}

/// `blob_under_lock`'s result as the element's object, invalid UTF-8 raised as the general
/// path raises it (`text_to_py`).
#[inline(always)]
fn blob_object(py: Python<'_>, made: Result<Py<PyAny>, Vec<u8>>) -> MsgResult<Py<PyAny>> {
    match made {
        Ok(obj) => Ok(obj),
        Err(invalid) => text_to_py(py, &invalid),
    }
}

#[pymethods]
impl PyListBuilder {
    /// Moves an orphan's content into element `index`; the orphan is spent afterwards.
    fn adopt(
        &self,
        py: Python<'_>,
        index: i64,
        orphan: &Bound<'_, crate::any_pointer::PyOrphan>,
    ) -> PyResult<()> {
        self.inner
            .adopt(index, &orphan.get().inner)
            .map_err(|e| index_error(py, MsgError::from(e)))
    }

    /// Detaches element `index` into a `_DynamicOrphan` (a struct element is zeroed).
    fn disown(&self, py: Python<'_>, index: i64) -> PyResult<crate::any_pointer::PyOrphan> {
        let orphan = self
            .inner
            .disown(index)
            .map_err(|e| index_error(py, MsgError::from(e)))?;
        Ok(crate::any_pointer::PyOrphan {
            inner: orphan,
            registry: self.registry.clone_ref(py),
        })
    }

    fn __reduce_ex__(&self, _protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(crate::any_pointer::not_picklable("_DynamicListBuilder"))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.slot_len(py)
    }

    fn __getitem__(slf: &Bound<'_, Self>, index: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        Self::slot_item(slf, index, None)
    }

    /// Element by element, as the sequence protocol (a write during the loop is seen by
    /// later steps), without its `IndexError` at the end.
    fn __iter__(slf: &Bound<'_, Self>) -> PyListBuilderIter {
        PyListBuilderIter {
            list: slf.clone().unbind(),
            next: AtomicU32::new(0),
        }
    }

    fn __setitem__(
        &self,
        py: Python<'_>,
        index: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let i = int_index(index)?;
        set_element(&self.inner, &self.registry, i, value).map_err(|e| index_error(py, e))
    }

    /// Element ``index`` (as ``list[index]``).
    fn _get(&self, py: Python<'_>, index: i64) -> PyResult<Py<PyAny>> {
        let run = || -> MsgResult<_> {
            let i = checked(index, self.inner.len()?)?;
            value_to_py(
                py,
                self.inner.get(i)?,
                Some(self.inner.element_type()),
                &self.registry,
            )
        };
        run().map_err(|e| e.into_py(py))
    }

    /// Sets element ``index`` to ``value`` (as ``list[index] = value``).
    fn _set(&self, py: Python<'_>, index: i64, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let run = || -> MsgResult<_> {
            let i = checked(index, self.inner.len()?)?;
            set_element(&self.inner, &self.registry, i, value)
        };
        run().map_err(|e| e.into_py(py))
    }

    /// Initialises element `index` of a list of lists, Text or Data with `size` elements.
    fn init(&self, py: Python<'_>, index: i64, size: u32) -> PyResult<Py<PyAny>> {
        let run = || -> MsgResult<_> {
            let v = self.inner.init(index, size)?;
            value_to_py(py, v, Some(self.inner.element_type()), &self.registry)
        };
        run().map_err(|e| index_error(py, e))
    }

    fn __str__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyString>> {
        decode_text_str(py, list_text(&self.inner.as_reader(), true))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let text = decode_text(py, list_text(&self.inner.as_reader(), false))?;
        Ok(format!("<capnp list builder {text}>"))
    }
}

/// The iterator of a `_DynamicListBuilder`.
#[pyclass(
    frozen,
    name = "_DynamicListBuilderIterator",
    module = "capnp.lib.capnp"
)]
pub(crate) struct PyListBuilderIter {
    list: Py<PyListBuilder>,
    next: AtomicU32,
}

#[pymethods]
impl PyListBuilderIter {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.slot_next(py)
    }
}

/// `next()` goes through this straight from CPython's slot (ffi.rs).
impl IterSlot for PyListBuilderIter {
    fn type_addr() -> &'static std::sync::atomic::AtomicUsize {
        static TYPE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        &TYPE
    }

    #[inline(always)]
    fn quick_next(&self, py: Python<'_>) -> Option<*mut pyo3::ffi::PyObject> {
        // Bool, numbers, Text, Data: as the quick subscript (`quick_item`), the step after it
        // taken only when an object was made; anything else, the end included, is
        // `slot_next`'s.
        let list = self.list.get();
        let i = self.next.load(Ordering::Relaxed);
        let item = if list.inner.is_scalar() {
            // The proof is dropped before the object is made.
            let bits = list
                .inner
                .scalar_bits_quick(&crate::ffi::excluded(py)?, i64::from(i))?;
            crate::ffi::scalar_object_raw(py, list.inner.element_type(), bits)?
        } else {
            let text = list.inner.element_type().blob_kind()?;
            let excluded = crate::ffi::excluded(py)?;
            list.inner
                .blob_element_unlocked(&excluded, i64::from(i), |bytes| {
                    crate::ffi::blob_object_quick(py, text, bytes)
                })
                .ok()???
        };
        if !item.is_null() {
            self.next.store(i + 1, Ordering::Relaxed);
        }
        Some(item)
    }

    fn slot_next(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let list = self.list.get();
        let i = self.next.load(Ordering::Relaxed);
        if i == u32::MAX {
            return Ok(None);
        }
        // Text/Data: the bytes straight into the `str`/`bytes` (as `lst[i]`), without the
        // message lock when nothing else can touch the message.
        if let Some(text) = list.inner.element_type().blob_kind() {
            let blob = list.inner.with_blob_element_excluded(
                crate::ffi::excluded(py).as_ref(),
                i64::from(i),
                |bytes| blob_under_lock(py, text, bytes),
            );
            match blob {
                Ok(Some(made)) => {
                    self.next.store(i + 1, Ordering::Relaxed);
                    return blob_object(py, made).map(Some).map_err(|e| e.into_py(py));
                }
                Err(Error::IndexOutOfRange) => return Ok(None),
                Err(e) => return Err(MsgError::from(e).into_py(py)),
                Ok(None) => {}
            }
        } else {
            // A list of numbers: one read answers both whether element `i` exists (`i` is
            // never negative, so out of range means past the end) and its value; without
            // the message lock when nothing else can touch the message.
            // (The proof, a temporary, is dropped at the end of the statement.)
            let read = list
                .inner
                .scalar_bits_excluded(crate::ffi::excluded(py).as_ref(), i64::from(i));
            match read {
                Ok(Some(bits)) => {
                    self.next.store(i + 1, Ordering::Relaxed);
                    return scalar_to_py(py, list.inner.element_type(), bits).map(Some);
                }
                Err(Error::IndexOutOfRange) => return Ok(None),
                Err(e) => return Err(MsgError::from(e).into_py(py)),
                Ok(None) => {}
            }
        }
        if i >= list.len(py)? {
            return Ok(None);
        }
        self.next.store(i + 1, Ordering::Relaxed);
        let run = || -> MsgResult<_> {
            let v = list.inner.get(i64::from(i))?;
            value_to_py(py, v, Some(list.inner.element_type()), &list.registry)
        };
        run().map(Some).map_err(|e| e.into_py(py))
    }
}

/// A list in a message being read.
#[pyclass(
    frozen,
    sequence,
    name = "_DynamicListReader",
    module = "capnp.lib.capnp"
)]
pub(crate) struct PyListReader {
    pub(crate) inner: ListReader,
    pub(crate) registry: Py<PyRegistry>,
    /// The struct object whose base `inner` borrows (a list field read through
    /// `ffi::lent_reader_list`), kept alive by this reference. Declared last: fields drop in
    /// order, so `inner` goes first.
    #[allow(
        dead_code,
        reason = "held only to keep the struct alive until this object goes"
    )]
    pub(crate) keep: Option<Py<PyAny>>,
}

impl PyListReader {
    fn len(&self, py: Python<'_>) -> PyResult<u32> {
        self.inner.len().map_err(|e| MsgError::from(e).into_py(py))
    }

    /// Element `i` of a list of numbers, structs, Text or Data read in place, or `None` when
    /// `get` must read it (another element type, or a location the fast reads decline). The
    /// element type picks the one read that can answer.
    fn fast_element(slf: &Bound<'_, Self>, i: i64) -> MsgResult<Option<Py<PyAny>>> {
        let py = slf.py();
        let this = slf.get();
        let elem = this.inner.element_type();
        let text = match elem {
            Type::Text => true,
            Type::Data => false,
            // A struct element borrowing the list's shared part (the element keeps `slf`).
            Type::Struct(_) => return crate::ffi::lent_reader_element(slf, i),
            _ => {
                return match this.inner.scalar_bits(i)? {
                    Some(bits) => Ok(Some(scalar_to_py(py, elem, bits)?)),
                    None => Ok(None),
                };
            }
        };
        match this
            .inner
            .with_blob_element(i, |bytes| blob_under_lock(py, text, bytes))?
        {
            Some(made) => blob_object(py, made).map(Some),
            None => Ok(None),
        }
    }
}

impl PyListReader {
    /// Every element, in order, as `lst[i]` makes it. Numbers, Text and Data are read with
    /// the list's segment found once (`scalar_bits_all`, `for_each_blob`); an element those
    /// decline, and every other kind, is read one at a time.
    fn all_elements(slf: &Bound<'_, Self>) -> MsgResult<Vec<Py<PyAny>>> {
        let py = slf.py();
        let this = slf.get();
        let elem = this.inner.element_type();
        let walk = |i: u32| -> MsgResult<Py<PyAny>> {
            value_to_py(
                py,
                this.inner.get(i64::from(i))?,
                Some(elem),
                &this.registry,
            )
        };
        if let Some(bits) = this.inner.scalar_bits_all() {
            return Ok(bits
                .map(|b| scalar_to_py(py, elem, b))
                .collect::<PyResult<Vec<_>>>()?);
        }
        let mut items = Vec::new();
        let text = *elem == Type::Text;
        let blobs = this.inner.for_each_blob(|i, bytes| -> MsgResult<()> {
            items.push(match bytes {
                // Made while the bytes are borrowed: `str`/`bytes` creation runs no Python code.
                Some(bytes) if !text => PyBytes::new(py, bytes).into_any().unbind(),
                Some(bytes) => match crate::convert::str_under_lock(py, bytes) {
                    Ok(obj) => obj,
                    // Invalid UTF-8: raised as the general path raises it (`text_to_py`).
                    Err(invalid) => text_to_py(py, &invalid)?,
                },
                None => walk(i)?,
            });
            Ok(())
        })?;
        if blobs {
            return Ok(items);
        }
        let len = this.inner.len()?;
        items.reserve(len as usize);
        for i in 0..len {
            items.push(match Self::fast_element(slf, i64::from(i))? {
                Some(obj) => obj,
                None => walk(i)?,
            });
        }
        Ok(items)
    }
}

/// `len()` and `lst[key]` go through these straight from CPython's slots (ffi.rs).
impl SequenceSlots for PyListReader {
    fn type_addr() -> &'static std::sync::atomic::AtomicUsize {
        static TYPE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        &TYPE
    }

    fn slot_len(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.len(py)? as usize)
    }

    fn quick_len(&self) -> Option<usize> {
        self.inner.recorded_len().map(|n| n as usize)
    }

    #[inline(always)]
    fn quick_items(&self) -> bool {
        self.inner.is_scalar_located()
    }

    #[inline(always)]
    fn quick_item(&self, py: Python<'_>, index: i64) -> Option<*mut pyo3::ffi::PyObject> {
        let bits = self.inner.scalar_bits_quick(index)?;
        crate::ffi::scalar_object_raw(py, self.inner.element_type(), bits)
    }

    fn slot_item(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        index: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        // An int index into a list of numbers, Text, Data or structs: the element straight
        // from the message's bytes to a Python object, without a `Value`.
        if let Some(i) = crate::ffi::key_index(key, index) {
            let elem = this.inner.element_type();
            if !elem.is_pointer() && !matches!(elem, Type::Void | Type::Enum(_)) {
                // A number's bits first, with no `Result` of a whole element in between.
                match this.inner.scalar_bits(i) {
                    Ok(Some(bits)) => return scalar_to_py(py, elem, bits),
                    Ok(None) => {}
                    Err(e) => return Err(index_error(py, e.into())),
                }
            } else if let Some(obj) = Self::fast_element(slf, i).map_err(|e| index_error(py, e))? {
                return Ok(obj);
            }
        }
        read_item(
            py,
            |i| this.inner.get(i),
            this.inner.element_type(),
            &this.registry,
            key,
            || this.len(py),
        )
    }
}

#[pymethods]
impl PyListReader {
    fn __reduce_ex__(&self, _protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(crate::any_pointer::not_picklable("_DynamicListReader"))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        self.slot_len(py)
    }

    fn __getitem__(slf: &Bound<'_, Self>, index: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        Self::slot_item(slf, index, None)
    }

    /// Element ``index`` (as ``list[index]``).
    fn _get(&self, py: Python<'_>, index: i64) -> PyResult<Py<PyAny>> {
        let run = || -> MsgResult<_> {
            let i = checked(index, self.inner.len()?)?;
            value_to_py(
                py,
                self.inner.get(i)?,
                Some(self.inner.element_type()),
                &self.registry,
            )
        };
        run().map_err(|e| e.into_py(py))
    }

    /// Iteration reads every element in one pass (a reader does not change under it).
    fn __iter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let run = || -> MsgResult<_> {
            let items = Self::all_elements(slf)?;
            Ok(PyList::new(py, items)?
                .as_any()
                .try_iter()?
                .into_any()
                .unbind())
        };
        run().map_err(|e| e.into_py(py))
    }
    fn __str__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyString>> {
        decode_text_str(py, list_text(&self.inner, true))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let text = decode_text(py, list_text(&self.inner, false))?;
        Ok(format!("<capnp list reader {text}>"))
    }
}

/// List handles released without PyO3's trampoline and their memory reused (`lean_object.rs`):
/// a list field read makes one handle and the caller soon drops it. A handle whose base no
/// other handle shares (it may hold the last reference to its message) goes to PyO3's
/// release, unless its message holds nothing of Python's (`HostFree`).
macro_rules! lean_list {
    ($ty:ty) => {
        impl crate::lean_object::LeanObject for $ty {
            crate::lean_object::lean_object_common!();

            fn lean_release(&self) -> bool {
                self.inner.base_shared() || crate::lean_object::HostFree::host_free(&self.inner)
            }
        }
    };
}

lean_list!(PyListBuilder);
lean_list!(PyListReader);

// Every field of the two classes, so that a field added to either fails to compile here until
// `lean_object.rs` releases it too (`InPlace`).
const _: fn(PyListBuilder) = |v| {
    let PyListBuilder {
        inner: _,
        registry: _,
        keep: _,
    } = v;
};
const _: fn(PyListReader) = |v| {
    let PyListReader {
        inner: _,
        registry: _,
        keep: _,
    } = v;
};
