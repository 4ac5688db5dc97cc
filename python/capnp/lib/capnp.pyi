"""Every class of the package under pycapnp's names (``capnp.lib.capnp``).

Typed for mypy and pyright; the classes of a loaded schema (``addressbook_capnp.Person``) are
typed by the stubs ``capnp-rs stubs`` / ``python -m capnp stubs`` writes, whose readers and
builders subclass ``_DynamicStructReader`` and ``_DynamicStructBuilder`` below.
"""

import asyncio
import enum
import importlib.abc
import types as _types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar, final, overload

from typing_extensions import Buffer, Self, disjoint_base

_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)
_C = TypeVar("_C")

_CAPNP_VERSION_MAJOR: int
_CAPNP_VERSION_MINOR: int
_CAPNP_VERSION_MICRO: int
_CAPNP_VERSION: int
_global_schema_parser: SchemaParser | None
_capnp_paths: list[str]
_importer: _Importer | None
types: _types.ModuleType

# --- errors ----------------------------------------------------------------------------------

@disjoint_base
class KjException(Exception):
    """A Cap'n Proto error: schema errors, malformed messages, failed RPC calls.

    ``type`` is one of ``"FAILED"``, ``"OVERLOADED"``, ``"DISCONNECTED"``,
    ``"UNIMPLEMENTED"`` (or ``None``); ``description`` is the message without location.
    """

    Type: ClassVar[Any]
    def __init__(
        self, message: str | None = None, nature: Any = None, durability: Any = None, wrapper: Any = None, type: Any = None, *_rest: Any
    ) -> None: ...
    @property
    def description(self) -> str | None:
        """The error's message, without file and line."""
    @property
    def message(self) -> str | None:
        """The full message (pycapnp's ``str(e)``)."""
    @property
    def type(self) -> str | None:
        """``"FAILED"``, ``"OVERLOADED"``, ``"DISCONNECTED"``, ``"UNIMPLEMENTED"`` or None."""
    @property
    def file(self) -> str | None:
        """The source file the error was raised in, when known."""
    @property
    def line(self) -> int | None:
        """The source line the error was raised at, when known."""
    @property
    def nature(self) -> str | None:
        """pycapnp 1.x's ``nature`` (kept for old programs)."""
    @property
    def durability(self) -> str | None:
        """pycapnp 1.x's ``durability`` (kept for old programs)."""
    @property
    def wrapper(self) -> Any:
        """The wrapped exception object, when there is one."""

class _Type:
    """Numeric counterpart of ``KjException.Type``."""

    FAILED: ClassVar[int]
    OVERLOADED: ClassVar[int]
    DISCONNECTED: ClassVar[int]
    UNIMPLEMENTED: ClassVar[int]
    OTHER: ClassVar[int]
    reverse_mapping: ClassVar[dict[int, str]]

# --- loading schemas -------------------------------------------------------------------------

def load(file_name: str | bytes | Any, display_name: str | None = None, imports: Sequence[str] = ...) -> Any:
    """Loads a schema file (with the global parser) and returns its module.

    ``imports`` are the directories searched for ``/absolute`` imports. For typed access,
    write stubs with ``python -m capnp stubs`` and ``import foo_capnp`` instead.
    """

def cleanup_global_schema_parser() -> None:
    """Drops the global parser: later ``load`` calls compile files afresh."""

class SchemaParser:
    """Loads schema files; one entry per file, however it is reached."""

    modules_by_id: dict[int, Any]
    def __init__(self) -> None: ...
    def load(self, file_name: str | bytes | Any, display_name: str | None = None, imports: Sequence[str] = ...) -> Any:
        """Loads a schema file and returns its module (a ``types.ModuleType``)."""

class SchemaLoader:
    """Builds modules from ``schema.capnp:Node`` readers (nodes received at run time)."""

    def __init__(self) -> None: ...
    def load(self, reader: Any) -> None:
        """Adds a ``Node`` reader's node (its id must not be loaded with another shape)."""
    def load_dynamic(self, reader: Any) -> None:
        """Adds a ``Node`` reader's node, replacing an earlier one of the same id."""
    def get(self, id: int) -> _ParsedSchema:
        """The schema of node ``id``."""

def register_type(id: int, klass: tuple[Callable[[Any], Any], Callable[[Any], Any]]) -> None:
    """Makes readers (builders) of struct node ``id`` be handed out as ``klass[0](reader)``
    (``klass[1](builder)``)."""

def deregister_all_types() -> None:
    """Forgets every ``register_type`` registration."""

def _init_capnp_api() -> None:
    """Kept for programs that call it; there is nothing to initialize."""

