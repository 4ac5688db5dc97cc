//! Builder handles with recorded locations (arena.rs) against handles that always walk from
//! the root: the same random operation sequences — reads, sets, `init`, `disown`/`adopt`,
//! `clear`, list element access, handles kept across all of them — applied to two messages,
//! one of them `walk_only`, must give the same results and the same bytes at every step.

mod common;
#[path = "common/scalars.rs"]
mod scalars;

use std::sync::Arc;

use capnp_dynamic::struct_::PrimSlot;
use capnp_dynamic::{
    FieldKind, ListBuilder, ListValue, MessageBuilder, MessageReader, Number, ReadLimits, Registry,
    SetValue, StructBuilder, StructValue, Type, Value,
};
use common::{id, registry};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scalars::scalar_debug;

#[derive(Clone)]
enum Handle {
    Struct(StructBuilder),
    List(ListBuilder),
}

/// A value's observable content (handles by kind only: their content is compared through
/// later operations on them).
fn show(v: &capnp_dynamic::Result<Value>) -> String {
    match v {
        Ok(Value::Struct(_)) => "struct".into(),
        Ok(Value::List(_)) => "list".into(),
        Ok(Value::AnyPointer(_)) => "any".into(),
        Ok(other) => format!("{other:?}"),
        Err(e) => format!("error {e}"),
    }
}

/// The handle a value is, moved (not cloned: a clone starts without the location the
/// handle may have been made with).
fn handle_of(v: capnp_dynamic::Result<Value>) -> Option<Handle> {
    match v {
        Ok(Value::Struct(StructValue::Builder(s))) => Some(Handle::Struct(s)),
        Ok(Value::List(ListValue::Builder(l))) => Some(Handle::List(l)),
        _ => None,
    }
}

/// A random value for a primitive of type `ty` (sometimes out of its range).
fn primitive(rng: &mut StdRng, ty: &Type) -> Option<SetValue<'static>> {
    let int = |rng: &mut StdRng, bits: u32, signed: bool| {
        let span = 1i128 << bits;
        let lo = if signed { -(span / 2) } else { 0 };
        // One in ten just outside the range.
        if rng.random_range(0..10) == 0 {
            SetValue::Int(lo - 1)
        } else {
            SetValue::Int(lo + rng.random_range(0..span))
        }
    };
    Some(match ty {
        Type::Bool => SetValue::Bool(rng.random()),
        Type::Int8 => int(rng, 8, true),
        Type::Int16 => int(rng, 16, true),
        Type::Int32 => int(rng, 32, true),
        Type::Int64 => int(rng, 63, true),
        Type::UInt8 => int(rng, 8, false),
        Type::UInt16 => int(rng, 16, false),
        Type::UInt32 => int(rng, 32, false),
        Type::UInt64 => int(rng, 64, false),
        Type::Float32 | Type::Float64 => SetValue::Float(rng.random_range(-1e6..1e6)),
        Type::Enum(_) => SetValue::Int(rng.random_range(0..4)),
        Type::Void => SetValue::Void,
        _ => return None,
    })
}

/// One random operation on handle `h` of both messages; returns what each side observed and
/// the handles it produced.
/// Field `i` read as the binding reads it: struct, list and group fields first without a
/// `Value` (`struct_fast_lent`, `list_fast_lent`, `group_fast_excluded_lent`, which falls back
/// to the lock), `get_by_index` when they decline.
///
/// # Safety
/// `s` must outlive the result (the handle may borrow `s`'s base, as the binding's do).
#[allow(
    unsafe_code,
    reason = "the binding's lent list, struct and group handles, whose contract it passes on"
)]
unsafe fn binding_get(s: &StructBuilder, i: usize) -> capnp_dynamic::Result<Value> {
    // SAFETY (each call below): the caller keeps `s` alive while the handle lives (the
    // contract).
    if let Some(child) = unsafe { s.struct_fast_lent(Some(&mut excluded()), i)? } {
        return Ok(Value::Struct(StructValue::Builder(child)));
    }
    // SAFETY: as above.
    if let Some(list) = unsafe { s.list_fast_lent(Some(&mut excluded()), i)? } {
        return Ok(Value::List(ListValue::Builder(list)));
    }
    // SAFETY: as above.
    if let Some(group) = unsafe { s.group_fast_excluded_lent(Some(&excluded()), i)? } {
        return Ok(Value::Struct(StructValue::Builder(group)));
    }
    s.get_by_index(i)
}

/// `init_by_index` of a sized field as the binding makes it: a list field straight into its
/// handle first (`init_list_fast_lent`).
///
/// # Safety
/// As `binding_get`'s.
#[allow(
    unsafe_code,
    reason = "the binding's lent list handles, whose contract it passes on"
)]
unsafe fn binding_init(s: &StructBuilder, i: usize, n: u32) -> capnp_dynamic::Result<Value> {
    // SAFETY: as in `binding_get`.
    if let Some(list) = unsafe { s.init_list_fast_lent(Some(&mut excluded()), i, n)? } {
        return Ok(Value::List(ListValue::Builder(list)));
    }
    s.init_by_index(i, Some(n))
}

