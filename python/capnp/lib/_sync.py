"""pycapnp 1.x's synchronous API (API.md 5.3) on the same RPC core as the asyncio API.

Each thread's synchronous loop is a native loop (``_SyncLoop``, over ``_capnp._Reactor``:
crates/python/src/sync_loop.rs) that runs the thread's RPC executor, its sockets, timers and
callbacks; it runs only inside a waiting call (``wait()``, ``poll_once()``, ``wait_forever()``,
``run_forever()``...). While it waits it blocks in ``epoll_wait`` with the GIL released: an idle
thread uses no CPU, and Ctrl+C interrupts the wait with ``KeyboardInterrupt`` and leaves the
loop usable. It offers enough of asyncio's loop interface for ``asyncio.Future`` and
``asyncio.Task`` to run on it, and the promises below are built on those.
"""

import asyncio
import inspect
import logging
import signal as _signal
import socket as _socket
import threading
import weakref
from asyncio.events import _get_running_loop, _set_running_loop

from capnp import _capnp
from capnp.lib import _rpc

_ASYNCIO_MODE = (
    "wait() cannot be used while pycapnp runs in asyncio mode (inside capnp.kj_loop()); "
    "use 'await' instead"
)


class _Sync(threading.local):
    def __init__(self):
        self.aloop = None


_sync = _Sync()


def _kj_active():
    st = _rpc._state.active
    return st is not None and not st.closed and not getattr(st, "synchronous", False)


class _SyncLoop(_capnp._Reactor):
    """A thread's synchronous loop: the native reactor plus the rest of the asyncio loop
    interface that futures and tasks use."""

    def __init__(self):
        # Kept in the instance: other threads reach it without touching the native object.
        self._threadsafe = self._remote
        # On the main thread, Python's signal wake-up fd points at a socket the loop watches
        # while it waits: a signal that lands just before the loop blocks still wakes it.
        self._wakeup = None
        # Whether our socket stays Python's wake-up fd between waits (see _running).
        self._wakeup_kept = False
        if threading.current_thread() is threading.main_thread():
            pair = _socket.socketpair()
            for s in pair:
                s.setblocking(False)
            self.watch_wakeup(pair[0])
            pair[0].close()  # the reactor keeps its own duplicate
            self._wakeup = pair[1]
            self._signals_ready = False  # native: the wake-up fd is to be installed

    def close(self):
        super().close()
        if self._wakeup is not None:
            if self._wakeup_kept:
                self._wakeup_kept = False
                try:
                    # Uninstalled before the socket closes (its number could be reused); a
                    # wake-up fd someone installed since stays.
                    current = _signal.set_wakeup_fd(-1)
                    if current != self._wakeup.fileno():
                        _signal.set_wakeup_fd(current)
                except ValueError:  # not the main thread
                    pass
            self._wakeup.close()
            self._wakeup = None
            self._signals_ready = True

    def call_soon_threadsafe(self, callback, *args, context=None):
        self._threadsafe.call_soon_threadsafe(callback, *args, context=context)

    def create_future(self):
        return asyncio.Future(loop=self)

    def create_task(self, coro, *, name=None, context=None):
        if context is None:
            return asyncio.Task(coro, loop=self, name=name)
        return asyncio.Task(coro, loop=self, name=name, context=context)

    def call_exception_handler(self, context):
        exc = context.get("exception")
        logging.getLogger("asyncio").error(
            context.get("message", "Unhandled exception in the synchronous loop"),
            exc_info=(type(exc), exc, exc.__traceback__) if exc is not None else None,
        )

    def run_until_complete(self, awaitable):
        return _run(awaitable)


def _from_other_loop():
    """Whether an await happens in asyncio code outside this thread's synchronous loop (and
    outside a kj_loop): its futures then belong to a loop that is not running."""
    running = _get_running_loop()
    return running is not None and running is not _sync.aloop and not _kj_active()


def _callback_error(exc):
    """An exception out of a callback of the synchronous loop: logged, as asyncio does."""
    logging.getLogger("asyncio").error(
        "Exception in a callback of the synchronous loop",
        exc_info=(type(exc), exc, exc.__traceback__),
    )


def _loop():
    """This thread's synchronous loop (created on first use)."""
    if _kj_active():
        raise _rpc._kj(_ASYNCIO_MODE)
    loop = _sync.aloop
    if loop is None or loop.is_closed():
        loop = _SyncLoop()
        loop.open_rpc_loop()
        _sync.aloop = loop
        st = _rpc._LoopState(loop)
        st.synchronous = True
        _rpc._state.active = st
    return loop