def _struct_reducer(schema_id: int, data: bytes) -> _DynamicStructBuilder:
    """Unpickles a struct: the message ``data`` read as a builder of node ``schema_id``."""

def _write_message_to_fd(fd: int, message: _MessageBuilder) -> None:
    """Writes a message to a file descriptor (stream framing)."""

def _write_packed_message_to_fd(fd: int, message: _MessageBuilder) -> None:
    """Writes a packed message to a file descriptor."""

def _message_to_packed_bytes(message: _MessageBuilder) -> bytes:
    """A message's packed bytes."""

def read_multiple_bytes_packed(
    buf: Buffer, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None
) -> _MultipleBytesPackedAnyMessageReader:
    """Iterator over the packed messages of a buffer, each as an untyped root."""

class _Importer(importlib.abc.MetaPathFinder):
    """The ``sys.meta_path`` finder of ``*_capnp`` modules."""

    def __init__(self, additional_paths: Sequence[str] | None) -> None: ...
    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: Any = None) -> Any:
        """The spec of module ``fullname`` when it names a schema file (``foo_capnp``)."""

class _Loader(importlib.abc.Loader):
    """Loads a schema file as a module for the import hook."""

    def __init__(self, path: str, additional_paths: Sequence[str] | None) -> None: ...

# --- schema introspection --------------------------------------------------------------------

class _Schema:
    """The schema of one node."""

    def __init__(self, parser: Any, info: Any) -> None: ...

    @property
    def node(self) -> Any:
        """The node as a ``schema.capnp:Node`` reader."""
    def get_proto(self) -> _NodeReader:
        """The node's main facts (``displayName``, ``id``, nested nodes) and the node."""
    def as_struct(self) -> _StructSchema:
        """This schema as a struct schema (``KjException`` if it is not one)."""
    def as_enum(self) -> _EnumSchema:
        """This schema as an enum schema."""
    def as_interface(self) -> _InterfaceSchema:
        """This schema as an interface schema."""
    def as_const_value(self) -> Any:
        """The value of a constant node."""

class _ParsedSchema(_Schema):
    """The schema of a node loaded from a file."""

    def get_nested(self, name: str) -> _ParsedSchema:
        """The schema of nested declaration ``name``."""

class _StructSchema(_Schema):
    """The schema of a struct: its fields."""

    @property
    def fieldnames(self) -> tuple[str, ...]:
        """Field names, in declaration order."""
    @property
    def union_fields(self) -> tuple[str, ...]:
        """Names of the members of the unnamed union."""
    @property
    def non_union_fields(self) -> tuple[str, ...]:
        """Names of the fields outside the unnamed union."""
    @property
    def fields_list(self) -> list[_StructSchemaField]:
        """The fields, in declaration order."""
    @property
    def fields(self) -> dict[str, _StructSchemaField]:
        """The fields by name."""
    def __lt__(self, other: _StructSchema) -> bool: ...
    def __le__(self, other: _StructSchema) -> bool: ...
    def __gt__(self, other: _StructSchema) -> bool: ...
    def __ge__(self, other: _StructSchema) -> bool: ...

class _StructSchemaField:
    """One field of a struct schema."""

    def __init__(self, parent: _StructSchema, index: int, name: str) -> None: ...

    @property
    def proto(self) -> Any:
        """The field as a ``schema.capnp:Field`` reader."""
    @property
    def schema(self) -> Any:
        """The field type's schema (a ``capnp.types`` descriptor for primitives)."""

class _EnumSchema(_Schema):
    """The schema of an enum."""

    @property
    def enumerants(self) -> dict[str, int]:
        """Enumerant numbers by name."""

class _InterfaceMethod:
    """One method of an interface schema."""

    def __init__(self, parser: Any, proto: Any) -> None: ...

    @property
    def param_type(self) -> _StructSchema:
        """The schema of the method's parameter struct."""
    @property
    def result_type(self) -> _StructSchema:
        """The schema of the method's result struct."""

class _InterfaceSchema(_Schema):
    """The schema of an interface: its methods and superclasses."""

    @property
    def method_names(self) -> tuple[str, ...]:
        """Names of the methods declared by this interface."""
    @property
    def method_names_inherited(self) -> set[str]:
        """Names of the methods of this interface and its superclasses."""
    @property
    def methods(self) -> dict[str, _InterfaceMethod]:
        """This interface's methods by name."""
    @property
    def methods_inherited(self) -> dict[str, _InterfaceMethod]:
        """The methods of this interface and its superclasses, by name."""
    @property
    def superclasses(self) -> list[_InterfaceSchema]:
        """The interfaces this one extends."""

