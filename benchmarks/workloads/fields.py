"""Field reads and writes per type, list indexing and iteration, which()."""

from . import Benchmark, open_reader, schema

LIST_LEN = 100

# One value per field of bench.capnp's Fields, in plain-Python form (what a read returns).
VALUES = {
    "boolField": True,
    "int8Field": -100,
    "int16Field": -30000,
    "int32Field": -2000000000,
    "int64Field": -9000000000000,
    "uint8Field": 200,
    "uint16Field": 60000,
    "uint32Field": 4000000000,
    "uint64Field": 18000000000000000000,
    "float32Field": 1.5,
    "float64Field": 3.141592653589793,
    "enumField": "blue",
    "textField": "hello, world",
    "dataField": b"\x00\x01binary\xff",
    "structField": {"x": 42, "label": "inner"},
    "int32List": list(range(LIST_LEN)),
    "structList": [{"x": i, "label": "item%d" % i} for i in range(LIST_LEN)],
    "textList": ["text%d" % i for i in range(LIST_LEN)],
    "number": 7,
    "choice": {"count": 99},
}

# Values written by the set benchmarks (different from VALUES, so a no-op write fails).
NEW_VALUES = {
    "boolField": False,
    "int8Field": 101,
    "int16Field": 30001,
    "int32Field": 2000000001,
    "int64Field": 9000000000001,
    "uint8Field": 201,
    "uint16Field": 60001,
    "uint32Field": 4000000001,
    "uint64Field": 18000000000000000001,
    "float32Field": -2.25,
    "float64Field": 2.718281828459045,
    "enumField": "green",
    "textField": "goodbye",
    "dataField": b"\xfe\xfdother",
    "structField": {"x": -5, "label": "set"},
    "int32List": list(range(10, 0, -1)),
}

SCALARS = ["boolField", "int8Field", "int16Field", "int32Field", "int64Field", "uint8Field",
           "uint16Field", "uint32Field", "uint64Field", "float32Field", "float64Field",
           "enumField"]
POINTERS = ["textField", "dataField", "structField", "int32List"]
SHORT = {"boolField": "bool", "int8Field": "int8", "int16Field": "int16",
         "int32Field": "int32", "int64Field": "int64", "uint8Field": "uint8",
         "uint16Field": "uint16", "uint32Field": "uint32", "uint64Field": "uint64",
         "float32Field": "float32", "float64Field": "float64", "enumField": "enum",
         "textField": "text", "dataField": "data", "structField": "struct",
         "int32List": "list"}


def fields_module():
    return schema("bench.capnp").Fields


def build_fields():
    """A Fields builder holding VALUES, written field by field (no from_dict)."""
    bench = schema("bench.capnp")
    b = bench.Fields.new_message()
    for name in SCALARS + ["textField", "dataField"]:
        setattr(b, name, VALUES[name])
    b.structField.x = VALUES["structField"]["x"]
    b.structField.label = VALUES["structField"]["label"]
    ints = b.init("int32List", LIST_LEN)
    structs = b.init("structList", LIST_LEN)
    texts = b.init("textList", LIST_LEN)
    for i in range(LIST_LEN):
        ints[i] = i
        structs[i].x = i
        structs[i].label = "item%d" % i
        texts[i] = "text%d" % i
    b.number = VALUES["number"]
    b.choice.count = VALUES["choice"]["count"]
    return b


def reader_ns(quick):
    data = build_fields().to_bytes()
    manager, r = open_reader(fields_module(), data, traversal_limit_in_words=2 ** 62)
    return {"data": data, "manager": manager, "r": r}


def builder_ns(quick):
    return {"b": build_fields()}


def setter_ns(quick):
    bench = schema("bench.capnp")
    inner = bench.Inner.new_message(**NEW_VALUES["structField"])
    ns = {"b": build_fields(), "inner": inner.as_reader(), "inner_builder": inner}
    for name, value in NEW_VALUES.items():
        ns["v_" + name] = value
    return ns


def _const(value):
    return lambda quick: value


def slot_ns(quick):
    class Slotted:
        __slots__ = ("x",)

    o = Slotted()
    o.x = 7
    return {"o": o}


# The floor of a field read: a plain Python attribute held in a slot (no capnp). A primitive
# field read may cost at most 2x this (issue 10).
Benchmark("read.slot_floor", slot_ns, "o.x", expected=_const(7), target="baseline",
          doc="plain Python slot attribute read (no capnp): the floor of field reads")
for _name in SCALARS + POINTERS:
    _short = SHORT[_name]
    Benchmark("read.%s" % _short, reader_ns, "r.%s" % _name, expected=_const(VALUES[_name]),
              target="read", doc="reader field get, %s" % _short,
              baseline="read.slot_floor" if _name in SCALARS else None)
