@0xd5a2c5c3a0b9e8f1;
struct Foo { u @0 :union { a @1 :Int32; b @2 :Int32; } }
