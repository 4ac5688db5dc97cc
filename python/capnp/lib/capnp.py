"""Every class of the package under pycapnp's names (``capnp.lib.capnp``).

The schema objects below are views of the nodes the native compiler (``capnp._capnp``)
returns; messages (readers, builders, lists, enums) are native classes of ``capnp._capnp``
working on the parser's Rust registry.
"""

import copyreg as _copyreg
import enum as _enum
import functools as _functools
import gc as _gc
import os as _os
import weakref as _weakref
import types as _types

from capnp import _capnp
from capnp._capnp import (
    KjException,
    _DynamicEnum,
    _DynamicEnumField,
    _DynamicListBuilder,
    _DynamicListReader,
    _DynamicObjectBuilder,
    _DynamicObjectReader,
    _DynamicOrphan,
    _DynamicStructBuilder,
    _DynamicStructReader,
    _MessageSize,
    _MultipleMessageReader,
    deregister_all_types,
    register_type,
)

# pycapnp has one iterator class per variant; ours is one class.
_MultiplePackedMessageReader = _MultipleMessageReader
_MultipleBytesMessageReader = _MultipleMessageReader
_MultipleBytesPackedMessageReader = _MultipleMessageReader
_MultipleBytesPackedAnyMessageReader = _MultipleMessageReader

_CAPNP_VERSION_MAJOR = _capnp.LIBCAPNP_VERSION_MAJOR
_CAPNP_VERSION_MINOR = _capnp.LIBCAPNP_VERSION_MINOR
_CAPNP_VERSION_MICRO = _capnp.LIBCAPNP_VERSION_MICRO
_CAPNP_VERSION = _capnp.LIBCAPNP_VERSION

_global_schema_parser = None


class _Type:
    """Numeric counterpart of ``KjException.Type``."""

    FAILED = 0
    OVERLOADED = 1
    DISCONNECTED = 2
    UNIMPLEMENTED = 3
    OTHER = 4
    reverse_mapping = {0: "FAILED", 1: "OVERLOADED", 2: "DISCONNECTED", 3: "UNIMPLEMENTED", 4: "OTHER"}


def _init_capnp_api():
    """Kept for programs that call it; there is nothing to initialize."""


# --- node views ------------------------------------------------------------------------------

# schema.capnp:Node and the bundled file it is compiled from for node readers.
_NODE_ID = 0xE682AB4CF923A417
# A struct node description's "fields" are (name, discriminant, group id or None) tuples.
_FIELD_NAME, _FIELD_DISCRIMINANT, _FIELD_GROUP_ID = 0, 1, 2
_SCHEMA_CAPNP = "capnp/schema.capnp"

# Nodes come from our own compiler: reading them back must never hit a reader limit.
_NODE_TRAVERSAL_LIMIT = 1 << 60
_NODE_NESTING_LIMIT = (1 << 31) - 1

_meta_parser_instance = None
_std_parser_instance = None


def _meta_parser():
    """The parser holding ``schema.capnp`` under the name pycapnp's node readers report."""
    global _meta_parser_instance
    if _meta_parser_instance is None:
        # pycapnp's compiled-in Node predates `startByte`/`endByte` (@34, @35): its node
        # readers have no such fields, so ours are compiled without them.
        text = _capnp.bundled_source(_SCHEMA_CAPNP)
        lines = [
            line
            for line in text.split(b"\n")
            if not line.lstrip().startswith((b"startByte @34 ", b"endByte @35 "))
        ]
        parser = SchemaParser()
        parser._load_bundled(_SCHEMA_CAPNP, "schema.capnp", b"\n".join(lines))
        _meta_parser_instance = parser
    return _meta_parser_instance


def _std_parser():
    """The parser of the ``capnp.<name>_capnp`` modules (kept apart from users' parsers)."""
    global _std_parser_instance
    if _std_parser_instance is None:
        _std_parser_instance = SchemaParser()
    return _std_parser_instance


def _bundled_module(name, module_name):
    """The module of bundled file ``name`` (``capnp/rpc.capnp``) as ``module_name``."""
    module = _std_parser()._load_bundled(name, module_name)
    # pycapnp ships the files inside its package and reports them there; ours are compiled
    # into the extension, so the path names where the file would be.
    package_dir = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
    module.__file__ = _os.path.join(package_dir, _os.path.basename(name))
    module.__path__ = [package_dir]
    return module


def _read_node(raw):
    """A ``schema.capnp:Node`` reader over one node's standalone message."""
    return _meta_parser()._registry.from_bytes(
        _NODE_ID, raw, _NODE_TRAVERSAL_LIMIT, _NODE_NESTING_LIMIT
    )


class _NestedNodeReader:
    """A nested declaration: ``name`` and ``id``."""

    def __init__(self, name, id_):
        self.name = name
        self.id = id_

    def __repr__(self):
        return "<_NestedNodeReader name=%r id=%d>" % (self.name, self.id)


class _List_NestedNode_Reader(list):
    """``_NodeReader.nestedNodes``: the nested declarations' ``_NestedNodeReader``s."""


class _NodeReader:
    """What ``schema.get_proto()`` returns: the node's main facts and the full node."""

    def __init__(self, schema):
        info = schema._info
        self._schema = schema
        self.displayName = info["display_name"]
        self.id = info["id"]
        self.scopeId = info["scope_id"]
        kind = info["kind"]
        self.isStruct = kind == "struct"
        self.isConst = kind == "const"
        self.isInterface = kind == "interface"
        self.isEnum = kind == "enum"
        self.nestedNodes = _List_NestedNode_Reader(_NestedNodeReader(name, id_) for name, id_ in info["nested"])

    @property
    def node(self):
        """The full node as a ``schema.capnp:Node`` reader."""
        return self._schema.node


# --- schema types ----------------------------------------------------------------------------


def _node_bytes(info):
    """The node of a description (``compile_file``, ``load_nodes``) as a message of its own,
    made on first use from the request it came in."""
    data = info.get("bytes")
    if data is None:
        data = info["bytes"] = _capnp.node_bytes(info["request"], info["index"])
    return data


class _SchemaType:
    """An opaque descriptor of a primitive type (``capnp.types.UInt32``)."""

    def __init__(self, name):
        self._name = name


