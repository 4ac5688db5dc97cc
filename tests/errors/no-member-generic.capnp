@0xd5a2c5c3a0b9e8f1;
struct G(T) { struct In {} }
struct S { a @0 :G(Text).In.X; }
