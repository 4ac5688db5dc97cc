@0xd1f4a7c2b3e59a01;

const answer :UInt32 = 42;
const pi :Float32 = 3.14;
const e :Float64 = 2.718281828;
const greeting :Text = "hello";
const blob :Data = "ab\x00c";
const big :UInt64 = 18446744073709551615;
const negative :Int64 = -9223372036854775808;
const flag :Bool = true;
const nothing :Void = void;
const favourite :Contact.Phone.Kind = landline;
const alsoAnswer :UInt32 = .answer;
const numbers :List(Int32) = [1, 2, 3];

struct Contact {
  id     @0 :UInt32;
  name   @1 :Text;
  avatar @2 :Data;
  tags   @3 :List(Text);
  phones @4 :List(Phone);

  struct Phone {
    number @0 :Text;
    kind   @1 :Kind;
    enum Kind { cell @0; landline @1; fax @2; }
  }

  status :union {
    active   @5 :Void;
    retired  @6 :Text;
    employer @7 :Company;
  }
}

struct Company { title @0 :Text; boss @1 :Contact; }

struct Shape {
  union {
    circle @0 :Float64;
    square :group { side @1 :Float64; }
  }
}

struct Mixed {
  plain @0 :Int32;
  union {
    a @1 :Void;
    b @2 :Text;
  }
  info :group { x @3 :Int8; y @4 :Int8; }
}

interface Counter {
  add   @0 (amount :Int64, note :Text) -> (total :Int64);
  child @1 () -> (counter :Counter);
  const step :Int32 = 7;
}

interface NamedCounter extends(Counter) {
  name @0 () -> (name :Text);
}

enum Colour { red @0; green @1; blue @2; darkOliveGreen @3; }

annotation note(*) :Text;
