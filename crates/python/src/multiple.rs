//! Iterators over consecutive messages: of a buffer (`read_multiple_bytes[_packed]`) or of a
//! file (`read_multiple[_packed]`), yielding struct readers, or AnyPointer readers when the
//! type is unknown (module-level `read_multiple_bytes_packed`).

use std::io::{BufReader, Read};
use std::sync::Arc;

use capnp_dynamic::{MessageReader, ReadLimits, Sharing};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::any_pointer::PyObjectReader;
use crate::buffer;
use crate::error::MsgError;
use crate::registry::PyRegistry;
use crate::struct_::PyStructReader;

/// `std::io::Read` over a Python callable `read(n) -> bytes` (`os.read` on a descriptor,
/// or a file object's `read`).
pub(crate) struct PyRead {
    read: Py<PyAny>,
}

impl Read for PyRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Python::attach(|py| {
            let chunk = self
                .read
                .bind(py)
                .call1((buf.len(),))
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            let bytes = chunk.cast::<PyBytes>().map_err(|_| {
                std::io::Error::other(
                    "the file's read() did not return bytes (open it in binary mode)",
                )
            })?;
            let data = bytes.as_bytes();
            // A read() returning more than asked would break the framing.
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            Ok(n)
        })
    }
}

enum Source {
    Bytes {
        buf: Arc<dyn AsRef<[u8]> + Send + Sync>,
        offset: usize,
        packed: bool,
        /// Kept exported for the iterator's and its readers' lives (never released early).
        sharing: Sharing,
    },
    Stream(PyRead),
    PackedStream(BufReader<PyRead>),
    Done,
}

/// The iterator behind `read_multiple*` (pycapnp has one class per variant; one is enough).
#[pyclass(name = "_MultipleMessageReader", module = "capnp.lib.capnp")]
pub(crate) struct PyMessageIterator {
    source: Source,
    /// The parser registry and struct id to read roots as; `None` yields AnyPointer readers.
    target: Option<(Py<PyRegistry>, u64)>,
    limits: ReadLimits,
}

impl PyMessageIterator {
    fn next_message(&mut self) -> Result<Option<Arc<MessageReader>>, capnp_dynamic::Error> {
        let limits = self.limits;
        match &mut self.source {
            Source::Bytes {
                buf,
                offset,
                packed,
                sharing,
            } => {
                let bytes: &[u8] = (**buf).as_ref();
                if *offset >= bytes.len() {
                    return Ok(None);
                }
                let (message, next) = if *packed {
                    MessageReader::from_bytes_packed_at(bytes, *offset, limits)?
                } else {
                    MessageReader::from_bytes_at_shared(buf.clone(), *offset, limits, *sharing)?
                };
                *offset = next;
                Ok(Some(message))
            }
            Source::Stream(r) => MessageReader::read_from(r, limits),
            Source::PackedStream(r) => MessageReader::read_packed_from(r, limits),
            Source::Done => Ok(None),
        }
    }
}

/// Whether a stream error means "the input ended" (pycapnp's `read_multiple` stops on any
/// error mentioning EOF, including a truncated last message).
fn is_eof(e: &capnp_dynamic::Error) -> bool {
    matches!(
        e,
        capnp_dynamic::Error::Capnp(c) if matches!(
            c.kind,
            capnp::ErrorKind::PrematureEndOfFile | capnp::ErrorKind::PrematureEndOfPackedInput
        )
    )
}

#[pymethods]
impl PyMessageIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let streaming = matches!(self.source, Source::Stream(_) | Source::PackedStream(_));
        let message = match self.next_message() {
            Ok(Some(m)) => m,
            Ok(None) => {
                self.source = Source::Done;
                return Ok(None);
            }
            Err(e) if streaming && is_eof(&e) => {
                self.source = Source::Done;
                return Ok(None);
            }
            Err(e) => {
                self.source = Source::Done;
                return Err(MsgError::from(e).into_py(py));
            }
        };
        Ok(Some(match &self.target {
            Some((registry, id)) => {
                let root = message
                    .root(&registry.get().inner, *id)
                    .map_err(|e| MsgError::from(e).into_py(py))?;
                PyStructReader::wrap(py, root, registry.clone_ref(py))?.into_any()
            }
            None => {
                let empty = PyRegistry::empty(py)?;
                Py::new(
                    py,
                    PyObjectReader {
                        inner: message.root_as_any(&empty.inner),
                        registry: None,
                    },
                )?
                .into_any()
            }
        }))
    }
}

fn limits(traversal_limit_in_words: Option<u64>, nesting_limit: Option<i64>) -> ReadLimits {
    ReadLimits {
        traversal_limit_in_words,
        nesting_limit,
    }
}

/// An iterator over the messages of a buffer-like object.
pub(crate) fn over_bytes(
    target: Option<(Py<PyRegistry>, u64)>,
    buf: &Bound<'_, PyAny>,
    packed: bool,
    traversal_limit_in_words: Option<u64>,
    nesting_limit: Option<i64>,
) -> PyResult<PyMessageIterator> {
    let input = buffer::input(buf)?;
    Ok(PyMessageIterator {
        source: Source::Bytes {
            buf: input.bytes,
            offset: 0,
            packed,
            sharing: Sharing {
                releasable: false,
                volatile: input.sharing.volatile,
            },
        },
        target,
        limits: limits(traversal_limit_in_words, nesting_limit),
    })
}

/// An iterator over the messages read by `read(n)` calls.
pub(crate) fn over_stream(
    target: Option<(Py<PyRegistry>, u64)>,
    read: Py<PyAny>,
    packed: bool,
    traversal_limit_in_words: Option<u64>,
    nesting_limit: Option<i64>,
) -> PyMessageIterator {
    let reader = PyRead { read };
    PyMessageIterator {
        source: if packed {
            Source::PackedStream(BufReader::new(reader))
        } else {
            Source::Stream(reader)
        },
        target,
        limits: limits(traversal_limit_in_words, nesting_limit),
    }
}

/// `capnp.read_multiple_bytes_packed(buf)`: packed messages of unknown type, as AnyPointers.
#[pyfunction]
#[pyo3(signature = (buf, traversal_limit_in_words=None, nesting_limit=None))]
pub(crate) fn read_multiple_bytes_packed(
    buf: &Bound<'_, PyAny>,
    traversal_limit_in_words: Option<u64>,
    nesting_limit: Option<i64>,
) -> PyResult<PyMessageIterator> {
    over_bytes(None, buf, true, traversal_limit_in_words, nesting_limit)
}
