"""Serialization: bytes, packed, segments, files, copies, and interop with pycapnp's bytes."""

import os
import select
import signal
import subprocess
import threading
import warnings

import pytest

import capnp
from differential import ORACLE_PYTHON, assert_same_output


@pytest.fixture
def c(schemas):
    return capnp.load(str(schemas / "contacts.capnp"))


def sample(c):
    return c.Contact.new_message(
        id=7, name="Ann", avatar=b"\x00\x01", tags=["a", "b"],
        phones=[{"number": "555", "kind": "landline"}], status={"retired": "2019"},
    )


EXPECTED = {
    "id": 7, "name": "Ann", "avatar": b"\x00\x01", "tags": ["a", "b"],
    "phones": [{"number": "555", "kind": "landline"}], "status": {"retired": "2019"},
}


def test_round_trips(c):
    assert c.Contact.from_bytes(sample(c).to_bytes()).to_dict() == EXPECTED
    assert c.Contact.from_bytes_packed(sample(c).to_bytes_packed()).to_dict() == EXPECTED
    assert c.Contact.from_segments(sample(c).to_segments()).to_dict() == EXPECTED
    assert c.Contact.from_bytes(bytearray(sample(c).to_bytes())).to_dict() == EXPECTED
    assert c.Contact.from_bytes(memoryview(sample(c).to_bytes())).to_dict() == EXPECTED
    assert len(sample(c).to_bytes_packed()) < len(sample(c).to_bytes())


def test_write_once_warning(c):
    msg = sample(c)
    msg.to_bytes()
    assert msg._is_written()
    with pytest.warns(UserWarning, match="This message has already been written once.") as w:
        msg.to_bytes()
    # Attributed to the line that wrote, as pycapnp's.
    assert w[0].filename == __file__
    for write in (msg.to_bytes_packed, msg.to_segments):
        with pytest.warns(UserWarning, match="already been written once"):
            write()
    msg.clear_write_flag()
    msg.to_bytes()


def test_to_segments_checks_the_write_flag_without_setting_it(c):
    """As pycapnp 2.2.4: `to_segments()` warns when the message was written already, but does
    not mark it written (a repeated `to_segments()`, then `to_bytes()`, warn not)."""
    msg = sample(c)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        msg.to_segments()
        msg.to_segments()
        assert not msg._is_written()
        msg.to_bytes()
    assert msg._is_written()
    with pytest.warns(UserWarning, match="already been written once"):
        msg.to_segments()


