//! Orphans: pointer content detached from its field (`disown`) and waiting to be attached
//! elsewhere (`adopt`).
//!
//! An orphan keeps its content in a private message whose root struct has one pointer.
//! Adoption copies the content (so an orphan may go into any message) and retires the
//! private message, after which the orphan and every handle obtained from it fail with
//! `Error::OrphanAdopted` instead of silently writing where nobody looks.

use std::sync::Arc;

use capnp::private::layout::StructSize;

use crate::any_pointer::AnyPointerBuilder;
use crate::copy::Snapshot;
use crate::error::{Error, Result};
use crate::list::ListBuilder;
use crate::message::{follow_builder, with_builder_loc, Hop, MessageBuilder, Shape, Step};
use crate::raw::RawPtrBuilder;
use crate::schema::{Registry, Type};
use crate::struct_::StructBuilder;
use crate::value::{list_shape, AnyPointerValue, ListValue, StructValue, Value};

/// The private message's root: one pointer holding the content.
const HOLDER: StructSize = StructSize {
    data: 0,
    pointers: 1,
};

#[derive(Clone)]
pub struct Orphan {
    message: MessageBuilder,
    ty: Type,
    registry: Arc<Registry>,
}

impl std::fmt::Debug for Orphan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<orphan of {:?}>", self.ty)
    }
}

impl Orphan {
    /// An orphan holding a copy of `snapshot`'s content, typed `ty`.
    pub(crate) fn from_snapshot(
        snapshot: Option<&Snapshot>,
        ty: Type,
        registry: Arc<Registry>,
    ) -> Result<Orphan> {
        let message = MessageBuilder::new();
        {
            let mut m = message.lock();
            let mut root = m.init_root::<RawPtrBuilder<'_>>()?.0.init_struct(HOLDER);
            if let Some(snap) = snapshot {
                snap.copy_into(root.reborrow().get_pointer_field(0), Some(&message))?;
            }
        }
        Ok(Orphan {
            message,
            ty,
            registry,
        })
    }

    /// A new, zeroed struct `id` that belongs to no field yet (`new_orphan`).
    pub fn new_struct(registry: &Arc<Registry>, id: u64) -> Result<Orphan> {
        let size = registry.get_struct(id)?.size();
        let orphan = Orphan::from_snapshot(None, Type::Struct(id), registry.clone())?;
        with_builder_loc(&orphan.message, HOLDER, &[], |loc| match loc {
            crate::message::BLoc::Struct(s) => {
                s.get_pointer_field(0).init_struct(size);
                Ok(())
            }
            _ => Err(Error::TypeMismatch),
        })?;
        Ok(orphan)
    }

    /// The type of the content (the disowned field's type).
    pub fn ty(&self) -> &Type {
        &self.ty
    }

    pub fn is_adopted(&self) -> bool {
        self.message.is_retired()
    }

    fn step(&self, shape: Shape) -> crate::message::Path {
        crate::message::Path::from(vec![Step {
            hop: Hop::Field(0),
            shape,
            default: None,
        }])
    }

    /// A builder view of the content: struct, list or AnyPointer handle, or the Text/Data bytes.
    pub fn get(&self) -> Result<Value> {
        let shape = match &self.ty {
            Type::Struct(id) => Some(Shape::Struct(self.registry.get_struct(*id)?.size())),
            Type::List(elem) => Some(list_shape(elem, &self.registry)?),
            _ => None,
        };
        let bytes = with_builder_loc(&self.message, HOLDER, &[], |loc| {
            let crate::message::BLoc::Struct(s) = loc else {
                return Err(Error::TypeMismatch);
            };
            let mut p = s.get_pointer_field(0);
            Ok(match (&self.ty, shape) {
                (Type::Text, _) => Some(p.get_text(None)?.as_bytes().to_vec()),
                (Type::Data, _) => Some(p.get_data(None)?.to_vec()),
                (_, Some(shape)) => {
                    // Allocates a null struct now, as a builder read of a struct field does.
                    follow_builder(p.reborrow(), shape, None)?;
                    None
                }
                _ => None,
            })
        })?;
        Ok(match (&self.ty, shape, bytes) {
            (Type::Text, _, Some(b)) => Value::Text(b),
            (Type::Data, _, Some(b)) => Value::Data(b),
            (Type::Struct(id), Some(shape), _) => {
                Value::Struct(StructValue::Builder(StructBuilder::child(
                    self.message.clone(),
                    HOLDER,
                    self.step(shape),
                    self.registry.get_struct(*id)?,
                    self.registry.clone(),
                )))
            }
            (Type::List(elem), Some(shape), _) => {
                Value::List(ListValue::Builder(ListBuilder::new(
                    self.message.clone(),
                    HOLDER,
                    self.step(shape),
                    (**elem).clone(),
                    self.registry.clone(),
                )))
            }
            (Type::AnyPointer, _, _) => {
                Value::AnyPointer(AnyPointerValue::Builder(AnyPointerBuilder::new(
                    self.message.clone(),
                    HOLDER,
                    self.step(Shape::PtrList),
                    self.registry.clone(),
                )))
            }
            _ => return Err(Error::TypeMismatch),
        })
    }

    /// Whether the content may go into a slot of type `dest` of `registry`'s schemas.
    pub(crate) fn fits(&self, dest: &Type, registry: &Arc<Registry>) -> bool {
        *dest == Type::AnyPointer
            || self.ty == Type::AnyPointer
            || (*dest == self.ty
                && (!dest.has_node() || crate::schema::same_registry(&self.registry, registry)))
    }

    /// A copy of the content, for adoption; fails once adopted.
    pub(crate) fn content(&self) -> Result<Snapshot> {
        with_builder_loc(&self.message, HOLDER, &[], |loc| match loc {
            crate::message::BLoc::Struct(s) => {
                Snapshot::of_pointer(s.get_pointer_field(0).into_reader())
            }
            _ => Err(Error::TypeMismatch),
        })
    }

    pub(crate) fn retire(&self) {
        self.message.retire();
    }
}