class _ListSchema:
    """The schema of a list type, for ``as_list``/``init_as_list``."""

    def __init__(self, element: Any = None) -> None: ...
    @property
    def elementType(self) -> Any:
        """The element type's schema (or ``capnp.types`` descriptor)."""

class _SchemaType:
    """An opaque descriptor of a primitive type (``capnp.types.UInt32``)."""

    def __init__(self, name: str) -> None: ...

class _NodeReader:
    """What ``schema.get_proto()`` returns: the node's main facts and the full node."""

    displayName: str
    id: int
    scopeId: int
    isStruct: bool
    isConst: bool
    isInterface: bool
    isEnum: bool
    nestedNodes: _List_NestedNode_Reader
    def __init__(self, schema: _Schema) -> None: ...
    @property
    def node(self) -> Any:
        """The full node as a ``schema.capnp:Node`` reader."""

class _NestedNodeReader:
    """A nested declaration: ``name`` and ``id``."""

    name: str
    id: int
    def __init__(self, name: str, id_: int) -> None: ...

class _List_NestedNode_Reader(list[_NestedNodeReader]):
    """``_NodeReader.nestedNodes``: the nested declarations' ``_NestedNodeReader``s."""

# --- modules of a loaded schema --------------------------------------------------------------

class _StructModule:
    """The object a struct declaration becomes: ``schema``, ``Reader``/``Builder`` and the
    message entry points. Schema stubs type each struct's own module precisely."""

    schema: _StructSchema
    Reader: type[_DynamicStructReader]
    Builder: type[_DynamicStructBuilder]
    def __init__(self, schema: _StructSchema, name: str | None = None) -> None: ...
    def __call__(self, num_first_segment_words: int | None = None, **kwargs: Any) -> _DynamicStructBuilder: ...
    def new_message(self, *args: Any, **kwargs: Any) -> _DynamicStructBuilder:
        """A new message whose root is this struct; keyword arguments set fields."""
    def from_bytes(self, *args: Any, **kwargs: Any) -> Any:
        """The root reader of one message (stream framing) in a buffer; also a context manager."""
    def from_bytes_packed(self, *args: Any, **kwargs: Any) -> _DynamicStructReader:
        """The root reader of one packed message in a buffer."""
    def from_segments(self, *args: Any, **kwargs: Any) -> _DynamicStructReader:
        """The root reader of a message given as its segments (buffers, no framing)."""
    def from_json(self, text: str | Buffer, reject_unknown_fields: bool = False) -> _DynamicStructBuilder:
        """A new message filled from JSON text; returns its root builder."""
    def from_text(self, text: str) -> _DynamicStructBuilder:
        """A new message parsed from the text format; returns its root builder."""
    def read(self, file: Any, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None) -> _DynamicStructReader:
        """Reads exactly one unpacked message from ``file.fileno()``."""
    def read_packed(self, file: Any, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None) -> _DynamicStructReader:
        """Reads exactly one packed message from ``file.fileno()``."""
    def read_multiple(
        self, file: Any, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None, skip_copy: bool = False
    ) -> Iterator[_DynamicStructReader]:
        """Iterator over the unpacked messages of a file."""
    def read_multiple_packed(
        self, file: Any, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None, skip_copy: bool = False
    ) -> Iterator[_DynamicStructReader]:
        """Iterator over the packed messages of a file."""
    def read_multiple_bytes(
        self, buf: Buffer, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None
    ) -> Iterator[_DynamicStructReader]:
        """Iterator over the unpacked messages of a buffer (zero-copy)."""
    def read_multiple_bytes_packed(
        self, buf: Buffer, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None
    ) -> Iterator[_DynamicStructReader]:
        """Iterator over the packed messages of a buffer."""
    async def read_async(
        self, stream: Any, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None
    ) -> _DynamicStructReader | None:
        """The next message on an ``AsyncIoStream``; ``None`` at a clean end."""

class _StructModuleWhich(enum.Enum):  # type: ignore[misc]  # members are made per union
    """Base of the enums of union members a loaded module has (``Shape.Union``)."""

class _StructABCMeta(type):
    """Metaclass of ``X.Reader``/``X.Builder``: ``isinstance`` checks the struct's node."""

class _EnumModule:
    """The object an enum declaration becomes: one ``int`` per enumerant."""

    schema: _EnumSchema
    def __init__(self, schema: _EnumSchema, name: str | None = None) -> None: ...

