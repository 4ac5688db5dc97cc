//! The one error type of the dynamic layer; the binding maps each variant to a Python exception.

/// Everything that can go wrong reading or writing a dynamic message.
///
/// Messages reuse the reference implementation's wording (API.md), because Python
/// programs match on them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("struct has no such member; name = {name}")]
    NoSuchField { name: String },
    #[error("Value type mismatch")]
    TypeMismatch,
    #[error("Value out-of-range for requested type; value = {value}")]
    OutOfRange { value: String },
    #[error("Tried to get() a union member which is not currently initialized")]
    NotInUnion,
    #[error("Attempted to call which on a non-union type")]
    NotAUnion,
    #[error("enum has no such enumerant; name = {name}")]
    NoSuchEnumerant { name: String },
    /// Framing, limits and malformed pointers, with capnp's own message text.
    #[error("{0}")]
    Capnp(#[from] capnp::Error),
    /// An element index outside `0..len` (the binding raises `IndexError('Out of bounds')`).
    #[error("List index out-of-bounds")]
    IndexOutOfRange,
    #[error("init() without a size is only valid for struct and object fields")]
    InitWithoutSize,
    #[error("init() with size is only valid for list, text, or data fields")]
    InitWithSize,
    #[error("You can only call write() on the message's root struct.")]
    NotRoot,
    /// A schema id that the registry does not hold.
    #[error("no schema node with id 0x{id:016x}")]
    UnknownSchema { id: u64 },
    /// The CodeGeneratorRequest given to the registry is malformed or inconsistent.
    #[error("invalid schema: {0}")]
    InvalidSchema(String),
    /// An orphan (or a handle into it) used after `adopt` moved its content.
    #[error("orphan was already adopted; its handles are no longer valid")]
    OrphanAdopted,
    /// Input length not a multiple of eight bytes (the binding raises `ValueError`).
    #[error("input length must be a multiple of eight bytes")]
    UnalignedLength,
    /// A reader used after its input buffer was given back (`MessageReader::release`, the
    /// end of a `with` block); the binding raises `ValueError`.
    #[error("the message buffer was released (the reader's `with` block has ended); the reader and everything read from it can no longer be used")]
    BufferReleased,
    /// A list whose elements cannot be exported as a flat buffer (Bool, pointers, Void).
    #[error("{0}")]
    NotExportable(String),
}

pub type Result<T> = std::result::Result<T, Error>;
