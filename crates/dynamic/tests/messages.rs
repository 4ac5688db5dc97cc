//! Behaviour of the dynamic layer: registry, builders, readers, lists, copies, framing.

mod common;

use std::sync::Arc;

use capnp_dynamic::{
    Error, FieldKind, ListValue, MessageBuilder, MessageReader, ReadLimits, SetValue,
    StructBuilder, StructReader, StructValue, Type, Value,
};
use common::{id, registry};

fn sb(v: Value) -> StructBuilder {
    match v {
        Value::Struct(StructValue::Builder(b)) => b,
        other => panic!("not a struct builder: {other:?}"),
    }
}

fn sr(v: Value) -> StructReader {
    match v {
        Value::Struct(StructValue::Reader(r)) => r,
        other => panic!("not a struct reader: {other:?}"),
    }
}

fn int(v: Value) -> i64 {
    match v {
        Value::Int(i) => i,
        Value::UInt(u) => i64::try_from(u).expect("small"),
        other => panic!("not an int: {other:?}"),
    }
}

fn text(v: Value) -> String {
    match v {
        Value::Text(t) => String::from_utf8(t).expect("utf8"),
        other => panic!("not text: {other:?}"),
    }
}

#[test]
fn registry_tables() {
    let reg = registry();
    let person = reg.get_struct(id(&reg, "Person")).expect("Person");
    assert_eq!(person.fields.len(), 6);
    let name = person.field("name").expect("name");
    assert!(matches!(
        name.kind,
        FieldKind::Slot {
            offset: 0,
            ty: Type::Text,
            ..
        }
    ));
    let phones = person.field("phones").expect("phones");
    assert!(matches!(
        &phones.kind,
        FieldKind::Slot {
            ty: Type::List(_),
            ..
        }
    ));
    assert!(person.union.is_none());
    let emp = person.field("employment").expect("group");
    let FieldKind::Group { id: gid } = emp.kind else {
        panic!("group")
    };
    let g = reg.get_struct(gid).expect("group schema");
    assert!(g.is_group);
    let u = g.union.as_ref().expect("union");
    assert_eq!(u.members.len(), 4);
    assert_eq!(g.field("employer").expect("employer").discriminant, Some(1));
    let all = reg.get_struct(id(&reg, "All")).expect("All");
    assert!(matches!(
        all.field("defI").expect("defI").kind,
        FieldKind::Slot {
            ty: Type::Int32,
            ..
        }
    ));
    let e = reg
        .get_enum(id(&reg, "Person.PhoneNumber.Type"))
        .expect("enum");
    assert_eq!(e.enumerants, vec!["mobile", "home", "work"]);
    let dn = reg
        .with_node(id(&reg, "Person"), |n| {
            n.get_display_name().map(|t| t.to_string()).ok()
        })
        .expect("node");
    assert_eq!(
        dn.and_then(|r| r.ok()).as_deref(),
        Some("test.capnp:Person")
    );
    assert!(matches!(
        reg.get_struct(1),
        Err(Error::UnknownSchema { .. })
    ));
    assert!(reg.add_request(b"garbage!").is_err());
}

#[test]
fn primitives_round_trip_with_range_checks() {
    let reg = registry();
    let m = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    m.set("b", SetValue::Bool(true)).expect("b");
    m.set("i8", SetValue::Int(-128)).expect("i8");
    m.set("i16", SetValue::Int(-30000)).expect("i16");
    m.set("i32", SetValue::Int(-2_000_000_000)).expect("i32");
    m.set("i64", SetValue::Int(i128::from(i64::MIN)))
        .expect("i64");
    m.set("u8", SetValue::Int(255)).expect("u8");
    m.set("u16", SetValue::Float(65535.0))
        .expect("u16 from integral float");
    m.set("u32", SetValue::Int(4_000_000_000)).expect("u32");
    m.set("u64", SetValue::Int(i128::from(u64::MAX)))
        .expect("u64");
    m.set("f32", SetValue::Float(1.1)).expect("f32");
    m.set("f64", SetValue::Int(3)).expect("f64 from int");
    m.set("v", SetValue::Void).expect("void");
    assert!(matches!(m.get("b").expect("b"), Value::Bool(true)));
    assert_eq!(int(m.get("i8").expect("i8")), -128);
    assert_eq!(int(m.get("i16").expect("")), -30000);
    assert_eq!(int(m.get("i32").expect("")), -2_000_000_000);
    assert!(matches!(m.get("i64").expect(""), Value::Int(i64::MIN)));
    assert_eq!(int(m.get("u8").expect("")), 255);
    assert_eq!(int(m.get("u16").expect("")), 65535);
    assert_eq!(int(m.get("u32").expect("")), 4_000_000_000);
    assert!(matches!(m.get("u64").expect(""), Value::UInt(u64::MAX)));
    let Value::Float(f) = m.get("f32").expect("") else {
        panic!()
    };
    assert_eq!(f, f64::from(1.1f32));
    assert!(matches!(m.get("f64").expect(""), Value::Float(x) if x == 3.0));
    assert!(matches!(m.get("v").expect(""), Value::Void));

    assert!(matches!(
        m.set("i8", SetValue::Int(128)),
        Err(Error::OutOfRange { .. })
    ));
    assert!(matches!(
        m.set("u8", SetValue::Int(-1)),
        Err(Error::OutOfRange { .. })
    ));
    assert!(matches!(
        m.set("u64", SetValue::Int(-1)),
        Err(Error::OutOfRange { .. })
    ));
    assert!(matches!(
        m.set("i32", SetValue::Float(1.5)),
        Err(Error::OutOfRange { .. })
    ));
    assert!(matches!(
        m.set("i32", SetValue::Bool(true)),
        Err(Error::TypeMismatch)
    ));
    assert!(matches!(
        m.set("b", SetValue::Int(1)),
        Err(Error::TypeMismatch)
    ));
    assert!(matches!(
        m.set("t", SetValue::Int(5)),
        Err(Error::TypeMismatch)
    ));
    assert!(matches!(
        m.set("i32", SetValue::Str("abc")),
        Err(Error::TypeMismatch)
    ));
    assert!(matches!(
        m.set("t", SetValue::Void),
        Err(Error::TypeMismatch)
    ));
    assert!(matches!(m.get("nope"), Err(Error::NoSuchField { .. })));
    assert_eq!(
        m.set("nope", SetValue::Void)
            .err()
            .map(|e| e.to_string())
            .as_deref(),
        Some("struct has no such member; name = nope")
    );
    // The failed writes left the values alone.
    assert_eq!(int(m.get("i8").expect("")), -128);
}