def _run(awaitable_or_future):
    """Runs the synchronous loop until `awaitable_or_future` completes; returns its result."""
    loop = _loop()
    fut = asyncio.ensure_future(awaitable_or_future, loop=loop)
    _running(loop, loop.run_until, fut)
    return fut.result()


def _running(loop, f, *args):
    """Calls `f` (which runs the synchronous loop) with `loop` as the running asyncio loop, so
    futures and tasks made meanwhile find it; while an asyncio loop runs on this thread too,
    1.x allowed waiting there (it blocks that loop meanwhile)."""
    outer = _get_running_loop()
    _set_running_loop(loop)
    try:
        return _with_wakeup(loop, f, *args)
    finally:
        _set_running_loop(outer)


def _with_wakeup(loop, f, *args):
    """Calls `f` (which runs the synchronous loop) with the loop's wake-up socket as Python's
    signal wake-up fd, so that a signal ends a blocked wait at once."""
    restore = None
    if loop._wakeup is not None and not loop._wakeup_kept:
        # Installing a wake-up fd costs CPython two system calls (~3 us), so when no other
        # one was set our socket stays installed until the loop closes; a fd someone else had
        # set is put back after each wait. (If a library installs its own later, waits still
        # see signals through EINTR; only one landing just before the wait blocks is noticed
        # at the next wake-up.)
        old = _signal.set_wakeup_fd(loop._wakeup.fileno(), warn_on_full_buffer=False)
        if old == -1:
            loop._wakeup_kept = True
            loop._signals_ready = True
        else:
            restore = old
    try:
        return f(*args)
    finally:
        if restore is not None:
            _signal.set_wakeup_fd(restore)


def _wait_pending(pending):
    """``wait()`` of a remote call: the loop runs natively until the call completes."""
    loop = _loop()
    return _running(loop, pending.wait_sync, loop)


def create_event_loop(threaded=True):
    """A fresh synchronous loop for this thread (closing an existing one first)."""
    remove_event_loop(ignore_errors=True)
    _loop()


def remove_event_loop(ignore_errors=False):
    """Closes this thread's synchronous loop; its objects become unusable."""
    loop = _sync.aloop
    if loop is None:
        return
    _sync.aloop = None
    st = _rpc._state.active
    try:
        if st is not None and getattr(st, "synchronous", False):
            st.closed = True
            _rpc._state.active = None
            for s in list(st.streams):
                s.close()
            _capnp._loop_close()
        loop.close()
    except Exception:
        if not ignore_errors:
            raise


def reset_event_loop(ignore_errors=False, threaded=True):
    """Closes and re-creates the thread's synchronous event loop."""
    remove_event_loop(ignore_errors)
    create_event_loop(threaded)


def poll_once():
    """Runs every event of this thread's synchronous loop that is ready now, without blocking."""
    loop = _loop()
    _running(loop, loop.poll_once)


def wait_forever():
    """Runs the synchronous loop until interrupted (KeyboardInterrupt)."""
    _run(_loop().create_future())


# --- promises ---------------------------------------------------------------------------------


class _Thunk:
    """A coroutine not made yet (made when the promise is consumed), so a promise dropped
    unused leaves no un-awaited coroutine behind."""

    __slots__ = ("make",)

    def __init__(self, make):
        self.make = make


class _BasePromise:
    """A value to come, on the thread's current loop; consumed by the first wait/then/await."""

    __slots__ = ("_awaitable", "_consumed", "_task", "__weakref__")

    def __init__(self, awaitable):
        self._awaitable = awaitable
        self._consumed = awaitable is None
        self._task = None

    def _take(self):
        if self._consumed:
            raise _rpc._kj(_rpc._CONSUMED)
        self._consumed = True
        return self._awaitable

    @property
    def is_consumed(self):
        """Whether the value was taken already."""
        return self._consumed

    def wait(self):
        """Runs the thread's synchronous loop until the promise settles; its value."""
        if _kj_active():
            raise _rpc._kj(_ASYNCIO_MODE)
        return _run(_value_of(self._take()))

    def __await__(self):
        aw = self._take()
        if _from_other_loop():
            # Awaited by asyncio code: the synchronous loop runs as `a_wait()` runs it.
            return _a_wait(aw).__await__()
        return _value_of(aw).__await__()

    async def a_wait(self):
        """Awaits the promise from asyncio code."""
        return await _a_wait(self._take())

    def then(self, func, error_func=None):
        """A promise of ``func(value)`` (promises returned by ``func`` are flattened)."""
        _check_arity(func, self._arity)
        src = self._take()
        return _Promise(_Thunk(lambda: _chain(src, func, error_func, self._arity)))

    def attach(self, *objects):
        """Keeps ``objects`` alive until the promise settles."""
        src = self._take()

        async def keep():
            value = await _value_of(src)
            del objects_kept[:]
            return value

        objects_kept = list(objects)
        return type(self)(_Thunk(keep))

    def as_pypromise(self):
        """This promise as a ``capnp.Promise``."""
        src = self._take()
        return _Promise(_Thunk(lambda: _value_of(src)))

    def cancel(self, numParents=1):
        """Cancels the promise."""
        if self._consumed:
            return
        self._consumed = True
        aw = self._awaitable
        if isinstance(aw, asyncio.Future):
            aw.cancel()
        elif inspect.iscoroutine(aw):
            aw.close()
        self._awaitable = None


