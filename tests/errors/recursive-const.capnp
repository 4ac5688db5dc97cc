@0xd5a2c5c3a0b9e8f1;
const a :Int32 = .b;
const b :Int32 = .a;
