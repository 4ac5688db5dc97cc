//! `client.method(...)`: the callable a typed capability client keeps per method (in its
//! `__dict__`, made by `_DynamicCapabilityClient.__getattr__`). The usual call, positional
//! arguments of an implicit param struct (plain values, lists, dicts, builders: whatever
//! `setattr` takes), builds the params, sends them and makes the promise here; keyword
//! arguments and every error case go to the Python `_call_slow`, so their behaviour and
//! messages have one implementation.

use std::sync::Arc;

use capnp_dynamic::schema::StructSchema;
use capnp_dynamic::struct_::PlainStruct;
use capnp_dynamic::MessageBuilder;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::registry::PyRegistry;
use crate::rpc::PyCap;

#[pyclass(frozen, name = "_MethodCall", module = "capnp.lib.capnp")]
pub(crate) struct PyMethodCall {
    name: Py<PyString>,
    cap: Py<PyCap>,
    /// The Python `_MethodInfo`.
    method: Py<PyAny>,
    registry: Py<PyRegistry>,
    interface_id: u64,
    ordinal: u16,
    param_id: u64,
    /// The params struct.
    param_schema: Arc<StructSchema>,
    result_id: u64,
    /// The results can hold no capability (they may be read in place).
    results_no_caps: bool,
    streaming: bool,
    /// Field indices of the positional parameters (empty: positional arguments are the
    /// slow path's to refuse).
    positional: Vec<usize>,
    /// `_SyncRemotePromise`, the method's `promise_cls` and
    /// `_call_slow(cap, method, args, kwargs)`.
    sync_promise: Py<PyAny>,
    async_promise: Py<PyAny>,
    slow: Py<PyAny>,
}

#[pymethods]
impl PyMethodCall {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: Bound<'_, PyString>,
        cap: Py<PyCap>,
        method: Bound<'_, PyAny>,
        positional: Vec<String>,
        sync_promise: Py<PyAny>,
        slow: Py<PyAny>,
    ) -> PyResult<Self> {
        let registry: Py<PyRegistry> = method.getattr(intern!(py, "registry"))?.extract()?;
        let result_id: u64 = method.getattr(intern!(py, "result_id"))?.extract()?;
        let param_id: u64 = method.getattr(intern!(py, "param_id"))?.extract()?;
        let schema = registry
            .get()
            .inner
            .get_struct(param_id)
            .map_err(|e| crate::error::MsgError::from(e).into_py(py))?;
        // A name the param struct lacks leaves every positional call to the slow path.
        let positional = positional
            .iter()
            .map(|n| schema.by_name.get(n.as_str()).copied())
            .collect::<Option<Vec<usize>>>()
            .unwrap_or_default();
        Ok(PyMethodCall {
            interface_id: method.getattr(intern!(py, "interface_id"))?.extract()?,
            ordinal: method.getattr(intern!(py, "ordinal"))?.extract()?,
            streaming: method.getattr(intern!(py, "streaming"))?.extract()?,
            result_id,
            results_no_caps: registry.get().inner.struct_holds_no_caps(result_id),
            async_promise: method.getattr(intern!(py, "promise_cls"))?.unbind(),
            name: name.unbind(),
            cap,
            method: method.unbind(),
            registry,
            param_id,
            param_schema: schema,
            positional,
            sync_promise,
            slow,
        })
    }

    /// Sends the call; the promise of its results.
    #[pyo3(signature = (*args, **kwargs))]
    fn __call__(
        &self,
        py: Python<'_>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let keywords = kwargs.is_some_and(|k| !k.is_empty());
        if keywords || args.len() > self.positional.len() {
            let kwargs = match kwargs {
                Some(k) => k.clone(),
                None => PyDict::new(py),
            };
            return self.slow.call1(py, (&self.cap, &self.method, args, kwargs));
        }
        if !self.streaming {
            // Plain values (the usual call) are written straight into the request.
            let values = args.as_slice();
            let fields: Option<Vec<_>> = values
                .iter()
                .zip(&self.positional)
                .map(|(value, index)| crate::convert::plain_set_value(value).map(|v| (*index, v)))
                .collect();
            if let Some(fields) = fields {
                let registry = self.registry.get();
                let plain = PlainStruct::prepare(&self.param_schema, &registry.inner, &fields)
                    .map_err(|e| crate::error::MsgError::from(e).into_py_attr(py))?;
                if let Some(plain) = plain {
                    let pending = self
                        .cap
                        .get()
                        .send_plain(py, self.interface_id, self.ordinal, plain)?
                        .with_results(
                            self.registry.clone_ref(py),
                            self.result_id,
                            self.results_no_caps,
                        );
                    return self.promise(py, Py::new(py, pending)?);
                }
            }
        }
        let message = MessageBuilder::with_first_segment_words(64);
        message.enable_caps();
        let registry = self.registry.get();
        let root = message
            .init_root(&registry.inner, self.param_id)
            .map_err(|e| crate::error::MsgError::from(e).into_py(py))?;
        for (value, index) in args.iter().zip(&self.positional) {
            crate::convert::set_field(&root, &self.registry, *index, &value)
                .map_err(|e| e.into_py_attr(py))?;
        }
        drop(root);
        let pending = Py::new(
            py,
            self.cap
                .get()
                .send_message(
                    py,
                    self.interface_id,
                    self.ordinal,
                    &message,
                    self.streaming,
                )?
                .with_results(
                    self.registry.clone_ref(py),
                    self.result_id,
                    self.results_no_caps,
                ),
        )?;
        self.promise(py, pending)
    }

    #[getter]
    fn __name__(&self, py: Python<'_>) -> Py<PyString> {
        self.name.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("<bound method {}>", self.name.bind(py))
    }
}

impl PyMethodCall {
    /// The promise of a sent call: `_SyncRemotePromise` or the method's asyncio one.
    fn promise(&self, py: Python<'_>, pending: Py<crate::rpc::PyPending>) -> PyResult<Py<PyAny>> {
        let st = crate::rpc::active_state(py);
        let asynchronous = !st.is_none() && !st.getattr(intern!(py, "synchronous"))?.is_truthy()?;
        if asynchronous {
            return self
                .async_promise
                .call1(py, (pending, &self.method, &self.cap, st));
        }
        // `_SyncRemotePromise(pending, method, cap, st)`: its fields are the native base's
        // (`_SyncCall`), set by its `__new__`; no Python `__init__` runs.
        let promise = self
            .sync_promise
            .bind(py)
            .call1((pending, &self.method, &self.cap, st))?;
        Ok(promise.unbind())
    }
}
