@0xd5a2c5c3a0b9e8f1;
struct Foo { a @0 :Int32; b @0 :Int32; c @1 :Int32; }
