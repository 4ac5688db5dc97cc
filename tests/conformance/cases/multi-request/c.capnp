@0xe0a1b2c3d4e5f623;
using A = import "a.capnp";
using S = import "sub/s.capnp";
struct C $S.used("c") { a @0 :A.A; l @1 :S.Leaf; }
