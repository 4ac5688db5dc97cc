//! The generator on the examples (what the stubs say) and on every conformance case (it never
//! fails on a schema the compiler accepts, and writes no empty `Literal[]`). `make typing`
//! type-checks the output with mypy and basedpyright.

use std::path::{Path, PathBuf};

use capnp_compiler::CompileOptions;
use capnp_stubs::{standard_stubs, stubs_for_paths};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stub_of(file: &str) -> String {
    let stubs = stubs_for_paths(&[root().join(file)], &CompileOptions::default()).expect("stubs");
    assert_eq!(stubs.len(), 1, "one file, one stub");
    stubs.into_iter().next().map(|s| s.text).unwrap_or_default()
}

#[test]
fn addressbook() {
    let text = stub_of("examples/addressbook.capnp");
    for expected in [
        "class Person:",
        "    Reader: _TypeAlias = _Person_Reader",
        "class _Person_Builder(_DynamicStructBuilder):",
        "    name: builtins.str",
        "    def which(self) -> _Literal[\"unemployed\", \"employer\", \"school\", \"selfEmployed\"]: ...",
        "_Person_PhoneNumber_Type_Name: _TypeAlias = _Literal[\"mobile\", \"home\", \"work\"]",
        "    def init(self, field: _Literal[\"phones\"], size: builtins.int) -> _DynamicListBuilder[_Person_PhoneNumber_Builder]: ...",
        "    def phones(self) -> _DynamicListReader[_Person_PhoneNumber_Reader]: ...",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn calculator() {
    let text = stub_of("examples/rpc/calculator.capnp");
    for expected in [
        "class Calculator(_InterfaceModule[_Calculator_Client]):",
        "    Client: _TypeAlias = _Calculator_Client",
        "class _Calculator_Server(_DynamicCapabilityServer):",
        "    def evaluate(self, *, expression: _Calculator_Expression_Reader, _context: _CallContext, **kwargs: _Any) -> _Calculator_evaluate_Return | _Awaitable[_Calculator_evaluate_Return]: ...",
        "class _Calculator_evaluate_Promise(_RemotePromise[_Calculator_evaluate_Results_Reader]):",
        "    def value(self) -> _Calculator_Value_Client: ...",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn standard_files() {
    let stubs = standard_stubs().expect("standard stubs");
    let modules: Vec<&str> = stubs.iter().map(|s| s.module.as_str()).collect();
    for m in [
        "capnp.schema_capnp",
        "capnp.rpc_capnp",
        "capnp.stream_capnp",
    ] {
        assert!(modules.contains(&m), "{m} missing from {modules:?}");
    }
}

#[test]
fn every_conformance_case() {
    let cases = root().join("tests/conformance/cases");
    let mut generated = 0;
    for case in std::fs::read_dir(&cases).expect("cases").flatten() {
        let dir = case.path();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("case dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "capnp"))
            .collect();
        files.sort();
        if files.is_empty() {
            continue;
        }
        let options = CompileOptions {
            import_paths: vec![dir.clone()],
            ..CompileOptions::default()
        };
        // Cases that are invalid on purpose fail to compile; the others must give stubs.
        if let Ok(stubs) = stubs_for_paths(&files, &options) {
            for s in &stubs {
                assert!(
                    !s.text.contains("_Literal[]"),
                    "{}: empty Literal",
                    s.module
                );
            }
            generated += stubs.len();
        }
    }
    assert!(generated > 30, "only {generated} stubs generated");
}
