"""A generic struct: the stub classes carry the binding (``Box.Reader[str]``); the field of
the parameter's type is an AnyPointer, as the package reads it."""

from __future__ import annotations

import capnp
from generic_capnp import Box, Holder


def label_of(box: Box.Reader[str]) -> str:
    return box.label


def main() -> None:
    holder = Holder.new_message(count=2)
    holder.textBox.label = "greeting"
    holder.textBox.value.set_as_text("hello")
    reader = holder.as_reader()
    text_box: Box.Reader[str] = reader.textBox
    assert label_of(text_box) == "greeting"
    assert text_box.value.as_text() == "hello"
    inner = holder.holderBox.value.init_as_struct(Holder)
    inner.count = 3
    assert reader.holderBox.value.as_struct(Holder).count == 3
    assert isinstance(reader, capnp._DynamicStructReader)
    print(reader.count, text_box.value.as_text())


if __name__ == "__main__":
    main()
