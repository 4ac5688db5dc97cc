@0xd5a2c5c3a0b9e8f1;
# A little of every declaration kind, with values that exercise Value pointers.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("conformance::basic");

struct Point {
  x @0 :Int32 = -1;
  y @1 :Float64 = 0.5;
  label @2 :Text;
  tags @3 :List(Text) = ["a", "b"];
  union {
    none @4 :Void;
    next @5 :Point;
  }
}

enum Color { red @0; green @1; blue @2 $Cxx.name("blueish"); }

annotation note(struct, field) :Point;

struct Tagged $note(x = 3, label = "t") {
  color @0 :Color = green;
  origin @1 :Point = (x = 7, next = (y = -0.0));
}

const origin :Point = (label = "o", tags = []);

interface Shape {
  area @0 (scale :Float32 = 1) -> (value :Float64);
}
