"""Observers that raise: one plugin's bug costs its own events, never the
others' nor the run. Unit tests on the facade, then a real run against the
throttling SMTP server on 127.0.0.1 with a real SQLite file."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest

from adaptsend import (
    Alert,
    AttemptRecord,
    Decision,
    Outcome,
    Reply,
    Severity,
    Stage,
    Status,
    hookimpl,
    send_batch_async,
)
from adaptsend.limits._records import CapChange, ChangeReason
from adaptsend.plugins._calls import LOG_EVERY_S, FailureLog
from adaptsend.plugins._manager import Plugins, load_plugins
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows
from tests.helpers.messages import batch

KEY = "reports@example.com@smtp.example.com:587"
REFUSED = Reply(code=None, text="[Errno 111] Connection refused", stage=Stage.CONNECT)


def attempt(pk: int = 1) -> AttemptRecord:
    return AttemptRecord(
        message_pk=pk,
        started_at=dt.datetime(2026, 12, 6, 2, 14, 9),
        duration_s=0.01,
        outcome=Outcome.SENT,
        reply=Reply(code=250, text="OK"),
        cap=2,
        in_flight=1,
    )


def decision(pk: int = 1) -> Decision:
    return Decision(message_pk=pk, status=Status.SENT, attempts=1, throttles=0)


class Broken:
    """Raises in every observer hook, as a plugin with a bug would."""

    @hookimpl
    def adaptsend_attempt_recorded(self, attempt: AttemptRecord) -> None:
        raise KeyError("message_pk")

    @hookimpl
    def adaptsend_decision_recorded(self, decision: Decision) -> None:
        raise KeyError("status")

    @hookimpl
    def adaptsend_cap_changed(self, change: CapChange) -> None:
        raise KeyError("cap")

    @hookimpl
    def adaptsend_alert(self, alert: Alert) -> None:
        raise KeyError("alert")

    @hookimpl
    def adaptsend_reachability_changed(self, sending_key: str) -> None:
        raise KeyError("reachability")


class Listener:
    """Hears every observer hook."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, Any]] = []

    @hookimpl
    def adaptsend_attempt_recorded(self, attempt: AttemptRecord, sending_key: str) -> None:
        self.heard.append(("attempt", attempt.message_pk))

    @hookimpl
    def adaptsend_decision_recorded(self, decision: Decision, sending_key: str) -> None:
        self.heard.append(("decision", decision.message_pk))

    @hookimpl
    def adaptsend_cap_changed(self, sending_key: str, change: CapChange) -> None:
        self.heard.append(("cap", change))

    @hookimpl
    def adaptsend_alert(self, alert: Alert) -> None:
        self.heard.append(("alert", alert.rule))

    @hookimpl
    def adaptsend_reachability_changed(
        self, sending_key: str, unreachable_since: dt.datetime | None, reply: Reply | None
    ) -> None:
        self.heard.append(("reachability", (sending_key, unreachable_since, reply)))


def with_broken(listener: Listener) -> Plugins:
    # Registered last, the broken plugin is called first: the listener after it
    # is heard only if the failure is contained.
    return load_plugins(entry_points=False, extra=[listener, Broken()], environ={})


def warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "adaptsend.plugins"]


def test_a_plugin_that_raises_is_skipped_and_the_others_are_called(
    caplog: pytest.LogCaptureFixture,
) -> None:
    listener = Listener()
    plugins = with_broken(listener)

    plugins.recorded([attempt(1)], decision(1), KEY)

    assert listener.heard == [("attempt", 1), ("decision", 1)]
    messages = [(r.levelno, r.getMessage()) for r in warnings(caplog)]
    assert messages == [
        (
            logging.WARNING,
            "plugin 'Broken' failed in adaptsend_attempt_recorded and is skipped; "
            "sending goes on: KeyError: 'message_pk'",
        ),
        (
            logging.WARNING,
            "plugin 'Broken' failed in adaptsend_decision_recorded and is skipped; "
            "sending goes on: KeyError: 'status'",
        ),
    ]
    # The first time, with the traceback that points at the plugin's code.
    assert all(r.exc_info is not None for r in warnings(caplog))


def test_a_second_failure_within_a_minute_is_not_logged_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    listener = Listener()
    plugins = with_broken(listener)

    for pk in range(1, 6):
        plugins.recorded([attempt(pk)], decision(pk), KEY)

    assert [pk for kind, pk in listener.heard if kind == "decision"] == [1, 2, 3, 4, 5]
    assert len(warnings(caplog)) == 2  # once for each hook, not five times


