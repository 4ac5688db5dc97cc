//! Whole messages as Python objects (API.md 3.13): the native side of `_MessageBuilder`
//! (`init_root`, `get_root`, `set_root`, `new_orphan`, segments) and of `_MessageReader`
//! (`get_root`, `get_root_as_any`). The Python classes in `capnp.py` resolve schemas into
//! a parser registry and a node id and call these.

use std::sync::Arc;

use capnp_dynamic::{MessageBuilder, MessageReader, Orphan, ReadLimits};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::any_pointer::{PyObjectBuilder, PyObjectReader, PyOrphan};
use crate::buffer;
use crate::error::MsgError;
use crate::registry::PyRegistry;
use crate::struct_::{detach_if, PyStructBuilder, PyStructReader, DETACH_BYTES};

fn msg_err(py: Python<'_>, e: capnp_dynamic::Error) -> PyErr {
    MsgError::from(e).into_py(py)
}

/// The root of `m` (a struct `id` of `registry`) as a reader.
pub(crate) fn root_reader(
    py: Python<'_>,
    m: &MessageBuilder,
    registry: Py<PyRegistry>,
    id: u64,
) -> PyResult<Py<PyAny>> {
    let root = m
        .get_root(&registry.get().inner, id)
        .map_err(|e| msg_err(py, e))?;
    PyStructReader::wrap(py, root.as_reader(), registry)
}

/// A message being built, not yet bound to a root type.
#[pyclass(frozen, name = "_MessageHandle", module = "capnp.lib.capnp")]
pub(crate) struct PyMessageHandle {
    inner: MessageBuilder,
}

/// Whether serializing `m` should release the GIL: large, and no writable Data view into it.
fn large(m: &MessageBuilder) -> bool {
    !m.is_volatile() && m.size_in_words() * 8 >= DETACH_BYTES
}

impl PyMessageHandle {
    pub(crate) fn from_inner(inner: MessageBuilder) -> Self {
        inner.enable_caps();
        PyMessageHandle { inner }
    }

    pub(crate) fn message(&self) -> &MessageBuilder {
        &self.inner
    }
}

#[pymethods]
impl PyMessageHandle {
    /// `first_segment_words`: size of the first segment (default 1024 words);
    /// `allocate_seg_callable`: builds the message in the buffers it returns
    /// (`segment_buffer.rs`).
    #[new]
    #[pyo3(signature = (first_segment_words=None, allocate_seg_callable=None))]
    fn new(
        py: Python<'_>,
        first_segment_words: Option<u32>,
        allocate_seg_callable: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let inner =
            crate::segment_buffer::new_message(py, first_segment_words, allocate_seg_callable)?;
        Ok(PyMessageHandle { inner })
    }

    /// Gives the message a capability context (requests and results have one).
    fn enable_caps(&self) {
        self.inner.enable_caps();
    }

    /// A zeroed root of struct `id`; returns the root builder.
    fn init_root(&self, py: Python<'_>, registry: Py<PyRegistry>, id: u64) -> PyResult<Py<PyAny>> {
        let root = self
            .inner
            .init_root(&registry.get().inner, id)
            .map_err(|e| msg_err(py, e))?;
        PyStructBuilder::wrap(py, root, registry)
    }

    /// The existing root as struct `id` (allocated when null).
    fn get_root(&self, py: Python<'_>, registry: Py<PyRegistry>, id: u64) -> PyResult<Py<PyAny>> {
        let root = self
            .inner
            .get_root(&registry.get().inner, id)
            .map_err(|e| msg_err(py, e))?;
        PyStructBuilder::wrap(py, root, registry)
    }

    /// The root (a struct `id` of `registry`) as a reader.
    fn get_root_reader(
        &self,
        py: Python<'_>,
        registry: Py<PyRegistry>,
        id: u64,
    ) -> PyResult<Py<PyAny>> {
        root_reader(py, &self.inner, registry, id)
    }

    /// The root pointer as a `_DynamicObjectBuilder`.
    fn get_root_as_any(&self, py: Python<'_>) -> PyResult<PyObjectBuilder> {
        let empty = PyRegistry::empty(py)?;
        Ok(PyObjectBuilder {
            inner: self.inner.root_as_any(&empty.inner),
            registry: None,
        })
    }

