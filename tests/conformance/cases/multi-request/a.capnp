@0xe0a1b2c3d4e5f620;
# Several files in one request; nodes shared between them are emitted once.
using B = import "b.capnp";
struct A { b @0 :B.Shared; own @1 :AOnly; }
struct AOnly { x @0 :Int32; }
