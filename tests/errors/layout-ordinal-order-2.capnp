@0xd57926ace352dd8c;
enum E { e0 @0; e1 @1; }
struct P { p @0 :Int32; }
struct S00117 {
  f1 @2 :UInt16;
  f2 @18 :Void;
  union {
    f18 @8 :P;
    f19 @7 :Bool;
    u24 :union {
      f20 @12 :UInt32;
      f21 @17 :Void;
      f22 @13 :Int16;
      f23 @3 :Bool;
    }
  }
  g3 :group {
    u7 @11! :union {
      f4 @19 :Int32;
      f5 @15 :Data;
      f6 @1 :Bool;
    }
    f8 @4 :E;
    u14 :union {
      f9 @10 :UInt32;
      g10 :group {
        f11 @6 :E;
        f12 @5 :UInt64;
        f13 @14 :UInt64;
      }
    }
    f15 @16 :Int32;
  }
  f16 @9 :UInt16;
  f17 @0 :Data;
}
