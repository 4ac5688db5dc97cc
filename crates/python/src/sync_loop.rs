//! The synchronous (1.x) API's event loop (`_Reactor`): a native loop per thread, with no
//! asyncio underneath. It runs the thread's RPC executor, the thread's sockets (the epoll
//! reactor of `capnp_dynrpc`), timers and Python callbacks; between events it blocks in
//! `epoll_wait` with the interpreter lock released, so an idle wait uses no CPU, and a signal
//! (Ctrl+C) interrupts it at once and raises from the waiting call.
//!
//! To Python it looks enough like an asyncio loop (`call_soon`, `call_at`, `time`,
//! `get_debug`...) that `asyncio.Future` and `asyncio.Task` run on it: `capnp/lib/_sync.py`
//! builds pycapnp 1.x's promises on those. A remote call's `wait()` runs the loop natively
//! until the call completes (`_Pending.wait_sync`), without any Python in between.

use std::cell::{Cell, RefCell};
use std::cmp::Ordering as CmpOrdering;
// Keyed by our own counters: the fast hash.
use rustc_hash::FxHashMap as HashMap;
use std::collections::{BinaryHeap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use capnp_dynrpc::{EventLoop, Listener, Reactor, Stream};
use pyo3::exceptions::{PyException, PyOSError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::rpc::{current, reader_options, run_now, PyCap, PyConnection};

/// A callback with its arguments and `contextvars.Context`.
struct Job {
    callback: Py<PyAny>,
    args: Py<PyTuple>,
    context: Option<Py<PyAny>>,
}

impl Job {
    fn run(self, py: Python<'_>) -> PyResult<()> {
        match self.context {
            Some(ctx) if !ctx.is_none(py) => {
                let mut all = Vec::with_capacity(self.args.bind(py).len() + 1);
                all.push(self.callback.clone_ref(py));
                all.extend(self.args.bind(py).iter().map(|a| a.unbind()));
                let args = PyTuple::new(py, all)?;
                ctx.call_method1(py, pyo3::intern!(py, "run"), args)
                    .map(|_| ())
            }
            _ => self
                .callback
                .call1(py, self.args.bind(py).clone())
                .map(|_| ()),
        }
    }
}

/// What `call_at`/`call_later` return: `cancel()` stops the callback.
#[pyclass(frozen, name = "_TimerHandle", module = "capnp.lib.capnp")]
pub(crate) struct PyTimerHandle {
    when: f64,
    cancelled: AtomicBool,
}

#[pymethods]
impl PyTimerHandle {
    fn cancel(&self) {
        self.cancelled.store(true, Ordering::Release);
    }
    fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }
    fn when(&self) -> f64 {
        self.when
    }
}

struct Timer {
    when: f64,
    seq: u64,
    job: Job,
    handle: Py<PyTimerHandle>,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    // Reversed: `BinaryHeap` pops the greatest, we want the earliest.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        other
            .when
            .total_cmp(&self.when)
            .then(other.seq.cmp(&self.seq))
    }
}

/// The part of a loop other threads may use: `call_soon_threadsafe`.
#[pyclass(frozen, name = "_ReactorRemote", module = "capnp.lib.capnp")]
pub(crate) struct PyRemote {
    queue: Mutex<Vec<Job>>,
    /// Set after every push to `queue` (read and cleared before taking the lock).
    queued: AtomicBool,
    wanted: Arc<AtomicBool>,
    waker: Arc<mio::Waker>,
}

#[pymethods]
impl PyRemote {
    #[pyo3(signature = (callback, *args, context=None))]
    fn call_soon_threadsafe(
        &self,
        callback: Py<PyAny>,
        args: Py<PyTuple>,
        context: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        self.queue
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the loop's queue is poisoned"))?
            .push(Job {
                callback,
                args,
                context,
            });
        self.queued.store(true, Ordering::Release);
        self.wanted.store(true, Ordering::Release);
        self.waker.wake()?;
        Ok(())
    }
}

/// One thread's synchronous loop. The object may be dropped on any thread (futures that refer
/// to it can end up anywhere); what it runs lives in its thread's storage (`State`) and only
/// that thread can reach it.
#[pyclass(
    frozen,
    subclass,
    weakref,
    name = "_Reactor",
    module = "capnp.lib.capnp"
)]
pub(crate) struct PyReactor {
    thread: ThreadId,
    key: u64,
    remote: Py<PyRemote>,
    origin: Instant,
    origin_time: f64,
    /// Whether a wait may start without installing a signal wake-up fd first (no wake-up
    /// socket, or ours stays installed): kept by `_sync.py` as it changes `_wakeup` and
    /// `_wakeup_kept`, read by a call's native `wait()`.
    signals_ready: AtomicBool,
}

