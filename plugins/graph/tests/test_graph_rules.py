"""The rules the Graph transport records its verdicts under are the ones
docs/graph.md lists, each with the verdict the page gives it."""

from __future__ import annotations

import re
from pathlib import Path

from adaptsend_graph._verdicts import RULES

from adaptsend import Outcome

PAGE = Path(__file__).resolve().parents[3] / "docs" / "graph.md"
#: The page's words for a verdict.
VERDICTS = {
    "sent": Outcome.SENT,
    "throttled": Outcome.THROTTLED,
    "rate": Outcome.RATE,
    "unknown": Outcome.UNKNOWN,
    "transient": Outcome.TRANSIENT,
    # An outage: the attempt is recorded transient, and no message is charged.
    "(an outage)": Outcome.TRANSIENT,
    "fatal": Outcome.FATAL,
    "fatal, after one retry": Outcome.FATAL,
    "quota": Outcome.QUOTA,
    "permanent": Outcome.PERMANENT,
}


def documented_rules() -> dict[str, Outcome]:
    """Rule -> verdict, from the table under "What Graph answers"."""
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("## What Graph answers", 1)[1].split("\n### ", 1)[0]
    found: dict[str, Outcome] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != 4 or not re.fullmatch(r"`[a-z-]+`", cells[2]):
            continue
        rule = cells[2].strip("`")
        assert rule not in found, f"{rule} is listed twice"
        found[rule] = VERDICTS[cells[1]]
    return found


def test_every_rule_the_transport_gives_is_documented_with_its_verdict() -> None:
    assert documented_rules() == RULES
