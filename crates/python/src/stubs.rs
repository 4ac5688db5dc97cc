//! `capnp._capnp.write_stubs`: the typed-stub generator of `capnp-rs stubs` (crates/stubs),
//! for `python -m capnp stubs`.

use std::path::PathBuf;

use capnp_compiler::CompileOptions;
use pyo3::prelude::*;

use crate::exceptions::plain_kj_exception;

/// Writes `OUTDIR/foo_capnp.pyi` for each schema file of `files` and each file they import
/// (or, with `standard`, for the bundled `capnp/*.capnp` files); returns the paths written.
/// Schema errors raise `KjException` with the compiler's `file:line:col: message` lines.
#[pyfunction]
#[pyo3(signature = (files, outdir, imports=Vec::new(), src_prefixes=Vec::new(), standard=false))]
pub(crate) fn write_stubs(
    py: Python<'_>,
    files: Vec<PathBuf>,
    outdir: PathBuf,
    imports: Vec<PathBuf>,
    src_prefixes: Vec<PathBuf>,
    standard: bool,
) -> PyResult<Vec<String>> {
    let result = py.detach(|| {
        let stubs = if standard {
            capnp_stubs::standard_stubs()
        } else {
            let options = CompileOptions {
                import_paths: imports,
                src_prefixes,
                standard_import: true,
            };
            capnp_stubs::stubs_for_paths(&files, &options)
        }?;
        capnp_stubs::write_stubs(&stubs, &outdir)
    });
    match result {
        Ok(paths) => Ok(paths.iter().map(|p| p.display().to_string()).collect()),
        Err(e) => Err(plain_kj_exception(py, &e)),
    }
}
