//! The one place where failures of the Rust layers become Python exceptions.

use capnp_compiler::diag::RenderedDiagnostic;
use pyo3::exceptions::{PyAttributeError, PyOSError, PyValueError};
use pyo3::prelude::*;

use crate::exceptions::{kj_exception, plain_kj_exception, Raised};

/// Why loading a schema file failed.
#[derive(Debug)]
pub(crate) enum LoadError {
    /// The file does not exist (checked before anything else, as pycapnp does).
    FileNotFound(String),
    /// The file name does not end with `.capnp`.
    NotCapnp(String),
    /// The file exists but could not be read.
    Unreadable { path: String, reason: String },
    /// The compiler reported errors; never empty.
    Schema(Vec<RenderedDiagnostic>),
    /// Two different files of one parser declare the same id.
    DuplicateId { id: u64, display_name: String },
    /// The compiler's output could not be read back: a bug, reported instead of panicking.
    Internal(capnp::Error),
}

impl From<capnp::Error> for LoadError {
    fn from(e: capnp::Error) -> Self {
        LoadError::Internal(e)
    }
}

impl From<capnp::NotInSchema> for LoadError {
    fn from(e: capnp::NotInSchema) -> Self {
        LoadError::Internal(e.into())
    }
}

impl LoadError {
    pub(crate) fn into_py(self, py: Python<'_>) -> PyErr {
        match self {
            LoadError::FileNotFound(path) => PyOSError::new_err(format!("File not found: {path}")),
            LoadError::NotCapnp(path) => {
                PyValueError::new_err(format!("File does not end with .capnp, {path}"))
            }
            LoadError::Unreadable { path, reason } => {
                PyOSError::new_err(format!("Cannot read {path}: {reason}"))
            }
            LoadError::Schema(diags) => schema_error(py, &diags),
            LoadError::DuplicateId { id, display_name } => kj_exception(
                py,
                Raised {
                    kind: "FAILED",
                    description: format!(
                        "Duplicate ID @0x{id:016x}: a different file already declares it."
                    ),
                    file: Some(&display_name),
                    line: 1,
                    location: format!("{display_name}:1:1"),
                },
            ),
            LoadError::Internal(e) => kj_exception(
                py,
                Raised {
                    kind: "FAILED",
                    description: format!("internal error reading the compiled schema: {e}"),
                    file: Some(file!()),
                    line: line!(),
                    location: format!("{}:{}", file!(), line!()),
                },
            ),
        }
    }
}

/// A `KjException` located at the first diagnostic; the others follow in the description so
/// that no error is lost.
fn schema_error(py: Python<'_>, diags: &[RenderedDiagnostic]) -> PyErr {
    let Some(first) = diags.first() else {
        return kj_exception(
            py,
            Raised {
                kind: "FAILED",
                description: "schema compilation failed".to_string(),
                file: None,
                line: 0,
                location: "(unknown)".to_string(),
            },
        );
    };
    let mut description = first.message.clone();
    for d in diags.iter().skip(1) {
        description.push('\n');
        description.push_str(&d.to_string());
    }
    kj_exception(
        py,
        Raised {
            kind: "FAILED",
            description,
            file: Some(&first.file_name),
            line: first.line,
            location: format!("{}:{}:{}", first.file_name, first.line, first.col),
        },
    )
}

/// A failure while reading or writing a message: from the dynamic layer, or a Python error
/// raised on the way (a conversion, a callback).
#[derive(Debug)]
pub(crate) enum MsgError {
    Dynamic(capnp_dynamic::Error),
    Python(PyErr),
}

impl From<capnp_dynamic::Error> for MsgError {
    fn from(e: capnp_dynamic::Error) -> Self {
        MsgError::Dynamic(e)
    }
}

impl From<PyErr> for MsgError {
    fn from(e: PyErr) -> Self {
        MsgError::Python(e)
    }
}

impl From<capnp::Error> for MsgError {
    fn from(e: capnp::Error) -> Self {
        MsgError::Dynamic(e.into())
    }
}

pub(crate) type MsgResult<T> = Result<T, MsgError>;

