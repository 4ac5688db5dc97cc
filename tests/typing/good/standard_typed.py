"""Reads schema nodes through the bundled schema.capnp stubs."""

from __future__ import annotations

import capnp
from capnp import schema_capnp


def node_names(node: schema_capnp.Node.Reader) -> list[str]:
    names = [n.name for n in node.nestedNodes]
    if node.which() == "struct":
        names.extend(f.name for f in node.struct.fields)
    return names


def main() -> None:
    node = schema_capnp.Node.new_message(id=1, displayName="x.capnp:X")
    struct = node.init("struct")
    fields = struct.init("fields", 1)
    fields[0].name = "a"
    print(node_names(node.as_reader()))
    loaded = capnp.load("examples/addressbook.capnp")
    print(loaded.Person.schema.fieldnames)


if __name__ == "__main__":
    main()
