@0xc1b2c3d4e5f60718;
struct O { struct Deep { w @0 :Text; } d @0 :Deep; }
struct NotUsed {}
