//! `_DynamicStructBuilder` and `_DynamicStructReader`: handles on one struct (or group) of a
//! message, with field access resolved by a Rust `__getattribute__` (DESIGN decision 8).

use std::sync::atomic::{AtomicBool, Ordering};

use capnp_dynamic::struct_::PrimSlot;
use capnp_dynamic::text::struct_text;
use capnp_dynamic::{MessageBuilder, StructBuilder, StructReader, Type};
use pyo3::exceptions::{PyAttributeError, PyUnicodeDecodeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use crate::any_pointer::PyOrphan;
use crate::convert::{
    from_dict, set_field, slot_type, text_to_py, to_dict, value_to_py, DictOptions,
};
use crate::enum_::PyEnumField;
use crate::error::{MsgError, MsgResult};
use crate::registry::PyRegistry;

/// Names of the classes' own attributes. pycapnp finds these before fields, so a field
/// named `which` or `schema` is read with `_get` (API.md 3.4); every other name that
/// does not start with `_` is tried as a field first.
fn is_class_attr(name: &str) -> bool {
    name.starts_with('_')
        || matches!(
            name,
            "which"
                | "schema"
                | "is_root"
                | "total_size"
                | "init"
                | "init_resizable_list"
                | "to_dict"
                | "from_dict"
                | "to_bytes"
                | "to_bytes_packed"
                | "to_segments"
                | "to_segment_views"
                | "write"
                | "write_packed"
                | "write_async"
                | "as_reader"
                | "as_builder"
                | "copy"
                | "clear_write_flag"
                | "adopt"
                | "disown"
                | "get_data_as_view"
        )
}

/// Normal attribute lookup (methods, properties), after fields were ruled out; a miss
/// reads like pycapnp's unknown-field error.
fn class_getattr(obj: &Bound<'_, PyAny>, name: &Bound<'_, PyString>) -> PyResult<Py<PyAny>> {
    let py = obj.py();
    match crate::ffi::generic_getattr(obj, name) {
        Ok(v) => Ok(v.unbind()),
        Err(e) if e.is_instance_of::<PyAttributeError>(py) => {
            let n = name.to_str()?;
            if n.starts_with("__") {
                return Err(e);
            }
            Err(no_such_member(n))
        }
        Err(e) => Err(e),
    }
}

/// The text format's bytes as a `str`, decoded strictly as UTF-8 like the reference's
/// (a Text field holding invalid UTF-8 raises `UnicodeDecodeError`).
pub(crate) fn decode_text(
    py: Python<'_>,
    text: capnp_dynamic::Result<Vec<u8>>,
) -> PyResult<String> {
    let bytes = text.map_err(|e| MsgError::from(e).into_py(py))?;
    String::from_utf8(bytes).map_err(|e| {
        match PyUnicodeDecodeError::new_utf8(py, e.as_bytes(), e.utf8_error()) {
            Ok(exc) => PyErr::from_value(exc.into_any()),
            Err(err) => err,
        }
    })
}

/// `decode_text` as a `str` object, made without CPython decoding it again (`ffi::str_from_utf8`).
pub(crate) fn decode_text_str(
    py: Python<'_>,
    text: capnp_dynamic::Result<Vec<u8>>,
) -> PyResult<Bound<'_, PyString>> {
    let bytes = text.map_err(|e| MsgError::from(e).into_py(py))?;
    // ASCII (the usual text) is copied into the `str` without a UTF-8 validation pass.
    crate::ffi::str_from_utf8(py, &bytes).map_err(|e| {
        match PyUnicodeDecodeError::new_utf8(py, &bytes, e) {
            Ok(exc) => PyErr::from_value(exc.into_any()),
            Err(err) => err,
        }
    })
}

/// A Text field's `str` or a Data field's `bytes` made from the message's bytes where they lie
/// (`with_blob`), or invalid UTF-8 copied out (see `blob_field`).
type Blob = Result<PyResult<Py<PyAny>>, Vec<u8>>;

/// A Text or Data field (of type `ty`) read by `with_blob` (a handle's `with_blob` for the
/// field) straight into its Python object: one copy, not two. `None` when the field is of
/// another type or `with_blob` declined (the caller reads it the general way).
///
/// The object is made while the message's lock may be held, so only `str`/`bytes` objects
/// are made there (never tracked by the collector, so no Python code runs; a failed
/// allocation sets the preallocated MemoryError); invalid UTF-8 is copied out and raised
/// once the lock is released.
fn blob_field(
    py: Python<'_>,
    ty: Option<&Type>,
    with_blob: impl FnOnce(&mut dyn FnMut(&[u8]) -> Blob) -> capnp_dynamic::Result<Option<Blob>>,
) -> MsgResult<Option<Py<PyAny>>> {
    let text = match ty {
        Some(Type::Text) => true,
        Some(Type::Data) => false,
        _ => return Ok(None),
    };
    let mut make = |bytes: &[u8]| -> Blob {
        if text {
            crate::convert::str_under_lock(py, bytes).map(Ok)
        } else {
            Ok(crate::ffi::bytes_copy(py, bytes).map(|b| b.into_any().unbind()))
        }
    };
    match with_blob(&mut make)? {
        Some(Ok(obj)) => Ok(Some(obj?)),
        Some(Err(invalid)) => text_to_py(py, &invalid).map(Some),
        None => Ok(None),
    }
}

/// The index of field `name` (a `str` object), found by the object's address when a read or
/// write resolved it before (`ffi::cached_field`), else by its text (and then remembered
/// where a read resolves the name to the field too).
fn field_by_name_object(
    name: &Bound<'_, PyString>,
    schema: &std::sync::Arc<capnp_dynamic::StructSchema>,
) -> Option<usize> {
    if let Some(i) = crate::ffi::cached_field(name, schema) {
        return Some(i);
    }
    let s = name.to_str().ok()?;
    let &i = schema.by_name.get(s)?;
    if !is_class_attr(s) {
        crate::ffi::remember_field(name, schema, i);
    }
    Some(i)
}

fn no_such_member(name: &str) -> PyErr {
    PyAttributeError::new_err(format!(
        "capnp/dynamic: failed: struct has no such member; name = {name}"
    ))
}

fn field_index(schema: &capnp_dynamic::StructSchema, name: &str) -> MsgResult<usize> {
    schema.by_name.get(name).copied().ok_or_else(|| {
        MsgError::Dynamic(capnp_dynamic::Error::NoSuchField {
            name: name.to_string(),
        })
    })
}

/// `which`: the active member of the struct's union (a shared, cached object), from
/// `which_field`'s (discriminant, field index).
fn which(
    py: Python<'_>,
    which_field: capnp_dynamic::Result<(u16, usize)>,
    schema: &capnp_dynamic::StructSchema,
) -> MsgResult<Py<PyEnumField>> {
    let (d, index) = which_field?;
    Ok(PyEnumField::shared(py, schema, d, index)?)
}

