"""pycapnp's asyncio RPC API (API.md 5.2) over the native RPC core (crates/rpc, rpc.rs).

The native side owns everything capnp-rpc: capabilities, calls, connections, and an executor
that asyncio runs whenever a wake-up asks for it (``call_soon_threadsafe``). This module
holds the Python classes and the rules of pycapnp's API: argument and result conventions,
server dispatch, the ``kj_loop`` lifetime, and asyncio transports.
"""

import asyncio
import inspect
import threading
import traceback
import weakref
from types import CoroutineType as _CoroutineType
from asyncio.events import _get_running_loop, _set_running_loop

from capnp import _capnp

_STREAM_RESULT_ID = 0x995F9A3377C0B16E
_NOT_RUNNING = (
    "The KJ event-loop is not running (on this thread). Please start it through 'capnp.kj_loop()'"
)
_LOOP_GONE = "RpcSystem was destroyed: the kj_loop of this call has closed"
_CONSUMED = (
    "Promise was already used in a consuming operation. You can no longer use this Promise object"
)


def _kj(message, type_="FAILED"):
    from capnp.lib.capnp import KjException

    return KjException(message, type=type_)


# --- the loop ---------------------------------------------------------------------------------


# `_state.active`: the _LoopState of the loop running on this thread (kj_loop or the
# synchronous loop), None when there is none (native: a thread-local of the extension).
_state = _capnp._ThreadState()
_OTHER_THREAD = "This object belongs to another thread's event loop"


def _check_thread(st):
    """Native RPC objects are bound to their loop's thread: elsewhere, a RuntimeError."""
    if st is not None and st.thread != threading.get_ident():
        raise RuntimeError(_OTHER_THREAD)


class _LoopState:
    # Slots: read on every synchronous call (closed, aloop, synchronous).
    __slots__ = (
        "aloop", "streams", "parties", "server_tasks", "waiters", "closed", "synchronous",
        "thread", "__weakref__",
    )

    def __init__(self, aloop):
        self.aloop = aloop
        self.streams = weakref.WeakSet()
        self.parties = weakref.WeakSet()
        self.server_tasks = {}  # task -> method name
        self.waiters = weakref.WeakSet()  # client on_disconnect() futures
        self.closed = False
        self.synchronous = False  # the 1.x loop of _sync.py
        self.thread = threading.get_ident()


def _active():
    st = _state.active
    if st is None or st.closed:
        raise RuntimeError(_NOT_RUNNING)
    return st


class kj_loop:
    """``async with capnp.kj_loop():`` — runs Cap'n Proto's event loop on the running asyncio
    loop for the duration of the block."""

    async def __aenter__(self):
        aloop = asyncio.get_running_loop()
        if _state.active is not None and not _state.active.closed:
            if _state.active.synchronous:
                raise RuntimeError(
                    "A synchronous (1.x) event loop exists on this thread; call "
                    "capnp.remove_event_loop() before entering capnp.kj_loop()"
                )
            raise RuntimeError("The KJ event-loop is already running (on this thread).")
        _capnp._loop_open(aloop.call_soon, aloop.call_soon_threadsafe, _capnp._loop_run)
        self._st = _state.active = _LoopState(aloop)
        return self

    async def __aexit__(self, *exc):
        st = self._st
        try:
            for s in list(st.streams):
                s.close()
            for p in list(st.parties):
                p._close_quietly()
            tasks = list(st.server_tasks.items())
            for task, name in tasks:
                task.cancel()
            for task, _ in tasks:
                try:
                    await task
                except BaseException:
                    pass
        finally:
            st.closed = True
            _state.active = None
            _capnp._loop_close()
            for fut in list(st.waiters):
                if not fut.done():
                    fut.set_exception(
                        _kj("PromiseFulfiller was destroyed without fulfilling the promise")
                    )
            for p in list(st.parties):
                done = getattr(p, "_done", None)
                if done is not None and not done.done():
                    done.set_result(None)
        return False


async def run(coro):
    """``asyncio.run(capnp.run(main()))``: ``main()`` inside a ``kj_loop``."""
    async with kj_loop():
        return await coro


# --- schemas of interfaces --------------------------------------------------------------------


class _Method:
    __slots__ = (
        "name", "interface_id", "ordinal", "param_id", "result_id", "registry", "parser",
        "param_fields", "implicit", "streaming", "result_fields", "promise_cls",
    )


def _struct_fields(parser, struct_id):
    """[(name, codeOrder, pointer offset or None, type which, type id, in-union)] of a struct."""
    from capnp.lib.capnp import _StructSchema

    node = parser._schema(struct_id, _StructSchema).node
    out = []
    for f in node.struct.fields:
        union = f.discriminantValue != 0xFFFF
        if f.which() == "group":
            out.append((f.name, f.codeOrder, None, "group", f.group.typeId, union))
            continue
        ty = f.slot.type
        w = ty.which()
        tid = None
        if w == "struct":
            tid = ty.struct.typeId
        elif w == "interface":
            tid = ty.interface.typeId
        out.append((f.name, f.codeOrder, f.slot.offset, w, tid, union))
    return sorted(out, key=lambda f: f[1]), node


_METHODS_CACHE = {}


