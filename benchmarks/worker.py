"""One implementation's side of the benchmark runner: run.py starts this script under each
implementation's Python and talks to it in JSON lines (one request on stdin, one answer on
stdout). Requests:

    {"op": "hello"}                                -> implementation, versions, benchmark list
    {"op": "check", "name": N, "quick": Q}         -> {"check": ..., "expected": ..., "metrics": ...}
    {"op": "time", "name": N, "quick": Q, "number": K or null}
        -> {"number": K, "seconds": T}: K runs of the statement took T seconds; with a null
           number, K is first chosen (1, 2, 5, 10, ...) so that a batch takes >= 0.1 s.

A failure in a request is answered with {"error": "..."}; the worker keeps serving.
"""

import gc
import json
import os
import sys
import timeit
import traceback
import warnings

MIN_BATCH_SECONDS = 0.1


def autorange(timer):
    """The smallest number of the 1-2-5 series whose batch takes at least 0.1 s."""
    number = 1
    while True:
        for step in (1, 2, 5):
            seconds = timer.timeit(number * step)
            if seconds >= MIN_BATCH_SECONDS:
                return number * step, seconds
        number *= 10


def run_on(ns, f):
    """`f()` on the thread the namespace names (`__run_on__`: a function that runs a callable
    there and returns its result), else here. The synchronous RPC rows name the thread that
    owns their loop, so that a batch, not each statement, crosses between threads."""
    runner = ns.get("__run_on__")
    return runner(f) if runner is not None else f()


def handle(request, registry):
    op = request["op"]
    if op == "hello":
        import capnp

        return {"python": sys.version.split()[0], "capnp_file": capnp.__file__,
                "capnp_version": getattr(capnp, "__version__", "?"),
                "benchmarks": list(registry)}
    bench = registry[request["name"]]
    quick = bool(request.get("quick"))
    if op == "check":
        return bench.run_check(quick)
    if op == "time":
        ns = bench.setup(quick)
        timer = timeit.Timer(bench.stmt, globals=ns)
        number = request.get("number")

        def batch():
            if number is None:
                return autorange(timer)
            return number, timer.timeit(number)

        number, seconds = run_on(ns, batch)
        del ns, timer
        gc.collect()
        return {"number": number, "seconds": seconds}
    raise ValueError("unknown op %r" % op)


def main():
    # pycapnp warns when a builder is serialized twice; the benchmarks do that on purpose.
    warnings.simplefilter("ignore")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    # Anything a benchmark prints must not corrupt the protocol.
    protocol = sys.stdout
    sys.stdout = sys.stderr
    from workloads import REGISTRY

    for line in sys.stdin:
        try:
            answer = handle(json.loads(line), REGISTRY)
        except Exception as e:  # reported to the runner, which shows it in the table
            detail = "%s: %s" % (type(e).__name__, e)
            if os.environ.get("BENCH_TRACEBACKS"):
                traceback.print_exc()
            answer = {"error": detail[:500]}
        protocol.write(json.dumps(answer) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
