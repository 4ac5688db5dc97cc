@0xe3b1c5a1d2f40011;

# A generic struct: its stub classes are typing.Generic in T.
struct Box(T) {
  value @0 :T;
  label @1 :Text;
}

struct Holder {
  textBox @0 :Box(Text);
  holderBox @1 :Box(Holder);
  count @2 :UInt16;
}
