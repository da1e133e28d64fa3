"""The hooks reference for plugin authors names every hook with its exact
signature, and nothing else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from adaptsend import hookspecs

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "plugins" / "hooks.md"


def specs_in_source() -> dict[str, str]:
    """Each hookspec's name and its signature line, as written in the module."""
    tree = ast.parse(Path(hookspecs.__file__).read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(
            ast.unparse(d).startswith("hookspec") for d in node.decorator_list
        ):
            returns = ast.unparse(node.returns) if node.returns else "None"
            found[node.name] = f"def {node.name}({ast.unparse(node.args)}) -> {returns}"
    return found


def test_the_source_parse_finds_what_pluggy_finds() -> None:
    marker = f"{hookspecs.PROJECT}_spec"
    registered = {
        name for name, value in vars(hookspecs).items() if getattr(value, marker, None) is not None
    }
    assert set(specs_in_source()) == registered
    assert len(registered) >= 7


def test_every_hook_has_a_docstring() -> None:
    for name in specs_in_source():
        doc = getattr(hookspecs, name).__doc__
        assert doc and len(doc.split()) > 10, name


def test_every_hook_is_in_the_reference_with_its_exact_signature() -> None:
    text = REFERENCE.read_text()
    for name, signature in specs_in_source().items():
        assert f"\n### {name}\n" in text, f"{name} has no heading in {REFERENCE.name}"
        section = text.split(f"\n### {name}\n", 1)[1].split("\n### ", 1)[0]
        assert f"```python\n{signature}\n```" in section, f"{name}: signature differs"


def test_the_reference_documents_no_hook_that_does_not_exist() -> None:
    documented = set(re.findall(r"^### (adaptsend_\w+)$", REFERENCE.read_text(), re.MULTILINE))
    assert documented == set(specs_in_source())
