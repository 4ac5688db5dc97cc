@0xe0a1b2c3d4e5f60a;
# Source schema for files/point.bin (built with `capnp eval -o binary msgschema.capnp point > files/point.bin`).
struct Point { x @0 :Int32; y @1 :Int32 = 2; label @2 :Text; tags @3 :List(Text); }
const point :Point = (x = 10, y = 20, label = "origin", tags = ["a", "b"]);
