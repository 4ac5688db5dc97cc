//! The RPC binding: the thread's event loop (driven by asyncio: a wake-up schedules one run
//! through `call_soon_threadsafe`), capability tokens (`_Cap`), calls in flight (`_Pending`),
//! server objects called from Rust (`_new_server_cap`) and two-party connections over an
//! asyncio transport (`_Connection`). The Python side (`capnp/lib/_rpc.py`) builds pycapnp's
//! classes on these.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use capnp::any_pointer;
use capnp::capability::{DispatchCallResult, Params, Promise, Results};
use capnp_dynamic::{Cap, CapValue, MessageBuilder};
use capnp_dynrpc::{
    CallHandler, Connection, EventLoop, LoopCap, Pending, Pipe, PipeSink, ServerInfo, Side,
};
use futures::channel::oneshot;
use futures::FutureExt;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCFunction, PyTuple};

use crate::exceptions::{kj_exception, Raised};
use crate::message::PyMessageHandle;
use crate::thread_bound::ThreadBound;

const NOT_RUNNING: &str =
    "The KJ event-loop is not running (on this thread). Please start it through 'capnp.kj_loop()'";

const CONSUMED: &str =
    "Promise was already used in a consuming operation. You can no longer use this Promise object";

thread_local! {
    static LOOP: RefCell<Option<Rc<EventLoop>>> = const { RefCell::new(None) };
    /// `_rpc._state.active`: the `_LoopState` of the loop running on this thread.
    static ACTIVE: RefCell<Option<Py<PyAny>>> = const { RefCell::new(None) };
}

/// The thread's active `_LoopState` (`None`: no loop runs here).
pub(crate) fn active_state(py: Python<'_>) -> Bound<'_, PyAny> {
    ACTIVE
        .with(|a| a.borrow().as_ref().map(|s| s.bind(py).clone()))
        .unwrap_or_else(|| py.None().into_bound(py))
}

/// `_rpc._state`: which loop runs on each thread (`active`). A `threading.local` did this
/// at ~100 ns a read; every call reads it twice (sending, waiting).
#[pyclass(frozen, name = "_ThreadState", module = "capnp.lib.capnp")]
pub(crate) struct PyThreadState;

#[pymethods]
impl PyThreadState {
    #[new]
    fn new() -> Self {
        PyThreadState
    }

    #[getter]
    fn active<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        active_state(py)
    }

    #[setter]
    fn set_active(&self, value: Option<Bound<'_, PyAny>>) {
        let value = value.filter(|v| !v.is_none()).map(Bound::unbind);
        // The old state is dropped after the borrow ends: its finalizers may read `active`.
        let old = ACTIVE.with(|a| a.replace(value));
        drop(old);
    }
}

fn not_running() -> PyErr {
    PyRuntimeError::new_err(NOT_RUNNING)
}

/// The thread's open loop.
pub(crate) fn current() -> PyResult<Rc<EventLoop>> {
    LOOP.with(|l| l.borrow().clone()).ok_or_else(not_running)
}

/// A capnp error as the `KjException` pycapnp raises for RPC failures.
pub(crate) fn rpc_error(py: Python<'_>, e: &capnp::Error) -> PyErr {
    let kind = match e.kind {
        capnp::ErrorKind::Overloaded => "OVERLOADED",
        capnp::ErrorKind::Disconnected => "DISCONNECTED",
        capnp::ErrorKind::Unimplemented => "UNIMPLEMENTED",
        _ => "FAILED",
    };
    kj_exception(
        py,
        Raised {
            kind,
            description: e.extra.clone(),
            file: Some("capnp/rpc"),
            line: 0,
            location: "capnp/rpc".to_string(),
        },
    )
}

/// Opens the thread's loop; `call_soon(run)` (on the loop's thread) or
/// `call_soon_threadsafe(run)` (elsewhere) asks asyncio for a run.
#[pyfunction]
pub(crate) fn _loop_open(
    call_soon: Py<PyAny>,
    call_soon_threadsafe: Py<PyAny>,
    run: Py<PyAny>,
) -> PyResult<()> {
    if LOOP.with(|l| l.borrow().is_some()) {
        return Err(PyRuntimeError::new_err(
            "The KJ event-loop is already running (on this thread).",
        ));
    }
    let thread = std::thread::current().id();
    open_loop(Box::new(move || {
        Python::attach(|py| {
            preserving_error(py, || {
                // On the loop's thread asyncio needs no wake-up write to its self-pipe.
                let call = if std::thread::current().id() == thread {
                    &call_soon
                } else {
                    &call_soon_threadsafe
                };
                if let Err(e) = call.call1(py, (run.clone_ref(py),)) {
                    // The asyncio loop is closed: nothing can run any more.
                    e.write_unraisable(py, None);
                }
            })
        })
    }))
}

/// Runs `f` with the thread's pending Python exception set aside and restores it after.
/// Wake-ups and drops call into Python from wherever Rust objects are dropped, which includes
/// CPython tearing down a frame while its exception is set (before 3.11 a generator's
/// `StopIteration` carrying its return value is set while its locals are released): a call
/// made then would clobber that exception and the value with it.
pub(crate) fn preserving_error<R>(py: Python<'_>, f: impl FnOnce() -> R) -> R {
    let saved = PyErr::take(py);
    let out = f();
    if let Some(e) = saved {
        e.restore(py);
    }
    out
}

