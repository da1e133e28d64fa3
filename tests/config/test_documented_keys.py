"""docs/configuration.md documents every key of every section: each section
the configuration classes define has a heading of its own, and under it a
table row for each of its keys. A new key fails here until it is written up;
a row for a key that no longer exists fails too."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import attrs
import pytest

from adaptsend import Config

REFERENCE = Path(__file__).parents[2] / "docs" / "configuration.md"
#: Free-form tables: adaptsend reads none of their keys.
FREE_FORM = {"plugin"}
_HEADING = re.compile(r"^#{2,6} (.+)$", re.M)
_KEY_ROW = re.compile(r"^\| `([a-z_0-9]+)` \|", re.M)


def sections(cls: type, prefix: str = "") -> dict[str, set[str]]:
    """Every section under ``cls`` by its TOML name (``[[...]]`` for an array
    of tables), with the names of its keys; nested sections are not keys."""
    found: dict[str, set[str]] = {}
    keys: set[str] = set()
    for name, kind in typing.get_type_hints(cls).items():
        dotted = f"{prefix}.{name}" if prefix else name
        item = typing.get_args(kind)[0] if typing.get_origin(kind) is tuple else None
        if dotted in FREE_FORM:
            continue
        if attrs.has(kind):
            found.update(sections(kind, dotted))
        elif item is not None and attrs.has(item):
            found.update({f"[{table}]": ks for table, ks in sections(item, dotted).items()})
        else:
            keys.add(name)
    if prefix and keys:
        found[f"[{prefix}]"] = keys
    return found


SECTIONS = sections(Config)


def documented(heading: str) -> str:
    """The text under the heading `` `heading` ``, down to the next heading
    (a nested section has a heading of its own)."""
    text = REFERENCE.read_text()
    headings = list(_HEADING.finditer(text))
    for match, following in zip(headings, [*headings[1:], None], strict=True):
        if match.group(1) == f"`{heading}`":
            return text[match.end() : following.start() if following else len(text)]
    raise AssertionError(f"docs/configuration.md has no heading `{heading}`")


def test_the_walk_finds_the_nested_sections() -> None:
    # The walk itself must see past the top level, or the checks below prove little.
    nested = {"[smtp.oauth]", "[[alerts.rules]]", "[alerts.email]", "[source.table.columns]"}
    assert nested <= set(SECTIONS)
    assert "threshold" in SECTIONS["[[alerts.rules]]"]
    assert "rules" not in SECTIONS["[alerts]"] and "oauth" not in SECTIONS["[smtp]"]


@pytest.mark.parametrize("heading", sorted(SECTIONS))
def test_every_key_of_the_section_has_its_row(heading: str) -> None:
    rows = set(_KEY_ROW.findall(documented(heading)))
    assert sorted(SECTIONS[heading] - rows) == []


@pytest.mark.parametrize("heading", sorted(SECTIONS))
def test_every_row_of_the_section_is_a_key(heading: str) -> None:
    rows = set(_KEY_ROW.findall(documented(heading)))
    assert sorted(rows - SECTIONS[heading]) == []


def test_the_list_at_the_top_links_every_section() -> None:
    top = REFERENCE.read_text().split("\n## ", 1)[0]
    missing = [heading for heading in SECTIONS if f"[`{heading}`](#" not in top]
    assert missing == []
