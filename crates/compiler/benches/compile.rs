//! Compile-time benchmark: the generated ~4,000-line schema set (about 250 structs, unions,
//! generics, imports) of `tests/conformance/cases/large`, read from disk and compiled to a
//! serialized CodeGeneratorRequest, the whole work of `capnp compile -o-`.

use std::path::{Path, PathBuf};

use capnp_compiler::loader::DiskFileSystem;
use capnp_compiler::{compile_paths, CompileOptions};
use criterion::{criterion_group, criterion_main, Criterion};

fn large_case() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance/cases/large")
}

fn compile_large(c: &mut Criterion) {
    let dir = large_case();
    let main = dir.join("main.capnp");
    let options = CompileOptions {
        src_prefixes: vec![dir.clone()],
        ..CompileOptions::default()
    };
    let fs = DiskFileSystem;
    let out = compile_paths(std::slice::from_ref(&main), &options, &fs).expect("case exists");
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.request.is_some());
    c.bench_function("compile large (4k lines, 4 files)", |b| {
        b.iter(|| {
            let out =
                compile_paths(std::slice::from_ref(&main), &options, &fs).expect("case exists");
            std::hint::black_box(out.request)
        })
    });
}

criterion_group!(benches, compile_large);
criterion_main!(benches);
