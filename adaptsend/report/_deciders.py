"""Whose limit a row of the limits' history describes: one per sending key,
or one per agent.

Every agent writes the changes it decides (see
``adaptsend.store._cap_change_api``). Agents that share a key's connection
cap through the store write one row per decision of that one cap, so the
key's rows, whoever wrote them, make one line. Agents with caps of their own
(a SQLite store without ``[limiter] shared``), and every agent's message
rate, which is never shared, each write the moves of a limit of their own:
drawn as one line, two caps moving side by side would read as one cap
jumping between them.

The rows do not say whether the cap was shared, so the shape of the rows
decides. A key's rows stand for limits of their own, one line per agent,
when all of these hold:

* at least two agents wrote them, and the time from one agent's first row
  to its last overlaps another's: the agents ran together. Runs one after
  another (cron) each start afresh, but one limit held at a time, so they
  make one line;
* each agent's own rows follow on from one another (each starts from the
  value the agent's row before it left): nothing but that agent moved its
  limit;
* the rows in time order, across agents, do not follow on from one another
  as a shared cap's decisions do.

Otherwise the key's rows make one line.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence

import attrs

from adaptsend.store._cap_change_api import CapChangeRecord


@attrs.frozen(kw_only=True)
class Decided:
    """The rows of one line: one sending key, and one agent when the key's
    agents each had a limit of their own (``agent`` None otherwise)."""

    sending_key: str
    agent: str | None
    rows: tuple[CapChangeRecord, ...]


def by_decider(rows: Sequence[CapChangeRecord]) -> list[Decided]:
    """``rows`` (one kind of limit, oldest first) in lines, in the order of
    each line's first row."""
    keys: dict[str, list[CapChangeRecord]] = {}
    for row in rows:
        keys.setdefault(row.sending_key, []).append(row)
    lines: list[Decided] = []
    for key, of_key in keys.items():
        agents = _per_agent(of_key)
        if _limits_of_their_own(of_key, agents):
            lines.extend(
                Decided(sending_key=key, agent=agent, rows=tuple(own))
                for agent, own in agents.items()
            )
        else:
            lines.append(Decided(sending_key=key, agent=None, rows=tuple(of_key)))
    return sorted(lines, key=lambda line: line.rows[0].changed_at)


def _per_agent(rows: Sequence[CapChangeRecord]) -> dict[str, list[CapChangeRecord]]:
    agents: dict[str, list[CapChangeRecord]] = {}
    for row in rows:
        agents.setdefault(row.agent, []).append(row)
    return agents


def _limits_of_their_own(
    rows: Sequence[CapChangeRecord], agents: dict[str, list[CapChangeRecord]]
) -> bool:
    if len(agents) < 2 or not _ran_together(agents.values()):
        return False
    return all(_follow_on(own) for own in agents.values()) and not _follow_on(rows)


def _ran_together(agents: Iterable[Sequence[CapChangeRecord]]) -> bool:
    """Whether one agent's first row came before another's last one."""
    # Sorted by first rows, an agent whose time another's overlaps also
    # overlaps the time of the agent sorted right after it.
    spans = sorted((own[0].changed_at, own[-1].changed_at) for own in agents)
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


def _follow_on(rows: Sequence[CapChangeRecord]) -> bool:
    """Whether each row starts from the value the row before it left."""
    return all(_same(before.new_value, row.old_value) for before, row in itertools.pairwise(rows))


def _same(left: float | None, right: float | None) -> bool:
    # A rate is computed, and a database may hand back its last digit changed.
    if left is None or right is None:
        return left is right
    return math.isclose(left, right, rel_tol=1e-9)
