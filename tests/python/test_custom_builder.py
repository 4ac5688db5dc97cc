"""Messages built in the caller's buffers (`_PyCustomMessageBuilder(allocate_seg_callable)`,
`new_message(allocate_seg_callable=...)`, issue 11 item 5): the callable is asked for each
segment, the message lives in the buffers it returns, bad buffers raise, and writes made to
the buffers behind the message's back are refused instead of trusted."""

import gc
import mmap

import pytest

import capnp


@pytest.fixture
def contacts(schemas):
    return capnp.load(str(schemas / "contacts.capnp"))


class Recorder:
    """An allocate_seg_callable that records what it was asked and what it gave."""

    def __init__(self, make=lambda words: bytearray(8 * words)):
        self.make = make
        self.requests = []
        self.buffers = []

    def __call__(self, words):
        self.requests.append(words)
        buf = self.make(words)
        self.buffers.append(buf)
        return buf


def assert_in_buffers(segments, buffers):
    assert len(segments) == len(buffers)
    for seg, buf in zip(segments, buffers):
        assert bytes(memoryview(buf)[: len(seg)]) == bytes(seg)


def test_segments_are_the_callables_buffers(contacts):
    alloc = Recorder()
    builder = capnp._PyCustomMessageBuilder(alloc)
    assert alloc.requests == [1024]  # the first segment: pycapnp's default size
    root = builder.init_root(contacts.Contact)
    root.id = 0x01020304
    root.name = "Alice"
    root.avatar = b"\xab" * 9000  # does not fit the first segment
    assert alloc.requests[0] == 1024 and len(alloc.requests) == 2
    # The second request is the minimum: the Data (1,125 words) and a landing pad.
    assert alloc.requests[1] == 1126
    segments = builder.get_segments_for_output()
    assert_in_buffers(segments, alloc.buffers)
    # Writes land in the buffer in place.
    assert (0x01020304).to_bytes(4, "little") in bytes(alloc.buffers[0])
    root.id = 0x0A0B0C0D
    assert (0x0A0B0C0D).to_bytes(4, "little") in bytes(alloc.buffers[0])
    segments = builder.get_segments_for_output()
    assert_in_buffers(segments, alloc.buffers)
    again = contacts.Contact.from_segments([bytes(s) for s in segments])
    assert (again.id, again.name, again.avatar) == (0x0A0B0C0D, "Alice", b"\xab" * 9000)


def test_first_segment_size_and_new_message(contacts):
    alloc = Recorder()
    builder = capnp._PyCustomMessageBuilder(alloc, 3)
    root = builder.init_root(contacts.Contact)
    root.name = "a longer name than three words"
    assert alloc.requests[0] == 3
    assert len(alloc.requests) > 1
    assert_in_buffers(builder.get_segments_for_output(), alloc.buffers)

    alloc = Recorder()
    msg = contacts.Contact.new_message(allocate_seg_callable=alloc, name="Bob", id=7)
    assert alloc.requests == [1024]
    assert msg.to_bytes()[8:] in bytes(alloc.buffers[0])
    alloc = Recorder()
    msg = contacts.Contact.new_message(16, allocate_seg_callable=alloc)
    assert alloc.requests == [16]


def test_writable_memoryview_and_a_larger_buffer(contacts):
    arena = bytearray(1 << 16)
    offsets = []

    def carve(words):
        start = sum(offsets) if offsets else 0
        offsets.append(words * 8 * 2)
        return memoryview(arena)[start : start + words * 16]

    builder = capnp._PyCustomMessageBuilder(carve, 8)
    root = builder.init_root(contacts.Contact)
    root.tags = ["t%d" % i for i in range(20)]
    segments = builder.get_segments_for_output()
    assert len(segments) > 1
    start = 0
    for seg, size in zip(segments, offsets):
        assert arena[start : start + len(seg)] == bytes(seg)
        start += size
    assert list(contacts.Contact.from_segments([bytes(s) for s in segments]).tags) == [
        "t%d" % i for i in range(20)
    ]


def test_shared_memory_through_mmap(contacts, tmp_path):
    path = tmp_path / "shared.bin"
    path.write_bytes(b"\0" * 8 * 4096)
    with open(path, "r+b") as f:
        shared = mmap.mmap(f.fileno(), 0)
        builder = capnp._PyCustomMessageBuilder(lambda words: shared, 64)
        root = builder.init_root(contacts.Contact)
        root.name = "in shared memory"
        root.tags = ["x", "y"]
        words = len(builder.get_segments_for_output()[0])
        # Another mapping of the same file (another process would see the same) holds it.
        with open(path, "rb") as g, mmap.mmap(g.fileno(), 0, access=mmap.ACCESS_READ) as other:
            seen = contacts.Contact.from_segments([other[:words]])
            assert seen.name == "in shared memory"
            assert list(seen.tags) == ["x", "y"]
        # The mapping stays exported while the message lives.
        with pytest.raises(BufferError):
            shared.close()
        del root, builder, seen
        gc.collect()
        shared.close()


