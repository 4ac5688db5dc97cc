@0xd5a2c5c3a0b9e8f1;
struct Bad {
  u :union {
    v :union {
      a @1 :Bool;
      b @2 :UInt8;
    }
    p @0 :Data;
  }
}
