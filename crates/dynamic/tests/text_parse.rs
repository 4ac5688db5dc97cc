//! The text parser (`from_text`) and the JSON decoder (`from_json`) on valid and mutated
//! input: round trips through the printers, and never a panic on garbage.
//!
//! `TEXT_FUZZ_SECONDS=N cargo test -p capnp-dynamic --test text_parse -- --nocapture` runs
//! the mutation loops for N seconds each and prints the executions.

mod common;

use std::time::{Duration, Instant};

use capnp_dynamic::json::{json_to_struct, struct_to_json, DecodeOptions};
use capnp_dynamic::text::{struct_from_text, struct_text};
use capnp_dynamic::StructBuilder;
use common::{id, registry};
use rand::{Rng, SeedableRng};

const SAMPLE: &str = r#"(v = void, b = true, i8 = -128, i16 = 0x7fff, i32 = -017, i64 = -9223372036854775808,
  u8 = 255, u16 = 65535, u32 = 4294967295, u64 = 18446744073709551615, f32 = 1.5e3, f64 = -inf,
  t = "tab\t quote\" nul\000 hex\x41 é", d = 0x"00 ff 10", e = home,
  s = (i32 = 1, s = (t = "deep", lf = [nan, inf, -0.0, 1e-300])),
  li = [1, -2, 3], lb = [true, false], lt = ["a", "", "c"], ld = ["\xff", ""],
  ls = [(id = 1, name = "p", phones = [(number = "n", type = work)], employment = (school = "MIT"))],
  ll = [[], [1, -2]], le = [mobile, work], defI = 0, defT = "", defS = (), defL = [],
  g = (x = 5, y = "why"))  # a comment"#;

fn all() -> StructBuilder {
    let reg = registry();
    StructBuilder::new_message(&reg, id(&reg, "All")).expect("new")
}

#[test]
fn sample_round_trips_through_text_and_json() {
    let b = all();
    struct_from_text(SAMPLE.as_bytes(), &b).expect("parse");
    for pretty in [false, true] {
        let text = struct_text(&b.as_reader(), pretty).expect("print");
        let again = all();
        struct_from_text(&text, &again).expect("reparse");
        assert_eq!(
            struct_text(&again.as_reader(), false).ok(),
            struct_text(&b.as_reader(), false).ok()
        );
        let json = struct_to_json(&b.as_reader(), pretty).expect("json");
        let from_json = all();
        json_to_struct(&json, &from_json, DecodeOptions::default()).expect("decode");
        assert_eq!(
            struct_text(&from_json.as_reader(), false).ok(),
            struct_text(&b.as_reader(), false).ok()
        );
    }
}

#[test]
fn bad_text_names_position_and_field() {
    let cases: &[(&str, &str)] = &[
        ("(s = (t = 1))", "text at 1:11 ($.s.t): expected a string"),
        ("(li = [1, x])", "($.li[1]): expected an integer"),
        ("(g = (z = 1))", "($.g.z)"),
        ("(e = nope)", "($.e)"),
        ("(u8 = 256)", "($.u8)"),
        ("(any = 1)", "AnyPointer"),
        ("(t = \"\\q\")", "invalid escape"),
        ("(d = 0x\"abc\")", "odd number"),
        ("", "unexpected end"),
    ];
    for (text, expected) in cases {
        let e = struct_from_text(text.as_bytes(), &all()).expect_err(text);
        assert!(e.to_string().contains(expected), "{text}: {e}");
    }
}

/// One random edit: flip, insert, delete or duplicate bytes, or truncate.
fn mutate(rng: &mut rand::rngs::StdRng, input: &[u8]) -> Vec<u8> {
    const INTERESTING: &[u8] = b"()[]=,\"\\#-0x.e9 \nabz";
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..4) {
        if out.is_empty() {
            out.push(b'(');
            continue;
        }
        let at = rng.random_range(0..out.len());
        match rng.random_range(0..5) {
            0 => out[at] = INTERESTING[rng.random_range(0..INTERESTING.len())],
            1 => out.insert(at, INTERESTING[rng.random_range(0..INTERESTING.len())]),
            2 => {
                out.remove(at);
            }
            3 => {
                let end = (at + rng.random_range(1..16)).min(out.len());
                let piece = out[at..end].to_vec();
                out.splice(at..at, piece);
            }
            _ => out.truncate(at),
        }
    }
    out
}

fn budget() -> Budget {
    match std::env::var("TEXT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        Some(s) => Budget::Time(Duration::from_secs(s)),
        None => Budget::Runs(3000),
    }
}

enum Budget {
    Runs(u64),
    Time(Duration),
}

/// Runs `one` on mutations of `seed` until the budget is spent; returns the executions.
fn fuzz(seed: &[u8], mut one: impl FnMut(&[u8])) -> u64 {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let start = Instant::now();
    let mut runs = 0u64;
    let mut current = seed.to_vec();
    loop {
        match budget() {
            Budget::Runs(n) if runs >= n => break,
            Budget::Time(t) if start.elapsed() >= t => break,
            _ => {}
        }
        let input = mutate(&mut rng, &current);
        one(&input);
        runs += 1;
        // Wander away from the seed now and then, back to it otherwise.
        current = if rng.random_bool(0.3) {
            input
        } else {
            seed.to_vec()
        };
    }
    runs
}

#[test]
fn mutated_text_never_panics() {
    let runs = fuzz(SAMPLE.as_bytes(), |input| {
        let b = all();
        if struct_from_text(input, &b).is_ok() {
            // Whatever parsed prints and parses again.
            let text = struct_text(&b.as_reader(), false).expect("print");
            struct_from_text(&text, &all()).expect("reparse");
        }
    });
    println!("text parser: {runs} executions");
}

#[test]
fn mutated_json_never_panics() {
    let b = all();
    struct_from_text(SAMPLE.as_bytes(), &b).expect("parse");
    let json = struct_to_json(&b.as_reader(), true).expect("json");
    let runs = fuzz(&json, |input| {
        let _ = json_to_struct(input, &all(), DecodeOptions::default());
    });
    println!("JSON decoder: {runs} executions");
}
