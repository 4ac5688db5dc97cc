@0x9703d93821ef05d8;
# Types for the micro-benchmarks (benchmarks/workloads/): one field of every kind, lists,
# unions on the root and in a group, and the large-message shapes.

enum Color {
  red @0;
  green @1;
  blue @2;
}

struct Inner {
  x @0 :Int32;
  label @1 :Text;
}

struct Fields {
  boolField @0 :Bool;
  int8Field @1 :Int8;
  int16Field @2 :Int16;
  int32Field @3 :Int32;
  int64Field @4 :Int64;
  uint8Field @5 :UInt8;
  uint16Field @6 :UInt16;
  uint32Field @7 :UInt32;
  uint64Field @8 :UInt64;
  float32Field @9 :Float32;
  float64Field @10 :Float64;
  enumField @11 :Color;
  textField @12 :Text;
  dataField @13 :Data;
  structField @14 :Inner;
  int32List @15 :List(Int32);
  structList @16 :List(Inner);
  textList @17 :List(Text);

  union {
    none @18 :Void;
    number @19 :Int32;
    name @20 :Text;
  }

  choice :group {
    union {
      nothing @21 :Void;
      count @22 :Int64;
      title @23 :Text;
    }
  }
}

# 4 words of data per element: a list of 131,072 of them is 4 MiB.
struct Item {
  id @0 :UInt64;
  value @1 :Float64;
  weight @2 :Int64;
  flags @3 :UInt32;
  kind @4 :UInt16;
}

struct ItemList {
  items @0 :List(Item);
}

struct Blob {
  payload @0 :Data;
}

# The shape of the mmap benchmark's file; run.py writes it by hand (see workloads/large.py).
struct Record {
  a @0 :UInt64;
  b @1 :UInt64;
}

struct RecordFile {
  records @0 :List(Record);
}
