//! The one place where failures of the Rust layers become Python exceptions.

use capnp_compiler::diag::RenderedDiagnostic;
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use crate::exceptions::{kj_exception, Raised};

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
