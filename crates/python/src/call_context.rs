//! `_CallContext`: what a server method gets as `_context` (params, results, tail calls).
//! Native, as the dispatcher in `dispatch.rs` makes one for every call.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};

/// What a server method gets as ``_context``: ``params``, ``results``, tail calls.
#[pyclass(name = "_CallContext", module = "capnp.lib.capnp")]
pub(crate) struct PyCallContext {
    params: Option<Py<PyAny>>,
    /// The results message (`_MessageHandle`).
    #[pyo3(get, name = "_results_handle")]
    results_handle: Py<PyAny>,
    /// The method's `_MethodInfo`.
    #[pyo3(get, name = "_method")]
    method: Py<PyAny>,
    /// The results' root, once something asked for it.
    #[pyo3(get, set, name = "_results")]
    results: Option<Py<PyAny>>,
    released: bool,
}

impl PyCallContext {
    pub(crate) fn create(params: Py<PyAny>, results_handle: Py<PyAny>, method: Py<PyAny>) -> Self {
        PyCallContext {
            params: Some(params),
            results_handle,
            method,
            results: None,
            released: false,
        }
    }

    /// The results' root if something asked for it (or wrote to it) already.
    pub(crate) fn written_results(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.results.as_ref().map(|r| r.clone_ref(py))
    }
}

#[pymethods]
impl PyCallContext {
    // What it holds may refer back to it (a server keeping its `_context`): the collector
    // sees its references.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(p) = &self.params {
            visit.call(p)?;
        }
        visit.call(&self.results_handle)?;
        visit.call(&self.method)?;
        if let Some(r) = &self.results {
            visit.call(r)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.params = None;
        self.results = None;
    }

    #[new]
    fn py_new(params: Py<PyAny>, results_handle: Py<PyAny>, method: Py<PyAny>) -> Self {
        Self::create(params, results_handle, method)
    }

    /// The call's parameters (a struct reader).
    #[getter]
    fn params(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match (&self.params, self.released) {
            (Some(p), false) => Ok(p.clone_ref(py)),
            _ => Err(kj(py, "Params were released (release_params was called)")),
        }
    }

    /// The call's results (a struct builder).
    #[getter]
    fn results(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let Some(r) = &self.results {
            return Ok(r.clone_ref(py));
        }
        let m = self.method.bind(py);
        let root = self.results_handle.bind(py).call_method1(
            intern!(py, "init_root"),
            (
                m.getattr(intern!(py, "registry"))?,
                m.getattr(intern!(py, "result_id"))?,
            ),
        )?;
        self.results = Some(root.clone().unbind());
        Ok(root.unbind())
    }

    /// Frees the parameters early.
    fn release_params(&mut self) {
        self.released = true;
        self.params = None;
    }

    /// 1.x: accepted and ignored (calls are always cancellable).
    fn allow_cancellation(&self) {}

    /// Completes this call with another call's results.
    fn tail_call(slf: &Bound<'_, Self>, request: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let tail = py
            .import(intern!(py, "capnp.lib._rpc"))?
            .getattr(intern!(py, "_TailCall"))?;
        Ok(tail.call1((slf, request))?.unbind())
    }
}

/// `_rpc._kj(message)`: a FAILED `KjException`.
fn kj(py: Python<'_>, message: &str) -> PyErr {
    let made = py
        .import(intern!(py, "capnp.lib._rpc"))
        .and_then(|m| m.getattr(intern!(py, "_kj")))
        .and_then(|f| f.call1((message,)));
    match made {
        Ok(e) => PyErr::from_value(e),
        Err(e) => e,
    }
}
