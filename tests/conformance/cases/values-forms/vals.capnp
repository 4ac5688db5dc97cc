@0xe0a1b2c3d4e5f608;
# Every value form of sections 11.2-11.6.

enum Color { red @0; green @1; blue @2; }

struct Prims {
  v @0 :Void = void;
  b @1 :Bool = true;
  i8 @2 :Int8 = -128;
  i16 @3 :Int16 = -32768;
  i32 @4 :Int32 = -2147483648;
  i64 @5 :Int64 = -9223372036854775808;
  u8 @6 :UInt8 = 255;
  u16 @7 :UInt16 = 65535;
  u32 @8 :UInt32 = 4294967295;
  u64 @9 :UInt64 = 18446744073709551615;
  f32 @10 :Float32 = 0.1;
  f64 @11 :Float64 = -0.0;
  e @12 :Color = blue;
  t @13 :Text = "default text";
  d @14 :Data = 0x"0a0b";
  l @15 :List(Int32) = [1, 2, 3];
  s @16 :Small = (x = 9);
  ap @17 :AnyPointer;
  negZeroInt @18 :Int32 = -0;
  paren @19 :Int32 = (7);
}

struct Small { x @0 :Int32 = 1; y @1 :Text; }
struct Self { a @0 :Self = (a = (a = ())); n @1 :UInt8 = 3; }

# Constants of every type.
const cVoid :Void = void;
const cBool :Bool = false;
const cI8 :Int8 = 127;
const cI16 :Int16 = -1;
const cI32 :Int32 = 123456;
const cI64 :Int64 = -1234567890123;
const cU8 :UInt8 = 0;
const cU16 :UInt16 = 0x8000;
const cU32 :UInt32 = 0xffffffff;
const cU64 :UInt64 = 0x8000000000000000;
const cF32 :Float32 = 3.25;
const cF64 :Float64 = 2.718281828459045;
const cEnum :Color = green;
const cText :Text = "hello";
const cData :Data = 0x"00ff";
const cStruct :Small = (x = 5, y = "five");
const cAny :AnyPointer = .cStruct;
const cAnyList :AnyPointer = .cListI32;
const cAnyStruct :AnyStruct = .cStruct;
const cAnyListKind :AnyList = .cListText;

# Lists of every element kind.
const cListVoid :List(Void) = [void, void, void];
const cListBool :List(Bool) = [true, false, false, true, true, false, true, false, true];
const cListI8 :List(Int8) = [-1, 0, 1];
const cListI16 :List(Int16) = [-300, 300];
const cListI32 :List(Int32) = [1, -1];
const cListI64 :List(Int64) = [1, -9223372036854775808];
const cListU64 :List(UInt64) = [18446744073709551615];
const cListF32 :List(Float32) = [1.5, -inf, nan];
const cListF64 :List(Float64) = [inf, -0.0, 1];
const cListText :List(Text) = ["a", "", "ccc"];
const cListData :List(Data) = [0x"01", "two", 0x"03 04"];
const cListEnum :List(Color) = [blue, red, green];
const cListStruct :List(Small) = [(x = 1), (y = "y"), ()];
const cListList :List(List(Text)) = [["a"], [], ["b", "c"]];
const cListEmpty :List(Small) = [];

# Special floats and integer-to-float conversion.
const fInf :Float64 = inf;
const fNegInf :Float64 = -inf;
const fNan :Float64 = nan;
const fNegZero :Float64 = -0.0;
const f32NegZero :Float32 = -0.0;
const f32Inf :Float32 = inf;
const f32Nan :Float32 = nan;
const f32FromInt :Float32 = 16777217;
const f32Overflow :Float32 = 1e300;
const f64FromInt :Float64 = 9007199254740993;
const f64FromNegInt :Float64 = -42;
const f32Tiny :Float32 = 1e-50;
const f64FromHex :Float64 = 0xff;

# Constant references, chains, and conversion of a constant's value.
const ref1 :Int32 = .cI32;
const ref2 :Int64 = .ref1;
const ref3 :Float64 = .cI32;
const refStruct :Small = .cStruct;
const refList :List(Int32) = .cListI32;
const refNested :Int32 = .Holder.inner;
const refImport :Int32 = import "vals-import.capnp".imported;
struct Holder { const inner :Int32 = 77; f @0 :Int32 = .Holder.inner; }

# First-field rule.
struct FirstText { a @0 :Text; b @1 :Int32 = 4; }
struct FirstGroup { g :group { a @0 :Int32; b @1 :Text; } c @2 :Bool; }
struct FirstUnion { union { a @0 :Int16; b @1 :Text; } }
struct FirstStruct { inner @0 :Small; other @1 :Int8; }
const ffText :FirstText = "via first field";
const ffGroup :FirstGroup = (g = 5);
const ffUnion :FirstUnion = 12;
const ffNested :FirstStruct = .cStruct;
const ffInList :List(FirstText) = ["p", (a = "q", b = 1)];

# Struct values: unions, groups, leftovers, repeated assignments.
struct Mix {
  x @0 :Int16 = -3;
  union {
    u1 @1 :Void;
    u2 @2 :Text;
    u3 @3 :Color = green;
    u4 @4 :UInt64 = 10;
  }
  g :group { h @5 :UInt8 = 9; i @6 :Bool = true; sub :group { j @7 :Int32 = -1; } }
  nu :union { n1 @8 :Int32 = 100; n2 @9 :List(Color); n3 @10 :Small; }
  list @11 :List(Mix);
}
const mix1 :Mix = (u3 = blue, g = (h = 1, sub = (j = 2)), nu = (n2 = [red, blue]));
const mix2 :Mix = (u2 = "s", u4 = 77);
const mix3 :Mix = (u4 = 5, u3 = red);
const mix4 :Mix = (nu = (n1 = 1, n3 = (x = 4)), x = 1, x = 2);
const mix5 :Mix = (list = [(x = 1), (u2 = "in list"), (g = (i = false))]);
const mix6 :Mix = (g = (), nu = ());
const mix7 :Mix = ();

# Defaults that are non-null but empty.
struct Empties { t @0 :Text = ""; d @1 :Data = ""; s @2 :Small = (); l @3 :List(Int8) = []; e @4 :Data = 0x"00"; }

# Interfaces in values: a struct holding an interface field keeps it null.
interface Cap {}
struct WithCap { c @0 :Cap; n @1 :Int32 = 1; }
const withCap :WithCap = (n = 2);
