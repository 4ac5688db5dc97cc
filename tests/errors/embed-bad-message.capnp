@0xd5a2c5c3a0b9e8f1;
struct S { a @0 :Int32; }
const s :S = embed "embed-bad-message.capnp";
