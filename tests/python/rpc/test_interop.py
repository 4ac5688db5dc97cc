"""RPC interop over TCP with pycapnp 2.2.4 (its own venv), both directions: the calculator
example and interop_peer.py (pipelining, capabilities both ways, exceptions, streaming)."""

import subprocess
import sys

import pytest

from rpc_support import calculator, rpc  # noqa: F401  (fixtures)
from rpc_support import EXAMPLES, HERE, ORACLE_PYTHON

OURS = sys.executable

EXPECTED_CALCULATOR = [
    "literal 123.0",
    "nested 495.0",
    "previous 10.0",
    "function 1234.0",
    "callback 512.0",
]

EXPECTED_PEER = [
    "add 8",
    "child 81",
    "callback 221 114",
    "passed back 19",
    "exception FAILED True",
    "exception FAILED True",
    "stream 200 19900",
]


def start_server(python, script, *args):
    """A server process, once it printed `listening on HOST:PORT`; returns (process, address)."""
    proc = subprocess.Popen(
        [python, str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()  # the server prints it once bound (or exits)
    if not line.startswith("listening on "):
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise AssertionError("server did not start: %r %s" % (line, err))
    return proc, line.split()[-1]


def stop(proc):
    proc.kill()
    proc.communicate(timeout=10)


def run_client(python, script, address):
    done = subprocess.run(
        [python, str(script), address] if script.name.startswith("async_calculator") else [python, str(script), "client", address],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.fixture(scope="module")
def oracle():
    assert ORACLE_PYTHON.exists(), "pycapnp oracle missing: run scripts/install-oracles.sh"
    return str(ORACLE_PYTHON)


PAIRS = [("ours", "pycapnp"), ("pycapnp", "ours"), ("ours", "ours")]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("server,client", PAIRS)
def test_calculator(oracle, server, client):
    python = {"ours": OURS, "pycapnp": oracle}
    proc, address = start_server(python[server], EXAMPLES / "async_calculator_server.py", "127.0.0.1:0")
    try:
        lines = run_client(python[client], EXAMPLES / "async_calculator_client.py", address)
    finally:
        stop(proc)
    assert lines == EXPECTED_CALCULATOR


@pytest.mark.timeout(120)
@pytest.mark.parametrize("server,client", PAIRS)
def test_peer_scenario(oracle, server, client):
    python = {"ours": OURS, "pycapnp": oracle}
    proc, address = start_server(python[server], HERE / "interop_peer.py", "server")
    try:
        lines = run_client(python[client], HERE / "interop_peer.py", address)
    finally:
        stop(proc)
    assert lines == EXPECTED_PEER
