//! The message layer (capnp-dynamic) under arbitrary input: bytes read as a message (framed
//! or packed) with a schema (every field, every list element, the text format, JSON), and
//! builder operation sequences applied to two messages, one with recorded locations
//! (arena.rs) and one that always walks (struct assignments between them: direct copies from
//! a builder and from a reader, snapshots of self-copies), which must agree at every step.
//! Values or errors, never a panic.

#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use capnp_dynamic::struct_::PrimSlot;
use capnp_dynamic::LocatedReader;
use capnp_dynamic::{
    FieldKind, ListBuilder, ListValue, MessageBuilder, MessageReader, ReadLimits, Registry,
    SetValue, StructBuilder, StructReader, StructValue, Type, Value,
};
use libfuzzer_sys::fuzz_target;

const SCHEMA: &str = r#"
@0xd2b2b2b2b2b2b2b2;
struct Person {
  id @0 :UInt32;
  name @1 :Text;
  phones @2 :List(Phone);
  struct Phone { number @0 :Text; type @1 :Type; enum Type { mobile @0; home @1; } }
  employment :union { unemployed @3 :Void; employer @4 :Text; school @5 :Text; }
}
struct All {
  b @0 :Bool; i8 @1 :Int8; i16 @2 :Int16; i32 @3 :Int32; i64 @4 :Int64;
  u8 @5 :UInt8; u16 @6 :UInt16; u32 @7 :UInt32; u64 @8 :UInt64;
  f32 @9 :Float32; f64 @10 :Float64; t @11 :Text; d @12 :Data; e @13 :Person.Phone.Type;
  s @14 :All; li @15 :List(Int32); lb @16 :List(Bool); lt @17 :List(Text);
  ls @18 :List(Person); ll @19 :List(List(Int16)); any @20 :AnyPointer;
  defI @21 :Int32 = 42; defS @22 :Person = (id = 7, name = "Seven");
  g :group { x @23 :Int32; y @24 :Text; }
  u :union { none @25 :Void; n @26 :UInt16; p @27 :Person; }
}
"#;

fn registry() -> &'static (Arc<Registry>, u64) {
    static REG: OnceLock<(Arc<Registry>, u64)> = OnceLock::new();
    REG.get_or_init(|| {
        let mut fs = capnp_compiler::loader::MemoryFileSystem::default();
        fs.files
            .insert(PathBuf::from("/t/f.capnp"), SCHEMA.as_bytes().to_vec());
        let options = capnp_compiler::CompileOptions {
            src_prefixes: vec![PathBuf::from("/t")],
            ..Default::default()
        };
        let out = capnp_compiler::compile_paths(&[PathBuf::from("/t/f.capnp")], &options, &fs)
            .expect("schema");
        let reg = Registry::new();
        reg.add_request(&out.request.expect("request"))
            .expect("registry");
        let all = reg.find_by_display_name("f.capnp:All").expect("All");
        (Arc::new(reg), all)
    })
}

/// Reads everything reachable from `r` (bounded by depth; the budget bounds the rest).
fn read_all(r: &StructReader, depth: u32) {
    if depth > 8 {
        return;
    }
    // The handle as the binding's reader objects keep it (its data section found at the first
    // primitive read).
    let kept = LocatedReader::new(r.clone());
    for i in 0..r.schema().fields.len() {
        // As the binding reads: struct, list and group fields first without a `Value`, a list
        // borrowing `r`'s base.
        // SAFETY: `r` outlives the list: `v` is read and dropped within this iteration.
        #[allow(unsafe_code)]
        let lent = unsafe { r.list_fast_lent(i) };
        let v = match (r.struct_fast(i), lent, r.group_fast(i)) {
            (Ok(Some(s)), _, _) => Ok(Value::Struct(StructValue::Reader(s))),
            (_, Ok(Some(l)), _) => Ok(Value::List(ListValue::Reader(l))),
            (_, _, Ok(Some(g))) => Ok(Value::Struct(StructValue::Reader(g))),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
            _ => r.get_by_index(i),
        };
        // The binding's one-load primitive read agrees with the general read whenever it
        // answers (it declines inactive union members, pointers, and unlocated readers).
        if let Some(fast) = r.primitive_fast(i) {
            let general = v.as_ref().expect("a primitive the fast path read");
            assert_eq!(format!("{fast:?}"), format!("{general:?}"), "field {i}");
        }
        // And the read by a name the attribute slot met before (`PrimSlot`), likewise.
        if let Some(p) = PrimSlot::of(r.schema(), i).and_then(|slot| r.prim_located(slot)) {
            let slot_value = Value::from(p);
            let general = v.as_ref().expect("a primitive the slot read");
            assert_eq!(format!("{slot_value:?}"), format!("{general:?}"), "field {i}");
        }
        // And the attribute slot's read from the data section kept with the handle: the
        // located read's bits, or none when it has none.
        if let Some(slot) = PrimSlot::of(r.schema(), i) {
            assert_eq!(kept.prim_bits_quick(slot), r.prim_bits_located(slot), "field {i}");
        }
        read_value(v, depth);
        let _ = r.has_by_index(i);
    }
    let _ = r.which();
}

