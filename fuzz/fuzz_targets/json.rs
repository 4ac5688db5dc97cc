//! Fuzz target over the JSON decoder (`from_json`, `convert json:`): the first byte picks the
//! root type (all types, or every json.capnp annotation), the rest is JSON. Decoding must
//! never panic; what decodes must encode again, pretty and short.
#![no_main]

mod schemas;

use capnp_dynamic::json::{json_to_struct, struct_to_json, DecodeOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, json)) = data.split_first() else {
        return;
    };
    let b = schemas::schemas().builder(which);
    let options = DecodeOptions {
        reject_unknown_fields: which & 2 != 0,
    };
    if json_to_struct(json, &b, options).is_ok() {
        let r = b.as_reader();
        struct_to_json(&r, true).expect("decoded message encodes");
        struct_to_json(&r, false).expect("decoded message encodes");
    }
});
