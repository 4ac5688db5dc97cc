"""Schemas are per parser (issue 11, item 4): a struct (or list of structs, or orphan) whose
type one `SchemaParser` loaded does not go into a field whose type another parser loaded,
even from the same file: `KjException` (type mismatch), as pycapnp raises."""

import pathlib

from differential import assert_same_output

SCHEMAS = pathlib.Path(__file__).parent / "schemas"

SCRIPT = """
import capnp
p1 = capnp.SchemaParser()
p2 = capnp.SchemaParser()
a1 = p1.load("alltypes.capnp")
a2 = p2.load("alltypes.capnp")

def attempt(label, f, text=True):
    try:
        f()
        print(label, "ok")
    except Exception as e:
        # pycapnp's list element assignment raises with an empty message.
        print(label, "raises", type(e).__name__, "Value type mismatch" in str(e) if text else "")

m1 = a1.All.new_message()
m2 = a2.All.new_message(i8=3, structs=[{"i8": 1}], ints=[1, 2])
attempt("struct builder", lambda: setattr(m1, "s", m2))
attempt("struct reader", lambda: setattr(m1, "s", m2.as_reader()))
attempt("struct reader _set", lambda: m1._set("s", m2.as_reader()))
attempt("same parser", lambda: setattr(m1, "s", a1.All.new_message(i8=4)))
attempt("list of structs", lambda: setattr(m1, "structs", m2.structs))
attempt("list element", lambda: m1.init("structs", 1).__setitem__(0, m2))
attempt("list of ints", lambda: setattr(m1, "ints", m2.ints))
attempt("dict", lambda: setattr(m1, "s", m2.to_dict()))
attempt("enum", lambda: setattr(m1, "e", a2.All.new_message(e="green").e))
attempt("enum same parser", lambda: setattr(m1, "e", a1.All.new_message(e="blue").e))
attempt("enum by name", lambda: setattr(m1, "e", "green"))
attempt("enum list", lambda: setattr(m1, "colors", a2.All.new_message(colors=["green"]).colors))
attempt("enum list same parser", lambda: setattr(m1, "colors", a1.All.new_message(colors=["red"]).colors))
attempt("enum element", lambda: m1.init("colors", 1).__setitem__(0, a2.All.new_message(e="green").e), False)
attempt("orphan", lambda: m1.adopt("s", capnp._MallocMessageBuilder().new_orphan(a2.All)))
attempt("set_root", lambda: capnp._MallocMessageBuilder().set_root(m2))
attempt("init_root", lambda: capnp._MallocMessageBuilder().init_root(a2.All))
print(m1.s.i8, len(m1.structs), list(m1.ints), m1.e, list(m1.colors))

# The global parser loads a file once: its modules agree with each other, not with p1's.
g1 = capnp.load("alltypes.capnp")
g2 = capnp.load("alltypes.capnp")
attempt("global twice", lambda: setattr(g1.All.new_message(), "s", g2.All.new_message()))
attempt("global vs parser", lambda: setattr(g1.All.new_message(), "s", m1))
"""


def test_structs_of_one_parser_do_not_go_into_another(tmp_path):
    assert_same_output(SCRIPT, SCHEMAS)