/// Opens the thread's loop with `schedule` asking its host for runs.
pub(crate) fn open_loop(schedule: capnp_dynrpc::Schedule) -> PyResult<()> {
    if LOOP.with(|l| l.borrow().is_some()) {
        return Err(PyRuntimeError::new_err(
            "The KJ event-loop is already running (on this thread).",
        ));
    }
    let ev = EventLoop::new(schedule);
    LOOP.with(|l| *l.borrow_mut() = Some(ev));
    Ok(())
}

/// Runs the thread's loop now, if it is open (from callbacks asyncio makes on its thread).
pub(crate) fn run_now() {
    let _ = crate::thread_bound::drop_orphans();
    if let Some(ev) = LOOP.with(|l| l.borrow().clone()) {
        ev.run();
    }
}

/// One run of the thread's executor (what the scheduled callback does).
#[pyfunction]
pub(crate) fn _loop_run() {
    run_now();
}

#[pyfunction]
pub(crate) fn _loop_is_open() -> bool {
    LOOP.with(|l| l.borrow().is_some())
}

/// Closes the thread's loop: every task and capability is dropped here.
#[pyfunction]
pub(crate) fn _loop_close() {
    let _ = crate::thread_bound::drop_orphans();
    if let Some(ev) = LOOP.with(|l| l.borrow_mut().take()) {
        ev.close();
    }
}

/// A capability token (any thread may hold it; only its loop's thread may use it).
#[pyclass(frozen, name = "_Cap", module = "capnp.lib.capnp")]
pub(crate) struct PyCap {
    pub(crate) cap: Cap,
}

impl PyCap {
    /// Sends a call whose params are the root of `params`; the pending call.
    pub(crate) fn send_message(
        &self,
        py: Python<'_>,
        interface_id: u64,
        method_id: u16,
        params: &MessageBuilder,
        streaming: bool,
    ) -> PyResult<PyPending> {
        let hook = self.hook()?;
        let ev = current()?;
        if streaming {
            let p = ev
                .send_streaming(&*hook, interface_id, method_id, params)
                .map_err(|e| rpc_error(py, &e))?;
            return Ok(PyPending::new(PendingKind::Stream(RefCell::new(Some(p)))));
        }
        // Writes the request now (or with the burst it belongs to).
        let rp = ev
            .sending(|| ev.send(&*hook, interface_id, method_id, params))
            .map_err(|e| rpc_error(py, &e))?;
        Ok(PyPending::new(PendingKind::Call(Pending::new(rp))))
    }

    /// `send_message` of params that are plain values (`PlainStruct`), written straight
    /// into the request.
    pub(crate) fn send_plain(
        &self,
        py: Python<'_>,
        interface_id: u64,
        method_id: u16,
        params: capnp_dynamic::struct_::PlainStruct<'_, '_>,
    ) -> PyResult<PyPending> {
        let hook = self.hook()?;
        let ev = current()?;
        let rp = ev
            .sending(|| ev.send_plain(&*hook, interface_id, method_id, params))
            .map_err(|e| crate::error::MsgError::from(e).into_py_attr(py))?;
        Ok(PyPending::new(PendingKind::Call(Pending::new(rp))))
    }

    pub(crate) fn hook(&self) -> PyResult<Box<dyn capnp::private::capability::ClientHook>> {
        match self.cap.as_any().downcast_ref::<LoopCap>() {
            Some(lc) if lc.shared().is_closed() => Err(not_running()),
            Some(lc) if lc.shared().thread() != std::thread::current().id() => Err(
                PyRuntimeError::new_err("This capability belongs to another thread's event loop"),
            ),
            _ => current()?.hook_of(&self.cap).ok_or_else(not_running),
        }
    }
}

fn wrap_hook(
    py: Python<'_>,
    ev: &EventLoop,
    hook: Box<dyn capnp::private::capability::ClientHook>,
) -> PyResult<Py<PyCap>> {
    Py::new(
        py,
        PyCap {
            cap: Arc::new(ev.register(hook)),
        },
    )
}

#[pymethods]
impl PyCap {
    /// Sends a call with the params in `params` (a message handle whose root is the params
    /// struct); returns the pending call.
    fn send(
        &self,
        py: Python<'_>,
        interface_id: u64,
        method_id: u16,
        params: &PyMessageHandle,
        streaming: bool,
    ) -> PyResult<PyPending> {
        self.send_message(py, interface_id, method_id, params.message(), streaming)
    }

    /// Whether both tokens name the same client of the same loop.
    fn same(&self, other: &PyCap) -> bool {
        Arc::ptr_eq(&self.cap, &other.cap)
    }
}

enum PendingKind {
    Call(Rc<Pending>),
    Stream(RefCell<Option<Promise<(), capnp::Error>>>),
}

/// A call in flight, bound to its loop's thread (any thread may drop it: `ThreadBound`).
#[pyclass(frozen, name = "_Pending", module = "capnp.lib.capnp")]
pub(crate) struct PyPending {
    state: ThreadBound<PendingState>,
    /// The registry and results struct id, when the sender knew them (`wait_results`), and
    /// whether the results can hold no capability (then they are read in place when they
    /// can be: `EventLoop::response_reader`).
    results: Option<(Py<crate::registry::PyRegistry>, u64, bool)>,
}

struct PendingState {
    inner: Rc<PendingKind>,
    /// Set while an asyncio future waits for the call (`wait_into`): firing it cancels.
    cancel: RefCell<Option<oneshot::Sender<()>>>,
}