/// The schema's field names plus the class's attributes.
fn dir(obj: &Bound<'_, PyAny>, schema: &capnp_dynamic::StructSchema) -> PyResult<Py<PyList>> {
    let py = obj.py();
    let names = py
        .import("builtins")?
        .getattr("object")?
        .getattr("__dir__")?
        .call1((obj,))?;
    let out = PyList::empty(py);
    for f in &schema.fields {
        out.append(&f.name)?;
    }
    for n in names.try_iter()? {
        out.append(n?)?;
    }
    Ok(out.unbind())
}

/// The field name of `init`'s argument: a `str`, or a `StructModuleWhich` member whose
/// name is the field's with the first letter upper-cased.
fn init_name(field: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = field.cast::<PyString>() {
        return Ok(s.to_str()?.to_string());
    }
    let name: String = field.getattr("name")?.extract()?;
    let mut chars = name.chars();
    Ok(match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => name,
    })
}

fn dict_options(
    builder: bool,
    verbose: bool,
    ordered: bool,
    encode_bytes_as_base64: bool,
) -> DictOptions {
    DictOptions {
        builder,
        verbose,
        ordered,
        base64: encode_bytes_as_base64,
    }
}

/// A root builder's `to_dict`/`str()` reads a copy of its message up to this many words
/// (1 MiB); other builders (perhaps a small part of the message) up to `FROZEN_DICT_WORDS_PART`.
const FROZEN_DICT_WORDS: usize = 1 << 17;
const FROZEN_DICT_WORDS_PART: usize = 1 << 13;

/// Messages from this size on are serialized without the GIL.
pub(crate) const DETACH_BYTES: usize = 1 << 20;

/// Runs `f` without the GIL when `large` (DESIGN decision 7): for small messages releasing
/// and re-taking the GIL costs more than the work.
pub(crate) fn detach_if<T: pyo3::marker::Ungil>(
    py: Python<'_>,
    large: bool,
    f: impl pyo3::marker::Ungil + FnOnce() -> T,
) -> T {
    if large {
        crate::ffi::detach(py, f)
    } else {
        f()
    }
}

/// `copy()`/`as_builder()`: a deep copy of `source` into a new message, as its root builder.
/// The copy runs without the GIL unless Python code could write the source meanwhile
/// (writable Data views or input buffers, buffer.rs).
fn builder_copy(
    py: Python<'_>,
    source: &StructReader,
    message: MessageBuilder,
    registry: &Py<PyRegistry>,
) -> PyResult<Py<PyAny>> {
    // A message in Python buffers calls Python as it grows: keep the GIL.
    let copy = if source.is_volatile() || message.is_volatile() {
        source.as_builder_with(message)
    } else {
        crate::ffi::detach(py, || source.as_builder_with(message))
    };
    let copy = copy.map_err(|e| MsgError::from(e).into_py(py))?;
    PyStructBuilder::wrap(py, copy, registry.clone_ref(py))
}

/// `_MessageSize`: what `total_size` returns.
#[pyclass(frozen, name = "_MessageSize", module = "capnp.lib.capnp")]
pub(crate) struct PyMessageSize {
    /// Words of data.
    #[pyo3(get)]
    word_count: u64,
    /// Capabilities.
    #[pyo3(get)]
    cap_count: u32,
}

/// Writes all of `data` to the file descriptor of `file` (an object with `fileno()`, or an int).
fn write_to_file(py: Python<'_>, file: &Bound<'_, PyAny>, data: &[u8]) -> PyResult<()> {
    let fd = if file.is_instance_of::<pyo3::types::PyInt>() {
        file.clone()
    } else {
        file.call_method0("fileno")?
    };
    let os = py.import("os")?;
    let view = py
        .import("builtins")?
        .getattr("memoryview")?
        .call1((PyBytes::new(py, data),))?;
    let mut done = 0usize;
    while done < data.len() {
        let chunk = view.get_item(pyo3::types::PySlice::new(
            py,
            done as isize,
            data.len() as isize,
            1,
        ))?;
        let n: usize = os.call_method1("write", (&fd, chunk))?.extract()?;
        if n == 0 {
            return Err(pyo3::exceptions::PyOSError::new_err(
                "write returned 0 bytes",
            ));
        }
        done += n;
    }
    Ok(())
}

/// `(capnp.lib.capnp._struct_reducer, (schema_id, data))`, what pickling returns.
fn reduce(py: Python<'_>, id: u64, data: &[u8]) -> PyResult<Py<PyAny>> {
    let reducer = py.import("capnp.lib.capnp")?.getattr("_struct_reducer")?;
    Ok((reducer, (id, PyBytes::new(py, data)))
        .into_pyobject(py)?
        .into_any()
        .unbind())
}

/// A mutable view of one struct in a message being built.
#[pyclass(
    frozen,
    subclass,
    name = "_DynamicStructBuilder",
    module = "capnp.lib.capnp"
)]
pub(crate) struct PyStructBuilder {
    pub(crate) inner: StructBuilder,
    pub(crate) registry: Py<PyRegistry>,
    /// Whether this root object wrote its message already (the write-once warning).
    written: AtomicBool,
    /// The list object whose shared part `inner` borrows (a struct list element made by
    /// `ffi::lent_builder_element`), kept alive by this reference. Declared last: fields drop
    /// in order, so `inner` goes first.
    #[allow(
        dead_code,
        reason = "held only to keep the list alive until this object goes"
    )]
    pub(crate) keep: Option<Py<PyAny>>,
}

impl PyStructBuilder {
    /// Primitive field `slot` through the recorded location without the message lock, when
    /// nothing else can touch the message (`ffi::excluded`; the proof, a temporary, is
    /// dropped at the end of the statement); `None` when that cannot answer (`read_field`
    /// then reads it under the lock).
    #[inline(always)]
    fn read_prim(
        &self,
        py: Python<'_>,
        schema: &capnp_dynamic::StructSchema,
        entry: crate::ffi::CachedName,
        slot: PrimSlot,
    ) -> Option<PyResult<Py<PyAny>>> {
        entry.prim_object(py, schema, slot, self.prim_bits(py, slot)?)
    }

    /// `read_prim`'s bits (`StructBuilder::prim_bits_excluded`).
    #[inline(always)]
    fn prim_bits(&self, py: Python<'_>, slot: PrimSlot) -> Option<u64> {
        self.inner
            .prim_bits_excluded(crate::ffi::excluded(py).as_ref()?, slot)
    }

    /// `prim_bits` for the quick attribute read (`AttrSlot::quick_getattr`): the same.
    #[inline(always)]
    fn prim_bits_quick(&self, py: Python<'_>, slot: PrimSlot) -> Option<u64> {
        self.prim_bits(py, slot)
    }

    /// The schema's address, for the attribute slot's name cache.
    #[inline(always)]
    fn schema_addr(&self) -> *const capnp_dynamic::StructSchema {
        std::sync::Arc::as_ptr(self.inner.schema())
    }

