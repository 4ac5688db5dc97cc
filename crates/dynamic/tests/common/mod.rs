//! Shared helpers: compile a schema string with our compiler and build a registry.

use std::path::PathBuf;
use std::sync::Arc;

use capnp_compiler::loader::MemoryFileSystem;
use capnp_dynamic::Registry;

pub(crate) const SCHEMA: &str = r#"
@0xd2b2b2b2b2b2b2b2;
struct Person {
  id @0 :UInt32;
  name @1 :Text;
  email @2 :Text;
  phones @3 :List(PhoneNumber);
  struct PhoneNumber {
    number @0 :Text;
    type @1 :Type;
    enum Type { mobile @0; home @1; work @2; }
  }
  employment :union {
    unemployed @4 :Void;
    employer @5 :Text;
    school @6 :Text;
    selfEmployed @7 :Void;
  }
  photo @8 :Data;
}
struct All {
  v @0 :Void;
  b @1 :Bool;
  i8 @2 :Int8;
  i16 @3 :Int16;
  i32 @4 :Int32;
  i64 @5 :Int64;
  u8 @6 :UInt8;
  u16 @7 :UInt16;
  u32 @8 :UInt32;
  u64 @9 :UInt64;
  f32 @10 :Float32;
  f64 @11 :Float64;
  t @12 :Text;
  d @13 :Data;
  e @14 :Person.PhoneNumber.Type;
  s @15 :All;
  li @16 :List(Int32);
  lb @17 :List(Bool);
  lt @18 :List(Text);
  ls @19 :List(Person);
  ll @20 :List(List(Int16));
  le @21 :List(Person.PhoneNumber.Type);
  ld @22 :List(Data);
  lf @23 :List(Float64);
  any @24 :AnyPointer;
  defI @25 :Int32 = 42;
  defT @26 :Text = "hello";
  defS @27 :Person = (id = 7, name = "Seven");
  defL @28 :List(UInt8) = [1, 2, 3];
  defB @29 :Bool = true;
  defF @30 :Float32 = 1.5;
  defE @31 :Person.PhoneNumber.Type = work;
  g :group { x @32 :Int32; y @33 :Text; }
}
struct Mix {
  n @0 :UInt16;
  u :union {
    ut @1 :Text;
    ud @2 :Data;
    us @3 :Mix;
    ul @4 :List(Int32);
    ulm @5 :List(Mix);
    uv @6 :Void;
  }
  t @7 :Text;
  lm @8 :List(Mix);
  p @9 :Person;
  g :group { gt @10 :Text; gs @11 :Mix; }
}
struct Shape {
  union {
    circle @0 :Float64;
    square @1 :Float64;
    empty @2 :Void;
    sub @3 :Shape;
  }
  name @4 :Text;
}
struct AddressBook {
  people @0 :List(Person);
}
"#;

pub(crate) fn registry() -> Arc<Registry> {
    registry_for(SCHEMA)
}

pub(crate) fn registry_for(text: &str) -> Arc<Registry> {
    let mut fs = MemoryFileSystem::default();
    fs.files
        .insert(PathBuf::from("/t/test.capnp"), text.as_bytes().to_vec());
    let options = capnp_compiler::CompileOptions {
        src_prefixes: vec![PathBuf::from("/t")],
        ..Default::default()
    };
    let out = capnp_compiler::compile_paths(&[PathBuf::from("/t/test.capnp")], &options, &fs)
        .expect("schema file present");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let reg = Registry::new();
    reg.add_request(&out.request.expect("request"))
        .expect("registry");
    Arc::new(reg)
}

pub(crate) fn id(reg: &Registry, name: &str) -> u64 {
    reg.find_by_display_name(&format!("test.capnp:{name}"))
        .unwrap_or_else(|| panic!("no {name}"))
}
