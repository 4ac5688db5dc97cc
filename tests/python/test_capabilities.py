"""Capability (interface) fields without RPC: reads raise a clear KjException, never crash
(pycapnp raises the same for fields and aborts the process for capability list elements)."""

import pytest

import capnp

SCHEMA = """
@0xd1f4a7c2b3e59a77;
interface Counter { add @0 (n :Int64) -> (t :Int64); }
struct Holder { id @0 :UInt8; cap @1 :Counter; caps @2 :List(Counter); any @3 :AnyPointer; }
"""

CONTEXT = "capability context"


@pytest.fixture
def holder(tmp_path):
    path = tmp_path / "caps.capnp"
    path.write_text(SCHEMA)
    return capnp.load(str(path))


def test_reading_a_capability_field_raises(holder):
    m = holder.Holder.new_message(id=1)
    for obj in (m, m.as_reader(), holder.Holder.from_bytes(m.to_bytes())):
        with pytest.raises(capnp.KjException, match=CONTEXT):
            obj.cap
        with pytest.raises(capnp.KjException, match=CONTEXT):
            obj._get("cap")
        assert obj._has("cap") is False
        assert obj.id == 1


def test_capability_list_elements_raise(holder):
    m = holder.Holder.new_message()
    caps = m.init("caps", 2)
    assert len(caps) == 2
    with pytest.raises(capnp.KjException, match=CONTEXT):
        caps[0]
    assert repr(m).endswith("(id = 0, caps = [<external capability>, <external capability>])>")
    assert m.to_dict() == {"id": 0, "caps": [None, None]}


def test_any_pointer_as_interface_raises(holder):
    m = holder.Holder.new_message()
    with pytest.raises(capnp.KjException, match=CONTEXT):
        m.any.as_interface(holder.Counter)
    with pytest.raises(capnp.KjException, match=CONTEXT):
        m.as_reader().any.as_interface(holder.Counter)


def test_writing_a_capability_field_is_a_type_error(holder):
    m = holder.Holder.new_message()
    for value in (5, None, "x"):
        with pytest.raises(capnp.KjException, match="Value type mismatch"):
            m.cap = value
    with pytest.raises(capnp.KjException, match="only valid for struct and object fields"):
        m.init("cap")
