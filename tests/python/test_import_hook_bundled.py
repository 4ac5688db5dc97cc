"""The 1.x import hook for bundled schema names (issue 11, item 6): after
`capnp.add_import_hook()`, `import stream_capnp` and the other standard schemas load by their
plain names, while a user file of the same name on the search path still wins.

pycapnp 2.2.4 no longer has this (its hook finds only files), so these are ordinary tests."""

import importlib
import sys

import pytest

import capnp


def test_bundled_schemas_import_by_plain_name():
    capnp.add_import_hook()
    import rpc_capnp
    import rpc_twoparty_capnp
    import schema_capnp
    import stream_capnp

    assert stream_capnp.StreamResult.new_message().to_dict() == {}
    node = schema_capnp.Node.new_message(id=5, displayName="x")
    assert (node.id, node.displayName) == (5, "x")
    assert rpc_twoparty_capnp.Side.client == 1
    assert rpc_capnp.Message.new_message(abort={"reason": "r"}).abort.reason == "r"
    persistent = importlib.import_module("persistent_capnp")
    assert hasattr(persistent, "Persistent")
    cxx = importlib.import_module("c++_capnp")
    assert hasattr(cxx, "schema")
    # Loaded into the global parser, as `capnp.load` of 1.x's copy was.
    packaged = importlib.import_module("capnp.stream_capnp")
    assert stream_capnp.StreamResult.schema.node.id == packaged.StreamResult.schema.node.id
    assert stream_capnp is not packaged
    assert sys.modules["stream_capnp"] is stream_capnp


def test_a_user_file_of_the_same_name_wins(tmp_path):
    (tmp_path / "stream.capnp").write_text("@0xd1a2b3c4d5e6f708;\nstruct Mine { x @0 :Int32; }\n")
    sys.path.insert(0, str(tmp_path))
    capnp.add_import_hook()
    import stream_capnp

    assert stream_capnp.__file__ == str(tmp_path / "stream.capnp")
    assert stream_capnp.Mine.new_message(x=3).x == 3
    assert not hasattr(stream_capnp, "StreamResult")


def test_no_hook_no_bundled_names():
    capnp.remove_import_hook()
    with pytest.raises(ModuleNotFoundError):
        import stream_capnp  # noqa: F401
    with pytest.raises(ModuleNotFoundError):
        import json_capnp  # noqa: F401  (only the schemas 1.x shipped have plain names)


def test_unknown_names_are_not_found():
    capnp.add_import_hook()
    with pytest.raises(ModuleNotFoundError):
        import nosuchschema_capnp  # noqa: F401
    # Package-qualified names are unaffected: capnp.stream_capnp is the package's module.
    import capnp.stream_capnp as packaged

    assert packaged.StreamResult.schema.node.displayName.endswith("StreamResult")
