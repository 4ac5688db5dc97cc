//! Default values and constants of branded generic types (issue 11), without the oracle: each
//! constant of a branded type must encode exactly like the same value written for a
//! hand-substituted, non-generic mirror of that type. The conformance cases `generic-values*`
//! compare the same schemas against the reference.

use std::path::PathBuf;

use capnp::message::{Builder, ReaderOptions};
use capnp::serialize;
use capnp_compiler::loader::{Located, MemoryFileSystem, Root};
use capnp_compiler::schema_capnp::{code_generator_request, node, value};
use capnp_compiler::{compile, make_loader, CompileOptions, CompileOutput};

/// Pairs of constants `gN` (generic) and `mN` (mirror) whose values must encode identically.
const SCHEMA: &str = r#"@0xe1a2b3c4d5e6f70b;
struct Foo { x @0 :UInt32; }
interface Cap {}

struct Gen(Foo, Bar) {
  foo @0 :Foo;
  rev @1 :Gen(Bar, Foo);
  inner @2 :Inner;
  n @3 :Int16 = 4;
  using AliasFoo = Foo;
  using AliasRev = Gen(Bar, Foo);
  struct Inner { foo @0 :Foo; bar @1 :Bar; }
  struct Inner2(Baz) { baz @0 :Baz; inner @1 :Inner; }
}
struct Wrapper(T, U) { gen @0 :Gen(U, T); }
struct Holder { w @0 :Wrapper(Text, Foo); }

# Mirrors: Gen(Foo, Text), Gen(Text, Foo) and their members with the parameters substituted.
struct GenFooText { foo @0 :Foo; rev @1 :GenTextFoo; inner @2 :InnerFooText; n @3 :Int16 = 4; }
struct GenTextFoo { foo @0 :Text; rev @1 :GenFooText; inner @2 :InnerTextFoo; n @3 :Int16 = 4; }
struct InnerFooText { foo @0 :Foo; bar @1 :Text; }
struct InnerTextFoo { foo @0 :Text; bar @1 :Foo; }
struct Inner2FooTextData { baz @0 :Data; inner @1 :InnerFooText; }
struct WrapperTextFoo { gen @0 :GenFooText; }
struct HolderMirror { w @0 :WrapperTextFoo; }
struct GenAnyText { foo @0 :AnyPointer; rev @1 :GenTextAny; inner @2 :InnerAnyText; n @3 :Int16 = 4; }
struct GenTextAny { foo @0 :Text; rev @1 :GenAnyText; inner @2 :InnerTextAny; n @3 :Int16 = 4; }
struct InnerAnyText { foo @0 :AnyPointer; bar @1 :Text; }
struct InnerTextAny { foo @0 :Text; bar @1 :AnyPointer; }

const foo :Foo = (x = 77);

const g1 :Gen(Foo, Text) = (foo = (x = 123), rev = (foo = "text", rev = (foo = (x = 321))));
const m1 :GenFooText = (foo = (x = 123), rev = (foo = "text", rev = (foo = (x = 321))));
const g2 :Gen(Foo, Text).Inner2(Data) = (baz = 0x"0102", inner = (foo = (x = 5), bar = "b"));
const m2 :Inner2FooTextData = (baz = 0x"0102", inner = (foo = (x = 5), bar = "b"));
const g3 :Gen(Foo, AnyPointer).AliasFoo = (x = 7);
const m3 :Foo = (x = 7);
const g4 :Gen(Text, Foo).AliasRev = (inner = (foo = (x = 9), bar = "i"), n = -1);
const m4 :GenFooText = (inner = (foo = (x = 9), bar = "i"), n = -1);
const g5 :Holder = (w = (gen = (foo = (x = 1), rev = (foo = "r"))));
const m5 :HolderMirror = (w = (gen = (foo = (x = 1), rev = (foo = "r"))));
const g6 :Gen(AnyPointer, Text) = (foo = .foo, rev = (foo = "a", rev = (inner = (foo = .foo))));
const m6 :GenAnyText = (foo = .foo, rev = (foo = "a", rev = (inner = (foo = .foo))));
const g7 :Gen(Cap, Text) = (rev = (foo = "c"), n = 2);
const m7 :GenAnyText = (rev = (foo = "c"), n = 2);
"#;

fn compile_text(text: &str) -> CompileOutput {
    let fs = MemoryFileSystem::default();
    let loader = make_loader(&CompileOptions::default(), &fs);
    let file = Located {
        root: Root::Dir(PathBuf::from("/")),
        name: "g.capnp".into(),
        text: text.as_bytes().to_vec(),
        key: "/g.capnp".into(),
    };
    compile(&loader, vec![file])
}

/// The value of constant `name` copied alone into a fresh message, as bytes: two values with
/// the same structure give the same bytes.
fn const_bytes(request: &code_generator_request::Reader<'_>, name: &str) -> Vec<u8> {
    let wanted = format!("g.capnp:{name}");
    let node = request
        .get_nodes()
        .expect("nodes")
        .iter()
        .find(|n| n.get_display_name().ok().and_then(|t| t.to_str().ok()) == Some(&wanted))
        .unwrap_or_else(|| panic!("no node {wanted}"));
    let node::Which::Const(k) = node.which().expect("a known node kind") else {
        panic!("{name} is not a constant");
    };
    let value::Which::Struct(v) = k.get_value().expect("a value").which().expect("a kind") else {
        panic!("{name} is not a struct constant");
    };
    let mut copy = Builder::new_default();
    copy.set_root(v).expect("a copy");
    serialize::write_message_to_words(&copy)
}

#[test]
fn branded_values_encode_like_their_substituted_mirrors() {
    let out = compile_text(SCHEMA);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let bytes = out.request.expect("a request");
    let message =
        serialize::read_message(&mut &bytes[..], ReaderOptions::new()).expect("a message");
    let request: code_generator_request::Reader<'_> = message.get_root().expect("a request");
    for i in 1..=7 {
        let generic = const_bytes(&request, &format!("g{i}"));
        let mirror = const_bytes(&request, &format!("m{i}"));
        assert_eq!(generic, mirror, "g{i} and m{i} differ");
    }
}

#[test]
fn unbound_parameters_still_refuse_values() {
    let out = compile_text(
        "@0xe1a2b3c4d5e6f70c;\n\
         struct Gen(T) { t @0 :T; inner @1 :Inner; struct Inner { t @0 :T; } }\n\
         struct Inside(T) { g @0 :Gen(T) = (t = \"x\"); i @1 :Gen(T).Inner = (t = \"y\"); }\n",
    );
    assert!(out.request.is_none());
    let unbound: Vec<_> = out
        .errors
        .iter()
        .filter(|e| {
            e.message
                .contains("generic type parameter which is not yet bound")
        })
        .collect();
    assert_eq!(unbound.len(), 2, "{:?}", out.errors);
}
