@0xe0a1b2c3d4e5f604;
# Every declaration kind, with explicit and derived ids, at file level and nested.

struct Derived {}
struct Explicit @0xf1a2b3c4d5e6f708 {
  struct NestedDerived {}
  struct NestedExplicit @0xf1a2b3c4d5e6f709 {
    struct DeeperDerived {}
  }
  enum NestedEnum { a @0; }
  const nestedConst :Int32 = 1;
  annotation nestedAnn(struct) :Void;
  interface NestedIface {}
}
enum EnumDerived { a @0; b @1; }
enum EnumExplicit @0xf1a2b3c4d5e6f70a { c @0; }
enum Unordered { c @2; a @0; b @1; }
const constDerived :Int32 = 1;
const constExplicit @0xf1a2b3c4d5e6f70b :Text = "x";
annotation annDerived(*) :Void;
annotation annExplicit @0xf1a2b3c4d5e6f70c (struct, field) :Int32;
interface IfaceDerived {
  struct InIface {}
  enum InIfaceEnum { x @0; }
  const inIfaceConst :Bool = true;
  m @0 ();
}
interface IfaceExplicit @0xf1a2b3c4d5e6f70d {
  struct InIface {}
}
struct Generic(A, B) {
  struct Child {}
}
interface GenericIface(T) {}
struct MaxId @0xffffffffffffffff {}
struct MinId @0x8000000000000000 {}
