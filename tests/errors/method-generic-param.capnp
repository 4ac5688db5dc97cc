@0xd5a2c5c3a0b9e8f1;
interface I(T) { m @0 T -> T; }
