"""Struct handle objects released without PyO3's trampoline and their memory reused
(crates/python/src/lean_object.rs): a struct list element's object gives back exactly the
references it held (its list object, the registry) when it goes, whatever order things are
dropped in; reused memory never shows an earlier object's values; struct and list handles
whose base another handle shares (fields of a live parent) are released by the lean slot
too, and handles that may own their message (roots, the last handle of a message) keep
PyO3's release; the kinds mix."""

import gc
import sys

import pytest

import capnp


@pytest.fixture
def a(schemas):
    return capnp.load(str(schemas / "alltypes.capnp"))


def _message(a, n=40):
    msg = a.All.new_message()
    structs = msg.init("structs", n)
    for i in range(n):
        structs[i].i32 = i
        structs[i].t = "t%d" % i
    return msg


def _lists(a, n=40):
    msg = _message(a, n)
    return msg, a.All.from_bytes(msg.to_bytes())


def _registry_references():
    # Every struct handle holds a reference to its parser's registry (`_Registry`). Parsers
    # of earlier tests that are garbage are collected first: a collection between two counts
    # would otherwise take their registries' references out of the second. (A parser's
    # release can take more than one collection: until one finds nothing.)
    for _ in range(10):
        if not gc.collect():
            break
    return sum(sys.getrefcount(o) for o in gc.get_objects() if type(o).__name__ == "_Registry")


def test_elements_release_their_list_and_registry(a):
    msg, reader = _lists(a)
    for lst in (reader.structs, msg.structs):
        registry_holder = lst[0]
        # Each element a subscript makes holds a reference to the list object.
        before = sys.getrefcount(lst)
        registries = _registry_references()
        elements = [lst[i] for i in range(len(lst))]
        assert sys.getrefcount(lst) == before + len(lst)
        elements += list(lst)
        assert [e.i32 for e in elements] == list(range(len(lst))) * 2
        del elements
        assert sys.getrefcount(lst) == before
        assert _registry_references() == registries
        del registry_holder
        assert sys.getrefcount(lst) == before - 1


def test_reused_memory_reads_as_new(a):
    """Objects released and made again (beyond the kept count too) read their own values,
    for readers and builders alternating, and field values of non-element handles mixed in."""
    msgs = [_lists(a, n) for n in (3, 200, 17)]
    for _ in range(3):
        for msg, reader in msgs:
            for lst in (reader.structs, msg.structs):
                n = len(lst)
                assert [e.i32 for e in lst] == list(range(n))
                assert [lst[i].t for i in range(n)] == ["t%d" % i for i in range(n)]
                kept = [lst[i] for i in range(0, n, 2)]
                del lst
                gc.collect()
                assert [e.i32 for e in kept] == list(range(0, n, 2))
            root = msg.as_reader()
            assert root.structs[1].t == "t1" and root.structs[2].i32 == 2


def test_elements_outlive_their_list_message_and_module_objects(a):
    """The last element of a list, dropped after everything else, releases the list, which
    releases the message."""
    for make in (lambda m, r: r.structs, lambda m, r: m.structs):
        msg, reader = _lists(a, 5)
        lst = make(msg, reader)
        elements = [lst[i] for i in range(5)]
        del msg, reader, lst
        gc.collect()
        assert [e.t for e in elements] == ["t%d" % i for i in range(5)]
        while elements:
            elements.pop()
        gc.collect()


def test_making_and_dropping_elements_keeps_memory_flat(a):
    import tracemalloc

    msg, reader = _lists(a, 100)
    lists = (reader.structs, msg.structs)

    def churn():
        for _ in range(300):
            for lst in lists:
                list(lst)
                for i in range(100):
                    lst[i]

    churn()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        churn()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 100_000, grown


def test_non_element_handles_keep_their_own_release(a):
    """Roots own their message (no list kept): released by PyO3, through the same memory
    slots, interleaved with elements and fields (released by the lean slot while their root
    lives, by PyO3 once they are the message's last handle)."""
    msg = _message(a, 4)
    data = msg.to_bytes()
    reader = a.All.from_bytes(data)
    for _ in range(200):
        r = a.All.from_bytes(data)
        s = r.s
        e = r.structs[3]
        b = a.All.new_message(i32=5)
        assert (e.i32, s.i32, b.i32) == (3, 0, 5)
        del r, s, e, b
    for _ in range(50):
        r = a.All.from_bytes(data)
        s = r.s
        del r  # the field is now the message's last handle
        assert s.i32 == 0 and s.structs is not None
        del s
    assert reader.structs[2].t == "t2"


