"""Messages of many segments cross between pycapnp 2.2.4 and this package: each side reads
what the other wrote, flat, packed and as separate segments, with equal content."""

import pathlib
import sys

from differential import ORACLE_PYTHON, run

SCHEMAS = pathlib.Path(__file__).parent / "schemas"

WRITER = """
import capnp
c = capnp.load("contacts.capnp")

def fill(m):
    m.id = 77
    m.name = "n" * 100
    m.avatar = bytes(range(256)) * 20
    m.tags = ["t%d" % i * 30 for i in range(20)]
    m.phones = [{"number": str(i) * 50, "kind": i % 3} for i in range(10)]
    m.status.init("employer").title = "ACME" * 40

# A tiny first segment makes every later allocation spill into a new segment.
m = c.Contact.new_message(num_first_segment_words=1)
fill(m)
segments = m.to_segments()
m.clear_write_flag()
open("flat.bin", "wb").write(m.to_bytes())
m.clear_write_flag()
open("packed.bin", "wb").write(m.to_bytes_packed())
open("segments.txt", "w").write(repr(segments))

builder = capnp._MallocMessageBuilder(2)
fill(builder.init_root(c.Contact))
open("builder.txt", "w").write(repr(builder.get_segments_for_output()))
print(len(segments), len(builder.get_segments_for_output()))
print(m.to_dict())
"""

READER = """
import ast, capnp
c = capnp.load("contacts.capnp")
readers = {
    "flat": c.Contact.from_bytes(open("flat.bin", "rb").read()),
    "packed": c.Contact.from_bytes_packed(open("packed.bin", "rb").read()),
    "segments": c.Contact.from_segments(ast.literal_eval(open("segments.txt").read())),
    "builder": c.Contact.from_segments(ast.literal_eval(open("builder.txt").read())),
}
with open("flat.bin", "rb") as f:
    readers["read"] = c.Contact.read(f)
dicts = {name: (r.__enter__() if hasattr(r, "__enter__") else r).to_dict() for name, r in readers.items()}
first = dicts["flat"]
print(sorted(name for name, d in dicts.items() if d == first))
print(first)
"""


def roundtrip(writer, reader, directory):
    (directory / "contacts.capnp").write_text((SCHEMAS / "contacts.capnp").read_text())
    code, written, err = run(writer, WRITER, directory)
    assert code == 0, err
    code, read, err = run(reader, READER, directory)
    assert code == 0, err
    counts, content = written.split("\n", 1)
    flat_segments, builder_segments = (int(n) for n in counts.split())
    assert flat_segments >= 5 and builder_segments >= 3, counts
    names, read_content = read.split("\n", 1)
    assert names == "['builder', 'flat', 'packed', 'read', 'segments']"
    assert read_content == content
    return content


def test_pycapnp_reads_ours(tmp_path):
    roundtrip(sys.executable, ORACLE_PYTHON, tmp_path)


def test_we_read_pycapnp(tmp_path):
    roundtrip(ORACLE_PYTHON, sys.executable, tmp_path)


def test_both_directions_agree(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ours = roundtrip(sys.executable, ORACLE_PYTHON, tmp_path / "a")
    theirs = roundtrip(ORACLE_PYTHON, sys.executable, tmp_path / "b")
    assert ours == theirs
