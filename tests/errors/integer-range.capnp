@0xd5a2c5c3a0b9e8f1;
const a :Int8 = 128;
const b :UInt8 = -1;
const c :Int64 = -0x8000000000000001;
const d :UInt16 = 65536;
