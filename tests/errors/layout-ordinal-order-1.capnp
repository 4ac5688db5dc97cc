@0xf87fd53b29e288df;
enum E { e0 @0; e1 @1; }
struct P { p @0 :Int32; }
struct S00017 {
  u3 @9! :union {
    f1 @18 :Bool;
    f2 @3 :Bool;
  }
  f4 @13 :Bool;
  f5 @10 :Bool;
  union {
    f20 @14 :Int8;
    f21 @8 :Bool;
    f22 @4 :UInt16;
  }
  g6 :group {
    f7 @0 :Int8;
    union {
      f14 @11 :Bool;
      f15 @17 :Data;
      f16 @12 :Int8;
      f17 @2 :Int64;
      f18 @5 :Void;
    }
    u12 :union {
      f8 @1 :Bool;
      f9 @6 :Int32;
      f10 @19 :Int32;
      f11 @15 :Bool;
    }
    f13 @7 :Text;
  }
  f19 @16 :UInt32;
}