class _Promise(_BasePromise):
    """``capnp.Promise(value)``: a promise of a value (one-argument ``then``)."""

    __slots__ = ()
    _arity = 1

    def __init__(self, value=_rpc, *rest):
        if value is _rpc:  # capnp.Promise(): already consumed
            super().__init__(None)
        elif _is_awaitable(value) or isinstance(value, _Thunk):
            super().__init__(value)
        else:
            super().__init__(_Thunk(lambda: _ready(value)))


class _VoidPromise(_BasePromise):
    """A promise of nothing (timers, on_disconnect, fulfiller pairs); zero-argument ``then``."""

    __slots__ = ()
    _arity = 0

    def wait(self):
        """Runs the thread's synchronous loop until the promise settles."""
        super().wait()
        return None


async def _ready(value):
    if _is_awaitable(value):
        return await _value_of(value)
    return value


def _is_awaitable(value):
    return isinstance(value, (_BasePromise, _rpc._RemotePromise)) or inspect.isawaitable(value)


def _value_of(aw):
    """A coroutine giving the value of a promise, remote promise, future or coroutine."""
    if isinstance(aw, _BasePromise):
        aw = aw._take()
    if isinstance(aw, _Thunk):
        return aw.make()
    if isinstance(aw, asyncio.Future):
        return _await_future(aw)
    if inspect.iscoroutine(aw):
        return aw
    return _await_any(aw)


async def _await_future(fut):
    return await fut


async def _await_any(aw):
    return await aw


async def _a_wait(aw):
    """Awaits `aw` on the synchronous loop from other asyncio code (which keeps running)."""
    aloop = _loop()
    fut = asyncio.ensure_future(_value_of(aw), loop=aloop)
    await _serve_until(fut.done)
    return fut.result()


async def _serve_until(until):
    """Runs the thread's synchronous loop from the running asyncio loop until `until()` holds.

    pycapnp 1.x polled here every 10 ms; we run the synchronous loop only when it has something
    to do: its epoll descriptor turns readable (it does when any socket it watches is ready, or
    another thread wakes it), its next timer is due, or a run left callbacks ready. Idle,
    nothing runs.
    """
    inner = _loop()
    if until():
        return
    outer = asyncio.get_running_loop()
    done = outer.create_future()
    pump = _pumps.get(inner)
    if pump is None or pump.outer is not outer:
        pump = _pumps[inner] = _Pump(inner, outer)
    pump.add(until, done)
    try:
        await done
    finally:
        pump.discard(done)


class _Pump:
    """One synchronous loop run from one asyncio loop for every coroutine waiting on it (the
    pipe pumps of a client and a server wait at once): one reader on the selector, one timer."""

    def __init__(self, inner, outer):
        self.inner = inner
        self.outer = outer
        self.waiters = {}  # outer future -> condition
        self.pending = None
        self.fd = inner.fileno()

    def add(self, until, done):
        if not self.waiters:
            self.inner._set_pumped(True)  # first: it raises for a closed loop
            self.outer.add_reader(self.fd, self.run)
        self.waiters[done] = until
        self.run()

    def discard(self, done):
        self.waiters.pop(done, None)
        if not self.waiters:
            self.outer.remove_reader(self.fd)
            try:
                self.inner._set_pumped(False)
            except RuntimeError:  # the loop was closed meanwhile
                pass
            if self.pending is not None:
                self.pending.cancel()
                self.pending = None

    def run(self):
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None
        if not self.waiters:
            return
        try:
            poll_once()
        except BaseException as e:  # handed to every waiting coroutine
            for done in list(self.waiters):
                if not done.done():
                    done.set_exception(e)
            return
        for done, until in list(self.waiters.items()):
            if not done.done() and until():
                done.set_result(None)
        inner = self.inner
        if inner.has_ready():
            self.pending = self.outer.call_soon(self.run)
        else:
            when = inner.next_timer()
            if when is not None:
                self.pending = self.outer.call_at(when, self.run)


