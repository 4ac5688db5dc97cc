"""Struct builders and readers: every primitive type, text, data, enums, defaults, has."""

import math

import pytest

import capnp


@pytest.fixture
def m(schemas):
    return capnp.load(str(schemas / "alltypes.capnp"))


INTS = [
    ("i8", -128, 127),
    ("i16", -32768, 32767),
    ("i32", -(2**31), 2**31 - 1),
    ("i64", -(2**63), 2**63 - 1),
    ("u8", 0, 255),
    ("u16", 0, 65535),
    ("u32", 0, 2**32 - 1),
    ("u64", 0, 2**64 - 1),
]


@pytest.mark.parametrize("name,lo,hi", INTS)
def test_integer_limits_round_trip(m, name, lo, hi):
    msg = m.All.new_message()
    for value in (lo, hi, 0):
        setattr(msg, name, value)
        assert getattr(msg, name) == value
        assert type(getattr(msg, name)) is int
        setattr(msg, name, value)
        r = m.All.from_bytes(msg.to_bytes())
        msg.clear_write_flag()
        assert getattr(r, name) == value


@pytest.mark.parametrize("name,lo,hi", INTS)
def test_integer_out_of_range(m, name, lo, hi):
    msg = m.All.new_message()
    # Values beyond 64 bits are an OverflowError instead (test below).
    for bad in [v for v in (lo - 1, hi + 1) if -(2**63) <= v < 2**64]:
        with pytest.raises(capnp.KjException, match="Value out-of-range for requested type"):
            setattr(msg, name, bad)
    assert getattr(msg, name) == 0


def test_int_wider_than_64_bits_is_overflow(m):
    msg = m.All.new_message()
    with pytest.raises(OverflowError):
        msg.u64 = 2**64
    with pytest.raises(OverflowError):
        msg.i64 = -(2**63) - 1


def test_bool_is_not_an_int(m):
    msg = m.All.new_message()
    msg.b = True
    assert msg.b is True
    with pytest.raises(capnp.KjException, match="Value type mismatch"):
        msg.i32 = True
    with pytest.raises(capnp.KjException, match="Value type mismatch"):
        msg.b = 1


def test_floats(m):
    msg = m.All.new_message(f32=1.1, f64=1.1)
    assert msg.f32 == pytest.approx(1.100000023841858, abs=0)
    assert msg.f64 == 1.1
    msg.f64 = 3
    assert msg.f64 == 3.0 and type(msg.f64) is float
    msg.f32 = 1e39
    assert math.isinf(msg.f32)
    msg.i32 = 2.0
    assert msg.i32 == 2
    with pytest.raises(capnp.KjException, match="out-of-range"):
        msg.i32 = 1.5


def test_void(m):
    msg = m.All.new_message()
    assert msg.v is None
    msg.v = None
    with pytest.raises(capnp.KjException, match="Value type mismatch"):
        msg.i32 = None


def test_text_and_data(m):
    msg = m.All.new_message()
    assert msg.t == "" and msg.d == b""
    msg.t = "héllo\x00wörld"
    msg.d = b"\x00\xff\x01"
    assert msg.t == "héllo\x00wörld"
    assert msg.d == b"\x00\xff\x01" and type(msg.d) is bytes
    msg.t = b"raw"
    assert msg.t == "raw"
    msg.d = "é"
    assert msg.d == "é".encode()
    msg.d = bytearray(b"xy")
    assert msg.d == b"xy"
    msg.d = memoryview(b"mv")
    assert msg.d == b"mv"
    with pytest.raises(capnp.KjException, match="Value type mismatch"):
        msg.t = 5


class _Str(str):
    pass


@pytest.mark.parametrize(
    "text",
    ["", "a", "ascii only", "x" * 300, "\x7f\x00", "é", "h\u00e9llo", "\u20ac", "\U0001f600 emoji",
     _Str("subclass"), _Str("sübclass")],
)
def test_text_writes_of_every_string_kind(m, text):
    # Compact ASCII strings are read in place; others (non-ASCII, subclasses) through
    # CPython's UTF-8 conversion: every path writes the same text.
    msg = m.All.new_message()
    msg.t = text
    msg.texts = [text, text]
    msg.e = "green"
    assert msg.t == text and list(msg.texts) == [text, text]
    r = m.All.from_bytes(msg.to_bytes())
    assert r.t == text and list(r.texts) == [text, text]
    assert m.All.new_message(t=text).t == text
    assert m.All.new_message(**{"t": text}).to_dict()["t"] == text


