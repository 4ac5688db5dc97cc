@0xd5a2c5c3a0b9e8f1;
struct G(T, U) { t @0 :T; }
struct Foo { a @0 :G(Text); b @1 :G(Text, Text, Text); c @2 :Foo(Text); }
