@0xc0ffee0123456789;

struct Thing {
  n @0 :UInt16 = 42;
}
