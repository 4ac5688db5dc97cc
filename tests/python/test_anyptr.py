"""AnyPointer fields, orphans, reading several messages, pickling and copying (API.md 3.1,
3.4, 3.11, 3.12, 3.15): differential scripts against pycapnp 2.2.4, then our deviations."""

import copy
import io
import os
import pickle
import tempfile
import warnings

import pytest
from differential import assert_same_output

import capnp

SCHEMA = """@0xb1a2c3d4e5f60718;
struct Box {
  any @0 :AnyPointer;
  name @1 :Text;
  inner @2 :Inner;
  items @3 :List(Inner);
  tags @4 :List(Text);
  data @5 :Data;
  cap @6 :Holder;
  union {
    none @7 :Void;
    child @8 :Inner;
  }
}
struct Inner {
  x @0 :Int32;
  t @1 :Text;
}
interface Holder {
  get @0 () -> (v :Int32);
}
"""

ANY_FIELDS = """
import capnp
a = capnp.load("anyptr.capnp")
b = a.Box.new_message()
o = b.any
print(type(o).__name__)
s = o.as_struct(a.Inner)
s.x = 5
s.t = "hi"
print(type(s).__name__, s.x, s.t)
print(b.any.as_struct(a.Inner.schema).x)
r = a.Box.from_bytes(b.to_bytes()).__enter__()
print(type(r.any).__name__, r.any.as_struct(a.Inner).t)
try:
    r.any.as_text()
except Exception as e:
    print("as_text on struct:", type(e).__name__, "Schema mismatch" in str(e))
b.any = "text value"
print(b.any.as_text())
try:
    b.any.as_struct(a.Inner)
except Exception as e:
    print("as_struct on text:", type(e).__name__, "non-struct pointer" in str(e))
b.any = a.Inner.new_message(x=9)
print(b.any.as_struct(a.Inner).x)
b.any = b"\\x01\\x02"
inner = a.Inner.new_message(x=11, t="r")
b.any = inner.as_reader()
print(b.any.as_struct(a.Inner).x)
l = b.any.init_as_list(capnp._ListSchema(capnp.types.UInt16), 3)
l[1] = 300
print(type(l).__name__, list(l), list(b.any.as_list(capnp._ListSchema(capnp.types.UInt16))))
l2 = b.any.init_as_list(capnp._ListSchema(a.Inner), 2)
l2[0].x = 4
print([i.x for i in b.any.as_list(capnp._ListSchema(a.Inner))])
b.any.set_as_text("set text")
print(b.any.as_text())
other = a.Box.new_message()
other.any.set(b.any.as_reader())
print(other.any.as_text())
other.any = b.any
print(other.any.as_text())
b.any = [1,2] if False else b.any
x = b.init("any")
print(type(x).__name__)
print(b.to_dict().keys() if hasattr(b.to_dict(), "keys") else b.to_dict())
b.any.as_struct(a.Inner).x = 3
d = b.to_dict()
print(sorted(d), type(d["any"]).__name__)
rr = a.Box.from_bytes(b.to_bytes()).__enter__()
print(type(rr.to_dict()["any"]).__name__)
print(rr.any.as_struct(a.Inner).x)
try:
    print(rr.cap)
except Exception as e:
    print("cap", type(e).__name__)
"""

ANY_ERRORS = """
import capnp
a = capnp.load("anyptr.capnp")
b = a.Box.new_message()
b.any.as_struct(a.Inner)
r = b.as_reader()
for f in ("r.any.as_text()", "r.any.as_list(capnp._ListSchema(capnp.types.Int32))", "r.cap", "r.name and r.inner.x"):
    try: eval(f)
    except Exception as e:
        frags = ("Schema mismatch", "non-list pointer where text", "non-list pointer where list",
                 "non-struct pointer where struct", "capability context")
        print(f, type(e).__name__, [x for x in frags if x in str(e)])
b.any = "t"
for f in ("r.any.as_struct(a.Inner)", "r.any.as_list(capnp._ListSchema(a.Inner))"):
    try: eval(f)
    except Exception as e:
        frags = ("Schema mismatch", "non-list pointer where text", "non-list pointer where list",
                 "non-struct pointer where struct", "capability context")
        print(f, type(e).__name__, [x for x in frags if x in str(e)])
"""