types = _types.ModuleType("capnp.types")
types.__doc__ = "Primitive type descriptors for _ListSchema and field schemas."
_TYPES_BY_WHICH = {}
for _which, _name in (
    ("void", "Void"),
    ("bool", "Bool"),
    ("int8", "Int8"),
    ("int16", "Int16"),
    ("int32", "Int32"),
    ("int64", "Int64"),
    ("uint8", "UInt8"),
    ("uint16", "UInt16"),
    ("uint32", "UInt32"),
    ("uint64", "UInt64"),
    ("float32", "Float32"),
    ("float64", "Float64"),
    ("text", "Text"),
    ("data", "Data"),
    ("anyPointer", "AnyPointer"),
):
    _TYPES_BY_WHICH[_which] = _SchemaType(_name)
    setattr(types, _name, _TYPES_BY_WHICH[_which])
del _which, _name


def _type_schema(parser, ty):
    """The schema object of a ``schema.capnp:Type`` reader (primitives: a ``capnp.types``)."""
    which = ty.which()
    if which == "struct":
        return parser._schema(ty.struct.typeId, _StructSchema)
    if which == "enum":
        return parser._schema(ty.enum.typeId, _EnumSchema)
    if which == "interface":
        return parser._schema(ty.interface.typeId, _InterfaceSchema)
    if which == "list":
        return _ListSchema(_type_schema(parser, ty.list.elementType))
    return _TYPES_BY_WHICH[which]


def _schema_of(obj):
    """A schema object itself, or the ``schema`` attribute of a module or class."""
    if isinstance(obj, (_Schema, _ListSchema, _SchemaType)):
        return obj
    schema = getattr(obj, "schema", None)
    if isinstance(schema, (_Schema, _ListSchema, _SchemaType)):
        return schema
    return None


# --- schemas ---------------------------------------------------------------------------------


class _Schema:
    """An untyped schema: one node of one parser."""

    def __init__(self, parser, info):
        self._parser = parser
        self._info = info
        self._node = None

    @property
    def node(self):
        """The full ``schema.capnp:Node`` reader of this schema."""
        if self._node is None:
            self._node = _read_node(_node_bytes(self._info))
        return self._node

    def get_proto(self):
        """The node's main facts (``displayName``, ``id``, nested nodes) and the node."""
        return _NodeReader(self)

    def _as(self, kind, cls, what):
        if self._info["kind"] != kind:
            raise KjException(
                "Tried to use non-%s schema as a%s %s" % (what, "n" if what[0] in "aeiou" else "", what),
                type="FAILED",
            )
        return self._parser._schema(self._info["id"], cls)

    def as_struct(self):
        """This schema as a struct schema (``KjException`` if it is not one)."""
        return self._as("struct", _StructSchema, "struct")

    def as_enum(self):
        """This schema as an enum schema."""
        return self._as("enum", _EnumSchema, "enum")

    def as_interface(self):
        """This schema as an interface schema."""
        return self._as("interface", _InterfaceSchema, "interface")

    def as_const_value(self):
        """The value of a constant node."""
        if self._info["kind"] != "const":
            raise KjException("Tried to use non-constant schema as a constant", type="FAILED")
        return self._parser._const_value(self._info)


class _ParsedSchema(_Schema):
    """The schema of a node loaded from a file."""

    def get_nested(self, name):
        """The schema of nested declaration ``name``."""
        for nested_name, id_ in self._info["nested"]:
            if nested_name == name:
                return self._parser._schema(id_, _ParsedSchema)
        raise KjException("no such nested declaration: " + name, type="FAILED")


class _StructSchemaField:
    """One field of a struct schema: its ``schema.capnp:Field`` reader and its type's schema."""

    def __init__(self, parent, index, name):
        self._parent = parent
        self._index = index
        self._name = name

    @property
    def proto(self):
        """The field as a ``schema.capnp:Field`` reader."""
        return self._parent.node.struct.fields[self._index]

    @property
    def schema(self):
        """The field type's schema (a ``capnp.types`` descriptor for primitives)."""
        proto = self.proto
        parser = self._parent._parser
        if proto.which() == "group":
            return parser._schema(proto.group.typeId, _StructSchema)
        return _type_schema(parser, proto.slot.type)

    def __repr__(self):
        return "<field schema for %s>" % self._name


class _StructSchema(_Schema):
    """The schema of a struct: its fields."""

    @property
    def fieldnames(self):
        """Field names, in declaration order."""
        return tuple(f[_FIELD_NAME] for f in self._info["fields"])

    @property
    def union_fields(self):
        """Names of the members of the unnamed union."""
        return tuple(name for name, discriminant, _ in self._info["fields"] if discriminant != 0xFFFF)

    @property
    def non_union_fields(self):
        """Names of the fields outside the unnamed union."""
        return tuple(name for name, discriminant, _ in self._info["fields"] if discriminant == 0xFFFF)

    @property
    def fields_list(self):
        """The fields, in declaration order."""
        return [_StructSchemaField(self, i, f[_FIELD_NAME]) for i, f in enumerate(self._info["fields"])]

    @property
    def fields(self):
        """The fields by name."""
        return {f._name: f for f in self.fields_list}

    def __eq__(self, other):
        if not isinstance(other, _StructSchema):
            return NotImplemented
        return self._parser is other._parser and self._info["id"] == other._info["id"]

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None

    def __lt__(self, other):
        raise NotImplementedError

    __le__ = __gt__ = __ge__ = __lt__

    def __repr__(self):
        return "<schema for %s>" % self._info["display_name"]


class _EnumSchema(_Schema):
    """The schema of an enum."""

    @property
    def enumerants(self):
        """Enumerant numbers by name."""
        return {name: i for i, name in enumerate(self._info["enumerants"])}


class _InterfaceMethod:
    """One method of an interface: the schemas of its parameter and result structs."""

    def __init__(self, parser, proto):
        self._parser = parser
        self._proto = proto

    @property
    def param_type(self):
        """The schema of the method's parameter struct."""
        return self._parser._schema(self._proto.paramStructType, _StructSchema)

    @property
    def result_type(self):
        """The schema of the method's result struct."""
        return self._parser._schema(self._proto.resultStructType, _StructSchema)


