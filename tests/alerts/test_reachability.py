"""The ``unreachable`` and ``unknown`` alert triggers, driven through the alert
engine as the dispatcher drives it, on a test clock."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
from collections.abc import AsyncIterator

import trio
import trio.testing

from adaptsend import (
    Agent,
    AlertRuleConfig,
    AlertsConfig,
    AttemptRecord,
    Decision,
    Outcome,
    Reply,
    Severity,
    Stage,
    Status,
    config_from_dict,
)
from adaptsend._models import utcnow
from adaptsend.alerts._engine import AlertEngine
from adaptsend.alerts._model import Alert
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.testing import RecordingSink
from tests.helpers.databases import rows
from tests.helpers.messages import batch

KEY = "reports@example.com@smtp.example.com:587"
BUSY = Reply(code=421, enhanced="4.7.0", text="Server busy, try again later", stage=Stage.CONNECT)
REFUSED = Reply(code=None, text="[Errno 111] Connection refused", stage=Stage.CONNECT)


class Clock:
    """The engine's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Watched:
    """An engine watching a run, and the alerts it raised."""

    def __init__(self, engine: AlertEngine, clock: Clock, alerts: list[Alert]) -> None:
        self.engine = engine
        self.clock = clock
        self.alerts = alerts

    async def at(self, seconds: float) -> list[Alert]:
        """Move the clock, check the rules as the engine's tick does, and
        return the alerts raised since the last call."""
        self.clock.now = seconds
        self.engine.check_all()
        return await self.raised()

    async def raised(self) -> list[Alert]:
        await trio.testing.wait_all_tasks_blocked()
        new = list(self.alerts)
        self.alerts.clear()
        return new

    def down(self, reply: Reply = BUSY, *, ago_s: float = 0.0) -> None:
        since = utcnow() - dt.timedelta(seconds=ago_s)
        self.engine.reachability_changed(KEY, since, reply)

    def up(self) -> None:
        self.engine.reachability_changed(KEY, None, None)


def unreachable_only(**rule: object) -> AlertsConfig:
    values: dict[str, object] = {"name": "unreachable", "when": "unreachable", "threshold": 60}
    values.update(rule)
    return AlertsConfig(
        defaults=False,
        sinks=(),
        rules=(AlertRuleConfig(**values),),  # type: ignore[arg-type]
    )


@contextlib.asynccontextmanager
async def watch(config: AlertsConfig | None = None) -> AsyncIterator[Watched]:
    """An engine with ``config`` (the defaults) watching one run."""
    clock, alerts = Clock(), []
    engine = AlertEngine(
        config or AlertsConfig(sinks=()), sinks={}, on_alert=alerts.append, clock=clock
    )
    async with engine.running(KEY):
        yield Watched(engine, clock, alerts)


async def test_the_default_rule_fires_once_the_server_has_not_answered_for_a_minute() -> None:
    async with watch() as watched:
        watched.down()
        assert await watched.raised() == []
        assert await watched.at(30.0) == []
        assert await watched.at(59.0) == []

        [alert] = await watched.at(61.0)

        assert (alert.rule, alert.when, alert.severity) == (
            "unreachable",
            "unreachable",
            "critical",
        )
        assert alert.sending_key == KEY
        assert alert.count == 61
        assert alert.summary == (
            "the server has not answered for 61 s (threshold 60 s); "
            "last failure: 421 4.7.0 Server busy, try again later"
        )
        assert [r.describe() for r in alert.top_replies] == [
            "421 4.7.0 Server busy, try again later (x1)"
        ]


async def test_it_repeats_once_per_cooldown_and_says_the_latest_failure() -> None:
    async with watch() as watched:
        watched.down()
        assert [a.summary for a in await watched.at(61.0)] != []
        watched.down(REFUSED)  # a later probe failed otherwise: no alert of its own
        assert await watched.raised() == []
        for seconds in (120.0, 500.0, 900.0, 960.0):
            assert await watched.at(seconds) == []

        [again] = await watched.at(961.0)

        assert again.severity is Severity.CRITICAL
        assert again.summary == (
            "the server has still not answered for 961 s (threshold 60 s); "
            "last failure: no reply [Errno 111] Connection refused"
        )
        assert await watched.at(1500.0) == []


async def test_a_resolved_notice_goes_out_when_the_server_answers_again() -> None:
    async with watch() as watched:
        watched.down()
        assert len(await watched.at(90.0)) == 1
        watched.clock.now = 95.0

        watched.up()
        [resolved] = await watched.raised()

        assert resolved.severity is Severity.RESOLVED
        assert resolved.count == 95
        assert resolved.summary == (
            "the server answers again after 95 s without answering (threshold 60 s)"
        )
        assert await watched.at(2000.0) == []


async def test_an_outage_shorter_than_the_threshold_raises_nothing() -> None:
    async with watch() as watched:
        watched.down()
        assert await watched.at(40.0) == []
        watched.up()
        assert await watched.raised() == []
        for seconds in (61.0, 120.0, 1000.0):
            assert await watched.at(seconds) == []


