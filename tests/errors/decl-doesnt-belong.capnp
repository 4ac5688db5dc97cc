@0xd5a2c5c3a0b9e8f1;
struct S { g :group { struct T {} a @0 :Int32; } }