_pumps = weakref.WeakKeyDictionary()  # synchronous loop -> its _Pump


def _check_arity(func, arity):
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return
    try:
        sig.bind(*([None] * arity))
    except TypeError:
        if arity:
            raise _rpc._kj("Function passed to `then` call must take exactly one argument")
        raise _rpc._kj("Function passed to `then` call must take no arguments")


async def _chain(src, func, error_func, arity):
    from capnp.lib.capnp import KjException

    try:
        value = await _value_of(src)
    except KjException as e:
        if error_func is None:
            raise
        out = error_func(e)
    except Exception as e:
        if error_func is None:
            raise
        out = error_func(_rpc._kj("%s: %s" % (type(e).__name__, e)))
    else:
        try:
            out = func(value) if arity else func()
        except KjException:
            raise
        except Exception as e:
            raise _rpc._kj("%s: %s" % (type(e).__name__, e)) from None
    if _is_awaitable(out):
        out = await _value_of(out)
    return out


def join_promises(promises):
    """A promise of the list of the promises' values, in order."""
    items = list(promises)
    for p in items:
        if not _is_awaitable(p):
            raise _rpc._kj(
                "One of the promises passed to `join_promises` had a non promise value of: %r" % (p,)
            )
    sources = [p._take() if isinstance(p, _BasePromise) else p for p in items]

    async def join():
        return list(await asyncio.gather(*[_value_of(p) for p in sources]))

    return _Promise(_Thunk(join))


class PromiseFulfillerPair:
    """A promise and the means to fulfill it."""

    def __init__(self):
        aloop = _current_aloop()
        self._future = aloop.create_future()
        self._thread = threading.get_ident()
        self.promise = _VoidPromise(self._future)

    def fulfill(self, value=None):
        """Resolves the promise; from another thread, its loop wakes up and does it."""
        if threading.get_ident() != self._thread:
            self._future.get_loop().call_soon_threadsafe(self._set)
        else:
            self._set()

    def _set(self):
        """Resolves the promise; runs on the loop's own thread."""
        if not self._future.done():
            self._future.set_result(None)

    @property
    def is_consumed(self):
        """Whether the promise was consumed."""
        return self.promise.is_consumed


def _current_aloop():
    if _kj_active():
        return _rpc._state.active.aloop
    return _loop()


class _Timer:
    """The thread's timer (``capnp.getTimer()``)."""

    def after_delay(self, delay_ns):
        """A promise that settles after ``delay_ns`` nanoseconds."""
        aloop = _current_aloop()
        fut = aloop.create_future()

        def fire():
            if not fut.done():
                fut.set_result(None)

        handle = aloop.call_later(delay_ns / 1e9, fire)
        fut.add_done_callback(lambda f: handle.cancel())
        return _VoidPromise(fut)


def getTimer():
    """The thread's timer."""
    _current_aloop()
    return _Timer()


# --- pipe mode (API.md 5.3.2): the program pumps the bytes ------------------------------------


class _PipeTransport:
    """The transport of a pipe-mode connection: what the RPC system writes waits in `outgoing`
    until the program reads it."""

    def __init__(self):
        self.outgoing = bytearray()
        self.closed = False

    def write(self, data):
        self.outgoing += data

    def close(self):
        self.closed = True

    def is_closing(self):
        return self.closed


def _pipe_stream():
    _loop()
    transport = _PipeTransport()
    protocol = _rpc._Protocol()
    protocol.transport = transport
    protocol.closed = _sync.aloop.create_future()
    return _rpc._AsyncIoStream(protocol), transport


class _PipeEnd:
    """What pipe-mode clients and servers share: reading what the RPC system sends."""

    async def read(self, bufsize):
        import array

        transport = self._transport
        await _serve_until(lambda: bool(transport.outgoing))
        n = min(bufsize, len(transport.outgoing))
        data = bytes(transport.outgoing[:n])
        del transport.outgoing[:n]
        return array.array("b", data)

    def _feed(self, data):
        self._protocol.conn.feed(bytes(data))
        # Runs the loop, and lets whoever waits on it (the other end's read) see the result.
        pump = _pumps.get(_loop())
        if pump is not None and pump.waiters:
            pump.run()
        else:
            poll_once()


