@0xe0a1b2c3d4e5f605;
# Keywords are not reserved: they are valid member names.
struct Keywords {
  struct @0 :Int32;
  union @1 :Text;
  group @2 :Bool;
  enum @3 :Int8;
  const @4 :Int16;
  annotation @5 :UInt8;
  using @6 :UInt16;
  import @7 :UInt32;
  embed @8 :UInt64;
  extends @9 :Float32;
  stream @10 :Float64;
  true @11 :Bool = true;
  false @12 :Bool = false;
  void @13 :Void;
  inf @14 :Float64 = inf;
  nan @15 :Float64 = nan;
  null @16 :Data;
  interface @17 :Text;
  list @18 :List(Int32);
}
struct Shadow {
  # A nested type named like a built-in shadows the built-in.
  struct Text { v @0 :Int32; }
  t @0 :Text;
  d @1 :Data;
}
struct UsesUserList { struct List {} l @0 :List; m @1 :Keywords2.List; }
struct Keywords2 { struct List { x @0 :Int32; } }
interface Kw {
  struct @0 (union :Int32) -> (enum :Text);
  stream @1 (stream :Int32) -> ();
}
