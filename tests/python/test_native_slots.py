"""The type slots installed without PyO3's trampoline (crates/python/src/ffi.rs): list
`len()` and subscripts, struct attribute reads. Each must behave exactly as the class's own
`__len__`/`__getitem__`/`__getattribute__` (which the slot wrappers in the type dict still
reach), errors included."""

import gc
import inspect
import operator

import pytest

import capnp


@pytest.fixture
def a(schemas):
    return capnp.load(str(schemas / "alltypes.capnp"))


@pytest.fixture
def c(schemas):
    return capnp.load(str(schemas / "contacts.capnp"))


def _lists(a):
    msg = a.All.new_message(ints=[5, -6, 7], texts=["x", "yé", ""])
    structs = msg.init("structs", 2)
    structs[0].i32 = 11
    structs[1].t = "second"
    reader = a.All.from_bytes(msg.to_bytes())
    return [
        (msg.ints, [5, -6, 7]),
        (msg.texts, ["x", "yé", ""]),
        (reader.ints, [5, -6, 7]),
        (reader.texts, ["x", "yé", ""]),
    ], [msg.structs, reader.structs]


def test_list_slots_match_the_methods(a):
    plain, structs = _lists(a)
    for lst, expected in plain:
        cls = type(lst)
        assert len(lst) == cls.__len__(lst) == len(expected)
        assert operator.length_hint(lst) == len(expected)
        for i in range(-len(expected), len(expected)):
            assert lst[i] == cls.__getitem__(lst, i) == expected[i]
        assert lst[True] == expected[1]
        assert lst[1:] == cls.__getitem__(lst, slice(1, None)) == expected[1:]
        assert lst[::-1] == expected[::-1]
        for bad in (len(expected), -len(expected) - 1, 2**70, -(2**70)):
            with pytest.raises(IndexError, match="Out of bounds"):
                lst[bad]
            with pytest.raises(IndexError, match="Out of bounds"):
                cls.__getitem__(lst, bad)
        for bad in ("0", 1.0, None):
            with pytest.raises(TypeError):
                lst[bad]
    for lst in structs:
        assert len(lst) == 2
        assert lst[0].i32 == 11 and lst[-1].t == "second"
        assert type(lst).__getitem__(lst, 1).t == "second"


def test_list_classes_cannot_be_subclassed_or_given_to_other_objects(a):
    """The lean `len()`, subscript and `next()` slots take their object to be of their own
    class unchecked (ffi.rs, `final_slot_owner`): no subclass may inherit them and no object
    of another layout may take the class as its `__class__`, nor these objects another."""
    plain, structs = _lists(a)
    msg = a.All.new_message(ints=[1, 2])
    objects = [lst for lst, _ in plain] + structs + [iter(msg.ints)]
    classes = {type(o) for o in objects}
    assert len(classes) == 3
    for cls in classes:
        with pytest.raises(TypeError):
            type("Sub", (cls,), {})
    others = [object(), msg, msg.ints, msg.as_reader().ints, iter(msg.ints), 5]
    for obj in objects:
        for other in others:
            if type(other) is type(obj):
                continue
            with pytest.raises(TypeError):
                obj.__class__ = type(other)
    # A struct refuses the name as a field (AttributeError) or CPython refuses the layout.
    for other in [msg, msg.as_reader(), object()]:
        for cls in classes:
            with pytest.raises((TypeError, AttributeError)):
                other.__class__ = cls
    assert len(msg.ints) == 2 and list(iter(msg.ints)) == [1, 2]


def test_builder_list_length_follows_a_reinit(a):
    msg = a.All.new_message()
    old = msg.init("ints", 3)
    assert len(old) == 3
    msg.init("ints", 5)
    # The handle re-derives its list: the field now holds 5 elements.
    assert len(old) == 5 and old[4] == 0
    with pytest.raises(IndexError, match="Out of bounds"):
        old[5]


def test_struct_attribute_slot_matches_getattribute(c, a):
    msg = c.Contact.new_message(id=3, name="ann", status={"retired": "2020"})
    reader = c.Contact.from_bytes(msg.to_bytes())
    for obj in (msg.status, reader.status):
        get = type(obj).__getattribute__
        assert obj.which == get(obj, "which") == "retired"
        assert obj.which() == "retired"
    for obj in (msg, reader):
        get = type(obj).__getattribute__
        assert obj.id == get(obj, "id") == 3
        assert obj.name == get(obj, "name") == "ann"
        assert obj.to_dict() == get(obj, "to_dict")()
        assert obj.schema is get(obj, "schema")
        with pytest.raises(AttributeError, match="has no such member; name = nosuch"):
            obj.nosuch
        with pytest.raises(AttributeError, match="has no such member; name = nosuch"):
            get(obj, "nosuch")
        with pytest.raises(AttributeError):
            obj.__nosuch__
        assert getattr(obj, "nosuch", 7) == 7
    # A field named `which` on a struct without a union: the method wins, as in pycapnp.
    b = a.All.new_message()
    b._set("which", 3)
    for obj in (b, a.All.from_bytes(b.to_bytes())):
        with pytest.raises(capnp.KjException):
            obj.which
        assert obj._get("which") == 3


def test_struct_builder_write_slot_matches_setattr(a):
    # Plain values written through the lean slot, everything else through PyO3's: the same
    # values and the same errors as the class's own `__setattr__` (which the wrapper in the
    # type dict reaches, as a subclass's `super().__setattr__` does).
    cls = type(a.All.new_message())
    values = {"v": None, "b": True, "i8": -5, "i64": -(2**63), "u64": 2**64 - 1,
              "f32": 1.5, "f64": -0.25, "t": "té", "d": b"\x00\x01", "e": "green"}

    for how in ("slot", "wrapper"):
        msg = a.All.new_message()
        for name, value in values.items():
            if how == "slot":
                setattr(msg, name, value)
            else:
                cls.__setattr__(msg, name, value)
        assert {k: getattr(msg, k) for k in values} == values
        msg.s = {"i32": 3}  # not plain: PyO3's slot
        msg.ints = [1, 2]
        assert msg.s.i32 == 3 and list(msg.ints) == [1, 2]
        for bad, value, error, match in [
            ("nosuch", 1, AttributeError, "has no such member; name = nosuch"),
            ("i8", 1000, capnp.KjException, "out-of-range"),
            ("u64", -1, capnp.KjException, "out-of-range"),
            ("u64", 2**64, OverflowError, "too big"),
            ("i32", "x", capnp.KjException, "type mismatch"),
            ("t", 5, capnp.KjException, "type mismatch"),
            ("e", "nosuchcolor", AttributeError, "no such enumerant; name = nosuchcolor"),
        ]:
            with pytest.raises(error, match=match):
                if how == "slot":
                    setattr(msg, bad, value)
                else:
                    cls.__setattr__(msg, bad, value)
        with pytest.raises(AttributeError):
            del msg.i32
        with pytest.raises(AttributeError):
            cls.__delattr__(msg, "i32")
    # object's own setattr never writes a field (CPython refuses the class before 3.13, then
    # finds no attribute to set).
    msg = a.All.new_message()
    with pytest.raises((TypeError, AttributeError)):
        object.__setattr__(msg, "i32", 1)
    assert msg.i32 == 0


def test_number_lists_through_the_write_slot_match_setattr(a):
    # Lists of numbers into list fields of numbers go through the lean slot in one step
    # (`set_number_list`); anything it does not take goes on to PyO3's slot. Both entries
    # write the same and raise the same, leaving the same bytes behind.
    cls = type(a.All.new_message())
    cases = [
        ("ints", [1, -2, 2**31 - 1], None),
        ("ints", (0,), None),
        ("ints", [], None),
        ("bools", [True, False, True], None),
        ("defL", [255, 0], None),
        ("ints", [1, 2**31], (capnp.KjException, "out-of-range")),
        ("ints", [1, "x"], (capnp.KjException, "type mismatch")),
        ("defL", [1, -1], (capnp.KjException, "out-of-range")),
        ("ints", [1, 2**64], (OverflowError, "too big")),
    ]
    results = {}
    for how in ("slot", "wrapper"):
        out = []
        for name, value, error in cases:
            msg = a.All.new_message()
            msg.ints = [9, 9, 9, 9]  # the slot not null: the old list is zeroed
            if error is None:
                if how == "slot":
                    setattr(msg, name, value)
                else:
                    cls.__setattr__(msg, name, value)
                assert list(getattr(msg, name)) == list(value)
            else:
                with pytest.raises(error[0], match=error[1]):
                    if how == "slot":
                        setattr(msg, name, value)
                    else:
                        cls.__setattr__(msg, name, value)
            out.append(msg.to_bytes())
        results[how] = out
    assert results["slot"] == results["wrapper"]