def test_text_write_of_a_lone_surrogate_raises(m):
    msg = m.All.new_message()
    msg.t = "kept"
    for bad in ("\ud800", "a\udfffb"):
        with pytest.raises(UnicodeEncodeError):
            msg.t = bad
        with pytest.raises(UnicodeEncodeError):
            msg.texts = [bad]
    assert msg.t == "kept"


def test_invalid_utf8_text_raises_on_read(m):
    msg = m.All.new_message(t=b"\xff\xfe")
    with pytest.raises(UnicodeDecodeError):
        msg.t
    data = msg.to_bytes()
    # Readers over bytes (resolved location), over a builder, and over a bytearray (a locked
    # path) all raise, and stay usable afterwards.
    for reader in (m.All.from_bytes(data), msg.as_reader(), m.All.from_bytes(bytearray(data))):
        with pytest.raises(UnicodeDecodeError):
            reader.t
        assert reader.d == b""


def test_invalid_utf8_text_raises_from_to_dict_and_list_elements(m):
    # The in-place Text paths (to_dict, list elements) raise as field reads do, the bytes
    # copied out of the message's lock first, and leave the message usable.
    msg = m.All.new_message(t=b"\xff\xfe", texts=["ok", b"\xc3"])
    data = msg.to_bytes()
    for obj in (msg, msg.as_reader(), m.All.from_bytes(data), m.All.from_bytes(bytearray(data))):
        with pytest.raises(UnicodeDecodeError):
            obj.to_dict()
        assert obj.texts[0] == "ok"
        with pytest.raises(UnicodeDecodeError):
            obj.texts[1]
        assert obj.d == b""


def test_enums(m):
    msg = m.All.new_message()
    assert msg.e == "red" and msg.e == 0
    msg.e = "green"
    assert msg.e == "green" and msg.e == 1 and msg.e.raw == 1
    assert str(msg.e) == "green" and repr(msg.e) == "<green enum>"
    assert msg.e == m.Color.green and msg.e != "red"
    msg.e = 2
    assert msg.e == "blue"
    other = m.All.new_message(e="blue")
    msg.e = other.e
    assert msg.e == "blue" and msg.e == other.e
    assert hash(msg.e) == hash("blue")
    assert {msg.e: 1}["blue"] == 1
    with pytest.raises(TypeError):
        int(msg.e)
    msg.e = 7
    assert msg.e.raw == 7 and str(msg.e) == "7"
    with pytest.raises(capnp.KjException, match="enum has no such enumerant; name = nosuch"):
        msg._set("e", "nosuch")
    with pytest.raises(AttributeError, match="enum has no such enumerant; name = nosuch"):
        msg.e = "nosuch"


def test_enum_reads_after_the_field_kept_its_objects(m):
    # An enum field keeps one object per enumerant once read; later reads of readers and
    # builders, of any value, in any order, must still give that value (a value outside
    # the enum gets an object of its own with the ordinal).
    msg = m.All.new_message()
    names = ["red", "green", "blue"]
    for value in ["red", "green", "blue", 7, "green", 0, 2, 5, "red"]:
        msg.e = value
        r = m.All.from_bytes(msg.to_bytes())
        msg.clear_write_flag()
        raw = value if isinstance(value, int) else names.index(value)
        for obj in (msg.e, r.e, msg.as_reader().e, r.e):
            assert obj.raw == raw
            assert str(obj) == (names[raw] if raw < 3 else str(raw))
        if raw < 3:
            assert r.e is msg.e  # the field's shared object
        assert r.defE == "blue" and msg.defE == "blue"