    /// `init(field, size=None)`: the PyO3 method's body, and `ffi::builder_init`'s.
    pub(crate) fn init_field(
        slf: &Bound<'_, Self>,
        field: &Bound<'_, PyAny>,
        size: Option<u32>,
    ) -> PyResult<Py<PyAny>> {
        let (py, this) = (slf.py(), slf.get());
        // A `str` name is found by its object first (`b.init("phones", n)` passes the same
        // interned object every time), without copying or hashing its text.
        let known = field
            .cast_exact::<PyString>()
            .ok()
            .and_then(|name| field_by_name_object(name, this.inner.schema()));
        let name = match known {
            Some(_) => String::new(),
            None => init_name(field)?,
        };
        let run = || {
            let i = match known {
                Some(i) => i,
                None => field_index(this.inner.schema(), &name)?,
            };
            // A list straight into its handle object, without a `Value`, borrowing this
            // struct's base.
            if let Some(n) = size {
                if let Some(list) = crate::ffi::lent_builder_list(slf, i, Some(n))? {
                    return Ok(list);
                }
            }
            let value = this.inner.init_by_index(i, size)?;
            let ty = this.inner.schema().fields.get(i).and_then(slot_type);
            value_to_py(py, value, ty, &this.registry)
        };
        run().map_err(|e| e.into_py(py))
    }

    /// A reader of this struct over a copy of its message (one lock), for whole-struct reads
    /// (`to_dict`, `str()`): a root reads the whole message anyway, copied up to 1 MiB; any
    /// other struct may be a small part of a large message, copied only while it is small.
    fn frozen(&self, py: Python<'_>) -> PyResult<StructReader> {
        let max_words = if self.inner.is_root() {
            FROZEN_DICT_WORDS
        } else {
            FROZEN_DICT_WORDS_PART
        };
        self.inner
            .frozen_reader(max_words)
            .map_err(|e| MsgError::from(e).into_py(py))
    }

    /// The builder object handed to Python: the handle, or what a factory registered for its
    /// struct type makes of it (`capnp.register_type`, API.md 3.16).
    pub(crate) fn wrap(
        py: Python<'_>,
        inner: StructBuilder,
        registry: Py<PyRegistry>,
    ) -> PyResult<Py<PyAny>> {
        let id = inner.schema().id;
        crate::types::hand_out(py, Self::wrap_raw(py, inner, registry)?, id, true)
    }

    /// The handle itself (for callers that use it before handing it out).
    pub(crate) fn wrap_raw(
        py: Python<'_>,
        inner: StructBuilder,
        registry: Py<PyRegistry>,
    ) -> PyResult<Py<Self>> {
        Self::wrap_kept(py, inner, registry, None)
    }

    /// The handle, as handed to Python, with the object `keep` kept alive beside it (a lent
    /// handle's owner: ffi.rs).
    pub(crate) fn wrap_lent(
        py: Python<'_>,
        inner: StructBuilder,
        registry: Py<PyRegistry>,
        keep: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let id = inner.schema().id;
        let obj = Self::wrap_kept(py, inner, registry, Some(keep.clone().unbind()))?;
        crate::types::hand_out(py, obj, id, true)
    }

    /// The handle with the object `keep` kept alive beside it (`keep`'s field comment).
    pub(crate) fn wrap_kept(
        py: Python<'_>,
        inner: StructBuilder,
        registry: Py<PyRegistry>,
        keep: Option<Py<PyAny>>,
    ) -> PyResult<Py<Self>> {
        crate::lean_object::new_object(
            py,
            PyStructBuilder {
                inner,
                registry,
                written: AtomicBool::new(false),
                keep,
            },
        )
    }

    /// Field `index` of the struct object `slf` (its list handles borrow its base).
    fn read_field_of(slf: &Bound<'_, Self>, index: usize) -> MsgResult<Py<PyAny>> {
        slf.get().read_field(slf.py(), index, slf)
    }

    /// Field `index`'s value. `owner`: this struct's own object (a list handle borrows the
    /// struct's base while its object keeps `owner`).
    fn read_field(
        &self,
        py: Python<'_>,
        index: usize,
        owner: &Bound<'_, Self>,
    ) -> MsgResult<Py<PyAny>> {
        let ty = self.inner.schema().fields.get(index).and_then(slot_type);
        if let Some(Type::List(_)) = ty {
            // A list straight into its handle object, without a `Value`.
            if let Some(list) = crate::ffi::lent_builder_list(owner, index, None)? {
                return Ok(list);
            }
        } else if let Some(Type::Struct(_)) = ty {
            // A struct straight into its handle object, without a `Value`, borrowing this
            // struct's base while its object keeps `owner`.
            if let Some(child) = crate::ffi::lent_builder_child(owner, index, false)? {
                return Ok(child);
            }
        } else if ty.is_none() {
            // A group (a field without a slot type) likewise; without the message lock when
            // nothing else can touch the message.
            if let Some(group) = crate::ffi::lent_builder_child(owner, index, true)? {
                return Ok(group);
            }
        } else if let Some(obj) = blob_field(py, ty, |f| self.inner.with_blob(index, f))? {
            return Ok(obj);
        }
        let value = self.inner.get_by_index(index)?;
        field_value_to_py(py, self.inner.schema(), index, value, ty, &self.registry)
    }

    /// Sets the write-once flag, warning when it was set already.
    fn mark_written(&self, py: Python<'_>) -> PyResult<()> {
        self.check_written(py, true)
    }

    /// Root builders only; warns when the message was written already, and sets the flag
    /// when `set` (`to_segment_views` and `to_segments` check without setting it, as
    /// pycapnp 2.2.4).
    /// Whether a write (`to_bytes`) would neither fail nor warn: a root builder not written
    /// before (`ffi::builder_to_bytes`'s quick call).
    pub(crate) fn quick_write_ok(&self) -> bool {
        self.inner.is_root() && !self.written.load(Ordering::Relaxed)
    }

    pub(crate) fn check_written(&self, py: Python<'_>, set: bool) -> PyResult<()> {
        if !self.inner.is_root() {
            return Err(MsgError::from(capnp_dynamic::Error::NotRoot).into_py(py));
        }
        // A load first: a repeated write (the flag already set) then costs no atomic
        // read-modify-write. Python calls hold the GIL, so no other write interleaves.
        let was = self.written.load(Ordering::Relaxed);
        if set && !was {
            self.written.store(true, Ordering::Relaxed);
        }
        if was {
            crate::warning::written_twice(py)?;
        }
        Ok(())
    }

    fn serialized(&self, py: Python<'_>, packed: bool) -> PyResult<Vec<u8>> {
        self.mark_written(py)?;
        let inner = &self.inner;
        let run = || {
            if packed {
                inner.to_bytes_packed()
            } else {
                inner.to_bytes()
            }
        };
        // Without the GIL when large, unless Python code could write the message meanwhile
        // (writable Data views, buffer.rs).
        let large =
            !inner.message().is_volatile() && inner.message().size_in_words() * 8 >= DETACH_BYTES;
        detach_if(py, large, run).map_err(|e| MsgError::from(e).into_py(py))
    }
}

