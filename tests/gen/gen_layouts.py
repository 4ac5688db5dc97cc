#!/usr/bin/env python3
"""Random struct layouts for the layout fuzz corpus (SCHEMA-COMPILER.md 15.4 item 4).

Writes one schema file per struct, `DIR/lNNNNN.capnp`, each holding a small
common header (an enum and a struct used as field types) and one struct
`SNNNNN` whose members are fields of every size class, groups, named unions
(some with an explicit `@N!` ordinal) and at most one unnamed union per
scope, nested 3-4 levels deep.  Ordinals are a random permutation of 0..n-1.

The output depends only on --seed and --count (stdlib `random`, no clock).

    gen_layouts.py --seed N --count K --out DIR [--first I]

`render_struct()` is also used by build_layout_corpus.py to put many structs
into one file.
"""

import argparse
import os
import random

# (type text, size class) -- one entry per size class plus a few extra
# spellings of the same classes so that every kind of type is exercised.
FIELD_TYPES = [
    "Void", "Bool", "Int8", "UInt8", "Int16", "UInt16", "E", "Int32", "UInt32",
    "Float32", "Int64", "UInt64", "Float64", "Text", "Data", "List(Int32)",
    "P", "AnyPointer", "List(P)",
]
# Weights keep small data fields common, since they stress the hole logic.
FIELD_WEIGHTS = [3, 6, 4, 3, 4, 3, 2, 4, 3, 2, 3, 2, 2, 3, 2, 2, 1, 1, 1]

HEADER = "enum E { e0 @0; e1 @1; }\nstruct P { p @0 :Int32; }\n"


class Gen:
    """Builds one random member tree; ordinals are filled in afterwards."""

    def __init__(self, rng, max_depth):
        self.rng = rng
        self.max_depth = max_depth
        self.counter = 0
        self.ordinal_slots = []  # nodes that take an ordinal, in any order

    def name(self, prefix):
        self.counter += 1
        return "%s%d" % (prefix, self.counter)

    def field(self):
        node = {"kind": "field", "name": self.name("f"),
                "type": self.rng.choices(FIELD_TYPES, FIELD_WEIGHTS)[0]}
        self.ordinal_slots.append(node)
        return node

    def member(self, depth):
        """One member of a scope at `depth` (0 = struct body)."""
        r = self.rng.random()
        if depth < self.max_depth:
            if r < 0.12:
                return self.group(depth + 1)
            if r < 0.22:
                return self.named_union(depth + 1)
        return self.field()

    def scope_members(self, depth, count, allow_unnamed):
        members = [self.member(depth) for _ in range(count)]
        if allow_unnamed and depth < self.max_depth and self.rng.random() < 0.35:
            pos = self.rng.randint(0, len(members))
            members.insert(pos, self.union_body(depth + 1, unnamed=True))
        return members

    def group(self, depth):
        n = self.rng.randint(1, 4)
        return {"kind": "group", "name": self.name("g"),
                "members": self.scope_members(depth, n, allow_unnamed=True)}

    def union_body(self, depth, unnamed):
        n = self.rng.randint(2, 5)
        # Members of a union are fields, groups or named unions; a union
        # never directly contains an unnamed union.
        members = [self.member(depth) for _ in range(n)]
        node = {"kind": "union", "unnamed": unnamed, "members": members,
                "name": None if unnamed else self.name("u"), "ordinal": None}
        return node

    def named_union(self, depth):
        node = self.union_body(depth, unnamed=False)
        if self.rng.random() < 0.15:
            node["explicit"] = True
            self.ordinal_slots.append(node)
        return node


def make_struct(rng, index):
    """Returns (name, member list) of one random struct."""
    gen = Gen(rng, max_depth=rng.choice([3, 4]))
    members = gen.scope_members(0, rng.randint(2, 7), allow_unnamed=True)
    ordinals = list(range(len(gen.ordinal_slots)))
    rng.shuffle(ordinals)
    for node, ordinal in zip(gen.ordinal_slots, ordinals):
        node["ordinal"] = ordinal
    return "S%05d" % index, members


def render_members(members, indent, out):
    pad = "  " * indent
    for m in members:
        if m["kind"] == "field":
            out.append("%s%s @%d :%s;" % (pad, m["name"], m["ordinal"], m["type"]))
        elif m["kind"] == "group":
            out.append("%s%s :group {" % (pad, m["name"]))
            render_members(m["members"], indent + 1, out)
            out.append(pad + "}")
        elif m["unnamed"]:
            out.append(pad + "union {")
            render_members(m["members"], indent + 1, out)
            out.append(pad + "}")
        else:
            if m.get("explicit"):
                out.append("%s%s @%d! :union {" % (pad, m["name"], m["ordinal"]))
            else:
                out.append("%s%s :union {" % (pad, m["name"]))
            render_members(m["members"], indent + 1, out)
            out.append(pad + "}")


def render_struct(name, members):
    out = ["struct %s {" % name]
    render_members(members, 1, out)
    out.append("}")
    return "\n".join(out) + "\n"


def file_id(seed, index):
    """A deterministic file id with bit 63 set."""
    rng = random.Random("file-id/%d/%d" % (seed, index))
    return rng.getrandbits(64) | (1 << 63)


def generate(seed, count, first=0):
    """Yields (index, struct name, struct text) for `count` structs."""
    rng = random.Random(seed)
    for i in range(first, first + count):
        name, members = make_struct(rng, i)
        yield i, name, render_struct(name, members)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--first", type=int, default=0, help="index of the first struct")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for i, _name, text in generate(args.seed, args.count, args.first):
        path = os.path.join(args.out, "l%05d.capnp" % i)
        with open(path, "w") as f:
            f.write("@0x%016x;\n%s%s" % (file_id(args.seed, i), HEADER, text))


if __name__ == "__main__":
    main()