class _InterfaceSchema(_Schema):
    """The schema of an interface: its methods and superclasses."""

    @property
    def method_names(self):
        """Names of the methods declared by this interface."""
        return tuple(self._info["methods"])

    @property
    def superclasses(self):
        """The interfaces this one extends."""
        return [self._parser._schema(id_, _InterfaceSchema) for id_ in self._info["superclasses"]]

    @property
    def method_names_inherited(self):
        """Names of the methods of this interface and its superclasses."""
        names = set(self.method_names)
        for s in self.superclasses:
            names |= s.method_names_inherited
        return names

    @property
    def methods(self):
        """This interface's methods by name."""
        return {m.name: _InterfaceMethod(self._parser, m) for m in self.node.interface.methods}

    @property
    def methods_inherited(self):
        """The methods of this interface and its superclasses, by name."""
        methods = {}
        self._collect_methods(methods, set())
        return methods

    def _collect_methods(self, out, seen):
        # Diamonds and (invalid) cycles in the superclass graph: each interface once.
        if self._info["id"] in seen:
            return
        seen.add(self._info["id"])
        out.update(self.methods)
        for s in self.superclasses:
            s._collect_methods(out, seen)

    def __repr__(self):
        return "<schema for %s>" % self._info["display_name"]


def _type_spec(element):
    """(registry or None, type description) of a list element, as the native layer reads it."""
    if isinstance(element, _SchemaType):
        return None, ("prim", element._name)
    if isinstance(element, _ListSchema):
        return element._registry, ("list", element._spec)
    if isinstance(element, (_StructSchema, _EnumSchema, _InterfaceSchema)):
        kind = {"struct": "struct", "enum": "enum", "interface": "interface"}.get(element._info["kind"])
        if kind is not None:
            return element._parser._registry, (kind, element._info["id"])
    schema = getattr(element, "schema", None)
    if schema is not None and schema is not element:
        return _type_spec(schema)
    raise KjException("Unknown schema type")


class _ListSchema:
    """The schema of ``List(element)`` (API 4.5); ``element`` is a schema, a ``capnp.types``
    object or anything with a ``schema`` attribute."""

    def __init__(self, element=None):
        schema = _schema_of(element)
        if schema is None:
            raise KjException("Unknown schema type", type="FAILED")
        self._element = schema
        # What the native layer needs to read or build a list of this type (as_list).
        self._registry, self._spec = _type_spec(schema)

    @property
    def elementType(self):
        """The element type's schema (or ``capnp.types`` descriptor)."""
        return self._element


def _struct_target(schema):
    """(registry, node id) of a struct schema given as module, schema or ``as_struct()``."""
    if isinstance(schema, _StructModule):
        schema = schema.schema
    if isinstance(schema, _Schema) and not isinstance(schema, _StructSchema):
        schema = schema.as_struct()
    if not isinstance(schema, _StructSchema):
        raise KjException("Tried to use non-struct schema as a struct", type="FAILED")
    return schema._parser._registry, schema._info["id"]


def _list_target(schema):
    if not isinstance(schema, _ListSchema):
        inner = getattr(schema, "schema", None)
        if not isinstance(inner, _ListSchema):
            raise KjException("Unknown schema type")
        schema = inner
    return schema._registry, schema._spec


def _struct_reducer(schema_id, data):
    """Unpickles a struct: a reader of ``data`` typed by the global parser's schema (API 3.15)."""
    module = _global_parser().modules_by_id.get(schema_id)
    if not isinstance(module, _StructModule):
        raise KeyError("schema id %d (0x%016x) was not loaded by capnp.load or the import hook" % (schema_id, schema_id))
    return module.from_bytes(data)


def read_multiple_bytes_packed(buf, traversal_limit_in_words=None, nesting_limit=None):
    """Packed messages of unknown type in a buffer, as ``_DynamicObjectReader`` roots."""
    return _capnp.read_multiple_bytes_packed(buf, traversal_limit_in_words, nesting_limit)


def _read_callable(file):
    """``read(n)`` for a file: its descriptor when it has one (bypassing Python's buffer, as
    ``read`` does), else its own ``read`` (``BytesIO``)."""
    try:
        fd = _fileno(file)
    except (AttributeError, OSError, ValueError):
        return file.read
    return _functools.partial(_os.read, fd)


# --- values ----------------------------------------------------------------------------------


class _StructModuleWhich(_enum.Enum):
    """Base of the ``StructModuleWhich`` enums: members equal their value and their name."""

    def __eq__(self, other):
        if isinstance(other, _enum.Enum):
            return self is other
        if isinstance(other, int):
            return self.value == other
        if isinstance(other, str):
            return self.name == other
        return NotImplemented

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None


# --- modules ---------------------------------------------------------------------------------


def _union_enum(fields):
    return _StructModuleWhich(
        "StructModuleWhich",
        [(name[:1].upper() + name[1:], discriminant) for name, discriminant, _ in fields],
    )


class _StructABCMeta(type):
    """Metaclass of ``X.Reader``/``X.Builder``: instances are the views of that struct type."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls._view_class) and obj.schema == cls._schema


def _abstract_view(name, base, schema):
    def __new__(cls, *args, **kwargs):
        raise TypeError("This is an abstract base class")

    return _StructABCMeta(name, (base,), {"_view_class": base, "_schema": schema, "__new__": __new__})


def _fileno(file):
    return file if isinstance(file, int) else file.fileno()


def _premature_eof():
    return KjException("capnp/serialize: failed: Premature EOF", type="FAILED")


def _read_exactly(fd, size):
    chunks = []
    while size:
        chunk = _os.read(fd, size)
        if not chunk:
            raise _premature_eof()
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_framed(fd):
    """Reads exactly one message in stream framing from a file descriptor."""
    first = _read_exactly(fd, 4)
    count = int.from_bytes(first, "little") + 1
    if count > 512:
        raise KjException("capnp/serialize: failed: Message segment count too large", type="FAILED")
    table_rest = _read_exactly(fd, 4 * count + (4 if count % 2 == 0 else 0))
    words = sum(int.from_bytes(table_rest[4 * i : 4 * i + 4], "little") for i in range(count))
    return first + table_rest + _read_exactly(fd, 8 * words)


def _read_all(fd):
    chunks = []
    while True:
        chunk = _os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _server_class(schema, short):
    """The ``Server`` base class of an interface."""
    attrs = {"schema": schema, "__module__": "capnp.lib.capnp"}
    if schema.node.isGeneric:
        # The schema stubs make a generic interface's Server generic (`class
        # Impl(Store.Server[str])`); at run time the subscript is the class itself.
        attrs["__class_getitem__"] = classmethod(lambda cls, _args: cls)
    server = type("Server", (_rpc._DynamicCapabilityServer,), attrs)
    server.__name__ = server.__qualname__ = short + ".Server"
    return server


class _WithDict:
    """A plain base class: its ``__dict__`` descriptor reads an instance's own dictionary."""