class _InterfaceModule(Generic[_C]):
    """The object an interface declaration becomes: ``schema`` and its ``Server`` base class.

    Generic in the client type (schema stubs), so that ``cast_as`` returns a typed client.
    """

    schema: _InterfaceSchema
    def __init__(self, schema: _InterfaceSchema, name: str | None = None) -> None: ...

# --- messages --------------------------------------------------------------------------------

@disjoint_base
class _DynamicStructReader:
    """A reader of a struct in a message: fields are attributes (typed by schema stubs;
    ``_get(name)`` reads any field untyped).

    Also a context manager (``with X.from_bytes(buf) as r:``): leaving the block releases the
    input buffer; the reader fails with ``ValueError`` afterwards.
    """

    def __enter__(self) -> Self: ...
    def __exit__(
        self, _exc_type: object = None, _exc_value: object = None, _traceback: object = None
    ) -> None: ...
    @property
    def schema(self) -> _StructSchema:
        """The struct's schema."""
    @property
    def is_root(self) -> bool:
        """Whether this is the root struct of its message."""
    @property
    def total_size(self) -> _MessageSize:
        """Words and capabilities this struct and its children take."""
    def which(self) -> str:
        """The member of the struct's union that is set (also usable without the call)."""
    def _which(self) -> _DynamicEnumField: ...
    def _which_str(self) -> str: ...
    def _get(self, field: str) -> Any: ...
    def _get_by_field(self, field: _StructSchemaField) -> Any: ...
    def _has(self, field: str) -> bool: ...
    def _has_by_field(self, field: _StructSchemaField) -> bool: ...
    def as_builder(
        self, num_first_segment_words: int | None = None, allocate_seg_callable: Callable[[int], Any] | None = None
    ) -> _DynamicStructBuilder:
        """A copy of this struct as the root builder of a new message."""
    def to_dict(self, verbose: bool = False, ordered: bool = False, encode_bytes_as_base64: bool = False) -> dict[str, Any]:
        """The struct as a dict of plain values (set fields only, unless ``verbose``)."""
    def to_json(self, pretty: bool = False) -> str:
        """The struct as JSON (the reference's ``JsonCodec``)."""
    def to_bytes_canonical(self) -> bytes:
        """The struct's canonical encoding (to hash or sign)."""
    def is_canonical(self) -> bool:
        """Whether the message is in canonical form."""
    def get_data_as_view(self, field: str) -> memoryview:
        """A read-only view of a Data field's bytes, without copying."""

@disjoint_base
class _DynamicStructBuilder:
    """A builder of a struct in a message: fields are attributes, set by assignment (typed
    by schema stubs; ``_get``/``_set`` reach any field untyped)."""

    def __enter__(self) -> Self: ...
    def __exit__(self, *_args: object) -> None: ...
    @property
    def schema(self) -> _StructSchema:
        """The struct's schema."""
    @property
    def is_root(self) -> bool:
        """Whether this is the root struct of its message."""
    @property
    def total_size(self) -> _MessageSize:
        """Words and capabilities this struct and its children take."""
    def which(self) -> str:
        """The member of the struct's union that is set (also usable without the call)."""
    def _which(self) -> _DynamicEnumField: ...
    def _which_str(self) -> str: ...
    def _get(self, field: str) -> Any: ...
    def _get_by_field(self, field: _StructSchemaField) -> Any: ...
    def _has(self, field: str) -> bool: ...
    def _has_by_field(self, field: _StructSchemaField) -> bool: ...
    def _set(self, field: str, value: Any) -> None: ...
    def _set_by_field(self, field: _StructSchemaField, value: Any) -> None: ...
    def _init_by_field(self, field: _StructSchemaField, size: int | None = None) -> Any: ...
    def _is_written(self) -> bool: ...
    def init(self, field: str, size: int | None = None) -> Any:
        """Initializes a struct, group or list field (lists need ``size``) and returns it."""
    def init_resizable_list(self, field: str) -> _DynamicResizableListBuilder:
        """A list of structs that grows with ``add()``; ``finish()`` writes it."""
    def adopt(self, field: str, orphan: _DynamicOrphan) -> None:
        """Moves an orphan into a field."""
    def disown(self, field: str) -> _DynamicOrphan:
        """Detaches a field's value as an orphan."""
    def as_reader(self) -> _DynamicStructReader:
        """A reader of the same struct (no copy)."""
    def copy(
        self, num_first_segment_words: int | None = None, allocate_seg_callable: Callable[[int], Any] | None = None
    ) -> Self:
        """A copy of this struct as the root of a new message."""
    def from_dict(self, d: Mapping[str, Any]) -> None:
        """Sets fields from a dict (as ``new_message(**d)`` does)."""
    def to_dict(self, verbose: bool = False, ordered: bool = False, encode_bytes_as_base64: bool = False) -> dict[str, Any]:
        """The struct as a dict of plain values."""
    def to_json(self, pretty: bool = False) -> str:
        """The struct as JSON (the reference's ``JsonCodec``)."""
    def to_bytes(self) -> bytes:
        """The message in stream framing."""
    def to_bytes_packed(self) -> bytes:
        """The message in stream framing, packed."""
    def to_bytes_canonical(self) -> bytes:
        """The struct's canonical encoding (to hash or sign)."""
    def is_canonical(self) -> bool:
        """Whether the message is in canonical form."""
    def to_segments(self) -> list[bytes]:
        """The message's segments (no framing)."""
    def to_segment_views(self) -> list[memoryview]:
        """Read-only views of the message's segments, without copying (for ``sendmsg``)."""
    def write(self, file: Any) -> None:
        """Writes the message to ``file.fileno()``."""
    def write_packed(self, file: Any) -> None:
        """Writes the packed message to ``file.fileno()``."""
    def write_async(self, stream: Any) -> Coroutine[Any, Any, None]:
        """Writes the message to an ``AsyncIoStream``."""
    def clear_write_flag(self) -> None:
        """Allows writing the message again (pycapnp warns on a second write)."""
    def get_data_as_view(self, field: str) -> memoryview:
        """A writable view of a Data field's bytes in the message."""

