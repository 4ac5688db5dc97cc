//! Deep copies through a private snapshot message, so that copying a struct or list into
//! its own message (even into itself or its child) reads an independent source and never
//! holds two message locks at once. (Assignments from another message, which need neither,
//! copy directly: `StructBuilder::copy_direct`, ARCHITECTURE.md "Lock order".)

use capnp::message::HeapAllocator;
use capnp::private::layout::{CapTableBuilder, CapTableReader, PointerBuilder, PointerReader};
use capnp::traits::IntoInternalListReader;

use crate::cap::{Cap, CapScope};
use crate::error::{Error, Result};
use crate::list::ListReader;
use crate::message::MessageBuilder;
use crate::message::RLoc;
use crate::raw::{RawPtr, RawPtrBuilder};
use crate::struct_::StructReader;

pub(crate) struct Snapshot {
    message: capnp::message::Builder<HeapAllocator>,
    /// Tokens of the capabilities the copy holds (its cap table), when the source had any.
    caps: Vec<Option<Cap>>,
}

impl Snapshot {
    fn new() -> Snapshot {
        Snapshot {
            message: capnp::message::Builder::new_default(),
            caps: Vec::new(),
        }
    }

    /// A snapshot whose first segment is about `words` (small copies then allocate a few
    /// words, not the default 8 KiB segment; bigger ones grow it).
    fn sized(words: u64) -> Snapshot {
        let words = u32::try_from(words.saturating_add(2)).unwrap_or(u32::MAX);
        Snapshot {
            message: capnp::message::Builder::new(
                HeapAllocator::new().first_segment_words(words.clamp(32, 1024)),
            ),
            caps: Vec::new(),
        }
    }

    pub(crate) fn of_struct(r: &StructReader) -> Result<Snapshot> {
        // A source with capabilities is read through a table of its tokens, and the copy
        // keeps the tokens it took (`CapScope::take_new`).
        let src_caps = r.backing().caps().filter(|c| !c.is_empty());
        let src_scope = src_caps.as_deref().map(CapScope::of);
        let snap = r.backing().with_loc_deep(&r.steps(), |loc| match loc {
            RLoc::Struct(mut s) => {
                // Sized by the struct's own sections (a traversal to size it would be charged
                // against the read limit too); nested content grows the segment.
                let own = capnp::raw::get_struct_data_section(crate::raw::RawStructReader(s)).len()
                    / 8
                    + capnp::raw::get_struct_pointer_section(crate::raw::RawStructReader(s)).len()
                        as usize;
                let mut snap = Snapshot::sized(own as u64 * 4);
                let mut root = snap.message.get_root::<RawPtrBuilder<'_>>()?.0;
                if let Some(src_scope) = &src_scope {
                    s.imbue(CapTableReader::from_ref(src_scope.table()));
                    let mut dst = CapScope::for_writing(0);
                    dst.learn(src_scope);
                    root.imbue(CapTableBuilder::from_ref(dst.table_mut()));
                    root.set_struct(&s, false)?;
                    snap.caps = dst.take_new(|_| None);
                } else {
                    root.set_struct(&s, false)?;
                }
                Ok(snap)
            }
            _ => Err(Error::TypeMismatch),
        })?;
        r.backing().charge(snap.words())?;
        Ok(snap)
    }

    pub(crate) fn of_list(l: &ListReader) -> Result<Snapshot> {
        let snap = l.backing().with_loc_deep(&l.steps(), |loc| {
            let list = match loc {
                RLoc::PrimList(l) => l,
                RLoc::PtrList(l) => l.reader,
                RLoc::StructList(l) => l.into_internal_list_reader(),
                RLoc::Struct(_) => return Err(Error::TypeMismatch),
            };
            // The list's own words (nested content, if any, grows the segment).
            let own = capnp::raw::get_list_bytes(crate::raw::RawListReader(list)).len() / 8;
            let mut snap = Snapshot::sized(own as u64 + 1);
            let mut root = snap.message.get_root::<RawPtrBuilder<'_>>()?.0;
            root.set_list(&list, false)?;
            Ok(snap)
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

    /// Copies the snapshot's content into `dest`, whatever its kind. Capabilities go into
    /// the cap table of `message` (the message of `dest`, locked by the caller); without one,
    /// a copy holding capabilities fails (capnp reports the pointer as invalid).
    pub(crate) fn copy_into(
        &self,
        mut dest: PointerBuilder<'_>,
        message: Option<&MessageBuilder>,
    ) -> Result<()> {
        let mut src_ptr = self.root()?;
        match message {
            Some(message) if !self.caps.is_empty() => {
                message.enable_caps();
                let src_scope = CapScope::of(&self.caps);
                src_ptr.imbue(CapTableReader::from_ref(src_scope.table()));
                let mut dst = CapScope::for_writing(message.caps_len());
                dst.learn(&src_scope);
                dest.imbue(CapTableBuilder::from_ref(dst.table_mut()));
                let src = capnp::any_pointer::Reader::new(src_ptr);
                capnp::any_pointer::Builder::new(dest).set_as::<capnp::any_pointer::Owned>(src)?;
                message.extend_caps(dst.take_new(|_| None));
            }
            _ => {
                let src = capnp::any_pointer::Reader::new(src_ptr);
                capnp::any_pointer::Builder::new(dest).set_as::<capnp::any_pointer::Owned>(src)?;
            }
        }
        Ok(())
    }
}

impl Snapshot {
    /// Whether the copy holds capabilities.
    pub(crate) fn has_caps(&self) -> bool {
        !self.caps.is_empty()
    }

    /// Copies the snapshot's struct, which holds capabilities, over an element of a struct
    /// list of `message`: `locate(table, copy)` finds the list with its builders imbued with
    /// `table` and calls `copy(list, index)`; the capabilities the copy brought in join
    /// `message`'s cap table.
    pub(crate) fn copy_into_struct_element<R>(
        &self,
        message: &MessageBuilder,
        locate: impl FnOnce(
            &mut capnp::private::layout::CapTable,
            &mut dyn FnMut(
                &mut capnp::struct_list::Builder<'_, crate::raw::RawStruct>,
                u32,
            ) -> Result<()>,
        ) -> Result<R>,
    ) -> Result<R> {
        message.enable_caps();
        let src_scope = CapScope::of(&self.caps);
        let mut dst = CapScope::for_writing(message.caps_len());
        dst.learn(&src_scope);
        let mut src_ptr = self.root()?;
        src_ptr.imbue(CapTableReader::from_ref(src_scope.table()));
        let src = src_ptr.get_struct(None)?;
        let r = locate(dst.table_mut(), &mut |list, i| {
            list.set_with_caveats(i, crate::raw::RawStructReader(src))?;
            Ok(())
        })?;
        message.extend_caps(dst.take_new(|_| None));
        Ok(r)
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
