"""`python -m capnp stubs` (the same generator as `capnp-rs stubs`): output, errors."""

import subprocess
import sys

import pytest

import capnp
from capnp import _capnp


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "capnp", "stubs", *args], capture_output=True, text=True, cwd=cwd
    )


def test_writes_a_stub_per_file(schemas, tmp_path):
    out = tmp_path / "out"
    r = run(str(schemas / "contacts.capnp"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(out / "contacts_capnp.pyi")
    text = (out / "contacts_capnp.pyi").read_text()
    assert "class Contact:" in text
    assert "from capnp.lib.capnp import (" in text


def test_schema_error_exits_non_zero(tmp_path):
    bad = tmp_path / "bad.capnp"
    bad.write_text("@0xd1f4a7c2b3e59a01;\nstruct S { a @0 :Nope; }\n")
    r = run(str(bad), "-o", str(tmp_path / "out"))
    assert r.returncode == 1
    assert "Not defined: Nope" in r.stderr
    assert not (tmp_path / "out" / "bad_capnp.pyi").exists()


def test_missing_file_and_no_files(tmp_path):
    r = run(str(tmp_path / "nope.capnp"), "-o", str(tmp_path))
    assert r.returncode == 1
    assert "nope.capnp" in r.stderr
    r = run("-o", str(tmp_path))
    assert r.returncode == 2
    assert "no input files" in r.stderr


def test_native_function_raises_kj_exception(tmp_path):
    with pytest.raises(capnp.KjException, match="no such file"):
        _capnp.write_stubs([str(tmp_path / "nope.capnp")], str(tmp_path))


def test_standard(tmp_path):
    r = run("--standard", "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "persistent_capnp.pyi", "rpc_capnp.pyi", "rpc_twoparty_capnp.pyi", "schema_capnp.pyi", "stream_capnp.pyi",
    ]
