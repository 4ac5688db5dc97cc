@0xd5a2c5c3a0b9e8f1;
interface I { m @0 (a :Text = null, b :Int32 = null) -> (); }
struct S { t @0 :Text = null; }
