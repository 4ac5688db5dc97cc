//! AnyPointer fields and roots, orphans (disown/adopt), and reading several messages from
//! one buffer or stream.

mod common;

use std::sync::Arc;

use capnp_dynamic::{
    AnyPointerValue, Error, ListValue, MessageBuilder, MessageReader, Orphan, ReadLimits, SetValue,
    StructBuilder, StructValue, Type, Value,
};
use common::{id, registry};

fn sb(v: Value) -> StructBuilder {
    match v {
        Value::Struct(StructValue::Builder(b)) => b,
        other => panic!("not a struct builder: {other:?}"),
    }
}

fn any_builder(v: Value) -> capnp_dynamic::AnyPointerBuilder {
    match v {
        Value::AnyPointer(AnyPointerValue::Builder(b)) => b,
        other => panic!("not an AnyPointer builder: {other:?}"),
    }
}

fn any_reader(v: Value) -> capnp_dynamic::AnyPointerReader {
    match v {
        Value::AnyPointer(AnyPointerValue::Reader(r)) => r,
        other => panic!("not an AnyPointer reader: {other:?}"),
    }
}

fn text(v: Value) -> String {
    match v {
        Value::Text(t) => String::from_utf8(t).expect("utf8"),
        other => panic!("not text: {other:?}"),
    }
}

fn int(v: Value) -> i64 {
    match v {
        Value::Int(i) => i,
        Value::UInt(u) => i64::try_from(u).expect("small"),
        other => panic!("not an int: {other:?}"),
    }
}

#[test]
fn any_pointer_field_as_struct_list_text() {
    let reg = registry();
    let all = id(&reg, "All");
    let person = id(&reg, "Person");
    let root = StructBuilder::new_message(&reg, all).expect("root");
    let any = any_builder(root.get("any").expect("any"));
    assert!(any.is_null().expect("null"));

    // A null pointer viewed as a struct through a builder is initialised.
    let p = any.as_struct(person).expect("as_struct");
    p.set("name", SetValue::Str("Ann")).expect("name");
    p.set("id", SetValue::Int(5)).expect("id");
    assert!(!any.is_null().expect("set"));

    let bytes = root.to_bytes().expect("bytes");
    let msg = MessageReader::from_bytes(Arc::new(bytes), ReadLimits::default()).expect("read");
    let r = msg.root(&reg, all).expect("root");
    let ar = any_reader(r.get("any").expect("any"));
    let pr = ar.as_struct(person).expect("struct");
    assert_eq!(text(pr.get("name").expect("name")), "Ann");
    assert_eq!(int(pr.get("id").expect("id")), 5);
    // Wrong kinds fail instead of mis-reading.
    assert!(ar.as_list(Type::Int32).is_err());

    // Text, then a list, replace the content.
    any.set_as_text("hello").expect("text");
    assert_eq!(any.as_text().expect("text"), b"hello");
    assert!(any.as_reader().as_struct(person).is_err());
    let l = any.init_as_list(Type::UInt16, 3).expect("list");
    l.set(2, SetValue::Int(700)).expect("elem");
    let lr = any.as_reader().as_list(Type::UInt16).expect("list view");
    assert_eq!(lr.len().expect("len"), 3);
    assert_eq!(int(lr.get(2).expect("2")), 700);
    assert_eq!(int(lr.get(0).expect("0")), 0);

    // Lists of structs, and init_as_struct zeroes.
    let ls = any
        .init_as_list(Type::Struct(person), 2)
        .expect("struct list");
    sb(ls.get(1).expect("1"))
        .set("name", SetValue::Str("B"))
        .expect("name");
    let back = any.as_list(Type::Struct(person)).expect("view");
    assert_eq!(back.len().expect("len"), 2);
    let fresh = any.init_as_struct(person).expect("init");
    assert_eq!(text(fresh.get("name").expect("name")), "");
    any.init_as_text(3).expect("init text");
    assert_eq!(any.as_text().expect("text"), vec![0, 0, 0]);
}

