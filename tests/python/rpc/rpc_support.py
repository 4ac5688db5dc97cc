"""Shared helpers for the RPC tests: the schema, servers, socket pairs, a bounded run.

(Not named conftest: the package tests import their own conftest by name.)"""

import asyncio
import gc
import pathlib
import socket
import sys
import threading

import pytest

import capnp

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parent.parent.parent
EXAMPLES = ROOT / "examples" / "rpc"
ORACLE_PYTHON = ROOT / ".oracles" / "pycapnp" / "bin" / "python"
ORACLE1_PYTHON = ROOT / ".oracles" / "pycapnp1" / "bin" / "python"


@pytest.fixture
def rpc():
    return capnp.load(str(HERE / "rpc_test.capnp"))


@pytest.fixture
def calculator():
    return capnp.load(str(EXAMPLES / "calculator.capnp"))


def run(coro, timeout=20):
    """Runs `coro` inside a kj_loop on a new asyncio loop, failing after `timeout` seconds."""

    async def bounded():
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(capnp.run(bounded()))


async def socketpair_connection(bootstrap):
    """(client, server) TwoParty objects joined by a socket pair; the sockets close with them."""
    a, b = socket.socketpair()
    client_stream = await capnp.AsyncIoStream.create_connection(sock=a)
    server_stream = await capnp.AsyncIoStream.create_connection(sock=b)
    server = capnp.TwoPartyServer(server_stream, bootstrap=bootstrap)
    client = capnp.TwoPartyClient(client_stream)
    return client, server


def make_servers(rpc):
    """Server classes over the test schema (one set per loaded schema)."""

    class CounterImpl(rpc.Counter.Server):
        def __init__(self, total=0):
            self.total = total

        async def add(self, amount, note, **kwargs):
            self.total += amount
            return self.total

        async def child(self, **kwargs):
            return CounterImpl(self.total * 10)

        async def fail(self, kind, message, **kwargs):
            if kind == "python":
                raise ValueError(message)
            raise capnp.KjException(message, type=kind)

        def echo(self, value, **kwargs):  # a plain function works too
            return value

    class NamedImpl(rpc.Named.Server, CounterImpl):
        async def name(self, **kwargs):
            return "named-%d" % self.total

    return CounterImpl, NamedImpl


def collect_on_this_thread(worker, made, collected, timeout=45):
    """Runs `worker` on a daemon thread (a failure must not hang the session); once it sets
    `made`, collects the cyclic garbage on this thread (the GC paused meanwhile, so the
    worker's own collections cannot free it first), sets `collected` and waits for the
    worker. Returns the thread and the unraisable exceptions reported meanwhile."""
    unraisable = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    gc.disable()
    t = threading.Thread(target=worker, daemon=True)
    try:
        t.start()
        assert made.wait(20)
        assert gc.collect() > 0
        collected.set()
        t.join(timeout)
    finally:
        collected.set()
        gc.enable()
        sys.unraisablehook = old_hook
    return t, unraisable
