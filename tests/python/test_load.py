"""capnp.load and SchemaParser: the module object, display names, imports, file identity."""

import os
import types

import pytest

import capnp


def test_load_returns_module_with_file_attributes(schemas):
    m = capnp.load(str(schemas / "contacts.capnp"))
    assert isinstance(m, types.ModuleType)
    assert m.__name__ == "contacts.capnp"
    assert m.__file__ == str(schemas / "contacts.capnp")
    assert m.__path__ == [str(schemas)]
    assert m.schema.node.displayName == "contacts.capnp"
    assert m.schema.node.id == 0xD1F4A7C2B3E59A01
    assert m._nodeSchema is m.schema
    assert m._nodeProto.id == 0xD1F4A7C2B3E59A01
    assert m._parser is capnp.lib.capnp._global_schema_parser


def test_relative_path_and_pathlike(schemas):
    os.chdir(schemas)
    m = capnp.load("contacts.capnp")
    assert m.__file__ == str(schemas / "contacts.capnp")
    m2 = capnp.load(schemas / "contacts.capnp")
    assert m2.Contact.schema == m.Contact.schema


def test_display_name_names_nodes(schemas):
    m = capnp.load(str(schemas / "contacts.capnp"), "my/contacts")
    assert m.__name__ == "my/contacts"
    assert m.Contact.schema.node.displayName == "my/contacts:Contact"
    assert repr(m.Contact.schema) == "<schema for my/contacts:Contact>"


def test_imports_relative_absolute_and_bundled(schemas):
    m = capnp.load(str(schemas / "importer.capnp"), imports=[str(schemas / "include"), "/no/such/dir"])
    assert m.Card.schema.fieldnames == ("who", "shared", "helper")
    m = capnp.load(str(schemas / "uses-std.capnp"))
    assert m.Holder.schema.fieldnames == ("node",)


def test_absolute_import_needs_the_import_path(schemas):
    with pytest.raises(capnp.KjException) as info:
        capnp.load(str(schemas / "importer.capnp"))
    assert "Import failed: /lib/shared.capnp" in str(info.value)
    assert "importer.capnp:" in str(info.value)


def test_two_loads_give_two_modules_with_the_same_schemas(schemas):
    a = capnp.load(str(schemas / "contacts.capnp"))
    b = capnp.load(str(schemas / "contacts.capnp"), "other")
    assert a is not b
    assert b.__name__ == "other"
    assert a.Contact.schema == b.Contact.schema
    # The nodes keep the display name under which the file was first parsed.
    assert b.Contact.schema.node.displayName == "contacts.capnp:Contact"


def test_one_file_reached_by_two_paths_is_one_file(schemas):
    link = schemas / "link"
    link.symlink_to(schemas, target_is_directory=True)
    a = capnp.load(str(schemas / "contacts.capnp"))
    b = capnp.load(str(link / "contacts.capnp"))
    assert a.Contact.schema == b.Contact.schema


def test_duplicate_file_id_in_one_parser(schemas):
    copy = schemas / "copy.capnp"
    copy.write_bytes((schemas / "contacts.capnp").read_bytes())
    capnp.load(str(schemas / "contacts.capnp"))
    with pytest.raises(capnp.KjException) as info:
        capnp.load(str(copy))
    assert "Duplicate ID @0xd1f4a7c2b3e59a01" in str(info.value)


def test_schema_parsers_are_independent(schemas):
    p1, p2 = capnp.SchemaParser(), capnp.SchemaParser()
    a = p1.load(str(schemas / "contacts.capnp"))
    b = p2.load(str(schemas / "contacts.capnp"))
    assert a.Contact.schema != b.Contact.schema
    assert a._parser is p1


def test_modules_by_id(schemas):
    parser = capnp.SchemaParser()
    m = parser.load(str(schemas / "contacts.capnp"))
    by_id = parser.modules_by_id
    assert by_id[m.schema.node.id] is m
    assert by_id[m.Contact.schema.node.id] is m.Contact
    assert by_id[m.Contact.Phone.Kind.schema.node.id] is m.Contact.Phone.Kind
    assert by_id[m.Counter.schema.node.id] is m.Counter
    # Groups are not nested declarations.
    assert m.Shape.Square.schema.node.id not in by_id


def test_cleanup_global_schema_parser(schemas):
    m = capnp.load(str(schemas / "contacts.capnp"))
    first = capnp.lib.capnp._global_schema_parser
    assert capnp.cleanup_global_schema_parser() is None
    assert capnp.lib.capnp._global_schema_parser is None
    m2 = capnp.load(str(schemas / "contacts.capnp"))
    assert m2._parser is not first
    assert m.Contact.schema.fieldnames == m2.Contact.schema.fieldnames


