"""The synchronous API of pycapnp 1.x (API.md 5.3): promises, connections, threads, signals,
idle CPU, mixing with asyncio, and interop with pycapnp 1.3.0 and with our asyncio API."""

import asyncio
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

import capnp

from rpc_support import calculator, rpc  # noqa: F401  (fixtures)
from rpc_support import EXAMPLES, ORACLE1_PYTHON, collect_on_this_thread, make_servers
from test_interop import EXPECTED_CALCULATOR, start_server, stop


@pytest.fixture(autouse=True)
def fresh_sync_loop():
    """Each test gets a new synchronous loop on its thread and leaves none behind."""
    capnp.remove_event_loop(ignore_errors=True)
    yield
    capnp.remove_event_loop(ignore_errors=True)


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(60)
def test_calculator_server_and_client_on_one_thread():
    server = load_example("calculator_server")
    client = load_example("calculator_client")
    a, b = socket.socketpair()
    try:
        capnp.TwoPartyServer(a, bootstrap=server.CalculatorImpl())
        c = capnp.TwoPartyClient(b)
        calc = c.bootstrap().cast_as(client.calculator.Calculator)
        results = client.scenario(calc)
    finally:
        capnp.remove_event_loop(ignore_errors=True)
        a.close()
        b.close()
    assert ["%s %s" % r for r in results] == EXPECTED_CALCULATOR


@pytest.mark.timeout(120)
@pytest.mark.parametrize("server,client", [("ours", "ours"), ("pycapnp1", "ours"), ("ours", "pycapnp1")])
def test_calculator_across_processes(server, client):
    assert ORACLE1_PYTHON.exists(), "pycapnp 1.3.0 oracle missing: run scripts/install-oracles.sh"
    python = {"ours": sys.executable, "pycapnp1": str(ORACLE1_PYTHON)}
    proc, address = start_server(python[server], EXAMPLES / "calculator_server.py", "127.0.0.1:0")
    try:
        done = subprocess.run(
            [python[client], str(EXAMPLES / "calculator_client.py"), address],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        stop(proc)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == EXPECTED_CALCULATOR
    # pycapnp 1.3.0's client may abort at exit (#311); ours must not.
    if client == "ours":
        assert "FATAL" not in done.stderr


@pytest.mark.timeout(120)
@pytest.mark.parametrize("server,client", [("async", "sync"), ("sync", "async")])
def test_sync_and_async_apis_talk_to_each_other(server, client):
    scripts = {"async": ("async_calculator_server.py", "async_calculator_client.py"),
               "sync": ("calculator_server.py", "calculator_client.py")}
    proc, address = start_server(sys.executable, EXAMPLES / scripts[server][0], "127.0.0.1:0")
    try:
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / scripts[client][1]), address],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        stop(proc)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == EXPECTED_CALCULATOR


@pytest.mark.timeout(60)
def test_unix_socket_server_and_client(rpc, tmp_path):
    Counter, _ = make_servers(rpc)
    path = str(tmp_path / "sync.sock")
    server = capnp.TwoPartyServer("unix:" + path, bootstrap=Counter(1))
    assert server.port == 0
    client = capnp.TwoPartyClient("unix:" + path)
    counter = client.bootstrap().cast_as(rpc.Counter)
    assert counter.add(2, "").wait().total == 3
    server.close()


@pytest.mark.timeout(60)
def test_tcp_server_port_and_errors(rpc):
    Counter, _ = make_servers(rpc)
    server = capnp.TwoPartyServer("127.0.0.1:0", bootstrap=Counter())
    port = server.port
    assert port > 0 and server.port_promise.wait() == port
    client = capnp.TwoPartyClient("127.0.0.1:%d" % port)
    counter = client.bootstrap().cast_as(rpc.Counter)
    assert counter.add(5, "x").wait().total == 5
    with pytest.raises(capnp.KjException, match="ValueError: sync boom") as e:
        counter.fail("python", "sync boom").wait()
    assert e.value.type == "FAILED"
    assert counter.add(1, "").wait().total == 6
    promise = counter.add(1, "")
    promise.wait()
    with pytest.raises(capnp.KjException, match="already used"):
        promise.wait()
    with pytest.raises(ValueError):
        capnp.TwoPartyClient("no-port-here")
    with pytest.raises(ConnectionRefusedError):
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        capnp.TwoPartyClient("127.0.0.1:%d" % closed.getsockname()[1])
    closed.close()
    a, b = socket.socketpair()
    one = capnp.TwoPartyServer(a, bootstrap=Counter())
    with pytest.raises(capnp.KjException, match="You must pass a string"):
        one.run_forever()
    server.close()
    a.close()
    b.close()


