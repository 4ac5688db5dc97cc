"""Zero-copy reading (any buffer, released by `with`), memoryviews over lists of numbers, and
the GIL released around packing, unpacking and copies (API.md 3.1, DESIGN decisions 4, 7)."""

import array
import gc
import mmap
import os
import pathlib
import sys
import threading

import pytest

import capnp
from differential import assert_same_output

# Not `from conftest import SCHEMAS`: tests/python/rpc has a conftest module of its own.
SCHEMAS = pathlib.Path(__file__).parent / "schemas"


@pytest.fixture
def m():
    return capnp.load(str(SCHEMAS / "alltypes.capnp"))


def sample(m):
    msg = m.All.new_message(i32=-5, u64=2**63, t="hi", ints=[1, -2, 70000], bools=[True, False])
    msg.init("structs", 2)[1].i16 = 3
    return msg


def sample_bytes(m):
    return sample(m).to_bytes()


# --- reading in place ---------------------------------------------------------------------


def test_every_buffer_kind_reads_the_same(m):
    data = sample_bytes(m)
    inputs = [
        data,
        bytearray(data),
        memoryview(data),
        memoryview(bytearray(data)),
        array.array("q", bytes(data)),  # 8-byte items: read as raw bytes
        memoryview(data).cast("I"),
    ]
    expected = m.All.from_bytes(data).to_dict()
    for buf in inputs:
        with m.All.from_bytes(buf) as r:
            assert r.to_dict() == expected, type(buf)


def test_non_contiguous_and_unaligned_buffers_are_copied(m):
    data = sample_bytes(m)
    doubled = bytearray(len(data) * 2)
    doubled[::2] = data
    strided = memoryview(doubled)[::2]
    assert not strided.c_contiguous
    with m.All.from_bytes(strided) as r:
        assert r.i32 == -5
    unaligned = memoryview(bytearray(b"\0" + data))[1:]
    with m.All.from_bytes(unaligned) as r:
        assert list(r.ints) == [1, -2, 70000]
    # Copied inputs behave like the others after the block.
    with pytest.raises(ValueError, match="buffer was released"):
        r.i32


def test_reader_keeps_a_bytearray_exported_until_exit(m):
    ba = bytearray(sample_bytes(m))
    with m.All.from_bytes(ba) as r:
        with pytest.raises(BufferError):
            ba.extend(b"x" * 8)
        assert r.i32 == -5
        child = r.structs[1]
        ints = r.ints
    ba.extend(b"x" * 8)  # released at exit: resizable again
    for use in (lambda: r.i32, lambda: child.i16, lambda: ints[0], lambda: len(ints), r.to_dict):
        with pytest.raises(ValueError, match="buffer was released"):
            use()


def test_without_with_the_reader_holds_the_export_until_dropped(m):
    ba = bytearray(sample_bytes(m))
    r = m.All.from_bytes(ba)
    ints = r.ints
    del r
    gc.collect()
    with pytest.raises(BufferError):
        ba.extend(b"x")  # the list still holds the message
    assert list(ints) == [1, -2, 70000]
    del ints
    gc.collect()
    ba.extend(b"x")


def test_memoryview_input_can_be_released_after_exit(m):
    view = memoryview(bytearray(sample_bytes(m)))
    with m.All.from_bytes(view) as r:
        assert r.t == "hi"
    view.release()


def test_mmap_is_read_in_place_and_can_be_closed_after_exit(m, tmp_path):
    path = tmp_path / "msg.bin"
    path.write_bytes(sample_bytes(m))
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        with m.All.from_bytes(mm) as r:
            assert r.i32 == -5
            with pytest.raises(BufferError):
                mm.close()
        mm.close()
        with pytest.raises(ValueError, match="buffer was released"):
            r.i32


def test_bytes_readers_stay_valid_after_exit(m):
    data = sample_bytes(m)
    with m.All.from_bytes(data) as r:
        pass
    assert r.i32 == -5  # as pycapnp: nothing to release


def test_builder_true_copies_and_releases_at_once(m):
    ba = bytearray(sample_bytes(m))
    b = m.All.from_bytes(ba, builder=True)
    ba.extend(b"x")
    b.i32 = 9
    assert b.i32 == 9 and list(b.ints) == [1, -2, 70000]


