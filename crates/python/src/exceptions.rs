//! The Python exception hierarchy of the package: `KjException` and its `Type` constants.
//!
//! pycapnp's `KjException` is a plain `Exception` subclass carrying data (`type`, `description`,
//! `file`, `line`); programs read those attributes, so they are fields here rather than text.

use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

/// The kinds of failure Cap'n Proto distinguishes, as the strings pycapnp uses.
const TYPES: [&str; 5] = [
    "FAILED",
    "OVERLOADED",
    "DISCONNECTED",
    "UNIMPLEMENTED",
    "OTHER",
];

/// An exception raised by the Cap'n Proto layer (or by user code, e.g. RPC servers).
#[pyclass(
    extends = PyException,
    subclass,
    dict,
    name = "KjException",
    module = "capnp.lib.capnp"
)]
pub(crate) struct KjException {
    /// Full text: `LOCATION: kind: DESCRIPTION` when raised by the library.
    #[pyo3(get)]
    message: Option<Py<PyAny>>,
    /// The error's message, without location and kind.
    #[pyo3(get)]
    description: Option<Py<PyAny>>,
    /// One of `KjException.Type`'s strings, or what the user passed.
    #[pyo3(get, name = "type")]
    kind: Option<Py<PyAny>>,
    /// The source file the error was raised in, when known.
    #[pyo3(get)]
    file: Option<Py<PyAny>>,
    /// The source line the error was raised at, when known.
    #[pyo3(get)]
    line: Option<Py<PyAny>>,
    /// pycapnp 1.x's ``nature`` (kept for old programs).
    #[pyo3(get)]
    nature: Option<Py<PyAny>>,
    /// pycapnp 1.x's ``durability`` (kept for old programs).
    #[pyo3(get)]
    durability: Option<Py<PyAny>>,
    /// The wrapped exception object, when there is one.
    #[pyo3(get)]
    wrapper: Option<Py<PyAny>>,
    positional: Py<PyTuple>,
}

#[pymethods]
impl KjException {
    #[new]
    #[pyo3(signature = (message=None, nature=None, durability=None, wrapper=None, r#type=None, *_rest))]
    fn new(
        py: Python<'_>,
        message: Option<Py<PyAny>>,
        nature: Option<Py<PyAny>>,
        durability: Option<Py<PyAny>>,
        wrapper: Option<Py<PyAny>>,
        r#type: Option<Py<PyAny>>,
        _rest: &Bound<'_, PyTuple>,
    ) -> PyResult<Self> {
        let positional = match &message {
            Some(m) => PyTuple::new(py, [m.clone_ref(py)])?.unbind(),
            None => PyTuple::empty(py).unbind(),
        };
        Ok(KjException {
            description: message.as_ref().map(|m| m.clone_ref(py)),
            message,
            kind: r#type,
            file: None,
            line: None,
            nature,
            durability,
            wrapper,
            positional,
        })
    }

    /// Everything happened in `__new__`; this only stops `BaseException.__init__` from
    /// refusing the keyword arguments.
    #[pyo3(signature = (*_args, **_kwargs))]
    fn __init__(&self, _args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) {}

    /// The constructor's positional arguments (the message), as `BaseException.args` would be.
    #[getter]
    fn args(&self, py: Python<'_>) -> Py<PyTuple> {
        self.positional.clone_ref(py)
    }

    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        match &self.message {
            Some(m) => Ok(m.bind(py).str()?.to_string()),
            None => Ok(String::new()),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("KjException({:?})", self.__str__(py)?))
    }

    /// The exception attribute syntax raises instead: `AttributeError` for a failed
    /// "has no such" lookup, this exception otherwise.
    fn _to_python(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.borrow();
        let failed = match &this.kind {
            Some(k) => k.bind(py).eq("FAILED")?,
            None => false,
        };
        let text = this.__str__(py)?;
        if failed && text.contains("has no such") {
            let err = pyo3::exceptions::PyAttributeError::new_err(text);
            return Ok(err.into_value(py).into_any());
        }
        Ok(slf.clone().into_any().unbind())
    }

    /// `KjException.Type.FAILED` etc.: the type strings, and `reverse_mapping`.
    #[classattr]
    #[pyo3(name = "Type")]
    fn type_constants(py: Python<'_>) -> PyResult<Py<KjExceptionType>> {
        let reverse = PyDict::new(py);
        for t in TYPES {
            reverse.set_item(t, t)?;
        }
        Py::new(
            py,
            KjExceptionType {
                reverse_mapping: reverse.unbind(),
            },
        )
    }
}

