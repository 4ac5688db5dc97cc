@0xd5a2c5c3a0b9e8f1;
struct Foo { union { a @0 :Int32; b @1 :Int32; } union { c @2 :Int32; d @3 :Int32; } }