@final
class _DynamicListReader(Generic[_T_co]):
    """A list in a message, read-only: ``len``, indexing, iteration."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, key: int, /) -> _T_co: ...
    @overload
    def __getitem__(self, key: slice, /) -> list[_T_co]: ...
    def __iter__(self) -> Iterator[_T_co]: ...
    def _get(self, index: int) -> _T_co: ...

@final
class _DynamicListBuilder(Generic[_T]):
    """A list in a message being built: elements are set by index."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, key: int, /) -> _T: ...
    @overload
    def __getitem__(self, key: slice, /) -> list[_T]: ...
    def __setitem__(self, key: int, value: Any, /) -> None: ...
    def __iter__(self) -> Iterator[_T]: ...
    def _get(self, index: int) -> _T: ...
    def _set(self, index: int, value: Any) -> None: ...
    def init(self, index: int, size: int) -> Any:
        """Initializes element ``index`` (a list) with ``size`` elements and returns it."""
    def adopt(self, index: int, orphan: _DynamicOrphan) -> None:
        """Moves an orphan into element ``index``."""
    def disown(self, index: int) -> _DynamicOrphan:
        """Detaches element ``index`` as an orphan."""

class _DynamicResizableListBuilder:
    """A struct list that grows (``init_resizable_list``); ``finish()`` writes it."""

    def __init__(self, parent: _DynamicStructBuilder, field: str, schema: Any = None) -> None: ...
    def add(self) -> _DynamicStructBuilder:
        """Appends a new element and returns its builder."""
    def finish(self) -> None:
        """Writes the elements into the field."""
    def __getitem__(self, index: int) -> _DynamicStructBuilder: ...
    def __len__(self) -> int: ...
    def _get(self, index: int) -> _DynamicStructBuilder: ...

@final
class _DynamicEnum:
    """An enum value in a list or constant: compares equal to its name and its number."""

    @property
    def raw(self) -> int:
        """The enumerant's number."""
    def _as_str(self) -> str: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class _DynamicEnumField:
    """An enum field's value (or ``which``): compares equal to its name and its number."""

    @property
    def raw(self) -> int:
        """The enumerant's number."""
    def _str(self) -> str: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Self: ...
    def __eq__(self, value: object, /) -> bool: ...

@final
class _DynamicObjectReader:
    """An AnyPointer field, read-only: view it as a struct, list, text or capability."""

    def as_struct(self, schema: Any) -> Any:
        """The pointer as a struct reader of ``schema`` (a struct module or schema)."""
    def as_list(self, list_schema: _ListSchema) -> _DynamicListReader[Any]:
        """The pointer as a list reader."""
    def as_text(self) -> str:
        """The pointer as text."""
    def as_interface(self, schema: Any) -> Any:
        """The pointer as a capability client of ``schema``."""

