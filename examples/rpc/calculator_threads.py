"""Threads with the synchronous API: `python calculator_threads.py HOST:PORT`.

Each thread has its own synchronous loop and its own connection to the calculator server
(RPC objects belong to the thread that made them); every thread runs the calculator scenario
and the main thread prints what each got.
"""

import argparse
import os
import sys
import threading

import capnp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calculator_client  # noqa: E402


def worker(address, results, index):
    try:
        client = capnp.TwoPartyClient(address)  # this thread's loop and connection
        calc = client.bootstrap().cast_as(calculator_client.calculator.Calculator)
        results[index] = calculator_client.scenario(calc)
    except BaseException as e:  # reported by the main thread
        results[index] = e
    finally:
        capnp.remove_event_loop(ignore_errors=True)


def main(address, threads):
    results = [None] * threads
    pool = [threading.Thread(target=worker, args=(address, results, i)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    for i, r in enumerate(results):
        if isinstance(r, BaseException):
            raise r
        print("thread %d: %s" % (i, " ".join("%s=%s" % (name, value) for name, value in r)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("address", help="HOST:PORT of the server")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    main(args.address, args.threads)
