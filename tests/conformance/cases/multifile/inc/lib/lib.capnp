@0xd1b2c3d4e5f60718;
struct Lib { struct Inner { q @0 :Float32; } struct Sibling {} }
