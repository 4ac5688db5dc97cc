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