WARNING_FILTERS_SCRIPT = """
import warnings
import capnp

c = capnp.load(%r)
msg = c.Contact.new_message(id=7, name="Ann", tags=["a"])
msg.to_bytes()
base = list(warnings.filters)


def write(kind):
    return getattr(msg, kind)()


def attempt(kind):
    with warnings.catch_warnings(record=True) as seen:
        try:
            write(kind)
        except Warning as e:
            return "raised %%s: %%s" %% (type(e).__name__, str(e)[:40])
        except Exception as e:
            # Bad filter items fail inside CPython's warnings machinery, whose wording
            # changes between versions (this runs under 3.9-3.13, the oracle under 3.11).
            return "raised %%s" %% type(e).__name__
    return [(w.category.__name__, w.lineno, str(w.message)[:30]) for w in seen]


def filters(*items):
    warnings.filters[:] = base
    warnings.resetwarnings()
    for item in items:
        if item[0] == "raw":
            warnings.filters.insert(0, item[1])
        else:
            kind, *args = item
            kw = args.pop() if args and isinstance(args[-1], dict) else {}
            getattr(warnings, kind)(*args, **kw)


SCENARIOS = [
    [("simplefilter", "ignore")],
    [("simplefilter", "error")],
    [("simplefilter", "always")],
    [("simplefilter", "default")],
    [("simplefilter", "once")],
    [("simplefilter", "ignore"), ("simplefilter", "error")],
    [("simplefilter", "error"), ("simplefilter", "ignore")],
    [("simplefilter", "always"), ("simplefilter", "ignore", {"append": True})],
    [("simplefilter", "error"), ("filterwarnings", "ignore", {"category": UserWarning})],
    [("simplefilter", "error"), ("filterwarnings", "ignore", {"category": RuntimeWarning})],
    [("simplefilter", "ignore"), ("filterwarnings", "error", {"category": DeprecationWarning})],
    [("simplefilter", "ignore"), ("filterwarnings", "error", {"module": "elsewhere"})],
    [("simplefilter", "ignore"), ("filterwarnings", "error", {"module": "__main__"})],
    [("simplefilter", "ignore"), ("filterwarnings", "error", {"message": "This message"})],
    [("simplefilter", "ignore"), ("filterwarnings", "error", {"message": "nothing like"})],
    [("simplefilter", "ignore"), ("filterwarnings", "error", {"lineno": 12})],
    [("simplefilter", "ignore"), ("filterwarnings", "error", {"lineno": 13})],
    [("simplefilter", "ignore"), ("raw", ("error", None, UserWarning, "__main__", 0))],
    [("simplefilter", "ignore"), ("raw", ("error", None, RuntimeWarning, "__main__", 0))],
    [("simplefilter", "ignore"), ("raw", "not a filter")],
    [("simplefilter", "ignore"), ("raw", (b"error", None, Warning, None, 0))],
    [("simplefilter", "ignore"), ("raw", ("error", None, Warning, None, "0"))],
    [("simplefilter", "ignore"), ("raw", ("error", None, "Warning", None, 0))],
    [("simplefilter", "ignore"), ("raw", ("error", None, RuntimeWarning, None, 2 ** 70))],
]

print("registry before:", "__warningregistry__" in globals())
for items in SCENARIOS:
    filters(*items)
    for kind in ("to_bytes", "to_bytes_packed", "to_segments"):
        print(items, kind, [attempt(kind) for _ in range(3)])
print("registry after:", "__warningregistry__" in globals())

# A registry of the wrong type raises, None is allowed (as CPython's warnings).
filters(("simplefilter", "ignore"))
for registry in (None, 5, {}):
    globals()["__warningregistry__"] = registry
    # (Its content is CPython's cache, not compared: a skipped warning leaves a stale
    # registry to be cleared by the next full call, see warning.rs.)
    print("registry", type(registry).__name__, [attempt("to_bytes") for _ in range(2)])

# Filters changed between writes, without catch_warnings in between.
globals()["__warningregistry__"] = {}
warnings.simplefilter("ignore")
write("to_bytes")
warnings.simplefilter("error")
try:
    write("to_bytes")
    print("no error")
except UserWarning as e:
    print("error", str(e)[:20])
warnings.filters.pop(0)
write("to_bytes")

# A "certainly ignored" answer is reused only while nothing it read has changed
# (warning.rs, *Cache*): an item replaced in place (same length, same list, same module
# dict), another caller's globals, another `warnings` module in sys.modules, another
# filter list.
warnings.simplefilter("ignore")
write("to_bytes")
write("to_bytes")
warnings.filters[0] = ("error", None, Warning, None, 0)
try:
    write("to_bytes")
    print("no error")
except UserWarning as e:
    print("error after the item was replaced", str(e)[:20])
warnings.filters[0] = ("ignore", None, Warning, None, 0)
write("to_bytes")
other = {"msg": msg, "__name__": "other"}
exec("msg.to_bytes()", other)
print("other caller's registry made:", "__warningregistry__" in other)
import sys
import types


def under_another_warnings_module():
    # In a function: the caller's globals stay unchanged between the two writes.
    fake = types.ModuleType("warnings")
    fake.filters = [("error", None, Warning, None, 0)]
    real = sys.modules["warnings"]
    write("to_bytes")
    sys.modules["warnings"] = fake
    try:
        write("to_bytes")
        print("no error")
    except UserWarning as e:
        print("error under another warnings module", str(e)[:20])
    finally:
        sys.modules["warnings"] = real


under_another_warnings_module()


def under_another_filter_list():
    # `warnings.filters` rebound: the module's dict changes, the old list does not.
    write("to_bytes")
    saved = warnings.filters
    warnings.filters = [("error", None, Warning, None, 0)]
    try:
        write("to_bytes")
        print("no error")
    except UserWarning as e:
        print("error under another filter list", str(e)[:20])
    finally:
        warnings.filters = saved


under_another_filter_list()
write("to_bytes")
print("done")
"""


def test_write_once_warning_under_every_filter(c, schemas, tmp_path):
    """The write-once warning is skipped when the filters certainly ignore it
    (`warning.rs`); under any filters it is shown, recorded, raised or ignored as pycapnp
    2.2.4's is, and the caller's `__warningregistry__` is made alike."""
    script = WARNING_FILTERS_SCRIPT % str(schemas / "contacts.capnp")
    assert_same_output(script, tmp_path)