def test_from_segments_and_packed_of_buffers(m):
    msg = sample(m)
    segs = [bytearray(s) for s in msg.to_segments()]
    with m.All.from_segments(segs) as r:
        assert r.i32 == -5
        with pytest.raises(BufferError):
            segs[0].extend(b"x")
    segs[0].extend(b"x")
    msg.clear_write_flag()
    packed = bytearray(msg.to_bytes_packed())
    r = m.All.from_bytes_packed(packed)
    packed.extend(b"x")  # unpacked into the reader's own memory: not kept exported
    assert r.i32 == -5


def test_read_multiple_bytes_of_a_bytearray(m):
    ba = bytearray(sample_bytes(m) * 3)
    readers = list(m.All.read_multiple_bytes(ba))
    assert [r.i32 for r in readers] == [-5, -5, -5]
    with pytest.raises(BufferError):
        ba.extend(b"x")


def test_non_buffers_are_type_errors(m):
    for bad in ("text", 3, None, [1, 2]):
        with pytest.raises(TypeError, match="expected buffer-like object"):
            m.All.from_bytes(bad)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_reading_a_large_mmap_does_not_copy_it(m, tmp_path):
    size = 64 * 1024 * 1024
    path = tmp_path / "big.bin"
    msg = m.All.new_message(i32=11)
    msg.init("d", size)
    with open(path, "wb") as f:
        msg.write(f)
    del msg
    gc.collect()

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        before = rss()
        with m.All.from_bytes(mm, traversal_limit_in_words=2**40) as r:
            assert r.i32 == 11
            assert r._has("d")
            growth = rss() - before
        mm.close()
    assert growth < size // 8, "reading grew RSS by %d bytes" % growth


# --- memoryview over lists of numbers -----------------------------------------------------


LIST_TYPES = [
    ("Int8", "b", [-128, 0, 127]),
    ("UInt8", "B", [0, 255]),
    ("Int16", "h", [-32768, 32767]),
    ("UInt16", "H", [65535, 1]),
    ("Int32", "i", [-(2**31), 2**31 - 1]),
    ("UInt32", "I", [2**32 - 1]),
    ("Int64", "q", [-(2**63), 2**63 - 1]),
    ("UInt64", "Q", [2**64 - 1, 0]),
    ("Float32", "f", [1.5, -0.25]),
    ("Float64", "d", [1e300, -2.5]),
]


@pytest.fixture
def lists(tmp_path):
    fields = "\n".join(
        "  f%s @%d :List(%s);" % (name, i, name) for i, (name, _, _) in enumerate(LIST_TYPES)
    )
    n = len(LIST_TYPES)
    extra = "  bools @%d :List(Bool);\n  texts @%d :List(Text);\n  empty @%d :List(Int32);\n" % (
        n, n + 1, n + 2)
    path = tmp_path / "lists.capnp"
    path.write_text("@0xc1d2e3f4a5b6c7d8;\nstruct L {\n%s\n%s}\n" % (fields, extra))
    return capnp.load(str(path))


def make_lists(lists):
    msg = lists.L.new_message(bools=[True], texts=["a"])
    for name, _, values in LIST_TYPES:
        setattr(msg, "f" + name, values)
    return msg


@pytest.mark.parametrize("name,fmt,values", LIST_TYPES)
def test_memoryview_of_a_reader_list(lists, name, fmt, values):
    data = make_lists(lists).to_bytes()
    r = lists.L.from_bytes(data)
    view = memoryview(getattr(r, "f" + name))
    assert view.format == fmt
    assert view.readonly
    assert view.ndim == 1 and view.shape == (len(values),)
    assert view.itemsize == array.array(fmt).itemsize
    assert view.tolist() == values
    assert array.array(fmt, view.tobytes()).tolist() == values
    with pytest.raises(TypeError):
        view[0] = 0


def test_reader_list_view_points_into_the_message(lists):
    ba = bytearray(make_lists(lists).to_bytes())
    r = lists.L.from_bytes(ba)
    view = memoryview(r.fInt32)
    pos = ba.find(array.array("i", [-(2**31), 2**31 - 1]).tobytes())
    assert pos > 0
    ba[pos : pos + 4] = array.array("i", [42]).tobytes()
    assert view[0] == 42  # the same memory, no copy