pub(crate) struct State {
    reactor: Rc<Reactor>,
    ready: RefCell<VecDeque<Job>>,
    timers: RefCell<BinaryHeap<Timer>>,
    seq: Cell<u64>,
    remote: Py<PyRemote>,
    origin: Instant,
    origin_time: f64,
    running: Cell<bool>,
    closed: Cell<bool>,
    /// Sockets the program passed in (their bound `fileno` methods), with their connections:
    /// the reactor runs duplicates, so a program closing its socket (which ended the
    /// connection under pycapnp 1.x, whose loop used the descriptor itself) is noticed before
    /// the loop blocks.
    passed: RefCell<Vec<(Py<PyAny>, crate::rpc::PyConnection)>>,
}

thread_local! {
    static STATES: RefCell<HashMap<u64, Rc<State>>> = RefCell::new(HashMap::default());
}

static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// asyncio's `_get_running_loop` and `_set_running_loop`.
static RUNNING_LOOP_FNS: pyo3::sync::PyOnceLock<(Py<PyAny>, Py<PyAny>)> =
    pyo3::sync::PyOnceLock::new();

/// A `wait()` whose loop becomes asyncio's running loop only once Python code that may use
/// asyncio runs during it (a server coroutine, a callback of the loop's queue), not for a plain
/// server method (pycapnp 1.x had no running loop there): a client waiting for a remote call
/// runs none, and setting and resetting the marker cost two `getpid` calls per wait on
/// CPython 3.11.
struct LazyMarker {
    event_loop: Py<PyAny>,
    /// Set: the running loop it replaced.
    outer: Option<Py<PyAny>>,
}

thread_local! {
    static LAZY_MARKER: RefCell<Option<LazyMarker>> = const { RefCell::new(None) };
}

fn running_loop_fns(py: Python<'_>) -> PyResult<&(Py<PyAny>, Py<PyAny>)> {
    RUNNING_LOOP_FNS.get_or_try_init(py, || {
        let events = py.import("asyncio.events")?;
        Ok((
            events.getattr("_get_running_loop")?.unbind(),
            events.getattr("_set_running_loop")?.unbind(),
        ))
    })
}

/// Before Python code that may use asyncio runs inside a lazy `wait()`: its loop becomes the
/// running loop.
pub(crate) fn before_python(py: Python<'_>) -> PyResult<()> {
    let pending = LAZY_MARKER.with(|m| {
        m.borrow()
            .as_ref()
            .filter(|m| m.outer.is_none())
            .map(|m| m.event_loop.clone_ref(py))
    });
    let Some(event_loop) = pending else {
        return Ok(());
    };
    let (get, set) = running_loop_fns(py)?;
    let outer = get.call0(py)?;
    set.call1(py, (event_loop,))?;
    LAZY_MARKER.with(|m| {
        if let Some(m) = m.borrow_mut().as_mut() {
            m.outer = Some(outer);
        }
    });
    Ok(())
}

/// Runs `f` as a lazy `wait()` of `event_loop` (see `LazyMarker`); the running loop is reset
/// afterwards if Python code ran.
pub(crate) fn with_lazy_marker<T>(
    py: Python<'_>,
    event_loop: Py<PyAny>,
    f: impl FnOnce() -> PyResult<T>,
) -> PyResult<T> {
    let previous = LAZY_MARKER.with(|m| {
        m.borrow_mut().replace(LazyMarker {
            event_loop,
            outer: None,
        })
    });
    let out = f();
    let ended = LAZY_MARKER.with(|m| std::mem::replace(&mut *m.borrow_mut(), previous));
    if let Some(LazyMarker {
        outer: Some(outer), ..
    }) = ended
    {
        let (_, set) = running_loop_fns(py)?;
        set.call1(py, (outer,))?;
    }
    out
}

const NESTED: &str = "wait() called from inside a callback of the synchronous loop";

impl PyReactor {
    /// See the field.
    pub(crate) fn signals_ready(&self) -> bool {
        self.signals_ready.load(Ordering::Relaxed)
    }

