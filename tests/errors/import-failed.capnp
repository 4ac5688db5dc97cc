@0xd5a2c5c3a0b9e8f1;
using X = import "nope.capnp";
struct S { a @0 :X.Y; }
