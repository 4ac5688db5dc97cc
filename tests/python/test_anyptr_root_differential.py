"""AnyPointer roots (issue 11, item 3): `_MallocMessageBuilder().get_root_as_any()` with every
view the field form has, and readers of such messages, print the same under pycapnp 2.2.4
and under this package."""

import pathlib

import capnp
import pytest

from differential import assert_same_output

SCHEMAS = pathlib.Path(__file__).parent / "schemas"

SCRIPT = """
import capnp, tempfile
a = capnp.load("alltypes.capnp")
L = capnp._ListSchema
T = capnp.types

def attempt(label, f):
    try:
        print(label, "->", repr(f()))
    except Exception as e:
        print(label, "raises", type(e).__name__)

def reread(builder):
    with tempfile.TemporaryFile() as f:
        capnp._write_message_to_fd(f.fileno(), builder)
        f.seek(0)
        return capnp._StreamFdMessageReader(f).get_root_as_any()

def packed(builder):
    with tempfile.TemporaryFile() as f:
        capnp._write_packed_message_to_fd(f.fileno(), builder)
        f.seek(0)
        return capnp._PackedFdMessageReader(f).get_root_as_any()

# A list of Int32 at the root: init, write through the view, view again, read back.
m = capnp._MallocMessageBuilder()
root = m.get_root_as_any()
ints = root.init_as_list(L(T.Int32), 4)
print(type(ints).__name__, ints)
ints[1] = -5
ints[3] = 2**31 - 1
print(list(root.as_list(L(T.Int32))), len(root.as_list(L(T.Int32))))
print(list(root.as_reader().as_list(L(T.Int32))))
print(list(reread(m).as_list(L(T.Int32))), list(packed(m).as_list(L(T.Int32))))
print(len(m.get_segments_for_output()[0]))

# Lists of every element kind at the root.
for schema, values in [
    (L(T.Bool), [True, False, True]),
    (L(T.UInt8), [0, 255, 7]),
    (L(T.Float64), [1.5, -0.0]),
    (L(T.Text), ["x", "", "long text"]),
    (L(T.Data), [b"\\x00\\x01", b""]),
    (L(a.Color), ["green", "blue"]),
]:
    m = capnp._MallocMessageBuilder()
    l = m.get_root_as_any().init_as_list(schema, len(values))
    for i, v in enumerate(values):
        l[i] = v
    print(list(reread(m).as_list(schema)))

# Lists of structs and of lists at the root.
m = capnp._MallocMessageBuilder()
structs = m.get_root_as_any().init_as_list(L(a.All), 2)
structs[0].i32 = 7
structs[1].t = "second"
structs[1].init("ints", 2)[1] = 9
print(structs)
back = reread(m).as_list(L(a.All))
print(back[0].i32, back[1].t, list(back[1].ints), back[1]._get("which"), back[0].defT)
m = capnp._MallocMessageBuilder()
outer = m.get_root_as_any().init_as_list(L(L(T.Int16)), 3)
inner = outer.init(1, 2)
inner[0] = -3
print(outer, [list(x) for x in reread(m).as_list(L(L(T.Int16)))])

# Text at the root.
m = capnp._MallocMessageBuilder()
m.get_root_as_any().set_as_text("hello root")
print(m.get_root_as_any().as_text(), reread(m).as_text())

# A struct at the root, then replaced by a list, then by text.
m = capnp._MallocMessageBuilder()
s = m.get_root_as_any().as_struct(a.All)
s.i8 = 3
print(m.get_root_as_any().as_struct(a.All).i8, reread(m).as_struct(a.All).i8)
m.get_root_as_any().init_as_list(L(T.UInt16), 2)[0] = 65535
print(list(reread(m).as_list(L(T.UInt16))))
m.get_root_as_any().set_as_text("now text")
print(reread(m).as_text())

# set() copies any reader into the root: a list root into another message's root.
src = capnp._MallocMessageBuilder()
src.get_root_as_any().init_as_list(L(T.Text), 2)[0] = "copied"
dst = capnp._MallocMessageBuilder()
dst.get_root_as_any().set(reread(src))
print(list(reread(dst).as_list(L(T.Text))))

# Wrong views of a root raise.
m = capnp._MallocMessageBuilder()
m.get_root_as_any().init_as_list(L(T.Int32), 1)
attempt("struct view of a list root", lambda: reread(m).as_struct(a.All))
m2 = capnp._MallocMessageBuilder()
m2.get_root_as_any().as_struct(a.All).i8 = 1
attempt("list view of a struct root", lambda: list(reread(m2).as_list(L(T.Int32))))
"""


def test_anypointer_roots(tmp_path):
    assert_same_output(SCRIPT, SCHEMAS)


def test_list_root_element_handles_outlive_rewrites():
    """Handles into a root list follow the message: after the root is replaced by a struct,
    they fail cleanly instead of reading the struct as a list."""
    a = capnp.load(str(SCHEMAS / "alltypes.capnp"))
    m = capnp._MallocMessageBuilder()
    l = m.get_root_as_any().init_as_list(capnp._ListSchema(a.All), 1)
    elem = l[0]
    elem.i8 = 4
    m.get_root_as_any().init_as_struct(a.All)
    with pytest.raises(capnp.KjException):
        elem.i8
    with pytest.raises(capnp.KjException):
        len(l)
