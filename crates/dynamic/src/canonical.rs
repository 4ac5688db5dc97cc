//! Canonical form (the encoding spec's "Canonicalization"): one segment, no segment table,
//! objects in pre-order, trailing zero words of structs truncated. Used to hash or sign.

use capnp::message::{Reader, ReaderOptions, SegmentArray};

use crate::error::{Error, Result};
use crate::message::Backing;
use crate::struct_::{StructBuilder, StructReader};

fn options() -> ReaderOptions {
    let mut o = ReaderOptions::new();
    o.traversal_limit_in_words(None);
    o
}

/// The canonical bytes of the message held in `segments` (its root and everything reachable).
pub fn canonicalize_segments(segments: &[&[u8]]) -> Result<Vec<u8>> {
    let array = SegmentArray::new(segments);
    let message = Reader::new(array, options());
    let words = message.canonicalize()?;
    Ok(capnp::Word::words_to_bytes(&words).to_vec())
}

/// Whether `segments` already hold a message in canonical form.
pub fn is_canonical_segments(segments: &[&[u8]]) -> Result<bool> {
    let array = SegmentArray::new(segments);
    Ok(Reader::new(array, options()).is_canonical()?)
}

/// The canonical bytes of a message whose root is `b` (API: `to_bytes(canonical=True)`).
pub fn builder_canonical(b: &StructBuilder) -> Result<Vec<u8>> {
    b.with_segments(canonicalize_segments)?
}

/// The canonical bytes of `r` as the root of a message of its own (any struct, root or not).
pub fn struct_canonical(r: &StructReader) -> Result<Vec<u8>> {
    builder_canonical(&r.as_builder()?)
}

/// Whether the message `r` belongs to is in canonical form; `r` must be its root, since
/// canonical form is a property of whole messages.
pub fn reader_is_canonical(r: &StructReader) -> Result<bool> {
    if !r.is_root() {
        return Err(Error::Capnp(capnp::Error::failed(
            "is_canonical() checks a whole message: call it on the message's root struct".into(),
        )));
    }
    match r.backing() {
        Backing::Reader(m) => m.is_canonical(),
        Backing::Builder(b) => b.with_segments(is_canonical_segments),
    }
}