async def test_an_outage_is_measured_from_when_it_began() -> None:
    async with watch() as watched:
        # Reported late, or by a dispatcher that started its watch earlier.
        watched.down(ago_s=50.0)
        assert await watched.at(5.0) == []
        [alert] = await watched.at(11.0)
        assert alert.count in (61, 62)


async def test_a_rule_of_its_own_is_critical_unless_it_says_otherwise() -> None:
    async with watch(unreachable_only(threshold=5)) as w:
        w.down()
        [alert] = await w.at(6.0)
    assert alert.severity is Severity.CRITICAL


async def test_a_rule_of_its_own_sets_the_threshold_and_severity() -> None:
    config = unreachable_only(threshold=5, severity="warning", cooldown_s=10)
    async with watch(config) as w:
        w.down()
        assert await w.at(4.0) == []
        [fired] = await w.at(5.5)
        [repeated] = await w.at(16.0)
    assert fired.severity is repeated.severity is Severity.WARNING
    assert fired.summary.startswith("the server has not answered for 6 s (threshold 5 s)")


async def test_an_outage_left_at_the_end_of_a_run_is_not_reported_by_the_next() -> None:
    async with watch(unreachable_only()) as w:
        w.down()
        assert len(await w.at(61.0)) == 1
    engine, alerts = w.engine, w.alerts
    # The next run finds the server answering: no word of the old outage.
    async with engine.running(KEY):
        w.clock.now = 2000.0
        engine.check_all()
        await trio.testing.wait_all_tasks_blocked()
    assert alerts == []


async def test_reachability_outside_a_run_is_not_watched() -> None:
    async with watch(unreachable_only()) as w:
        pass
    w.down()
    async with w.engine.running(KEY):
        w.clock.now = 100.0
        w.engine.check_all()
        await trio.testing.wait_all_tasks_blocked()
    assert w.alerts == []


def unknown_attempt(pk: int) -> AttemptRecord:
    return AttemptRecord(
        message_pk=pk,
        started_at=dt.datetime(2026, 12, 6, 2, 14, 9),
        duration_s=30.0,
        outcome=Outcome.UNKNOWN,
        reply=Reply(code=None, text="timed out after the final dot", stage=Stage.DATA),
        cap=2,
        in_flight=2,
    )


async def test_unknown_attempts_are_counted_and_a_rule_may_alert_on_them() -> None:
    rule = AlertRuleConfig(name="duplicates", when="unknown", threshold=2, window_s=60)
    async with watch(AlertsConfig(sinks=(), rules=(rule,))) as w:
        w.engine.attempt_recorded(unknown_attempt(1), KEY)
        assert await w.raised() == []
        w.clock.now = 1.0
        w.engine.attempt_recorded(unknown_attempt(2), KEY)
        [alert] = await w.raised()

    assert (alert.rule, alert.when, alert.severity) == ("duplicates", "unknown", "warning")
    assert alert.counts == {"unknown": 2}
    assert alert.summary == (
        "2 attempt(s) that got no final reply and may have been delivered in the last 60 s "
        "(threshold 2)"
    )


async def test_other_alerts_count_unknown_attempts_too() -> None:
    rule = AlertRuleConfig(name="refused", when="failed", threshold=1, window_s=60)
    async with watch(AlertsConfig(defaults=False, sinks=(), rules=(rule,))) as w:
        w.engine.attempt_recorded(unknown_attempt(1), KEY)
        w.engine.decision_recorded(
            Decision(message_pk=2, status=Status.FAILED, attempts=1, throttles=0), KEY
        )
        [alert] = await w.raised()
    assert alert.counts == {"unknown": 1, "failed": 1}


def test_the_triggers_load_from_the_configuration() -> None:
    config = config_from_dict(
        {
            "alerts": {
                "rules": [
                    {"name": "duplicates", "when": "unknown", "threshold": 1},
                    {"name": "unreachable", "when": "unreachable", "threshold": 300},
                ]
            }
        }
    )
    rules = {r.name: r for r in config.alerts.active_rules()}
    assert (rules["duplicates"].when, rules["unreachable"].threshold) == ("unknown", 300)


async def test_a_server_that_refuses_every_connection_is_alerted_during_the_run(
    db_url: str,
) -> None:
    # A port nobody listens on: every connection is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = RecordingSink()
    rule = {"name": "unreachable", "when": "unreachable", "threshold": 0.3, "window_s": 2}
    config = config_from_dict(
        {
            "store": {"url": db_url},
            "smtp": {"host": "127.0.0.1", "port": port, "timeout_s": 2},
            "retry": {"base_delay_s": 0.05, "max_delay_s": 0.2},
            "run": {"outage_wait_s": 1.5},
            "alerts": {"sinks": ["recording"], "drain_s": 2, "rules": [rule]},
        }
    )
    with Agent(config, plugins=load_plugins(entry_points=False, extra=[sink])) as agent:
        agent.enqueue(compose(m) for m in batch(3))
        report = await agent.run()

    assert report.sent == 0
    assert rows(db_url, "SELECT status, count(*) FROM messages GROUP BY status") == [("queued", 3)]
    [alert] = sink.alerts
    assert (alert.rule, alert.severity) == ("unreachable", Severity.CRITICAL)
    assert alert.summary.startswith("the server has not answered for ")
    assert "Connection refused" in alert.summary