def test_struct_assignment_through_both_entries(a, c):
    # A struct reader or builder assigned to a struct field is copied (set_field's first
    # check); the slot and the type's wrapper write the same and raise the same.
    cls = type(a.All.new_message())
    src = a.All.new_message(i32=5, t="inner", ints=[1, 2])
    src_bytes = src.to_bytes()
    out = {}
    for how in ("slot", "wrapper"):
        msg = a.All.new_message()
        for value in (src, src.as_reader(), a.All.from_bytes(src_bytes)):
            if how == "slot":
                msg.s = value
            else:
                cls.__setattr__(msg, "s", value)
            assert (msg.s.i32, msg.s.t, list(msg.s.ints)) == (5, "inner", [1, 2])
        with pytest.raises(capnp.KjException):
            if how == "slot":
                msg.s = c.Contact.new_message()
            else:
                cls.__setattr__(msg, "s", c.Contact.new_message())
        for name in ("\ud800", "nosuch"):
            with pytest.raises((UnicodeEncodeError, AttributeError)) as info:
                if how == "slot":
                    setattr(msg, name, src)
                else:
                    cls.__setattr__(msg, name, src)
            out.setdefault(name, set()).add(type(info.value))
        out.setdefault("bytes", set()).add(msg.to_bytes())
    assert out["\ud800"] == {UnicodeEncodeError}
    assert out["nosuch"] == {AttributeError}
    assert len(out["bytes"]) == 1


def test_struct_copies_through_the_write_slot_match_the_general_path(a, c):
    # The lean slot copies a struct from another message straight in (set_struct_direct);
    # `_set` takes set_field's path. The same bytes after every kind of source, over null
    # and non-null slots, and the same errors; handles taken before stay readable.
    def sources(own):
        src = a.All.new_message(i32=5, t="inner", ints=[1, 2], d=b"\x00\x01")
        src.init("s").t = "deep"
        elems = src.init("structs", 2)
        elems[1].i64 = -9
        elems[1].texts = ["x", "yz"]
        reader = a.All.from_bytes(src.to_bytes())
        return [src, src.as_reader(), reader, reader.s, src.s, src.structs[1],
                reader.structs[1], a.All.new_message(), own.structs[0], own.s]

    out = {}
    for how in ("slot", "general"):
        msg = a.All.new_message()
        msg.init("structs", 1)[0].t = "own element"
        kept = msg.s
        for value in sources(msg):
            if how == "slot":
                msg.s = value
            else:
                msg._set("s", value)
            assert kept.to_dict() == msg.s.to_dict() == value.to_dict()
            out.setdefault("bytes", []).append((how, msg.to_bytes()))
            msg.clear_write_flag()
        for bad in (c.Contact.new_message(), c.Contact.new_message().as_reader()):
            with pytest.raises(capnp.KjException) as info:
                if how == "slot":
                    msg.s = bad
                else:
                    msg._set("s", bad)
            out.setdefault("errors", set()).add((type(info.value), str(info.value)))
    steps = [b for how, b in out["bytes"] if how == "slot"]
    assert steps == [b for how, b in out["bytes"] if how == "general"]
    assert len(out["errors"]) == 1


def test_handles_taken_before_a_number_list_write_follow_it(a):
    # A handle is a path: after a list is written over, a list handle taken before reads the
    # new list (pycapnp's reads the zeroed old one), and child struct handles keep writing
    # into their own struct.
    msg = a.All.new_message()
    old = msg.init("ints", 2)
    child = msg.init("s")
    msg.ints = [10, 20, 30]
    assert list(old) == [10, 20, 30] and len(old) == 3
    child.ints = (4, 5)
    child.i32 = 6
    msg.s.bools = [True]
    assert list(msg.s.ints) == [4, 5] and msg.s.i32 == 6 and list(child.bools) == [True]
    msg.ints = []
    assert len(old) == 0 and list(msg.ints) == []


def test_builder_which_follows_union_changes(c):
    msg = c.Contact.new_message()
    status = msg.status
    assert status.which == "active"
    status.retired = "x"
    assert status.which == "retired" and msg.status.which == "retired"
    status.init("employer").title = "ACME"
    assert status.which == "employer"


def test_errors_in_lean_slots_free_their_objects_at_once(a):
    # The lean slots run without PyO3 counting the thread as attached; a Python object
    # dropped there would wait in PyO3's reference pool (unbounded in a loop of lean calls
    # only). Errors are restored inside `Python::attach`, so nothing accumulates.
    import tracemalloc

    msg = a.All.new_message(ints=[1, 2])
    reader = a.All.from_bytes(msg.to_bytes())
    lists = [msg.ints, reader.ints]

    def index_errors():
        for _ in range(20000):
            for lst in lists:
                try:
                    lst[5]
                except IndexError:
                    pass

    def attribute_errors():
        for _ in range(20000):
            try:
                reader.which
            except capnp.KjException:
                pass

    # Each loop alone: any PyO3 entry (another slot's error path included) drains the pool.
    for loop in (index_errors, attribute_errors):
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            loop()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert grown < 500_000, (loop.__name__, grown)


def test_struct_elements_share_their_list_and_outlive_it(a):
    """Struct list elements share their list's base (crates/dynamic message.rs `Elements`):
    they index like the list's own slots, reach their own children, outlive the list and
    message handles, and builder elements re-derive their place when the message changes."""
    msg = a.All.new_message()
    structs = msg.init("structs", 3)
    for i in range(3):
        structs[i].i32 = i
        structs[i].s.t = "s%d" % i
        structs[i].init("structs", 2)[1].ints = [i, i + 1]
    reader = a.All.from_bytes(msg.to_bytes())
    for lst in (structs, reader.structs):
        assert [e.i32 for e in lst] == [0, 1, 2]
        assert lst[-1].i32 == 2 and lst[-3].i32 == 0
        assert [e.i32 for e in lst[::-1]] == [2, 1, 0]
        assert [e.i32 for e in lst[1:]] == [1, 2]
        assert lst[1].s.t == "s1"
        assert list(lst[2].structs[1].ints) == [2, 3]
        assert lst[0] is not lst[0]
        for bad in (3, -4, 2**70):
            with pytest.raises(IndexError, match="Out of bounds"):
                lst[bad]
    r_grand = reader.structs[2].structs[1]
    b_elem = msg.structs[1]
    b_grand = structs[2].structs[1]
    del reader, structs
    gc.collect()
    assert list(r_grand.ints) == [2, 3]
    assert b_elem.s.t == "s1" and list(b_grand.ints) == [2, 3]
    b_elem.i32 = 10
    assert msg.structs[1].i32 == 10
    kept = msg.structs
    msg.init("structs", 1)
    assert len(kept) == 1 and kept[0].i32 == 0
    with pytest.raises(IndexError, match="Out of bounds"):
        kept[1]
    # Handles into the replaced list walk to elements that no longer exist.
    for stale in (lambda: b_elem.i32, lambda: list(b_grand.ints)):
        with pytest.raises(capnp.KjException, match="out-of-bounds"):
            stale()


def test_builder_list_len_and_elements_without_the_lock_stay_checked(a):
    """`len()` and struct elements of a builder list read its recorded location without the
    message lock (arena.rs `ListCache::peek`); a message change or a retired message sends
    them back to the checked path."""
    msg = a.All.new_message()
    structs = msg.init("structs", 2)
    assert len(structs) == 2 and structs[-1].i32 == 0
    structs[1].i32 = 5
    msg.t = "a pointer write: every recorded location is stale"
    assert len(structs) == 2 and structs[1].i32 == 5 and structs[-2].i32 == 0
    with pytest.raises(IndexError, match="Out of bounds"):
        structs[2]
    orphan = msg.disown("structs")
    in_orphan = orphan.get()
    assert len(in_orphan) == 2 and in_orphan[1].i32 == 5
    msg.adopt("structs", orphan)
    for gone in (lambda: len(in_orphan), lambda: in_orphan[0]):
        with pytest.raises(capnp.KjException, match="already adopted"):
            gone()
    assert len(msg.structs) == 2 and msg.structs[1].i32 == 5


def test_struct_elements_keep_their_list_and_their_children_outlive_both(a):
    """A struct element made by a list subscript borrows the list's shared part and keeps the
    list object alive (ffi.rs `lent_reader_element`/`lent_builder_element`); what is made from
    the element (children, copies, views) is independent of both."""
    msg = a.All.new_message()
    structs = msg.init("structs", 2)
    structs[1].i32 = 7
    structs[1].init("ints", 2)[1] = 9
    reader = a.All.from_bytes(msg.to_bytes())
    for lst in (reader.structs, msg.structs):
        elem = lst[1]
        as_list = list(lst)
        ints = elem.ints
        builder = type(elem).__name__ == "_DynamicStructBuilder"
        copied = elem.copy() if builder else elem.as_builder()
        view = elem.as_reader() if builder else elem
        del lst
        gc.collect()
        assert elem.i32 == 7 and as_list[1].i32 == 7
        del elem, as_list
        gc.collect()
        assert list(ints) == [0, 9] and copied.i32 == 7 and view.i32 == 7


