//! `SchemaLoader` support: schema nodes received at run time (each a message whose root is
//! a `schema.capnp:Node`) gathered into a CodeGeneratorRequest, which a parser's registry
//! takes like a compiled file, and described as plain data like `compile_file`'s nodes.

use capnp::message::{Builder, ReaderOptions};
use capnp_compiler::schema_capnp::{code_generator_request, node};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::buffer;
use crate::error::{LoadError, MsgError};

fn invalid(py: Python<'_>, e: capnp::Error) -> PyErr {
    MsgError::from(capnp_dynamic::Error::Capnp(e)).into_py(py)
}

/// The request holding every node of `nodes` (stream-framed messages rooted at a Node).
fn request_of(nodes: &[buffer::Input]) -> capnp::Result<Vec<u8>> {
    let mut message = Builder::new_default();
    let request = message.init_root::<code_generator_request::Builder<'_>>();
    let count = u32::try_from(nodes.len())
        .map_err(|_| capnp::Error::failed("too many schema nodes".into()))?;
    let mut list = request.init_nodes(count);
    for (i, bytes) in (0..count).zip(nodes) {
        // Nodes come from outside (possibly over the wire): the reference's read limits apply.
        let reader = capnp::serialize::read_message_from_flat_slice(
            &mut (*bytes.bytes).as_ref(),
            ReaderOptions::new(),
        )?;
        let node = reader.get_root::<node::Reader<'_>>()?;
        list.set_with_caveats(i, node)?;
    }
    let mut out = Vec::new();
    capnp::serialize::write_message(&mut out, &message)?;
    Ok(out)
}

/// `{"request": bytes, "nodes": [dict, ...]}` for the given node messages (buffer-like
/// objects); a malformed node raises `KjException`.
#[pyfunction]
pub(crate) fn load_nodes<'py>(
    py: Python<'py>,
    nodes: Vec<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut inputs = Vec::with_capacity(nodes.len());
    for n in &nodes {
        inputs.push(buffer::input(n)?);
    }
    let request = request_of(&inputs).map_err(|e| invalid(py, e))?;
    let out = crate::schema_file::describe(py, &request, 0).map_err(|e| match e {
        LoadError::Internal(e) => invalid(py, e),
        other => other.into_py(py),
    })?;
    Ok(out)
}
