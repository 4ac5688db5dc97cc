@0xd5a2c5c3a0b9e8f1;
enum E { red @0; green @1; blue @2; }
struct Q {
  x @0 :Int16 = -3;
  union {
    u1 @1 :Void;
    u2 @2 :Text;
    u3 @3 :E = green;
  }
  g :group { h @4 :UInt8 = 9; i @5 :Bool = true; }
  nu :union { n1 @6 :Int32; n2 @7 :List(E); }
  const k :Int32 = 42;
}
const q1 :Q = (u3 = blue, g = (h = 1), nu = (n2 = [red, blue]));
const q2 :Q = (u2 = "s", x = .Q.k);
const q3 :Q = (g = (i = false));
const e1 :E = green;
const le :List(E) = [blue, red];
const k2 :Int32 = Q.k;
const q4 :Q = (nu = (n1 = 5), u1 = void);
struct W { f @0 :Q = (x = 1); l @1 :List(Q) = [(x = 2), ()]; t @2 :Text = "dflt";
           d @3 :Data = 0x"ff"; e @4 :E = blue; fl @5 :Float32 = 1.5; }
