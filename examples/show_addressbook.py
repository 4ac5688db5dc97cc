"""Loads examples/addressbook.capnp and prints its structs' fields and its enums' values."""

import os

import capnp

HERE = os.path.dirname(os.path.abspath(__file__))


def show(module, depth=0):
    pad = "  " * depth
    for name in sorted(vars(module)):
        obj = getattr(module, name)
        if isinstance(obj, capnp._StructModule) and name[:1].isupper():
            print("%sstruct %s @0x%016x: %s" % (pad, obj.schema.node.displayName, obj.schema.node.id,
                                                ", ".join(obj.schema.fieldnames)))
            show(obj, depth + 1)
        elif isinstance(obj, capnp._EnumModule):
            print("%senum %s: %s" % (pad, obj.schema.node.displayName, obj.schema.enumerants))


addressbook = capnp.load(os.path.join(HERE, "addressbook.capnp"))
show(addressbook)
