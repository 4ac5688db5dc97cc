//! Messages built in Python buffers (`_PyCustomMessageBuilder(allocate_seg_callable)`,
//! `new_message(allocate_seg_callable=...)`): the callable is asked for each segment with
//! the minimum size in words and returns a writable buffer (`bytearray`, writable
//! `memoryview`, `mmap`, numpy array ...) that the message is then built in.
//!
//! Safety argument (docs/ARCHITECTURE.md, "Unsafe code"): each buffer is held exported for
//! the life of the message (`PyUntypedBuffer`, released when the message drops), so the
//! exporter keeps it alive and in place: a `bytearray` cannot be resized, an `mmap` cannot be
//! closed. Only C-contiguous, writable, 8-byte-aligned buffers are taken, and they are zeroed
//! before capnp uses them. What Python may still do is write them between operations; the
//! dynamic layer checks the message before every operation (`capnp_dynamic` `external.rs`).

#![allow(unsafe_code)]

use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use capnp_dynamic::message::FIRST_SEGMENT_WORDS;
use capnp_dynamic::{MessageBuilder, SegmentSupplier};
use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::error::MsgError;
use crate::exceptions::plain_kj_exception;

/// capnp's largest segment (pointer offsets reach 2**29 words).
const MAX_SEGMENT_WORDS: usize = (1 << 29) - 1;

/// Segments from a Python callable; holds every buffer it returned.
struct PySupplier {
    callable: Py<PyAny>,
    buffers: Vec<PyUntypedBuffer>,
    /// The Python exception behind the first failure, for the constructor to raise.
    error: Arc<Mutex<Option<PyErr>>>,
}

impl PySupplier {
    fn take(
        &mut self,
        py: Python<'_>,
        request_words: u32,
        minimum_words: u32,
    ) -> PyResult<(NonNull<u8>, u32)> {
        let obj = self.callable.bind(py).call1((request_words,))?;
        let buf = PyUntypedBuffer::get(&obj).map_err(|_| {
            PyTypeError::new_err(format!(
                "allocate_seg_callable must return a writable buffer (bytearray, memoryview, \
                 mmap), not {}",
                obj.get_type()
                    .name()
                    .map_or_else(|_| "?".to_string(), |n| n.to_string())
            ))
        })?;
        if buf.readonly() {
            return Err(PyTypeError::new_err(
                "allocate_seg_callable returned a read-only buffer",
            ));
        }
        if !buf.is_c_contiguous() {
            return Err(PyTypeError::new_err(
                "allocate_seg_callable returned a non-contiguous buffer",
            ));
        }
        let unusable =
            |why: String| plain_kj_exception(py, &format!("allocate_seg_callable: {why}"));
        let len = buf.len_bytes();
        let needed = minimum_words as usize * 8;
        if len < needed {
            return Err(unusable(format!(
                "buffer too small for minimumSize: {len} bytes, the segment needs at least \
                 {needed} ({minimum_words} words)"
            )));
        }
        let ptr = buf.buf_ptr().cast::<u8>();
        if (ptr as usize) & 7 != 0 {
            return Err(unusable("buffer not aligned to 8 bytes".to_string()));
        }
        let ptr = NonNull::new(ptr).ok_or_else(|| unusable("buffer has no memory".to_string()))?;
        let words = (len / 8).min(MAX_SEGMENT_WORDS);
        // Two segments in the same memory would overwrite each other under capnp's feet.
        let (start, end) = (ptr.as_ptr() as usize, ptr.as_ptr() as usize + words * 8);
        if self.buffers.iter().any(|b| {
            let (s, e) = (b.buf_ptr() as usize, b.buf_ptr() as usize + b.len_bytes());
            start < e && s < end
        }) {
            return Err(unusable(
                "buffer overlaps memory returned before for another segment".to_string(),
            ));
        }
        // SAFETY: the export is C-contiguous and writable, so `buf_ptr` is valid for writes of
        // `len` bytes (`words * 8 <= len`) while it is held; the GIL is held, so no Python code
        // touches it meanwhile.
        unsafe { std::ptr::write_bytes(ptr.as_ptr(), 0, words * 8) };
        self.buffers.push(buf);
        Ok((ptr, words as u32))
    }
}

// SAFETY: every region returned comes from a held, C-contiguous, writable export checked to
// be at least `words * 8` bytes and 8-byte aligned, and zeroed just before; the export (kept
// in `buffers`) keeps the memory alive and in place until the supplier drops. Nothing else in
// Rust uses it.
unsafe impl SegmentSupplier for PySupplier {
    fn supply(
        &mut self,
        request_words: u32,
        minimum_words: u32,
    ) -> Result<(NonNull<u8>, u32), String> {
        Python::attach(|py| {
            self.take(py, request_words, minimum_words).map_err(|e| {
                let text = e.to_string();
                let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
                slot.get_or_insert(e);
                text
            })
        })
    }
}

/// A new message: in the buffers of `allocate_seg_callable` if given, else on the heap with
/// a first segment of `first_segment_words` (default 1024).
pub(crate) fn new_message(
    py: Python<'_>,
    first_segment_words: Option<u32>,
    allocate_seg_callable: Option<&Bound<'_, PyAny>>,
) -> PyResult<MessageBuilder> {
    Ok(match (allocate_seg_callable, first_segment_words) {
        (Some(f), words) => message_in_buffers(py, f, words)?,
        (None, Some(w)) => MessageBuilder::with_first_segment_words(w),
        (None, None) => MessageBuilder::new(),
    })
}

/// A message whose segments `allocate_seg_callable` supplies, the first of
/// `first_segment_words` (default 1024) words. A callable whose first buffer is unusable
/// raises here (API.md 3.13): its own exception, `TypeError` for a non-buffer or read-only
/// buffer, `KjException` for one too small (or misaligned, or overlapping another).
fn message_in_buffers(
    py: Python<'_>,
    allocate_seg_callable: &Bound<'_, PyAny>,
    first_segment_words: Option<u32>,
) -> PyResult<MessageBuilder> {
    if !allocate_seg_callable.is_callable() {
        return Err(PyTypeError::new_err(
            "allocate_seg_callable must be callable",
        ));
    }
    let error = Arc::new(Mutex::new(None));
    let supplier = PySupplier {
        callable: allocate_seg_callable.clone().unbind(),
        buffers: Vec::new(),
        error: error.clone(),
    };
    MessageBuilder::with_supplier(
        Box::new(supplier),
        first_segment_words.unwrap_or(FIRST_SEGMENT_WORDS),
    )
    .map_err(|e| {
        let cause = error.lock().unwrap_or_else(|p| p.into_inner()).take();
        cause.unwrap_or_else(|| MsgError::from(e).into_py(py))
    })
}
