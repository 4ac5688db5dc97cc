"""Whole-message operations: dict conversion, new_message(**kwargs), str(), serialization in
every framing, the tutorial's address book, and loading a large schema."""

import json
import os

from . import ROOT, Benchmark, open_reader
from .fields import LIST_LEN, SCALARS, VALUES, build_fields, fields_module

ADDRESSBOOK = os.path.join(ROOT, "examples", "addressbook.capnp")

# The address book of the Cap'n Proto tutorial, as its to_dict() reads.
ADDRESSBOOK_DICT = {
    "people": [
        {
            "id": 123,
            "name": "Alice",
            "email": "alice@example.com",
            "phones": [{"number": "555-1212", "type": "mobile"}],
            "employment": {"school": "MIT"},
        },
        {
            "id": 456,
            "name": "Bob",
            "email": "bob@example.com",
            "phones": [
                {"number": "555-4567", "type": "home"},
                {"number": "555-7654", "type": "work"},
            ],
            "employment": {"unemployed": None},
        },
    ]
}


def addressbook_module():
    import capnp

    return capnp.load(ADDRESSBOOK).AddressBook


def build_addressbook(book_module):
    """The tutorial's writeAddressBook: two people, phones, the employment union."""
    book = book_module.new_message()
    people = book.init("people", 2)

    alice = people[0]
    alice.id = 123
    alice.name = "Alice"
    alice.email = "alice@example.com"
    alice_phones = alice.init("phones", 1)
    alice_phones[0].number = "555-1212"
    alice_phones[0].type = "mobile"
    alice.employment.school = "MIT"

    bob = people[1]
    bob.id = 456
    bob.name = "Bob"
    bob.email = "bob@example.com"
    bob_phones = bob.init("phones", 2)
    bob_phones[0].number = "555-4567"
    bob_phones[0].type = "home"
    bob_phones[1].number = "555-7654"
    bob_phones[1].type = "work"
    bob.employment.unemployed = None
    return book


class _Plain:
    """A plain Python object with slots: the address book's structs in `build_plain_book`."""

    __slots__ = ("people", "id", "name", "email", "phones", "employment", "number", "type",
                 "school", "unemployed")


def build_plain_book():
    """`build_addressbook`'s statements on plain objects (no capnp, no method calls): the
    floor of building the book in this interpreter."""
    book = _Plain()
    people = book.people = [_Plain(), _Plain()]

    alice = people[0]
    alice.id = 123
    alice.name = "Alice"
    alice.email = "alice@example.com"
    alice_phones = alice.phones = [_Plain()]
    alice_phones[0].number = "555-1212"
    alice_phones[0].type = "mobile"
    alice.employment = _Plain()
    alice.employment.school = "MIT"

    bob = people[1]
    bob.id = 456
    bob.name = "Bob"
    bob.email = "bob@example.com"
    bob_phones = bob.phones = [_Plain(), _Plain()]
    bob_phones[0].number = "555-4567"
    bob_phones[0].type = "home"
    bob_phones[1].number = "555-7654"
    bob_phones[1].type = "work"
    bob.employment = _Plain()
    bob.employment.unemployed = None
    return book


def plain_book_ns(quick):
    return {"build_plain_book": build_plain_book}


SCALAR_DEFAULTS = {"boolField": False, "float32Field": 0.0, "float64Field": 0.0,
                   "enumField": "red"}


def _plain_dict(d):
    """to_dict()'s form of a Fields value given as a dict: the root union's member first
    (`none` unless set), then every scalar (defaults when absent), the pointer fields that
    are set, and the group, in schema order."""
    union = [name for name in ("number", "name") if name in d]
    out = {union[0]: d[union[0]]} if union else {"none": None}
    for name in SCALARS:
        out[name] = d.get(name, SCALAR_DEFAULTS.get(name, 0))
    for name in ["textField", "dataField", "structField", "int32List", "structList",
                 "textList"]:
        if name in d:
            out[name] = d[name]
    out["choice"] = d.get("choice", {"nothing": None})
    return out