@final
class _DynamicObjectBuilder:
    """An AnyPointer field being built."""

    def as_struct(self, schema: Any) -> Any:
        """The pointer as a struct builder of ``schema``."""
    def as_list(self, list_schema: _ListSchema) -> _DynamicListBuilder[Any]:
        """The pointer as a list builder."""
    def as_text(self) -> str:
        """The pointer as text."""
    def as_interface(self, schema: Any) -> Any:
        """The pointer as a capability client of ``schema``."""
    def as_reader(self) -> _DynamicObjectReader:
        """A reader of the same pointer."""
    def set(self, value: Any) -> None:
        """Copies a struct, list or text into the pointer."""
    def set_as_text(self, text: str) -> None:
        """Sets the pointer to text."""
    def init_as_struct(self, schema: Any) -> Any:
        """Initializes the pointer as a struct of ``schema`` and returns its builder."""
    def init_as_list(self, list_schema: _ListSchema, size: int) -> _DynamicListBuilder[Any]:
        """Initializes the pointer as a list and returns its builder."""
    def init_as_text(self, size: int) -> Any:
        """Initializes the pointer as text of ``size`` bytes."""

@final
class _DynamicOrphan:
    """A value detached from its message (``disown``), to ``adopt`` elsewhere."""

    def get(self) -> Any:
        """The orphan's value."""

@final
class _MessageSize:
    """What ``total_size`` returns."""

    @property
    def word_count(self) -> int:
        """Words of data."""
    @property
    def cap_count(self) -> int:
        """Capabilities."""

class _MessageBuilder:
    """A message being built; ``init_root``/``get_root`` pick the root's type (abstract)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
    def init_root(self, schema: Any) -> Any:
        """Initializes the root as struct ``schema`` and returns its builder."""
    def get_root(self, schema: Any) -> Any:
        """The root as a builder of struct ``schema``."""
    def get_root_as_any(self) -> _DynamicObjectBuilder:
        """The root pointer, untyped."""
    def set_root(self, value: Any) -> None:
        """Copies a struct into the root."""
    def get_segments_for_output(self) -> list[bytes]:
        """The message's segments."""
    def new_orphan(self, schema: Any) -> _DynamicOrphan:
        """A new orphan struct of ``schema`` in this message."""

class _MallocMessageBuilder(_MessageBuilder):
    """A message builder with the default allocation."""

    def __init__(self, size: int | None = None) -> None: ...

class _PyCustomMessageBuilder(_MessageBuilder):
    """A message builder whose segments come from ``allocate_seg_callable(minimum_size)``."""

    def __init__(self, allocate_seg_callable: Callable[[int], Any], size: int | None = None) -> None: ...

class _MessageReader:
    """A message being read; ``get_root`` picks the root's type (abstract)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
    def get_root(self, schema: Any) -> Any:
        """The root as a reader of struct ``schema``."""
    def get_root_as_any(self) -> _DynamicObjectReader:
        """The root pointer, untyped."""

class _StreamFdMessageReader(_MessageReader):
    """Reads one unpacked message from a file."""

    def __init__(self, file: Any, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None) -> None: ...

class _PackedFdMessageReader(_MessageReader):
    """Reads one packed message from a file."""

    def __init__(self, file: Any, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None) -> None: ...

class _PackedMessageReaderBytes(_MessageReader):
    """Reads one packed message from a buffer."""

    def __init__(self, buf: Buffer, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None) -> None: ...

class _PackedMessageReader(_MessageReader):
    """A packed message reader made internally."""

class _InputMessageReader(_MessageReader):
    """A message reader made internally."""

class _AsyncMessageReader(_MessageReader):
    """A message read from an ``AsyncIoStream``."""

@final
class _MultipleMessageReader:
    """Iterator over the messages of a file or buffer (``read_multiple*``)."""

    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...

_MultiplePackedMessageReader = _MultipleMessageReader
_MultipleBytesMessageReader = _MultipleMessageReader
_MultipleBytesPackedMessageReader = _MultipleMessageReader
_MultipleBytesPackedAnyMessageReader = _MultipleMessageReader

# --- RPC: asyncio (2.x) ----------------------------------------------------------------------

class kj_loop:
    """``async with capnp.kj_loop():`` runs Cap'n Proto RPC on the running asyncio loop."""

    def __init__(self) -> None: ...
    async def __aenter__(self) -> None: ...
    async def __aexit__(self, *args: object) -> None: ...

async def run(coro: Awaitable[_T]) -> _T:
    """Awaits ``coro`` inside ``kj_loop()``: ``asyncio.run(capnp.run(main()))``."""