def test_handles_are_not_tracked_by_the_collector(a):
    """Handles, made from new memory or from kept memory, are not tracked by the cyclic
    collector (their `tp_traverse` visits none of their references, so it could find no
    cycle through them), and collections with many handles alive change nothing they read
    or keep."""
    msg, reader = _lists(a)
    for lst in (reader.structs, msg.structs):
        assert not gc.is_tracked(lst)
        for _ in range(3):
            elements = [lst[i] for i in range(len(lst))]  # from kept memory after the first
            many = [lst[i % len(lst)] for i in range(400)]  # more than the kept blocks
            assert not any(gc.is_tracked(e) for e in elements + many)
            ids = {id(e) for e in elements + many}
            assert not ids & {id(o) for o in gc.get_objects()}
            gc.collect()
            assert [e.i32 for e in many] == [i % len(lst) for i in range(400)]
            assert [e.t for e in elements] == [f"t{i}" for i in range(len(lst))]
            del elements, many
    for owner in (reader, msg):
        assert not gc.is_tracked(owner)
        assert not gc.is_tracked(owner.s)


def test_bound_methods_of_handles_are_not_tracked(a):
    """A handle's bound method (`h.to_bytes`, `h.init`: our own bound-method objects, made
    new or from kept memory) is not tracked by the cyclic collector, as its handle is not:
    no cycle the collector could free runs through it. It still works after collections."""
    msg, reader = _lists(a)
    for h in (msg, reader, msg.structs[0], reader.structs[0]):
        for _ in range(3):
            methods = [h.to_dict for _ in range(40)]  # more than the kept blocks
            assert type(methods[0]).__name__ == "_BoundMethod"
            assert not any(gc.is_tracked(m) for m in methods)
            gc.collect()
            assert all(m() == methods[0]() for m in methods)
            del methods
    assert not gc.is_tracked(msg.init)


class _Buffer(bytearray):
    """A message segment that can be watched with a weak reference."""


def _built_in_python_buffers():
    """A message builder whose segments are `_Buffer`s from a Python callable, and weak
    references to the callable and to every buffer it hands out (the list grows as it
    does). Only the builder holds the callable."""
    import weakref

    buffers = []

    class Allocate:
        def __call__(self, words):
            buf = _Buffer(8 * words)
            buffers.append(weakref.ref(buf))
            return buf

    allocate = Allocate()
    built = capnp._PyCustomMessageBuilder(allocate)
    buffers.append(weakref.ref(allocate))
    return built, buffers


def test_list_handles_release_their_references(a):
    """List handles are released by the lean slot while another handle shares their base,
    by PyO3's otherwise: the registry reference goes back at once either way, and the last
    handle of a message built in Python buffers releases the buffers and the callable at
    once."""
    msg, reader = _lists(a)
    for owner in (reader, msg):
        registries = _registry_references()
        handles = [owner.structs for _ in range(50)]
        assert _registry_references() > registries
        del handles
        assert _registry_references() == registries
    built, buffers = _built_in_python_buffers()
    root = built.init_root(a.All)
    lst = root.init("structs", 3)
    lst[2].i32 = 7
    again = root.structs
    del root, built
    assert again[2].i32 == 7 and lst[2].i32 == 7
    del again
    assert all(ref() is not None for ref in buffers)
    del lst
    assert buffers and all(ref() is None for ref in buffers)


