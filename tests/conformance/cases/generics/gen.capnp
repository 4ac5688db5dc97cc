@0xe0a1b2c3d4e5f60e;
# Generics: brands (8.4), aliases with brands (8.5), implicit method
# parameters (8.6) and generic annotations (8.7).

struct Box(Left, Right) {
  left @0 :Left;
  right @1 :Right;
  rev @2 :Box(Right, Left);
  self @3 :Box;
  partial @4 :Box(Left, Text);

  using AliasLeft = Left;
  using AliasRight = Right;
  using AliasNested = Nested;
  using AliasDeep = Nested2;
  using AliasDeepData = Nested2(Data);
  using AliasRev = Box(Right, Left);

  struct Nested {
    l @0 :Left;
    list @1 :List(Box(Right, Left));
    back @2 :Box;
  }
  struct Nested2(Extra) {
    l @0 :Left;
    e @1 :Extra;
    n @2 :Nested;
    unbound @3 :Box.Nested;
    struct Deeper {
      struct Deepest(Z) {
        z @0 :Z; e @1 :Extra; l @2 :Left;
        interface Deep {
          call @0 (a :Z) -> (b :Extra, c :Left);
        }
      }
    }
  }
  interface Service(Q) {
    call @0 (l :Left, q :Q) -> (r :Right);
    box @1 () -> (b :Box(Q, Left));
  }
  viaAliasL @5 :AliasLeft;
  viaAliasRevL @6 :AliasRev.AliasLeft;
  viaAliasN @7 :AliasNested;
  viaAliasD @8 :AliasDeepData;
  annotation tag(*) :Left;
  g :group {
    inGroup @9 :Right;
    grpNested @10 :Nested2(Text);
  }
  union {
    uLeft @11 :Left;
    uBox @12 :Box(Data, Data);
  }
}

struct Plain { v @0 :Int32; }
interface Cap {}

struct UseBox $Box(Text, Data).tag("annotated text") $Box(Plain, Text).tag(v = 3) {
  a @0 :Box(Text, Data);
  b @1 :Box(Plain, List(Plain));
  c @2 :Box(AnyPointer, Cap);
  d @3 :Box(Text, Data).Nested;
  e @4 :Box(Text, Data).Nested2(Plain);
  f @5 :Box(Text, Data).Nested2(Plain).Deeper.Deepest(Cap);
  g @6 :Box(Text, Data).Nested2(Plain).Deeper.Deepest(Cap).Deep;
  h @7 :Box.Nested2(Text);
  i @8 :Box(Text, Data).Service(Plain);
  j @9 :Box(Plain, Text).AliasLeft;
  k @10 :Box(Plain, Text).AliasNested;
  l @11 :Box(Plain, Text).AliasDeep(Data);
  m @12 :Box(Plain, Text).AliasDeepData;
  n @13 :Box(Plain, Text).AliasRev;
  o @14 :Box(Plain, Text).AliasRev.AliasLeft = "via rev";
  p @15 :Box(Text, Data).AliasRev.AliasRev;
  q @16 :Box(Box(Text, Text), Box(Data, Data));
  r @17 :List(Box(Text, Plain));
  s @18 :Box(Text, Data) = (left = "l", right = 0x"72");
  t @19 :Box;
  u @20 :Box(Text, Data).Nested = (l = "nested l");
  w @21 :Box(Cap, AnyPointer);
  x @22 :Box(Text, Data).AliasRight = 0x"00";
}

interface Implicit(V) {
  call @0 [T, U] (foo :T, bar :U, v :V) -> Box(T, U);
  list @1 [T] (a :Box(T, V)) -> (b :Box(V, T));
  plain @2 (v :V) -> (v :V);
  struct Inner(W) {
    interface Deeper { go @0 [X] (x :X, w :W, v :V) -> (x :X); }
  }
}
interface ImplicitPlain {
  call @0 [T, U] (foo :T, bar :U) -> Box(T, U);
}

struct GenericWithConst(P) {
  const c :Int32 = 5;
  const boxed :Box(Text, Data) = (left = "c");
  struct Child { p @0 :P; }
}
const useConst :Int32 = .GenericWithConst.c;