class _AsyncIoStream:
    """A byte stream for RPC over an asyncio transport (TCP, Unix, TLS)."""

    def __init__(self, protocol: Any) -> None: ...
    @staticmethod
    async def create_connection(host: str | None = None, port: int | None = None, **kwargs: Any) -> _AsyncIoStream:
        """Connects over TCP (``ssl=`` for TLS) and returns the stream."""
    @staticmethod
    async def create_unix_connection(path: str | None = None, **kwargs: Any) -> _AsyncIoStream:
        """Connects to a Unix socket and returns the stream."""
    @staticmethod
    async def create_server(
        callback: Callable[[_AsyncIoStream], Awaitable[Any]], host: str | None = None, port: int | None = None, **kwargs: Any
    ) -> asyncio.Server:
        """Listens on TCP; ``callback(stream)`` runs for each connection."""
    @staticmethod
    async def create_unix_server(
        callback: Callable[[_AsyncIoStream], Awaitable[Any]], path: str | None = None, **kwargs: Any
    ) -> asyncio.Server:
        """Listens on a Unix socket; ``callback(stream)`` runs for each connection."""
    def close(self) -> None:
        """Closes the transport."""
    async def wait_closed(self) -> None:
        """Waits until the transport is closed."""

AsyncIoStream = _AsyncIoStream

class TwoPartyClient:
    """The client side of a two-party connection: ``bootstrap()`` gives the server's
    capability. Over an ``AsyncIoStream`` (2.x), or a ``"host:port"`` string, a socket or
    nothing (pipe mode) with the synchronous API (1.x)."""

    def __init__(self, socket: Any = None, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None) -> None: ...
    def bootstrap(self) -> _CapabilityClient:
        """The capability the server offers; ``cast_as(Interface)`` types it."""
    def on_disconnect(self) -> Any:
        """Awaitable (or promise) that completes when the connection ends."""
    def close(self) -> None:
        """Closes the connection."""
    async def read(self, bufsize: int) -> bytes:
        """Pipe mode: bytes the connection wants to send."""
    def write(self, data: Buffer) -> None:
        """Pipe mode: feeds bytes received from the peer."""

class TwoPartyServer:
    """The server side of a two-party connection, serving ``bootstrap``."""

    def __init__(
        self, socket: Any = None, bootstrap: Any = None, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None
    ) -> None: ...
    def __new__(
        cls, socket: Any = None, bootstrap: Any = None, traversal_limit_in_words: int | None = None, nesting_limit: int | None = None
    ) -> Self: ...
    def bootstrap(self) -> _CapabilityClient:
        """The client's bootstrap capability (if it offers one)."""
    def on_disconnect(self) -> Any:
        """Awaitable (or promise) that completes when the connection ends."""
    def close(self) -> None:
        """Closes the connection."""

class _CapabilityClient:
    """An untyped capability: ``cast_as(Interface)`` gives a typed client."""

    def __init__(self, cap: Any) -> None: ...
    @overload
    def cast_as(self, schema: type[_InterfaceModule[_C]]) -> _C: ...
    @overload
    def cast_as(self, schema: Any) -> _DynamicCapabilityClient: ...

class _DynamicCapabilityClient:
    """A client of an interface: methods are attributes returning awaitable promises."""

    def __init__(self, cap: Any, schema: _InterfaceSchema) -> None: ...
    def __getattr__(self, name: str) -> Any: ...
    @overload
    def cast_as(self, schema: type[_InterfaceModule[_C]]) -> _C: ...
    @overload
    def cast_as(self, schema: Any) -> _DynamicCapabilityClient: ...
    @overload
    def upcast(self, schema: type[_InterfaceModule[_C]]) -> _C: ...
    @overload
    def upcast(self, schema: Any) -> _DynamicCapabilityClient: ...
    def _send(self, name: str, *args: Any, word_count: int | None = None, **kwargs: Any) -> _RemotePromise[Any]: ...
    def _request(self, name: str, *args: Any, word_count: int | None = None, **kwargs: Any) -> _Request: ...

class _DynamicCapabilityServer:
    """Base of every interface's ``Server`` class: subclass it and define the methods."""

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...

class _Request(_DynamicStructBuilder):
    """A call's parameters being built (``client.m_request()``); ``send()`` makes the call."""

    def __init__(self, client: Any, method: Any, args: Any = (), kwargs: Any = None) -> None: ...
    def send(self) -> _RemotePromise[Any]:
        """Sends the call; returns the promise of its results."""

class _Response(_DynamicStructReader):
    """The results of a call, as a struct reader."""

