//! Proves the bundled standard schemas right: compiled by the reference, each
//! must yield the same nodes as the upstream file it stands in for.

mod support;

use std::path::Path;

use support::{compare_requests, oracle, CompareOptions};

/// Compiles `files` (relative to each include dir, each resolving its own
/// `/capnp/...` imports) from ours and from upstream, and compares.
fn check(files: &[&str]) {
    let ours_dir = oracle::bundled_schemas();
    let upstream_dir = oracle::reference_include();
    let compile = |dir: &Path| {
        let run = oracle::reference_compile(dir, files, dir);
        assert!(
            run.success,
            "reference failed on {files:?} in {}:\n{}",
            dir.display(),
            run.stderr
        );
        run.stdout
    };
    let (upstream, ours) = (compile(&upstream_dir), compile(&ours_dir));
    let report = compare_requests(&upstream, &ours, &CompareOptions::declarations_only());
    assert!(
        report.is_empty(),
        "bundled {files:?} differ from upstream:\n{report}"
    );
    // Guard against comparing two empty outputs.
    let message = support::read_message(&ours).expect("reference output decodes");
    let request = message
        .get_root::<capnp_compiler::schema_capnp::code_generator_request::Reader<'_>>()
        .expect("reference output has a root");
    let nodes = request.get_nodes().expect("request has nodes");
    assert!(
        nodes.len() as usize > files.len(),
        "suspiciously few nodes: {}",
        nodes.len()
    );
}

macro_rules! stdlib_tests {
    ($($name:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $name() {
                check(&[$file]);
            }
        )*

        #[test]
        fn all_in_one_request() {
            check(&[$($file),*]);
        }
    };
}

stdlib_tests! {
    cxx => "capnp/c++.capnp",
    schema => "capnp/schema.capnp",
    rpc => "capnp/rpc.capnp",
    rpc_twoparty => "capnp/rpc-twoparty.capnp",
    persistent => "capnp/persistent.capnp",
    stream => "capnp/stream.capnp",
    json => "capnp/compat/json.capnp",
}

/// Every upstream standard schema has a bundled counterpart, and vice versa.
#[test]
fn same_set_of_files() {
    fn list(root: &Path) -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![root.join("capnp")];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir)
                .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
            for path in entries.filter_map(Result::ok).map(|e| e.path()) {
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "capnp") {
                    let relative = path.strip_prefix(root).unwrap_or(&path);
                    found.push(relative.to_string_lossy().into_owned());
                }
            }
        }
        found.sort();
        found
    }
    let upstream = list(&oracle::reference_include());
    assert_eq!(list(&oracle::bundled_schemas()), upstream);
    assert_eq!(upstream.len(), 7, "{upstream:?}");
}