ORPHANS_MULTIPLE_PICKLE = """
import capnp, io, os, pickle, copy, tempfile
a = capnp.load("anyptr.capnp")
b = a.Box.new_message(name="n", inner={"x": 1, "t": "in"}, tags=["p", "q"])
o = b.disown("inner")
print(type(o).__name__, b._has("inner"), o.get().x)
o.get().x = 42
c = b
c.adopt("inner", o)
print(c.inner.x, c.inner.t)
lo = b.disown("tags")
print(type(lo.get()).__name__, list(lo.get()), b._has("tags"))
c.adopt("tags", lo)
print(list(c.tags))
to = b.disown("name")
print(repr(to.get()))
c.adopt("name", to)
print(c.name)
# union member adoption
u = c.disown("inner")
c.adopt("child", u)
print(c.which, c.child.x)
# multiple messages
msgs = [a.Inner.new_message(x=i, t=str(i)) for i in range(3)]
flat = b"".join(m.to_bytes() for m in msgs)
packed = b"".join(m.to_bytes_packed() for m in msgs)
print([m.x for m in a.Inner.read_multiple_bytes(flat)])
print([m.x for m in a.Inner.read_multiple_bytes_packed(packed)])
print([m.as_struct(a.Inner).t for m in capnp.read_multiple_bytes_packed(packed)])
print(list(capnp.read_multiple_bytes_packed(b"")))
for bad in (flat + b"\\0", flat[:-8]):
    try:
        print([m.x for m in a.Inner.read_multiple_bytes(bad)])
    except Exception as e:
        print("bytes error", type(e).__name__)
with tempfile.TemporaryFile() as f:
    f.write(flat + flat[:-8])
    f.seek(0)
    print([m.t for m in a.Inner.read_multiple(f)])
with tempfile.TemporaryFile() as f:
    f.write(packed)
    f.seek(0)
    print([m.t for m in a.Inner.read_multiple_packed(f)])
# pickling and copying
m = a.Inner.new_message(x=7, t="pk")
r = a.Inner.from_bytes(m.to_bytes()).__enter__()
import warnings
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    for obj in (m, r):
        p = pickle.loads(pickle.dumps(obj))
        print(type(p).__name__, p.x, p.t)
        print(type(copy.copy(obj)).__name__, copy.deepcopy(obj).t)
    print("warnings", len(w))
print(m.__reduce_ex__(2)[0].__name__, m.__reduce_ex__(2)[1][0] == a.Inner.schema.node.id)
for obj in (c.tags, o, b.any):
    try:
        pickle.dumps(obj)
        print("pickled", type(obj).__name__)
    except Exception as e:
        print("pickle", type(obj).__name__, type(e).__name__)
try:
    pickle.dumps(c.child)
except Exception as e:
    print("nonroot", type(e).__name__, e)
"""

LIST_ADOPT = """
import capnp
a = capnp.load("anyptr.capnp")
b = a.Box.new_message(name="nm", inner={"x": 8, "t": "e"})
items = b.init("items", 2)
o = b.disown("inner")
items.adopt(1, o)
print([i.x for i in b.items], [i.t for i in b.items], b._has("inner"))
tags = b.init("tags", 1)
t = b.disown("name")
tags.adopt(0, t)
print(list(b.tags))
"""


@pytest.fixture
def schema_dir(tmp_path):
    (tmp_path / "anyptr.capnp").write_text(SCHEMA)
    return tmp_path


@pytest.mark.parametrize("script", [ANY_ERRORS, ORPHANS_MULTIPLE_PICKLE, LIST_ADOPT])
def test_same_as_pycapnp(script, schema_dir):
    assert_same_output(script, schema_dir)


def test_any_fields_same_as_pycapnp(schema_dir):
    assert_same_output(ANY_FIELDS, schema_dir)


@pytest.fixture
def a(schema_dir):
    return capnp.load(str(schema_dir / "anyptr.capnp"))


def test_any_pointer_views_and_assignment(a):
    b = a.Box.new_message()
    assert isinstance(b.any, capnp._DynamicObjectBuilder)
    b.any.as_struct(a.Inner).x = 3
    r = b.as_reader()
    assert isinstance(r.any, capnp._DynamicObjectReader)
    assert r.any.as_struct(a.Inner).x == 3
    # Any struct schema form works: module, _StructSchema, loaded _Schema.as_struct().
    assert r.any.as_struct(a.Inner.schema).x == 3
    # Assigning from another AnyPointer (even in another message) copies the content.
    c = a.Box.new_message()
    c.any = r.any
    b.any.as_struct(a.Inner).x = 4
    assert c.any.as_struct(a.Inner).x == 3
    c.any = "txt"
    assert c.any.as_text() == "txt"
    assert c.any.init_as_text(2) == "\0\0"
    s = c.any.init_as_struct(a.Inner)
    assert s.x == 0 and s.t == ""
    lst = c.any.init_as_list(capnp._ListSchema(capnp._ListSchema(capnp.types.Int8)), 2)
    lst.init(0, 3)[2] = -5
    assert c.any.as_reader().as_list(capnp._ListSchema(capnp._ListSchema(capnp.types.Int8)))[0][2] == -5
    with pytest.raises(capnp.KjException, match="Unknown schema type"):
        capnp._ListSchema(42)
    with pytest.raises(capnp.KjException, match="non-struct schema"):
        c.any.as_struct(capnp._ListSchema(capnp.types.Int8))


