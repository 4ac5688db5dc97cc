@0xd5a2c5c3a0b9e8f1;
struct Foo { x @0 :UInt32; }
struct Gen(T, U) { t @0 :T; u @1 :U; rev @2 :Gen(U, T); }
const foo :Foo = (x = 1);
const ints :List(Int32) = [1];
struct S {
  a @0 :Gen(AnyStruct, Text) = (t = .foo, u = "a", rev = (u = .foo));
  b @1 :Gen(AnyStruct, Text) = (t = (x = 1));
  c @2 :Gen(AnyStruct, Text) = (t = .ints, rev = (u = .ints));
  d @3 :Gen(AnyList, Capability) = (t = .ints, u = .foo);
  e @4 :Gen(Text, Gen(Foo, Text)) = (u = (t = "wrong"));
}
const cs :Gen(AnyStruct, Text) = (t = .foo);