def test_every_observer_hook_is_contained(caplog: pytest.LogCaptureFixture) -> None:
    listener = Listener()
    plugins = with_broken(listener)
    change = CapChange(
        old_cap=4, new_cap=2, reason=ChangeReason.THROTTLE, at=1.0, ceiling=4, epoch=2
    )
    alert = Alert(
        rule="dead", when="dead", severity=Severity.CRITICAL, summary="s", sending_key=KEY
    )
    since = dt.datetime(2026, 12, 6, 2, 14, 9)

    plugins.cap_changed(KEY, change)
    plugins.alert(alert)
    plugins.reachability_changed(KEY, since, REFUSED)
    plugins.reachability_changed(KEY, None, None)

    assert listener.heard == [
        ("cap", change),
        ("alert", "dead"),
        ("reachability", (KEY, since, REFUSED)),
        ("reachability", (KEY, None, None)),
    ]
    hooks = [r.getMessage().split(" failed in ")[1].split(" ")[0] for r in warnings(caplog)]
    assert hooks == ["adaptsend_cap_changed", "adaptsend_alert", "adaptsend_reachability_changed"]


def test_a_core_observer_that_raises_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    class Faulty:
        def attempt_recorded(self, attempt: AttemptRecord, sending_key: str) -> None:
            raise ZeroDivisionError("division by zero")

        def decision_recorded(self, decision: Decision, sending_key: str) -> None:
            raise ZeroDivisionError("division by zero")

        def reachability_changed(
            self, sending_key: str, unreachable_since: dt.datetime | None, reply: Reply | None
        ) -> None:
            raise ZeroDivisionError("division by zero")

        def quota_reached(self, sending_key: str, reply: Reply) -> None:
            raise ZeroDivisionError("division by zero")

        def day_budget_changed(
            self, sending_key: str, full_since: dt.datetime | None, detail: str | None
        ) -> None:
            raise ZeroDivisionError("division by zero")

    class Counting:
        def attempt_recorded(self, attempt: AttemptRecord, sending_key: str) -> None:
            seen.append("attempt")

        def decision_recorded(self, decision: Decision, sending_key: str) -> None:
            seen.append("decision")

        def reachability_changed(
            self, sending_key: str, unreachable_since: dt.datetime | None, reply: Reply | None
        ) -> None:
            seen.append("reachability")

        def quota_reached(self, sending_key: str, reply: Reply) -> None:
            seen.append("quota")

        def day_budget_changed(
            self, sending_key: str, full_since: dt.datetime | None, detail: str | None
        ) -> None:
            seen.append("day budget")

    plugins = load_plugins(entry_points=False, environ={})
    watched = plugins.with_observer(Faulty()).with_observer(Counting())

    watched.recorded([attempt()], decision(), KEY)
    watched.reachability_changed(KEY, None, None)
    watched.quota_reached(KEY, Reply(code=452, text="4.5.3 Daily quota reached"))
    watched.day_budget_changed(KEY, None, None)

    assert seen == ["attempt", "decision", "reachability", "quota", "day budget"]
    methods = (
        "attempt_recorded",
        "decision_recorded",
        "reachability_changed",
        "quota_reached",
        "day_budget_changed",
    )
    assert [r.getMessage() for r in warnings(caplog)] == [
        f"observer Faulty failed in {method} and is skipped; sending goes on: "
        "ZeroDivisionError: division by zero"
        for method in methods
    ]


def test_after_a_minute_a_failure_is_logged_again_with_the_count_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    failures = FailureLog(clock=lambda: now[0])
    for at in (0.0, 1.0, 30.0, LOG_EVERY_S - 0.5, LOG_EVERY_S + 0.5, LOG_EVERY_S + 1.0):
        now[0] = at
        failures.failed("plugin 'auditor'", "adaptsend_decision_recorded", KeyError("status"))

    records = warnings(caplog)
    assert [r.getMessage() for r in records] == [
        "plugin 'auditor' failed in adaptsend_decision_recorded and is skipped; "
        "sending goes on: KeyError: 'status'",
        "plugin 'auditor' failed in adaptsend_decision_recorded again and is skipped; "
        "sending goes on: KeyError: 'status' "
        "(3 more failure(s) there not logged since the last message)",
    ]
    assert records[1].exc_info is None


async def test_a_run_with_a_broken_observer_sends_everything(
    make_config: MakeConfig, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    listener = Listener()
    plugins = with_broken(listener)
    with ThrottlingSMTPServer() as server:
        report = await send_batch_async(batch(20), config=make_config(server), plugins=plugins)

    assert server.delivered == 20
    assert report.run.sent == 20
    assert rows(db_url, "SELECT status, count(*) FROM messages GROUP BY status") == [("sent", 20)]
    assert sorted(pk for kind, pk in listener.heard if kind == "decision") == list(range(1, 21))
    decision_failures = [
        r for r in warnings(caplog) if "adaptsend_decision_recorded" in r.getMessage()
    ]
    assert len(decision_failures) == 1
