@0xd5a2c5c3a0b9e8f1;
struct Foo {
  a @0 :Bar;
  b @2 :Int32;
  c_d @3 :Text = 5;
}
const k :Int8 = 300;
struct lower {}
