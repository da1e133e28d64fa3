"""Taking turns at a shared cap: when an agent leaves a slot to another one.

No agent should wait for long while another holds many slots: a waiting worker
may be holding a message whose lease must not run out. An agent that finds no
free slot says so in the store, with how many it holds (a *want*). An agent
holding at least two more gives one back after its current message, and one
holding just one more after holding it for ``turn_s``; meanwhile it leaves
free slots to the waiting agent.
"""

from __future__ import annotations

import math

import trio

from adaptsend.limits._mirror import BudgetMirror
from adaptsend.store._budget_api import Want

#: Seconds an agent keeps a slot that an agent holding one fewer is waiting
#: for: with more agents than the cap, each gets a turn this often.
TURN_S = 30.0
#: Refreshes after which another agent's want, unchanged, counts as gone: a
#: waiting agent says it again at each attempt, about once per refresh.
_WANT_REFRESHES = 3


class Turns:
    """What ``holder`` owes the other agents on the budget ``mirror`` reads."""

    def __init__(
        self, *, mirror: BudgetMirror, holder: str, refresh_s: float, turn_s: float
    ) -> None:
        self._mirror = mirror
        self._holder = holder
        self._refresh_s = refresh_s
        self._turn_s = turn_s
        # Whom this agent last gave a slot back to (and how many that one held
        # then), and when: the one slot it gave is not given again until that
        # agent took it (and holds one more) or a turn has passed.
        self._given_to: tuple[str, int] | None = None
        self._given_at = -math.inf

    def rival(self) -> Want | None:
        """Another agent that said lately that it found no free slot."""
        want = self._mirror.wanted
        if want is None or want.holder == self._holder:
            return None
        # Its clock is not ours: a want is recent while it keeps changing.
        age = trio.current_time() - self._mirror.wanted_seen
        return want if age <= _WANT_REFRESHES * self._refresh_s else None

    def give_now(self, *, held: int, taken_at: float) -> bool:
        """Whether the slot taken at ``taken_at`` (``trio.current_time()``),
        one of the ``held`` this agent holds, goes to a waiting agent now. One
        slot per want: saying yes remembers that it was given."""
        rival = self.rival()
        if rival is None or rival.held >= held:
            return False
        now = trio.current_time()
        given = (rival.holder, rival.held) == self._given_to
        if given and now - self._given_at < self._turn_s:
            return False
        if held - rival.held < 2 and now - taken_at < self._turn_s:
            return False
        self._given_to, self._given_at = (rival.holder, rival.held), now
        return True

    def stepping_back(self, *, held: int) -> bool:
        """Whether to leave free slots to an agent waiting with as few or fewer."""
        rival = self.rival()
        return rival is not None and rival.held <= held
