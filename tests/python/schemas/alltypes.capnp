@0xb8a1e0c2d4f60a17;
# Every primitive type, defaults, nested lists and a self-recursive struct, for message tests.

struct All {
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
  s    @15 :All;
  ints    @16 :List(Int32);
  texts   @17 :List(Text);
  nested  @18 :List(List(Int16));
  colors  @19 :List(Color);
  bools   @20 :List(Bool);
  structs @21 :List(All);
  datas   @22 :List(Data);

  defI   @23 :Int32 = -7;
  defB   @24 :Bool = true;
  defF   @25 :Float64 = 1.5;
  defT   @26 :Text = "dflt";
  defE   @27 :Color = blue;
  defL   @28 :List(UInt8) = [1, 2];
  which  @29 :UInt8;
}

enum Color { red @0; green @1; blue @2; }
