@0xd5a2c5c3a0b9e8f1;
enum Color { red @0; green @1; }
const cEnum :Color = green;
const a :Color = .cEnum;
struct S { e @0 :Color = .cEnum; }
