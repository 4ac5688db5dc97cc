"""Message builder/reader classes, resizable lists and the *_by_field accessors print the same
under pycapnp 2.2.4 and under this package (API.md 3.4, 3.13)."""

import pathlib

from differential import assert_same_output

SCHEMAS = pathlib.Path(__file__).parent / "schemas"

PRELUDE = """
import capnp, os, tempfile
c = capnp.load("contacts.capnp")
L = capnp.lib.capnp

def attempt(text, env):
    try:
        print(text, "->", repr(eval(text, env)))
    except Exception as e:
        frags = [f for f in ("abstract base class", "has no such member", "not a field of this struct",
                             "incorrect type", "without a size", "out of range", "Premature EOF")
                 if f in str(e)]
        print(text, "raises", type(e).__name__, frags)
"""

MESSAGE_BUILDERS = PRELUDE + """
print([cls.__name__ for cls in L._MallocMessageBuilder.__mro__])
print([cls.__name__ for cls in L._PyCustomMessageBuilder.__mro__])
print(capnp._MallocMessageBuilder is L._MallocMessageBuilder)
attempt("L._MessageBuilder()", globals())
attempt("L._MessageReader()", globals())

m = capnp._MallocMessageBuilder()
r = m.init_root(c.Contact)
r.id = 5
r.name = "x"
print(r, r.is_root, type(r).__name__)
print(m.get_root(c.Contact).id, m.get_root(c.Contact.schema).name)
a = m.get_root_as_any()
print(type(a).__name__, a.as_struct(c.Contact).name)
print(m.get_segments_for_output())
print(sorted(n for n in dir(m) if not n.startswith("__")))
print(sorted(n for n in dir(capnp._PyCustomMessageBuilder(bytearray)) if not n.startswith("__")))

o = m.new_orphan(c.Contact.Phone)
print(type(o).__name__, o.get())
o.get().number = "555"
r.init("phones", 1).adopt(0, o)
print(r.phones[0])

m2 = capnp._MallocMessageBuilder(4)
x = m2.set_root(r)
print(type(x).__name__, x, x.is_root)
x.id = 99
print(r.id, m2.get_root(c.Contact).id)
print(m2.set_root(r.as_reader()).name)
print(len(m2.get_segments_for_output()) >= 1)

with tempfile.TemporaryFile() as f:
    capnp._write_message_to_fd(f.fileno(), m)
    capnp._write_packed_message_to_fd(f.fileno(), m2)
    f.seek(0)
    s = capnp._StreamFdMessageReader(f)
    print([cls.__name__ for cls in type(s).__mro__])
    print(s.get_root(c.Contact))
    print(sorted(n for n in dir(s) if not n.startswith("__")))
    print(type(s.get_root_as_any()).__name__, s.get_root_as_any().as_struct(c.Contact).id)
    p = capnp._PackedFdMessageReader(f)
    print(p.get_root(c.Contact).id, p.get_root(c.Contact).phones[0].number)
    attempt("capnp._StreamFdMessageReader(f)", dict(globals(), f=f))
print(L._PackedMessageReaderBytes(r.to_bytes_packed()).get_root(c.Contact).name)
print(L._message_to_packed_bytes(m) == r.to_bytes_packed())
"""

RESIZABLE = PRELUDE + """
m = c.Contact.new_message()
lst = m.init_resizable_list("phones")
print(type(lst).__name__, len(lst))
p = lst.add()
p.number = "1"
q = lst.add()
q.number = "2"
q.kind = "fax"
print(len(lst), lst[0], lst[-1], lst._get(1))
attempt("lst[5]", globals())
print(m._has("phones"))
lst.finish()
print(m.phones)
print(m.to_dict())
attempt("m.init_resizable_list('nosuch')", globals())
"""

BY_FIELD = PRELUDE + """
m = c.Contact.new_message()
f = c.Contact.schema.fields
m._set_by_field(f["name"], "bob")
print(m._get_by_field(f["name"]), m._has_by_field(f["name"]), m._has_by_field(f["avatar"]))
print(m._init_by_field(f["tags"], 2))
print(m._init_by_field(f["phones"], 1)[0])
print(m._get_by_field(f["status"]))
r = m.as_reader()
print(r._get_by_field(f["name"]), r._has_by_field(f["tags"]), hasattr(r, "_set_by_field"))
attempt("m._get_by_field('name')", globals())
attempt("m._get_by_field(c.Company.schema.fields['title'])", globals())
attempt("m._init_by_field(f['id'])", globals())
"""

