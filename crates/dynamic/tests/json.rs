//! The JSON codec through the library API: round trips, unknown fields, error paths.

mod common;

use capnp_dynamic::json::{json_to_struct, struct_to_json, DecodeOptions};
use capnp_dynamic::{SetValue, StructBuilder};
use common::{id, registry};

fn person() -> StructBuilder {
    let reg = registry();
    StructBuilder::new_message(&reg, id(&reg, "Person")).expect("new")
}

#[test]
fn round_trip_through_json() {
    let b = person();
    b.set("id", SetValue::Int(7)).expect("id");
    b.set("name", SetValue::Str("Alice \"A\"")).expect("name");
    let json = struct_to_json(&b.as_reader(), false).expect("encode");
    let text = String::from_utf8(json.clone()).expect("utf8");
    assert!(text.contains(r#""name":"Alice \"A\"""#), "{text}");
    assert!(
        text.contains(r#""employment":{"unemployed":null}"#),
        "{text}"
    );
    let c = person();
    json_to_struct(&json, &c, DecodeOptions::default()).expect("decode");
    assert_eq!(
        struct_to_json(&c.as_reader(), true).ok(),
        struct_to_json(&b.as_reader(), true).ok()
    );
}

#[test]
fn unknown_fields_fail_only_when_asked() {
    let text = br#"{"id": 1, "nickname": "x"}"#;
    json_to_struct(text, &person(), DecodeOptions::default()).expect("ignored");
    let strict = DecodeOptions {
        reject_unknown_fields: true,
    };
    let e = json_to_struct(text, &person(), strict).expect_err("rejected");
    assert!(e.to_string().contains("unknown field \"nickname\""), "{e}");
}

#[test]
fn errors_name_the_path_and_never_panic() {
    let e = json_to_struct(
        br#"{"phones": [{"type": 3}, {"type": "nope"}]}"#,
        &person(),
        DecodeOptions::default(),
    )
    .expect_err("bad enum");
    assert!(e.to_string().contains("$.phones[1].type"), "{e}");
    for bad in [
        &b"{"[..],
        b"[]",
        b"null",
        b"{\"id\": -1}",
        b"{\"id\": {}}",
        b"\xff",
    ] {
        assert!(json_to_struct(bad, &person(), DecodeOptions::default()).is_err());
    }
}
