//! A message that claims more than it holds: a list of zero-sized structs, which the general
//! walk charges a word per element (capnp's guard against amplification), so a few bytes can
//! name millions of elements. The text printer's walk over the bytes (text/located.rs) must
//! decline as soon as what it owes exceeds the read limit, before printing the elements: it
//! used to print them all and compare with the limit at the end (found by the `messages` fuzz
//! target: 47 bytes, gigabytes of output). Memory is counted by this test binary's allocator.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use capnp_dynamic::schema::FieldKind;
use capnp_dynamic::{text, ListValue, MessageReader, ReadLimits, StructBuilder, Value};
use common::{id, registry};

/// The system allocator, counting the bytes live and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[allow(
    unsafe_code,
    reason = "a counting wrapper of the system allocator, for this test"
)]
// SAFETY: every call is passed to `System` with the caller's arguments unchanged; the counters
// are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            let live = LIVE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn word(seg: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(seg[i * 8..i * 8 + 8].try_into().expect("8 bytes"))
}

fn set_word(seg: &mut [u8], i: usize, w: u64) {
    seg[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
}

/// An `All` message whose `ls` (a list of Person) claims `n` zero-sized elements.
fn amplified(n: u32) -> Vec<u8> {
    let reg = registry();
    let all = id(&reg, "All");
    let root = StructBuilder::new_message(&reg, all).expect("root");
    let Ok(Value::List(ListValue::Builder(_))) = root.init("ls", Some(1)) else {
        panic!("ls")
    };
    let mut bytes = root.to_bytes().expect("bytes");
    // One segment: the table is 8 bytes; the root pointer is the segment's first word.
    let seg = &mut bytes[8..];
    let data_words = ((word(seg, 0) >> 32) & 0xffff) as usize;
    let schema = reg.get_struct(all).expect("All");
    let slot = schema
        .fields
        .iter()
        .find_map(|f| match (&f.kind, f.name.as_str()) {
            (FieldKind::Slot { offset, .. }, "ls") => Some(*offset as usize),
            _ => None,
        })
        .expect("ls slot");
    let at = 1 + data_words + slot;
    let list = word(seg, at);
    let tag_at = (at as i64 + 1 + i64::from((list as u32 as i32) >> 2)) as usize;
    // An inline-composite list of 0 words; its tag: `n` elements of 0 data and 0 pointer words.
    set_word(seg, at, (list & 0xffff_ffff) | (7u64 << 32));
    set_word(seg, tag_at, u64::from(n) << 2);
    bytes
}

#[test]
fn zero_sized_elements_past_the_limit_are_never_printed() {
    let reg = registry();
    let n = 1 << 22;
    let limits = ReadLimits {
        traversal_limit_in_words: Some(1 << 20),
        nesting_limit: None,
    };
    let m = MessageReader::from_bytes(Arc::new(amplified(n)), limits).expect("framed");
    let r = m.root(&reg, id(&reg, "All")).expect("root");
    let budget = m.budget_left();
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    assert!(text::struct_text_located(&r, false).is_none());
    let grown = PEAK.load(Ordering::Relaxed) - base;
    // Printing the 4M elements took over 16 MB; declining takes a few KB.
    assert!(
        grown < 1 << 20,
        "the located print grew memory by {grown} bytes"
    );
    assert_eq!(m.budget_left(), budget, "a decline charges nothing");
    // The general walk fails where the list is charged.
    let err = text::struct_text(&r, false).expect_err("over the read limit");
    assert!(err.to_string().contains("limit"), "{err}");
}

#[test]
fn zero_sized_elements_within_the_limit_print_as_the_walk_prints() {
    let reg = registry();
    let limits = ReadLimits {
        traversal_limit_in_words: Some(1 << 20),
        nesting_limit: None,
    };
    let bytes = amplified(1000);
    let located = {
        let m = MessageReader::from_bytes(Arc::new(bytes.clone()), limits).expect("framed");
        let r = m.root(&reg, id(&reg, "All")).expect("root");
        (text::struct_text_located(&r, false), m.budget_left())
    };
    let walked = {
        let m = MessageReader::from_bytes(Arc::new(bytes), limits).expect("framed");
        let r = m.root(&reg, id(&reg, "All")).expect("root");
        (
            text::struct_text(&r.without_location(), false).ok(),
            m.budget_left(),
        )
    };
    assert_eq!(located, walked);
    assert!(
        located.0.is_some(),
        "the located print answers within the limit"
    );
}