def test_buffers_stay_alive_and_fixed_while_the_message_lives(contacts):
    alloc = Recorder()
    msg = contacts.Contact.new_message(allocate_seg_callable=alloc)
    buf = alloc.buffers[0]
    alloc.buffers.clear()
    with pytest.raises(BufferError):
        buf.extend(b"more")
    msg.name = "still here"
    del msg
    gc.collect()
    buf.extend(b"more")


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda words: bytes(8 * words), TypeError),
        (lambda words: memoryview(bytes(8 * words)), TypeError),
        (lambda words: 5, TypeError),
        (lambda words: "text", TypeError),
        (lambda words: memoryview(bytearray(16 * words))[::2], TypeError),
        (lambda words: bytearray(4), capnp.KjException),
        (lambda words: memoryview(bytearray(8 * words + 8))[1 : 8 * words + 1], capnp.KjException),
    ],
)
def test_bad_first_buffers_raise(contacts, make, error):
    with pytest.raises(error):
        capnp._PyCustomMessageBuilder(make)
    with pytest.raises(error):
        contacts.Contact.new_message(allocate_seg_callable=make)


def test_a_raising_callable_and_a_non_callable(contacts):
    def fails(words):
        raise RuntimeError("no memory today")

    with pytest.raises(RuntimeError, match="no memory today"):
        capnp._PyCustomMessageBuilder(fails)
    with pytest.raises(TypeError):
        capnp._PyCustomMessageBuilder(5)
    with pytest.raises(TypeError):
        contacts.Contact.new_message(allocate_seg_callable=5)


def test_the_same_memory_twice_is_refused(contacts):
    arena = bytearray(8 * 1024)
    # A 32-word first segment, then the whole arena, which contains it.
    views = [memoryview(arena)[4096:4352], memoryview(arena)]
    msg = contacts.Contact.new_message(8, allocate_seg_callable=lambda words: views.pop(0))
    with pytest.raises(capnp.KjException, match="returned before"):
        msg.name = "y" * 400


def test_a_bad_later_buffer_fails_the_operation_and_the_message(contacts):
    calls = []

    def first_good(words):
        calls.append(words)
        return bytearray(8 * words) if len(calls) == 1 else b"read-only"

    msg = contacts.Contact.new_message(8, allocate_seg_callable=first_good)
    msg.id = 1
    with pytest.raises(capnp.KjException, match="read-only"):
        msg.name = "x" * 200
    with pytest.raises(capnp.KjException, match="allocate_seg_callable"):
        msg.id = 2


def test_writes_behind_the_messages_back_are_refused(contacts):
    alloc = Recorder()
    msg = contacts.Contact.new_message(allocate_seg_callable=alloc, name="n", tags=["a"])
    buf = alloc.buffers[0]
    # The root pointer made to point far outside the segment.
    buf[0:8] = (0x7FFFFFF0 << 2).to_bytes(8, "little")
    with pytest.raises(capnp.KjException, match="modified outside the message"):
        msg.name = "again"
    with pytest.raises(capnp.KjException, match="modified outside the message"):
        msg.tags[0]

    alloc = Recorder()
    msg = contacts.Contact.new_message(allocate_seg_callable=alloc, name="n")
    # Garbage in the unused end of the segment, where capnp expects zeros.
    alloc.buffers[0][-8:] = b"\xff" * 8
    with pytest.raises(capnp.KjException, match="not zero"):
        msg.init("phones", 3)


def test_too_small_names_the_sizes(contacts):
    with pytest.raises(capnp.KjException, match="buffer too small for minimumSize"):
        capnp._PyCustomMessageBuilder(lambda words: bytearray(0))


def test_copies_into_buffers(contacts):
    source = contacts.Contact.new_message(name="copied", tags=["a", "b"])
    for copy_of in (source.copy, source.as_reader().as_builder):
        alloc = Recorder()
        copy = copy_of(allocate_seg_callable=alloc)
        assert alloc.requests == [1024]
        assert copy.to_dict() == source.to_dict()
        assert copy.to_bytes()[8:] in bytes(alloc.buffers[0])


def test_same_bytes_as_an_ordinary_message(contacts):
    fields = {"id": 3, "name": "same", "tags": ["p", "q"], "phones": [{"number": "1", "kind": "fax"}]}
    alloc = Recorder()
    ours = contacts.Contact.new_message(allocate_seg_callable=alloc, **fields)
    plain = contacts.Contact.new_message(**fields)
    assert ours.to_bytes() == plain.to_bytes()
    assert ours.to_dict() == plain.to_dict()
    assert ours.as_reader().name == "same"
    copy = ours.copy()
    assert copy.to_dict() == plain.to_dict()