#[test]
fn text_data_enum_and_defaults() {
    let reg = registry();
    let m = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    // Schema defaults before anything is written.
    assert_eq!(int(m.get("defI").expect("")), 42);
    assert!(matches!(m.get("defB").expect(""), Value::Bool(true)));
    assert!(matches!(m.get("defF").expect(""), Value::Float(x) if x == 1.5));
    assert!(matches!(m.get("defE").expect(""), Value::Enum(2)));
    assert!(!m.has("defT").expect("has"));
    assert_eq!(text(m.get("defT").expect("")), "hello");
    // A builder read copies an explicit pointer default in (API.md 3.2).
    assert!(m.has("defT").expect("has"));
    let s = sb(m.get("defS").expect("defS"));
    assert_eq!(int(s.get("id").expect("")), 7);
    assert_eq!(text(s.get("name").expect("")), "Seven");
    // Null Text without explicit default reads empty and is not allocated.
    assert_eq!(text(m.get("t").expect("")), "");
    assert!(!m.has("t").expect(""));

    m.set("defI", SetValue::Int(0)).expect("zero");
    assert_eq!(int(m.get("defI").expect("")), 0);
    m.set("t", SetValue::Str("f\0oo")).expect("t");
    assert_eq!(text(m.get("t").expect("")), "f\0oo");
    m.set("t", SetValue::Bytes(b"raw")).expect("t bytes");
    assert_eq!(text(m.get("t").expect("")), "raw");
    m.set("d", SetValue::Bytes(&[0, 1, 2])).expect("d");
    assert!(matches!(m.get("d").expect(""), Value::Data(d) if d == vec![0, 1, 2]));
    m.set("d", SetValue::Str("é")).expect("d from str");
    assert!(matches!(m.get("d").expect(""), Value::Data(d) if d == "é".as_bytes()));

    m.set("e", SetValue::Str("home")).expect("by name");
    assert!(matches!(m.get("e").expect(""), Value::Enum(1)));
    m.set("e", SetValue::Int(7)).expect("unnamed ordinal");
    assert!(matches!(m.get("e").expect(""), Value::Enum(7)));
    assert!(matches!(
        m.set("e", SetValue::Int(70000)),
        Err(Error::OutOfRange { .. })
    ));
    let err = m.set("e", SetValue::Str("fax")).expect_err("bad name");
    assert_eq!(err.to_string(), "enum has no such enumerant; name = fax");
    let eid = id(&reg, "Person.PhoneNumber.Type");
    let schema = reg.get_enum(eid).expect("enum schema");
    m.set(
        "e",
        SetValue::Enum {
            id: eid,
            ordinal: 2,
            schema: &schema,
        },
    )
    .expect("enum value");
    assert!(matches!(m.get("e").expect(""), Value::Enum(2)));
    assert!(matches!(
        m.set(
            "e",
            SetValue::Enum {
                id: 5,
                ordinal: 2,
                schema: &schema,
            }
        ),
        Err(Error::TypeMismatch)
    ));
    // The same enum of another registry (another parser's load of the same file) is not
    // this one's.
    let other = common::registry();
    let other_schema = other.get_enum(eid).expect("enum schema");
    assert!(matches!(
        m.set(
            "e",
            SetValue::Enum {
                id: eid,
                ordinal: 2,
                schema: &other_schema,
            }
        ),
        Err(Error::TypeMismatch)
    ));

    // Defaults also apply on readers of a fresh message.
    let r = MessageReader::from_bytes(
        Arc::new(
            StructBuilder::new_message(&reg, id(&reg, "All"))
                .expect("")
                .to_bytes()
                .expect("bytes"),
        ),
        ReadLimits::default(),
    )
    .expect("read")
    .root(&reg, id(&reg, "All"))
    .expect("root");
    assert_eq!(text(r.get("defT").expect("")), "hello");
    assert_eq!(
        text(sr(r.get("defS").expect("")).get("name").expect("")),
        "Seven"
    );
    let ListValue::Reader(l) = (match r.get("defL").expect("") {
        Value::List(l) => l,
        _ => panic!(),
    }) else {
        panic!()
    };
    assert_eq!(l.len().expect(""), 3);
    assert_eq!(int(l.get(2).expect("")), 3);
    assert!(!r.has("defL").expect(""));
}

#[test]
fn unions_and_groups() {
    let reg = registry();
    let p = StructBuilder::new_message(&reg, id(&reg, "Person")).expect("root");
    let emp = sb(p.get("employment").expect("group"));
    assert_eq!(emp.which().expect("which").1, "unemployed");
    assert!(emp.has("unemployed").expect(""));
    assert!(!emp.has("employer").expect(""));
    assert!(matches!(emp.get("employer"), Err(Error::NotInUnion)));
    emp.set("employer", SetValue::Str("ACME"))
        .expect("set member");
    assert_eq!(emp.which().expect("").1, "employer");
    assert_eq!(text(emp.get("employer").expect("")), "ACME");
    assert!(matches!(emp.get("unemployed"), Err(Error::NotInUnion)));
    emp.set("selfEmployed", SetValue::Void)
        .expect("void member");
    assert_eq!(emp.which().expect("").0, 3);
    assert!(matches!(p.which(), Err(Error::NotAUnion)));
    assert_eq!(
        p.which().expect_err("").to_string(),
        "Attempted to call which on a non-union type"
    );

    let s = StructBuilder::new_message(&reg, id(&reg, "Shape")).expect("root");
    assert_eq!(s.which().expect("").1, "circle");
    s.set("square", SetValue::Float(2.0)).expect("square");
    assert_eq!(s.which().expect("").1, "square");
    assert!(matches!(s.get("sub"), Err(Error::NotInUnion)));
    let sub = sb(s.init("sub", None).expect("init member"));
    assert_eq!(s.which().expect("").1, "sub");
    sub.set("circle", SetValue::Float(1.0)).expect("nested");
    assert!(s.has("sub").expect(""));

    // Groups write into the parent struct.
    let a = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    let g = sb(a.get("g").expect("g"));
    g.set("x", SetValue::Int(5)).expect("x");
    g.set("y", SetValue::Str("why")).expect("y");
    assert_eq!(int(sb(a.get("g").expect("")).get("x").expect("")), 5);
    let g2 = sb(a.init("g", None).expect("init group clears"));
    assert_eq!(int(g2.get("x").expect("")), 0);
    assert!(!g2.has("y").expect(""));
}

