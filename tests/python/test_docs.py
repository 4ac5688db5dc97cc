"""The documentation's promises: every ``python`` block of docs/*.md runs (page by page, from
the repository root, in one namespace per page), and every public class and method of the
package stubs (the API reference's source) has a docstring."""

import ast
import os
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "```python" in p.read_text())
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)


def test_pages_with_examples_exist():
    names = {p.name for p in PAGES}
    assert {"quickstart.md", "messages.md", "serialization.md", "rpc.md", "stubs.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_examples_run(page, monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace = {"__name__": "__docs__"}
    for i, code in enumerate(BLOCK.findall(page.read_text())):
        exec(compile(code, "%s[block %d]" % (page.name, i + 1), "exec"), namespace)


def _missing_docstrings(path):
    tree = ast.parse(path.read_text())
    missing = []

    def documented(node):
        return ast.get_docstring(node) is not None

    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            if not documented(node):
                missing.append(node.name)
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    public = not item.name.startswith("_")
                    overload = any(getattr(d, "id", None) == "overload" for d in item.decorator_list)
                    if public and not overload and not documented(item):
                        missing.append("%s.%s" % (node.name, item.name))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not documented(node):
            missing.append(node.name)
    return missing


@pytest.mark.parametrize("stub", ["lib/capnp.pyi", "_import_hook.pyi", "__main__.pyi"])
def test_public_api_has_docstrings(stub):
    import capnp

    path = pathlib.Path(os.path.dirname(capnp.__file__)) / stub
    assert _missing_docstrings(path) == []
