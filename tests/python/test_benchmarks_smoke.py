"""Smoke pass of the benchmark suite (benchmarks/run.py --quick) with this package only:
every workload runs once at tiny sizes and its check equals the plain-Python expected value.
No timing is asserted."""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
RUNNER = ROOT / "benchmarks" / "run.py"

sys.path.insert(0, str(ROOT / "benchmarks"))
import run  # noqa: E402  (benchmarks/run.py: its helpers are tested below)
from workloads import REGISTRY  # noqa: E402


def test_quick_run_checks_pass_under_our_package(tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(RUNNER), "--quick", "--impl", "ours", "--ours-python",
         sys.executable, "--json", str(out)],
        cwd=str(ROOT), capture_output=True, text=True, timeout=100)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    results = json.loads(out.read_text())["results"]
    assert [r["name"] for r in results] == list(REGISTRY)
    missing_expected = []
    for row in results:
        answer = row["answers"]["ours"]
        assert "error" not in answer, (row["name"], answer["error"])
        assert row["problems"] == [], (row["name"], row["problems"])
        if "expected" in answer:
            assert answer["check"] == answer["expected"], row["name"]
        else:
            missing_expected.append(row["name"])
    # Only rows whose value is defined by the implementation itself (text format, serialized
    # bytes, the compiled schema) go without a plain-Python expectation; pycapnp is their
    # reference in a full run.
    assert sorted(missing_expected) == ["schema.load_large", "str.addressbook", "str.fields",
                                        "to_bytes.bytes_equal"]


class FakeWorker:
    def __init__(self, answer):
        self.answer = answer

    def ask(self, message):
        return self.answer


def test_runner_reports_disagreements():
    agree = {"ours": FakeWorker({"check": 1, "expected": 1}),
             "pycapnp": FakeWorker({"check": 1, "expected": 1})}
    assert run.run_checks("x", agree, True)[1] == []

    differ = {"ours": FakeWorker({"check": 2}), "pycapnp": FakeWorker({"check": 1})}
    problems = run.run_checks("x", differ, True)[1]
    assert len(problems) == 1 and "differ" in problems[0]

    wrong = {"ours": FakeWorker({"check": 2, "expected": 1})}
    problems = run.run_checks("x", wrong, True)[1]
    assert len(problems) == 1 and problems[0].startswith("ours check 2 != expected 1")

    failing = {"ours": FakeWorker({"error": "KjException: boom"})}
    assert run.run_checks("x", failing, True)[1] == ["ours error: KjException: boom"]
