"""str() and repr() of structs and lists print exactly what pycapnp 2.2.4 prints."""

import pathlib

import pytest

from differential import assert_same_output

SCHEMAS = pathlib.Path(__file__).parent / "schemas"

PRELUDE = """
import capnp
s = capnp.load("textfmt.capnp")
def show(x):
    print(str(x))
    print(repr(x))
"""

SCRIPTS = {
    "empty_and_unset": """
m = s.T.new_message()
show(m)
show(m.as_reader())
show(s.Empty.new_message())
show(s.Order.new_message())
show(s.Inner.new_message())
""",
    "every_type": """
m = s.T.new_message(v=None, b=True, i8=-128, i16=-32768, i32=-2**31, i64=-2**63,
                    u8=255, u16=65535, u32=2**32 - 1, u64=2**64 - 1, f32=1.5, f64=-2.25,
                    t="hello", d=b"\\x00\\x01ab", e="green")
m.texts = ["a", "", "b c"]
m.datas = [b"", b"\\xff\\x80\\x7f"]
m.nested = [[1, 2], [], [-3]]
m.colors = ["red", "blue", "green"]
m.bools = [True, False, True]
m.voids = [None, None]
m.f32s = [0.1, 1e-45, 3.4e38]
m.f64s = [0.1, 1 / 3, -1.23e47]
m.deep = [[["x"], []], [], [["y", "z"]]]
m.any = "opaque"
show(m)
r = s.T.from_bytes(m.to_bytes()).__enter__()
show(r)
for name in ("texts", "datas", "nested", "colors", "bools", "voids", "f32s", "f64s", "deep"):
    show(getattr(m, name))
    show(getattr(r, name))
""",
    "floats": """
import math
values = [0.0, -0.0, 1.0, 1.5, -1.5, 0.1, 0.2, 1 / 3, 2 / 3, 1e100, 1e-100, 1e15, 1e16,
          1e17, 1e-4, 1e-5, 123456789.0, 1234567.25, 2.0**53, 2.0**63, 5e-324, 2.2250738585072014e-308,
          1.7976931348623157e308, float("inf"), float("-inf"), float("nan"), -1.23e47,
          3.14159, 100.0, 1e6, 1e7, 12345.678, 0.000123, 9.999999e-5, 1.0000001,
          16777217.0, 3.4028234663852886e38, 1.17549435e-38, 1e-40, -103.21731567382812, -float("nan")]
m = s.T.new_message()
for v in values:
    m.f64 = v
    if math.isinf(v) or math.isnan(v) or abs(v) < 3.4e38:
        m.f32 = v
    print(repr(v), str(m.as_reader()).split("f32 = ")[1].split(",")[0],
          repr(m).split("f64 = ")[1].split(",")[0])
m.f64s = values
print(m.f64s)
m.f32s = [v for v in values if math.isinf(v) or math.isnan(v) or abs(v) < 3.4e38]
print(m.f32s)
import random
rng = random.Random(7)
m.f64s = [rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30) for _ in range(300)]
m.f32s = [rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30) for _ in range(300)]
print(m.f64s)
print(m.f32s)
""",
    "text_and_data_escapes": """
m = s.T.new_message()
m.t = "quote\\" apos' back\\\\ nl\\n tab\\t cr\\r nul\\x00 bell\\a bs\\b ff\\f vt\\v del\\x7f esc\\x1b"
m.d = bytes(range(256))
show(m)
m.t = "unicode: zo\\u00eb \\u4e2d\\u6587 \\U0001f600 \\u2028"
m.texts = ["\\x00", "\\x01\\x1f", "'\\"", "\\u00e9"]
show(m)
show(m.texts)
m.t = "".join(chr(i) for i in range(1, 128))
show(m.as_reader())
m.t = b"\\xff\\xfe"
for f in (str, repr):
    try:
        f(m)
        print("no error")
    except UnicodeDecodeError as e:
        print(type(e).__name__)
""",
    "unions_and_groups": """
m = s.T.new_message()
show(m.u)
m.u.txt = ""
show(m)
m.u.txt = "x"
show(m.u)
m.u.num = 0
show(m)
m.u.init("inner")
show(m)
m.u.inner.y = "deep"
show(m)
m.u.init("grp").a = 3
show(m)
show(m.u.grp)
show(m.g)
m.g.y = [1, 2, 3]
show(m)
m.u.none = None
show(m)
o = s.Order.new_message()
show(o)
o.late = 1
show(o)
o.early = 2.5
show(o)
o.zero = ""
show(o)
o.last = "z"
o.mid.m = 4
show(o)
show(s.Order.from_bytes(o.to_bytes()).__enter__())
""",
    "defaults_and_null_pointers": """
m = s.T.new_message()
show(m)
print(m.defT, m.defS.x, list(m.defL))
show(m)
m.s.i8 = 1
show(m)
r = s.T.from_bytes(s.T.new_message().to_bytes()).__enter__()
print(r.defT, r.defS.x, list(r.defL))
show(r)
m2 = s.T.new_message()
m2.init("t", 0)
m2.init("texts", 0)
m2.init("structs", 2)
m2.init("d", 3)
show(m2)
""",
    "layout_breaking": """
m = s.T.new_message()
for n in (22, 23, 24, 25):
    m.texts = ["x" * n]
    show(m.texts)
    m.texts = ["x" * n, "y"]
    show(m.texts)
m = s.Inner.new_message(x=1, y="a" * 40)
show(m)
m.y = "a" * 17
show(m)
m.y = "a" * 18
show(m)
t = s.T.new_message()
t.structs = [{"i8": 1}, {"t": "x"}]
show(t.structs)
t.structs[0].s.s.t = "nested"
show(t)
t.nested = [list(range(20)), list(range(3))]
show(t.nested)
t.deep = [[["a" * 30, "b"], ["c"]], [["d"]]]
show(t)
show(t.deep)
show(s.T.from_bytes(t.to_bytes()).__enter__().deep)
""",
    "nested_handles": """
m = s.T.new_message()
m.structs = [{"i8": 1}, {"u": {"txt": "t"}}]
show(m.structs[0])
show(m.structs[1].u)
r = m.as_reader()
show(r.structs[1])
show(r.structs[1].u)
show(r.g)
print(str(m.structs) == str(r.structs))
print([str(x) for x in r.structs])
""",
    "crafted_readers": """
# A union whose active member is a null pointer, an unknown discriminant, an unknown enum.
a = s.T.new_message().to_bytes()
b = s.T.new_message(u={"num": 0}).to_bytes()
(at,) = [i for i in range(len(a)) if a[i] != b[i]]
for d in (1, 3, 4, 99):
    bb = bytearray(b)
    bb[at] = d
    r = s.T.from_bytes(bytes(bb)).__enter__()
    show(r.u)
m = s.T.new_message(colors=["blue", "green", "blue"])
raw = bytearray(m.to_bytes())
raw[raw.find(bytes([2, 0, 1, 0, 2, 0])) + 2] = 9
r = s.T.from_bytes(bytes(raw)).__enter__()
show(r.colors)
show(r)
""",
    "readers_in_place": """
# Readers of bytes (printed by walking their bytes in place) and builders (printed from a
# copy), with no AnyPointer, capability or Void list, which send the printer the general way.
m = s.T.new_message(b=True, i8=-5, u64=2**64 - 1, f32=0.1, f64=1 / 3, t="t\\x00'\\"",
                    d=b"\\xff\\x00", e="blue", defI=3, defE="red", tail=-1)
m.texts = ["a", "", "x" * 30]
m.datas = [b"", b"\\x80"]
m.nested = [[1, -2], [], list(range(15))]
m.colors = ["red", "blue"]
m.bools = [True, False]
m.f32s = [0.5, -1e-45]
m.f64s = [float("inf"), -0.0]
m.deep = [[["x"], []], [], [["y" * 25, "z"]]]
m.structs = [{"i8": 1, "u": {"grp": {"a": 2, "b": "b"}}}, {"u": {"inner": {"x": 1, "y": "y"}}}]
m.s.s.t = "nested"
m.u.txt = "union text"
m.g.y = [1, 2]
show(m)
for data in (m.to_bytes(), m.to_bytes_packed()):
    r = (s.T.from_bytes(data) if data == m.to_bytes() else s.T.from_bytes_packed(data))
    r = r.__enter__() if hasattr(r, "__enter__") else r
    show(r)
    show(r.s)
    show(r.structs)
    show(r.structs[0].u)
    show(r.g)
    show(r.nested)
    show(r.deep)
    print(str(r) == str(m), str(r.structs) == str(m.structs))
show(m.structs[1])
show(m.s)
m.structs[1].u.inner.y = "changed"
m.tail = 9
show(m)
big = s.T.new_message()
big.texts = ["w%d" % i * 50 for i in range(300)]
big.structs = [{"t": "s%d" % i * 20, "i32": i} for i in range(100)]
r = s.T.from_bytes(big.to_bytes()).__enter__()
print(str(r) == str(big), len(str(r)))
show(r.structs[99])
""",
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_text_format(name, tmp_path):
    (tmp_path / "textfmt.capnp").write_text((SCHEMAS / "textfmt.capnp").read_text())
    assert_same_output(PRELUDE + SCRIPTS[name], tmp_path)
