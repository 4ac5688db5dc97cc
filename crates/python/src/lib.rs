//! `capnp._capnp`: the native module behind the `capnp` Python package.
//!
//! Python-visible concepts live one per file; the pure-Python shim in `python/capnp/` builds
//! modules and classes from what these functions return.

use pyo3::prelude::*;

mod alloc;
mod any_pointer;
mod buffer;
mod call_context;
mod convert;
mod dispatch;
mod enum_;
mod error;
mod exceptions;
mod ffi;
mod lean_object;
mod list;
mod loader;
mod message;
mod method_call;
mod multiple;
mod registry;
mod rpc;
mod schema_file;
mod segment_buffer;
mod struct_;
mod stubs;
mod sync_loop;
mod thread_bound;
mod types;
mod warning;

/// The extension's Rust allocations (capnp-rpc's per-call objects, message segments) go to
/// mimalloc: glibc's malloc and free were a fifth of an RPC call's instructions (`alloc.rs`).
#[global_allocator]
static ALLOCATOR: alloc::Mimalloc = alloc::Mimalloc;

/// The Cap'n Proto feature level matched, as pycapnp 2.2.4 reports it.
const LIBCAPNP_VERSION: (u32, u32, u32) = (1, 4, 0);

#[pymodule]
fn _capnp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<exceptions::KjException>()?;
    m.add_class::<registry::PyRegistry>()?;
    m.add_class::<registry::PyStructEntry>()?;
    m.add_class::<struct_::PyStructBuilder>()?;
    m.add_class::<struct_::PyStructReader>()?;
    ffi::install_getattr_slot::<struct_::PyStructBuilder>(m.py())?;
    ffi::install_getattr_slot::<struct_::PyStructReader>(m.py())?;
    ffi::install_setattr_slot::<struct_::PyStructBuilder>(m.py())?;
    ffi::install_builder_methods(m.py())?;
    ffi::install_bound_methods(m.py())?;
    lean_object::install::<struct_::PyStructBuilder>(m.py())?;
    lean_object::install::<struct_::PyStructReader>(m.py())?;
    m.add_class::<struct_::PyMessageSize>()?;
    m.add_class::<list::PyListBuilder>()?;
    m.add_class::<list::PyListReader>()?;
    ffi::install_sequence_slots::<list::PyListBuilder>(m.py())?;
    ffi::install_sequence_slots::<list::PyListReader>(m.py())?;
    lean_object::install::<list::PyListBuilder>(m.py())?;
    lean_object::install::<list::PyListReader>(m.py())?;
    ffi::install_iternext_slot::<list::PyListBuilderIter>(m.py())?;
    m.add_class::<enum_::PyEnum>()?;
    m.add_class::<any_pointer::PyObjectReader>()?;
    m.add_class::<any_pointer::PyObjectBuilder>()?;
    m.add_class::<any_pointer::PyOrphan>()?;
    m.add_class::<enum_::PyEnumField>()?;
    m.add_class::<multiple::PyMessageIterator>()?;
    m.add_class::<buffer::PyDataView>()?;
    m.add_class::<message::PyMessageHandle>()?;
    m.add_class::<message::PyMessageReaderHandle>()?;
    m.add_class::<rpc::PyCap>()?;
    m.add_class::<rpc::PyPending>()?;
    m.add_class::<rpc::PySyncCall>()?;
    m.add_class::<rpc::PyThreadState>()?;
    m.add_class::<method_call::PyMethodCall>()?;
    m.add_class::<call_context::PyCallContext>()?;
    m.add_class::<rpc::PyConnection>()?;
    m.add_class::<sync_loop::PyReactor>()?;
    m.add_class::<sync_loop::PyRemote>()?;
    m.add_class::<sync_loop::PyTimerHandle>()?;
    m.add_function(wrap_pyfunction!(rpc::_loop_open, m)?)?;
    m.add_function(wrap_pyfunction!(rpc::_loop_run, m)?)?;
    m.add_function(wrap_pyfunction!(rpc::_loop_is_open, m)?)?;
    m.add_function(wrap_pyfunction!(rpc::_loop_close, m)?)?;
    m.add_function(wrap_pyfunction!(rpc::_new_server_cap, m)?)?;
    m.add_function(wrap_pyfunction!(rpc::_mark_running, m)?)?;
    m.add_function(wrap_pyfunction!(rpc::_broken_cap, m)?)?;
    m.add_function(wrap_pyfunction!(convert::_set_cap_factory, m)?)?;
    m.add_function(wrap_pyfunction!(ffi::_detached_threads, m)?)?;
    m.add_function(wrap_pyfunction!(schema_file::compile_file, m)?)?;
    m.add_function(wrap_pyfunction!(types::register_type, m)?)?;
    m.add_function(wrap_pyfunction!(types::deregister_all_types, m)?)?;
    m.add_function(wrap_pyfunction!(schema_file::compile_bundled, m)?)?;
    m.add_function(wrap_pyfunction!(schema_file::bundled_source, m)?)?;
    m.add_function(wrap_pyfunction!(schema_file::node_bytes, m)?)?;
    m.add_function(wrap_pyfunction!(multiple::read_multiple_bytes_packed, m)?)?;
    m.add_function(wrap_pyfunction!(loader::load_nodes, m)?)?;
    m.add_function(wrap_pyfunction!(stubs::write_stubs, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let (major, minor, micro) = LIBCAPNP_VERSION;
    m.add("LIBCAPNP_VERSION_MAJOR", major)?;
    m.add("LIBCAPNP_VERSION_MINOR", minor)?;
    m.add("LIBCAPNP_VERSION_MICRO", micro)?;
    m.add(
        "LIBCAPNP_VERSION",
        major * 1_000_000 + minor * 1_000 + micro,
    )?;
    Ok(())
}
