@0xd5a2c5c3a0b9e8f1;
struct Foo { a_b @0 :Int32; }
struct Bad_Type {}
