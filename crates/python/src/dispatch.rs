//! The native side of server dispatch: the common server call (a method that is not in
//! context style and takes no union parameters) runs here instead of through the Python
//! `dispatch` of `_rpc._server_cap`, with the same behaviour: the params reader and
//! `_context` are made (parameters that are all plain values are read from the incoming
//! message itself, and `_context.params` is made only if read: `run_direct`), the parameters
//! are passed by keyword (`_context` first), the method is
//! called, and a plain returned value (`int`, `float`, `bool`, `str`, `bytes`) is written into
//! the first result field. A coroutine is stepped once here (most finish without
//! suspending); anything else goes to the Python helpers that `_server_cap` hands over
//! (`_after_call`, `_returned`, `_resumed`, `_server_error`), so every rarer form keeps one
//! implementation.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
// Filled from the schema; a peer's ids are only looked up (no flooding): the fast hash.
use rustc_hash::FxHashMap as HashMap;

use capnp::any_pointer;
use capnp::capability::Params;
use capnp_dynamic::schema::StructSchema;
use capnp_dynamic::struct_::ForeignStruct;
use capnp_dynamic::MessageBuilder;
use capnp_dynrpc::EventLoop;
use pyo3::exceptions::PyException;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyFloat, PyInt, PyString, PyTuple, PyType};

use crate::call_context::{LazyParams, PyCallContext};
use crate::error::MsgError;
use crate::ffi::Step;
use crate::message::PyMessageHandle;
use crate::registry::PyRegistry;
use crate::struct_::PyStructReader;

/// Whether a method is implemented in context style (`name_context`), found on its first
/// call as the Python side does.
const STYLE_UNKNOWN: u8 = 0;
const STYLE_PLAIN: u8 = 1;
const STYLE_CONTEXT: u8 = 2;

struct Plan {
    name: Py<PyString>,
    context_name: Py<PyString>,
    /// (keyword, field index) of each parameter, in the param struct's order.
    params: Vec<(Py<PyString>, usize)>,
    /// The keywords of a call: `_context`, then the parameters' (vectorcall's names).
    keywords: Py<PyTuple>,
    registry: Py<PyRegistry>,
    param_id: u64,
    result_id: u64,
    /// (name, field index) of the first result field.
    first_result: Option<(Py<PyString>, usize)>,
    /// The Python `_MethodInfo` (what `_CallContext` and the helpers take).
    method: Py<PyAny>,
    style: Cell<u8>,
    /// The params struct, when every parameter is a plain value (primitive, enum, Text,
    /// Data): those are read from the incoming message itself (`run_direct`).
    direct: Option<Arc<StructSchema>>,
    /// The results struct.
    result_schema: Arc<StructSchema>,
}

/// capnp-rpc's results of the call, which a plain returned value is written into directly.
pub(crate) type RpcResults<'a> = &'a mut capnp::capability::Results<any_pointer::Owned>;

/// A call the native side takes: its plan and the server's method.
pub(crate) struct Prepared<'a, 'py> {
    plan: &'a Plan,
    f: Bound<'py, PyAny>,
}

/// Why params could not be read in place.
enum DirectFailure {
    /// The params struct could not be located: the copying path reports it.
    Locate,
    /// A parameter could not be read: the call's error.
    Field(PyErr),
}

/// What `_server_cap` hands over: the server object, `_CallContext`, the helpers and one
/// plan per method that can run here.
pub(crate) struct Native {
    obj: Py<PyAny>,
    server_error: Py<PyAny>,
    after_call: Py<PyAny>,
    returned: Py<PyAny>,
    resumed: Py<PyAny>,
    /// `types.CoroutineType` (what `async def` methods return).
    coroutine_type: Py<PyType>,
    plans: HashMap<(u64, u16), Plan>,
}

type NativeSpec = (
    Py<PyAny>,
    Py<PyAny>,
    Py<PyAny>,
    Py<PyAny>,
    Py<PyAny>,
    Vec<(
        u64,
        u16,
        String,
        Vec<String>,
        Py<PyRegistry>,
        u64,
        u64,
        Option<String>,
        Py<PyAny>,
    )>,
);

