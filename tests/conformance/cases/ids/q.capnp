@0xd5a2c5c3a0b9e8f1;
struct Qux {}
enum E { a @0; }
const a :Int32 = 1;
annotation ann(*) :Void;
interface Iface {}
