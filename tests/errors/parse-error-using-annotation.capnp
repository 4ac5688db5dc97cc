@0xd5a2c5c3a0b9e8f1;
annotation a(*) :Void;
using X = Int32 $a;