@pytest.mark.timeout(60)
def test_listening_server_serves_every_client_and_stops_on_close(rpc):
    """One bootstrap object for every accepted connection (state shared, as 1.x); close()
    stops accepting while connections already made go on."""
    Counter, _ = make_servers(rpc)
    server = capnp.TwoPartyServer("127.0.0.1:0", bootstrap=Counter())
    assert isinstance(server, capnp.TwoPartyServer)
    address = "127.0.0.1:%d" % server.port
    clients = [capnp.TwoPartyClient(address) for _ in range(3)]
    counters = [c.bootstrap().cast_as(rpc.Counter) for c in clients]
    totals = [counter.add(i + 1, "").wait().total for i, counter in enumerate(counters)]
    assert totals == [1, 3, 6]
    server.close()
    with pytest.raises(ConnectionRefusedError):
        capnp.TwoPartyClient(address)
    assert counters[0].add(1, "").wait().total == 7
    for c in clients:
        c.close()


@pytest.mark.timeout(60)
def test_sync_server_coroutines_that_suspend(rpc):
    """Server coroutines run on the synchronous loop as asyncio tasks: each suspends on a
    future of the running (native) loop, released by a callback of that loop or, for odd
    amounts, from another thread (call_soon_threadsafe wakes the loop)."""
    releasers = []

    class Slow(rpc.Counter.Server):
        async def add(self, amount, note, **kwargs):
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            if amount % 2:
                t = threading.Thread(target=loop.call_soon_threadsafe, args=(fut.set_result, None))
                releasers.append(t)
                t.start()
            else:
                loop.call_soon(fut.set_result, None)
            await fut
            return amount * 2

    a, b = socket.socketpair()
    try:
        capnp.TwoPartyServer(a, bootstrap=Slow())
        counter = capnp.TwoPartyClient(b).bootstrap().cast_as(rpc.Counter)
        promises = [counter.add(i, "") for i in range(5)]
        assert [p.wait().total for p in promises] == [0, 2, 4, 6, 8]
        assert len(releasers) == 2
    finally:
        for t in releasers:
            t.join(10)
        capnp.remove_event_loop(ignore_errors=True)
        a.close()
        b.close()


@pytest.mark.timeout(60)
def test_a_call_collected_on_another_thread_is_cancelled_on_its_own(rpc):
    """A reference cycle holding a pending call of a loop's thread, freed by the cyclic GC on
    another thread: no unraisable warning, and the call is dropped (cancelled) on its own
    thread at its loop's next run (PyO3's unsendable objects leaked here, with a warning)."""
    made, collected = threading.Event(), threading.Event()
    outcome = []

    def worker():
        a, b = socket.socketpair()
        try:
            started, cancelled = capnp.PromiseFulfillerPair(), capnp.PromiseFulfillerPair()

            class Stuck(rpc.Counter.Server):
                async def add(self, amount, note, **kwargs):
                    started.fulfill()
                    try:
                        await asyncio.get_running_loop().create_future()
                    except asyncio.CancelledError:
                        cancelled.fulfill()
                        raise

            capnp.TwoPartyServer(a, bootstrap=Stuck())
            client = capnp.TwoPartyClient(b)
            counter = client.bootstrap().cast_as(rpc.Counter)
            junk = [counter.add(1, "")]
            junk.append(junk)
            started.promise.wait()
            del junk
            made.set()
            assert collected.wait(20)
            cancelled.promise.wait()
            outcome.append("cancelled")
        except BaseException as e:  # reported by the main thread
            outcome.append(e)
        finally:
            capnp.remove_event_loop(ignore_errors=True)
            a.close()
            b.close()

    t, unraisable = collect_on_this_thread(worker, made, collected, timeout=30)
    assert not t.is_alive()
    assert outcome == ["cancelled"]
    assert [str(u.exc_value) for u in unraisable] == []


@pytest.mark.timeout(60)
def test_objects_of_another_thread_raise_runtime_error(rpc):
    Counter, _ = make_servers(rpc)
    a, b = socket.socketpair()
    try:
        capnp.TwoPartyServer(a, bootstrap=Counter())
        client = capnp.TwoPartyClient(b)
        counter = client.bootstrap().cast_as(rpc.Counter)
        promise = counter.add(1, "")
        attempts = [
            lambda: promise.wait(),
            lambda: promise.cancel(),
            lambda: promise.total,
            lambda: counter.add(2, ""),
            lambda: client.bootstrap(),
        ]
        errors = []

        def other():
            for attempt in attempts:
                errors.append(_try(attempt))

        t = threading.Thread(target=other)
        t.start()
        t.join(20)
        assert [type(e) for e in errors] == [RuntimeError] * len(attempts), errors
        assert all("another thread" in str(e) for e in errors), errors
        assert promise.wait().total == 1  # still usable on its own thread
    finally:
        capnp.remove_event_loop(ignore_errors=True)
        a.close()
        b.close()


