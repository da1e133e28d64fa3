"""Alerts from real runs: real SMTP on 127.0.0.1, a real SQLite file, the real
dispatcher, and sinks that record what they are given."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
import trio

from adaptsend import Agent, Alert, ConfigError, Message, Severity, hookimpl, send_batch_async
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.testing import RecordingSink, ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.databases import rows
from tests.helpers.messages import batch


def alerts_to(*sinks: str, **settings: Any) -> dict[str, Any]:
    return {"sinks": list(sinks), "drain_s": 5, **settings}


async def run_batch(config: Any, messages: list[Message], *plugins: object) -> Any:
    with Agent(config, plugins=load_plugins(entry_points=False, extra=plugins)) as agent:
        agent.enqueue(compose(m) for m in messages)
        return await agent.run()


async def test_dead_messages_raise_one_critical_alert_by_default(
    make_config: MakeConfig,
) -> None:
    sink = RecordingSink()
    with ThrottlingSMTPServer(data_reply="451 4.3.0 Temporary server error") as server:
        config = make_config(server, retry={"max_attempts": 2}, alerts=alerts_to("recording"))
        report = await run_batch(config, batch(3), sink)

    assert report.dead == 3
    [alert] = [a for a in sink.alerts if a.rule == "dead"]
    assert alert.severity is Severity.CRITICAL
    assert alert.when == "dead"
    assert alert.count >= 1
    assert alert.sending_key == f"anonymous@{server.host}:{server.port}"
    assert [(r.code, r.enhanced, r.text) for r in alert.top_replies] == [
        (451, "4.3.0", "Temporary server error")
    ]
    assert set(alert.sample_message_ids) <= {f"<report-{n}@example.com>" for n in range(3)}
    assert alert.sample_message_ids
    assert alert.counts["transient"] >= 3
    assert "dead after their last retry" in alert.summary


async def test_a_fatal_reply_is_alerted_before_the_run_returns(make_config: MakeConfig) -> None:
    sink = RecordingSink()
    reply = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."
    with ThrottlingSMTPServer(auth_reply=reply) as server:
        config = make_config(
            server,
            smtp={"username": "reports@example.com", "password": "s3cret"},
            alerts=alerts_to("recording"),
        )
        report = await run_batch(config, batch(5), sink)

    assert report.fatal is not None
    [alert] = sink.alerts
    assert (alert.rule, alert.severity) == ("fatal", Severity.CRITICAL)
    assert alert.top_replies[0].code == 535
    assert "s3cret" not in repr(alert)


async def test_a_slow_sink_never_holds_up_sending(
    make_config: MakeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    sink = RecordingSink(hold=release)
    refused = {"nobody@example.com": "550 5.1.1 User unknown"}
    rule = {"name": "refused", "when": "failed", "threshold": 1, "window_s": 60}
    try:
        with ThrottlingSMTPServer(rcpt_replies=refused) as server:
            alerts = alerts_to("recording", rules=[rule], drain_s=0.3)
            config = make_config(server, alerts=alerts)
            started = time.monotonic()
            report = await run_batch(config, batch(1, to="nobody@example.com") + batch(40), sink)
            elapsed = time.monotonic() - started
            delivered_during_the_run = sink.alerts
    finally:
        release.set()

    assert (report.failed, report.sent) == (1, 40)
    assert server.delivered == 40
    # The sink was stuck all along: the run went on, then waited only drain_s.
    assert delivered_during_the_run == []
    assert elapsed < 5
    assert "1 alert delivery(ies) still going after 0.3 s" in caplog.text
    assert [a.rule for a in sink.wait_for_alerts(1)] == ["refused"]


async def test_a_failing_sink_is_logged_and_the_others_still_deliver(
    make_config: MakeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    broken, good = RecordingSink("broken", fail=True), RecordingSink("good")
    refused = {"nobody@example.com": "550 5.1.1 User unknown"}
    rule = {"name": "refused", "when": "failed", "threshold": 1, "sinks": ["broken", "good"]}
    with ThrottlingSMTPServer(rcpt_replies=refused) as server:
        config = make_config(server, alerts=alerts_to("log", rules=[rule]))
        report = await run_batch(config, batch(1, to="nobody@example.com") + batch(5), broken, good)

    assert (report.failed, report.sent) == (1, 5)
    assert broken.attempts == 1
    assert [a.rule for a in good.alerts] == ["refused"]
    assert "alert sink broken could not deliver refused: RuntimeError" in caplog.text


async def test_queue_age_alerts_when_the_oldest_message_waits_too_long(
    make_config: MakeConfig,
) -> None:
    sink = RecordingSink()
    rule = {"name": "stuck", "when": "queue_age", "threshold": 0.3, "window_s": 1}
    with ThrottlingSMTPServer(latency_s=0.15) as server:
        config = make_config(
            server,
            limiter={"initial_cap": 1, "max_cap": 1},
            alerts=alerts_to("recording", rules=[rule]),
        )
        report = await run_batch(config, batch(6), sink)

    assert report.sent == 6
    fired = [a for a in sink.alerts if a.rule == "stuck" and not a.resolved]
    assert len(fired) == 1
    # The oldest message not sent yet when the alert was raised.
    [sample] = fired[0].sample_message_ids
    assert sample in {f"<report-{n}@example.com>" for n in range(1, 6)}
    assert "the oldest unsent message has waited" in fired[0].summary


async def test_plugins_hear_of_every_alert_through_the_alert_hook(
    make_config: MakeConfig,
) -> None:
    heard: list[Alert] = []

    class Listener:
        @hookimpl
        def adaptsend_alert(self, alert: Alert) -> None:
            heard.append(alert)

    sink = RecordingSink()
    with ThrottlingSMTPServer(data_reply="554 5.6.0 Message content rejected") as server:
        rule = {"name": "refused", "when": "failed", "threshold": 2}
        config = make_config(server, alerts=alerts_to("recording", rules=[rule]))
        await run_batch(config, batch(3), sink, Listener())

    assert [a.rule for a in heard] == ["refused"]
    assert heard == sink.alerts


async def test_the_alert_mail_goes_out_on_its_own_connection(
    make_config: MakeConfig, db_url: str
) -> None:
    refused = {"nobody@example.com": "550 5.1.1 User unknown"}
    rule = {"name": "refused", "when": "failed", "threshold": 1, "sinks": ["email"]}
    email = {"to": ["oncall@example.com"], "sender": "adaptsend@example.com"}
    with ThrottlingSMTPServer(rcpt_replies=refused) as server:
        config = make_config(server, alerts=alerts_to("log", rules=[rule], email=email))
        report = await send_batch_async(batch(1, to="nobody@example.com"), config=config)
        received = [m for m in server.received if "oncall@example.com" in m.rcpt_tos]

    assert report.run.failed == 1
    [mail] = received
    text = mail.raw.decode()
    assert "Subject: [adaptsend] [WARNING] refused on anonymous@" in text
    assert "Auto-Submitted: auto-generated" in text
    assert "550 5.1.1 User unknown" in text
    assert "<report-0@example.com>" in text
    # Not queued: the alert mail never waits behind the queue it reports on.
    assert rows(db_url, "SELECT count(*) FROM messages") == [(1,)]


def test_the_email_sink_needs_an_address_to_send_to(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer() as server:
        config = make_config(server, alerts={"sinks": ["email"]})
        with (
            Agent(config, plugins=load_plugins(entry_points=False)) as agent,
            pytest.raises(ConfigError, match=r"\[alerts.email\] to must name"),
        ):
            agent.alerts  # noqa: B018


def test_an_unknown_sink_is_a_configuration_error(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer() as server:
        config = make_config(server, alerts={"sinks": ["log", "pager"]})
        with (
            Agent(config, plugins=load_plugins(entry_points=False)) as agent,
            pytest.raises(ConfigError) as caught,
        ):
            agent.alerts  # noqa: B018
    assert str(caught.value) == (
        "[alerts]: no alert sink 'pager' is registered (known: email, log)"
    )


async def test_the_log_sink_writes_one_line_per_alert(
    make_config: MakeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="adaptsend.alerts")
    with ThrottlingSMTPServer(data_reply="554 5.6.0 Message content rejected") as server:
        rule = {"name": "refused", "when": "failed", "threshold": 1}
        config = make_config(server, alerts=alerts_to("log", rules=[rule]))
        await send_batch_async(batch(1), config=config)

    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT")]
    assert "[WARNING] refused on anonymous@" in line
    assert "554 5.6.0 Message content rejected (x1)" in line


async def test_alerting_is_watched_only_inside_the_alerting_context(
    make_config: MakeConfig,
) -> None:
    sink = RecordingSink()
    with ThrottlingSMTPServer(data_reply="554 5.6.0 Message content rejected") as server:
        rule = {"name": "refused", "when": "failed", "threshold": 1}
        config = make_config(server, alerts=alerts_to("recording", rules=[rule]))
        with Agent(config, plugins=load_plugins(entry_points=False, extra=[sink])) as agent:
            agent.enqueue(compose(m) for m in batch(2))
            await agent.dispatcher().run()
            await trio.sleep(0.1)
    assert sink.alerts == []


async def test_an_error_of_the_run_comes_out_as_it_was_raised(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer() as server:
        config = make_config(server)
        with (
            Agent(config, plugins=load_plugins(entry_points=False)) as agent,
            pytest.raises(ValueError, match="the run broke"),
        ):
            async with agent.alerting():
                raise ValueError("the run broke")


async def test_a_plugin_that_fails_on_an_alert_does_not_stop_sending(
    make_config: MakeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    class Faulty:
        @hookimpl
        def adaptsend_alert(self, alert: Alert) -> None:
            raise RuntimeError("observer bug")

    with ThrottlingSMTPServer(data_reply="554 5.6.0 Message content rejected") as server:
        rule = {"name": "refused", "when": "failed", "threshold": 1}
        config = make_config(server, alerts=alerts_to("log", rules=[rule]))
        report = await run_batch(config, batch(3), Faulty())

    assert report.failed == 3
    assert (
        "plugin 'Faulty' failed in adaptsend_alert and is skipped; sending goes on: "
        "RuntimeError: observer bug"
    ) in caplog.text
    # The plugin's bug cost only its own call: the sinks still got the alert.
    assert "ALERT [WARNING] refused on anonymous@" in caplog.text
