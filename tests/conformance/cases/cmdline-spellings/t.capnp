@0xe0a1b2c3d4e5f62a;
using S = import "sub/s.capnp";
struct T { s @0 :S.S; }
