# Typed stub of capnp/stream.capnp written by `capnp-rs stubs` (or `python -m capnp stubs`): do not edit.
"""The result type of streaming methods (`-> stream`)."""
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

class _StreamResult_Reader(_DynamicStructReader):
    def as_builder(self, num_first_segment_words: builtins.int | None = None, allocate_seg_callable: _Callable[[builtins.int], _Any] | None = None) -> _StreamResult_Builder: ...

class _StreamResult_Builder(_DynamicStructBuilder):
    def as_reader(self) -> _StreamResult_Reader: ...

# The module's declarations, as the loaded module has them.

class StreamResult:
    Reader: _TypeAlias = _StreamResult_Reader
    Builder: _TypeAlias = _StreamResult_Builder
    schema: _ClassVar[_StructSchema]
    @staticmethod
    def new_message(num_first_segment_words: builtins.int | None = None, allocate_seg_callable: _Callable[[builtins.int], _Any] | None = None) -> _StreamResult_Builder: ...
    @_overload
    @staticmethod
    def from_bytes(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None, builder: _Literal[False] = False) -> _StreamResult_Reader: ...
    @_overload
    @staticmethod
    def from_bytes(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None, *, builder: _Literal[True]) -> _StreamResult_Builder: ...
    @staticmethod
    def from_bytes_packed(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _StreamResult_Reader: ...
    @staticmethod
    def from_segments(segments: _Sequence[_Buffer], traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _StreamResult_Reader: ...
    @staticmethod
    def read(file: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _StreamResult_Reader: ...
    @staticmethod
    def read_packed(file: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _StreamResult_Reader: ...
    @staticmethod
    def read_multiple(file: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None, skip_copy: builtins.bool = False) -> _Iterator[_StreamResult_Reader]: ...
    @staticmethod
    def read_multiple_packed(file: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None, skip_copy: builtins.bool = False) -> _Iterator[_StreamResult_Reader]: ...
    @staticmethod
    def read_multiple_bytes(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Iterator[_StreamResult_Reader]: ...
    @staticmethod
    def read_multiple_bytes_packed(buf: _Buffer, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _Iterator[_StreamResult_Reader]: ...
    @staticmethod
    async def read_async(stream: _Any, traversal_limit_in_words: builtins.int | None = None, nesting_limit: builtins.int | None = None) -> _StreamResult_Reader | None: ...
    @staticmethod
    def from_json(text: builtins.str | _Buffer, reject_unknown_fields: builtins.bool = False) -> _StreamResult_Builder: ...
    @staticmethod
    def from_text(text: builtins.str) -> _StreamResult_Builder: ...
schema: _ParsedSchema