#[test]
fn init_rules() {
    let reg = registry();
    let m = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    assert!(matches!(m.init("li", None), Err(Error::InitWithoutSize)));
    assert!(matches!(m.init("s", Some(3)), Err(Error::InitWithSize)));
    assert!(matches!(m.init("i32", None), Err(Error::InitWithoutSize)));
    assert!(matches!(m.init("i32", Some(1)), Err(Error::InitWithSize)));
    assert_eq!(
        m.init("li", None).expect_err("").to_string(),
        "init() without a size is only valid for struct and object fields"
    );
    assert!(matches!(m.init("t", Some(3)).expect("text"), Value::Text(t) if t == vec![0, 0, 0]));
    assert_eq!(text(m.get("t").expect("")), "\0\0\0");
    assert!(matches!(m.init("d", Some(2)).expect("data"), Value::Data(d) if d.len() == 2));
    let s = sb(m.init("s", None).expect("struct"));
    s.set("i32", SetValue::Int(9)).expect("");
    assert_eq!(int(sb(m.get("s").expect("")).get("i32").expect("")), 9);
    // Re-init abandons the old content.
    let s2 = sb(m.init("s", None).expect("struct"));
    assert_eq!(int(s2.get("i32").expect("")), 0);
    // Getting a null struct field on a builder allocates it.
    let fresh = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    assert!(!fresh.has("s").expect(""));
    let _ = fresh.get("s").expect("");
    assert!(fresh.has("s").expect(""));
}

fn lb(v: Value) -> capnp_dynamic::ListBuilder {
    match v {
        Value::List(ListValue::Builder(l)) => l,
        other => panic!("not a list builder: {other:?}"),
    }
}

fn lr(v: Value) -> capnp_dynamic::ListReader {
    match v {
        Value::List(ListValue::Reader(l)) => l,
        other => panic!("not a list reader: {other:?}"),
    }
}

#[test]
fn lists_of_every_kind() {
    let reg = registry();
    let m = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    m.set_list(
        "li",
        &[SetValue::Int(1), SetValue::Int(-2), SetValue::Int(3)],
    )
    .expect("li");
    m.set_list(
        "lb",
        &[
            SetValue::Bool(true),
            SetValue::Bool(false),
            SetValue::Bool(true),
        ],
    )
    .expect("lb");
    m.set_list("lt", &[SetValue::Str("a"), SetValue::Bytes(b"bc")])
        .expect("lt");
    m.set_list("le", &[SetValue::Str("work"), SetValue::Int(1)])
        .expect("le");
    m.set_list("ld", &[SetValue::Bytes(&[9])]).expect("ld");
    m.set_list("lf", &[SetValue::Float(0.5), SetValue::Int(2)])
        .expect("lf");
    let li = lb(m.get("li").expect(""));
    assert_eq!(li.len().expect(""), 3);
    assert_eq!(int(li.get(1).expect("")), -2);
    assert_eq!(int(li.get(-1).expect("")), 3);
    assert!(matches!(li.get(3), Err(Error::IndexOutOfRange)));
    assert!(matches!(li.get(-4), Err(Error::IndexOutOfRange)));
    assert!(matches!(
        li.set(0, SetValue::Int(1 << 40)),
        Err(Error::OutOfRange { .. })
    ));
    li.set(0, SetValue::Int(10)).expect("set");
    assert_eq!(int(li.get(0).expect("")), 10);
    let lbool = lb(m.get("lb").expect(""));
    assert!(matches!(lbool.get(2).expect(""), Value::Bool(true)));
    assert!(matches!(lbool.get(1).expect(""), Value::Bool(false)));
    assert_eq!(text(lb(m.get("lt").expect("")).get(1).expect("")), "bc");
    assert!(matches!(
        lb(m.get("le").expect("")).get(0).expect(""),
        Value::Enum(2)
    ));
    assert!(matches!(lb(m.get("ld").expect("")).get(0).expect(""), Value::Data(d) if d == vec![9]));
    assert!(matches!(lb(m.get("lf").expect("")).get(1).expect(""), Value::Float(x) if x == 2.0));

    // Struct lists: elements are views; writes through them land in the list.
    let ls = lb(m.init("ls", Some(2)).expect("ls"));
    let alice = sb(ls.get(0).expect(""));
    let bob = sb(ls.get(1).expect(""));
    alice.set("name", SetValue::Str("Alice")).expect("");
    bob.set("name", SetValue::Str("Bob")).expect("");
    drop(ls);
    let ls = lb(m.get("ls").expect(""));
    assert_eq!(
        text(sb(ls.get(0).expect("")).get("name").expect("")),
        "Alice"
    );
    assert_eq!(text(sb(ls.get(1).expect("")).get("name").expect("")), "Bob");
    // Struct copy into an element (from the same message).
    ls.set(1, SetValue::Struct(&alice.as_reader()))
        .expect("copy");
    assert_eq!(
        text(sb(ls.get(1).expect("")).get("name").expect("")),
        "Alice"
    );
    assert!(matches!(
        ls.set(0, SetValue::Int(1)),
        Err(Error::TypeMismatch)
    ));

    // Nested lists.
    let ll = lb(m.init("ll", Some(2)).expect("ll"));
    let inner = lb(ll.init(0, 3).expect("inner"));
    inner.set(2, SetValue::Int(-7)).expect("");
    assert_eq!(
        int(lb(lb(m.get("ll").expect("")).get(0).expect(""))
            .get(2)
            .expect("")),
        -7
    );
    assert_eq!(lb(ll.get(1).expect("")).len().expect(""), 0);

    // Reading everything back from bytes.
    let bytes = m.to_bytes().expect("bytes");
    let r = MessageReader::from_bytes(Arc::new(bytes), ReadLimits::default())
        .expect("read")
        .root(&reg, id(&reg, "All"))
        .expect("root");
    let li = lr(r.get("li").expect(""));
    assert_eq!(int(li.get(0).expect("")), 10);
    let ls = lr(r.get("ls").expect(""));
    assert_eq!(
        text(sr(ls.get(1).expect("")).get("name").expect("")),
        "Alice"
    );
    let ll = lr(r.get("ll").expect(""));
    assert_eq!(int(lr(ll.get(0).expect("")).get(2).expect("")), -7);
    assert!(matches!(
        lr(r.get("lb").expect("")).get(0).expect(""),
        Value::Bool(true)
    ));
    // List copy into a field of another message.
    let other = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    other.set("ls", SetValue::List(&ls)).expect("list copy");
    assert_eq!(lb(other.get("ls").expect("")).len().expect(""), 2);
    assert!(matches!(
        other.set("li", SetValue::List(&ls)),
        Err(Error::TypeMismatch)
    ));
}