fn read_value(v: capnp_dynamic::Result<Value>, depth: u32) {
    match v {
        Ok(Value::Struct(StructValue::Reader(s))) => read_all(&s, depth + 1),
        Ok(Value::List(ListValue::Reader(l))) => {
            let n = l.len().unwrap_or(0).min(64);
            for i in 0..i64::from(n) {
                // The binding's element reads (straight from the located bytes) first.
                let _ = l.scalar_bits(i);
                let _ = l.with_blob_element(i, |b| b.len());
                if let Ok(Some(s)) = l.struct_element(i) {
                    let _ = s.which();
                }
                read_value(l.get(i), depth + 1);
            }
            let _ = l.get(-1);
        }
        _ => {}
    }
}

fn read(bytes: &[u8], packed: bool) {
    let (reg, all) = registry();
    let limits = ReadLimits {
        traversal_limit_in_words: Some(1 << 14),
        nesting_limit: None,
    };
    let m = if packed {
        MessageReader::from_bytes_packed(bytes, limits)
    } else {
        MessageReader::from_bytes(Arc::new(bytes.to_vec()), limits)
    };
    let Ok(m) = m else {
        return;
    };
    let Ok(r) = m.root(reg, *all) else {
        return;
    };
    read_all(&r, 0);
    // The text printed in place (when it answers) is the general walk's, byte for byte.
    if let Some(located) = capnp_dynamic::text::struct_text_located(&r, true) {
        if let Ok(walked) = capnp_dynamic::text::struct_text(&r.without_location(), true) {
            assert_eq!(located, walked, "located text differs from the walk's");
        }
    }
    let _ = capnp_dynamic::text::struct_text(&r, false);
    let _ = capnp_dynamic::json::struct_to_json(&r, false);
    let _ = r.as_builder();
}

#[derive(Clone)]
enum Handle {
    Struct(StructBuilder),
    List(ListBuilder),
}

/// The proof the binding holds for its reads and writes without the message lock.
fn excluded() -> capnp_dynamic::Excluded {
    // SAFETY: the fuzz target is one thread, and its messages are its own: nothing else reads
    // or writes them while the proof lives (one call).
    #[allow(unsafe_code)]
    unsafe {
        capnp_dynamic::Excluded::assume()
    }
}

fn show(v: &capnp_dynamic::Result<Value>) -> String {
    match v {
        Ok(Value::Struct(_) | Value::List(_) | Value::AnyPointer(_)) => "handle".into(),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("error {e}"),
    }
}

/// The handles two values are, moved (a clone starts without the location a handle may have
/// been made with, so cloning would leave those locations untested).
fn handles(
    x: capnp_dynamic::Result<Value>,
    y: capnp_dynamic::Result<Value>,
) -> Option<(Handle, Handle)> {
    let one = |v: capnp_dynamic::Result<Value>| match v {
        Ok(Value::Struct(StructValue::Builder(s))) => Some(Handle::Struct(s)),
        Ok(Value::List(ListValue::Builder(l))) => Some(Handle::List(l)),
        _ => None,
    };
    one(x).zip(one(y))
}

fn primitive(ty: &Type, raw: u64) -> Option<SetValue<'static>> {
    Some(match ty {
        Type::Bool => SetValue::Bool(raw & 1 == 1),
        Type::Float32 | Type::Float64 => SetValue::Float(f64::from_bits(raw)),
        Type::Void => SetValue::Void,
        t if t.is_pointer() => return None,
        // Any 64-bit pattern, signed: in and out of every integer range.
        _ => SetValue::Int(i128::from(raw as i64) >> (raw % 64)),
    })
}

