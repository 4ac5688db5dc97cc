@0xd5a2c5c3a0b9e8f1;
enum E { a @0; b @2; }
enum F { a @0; b @0; }