def test_number_reads_follow_every_value(m, tmp_path):
    # A field's read keeps the object of its last value for the next read of the same
    # value; reads alternating between messages, after writes, through names made at run
    # time (each a new entry of the name cache) and of a same-named field of another type
    # must each give their own value and type.
    a, b = m.All.new_message(), m.All.new_message()
    values = {
        "i8": (-100, 7), "i16": (-30000, 0), "i32": (-(2**31), 2**31 - 1),
        "i64": (-1, 2**62), "u8": (200, 0), "u16": (65535, 1), "u32": (2**32 - 1, 5),
        "u64": (2**64 - 1, 2**63), "f32": (1.5, -2.25), "f64": (-0.0, 0.0),
    }
    for name, (x, y) in values.items():
        setattr(a, name, x)
        setattr(b, name, y)
    ra, rb = (m.All.from_bytes(x.to_bytes()) for x in (a, b))
    for _ in range(3):
        for name, (x, y) in values.items():
            for obj, want in ((ra, x), (rb, y), (a, x), (b, y), (ra, x), (ra, x), (b, y)):
                got = getattr(obj, name)
                assert got == want and type(got) is type(want), (name, got, want)
                if isinstance(want, float):
                    assert math.copysign(1.0, got) == math.copysign(1.0, want)
            # A name object the cache has not met: a new entry, the kept value dropped.
            fresh = "".join([name[0], name[1:]])
            assert getattr(rb, fresh) == y and getattr(ra, fresh) == x
    # Writes between reads of one builder.
    for value in (5, 5, -5, 2**31 - 1, 5):
        a.i32 = value
        assert a.i32 == value and a.as_reader().i32 == value
    # The same name in another struct, of another type, with the same bits (zero).
    (tmp_path / "other.capnp").write_text(
        "@0xd1e2f3a4b5c6d7e9;\nstruct Other { i32 @0 :Float64; e @1 :Float32; }\n")
    other = capnp.load(str(tmp_path / "other.capnp")).Other
    zero_int = m.All.from_bytes(m.All.new_message().to_bytes())
    zero_float = other.from_bytes(other.new_message().to_bytes())
    for _ in range(3):
        assert type(zero_int.i32) is int and zero_int.i32 == 0
        assert type(zero_float.i32) is float and zero_float.i32 == 0.0
        assert zero_int.e == "red" and type(zero_float.e) is float


def test_enum_writes_by_name(m, tmp_path):
    # A name written into an enum field (its ordinal from the enum the field keeps), inside
    # and outside a union, by attribute, keyword and dict, between writes by number; a name
    # that is no enumerant raises and writes nothing.
    (tmp_path / "u.capnp").write_text(
        "@0xd1e2f3a4b5c6d7ea;\n"
        "struct U { union { n @0 :UInt8; c @1 :Color; } tail @2 :Color = blue; }\n"
        "enum Color { red @0; green @1; blue @2; }\n")
    u_mod = capnp.load(str(tmp_path / "u.capnp")).U
    u = u_mod.new_message()
    for name, which in (("c", "green"), ("n", 7), ("c", "red"), ("c", 2), ("c", "blue")):
        setattr(u, name, which)
        u.tail = "red" if u.tail == "blue" else "blue"
        r = u_mod.from_bytes(u.to_bytes())
        u.clear_write_flag()
        want = ["red", "green", "blue"][which] if name == "c" and isinstance(which, int) else which
        for obj in (u, r):
            assert obj.which() == name and getattr(obj, name) == want
            assert obj.tail == u.tail
    with pytest.raises(AttributeError, match="no such enumerant; name = purple"):
        u.c = "purple"
    assert u.which() == "c" and u.c == "blue"
    with pytest.raises(AttributeError, match="no such enumerant; name = purple"):
        m.All.new_message().e = "purple"
    assert u_mod.new_message(c="green", tail="red").to_dict() == {"c": "green", "tail": "red"}
    d = u_mod.new_message()
    d.from_dict({"tail": "green", "c": "blue"})
    assert (d.tail, d.c) == ("green", "blue")
    msg = m.All.new_message()
    for name in ("green", "red", "blue", "green"):
        msg.e = name
        assert msg.e == name and msg.as_reader().e == name


