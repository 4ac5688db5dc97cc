"""Message scripts print the same under pycapnp 2.2.4 and under this package."""

import pathlib

from differential import assert_same_output

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMAS = pathlib.Path(__file__).parent / "schemas"


def test_addressbook_example():
    script = "import runpy; runpy.run_path('addressbook.py', run_name='__main__')"
    assert_same_output(script, ROOT / "examples")


MESSAGES = """
import capnp
c = capnp.load("contacts.capnp")
m = c.Contact.new_message(id=3, name="Zoë", tags=["x"], status={"employer": {"title": "ACME"}})
m.phones = [{"number": "1", "kind": "fax"}, {"number": "2"}]
print(m.to_dict())
print(m.to_dict(verbose=True))
ctx = c.Contact.from_bytes(m.to_bytes())
r = ctx.__enter__()
print(r.name, r.id, list(r.tags), r.status.which, r.status.which(), r.status.employer.title)
for p in r.phones:
    print(p.number, p.kind, p.kind.raw, p.kind == "fax", p.kind == 2, repr(p.kind))
print(repr(r.status.which), r.status.which == c.Contact.Status.employer)
print(c.Contact.from_bytes_packed(m.to_bytes_packed()).to_dict() == r.to_dict())
for attempt in ("m.nosuch", "m.id = 'x'", "m.id = -1", "m.phones[5]", "m.status.retired",
                "m._get('nosuch')", "m.phones[0].kind = 'nosuch'",
                "m.init('id')", "m.init('name')", "m._which()"):
    try:
        exec(attempt)
        print(attempt, "ok")
    except Exception as e:
        text = str(e)
        frag = [f for f in ("has no such member", "Value type mismatch", "out-of-range",
                            "Out of bounds", "not currently initialized", "multiple of eight",
                            "no such enumerant", "without a size", "non-union") if f in text]
        print(attempt, type(e).__name__, frag)
"""


def test_message_behaviour(tmp_path):
    (tmp_path / "contacts.capnp").write_text((SCHEMAS / "contacts.capnp").read_text())
    assert_same_output(MESSAGES, tmp_path)


BUILDER_DICTS = """
import capnp
c = capnp.load("contacts.capnp")
m = c.Contact.new_message(id=3, name="Zoë", tags=["x"], status={"employer": {"title": "ACME"}})
m.phones = [{"number": "1", "kind": "fax"}, {"number": "2"}]
# A builder's to_dict reads the message as it is at the call, for every kind of handle.
print(m.to_dict())
print(m.phones[1].to_dict(), m.status.to_dict(), m.status.employer.to_dict())
employer = m.status.employer
employer.title = "Initech"
employer.boss.name = "Bill"
print(m.to_dict())
print(employer.to_dict(), employer.boss.to_dict())
m.phones[0].number = "9" * 20
print(m.phones[0].to_dict(), m.to_dict(verbose=True))
# Larger than what a part's to_dict copies (64 KiB), then than a root's (1 MiB): read
# through the view instead.
m.avatar = b"\\x01" * (1 << 17)
print(m.phones[0].to_dict(), m.status.employer.boss.to_dict(), len(m.to_dict()["avatar"]))
m.avatar = b"\\x01" * (1 << 21)
d = m.to_dict()
print(len(d["avatar"]), d["status"], d["phones"], m.phones[1].to_dict())
"""


def test_builder_to_dict(tmp_path):
    (tmp_path / "contacts.capnp").write_text((SCHEMAS / "contacts.capnp").read_text())
    assert_same_output(BUILDER_DICTS, tmp_path)
