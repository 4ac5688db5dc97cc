@0xe0a1b2c3d4e5f60d;
# Interfaces: inheritance, generics, implicit method parameters, explicit
# struct params, streaming, `= null` parameter defaults.

struct Req { a @0 :Int32; b @1 :Text; }
struct Resp(T) { value @0 :T; }
struct Pair(A, B) { first @0 :A; second @1 :B; }

interface Base {
  ping @0 ();
  echo @1 (text :Text) -> (text :Text);
}
interface Other {
  other @0 () -> (n :UInt64);
}
interface Derived extends(Base, Other) {
  more @1 Req -> Resp(Text);
  first @0 (x :Float32 = 1.5, y :List(Int8) = [1, 2]) -> Req;
}
interface Gen(T, U) extends(Base) {
  get @0 () -> (value :T);
  put @1 (value :T, extra :U) -> ();
  typed @2 Pair(T, U) -> Resp(U);
  implicit @3 [X] (x :X, t :T) -> (x :X, pair :Pair(X, T));
  implicitExplicit @4 [X, Y] Pair(X, Y) -> Pair(Y, X);
  nested @5 () -> (cap :Gen(U, T));
  struct Inside { t @0 :T; }
  inside @6 (i :Inside) -> (i :Inside);
}
interface UsesGen extends(Gen(Text, Data), Other) {
  use @0 (g :Gen(Req, Text)) -> (g :Gen(Req, Text).Inside);
}
interface Implicit {
  call @0 [T, U] (foo :T, bar :U) -> Pair(T, U);
  call2 @1 [T] (foo :T) -> (bar :T);
}
interface Streaming {
  write @0 (data :Data) -> stream;
  done @1 ();
  flush @2 () -> stream;
}
interface Defaults {
  nulls @0 (t :Text = null, d :Data = null, l :List(Int32) = null, s :Req = null,
            c :Base = null, a :AnyPointer = null, as :AnyStruct = null, al :AnyList = null,
            cp :Capability = null) -> ();
  values @1 (i :Int32 = -5, b :Bool = true, e :Color = blue, s :Req = (a = 1), t :Text = "t") -> (r :Req = (b = "r"));
}
enum Color { red @0; blue @1; }
interface Nesting {
  struct In { x @0 :Int32; }
  enum E { a @0; }
  const c :Int32 = 3;
  interface Sub { sub @0 (in :In) -> (e :E); }
  getSub @0 () -> (sub :Sub);
}
interface Ordered {
  c @2 () -> ();
  a @0 () -> ();
  b @1 () -> ();
}
interface Empty {}
struct HoldsCaps { b @0 :Base; g @1 :Gen(Text, Text); c @2 :Capability; }
