"""capnpy's side of the benchmark runner (`run.py --capnpy-python PY`): the rows whose operation
capnpy's API can express, timed under capnpy (https://pypi.org/project/capnpy/), which compiles
each schema with the reference `capnp` binary into Cython classes with immutable structs.

Prints one JSON object {row name: seconds per operation}. Rows capnpy cannot express (builder
gets and sets: its structs are immutable; `to_dict`, `str()`, packed encodings, segments) are
absent. Run under a Python with capnpy installed and the reference `capnp` on PATH (run.py puts
.oracles/capnproto/bin first).
"""

import json
import os
import shutil
import sys
import tempfile
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from workloads.fields import LIST_LEN, VALUES  # noqa: E402  (plain data, no capnp)


def load(path):
    """The compiled module of the schema file at `path` (Cython, built once per run)."""
    import capnpy

    tmp = tempfile.mkdtemp(prefix="capnpy-bench-")
    try:
        shutil.copy(path, tmp)
        return capnpy.load_schema(filename=os.path.join(tmp, os.path.basename(path)),
                                  pyx="auto")
    finally:
        # The module is loaded; the copy and what was compiled beside it are not needed.
        shutil.rmtree(tmp, ignore_errors=True)


def fields_message(bench):
    """Fields with VALUES, as bytes, through capnpy's constructors."""
    v = VALUES
    inner = bench.Inner
    f = bench.Fields(
        bool_field=v["boolField"], int8_field=v["int8Field"], int16_field=v["int16Field"],
        int32_field=v["int32Field"], int64_field=v["int64Field"], uint8_field=v["uint8Field"],
        uint16_field=v["uint16Field"], uint32_field=v["uint32Field"],
        uint64_field=v["uint64Field"], float32_field=v["float32Field"],
        float64_field=v["float64Field"], enum_field=bench.Color.blue,
        text_field=v["textField"].encode(), data_field=v["dataField"],
        struct_field=inner(x=42, label=b"inner"), int32_list=list(range(LIST_LEN)),
        struct_list=[inner(x=i, label=b"item%d" % i) for i in range(LIST_LEN)],
        text_list=[b"text%d" % i for i in range(LIST_LEN)], number=v["number"],
        choice=bench.Fields.Choice(count=99),
    )
    return f.dumps()


def build_addressbook(book):
    """The tutorial's address book (as workloads/messages.py builds it), through constructors."""
    P = book.Person
    N = P.PhoneNumber
    alice = P(id=123, name=b"Alice", email=b"alice@example.com",
              phones=[N(number=b"555-1212", type=N.Type.mobile)],
              employment=P.Employment(school=b"MIT"))
    bob = P(id=456, name=b"Bob", email=b"bob@example.com",
            phones=[N(number=b"555-4567", type=N.Type.home),
                    N(number=b"555-7654", type=N.Type.work)],
            employment=P.Employment(unemployed=None))
    return book.AddressBook(people=[alice, bob])


def rows():
    bench = load(os.path.join(HERE, "schemas", "bench.capnp"))
    data = fields_message(bench)
    r = bench.Fields.loads(data)
    ns = {"r": r, "data": data, "Fields": bench.Fields, "ints": r.int32_list,
          "structs": r.struct_list, "texts": r.text_list, "g": r.choice}
    out = {}
    for row, field in [("bool", "bool_field"), ("int8", "int8_field"), ("int16", "int16_field"),
                       ("int32", "int32_field"), ("int64", "int64_field"),
                       ("uint8", "uint8_field"), ("uint16", "uint16_field"),
                       ("uint32", "uint32_field"), ("uint64", "uint64_field"),
                       ("float32", "float32_field"), ("float64", "float64_field"),
                       ("enum", "enum_field"), ("text", "text_field"), ("data", "data_field"),
                       ("struct", "struct_field"), ("list", "int32_list")]:
        out["read." + row] = ("r.%s" % field, ns)
    mid = LIST_LEN // 2
    out["read.group"] = ("r.choice", ns)
    out["list.int32.index"] = ("ints[%d]" % mid, ns)
    out["list.struct.index"] = ("structs[%d]" % mid, ns)
    out["list.text.index"] = ("texts[%d]" % mid, ns)
    out["list.int32.iter"] = ("list(ints)", ns)
    out["list.struct.iter"] = ("list(structs)", ns)
    out["list.text.iter"] = ("list(texts)", ns)
    out["list.struct.iter.field"] = ("[s.x for s in structs]", ns)
    out["list.len"] = ("len(structs)", ns)
    out["which.root.call"] = ("r.which()", ns)
    out["which.group.call"] = ("g.which()", ns)
    out["from_bytes.fields"] = ("Fields.loads(data)", ns)
    out["to_bytes.fields"] = ("r.dumps()", ns)

    book = load(os.path.join(os.path.dirname(HERE), "examples", "addressbook.capnp"))
    ab = build_addressbook(book)
    bns = {"book": book, "build_addressbook": build_addressbook,
           "ab": ab, "abdata": ab.dumps(), "AddressBook": book.AddressBook}
    out["addressbook.build"] = ("build_addressbook(book)", bns)
    out["addressbook.build_serialize"] = ("build_addressbook(book).dumps()", bns)
    out["to_bytes.addressbook"] = ("ab.dumps()", bns)
    out["from_bytes.addressbook"] = ("AddressBook.loads(abdata)", bns)
    v = VALUES
    ns["kwargs"] = dict(bool_field=v["boolField"], int32_field=v["int32Field"],
                        int64_field=v["int64Field"], uint16_field=v["uint16Field"],
                        float64_field=v["float64Field"], enum_field=bench.Color.blue,
                        text_field=v["textField"].encode())
    out["new_message.kwargs"] = ("Fields(**kwargs)", ns)
    return out


def main():
    results = {}
    for name, (stmt, ns) in rows().items():
        timer = timeit.Timer(stmt, globals=ns)
        number = 1
        while timer.timeit(number) < 0.05:
            number *= 2
        results[name] = min(timer.timeit(number) for _ in range(5)) / number
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
