//! Readers over a struct inside someone else's message (`MessageReader::over_struct_in`,
//! an RPC response read in place) and plain writes into capnp's own messages
//! (`PlainStruct`).

mod common;

use std::sync::Arc;

use capnp_dynamic::struct_::{ForeignStruct, PlainStruct};
use capnp_dynamic::{ReadLimits, SetValue, StructBuilder, Value};
use common::{id, registry};

fn text(v: Value) -> String {
    match v {
        Value::Text(t) => String::from_utf8(t).expect("utf-8"),
        other => panic!("not text: {other:?}"),
    }
}

#[test]
fn a_struct_in_shared_words_reads_as_a_root() {
    let reg = registry();
    let person = id(&reg, "Person");
    let b = StructBuilder::new_message(&reg, person).expect("new");
    b.set("id", SetValue::Int(77)).expect("id");
    b.set("name", SetValue::Str("Ada")).expect("name");
    b.set("photo", SetValue::Bytes(b"\x01\x02")).expect("photo");
    let bytes = b.to_bytes().expect("bytes");
    // One segment: the 8-byte table, then the segment's words.
    let words: Vec<capnp::Word> = bytes[8..]
        .chunks_exact(8)
        .map(|c| capnp::word(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]))
        .collect();
    let words = Arc::new(words);
    let segments = [capnp::Word::words_to_bytes(&words)];
    let message = capnp::message::Reader::new(
        capnp::message::SegmentArray::new(&segments),
        Default::default(),
    );
    let root: capnp::any_pointer::Reader<'_> = message.get_root().expect("root");
    let (addr, data_words, pointers) = ForeignStruct::of(root)
        .expect("struct")
        .position()
        .expect("pos");
    let at = (addr - words.as_ptr() as usize) / 8;
    let reader = capnp_dynamic::MessageReader::over_struct_in(
        words.clone(),
        at,
        data_words,
        pointers,
        ReadLimits::default(),
    )
    .expect("reader");
    let r = reader.root(&reg, person).expect("root reader");
    assert!(matches!(r.get("id").expect("id"), Value::UInt(77)));
    assert_eq!(text(r.get("name").expect("name")), "Ada");
    // The same struct through capnp's own reading of the message (the far pointers).
    let copy = r.as_builder().expect("copy");
    assert_eq!(text(copy.get("name").expect("name")), "Ada");
    // Through the root pointer itself (capnp follows the double-far pointer).
    let via_pointer = reader
        .root_as_any(&reg)
        .as_struct(person)
        .expect("as struct");
    assert_eq!(text(via_pointer.get("name").expect("name")), "Ada");
    assert!(matches!(
        via_pointer.get("id").expect("id"),
        Value::UInt(77)
    ));
    // A struct that does not lie in the words is refused.
    assert!(capnp_dynamic::MessageReader::over_struct_in(
        words.clone(),
        words.len(),
        data_words,
        pointers,
        ReadLimits::default()
    )
    .is_none());
}

#[test]
fn plain_fields_write_into_a_capnp_message_or_decline() {
    let reg = registry();
    let all = id(&reg, "All");
    let schema = reg.get_struct(all).expect("schema");
    let i32_ = schema.by_name["i32"];
    let t = schema.by_name["t"];
    let s = schema.by_name["s"];
    let mut m = capnp::message::Builder::new_default();
    let fields = [(i32_, SetValue::Int(-5)), (t, SetValue::Str("x"))];
    let plain = PlainStruct::prepare(&schema, &reg, &fields)
        .expect("ok")
        .expect("plain");
    plain.write(m.init_root()).expect("write");
    let bytes = capnp::serialize::write_message_to_words(&m);
    let reader = capnp_dynamic::MessageReader::from_bytes(Arc::new(bytes), ReadLimits::default())
        .expect("read");
    let r = reader.root(&reg, all).expect("root");
    assert!(matches!(r.get("i32").expect("i32"), Value::Int(-5)));
    assert_eq!(text(r.get("t").expect("t")), "x");
    // Out of range: the error of a set; a struct field: declined.
    let too_big = [(i32_, SetValue::Int(1 << 40))];
    assert!(PlainStruct::prepare(&schema, &reg, &too_big).is_err());
    let not_plain = [(s, SetValue::Int(1))];
    assert!(PlainStruct::prepare(&schema, &reg, &not_plain)
        .expect("ok")
        .is_none());
}