LIST_DISOWN = PRELUDE + """
m = c.Contact.new_message(tags=["a", "b"], phones=[{"number": "1", "kind": "fax"}, {"number": "2"}])
o = m.tags.disown(0)
print(type(o).__name__, o, m.tags, m.tags[0] == "")
p = m.phones.disown(0)
print(p, m.phones)
m.phones.adopt(1, p)
print(m.phones)
m.tags.adopt(0, o)
print(m.tags)
"""

DATA_VIEW = PRELUDE + """
m = c.Contact.new_message(name="hello", avatar=b"abc")
v = m.get_data_as_view("avatar")
print(type(v).__name__, bytes(v), len(v))
r = m.as_reader()
rv = r.get_data_as_view("avatar")
print(rv.readonly, bytes(rv))
attempt("m.get_data_as_view('name')", globals())
attempt("m.get_data_as_view('id')", globals())
attempt("m.get_data_as_view('nosuch')", globals())
attempt("r.get_data_as_view('nosuch')", globals())
"""

BUNDLED_FILES = """
import capnp, importlib, os
for n in ["schema", "rpc", "rpc_twoparty", "persistent", "stream", "c++"]:
    m = importlib.import_module("capnp.%s_capnp" % n)
    print(n, os.path.basename(m.__file__), os.path.dirname(m.__file__) == os.path.dirname(capnp.__file__),
          m.__path__ == [os.path.dirname(capnp.__file__)], m.__name__)
c = capnp.load("contacts.capnp")
for obj in (c.Contact, c.Contact.Phone, c.Shape, c.Shape.Square, c.Mixed, c.Mixed.Info):
    print(type(obj).__name__, hasattr(obj, "Reader"), hasattr(obj, "Builder"), hasattr(obj, "_nodeProto"),
          hasattr(obj, "Union"), sorted(n for n in dir(obj) if not n.startswith("__")))
"""

SCHEMA_LOADER = PRELUDE + """
loader = capnp.SchemaLoader()
s = loader.load(c.Contact.schema.get_proto())
print(type(s).__name__, type(loader.get(c.Contact.schema.node.id)).__name__)
attempt("loader.get(123)", globals())
attempt("loader.load(5)", globals())
phone = loader.load_dynamic(c.Contact.Phone.schema.node)
print(type(phone).__name__, phone.node.displayName)
st = s.as_struct()
print(type(st).__name__, st, st.fieldnames)
mb = capnp._MallocMessageBuilder()
x = mb.init_root(st)
x.id = 4
x.name = "a"
print(x.id, x.name, x.schema)
x.init("phones", 1)[0].number = "555"
print(x.phones[0].number)
# Nodes not loaded (the `status` group, the `Kind` enum) read as empty placeholders.
print(x)
print(repr(x.status), x.status.to_dict())
print(repr(x.as_reader().status), x.phones[0].kind.raw)

print(c.Contact.from_bytes_packed(x.to_bytes_packed()).to_dict())
print(loader.get(c.Contact.schema.node.id).as_struct().node.id == c.Contact.schema.node.id)
"""


def run(script, tmp_path):
    (tmp_path / "contacts.capnp").write_text((SCHEMAS / "contacts.capnp").read_text())
    assert_same_output(script, tmp_path)


def test_message_builder_and_reader_classes(tmp_path):
    run(MESSAGE_BUILDERS, tmp_path)


def test_resizable_list(tmp_path):
    run(RESIZABLE, tmp_path)


def test_by_field_accessors(tmp_path):
    run(BY_FIELD, tmp_path)


def test_list_disown(tmp_path):
    run(LIST_DISOWN, tmp_path)


def test_get_data_as_view(tmp_path):
    run(DATA_VIEW, tmp_path)


def test_bundled_module_files_and_group_modules(tmp_path):
    run(BUNDLED_FILES, tmp_path)


def test_schema_loader(tmp_path):
    run(SCHEMA_LOADER, tmp_path)