#[allow(unsafe_code, reason = "makes lent list handles of the pool's handles")]
fn step(
    rng: &mut StdRng,
    reg: &Arc<Registry>,
    fast: &Handle,
    slow: &Handle,
) -> (String, String, Option<(Handle, Handle)>) {
    match (fast, slow) {
        (Handle::Struct(a), Handle::Struct(b)) => {
            let fields = &a.schema().fields;
            let i = rng.random_range(0..fields.len());
            let field = &fields[i];
            match &field.kind {
                FieldKind::Group { .. } => {
                    // SAFETY: `a` is a handle of `run_from`'s pool, which drops handles only after
                    // every handle made after them (in reverse order of making).
                    let (x, y) = (unsafe { binding_get(a, i) }, b.get_by_index(i));
                    (show(&x), show(&y), handle_of(x).zip(handle_of(y)))
                }
                FieldKind::Slot { ty, .. } => {
                    let op = rng.random_range(0..10);
                    if let (Some(v), true) = (primitive(rng, ty), op < 6) {
                        if op < 3 {
                            // Sometimes the binding's write of a number without the lock
                            // (falling back as the binding does).
                            let x = match (op, number_of(&v)) {
                                (0, Some(n)) => {
                                    match a.set_number_by_index_excluded(Some(&excluded()), i, n) {
                                        Ok(true) => Ok(()),
                                        Ok(false) => a.set_by_index(i, v),
                                        Err(e) => Err(e),
                                    }
                                }
                                _ => a.set_by_index(i, v),
                            };
                            let y = b.set_by_index(i, v);
                            (format!("{x:?}"), format!("{y:?}"), None)
                        } else {
                            // The binding's read of a primitive without the lock by a name it
                            // met before (falling back as the binding does).
                            let x = PrimSlot::of(a.schema(), i)
                                .and_then(|slot| a.prim_excluded(&excluded(), slot))
                                .map(|p| Ok(Value::from(p)))
                                .unwrap_or_else(|| a.get_by_index(i));
                            let y = b.get_by_index(i);
                            (show(&x), show(&y), None)
                        }
                    } else {
                        match (ty, op) {
                            (Type::Text, _) => {
                                let t = if rng.random() { "some text" } else { "" };
                                // The binding's write of a `str` into a Text field (under
                                // the proof, or with the lock when the binding has none).
                                let mut proof = rng.random::<bool>().then(excluded);
                                let (x, y) = (
                                    a.set_blob_by_index_excluded(
                                        proof.as_mut(),
                                        i,
                                        SetValue::Str(t),
                                    ),
                                    b.set_by_index(i, SetValue::Str(t)),
                                );
                                (format!("{x:?}"), format!("{y:?}"), None)
                            }
                            (Type::Data, 6..=8) => {
                                let d: &[u8] = match rng.random_range(0..3) {
                                    0 => b"",
                                    1 => b"\x00\x01\x02",
                                    _ => b"some longer data, over a word",
                                };
                                let mut proof = rng.random::<bool>().then(excluded);
                                let (x, y) = (
                                    a.set_blob_by_index_excluded(
                                        proof.as_mut(),
                                        i,
                                        SetValue::Bytes(d),
                                    ),
                                    b.set_by_index(i, SetValue::Bytes(d)),
                                );
                                (format!("{x:?}"), format!("{y:?}"), None)
                            }
                            (Type::Data, _) => {
                                let (x, y) = (a.get_by_index(i), b.get_by_index(i));
                                (show(&x), show(&y), None)
                            }
                            // Assignment from another message: a builder's reader view
                            // (both messages locked together) or a reader of its bytes.
                            (Type::Struct(id), 0..=1) => {
                                let src = StructBuilder::new_message(reg, *id).expect("source");
                                // Its first field with a value (out of range ones fail).
                                for (j, f) in src.schema().fields.iter().enumerate() {
                                    if let FieldKind::Slot { ty, .. } = &f.kind {
                                        if let Some(v) = primitive(rng, ty) {
                                            let _ = src.set_by_index(j, v);
                                            break;
                                        }
                                    }
                                }
                                let reader = if op == 0 {
                                    src.as_reader()
                                } else {
                                    let bytes = src.to_bytes().expect("bytes");
                                    MessageReader::from_bytes(
                                        Arc::new(bytes),
                                        ReadLimits::default(),
                                    )
                                    .expect("read")
                                    .root(reg, *id)
                                    .expect("root")
                                };
                                let (x, y) = (
                                    a.set_by_index(i, SetValue::Struct(&reader)),
                                    b.set_by_index(i, SetValue::Struct(&reader)),
                                );
                                (format!("{x:?}"), format!("{y:?}"), None)
                            }
                            (Type::Struct(_), 6..=7) => {
                                let (x, y) = (a.init_by_index(i, None), b.init_by_index(i, None));
                                (show(&x), show(&y), handle_of(x).zip(handle_of(y)))
                            }
                            (Type::Struct(_) | Type::List(_), 8) => {
                                let name = field.name.clone();
                                let (x, y) = (a.disown(&name), b.disown(&name));
                                let out = (format!("{:?}", x.is_ok()), format!("{:?}", y.is_ok()));
                                // Adopted back at once half of the time (else the field stays null).
                                if let (Ok(ox), Ok(oy), true) = (x, y, rng.random()) {
                                    let (p, q) = (a.adopt(&name, &ox), b.adopt(&name, &oy));
                                    return (
                                        format!("{out:?} {p:?}"),
                                        format!("{out:?} {q:?}"),
                                        None,
                                    );
                                }
                                out_pair(out)
                            }
                            // A list of numbers written in one step (`b.ints = [...]`),
                            // some not taken as they are (nothing written then).
                            (Type::List(_), 0..=1) => {
                                let n = rng.random_range(0..5);
                                let values: Vec<Number> = (0..n)
                                    .map(|_| match rng.random_range(0..8) {
                                        0 => Number::Bool(rng.random()),
                                        1 => Number::Float(rng.random_range(-2.0..2.0)),
                                        2 => Number::UInt(u64::MAX - rng.random_range(0..3)),
                                        3 => Number::Int(rng.random_range(-70_000..70_000)),
                                        _ => Number::Int(rng.random_range(-3..300)),
                                    })
                                    .collect();
                                let (x, y) = (
                                    a.set_number_list_by_index(i, &values),
                                    b.set_number_list_by_index(i, &values),
                                );
                                (format!("{x:?}"), format!("{y:?}"), None)
                            }
                            (Type::List(_), 6..=7) => {
                                let n = rng.random_range(0..5);
                                // SAFETY: `a` is a handle of `run_from`'s pool, which drops handles only after
                                // every handle made after them (in reverse order of making).
                                let (x, y) = (
                                    unsafe { binding_init(a, i, n) },
                                    b.init_by_index(i, Some(n)),
                                );
                                (show(&x), show(&y), handle_of(x).zip(handle_of(y)))
                            }
                            (_, 9) => {
                                let (x, y) = (a.clear_by_index(i), b.clear_by_index(i));
                                (format!("{x:?}"), format!("{y:?}"), None)
                            }
                            _ => {
                                // SAFETY: `a` is a handle of `run_from`'s pool, which drops handles only after
                                // every handle made after them (in reverse order of making).
                                let (x, y) = (unsafe { binding_get(a, i) }, b.get_by_index(i));
                                (show(&x), show(&y), handle_of(x).zip(handle_of(y)))
                            }
                        }
                    }
                }
            }
        }
        (Handle::List(a), Handle::List(b)) => {
            let index = rng.random_range(-6..6);
            match rng.random_range(0..5) {
                0 => (format!("{:?}", a.len()), format!("{:?}", b.len()), None),
                // All elements at once (a Python list assigned to a list field), sometimes
                // more values than elements.
                4 => {
                    let n = rng.random_range(0..7);
                    let values: Vec<SetValue<'static>> = (0..n)
                        .filter_map(|_| primitive(rng, a.element_type()))
                        .collect();
                    let (x, y) = (a.set_all(&values), b.set_all(&values));
                    (format!("{x:?}"), format!("{y:?}"), None)
                }
                // The binding's element reads of numbers (`scalar_bits`, and without the lock
                // `scalar_bits_excluded`, each falling back as the binding does) against `get`.
                // The binding's element reads of Text and Data (`with_blob_element`, and
                // without the lock `with_blob_element_excluded`, each falling back to `get`
                // as the binding does) against `get`.
                2 if a.element_type().blob_kind().is_some() => {
                    let text = a.element_type().blob_kind() == Some(true);
                    let own = |bytes: &[u8]| match text {
                        true => Value::Text(bytes.to_vec()),
                        false => Value::Data(bytes.to_vec()),
                    };
                    let read = if rng.random_bool(0.5) {
                        a.with_blob_element(index, own)
                    } else {
                        a.with_blob_element_excluded(Some(&excluded()), index, own)
                    };
                    let x = match read {
                        Ok(Some(v)) => show(&Ok(v)),
                        Ok(None) => show(&a.get(index)),
                        Err(e) => format!("error {e}"),
                    };
                    (x, show(&b.get(index)), None)
                }
                // Text and Data elements written (a pointer write: into a null slot it keeps
                // the recorded locations, and takes words of the segment the reads check).
                1 if a.element_type().blob_kind().is_some() => {
                    const TEXTS: [&str; 4] = ["", "a", "hello", "a longer text of several words"];
                    let t = TEXTS[rng.random_range(0..TEXTS.len())];
                    let v = match a.element_type().blob_kind() {
                        Some(true) => SetValue::Str(t),
                        _ => SetValue::Bytes(t.as_bytes()),
                    };
                    let (x, y) = (a.set(index, v), b.set(index, v));
                    (format!("{x:?}"), format!("{y:?}"), None)
                }
                2 => {
                    let read = if rng.random_bool(0.5) {
                        a.scalar_bits(index)
                    } else {
                        a.scalar_bits_excluded(Some(&excluded()), index)
                    };
                    let x = match read {
                        Ok(Some(bits)) => scalar_debug(a.element_type(), bits),
                        Ok(None) => show(&a.get(index)),
                        Err(e) => format!("error {e}"),
                    };
                    (x, show(&b.get(index)), None)
                }
                1 => match primitive(rng, a.element_type()) {
                    Some(v) => {
                        let (x, y) = (a.set(index, v), b.set(index, v));
                        (format!("{x:?}"), format!("{y:?}"), None)
                    }
                    None => {
                        let (x, y) = (a.get(index), b.get(index));
                        (show(&x), show(&y), handle_of(x).zip(handle_of(y)))
                    }
                },
                _ => {
                    let (x, y) = (a.get(index), b.get(index));
                    (show(&x), show(&y), handle_of(x).zip(handle_of(y)))
                }
            }
        }
        _ => unreachable!("handles are made in pairs"),
    }
}

