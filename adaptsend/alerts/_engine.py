"""The alert engine: watches the recorded outcomes of a run and raises alerts.

It observes every recorded attempt and decision (the dispatcher calls it right
after each batch is committed, in the trio thread, so it only counts and
decides there), checks its rules again on a short tick so that a quiet spell
resolves them and an outage's length grows, polls the store for the queue's
age when a rule asks, and hands alerts to :class:`Deliveries` so that sinks
never hold up sending.

Events are watched only while :meth:`AlertEngine.running` is open around a run.
The rules' memory lives as long as the engine: an agent that runs again (with
``--follow`` or from a program) goes on with the same windows and cooldowns.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping

import trio

from adaptsend._models import AttemptRecord, Decision, Outcome, Reply, Status, utcnow
from adaptsend.alerts._delivery import Deliveries
from adaptsend.alerts._model import Alert, AlertSink
from adaptsend.alerts._rules import Change, Draft, Event, RuleState
from adaptsend.config._alerts import SPELLS, AlertsConfig
from adaptsend.store._thread import StoreThread

log = logging.getLogger("adaptsend.alerts")

_ATTEMPT_TRIGGERS = {
    Outcome.THROTTLED: "throttled",
    # A "too fast" reply is a throttle to the person watching: the provider
    # pushes back on load; only the budget that it cuts differs.
    Outcome.RATE: "throttled",
    Outcome.TRANSIENT: "transient",
    Outcome.UNKNOWN: "unknown",
    Outcome.QUOTA: "quota",
    Outcome.FATAL: "fatal",
}
_DECISION_TRIGGERS = {Status.FAILED: "failed", Status.DEAD: "dead"}

#: Bounds of the tick that re-checks every rule: often enough that a rule with
#: a short window resolves on time, rarely enough to cost nothing.
_MIN_TICK_S, _MAX_TICK_S = 0.05, 5.0
#: The queue's age is read from the store at most this often.
_MAX_AGE_POLL_S = 30.0


class Tally:
    """Outcomes per second over the longest window, for an alert's ``counts``."""

    def __init__(self, horizon_s: float) -> None:
        self._horizon = horizon_s
        self._buckets: collections.deque[tuple[int, collections.Counter[str]]] = collections.deque()

    def add(self, kind: str, now: float) -> None:
        second = int(now)
        if not self._buckets or self._buckets[-1][0] != second:
            self._buckets.append((second, collections.Counter()))
            while self._buckets and self._buckets[0][0] < now - self._horizon - 1:
                self._buckets.popleft()
        self._buckets[-1][1][kind] += 1

    def since(self, start: float) -> dict[str, int]:
        total: collections.Counter[str] = collections.Counter()
        for second, counter in self._buckets:
            if second >= int(start):
                total.update(counter)
        return dict(total)


