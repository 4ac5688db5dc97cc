@0xe9add322eae40be2;
enum E { e0 @0; e1 @1; }
struct P { p @0 :Int32; }
struct S00022 {
  f1 @2 :AnyPointer;
  f2 @12 :Bool;
  u14 :union {
    f3 @7 :List(Int32);
    u12 :union {
      f4 @9 :UInt32;
      f5 @8 :AnyPointer;
      f6 @10 :Int64;
      u10 :union {
        f7 @5 :Int32;
        g8 :group {
          f9 @0 :Int8;
        }
      }
      f11 @3 :UInt16;
    }
    f13 @6 :E;
  }
  u18 :union {
    f15 @4 :Data;
    f16 @1 :UInt16;
    f17 @11 :Int32;
  }
}