_own_dict = _WithDict.__dict__["__dict__"].__get__


class _Deferred:
    """A class attribute standing for an attribute that instances make on first read (when
    they have one pending): a non-data descriptor, so the instance's own value, once made or
    set, is found first."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __get__(self, obj, cls=None):
        name = self.name
        lazy = _lazy_of(obj) if obj is not None else None
        make = lazy.get(name) if lazy else None
        if make is None:
            if obj is not None:
                # Another thread may have made it between the lookup and here.
                d = _own_dict(obj)
                if name in d:
                    return d[name]
            owner = cls if obj is None else type(obj)
            raise AttributeError(
                "%r %s has no attribute %r"
                % (owner.__name__, "object" if obj is not None else "class", name)
            )
        # The thunk leaves the table only once its value is in place (two threads making it
        # at once both return the one stored first).
        value = _own_dict(obj).setdefault(name, make())
        lazy.pop(name, None)
        return value


class _LazyAttrs(_WithDict):
    """Attributes made on first use (the ``StructModuleWhich`` enums, view classes, ``Server``
    classes: most of loading a schema went into building them, and most are never used).

    A pending attribute has a `_Deferred` of its name on the class and a thunk in the
    instance's `_lazy` table; it is made when first read, and all pending ones are made when
    ``__dict__`` is read (``vars()``, ``dir()``, ``copy``), so what those show does not change.
    No ``__getattr__``: the hot entry points (``Foo.new_message``) keep CPython's plain (and
    specialized) attribute lookup."""

    __slots__ = ("_lazy",)

    # Names that have a `_Deferred` on the class (shared by every subclass).
    _DEFERRED = set()

    def _defer(self, name, make):
        """Makes attribute ``name`` with ``make()`` when it is first needed."""
        if name not in _LazyAttrs._DEFERRED:
            setattr(_LazyAttrs, name, _Deferred(name))
            _LazyAttrs._DEFERRED.add(name)
        lazy = _lazy_of(self)
        if lazy is None:
            lazy = {}
            _lazy_slot.__set__(self, lazy)
        lazy[name] = make

    @property
    def __dict__(self):
        d = _own_dict(self)
        lazy = _lazy_of(self)
        while lazy:
            # One at a time, each removed once made: a thunk that raises stays pending.
            name, make = next(iter(lazy.items()))
            if name not in d:
                d.setdefault(name, make())
            lazy.pop(name, None)
        return d

    def __getstate__(self):
        # copy/pickle: the attributes, made (the pending ones are not state of their own).
        return self.__dict__

    def __delattr__(self, name):
        lazy = _lazy_of(self)
        if lazy and name in lazy and name not in _own_dict(self):
            lazy.pop(name, None)
            return
        object.__delattr__(self, name)

    def __dir__(self):
        names = set(dir(type(self))) - _LazyAttrs._DEFERRED
        return sorted((names | set(self.__dict__)) - self._PRIVATE)


_lazy_slot = _LazyAttrs.__dict__["_lazy"]


def _lazy_of(obj):
    try:
        return _lazy_slot.__get__(obj)
    except AttributeError:
        return None


# The native entry points of `_capnp._StructEntry` a struct module calls through
# (`_StructModule._specialize`).
_ENTRY_POINTS = ("new_message", "from_bytes", "from_bytes_packed", "from_segments")


class _StructModule(_LazyAttrs):
    """The object a struct declaration becomes: ``schema`` and the message entry points."""

    # Left out of dir(), which stays pycapnp's: private names, and the [ext] entry points
    # pycapnp lacks (issue 12), documented in their docstrings.
    _PRIVATE = frozenset(
        ("_registry", "_id", "_specialize", "_PRIVATE", "from_json", "from_text", "_lazy", "_defer",
         "_DEFERRED", "_ENTRY_POINTS") + tuple("_entry_" + n for n in _ENTRY_POINTS)
    )

    # The native entry points once specialized (see `_specialize`), one slot each.
    __slots__ = tuple("_entry_" + n for n in _ENTRY_POINTS)

    def __init__(self, schema, name=None):
        """A module for struct ``schema`` (a ``_StructSchema`` of any parser, a
        ``SchemaLoader``'s included), with pycapnp's signature: group fields become nested
        modules (``StructModuleWhich`` enums for groups that are unions) and an anonymous
        union a ``Union`` enum. ``name`` is accepted and, as by pycapnp, not used. The
        ``Reader``/``Builder`` classes and nested declarations are added by the parser."""
        self.schema = schema
        self._registry = schema._parser._registry
        self._id = schema._info["id"]
        parser = schema._parser
        fields = schema._info["fields"]
        for name, _, group_id in fields:
            group = parser._nodes.get(group_id) if group_id is not None else None
            if group is None:
                continue
            attr = name[:1].upper() + name[1:]
            if group["discriminant_count"]:
                self._defer(attr, _functools.partial(parser._which_enum, group))
            else:
                setattr(self, attr, _StructModule(parser._schema(group["id"], _StructSchema), attr))
        if fields and all(f[_FIELD_DISCRIMINANT] != 0xFFFF for f in fields):
            self._defer("Union", _functools.partial(_union_enum, fields))

    # The hot entry points are native methods of `_capnp._StructEntry`:
    # new_message(num_first_segment_words=None, allocate_seg_callable=None, **kwargs),
    # from_bytes(buf, traversal_limit_in_words=None, nesting_limit=None, builder=False),
    # from_bytes_packed(buf, ...) and from_segments(segments, ...) (same keywords).
    # The first call gives the module a class of its own holding them, so later calls skip
    # the Python frame these methods cost (about half of an empty new_message).

    def new_message(self, *args, **kwargs):
        """A new message whose root is this struct; keyword arguments set fields."""
        return self._specialize().new_message(*args, **kwargs)

    def from_bytes(self, *args, **kwargs):
        """The root reader of one message (stream framing) in a buffer; also a context manager."""
        return self._specialize().from_bytes(*args, **kwargs)

    def _specialize(self):
        # The entry's bound methods go into this module's slots, and the class of its own
        # names each slot's descriptor after its method: a member descriptor is a data
        # descriptor, so `Foo.new_message` is the type's cached lookup and a slot read,
        # without the instance-dict lookup a method or `staticmethod` on the class costs
        # (the dict is materialized, and a miss in it walks the class's shared keys).
        if type(self) is _StructModule:
            entry = _capnp._StructEntry(self._registry, self._id)
            names = {}
            for name in _ENTRY_POINTS:
                slot = "_entry_" + name
                # `new_message` through CPython's vector call (its PyO3 method, taking
                # `**kwargs`, gets the slower tuple-and-dict call).
                method = (entry._new_message_function() if name == "new_message"
                          else getattr(entry, name))
                setattr(self, slot, method)
                names[name] = _StructModule.__dict__[slot]
            self.__class__ = type(
                "_StructModule",
                (_StructModule,),
                {
                    "__slots__": (),
                    "__module__": _StructModule.__module__,
                    "__qualname__": _StructModule.__qualname__,
                    "__doc__": _StructModule.__doc__,
                    **names,
                },
            )
        return self

    def __reduce_ex__(self, protocol):
        # Copies (and pickles) are plain struct modules that specialize on their own first
        # call: the slots holding the entry points are this module's, not its state.
        return (_copyreg.__newobj__, (_StructModule,), self.__getstate__())

    def __call__(self, num_first_segment_words=None, **kwargs):
        return self.new_message(num_first_segment_words, **kwargs)

    async def read_async(self, stream, traversal_limit_in_words=None, nesting_limit=None):
        """The next message on an ``AsyncIoStream`` as a reader; ``None`` at a clean end."""
        data = await _rpc._read_message(stream, traversal_limit_in_words)
        if data is None:
            return None
        return self.from_bytes(
            data, traversal_limit_in_words=traversal_limit_in_words, nesting_limit=nesting_limit
        )

    def from_bytes_packed(self, *args, **kwargs):
        """The root reader of one packed message in a buffer."""
        return self._specialize().from_bytes_packed(*args, **kwargs)

    def from_segments(self, *args, **kwargs):
        """The root reader of a message given as its segments (buffers, no framing)."""
        return self._specialize().from_segments(*args, **kwargs)

    def from_json(self, text, reject_unknown_fields=False):
        """A new message of this struct filled from JSON text (``str`` or bytes-like); returns
        its root builder.

        Reads what ``to_json()`` writes and what the reference's ``capnp::JsonCodec`` reads:
        integers as numbers or strings, ``"NaN"``/``"Infinity"``, Data as arrays of numbers
        (or base64/hex per ``$Json.base64``/``$Json.hex``), enums by name or number, the
        ``/capnp/compat/json.capnp`` annotations. Members naming no field are ignored, as by
        the reference, unless ``reject_unknown_fields``. Bad input raises ``KjException``
        naming the JSON path (``JSON at $.a.b[2]: expected a string, got number``).
        """
        return self._registry.from_json(self._id, text, reject_unknown_fields)

    def from_text(self, text):
        """A new message of this struct parsed from the text format (what ``str()`` prints;
        the schema language's value syntax, as ``capnp encode`` reads); returns its root
        builder.

        Struct values ``(a = 1, b = (c = "x"))``, lists ``[1, 2]``, strings with C escapes,
        ``0x"0a1b"`` data, decimal/hex/octal integers, floats with ``inf``/``nan``, enumerant
        names, ``true``/``false``/``void``; ``#`` comments. Constants cannot be referenced.
        Bad input raises ``KjException`` naming the line, column and field
        (``text at 2:7 ($.s.t): expected a string, found an integer``).
        """
        return self._registry.from_text(self._id, text)

    def read(self, file, traversal_limit_in_words=None, nesting_limit=None):
        """Reads exactly one unpacked message from ``file.fileno()``."""
        data = _read_framed(_fileno(file))
        return self.from_bytes(data, traversal_limit_in_words, nesting_limit)

    def read_packed(self, file, traversal_limit_in_words=None, nesting_limit=None):
        """Reads exactly one packed message from ``file.fileno()``."""
        data = _read_all(_fileno(file))
        return self.from_bytes_packed(data, traversal_limit_in_words, nesting_limit)

    def read_multiple(self, file, traversal_limit_in_words=None, nesting_limit=None, skip_copy=False):
        """Iterator over the unpacked messages of a file; a truncated last one ends it."""
        return self._registry.read_multiple(
            self._id, _read_callable(file), False, traversal_limit_in_words, nesting_limit
        )

    def read_multiple_packed(self, file, traversal_limit_in_words=None, nesting_limit=None, skip_copy=False):
        """Iterator over the packed messages of a file."""
        return self._registry.read_multiple(
            self._id, _read_callable(file), True, traversal_limit_in_words, nesting_limit
        )

    def read_multiple_bytes(self, buf, traversal_limit_in_words=None, nesting_limit=None):
        """Iterator over the unpacked messages of a buffer (zero-copy)."""
        return self._registry.read_multiple_bytes(
            self._id, buf, False, traversal_limit_in_words, nesting_limit
        )

    def read_multiple_bytes_packed(self, buf, traversal_limit_in_words=None, nesting_limit=None):
        """Iterator over the packed messages of a buffer."""
        return self._registry.read_multiple_bytes(
            self._id, buf, True, traversal_limit_in_words, nesting_limit
        )


# --- whole messages (API 3.13) -----------------------------------------------------------


class _MessageBuilder:
    """A message being built; ``init_root``/``get_root`` pick the root's type."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("This is an abstract base class. You should use MallocMessageBuilder instead")

    def __dir__(self):
        return sorted((set(dir(type(self))) | set(self.__dict__)) - {"_handle", "_allocate_seg_callable"})

    def init_root(self, schema):
        """A new root of that struct type (a ``_StructModule`` or ``_StructSchema``)."""
        registry, node_id = _struct_target(schema)
        return self._handle.init_root(registry, node_id)

    def get_root(self, schema):
        """The existing root as that struct type (initialised when null)."""
        registry, node_id = _struct_target(schema)
        return self._handle.get_root(registry, node_id)

    def get_root_as_any(self):
        """The root pointer, untyped."""
        return self._handle.get_root_as_any()

    def set_root(self, value):
        """Deep-copies a struct reader or builder into the root; returns the new root."""
        return self._handle.set_root(value)

    def get_segments_for_output(self):
        """The message's segments."""
        return self._handle.get_segments_for_output()

    def new_orphan(self, schema):
        """A new struct of that type attached to nothing, for ``adopt``."""
        registry, node_id = _struct_target(schema)
        return self._handle.new_orphan(registry, node_id)


class _MallocMessageBuilder(_MessageBuilder):
    """The ordinary message builder; ``size`` is the first segment's size in words."""

    def __init__(self, size=None):
        self._handle = _capnp._MessageHandle(size)


class _PyCustomMessageBuilder(_MessageBuilder):
    """A message builder built in the buffers ``allocate_seg_callable`` returns.

    The callable is called with the minimum size in words for the first segment (at
    least ``size``, default 1024) and for every further one, and returns a writable
    buffer (``bytearray``, writable ``memoryview``, ``mmap``) of at least that many
    words; the message lives in those buffers, held until the message is dropped.
    """

    def __init__(self, allocate_seg_callable, size=None):
        if not callable(allocate_seg_callable):
            raise TypeError("allocate_seg_callable must be callable")
        self._allocate_seg_callable = allocate_seg_callable
        self._handle = _capnp._MessageHandle(size, allocate_seg_callable)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[_os.write(fd, view) :]


def _write_message_to_fd(fd, message):
    """Writes a ``_MessageBuilder`` to a file descriptor (stream framing)."""
    _write_all(fd, message._handle.to_bytes())


def _write_packed_message_to_fd(fd, message):
    """Writes a packed message to a file descriptor."""
    _write_all(fd, message._handle.to_bytes_packed())


def _message_to_packed_bytes(message):
    """A message's packed bytes."""
    return message._handle.to_bytes_packed()


class _MessageReader:
    """A message read whole; ``get_root`` picks the root's type."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError("This is an abstract base class")

    def __dir__(self):
        return sorted((set(dir(type(self))) | set(self.__dict__)) - {"_handle"})

    def get_root(self, schema):
        """The root as a reader of struct ``schema``."""
        registry, node_id = _struct_target(schema)
        return self._handle.get_root(registry, node_id)

    def get_root_as_any(self):
        """The root pointer, untyped."""
        return self._handle.get_root_as_any()


class _StreamFdMessageReader(_MessageReader):
    """One unpacked message read from ``file.fileno()`` at construction."""

    def __init__(self, file, traversal_limit_in_words=None, nesting_limit=None):
        data = _read_framed(_fileno(file))
        self._handle = _capnp._MessageReaderHandle(data, False, traversal_limit_in_words, nesting_limit)
        self._parent = file


class _PackedFdMessageReader(_MessageReader):
    """One packed message read from ``file.fileno()`` at construction."""

    def __init__(self, file, traversal_limit_in_words=None, nesting_limit=None):
        data = _read_all(_fileno(file))
        self._handle = _capnp._MessageReaderHandle(data, True, traversal_limit_in_words, nesting_limit)
        self._parent = file


class _PackedMessageReaderBytes(_MessageReader):
    """One packed message from a buffer."""

    def __init__(self, buf, traversal_limit_in_words=None, nesting_limit=None):
        self._handle = _capnp._MessageReaderHandle(buf, True, traversal_limit_in_words, nesting_limit)
        self._parent = buf


class _PackedMessageReader(_MessageReader):
    """Made internally by pycapnp only."""


class _InputMessageReader(_MessageReader):
    """Made internally by pycapnp only."""


class _AsyncMessageReader(_MessageReader):
    """Made internally by pycapnp only (``read_async``)."""


# --- resizable lists (API 3.4) -----------------------------------------------------------


def _field_info(schema, name):
    for index, info in enumerate(schema._info["fields"]):
        if info[_FIELD_NAME] == name:
            return index, info
    raise KjException("capnp/schema.c++: failed: struct has no such member; name = %s" % name, type="FAILED")


def _by_field_name(field, struct_id):
    """The name of a ``_StructSchemaField`` of struct ``struct_id`` (``_get_by_field`` & co.)."""
    if not isinstance(field, _StructSchemaField):
        raise TypeError(
            "Argument 'field' has incorrect type (expected capnp.lib.capnp._StructSchemaField, got %s)"
            % type(field).__name__
        )
    parent = field._parent
    if parent._info["id"] != struct_id:
        raise KjException(
            "capnp/dynamic.c++: failed: expected field.getContainingStruct() == schema; "
            "`field` is not a field of this struct.",
            type="FAILED",
        )
    return field._name


class _DynamicResizableListBuilder:
    """A growable list of structs for one field; nothing is written until ``finish()``."""

    def __init__(self, parent, field, schema=None):
        if isinstance(field, _StructSchemaField):
            field = field._name
        index, _ = _field_info(parent.schema, field)
        ty = parent.schema.fields_list[index].proto
        element_id = None
        if ty.which() == "slot" and ty.slot.type.which() == "list":
            element = ty.slot.type.list.elementType
            if element.which() == "struct":
                element_id = element.struct.typeId
        if element_id is None:
            raise KjException(
                "init_resizable_list needs a field of type List(struct); '%s' is not one" % field,
                type="FAILED",
            )
        self._parent = parent
        self._field = field
        self._registry = parent.schema._parser._registry
        self._element_id = element_id
        self._orphans = []
        self._finished = False

    def _check_open(self):
        if self._finished:
            raise KjException("finish() was already called on this resizable list", type="FAILED")

    def add(self):
        """A new struct appended to the list; valid until ``finish()``."""
        self._check_open()
        orphan = _capnp._MessageHandle().new_orphan(self._registry, self._element_id)
        self._orphans.append(orphan)
        return orphan.get()

    def __getitem__(self, index):
        """The struct added at ``index``."""
        return self._orphans[index].get()

    _get = __getitem__

    def __len__(self):
        return len(self._orphans)

    def finish(self):
        """Writes the field with every added struct; the builders from ``add()`` become invalid."""
        self._check_open()
        target = self._parent.init(self._field, len(self._orphans))
        for i, orphan in enumerate(self._orphans):
            target.adopt(i, orphan)
        self._finished = True


class _EnumModule:
    """The object an enum declaration becomes: one ``int`` per enumerant."""

    def __init__(self, schema, name=None):
        """A module for enum ``schema``: one ``int`` per enumerant. ``name`` is accepted, as
        pycapnp's signature has it, and not used."""
        self.schema = schema
        for i, enumerant in enumerate(schema._info["enumerants"]):
            setattr(self, enumerant, i)


class _InterfaceModule(_LazyAttrs):
    """The object an interface declaration becomes: ``schema`` and its ``Server`` base class."""

    _PRIVATE = frozenset(("_lazy", "_defer", "_PRIVATE", "_DEFERRED"))

    def __init__(self, schema, name=None):
        self.schema = schema
        # pycapnp's signature: ``name`` names the ``Server`` class (``name + ".Server"``).
        short = name if name is not None else schema._info["display_name"].rsplit(":", 1)[-1].rsplit(".", 1)[-1]
        self._defer("Server", _functools.partial(_server_class, schema, short))

    def _new_client(self, server):
        """A client of this interface served by ``server`` in this process."""
        _rpc._ensure_loop()
        return _rpc._DynamicCapabilityClient(_rpc._server_cap(server, self.schema), self.schema)

    def _new_server(self, server):
        """1.x: ``server`` wrapped as a capability server of this interface."""
        return _rpc._ServerWrapper(self.schema, server)


class SchemaParser:
    """Loads schema files; one entry per file, however it is reached (API 2.3)."""

    def __init__(self):
        self.modules_by_id = {}
        self._nodes = {}  # node id -> node info, first compilation wins
        self._schemas = {}  # (node id, class) -> schema object
        self._files = {}  # file key (real path) -> file id
        self._file_keys = {}  # file id -> file key
        self._registry = _capnp._Registry(self._struct_schema_by_id)
        self._const_registry = None
        _register_parser(self, self._registry)

    def load(self, file_name, display_name=None, imports=[]):
        """Loads a schema file and returns its module (a ``types.ModuleType``)."""
        # Loading makes thousands of long-lived containers (node descriptions, classes,
        # enums) and no cyclic garbage: the cyclic GC, left on, traversed them over and over
        # (a quarter of a large schema's load time). It is paused for the load and back on
        # after, as it was; a collection then runs at the next allocation as usual.
        if _gc.isenabled():
            _gc.disable()
            try:
                return self._load(file_name, display_name, imports)
            finally:
                _gc.enable()
        return self._load(file_name, display_name, imports)

    def _load(self, file_name, display_name, imports):
        file_name = _os.fspath(file_name)
        if display_name is None:
            display_name = _os.path.basename(file_name)
        imports = [_os.fspath(d) for d in imports]
        key = _os.path.realpath(file_name)
        file_id = None
        if _os.path.isfile(file_name) and file_name.endswith(".capnp"):
            file_id = self._files.get(key)
        if file_id is None:
            compiled = _capnp.compile_file(file_name, display_name, imports, dict(self._file_keys))
            self._add_compiled(compiled)
            file_id = compiled["file_id"]
        return self._file_module(file_id, display_name, file_name)

    def _load_bundled(self, name, display_name, source=None):
        """The module of bundled standard file ``name`` (``capnp/schema.capnp``); ``source``
        replaces its text."""
        key = "<bundled>/" + name
        file_id = self._files.get(key)
        if file_id is None:
            compiled = _capnp.compile_bundled(name, display_name, source)
            self._add_compiled(compiled)
            file_id = compiled["file_id"]
        return self._file_module(file_id, display_name, None)

    def _add_compiled(self, compiled):
        self._registry.add_request(compiled["request"])
        for info in compiled["nodes"]:
            self._nodes.setdefault(info["id"], info)
        self._files[compiled["key"]] = compiled["file_id"]
        self._file_keys[compiled["file_id"]] = compiled["key"]

    def _struct_schema_by_id(self, node_id):
        return self._schema(node_id, _StructSchema)

    def _constants_registry(self):
        """The registry of constant values: the parser's tables, its schemas reached weakly.
        Constants are readers, which the cyclic GC does not see; holding the parser's own
        registry (whose factory holds the parser) they kept every parser alive forever."""
        if self._const_registry is None:
            self._const_registry = self._registry._sharing(
                _functools.partial(_weak_struct_schema, _weakref.ref(self))
            )
            _register_parser(self, self._const_registry)
        return self._const_registry

    def _schema(self, node_id, cls):
        key = (node_id, cls)
        schema = self._schemas.get(key)
        if schema is None:
            schema = self._schemas[key] = cls(self, self._nodes[node_id])
        return schema

    def _file_module(self, file_id, display_name, file_name):
        module = _types.ModuleType(display_name)
        if file_name is not None:
            path = _os.path.abspath(file_name)
            module.__file__ = path
            module.__path__ = [_os.path.dirname(path)]
        schema = self._schema(file_id, _ParsedSchema)
        module.schema = schema
        module._nodeSchema = schema
        module._nodeProto = schema.get_proto()
        module._parser = self
        self.modules_by_id[file_id] = module
        self._add_nested(module, self._nodes[file_id])
        return module

    def _add_nested(self, parent, info):
        for name, node_id in info["nested"]:
            child = self._nodes.get(node_id)
            if child is None:
                continue
            kind = child["kind"]
            if kind == "struct":
                obj = self._struct_module(child)
            elif kind == "enum":
                obj = _EnumModule(self._schema(node_id, _EnumSchema))
                self._add_node_attrs(obj, node_id)
            elif kind == "interface":
                obj = _InterfaceModule(self._schema(node_id, _InterfaceSchema))
                self._add_node_attrs(obj, node_id)
                self._add_nested(obj, child)
            elif kind == "const":
                self.modules_by_id[node_id] = _types.ModuleType(name)
                try:
                    setattr(parent, name, self._const_value(child))
                except NotImplementedError:
                    pass  # interface and AnyPointer constants are not supported yet
                continue
            else:
                self.modules_by_id[node_id] = _types.ModuleType(name)
                continue
            self.modules_by_id[node_id] = obj
            setattr(parent, name, obj)

    def _add_node_attrs(self, obj, node_id):
        schema = self._schema(node_id, _ParsedSchema)
        obj._nodeSchema = schema
        if isinstance(obj, _LazyAttrs):
            obj._defer("_nodeProto", schema.get_proto)
        else:
            obj._nodeProto = schema.get_proto()

    def _struct_module(self, info):
        schema = self._schema(info["id"], _StructSchema)
        module = _StructModule(schema)
        # As pycapnp's loader: view classes for declared structs (groups have none).
        if not info["is_group"]:
            module._defer("Reader", _functools.partial(_abstract_view, "Reader", _DynamicStructReader, schema))
            module._defer(
                "Builder", _functools.partial(_abstract_view, "Builder", _DynamicStructBuilder, schema)
            )
            self._add_node_attrs(module, info["id"])
            self._add_nested(module, info)
        return module

    def _which_enum(self, group):
        which = _StructModuleWhich(
            "StructModuleWhich", [(name, discriminant) for name, discriminant, _ in group["fields"]]
        )
        which.schema = self._schema(group["id"], _StructSchema)
        return which

    def _const_value(self, info):
        kind = info["const_kind"]
        value = info["const_value"]
        if kind == "enum":
            type_id, raw = value
            return self._registry.make_enum(type_id, raw)
        if kind in ("list", "struct", "anyPointer"):
            return self._constants_registry().const_value(info["id"])
        if kind == "interface":
            raise NotImplementedError("interface constants need RPC")
        return value


class _LoaderParser(SchemaParser):
    """A ``SchemaLoader``'s node table: ids not loaded (yet) are placeholders, as the
    registry's, so views of partly loaded schemas still have a ``schema``."""

    def _schema(self, node_id, cls):
        if node_id in self._nodes:
            return SchemaParser._schema(self, node_id, cls)
        is_group = any(
            f[_FIELD_GROUP_ID] == node_id for info in self._nodes.values() for f in info.get("fields", ())
        )
        info = {
            "id": node_id,
            "display_name": "(unknown group type)" if is_group else "(unknown type)",
            "prefix_length": 0,
            "scope_id": 0,
            "is_generic": False,
            "nested": (),
            "kind": "struct",
            "is_group": is_group,
            "discriminant_count": 0,
            "fields": (),
        }
        return cls(self, info)


class SchemaLoader:
    """Schemas built from ``schema.capnp`` nodes received at run time (API 2.8)."""

    def __init__(self):
        # A parser without files: its node table and registry hold the loaded nodes.
        self._parser = _LoaderParser()
        self._parser._registry.enable_placeholders()

    def load(self, reader):
        """Loads the node of a ``_NodeReader`` (``schema.get_proto()``); returns its ``_Schema``."""
        if not isinstance(reader, _NodeReader):
            raise TypeError(
                "Argument 'reader' has incorrect type (expected capnp.lib.capnp._NodeReader, got %s)"
                % type(reader).__name__
            )
        return self._load(_node_bytes(reader._schema._info))

    def load_dynamic(self, reader):
        """Loads a node given as a ``schema.capnp:Node`` struct reader."""
        if not isinstance(reader, _DynamicStructReader) or reader.schema._info["id"] != _NODE_ID:
            raise TypeError(
                "Argument 'reader' has incorrect type (expected a schema.capnp:Node reader, got %r)"
                % (reader,)
            )
        return self._load(reader.as_builder().to_bytes())

    def _load(self, data):
        loaded = _capnp.load_nodes([data])
        parser = self._parser
        parser._registry.add_request(loaded["request"])
        for info in loaded["nodes"]:
            parser._nodes.setdefault(info["id"], info)
        return self.get(loaded["nodes"][0]["id"])

    def get(self, id):
        """The ``_Schema`` of a loaded node id."""
        if id not in self._parser._nodes:
            raise KjException(
                "capnp/schema-loader.c++: failed: no schema node loaded for id; kj::hex(id) = %x" % id,
                type="FAILED",
            )
        return self._parser._schema(id, _Schema)


def _global_parser():
    global _global_schema_parser
    if _global_schema_parser is None:
        _global_schema_parser = SchemaParser()
    return _global_schema_parser


def load(file_name, display_name=None, imports=[]):
    """Loads a schema file with the global parser and returns its module (API 2.1)."""
    return _global_parser().load(file_name, display_name, imports)


def cleanup_global_schema_parser():
    """Drops the global parser; the next load starts a fresh one."""
    global _global_schema_parser
    _global_schema_parser = None


# --- the import hook's names (API 2.7, 7.1) -------------------------------------------------

from capnp._import_hook import _Importer, _Loader, add_import_hook, remove_import_hook  # noqa: E402

# The include directories the hook adds after a schema's own directory.
_capnp_paths = ["/usr/local/include", "/usr/include"]


def __getattr__(name):
    # `_importer` is the finder currently installed, which add/remove_import_hook change.
    if name == "_importer":
        from capnp import _import_hook

        return _import_hook._finder
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


# --- RPC (capnp/lib/_rpc.py) ------------------------------------------------------------------

_PARSERS = {}  # id(parser._registry), id(parser._const_registry) -> weak reference to the parser


def _register_parser(parser, registry):
    key = id(registry)
    _PARSERS[key] = _weakref.ref(parser, lambda ref: _PARSERS.get(key) is ref and _PARSERS.pop(key))


def _weak_struct_schema(parser_ref, node_id):
    """The struct schema of a constant's reader, while its parser lives."""
    parser = parser_ref()
    if parser is None:
        raise ReferenceError("the SchemaParser that loaded this constant no longer exists")
    return parser._schema(node_id, _StructSchema)


def _parser_of_registry(registry):
    ref = _PARSERS.get(id(registry))
    parser = ref() if ref is not None else None
    if parser is not None and (parser._registry is registry or parser._const_registry is registry):
        return parser
    return None


from capnp.lib import _rpc  # noqa: E402

kj_loop = _rpc.kj_loop
run = _rpc.run
_AsyncIoStream = _rpc._AsyncIoStream
AsyncIoStream = _rpc._AsyncIoStream
TwoPartyClient = _rpc.TwoPartyClient
TwoPartyServer = _rpc.TwoPartyServer
_CapabilityClient = _rpc._CapabilityClient
_DynamicCapabilityClient = _rpc._DynamicCapabilityClient
_DynamicCapabilityServer = _rpc._DynamicCapabilityServer
_RemotePromise = _rpc._RemotePromise
_Request = _rpc._Request
_CallContext = _rpc._CallContext
_DynamicStructPipeline = _rpc._DynamicStructPipeline

from capnp.lib import _sync  # noqa: E402

_Promise = Promise = _sync._Promise
_VoidPromise = _sync._VoidPromise
PromiseFulfillerPair = _sync.PromiseFulfillerPair
join_promises = _sync.join_promises
getTimer = _sync.getTimer
_Timer = _sync._Timer
create_event_loop = _sync.create_event_loop
remove_event_loop = _sync.remove_event_loop
reset_event_loop = _sync.reset_event_loop
poll_once = _sync.poll_once
wait_forever = _sync.wait_forever
