from collections.abc import Sequence

def add_import_hook(additional_paths: Sequence[str] | None = None) -> None:
    """Installs the import hook: ``import foo_capnp`` loads ``foo.capnp`` found on
    ``sys.path`` (and ``additional_paths``). ``import capnp`` installs it."""

def remove_import_hook() -> None:
    """Removes the import hook."""