impl MsgError {
    /// Whether the failure is the read of an inactive union member (`from_dict` retries).
    pub(crate) fn is_not_in_union(&self) -> bool {
        matches!(self, MsgError::Dynamic(capnp_dynamic::Error::NotInUnion))
    }

    /// The exception pycapnp raises for this failure through a method call (`_get`, `_set`).
    pub(crate) fn into_py(self, py: Python<'_>) -> PyErr {
        use capnp_dynamic::Error as E;
        let e = match self {
            MsgError::Python(e) => return e,
            MsgError::Dynamic(e) => e,
        };
        match e {
            E::UnalignedLength | E::BufferReleased => PyValueError::new_err(e.to_string()),
            E::NotExportable(_) => pyo3::exceptions::PyBufferError::new_err(e.to_string()),
            // Raised by pycapnp's own Python layer: no location, no type (API.md 6.1).
            E::NotAUnion | E::NotRoot => plain_kj_exception(py, &e.to_string()),
            E::Capnp(inner) => {
                let kind = match inner.kind {
                    capnp::ErrorKind::Overloaded => "OVERLOADED",
                    capnp::ErrorKind::Disconnected => "DISCONNECTED",
                    capnp::ErrorKind::Unimplemented => "UNIMPLEMENTED",
                    _ => "FAILED",
                };
                let text = match inner.kind {
                    // Programs look for `EOF` in these (pycapnp's `read_multiple` stops on it).
                    capnp::ErrorKind::PrematureEndOfFile
                    | capnp::ErrorKind::PrematureEndOfPackedInput => {
                        format!("Premature EOF: {inner}")
                    }
                    // The reference's wording, which programs match on (API.md 3.1).
                    capnp::ErrorKind::ReadLimitExceeded => {
                        format!("Exceeded message traversal limit: {inner}")
                    }
                    capnp::ErrorKind::MessageIsTooDeeplyNested
                    | capnp::ErrorKind::NestingLimitExceeded => {
                        format!("Message is too deeply-nested or contains cycles: {inner}")
                    }
                    // The reference prefixes pointer-kind errors so; programs match on it.
                    capnp::ErrorKind::MessageContainsNonStructPointerWhereStructPointerWasExpected
                    | capnp::ErrorKind::MessageContainsNonListPointerWhereListPointerWasExpected
                    | capnp::ErrorKind::MessageContainsNonListPointerWhereTextWasExpected
                    | capnp::ErrorKind::MessageContainsNonListPointerWhereDataWasExpected
                    | capnp::ErrorKind::MessageContainsNonCapabilityPointerWhereCapabilityPointerWasExpected => {
                        format!("Schema mismatch: {inner}")
                    }
                    // kj's "failed:" is in the prefix already.
                    capnp::ErrorKind::Failed => inner.extra.clone(),
                    _ => inner.to_string(),
                };
                located(py, kind, text)
            }
            E::NoSuchField { .. }
            | E::TypeMismatch
            | E::OutOfRange { .. }
            | E::NotInUnion
            | E::NoSuchEnumerant { .. }
            | E::IndexOutOfRange
            | E::InitWithoutSize
            | E::InitWithSize
            | E::UnknownSchema { .. }
            | E::InvalidSchema(_)
            | E::OrphanAdopted => located(py, "FAILED", e.to_string()),
        }
    }

    /// The exception for attribute syntax (`msg.x`, `msg.x = v`): "has no such" failures
    /// become `AttributeError` (API.md 6.2), everything else is as `into_py`.
    pub(crate) fn into_py_attr(self, py: Python<'_>) -> PyErr {
        use capnp_dynamic::Error as E;
        match &self {
            MsgError::Dynamic(e @ (E::NoSuchField { .. } | E::NoSuchEnumerant { .. })) => {
                PyAttributeError::new_err(format!("capnp/dynamic: failed: {e}"))
            }
            _ => self.into_py(py),
        }
    }
}

/// A library-raised `KjException` located in the dynamic layer.
fn located(py: Python<'_>, kind: &'static str, description: String) -> PyErr {
    kj_exception(
        py,
        Raised {
            kind,
            description,
            file: Some("capnp/dynamic"),
            line: 0,
            location: "capnp/dynamic".to_string(),
        },
    )
}
