@0xb1e0a5c3d2f4a6b8;
# Constants and defaults for the `eval` differential tests.

using Json = import "/capnp/compat/json.capnp";

struct Foo {
  a @0 :Int32 = 7;
  b @1 :Text = "hi";
  c @2 :List(Bar);
  d @3 :Bar = (x = 5, y = [-1, 2]);
  e @4 :Color = green;
  f @5 :Data;
  g @6 :Float64 = 1.5;
  h @9 :Float32 = 0.1;
  u :union {
    u1 @7 :Void;
    u2 @8 :UInt64;
  }
  renamed @10 :Int16 $Json.name("otherName");
}

struct Bar {
  x @0 :Int64;
  y @1 :List(Int8);
}

enum Color {
  red @0;
  green @1;
}

const foo :Foo = (a = 3, c = [(x = 1, y = [1, 2, 3]), (x = 2)], d = (x = 9),
                  f = 0x"deadbeef", u = (u2 = 12345678901234), renamed = -4,
                  b = "tab\t quote\" \xff");
const num :UInt16 = 42;
const neg :Int64 = -9223372036854775808;
const txt :Text = "hello\nworld";
const lst :List(Text) = ["a", "b"];
const col :Color = red;
const v :Void = void;
const flt :Float32 = 0.1;
const dbl :Float64 = -inf;
const dat :Data = "ab";
const yes :Bool = true;
const floats :List(Float32) = [0.1, 1e30];
const nested :List(List(Bar)) = [[(x = 1)], [], [(x = 2), (x = 3, y = [4])]];
const bars :List(Bar) = [(x = 1), (x = 2)];
const ref :Foo = .foo;

struct Outer {
  struct Inner {
    const k :Int32 = 5;
  }
  inner @0 :Inner;
}
