"""A 1.x pipe-mode client (run under pycapnp 1.3.0 or this package): `pipe_client.py HOST:PORT`.

The program owns the socket (asyncio streams) and pumps bytes between it and a
`TwoPartyClient()` without a socket, awaiting results with `a_wait()`, as pycapnp 1.x's
asyncio examples did. Talks to examples/rpc/calculator_server.py and prints what it got.
"""

import asyncio
import os
import sys

import capnp

HERE = os.path.dirname(os.path.abspath(__file__))
calculator = capnp.load(os.path.join(HERE, "..", "..", "..", "examples", "rpc", "calculator.capnp"))


async def socket_to_client(reader, client):
    while True:
        data = await reader.read(4096)
        if not data:
            return
        client.write(data)


async def client_to_socket(writer, client):
    while True:
        data = await client.read(4096)
        writer.write(data.tobytes())
        await writer.drain()


async def main(address):
    host, _, port = address.rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    client = capnp.TwoPartyClient()
    pumps = [
        asyncio.ensure_future(socket_to_client(reader, client)),
        asyncio.ensure_future(client_to_socket(writer, client)),
    ]
    calc = client.bootstrap().cast_as(calculator.Calculator)
    value = await calc.evaluate({"literal": 123}).value.read().a_wait()
    print("literal", value.value)
    add = calc.getOperator(op="add").func
    print("add", (await add.call([2, 3]).a_wait()).value)
    for p in pumps:
        p.cancel()
    writer.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
