@0xd5a2c5c3a0b9e8f1;
const a :Float64 = 1.5e;