#[test]
fn any_pointer_set_from_values() {
    let reg = registry();
    let all = id(&reg, "All");
    let person = id(&reg, "Person");
    let root = StructBuilder::new_message(&reg, all).expect("root");

    // Field assignment: str → Text, bytes → Data, struct → deep copy.
    root.set("any", SetValue::Str("txt")).expect("str");
    assert_eq!(
        any_builder(root.get("any").expect("any"))
            .as_text()
            .expect("t"),
        b"txt"
    );
    root.set("any", SetValue::Bytes(b"\x01\x02"))
        .expect("bytes");
    assert_eq!(
        any_builder(root.get("any").expect("any"))
            .as_reader()
            .as_data()
            .expect("d"),
        vec![1, 2]
    );
    let src = StructBuilder::new_message(&reg, person).expect("person");
    src.set("name", SetValue::Str("Copied")).expect("name");
    root.set("any", SetValue::Struct(&src.as_reader()))
        .expect("struct");
    src.set("name", SetValue::Str("Changed")).expect("later");
    let got = any_builder(root.get("any").expect("any"))
        .as_struct(person)
        .expect("view");
    assert_eq!(text(got.get("name").expect("name")), "Copied");

    // AnyPointer → AnyPointer copies whatever it holds, even from the same message.
    let other = StructBuilder::new_message(&reg, all).expect("other");
    let src_any = any_builder(root.get("any").expect("any")).as_reader();
    any_builder(other.get("any").expect("any"))
        .set(SetValue::AnyPointer(&src_any))
        .expect("copy");
    let copied = any_builder(other.get("any").expect("any"))
        .as_struct(person)
        .expect("view");
    assert_eq!(text(copied.get("name").expect("name")), "Copied");
    // Into a struct-typed field too, when the content is a struct.
    root.set("defS", SetValue::AnyPointer(&src_any))
        .expect("struct field");
    assert_eq!(
        text(sb(root.get("defS").expect("s")).get("name").expect("n")),
        "Copied"
    );

    // A list into AnyPointer.
    let l = match root.init("li", Some(2)).expect("li") {
        Value::List(ListValue::Builder(l)) => l,
        other => panic!("{other:?}"),
    };
    l.set(0, SetValue::Int(9)).expect("0");
    root.set("any", SetValue::List(&l.as_reader()))
        .expect("list");
    let view = any_builder(root.get("any").expect("any"))
        .as_list(Type::Int32)
        .expect("list");
    assert_eq!(int(view.get(0).expect("0")), 9);
}

#[test]
fn root_as_any_pointer() {
    let reg = registry();
    let person = id(&reg, "Person");
    let message = MessageBuilder::new();
    let any = message.root_as_any(&reg);
    let p = any.as_struct(person).expect("root struct");
    assert!(p.is_root());
    p.set("name", SetValue::Str("Root")).expect("name");
    let reader = MessageReader::from_bytes(Arc::new(message.to_bytes()), ReadLimits::default())
        .expect("read");
    // A registry without the type cannot view it; the parser's registry can.
    let blind = reader.root_as_any(&Arc::new(capnp_dynamic::Registry::new()));
    assert!(matches!(
        blind.as_struct(person),
        Err(Error::UnknownSchema { .. })
    ));
    let r = blind
        .with_registry(reg.clone())
        .as_struct(person)
        .expect("view");
    assert_eq!(text(r.get("name").expect("name")), "Root");
    assert!(blind.as_list(Type::Int32).is_err());
}

#[test]
fn disown_and_adopt() {
    let reg = registry();
    let all = id(&reg, "All");
    let person = id(&reg, "Person");
    let root = StructBuilder::new_message(&reg, all).expect("root");
    sb(root.get("s").expect("s"))
        .set("t", SetValue::Str("inner"))
        .expect("t");
    root.set("t", SetValue::Str("text")).expect("t");

    let orphan = root.disown("s").expect("disown");
    assert!(!root.has("s").expect("has"));
    let held = sb(orphan.get().expect("get"));
    assert_eq!(text(held.get("t").expect("t")), "inner");
    held.set("i32", SetValue::Int(77)).expect("edit orphan");

    // Into another message; the orphan is spent afterwards, as are its handles.
    let other = StructBuilder::new_message(&reg, all).expect("other");
    other.adopt("s", &orphan).expect("adopt");
    assert!(orphan.is_adopted());
    let adopted = sb(other.get("s").expect("s"));
    assert_eq!(text(adopted.get("t").expect("t")), "inner");
    assert_eq!(int(adopted.get("i32").expect("i32")), 77);
    assert!(matches!(orphan.get(), Err(Error::OrphanAdopted)));
    assert!(matches!(held.get("t"), Err(Error::OrphanAdopted)));
    assert!(matches!(
        other.adopt("s", &orphan),
        Err(Error::OrphanAdopted)
    ));

    // Text orphans; type checks; non-pointer fields.
    let t = root.disown("t").expect("text");
    assert_eq!(text(t.get().expect("get")), "text");
    assert!(matches!(root.adopt("s", &t), Err(Error::TypeMismatch)));
    root.adopt("any", &t).expect("anything fits AnyPointer");
    assert_eq!(
        any_builder(root.get("any").expect("any"))
            .as_text()
            .expect("t"),
        b"text"
    );
    assert!(matches!(root.disown("i32"), Err(Error::TypeMismatch)));
    assert!(matches!(
        root.disown("nosuch"),
        Err(Error::NoSuchField { .. })
    ));

    // Union members: disowning needs the active member; adopting activates it.
    let shape = id(&reg, "Shape");
    let s = StructBuilder::new_message(&reg, shape).expect("shape");
    assert!(matches!(s.disown("sub"), Err(Error::NotInUnion)));
    let fresh = Orphan::new_struct(&reg, shape).expect("new orphan");
    sb(fresh.get().expect("get"))
        .set("name", SetValue::Str("child"))
        .expect("name");
    s.adopt("sub", &fresh).expect("adopt");
    assert_eq!(s.which().expect("which").1, "sub");
    assert_eq!(
        text(sb(s.get("sub").expect("sub")).get("name").expect("name")),
        "child"
    );

    // Lists.
    let l = match root.init("ls", Some(2)).expect("ls") {
        Value::List(ListValue::Builder(l)) => l,
        other => panic!("{other:?}"),
    };
    sb(l.get(0).expect("0"))
        .set("name", SetValue::Str("L"))
        .expect("name");
    let lo = root.disown("ls").expect("list");
    let _ = person;
    match lo.get().expect("get") {
        Value::List(ListValue::Builder(l)) => assert_eq!(l.len().expect("len"), 2),
        other => panic!("{other:?}"),
    }
    other.adopt("ls", &lo).expect("adopt list");
    assert!(other.has("ls").expect("has"));

    // Into list elements: a struct of a struct list, Text of a Text list.
    let people = match other.get("ls").expect("ls") {
        Value::List(ListValue::Builder(l)) => l,
        v => panic!("{v:?}"),
    };
    let one = Orphan::new_struct(&reg, person).expect("orphan");
    sb(one.get().expect("get"))
        .set("name", SetValue::Str("Elem"))
        .expect("name");
    people.adopt(-1, &one).expect("adopt element");
    assert_eq!(
        text(sb(people.get(1).expect("1")).get("name").expect("name")),
        "Elem"
    );
    assert!(matches!(people.adopt(0, &one), Err(Error::OrphanAdopted)));
    let t = root.disown("defT").expect("text orphan");
    assert!(matches!(people.adopt(0, &t), Err(Error::TypeMismatch)));
    let texts = match root.init("lt", Some(1)).expect("lt") {
        Value::List(ListValue::Builder(l)) => l,
        v => panic!("{v:?}"),
    };
    texts.adopt(0, &t).expect("text element");
    assert!(matches!(texts.adopt(0, &t), Err(Error::OrphanAdopted)));
    assert!(matches!(texts.adopt(0, &lo), Err(Error::TypeMismatch)));
}

