@0xd5a2c5c3a0b9e8f1;
struct Foo { g @0 :group { a @1 :Int32; } }