/// The methods readers and builders share word for word, generated for both classes (PyO3's
/// `multiple-pymethods` allows a second `#[pymethods]` block per class).
macro_rules! shared_struct_methods {
    ($ty:ty) => {
        #[pymethods]
        impl $ty {
            fn __getattribute__(
                slf: &Bound<'_, Self>,
                name: &Bound<'_, PyString>,
            ) -> PyResult<Py<PyAny>> {
                let s = name.to_str()?;
                if !is_class_attr(s) {
                    let this = slf.get();
                    if let Some(&i) = this.inner.schema().by_name.get(s) {
                        let py = slf.py();
                        return Self::read_field_of(slf, i).map_err(|e| e.into_py_attr(py));
                    }
                }
                class_getattr(slf.as_any(), name)
            }

            /// Reached only when `__getattribute__` found nothing: PyO3 replaces that error with
            /// this one's.
            fn __getattr__(&self, name: &str) -> PyResult<()> {
                Err(no_such_member(name))
            }

            /// The value of field ``field`` (by name; as ``getattr``).
            fn _get(slf: &Bound<'_, Self>, field: &str) -> PyResult<Py<PyAny>> {
                let run =
                    || Self::read_field_of(slf, field_index(slf.get().inner.schema(), field)?);
                run().map_err(|e| e.into_py(slf.py()))
            }

            /// The value of ``field`` (a ``_StructSchemaField``).
            fn _get_by_field(
                slf: &Bound<'_, Self>,
                field: &Bound<'_, PyAny>,
            ) -> PyResult<Py<PyAny>> {
                let name = crate::message::by_field_name(field, slf.get().inner.schema().id)?;
                Self::_get(slf, &name)
            }

            /// ``_has`` of ``field`` (a ``_StructSchemaField``).
            fn _has_by_field(slf: &Bound<'_, Self>, field: &Bound<'_, PyAny>) -> PyResult<bool> {
                let name = crate::message::by_field_name(field, slf.get().inner.schema().id)?;
                slf.get()._has(slf.py(), &name)
            }

            /// Whether field ``field`` (by name) has a value (a pointer: non-null), as C++ ``has()``.
            fn _has(&self, py: Python<'_>, field: &str) -> PyResult<bool> {
                self.inner
                    .has(field)
                    .map_err(|e| MsgError::from(e).into_py(py))
            }

            /// The member of the struct's union that is set (``which``).
            fn _which(&self, py: Python<'_>) -> PyResult<Py<PyEnumField>> {
                self.which(py)
            }

            /// The name of the union member that is set.
            fn _which_str(&self, py: Python<'_>) -> PyResult<String> {
                let (_, name) = self
                    .inner
                    .which()
                    .map_err(|e| MsgError::from(e).into_py(py))?;
                Ok(name)
            }

            /// The struct's schema.
            #[getter]
            fn schema(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                self.registry
                    .get()
                    .struct_schema(py, self.inner.schema().id)
            }

            /// Whether this is the root struct of its message.
            #[getter]
            fn is_root(&self) -> bool {
                self.inner.is_root()
            }

            /// Words and capabilities this struct and its children take.
            #[getter]
            fn total_size(&self, py: Python<'_>) -> PyResult<PyMessageSize> {
                let size = self
                    .inner
                    .total_size()
                    .map_err(|e| MsgError::from(e).into_py(py))?;
                Ok(PyMessageSize {
                    word_count: size.word_count,
                    cap_count: size.cap_count,
                })
            }
        }
    };
}

shared_struct_methods!(PyStructBuilder);
shared_struct_methods!(PyStructReader);

/// `value_to_py` of the value of field `index` of `schema`; an enum's through the field's
/// shared objects (`enum_::enum_field_object`).
#[inline(always)]
fn field_value_to_py(
    py: Python<'_>,
    schema: &capnp_dynamic::StructSchema,
    index: usize,
    value: capnp_dynamic::Value,
    ty: Option<&Type>,
    registry: &Py<PyRegistry>,
) -> MsgResult<Py<PyAny>> {
    if let (capnp_dynamic::Value::Enum(raw), Some(Type::Enum(id)), Some(field)) =
        (&value, ty, schema.fields.get(index))
    {
        return crate::enum_::enum_field_object(py, field, *id, *raw, &registry.get().inner);
    }
    value_to_py(py, value, ty, registry)
}

/// Field reads (and `which`) straight from CPython's attribute slot (ffi.rs), as
/// `__getattribute__` resolves them; other names take PyO3's slot.
macro_rules! attr_slot {
    ($ty:ty) => {
        impl crate::ffi::AttrSlot for $ty {
            fn saved() -> &'static std::sync::OnceLock<crate::ffi::SavedGetattro> {
                static SAVED: std::sync::OnceLock<crate::ffi::SavedGetattro> =
                    std::sync::OnceLock::new();
                &SAVED
            }

            fn installed_type() -> &'static std::sync::atomic::AtomicUsize {
                static TYPE: std::sync::atomic::AtomicUsize =
                    std::sync::atomic::AtomicUsize::new(0);
                &TYPE
            }

            #[inline(always)]
            fn quick_getattr(
                slf: Borrowed<'_, '_, Self>,
                name: *mut pyo3::ffi::PyObject,
            ) -> crate::ffi::Quick {
                let this = slf.get();
                let Some(entry) = crate::ffi::cached_field_entry_at(name, this.schema_addr())
                else {
                    return crate::ffi::Quick::Full(None);
                };
                let Some(slot) = entry.prim() else {
                    return crate::ffi::Quick::Full(Some(entry));
                };
                match this.prim_bits_quick(slf.py(), slot) {
                    Some(bits) => entry.prim_object_quick(slot, bits),
                    None => crate::ffi::Quick::Full(Some(entry)),
                }
            }

            fn slot_getattr(
                slf: &Bound<'_, Self>,
                name: &Bound<'_, PyString>,
                exact: bool,
                looked: Option<Option<crate::ffi::CachedName>>,
            ) -> PyResult<Option<Py<PyAny>>> {
                let py = slf.py();
                let this = slf.get();
                let schema = this.inner.schema();
                // A field name met before (never a class attribute's, so never `which`): no
                // decoding, no hash; asked once per read (the quick read's answer, if any).
                let cached = looked.unwrap_or_else(|| crate::ffi::cached_field_entry(name, schema));
                let mut text = None;
                let field = match cached {
                    Some(entry) => {
                        if let Some(value) = entry
                            .prim()
                            .and_then(|slot| this.read_prim(py, schema, entry, slot))
                        {
                            // (An error is only a failed allocation, raised as it is.)
                            return value.map(Some);
                        }
                        Some(entry.index())
                    }
                    None => {
                        // `x.which` in source code passes the interned name: one pointer
                        // comparison instead of decoding and matching it.
                        if exact && name.is(pyo3::intern!(py, "which")) {
                            // Through the recorded location to the shared object when both
                            // exist.
                            let cached = this
                                .inner
                                .discriminant_fast()
                                .and_then(|d| PyEnumField::cached(py, schema, d));
                            if let Some(obj) = cached {
                                return Ok(Some(obj.clone_ref(py).into_any()));
                            }
                            return Ok(Some(this.which(py)?.into_any()));
                        }
                        let s = name.to_str()?;
                        text = Some(s);
                        if is_class_attr(s) {
                            None
                        } else {
                            let i = schema.by_name.get(s).copied();
                            if let Some(i) = i {
                                crate::ffi::remember_field(name, schema, i);
                            }
                            i
                        }
                    }
                };
                if let Some(i) = field {
                    return Self::read_field_of(slf, i)
                        .map(Some)
                        .map_err(|e| e.into_py_attr(py));
                }
                if exact && text == Some("which") {
                    // The `which` property without the generic lookup, unless a subclass
                    // could define its own.
                    return Ok(Some(this.which(py)?.into_any()));
                }
                // Methods and properties: the generic lookup, as PyO3's slot would do it;
                // a failed one (a missing name) goes on to PyO3's slot, which raises pycapnp's
                // "no such member".
                Ok(crate::ffi::class_attr_lean(slf.as_any(), name, exact).map(Bound::unbind))
            }
        }
    };
}