def test_list_view_outlives_the_with_block_and_keeps_the_buffer(lists):
    ba = bytearray(make_lists(lists).to_bytes())
    with lists.L.from_bytes(ba) as r:
        view = memoryview(r.fInt16)
    with pytest.raises(ValueError, match="buffer was released"):
        r.fInt16
    assert view.tolist() == [-32768, 32767]
    with pytest.raises(BufferError):
        ba.extend(b"x")  # the view still uses the bytes
    view.release()
    ba.extend(b"x")


def test_list_view_keeps_the_message_alive(lists):
    r = lists.L.from_bytes_packed(make_lists(lists).to_bytes_packed())
    view = memoryview(r.fFloat64)
    lst = view.obj
    del r
    gc.collect()
    assert view.tolist() == [1e300, -2.5]
    assert lst.__class__.__name__ == "_DynamicListReader"


def test_builder_list_views_are_read_only_copies(lists):
    msg = make_lists(lists)
    view = memoryview(msg.fInt64)
    msg.fInt64[0] = 5
    assert view.tolist() == [-(2**63), 2**63 - 1]
    assert view.readonly
    assert memoryview(msg.fInt64).tolist() == [5, 2**63 - 1]


def test_lists_without_a_flat_layout_refuse(lists):
    r = lists.L.from_bytes(make_lists(lists).to_bytes())
    with pytest.raises(BufferError, match="bit-packed"):
        memoryview(r.bools)
    with pytest.raises(BufferError):
        memoryview(r.texts)
    assert memoryview(r.empty).tolist() == []
    assert list(r.bools) == [True]  # the sequence protocol still works


def test_default_list_view(m):
    r = m.All.from_bytes(m.All.new_message().to_bytes())
    assert memoryview(r.defL).tolist() == [1, 2]


# --- get_data_as_view ---------------------------------------------------------------------


def test_data_view_of_a_builder_is_writable_in_place(m):
    msg = m.All.new_message(d=b"abc")
    view = msg.get_data_as_view("d")
    assert not view.readonly and view.format == "B" and view.tobytes() == b"abc"
    view[0] = 0x5A
    assert msg.d == b"Zbc"
    assert len(view.obj) == 3 and view.obj.owner is msg
    before = sys.getrefcount(msg)
    again = msg.get_data_as_view("d")
    assert sys.getrefcount(msg) == before + 1
    del again


def test_data_view_of_a_reader_is_read_only_and_in_place(m):
    ba = bytearray(m.All.new_message(d=b"xyz").to_bytes())
    with m.All.from_bytes(ba) as r:
        view = r.get_data_as_view("d")
    assert view.readonly
    with pytest.raises(TypeError):
        view[0] = 1
    pos = ba.find(b"xyz")
    ba[pos] = ord("Q")  # the same memory
    assert view.tobytes() == b"Qyz"
    view.release()
    ba.extend(b"x")


def test_data_view_edge_cases(m):
    assert len(m.All.new_message().get_data_as_view("d")) == 0
    assert m.All.from_bytes(m.All.new_message().to_bytes()).get_data_as_view("d").tobytes() == b""
    with pytest.raises(TypeError, match="Field 't' is not a DATA field"):
        m.All.new_message().get_data_as_view("t")
    with pytest.raises(AttributeError, match="nope"):
        m.All.new_message().get_data_as_view("nope")
    # A builder's view as a reader is a copy.
    b = m.All.new_message(d=b"ab")
    rv = b.as_reader().get_data_as_view("d")
    b.d = b"cd"
    assert rv.tobytes() == b"ab"


# --- the GIL ------------------------------------------------------------------------------


def big_message(m):
    msg = m.All.new_message()
    ints = msg.init("ints", 3_000_000)
    for i in range(0, 3_000_000, 997):
        ints[i] = i
    return msg


def runs_python_meanwhile(call, rounds=20):
    """Whether the main thread ran Python code while another thread was inside `call()`.

    With a huge switch interval, a thread holding the GIL keeps it until it blocks or ends.
    The worker calls `call` up to `rounds` times, stopping once the main thread has run; the
    main thread runs before all rounds are done only if `call` releases the GIL itself."""
    state = {"done": 0, "seen": None}
    errors = []

    def work():
        try:
            rounds_of_work()
        except Exception as e:  # reported by the caller
            errors.append(e)

    def rounds_of_work():
        for _ in range(rounds):
            call()
            state["done"] += 1
            if state["seen"] is not None:
                break

    old = sys.getswitchinterval()
    sys.setswitchinterval(1000)
    try:
        t = threading.Thread(target=work)
        t.start()  # returns once the worker gives the GIL up (or ends)
        state["seen"] = state["done"]
    finally:
        sys.setswitchinterval(old)
    t.join()
    assert errors == []
    return state["seen"] < rounds


