@0xd5a2c5c3a0b9e8f2;
# Default values and constants whose types are branded generics (issue 11, item 1).

struct Foo { x @0 :UInt32; y @1 :Text; }
struct Bar { b @0 :Bool = true; f @1 :Foo; }
interface Cap { ping @0 () -> (); }

struct Gen(Foo, Bar) {
  foo @0 :Foo;
  rev @1 :Gen(Bar, Foo);
  list @2 :List(Gen(Foo, Bar));
  n @3 :UInt16 = 7;
  grp :group { g1 @4 :Bar; g2 @5 :Int8 = -1; }
  union { u1 @6 :Foo; u2 @7 :Bar; u3 @8 :Void; }
  inner @9 :Inner;
  bar @11 :Bar;
  using AliasFoo = Foo;
  using AliasBar = Bar;
  using AliasInner = Inner;
  using AliasInner2 = Inner2;
  using AliasInner2Text = Inner2(Text);
  using AliasRev = Gen(Bar, Foo);
  struct Inner { foo @0 :Foo; bar @1 :Bar; self @2 :Gen(Foo, Bar); }
  struct Inner2(Baz) {
    bar @0 :Bar;
    baz @1 :Baz;
    inner @2 :Inner;
    deep @3 :Inner2(Foo);
    struct Deep { baz @0 :Baz; foo @1 :Foo; }
  }
  own @10 :Gen(Text, Data) = (foo = "own", rev = (foo = 0x"00ff"));
  const c :Gen(Text, List(UInt8)) = (foo = "c", bar = [1, 2], rev = (foo = [3], rev = (foo = "cc")));
}

struct Wrapper(T, U) {
  gen @0 :Gen(U, T);
  genT @1 :Gen(T, T);
  inner @2 :Gen(T, U).Inner;
  wrap @3 :Wrapper(U, T);
  l @4 :List(Gen(T, U));
}

struct Holder {
  w @0 :Wrapper(Text, Foo) = (gen = (foo = (x = 1), rev = (foo = "r")), genT = (foo = "t1", rev = (foo = "t2")),
                              inner = (foo = "i", bar = (x = 2), self = (rev = (foo = (x = 3)))),
                              wrap = (gen = (foo = "w", rev = (foo = (x = 4)))),
                              l = [(foo = "l0"), (bar = (x = 5))]);
}

struct Use {
  a @0 :Gen(Foo, Text) = (foo = (x = 123), rev = (foo = "text", rev = (foo = (x = 321))));
  b @1 :Gen(Foo, Text).Inner = (foo = (x = 5), bar = "b", self = (foo = (y = "s")));
  c @2 :Gen(Foo, Text).Inner2(Text) = (bar = "x", baz = "y", inner = (foo = (x = 7), bar = "z"),
                                        deep = (baz = (x = 8), bar = "d", deep = (baz = (x = 9))));
  d @3 :Gen(Foo, AnyPointer).AliasFoo = (x = 123);
  e @4 :Gen(Foo, Text).AliasInner = (foo = (x = 6), bar = "ai");
  f @5 :Gen(Foo, Text).AliasInner2(Data) = (baz = 0x"aa", bar = "ai2", inner = (bar = "q"));
  g @6 :Gen(Foo, Text).AliasInner2Text = (baz = "t", bar = "ai2t");
  h @7 :Gen(Foo, Text).AliasRev = (foo = "rv", bar = (x = 10));
  i @8 :Gen(Foo, Text).AliasRev.AliasFoo = "aliasRevFoo";
  j @9 :Gen(Foo, Text).AliasBar = "aliasBar";
  k @10 :Gen(Foo, Text).Inner2(Bar).Deep = (baz = (b = false, f = (x = 11)), foo = (x = 12));
  l @11 :Gen(Foo, Text) = (list = [(foo = (x = 1)), (rev = (foo = "e1"))], n = 9,
                            grp = (g1 = "grp", g2 = 3), u2 = "union", inner = (foo = (x = 13), bar = "in"));
  m @12 :Gen(Foo, Text) = (grp = "firstField", u1 = (x = 14));
  n @13 :List(Gen(Text, Foo)) = [(foo = "n0", bar = (x = 1)), (rev = (foo = (x = 2)))];
  o @14 :Gen(Text, Foo) = "firstFieldOfGen";
  p @15 :Gen(Foo, Text).Inner2(Text).Deep = (baz = "dp", foo = (x = 15));
  q @16 :Gen(Bar, Bar) = (foo = (b = false), rev = (foo = (f = (x = 16))));
}

