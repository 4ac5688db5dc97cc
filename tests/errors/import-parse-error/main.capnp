@0xe0a1b2c3d4e5f635;
using L = import "lib.capnp";
struct Main { l @0 :L.Good; }