impl PyPending {
    fn new(kind: PendingKind) -> PyPending {
        PyPending {
            state: ThreadBound::new(PendingState {
                inner: Rc::new(kind),
                cancel: RefCell::new(None),
            }),
            results: None,
        }
    }

    /// Records the results' struct (`wait_results` then needs no arguments for it).
    pub(crate) fn with_results(
        mut self,
        registry: Py<crate::registry::PyRegistry>,
        result_id: u64,
        no_caps: bool,
    ) -> PyPending {
        self.results = Some((registry, result_id, no_caps));
        self
    }

    /// The call's state, on its loop's thread.
    fn state(&self) -> PyResult<&PendingState> {
        self.state.get().ok_or_else(|| {
            PyRuntimeError::new_err("This call belongs to another thread's event loop")
        })
    }
}

/// Settles an asyncio future from Rust (on the loop's thread); a cancelled future is left.
impl PyPending {
    fn wait_sync_inner(
        &self,
        py: Python<'_>,
        reactor: &crate::sync_loop::PyReactor,
        registry: Option<Py<crate::registry::PyRegistry>>,
        result_id: u64,
    ) -> PyResult<Py<PyAny>> {
        let ev = current()?;
        let consumed = || crate::exceptions::plain_kj_exception(py, CONSUMED);
        match &*self.state()?.inner {
            PendingKind::Call(p) => {
                let promise = p.promise.borrow_mut().take().ok_or_else(consumed)?;
                let resp = drive(py, &ev, reactor, promise)?;
                let in_place = matches!(&self.results, Some((_, _, true)));
                results_object(py, &ev, &resp, registry, result_id, in_place)
            }
            PendingKind::Stream(p) => {
                let promise = p.borrow_mut().take().ok_or_else(consumed)?;
                drive(py, &ev, reactor, promise)?;
                Ok(py.None())
            }
        }
    }
}

/// The results of a finished call for Python: with `registry`, the root reader of struct
/// `result_id` (read in place when `in_place`, the results holding no capability, and the
/// loop finds them: `EventLoop::response_reader`; else copied); without, the message handle.
fn results_object(
    py: Python<'_>,
    ev: &EventLoop,
    resp: &capnp::capability::Response<any_pointer::Owned>,
    registry: Option<Py<crate::registry::PyRegistry>>,
    result_id: u64,
    in_place: bool,
) -> PyResult<Py<PyAny>> {
    if let (Some(registry), true) = (&registry, in_place) {
        if let Some(reader) = ev.response_reader(resp) {
            let root = reader
                .root(&registry.get().inner, result_id)
                .map_err(|e| crate::error::MsgError::from(e).into_py(py))?;
            return crate::struct_::PyStructReader::wrap(py, root, registry.clone_ref(py));
        }
    }
    let m = ev.response_message(resp).map_err(|e| rpc_error(py, &e))?;
    match registry {
        Some(registry) => crate::message::root_reader(py, &m, registry, result_id),
        None => Ok(Py::new(py, PyMessageHandle::from_inner(m))?.into_any()),
    }
}

fn settle(py: Python<'_>, fut: &Py<PyAny>, result: PyResult<Py<PyAny>>) {
    let fut = fut.bind(py);
    let r = match result {
        Ok(v) => fut.call_method1(pyo3::intern!(py, "set_result"), (v,)),
        Err(e) => fut.call_method1(pyo3::intern!(py, "set_exception"), (e.into_value(py),)),
    };
    if let Err(e) = r {
        // A future that is done already (cancelled by its task) refuses: that is no error.
        // Asked after the fact, which spares the common case a `done()` call.
        let done = fut
            .call_method0(pyo3::intern!(py, "done"))
            .and_then(|d| d.is_truthy())
            .unwrap_or(true);
        if !done {
            e.write_unraisable(py, None);
        }
    }
}

#[pymethods]
impl PyPending {
    /// Completes `future` with the results (a `_MessageHandle`; with `registry` and
    /// `result_id`, the results' root reader) or the call's `KjException`. Cancelling the
    /// future cancels the call; with `watch_cancel=False` the caller calls `cancel()` instead
    /// (what `_RemotePromise.__await__` does on `CancelledError`, sparing a callback per call).
    #[pyo3(signature = (future, registry=None, result_id=0, watch_cancel=true))]
    fn wait_into(
        &self,
        future: Py<PyAny>,
        registry: Option<Py<crate::registry::PyRegistry>>,
        result_id: u64,
        watch_cancel: bool,
    ) -> PyResult<()> {
        let ev = current()?;
        let state = self.state()?;
        let consumed = || Python::attach(|py| crate::exceptions::plain_kj_exception(py, CONSUMED));
        let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
        if watch_cancel {
            add_cancel_callback(&future, cancel_tx)?;
        } else {
            *state.cancel.borrow_mut() = Some(cancel_tx);
        }
        match &*state.inner {
            PendingKind::Call(p) => {
                let promise = p.promise.borrow_mut().take().ok_or_else(consumed)?;
                let pending = p.clone();
                let ev2 = ev.clone();
                let in_place = matches!(&self.results, Some((_, _, true)));
                complete_into(
                    &ev,
                    future,
                    promise,
                    cancel_rx,
                    move || pending.cancel(),
                    move |py, resp| results_object(py, &ev2, &resp, registry, result_id, in_place),
                );
            }
            PendingKind::Stream(p) => {
                let promise = p.borrow_mut().take().ok_or_else(consumed)?;
                complete_into(
                    &ev,
                    future,
                    promise,
                    cancel_rx,
                    || {},
                    |py, ()| Ok(py.None()),
                );
            }
        }
        Ok(())
    }

