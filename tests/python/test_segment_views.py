"""`to_segment_views()` (issue 11, item 7; pycapnp's development branch, not 2.2.4): read-only
memoryviews of a builder's segments, in place, for zero-copy writes such as `sendmsg`."""

import gc
import pathlib
import socket
import warnings

import pytest

import capnp

SCHEMAS = pathlib.Path(__file__).parent / "schemas"


@pytest.fixture
def alltypes():
    return capnp.load(str(SCHEMAS / "alltypes.capnp"))


def test_views_are_the_segments(alltypes):
    msg = alltypes.All.new_message(num_first_segment_words=2, t="x" * 200, ints=list(range(50)))
    views = msg.to_segment_views()
    assert len(views) > 1
    assert repr(views) == "<capnp segment views count=%d>" % len(views)
    assert [bytes(v) for v in views] == msg.to_segments()
    assert [bytes(v) for v in views] == [bytes(v) for v in list(iter(views))]
    assert bytes(views[-1]) == bytes(views[len(views) - 1])
    with pytest.raises(IndexError):
        views[len(views)]
    for v in views:
        assert isinstance(v, memoryview) and v.readonly and v.format == "B"
        assert v.nbytes % 8 == 0
    # Read back without copying the views' bytes.
    back = alltypes.All.from_segments(list(views))
    assert back.t == "x" * 200 and list(back.ints) == list(range(50))


def test_views_are_in_place_not_copies(alltypes):
    msg = alltypes.All.new_message(i32=1)
    (view,) = msg.to_segment_views()
    before = bytes(view)
    msg.i32 = 0x01020304
    after = bytes(view)
    assert before != after
    assert (0x01020304).to_bytes(4, "little") in after


def test_views_are_read_only(alltypes):
    import ctypes

    msg = alltypes.All.new_message(i32=1)
    view = msg.to_segment_views()[0]
    with pytest.raises(TypeError):
        view[0] = 1
    # No writable export of a segment either: Python never writes what builders trust.
    with pytest.raises((BufferError, TypeError)):
        (ctypes.c_char * 8).from_buffer(view.obj)


def test_views_keep_the_message_alive(alltypes):
    msg = alltypes.All.new_message(t="kept alive")
    views = msg.to_segment_views()
    expected = [bytes(v) for v in views]
    del msg
    gc.collect()
    assert [bytes(v) for v in views] == expected
    assert alltypes.All.from_segments(list(views)).t == "kept alive"


def test_sendmsg_with_views(alltypes):
    msg = alltypes.All.new_message(num_first_segment_words=2, t="over the socket", ints=[7] * 40)
    framed = msg.to_bytes()
    msg.clear_write_flag()
    views = msg.to_segment_views()
    # Stream framing: the segment table, then the segments themselves, unjoined.
    n = len(views)
    table = (n - 1).to_bytes(4, "little") + b"".join(v.nbytes.__floordiv__(8).to_bytes(4, "little") for v in views)
    if len(table) % 8:
        table += b"\0" * 4
    a, b = socket.socketpair()
    with a, b:
        sent = a.sendmsg([table, *views])
        assert sent == len(framed)
        received = b""
        while len(received) < len(framed):
            received += b.recv(65536)
    assert received == framed
    assert alltypes.All.from_bytes(received).t == "over the socket"


def test_root_only_and_write_flag(alltypes):
    msg = alltypes.All.new_message(s={"i8": 1})
    with pytest.raises(capnp.KjException, match="root"):
        msg.s.to_segment_views()
    # Checks the write-once flag without setting it.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        msg.to_segment_views()
        msg.to_bytes()
    with pytest.warns(UserWarning, match="already been written"):
        msg.to_segment_views()