def writes(msg, packed=False):
    """A serialization call that does not warn (a warning's output would release the GIL)."""
    def call():
        msg.to_bytes_packed() if packed else msg.to_bytes()
        msg.clear_write_flag()
    return call


def test_gil_released_while_packing_and_copying(m):
    msg = big_message(m)
    packed = msg.to_bytes_packed()
    msg.clear_write_flag()
    reader = m.All.from_bytes(msg.to_bytes(), traversal_limit_in_words=2**40)
    msg.clear_write_flag()
    assert runs_python_meanwhile(writes(msg, packed=True))
    assert runs_python_meanwhile(writes(msg))
    assert runs_python_meanwhile(lambda: m.All.from_bytes_packed(packed))
    assert runs_python_meanwhile(reader.as_builder)
    assert runs_python_meanwhile(msg.copy)


def test_gil_held_while_reading_a_writable_buffer(m):
    msg = big_message(m)
    packed = bytearray(msg.to_bytes_packed())
    msg.clear_write_flag()
    reader = m.All.from_bytes(bytearray(msg.to_bytes()), traversal_limit_in_words=2**40)
    # Python code could write these inputs meanwhile, so the work keeps the GIL.
    assert not runs_python_meanwhile(lambda: m.All.from_bytes_packed(packed))
    assert not runs_python_meanwhile(reader.as_builder)


def test_gil_held_while_a_builder_has_writable_views(m):
    msg = big_message(m)
    msg.d = b"abc"
    view = msg.get_data_as_view("d")
    assert not runs_python_meanwhile(writes(msg))
    assert not runs_python_meanwhile(msg.copy)
    view.release()
    del view
    gc.collect()
    assert runs_python_meanwhile(writes(msg))


def test_results_are_correct_under_threads(m):
    msg = big_message(m)
    data = msg.to_bytes()
    errors = []

    def work(k):
        try:
            for _ in range(3):
                local = m.All.from_bytes(data).as_builder()
                local.ints[k] = k
                again = m.All.from_bytes_packed(local.to_bytes_packed())
                assert again.ints[k] == k and again.ints[997] == 997
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# --- against pycapnp ----------------------------------------------------------------------

DIFFERENTIAL = """
import capnp, mmap, os
m = capnp.load("alltypes.capnp")
msg = m.All.new_message(i32=-5, t="hi", ints=[1, -2, 3], bools=[True, False])
msg.init("structs", 1)[0].u8 = 9
data = msg.to_bytes()
with open("msg.bin", "wb") as f:
    f.write(data)
for buf in (data, bytearray(data), memoryview(data), memoryview(bytearray(data))):
    with m.All.from_bytes(buf) as r:
        print(type(buf).__name__, r.to_dict())
with open("msg.bin", "rb") as f:
    mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    with m.All.from_bytes(mm) as r:
        print("mmap", r.i32, list(r.ints), r.structs[0].u8)
print([r.i32 for r in m.All.read_multiple_bytes(bytearray(data * 2))])
print(m.All.from_segments(msg.to_segments()).t)
b = m.All.new_message(d=b"abc")
v = b.get_data_as_view("d")
print(v.readonly, v.format, v.nbytes, v.tobytes())
v[1] = 0x5A
print(b.d)
with m.All.from_bytes(b.to_bytes()) as r:
    rv = r.get_data_as_view("d")
    print(rv.readonly, rv.tobytes())
    try:
        rv[0] = 1
    except TypeError as e:
        print("TypeError", e)
for name in ("t", "nope"):
    try:
        b.get_data_as_view(name)
    except TypeError as e:
        print("TypeError", e)
    except AttributeError as e:
        print("AttributeError", "nope" in str(e))
"""


def test_buffers_against_pycapnp(tmp_path):
    (tmp_path / "alltypes.capnp").write_text((SCHEMAS / "alltypes.capnp").read_text())
    assert_same_output(DIFFERENTIAL, tmp_path)
