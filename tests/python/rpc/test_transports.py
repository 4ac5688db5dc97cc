"""Transports: the examples over TCP, TLS (a self-signed certificate made by the test) and
Unix sockets, in one process and across processes; plain messages over a stream."""

import asyncio
import ssl
import subprocess
import sys

import pytest

import capnp

from rpc_support import calculator, rpc  # noqa: F401  (fixtures)
from rpc_support import EXAMPLES, make_servers, run
from test_interop import EXPECTED_CALCULATOR, start_server, stop


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for `localhost` (openssl), as (cert, key) paths."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(cert), str(key)


@pytest.mark.timeout(120)
def test_examples_across_processes_over_tcp():
    proc, address = start_server(sys.executable, EXAMPLES / "async_calculator_server.py", "127.0.0.1:0")
    try:
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "async_calculator_client.py"), address],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        stop(proc)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == EXPECTED_CALCULATOR


@pytest.mark.timeout(120)
def test_examples_across_processes_over_tls(certificate):
    cert, key = certificate
    proc, address = start_server(
        sys.executable, EXAMPLES / "async_calculator_server.py", "127.0.0.1:0", "--cert", cert, "--key", key
    )
    try:
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "async_calculator_client.py"), address, "--ca", cert],
            capture_output=True, text=True, timeout=60,
        )
    finally:
        stop(proc)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == EXPECTED_CALCULATOR


def test_tls_in_one_process_with_large_messages(rpc, certificate):
    cert, key = certificate
    Counter, _ = make_servers(rpc)

    async def main():
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(cert, key)
        client_ctx = ssl.create_default_context(cafile=cert)

        async def serve(stream):
            await capnp.TwoPartyServer(stream, bootstrap=Counter()).on_disconnect()

        server = await capnp.AsyncIoStream.create_server(serve, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        async with server:
            stream = await capnp.AsyncIoStream.create_connection(
                "127.0.0.1", port, ssl=client_ctx, server_hostname="localhost"
            )
            client = capnp.TwoPartyClient(stream)
            counter = client.bootstrap().cast_as(rpc.Counter)
            big = "x" * (1 << 20)
            echoes = await asyncio.gather(*[counter.echo(big + str(i)) for i in range(8)])
            # Closed explicitly: CPython 3.9's SSL transport is not marked closed when its
            # peer goes away, so one left open warns (ResourceWarning) when collected.
            client.close()
            await stream.wait_closed()
            return [e.value == big + str(i) for i, e in enumerate(echoes)]

    assert run(main(), timeout=60) == [True] * 8


def test_unix_sockets(rpc, tmp_path):
    Counter, _ = make_servers(rpc)
    path = str(tmp_path / "rpc.sock")

    async def main():
        async def serve(stream):
            await capnp.TwoPartyServer(stream, bootstrap=Counter(40)).on_disconnect()

        server = await capnp.AsyncIoStream.create_unix_server(serve, path)
        async with server:
            stream = await capnp.AsyncIoStream.create_unix_connection(path)
            client = capnp.TwoPartyClient(stream)
            counter = client.bootstrap().cast_as(rpc.Counter)
            total = (await counter.add(2, "")).total
            client.close()
            await stream.wait_closed()
            return total

    assert run(main()) == 42


def test_server_callback_errors_reach_the_exception_handler(rpc):
    seen = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: seen.append(ctx["message"]))

        async def serve(stream):
            raise RuntimeError("callback failed")

        server = await capnp.AsyncIoStream.create_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            stream = await capnp.AsyncIoStream.create_connection("127.0.0.1", port)
            client = capnp.TwoPartyClient(stream)
            await client.on_disconnect()

    run(main())
    assert seen == ["Exception in pycapnp server callback"]


def test_streaming_flow_and_first_error(rpc):
    class StreamerImpl(rpc.Streamer.Server):
        def __init__(self):
            self.count = 0
            self.sum = 0

        async def push(self, n, **kwargs):
            if n == 13:
                raise ValueError("unlucky")
            await asyncio.sleep(0)  # one suspension: the call completes from an asyncio task
            self.count += 1
            self.sum += n

        async def total(self, **kwargs):
            return self.count, self.sum

    from rpc_support import socketpair_connection

    async def main():
        c, _ = await socketpair_connection(StreamerImpl())
        s = c.bootstrap().cast_as(rpc.Streamer)
        for i in range(1000):
            if i == 13:
                continue
            await s.push(i)
        t = await s.total()
        ok = (t.count, t.sum)
        await s.push(13)
        errors = 0
        for _ in range(3):
            try:
                await s.push(1)
                await s.total()
            except capnp.KjException as e:
                assert "unlucky" in e.description
                errors += 1
        return ok, errors

    ok, errors = run(main())
    assert ok == (999, sum(range(1000)) - 13)
    assert errors == 3


def test_plain_messages_over_a_stream(rpc):
    import socket

    async def main():
        a, b = socket.socketpair()
        sa = await capnp.AsyncIoStream.create_connection(sock=a)
        sb = await capnp.AsyncIoStream.create_connection(sock=b)
        for i in range(3):
            msg = rpc.Pair.new_message(left=i, right=-i)
            await msg.write_async(sa)
        big = rpc.Entry.new_message(name="y" * 100_000)
        await big.write_async(sa)
        got = [(await rpc.Pair.read_async(sb)) for _ in range(3)]
        entry = await rpc.Entry.read_async(sb)
        sa.close()
        end = await rpc.Pair.read_async(sb)
        return [(p.left, p.right) for p in got], len(entry.name), end

    pairs, size, end = run(main())
    assert pairs == [(0, 0), (1, -1), (2, -2)]
    assert size == 100_000
    assert end is None


def test_read_async_refuses_a_message_over_the_limit(rpc):
    import socket

    async def main():
        a, b = socket.socketpair()
        sa = await capnp.AsyncIoStream.create_connection(sock=a)
        sb = await capnp.AsyncIoStream.create_connection(sock=b)
        # A header claiming one segment of 2**31 words, and nothing after it.
        sa._protocol.transport.write(b"\x00\x00\x00\x00" + (2**31).to_bytes(4, "little"))
        with pytest.raises(capnp.KjException, match="over the traversal limit"):
            await rpc.Pair.read_async(sb)
        small = rpc.Pair.new_message(left=1)
        await small.write_async(sa)
        with pytest.raises(capnp.KjException, match="over the traversal limit"):
            await rpc.Pair.read_async(sb, traversal_limit_in_words=1)
        sa.close()
        sb.close()

    run(main())
