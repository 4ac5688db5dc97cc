//! `disown(i)` on list builders, and placeholder schemas for ids a registry lacks.

mod common;

use capnp_dynamic::{Error, ListBuilder, ListValue, Registry, StructBuilder, StructValue, Value};
use common::{id, registry};

fn lb(v: Value) -> ListBuilder {
    match v {
        Value::List(ListValue::Builder(b)) => b,
        other => panic!("not a list builder: {other:?}"),
    }
}

fn sb(v: Value) -> StructBuilder {
    match v {
        Value::Struct(StructValue::Builder(b)) => b,
        other => panic!("not a struct builder: {other:?}"),
    }
}

fn text(v: Value) -> String {
    match v {
        Value::Text(t) => String::from_utf8(t).expect("utf8"),
        other => panic!("not text: {other:?}"),
    }
}

#[test]
fn disown_text_element_leaves_it_null() {
    let reg = registry();
    let root = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    let list = lb(root.init("lt", Some(2)).expect("init"));
    list.set(0, capnp_dynamic::SetValue::Str("a")).expect("a");
    list.set(1, capnp_dynamic::SetValue::Str("b")).expect("b");
    let orphan = list.disown(0).expect("disown");
    assert_eq!(text(orphan.get().expect("get")), "a");
    assert_eq!(text(list.get(0).expect("0")), "");
    assert_eq!(text(list.get(1).expect("1")), "b");
    // Back into the other slot.
    list.adopt(1, &orphan).expect("adopt");
    assert_eq!(text(list.get(1).expect("1")), "a");
}

#[test]
fn disown_struct_element_copies_and_zeroes_it() {
    let reg = registry();
    let root = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    let list = lb(root.init("ls", Some(2)).expect("init"));
    let first = sb(list.get(0).expect("0"));
    first
        .set("name", capnp_dynamic::SetValue::Str("Ann"))
        .expect("name");
    first
        .set("id", capnp_dynamic::SetValue::Int(7))
        .expect("id");
    let orphan = list.disown(-2).expect("disown");
    let held = sb(orphan.get().expect("get"));
    assert_eq!(text(held.get("name").expect("name")), "Ann");
    let zeroed = sb(list.get(0).expect("0"));
    assert!(!zeroed.has("name").expect("has"));
    assert!(matches!(zeroed.get("id").expect("id"), Value::UInt(0)));
    assert_eq!(list.len().expect("len"), 2);
}

#[test]
fn disown_rejects_bad_indexes_and_data_lists() {
    let reg = registry();
    let root = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    let texts = lb(root.init("lt", Some(1)).expect("init"));
    assert!(matches!(texts.disown(1), Err(Error::IndexOutOfRange)));
    assert!(matches!(texts.disown(-2), Err(Error::IndexOutOfRange)));
    let ints = lb(root.init("li", Some(1)).expect("init"));
    assert!(matches!(ints.disown(0), Err(Error::TypeMismatch)));
}

#[test]
fn placeholders_only_when_enabled() {
    let reg = Registry::new();
    assert!(matches!(
        reg.get_struct(42),
        Err(Error::UnknownSchema { id: 42 })
    ));
    reg.enable_placeholders();
    let s = reg.get_struct(42).expect("placeholder");
    assert_eq!(s.display_name, "(unknown type)");
    assert!(s.fields.is_empty() && !s.is_group);
    let e = reg.get_enum(43).expect("placeholder");
    assert!(e.enumerants.is_empty());
    // A known id is never a placeholder.
    let known = registry();
    known.enable_placeholders();
    let person = known.get_struct(id(&known, "Person")).expect("Person");
    assert_eq!(person.display_name, "test.capnp:Person");
}
