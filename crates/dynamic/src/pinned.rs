//! Message bytes handed to a consumer outside Rust's borrow rules (the binding's memoryviews
//! over a primitive list's elements), and the handle helpers behind `with` blocks: give a
//! reader's input back, ask whether its input may be written by others.
//!
//! A `PinnedBytes` names its bytes through a keeper whose memory cannot move or be freed
//! while the keeper lives: the message's own segments (kept by the `MessageReader`, which
//! never replaces them), an input buffer (`Bytes`: `bytes` objects, pinned Python buffers,
//! copied words), or a private copy. A released reader drops its own reference to its
//! buffers, but a `PinnedBytes` taken before keeps the buffer it points into.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use capnp::message::ReaderSegments;

use crate::error::{Error, Result};
use crate::list::{ListBuilder, ListReader};
use crate::message::{Backing, Bytes, MessageBuilder, MessageReader, RLoc, Segments};
use crate::schema::Type;
use crate::struct_::{StructBuilder, StructReader};
use crate::value::Value;

/// A byte range that stays at the same address, unchanged by Rust code, while this lives.
pub struct PinnedBytes {
    keeper: Arc<dyn AsRef<[u8]> + Send + Sync>,
    start: usize,
    len: usize,
}

impl std::fmt::Debug for PinnedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PinnedBytes({} bytes)", self.len)
    }
}

impl PinnedBytes {
    /// The bytes: the same address and length on every call.
    pub fn as_slice(&self) -> &[u8] {
        (*self.keeper)
            .as_ref()
            .get(self.start..self.start + self.len)
            .unwrap_or_default()
    }

    /// A private, word-aligned copy of `bytes`.
    fn copied(bytes: &[u8]) -> PinnedBytes {
        let mut words = capnp::Word::allocate_zeroed_vec(bytes.len().div_ceil(8));
        capnp::Word::words_to_bytes_mut(&mut words)[..bytes.len()].copy_from_slice(bytes);
        PinnedBytes {
            keeper: Arc::new(Keep(Bytes::Words(Arc::new(words)))),
            start: 0,
            len: bytes.len(),
        }
    }
}

/// An input buffer (or copy) as a keeper.
struct Keep(Bytes);