#[test]
fn framing_packing_segments_and_copies() {
    let reg = registry();
    let pid = id(&reg, "Person");
    let p = StructBuilder::new_message(&reg, pid).expect("root");
    p.set("id", SetValue::Int(123)).expect("");
    p.set("name", SetValue::Str("Ann")).expect("");
    let phones = lb(p.init("phones", Some(1)).expect(""));
    sb(phones.get(0).expect(""))
        .set("number", SetValue::Str("555"))
        .expect("");

    let bytes = p.to_bytes().expect("bytes");
    let packed = p.to_bytes_packed().expect("packed");
    let segs = p.to_segments().expect("segments");
    assert!(packed.len() < bytes.len());
    for r in [
        MessageReader::from_bytes(Arc::new(bytes.clone()), ReadLimits::default()).expect("bytes"),
        MessageReader::from_bytes_packed(&packed, ReadLimits::default()).expect("packed"),
        MessageReader::from_segments(
            segs.into_iter()
                .map(|s| Arc::new(s) as Arc<dyn AsRef<[u8]> + Send + Sync>)
                .collect(),
            ReadLimits::default(),
        )
        .expect("segments"),
    ] {
        let root = r.root(&reg, pid).expect("root");
        assert_eq!(int(root.get("id").expect("")), 123);
        assert_eq!(text(root.get("name").expect("")), "Ann");
        let phones = lr(root.get("phones").expect(""));
        assert_eq!(
            text(sr(phones.get(0).expect("")).get("number").expect("")),
            "555"
        );
    }

    // Unaligned input is copied and still reads.
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(&bytes);
    struct Tail(Vec<u8>);
    impl AsRef<[u8]> for Tail {
        fn as_ref(&self) -> &[u8] {
            &self.0[1..]
        }
    }
    let r = MessageReader::from_bytes(Arc::new(Tail(shifted)), ReadLimits::default())
        .expect("unaligned");
    assert_eq!(int(r.root(&reg, pid).expect("").get("id").expect("")), 123);

    // as_reader sees later writes; as_builder/copy are independent.
    let view = p.as_reader();
    p.set("id", SetValue::Int(5)).expect("");
    assert_eq!(int(view.get("id").expect("")), 5);
    let copy = p.copy().expect("copy");
    copy.set("id", SetValue::Int(6)).expect("");
    assert_eq!(int(p.get("id").expect("")), 5);
    assert_eq!(text(copy.get("name").expect("")), "Ann");
    let rb = MessageReader::from_bytes(Arc::new(bytes), ReadLimits::default())
        .expect("")
        .root(&reg, pid)
        .expect("")
        .as_builder()
        .expect("as_builder");
    assert!(rb.is_root());
    assert_eq!(int(rb.get("id").expect("")), 123);

    // total_size counts the struct and everything below it.
    let size = p.total_size().expect("size");
    assert!(size.word_count >= 5, "{}", size.word_count);
    assert_eq!(size.cap_count, 0);

    // Only the root serializes.
    let child = sb(phones.get(0).expect(""));
    assert!(matches!(child.to_bytes(), Err(Error::NotRoot)));

    // Struct copy into a field: same schema required, overlap-safe.
    let a = StructBuilder::new_message(&reg, id(&reg, "All")).expect("");
    let s = sb(a.init("s", None).expect(""));
    s.set("i32", SetValue::Int(77)).expect("");
    let inner = sb(s.init("s", None).expect(""));
    inner.set("t", SetValue::Str("deep")).expect("");
    // Parent into its own child.
    s.set("s", SetValue::Struct(&s.as_reader()))
        .expect("self copy");
    let ss = sb(s.get("s").expect(""));
    assert_eq!(int(ss.get("i32").expect("")), 77);
    assert_eq!(text(sb(ss.get("s").expect("")).get("t").expect("")), "deep");
    assert!(matches!(
        a.set("s", SetValue::Struct(&p.as_reader())),
        Err(Error::TypeMismatch)
    ));
    // Handles survive dropping the parent.
    drop(a);
    assert_eq!(int(s.get("i32").expect("")), 77);
}