def test_non_root_cannot_be_written(c):
    msg = sample(c)
    with pytest.raises(capnp.KjException, match="You can only call write\\(\\) on the message's root struct."):
        msg.status.to_bytes()
    with pytest.raises(capnp.KjException, match="root struct"):
        msg.phones[0].to_bytes()


def test_from_bytes_context_manager_and_builder(c):
    data = sample(c).to_bytes()
    with c.Contact.from_bytes(data) as r:
        assert r.name == "Ann"
    assert r.name == "Ann"
    b = c.Contact.from_bytes(data, builder=True)
    b.name = "Bob"
    assert b.name == "Bob" and c.Contact.from_bytes(data).name == "Ann"
    assert r.as_builder().name == "Ann"


def test_copy_and_as_reader(c):
    msg = sample(c)
    view = msg.as_reader()
    copy = msg.copy()
    msg.name = "Changed"
    assert view.name == "Changed" and copy.name == "Ann" and copy.is_root
    assert msg.total_size.word_count > 0 and msg.total_size.cap_count == 0


def test_files(c, tmp_path):
    path = tmp_path / "two.bin"
    with open(path, "wb") as f:
        sample(c).write(f)
        c.Contact.new_message(id=2).write(f)
    with open(path, "rb") as f:
        assert c.Contact.read(f).to_dict() == EXPECTED
        assert c.Contact.read(f).id == 2
        with pytest.raises(capnp.KjException, match="Premature EOF"):
            c.Contact.read(f)
    with open(path, "wb") as f:
        sample(c).write_packed(f)
    with open(path, "rb") as f:
        assert c.Contact.read_packed(f).to_dict() == EXPECTED


def test_bad_input_raises(c):
    data = sample(c).to_bytes()
    with pytest.raises(TypeError, match="expected buffer-like object"):
        c.Contact.from_bytes("text")
    with pytest.raises(TypeError):
        c.Contact.from_bytes(5)
    with pytest.raises(ValueError, match="multiple of eight"):
        c.Contact.from_bytes(data[:-3])
    with pytest.raises(capnp.KjException):
        c.Contact.from_bytes(data[:-8])
    with pytest.raises(capnp.KjException):
        c.Contact.from_bytes_packed(sample(c).to_bytes_packed()[:-3])
    with pytest.raises(capnp.KjException, match="root pointer"):
        c.Contact.from_segments([])
    with pytest.raises(TypeError):
        c.Contact.from_bytes_packed("text")


def test_garbage_never_crashes(c):
    import random

    rng = random.Random(1)
    data = bytearray(sample(c).to_bytes())
    for _ in range(300):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        try:
            r = c.Contact.from_bytes(bytes(mutated))
            r.to_dict(verbose=True)
            [p.number for p in r.phones]
        except (capnp.KjException, UnicodeDecodeError, ValueError):
            pass


def test_traversal_limit(c):
    data = sample(c).to_bytes()
    r = c.Contact.from_bytes(data, traversal_limit_in_words=40)
    with pytest.raises(capnp.KjException, match="Exceeded message traversal limit"):
        for _ in range(100):
            r.phones[0].number


def test_big_list_reads_within_the_default_budget(c):
    # Reading element i must not re-charge the whole list (the reference charges each
    # pointer the program follows once per access, not per internal re-walk).
    m = c.Contact.new_message()
    phones = m.init("phones", 2000)
    for i in range(2000):
        phones[i].number = str(i)
    r = c.Contact.from_bytes(m.to_bytes())
    d = r.to_dict()
    assert len(d["phones"]) == 2000 and d["phones"][1999]["number"] == "1999"
    text = str(r)
    assert text.count("number = ") == 2000 and '"1999"' in text
    phones = r.phones
    assert [p.number for p in phones] == [str(i) for i in range(2000)]


def test_re_reading_a_big_list_exhausts_the_budget(c):
    m = c.Contact.new_message()
    m.init("phones", 2000)
    r = c.Contact.from_bytes(m.to_bytes(), traversal_limit_in_words=50_000)
    with pytest.raises(capnp.KjException, match="Exceeded message traversal limit"):
        for _ in range(100):
            r.phones


ORACLE_WRITE = """
import capnp, sys
c = capnp.load(sys.argv[1])
m = c.Contact.new_message(id=7, name="Ann", avatar=b"\\x00\\x01", tags=["a", "b"])
m.init("phones", 1)[0].number = "555"
m.phones[0].kind = "landline"
m.status.retired = "2019"
sys.stdout.buffer.write(m.to_bytes())
"""

