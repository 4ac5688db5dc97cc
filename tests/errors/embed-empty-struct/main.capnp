@0xe0a1b2c3d4e5f63a;
struct S { a @0 :Int32; }
const s :S = embed "files/empty.bin";
