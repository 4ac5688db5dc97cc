"""Shared fixtures: the test schemas, fresh parser state, and the differential runner."""

import os
import pathlib
import shutil
import sys

import pytest

import capnp

SCHEMAS = pathlib.Path(__file__).parent / "schemas"


@pytest.fixture
def schemas(tmp_path):
    """A private copy of tests/python/schemas, so tests may add files and symlinks."""
    target = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, target)
    return target


@pytest.fixture(autouse=True)
def fresh_global_parser():
    """Each test starts with a new global parser and leaves sys.path and sys.modules as found."""
    capnp.cleanup_global_schema_parser()
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    saved_cwd = os.getcwd()
    yield
    os.chdir(saved_cwd)
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        if name.endswith("_capnp"):
            del sys.modules[name]
    capnp.add_import_hook()
    capnp.cleanup_global_schema_parser()
