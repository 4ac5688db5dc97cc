//! Adapters that hand out capnp's layout objects (`PointerReader`, `StructReader`, …)
//! through the crate's public traits, so the dynamic layer never touches the wire format itself.

use capnp::introspect::{Introspect, Type as IType, TypeVariant};
use capnp::private::layout::{
    PointerBuilder, PointerReader, StructBuilder, StructReader, StructSize,
};
use capnp::traits::{
    FromPointerBuilder, FromPointerReader, HasStructSize, IntoInternalStructReader, OwnedStruct,
    SetterInput,
};
use capnp::Word;

/// The raw pointer behind a reader location.
pub(crate) struct RawPtr<'a>(pub(crate) PointerReader<'a>);

impl<'a> FromPointerReader<'a> for RawPtr<'a> {
    fn get_from_pointer(
        reader: &PointerReader<'a>,
        _default: Option<&'a [Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawPtr(*reader))
    }
}

/// The raw pointer behind a builder location.
pub(crate) struct RawPtrBuilder<'a>(pub(crate) PointerBuilder<'a>);

impl<'a> FromPointerBuilder<'a> for RawPtrBuilder<'a> {
    fn init_pointer(builder: PointerBuilder<'a>, _length: u32) -> Self {
        RawPtrBuilder(builder)
    }
    fn get_from_pointer(
        builder: PointerBuilder<'a>,
        _default: Option<&'a [Word]>,
    ) -> capnp::Result<Self> {
        Ok(RawPtrBuilder(builder))
    }
}

/// A struct type of unknown shape, so that `struct_list` can hand out elements.
///
/// Its `STRUCT_SIZE` is zero: callers upgrade lists to the schema's size with
/// `PointerBuilder::get_struct_list` first, and a zero size never upgrades further.
pub(crate) struct RawStruct;

impl Introspect for RawStruct {
    fn introspect() -> IType {
        // Only capnp's own dynamic reflection asks; we never use it.
        TypeVariant::AnyPointer.into()
    }
}

#[derive(Clone, Copy)]
pub(crate) struct RawStructReader<'a>(pub(crate) StructReader<'a>);
pub(crate) struct RawStructBuilder<'a>(pub(crate) StructBuilder<'a>);

impl<'a> From<StructReader<'a>> for RawStructReader<'a> {
    fn from(r: StructReader<'a>) -> Self {
        RawStructReader(r)
    }
}

impl<'a> From<StructBuilder<'a>> for RawStructBuilder<'a> {
    fn from(b: StructBuilder<'a>) -> Self {
        RawStructBuilder(b)
    }
}

/// A layout list reader, so `capnp::raw` can show its bytes.
pub(crate) struct RawListReader<'a>(pub(crate) capnp::private::layout::ListReader<'a>);

impl<'a> capnp::traits::IntoInternalListReader<'a> for RawListReader<'a> {
    fn into_internal_list_reader(self) -> capnp::private::layout::ListReader<'a> {
        self.0
    }
}

impl<'a> IntoInternalStructReader<'a> for RawStructReader<'a> {
    fn into_internal_struct_reader(self) -> StructReader<'a> {
        self.0
    }
}

impl SetterInput<RawStruct> for RawStructReader<'_> {
    fn set_pointer_builder(
        mut builder: PointerBuilder<'_>,
        input: Self,
        canonicalize: bool,
    ) -> capnp::Result<()> {
        builder.set_struct(&input.0, canonicalize)
    }
}

impl HasStructSize for RawStructBuilder<'_> {
    const STRUCT_SIZE: StructSize = StructSize {
        data: 0,
        pointers: 0,
    };
}

impl OwnedStruct for RawStruct {
    type Reader<'a> = RawStructReader<'a>;
    type Builder<'a> = RawStructBuilder<'a>;
}

/// Copies the value behind `ptr` into a fresh single-segment message and returns its
/// words (root pointer first), the form capnp expects for default values.
///
/// Going through a bounds-checked copy means a malformed schema cannot make capnp read a
/// default out of bounds (defaults are read without checks).
pub(crate) fn pointer_to_default_words(
    ptr: capnp::any_pointer::Reader<'_>,
) -> capnp::Result<Option<Vec<Word>>> {
    if ptr.is_null() {
        return Ok(None);
    }
    let size = ptr.target_size()?;
    let words = u32::try_from(size.word_count.saturating_add(1)).unwrap_or(u32::MAX);
    let mut message = capnp::message::Builder::new(
        capnp::message::HeapAllocator::new().first_segment_words(words),
    );
    message.set_root(ptr)?;
    let segments = message.get_segments_for_output();
    if segments.len() != 1 {
        return Err(capnp::Error::failed(
            "default value does not fit one segment".into(),
        ));
    }
    let bytes = segments[0];
    let mut out = Word::allocate_zeroed_vec(bytes.len() / 8);
    Word::words_to_bytes_mut(&mut out).copy_from_slice(&bytes[..(bytes.len() / 8) * 8]);
    Ok(Some(out))
}