ORACLE_READ = """
import capnp, sys
c = capnp.load(sys.argv[1])
with c.Contact.from_bytes(sys.stdin.buffer.read()) as r:
    print(r.to_dict())
"""


def oracle(script, schema, stdin=b""):
    assert ORACLE_PYTHON.exists(), "pycapnp oracle missing: run scripts/install-oracles.sh"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(ORACLE_PYTHON), "-c", script, str(schema)], input=stdin, capture_output=True,
        env=env, timeout=60, check=True,
    )
    return proc.stdout


def test_reads_pycapnp_bytes(c, schemas):
    data = oracle(ORACLE_WRITE, schemas / "contacts.capnp")
    assert c.Contact.from_bytes(data).to_dict() == EXPECTED


def test_pycapnp_reads_our_bytes(c, schemas):
    out = oracle(ORACLE_READ, schemas / "contacts.capnp", sample(c).to_bytes())
    assert out.decode() == repr(EXPECTED) + "\n"


def test_struct_module_entry_points_after_specialization(c):
    # The first call gives the module a class of its own with native entry points; what a
    # program can see of the module does not change.
    module = c.Contact
    before = sorted(vars(module))
    data = sample(c).to_bytes()
    assert module.from_bytes(data).to_dict() == EXPECTED
    assert type(module).__name__ == "_StructModule"
    assert isinstance(module, capnp.lib.capnp._StructModule)
    assert sorted(vars(module)) == before
    assert "new_message" in dir(module) and "_specialize" not in dir(module)
    assert module.from_bytes(data, builder=True).to_dict() == EXPECTED
    assert module.from_bytes_packed(sample(c).to_bytes_packed()).to_dict() == EXPECTED
    # from_segments takes any iterable of buffers, a generator too.
    segments = sample(c).to_segments()
    assert module.from_segments(s for s in segments).to_dict() == EXPECTED
    # Lists and tuples are read by index, subclasses too (pycapnp 2.2.4 never calls their
    # __iter__ either: it takes len() and items).
    assert module.from_segments(tuple(segments)).to_dict() == EXPECTED

    iterated = []

    class Tracked(list):
        def __iter__(self):
            iterated.append(True)
            return super().__iter__()

    assert module.from_segments(Tracked(segments)).to_dict() == EXPECTED
    assert iterated == []
    assert module.new_message(**EXPECTED).to_dict() == EXPECTED