# Parameters bound to AnyPointer, List(T) and an interface; unbound.
struct Kinds {
  anyP @0 :Gen(AnyPointer, Text) = (foo = .constFoo, rev = (foo = "ap", bar = .constFoo));
  anyL @1 :Gen(AnyPointer, Text) = (foo = .constList, rev = (bar = .constFoo));
  lst @2 :Gen(List(Foo), Text) = (foo = [(x = 1), (y = "l")], rev = (foo = "ls", bar = [(x = 2)]));
  lstT @3 :Gen(List(Text), List(List(UInt8))) = (foo = ["a", "b"], bar = [[1], [2, 3]], rev = (foo = [[4]]));
  cap @4 :Gen(Cap, Text) = (rev = (foo = "cap"), n = 3);
  capL @5 :Gen(List(Cap), Text) = (rev = (foo = "capList"));
  unbound @6 :Gen = (foo = .constFoo, bar = .constList, rev = (foo = .constGen), n = 4);
  unboundInner @7 :Gen.Inner = (foo = .constFoo, bar = .constList);
  unboundInner2 @8 :Gen.Inner2(Text) = (baz = "ub", bar = .constFoo, inner = (foo = .constFoo));
  abs @9 : .Gen.Inner = (foo = .constList);
  text @10 :Gen(Text, Data) = (foo = "t", bar = 0x"01", list = [(foo = "x")]);
  nested @11 :Gen(Gen(Foo, Text), Gen(Text, Foo)) = (foo = (foo = (x = 17), rev = (foo = "g")), bar = (foo = "h", bar = (x = 18)));
  wrapped @12 :Wrapper(Gen(Text, Foo), Text) = (gen = (foo = "wg", bar = (foo = "wg2")));
}

const constFoo :Foo = (x = 99, y = "constFoo");
const constList :List(Int32) = [1, -2];
const constText :Text = "constText";
const constGen :Gen(Foo, Text) = (foo = (x = 1), rev = (foo = "cg"));
const constGenInner :Gen(Foo, Text).Inner = (foo = .constFoo, bar = "cgi");
const constGenInner2 :Gen(Foo, Text).Inner2(Text) = (baz = "b", bar = "cgi2", deep = (baz = (x = 3)));
const constAlias :Gen(Foo, AnyPointer).AliasFoo = (x = 123);
const constAliasRev :Gen(Foo, Text).AliasRev = (foo = "car", bar = (x = 2));
const constWrapper :Wrapper(Text, Foo) = (gen = (foo = (x = 1)), inner = (bar = (x = 4)));
const constHolder :Holder = (w = (gen = (foo = (x = 19)), genT = (foo = "ch")));
const constAny :Gen(AnyPointer, Text) = (foo = .constFoo, rev = (foo = "ca"));
const constListT :Gen(List(Foo), Text) = (foo = [(x = 20)]);
const constCap :Gen(Cap, Text) = (rev = (foo = "cc"));
const constUnbound :Gen = (foo = .constFoo, rev = (bar = .constList));
const constListGen :List(Gen(Text, Foo)) = [(foo = "cl", bar = (x = 21))];
const constFromConst :Gen(Foo, Text) = .constGen;
const constUseConst :Use = (a = .constGen, b = .constGenInner, c = .constGenInner2);
const constTextFirst :Gen(Text, Foo) = "firstField";
const constInGeneric :Gen(Text, List(UInt8)) = Gen(Text, List(UInt8)).c;