    /// Runs the thread's synchronous loop `reactor` until the call completes; its results (a
    /// `_MessageHandle`, `None` for a streaming call) or its `KjException`. An exception
    /// out of the loop (Ctrl+C) cancels the call.
    /// With `registry` and `result_id`: the results' root reader instead of the handle.
    /// With `lazy_marker`, `reactor` becomes asyncio's running loop only while Python code
    /// runs during the wait (the caller has not set it).
    #[pyo3(signature = (reactor, registry=None, result_id=0, lazy_marker=false))]
    fn wait_sync(
        &self,
        py: Python<'_>,
        reactor: &Bound<'_, crate::sync_loop::PyReactor>,
        registry: Option<Py<crate::registry::PyRegistry>>,
        result_id: u64,
        lazy_marker: bool,
    ) -> PyResult<Py<PyAny>> {
        if lazy_marker {
            let event_loop = reactor.clone().into_any().unbind();
            return crate::sync_loop::with_lazy_marker(py, event_loop, || {
                self.wait_sync_inner(py, &reactor.borrow(), registry, result_id)
            });
        }
        self.wait_sync_inner(py, &reactor.borrow(), registry, result_id)
    }

    /// `wait_sync(reactor, registry, result_id, True)` with the results struct recorded at
    /// sending (else `method`'s): a synchronous promise's `wait()`, with two attribute reads
    /// and a 64-bit id conversion less per call.
    fn wait_results(
        &self,
        py: Python<'_>,
        reactor: &Bound<'_, crate::sync_loop::PyReactor>,
        method: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let (registry, result_id) = match &self.results {
            Some((registry, id, _)) => (registry.clone_ref(py), *id),
            None => (
                method.getattr(pyo3::intern!(py, "registry"))?.extract()?,
                method.getattr(pyo3::intern!(py, "result_id"))?.extract()?,
            ),
        };
        self.wait_sync(py, reactor, Some(registry), result_id, true)
    }

    /// The capability at `path` (pointer indices) of the results, usable before they arrive.
    fn pipeline_cap(&self, py: Python<'_>, path: Vec<u16>) -> PyResult<Py<PyCap>> {
        let ev = current()?;
        let PendingKind::Call(p) = &*self.state()?.inner else {
            return Err(PyRuntimeError::new_err(
                "a streaming call has no results to pipeline on",
            ));
        };
        // The borrow ends before any Python object is made (a finalizer could cancel this call).
        let hook = {
            let pipeline = p.pipeline.borrow();
            let Some(pipeline) = pipeline.as_ref() else {
                return Err(crate::exceptions::plain_kj_exception(py, CONSUMED));
            };
            let mut pl = pipeline.noop();
            for i in path {
                pl = pl.get_pointer_field(i);
            }
            pl.as_cap()
        };
        wrap_hook(py, &ev, hook)
    }

    /// Drops the call (capnp-rpc then cancels it).
    fn cancel(&self) -> PyResult<()> {
        let state = self.state()?;
        let waiting = state.cancel.borrow_mut().take();
        if let Some(tx) = waiting {
            let _ = tx.send(());
        }
        match &*state.inner {
            PendingKind::Call(p) => p.cancel(),
            PendingKind::Stream(p) => drop(p.borrow_mut().take()),
        }
        Ok(())
    }

    fn is_consumed(&self) -> PyResult<bool> {
        Ok(match &*self.state()?.inner {
            PendingKind::Call(p) => p.promise.borrow().is_none(),
            PendingKind::Stream(p) => p.borrow().is_none(),
        })
    }
}

/// Runs the synchronous loop until `promise` completes; dropping out early (an exception
/// from the loop) drops the promise, which cancels the call.
///
/// The promise is polled here, by the loop's `done` check, not spawned as a task: the check
/// runs after every turn that did anything (an executor run, a read, a callback), and the
/// promise's waker is the executor's, so a wake of the promise alone schedules a turn too.
fn drive<T: 'static>(
    py: Python<'_>,
    ev: &EventLoop,
    reactor: &crate::sync_loop::PyReactor,
    mut promise: Promise<T, capnp::Error>,
) -> PyResult<T> {
    let waker = ev.executor.waker();
    let mut cx = std::task::Context::from_waker(&waker);
    let mut out = None;
    reactor.state()?.run_until_native(
        py,
        &mut |_| {
            if out.is_none() {
                if let std::task::Poll::Ready(r) = promise.poll_unpin(&mut cx) {
                    out = Some(r);
                }
            }
            Ok(out.is_some())
        },
        true,
    )?;
    let r = out.ok_or_else(|| PyRuntimeError::new_err("the call ended without a result"))?;
    r.map_err(|e| rpc_error(py, &e))
}