@pytest.mark.timeout(60)
def test_large_messages_through_the_reactor(rpc):
    """Messages far larger than a socket buffer both ways: writes the socket does not take at
    once wait for it to turn writable, several calls in flight at once."""

    class Store(rpc.Store.Server):
        def blob(self, data, **kwargs):
            return len(data), data[::-1]

    a, b = socket.socketpair()
    try:
        capnp.TwoPartyServer(a, bootstrap=Store())
        store = capnp.TwoPartyClient(b).bootstrap().cast_as(rpc.Store)
        payloads = [bytes([i]) * (3 * 1024 * 1024) + b"end%d" % i for i in range(3)]
        promises = [store.blob(p) for p in payloads]
        for p, payload in zip(promises, payloads):
            result = p.wait()
            assert result.size == len(payload)
            assert result.data == payload[::-1]
    finally:
        capnp.remove_event_loop(ignore_errors=True)
        a.close()
        b.close()


@pytest.mark.timeout(60)
def test_a_wait_ends_when_a_callback_removes_the_loop():
    """remove_event_loop() from a callback while the thread waits: the wait raises instead of
    waiting for ever, and the next loop works."""
    pair = capnp.PromiseFulfillerPair()
    timer = capnp.getTimer().after_delay(10 * 10**6).then(lambda: capnp.remove_event_loop())
    both = capnp.join_promises([timer, pair.promise])
    with pytest.raises(RuntimeError, match="closed"):
        both.wait()
    assert capnp.Promise(5).wait() == 5


_HANGING_SERVER = """
import sys
import capnp
rpc = capnp.load(sys.argv[1])
class Hang(rpc.Counter.Server):
    def add(self, amount, note, **kwargs):
        print("called", flush=True)
        return capnp.PromiseFulfillerPair().promise  # never fulfilled
server = capnp.TwoPartyServer("127.0.0.1:0", bootstrap=Hang())
print(server.port, flush=True)
server.run_forever()
"""


@pytest.mark.timeout(60)
def test_a_peer_killed_mid_call_fails_the_wait_with_disconnected():
    schema = os.path.join(os.path.dirname(__file__), "rpc_test.capnp")
    rpc_schema = capnp.load(schema)
    proc = subprocess.Popen(
        [sys.executable, "-c", _HANGING_SERVER, schema], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(proc.stdout.readline())
        client = capnp.TwoPartyClient("127.0.0.1:%d" % port)
        counter = client.bootstrap().cast_as(rpc_schema.Counter)

        def kill_when_called():
            if proc.stdout.readline().strip() == "called":
                proc.kill()

        killer = threading.Thread(target=kill_when_called)
        killer.start()
        with pytest.raises(capnp.KjException) as e:
            counter.add(1, "").wait()
        assert e.value.type == "DISCONNECTED"
        client.on_disconnect().wait()
        killer.join(10)
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("closed", ["client", "server"])
def test_closing_the_socket_a_program_passed_ends_the_connection(rpc, closed):
    # pycapnp 1.x ran the descriptor itself, so closing the socket ended the connection; so
    # does the reactor (it uses the program's descriptor while the program has not closed it).
    counter_impl = make_servers(rpc)[0]
    a, b = socket.socketpair()
    try:
        server = capnp.TwoPartyServer(a, bootstrap=counter_impl())
        client = capnp.TwoPartyClient(b)
        counter = client.bootstrap().cast_as(rpc.Counter)
        assert counter.echo("7").wait().value == "7"
        (b if closed == "client" else a).close()
        # The other side sees the end; the closed side's calls fail instead of hanging.
        server.on_disconnect().wait()
        client.on_disconnect().wait()
        with pytest.raises(capnp.KjException) as e:
            counter.echo("8").wait()
        assert e.value.type == "DISCONNECTED"
    finally:
        capnp.remove_event_loop(ignore_errors=True)
        a.close()
        b.close()


class SocketLike:
    """Not a socket: what the synchronous API needs of one (its descriptor is asked through
    ``fileno()``, where a ``socket.socket``'s is read in place)."""

    def __init__(self, sock):
        self.sock = sock
        self.family = sock.family

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        self.sock.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["socket", "socket-like"])
def test_the_peer_sees_the_end_as_soon_as_the_program_closes_its_socket(rpc, kind):
    # With no loop turn after the close (the program may be waiting for a child server to exit,
    # as pycapnp 1.x programs did): the reactor holds no copy of the descriptor.
    a, b = socket.socketpair()
    try:
        client = capnp.TwoPartyClient(a if kind == "socket" else SocketLike(a))
        b.settimeout(10)
        a.close()
        # socket.timeout here: the connection outlived the close.
        while b.recv(4096):
            pass
        assert client is not None
    finally:
        capnp.remove_event_loop(ignore_errors=True)
        a.close()
        b.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["socket", "socket-like"])
