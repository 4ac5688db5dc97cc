@0xd5a2c5c3a0b9e8f1;
interface I {
  m @0 (a :Int32, b :Text = "x") -> (r :Bool);
  n @1 () -> ();
  s @2 (x :UInt8) -> stream;
  t @3 P -> P;
}
struct P { p @0 :Int32; }