/// Completes the asyncio `future` with `promise`'s outcome (`convert`ed), on the loop. A
/// cancelled future drops the promise (and runs `on_cancel`); a loop closed first fails the
/// future (`FailOnDrop`).
fn complete_into<T: 'static>(
    ev: &EventLoop,
    future: Py<PyAny>,
    promise: Promise<T, capnp::Error>,
    cancel_rx: oneshot::Receiver<()>,
    on_cancel: impl FnOnce() + 'static,
    convert: impl FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + 'static,
) {
    ev.spawning(async move {
        let guard = FailOnDrop(Some(future));
        let r = futures::future::select(promise, cancel_rx).await;
        let futures::future::Either::Left((r, _)) = r else {
            on_cancel();
            return;
        };
        let Some(future) = guard.take() else { return };
        Python::attach(|py| {
            let out = r
                .map_err(|e| rpc_error(py, &e))
                .and_then(|v| convert(py, v));
            settle(py, &future, out);
        })
    });
}

/// Holds the asyncio future a call completes; if the waiting task is dropped first (the loop
/// closed), fails it with DISCONNECTED as capnp-rpc fails calls of a destroyed RPC system.
struct FailOnDrop(Option<Py<PyAny>>);

impl FailOnDrop {
    fn take(mut self) -> Option<Py<PyAny>> {
        self.0.take()
    }
}

impl Drop for FailOnDrop {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            Python::attach(|py| {
                preserving_error(py, || {
                    let e = capnp::Error::disconnected("RpcSystem was destroyed".into());
                    settle(py, &f, Err(rpc_error(py, &e)));
                })
            });
        }
    }
}

/// `future.add_done_callback`: a cancelled future fires `tx` (the Rust side then drops).
fn add_cancel_callback(future: &Py<PyAny>, tx: oneshot::Sender<()>) -> PyResult<()> {
    Python::attach(|py| {
        let tx = std::sync::Mutex::new(Some(tx));
        let cb = PyCFunction::new_closure(
            py,
            None,
            None,
            move |args: &Bound<'_, PyTuple>, _kw| -> PyResult<()> {
                let fut = args.get_item(0)?;
                if fut.call_method0("cancelled")?.is_truthy()? {
                    if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                        let _ = tx.send(());
                    }
                }
                Ok(())
            },
        )?;
        future.bind(py).call_method1("add_done_callback", (cb,))?;
        Ok(())
    })
}

/// A server object's calls go to `dispatch(interface_id, method_id, params, results)` (Python),
/// with params and results as message handles; it returns `None` when the call is done, or
/// an asyncio future that completes when it is (its exception fails the call).
struct PyHandler {
    dispatch: Py<PyAny>,
    /// (interface id, method id) of streaming methods.
    streaming: Vec<(u64, u16)>,
    /// The common calls, run natively (`dispatch.rs`); the rest go to `dispatch`.
    native: Option<crate::dispatch::Native>,
}

fn py_to_capnp(py: Python<'_>, e: PyErr) -> capnp::Error {
    // The Python side formats server exceptions as (type, description); anything else
    // that escapes is FAILED with its text.
    let v = e.value(py);
    let kind = v
        .getattr("type")
        .ok()
        .and_then(|t| t.extract::<String>().ok())
        .unwrap_or_default();
    let text = v
        .getattr("description")
        .ok()
        .and_then(|t| t.extract::<String>().ok())
        .unwrap_or_else(|| v.to_string());
    match kind.as_str() {
        "OVERLOADED" => capnp::Error::overloaded(text),
        "DISCONNECTED" => capnp::Error::disconnected(text),
        "UNIMPLEMENTED" => capnp::Error::unimplemented(text),
        _ => capnp::Error::failed(text),
    }
}