def _methods(schema):
    """name -> _Method for an interface and its superclasses (its own win)."""
    key = (id(schema._parser), schema._info["id"])
    cached = _METHODS_CACHE.get(key)
    if cached is not None:
        return cached
    parser = schema._parser
    out = {}
    seen = set()

    def walk(s):
        iid = s._info["id"]
        if iid in seen:
            return
        seen.add(iid)
        for i, m in enumerate(s.node.interface.methods):
            if m.name in out:
                continue
            info = _Method()
            info.name = m.name
            info.interface_id = iid
            info.ordinal = i
            info.param_id = m.paramStructType
            info.result_id = m.resultStructType
            info.parser = parser
            info.registry = parser._registry
            fields, pnode = _struct_fields(parser, m.paramStructType)
            info.param_fields = fields
            info.implicit = pnode.scopeId == 0
            info.streaming = m.resultStructType == _STREAM_RESULT_ID
            info.result_fields = None if info.streaming else _struct_fields(parser, m.resultStructType)[0]
            info.promise_cls = _promise_class(info.result_fields)
            out[m.name] = info
        for sup in s.superclasses:
            walk(sup)

    walk(schema)
    _METHODS_CACHE[key] = out
    return out


def _interface_ids(schema):
    ids = []

    def walk(s):
        iid = s._info["id"]
        if iid not in ids:
            ids.append(iid)
            for sup in s.superclasses:
                walk(sup)

    walk(schema)
    return ids


def _as_interface_schema(schema):
    from capnp.lib.capnp import _InterfaceSchema

    if isinstance(schema, _InterfaceSchema):
        return schema
    inner = getattr(schema, "schema", None)
    if isinstance(inner, _InterfaceSchema):
        return inner
    raise TypeError("Expected an interface schema or module, got %r" % (schema,))


# --- clients ----------------------------------------------------------------------------------


def _fill(builder, method, args, kwargs):
    if args:
        if not method.implicit:
            raise _kj(
                "Cannot call method `%s` with positional args, since its param struct is not "
                "implicitly defined and thus does not have a set order of arguments" % method.name
            )
        if len(args) > len(method.param_fields):
            raise _kj(
                "Too many arguments passed to `%s`. Expected %d and got %d"
                % (method.name, len(method.param_fields), len(args))
            )
        for value, field in zip(args, method.param_fields):
            setattr(builder, field[0], value)
    for name, value in kwargs.items():
        builder._set(name, value)


def _call_slow(cap, m, args, kwargs):
    """``client.method(*args, **kwargs)`` with keywords (or a positional error to report):
    what `_Request(...).send()` does, without the request object."""
    kwargs.pop("word_count", None)
    msg = _capnp._MessageHandle(64)
    msg.enable_caps()
    _fill(msg.init_root(m.registry, m.param_id), m, args, kwargs)
    return _promise(cap.send(m.interface_id, m.ordinal, msg, m.streaming), m, cap)

class _Request:
    """A request being built: a struct builder over the method's params, plus ``send()``."""

    __slots__ = ("_client", "_method", "_msg", "_builder", "_sent")

    def __init__(self, client, method, args=(), kwargs=None):
        msg = _capnp._MessageHandle(256)
        msg.enable_caps()
        object.__setattr__(self, "_client", client)
        object.__setattr__(self, "_method", method)
        object.__setattr__(self, "_msg", msg)
        object.__setattr__(self, "_builder", msg.init_root(method.registry, method.param_id))
        object.__setattr__(self, "_sent", False)
        if args or kwargs:
            _fill(self._builder, method, args, kwargs or {})

    def __getattr__(self, name):
        # Through object.__getattribute__: a request whose __init__ failed has no builder, and
        # looking it up through this method again would recurse.
        try:
            builder = object.__getattribute__(self, "_builder")
        except AttributeError:
            raise AttributeError(name) from None
        return getattr(builder, name)

    def __setattr__(self, name, value):
        setattr(self._builder, name, value)

    def __dir__(self):
        return dir(self._builder) + ["send"]

    def __str__(self):
        return str(self._builder)

    def __repr__(self):
        return repr(self._builder)

    def send(self):
        """Sends the call; returns the promise of its results."""
        if self._sent:
            raise _kj("Request has already been sent. You can only send a request once.")
        object.__setattr__(self, "_sent", True)
        m = self._method
        pending = self._client._cap.send(m.interface_id, m.ordinal, self._msg, m.streaming)
        return _promise(pending, m, self._client)


