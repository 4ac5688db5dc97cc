"""RPC over a socket pair in one process (server and client on the same asyncio loop), under
both implementations' asyncio API, and a plain asyncio-streams echo as the floor.

Each worker keeps one asyncio loop with a kj_loop entered and one connection for its whole
life (pycapnp allows one kj_loop per thread at a time); a statement runs a batch of calls to
completion on it.
"""

from . import Benchmark, schema

SEQUENTIAL = 100
CONCURRENT = 1000
BIG = 64 * 1024
BIG_CALLS = 20

_ENV = {}


def _env():
    """(loop, bench client, floor echo) made once per worker."""
    if _ENV:
        return _ENV
    import asyncio
    import socket

    import capnp

    rpc = schema("rpcbench.capnp")
    loop = asyncio.new_event_loop()

    class BenchImpl(rpc.Bench.Server):
        def __init__(self, total=0):
            self.total = total

        async def add(self, amount, **kwargs):
            self.total += amount
            return self.total

        async def echo(self, data, **kwargs):
            return len(data)

        async def counter(self, start, **kwargs):
            return BenchImpl(start)

    async def connect():
        a, b = socket.socketpair()
        client_stream = await capnp.AsyncIoStream.create_connection(sock=a)
        server_stream = await capnp.AsyncIoStream.create_connection(sock=b)
        server = capnp.TwoPartyServer(server_stream, bootstrap=BenchImpl())
        client = capnp.TwoPartyClient(client_stream)
        return server, client, client.bootstrap().cast_as(rpc.Bench)

    async def floor_pair():
        """A plain asyncio streams echo server and its client (length-prefixed messages)."""
        a, b = socket.socketpair()

        async def echo(reader, writer):
            while True:
                head = await reader.readexactly(4)
                body = await reader.readexactly(int.from_bytes(head, "little"))
                writer.write(head + body)

        server_task = None
        r1, w1 = await asyncio.open_connection(sock=a)
        r2, w2 = await asyncio.open_connection(sock=b)
        server_task = asyncio.ensure_future(echo(r2, w2))
        return r1, w1, server_task, w2

    kj = capnp.kj_loop()
    loop.run_until_complete(kj.__aenter__())
    server, client, bench = loop.run_until_complete(connect())
    floor = loop.run_until_complete(floor_pair())
    _ENV.update(loop=loop, kj=kj, server=server, client=client, bench=bench, floor=floor)

    def shutdown():
        # Closed before the interpreter tears asyncio down (else its finalizers complain).
        try:
            floor[1].close()
            floor[2].cancel()
            floor[3].close()  # else its __del__ complains at interpreter exit
            loop.run_until_complete(kj.__aexit__(None, None, None))
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()
        except Exception:
            pass

    import atexit

    atexit.register(shutdown)
    return _ENV


def _ns(quick):
    env = _env()
    loop, bench = env["loop"], env["bench"]
    reader, writer = env["floor"][:2]
    payload = b"\x00" * BIG
    message = b"\x10\x00\x00\x00" + b"x" * 16

    async def sequential():
        total = 0
        for _ in range(SEQUENTIAL):
            total = (await bench.add(1)).total
        return total

    async def concurrent():
        import asyncio

        results = await asyncio.gather(*[bench.add(1) for _ in range(CONCURRENT)])
        return len(results)

    async def big():
        size = 0
        for _ in range(BIG_CALLS):
            size += (await bench.echo(payload)).size
        return size

    async def pipelined():
        total = 0
        for _ in range(SEQUENTIAL):
            total += (await bench.counter(1).counter.counter(2).counter.add(3)).total
        return total

    async def floor():
        n = 0
        for _ in range(SEQUENTIAL):
            writer.write(message)
            head = await reader.readexactly(4)
            n += len(await reader.readexactly(int.from_bytes(head, "little")))
        return n

    run = loop.run_until_complete
    return {
        "seq": lambda: run(sequential()) > 0,
        "conc": lambda: run(concurrent()),
        "big": lambda: run(big()),
        "pipe": lambda: run(pipelined()),
        "floor": lambda: run(floor()),
    }


Benchmark(
    "rpc.asyncio_floor_x100", _ns, "floor()", target="baseline",
    expected=lambda q: 16 * SEQUENTIAL,
    doc="plain asyncio streams: 100 sequential round trips of a 20-byte message (no capnp)",
)
Benchmark(
    "rpc.roundtrip_x100", _ns, "seq()", target="rpc_rtt", baseline="rpc.asyncio_floor_x100",
    expected=lambda q: True,
    doc="100 sequential awaited calls of a small method over a socket pair",
)
Benchmark(
    "rpc.concurrent_1000", _ns, "conc()", target="rpc_concurrent",
    expected=lambda q: CONCURRENT,
    doc="1,000 calls in flight at once on one connection (asyncio.gather)",
)
Benchmark(
    "rpc.call_64k_x20", _ns, "big()", target="rpc_64k",
    expected=lambda q: BIG * BIG_CALLS,
    doc="20 sequential calls each carrying 64 KiB of Data",
)
Benchmark(
    "rpc.pipeline3_x100", _ns, "pipe()", target=None,
    expected=lambda q: SEQUENTIAL * 5,
    doc="100 chains of three pipelined calls (counter().counter().add()), one await each",
)