/// One operation coded by `op` and `arg` on both messages; what each side observed.
fn apply(
    a: &Handle,
    b: &Handle,
    roots: (&StructBuilder, &StructBuilder),
    op: u8,
    arg: u64,
) -> (String, String, Option<(Handle, Handle)>) {
    match (a, b) {
        (Handle::Struct(a), Handle::Struct(b)) => {
            let n = a.schema().fields.len();
            let i = usize::from(op >> 3) % n;
            let field = &a.schema().fields[i];
            let ty = match &field.kind {
                FieldKind::Slot { ty, .. } => ty.clone(),
                FieldKind::Group { .. } => {
                    // `a` as the binding reads a group: without a `Value` first.
                    let x = match a.group_fast(i) {
                        Ok(Some(g)) => Ok(Value::Struct(StructValue::Builder(g))),
                        Ok(None) => a.get_by_index(i),
                        Err(e) => Err(e),
                    };
                    let y = b.get_by_index(i);
                    return (show(&x), show(&y), handles(x, y));
                }
            };
            match (op & 7, primitive(&ty, arg)) {
                (0..=2, Some(v)) => {
                    // `a` writes text and bytes as the binding writes a `str` into Text:
                    // without the message lock under the proof (the lock's path when `arg` is
                    // odd, as the binding's without a proof).
                    let x = match v {
                        SetValue::Str(_) | SetValue::Bytes(_) => {
                            let mut proof = (arg % 2 == 0).then(excluded);
                            a.set_blob_by_index_excluded(proof.as_mut(), i, v)
                        }
                        _ => a.set_by_index(i, v),
                    };
                    let y = b.set_by_index(i, v);
                    (format!("{x:?}"), format!("{y:?}"), None)
                }
                (3, _) => {
                    let size = matches!(ty, Type::List(_) | Type::Text | Type::Data)
                        .then_some((arg % 6) as u32);
                    // `a` as the binding makes it: a list field straight into its handle.
                    let fast = match size {
                        Some(n) => a.init_list_fast(i, n).transpose(),
                        None => None,
                    };
                    let x = fast
                        .map(|r| r.map(|l| Value::List(ListValue::Builder(l))))
                        .unwrap_or_else(|| a.init_by_index(i, size));
                    let y = b.init_by_index(i, size);
                    (show(&x), show(&y), handles(x, y))
                }
                (4, _) if ty.is_pointer() => {
                    let name = field.name.clone();
                    let (x, y) = (a.disown(&name), b.disown(&name));
                    match (x, y) {
                        (Ok(ox), Ok(oy)) if arg & 1 == 1 => {
                            let (p, q) = (a.adopt(&name, &ox), b.adopt(&name, &oy));
                            (format!("{p:?}"), format!("{q:?}"), None)
                        }
                        (x, y) => (format!("{:?}", x.is_ok()), format!("{:?}", y.is_ok()), None),
                    }
                }
                (5, _) => {
                    let (x, y) = (a.clear_by_index(i), b.clear_by_index(i));
                    (format!("{x:?}"), format!("{y:?}"), None)
                }
                (6, _) if ty == Type::Text => {
                    let (x, y) = (
                        a.set_by_index(i, SetValue::Str("fuzz")),
                        b.set_by_index(i, SetValue::Str("fuzz")),
                    );
                    (format!("{x:?}"), format!("{y:?}"), None)
                }
                // (Each copies the whole message: bounded, or 200 of them would double it
                // 200 times.)
                (7, _)
                    if matches!(ty, Type::Struct(id) if id == roots.0.schema().id)
                        && roots.0.message().size_in_words() < 4096 =>
                {
                    // Struct assignment from the other message's root (equal content): one
                    // side copies from a builder (both messages locked, `lock_pair`), the
                    // other from a reader over its bytes; the self-copy takes the snapshot.
                    let (ra, rb) = roots;
                    let bytes = ra.to_bytes().unwrap_or_default();
                    // Read without a nesting limit, as the other side's source (a builder's
                    // reader view) is: with the default limit, a message nested deeper than
                    // 64 by these copies failed on this side only (found by this target,
                    // the same on the code before round seventeen).
                    let limits = ReadLimits {
                        nesting_limit: Some(i64::from(i32::MAX)),
                        ..ReadLimits::default()
                    };
                    let reader = MessageReader::from_bytes(Arc::new(bytes), limits)
                        .and_then(|m| m.root(&registry().0, ra.schema().id));
                    let (x, y) = match (arg % 3, reader) {
                        (0, _) => (
                            a.set_by_index(i, SetValue::Struct(&ra.as_reader())),
                            b.set_by_index(i, SetValue::Struct(&rb.as_reader())),
                        ),
                        (_, Ok(r)) => (
                            a.set_by_index(i, SetValue::Struct(&rb.as_reader())),
                            b.set_by_index(i, SetValue::Struct(&r)),
                        ),
                        (_, Err(e)) => return (e.to_string(), e.to_string(), None),
                    };
                    (format!("{x:?}"), format!("{y:?}"), None)
                }
                _ => {
                    // `a` reads as the binding does (struct and list fields without a
                    // `Value` first), `b` by the general read. A list borrowing `a`'s base,
                    // when the fast read answers, reads as the general read's list.
                    // SAFETY: `a` outlives the lent list, dropped within this statement.
                    #[allow(unsafe_code)]
                    let lent = unsafe { a.list_fast_lent(Some(&mut excluded()), i) }
                        .map(|l| l.map(|l| (l.len(), format!("{:?}", l.get(0)))));
                    if let Ok(Some(seen)) = lent {
                        let general = match a.get_by_index(i) {
                            Ok(Value::List(ListValue::Builder(l))) => {
                                (l.len(), format!("{:?}", l.get(0)))
                            }
                            other => panic!("field {i}: a lent list, then {}", show(&other)),
                        };
                        assert_eq!(format!("{seen:?}"), format!("{general:?}"), "field {i}");
                    }
                    let x = match (a.struct_fast(i), a.list_fast(i)) {
                        (Ok(Some(s)), _) => Ok(Value::Struct(StructValue::Builder(s))),
                        (_, Ok(Some(l))) => Ok(Value::List(ListValue::Builder(l))),
                        (Err(e), _) | (_, Err(e)) => Err(e),
                        _ => a.get_by_index(i),
                    };
                    let y = b.get_by_index(i);
                    (show(&x), show(&y), handles(x, y))
                }
            }
        }
        (Handle::List(a), Handle::List(b)) => {
            let index = i64::from(op >> 2) - 32;
            match (op & 3, primitive(a.element_type(), arg)) {
                (0, _) => (format!("{:?}", a.len()), format!("{:?}", b.len()), None),
                (1, Some(v)) => {
                    let (x, y) = (a.set(index, v), b.set(index, v));
                    (format!("{x:?}"), format!("{y:?}"), None)
                }
                _ => {
                    let (x, y) = (a.get(index), b.get(index));
                    (show(&x), show(&y), handles(x, y))
                }
            }
        }
        _ => unreachable!("handles come in pairs"),
    }
}