#[test]
fn malformed_and_limits() {
    let reg = registry();
    let pid = id(&reg, "Person");
    let lim = ReadLimits::default();
    assert!(matches!(
        MessageReader::from_bytes(Arc::new(vec![0u8; 7]), lim),
        Err(Error::UnalignedLength)
    ));
    assert!(MessageReader::from_bytes(Arc::new(Vec::<u8>::new()), lim).is_err());
    // Segment table claims more than there is.
    let mut bad = vec![0u8; 8];
    bad[4] = 10;
    let err = MessageReader::from_bytes(Arc::new(bad), lim).expect_err("short");
    assert!(
        err.to_string().contains("Message ends prematurely"),
        "{err}"
    );
    assert!(MessageReader::from_segments(vec![], lim).is_err());
    assert!(MessageReader::from_bytes_packed(&[0x10], lim).is_err());

    // A Text pointer whose content lacks the NUL.
    let p = StructBuilder::new_message(&reg, pid).expect("");
    p.set("name", SetValue::Str("abc")).expect("");
    let mut bytes = p.to_bytes().expect("");
    let n = bytes.len();
    // Text "abc\0" is the last word; overwrite the NUL.
    bytes[n - 5] = b'x';
    let root = MessageReader::from_bytes(Arc::new(bytes), lim)
        .expect("")
        .root(&reg, pid)
        .expect("");
    assert!(matches!(root.get("name"), Err(Error::Capnp(_))));

    // Traversal limit: every access is charged.
    let a = StructBuilder::new_message(&reg, id(&reg, "All")).expect("");
    a.init("li", Some(1000)).expect("");
    let bytes = a.to_bytes().expect("");
    let tight = ReadLimits {
        traversal_limit_in_words: Some(2000),
        nesting_limit: None,
    };
    let r = MessageReader::from_bytes(Arc::new(bytes), tight)
        .expect("")
        .root(&reg, id(&reg, "All"))
        .expect("");
    let mut failed = None;
    for i in 0..100 {
        if let Err(e) = r.get("li") {
            failed = Some((i, e));
            break;
        }
    }
    let (i, e) = failed.expect("limit reached");
    assert!(i > 0 && i < 10, "{i}");
    // capnp-rust words it "Read limit exceeded"; the reference says "Exceeded message traversal limit".
    assert!(e.to_string().contains("limit"), "{e}");

    // Nesting limit.
    let s = StructBuilder::new_message(&reg, id(&reg, "Shape")).expect("");
    let mut cur = s.clone();
    for _ in 0..10 {
        cur = sb(cur.init("sub", None).expect(""));
    }
    let bytes = s.to_bytes().expect("");
    let shallow = ReadLimits {
        traversal_limit_in_words: None,
        nesting_limit: Some(4),
    };
    let mut r = MessageReader::from_bytes(Arc::new(bytes), shallow)
        .expect("")
        .root(&reg, id(&reg, "Shape"))
        .expect("");
    let mut err = None;
    for _ in 0..10 {
        match r.get("sub") {
            Ok(v) => r = sr(v),
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let e = err.expect("nesting limit hit");
    assert!(e.to_string().contains("nest"), "{e}");
}

#[test]
fn handles_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<StructBuilder>();
    check::<StructReader>();
    check::<capnp_dynamic::ListBuilder>();
    check::<capnp_dynamic::ListReader>();
    check::<capnp_dynamic::Registry>();
}

/// A struct assignment copies straight from a reader's bytes or another builder (no snapshot),
/// with the bytes a snapshot copy writes; opposite copies between two messages on two threads
/// take the two locks in one order (`lock_pair`) and finish.
#[test]
fn struct_assignment_direct_and_through_snapshot_agree() {
    let reg = registry();
    let all = id(&reg, "All");
    let src = StructBuilder::new_message(&reg, all).expect("root");
    src.set("i32", SetValue::Int(-7)).expect("");
    src.set("t", SetValue::Str("outer")).expect("");
    let inner = sb(src.init("s", None).expect("s"));
    inner.set("t", SetValue::Str("inner")).expect("");
    let li = lb(inner.init("li", Some(3)).expect("li"));
    li.set(2, SetValue::Int(9)).expect("");
    let ls = lb(src.init("ls", Some(2)).expect("ls"));
    sb(ls.get(1).expect(""))
        .set("name", SetValue::Str("p"))
        .expect("");
    lb(src.init("li", Some(2)).expect("li"))
        .set(1, SetValue::Int(5))
        .expect("");
    let bytes = src.to_bytes().expect("bytes");
    let reader = MessageReader::from_bytes(Arc::new(bytes), ReadLimits::default())
        .expect("reader")
        .root(&reg, all)
        .expect("root");

    let copy_with = |source: &StructReader| {
        let dest = StructBuilder::new_message(&reg, all).expect("root");
        dest.set("u8", SetValue::Int(1)).expect("");
        dest.set("s", SetValue::Struct(source)).expect("set");
        dest.to_bytes().expect("bytes")
    };
    let from_builder = copy_with(&src.as_reader());
    let from_reader = copy_with(&reader);
    // A source with a capability context takes the snapshot.
    let snap_src = StructBuilder::new_message(&reg, all).expect("root");
    snap_src
        .set("s", SetValue::Struct(&src.as_reader()))
        .expect("");
    snap_src.message().enable_caps();
    let via_snapshot = copy_with(&sr(snap_src.as_reader().get("s").expect("s")));
    assert_eq!(from_builder, via_snapshot);
    assert_eq!(from_reader, via_snapshot);
    // Lists: from another builder directly, from a reader or a source with a capability
    // context through the snapshot; the same bytes.
    let list_with = |source: &capnp_dynamic::ListReader, field: &str| {
        let dest = StructBuilder::new_message(&reg, all).expect("root");
        dest.set(field, SetValue::List(source)).expect("set");
        dest.to_bytes().expect("bytes")
    };
    for field in ["li", "ls"] {
        let direct = list_with(&lr(src.as_reader().get(field).expect("")), field);
        assert_eq!(direct, list_with(&lr(reader.get(field).expect("")), field));
        assert_eq!(
            direct,
            list_with(
                &lr(snap_src
                    .as_reader()
                    .get("s")
                    .map(sr)
                    .expect("")
                    .get(field)
                    .expect("")),
                field
            )
        );
    }
    // Into itself (the snapshot path): a copy of the root into its own child.
    src.set("s", SetValue::Struct(&src.as_reader()))
        .expect("self");
    assert_eq!(
        text(
            sr(sr(src.as_reader().get("s").expect("")).get("s").expect(""))
                .get("t")
                .expect("")
        ),
        "inner"
    );

    let a = StructBuilder::new_message(&reg, all).expect("a");
    let b = StructBuilder::new_message(&reg, all).expect("b");
    for m in [&a, &b] {
        sb(m.init("defS", None).expect(""))
            .set("name", SetValue::Str("x"))
            .expect("");
    }
    let (a_src, b_src) = (
        sr(a.as_reader().get("defS").expect("")),
        sr(b.as_reader().get("defS").expect("")),
    );
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..50_000 {
                b.set("defS", SetValue::Struct(&a_src)).expect("a to b");
            }
        });
        scope.spawn(|| {
            for _ in 0..50_000 {
                a.set("defS", SetValue::Struct(&b_src)).expect("b to a");
            }
        });
    });
    assert_eq!(
        text(
            sr(b.as_reader().get("defS").expect(""))
                .get("name")
                .expect("")
        ),
        "x"
    );
}

