@0xd5a2c5c3a0b9e8f1;
const a :AnyPointer = 1;
const b :AnyStruct = [1];
const c :AnyList = ["a"];
const t :Text = "t";
const d :AnyPointer = .t;