attr_slot!(PyStructBuilder);
attr_slot!(PyStructReader);

/// Writes of plain values (None, bool, int, float, str, bytes) to a builder's primitive, enum,
/// Text and Data fields straight from CPython's attribute slot (ffi.rs), as `__setattr__`
/// (and `set_field`) does them.
impl crate::ffi::SetAttrSlot for PyStructBuilder {
    fn saved_set() -> &'static std::sync::OnceLock<crate::ffi::SavedSetattro> {
        static SAVED: std::sync::OnceLock<crate::ffi::SavedSetattro> = std::sync::OnceLock::new();
        &SAVED
    }

    fn slot_setattr(
        slf: &Bound<'_, Self>,
        name: &Bound<'_, PyString>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let this = slf.get();
        let schema = this.inner.schema();
        let i = match crate::ffi::cached_field(name, schema) {
            Some(i) => i,
            None => {
                let Ok(s) = name.to_str() else {
                    return Ok(false);
                };
                let Some(&i) = schema.by_name.get(s) else {
                    return Ok(false);
                };
                // Remembered only where a read resolves the name to the field too.
                if !is_class_attr(s) {
                    crate::ffi::remember_field(name, schema, i);
                }
                i
            }
        };
        // Not over what may hold a capability (an interface, struct, list or AnyPointer
        // field): the old value's drop could release a Python object, which this slot must
        // not do (ffi.rs, lean slots). Two exceptions, whose writes only zero the old
        // object's words and make no cap table, so nothing of Python's is released: a list
        // of numbers written into a list field of numbers (`set_number_list`), and a struct
        // copied straight from another message (`set_struct_direct`).
        let Some(ty) = schema.fields.get(i).and_then(crate::convert::slot_type) else {
            return Ok(false);
        };
        let py = slf.py();
        if let Type::List(elem) = ty {
            if elem.is_pointer() {
                return Ok(false);
            }
            return match crate::convert::set_number_list(&this.inner, i, value) {
                None => Ok(false),
                Some(result) => result.map(|()| true).map_err(|e| e.into_py_attr(py)),
            };
        }
        if let Type::Struct(_) = ty {
            // A struct copied straight from another message: no snapshot, no cap table
            // (`set_struct_direct`); anything else goes to PyO3's slot.
            return match crate::convert::set_struct_direct(&this.inner, i, value) {
                None => Ok(false),
                Some(result) => result.map(|()| true).map_err(|e| e.into_py_attr(py)),
            };
        }
        if matches!(ty, Type::Interface(_) | Type::AnyPointer) {
            return Ok(false);
        }
        // A `str` into a Text field (the commonest write), a `bytes` into a Data field:
        // straight to the write, without trying the value as a number or an enum name first.
        // (A `str` that is not valid UTF-8, and any other buffer, take the general path, which
        // raises or copies it out first.)
        let blob = match ty {
            Type::Text => match value.cast_exact::<PyString>().map(crate::ffi::str_text) {
                Ok(Ok(text)) => Some(capnp_dynamic::SetValue::Str(text)),
                _ => None,
            },
            Type::Data => value
                .cast_exact::<PyBytes>()
                .ok()
                .map(|data| capnp_dynamic::SetValue::Bytes(data.as_bytes())),
            _ => None,
        };
        if let Some(blob) = blob {
            // Without the message lock when nothing else can touch the message (the proof
            // lives for this one write, during which no Python code runs).
            let written =
                this.inner
                    .set_blob_by_index_excluded(crate::ffi::excluded(py).as_mut(), i, blob);
            return match written {
                Ok(()) => Ok(true),
                Err(e) => Err(MsgError::from(e).into_py_attr(py)),
            };
        }
        match crate::convert::set_plain_field(&this.inner, i, value) {
            None => Ok(false),
            Some(result) => result.map(|()| true).map_err(|e| e.into_py_attr(py)),
        }
    }
}

#[pymethods]
impl PyStructBuilder {
    /// Every attribute assignment is a field write.
    fn __setattr__(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyString>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let Some(i) = field_by_name_object(name, self.inner.schema()) else {
            // (A name that is no UTF-8 raises as its extraction as `&str` did.)
            return Err(no_such_member(name.to_str()?));
        };
        set_field(&self.inner, &self.registry, i, value).map_err(|e| e.into_py_attr(py))
    }

