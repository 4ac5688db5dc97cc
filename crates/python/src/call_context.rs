//! `_CallContext`: what a server method gets as `_context` (params, results, tail calls).
//! Native, as the dispatcher in `dispatch.rs` makes one for every call.

use std::rc::Rc;

use capnp::any_pointer;
use capnp::capability::Params;
use capnp_dynamic::MessageBuilder;
use capnp_dynrpc::EventLoop;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::{PyTraverseError, PyVisit};

use crate::message::PyMessageHandle;
use crate::registry::PyRegistry;
use crate::thread_bound::ThreadBound;

/// The params of a call whose method took them as plain values (`dispatch.rs`), still in
/// the incoming message: copied into a reader of this layer only if `params` is read.
pub(crate) struct LazyParams {
    pub(crate) params: Params<any_pointer::Owned>,
    pub(crate) ev: Rc<EventLoop>,
    pub(crate) registry: Py<PyRegistry>,
    pub(crate) param_id: u64,
}

impl LazyParams {
    fn reader(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let msg = self
            .params
            .get()
            .and_then(|p| self.ev.copy_in(p))
            .map_err(|e| crate::rpc::rpc_error(py, &e))?;
        msg.enable_caps();
        let root = msg
            .get_root(&self.registry.get().inner, self.param_id)
            .map_err(|e| crate::error::MsgError::from(e).into_py(py))?;
        let reader = crate::struct_::PyStructReader::wrap_raw(
            py,
            root.as_reader(),
            self.registry.clone_ref(py),
        )?;
        crate::types::hand_out(py, reader, self.param_id, false)
    }
}

/// What a server method gets as ``_context``: ``params``, ``results``, tail calls.
#[pyclass(name = "_CallContext", module = "capnp.lib.capnp")]
pub(crate) struct PyCallContext {
    params: Option<Py<PyAny>>,
    /// Params not read yet (then `params` is `None`).
    lazy: Option<ThreadBound<LazyParams>>,
    /// The results message: its `_MessageHandle`, made when Python code first asks for it.
    results_handle: ResultsHandle,
    /// The method's `_MethodInfo`.
    #[pyo3(get, name = "_method")]
    method: Py<PyAny>,
    /// The results' root, once something asked for it.
    #[pyo3(get, set, name = "_results")]
    results: Option<Py<PyAny>>,
    released: bool,
}

/// A call's results message, as Python code sees it (`_MessageHandle`) once it asked.
enum ResultsHandle {
    Made(Py<PyAny>),
    /// Not asked for yet (a plain returned value is written without it).
    Lazy(MessageBuilder),
}

impl PyCallContext {
    pub(crate) fn create(params: Py<PyAny>, results_handle: Py<PyAny>, method: Py<PyAny>) -> Self {
        PyCallContext {
            params: Some(params),
            lazy: None,
            results_handle: ResultsHandle::Made(results_handle),
            method,
            results: None,
            released: false,
        }
    }

    /// A context whose params are read from `lazy` on first use, and whose results message's
    /// handle is made on first use.
    pub(crate) fn create_lazy(
        lazy: LazyParams,
        results: MessageBuilder,
        method: Py<PyAny>,
    ) -> Self {
        PyCallContext {
            params: None,
            lazy: Some(ThreadBound::new(lazy)),
            results_handle: ResultsHandle::Lazy(results),
            method,
            results: None,
            released: false,
        }
    }

    /// The results message's handle, made now if nothing asked for it yet.
    fn handle(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if let ResultsHandle::Lazy(msg) = &self.results_handle {
            let made = Py::new(py, PyMessageHandle::from_inner(msg.clone()))?.into_any();
            self.results_handle = ResultsHandle::Made(made);
        }
        match &self.results_handle {
            ResultsHandle::Made(h) => Ok(h.clone_ref(py)),
            ResultsHandle::Lazy(_) => Err(pyo3::exceptions::PyRuntimeError::new_err(
                "the results message has no handle",
            )),
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
        if let ResultsHandle::Made(h) = &self.results_handle {
            visit.call(h)?;
        }
        visit.call(&self.method)?;
        if let Some(r) = &self.results {
            visit.call(r)?;
        }
        Ok(())
    }

    fn __clear__(&mut self) {
        self.params = None;
        self.lazy = None;
        self.results = None;
    }

    #[new]
    fn py_new(params: Py<PyAny>, results_handle: Py<PyAny>, method: Py<PyAny>) -> Self {
        Self::create(params, results_handle, method)
    }

    /// The results message (`_MessageHandle`).
    #[getter(_results_handle)]
    fn results_handle(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.handle(py)
    }

    /// The call's parameters (a struct reader).
    #[getter]
    fn params(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.params.is_none() && !self.released {
            if let Some(lazy) = &self.lazy {
                let reader = lazy
                    .get()
                    .ok_or_else(|| {
                        pyo3::exceptions::PyRuntimeError::new_err(
                            "This call belongs to another thread's event loop",
                        )
                    })?
                    .reader(py)?;
                self.params = Some(reader);
                self.lazy = None;
            }
        }
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
        let handle = self.handle(py)?;
        let m = self.method.bind(py);
        let root = handle.bind(py).call_method1(
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
        self.lazy = None;
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
