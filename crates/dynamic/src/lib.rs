//! Schema-driven ("dynamic") Cap'n Proto messages: a registry of compiled schemas, and
//! reader/builder handles that the Python binding wraps. No PyO3 here.
//!
//! Handles are `{ message, path, schema }`: every operation re-derives capnp's layout
//! object by walking the path from the root while holding the message (DESIGN decision 3),
//! so handles are `Send + Sync`, never borrow, and outlive their parents. Struct readers over a
//! reader's own bytes also keep their resolved location (coords.rs) for walk-free field reads,
//! and builder handles the location of their data (arena.rs) until the layout changes.

pub mod any_pointer;
mod arena;
pub mod canonical;
pub mod cap;
mod constant;
mod coords;
mod copy;
pub mod error;
mod external;
mod first_segment;
pub mod json;
pub mod list;
pub mod message;
pub mod orphan;
mod packed;
pub mod pinned;
mod raw;
pub mod schema;
pub mod struct_;
pub mod text;
pub mod value;

pub use any_pointer::{AnyPointerBuilder, AnyPointerReader};
pub use arena::Excluded;
pub use cap::{Cap, CapHolder, CapScope, CapValue};
pub use capnp::MessageSize;
pub use error::{Error, Result};
pub use external::SegmentSupplier;
pub use first_segment::LocatedReader;
pub use list::{ListBuilder, ListReader};
pub use message::{MessageBuilder, MessageReader, ReadLimits, Sharing};
pub use orphan::Orphan;
pub use pinned::{ElementBytes, LentMut, LentSegment, PinnedBytes};
pub use schema::{
    DefaultValue, EnumSchema, Field, FieldKind, HostCache, InterfaceSchema, Registry, StructSchema,
    Type, UnionInfo,
};
pub use struct_::{StructBuilder, StructReader};
pub use value::{AnyPointerValue, ListValue, Number, SetValue, StructValue, Value};