def test_builder_list_fields_keep_their_struct_and_their_children_outlive_both(a):
    """A builder's list field read or initialised on a struct object whose children share its
    base borrows that base and keeps the struct object alive (ffi.rs `lent_builder_list`):
    the list works after every other reference to the struct is gone, the message is not
    recycled for the next `new_message()` meanwhile, and what is made from the list (elements,
    nested lists, copies, readers) is independent of both."""
    msg = a.All.new_message(ints=[1, 2, 3])
    ints = msg.ints  # the only handle left of its message below
    del msg
    gc.collect()
    # The next message would reuse a dropped root's memory: it must not get this one.
    other = a.All.new_message(ints=[9, 9, 9, 9])
    ints[0] = 10
    assert list(ints) == [10, 2, 3] and list(other.ints) == [9, 9, 9, 9]
    msg = a.All.new_message()
    lone = msg.init("texts", 2)  # likewise, initialised
    del msg
    gc.collect()
    other = a.All.new_message(texts=["o"])
    lone[1] = "second"
    assert list(lone) == ["", "second"] and list(other.texts) == ["o"]

    msg = a.All.new_message(ints=[10, 2, 3])
    ints = msg.ints
    structs = msg.init("structs", 2)
    nested = msg.init("nested", 2)
    nested.init(1, 2)[1] = -4
    structs[1].i32 = 8
    inner = structs[1].init("ints", 2)  # an element's list: its own base
    inner[0] = 5
    deep = msg.s.init("texts", 1)  # a struct field's list: its own base
    deep[0] = "deep"
    defaults = msg.defL  # null slot, default copied in: the walking path
    del msg
    gc.collect()
    assert list(ints) == [10, 2, 3]
    row = nested[1]
    elem = structs[1]
    del nested, structs
    gc.collect()
    assert list(row) == [0, -4] and elem.i32 == 8 and list(inner) == [5, 0]
    assert list(deep) == ["deep"] and list(defaults) == [1, 2]
    snapshot = ints.as_reader() if hasattr(ints, "as_reader") else list(ints)
    del ints
    gc.collect()
    assert list(snapshot) == [10, 2, 3]
    root = elem  # any handle into the message keeps it whole
    del elem, row, inner, deep, defaults, snapshot
    gc.collect()
    assert root.i32 == 8 and list(root.ints) == [5, 0]
    # A list read again and again from one struct, each handle dropped at once.
    msg = a.All.new_message(ints=list(range(5)))
    assert [len(msg.ints) for _ in range(100)] == [5] * 100
    assert sum(msg.ints[4] for _ in range(100)) == 400


def test_reader_list_fields_keep_their_struct_and_their_children_outlive_both(a):
    """A reader's list field read on a struct object borrows the struct's base and keeps the
    struct object alive (ffi.rs `lent_reader_list`): the list reads right after every other
    reference to the struct (and to its message) is gone and other messages have taken the
    memory freed meanwhile; its elements, nested lists and copies are independent of both."""
    def data(k):
        msg = a.All.new_message(ints=[k, k + 1, k + 2], texts=["t%d" % k], nested=[[k], [-k]])
        msg.init("structs", 1)[0].i32 = k
        return msg.to_bytes()

    def reader(k):
        return a.All.from_bytes(data(k))

    r = reader(1)
    ints, texts, nested, structs = r.ints, r.texts, r.nested, r.structs
    del r
    gc.collect()
    others = [reader(100 + k) for k in range(50)]  # reuse what a freed message would free
    assert list(ints) == [1, 2, 3] and list(texts) == ["t1"]
    row, elem = nested[1], structs[0]
    del nested, structs
    gc.collect()
    others += [reader(200 + k) for k in range(50)]
    assert list(row) == [-1] and elem.i32 == 1
    assert [o.ints[0] for o in others[:3]] == [100, 101, 102]
    with a.All.from_bytes(bytearray(data(7))) as r:
        kept = r.ints
        assert list(kept) == [7, 8, 9]
    del r
    gc.collect()
    # The buffer is released at the end of the block: the list says so, as the struct would.
    with pytest.raises(ValueError, match="buffer was released"):
        list(kept)


def test_struct_and_group_fields_keep_their_struct_and_their_children_outlive_both(a, c):
    """A struct or group field read on a struct object whose children share its base borrows
    that base and keeps the struct object alive (ffi.rs `lent_reader_child`/
    `lent_builder_child`): the child works after every other reference to the struct is gone,
    a builder's message is not recycled for the next `new_message()` meanwhile and a reader's
    is not freed, and what is made from the child (its own children, copies) is independent
    of both."""
    msg = a.All.new_message(i32=1)
    msg.init("s").i32 = 5
    child = msg.s  # the only handle left of its message below
    del msg
    gc.collect()
    other = a.All.new_message(i32=9)  # would reuse a dropped root's memory
    other.init("s").i32 = 6
    child.i32 += 1
    assert child.i32 == 6 and other.s.i32 == 6 and other.i32 == 9
    grandchild = child.init("s")
    grandchild.u8 = 3
    copied = child.copy()
    del child
    gc.collect()
    assert grandchild.u8 == 3 and copied.i32 == 6 and copied.s.u8 == 3

    contact = c.Contact.new_message(id=1)
    contact.status.retired = "2019"
    status = contact.status
    del contact
    gc.collect()
    others = [c.Contact.new_message(id=k) for k in range(20)]
    assert status.which() == "retired" and status.retired == "2019"
    status.init("employer").title = "acme"
    assert status.which() == "employer" and status.employer.title == "acme"
    assert others[3].id == 3 and others[3].status.which() == "active"

    def data(k):
        m = c.Contact.new_message(id=k, name="n%d" % k)
        employer = m.status.init("employer")
        employer.title = "t%d" % k
        employer.init("boss").name = "b%d" % k
        return m.to_bytes()

    r = c.Contact.from_bytes(data(1))
    status = r.status
    employer = status.employer
    del r
    gc.collect()
    readers = [c.Contact.from_bytes(data(100 + k)) for k in range(50)]
    assert status.which() == "employer" and employer.title == "t1"
    boss = employer.boss
    del status, employer
    gc.collect()
    readers += [c.Contact.from_bytes(data(200 + k)) for k in range(50)]
    assert boss.name == "b1" and readers[2].status.employer.title == "t102"
    with c.Contact.from_bytes(bytearray(data(7))) as r:
        kept = r.status.employer
        assert kept.title == "t7"
    del r
    gc.collect()
    # The buffer is released at the end of the block: the child says so, as the struct would.
    with pytest.raises(ValueError, match="buffer was released"):
        kept.title
    # A child read again and again from one struct, each handle dropped at once.
    msg = a.All.new_message()
    msg.init("s").i32 = 4
    assert sum(msg.s.i32 for _ in range(100)) == 400
    r = a.All.from_bytes(msg.to_bytes())
    assert sum(r.s.i32 for _ in range(100)) == 400


def test_field_names_remembered_by_the_slots_stay_right(a, c, schemas):
    # The slots remember field indexes by name object and schema (ffi.rs `cached_field`):
    # names built at run time, `str` subclasses, a field named like a class attribute, many
    # names and schemas cycling through the table, and a second load of the same file.
    class Name(str):
        pass

    a2 = capnp.load(str(schemas / "alltypes.capnp"))
    fields = ["b", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "defI"]
    for round_ in range(3):
        for mod in (a, a2):
            msg = mod.All.new_message()
            for k, name in enumerate(fields):
                value = (k + round_) % 2 == 0 if name == "b" else k + round_
                for key in (name, "".join(list(name)), Name(name)):
                    setattr(msg, key, value)
                    assert getattr(msg, key) == value
                    assert getattr(msg.as_reader(), key) == value
            contact = c.Contact.new_message(id=round_)
            assert contact.id == round_ and contact.as_reader().id == round_
    # `which` is a field of All (no union): written as a field, read as the method.
    msg = a.All.new_message()
    for _ in range(3):
        msg.which = 3
        assert msg._get("which") == 3
        with pytest.raises(capnp.KjException):
            msg.which
    # Names of other structs' fields stay unknown here.
    with pytest.raises(AttributeError, match="has no such member; name = id"):
        msg.id = 1
    with pytest.raises(AttributeError, match="has no such member; name = id"):
        msg.id


PRIMS = """
@0xd1a2b3c4d5e6f708;
struct P {
  bools @0 :List(Bool);
  i8 @1 :List(Int8);
  i16 @2 :List(Int16);
  i32 @3 :List(Int32);
  i64 @4 :List(Int64);
  u8 @5 :List(UInt8);
  u16 @6 :List(UInt16);
  u32 @7 :List(UInt32);
  u64 @8 :List(UInt64);
  f32 @9 :List(Float32);
  f64 @10 :List(Float64);
  texts @11 :List(Text);
  datas @12 :List(Data);
}
"""

PRIM_VALUES = {
    "bools": [True, False, True, True, False, False, False, True, True, False, True],
    "i8": [-128, 0, 127, -1],
    "i16": [-32768, 5, 32767],
    "i32": [-(2**31), 0, 2**31 - 1, 7],
    "i64": [-(2**63), 2**63 - 1, 0],
    "u8": [0, 255, 9],
    "u16": [0, 65535],
    "u32": [0, 2**32 - 1, 3],
    "u64": [0, 2**64 - 1, 2**63],
    "f32": [1.5, -0.0, float("inf"), 0.25, -3.0],
    "f64": [3.141592653589793, -1e-300, float("-inf")],
    "texts": ["", "a", "é and more", "x" * 100],
    "datas": [b"", b"\x00\xff", b"d" * 50],
}


