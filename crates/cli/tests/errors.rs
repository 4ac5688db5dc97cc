//! Error tests over `tests/errors/`: every invalid input must fail cleanly with exactly the
//! messages in its golden `.expected` file (`BLESS=1` rewrites them), and those messages must
//! match the reference compiler's recorded output `.ref` as SCHEMA-COMPILER.md 15.3 requires.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn errors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/errors")
}

/// One case: its name, the directory to run in, and the file arguments.
struct Case {
    name: String,
    dir: PathBuf,
    args: Vec<String>,
}

fn cases() -> Vec<Case> {
    let root = errors_dir();
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/errors exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if path.is_dir() {
            let args = std::fs::read_to_string(path.join("args")).unwrap_or_default();
            out.push(Case {
                name,
                dir: path.clone(),
                args: args.split_whitespace().map(String::from).collect(),
            });
        } else if let Some(stem) = name.strip_suffix(".capnp") {
            out.push(Case {
                name: stem.to_string(),
                dir: root.clone(),
                args: vec![name.clone()],
            });
        }
    }
    out
}

/// Replaces the random id suggested by the missing-id error so outputs are comparable.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        match line.find("Add this line to your file: @0x") {
            Some(i) => {
                out.push_str(&line[..i]);
                out.push_str("Add this line to your file: @0x<random>;");
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// `(file, line, column, message)` of one `file:line:col[-end]: error: message` line.
fn parse_line(line: &str) -> Option<(String, u32, String, String)> {
    let (loc, message) = line.split_once(": error: ")?;
    let mut parts = loc.splitn(3, ':');
    let file = parts.next()?.to_string();
    let line_no = parts.next()?.parse().ok()?;
    let col = parts.next().unwrap_or("").to_string();
    let message = match message.find("Internal compiler bug:") {
        Some(_) => "Internal compiler bug:".to_string(),
        None => message.to_string(),
    };
    Some((file, line_no, col, message))
}

fn triples(text: &str) -> BTreeSet<(String, u32, String, String)> {
    text.lines()
        .filter_map(parse_line)
        .map(|(f, l, c, m)| {
            // Columns of parse errors follow the reference's backtracking; the line suffices.
            let c = if m.starts_with("Parse error") {
                String::new()
            } else {
                c
            };
            (f, l, c, m)
        })
        .collect()
}

#[test]
fn every_invalid_input_gives_its_golden_messages_and_the_references() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() > 100, "the error corpus went missing");
    for case in &all {
        let output = Command::new(env!("CARGO_BIN_EXE_capnp-rs"))
            .arg("compile")
            .arg("-o-")
            .args(&case.args)
            .current_dir(&case.dir)
            .output()
            .expect("capnp-rs runs");
        let stderr = normalize(&String::from_utf8_lossy(&output.stderr));
        if output.status.success() || !output.stdout.is_empty() {
            failures.push(format!("{}: succeeded, but must fail", case.name));
            continue;
        }
        if output.status.code() != Some(1) || stderr.contains("panicked") {
            failures.push(format!("{}: crashed:\n{stderr}", case.name));
            continue;
        }
        let expected_path = errors_dir().join(format!("{}.expected", case.name));
        if bless {
            std::fs::write(&expected_path, &stderr).expect("write .expected");
        } else {
            match std::fs::read_to_string(&expected_path) {
                Ok(expected) if expected == stderr => {}
                Ok(expected) => failures.push(format!(
                    "{}: output differs from {}.expected\n--- expected\n{expected}--- actual\n{stderr}",
                    case.name, case.name
                )),
                Err(_) => failures.push(format!(
                    "{}: no {}.expected (run `make bless`)",
                    case.name, case.name
                )),
            }
        }
        let reference = std::fs::read_to_string(errors_dir().join(format!("{}.ref", case.name)))
            .map(|r| normalize(&r))
            .unwrap_or_default();
        if reference.starts_with("*** Uncaught exception ***") {
            // The reference aborts here; an ordinary error is what we require (14.5).
            if triples(&stderr).is_empty() {
                failures.push(format!("{}: no error message", case.name));
            }
            continue;
        }
        let theirs = triples(&reference);
        let ours = triples(&stderr);
        if theirs != ours {
            let missing: Vec<_> = theirs.difference(&ours).collect();
            let extra: Vec<_> = ours.difference(&theirs).collect();
            failures.push(format!(
                "{}: differs from the reference\n  missing: {missing:?}\n  extra:   {extra:?}",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} error cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}