/// `v` as the binding passes a Python number (`set_number_by_index`), when it is one.
fn number_of(v: &SetValue<'_>) -> Option<Number> {
    match *v {
        SetValue::Bool(b) => Some(Number::Bool(b)),
        SetValue::Int(i) => i64::try_from(i)
            .map(Number::Int)
            .ok()
            .or_else(|| u64::try_from(i).ok().map(Number::UInt)),
        SetValue::Float(f) => Some(Number::Float(f)),
        _ => None,
    }
}

/// The proof the binding holds for its lock-free element reads and number writes.
fn excluded() -> capnp_dynamic::Excluded {
    #[allow(unsafe_code)]
    // SAFETY: only this test's thread touches the messages it reads with the proof (each test
    // builds its own; the harness's other threads touch only theirs), and only between reads:
    // the exclusion `Excluded::assume` asks for, for these messages.
    unsafe {
        capnp_dynamic::Excluded::assume()
    }
}

/// A read of `h` that goes through its recorded location when there is one (the union's
/// discriminant, or its first primitive field; a list's length), on both sides.
fn probe(fast: &Handle, slow: &Handle) -> (String, String) {
    match (fast, slow) {
        (Handle::Struct(a), Handle::Struct(b)) => {
            if a.schema().union.is_some() {
                return (
                    format!("{:?}", a.which_field()),
                    format!("{:?}", b.which_field()),
                );
            }
            let first = a.schema().fields.iter().position(|f| {
                f.discriminant.is_none()
                    && matches!(&f.kind, FieldKind::Slot { ty, .. } if !ty.is_pointer())
            });
            match first {
                Some(i) => (show(&a.get_by_index(i)), show(&b.get_by_index(i))),
                None => (String::new(), String::new()),
            }
        }
        (Handle::List(a), Handle::List(b)) => (format!("{:?}", a.len()), format!("{:?}", b.len())),
        _ => unreachable!("handles are made in pairs"),
    }
}

fn out_pair(out: (String, String)) -> (String, String, Option<(Handle, Handle)>) {
    (out.0, out.1, None)
}

fn run(seed: u64, steps: usize) {
    run_from("All", seed, steps, 40, false);
}

