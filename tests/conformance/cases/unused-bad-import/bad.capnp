@0xe0a1b2c3d4e5f62c;
struct Good { v @0 :Int32; }
struct BadOrdinals { b @0 :Nope; c @2 :Int32; }
struct BadMemberName { X @0 :Int32; under_score @1 :Int32; }
const wrongType :Int32 = "text";
const unqualified :Int32 = k;
const k :Int32 = 1;
interface BadIface extends(Good) { m @0 (a :Int32, a :Int32); }
struct BadUnion { union { a @0 :Int32; } }
annotation wrongTarget(struct) :Void;
enum BadEnum $wrongTarget { a @1; }
