"""One alert rule's memory: the events in its sliding window, whether it is
firing, and when it last said so.

Pure and synchronous: the engine feeds events (or, for the rules that measure
seconds, the measure) and the time, and acts on what :meth:`RuleState.evaluate`
returns. Times are seconds on any monotonic clock.
"""

from __future__ import annotations

import collections
import enum
import math
from collections.abc import Iterable

import attrs

from adaptsend._models import Reply
from adaptsend.alerts._model import Severity, TopReply
from adaptsend.config._alerts import SPELLS, AlertRuleConfig

#: How many Message-IDs an alert shows as examples, and how many replies.
SAMPLE_SIZE = 5
TOP_REPLIES = 3
#: Events a window keeps at most; past this the count saturates rather than
#: memory growing without bound in a pathological burst.
MAX_EVENTS = 100_000


class Change(enum.Enum):
    #: The rule crossed its threshold.
    FIRED = "fired"
    #: Still over the threshold a cooldown after the last alert.
    REPEATED = "repeated"
    #: Back below the threshold after firing.
    RESOLVED = "resolved"


@attrs.frozen(kw_only=True)
class Event:
    at: float
    message_pk: int | None
    reply: Reply | None


@attrs.frozen(kw_only=True)
class Draft:
    """What the engine needs to turn a change into an :class:`Alert`."""

    rule: AlertRuleConfig
    change: Change
    severity: Severity
    count: int
    top_replies: tuple[TopReply, ...]
    sample_pks: tuple[int, ...]
    #: For queue_age: the Message-ID of the oldest unsent message.
    sample_message_ids: tuple[str, ...] = ()
    #: For unreachable: the latest failure to reach the server.
    last_reply: Reply | None = None
    #: For day_budget: how far the budget was used when it was found used up.
    detail: str | None = None


class RuleState:
    """Counts one rule's events over its window and decides when to speak."""

    def __init__(self, rule: AlertRuleConfig) -> None:
        self.rule = rule
        self._events: collections.deque[Event] = collections.deque(maxlen=MAX_EVENTS)
        self._firing = False
        self._last_alert_at = -math.inf
        self._age = 0.0
        self._oldest_id: str | None = None
        self._spell_began: float | None = None
        self._spell_lasted = 0.0
        self._last_reply: Reply | None = None
        self._detail: str | None = None

    @property
    def firing(self) -> bool:
        return self._firing

    def add(self, event: Event) -> None:
        self._events.append(event)

    def measure_age(self, age_s: float, message_id: str | None) -> None:
        """For a queue_age rule: the oldest unsent message's age now."""
        self._age = age_s
        self._oldest_id = message_id

    def measure_spell(
        self,
        began: float | None,
        now: float,
        *,
        reply: Reply | None = None,
        detail: str | None = None,
    ) -> None:
        """For unreachable and day_budget rules: the spell (the server out of
        reach, the budget used up) began at ``began`` (on the clock
        :meth:`evaluate` is given), with ``reply`` the latest failure or
        ``detail`` what was found; or, with None, it ended as of ``now``."""
        known = self._spell_began
        if began is None and known is not None:
            self._spell_lasted = max(now - known, 0.0)
        elif began is not None and known is not None:
            # Told again during the same spell: it began when first told.
            began = min(began, known)
        self._spell_began = began
        if reply is not None:
            self._last_reply = reply
        if detail is not None:
            self._detail = detail

    def forget_spell(self) -> None:
        """Set aside a spell without a notice: the run that reported it is
        over, and a later run reports again whatever it finds."""
        self._spell_began = None
        self._firing = False

    def level(self, now: float) -> float:
        """Events in the window ending at ``now``, or the measured seconds."""
        if self.rule.when == "queue_age":
            return self._age
        if self.rule.when in SPELLS:
            began = self._spell_began
            return 0.0 if began is None else max(now - began, 0.0)
        horizon = now - self.rule.window_s
        while self._events and self._events[0].at <= horizon:
            self._events.popleft()
        return len(self._events)

    def evaluate(self, now: float) -> Draft | None:
        """Whether the rule must say something now, and what."""
        level = self.level(now)
        over = level >= self.rule.threshold
        if over and not self._firing:
            change = Change.FIRED
        elif over and now - self._last_alert_at >= self.rule.cooldown_s:
            change = Change.REPEATED
        elif not over and self._firing:
            change = Change.RESOLVED
        else:
            return None
        self._firing = over
        if over:
            self._last_alert_at = now
        return self._draft(change, level)

    def _draft(self, change: Change, level: float) -> Draft:
        severity = Severity.RESOLVED if change is Change.RESOLVED else self._severity()
        samples = (self._oldest_id,) if self._oldest_id and change is not Change.RESOLVED else ()
        replies = [e.reply for e in self._events if e.reply is not None]
        if self.rule.when == "unreachable":
            replies = [self._last_reply] if self._last_reply is not None else []
        if self.rule.when in SPELLS and change is Change.RESOLVED:
            # What a person wants to know now is how long it lasted.
            level = self._spell_lasted
        return Draft(
            rule=self.rule,
            change=change,
            severity=severity,
            count=round(level),
            top_replies=top_replies(replies),
            sample_pks=self._sample_pks(),
            sample_message_ids=samples,
            last_reply=self._last_reply if self.rule.when == "unreachable" else None,
            detail=self._detail if self.rule.when == "day_budget" else None,
        )

    def _severity(self) -> Severity:
        return Severity(self.rule.severity_in_force())

    def _sample_pks(self) -> tuple[int, ...]:
        # The latest distinct messages: the ones a person can still look at.
        found: dict[int, None] = {}
        for event in reversed(self._events):
            if event.message_pk is not None:
                found.setdefault(event.message_pk)
                if len(found) == SAMPLE_SIZE:
                    break
        return tuple(found)


def top_replies(replies: Iterable[Reply]) -> tuple[TopReply, ...]:
    """The most common replies, most common first."""
    counted = collections.Counter((r.code, r.enhanced, r.text) for r in replies)
    return tuple(
        TopReply(code=code, enhanced=enhanced, text=text, count=n)
        for (code, enhanced, text), n in counted.most_common(TOP_REPLIES)
    )