class _RemotePromise:
    """The eventual results of a call: awaitable, and pipelined by attribute.

    Calls on a ``kj_loop`` give an ``asyncio.Future`` of the results (``_AsyncRemotePromise``),
    so ``asyncio.gather``, ``wait``, ``wait_for`` and ``shield`` take it as it is, without a
    task per call; calls on the synchronous loop give a ``_SyncRemotePromise``."""

    __slots__ = ()

    @property
    def is_consumed(self):
        """Whether the results were taken already."""
        _check_thread(self._st)
        return self._pending.is_consumed()

    # 1.x members (API.md 5.3.3)
    def wait(self):
        """1.x: runs the synchronous loop until the results arrive."""
        st = _state.active
        if st is self._st and st is not None and st.synchronous and not st.closed:
            # The synchronous loop runs natively until the call completes.
            m = self._method
            loop = st.aloop
            # The loop becomes asyncio's running loop only if Python code that may use asyncio
            # runs meanwhile.
            if loop._wakeup is not None and not loop._wakeup_kept:
                # The main thread: signals must wake the wait (see _sync._with_wakeup).
                from capnp.lib import _sync

                return _sync._with_wakeup(
                    loop, self._pending.wait_sync, loop, m.registry, m.result_id, True
                )
            return self._pending.wait_sync(loop, m.registry, m.result_id, True)
        _check_thread(self._st)
        from capnp.lib import _sync

        if _sync._kj_active():
            raise _kj(_sync._ASYNCIO_MODE)
        handle = _sync._wait_pending(self._pending)
        if handle is None:
            return None
        m = self._method
        return handle.get_root(m.registry, m.result_id).as_reader()

    async def a_wait(self):
        """Awaits the results from asyncio code."""
        from capnp.lib import _sync

        if _sync._kj_active():
            return await self
        return await _sync._a_wait(self)

    def then(self, func, error_func=None):
        """1.x: a promise of ``func(results)``."""
        from capnp.lib import _sync

        _sync._check_arity(func, 1)
        _check_thread(self._st)
        if self._pending.is_consumed():
            raise _kj(_CONSUMED)
        return _sync._Promise(_sync._Thunk(lambda: _sync._chain(self, func, error_func, 1)))

    def as_pypromise(self):
        """1.x: this call as a ``capnp.Promise``."""
        from capnp.lib import _sync

        return _sync._Promise(_sync._Thunk(lambda: _sync._value_of(self)))

    @property
    def schema(self):
        """The results' struct schema."""
        from capnp.lib.capnp import _StructSchema

        return self._method.parser._schema(self._method.result_id, _StructSchema)

    def __dir__(self):
        return [f[0] for f in (self._method.result_fields or ())] + list(object.__dir__(self))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        _check_thread(self._st)
        return _pipeline_field(self._pending, (), self._method.parser, self._method.result_fields, name)

    def to_dict(self):
        """Waits for the results and returns them as a dict."""
        return self


class _SyncRemotePromise(_capnp._SyncCall, _RemotePromise):
    """A call on the synchronous (1.x) loop: ``wait()``, or awaited from asyncio code.

    The native base (``_SyncCall``) holds ``_pending``, ``_method``, ``_client`` (which keeps
    the connection alive until completion) and ``_st``, and runs ``wait()``: on the loop's own
    thread the loop runs natively until the results arrive; anything else takes
    ``_RemotePromise.wait``."""

    __slots__ = ()

    def __await__(self):
        st = _active()
        if st is not self._st:
            _check_thread(self._st)
        if _get_running_loop() is not st.aloop:
            # Awaited by asyncio code: run the synchronous loop as a_wait() does.
            from capnp.lib import _sync

            return (yield from _sync._a_wait(self).__await__())
        fut = st.aloop.create_future()
        m = self._method
        pending = self._pending
        pending.wait_into(fut, m.registry, m.result_id, False)
        try:
            return (yield from fut.__await__())
        except asyncio.CancelledError:
            pending.cancel()
            raise

    def cancel(self):
        _check_thread(self._st)
        self._pending.cancel()


_Future = asyncio.Future
_future_init = _Future.__init__
_future_await = _Future.__await__
_future_add_done_callback = _Future.add_done_callback
_future_cancel = _Future.cancel
_future_done = _Future.done


class _AsyncRemotePromise(_RemotePromise, _Future):
    """A call on a ``kj_loop``: an ``asyncio.Future`` of its results.

    The call completes the future only once something waits for it (``await``,
    ``add_done_callback``): until then dropping the promise cancels the call, as before, and
    the results can still be pipelined."""

    __slots__ = ("_pending", "_method", "_client", "_st", "_armed", "_awaited")

    def __init__(self, pending, method, client, st):
        _future_init(self, loop=st.aloop)
        self._pending = pending
        self._method = method
        self._client = client  # keeps the connection alive until completion
        self._st = st
        self._armed = False
        self._awaited = False

    def _arm(self):
        if _state.active is not self._st:
            _check_thread(self._st)
        m = self._method
        self._pending.wait_into(self, m.registry, m.result_id, False)
        self._armed = True

    def __await__(self):
        # An await consumes the call, as in pycapnp: a second one (or one after cancel())
        # raises.
        if self._awaited:
            raise _kj(_CONSUMED)
        self._awaited = True
        if not self._armed:
            # _arm(), inlined: this runs for every awaited call.
            st = self._st
            if _state.active is not st:
                _check_thread(st)
            m = self._method
            self._pending.wait_into(self, m.registry, m.result_id, False)
            self._armed = True
        return _future_await(self)

    __iter__ = __await__

    def add_done_callback(self, fn, *, context=None):
        if not self._armed and not _future_done(self):
            if self._st.closed:
                # Nothing waited for the call before its loop closed: it fails as calls in
                # flight did then.
                self.set_exception(_kj(_LOOP_GONE, "DISCONNECTED"))
            else:
                self._arm()
        _future_add_done_callback(self, fn, context=context)

    def cancel(self, msg=None):
        _check_thread(self._st)
        self._pending.cancel()
        return _future_cancel(self, msg)


# Future members a results struct can also have as fields (Cap'n Proto names have no
# underscores, so get_loop and add_done_callback cannot clash).
_FUTURE_NAMES = frozenset(("result", "exception", "done", "cancelled", "cancel"))


class _MemberOrPipeline:
    """``promise.result`` when the results have a pipelinable field named ``result``: called,
    the Future member; otherwise, the pipelined field."""

    __slots__ = ("_promise", "_name")

    def __init__(self, promise, name):
        self._promise = promise
        self._name = name

    def __call__(self, *args, **kwargs):
        return getattr(_AsyncRemotePromise, self._name)(self._promise, *args, **kwargs)

    def _field(self):
        p = self._promise
        _check_thread(p._st)
        m = p._method
        return _pipeline_field(p._pending, (), m.parser, m.result_fields, self._name)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._field(), name)

    def __dir__(self):
        return dir(self._field())


