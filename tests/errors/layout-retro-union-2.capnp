@0xf37fbe006ec89d06;
enum E { e0 @0; e1 @1; }
struct P { p @0 :Int32; }
struct S00020 {
  g1 :group {
    f2 @0 :Void;
    g3 :group {
      union {
        g18 :group {
          f19 @5 :Text;
          f20 @8 :Bool;
        }
        f21 @18 :E;
        f22 @12 :List(P);
      }
      g4 :group {
        union {
          f13 @16 :Int32;
          f14 @6 :Int32;
          f15 @4 :Bool;
          f16 @20 :UInt32;
        }
        f5 @17 :UInt16;
        u11 @19! :union {
          f6 @10 :UInt64;
          f7 @14 :Text;
          f8 @15 :Int16;
          f9 @7 :AnyPointer;
          f10 @3 :Int8;
        }
        f12 @13 :UInt32;
      }
      f17 @11 :Bool;
    }
    g23 :group {
      f24 @1 :Bool;
    }
  }
  f25 @9 :Void;
  f26 @2 :Bool;
}
