@0xd5a2c5c3a0b9e8f1;
struct Foo { u :union { a @0 :Int32; union { b @1 :Int32; c @2 :Int32; } } }
