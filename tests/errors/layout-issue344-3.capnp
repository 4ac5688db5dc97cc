@0xee49515c5e55b1be;
enum E { e0 @0; e1 @1; }
struct P { p @0 :Int32; }
struct S00052 {
  u16 :union {
    f1 @11 :UInt32;
    u12 :union {
      f2 @18 :Float32;
      f3 @10 :Int64;
      f4 @7 :E;
      f5 @0 :UInt8;
      g6 :group {
        f7 @19 :Text;
        g8 :group {
          f9 @14 :Text;
          f10 @9 :Int32;
          f11 @12 :Bool;
        }
      }
    }
    f13 @2 :UInt16;
    f14 @16 :List(Int32);
    f15 @4 :Bool;
  }
  f17 @13 :Float64;
  f18 @8 :Bool;
  f19 @15 :Void;
  f20 @17 :AnyPointer;
  union {
    f22 @20 :Float32;
    f23 @5 :List(Int32);
    f24 @6 :UInt32;
    f25 @1 :UInt32;
  }
  f21 @3 :Int32;
}
