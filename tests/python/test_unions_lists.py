"""Unions, groups and lists (nested, of structs, of enums) on builders and readers."""

import pytest

import capnp


@pytest.fixture
def c(schemas):
    return capnp.load(str(schemas / "contacts.capnp"))


@pytest.fixture
def a(schemas):
    return capnp.load(str(schemas / "alltypes.capnp"))


def test_named_union(c):
    msg = c.Contact.new_message()
    assert msg.status.which == "active" and msg.status.which() == "active"
    assert msg.status.which == c.Contact.Status.active
    msg.status.retired = "2019"
    w = msg.status.which
    assert w == "retired" and w.raw == 1 and repr(w) == "<retired which-enum>"
    assert msg.status._which_str() == "retired"
    with pytest.raises(TypeError):
        hash(w)
    assert w in ["retired"]
    with pytest.raises(capnp.KjException, match="Tried to get\\(\\) a union member which is not currently initialized"):
        msg.status.active
    msg.status.init("employer").title = "ACME"
    r = c.Contact.from_bytes(msg.to_bytes())
    assert r.status.which == "employer" and r.status.employer.title == "ACME"
    with pytest.raises(capnp.KjException, match="not currently initialized"):
        r.status.retired


def test_unnamed_union_and_group(c):
    s = c.Shape.new_message()
    assert s.which == "circle" and s.which == c.Shape.Union.Circle
    with pytest.raises(capnp.KjException, match="not currently initialized"):
        s.square.side = 2.5
    s.init("square").side = 2.5
    assert s.which == "square" and s.square.side == 2.5
    s.circle = 1.0
    assert s.which() == "circle"
    s.init(c.Shape.Union.Square)
    assert s.which() == "square" and s.square.side == 0.0
    s.circle = 1.0
    with pytest.raises(capnp.KjException, match="not currently initialized"):
        s.square


def test_which_on_non_union(a):
    msg = a.All.new_message()
    with pytest.raises(capnp.KjException, match="Attempted to call which on a non-union type") as e:
        msg._which()
    assert e.value.type is None


def test_from_dict_selects_union_members(c):
    msg = c.Contact.new_message(id=1, status={"employer": {"title": "ACME"}})
    assert msg.status.which == "employer" and msg.status.employer.title == "ACME"
    assert msg.to_dict() == {"id": 1, "status": {"employer": {"title": "ACME"}}}


def test_primitive_lists(a):
    msg = a.All.new_message()
    msg.ints = [1, -2, 3]
    assert len(msg.ints) == 3 and list(msg.ints) == [1, -2, 3]
    assert msg.ints[-1] == 3 and msg.ints[0:2] == [1, -2]
    msg.ints[1] = 20
    assert msg.ints[1] == 20
    with pytest.raises(IndexError, match="Out of bounds"):
        msg.ints[3]
    with pytest.raises(IndexError, match="Out of bounds"):
        msg.ints[-4]
    with pytest.raises(IndexError, match="Out of bounds"):
        msg.ints[3] = 1
    with pytest.raises(TypeError, match="an integer is required"):
        msg.ints["x"]
    with pytest.raises(capnp.KjException, match="List index out-of-bounds"):
        msg.ints._get(3)
    with pytest.raises(capnp.KjException, match="out-of-range"):
        msg.ints[0] = 2**40
    msg.bools = (True, False)
    assert list(msg.bools) == [True, False]
    msg.texts = ["a", "bé"]
    msg.datas = [b"\x00", b""]
    msg.colors = ["red", "blue", 1]
    r = a.All.from_bytes(msg.to_bytes())
    assert list(r.ints) == [1, 20, 3]
    assert list(r.texts) == ["a", "bé"] and list(r.datas) == [b"\x00", b""]
    assert [str(x) for x in r.colors] == ["red", "blue", "green"]
    assert 20 in r.ints and list(reversed(r.ints)) == [3, 20, 1]
    assert type(r.ints).__name__ == "_DynamicListReader"
    assert type(msg.ints).__name__ == "_DynamicListBuilder"


def test_nested_lists(a):
    msg = a.All.new_message(nested=[[1, 2], [], [3]])
    assert [list(x) for x in msg.nested] == [[1, 2], [], [3]]
    inner = msg.nested.init(1, 2)
    inner[0] = 7
    r = a.All.from_bytes(msg.to_bytes())
    assert [list(x) for x in r.nested] == [[1, 2], [7, 0], [3]]


def test_struct_lists(a, c):
    msg = a.All.new_message()
    structs = msg.init("structs", 2)
    structs[0].i32 = 5
    structs[1] = {"t": "x", "ints": [1]}
    first, second = structs[0], structs[1]
    second.i16 = 3
    first.i16 = 4
    r = a.All.from_bytes(msg.to_bytes())
    assert [(s.i32, s.i16, s.t) for s in r.structs] == [(5, 4, ""), (0, 3, "x")]
    other = a.All.new_message(i32=9)
    msg.structs[0] = other
    assert msg.structs[0].i32 == 9
    book = c.Contact.new_message(phones=[{"number": "1", "kind": "fax"}, {"number": "2"}])
    assert [(p.number, str(p.kind)) for p in book.phones] == [("1", "fax"), ("2", "cell")]


def test_list_assignment_from_list_objects(a):
    src = a.All.new_message(ints=[4, 5])
    dst = a.All.new_message()
    dst.ints = src.ints
    dst.ints = src.as_reader().ints
    assert list(dst.ints) == [4, 5]
    with pytest.raises(capnp.KjException, match="Value type mismatch"):
        dst.texts = src.ints
    with pytest.raises(capnp.KjException, match="Value type mismatch"):
        dst.i32 = [1]


def test_to_dict(a):
    msg = a.All.new_message(i32=1, t="x", d=b"\x01", e="green", ints=[1], structs=[{"u8": 2}])
    d = msg.to_dict()
    assert d["i32"] == 1 and d["t"] == "x" and d["d"] == b"\x01" and d["e"] == "green"
    assert d["ints"] == [1] and d["structs"][0]["u8"] == 2
    assert "texts" not in d and "s" not in d and d["v"] is None and d["defI"] == -7
    assert msg.to_dict(encode_bytes_as_base64=True)["d"] == "AQ=="
    again = a.All.new_message(**msg.to_dict(encode_bytes_as_base64=True))
    assert again.d == b"\x01"
    verbose = msg.to_dict(verbose=True)
    assert verbose["texts"] == [] and verbose["defT"] == "dflt" and verbose["s"]["s"] == {}
    ordered = msg.to_dict(ordered=True)
    assert type(ordered).__name__ == "OrderedDict" and list(ordered)[:3] == ["v", "b", "i8"]
    assert msg._has("s") is False
    with pytest.raises(TypeError):
        msg.from_dict([1])
