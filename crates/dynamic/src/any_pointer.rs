//! AnyPointer handles: a pointer of unknown kind (a field, a list element or a message's
//! root), viewed as a struct, list or text on demand, and written with any kind of value.

use std::sync::Arc;

use capnp::private::layout::{ElementSize, PointerBuilder, PointerReader, StructSize};

use crate::copy::Snapshot;
use crate::error::Result;
use crate::list::{ListBuilder, ListReader};
use crate::message::{
    builder_pointer, push_step, reader_pointer, with_builder_loc, Backing, Hop, MessageBuilder,
    RLoc, Shape, Step,
};
use crate::raw::{RawPtr, RawPtrBuilder};
use crate::schema::{Registry, Type};
use crate::struct_::{write_pointer, StructBuilder, StructReader};
use crate::value::{check_blob_size, check_list_size, list_shape, SetValue};

/// Where the pointer is: the message's root pointer, or a hop from a struct/list location.
#[derive(Clone)]
enum At {
    Root,
    Child {
        parent: crate::message::Path,
        hop: Hop,
    },
}

/// Splits a child location into its parent's steps and the final pointer hop.
fn split(steps: crate::message::Path) -> At {
    match steps.split_last() {
        Some((last, [])) if matches!(last.hop, Hop::Root) => At::Root,
        Some((last, parent)) => At::Child {
            parent: crate::message::Path::from(parent.to_vec()),
            hop: last.hop,
        },
        None => At::Root,
    }
}

/// The path of a list view at `at` (a root list starts with `Hop::Root`).
fn list_steps(at: &At, shape: Shape) -> crate::message::Path {
    match at {
        At::Root => crate::message::Path::from(vec![Step {
            hop: Hop::Root,
            shape,
            default: None,
        }]),
        At::Child { parent, hop } => push_step(
            parent,
            Step {
                hop: *hop,
                shape,
                default: None,
            },
        ),
    }
}

#[derive(Clone)]
pub struct AnyPointerReader {
    backing: Backing,
    at: At,
    registry: Arc<Registry>,
}

impl std::fmt::Debug for AnyPointerReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<opaque pointer>")
    }
}

impl AnyPointerReader {
    pub(crate) fn new(
        backing: Backing,
        steps: crate::message::Path,
        registry: Arc<Registry>,
    ) -> Self {
        AnyPointerReader {
            backing,
            at: split(steps),
            registry,
        }
    }

    pub(crate) fn root(backing: Backing, registry: Arc<Registry>) -> Self {
        AnyPointerReader {
            backing,
            at: At::Root,
            registry,
        }
    }