def test_a_descriptor_reused_after_the_program_closed_its_socket_is_never_touched(rpc, kind):
    a, b = socket.socketpair()
    c = d = None
    try:
        client = capnp.TwoPartyClient(a if kind == "socket" else SocketLike(a))
        counter = client.bootstrap().cast_as(rpc.Counter)
        fd = a.fileno()
        a.close()
        # The lowest free number: the new pair takes the closed socket's.
        c, d = socket.socketpair()
        assert fd in (c.fileno(), d.fileno())
        other = d if c.fileno() == fd else c
        with pytest.raises(capnp.KjException) as e:
            counter.echo("x").wait()
        assert e.value.type == "DISCONNECTED"
        # Nothing of the call went to the socket that now has the number.
        other.setblocking(False)
        with pytest.raises(BlockingIOError):
            other.recv(1)
    finally:
        capnp.remove_event_loop(ignore_errors=True)
        for s in (a, b, c, d):
            if s is not None:
                s.close()


@pytest.mark.timeout(30)
def test_a_connection_ended_by_its_peer_leaves_the_programs_socket_open(rpc):
    counter_impl = make_servers(rpc)[0]
    a, b = socket.socketpair()
    try:
        server = capnp.TwoPartyServer(a, bootstrap=counter_impl())
        b.close()
        server.on_disconnect().wait()
        # The socket is still the program's: open until it closes it (no EBADF either way).
        os.fstat(a.fileno())
        assert a.getsockname() is not None
    finally:
        capnp.remove_event_loop(ignore_errors=True)
        a.close()
        b.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize("count", [1, 10])
def test_server_methods_get_every_parameter_and_the_context_by_keyword(rpc, count):
    """Ten parameters and `_context` (more than a call passes on the stack), by keyword, in any
    order the method declares them; also a method taking only `**kwargs`."""
    seen = []

    class Wide(rpc.Wide.Server):
        def sum(self, label, i, h, g, f, e, d, c, b, a, _context, **kwargs):
            assert not kwargs
            seen.append((_context.params.a, _context.params.label))
            return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h + 9 * i

    class WideKwargs(rpc.Wide.Server):
        def sum(self, **kwargs):
            seen.append(sorted(kwargs))
            _context = kwargs["_context"]
            _context.results.label = kwargs["label"].upper()
            _context.results.total = sum(v for k, v in kwargs.items() if len(k) == 1)

    for impl in (Wide, WideKwargs):
        a, b = socket.socketpair()
        try:
            capnp.TwoPartyServer(a, bootstrap=impl())
            client = capnp.TwoPartyClient(b).bootstrap().cast_as(rpc.Wide)
            for n in range(count):
                r = client.sum(n, 1, 1, 1, 1, 1, 1, 1, 1, "x%d" % n).wait()
                if impl is Wide:
                    assert r.total == n + 44
                else:
                    assert (r.total, r.label) == (n + 8, "X%d" % n)
        finally:
            capnp.remove_event_loop(ignore_errors=True)
            a.close()
            b.close()
    assert seen[:count] == [(n, "x%d" % n) for n in range(count)]
    assert seen[count] == ["_context", "a", "b", "c", "d", "e", "f", "g", "h", "i", "label"]


@pytest.mark.timeout(30)
def test_a_socket_the_program_keeps_open_keeps_its_connection(rpc):
    counter_impl = make_servers(rpc)[0]
    a, b = socket.socketpair()
    try:
        capnp.TwoPartyServer(a, bootstrap=counter_impl())
        client = capnp.TwoPartyClient(b)
        counter = client.bootstrap().cast_as(rpc.Counter)
        # Many idle turns (timers make the loop block between calls): nothing ends.
        for i in range(20):
            capnp.getTimer().after_delay(10**5).wait()
            assert counter.echo(str(i)).wait().value == str(i)
    finally:
        capnp.remove_event_loop(ignore_errors=True)
        a.close()
        b.close()


@pytest.mark.timeout(60)
def test_structs_holding_capabilities_copied_into_struct_lists(rpc):
    """A struct that holds a capability, assigned into an element of a struct list (results
    built by a server), keeps its capability."""
    Counter, _ = make_servers(rpc)

    class Store(rpc.Store.Server):
        def all(self, _context, **kwargs):
            entry = rpc.Entry.new_message(name="copied")
            entry.counter = Counter(5)
            entries = _context.results.init("entries", 2)
            entries[0] = entry
            entries[1].name = "direct"
            entries[1].counter = Counter(7)
            _context.results.counters = [Counter(1), Counter(2)]

    a, b = socket.socketpair()
    try:
        capnp.TwoPartyServer(a, bootstrap=Store())
        store = capnp.TwoPartyClient(b).bootstrap().cast_as(rpc.Store)
        result = store.all().wait()
        got = [(e.name, e.counter.add(1, "").wait().total) for e in result.entries]
        assert got == [("copied", 6), ("direct", 8)]
        assert [c.add(1, "").wait().total for c in result.counters] == [2, 3]
    finally:
        capnp.remove_event_loop(ignore_errors=True)
        a.close()
        b.close()


