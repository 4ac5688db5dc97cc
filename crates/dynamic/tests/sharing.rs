//! Shared input bytes: releasable readers (`Sharing`, `MessageReader::release`) and the flat
//! element bytes of lists of numbers (`element_bytes`), in place or copied.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use capnp_dynamic::{
    Error, ListReader, ListValue, MessageBuilder, MessageReader, ReadLimits, SetValue, Sharing,
    StructBuilder, StructReader, StructValue, Value,
};
use common::{id, registry};

fn lr(v: Value) -> ListReader {
    match v {
        Value::List(ListValue::Reader(l)) => l,
        other => panic!("not a list reader: {other:?}"),
    }
}

fn sr(v: Value) -> StructReader {
    match v {
        Value::Struct(StructValue::Reader(r)) => r,
        other => panic!("not a struct reader: {other:?}"),
    }
}

fn fill(s: &StructBuilder, field: &str, values: &[SetValue<'_>]) {
    let n = u32::try_from(values.len()).expect("small");
    match s.init(field, Some(n)).expect(field) {
        Value::List(ListValue::Builder(l)) => l.set_all(values).expect("set_all"),
        other => panic!("{other:?}"),
    }
}

fn sample() -> StructBuilder {
    let reg = registry();
    let a = MessageBuilder::new()
        .init_root(&reg, id(&reg, "All"))
        .expect("root");
    a.set("i32", SetValue::Int(-5)).expect("i32");
    fill(
        &a,
        "li",
        &[SetValue::Int(1), SetValue::Int(-2), SetValue::Int(70000)],
    );
    fill(&a, "lf", &[SetValue::Float(0.5), SetValue::Float(-3.25)]);
    fill(&a, "lb", &[SetValue::Bool(true), SetValue::Bool(false)]);
    a.init("s", None).expect("s");
    a
}

/// Input bytes that count how many holders are alive (to see when a release drops them).
struct Counted {
    bytes: Vec<capnp::Word>,
    len: usize,
    alive: Arc<AtomicUsize>,
}

impl Counted {
    fn new(data: &[u8], alive: &Arc<AtomicUsize>) -> Counted {
        let mut bytes = capnp::Word::allocate_zeroed_vec(data.len().div_ceil(8));
        capnp::Word::words_to_bytes_mut(&mut bytes)[..data.len()].copy_from_slice(data);
        alive.fetch_add(1, Ordering::SeqCst);
        Counted {
            bytes,
            len: data.len(),
            alive: alive.clone(),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.alive.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AsRef<[u8]> for Counted {
    fn as_ref(&self) -> &[u8] {
        &capnp::Word::words_to_bytes(&self.bytes)[..self.len]
    }
}

fn read(data: &[u8], sharing: Sharing, alive: &Arc<AtomicUsize>) -> Arc<MessageReader> {
    MessageReader::from_bytes_shared(
        Arc::new(Counted::new(data, alive)),
        ReadLimits::default(),
        sharing,
    )
    .expect("read")
}

const RELEASABLE: Sharing = Sharing {
    releasable: true,
    volatile: false,
};

#[test]
fn release_drops_the_input_and_later_reads_fail() {
    let reg = registry();
    let data = sample().to_bytes().expect("bytes");
    let alive = Arc::new(AtomicUsize::new(0));
    let m = read(&data, RELEASABLE, &alive);
    let root = m.root(&reg, id(&reg, "All")).expect("root");
    let child = sr(root.get("s").expect("s"));
    let list = lr(root.get("li").expect("li"));
    assert!(matches!(root.get("i32"), Ok(Value::Int(-5))));
    assert_eq!(alive.load(Ordering::SeqCst), 1);

    assert!(!m.is_released());
    assert!(root.release_buffer());
    assert!(m.is_released());
    assert_eq!(alive.load(Ordering::SeqCst), 0, "input dropped at release");
    assert!(matches!(root.get("i32"), Err(Error::BufferReleased)));
    assert!(matches!(child.get("i32"), Err(Error::BufferReleased)));
    assert!(matches!(list.get(0), Err(Error::BufferReleased)));
    assert!(matches!(list.element_bytes(), Err(Error::BufferReleased)));
    assert!(!root.release_buffer(), "a second release has nothing left");
}

#[test]
fn readers_that_are_not_releasable_ignore_release() {
    let reg = registry();
    let data = sample().to_bytes().expect("bytes");
    let alive = Arc::new(AtomicUsize::new(0));
    let m = read(&data, Sharing::default(), &alive);
    let root = m.root(&reg, id(&reg, "All")).expect("root");
    assert!(!root.release_buffer());
    assert!(!m.is_released());
    assert!(matches!(root.get("i32"), Ok(Value::Int(-5))));
    drop(root);
    drop(m);
    assert_eq!(alive.load(Ordering::SeqCst), 0);
}

#[test]
fn element_bytes_point_into_the_input_and_outlive_a_release() {
    let reg = registry();
    let data = sample().to_bytes().expect("bytes");
    let alive = Arc::new(AtomicUsize::new(0));
    let m = read(&data, RELEASABLE, &alive);
    let root = m.root(&reg, id(&reg, "All")).expect("root");
    let e = lr(root.get("li").expect("li"))
        .element_bytes()
        .expect("bytes");
    assert_eq!((e.width, e.count), (4, 3));
    let mut expect = Vec::new();
    for v in [1i32, -2, 70000] {
        expect.extend_from_slice(&v.to_le_bytes());
    }
    assert_eq!(e.bytes.as_slice(), &expect[..]);
    let at = e.bytes.as_slice().as_ptr();

    m.release();
    // The export keeps the buffer it points into; the reader no longer reads it.
    assert_eq!(alive.load(Ordering::SeqCst), 1);
    assert!(matches!(root.get("i32"), Err(Error::BufferReleased)));
    assert_eq!(e.bytes.as_slice(), &expect[..]);
    assert_eq!(e.bytes.as_slice().as_ptr(), at, "same address every time");
    drop(e);
    assert_eq!(alive.load(Ordering::SeqCst), 0);
}

#[test]
fn element_bytes_of_owned_and_builder_messages() {
    let reg = registry();
    let b = sample();
    let packed = b.to_bytes_packed().expect("packed");
    let m = MessageReader::from_bytes_packed(&packed, ReadLimits::default()).expect("read");
    let root = m.root(&reg, id(&reg, "All")).expect("root");
    let e = lr(root.get("lf").expect("lf"))
        .element_bytes()
        .expect("bytes");
    assert_eq!((e.width, e.count), (8, 2));
    let floats: Vec<f64> = e
        .bytes
        .as_slice()
        .chunks(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8")))
        .collect();
    assert_eq!(floats, [0.5, -3.25]);
    drop(root);
    drop(m);
    // The pinned segment keeps the message alive.
    assert_eq!(e.bytes.as_slice().len(), 16);

    let lb = match b.get("li").expect("li") {
        Value::List(ListValue::Builder(l)) => l,
        other => panic!("{other:?}"),
    };
    let copy = lb.element_bytes().expect("copy");
    lb.set(0, SetValue::Int(9)).expect("set");
    assert_eq!(&copy.bytes.as_slice()[..4], &1i32.to_le_bytes(), "a copy");
}

#[test]
fn defaults_empty_lists_and_unsupported_types() {
    let reg = registry();
    let data = MessageBuilder::new()
        .init_root(&reg, id(&reg, "All"))
        .expect("root")
        .to_bytes()
        .expect("bytes");
    let m = MessageReader::from_bytes(Arc::new(data), ReadLimits::default()).expect("read");
    let root = m.root(&reg, id(&reg, "All")).expect("root");
    // A schema default lives outside the message: copied.
    let d = lr(root.get("defL").expect("defL"))
        .element_bytes()
        .expect("default");
    assert_eq!(
        (d.width, d.count, d.bytes.as_slice()),
        (1, 3, &[1u8, 2, 3][..])
    );
    let empty = lr(root.get("li").expect("li"))
        .element_bytes()
        .expect("empty");
    assert_eq!((empty.count, empty.bytes.as_slice().len()), (0, 0));
    for field in ["lb", "lt", "ls", "le"] {
        let l = lr(root.get(field).expect(field));
        assert!(
            matches!(l.element_bytes(), Err(Error::NotExportable(_))),
            "{field}"
        );
    }
}

#[test]
fn a_list_of_numbers_stored_as_structs_is_gathered() {
    // `li` written as a struct list (a newer schema's upgrade): elements are 16 bytes apart.
    let writer = common::registry_for(
        r#"@0xd2b2b2b2b2b2b2b2;
        struct All { pad @0 :UInt64; li @1 :List(Wide); struct Wide { v @0 :Int32; w @1 :Int64; } }"#,
    );
    let b = MessageBuilder::new()
        .init_root(&writer, id(&writer, "All"))
        .expect("root");
    let list = match b.init("li", Some(2)).expect("li") {
        Value::List(ListValue::Builder(l)) => l,
        other => panic!("{other:?}"),
    };
    for (i, v) in [(0, 11), (1, -12)] {
        match list.get(i).expect("elem") {
            Value::Struct(StructValue::Builder(s)) => s.set("v", SetValue::Int(v)).expect("v"),
            other => panic!("{other:?}"),
        }
    }
    let data = b.to_bytes().expect("bytes");
    let reader_reg = common::registry_for(
        r#"@0xd2b2b2b2b2b2b2b2;
        struct All { pad @0 :UInt64; li @1 :List(Int32); }"#,
    );
    let m = MessageReader::from_bytes(Arc::new(data), ReadLimits::default()).expect("read");
    let root = m.root(&reader_reg, id(&reader_reg, "All")).expect("root");
    let e = lr(root.get("li").expect("li"))
        .element_bytes()
        .expect("gathered");
    let mut expect = Vec::new();
    for v in [11i32, -12] {
        expect.extend_from_slice(&v.to_le_bytes());
    }
    assert_eq!((e.count, e.bytes.as_slice()), (2, &expect[..]));
}

#[test]
fn volatile_is_reported() {
    let reg = registry();
    let data = sample().to_bytes().expect("bytes");
    let alive = Arc::new(AtomicUsize::new(0));
    let volatile = Sharing {
        releasable: true,
        volatile: true,
    };
    let root = read(&data, volatile, &alive)
        .root(&reg, id(&reg, "All"))
        .expect("root");
    assert!(root.is_volatile());
    let other = read(&data, RELEASABLE, &alive)
        .root(&reg, id(&reg, "All"))
        .expect("root");
    assert!(!other.is_volatile());
}

#[test]
fn data_views_of_builders_and_readers() {
    let reg = registry();
    let b = sample();
    b.set("d", SetValue::Bytes(b"abc")).expect("d");
    assert!(!b.message().is_volatile());
    let lent = b.data_view("d").expect("view");
    assert_eq!(lent.len(), 3);
    assert!(b.message().is_volatile(), "a writable view is out");
    assert!(b.as_reader().is_volatile());
    let second = b.data_view("d").expect("view");
    assert_eq!(second.addr(), lent.addr(), "in place");
    drop(lent);
    assert!(b.message().is_volatile());
    drop(second);
    assert!(!b.message().is_volatile());
    assert!(matches!(b.data_view("t"), Err(Error::TypeMismatch)));
    assert!(matches!(
        b.data_view("nope"),
        Err(Error::NoSuchField { .. })
    ));
    assert!(b.data_view("s").is_err());

    let data = b.to_bytes().expect("bytes");
    let alive = Arc::new(AtomicUsize::new(0));
    let m = read(&data, RELEASABLE, &alive);
    let root = m.root(&reg, id(&reg, "All")).expect("root");
    let bytes = root.data_bytes("d").expect("bytes");
    assert_eq!(bytes.as_slice(), b"abc");
    m.release();
    assert_eq!(bytes.as_slice(), b"abc", "kept after release");
    assert!(matches!(root.data_bytes("d"), Err(Error::BufferReleased)));
}

/// Lent struct elements (`list/lent.rs`) borrow their list's shared part: they read as the
/// counted ones do, and their clones and children are counted handles that outlive both the
/// lent element and the list it came from.
#[test]
#[allow(
    unsafe_code,
    reason = "calls the lent-element constructors, whose contract it keeps"
)]
fn lent_elements_read_alike_and_their_clones_outlive_the_list() {
    let reg = registry();
    let root = MessageBuilder::new()
        .init_root(&reg, id(&reg, "All"))
        .expect("root");
    let Ok(Value::List(ListValue::Builder(people))) = root.init("ls", Some(3)) else {
        panic!("list")
    };
    for i in 0..3u32 {
        let Ok(Value::Struct(StructValue::Builder(p))) = people.get(i64::from(i)) else {
            panic!("element")
        };
        p.set("id", SetValue::Int(i128::from(i) + 10)).expect("id");
        p.set("name", SetValue::Str("n")).expect("name");
    }
    let bytes = root.to_bytes().expect("bytes");
    let reader = MessageReader::from_bytes(Arc::new(bytes), ReadLimits::default()).expect("msg");
    let list = lr(reader
        .root(&reg, id(&reg, "All"))
        .expect("root")
        .get("ls")
        .expect("ls"));
    // A walk records the builder list's location again (the Text writes made it stale).
    assert_eq!(people.len().expect("len"), 3);
    // SAFETY: every lent handle below is dropped before `list` / `people`.
    let (lent, lent_builder) = unsafe {
        (
            list.struct_element_lent(-1)
                .expect("in range")
                .expect("located"),
            people
                .struct_element_fast_lent(1)
                .expect("in range")
                .expect("located"),
        )
    };
    let counted = list.struct_element(-1).expect("in range").expect("located");
    assert_eq!(
        format!("{:?}", lent.get("id")),
        format!("{:?}", counted.get("id"))
    );
    assert!(matches!(lent.get("id"), Ok(Value::UInt(12))));
    // SAFETY: as above.
    assert!(matches!(
        unsafe { list.struct_element_lent(3) },
        Err(Error::IndexOutOfRange)
    ));
    let (clone, child) = (lent.clone(), lent.get("name").expect("name"));
    let builder_clone = lent_builder.clone();
    drop((lent, lent_builder, counted, list, people, reader));
    assert!(matches!(clone.get("id"), Ok(Value::UInt(12))));
    assert!(matches!(child, Value::Text(ref t) if t == b"n"));
    assert!(matches!(builder_clone.get("id"), Ok(Value::UInt(11))));
    builder_clone.set("id", SetValue::Int(99)).expect("set");
    assert!(matches!(builder_clone.get("id"), Ok(Value::UInt(99))));
}

/// Lent list handles (`list/lent.rs` `ListBase`) borrow the base of the struct they were read
/// from: they read and write as counted ones do, and their clones, elements and children are
/// counted handles that outlive both the lent list and the struct (whose message they keep).
#[test]
#[allow(
    unsafe_code,
    reason = "calls the lent-list constructors, whose contract it keeps"
)]
fn lent_lists_read_alike_and_their_clones_outlive_the_struct() {
    let reg = registry();
    let root = MessageBuilder::new()
        .init_root(&reg, id(&reg, "All"))
        .expect("root");
    let index = |name| field_index(root.schema(), name);
    let (li, ls, ll) = (index("li"), index("ls"), index("ll"));
    // SAFETY: every lent handle below is dropped before `root`.
    let (ints, people, nested) = unsafe {
        (
            root.init_list_fast_lent(None, li, 3)
                .expect("init")
                .expect("fast"),
            root.init_list_fast_lent(None, ls, 2)
                .expect("init")
                .expect("fast"),
            root.init_list_fast_lent(None, ll, 2)
                .expect("init")
                .expect("fast"),
        )
    };
    ints.set(1, SetValue::Int(7)).expect("set");
    let Ok(Value::Struct(StructValue::Builder(person))) = people.get(1) else {
        panic!("element")
    };
    person.set("id", SetValue::Int(5)).expect("id");
    let Ok(Value::List(ListValue::Builder(row))) = nested.init(1, 2) else {
        panic!("row")
    };
    row.set(0, SetValue::Int(-3)).expect("set");
    // A walk records the root's location again (the writes above may have made it stale).
    assert!(matches!(root.get("i32"), Ok(Value::Int(0))));
    // SAFETY: as above.
    let again = unsafe { root.list_fast_lent(None, li).expect("read").expect("fast") };
    let counted = root.list_fast(li).expect("read").expect("fast");
    assert_eq!(
        format!("{:?}", again.get(1)),
        format!("{:?}", counted.get(1))
    );
    assert!(matches!(again.get(1), Ok(Value::Int(7))));
    let clone = again.clone();
    drop((ints, people, nested, again, counted, root));
    assert!(matches!(clone.get(1), Ok(Value::Int(7))));
    clone.set(2, SetValue::Int(8)).expect("set");
    assert!(matches!(clone.get(2), Ok(Value::Int(8))));
    assert!(matches!(person.get("id"), Ok(Value::UInt(5))));
    assert!(matches!(row.get(0), Ok(Value::Int(-3))));

    // A reader's list fields likewise.
    let bytes = person_root_bytes(&reg);
    let reader = MessageReader::from_bytes(Arc::new(bytes), ReadLimits::default()).expect("msg");
    let root = reader.root(&reg, id(&reg, "All")).expect("root");
    // SAFETY: every lent handle below is dropped before `root`.
    let (ints, people) = unsafe {
        (
            root.list_fast_lent(li).expect("read").expect("located"),
            root.list_fast_lent(ls).expect("read").expect("located"),
        )
    };
    let counted = root.list_fast(li).expect("read").expect("located");
    assert_eq!(
        format!("{:?}", ints.get(1)),
        format!("{:?}", counted.get(1))
    );
    assert!(matches!(ints.get(1), Ok(Value::Int(7))));
    let (clone, first) = (ints.clone(), people.get(1).expect("element"));
    drop((ints, people, counted, root, reader));
    assert!(matches!(clone.get(1), Ok(Value::Int(7))));
    assert!(matches!(sr(first).get("id"), Ok(Value::UInt(5))));
}

/// A message whose root `All` has `li` = [0, 7, 0] and `ls[1].id` = 5.
fn person_root_bytes(reg: &Arc<capnp_dynamic::Registry>) -> Vec<u8> {
    let root = MessageBuilder::new()
        .init_root(reg, id(reg, "All"))
        .expect("root");
    fill(
        &root,
        "li",
        &[SetValue::Int(0), SetValue::Int(7), SetValue::Int(0)],
    );
    let Ok(Value::List(ListValue::Builder(people))) = root.init("ls", Some(2)) else {
        panic!("list")
    };
    let Ok(Value::Struct(StructValue::Builder(person))) = people.get(1) else {
        panic!("element")
    };
    person.set("id", SetValue::Int(5)).expect("id");
    root.to_bytes().expect("bytes")
}

/// Lent struct and group field handles (`list/lent.rs` `OwnPair`) borrow the base of the
/// struct they were read from, and hold a schema kept by the registry without a count: they
/// read and write as counted ones do, their clones and children are counted handles that
/// outlive both the lent handle and the struct, and the schema's count is touched only by
/// clones (each counted once, released once).
#[test]
#[allow(
    unsafe_code,
    reason = "calls the lent-field constructors, whose contract it keeps"
)]
fn lent_struct_fields_and_groups_read_alike_and_their_clones_outlive_the_struct() {
    let reg = registry();
    let all = id(&reg, "All");
    let schema_count = || Arc::strong_count(&reg.get_struct(all).expect("All")) - 1;
    let baseline = schema_count();
    let root = MessageBuilder::new().init_root(&reg, all).expect("root");
    let index = |name| field_index(root.schema(), name);
    let (s, g, ls) = (index("s"), index("g"), index("ls"));
    let Ok(Value::Struct(StructValue::Builder(inner))) = root.init("s", None) else {
        panic!("s")
    };
    inner.set("i32", SetValue::Int(-7)).expect("i32");
    drop(inner);
    root.set("i32", SetValue::Int(3)).expect("i32");
    // A walk records the root's location again (the init above made it stale).
    assert!(matches!(root.get("i32"), Ok(Value::Int(3))));
    let before = schema_count();
    // SAFETY: every lent handle below is dropped before `root`.
    let (child, group) = unsafe {
        (
            root.struct_fast_lent(None, s).expect("read").expect("fast"),
            root.group_fast_excluded_lent(None, g)
                .expect("read")
                .expect("fast"),
        )
    };
    // The child's schema (`All` again) is the registry's own, held without a count.
    assert!(Arc::ptr_eq(
        child.schema(),
        &reg.get_struct(all).expect("All")
    ));
    assert_eq!(schema_count(), before);
    let counted = root.struct_fast(s).expect("read").expect("fast");
    assert_eq!(
        format!("{:?}", child.get("i32")),
        format!("{:?}", counted.get("i32"))
    );
    assert!(matches!(child.get("i32"), Ok(Value::Int(-7))));
    group.set("x", SetValue::Int(11)).expect("x");
    child.set("u8", SetValue::Int(4)).expect("u8");
    let (clone, group_clone) = (child.clone(), group.clone());
    assert_eq!(schema_count(), before + 1);
    let grandchild = child.init("s", None).expect("s");
    drop((child, group, counted, root));
    assert!(matches!(clone.get("u8"), Ok(Value::UInt(4))));
    assert!(matches!(group_clone.get("x"), Ok(Value::Int(11))));
    group_clone.set("x", SetValue::Int(12)).expect("x");
    assert!(matches!(group_clone.get("x"), Ok(Value::Int(12))));
    let Value::Struct(StructValue::Builder(grandchild)) = grandchild else {
        panic!("grandchild")
    };
    grandchild.set("i32", SetValue::Int(9)).expect("i32");
    let Ok(Value::Struct(StructValue::Builder(clone_group))) = clone.get("g") else {
        panic!("g")
    };
    clone_group.set("x", SetValue::Int(21)).expect("x");
    drop(clone_group);
    // The reader below reads `s` (this copy's root) from its `s` (`grandchild`).
    let bytes = clone
        .as_reader()
        .as_builder()
        .expect("copy")
        .to_bytes()
        .expect("bytes");
    drop((clone, group_clone, grandchild));
    assert_eq!(schema_count(), baseline);

    // A list element's group: the first made and kept in its list's shared part, the next
    // borrowed from there.
    let root = MessageBuilder::new().init_root(&reg, all).expect("root");
    // SAFETY: every lent handle below is dropped before `root` and `people`.
    let people = unsafe {
        root.init_list_fast_lent(None, ls, 2)
            .expect("init")
            .expect("fast")
    };
    let person = reg.get_struct(id(&reg, "Person")).expect("Person");
    let employment = field_index(&person, "employment");
    for i in 0..2 {
        let Ok(Value::Struct(StructValue::Builder(person))) = people.get(i) else {
            panic!("element")
        };
        // SAFETY: as above (`person` outlives the groups).
        let (first, second) = unsafe {
            (
                person
                    .group_fast_excluded_lent(None, employment)
                    .expect("read")
                    .expect("fast"),
                person
                    .group_fast_excluded_lent(None, employment)
                    .expect("read")
                    .expect("fast"),
            )
        };
        first
            .set("employer", SetValue::Str("acme"))
            .expect("employer");
        assert!(matches!(second.get("employer"), Ok(Value::Text(ref t)) if t == b"acme"));
        let kept = second.clone();
        drop((first, second, person));
        assert!(matches!(kept.get("employer"), Ok(Value::Text(ref t)) if t == b"acme"));
    }
    drop((people, root));

    // A reader's struct and group fields likewise.
    let reader = MessageReader::from_bytes(Arc::new(bytes), ReadLimits::default()).expect("msg");
    let root = reader.root(&reg, all).expect("root");
    let before = schema_count();
    // SAFETY: every lent handle below is dropped before `root`.
    let (child, group) = unsafe {
        (
            root.struct_fast_lent(s).expect("read").expect("located"),
            root.group_fast_lent(g).expect("read").expect("located"),
        )
    };
    assert_eq!(schema_count(), before);
    let counted = sr(root.get("s").expect("s"));
    assert_eq!(
        format!("{:?}", child.get("i32")),
        format!("{:?}", counted.get("i32"))
    );
    assert!(matches!(child.get("i32"), Ok(Value::Int(9))));
    assert!(matches!(group.get("x"), Ok(Value::Int(21))));
    let (clone, group_clone) = (child.clone(), group.clone());
    drop((child, group, counted, root, reader));
    assert!(matches!(clone.get("i32"), Ok(Value::Int(9))));
    assert!(matches!(group_clone.get("x"), Ok(Value::Int(21))));
    drop((clone, group_clone));
    assert_eq!(schema_count(), baseline);
}

/// The index of field `name` of `schema`.
fn field_index(schema: &capnp_dynamic::schema::StructSchema, name: &str) -> usize {
    schema
        .fields
        .iter()
        .position(|f| f.name == name)
        .expect("field")
}
