//! Deep copies through a private snapshot message, so that copying a struct or list into
//! its own message (even into itself or its child) reads an independent source and never
//! holds two message locks at once.

use capnp::message::HeapAllocator;
use capnp::private::layout::{PointerBuilder, PointerReader};
use capnp::traits::IntoInternalListReader;

use crate::error::{Error, Result};
use crate::list::ListReader;
use crate::message::RLoc;
use crate::raw::{RawPtr, RawPtrBuilder};
use crate::struct_::StructReader;

pub(crate) struct Snapshot {
    message: capnp::message::Builder<HeapAllocator>,
}

impl Snapshot {
    fn new() -> Snapshot {
        Snapshot {
            message: capnp::message::Builder::new_default(),
        }
    }

    pub(crate) fn of_struct(r: &StructReader) -> Result<Snapshot> {
        let mut snap = Snapshot::new();
        r.backing().with_loc_deep(r.steps(), |loc| match loc {
            RLoc::Struct(s) => {
                let mut root = snap.message.get_root::<RawPtrBuilder<'_>>()?.0;
                root.set_struct(&s, false)?;
                Ok(())
            }
            _ => Err(Error::TypeMismatch),
        })?;
        r.backing().charge(snap.words())?;
        Ok(snap)
    }

    pub(crate) fn of_list(l: &ListReader) -> Result<Snapshot> {
        let mut snap = Snapshot::new();
        l.backing().with_loc_deep(l.steps(), |loc| {
            let list = match loc {
                RLoc::PrimList(l) => l,
                RLoc::PtrList(l) => l.reader,
                RLoc::StructList(l) => l.into_internal_list_reader(),
                RLoc::Struct(_) => return Err(Error::TypeMismatch),
            };
            let mut root = snap.message.get_root::<RawPtrBuilder<'_>>()?.0;
            root.set_list(&list, false)?;
            Ok(())
        })?;
        l.backing().charge(snap.words())?;
        Ok(snap)
    }

    /// A copy of whatever `ptr` holds (struct, list, text, data or null).
    pub(crate) fn of_pointer(ptr: PointerReader<'_>) -> Result<Snapshot> {
        let mut snap = Snapshot::new();
        let root = snap.message.get_root::<RawPtrBuilder<'_>>()?.0;
        capnp::any_pointer::Builder::new(root)
            .set_as::<capnp::any_pointer::Owned>(capnp::any_pointer::Reader::new(ptr))?;
        Ok(snap)
    }

    /// Words the copy took, less its root pointer: what reading the source cost.
    pub(crate) fn words(&self) -> u64 {
        (self.message.size_in_words() as u64).saturating_sub(1)
    }

    pub(crate) fn root(&self) -> Result<PointerReader<'_>> {
        Ok(self.message.get_root_as_reader::<RawPtr<'_>>()?.0)
    }

    /// Copies the snapshot's content into `dest`, whatever its kind.
    pub(crate) fn copy_into(&self, dest: PointerBuilder<'_>) -> Result<()> {
        let src = capnp::any_pointer::Reader::new(self.root()?);
        capnp::any_pointer::Builder::new(dest).set_as::<capnp::any_pointer::Owned>(src)?;
        Ok(())
    }
}

/// Copies a schema default (flat words, root pointer first) into a null pointer, as a
/// builder read of a field with an explicit default does.
pub(crate) fn copy_default(dest: PointerBuilder<'_>, words: &[capnp::Word]) -> Result<()> {
    let segments = [capnp::Word::words_to_bytes(words)];
    let mut options = capnp::message::ReaderOptions::new();
    options.traversal_limit_in_words(None);
    let message =
        capnp::message::Reader::new(capnp::message::SegmentArray::new(&segments), options);
    let src = message.get_root::<capnp::any_pointer::Reader<'_>>()?;
    capnp::any_pointer::Builder::new(dest).set_as::<capnp::any_pointer::Owned>(src)?;
    Ok(())
}