def test_struct_field_handles_release_their_references(a):
    """Struct field handles of readers and builders are released by the lean slot while
    their parent shares their base, by PyO3's otherwise: the registry reference goes back at
    once either way, and a field kept after everything else (the message's last handle)
    releases a message built in Python buffers, its buffers and callable, at once."""
    msg = _message(a)
    msg.s.i32 = 3
    reader = a.All.from_bytes(msg.to_bytes())
    for owner in (reader, msg, msg.as_reader()):
        registries = _registry_references()
        handles = [owner.s for _ in range(50)]
        handles += [h.s for h in handles]
        assert _registry_references() > registries
        assert all(h.i32 in (0, 3) for h in handles)
        del handles
        assert _registry_references() == registries
    built, buffers = _built_in_python_buffers()
    root = built.init_root(a.All)
    field = root.init("s")
    field.i32 = 7
    inner = field.init("s")
    inner.i32 = 8
    again = root.s
    del root, built
    assert (again.i32, field.i32, inner.i32) == (7, 7, 8)
    del again, inner
    assert all(ref() is not None for ref in buffers)
    assert field.s.i32 == 8
    del field
    assert buffers and all(ref() is None for ref in buffers)


def test_objects_made_without_pyo3_construction_are_whole(a):
    """Handles after the first of their class are made by `new_object` (memory from the
    class's slot, the value written in place): they are of exactly their class, untracked by
    the collector as every handle is, hashable and comparable as any handle, and read their
    own values, for struct and list handles of readers and builders, fresh and from kept
    memory."""
    msg = _message(a, 6)
    msg.s.i32 = 11
    reader = a.All.from_bytes(msg.to_bytes())
    for owner in (reader, msg):
        kinds = {type(owner.s), type(owner.structs), type(owner.structs[0])}
        for _ in range(3):
            made = [owner.s for _ in range(200)] + [owner.structs for _ in range(200)]
            made += [owner.structs[i % 6] for i in range(200)]
            assert {type(h) for h in made} == kinds
            assert not any(gc.is_tracked(h) for h in made)
            assert [h.i32 for h in made[:200]] == [11] * 200
            assert [len(h) for h in made[200:400]] == [6] * 200
            assert [h.i32 for h in made[400:]] == [i % 6 for i in range(200)]
            assert len({id(h) for h in made}) == len(made)
            del made


def test_last_handle_releases_the_message_bytes_at_once(a):
    """A field handle that outlives its root is the message's last handle: its release (by
    PyO3's slot, since its base is no longer shared) drops the message, and with it the
    reference to the bytes it was read from, at once (not later, at the next call into the
    module). Struct and list fields, and a field of a field."""
    msg = _message(a, 3)
    msg.s.i32 = 4
    data = msg.to_bytes()
    for make in (lambda r: r.s, lambda r: r.structs, lambda r: r.s.s, lambda r: r.ints):
        base = sys.getrefcount(data)
        reader = a.All.from_bytes(data)
        assert sys.getrefcount(data) > base
        handle = make(reader)
        del reader
        assert sys.getrefcount(data) > base
        del handle
        assert sys.getrefcount(data) == base


def test_builder_last_handles_release_python_objects_at_once(a):
    """A builder message's last handle (a root, a list or struct field) is released by the
    lean slot when the message holds nothing of Python's (heap segments, no capability
    context), else by PyO3's slot: a message built in Python buffers gives its allocation
    callable and buffers back at once. Heap messages so released are freed (their bytes, as
    read back through views, stay valid only while a handle lives)."""
    buffers = []

    def alloc(words):
        buffers.append(bytearray(8 * words))
        return buffers[-1]

    for make in (lambda m: m, lambda m: m.init("structs", 2), lambda m: m.init("ints", 3),
                 lambda m: m.init("s")):
        base = sys.getrefcount(alloc)
        msg = a.All.new_message(allocate_seg_callable=alloc, i32=9)
        handle = make(msg)
        del msg
        assert sys.getrefcount(alloc) > base
        del handle
        assert sys.getrefcount(alloc) == base
        # The list's reference and the call's (counted outside the assertion, whose
        # rewriting keeps its operands).
        counts = [sys.getrefcount(buffers[i]) for i in range(len(buffers))]
        assert counts and counts == [2] * len(counts)
        buffers.clear()
    for _ in range(300):
        msg = a.All.new_message(i32=3)
        ints = msg.init("ints", 2)
        ints[1] = 7
        del msg
        assert list(ints) == [0, 7]
        del ints
