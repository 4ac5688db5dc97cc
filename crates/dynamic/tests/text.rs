//! The text format (`str()`/`repr()`) of whole messages: layout, unions, groups, defaults.

mod common;

use capnp_dynamic::text::{list_text, struct_text};
use capnp_dynamic::{ListValue, SetValue, StructBuilder, StructValue, Value};
use common::{id, registry, registry_for};

fn pretty(b: &StructBuilder) -> String {
    String::from_utf8(struct_text(&b.as_reader(), true).expect("text")).expect("utf8")
}

fn flat(b: &StructBuilder) -> String {
    String::from_utf8(struct_text(&b.as_reader(), false).expect("text")).expect("utf8")
}

const CONTACTS: &str = r#"
@0xd1f4a7c2b3e59a01;
struct Contact {
  id     @0 :UInt32;
  name   @1 :Text;
  phones @2 :List(Phone);
  struct Phone {
    number @0 :Text;
    kind   @1 :Kind;
    enum Kind { cell @0; landline @1; }
  }
  status :union {
    active   @3 :Void;
    retired  @4 :Text;
  }
}
struct Mixed {
  a @0 :Int8;
  union {
    x @1 :Text;
    y @3 :Int8;
  }
  b @2 :Int8;
  c @4 :Text;
}
"#;

#[test]
fn api_examples() {
    let reg = registry_for(CONTACTS);
    let m = StructBuilder::new_message(&reg, id(&reg, "Contact")).expect("root");
    m.set("id", SetValue::Int(7)).expect("id");
    m.set("name", SetValue::Str("Ann")).expect("name");
    assert_eq!(
        pretty(&m),
        "(id = 7, name = \"Ann\", status = (active = void))"
    );
    let Value::Struct(StructValue::Builder(status)) = m.get("status").expect("status") else {
        panic!("status is a group");
    };
    status
        .set("retired", SetValue::Str("2019"))
        .expect("retired");
    assert_eq!(
        pretty(&m),
        "( id = 7,\n  name = \"Ann\",\n  status = (retired = \"2019\") )"
    );
    assert_eq!(
        flat(&m),
        "(id = 7, name = \"Ann\", status = (retired = \"2019\"))"
    );

    let m = StructBuilder::new_message(&reg, id(&reg, "Contact")).expect("root");
    let Value::List(ListValue::Builder(phones)) = m.init("phones", Some(2)).expect("init") else {
        panic!("phones is a list");
    };
    for (i, (n, k)) in [("555", "landline"), ("556", "cell")].iter().enumerate() {
        let Value::Struct(StructValue::Builder(p)) = phones.get(i as i64).expect("elem") else {
            panic!("element is a struct");
        };
        p.set("number", SetValue::Str(n)).expect("number");
        p.set("kind", SetValue::Str(k)).expect("kind");
    }
    assert_eq!(
        pretty(&m),
        "( id = 0,\n  phones = [\n    (number = \"555\", kind = landline),\n    \
         (number = \"556\", kind = cell) ],\n  status = (active = void) )"
    );
    let list =
        String::from_utf8(list_text(&phones.as_reader(), true).expect("list")).expect("utf8");
    assert_eq!(
        list,
        "[ (number = \"555\", kind = landline),\n  (number = \"556\", kind = cell) ]"
    );
}

#[test]
fn union_placement_and_omission() {
    let reg = registry_for(CONTACTS);
    let m = StructBuilder::new_message(&reg, id(&reg, "Mixed")).expect("root");
    // Member 0 is a null Text: omitted.
    assert_eq!(flat(&m), "(a = 0, b = 0)");
    m.set("y", SetValue::Int(3)).expect("y");
    // Fields are listed by ordinal: y (@3) comes after b (@2) and goes where c (@4)
    // would be, even though c is null and omitted.
    assert_eq!(flat(&m), "(a = 0, b = 0, y = 3)");
    m.set("x", SetValue::Str("")).expect("x");
    assert_eq!(flat(&m), "(a = 0, x = \"\", b = 0)");
    m.set("c", SetValue::Str("z")).expect("c");
    assert_eq!(flat(&m), "(a = 0, x = \"\", b = 0, c = \"z\")");
}

#[test]
fn every_type_and_defaults() {
    let reg = registry();
    let m = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    let empty = flat(&m);
    // Null pointers (including those with explicit defaults) are omitted; data fields
    // print even at their defaults; a group always prints.
    assert_eq!(
        empty,
        "(v = void, b = false, i8 = 0, i16 = 0, i32 = 0, i64 = 0, u8 = 0, u16 = 0, \
         u32 = 0, u64 = 0, f32 = 0, f64 = 0, e = mobile, defI = 42, defB = true, \
         defF = 1.5, defE = work, g = (x = 0))"
    );
    m.set("t", SetValue::Str("q\"\n")).expect("t");
    m.set("d", SetValue::Bytes(&[0, 0xff])).expect("d");
    m.set("f32", SetValue::Float(1.0 / 3.0)).expect("f32");
    m.set("f64", SetValue::Float(1e100)).expect("f64");
    m.set("e", SetValue::Int(9)).expect("e");
    m.init("lb", Some(2)).expect("lb");
    m.set("any", SetValue::Str("hi")).expect("any");
    let t = flat(&m);
    for part in [
        "f32 = 0.33333334,",
        "f64 = 1e100,",
        r#"t = "q\"\n","#,
        r#"d = "\000\377","#,
        "e = (9),",
        "lb = [false, false],",
        "any = <opaque pointer>,",
    ] {
        assert!(t.contains(part), "{part} not in {t}");
    }
    assert!(pretty(&m).starts_with("( v = void,\n  b = false,\n"));
}

#[test]
fn nested_lists_break_by_item_length() {
    let reg = registry();
    let m = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    let long = "x".repeat(25);
    m.set_list("lt", &[SetValue::Str("a"), SetValue::Str(&long)])
        .expect("lt");
    let Value::List(ListValue::Builder(ll)) = m.init("ll", Some(2)).expect("ll") else {
        panic!("ll is a list");
    };
    ll.init(0, 2).expect("inner");
    let t = pretty(&m);
    assert!(
        t.contains(&format!("  lt = [\n    \"a\",\n    \"{long}\" ],\n")),
        "{t}"
    );
    assert!(t.contains("  ll = [[0, 0], []],\n"), "{t}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let reg = registry();
    let root = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    let mut cur = root.clone();
    for _ in 0..1100 {
        let Value::Struct(StructValue::Builder(next)) = cur.init("s", None).expect("s") else {
            panic!("s is a struct");
        };
        cur = next;
    }
    assert!(struct_text(&root.as_reader(), true).is_err());
    // Just under the limit prints, on the test thread's small stack.
    let Value::Struct(StructValue::Builder(inner)) = root.get("s").expect("s") else {
        panic!("s is a struct");
    };
    let mut cur = inner;
    for _ in 0..900 {
        let Value::Struct(StructValue::Builder(next)) = cur.get("s").expect("s") else {
            panic!("s is a struct");
        };
        cur = next;
    }
    let text = struct_text(&cur.as_reader(), false).expect("text");
    assert_eq!(
        text.windows(5).filter(|w| w == b"s = (").count(),
        1100 - 901
    );
}
