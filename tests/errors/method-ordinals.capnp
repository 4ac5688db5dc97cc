@0xd5a2c5c3a0b9e8f1;
interface I { a @0 (); b @2 (); }
interface J { a @1 (); b @1 (); c @0 (); }
