@0xe4f693c3b4611068;
enum E { e0 @0; e1 @1; }
struct P { p @0 :Int32; }
struct S00061 {
  f1 @5 :Int32;
  f2 @9 :Int32;
  f3 @11 :UInt8;
  u19 :union {
    f4 @3 :Bool;
    f5 @13 :Int32;
    f6 @8 :Text;
    u17 :union {
      f7 @10 :Data;
      f8 @7 :UInt32;
      f9 @14 :Data;
      g10 :group {
        u16 :union {
          f11 @12 :Int32;
          f12 @1 :Int8;
          f13 @2 :Int16;
          f14 @0 :Int32;
          f15 @4 :UInt8;
        }
      }
    }
    f18 @6 :Int8;
  }
}
