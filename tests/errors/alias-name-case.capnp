@0xd5a2c5c3a0b9e8f1;
struct Target {}
using target = Target;
const k :Int32 = 1;
using K = .k;
