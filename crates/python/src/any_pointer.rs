//! `_DynamicObjectReader`/`_DynamicObjectBuilder` (AnyPointer values) and `_DynamicOrphan`.
//!
//! Target schemas (`as_struct(schema)`, `as_list(list_schema)`) are resolved by the Python
//! layer (`_struct_target`, `_list_target`) into the schema's parser registry and a type,
//! because a pointer read without a known type (`read_multiple_bytes_packed`) has no
//! parser of its own.

use capnp_dynamic::{AnyPointerBuilder, AnyPointerReader, Orphan, Type};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::convert::{value_to_py, with_set_value};
use crate::error::{MsgError, MsgResult};
use crate::list::{PyListBuilder, PyListReader};
use crate::registry::PyRegistry;
use crate::struct_::{PyStructBuilder, PyStructReader};

/// Deepest `List(List(...))` accepted from a `_ListSchema` description.
const MAX_LIST_DEPTH: usize = 64;

fn lib(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("capnp.lib.capnp")
}

/// The registry and node id of a struct schema (`_StructModule`, `_StructSchema`, ...).
fn struct_target(schema: &Bound<'_, PyAny>) -> PyResult<(Py<PyRegistry>, u64)> {
    let py = schema.py();
    let out = lib(py)?.getattr("_struct_target")?.call1((schema,))?;
    out.extract()
}

/// A type from its Python description: `("prim", name)`, `("struct"|"enum"|"interface", id)`
/// or `("list", description)`.
fn parse_type(spec: &Bound<'_, PyAny>, depth: usize) -> PyResult<Type> {
    if depth > MAX_LIST_DEPTH {
        return Err(PyTypeError::new_err("list schema nested too deeply"));
    }
    let tuple = spec.cast::<PyTuple>()?;
    let kind: String = tuple.get_item(0)?.extract()?;
    let arg = tuple.get_item(1)?;
    Ok(match kind.as_str() {
        "struct" => Type::Struct(arg.extract()?),
        "enum" => Type::Enum(arg.extract()?),
        "interface" => Type::Interface(arg.extract()?),
        "list" => Type::List(Box::new(parse_type(&arg, depth + 1)?)),
        "prim" => match arg.extract::<String>()?.as_str() {
            "Void" => Type::Void,
            "Bool" => Type::Bool,
            "Int8" => Type::Int8,
            "Int16" => Type::Int16,
            "Int32" => Type::Int32,
            "Int64" => Type::Int64,
            "UInt8" => Type::UInt8,
            "UInt16" => Type::UInt16,
            "UInt32" => Type::UInt32,
            "UInt64" => Type::UInt64,
            "Float32" => Type::Float32,
            "Float64" => Type::Float64,
            "Text" => Type::Text,
            "Data" => Type::Data,
            "AnyPointer" => Type::AnyPointer,
            other => return Err(PyTypeError::new_err(format!("unknown type {other}"))),
        },
        other => return Err(PyTypeError::new_err(format!("unknown type kind {other}"))),
    })
}

