"""Schema introspection (API.md section 4): node readers, schema classes, constants, stdlib modules."""

import importlib

import pytest

import capnp
from capnp.lib.capnp import (
    KjException,
    _DynamicListReader,
    _DynamicStructReader,
    _EnumSchema,
    _InterfaceSchema,
    _ListSchema,
    _NestedNodeReader,
    _NodeReader,
    _ParsedSchema,
    _SchemaType,
    _StructSchema,
    _StructSchemaField,
)


@pytest.fixture
def contacts(schemas):
    return capnp.load(str(schemas / "contacts.capnp"))


@pytest.fixture
def intro(schemas):
    return capnp.load(str(schemas / "introspect.capnp"))


# --- node readers ----------------------------------------------------------------------------


def test_node_is_a_schema_capnp_node_reader(contacts):
    node = contacts.Contact.schema.node
    assert isinstance(node, _DynamicStructReader)
    assert repr(node).startswith("<schema.capnp:Node reader")
    assert repr(node.schema) == "<schema for schema.capnp:Node>"
    assert node.id == 17500891180465646248
    assert node.displayName == "contacts.capnp:Contact"
    assert node.displayNamePrefixLength == len("contacts.capnp:")
    assert node.scopeId == contacts.schema.node.id
    assert node.which == "struct" and node.which() == "struct"
    assert [n.name for n in node.nestedNodes] == ["Phone"]
    assert node.struct.dataWordCount == 1 and node.struct.pointerCount == 5
    assert [f.name for f in node.struct.fields] == list(contacts.Contact.schema.fieldnames)
    assert node.struct.fields[3].slot.type.list.elementType.which() == "text"
    assert node.isGeneric is False


def test_node_has_the_fields_pycapnp_knows(contacts):
    node = contacts.Contact.schema.node
    # pycapnp's compiled-in Node predates startByte/endByte.
    assert set(node.to_dict()) == {
        "id", "displayName", "displayNamePrefixLength", "scopeId", "nestedNodes", "struct",
        "isGeneric",
    }
    with pytest.raises(AttributeError, match="has no such member"):
        node.startByte


def test_node_of_every_kind(contacts):
    assert contacts.schema.node.which() == "file"
    assert contacts.Colour.schema.node.which() == "enum"
    assert [e.name for e in contacts.Colour.schema.node.enum.enumerants][-1] == "darkOliveGreen"
    counter = contacts.Counter.schema.node
    assert counter.which() == "interface"
    assert [m.name for m in counter.interface.methods] == ["add", "child"]
    step = contacts.schema.get_nested("Counter").get_nested("step").node
    assert step.which() == "const" and step.const.value.int32 == 7
    note = contacts.schema.get_nested("note").node
    assert note.which() == "annotation" and note.annotation.targetsField is True


def test_annotation_values_through_the_node(intro):
    node = intro.Tagged.schema.node
    label_id = intro.schema.get_nested("label").node.id
    assert [a.id for a in node.annotations][0] == label_id
    assert node.annotations[0].value.text == "tagged"
    assert node.annotations[1].value.which() == "struct"
    name = intro.Tagged.schema.fields["name"].proto
    assert name.annotations[0].value.text == "the name"
    assert name.annotations[1].value.which() == "list"
    assert intro.schema.node.annotations[0].value.text == "the file"


def test_generic_node_parameters_and_brands(intro):
    box = intro.Box.schema.node
    assert box.isGeneric is True and [p.name for p in box.parameters] == ["T"]
    brand = intro.UsesBox.schema.node.struct.fields[0].slot.type.struct.brand
    assert brand.scopes[0].scopeId == box.id
    assert brand.scopes[0].bind[0].type.which() == "text"


