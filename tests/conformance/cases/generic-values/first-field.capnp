@0xd5a2c5c3a0b9e8f8;
# The first-field rule with a type variable as the first field: constants fit it like AnyPointer.
struct Foo { x @0 :Int32; }
const foo :Foo = (x = 1);
const ints :List(Int32) = [1];
struct Gen(A, B) {
  a @0 :A;
  n @1 :Int32;
  g :group { ga @2 :A; gn @3 :Int8; }
  f1 @4 :Gen(A, B) = .foo;
  f2 @5 :Gen(A, B) = .ints;
  f3 @6 :Gen(A, B) = (g = .foo);
  f4 @7 :Gen(A, B) = (g = .ints);
}
