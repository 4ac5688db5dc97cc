@0xb9924e400f55610d;
enum E { e0 @0; e1 @1; }
struct P { p @0 :Int32; }
struct S00011 {
  u12 @19! :union {
    f1 @2 :UInt8;
    f2 @11 :Bool;
    g3 :group {
      g4 :group {
        f5 @23 :Float32;
        f6 @0 :Int64;
        f7 @18 :Int8;
      }
      f8 @22 :E;
      f9 @7 :UInt16;
      f10 @16 :List(Int32);
    }
    f11 @20 :Float32;
  }
  g13 :group {
    u17 :union {
      f14 @21 :Int64;
      f15 @1 :Int16;
      f16 @17 :UInt64;
    }
    f18 @8 :Data;
    union {
      u22 :union {
        f20 @24 :UInt16;
        f21 @3 :Int16;
      }
      f23 @6 :List(P);
      f24 @15 :Bool;
      f25 @4 :Bool;
      f26 @14 :Bool;
    }
    f19 @9 :UInt32;
  }
  f27 @10 :AnyPointer;
  f28 @5 :AnyPointer;
  f29 @12 :Bool;
  f30 @13 :Int8;
}
