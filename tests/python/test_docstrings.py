"""Every public class, function, method and property of API.md section 7 has a docstring at
run time (``help()``, editors and the docs' API reference read ``__doc__``)."""

import inspect

import pytest

import capnp
from capnp.lib import capnp as lib

# API.md 7.1 and 7.2: what `capnp.lib.capnp` offers beyond `capnp.__all__` (names marked
# "internal (may be absent)" are checked when present).
LIB_NAMES = [
    "_message_to_packed_bytes",
    "_Type",
    "_AsyncIoStream",
    "PyAsyncIoStream",
    "_RemotePromise",
    "_Timer",
    "_Request",
    "_Response",
    "_CallContext",
    "_CapabilityClient",
    "_DynamicCapabilityClient",
    "_DynamicCapabilityServer",
    "_DynamicStructPipeline",
    "_TwoPartyVatNetwork",
    "_EventLoop",
    "_MessageSize",
    "_MessageBuilder",
    "_MessageReader",
    "_PackedMessageReader",
    "_PackedMessageReaderBytes",
    "_InputMessageReader",
    "_AsyncMessageReader",
    "_MultipleMessageReader",
    "_Schema",
    "_ParsedSchema",
    "_StructSchema",
    "_StructSchemaField",
    "_EnumSchema",
    "_InterfaceSchema",
    "_InterfaceMethod",
    "_SchemaType",
    "_NodeReader",
    "_NestedNodeReader",
    "_List_NestedNode_Reader",
    "_StructModuleWhich",
    "_StructABCMeta",
    "_Importer",
    "_Loader",
    "_KjExceptionWrapper",
]

# Underscored members that API.md 7.3 lists as public (pycapnp's spellings).
PUBLIC_PRIVATE_MEMBERS = {
    "_get",
    "_get_by_field",
    "_has",
    "_has_by_field",
    "_which",
    "_which_str",
    "_set",
    "_set_by_field",
    "_init_by_field",
    "_is_written",
    "_as_str",
    "_str",
    "_send",
    "_request",
    "_new_server",
    "_nodeSchema",
    "_nodeProto",
}


def public_objects():
    """(qualified name, object) for every public module-level class and function."""
    seen = {}
    for name in capnp.__all__:
        seen.setdefault(id(getattr(capnp, name)), ("capnp." + name, getattr(capnp, name)))
    for name in LIB_NAMES:
        if hasattr(lib, name):
            obj = getattr(lib, name)
            seen.setdefault(id(obj), ("capnp.lib.capnp." + name, obj))
    return [
        (qualname, obj)
        for qualname, obj in seen.values()
        if inspect.isclass(obj) or inspect.isroutine(obj)
    ]


def doc_of(member):
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    return getattr(member, "__doc__", None)


def is_documentable(member):
    """Methods, properties and native getters; not data attributes or slots."""
    if isinstance(member, (staticmethod, classmethod, property)):
        return True
    if inspect.ismemberdescriptor(member):
        return False
    return inspect.isroutine(member) or inspect.isgetsetdescriptor(member)


def public_members():
    """(qualified name, member) for each public method and property of the public classes,
    including those inherited from the package's own base classes."""
    members = {}
    for qualname, cls in public_objects():
        if not inspect.isclass(cls):
            continue
        for base in cls.__mro__:
            if not base.__module__.startswith("capnp"):
                continue
            for name, member in vars(base).items():
                if name.startswith("_") and name not in PUBLIC_PRIVATE_MEMBERS:
                    continue
                if is_documentable(member):
                    members.setdefault("%s.%s" % (base.__qualname__, name), member)
    return sorted(members.items())


OBJECTS = public_objects()
MEMBERS = public_members()


def test_the_walk_finds_the_api():
    names = {q for q, _ in OBJECTS}
    assert "capnp._DynamicStructBuilder" in names and "capnp.load" in names
    assert len(OBJECTS) > 60
    members = dict(MEMBERS)
    assert "_DynamicStructBuilder.to_bytes" in members
    assert "_DynamicStructReader._which_str" in members
    assert "_StructModule.new_message" in members
    assert len(MEMBERS) > 150


@pytest.mark.parametrize("qualname, obj", OBJECTS, ids=[q for q, _ in OBJECTS])
def test_class_or_function_has_docstring(qualname, obj):
    assert (obj.__doc__ or "").strip(), "%s has no docstring" % qualname


@pytest.mark.parametrize("qualname, member", MEMBERS, ids=[q for q, _ in MEMBERS])
def test_member_has_docstring(qualname, member):
    assert (doc_of(member) or "").strip(), "%s has no docstring" % qualname
