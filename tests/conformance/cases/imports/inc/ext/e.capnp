@0xe0a1b2c3d4e5f613;
using F = import "../ext2/f.capnp";
struct EThing { f @0 :F.FThing; }