impl CallHandler for PyHandler {
    fn call(
        &self,
        interface_id: u64,
        method_id: u16,
        params: Params<any_pointer::Owned>,
        mut results: Results<any_pointer::Owned>,
    ) -> DispatchCallResult {
        let streaming = self.streaming.contains(&(interface_id, method_id));
        let ev = match current() {
            Ok(ev) => ev,
            Err(_) => {
                return DispatchCallResult::new(
                    Promise::err(capnp::Error::disconnected(NOT_RUNNING.into())),
                    streaming,
                )
            }
        };
        // Results are usually small: a small first segment (grown on demand) spares
        // allocating and zeroing 8 KiB per call.
        let results_msg = MessageBuilder::with_first_segment_words(64);
        let started = Python::attach(|py| -> Result<Option<Py<PyAny>>, capnp::Error> {
            let native = self
                .native
                .as_ref()
                .and_then(|n| n.prepare(py, interface_id, method_id).map(|p| (n, p)));
            // A method taking plain values reads them from the incoming message itself.
            let params = match native {
                Some((n, prepared)) => {
                    match n.run_direct(py, &prepared, params, &ev, &results_msg, &mut results) {
                        Ok(out) => return out.map_err(|e| py_to_capnp(py, e)),
                        Err(params) => {
                            let params_msg = params.get().and_then(|p| ev.copy_in(p))?;
                            drop(params);
                            return n
                                .run(py, &prepared, &params_msg, &results_msg, &mut results)
                                .map_err(|e| py_to_capnp(py, e));
                        }
                    }
                }
                None => params,
            };
            let params_msg = params.get().and_then(|p| ev.copy_in(p))?;
            drop(params);
            let p = Py::new(py, PyMessageHandle::from_inner(params_msg))
                .map_err(|e| py_to_capnp(py, e))?;
            let r = Py::new(py, PyMessageHandle::from_inner(results_msg.clone()))
                .map_err(|e| py_to_capnp(py, e))?;
            let out = self
                .dispatch
                .call1(py, (interface_id, method_id, p, r))
                .map_err(|e| py_to_capnp(py, e))?;
            Ok(if out.is_none(py) { None } else { Some(out) })
        });
        let finish = move |ev: &EventLoop,
                           results: &mut Results<any_pointer::Owned>|
              -> Result<(), capnp::Error> {
            if results_msg.size_in_words() > 0 {
                ev.copy_out(&results_msg, results.get())?;
            }
            Ok(())
        };
        let promise = match started {
            Err(e) => Promise::err(e),
            Ok(None) => Promise::from_future(futures::future::ready(finish(&ev, &mut results))),
            Ok(Some(fut)) => {
                let (tx, rx) = oneshot::channel::<Result<(), capnp::Error>>();
                let hooked = Python::attach(|py| -> PyResult<()> {
                    let tx = std::sync::Mutex::new(Some(tx));
                    let cb = PyCFunction::new_closure(
                        py,
                        None,
                        None,
                        move |args: &Bound<'_, PyTuple>, _kw| -> PyResult<()> {
                            let py = args.py();
                            let f = args.get_item(0)?;
                            let r = if f.call_method0("cancelled")?.is_truthy()? {
                                Err(capnp::Error::failed("Server task was cancelled".into()))
                            } else {
                                match f.call_method0("result") {
                                    Ok(_) => Ok(()),
                                    Err(e) => Err(py_to_capnp(py, e)),
                                }
                            };
                            if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                                let _ = tx.send(r);
                            }
                            run_now();
                            Ok(())
                        },
                    )?;
                    fut.bind(py).call_method1("add_done_callback", (cb,))?;
                    Ok(())
                });
                if let Err(e) = hooked {
                    Promise::err(Python::attach(|py| py_to_capnp(py, e)))
                } else {
                    // Dropping the call (cancellation) cancels the task.
                    let guard = CancelOnDrop(Some(fut));
                    Promise::from_future(async move {
                        let r = rx.await.unwrap_or_else(|_| {
                            Err(capnp::Error::failed("server task dropped".into()))
                        });
                        let mut guard = guard;
                        guard.0 = None;
                        r?;
                        finish(&ev, &mut results)
                    })
                }
            }
        };
        DispatchCallResult::new(promise, streaming)
    }
}

struct CancelOnDrop(Option<Py<PyAny>>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            Python::attach(|py| {
                preserving_error(py, || {
                    let _ = f.bind(py).call_method0("cancel");
                })
            });
        }
    }
}

/// Inside a synchronous `wait()`, makes its loop asyncio's running loop before Python code
/// that may use asyncio runs (a server coroutine's first step); elsewhere nothing.
#[pyfunction]
pub(crate) fn _mark_running(py: Python<'_>) -> PyResult<()> {
    crate::sync_loop::before_python(py)
}

/// A new local capability served by `dispatch` (see `PyHandler`); `interfaces` lists the
/// interface ids it implements, `streaming` its `-> stream` methods, `native` what
/// `dispatch.rs` runs itself (`None`: everything goes to `dispatch`).
#[pyfunction]
pub(crate) fn _new_server_cap(
    py: Python<'_>,
    dispatch: Py<PyAny>,
    interfaces: Vec<u64>,
    streaming: Vec<(u64, u16)>,
    native: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyCap>> {
    let ev = current()?;
    let native = native.map(crate::dispatch::Native::from_py).transpose()?;
    let hook = capnp_dynrpc::new_server_client(
        ServerInfo { interfaces },
        Box::new(PyHandler {
            dispatch,
            streaming,
            native,
        }),
    );
    wrap_hook(py, &ev, hook)
}

/// A capability whose every call fails with `message` (what a null capability reads as).
#[pyfunction]
pub(crate) fn _broken_cap(py: Python<'_>, message: String) -> PyResult<Py<PyCap>> {
    let ev = current()?;
    wrap_hook(
        py,
        &ev,
        capnp_rpc::new_broken_cap(capnp::Error::failed(message)).hook,
    )
}

fn no_buffer() -> PyErr {
    PyRuntimeError::new_err("this connection has no receive buffer (or is being given one)")
}

struct TransportSink {
    transport: Py<PyAny>,
    /// `transport.write`, looked up once.
    write: Py<PyAny>,
}

impl PipeSink for TransportSink {
    fn write(&self, data: &[u8]) -> std::io::Result<()> {
        Python::attach(|py| {
            let bytes = PyBytes::new(py, data);
            self.write
                .call1(py, (bytes,))
                .map(|_| ())
                .map_err(|e| std::io::Error::other(e.to_string()))
        })
    }
    fn close(&self) {
        Python::attach(|py| {
            preserving_error(py, || {
                let _ = self.transport.call_method0(py, "close");
            })
        })
    }
}

/// A two-party connection over an asyncio transport; the protocol feeds it. Bound to its
/// loop's thread (any thread may drop it: `ThreadBound`).
/// The native part of `_SyncRemotePromise` (a call on the synchronous loop): the call, its
/// method, the client it keeps alive until completion, the loop state, and `wait()`. Made by
/// `PyMethodCall` per call, so its fields are set without a Python `__init__`.
#[pyclass(
    subclass,
    weakref,
    frozen,
    name = "_SyncCall",
    module = "capnp.lib.capnp"
)]
pub(crate) struct PySyncCall {
    pending: Py<PyPending>,
    method: Py<PyAny>,
    client: Py<PyAny>,
    st: Py<PyAny>,
}

