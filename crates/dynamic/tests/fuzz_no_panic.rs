//! Randomized robustness: mutated messages read (and copied) with every accessor must
//! give values or errors, never panics.

mod common;

use std::sync::Arc;

use capnp_dynamic::{
    ListValue, MessageReader, ReadLimits, Registry, SetValue, StructBuilder, StructReader,
    StructValue, Value,
};
use common::{id, registry};
use rand::{Rng, SeedableRng};

fn sample(reg: &Arc<Registry>) -> Vec<u8> {
    let m = StructBuilder::new_message(reg, id(reg, "All")).expect("root");
    m.set("i32", SetValue::Int(5)).expect("");
    m.set("t", SetValue::Str("text")).expect("");
    m.set_list("li", &[SetValue::Int(1), SetValue::Int(2)])
        .expect("");
    m.set_list("lt", &[SetValue::Str("a"), SetValue::Str("b")])
        .expect("");
    let Value::List(ListValue::Builder(ls)) = m.init("ls", Some(2)).expect("") else {
        panic!()
    };
    let Value::Struct(StructValue::Builder(p)) = ls.get(0).expect("") else {
        panic!()
    };
    p.set("name", SetValue::Str("n")).expect("");
    let Value::List(ListValue::Builder(ll)) = m.init("ll", Some(1)).expect("") else {
        panic!()
    };
    ll.init(0, 2).expect("");
    let Value::Struct(StructValue::Builder(s)) = m.init("s", None).expect("") else {
        panic!()
    };
    s.set("d", SetValue::Bytes(b"xyz")).expect("");
    m.to_bytes().expect("bytes")
}

/// Reads every field, recursing into structs and lists up to `depth`.
fn visit_struct(r: &StructReader, depth: u32) {
    let _ = r.which();
    let _ = r.total_size();
    for i in 0..r.schema().fields.len() {
        let _ = r.has(&r.schema().fields[i].name);
        if let Ok(v) = r.get_by_index(i) {
            visit_value(v, depth);
        }
    }
}

fn visit_value(v: Value, depth: u32) {
    if depth == 0 {
        return;
    }
    match v {
        Value::Struct(StructValue::Reader(s)) => visit_struct(&s, depth - 1),
        Value::List(ListValue::Reader(l)) => {
            let n = l.len().unwrap_or(0).min(8);
            for i in 0..n {
                if let Ok(e) = l.get(i64::from(i)) {
                    visit_value(e, depth - 1);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn mutated_messages_never_panic() {
    let reg = registry();
    let all = id(&reg, "All");
    let base = sample(&reg);
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let limits = ReadLimits {
        traversal_limit_in_words: Some(1 << 16),
        nesting_limit: Some(16),
    };
    let mut readable = 0;
    for round in 0..3000 {
        let mut bytes = base.clone();
        let flips = rng.random_range(1..6);
        for _ in 0..flips {
            let i = rng.random_range(0..bytes.len());
            bytes[i] = if round % 3 == 0 {
                rng.random()
            } else {
                bytes[i] ^ (1 << rng.random_range(0..8))
            };
        }
        if round % 7 == 0 {
            let cut = rng.random_range(0..bytes.len());
            bytes.truncate(cut);
        }
        let packed_try = MessageReader::from_bytes_packed(&bytes, limits);
        if let Ok(m) = packed_try {
            if let Ok(r) = m.root(&reg, all) {
                visit_struct(&r, 4);
            }
        }
        let Ok(m) = MessageReader::from_bytes(Arc::new(bytes), limits) else {
            continue;
        };
        let Ok(r) = m.root(&reg, all) else { continue };
        readable += 1;
        visit_struct(&r, 4);
        // The text format walks everything; it must return text or an error.
        let _ = capnp_dynamic::text::struct_text(&r, round % 2 == 0);
        // Copying a damaged message into a builder and touching it must be safe too.
        if let Ok(b) = r.as_builder() {
            let _ = b.get("s");
            let _ = b.set("ls", SetValue::Int(1));
            let _ = b.to_bytes();
            visit_struct(&b.as_reader(), 3);
        }
    }
    assert!(
        readable > 100,
        "mutations should leave many messages framed: {readable}"
    );
}
