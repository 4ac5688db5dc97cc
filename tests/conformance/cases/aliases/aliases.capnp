@0xe0a1b2c3d4e5f606;
# Aliases of every kind.
using Cxx = import "/capnp/c++.capnp";
using Lib = import "sub/lib.capnp";
using LibThing = Lib.Thing;
using import "sub/lib.capnp".Other;            # `using A.B;` form on an import
using Lib.Color;                                # `using A.B;` form
using Int = Int32;                              # alias to a built-in
using TextList = List(Text);                    # alias to a built-in application
using libConst = Lib.answer;                    # lower-case alias to a constant
using annAlias = Lib.tag;                       # alias to an annotation
using Root = .Outer;                            # absolute name

$Cxx.namespace("aliases");

struct Outer {
  using Inner2 = Inner;                         # alias to a sibling
  using DeepAlias = Inner.Deep;
  using Inner.Deep;                             # same target, `using A.B;`
  struct Inner {
    struct Deep { v @0 :Int; }
  }
  a @0 :Inner2;
  b @1 :Deep;
  k @10 :DeepAlias;
  c @2 :LibThing;
  d @3 :Other;
  e @4 :Color = green;
  f @5 :TextList;
  g @6 :Int32 = .libConst;
  h @7 :Root.Inner $annAlias("h");
  i @8 :Lib.Thing.Sub;
  j @9 :LibThing.Sub;
}

struct Gen(T, U) {
  using ParamT = T;                             # alias to a generic parameter
  using Self = Gen(T, U);
  using Swapped = Gen(U, T);
  using Bound = Gen(Text, Data);                # alias to a branded type
  using In = Inner;
  using InText = Inner(Text);
  struct Inner(V) { v @0 :V; t @1 :T; }
  p @0 :ParamT;
  s @1 :Self;
  w @2 :Swapped;
  b @3 :Bound;
  i @4 :In(Data);
  it @5 :InText;
  sp @6 :Swapped.ParamT;
}

struct UseGen {
  a @0 :Gen(Text, Data).ParamT;                 # alias of a parameter seen through a brand
  b @1 :Gen(Outer, Text).Swapped;
  c @2 :Gen(Data, Text).Bound;
  d @3 :Gen(Text, Outer).In(Data);
  e @4 :Gen(Text, Outer).InText;
  f @5 :Gen(Text, Data).Swapped.ParamT;
  g @6 :Gen.Self;
}

const viaAlias :Int = .libConst;
const viaMember :Int32 = Lib.answer;