/// As `run`, from a root struct `root`, keeping at most `pool_max` handles (fewer: each is
/// used more often, so a handle made stale is more likely used before the next walk), and
/// with `probe_all`, reading every kept handle (in random order) after each step.
fn run_from(root: &str, seed: u64, steps: usize, pool_max: usize, probe_all: bool) {
    let reg = registry();
    let mut rng = StdRng::seed_from_u64(seed);
    // Small first segments: objects spread over many segments (far pointers).
    let words = if seed.is_multiple_of(2) { 1024 } else { 4 };
    let (ma, mb) = (
        MessageBuilder::with_first_segment_words(words),
        MessageBuilder::with_first_segment_words(words),
    );
    mb.walk_only();
    let root = id(&reg, root);
    let (ra, rb) = (
        ma.init_root(&reg, root).expect("root"),
        mb.init_root(&reg, root).expect("root"),
    );
    let mut pool = vec![(Handle::Struct(ra.clone()), Handle::Struct(rb.clone()))];
    // Handles replaced in the pool, kept until the end: a list handle may borrow the base of
    // the struct handle it was read from (`binding_get`), so every handle is dropped only
    // after all those made after it (in reverse order of making, below).
    let mut born = vec![0usize];
    let mut retired = Vec::new();
    for n in 0..steps {
        let k = rng.random_range(0..pool.len());
        // Used in place: a clone of a handle starts without a recorded location.
        let (a, b) = &pool[k];
        let (x, y, made) = step(&mut rng, &reg, a, b);
        assert_eq!(x, y, "seed {seed}, step {n}");
        if let Some(h) = made {
            if pool.len() < pool_max {
                pool.push(h);
                born.push(n + 1);
            } else {
                let j = rng.random_range(1..pool.len());
                retired.push((born[j], std::mem::replace(&mut pool[j], h)));
                born[j] = n + 1;
            }
        }
        assert_eq!(
            ra.to_bytes().expect("bytes"),
            rb.to_bytes().expect("bytes"),
            "seed {seed}, step {n}: messages differ"
        );
        if probe_all {
            let mut order: Vec<usize> = (0..pool.len()).collect();
            for j in (1..order.len()).rev() {
                order.swap(j, rng.random_range(0..=j));
            }
            for j in order {
                let (x, y) = probe(&pool[j].0, &pool[j].1);
                assert_eq!(x, y, "seed {seed}, step {n}, probe of handle {j}");
            }
        }
    }
    let mut all: Vec<_> = born.into_iter().zip(pool).chain(retired).collect();
    all.sort_by_key(|(born, _)| std::cmp::Reverse(*born));
    for handles in all {
        drop(handles);
    }
}

#[test]
fn fast_paths_match_walks_over_random_sequences() {
    for seed in 0..60 {
        run(seed, 400);
    }
}

/// Pointer writes through recorded locations (Text and Data sets, `init`), which keep every
/// other location current when the slot was null: union members sharing one slot (a Text
/// over a struct or list some handle is inside, a list handle made while the slot was null),
/// struct lists of the same struct, groups, kept handles.
#[test]
fn pointer_writes_match_walks_over_random_sequences() {
    for seed in 0..200 {
        run_from("Mix", seed, 300, 12, seed % 2 == 0);
    }
}

/// A list of primitives stored as structs (written by an older schema as `List(S)`) reads the
/// same through recorded locations as through walks: the first data word of each element.
#[test]
fn primitive_list_stored_as_structs() {
    let reg = common::registry_for(
        "@0xd2b2b2b2b2b2b2b3;\n\
         struct S { v @0 :Int32; w @1 :Text; }\n\
         struct Old { l @0 :List(S); }\n\
         struct New { l @0 :List(Int32); }\n",
    );
    let old = StructBuilder::new_message(&reg, id(&reg, "Old")).expect("root");
    let Ok(Value::List(ListValue::Builder(l))) = old.init("l", Some(3)) else {
        panic!("list")
    };
    for i in 0..3 {
        let Ok(Value::Struct(StructValue::Builder(e))) = l.get(i) else {
            panic!("element")
        };
        e.set("v", SetValue::Int(i128::from(i) * 10 + 1))
            .expect("v");
    }
    let bytes = old.to_bytes().expect("bytes");
    let results: Vec<String> = [false, true]
        .iter()
        .map(|&walk| {
            let m = MessageBuilder::new();
            if walk {
                m.walk_only();
            }
            let reader = capnp_dynamic::MessageReader::from_bytes(
                Arc::new(bytes.clone()),
                capnp_dynamic::ReadLimits::default(),
            )
            .expect("reader");
            let new = reader.root(&reg, id(&reg, "New")).expect("root");
            let b = new.as_builder_with(m).expect("builder");
            let Ok(Value::List(ListValue::Builder(l))) = b.get("l") else {
                panic!("list")
            };
            let mut out = format!("{:?}", l.len());
            for i in -4..4 {
                out += &format!(" {}", show(&l.get(i)));
                out += &format!(" {:?}", l.set(i, SetValue::Int(7)));
            }
            out + &format!(" {:?}", b.to_bytes().expect("bytes"))
        })
        .collect();
    assert_eq!(results[0], results[1]);
    assert!(results[0].starts_with("Ok(3) error"), "{}", results[0]);
}

/// A struct list handle shared by two threads: one re-initializes the list (moving it, so
/// every recorded location goes stale) and rewrites its elements through the handle (whose
/// walks record the list again), the other makes elements and reads `len` through the same
/// handle, which happens without the message lock while the record is current (arena.rs
/// `ListCache::peek`). Every element the reader makes must read a value written to that
/// element (or zero, after a re-init) or fail as out of range, never bytes of another place.
#[test]
fn struct_elements_made_without_the_lock_while_another_thread_moves_the_list() {
    let reg = registry();
    let root = StructBuilder::new_message(&reg, id(&reg, "All")).expect("root");
    root.init("ls", Some(4)).expect("init");
    let Ok(Value::List(ListValue::Builder(list))) = root.get("ls") else {
        panic!("list")
    };
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for k in 1..20_000u32 {
                let n = 1 + k % 4;
                root.init("ls", Some(n)).expect("re-init");
                for i in 0..n {
                    let Ok(Value::Struct(StructValue::Builder(e))) = list.get(i64::from(i)) else {
                        panic!("element {i} of {n}")
                    };
                    e.set("id", SetValue::Int(i128::from(k * 10 + i)))
                        .expect("set");
                }
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        let mut made = 0u64;
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            let len = list.len().expect("len");
            assert!((1..=4).contains(&len), "len {len}");
            for i in 0..4u32 {
                match list.get(i64::from(i)) {
                    Ok(Value::Struct(StructValue::Builder(e))) => {
                        made += 1;
                        match e.get("id") {
                            Ok(Value::UInt(v)) => {
                                assert!(v == 0 || v % 10 == u64::from(i), "element {i} read {v}")
                            }
                            Ok(other) => panic!("element {i} read {other:?}"),
                            // The list was replaced by a shorter one since.
                            Err(capnp_dynamic::Error::IndexOutOfRange) => {}
                            Err(e) => panic!("element {i}: {e}"),
                        }
                    }
                    Err(capnp_dynamic::Error::IndexOutOfRange) => {}
                    other => panic!("element {i}: {}", show(&other)),
                }
            }
        }
        assert!(made > 0);
    });
}