for _name in SCALARS + POINTERS:
    _short = SHORT[_name]
    Benchmark("get.%s" % _short, builder_ns, "b.%s" % _name, expected=_const(VALUES[_name]),
              target="read", doc="builder field get, %s" % _short)
for _name in SCALARS + POINTERS:
    _short = SHORT[_name]
    _value = "inner" if _name == "structField" else "v_" + _name
    Benchmark("set.%s" % _short, setter_ns, "b.%s = %s" % (_name, _value),
              check="b.%s" % _name, expected=_const(NEW_VALUES[_name]), target="set",
              doc="builder field set, %s" % _short)


def list_ns(quick):
    ns = reader_ns(quick)
    r = ns["r"]
    ns.update(ints=r.int32List, structs=r.structList, texts=r.textList)
    b = build_fields()
    ns.update(b=b, bints=b.int32List, bstructs=b.structList, btexts=b.textList)
    return ns


MID = LIST_LEN // 2
Benchmark("list.int32.index", list_ns, "ints[%d]" % MID, expected=_const(MID),
          target="list_index", doc="reader List(Int32) element")
Benchmark("list.struct.index", list_ns, "structs[%d]" % MID,
          expected=_const(VALUES["structList"][MID]), target="list_index",
          doc="reader List(Inner) element")
Benchmark("list.text.index", list_ns, "texts[%d]" % MID,
          expected=_const(VALUES["textList"][MID]), target="list_index",
          doc="reader List(Text) element")
Benchmark("list.int32.index.builder", list_ns, "bints[%d]" % MID, expected=_const(MID),
          doc="builder List(Int32) element", target="list_index")
Benchmark("list.struct.index.builder", list_ns, "bstructs[%d]" % MID,
          expected=_const(VALUES["structList"][MID]), target="list_index",
          doc="builder List(Inner) element")
Benchmark("list.text.index.builder", list_ns, "btexts[%d]" % MID,
          expected=_const(VALUES["textList"][MID]), target="list_index",
          doc="builder List(Text) element")
Benchmark("list.int32.iter", list_ns, "list(ints)", expected=_const(VALUES["int32List"]),
          doc="iterate a reader List(Int32) of %d" % LIST_LEN, target="list_iter")
Benchmark("list.struct.iter", list_ns, "list(structs)",
          expected=_const(VALUES["structList"]),
          doc="iterate a reader List(Inner) of %d" % LIST_LEN, target="list_iter")
Benchmark("list.text.iter", list_ns, "list(texts)", expected=_const(VALUES["textList"]),
          doc="iterate a reader List(Text) of %d" % LIST_LEN, target="list_iter")
Benchmark("list.struct.iter.field", list_ns, "[s.x for s in structs]",
          expected=_const(list(range(LIST_LEN))),
          doc="iterate a reader List(Inner) of %d reading one field of each" % LIST_LEN)
Benchmark("list.int32.iter.builder", list_ns, "list(bints)",
          expected=_const(VALUES["int32List"]),
          doc="iterate a builder List(Int32) of %d" % LIST_LEN, target="list_iter")
Benchmark("list.text.iter.builder", list_ns, "list(btexts)",
          expected=_const(VALUES["textList"]),
          doc="iterate a builder List(Text) of %d" % LIST_LEN, target="list_iter")
Benchmark("list.len", list_ns, "len(structs)", expected=_const(LIST_LEN),
          doc="len() of a reader list")


def which_ns(quick):
    ns = reader_ns(quick)
    ns["g"] = ns["r"].choice
    b = build_fields()
    ns.update(b=b, bg=b.choice)
    return ns


def _str_check(expr):
    return lambda ns: str(eval(expr, ns))


for _where, _obj, _value in (("root", "r", "number"), ("group", "g", "count"),
                             ("root.builder", "b", "number"),
                             ("group.builder", "bg", "count")):
    Benchmark("which.%s.prop" % _where, which_ns, "%s.which" % _obj,
              check=_str_check("%s.which" % _obj), expected=_const(_value), target="which_prop",
              doc="which (property) on a %s" % _where.replace(".", " "))
    Benchmark("which.%s.call" % _where, which_ns, "%s.which()" % _obj,
              check=_str_check("%s.which()" % _obj), expected=_const(_value),
              target="which", doc="which() (call) on a %s" % _where.replace(".", " "))
Benchmark("read.group", which_ns, "r.choice", expected=_const(VALUES["choice"]),
          target="read", doc="reader group get")
