@0xe0a1b2c3d4e5f612;
struct CThing { v @0 :Int32; }
struct CUnused { w @0 :Text; }