/// Every way a handle can sit behind a pointer slot (a struct or list made by `init`, an
/// element of such a list, a list read while the slot was null), then every pointer write
/// into that slot through a parent whose location is current (union members share it), then
/// every use of the kept handle: the same results and bytes as on a walk-only message.
#[test]
fn handles_behind_an_overwritten_slot_match_walks() {
    let reg = registry();
    type Make = fn(&StructBuilder) -> capnp_dynamic::Result<Value>;
    type Write = fn(&StructBuilder) -> capnp_dynamic::Result<()>;
    let makes: [(&str, Make); 6] = [
        ("init us", |u| u.init("us", None)),
        ("init ul", |u| u.init("ul", Some(3))),
        ("init ulm", |u| u.init("ulm", Some(2))),
        ("element of ulm", |u| match u.init("ulm", Some(2))? {
            Value::List(ListValue::Builder(l)) => l.get(1),
            _ => unreachable!(),
        }),
        ("null ul", |u| {
            u.init("ul", Some(0))?;
            u.clear_by_index(3)?;
            u.get("ul")
        }),
        ("null ulm", |u| {
            u.set("uv", SetValue::Void)?;
            u.set("ul", SetValue::Void).ok();
            u.init("ulm", Some(1))?;
            u.clear_by_index(4)?;
            u.get("ulm")
        }),
    ];
    // The binding's Text and Data writes (`set_blob_by_index_excluded`: this layer's own
    // writer through a current location, without the lock under the binding's proof).
    fn blob(u: &StructBuilder, name: &str, v: SetValue<'_>) -> capnp_dynamic::Result<()> {
        let i = u.schema().fields.iter().position(|f| f.name == name);
        u.set_blob_by_index_excluded(Some(&mut excluded()), i.expect("field"), v)
    }
    let writes: [(&str, Write); 10] = [
        ("text", |u| u.set("ut", SetValue::Str("xyz"))),
        ("empty text", |u| u.set("ut", SetValue::Str(""))),
        ("data", |u| u.set("ud", SetValue::Bytes(b"0123456789"))),
        ("binding's text", |u| blob(u, "ut", SetValue::Str("xyz"))),
        ("binding's empty text", |u| blob(u, "ut", SetValue::Str(""))),
        ("binding's data", |u| {
            blob(u, "ud", SetValue::Bytes(b"0123456789"))
        }),
        ("init us", |u| u.init("us", None).map(drop)),
        ("init ul", |u| u.init("ul", Some(5)).map(drop)),
        ("init ulm", |u| u.init("ulm", Some(1)).map(drop)),
        ("void", |u| u.set("uv", SetValue::Void)),
    ];
    for (make_name, make) in makes {
        for (write_name, write) in writes {
            for words in [1024, 4] {
                let sides: Vec<(StructBuilder, Vec<String>)> = [false, true]
                    .into_iter()
                    .map(|walk| {
                        let m = MessageBuilder::with_first_segment_words(words);
                        if walk {
                            m.walk_only();
                        }
                        let root = m.init_root(&reg, id(&reg, "Mix")).expect("root");
                        let Ok(Value::Struct(StructValue::Builder(u))) = root.get("u") else {
                            panic!("group");
                        };
                        let mut seen = vec![format!("{:?}", u.which_field())];
                        let h = make(&u);
                        seen.push(show(&h));
                        seen.push(format!("{:?}", write(&u)));
                        match handle_of(h) {
                            Some(Handle::Struct(s)) => {
                                seen.push(show(&s.get("n")));
                                seen.push(format!("{:?}", s.set("n", SetValue::Int(7))));
                                seen.push(format!("{:?}", s.set("t", SetValue::Str("t"))));
                                seen.push(show(&s.init("lm", Some(1))));
                                seen.push(show(&s.get("n")));
                            }
                            Some(Handle::List(l)) => {
                                seen.push(format!("{:?}", l.len()));
                                seen.push(show(&l.get(0)));
                                seen.push(format!("{:?}", l.set(0, SetValue::Int(9))));
                                seen.push(show(&l.get(0)));
                            }
                            None => {}
                        }
                        seen.push(format!("{:?}", root.to_bytes()));
                        (root, seen)
                    })
                    .collect();
                assert_eq!(
                    sides[0].1, sides[1].1,
                    "{make_name}, then {write_name} ({words}-word segments)"
                );
            }
        }
    }
}

