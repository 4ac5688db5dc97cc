@0xa1b2c3d4e5f60718;

struct Other {
  bytes @0 :Data = 0x"00 ff";
}
