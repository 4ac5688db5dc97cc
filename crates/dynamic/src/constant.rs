//! Constants of pointer type (`const xs :List(Int32) = [...]`, struct constants) read as
//! ordinary message handles, as pycapnp exposes them on a loaded module.

use std::sync::Arc;

use capnp::private::layout::StructSize;
use capnp_compiler::schema_capnp::{node, value};

use crate::error::{Error, Result};
use crate::message::{Backing, Hop, MessageReader, ReadLimits, Step};
use crate::raw::RawPtrBuilder;
use crate::schema::{build_type, DefaultValue, Registry, Type};
use crate::struct_::read_pointer;
use crate::value::Value;

/// A holder struct with one pointer field: handles always start at a root struct, so the
/// constant's value becomes that field.
const HOLDER: StructSize = StructSize {
    data: 0,
    pointers: 1,
};

impl Registry {
    /// The value of constant node `id` whose type is a list, struct or AnyPointer, as a
    /// reader over a private copy of the value. Other constants are `TypeMismatch`.
    pub fn const_value(self: &Arc<Registry>, id: u64) -> Result<Value> {
        let (ty, bytes) = self.with_node(id, |n| -> Result<(Type, Vec<u8>)> {
            let node::Const(c) = n.which().map_err(|e| Error::InvalidSchema(e.to_string()))? else {
                return Err(Error::TypeMismatch);
            };
            let ty = build_type(c.get_type()?, 0)?;
            let src = match c
                .get_value()?
                .which()
                .map_err(|e| Error::InvalidSchema(e.to_string()))?
            {
                value::List(p) | value::Struct(p) | value::AnyPointer(p) => p,
                _ => return Err(Error::TypeMismatch),
            };
            let mut message = capnp::message::Builder::new_default();
            let root = message.get_root::<RawPtrBuilder<'_>>()?.0;
            let holder = root.init_struct(HOLDER);
            capnp::any_pointer::Builder::new(holder.get_pointer_field(0))
                .set_as::<capnp::any_pointer::Owned>(src)?;
            let mut bytes = Vec::new();
            capnp::serialize::write_message(&mut bytes, &message)?;
            Ok((ty, bytes))
        })??;
        let limits = ReadLimits {
            // The value came out of our own compiler; its size is bounded there.
            traversal_limit_in_words: Some(u64::MAX / 8),
            nesting_limit: None,
        };
        let message = MessageReader::from_bytes(Arc::new(bytes), limits)?;
        let backing = Backing::Reader(message.clone());
        message.with_root(None, |root| {
            let holder = root.get_struct(None)?;
            read_pointer(
                holder.get_pointer_field(0),
                &ty,
                &DefaultValue::None,
                self,
                |shape| {
                    Ok(crate::message::Path::from(vec![Step {
                        hop: Hop::Field(0),
                        shape,
                        default: None,
                    }]))
                },
                &backing,
            )
        })
    }
}