/// The value of `KjException.Type`: one attribute per type string.
#[pyclass(frozen, name = "_KjExceptionType", module = "capnp.lib.capnp")]
pub(crate) struct KjExceptionType {
    #[pyo3(get)]
    reverse_mapping: Py<PyDict>,
}

#[pymethods]
#[allow(non_snake_case, reason = "the attribute names pycapnp programs use")]
impl KjExceptionType {
    #[getter]
    fn FAILED(&self) -> &'static str {
        TYPES[0]
    }
    #[getter]
    fn OVERLOADED(&self) -> &'static str {
        TYPES[1]
    }
    #[getter]
    fn DISCONNECTED(&self) -> &'static str {
        TYPES[2]
    }
    #[getter]
    fn UNIMPLEMENTED(&self) -> &'static str {
        TYPES[3]
    }
    #[getter]
    fn OTHER(&self) -> &'static str {
        TYPES[4]
    }
}

/// What the library knows about a failure it raises.
pub(crate) struct Raised<'a> {
    /// `"FAILED"` and so on.
    pub(crate) kind: &'static str,
    pub(crate) description: String,
    /// Where the failure is located (a schema file, or the implementation).
    pub(crate) file: Option<&'a str>,
    pub(crate) line: u32,
    /// The location prefix of the message, e.g. `file.capnp:3:7`.
    pub(crate) location: String,
}

/// A library-raised `KjException`, ready to be raised.
pub(crate) fn kj_exception(py: Python<'_>, raised: Raised<'_>) -> PyErr {
    let message = format!(
        "{}: {}: {}",
        raised.location,
        raised.kind.to_lowercase(),
        raised.description
    );
    let build = || -> PyResult<PyErr> {
        let message_obj = PyString::new(py, &message).into_any().unbind();
        let value = KjException {
            positional: PyTuple::new(py, [message_obj.clone_ref(py)])?.unbind(),
            message: Some(message_obj),
            description: Some(PyString::new(py, &raised.description).into_any().unbind()),
            kind: Some(PyString::new(py, raised.kind).into_any().unbind()),
            file: raised
                .file
                .map(|f| PyString::new(py, f).into_any().unbind()),
            line: Some(raised.line.into_pyobject(py)?.into_any().unbind()),
            nature: None,
            durability: None,
            wrapper: None,
        };
        let obj = Bound::new(py, value)?;
        Ok(PyErr::from_value(obj.into_any()))
    };
    // Building the exception object can only fail when out of memory; raise that instead.
    build().unwrap_or_else(|e| e)
}

/// A `KjException` as pycapnp's own Python layer raises it: the bare message, no type and no
/// location (API.md 6.1 lists the messages raised this way).
pub(crate) fn plain_kj_exception(py: Python<'_>, message: &str) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let message_obj = PyString::new(py, message).into_any().unbind();
        let value = KjException {
            positional: PyTuple::new(py, [message_obj.clone_ref(py)])?.unbind(),
            description: Some(message_obj.clone_ref(py)),
            message: Some(message_obj),
            kind: None,
            file: None,
            line: None,
            nature: None,
            durability: None,
            wrapper: None,
        };
        Ok(PyErr::from_value(Bound::new(py, value)?.into_any()))
    };
    build().unwrap_or_else(|e| e)
}
