@0xd5a2c5c3a0b9e8f1;
enum E { a @0; a @1; }
interface I extends(E) { m @0 (x :Nope) -> (y :List); }
const s :Text = embed "missing.bin";
annotation ann(field) :Void;
struct S $ann { f @0 :Int32 $ann $nope; }
