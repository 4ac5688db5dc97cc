@0xe0a1b2c3d4e5f602;  # file doc with CRLF
# second line

struct Crlf {  # early doc
  # more
  a @0 :Int32;  # a doc
  b @1 :Text = `backtick ends before CR
    ;
  c @2 :Data = 0x"01
    02";
}
enum E { x @0; # x doc
  y @1; }
const k :Text = "k"; # k doc
# k doc 2

struct Late {
} # late doc
# late 2
