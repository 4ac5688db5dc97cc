@0xcc488b2d87602125;
enum E { e0 @0; e1 @1; }
struct P { p @0 :Int32; }
struct S00049 {
  f1 @20 :UInt32;
  f2 @9 :Int8;
  f3 @16 :Int16;
  union {
    u30 :union {
      f20 @3 :UInt64;
      f21 @4 :Int16;
      g22 :group {
        f23 @2 :Int64;
        u26 @17! :union {
          f24 @18 :UInt8;
          f25 @6 :Int32;
        }
        g27 :group {
          f28 @11 :Int16;
        }
        f29 @22 :List(Int32);
      }
    }
    f31 @13 :UInt8;
    f32 @12 :Float32;
  }
  u15 :union {
    g4 :group {
      f5 @1 :Bool;
    }
    u9 :union {
      f6 @5 :Bool;
      f7 @23 :Int32;
      f8 @15 :Int64;
    }
    f10 @8 :Int8;
    u14 :union {
      f11 @7 :Bool;
      f12 @19 :Int32;
      f13 @10 :Text;
    }
  }
  f16 @21 :UInt32;
  g17 :group {
    f18 @0 :Int64;
    f19 @14 :Void;
  }
}
