"""The server of `rpc_sync.xproc_roundtrip_x100` (benchmarks/workloads/rpc.py): serves the
Bench interface with the synchronous (1.x) API on the socket whose descriptor is argv[1], until
the client's end closes (the benchmark worker exiting closes it)."""

import os
import socket
import sys

import capnp

HERE = os.path.dirname(os.path.abspath(__file__))
rpc = capnp.load(os.path.join(HERE, "schemas", "rpcbench.capnp"))


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


def main():
    sock = socket.socket(fileno=int(sys.argv[1]))
    server = capnp.TwoPartyServer(sock, bootstrap=BenchImpl())
    try:
        server.on_disconnect().wait()
    except Exception:  # a disconnect reported as an error: the client went away either way
        pass


if __name__ == "__main__":
    main()
