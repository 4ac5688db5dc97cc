@0xe3c1a7f2b4d59a11;
# Every kind of value the text format prints: primitives, defaults, unions, groups, nested
# lists, AnyPointer and capabilities.

struct T {
  v    @0  :Void;
  b    @1  :Bool;
  i8   @2  :Int8;
  i16  @3  :Int16;
  i32  @4  :Int32;
  i64  @5  :Int64;
  u8   @6  :UInt8;
  u16  @7  :UInt16;
  u32  @8  :UInt32;
  u64  @9  :UInt64;
  f32  @10 :Float32;
  f64  @11 :Float64;
  t    @12 :Text;
  d    @13 :Data;
  e    @14 :Color;
  s    @15 :T;
  texts   @16 :List(Text);
  datas   @17 :List(Data);
  nested  @18 :List(List(Int16));
  colors  @19 :List(Color);
  bools   @20 :List(Bool);
  voids   @21 :List(Void);
  f32s    @22 :List(Float32);
  f64s    @23 :List(Float64);
  structs @24 :List(T);
  deep    @25 :List(List(List(Text)));
  any     @26 :AnyPointer;
  cap     @27 :Cap;
  defT    @28 :Text = "dflt";
  defS    @29 :Inner = (x = 5);
  defL    @30 :List(UInt8) = [1, 2];
  defI    @31 :Int32 = -7;
  defE    @32 :Color = blue;
  u :union {
    none  @33 :Void;
    txt   @34 :Text;
    num   @35 :Int64;
    inner @36 :Inner;
    grp :group { a @37 :Int8; b @38 :Text; }
  }
  g :group { x @39 :UInt8; y @40 :List(Int8); }
  tail @41 :Int8;
}

struct Inner { x @0 :Int32; y @1 :Text; }

struct Order {
  first @0 :Int8;
  union {
    zero @1 :Text;
    late @3 :Int8;
    early @2 :Float32;
  }
  last @4 :Text;
  mid :group { m @5 :Int8; }
}

struct Empty {}

enum Color { red @0; green @1; blue @2; }

interface Cap {}
