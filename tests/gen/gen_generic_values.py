#!/usr/bin/env python3
"""Deterministic generator of default values and constants whose types are generics.

    gen_generic_values.py --seed N --out DIR [--count 40]

Writes DIR/main.capnp and DIR/args (a conformance case). A fixed prelude declares generic
structs and interfaces covering the constructs of SCHEMA-COMPILER.md sections 7 and 8:
parameters of one and of nested scopes (`Gen(A, B)`, `Gen.Inner2(C)`, `Gen.Inner2.Deep`),
inherited scopes, bound, unbound and absolute references, member aliases (`using AliasA = A;`,
`using AliasRev = Gen(B, A);`), file-level aliases of branded and unbranded generics, a generic
wrapping a generic, a struct nested in a generic interface, groups and unions of parameter
types, enums nested in a generic, AnyPointer/AnyStruct/AnyList/Capability fields, lists of
branded structs, generic annotations and implicit method parameters. The generated part then
crosses those type expressions (with arguments drawn from Text, Data, structs, lists, an
interface, AnyPointer and other branded generics) with default values: struct fields,
constants (and references to them), method parameter and result defaults, annotation values,
and defaults inside generic declarations, where only fields whose type is not a type variable
get values.

Every value is built from a small model of the types (each generic parameter substituted), so
the output stays inside what the reference accepts; the conformance test checks that it does.
Output depends only on the arguments (stdlib `random`); compile with
`capnp compile -o- main.capnp` inside DIR.
"""

import argparse
import os
import random

PRELUDE = """\
struct Foo { x @0 :UInt32; y @1 :Text; z @2 :Float64 = 1.5; }
struct Bar { b @0 :Bool = true; f @1 :Foo; l @2 :List(Int16); }
enum Color { red @0; green @1; blue @2; }
interface Cap { ping @0 () -> (); }

struct Gen(A, B) {
  a @0 :A;
  b @1 :B;
  rev @2 :Gen(B, A);
  n @3 :UInt16 = 7;
  lst @4 :List(Gen(A, B));
  grp :group { ga @5 :A; gn @6 :Int8 = -1; gb @7 :B; }
  union { ua @8 :A; ub @9 :B; uv @10 :Void; un @11 :Int32; }
  inner @12 :Inner;
  inner2 @13 :Inner2(Text);
  col @14 :Color;
  anyS @15 :AnyStruct;
  anyL @16 :AnyList;
  anyP @17 :AnyPointer;
  cap @18 :Capability;
  unb @19 :Gen;
  inners @20 :List(Inner);
  shade @21 :Shade = dark;
  enum Shade { light @0; dark @1; }
  struct Inner { a @0 :A; b @1 :B; self @2 :Gen(A, B); n @3 :Int32 = 3; }
  struct Inner2(C) {
    c @0 :C;
    a @1 :A;
    inner @2 :Inner;
    deep @3 :Inner2(A);
    n @4 :UInt8;
    struct Deep { c @0 :C; b @1 :B; up @2 :Inner2(C); n @3 :Int64 = -5; }
  }
  using AliasA = A;
  using AliasB = B;
  using AliasInner = Inner;
  using AliasInner2 = Inner2;
  using AliasInner2Text = Inner2(Text);
  using AliasRev = Gen(B, A);
  annotation annA(struct, field, const) :A;
  annotation annInner(struct, field, const) :Inner;
  const cIn :Gen(Text, Data) = (a = "cIn", b = 0x"c1", rev = (a = 0x"c2", b = "cIn2"));
}

struct Wrapper(T, U) {
  gen @0 :Gen(U, T);
  genT @1 :Gen(T, T);
  inner @2 :Gen(T, U).Inner;
  wrap @3 :Wrapper(U, T);
  lst @4 :List(Gen(T, U));
  deep @5 :Gen(T, Gen(U, T)).Inner2(U).Deep;
}

interface GI(T) {
  struct S { t @0 :T; g @1 :Gen(T, Text); }
}

using GenFT = Gen(Foo, Text);
using GenU = Gen;
using Inner2U = Gen.Inner2;
using WrapTB = Wrapper(Text, Bar);

const constFoo :Foo = (x = 99, y = "constFoo");
const constBar :Bar = (b = false, l = [1, 2]);
const constInts :List(Int32) = [1, -2, 3];
const constTexts :List(Text) = ["t0", "t1"];
"""

