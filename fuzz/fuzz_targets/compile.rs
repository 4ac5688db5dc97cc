//! Fuzz target over the whole compiler: the input is a schema file (optionally followed by
//! `\0\0` and a second file it may import as "other.capnp"); compiling must never panic or hang.
#![no_main]

use std::path::PathBuf;

use capnp_compiler::loader::{Located, MemoryFileSystem, Root};
use capnp_compiler::{compile, make_loader, CompileOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (main, other) = match data.windows(2).position(|w| w == [0, 0]) {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &b"@0xd5a2c5c3a0b9e8f1; struct O { a @0 :Int32; }"[..]),
    };
    let mut fs = MemoryFileSystem::default();
    fs.files.insert(PathBuf::from("/src/main.capnp"), main.to_vec());
    fs.files.insert(PathBuf::from("/src/other.capnp"), other.to_vec());
    fs.files.insert(PathBuf::from("/inc/lib.capnp"), other.to_vec());
    let options = CompileOptions {
        import_paths: vec![PathBuf::from("/inc")],
        ..CompileOptions::default()
    };
    let loader = make_loader(&options, &fs);
    let requested = Located {
        root: Root::Dir(PathBuf::from("/src")),
        name: "main.capnp".to_string(),
        text: main.to_vec(),
        key: "/src/main.capnp".to_string(),
    };
    let _ = compile(&loader, vec![requested]);
});