/// `with_framed`'s pieces, written one after the other, are `to_bytes` (capnp's
/// `write_message`) for one segment and for many (odd and even counts: the table's padding).
#[test]
fn framed_pieces_are_the_standard_framing() {
    let reg = registry();
    let pid = id(&reg, "Person");
    for (words, names) in [(1024, 1), (1, 1), (1, 2), (1, 3), (1, 6), (1, 40)] {
        let p = MessageBuilder::with_first_segment_words(words)
            .init_root(&reg, pid)
            .expect("root");
        p.set("id", SetValue::Int(9)).expect("");
        let phones = lb(p.init("phones", Some(names)).expect(""));
        for i in 0..names {
            sb(phones.get(i64::from(i)).expect(""))
                .set("number", SetValue::Str(&"5".repeat(i as usize * 9 + 1)))
                .expect("");
        }
        let joined = p
            .with_framed(|table, segments| {
                assert_eq!(table.len(), (segments.len() / 2 + 1) * 8);
                let mut out = table.to_vec();
                for s in segments {
                    out.extend_from_slice(s);
                }
                (segments.len(), out)
            })
            .expect("framed");
        assert_eq!(
            joined.1,
            p.to_bytes().expect("bytes"),
            "{} segments",
            joined.0
        );
        if words == 1 && names > 2 {
            assert!(joined.0 > 2, "{} segments", joined.0);
        }
    }
    let child = sb(p_child(&reg, pid));
    assert!(matches!(child.with_framed(|_, _| ()), Err(Error::NotRoot)));
}

fn p_child(reg: &Arc<capnp_dynamic::Registry>, pid: u64) -> Value {
    let p = StructBuilder::new_message(reg, pid).expect("root");
    let phones = lb(p.init("phones", Some(1)).expect(""));
    phones.get(0).expect("")
}

/// Reading the root pointer once (`root_from_*`) gives what the constructor and `root` give
/// in two steps: the same reader, or the same error, for well-formed and malformed inputs.
#[test]
fn root_read_once_agrees_with_two_steps() {
    let reg = registry();
    let pid = id(&reg, "Person");
    let p = StructBuilder::new_message(&reg, pid).expect("root");
    p.set("name", SetValue::Str("Ann")).expect("");
    let good = p.to_bytes().expect("bytes");
    let mut inputs: Vec<Vec<u8>> = vec![good.clone(), vec![], vec![0; 8], vec![0; 16]];
    inputs.push(good[..good.len() - 8].to_vec()); // truncated
    let mut far = good.clone();
    far[8..16].copy_from_slice(&[2, 0, 0, 0, 5, 0, 0, 0]); // far pointer to segment 5
    inputs.push(far);
    let mut list_root = good.clone();
    list_root[8] = 1; // a list pointer where the root struct should be
    inputs.push(list_root);
    let mut out_of_bounds = good.clone();
    out_of_bounds[8..12].copy_from_slice(&0x0100_0000u32.to_le_bytes());
    inputs.push(out_of_bounds);
    let show = |r: Result<StructReader, Error>| match r {
        Ok(root) => format!("ok {:?}", root.get("name").map(text)),
        Err(e) => format!("err {e}"),
    };
    for (i, input) in inputs.iter().enumerate() {
        let shared = || Arc::new(input.clone()) as Arc<dyn AsRef<[u8]> + Send + Sync>;
        let limits = ReadLimits::default();
        let two = MessageReader::from_bytes_shared(shared(), limits, Default::default())
            .and_then(|m| m.root(&reg, pid));
        let once =
            MessageReader::root_from_bytes_shared(shared(), limits, Default::default(), &reg, pid);
        assert_eq!(show(once), show(two), "bytes input {i}");
        // The same bytes without the segment table, as one segment.
        if input.len() >= 8 {
            let seg = || vec![Arc::new(input[8..].to_vec()) as Arc<dyn AsRef<[u8]> + Send + Sync>];
            let two = MessageReader::from_segments_shared(seg(), limits, Default::default())
                .and_then(|m| m.root(&reg, pid));
            let once = MessageReader::root_from_segments_shared(
                seg(),
                limits,
                Default::default(),
                &reg,
                || reg.get_struct(pid),
            );
            assert_eq!(show(once), show(two), "segments input {i}");
        }
        let packed = capnp_pack(input);
        let two = MessageReader::from_bytes_packed(&packed, limits).and_then(|m| m.root(&reg, pid));
        let once = MessageReader::from_bytes_packed_for_root(&packed, limits)
            .and_then(|m| m.into_root(&reg, || reg.get_struct(pid)));
        assert_eq!(show(once), show(two), "packed input {i}");
    }
}

/// `input` packed word by word (the packed encoding of arbitrary bytes, framing included).
fn capnp_pack(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for w in input.chunks(8) {
        let mut word = [0u8; 8];
        word[..w.len()].copy_from_slice(w);
        let tag = word
            .iter()
            .enumerate()
            .fold(0u8, |t, (i, b)| t | (u8::from(*b != 0) << i));
        out.push(tag);
        out.extend(word.iter().filter(|b| **b != 0));
        if tag == 0 || tag == 0xff {
            // Runs of zero words / literal words: none follow here.
            out.push(0);
        }
    }
    out
}

