"""Memory: 200,000 calls passing capabilities both ways leave RSS flat."""

import asyncio
import gc
import sys

import pytest

from rpc_support import calculator, rpc  # noqa: F401  (fixtures)
from rpc_support import make_servers, run, socketpair_connection

CALLS = 200_000
WARMUP = 20_000
BATCH = 200
ALLOWED_GROWTH_BYTES = 10 * 1024 * 1024


def rss_bytes():
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
@pytest.mark.timeout(900)
def test_calls_with_capabilities_leave_memory_flat(rpc):
    Counter, _ = make_servers(rpc)

    class RootImpl(rpc.Root.Server):
        def echoCap(self, counter, **kwargs):
            return counter

        def counter(self, start, **kwargs):
            return Counter(start)

    async def main():
        c, _ = await socketpair_connection(RootImpl())
        root = c.bootstrap().cast_as(rpc.Root)
        local = Counter()

        async def batch(i):
            calls = []
            for j in range(BATCH // 2):
                calls.append(root.echoCap(local))
                calls.append(root.counter(j))
            results = await asyncio.gather(*calls)
            # Use what came back: our own capability, and one the server made.
            assert (await results[0].counter.add(0, "")).total == local.total
            assert (await results[1].counter.add(1, "")).total == 1

        done = 0
        while done < WARMUP:
            await batch(done)
            done += BATCH
        gc.collect()
        before = rss_bytes()
        while done < CALLS:
            await batch(done)
            done += BATCH
        gc.collect()
        return rss_bytes() - before

    growth = run(main(), timeout=850)
    assert growth < ALLOWED_GROWTH_BYTES, "RSS grew by %d bytes" % growth


@pytest.mark.timeout(60)
def test_a_server_keeping_its_call_context_is_collected(rpc):
    # `_context` is native; a server that keeps it makes a cycle (server -> context -> params
    # ... and here the context's params refer back to the server) that the collector must see.
    import weakref

    import capnp

    class Holder:
        pass

    holder = Holder()
    ctx = capnp.lib.capnp._CallContext(holder, None, None)
    holder.ctx = ctx
    gone = weakref.ref(holder)
    del holder, ctx
    gc.collect()
    assert gone() is None


@pytest.mark.timeout(60)
def test_servers_in_dropped_messages_are_released_by_the_running_loop(rpc):
    # A server written into a plain message holds a capability of the loop; when the message
    # goes, the release is queued for the loop, whose next run drops the server (pycapnp
    # 2.2.4 drops it at once). Waits for the finalizers, never for time.
    import weakref

    Counter, _ = make_servers(rpc)
    count = 50

    async def main():
        released = asyncio.Event()
        left = [count]

        def gone():
            left[0] -= 1
            if left[0] == 0:
                released.set()

        used = Counter(5)
        for i in range(count):
            server = Counter(i)
            weakref.finalize(server, gone)
            m = rpc.Entry.new_message(name="e%d" % i)
            m.counter = server
            if i == 0:
                # One capability also called through the message before it goes.
                assert (await m.counter.add(1, "")).total == 1
            del server, m
        gc.collect()
        await asyncio.wait_for(released.wait(), 30)
        # A server still referenced from Python stays alive and usable.
        m = rpc.Entry.new_message()
        m.counter = used
        assert (await m.counter.add(2, "")).total == 7
        return left[0]

    assert run(main(), timeout=50) == 0