FIELDS_DICT = _plain_dict(VALUES)
# A smaller Fields value for from_dict/new_message: scalars, text, data, a struct and a short
# list, no 100-element lists.
SMALL_DICT = {name: VALUES[name] for name in
              ["boolField", "int8Field", "int16Field", "int32Field", "int64Field",
               "uint8Field", "uint16Field", "uint32Field", "uint64Field", "float32Field",
               "float64Field", "enumField", "textField", "dataField", "structField"]}
SMALL_DICT["int32List"] = list(range(10))
SMALL_DICT_READ = _plain_dict(SMALL_DICT)
# new_message(**kwargs) with scalar and text fields only, the common constructor call.
KWARGS = {name: VALUES[name] for name in
          ["boolField", "int32Field", "int64Field", "uint16Field", "float64Field",
           "enumField", "textField"]}
KWARGS_READ = _plain_dict(KWARGS)


def _const(value):
    return lambda quick: value


def json_text(reader):
    """A reader as JSON text: ours has to_json() (issue 12); pycapnp has no JSON codec, so
    its programs write json.dumps(msg.to_dict())."""
    to_json = getattr(reader, "to_json", None)
    if to_json is not None:
        return to_json()
    return json.dumps(reader.to_dict())


def message_ns(quick):
    fields = fields_module()
    book_module = addressbook_module()
    fb = build_fields()
    bb = build_addressbook(book_module)
    ns = {"Fields": fields, "AddressBook": book_module, "fb": fb, "bb": bb,
          "build_addressbook": build_addressbook, "small": SMALL_DICT, "kwargs": KWARGS,
          "book_dict": ADDRESSBOOK_DICT, "json_text": json_text, "json": json}
    for key, builder, module in (("f", fb, fields), ("a", bb, book_module)):
        data = builder.to_bytes()
        manager, reader = open_reader(module, data, traversal_limit_in_words=2 ** 62)
        ns.update({key + "_bytes": data, key + "_manager": manager, key + "r": reader,
                   key + "_packed": builder.to_bytes_packed(),
                   key + "_segments": builder.to_segments()})
    return ns


def _read_back(module_name, produced_name, kind):
    """A check that parses the bytes/segments the statement produced."""
    def check(ns):
        module = ns[module_name]
        produced = ns[produced_name]
        if kind == "bytes":
            with module.from_bytes(produced) as reader:
                return reader.to_dict()
        if kind == "packed":
            return module.from_bytes_packed(produced).to_dict()
        return module.from_segments(produced).to_dict()
    return check


Benchmark("to_dict.fields", message_ns, "fr.to_dict()", expected=_const(FIELDS_DICT),
          target="dict", doc="to_dict() of a reader: every field type, three %d-element lists"
          % LIST_LEN)
Benchmark("to_dict.addressbook", message_ns, "ar.to_dict()",
          expected=_const(ADDRESSBOOK_DICT), target="dict",
          doc="to_dict() of the address book reader")
Benchmark("to_dict.builder", message_ns, "bb.to_dict()", expected=_const(ADDRESSBOOK_DICT),
          target="dict", doc="to_dict() of the address book builder")
Benchmark("from_dict.fields", message_ns, "out = Fields.new_message(); out.from_dict(small)",
          check="out", expected=_const(SMALL_DICT_READ), target="dict",
          doc="new_message() + from_dict(): scalars, text, data, a struct, a 10-element list")
Benchmark("from_dict.addressbook", message_ns,
          "out = AddressBook.new_message(); out.from_dict(book_dict)", check="out",
          expected=_const(ADDRESSBOOK_DICT), target="dict",
          doc="new_message() + from_dict() of the address book")
Benchmark("new_message.empty", message_ns, "out = Fields.new_message()",
          check="[out.int32Field, str(out.which()), out.textField]",
          expected=_const([0, "none", ""]), target="new_message",
          doc="new_message() without arguments")
Benchmark("new_message.kwargs", message_ns, "Fields.new_message(**kwargs)",
          expected=_const(KWARGS_READ), target="new_message",
          doc="new_message(**kwargs): 7 scalar/enum/text fields")
Benchmark("to_json.addressbook", message_ns, "out = json_text(ar)",
          check="[p['phones'][-1]['type'] for p in json.loads(out)['people']]",
          expected=_const(["mobile", "work"]), target="json",
          doc="JSON of the address book: to_json() against pycapnp's json.dumps(to_dict())")