/// `MessageBuilder::new_root` (the root made before the message is shared, without its lock)
/// against `new()` + `init_root_as`: the same operations give the same values and bytes, and
/// the root's recorded location goes stale as the locked path's does (a pointer write, `init`,
/// a new root through another handle).
#[test]
fn new_root_matches_init_root() {
    let reg = registry();
    let person = id(&reg, "Person");
    let schema = reg.get_struct(person).expect("schema");
    for words in [None, Some(1), Some(16)] {
        let fast = MessageBuilder::new_root(words, &reg, &schema).expect("root");
        let slow_message = MessageBuilder::with_first_segment_words(words.unwrap_or(1024));
        let slow = slow_message
            .init_root_as(&reg, schema.clone())
            .expect("root");
        let mut outs = Vec::new();
        for root in [&fast, &slow] {
            let mut out = Vec::new();
            out.push(format!("{:?}", root.get("id")));
            root.set("id", SetValue::Int(7)).expect("id");
            root.set("name", SetValue::Str("Ann")).expect("name");
            out.push(format!("{:?}", root.get("id")));
            let phones = root.init("phones", Some(2)).expect("phones");
            out.push(format!("{phones:?}"));
            root.set("id", SetValue::Int(8)).expect("id");
            root.set("email", SetValue::Str("a@b")).expect("email");
            out.push(format!("{:?} {:?}", root.get("id"), root.get("name")));
            out.push(format!("{:?}", root.to_bytes()));
            outs.push(out);
        }
        assert_eq!(outs[0], outs[1]);
        // A new root through the message replaces the old one; the old handle reads what a
        // walk reads (the new root's zeroes), not its recorded bytes.
        let again = fast
            .message()
            .init_root_as(&reg, schema.clone())
            .expect("again");
        again.set("id", SetValue::Int(9)).expect("id");
        assert!(matches!(fast.get("id"), Ok(Value::UInt(9))));
        assert!(matches!(fast.get("name"), Ok(Value::Text(t)) if t.is_empty()));
    }
    // A root with pointers and no data section (its location found from the pointer
    // section; debug builds compare it with the segment lookup's).
    let book = reg.get_struct(id(&reg, "AddressBook")).expect("schema");
    for words in [None, Some(1), Some(2)] {
        let fast = MessageBuilder::new_root(words, &reg, &book).expect("root");
        let slow_message = MessageBuilder::with_first_segment_words(words.unwrap_or(1024));
        let slow = slow_message.init_root_as(&reg, book.clone()).expect("root");
        let bytes: Vec<_> = [&fast, &slow]
            .iter()
            .map(|root| {
                root.init("people", Some(1)).expect("people");
                root.to_bytes().expect("bytes")
            })
            .collect();
        assert_eq!(bytes[0], bytes[1]);
    }
}

/// A root released as the binding releases a dropped root object (`StructBuilder::release`)
/// is kept as the thread's spare root and reused by the next `new_root` of its schema and
/// registry: that root is a new message's, whatever the released one held (Text rewritten,
/// lists re-initialized, a struct disowned), and reads and writes as one; another schema's or
/// registry's `new_root` takes the kept message apart and is as new too, as are roots whose
/// release keeps nothing (another first size, a handle still sharing the base, a child).
#[test]
fn released_roots_are_new_roots() {
    let reg = registry();
    let other_reg = registry();
    let person = reg.get_struct(id(&reg, "Person")).expect("schema");
    let book = reg.get_struct(id(&reg, "AddressBook")).expect("schema");
    let other_person = other_reg
        .get_struct(id(&other_reg, "Person"))
        .expect("schema");
    let fill = |root: &StructBuilder| {
        root.set("id", SetValue::Int(7)).expect("id");
        root.set("name", SetValue::Str("a name long enough"))
            .expect("name");
        root.set("name", SetValue::Str("b")).expect("name");
        root.init("phones", Some(3)).expect("phones");
        root.init("phones", Some(1)).expect("phones");
        root.set("email", SetValue::Str("a@b")).expect("email");
    };
    let fresh = |reg: &std::sync::Arc<capnp_dynamic::Registry>, schema| {
        let m = MessageBuilder::new();
        let root = m
            .init_root_as(reg, std::sync::Arc::clone(schema))
            .expect("root");
        root.to_bytes().expect("bytes")
    };
    let cases: [(&std::sync::Arc<capnp_dynamic::Registry>, &_); 5] = [
        (&reg, &person),
        (&reg, &person),
        (&reg, &book),
        (&other_reg, &other_person),
        (&reg, &person),
    ];
    for (n, (r, schema)) in cases.into_iter().enumerate() {
        let root = MessageBuilder::new_root(None, r, schema).expect("root");
        assert_eq!(
            root.to_bytes().expect("bytes"),
            fresh(r, schema),
            "case {n}"
        );
        if schema.display_name.ends_with("Person") {
            fill(&root);
            root.set("id", SetValue::Int(11)).expect("id");
            assert!(matches!(root.get("id"), Ok(Value::UInt(11))), "case {n}");
        } else {
            root.init("people", Some(2)).expect("people");
        }
        root.release();
    }
    // Releases that keep nothing: a shared base, another first size.
    let root = MessageBuilder::new_root(None, &reg, &person).expect("root");
    fill(&root);
    let other_holder = root.clone();
    root.release();
    assert!(matches!(other_holder.get("id"), Ok(Value::UInt(7))));
    drop(other_holder);
    let small = MessageBuilder::new_root(Some(16), &reg, &person).expect("root");
    fill(&small);
    small.release();
    let root = MessageBuilder::new_root(None, &reg, &person).expect("root");
    assert_eq!(root.to_bytes().expect("bytes"), fresh(&reg, &person));
}

/// Groups of a struct list's elements share one part per list (the first group asked for is
/// kept for the others): each element's group still reads and writes its own element, a
/// second group of the same elements is made apart, and a group handle outlives its list and
/// element handles; readers' element groups the same.
#[test]
fn groups_of_list_elements() {
    let reg = registry();
    let root = StructBuilder::new_message(&reg, id(&reg, "Mix")).expect("root");
    let Value::List(ListValue::Builder(lm)) = root.init("lm", Some(3)).expect("lm") else {
        panic!()
    };
    let mut kept = None;
    for i in 0..3 {
        let e = sb(lm.get(i).expect("element"));
        let g = sb(e.get("g").expect("g"));
        g.set("gt", SetValue::Str(&format!("g{i}"))).expect("gt");
        // The union group after the plain one: not the kept part.
        let u = sb(e.get("u").expect("u"));
        u.set("ut", SetValue::Str(&format!("u{i}"))).expect("ut");
        e.set("n", SetValue::Int(i128::from(i))).expect("n");
        if i == 1 {
            kept = Some(g);
        }
    }
    for i in 0..3 {
        let e = sb(lm.get(i).expect("element"));
        assert_eq!(int(e.get("n").expect("n")), i);
        assert_eq!(
            text(sb(e.get("g").expect("g")).get("gt").expect("")),
            format!("g{i}")
        );
        assert_eq!(
            text(sb(e.get("u").expect("u")).get("ut").expect("")),
            format!("u{i}")
        );
    }
    drop(lm);
    // The group of element 1, its list and elements gone: still element 1's.
    let kept = kept.expect("kept");
    kept.set("gt", SetValue::Str("again")).expect("gt");
    let bytes = root.to_bytes().expect("bytes");
    drop(root);
    assert_eq!(text(kept.get("gt").expect("")), "again");

    let r = MessageReader::from_bytes(Arc::new(bytes), ReadLimits::default())
        .expect("read")
        .root(&reg, id(&reg, "Mix"))
        .expect("root");
    let ListValue::Reader(lm) = (match r.get("lm").expect("lm") {
        Value::List(l) => l,
        _ => panic!(),
    }) else {
        panic!()
    };
    let groups: Vec<_> = (0..3)
        .map(|i| sr(sr(lm.get(i).expect("element")).get("g").expect("g")))
        .collect();
    for (i, g) in groups.iter().enumerate() {
        let want = if i == 1 {
            "again".to_string()
        } else {
            format!("g{i}")
        };
        assert_eq!(text(g.get("gt").expect("")), want);
        let u = sr(sr(lm.get(i as i64).expect("element")).get("u").expect("u"));
        assert_eq!(text(u.get("ut").expect("")), format!("u{i}"));
    }
}

