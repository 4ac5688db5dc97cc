//! The buffer protocol, both ways, and the crate's only unsafe code: messages read in place
//! from any Python object exporting a buffer (`bytearray`, `memoryview`, `mmap`, numpy ...),
//! and memoryviews over the elements of lists of numbers (`memoryview(reader.someInts)`).
//!
//! Safety argument (docs/ARCHITECTURE.md, "Unsafe code"):
//! - A held `Py_buffer` keeps its exporter alive and its memory valid and in place until
//!   `PyBuffer_Release` (the buffer protocol's contract). `PyBufferBytes` releases it only
//!   when dropped, so a slice it hands out is valid while the `&self` borrow lasts. Dropping
//!   is sound on any thread: PyO3's `Drop` attaches to the interpreter itself.
//! - A *writable* export can be written by Python code while we read it. capnp re-reads
//!   words it validated, so such a write could defeat its bounds checks. Python code runs
//!   only while its thread holds the GIL, so every read of a message over a writable buffer
//!   holds the GIL (`Sharing::volatile`; the binding never detaches around such a read).
//!   Native code that writes an exported buffer with the GIL released (another thread's
//!   `readinto` into the same `bytearray`, another process writing a shared `mmap`) is a
//!   data race the caller must avoid, as with any zero-copy reader (pycapnp included).
//! - Views we export point into bytes a `PinnedBytes` keeps in place; the view owns it
//!   (`Py_buffer.internal`) until `__releasebuffer__`, and owns a reference to the list.

#![allow(unsafe_code)]

use std::ffi::{c_int, c_void, CStr};
use std::sync::Arc;

use capnp_dynamic::{ElementBytes, Sharing, Type};
use pyo3::exceptions::{PyBufferError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyString};

use crate::error::MsgError;
use crate::list::{PyListBuilder, PyListReader};

/// A Python object's buffer, held exported: the object cannot be resized or closed (a
/// `bytearray` raises `BufferError`) until this is dropped.
pub(crate) struct PyBufferBytes {
    buf: pyo3::buffer::PyUntypedBuffer,
}

impl AsRef<[u8]> for PyBufferBytes {
    fn as_ref(&self) -> &[u8] {
        let len = self.buf.len_bytes();
        let ptr = self.buf.buf_ptr().cast::<u8>().cast_const();
        if len == 0 || ptr.is_null() {
            return &[];
        }
        // SAFETY: `get` accepted only C-contiguous buffers, so `len_bytes` bytes from
        // `buf_ptr` are the exporter's memory, valid and in place while the export is held,
        // which is while `self` lives (module docs). Writes by Python code cannot happen
        // during the borrow: readers of writable exports hold the GIL (module docs).
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// The input of `from_bytes` and friends: bytes to read and how they are shared.
pub(crate) struct Input {
    pub(crate) bytes: Arc<dyn AsRef<[u8]> + Send + Sync>,
    pub(crate) sharing: Sharing,
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// The bytes of a buffer-like object, in place where possible: `bytes` are shared for ever
/// (the reader stays valid after its `with` block, as pycapnp's); other contiguous buffers
/// are held exported and releasable; non-contiguous ones are copied (still releasable, so
/// every non-`bytes` reader behaves alike after its `with` block).
pub(crate) fn input(obj: &Bound<'_, PyAny>) -> PyResult<Input> {
    if obj.is_instance_of::<PyBytes>() {
        return Ok(Input {
            bytes: Arc::new(obj.extract::<PyBackedBytes>()?),
            sharing: Sharing::default(),
        });
    }
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err("expected buffer-like object, got str"));
    }
    let buf = pyo3::buffer::PyUntypedBuffer::get(obj).map_err(|_| {
        PyTypeError::new_err(format!(
            "expected buffer-like object, got {}",
            type_name(obj)
        ))
    })?;
    if buf.is_c_contiguous() {
        let volatile = !buf.readonly();
        return Ok(Input {
            bytes: Arc::new(PyBufferBytes { buf }),
            sharing: Sharing {
                releasable: true,
                volatile,
            },
        });
    }
    drop(buf);
    let raw: Vec<u8> = obj
        .py()
        .import("builtins")?
        .getattr("memoryview")?
        .call1((obj,))?
        .call_method0("tobytes")?
        .extract()?;
    Ok(Input {
        bytes: Arc::new(raw),
        sharing: Sharing {
            releasable: true,
            volatile: false,
        },
    })
}

/// What a view we export owns until `__releasebuffer__`.
struct Export {
    bytes: capnp_dynamic::PinnedBytes,
    shape: [ffi::Py_ssize_t; 1],
    strides: [ffi::Py_ssize_t; 1],
}

/// The struct-module format of a list element type (native order: little-endian hosts only).
fn format_of(elem: &Type) -> Option<&'static CStr> {
    Some(match elem {
        Type::Int8 => c"b",
        Type::UInt8 => c"B",
        Type::Int16 => c"h",
        Type::UInt16 => c"H",
        Type::Int32 => c"i",
        Type::UInt32 => c"I",
        Type::Int64 => c"q",
        Type::UInt64 => c"Q",
        Type::Float32 => c"f",
        Type::Float64 => c"d",
        _ => return None,
    })
}