    /// This loop's state (on its own thread only).
    pub(crate) fn state(&self) -> PyResult<Rc<State>> {
        if std::thread::current().id() != self.thread {
            return Err(PyRuntimeError::new_err(
                "This synchronous event loop belongs to another thread",
            ));
        }
        STATES
            .with(|s| s.borrow().get(&self.key).cloned())
            .ok_or_else(|| PyRuntimeError::new_err("the synchronous event loop is closed"))
    }
}

impl Drop for PyReactor {
    fn drop(&mut self) {
        // On another thread the state stays with its thread (and goes when it ends).
        if std::thread::current().id() == self.thread {
            let state = STATES
                .try_with(|s| {
                    s.try_borrow_mut()
                        .ok()
                        .and_then(|mut s| s.remove(&self.key))
                })
                .ok()
                .flatten();
            if let Some(state) = state {
                state.close();
            }
        }
    }
}

impl State {
    fn now(&self) -> f64 {
        self.origin_time + self.origin.elapsed().as_secs_f64()
    }

    fn push_timer(&self, py: Python<'_>, when: f64, job: Job) -> PyResult<Py<PyTimerHandle>> {
        let handle = Py::new(
            py,
            PyTimerHandle {
                when,
                cancelled: AtomicBool::new(false),
            },
        )?;
        let seq = self.seq.get();
        self.seq.set(seq + 1);
        self.timers.borrow_mut().push(Timer {
            when,
            seq,
            job,
            handle: handle.clone_ref(py),
        });
        Ok(handle)
    }

    /// The earliest live timer's deadline (cancelled ones at the top are dropped).
    fn next_deadline(&self, py: Python<'_>) -> Option<f64> {
        let mut timers = self.timers.borrow_mut();
        while let Some(t) = timers.peek() {
            if t.handle.get().cancelled.load(Ordering::Acquire) {
                let gone = timers.pop();
                drop(gone);
                continue;
            }
            let _ = py;
            return Some(t.when);
        }
        None
    }