/// The element type of a `_ListSchema` (or an object whose `schema` is one), and the
/// registry its struct/enum types belong to (`None` for primitive elements).
fn list_target(schema: &Bound<'_, PyAny>) -> PyResult<(Option<Py<PyRegistry>>, Type)> {
    let py = schema.py();
    let out = lib(py)?.getattr("_list_target")?.call1((schema,))?;
    let (registry, spec): (Option<Py<PyRegistry>>, Bound<'_, PyAny>) = out.extract()?;
    Ok((registry, parse_type(&spec, 0)?))
}

/// Only struct readers and builders pickle (API.md 3.15).
pub(crate) fn not_picklable(class: &str) -> PyErr {
    PyTypeError::new_err(format!("cannot pickle '{class}' object"))
}

pub(crate) fn capability_unsupported(py: Python<'_>) -> PyErr {
    MsgError::Dynamic(capnp_dynamic::Error::Capnp(capnp::Error::failed(
        "Trying to read capabilities without ever having created a capability context \
         (capability fields need RPC, which is not implemented yet)"
            .into(),
    )))
    .into_py(py)
}

/// A read-only AnyPointer.
#[pyclass(frozen, name = "_DynamicObjectReader", module = "capnp.lib.capnp")]
pub(crate) struct PyObjectReader {
    pub(crate) inner: AnyPointerReader,
    /// The parser registry of the message it came from (`None` for messages read without
    /// a type); results of `as_struct` are wrapped with the target schema's registry.
    pub(crate) registry: Option<Py<PyRegistry>>,
}

#[pymethods]
impl PyObjectReader {
    /// The pointer viewed as a struct of `schema`.
    fn as_struct(&self, py: Python<'_>, schema: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let (registry, id) = struct_target(schema)?;
        let r = self
            .inner
            .with_registry(registry.get().inner.clone())
            .as_struct(id)
            .map_err(|e| MsgError::from(e).into_py(py))?;
        Ok(PyStructReader::wrap(py, r, registry)?.into_any())
    }

    /// The pointer viewed as a list of `list_schema`'s element type.
    fn as_list(&self, py: Python<'_>, list_schema: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let (registry, elem) = list_target(list_schema)?;
        let registry = match registry.or_else(|| self.registry.as_ref().map(|r| r.clone_ref(py))) {
            Some(r) => r,
            None => Py::new(py, PyRegistry::empty(py)?)?,
        };
        let l = self
            .inner
            .with_registry(registry.get().inner.clone())
            .as_list(elem)
            .map_err(|e| MsgError::from(e).into_py(py))?;
        Ok(crate::lean_object::new_object(
            py,
            PyListReader {
                inner: l,
                registry,
                keep: None,
            },
        )?
        .into_any())
    }

    /// The pointer read as Text (`''` when null).
    fn as_text(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let bytes = self
            .inner
            .as_text()
            .map_err(|e| MsgError::from(e).into_py(py))?;
        text(py, &bytes)
    }

    /// The capability the pointer holds, as a client of interface `schema`.
    fn as_interface(&self, py: Python<'_>, schema: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        client_of(py, self.inner.as_capability(), schema)
    }

    fn __reduce_ex__(&self, _protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(not_picklable("_DynamicObjectReader"))
    }
}

fn text(py: Python<'_>, bytes: &[u8]) -> PyResult<Py<PyAny>> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(crate::ffi::str_new(py, s).into_any().unbind()),
        Err(e) => Err(PyErr::from_value(
            pyo3::exceptions::PyUnicodeDecodeError::new_utf8(py, bytes, e)?.into_any(),
        )),
    }
}

/// A writable AnyPointer.
#[pyclass(frozen, name = "_DynamicObjectBuilder", module = "capnp.lib.capnp")]
pub(crate) struct PyObjectBuilder {
    pub(crate) inner: AnyPointerBuilder,
    pub(crate) registry: Option<Py<PyRegistry>>,
}

impl PyObjectBuilder {
    fn struct_builder(
        &self,
        py: Python<'_>,
        schema: &Bound<'_, PyAny>,
        init: bool,
    ) -> PyResult<Py<PyAny>> {
        let (registry, id) = struct_target(schema)?;
        let any = self.inner.with_registry(registry.get().inner.clone());
        let b = if init {
            any.init_as_struct(id)
        } else {
            any.as_struct(id)
        }
        .map_err(|e| MsgError::from(e).into_py(py))?;
        Ok(PyStructBuilder::wrap(py, b, registry)?.into_any())
    }

    fn list_builder(
        &self,
        py: Python<'_>,
        list_schema: &Bound<'_, PyAny>,
        size: Option<u32>,
    ) -> PyResult<Py<PyAny>> {
        let (registry, elem) = list_target(list_schema)?;
        let registry = match registry.or_else(|| self.registry.as_ref().map(|r| r.clone_ref(py))) {
            Some(r) => r,
            None => Py::new(py, PyRegistry::empty(py)?)?,
        };
        let any = self.inner.with_registry(registry.get().inner.clone());
        let l = match size {
            Some(n) => any.init_as_list(elem, n),
            None => any.as_list(elem),
        }
        .map_err(|e| MsgError::from(e).into_py(py))?;
        Ok(crate::lean_object::new_object(
            py,
            PyListBuilder {
                inner: l,
                registry,
                keep: None,
            },
        )?
        .into_any())
    }
}