    /// Sets field ``field`` (by name) to ``value`` (as ``setattr``).
    fn _set(&self, py: Python<'_>, field: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let run = || {
            let i = field_index(self.inner.schema(), field)?;
            set_field(&self.inner, &self.registry, i, value)
        };
        run().map_err(|e| e.into_py(py))
    }

    /// Sets ``field`` (a ``_StructSchemaField``) to ``value``.
    fn _set_by_field(
        slf: &Bound<'_, Self>,
        field: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let name = crate::message::by_field_name(field, slf.get().inner.schema().id)?;
        slf.get()._set(slf.py(), &name, value)
    }

    /// ``init`` of ``field`` (a ``_StructSchemaField``).
    #[pyo3(signature = (field, size=None))]
    fn _init_by_field(
        slf: &Bound<'_, Self>,
        field: &Bound<'_, PyAny>,
        size: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let name = crate::message::by_field_name(field, slf.get().inner.schema().id)?;
        Ok(slf.call_method1("init", (name, size))?.unbind())
    }

    /// A list of structs for ``field`` that grows with ``add()``; ``finish()`` writes it.
    fn init_resizable_list(slf: &Bound<'_, Self>, field: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        crate::message::resizable_list(slf.as_any(), field)
    }

    /// Initialises a struct, group or AnyPointer field (no size) or a list, Text or Data
    /// field (with a size), and returns the new value.
    #[pyo3(signature = (field, size=None))]
    fn init(
        slf: &Bound<'_, Self>,
        field: &Bound<'_, PyAny>,
        size: Option<u32>,
    ) -> PyResult<Py<PyAny>> {
        Self::init_field(slf, field, size)
    }

    /// The member of the struct's union that is set (also usable without the call).
    #[getter]
    fn which(&self, py: Python<'_>) -> PyResult<Py<PyEnumField>> {
        // The builder's own read: its recorded location, not a reader view's walk.
        let inner = &self.inner;
        which(py, inner.which_field(), inner.schema()).map_err(|e| e.into_py(py))
    }

    /// The message in standard stream framing (root builders only), written straight into
    /// the `bytes` object.
    pub(crate) fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        self.mark_written(py)?;
        let inner = &self.inner;
        let err = |e: capnp_dynamic::Error| MsgError::from(e).into_py(py);
        // Small (or volatile): measured and copied under one lock, with the GIL held, into a
        // `bytes` not zeroed first.
        let volatile = inner.message().is_volatile();
        let small = inner
            .with_framed(|table, segments| {
                let size = segments.iter().fold(table.len(), |n, s| n + s.len());
                (size < DETACH_BYTES || volatile)
                    .then(|| crate::ffi::bytes_concat(py, table, segments))
            })
            .map_err(err)?;
        if let Some(bytes) = small {
            return bytes;
        }
        // Large: filled without the GIL (DESIGN decision 7). Another thread may change the
        // size meanwhile; then the fill declines and the next attempt re-measures.
        for _ in 0..3 {
            let size = inner.serialized_size().map_err(err)?;
            let filled = crate::ffi::bytes_filled_detached(py, size, |buf| {
                inner
                    .with_framed(|table, segments| crate::ffi::write_parts(buf, table, segments))
                    .unwrap_or(false)
            })?;
            if let Some(bytes) = filled {
                return Ok(bytes);
            }
        }
        // Still changing: under one lock, with the GIL held.
        inner
            .with_framed(|table, segments| crate::ffi::bytes_concat(py, table, segments))
            .map_err(err)?
    }

    /// The message in stream framing, packed.
    fn to_bytes_packed<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.serialized(py, true)?))
    }

    /// One `bytes` per segment, without framing.
    fn to_segments<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        // pycapnp 2.2.4 warns when the message was written already but does not set the flag
        // here (a repeated `to_segments()` does not warn), and its behaviour is the contract.
        self.check_written(py, false)?;
        // The list is made before the message lock is taken (making a list may start a
        // collection, which runs Python code); under the lock each segment is copied once,
        // straight into its `bytes` (not tracked by the collector) and appended (a resize of
        // the list's array): no Python code runs. No intermediate `Vec` to convert.
        let out = PyList::empty(py);
        self.inner
            .with_segments(|segments| {
                segments
                    .iter()
                    .try_for_each(|s| out.append(PyBytes::new(py, s)))
            })
            .map_err(|e| MsgError::from(e).into_py(py))??;
        Ok(out)
    }

    /// Writes the message (stream framing) to `file.fileno()`.
    fn write(&self, py: Python<'_>, file: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = self.serialized(py, false)?;
        write_to_file(py, file, &data)
    }

    /// `await builder.write_async(stream)`: the message (stream framing) written to an
    /// `AsyncIoStream` (API.md 5.2.11); root only, sets the write-once flag.
    fn write_async(&self, py: Python<'_>, stream: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let data = self.serialized(py, false)?;
        let rpc = py.import(pyo3::intern!(py, "capnp.lib._rpc"))?;
        Ok(rpc
            .getattr(pyo3::intern!(py, "_write_async"))?
            .call1((stream, PyBytes::new(py, &data)))?
            .unbind())
    }

    /// Writes the packed message (stream framing) to ``file.fileno()``.
    fn write_packed(&self, py: Python<'_>, file: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = self.serialized(py, true)?;
        write_to_file(py, file, &data)
    }

    /// Allows writing the message again (pycapnp warns on a second write).
    fn clear_write_flag(&self) {
        self.written.store(false, Ordering::Relaxed);
    }

    /// Whether the message was written (``to_bytes``, ``write``, ...) already.
    fn _is_written(&self) -> bool {
        self.written.load(Ordering::Relaxed)
    }

    /// The struct as JSON text (``str``), as the reference's ``capnp::JsonCodec`` writes it
    /// (``capnp convert binary:json``): 64-bit integers as strings, Data as arrays of
    /// numbers, enums by name, the ``/capnp/compat/json.capnp`` annotations applied.
    /// ``pretty=True`` breaks it over lines as ``capnp convert`` does without ``--short``.
    #[pyo3(signature = (pretty=false))]
    fn to_json<'py>(&self, py: Python<'py>, pretty: bool) -> PyResult<Bound<'py, PyString>> {
        decode_text_str(
            py,
            capnp_dynamic::json::struct_to_json(&self.inner.as_reader(), pretty),
        )
    }

    /// The struct's canonical form as ``bytes``: one segment, no segment table, objects in
    /// pre-order, trailing zeros of structs truncated (the encoding spec's
    /// canonicalization; ``capnp convert binary:canonical``). Equal values give equal
    /// bytes, so this is what to hash or sign. Any struct, root or not, and no write-once
    /// warning. Read it back with ``from_segments([data])``.
    fn to_bytes_canonical<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = capnp_dynamic::canonical::struct_canonical(&self.inner.as_reader())
            .map_err(|e| MsgError::from(e).into_py(py))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Whether the message of this root struct is in canonical form now.
    fn is_canonical(&self, py: Python<'_>) -> PyResult<bool> {
        capnp_dynamic::canonical::reader_is_canonical(&self.inner.as_reader())
            .map_err(|e| MsgError::from(e).into_py(py))
    }

    /// A reader over the same memory: later writes through this builder are visible.
    fn as_reader(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        PyStructReader::wrap(py, self.inner.as_reader(), self.registry.clone_ref(py))
    }

    /// A deep copy in a new message; returns its root builder.
    #[pyo3(signature = (num_first_segment_words=None, allocate_seg_callable=None))]
    fn copy(
        &self,
        py: Python<'_>,
        num_first_segment_words: Option<u32>,
        allocate_seg_callable: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let message =
            crate::segment_buffer::new_message(py, num_first_segment_words, allocate_seg_callable)?;
        builder_copy(py, &self.inner.as_reader(), message, &self.registry)
    }

    /// The struct as a dict of plain values (set fields only, unless ``verbose``).
    #[pyo3(signature = (verbose=false, ordered=false, encode_bytes_as_base64=false))]
    fn to_dict(
        &self,
        py: Python<'_>,
        verbose: bool,
        ordered: bool,
        encode_bytes_as_base64: bool,
    ) -> PyResult<Py<PyAny>> {
        // One lock and a copy of the message, then walk-free reads of the copy.
        let reader = self.frozen(py)?;
        to_dict(
            py,
            &reader,
            &self.registry,
            dict_options(true, verbose, ordered, encode_bytes_as_base64),
        )
        .map_err(|e| e.into_py(py))
    }

    /// Sets fields from a dict (as ``new_message(**d)`` does).
    #[allow(clippy::wrong_self_convention, reason = "pycapnp's method name")]
    fn from_dict(&self, py: Python<'_>, d: &Bound<'_, PyAny>) -> PyResult<()> {
        let d = d
            .cast::<PyDict>()
            .map_err(|_| pyo3::exceptions::PyTypeError::new_err("from_dict expects a dict"))?;
        from_dict(&self.inner, &self.registry, d).map_err(|e| e.into_py(py))
    }

    fn __dir__(slf: &Bound<'_, Self>) -> PyResult<Py<PyList>> {
        dir(slf.as_any(), slf.get().inner.schema())
    }

    /// Detaches a pointer field's content into a `_DynamicOrphan`, leaving the field null.
    fn disown(&self, py: Python<'_>, field: &Bound<'_, PyAny>) -> PyResult<PyOrphan> {
        let name = init_name(field)?;
        let orphan = self
            .inner
            .disown(&name)
            .map_err(|e| MsgError::from(e).into_py(py))?;
        Ok(PyOrphan {
            inner: orphan,
            registry: self.registry.clone_ref(py),
        })
    }

    /// Moves an orphan's content into a field; the orphan is spent afterwards.
    fn adopt(
        &self,
        py: Python<'_>,
        field: &Bound<'_, PyAny>,
        orphan: &Bound<'_, PyOrphan>,
    ) -> PyResult<()> {
        let name = init_name(field)?;
        self.inner
            .adopt(&name, &orphan.get().inner)
            .map_err(|e| MsgError::from(e).into_py(py))
    }

    /// Pickles as `_struct_reducer(schema_id, to_bytes())` (root builders only).
    fn __reduce_ex__(&self, py: Python<'_>, _protocol: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let data = self.serialized(py, false)?;
        reduce(py, self.inner.schema().id, &data)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        false
    }

    fn __str__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        // Printed from a copy, as `to_dict` reads one: a root's copy is located, so the
        // printer walks its bytes in place (text/located.rs).
        decode_text_str(py, struct_text(&self.frozen(py)?, true))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let text = decode_text(py, struct_text(&self.frozen(py)?, false))?;
        Ok(format!(
            "<{} builder {}>",
            self.inner.schema().display_name,
            text
        ))
    }
}

