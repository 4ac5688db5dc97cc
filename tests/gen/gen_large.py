#!/usr/bin/env python3
"""Deterministic generator of a large multi-file schema set (benchmark and conformance input).

    gen_large.py --seed N --out DIR [--profile normal|deep]

Writes DIR/main.capnp plus three imported files (types.capnp, generic.capnp,
iface.capnp): about 250 structs in roughly 4,000 lines, with nested structs
several levels deep, named and unnamed unions, groups, enums, interfaces with
methods (inline, explicit-struct, implicit-generic and streaming), generic
structs and interfaces used with brands, constants, defaults and annotations.
The `deep` profile nests deeper and uses more generics.  Output depends only
on the arguments (stdlib `random`); compile with `capnp compile -o- main.capnp`
run inside DIR.

Everything generated stays inside what the reference compiler accepts: struct
ordinals follow declaration order, generic arguments are pointer types, and
`List(T)` of a generic parameter is never written.
"""

import argparse
import os
import random

PRIMS = ["Bool", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32",
         "UInt64", "Float32", "Float64"]
PROFILES = {
    # structs per file, max nesting depth, share of generic uses
    "normal": {"main": 105, "types": 75, "generic": 30, "iface": 25, "depth": 3, "generic_p": 0.15},
    "deep": {"main": 90, "types": 60, "generic": 45, "iface": 25, "depth": 5, "generic_p": 0.35},
}
FILES = ["types", "generic", "iface", "main"]  # generation order (main imports the rest)
ALIAS = {"types": "Ty", "generic": "Gn", "iface": "If", "main": None}


class Struct:
    """A generated struct, as seen by code that refers to it."""

    def __init__(self, file, path, params, simple_fields):
        self.file = file
        self.path = path              # list of names from the file root
        self.params = params          # generic parameter names ([] if none)
        self.simple_fields = simple_fields  # [(name, prim type)] for struct values

    def ref(self, from_file):
        dotted = ".".join(self.path)
        if from_file == self.file:
            return " ." + dotted
        return ALIAS[self.file] + "." + dotted


