//! AnyPointer handles: a pointer of unknown kind, viewed as a struct or text on demand.

use std::sync::Arc;

use capnp::private::layout::StructSize;

use crate::error::Result;
use crate::message::{
    builder_pointer, push_step, reader_pointer, with_builder_loc, Backing, Hop, MessageBuilder,
    Shape, Step,
};
use crate::schema::Registry;
use crate::struct_::{StructBuilder, StructReader};

/// Splits a child location into its parent's steps and the final pointer hop.
fn split(steps: Arc<[Step]>) -> (Arc<[Step]>, Hop) {
    match steps.split_last() {
        Some((last, parent)) => (Arc::from(parent.to_vec()), last.hop),
        None => (steps, Hop::Field(0)),
    }
}

#[derive(Clone)]
pub struct AnyPointerReader {
    backing: Backing,
    parent: Arc<[Step]>,
    hop: Hop,
    registry: Arc<Registry>,
}

impl std::fmt::Debug for AnyPointerReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<opaque pointer>")
    }
}

impl AnyPointerReader {
    pub(crate) fn new(backing: Backing, steps: Arc<[Step]>, registry: Arc<Registry>) -> Self {
        let (parent, hop) = split(steps);
        AnyPointerReader {
            backing,
            parent,
            hop,
            registry,
        }
    }

    pub fn is_null(&self) -> Result<bool> {
        self.backing.with_loc(&self.parent, |loc| {
            Ok(reader_pointer(loc, self.hop)?.is_null())
        })
    }

    /// Text content (`""` when null).
    pub fn as_text(&self) -> Result<Vec<u8>> {
        self.backing.with_loc(&self.parent, |loc| {
            Ok(reader_pointer(loc, self.hop)?
                .get_text(None)?
                .as_bytes()
                .to_vec())
        })
    }

    /// Views the pointer as struct `id`.
    pub fn as_struct(&self, id: u64) -> Result<StructReader> {
        let schema = self.registry.get_struct(id)?;
        let step = Step {
            hop: self.hop,
            shape: Shape::Struct(schema.size()),
            default: None,
        };
        self.backing.with_loc(&self.parent, |loc| {
            reader_pointer(loc, self.hop)?.get_struct(None)?;
            Ok(())
        })?;
        Ok(StructReader::new(
            self.backing.clone(),
            push_step(&self.parent, step),
            schema,
            self.registry.clone(),
            false,
        ))
    }
}

#[derive(Clone)]
pub struct AnyPointerBuilder {
    message: MessageBuilder,
    root_size: StructSize,
    parent: Arc<[Step]>,
    hop: Hop,
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
        steps: Arc<[Step]>,
        registry: Arc<Registry>,
    ) -> Self {
        let (parent, hop) = split(steps);
        AnyPointerBuilder {
            message,
            root_size,
            parent,
            hop,
            registry,
        }
    }

    pub fn is_null(&self) -> Result<bool> {
        with_builder_loc(&self.message, self.root_size, &self.parent, |loc| {
            Ok(builder_pointer(loc, self.hop)?.is_null())
        })
    }

    pub fn as_reader(&self) -> AnyPointerReader {
        AnyPointerReader {
            backing: Backing::Builder(self.message.clone()),
            parent: self.parent.clone(),
            hop: self.hop,
            registry: self.registry.clone(),
        }
    }

    /// Views the pointer as struct `id`, initialising it when null.
    pub fn as_struct(&self, id: u64) -> Result<StructBuilder> {
        let schema = self.registry.get_struct(id)?;
        let size = schema.size();
        with_builder_loc(&self.message, self.root_size, &self.parent, |loc| {
            builder_pointer(loc, self.hop)?.get_struct(size, None)?;
            Ok(())
        })?;
        let step = Step {
            hop: self.hop,
            shape: Shape::Struct(size),
            default: None,
        };
        Ok(StructBuilder::child(
            self.message.clone(),
            self.root_size,
            push_step(&self.parent, step),
            schema,
            self.registry.clone(),
        ))
    }

    pub fn set_as_text(&self, text: &str) -> Result<()> {
        with_builder_loc(&self.message, self.root_size, &self.parent, |loc| {
            builder_pointer(loc, self.hop)?.set_text(text.into());
            Ok(())
        })
    }

    pub fn as_text(&self) -> Result<Vec<u8>> {
        self.as_reader().as_text()
    }
}
