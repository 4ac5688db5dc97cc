@0xb1b2c3d4e5f60718;
using Other = import "../other.capnp";
struct T { x @0 :Other.O; }
struct U { y @0 :Int32; }
struct Unused { z @0 :Int32; }
const k :Int32 = 7;
