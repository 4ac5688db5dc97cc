@0xd5a2c5c3a0b9e8f1;
const a :Int32 = "x";
const b :Text = 1;
const c :Bool = 1;
const d :Int32 = 1.5;
const f :Text = 0x"00";
const g :List(Int32) = (a = 1);
const h :Int32 = [1];
