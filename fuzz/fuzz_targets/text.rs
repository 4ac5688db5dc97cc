//! Fuzz target over the text-format parser (`from_text`): the first byte picks the root type,
//! the rest is a struct literal. Parsing must never panic; what parses must print again.
#![no_main]

mod schemas;

use capnp_dynamic::text::{struct_from_text, struct_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, text)) = data.split_first() else {
        return;
    };
    let b = schemas::schemas().builder(which);
    if struct_from_text(text, &b).is_ok() {
        let r = b.as_reader();
        struct_text(&r, true).expect("parsed message prints");
        struct_text(&r, false).expect("parsed message prints");
    }
});
