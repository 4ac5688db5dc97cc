@0xd5a2c5c3a0b9e8f3;
# Generic values through an import, in interfaces, method parameters and annotations.

using G = import "gv.capnp";
using GenFT = G.Gen(G.Foo, Text);

interface Iface(T) {
  struct S { t @0 :T; g @1 :G.Gen(T, Text); }
  m @0 (a :G.Gen(G.Foo, Text) = (foo = (x = 1), rev = (foo = "m")),
        b :G.Gen(T, Text) = (rev = (foo = "mb"), n = 2),
        c :S = (g = (rev = (foo = "mc")))) -> (r :GenFT = (foo = (y = "r")));
  n @1 [U] (u :G.Gen(U, Text) = (rev = (foo = "nu"))) -> (v :G.Gen(Text, U) = (foo = "nv"));
  annotation ann(struct) :G.Gen(T, Text);
}

struct ViaImport {
  a @0 :GenFT = (foo = (x = 2), rev = (foo = "vi"));
  b @1 :G.Gen(G.Foo, Text).Inner2(Text) = (baz = "b", inner = (foo = (x = 3)));
  c @2 :Iface(Text).S = (t = "s", g = (foo = "g", rev = (foo = "h")));
  d @3 :Iface.S = (t = .G.constFoo, g = (rev = (foo = "unbound")));
  e @4 :G.Wrapper(G.Foo, Text) = (gen = (foo = "w", rev = (foo = (x = 4))));
  f @5 :GenFT = .G.constGen;
  g @6 :G.Holder = (w = .G.constWrapper);
}

annotation genAnn(struct, field) :G.Gen(G.Foo, Text);
annotation genInnerAnn(struct) :G.Gen(Text, G.Foo).Inner2(Data);

struct Annotated $genAnn(foo = (x = 5), rev = (foo = "ann"))
                 $genInnerAnn(baz = 0x"ff", bar = (x = 6), inner = (foo = "ai"))
                 $Iface(G.Foo).ann(foo = (x = 7), rev = (foo = "ia"))
                 $Iface(Text).ann(rev = (foo = "it")) {
  x @0 :Int32 $genAnn(rev = (foo = "onField"));
}

const viaImport :GenFT = (foo = (x = 8), rev = (foo = "ci"));
const ifaceS :Iface(G.Foo).S = (t = (x = 9), g = (foo = (x = 10), rev = (foo = "cs")));
