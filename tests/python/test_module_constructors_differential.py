"""Module constructors with pycapnp's signatures (issue 11, item 2): `capnp._StructModule(schema,
name)`, `capnp.lib.capnp._InterfaceModule(schema, name)` and `capnp.lib.capnp._EnumModule(schema,
name)` build working modules from schema objects (a loaded module's, or a SchemaLoader's)."""

import pathlib

from differential import assert_same_output

SCHEMAS = pathlib.Path(__file__).parent / "schemas"

SCRIPT = """
import capnp
L = capnp.lib.capnp
c = capnp.load("contacts.capnp")

def public(obj):
    return sorted(n for n in vars(obj) if not n.startswith("_"))

# Structs from a loaded module's schema.
S = capnp._StructModule(c.Contact.schema, "Contact")
print(type(S).__name__, S.schema == c.Contact.schema, capnp._StructModule is L._StructModule)
print(public(S), S.Status.schema == c.Contact.Status.schema)
m = S.new_message(id=3, name="n", phones=[{"number": "1", "kind": "fax"}])
m.status.retired = "yes"
print(m, m.status.which(), m.status.which() == S.Status.retired)
data = m.to_bytes()
m.clear_write_flag()
with S.from_bytes(data) as r:
    print(r.phones[0].kind, S.from_bytes_packed(m.to_bytes_packed()).name)
print(isinstance(m, c.Contact.Builder), S(id=9).id)
# Anonymous unions give a Union enum; groups without a union a struct module.
Sh = capnp._StructModule(c.Shape.schema, "Shape")
print(public(Sh), Sh.Union.Square, Sh.new_message(circle=1.5))
Mx = capnp._StructModule(c.Mixed.schema, "Mixed")
print(public(Mx), type(Mx.Info).__name__, Mx.Info.schema == c.Mixed.Info.schema)
print(Mx.new_message(plain=1, b="bee", info={"x": 2}).to_dict())

# Enums.
E = L._EnumModule(c.Colour.schema, "Colour")
print(type(E).__name__, public(E), E.darkOliveGreen, E.schema == c.Colour.schema)
K = L._EnumModule(c.Contact.Phone.Kind.schema, "Kind")
print(K.fax, S.new_message(phones=[{"kind": K.fax}]).phones[0].kind)

# Interfaces.
I = L._InterfaceModule(c.Counter.schema, "Counter")
print(type(I).__name__, I.Server.__name__, I.schema == c.Counter.schema)
N = L._InterfaceModule(c.NamedCounter.schema, "NamedCounter")
print(N.Server.__name__, issubclass(N.Server, capnp.lib.capnp._DynamicCapabilityServer))

# From a SchemaLoader.
loader = capnp.SchemaLoader()
for node in (c.Contact, c.Contact.Phone, c.Contact.Phone.Kind, c.Company, c.Contact.Status):
    loader.load_dynamic(node.schema.node)
ls = loader.get(c.Contact.schema.node.id).as_struct()
LS = capnp._StructModule(ls, "Contact")
lm = LS.new_message(id=5, name="from loader", phones=[{"number": "2"}])
print(lm.id, lm.name, lm.phones[0].number, public(LS))
with LS.from_bytes(lm.to_bytes()) as r:
    print(r.name)
le = L._EnumModule(loader.get(c.Contact.Phone.Kind.schema.node.id).as_enum(), "Kind")
print(le.cell, le.landline, le.fax)
"""


def test_module_constructors(tmp_path):
    assert_same_output(SCRIPT, SCHEMAS)