def test_node_is_cached_and_get_proto(contacts):
    schema = contacts.Contact.schema
    assert schema.node is schema.node
    proto = schema.get_proto()
    assert isinstance(proto, _NodeReader)
    assert (proto.displayName, proto.id, proto.scopeId) == (
        "contacts.capnp:Contact", schema.node.id, contacts.schema.node.id)
    assert (proto.isStruct, proto.isEnum, proto.isInterface, proto.isConst) == (
        True, False, False, False)
    assert len(proto.nestedNodes) == 1
    assert isinstance(proto.nestedNodes[0], _NestedNodeReader)
    assert proto.nestedNodes[0].name == "Phone"
    assert proto.node.id == schema.node.id
    assert contacts.Colour._nodeProto.isEnum and contacts.Counter._nodeProto.isInterface
    assert contacts.schema.get_nested("answer").get_proto().isConst


# --- schema classes --------------------------------------------------------------------------


def test_struct_schema_fields(contacts):
    schema = contacts.Contact.schema
    fields = schema.fields
    assert list(fields) == list(schema.fieldnames)
    assert all(isinstance(f, _StructSchemaField) for f in fields.values())
    assert [repr(f) for f in schema.fields_list][:2] == [
        "<field schema for id>", "<field schema for name>"]
    proto = fields["status"].proto
    assert isinstance(proto, _DynamicStructReader)
    assert proto.name == "status" and proto.which() == "group"
    assert fields["id"].proto.discriminantValue == 65535
    assert fields["id"].proto.slot.type.which == "uint32"
    assert contacts.Shape.schema.union_fields == ("circle", "square")
    assert contacts.Mixed.schema.non_union_fields == ("plain", "info")


def test_field_schemas(contacts, intro):
    fields = contacts.Contact.schema.fields
    assert fields["status"].schema == contacts.Contact.schema.fields["status"].schema
    assert repr(fields["status"].schema) == "<schema for contacts.capnp:Contact.status>"
    assert fields["id"].schema is capnp.types.UInt32
    assert fields["name"].schema is capnp.types.Text
    tags = fields["tags"].schema
    assert isinstance(tags, _ListSchema) and tags.elementType is capnp.types.Text
    assert fields["phones"].schema.elementType == contacts.Contact.Phone.schema
    kind = contacts.Contact.Phone.schema.fields["kind"].schema
    assert isinstance(kind, _EnumSchema) and kind.enumerants == {"cell": 0, "landline": 1, "fax": 2}
    child = contacts.Counter.schema.methods["child"].result_type.fields["counter"].schema
    assert isinstance(child, _InterfaceSchema) and repr(child) == "<schema for contacts.capnp:Counter>"
    grid = intro.Tagged.schema.fields["grid"].schema
    assert grid.elementType.elementType is capnp.types.Float32
    assert intro.Box.schema.fields["item"].schema is capnp.types.AnyPointer


def test_list_schema_and_types():
    for name in ("Void", "Bool", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32",
                 "UInt64", "Float32", "Float64", "Text", "Data", "AnyPointer"):
        assert isinstance(getattr(capnp.types, name), _SchemaType)
    assert capnp.types.Int8 is not capnp.types.UInt8
    import capnp.types as types_module
    assert types_module is capnp.types
    assert capnp._ListSchema(capnp.types.UInt16).elementType is capnp.types.UInt16
    nested = capnp._ListSchema(capnp._ListSchema(capnp.types.Int8))
    assert nested.elementType.elementType is capnp.types.Int8
    for bad in (3, None, "Int8"):
        with pytest.raises(KjException, match="Unknown schema type"):
            capnp._ListSchema(bad)


def test_list_schema_of_modules(contacts):
    assert capnp._ListSchema(contacts.Contact).elementType == contacts.Contact.schema
    assert capnp._ListSchema(contacts.Colour).elementType is contacts.Colour.schema
    assert capnp._ListSchema(contacts.Counter.schema).elementType is contacts.Counter.schema


