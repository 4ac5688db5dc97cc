@0xd5a2c5c3a0b9e8f1;
struct Foo { b @1 :Int32 = ; a @0 :Int32; }