Benchmark("str.addressbook", message_ns, "str(ar)", target="str",
          doc="str() (text format) of the address book reader")
Benchmark("str.fields", message_ns, "str(fr)", target="str",
          doc="str() of the every-type reader")
Benchmark("addressbook.object_floor", plain_book_ns, "out = build_plain_book()",
          check="[p.phones[-1].type for p in out.people]", expected=_const(["mobile", "work"]),
          target="baseline",
          doc="the address book's statements on plain Python objects (no capnp): the floor")
Benchmark("addressbook.build", message_ns, "build_addressbook(AddressBook)",
          expected=_const(ADDRESSBOOK_DICT), target="addressbook",
          baseline="addressbook.object_floor",
          doc="build the tutorial's address book (2 people, phones, employment union)")
Benchmark("addressbook.build_serialize", message_ns,
          "out = build_addressbook(AddressBook).to_bytes()",
          check=_read_back("AddressBook", "out", "bytes"), expected=_const(ADDRESSBOOK_DICT),
          target="addressbook", doc="build the address book and to_bytes() it")

for _key, _module, _dict, _what in (("addressbook", "AddressBook", ADDRESSBOOK_DICT, "a"),
                                    ("fields", "Fields", FIELDS_DICT, "f")):
    _builder = "bb" if _what == "a" else "fb"
    Benchmark("to_bytes.%s" % _key, message_ns, "out = %s.to_bytes()" % _builder,
              check=_read_back(_module, "out", "bytes"), expected=_const(_dict),
              target="to_bytes_small", doc="to_bytes() of the %s builder" % _key)
    Benchmark("from_bytes.%s" % _key, message_ns,
              "with %s.from_bytes(%s_bytes) as out: pass" % (_module, _what),
              check="out", expected=_const(_dict), target="from_bytes",
              doc="from_bytes() of the %s message (entering the reader)" % _key)
    Benchmark("to_bytes_packed.%s" % _key, message_ns,
              "out = %s.to_bytes_packed()" % _builder,
              check=_read_back(_module, "out", "packed"), expected=_const(_dict),
              target="packed", doc="to_bytes_packed() of the %s builder" % _key)
    Benchmark("from_bytes_packed.%s" % _key, message_ns,
              "out = %s.from_bytes_packed(%s_packed)" % (_module, _what),
              check="out", expected=_const(_dict), target="packed",
              doc="from_bytes_packed() of the %s message" % _key)
    Benchmark("to_segments.%s" % _key, message_ns, "out = %s.to_segments()" % _builder,
              check=_read_back(_module, "out", "segments"), expected=_const(_dict),
              target="packed", doc="to_segments() of the %s builder" % _key)
    Benchmark("from_segments.%s" % _key, message_ns,
              "out = %s.from_segments(%s_segments)" % (_module, _what),
              check="out", expected=_const(_dict), target="packed",
              doc="from_segments() of the %s message" % _key)

Benchmark("to_bytes.bytes_equal", message_ns, "fb.to_bytes()", target="to_bytes_small",
          doc="to_bytes() of the every-type builder; check: the bytes themselves, equal under "
          "both implementations")

LARGE_SCHEMA = os.path.join(ROOT, "tests", "conformance", "cases", "large", "main.capnp")
STANDARD_IMPORTS = os.path.join(ROOT, "crates", "compiler", "schemas")


def load_large():
    """The ~4,000-line generated schema (4 files), loaded by a fresh parser so that nothing
    is cached. pycapnp needs the standard files' directory for `stream.capnp`."""
    import capnp

    return capnp.SchemaParser().load(LARGE_SCHEMA, imports=[STANDARD_IMPORTS])


def schema_ns(quick):
    return {"load_large": load_large}


def _module_summary(module):
    names = sorted(n for n in dir(module) if not n.startswith("_"))
    return {"names": names, "Rec226": module.Rec226.schema.node.id}


Benchmark("schema.load_large", schema_ns, "out = load_large()",
          check=lambda ns: _module_summary(ns["out"]), target="schema",
          doc="SchemaParser().load() of the generated ~4,000-line schema (4 files)")