def test_as_conversions(contacts):
    parsed = contacts.Contact._nodeSchema
    assert isinstance(parsed, _ParsedSchema)
    assert parsed.as_struct() == contacts.Contact.schema
    assert isinstance(contacts.Colour._nodeSchema.as_enum(), _EnumSchema)
    assert isinstance(contacts.Counter._nodeSchema.as_interface(), _InterfaceSchema)
    assert contacts.schema.get_nested("answer").as_const_value() == 42
    for call, what in ((parsed.as_enum, "enum"), (parsed.as_interface, "interface"),
                       (contacts.Colour._nodeSchema.as_struct, "struct")):
        with pytest.raises(KjException, match="non-%s schema" % what):
            call()
    with pytest.raises(KjException, match="non-constant schema"):
        parsed.as_const_value()


def test_struct_schema_equality(contacts, schemas):
    a = contacts.Contact.schema
    assert a == contacts.Contact.schema and not (a != contacts.Contact.schema)
    assert a != contacts.Company.schema
    assert (a == contacts.Colour.schema) is False
    other = capnp.SchemaParser().load(str(schemas / "contacts.capnp"))
    assert a != other.Contact.schema
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(NotImplementedError):
        a < contacts.Company.schema


def test_interface_methods(contacts):
    counter = contacts.Counter.schema
    assert counter.method_names == ("add", "child")
    assert list(counter.methods) == ["add", "child"]
    add = counter.methods["add"]
    assert repr(add.param_type) == "<schema for contacts.capnp:Counter.add$Params>"
    assert add.param_type.fieldnames == ("amount", "note")
    assert add.result_type.fieldnames == ("total",)
    named = contacts.NamedCounter.schema
    assert list(named.methods) == ["name"]
    assert set(named.methods_inherited) == {"name", "add", "child"}
    assert named.method_names_inherited == {"name", "add", "child"}
    assert named.superclasses[0] is counter


# --- constants -------------------------------------------------------------------------------


def test_struct_and_list_constants(intro):
    assert isinstance(intro.corner, _DynamicStructReader)
    assert (intro.corner.x, intro.corner.y) == (-5, 9)
    assert intro.corner.schema == intro.Point.schema
    assert intro.origin.to_dict() == {"x": 0, "y": 0}
    assert isinstance(intro.words, _DynamicListReader)
    assert list(intro.words) == ["a", "bc", ""]
    assert [p.to_dict() for p in intro.points] == [{"x": 1, "y": 2}, {"x": 3, "y": 0}]
    assert [list(row) for row in intro.matrix] == [[1, 2], [], [3]]
    assert list(intro.flags) == [True, False, True]
    assert intro.tagged.to_dict() == {"name": "t", "kids": [{"name": "k"}]}
    assert list(intro.copied) == ["a", "bc", ""]
    assert list(intro.schema.get_nested("words").as_const_value()) == ["a", "bc", ""]


def test_constant_readers_are_read_only(intro):
    with pytest.raises(AttributeError):
        intro.corner.x = 1


# --- bundled schema modules ------------------------------------------------------------------


def test_schema_capnp_module():
    import capnp.schema_capnp as schema_capnp

    assert schema_capnp.__name__ == "capnp.schema_capnp"
    assert repr(schema_capnp.Node.schema) == "<schema for capnp.schema_capnp:Node>"
    assert schema_capnp.schema.node.displayName == "capnp.schema_capnp"
    # The module has the full 1.3.0 Node; node readers use pycapnp's.
    assert "startByte" in schema_capnp.Node.schema.fieldnames
    msg = schema_capnp.Node.new_message(id=5, displayName="x")
    assert schema_capnp.Node.from_bytes(msg.to_bytes()).displayName == "x"
    assert schema_capnp.ElementSize.inlineComposite == 7


def test_standard_modules_import():
    import capnp.persistent_capnp
    import capnp.rpc_capnp
    import capnp.rpc_twoparty_capnp
    import capnp.stream_capnp

    assert repr(capnp.rpc_capnp.Message.schema) == "<schema for capnp.rpc_capnp:Message>"
    assert capnp.rpc_twoparty_capnp.Side.client == 1
    assert capnp.stream_capnp.StreamResult.schema.fieldnames == ()
    assert capnp.persistent_capnp.Persistent.schema.method_names == ("save",)
    cpp = importlib.import_module("capnp.c++_capnp")
    assert cpp.schema.node.which() == "file"