/// Struct assignment from another message into a located struct, which copies small plain
/// sources with our own code (arena.rs `DataAt::copy_struct`) and the rest with capnp's
/// `set_struct_pointer`, against a walk-only message (always capnp's copy): the same bytes
/// after every assignment. Sources of many shapes — data only, Text/Data (empty, a word, longer),
/// lists of Bool, Void and numbers, nested structs, struct and Text lists, null fields and
/// fields with defaults, data and pointer sections smaller and larger than the schema's (bytes
/// of other schemas), far pointers (sources in 1- and 4-word first segments), roots, fields
/// and list elements, builders' reader views and readers of bytes — assigned in turn, so each
/// overwrites the one before, into a plain field and a union member, in messages whose first
/// segment is large or tiny (objects behind landing pads), and into a field from itself or
/// its own child (a copy within the message).
#[test]
fn struct_assignments_match_walks() {
    let reg = common::registry_for(
        "@0xd2b2b2b2b2b2b2b4;\n\
         struct Inner { x @0 :Int32; label @1 :Text; }\n\
         struct Shape { a @0 :Int64; t @1 :Text; d @2 :Data; b @3 :List(Bool);\n\
           v @4 :List(Void); n @5 :List(Int16); f @6 :List(Float64); s @7 :Inner;\n\
           ls @8 :List(Inner); lt @9 :List(Text); dt @10 :Text = \"dflt\"; e @11 :Bool;\n\
           u8 @12 :List(UInt8); }\n\
         struct Small { a @0 :Int64; }\n\
         struct Empty {}\n\
         struct Big { a @0 :Int64; t @1 :Text; d @2 :Data; b @3 :List(Bool);\n\
           v @4 :List(Void); n @5 :List(Int16); f @6 :List(Float64); s @7 :Inner;\n\
           ls @8 :List(Inner); lt @9 :List(Text); dt @10 :Text = \"dflt\"; e @11 :Bool;\n\
           u8 @12 :List(UInt8); x1 @13 :Int64; x2 @14 :Text; x3 @15 :Float64; }\n\
         struct Dest { pad @0 :Int32; s @1 :Shape; union { none @2 :Void; us @3 :Shape; }\n\
           inner @4 :Inner; ls @5 :List(Shape); em @6 :Empty; }\n",
    );
    let shape = id(&reg, "Shape");
    let text = |rng: &mut StdRng| -> String {
        let n = [0, 1, 7, 8, 9, 20][rng.random_range(0..6)];
        (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect()
    };
    // A source of `ty` (Shape or one of its other versions) with a random subset of its fields.
    let fill = |rng: &mut StdRng, s: &StructBuilder| {
        let every = rng.random_range(0..4) == 0;
        for (j, f) in s.schema().fields.clone().iter().enumerate() {
            if !every && rng.random() {
                continue;
            }
            let FieldKind::Slot { ty, .. } = &f.kind else {
                continue;
            };
            let n = rng.random_range(0..70u32);
            let r = match ty {
                Type::Text => s.set_by_index(j, SetValue::Str(&text(rng))),
                Type::Data => s.set_by_index(j, SetValue::Bytes(text(rng).as_bytes())),
                Type::Struct(_) if rng.random() => s.init_by_index(j, None).map(|v| {
                    if let Value::Struct(StructValue::Builder(c)) = v {
                        c.set("x", SetValue::Int(5)).expect("x");
                        c.set("label", SetValue::Str("in")).expect("label");
                    }
                }),
                Type::List(_) => s.init_by_index(j, Some(n % 12)).map(|v| {
                    if let Value::List(ListValue::Builder(l)) = v {
                        for k in 0..l.len().unwrap_or(0) {
                            let _ = match l.element_type() {
                                Type::Bool => l.set(i64::from(k), SetValue::Bool(k % 3 == 0)),
                                Type::Text => l.set(i64::from(k), SetValue::Str("t")),
                                Type::Struct(_) => Ok(()),
                                Type::Void => Ok(()),
                                _ => l.set(i64::from(k), SetValue::Int(i128::from(k) + 1)),
                            };
                        }
                    }
                }),
                _ => match primitive(rng, ty) {
                    Some(v) => s.set_by_index(j, v),
                    None => Ok(()),
                },
            };
            let _ = r;
        }
    };
    for seed in 0..300u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let words = [1024, 4][(seed % 2) as usize];
        let (ma, mb) = (
            MessageBuilder::with_first_segment_words(words),
            MessageBuilder::with_first_segment_words(words),
        );
        mb.walk_only();
        let dest = id(&reg, "Dest");
        let (da, db) = (
            ma.init_root(&reg, dest).expect("root"),
            mb.init_root(&reg, dest).expect("root"),
        );
        for n in 0..12 {
            // The source: a struct of another version (its sections as that version has
            // them), read as Shape.
            let version = ["Shape", "Shape", "Small", "Big", "Empty"][rng.random_range(0..5)];
            let src_words = [1024, 1024, 4, 1][rng.random_range(0..4)];
            let sm = MessageBuilder::with_first_segment_words(src_words);
            let holder = sm.init_root(&reg, dest).expect("holder");
            let made = StructBuilder::new_message(&reg, id(&reg, version)).expect("source");
            fill(&mut rng, &made);
            let bytes = made.to_bytes().expect("bytes");
            let read = MessageReader::from_bytes(Arc::new(bytes), ReadLimits::default())
                .expect("read")
                .root(&reg, shape)
                .expect("as Shape");
            let kind = rng.random_range(0..6);
            let src = match kind {
                // The source message's root (a copy of the bytes, sections as they are).
                0 | 1 => read.as_builder_with(sm).expect("builder").as_reader(),
                // A field of the source message's root, or an element of a struct list.
                2 => {
                    holder.set("s", SetValue::Struct(&read)).expect("s");
                    let Ok(Value::Struct(StructValue::Builder(c))) = holder.get("s") else {
                        panic!("s")
                    };
                    c.as_reader()
                }
                3 => {
                    let Ok(Value::List(ListValue::Builder(l))) = holder.init("ls", Some(3)) else {
                        panic!("ls")
                    };
                    l.set(1, SetValue::Struct(&read)).expect("element");
                    let Ok(Value::Struct(StructValue::Builder(e))) = l.get(1) else {
                        panic!("element")
                    };
                    e.as_reader()
                }
                // A reader of bytes.
                4 => read,
                // The destination's own field or its child (a copy within the message).
                _ => {
                    let (x, y) = (da.get("s"), db.get("s"));
                    let (
                        Ok(Value::Struct(StructValue::Builder(x))),
                        Ok(Value::Struct(StructValue::Builder(y))),
                    ) = (x, y)
                    else {
                        panic!("own s")
                    };
                    let (i, j) = (
                        da.set("us", SetValue::Struct(&x.as_reader())),
                        db.set("us", SetValue::Struct(&y.as_reader())),
                    );
                    assert_eq!(
                        format!("{i:?}"),
                        format!("{j:?}"),
                        "seed {seed}, step {n}: own field"
                    );
                    let (i, j) = (
                        da.set("s", SetValue::Struct(&x.as_reader())),
                        db.set("s", SetValue::Struct(&y.as_reader())),
                    );
                    assert_eq!(
                        format!("{i:?}"),
                        format!("{j:?}"),
                        "seed {seed}, step {n}: itself"
                    );
                    assert_eq!(
                        da.to_bytes().expect("a"),
                        db.to_bytes().expect("b"),
                        "seed {seed}, step {n}: itself"
                    );
                    continue;
                }
            };
            let field = ["s", "us", "s"][rng.random_range(0..3)];
            let times = rng.random_range(1..3);
            for t in 0..times {
                let (x, y) = (
                    da.set(field, SetValue::Struct(&src)),
                    db.set(field, SetValue::Struct(&src)),
                );
                assert_eq!(format!("{x:?}"), format!("{y:?}"), "seed {seed}, step {n}");
                assert_eq!(
                    da.to_bytes().expect("a"),
                    db.to_bytes().expect("b"),
                    "seed {seed}, step {n}.{t}: {version} source (kind {kind}, {src_words}-word \
                     first segment) into {field}, {words}-word first segment"
                );
            }
            // Something else written between assignments now and then (the slot's old
            // object then written by the other path, or the union switched).
            if rng.random_range(0..4) == 0 {
                let (x, y) = (
                    da.set("none", SetValue::Void),
                    db.set("none", SetValue::Void),
                );
                assert_eq!(format!("{x:?}"), format!("{y:?}"));
            }
            if rng.random_range(0..4) == 0 {
                let (x, y) = (
                    da.set("pad", SetValue::Int(n)),
                    db.set("pad", SetValue::Int(n)),
                );
                assert_eq!(format!("{x:?}"), format!("{y:?}"));
            }
        }
        // An Inner from a builder's root (the benchmark's shape), assigned repeatedly.
        for k in 0..5 {
            let inner = StructBuilder::new_message(&reg, id(&reg, "Inner")).expect("inner");
            inner.set("x", SetValue::Int(k)).expect("x");
            if k % 2 == 0 {
                inner.set("label", SetValue::Str("set")).expect("label");
            }
            let src = inner.as_reader();
            let (x, y) = (
                da.set("inner", SetValue::Struct(&src)),
                db.set("inner", SetValue::Struct(&src)),
            );
            assert_eq!(format!("{x:?}"), format!("{y:?}"));
            // An empty struct (no words: capnp's pointer with offset -1).
            let empty = StructBuilder::new_message(&reg, id(&reg, "Empty")).expect("empty");
            let src = empty.as_reader();
            let (x, y) = (
                da.set("em", SetValue::Struct(&src)),
                db.set("em", SetValue::Struct(&src)),
            );
            assert_eq!(format!("{x:?}"), format!("{y:?}"));
            assert_eq!(
                da.to_bytes().expect("a"),
                db.to_bytes().expect("b"),
                "seed {seed}, inner {k}"
            );
        }
    }
}

