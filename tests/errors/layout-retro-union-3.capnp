@0xcf215a1c1996b5b3;
enum E { e0 @0; e1 @1; }
struct P { p @0 :Int32; }
struct S00027 {
  f1 @1 :Int16;
  u16 :union {
    f2 @2 :Int8;
    f3 @13 :Text;
    g4 :group {
      union {
        f14 @25 :Bool;
        f15 @6 :UInt8;
      }
      f5 @14 :Int8;
      u13 :union {
        f6 @26 :Void;
        g7 :group {
          f8 @10 :Int8;
          f9 @15 :UInt8;
          f10 @5 :Text;
        }
        f11 @23 :Int64;
        f12 @11 :Bool;
      }
    }
  }
  f17 @16 :Int16;
  g18 :group {
    f19 @18 :Int64;
    union {
      f23 @27 :Int64;
      f24 @22 :Int32;
      f25 @17 :Int32;
      f26 @0 :Data;
    }
    f20 @7 :Bool;
    f21 @29 :Void;
    f22 @30 :P;
  }
  f27 @31 :Int32;
  g28 :group {
    union {
      f38 @3 :Float64;
      f39 @12 :Int16;
      f40 @28 :Bool;
    }
    u37 @19! :union {
      f29 @20 :UInt8;
      g30 :group {
        f31 @24 :UInt8;
        u34 :union {
          f32 @21 :Bool;
          f33 @9 :Int16;
        }
        f35 @8 :Int32;
      }
      f36 @4 :UInt16;
    }
  }
}
