"""Failures and their limits: server exceptions, exception types across the wire, unknown
methods, cancellation, lost peers, hostile bytes, and leaving kj_loop with work in flight."""

import asyncio
import socket
import subprocess
import sys

import pytest

import capnp

from rpc_support import calculator, rpc  # noqa: F401  (fixtures)
from rpc_support import HERE, collect_on_this_thread, make_servers, run, socketpair_connection


def test_a_raising_server_keeps_serving(rpc):
    Counter, _ = make_servers(rpc)

    async def main():
        server_obj = Counter()
        c1, _ = await socketpair_connection(server_obj)
        c2, _ = await socketpair_connection(server_obj)
        counter = c1.bootstrap().cast_as(rpc.Counter)
        with pytest.raises(capnp.KjException) as e:
            await counter.fail("python", "boom")
        assert e.value.type == "FAILED"
        assert "ValueError: boom" in e.value.description
        assert "remote exception" in e.value.description
        # The same connection and another one still work.
        assert (await counter.add(1, "")).total == 1
        other = c2.bootstrap().cast_as(rpc.Counter)
        assert (await other.add(1, "")).total == 2

    run(main())


@pytest.mark.parametrize("kind", ["FAILED", "OVERLOADED", "DISCONNECTED", "UNIMPLEMENTED"])
def test_exception_types_cross_the_wire(rpc, kind):
    Counter, _ = make_servers(rpc)

    async def main():
        c, _ = await socketpair_connection(Counter())
        counter = c.bootstrap().cast_as(rpc.Counter)
        with pytest.raises(capnp.KjException) as e:
            await counter.fail(kind, "typed failure")
        return e.value

    e = run(main())
    assert e.type == kind
    assert "typed failure" in e.description


def test_local_client_raises_the_servers_exception(rpc):
    Counter, _ = make_servers(rpc)

    async def main():
        local = rpc.Counter._new_client(Counter())
        assert (await local.add(2, "")).total == 2
        with pytest.raises(capnp.KjException, match="ValueError: local boom"):
            await local.fail("python", "local boom")

    run(main())


def test_missing_method_is_unimplemented(rpc):
    class Partial(rpc.Counter.Server):
        pass

    async def main():
        c, _ = await socketpair_connection(Partial())
        counter = c.bootstrap().cast_as(rpc.Counter)
        with pytest.raises(capnp.KjException) as e:
            await counter.add(1, "")
        return e.value

    e = run(main())
    assert e.type == "UNIMPLEMENTED"
    assert "has no attribute 'add'" in e.description


def test_cancelling_the_awaiting_task_cancels_the_server_coroutine(rpc):
    class SlowImpl(rpc.Slow.Server):
        def __init__(self):
            self.started = self.cancelled = self.finished = 0
            self.all_started = asyncio.Event()
            self.all_cancelled = asyncio.Event()

        async def wait(self, seconds, **kwargs):
            self.started += 1
            if self.started == 1000:
                self.all_started.set()
            try:
                if seconds:
                    await asyncio.Event().wait()  # runs until cancelled
            except asyncio.CancelledError:
                self.cancelled += 1
                if self.cancelled == 1000:
                    self.all_cancelled.set()
                raise
            self.finished += 1
            return True

    impl = None

    async def main():
        nonlocal impl
        impl = SlowImpl()
        c, _ = await socketpair_connection(impl)
        slow = c.bootstrap().cast_as(rpc.Slow)
        tasks = [asyncio.ensure_future(slow.wait(60)) for _ in range(1000)]
        await impl.all_started.wait()
        for t in tasks:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        await impl.all_cancelled.wait()
        # The connection is still good, and nothing was left running on the server.
        assert (await slow.wait(0)).done is True
        assert not capnp.lib.capnp._rpc._state.active.server_tasks

    run(main(), timeout=60)
    assert (impl.started, impl.cancelled, impl.finished) == (1001, 1000, 1)


