"""Every non-RPC name API.md section 7 lists exists where programs look for it."""

import pytest

import capnp
from capnp.lib import capnp as lib

# API.md 7.1, without the RPC/event-loop functions (section 5).
FUNCTIONS = [
    "load",
    "add_import_hook",
    "remove_import_hook",
    "cleanup_global_schema_parser",
    "read_multiple_bytes_packed",
    "_write_message_to_fd",
    "_write_packed_message_to_fd",
    "_init_capnp_api",
    "_struct_reducer",
]

LIB_ONLY = [
    "_global_schema_parser",
    "_message_to_packed_bytes",
    "_CAPNP_VERSION_MAJOR",
    "_CAPNP_VERSION_MINOR",
    "_CAPNP_VERSION_MICRO",
    "_CAPNP_VERSION",
    "_Type",
    "_capnp_paths",
    "_importer",
]

# API.md 7.2, without the RPC classes.
CLASSES = [
    "KjException",
    "SchemaParser",
    "SchemaLoader",
    "_DynamicStructReader",
    "_DynamicStructBuilder",
    "_DynamicListReader",
    "_DynamicListBuilder",
    "_DynamicResizableListBuilder",
    "_DynamicEnum",
    "_DynamicEnumField",
    "_DynamicObjectReader",
    "_DynamicObjectBuilder",
    "_DynamicOrphan",
    "_MessageSize",
    "_MessageBuilder",
    "_MallocMessageBuilder",
    "_PyCustomMessageBuilder",
    "_MessageReader",
    "_StreamFdMessageReader",
    "_PackedFdMessageReader",
    "_PackedMessageReader",
    "_PackedMessageReaderBytes",
    "_InputMessageReader",
    "_AsyncMessageReader",
    "_MultipleMessageReader",
    "_MultiplePackedMessageReader",
    "_MultipleBytesMessageReader",
    "_MultipleBytesPackedMessageReader",
    "_MultipleBytesPackedAnyMessageReader",
    "_Schema",
    "_ParsedSchema",
    "_StructSchema",
    "_StructSchemaField",
    "_EnumSchema",
    "_InterfaceSchema",
    "_InterfaceMethod",
    "_ListSchema",
    "_SchemaType",
    "_NodeReader",
    "_NestedNodeReader",
    "_List_NestedNode_Reader",
    "_StructModule",
    "_StructModuleWhich",
    "_StructABCMeta",
    "_InterfaceModule",
    "_EnumModule",
    "_Importer",
    "_Loader",
]

# The private names `capnp` itself re-exports (API.md 1.2), without the RPC ones.
CAPNP_PRIVATE = [
    "_DynamicListBuilder",
    "_DynamicListReader",
    "_DynamicOrphan",
    "_DynamicResizableListBuilder",
    "_DynamicStructBuilder",
    "_DynamicStructReader",
    "_InterfaceModule",
    "_ListSchema",
    "_MallocMessageBuilder",
    "_PyCustomMessageBuilder",
    "_PackedFdMessageReader",
    "_StreamFdMessageReader",
    "_StructModule",
    "_write_message_to_fd",
    "_write_packed_message_to_fd",
    "_init_capnp_api",
    "_struct_reducer",
]