    /// Deep-copies a struct reader or builder into the root; returns the new root builder.
    fn set_root(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let (reader, registry) = if let Ok(b) = value.cast::<PyStructBuilder>() {
            let b = b.get();
            (b.inner.as_reader(), b.registry.clone_ref(py))
        } else if let Ok(r) = value.cast::<PyStructReader>() {
            let r = r.get();
            (r.inner.clone(), r.registry.clone_ref(py))
        } else {
            return Err(PyTypeError::new_err(format!(
                "set_root expects a struct reader or builder, got {}",
                value.get_type().name()?
            )));
        };
        let message = self.inner.clone();
        let root = crate::ffi::detach(py, || reader.as_builder_with(message))
            .map_err(|e| msg_err(py, e))?;
        PyStructBuilder::wrap(py, root, registry)
    }

    /// One `bytes` per segment, without framing.
    fn get_segments_for_output<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        let inner = &self.inner;
        let segments = detach_if(py, large(inner), || inner.to_segments());
        segments.iter().map(|s| PyBytes::new(py, s)).collect()
    }

    /// Standard stream framing (`_write_message_to_fd`).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let inner = &self.inner;
        let out = detach_if(py, large(inner), || inner.to_bytes());
        PyBytes::new(py, &out)
    }

    /// Packed stream framing (`_write_packed_message_to_fd`, `_message_to_packed_bytes`).
    fn to_bytes_packed<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let inner = &self.inner;
        let out = detach_if(py, large(inner), || inner.to_bytes_packed());
        PyBytes::new(py, &out)
    }

    /// A new zeroed struct `id` attached to nothing, for `adopt`.
    fn new_orphan(&self, py: Python<'_>, registry: Py<PyRegistry>, id: u64) -> PyResult<PyOrphan> {
        // The orphan lives in a private message until adopted; adoption copies it, so
        // which arena holds it is not observable.
        let orphan = Orphan::new_struct(&registry.get().inner, id).map_err(|e| msg_err(py, e))?;
        Ok(PyOrphan {
            inner: orphan,
            registry,
        })
    }
}

/// A message read from bytes, not yet bound to a root type.
#[pyclass(frozen, name = "_MessageReaderHandle", module = "capnp.lib.capnp")]
pub(crate) struct PyMessageReaderHandle {
    inner: Arc<MessageReader>,
}

#[pymethods]
impl PyMessageReaderHandle {
    /// One message in stream framing (`packed`: the packed encoding) from a buffer.
    #[new]
    #[pyo3(signature = (buf, packed, traversal_limit_in_words=None, nesting_limit=None))]
    fn new(
        py: Python<'_>,
        buf: &Bound<'_, PyAny>,
        packed: bool,
        traversal_limit_in_words: Option<u64>,
        nesting_limit: Option<i64>,
    ) -> PyResult<Self> {
        let limits = ReadLimits {
            traversal_limit_in_words,
            nesting_limit,
        };
        let input = buffer::input(buf)?;
        let message = if packed {
            MessageReader::from_bytes_packed((*input.bytes).as_ref(), limits)
        } else {
            MessageReader::from_bytes_shared(input.bytes, limits, input.sharing)
        }
        .map_err(|e| msg_err(py, e))?;
        Ok(PyMessageReaderHandle { inner: message })
    }

    /// The root as struct `id`.
    fn get_root(&self, py: Python<'_>, registry: Py<PyRegistry>, id: u64) -> PyResult<Py<PyAny>> {
        let root = self
            .inner
            .root(&registry.get().inner, id)
            .map_err(|e| msg_err(py, e))?;
        PyStructReader::wrap(py, root, registry)
    }

    /// The root pointer as a `_DynamicObjectReader`.
    fn get_root_as_any(&self, py: Python<'_>) -> PyResult<PyObjectReader> {
        let empty = PyRegistry::empty(py)?;
        Ok(PyObjectReader {
            inner: self.inner.root_as_any(&empty.inner),
            registry: None,
        })
    }
}

/// The name of `field` (a `_StructSchemaField`) after checking it belongs to struct
/// `struct_id`: the argument of `_get_by_field` and its siblings.
pub(crate) fn by_field_name(field: &Bound<'_, PyAny>, struct_id: u64) -> PyResult<String> {
    let lib = field.py().import("capnp.lib.capnp")?;
    lib.getattr("_by_field_name")?
        .call1((field, struct_id))?
        .extract()
}

/// `builder.init_resizable_list(field)`: the Python `_DynamicResizableListBuilder`.
pub(crate) fn resizable_list(
    builder: &Bound<'_, PyAny>,
    field: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let lib = builder.py().import("capnp.lib.capnp")?;
    Ok(lib
        .getattr("_DynamicResizableListBuilder")?
        .call1((builder, field))?
        .unbind())
}