def test_threads_without_the_gil_are_counted_and_given_back(rpc):
    """The builder paths that skip the message lock need every thread that runs without the
    GIL with a message counted (ffi.rs `detach`). `wait()` releases the GIL only to block for
    I/O: the RPC code, and a server method called from the wait, run with it (the count is
    0 there). After the wait and after large operations that release the GIL (a copy, a
    serialization), the count is back to 0."""
    Counter, _ = make_servers(rpc)
    seen = []

    class Probe(Counter):
        def add(self, amount, note, **kwargs):
            seen.append(capnp._capnp._detached_threads())
            self.total += amount
            return self.total

    assert capnp._capnp._detached_threads() == 0
    a, b = socket.socketpair()
    try:
        capnp.TwoPartyServer(a, bootstrap=Probe(1))
        counter = capnp.TwoPartyClient(b).bootstrap().cast_as(rpc.Counter)
        assert counter.add(2, "").wait().total == 3
        assert capnp._capnp._detached_threads() == 0
    finally:
        capnp.remove_event_loop(ignore_errors=True)
        a.close()
        b.close()
    assert seen == [0]
    # A large copy and serialization release the GIL, and give the count back.
    big = rpc.Entry.new_message(name="x" * (3 << 20))
    assert len(big.to_bytes()) > 3 << 20 and big.copy().name == big.name
    assert capnp._capnp._detached_threads() == 0


def test_promises_then_join_fulfill_timer():
    assert capnp.Promise(3).wait() == 3
    assert capnp.Promise(capnp.Promise(4)).wait() == 4
    assert capnp.Promise(1).then(lambda v: v + 1).then(lambda v: capnp.Promise(v * 10)).wait() == 20
    joined = capnp.join_promises([capnp.Promise(1), capnp.Promise("a"), capnp.getTimer().after_delay(1000)])
    assert joined.wait() == [1, "a", None]
    with pytest.raises(capnp.KjException, match="non promise value of: 5"):
        capnp.join_promises([capnp.Promise(1), 5])
    # Errors flow through then; error_func may translate them.
    failing = capnp.Promise(0).then(lambda v: 1 / v)
    with pytest.raises(capnp.KjException, match="ZeroDivisionError"):
        failing.wait()
    recovered = capnp.Promise(0).then(lambda v: 1 / v).then(lambda v: v, lambda e: "recovered: " + e.description)
    assert recovered.wait().startswith("recovered: ZeroDivisionError")
    with pytest.raises(capnp.KjException, match="must take exactly one argument"):
        capnp.Promise(1).then(lambda: 0)
    with pytest.raises(capnp.KjException, match="must take no arguments"):
        capnp.getTimer().after_delay(1).then(lambda v: 0)
    p = capnp.Promise(1)
    p.then(lambda v: v)
    assert p.is_consumed
    with pytest.raises(capnp.KjException, match="already used"):
        p.wait()
    pair = capnp.PromiseFulfillerPair()
    fulfilling = capnp.getTimer().after_delay(10**6).then(pair.fulfill)
    assert capnp.join_promises([pair.promise, fulfilling]).wait() == [None, None]
    assert pair.is_consumed
    start = time.monotonic()
    capnp.getTimer().after_delay(50 * 10**6).wait()
    assert time.monotonic() - start >= 0.045


def test_server_methods_returning_promise_chains(rpc):
    class Delayed(rpc.Counter.Server):
        def add(self, amount, _context, **kwargs):
            def done():
                _context.results.total = amount * 2

            return capnp.getTimer().after_delay(10**6).then(done)

        def child(self, **kwargs):
            return Delayed()

        def echo(self, value, _context, **kwargs):
            def store(values):
                _context.results.value = "+".join(values)

            return capnp.join_promises([capnp.Promise(value), capnp.Promise("x")]).then(store)

    client = rpc.Counter._new_client(Delayed())
    assert client.add(21, "").wait().total == 42
    assert client.child().counter.add(1, "").wait().total == 2
    assert client.echo("a").wait().value == "a+x"
    chained = client.add(1, "").then(lambda r: client.add(r.total, ""))
    assert chained.wait().total == 4


