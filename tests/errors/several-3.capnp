@0xd5a2c5c3a0b9e8f1;
struct G(T) { t @0 :T; }
struct U {
  a @0 :G(Int32, Text);
  b @1 :G(Data)(Text);
  u :union { x @2 :Void; }
  g :group {}
}
const z :Float32 = "no";