    /// Moves due timers and callbacks queued by other threads to the ready queue.
    fn collect(&self, py: Python<'_>) {
        if !self.timers.borrow().is_empty() {
            self.collect_due();
        }
        let remote = self.remote.get();
        // The flag is set after every push: no push is missed, and the lock is taken only
        // when something came.
        if !remote.queued.swap(false, Ordering::AcqRel) {
            return;
        }
        let jobs: Vec<Job> = match remote.queue.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => Vec::new(),
        };
        let _ = py;
        self.ready.borrow_mut().extend(jobs);
    }

    /// Moves the timers due now to the ready queue.
    fn collect_due(&self) {
        let now = self.now();
        loop {
            let due = {
                let mut timers = self.timers.borrow_mut();
                match timers.peek() {
                    Some(t) if t.when <= now => timers.pop(),
                    _ => None,
                }
            };
            let Some(t) = due else { break };
            if !t.handle.get().cancelled.load(Ordering::Acquire) {
                self.ready.borrow_mut().push_back(t.job);
            }
        }
    }

    /// Runs the callbacks ready now (not those they add); whether any ran.
    fn run_ready(&self, py: Python<'_>) -> PyResult<bool> {
        let n = self.ready.borrow().len();
        if n > 0 {
            before_python(py)?;
        }
        for _ in 0..n {
            let job = self.ready.borrow_mut().pop_front();
            let Some(job) = job else { break };
            if let Err(e) = job.run(py) {
                if e.is_instance_of::<PyException>(py) {
                    // Logged as asyncio logs an exception escaping a callback.
                    let logged = py
                        .import("capnp.lib._sync")
                        .and_then(|m| m.getattr("_callback_error"))
                        .and_then(|f| f.call1((e.clone_ref(py).into_value(py),)));
                    if logged.is_err() {
                        e.write_unraisable(py, None);
                    }
                } else {
                    // KeyboardInterrupt, SystemExit: out of the waiting call.
                    return Err(e);
                }
            }
        }
        Ok(n > 0)
    }

    /// Runs the loop until `done()` holds. `block`: wait for events when idle; without it,
    /// returns once nothing is ready (what `poll_once` does).
    pub(crate) fn run_until_native(
        &self,
        py: Python<'_>,
        done: &mut dyn FnMut(Python<'_>) -> PyResult<bool>,
        block: bool,
    ) -> PyResult<()> {
        if self.closed.get() {
            return Err(PyRuntimeError::new_err(
                "the synchronous event loop is closed",
            ));
        }
        if self.running.replace(true) {
            return Err(PyRuntimeError::new_err(NESTED));
        }
        struct Reset<'a>(&'a Cell<bool>);
        impl Drop for Reset<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _reset = Reset(&self.running);
        loop {
            if done(py)? {
                return Ok(());
            }
            if self.closed.get() {
                // Closed by a callback (remove_event_loop): what was awaited cannot come.
                return Err(PyRuntimeError::new_err(
                    "the synchronous event loop was closed",
                ));
            }
            let mut progressed = false;
            // Calls and connections of this loop released by other threads (the cyclic GC
            // runs anywhere) are dropped here; their drops may give the executor work.
            if self.reactor.take_wanted() | crate::thread_bound::drop_orphans() {
                run_now();
                progressed = true;
            }
            self.collect(py);
            if self.run_ready(py)? {
                progressed = true;
            }
            if progressed {
                continue;
            }
            if !block {
                if self.wait(py, Some(Duration::ZERO))? {
                    continue;
                }
                return Ok(());
            }
            // Only before a real block: bytes already waiting at a paired socket (the reactor
            // reads them without asking epoll) mean the loop is not idle.
            if !self.reactor.has_hinted() && self.end_closed_sockets(py) {
                continue;
            }
            py.check_signals()?;
            let timeout = self
                .next_deadline(py)
                .map(|when| Duration::from_secs_f64((when - self.now()).max(0.0)));
            self.wait(py, timeout)?;
        }
    }

    /// Ends the connections whose passed-in socket the program closed (`fileno()` is -1: the
    /// peer then sees the end, as it did under pycapnp 1.x); forgets ended connections.
    /// Whether any was ended.
    fn end_closed_sockets(&self, py: Python<'_>) -> bool {
        if self.passed.borrow().is_empty() {
            return false;
        }
        let all = std::mem::take(&mut *self.passed.borrow_mut());
        let mut ended = false;
        let mut kept = Vec::with_capacity(all.len());
        for (fileno, conn) in all {
            if conn.is_ended() {
                continue;
            }
            let closed = fileno
                .bind(py)
                .call0()
                .and_then(|f| f.extract::<i64>())
                .map_or(true, |fd| fd < 0);
            if closed {
                conn.end();
                ended = true;
            } else {
                kept.push((fileno, conn));
            }
        }
        self.passed.borrow_mut().extend(kept);
        ended
    }

    /// One wait for events (the interpreter lock released while blocked).
    fn wait(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<bool> {
        match self
            .reactor
            .wait(timeout, |block| crate::ffi::detach(py, block))
        {
            Ok(handled) => Ok(handled),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                py.check_signals()?;
                Ok(true)
            }
            Err(e) => Err(PyOSError::new_err(e.to_string())),
        }
    }

    fn open_check(&self) -> PyResult<()> {
        if self.closed.get() {
            return Err(PyRuntimeError::new_err(
                "the synchronous event loop is closed",
            ));
        }
        Ok(())
    }

    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        self.reactor.close();
        let ready = std::mem::take(&mut *self.ready.borrow_mut());
        let timers = std::mem::take(&mut *self.timers.borrow_mut());
        let passed = std::mem::take(&mut *self.passed.borrow_mut());
        drop(ready);
        drop(timers);
        drop(passed);
    }
}

fn stream_of(sock: &Bound<'_, PyAny>, is_unix: bool) -> PyResult<Stream> {
    let fd = crate::ffi::dup_socket(sock)?;
    Ok(if is_unix {
        Stream::unix(std::os::unix::net::UnixStream::from(fd))?
    } else {
        Stream::tcp(std::net::TcpStream::from(fd))?
    })
}

