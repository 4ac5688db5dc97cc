//! `capnp-rs compile -o PLUGIN` runs a code generator plugin exactly as the reference does:
//! with the reference's own `capnpc-capnp`, both compilers must print the same text for
//! every conformance case.

mod support;

use std::path::Path;

use support::oracle::{self, Run};

#[test]
fn capnpc_capnp_prints_what_the_reference_prints() {
    let reference = oracle::reference_capnp();
    let plugin = reference.with_file_name("capnpc-capnp");
    assert!(
        plugin.is_file(),
        "{} is missing: run scripts/install-oracles.sh",
        plugin.display()
    );
    let output = format!("-o{}", plugin.display());
    let include = oracle::bundled_schemas();
    let mut failures = Vec::new();
    let all = oracle::conformance_cases();
    assert!(all.len() > 30);
    for case in &all {
        let args = oracle::case_args(case).unwrap_or_default();
        let mut theirs_args = vec![
            "compile".to_string(),
            "--no-standard-import".to_string(),
            "-I".to_string(),
            include.display().to_string(),
            output.clone(),
        ];
        theirs_args.extend(args.iter().cloned());
        let theirs: Run = oracle::run(&reference, &theirs_args, case);
        let mut ours_args = vec!["compile".to_string(), output.clone()];
        ours_args.extend(args.iter().cloned());
        let ours = oracle::run(Path::new(env!("CARGO_BIN_EXE_capnp-rs")), &ours_args, case);
        let name = case.file_name().map(|n| n.to_string_lossy().into_owned());
        if !theirs.success || !ours.success {
            failures.push(format!(
                "{name:?}: reference ok={} ours ok={}: {}",
                theirs.success, ours.success, ours.stderr
            ));
        } else if theirs.stdout != ours.stdout {
            failures.push(format!("{name:?}: capnpc-capnp output differs"));
        } else if theirs.stdout.is_empty() {
            failures.push(format!("{name:?}: the plugin printed nothing"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
