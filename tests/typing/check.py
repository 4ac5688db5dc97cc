"""Type-checks the package and the stubs the generator writes (``make typing``).

1. ``mypy.stubtest`` compares the package stubs with the package (allowlist beside this file).
2. ``python -m capnp stubs`` writes stubs for the examples, the benchmark schemas and the
   bundled standard files; the committed ``python/capnp/*_capnp.pyi`` must equal the latter.
3. ``mypy --strict`` and ``basedpyright`` (strict) check the generated stubs with the programs
   in ``good/``, which must pass clean, and each program in ``bad/``, which must fail with the
   error its ``# expect`` lines name, and with no other. The good programs also run.

Usage: ``python tests/typing/check.py`` with mypy and basedpyright installed.
"""

import glob
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCHEMAS = [
    "examples/addressbook.capnp",
    "examples/rpc/calculator.capnp",
    "tests/typing/schemas/generic.capnp",
] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "benchmarks/schemas/*.capnp")))


def run(cmd, **kwargs):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, **kwargs)


class Checker:
    def __init__(self):
        self.failures = []

    def fail(self, what, output=""):
        self.failures.append(what)
        print("FAIL:", what)
        if output:
            print(output.rstrip())

    def ok(self, what):
        print("ok:", what)


def mypy(stubs, files):
    env = dict(os.environ, MYPYPATH=stubs)
    cmd = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull]
    return run(cmd + files, env=env)


def pyright(config, files):
    cmd = [
        os.path.join(os.path.dirname(sys.executable), "basedpyright"),
        "--project", config,
        "--pythonpath", sys.executable,
    ]
    return run(cmd + files)


def main():
    c = Checker()
    allowlist = os.path.join(HERE, "stubtest-allowlist.txt")
    r = run([sys.executable, "-m", "mypy.stubtest", "capnp", "--allowlist", allowlist], )
    if r.returncode:
        c.fail("stubtest capnp", r.stdout + r.stderr)
    else:
        c.ok("stubtest capnp")

    with tempfile.TemporaryDirectory() as out:
        r = run([sys.executable, "-m", "capnp", "stubs", "-o", out] + SCHEMAS)
        if r.returncode:
            c.fail("python -m capnp stubs", r.stdout + r.stderr)
            return c
        std = os.path.join(out, "standard")
        r = run([sys.executable, "-m", "capnp", "stubs", "--standard", "-o", std])
        if r.returncode:
            c.fail("python -m capnp stubs --standard", r.stdout + r.stderr)
            return c
        for path in sorted(glob.glob(os.path.join(std, "*.pyi"))):
            shipped = os.path.join(ROOT, "python", "capnp", os.path.basename(path))
            with open(path) as a:
                fresh = a.read()
            try:
                with open(shipped) as b:
                    same = b.read() == fresh
            except FileNotFoundError:
                same = False
            if not same:
                c.fail("%s differs from the generator's output (regenerate: capnp-rs stubs --standard -o python/capnp)" % shipped)
        stubs = sorted(glob.glob(os.path.join(out, "*.pyi")))
        c.ok("stubs written: " + ", ".join(os.path.basename(s) for s in stubs))

        config = os.path.join(out, "pyrightconfig.json")
        with open(config, "w") as f:
            json.dump(
                {
                    "extraPaths": [out],
                    "typeCheckingMode": "strict",
                    # Schema modules have no source: the import hook makes them from .capnp files.
                    "reportMissingModuleSource": False,
                    "pythonVersion": "%d.%d" % sys.version_info[:2],
                },
                f,
            )

        good = sorted(glob.glob(os.path.join(HERE, "good", "*.py")))
        r = mypy(out, stubs + good)
        if r.returncode:
            c.fail("mypy --strict on the stubs and good/", r.stdout + r.stderr)
        else:
            c.ok("mypy --strict on %d stubs and %d good programs" % (len(stubs), len(good)))
        r = pyright(config, good)
        if r.returncode:
            c.fail("basedpyright on good/", r.stdout + r.stderr)
        else:
            c.ok("basedpyright on %d good programs" % len(good))

        # The good programs also run (schemas found by the import hook on PYTHONPATH).
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(os.path.join(ROOT, d) for d in ("examples", "examples/rpc", "tests/typing/schemas")))
        for path in good:
            r = run([sys.executable, path], env=env, timeout=60)
            if r.returncode:
                c.fail("running good/%s" % os.path.basename(path), r.stdout + r.stderr)
            else:
                c.ok("good/%s runs" % os.path.basename(path))

        for path in sorted(glob.glob(os.path.join(HERE, "bad", "*.py"))):
            name = os.path.basename(path)
            with open(path) as f:
                text = f.read()
            expect = dict(re.findall(r"^# expect (mypy|pyright): (\S+)$", text, re.M))
            r = mypy(out, [path])
            codes = set(re.findall(r"error: .*\[([\w-]+)\]$", r.stdout, re.M))
            if r.returncode == 0 or codes != {expect.get("mypy")}:
                c.fail("mypy on bad/%s: expected only [%s], got %s" % (name, expect.get("mypy"), sorted(codes)), r.stdout)
            else:
                c.ok("mypy finds [%s] in bad/%s" % (expect["mypy"], name))
            r = pyright(config, [path])
            rules = set(re.findall(r"\((report\w+)\)$", r.stdout, re.M))
            if r.returncode == 0 or rules != {expect.get("pyright")}:
                c.fail("basedpyright on bad/%s: expected only %s, got %s" % (name, expect.get("pyright"), sorted(rules)), r.stdout)
            else:
                c.ok("basedpyright finds %s in bad/%s" % (expect["pyright"], name))
    return c


if __name__ == "__main__":
    checker = main()
    if checker.failures:
        print("%d check(s) failed" % len(checker.failures))
        sys.exit(1)
    print("all typing checks passed")
