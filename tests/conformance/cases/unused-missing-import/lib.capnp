@0xe0a1b2c3d4e5f639;
using Gone = import "gone.capnp";
struct Good {}
struct Unused { g @0 :Gone.X; }