/// Fills `view` with a read-only, one-dimensional array over `elems`, owned by the view.
///
/// # Safety
/// `view` must be the `Py_buffer` that `bf_getbuffer` was called with (valid for writes).
unsafe fn fill(
    owner: Bound<'_, PyAny>,
    view: *mut ffi::Py_buffer,
    flags: c_int,
    elems: ElementBytes,
    format: &'static CStr,
) -> PyResult<()> {
    if view.is_null() {
        return Err(PyBufferError::new_err("View is null"));
    }
    if flags & ffi::PyBUF_WRITABLE == ffi::PyBUF_WRITABLE {
        return Err(PyBufferError::new_err(
            "list buffers are read-only (a builder's list exports a copy)",
        ));
    }
    let (Ok(len), Ok(itemsize), Ok(count)) = (
        ffi::Py_ssize_t::try_from(elems.bytes.as_slice().len()),
        ffi::Py_ssize_t::try_from(elems.width),
        ffi::Py_ssize_t::try_from(elems.count),
    ) else {
        return Err(PyBufferError::new_err("list too large for a buffer"));
    };
    let export = Box::new(Export {
        bytes: elems.bytes,
        shape: [count],
        strides: [itemsize],
    });
    let buf = export.bytes.as_slice().as_ptr().cast_mut().cast::<c_void>();
    let export = Box::into_raw(export);
    // SAFETY: `view` is valid for writes (caller). `buf` stays valid while `export` lives
    // (`PinnedBytes`), and `export` lives until `release` frees it; `shape`/`strides` point
    // into it. The view owns a reference to `owner` (Python's view releases it).
    unsafe {
        (*view).obj = owner.into_ptr();
        (*view).buf = buf;
        (*view).len = len;
        (*view).readonly = 1;
        (*view).itemsize = itemsize;
        (*view).format = if flags & ffi::PyBUF_FORMAT == ffi::PyBUF_FORMAT {
            format.as_ptr().cast_mut()
        } else {
            std::ptr::null_mut()
        };
        (*view).ndim = 1;
        (*view).shape = if flags & ffi::PyBUF_ND == ffi::PyBUF_ND {
            (*export).shape.as_mut_ptr()
        } else {
            std::ptr::null_mut()
        };
        (*view).strides = if flags & ffi::PyBUF_STRIDES == ffi::PyBUF_STRIDES {
            (*export).strides.as_mut_ptr()
        } else {
            std::ptr::null_mut()
        };
        (*view).suboffsets = std::ptr::null_mut();
        (*view).internal = export.cast::<c_void>();
    }
    Ok(())
}

/// Frees what `fill` gave the view.
///
/// # Safety
/// `view` must be a view `fill` filled, released once (Python calls `bf_releasebuffer`
/// exactly once per successful `bf_getbuffer`).
unsafe fn release(view: *mut ffi::Py_buffer) {
    if view.is_null() {
        return;
    }
    // SAFETY: `internal` is the `Box<Export>` leaked by `fill` (or null), freed only here.
    unsafe {
        let export = (*view).internal.cast::<Export>();
        if !export.is_null() {
            (*view).internal = std::ptr::null_mut();
            drop(Box::from_raw(export));
        }
    }
}

fn element_format(elem: &Type) -> PyResult<&'static CStr> {
    if cfg!(target_endian = "big") {
        return Err(PyBufferError::new_err(
            "list buffers are little-endian; not exported on big-endian hosts",
        ));
    }
    format_of(elem).ok_or_else(|| PyBufferError::new_err("list elements have no buffer format"))
}

#[pymethods]
impl PyListReader {
    /// `memoryview(list)` (**[ext]**): the elements of a list of numbers, read-only and in
    /// place in the message.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let py = slf.py();
        // Unsupported element types fail here, saying why (Bool is bit-packed ...).
        let elems = slf
            .get()
            .inner
            .element_bytes()
            .map_err(|e| MsgError::from(e).into_py(py))?;
        let format = element_format(slf.get().inner.element_type())?;
        // SAFETY: `view` is the one Python passed to `bf_getbuffer`.
        unsafe { fill(slf.into_any(), view, flags, elems, format) }
    }

    unsafe fn __releasebuffer__(&self, view: *mut ffi::Py_buffer) {
        // SAFETY: Python releases each view it got from `__getbuffer__` once.
        unsafe { release(view) }
    }
}

