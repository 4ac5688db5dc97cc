@0xe0a1b2c3d4e5f633;
using L = import "lib.capnp";
struct Main { l @0 :L.Good; }
