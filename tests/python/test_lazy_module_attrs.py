"""Struct and interface modules make their `StructModuleWhich` enums, `Reader`/`Builder`
view classes, `Server` classes and `_nodeProto` on first use; `vars()`, `dir()` and reads
see them as if they had been made at load time."""

import copy
import enum

import pytest

import capnp

SCHEMA = """@0xd3b6f4a1c2e5f708;
struct Shape {
  union {
    circle @0 :Float64;
    square @1 :Float64;
  }
}
struct Tagged {
  name @0 :Text;
  kind :union {
    a @1 :Void;
    b @2 :Void;
  }
  extra :group {
    x @3 :Int32;
  }
}
interface Calc {
  add @0 (a :Int32) -> (r :Int32);
}
"""

LAZY = {"Union", "Reader", "Builder", "_nodeProto"}


@pytest.fixture
def module(tmp_path):
    path = tmp_path / "lazy.capnp"
    path.write_text(SCHEMA)
    return capnp.SchemaParser().load(str(path))


def test_vars_shows_every_attribute_with_its_real_value(module):
    shape = module.Shape
    d = vars(shape)
    assert LAZY | {"schema", "_nodeSchema"} <= set(d)
    assert issubclass(d["Union"], enum.Enum) and d["Union"].__name__ == "StructModuleWhich"
    assert [(m.name, m.value) for m in d["Union"]] == [("Circle", 0), ("Square", 1)]
    assert d["Union"] is shape.Union
    assert d["Reader"] is shape.Reader and d["Builder"] is shape.Builder
    assert d["_nodeProto"].id == shape.schema.node.id
    assert "_lazy" not in d
    tagged = module.Tagged
    d = vars(tagged)
    assert {"Kind", "Extra", "Reader", "Builder"} <= set(d)
    assert [(m.name, m.value) for m in d["Kind"]] == [("a", 0), ("b", 1)]
    assert d["Kind"] is tagged.Kind and d["Kind"].schema == tagged.Kind.schema


def test_first_read_makes_one_attribute_and_keeps_it(module):
    shape = module.Shape
    union = shape.Union
    assert shape.Union is union
    assert union.Circle == 0 and union.Square == "Square" and union.Square == 1
    msg = shape.new_message(square=2.0)
    assert isinstance(msg, shape.Builder) and not isinstance(msg, shape.Reader)
    assert isinstance(msg.as_reader(), shape.Reader)
    assert msg.which == "square" and msg.which == shape.Union.Square.value
    # The rest are still made on demand, and vars() shows all of them.
    assert LAZY <= set(vars(shape))


def test_dir_lists_them_and_not_the_machinery(module):
    names = dir(module.Shape)
    assert LAZY - {"_nodeProto"} <= set(names)
    assert "_lazy" not in names and "_defer" not in names
    calc_names = dir(module.Calc)
    assert "Server" in calc_names and "_lazy" not in calc_names


def test_set_and_delete_before_first_use(module):
    shape = module.Shape
    shape.Union = "mine"
    assert shape.Union == "mine" and vars(shape)["Union"] == "mine"
    tagged = module.Tagged
    del tagged.Kind
    assert "Kind" not in vars(tagged)
    with pytest.raises(AttributeError):
        tagged.Kind
    with pytest.raises(AttributeError):
        del tagged.Kind


def test_missing_attribute_still_raises(module):
    with pytest.raises(AttributeError, match="'_StructModule' object has no attribute 'Nope'"):
        module.Shape.Nope
    assert not hasattr(module.Shape, "Nope")
    assert getattr(module.Calc, "Nope", 7) == 7


def test_interface_server_class_made_on_first_use(module):
    calc = module.Calc
    assert "Server" in vars(calc)
    server = calc.Server
    assert server is calc.Server and server.__name__ == "Calc.Server"

    class Impl(calc.Server):
        def add(self, a, **kwargs):
            return a + 1

    assert issubclass(Impl, capnp.lib.capnp._DynamicCapabilityServer)


def test_copy_of_a_module_has_its_attributes(module):
    shape = copy.copy(module.Shape)
    assert shape.Union is module.Shape.Union
    assert shape.new_message(circle=1.0).which == "circle"


def test_entry_points_after_the_first_call(module):
    """The first call gives a struct module its entry points (`_specialize`): later reads
    find the same native methods, copies made after it work on their own, and the slots
    that hold them stay out of dir()."""
    shape = module.Shape
    data = shape.new_message(circle=2.0).to_bytes()
    assert shape.new_message.__self__ is shape.from_bytes.__self__
    assert type(shape.new_message.__self__).__name__ == "_StructEntry"
    assert shape.from_bytes(data).circle == 2.0
    assert shape.from_segments([data[8:]]).circle == 2.0
    twin = copy.copy(shape)
    assert twin.new_message(square=3.0).which == "square"
    assert twin.from_bytes(data).circle == 2.0
    assert not any(name.startswith("_entry_") for name in dir(shape))


def test_first_reads_from_many_threads_agree(module):
    import threading

    shape = module.Shape
    barrier = threading.Barrier(8)
    seen = []

    def read():
        barrier.wait(timeout=10)
        seen.append((shape.Union, shape.Reader))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(seen) == 8
    assert all(u is seen[0][0] and r is seen[0][1] for u, r in seen)
    assert vars(shape)["Union"] is seen[0][0]


def test_a_thunk_that_fails_stays_pending(module):
    shape = module.Tagged
    calls = []

    def boom():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return "made"

    shape._defer("Extra2", boom)
    with pytest.raises(RuntimeError, match="boom"):
        vars(shape)
    assert shape.Extra2 == "made" and "Extra2" in vars(shape)
