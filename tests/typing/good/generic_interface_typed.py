"""A generic interface: a ``Store(Text)`` capability is a ``Store.Client[str]`` and a server
of it a ``Store.Server[str]``. Values of the parameter's type travel as AnyPointers, as the
package reads them; ``cast_as`` cannot know the binding, so the variable says it."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import capnp
from generic_capnp import Shelf, Store


class TextStore(Store.Server[str]):
    def __init__(self) -> None:
        self.values: list[str] = []

    def put(self, *, value: capnp._DynamicObjectReader, **kwargs: Any) -> int:
        self.values.append(value.as_text())
        return len(self.values)


def text_store_of(shelf: Shelf.Reader) -> Store.Client[str]:
    return shelf.textStore


async def fill(store: Store.Client[str], words: list[str]) -> int:
    count = 0
    for word in words:
        count = (await store.put(word)).count
    return count


async def main() -> None:
    client_end, server_end = socket.socketpair()
    async with capnp.kj_loop():
        server_stream = await capnp.AsyncIoStream.create_connection(sock=server_end)
        impl = TextStore()
        server = capnp.TwoPartyServer(server_stream, bootstrap=impl)
        client_stream = await capnp.AsyncIoStream.create_connection(sock=client_end)
        client = capnp.TwoPartyClient(client_stream)
        store: Store.Client[str] = client.bootstrap().cast_as(Store)
        count = await fill(store, ["a", "b", "c"])
        assert count == 3 and impl.values == ["a", "b", "c"], (count, impl.values)
        print(count, impl.values)
        server.close()


if __name__ == "__main__":
    asyncio.run(main())