#[pymethods]
impl PyReactor {
    #[new]
    fn new(py: Python<'_>) -> PyResult<Self> {
        let reactor = Reactor::new()?;
        let (wanted, waker) = reactor.remote();
        let origin_time: f64 = py
            .import("time")?
            .getattr("monotonic")?
            .call0()?
            .extract()?;
        let origin = Instant::now();
        let remote = Py::new(
            py,
            PyRemote {
                queue: Mutex::new(Vec::new()),
                queued: AtomicBool::new(false),
                wanted,
                waker,
            },
        )?;
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        let state = Rc::new(State {
            reactor,
            ready: RefCell::new(VecDeque::new()),
            timers: RefCell::new(BinaryHeap::new()),
            seq: Cell::new(0),
            remote: remote.clone_ref(py),
            origin,
            origin_time,
            running: Cell::new(false),
            closed: Cell::new(false),
            passed: RefCell::new(Vec::new()),
        });
        STATES.with(|s| s.borrow_mut().insert(key, state));
        Ok(PyReactor {
            thread: std::thread::current().id(),
            key,
            remote,
            origin,
            origin_time,
            signals_ready: AtomicBool::new(true),
        })
    }

    /// Opens the thread's RPC loop with this loop as its host: executor wake-ups ask it for
    /// a turn (a flag, and the waker when they come from another thread).
    fn open_rpc_loop(&self) -> PyResult<()> {
        let (wanted, waker) = self.state()?.reactor.remote();
        let thread = std::thread::current().id();
        crate::rpc::open_loop(Box::new(move || {
            wanted.store(true, Ordering::Release);
            if std::thread::current().id() != thread {
                let _ = waker.wake();
            }
        }))
    }

    #[getter(_signals_ready)]
    fn get_signals_ready(&self) -> bool {
        self.signals_ready.load(Ordering::Relaxed)
    }

    #[setter(_signals_ready)]
    fn set_signals_ready(&self, ready: bool) {
        self.signals_ready.store(ready, Ordering::Relaxed);
    }

    #[getter]
    fn _remote(&self, py: Python<'_>) -> Py<PyRemote> {
        self.remote.clone_ref(py)
    }

    fn time(&self) -> f64 {
        self.origin_time + self.origin.elapsed().as_secs_f64()
    }

    fn get_debug(&self) -> bool {
        false
    }

    fn is_running(&self) -> bool {
        self.state().is_ok_and(|s| s.running.get())
    }

    fn is_closed(&self) -> bool {
        self.state().map_or(true, |s| s.closed.get())
    }

    #[pyo3(signature = (callback, *args, context=None))]
    fn call_soon(
        &self,
        callback: Py<PyAny>,
        args: Py<PyTuple>,
        context: Option<Py<PyAny>>,
    ) -> PyResult<()> {
        let st = self.state()?;
        st.open_check()?;
        st.ready.borrow_mut().push_back(Job {
            callback,
            args,
            context,
        });
        Ok(())
    }

