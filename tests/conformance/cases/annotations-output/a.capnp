@0xd5a2c5c3a0b9e8f1;
annotation baz(*) :Int32;
struct AS { a @0 :Text; b @1 :Int32 = 7; }
annotation st(file, const) :AS;
$baz(1);
$st(a = "x");                       # struct value: a = "x", b stored as 0 (7 xor 7)
$st("first");                       # first-field rule: a = "first"
const myConst :Int32 = 123 $baz(11) $st();   # $st() = all defaults