impl AsRef<[u8]> for Keep {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Segment `seg` of a reader that is not releasable: its segments live as long as it does.
struct SegmentKeeper {
    reader: Arc<MessageReader>,
    seg: u32,
}

impl AsRef<[u8]> for SegmentKeeper {
    fn as_ref(&self) -> &[u8] {
        self.reader
            .segments
            .get_segment(self.seg)
            .unwrap_or_default()
    }
}

/// Where `[addr, addr + len)` lies in `buf`, if it does.
fn offset_in(buf: &[u8], addr: usize, len: usize) -> Option<usize> {
    let base = buf.as_ptr() as usize;
    (addr >= base && addr.checked_add(len)? <= base + buf.len()).then(|| addr - base)
}

impl MessageReader {
    /// Pins `len` bytes at address `addr` (taken from this message's segments during a walk),
    /// or `None` when they are not in the message's own bytes (a schema default).
    fn pin(self: &Arc<Self>, addr: usize, len: usize) -> Result<Option<PinnedBytes>> {
        if let Segments::Lent(lent) = &*self.segments {
            let guard = lent.slot.read().unwrap_or_else(|e| e.into_inner());
            let parts = guard.as_ref().ok_or(Error::BufferReleased)?;
            for b in &parts.buffers {
                if let Some(start) = offset_in(b, addr, len) {
                    return Ok(Some(PinnedBytes {
                        keeper: Arc::new(Keep(b.clone())),
                        start,
                        len,
                    }));
                }
            }
            return Ok(None);
        }
        for seg in 0..u32::try_from(self.segments.len()).unwrap_or(u32::MAX) {
            let Some(bytes) = self.segments.get_segment(seg) else {
                break;
            };
            if let Some(start) = offset_in(bytes, addr, len) {
                return Ok(Some(PinnedBytes {
                    keeper: Arc::new(SegmentKeeper {
                        reader: self.clone(),
                        seg,
                    }),
                    start,
                    len,
                }));
            }
        }
        Ok(None)
    }
}

/// A primitive list's elements as one flat little-endian array.
#[derive(Debug)]
pub struct ElementBytes {
    pub bytes: PinnedBytes,
    /// Bytes per element.
    pub width: usize,
    pub count: usize,
}

/// Bytes per element of the list types that have a flat layout.
fn flat_width(elem: &Type) -> Result<usize> {
    Ok(match elem {
        Type::Int8 | Type::UInt8 => 1,
        Type::Int16 | Type::UInt16 => 2,
        Type::Int32 | Type::UInt32 | Type::Float32 => 4,
        Type::Int64 | Type::UInt64 | Type::Float64 => 8,
        Type::Bool => {
            return Err(Error::NotExportable(
                "List(Bool) is bit-packed and has no buffer layout; convert it with list(...)"
                    .into(),
            ))
        }
        _ => {
            return Err(Error::NotExportable(
                "only lists of numbers (Int8..UInt64, Float32, Float64) export a buffer".into(),
            ))
        }
    })
}

enum Found {
    /// Contiguous elements in a reader's bytes, by address and length.
    At(usize, usize),
    Copied(PinnedBytes),
    /// Elements of another size (a list written as a struct list by a newer schema).
    Gather(usize),
}

impl ListReader {
    /// The elements of a list of numbers as one flat array: in place for a reader's own
    /// bytes, a copy for a builder's (which later writes could move) or a schema default.
    pub fn element_bytes(&self) -> Result<ElementBytes> {
        let width = flat_width(self.element_type())?;
        let in_reader = matches!(self.backing(), Backing::Reader(_));
        let found = self.with_loc(|loc| {
            let RLoc::PrimList(l) = loc else {
                return Err(Error::TypeMismatch);
            };
            let count = l.len() as usize;
            let step = capnp::raw::get_list_step_size_in_bits(capnp::data_list::Reader::new(l));
            if step as usize != width * 8 {
                return Ok(Found::Gather(count));
            }
            let bytes = capnp::raw::get_list_bytes(capnp::data_list::Reader::new(l));
            let bytes = bytes.get(..count * width).unwrap_or_default();
            Ok(if in_reader && !bytes.is_empty() {
                Found::At(bytes.as_ptr() as usize, bytes.len())
            } else {
                Found::Copied(PinnedBytes::copied(bytes))
            })
        })?;
        let (bytes, count) = match found {
            Found::At(addr, len) => {
                let pinned = match self.backing() {
                    Backing::Reader(m) => m.pin(addr, len)?,
                    Backing::Builder(_) => None,
                };
                match pinned {
                    Some(p) => (p, len / width),
                    None => {
                        // Not in the message's own bytes: copy under a fresh walk.
                        let copy = self.with_loc(|loc| match loc {
                            RLoc::PrimList(l) => Ok(PinnedBytes::copied(
                                capnp::raw::get_list_bytes(capnp::data_list::Reader::new(l))
                                    .get(..len)
                                    .unwrap_or_default(),
                            )),
                            _ => Err(Error::TypeMismatch),
                        })?;
                        (copy, len / width)
                    }
                }
            }
            Found::Copied(p) => {
                let n = p.len / width;
                (p, n)
            }
            Found::Gather(count) => (self.gather(width, count)?, count),
        };
        Ok(ElementBytes {
            bytes,
            width,
            count,
        })
    }

    /// Element by element, for lists whose elements are not `width` bytes apart.
    fn gather(&self, width: usize, count: usize) -> Result<PinnedBytes> {
        let mut out = Vec::with_capacity(count * width);
        for i in 0..count {
            let raw: u64 = match self.get(i as i64)? {
                Value::Int(v) => v as u64,
                Value::UInt(v) => v,
                Value::Float(v) if width == 4 => u64::from((v as f32).to_bits()),
                Value::Float(v) => v.to_bits(),
                _ => return Err(Error::TypeMismatch),
            };
            out.extend_from_slice(&raw.to_le_bytes()[..width]);
        }
        Ok(PinnedBytes::copied(&out))
    }
}

impl ListBuilder {
    /// A copy of the elements (`ListReader::element_bytes`): a builder's bytes may move.
    pub fn element_bytes(&self) -> Result<ElementBytes> {
        self.as_reader().element_bytes()
    }
}

impl StructReader {
    /// Gives the message's input buffer back to its owner (`MessageReader::release`);
    /// `false` when the message has none to give back.
    pub fn release_buffer(&self) -> bool {
        match self.backing() {
            Backing::Reader(m) => m.release(),
            Backing::Builder(_) => false,
        }
    }

    /// Whether reading this struct may race with writes outside Rust (`Sharing::volatile`,
    /// or writable views of a builder's bytes): the caller must then hold whatever keeps
    /// those writers out (the GIL).
    pub fn is_volatile(&self) -> bool {
        match self.backing() {
            Backing::Reader(m) => m.is_volatile(),
            Backing::Builder(b) => b.is_volatile(),
        }
    }