impl Native {
    /// Reads `_server_cap`'s tuple; a parameter or result name the schema does not have
    /// leaves that method to the Python dispatcher.
    pub(crate) fn from_py(spec: &Bound<'_, PyAny>) -> PyResult<Native> {
        let py = spec.py();
        let (obj, server_error, after_call, returned, resumed, list): NativeSpec =
            spec.extract()?;
        let mut plans = HashMap::default();
        'plans: for (iid, ordinal, name, names, registry, param_id, result_id, first, method) in
            list
        {
            let reg = &registry.get().inner;
            let (Ok(pschema), Ok(rschema)) = (reg.get_struct(param_id), reg.get_struct(result_id))
            else {
                continue;
            };
            let mut params = Vec::with_capacity(names.len());
            for n in &names {
                let Some(&i) = pschema.by_name.get(n.as_str()) else {
                    continue 'plans;
                };
                params.push((PyString::intern(py, n).unbind(), i));
            }
            let first_result = match first {
                None => None,
                Some(n) => match rschema.by_name.get(n.as_str()) {
                    Some(&i) => Some((PyString::intern(py, &n).unbind(), i)),
                    None => continue,
                },
            };
            let direct = params
                .iter()
                .all(|(_, i)| ForeignStruct::is_plain(&pschema, *i))
                .then(|| pschema.clone());
            let keywords = PyTuple::new(
                py,
                std::iter::once(intern!(py, "_context").clone().unbind())
                    .chain(params.iter().map(|(k, _)| k.clone_ref(py)))
                    .collect::<Vec<_>>(),
            )?
            .unbind();
            plans.insert(
                (iid, ordinal),
                Plan {
                    keywords,
                    context_name: PyString::new(py, &format!("{name}_context")).unbind(),
                    name: PyString::intern(py, &name).unbind(),
                    params,
                    registry,
                    param_id,
                    result_id,
                    first_result,
                    method,
                    style: Cell::new(STYLE_UNKNOWN),
                    direct,
                    result_schema: rschema.clone(),
                },
            );
        }
        let coroutine_type = py
            .import(intern!(py, "types"))?
            .getattr(intern!(py, "CoroutineType"))?
            .cast_into::<PyType>()?
            .unbind();
        Ok(Native {
            coroutine_type,
            obj,
            server_error,
            after_call,
            returned,
            resumed,
            plans,
        })
    }

    /// The plan and method for call `(interface_id, method_id)`: `None` when the Python
    /// dispatcher must take it (nothing has run then).
    pub(crate) fn prepare<'a, 'py>(
        &'a self,
        py: Python<'py>,
        interface_id: u64,
        method_id: u16,
    ) -> Option<Prepared<'a, 'py>> {
        let plan = self.plans.get(&(interface_id, method_id))?;
        let obj = self.obj.bind(py);
        match plan.style.get() {
            STYLE_PLAIN => {}
            STYLE_CONTEXT => return None,
            _ => {
                // An error here (a raising `__getattr__`) is the Python dispatcher's to report.
                let context = obj.hasattr(plan.context_name.bind(py)).ok()?;
                plan.style
                    .set(if context { STYLE_CONTEXT } else { STYLE_PLAIN });
                if context {
                    return None;
                }
            }
        }
        // A missing method, or one whose lookup raises: the Python dispatcher reports it.
        let f = obj.getattr(plan.name.bind(py)).ok()?;
        Some(Prepared { plan, f })
    }

    /// What the method raises (and a parameter that cannot be read) becomes the call's
    /// error as `_server_error` words it; BaseExceptions other than Exception pass.
    fn fail(&self, py: Python<'_>, plan: &Plan, e: PyErr) -> PyErr {
        if !e.is_instance_of::<PyException>(py) {
            return e;
        }
        match self
            .server_error
            .bind(py)
            .call1((e.into_value(py), plan.name.bind(py)))
        {
            Ok(kj) => PyErr::from_value(kj),
            Err(e) => e,
        }
    }