def cancellable_slow(rpc):
    """A Slow server whose wait(seconds > 0) runs until cancelled, then sets `cancelled`."""

    class SlowImpl(rpc.Slow.Server):
        def __init__(self):
            self.cancelled = asyncio.Event()

        async def wait(self, seconds, **kwargs):
            try:
                if seconds:
                    await asyncio.Event().wait()  # runs until cancelled
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
            return True

    return SlowImpl


@pytest.mark.timeout(60)
def test_a_call_collected_on_another_thread_is_cancelled_on_its_loop(rpc):
    """A reference cycle holding a call of a kj_loop thread, freed by the cyclic GC on another
    thread: no unraisable warning, and the call is dropped (cancelled) on its loop's thread at
    the loop's next run."""
    import threading

    SlowImpl = cancellable_slow(rpc)
    made, collected = threading.Event(), threading.Event()
    outcome = []

    async def main():
        impl = SlowImpl()
        c, _ = await socketpair_connection(impl)
        slow = c.bootstrap().cast_as(rpc.Slow)
        junk = [slow.wait(60)]
        junk.append(junk)
        await slow.wait(0)  # the first call has reached the server
        del junk
        made.set()
        await asyncio.get_running_loop().run_in_executor(None, collected.wait, 20)
        await slow.wait(0)  # the loop runs: the call freed elsewhere is dropped here
        await asyncio.wait_for(impl.cancelled.wait(), 20)
        outcome.append("cancelled")

    def worker():
        try:
            run(main(), timeout=40)
        except BaseException as e:  # reported by the main thread
            outcome.append(e)

    t, unraisable = collect_on_this_thread(worker, made, collected)
    assert not t.is_alive()
    assert outcome == ["cancelled"]
    assert [str(u.exc_value) for u in unraisable] == []


def test_promise_cancel(rpc):
    SlowImpl = cancellable_slow(rpc)

    async def main():
        impl = SlowImpl()
        c, _ = await socketpair_connection(impl)
        slow = c.bootstrap().cast_as(rpc.Slow)
        p = slow.wait(60)
        await slow.wait(0)  # the first call has reached the server
        p.cancel()
        p.cancel()  # a no-op the second time
        with pytest.raises(capnp.KjException, match="already used"):
            await p
        await impl.cancelled.wait()  # the server's coroutine saw the cancellation

    run(main())


def test_dropping_an_unawaited_promise_cancels_the_call(rpc):
    SlowImpl = cancellable_slow(rpc)

    async def main():
        impl = SlowImpl()
        c, _ = await socketpair_connection(impl)
        slow = c.bootstrap().cast_as(rpc.Slow)
        p = slow.wait(60)
        await slow.wait(0)  # the first call has reached the server
        del p  # nothing waited for it: the call is cancelled
        await impl.cancelled.wait()

    run(main())

PEER = r"""
import asyncio, socket, sys
sys.path.insert(0, {here!r})
import capnp
rpc = capnp.load({schema!r})

class Slow(rpc.Slow.Server):
    async def wait(self, seconds, **kwargs):
        print("waiting", flush=True)
        await asyncio.Event().wait()  # until the test kills this process
        return True

async def main():
    sock = socket.socket(fileno={fd})
    stream = await capnp.AsyncIoStream.create_connection(sock=sock)
    await capnp.TwoPartyServer(stream, bootstrap=Slow()).on_disconnect()

asyncio.run(capnp.run(main()))
"""