@pytest.fixture
def p(schemas):
    path = schemas / "prims.capnp"
    path.write_text(PRIMS)
    return capnp.load(str(path))


def _readers(p, **kw):
    """Readers of one message over bytes (located: the in-place paths), over a bytearray
    (read under its lock: walks), of a message whose every object is in its own segment
    (Text elements behind far pointers: the in-place reads decline), and a builder's view."""
    msg = p.P.new_message(**kw)
    spread = p.P.new_message(num_first_segment_words=1)
    for name, values in kw.items():
        spread.init(name, len(values))
        for i, v in enumerate(values):
            getattr(spread, name)[i] = v
    assert len(spread.to_segments()) > 2
    data = msg.to_bytes()
    return [p.P.from_bytes(data), p.P.from_bytes(bytearray(data)),
            p.P.from_segments(spread.to_segments()), msg.as_reader()]


def test_list_iteration_reads_as_indexing_and_get(p):
    for reader in _readers(p, **PRIM_VALUES):
        for name, expected in PRIM_VALUES.items():
            lst = getattr(reader, name)
            items = list(lst)
            by_index = [lst[i] for i in range(len(lst))]
            by_get = [lst._get(i) for i in range(len(lst))]
            assert items == expected, name
            assert items == by_index == by_get, name
            assert [type(x) for x in items] == [type(x) for x in by_get], name
            assert list(iter(lst)) == items


def test_list_iteration_raises_as_indexing_on_invalid_text(p):
    texts = ["ok", b"\xff\xfe", "after"]
    for reader in _readers(p, texts=texts):
        with pytest.raises(UnicodeDecodeError) as by_iter:
            list(reader.texts)
        with pytest.raises(UnicodeDecodeError) as by_index:
            reader.texts[1]
        assert str(by_iter.value) == str(by_index.value)
        assert reader.texts[0] == "ok" and reader.texts[2] == "after"


def test_list_iteration_charges_the_traversal_limit_as_indexing(p):
    kw = {"texts": ["t%d" % i for i in range(20)], "datas": [b"x" * 30] * 5}
    data = p.P.new_message(**kw).to_bytes()
    size = len(data) // 8

    def passes(lst, read):
        # How many whole reads of the list the limit allows, and the last one's result.
        done, last = 0, None
        for _ in range(6):
            try:
                last = read(lst)
            except capnp.KjException:
                return done, last
            done += 1
        return done, last

    outcomes = set()
    for limit in range(size, size * 4):
        for name in kw:
            a = getattr(p.P.from_bytes(data, traversal_limit_in_words=limit), name)
            b = getattr(p.P.from_bytes(data, traversal_limit_in_words=limit), name)
            got_a = passes(a, list)
            got_b = passes(b, lambda lst: [lst[i] for i in range(len(lst))])
            assert got_a == got_b, (limit, name)
            assert got_a[1] in (None, kw[name])
            outcomes.add(got_a[0])
    assert min(outcomes) < 6 and max(outcomes) == 6


def test_builder_list_iterator_slot_matches_next(a):
    msg = a.All.new_message(ints=[1, 2, 3], texts=["a", "b"])
    it = iter(msg.ints)
    cls = type(it)
    assert iter(it) is it
    assert next(it) == 1 and cls.__next__(it) == 2
    # A write during the loop is seen by later steps.
    msg.ints[2] = 30
    assert next(it) == 30
    with pytest.raises(StopIteration):
        next(it)
    with pytest.raises(StopIteration):
        cls.__next__(it)
    assert next(it, "end") == "end"
    # Re-initialized under the iterator: it follows the field's new list.
    it = iter(msg.ints)
    assert next(it) == 1
    msg.init("ints", 1)
    with pytest.raises(StopIteration):
        next(it)
    msg.init("ints", 4)
    assert list(it) == [0, 0, 0]
    seen = []
    for x in msg.texts:
        seen.append(x)
        if len(seen) == 1:
            msg.texts[1] = "changed"
    assert seen == ["a", "changed"]
    structs = msg.init("structs", 2)
    structs[1].i32 = 7
    assert [s.i32 for s in structs] == [0, 7]


SCALARS = """
@0xd1a2b3c4d5e6f709;
enum Color { red @0; green @1; blue @2; }
struct Old {
  b @0 :Bool;
  i8 @1 :Int8;
}
struct S {
  b @0 :Bool;
  i8 @1 :Int8;
  i16 @2 :Int16 = -5;
  i32 @3 :Int32;
  i64 @4 :Int64 = 123456789012;
  u8 @5 :UInt8 = 7;
  u16 @6 :UInt16;
  u32 @7 :UInt32;
  u64 @8 :UInt64 = 18000000000000000000;
  f32 @9 :Float32 = 0.5;
  f64 @10 :Float64;
  e @11 :Color = green;
  v @12 :Void;
  union {
    num @13 :Int32 = 3;
    flag @14 :Bool = true;
    col @15 :Color;
  }
}
"""

SCALAR_FIELDS = ["b", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "e",
                 "v"]


@pytest.fixture
def sc(schemas):
    path = schemas / "scalars.capnp"
    path.write_text(SCALARS)
    return capnp.load(str(path))


def _scalar_readers(sc, msg):
    """Readers of `msg` over bytes (located: the primitive fast path), over a bytearray
    (read under its lock: walks), over segments, the builder itself and its reader view."""
    data = msg.to_bytes()
    msg.clear_write_flag()
    return [sc.S.from_bytes(data), sc.S.from_bytes(bytearray(data)),
            sc.S.from_segments(msg.to_segments()), msg, msg.as_reader()]


def _same_reads(objs, names):
    for name in names:
        values = []
        for obj in objs:
            by_attr = getattr(obj, name)
            by_get = obj._get(name)
            by_slot = type(obj).__getattribute__(obj, name)
            assert by_attr == by_get == by_slot, name
            assert type(by_attr) is type(by_get) is type(by_slot), name
            values.append((by_attr, type(by_attr)))
        assert all(v == values[0] for v in values), (name, values)
        yield values[0][0]


def test_primitive_reads_through_locations_match_the_walks(sc):
    # Every primitive type, at its default (XOR with a nonzero default included) and at
    # extreme values, and each union member active in turn: the located reader's fast path
    # reads as the walking reader, `_get`, the builder and `__getattribute__`, types too.
    defaults = sc.S.new_message()
    got = list(_same_reads(_scalar_readers(sc, defaults), SCALAR_FIELDS + ["num"]))
    assert got == [False, 0, -5, 0, 123456789012, 7, 0, 0, 18000000000000000000, 0.5, 0.0,
                   "green", None, 3]
    extremes = dict(b=True, i8=-128, i16=32767, i32=-(2**31), i64=-(2**63), u8=255,
                    u16=65535, u32=2**32 - 1, u64=2**64 - 1, f32=float("-inf"),
                    f64=-1e-300, e="blue")
    msg = sc.S.new_message(**extremes)
    got = list(_same_reads(_scalar_readers(sc, msg), SCALAR_FIELDS))
    assert got == list(extremes.values()) + [None]
    for member, value in (("num", -9), ("flag", False), ("col", "red")):
        msg = sc.S.new_message(**{member: value})
        readers = _scalar_readers(sc, msg)
        assert list(_same_reads(readers, [member])) == [value]
        for other in {"num", "flag", "col"} - {member}:
            # An inactive member raises the same error on every path.
            for obj in readers:
                errors = set()
                for read in (lambda: getattr(obj, other), lambda: obj._get(other)):
                    with pytest.raises(capnp.KjException) as exc:
                        read()
                    errors.add(str(exc.value))
                assert len(errors) == 1, errors


def test_primitive_reads_of_changing_values_and_later_segments(sc):
    # The attribute slot keeps the object of each field's last value (ffi.rs
    # `prim_object_quick`): reads alternating between messages with other values, of every
    # type, must each see their own; and a struct outside the first segment (the quick read
    # declines it) reads the same.
    def values(k):
        return dict(b=k % 2 == 0, i8=-k, i16=1000 * k, i32=-(2**31) + k, i64=2**40 + k,
                    u8=k, u16=65535 - k, u32=2**32 - 1 - k, u64=2**63 + k, f32=k + 0.5,
                    f64=-k / 3, e=["red", "green", "blue"][k % 3])

    spread = []
    for k in range(4):
        msg = sc.S.new_message(num_first_segment_words=1, **values(k))
        segments = msg.to_segments()
        assert len(segments) > 1
        spread.append(sc.S.from_segments(segments))
    located = [sc.S.from_bytes(sc.S.new_message(**values(k)).to_bytes()) for k in range(4)]
    builders = [sc.S.new_message(**values(k)) for k in range(4)]
    for _ in range(3):
        for k in (0, 1, 0, 2, 3, 3, 1):
            for obj in (located[k], spread[k], builders[k]):
                for name, value in values(k).items():
                    got = getattr(obj, name)
                    assert got == value, (k, name, got)
                    if name != "e":  # (an enum reads as its enumerant object)
                        assert type(got) is type(value), (k, name, got)


