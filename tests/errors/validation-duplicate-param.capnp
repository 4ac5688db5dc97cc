@0xd5a2c5c3a0b9e8f1;
interface I { m @0 (a :Int32, a :Int32) -> (); }
