@0xd5a2c5c3a0b9e8f1;
struct S { u @2! :union { a @0 :Int32; b @1 :Int32; } }
