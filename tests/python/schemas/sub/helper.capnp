@0xc4d8e0f3a2b5bd04;
struct Helper { level @0 :UInt8; }
const helperName :Text = "helper";
