"""The import hook: `import foo_capnp` finds and loads `foo.capnp` (API 2.7)."""

import importlib
import sys

import pytest

import capnp


def test_import_from_sys_path(schemas):
    sys.path.insert(0, str(schemas))
    import contacts_capnp

    assert contacts_capnp.__name__ == "contacts_capnp"
    assert contacts_capnp.Contact.schema.node.displayName == "contacts_capnp:Contact"
    assert contacts_capnp.__spec__.origin == str(schemas / "contacts.capnp")
    assert sys.modules["contacts_capnp"] is contacts_capnp


def test_dashes_then_spaces(schemas):
    (schemas / "with-dash.capnp").write_text("@0xd1f4a7c2b3e59a11;\nstruct D {}\n")
    (schemas / "with space.capnp").write_text("@0xd1f4a7c2b3e59a12;\nstruct S {}\n")
    sys.path.insert(0, str(schemas))
    assert hasattr(importlib.import_module("with_dash_capnp"), "D")
    assert hasattr(importlib.import_module("with_space_capnp"), "S")


def test_mixed_replacements_are_not_tried(schemas):
    (schemas / "my-a b.capnp").write_text("@0xd1f4a7c2b3e59a13;\n")
    sys.path.insert(0, str(schemas))
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("my_a_b_capnp")


def test_absolute_imports_resolve_through_sys_path(schemas):
    sys.path.insert(0, str(schemas))
    sys.path.insert(0, str(schemas / "include"))
    importer = importlib.import_module("importer_capnp")
    assert importer.Card.schema.fieldnames == ("who", "shared", "helper")


def test_additional_paths_are_searched_first(schemas, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "contacts.capnp").write_text("@0xd1f4a7c2b3e59a14;\nstruct Elsewhere {}\n")
    sys.path.insert(0, str(schemas))
    paths = [str(other)]
    capnp.add_import_hook(paths)
    assert paths == [str(other)]
    module = importlib.import_module("contacts_capnp")
    assert hasattr(module, "Elsewhere")


def test_remove_and_add_import_hook(schemas):
    sys.path.insert(0, str(schemas))
    capnp.remove_import_hook()
    capnp.remove_import_hook()
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("contacts_capnp")
    capnp.add_import_hook()
    capnp.add_import_hook()
    finders = [f for f in sys.meta_path if type(f).__name__ == "_Importer"]
    assert len(finders) == 1
    assert hasattr(importlib.import_module("contacts_capnp"), "Contact")


def test_names_without_the_suffix_are_declined(schemas):
    sys.path.insert(0, str(schemas))
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("contacts")


def test_package_prefix_searches_the_package_path(schemas, tmp_path):
    pkg = tmp_path / "pkgroot" / "mypkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "inner.capnp").write_text("@0xd1f4a7c2b3e59a15;\nstruct Inner {}\n")
    (tmp_path / "pkgroot" / "outer.capnp").write_text("@0xd1f4a7c2b3e59a16;\n")
    sys.path.insert(0, str(tmp_path / "pkgroot"))
    inner = importlib.import_module("mypkg.inner_capnp")
    assert inner.Inner.schema.node.displayName == "mypkg.inner_capnp:Inner"
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("mypkg.outer_capnp")


def test_parse_error_propagates_from_import(schemas):
    (schemas / "broken.capnp").write_text("@0xd1f4a7c2b3e59a17;\nstruct {\n")
    sys.path.insert(0, str(schemas))
    with pytest.raises(capnp.KjException, match="broken_capnp:"):
        importlib.import_module("broken_capnp")


def test_hook_and_load_share_one_file(schemas):
    sys.path.insert(0, str(schemas))
    hooked = importlib.import_module("contacts_capnp")
    loaded = capnp.load(str(schemas / "contacts.capnp"))
    assert hooked.Contact.schema == loaded.Contact.schema
