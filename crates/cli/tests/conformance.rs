//! Differential conformance runner: every case under `tests/conformance/cases/`
//! is compiled by the reference and by the compiler under test, and the two
//! requests must match (SCHEMA-COMPILER.md 15.1).
//!
//! A case is a directory with an `args` file: one line of whitespace-separated
//! arguments that follow `compile -o-` (e.g. `-I inc main.capnp`), run in that
//! directory. The compiler under test is `capnp-rs`, or the binary named by
//! `$CAPNP_RS_UNDER_TEST`; the value `reference` selects the reference itself,
//! which checks the runner. `CONFORMANCE_ONLY=<text>` limits the `conformance` test to the
//! cases whose name contains the text.

mod support;

use std::path::{Path, PathBuf};

use support::oracle::{self, Run};
use support::{compare_requests, CompareOptions};

/// Runs the reference the way the conformance suite defines it: our bundled
/// standard schemas stand in for the standard import path.
fn reference(case: &Path, args: &[String]) -> Run {
    oracle::reference_compile(&oracle::bundled_schemas(), args, case)
}

/// The compiler under test, invoked as `<binary> compile -o- <args>`.
fn capnp_rs(binary: &Path, case: &Path, args: &[String]) -> Run {
    let mut full = vec!["compile".to_string(), "-o-".to_string()];
    full.extend(args.iter().cloned());
    oracle::run(binary, full, case)
}

/// A way to compile one case: (case directory, arguments) to a run.
type Compiler = dyn Fn(&Path, &[String]) -> Run;

fn under_test() -> Box<Compiler> {
    match std::env::var_os("CAPNP_RS_UNDER_TEST") {
        Some(value) if value == "reference" => Box::new(reference),
        Some(path) => {
            let binary = PathBuf::from(path);
            Box::new(move |case: &Path, args: &[String]| capnp_rs(&binary, case, args))
        }
        None => Box::new(|case: &Path, args: &[String]| {
            capnp_rs(Path::new(env!("CARGO_BIN_EXE_capnp-rs")), case, args)
        }),
    }
}

/// Compares one case; `Err` holds the readable explanation.
fn run_case(case: &Path, ours: &Compiler) -> Result<(), String> {
    let args = oracle::case_args(case)?;
    let expected = reference(case, &args);
    let actual = ours(case, &args);
    match (expected.success, actual.success) {
        // Error messages are compared by the error corpus (15.3), not here.
        (false, false) => Ok(()),
        (true, false) => Err(format!(
            "reference succeeded, compiler under test failed:\n{}",
            indent(&actual.stderr)
        )),
        (false, true) => Err(format!(
            "reference failed, compiler under test succeeded; reference said:\n{}",
            indent(&expected.stderr)
        )),
        (true, true) => {
            let report =
                compare_requests(&expected.stdout, &actual.stdout, &CompareOptions::default());
            if report.is_empty() {
                return Ok(());
            }
            save_outputs(case, &expected.stdout, &actual.stdout);
            Err(report.to_string())
        }
    }
}

/// Keeps both requests of a failing case in `tests/conformance/out/<case>/`
/// for `capnp decode`.
fn save_outputs(case: &Path, expected: &[u8], actual: &[u8]) {
    let Some(name) = case.file_name() else { return };
    let out = oracle::repo_root().join("tests/conformance/out").join(name);
    if std::fs::create_dir_all(&out).is_ok() {
        let _ = std::fs::write(out.join("reference.bin"), expected);
        let _ = std::fs::write(out.join("actual.bin"), actual);
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// Runs every case and returns (number of cases, failures as readable text).
fn run_all(ours: &Compiler) -> (usize, Vec<String>) {
    let cases = oracle::conformance_cases();
    let failures = cases
        .iter()
        .filter_map(|case| {
            run_case(case, ours).err().map(|why| {
                let name = case.file_name().unwrap_or_default().to_string_lossy();
                format!("case {name}:\n{why}")
            })
        })
        .collect();
    (cases.len(), failures)
}

fn assert_all_pass(ours: &Compiler) {
    let (count, failures) = run_all(ours);
    assert!(
        count > 0,
        "no cases found in {}",
        oracle::conformance_cases_dir().display()
    );
    assert!(
        failures.is_empty(),
        "{} of {count} conformance cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn conformance() {
    let ours = under_test();
    // `CONFORMANCE_ONLY=<name>` runs the cases whose name contains it (for quick iterations).
    match std::env::var("CONFORMANCE_ONLY") {
        Ok(only) => {
            let cases: Vec<PathBuf> = oracle::conformance_cases()
                .into_iter()
                .filter(|c| {
                    c.file_name()
                        .is_some_and(|n| n.to_string_lossy().contains(&only))
                })
                .collect();
            assert!(!cases.is_empty(), "no case name contains {only:?}");
            let failures: Vec<String> = cases
                .iter()
                .filter_map(|case| run_case(case, &*ours).err())
                .collect();
            assert!(failures.is_empty(), "{}", failures.join("\n"));
        }
        Err(_) => assert_all_pass(&*ours),
    }
}

#[test]
fn runner_accepts_the_reference_against_itself() {
    assert_all_pass(&reference);
}

#[test]
fn runner_reports_every_case_a_broken_compiler_gets_wrong() {
    let empty_output = |_: &Path, _: &[String]| Run {
        success: true,
        stdout: Vec::new(),
        stderr: String::new(),
    };
    let (count, failures) = run_all(&empty_output);
    assert!(count >= 2);
    assert_eq!(failures.len(), count, "{failures:#?}");
    assert!(
        failures.iter().all(|f| f.contains("cannot decode")),
        "{failures:#?}"
    );

    let crashing = |_: &Path, _: &[String]| Run {
        success: false,
        stdout: Vec::new(),
        stderr: "boom".into(),
    };
    let (count, failures) = run_all(&crashing);
    assert_eq!(failures.len(), count);
    assert!(failures
        .iter()
        .all(|f| f.contains("compiler under test failed") && f.contains("boom")));
}

#[test]
fn runner_reports_content_differences() {
    // A compiler that ignores its last file argument in the include-path case.
    let forgetful = |case: &Path, args: &[String]| {
        let kept: Vec<String> = args
            .iter()
            .filter(|a| *a != "sub/other.capnp")
            .cloned()
            .collect();
        reference(case, &kept)
    };
    let (_, failures) = run_all(&forgetful);
    assert_eq!(failures.len(), 1, "{failures:#?}");
    assert!(
        failures[0].contains("case include-path") && failures[0].contains("requestedFiles"),
        "{}",
        failures[0]
    );
}
