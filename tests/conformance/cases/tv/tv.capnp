@0xb7e4f1a2c3d40567;
# Layout test vectors TV-L1 ... TV-U7 of SCHEMA-COMPILER.md 6.8.

struct L1 {
  a @0 :Bool;   b @1 :Int8;    c @2 :Int16;  d @3 :Int32;  e @4 :Int64;
  f @5 :Bool;   g @6 :UInt8;   h @7 :Float32; i @8 :Text;  j @9 :Void;
  k @10 :List(Int32);  l @11 :UInt16;  m @12 :Float64;  n @13 :Bool;
}

struct L2 {
  a @0 :UInt64; b @1 :Bool; c @2 :UInt64; d @3 :UInt32;
  e @4 :UInt16; f @5 :UInt8; g @6 :Bool; h @7 :Bool; i @8 :UInt8;
}

struct U1 {
  a @0 :UInt16;
  union {
    b @1 :UInt8;
    c @2 :UInt64;
    d @3 :Void;
    e @4 :Text;
  }
  f @5 :UInt32;
  g @6 :Text;
}

struct Shape {
  area @0 :Float64;
  union {
    circle :group { radius @1 :Float64; }
    rectangle :group { width @2 :Float64; height @3 :Float64; }
    triangle :group { a @4 :Float32; b @5 :Float32; c @6 :Float32; tag @7 :Text; }
  }
  color @8 :UInt8;
}

struct Exp {
  u :union {
    a @0 :UInt8;
    b @2 :UInt16;
    c @3 :UInt32;
  }
  x @1 :UInt8;
  y @4 :Bool;
}

struct Retro {
  a @0 :UInt32;
  u @2! :union { old @1 :UInt64; new @3 :Text; }
  b @4 :UInt16;
}

struct VoidUnion {
  union { a @0 :Void; b @1 :Void; }
  c @2 :Bool;
}

struct Nest {
  outer :union {
    p @0 :UInt32;
    inner :union { q @1 :UInt8; r @2 :UInt64; }
    g :group { s @3 :UInt16; t @4 :Bool; }
  }
  z @5 :UInt16;
}

struct Order {
  g :group { b @1 :Int32; a @0 :Int32; }
  c @2 :Int32;
  struct Inner {}
  union { d @4 :Int32; e @3 :Int32; }
}
