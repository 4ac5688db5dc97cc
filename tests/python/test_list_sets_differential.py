"""List assignments of numbers (`b.ints = [1, 2, 3]`: the one-step path of the attribute
slot and `set_field`, crates/dynamic `set_number_list_by_index`) against pycapnp 2.2.4: every
primitive element type, values in and out of range at every position, every kind of number
and non-numbers mixed in, lists and tuples, over null and non-null slots, union members,
stale child handles, and the other ways of writing a field (`_set`, the type's `__setattr__`,
`new_message(**kwargs)`, `from_dict`). The same values read back, the same bytes, the same
exception types."""

import pathlib

from differential import assert_same_output

SCHEMAS = pathlib.Path(__file__).parent / "schemas"

SCRIPT = """
import capnp
n = capnp.load("numlists.capnp")

items = [0, 1, -1, True, False, 2, 127, 128, -128, -129, 255, 256, 32767, 32768, -32769,
         65535, 65536, 2**31 - 1, 2**31, -2**31 - 1, 2**32 - 1, 2**32, 2**63 - 1, 2**63,
         -2**63 - 1, 2**64 - 1, 2**64, 0.0, -0.0, 1.5, -2.25, 1e300, float("inf"),
         float("nan"), "red", "blue", "nope", None, b"x", [1]]

def hexbytes(msg):
    return msg.to_bytes().hex()

def show(msg, name):
    v = list(getattr(msg, name))
    return repr([("nan" if x != x else x) for x in v])

# (Not the enum list: ours takes numbers there where pycapnp refuses them, before and
# after this path, which leaves enum elements to the general one.)
names = ["b", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "v",
         "def", "ints", "floats"]

def attempt(label, msg, name, value, how):
    try:
        if how == "attr":
            setattr(msg, name, value)
        elif how == "set":
            msg._set(name, value)
        else:
            type(msg).__setattr__(msg, name, value)
        print(label, name, how, "->", show(msg, name), msg.which(), hexbytes(msg))
    except Exception as e:
        print(label, name, how, "raises", type(e).__name__, msg.which(), hexbytes(msg))

for name in names:
    for item in items:
        for shape in ([item], [3, item], [item, 4, 5], (item, 1)):
            msg = n.NumLists.new_message()
            msg.x = 9
            attempt(repr(shape), msg, name, shape, "attr")
    # Over a list already there (the slot not null), and back to empty.
    msg = n.NumLists.new_message()
    for how in ("attr", "set", "wrapper"):
        attempt("first", msg, name, [1, 0, 1], how)
        attempt("again", msg, name, (0, 1), how)
        attempt("empty", msg, name, [], how)
        attempt("bad", msg, name, [1, "x", 2], how)

for value in (["red", "blue"], ("green",), [], ["red", "nope"], ["blue", None]):
    msg = n.NumLists.new_message()
    try:
        msg.e = value
        print("e", [str(x) for x in msg.e], hexbytes(msg))
    except Exception as e:
        print("e raises", type(e).__name__, hexbytes(msg))

# Union members switch the discriminant; a text list refuses numbers as before.
msg = n.NumLists.new_message()
msg.ints = [1, 2]
print(msg.which(), list(msg.ints), hexbytes(msg))
msg.floats = [0.5, 2]
print(msg.which(), list(msg.floats), hexbytes(msg))
msg.none = None
msg.ints = (7,)
print(msg.which(), list(msg.ints), hexbytes(msg))
for value in ([1, 2], ["a", 1]):
    try:
        msg.texts = value
        print("texts", list(msg.texts))
    except Exception as e:
        print("texts raises", type(e).__name__, hexbytes(msg))

# Handles taken before a write keep working (or raise as pycapnp's do).
msg = n.NumLists.new_message()
inner = msg.init("inner")
old = msg.init("i32", 2)
old[0] = 5
msg.i32 = [10, 20, 30]
inner.i16 = [1, 2]
inner.x = 4
print(list(msg.i32), list(inner.i16), inner.x, hexbytes(msg))
# (`old` now reads the new list here, a handle being a path; pycapnp's reads the zeroed
# words of the old one: test_native_slots.py checks ours.)
msg.inner = {"u8": [1, 2, 3]}
msg.init("i64", 1)
inner.i16 = [7]
print(list(msg.inner.i16), list(msg.inner.u8), hexbytes(msg))

# The constructors and from_dict.
m = n.NumLists.new_message(i32=[1, 2, 3], f32=(0.5,), b=[True, False], e=["red", "blue"])
print(hexbytes(m))
m = n.NumLists.new_message()
m.from_dict({"u16": [1, 65535], "ints": [4], "inner": {"f64": [1, 2.5]}})
print(hexbytes(m))
try:
    n.NumLists.new_message(u8=[1, 256])
except Exception as e:
    print("kwargs raises", type(e).__name__)
"""


def test_number_list_writes_match_pycapnp(tmp_path):
    (tmp_path / "numlists.capnp").write_text((SCHEMAS / "numlists.capnp").read_text())
    assert_same_output(SCRIPT, tmp_path)