def test_a_killed_peer_fails_pending_calls_with_disconnected(rpc):
    a, b = socket.socketpair()
    script = PEER.format(here=str(HERE), schema=str(HERE / "rpc_test.capnp"), fd=b.fileno())
    proc = subprocess.Popen(
        [sys.executable, "-c", script], pass_fds=[b.fileno()], stdout=subprocess.PIPE, text=True
    )
    b.close()
    try:

        async def main():
            stream = await capnp.AsyncIoStream.create_connection(sock=a)
            client = capnp.TwoPartyClient(stream)
            slow = client.bootstrap().cast_as(rpc.Slow)
            disconnected = client.on_disconnect()
            pending = [asyncio.ensure_future(slow.wait(60)) for _ in range(3)]
            loop = asyncio.get_running_loop()
            line = await loop.run_in_executor(None, proc.stdout.readline)
            assert line.strip() == "waiting"
            proc.kill()
            results = await asyncio.gather(*pending, return_exceptions=True)
            await disconnected
            return results

        results = run(main(), timeout=20)
        assert len(results) == 3
        for r in results:
            assert isinstance(r, capnp.KjException)
            assert r.type == "DISCONNECTED"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_garbage_from_a_peer_ends_only_that_connection(rpc):
    Counter, _ = make_servers(rpc)
    impl = Counter()

    async def main():
        good, _ = await socketpair_connection(impl)
        a, b = socket.socketpair()
        stream = await capnp.AsyncIoStream.create_connection(sock=b)
        bad_server = capnp.TwoPartyServer(stream, bootstrap=impl)
        ended = bad_server.on_disconnect()
        a.sendall(b"\xff" * 64 + b"garbage" * 100)
        await ended
        a.close()
        # A message over the traversal limit on a connection with a tiny limit.
        c, d = socket.socketpair()
        s1 = await capnp.AsyncIoStream.create_connection(sock=c)
        s2 = await capnp.AsyncIoStream.create_connection(sock=d)
        capnp.TwoPartyServer(s2, bootstrap=Counter())
        limited = capnp.TwoPartyClient(s1, traversal_limit_in_words=1)
        with pytest.raises(capnp.KjException):
            await limited.bootstrap().cast_as(rpc.Counter).add(1, "x" * 100)
        counter = good.bootstrap().cast_as(rpc.Counter)
        return (await counter.add(1, "")).total

    assert run(main()) == 1


def test_leaving_kj_loop_with_work_in_flight(rpc):
    class SlowImpl(rpc.Slow.Server):
        async def wait(self, seconds, **kwargs):
            if seconds:
                await asyncio.Event().wait()  # still running when the loop is left
            return True

    outcome = {}

    async def main():
        async with capnp.kj_loop():
            c, server = await socketpair_connection(SlowImpl())
            slow = c.bootstrap().cast_as(rpc.Slow)
            pending = asyncio.ensure_future(slow.wait(60))
            client_end = c.on_disconnect()
            server_end = server.on_disconnect()
            await slow.wait(0)
        results = await asyncio.gather(pending, client_end, server_end, return_exceptions=True)
        outcome["results"] = results
        with pytest.raises(RuntimeError, match="not running"):
            slow.wait(0)
        with pytest.raises(RuntimeError, match="This client is closed"):
            c.bootstrap()
        with pytest.raises(RuntimeError, match="This server is closed"):
            server.on_disconnect()

    asyncio.run(asyncio.wait_for(main(), 20))
    call, client_end, server_end = outcome["results"]
    assert isinstance(call, capnp.KjException) and call.type == "DISCONNECTED"
    assert server_end is None
    # The client's on_disconnect() ended with the connection, or failed with the loop.
    assert client_end is None or "PromiseFulfiller was destroyed" in str(client_end)


def test_kj_loop_rules(rpc):
    Counter, _ = make_servers(rpc)

    async def outside():
        with pytest.raises(RuntimeError, match="The KJ event-loop is not running"):
            rpc.Counter._new_client(Counter())
        with pytest.raises(RuntimeError, match="not running"):
            await capnp.AsyncIoStream.create_connection("127.0.0.1", 1)
        async with capnp.kj_loop():
            with pytest.raises(RuntimeError, match="already running"):
                async with capnp.kj_loop():
                    pass
            with pytest.raises(ValueError, match="should be a AsyncIoStream"):
                capnp.TwoPartyClient(5)
            with pytest.raises(capnp.KjException, match="You must provide a bootstrap interface"):
                capnp.TwoPartyServer(None, bootstrap=None)
        # Entered again after it exits.
        async with capnp.kj_loop():
            local = rpc.Counter._new_client(Counter())
            assert (await local.add(1, "")).total == 1

    asyncio.run(asyncio.wait_for(outside(), 20))
    # And in a second asyncio.run.
    asyncio.run(asyncio.wait_for(outside(), 20))