# Model types (tuples, hashable):
#   ("prim", name) ("enum", values) ("text",) ("data",) ("void",) ("list", elem) ("leaf", name)
#   ("iface",) ("cap",) ("any", kind: P|S|L) ("var",) (a type variable still unbound)
#   ("s", template, env): a generic struct with every parameter of its scopes given in env
#   (a sorted tuple of (param, type)); UNBOUND marks parameters of an unbound scope.
TEXT, DATA, VOID, VAR, CAP, IFACE = ("text",), ("data",), ("void",), ("var",), ("cap",), ("iface",)
ANY = ("any", "P")
UNBOUND = ("unbound",)
# An inherited scope inside a value whose type leaves that scope unbound: its parameters read
# as AnyPointer, but the type is not the unbranded one (see FrameState::Empty in the compiler).
EMPTY = ("empty",)
# Constants referenced by other values stay below this many (estimated) words each, so that
# copies of copies do not blow the output up.
MAX_CONST_WEIGHT = 300
LEAF_FIELDS = {
    "Foo": [("x", ("prim", "UInt32")), ("y", TEXT), ("z", ("prim", "Float64"))],
    "Bar": [("b", ("prim", "Bool")), ("f", ("leaf", "Foo")), ("l", ("list", ("prim", "Int16")))],
}
COLOR = ("enum", ("red", "green", "blue"))
SHADE = ("enum", ("light", "dark"))


def s(template, **env):
    return ("s", template, tuple(sorted(env.items())))


def arg(env, p):
    """A parameter used as an argument of another brand: unbound becomes AnyPointer."""
    t = env[p]
    return ANY if t in (UNBOUND, EMPTY) else t


def fields_of(t):
    """[(name, type or ("group", fields), union member?)] of a struct model type."""
    if t[0] == "leaf":
        return [(n, ft, False) for n, ft in LEAF_FIELDS[t[1]]]
    name, env = t[1], dict(t[2])
    a = lambda p: arg(env, p)  # noqa: E731
    # Inherited scopes keep their state; an unbound one becomes empty.
    inherit = lambda **more: dict(  # noqa: E731
        [(k, EMPTY if env[k] == UNBOUND else env[k]) for k in ("A", "B")], **more)
    if name == "Gen":
        return [("a", a("A"), False), ("b", a("B"), False), ("rev", s("Gen", A=a("B"), B=a("A")), False),
                ("n", ("prim", "UInt16"), False), ("lst", ("list", s("Gen", A=a("A"), B=a("B"))), False),
                ("grp", ("group", [("ga", a("A")), ("gn", ("prim", "Int8")), ("gb", a("B"))]), False),
                ("ua", a("A"), True), ("ub", a("B"), True), ("uv", VOID, True),
                ("un", ("prim", "Int32"), True),
                ("inner", s("Inner", **inherit()), False),
                ("inner2", s("Inner2", **inherit(C=TEXT)), False),
                ("col", COLOR, False), ("anyS", ("any", "S"), False), ("anyL", ("any", "L"), False),
                ("anyP", ANY, False), ("cap", CAP, False),
                ("unb", s("Gen", A=UNBOUND, B=UNBOUND), False),
                ("inners", ("list", s("Inner", **inherit())), False), ("shade", SHADE, False)]
    if name == "Inner":
        return [("a", a("A"), False), ("b", a("B"), False),
                ("self", s("Gen", A=a("A"), B=a("B")), False), ("n", ("prim", "Int32"), False)]
    if name == "Inner2":
        return [("c", a("C"), False), ("a", a("A"), False), ("inner", s("Inner", **inherit()), False),
                ("deep", s("Inner2", **inherit(C=a("A"))), False), ("n", ("prim", "UInt8"), False)]
    if name == "Deep":
        return [("c", a("C"), False), ("b", a("B"), False),
                ("up", s("Inner2", **inherit(C=a("C"))), False), ("n", ("prim", "Int64"), False)]
    if name == "Wrapper":
        t_, u = a("T"), a("U")
        return [("gen", s("Gen", A=u, B=t_), False), ("genT", s("Gen", A=t_, B=t_), False),
                ("inner", s("Inner", A=t_, B=u), False), ("wrap", s("Wrapper", T=u, U=t_), False),
                ("lst", ("list", s("Gen", A=t_, B=u)), False),
                ("deep", s("Deep", A=t_, B=s("Gen", A=u, B=t_), C=u), False)]
    if name == "S":
        return [("t", a("T"), False), ("g", s("Gen", A=a("T"), B=TEXT), False)]
    raise ValueError(name)