/// A read-only view of one struct in a message.
#[pyclass(
    frozen,
    subclass,
    name = "_DynamicStructReader",
    module = "capnp.lib.capnp"
)]
pub(crate) struct PyStructReader {
    /// The handle, with its data section's address kept for the attribute slot's quick read.
    pub(crate) inner: capnp_dynamic::LocatedReader,
    pub(crate) registry: Py<PyRegistry>,
    /// As `PyStructBuilder::keep` (`ffi::lent_reader_element`). Declared last.
    #[allow(
        dead_code,
        reason = "held only to keep the list alive until this object goes"
    )]
    pub(crate) keep: Option<Py<PyAny>>,
}

impl PyStructReader {
    /// Primitive field `slot` through the resolved location (`StructReader::prim_located`),
    /// as `read_field` reads it; `None` when the reader has no location (`read_field` then
    /// reads it).
    #[inline(always)]
    fn read_prim(
        &self,
        py: Python<'_>,
        schema: &capnp_dynamic::StructSchema,
        entry: crate::ffi::CachedName,
        slot: PrimSlot,
    ) -> Option<PyResult<Py<PyAny>>> {
        entry.prim_object(py, schema, slot, self.prim_bits(py, slot)?)
    }

    /// `read_prim`'s bits (`StructReader::prim_bits_located`).
    #[inline(always)]
    fn prim_bits(&self, _py: Python<'_>, slot: PrimSlot) -> Option<u64> {
        self.inner.prim_bits_located(slot)
    }

    /// `prim_bits` for the quick attribute read (`AttrSlot::quick_getattr`): from the data
    /// section kept with the handle (`LocatedReader::prim_bits_quick`: one word load, no walk
    /// through the base, backing and segment table, no call).
    #[inline(always)]
    fn prim_bits_quick(&self, _py: Python<'_>, slot: PrimSlot) -> Option<u64> {
        self.inner.prim_bits_quick(slot)
    }

    /// The schema's address, for the attribute slot's name cache.
    #[inline(always)]
    fn schema_addr(&self) -> *const capnp_dynamic::StructSchema {
        self.inner.schema_addr()
    }

    /// The reader object handed to Python: the handle, or what a factory registered for its
    /// struct type makes of it (`capnp.register_type`, API.md 3.16).
    pub(crate) fn wrap(
        py: Python<'_>,
        inner: StructReader,
        registry: Py<PyRegistry>,
    ) -> PyResult<Py<PyAny>> {
        let id = inner.schema().id;
        crate::types::hand_out(py, Self::wrap_raw(py, inner, registry)?, id, false)
    }

    /// The handle itself (for callers that use it before handing it out).
    pub(crate) fn wrap_raw(
        py: Python<'_>,
        inner: StructReader,
        registry: Py<PyRegistry>,
    ) -> PyResult<Py<Self>> {
        Self::wrap_kept(py, inner, registry, None)
    }

    /// As `PyStructBuilder::wrap_lent`.
    pub(crate) fn wrap_lent(
        py: Python<'_>,
        inner: StructReader,
        registry: Py<PyRegistry>,
        keep: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let id = inner.schema().id;
        let obj = Self::wrap_kept(py, inner, registry, Some(keep.clone().unbind()))?;
        crate::types::hand_out(py, obj, id, false)
    }

    /// The handle with the object `keep` kept alive beside it (`PyStructBuilder::keep`).
    pub(crate) fn wrap_kept(
        py: Python<'_>,
        inner: StructReader,
        registry: Py<PyRegistry>,
        keep: Option<Py<PyAny>>,
    ) -> PyResult<Py<Self>> {
        crate::lean_object::new_object(
            py,
            PyStructReader {
                inner: capnp_dynamic::LocatedReader::new(inner),
                registry,
                keep,
            },
        )
    }

    /// Field `index` of the struct object `slf` (its list handles borrow its base).
    fn read_field_of(slf: &Bound<'_, Self>, index: usize) -> MsgResult<Py<PyAny>> {
        slf.get().read_field(slf.py(), index, slf)
    }

    /// Field `index`'s value. `owner`: this struct's own object (a list handle borrows the
    /// struct's base while its object keeps `owner`).
    pub(crate) fn read_field(
        &self,
        py: Python<'_>,
        index: usize,
        owner: &Bound<'_, Self>,
    ) -> MsgResult<Py<PyAny>> {
        let ty = self.inner.schema().fields.get(index).and_then(slot_type);
        // Asked only for data-section slots: a pointer or group field skips the call.
        if ty.is_some_and(|t| !t.is_pointer()) {
            if let Some(value) = self.inner.primitive_fast(index) {
                // A primitive straight from the resolved location (no walk, no `Result`).
                return field_value_to_py(
                    py,
                    self.inner.schema(),
                    index,
                    value,
                    ty,
                    &self.registry,
                );
            }
        }
        self.read_pointer_field(py, index, ty, owner)
    }