def _promise_class(result_fields):
    """The promise class of a method: `_AsyncRemotePromise`, or a subclass whose members named
    like a pipelinable result field reach both."""
    clash = [
        f[0] for f in result_fields or ()
        if f[0] in _FUTURE_NAMES and f[3] in ("struct", "interface", "group")
    ]
    if not clash:
        return _AsyncRemotePromise
    ns = {"__slots__": ()}
    for name in clash:
        ns[name] = property(lambda self, name=name: _MemberOrPipeline(self, name))
    return type("_AsyncRemotePromise", (_AsyncRemotePromise,), ns)


def _promise(pending, method, client):
    st = _state.active
    if st is not None and not st.synchronous:
        return method.promise_cls(pending, method, client, st)
    return _SyncRemotePromise(pending, method, client, st)


def _pipeline_field(pending, path, parser, fields, name):
    if pending.is_consumed():
        raise _kj(_CONSUMED)
    for fname, _, offset, which, tid, _ in fields or ():
        if fname != name:
            continue
        if which == "interface":
            from capnp.lib.capnp import _InterfaceSchema

            cap = pending.pipeline_cap(list(path) + [offset])
            return _DynamicCapabilityClient(cap, parser._schema(tid, _InterfaceSchema))
        if which == "struct":
            return _DynamicStructPipeline(pending, tuple(path) + (offset,), parser, tid)
        if which == "group":
            return _DynamicStructPipeline(pending, tuple(path), parser, tid)
        raise AttributeError(
            "Field %r is neither a struct nor a capability: it cannot be pipelined" % name
        )
    raise AttributeError("%s has no such member" % name)


class _DynamicStructPipeline:
    """A struct in results not yet arrived: its capability fields can be called already."""

    __slots__ = ("_pending", "_path", "_parser", "_id", "_fields")

    def __init__(self, pending, path, parser, struct_id):
        self._pending = pending
        self._path = path
        self._parser = parser
        self._id = struct_id
        self._fields = _struct_fields(parser, struct_id)[0]

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _pipeline_field(self._pending, self._path, self._parser, self._fields, name)

    @property
    def schema(self):
        """The struct's schema."""
        from capnp.lib.capnp import _StructSchema

        return self._parser._schema(self._id, _StructSchema)

    def __dir__(self):
        return [f[0] for f in self._fields] + list(object.__dir__(self))


class _CapabilityClient:
    """An untyped capability (``bootstrap()``): ``cast_as`` gives it an interface."""

    __slots__ = ("_cap",)

    def __init__(self, cap):
        self._cap = cap

    def cast_as(self, schema):
        """This capability as a client of interface ``schema`` (a module or a schema)."""
        return _DynamicCapabilityClient(self._cap, _as_interface_schema(schema))

    def _as_cap(self):
        return self._cap


