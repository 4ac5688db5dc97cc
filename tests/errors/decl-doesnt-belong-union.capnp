@0xd5a2c5c3a0b9e8f1;
struct S { u :union { const k :Int32 = 1; a @0 :Int32; b @1 :Int32; } }