def test_status_subscriber_threads(rpc):
    """A server thread with wait_forever(), a client thread subscribing (callbacks served while
    it waits), and the main thread's own client: one loop per thread."""

    class ExampleImpl(rpc.Example.Server):
        def longRunning(self, seconds, _context, **kwargs):
            def done():
                _context.results.value = True

            return capnp.getTimer().after_delay(int(seconds * 1e9)).then(done)

        def subscribeStatus(self, subscriber, count, **kwargs):
            promise = capnp.Promise(None)
            for i in range(count):
                promise = promise.then(lambda _, i=i: subscriber.status(i % 2 == 0))
            return promise

    a, b = socket.socketpair()
    c, d = socket.socketpair()
    ready = threading.Event()
    errors = []

    stop = []

    def server_thread():
        try:
            capnp.TwoPartyServer(a, bootstrap=ExampleImpl())
            capnp.TwoPartyServer(c, bootstrap=ExampleImpl())
            stop.append(capnp.PromiseFulfillerPair())
            ready.set()
            stop[0].promise.wait()  # serves both connections until the main thread says stop
        except BaseException as e:  # reported by the test
            errors.append(e)
        finally:
            capnp.remove_event_loop(ignore_errors=True)

    seen = []

    class Subscriber(rpc.Example.StatusSubscriber.Server):
        def status(self, value, **kwargs):
            seen.append((threading.current_thread().name, value))

    def listener():
        try:
            client = capnp.TwoPartyClient(d)
            svc = client.bootstrap().cast_as(rpc.Example)
            svc.subscribeStatus(Subscriber(), 5).wait()
        except BaseException as e:
            errors.append(e)
        finally:
            capnp.remove_event_loop(ignore_errors=True)

    server = threading.Thread(target=server_thread, name="server", daemon=True)
    server.start()
    assert ready.wait(10)
    t = threading.Thread(target=listener, name="listener")
    t.start()
    main_client = capnp.TwoPartyClient(b)
    svc = main_client.bootstrap().cast_as(rpc.Example)
    assert svc.longRunning(0.05).wait().value is True
    t.join(20)
    assert not t.is_alive()
    # Objects stay bound to their thread.
    other = []
    worker = threading.Thread(target=lambda: other.append(_try(lambda: svc.longRunning(0).wait())))
    worker.start()
    worker.join(10)
    assert isinstance(other[0], RuntimeError)
    stop[0].fulfill()  # from this thread: wakes the server thread's loop
    server.join(10)
    assert not server.is_alive()
    assert not errors, errors
    assert seen == [("listener", True), ("listener", False), ("listener", True), ("listener", False), ("listener", True)]
    for s in (a, b, c, d):
        s.close()


def _try(f):
    try:
        return f()
    except BaseException as e:
        return e