/// `_RemotePromise.wait`, the general path of `wait()`.
static GENERAL_WAIT: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();

#[pymethods]
impl PySyncCall {
    #[new]
    fn new(pending: Py<PyPending>, method: Py<PyAny>, client: Py<PyAny>, st: Py<PyAny>) -> Self {
        PySyncCall {
            pending,
            method,
            client,
            st,
        }
    }

    #[getter(_pending)]
    fn pending(&self, py: Python<'_>) -> Py<PyPending> {
        self.pending.clone_ref(py)
    }

    #[getter(_method)]
    fn method(&self, py: Python<'_>) -> Py<PyAny> {
        self.method.clone_ref(py)
    }

    #[getter(_client)]
    fn client(&self, py: Python<'_>) -> Py<PyAny> {
        self.client.clone_ref(py)
    }

    #[getter(_st)]
    fn st(&self, py: Python<'_>) -> Py<PyAny> {
        self.st.clone_ref(py)
    }

    /// 1.x: runs the synchronous loop until the results arrive.
    fn wait(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let st = this.st.bind(py);
        // The usual case, checked first: on the loop's own thread, its wake-up fd installed
        // (or none needed): the loop runs natively until the results arrive.
        if !st.is_none()
            && active_state(py).is(st)
            && !st.getattr(pyo3::intern!(py, "closed"))?.is_truthy()?
        {
            let aloop = st.getattr(pyo3::intern!(py, "aloop"))?;
            if let Ok(reactor) = aloop.cast::<crate::sync_loop::PyReactor>() {
                if reactor.get().signals_ready() {
                    return this
                        .pending
                        .get()
                        .wait_results(py, reactor, this.method.bind(py));
                }
            }
        }
        // Anything else (another thread, a closed loop, the main thread's signal wake-up to
        // install, a kj_loop): the general path.
        let general = GENERAL_WAIT.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py
                .import(pyo3::intern!(py, "capnp.lib._rpc"))?
                .getattr(pyo3::intern!(py, "_RemotePromise"))?
                .getattr(pyo3::intern!(py, "wait"))?
                .unbind())
        })?;
        general.call1(py, (slf,))
    }

    fn __traverse__(&self, visit: pyo3::PyVisit<'_>) -> Result<(), pyo3::PyTraverseError> {
        visit.call(&self.pending)?;
        visit.call(&self.method)?;
        visit.call(&self.client)?;
        visit.call(&self.st)?;
        Ok(())
    }
}

#[pyclass(frozen, name = "_Connection", module = "capnp.lib.capnp")]
pub(crate) struct PyConnection {
    state: ThreadBound<ConnState>,
}

struct ConnState {
    pipe: Pipe,
    conn: Rc<Connection>,
    /// The receive buffer asyncio reads into (`receive_into`): the object handed out by
    /// `get_buffer` and its bytes, exported once for the connection's life.
    receive: RefCell<Option<(Py<PyAny>, crate::buffer::Input)>>,
}

/// The read limits of a connection's messages.
pub(crate) fn reader_options(
    traversal_limit_in_words: Option<u64>,
    nesting_limit: Option<i32>,
) -> capnp::message::ReaderOptions {
    let mut options = capnp::message::ReaderOptions::new();
    if let Some(t) = traversal_limit_in_words {
        options.traversal_limit_in_words(Some(usize::try_from(t).unwrap_or(usize::MAX)));
    }
    if let Some(n) = nesting_limit {
        options.nesting_limit(n);
    }
    options
}

impl PyConnection {
    /// Another handle on the same connection.
    pub(crate) fn share(&self) -> PyResult<Self> {
        let s = self.state()?;
        Ok(PyConnection::from_parts(s.pipe.clone(), s.conn.clone()))
    }

    fn from_parts(pipe: Pipe, conn: Rc<Connection>) -> Self {
        PyConnection {
            state: ThreadBound::new(ConnState {
                pipe,
                conn,
                receive: RefCell::new(None),
            }),
        }
    }

    /// The connection, on its loop's thread.
    fn state(&self) -> PyResult<&ConnState> {
        self.state.get().ok_or_else(|| {
            PyRuntimeError::new_err("This connection belongs to another thread's event loop")
        })
    }

    /// Starts a connection over `pipe` on the thread's loop (`on_done(None | error)` when it
    /// ends).
    pub(crate) fn start(
        pipe: Pipe,
        is_server: bool,
        bootstrap: Option<&PyCap>,
        on_done: Py<PyAny>,
        traversal_limit_in_words: Option<u64>,
        nesting_limit: Option<i32>,
    ) -> PyResult<Self> {
        let ev = current()?;
        let export = bootstrap.map(|b| b.hook()).transpose()?;
        let options = reader_options(traversal_limit_in_words, nesting_limit);
        let side = if is_server {
            Side::Server
        } else {
            Side::Client
        };
        let conn = Connection::start(
            &ev,
            pipe.clone(),
            side,
            export,
            options,
            Box::new(move |r| {
                Python::attach(|py| {
                    let arg = match r {
                        Ok(()) => py.None(),
                        Err(e) => rpc_error(py, &e).into_value(py).into_any(),
                    };
                    if let Err(e) = on_done.call1(py, (arg,)) {
                        e.write_unraisable(py, None);
                    }
                })
            }),
        );
        Ok(PyConnection::from_parts(pipe, conn))
    }
}

