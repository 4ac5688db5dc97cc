@0xd5a2c5c3a0b9e8f1;

# not doc
struct Foo {  # Foo doc1
  #   Foo doc2

  # stray
  a @0 :Int32;
  # a doc1
  #a doc2

  # not a doc
  b @1 :Int32; #b1
  c :group { # c doc
    d @2 :Int8;
  }
  u :union {
    e @3 :Void;
    f @4 :Void;
  } # u late
}
# Foo late (ignored since early exists)
enum E { # E doc
  x @0; # x doc
  y @1;
}
struct Bar {
} # Bar late
struct Crlf {}
# crlf doc
# two
