//! The type registry (API.md 3.16): `capnp.register_type(id, (reader_factory,
//! builder_factory))` makes every struct reader (builder) of node `id` that the library hands
//! out be replaced by `reader_factory(reader)` (`builder_factory(builder)`).

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

/// Registered factories by node id; `ANY` keeps the common case (none) to one atomic load.
static FACTORIES: PyOnceLock<Py<PyDict>> = PyOnceLock::new();
static ANY: AtomicBool = AtomicBool::new(false);

fn factories(py: Python<'_>) -> &Bound<'_, PyDict> {
    FACTORIES
        .get_or_init(py, || PyDict::new(py).unbind())
        .bind(py)
}

/// `obj` (a struct reader, or builder when `builder`, of node `id`) as handed to Python.
#[inline]
pub(crate) fn hand_out<T>(
    py: Python<'_>,
    obj: Py<T>,
    id: u64,
    builder: bool,
) -> PyResult<Py<PyAny>> {
    let obj = obj.into_any();
    if !ANY.load(Ordering::Relaxed) {
        return Ok(obj);
    }
    let Some(pair) = factories(py).get_item(id)? else {
        return Ok(obj);
    };
    let factory = pair.get_item(usize::from(builder))?;
    Ok(factory.call1((obj,))?.unbind())
}

/// `capnp.register_type(id, (reader_factory, builder_factory))`.
#[pyfunction]
pub(crate) fn register_type(py: Python<'_>, id: u64, klass: &Bound<'_, PyAny>) -> PyResult<()> {
    factories(py).set_item(id, klass)?;
    ANY.store(true, Ordering::Relaxed);
    Ok(())
}

/// `capnp.deregister_all_types()`: clears the registry (pycapnp's is a no-op by a bug).
#[pyfunction]
pub(crate) fn deregister_all_types(py: Python<'_>) {
    factories(py).clear();
    ANY.store(false, Ordering::Relaxed);
}
