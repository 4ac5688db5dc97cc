@0xfafe6be0856d0dde;
enum E { e0 @0; e1 @1; }
struct P { p @0 :Int32; }
struct S00031 {
  union {
    f22 @22 :Text;
    u30 :union {
      f23 @2 :Int8;
      f24 @16 :Int32;
      u29 :union {
        f25 @18 :UInt32;
        f26 @1 :List(P);
        f27 @15 :Void;
        f28 @9 :UInt32;
      }
    }
  }
  u18 @25! :union {
    f1 @14 :Float32;
    g2 :group {
      f3 @23 :Int8;
      u9 @10! :union {
        f4 @24 :List(Int32);
        f5 @21 :Text;
        f6 @13 :List(Int32);
        f7 @17 :Int64;
        f8 @3 :Void;
      }
      u15 :union {
        f10 @11 :Int32;
        f11 @8 :Void;
        f12 @0 :Int64;
        f13 @7 :Int8;
        f14 @5 :UInt8;
      }
      f16 @4 :Int32;
    }
    f17 @6 :Int8;
  }
  f19 @19 :E;
  f20 @20 :UInt64;
  f21 @12 :Int16;
}