# --- connections ------------------------------------------------------------------------------


def _parse_address(address):
    if address.startswith("unix:"):
        return ("unix", address[5:])
    if address.startswith("["):
        host, _, port = address[1:].partition("]:")
        return ("inet", host, int(port or 0))
    parts = address.split(":")
    if len(parts) != 2:
        raise ValueError("Address must be host:port, got %r" % address)
    host, port = parts
    return ("inet", host, int(port) if port else 0)


def _connect_socket(address):
    parsed = _parse_address(address)
    if parsed[0] == "unix":
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        sock.connect(parsed[1])
        return sock
    sock = _socket.create_connection((parsed[1], parsed[2]))
    sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    return sock


class _SocketStream:
    """A socket a synchronous connection runs on (the native reactor reads and writes a
    duplicate of its descriptor); closing the connection closes it."""

    def __init__(self, sock):
        self.sock = sock

    def close(self):
        if self.sock is not None:
            self.sock.close()


def _listening_socket(parsed):
    if parsed[0] == "unix":
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.bind(parsed[1])
            sock.listen(128)
        except BaseException:
            sock.close()
            raise
        return sock
    host, port = parsed[1], parsed[2]
    if host in ("*", ""):
        if _socket.has_dualstack_ipv6():
            return _socket.create_server(
                ("", port), family=_socket.AF_INET6, dualstack_ipv6=True, backlog=128
            )
        return _socket.create_server(("", port), backlog=128)
    family = _socket.getaddrinfo(host, port, type=_socket.SOCK_STREAM)[0][0]
    return _socket.create_server((host, port), family=family, backlog=128)


class _SyncServer(_PipeEnd, _rpc.TwoPartyServer):
    """A 1.x TwoPartyServer: listening on an address, serving one socket, or pipe mode.
    ``TwoPartyServer(...)`` makes one outside a kj_loop (it is a ``TwoPartyServer``)."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, socket=None, bootstrap=None, traversal_limit_in_words=None, nesting_limit=None):
        self._bootstrap = bootstrap
        self._limits = (traversal_limit_in_words, nesting_limit)
        self._listener = None
        self._listen_key = None
        self._party = None
        self._port = 0
        loop = _loop()
        if socket is None:
            stream, self._transport = _pipe_stream()
            self._protocol = stream._protocol
            self._party = object.__new__(_rpc.TwoPartyServer)
            self._party._start(stream, bootstrap._as_cap(), *self._limits)
            return
        if isinstance(socket, str):
            parsed = _parse_address(socket)
            # The reactor listens on its own duplicate of the socket.
            with _listening_socket(parsed) as listener:
                if parsed[0] != "unix":
                    self._port = listener.getsockname()[1]
                self._listen_key = loop.listen(
                    listener, parsed[0] == "unix", bootstrap._as_cap(), *self._limits
                )
            self._listener = True
        else:
            self._sock = socket
            self._party = object.__new__(_rpc.TwoPartyServer)
            self._party._start_native(socket, bootstrap._as_cap(), *self._limits)

    async def write(self, data):
        """Pipe mode: bytes received from the peer."""
        self._feed(data)

    async def poll_forever(self):
        """Serves the connection for ever, running the loop whenever it has work."""
        await _serve_until(lambda: False)

    @property
    def port(self):
        return self._port

    @property
    def port_promise(self):
        return _Promise(self._port)

    def run_forever(self):
        if self._listener is None:
            raise _rpc._kj(
                "You must pass a string as the socket parameter in __init__ to use this function"
            )
        wait_forever()

    def bootstrap(self):
        if self._party is None:
            raise _rpc._kj("This server listens; it has no single peer to bootstrap from")
        return self._party.bootstrap()

    def on_disconnect(self):
        if self._party is None:
            return _VoidPromise(_loop().create_future())
        return _VoidPromise(self._party.on_disconnect())

    def poll_once(self):
        poll_once()

    def close(self):
        if self._listener is not None:
            loop = _sync.aloop
            if loop is not None and not loop.is_closed() and self._listen_key is not None:
                loop.unlisten(self._listen_key)
            self._listen_key = None
        if self._party is not None:
            self._party.close()