#[pymethods]
impl PyListBuilder {
    /// `memoryview(list)` (**[ext]**): a read-only copy of the elements of a list of numbers
    /// (a builder's bytes are written under its lock, so they are not lent out).
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let py = slf.py();
        // Unsupported element types fail here, saying why (Bool is bit-packed ...).
        let elems = slf
            .get()
            .inner
            .element_bytes()
            .map_err(|e| MsgError::from(e).into_py(py))?;
        let format = element_format(slf.get().inner.element_type())?;
        // SAFETY: `view` is the one Python passed to `bf_getbuffer`.
        unsafe { fill(slf.into_any(), view, flags, elems, format) }
    }

    unsafe fn __releasebuffer__(&self, view: *mut ffi::Py_buffer) {
        // SAFETY: Python releases each view it got from `__getbuffer__` once.
        unsafe { release(view) }
    }
}

/// What a `_DataView` exports: a reader's bytes (read-only), a builder's Data (writable),
/// or a builder's segment (read-only, `to_segment_views`).
enum DataBytes {
    Pinned(capnp_dynamic::PinnedBytes),
    Lent(capnp_dynamic::LentMut),
    Segment(capnp_dynamic::LentSegment),
}

/// The `.obj` of a `get_data_as_view` memoryview: owns the bytes and a reference to the
/// struct it was taken from (API.md 3.4).
#[pyclass(frozen, name = "_DataView", module = "capnp.lib.capnp")]
pub(crate) struct PyDataView {
    owner: Py<PyAny>,
    bytes: DataBytes,
}

/// Something to point an empty view at (a view's `buf` must not be null).
static EMPTY: [u8; 8] = [0; 8];

#[pymethods]
impl PyDataView {
    fn __len__(&self) -> usize {
        match &self.bytes {
            DataBytes::Pinned(p) => p.as_slice().len(),
            DataBytes::Lent(l) => l.len(),
            DataBytes::Segment(l) => l.len(),
        }
    }

    /// The struct the bytes belong to.
    #[getter]
    fn owner(&self, py: Python<'_>) -> Py<PyAny> {
        self.owner.clone_ref(py)
    }

    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        if view.is_null() {
            return Err(PyBufferError::new_err("View is null"));
        }
        let (buf, len, readonly) = match &slf.get().bytes {
            DataBytes::Pinned(p) => (p.as_slice().as_ptr().cast_mut(), p.as_slice().len(), 1),
            DataBytes::Lent(l) if l.is_empty() => (EMPTY.as_ptr().cast_mut(), 0, 0),
            DataBytes::Lent(l) => (l.addr() as *mut u8, l.len(), 0),
            DataBytes::Segment(l) if l.is_empty() => (EMPTY.as_ptr().cast_mut(), 0, 1),
            DataBytes::Segment(l) => (l.addr() as *mut u8, l.len(), 1),
        };
        if readonly == 1 && flags & ffi::PyBUF_WRITABLE == ffi::PyBUF_WRITABLE {
            return Err(PyBufferError::new_err(match &slf.get().bytes {
                DataBytes::Segment(_) => "segment views are read-only",
                _ => "a reader's Data is read-only",
            }));
        }
        let len = ffi::Py_ssize_t::try_from(len)
            .map_err(|_| PyBufferError::new_err("Data too large for a buffer"))?;
        let buf = if len == 0 {
            EMPTY.as_ptr().cast_mut()
        } else {
            buf
        };
        // SAFETY: `view` is valid for writes (Python passes it to `bf_getbuffer`). `buf` is
        // valid for `len` bytes while `slf` lives: a `PinnedBytes` keeps its bytes in place,
        // a `LentMut` or `LentSegment` names bytes of a builder segment that never moves and
        // lives as long as the message it keeps (segments only grow in number; the used
        // length taken at lending stays inside the segment); `EMPTY` is static and, with
        // `len` 0, never written. Segments are exported read-only, so Python never writes
        // the pointers capnp's builders trust. The view
        // owns a reference to `slf` (`obj`), released by Python with the view. `len` doubles
        // as the shape and 1 as the stride, as `PyBuffer_FillInfo` does.
        unsafe {
            (*view).obj = slf.into_any().into_ptr();
            (*view).buf = buf.cast::<c_void>();
            (*view).len = len;
            (*view).readonly = readonly;
            (*view).itemsize = 1;
            (*view).format = if flags & ffi::PyBUF_FORMAT == ffi::PyBUF_FORMAT {
                c"B".as_ptr().cast_mut()
            } else {
                std::ptr::null_mut()
            };
            (*view).ndim = 1;
            (*view).shape = if flags & ffi::PyBUF_ND == ffi::PyBUF_ND {
                &raw mut (*view).len
            } else {
                std::ptr::null_mut()
            };
            (*view).strides = if flags & ffi::PyBUF_STRIDES == ffi::PyBUF_STRIDES {
                &raw mut (*view).itemsize
            } else {
                std::ptr::null_mut()
            };
            (*view).suboffsets = std::ptr::null_mut();
            (*view).internal = std::ptr::null_mut();
        }
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {}
}