def test_enum_writes_by_name_follow_each_enum(tmp_path):
    # The same name objects (interned literals) and equal names made at run time, written
    # into fields of two enums that order the same names differently, and of one enum inside
    # and outside a union: each field gets its own enum's ordinal.
    (tmp_path / "e2.capnp").write_text(
        "@0xd1e2f3a4b5c6d7eb;\n"
        "enum A { up @0; down @1; left @2; }\n"
        "enum B { left @0; up @1; down @2; }\n"
        "struct S { a @0 :A; b @1 :B; union { none @2 :Void; ua @3 :A; } }\n")
    s = capnp.load(str(tmp_path / "e2.capnp")).S
    msg = s.new_message()
    runtime = ["".join(["u", "p"]), "".join(["do", "wn"]), "".join(["le", "ft"])]
    for round_ in range(3):
        for i, name in enumerate(["up", "down", "left"] + runtime):
            msg.a = name
            msg.b = name
            msg.ua = name
            data = msg.to_bytes()
            msg.clear_write_flag()
            with s.from_bytes(data) as r:
                for obj in (msg, r):
                    assert (obj.a, obj.b, obj.ua, obj.which()) == (name, name, name, "ua")
                assert (r.a.raw, r.b.raw) == (
                    ["up", "down", "left"].index(name), ["left", "up", "down"].index(name))
            msg.none = None
    with pytest.raises(AttributeError, match="no such enumerant; name = Up"):
        msg.a = "Up"
    assert msg.a == "left"


def test_defaults(m):
    msg = m.All.new_message()
    assert msg.defI == -7 and msg.defB is True and msg.defF == 1.5
    assert msg.defE == "blue"
    assert list(msg.as_reader().defL) == [1, 2]
    assert msg.as_reader().defT == "dflt"
    msg.defI = 0
    assert msg.defI == 0
    r = m.All.from_bytes(msg.to_bytes())
    assert r.defI == 0 and r.defB is True and r.defT == "dflt"


def test_has(m):
    msg = m.All.new_message()
    assert msg._has("i32") is True
    assert msg._has("t") is False
    msg.t = "x"
    assert msg._has("t") is True
    assert msg._has("defT") is False
    with pytest.raises(capnp.KjException, match="struct has no such member; name = nosuch"):
        msg._has("nosuch")


def test_nested_struct_read_allocates_on_builders_only(m):
    msg = m.All.new_message()
    reader = m.All.from_bytes(msg.to_bytes())
    assert reader.s.i32 == 0
    assert reader._has("s") is False
    msg.s.i32 = 5
    assert msg._has("s") is True and msg.s.i32 == 5


def test_struct_assignment_copies(m):
    a = m.All.new_message(i32=1, t="a")
    b = m.All.new_message()
    b.s = a
    a.i32 = 2
    assert b.s.i32 == 1 and b.s.t == "a"
    b.s = a.as_reader()
    assert b.s.i32 == 2
    b.s = b.s
    assert b.s.i32 == 2
    with pytest.raises(capnp.KjException, match="Value type mismatch"):
        b.s = m.All.new_message().ints


def test_dict_merges_into_struct(m):
    msg = m.All.new_message(s={"i32": 1, "t": "x"})
    msg.s = {"i16": 2}
    assert msg.s.i32 == 1 and msg.s.i16 == 2 and msg.s.t == "x"


def test_field_named_like_a_method_needs_get(m):
    msg = m.All.new_message()
    msg._set("which", 3)
    assert msg._get("which") == 3
    with pytest.raises(capnp.KjException, match="non-union"):
        msg.which


def test_unknown_fields(m):
    msg = m.All.new_message()
    with pytest.raises(AttributeError, match="has no such member; name = nosuch"):
        msg.nosuch
    with pytest.raises(AttributeError, match="has no such member; name = nosuch"):
        msg.nosuch = 1
    with pytest.raises(AttributeError, match="has no such member"):
        msg.as_reader().nosuch
    with pytest.raises(capnp.KjException, match="struct has no such member; name = nosuch"):
        msg._get("nosuch")
    with pytest.raises(capnp.KjException, match="struct has no such member; name = nosuch"):
        msg._set("nosuch", 1)
    with pytest.raises(capnp.KjException, match="struct has no such member; name = nosuch"):
        m.All.new_message(nosuch=1)
    assert not hasattr(msg, "nosuch")
    assert getattr(msg, "nosuch", 5) == 5


