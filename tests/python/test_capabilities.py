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


GENERIC_SCHEMA = """
@0xd1f4a7c2b3e59a78;
interface Store(T) { put @0 (value :T) -> (count :UInt32); }
interface Plain { ping @0 () -> (); }
"""


def test_generic_interface_server_takes_a_subscript(tmp_path):
    """`class Impl(Store.Server[str])`, as the schema stubs type a generic interface's server:
    at run time the subscript is the class itself. Other Server classes take none."""
    path = tmp_path / "generic.capnp"
    path.write_text(GENERIC_SCHEMA)
    mod = capnp.load(str(path))
    assert mod.Store.Server[str] is mod.Store.Server

    class Impl(mod.Store.Server[str]):
        pass

    assert Impl.__mro__[1] is mod.Store.Server
    with pytest.raises(TypeError):
        mod.Plain.Server[str]
