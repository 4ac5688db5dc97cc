@0xd5a2c5c3a0b9e8f1;
struct S { g :group { a @0 :Int32; b @1 :Text; } }
const c :S = (g = 5);
const d :S = (g = "x");