    /// The bytes of Data field `name` (`get_data_as_view`): in place for a reader's own
    /// bytes, else a copy.
    pub fn data_bytes(&self, name: &str) -> Result<PinnedBytes> {
        let offset = data_offset(self.schema(), name)?;
        let in_reader = matches!(self.backing(), Backing::Reader(_));
        let found = self.with_loc(|loc| {
            let RLoc::Struct(s) = loc else {
                return Err(Error::TypeMismatch);
            };
            let bytes: &[u8] = s.get_pointer_field(offset).get_data(None)?;
            Ok(if in_reader && !bytes.is_empty() {
                Found::At(bytes.as_ptr() as usize, bytes.len())
            } else {
                Found::Copied(PinnedBytes::copied(bytes))
            })
        })?;
        match found {
            Found::At(addr, len) => {
                if let Backing::Reader(m) = self.backing() {
                    if let Some(p) = m.pin(addr, len)? {
                        return Ok(p);
                    }
                }
                // Not in the message's own bytes: copy under a fresh walk.
                self.with_loc(|loc| match loc {
                    RLoc::Struct(s) => Ok(PinnedBytes::copied(
                        s.get_pointer_field(offset).get_data(None)?,
                    )),
                    _ => Err(Error::TypeMismatch),
                })
            }
            Found::Copied(p) => Ok(p),
            Found::Gather(_) => Err(Error::TypeMismatch),
        }
    }
}

/// The pointer index of Data field `name`; `TypeMismatch` for a field of another type.
fn data_offset(schema: &crate::schema::StructSchema, name: &str) -> Result<usize> {
    let field = schema.field(name)?;
    match field.kind {
        crate::schema::FieldKind::Slot {
            offset,
            ty: Type::Data,
            ..
        } => Ok(offset as usize),
        _ => Err(Error::TypeMismatch),
    }
}

/// A Data field's bytes in a builder's arena, lent out writable (`get_data_as_view`).
///
/// `addr..addr + len` stays valid while this lives: capnp's builder segments never move and
/// are freed only with the message, which this keeps. Rust code never interprets a Data
/// field's content, so writes through the view cannot mislead it; while this lives the
/// message reports `is_volatile`, so the binding keeps the GIL while reading it.
pub struct LentMut {
    message: MessageBuilder,
    addr: usize,
    len: usize,
}

impl std::fmt::Debug for LentMut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LentMut({} bytes)", self.len)
    }
}

impl LentMut {
    /// The address of the first byte (meaningless when `len` is 0).
    pub fn addr(&self) -> usize {
        self.addr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for LentMut {
    fn drop(&mut self) {
        self.message.lent_mut.fetch_sub(1, Ordering::AcqRel);
    }
}

impl StructBuilder {
    /// Data field `name`'s bytes in place, lent out writable (`LentMut`).
    pub fn data_view(&self, name: &str) -> Result<LentMut> {
        let offset = data_offset(self.schema(), name)?;
        self.with_struct(|s| {
            let bytes: &mut [u8] = s.get_pointer_field(offset).get_data(None)?;
            // Counted while the message is locked, before anyone can write through it.
            self.message().lent_mut.fetch_add(1, Ordering::AcqRel);
            Ok(LentMut {
                message: self.message().clone(),
                addr: bytes.as_mut_ptr() as usize,
                len: bytes.len(),
            })
        })
    }
}

/// The bytes in use of one builder segment, lent out read-only (`to_segment_views`): capnp
/// never moves a segment and frees it only with the message, which this keeps. Rust code
/// may still write them (later writes to the message); readers see bytes, never structure.
pub struct LentSegment {
    message: MessageBuilder,
    addr: usize,
    len: usize,
}

impl std::fmt::Debug for LentSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LentSegment({} bytes)", self.len)
    }
}

impl LentSegment {
    /// The address of the first byte (meaningless when `len` is 0).
    pub fn addr(&self) -> usize {
        self.addr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The message the bytes belong to.
    pub fn message(&self) -> &MessageBuilder {
        &self.message
    }
}

impl MessageBuilder {
    /// Every segment's bytes in use now (no framing), lent out read-only.
    pub fn lend_segments(&self) -> Vec<LentSegment> {
        self.with_segments(|segments| {
            segments
                .iter()
                .map(|s| LentSegment {
                    message: self.clone(),
                    addr: s.as_ptr() as usize,
                    len: s.len(),
                })
                .collect()
        })
    }
}

impl StructBuilder {
    /// `lend_segments` of the message; root builders only.
    pub fn lend_segments(&self) -> Result<Vec<LentSegment>> {
        if !self.is_root() {
            return Err(Error::NotRoot);
        }
        Ok(self.message().lend_segments())
    }
}