def test_primitive_reads_beyond_an_old_data_section_read_defaults(sc):
    # A struct written by an older schema has a shorter data section: the fields beyond it
    # read their defaults, on the fast path as on the walk.
    old = sc.Old.new_message(b=True, i8=-3)
    data = old.to_bytes()
    readers = [sc.S.from_bytes(data), sc.S.from_bytes(bytearray(data))]
    got = list(_same_reads(readers, SCALAR_FIELDS + ["num"]))
    assert got == [True, -3, -5, 0, 123456789012, 7, 0, 0, 18000000000000000000, 0.5, 0.0,
                   "green", None, 3]


BLOBS = """
@0xd1a2b3c4d5e6f70a;
struct B {
  t @0 :Text;
  d @1 :Data;
  defT @2 :Text = "dflt";
  defD @3 :Data = 0x"0102";
  union {
    ut @4 :Text;
    ud @5 :Data;
    n @6 :Int32;
  }
}
"""


@pytest.fixture
def bl(schemas):
    path = schemas / "blobs.capnp"
    path.write_text(BLOBS)
    return capnp.load(str(path))


def _blob_builders(bl, **kw):
    """The same fields set in a heap builder (Text/Data read through its recorded location)
    and in one built in a Python buffer (every read walks)."""
    return [bl.B.new_message(**kw),
            bl.B.new_message(allocate_seg_callable=lambda words: bytearray(8 * words), **kw)]


def test_builder_blob_reads_through_locations_match_the_walks(bl):
    for kw in ({}, {"t": "héllo", "d": b"\x00\xff", "ut": ""},
               {"t": "", "d": b"", "ud": b"x" * 300}, {"n": 5, "t": "x" * 1000}):
        builders = _blob_builders(bl, **kw)
        for name in ("t", "d", "ut", "ud"):
            results = []
            for b in builders:
                try:
                    got = (getattr(b, name), b._get(name), type(b).__getattribute__(b, name))
                    assert got[0] == got[1] == got[2]
                    assert type(got[0]) is type(got[1]) is type(got[2])
                    results.append((got[0], type(got[0])))
                except capnp.KjException as e:
                    results.append(str(e))
            assert results[0] == results[1], (kw, name, results)
        # A null field with a default reads the default and copies it in, on both paths.
        for b in builders:
            assert (b.defT, b.defD) == ("dflt", b"\x01\x02")
            b.clear_write_flag()
        data = builders[0].to_bytes()
        assert data == builders[1].to_bytes()
        assert bl.B.from_bytes(data)._has("defT")


def test_builder_text_with_invalid_utf8_raises_as_the_reader(bl):
    data = bl.B.new_message(t="ab\u00e9cd").to_bytes()
    bad = data.replace("ab\u00e9cd".encode(), b"ab\xff\xfecd")
    assert bad != data
    errors = []
    for b in (bl.B.from_bytes(bad).as_builder(), bl.B.from_bytes(bad)):
        for read in (lambda: b.t, lambda: b._get("t")):
            with pytest.raises(UnicodeDecodeError) as exc:
                read()
            errors.append(str(exc.value))
    assert len(set(errors)) == 1


NESTED = """
@0xd1a2b3c4d5e6f70b;
struct Small { x @0 :Int32; }
struct Inner { x @0 :Int32; y @1 :Int64; t @2 :Text; }
struct OldOuter { s @0 :Small; }
struct Outer {
  s @0 :Inner;
  d @1 :Inner = (x = 4, t = "d");
  union {
    a @2 :Inner;
    n @3 :Int32;
  }
}
"""


@pytest.fixture
def ns(schemas):
    path = schemas / "nested.capnp"
    path.write_text(NESTED)
    return capnp.load(str(path))


def _walking(ns, reader=None):
    """A builder in a Python buffer (every read walks), holding `reader` when given."""
    msg = capnp._PyCustomMessageBuilder(lambda words: bytearray(8 * words))
    if reader is None:
        return msg.init_root(ns.Outer)
    msg.set_root(reader)
    return msg.get_root(ns.Outer)


def _same_bytes(*builders):
    out = set()
    for b in builders:
        out.add(b.to_bytes())
        b.clear_write_flag()
    assert len(out) == 1


def test_builder_struct_field_reads_through_locations_match_the_walks(ns):
    located, walking = ns.Outer.new_message(), _walking(ns)
    errors = []
    for b in (located, walking):
        # A null field is allocated, a null field with a default gets the default copied in.
        assert b.s.x == 0 and (b.d.x, b.d.t) == (4, "d")
        b.s.x = 5
        b.s.t = "five"
        kept = b.s
        b.a.y = 9
        with pytest.raises(capnp.KjException):
            b.n
        assert (kept.x, kept.t, b.s.y, b.a.y) == (5, "five", 0, 9)
        assert type(b.s) is type(kept) and b._get("s").x == 5
        b.n = 2
        with pytest.raises(capnp.KjException) as exc:
            b.a
        errors.append(str(exc.value))
        # A handle taken before its field is assigned a new struct follows the field.
        b.s = ns.Inner.new_message(x=8, t="new").as_reader()
        assert (kept.x, kept.t) == (8, "new")
    assert errors[0] == errors[1]
    _same_bytes(located, walking)
    assert ns.Outer.from_bytes(located.to_bytes()).s.t == "new"


def test_builder_struct_fields_written_by_an_older_schema_are_upgraded_on_both_paths(ns):
    # A struct smaller than the schema's is upgraded (copied) by a builder's read: the fast
    # path leaves it to the walk, and handles taken before and after agree.
    old = ns.OldOuter.new_message()
    old.s.x = 3
    reader = ns.Outer.from_bytes(old.to_bytes())
    located, walking = reader.as_builder(), _walking(ns, reader)
    for b in (located, walking):
        inner = b.s
        inner.y = 7
        inner.t = "z"
        again = b.s
        assert (again.x, again.y, again.t) == (3, 7, "z")
        assert (inner.x, inner.y, inner.t) == (3, 7, "z")
    _same_bytes(located, walking)


LISTS = """
@0xd1a2b3c4d5e6f70c;
struct Small { x @0 :Int32; y @1 :Int32; }
struct OldLists { i @0 :List(Small); b @1 :List(Int64); }
struct Lists {
  i @0 :List(Int32);
  b @1 :List(Bool);
  d @2 :List(Int16) = [7, 8];
  f @3 :List(Float64);
  e @4 :List(Void);
  union {
    u @5 :List(UInt8);
    n @6 :Int32;
  }
}
"""


@pytest.fixture
def lists_ns(schemas):
    path = schemas / "lists.capnp"
    path.write_text(LISTS)
    return capnp.load(str(path))


def _walking_lists(ns, reader=None):
    """A Lists builder in a Python buffer (every read walks), holding `reader` when given."""
    msg = capnp._PyCustomMessageBuilder(lambda words: bytearray(8 * words))
    if reader is None:
        return msg.init_root(ns.Lists)
    msg.set_root(reader)
    return msg.get_root(ns.Lists)


def test_builder_list_field_reads_through_locations_match_the_walks(lists_ns):
    """Builder list fields of numbers and Bool read through the struct's recorded location
    (crates/dynamic struct_.rs `fast_list_field`) hand out the same elements, follow the same
    writes and leave the same bytes as the walk; null fields (a default copied in), inactive
    union members and re-initialized fields agree too."""
    located, walking = lists_ns.Lists.new_message(), _walking_lists(lists_ns)
    errors = []
    for b in (located, walking):
        assert list(b.i) == [] and list(b.d) == [7, 8]
        ints = b.init("i", 5)
        for k in range(5):
            ints[k] = k * 1000 - 2
        bits = b.init("b", 11)
        bits[3] = bits[10] = True
        floats = b.init("f", 3)
        floats[1] = 2.5
        b.init("e", 4)
        b.init("u", 3)[2] = 200
        # Read again through the field (the fast path), values and element writes.
        assert list(b.i) == [k * 1000 - 2 for k in range(5)]
        assert list(b.b) == [k in (3, 10) for k in range(11)]
        assert list(b.f) == [0.0, 2.5, 0.0] and len(b.e) == 4 and list(b.u) == [0, 0, 200]
        again = b.i
        again[4] = -7
        assert ints[4] == -7 and b.i[4] == -7 and b.i[-1] == -7
        assert b.d[1] == 8
        b.d[1] = 9
        # A handle taken before its field is re-initialized sees the new list (both paths).
        kept = b.i
        b.init("i", 2)[1] = 42
        assert list(b.i) == [0, 42] and list(kept) == [0, 42]
        b.n = 3
        with pytest.raises(capnp.KjException) as exc:
            b.u
        errors.append(str(exc.value))
        b.u = [1, 2]
        assert list(b.u) == [1, 2]
    assert errors[0] == errors[1]
    _same_bytes(located, walking)


def test_builder_list_fields_written_as_other_encodings_read_as_the_walk(lists_ns):
    # A struct list read as a list of Int32 (each element's first field) and an Int64 list
    # read as Bool are not encoded at the element type's width: the walk reads them.
    old = lists_ns.OldLists.new_message()
    structs = old.init("i", 3)
    for k in range(3):
        structs[k].x, structs[k].y = k + 10, -k
    reader = lists_ns.Lists.from_bytes(old.to_bytes())
    located, walking = reader.as_builder(), _walking_lists(lists_ns, reader)
    for b in (located, walking):
        assert list(b.i) == [10, 11, 12]
        b.i[1] = 5
        assert list(b.i) == [10, 5, 12]
    _same_bytes(located, walking)


