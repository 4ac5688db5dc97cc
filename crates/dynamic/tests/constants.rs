//! Constants of pointer type read through `Registry::const_value`.

mod common;

use std::sync::Arc;

use capnp_dynamic::{Error, ListValue, Registry, StructValue, Value};
use common::{id, registry, registry_for};

const SCHEMA: &str = r#"
@0xe1e2e3e4e5e6e7e8;
struct Point { x @0 :Int32; y @1 :Int32; }
const corner :Point = (x = -5, y = 9);
const words :List(Text) = ["a", "bc", ""];
const matrix :List(List(Int8)) = [[1, 2], [], [3]];
const points :List(Point) = [(x = 1, y = 2), (x = 3)];
const empty :List(Int32) = [];
const answer :UInt32 = 42;
"#;

/// The id of the file-level declaration `name`.
fn const_id(reg: &Registry, name: &str) -> u64 {
    let file = reg
        .with_node(id(reg, "Point"), |n| n.get_scope_id())
        .expect("Point");
    reg.with_node(file, |n| {
        n.get_nested_nodes()
            .expect("nested")
            .iter()
            .find(|nn| nn.get_name().expect("name").to_str().expect("utf8") == name)
            .map(|nn| nn.get_id())
    })
    .expect("file")
    .unwrap_or_else(|| panic!("no {name}"))
}

fn reg() -> Arc<Registry> {
    registry_for(SCHEMA)
}

fn ints(v: Value) -> Vec<i64> {
    let Value::List(ListValue::Reader(l)) = v else {
        panic!("not a list: {v:?}")
    };
    (0..l.len().expect("len"))
        .map(|i| match l.get(i64::from(i)).expect("element") {
            Value::Int(x) => x,
            other => panic!("not an int: {other:?}"),
        })
        .collect()
}

#[test]
fn struct_constant_reads_its_fields() {
    let reg = reg();
    let Value::Struct(StructValue::Reader(r)) =
        reg.const_value(const_id(&reg, "corner")).expect("ok")
    else {
        panic!("not a struct reader")
    };
    assert_eq!(r.schema().id, id(&reg, "Point"));
    assert!(matches!(r.get("x").expect("ok"), Value::Int(-5)));
    assert!(matches!(r.get("y").expect("ok"), Value::Int(9)));
}

#[test]
fn list_constants_of_text_lists_and_structs() {
    let reg = reg();
    let Value::List(ListValue::Reader(words)) =
        reg.const_value(const_id(&reg, "words")).expect("ok")
    else {
        panic!("not a list")
    };
    let texts: Vec<Vec<u8>> = (0..words.len().expect("ok"))
        .map(|i| match words.get(i64::from(i)).expect("ok") {
            Value::Text(t) => t,
            other => panic!("not text: {other:?}"),
        })
        .collect();
    assert_eq!(texts, vec![b"a".to_vec(), b"bc".to_vec(), Vec::new()]);

    let Value::List(ListValue::Reader(matrix)) =
        reg.const_value(const_id(&reg, "matrix")).expect("ok")
    else {
        panic!("not a list")
    };
    let rows: Vec<Vec<i64>> = (0..matrix.len().expect("ok"))
        .map(|i| ints(matrix.get(i64::from(i)).expect("ok")))
        .collect();
    assert_eq!(rows, vec![vec![1, 2], vec![], vec![3]]);

    let Value::List(ListValue::Reader(points)) =
        reg.const_value(const_id(&reg, "points")).expect("ok")
    else {
        panic!("not a list")
    };
    let Value::Struct(StructValue::Reader(second)) = points.get(1).expect("ok") else {
        panic!("not a struct")
    };
    assert!(matches!(second.get("x").expect("ok"), Value::Int(3)));
    assert!(matches!(second.get("y").expect("ok"), Value::Int(0)));
    assert!(ints(reg.const_value(const_id(&reg, "empty")).expect("ok")).is_empty());
}

#[test]
fn non_pointer_constants_and_other_nodes_are_refused() {
    let reg = reg();
    assert!(matches!(
        reg.const_value(const_id(&reg, "answer")),
        Err(Error::TypeMismatch)
    ));
    assert!(matches!(
        reg.const_value(id(&reg, "Point")),
        Err(Error::TypeMismatch)
    ));
    assert!(matches!(
        reg.const_value(0x1234),
        Err(Error::UnknownSchema { id: 0x1234 })
    ));
}

#[test]
fn a_struct_node_of_another_schema_is_not_a_constant() {
    let reg = registry();
    assert!(matches!(
        reg.const_value(id(&reg, "Person")),
        Err(Error::TypeMismatch)
    ));
}
