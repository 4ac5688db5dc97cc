//! Reads through resolved locations (coords.rs) must equal reads that walk from the root,
//! on well-formed messages (one segment and many, with far pointers), under nesting limits,
//! and on 2,000 mutated ones: values, errors and the traversal budget left alike.

mod common;
#[path = "common/scalars.rs"]
mod scalars;

use std::fmt::Write;
use std::sync::Arc;

use capnp_dynamic::struct_::PrimSlot;
use capnp_dynamic::text;
use capnp_dynamic::{
    ListReader, ListValue, MessageBuilder, MessageReader, ReadLimits, Registry, SetValue,
    StructBuilder, StructReader, StructValue, Type, Value,
};
use common::{id, registry};
use rand::{Rng, SeedableRng};
use scalars::scalar_debug;

fn fill(m: &StructBuilder) {
    m.set("i32", SetValue::Int(-5)).expect("");
    m.set("b", SetValue::Bool(true)).expect("");
    m.set("u64", SetValue::Int(1 << 60)).expect("");
    m.set("f32", SetValue::Float(1.25)).expect("");
    m.set("t", SetValue::Str("text")).expect("");
    m.set("d", SetValue::Bytes(b"\x00\x01data")).expect("");
    m.set("defT", SetValue::Str("")).expect("");
    m.set_list("li", &[SetValue::Int(1), SetValue::Int(2)])
        .expect("");
    m.set_list("lb", &[SetValue::Bool(true), SetValue::Bool(false)])
        .expect("");
    m.set_list("lf", &[SetValue::Float(0.5)]).expect("");
    m.set_list("ld", &[SetValue::Bytes(b"d1"), SetValue::Bytes(b"")])
        .expect("");
    m.set_list("le", &[SetValue::Int(2), SetValue::Int(0)])
        .expect("");
    m.set_list("lt", &[SetValue::Str("a"), SetValue::Str("bc")])
        .expect("");
    let Value::List(ListValue::Builder(ls)) = m.init("ls", Some(2)).expect("") else {
        panic!()
    };
    for i in 0..2 {
        let Value::Struct(StructValue::Builder(p)) = ls.get(i).expect("") else {
            panic!()
        };
        p.set("name", SetValue::Str("person")).expect("");
        p.set("id", SetValue::Int(i128::from(i) + 10)).expect("");
        let Value::Struct(StructValue::Builder(e)) = p.get("employment").expect("") else {
            panic!()
        };
        e.set("school", SetValue::Str("MIT")).expect("");
    }
    let Value::Struct(StructValue::Builder(s)) = m.init("s", None).expect("") else {
        panic!()
    };
    s.set("d", SetValue::Bytes(b"xyz")).expect("");
    s.set("i16", SetValue::Int(-300)).expect("");
    // A chain of structs deep enough for the nesting limits tested below.
    let mut inner = s;
    for depth in 0..4 {
        let Value::Struct(StructValue::Builder(next)) = inner.init("s", None).expect("") else {
            panic!()
        };
        next.set("i32", SetValue::Int(depth)).expect("");
        next.set_list("li", &[SetValue::Int(depth)]).expect("");
        inner = next;
    }
    let Value::Struct(StructValue::Builder(g)) = m.get("g").expect("") else {
        panic!()
    };
    g.set("x", SetValue::Int(9)).expect("");
    g.set("y", SetValue::Str("why")).expect("");
}

/// The sample in one large segment, or spread over one-word segments (far pointers).
fn sample(reg: &Arc<Registry>, first_segment_words: u32) -> Vec<u8> {
    let message = MessageBuilder::with_first_segment_words(first_segment_words);
    let m = message.init_root(reg, id(reg, "All")).expect("root");
    fill(&m);
    m.to_bytes().expect("bytes")
}

/// Everything readable from `r`, as text; `slow` strips resolved locations at every level.
fn dump_struct(out: &mut String, r: &StructReader, depth: u32, slow: bool) {
    // (depth counts struct and list levels below the root)
    let r = if slow {
        r.without_location()
    } else {
        r.clone()
    };
    let _ = write!(out, "which={:?};", r.which().map(|w| w.1));
    for i in 0..r.schema().fields.len() {
        let name = &r.schema().fields[i].name;
        let _ = write!(
            out,
            "{name}: has={:?} ",
            r.has(name).map_err(|e| e.to_string())
        );
        // The fast side reads as the binding does: struct, list and group fields first without
        // a `Value` (`struct_fast`, `list_fast`, `group_fast`), `get_by_index` when they
        // decline; the walking
        // side must print the same, errors and the read budget left included.
        let prim = PrimSlot::of(r.schema(), i).and_then(|slot| r.prim_located(slot));
        let direct = if slow {
            None
        } else if let Some(p) = prim {
            // Primitive fields outside unions, as the binding reads them by a name it met.
            Some(Ok(Value::from(p)))
        } else {
            match r.struct_fast(i) {
                Ok(Some(s)) => Some(Ok(Value::Struct(StructValue::Reader(s)))),
                Err(e) => Some(Err(e)),
                Ok(None) => match r.list_fast(i) {
                    Ok(Some(l)) => Some(Ok(Value::List(ListValue::Reader(l)))),
                    Err(e) => Some(Err(e)),
                    Ok(None) => match r.group_fast(i) {
                        Ok(Some(g)) => Some(Ok(Value::Struct(StructValue::Reader(g)))),
                        Err(e) => Some(Err(e)),
                        Ok(None) => None,
                    },
                },
            }
        };
        let mut shown = String::new();
        match direct.unwrap_or_else(|| r.get_by_index(i)) {
            Ok(v) => dump_value(&mut shown, v, depth, slow),
            Err(e) => {
                let _ = write!(shown, "error {e}");
            }
        }
        out.push_str(&shown);
        out.push(';');
    }
}

