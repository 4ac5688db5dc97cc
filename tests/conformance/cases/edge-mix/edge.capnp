@0xe1a2b3c4d5e6f708;
annotation ann(*) :Int32;
annotation sann(*) :S;
const c :Int32 = 5 $ann(7);
struct S {
  a @0 :Int32 = 3;
  g :group { x @1 :Text; u :union { p @2 :UInt8; q @3 :List(Int16); } }
  l @4 :List(List(S));
  any @5 :AnyPointer;
}
const s1 :S = (a = 1, g = (x = "hi", u = (q = [1, 2])), l = [[(a = 2)], []]);
const s2 :S = (g = (u = (p = 7)));
const lf :List(Float32) = [1, 2.5, -inf, nan];
const i64 :Int64 = .c;
const f32 :Float32 = .c;
const ap :AnyPointer = .lf;
struct G(T, U) {
  t @0 :T;
  inner @1 :Inner(U);
  struct Inner(V) { v @0 :V; w @1 :U; }
  using AliasInner = Inner(Text);
  ai @2 :AliasInner;
  annotation gann(*) :T;
}
struct UseG $G(Text, Data).gann("x") {
  a @0 :G(Text, List(G(Data, Text)));
  b @1 :G(S, S).Inner(Data);
  c @2 :G(Text, Data).AliasInner;
}
interface I(T) {
  m @0 [A] (a :A, t :T) -> (r :G(A, T));
  n @1 G(T, Text) -> G(Text, T);
}
interface J extends(I(Text)) {
  s @0 (x :UInt8 $ann(3)) -> stream $ann(4);
}
struct Self { a @0 :Self = (a = (a = ())); }
