@0xd5a2c5c3a0b9e8f1;
const Bar :Int32 = 1;
annotation Ann(*) :Void;
struct S { F @0 :Int32; G :group { x @1 :Int32; } }
enum E { A @0; }
interface I { M @0 (); }