fn dump_value(out: &mut String, v: Value, depth: u32, slow: bool) {
    match v {
        Value::Struct(StructValue::Reader(s)) if depth > 0 => {
            out.push('(');
            dump_struct(out, &s, depth - 1, slow);
            out.push(')');
        }
        Value::List(ListValue::Reader(l)) if depth > 0 => {
            let l = if slow { l.without_location() } else { l };
            let _ = write!(out, "len={:?}", l.len().map_err(|e| e.to_string()));
            let n = l.len().unwrap_or(0).min(8);
            out.push('[');
            for i in 0..n {
                // The binding's element reads (`scalar_bits`, `with_blob_element`) first on the
                // fast side: they must print what `get` prints on the walking side.
                if !slow {
                    if let Some(shown) = fast_element(&l, i64::from(i)) {
                        out.push_str(&shown);
                        out.push(',');
                        continue;
                    }
                }
                match l.get(i64::from(i)) {
                    Ok(e) => dump_value(out, e, depth - 1, slow),
                    Err(e) => {
                        let _ = write!(out, "error {e}");
                    }
                }
                out.push(',');
            }
            out.push(']');
        }
        Value::Struct(_) | Value::List(_) => out.push_str("<deep>"),
        Value::AnyPointer(_) => out.push_str("<any>"),
        other => {
            let _ = write!(out, "{other:?}");
        }
    }
}

/// Element `i` read by `scalar_bits` or `with_blob_element`, printed as `get`'s `Value` prints
/// (`None`: both declined).
fn fast_element(l: &ListReader, i: i64) -> Option<String> {
    match l.scalar_bits(i) {
        Ok(Some(bits)) => return Some(scalar_debug(l.element_type(), bits)),
        Ok(None) => {}
        Err(e) => return Some(format!("error {e}")),
    }
    let text = *l.element_type() == Type::Text;
    match l.with_blob_element(i, |b| b.to_vec()) {
        Ok(Some(bytes)) if text => Some(format!("{:?}", Value::Text(bytes))),
        Ok(Some(bytes)) => Some(format!("{:?}", Value::Data(bytes))),
        Ok(None) => None,
        Err(e) => Some(format!("error {e}")),
    }
}

/// `str()` and `repr()`'s text of `r` and of its struct list `ls`: printed by the walk over
/// the message's bytes on the fast side (where it answers), by the general walk on the
/// other (`without_location`, so the printer never sees a resolved location there).
fn texts(out: &mut String, r: &StructReader, slow: bool) {
    let show = |t: capnp_dynamic::Result<Vec<u8>>| {
        t.map(|t| String::from_utf8_lossy(&t).into_owned())
            .map_err(|e| e.to_string())
    };
    let r = if slow {
        r.without_location()
    } else {
        r.clone()
    };
    for pretty in [true, false] {
        let _ = write!(out, " text={:?}", show(text::struct_text(&r, pretty)));
    }
    if let Ok(Value::List(ListValue::Reader(l))) = r.get("ls") {
        let l = if slow { l.without_location() } else { l };
        let _ = write!(out, " list={:?}", show(text::list_text(&l, true)));
    }
}

fn both(bytes: &[u8], reg: &Arc<Registry>, limits: ReadLimits) -> Option<(String, String)> {
    let all = id(reg, "All");
    let mut outs = Vec::new();
    for slow in [false, true] {
        let m = MessageReader::from_bytes(Arc::new(bytes.to_vec()), limits).ok()?;
        let mut out = String::new();
        match m.root(reg, all) {
            Ok(r) => {
                // The text format first (on the whole budget) and again after every read.
                texts(&mut out, &r, slow);
                dump_struct(&mut out, &r, 7, slow);
                texts(&mut out, &r, slow);
            }
            Err(e) => out = format!("root error {e}"),
        }
        let _ = write!(out, " budget left {}", m.budget_left());
        outs.push(out);
    }
    let slow = outs.pop()?;
    let fast = outs.pop()?;
    Some((fast, slow))
}

#[test]
fn well_formed_messages_read_the_same_both_ways() {
    let reg = registry();
    for words in [1024, 1] {
        let bytes = sample(&reg, words);
        let (fast, slow) = both(&bytes, &reg, ReadLimits::default()).expect("framed");
        assert_eq!(fast, slow);
        assert!(
            fast.contains("text=Ok(\"( v = void,\\n  b = true"),
            "{fast}"
        );
        for expected in [
            "i32: has=Ok(true) Int(-5)",
            "Text([116, 101, 120, 116])",
            "Data([0, 1, 100, 97, 116, 97])",
            "UInt(1152921504606846976)",
            "defT: has=Ok(true) Text([])",
            "which=Ok(\"school\")",
            "Text([119, 104, 121])",
        ] {
            assert!(fast.contains(expected), "{expected} missing from {fast}");
        }
    }
}