def test_capability_field_raises_clear_error(a):
    b = a.Box.new_message()
    for obj in (b, b.as_reader()):
        with pytest.raises(capnp.KjException, match="capability context"):
            obj.cap
    with pytest.raises(capnp.KjException, match="capability"):
        b.any.as_interface(a.Holder)


def test_orphan_from_another_message_and_spent_orphans(a):
    # Deviation: pycapnp refuses (or crashes on) these; we copy, and a spent orphan raises.
    src = a.Box.new_message(inner={"x": 5})
    orphan = src.disown("inner")
    held = orphan.get()
    dst = a.Box.new_message()
    dst.adopt("inner", orphan)
    assert dst.inner.x == 5
    assert not src._has("inner")
    with pytest.raises(capnp.KjException, match="adopted"):
        orphan.get()
    with pytest.raises(capnp.KjException, match="adopted"):
        held.x = 1
    with pytest.raises(capnp.KjException, match="adopted"):
        dst.adopt("inner", orphan)
    text = dst.disown("name")
    with pytest.raises(capnp.KjException, match="Value type mismatch"):
        dst.adopt("inner", text)
    dst.adopt("any", text)
    assert dst.any.as_text() == ""
    with pytest.raises(capnp.KjException, match="not currently initialized"):
        dst.disown("child")
    with pytest.raises(capnp.KjException, match="has no such member"):
        dst.disown("nosuch")


def _messages(a):
    msgs = [a.Inner.new_message(x=i) for i in range(3)]
    flat = b"".join(m.to_bytes() for m in msgs)
    for m in msgs:
        m.clear_write_flag()
    return flat, b"".join(m.to_bytes_packed() for m in msgs)


def test_read_multiple_from_files_without_fileno(a):
    flat, packed = _messages(a)
    assert [m.x for m in a.Inner.read_multiple(io.BytesIO(flat))] == [0, 1, 2]
    assert [m.x for m in a.Inner.read_multiple_packed(io.BytesIO(packed))] == [0, 1, 2]
    # A truncated trailing message ends the iteration silently.
    assert [m.x for m in a.Inner.read_multiple(io.BytesIO(flat[:-8]))] == [0, 1]
    assert list(a.Inner.read_multiple(io.BytesIO(b""))) == []


def test_read_multiple_consumes_from_the_descriptor_offset(a):
    flat, _ = _messages(a)
    with tempfile.TemporaryFile() as f:
        f.write(flat)
        f.seek(0)
        first = a.Inner.read(f)
        assert first.x == 0
        assert [m.x for m in a.Inner.read_multiple(f)] == [1, 2]


def test_read_multiple_bytes_errors_and_buffers(a):
    flat, packed = _messages(a)
    assert [m.x for m in a.Inner.read_multiple_bytes(bytearray(flat))] == [0, 1, 2]
    it = a.Inner.read_multiple_bytes(flat + b"\0" * 8)
    assert [next(it).x for _ in range(3)] == [0, 1, 2]
    with pytest.raises(capnp.KjException):
        next(it)
    with pytest.raises(TypeError):
        a.Inner.read_multiple_bytes("text")
    roots = list(capnp.read_multiple_bytes_packed(packed))
    assert all(isinstance(r, capnp._DynamicObjectReader) for r in roots)
    assert [r.as_struct(a.Inner).x for r in roots] == [0, 1, 2]
    with pytest.raises(capnp.KjException, match="Premature EOF"):
        list(a.Inner.read_multiple_bytes_packed(packed[:-1]))


def test_pickle_and_copy(a):
    m = a.Box.new_message(name="p", inner={"x": 9})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = pickle.loads(pickle.dumps(m))
    assert isinstance(back, capnp._DynamicStructReader)
    assert back.name == "p" and back.inner.x == 9
    assert m._is_written()
    r = back
    for c in (copy.copy(r), copy.deepcopy(r), pickle.loads(pickle.dumps(r, protocol=0))):
        assert c.inner.x == 9 and c is not r
    with pytest.raises(capnp.KjException, match="root struct"):
        pickle.dumps(m.inner)
    for obj in (m.tags, m.any, m.any.as_reader(), a.Inner):
        with pytest.raises(TypeError):
            pickle.dumps(obj)


def test_unpickling_needs_the_global_parser(schema_dir):
    parser = capnp.SchemaParser()
    a = parser.load(str(schema_dir / "anyptr.capnp"))
    data = pickle.dumps(a.Inner.new_message(x=1))
    capnp.cleanup_global_schema_parser()
    with pytest.raises(KeyError, match=str(a.Inner.schema.node.id)):
        pickle.loads(data)
    capnp.load(str(schema_dir / "anyptr.capnp"))
    assert pickle.loads(data).x == 1
