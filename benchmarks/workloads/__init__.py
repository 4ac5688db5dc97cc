"""Benchmark definitions, shared by pycapnp 2.2.4 and this package (both are `import capnp`).

A benchmark is a statement timed like `timeit` (compiled into a loop, so the per-operation
overhead is one loop step, the same under both implementations) over a namespace made by its
setup function. `check` proves the statement did the right thing: its value must be the same
under both implementations and, where the benchmark has one, equal to `expected`, computed in
plain Python from the same inputs without capnp.

The modules here import `capnp` only inside functions: run.py imports the registry (names,
targets, baselines) under any python3 and never loads an implementation; the statements run in
`benchmarks/worker.py`, one process per implementation.
"""

import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(os.path.dirname(HERE), "schemas")
ROOT = os.path.dirname(os.path.dirname(HERE))

# The issues' targets (issue 10, "speed, round two", for messages; the RPC issues for rpc*),
# as pycapnp time / our time (> 1 means we are faster). Rows without a
# named target still have the blanket one: no operation slower than pycapnp (1.0).
TARGETS = {
    "read": (5.0, "field reads >= 5x"),
    "set": (3.0, "builder sets >= 3x"),
    "which": (10.0, "which() >= 10x"),
    "which_prop": (4.0, "which (property) >= 4x"),
    "dict": (10.0, "to_dict/from_dict >= 10x"),
    "new_message": (5.0, "new_message(**kwargs) >= 5x"),
    "addressbook": (4.0, "address book >= 4x"),
    "from_bytes": (4.0, "from_bytes >= 4x"),
    "to_bytes": (1.5, "to_bytes >= 1.5x"),
    "to_bytes_small": (3.0, "small to_bytes >= 3x"),
    "packed": (2.0, "packed, segments >= 2x"),
    "list_index": (1.5, "list indexing >= 1.5x"),
    "list_iter": (2.0, "list iteration >= 2x"),
    "str": (4.0, "str() >= 4x"),
    "schema": (3.0, "large schema load >= 3x"),
    "classic": (3.0, "classic workloads >= 3x"),
    "rpc_rtt": (2.0, "RPC round trip >= 2x (and <= 1.5x the asyncio floor)"),
    "rpc_concurrent": (3.0, "1,000 concurrent calls >= 3x"),
    "rpc_64k": (2.0, "64 KiB calls >= 2x"),
    "rpc_sync": (3.0, "synchronous round trip >= 3x pycapnp 1.3.0"),
    "json": (3.0, "to_json >= 3x json.dumps(to_dict()) (issue 12)"),
    None: (1.0, "not slower than pycapnp"),
    # A plain-Python reference row (no capnp) that other rows are compared with.
    "baseline": (None, "baseline"),
}

# Ratios to a plain copy of the same bytes (`bytes(bytearray(b))`) must stay under this.
COPY_RATIO_TARGET = 1.25
# Baseline rows other than the plain copy: (the most a row may take over it, what it is).
BASELINE_LIMITS = {"rpc.asyncio_floor_x100": (1.5, "asyncio floor"),
                   "read.slot_floor": (2.0, "slot read"),
                   # No limit: reported so the build rows' distance to the floor is seen.
                   "addressbook.object_floor": (None, "plain objects")}
# Reading a large file through mmap may add at most this much resident memory.
RSS_TARGET_MB = 50.0

REGISTRY = {}


class Benchmark:
    """One row of the table.

    setup(quick) -> dict: the namespace the statement runs in (made afresh before every
        sample, so statements that grow a message stay bounded).
    stmt: the timed statement (source text, run with the namespace as globals).
    check: None (stmt is an expression; its value is the check), a source expression
        evaluated after running stmt once, or a callable(namespace).
    expected(quick) -> the plain-Python value `check` must equal (after `plain`), or None.
    target: a key of TARGETS.
    baseline: the name of a benchmark this one is also compared with (ratio of times).
    metrics(namespace) -> dict of extra numbers reported with the row (not compared).
    peer: the pycapnp the row is compared with when not the default 2.2.4: "pycapnp1" for
        pycapnp 1.3.0 (the synchronous RPC rows; run.py's --pycapnp1-python).
    """

    def __init__(self, name, setup, stmt, check=None, expected=None, target=None,
                 baseline=None, metrics=None, doc="", peer=None):
        assert name not in REGISTRY, name
        assert target in TARGETS, target
        self.name = name
        self.setup = setup
        self.stmt = stmt
        self.check = check
        self.expected = expected
        self.target = target
        self.baseline = baseline
        self.metrics = metrics
        self.doc = doc
        assert peer in (None, "pycapnp1"), peer
        self.peer = peer
        REGISTRY[name] = self

    def run_check(self, quick):
        ns = self.setup(quick)

        def run():
            if self.check is None:
                return eval(self.stmt, ns)
            exec(self.stmt, ns)
            return eval(self.check, ns) if isinstance(self.check, str) else self.check(ns)

        # The thread the namespace names (see worker.run_on), else this one.
        runner = ns.get("__run_on__")
        value = runner(run) if runner is not None else run()
        result = {"check": plain(value)}
        if self.expected is not None:
            result["expected"] = plain(self.expected(quick))
        if self.metrics is not None:
            result["metrics"] = self.metrics(ns)
        return result


def plain(value):
    """A JSON value standing for `value`: readers and builders as their to_dict, enums as
    their names, lists as lists, long bytes as length and digest."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if len(data) <= 64:
            return {"bytes": data.hex()}
        return {"bytes_len": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "to_dict"):
        return plain(value.to_dict())
    if "Enum" in type(value).__name__:
        return str(value)
    if hasattr(value, "__len__") and hasattr(value, "__getitem__"):
        return [plain(value[i]) for i in range(len(value))]
    raise TypeError("no plain form for %r" % type(value).__name__)


def open_reader(module, data, **kwargs):
    """A reader over `data` in either generation's style: pycapnp 2.x's from_bytes returns a
    context manager, ours a reader that is also one. Returns (context manager, reader); keep
    the first alive as long as the reader."""
    manager = module.from_bytes(data, **kwargs)
    return manager, manager.__enter__()


_SCHEMAS = {}


def schema(name):
    """A benchmarks/schemas file loaded by the global parser, once per process (the classic
    workloads time messages, not schema loading; `schema.load_large` times that)."""
    import capnp

    if name not in _SCHEMAS:
        _SCHEMAS[name] = capnp.load(os.path.join(SCHEMAS, name))
    return _SCHEMAS[name]


# Registration order is table order.
from . import fields, messages, large, classic, rpc  # noqa: E402,F401