#[test]
fn multiple_messages_from_bytes_and_streams() {
    let reg = registry();
    let person = id(&reg, "Person");
    let mut flat = Vec::new();
    let mut packed = Vec::new();
    for i in 0..3 {
        let p = StructBuilder::new_message(&reg, person).expect("p");
        p.set("id", SetValue::Int(i)).expect("id");
        flat.extend(p.to_bytes().expect("bytes"));
        packed.extend(p.to_bytes_packed().expect("packed"));
    }
    let limits = ReadLimits::default();
    let buf: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(flat.clone());
    let mut offset = 0;
    let mut ids = Vec::new();
    while offset < flat.len() {
        let (m, next) = MessageReader::from_bytes_at(buf.clone(), offset, limits).expect("msg");
        ids.push(int(m
            .root(&reg, person)
            .expect("root")
            .get("id")
            .expect("id")));
        offset = next;
    }
    assert_eq!(ids, [0, 1, 2]);

    let mut offset = 0;
    let mut ids = Vec::new();
    while offset < packed.len() {
        let (m, next) = MessageReader::from_bytes_packed_at(&packed, offset, limits).expect("msg");
        ids.push(int(m
            .root(&reg, person)
            .expect("root")
            .get("id")
            .expect("id")));
        offset = next;
    }
    assert_eq!(ids, [0, 1, 2]);

    // Trailing garbage is an error for buffers.
    let mut bad = flat.clone();
    bad.push(0);
    let bad: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(bad);
    assert!(MessageReader::from_bytes_at(bad, flat.len(), limits).is_err());

    // Streams: None at a clean end, an EOF error for a truncated message.
    let mut cursor = std::io::Cursor::new(flat.clone());
    let mut n = 0;
    while let Some(m) = MessageReader::read_from(&mut cursor, limits).expect("read") {
        assert_eq!(
            int(m.root(&reg, person).expect("r").get("id").expect("id")),
            n
        );
        n += 1;
    }
    assert_eq!(n, 3);
    let mut reader = std::io::BufReader::new(std::io::Cursor::new(packed.clone()));
    let mut n = 0;
    while MessageReader::read_packed_from(&mut reader, limits)
        .expect("read")
        .is_some()
    {
        n += 1;
    }
    assert_eq!(n, 3);
    let mut truncated = std::io::Cursor::new(flat[..flat.len() - 8].to_vec());
    let mut results = Vec::new();
    loop {
        match MessageReader::read_from(&mut truncated, limits) {
            Ok(Some(_)) => results.push(true),
            Ok(None) => break,
            Err(Error::Capnp(e)) => {
                assert_eq!(e.kind, capnp::ErrorKind::PrematureEndOfFile, "{e}");
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(results.len(), 2);
}
