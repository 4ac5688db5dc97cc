@0xc3a5e7f90b1d2e4f;
# Constants of every pointer type, annotations with values, generics: for schema introspection.

annotation label(struct, field, file) :Text;
annotation point(struct) :Point;
annotation ids(field) :List(UInt16);

$label("the file");

struct Point {
  x @0 :Int32;
  y @1 :Int32;
}

struct Tagged $label("tagged") $point((x = 1, y = -2)) {
  name @0 :Text $label("the name") $ids([7, 8]);
  pos  @1 :Point = (x = 3, y = 4);
  kids @2 :List(Tagged);
  grid @3 :List(List(Float32));
}

struct Box(T) {
  item @0 :T;
}

struct UsesBox {
  texts @0 :Box(Text);
}

const origin :Point = (x = 0, y = 0);
const corner :Point = (x = -5, y = 9);
const words :List(Text) = ["a", "bc", ""];
const points :List(Point) = [(x = 1, y = 2), (x = 3)];
const matrix :List(List(Int8)) = [[1, 2], [], [3]];
const flags :List(Bool) = [true, false, true];
const tagged :Tagged = (name = "t", kids = [(name = "k")]);
const copied :List(Text) = .words;
