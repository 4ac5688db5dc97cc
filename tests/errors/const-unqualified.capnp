@0xd5a2c5c3a0b9e8f1;
const a :Int32 = 1;
const b :Int32 = a;
struct Q { const k :Int32 = 2; }
const c :Int32 = Q.k;
struct R { f @0 :Int32 = x; }
const x :Int32 = 3;
