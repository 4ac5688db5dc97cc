@0xd5a2c5c3a0b9e8f1;
struct G(T) { t @0 :T; }
struct Foo { a @0 :G(Text)(Text); }
