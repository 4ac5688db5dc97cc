//! `_Registry`: the Rust-owned schema registry of one `SchemaParser`, and the entry points
//! that create messages from it (`new_message`, `from_bytes` and friends).

use std::sync::Arc;

use capnp_dynamic::{MessageBuilder, MessageReader, ReadLimits, Registry};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyString};
use pyo3::{PyTraverseError, PyVisit};

use crate::convert;
use crate::enum_::PyEnum;
use crate::error::{MsgError, MsgResult};
use crate::multiple::PyMessageIterator;
use crate::struct_::{PyStructBuilder, PyStructReader};

/// The schemas one parser compiled, as immutable Rust tables shared by every message.
#[pyclass(frozen, name = "_Registry", module = "capnp.lib.capnp")]
pub(crate) struct PyRegistry {
    pub(crate) inner: Arc<Registry>,
    /// `parser._struct_schema(id)`: the Python `_StructSchema` object of a node id.
    schema_factory: Py<PyAny>,
}

impl PyRegistry {
    /// A registry holding no schema, for messages read without a type.
    pub(crate) fn empty(py: Python<'_>) -> PyResult<PyRegistry> {
        Ok(PyRegistry {
            inner: Arc::new(Registry::new()),
            schema_factory: py.None(),
        })
    }

    /// The Python `_StructSchema` of struct (or group) `id`.
    pub(crate) fn struct_schema(&self, py: Python<'_>, id: u64) -> PyResult<Py<PyAny>> {
        Ok(self.schema_factory.bind(py).call1((id,))?.unbind())
    }
}

/// Read limits from pycapnp's keyword arguments (`None` = default).
fn limits(traversal_limit_in_words: Option<u64>, nesting_limit: Option<i64>) -> ReadLimits {
    ReadLimits {
        traversal_limit_in_words,
        nesting_limit,
    }
}

/// The bytes of any buffer-like object: `bytes` are shared (zero-copy), other buffers copied.
pub(crate) enum InputBytes {
    Shared(PyBackedBytes),
    Copied(Vec<u8>),
}

impl AsRef<[u8]> for InputBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            InputBytes::Shared(b) => b,
            InputBytes::Copied(v) => v,
        }
    }
}

pub(crate) fn input_bytes(buf: &Bound<'_, PyAny>) -> PyResult<InputBytes> {
    if buf.is_instance_of::<PyBytes>() {
        return Ok(InputBytes::Shared(buf.extract::<PyBackedBytes>()?));
    }
    if buf.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err("expected buffer-like object, got str"));
    }
    match pyo3::buffer::PyBuffer::<u8>::get(buf) {
        Ok(b) => Ok(InputBytes::Copied(b.to_vec(buf.py())?)),
        Err(_) => {
            // Buffers of wider items (array('i'), numpy) are read as raw bytes.
            let view = buf
                .py()
                .import("builtins")?
                .getattr("memoryview")?
                .call1((buf,))
                .map_err(|_| {
                    PyTypeError::new_err(format!(
                        "expected buffer-like object, got {}",
                        buf.get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                    ))
                })?;
            let raw: Vec<u8> = view.call_method0("tobytes")?.extract()?;
            Ok(InputBytes::Copied(raw))
        }
    }
}

#[pymethods]
impl PyRegistry {
    #[new]
    fn new(schema_factory: Py<PyAny>) -> Self {
        PyRegistry {
            inner: Arc::new(Registry::new()),
            schema_factory,
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.schema_factory)
    }

    /// Adds every node of a serialized CodeGeneratorRequest; returns the ids added.
    fn add_request(&self, py: Python<'_>, request: &[u8]) -> PyResult<Vec<u64>> {
        self.inner
            .add_request(request)
            .map_err(|e| MsgError::from(e).into_py(py))
    }

    /// A new message whose root is struct `id`; returns the root builder.
    #[pyo3(signature = (id, num_first_segment_words=None))]
    fn new_message(
        slf: &Bound<'_, Self>,
        id: u64,
        num_first_segment_words: Option<u32>,
    ) -> PyResult<Py<PyStructBuilder>> {
        let py = slf.py();
        let message = match num_first_segment_words {
            Some(w) => MessageBuilder::with_first_segment_words(w),
            None => MessageBuilder::new(),
        };
        let root = message
            .init_root(&slf.get().inner, id)
            .map_err(|e| MsgError::from(e).into_py(py))?;
        PyStructBuilder::wrap(py, root, slf.clone().unbind())
    }

