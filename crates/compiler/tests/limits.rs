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

#[test]
fn values_larger_than_the_budget_are_an_error_not_an_allocation() {
    // 2,000 UInt64 fields per struct and 40,000 list elements: 640 MB of defaults from a
    // 100 kB schema. The reference would try to build it; we stop at the budget.
    let n = 2_000;
    let m = 40_000;
    let mut s = String::from("@0xe1a2b3c4d5e6f70a;\nstruct Big {");
    for i in 0..n {
        s.push_str(&format!(" f{i} @{i} :UInt64;"));
    }
    s.push_str(" }\nconst l :List(Big) = [");
    s.push_str(&vec!["()"; m].join(","));
    s.push_str("];\n");
    let out = compile_text(s);
    assert!(out.request.is_none());
    assert!(
        out.errors.iter().any(|e| e.message.contains("too large")),
        "{:?}",
        out.errors.first()
    );
}