class _DynamicCapabilityClient:
    """A capability typed with an interface: ``client.method(...)`` sends a call.

    A method looked up once is kept in the instance's ``__dict__``, so later calls skip
    ``__getattr__``."""

    def __init__(self, cap, schema):
        self._cap = cap
        self.schema = schema
        self._methods = _methods(schema)

    def _as_cap(self):
        return self._cap

    def cast_as(self, schema):
        """This capability as a client of interface ``schema`` (a module or a schema)."""
        return _DynamicCapabilityClient(self._cap, _as_interface_schema(schema))

    def upcast(self, schema):
        """This client as a client of superclass ``schema`` (``KjException`` if it is not one)."""
        schema = _as_interface_schema(schema)
        if schema._info["id"] not in _interface_ids(self.schema):
            raise _kj("Can't upcast to non-superclass.")
        return _DynamicCapabilityClient(self._cap, schema)

    def _find(self, name):
        m = self._methods.get(name)
        if m is None:
            raise AttributeError("Method named %s not found" % name)
        return m

    def _send(self, name, *args, word_count=None, **kwargs):
        """Calls method ``name`` with the arguments as parameters; the promise of its results."""
        return _Request(self, self._find(name), args, kwargs).send()

    def _request(self, name, *args, word_count=None, **kwargs):
        """A request of method ``name``, parameters set from the arguments; ``send()`` it."""
        return _Request(self, self._find(name), args, kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name.endswith("_request") and name not in self._methods:
            m = self._find(name[: -len("_request")])

            def request(*args, word_count=None, **kwargs):
                return _Request(self, m, args, kwargs)

            return request
        m = self._find(name)
        # Positional calls run natively (method_call.rs); keywords go to _call_slow.
        positional = [f[0] for f in m.param_fields] if m.implicit else []
        call = _capnp._MethodCall(
            name, self._cap, m, positional, _SyncRemotePromise, _call_slow
        )
        self.__dict__[name] = call
        return call

    def __dir__(self):
        return sorted(set(self._methods) | set(object.__dir__(self)))

    def __repr__(self):
        return "<%s client>" % self.schema._info["display_name"]


def _capability_from(registry, interface_id, cap):
    """How the native layer hands out a capability read from a message."""
    if cap is None:
        cap = _capnp._broken_cap("Called null capability.")
    if interface_id is None:
        return _CapabilityClient(cap)
    from capnp.lib.capnp import _InterfaceSchema, _parser_of_registry

    parser = _parser_of_registry(registry)
    if parser is None:
        return _CapabilityClient(cap)
    return _DynamicCapabilityClient(cap, parser._schema(interface_id, _InterfaceSchema))


_capnp._set_cap_factory(_capability_from)


def _client_of(cap, schema):
    """`any_pointer.as_interface(schema)`: a client of `schema` (a null pointer: broken)."""
    if cap is None:
        cap = _capnp._broken_cap("Called null capability.")
    return _DynamicCapabilityClient(cap, _as_interface_schema(schema))


# --- servers ----------------------------------------------------------------------------------


class _DynamicCapabilityServer:
    """Base of every ``Interface.Server`` class."""

    def __init__(self, *args, **kwargs):
        pass

    def _as_cap(self):
        _ensure_loop()
        return _server_cap(self, type(self).schema)


def _ensure_loop():
    """Outside kj_loop and outside asyncio, objects bind to the thread's synchronous loop."""
    st = _state.active
    if st is not None and not st.closed:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        from capnp.lib import _sync

        _sync._loop()


class _ServerWrapper(_DynamicCapabilityServer):
    """``_new_server(obj)``: forwards attribute lookups to ``obj``."""

    def __init__(self, schema, obj):
        self.schema = schema
        self._obj = obj

    def __getattr__(self, name):
        return getattr(self._obj, name)

    def _as_cap(self):
        _ensure_loop()
        return _server_cap(self._obj, self.schema)


# What a server method gets as ``_context`` (native: the dispatcher makes one per call).
_CallContext = _capnp._CallContext


class _TailCall:
    """``ctx.tail_call(req)``: awaitable; the request's results become this call's."""

    def __init__(self, ctx, request):
        self._ctx = ctx
        self._promise = request.send()

    def __await__(self):
        return self._run().__await__()

    async def _run(self):
        resp = await self._promise
        if resp is not None:
            self._ctx._results_handle.set_root(resp)
        return None


def _server_error(exc, name):
    from capnp.lib.capnp import KjException

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    kind = "FAILED"
    if isinstance(exc, KjException) and isinstance(getattr(exc, "type", None), str):
        kind = exc.type
    return _kj(text.rstrip("\n"), kind)


_SCALARS = frozenset((int, float, bool, str, bytes))


def _assign_results(ctx, method, value):
    if value is None:
        return
    fields = method.result_fields or []
    if fields and type(value) in _SCALARS:
        # The common case: one value for the first result field.
        setattr(ctx.results, fields[0][0], value)
        return
    from capnp.lib.capnp import _DynamicStructBuilder, _DynamicStructReader

    if isinstance(value, (_DynamicStructBuilder, _DynamicStructReader)):
        try:
            same = value.schema.node.id == method.result_id
        except Exception:
            same = False
        if same:
            ctx._results_handle.set_root(value)
            return
    values = value if isinstance(value, tuple) else (value,)
    if len(values) > len(fields):
        raise _kj(
            "Too many values returned from `%s`. Expected %d and got %d"
            % (method.name, len(fields), len(values))
        )
    results = ctx.results
    for v, f in zip(values, fields):
        setattr(results, f[0], v)


class _Plan:
    """How a server object's method is called: parameter names, whether a parameter is in a
    union, where a single returned value goes, whether the object implements it in context
    style (found on the first call)."""

    __slots__ = (
        "method", "names", "has_union", "registry", "param_id", "result_id", "first_result",
        "context_style",
    )

    def __init__(self, m):
        self.method = m
        self.names = tuple(f[0] for f in m.param_fields)
        self.has_union = any(f[5] for f in m.param_fields)
        self.registry = m.registry
        self.param_id = m.param_id
        self.result_id = m.result_id
        fields = m.result_fields
        self.first_result = fields[0][0] if fields else None
        self.context_style = None


def _server_cap(obj, schema):
    methods = _methods(schema)
    # (interface id, method id) -> the method's dispatch plan
    plans = {(m.interface_id, m.ordinal): _Plan(m) for m in methods.values()}
    streaming = [(m.interface_id, m.ordinal) for m in methods.values() if m.streaming]

    def dispatch(interface_id, method_id, params_handle, results_handle):
        plan = plans.get((interface_id, method_id))
        if plan is None:
            raise _kj("Method not implemented: interface %#x method %d" % (interface_id, method_id), "UNIMPLEMENTED")
        m = plan.method
        params = params_handle.get_root_reader(plan.registry, plan.param_id)
        ctx = _CallContext(params, results_handle, m)
        try:
            context_style = plan.context_style
            if context_style is None:
                context_style = plan.context_style = hasattr(obj, m.name + "_context")
            if context_style:
                out = getattr(obj, m.name + "_context")(ctx)
            else:
                f = getattr(obj, m.name, None)
                if f is None:
                    raise _kj(
                        "'%s' object has no attribute '%s'" % (type(obj).__name__, m.name),
                        "UNIMPLEMENTED",
                    )
                if plan.has_union:
                    kwargs = {}
                    for name, _, _, _, _, in_union in m.param_fields:
                        if in_union:
                            try:
                                if params.which() != name:
                                    continue
                            except Exception:
                                continue
                        kwargs[name] = getattr(params, name)
                    kwargs["_context"] = ctx
                    out = f(**kwargs)
                else:
                    kwargs = {"_context": ctx}
                    for name in plan.names:
                        kwargs[name] = getattr(params, name)
                    out = f(**kwargs)
        except Exception as e:
            raise _server_error(e, m.name) from None
        if out is None:
            return None
        if type(out) in _SCALARS and not context_style and plan.first_result is not None:
            try:
                results = ctx._results  # the method may have written other fields already
                if results is None:
                    results = results_handle.init_root(plan.registry, plan.result_id)
                setattr(results, plan.first_result, out)
            except Exception as e:
                raise _server_error(e, m.name) from None
            return None
        return _after_call(out, ctx, m, context_style)

    # The native side runs the common calls itself (see PyHandler in rpc.rs): methods that are
    # not in context style and have no union parameters; everything else comes to `dispatch`.
    native_plans = [
        (m.interface_id, m.ordinal, m.name, p.names, m.registry, m.param_id, m.result_id,
         p.first_result, m)
        for p in plans.values()
        for m in (p.method,)
        if not p.has_union
    ]
    native = (obj, _server_error, _after_call, _returned, _resumed, native_plans)
    return _capnp._new_server_cap(dispatch, _interface_ids(schema), streaming, native)


def _after_call(out, ctx, m, context_style):
    """The rest of a server call whose method returned ``out`` (not None, and not a plain
    value for the first result field): promises, coroutines, awaitables, other results.
    Returns None when the call is done, or the future of its completion."""
    coroutine = type(out) is _CoroutineType
    if not coroutine and _is_capnp_promise(out):
        # 1.x: the call completes when the promise does; its value is ignored (the
        # callbacks wrote the results).
        return _start_task(_ignore_value(out), ctx, m, True)
    if coroutine or inspect.iscoroutine(out):
        # Most server coroutines finish without suspending: run them here, and make a
        # task only of the rest.
        _capnp._mark_running()
        try:
            first = out.send(None)
        except StopIteration as stop:
            return _returned(ctx, m, stop.value, context_style)
        except Exception as e:
            raise _server_error(e, m.name) from None
        return _resumed(out, first, ctx, m, context_style)
    if inspect.isawaitable(out):
        return _start_task(out, ctx, m, context_style)
    if context_style:
        return None
    return _returned(ctx, m, out, False)


def _returned(ctx, m, value, context_style):
    """A server coroutine (or method) finished with ``value``: it becomes the results."""
    if context_style:
        if value is not None:
            raise _kj(
                "Async server function (%s) returned a non-none value: return = %r"
                % (m.name, value)
            )
        return None
    try:
        _assign_results(ctx, m, value)
    except Exception as e:
        raise _server_error(e, m.name) from None
    return None


def _resumed(coro, first, ctx, m, context_style):
    """A server coroutine suspended on ``first``: a task runs the rest."""
    return _start_task(_Resumed(coro, first), ctx, m, context_style)


def _is_capnp_promise(value):
    from capnp.lib import _sync

    return isinstance(value, (_sync._BasePromise, _RemotePromise))


async def _ignore_value(promise):
    from capnp.lib import _sync

    await _sync._value_of(promise)


class _Resumed:
    """Awaits the rest of a coroutine that was started by hand and suspended on `first`."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro, first):
        self._coro = coro
        self._first = first

    def __await__(self):
        coro, y = self._coro, self._first
        self._first = None
        while True:
            try:
                v = yield y
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as e:
                try:
                    y = coro.throw(e)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    y = coro.send(v)
                except StopIteration as stop:
                    return stop.value


def _start_task(awaitable, ctx, method, context_style):
    st = _active()

    async def body():
        try:
            out = await awaitable
            if context_style:
                if out is not None:
                    raise _kj(
                        "Async server function (%s) returned a non-none value: return = %r"
                        % (method.name, out)
                    )
            else:
                _assign_results(ctx, method, out)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            raise _server_error(e, method.name) from None

    task = st.aloop.create_task(body())
    st.server_tasks[task] = method.name

    def done(t):
        st.server_tasks.pop(t, None)

    task.add_done_callback(done)
    return task


# --- streams and connections ------------------------------------------------------------------


_RECEIVE = threading.local()


def _receive_buffer():
    """The thread's receive buffer: every connection of a thread reads into the same 256 KiB
    (asyncio fills it and calls ``buffer_updated`` before anything else runs on the thread,
    and the bytes are copied out there), so a 64 KiB call arrives in one read and a thousand
    connections cost no memory each."""
    try:
        return _RECEIVE.view
    except AttributeError:
        _RECEIVE.view = memoryview(bytearray(262144))
        return _RECEIVE.view


class _Protocol(asyncio.BufferedProtocol):
    """Reads into a reused buffer (asyncio's plain protocols allocate 256 KiB per read)."""

    def __init__(self, on_made=None):
        self._view = None
        self.transport = None
        self.conn = None
        self.buffered = []
        self.eof = None
        self.paused = False
        self.closed = None
        self._on_made = on_made

    def connection_made(self, transport):
        self.transport = transport
        self.closed = asyncio.get_running_loop().create_future()
        if self._on_made is not None:
            self._on_made(self)

    def get_buffer(self, sizehint):
        # A memoryview: asyncio's TLS transport reads into slices of what it gets.
        self._view = view = _receive_buffer()
        return view

    def buffer_updated(self, nbytes):
        if self.conn is not None:
            self.conn.feed_buffer(self._view[:nbytes])
        else:
            self.buffered.append(bytes(self._view[:nbytes]))
            self._wake()

    def _wake(self):
        w, self.waiter = getattr(self, "waiter", None), None
        if w is not None and not w.done():
            w.set_result(None)

    async def read_exactly(self, n):
        """`n` bytes not taken by an RPC connection; fewer at the end of the stream."""
        while sum(len(b) for b in self.buffered) < n and self.eof is None:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        data = b"".join(self.buffered)
        self.buffered = [data[n:]] if len(data) > n else []
        return data[:n]

    def eof_received(self):
        return False

    def connection_lost(self, exc):
        self.eof = (str(exc) if exc is not None else None,)
        self._wake()
        if self.conn is not None:
            try:
                self.conn.feed_eof(self.eof[0])
            except RuntimeError:
                pass
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self):
        self.paused = True
        if self.conn is not None:
            self.conn.pause_writing()

    def resume_writing(self):
        self.paused = False
        if self.conn is not None:
            self.conn.resume_writing()

    def attach(self, conn):
        self.conn = conn
        # From now on asyncio's reads go straight to the connection (no Python frames):
        # instance attributes shadow the methods below. (A TLS transport bound the methods
        # when it was made and keeps calling them: they feed the connection too.)
        conn.receive_into(_receive_buffer())
        self.get_buffer = conn.get_buffer
        self.buffer_updated = conn.buffer_updated
        for data in self.buffered:
            conn.feed(data)
        self.buffered = []
        if self.paused:
            conn.pause_writing()
        if self.eof is not None:
            conn.feed_eof(self.eof[0])


class _AsyncIoStream:
    """A byte stream over an asyncio transport (``capnp.AsyncIoStream``)."""

    def __init__(self, protocol):
        self._protocol = protocol
        self._used = False
        _active().streams.add(self)

    @staticmethod
    async def create_connection(host=None, port=None, **kwargs):
        """Connects over TCP (``ssl=`` for TLS) and returns the stream."""
        st = _active()
        _, protocol = await st.aloop.create_connection(_Protocol, host, port, **kwargs)
        return _AsyncIoStream(protocol)

    @staticmethod
    async def create_unix_connection(path=None, **kwargs):
        """Connects to a Unix socket and returns the stream."""
        st = _active()
        _, protocol = await st.aloop.create_unix_connection(_Protocol, path, **kwargs)
        return _AsyncIoStream(protocol)

    @staticmethod
    def _factory(callback):
        st = _active()

        def made(protocol):
            stream = _AsyncIoStream(protocol)
            try:
                out = callback(stream)
            except Exception as e:
                st.aloop.call_exception_handler(
                    {"message": "Exception in pycapnp server callback", "exception": e}
                )
                stream.close()
                return
            if inspect.isawaitable(out):
                task = asyncio.ensure_future(out)

                def done(t):
                    stream.close()
                    if not t.cancelled() and t.exception() is not None:
                        st.aloop.call_exception_handler(
                            {
                                "message": "Exception in pycapnp server callback",
                                "exception": t.exception(),
                            }
                        )

                task.add_done_callback(done)

        return lambda: _Protocol(made)

    @staticmethod
    async def create_server(callback, host=None, port=None, **kwargs):
        """Listens on TCP; ``callback(stream)`` runs for each connection."""
        st = _active()
        return await st.aloop.create_server(_AsyncIoStream._factory(callback), host, port, **kwargs)

    @staticmethod
    async def create_unix_server(callback, path=None, **kwargs):
        """Listens on a Unix socket; ``callback(stream)`` runs for each connection."""
        st = _active()
        return await st.aloop.create_unix_server(_AsyncIoStream._factory(callback), path, **kwargs)

    def close(self):
        """Closes the transport."""
        t = self._protocol.transport
        if t is not None and not t.is_closing():
            t.close()

    async def wait_closed(self):
        """Waits until the transport is closed."""
        if self._protocol.closed is not None:
            await self._protocol.closed


class _TwoParty:
    _closed_message = "This client is closed"
    _is_server = False

    def _start(self, socket, bootstrap_cap, traversal_limit_in_words, nesting_limit):
        st = _active()
        if not isinstance(socket, _AsyncIoStream):
            raise ValueError(
                "Argument socket should be a AsyncIoStream, was %s" % type(socket)
            )
        self._st = st
        self._closed = False
        self._stream = socket
        self._done = st.aloop.create_future()
        done = self._done

        def on_done(err):
            if not done.done():
                done.set_result(err)

        protocol = socket._protocol
        self._conn = _capnp._Connection(
            protocol.transport,
            self._is_server,
            bootstrap_cap,
            on_done,
            traversal_limit_in_words,
            nesting_limit,
        )
        protocol.attach(self._conn)
        st.parties.add(self)

    def _start_native(self, sock, bootstrap_cap, traversal_limit_in_words, nesting_limit, own=True):
        """The synchronous API's connections: the native reactor runs the socket (`own`: the
        program's, borrowed, and closing the connection closes it too, as asyncio's transports
        close theirs; else a duplicate of it)."""
        import socket as _socket
        from capnp.lib import _sync

        loop = _sync._loop()
        st = _active()
        fileno = sock.fileno  # no fileno -> AttributeError, as pycapnp
        fileno()
        self._st = st
        self._closed = False
        self._stream = _sync._SocketStream(sock if own else None)
        self._done = loop.create_future()
        done = self._done

        def on_done(err):
            if not done.done():
                done.set_result(err)

        self._conn = loop.connect(
            sock,
            sock.family == getattr(_socket, "AF_UNIX", None),
            self._is_server,
            bootstrap_cap,
            on_done,
            traversal_limit_in_words,
            nesting_limit,
            own,
        )
        st.streams.add(self._stream)
        st.parties.add(self)

    def _check(self):
        _check_thread(self._st)
        if self._closed or self._st.closed:
            raise RuntimeError(self._closed_message)

    def bootstrap(self):
        """The peer's bootstrap capability (``cast_as`` an interface to call it)."""
        self._check()
        return _CapabilityClient(self._conn.bootstrap())

    def on_disconnect(self):
        """Awaitable that completes when the connection ends."""
        self._check()
        fut = self._st.aloop.create_future()
        is_server = self._is_server

        def relay(d):
            if fut.done():
                return
            fut.set_result(None)

        self._done.add_done_callback(relay)
        if not is_server:
            self._st.waiters.add(fut)
        return fut

    def close(self):
        """Closes the connection."""
        self._check()
        self._close_quietly()

    def _close_quietly(self):
        if self._closed:
            return
        self._closed = True
        try:
            self._conn.disconnect()
        except RuntimeError:
            pass
        self._stream.close()


class _PipeClientMixin:
    async def read(self, bufsize):
        """Pipe mode: up to `bufsize` bytes the RPC system wants to send to the peer."""
        from capnp.lib import _sync

        return await _sync._PipeEnd.read(self, bufsize)

    def write(self, data):
        """Pipe mode: bytes received from the peer."""
        from capnp.lib import _sync

        _sync._PipeEnd._feed(self, data)


class TwoPartyClient(_PipeClientMixin, _TwoParty):
    """A two-party RPC client: over an ``AsyncIoStream`` inside ``kj_loop`` (2.x), or, outside
    one, over ``"host:port"``, ``"unix:/path"`` or a connected socket on the thread's
    synchronous loop (1.x)."""

    def __init__(self, socket=None, traversal_limit_in_words=None, nesting_limit=None):
        from capnp.lib import _sync

        self._synchronous = False
        if isinstance(socket, _AsyncIoStream) or _sync._kj_active():
            self._start(socket, None, traversal_limit_in_words, nesting_limit)
            return
        self._synchronous = True
        if socket is None:
            stream, self._transport = _sync._pipe_stream()
            self._protocol = stream._protocol
            self._start(stream, None, traversal_limit_in_words, nesting_limit)
            return
        if isinstance(socket, str):
            # Ours: the reactor runs on a duplicate of it, so it is closed at once.
            with _sync._connect_socket(socket) as sock:
                self._start_native(sock, None, traversal_limit_in_words, nesting_limit, False)
        else:
            self._start_native(socket, None, traversal_limit_in_words, nesting_limit)

    def on_disconnect(self):
        """Awaitable (or promise) that completes when the connection ends."""
        fut = super().on_disconnect()
        if self._synchronous:
            from capnp.lib import _sync

            return _sync._VoidPromise(fut)
        return fut


class TwoPartyServer(_TwoParty):
    """A two-party RPC server: over an ``AsyncIoStream`` inside ``kj_loop`` (2.x), or, outside
    one, listening on ``"host:port"``/``"*:port"``/``"unix:/path"`` or serving a connected
    socket on the thread's synchronous loop (1.x)."""

    _closed_message = "This server is closed"
    _is_server = True

    def __new__(cls, socket=None, bootstrap=None, traversal_limit_in_words=None, nesting_limit=None):
        from capnp.lib import _sync

        if not bootstrap:
            raise _kj("You must provide a bootstrap interface to a server constructor.")
        if isinstance(socket, _AsyncIoStream) or _sync._kj_active():
            return super().__new__(cls)
        # A subclass: Python then calls its __init__ with these arguments.
        return object.__new__(_sync._SyncServer)

    def __init__(self, socket=None, bootstrap=None, traversal_limit_in_words=None, nesting_limit=None):
        cap = bootstrap._as_cap()
        self._start(socket, cap, traversal_limit_in_words, nesting_limit)


# --- plain messages over a stream (API.md 5.2.11) ---------------------------------------------


async def _read_message(stream, max_words=None):
    """The bytes of the next framed message on `stream`, or None at a clean end of stream.

    A message larger than `max_words` (default: the traversal limit, 8 Mi words) is refused
    before its body is read, so a peer cannot make us buffer without bound."""
    _active()
    if not isinstance(stream, _AsyncIoStream):
        raise ValueError("Argument stream should be a AsyncIoStream, was %s" % type(stream))
    protocol = stream._protocol
    head = await protocol.read_exactly(4)
    if not head:
        return None
    if len(head) < 4:
        raise _kj("Premature EOF: the stream ended inside a message header")
    count = int.from_bytes(head, "little") + 1
    if count > 512:
        raise _kj("Message has too many segments (%d)" % count)
    table_len = 4 * count + (4 if count % 2 == 0 else 0)
    table = head + await protocol.read_exactly(table_len)
    if len(table) < 4 + table_len:
        raise _kj("Premature EOF: the stream ended inside a segment table")
    words = sum(int.from_bytes(table[4 + 4 * i : 8 + 4 * i], "little") for i in range(count))
    limit = max_words if max_words is not None else 8 * 1024 * 1024
    if words > limit:
        raise _kj("Message of %d words is over the traversal limit of %d words" % (words, limit))
    body = await protocol.read_exactly(words * 8)
    if len(body) < words * 8:
        raise _kj("Premature EOF: the stream ended inside a message")
    return table + body


async def _write_async(stream, data):
    _active()
    if not isinstance(stream, _AsyncIoStream):
        raise ValueError("Argument stream should be a AsyncIoStream, was %s" % type(stream))
    transport = stream._protocol.transport
    if transport is None or transport.is_closing():
        raise _kj("The stream is closed", "DISCONNECTED")
    transport.write(data)
