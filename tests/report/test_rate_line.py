"""The message rate in ``adaptsend report``: a real run over 127.0.0.1
against a server that answers "too fast" past 20 messages a second, into a
real SQLite file; the report shows the rate the agent learnt as a line of
its own, in the terminal, the JSON document and the HTML page."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import trio

from adaptsend import config_from_dict, send_batch_async
from adaptsend.store import open_store
from adaptsend.store._cap_change_api import LimitKind
from tests.helpers.command_line import cli_ok
from tests.helpers.messages import batch
from tests.helpers.rate_limited_server import RateLimitedSMTPServer
from tests.helpers.store_builders import LONG_AGO

PER_SECOND = 20
COUNT = 100


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.removesuffix("Z"))


@pytest.fixture(scope="module")
def rate_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, Any]]:
    """The run's configuration, its sending key and its JSON report."""
    directory = tmp_path_factory.mktemp("rate-run")
    url = f"sqlite:///{directory / 'adaptsend.db'}"
    with RateLimitedSMTPServer(per_second=PER_SECOND) as server:
        config = config_from_dict(
            {
                "store": {"url": url},
                "smtp": {"host": server.host, "port": server.port, "timeout_s": 10},
                "limiter": {"initial_cap": 4, "max_cap": 4},
                "retry": {"base_delay_s": 0.05, "max_delay_s": 0.5},
            }
        )
        run = trio.run(lambda: send_batch_async(batch(COUNT), config=config))
        key = f"anonymous@{server.host}:{server.port}"
    assert run.ok and server.rate_refusals >= 1
    path = directory / "adaptsend.toml"
    path.write_text(f'[store]\nurl = "{url}"\n')
    return path, key, json.loads(cli_ok(path, "report", "--json"))


def test_the_json_has_the_rate_line_as_the_agent_recorded_it(
    rate_run: tuple[Path, str, dict[str, Any]],
) -> None:
    path, key, doc = rate_run
    [line] = doc["rate"]
    assert (line["sending_key"], line["agent"]) == (key, None)
    first, cut, *rest = line["points"]
    # Unlimited from the period's start until the first "too fast" reply.
    assert (utc(first["at"]), first["per_minute"], first["reason"]) == (
        utc(doc["since"]),
        None,
        None,
    )
    assert cut["reason"] == "cut" and 0 < cut["per_minute"] < PER_SECOND * 60
    [refused] = [f for f in doc["failures"] if f["outcome"] == "rate"]
    assert utc(cut["at"]) >= utc(refused["first_at"])

    store = open_store(f"sqlite:///{path.parent / 'adaptsend.db'}")
    try:
        rows = [r for r in store.cap_changes(since=LONG_AGO) if r.kind is LimitKind.RATE]
    finally:
        store.close()
    assert [(p["per_minute"], p["reason"]) for p in [cut, *rest]] == [
        (round(r.new_value, 3), r.reason) for r in rows
    ]
    assert {p["reason"] for p in rest} <= {"cut", "grow"}
    # The connection cap never moved: its line is the attempts', at 4 throughout.
    [cap] = doc["cap"]
    assert cap["source"] == "attempts"
    assert {p["cap"] for p in cap["points"]} == {4}


def test_the_terminal_shows_the_rate_beside_the_cap(
    rate_run: tuple[Path, str, dict[str, Any]],
) -> None:
    path, key, doc = rate_run
    text = cli_ok(path, "report")
    section = text[text.index("\nConnection cap and message rate\n") :]
    section = section[: section.index("\nFailures by reply\n")]
    lines = section.splitlines()
    header = next(i for i, line in enumerate(lines) if "messages a minute" in line)
    [row] = [line for line in lines[header:] if line.startswith(key)]
    points = doc["rate"][0]["points"]
    limited = [p["per_minute"] for p in points if p["per_minute"] is not None]
    first, lowest, highest, last, changes = row.split()[1:6]
    assert (first, highest, changes) == ("unlimited", "unlimited", str(len(points) - 1))
    assert float(lowest) == pytest.approx(min(limited), abs=0.05)
    assert float(last) == pytest.approx(limited[-1], abs=0.05)


def test_the_page_draws_the_rate_with_a_dot_per_change(
    rate_run: tuple[Path, str, dict[str, Any]], tmp_path: Path
) -> None:
    path, _, doc = rate_run
    page = tmp_path / "report.html"
    cli_ok(path, "report", "--html", str(page))
    html = page.read_text()
    [chart] = re.findall(r'<svg class="chart" data-chart="rate".*?</svg>', html)
    points = doc["rate"][0]["points"]
    # Dashed along the top while unlimited, then one line for the limited rate.
    assert len(re.findall(r'<polyline class="rate-unlimited"[^>]*stroke-dasharray', chart)) == 1
    assert len(re.findall(r'<polyline class="rate"', chart)) == 1
    tips = re.findall(r'<circle class="rate-change"[^>]*><title>([^<]*)</title>', chart)
    assert [tip.rsplit("(", 1)[1] for tip in tips] == [f"{p['reason']})" for p in points[1:]]
    assert tips[0].split(": ", 1)[1].startswith("unlimited to ")
