@0xd5a2c5c3a0b9e8f1;
struct S { l @0 :List(Int8); }
const c :S = [1, 2];
struct D { d @0 :Data; }
const d :D = 0x"00";
const d2 :D = "str";
struct G { g :group { l @0 :List(Int8); } h :group { d @1 :Data; } }
const g :G = (g = [1]);
const h :G = (h = 0x"01");
const h2 :G = (h = "s");
