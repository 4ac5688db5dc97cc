@0xe0a1b2c3d4e5f60c;
# Annotations on every target, generic annotations, struct- and list-typed values.

annotation onFile(file) :Text;
annotation onConst(const) :Int32;
annotation onEnum(enum) :Void;
annotation onEnumerant(enumerant) :UInt8;
annotation onStruct(struct) :Bool;
annotation onField(field) :Float64;
annotation onUnion(union) :Text;
annotation onGroup(group) :Int16;
annotation onInterface(interface) :Data;
annotation onMethod(method) :List(Int32);
annotation onParam(param) :Text;
annotation onAnnotation(annotation) :Void;
annotation everywhere(*) :Text;
annotation several(struct, field, enum, const) :UInt32;
annotation flag(*) :Void;

struct Cfg { name @0 :Text; level @1 :Int32 = 3; tags @2 :List(Text); sub @3 :Cfg; }
annotation cfg(*) :Cfg;
annotation cfgList(*) :List(Cfg);
annotation enumList(*) :List(Kind);
enum Kind { a @0; b @1; c @2; }
annotation kind(*) :Kind;

$onFile("file-level");
$everywhere("file too");
$cfg(name = "file", tags = ["x", "y"]);
$flag;

const k :Int32 = 1 $onConst(10) $several(3) $everywhere("const");

enum Level $onEnum $kind(b) {
  low @0 $onEnumerant(1) $flag;
  high @1 $onEnumerant(2) $everywhere("high");
}

struct Thing $onStruct(true) $several(1) $cfg(name = "thing", sub = (name = "nested", level = -1))
             $cfgList([(name = "a"), (level = 5), ()]) $enumList([c, a]) $cfg("first field") {
  f @0 :Int32 $onField(1.5) $several(2) $everywhere("f");
  u :union $onUnion("u") $everywhere("u") {
    x @1 :Void $flag;
    y @2 :Text $onField(-inf);
  }
  g :group $onGroup(-7) {
    h @3 :Bool $onField(nan);
  }
  union {
    p @4 :Int8 $kind(c);
    q @5 :UInt8;
  }
}

interface Svc $onInterface(0x"cafe") $everywhere("svc") {
  call @0 (a :Int32 $onParam("a") $flag, b :Text $everywhere("b")) -> (r :Int32 $onParam("r"))
      $onMethod([1, 2, 3]) $everywhere("call");
}

annotation annotated(struct) :Void $onAnnotation $everywhere("annotated");

struct Gen(T) {
  annotation ann(*) :T;
  annotation plain(*) :Text;
}
struct UsesGen $Gen(Text).ann("text arg") $Gen(Data).ann(0x"0102") $Gen(Cfg).ann(name = "generic struct")
               $Gen(Text).plain("p") $Gen.plain("unbranded") $Gen(List(Int32)).ann([4, 5]) {
  f @0 :Int32 $Gen(Text).ann("on field");
}

struct Self $selfAnn(1) {}
annotation selfAnn(struct) :Int32;
