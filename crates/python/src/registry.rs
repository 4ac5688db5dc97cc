//! `_Registry`: the Rust-owned schema registry of one `SchemaParser`, and the entry points
//! that create messages from it (`new_message`, `from_bytes` and friends).

use std::sync::{Arc, OnceLock};

use capnp_dynamic::{MessageBuilder, MessageReader, ReadLimits, Registry, Sharing, StructSchema};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyList, PyString, PyTuple};
use pyo3::{PyTraverseError, PyVisit};

use crate::buffer;
use crate::convert;
use crate::enum_::PyEnum;
use crate::error::{MsgError, MsgResult};
use crate::multiple::PyMessageIterator;
use crate::struct_::{detach_if, PyStructBuilder, PyStructReader};

/// Text given as `str` (encoded as UTF-8) or a bytes-like object.
fn text_argument(text: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = text.cast::<PyString>() {
        return Ok(s.to_str()?.as_bytes().to_vec());
    }
    let input = buffer::input(text).map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(format!(
            "expected str or a bytes-like object, got {}",
            text.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    Ok((*input.bytes).as_ref().to_vec())
}

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

/// The root reader (the handle itself) of one message in stream framing in `buf`.
fn read_root(
    registry: &Bound<'_, PyRegistry>,
    schema: impl FnOnce(&Arc<Registry>) -> capnp_dynamic::Result<Arc<StructSchema>>,
    buf: &Bound<'_, PyAny>,
    traversal_limit_in_words: Option<u64>,
    nesting_limit: Option<i64>,
) -> PyResult<Py<PyStructReader>> {
    let py = registry.py();
    // Zero-copy; a buffer other than `bytes` stays exported until `__exit__` releases it.
    let input = buffer::input(buf)?;
    let run = || -> MsgResult<_> {
        let inner = &registry.get().inner;
        Ok(MessageReader::root_from_bytes_with(
            input.bytes,
            limits(traversal_limit_in_words, nesting_limit),
            input.sharing,
            inner,
            || schema(inner),
        )?)
    };
    let root = run().map_err(|e| e.into_py(py))?;
    PyStructReader::wrap_raw(py, root, registry.clone().unbind())
}

/// The root reader of one packed message in `buf`, of the struct `schema` finds in the
/// registry (asked after the root pointer is read, as `MessageReader::root` asks for its id).
fn read_packed_root(
    slf: &Bound<'_, PyRegistry>,
    schema: impl FnOnce(&Registry) -> capnp_dynamic::Result<Arc<StructSchema>>,
    buf: &Bound<'_, PyAny>,
    limits: ReadLimits,
) -> PyResult<Py<PyAny>> {
    let py = slf.py();
    // Large inputs unpack without the GIL, unless Python code could write them meanwhile
    // (packing shrinks runs of zeros ~1000-fold, so a few KiB may unpack to megabytes).
    let message = if let Ok(bytes) = buf.cast::<PyBytes>() {
        // Immutable, and alive until the call returns (the caller's reference): read in
        // place, without the shared handle `buffer::input` makes for readers that keep it.
        let data = bytes.as_bytes();
        detach_if(py, data.len() >= 4096, || {
            MessageReader::from_bytes_packed_for_root(data, limits)
        })
    } else {
        let input = buffer::input(buf)?;
        let unpack = || MessageReader::from_bytes_packed_for_root((*input.bytes).as_ref(), limits);
        let large = !input.sharing.volatile && (*input.bytes).as_ref().len() >= 4096;
        detach_if(py, large, unpack)
    };
    let registry = &slf.get().inner;
    let run = || -> MsgResult<_> { Ok(message?.into_root(registry, || schema(registry))?) };
    let root = run().map_err(|e| e.into_py(py))?;
    PyStructReader::wrap(py, root, slf.clone().unbind())
}

/// Read limits from pycapnp's keyword arguments (`None` = default).
fn limits(traversal_limit_in_words: Option<u64>, nesting_limit: Option<i64>) -> ReadLimits {
    ReadLimits {
        traversal_limit_in_words,
        nesting_limit,
    }
}

/// A `traversal_limit_in_words` argument of the struct entry points: an exact `int` read with
/// `ffi::int_as_u64` (PyO3's `u64` goes through `_PyLong_AsByteArray` for an `int` of more
/// than 30 bits, such as the `2**62` programs pass for "unlimited"); anything else, or a value
/// that does not fit, as PyO3 extracts a `u64`, with its errors.
pub(crate) struct WordLimit(u64);

impl<'a, 'py> FromPyObject<'a, 'py> for WordLimit {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(int) = obj.cast_exact::<PyInt>() {
            if let Some(words) = crate::ffi::int_as_u64(&int) {
                return Ok(WordLimit(words));
            }
        }
        obj.extract::<u64>().map(WordLimit)
    }
}

/// `limits` of the struct entry points' arguments.
fn entry_limits(
    traversal_limit_in_words: Option<WordLimit>,
    nesting_limit: Option<i64>,
) -> ReadLimits {
    limits(traversal_limit_in_words.map(|w| w.0), nesting_limit)
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

    /// A registry over the same tables whose `.schema` objects come from `schema_factory`:
    /// the parser's constant values hold one whose factory reaches the parser weakly, so that
    /// they (readers, not seen by the cyclic GC) do not keep the parser and its modules alive.
    fn _sharing(&self, schema_factory: Py<PyAny>) -> PyRegistry {
        PyRegistry {
            inner: self.inner.clone(),
            schema_factory,
        }
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
    ) -> PyResult<Py<PyAny>> {
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
    ) -> PyResult<Py<PyAny>> {
        // As pycapnp: the type registry applies to what the context manager yields.
        let schema = |registry: &Arc<Registry>| registry.get_struct(id);
        Ok(read_root(slf, schema, buf, traversal_limit_in_words, nesting_limit)?.into_any())
    }

    #[pyo3(signature = (id, buf, traversal_limit_in_words=None, nesting_limit=None))]
    fn from_bytes_packed(
        slf: &Bound<'_, Self>,
        id: u64,
        buf: &Bound<'_, PyAny>,
        traversal_limit_in_words: Option<u64>,
        nesting_limit: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        read_packed_root(
            slf,
            |registry| registry.get_struct(id),
            buf,
            limits(traversal_limit_in_words, nesting_limit),
        )
    }

    #[pyo3(signature = (id, segments, traversal_limit_in_words=None, nesting_limit=None))]
    fn from_segments(
        slf: &Bound<'_, Self>,
        id: u64,
        segments: Vec<Bound<'_, PyAny>>,
        traversal_limit_in_words: Option<u64>,
        nesting_limit: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        segments_root(
            slf,
            |registry| registry.get_struct(id),
            segments.iter().cloned().map(Ok),
            limits(traversal_limit_in_words, nesting_limit),
        )
    }

    /// A new message of struct `id` filled from JSON text (the reference's `JsonCodec`
    /// conventions and `json.capnp` annotations); returns the root builder.
    #[pyo3(signature = (id, text, reject_unknown_fields=false))]
    fn from_json(
        slf: &Bound<'_, Self>,
        id: u64,
        text: &Bound<'_, PyAny>,
        reject_unknown_fields: bool,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let text = text_argument(text)?;
        let options = capnp_dynamic::json::DecodeOptions {
            reject_unknown_fields,
        };
        let run = || -> MsgResult<_> {
            let root = MessageBuilder::new().init_root(&slf.get().inner, id)?;
            capnp_dynamic::json::json_to_struct(&text, &root, options)?;
            Ok(root)
        };
        let root = run().map_err(|e| e.into_py(py))?;
        PyStructBuilder::wrap(py, root, slf.clone().unbind())
    }

    /// A new message of struct `id` filled from the text format (what `str()` prints);
    /// returns the root builder.
    fn from_text(slf: &Bound<'_, Self>, id: u64, text: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let text = text_argument(text)?;
        let run = || -> MsgResult<_> {
            let root = MessageBuilder::new().init_root(&slf.get().inner, id)?;
            capnp_dynamic::text::struct_from_text(&text, &root)?;
            Ok(root)
        };
        let root = run().map_err(|e| e.into_py(py))?;
        PyStructBuilder::wrap(py, root, slf.clone().unbind())
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

/// The hot entry points of one struct type (`Foo.new_message`, `Foo.from_bytes`) as native
/// methods: `_StructModule` binds them onto each struct module, saving the Python-level call
/// its methods would cost (about half of an empty `new_message`).
#[pyclass(frozen, name = "_StructEntry", module = "capnp.lib.capnp")]
pub(crate) struct PyStructEntry {
    registry: Py<PyRegistry>,
    id: u64,
    /// The struct's schema once the registry has it (it never changes after: `find_struct`),
    /// so reads skip the registry's lock and table.
    schema: OnceLock<Arc<StructSchema>>,
}

impl PyStructEntry {
    /// `new_message()` without arguments (`ffi::entry_new_message`).
    pub(crate) fn new_message_plain(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.new_message(py, None, None, None)
    }

    /// `new_message(**fields)` from a vector call's keyword arguments, none of them one of
    /// the method's own parameters (`ffi::entry_new_message`): the fields set in order, as
    /// from the dict the method would take.
    pub(crate) fn new_message_fields<'py>(
        &self,
        py: Python<'py>,
        fields: impl Iterator<Item = (Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    ) -> PyResult<Py<PyAny>> {
        let registry = &self.registry.get().inner;
        let root = self
            .with_schema(registry, |schema| {
                MessageBuilder::new_root(None, registry, schema)
            })
            .map_err(|e| MsgError::from(e).into_py(py))?;
        convert::from_items(&root, &self.registry, py, fields).map_err(|e| e.into_py(py))?;
        PyStructBuilder::wrap(py, root, self.registry.clone_ref(py))
    }

    /// `f` on the struct's schema: the kept one borrowed (no reference count changed), else
    /// as `schema` gives it.
    #[inline]
    fn with_schema<R>(
        &self,
        registry: &Registry,
        f: impl FnOnce(&Arc<StructSchema>) -> capnp_dynamic::Result<R>,
    ) -> capnp_dynamic::Result<R> {
        match self.schema.get() {
            Some(schema) => f(schema),
            None => f(&self.schema(registry)?),
        }
    }

    /// The struct's schema, kept once the registry has it (a placeholder or an error is asked
    /// for again each time, as the registry may get the node later).
    fn schema(&self, registry: &Registry) -> capnp_dynamic::Result<Arc<StructSchema>> {
        if let Some(schema) = self.schema.get() {
            return Ok(schema.clone());
        }
        match registry.find_struct(self.id) {
            Some(schema) => Ok(self.schema.get_or_init(|| schema).clone()),
            None => registry.get_struct(self.id),
        }
    }
}

#[pymethods]
impl PyStructEntry {
    #[new]
    fn new(registry: Py<PyRegistry>, id: u64) -> Self {
        PyStructEntry {
            registry,
            id,
            schema: OnceLock::new(),
        }
    }

    /// `new_message` as a built-in method of this entry taking CPython's vector call
    /// (`ffi::entry_new_message_function`), for `_StructModule._specialize`.
    fn _new_message_function(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        crate::ffi::entry_new_message_function(slf)
    }

    /// The cyclic GC sees the registry (and through it the parser): a struct module's class
    /// holds its entry, so a parser whose modules made messages is collected with them.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.registry)
    }

    /// A new message whose root is this struct; keyword arguments set fields (`from_dict`).
    /// `allocate_seg_callable` builds the message in the buffers it returns
    /// (`segment_buffer.rs`).
    #[pyo3(signature = (num_first_segment_words=None, allocate_seg_callable=None, **kwargs))]
    fn new_message(
        &self,
        py: Python<'_>,
        num_first_segment_words: Option<u32>,
        allocate_seg_callable: Option<&Bound<'_, PyAny>>,
        kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let registry = &self.registry.get().inner;
        let root = match allocate_seg_callable {
            // Most messages: the root made before the message is shared (no lock).
            None => self.with_schema(registry, |schema| {
                MessageBuilder::new_root(num_first_segment_words, registry, schema)
            }),
            Some(_) => {
                let message = crate::segment_buffer::new_message(
                    py,
                    num_first_segment_words,
                    allocate_seg_callable,
                )?;
                self.schema(registry)
                    .and_then(|schema| message.init_root_as(registry, schema))
            }
        }
        .map_err(|e| MsgError::from(e).into_py(py))?;
        if let Some(kwargs) = kwargs.filter(|k| !k.is_empty()) {
            convert::from_dict(&root, &self.registry, kwargs).map_err(|e| e.into_py(py))?;
        }
        PyStructBuilder::wrap(py, root, self.registry.clone_ref(py))
    }

    /// The root reader of one message (stream framing) in a buffer, also a context manager;
    /// with `builder=True` a builder copy, the buffer given back at once (API.md 3.1).
    #[pyo3(signature = (buf, traversal_limit_in_words=None, nesting_limit=None, builder=false))]
    #[allow(clippy::wrong_self_convention, reason = "pycapnp's method name")]
    fn from_bytes(
        &self,
        py: Python<'_>,
        buf: &Bound<'_, PyAny>,
        traversal_limit_in_words: Option<WordLimit>,
        nesting_limit: Option<i64>,
        builder: bool,
    ) -> PyResult<Py<PyAny>> {
        let reader = read_root(
            self.registry.bind(py),
            |registry| self.schema(registry),
            buf,
            traversal_limit_in_words.map(|w| w.0),
            nesting_limit,
        )?;
        if !builder {
            // As pycapnp: the type registry applies to what the context manager yields.
            return Ok(reader.into_any());
        }
        let reader = reader.bind(py);
        let copy = reader.call_method0("as_builder");
        reader.get().inner.release_buffer();
        Ok(copy?.unbind())
    }

    /// The root reader of one packed message in a buffer.
    #[pyo3(signature = (buf, traversal_limit_in_words=None, nesting_limit=None))]
    #[allow(clippy::wrong_self_convention, reason = "pycapnp's method name")]
    fn from_bytes_packed(
        &self,
        py: Python<'_>,
        buf: &Bound<'_, PyAny>,
        traversal_limit_in_words: Option<WordLimit>,
        nesting_limit: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        read_packed_root(
            self.registry.bind(py),
            |registry| self.schema(registry),
            buf,
            entry_limits(traversal_limit_in_words, nesting_limit),
        )
    }

    /// The root reader of a message given as its segments (any iterable of buffers).
    #[pyo3(signature = (segments, traversal_limit_in_words=None, nesting_limit=None))]
    #[allow(clippy::wrong_self_convention, reason = "pycapnp's method name")]
    fn from_segments(
        &self,
        py: Python<'_>,
        segments: &Bound<'_, PyAny>,
        traversal_limit_in_words: Option<WordLimit>,
        nesting_limit: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        let registry = self.registry.bind(py);
        let limits = entry_limits(traversal_limit_in_words, nesting_limit);
        let schema = |registry: &Registry| self.schema(registry);
        // A list or tuple (what `to_segments` returns) is read by index, as pycapnp reads it
        // (never through `__iter__`, even of a subclass); the generic
        // iterator protocol costs as much as the rest of a small message's read.
        if let Ok(list) = segments.cast::<PyList>() {
            return segments_root(registry, schema, list.iter().map(Ok), limits);
        }
        if let Ok(tuple) = segments.cast::<PyTuple>() {
            return segments_root(registry, schema, tuple.iter().map(Ok), limits);
        }
        segments_root(registry, schema, segments.try_iter()?, limits)
    }
}

/// The root reader of a message given as its segments (buffers read in place, see
/// `buffer::input`).
fn segments_root<'py>(
    registry: &Bound<'py, PyRegistry>,
    schema: impl FnOnce(&Registry) -> capnp_dynamic::Result<Arc<StructSchema>>,
    segments: impl Iterator<Item = PyResult<Bound<'py, PyAny>>>,
    limits: ReadLimits,
) -> PyResult<Py<PyAny>> {
    let py = registry.py();
    let mut parts: Vec<Arc<dyn AsRef<[u8]> + Send + Sync>> =
        Vec::with_capacity(segments.size_hint().0);
    let mut sharing = Sharing::default();
    for s in segments {
        let input = buffer::input(&s?)?;
        sharing.releasable |= input.sharing.releasable;
        sharing.volatile |= input.sharing.volatile;
        parts.push(input.bytes);
    }
    let run = || -> MsgResult<_> {
        let inner = &registry.get().inner;
        Ok(MessageReader::root_from_segments_shared(
            parts,
            limits,
            sharing,
            inner,
            || schema(inner),
        )?)
    };
    let root = run().map_err(|e| e.into_py(py))?;
    PyStructReader::wrap(py, root, registry.clone().unbind())
}
