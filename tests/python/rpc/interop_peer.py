"""One side of the RPC interop tests, run under pycapnp 2.2.4 or this package (both `import
capnp`): `interop_peer.py server` prints `listening on HOST:PORT` and serves `Root`;
`interop_peer.py client HOST:PORT` runs the scenario against it and prints one line per step.
"""

import asyncio
import os
import sys

import capnp

HERE = os.path.dirname(os.path.abspath(__file__))
# pycapnp finds /capnp/stream.capnp only on its import path (its package directory's parent).
STD = os.path.dirname(os.path.dirname(os.path.abspath(capnp.__file__)))
rpc = capnp.load(os.path.join(HERE, "rpc_test.capnp"), imports=[STD])


class CounterImpl(rpc.Counter.Server):
    def __init__(self, total):
        self.total = total

    async def add(self, amount, note, **kwargs):
        self.total += amount
        return self.total

    async def child(self, **kwargs):
        return CounterImpl(self.total * 10)

    async def fail(self, kind, message, **kwargs):
        raise ValueError(message)

    async def echo(self, value, **kwargs):
        return value


class StreamerImpl(rpc.Streamer.Server):
    def __init__(self):
        self.count = 0
        self.sum = 0

    async def push(self, n, **kwargs):
        self.count += 1
        self.sum += n

    async def total(self, **kwargs):
        return self.count, self.sum


class RootImpl(rpc.Root.Server):
    async def counter(self, start, **kwargs):
        return CounterImpl(start)

    async def streamer(self, **kwargs):
        return StreamerImpl()

    async def callBack(self, counter, amount, **kwargs):
        first = (await counter.add(amount, "from the server")).total
        return first + (await counter.add(amount, "again")).total

    async def fail(self, message, **kwargs):
        raise ValueError(message)


async def serve(stream):
    await capnp.TwoPartyServer(stream, bootstrap=RootImpl()).on_disconnect()


async def server_main():
    server = await capnp.AsyncIoStream.create_server(serve, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    print("listening on %s:%d" % (host, port), flush=True)
    async with server:
        await server.serve_forever()


async def client_main(address):
    host, _, port = address.rpartition(":")
    stream = await capnp.AsyncIoStream.create_connection(host, int(port))
    client = capnp.TwoPartyClient(stream)
    root = client.bootstrap().cast_as(rpc.Root)
    counter = root.counter(5).counter  # pipelined
    print("add", (await counter.add(3, "x")).total)
    grandchild = counter.child().counter
    print("child", (await grandchild.add(1, "y")).total)
    mine = CounterImpl(100)
    print("callback", (await root.callBack(mine, 7)).total, mine.total)
    print("passed back", (await root.callBack(counter, 1)).total)
    try:
        await root.fail("boom from the server")
    except capnp.KjException as e:
        print("exception", e.type, "boom from the server" in e.description)
    try:
        await counter.fail("python", "nested boom")
    except capnp.KjException as e:
        print("exception", e.type, "nested boom" in e.description)
    streamer = (await root.streamer()).streamer
    for i in range(200):
        await streamer.push(i)
    total = await streamer.total()
    print("stream", total.count, total.sum)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        asyncio.run(capnp.run(server_main()))
    else:
        asyncio.run(capnp.run(client_main(sys.argv[2])))