# API.md 7.3 for the message classes.
MEMBERS = {
    "_StructModule": [
        "new_message",
        "__call__",
        "from_bytes",
        "from_bytes_packed",
        "from_segments",
        "read",
        "read_packed",
        "read_multiple",
        "read_multiple_packed",
        "read_multiple_bytes",
        "read_multiple_bytes_packed",
        "read_async",
    ],
    "_DynamicStructReader": [
        "_get",
        "_get_by_field",
        "_has",
        "_has_by_field",
        "which",
        "_which",
        "_which_str",
        "schema",
        "is_root",
        "total_size",
        "as_builder",
        "to_dict",
        "get_data_as_view",
        "__str__",
        "__repr__",
        "__dir__",
        "__reduce_ex__",
        "__enter__",
        "__exit__",
    ],
    "_DynamicStructBuilder": [
        "_get",
        "_get_by_field",
        "_has",
        "_has_by_field",
        "which",
        "_which",
        "_which_str",
        "schema",
        "is_root",
        "total_size",
        "to_dict",
        "get_data_as_view",
        "_set",
        "_set_by_field",
        "init",
        "_init_by_field",
        "init_resizable_list",
        "adopt",
        "disown",
        "as_reader",
        "copy",
        "from_dict",
        "write",
        "write_packed",
        "to_bytes",
        "to_bytes_packed",
        "to_segments",
        "clear_write_flag",
        "_is_written",
    ],
    "_DynamicListReader": ["__len__", "__getitem__", "_get", "__str__", "__repr__"],
    "_DynamicListBuilder": [
        "__len__",
        "__getitem__",
        "_get",
        "__setitem__",
        "_set",
        "init",
        "adopt",
        "disown",
    ],
    "_DynamicResizableListBuilder": ["add", "finish", "__getitem__", "__len__", "_get"],
    "_DynamicEnum": ["raw", "__str__", "__repr__", "__hash__", "_as_str"],
    "_DynamicEnumField": ["raw", "__str__", "__repr__", "__call__", "_str"],
    "_DynamicObjectReader": ["as_struct", "as_list", "as_text", "as_interface"],
    "_DynamicObjectBuilder": [
        "as_struct",
        "as_list",
        "as_text",
        "as_interface",
        "set",
        "set_as_text",
        "init_as_list",
        "as_reader",
    ],
    "_DynamicOrphan": ["get", "__str__", "__repr__"],
    "_MessageBuilder": [
        "init_root",
        "get_root",
        "get_root_as_any",
        "set_root",
        "get_segments_for_output",
        "new_orphan",
    ],
    "_MessageReader": ["get_root", "get_root_as_any"],
    "SchemaParser": ["load"],
    "SchemaLoader": ["load", "load_dynamic", "get"],
}


@pytest.mark.parametrize("name", FUNCTIONS + CLASSES + CAPNP_PRIVATE)
def test_capnp_and_lib_names(name):
    assert hasattr(lib, name), name
    if not name.startswith("_") or name in CAPNP_PRIVATE or name in FUNCTIONS:
        assert getattr(capnp, name) is getattr(lib, name), name


@pytest.mark.parametrize("name", ["register_type", "deregister_all_types"])
def test_type_registry_names(name):
    assert getattr(capnp, name) is getattr(lib, name)


@pytest.mark.parametrize("name", LIB_ONLY)
def test_lib_only_names(name):
    assert hasattr(lib, name), name


# pycapnp has one iterator class per variant; ours is one class under every name.
ITERATOR_ALIASES = [
    "_MultiplePackedMessageReader",
    "_MultipleBytesMessageReader",
    "_MultipleBytesPackedMessageReader",
    "_MultipleBytesPackedAnyMessageReader",
]


def test_iterator_aliases():
    for name in ITERATOR_ALIASES:
        assert getattr(lib, name) is lib._MultipleMessageReader


@pytest.mark.parametrize("name", [n for n in CLASSES if n not in ITERATOR_ALIASES])
def test_classes_live_in_lib_capnp(name):
    cls = getattr(lib, name)
    assert isinstance(cls, type)
    assert cls.__name__ == name
    assert cls.__module__ == "capnp.lib.capnp"


@pytest.mark.parametrize(
    "cls, member", [(cls, m) for cls, members in MEMBERS.items() for m in members]
)
def test_members(cls, member):
    assert hasattr(getattr(lib, cls), member), "%s.%s" % (cls, member)


def test_importer_is_the_installed_finder():
    capnp.remove_import_hook()
    assert lib._importer is None
    capnp.add_import_hook()
    assert isinstance(lib._importer, lib._Importer)


def test_message_class_hierarchy():
    assert issubclass(lib._MallocMessageBuilder, lib._MessageBuilder)
    assert issubclass(lib._PyCustomMessageBuilder, lib._MessageBuilder)
    for reader in ("_StreamFdMessageReader", "_PackedFdMessageReader", "_PackedMessageReaderBytes"):
        assert issubclass(getattr(lib, reader), lib._MessageReader)