    /// Runs a prepared call with its params copied into `params_msg`: what the Python
    /// dispatcher would have returned (`None` when the call is done, or the future of its
    /// completion) or raised.
    pub(crate) fn run(
        &self,
        py: Python<'_>,
        prepared: &Prepared<'_, '_>,
        params_msg: &MessageBuilder,
        results: &MessageBuilder,
        rpc_results: RpcResults<'_>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let plan = prepared.plan;
        let registry = plan.registry.bind(py);
        params_msg.enable_caps();
        let root = params_msg
            .get_root(&registry.get().inner, plan.param_id)
            .map_err(|e| MsgError::from(e).into_py(py))?;
        let reader = PyStructReader::wrap_raw(py, root.as_reader(), plan.registry.clone_ref(py))?;
        let params = crate::types::hand_out(py, reader.clone_ref(py), plan.param_id, false)?;
        let reader = reader.bind(py);
        let values = plan
            .params
            .iter()
            .map(|(_, index)| {
                reader
                    .get()
                    .read_field(py, *index, reader)
                    .map_err(|e| self.fail(py, plan, e.into_py_attr(py)))
            })
            .collect::<PyResult<Vec<_>>>()?;
        let handle = Py::new(py, PyMessageHandle::from_inner(results.clone()))?.into_any();
        let ctx = PyCallContext::create(params, handle, plan.method.clone_ref(py));
        self.call(py, prepared, ctx, values, results, rpc_results)
    }

    /// Runs a prepared call whose parameters are all plain values, read from `params` (the
    /// incoming message) without copying it; `_context.params` copies it only if read.
    /// `Err(params)`, before anything has run, when the plan is not such a call or the
    /// params struct cannot be located (the caller then copies and runs `run`).
    pub(crate) fn run_direct(
        &self,
        py: Python<'_>,
        prepared: &Prepared<'_, '_>,
        params: Params<any_pointer::Owned>,
        ev: &Rc<EventLoop>,
        results: &MessageBuilder,
        rpc_results: RpcResults<'_>,
    ) -> Result<PyResult<Option<Py<PyAny>>>, Params<any_pointer::Owned>> {
        let plan = prepared.plan;
        let Some(schema) = &plan.direct else {
            return Err(params);
        };
        let read = (|| -> Result<Vec<Py<PyAny>>, DirectFailure> {
            let src = params.get().map_err(|_| DirectFailure::Locate)?;
            let st = ForeignStruct::of(src).map_err(|_| DirectFailure::Locate)?;
            let mut values = Vec::with_capacity(plan.params.len());
            for (_, index) in &plan.params {
                let field =
                    |e: MsgError| DirectFailure::Field(self.fail(py, plan, e.into_py_attr(py)));
                let value = match st.read_plain(schema, *index) {
                    Ok(Some(v)) => v,
                    Ok(None) => return Err(DirectFailure::Locate),
                    Err(e) => return Err(field(MsgError::from(e))),
                };
                let ty = schema
                    .fields
                    .get(*index)
                    .and_then(crate::convert::slot_type);
                values.push(
                    crate::convert::value_to_py(py, value, ty, &plan.registry).map_err(field)?,
                );
            }
            Ok(values)
        })();
        let values = match read {
            Ok(v) => v,
            Err(DirectFailure::Locate) => return Err(params),
            Err(DirectFailure::Field(e)) => return Ok(Err(e)),
        };
        let lazy = LazyParams {
            params,
            ev: ev.clone(),
            registry: plan.registry.clone_ref(py),
            param_id: plan.param_id,
        };
        let ctx = PyCallContext::create_lazy(lazy, results.clone(), plan.method.clone_ref(py));
        Ok(self.call(py, prepared, ctx, values, results, rpc_results))
    }

