"""Schema introspection seen the same way under pycapnp 2.2.4 and under this package: every
node of the test schemas through `schema.node`, and the schema classes around them."""

import pytest

from differential import assert_same_output, oracle_and_ours

# Walks every node reachable from each file (nested declarations, groups, method parameter and
# result structs) and prints its `to_dict()`. AnyPointer values (pointer defaults, constant
# values) print as a marker: see test_anypointer_values_in_node_dicts.
NODES = """
import capnp

def plain(v, key=None):
    if isinstance(v, dict):
        return {k: plain(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    if key in ("list", "struct", "anyPointer") and not isinstance(v, (dict, list)):
        return "<pointer>"
    assert v is None or isinstance(v, (bool, int, float, str, bytes)), type(v)
    return v

for f, kw in FILES:
    m = capnp.load(f, **kw)
    stack = [m.schema]
    seen = set()
    while stack:
        s = stack.pop()
        n = s.node
        if n.id in seen:
            continue
        seen.add(n.id)
        print(f, n.displayName, n.which(), sorted(plain(n.to_dict()).items()))
        if hasattr(s, "get_nested"):
            for nn in n.nestedNodes:
                stack.append(s.get_nested(nn.name))
        if n.which() == "struct":
            st = s.as_struct() if hasattr(s, "as_struct") else s
            for fl in n.struct.fields:
                if fl.which() == "group":
                    stack.append(st.fields[fl.name].schema)
        if n.which() == "interface":
            for meth in s.as_interface().methods.values():
                stack.append(meth.param_type)
                stack.append(meth.result_type)
    print(f, len(seen), "nodes")
"""

FILES = [
    ("contacts.capnp", {}),
    ("alltypes.capnp", {}),
    ("importer.capnp", {"imports": ["include"]}),
    ("introspect.capnp", {}),
]


def test_every_node_matches_pycapnp(schemas):
    assert_same_output(NODES.replace("FILES", repr(FILES)), schemas)


# What programs do with schema objects, without relying on reader reprs.
CLASSES = """
import capnp
c = capnp.load("contacts.capnp")
m = capnp.load("introspect.capnp")
s = c.Contact.schema
print(repr(s), s.fieldnames, s.union_fields, s.non_union_fields, list(s.fields), s.fields_list)
print(repr(s.node.schema), s.node.which(), s.node.which == "struct")
for name, f in s.fields.items():
    sub = f.schema if f.proto.which() == "group" or f.proto.slot.type.which() in (
        "struct", "enum", "interface", "list") else None
    print(name, repr(f), f.proto.name, f.proto.codeOrder, f.proto.discriminantValue,
          f.proto.which(), type(sub).__name__)
print(s.fields["phones"].schema.elementType, s.fields["status"].schema.fieldnames)
p = s.get_proto()
print(type(p).__name__, p.displayName, p.id, p.scopeId, p.isStruct, p.isEnum, p.isInterface,
      p.isConst, len(p.nestedNodes), [(n.name, n.id) for n in p.nestedNodes], p.node.id)
print(c.Colour.schema.enumerants, c.Colour._nodeProto.isEnum)
print(c.Counter.schema.method_names, sorted(c.NamedCounter.schema.methods_inherited))
print(c.Counter.schema.methods["add"].param_type, c.Counter.schema.methods["child"].result_type)
print(c.NamedCounter.schema.superclasses, sorted(c.NamedCounter.schema.method_names_inherited))
print(c.Contact._nodeSchema.as_struct() == s, s == c.Company.schema)
for call in ("c.Contact._nodeSchema.as_enum()", "c.Colour._nodeSchema.as_struct()",
             "c.Contact._nodeSchema.as_interface()", "c.Contact._nodeSchema.as_const_value()",
             "capnp._ListSchema(3)"):
    try:
        eval(call)
    except capnp.KjException as e:
        print(call, "KjException", [w for w in ("non-enum", "non-struct", "non-interface",
              "non-constant", "Unknown schema type") if w in str(e)])
print(capnp._ListSchema(c.Contact).elementType, type(capnp.types.Int16).__name__)
print(list(c.numbers), c.schema.get_nested("numbers").as_const_value()[2])
print(m.corner.x, m.corner.y, m.origin.to_dict(), list(m.words), [list(r) for r in m.matrix])
print([p.to_dict() for p in m.points], list(m.flags), m.tagged.to_dict(), list(m.copied))
t = m.Tagged.schema
print([a.value.which() for a in t.node.annotations], t.node.annotations[0].value.text)
print(t.fields["name"].proto.annotations[0].value.text, m.schema.node.annotations[0].value.text)
print(m.Box.schema.node.isGeneric, [x.name for x in m.Box.schema.node.parameters])
print(m.UsesBox.schema.node.struct.fields[0].slot.type.struct.brand.to_dict())
"""


def test_schema_classes_match_pycapnp(schemas):
    assert_same_output(CLASSES, schemas)


STDLIB = """
import importlib
import capnp
import capnp.schema_capnp, capnp.rpc_capnp, capnp.rpc_twoparty_capnp
import capnp.persistent_capnp, capnp.stream_capnp
for mod in (capnp.schema_capnp, capnp.rpc_capnp, capnp.rpc_twoparty_capnp,
            capnp.persistent_capnp, capnp.stream_capnp, importlib.import_module("capnp.c++_capnp")):
    print(mod.__name__, mod.schema.node.displayName, mod.schema.node.id,
          sorted(k for k in vars(mod) if k[:1].isalpha() and k != "schema"))
print(capnp.schema_capnp.Node.schema, capnp.schema_capnp.Node.schema.fieldnames)
print(capnp.rpc_capnp.Message.schema.union_fields, capnp.rpc_twoparty_capnp.Side.server)
print(capnp.schema_capnp.Node.new_message(displayName="n").to_dict())
"""


def test_standard_modules_match_pycapnp(tmp_path):
    assert_same_output(STDLIB, tmp_path)


ANYPOINTER_VALUES = """
import capnp
c = capnp.load("contacts.capnp")
print(c.Company.schema.node.struct.fields[1].slot.defaultValue.to_dict()["struct"] is None)
"""


def test_anypointer_values_in_node_dicts(schemas):
    expected, actual = oracle_and_ours(ANYPOINTER_VALUES, schemas)
    assert actual == expected
