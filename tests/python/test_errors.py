"""Errors of schema loading and the KjException class (API 2.1, 2.4, 6.1)."""

import pytest

import capnp
from capnp.lib.capnp import KjException


def test_missing_file_is_oserror(tmp_path):
    path = str(tmp_path / "missing.capnp")
    with pytest.raises(OSError, match="File not found: " + path):
        capnp.load(path)


def test_missing_file_is_checked_before_the_suffix(tmp_path):
    with pytest.raises(OSError, match="File not found"):
        capnp.load(str(tmp_path / "missing.txt"))


def test_wrong_suffix_is_valueerror(tmp_path):
    path = tmp_path / "schema.txt"
    path.write_text("@0xd1f4a7c2b3e59a09;\n")
    with pytest.raises(ValueError, match="File does not end with .capnp, "):
        capnp.load(str(path))


def test_parse_error_names_file_line_and_column(tmp_path):
    path = tmp_path / "broken.capnp"
    path.write_text("@0xd1f4a7c2b3e59a0a;\nstruct A { x @0 Int32; }\n")
    with pytest.raises(KjException) as info:
        capnp.load(str(path))
    e = info.value
    assert str(e) == "broken.capnp:2:22: failed: Parse error."
    assert e.message == str(e)
    assert e.type == "FAILED" == KjException.Type.FAILED
    assert e.description == "Parse error."
    assert e.file == "broken.capnp" and e.line == 2
    assert e._to_python() is e


def test_semantic_error_uses_the_display_name(tmp_path):
    path = tmp_path / "broken.capnp"
    path.write_text("@0xd1f4a7c2b3e59a0b;\nstruct A { x @0 :Nope; }\n")
    with pytest.raises(KjException) as info:
        capnp.load(str(path), "shown_capnp")
    assert str(info.value).startswith("shown_capnp:2:18")
    assert "Not defined: Nope" in info.value.description


def test_missing_import(tmp_path):
    path = tmp_path / "importing.capnp"
    path.write_text('@0xd1f4a7c2b3e59a0c;\nusing X = import "nosuch.capnp";\n')
    with pytest.raises(KjException, match="Import failed: nosuch.capnp"):
        capnp.load(str(path))


def test_missing_file_id_suggests_one(tmp_path):
    path = tmp_path / "noid.capnp"
    path.write_text("struct A {}\n")
    with pytest.raises(KjException) as info:
        capnp.load(str(path))
    assert "File does not declare an ID" in str(info.value)
    assert "Add this line to your file: @0x" in str(info.value)


def test_user_constructed_kjexception():
    e = KjException("boom", type="DISCONNECTED")
    assert isinstance(e, Exception)
    assert str(e) == "boom" and e.message == "boom" and e.description == "boom"
    assert e.type == "DISCONNECTED"
    assert e.args == ("boom",)
    assert e.file is None and e.line is None
    assert KjException().type is None
    with pytest.raises(KjException, match="boom"):
        raise e


def test_to_python_turns_has_no_such_into_attributeerror():
    e = KjException("x: failed: struct has no such member; name = foo", type="FAILED")
    converted = e._to_python()
    assert isinstance(converted, AttributeError)
    assert "has no such member" in str(converted)
    assert KjException("has no such").__class__ is KjException
    assert KjException("has no such")._to_python().__class__ is KjException


def test_type_constants():
    assert KjException.Type.DISCONNECTED == "DISCONNECTED"
    assert KjException.Type.reverse_mapping["OTHER"] == "OTHER"
    assert capnp.lib.capnp._Type.reverse_mapping[2] == "DISCONNECTED"


def test_kjexception_is_the_same_class_everywhere():
    assert capnp.KjException is capnp.lib.capnp.KjException
    assert KjException.__module__ == "capnp.lib.capnp"
    assert KjException.__name__ == "KjException"


def test_subclassable():
    class Mine(KjException):
        pass

    assert isinstance(Mine("m"), KjException)