    /// Calls the method with `_context` first, then the parameters' `values` by keyword.
    fn call(
        &self,
        py: Python<'_>,
        prepared: &Prepared<'_, '_>,
        ctx: PyCallContext,
        values: Vec<Py<PyAny>>,
        results: &MessageBuilder,
        rpc_results: RpcResults<'_>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let plan = prepared.plan;
        let ctx = Bound::new(py, ctx)?;
        let args: Vec<Bound<'_, PyAny>> = std::iter::once(ctx.clone().into_any())
            .chain(values.into_iter().map(|v| v.into_bound(py)))
            .collect();
        let out = crate::ffi::call_with_keywords(&prepared.f, &args, plan.keywords.bind(py))
            .map_err(|e| self.fail(py, plan, e))?;
        drop(args);
        self.returned_value(py, plan, &ctx, out, results, rpc_results)
    }

    /// Handles what the method returned (`out`).
    fn returned_value(
        &self,
        py: Python<'_>,
        plan: &Plan,
        ctx: &Bound<'_, PyCallContext>,
        out: Bound<'_, PyAny>,
        results: &MessageBuilder,
        rpc_results: RpcResults<'_>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let registry = plan.registry.bind(py);
        let method = plan.method.bind(py);
        let fail = |e: PyErr| self.fail(py, plan, e);
        if out.is_none() {
            return Ok(None);
        }
        let out = if out.get_type().is(self.coroutine_type.bind(py)) {
            // The coroutine's code may use asyncio (sleep, futures, awaiting calls): inside a
            // synchronous `wait()`, the loop becomes the running loop first.
            crate::sync_loop::before_python(py)?;
            match crate::ffi::send_none(&out) {
                Ok(Step::Yielded(first)) => {
                    let r = self
                        .resumed
                        .bind(py)
                        .call1((&out, first, ctx, method, false))?;
                    return Ok(Some(r.unbind()));
                }
                Ok(Step::Returned(value)) => {
                    if value.is_none() {
                        return Ok(None);
                    }
                    if !is_plain(&value) || plan.first_result.is_none() {
                        self.returned.bind(py).call1((ctx, method, value, false))?;
                        return Ok(None);
                    }
                    value
                }
                Err(e) => return Err(fail(e)),
            }
        } else if !is_plain(&out) || plan.first_result.is_none() {
            let r = self.after_call.bind(py).call1((out, ctx, method, false))?;
            return Ok(if r.is_none() { None } else { Some(r.unbind()) });
        } else {
            out
        };
        // A plain value for the first result field.
        let Some((name, index)) = &plan.first_result else {
            return Ok(None);
        };
        let written = ctx.try_borrow()?.written_results(py);
        if let Some(written) = written {
            let written = written.bind(py);
            // The method wrote other result fields already: add to them.
            written.setattr(name.bind(py), &out).map_err(fail)?;
            return Ok(None);
        }
        // Nothing written to our results message yet: the value goes straight into
        // capnp-rpc's results (no message of ours to build and copy out).
        if results.size_in_words() == 0 {
            if let Some(v) = crate::convert::plain_set_value(&out) {
                let fields = [(*index, v)];
                let plain = capnp_dynamic::struct_::PlainStruct::prepare(
                    &plan.result_schema,
                    &registry.get().inner,
                    &fields,
                )
                .and_then(|p| p.map(|p| p.write(rpc_results.get())).transpose())
                .map_err(|e| fail(MsgError::from(e).into_py_attr(py)))?;
                let written = plain.is_some();
                if written {
                    return Ok(None);
                }
            }
        }
        let builder = results
            .init_root(&registry.get().inner, plan.result_id)
            .map_err(|e| fail(MsgError::from(e).into_py(py)))?;
        crate::convert::set_field(&builder, &plan.registry, *index, &out)
            .map_err(|e| fail(e.into_py_attr(py)))?;
        Ok(None)
    }
}

/// `type(value) in (int, float, bool, str, bytes)`: what goes straight to the first result
/// field.
fn is_plain(value: &Bound<'_, PyAny>) -> bool {
    value.is_exact_instance_of::<PyInt>()
        || value.is_exact_instance_of::<PyFloat>()
        || value.is_exact_instance_of::<PyBool>()
        || value.is_exact_instance_of::<PyString>()
        || value.is_exact_instance_of::<PyBytes>()
}