class AlertEngine:
    """Rules, their sinks, and the run they watch. Used from the trio thread."""

    def __init__(
        self,
        config: AlertsConfig,
        *,
        sinks: Mapping[str, AlertSink],
        store: StoreThread | None = None,
        on_alert: Callable[[Alert], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        # Not trio's clock: the rules' memory outlives one trio.run, and each
        # run's clock has its own origin.
        self._clock = clock
        self.sinks = dict(sinks)
        self._store = store
        self._on_alert = on_alert
        rules = config.active_rules()
        self._states = [RuleState(rule) for rule in rules]
        self._by_trigger: dict[str, list[RuleState]] = collections.defaultdict(list)
        for state in self._states:
            self._by_trigger[state.rule.when].append(state)
        windows = [rule.window_s for rule in rules] or [1.0]
        self._tally = Tally(max(windows))
        # The shortest window sets the pace: its rule must resolve on time.
        self._tick = min(max(min(windows) / 20, _MIN_TICK_S), _MAX_TICK_S)
        self._deliveries: Deliveries | None = None
        self._sending_key = ""

    # -- observing (trio thread, must not block) -----------------------------

    def attempt_recorded(self, attempt: AttemptRecord, sending_key: str) -> None:
        if self._deliveries is None:
            return
        now = self._clock()
        self._tally.add(attempt.outcome.value, now)
        trigger = _ATTEMPT_TRIGGERS.get(attempt.outcome)
        if trigger is not None:
            self._observe(
                trigger, Event(at=now, message_pk=attempt.message_pk, reply=attempt.reply)
            )

    def decision_recorded(self, decision: Decision, sending_key: str) -> None:
        if self._deliveries is None:
            return
        trigger = _DECISION_TRIGGERS.get(decision.status)
        if trigger is not None:
            now = self._clock()
            self._tally.add(trigger, now)
            event = Event(at=now, message_pk=decision.message_pk, reply=decision.last_reply)
            self._observe(trigger, event)

    def reachability_changed(
        self, sending_key: str, unreachable_since: dt.datetime | None, reply: Reply | None
    ) -> None:
        self._measure_spell("unreachable", unreachable_since, reply=reply)

    def quota_reached(self, sending_key: str, reply: Reply) -> None:
        """The attempts that met the quota are counted as they are recorded."""

    def day_budget_changed(
        self, sending_key: str, full_since: dt.datetime | None, detail: str | None
    ) -> None:
        self._measure_spell("day_budget", full_since, detail=detail)

    def _measure_spell(
        self,
        trigger: str,
        since: dt.datetime | None,
        *,
        reply: Reply | None = None,
        detail: str | None = None,
    ) -> None:
        """A spell the ``trigger`` rules measure began at ``since`` (naive UTC,
        the dispatcher's wall clock), or (None) ended now."""
        if self._deliveries is None:
            return
        now = self._clock()
        began = None
        if since is not None:
            # Moved onto this engine's clock.
            began = now - max((utcnow() - since).total_seconds(), 0.0)
        for state in self._by_trigger.get(trigger, ()):
            state.measure_spell(began, now, reply=reply, detail=detail)
            self._check(state, now)

    def _observe(self, trigger: str, event: Event) -> None:
        for state in self._by_trigger.get(trigger, ()):
            state.add(event)
            self._check(state, event.at)

    # -- the run -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self, sending_key: str) -> AsyncIterator[None]:
        """Watch the run inside; on the way out check the rules once more and
        wait up to ``[alerts] drain_s`` for the alerts still being delivered."""
        if self._deliveries is not None:
            raise RuntimeError("the alert engine is already watching a run")
        deliveries = Deliveries(self.sinks)
        self._sending_key = sending_key
        try:
            async with deliveries.open(drain_s=self.config.drain_s), trio.open_nursery() as watch:
                self._deliveries = deliveries
                watch.start_soon(self._tick_loop)
                if self._by_trigger.get("queue_age"):
                    watch.start_soon(self._age_loop)
                try:
                    yield
                finally:
                    watch.cancel_scope.cancel()
                    self.check_all()
                    self._deliveries = None
                    # An outage (or a used-up day) still going is the next
                    # run's to report: a run that finds the server answering
                    # hears nothing of it.
                    for trigger in SPELLS:
                        for state in self._by_trigger.get(trigger, ()):
                            state.forget_spell()
        except BaseExceptionGroup as group:
            # The run's own error, wrapped by our nurseries on its way out:
            # the caller gets it as the run raised it.
            sole = _sole(group)
            if sole is None:
                raise
            raise sole from sole.__cause__

    def check_all(self) -> None:
        now = self._clock()
        for state in self._states:
            self._check(state, now)

    async def _tick_loop(self) -> None:
        while True:
            await trio.sleep(self._tick)
            self.check_all()

    async def _age_loop(self) -> None:
        store = self._store
        if store is None:
            return
        states = self._by_trigger["queue_age"]
        interval = min(min(s.rule.threshold for s in states) / 4, _MAX_AGE_POLL_S)
        while True:
            oldest = await store.call(store.store.oldest_unsent, sending_key=self._sending_key)
            age = (utcnow() - oldest.queued_at).total_seconds() if oldest else 0.0
            for state in states:
                state.measure_age(age, oldest.message_id if oldest else None)
                self._check(state, self._clock())
            await trio.sleep(max(interval, _MIN_TICK_S))

    def _check(self, state: RuleState, now: float) -> None:
        draft = state.evaluate(now)
        deliveries = self._deliveries
        if draft is not None and deliveries is not None:
            counts = self._tally.since(now - draft.rule.window_s)
            # Stamped now: the rule decided now, whatever the look-up below costs.
            deliveries.spawn(self._raise, deliveries, draft, counts, dt.datetime.now(dt.UTC))

    # -- raising -------------------------------------------------------------

    async def _raise(
        self,
        deliveries: Deliveries,
        draft: Draft,
        counts: dict[str, int],
        raised_at: dt.datetime,
    ) -> None:
        ids = draft.sample_message_ids or await self._message_ids(draft.sample_pks)
        alert = Alert(
            raised_at=raised_at,
            rule=draft.rule.name,
            when=draft.rule.when,
            severity=draft.severity,
            summary=summary(draft),
            sending_key=self._sending_key,
            count=draft.count,
            threshold=draft.rule.threshold,
            window_s=draft.rule.window_s,
            counts=counts,
            top_replies=draft.top_replies,
            sample_message_ids=ids,
        )
        if self._on_alert is not None:
            self._on_alert(alert)
        deliveries.start(alert, self.config.sinks_of(draft.rule))

    async def _message_ids(self, pks: tuple[int, ...]) -> tuple[str, ...]:
        if not pks or self._store is None:
            return ()
        store = self._store
        try:
            states = await store.call(store.store.states, list(pks))
        except Exception as exc:  # a sample is a courtesy; the alert goes out regardless
            log.warning("could not read sample Message-IDs for an alert: %s", exc)
            return ()
        return tuple(s.message_id for s in states)


def _sole(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception inside nested groups, or None if there are several."""
    inner: BaseException = group
    while isinstance(inner, BaseExceptionGroup):
        if len(inner.exceptions) != 1:
            return None
        inner = inner.exceptions[0]
    return inner


_NOUNS = {
    "throttled": "throttled attempt(s)",
    "transient": "temporary failure(s)",
    "failed": "message(s) failed permanently",
    "dead": "message(s) dead after their last retry",
    "fatal": "fatal reply(ies) that stop the run",
    "unknown": "attempt(s) that got no final reply and may have been delivered",
    "quota": "quota reply(ies): the sending key pauses until the quota clears",
}


def summary(draft: Draft) -> str:
    """One sentence: what was counted, against what threshold."""
    rule = draft.rule
    if rule.when == "unreachable":
        return _outage_summary(draft)
    if rule.when == "day_budget":
        return _day_summary(draft)
    if rule.when == "queue_age":
        measured = f"the oldest unsent message has waited {draft.count} s"
        limit = f"{rule.threshold:g} s"
    else:
        measured = f"{draft.count} {_NOUNS[rule.when]} in the last {rule.window_s:g} s"
        limit = f"{rule.threshold:g}"
    if draft.change is Change.RESOLVED:
        return f"{measured}, back below the threshold of {limit}"
    if draft.change is Change.REPEATED:
        return f"{measured}, still over the threshold of {limit}"
    return f"{measured} (threshold {limit})"


def _outage_summary(draft: Draft) -> str:
    """For how long the server has not answered, and its last failure."""
    limit = f"threshold {draft.rule.threshold:g} s"
    if draft.change is Change.RESOLVED:
        return f"the server answers again after {draft.count} s without answering ({limit})"
    still = "still " if draft.change is Change.REPEATED else ""
    measured = f"the server has {still}not answered for {draft.count} s ({limit})"
    if draft.last_reply is None:
        return measured
    return f"{measured}; last failure: {draft.last_reply.describe()}"


def _day_summary(draft: Draft) -> str:
    """For how long the daily recipient budget has had no room, and how far it is used."""
    limit = f"threshold {draft.rule.threshold:g} s"
    if draft.change is Change.RESOLVED:
        return f"the daily recipient budget has room again after {draft.count} s used up ({limit})"
    still = "still " if draft.change is Change.REPEATED else ""
    found = draft.detail or "the daily recipient budget is used up"
    return f"{found}; messages have {still}waited {draft.count} s for room ({limit})"