def test_reader_list_fields_in_place_match_the_walks(lists_ns):
    """Reader list fields made straight into their handle objects (`StructReader::list_fast`)
    read as the walking readers (a bytearray: every read walks) and `_get` do: values,
    element types, defaults of null fields, the inactive union member's error."""
    b = lists_ns.Lists.new_message()
    ints = b.init("i", 4)
    for k in range(4):
        ints[k] = -k * 70000
    b.init("b", 9)[8] = True
    b.init("f", 2)[0] = -0.5
    b.init("e", 3)
    b.n = 6
    data = b.to_bytes()
    readers = [lists_ns.Lists.from_bytes(data), lists_ns.Lists.from_bytes(bytearray(data))]
    seen, errors = [], []
    for r in readers:
        got = []
        for name in ("i", "b", "d", "f", "e"):
            lst = getattr(r, name)
            assert list(r._get(name)) == list(lst)
            got.append((name, list(lst), [type(v) for v in lst]))
        seen.append(got)
        with pytest.raises(capnp.KjException) as exc:
            r.u
        errors.append(str(exc.value))
    assert seen[0] == seen[1] and errors[0] == errors[1]
    assert seen[0][0][1] == [0, -70000, -140000, -210000] and seen[0][2][1] == [7, 8]


def test_init_by_name_object_follows_the_struct(tmp_path):
    # `init` finds a `str` name by its object (the attribute slots' name cache): the same
    # object meeting structs where it names a list, a struct, a number or nothing must give
    # each struct's own answer, in any order, and a name made at run time the same (the
    # errors as pycapnp 2.2.4 words them).
    path = tmp_path / "initnames.capnp"
    path.write_text(
        "@0xd3c1a5e0f00d1234;\n"
        "struct Inner { x @0 :Int32; }\n"
        "struct A { items @0 :List(Int32); n @1 :Int32; }\n"
        "struct B { n @0 :UInt8; items @1 :Inner; }\n"
        "struct C { other @0 :Int32; }\n"
    )
    s = capnp.load(str(path))
    name = "items"
    runtime = "".join(["it", "ems"])
    for round_ in range(3):
        a, b, c = s.A.new_message(), s.B.new_message(), s.C.new_message()
        for key in (name, runtime):
            lst = a.init(key, 3 + round_)
            assert len(lst) == 3 + round_ and list(lst) == [0] * (3 + round_)
            lst[0] = 7
            assert a.items[0] == 7
            inner = b.init(key)
            inner.x = 5 + round_
            assert b.items.x == 5 + round_
            with pytest.raises(capnp.KjException, match="no such member; name = items"):
                c.init(key, 1)
            with pytest.raises(capnp.KjException, match=r"init\(\) with size"):
                a.init("n", 1)
            with pytest.raises(capnp.KjException, match=r"init\(\) with size"):
                b.init(key, 2)  # a struct field takes no size
            assert c.to_dict() == {"other": 0}


def test_struct_list_field_of_other_element_sizes(tmp_path):
    # A builder's struct-list field whose elements another version of the schema wrote:
    # smaller ones are upgraded on access (the fields they lack read their defaults and take
    # writes), larger ones are handed out as they are (the fields this version lacks keep
    # their values through writes), an empty list stays usable (as pycapnp 2.2.4).
    path = tmp_path / "versions.capnp"
    path.write_text(
        "@0xd3c1a5e0f00d1235;\n"
        "struct ItemV1 { a @0 :Int32; }\n"
        "struct ItemV2 { a @0 :Int32; b @1 :Int64 = 5; t @2 :Text; }\n"
        "struct Old { items @0 :List(ItemV1); }\n"
        "struct New { items @0 :List(ItemV2); }\n"
    )
    s = capnp.load(str(path))

    def rows(items):
        return [(x.a, x.b, x.t) for x in items]

    old = s.Old.new_message()
    for i, item in enumerate(old.init("items", 3)):
        item.a = i + 1
    with s.New.from_bytes(old.to_bytes(), builder=True) as grown:
        items = grown.items
        assert rows(items) == [(1, 5, ""), (2, 5, ""), (3, 5, "")]
        items[1].b = 7
        items[2].t = "new"
        assert rows(grown.items) == [(1, 5, ""), (2, 7, ""), (3, 5, "new")]
        data = grown.to_bytes()
    with s.New.from_bytes(data) as read:
        assert rows(read.items) == [(1, 5, ""), (2, 7, ""), (3, 5, "new")]

    new = s.New.new_message()
    for i, item in enumerate(new.init("items", 2)):
        item.a, item.b, item.t = i, 10 * i, "keep%d" % i
    with s.Old.from_bytes(new.to_bytes(), builder=True) as shrunk:
        first = shrunk.items
        first[1].a = 99
        assert [x.a for x in shrunk.items] == [0, 99]
        data = shrunk.to_bytes()
    with s.New.from_bytes(data) as read:
        assert rows(read.items) == [(0, 0, "keep0"), (99, 10, "keep1")]

    empty = s.Old.new_message()
    empty.init("items", 0)
    with s.New.from_bytes(empty.to_bytes(), builder=True) as grown:
        assert len(grown.items) == 0
        assert len(grown.init("items", 1)) == 1


def test_element_paths_through_walks_groups_and_copies(tmp_path):
    # Elements of a struct list keep the list's hop apart from their base (message.rs
    # `Elements`): every way of reaching an element's bytes by its path must land on that
    # element: reads and writes after a layout change made its recorded location stale, its
    # group, its children, a reader view and a copy of it, in builders and readers.
    path = tmp_path / "paths.capnp"
    path.write_text(
        "@0xd3c1a5e0f00d1236;\n"
        "struct Leaf { v @0 :Int32; }\n"
        "struct Item {\n"
        "  n @0 :Int32;\n"
        "  g :group { x @1 :Int32; t @2 :Text; }\n"
        "  leaves @3 :List(Leaf);\n"
        "  leaf @4 :Leaf;\n"
        "}\n"
        "struct Top { pad @0 :Text; items @1 :List(Item); other @2 :List(Item); dup @3 :Item; }\n"
    )
    s = capnp.load(str(path))
    msg = s.Top.new_message()
    msg.pad = "x"
    items = msg.init("items", 3)
    elems = [items[i] for i in range(3)]
    groups = [e.g for e in elems]
    for i, (e, g) in enumerate(zip(elems, groups)):
        e.n = i
        g.x = 10 * i
        g.t = "t%d" % i
        e.init("leaves", i + 1)[i].v = 100 + i
        e.leaf.v = 200 + i
    # A pointer write over a non-null slot makes every recorded location stale: the next
    # operations on the kept handles walk their paths.
    msg.pad = "longer text than before"
    msg.init("other", 1)
    msg.init("other", 2)
    for i, (e, g) in enumerate(zip(elems, groups)):
        assert (e.n, g.x, g.t, e.g.x) == (i, 10 * i, "t%d" % i, 10 * i)
        assert e.leaves[i].v == 100 + i and e.leaf.v == 200 + i
        view = e.as_reader()
        assert (view.n, view.g.t, view.leaves[i].v, view.leaf.v) == (i, "t%d" % i, 100 + i, 200 + i)
        assert e.to_dict()["g"] == {"x": 10 * i, "t": "t%d" % i}
    msg.init("other", 1)
    groups[2].x = 77
    elems[1].g.t = "changed"
    assert [e.g.x for e in msg.items] == [0, 10, 77]
    assert [e.g.t for e in msg.items] == ["t0", "changed", "t2"]
    msg.dup = elems[2].as_reader()
    assert msg.dup.to_dict() == {"n": 2, "g": {"x": 77, "t": "t2"},
                                  "leaves": [{"v": 0}, {"v": 0}, {"v": 102}], "leaf": {"v": 202}}
    with s.Top.from_bytes(msg.to_bytes()) as read:
        relems = list(read.items)
        assert [(r.n, r.g.x, r.g.t, r.leaves[-1].v, r.leaf.v) for r in relems] == [
            (0, 0, "t0", 100, 200), (1, 10, "changed", 101, 201), (2, 77, "t2", 102, 202)]
        copy = s.Top.new_message()
        copy.dup = read.items[1]
        assert copy.dup.g.t == "changed" and copy.dup.leaves[1].v == 101