    /// One message in stream framing from a buffer-like object; returns the root reader.
    #[pyo3(signature = (id, buf, traversal_limit_in_words=None, nesting_limit=None))]
    fn from_bytes(
        slf: &Bound<'_, Self>,
        id: u64,
        buf: &Bound<'_, PyAny>,
        traversal_limit_in_words: Option<u64>,
        nesting_limit: Option<i64>,
    ) -> PyResult<Py<PyStructReader>> {
        let py = slf.py();
        let bytes = input_bytes(buf)?;
        let run = || -> MsgResult<_> {
            let message = MessageReader::from_bytes(
                Arc::new(bytes),
                limits(traversal_limit_in_words, nesting_limit),
            )?;
            Ok(message.root(&slf.get().inner, id)?)
        };
        let root = run().map_err(|e| e.into_py(py))?;
        PyStructReader::wrap(py, root, slf.clone().unbind())
    }

    #[pyo3(signature = (id, buf, traversal_limit_in_words=None, nesting_limit=None))]
    fn from_bytes_packed(
        slf: &Bound<'_, Self>,
        id: u64,
        buf: &Bound<'_, PyAny>,
        traversal_limit_in_words: Option<u64>,
        nesting_limit: Option<i64>,
    ) -> PyResult<Py<PyStructReader>> {
        let py = slf.py();
        let bytes = input_bytes(buf)?;
        let run = || -> MsgResult<_> {
            let message = MessageReader::from_bytes_packed(
                bytes.as_ref(),
                limits(traversal_limit_in_words, nesting_limit),
            )?;
            Ok(message.root(&slf.get().inner, id)?)
        };
        let root = run().map_err(|e| e.into_py(py))?;
        PyStructReader::wrap(py, root, slf.clone().unbind())
    }

    #[pyo3(signature = (id, segments, traversal_limit_in_words=None, nesting_limit=None))]
    fn from_segments(
        slf: &Bound<'_, Self>,
        id: u64,
        segments: Vec<Bound<'_, PyAny>>,
        traversal_limit_in_words: Option<u64>,
        nesting_limit: Option<i64>,
    ) -> PyResult<Py<PyStructReader>> {
        let py = slf.py();
        let mut parts: Vec<Arc<dyn AsRef<[u8]> + Send + Sync>> = Vec::new();
        for s in &segments {
            parts.push(Arc::new(input_bytes(s)?));
        }
        let run = || -> MsgResult<_> {
            let message = MessageReader::from_segments(
                parts,
                limits(traversal_limit_in_words, nesting_limit),
            )?;
            Ok(message.root(&slf.get().inner, id)?)
        };
        let root = run().map_err(|e| e.into_py(py))?;
        PyStructReader::wrap(py, root, slf.clone().unbind())
    }

    /// The value of list, struct or AnyPointer constant `id`: a reader over a copy of it.
    fn const_value(slf: &Bound<'_, Self>, id: u64) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let run = || -> MsgResult<_> {
            let value = slf.get().inner.const_value(id)?;
            // Only enum values need their type, and they are not pointers.
            convert::value_to_py(py, value, None, &slf.clone().unbind())
        };
        run().map_err(|e| e.into_py(py))
    }

    /// Consecutive messages (stream framing, or packed) in a buffer-like object.
    #[pyo3(signature = (id, buf, packed, traversal_limit_in_words=None, nesting_limit=None))]
    fn read_multiple_bytes(
        slf: &Bound<'_, Self>,
        id: u64,
        buf: &Bound<'_, PyAny>,
        packed: bool,
        traversal_limit_in_words: Option<u64>,
        nesting_limit: Option<i64>,
    ) -> PyResult<PyMessageIterator> {
        crate::multiple::over_bytes(
            Some((slf.clone().unbind(), id)),
            buf,
            packed,
            traversal_limit_in_words,
            nesting_limit,
        )
    }

    /// Consecutive messages of a stream read through `read(n) -> bytes`.
    #[pyo3(signature = (id, read, packed, traversal_limit_in_words=None, nesting_limit=None))]
    fn read_multiple(
        slf: &Bound<'_, Self>,
        id: u64,
        read: Py<PyAny>,
        packed: bool,
        traversal_limit_in_words: Option<u64>,
        nesting_limit: Option<i64>,
    ) -> PyMessageIterator {
        crate::multiple::over_stream(
            Some((slf.clone().unbind(), id)),
            read,
            packed,
            traversal_limit_in_words,
            nesting_limit,
        )
    }

    /// Unknown struct and enum ids read as empty placeholders (a `SchemaLoader`'s registry).
    fn enable_placeholders(&self) {
        self.inner.enable_placeholders();
    }

    /// The `_DynamicEnum` of ordinal `raw` of enum `id` (schema constants).
    fn make_enum(&self, py: Python<'_>, id: u64, raw: u16) -> PyResult<PyEnum> {
        let schema = self
            .inner
            .get_enum(id)
            .map_err(|e| MsgError::from(e).into_py(py))?;
        Ok(PyEnum::new(schema, raw))
    }
}