@pytest.fixture
def sigint_raises():
    """Python's own SIGINT handler for the test: a process started in the background by a
    non-interactive shell inherits SIGINT ignored, and Python then installs no handler."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def test_keyboard_interrupt_reaches_a_blocked_wait(sigint_raises):
    sent = []
    waiting = threading.Event()  # set from inside the synchronous loop while it waits

    def interrupt_when_waiting():
        assert waiting.wait(10)
        sent.append(time.monotonic())
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    pair = capnp.PromiseFulfillerPair()
    helper = threading.Thread(target=interrupt_when_waiting)
    helper.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            # The second promise runs its callback inside the wait; then only `pair` is left.
            capnp.join_promises([pair.promise, capnp.Promise(None).then(lambda _: waiting.set())]).wait()
        caught = time.monotonic()
    finally:
        helper.join(10)
    assert caught - sent[0] < 0.1
    # The loop is still usable.
    assert capnp.Promise(7).wait() == 7
    waiting.clear()
    helper = threading.Thread(target=interrupt_when_waiting)
    helper.start()
    capnp.lib._sync._loop().call_soon(waiting.set)  # runs once wait_forever() is running
    try:
        with pytest.raises(KeyboardInterrupt):
            capnp.wait_forever()
    finally:
        helper.join(10)
    assert capnp.getTimer().after_delay(1000).then(lambda: "ok").wait() == "ok"


def test_a_wait_from_asyncio_runs_the_loop_on_events_only():
    """a_wait() runs the synchronous loop when it has work, never on a timer of its own."""

    async def main():
        start_cpu = time.process_time()
        start = time.monotonic()
        await capnp.getTimer().after_delay(10**9).a_wait()
        return time.monotonic() - start, time.process_time() - start_cpu

    elapsed, cpu = asyncio.run(asyncio.wait_for(main(), 20))
    assert elapsed >= 0.99
    assert cpu < 0.05


@pytest.mark.timeout(30)
def test_a_wait_sees_calls_sent_by_asyncio_callbacks_over_a_pair(rpc):
    """A call an asyncio callback sends over a socket pair of the synchronous loop (written
    straight into the peer's buffer, no bytes through the kernel) still wakes the a_wait()
    pumping that loop."""
    reached = capnp.PromiseFulfillerPair()

    class Reached(rpc.Counter.Server):
        def add(self, amount, note, **kwargs):
            reached.fulfill()
            return amount

    a, b = socket.socketpair()
    try:
        capnp.TwoPartyServer(a, bootstrap=Reached())
        counter = capnp.TwoPartyClient(b).bootstrap().cast_as(rpc.Counter)
        assert counter.add(0).wait().total == 0  # connected; `reached` fulfilled once
        reached = capnp.PromiseFulfillerPair()
        sent = []

        async def main():
            asyncio.get_running_loop().call_later(0.05, lambda: sent.append(counter.add(1)))
            await asyncio.wait_for(reached.promise.a_wait(), 10)

        asyncio.run(main())
        assert len(sent) == 1 and sent[0].wait().total == 1
    finally:
        capnp.remove_event_loop(ignore_errors=True)
        a.close()
        b.close()


def test_a_blocked_wait_uses_no_cpu():
    start_cpu = time.process_time()
    start = time.monotonic()
    capnp.getTimer().after_delay(2 * 10**9).wait()
    assert time.monotonic() - start >= 1.99
    assert time.process_time() - start_cpu < 0.05


def test_mixing_with_asyncio(rpc):
    Counter, _ = make_servers(rpc)

    async def inside_kj_loop():
        async with capnp.kj_loop():
            local = rpc.Counter._new_client(Counter())
            with pytest.raises(capnp.KjException, match="use 'await'"):
                local.add(1, "").wait()
            with pytest.raises(capnp.KjException, match="asyncio mode"):
                capnp.poll_once()
            assert (await local.add(1, "")).total == 1
            return (await capnp.Promise(5).then(lambda v: v * 2))

    assert asyncio.run(asyncio.wait_for(inside_kj_loop(), 20)) == 10

    async def asyncio_without_kj_loop():
        # 1.x entry points use the thread's synchronous loop; wait() blocks asyncio meanwhile.
        a, b = socket.socketpair()
        capnp.TwoPartyServer(a, bootstrap=Counter(3))
        client = capnp.TwoPartyClient(b)
        counter = client.bootstrap().cast_as(rpc.Counter)
        total = counter.add(1, "").wait().total
        later = await counter.add(1, "").a_wait()
        # Plain await of synchronous-loop promises runs that loop as a_wait() does.
        awaited = await counter.add(1, "")
        assert await capnp.getTimer().after_delay(10**6) is None
        joined = await capnp.join_promises([counter.add(1, ""), capnp.Promise(7)])
        both = await asyncio.gather(counter.add(1, ""), counter.add(1, ""))
        capnp.remove_event_loop()
        a.close()
        b.close()
        return total, later.total, awaited.total, joined[0].total, joined[1], [r.total for r in both]

    assert asyncio.run(asyncio.wait_for(asyncio_without_kj_loop(), 20)) == (4, 5, 6, 7, 7, [8, 9])


@pytest.mark.timeout(120)
def test_threaded_client_example():
    proc, address = start_server(sys.executable, EXAMPLES / "calculator_server.py", "127.0.0.1:0")
    try:
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "calculator_threads.py"), address, "--threads", "4"],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        stop(proc)
    assert done.returncode == 0, done.stderr
    expected = " ".join(line.replace(" ", "=") for line in EXPECTED_CALCULATOR)
    assert done.stdout.splitlines() == ["thread %d: %s" % (i, expected) for i in range(4)]
    assert "FATAL" not in done.stderr


def test_pipe_mode_in_one_process(rpc):
    Counter, _ = make_servers(rpc)

    class Plain(rpc.Counter.Server):
        def __init__(self):
            self.total = 0

        def add(self, amount, **kwargs):
            self.total += amount
            return self.total

    async def pump(src, write):
        while True:
            data = await src.read(4096)
            await write(data.tobytes())

    async def main():
        server = capnp.TwoPartyServer(bootstrap=Plain())
        client = capnp.TwoPartyClient()

        async def to_client(data):
            client.write(data)

        pumps = [asyncio.ensure_future(pump(server, to_client)),
                 asyncio.ensure_future(pump(client, server.write))]
        counter = client.bootstrap().cast_as(rpc.Counter)
        first = (await counter.add(5, "pipe").a_wait()).total
        second = (await counter.add(1, "pipe").a_wait()).total
        for p in pumps:
            p.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        return first, second

    assert asyncio.run(asyncio.wait_for(main(), 20)) == (5, 6)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("server,client", [("pycapnp1", "ours"), ("ours", "pycapnp1"), ("ours", "ours")])
def test_pipe_mode_across_processes(server, client):
    assert ORACLE1_PYTHON.exists(), "pycapnp 1.3.0 oracle missing: run scripts/install-oracles.sh"
    python = {"ours": sys.executable, "pycapnp1": str(ORACLE1_PYTHON)}
    proc, address = start_server(python[server], EXAMPLES / "calculator_server.py", "127.0.0.1:0")
    try:
        done = subprocess.run(
            [python[client], str(os.path.join(os.path.dirname(__file__), "pipe_client.py")), address],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        stop(proc)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["literal 123.0", "add 5.0"]


def test_the_signal_wakeup_fd_of_the_program_is_kept():
    """Waits on the main thread install the loop's wake-up socket as Python's signal wake-up fd
    only when the program has none; one the program set is back after each wait, and closing
    the loop leaves no wake-up fd behind."""
    capnp.remove_event_loop()
    assert signal.set_wakeup_fd(-1) == -1
    assert capnp.Promise(1).wait() == 1
    ours = signal.set_wakeup_fd(-1)
    assert ours != -1  # installed by the wait, kept between waits
    signal.set_wakeup_fd(ours)
    capnp.remove_event_loop()
    assert signal.set_wakeup_fd(-1) == -1  # uninstalled with the loop
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        signal.set_wakeup_fd(a.fileno())
        assert capnp.Promise(2).wait() == 2
        assert signal.set_wakeup_fd(-1) == a.fileno()  # the program's own fd, put back
    finally:
        signal.set_wakeup_fd(-1)
        a.close()
        b.close()
        capnp.remove_event_loop()


@pytest.mark.timeout(30)
def test_remote_call_waits_install_and_put_back_the_signal_wakeup_fd(rpc):
    """The native wait of a remote call installs the loop's wake-up socket on the main thread
    (the loop records that it is installed) and puts back a wake-up fd the program set."""
    counter_impl = make_servers(rpc)[0]
    capnp.remove_event_loop()
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    try:
        capnp.TwoPartyServer(a, bootstrap=counter_impl())
        counter = capnp.TwoPartyClient(b).bootstrap().cast_as(rpc.Counter)
        assert signal.set_wakeup_fd(-1) == -1
        assert counter.add(1).wait().total == 1
        ours = signal.set_wakeup_fd(-1)
        assert ours != -1  # installed by the first wait
        signal.set_wakeup_fd(ours)
        assert counter.add(1).wait().total == 2
        assert signal.set_wakeup_fd(ours) == ours  # kept between waits
        capnp.remove_event_loop()
        assert signal.set_wakeup_fd(-1) == -1  # uninstalled with the loop
        a2, b2 = socket.socketpair()
        try:
            capnp.TwoPartyServer(a2, bootstrap=counter_impl())
            counter = capnp.TwoPartyClient(b2).bootstrap().cast_as(rpc.Counter)
            c.setblocking(False)
            signal.set_wakeup_fd(c.fileno())
            for n in range(1, 4):
                assert counter.add(1).wait().total == n
                assert signal.set_wakeup_fd(c.fileno()) == c.fileno()  # the program's, put back
        finally:
            signal.set_wakeup_fd(-1)
            capnp.remove_event_loop(ignore_errors=True)
            a2.close()
            b2.close()
    finally:
        capnp.remove_event_loop(ignore_errors=True)
        for s in (a, b, c, d):
            s.close()


def test_the_running_loop_marker_during_and_after_waits(rpc):
    """asyncio sees the synchronous loop as the running loop while a server coroutine or a
    callback runs inside a wait, and no running loop once the wait is over; a plain server
    method served inside a client's wait() sees none, as under pycapnp 1.3.0."""
    seen = []

    class Echo(rpc.Counter.Server):
        async def echo(self, value, **kwargs):
            seen.append(asyncio.get_running_loop())
            await asyncio.sleep(0)
            return value

        def add(self, amount, **kwargs):
            with pytest.raises(RuntimeError, match="no running event loop"):
                asyncio.get_running_loop()
            seen.append("plain")
            return amount

    a, b = socket.socketpair()
    try:
        server = capnp.TwoPartyServer(a, bootstrap=Echo())
        client = capnp.TwoPartyClient(b)
        counter = client.bootstrap().cast_as(rpc.Counter)
        assert counter.add(5).wait().total == 5
        assert seen == ["plain"]
        assert counter.echo("x").wait().value == "x"
        loop = capnp.lib._sync._loop()
        assert seen == ["plain", loop]
        with pytest.raises(RuntimeError, match="no running event loop"):
            asyncio.get_running_loop()
        assert capnp.Promise(3).then(lambda v: (seen.append(asyncio.get_running_loop()), v)[1]).wait() == 3
        assert seen == ["plain", loop, loop]
        with pytest.raises(RuntimeError, match="no running event loop"):
            asyncio.get_running_loop()
    finally:
        client.close()
        server.close()
        a.close()
        b.close()


def test_context_style_coroutines_see_the_running_loop_inside_waits(rpc):
    """A `*_context` coroutine method (dispatched by the Python path, not the native one)
    also runs with the synchronous loop as asyncio's running loop inside a client's wait()."""
    seen = []

    class Echo(rpc.Counter.Server):
        async def echo_context(self, context):
            seen.append(asyncio.get_running_loop())
            await asyncio.sleep(0)
            context.results.value = context.params.value + "!"

    a, b = socket.socketpair()
    try:
        server = capnp.TwoPartyServer(a, bootstrap=Echo())
        client = capnp.TwoPartyClient(b)
        counter = client.bootstrap().cast_as(rpc.Counter)
        assert counter.echo("x").wait().value == "x!"
        assert counter.echo("y").wait().value == "y!"
        loop = capnp.lib._sync._loop()
        assert seen == [loop, loop]
        with pytest.raises(RuntimeError, match="no running event loop"):
            asyncio.get_running_loop()
    finally:
        client.close()
        server.close()
        a.close()
        b.close()
