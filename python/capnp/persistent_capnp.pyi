# Typed stub of capnp/persistent.capnp written by `capnp-rs stubs` (or `python -m capnp stubs`): do not edit.
"""Capabilities that can be saved as sturdy references and restored later."""
import builtins
from collections.abc import Awaitable as _Awaitable, Callable as _Callable, Iterator as _Iterator, Mapping as _Mapping, Sequence as _Sequence
from typing import Any as _Any, ClassVar as _ClassVar, Generic as _Generic, Literal as _Literal, TypeVar as _TypeVar, overload as _overload
from typing_extensions import Buffer as _Buffer, TypeAlias as _TypeAlias

from capnp.lib.capnp import (
    _CallContext,
    _DynamicCapabilityClient,
    _DynamicCapabilityServer,
    _DynamicListBuilder,
    _DynamicListReader,
    _DynamicObjectBuilder,
    _DynamicObjectReader,
    _DynamicStructBuilder,
    _DynamicStructReader,
    _EnumSchema,
    _InterfaceModule,
    _InterfaceSchema,
    _ParsedSchema,
    _RemotePromise,
    _Request,
    _StructSchema,
)

class _Persistent_save_Promise(_RemotePromise[_Persistent_SaveResults_Reader]):
    ...

class _Persistent_save_Request(_Persistent_SaveParams_Builder, _Request):
    def send(self) -> _Persistent_save_Promise: ...

class _Persistent_Client(_DynamicCapabilityClient):
    def save(self, sealFor: _Any = ...) -> _Persistent_save_Promise: ...
    def save_request(self) -> _Persistent_save_Request: ...

class _Persistent_Server(_DynamicCapabilityServer):
    def save(self, *, sealFor: _Any, _context: _CallContext, **kwargs: _Any) -> _Persistent_save_Return | _Awaitable[_Persistent_save_Return]: ...

_Persistent_save_Return: _TypeAlias = _Any | _Persistent_SaveResults_Builder | _Persistent_SaveResults_Reader | None
class _Persistent_SaveParams_Reader(_DynamicStructReader):
    @property
    def sealFor(self) -> _Any: ...
    def as_builder(self, num_first_segment_words: builtins.int | None = None, allocate_seg_callable: _Callable[[builtins.int], _Any] | None = None) -> _Persistent_SaveParams_Builder: ...

class _Persistent_SaveParams_Builder(_DynamicStructBuilder):
    sealFor: _Any
    def as_reader(self) -> _Persistent_SaveParams_Reader: ...

class _Persistent_SaveResults_Reader(_DynamicStructReader):
    @property
    def sturdyRef(self) -> _Any: ...
    def as_builder(self, num_first_segment_words: builtins.int | None = None, allocate_seg_callable: _Callable[[builtins.int], _Any] | None = None) -> _Persistent_SaveResults_Builder: ...

class _Persistent_SaveResults_Builder(_DynamicStructBuilder):
    sturdyRef: _Any
    def as_reader(self) -> _Persistent_SaveResults_Reader: ...

# The module's declarations, as the loaded module has them.

class Persistent(_InterfaceModule[_Persistent_Client]):
    Client: _TypeAlias = _Persistent_Client
    Server: _TypeAlias = _Persistent_Server
    class SaveParams:
        Reader: _TypeAlias = _Persistent_SaveParams_Reader
        Builder: _TypeAlias = _Persistent_SaveParams_Builder
        schema: _ClassVar[_StructSchema]
        @staticmethod
        def new_message(num_first_segment_words: builtins.int | None = None, allocate_seg_callable: _Callable[[builtins.int], _Any] | None = None, *, sealFor: _Any = ...) -> _Persistent_SaveParams_Builder: ...
        @_overload
        @staticmethod
        def from_bytes(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None, builder: _Literal[False] = False) -> _Persistent_SaveParams_Reader: ...
        @_overload
        @staticmethod
        def from_bytes(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None, *, builder: _Literal[True]) -> _Persistent_SaveParams_Builder: ...
        @staticmethod
        def from_bytes_packed(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Persistent_SaveParams_Reader: ...
        @staticmethod
        def from_segments(segments: _Sequence[_Buffer], traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Persistent_SaveParams_Reader: ...
        @staticmethod
        def read(file: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Persistent_SaveParams_Reader: ...
        @staticmethod
        def read_packed(file: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Persistent_SaveParams_Reader: ...
        @staticmethod
        def read_multiple(file: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None, skip_copy: builtins.bool = False) -> _Iterator[_Persistent_SaveParams_Reader]: ...
        @staticmethod
        def read_multiple_packed(file: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None, skip_copy: builtins.bool = False) -> _Iterator[_Persistent_SaveParams_Reader]: ...
        @staticmethod
        def read_multiple_bytes(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Iterator[_Persistent_SaveParams_Reader]: ...
        @staticmethod
        def read_multiple_bytes_packed(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Iterator[_Persistent_SaveParams_Reader]: ...
        @staticmethod
        async def read_async(stream: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Persistent_SaveParams_Reader | None: ...
        @staticmethod
        def from_json(text: builtins.str | _Buffer, reject_unknown_fields: builtins.bool = False) -> _Persistent_SaveParams_Builder: ...
        @staticmethod
        def from_text(text: builtins.str) -> _Persistent_SaveParams_Builder: ...
    class SaveResults:
        Reader: _TypeAlias = _Persistent_SaveResults_Reader
        Builder: _TypeAlias = _Persistent_SaveResults_Builder
        schema: _ClassVar[_StructSchema]
        @staticmethod
        def new_message(num_first_segment_words: builtins.int | None = None, allocate_seg_callable: _Callable[[builtins.int], _Any] | None = None, *, sturdyRef: _Any = ...) -> _Persistent_SaveResults_Builder: ...
        @_overload
        @staticmethod
        def from_bytes(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None, builder: _Literal[False] = False) -> _Persistent_SaveResults_Reader: ...
        @_overload
        @staticmethod
        def from_bytes(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None, *, builder: _Literal[True]) -> _Persistent_SaveResults_Builder: ...
        @staticmethod
        def from_bytes_packed(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Persistent_SaveResults_Reader: ...
        @staticmethod
        def from_segments(segments: _Sequence[_Buffer], traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Persistent_SaveResults_Reader: ...
        @staticmethod
        def read(file: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Persistent_SaveResults_Reader: ...
        @staticmethod
        def read_packed(file: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Persistent_SaveResults_Reader: ...
        @staticmethod
        def read_multiple(file: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None, skip_copy: builtins.bool = False) -> _Iterator[_Persistent_SaveResults_Reader]: ...
        @staticmethod
        def read_multiple_packed(file: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None, skip_copy: builtins.bool = False) -> _Iterator[_Persistent_SaveResults_Reader]: ...
        @staticmethod
        def read_multiple_bytes(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Iterator[_Persistent_SaveResults_Reader]: ...
        @staticmethod
        def read_multiple_bytes_packed(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Iterator[_Persistent_SaveResults_Reader]: ...
        @staticmethod
        async def read_async(stream: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Persistent_SaveResults_Reader | None: ...
        @staticmethod
        def from_json(text: builtins.str | _Buffer, reject_unknown_fields: builtins.bool = False) -> _Persistent_SaveResults_Builder: ...
        @staticmethod
        def from_text(text: builtins.str) -> _Persistent_SaveResults_Builder: ...
schema: _ParsedSchema
