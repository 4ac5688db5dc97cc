@0xd5a2c5c3a0b9e8f1;
struct S { a @0 :Int32; }
const b :S = (x = 1);
const c :S = (1);
const d :S = (a = 1, 2);
