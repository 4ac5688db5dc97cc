//! Pathological inputs: long dependency chains compile or fail with an error, never overflow
//! the stack (the reference compiler segfaults on a 20,000-long chain).

use std::path::PathBuf;

use capnp_compiler::loader::{Located, MemoryFileSystem, Root};
use capnp_compiler::{compile, make_loader, CompileOptions, CompileOutput};

fn compile_text(text: String) -> CompileOutput {
    let fs = MemoryFileSystem::default();
    let loader = make_loader(&CompileOptions::default(), &fs);
    let file = Located {
        root: Root::Dir(PathBuf::from("/")),
        name: "chain.capnp".into(),
        text: text.into_bytes(),
        key: "/chain.capnp".into(),
    };
    compile(&loader, vec![file])
}

fn chain(n: usize) -> String {
    let mut s = String::from("@0xe1a2b3c4d5e6f709;\n");
    for i in 0..n {
        s.push_str(&format!("struct S{i} {{ a @0 :S{} = (); }}\n", i + 1));
        s.push_str(&format!("const c{i} :Int32 = .c{};\n", i + 1));
    }
    s.push_str(&format!("struct S{n} {{}}\nconst c{n} :Int32 = 1;\n"));
    s
}

#[test]
fn a_chain_of_twenty_thousand_declarations_compiles() {
    let out = compile_text(chain(20_000));
    assert!(out.errors.is_empty(), "{:?}", out.errors.first());
    assert!(out.request.is_some());
}

#[test]
fn a_deeper_chain_is_an_error_not_a_crash() {
    let out = compile_text(chain(30_000));
    assert!(out.request.is_none());
    assert!(
        out.errors
            .iter()
            .any(|e| e.message.contains("depend on each other too deeply")),
        "{:?}",
        out.errors.first()
    );
}
