@0xd3c0a5f1e2b49c07;
# A list field of every primitive element type, one with a default, lists as union members
# and a nested struct: list assignments of numbers (tests/python/test_list_sets_differential.py).

struct NumLists {
  b   @0  :List(Bool);
  i8  @1  :List(Int8);
  i16 @2  :List(Int16);
  i32 @3  :List(Int32);
  i64 @4  :List(Int64);
  u8  @5  :List(UInt8);
  u16 @6  :List(UInt16);
  u32 @7  :List(UInt32);
  u64 @8  :List(UInt64);
  f32 @9  :List(Float32);
  f64 @10 :List(Float64);
  e   @11 :List(Color);
  v   @12 :List(Void);
  def @13 :List(Int16) = [5, 6];
  union {
    none   @14 :Void;
    ints   @15 :List(Int32);
    floats @16 :List(Float64);
  }
  inner @17 :NumLists;
  texts @18 :List(Text);
  x     @19 :Int32;
}

enum Color { red @0; green @1; blue @2; }
