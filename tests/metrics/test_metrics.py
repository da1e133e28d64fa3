"""Prometheus metrics from real runs: real SMTP on 127.0.0.1 that hides a
connection limit, the real dispatcher, and ``/metrics`` scraped over real HTTP
while the run lasts."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import trio

from adaptsend import Agent, Config
from adaptsend.plugins._manager import load_plugins
from adaptsend.sources._compose import compose
from adaptsend.testing import ThrottlingSMTPServer
from tests.helpers.agent_config import MakeConfig
from tests.helpers.messages import batch
from tests.helpers.metrics_scrape import Scrape, naming_problems, scrape

DOCS = Path(__file__).resolve().parents[2] / "docs"
INITIAL_CAP = 4
LIMIT = 2


def metrics_config(
    make_config: MakeConfig,
    server: ThrottlingSMTPServer,
    *,
    limiter: dict[str, Any] | None = None,
    **extra: Any,
) -> Config:
    # No probe within the run: once cut, the cap stays below where it began.
    fixed = {"initial_cap": INITIAL_CAP, "max_cap": INITIAL_CAP, "probe_interval_s": 600}
    return make_config(
        server,
        limiter={**fixed, **(limiter or {})},
        metrics={"port": 0, "queue_interval_s": 0.05},
        **extra,
    )


async def test_a_scrape_during_a_run_shows_the_cap_fall_and_counts_that_add_up(
    make_config: MakeConfig,
) -> None:
    rule = {"name": "throttling", "when": "throttled", "threshold": 1}
    scrapes: list[Scrape] = []
    with ThrottlingSMTPServer(limit=LIMIT, latency_s=0.02) as server:
        config = metrics_config(make_config, server, alerts={"rules": [rule], "drain_s": 5})
        with Agent(config, plugins=load_plugins(entry_points=False)) as agent:
            agent.enqueue(compose(m) for m in batch(150))
            async with agent.alerting(), agent.keeping_metrics():
                endpoint = agent.metrics_endpoint
                assert endpoint is not None and endpoint.address == "127.0.0.1"
                dispatcher = agent.dispatcher()
                before = await trio.to_thread.run_sync(scrape, endpoint.url)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(_scrape_until_cancelled, endpoint.url, scrapes)
                    report = await dispatcher.run()
                    nursery.cancel_scope.cancel()
                after = await trio.to_thread.run_sync(scrape, endpoint.url)
        key = agent.sending_key

    assert report.sent == 150 and report.throttled >= 1
    # Before the run, the cap the limiter starts with; during it, the cap
    # below that once a refusal was recorded.
    assert before.value("adaptsend_connection_cap", sending_key=key) == INITIAL_CAP
    assert scrapes, "no scrape finished during the run"
    throttled = [s for s in scrapes if s.value("adaptsend_attempts_total", outcome="throttled")]
    assert throttled, "no scrape saw the refusal"
    assert all(s.value("adaptsend_connection_cap") < INITIAL_CAP for s in throttled)
    assert any(s.value("adaptsend_open_connections") >= 1 for s in scrapes)
    assert any(s.value("adaptsend_sends_in_flight") >= 1 for s in scrapes)
    # The counters add up to the run's own summary.
    outcomes = {
        outcome: after.value("adaptsend_attempts_total", sending_key=key, outcome=outcome)
        for outcome in ("sent", "throttled")
    }
    assert outcomes == {"sent": report.sent, "throttled": report.throttled}
    assert after.value("adaptsend_attempts_total") == report.attempts
    assert after.value("adaptsend_attempts_total", reply_class="4xx") == report.throttled
    assert after.value("adaptsend_messages_decided_total", status="sent") == report.sent
    assert after.value("adaptsend_send_duration_seconds_count") == report.attempts
    assert after.value("adaptsend_send_duration_seconds_sum") > 0
    assert after.value("adaptsend_connection_cap") == report.final_cap
    assert after.value("adaptsend_alerts_total", rule="throttling", severity="warning") >= 1
    assert after.value("adaptsend_paused", reason="outage") == 0
    # The queue's depth, sampled: every message is counted in some status.
    for s in [before, *scrapes, after]:
        if s.has("adaptsend_queue_messages"):
            assert s.value("adaptsend_queue_messages") == 150
    assert any(s.value("adaptsend_queue_messages", status="sent") > 0 for s in scrapes)


async def _scrape_until_cancelled(url: str, scrapes: list[Scrape]) -> None:
    while True:
        scrapes.append(await trio.to_thread.run_sync(scrape, url))
        await trio.sleep(0.02)


async def test_an_outage_shows_as_a_pause_with_its_reason(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer(refuse_greetings=True) as server:
        config = metrics_config(make_config, server, run={"outage_wait_s": 0.3})
        with Agent(config, plugins=load_plugins(entry_points=False)) as agent:
            agent.enqueue(compose(m) for m in batch(3))
            report = await agent.run()
            exposition = Scrape.parse(agent.metrics.exposition().decode())

    assert report.deferred == 3
    assert exposition.value("adaptsend_pauses_total", reason="outage") == 1
    assert exposition.value("adaptsend_pauses_total", reason="quota") == 0
    # The run ended out of reach: the last run of the key stays in view.
    assert exposition.value("adaptsend_paused", reason="outage") == 1
    assert exposition.value("adaptsend_paused", reason="quota") == 0


async def test_a_used_up_day_shows_as_a_pause_with_its_reason(make_config: MakeConfig) -> None:
    with ThrottlingSMTPServer() as server:
        config = metrics_config(make_config, server, limiter={"max_recipients_per_day": 2})
        with Agent(config, plugins=load_plugins(entry_points=False)) as agent:
            agent.enqueue(compose(m) for m in batch(3))
            report = await agent.run()
            exposition = Scrape.parse(agent.metrics.exposition().decode())

    assert (server.delivered, report.deferred) == (2, 1)
    assert exposition.value("adaptsend_pauses_total", reason="day_budget") == 1
    assert exposition.value("adaptsend_pauses_total", reason="outage") == 0
    # The run ended with the day used up: the last run of the key stays in view.
    assert exposition.value("adaptsend_paused", reason="day_budget") == 1
    assert exposition.value("adaptsend_paused", reason="outage") == 0


async def test_two_agents_in_one_program_keep_their_own_metrics(
    make_config: MakeConfig,
) -> None:
    with ThrottlingSMTPServer() as server:
        config = make_config(server)
        plugins = load_plugins(entry_points=False)
        with Agent(config, plugins=plugins) as one, Agent(config, plugins=plugins) as other:
            # Without [metrics] port, an agent's metrics are made on first use.
            registries = {one.metrics.registry, other.metrics.registry}
            one.enqueue(compose(m) for m in batch(3))
            await one.run()
            other.enqueue(compose(m) for m in batch(5)[3:])
            await other.run()
            ones, others = (Scrape.parse(a.metrics.exposition().decode()) for a in (one, other))

    assert len(registries) == 2
    assert ones.value("adaptsend_attempts_total", outcome="sent") == 3
    assert others.value("adaptsend_attempts_total", outcome="sent") == 2
    assert server.delivered == 5


async def test_the_exposition_follows_prometheus_naming(make_config: MakeConfig) -> None:
    rule = {"name": "throttling", "when": "throttled", "threshold": 1}
    with ThrottlingSMTPServer(limit=LIMIT) as server:
        config = metrics_config(
            make_config,
            server,
            limiter={"max_per_minute": 6000},
            alerts={"rules": [rule], "drain_s": 5},
        )
        with Agent(config, plugins=load_plugins(entry_points=False)) as agent:
            agent.enqueue(compose(m) for m in batch(20))
            await agent.run()
            text = agent.metrics.exposition().decode()

    found = Scrape.parse(text)
    # Every family has samples, so that their names and labels are checked too.
    assert [family.name for family in found.families if not family.samples] == []
    assert naming_problems(found.families, prefix="adaptsend_") == []
    promtool = shutil.which("promtool")
    if promtool is not None:
        checked = await trio.run_process(
            [promtool, "check", "metrics"],
            stdin=text.encode(),
            capture_stdout=True,
            capture_stderr=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_metric_is_in_the_docs() -> None:
    from adaptsend.metrics._registry import AgentMetrics

    exposed = re.findall(r"^# TYPE (\S+) ", AgentMetrics().exposition().decode(), re.M)
    text = (DOCS / "metrics.md").read_text()
    documented = set(re.findall(r"^\| `(adaptsend_\w+)`", text, re.M))
    assert exposed and sorted(set(exposed) - documented) == []
    assert sorted(documented - set(exposed)) == []


def test_the_dashboard_reads_only_metrics_that_exist() -> None:
    from adaptsend.metrics._registry import AgentMetrics

    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", ())]
    exposed = set(re.findall(r"^# TYPE (\S+) ", AgentMetrics().exposition().decode(), re.M))
    # A histogram is read through its buckets.
    used = {
        name.removesuffix("_bucket")
        for expr in exprs
        for name in re.findall(r"\badaptsend_\w+", expr)
    }
    assert len(exprs) >= 10
    assert sorted(used - exposed) == []
    # Every figure the docs list is on the dashboard, but for the pause counter
    # (the pauses are drawn from the gauge).
    assert sorted(exposed - used - {"adaptsend_pauses_total"}) == []


def test_a_send_time_on_a_bound_is_counted_in_that_bound_s_bucket() -> None:
    from adaptsend.metrics._counts import RecordedCounts

    counts = RecordedCounts((0.005, 0.01))
    for seconds in (0.004, 0.005, 0.006, 100.0):
        counts.observe_duration("k", seconds)
    [attempts, decided, durations] = counts.collect()
    assert (attempts.samples, decided.samples) == ([], [])
    found = {(s.name, s.labels.get("le")): s.value for s in durations.samples}
    assert found == {
        ("adaptsend_send_duration_seconds_bucket", "0.005"): 2,
        ("adaptsend_send_duration_seconds_bucket", "0.01"): 3,
        ("adaptsend_send_duration_seconds_bucket", "+Inf"): 4,
        ("adaptsend_send_duration_seconds_count", None): 4,
        ("adaptsend_send_duration_seconds_sum", None): 0.004 + 0.005 + 0.006 + 100.0,
    }
