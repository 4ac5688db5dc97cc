//! Pooled first segments (external.rs: a spare taken and given with one atomic operation,
//! then a mutex-guarded vector): messages built and dropped in varied numbers and orders, on
//! several threads at once, each read back exactly as written. A segment handed out with
//! stale bytes would show here as a wrong value (and debug builds also assert that every
//! pooled segment is all zero when it is handed out).

mod common;

use std::sync::Arc;

use capnp_dynamic::{MessageBuilder, Registry, SetValue, Value};
use common::{id, registry};

fn build(reg: &Arc<Registry>, k: u32) -> MessageBuilder {
    let m = MessageBuilder::new();
    let root = m.init_root(reg, id(reg, "Person")).expect("root");
    // Messages differ in size, so their used words (zeroed on the way back) differ.
    if matches!(k % 3, 1 | 2) {
        root.set("id", SetValue::Int(i128::from(k) + 1))
            .expect("id");
        root.set("name", SetValue::Str(&"n".repeat(k as usize % 50)))
            .expect("name");
    }
    m
}

fn check(reg: &Arc<Registry>, m: &MessageBuilder, k: u32) {
    let root = m.get_root(reg, id(reg, "Person")).expect("root");
    let expected_id = if matches!(k % 3, 1 | 2) {
        u64::from(k) + 1
    } else {
        0
    };
    let expected_name = if matches!(k % 3, 1 | 2) {
        "n".repeat(k as usize % 50)
    } else {
        String::new()
    };
    assert!(matches!(root.get("id"), Ok(Value::UInt(n)) if n == expected_id));
    assert!(matches!(root.get("email"), Ok(Value::Text(t)) if t.is_empty()));
    assert!(matches!(root.get("name"), Ok(Value::Text(t)) if t == expected_name.as_bytes()));
}

#[test]
fn pooled_segments_come_back_zeroed_across_threads() {
    let reg = registry();
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let reg = reg.clone();
            std::thread::spawn(move || {
                for round in 0..60u32 {
                    // 1 to 40 messages alive at once: the spare, the vector (16), the heap.
                    let n = (round * 7 + t * 13) % 40 + 1;
                    let mut alive: Vec<(u32, MessageBuilder)> = (0..n)
                        .map(|k| (k + round, build(&reg, k + round)))
                        .collect();
                    for (k, m) in &alive {
                        check(&reg, m, *k);
                    }
                    // Dropped from the middle outwards, then the rest.
                    while !alive.is_empty() {
                        alive.remove(alive.len() / 2);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
}