def test_builder_text_and_data_lists(a):
    # Text and Data elements of a builder list, read through the list's recorded location
    # (indexing, negative indexes, iteration, out of range) after element writes,
    # re-inits and writes elsewhere that move nothing of the list, as pycapnp reads them.
    msg = a.All.new_message()
    texts = msg.init("texts", 4)
    texts[0] = "zero"
    texts[2] = "dos"
    datas = msg.init("datas", 3)
    datas[1] = b"\x00\xffraw"
    for _ in range(2):
        assert [texts[i] for i in range(4)] == ["zero", "", "dos", ""]
        assert texts[-2] == "dos" and list(texts) == ["zero", "", "dos", ""]
        assert list(datas) == [b"", b"\x00\xffraw", b""] and datas[-2] == b"\x00\xffraw"
        assert list(msg.texts) == ["zero", "", "dos", ""] and msg.datas[1] == b"\x00\xffraw"
        # (pycapnp 2.2.4 reads `texts[-5]` of its builder lists out of bounds, as ''.)
        for bad in (4, -5):
            with pytest.raises(IndexError, match="Out of bounds"):
                texts[bad]
        msg.t = "a text field written between reads"
        texts[3] = "tres"
        texts[3] = ""
    it = iter(texts)
    assert next(it) == "zero"
    texts[1] = "uno"
    assert list(it) == ["uno", "dos", ""]
    again = msg.init("texts", 2)
    again[1] = "new"
    # The kept handle follows the field to its new list (as `test_builder_list_length_follows_a_reinit`;
    # pycapnp 2.2.4's reads the old list, zeroed).
    assert list(texts) == ["", "new"] and texts[-1] == "new"
    with pytest.raises(IndexError, match="Out of bounds"):
        texts[2]
    # Invalid UTF-8 written as bytes raises on the read, by index and by the iterator, as a
    # reader view of it does.
    again[0] = b"ok\xff"
    for read in (lambda: texts[0], lambda: list(texts), lambda: msg.as_reader().texts[0]):
        with pytest.raises(UnicodeDecodeError):
            read()



def test_builder_blob_elements_in_other_segments_and_large(a):
    # Elements read in place (arena.rs `blob_in_place`: a byte list in the list's own
    # segment) and those it leaves to capnp (behind far pointers when every object gets a
    # segment of its own; null): the same values by index and by the iterator, as a reader
    # of the message's bytes reads them.
    values = ["", "a", "é" * 300, "x" * 5000, "last"]
    data = [b"", b"\x00", bytes(range(256)) * 20]
    for first_words in (None, 1, 4):
        kw = {} if first_words is None else {"num_first_segment_words": first_words}
        msg = a.All.new_message(**kw)
        texts = msg.init("texts", len(values) + 1)
        for i, v in enumerate(values):
            texts[i] = v
        datas = msg.init("datas", len(data))
        for i, v in enumerate(data):
            datas[i] = v
        expected = values + [""]
        reader = a.All.from_segments(msg.to_segments())
        assert list(reader.texts) == expected and list(reader.datas) == data
        assert [texts[i] for i in range(len(expected))] == expected
        assert list(texts) == expected and list(msg.texts) == expected
        assert [datas[i] for i in range(len(data))] == data and list(datas) == data


def test_number_list_elements_by_int_index_match_the_method(schemas):
    # `lst[i]` with an exact `int` on a list of Bool or numbers is answered by the quick
    # subscript (ffi.rs `mp_subscript` -> `quick_item`): every element type, extremes and
    # negative indexes, on builders (without the lock) and readers, must equal the class's
    # own `__getitem__`, whose errors and other keys stay on the full path.
    n = capnp.load(str(schemas / "numlists.capnp"))
    values = {
        "b": [True, False, True],
        "i8": [-128, 0, 127],
        "i16": [-(2**15), 1, 2**15 - 1],
        "i32": [-(2**31), -1, 2**31 - 1],
        "i64": [-(2**63), 7, 2**63 - 1],
        "u8": [0, 1, 255],
        "u16": [0, 2, 2**16 - 1],
        "u32": [0, 3, 2**32 - 1],
        "u64": [0, 2**63, 2**64 - 1],
        "f32": [-1.5, 0.0, 3.25],
        "f64": [-2.5e300, 5e-324, float("inf")],
        "e": ["red", "blue", "green"],
    }
    msg = n.NumLists.new_message(**values)
    reader = n.NumLists.from_bytes(msg.to_bytes())
    for holder in (msg, reader):
        for name, expected in values.items():
            lst = getattr(holder, name)
            cls = type(lst)
            for i in range(-3, 3):
                got = lst[i]
                assert got == cls.__getitem__(lst, i) == expected[i], (name, i)
                assert type(got) is type(cls.__getitem__(lst, i))
            assert lst[False] == expected[0]
            for bad in (3, -4, 2**63 - 1, -(2**63), 2**64):
                with pytest.raises(IndexError, match="Out of bounds"):
                    lst[bad]
    # A builder element read after writes to the list and to the message reads the new value.
    ints = msg.i32
    ints[1] = 42
    assert ints[1] == 42
    msg.texts = ["a pointer write"]
    ints[2] = -42
    assert ints[2] == -42 and ints[-1] == -42 and msg.i32[2] == -42
    bools = msg.b
    bools[1] = True
    assert bools[1] is True


def test_list_item_assignment_keys(a):
    # `lst[key] = value` reads its key as the subscript does (ffi.rs `key_index`): an `int`
    # (a `bool` included; beyond 64 bits is out of range) or a TypeError, as pycapnp 2.2.4
    # does for these keys. (pycapnp also takes a float key, and writes a wrapped element for
    # a negative key below -len; we raise there, as before this test.)
    msg = a.All.new_message(ints=[1, 2, 3])
    ints = msg.ints
    ints[-1] = 30
    ints[True] = 20
    assert list(ints) == [1, 20, 30]
    for bad in (3, 2**63, 2**70):
        with pytest.raises(IndexError, match="Out of bounds"):
            ints[bad] = 0
    for bad in ("0", None):
        with pytest.raises(TypeError):
            ints[bad] = 0
    assert list(ints) == [1, 20, 30]


def _method_names(cls):
    """The names of a class's own built-in methods (its `method_descriptor`s)."""
    return [n for n, v in vars(cls).items() if type(v).__name__ == "method_descriptor"]


def test_methods_remembered_by_the_attribute_slot_follow_the_class(a):
    # The attribute slot remembers a class's method descriptors by name object (ffi.rs
    # `method_quick`), valid while the class is unchanged: every method of both classes read
    # again and again equals the bound method `object.__getattribute__` makes, and a method
    # replaced on the class (then restored) is seen at once.
    builder = a.All.new_message(i32=7, t="x")
    reader = builder.as_reader()
    for obj in (builder, reader):
        cls = type(obj)
        names = _method_names(cls)
        assert "to_dict" in names and len(names) > 5
        for _ in range(3):
            for name in names:
                method = getattr(obj, name)
                assert method.__self__ is obj
                assert method == object.__getattribute__(obj, name)
        for _ in range(2):
            assert obj.to_dict()["i32"] == 7
        original = vars(cls)["to_dict"]
        try:
            cls.to_dict = lambda self: "replaced"
            assert obj.to_dict() == "replaced"
            assert obj.to_dict() == "replaced"
        finally:
            cls.to_dict = original
        assert obj.to_dict()["t"] == "x"
        assert obj.to_dict()["t"] == "x"
    assert builder.init("structs", 1)[0].i32 == 0


def test_new_message_through_the_vector_call_matches_the_method(a):
    # `Foo.new_message` is the entry's own built-in function taking CPython's vector call
    # (ffi.rs `entry_new_message`): without arguments it makes the message itself, with any
    # it hands them to the entry's PyO3 method; both answer as that method does.
    a.All.new_message()
    fast = a.All.new_message
    entry = fast.__self__
    assert type(entry).__name__ == "_StructEntry" and fast.__name__ == "new_message"
    assert fast is not entry.new_message
    assert inspect.signature(fast) == inspect.signature(entry.new_message)
    assert fast().to_bytes() == entry.new_message().to_bytes()
    for args, kwargs in [((), {"i32": 5, "t": "x"}), ((64,), {}),
                         ((), {"num_first_segment_words": 64, "i8": -1}),
                         ((), {"t": "y", "i32": 2, "which": 4}), ((64,), {"t": "z"}),
                         ((None,), {"i16": 3}), ((None, None), {}), ((None, None), {"t": "n"})]:
        assert fast(*args, **kwargs).to_dict() == entry.new_message(*args, **kwargs).to_dict()
    for args, kwargs, error in [((1, None, 3), {}, TypeError), (("x",), {}, TypeError),
                                ((None, None, None), {}, TypeError),
                                ((None, None, None), {"i32": 1}, TypeError),
                                ((None,), {"num_first_segment_words": 8}, TypeError),
                                ((), {"nosuchfield": 1}, capnp.KjException),
                                ((), {"i32": "text"}, Exception),
                                ((), {"i32": 1, "nosuchfield": 1}, capnp.KjException)]:
        with pytest.raises(error) as fast_error:
            fast(*args, **kwargs)
        with pytest.raises(error) as method_error:
            entry.new_message(*args, **kwargs)
        assert type(fast_error.value) is type(method_error.value)
        assert str(fast_error.value) == str(method_error.value)


