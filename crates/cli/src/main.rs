//! `capnp-rs`: the command-line tool: the schema compiler (`compile`, `id`), a drop-in for
//! `capnp compile`, message conversion (`convert`, `decode`, `encode`), `eval` and typed Python
//! stubs (`stubs`).

mod convert;
mod eval;
mod layout;
mod text_input;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use capnp_compiler::loader::DiskFileSystem;
use capnp_compiler::CompileOptions;

const USAGE: &str = "\
Usage: capnp-rs compile [-I DIR]... [--src-prefix DIR] [--no-standard-import] -o OUTPUT... FILE...
       capnp-rs id
       capnp-rs convert FROM:TO [-I DIR]... [--short] [--segment-size=N] [SCHEMA TYPE]
       capnp-rs decode [--packed] [--flat] [--short] [-I DIR]... SCHEMA TYPE
       capnp-rs encode [--packed] [--flat] [--segment-size=N] [-I DIR]... SCHEMA TYPE
       capnp-rs eval [-o FORMAT] [--short] [-I DIR]... SCHEMA NAME
       capnp-rs stubs [-I DIR]... [--src-prefix DIR] -o OUTDIR FILE...
       capnp-rs stubs --standard -o OUTDIR

OUTPUT is `-` (write the CodeGeneratorRequest to standard output) or PLUGIN[:OUTDIR]
(run `capnpc-PLUGIN`, or PLUGIN itself if it contains '/', with the request on its
standard input, in OUTDIR).

convert reads a stream of messages from standard input in format FROM and writes them to
standard output in format TO: binary, packed, flat, flat-packed, canonical, text, json.
text and json need SCHEMA (a .capnp file) and TYPE (a struct in it). decode is
convert binary:text, encode is convert text:binary (--packed, --flat pick the binary side).
eval prints NAME: a constant, a struct field's default (Struct.field), or a field or list
element inside either (const.field[2].x); text unless -o FORMAT (structs only) or -b/-p/--flat.

stubs writes OUTDIR/foo_capnp.pyi for each FILE foo.capnp and each file it imports: typed
readers, builders, enums, unions, clients and servers for mypy and pyright (the same stubs as
`python -m capnp stubs`). --standard writes those of the bundled capnp/*.capnp files.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("compile") => compile(&args[1..]),
        Some(cmd @ ("convert" | "decode" | "encode" | "eval")) => {
            let r = match cmd {
                "convert" => convert::run(&args[1..]),
                "eval" => eval::run(&args[1..]),
                _ => convert::run_legacy(cmd == "encode", &args[1..]),
            };
            match r {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("capnp-rs {cmd}: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("stubs") => stubs(&args[1..]),
        Some("id") => {
            println!("@0x{:016x};", capnp_compiler::random_id());
            ExitCode::SUCCESS
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

struct Args {
    options: CompileOptions,
    outputs: Vec<String>,
    files: Vec<PathBuf>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        options: CompileOptions::default(),
        outputs: Vec::new(),
        files: Vec::new(),
    };
    let mut i = 0;
    let take = |i: &mut usize, inline: Option<&str>, flag: &str| -> Result<String, String> {
        if let Some(v) = inline {
            return Ok(v.to_string());
        }
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| format!("{flag}: missing argument"))
    };
    while i < args.len() {
        let a = args[i].as_str();
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (a, None),
        };
        match flag {
            "--no-standard-import" => parsed.options.standard_import = false,
            "-I" | "--import-path" => {
                let v = take(&mut i, inline, flag)?;
                parsed.options.import_paths.push(PathBuf::from(v));
            }
            "--src-prefix" => {
                let v = take(&mut i, inline, flag)?;
                parsed.options.src_prefixes.push(PathBuf::from(v));
            }
            "-o" | "--output" => parsed.outputs.push(take(&mut i, inline, flag)?),
            _ if flag.starts_with("-I") && flag.len() > 2 => {
                parsed.options.import_paths.push(PathBuf::from(&flag[2..]));
            }
            _ if flag.starts_with("-o") && flag.len() > 2 => {
                parsed.outputs.push(flag[2..].to_string());
            }
            _ if flag.starts_with('-') && flag != "-" => {
                return Err(format!("unknown option: {a}"));
            }
            _ => parsed.files.push(PathBuf::from(a)),
        }
        i += 1;
    }
    if parsed.files.is_empty() {
        return Err("no input files".to_string());
    }
    if parsed.outputs.is_empty() {
        return Err("no output specified (use -o- or -o PLUGIN)".to_string());
    }
    Ok(parsed)
}

fn compile(args: &[String]) -> ExitCode {
    let parsed = match parse_args(args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("capnp-rs compile: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let fs = DiskFileSystem;
    let out = match capnp_compiler::compile_paths(&parsed.files, &parsed.options, &fs) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("capnp-rs compile: {e}");
            return ExitCode::FAILURE;
        }
    };
    for e in &out.errors {
        eprintln!("{e}");
    }
    let Some(request) = out.request else {
        return ExitCode::FAILURE;
    };
    for output in &parsed.outputs {
        if output == "-" {
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(&request)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                eprintln!("capnp-rs compile: could not write to standard output");
                return ExitCode::FAILURE;
            }
        } else if let Err(e) = run_plugin(output, &request) {
            eprintln!("capnp-rs compile: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Runs `capnpc-LANG` (or the given path) with the request on standard input, as the reference does.
fn run_plugin(spec: &str, request: &[u8]) -> Result<(), String> {
    let (plugin, dir) = match spec.rsplit_once(':') {
        Some((p, d)) if !p.is_empty() => (p, Some(d)),
        _ => (spec, None),
    };
    let program = if plugin.contains('/') {
        plugin.to_string()
    } else {
        format!("capnpc-{plugin}")
    };
    let mut cmd = Command::new(&program);
    cmd.stdin(Stdio::piped());
    if let Some(d) = dir.filter(|d| !d.is_empty()) {
        std::fs::create_dir_all(d).map_err(|e| format!("{d}: {e}"))?;
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().map_err(|e| format!("{program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A plugin may exit without reading everything; that is its business.
        let _ = stdin.write_all(request);
    }
    let status = child.wait().map_err(|e| format!("{program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("plugin {program} failed: {status}"))
    }
}

/// `capnp-rs stubs`: typed `.pyi` stubs for schema files (crates/stubs).
fn stubs(args: &[String]) -> ExitCode {
    let standard = args.iter().any(|a| a == "--standard");
    let rest: Vec<String> = args
        .iter()
        .filter(|a| *a != "--standard")
        .cloned()
        .collect();
    let parsed = if standard {
        // No input files: only -o matters.
        let mut with_file = rest.clone();
        with_file.push("-".into());
        parse_args(&with_file)
    } else {
        parse_args(&rest)
    };
    let parsed = match parsed {
        Ok(p) if p.outputs.len() == 1 => p,
        Ok(_) => {
            eprintln!("capnp-rs stubs: give one output directory (-o OUTDIR)\n{USAGE}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("capnp-rs stubs: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let generated = if standard {
        capnp_stubs::standard_stubs()
    } else {
        capnp_stubs::stubs_for_paths(&parsed.files, &parsed.options)
    };
    let written = generated
        .and_then(|s| capnp_stubs::write_stubs(&s, std::path::Path::new(&parsed.outputs[0])));
    match written {
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("capnp-rs stubs: {e}");
            ExitCode::FAILURE
        }
    }
}
