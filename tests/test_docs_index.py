"""docs/index.md is the way into the documentation: it links every page in
docs/ (the plugin authors' pages included) and names every command of the
``adaptsend`` command line, so that a new page or command is not findable
only by those who already know it exists."""

from __future__ import annotations

import re
from pathlib import Path

import click

from adaptsend.cli._main import cli

DOCS = Path(__file__).parents[1] / "docs"
INDEX = DOCS / "index.md"
_LINK = re.compile(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)")


def pages() -> set[str]:
    """Every page but the index, by its path from docs/."""
    return {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")} - {"index.md"}


def linked() -> set[str]:
    return set(_LINK.findall(INDEX.read_text()))


def commands(group: click.Group, parents: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every visible command and sub-command, as the words a person types."""
    found = []
    for name, command in group.commands.items():
        if command.hidden:
            continue
        found.append((*parents, name))
        if isinstance(command, click.Group):
            found += commands(command, (*parents, name))
    return found


def named(words: tuple[str, ...], text: str) -> bool:
    """Whether ``text`` quotes ``adaptsend WORDS``, alone or with more after it."""
    return re.search(rf"`adaptsend {' '.join(words)}(?: [^`]*)?`", text) is not None


def test_the_walks_see_what_they_must() -> None:
    # Without these the checks below could pass on nothing.
    assert {"configuration.md", "plugins/hooks.md"} <= pages()
    assert {("run",), ("db",), ("db", "upgrade")} <= set(commands(cli))


def test_every_page_is_linked() -> None:
    assert sorted(pages() - linked()) == []


def test_every_link_leads_to_a_page() -> None:
    assert sorted(linked() - pages()) == []


def test_every_command_and_sub_command_is_named() -> None:
    text = INDEX.read_text()
    missing = [" ".join(words) for words in commands(cli) if not named(words, text)]
    assert missing == []
