"""Message classes and resizable lists where we deliberately differ from pycapnp (API.md 3.4,
3.13: errors instead of silent loss or crashes)."""

import pytest

import capnp


@pytest.fixture
def contacts(schemas):
    return capnp.load(str(schemas / "contacts.capnp"))


def test_resizable_list_builders_are_spent_after_finish(contacts):
    m = contacts.Contact.new_message()
    lst = m.init_resizable_list("phones")
    p = lst.add()
    p.number = "1"
    lst.finish()
    assert [x.number for x in m.phones] == ["1"]
    with pytest.raises(capnp.KjException):
        p.number = "lost"
    with pytest.raises(capnp.KjException):
        lst.add()
    with pytest.raises(capnp.KjException):
        lst.finish()
    assert m.phones[0].number == "1"


def test_resizable_list_of_non_structs_is_an_error(contacts):
    m = contacts.Contact.new_message()
    for field in ("tags", "id", "status"):
        with pytest.raises(capnp.KjException, match="List\\(struct\\)"):
            m.init_resizable_list(field)


def test_empty_resizable_list_finishes_empty(contacts):
    m = contacts.Contact.new_message()
    m.init_resizable_list("phones").finish()
    assert m._has("phones") and len(m.phones) == 0


def test_set_root_rejects_non_structs(contacts):
    builder = capnp._MallocMessageBuilder()
    with pytest.raises(TypeError, match="struct reader or builder"):
        builder.set_root(5)


def test_message_builder_root_type_errors(contacts):
    builder = capnp._MallocMessageBuilder()
    with pytest.raises(capnp.KjException, match="non-struct schema"):
        builder.init_root(contacts.Contact.Phone.Kind)
    with pytest.raises(capnp.KjException, match="non-struct schema"):
        builder.new_orphan(5)


def test_custom_message_builder_needs_a_callable(contacts):
    with pytest.raises(TypeError):
        capnp._PyCustomMessageBuilder(5)
    builder = capnp._PyCustomMessageBuilder(lambda words: bytearray(8 * words), 16)
    root = builder.init_root(contacts.Contact)
    root.name = "x" * 1000
    assert contacts.Contact.from_segments(builder.get_segments_for_output()).name == "x" * 1000


def test_reader_classes_read_from_int_descriptors(contacts, tmp_path):
    m = contacts.Contact.new_message(id=4)
    path = tmp_path / "msg.bin"
    data = m.to_bytes()
    m.clear_write_flag()
    path.write_bytes(data + m.to_bytes_packed())
    with open(path, "rb") as f:
        assert capnp._StreamFdMessageReader(f.fileno()).get_root(contacts.Contact).id == 4
        assert capnp._PackedFdMessageReader(f.fileno()).get_root(contacts.Contact).id == 4


def test_by_field_rejects_other_objects(contacts):
    m = contacts.Contact.new_message()
    with pytest.raises(TypeError, match="_StructSchemaField"):
        m._get_by_field("name")
    with pytest.raises(capnp.KjException, match="not a field of this struct"):
        m._set_by_field(contacts.Company.schema.fields["title"], "x")


def _filled(contacts, **kw):
    """A Contact message written and rewritten every way that leaves words behind."""
    m = contacts.Contact.new_message(**kw)
    m.id = 0xFFFFFFFF
    m.name = "a name long enough to span several words"
    m.name = "short"
    m.avatar = b"\xff" * 100
    m.tags = ["x" * 30] * 20
    phones = m.init_resizable_list("phones")
    for i in range(10):
        phones.add().number = "555-%04d" % i
    phones.finish()
    m.init("tags", 3)
    company = m.status.init("employer")
    company.title = "t" * 50
    company.init("boss").name = "boss"
    orphan = m.status.disown("employer")
    m.status.adopt("employer", orphan)
    m.disown("avatar")
    return m


def test_dropped_roots_with_holders_left_and_other_types(contacts):
    """A dropped root object may be kept for the next new_message() of its type (its base
    and message reused): never while anything else still holds its message, whatever holds
    it reads on, and messages of other types, or made on another thread, are new too."""
    import threading

    expected = {
        t: getattr(contacts, t).new_message(num_first_segment_words=2048).to_bytes()
        for t in ("Contact", "Company")
    }
    m = _filled(contacts)
    kept = [m.status.employer, m.phones, m.as_reader(), m.status]
    del m
    for t in ("Contact", "Contact", "Company", "Contact", "Company", "Company"):
        fresh = getattr(contacts, t).new_message()
        assert fresh.to_bytes() == expected[t], t
        if t == "Contact":
            fresh.name = "n" * 40
            fresh.init("tags", 5)
        else:
            fresh.title = "t" * 40
        del fresh
    assert kept[0].title == "t" * 50 and kept[0].boss.name == "boss"
    assert [p.number for p in kept[1]] == ["555-%04d" % i for i in range(10)]
    assert kept[2].name == "short" and kept[2].id == 0xFFFFFFFF
    assert kept[3].which == "employer"
    del kept

    seen = []

    def other_thread():
        for _ in range(3):
            m = _filled(contacts)
            del m
            seen.append(contacts.Contact.new_message().to_bytes())

    t = threading.Thread(target=other_thread)
    t.start()
    t.join(timeout=30)
    assert not t.is_alive()
    assert seen == [expected["Contact"]] * 3
    assert contacts.Contact.new_message().to_bytes() == expected["Contact"]


def test_a_new_message_after_a_dropped_one_is_new(contacts):
    """A dropped message's memory may make the next new_message() (its first segment is
    reused): what the new message holds and writes is exactly a new message's."""
    expected_empty = contacts.Contact.new_message(num_first_segment_words=2048).to_bytes()
    reference = contacts.Contact.new_message(num_first_segment_words=2048)
    reference.init("phones", 40)
    reference.init("tags", 40)
    expected_inited = reference.to_bytes()
    for _ in range(3):
        m = _filled(contacts)
        m.to_bytes()
        del m
        fresh = contacts.Contact.new_message()
        assert fresh.to_bytes() == expected_empty
        fresh.clear_write_flag()
        phones = fresh.init("phones", 40)
        tags = fresh.init("tags", 40)
        assert [(p.number, str(p.kind)) for p in phones] == [("", "cell")] * 40
        assert list(tags) == [""] * 40
        assert fresh.to_bytes() == expected_inited
        del fresh, phones, tags
