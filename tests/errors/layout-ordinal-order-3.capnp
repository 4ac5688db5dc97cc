@0xc3c11ff4629f2639;
enum E { e0 @0; e1 @1; }
struct P { p @0 :Int32; }
struct S00277 {
  f1 @1 :Int64;
  f2 @20 :Float32;
  g3 :group {
    f4 @8 :UInt8;
    f5 @12 :Void;
  }
  f6 @15 :Data;
  f7 @6 :Bool;
  g8 :group {
    f9 @9 :Int16;
    union {
      u17 :union {
        f10 @14 :Data;
        u13 :union {
          f11 @17 :E;
          f12 @13 :Float64;
        }
        u16 :union {
          f14 @21 :UInt32;
          f15 @7 :Bool;
        }
      }
      f18 @16 :List(Int32);
      f19 @2 :Int8;
      g20 :group {
        f21 @24 :UInt16;
        union {
          f22 @5 :Void;
          f23 @4 :Int32;
        }
      }
    }
  }
  union {
    f30 @0 :Int8;
    f31 @23 :Data;
  }
  u29 @10! :union {
    f24 @22 :Int32;
    f25 @18 :List(Int32);
    f26 @11 :Float64;
    f27 @3 :Void;
    f28 @19 :Void;
  }
}
