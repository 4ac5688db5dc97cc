@0xbc5b251adb8cb60e;
enum E { e0 @0; e1 @1; }
struct P { p @0 :Int32; }
struct S00367 {
  f1 @24 :Int32;
  u4 @1! :union {
    f2 @27 :Int16;
    f3 @25 :Int16;
  }
  f5 @2 :Float64;
  union {
    f32 @13 :UInt64;
    f33 @28 :Int32;
    f34 @8 :Int32;
    f35 @11 :Data;
  }
  f6 @18 :Int64;
  f7 @29 :Int8;
  f8 @14 :UInt64;
  u31 @5! :union {
    f9 @21 :Int8;
    f10 @30 :Int32;
    f11 @26 :UInt16;
    g12 :group {
      f13 @0 :Data;
      f14 @12 :Void;
      f15 @20 :Float32;
      g16 :group {
        f17 @4 :Text;
        f18 @9 :Int64;
        union {
          f20 @17 :AnyPointer;
          f21 @7 :P;
          f22 @15 :Int32;
          f23 @3 :UInt32;
        }
        f19 @16 :UInt16;
      }
      union {
        f24 @22 :Int32;
        u27 :union {
          f25 @6 :UInt64;
          f26 @10 :Float64;
        }
        f28 @19 :UInt32;
        f29 @31 :List(Int32);
      }
    }
    f30 @23 :Text;
  }
}
