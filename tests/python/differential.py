"""Runs one Python script under pycapnp 2.2.4 (the oracle) and under this package.

The oracle is the virtual environment `.oracles/pycapnp` made by scripts/install-oracles.sh;
a missing oracle fails the test (it is never skipped).
"""

import difflib
import os
import pathlib
import subprocess
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[2]
ORACLE_PYTHON = ROOT / ".oracles" / "pycapnp" / "bin" / "python"


def run(python, script, cwd):
    """Runs `script` with `python` in `cwd`; returns (exit code, stdout, stderr)."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [str(python), "-c", textwrap.dedent(script)],
        cwd=str(cwd),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, proc.stdout, proc.stderr


def oracle_and_ours(script, cwd):
    """The outputs of pycapnp and of this package; both runs must succeed."""
    assert ORACLE_PYTHON.exists(), "pycapnp oracle missing: run scripts/install-oracles.sh"
    results = []
    for python in (ORACLE_PYTHON, sys.executable):
        code, out, err = run(python, script, cwd)
        assert code == 0, "%s failed (exit %d):\n%s" % (python, code, err)
        results.append(out)
    return results


def assert_same_output(script, cwd):
    """The script prints the same thing under pycapnp and under this package."""
    expected, actual = oracle_and_ours(script, cwd)
    assert expected, "the script printed nothing under pycapnp"
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(True), actual.splitlines(True), "pycapnp", "ours"
        )
    )
    assert actual == expected, "outputs differ:\n" + diff
