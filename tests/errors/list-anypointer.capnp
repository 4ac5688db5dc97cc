@0xd5a2c5c3a0b9e8f1;
struct Foo { a @0 :List(AnyPointer); b @1 :List(AnyStruct); c @2 :List(AnyList); d @3 :List(Capability); }
