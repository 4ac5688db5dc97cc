"""Nested declarations, enums, groups, unions and constants as module attributes (API 2.6)."""

import enum

import pytest

import capnp
from capnp.lib.capnp import _EnumModule, _InterfaceModule, _StructModule, _StructModuleWhich


@pytest.fixture
def contacts(schemas):
    return capnp.load(str(schemas / "contacts.capnp"))


def test_nested_module_kinds(contacts):
    assert isinstance(contacts.Contact, _StructModule)
    assert isinstance(contacts.Contact.Phone, _StructModule)
    assert isinstance(contacts.Contact.Phone.Kind, _EnumModule)
    assert isinstance(contacts.Counter, _InterfaceModule)
    assert contacts.Contact.Phone.schema.node.displayName == "contacts.capnp:Contact.Phone"
    assert contacts.Contact._nodeSchema.node.id == contacts.Contact.schema.node.id
    assert contacts.Counter.step == 7


def test_annotations_and_groups_are_not_nested_attributes(contacts):
    assert not hasattr(contacts, "note")
    assert not hasattr(contacts.Shape.Square, "_nodeSchema")


def test_enum_module(contacts):
    kind = contacts.Contact.Phone.Kind
    assert (kind.cell, kind.landline, kind.fax) == (0, 1, 2)
    assert contacts.Colour.darkOliveGreen == 3
    assert kind.schema.enumerants == {"cell": 0, "landline": 1, "fax": 2}


def test_group_with_union_is_a_which_enum(contacts):
    status = contacts.Contact.Status
    assert issubclass(status, _StructModuleWhich) and issubclass(status, enum.Enum)
    assert [m.name for m in status] == ["active", "retired", "employer"]
    assert status.retired == 1 and status.retired == "retired"
    assert status.retired != "Retired" and status.retired != 0
    assert repr(status.schema) == "<schema for contacts.capnp:Contact.status>"
    with pytest.raises(TypeError):
        hash(status.active)


def test_group_without_union_is_a_struct_module(contacts):
    square = contacts.Shape.Square
    assert isinstance(square, _StructModule)
    assert square.schema.fieldnames == ("side",)
    assert contacts.Mixed.Info.schema.fieldnames == ("x", "y")


def test_union_attribute_only_when_every_field_is_in_the_union(contacts):
    union = contacts.Shape.Union
    assert union.Circle == 0 and union.Square == 1
    assert union.Circle == "Circle" and union.Circle != "circle"
    assert not hasattr(contacts.Mixed, "Union")
    assert not hasattr(contacts.Contact, "Union")


def test_constants(contacts):
    assert contacts.answer == 42 and type(contacts.answer) is int
    assert contacts.pi == pytest.approx(3.14) and contacts.pi != 3.14  # a Float32, widened
    assert contacts.e == 2.718281828
    assert contacts.greeting == "hello"
    assert contacts.blob == b"ab\x00c"
    assert contacts.big == 2**64 - 1
    assert contacts.negative == -(2**63)
    assert contacts.flag is True
    assert contacts.nothing is None
    assert contacts.alsoAnswer == 42


def test_enum_constant(contacts):
    fav = contacts.favourite
    assert fav == 1 and fav == "landline" and fav != "cell"
    assert str(fav) == "landline"
    assert repr(fav) == "<landline enum>"


def test_list_constant(contacts):
    assert isinstance(contacts.numbers, capnp.lib.capnp._DynamicListReader)
    assert list(contacts.numbers) == [1, 2, 3]
