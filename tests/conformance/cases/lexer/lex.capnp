﻿@0xe0a1b2c3d4e5f601;
# Lexer edge cases: escapes, backtick lines, concatenation, data literals,
# numbers in every base, integer wrap-around, comments inside lists.
﻿
const escapes :Text = "\a\b\f\n\r\t\v\'\"\\\?\x41\x7e\101\0\1\12\1234\7";
const hexCase :Text = "\xAb\xcD";
const utf8 :Text = "café € �� raw high bytes";
const concat :Text = "ab" "cd"
  "ef"   # a comment between pieces
  "gh";
const backtick :Text =
  `first line with "quotes" and \ backslash
  `second line
  `
  `after an empty one
  ;
const mixed :Text = "x" `tick
  "y";
const backtickData :Data = `raw bytes
  `two
  ;
const dataLit :Data = 0x"00 01 02
    03 04
  ff fe";
const dataTight :Data = 0x"deadbeef";
const dataOneByte :Data = 0x"7f";
const dataFromText :Data = "text as data\x00\xff";
const emptyText :Text = "";

const dec :UInt64 = 1234567890;
const hex :UInt64 = 0xdeadBEEFcafe;
const oct :UInt32 = 0777;
const octZero :UInt8 = 00;
const zero :Int8 = 0;
const maxU64 :UInt64 = 18446744073709551615;
const wrapDec :UInt64 = 18446744073709551617;
const wrapHex :UInt64 = 0x10000000000000005;
const wrapZero :UInt64 = 18446744073709551616;
const wrapOct :UInt64 = 02000000000000000000003;
const negHex :Int64 = -0x7fffffffffffffff;
const negOct :Int32 = -017;
const minI64 :Int64 = -9223372036854775808;
const floatDot :Float64 = 1.;
const floatExp :Float64 = 1e5;
const floatExpNeg :Float64 = 2e-3;
const floatExpPos :Float64 = 1E+5;
const floatFull :Float64 = 12.5e-1;
const floatLeadZero :Float64 = 0.25;
const floatNeg :Float32 = -1.5;
const floatBig :Float64 = 123456789012345678901234567890.0;

struct Nums {
  a @0x0 :Int32 = 0x10;     # ordinal written in hex
  b @01 :Int32 = 010;       # ordinal written in octal
  c @2:Int32= -2;           # few spaces around operators
  l @3 :List(Int32) = [ 1, # comment inside a list
    2 ,
    # a comment line alone in a list
    3, ];
  t @4 :List(Text) = ["a" "b", `c
    , "d"];
}
﻿
struct Tail {} ﻿ # BOMs between statements are whitespace