class Gen:
    def __init__(self, seed, profile):
        self.rng = random.Random(seed)
        self.seed = seed
        self.prof = PROFILES[profile]
        self.structs = []      # every Struct, usable as a field type once its file exists
        self.enums = []        # (file, path, enumerants)
        self.ifaces = []       # (file, path, params)
        self.consts = []       # (file, name, type, is_struct)
        self.anns = []         # (file, name, type kind)
        self.counter = 0
        self.lines = []
        self.file = None

    # ---- small helpers -------------------------------------------------
    def uid(self, prefix):
        self.counter += 1
        return "%s%d" % (prefix, self.counter)

    def emit(self, indent, text):
        self.lines.append("  " * indent + text)

    def file_id(self, name):
        r = random.Random("large/%d/%s" % (self.seed, name))
        return r.getrandbits(64) | (1 << 63)

    def visible(self, items):
        """Items declared in files this file may refer to."""
        order = FILES.index(self.file)
        return [x for x in items if FILES.index(x.file if isinstance(x, Struct) else x[0]) <= order]

    def prim_value(self, t):
        r = self.rng
        if t == "Bool":
            return r.choice(["true", "false"])
        if t.startswith("Float"):
            return r.choice(["1.5", "-0.25", "1e10", "inf", "-inf", "nan", "3", "-0.0"])
        bits = int(t.lstrip("UInt")) if t.startswith("U") else int(t[3:])
        if t.startswith("U"):
            return str(r.randrange(0, 2 ** bits))
        return str(r.randrange(-(2 ** (bits - 1)), 2 ** (bits - 1)))

    def text_value(self):
        return '"%s"' % self.rng.choice(["alpha", "beta gamma", "tab\\there", "quote\\\"q", "", "\\x41\\101"])

    # ---- types ---------------------------------------------------------
    def pointer_arg(self, depth=0):
        """A type usable as a generic argument."""
        r = self.rng.random()
        structs = [s for s in self.visible(self.structs) if not s.params]
        if r < 0.25 or not structs:
            return self.rng.choice(["Text", "Data", "AnyPointer", "List(Int32)", "List(Text)"])
        if r < 0.85 or depth > 0:
            return self.rng.choice(structs).ref(self.file)
        return self.generic_use(depth + 1) or "Text"

    def generic_use(self, depth=0):
        gens = [s for s in self.visible(self.structs) if s.params and len(s.path) == 1]
        if not gens:
            return None
        g = self.rng.choice(gens)
        args = ", ".join(self.pointer_arg(depth) for _ in g.params)
        base = "%s(%s)" % (g.ref(self.file).strip(), args)
        if base.startswith("."):
            base = " " + base
        if self.rng.random() < 0.3:
            base += ".Entry"
        return base

    def field_type(self, params):
        """Returns (type text, default value text or None)."""
        r = self.rng.random()
        if params and r < 0.15:
            return self.rng.choice(params), None
        if r < self.prof["generic_p"] * 0.6:
            g = self.generic_use()
            if g:
                return g, None
        r = self.rng.random()
        if r < 0.40:
            t = self.rng.choice(PRIMS)
            return t, (self.prim_value(t) if self.rng.random() < 0.3 else None)
        if r < 0.50:
            return "Text", (self.text_value() if self.rng.random() < 0.3 else None)
        if r < 0.55:
            return "Data", ('0x"%02x %02x"' % (self.rng.randrange(256), self.rng.randrange(256))
                            if self.rng.random() < 0.3 else None)
        if r < 0.62:
            t = self.rng.choice(["Int32", "UInt8", "Float64", "Text", "Bool"])
            dflt = None
            if self.rng.random() < 0.3:
                vals = [self.text_value() if t == "Text" else self.prim_value(t)
                        for _ in range(self.rng.randint(0, 3))]
                dflt = "[%s]" % ", ".join(vals)
            return "List(%s)" % t, dflt
        enums = self.visible(self.enums)
        if r < 0.72 and enums:
            f, path, ens = self.rng.choice(enums)
            ref = (" ." if f == self.file else ALIAS[f] + ".") + ".".join(path)
            return ref, (self.rng.choice(ens) if self.rng.random() < 0.4 else None)
        structs = [s for s in self.visible(self.structs) if not s.params]
        if r < 0.92 and structs:
            s = self.rng.choice(structs)
            dflt = None
            if s.simple_fields and self.rng.random() < 0.3:
                name, t = self.rng.choice(s.simple_fields)
                dflt = "(%s = %s)" % (name, self.prim_value(t))
            if self.rng.random() < 0.15:
                return "List(%s)" % s.ref(self.file).strip(), None
            return s.ref(self.file), dflt
        ifaces = self.visible(self.ifaces)
        if ifaces:
            f, path, params = self.rng.choice(ifaces)
            ref = (" ." if f == self.file else ALIAS[f] + ".") + ".".join(path)
            if params:
                ref = "%s(%s)" % (ref.strip(), ", ".join(self.pointer_arg() for _ in params))
                if ref.startswith("."):
                    ref = " " + ref
            return ref, None
        return "Int32", None

    # ---- annotations ---------------------------------------------------
    def annotations(self, target):
        out = []
        for f, name, kind, targets in self.visible(self.anns):
            if (targets == "*" or target in targets) and self.rng.random() < 0.12:
                ref = name if f == self.file else ALIAS[f] + "." + name
                if kind == "Void":
                    out.append("$" + ref)
                elif kind == "Text":
                    out.append("$%s(%s)" % (ref, self.text_value()))
                elif kind == "Int32":
                    out.append("$%s(%s)" % (ref, self.prim_value("Int32")))
                else:
                    out.append('$%s(name = "n%d", weight = %d)' % (ref, self.rng.randrange(99),
                                                                   self.rng.randrange(9)))
        return (" " + " ".join(out)) if out else ""

    # ---- declarations --------------------------------------------------
    def struct(self, indent, path, depth, params=(), budget=None):
        """Emits one struct (with nested declarations); returns its Struct."""
        name = path[-1]
        info = Struct(self.file, list(path), list(params), [])
        self.structs.append(info)
        head = "struct %s" % name
        if params:
            head += "(%s)" % ", ".join(params)
        self.emit(indent, head + self.annotations("struct") + " {")
        visible_params = list(params) + list(self.outer_params)
        state = {"ordinal": 0, "names": 0}
        self.members(indent + 1, depth, visible_params, state, info, top=True)
        # Nested declarations.
        if depth < self.prof["depth"]:
            for _ in range(self.rng.choice([0, 0, 1, 1, 2])):
                if budget is not None and budget[0] <= 0:
                    break
                if budget is not None:
                    budget[0] -= 1
                child = self.uid("N")
                if params and self.rng.random() < 0.3:
                    saved = self.outer_params
                    self.outer_params = visible_params
                    self.struct(indent + 1, path + [child], depth + 1, params=[self.uid("P")],
                                budget=budget)
                    self.outer_params = saved
                else:
                    saved = self.outer_params
                    self.outer_params = visible_params
                    self.struct(indent + 1, path + [child], depth + 1, budget=budget)
                    self.outer_params = saved
            if self.rng.random() < 0.2:
                self.enum(indent + 1, path + [self.uid("En")])
            if self.rng.random() < 0.15 and not visible_params:
                c = self.uid("k")
                t = self.rng.choice(PRIMS)
                self.emit(indent + 1, "const %s :%s = %s;" % (c, t, self.prim_value(t)))
        self.emit(indent, "}")
        return info

    def members(self, indent, depth, params, state, info, top, in_union=False):
        # in_union: this scope is a member of a union.  No union may appear
        # anywhere below a union member, because the reference aborts on some
        # such layouts (issue 344, SCHEMA-COMPILER.md 6.7).
        n = self.rng.randint(2, 7) if top else self.rng.randint(1, 4)
        unnamed_done = in_union
        for _ in range(n):
            r = self.rng.random()
            if r < 0.10 and depth < self.prof["depth"] + 1:
                state["names"] += 1
                self.emit(indent, "g%d :group%s {" % (state["names"], self.annotations("group")))
                self.members(indent + 1, depth + 1, params, state, info, top=False,
                             in_union=in_union)
                self.emit(indent, "}")
            elif r < 0.18 and depth < self.prof["depth"] + 1 and not in_union:
                state["names"] += 1
                self.emit(indent, "u%d :union%s {" % (state["names"], self.annotations("union")))
                self.union_members(indent + 1, depth + 1, params, state, info)
                self.emit(indent, "}")
            elif r < 0.26 and not unnamed_done:
                unnamed_done = True
                self.emit(indent, "union {")
                self.union_members(indent + 1, depth + 1, params, state, info)
                self.emit(indent, "}")
            else:
                self.field(indent, params, state, info, top and not in_union)

    def union_members(self, indent, depth, params, state, info):
        for _ in range(self.rng.randint(2, 4)):
            r = self.rng.random()
            if r < 0.15 and depth < self.prof["depth"] + 1:
                state["names"] += 1
                self.emit(indent, "g%d :group {" % state["names"])
                self.members(indent + 1, depth + 1, params, state, info, top=False, in_union=True)
                self.emit(indent, "}")
            else:
                self.field(indent, params, state, info, False)

    def field(self, indent, params, state, info, top_level):
        state["names"] += 1
        name = "f%d" % state["names"]
        t, dflt = self.field_type(params)
        text = "%s @%d :%s" % (name, state["ordinal"], t.lstrip() if not t.startswith(" .") else t[1:])
        if t.startswith(" ."):
            text = "%s @%d : %s" % (name, state["ordinal"], t.strip())
        state["ordinal"] += 1
        if dflt is not None:
            text += " = " + dflt
        if top_level and t in PRIMS and not info.params:
            info.simple_fields.append((name, t))
        self.emit(indent, text + self.annotations("field") + ";")

    def enum(self, indent, path):
        n = self.rng.randint(2, 8)
        names = ["e%d" % i for i in range(n)]
        self.emit(indent, "enum %s%s {" % (path[-1], self.annotations("enum")))
        for i, e in enumerate(names):
            self.emit(indent + 1, "%s @%d%s;" % (e, i, self.annotations("enumerant")))
        self.emit(indent, "}")
        self.enums.append((self.file, list(path), names))

    def interface(self, indent, name, params=()):
        ifaces = [i for i in self.visible(self.ifaces) if not i[2]]
        head = "interface %s" % name
        if params:
            head += "(%s)" % ", ".join(params)
        if ifaces and self.rng.random() < 0.4:
            sup = self.rng.sample(ifaces, min(len(ifaces), self.rng.randint(1, 2)))
            head += " extends(%s)" % ", ".join(
                ((" ." if f == self.file else ALIAS[f] + ".") + ".".join(p)).strip() for f, p, _ in sup)
        self.emit(indent, head + self.annotations("interface") + " {")
        structs = [s for s in self.visible(self.structs) if not s.params]
        for m in range(self.rng.randint(1, 6)):
            kind = self.rng.random()
            ann = self.annotations("method")
            if kind < 0.15 and structs:
                a, b = self.rng.choice(structs), self.rng.choice(structs)
                self.emit(indent + 1, "m%d @%d %s -> %s%s;" % (m, m, a.ref(self.file).strip(),
                                                               b.ref(self.file).strip(), ann))
            elif kind < 0.25:
                self.emit(indent + 1, "m%d @%d [T, U] (a :T, b :U, n :Int32) -> (t :T)%s;" % (m, m, ann))
            elif kind < 0.32:
                self.emit(indent + 1, "m%d @%d (chunk :Data) -> stream%s;" % (m, m, ann))
            else:
                ps = []
                for i in range(self.rng.randint(0, 4)):
                    t, dflt = self.field_type(list(params))
                    p = "p%d :%s" % (i, t.strip() if not t.startswith(" .") else t.strip())
                    if t.startswith(" ."):
                        p = "p%d : %s" % (i, t.strip())
                    if dflt is not None:
                        p += " = " + dflt
                    ps.append(p + self.annotations("param"))
                rs = []
                for i in range(self.rng.randint(0, 3)):
                    t, _ = self.field_type(list(params))
                    rs.append("r%d :%s" % (i, t.strip()) if not t.startswith(" .")
                              else "r%d : %s" % (i, t.strip()))
                arrow = " -> (%s)" % ", ".join(rs) if rs or self.rng.random() < 0.5 else ""
                self.emit(indent + 1, "m%d @%d (%s)%s%s;" % (m, m, ", ".join(ps), arrow, ann))
        if self.rng.random() < 0.3:
            saved = self.outer_params
            self.outer_params = list(params)
            self.struct(indent + 1, [name, self.uid("Msg")], 1)
            self.outer_params = saved
        self.emit(indent, "}")
        self.ifaces.append((self.file, [name], list(params)))

    def generic_struct(self, indent):
        name = self.uid("Gen")
        k = self.rng.choice([1, 2, 2, 3])
        params = ["A", "B", "C"][:k]
        info = Struct(self.file, [name], params, [])
        self.structs.append(info)
        self.emit(indent, "struct %s(%s)%s {" % (name, ", ".join(params), self.annotations("struct")))
        o = 0
        for p in params:
            self.emit(indent + 1, "v%s @%d :%s;" % (p.lower(), o, p))
            o += 1
        self.emit(indent + 1, "self @%d :%s(%s);" % (o, name, ", ".join(reversed(params))))
        o += 1
        self.emit(indent + 1, "entries @%d :List(Entry);" % o)
        o += 1
        self.emit(indent + 1, "union {")
        self.emit(indent + 2, "none @%d :Void;" % o)
        self.emit(indent + 2, "some @%d :%s;" % (o + 1, params[-1]))
        self.emit(indent + 1, "}")
        o += 2
        self.emit(indent + 1, "using First = %s;" % params[0])
        self.emit(indent + 1, "using Self = %s(%s);" % (name, ", ".join(params)))
        self.emit(indent + 1, "struct Entry { key @0 :%s; value @1 :%s; count @2 :UInt32 = 1; }"
                  % (params[0], params[-1]))
        self.emit(indent + 1, "struct Inner(X) { x @0 :X; a @1 :%s; back @2 :Entry; }" % params[0])
        self.emit(indent + 1, "inner @%d :Inner(Text);" % o)
        o += 1
        self.emit(indent + 1, "first @%d :First;" % o)
        self.emit(indent, "}")
        self.structs.append(Struct(self.file, [name, "Entry"], [], []))

    def file_body(self, name, count):
        self.file = name
        self.outer_params = []
        self.lines = []
        self.emit(0, "@0x%016x;" % self.file_id(name))
        self.emit(0, "# Generated by tests/gen/gen_large.py --seed %d; do not edit." % self.seed)
        for f in FILES[:FILES.index(name)]:
            self.emit(0, 'using %s = import "%s.capnp";' % (ALIAS[f], f))
        # A few annotation declarations per file.
        for kind, targets in [("Text", "*"), ("Int32", ("struct", "field", "enum")),
                              ("Void", ("field", "enumerant", "method", "param", "union", "group")),
                              ("Meta", "*")]:
            a = self.uid("ann")
            tdecl = "*" if targets == "*" else ", ".join(targets)
            typ = ".Meta" if kind == "Meta" else kind
            if kind == "Meta":
                self.emit(0, "struct Meta%s { name @0 :Text; weight @1 :Int32 = 1; }" % a)
                typ = " .Meta%s" % a
                self.structs.append(Struct(self.file, ["Meta" + a], [], [("weight", "Int32")]))
                self.emit(0, "annotation %s(%s) :%s;" % (a, tdecl, typ))
            else:
                self.emit(0, "annotation %s(%s) :%s;" % (a, tdecl, typ))
            self.anns.append((self.file, a, kind, targets))
        self.emit(0, '$%s("file %s");' % (self.anns[-4][1], name))
        budget = [count]
        while budget[0] > 0:
            r = self.rng.random()
            budget[0] -= 1
            if name == "generic" or (r < self.prof["generic_p"] * 0.3):
                if self.rng.random() < 0.8:
                    self.generic_struct(0)
                    continue
                self.interface(0, self.uid("GSvc"), params=["T"])
                continue
            if name == "iface" and r < 0.6:
                self.interface(0, self.uid("Svc"))
                continue
            if r < 0.12:
                self.enum(0, [self.uid("Kind")])
            elif r < 0.2:
                self.const(0)
            if r < 0.9 or not self.visible(self.structs):
                self.struct(0, [self.uid("Rec")], 1, budget=budget)
            else:
                self.interface(0, self.uid("Svc"))
        self.emit(0, "")
        return "\n".join(self.lines)

    def const(self, indent):
        name = self.uid("c")
        r = self.rng.random()
        structs = [s for s in self.visible(self.structs) if s.simple_fields]
        if r < 0.4:
            t = self.rng.choice(PRIMS)
            self.emit(indent, "const %s :%s = %s;" % (name, t, self.prim_value(t)))
        elif r < 0.55:
            self.emit(indent, "const %s :Text = %s %s;" % (name, self.text_value(), self.text_value()))
        elif r < 0.7:
            vals = ", ".join(self.prim_value("Int16") for _ in range(self.rng.randint(0, 5)))
            self.emit(indent, "const %s :List(Int16) = [%s];" % (name, vals))
        elif structs:
            s = self.rng.choice(structs)
            fields = self.rng.sample(s.simple_fields, min(len(s.simple_fields), 2))
            val = ", ".join("%s = %s" % (f, self.prim_value(t)) for f, t in fields)
            ref = s.ref(self.file)
            self.emit(indent, "const %s :%s = (%s);" % (name, ref.strip() if not ref.startswith(" .")
                                                        else ref, val))
            self.consts.append((self.file, name, ref, True))
            return
        else:
            self.emit(indent, "const %s :Float64 = 2.5;" % name)
        self.consts.append((self.file, name, None, False))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="normal")
    args = ap.parse_args()
    gen = Gen(args.seed, args.profile)
    os.makedirs(args.out, exist_ok=True)
    for name in FILES:
        text = gen.file_body(name, gen.prof[name])
        with open(os.path.join(args.out, name + ".capnp"), "w") as f:
            f.write(text)
    with open(os.path.join(args.out, "args"), "w") as f:
        f.write("main.capnp\n")


if __name__ == "__main__":
    main()
