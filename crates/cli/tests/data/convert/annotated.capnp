@0xa3c5e1f20b7d9e41;
# Every /capnp/compat/json.capnp annotation, for the convert differential tests.

using Json = import "/capnp/compat/json.capnp";

struct Annotated {
  someField @0 :Text $Json.name("names-can_contain!anything Really");
  aGroup :group $Json.flatten() {
    flatFoo @1 :UInt32;
    flatBar @2 :Text;
    flatBaz :group $Json.name("renamed-flatBaz") {
      hello @3 :Bool;
    }
    doubleFlat :group $Json.flatten() {
      flatQux @4 :Text;
    }
  }
  prefixedGroup :group $Json.flatten(prefix = "pfx.") {
    foo @5 :Text;
    bar @6 :UInt32 $Json.name("renamedBar");
    baz :group {
      hello @7 :Bool;
    }
    morePrefix :group $Json.flatten(prefix = "xyz") {
      qux @8 :Text;
    }
  }
  aUnion :union $Json.flatten() $Json.discriminator(name = "union-type") {
    foo :group $Json.flatten() {
      fooMember @9 :Text;
      multiMember @10 :UInt32;
    }
    bar :group $Json.flatten() $Json.name("renamed-bar") {
      barMember @11 :UInt32;
      multiMember @12 :Text;
    }
  }
  dependency @13 :TestJsonAnnotations2;
  simpleGroup :group {
    grault @14 :Text $Json.name("renamed-grault");
  }
  enums @15 :List(TestJsonAnnotatedEnum);
  innerJson @16 :Json.Value;
  customFieldHandler @17 :Text;
  testBase64 @18 :Data $Json.base64;
  testHex @19 :Data $Json.hex;
  bUnion :union $Json.flatten() $Json.discriminator(valueName = "bValue") {
    foo @20 :Text;
    bar @21 :UInt32 $Json.name("renamed-bar");
  }
  externalUnion @22 :TestJsonAnnotations3;
  unionWithVoid :union $Json.discriminator(name = "type") {
    intValue @23 :UInt32;
    voidValue @24 :Void;
    textValue @25 :Text;
  }
  flatStruct @26 :Inner $Json.flatten(prefix = "in_");
}

struct Inner {
  x @0 :Int32;
  y @1 :Text $Json.name("why");
}

struct TestJsonAnnotations2 {
  foo @0 :Text $Json.name("renamed-foo");
  cycle @1 :Annotated;
}

struct TestJsonAnnotations3 $Json.discriminator(name = "type") {
  union {
    foo @0 :UInt32;
    bar @1 :TestFlattenedStruct $Json.flatten();
  }
}

struct TestFlattenedStruct {
  value @0 :Text;
}

enum TestJsonAnnotatedEnum {
  foo @0;
  bar @1 $Json.name("renamed-bar");
  baz @2 $Json.name("renamed-baz");
  qux @3;
}