def is_pointer(t):
    return t[0] in ("text", "data", "list", "leaf", "iface", "any", "s", "var")


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.seed = seed
        self.lines = []
        self.counter = 0
        # Constants by model type (for references), and struct/list constants for AnyPointer.
        self.consts = {("leaf", "Foo"): [".constFoo"], ("leaf", "Bar"): [".constBar"],
                       ("list", ("prim", "Int32")): [".constInts"], ("list", TEXT): [".constTexts"],
                       s("Gen", A=TEXT, B=DATA): [".Gen.cIn", "Gen(Foo, Text).cIn"]}
        self.struct_consts = [".constFoo", ".constBar", ".Gen.cIn"]
        self.list_consts = [".constInts", ".constTexts"]
        self.weight = {}     # estimated words of each generated constant's value
        self.acc = 0         # words of the constants the value being generated copies

    def const_ref(self, names):
        """One of `names` small enough to copy, or None; its weight is accounted for."""
        small = [n for n in names if self.weight.get(n, 0) < MAX_CONST_WEIGHT]
        if not small:
            return None
        name = self.rng.choice(small)
        self.acc += self.weight.get(name, 0)
        return name

    def uid(self, prefix):
        self.counter += 1
        return "%s%d" % (prefix, self.counter)

    # ---- type expressions -------------------------------------------------------------

    def pointer_arg(self, depth, extra=()):
        """A generic argument: (text, model type)."""
        r = self.rng.random()
        if extra and r < 0.3:
            return self.rng.choice(extra)
        simple = [("Text", TEXT), ("Data", DATA), ("Foo", ("leaf", "Foo")), ("Bar", ("leaf", "Bar")),
                  ("List(UInt8)", ("list", ("prim", "UInt8"))), ("List(Text)", ("list", TEXT)),
                  ("List(Foo)", ("list", ("leaf", "Foo"))), ("List(Color)", ("list", COLOR)),
                  ("Cap", IFACE), ("AnyPointer", ANY), ("List(Cap)", ("list", IFACE))]
        if depth > 0 and r < 0.35:
            text, t = self.gen_type(depth - 1, extra)
            if is_pointer(t) and t[0] not in ("var", "any"):
                if self.rng.random() < 0.2:
                    return "List(%s)" % text, ("list", t)
                return text, t
        return self.rng.choice(simple)

    def gen_type(self, depth, extra=()):
        """A type expression built from one generics construct: (text, model type)."""
        pa = lambda: self.pointer_arg(depth, extra)  # noqa: E731
        (x, xt), (y, yt), (z, zt) = pa(), pa(), pa()
        c = self.rng.randrange(24)
        if c == 0:
            return "Gen(%s, %s)" % (x, y), s("Gen", A=xt, B=yt)
        if c == 1:
            return "Gen(%s, %s).Inner" % (x, y), s("Inner", A=xt, B=yt)
        if c == 2:
            return "Gen(%s, %s).Inner2(%s)" % (x, y, z), s("Inner2", A=xt, B=yt, C=zt)
        if c == 3:
            return "Gen(%s, %s).Inner2(%s).Deep" % (x, y, z), s("Deep", A=xt, B=yt, C=zt)
        if c == 4:
            return self.rng.choice([("Gen", s("Gen", A=UNBOUND, B=UNBOUND)),
                                    ("Gen.Inner", s("Inner", A=UNBOUND, B=UNBOUND)),
                                    ("Gen.Inner2(%s)" % z, s("Inner2", A=UNBOUND, B=UNBOUND, C=zt)),
                                    ("Gen.Inner2.Deep", s("Deep", A=UNBOUND, B=UNBOUND, C=UNBOUND)),
                                    (" .Gen.Inner", s("Inner", A=UNBOUND, B=UNBOUND))])
        if c == 5:
            return " .Gen(%s, %s).Inner" % (x, y), s("Inner", A=xt, B=yt)
        if c == 6:
            return "Gen(%s, %s).AliasA" % (x, y), xt
        if c == 7:
            return "Gen(%s, %s).AliasInner" % (x, y), s("Inner", A=xt, B=yt)
        if c == 8:
            return "Gen(%s, %s).AliasInner2(%s)" % (x, y, z), s("Inner2", A=xt, B=yt, C=zt)
        if c == 9:
            return "Gen(%s, %s).AliasInner2Text" % (x, y), s("Inner2", A=xt, B=yt, C=TEXT)
        if c == 10:
            return "Gen(%s, %s).AliasRev" % (x, y), s("Gen", A=yt, B=xt)
        if c == 11:
            return "Gen(%s, %s).AliasRev.AliasA" % (x, y), yt
        if c == 12:
            return "Gen(%s, %s).AliasRev.Inner" % (x, y), s("Inner", A=yt, B=xt)
        if c == 13:
            return ("Gen(%s, %s).AliasRev.AliasInner2(%s).Deep" % (x, y, z),
                    s("Deep", A=yt, B=xt, C=zt))
        if c == 14:
            return "Wrapper(%s, %s)" % (x, y), s("Wrapper", T=xt, U=yt)
        if c == 15:
            return "GI(%s).S" % x, s("S", T=xt)
        if c == 16:
            return "GI.S", s("S", T=UNBOUND)
        if c == 17:
            return self.rng.choice([("GenFT", s("Gen", A=("leaf", "Foo"), B=TEXT)),
                                    ("GenFT.Inner", s("Inner", A=("leaf", "Foo"), B=TEXT)),
                                    ("GenFT.AliasRev", s("Gen", A=TEXT, B=("leaf", "Foo"))),
                                    ("GenFT.Inner2(%s)" % z,
                                     s("Inner2", A=("leaf", "Foo"), B=TEXT, C=zt))])
        if c == 18:
            return "GenU(%s, %s)" % (x, y), s("Gen", A=xt, B=yt)
        if c == 19:
            return "Inner2U(%s)" % z, s("Inner2", A=UNBOUND, B=UNBOUND, C=zt)
        if c == 20:
            return ("WrapTB", s("Wrapper", T=TEXT, U=("leaf", "Bar")))
        if c == 21:
            return "List(Gen(%s, %s))" % (x, y), ("list", s("Gen", A=xt, B=yt))
        if c == 22:
            return "Gen(%s, Gen(%s, %s))" % (x, y, z), s("Gen", A=xt, B=s("Gen", A=yt, B=zt))
        return "Gen(%s, %s).AliasB" % (x, y), yt

    # ---- values -----------------------------------------------------------------------

    def prim_value(self, name):
        r = self.rng
        if name == "Bool":
            return r.choice(["true", "false"])
        if name.startswith("Float"):
            return r.choice(["1.5", "-2.25", "0", "1e10", "-0.0", "inf", "7"])
        bits = int(name.lstrip("UInt"))
        if name[0] == "U":
            return str(r.randrange(0, 2 ** bits))
        return str(r.randrange(-(2 ** (bits - 1)), 2 ** (bits - 1)))

    def value(self, t, depth):
        """A value expression of model type t, or None when none can be written."""
        r = self.rng
        k = t[0]
        if k == "prim":
            return self.prim_value(t[1])
        if k == "enum":
            return r.choice(t[1])
        if k == "void":
            return "void"
        if k == "text":
            return '"%s"' % self.uid("t")
        if k == "data":
            return r.choice(['0x"%02x%02x"' % (r.randrange(256), r.randrange(256)), '"d%d"' % depth])
        if k == "any":
            pool = {"P": self.struct_consts + self.list_consts, "S": self.struct_consts,
                    "L": self.list_consts}[t[1]]
            return self.const_ref(pool)
        if k in ("var", "unbound", "empty", "iface", "cap"):
            return None
        if k == "list":
            if t[1][0] in ("iface", "var", "cap"):
                return None
            if t in self.consts and r.random() < 0.3:
                ref = self.const_ref(self.consts[t])
                if ref is not None:
                    return ref
            items = [self.value(t[1], depth + 1) for _ in range(r.randrange(0 if depth > 2 else 1, 3))]
            items = [i for i in items if i is not None]
            return "[%s]" % ", ".join(items)
        # Structs: a constant of the same type, the first-field rule, or a tuple.
        if t in self.consts and r.random() < 0.3:
            ref = self.const_ref(self.consts[t])
            if ref is not None:
                return ref
        fields = fields_of(t)
        first = fields[0][1]
        # Any constant where the first field is AnyPointer-like: the reference copies it when its
        # type is the same branded type, and otherwise stores it in the first field.
        if first[0] == "any" and first[1] == "P" and r.random() < 0.15:
            ref = self.const_ref(self.struct_consts + self.list_consts)
            if ref is not None:
                return ref
        # The first-field rule takes numbers, text (not for Data) and constants, never list or
        # data literals.
        if depth < 4 and first[0] in ("text", "prim") and r.random() < 0.15:
            v = self.value(first, depth + 1)
            if v is not None and not v.startswith("."):
                return v
        return self.tuple_value(fields, depth)

    def tuple_value(self, fields, depth):
        r = self.rng
        keep = 0.7 if depth < 2 else (0.3 if depth < 4 else 0.0)
        parts = []
        for name, ft, _ in fields:
            if r.random() >= keep:
                continue
            if ft[0] == "group":
                sub = [(n, gt, False) for n, gt in ft[1]]
                gfirst = sub[0][1]
                v = None
                if r.random() < 0.3 and gfirst[0] in ("text", "prim", "any"):
                    v = self.value(gfirst, depth + 1)
                if v is None:
                    v = self.tuple_value(sub, depth + 1)
            else:
                v = self.value(ft, depth + 1)
            if v is not None:
                parts.append("%s = %s" % (name, v))
        return "(%s)" % ", ".join(parts)

    # ---- declarations -----------------------------------------------------------------

    def emit(self, indent, text):
        self.lines.append("  " * indent + text)

    def typed_value(self, depth=2, extra=()):
        """(type text, model type, value text) with a value that can be written."""
        for _ in range(20):
            text, t = self.gen_type(depth, extra)
            v = self.value(t, 0)
            if v is not None:
                return text, t, v
        return "Text", TEXT, '"fallback"'

    def const(self):
        name = self.uid("c")
        self.acc = 0
        text, t, v = self.typed_value()
        self.weight["." + name] = len(v) // 8 + self.acc
        self.emit(0, "const %s :%s = %s;" % (name, text, v))
        self.consts.setdefault(t, []).append("." + name)
        if t[0] in ("s", "leaf"):
            self.struct_consts.append("." + name)
        elif t[0] == "list":
            self.list_consts.append("." + name)

    def annotations(self):
        """Applications of generic annotations and of annotations of generic types."""
        out = []
        for _ in range(self.rng.randrange(0, 3)):
            (x, xt), (y, yt) = self.pointer_arg(1), self.pointer_arg(1)
            if self.rng.random() < 0.5:
                v = self.value(xt, 0)
                if v is not None:
                    out.append("$Gen(%s, %s).annA%s" % (x, y, v if v.startswith("(") else "(%s)" % v))
            else:
                v = self.value(s("Inner", A=xt, B=yt), 0)
                out.append("$Gen(%s, %s).annInner%s" % (x, y, v if v.startswith("(") else "(%s)" % v))
        return " ".join(out)

    def use_struct(self):
        name = self.uid("Use")
        self.emit(0, "struct %s %s{" % (name, (self.annotations() + " ") if self.rng.random() < 0.3 else ""))
        for i in range(self.rng.randrange(3, 8)):
            text, t, v = self.typed_value()
            ann = " " + self.annotations() if self.rng.random() < 0.2 else ""
            self.emit(1, "f%d @%d :%s = %s%s;" % (i, i, text, v, ann))
        self.emit(0, "}")

    def generic_context(self):
        """Defaults inside a generic struct and interface: parameters stay type variables."""
        name = self.uid("Ctx")
        vars_ = [("P", VAR), ("Q", VAR)]
        self.emit(0, "struct %s(P, Q) {" % name)
        n = 0
        for _ in range(self.rng.randrange(3, 7)):
            text, t, v = self.typed_value(1, vars_)
            self.emit(1, "f%d @%d :%s = %s;" % (n, n, text, v))
            n += 1
        self.emit(1, "struct Nested {")
        for i in range(self.rng.randrange(1, 4)):
            text, t, v = self.typed_value(1, vars_)
            self.emit(2, "f%d @%d :%s = %s;" % (i, i, text, v))
        self.emit(1, "}")
        text, t, v = self.typed_value(1, vars_)
        self.emit(1, "const k :%s = %s;" % (text, v))
        self.emit(0, "}")
        iname = self.uid("Svc")
        self.emit(0, "interface %s(P) {" % iname)
        for m in range(self.rng.randrange(1, 4)):
            implicit = [("M", VAR)] if self.rng.random() < 0.5 else []
            scope = [("P", VAR)] + implicit
            params = []
            for j in range(self.rng.randrange(1, 3)):
                text, t, v = self.typed_value(1, scope)
                params.append("p%d :%s = %s" % (j, text, v))
            text, t, v = self.typed_value(1, scope)
            self.emit(1, "m%d @%d %s(%s) -> (r :%s = %s);" % (
                m, m, "[M] " if implicit else "", ", ".join(params), text, v))
        self.emit(0, "}")

    def plain_interface(self):
        name = self.uid("Iface")
        self.emit(0, "interface %s {" % name)
        for m in range(self.rng.randrange(1, 3)):
            text, t, v = self.typed_value()
            text2, t2, v2 = self.typed_value()
            self.emit(1, "m%d @%d (p :%s = %s) -> (r :%s = %s);" % (m, m, text, v, text2, v2))
        self.emit(0, "}")

    def file_annotation(self):
        name = self.uid("ann")
        for _ in range(20):
            text, t = self.gen_type(1)
            if t[0] == "s":
                break
        else:
            return
        self.emit(0, "annotation %s(struct, field, const) :%s;" % (name, text))
        target = self.uid("Annotated")
        v = self.value(t, 0)
        v2 = self.value(t, 0)
        self.emit(0, "struct %s $%s%s {" % (target, name, v if v.startswith("(") else "(%s)" % v))
        self.emit(1, "x @0 :Int32 $%s%s;" % (name, v2 if v2.startswith("(") else "(%s)" % v2))
        self.emit(0, "}")

    def file_body(self, count):
        self.emit(0, "@0x%016x;" % (0x8000000000000000 | random.Random(self.seed).getrandbits(63)))
        self.emit(0, "# Generated by tests/gen/gen_generic_values.py --seed %d --count %d; do not edit."
                  % (self.seed, count))
        self.lines.extend(PRELUDE.rstrip("\n").split("\n"))
        for _ in range(count):
            r = self.rng.random()
            if r < 0.35:
                self.const()
            elif r < 0.75:
                self.use_struct()
            elif r < 0.85:
                self.generic_context()
            elif r < 0.93:
                self.plain_interface()
            else:
                self.file_annotation()
        return "\n".join(self.lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=40)
    args = ap.parse_args()
    text = Gen(args.seed).file_body(args.count)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "main.capnp"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "args"), "w") as f:
        f.write("main.capnp\n")


if __name__ == "__main__":
    main()
