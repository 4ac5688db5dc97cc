@0xd5a2c5c3a0b9e8fa;
# Annotation values whose types are members of a generic, applied through bound and unbound brands.
struct Gen(A, B) {
  a @0 :A;
  struct Inner { a @0 :A; n @1 :Int32 = 3; }
  annotation annInner(struct, field) :Inner;
  annotation annGen(struct, field) :Gen(B, A);
  annotation annA(struct, field) :A;
  const k :Inner = (n = 9);
  const kg :Gen = ();
}
const ci :Gen.Inner = (n = 5);
const cit :Gen(Text, Text).Inner = (n = 6);
const cgtt :Gen(Text, Text) = (a = "q");
struct S $Gen.annInner(.Gen.k) $Gen(Text, Text).annGen(.cgtt) {
  a @0 :Int32 $Gen.annInner(.ci);
  b @1 :Int32 $Gen(Text, Text).annInner(.cit);
  c @2 :Int32 $Gen(Text, Text).annInner(a = "x");
  d @3 :Int32 $Gen.annInner(a = .ci);
  e @4 :Int32 $Gen.annGen(.Gen.kg);
  f @5 :Int32 $Gen.annA(.ci);
}
