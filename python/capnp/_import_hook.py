"""The import hook: ``import foo_capnp`` loads ``foo.capnp`` (API 2.7)."""

import importlib.abc
import importlib.util
import os
import sys

_SUFFIX = "_capnp"


def _candidates(base):
    """File names tried for a module base name, in order."""
    names = [base + ".capnp"]
    if "_" in base:
        names.append(base.replace("_", "-") + ".capnp")
        names.append(base.replace("_", " ") + ".capnp")
    return names


def _sys_path_dirs():
    return [os.path.abspath(p or ".") for p in sys.path if isinstance(p, str)]


class _Loader(importlib.abc.Loader):
    """Loads one ``.capnp`` file found by ``_Importer`` as a module."""

    def __init__(self, path, additional_paths):
        self._path = path
        self._additional_paths = additional_paths

    def create_module(self, spec):
        """Compiles the schema file and returns its module."""
        from capnp.lib.capnp import load

        imports = [os.path.dirname(self._path)]
        imports += self._additional_paths
        imports += [d for d in ("/usr/local/include", "/usr/include") if os.path.isdir(d)]
        imports += _sys_path_dirs()
        return load(self._path, spec.name, imports)

    def exec_module(self, module):
        """The module is complete when created."""


# The standard schemas pycapnp 1.x shipped next to its module, which its hook found by their
# plain names (``import stream_capnp``): candidate file name -> bundled file.
_BUNDLED = {
    name: "capnp/" + name
    for name in (
        "c++.capnp",
        "persistent.capnp",
        "rpc-twoparty.capnp",
        "rpc.capnp",
        "schema.capnp",
        "stream.capnp",
    )
}


class _BundledLoader(importlib.abc.Loader):
    """Loads a bundled standard schema into the global parser, as 1.x loaded its copy."""

    def __init__(self, bundled):
        self._bundled = bundled

    def create_module(self, spec):
        from capnp.lib.capnp import _global_parser

        return _global_parser()._load_bundled(self._bundled, spec.name)

    def exec_module(self, module):
        """The module is complete when created."""


class _Importer(importlib.abc.MetaPathFinder):
    """The ``sys.meta_path`` finder of ``*_capnp`` modules."""

    def __init__(self, additional_paths):
        self._additional_paths = list(additional_paths or [])

    def find_spec(self, fullname, path=None, target=None):
        """The spec of module ``fullname`` when it names a schema file (``foo_capnp``)."""
        if fullname in sys.modules:
            return None
        package, _, last = fullname.rpartition(".")
        if not last.endswith(_SUFFIX):
            return None
        base = last[: -len(_SUFFIX)]
        if package:
            parent = sys.modules.get(package)
            directories = list(getattr(parent, "__path__", None) or [])
            if package == "capnp":
                directories += ["/usr/local/include/capnp", "/usr/include/capnp"]
        else:
            directories = self._additional_paths + _sys_path_dirs()
        for directory in directories:
            for name in _candidates(base):
                candidate = os.path.join(directory, name)
                if os.path.isfile(candidate):
                    loader = _Loader(candidate, self._additional_paths)
                    return importlib.util.spec_from_file_location(fullname, candidate, loader=loader)
        # No file of that name on the search path: a bundled standard schema (1.x).
        if not package:
            for name in _candidates(base):
                if name in _BUNDLED:
                    return importlib.util.spec_from_loader(fullname, _BundledLoader(_BUNDLED[name]))
        return None


# pycapnp's classes live in capnp.lib.capnp.
_Importer.__module__ = _Loader.__module__ = _BundledLoader.__module__ = "capnp.lib.capnp"

_finder = None


def add_import_hook(additional_paths=None):
    """Installs the finder at the end of ``sys.meta_path``, replacing an earlier one."""
    global _finder
    remove_import_hook()
    _finder = _Importer(additional_paths)
    sys.meta_path.append(_finder)


def remove_import_hook():
    """Removes the finder; does nothing when none is installed."""
    global _finder
    if _finder is not None and _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    _finder = None