/// Struct assignment from a located reader (copied by our own code when plain) charges the
/// reader's budget exactly as capnp's copy through a walk does, and fails or succeeds where
/// it does: the same results, budgets left and bytes, over traversal limits from nothing to
/// plenty, assigning again and again until the budget runs out.
#[test]
fn struct_assignments_from_readers_charge_as_walks() {
    let reg = common::registry_for(
        "@0xd2b2b2b2b2b2b2b5;\n\
         struct Inner { x @0 :Int32; label @1 :Text; n @2 :List(Int16); d @3 :Data; }\n\
         struct Dest { pad @0 :Int32; inner @1 :Inner; }\n",
    );
    let (inner, dest) = (id(&reg, "Inner"), id(&reg, "Dest"));
    let src = StructBuilder::new_message(&reg, inner).expect("source");
    src.set("x", SetValue::Int(-5)).expect("x");
    src.set("label", SetValue::Str("a label of some length"))
        .expect("label");
    src.init("n", Some(7)).expect("n");
    let bytes = Arc::new(src.to_bytes().expect("bytes"));
    let holder = StructBuilder::new_message(&reg, dest).expect("holder");
    holder
        .set("inner", SetValue::Struct(&src.as_reader()))
        .expect("inner");
    let holder_bytes = Arc::new(holder.to_bytes().expect("bytes"));
    for limit in 0..80u64 {
        let limits = ReadLimits {
            traversal_limit_in_words: Some(limit),
            nesting_limit: None,
        };
        let sides: Vec<Vec<String>> = [false, true]
            .into_iter()
            .map(|walk| {
                let m = MessageBuilder::new();
                if walk {
                    m.walk_only();
                }
                let d = m.init_root(&reg, dest).expect("root");
                let mut seen = Vec::new();
                let message = match MessageReader::from_bytes(bytes.clone(), limits) {
                    Ok(message) => message,
                    Err(e) => return vec![format!("{e}")],
                };
                let r = match message.root(&reg, inner) {
                    Ok(r) => r,
                    Err(e) => return vec![format!("{e}")],
                };
                // The root (our own copy when plain), then a struct below a root (capnp's
                // walk and copy: the walk reads the parent too).
                let holder = match MessageReader::from_bytes(holder_bytes.clone(), limits)
                    .and_then(|m| m.root(&reg, dest))
                    .and_then(|h| h.get("inner"))
                {
                    Ok(Value::Struct(StructValue::Reader(c))) => Some(c),
                    _ => None,
                };
                for k in 0..6 {
                    if let (Some(c), true) = (&holder, k >= 3) {
                        seen.push(format!("{:?}", d.set("inner", SetValue::Struct(c))));
                    }
                    seen.push(format!("{:?}", d.set("inner", SetValue::Struct(&r))));
                    seen.push(format!("{}", message.budget_left()));
                    seen.push(format!("{:?}", d.to_bytes()));
                }
                seen
            })
            .collect();
        assert_eq!(sides[0], sides[1], "traversal limit {limit}");
    }
}

/// A struct list made by the binding's `init` holds its element part from the start; that
/// part's hold on the list's base is the list's own: dropping the list's last handle drops
/// the message unless a root or element handle still holds it (`base_shared`, which the
/// binding asks before releasing the handle without PyO3).
#[test]
fn a_struct_list_alone_does_not_count_its_own_element_part_as_another_holder() {
    let reg = common::registry_for(
        "@0xd2b2b2b2b2b2b2b4;\n\
         struct S { v @0 :Int32; }\n\
         struct Root { l @0 :List(S); }\n",
    );
    let root = StructBuilder::new_message(&reg, id(&reg, "Root")).expect("root");
    let list = root.init_list_fast(0, 2).expect("init").expect("located");
    assert!(list.base_shared(), "the root shares the base");
    drop(root);
    assert!(!list.base_shared(), "the list alone holds the base");
    let Ok(Value::Struct(StructValue::Builder(element))) = list.get(1) else {
        panic!("element")
    };
    assert!(list.base_shared(), "an element handle holds it too");
    element.set("v", SetValue::Int(5)).expect("set");
    drop(element);
    assert!(!list.base_shared(), "the list alone again");
    // The same for a list read back (its element part made on first use).
    let reader_root = StructBuilder::new_message(&reg, id(&reg, "Root")).expect("root");
    reader_root.init("l", Some(1)).expect("init");
    let Ok(Value::List(ListValue::Builder(read))) = reader_root.get("l") else {
        panic!("list")
    };
    drop(reader_root);
    assert!(!read.base_shared());
    let Ok(Value::Struct(StructValue::Builder(e))) = read.get(0) else {
        panic!("element")
    };
    drop(e);
    assert!(
        !read.base_shared(),
        "the part made on first use is the list's own"
    );
}