def test_reader_is_immutable(m):
    r = m.All.new_message().as_reader()
    with pytest.raises(AttributeError):
        r.i32 = 1


def test_unsupported_type(m):
    msg = m.All.new_message()
    with pytest.raises(capnp.KjException, match="Tried to set field: 'i32' with a value of: "):
        msg.i32 = object()
    with pytest.raises(capnp.KjException, match="which is an unsupported type"):
        msg.ints = range(3)


def test_dir_lists_fields_and_methods(m):
    names = dir(m.All.new_message())
    assert "i32" in names and "to_dict" in names and "defL" in names


def test_class_identity(m):
    msg = m.All.new_message()
    assert type(msg).__name__ == "_DynamicStructBuilder"
    assert type(msg).__module__ == "capnp.lib.capnp"
    assert type(msg.as_reader()) is capnp.lib.capnp._DynamicStructReader
    assert isinstance(msg, m.All.Builder) and isinstance(msg.as_reader(), m.All.Reader)
    assert not isinstance(msg, m.All.Reader)
    with pytest.raises(TypeError, match="abstract base class"):
        m.All.Reader()
    assert msg.schema == m.All.schema
    assert msg.is_root and not msg.s.is_root


@pytest.mark.parametrize(
    "field, size",
    [("ints", 2**29), ("texts", 2**29), ("structs", 2**29 // 4), ("t", 2**29 - 1), ("d", 2**29)],
)
def test_init_beyond_capnp_list_limits_raises(m, field, size):
    # capnp's layout code panics (after allocating) past 2**29 elements or struct-list
    # words; the size is refused first, with nothing written.
    msg = m.All.new_message()
    with pytest.raises(capnp.KjException, match=r"2\*\*29"):
        msg.init(field, size)
    assert not msg._has(field)
    lst = msg.init("nested", 1)
    with pytest.raises(capnp.KjException, match=r"2\*\*29"):
        lst.init(0, 2**29)


def test_uint64_above_int64_and_negative_values_round_trip(m):
    msg = m.All.new_message()
    for value in (2**63, 2**64 - 1, 0):
        msg.u64 = value
        assert msg.u64 == value
    with pytest.raises(capnp.KjException):
        msg.u64 = -1
    msg.i64 = -(2**63)
    assert msg.i64 == -(2**63)


def test_reader_list_iteration_matches_indexing(m):
    msg = m.All.new_message()
    msg.ints = [3, -1, 2**31 - 1]
    msg.texts = ["a", "", "ü"]
    s = msg.init("structs", 2)
    s[1].i32 = 9
    r = m.All.from_bytes(msg.to_bytes())
    for name in ("ints", "texts", "structs", "bools"):
        lst = getattr(r, name)
        assert [str(x) for x in lst] == [str(lst[i]) for i in range(len(lst))]
    assert list(r.ints) == [3, -1, 2**31 - 1]
    assert [x.i32 for x in r.structs] == [0, 9]
    it = iter(r.texts)
    assert next(it) == "a" and list(it) == ["", "ü"]


def test_list_assignment_of_plain_values(m):
    msg = m.All.new_message()
    msg.ints = [1, -2, 2**31 - 1]
    msg.texts = ["x", "", "ünï"]
    msg.datas = [b"\x00\x01", b""]
    msg.bools = [True, False, True]
    msg.colors = ["green", 0]
    msg.nested = [[1, 2], [], [-3]]
    r = m.All.from_bytes(msg.to_bytes())
    assert list(r.ints) == [1, -2, 2**31 - 1]
    assert list(r.texts) == ["x", "", "ünï"]
    assert list(r.datas) == [b"\x00\x01", b""]
    assert list(r.bools) == [True, False, True]
    assert [str(c) for c in r.colors] == ["green", "red"]
    assert [list(x) for x in r.nested] == [[1, 2], [], [-3]]


@pytest.mark.parametrize("values", [[1, 2**31], [1, "x"], [1, 1.5], [None]])
def test_list_assignment_rejects_a_bad_element(m, values):
    msg = m.All.new_message()
    with pytest.raises((capnp.KjException, TypeError, ValueError, OverflowError)):
        msg.ints = values