def test_large_data_reads_are_exact_copies(c):
    # 9 MB: over the size from which the copy goes into memory advised for huge pages.
    blob = bytes(range(251)) * (9 * 1000 * 1000 // 251)
    b = c.Contact.new_message(id=1, avatar=blob)
    r = c.Contact.from_bytes(b.to_bytes(), traversal_limit_in_words=1 << 30)
    for got in (b.avatar, r.avatar, r.to_dict()["avatar"], b.to_dict()["avatar"]):
        assert type(got) is bytes
        assert got == blob


def _framed(segments):
    """Standard stream framing of `segments`, written out by the spec: the segment count
    minus one and each size in words (little-endian u32s, padded to a word), then the
    segments."""
    sizes = [len(s) // 8 for s in segments]
    table = [len(segments) - 1] + sizes
    if len(table) % 2:
        table.append(0)
    return b"".join([b"".join(n.to_bytes(4, "little") for n in table), *map(bytes, segments)])


@pytest.mark.parametrize("size", [100, 1 << 20, 3 << 20, 9 * 1000 * 1000])
def test_to_bytes_is_the_framing_of_its_segments(c, size):
    # Small messages are copied under the lock with the GIL held; from 1 MiB on the
    # `bytes` is filled with the GIL released, unzeroed (and from 8 MiB advised for huge
    # pages and split between two threads, part boundaries on both sides of the split):
    # every path gives the framing of the segments, every byte written.
    blob = bytes(range(251)) * (size // 251 + 1)
    b = c.Contact.new_message(id=3, name="Ann", avatar=blob[:size], tags=["x"] * 3)
    segments = b.to_segments()
    assert len(segments) > 1 or size < 8000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = b.to_bytes()
    assert type(out) is bytes
    assert out == _framed(segments)
    r = c.Contact.from_bytes(out, traversal_limit_in_words=1 << 30)
    assert r.avatar == blob[:size] and list(r.tags) == ["x"] * 3


def test_large_copies_from_threads_at_once_and_after_fork(c):
    # From 8 MiB on, a copy into a new `bytes` (a Data read, `to_bytes()`) has its second half
    # written by a helper thread, one copy at a time: copies from several threads at once (the
    # `to_bytes()` fill runs with the GIL released), and copies in a child forked while the
    # helper thread lives (the child has no such thread and starts its own), give every byte.
    size = 9 * 1000 * 1000
    blob = (bytes(range(251)) * (size // 251 + 1))[:size]
    b = c.Contact.new_message(id=3, avatar=blob)
    data = b.to_bytes()
    r = c.Contact.from_bytes(data, traversal_limit_in_words=1 << 30)
    assert r.avatar == blob
    results = []

    def copy_many():
        for _ in range(4):
            results.append((r.avatar == blob, b.to_bytes() == data))

    with warnings.catch_warnings():
        # `to_bytes()` again warns (as pycapnp's does); `fork` with threads warns on 3.12+.
        warnings.simplefilter("ignore")
        threads = [threading.Thread(target=copy_many) for _ in range(3)]
        for t in threads:
            t.start()
        copy_many()
        for t in threads:
            t.join()
        assert results == [(True, True)] * 16
        if not hasattr(os, "fork"):
            return
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                ok = r.avatar == blob and b.to_bytes() == data and r.avatar == blob
                os.write(write_end, b"1" if ok else b"0")
            finally:
                os._exit(0)
        os.close(write_end)
        try:
            # The child's answer, or b"" if it died first; nothing in 60 s: it hangs.
            ready, _, _ = select.select([read_end], [], [], 60)
            answer = os.read(read_end, 1) if ready else b"(no answer in 60 s)"
        finally:
            os.close(read_end)
            os.kill(pid, signal.SIGKILL)  # gone already (a zombie) unless it hangs
            os.waitpid(pid, 0)
    assert answer == b"1"



def spilled_contact(c, n, texts):
    """A Contact whose `phones` list did not fit its first segment: a later segment holds the
    list, reached from the root through a single far pointer (its landing pad there). Without
    texts the message has exactly two segments (the framing our reader keeps without capnp's
    table); with them, two or more."""
    m = c.Contact.new_message(num_first_segment_words=8)
    m.id = 5
    phones = m.init("phones", n)
    for i in range(n):
        if texts:
            phones[i].number = str(i)
        phones[i].kind = i % 3
    if texts:
        m.tags = ["x", "y"]
    return m


@pytest.mark.parametrize("texts", [False, True])
@pytest.mark.parametrize("n", [1, 3, 200])
def test_a_spilled_list_reads_back_through_its_far_pointer(c, n, texts):
    m = spilled_contact(c, n, texts)
    segments = m.to_segments()
    assert len(segments) >= 2 if texts else len(segments) == 2
    m.clear_write_flag()
    data = m.to_bytes()
    m.clear_write_flag()
    packed = m.to_bytes_packed()
    kinds = ["cell", "landline", "fax"]
    want = [(str(i) if texts else "", kinds[i % 3]) for i in range(n)]
    readers = [c.Contact.from_bytes(data), c.Contact.from_bytes(bytearray(data)),
               c.Contact.from_segments(segments), c.Contact.from_bytes_packed(packed)]
    for r in readers:
        phones = r.phones
        assert len(phones) == n
        assert [(p.number, str(p.kind)) for p in phones] == want
        assert phones[n - 1].number == want[-1][0]
        assert r.id == 5 and list(r.tags) == (["x", "y"] if texts else [])
        assert r.to_dict()["phones"][-1]["kind"] == kinds[(n - 1) % 3]
    # The same words as the reading through capnp's segment table (from_segments).
    with c.Contact.from_bytes(data) as r:
        copy = r.as_builder().to_segments()
    assert copy == c.Contact.from_segments(segments).as_builder().to_segments()


def test_a_two_segment_message_past_the_traversal_limit_raises(c):
    data = spilled_contact(c, 200, False).to_bytes()
    with pytest.raises(capnp.KjException, match="too large"):
        c.Contact.from_bytes(data, traversal_limit_in_words=100)
    with pytest.raises(capnp.KjException):
        c.Contact.from_bytes(data[:-8])
    with c.Contact.from_bytes(data, traversal_limit_in_words=2 ** 62) as r:
        assert len(r.phones) == 200