    /// `read_field` past the primitive path; kept out of line so that path stays one small
    /// function (inlined whole: growing `read_field` cost primitive reads ~40 instructions).
    #[inline(never)]
    fn read_pointer_field(
        &self,
        py: Python<'_>,
        index: usize,
        ty: Option<&Type>,
        owner: &Bound<'_, Self>,
    ) -> MsgResult<Py<PyAny>> {
        if let Some(Type::List(_)) = ty {
            // A list straight into its handle object, without a `Value`.
            if let Some(list) = crate::ffi::lent_reader_list(owner, index)? {
                return Ok(list);
            }
        } else if let Some(Type::Struct(_)) = ty {
            // A struct straight into its handle object, without a `Value`, borrowing this
            // struct's base while its object keeps `owner`.
            if let Some(child) = crate::ffi::lent_reader_child(owner, index, false)? {
                return Ok(child);
            }
        } else if ty.is_none() {
            // A group (a field without a slot type) likewise.
            if let Some(group) = crate::ffi::lent_reader_child(owner, index, true)? {
                return Ok(group);
            }
        } else if let Some(obj) = blob_field(py, ty, |f| self.inner.with_blob(index, f))? {
            return Ok(obj);
        }
        let value = self.inner.get_by_index(index)?;
        field_value_to_py(py, self.inner.schema(), index, value, ty, &self.registry)
    }
}

#[pymethods]
impl PyStructReader {
    /// Readers are immutable.
    fn __setattr__(&self, name: &str, _value: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyAttributeError::new_err(format!(
            "'_DynamicStructReader' object attribute '{name}' is read-only: readers cannot be modified"
        )))
    }

    /// The member of the struct's union that is set (also usable without the call).
    #[getter]
    fn which(&self, py: Python<'_>) -> PyResult<Py<PyEnumField>> {
        let inner = &self.inner;
        which(py, inner.which_field(), inner.schema()).map_err(|e| e.into_py(py))
    }

    /// The struct as JSON text (``str``), as the reference's ``capnp::JsonCodec`` writes it
    /// (``capnp convert binary:json``): 64-bit integers as strings, Data as arrays of
    /// numbers, enums by name, the ``/capnp/compat/json.capnp`` annotations applied.
    /// ``pretty=True`` breaks it over lines as ``capnp convert`` does without ``--short``.
    #[pyo3(signature = (pretty=false))]
    fn to_json<'py>(&self, py: Python<'py>, pretty: bool) -> PyResult<Bound<'py, PyString>> {
        decode_text_str(py, capnp_dynamic::json::struct_to_json(&self.inner, pretty))
    }

    /// The struct's canonical form as ``bytes``: one segment, no segment table, objects in
    /// pre-order, trailing zeros of structs truncated (the encoding spec's
    /// canonicalization; ``capnp convert binary:canonical``). Equal values give equal
    /// bytes, so this is what to hash or sign. Any struct, root or not. Read it back with
    /// ``from_segments([data])``.
    fn to_bytes_canonical<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = capnp_dynamic::canonical::struct_canonical(&self.inner)
            .map_err(|e| MsgError::from(e).into_py(py))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Whether the message this root struct was read from is in canonical form (one
    /// segment; ``from_segments([data])`` of canonical bytes is, ``from_bytes`` of
    /// ``to_bytes()`` output usually is not). Only on the root: ``KjException`` otherwise.
    fn is_canonical(&self, py: Python<'_>) -> PyResult<bool> {
        capnp_dynamic::canonical::reader_is_canonical(&self.inner)
            .map_err(|e| MsgError::from(e).into_py(py))
    }

    /// A copy of this struct as the root builder of a new message.
    #[pyo3(signature = (num_first_segment_words=None, allocate_seg_callable=None))]
    fn as_builder(
        &self,
        py: Python<'_>,
        num_first_segment_words: Option<u32>,
        allocate_seg_callable: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let message =
            crate::segment_buffer::new_message(py, num_first_segment_words, allocate_seg_callable)?;
        builder_copy(py, &self.inner, message, &self.registry)
    }

    /// The struct as a dict of plain values (set fields only, unless ``verbose``).
    #[pyo3(signature = (verbose=false, ordered=false, encode_bytes_as_base64=false))]
    fn to_dict(
        &self,
        py: Python<'_>,
        verbose: bool,
        ordered: bool,
        encode_bytes_as_base64: bool,
    ) -> PyResult<Py<PyAny>> {
        to_dict(
            py,
            &self.inner,
            &self.registry,
            dict_options(false, verbose, ordered, encode_bytes_as_base64),
        )
        .map_err(|e| e.into_py(py))
    }

    fn __dir__(slf: &Bound<'_, Self>) -> PyResult<Py<PyList>> {
        dir(slf.as_any(), slf.get().inner.schema())
    }

    /// Pickles as `_struct_reducer(schema_id, bytes)` of a copy of this struct.
    fn __reduce_ex__(&self, py: Python<'_>, _protocol: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let data = self
            .inner
            .as_builder()
            .and_then(|b| b.to_bytes())
            .map_err(|e| MsgError::from(e).into_py(py))?;
        reduce(py, self.inner.schema().id, &data)
    }

    /// The reader, or what a factory registered for its type makes of it (pycapnp applies the
    /// type registry to what `from_bytes`'s context manager yields).
    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let id = slf.get().inner.schema().id;
        crate::types::hand_out(slf.py(), slf.clone().unbind(), id, false)
    }

    /// Gives a non-`bytes` input buffer back (API.md 3.1): later reads raise `ValueError`.
    /// (Named parameters, not `*args`: no tuple per `with` block.)
    #[pyo3(signature = (_exc_type=None, _exc_value=None, _traceback=None))]
    fn __exit__(
        &self,
        _exc_type: Option<&Bound<'_, PyAny>>,
        _exc_value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        self.inner.release_buffer();
        false
    }

    fn __str__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        decode_text_str(py, struct_text(&self.inner, true))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let text = decode_text(py, struct_text(&self.inner, false))?;
        Ok(format!(
            "<{} reader {}>",
            self.inner.schema().display_name,
            text
        ))
    }
}

/// Struct list elements, and struct handles whose base another handle shares, released
/// without PyO3's trampoline, and the objects' memory reused (`lean_object.rs`).
macro_rules! lean_object {
    ($ty:ty) => {
        impl crate::lean_object::LeanObject for $ty {
            crate::lean_object::lean_object_common!();

            fn lean_release(&self) -> bool {
                self.keep.is_some()
                    || self.inner.base_shared()
                    || crate::lean_object::HostFree::host_free(&self.inner)
            }
        }
    };
}

lean_object!(PyStructBuilder);
lean_object!(PyStructReader);

// Every field of the two classes, so that a field added to either fails to compile here until
// `lean_object.rs` releases it too (`InPlace`; `written` owns nothing).
const _: fn(PyStructBuilder) = |v| {
    let PyStructBuilder {
        inner: _,
        registry: _,
        written: _,
        keep: _,
    } = v;
};
const _: fn(PyStructReader) = |v| {
    let PyStructReader {
        inner: _,
        registry: _,
        keep: _,
    } = v;
};
