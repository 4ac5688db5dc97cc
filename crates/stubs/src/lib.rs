//! Typed Python stubs for Cap'n Proto schemas: one `foo_capnp.pyi` per schema file, typing
//! the module the `capnp` package's import hook loads from `foo.capnp` (struct readers and
//! builders, enums, unions, interfaces' clients and servers, constants, generics).
//!
//! Both `capnp-rs stubs` and `python -m capnp stubs` (through `capnp._capnp`) call
//! [`stubs_for_paths`] and [`write_stubs`]; the text comes from the compiler's
//! `CodeGeneratorRequest`, so stubs match what the package loads node for node.

mod emit;
mod model;

use std::path::{Path, PathBuf};

use capnp_compiler::loader::{DiskFileSystem, Located, Root, BUNDLED};
use capnp_compiler::CompileOptions;

/// One stub: the module it types (`addressbook_capnp`, `capnp.schema_capnp`) and its text.
#[derive(Clone, Debug)]
pub struct Stub {
    pub module: String,
    pub text: String,
}

impl Stub {
    /// The file name to write: the module's last component with `.pyi`.
    pub fn file_name(&self) -> String {
        let last = self.module.rsplit('.').next().unwrap_or(&self.module);
        format!("{last}.pyi")
    }
}

/// Stubs of every file of a `CodeGeneratorRequest` (stream framing) that is requested or
/// imported, except the bundled standard files unless `standard` (the `capnp` package ships
/// those).
pub fn stubs_for_request(request: &[u8], standard: bool) -> Result<Vec<Stub>, String> {
    let req = model::read_request(request).map_err(|e| format!("reading the request: {e}"))?;
    let mut files: Vec<String> = req
        .nodes
        .values()
        .filter(|n| matches!(n.kind, model::Kind::File))
        .filter(|n| {
            let name = n.display_name.as_str();
            (standard || !emit::is_bundled(name) || req.requested.contains(&n.id))
                && name != "capnp/c++.capnp"
        })
        .map(|n| n.display_name.clone())
        .collect();
    files.sort();
    files.dedup();
    Ok(files
        .iter()
        .map(|f| Stub {
            module: emit::module_name(f),
            text: emit::Writer::new(&req, f).write(),
        })
        .collect())
}

/// Compiles `files` (paths, as on the `capnp-rs compile` command line) and returns their
/// stubs and those of the files they import. Schema errors come back as their rendered
/// `file:line:col: message` lines.
pub fn stubs_for_paths(files: &[PathBuf], options: &CompileOptions) -> Result<Vec<Stub>, String> {
    let fs = DiskFileSystem;
    let out = capnp_compiler::compile_paths(files, options, &fs)?;
    let Some(request) = out.request else {
        let errors: Vec<String> = out.errors.iter().map(|e| e.to_string()).collect();
        return Err(errors.join("\n"));
    };
    stubs_for_request(&request, false)
}

/// Stubs of the bundled standard files (`capnp.schema_capnp`, `capnp.rpc_capnp`, ...), as
/// the `capnp` package ships them.
pub fn standard_stubs() -> Result<Vec<Stub>, String> {
    let fs = DiskFileSystem;
    let options = CompileOptions::default();
    let loader = capnp_compiler::make_loader(&options, &fs);
    let requested: Vec<Located> = BUNDLED
        .iter()
        // The files the package has modules for (`capnp.schema_capnp`, ...).
        .filter(|(name, _)| !matches!(*name, "capnp/c++.capnp" | "capnp/compat/json.capnp"))
        .map(|(name, text)| Located {
            root: Root::Bundled,
            name: (*name).to_string(),
            text: text.to_vec(),
            key: format!("<bundled>/{name}"),
        })
        .collect();
    let out = capnp_compiler::compile(&loader, requested);
    let Some(request) = out.request else {
        let errors: Vec<String> = out.errors.iter().map(|e| e.to_string()).collect();
        return Err(errors.join("\n"));
    };
    let stubs = stubs_for_request(&request, true)?;
    Ok(stubs
        .into_iter()
        .filter(|s| s.module != "capnp.json_capnp")
        .collect())
}

/// Writes stubs into `dir` (created if missing); returns the paths written.
pub fn write_stubs(stubs: &[Stub], dir: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for s in stubs {
        let path = dir.join(s.file_name());
        std::fs::write(&path, &s.text).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}
