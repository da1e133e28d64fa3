"""The rooms of ``adaptsend`` import only the rooms below them (docs/architecture.md).

A new import that crosses a line is a design decision: change the table here
and the page together, or move the code to the room it belongs in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import adaptsend

PACKAGE = Path(adaptsend.__file__).parent

#: The shared vocabulary every room may use.
VOCABULARY = {"_models", "_errors", "hookspecs"}

#: Room -> the other rooms it may import.
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "classify": {"config"},
    "oauth": {"config", "plugins"},
    "transports": {"oauth"},
    # classify: the SMTP transport says what its replies mean (ClassifiesReplies).
    "transports.smtp": {"transports", "config", "classify", "oauth"},
    "store": {"config", "limits"},
    "limits": {"config", "store", "plugins", "transports"},
    "plugins": {"config", "alerts", "limits"},
    "sources": {"config", "store"},
    "alerts": {"config", "plugins", "sources", "store", "transports"},
    # Never classify: the judge asks the transport what a reply means.
    "engine": {"config", "limits", "plugins", "store", "transports"},
    "agent": {
        "alerts",
        # The site classifier: Agent.classify, and the default for a
        # transport that leaves its replies to adaptsend.
        "classify",
        "config",
        "engine",
        "metrics",
        "limits",
        "oauth",
        "plugins",
        "sources",
        "store",
        "transports",
    },
    "testing": {"config", "alerts", "transports"},
    "report": {"config", "store"},
    "metrics": {"config", "alerts", "store"},
}


def room_of(parts: list[str]) -> str:
    """The room of a module named by its dotted parts after ``adaptsend``."""
    if parts[:2] == ["transports", "smtp"]:
        return "transports.smtp"
    return parts[0]


def imported_rooms(path: Path) -> set[tuple[str, int]]:
    """(room, line) of every ``adaptsend`` import in the module at ``path``."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "adaptsend":
                names = [f"adaptsend.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] != "adaptsend":
                continue
            if len(parts) == 1 or parts[1] in VOCABULARY:
                target = "vocabulary" if len(parts) > 1 else "the public door"
            else:
                target = room_of(parts[1:])
            found.add((target, node.lineno))
    return found


def test_every_module_lives_in_a_room() -> None:
    loose = sorted(
        p.name for p in PACKAGE.glob("*.py") if p.stem not in VOCABULARY | {"__init__", "__main__"}
    )
    assert loose == []


def test_rooms_import_only_what_they_may() -> None:
    crossings = []
    for room in ALLOWED:
        folder = PACKAGE.joinpath(*room.split("."))
        for path in sorted(folder.rglob("*.py")):
            if room == "transports" and "smtp" in path.parts:
                continue
            for target, line in sorted(imported_rooms(path)):
                if target in ("vocabulary", room) or target in ALLOWED[room]:
                    continue
                where = path.relative_to(PACKAGE.parent)
                crossings.append(f"{where}:{line} imports {target}")
    assert crossings == []


def test_the_table_names_every_room() -> None:
    rooms = {p.parent.name for p in PACKAGE.glob("*/__init__.py")} - {"cli"}
    assert rooms <= {r.split(".")[0] for r in ALLOWED}