# --- the synchronous (1.x) API: compared with pycapnp 1.3.0 ----------------------------------
#
# These rows name pycapnp 1.3.0 as their peer: a full `benchmarks/run.py` times them against
# it in a worker of its own (`--pycapnp1-python`, default .oracles/pycapnp1/bin/python); also
# `benchmarks/run.py --filter rpc_sync` (Makefile: `make bench-sync`). The synchronous loop
# lives on a thread of its own, so it never meets the asyncio benchmarks' kj_loop in the same
# worker.

_SYNC = {}


def _sync_env():
    if _SYNC:
        return _SYNC
    import queue
    import socket
    import threading

    import capnp

    rpc = schema("rpcbench.capnp")
    jobs = queue.Queue()
    ready = threading.Event()

    class BenchImpl(rpc.Bench.Server):
        def __init__(self):
            self.total = 0

        def add(self, amount, **kwargs):
            self.total += amount
            return self.total

        def echo(self, data, **kwargs):
            return len(data)

        def counter(self, start, **kwargs):
            return BenchImpl()

    def owner():
        try:
            a, b = socket.socketpair()
            capnp.TwoPartyServer(a, bootstrap=BenchImpl())
            client = capnp.TwoPartyClient(b)
            bench = client.bootstrap().cast_as(rpc.Bench)
        except BaseException as e:  # no synchronous API here (pycapnp 2.x): say so, not hang
            _SYNC["error"] = e
            ready.set()
            return
        _SYNC["keep"] = (a, b, client)
        _SYNC["bench"] = bench
        ready.set()
        while True:
            job, reply = jobs.get()
            try:
                reply.put((True, job(bench)))
            except BaseException as e:  # back to the caller, the thread keeps serving
                reply.put((False, e))

    threading.Thread(target=owner, daemon=True).start()
    ready.wait()
    if "error" in _SYNC:
        raise RuntimeError(
            "the synchronous API is unavailable here (this row runs against pycapnp 1.3.0: "
            "benchmarks/run.py --pycapnp1-python .oracles/pycapnp1/bin/python): %r"
            % (_SYNC.pop("error"),)
        )

    def call(job):
        reply = queue.Queue()
        jobs.put((job, reply))
        ok, value = reply.get()
        if not ok:
            raise value
        return value

    _SYNC["call"] = call
    # The worker runs a whole batch of statements on the owner thread (worker.run_on): one
    # hand-off between threads per batch, not per statement (two thread wake-ups, tens of
    # microseconds here, were counted in every 100 calls of both implementations).
    _SYNC["run_on"] = lambda f: call(lambda _bench: f())
    return _SYNC


def _sequential_sync(bench):
    """SEQUENTIAL `.wait()` calls of `bench.add` (on the owner thread)."""
    total = 0
    for _ in range(SEQUENTIAL):
        total = bench.add(1).wait().total
    return total > 0


def _sync_ns(quick):
    env = _sync_env()
    bench = env["bench"]
    return {"seq": lambda: _sequential_sync(bench), "__run_on__": env["run_on"]}


Benchmark(
    "rpc_sync.roundtrip_x100", _sync_ns, "seq()", target="rpc_sync", peer="pycapnp1",
    expected=lambda q: True,
    doc="synchronous API: 100 sequential .wait() calls over a socket pair (against pycapnp 1.3.0)",
)


# The same calls to a server in a child process (the same implementation, run by the same
# interpreter: benchmarks/rpc_sync_server.py) over a socket pair: what a client pays when the
# server is another program.

def _xproc_ns(quick):
    env = _sync_env()
    if "xproc" not in env:
        import os
        import socket
        import subprocess
        import sys

        rpc = schema("rpcbench.capnp")

        def connect(bench):
            import capnp

            mine, theirs = socket.socketpair()
            server = os.path.join(os.path.dirname(os.path.dirname(__file__)), "rpc_sync_server.py")
            child = subprocess.Popen([sys.executable, server, str(theirs.fileno())],
                                     pass_fds=[theirs.fileno()])
            theirs.close()
            client = capnp.TwoPartyClient(mine)
            remote = client.bootstrap().cast_as(rpc.Bench)
            # The first call's reply is the child's readiness.
            remote.add(0).wait()
            return child, mine, client, remote

        env["xproc"] = env["call"](connect)
    remote = env["xproc"][3]
    return {"seq": lambda: _sequential_sync(remote), "__run_on__": env["run_on"]}


Benchmark(
    "rpc_sync.xproc_roundtrip_x100", _xproc_ns, "seq()", target="rpc_sync", peer="pycapnp1",
    expected=lambda q: True,
    doc="synchronous API: 100 sequential .wait() calls to a server in a child process over a "
    "socket pair (against pycapnp 1.3.0)",
)