def test_builder_init_quick_call_matches_the_keyword_call(a):
    # `init` is a method of CPython's vector call written in ffi.rs (`builder_init`): a `str`
    # name and an `int` size within 32 bits (or None) are answered there; anything else,
    # keywords included, goes to PyO3's method. The same calls by position and by keyword
    # (always PyO3's) give the same values and the same errors.
    def run(call):
        try:
            value = call()
        except Exception as e:  # noqa: BLE001 - compared below
            return ("raises", type(e), str(e))
        return ("value", type(value).__name__, str(value))

    cases = [("structs", 2), ("structs", 0), ("structs", None), ("ints", 3), ("texts", 1),
             ("t", 4), ("d", 2), ("s", None), ("s", 1), ("i32", 1), ("nosuch", 1),
             ("structs", -1), ("structs", 2**32), ("structs", 2**70), ("structs", 2.0),
             ("structs", True), ("structs", "2")]
    for name, size in cases:
        quick = a.All.new_message()
        slow = a.All.new_message()
        got = run(lambda: quick.init(name, size) if size is not None else quick.init(name))
        want = run(lambda: slow.init(field=name, size=size))
        assert got == want, (name, size)
        assert quick.to_bytes() == slow.to_bytes(), (name, size)
    msg = a.All.new_message()
    assert len(msg.init("structs", 3)) == 3 and len(msg.structs) == 3
    assert msg.init("structs", 1)[0].i32 == 0 and len(msg.structs) == 1
    with pytest.raises(TypeError):
        msg.init()
    with pytest.raises(TypeError):
        msg.init("structs", 1, 2)


def _cpython_bound(obj, name):
    """The bound built-in method CPython's own attribute lookup makes."""
    return object.__getattribute__(obj, name)


def test_bound_methods_answer_as_cpythons_bound_methods(a):
    # A method read from a struct handle is the module's own bound method (ffi.rs
    # `BoundMethod`: from a free list, called with the vector convention); it answers as the
    # `builtin_function_or_method` CPython would make: names, doc, signature, `__self__`,
    # repr, equality and hash with CPython's, pickling by `getattr`, results and errors.
    builder = a.All.new_message(i32=7, t="x")
    reader = builder.as_reader()
    for obj in (builder, reader):
        for name in _method_names(type(obj)):
            for _ in range(2):  # the first read fills the method table, the second uses it
                ours = getattr(obj, name)
                theirs = _cpython_bound(obj, name)
                assert type(ours).__name__ == "_BoundMethod", name
                for attr in ("__name__", "__qualname__", "__doc__", "__text_signature__",
                             "__module__"):
                    assert getattr(ours, attr) == getattr(theirs, attr), (name, attr)
                assert ours.__self__ is obj
                assert repr(ours) == repr(theirs)
                assert ours == theirs and theirs == ours and not ours != theirs
                assert hash(ours) == hash(theirs)
                assert ours.__reduce__() == theirs.__reduce__()
                if theirs.__text_signature__ is not None:
                    assert inspect.signature(ours) == inspect.signature(theirs)
        assert obj.to_dict != obj.to_json and obj.to_dict != 5
        assert obj.to_dict == obj.to_dict and obj.to_dict != a.All.new_message().to_dict
    # Calls: results and errors as CPython's bound methods give them.
    for call in (lambda o, n: o(), lambda o, n: o(1), lambda o, n: o(x=1), lambda o, n: o(1, 2)):
        for name in ("to_bytes", "to_dict", "as_reader", "which", "init", "clear_write_flag"):
            if name not in _method_names(type(builder)):
                continue
            results = []
            for bind in (getattr, _cpython_bound):
                # A fresh message each: `to_bytes` warns on a message written before.
                method = bind(a.All.new_message(i32=7, t="x"), name)
                try:
                    results.append(("ok", call(method, name)))
                except Exception as e:  # noqa: BLE001 - compared as they are
                    results.append((type(e), str(e)))
            ours, theirs = results
            if ours[0] == "ok" and theirs[0] == "ok":
                value = ours[1]
                if isinstance(value, (bytes, dict, type(None))):
                    assert value == theirs[1], name
            else:
                assert ours == theirs, name
    assert builder.init("structs", 2)[1].i32 == 0
    assert a.All.from_bytes(builder.to_bytes()).i32 == 7


def test_bound_methods_keep_and_release_their_handle(a):
    # A bound method holds its handle (the handle's other references may go) and lets it go
    # with its last reference; the collector sees the handle through it.
    import sys

    builder = a.All.new_message(i32=3)
    before = sys.getrefcount(builder)
    methods = [builder.to_bytes for _ in range(40)] + [builder.init for _ in range(40)]
    assert sys.getrefcount(builder) == before + 80
    assert builder in gc.get_referents(methods[0])
    del methods
    assert sys.getrefcount(builder) == before
    init = builder.init
    data = builder.to_bytes
    del builder
    assert len(init("structs", 3)) == 3
    assert a.All.from_bytes(data()).i32 == 3


def test_text_writes_through_the_slot_match_the_general_path(a):
    # `msg.t = str` goes from the attribute slot straight to the blob write
    # (`set_blob_by_index`); every other value, and a `str` that is not valid UTF-8, takes
    # the general path. Both must leave the same bytes and raise the same errors as `_set`.
    class Sub(str):
        pass

    values = ["", "x", "héllo ✓", "a" * 300, Sub("sub"), b"raw", "\ud800", 5, None]
    for value in values:
        results = []
        for write in (lambda m, v: setattr(m, "t", v), lambda m, v: m._set("t", v)):
            msg = a.All.new_message(i32=1)
            msg.t = "before"
            try:
                write(msg, value)
                results.append(("ok", msg.t, msg.to_bytes()))
            except Exception as e:  # noqa: BLE001 - compared as they are
                results.append((type(e), msg.t, msg.to_bytes()))
        assert results[0] == results[1], repr(value)


def test_primitive_reads_of_lists_of_small_values_read_as_structs(tmp_path):
    # A list of numbers read as a list of structs (another version of the schema): each
    # element's data section is the number's bytes, shorter than a word. A field read from
    # it through the attribute slot (one word load when the word is there) reads what `_get`
    # and `to_dict` read: the bytes that are there, the default past them.
    path = tmp_path / "short.capnp"
    path.write_text(
        "@0xd3c1a5e0f00d1236;\n"
        "struct Elem { a @0 :UInt16; b @1 :UInt16 = 9; flag @2 :Bool = true; c @3 :UInt8;"
        " d @4 :Int8 = -1; }\n"
        "struct Old { vals @0 :List(UInt16); small @1 :List(UInt8); words @2 :List(Int32); }\n"
        "struct New { vals @0 :List(Elem); small @1 :List(Elem); words @2 :List(Elem); }\n"
    )
    s = capnp.load(str(path))
    old = s.Old.new_message(vals=[7, 65535], small=[3, 200], words=[0x0012_0034, -1])
    new = s.New.from_bytes(old.to_bytes())
    fields = ("a", "b", "flag", "c", "d")
    expected = {
        "vals": [(7, 9, True, 0, -1), (65535, 9, True, 0, -1)],
        # One byte: a UInt16 does not fit in it (its default), nor do the others.
        "small": [(0, 9, True, 0, -1), (0, 9, True, 0, -1)],
        # Four bytes: `a` and `b` (stored bits XOR the default 9) are in them.
        "words": [(0x34, 0x12 ^ 9, True, 0, -1), (0xFFFF, 0xFFFF ^ 9, True, 0, -1)],
    }
    for name, rows in expected.items():
        items = getattr(new, name)
        assert [tuple(getattr(x, f) for f in fields) for x in items] == rows, name
        assert [tuple(x._get(f) for f in fields) for x in items] == rows, name
        assert [tuple(x.to_dict()[f] for f in fields) for x in items] == rows, name


def test_builder_blob_and_number_elements_through_the_quick_slots(a):
    # The subscript and the iterator of a builder list answer ASCII Text, Data and numbers
    # at once, without the full subscript: every index (negative ones too), the end, text
    # that is not ASCII (decoded by the full path), empty and null elements and writes
    # during the loop read as `_get` reads.
    msg = a.All.new_message(
        ints=[5, -6, 7, 2**31 - 1],
        texts=["x", "yé", "", "ascii"],
        datas=[b"\x00\xff", b"", b"plain"],
    )
    texts = msg.init("texts", 5)
    for i, t in enumerate(["x", "yé", "", "ascii"]):
        texts[i] = t  # element 4 stays null
    ints, datas = msg.ints, msg.datas
    for lst in (ints, texts, datas):
        n = len(lst)
        expected = [lst._get(i) for i in range(n)]
        assert [lst[i] for i in range(-n, n)] == expected + expected
        assert list(lst) == expected
        assert [type(x) for x in lst] == [type(x) for x in expected]
        for bad in (n, -n - 1, 2**40):
            with pytest.raises(IndexError):
                lst[bad]
    assert list(texts) == ["x", "yé", "", "ascii", ""]
    assert list(datas) == [b"\x00\xff", b"", b"plain"]
    # A write during the loop is seen by the steps after it.
    seen = []
    for i, t in enumerate(texts):
        seen.append(t)
        if i == 1:
            texts[3] = "changed"
            texts[0] = "behind"
    assert seen == ["x", "yé", "", "changed", ""]
    assert texts[0] == "behind"
    seen = []
    for i, v in enumerate(ints):
        seen.append(v)
        if i == 0:
            ints[2] = 70
    assert seen == [5, -6, 70, 2**31 - 1]
    # An iterator that has ended stays ended.
    it = iter(datas)
    assert list(it) == [b"\x00\xff", b"", b"plain"]
    assert list(it) == []
