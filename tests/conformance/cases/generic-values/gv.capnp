@0xd5a2c5c3a0b9e8f2;
struct Foo { x @0 :UInt32; }
struct Gen(Foo, Bar) {
  foo @0 :Foo;
  rev @1 :Gen(Bar, Foo);
  using AliasFoo = Foo;
  struct Inner { foo @0 :Foo; bar @1 :Bar; }
  struct Inner2(Baz) { bar @0 :Bar; baz @1 :Baz; inner @2 :Inner; }
}
struct Use {
  a @0 :Gen(Foo, Text) = (foo = (x = 123), rev = (foo = "text", rev = (foo = (x = 321))));
  b @1 :Gen(Foo, Text).Inner = (foo = (x = 5), bar = "b");
  c @2 :Gen(Foo, Text).Inner2(Text) = (bar = "x", baz = "y", inner = (foo = (x = 7), bar = "z"));
  d @3 :Gen(Foo, AnyPointer).AliasFoo = (x = 123);
}