/// Structs in segments allocated after the message was made (its first segment one word, so
/// the root and each list land in segments of their own) are located as those in the first:
/// the message's segment table records every segment, before and after the message's shared
/// state exists. A segment left unrecorded leaves its structs without a location (they would
/// still read right, by walks), which `group_fast` shows (`None`: no location).
#[test]
fn structs_in_later_segments_are_located() {
    let reg = registry();
    let book = reg.get_struct(id(&reg, "AddressBook")).expect("schema");
    let person = reg.get_struct(id(&reg, "Person")).expect("schema");
    let employment = person
        .fields
        .iter()
        .position(|f| f.name == "employment")
        .expect("employment");
    let made = MessageBuilder::new_root(Some(1), &reg, &book).expect("root");
    let walked = MessageBuilder::with_first_segment_words(1)
        .init_root_as(&reg, book.clone())
        .expect("root");
    for root in [made, walked] {
        let mut located = Vec::new();
        for n in [3u32, 40] {
            let people = lb(root.init("people", Some(n)).expect("people"));
            for i in 0..n {
                let p = sb(people.get(i64::from(i)).expect("element"));
                p.set("id", SetValue::Int(i128::from(i))).expect("id");
                located.push(p.group_fast(employment).expect("group").is_some());
            }
        }
        assert!(located.iter().all(|l| *l), "{located:?}");
        let segments = root.to_segments().expect("segments");
        assert!(segments.len() >= 3, "{} segments", segments.len());
    }
}

/// A reader kept with its data section (`LocatedReader`, what the binding's reader objects
/// hold) reads every primitive slot as the located read does, for structs in every segment
/// of framed, packed and segment-list messages; a releasable reader's bytes are reachable
/// only under its lock, so it has no data section (`None`: the full read answers) before
/// and after the release, and a repeated read gives the recorded answer.
#[test]
fn located_readers_read_as_located_reads() {
    use capnp_dynamic::struct_::PrimSlot;
    use capnp_dynamic::{LocatedReader, Sharing};
    let reg = registry();
    let book = reg.get_struct(id(&reg, "AddressBook")).expect("schema");
    let person = reg.get_struct(id(&reg, "Person")).expect("schema");
    let slots: Vec<PrimSlot> = (0..person.fields.len())
        .filter_map(|i| PrimSlot::of(&person, i))
        .collect();
    assert!(!slots.is_empty());
    let root = MessageBuilder::with_first_segment_words(1)
        .init_root_as(&reg, book.clone())
        .expect("root");
    let n = 30u32;
    let people = lb(root.init("people", Some(n)).expect("people"));
    for i in 0..n {
        let p = sb(people.get(i64::from(i)).expect("element"));
        p.set("id", SetValue::Int(i128::from(i) * 1000 + 7))
            .expect("id");
        p.set("name", SetValue::Str("someone")).expect("name");
    }
    let segs = root.to_segments().expect("segments");
    assert!(segs.len() >= 3, "{} segments", segs.len());
    let bytes = root.to_bytes().expect("bytes");
    let packed = root.to_bytes_packed().expect("packed");
    let shared = || Arc::new(bytes.clone()) as Arc<dyn AsRef<[u8]> + Send + Sync>;
    let limits = ReadLimits::default();
    let releasable = Sharing {
        releasable: true,
        volatile: false,
    };
    let readers = [
        (
            MessageReader::from_bytes(shared(), limits).expect("bytes"),
            true,
        ),
        (
            MessageReader::from_bytes_packed(&packed, limits).expect("packed"),
            true,
        ),
        (
            MessageReader::from_segments(
                segs.into_iter()
                    .map(|s| Arc::new(s) as Arc<dyn AsRef<[u8]> + Send + Sync>)
                    .collect(),
                limits,
            )
            .expect("segments"),
            true,
        ),
        (
            MessageReader::from_bytes_shared(shared(), limits, releasable).expect("lent"),
            false,
        ),
    ];
    for (r, in_place) in readers {
        let list = lr(r
            .root(&reg, book.id)
            .expect("root")
            .get("people")
            .expect("people"));
        let mut kept_all = Vec::new();
        for i in 0..n {
            let p = sr(list.get(i64::from(i)).expect("element"));
            let kept = LocatedReader::new(p.clone());
            assert_eq!(int(kept.get("id").expect("id")), i64::from(i) * 1000 + 7);
            for slot in &slots {
                let located = p.prim_bits_located(*slot);
                assert_eq!(located.is_some(), in_place, "person {i}");
                // The first read looks for the data section, the second reads the record.
                for _ in 0..2 {
                    assert_eq!(kept.prim_bits_quick(*slot), located, "person {i} {slot:?}");
                }
            }
            kept_all.push(kept);
        }
        if !in_place {
            assert!(r.release());
            for kept in &kept_all {
                assert_eq!(kept.prim_bits_quick(slots[0]), None);
                assert!(kept.get("id").is_err(), "read after the release");
            }
        }
    }
}
