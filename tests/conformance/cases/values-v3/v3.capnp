@0xd5a2c5c3a0b9e8f1;
struct Q { union { a @0 :Text; b @1 :UInt32; } c @2 :Int8 = 3; }
const q1 :Q = (a = "s", b = 7);    # data 01 00 00 00 07 00 00 00; ptr0 still text "s"
const q2 :Q = (c = 1, c = 2);      # data 00 00 01 00 ...; c = 2 (stored 2 xor 3)
struct W { t @0 :Text = ""; d @1 :Data = ""; s @2 :Q = (); l @3 :List(Int8) = []; }
                                   # all four defaults are non-null and empty