/// Text and Data elements read without the lock (`with_blob_element_excluded`, what the
/// binding's `lst[i]` and iteration of a builder list use) match `get` at every step: null,
/// empty and long elements, elements written into null slots after the list's location was
/// recorded (their words handed out after it), a list re-initialized, and a message whose
/// small first segment puts the list elsewhere (the read declines, `get` answers). In the
/// first segment the read answers itself.
#[test]
#[allow(unsafe_code, reason = "makes a lent list handle of a root it keeps")]
fn blob_elements_read_without_the_lock_match_get() {
    let reg = registry();
    let values = ["", "a", "hello", "a longer text, more than one word long"];
    for words in [1024, 4] {
        let m = MessageBuilder::with_first_segment_words(words);
        let root = m.init_root(&reg, id(&reg, "All")).expect("root");
        for field in ["lt", "ld"] {
            let index = root
                .schema()
                .fields
                .iter()
                .position(|f| f.name == field)
                .expect("field");
            let mut answered = 0;
            for round in 0..3 {
                // SAFETY: `root` lives until the end of the loop, after `list`.
                let list = match unsafe { binding_init(&root, index, 5) }.expect("init") {
                    Value::List(ListValue::Builder(l)) => l,
                    _ => panic!("a list builder"),
                };
                let text = list.element_type().blob_kind() == Some(true);
                let own = |bytes: &[u8]| match text {
                    true => Value::Text(bytes.to_vec()),
                    false => Value::Data(bytes.to_vec()),
                };
                for step in 0..12 {
                    // A read records the list's location (as the binding's first read does).
                    for i in -5..5 {
                        // The read without the lock alone, then with its fallback.
                        let fast = list.blob_element_unlocked(&excluded(), i, own);
                        if let Ok(Some(v)) = fast {
                            answered += 1;
                            assert_eq!(show(&Ok(v)), show(&list.get(i)), "{field} {i}");
                        }
                        let fast = list.with_blob_element_excluded(Some(&excluded()), i, own);
                        let fast = match fast {
                            Ok(Some(v)) => show(&Ok(v)),
                            Ok(None) => show(&list.get(i)),
                            Err(e) => format!("error {e}"),
                        };
                        assert_eq!(fast, show(&list.get(i)), "{field}, words {words}, {i}");
                    }
                    for i in [5, -6] {
                        let fast = list.with_blob_element_excluded(Some(&excluded()), i, own);
                        assert!(fast.is_err(), "{field} index {i}: out of range");
                    }
                    let v = values[(step + round) % values.len()];
                    let value = if text {
                        SetValue::Str(v)
                    } else {
                        SetValue::Bytes(v.as_bytes())
                    };
                    list.set((step % 5) as i64, value).expect("set");
                }
            }
            if words == 1024 {
                assert!(
                    answered > 0,
                    "{field}: the read without the lock never answered"
                );
            }
        }
    }
}

/// The paths that reach the message's state without its lock under the proof (Text and Data
/// writes, list inits, struct and list field reads: `MessageBuilder::held`), each with the
/// binding's fallback when it declines, against the same calls on a walk-only message (where
/// every fast path declines): the same reads and bytes. Small enough for Miri.
#[test]
#[allow(
    unsafe_code,
    reason = "the binding's lent handles, each dropped before its root"
)]
fn state_without_the_lock_matches_walks() {
    let reg = registry();
    let all = id(&reg, "All");
    let mut seen: Vec<Vec<String>> = Vec::new();
    for walk in [false, true] {
        let m = MessageBuilder::with_first_segment_words(64);
        if walk {
            m.walk_only();
        }
        let root = m.init_root(&reg, all).expect("root");
        let index = |name: &str| {
            root.schema()
                .fields
                .iter()
                .position(|f| f.name == name)
                .expect("field")
        };
        let (t, d, li, s) = (index("t"), index("d"), index("li"), index("s"));
        let mut out = Vec::new();
        let mut answered = 0;
        for (round, text) in ["", "short", "a text longer than one word"]
            .iter()
            .enumerate()
        {
            for (i, v) in [
                (t, SetValue::Str(text)),
                (d, SetValue::Bytes(text.as_bytes())),
            ] {
                let r = root.set_blob_by_index_excluded(Some(&mut excluded()), i, v);
                out.push(format!("{r:?}"));
            }
            let n = 3 + round as u32;
            // SAFETY: every lent handle below is dropped before `root`.
            let ints = match unsafe { root.init_list_fast_lent(Some(&mut excluded()), li, n) } {
                Ok(Some(l)) => {
                    answered += 1;
                    l
                }
                Ok(None) => match root.init_by_index(li, Some(n)) {
                    Ok(Value::List(ListValue::Builder(l))) => l,
                    other => panic!("init: {}", show(&other)),
                },
                Err(e) => panic!("init: {e}"),
            };
            out.push(format!("{:?}", ints.set(1, SetValue::Int(7))));
            drop(ints);
            // SAFETY: as above.
            let read = match unsafe { root.list_fast_lent(Some(&mut excluded()), li) } {
                Ok(Some(l)) => {
                    answered += 1;
                    Ok(Value::List(ListValue::Builder(l)))
                }
                Ok(None) => root.get_by_index(li),
                Err(e) => Err(e),
            };
            out.push(show(&read));
            drop(read);
            if round == 0 {
                root.init("s", None).expect("s");
            }
            // SAFETY: as above.
            let child = match unsafe { root.struct_fast_lent(Some(&mut excluded()), s) } {
                Ok(Some(c)) => {
                    answered += 1;
                    c
                }
                Ok(None) => match root.get_by_index(s) {
                    Ok(Value::Struct(StructValue::Builder(c))) => c,
                    other => panic!("child: {}", show(&other)),
                },
                Err(e) => panic!("child: {e}"),
            };
            let set = child.set_blob_by_index_excluded(
                Some(&mut excluded()),
                t,
                SetValue::Str(&text.to_uppercase()),
            );
            out.push(format!("{set:?} {}", show(&child.get("t"))));
            drop(child);
            for i in [t, d, li, s] {
                out.push(show(&root.get_by_index(i)));
            }
        }
        out.push(format!("{:?}", root.to_bytes().expect("bytes")));
        seen.push(out);
        // The proof's paths answered on the message with locations, never on the walk-only.
        assert_eq!(answered > 0, !walk, "walk-only {walk}: {answered} answered");
    }
    assert_eq!(seen[0], seen[1]);
}
