//! Locating and running the compilers that the differential tests compare.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (this crate lives in `crates/cli`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Our bundled standard schemas: the directory that holds `capnp/`.
pub fn bundled_schemas() -> PathBuf {
    repo_root().join("crates/compiler/schemas")
}

/// The reference `capnp` binary: `$CAPNP_REFERENCE`, else the one installed by
/// `scripts/install-oracles.sh`. Panics (failing the test) when it is missing,
/// because a silently skipped conformance test proves nothing.
pub fn reference_capnp() -> PathBuf {
    let path = std::env::var_os("CAPNP_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".oracles/capnproto/bin/capnp"));
    assert!(
        path.is_file(),
        "reference compiler not found at {}: run scripts/install-oracles.sh \
         (or set CAPNP_REFERENCE to a capnp 1.3.0 binary)",
        path.display()
    );
    path
}

/// The upstream standard schemas shipped next to the reference binary (the
/// directory that holds `capnp/`), found in the venv's site-packages.
pub fn reference_include() -> PathBuf {
    let binary = reference_capnp();
    let venv = binary
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let lib = venv.join("lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("site-packages/capnproto/include"))
            .find(|p| p.join("capnp/schema.capnp").is_file())
    });
    match found {
        Some(path) => path,
        None => panic!(
            "upstream schemas not found under {}: run scripts/install-oracles.sh",
            lib.display()
        ),
    }
}

/// Outcome of one compiler run.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Runs `program args...` in `dir`.
pub fn run<I, S>(program: &Path, args: I, dir: &Path) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    match Command::new(program).args(args).current_dir(dir).output() {
        Ok(out) => Run {
            success: out.status.success(),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        Err(err) => Run {
            success: false,
            stdout: Vec::new(),
            stderr: format!("cannot run {}: {err}", program.display()),
        },
    }
}

/// `capnp compile --no-standard-import -I <include> -o- files...` with the
/// reference binary, run in `dir`.
pub fn reference_compile<S: AsRef<OsStr>>(include: &Path, files: &[S], dir: &Path) -> Run {
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("compile"),
        OsStr::new("--no-standard-import"),
        OsStr::new("-I"),
        include.as_os_str(),
        OsStr::new("-o-"),
    ];
    args.extend(files.iter().map(AsRef::as_ref));
    run(&reference_capnp(), args, dir)
}

pub fn conformance_cases_dir() -> PathBuf {
    repo_root().join("tests/conformance/cases")
}

/// Conformance case directories (those holding an `args` file) in name order.
pub fn conformance_cases() -> Vec<PathBuf> {
    let dir = conformance_cases_dir();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
    let mut cases: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("args").is_file())
        .collect();
    cases.sort();
    cases
}

/// The command-line arguments of a conformance case (first line of `args`).
pub fn case_args(case: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(case.join("args"))
        .map_err(|err| format!("cannot read args: {err}"))?;
    let line = text.lines().next().unwrap_or_default();
    let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
    if args.is_empty() {
        return Err("args is empty".into());
    }
    Ok(args)
}