    #[pyo3(signature = (when, callback, *args, context=None))]
    fn call_at(
        &self,
        py: Python<'_>,
        when: f64,
        callback: Py<PyAny>,
        args: Py<PyTuple>,
        context: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyTimerHandle>> {
        let st = self.state()?;
        st.open_check()?;
        st.push_timer(
            py,
            when,
            Job {
                callback,
                args,
                context,
            },
        )
    }

    #[pyo3(signature = (delay, callback, *args, context=None))]
    fn call_later(
        &self,
        py: Python<'_>,
        delay: f64,
        callback: Py<PyAny>,
        args: Py<PyTuple>,
        context: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyTimerHandle>> {
        let st = self.state()?;
        st.open_check()?;
        let when = st.now() + delay.max(0.0);
        st.push_timer(
            py,
            when,
            Job {
                callback,
                args,
                context,
            },
        )
    }

    /// Runs the loop until the asyncio future `future` (of this loop) is done.
    fn run_until(&self, py: Python<'_>, future: &Bound<'_, PyAny>) -> PyResult<()> {
        self.state()?.run_until_native(
            py,
            &mut |_| {
                future
                    .call_method0(pyo3::intern!(future.py(), "done"))?
                    .is_truthy()
            },
            true,
        )
    }

    /// Runs what is ready now (events included), without blocking.
    fn poll_once(&self, py: Python<'_>) -> PyResult<()> {
        let mut rounds = 0;
        self.state()?.run_until_native(
            py,
            &mut |_| {
                rounds += 1;
                Ok(rounds > 64)
            },
            false,
        )
    }

    /// The epoll descriptor (readable when a socket or the waker is).
    fn fileno(&self) -> PyResult<i32> {
        Ok(self.state()?.reactor.fileno())
    }

    /// Whether asyncio code watches this loop's descriptor (`_sync._Pump`): bytes written
    /// directly between paired sockets then wake the poller too.
    fn _set_pumped(&self, pumped: bool) -> PyResult<()> {
        self.state()?.reactor.set_pumped(pumped);
        Ok(())
    }

    /// Whether a turn would run something now (callbacks, the executor, due timers).
    fn has_ready(&self, py: Python<'_>) -> PyResult<bool> {
        let st = self.state()?;
        Ok(!st.ready.borrow().is_empty()
            || st.reactor.is_wanted()
            || st.next_deadline(py).is_some_and(|w| w <= st.now()))
    }

    /// The next timer's deadline (`time()`'s clock), if any.
    fn next_timer(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        Ok(self.state()?.next_deadline(py))
    }

    /// A two-party connection over the connected socket `sock`. `watch`: the program passed
    /// `sock`: its descriptor is used as it is (borrowed, never closed here, used only while
    /// `sock.fileno()` names it), so closing it ends the connection for the peer at once, and
    /// here before the loop next blocks. Else a dup of it (`sock` stays the caller's).
    #[pyo3(signature = (sock, is_unix, is_server, bootstrap, on_done, traversal_limit_in_words=None, nesting_limit=None, watch=false))]
    #[allow(clippy::too_many_arguments)]
    fn connect(
        &self,
        sock: &Bound<'_, PyAny>,
        is_unix: bool,
        is_server: bool,
        bootstrap: Option<&PyCap>,
        on_done: Py<PyAny>,
        traversal_limit_in_words: Option<u64>,
        nesting_limit: Option<i32>,
        watch: bool,
    ) -> PyResult<PyConnection> {
        let st = self.state()?;
        st.open_check()?;
        current()?;
        let stream = if watch {
            crate::ffi::borrowed_socket(sock, is_unix)?
        } else {
            stream_of(sock, is_unix)?
        };
        let started = st.reactor.add_connection(stream, |pipe| {
            PyConnection::start(
                pipe,
                is_server,
                bootstrap,
                on_done,
                traversal_limit_in_words,
                nesting_limit,
            )
            .map(Rc::new)
        })?;
        if watch {
            let fileno = sock.getattr(pyo3::intern!(sock.py(), "fileno"))?.unbind();
            st.passed.borrow_mut().push((fileno, started.share()?));
        }
        started.share()
    }

    /// Serves `bootstrap` on every connection the listening socket `sock` accepts; returns
    /// a key for `unlisten`.
    #[pyo3(signature = (sock, is_unix, bootstrap, traversal_limit_in_words=None, nesting_limit=None))]
    fn listen(
        &self,
        sock: &Bound<'_, PyAny>,
        is_unix: bool,
        bootstrap: &PyCap,
        traversal_limit_in_words: Option<u64>,
        nesting_limit: Option<i32>,
    ) -> PyResult<usize> {
        let st = self.state()?;
        st.open_check()?;
        let ev: Rc<EventLoop> = current()?;
        let fd = crate::ffi::dup_socket(sock)?;
        let listener = if is_unix {
            Listener::unix(std::os::unix::net::UnixListener::from(fd))?
        } else {
            Listener::tcp(std::net::TcpListener::from(fd))?
        };
        Ok(st.reactor.listen(
            listener,
            bootstrap.hook()?,
            reader_options(traversal_limit_in_words, nesting_limit),
            &ev,
        )?)
    }

    /// Watches the read end of a (non-blocking) socket pair that Python's
    /// `signal.set_wakeup_fd` writes to: a signal arriving just before the loop blocks still
    /// wakes it, and its handler then runs.
    fn watch_wakeup(&self, sock: &Bound<'_, PyAny>) -> PyResult<usize> {
        let st = self.state()?;
        st.open_check()?;
        Ok(st.reactor.watch_wakeup(stream_of(sock, true)?)?)
    }

    fn unlisten(&self, key: usize) -> PyResult<()> {
        self.state()?.reactor.unlisten(key);
        Ok(())
    }

    /// Closes every socket and drops every callback and timer.
    fn close(&self) -> PyResult<()> {
        if std::thread::current().id() != self.thread {
            return Err(PyRuntimeError::new_err(
                "This synchronous event loop belongs to another thread",
            ));
        }
        let state = STATES.with(|s| s.borrow_mut().remove(&self.key));
        if let Some(state) = state {
            state.close();
        }
        Ok(())
    }
}