#[pymethods]
impl PyObjectBuilder {
    /// The pointer viewed as a struct of `schema` (initialised when null).
    fn as_struct(&self, py: Python<'_>, schema: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.struct_builder(py, schema, false)
    }

    /// Replaces the content with a zeroed struct of `schema`.
    fn init_as_struct(&self, py: Python<'_>, schema: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.struct_builder(py, schema, true)
    }

    /// The pointer viewed as a list of ``list_schema``'s element type.
    fn as_list(&self, py: Python<'_>, list_schema: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.list_builder(py, list_schema, None)
    }

    /// Replaces the content with a zeroed list of `size` elements.
    fn init_as_list(
        &self,
        py: Python<'_>,
        list_schema: &Bound<'_, PyAny>,
        size: u32,
    ) -> PyResult<Py<PyAny>> {
        self.list_builder(py, list_schema, Some(size))
    }

    /// The pointer read as Text (``''`` when null).
    fn as_text(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let bytes = self
            .inner
            .as_text()
            .map_err(|e| MsgError::from(e).into_py(py))?;
        text(py, &bytes)
    }

    /// Sets the pointer to Text ``text``.
    fn set_as_text(&self, py: Python<'_>, text: &str) -> PyResult<()> {
        self.inner
            .set_as_text(text)
            .map_err(|e| MsgError::from(e).into_py(py))
    }

    /// Replaces the content with Text of `size` NUL characters; returns it.
    fn init_as_text(&self, py: Python<'_>, size: u32) -> PyResult<String> {
        self.inner
            .init_as_text(size)
            .map_err(|e| MsgError::from(e).into_py(py))?;
        Ok("\0".repeat(size as usize))
    }

    /// Deep-copies `value` (an AnyPointer, struct, list, `str` or `bytes`) into the pointer.
    fn set(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let run = || -> MsgResult<()> {
            with_set_value(value, "<AnyPointer>", |v| Ok(self.inner.set(v)?))
        };
        run().map_err(|e| e.into_py(py))
    }

    /// A reader of the same pointer.
    fn as_reader(&self, py: Python<'_>) -> PyObjectReader {
        PyObjectReader {
            inner: self.inner.as_reader(),
            registry: self.registry.as_ref().map(|r| r.clone_ref(py)),
        }
    }

    /// The capability the pointer holds, as a client of interface `schema`.
    fn as_interface(&self, py: Python<'_>, schema: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        client_of(py, self.inner.as_capability(), schema)
    }

    fn __reduce_ex__(&self, _protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(not_picklable("_DynamicObjectBuilder"))
    }
}

/// Content detached from its field by `disown`, waiting for `adopt`.
#[pyclass(frozen, name = "_DynamicOrphan", module = "capnp.lib.capnp")]
pub(crate) struct PyOrphan {
    pub(crate) inner: Orphan,
    pub(crate) registry: Py<PyRegistry>,
}

#[pymethods]
impl PyOrphan {
    /// A builder view of the content (struct, list or AnyPointer builder; Text/Data values).
    fn get(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let run = || -> MsgResult<Py<PyAny>> {
            let value = self.inner.get()?;
            let ty = self.inner.ty().clone();
            value_to_py(py, value, Some(&ty), &self.registry)
        };
        run().map_err(|e| e.into_py(py))
    }

    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.get(py)?.bind(py).str()?.to_string())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.get(py)?.bind(py).repr()?.to_string())
    }

    fn __reduce_ex__(&self, _protocol: &Bound<'_, PyAny>) -> PyResult<()> {
        Err(not_picklable("_DynamicOrphan"))
    }
}

/// `as_interface`: the capability read from an AnyPointer as a client of `schema`.
fn client_of(
    py: Python<'_>,
    value: capnp_dynamic::Result<capnp_dynamic::CapValue>,
    schema: &Bound<'_, PyAny>,
) -> PyResult<Py<PyAny>> {
    let value = value.map_err(|e| MsgError::from(e).into_py(py))?;
    let cap = crate::rpc::cap_value_to_py(py, value)?;
    let rpc = py.import(pyo3::intern!(py, "capnp.lib._rpc"))?;
    Ok(rpc
        .getattr(pyo3::intern!(py, "_client_of"))?
        .call1((cap, schema))?
        .unbind())
}
