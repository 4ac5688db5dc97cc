# expect mypy: return-value
# expect pyright: reportReturnType
from __future__ import annotations

from generic_capnp import Shelf, Store


def text_store_of(shelf: Shelf.Reader) -> Store.Client[str]:
    return shelf.holderStore  # a Store(Holder), not a Store(Text)
