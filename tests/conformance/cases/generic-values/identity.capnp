@0xd5a2c5c3a0b9e8f9;
# Which branded types are the same type when a constant meets a field (11.2, 11.4).
struct Gen(A, B) {
  a @0 :A;
  n @1 :Int32;
  inners @2 :List(Inner);
  inner @3 :Inner;
  unb @4 :Gen;
  self @5 :Gen(A, B);
  i2 @6 :Inner2(Text);
  struct Inner { a @0 :A; n @1 :Int32 = 3; self @2 :Gen(A, B); }
  struct Inner2(C) { c @0 :C; inner @1 :Inner; deep @2 :Inner2(A); }
  const k :Inner = (n = 9);
  const kg :Gen = (n = 10);
  f1 @7 :Inner = .Gen.k;
  f2 @8 :Gen = (inner = .Gen.k, unb = .Gen.kg);
  f3 @9 :Gen(A, B) = (inner = .Gen.k, self = (inner = .Gen.k));
}
const ci :Gen.Inner = (n = 5);
const cgaa :Gen(AnyPointer, AnyPointer) = (n = 6);
const cgtt :Gen(Text, Text).Inner = (n = 7);
const ci2 :Gen.Inner2(AnyPointer) = (c = .ci);
const ci2t :Gen(Text, Text).Inner2(Text) = (c = "x");
struct U {
  x @0 :Gen = (inners = [.ci], inner = .ci);
  y @1 :Gen(Text, Text) = (unb = (inners = [.ci], inner = .ci), inner = .cgtt, self = (inner = .cgtt));
  z @2 :Gen = (unb = (inners = [.ci], inner = .ci));
  w @3 :Gen = (inner = (self = .cgaa), self = .cgaa, unb = .cgaa);
  v @4 :Gen = (i2 = (inner = .ci, deep = .ci2));
  u @5 :Gen.Inner2(Text) = (inner = .ci, deep = .ci2);
  t @6 :Gen(Text, Text) = (i2 = (inner = .cgtt, deep = .ci2t), unb = (i2 = (deep = .ci2)));
  s @7 :Gen = (inner = .Gen.k, unb = .Gen.kg, self = .Gen.kg);
  r @8 :Gen(AnyPointer, AnyPointer) = (self = .cgaa, unb = .cgaa, inner = (self = .cgaa));
}