/// `get_data_as_view` failures: pycapnp's `TypeError` for a field of another type,
/// `AttributeError` for an unknown one.
fn data_view_error(py: Python<'_>, name: &str, e: capnp_dynamic::Error) -> PyErr {
    match e {
        capnp_dynamic::Error::TypeMismatch => {
            PyTypeError::new_err(format!("Field '{name}' is not a DATA field"))
        }
        other => MsgError::from(other).into_py_attr(py),
    }
}

fn memoryview_of(py: Python<'_>, exporter: PyDataView) -> PyResult<Py<PyAny>> {
    let obj = Py::new(py, exporter)?;
    Ok(py
        .import("builtins")?
        .getattr("memoryview")?
        .call1((obj,))?
        .unbind())
}

#[pymethods]
impl crate::struct_::PyStructReader {
    /// A read-only `memoryview` over Data field `field`, in place in the message.
    fn get_data_as_view(slf: &Bound<'_, Self>, field: &str) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let bytes = slf
            .get()
            .inner
            .data_bytes(field)
            .map_err(|e| data_view_error(py, field, e))?;
        memoryview_of(
            py,
            PyDataView {
                owner: slf.clone().into_any().unbind(),
                bytes: DataBytes::Pinned(bytes),
            },
        )
    }
}

#[pymethods]
impl crate::struct_::PyStructBuilder {
    /// A writable `memoryview` over Data field `field`, in place in the message.
    fn get_data_as_view(slf: &Bound<'_, Self>, field: &str) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let lent = slf
            .get()
            .inner
            .data_view(field)
            .map_err(|e| data_view_error(py, field, e))?;
        memoryview_of(
            py,
            PyDataView {
                owner: slf.clone().into_any().unbind(),
                bytes: DataBytes::Lent(lent),
            },
        )
    }
}

/// What `to_segment_views()` returns: one read-only memoryview per segment, in place in the
/// builder's memory (API.md 3.10).
#[pyclass(frozen, sequence, name = "_SegmentViews", module = "capnp.lib.capnp")]
pub(crate) struct PySegmentViews {
    views: Vec<Py<PyAny>>,
}

#[pymethods]
impl PySegmentViews {
    fn __len__(&self) -> usize {
        self.views.len()
    }

    fn __getitem__(&self, py: Python<'_>, index: isize) -> PyResult<Py<PyAny>> {
        let len = self.views.len() as isize;
        let i = if index < 0 { index + len } else { index };
        if i < 0 || i >= len {
            return Err(pyo3::exceptions::PyIndexError::new_err(
                "segment index out of range",
            ));
        }
        Ok(self.views[i as usize].clone_ref(py))
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let list = pyo3::types::PyList::new(py, self.views.iter().map(|v| v.clone_ref(py)))?;
        Ok(list.try_iter()?.into_any().unbind())
    }

    fn __repr__(&self) -> String {
        format!("<capnp segment views count={}>", self.views.len())
    }
}

#[pymethods]
impl crate::struct_::PyStructBuilder {
    /// Read-only memoryviews of the message's segments, in place (no copy): for
    /// `socket.sendmsg` and the like. Each keeps the message alive and shows the segment's
    /// bytes in use at the time of the call; writing the message afterwards changes what
    /// the views show (the caller's business). Root builders only; warns when the message
    /// was written already, without marking it written.
    fn to_segment_views(slf: &Bound<'_, Self>) -> PyResult<PySegmentViews> {
        let py = slf.py();
        slf.get().check_written(py, false)?;
        let segments = slf
            .get()
            .inner
            .lend_segments()
            .map_err(|e| MsgError::from(e).into_py(py))?;
        let views = segments
            .into_iter()
            .map(|segment| {
                memoryview_of(
                    py,
                    PyDataView {
                        owner: slf.clone().into_any().unbind(),
                        bytes: DataBytes::Segment(segment),
                    },
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PySegmentViews { views })
    }
}