#[pymethods]
impl PyConnection {
    #[new]
    #[pyo3(signature = (transport, is_server, bootstrap, on_done, traversal_limit_in_words=None, nesting_limit=None))]
    fn new(
        transport: Py<PyAny>,
        is_server: bool,
        bootstrap: Option<&PyCap>,
        on_done: Py<PyAny>,
        traversal_limit_in_words: Option<u64>,
        nesting_limit: Option<i32>,
    ) -> PyResult<Self> {
        let write = Python::attach(|py| transport.getattr(py, pyo3::intern!(py, "write")))?;
        let pipe = Pipe::new(Box::new(TransportSink { transport, write }));
        PyConnection::start(
            pipe,
            is_server,
            bootstrap,
            on_done,
            traversal_limit_in_words,
            nesting_limit,
        )
    }

    /// Bytes from the transport; the loop runs at once (we are on its thread, in a
    /// protocol callback), so a call is dispatched without another trip through asyncio.
    fn feed(&self, data: &[u8]) -> PyResult<()> {
        self.state()?.pipe.feed(data);
        run_now();
        Ok(())
    }

    /// Bytes from a buffer (a memoryview of the protocol's receive buffer), as `feed`.
    fn feed_buffer(&self, view: &Bound<'_, PyAny>) -> PyResult<()> {
        let pipe = &self.state()?.pipe;
        // The export is released (at the end of `feed`) before the loop runs Python code.
        let feed = || -> PyResult<()> {
            pipe.feed((*crate::buffer::input(view)?.bytes).as_ref());
            Ok(())
        };
        let _ = crate::thread_bound::drop_orphans();
        match current() {
            // The run is claimed before the bytes wake tasks: no host callback for it.
            Ok(ev) => ev.feeding(feed),
            Err(_) => feed(),
        }
    }

    /// Makes `view` (a writable buffer) the one `get_buffer` hands asyncio and
    /// `buffer_updated` reads from, exported once here rather than at every read.
    fn receive_into(&self, view: &Bound<'_, PyAny>) -> PyResult<()> {
        let input = crate::buffer::input(view)?;
        let state = self.state()?;
        let mut receive = state.receive.try_borrow_mut().map_err(|_| no_buffer())?;
        *receive = Some((view.clone().unbind(), input));
        Ok(())
    }

    /// `BufferedProtocol.get_buffer`: the buffer of `receive_into`.
    fn get_buffer(&self, py: Python<'_>, sizehint: isize) -> PyResult<Py<PyAny>> {
        let _ = sizehint; // the buffer is 256 KiB whatever asyncio asks for
        match &*self
            .state()?
            .receive
            .try_borrow()
            .map_err(|_| no_buffer())?
        {
            Some((view, _)) => Ok(view.clone_ref(py)),
            None => Err(no_buffer()),
        }
    }

    /// `BufferedProtocol.buffer_updated`: the first `nbytes` of the receive buffer are new
    /// bytes of the stream (as `feed`).
    fn buffer_updated(&self, nbytes: usize) -> PyResult<()> {
        let state = self.state()?;
        // The bytes' export is shared out, so no borrow is held while the stream takes them.
        let bytes = match &*state.receive.try_borrow().map_err(|_| no_buffer())? {
            Some((_, input)) => input.bytes.clone(),
            None => return Err(no_buffer()),
        };
        let feed = || -> PyResult<()> {
            let bytes = (*bytes).as_ref();
            state.pipe.feed(&bytes[..nbytes.min(bytes.len())]);
            Ok(())
        };
        let _ = crate::thread_bound::drop_orphans();
        match current() {
            Ok(ev) => ev.feeding(feed),
            Err(_) => feed(),
        }
    }

    #[pyo3(signature = (error=None))]
    fn feed_eof(&self, error: Option<String>) -> PyResult<()> {
        self.state()?.pipe.feed_eof(error);
        Ok(())
    }

    fn pause_writing(&self) -> PyResult<()> {
        self.state()?.pipe.pause_writing();
        Ok(())
    }

    fn resume_writing(&self) -> PyResult<()> {
        self.state()?.pipe.resume_writing();
        Ok(())
    }

    fn bootstrap(&self, py: Python<'_>) -> PyResult<Py<PyCap>> {
        let conn = &self.state()?.conn;
        let ev = current()?;
        wrap_hook(py, &ev, conn.bootstrap())
    }

    fn disconnect(&self) -> PyResult<()> {
        let conn = &self.state()?.conn;
        let ev = current()?;
        conn.disconnect(&ev);
        Ok(())
    }
}

impl PyConnection {
    /// Whether its transport has ended (closed, or the peer's end seen).
    pub(crate) fn is_ended(&self) -> bool {
        self.state().map_or(true, |s| s.pipe.is_closed())
    }

    /// Ends it as `disconnect()` does.
    pub(crate) fn end(&self) {
        let _ = self.disconnect();
    }
}

/// What a capability value read from a message becomes in Python: a `_Cap` (or `None` for a
/// null pointer); plain messages without a cap table cannot hold capabilities.
pub(crate) fn cap_value_to_py(py: Python<'_>, v: CapValue) -> PyResult<Option<Py<PyCap>>> {
    match v {
        CapValue::NoTable => Err(crate::any_pointer::capability_unsupported(py)),
        CapValue::Null => Ok(None),
        CapValue::Cap(cap) => Ok(Some(Py::new(py, PyCap { cap })?)),
    }
}
