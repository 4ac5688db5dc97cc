@0xd5a2c5c3a0b9e8f1;
struct Foo { union { a @0 :Int32; } }
