@0xe1b7c2d3a4f50617;
# Every type, unions, groups and defaults, for the convert differential tests.

struct All {
  v @0 :Void;
  b @1 :Bool;
  i8 @2 :Int8;
  i16 @3 :Int16;
  i32 @4 :Int32;
  i64 @5 :Int64;
  u8 @6 :UInt8;
  u16 @7 :UInt16;
  u32 @8 :UInt32;
  u64 @9 :UInt64;
  f32 @10 :Float32;
  f64 @11 :Float64;
  t @12 :Text;
  d @13 :Data;
  e @14 :Color;
  s @15 :All;
  li @16 :List(Int32);
  lb @17 :List(Bool);
  lt @18 :List(Text);
  ls @19 :List(All);
  ll @20 :List(List(Int16));
  le @21 :List(Color);
  ld @22 :List(Data);
  lf @23 :List(Float64);
  lv @24 :List(Void);
  lf32 @25 :List(Float32);
  lu64 @26 :List(UInt64);
  defI @27 :Int32 = 42;
  defT @28 :Text = "hello";
  defS @29 :Inner = (x = 7, name = "seven");
  defL @30 :List(UInt8) = [1, 2, 3];
  defB @31 :Bool = true;
  defF @32 :Float32 = 1.5;
  defE @33 :Color = blue;
  union {
    none @34 :Void;
    num @35 :Int32;
    text @36 :Text;
    inner @37 :Inner;
    grp :group { gx @38 :Int32; gy @39 :Text; }
  }
  named :union {
    a @40 :Void;
    bb @41 :Text;
    c @42 :List(Int8);
  }
  g :group {
    x @43 :Int32;
    y @44 :Text;
    sub :union { p @45 :Void; q @46 :UInt64; }
  }
  li64 @47 :List(Int64);
  lls @48 :List(List(Inner));
}

struct Inner {
  x @0 :Int32;
  name @1 :Text;
  union { u @2 :Void; w @3 :Float64; }
}

enum Color { red @0; green @1; blue @2; }
