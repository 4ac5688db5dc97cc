"""Cap'n Proto for Python with a Rust engine, compatible with pycapnp (``import capnp``)."""

import sys as _sys

from capnp import lib
from capnp import version
from capnp._import_hook import add_import_hook, remove_import_hook
from capnp.lib import capnp as _lib_capnp
from capnp.lib.capnp import (
    KjException,
    SchemaLoader,
    SchemaParser,
    _DynamicEnum,
    _DynamicEnumField,
    _DynamicListBuilder,
    _DynamicListReader,
    _DynamicObjectBuilder,
    _DynamicObjectReader,
    _DynamicOrphan,
    _DynamicStructBuilder,
    _DynamicStructReader,
    _EnumModule,
    _InterfaceModule,
    _ListSchema,
    _DynamicResizableListBuilder,
    _MallocMessageBuilder,
    _PackedFdMessageReader,
    _PyCustomMessageBuilder,
    _StreamFdMessageReader,
    _struct_reducer,
    _write_message_to_fd,
    _write_packed_message_to_fd,
    _StructModule,
    _init_capnp_api,
    AsyncIoStream,
    TwoPartyClient,
    TwoPartyServer,
    kj_loop,
    run,
    cleanup_global_schema_parser,
    deregister_all_types,
    load,
    read_multiple_bytes_packed,
    register_type,
    types,
)

__version__ = version.version

__all__ = [
    "AsyncIoStream",
    "TwoPartyClient",
    "TwoPartyServer",
    "kj_loop",
    "run",
    "KjException",
    "SchemaLoader",
    "SchemaParser",
    "_DynamicEnum",
    "_DynamicEnumField",
    "_DynamicListBuilder",
    "_DynamicListReader",
    "_DynamicObjectBuilder",
    "_DynamicObjectReader",
    "_DynamicOrphan",
    "_DynamicStructBuilder",
    "_DynamicStructReader",
    "_EnumModule",
    "_InterfaceModule",
    "_ListSchema",
    "_StructModule",
    "_DynamicResizableListBuilder",
    "_MallocMessageBuilder",
    "_PackedFdMessageReader",
    "_PyCustomMessageBuilder",
    "_StreamFdMessageReader",
    "_struct_reducer",
    "_write_message_to_fd",
    "_write_packed_message_to_fd",
    "_init_capnp_api",
    "add_import_hook",
    "cleanup_global_schema_parser",
    "deregister_all_types",
    "lib",
    "load",
    "read_multiple_bytes_packed",
    "register_type",
    "remove_import_hook",
    "types",
    "version",
]

del _lib_capnp

# `import capnp.types` finds the descriptor module like a submodule.
_sys.modules.setdefault("capnp.types", types)
del _sys

add_import_hook()