fn build(bytes: &[u8]) {
    let (reg, all) = registry();
    let words = if bytes.first().is_some_and(|b| b & 1 == 1) {
        2
    } else {
        1024
    };
    // `ra`'s message is made as `new_message()` makes one: with the default first segment, it
    // is the spare message the previous run left (emptied for reuse), so every run also
    // checks that a reused message is a new one.
    let mb = MessageBuilder::with_first_segment_words(words);
    mb.walk_only();
    let (ra, rb) = (
        MessageBuilder::new_root(Some(words), reg, &reg.get_struct(*all).expect("schema"))
            .expect("root"),
        mb.init_root(reg, *all).expect("root"),
    );
    let mut pool = vec![(Handle::Struct(ra.clone()), Handle::Struct(rb.clone()))];
    // Each operation: a handle, an opcode, a 64-bit argument.
    for chunk in bytes.chunks_exact(10).take(200) {
        let k = usize::from(chunk[0]) % pool.len();
        let arg = u64::from_le_bytes(chunk[2..10].try_into().expect("8 bytes"));
        let (x, y, made) = {
            let (a, b) = &pool[k];
            apply(a, b, (&ra, &rb), chunk[1], arg)
        };
        assert_eq!(x, y, "recorded locations and walks disagree");
        if let Some(h) = made {
            if pool.len() < 32 {
                pool.push(h);
            } else {
                pool[1 + usize::from(chunk[0]) % 31] = h;
            }
        }
        assert_eq!(ra.to_bytes().ok(), rb.to_bytes().ok(), "messages differ");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        // Bit 1: the bytes as a packed message (packed.rs's unpacker).
        read(rest, mode & 2 != 0);
    } else {
        build(rest);
    }
});
