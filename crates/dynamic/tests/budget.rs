//! Traversal-budget accounting of readers: charged once per user-level pointer access,
//! never for the internal re-walk of a handle's path (API.md 3.1).

mod common;

use std::sync::Arc;

use capnp_dynamic::{
    Error, ListReader, ListValue, MessageBuilder, MessageReader, ReadLimits, SetValue,
    StructBuilder, StructReader, StructValue, Value,
};
use common::{id, registry};

const N: u32 = 2000;

fn sr(v: Value) -> StructReader {
    match v {
        Value::Struct(StructValue::Reader(r)) => r,
        other => panic!("not a struct reader: {other:?}"),
    }
}

fn lr(v: Value) -> ListReader {
    match v {
        Value::List(ListValue::Reader(l)) => l,
        other => panic!("not a list reader: {other:?}"),
    }
}

fn sb(v: Value) -> StructBuilder {
    match v {
        Value::Struct(StructValue::Builder(b)) => b,
        other => panic!("not a struct builder: {other:?}"),
    }
}

fn is_limit(e: &Error) -> bool {
    matches!(e, Error::Capnp(c) if c.kind == capnp::ErrorKind::ReadLimitExceeded)
}

/// An `All` whose `ls` holds `N` people, each with a name (one segment).
fn big_list() -> StructBuilder {
    let reg = registry();
    let a = MessageBuilder::with_first_segment_words(1 << 16)
        .init_root(&reg, id(&reg, "All"))
        .expect("");
    let ls = match a.init("ls", Some(N)).expect("") {
        Value::List(ListValue::Builder(l)) => l,
        other => panic!("{other:?}"),
    };
    for i in 0..N {
        let p = sb(ls.get(i64::from(i)).expect(""));
        p.set("name", SetValue::Str(&format!("person {i}")))
            .expect("");
    }
    a
}

fn big_list_bytes() -> Vec<u8> {
    big_list().to_bytes().expect("")
}

fn read(bytes: &[u8], words: Option<u64>) -> (Arc<MessageReader>, StructReader) {
    let reg = registry();
    let limits = ReadLimits {
        traversal_limit_in_words: words,
        nesting_limit: None,
    };
    let m = MessageReader::from_bytes(Arc::new(bytes.to_vec()), limits).expect("");
    let r = m.root(&reg, id(&reg, "All")).expect("");
    (m, r)
}

#[test]
fn element_reads_charge_the_list_once() {
    let bytes = big_list_bytes();
    let (m, r) = read(&bytes, None);
    let ls = lr(r.get("ls").expect("ls"));
    for i in 0..N {
        let p = sr(ls.get(i64::from(i)).expect("element"));
        match p.get("name").expect("name") {
            Value::Text(t) => assert_eq!(t, format!("person {i}").into_bytes()),
            other => panic!("{other:?}"),
        }
    }
    // Everything read once: about the message's size, far below the default budget.
    let used = ReadLimits::DEFAULT_TRAVERSAL_LIMIT - m.budget_left();
    let message_words = bytes.len() as u64 / 8;
    assert!(used > message_words / 2, "{used} of {message_words}");
    assert!(used <= message_words, "{used} of {message_words}");
}

#[test]
fn text_format_of_a_big_list_fits_the_default_budget() {
    let bytes = big_list_bytes();
    let (_, r) = read(&bytes, None);
    let out = capnp_dynamic::text::struct_text(&r, false).expect("text");
    let out = String::from_utf8(out).expect("utf8");
    assert!(out.contains("person 1999"), "{}", &out[out.len() - 200..]);
}

#[test]
fn a_list_larger_than_the_limit_fails() {
    // Unframed, so that framing's whole-message size check does not stop it first.
    let segments = big_list().to_segments().expect("");
    assert_eq!(segments.len(), 1);
    let segment: Arc<dyn AsRef<[u8]> + Send + Sync> = Arc::new(segments.concat());
    let limits = ReadLimits {
        traversal_limit_in_words: Some(u64::from(N)),
        nesting_limit: None,
    };
    let reg = registry();
    let m = MessageReader::from_segments(vec![segment], limits).expect("");
    let r = m.root(&reg, id(&reg, "All")).expect("root fits");
    let e = r.get("ls").expect_err("list exceeds the limit");
    assert!(is_limit(&e), "{e}");
}

#[test]
fn repeated_access_exhausts_a_small_limit() {
    let bytes = big_list_bytes();
    let list_words = bytes.len() as u64 / 8;
    let (_, r) = read(&bytes, Some(3 * list_words));
    let mut failed = None;
    for i in 0..20 {
        if let Err(e) = r.get("ls") {
            failed = Some((i, e));
            break;
        }
    }
    let (i, e) = failed.expect("limit reached");
    assert!((3..=6).contains(&i), "{i}");
    assert!(is_limit(&e), "{e}");
}

#[test]
fn copies_and_sizes_are_charged() {
    let bytes = big_list_bytes();
    let message_words = bytes.len() as u64 / 8;
    let (m, r) = read(&bytes, Some(5 * message_words / 2));
    let before = m.budget_left();
    r.total_size().expect("size");
    let after_size = m.budget_left();
    assert!(before - after_size > message_words / 2);
    r.as_builder().expect("copy");
    assert!(after_size - m.budget_left() > message_words / 2);
    // The budget left no longer covers a whole copy.
    let e = r.as_builder().expect_err("exhausted");
    assert!(is_limit(&e), "{e}");
}

#[test]
fn builder_readers_are_not_limited() {
    let reg = registry();
    let a = StructBuilder::new_message(&reg, id(&reg, "All")).expect("");
    a.init("ls", Some(N)).expect("");
    let r = a.as_reader();
    for _ in 0..5000 {
        r.get("ls").expect("unlimited");
    }
}
