"""Builder writes of numbers to primitive fields (the number path of the attribute slot,
crates/dynamic `set_number_by_index`) against pycapnp 2.2.4: every integer, float, Bool and
enum field, fields with defaults (stored XORed) and union members (the discriminant), at and
beyond each range's ends, with every kind of number. The same values read back, the same
bytes, the same exception types."""

import pathlib

from differential import assert_same_output

SCHEMAS = pathlib.Path(__file__).parent / "schemas"

SCRIPT = """
import capnp
a = capnp.load("alltypes.capnp")
c = capnp.load("contacts.capnp")

values = [0, 1, -1, True, False, 2, 7, 100, -100, 127, 128, -128, -129, 255, 256, 32767,
          32768, -32768, -32769, 65535, 65536, 2**31 - 1, 2**31, -2**31, -2**31 - 1,
          2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, -2**63, -2**63 - 1, 2**64 - 1,
          2**64, -2**64, 0.0, -0.0, 1.5, 3.0, -2.25, 1e300, -1e300, float("inf"),
          float("nan"), 1e-320, 2.0**63]

def show(msg, name):
    if name in ("e", "defE"):
        # (pycapnp cannot read back a number that is no enumerant: the bytes say it.)
        return "-"
    v = getattr(msg, name)
    return "nan" if v != v else repr(v)

for name in ["b", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64",
             "e", "defI", "defB", "defF", "defE"]:
    for value in values:
        msg = a.All.new_message()
        msg.i32 = 5  # some data first
        try:
            setattr(msg, name, value)
            print(name, repr(value), "->", show(msg, name), msg.to_bytes().hex())
        except Exception as e:
            print(name, repr(value), "raises", type(e).__name__, msg.to_bytes().hex())

# Union members: the discriminant is written with the value.
for value in [0, 3, -1, 1.5, 2**63, True]:
    m = c.Shape.new_message()
    try:
        m.circle = value
        print("circle", repr(value), "->", m.which(), m.circle, m.to_bytes().hex())
    except Exception as e:
        print("circle", repr(value), "raises", type(e).__name__)
    m = c.Mixed.new_message()
    m.b = "text"
    try:
        m.plain = value
        m.info.x = value
        print("mixed", repr(value), "->", m.which(), m.plain, m.info.x, m.to_bytes().hex())
    except Exception as e:
        print("mixed", repr(value), "raises", type(e).__name__, m.to_bytes().hex())

# A child handle written after the parent's layout changed (no current location: the walk).
m = a.All.new_message()
child = m.init("s")
m.init("ints", 3)
m.init("ints", 4)  # over a non-null slot: every recorded location stale
m.s = {"i8": 3}
child.i16 = 300
child.b = True
child.f64 = 0.5
print(m.s.i16, m.s.b, m.s.f64, m.to_bytes().hex())
"""


def test_number_writes_match_pycapnp(tmp_path):
    for name in ("alltypes.capnp", "contacts.capnp"):
        (tmp_path / name).write_text((SCHEMAS / name).read_text())
    assert_same_output(SCRIPT, tmp_path)
