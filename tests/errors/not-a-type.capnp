@0xd5a2c5c3a0b9e8f1;
const c :Int32 = 1;
struct Foo { a @0 :c; }