    /// The same pointer, resolving struct ids in `registry` (a message read without
    /// knowing its type is viewed with a schema from any parser).
    pub fn with_registry(&self, registry: Arc<Registry>) -> Self {
        AnyPointerReader {
            registry,
            ..self.clone()
        }
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Runs `f` on the raw pointer.
    /// The capability the pointer holds (`as_interface`).
    pub fn as_capability(&self) -> Result<crate::cap::CapValue> {
        let caps = self.backing.caps();
        self.with_pointer(|pr| Ok(crate::cap::read_cap(pr, caps.as_deref())))
    }

    pub(crate) fn with_pointer<R>(
        &self,
        f: impl FnOnce(PointerReader<'_>) -> Result<R>,
    ) -> Result<R> {
        self.with_pointer_in(false, f)
    }

    /// `with_pointer`, with capnp's limiter on (`deep`) for whole-subtree operations.
    fn with_pointer_in<R>(
        &self,
        deep: bool,
        f: impl FnOnce(PointerReader<'_>) -> Result<R>,
    ) -> Result<R> {
        match &self.at {
            At::Root => match &self.backing {
                Backing::Reader(m) => m.with_root(deep.then(|| m.budget_left()), f),
                Backing::Builder(b) => {
                    let guard = b.lock_live()?;
                    f(guard.get_root_as_reader::<RawPtr<'_>>()?.0)
                }
            },
            At::Child { parent, hop } => {
                let g = |loc: RLoc<'_>| f(reader_pointer(loc, *hop)?);
                if deep {
                    self.backing.with_loc_deep(parent, g)
                } else {
                    self.backing.with_loc(parent, g)
                }
            }
        }
    }

    pub fn is_null(&self) -> Result<bool> {
        self.with_pointer(|p| Ok(p.is_null()))
    }

    /// Text content (`""` when null).
    pub fn as_text(&self) -> Result<Vec<u8>> {
        self.with_pointer(|p| {
            let bytes = p.get_text(None)?.as_bytes().to_vec();
            if !p.is_null() {
                self.backing.charge_blob(bytes.len(), true)?;
            }
            Ok(bytes)
        })
    }

    /// Data content (empty when null).
    pub fn as_data(&self) -> Result<Vec<u8>> {
        self.with_pointer(|p| {
            let bytes = p.get_data(None)?.to_vec();
            if !p.is_null() {
                self.backing.charge_blob(bytes.len(), false)?;
            }
            Ok(bytes)
        })
    }

    /// Views the pointer as struct `id`.
    pub fn as_struct(&self, id: u64) -> Result<StructReader> {
        let schema = self.registry.get_struct(id)?;
        // Followed now so that a pointer of the wrong kind fails here.
        let shape = Shape::Struct(schema.size());
        self.with_pointer(|p| {
            let null = p.is_null();
            let loc = RLoc::Struct(p.get_struct(None)?);
            if !null {
                self.backing.charge_loc(&loc, shape)?;
            }
            Ok(())
        })?;
        let (steps, is_root) = match &self.at {
            At::Root => (crate::message::root_path(), true),
            At::Child { parent, hop } => (
                push_step(
                    parent,
                    Step {
                        hop: *hop,
                        shape: Shape::Struct(schema.size()),
                        default: None,
                    },
                ),
                false,
            ),
        };
        Ok(StructReader::new(
            self.backing.clone(),
            steps,
            schema,
            self.registry.clone(),
            is_root,
        ))
    }

    /// Views the pointer as a list of `elem`.
    pub fn as_list(&self, elem: Type) -> Result<ListReader> {
        let shape = list_shape(&elem, &self.registry)?;
        self.with_pointer(|p| {
            let null = p.is_null();
            let loc = crate::message::follow_reader(p, shape, None)?;
            if !null {
                self.backing.charge_loc(&loc, shape)?;
            }
            Ok(())
        })?;
        Ok(ListReader::new(
            self.backing.clone(),
            list_steps(&self.at, shape),
            elem,
            self.registry.clone(),
        ))
    }

    /// The builder this view was taken from, when it views a message being built or a
    /// frozen copy of one (`to_dict` of a builder hands out AnyPointer builders, as pycapnp
    /// does).
    pub fn builder(&self) -> Option<AnyPointerBuilder> {
        let message = match &self.backing {
            Backing::Builder(message) => message,
            // A frozen copy of a builder (`StructBuilder::frozen_reader`): the same path in
            // the original.
            Backing::Reader(reader) => reader.origin.as_ref()?,
        };
        Some(AnyPointerBuilder {
            message: message.clone(),
            // The root struct exists already; a zero size never reallocates it.
            root_size: StructSize {
                data: 0,
                pointers: 0,
            },
            at: self.at.clone(),
            registry: self.registry.clone(),
        })
    }

    /// An independent copy of whatever the pointer holds.
    pub(crate) fn snapshot(&self) -> Result<Snapshot> {
        let snap = self.with_pointer_in(true, Snapshot::of_pointer)?;
        self.backing.charge(snap.words())?;
        Ok(snap)
    }
}

#[derive(Clone)]
pub struct AnyPointerBuilder {
    message: MessageBuilder,
    root_size: StructSize,
    at: At,
    registry: Arc<Registry>,
}

impl std::fmt::Debug for AnyPointerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<opaque pointer>")
    }
}

impl AnyPointerBuilder {
    pub(crate) fn new(
        message: MessageBuilder,
        root_size: StructSize,
        steps: crate::message::Path,
        registry: Arc<Registry>,
    ) -> Self {
        AnyPointerBuilder {
            message,
            root_size,
            at: split(steps),
            registry,
        }
    }

    /// The root pointer of `message` (`get_root_as_any`).
    pub fn root(message: MessageBuilder, registry: Arc<Registry>) -> Self {
        AnyPointerBuilder {
            message,
            root_size: StructSize {
                data: 0,
                pointers: 0,
            },
            at: At::Root,
            registry,
        }
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn with_registry(&self, registry: Arc<Registry>) -> Self {
        AnyPointerBuilder {
            registry,
            ..self.clone()
        }
    }

    /// The capability the pointer holds (`as_interface`).
    pub fn as_capability(&self) -> Result<crate::cap::CapValue> {
        let caps = self.message.has_cap_context().then(|| self.message.caps());
        self.with_pointer(|pb| Ok(crate::cap::read_cap(pb.into_reader(), caps.as_deref())))
    }

    fn with_pointer<R>(&self, f: impl FnOnce(PointerBuilder<'_>) -> Result<R>) -> Result<R> {
        match &self.at {
            At::Root => {
                let mut guard = self.message.lock_live()?;
                f(guard.get_root::<RawPtrBuilder<'_>>()?.0)
            }
            At::Child { parent, hop } => {
                with_builder_loc(&self.message, self.root_size, parent, |loc| {
                    f(builder_pointer(loc, *hop)?)
                })
            }
        }
    }

    pub fn is_null(&self) -> Result<bool> {
        self.with_pointer(|p| Ok(p.is_null()))
    }

    pub fn as_reader(&self) -> AnyPointerReader {
        let backing = Backing::Builder(self.message.clone());
        match &self.at {
            At::Root => AnyPointerReader::root(backing, self.registry.clone()),
            At::Child { parent, hop } => AnyPointerReader {
                backing,
                at: At::Child {
                    parent: parent.clone(),
                    hop: *hop,
                },
                registry: self.registry.clone(),
            },
        }
    }

    fn struct_handle(&self, id: u64, init: bool) -> Result<StructBuilder> {
        let schema = self.registry.get_struct(id)?;
        let size = schema.size();
        self.with_pointer(|p| {
            if init {
                p.init_struct(size);
            } else {
                p.get_struct(size, None)?;
            }
            Ok(())
        })?;
        Ok(match &self.at {
            At::Root => StructBuilder::new(
                self.message.clone(),
                crate::message::root_path(),
                schema,
                self.registry.clone(),
                true,
            ),
            At::Child { parent, hop } => StructBuilder::child(
                self.message.clone(),
                self.root_size,
                push_step(
                    parent,
                    Step {
                        hop: *hop,
                        shape: Shape::Struct(size),
                        default: None,
                    },
                ),
                schema,
                self.registry.clone(),
            ),
        })
    }

    /// Views the pointer as struct `id`, initialising it when null.
    pub fn as_struct(&self, id: u64) -> Result<StructBuilder> {
        self.struct_handle(id, false)
    }

    /// Replaces the content with a zeroed struct `id`.
    pub fn init_as_struct(&self, id: u64) -> Result<StructBuilder> {
        self.struct_handle(id, true)
    }

    fn list_handle(&self, elem: Type, shape: Shape) -> Result<ListBuilder> {
        Ok(ListBuilder::new(
            self.message.clone(),
            self.root_size,
            list_steps(&self.at, shape),
            elem,
            self.registry.clone(),
        ))
    }

    /// Views the pointer as a list of `elem` (an empty list when null).
    pub fn as_list(&self, elem: Type) -> Result<ListBuilder> {
        let shape = list_shape(&elem, &self.registry)?;
        let handle = self.list_handle(elem, shape)?;
        self.with_pointer(|p| {
            crate::message::follow_builder(p, shape, None)?;
            Ok(())
        })?;
        Ok(handle)
    }

    /// Replaces the content with a zeroed list of `size` elements of `elem`.
    pub fn init_as_list(&self, elem: Type, size: u32) -> Result<ListBuilder> {
        let shape = list_shape(&elem, &self.registry)?;
        check_list_size(shape, size)?;
        let handle = self.list_handle(elem, shape)?;
        self.with_pointer(|p| {
            match shape {
                Shape::StructList(sz) => {
                    p.init_struct_list(size, sz);
                }
                Shape::PrimList(es) => {
                    p.init_list(es, size);
                }
                Shape::PtrList | Shape::Struct(_) => {
                    p.init_list(ElementSize::Pointer, size);
                }
            }
            Ok(())
        })?;
        Ok(handle)
    }

    pub fn set_as_text(&self, text: &str) -> Result<()> {
        check_blob_size(text.len(), true)?;
        self.with_pointer(|mut p| {
            p.set_text(text.into());
            Ok(())
        })
    }

    /// Replaces the content with Text made of `size` NUL characters.
    pub fn init_as_text(&self, size: u32) -> Result<()> {
        check_blob_size(size as usize, true)?;
        self.with_pointer(|p| {
            p.init_text(size);
            Ok(())
        })
    }

    /// Writes any pointer-like value: `str` (Text), bytes (Data), a struct, a list or
    /// another AnyPointer (deep copies).
    pub fn set(&self, value: SetValue<'_>) -> Result<()> {
        // Taken before locking: the source may live in this very message.
        let snapshot = match value {
            SetValue::Struct(s) => Some(Snapshot::of_struct(s)?),
            SetValue::List(l) => Some(Snapshot::of_list(l)?),
            SetValue::AnyPointer(a) => Some(a.snapshot()?),
            _ => None,
        };
        self.with_pointer(|p| {
            write_pointer(
                p,
                &Type::AnyPointer,
                &value,
                snapshot.as_ref(),
                Some(&self.message),
            )
        })
    }

    /// Makes the pointer null.
    pub fn clear(&self) -> Result<()> {
        self.with_pointer(|mut p| {
            p.clear();
            Ok(())
        })
    }

    pub fn as_text(&self) -> Result<Vec<u8>> {
        self.as_reader().as_text()
    }
}