class _RemotePromise(Generic[_T_co]):
    """The pending results of a call: ``await`` it (2.x) or ``wait()`` (1.x); attributes
    pipeline on the results' capabilities before they arrive. A call made on a ``kj_loop`` is
    also an ``asyncio.Future`` of its results (``asyncio.gather`` and friends take it as it is)."""

    def __await__(self) -> Generator[Any, None, _T_co]: ...
    def __getattr__(self, name: str) -> Any: ...
    @property
    def schema(self) -> _StructSchema:
        """The results' struct schema."""
    @property
    def is_consumed(self) -> bool:
        """Whether the results were taken already."""
    def cancel(self) -> None:
        """Cancels the call."""
    def to_dict(self) -> dict[str, Any]:
        """Waits for the results and returns them as a dict."""
    def wait(self) -> _T_co:
        """1.x: runs the synchronous loop until the results arrive."""
    async def a_wait(self) -> _T_co:
        """Awaits the results from asyncio code."""
    def then(self, func: Callable[[Any], Any], error_func: Callable[[Any], Any] | None = None) -> _Promise:
        """1.x: a promise of ``func(results)``."""
    def as_pypromise(self) -> _Promise:
        """1.x: this call as a ``capnp.Promise``."""

class _DynamicStructPipeline:
    """A struct in results not yet arrived: its capability fields can be called already."""

    def __init__(self, pending: Any, path: Any, parser: Any, struct_id: int) -> None: ...

    def __getattr__(self, name: str) -> Any: ...
    @property
    def schema(self) -> _StructSchema:
        """The struct's schema."""

@final
class _CallContext:
    """What a server method gets as ``_context``: ``params``, ``results``, tail calls."""

    def __new__(cls, params: Any, results_handle: Any, method: Any) -> Self: ...

    @property
    def params(self) -> Any:
        """The call's parameters (a struct reader)."""
    @property
    def results(self) -> Any:
        """The call's results (a struct builder)."""
    def release_params(self) -> None:
        """Frees the parameters early."""
    def tail_call(self, request: _Request) -> Any:
        """Completes this call with another call's results."""
    def allow_cancellation(self) -> None:
        """1.x: accepted and ignored (calls are always cancellable)."""

# --- RPC: synchronous (1.x) ------------------------------------------------------------------

class _BasePromise:
    """What the 1.x promise classes share: ``wait``, ``then``, ``await``."""

    def __await__(self) -> Generator[Any, None, Any]: ...
    def wait(self) -> Any:
        """Runs the thread's synchronous loop until the promise settles; its value."""
    async def a_wait(self) -> Any:
        """Awaits the promise from asyncio code."""
    def then(self, func: Callable[..., Any], error_func: Callable[[Any], Any] | None = None) -> _Promise:
        """A promise of ``func(value)`` (promises returned by ``func`` are flattened)."""
    def attach(self, *objects: Any) -> Self:
        """Keeps ``objects`` alive until the promise settles."""
    def cancel(self, numParents: int = 1) -> None:
        """Cancels the promise."""
    @property
    def is_consumed(self) -> bool:
        """Whether the value was taken already."""
    def as_pypromise(self) -> _Promise:
        """This promise as a ``capnp.Promise``."""

class _Promise(_BasePromise):
    """1.x ``capnp.Promise``: a value, or the result of a coroutine or future."""

    def __init__(self, value: Any = ..., *rest: Any) -> None: ...

Promise = _Promise

class _VoidPromise(_BasePromise):
    """A promise without a value."""

    def wait(self) -> None:
        """Runs the thread's synchronous loop until the promise settles."""

class PromiseFulfillerPair:
    """A promise and the means to fulfil it (from any thread)."""

    def __init__(self) -> None: ...
    def fulfill(self, value: Any = None) -> None:
        """Fulfils the promise."""
    @property
    def is_consumed(self) -> bool:
        """Whether the promise was consumed."""

class _Timer:
    """The thread's timer (``capnp.getTimer()``)."""

    def after_delay(self, delay_ns: int) -> _VoidPromise:
        """A promise that settles after ``delay_ns`` nanoseconds."""

def join_promises(promises: Iterable[Any]) -> _Promise:
    """A promise of the list of the promises' values."""

def getTimer() -> _Timer:
    """The thread's timer."""

def create_event_loop(threaded: bool = True) -> None:
    """Creates the thread's synchronous event loop (made on first use otherwise)."""

def remove_event_loop(ignore_errors: bool = False) -> None:
    """Closes the thread's synchronous event loop."""

def reset_event_loop(ignore_errors: bool = False, threaded: bool = True) -> None:
    """Closes and re-creates the thread's synchronous event loop."""

def poll_once() -> None:
    """Runs the thread's synchronous loop once, without blocking."""

def wait_forever() -> None:
    """Runs the thread's synchronous loop until interrupted."""

def _bundled_module(name: str, module_name: str) -> _types.ModuleType:
    """The module of a bundled standard file (``capnp/rpc.capnp``) as ``module_name``."""