def test_failed_load_leaves_parser_usable(schemas):
    bad = schemas / "fixme.capnp"
    bad.write_text("@0xb6fa02d5c4e7df06;\nstruct A { x @0 :Nope; }\n")
    parser = capnp.SchemaParser()
    with pytest.raises(capnp.KjException):
        parser.load(str(bad))
    bad.write_text("@0xb6fa02d5c4e7df06;\nstruct A { x @0 :Int32; }\n")
    assert parser.load(str(bad)).A.schema.fieldnames == ("x",)


def test_schema_introspection(schemas):
    m = capnp.load(str(schemas / "contacts.capnp"))
    s = m.Contact.schema
    assert s.fieldnames == ("id", "name", "avatar", "tags", "phones", "status")
    assert s.union_fields == ()
    assert s.non_union_fields == s.fieldnames
    assert m.Shape.schema.union_fields == ("circle", "square")
    assert m.Mixed.schema.non_union_fields == ("plain", "info")
    assert m.Colour.schema.enumerants == {"red": 0, "green": 1, "blue": 2, "darkOliveGreen": 3}
    assert m.NamedCounter.schema.method_names == ("name",)
    assert m.NamedCounter.schema.method_names_inherited == {"name", "add", "child"}
    assert m.NamedCounter.schema.superclasses[0].method_names == ("add", "child")
    assert m.schema.get_nested("Contact").as_struct() == s
    with pytest.raises(capnp.KjException, match="Tried to use non-struct schema as a struct"):
        m.schema.get_nested("Colour").as_struct()
    assert m.schema.get_nested("answer").as_const_value() == 42
    proto = m.Contact.schema.get_proto()
    assert proto.isStruct and not proto.isEnum
    assert [n.name for n in proto.nestedNodes] == ["Phone"]
    with pytest.raises(TypeError):
        hash(s)


def test_loading_leaves_the_cyclic_gc_as_it_found_it(schemas, tmp_path):
    """Loading pauses the cyclic GC (it made no garbage to find there) and puts it back as it
    was, after a failed load too; a program that disabled the GC keeps it disabled."""
    import gc

    seen = []

    class Watch(capnp.SchemaParser):
        def _load(self, *args):
            seen.append(gc.isenabled())
            return super()._load(*args)

    bad = tmp_path / "bad.capnp"
    bad.write_text("@0xd1f4a7c2b3e59a77;\nstruct S { x @0 :NoSuchType; }\n")
    assert gc.isenabled()
    Watch().load(str(schemas / "contacts.capnp"))
    assert gc.isenabled()
    with pytest.raises(capnp.KjException):
        Watch().load(str(bad))
    assert gc.isenabled()
    gc.disable()
    try:
        Watch().load(str(schemas / "contacts.capnp"))
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert seen == [False, False, False]


CONSTANTS_SCHEMA = """@0xd1f4a7c2b3e59a78;
struct S { x @0 :Int32; inner @1 :S; }
const s :S = (x = 5, inner = (x = 6));
const l :List(Int16) = [1, 2];
const n :Int32 = 7;
"""


def test_a_dropped_parser_is_collected_with_its_modules(tmp_path):
    """A parser is freed with its modules once dropped, also after its struct modules made
    messages and with struct and list constants in them: those native objects (the modules'
    entry points, the constants' readers) are unseen by the cyclic GC, and holding the
    parser's registry, whose schema factory holds the parser, they kept every parser alive."""
    import gc
    import weakref

    path = tmp_path / "consts.capnp"
    path.write_text(CONSTANTS_SCHEMA)
    parsers = []
    for _ in range(3):
        parser = capnp.SchemaParser()
        m = parser.load(str(path))
        assert m.S.from_bytes(m.S.new_message(x=1).to_bytes()).x == 1
        assert (m.s.x, m.s.inner.x, list(m.l), m.n) == (5, 6, [1, 2], 7)
        assert m.s.schema is m.S.schema and m.s.inner.schema is m.S.schema
        parsers.append(weakref.ref(parser))
        del parser, m
    gc.collect()
    assert [p() for p in parsers] == [None, None, None]


def test_a_constant_outlives_its_parser(tmp_path):
    """A constant read after its parser was freed still reads; only its ``schema``, which the
    parser makes, is gone, and says so."""
    import gc

    path = tmp_path / "consts.capnp"
    path.write_text(CONSTANTS_SCHEMA)
    s = capnp.SchemaParser().load(str(path)).s
    gc.collect()
    assert (s.x, s.inner.x) == (5, 6)
    assert s.to_dict() == {"x": 5, "inner": {"x": 6}}
    with pytest.raises(ReferenceError, match="SchemaParser .* no longer exists"):
        s.schema
