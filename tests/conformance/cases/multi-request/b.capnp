@0xe0a1b2c3d4e5f621;
using S = import "sub/s.capnp";
struct Shared { s @0 :S.Leaf; }
struct BOnly {}
