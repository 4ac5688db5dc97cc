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

# A generic interface: its client and server classes are typing.Generic in T, so a
# `Store(Text)` capability is a `Store.Client[str]` and not a `Store.Client[Holder.Reader]`.
interface Store(T) {
  put @0 (value :T) -> (count :UInt32);
  box @1 () -> (box :Box(T));
}

struct Shelf {
  textStore @0 :Store(Text);
  holderStore @1 :Store(Holder);
}