#[test]
fn nesting_limits_fail_the_same_both_ways() {
    let reg = registry();
    for words in [1024, 1] {
        let bytes = sample(&reg, words);
        for nesting in 0..9 {
            let limits = ReadLimits {
                nesting_limit: Some(nesting),
                ..Default::default()
            };
            let (fast, slow) = both(&bytes, &reg, limits).expect("framed");
            assert_eq!(fast, slow, "nesting limit {nesting}");
            if nesting == 2 {
                assert!(fast.contains("nest"), "{fast}");
            }
        }
    }
}

#[test]
fn mutated_messages_read_the_same_both_ways() {
    let reg = registry();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xfa57);
    let limits = ReadLimits {
        traversal_limit_in_words: Some(1 << 12),
        nesting_limit: Some(12),
    };
    let mut compared = 0;
    for round in 0..2000 {
        let mut bytes = sample(&reg, if round % 2 == 0 { 1024 } else { 1 });
        let flips = rng.random_range(1..5);
        for _ in 0..flips {
            let i = rng.random_range(0..bytes.len());
            bytes[i] = if round % 3 == 0 {
                rng.random()
            } else {
                bytes[i] ^ (1 << rng.random_range(0..8))
            };
        }
        if let Some((fast, slow)) = both(&bytes, &reg, limits) {
            assert_eq!(fast, slow, "round {round}");
            compared += 1;
        }
    }
    assert!(compared > 500, "too few framed messages: {compared}");
}

/// The text format by the walk over the message's bytes (`struct_text_located`) answers on
/// one-segment messages and prints what the general walk prints, byte for byte, charging the
/// same words; with far pointers everywhere (one-word segments) it follows single far
/// pointers and declines at double ones, and whatever it prints is the walk's text.
#[test]
fn located_text_prints_what_the_walk_prints() {
    let reg = registry();
    for words in [1024, 1] {
        let bytes = sample(&reg, words);
        for pretty in [true, false] {
            let fast_m = MessageReader::from_bytes(Arc::new(bytes.clone()), ReadLimits::default())
                .expect("framed");
            let slow_m = MessageReader::from_bytes(Arc::new(bytes.clone()), ReadLimits::default())
                .expect("framed");
            let fast_r = fast_m.root(&reg, id(&reg, "All")).expect("root");
            let slow_r = slow_m.root(&reg, id(&reg, "All")).expect("root");
            let located = text::struct_text_located(&fast_r, pretty);
            let walked = text::struct_text(&slow_r.without_location(), pretty).expect("text");
            let located = match located {
                Some(located) => located,
                // Double far pointers (one-word segments leave no room for landing pads)
                // decline to the general walk; a one-segment message never does.
                None if words == 1 => continue,
                None => panic!("a one-segment message is printed in place"),
            };
            assert_eq!(
                String::from_utf8_lossy(&located),
                String::from_utf8_lossy(&walked)
            );
            assert_eq!(fast_m.budget_left(), slow_m.budget_left());
            let Ok(Value::List(ListValue::Reader(ls))) = fast_r.get("ls") else {
                panic!("ls")
            };
            let located = text::list_text_located(&ls, pretty).expect("list in place");
            let walked = text::list_text(&ls.without_location(), pretty).expect("list");
            assert_eq!(located, walked);
        }
    }
}

/// A read limit the text's words exceed: the walk over the bytes declines without charging,
/// and `struct_text` fails as the general walk does, with the same budget left.
#[test]
fn located_text_over_the_read_limit_fails_as_the_walk_does() {
    let reg = registry();
    let bytes = sample(&reg, 1024);
    let mut outcomes = std::collections::BTreeSet::new();
    for limit in (182u64..400).step_by(3) {
        let limits = ReadLimits {
            traversal_limit_in_words: Some(limit),
            nesting_limit: None,
        };
        let mut seen = Vec::new();
        for slow in [false, true] {
            let m = MessageReader::from_bytes(Arc::new(bytes.clone()), limits).expect("framed");
            let Ok(r) = m.root(&reg, id(&reg, "All")) else {
                seen.push("root over the limit".to_string());
                continue;
            };
            let r = if slow { r.without_location() } else { r };
            // Printed until the budget runs out.
            let mut shown = String::new();
            for _ in 0..4 {
                let t = text::struct_text(&r, true)
                    .map(|t| t.len())
                    .map_err(|e| e.to_string());
                outcomes.insert(t.is_ok());
                let _ = write!(shown, "{t:?} budget left {}; ", m.budget_left());
            }
            seen.push(shown);
        }
        assert_eq!(seen[0], seen[1], "limit {limit}");
    }
    assert_eq!(outcomes.len(), 2, "some limits fail and some do not");
}
