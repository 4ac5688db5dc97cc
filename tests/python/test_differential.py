"""Schema-loading scripts print the same under pycapnp 2.2.4 and under this package."""

import pytest

from differential import assert_same_output, oracle_and_ours

# Prints what a program can see of a loaded schema without building messages.
DESCRIBE = """
import capnp

def show(name, obj, depth=0):
    pad = "  " * depth
    kind = type(obj).__name__
    if kind == "_StructModule":
        s = obj.schema
        print(pad, name, "struct", repr(s), s.node.id, s.node.displayName, s.fieldnames,
              s.union_fields, s.non_union_fields)
    elif kind == "_EnumModule":
        print(pad, name, "enum", obj.schema.node.id, obj.schema.enumerants)
    elif kind == "_InterfaceModule":
        print(pad, name, "interface", obj.schema.node.id, obj.schema.node.displayName)
    elif isinstance(obj, type) and obj.__name__ == "StructModuleWhich":
        print(pad, name, "which", [(m.name, m.value) for m in obj])
        return
    else:
        # Readers are shown by content (their text format is another matter).
        shown = list(obj) if kind == "_DynamicListReader" else obj
        print(pad, name, "value", type(obj).__name__, shown)
        return
    for attr in sorted(vars(obj)):
        # Reader, Builder (messages) and Server (RPC) are not there yet.
        if attr[:1].isalpha() and attr not in ("schema", "Reader", "Builder", "Server"):
            show(attr, getattr(obj, attr), depth + 1)

m = capnp.load(FILE, *ARGS)
print(m.__name__, m.schema.node.displayName, m.schema.node.id)
for attr in sorted(vars(m)):
    if not attr.startswith("_") and attr != "schema" and attr not in SKIP:
        show(attr, getattr(m, attr))
"""


def describe(file, args="", skip=()):
    return (
        DESCRIBE.replace("FILE", repr(file))
        .replace("*ARGS", args)
        .replace("SKIP", repr(tuple(skip)))
    )


def test_contacts_module_tree(schemas):
    assert_same_output(describe("contacts.capnp"), schemas)


def test_display_name_argument(schemas):
    assert_same_output(describe("contacts.capnp", '"renamed"'), schemas)


def test_imports_argument(schemas):
    assert_same_output(describe("importer.capnp", 'imports=["include"]'), schemas)


def test_nested_file_via_subdirectory(schemas):
    assert_same_output(describe("sub/helper.capnp"), schemas)


def test_enum_and_which_comparisons(schemas):
    assert_same_output(
        """
        import capnp
        m = capnp.load("contacts.capnp")
        print(m.favourite, repr(m.favourite), m.favourite == "landline", m.favourite == 1)
        print(m.Contact.Status.retired == "retired", m.Contact.Status.retired == 1)
        print(m.Shape.Union.Circle == "Circle", m.Shape.Union.Circle == "circle")
        print(hasattr(m.Mixed, "Union"), hasattr(m.Contact, "Union"))
        print(m.Contact.Phone.Kind.fax, m.Colour.darkOliveGreen)
        print(repr(m.pi), repr(m.e), m.big, m.negative, m.blob, m.nothing, m.flag)
        print(m.Counter.step, m.Contact.Phone.Kind.schema.enumerants)
        """,
        schemas,
    )


def test_import_hook(schemas):
    assert_same_output(
        """
        import sys, capnp
        sys.path.insert(0, "include")
        sys.path.insert(0, ".")
        import contacts_capnp, importer_capnp
        print(contacts_capnp.__name__, contacts_capnp.Contact.schema.node.displayName)
        print(importer_capnp.Card.schema.node.displayName, importer_capnp.Card.schema.node.id)
        """,
        schemas,
    )


def test_standard_imports_through_the_import_path(schemas):
    # pycapnp finds /capnp/*.capnp through sys.path (its site-packages); we bundle them.
    assert_same_output(
        """
        import sys, capnp
        m = capnp.load("uses-std.capnp", imports=sys.path)
        print(m.Holder.schema.node.displayName, m.Holder.schema.fieldnames)
        """,
        schemas,
    )


def test_oracle_failure_is_reported(schemas):
    """The harness itself: a script failing under either implementation fails the test."""
    with pytest.raises(AssertionError, match="failed"):
        oracle_and_ours("raise SystemExit(3)", schemas)
