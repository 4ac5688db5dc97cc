@0xd5a2c5c3a0b9e8f1;
annotation a(struct) :Void;
enum E $a { x @0; }
